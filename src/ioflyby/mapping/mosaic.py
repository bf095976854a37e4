"""Mosaics of several reprojected products on one grid: brightness matching and seam feathering.

Products are added in order of decreasing coverage. Before a product is added, each of its
channels is scaled by the median ratio (mosaic / product) over the cells both cover (when they
share at least ``min_overlap`` cells), so products taken at different times, exposures or
geometries match. Cells are then blended with weights that ramp from 0 at the edge of each
product's coverage to 1 at ``feather_cells`` inside it, times cos(emission) where the emission
backplane is known (better-viewed products dominate).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ioflyby.errors import GeometryError
from ioflyby.mapping.product import MapProduct

DEFAULT_FEATHER_CELLS = 32
MIN_OVERLAP_CELLS = 200


def seam_weights(coverage: np.ndarray, feather_cells: float) -> np.ndarray:
    """Weights in [0, 1]: distance (cells) to the nearest uncovered cell / ``feather_cells``."""
    from scipy import ndimage  # scipy.ndimage only when maps are mosaicked (CLI start-up)
    if feather_cells <= 0:
        return coverage.astype(np.float32)
    distance = ndimage.distance_transform_edt(coverage)
    return np.clip(distance / feather_cells, 0.0, 1.0).astype(np.float32)


def brightness_ratio(reference: np.ndarray, other: np.ndarray, min_overlap: int = MIN_OVERLAP_CELLS) -> float | None:
    """Median of reference / other over cells where both are finite and positive; None when they
    share fewer than ``min_overlap`` such cells."""
    both = np.isfinite(reference) & np.isfinite(other) & (reference > 0) & (other > 0)
    if both.sum() < min_overlap:
        return None
    return float(np.median(reference[both] / other[both]))


def mosaic(
    maps: Sequence[MapProduct], match_brightness: bool = True, feather_cells: float = DEFAULT_FEATHER_CELLS,
    min_overlap: int = MIN_OVERLAP_CELLS,
) -> MapProduct:
    """Blend ``maps`` (same grid, same channel names) into one MapProduct; ``meta['gains']`` holds
    the brightness factor applied to each input (by input order) and channel."""
    if not maps:
        raise GeometryError("nothing to mosaic")
    grid = maps[0].grid
    names = list(maps[0].channels)
    for item in maps[1:]:
        if item.grid.shape != grid.shape or item.grid.transform != grid.transform or item.grid.crs != grid.crs:
            raise GeometryError("mosaic inputs must share one map grid (same projection, extent and cell size)")
        if list(item.channels) != names:
            raise GeometryError(f"mosaic inputs must have the same filters: {names} vs {list(item.channels)}")
    order = sorted(range(len(maps)), key=lambda i: -int(maps[i].coverage.sum()))
    total = {n: np.zeros(grid.shape, np.float64) for n in names}
    weight_sum = {n: np.zeros(grid.shape, np.float64) for n in names}
    plane_names = [p for p in maps[0].backplanes if p not in ("lat", "lon_east")]
    planes = {p: np.zeros(grid.shape, np.float64) for p in plane_names}
    plane_weight = np.zeros(grid.shape, np.float64)
    gains: dict[int, dict[str, float]] = {}
    for index in order:
        item = maps[index]
        weight = seam_weights(item.coverage, feather_cells).astype(np.float64)
        if "emission" in item.backplanes:
            weight *= np.nan_to_num(np.cos(np.radians(item.backplanes["emission"])), nan=0.0).clip(0.0, None)
        gains[index] = {}
        for n in names:
            values = item.channels[n]
            gain = 1.0
            if match_brightness and weight_sum[n].any():
                current = np.where(weight_sum[n] > 0, total[n] / np.where(weight_sum[n] > 0, weight_sum[n], 1.0), np.nan)
                gain = brightness_ratio(current, values, min_overlap) or 1.0
            gains[index][n] = gain
            ok = np.isfinite(values) & (weight > 0)
            total[n][ok] += weight[ok] * values[ok] * gain
            weight_sum[n][ok] += weight[ok]
        ok = item.coverage & (weight > 0)
        for p in plane_names:
            planes[p][ok] += weight[ok] * item.backplanes[p][ok]
        plane_weight[ok] += weight[ok]
    with np.errstate(invalid="ignore", divide="ignore"):
        channels = {n: np.where(weight_sum[n] > 0, total[n] / weight_sum[n], np.nan).astype(np.float32) for n in names}
        out_planes = {p: (planes[p] / np.where(plane_weight > 0, plane_weight, np.nan)).astype(
            np.float64 if p == "time" else np.float32) for p in plane_names}
    for p in ("lat", "lon_east"):
        if p in maps[0].backplanes:
            out_planes[p] = maps[0].backplanes[p]
    coverage = np.zeros(grid.shape, bool)
    for item in maps:
        coverage |= item.coverage
    meta = {"inputs": len(maps), "gains": [gains[i] for i in range(len(maps))], "feather_cells": feather_cells,
            "match_brightness": match_brightness}
    return MapProduct(grid, channels, out_planes, coverage, maps[0].target, meta)
