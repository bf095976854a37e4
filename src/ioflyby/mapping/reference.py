"""Reference maps of Io that come without a georeference: the USGS global mosaics.

The USGS Io mosaics (Galileo SSI–Voyager, 2 km/px; the later grey photomosaic) are plain JPEG
images. Their convention, published with them and checked in ``../shared/data/README.md``
(Loki Patera 13°N 309°W and Pele 18.7°S 255°W fall on their features): simple cylindrical,
west-positive longitudes centred on 180°W — the left edge is 360°W (= 0°E), the right edge 0°W
(= 360°E), so east longitude *increases* to the right; the top edge is 90°N, the bottom 90°S
(planetocentric; Io's IAU body is a sphere).

ioflyby gives such an image a georeference it writes itself — a GDAL VRT pointing at the
untouched JPEG, in the IAU_2015:50115 CRS (equirectangular on Io's IAU sphere, central meridian
180°E) with the geotransform that the edges above imply — and then reads it through rasterio
like any ioflyby GeoTIFF. The pixel sizes follow from the published edges and the image size
(x: 2πR / width, y: πR / height; the mosaics are not exactly 2:1, so the two differ slightly).

A mosaic whose grid is not planetocentric (its declared georeference in
``ioflyby.geometry.mosaics.KNOWN_GEOREFERENCES``: the newer photomosaic's rows are at latitude
tan ψ = (c/a)² tan φ and it is turned by ~0.1°) cannot be described by a geotransform: its pixels
are resampled (bilinear) onto the planetocentric grid of the same size when read
(:func:`read_mosaic_array`, :func:`open_mosaic`: an in-memory GeoTIFF), and
:func:`write_mosaic_vrt` writes that resampled copy as a GeoTIFF beside the VRT, which points at
it. :meth:`MosaicGeoreference.vrt_xml` of such a mosaic is a VRT on the untouched JPEG with a
dense list of ground control points (exact at each GCP) for a GIS to warp.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import rasterio
from PIL import Image
from rasterio.io import MemoryFile

from ioflyby.errors import IoflybyError
from ioflyby.fileio import AtomicFiles, atomic_write_text, check_regular_file
from ioflyby.geometry.mosaics import Georeference, georeference_of, resample_to_planetocentric
from ioflyby.mapping import projections as proj
from ioflyby.mapping.crs import LON_CONVENTION, body_crs, projected_crs

IO_NAIF_ID = 501
MOSAIC_LIMIT_BYTES = 512 * 1024 * 1024
"""Largest mosaic file accepted (the USGS ones are 2.5–3.3 MB)."""
MOSAIC_CONVENTION = (
    "USGS Io global mosaic: simple cylindrical, west-positive longitude centred on 180 W; left edge "
    "360 W (= 0 E), right edge 0 W (= 360 E), top 90 N, bottom 90 S; rows planetocentric unless the "
    "file's declared georeference says otherwise (ioflyby.geometry.mosaics.KNOWN_GEOREFERENCES)"
)
GCP_STEP_DEG = 5.0
"""Spacing (latitude and longitude, degrees) of the ground control points of a non-planetocentric
mosaic's VRT (:meth:`MosaicGeoreference.vrt_xml`)."""
USGS_MOSAICS = {
    "Io_GalileoSSI-Voyager_Global_Mosaic_2km_180W.jpg": "USGS Galileo SSI-Voyager global mosaic (grey), 2 km/px",
    "Io_GalileoSSI-Voyager_Global_Mosaic_ClrMerge_2km_180W.jpg": "USGS Galileo SSI-Voyager colour merge, 2 km/px",
    "New_Io_photomosaic_2km_grey.jpg": "later grey photomosaic of Io (JunoCam-era base map), 2 km/px",
}
Image.MAX_IMAGE_PIXELS = 200_000_000


class ReferenceMapError(IoflybyError):
    """A reference mosaic cannot be read or georeferenced."""


