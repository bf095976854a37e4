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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import rasterio
from PIL import Image
from rasterio.io import MemoryFile

from ioflyby.errors import IoflybyError
from ioflyby.fileio import atomic_write_text, check_regular_file
from ioflyby.mapping import projections as proj
from ioflyby.mapping.crs import LON_CONVENTION, body_crs, projected_crs

IO_NAIF_ID = 501
MOSAIC_LIMIT_BYTES = 512 * 1024 * 1024
"""Largest mosaic file accepted (the USGS ones are 2.5–3.3 MB)."""
MOSAIC_CONVENTION = (
    "USGS Io global mosaic: simple cylindrical, west-positive longitude centred on 180 W; left edge "
    "360 W (= 0 E), right edge 0 W (= 360 E), top 90 N, bottom 90 S (planetocentric)"
)
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

    ``transform`` is GDAL's (x_min, dx, 0, y_max, 0, −dy) in metres of ``crs`` (IAU_2015:50115);
    ``bands`` the JPEG bands kept (1 for a grey image stored as RGB, 3 for colour).
    """

    path: Path
    width: int
    height: int
    bands: int
    crs_wkt: str
    crs_id: str | None
    transform: tuple[float, float, float, float, float, float]

    def vrt_xml(self) -> str:
        """The GDAL VRT document: the JPEG's bands with this CRS and geotransform."""
        parts = [f'<VRTDataset rasterXSize="{self.width}" rasterYSize="{self.height}">',
                 f"  <SRS>{escape(self.crs_wkt)}</SRS>",
                 "  <GeoTransform>" + ", ".join(repr(float(v)) for v in self.transform) + "</GeoTransform>",
                 '  <Metadata>',
                 f'    <MDI key="COORDINATE_CONVENTION">{escape(LON_CONVENTION)}</MDI>',
                 f'    <MDI key="SOURCE_CONVENTION">{escape(MOSAIC_CONVENTION)}</MDI>',
                 '    <MDI key="LONGITUDE_DIRECTION">east-positive</MDI>',
                 '    <MDI key="TARGET">IO</MDI>',
                 '    <MDI key="SOFTWARE">ioflyby</MDI>',
                 '  </Metadata>']
        for band in range(1, self.bands + 1):
            parts += [f'  <VRTRasterBand dataType="Byte" band="{band}">',
                      "    <SimpleSource>",
                      f'      <SourceFilename relativeToVRT="0">{escape(str(self.path))}</SourceFilename>',
                      f"      <SourceBand>{band}</SourceBand>",
                      f'      <SrcRect xOff="0" yOff="0" xSize="{self.width}" ySize="{self.height}"/>',
                      f'      <DstRect xOff="0" yOff="0" xSize="{self.width}" ySize="{self.height}"/>',
                      "    </SimpleSource>",
                      "  </VRTRasterBand>"]
        parts.append("</VRTDataset>")
        return "\n".join(parts) + "\n"


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
    return MosaicGeoreference(path, width, height, 1 if grey else 3, crs.to_wkt(), crs_id, transform)


def write_mosaic_vrt(path: str | Path, out: str | Path) -> Path:
    """Write the VRT that georeferences the mosaic ``path`` as ``out`` (atomically); returns ``out``."""
    return atomic_write_text(Path(out), mosaic_georeference(path).vrt_xml())


def open_mosaic(path: str | Path) -> rasterio.io.DatasetReader:
    """The mosaic ``path`` opened through rasterio with ioflyby's georeference (an in-memory VRT).
    The caller closes it (use as a context manager)."""
    xml = mosaic_georeference(path).vrt_xml()
    memory = MemoryFile(xml.encode("utf-8"), ext=".vrt")
    dataset = memory.open()
    dataset._ioflyby_memory = memory  # keep the in-memory VRT alive as long as the dataset
    return dataset


def is_mosaic_image(path: str | Path) -> bool:
    """Whether ``path`` is a plain image (JPEG/PNG) to be read as a USGS-convention global mosaic."""
    return Path(path).suffix.lower() in (".jpg", ".jpeg", ".png")
