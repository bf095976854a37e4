"""Change detection between two epochs of Io's surface: new lava, fresh deposits, colour changes.

Input: two maps of the same region — ioflyby GeoTIFFs in an Io CRS (colour with alpha, or float
with NaN as no data) or USGS-convention global mosaics (:mod:`ioflyby.mapping.reference` gives
them their georeference). Method, in order:

1. **Common grid**: both are resampled by GDAL (rasterio ``reproject``; bilinear, or the average
   where the grid is ≥ 1.5× coarser) onto one equirectangular grid on Io's IAU sphere covering the
   region asked for (default: where both maps overlap) at the coarser of the two resolutions.
   Cells are valid where both maps have data; constant fill (rows or 16×16 blocks without a single
   grey-level step, e.g. the polar caps of a mosaic) is no data.
2. **Local registration** (:mod:`ioflyby.volcano.change_registration`): phase correlation on
   tiles of 64 cells every 32 (of the maps reduced 2× when they are large), outlier tiles
   dropped, a smooth displacement field by normalised convolution; where its 95th percentile
   exceeds :data:`REGISTRATION_APPLY_PX` the after map is warped onto the before map
   (bilinear, :func:`ioflyby.volcano.change_registration.warp_field`). A shift + rotation fitted to the tiles is reported as a
   summary, with the field's statistics. USGS mosaics in their own CRS are decoded by Pillow and
   resampled separably (the same values as GDAL's bilinear, in a fraction of the time). The
   full-map passes of this and the next steps are compiled loops
   (:mod:`ioflyby.volcano.change_kernels`) writing into reused buffers.
3. **Resolution**: the difference of blur is measured as the Gaussian σ that, applied to the
   sharper map, maximises the correlation of the two maps' fine detail (high-pass at 4 cells) on
   textured tiles; the sharper map is blurred by it. Both are then smoothed by
   ``ChangeConfig.smoothing_px`` (noise, JPEG blocks).
4. **Photometric normalisation**: within a window of ``ChangeConfig.window_km`` the before map
   is given the after map's local mean and standard deviation (a local gain and offset, computed
   on 8×8-cell blocks and interpolated), which removes different Sun and viewing geometry and
   brightness steps broader than the window. Two passes: the second leaves out the cells the
   first found changed, so that a change does not normalise itself away.
5. **Change**: the normalised difference ``d = after − (gain·before + offset)`` is divided by its
   local robust scale (1.2533 × the local mean |d| of unchanged cells, same window):
   ``z = d/σ``. Regions grow from seeds ``|z| ≥ seed_sigma`` down to ``|z| ≥ grow_sigma``
   (hysteresis), and are then cut at half their amplitude (|d| ≥ ½ · mean |d| of their seed
   cells) so that a blurred step edge is placed at its true position. Where both maps are colour,
   the same is done for the red and blue fractions R/(R+G+B), B/(R+G+B) (offset-normalised):
   regions of significant colour change without a brightness change are ``colour change``.
6. **Measurements** of each region on Io's sphere: area = sum of the cells' exact areas
   (R²·Δλ·(sin φ₁ − sin φ₂)), centroid = area-weighted mean of unit vectors, perimeter = the
   great-circle length of its marching-squares outline (the GeoJSON polygon), mean change
   (after/before − 1 over the region, for brightness; the change of the red fraction for colour),
   significance ``score = |mean z| · √(n / n_c)`` with n the cells and n_c = 4π·σ² the cells over
   which the smoothing correlates the noise (σ = the total smoothing, ≥ 0.5 cell): a z-score of
   the region's mean. Nearest catalogue feature from :mod:`ioflyby.volcano.catalogue`.

Mosaic artefacts are told from surface change by these criteria (a region meeting any of them is
listed under ``artefacts`` with the reason, never under ``changes``):

- ``polar smear``: centred beyond ±:data:`POLAR_LIMIT_DEG` on a global map (simple cylindrical
  stretches rows ≥ 2.9× there, the sources are oblique; the before mosaic's detail falls to
  ~half its mid-latitude level beyond 75°).
- ``seam``: ≥ :data:`SEAM_AXIS_FRACTION` of its outline lies on straight segments of ≥
  :data:`SEAM_SEGMENT_CELLS` cells along the map's rows or columns (± 10°; mosaic tile edges and
  image-frame seams in simple cylindrical), or ≥ :data:`SEAM_ANY_FRACTION` on straight segments
  at any angle. Lava flows and deposits have curved, lobate outlines.
- ``data edge``: ≥ :data:`EDGE_FRACTION` of its outline runs within 2 cells of no data.
- ``resolution step``: in a ring around it (half its size wide) the ratio of the two maps' finest
  detail power (map minus its 3 × 3 mean, before any smoothing, gain-corrected) departs from the
  map's typical ratio by more than :data:`FINE_POWER_RATIO` (one map is much blurrier there: a
  high-resolution inset or a smeared area, where a difference of shading or sharpness looks
  like a change); or it lies in a zone where the two maps' fine detail (variance within 8×8
  cells, gain-corrected) differs by more than a factor :data:`DETAIL_RATIO` from the map's
  typical ratio and that zone is ≥ 4× larger than the region: one mosaic is of much lower
  resolution there (a real change alters the detail only where it happened).
- ``brightness mismatch``: the local gain there is outside [1/3, 3] × its median (one mosaic
  has lost its contrast: saturated or filled), or the region is broad and faint (over
  :data:`BROAD_FRACTION` of the compared area with mean |z| < 4) — a residual brightness
  step, not a deposit.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import ColorInterp, Resampling
from rasterio.warp import reproject
from rasterio.warp import transform as warp_transform
from scipy import ndimage

from ioflyby.errors import IoflybyError
from ioflyby.fileio import AtomicFiles, check_regular_file, write_error
from ioflyby.mapping.crs import body_crs
from ioflyby.mapping.grid import MapGrid, equirectangular_grid
from ioflyby.mapping.reference import is_mosaic_image, mosaic_georeference, open_mosaic, read_mosaic_array
from ioflyby.volcano import change_kernels as kernels
from ioflyby.volcano.catalogue import IO_MEAN_RADIUS_KM
from ioflyby.volcano.change_registration import DisplacementField, displacement_field, field_summary, warp_field

KINDS = ("darkening", "brightening", "colour change")
ARTEFACT_REASONS = ("polar smear", "seam", "data edge", "resolution step", "brightness mismatch")
POLAR_LIMIT_DEG = 70.0
"""Beyond this latitude a simple-cylindrical mosaic is stretched ≥ 2.9× along rows and its sources
are oblique: regions centred there are ``polar smear`` (see the module docstring)."""
RESOLUTION_SHARE = 0.5
FINE_POWER_RATIO = 3.0
"""A region is a ``resolution step`` when, in a ring around it, the ratio of the two maps' finest
detail power (1–2 cell scales) departs from the map's typical ratio by more than this factor."""
BLOCK = 8
"""Cells per side of the blocks on which local statistics are computed (then interpolated)."""
REGISTRATION_APPLY_PX = 0.3
NORMALISATION_PASSES = 3
"""Normalisation passes: each after the first leaves out the cells the previous one found changed."""
CANDIDATE_SIGMA = 2.5
AMPLITUDE_PERCENTILE = 85.0
"""A region's amplitude: this percentile of its |d|; it is cut where |d| falls below half of it."""
SEAM_SEGMENT_CELLS = 30.0
SEAM_AXIS_FRACTION = 0.35
SEAM_ANY_FRACTION = 0.6
EDGE_FRACTION = 0.25
DETAIL_RATIO = 4.0
BROAD_FRACTION = 0.01
MAX_INPUT_BYTES = 4 * 1024**3
MAX_POLYGON_POINTS = 400


class ChangeError(IoflybyError):
    """Two maps cannot be compared (no overlap, unreadable, not in an Io CRS)."""


@dataclass(frozen=True)
class ChangeConfig:
    """Settings of :func:`detect_changes` (see the module docstring for their roles).

    ``region``: (lat0, lat1, lon0, lon1) degrees, planetocentric latitude and east longitude
    (lon1 < lon0 crosses 0°E). ``resolution_km``: the common grid's cell (default: the coarser input).
    """

    region: tuple[float, float, float, float] | None = None
    resolution_km: float | None = None
    window_km: float = 500.0
    smoothing_px: float = 1.0
    seed_sigma: float = 5.0
    grow_sigma: float = 3.0
    colour_seed_sigma: float = 6.0
    min_cells: int = 12
    register: bool = True
    max_changes: int = 500

    def __post_init__(self) -> None:
        if not (self.window_km > 0 and self.smoothing_px >= 0 and self.seed_sigma >= self.grow_sigma > 0):
            raise ChangeError("change settings: window_km > 0, smoothing_px >= 0 and seed_sigma >= grow_sigma > 0")