@dataclass(frozen=True)
class MosaicGeoreference:
    """The georeference ioflyby gives a global simple-cylindrical mosaic.

    ``transform`` is GDAL's (x_min, dx, 0, y_max, 0, −dy) in metres of ``crs`` (IAU_2015:50115)
    of the planetocentric grid; ``bands`` the JPEG bands kept (1 for a grey image stored as RGB, 3
    for colour); ``declared`` the file's georeference (``ioflyby.geometry.mosaics``): when it is
    not planetocentric the pixels must be resampled (:func:`read_mosaic_array`).
    """

    path: Path
    width: int
    height: int
    bands: int
    crs_wkt: str
    crs_id: str | None
    transform: tuple[float, float, float, float, float, float]
    declared: Georeference = Georeference()

    def vrt_xml(self, source: Path | None = None) -> str:
        """The GDAL VRT document: the bands of ``source`` (default: the JPEG) with this CRS and
        geotransform; a non-planetocentric JPEG gets ground control points instead of a
        geotransform (see the module docstring)."""
        source = self.path if source is None else source
        gcps = source == self.path and not self.declared.is_planetocentric
        parts = [f'<VRTDataset rasterXSize="{self.width}" rasterYSize="{self.height}">']
        if gcps:
            parts += [f'  <GCPList Projection="{escape(self.crs_wkt, {chr(34): "&quot;"})}">']
            parts += [f'    <GCP Id="{k}" Pixel="{p!r}" Line="{q!r}" X="{x!r}" Y="{y!r}"/>'
                      for k, (p, q, x, y) in enumerate(self.control_points())]
            parts.append("  </GCPList>")
        else:
            parts += [f"  <SRS>{escape(self.crs_wkt)}</SRS>",
                      "  <GeoTransform>" + ", ".join(repr(float(v)) for v in self.transform) + "</GeoTransform>"]
        parts.append("  <Metadata>")
        parts += [f'    <MDI key="{key}">{escape(value)}</MDI>' for key, value in self.metadata().items()]
        parts.append("  </Metadata>")
        for band in range(1, self.bands + 1):
            parts += [f'  <VRTRasterBand dataType="Byte" band="{band}">',
                      "    <SimpleSource>",
                      f'      <SourceFilename relativeToVRT="0">{escape(str(source))}</SourceFilename>',
                      f"      <SourceBand>{band}</SourceBand>",
                      f'      <SrcRect xOff="0" yOff="0" xSize="{self.width}" ySize="{self.height}"/>',
                      f'      <DstRect xOff="0" yOff="0" xSize="{self.width}" ySize="{self.height}"/>',
                      "    </SimpleSource>",
                      "  </VRTRasterBand>"]
        parts.append("</VRTDataset>")
        return "\n".join(parts) + "\n"

    def metadata(self) -> dict[str, str]:
        """The conventions written into the VRT (and the resampled GeoTIFF)."""
        return {"COORDINATE_CONVENTION": LON_CONVENTION, "SOURCE_CONVENTION": MOSAIC_CONVENTION,
                "LONGITUDE_DIRECTION": "east-positive", "TARGET": "IO", "GEOREFERENCE": self.declared.evidence,
                "SOFTWARE": "ioflyby"}

    def control_points(self) -> list[tuple[float, float, float, float]]:
        """(pixel, line, x, y) every ``GCP_STEP_DEG`` of planetocentric latitude (within ±85°) and
        east longitude: where the file shows the point at x, y (metres of ``crs``) through its
        declared georeference (pixel, line of the image, 0 at the top-left corner)."""
        lat_deg = np.arange(-85.0, 85.0 + 1e-9, GCP_STEP_DEG)
        lon_deg = np.arange(0.0, 360.0 + 1e-9, GCP_STEP_DEG)
        lat, lon = np.meshgrid(np.radians(lat_deg), np.radians(lon_deg), indexing="ij")
        row_lat, col_lon = self.declared.mosaic_latlon(lat, lon)
        col_lon = np.where(np.abs(col_lon - lon) > np.pi, col_lon + 2 * np.pi * np.sign(lon - col_lon), col_lon)
        pixel = col_lon / (2 * np.pi) * self.width
        line = (np.pi / 2 - row_lat) / np.pi * self.height
        a, x0, f, y0 = self.transform[1], self.transform[0], self.transform[5], self.transform[3]
        x = x0 + a * lon / (2 * np.pi) * self.width
        y = y0 + f * (np.pi / 2 - lat) / np.pi * self.height
        return [tuple(float(v) for v in t) for t in zip(pixel.ravel(), line.ravel(), x.ravel(), y.ravel())]


def _is_grey(image: Image.Image) -> bool:
    """Whether an RGB image holds the same value in its three channels (checked on a reduced decode)."""
    if image.mode in ("L", "I", "F"):
        return True
    image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
    rgb = np.asarray(image.convert("RGB"))
    return bool(np.abs(rgb.astype(np.int16) - rgb[..., :1]).max() <= 2)


