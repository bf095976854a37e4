"""Map tiles in Io's own CRS: rio-tiler reading ioflyby's GeoTIFFs onto planetcantile's Io tile matrix set.

Tile matrix set
---------------
``IoGeographicSphere`` of planetcantile (OGC TileMatrixSet 2.0 documents generated from PROJ's
IAU_2015 codes): geographic coordinates on Io's IAU 2015 sphere (R = 1 821 490 m, the sphere of
``IAU_2015:50100``, east-positive longitude, planetocentric latitude), origin at 180°W 90°N, zoom 0
= 2 × 1 tiles of 256 px (0.703125° per pixel), each zoom halving the cell. Leaflet's geographic
``L.CRS.EPSG4326`` has exactly that grid, so the client uses it with Io's radius. Why this set and
not a custom one or Mercator: docs/viewer.md.

Pixels
------
Tiles are read with nearest-neighbour resampling (each tile pixel is the value of the GeoTIFF cell
under its centre, no interpolation) and written as PNG with an alpha channel from the GeoTIFF's
alpha band (0 where no framelet saw the cell). 16-bit colour maps become 8 bits by
``v8 = round(v16 / 257)`` (exact: 65535 = 255 × 257); float maps are stretched linearly between
their 2nd and 98th percentile (of a decimated read) per band.

Basemap
-------
A global equirectangular image (JPEG/PNG) in the convention of the USGS 2 km Io mosaics and the
twin's basemap: left edge 0°E (= 360°W), longitude increasing eastward, centre column 180°, top row
90°N. It is rolled to -180..180°E and held as an in-memory tiled GeoTIFF with overviews (GDAL
``/vsimem``), built once in a background thread.
"""

from __future__ import annotations

import threading
import uuid
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

TMS_ID = "IoGeographicSphere"
"""planetcantile's identifier of the tile matrix set used for every tile."""
TILE_SIZE = 256
MAX_ZOOM = 12
"""Highest zoom served (0.00017°, about 5 m per pixel at the equator: far beyond any JunoCam map)."""
STRETCH_PERCENTILES = (2.0, 98.0)


@cache
def io_tms():
    """planetcantile's geographic tile matrix set on Io's IAU 2015 sphere (a morecantile TileMatrixSet)."""
    from planetcantile import planetary_tms

    return planetary_tms.get(TMS_ID)


def tile_in_range(z: int, x: int, y: int) -> bool:
    """True when (z, x, y) names a tile of the set at a served zoom (2^(z+1) × 2^z tiles)."""
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2 ** (z + 1) and 0 <= y < 2 ** z


@cache
def empty_tile() -> bytes:
    """A fully transparent 256 × 256 PNG (tiles with no data)."""
    from rio_tiler.utils import render

    return render(np.zeros((1, TILE_SIZE, TILE_SIZE), np.uint8), np.zeros((TILE_SIZE, TILE_SIZE), np.uint8))


