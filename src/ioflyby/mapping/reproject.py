"""Inverse reprojection of a product's framelets onto a map grid.

For every map cell: planetocentric lat/lon (grid) → point on the target's triaxial ellipsoid →
for each framelet whose footprint may contain it (32×32-cell blocks pruned by their corners; pixel coordinates
interpolated over 8×8-cell sub-blocks where that is exact to 0.02 px, computed per cell elsewhere) →
the exact pixel (per-point light time, stellar aberration, distortion) → inside the photoactive
area and facing the camera (emission < 90°) → bilinear sample, optional photometric correction.
Overlaps between framelets of one filter are feathered (weights ramp over ``feather_px`` pixels
from each framelet edge) or resolved by the smallest emission angle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ioflyby.camera import JunoCam
from ioflyby.errors import GeometryError
from ioflyby.geometry import FrameletPoses
from ioflyby.mapping import kernel
from ioflyby.mapping.grid import MapGrid
from ioflyby.mapping.product import MapProduct

BLOCK = 32
"""Cells per side of the blocks whose framelet candidates are found from their corners."""
SUB_BLOCK = 8
"""Cells per side of the sub-blocks whose pixel coordinates may be interpolated."""
DEFAULT_FEATHER_PX = 8.0
DEFAULT_TOLERANCE_PX = 0.02
"""A block's pixel coordinates are interpolated from its corners where the interpolation error
at its centre is below this (pixels); elsewhere they are computed exactly per cell."""


@dataclass(frozen=True)
class Framelets:
    """What reprojection needs: images [F, 128, 1648] (float32, NaN = invalid), the output
    channel of each framelet, the F poses and each framelet's filter (for the camera model)."""

    images: np.ndarray
    channel: np.ndarray
    channel_names: tuple[str, ...]
    poses: FrameletPoses
    filters: Sequence[str]


def pack_camera(camera: JunoCam, filter_name: str) -> np.ndarray:
    """Packed camera row: focal length (px), distortion centre (IK px), k1, k2."""
    model = camera.filter(filter_name)
    return np.array([model.focal_length_px, model.center_x_px, model.center_y_px, model.k1, model.k2])


def reproject(
    framelets: Framelets,
    camera: JunoCam,
    radii_km: np.ndarray,
    grid: MapGrid,
    photometry: str = "none",
    minnaert_k: float = 0.7,
    overlap: str = "feather",
    feather_px: float = DEFAULT_FEATHER_PX,
    backplanes: bool = True,
    tolerance_px: float = DEFAULT_TOLERANCE_PX,
) -> MapProduct:
    """Reproject framelets onto ``grid``; see the module docstring. ``radii_km`` (a, b, c).
    Without ``backplanes`` only the incidence plane is made (it marks lit cells)."""
    if photometry not in kernel.PHOTOMETRY:
        raise GeometryError(f"unknown photometric model {photometry!r}: use one of {', '.join(kernel.PHOTOMETRY)}")
    if overlap not in kernel.OVERLAP:
        raise GeometryError(f"unknown overlap rule {overlap!r}: use one of {', '.join(kernel.OVERLAP)}")
    n_f = len(framelets.poses)
    if n_f == 0:
        raise GeometryError("no framelets to reproject")
    et_ref = float(np.min(framelets.poses.et))
    poses = framelets.poses.packed(et_ref)
    cams = np.stack([pack_camera(camera, f) for f in framelets.filters])
    images = np.ascontiguousarray(framelets.images, dtype=np.float32)
    channel = np.ascontiguousarray(framelets.channel, dtype=np.int64)
    radii = np.asarray(radii_km, float)
    geometry = (grid.code, grid.params, grid.x_min, grid.y_max, grid.cell_m, grid.height, grid.width, BLOCK)
    n_c = len(framelets.channel_names)
    acc = np.zeros((n_c, grid.height, grid.width), np.float32)
    wsum = np.zeros_like(acc)
    best = np.full_like(acc, -1.0) if overlap == "emission" else np.zeros((1, 1, 1), np.float32)
    # Weight and incidence always (incidence marks lit cells); the other sums only when asked.
    planes = np.zeros((len(kernel.BACKPLANES) if backplanes else 2, grid.height, grid.width), np.float32)
    cand = kernel.candidate_blocks(*geometry, radii, poses, cams)
    counts = np.zeros((cand.shape[0], 3), np.int64)
    kernel.reproject_blocks(
        *geometry, SUB_BLOCK, radii, poses, cams, images, channel, cand, float(tolerance_px),
        kernel.PHOTOMETRY[photometry], float(minnaert_k), kernel.OVERLAP[overlap], float(feather_px),
        acc, wsum, best, planes, counts,
    )
    coverage = planes[0] > 0
    kernel.finish_channels(acc, wsum)
    planes_out = _finish_backplanes(planes, grid, et_ref, full=backplanes)
    del wsum, best
    skipped, exact, interpolated = (int(v) for v in counts.sum(axis=0))
    channels = {name: acc[k] for k, name in enumerate(framelets.channel_names)}
    meta = {"framelets": n_f, "candidate_blocks": int(cand.sum()), "sub_blocks": {"skipped": skipped, "exact": exact, "interpolated": interpolated}, "block": BLOCK, "photometry": photometry,
            "minnaert_k": minnaert_k if photometry == "minnaert" else None, "overlap": overlap,
            "feather_px": feather_px, "et_reference": et_ref}
    return MapProduct(grid, channels, planes_out, coverage, framelets.poses.target, meta)


def _finish_backplanes(planes: np.ndarray, grid: MapGrid, et_ref: float, full: bool) -> dict[str, np.ndarray]:
    """Weighted means of the accumulated planes, in place (the angles in degrees, ``time`` in ET
    as float64); only ``incidence`` unless ``full``."""
    weight = planes[0]
    out: dict[str, np.ndarray] = {}
    names = kernel.BACKPLANES[1:] if full else ("incidence",)
    for name in names:
        index = kernel.BACKPLANES.index(name)
        if name == "time":
            mean = np.full(grid.shape, np.nan)
            np.divide(planes[index], weight, out=mean, where=weight > 0)
            out[name] = mean + et_ref
            continue
        kernel.finish_plane(planes[index], weight, name in ("incidence", "emission", "phase"))
        out[name] = planes[index]
    if full:
        lat, lon = grid.latlon()
        out["lat"] = np.degrees(lat).astype(np.float32)
        out["lon_east"] = np.degrees(lon).astype(np.float32)
    return out
