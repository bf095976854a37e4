"""GeoTIFF and PNG export, written to a temporary name and renamed when complete and verified.

Every GeoTIFF carries the grid's CRS (IAU_2015 code or PROJ definition on the IAU sphere) inside
the file (never in an ``.aux.xml`` sidecar), the geotransform, band descriptions, and tags
stating the coordinate convention (planetocentric latitude, east-positive longitude), the target,
the CRS source and the processing record.

A GeoTIFF is published only after GDAL reported no error while writing it (GDAL and libtiff
report a full disk only through their error handlers, never to the caller) and the temporary
file, reopened, holds every band as written, the grid's size, geotransform and CRS.
"""

from __future__ import annotations

import ctypes
import functools
import json
import logging
import os
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image
from rasterio.enums import ColorInterp
from rasterio.io import DatasetWriter
from rasterio.warp import transform as warp_transform

from ioflyby.errors import OutputError
from ioflyby.fileio import AtomicFiles, write_error
from ioflyby.mapping.crs import LON_CONVENTION, geotiff_keys_flavor
from ioflyby.mapping.grid import MapGrid

PREVIEW_MAX_SIDE = 1024


def grid_tags(grid: MapGrid, target: str, extra: Mapping[str, object] | None = None) -> dict[str, str]:
    """GeoTIFF metadata tags for a map on ``grid``."""
    tags = {
        "TARGET": target,
        "COORDINATE_CONVENTION": LON_CONVENTION,
        "LONGITUDE_DIRECTION": "east-positive",
        "LATITUDE_TYPE": "planetocentric",
        "CRS_SOURCE": grid.crs_id or "PROJ definition on the IAU_2015 sphere of the body (no IAU code for these parameters)",
        "GRID": json.dumps(grid.describe()),
        "SOFTWARE": "ioflyby",
    }
    for key, value in (extra or {}).items():
        tags[key.upper()] = value if isinstance(value, str) else json.dumps(value)
    return tags


def _profile(grid: MapGrid, count: int, dtype: str, **extra) -> dict:
    profile = dict(
        driver="GTiff", width=grid.width, height=grid.height, count=count, dtype=dtype, crs=grid.crs,
        transform=grid.transform, tiled=True, blockxsize=256, blockysize=256, BIGTIFF="IF_SAFER",
        GEOTIFF_KEYS_FLAVOR=geotiff_keys_flavor(grid.code),
    )
    profile.update(extra)
    return profile


_GDAL_LOGGER = "rasterio._env"
_GDAL_ERROR = "GDAL signalled an error"


@functools.cache
def _quiet_libtiff() -> None:
    """Turn off the printing of errors and warnings to stderr by every loaded libtiff (GDAL's and
    Pillow's may be separate copies); GDAL's own handlers, which rasterio turns into log records,
    still see them. Only where the loaded libraries can be listed (Linux: /proc/self/maps)."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split()[-1] for line in maps if "/libtiff" in line}
    except OSError:
        return
    for path in sorted(paths):
        library = ctypes.CDLL(path)
        for name in ("TIFFSetErrorHandler", "TIFFSetWarningHandler"):
            setter = getattr(library, name)
            setter.restype, setter.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
            setter(None)


class _Collect(logging.Handler):
    """Keeps the messages of the errors GDAL signals (rasterio logs each as one INFO record)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith(_GDAL_ERROR):
            self.errors.append(message.split("msg=", 1)[-1].strip("'\""))


@contextmanager
def _gdal_errors() -> Iterator[list[str]]:
    """Collect the errors GDAL signals inside the block (rasterio logs them; GDAL does not raise
    for a failed block write), with libtiff kept off stderr and no ``.aux.xml`` sidecar written."""
    _quiet_libtiff()
    logger = logging.getLogger(_GDAL_LOGGER)
    handler, level = _Collect(), logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        with rasterio.Env(GDAL_PAM_ENABLED="NO"):
            yield handler.errors
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _same_crs(written, grid: MapGrid) -> bool:
    """Whether ``written`` puts points near the map centre where the grid's CRS does (1 mm)."""
    if written is None:
        return False
    quarter = grid.params[0] / 4.0
    xs, ys = [0.0, quarter, -quarter, quarter], [0.0, quarter, quarter, -quarter]
    try:
        back_x, back_y = warp_transform(written, grid.crs, xs, ys)
    except Exception:  # noqa: BLE001 - PROJ refuses a CRS it cannot use in several ways
        return False
    return bool(np.allclose(back_x, xs, atol=1e-3) and np.allclose(back_y, ys, atol=1e-3))


def _verify(temporary: Path, grid: MapGrid, bands: Mapping[int, np.ndarray]) -> str | None:
    """What is wrong with the GeoTIFF ``temporary`` (None when it holds exactly ``bands``, by
    band index, on ``grid`` with its CRS)."""
    try:
        with rasterio.open(temporary) as src:
            if (src.width, src.height, src.count) != (grid.width, grid.height, len(bands)):
                return f"reopened as {src.width} x {src.height} x {src.count} bands"
            if not src.transform.almost_equals(grid.transform):
                return "its geotransform did not survive"
            if not _same_crs(src.crs, grid):
                return "its CRS did not survive"
            for index, expected in bands.items():
                if not np.array_equal(src.read(index), expected, equal_nan=expected.dtype.kind == "f"):
                    return f"band {index} reads back different from what was written"
    except rasterio.errors.RasterioError as exc:
        return f"it cannot be reopened ({exc})"
    return None