def to_8bit(data: np.ndarray, dtype: str, stretch: tuple[tuple[float, float], ...] | None = None) -> np.ndarray:
    """Tile values as uint8: uint8 unchanged, uint16 as round(v / 257), other types stretched
    linearly from ``stretch`` [(lo, hi) per band] to 0..255 (clipped)."""
    if dtype == "uint8":
        return data.astype(np.uint8, copy=False)
    if dtype == "uint16":
        return ((data.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if stretch is None:
        raise ValueError("a stretch is needed for non-integer maps")
    out = np.empty(data.shape, np.uint8)
    for band, (lo, hi) in enumerate(stretch):
        scaled = (data[band].astype(np.float64) - lo) / max(hi - lo, 1e-30) * 255.0
        out[band] = np.clip(np.nan_to_num(scaled, nan=0.0), 0.0, 255.0).round().astype(np.uint8)
    return out


@dataclass(frozen=True)
class TileSource:
    """What the tiler needs of one raster: its path, data type, the bands shown, and (float maps)
    the stretch of each band."""

    path: str
    dtype: str
    indexes: tuple[int, ...]
    stretch: tuple[tuple[float, float], ...] | None = None
    has_alpha: bool = False


def render_tile(source: TileSource, z: int, x: int, y: int) -> bytes:
    """PNG of tile (z, x, y) of ``source`` on :func:`io_tms` (a transparent tile where it has no data).

    The tile's bounds come from the tile matrix set (morecantile); the raster is warped onto the
    tile's 256 × 256 grid by GDAL (``rasterio.warp.reproject``, nearest neighbour, the alpha band
    warped as data) into zero-initialised arrays, and encoded by rio-tiler. (rio-tiler 9.4's own
    ``Reader.tile`` reads the alpha band of its warped VRT uninitialised for tiles partly off the
    disc of an orthographic map — masks that change from call to call — so it is not used for the
    warp; docs/viewer.md.)"""
    import rasterio
    from affine import Affine
    from rasterio.enums import Resampling
    from rasterio.warp import reproject
    from rio_tiler.utils import render

    tms = io_tms()
    west, south, east, north = tms.xy_bounds(x, y, z)
    dst_transform = Affine((east - west) / TILE_SIZE, 0.0, west, 0.0, -(north - south) / TILE_SIZE, north)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(source.path) as probe:
            level = _overview_level(probe, (east - west) / TILE_SIZE)
            alpha = _alpha_index(probe) if source.has_alpha else None
        with rasterio.open(source.path, **({"overview_level": level} if level is not None else {})) as src:
            bands = [*source.indexes, *([alpha] if alpha else [])]
            floating = src.dtypes[0].startswith("float")
            fill = np.nan if floating else 0
            out = np.full((len(bands), TILE_SIZE, TILE_SIZE), fill, dtype=src.dtypes[0])
            reproject(rasterio.band(src, bands), out, src_transform=src.transform, src_crs=src.crs,
                      dst_transform=dst_transform, dst_crs=tms.rasterio_crs, resampling=Resampling.nearest,
                      src_nodata=src.nodata, dst_nodata=fill if floating else None, src_alpha=0)
    if alpha:
        data, mask = out[:-1], out[-1] > 0
    elif floating:
        data, mask = out, np.isfinite(out).all(axis=0)
    else:
        data, mask = out, np.ones(out.shape[1:], bool)
    if not mask.any():
        return empty_tile()
    data8 = to_8bit(data, source.dtype, source.stretch)
    data8[:, ~mask] = 0
    return render(data8, np.where(mask, 255, 0).astype(np.uint8), img_format="PNG")


def _alpha_index(src) -> int | None:
    interp = [c.name for c in src.colorinterp]
    return interp.index("alpha") + 1 if "alpha" in interp else None


def _overview_level(src, tile_cell_deg: float) -> int | None:
    """The coarsest overview of a geographic raster (degrees) still at least as fine as the tile's
    cell, None for full resolution (or a projected raster, which has no overviews from ioflyby)."""
    factors = src.overviews(1)
    if not factors or not src.crs or not src.crs.is_geographic:
        return None
    level = None
    for index, factor in enumerate(factors):
        if abs(src.transform.a) * factor <= tile_cell_deg:
            level = index
    return level


def band_stretch(path: str, indexes: tuple[int, ...], max_side: int = 512) -> tuple[tuple[float, float], ...]:
    """(lo, hi) per band: the :data:`STRETCH_PERCENTILES` of the finite values of a decimated read."""
    import rasterio

    with rasterio.open(path) as src:
        scale = max(1, int(np.ceil(max(src.width, src.height) / max_side)))
        shape = (len(indexes), max(1, src.height // scale), max(1, src.width // scale))
        data = src.read(list(indexes), out_shape=shape, masked=True).astype(np.float64).filled(np.nan)
    stretch = []
    for band in data:
        finite = band[np.isfinite(band)]
        lo, hi = np.percentile(finite, STRETCH_PERCENTILES) if finite.size else (0.0, 1.0)
        stretch.append((float(lo), float(hi) if hi > lo else float(lo) + 1.0))
    return tuple(stretch)


def geographic_bounds(path: str, samples: int = 96) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) in degrees (east longitude, -180..180, planetocentric latitude)
    of the cells of the GeoTIFF that hold data (alpha / mask > 0), from a ``samples`` × ``samples``
    grid of cell centres transformed with PROJ; None where none holds data or the CRS cannot be
    transformed. A map crossing the ±180° meridian gets the whole longitude range."""
    import rasterio
    from pyproj import Transformer
    from rasterio.transform import xy

    with rasterio.open(path) as src:
        rows = np.linspace(0, src.height - 1, min(samples, src.height)).round().astype(int)
        cols = np.linspace(0, src.width - 1, min(samples, src.width)).round().astype(int)
        mask = src.dataset_mask(out_shape=(src.height, src.width))[np.ix_(rows, cols)] > 0
        rr, cc = np.meshgrid(rows, cols, indexing="ij")
        xs, ys = xy(src.transform, rr[mask], cc[mask])
        crs = src.crs
    if not mask.any() or crs is None:
        return None
    try:
        transformer = Transformer.from_crs(crs.to_wkt(), io_tms().geographic_crs, always_xy=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lon, lat = transformer.transform(np.asarray(xs), np.asarray(ys))
    except Exception:  # noqa: BLE001 - any CRS PROJ cannot relate to Io's sphere: no bounds
        return None
    good = np.isfinite(lon) & np.isfinite(lat)
    if not good.any():
        return None
    west, east = longitude_span(np.asarray(lon)[good])
    return west, float(np.min(np.asarray(lat)[good])), east, float(np.max(np.asarray(lat)[good]))


def longitude_span(lon_deg: np.ndarray, min_gap_deg: float = 15.0) -> tuple[float, float]:
    """(west, east) of east longitudes ``lon_deg``: the circle minus its largest empty gap, west in
    [-180, 180) and east > west (east > 180 where the span crosses the ±180° meridian); the whole
    circle (-180, 180) when no gap is wider than ``min_gap_deg``."""
    lon = np.sort((np.asarray(lon_deg, float) + 180.0) % 360.0 - 180.0)
    gaps = np.diff(np.r_[lon, lon[0] + 360.0])
    widest = int(np.argmax(gaps))
    if gaps[widest] < min_gap_deg:
        return -180.0, 180.0
    west = float(lon[(widest + 1) % lon.size])
    east = float(lon[widest])
    return west, east + 360.0 if east < west else east


class Basemap:
    """A global equirectangular Io image (0°E at its left edge) as an in-memory GeoTIFF on Io's
    sphere, rolled to -180..180°E, built once (:meth:`start` runs the build in a thread)."""

    def __init__(self, path: Path | None):
        self.path = path
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._memfile = None
        self.error: str | None = None
        self.vsi_path: str | None = None

    def start(self) -> None:
        """Build in a background thread (returns at once)."""
        if self.path is not None:
            threading.Thread(target=self.build, name="ioflyby-basemap", daemon=True).start()

    def build(self) -> None:
        """Decode, roll and write the tiled GeoTIFF (with overviews) into GDAL's memory (idempotent)."""
        with self._lock:
            if self._ready.is_set() or self.path is None:
                return
            try:
                self._memfile, self.vsi_path = _basemap_geotiff(self.path)
            except Exception as exc:  # noqa: BLE001 - reported by the API, never a crash of the server
                self.error = f"{type(exc).__name__}: {exc}"
            finally:
                self._ready.set()

    def source(self, timeout_s: float = 60.0) -> TileSource | None:
        """The basemap's tile source once built (waits up to ``timeout_s``), None if there is none."""
        if self.path is None:
            return None
        if not self._ready.wait(timeout_s):
            return None
        return TileSource(self.vsi_path, "uint8", (1, 2, 3)) if self.vsi_path else None


def _basemap_geotiff(path: Path):
    import rasterio.errors
    from affine import Affine
    from PIL import Image
    from rasterio.enums import Resampling
    from rasterio.io import MemoryFile

    Image.MAX_IMAGE_PIXELS = 200_000_000
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"))
    height, width = rgb.shape[:2]
    half = width // 2
    rolled = np.concatenate([rgb[:, half:], rgb[:, :half], rgb[:, half:half + 1]], axis=1)  # + wrap column
    cell = 360.0 / width
    west = half * cell - 360.0
    memfile = MemoryFile(filename=f"ioflyby-basemap-{uuid.uuid4().hex}.tif")
    profile = dict(driver="GTiff", width=rolled.shape[1], height=height, count=3, dtype="uint8",
                   crs=io_tms().rasterio_geographic_crs, transform=Affine(cell, 0.0, west, 0.0, -180.0 / height, 90.0),
                   tiled=True, blockxsize=256, blockysize=256, photometric="RGB")
    with warnings.catch_warnings():  # rasterio warns "not georeferenced" before the profile's transform is set
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with memfile.open(**profile) as dst:
            dst.write(np.moveaxis(rolled, 2, 0))
            factors = [f for f in (2, 4, 8, 16, 32) if max(width, height) / f >= TILE_SIZE]
            dst.build_overviews(factors, Resampling.average)
    return memfile, memfile.name