# -- reading the two epochs onto one grid ---------------------------------------------------------
@dataclass
class EpochMap:
    """One epoch on the common grid: grey values, colour bands [3, H, W] or None, validity."""

    grey: np.ndarray
    colour: np.ndarray | None
    valid: np.ndarray
    source: str
    cell_km: float


def _open(path: Path):
    if is_mosaic_image(path):
        return open_mosaic(path)
    check_regular_file(path, MAX_INPUT_BYTES, ChangeError, "a map")
    try:
        return rasterio.open(path)
    except rasterio.errors.RasterioError as exc:
        raise ChangeError(f"cannot read the map {path}: {exc}; give an ioflyby GeoTIFF or a USGS Io mosaic") from None


def _geographic(dataset):
    if dataset.crs is None:
        raise ChangeError(f"{dataset.name} has no CRS: give an ioflyby GeoTIFF (Io CRS) or a USGS Io mosaic (.jpg)")
    body = body_crs(501, "IO")
    if abs(_sphere_radius_m(dataset.crs) - body.radius_m) > 1000.0:
        raise ChangeError(f"{dataset.name} is not in an Io CRS (sphere radius {_sphere_radius_m(dataset.crs):.0f} m); "
                          "give maps of Io")
    return rasterio.crs.CRS.from_string(body.geographic_id)


def _sphere_radius_m(crs) -> float:
    try:
        return float(crs.to_dict().get("R", 0.0)) or float(crs.data.get("a", 0.0)) or _wkt_radius(crs)
    except Exception:  # noqa: BLE001 - any CRS PROJ cannot express as a dict
        return _wkt_radius(crs)


def _wkt_radius(crs) -> float:
    import re

    match = re.search(r'(?:SPHEROID|ELLIPSOID)\["[^"]*",([0-9.eE+-]+)', crs.to_wkt())
    return float(match.group(1)) if match else 0.0


def _cell_km(dataset) -> float:
    return float(max(abs(dataset.transform.a), abs(dataset.transform.e))) / 1000.0


def _extent(dataset) -> tuple[float, float, float, float]:
    """(south, north, west, east) degrees of a map's cells (east longitude, east may exceed 360)."""
    geographic = _geographic(dataset)
    rows, cols = np.meshgrid(np.linspace(0, dataset.height, 65), np.linspace(0, dataset.width, 65), indexing="ij")
    xs, ys = rasterio.transform.xy(dataset.transform, rows.ravel(), cols.ravel(), offset="ul")
    lon, lat = (np.asarray(v, float) for v in warp_transform(dataset.crs, geographic, xs, ys))
    good = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) < 1e6)
    if not good.any():
        raise ChangeError(f"{dataset.name}: no cell of the map lies on Io")
    lat, lon = np.clip(lat[good], -90.0, 90.0), np.sort(lon[good] % 360.0)
    gaps = np.diff(np.concatenate([lon, lon[:1] + 360.0]))
    widest = int(np.argmax(gaps))
    if gaps[widest] < 2 * 360.0 / 64:  # all around
        return float(lat.min()), float(lat.max()), 0.0, 360.0
    west = float(lon[(widest + 1) % lon.size])
    east = float(lon[widest]) + (360.0 if widest + 1 < lon.size and lon[widest] < west else 0.0)
    return float(lat.min()), float(lat.max()), west, east if east > west else east + 360.0


def _overlap(a: tuple, b: tuple) -> tuple[float, float, float, float]:
    south, north = max(a[0], b[0]), min(a[1], b[1])
    if a[3] - a[2] >= 359.9:
        west, east = b[2], b[3]
    elif b[3] - b[2] >= 359.9:
        west, east = a[2], a[3]
    else:
        shift = 360.0 * round((a[2] - b[2]) / 360.0)
        west, east = max(a[2], b[2] + shift), min(a[3], b[3] + shift)
    if not (north > south and east > west):
        raise ChangeError("the two maps do not overlap: give maps of the same region of Io")
    return south, north, west, east


def common_grid(before, after, config: ChangeConfig) -> MapGrid:
    """The equirectangular grid on Io's IAU sphere on which two open datasets are compared."""
    body = body_crs(501, "IO")
    if config.region is not None:
        lat0, lat1, lon0, lon1 = (float(v) for v in config.region)
        box = (min(lat0, lat1), max(lat0, lat1), lon0, lon1)
    else:
        south, north, west, east = _overlap(_extent(before), _extent(after))
        box = (south, north, west % 360.0, east % 360.0 if east - west < 359.9 else west % 360.0 + 360.0)
    resolution = config.resolution_km or max(_cell_km(before), _cell_km(after))
    try:
        return equirectangular_grid(body, box[:2], box[2:], resolution)
    except IoflybyError as exc:
        raise ChangeError(f"region {config.region}: {exc}") from None


def _data_bands(dataset) -> tuple[list[int], int | None]:
    interp = list(dataset.colorinterp)
    alpha = next((i + 1 for i, c in enumerate(interp) if c == ColorInterp.alpha), None)
    data = [i + 1 for i in range(dataset.count) if i + 1 != alpha]
    if dataset.count == 4 and alpha is None and dataset.dtypes[0] in ("uint8", "uint16"):
        alpha, data = 4, [1, 2, 3]
    return data[:3] if len(data) >= 3 else data[:1], alpha


def _warp(dataset, band: np.ndarray, grid: MapGrid, resampling: Resampling, nodata: float | None) -> np.ndarray:
    out = np.full(grid.shape, np.nan, np.float32)
    reproject(band, out, src_transform=dataset.transform, src_crs=dataset.crs, dst_transform=grid.transform,
              dst_crs=grid.crs, resampling=resampling, src_nodata=nodata, dst_nodata=np.nan, num_threads=2)
    return out


def _fill_mask(grey: np.ndarray) -> np.ndarray:
    """Cells of constant fill: rows without any grey-level step, and 16×16 blocks ≥ 90 % without one."""
    fill = np.empty(grey.shape, bool)
    kernels.fill_mask(np.ascontiguousarray(grey, np.float32), 16, fill)
    return fill