def mosaic_georeference(path: str | Path) -> MosaicGeoreference:
    """The georeference of the global mosaic ``path`` (see the module docstring). ReferenceMapError
    when it cannot be read or is not a 2:1 global image."""
    path = check_regular_file(Path(path), MOSAIC_LIMIT_BYTES, ReferenceMapError, "an Io mosaic").resolve()
    try:
        with Image.open(path) as image:
            width, height = image.size
            grey = _is_grey(image)
    except (OSError, ValueError) as exc:
        raise ReferenceMapError(f"cannot read the mosaic {path}: {exc}; give a JPEG/PNG global mosaic") from None
    if abs(width - 2 * height) > 0.01 * width:
        raise ReferenceMapError(f"{path} is {width} x {height}: a global simple-cylindrical mosaic is 2:1; "
                                "give a global mosaic or an ioflyby GeoTIFF")
    body = body_crs(IO_NAIF_ID, "IO")
    crs, crs_id = projected_crs(body, proj.EQUIRECTANGULAR, 0.0, 180.0, title="Equirectangular, clon = 180")
    radius = body.radius_m
    # Left edge 0 deg E is x = -pi R about the 180 deg E central meridian; top edge 90 deg N.
    transform = (-math.pi * radius, 2 * math.pi * radius / width, 0.0, math.pi / 2 * radius, 0.0,
                 -math.pi * radius / height)
    return MosaicGeoreference(path, width, height, 1 if grey else 3, crs.to_wkt(), crs_id, transform,
                              georeference_of(path))


def read_mosaic_array(path: str | Path, bands: int | None = None) -> np.ndarray:
    """The pixels of the mosaic ``path`` on its planetocentric grid (:class:`MosaicGeoreference`'s
    transform): (rows, cols) for 1 band, (rows, cols, 3) for 3; float32 0–255, resampled through
    the file's declared georeference where it is not planetocentric (the last two results are
    kept: change detection opens a mosaic and then reads it). Read-only. ``bands`` None: the
    mosaic's."""
    georeference = mosaic_georeference(path)
    stat = georeference.path.stat()
    return _resampled_pixels(georeference.path, stat.st_mtime_ns, stat.st_size, bands or georeference.bands)


@functools.lru_cache(maxsize=2)
def _resampled_pixels(path: Path, mtime_ns: int, size: int, bands: int) -> np.ndarray:
    mode = "L" if bands == 1 else "RGB"
    try:
        with Image.open(path) as image:
            image.draft(mode, image.size)
            array = np.asarray(image.convert(mode))
    except (OSError, ValueError) as exc:
        raise ReferenceMapError(f"cannot read the mosaic {path}: {exc}; give a JPEG/PNG global mosaic") from None
    array = resample_to_planetocentric(array, georeference_of(path))
    array.flags.writeable = False
    return array


def _planetocentric_geotiff(georeference: MosaicGeoreference) -> bytes:
    """A GeoTIFF (bytes; Byte bands) of the mosaic resampled onto its planetocentric grid,
    with the VRT's CRS, transform and metadata."""
    array = read_mosaic_array(georeference.path, georeference.bands)
    planes = array[None] if array.ndim == 2 else np.moveaxis(array, 2, 0)
    planes = np.clip(np.rint(planes), 0, 255).astype(np.uint8)
    with MemoryFile() as memory:
        with memory.open(driver="GTiff", width=georeference.width, height=georeference.height,
                         count=len(planes), dtype="uint8", crs=rasterio.crs.CRS.from_wkt(georeference.crs_wkt),
                         transform=rasterio.Affine.from_gdal(*georeference.transform)) as dataset:
            dataset.write(planes)
            dataset.update_tags(**georeference.metadata())
        return memory.read()


def write_mosaic_vrt(path: str | Path, out: str | Path) -> Path:
    """Write the VRT that georeferences the mosaic ``path`` as ``out`` (atomically); returns ``out``.
    A non-planetocentric mosaic's resampled copy is written beside it as ``<out>.tif`` (one atomic
    set), and the VRT points at it."""
    georeference, out = mosaic_georeference(path), Path(out)
    if georeference.declared.is_planetocentric:
        return atomic_write_text(out, georeference.vrt_xml())
    copy = out.with_name(out.name + ".tif")
    with AtomicFiles() as files:
        files.path(copy).write_bytes(_planetocentric_geotiff(georeference))
        files.path(out).write_text(georeference.vrt_xml(copy.resolve()), encoding="utf-8")
    return out


def open_mosaic(path: str | Path) -> rasterio.io.DatasetReader:
    """The mosaic ``path`` opened through rasterio with ioflyby's georeference (an in-memory VRT,
    or an in-memory resampled GeoTIFF for a non-planetocentric mosaic). The caller closes it (use
    as a context manager)."""
    georeference = mosaic_georeference(path)
    if georeference.declared.is_planetocentric:
        memory = MemoryFile(georeference.vrt_xml().encode("utf-8"), ext=".vrt")
    else:
        memory = MemoryFile(_planetocentric_geotiff(georeference), ext=".tif")
    dataset = memory.open()
    dataset._ioflyby_memory = memory  # keep the in-memory file alive as long as the dataset
    return dataset


def is_mosaic_image(path: str | Path) -> bool:
    """Whether ``path`` is a plain image (JPEG/PNG) to be read as a USGS-convention global mosaic."""
    return Path(path).suffix.lower() in (".jpg", ".jpeg", ".png")
