"""GeoTIFF and PNG export, written to a temporary name and renamed when complete.

Every GeoTIFF carries the grid's CRS (IAU_2015 code or PROJ definition on the IAU sphere), the
geotransform, band descriptions, and tags stating the coordinate convention (planetocentric
latitude, east-positive longitude), the target, the CRS source and the processing record.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image
from rasterio.enums import ColorInterp

from ioflyby.errors import IoflybyError
from ioflyby.fileio import AtomicFiles
from ioflyby.mapping.crs import LON_CONVENTION
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
    )
    profile.update(extra)
    return profile


def write_colour_geotiff(
    path: str | Path, grid: MapGrid, bands: np.ndarray, alpha: np.ndarray, names: Sequence[str], target: str,
    tags: Mapping[str, object] | None = None,
) -> Path:
    """Integer colour GeoTIFF: ``bands`` [n, row, col] (uint8/uint16) plus an alpha band."""
    path = Path(path)
    rgb = len(names) == 3
    extra = {"photometric": "RGB"} if rgb else {}
    try:
        with AtomicFiles() as files, rasterio.open(
            files.path(path), "w", **_profile(grid, len(names) + 1, bands.dtype.name, **extra)
        ) as dst:
            dst.write(bands, indexes=list(range(1, len(names) + 1)))
            dst.write(alpha, len(names) + 1)
            interp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue] if rgb else [ColorInterp.gray] * len(names)
            dst.colorinterp = [*interp, ColorInterp.alpha]
            for index, name in enumerate(names, start=1):
                dst.set_band_description(index, f"JunoCam {name} (white-balanced, stretched)")
            dst.set_band_description(len(names) + 1, "alpha: 0 where no framelet saw the cell")
            dst.update_tags(**grid_tags(grid, target, tags))
    except (rasterio.errors.RasterioError, OSError) as exc:
        raise IoflybyError(f"cannot write {path}: {exc}") from None
    return path


def write_float_geotiff(
    path: str | Path, grid: MapGrid, planes: Mapping[str, np.ndarray], descriptions: Mapping[str, str], target: str,
    tags: Mapping[str, object] | None = None,
) -> Path:
    """Float GeoTIFF (float32, or float64 where a plane is float64) of named planes; NaN = no data."""
    path = Path(path)
    names = list(planes)
    dtype = "float64" if any(planes[n].dtype == np.float64 for n in names) else "float32"
    try:
        with AtomicFiles() as files, rasterio.open(files.path(path), "w", **_profile(grid, len(names), dtype, nodata=np.nan)) as dst:
            for index, name in enumerate(names, start=1):
                dst.write(planes[name].astype(dtype, copy=False), index)
                dst.set_band_description(index, descriptions.get(name, name))
            dst.update_tags(**grid_tags(grid, target, tags))
    except (rasterio.errors.RasterioError, OSError) as exc:
        raise IoflybyError(f"cannot write {path}: {exc}") from None
    return path


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
        raise IoflybyError(f"cannot write {path}: {exc}") from None
    return path