def _write_geotiff(path: Path, grid: MapGrid, profile: dict, bands: Mapping[int, np.ndarray],
                   decorate: Callable[[DatasetWriter], None]) -> Path:
    """Write ``bands`` (band index -> 2-D array) to a temporary GeoTIFF, let ``decorate`` add
    descriptions and tags, then publish it as ``path`` only if GDAL signalled no error and the
    reopened file verifies; OutputError otherwise (the temporary is removed)."""
    try:
        with AtomicFiles() as files:
            temporary = files.path(path)
            with _gdal_errors() as errors:
                with rasterio.open(temporary, "w", **profile) as dst:
                    for index, band in bands.items():
                        dst.write(band, index)
                    decorate(dst)
                problem = f"GDAL: {errors[0]}" if errors else _verify(temporary, grid, bands)
            if problem:
                raise OutputError(f"cannot write {path}: {problem}{_free_space(path.parent)}")
    except OSError as exc:
        raise write_error(path, exc) from None
    except rasterio.errors.RasterioError as exc:
        raise OutputError(f"cannot write {path}: {exc}{_free_space(path.parent)}") from None
    return path


def _free_space(folder: Path) -> str:
    try:
        stats = os.statvfs(folder)
    except OSError:
        return ""
    free = stats.f_bavail * stats.f_frsize
    return f" ({free:,} bytes free in {folder}: full disk?)" if free < 64 * 1024 * 1024 else ""


def write_colour_geotiff(
    path: str | Path, grid: MapGrid, bands: np.ndarray, alpha: np.ndarray, names: Sequence[str], target: str,
    tags: Mapping[str, object] | None = None,
) -> Path:
    """Integer colour GeoTIFF: ``bands`` [n, row, col] (uint8/uint16) plus an alpha band."""
    rgb = len(names) == 3
    extra = {"photometric": "RGB"} if rgb else {}

    def decorate(dst: DatasetWriter) -> None:
        interp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue] if rgb else [ColorInterp.gray] * len(names)
        dst.colorinterp = [*interp, ColorInterp.alpha]
        for index, name in enumerate(names, start=1):
            dst.set_band_description(index, f"JunoCam {name} (white-balanced, stretched)")
        dst.set_band_description(len(names) + 1, "alpha: 0 where no framelet saw the cell")
        dst.update_tags(**grid_tags(grid, target, tags))

    planes = {index: band for index, band in enumerate([*bands, alpha], start=1)}
    return _write_geotiff(Path(path), grid, _profile(grid, len(names) + 1, bands.dtype.name, **extra), planes, decorate)


def write_float_geotiff(
    path: str | Path, grid: MapGrid, planes: Mapping[str, np.ndarray], descriptions: Mapping[str, str], target: str,
    tags: Mapping[str, object] | None = None,
) -> Path:
    """Float GeoTIFF (float32, or float64 where a plane is float64) of named planes; NaN = no data."""
    names = list(planes)
    dtype = "float64" if any(planes[n].dtype == np.float64 for n in names) else "float32"

    def decorate(dst: DatasetWriter) -> None:
        for index, name in enumerate(names, start=1):
            dst.set_band_description(index, descriptions.get(name, name))
        dst.update_tags(**grid_tags(grid, target, tags))

    bands = {index: planes[name].astype(dtype, copy=False) for index, name in enumerate(names, start=1)}
    return _write_geotiff(Path(path), grid, _profile(grid, len(names), dtype, nodata=np.nan), bands, decorate)


def write_png(path: str | Path, bands: np.ndarray, alpha: np.ndarray | None = None, max_side: int | None = PREVIEW_MAX_SIDE) -> Path:
    """8-bit PNG preview of [n, row, col] uint8 bands (1 = grey, 3 = RGB), optionally with alpha,
    shrunk (box filter) so that its longer side is at most ``max_side``."""
    path = Path(path)
    planes = list(bands) + ([alpha] if alpha is not None else [])
    array = np.stack(planes, axis=-1) if len(planes) > 1 else planes[0]
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[len(planes)]
    image = Image.fromarray(np.ascontiguousarray(array), mode=mode)
    if max_side and max(image.size) > max_side:
        scale = max_side / max(image.size)
        image = image.reduce(int(np.ceil(1 / scale))) if 1 / scale >= 2 else image.resize(
            (max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.Resampling.BOX)
    try:
        with AtomicFiles() as files:
            # zlib level 1 with run-length matching (Z_RLE); the comparison behind it: docs/conventions.md,
            # "Mapping: measurements behind the design".
            image.save(files.path(path), format="PNG", compress_level=1, compress_type=zlib.Z_RLE)
    except OSError as exc:
        raise write_error(path, exc) from None
    return path