def _axis_indices(coords: np.ndarray, n: int, periodic: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first index, second index, fraction as float32) of linear interpolation at fractional
    indices ``coords`` into an axis of ``n`` values (clamped, or periodic)."""
    i0 = np.floor(coords).astype(np.int64)
    t = (coords - i0).astype(np.float32)
    if periodic:
        i0, i1 = i0 % n, (i0 + 1) % n
    else:
        i0, i1 = np.clip(i0, 0, n - 1), np.clip(i0 + 1, 0, n - 1)
    return i0, i1, t


def _resample_axis(values: np.ndarray, coords: np.ndarray, axis: int, periodic: bool) -> np.ndarray:
    """Linear interpolation of ``values`` at fractional indices ``coords`` along ``axis`` (float32)."""
    i0, i1, t = _axis_indices(coords, values.shape[axis], periodic)
    shape = (-1, 1) if axis == 0 else (1, -1)
    first = np.take(values, i0, axis=axis).astype(np.float32, copy=False)
    second = np.take(values, i1, axis=axis).astype(np.float32, copy=False)
    return first + (second - first) * t.reshape(shape)


def _read_mosaic_direct(path: Path, dataset, grid: MapGrid, bands: int) -> list[np.ndarray] | None:
    """A USGS mosaic decoded by Pillow (``read_mosaic_array``) and resampled (bilinear, separable: both are equirectangular
    in the same CRS) onto ``grid``; None where the grid is not in the mosaic's CRS or is much
    coarser (then GDAL resamples)."""
    if dataset.crs != grid.crs or grid.resolution_km >= 1.5 * _cell_km(dataset):
        return None
    t = dataset.transform
    cols, rows = np.arange(grid.width), np.arange(grid.height)
    x, y = grid.cell_to_xy(cols, np.zeros(grid.width)), grid.cell_to_xy(np.zeros(grid.height), rows)
    u = (x[0] - t.c) / t.a - 0.5
    v = (y[1] - t.f) / t.e - 0.5
    periodic = abs(dataset.width * t.a - 2 * math.pi * grid.params[0]) < 2 * abs(t.a)
    array = read_mosaic_array(path, bands)  # on the planetocentric grid, through the declared georeference
    planes = [array] if array.ndim == 2 else [np.ascontiguousarray(array[..., i]) for i in range(3)]
    rows = _axis_indices(v, dataset.height, False)
    cols = _axis_indices(u, dataset.width, periodic)
    out = []
    for plane in planes:
        resampled = np.empty(grid.shape, np.float32)
        kernels.resample_separable(plane, *rows, *cols, resampled)
        outside = (v < -0.5) | (v > dataset.height - 0.5)
        resampled[outside] = np.nan
        if not periodic:
            resampled[:, (u < -0.5) | (u > dataset.width - 0.5)] = np.nan
        out.append(resampled)
    return out


def read_epoch(path: str | Path, grid: MapGrid) -> EpochMap:
    """A map (ioflyby GeoTIFF or USGS mosaic) resampled onto ``grid``."""
    path = Path(path)
    with _open(path) as dataset:
        _geographic(dataset)
        cell = _cell_km(dataset)
        resampling = Resampling.average if grid.resolution_km >= 1.5 * cell else Resampling.bilinear
        bands, alpha = _data_bands(dataset)
        is_float = np.dtype(dataset.dtypes[bands[0] - 1]).kind == "f"
        planes = _read_mosaic_direct(path, dataset, grid, len(bands)) if is_mosaic_image(path) else None
        if planes is None:
            planes = []
            for index in bands:
                raw = dataset.read(index).astype(np.float32)
                nodata = np.nan if is_float else None
                planes.append(_warp(dataset, raw, grid, resampling, nodata))
        valid = np.all([np.isfinite(p) for p in planes], axis=0)
        if alpha is not None:
            coverage = (dataset.read(alpha) > 0).astype(np.float32)
            valid &= _warp(dataset, coverage, grid, Resampling.bilinear, None) >= 0.999
    grey = planes[0] if len(planes) == 1 else np.mean(planes, axis=0, dtype=np.float32)
    if not is_float:
        valid &= ~_fill_mask(grey)
    colour = np.stack(planes) if len(planes) == 3 else None
    return EpochMap(grey, colour, valid, str(path), cell)


# -- local statistics on blocks ----------------------------------------------------------------
class _Blocks:
    """Sums over BLOCK×BLOCK cells, box filters over a window of blocks, and interpolation back."""

    def __init__(self, shape: tuple[int, int], window_cells: float, wrap: bool) -> None:
        self.shape = shape
        self.hb, self.wb = -(-shape[0] // BLOCK), -(-shape[1] // BLOCK)
        self.size = max(3, int(round(window_cells / BLOCK)) | 1)
        self.mode = ("reflect", "wrap" if wrap else "reflect")

    def sum(self, values: np.ndarray) -> np.ndarray:
        if values.shape != (self.hb * BLOCK, self.wb * BLOCK):
            padded = np.zeros((self.hb * BLOCK, self.wb * BLOCK), np.float32)
            padded[: self.shape[0], : self.shape[1]] = values
            values = padded
        # float32 within a block (64 cells), float64 from there on
        rows = values.reshape(self.hb, BLOCK, self.wb * BLOCK).sum(axis=1, dtype=np.float32)
        return rows.reshape(self.hb, self.wb, BLOCK).sum(axis=2, dtype=np.float64)

    def smooth(self, block_values: np.ndarray, size: int | None = None) -> np.ndarray:
        return ndimage.uniform_filter(block_values, size or self.size, mode=self.mode)

    def full(self, block_values: np.ndarray, stride: int = 1) -> np.ndarray:
        """Bilinear interpolation of block values (at block centres, constant beyond the outer
        ones) to every ``stride``-th cell of every ``stride``-th row (float32; rows, then columns)."""
        h, w = self.shape
        out = np.empty((-(-h // stride), -(-w // stride)), np.float32)
        kernels.block_full(np.ascontiguousarray(block_values, np.float32), stride, out)
        return out


def _filled(values: np.ndarray, valid: np.ndarray, blocks: _Blocks, out: np.ndarray | None = None) -> np.ndarray:
    """``values`` with no-data cells replaced by the local mean of valid ones (for filtering),
    written into ``out`` (float32, same shape) where given."""
    sums = np.empty((2, blocks.hb, blocks.wb))
    kernels.valid_sums(values, valid, sums)
    weight = blocks.smooth(sums[0], 5)
    mean = blocks.smooth(sums[1], 5) / np.maximum(weight, 1e-9)
    fallback = float(sums[1].sum() / sums[0].sum()) if sums[0].sum() > 0 else 0.0
    mean = np.where(weight > 0, mean, fallback)
    out = np.empty(values.shape, np.float32) if out is None else out
    kernels.fill_invalid(values, valid, np.ascontiguousarray(mean, np.float32), out)
    return out


# -- registration -------------------------------------------------------------------------------
@dataclass
class Registration:
    """The after map's offset from the before map (cells and km; +x east, +y south, i.e. along
    columns and rows), the rotation of the map plane (degrees, counter-clockwise), the RMS of the
    tiles about that model, how many tiles were used and whether the correction was applied."""

    shift_x_px: float = 0.0
    shift_y_px: float = 0.0
    rotation_deg: float = 0.0
    residual_rms_px: float = float("nan")
    tiles: int = 0
    applied: bool = False
    cell_km: float = 0.0
    local: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"shift_x_px": self.shift_x_px, "shift_y_px": self.shift_y_px,
                "shift_x_km": self.shift_x_px * self.cell_km, "shift_y_km": self.shift_y_px * self.cell_km,
                "rotation_deg": self.rotation_deg, "residual_rms_px": self.residual_rms_px, "tiles": self.tiles,
                "applied": self.applied, "local": self.local,
                "method": "phase correlation on tiles (batched FFT, Gaussian peak fit); a smooth local displacement "
                "field (outlier tiles dropped, normalised convolution) warps the after map; shift + rotation "
                "fitted by least squares to the tiles as a summary"}


def _tiles(valid: np.ndarray, texture: np.ndarray, size: int, limit: int) -> list[tuple[int, int]]:
    """Upper-left corners of up to ``limit`` fully valid tiles, the most textured first."""
    h, w = valid.shape
    if h < size or w < size:
        return []
    corners = [(r, c) for r in range(0, h - size + 1, size // 2) for c in range(0, w - size + 1, size // 2)]
    scored = []
    for r, c in corners:
        if valid[r:r + size:4, c:c + size:4].all():
            scored.append((float(texture[r:r + size:4, c:c + size:4].std()), r, c))
    scored.sort(reverse=True)
    chosen, taken = [], np.zeros(valid.shape, bool)
    for _, r, c in scored:
        if taken[r + size // 2, c + size // 2]:
            continue
        chosen.append((r, c))
        taken[r:r + size, c:c + size] = True
        if len(chosen) >= limit:
            break
    return chosen


def _register(before: np.ndarray, after: np.ndarray, valid: np.ndarray, cell_km: float,
              wrap: bool) -> tuple[Registration, DisplacementField | None]:
    """The local displacement field of ``after`` (:mod:`ioflyby.volcano.change_registration`)
    and its summary: the shift + rotation fitted by least squares to the accepted tiles (outliers
    dropped), the RMS of the tiles about that global model (the local misregistration) and the
    field's statistics. Applied where its 95th percentile exceeds :data:`REGISTRATION_APPLY_PX`
    (below that the warp's interpolation would blur more than the misregistration does)."""
    factor = 2 if min(before.shape) >= 1200 else 1
    try:
        fld = displacement_field(before, after, valid, wrap, factor=factor)
    except ValueError:
        return Registration(cell_km=cell_km), None
    ok = fld.accepted
    if ok.sum() < 3:
        return Registration(tiles=int(ok.sum()), cell_km=cell_km), None
    yy, xx = np.meshgrid(fld.rows, fld.cols, indexing="ij")
    data = np.stack([xx[ok], yy[ok], fld.raw_dx[ok], fld.raw_dy[ok]], axis=1).astype(np.float64)
    xc, yc = before.shape[1] / 2, before.shape[0] / 2
    keep = np.ones(len(data), bool)
    for _ in range(3):
        x, y, sx, sy = data[keep].T
        # dx = tx - theta*(y-yc), dy = ty + theta*(x-xc)
        design = np.zeros((2 * len(x), 3))
        design[: len(x), 0], design[: len(x), 2] = 1.0, -(y - yc)
        design[len(x):, 1], design[len(x):, 2] = 1.0, (x - xc)
        params, *_ = np.linalg.lstsq(design, np.concatenate([sx, sy]), rcond=None)
        x, y, sx, sy = data.T
        rx = sx - (params[0] - params[2] * (y - yc))
        ry = sy - (params[1] + params[2] * (x - xc))
        residual = np.hypot(rx, ry)
        limit = max(1.0, 3.0 * 1.4826 * float(np.median(residual[keep])))
        new_keep = residual <= limit
        if new_keep.sum() < 3 or (new_keep == keep).all():
            break
        keep = new_keep
    rms = float(np.sqrt(np.mean(residual**2)))
    local = field_summary(fld, cell_km)
    applied = local["field_p95_px"] >= REGISTRATION_APPLY_PX
    # the theta above is in the row-down image frame: counter-clockwise on the map is its negative
    return Registration(float(params[0]), float(params[1]), float(-math.degrees(params[2])), rms,
                        int(ok.sum()), applied, cell_km, local), fld


def _apply_field(after: EpochMap, fld: DisplacementField, wrap: bool) -> None:
    """Warp ``after`` (grey, colour, validity) onto the before map with the displacement field."""
    after.grey = warp_field(after.grey, fld, wrap, after.valid)
    if after.colour is not None:
        after.colour = np.stack([warp_field(p, fld, wrap, after.valid) for p in after.colour])
    after.valid = np.isfinite(after.grey)


# -- resolution matching ---------------------------------------------------------------------------
BLUR_CANDIDATES_PX = (0.0, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


def _highpass(x: np.ndarray) -> np.ndarray:
    """Band-pass (Gaussian 1 − 4 cells): the detail that blur changes, with little of the noise."""
    return ndimage.gaussian_filter(x, 1.0, mode="nearest") - ndimage.gaussian_filter(x, 4.0, mode="nearest")


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / math.sqrt((a * a).sum() * (b * b).sum() + 1e-30))


def _match_blur(before: np.ndarray, after: np.ndarray, valid: np.ndarray) -> tuple[str, float]:
    """Which map is sharper ("before"/"after"/"neither") and the Gaussian σ (cells) that matches it."""
    tiles = _tiles(valid, before, min(192, max(32, min(before.shape) // 2)), 6)
    if not tiles:
        return "neither", 0.0
    size = min(192, max(32, min(before.shape) // 2))
    scores = {}
    for which in ("before", "after"):
        for sigma in BLUR_CANDIDATES_PX:
            if sigma == 0.0 and which == "after":
                continue
            total = 0.0
            for r, c in tiles:
                a, b = before[r:r + size, c:c + size], after[r:r + size, c:c + size]
                if sigma > 0:
                    a, b = (ndimage.gaussian_filter(a, sigma, mode="nearest"), b) if which == "before" else (
                        a, ndimage.gaussian_filter(b, sigma, mode="nearest"))
                total += _corr(_highpass(a), _highpass(b))
            scores[(which, sigma)] = total
    (which, sigma) = max(scores, key=scores.get)
    return ("neither", 0.0) if sigma == 0.0 else (which, sigma)


# -- the change maps ----------------------------------------------------------------------------
class _Workspace:
    """The maps one normalisation writes (a_norm, d, z: float32 [H, W]), reused by each pass,
    with the local-scale model's edge terms of the before map (|∇a|, |∇²a|)."""

    def __init__(self, a: np.ndarray) -> None:
        self.a_norm = np.empty(a.shape, np.float32)
        self.d = np.empty(a.shape, np.float32)
        self.z = np.zeros(a.shape, np.float32)
        self.edge = np.empty(a.shape, np.float32)
        self.curvature = np.empty(a.shape, np.float32)
        kernels.edge_curvature(a, self.edge, self.curvature)


def _local_moments(a: np.ndarray, b: np.ndarray, valid: np.ndarray, z: np.ndarray, z_limit: float,
                   blocks: _Blocks, size: int):
    """Local (count, mean a, mean b, var a, var b) on blocks over a window of ``size`` blocks, over
    the valid cells with |z| < ``z_limit``."""
    sums = np.empty((5, blocks.hb, blocks.wb))
    kernels.block_moments(a, b, valid, z, z_limit, sums)
    n, sa, sb, saa, sbb = (blocks.smooth(x, size) for x in sums)
    nn = np.maximum(n, 1e-9)
    ma, mb = sa / nn, sb / nn
    return n, ma, mb, saa / nn - ma**2, sbb / nn - mb**2


def _normalise(a: np.ndarray, b: np.ndarray, valid: np.ndarray, blocks: _Blocks, z_limit: float,
               work: _Workspace) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(normalised before, difference, z, gain on blocks) with statistics over the ``valid`` cells
    whose z of the previous pass (``work.z``) is below ``z_limit`` (inf: all). The difference's
    scale has three terms: the local robust scale of ``d`` and edge terms κ·|∇a|, λ·|∇²a| (what
    a sub-pixel misregistration or a residual blur difference leaves along sharp edges and on
    small features), κ and λ fitted over the unchanged cells. The arrays are ``work``'s."""
    n, ma, mb, va, vb = _local_moments(a, b, valid, work.z, z_limit, blocks, blocks.size)
    ok = n > 0.05 * BLOCK * BLOCK  # n: the mean count of used cells per block in the window
    gain = np.sqrt(np.clip(vb, 1e-12, None) / np.clip(va, 1e-12, None))
    if ok.any():
        gain = np.where(ok, gain, float(np.median(gain[ok])))
        median_offset = float(np.median((mb - gain * ma)[ok]))
    else:
        median_offset = 0.0
    gain = np.clip(gain, 0.02, 50.0)
    offset = np.where(ok, mb - gain * ma, median_offset)
    gain32 = gain.astype(np.float32)
    absd = np.empty(gain.shape)
    kernels.apply_gain(a, b, valid, work.z, z_limit, gain32, offset.astype(np.float32), work.a_norm, work.d, absd)
    kappa, lam = _edge_coefficients(work, blocks, gain32, valid, z_limit)
    nn = np.maximum(n, 1e-9)
    sigma_blocks = 1.2533 * blocks.smooth(absd) / nn
    floor = 0.25 * float(np.median(sigma_blocks[ok])) if ok.any() else 1e-6
    sigma_blocks = np.where(ok, np.maximum(sigma_blocks, floor), max(floor * 4, 1e-6))
    kernels.z_scores(work.d, valid, sigma_blocks.astype(np.float32), gain32, work.edge, work.curvature, kappa, lam,
                     work.z)
    return work.a_norm, work.d, work.z, gain


def _edge_coefficients(work: _Workspace, blocks: _Blocks, gain: np.ndarray, valid: np.ndarray,
                       z_limit: float) -> tuple[float, float]:
    """(κ, λ) of the scale model σ² = σ₀² + κ²·|∇a|² + λ²·|∇²a|², fitted to the robust scale of
    ``d`` (1.2533 × mean |d|) in 8 × 8 bins of |∇a| and |∇²a| quantiles (non-negative least
    squares on a subsample of the valid cells with |z| of the previous pass below ``z_limit``)."""
    from scipy.optimize import nnls

    stride = max(1, int(math.sqrt(valid.size / 400_000)))
    sub = (slice(None, None, stride), slice(None, None, stride))
    pick = valid[sub] & (np.abs(work.z[sub]) < z_limit)
    g = np.abs(blocks.full(gain, stride)[pick]).astype(np.float64)
    dd = np.abs(work.d[sub][pick]).astype(np.float64)
    ee, cc = g * work.edge[sub][pick], g * work.curvature[sub][pick]
    if dd.size < 500:
        return 0.0, 0.0
    bins = 8

    def index(values: np.ndarray) -> np.ndarray:
        cuts = np.quantile(values, np.linspace(0.0, 1.0, bins + 1)[1:-1])
        return np.searchsorted(cuts, values, side="right")

    cell = index(ee) * bins + index(cc)
    counts = np.bincount(cell, minlength=bins * bins)
    good = counts > 30

    def mean(values: np.ndarray) -> np.ndarray:
        return np.bincount(cell, weights=values, minlength=bins * bins)[good] / counts[good]

    sigma2 = (1.2533 * mean(dd)) ** 2
    design = np.stack([np.ones(int(good.sum())), mean(ee) ** 2, mean(cc) ** 2], axis=1)
    (_, kappa2, lam2), _ = nnls(design, sigma2)
    return float(math.sqrt(kappa2)), float(math.sqrt(lam2))


def _detail_zones(a: np.ndarray, b: np.ndarray, valid: np.ndarray, gain: np.ndarray,
                  blocks: _Blocks) -> tuple[np.ndarray, np.ndarray]:
    """Zones (labels on blocks) where the fine detail (variance within a block) of the two maps
    differs by > DETAIL_RATIO from the map's typical ratio, and that log-ratio's deviation from
    the typical one on every block (NaN where a block is not fully valid)."""
    sums = np.empty((5, blocks.hb, blocks.wb))
    kernels.block_moments(a, b, valid, a, math.inf, sums)
    n = np.maximum(sums[0], 1.0)
    full = n >= 0.9 * BLOCK * BLOCK
    ma, mb = sums[1] / n, sums[2] / n
    detail_a, detail_b = sums[3] / n - ma**2, sums[4] / n - mb**2
    ratio = np.log(np.clip(detail_b, 1e-9, None) / np.clip(detail_a * gain**2, 1e-9, None))
    ratio = np.where(full, ratio, np.nan)
    if not np.isfinite(ratio).any():
        return np.zeros(ratio.shape, np.int32), np.full(ratio.shape, np.nan)
    typical = float(np.nanmedian(ratio))
    smooth = ndimage.median_filter(np.nan_to_num(ratio, nan=typical), size=5)
    zones, _ = ndimage.label((np.abs(smooth - typical) > math.log(DETAIL_RATIO)) & full)
    return zones.astype(np.int32), ratio - typical


def _hysteresis(score: np.ndarray, low: float, high: float) -> np.ndarray:
    """Cells with score > ``low`` connected (4-neighbours) to one with score > ``high`` (the
    hysteresis threshold of Canny 1986, as ``skimage.filters.apply_hysteresis_threshold``)."""
    low = min(low, high)
    return _hysteresis_masks(score > low, score > high)


def _hysteresis_masks(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Cells of ``low`` connected (4-neighbours) to a cell of ``high`` (⊂ ``low``)."""
    labels, n = ndimage.label(low)
    if n == 0:
        return low
    seeded = np.bincount(labels[high], minlength=n + 1) > 0
    seeded[0] = False
    return seeded[labels]


def _label_percentile(ids: np.ndarray, values: np.ndarray, n: int, percentile: float) -> np.ndarray:
    """Per label 1..n, the ``percentile`` of ``values`` over the cells labelled ``ids`` (index 0: 0)."""
    order = np.lexsort((values, ids))
    ids, vals = ids[order], values[order]
    counts = np.bincount(ids, minlength=n + 1)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pick = starts + np.floor((counts - 1).clip(0) * percentile / 100.0).astype(np.int64)
    out = np.zeros(n + 1, np.float64)
    has = counts > 0
    out[has] = vals[np.clip(pick[has], 0, max(len(vals) - 1, 0))]
    out[0] = 0.0
    return out


def _regions(d: np.ndarray, z: np.ndarray, config: ChangeConfig) -> tuple[np.ndarray, int]:
    """Labels of significant regions (positive and negative apart), cut at half amplitude.
    Full-map passes are the thresholds and the labelling; the rest runs on the grown cells."""
    labels = np.zeros(z.shape, np.int32)
    flat_labels, flat_d, flat_z = labels.reshape(-1), d.reshape(-1), z.reshape(-1)
    eight = np.ones((3, 3))
    count = 0
    for sign in (1.0, -1.0):
        low_sigma = min(config.grow_sigma, config.seed_sigma)
        if sign > 0:
            grown = _hysteresis_masks(z > low_sigma, z > config.seed_sigma)
        else:
            grown = _hysteresis_masks(z < -low_sigma, z < -config.seed_sigma)
        cells = np.flatnonzero(grown)
        if cells.size == 0:
            continue
        lab, n = ndimage.label(grown, structure=eight)
        ids = lab.reshape(-1)[cells]
        del lab
        sd, sz = sign * flat_d[cells], sign * flat_z[cells]
        amp = _label_percentile(ids, sd, n, AMPLITUDE_PERCENTILE)
        kept = sd >= 0.5 * amp[ids]
        cells, sz = cells[kept], sz[kept]
        cut = np.zeros(z.shape, bool)
        cut.reshape(-1)[cells] = True
        lab2, n2 = ndimage.label(cut, structure=eight)
        if n2 == 0:
            continue
        ids2 = lab2.reshape(-1)[cells]
        del lab2, cut
        has_seed = np.bincount(ids2[sz >= config.seed_sigma], minlength=n2 + 1) > 0
        size = np.bincount(ids2, minlength=n2 + 1)
        keep = has_seed & (size >= config.min_cells)
        keep[0] = False
        new_ids = np.zeros(n2 + 1, np.int32)
        new_ids[keep] = np.arange(count + 1, count + 1 + keep.sum())
        chosen = keep[ids2]
        flat_labels[cells[chosen]] = new_ids[ids2[chosen]]
        count += int(keep.sum())
    return labels, count


# -- measurement ----------------------------------------------------------------------------------
def cell_areas_km2(grid: MapGrid) -> np.ndarray:
    """Exact area (km²) of a cell in each row of an equirectangular grid on the sphere (per row)."""
    radius = grid.params[0] / 1000.0
    top = (grid.y_max - np.arange(grid.height) * grid.cell_m) / grid.params[0]
    bottom = top - grid.cell_m / grid.params[0]
    dlon = grid.cell_m / grid.params[0]
    return radius**2 * dlon * (np.sin(np.clip(top, -np.pi / 2, np.pi / 2)) - np.sin(np.clip(bottom, -np.pi / 2, np.pi / 2)))


@dataclass
class Change:
    """One changed region (JSON field names are the CLI contract; degrees, km, km²)."""

    id: int
    kind: str
    centroid_lat_deg: float
    centroid_lon_east_deg: float
    area_km2: float
    perimeter_km: float
    mean_change: float
    mean_z: float
    score: float
    cells: int
    nearest_feature: dict
    polygon: list[list[float]]
    artefact: str | None = None
    artefact_detail: str = ""
    extra: dict = field(default_factory=dict)

    def to_json(self, polygon: bool = False) -> dict:
        record = {
            "id": self.id, "centroid_lat_deg": self.centroid_lat_deg,
            "centroid_lon_east_deg": self.centroid_lon_east_deg,
            "centroid_lon_west_deg": (-self.centroid_lon_east_deg) % 360.0,
            "area_km2": self.area_km2, "kind": self.kind, "score": self.score, "nearest_feature": self.nearest_feature,
            "perimeter_km": self.perimeter_km, "mean_change": self.mean_change, "mean_z": self.mean_z,
            "cells": self.cells, **self.extra,
        }
        if self.artefact:
            record["artefact"] = self.artefact
            record["artefact_detail"] = self.artefact_detail
        if polygon:
            record["polygon_lon_east_lat_deg"] = self.polygon
        return record


def _nearest_features(lat_deg: np.ndarray, lon_deg: np.ndarray) -> list[dict]:
    from ioflyby.volcano.catalogue import load_catalogue

    table = load_catalogue()
    table = table[table["status"] != "dropped"]
    flat, flon = np.radians(table["lat_deg"].to_numpy(float)), np.radians(table["lon_east_deg"].to_numpy(float))
    fx = np.stack([np.cos(flat) * np.cos(flon), np.cos(flat) * np.sin(flon), np.sin(flat)], axis=1)
    names = [iau if isinstance(iau, str) and iau else name for iau, name in zip(table["iau_name"], table["name"])]
    sources = table["source"].tolist()
    out = []
    for lat, lon in zip(np.radians(lat_deg), np.radians(lon_deg)):
        v = np.array([math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)])
        angle = np.arccos(np.clip(fx @ v, -1.0, 1.0))
        k = int(np.argmin(angle))
        out.append({"name": names[k], "distance_km": float(angle[k] * IO_MEAN_RADIUS_KM), "source": sources[k]})
    return out


def _outline(mask: np.ndarray) -> np.ndarray:
    """The longest marching-squares outline (rows, cols) of a padded crop."""
    from skimage.measure import find_contours

    contours = find_contours(np.pad(mask, 1).astype(np.float32), 0.5)
    return max(contours, key=len) - 1.0 if contours else np.zeros((0, 2))


def _straight_fractions(outline: np.ndarray) -> tuple[float, float]:
    """(share of the outline on long straight segments along rows/columns, share on any long straight)."""
    if len(outline) < 4:
        return 0.0, 0.0
    from skimage.measure import approximate_polygon

    poly = approximate_polygon(outline, tolerance=0.75)
    seg = np.diff(poly, axis=0)
    length = np.hypot(seg[:, 0], seg[:, 1])
    total = max(float(length.sum()), 1e-9)
    long = length >= SEAM_SEGMENT_CELLS
    angle = np.degrees(np.arctan2(np.abs(seg[:, 0]), np.abs(seg[:, 1])))
    axis = long & ((angle <= 10.0) | (angle >= 80.0))
    return float(length[axis].sum() / total), float(length[long].sum() / total)


def _perimeter_km(lat_deg: np.ndarray, lon_deg: np.ndarray) -> float:
    from ioflyby.volcano.catalogue import great_circle_deg

    if len(lat_deg) < 2:
        return 0.0
    return float(np.radians(great_circle_deg(lat_deg[:-1], lon_deg[:-1], lat_deg[1:], lon_deg[1:])).sum()
                 * IO_MEAN_RADIUS_KM)


@dataclass
class ChangeResult:
    """What :func:`detect_changes` found: real ``changes`` and mosaic ``artefacts`` (sorted by
    score), the registration and normalisation applied, the common grid and the arrays on it
    (``before`` normalised to the after map's brightness, ``after``, ``z`` the normalised
    difference in units of its local scale, ``labels`` where each region has its ``id``,
    ``valid`` the compared cells). ``to_json()`` is the ``ioflyby change --json`` contract."""

    changes: list[Change]
    artefacts: list[Change]
    registration: Registration
    normalisation: dict
    grid: MapGrid
    inputs: dict
    compared_area_km2: float
    seconds: float
    before: np.ndarray
    after: np.ndarray
    z: np.ndarray
    labels: np.ndarray
    valid: np.ndarray
    colour: bool = False
    outputs: list[Path] = field(default_factory=list)

    @property
    def changed_area_km2(self) -> float:
        return float(sum(c.area_km2 for c in self.changes))

    def mask(self, change: Change) -> np.ndarray:
        """Cells of ``change`` on the common grid."""
        return self.labels == change.id

    def to_json(self) -> dict:
        return {
            "changes": [c.to_json() for c in self.changes],
            "artefacts": [c.to_json() for c in self.artefacts],
            "outputs": [str(p) for p in self.outputs],
            "changed_area_km2": self.changed_area_km2,
            "compared_area_km2": self.compared_area_km2,
            "changed_fraction": self.changed_area_km2 / self.compared_area_km2 if self.compared_area_km2 else 0.0,
            "registration": self.registration.to_json(),
            "normalisation": self.normalisation,
            "inputs": self.inputs,
            "grid": self.grid.describe(),
            "colour": self.colour,
            "seconds": self.seconds,
            "convention": "planetocentric latitude, east-positive longitude (deg); areas on Io's IAU sphere "
                          f"(R = {IO_MEAN_RADIUS_KM} km); mean_change = after/before - 1 (colour: change of the "
                          "red fraction R/(R+G+B))",
        }

    def write(self, out: str | Path, crops: int = 8) -> list[Path]:
        """Write the GeoJSON of changes and artefacts, before/after/difference PNGs, a
        side-by-side comparison, an animated GIF, crops of the top ``crops`` changes (before |
        after) and ``changes.json`` into ``out`` (one atomic set); returns the paths."""
        from ioflyby.volcano import change_plots

        out = Path(out)
        self.outputs = change_plots.write_outputs(self, out, crops)
        return self.outputs


def _measure(labels: np.ndarray, count: int, result_arrays: dict, grid: MapGrid, config: ChangeConfig,
             sigma_eff: float) -> list[Change]:
    if count == 0:
        return []
    d, z, a_norm = result_arrays["d"], result_arrays["z"], result_arrays["before"]
    rows, cols = np.nonzero(labels)
    ids = labels[rows, cols]
    area_row = cell_areas_km2(grid)
    weight = area_row[rows]
    lat, lon = grid.cell_to_latlon(cols, rows)
    v = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    n = count + 1
    area = np.bincount(ids, weights=weight, minlength=n)
    cells = np.bincount(ids, minlength=n)
    sx, sy, sz = (np.bincount(ids, weights=weight * comp, minlength=n) for comp in v)
    clat = np.degrees(np.arctan2(sz, np.hypot(sx, sy)))
    clon = np.degrees(np.arctan2(sy, sx)) % 360.0
    mean_z = np.bincount(ids, weights=z[rows, cols], minlength=n) / np.maximum(cells, 1)
    sum_d = np.bincount(ids, weights=d[rows, cols], minlength=n)
    sum_a = np.bincount(ids, weights=a_norm[rows, cols], minlength=n)
    mean_change = np.where(np.abs(sum_a) > 0, sum_d / np.where(sum_a == 0, 1, sum_a), 0.0)
    n_corr = max(1.0, 4.0 * math.pi * sigma_eff**2)
    score = np.abs(mean_z) * np.sqrt(cells / n_corr)
    kinds = result_arrays.get("kinds")
    order = np.argsort(-score[1:])[: config.max_changes * 4] + 1
    features = _nearest_features(clat[order], clon[order])
    objects = ndimage.find_objects(labels)
    changes = []
    for k, feature in zip(order, features):
        sl = objects[k - 1]
        (r0, r1), (c0, c1) = (sl[0].start, sl[0].stop), (sl[1].start, sl[1].stop)
        outline = _outline(labels[r0:r1, c0:c1] == k)
        if len(outline) > MAX_POLYGON_POINTS:
            outline = outline[np.linspace(0, len(outline) - 1, MAX_POLYGON_POINTS).astype(int)]
            outline[-1] = outline[0]
        plat, plon = grid.cell_to_latlon(outline[:, 1] + c0, outline[:, 0] + r0)
        plat, plon = np.degrees(plat), np.degrees(plon)
        plon = clon[k] + (plon - clon[k] + 180.0) % 360.0 - 180.0
        kind = kinds[k] if kinds is not None else ("darkening" if mean_z[k] < 0 else "brightening")
        changes.append(Change(
            int(k), kind, float(clat[k]), float(clon[k]), float(area[k]), _perimeter_km(plat, plon),
            float(mean_change[k]), float(mean_z[k]), float(score[k]), int(cells[k]), feature,
            [[round(float(a), 5), round(float(b), 5)] for a, b in zip(plon, plat)],
            extra={"_bbox": (r0, r1, c0, c1), "_straight": _straight_fractions(outline)}))
    return changes


def _classify(changes: list[Change], labels: np.ndarray, valid: np.ndarray, gain_blocks: np.ndarray,
              zones: np.ndarray, compared_km2: float, wrap: bool, detail_deviation: np.ndarray) -> None:
    """Set ``artefact`` on the regions meeting the criteria of the module docstring."""
    finite_gain = gain_blocks[np.isfinite(gain_blocks)]
    gain_median = float(np.median(finite_gain)) if finite_gain.size else 1.0
    zone_sizes = np.bincount(zones.ravel()) * BLOCK * BLOCK
    h, w = labels.shape
    for change in changes:
        r0, r1, c0, c1 = change.extra.pop("_bbox")
        axis_share, any_share = change.extra.pop("_straight")
        pr0, pr1, pc0, pc1 = max(r0 - 3, 0), min(r1 + 3, h), max(c0 - 3, 0), min(c1 + 3, w)
        mask = labels[pr0:pr1, pc0:pc1] == change.id
        invalid = ~valid[pr0:pr1, pc0:pc1]
        invalid = np.pad(invalid, 3, constant_values=True)
        if wrap:  # a global map continues across its left and right edges
            invalid[:, :3] = False
            invalid[:, -3:] = False
        boundary = mask & ~ndimage.binary_erosion(mask, border_value=0)
        near = ndimage.binary_dilation(invalid, iterations=2)[3:-3, 3:-3]
        edge_share = float((boundary & near).sum() / max(boundary.sum(), 1))
        rows, cols = np.nonzero(mask)
        block_rows, block_cols = (rows + pr0) // BLOCK, (cols + pc0) // BLOCK
        gains = gain_blocks[np.clip(block_rows, 0, gain_blocks.shape[0] - 1), np.clip(block_cols, 0, gain_blocks.shape[1] - 1)]
        zone_ids = zones[np.clip(block_rows, 0, zones.shape[0] - 1), np.clip(block_cols, 0, zones.shape[1] - 1)]
        zone = int(np.bincount(zone_ids).argmax()) if zone_ids.size else 0
        zone_share = float((zone_ids == zone).mean()) if zone_ids.size else 0.0
        in_zone = zone > 0 and zone_share >= RESOLUTION_SHARE and zone_sizes[zone] >= 4 * change.cells
        gain_ratio = float(np.median(gains)) / gain_median if gains.size else 1.0
        surround = _surround_detail(detail_deviation, r0, r1, c0, c1)
        change.extra["detail_ratio_around"] = round(float(math.exp(surround)), 3) if math.isfinite(surround) else None
        if abs(change.centroid_lat_deg) > POLAR_LIMIT_DEG and wrap:
            change.artefact = "polar smear"
            change.artefact_detail = (f"centred at {change.centroid_lat_deg:+.1f} deg, beyond +-{POLAR_LIMIT_DEG:g} deg "
                                      "where the global mosaics are stretched and oblique")
        elif axis_share >= SEAM_AXIS_FRACTION or any_share >= SEAM_ANY_FRACTION:
            change.artefact = "seam"
            change.artefact_detail = (f"{axis_share:.0%} of the outline on straight row/column segments, "
                                      f"{any_share:.0%} on straight segments")
        elif edge_share >= EDGE_FRACTION:
            change.artefact = "data edge"
            change.artefact_detail = f"{edge_share:.0%} of the outline within 2 cells of no data"
        elif math.isfinite(surround) and abs(surround) > math.log(FINE_POWER_RATIO):
            change.artefact = "resolution step"
            change.artefact_detail = (f"around it the after map's fine detail is {math.exp(surround):.2f}x the before "
                                      "map's (relative to the map's typical ratio): the two maps' local resolutions "
                                      "differ")
        elif in_zone:
            change.artefact = "resolution step"
            change.artefact_detail = (f"{zone_share:.0%} of it in blocks where the maps' fine detail differs by more "
                                      f"than {DETAIL_RATIO:g}x from the typical ratio (zone of {zone_sizes[zone]} cells)")
        elif not (1 / 3 <= gain_ratio <= 3) or (change.area_km2 > BROAD_FRACTION * compared_km2
                                                 and abs(change.mean_z) < 4.0):
            change.artefact = "brightness mismatch"
            change.artefact_detail = (f"local gain {gain_ratio:.2f}x the median, mean |z| {abs(change.mean_z):.1f}, "
                                      f"{change.area_km2 / compared_km2:.2%} of the compared area")


def _fine_power(x: np.ndarray, valid: np.ndarray, blocks: _Blocks) -> np.ndarray:
    """Mean power of the finest detail (x minus its 3 × 3 mean: 1–2 cell scales) per block, NaN
    where the block is not fully valid; measured before any smoothing."""
    sums = np.empty((2, blocks.hb, blocks.wb))
    kernels.fine_power_sums(x, valid, sums)
    n = sums[0]
    power = sums[1] / np.maximum(n, 1.0)
    return np.where(n >= 0.9 * BLOCK * BLOCK, power, np.nan)


def _fine_deviation(power_before: np.ndarray, power_after: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """log(after's fine power / (gain² × before's)) per block minus its median over the map: how
    much sharper (> 0) or blurrier (< 0) the after map is there than it typically is."""
    with np.errstate(all="ignore"):
        ratio = np.log(np.clip(power_after, 1e-9, None) / np.clip(power_before * gain**2, 1e-9, None))
    ratio = np.where(np.isfinite(power_before) & np.isfinite(power_after), ratio, np.nan)
    return ratio - float(np.nanmedian(ratio)) if np.isfinite(ratio).any() else ratio


def _surround_detail(deviation: np.ndarray, r0: int, r1: int, c0: int, c1: int) -> float:
    """Median log detail ratio (after/before, relative to typical) over the blocks of a ring
    around a region's bounding box (half its size wide, at least 2 blocks): the local resolution
    of the two maps there, unaffected by the change itself."""
    hb, wb = deviation.shape
    br0, br1, bc0, bc1 = r0 // BLOCK, -(-r1 // BLOCK), c0 // BLOCK, -(-c1 // BLOCK)
    pad_r, pad_c = max(2, (br1 - br0) // 2), max(2, (bc1 - bc0) // 2)
    window = deviation[max(br0 - pad_r, 0): br1 + pad_r, max(bc0 - pad_c, 0): bc1 + pad_c].copy()
    window[br0 - max(br0 - pad_r, 0): br0 - max(br0 - pad_r, 0) + (br1 - br0),
           bc0 - max(bc0 - pad_c, 0): bc0 - max(bc0 - pad_c, 0) + (bc1 - bc0)] = np.nan
    ring = window[np.isfinite(window)]
    return float(np.median(ring)) if ring.size >= 4 else float("nan")


def _colour_kinds(before: EpochMap, after: EpochMap, valid: np.ndarray, blocks: _Blocks, smooth: float,
                  labels: np.ndarray, count: int, config: ChangeConfig) -> tuple[np.ndarray, int, dict]:
    """Add colour-change regions (red/blue fraction) where no brightness region is; their kinds."""
    zsq = np.zeros(valid.shape, np.float32)
    dred = None
    for channel in (0, 2):
        fa = before.colour[channel] / np.maximum(before.colour.sum(axis=0), 1e-6)
        fb = after.colour[channel] / np.maximum(after.colour.sum(axis=0), 1e-6)
        fa, fb = (ndimage.gaussian_filter(_filled(f, valid, blocks), smooth) if smooth > 0 else
                  _filled(f, valid, blocks) for f in (fa, fb))
        _, d, z, _ = _normalise(fa, fb, valid, blocks, math.inf, _Workspace(fa))
        zsq += z * z
        if channel == 0:
            dred = d.copy()
    chi = np.sqrt(zsq) * (labels == 0)
    grown = _hysteresis(chi, config.grow_sigma * 1.2, config.colour_seed_sigma)
    lab, n = ndimage.label(grown, structure=np.ones((3, 3)))
    size = np.bincount(lab.ravel(), minlength=n + 1)
    keep = size >= config.min_cells
    keep[0] = False
    new = np.zeros(n + 1, np.int32)
    new[keep] = np.arange(count + 1, count + 1 + keep.sum())
    labels = labels.copy()
    mask = keep[lab]
    labels[mask] = new[lab[mask]]
    return labels, count + int(keep.sum()), {"dred": dred, "chi": chi}


def _pad_edge(values: np.ndarray, ph: int, pw: int) -> np.ndarray:
    """``values`` [..., H, W] padded by ``ph`` rows and ``pw`` columns repeating the last ones
    (``numpy.pad`` mode "edge", without its temporaries)."""
    h, w = values.shape[-2:]
    out = np.empty((*values.shape[:-2], h + ph, w + pw), values.dtype)
    out[..., :h, :w] = values
    if pw:
        out[..., :h, w:] = values[..., :, w - 1:w]
    if ph:
        out[..., h:, :] = out[..., h - 1:h, :]
    return out


def _padded(epoch: EpochMap) -> EpochMap:
    """``epoch`` padded (edge values, not valid) to whole blocks of BLOCK × BLOCK cells."""
    h, w = epoch.grey.shape
    ph, pw = -h % BLOCK, -w % BLOCK
    if not (ph or pw):
        return epoch
    colour = None if epoch.colour is None else _pad_edge(epoch.colour, ph, pw)
    valid = np.zeros((h + ph, w + pw), bool)
    valid[:h, :w] = epoch.valid
    return EpochMap(_pad_edge(epoch.grey, ph, pw), colour, valid, epoch.source, epoch.cell_km)


def compare_epochs(before: EpochMap, after: EpochMap, grid: MapGrid, config: ChangeConfig | None = None,
                   progress: Callable[[str], None] | None = None, inputs: dict | None = None) -> ChangeResult:
    """Change detection between two epochs already on ``grid`` (see the module docstring)."""
    config = config or ChangeConfig()
    say = progress or (lambda _stage: None)
    started = time.perf_counter()
    wrap = grid.width * grid.cell_m >= 2 * math.pi * grid.params[0] * 0.999
    height, width = grid.shape
    before, after = _padded(before), _padded(after)
    valid = before.valid & after.valid & np.isfinite(before.grey) & np.isfinite(after.grey)
    if valid.sum() < 100:
        raise ChangeError("the two maps share fewer than 100 valid cells: give maps of the same region of Io")
    blocks = _Blocks(valid.shape, config.window_km / grid.resolution_km, wrap)
    say("registration")
    a = _filled(before.grey, valid, blocks)
    b = _filled(after.grey, valid, blocks)
    registration = Registration(cell_km=grid.resolution_km)
    if config.register:
        registration, fld = _register(a, b, valid, grid.resolution_km, wrap)
        if registration.applied:
            _apply_field(after, fld, wrap)
            valid &= after.valid
            b = _filled(after.grey, valid, blocks, out=b)
    say("resolution")
    fine_power = _fine_power(a, valid, blocks), _fine_power(b, valid, blocks)
    sharper, blur = _match_blur(a, b, valid)
    sa = math.hypot(config.smoothing_px, blur if sharper == "before" else 0.0)
    sb = math.hypot(config.smoothing_px, blur if sharper == "after" else 0.0)
    for values, sigma in ((a, sa), (b, sb)):  # in place: the unsmoothed maps are not needed again
        if sigma > 0:
            ndimage.gaussian_filter(values, sigma, mode="nearest", output=values)
    say("normalisation")
    work = _Workspace(a)
    a_norm, d, z, gain = _normalise(a, b, valid, blocks, math.inf, work)
    for _ in range(NORMALISATION_PASSES - 1):
        a_norm, d, z, gain = _normalise(a, b, valid, blocks, CANDIDATE_SIGMA, work)
    work.edge = work.curvature = None
    say("regions")
    labels, count = _regions(d, z, config)
    kinds = None
    extra_colour = {}
    if before.colour is not None and after.colour is not None:
        brightness_count = count
        labels, count, extra_colour = _colour_kinds(before, after, valid, blocks, max(sa, sb), labels, count, config)
        kinds = np.array(["", *["?"] * count], dtype=object)
        kinds[1:brightness_count + 1] = None
    zones, _ = _detail_zones(a, b, valid, gain, blocks)
    detail_deviation = _fine_deviation(*fine_power, gain)
    arrays = {"d": d, "z": z, "before": a_norm}
    if kinds is not None:
        signs = np.bincount(labels.ravel(), weights=z.ravel(), minlength=count + 1)
        kinds = np.array(["colour change" if (kinds[i] == "?") else ("darkening" if signs[i] < 0 else "brightening")
                          for i in range(count + 1)], dtype=object)
        arrays["kinds"] = kinds
    say("measuring")
    sigma_eff = max(0.5, min(sa, sb) if min(sa, sb) > 0 else config.smoothing_px)
    changes = _measure(labels, count, arrays, grid, config, sigma_eff)
    if extra_colour:
        dred = extra_colour["dred"]
        for change in changes:
            if change.kind == "colour change":
                m = labels == change.id
                change.mean_change = float(dred[m].mean())
                change.mean_z = float(extra_colour["chi"][m].mean())
    compared = float(valid[:height, :width].sum(axis=1) @ cell_areas_km2(grid))
    _classify(changes, labels, valid, gain, zones, compared, wrap, detail_deviation)
    real = sorted((c for c in changes if c.artefact is None), key=lambda c: -c.score)[: config.max_changes]
    artefacts = sorted((c for c in changes if c.artefact is not None), key=lambda c: -c.score)[: config.max_changes]
    kept = np.zeros(count + 1, bool)
    kept[[c.id for c in real + artefacts]] = True
    labels = np.where(kept[labels], labels, 0)
    normalisation = {
        "sharper": sharper, "blur_sigma_px": blur, "smoothing_px": config.smoothing_px,
        "window_km": config.window_km, "gain_median": float(np.median(gain)),
        "gain_p05_p95": [float(np.percentile(gain, 5)), float(np.percentile(gain, 95))],
        "seed_sigma": config.seed_sigma, "grow_sigma": config.grow_sigma, "min_cells": config.min_cells,
        "detail_mismatch_zones": int(zones.max()),
    }
    crop = (slice(0, height), slice(0, width))
    return ChangeResult(real, artefacts, registration, normalisation, grid, inputs or {}, compared,
                        time.perf_counter() - started, a_norm[crop], b[crop], z[crop], labels[crop], valid[crop],
                        colour=before.colour is not None and after.colour is not None)


def detect_changes(before: str | Path, after: str | Path, config: ChangeConfig | None = None,
                   progress: Callable[[str], None] | None = None) -> ChangeResult:
    """Changes of Io's surface between the maps ``before`` and ``after`` (ioflyby GeoTIFFs in an
    Io CRS or USGS global mosaics), see the module docstring. ``progress`` is told each stage."""
    config = config or ChangeConfig()
    say = progress or (lambda _stage: None)
    started = time.perf_counter()
    before, after = Path(before), Path(after)
    say("reading")
    with _open(before) as first, _open(after) as second:
        grid = common_grid(first, second, config)
    epochs = [read_epoch(p, grid) for p in (before, after)]
    inputs = {"before": _describe_input(before, epochs[0]), "after": _describe_input(after, epochs[1])}
    result = compare_epochs(epochs[0], epochs[1], grid, config, progress, inputs)
    result.seconds = time.perf_counter() - started
    return result


def _describe_input(path: Path, epoch: EpochMap) -> dict:
    info = {"path": str(path), "cell_km": epoch.cell_km, "colour": epoch.colour is not None}
    if is_mosaic_image(path):
        info["georeference"] = "ioflyby VRT: " + ("IAU_2015:50115, left edge 0 E (= 360 W), top 90 N")
        info["mosaic"] = True
    return info


def mosaic_vrt_text(path: str | Path) -> str:
    """The VRT text that georeferences a USGS mosaic (what ``write`` puts beside the outputs)."""
    return mosaic_georeference(path).vrt_xml()


def write_json(result: ChangeResult, path: Path) -> Path:
    """``result.to_json()`` as a file (inside an AtomicFiles set when one is open)."""
    try:
        with AtomicFiles() as files:
            files.path(path).write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise write_error(path, exc) from None
    return path


def change_report_section(result: ChangeResult, truth: list[dict] | None = None,
                          title: str = "What changed between PJ57 and PJ58"):
    """A :class:`ioflyby.report.Section` for ``result`` (after :meth:`ChangeResult.write`): the
    method in one paragraph, the top changes (and, with ``truth`` — a twin's
    ``truth["surface_changes"]`` — the injected ones beside what was recovered), the figures."""
    from ioflyby.report import Section

    section = Section(title)
    reg = result.registration
    section.text(
        f"Two epochs compared on a {result.grid.width} x {result.grid.height} grid of {result.grid.resolution_km:.2f} km "
        f"cells ({result.compared_area_km2:,.0f} km² compared). Registration: shift {reg.shift_x_px:+.2f}, "
        f"{reg.shift_y_px:+.2f} cells, rotation {reg.rotation_deg:+.3f}° ({reg.tiles} tiles). The sharper map "
        f"({result.normalisation['sharper']}) was blurred by {result.normalisation['blur_sigma_px']:.2f} cells; local "
        f"gain and offset over {result.normalisation['window_km']:g} km; regions from |z| >= "
        f"{result.normalisation['seed_sigma']:g} grown to {result.normalisation['grow_sigma']:g}, cut at half amplitude.")
    section.text(f"{len(result.changes)} changes ({result.changed_area_km2:,.0f} km²), "
                 f"{len(result.artefacts)} regions set aside as mosaic artefacts.")
    rows = []
    for c in result.changes[:12]:
        rows.append({"kind": c.kind, "lat_deg": round(c.centroid_lat_deg, 2),
                     "lon_east_deg": round(c.centroid_lon_east_deg, 2), "area_km2": round(c.area_km2, 1),
                     "mean_change": round(c.mean_change, 3), "score": round(c.score, 1),
                     "nearest": f"{c.nearest_feature['name']} ({c.nearest_feature['distance_km']:.0f} km)"})
    section.table("Changes, by significance", rows)
    if truth:
        section.table("Injected changes and what was recovered", truth_comparison(result, truth))
    for path in result.outputs:
        if Path(path).suffix == ".png" and Path(path).stem in ("comparison", "difference") or "change_01" in Path(path).stem:
            section.figure(Path(path), f"{Path(path).stem.replace('_', ' ')}")
    return section


def truth_comparison(result: ChangeResult, truth: list[dict]) -> list[dict]:
    """Per injected change (``truth.json``'s ``surface_changes``): the recovered region that
    overlaps it most, its area against the exact one and the IoU on the common grid."""
    from ioflyby.simulate.surface_change import SurfaceChange

    lat, lon = result.grid.latlon()
    rows = []
    for record in truth:
        change = SurfaceChange(record["lat_deg"], record["lon_east_deg"], record["radius_km"],
                               record["reflectance_factor"], record.get("shape", "disc"), record.get("azimuth_deg", 90.0))
        inside = change.contains(lat, lon) & result.valid
        ids = result.labels[inside]
        ids = ids[ids > 0]
        row = {"shape": change.shape, "kind": record.get("kind"), "true_area_km2": round(change.area_km2(), 1)}
        if ids.size == 0:
            rows.append({**row, "found_area_km2": 0.0, "area_error": -1.0, "iou": 0.0})
            continue
        best = int(np.bincount(ids).argmax())
        found = next(c for c in result.changes + result.artefacts if c.id == best)
        region = result.labels == best
        iou = float((region & inside).sum() / max((region | inside).sum(), 1))
        rows.append({**row, "found_area_km2": round(found.area_km2, 1),
                     "area_error": round(found.area_km2 / change.area_km2() - 1.0, 4), "iou": round(iou, 3),
                     "found_kind": found.kind})
    return rows
