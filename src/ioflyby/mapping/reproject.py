"""Inverse reprojection of a product's framelets onto a map grid.

For every map cell: planetocentric lat/lon (grid) → point on the target's triaxial ellipsoid →
for each framelet whose footprint may contain it (32×32-cell blocks pruned by their corners; pixel coordinates
interpolated over 8×8- or 4×4-cell sub-blocks where that is exact to 0.02 px, computed per cell elsewhere) →
the exact pixel (per-point light time, stellar aberration, distortion) → inside the photoactive
area and facing the camera (emission < 90°) → bilinear sample, optional photometric correction.
Near the limb a bilinear neighbour whose own ray misses the target, or passes within
``LIMB_CLEARANCE_PX`` of its limb, is left out (the weights of the others renormalised), so no
sky enters a sample.
Overlaps between framelets of one filter are feathered (weights ramp over ``feather_px`` pixels
from each framelet edge) or resolved by the smallest emission angle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ioflyby.camera.base import Camera
from ioflyby.errors import GeometryError
from ioflyby.geometry import FrameletPoses
from ioflyby.mapping import kernel
from ioflyby.mapping.grid import MapGrid
from ioflyby.mapping.product import MapProduct

BLOCK = 32
"""Cells per side of the blocks whose framelet candidates are found from their corners."""
SUB_BLOCKS = (8, 4)
"""Cells per side of the sub-blocks whose pixel coordinates may be interpolated: the larger where
it spans at most ``SUB_BLOCK_MAX_PX`` framelet pixels (fine maps of a near view), else the smaller
(the interpolation check fails on most larger sub-blocks, which are then computed per cell)."""
SUB_BLOCK_MAX_PX = 4.0
DEFAULT_FEATHER_PX = 8.0
DEFAULT_TOLERANCE_PX = 0.02
"""A block's pixel coordinates are interpolated from its corners where the interpolation error
at its centre is below this (pixels); elsewhere they are computed exactly per cell."""
LIMB_CLEARANCE_PX = 0.5
"""A pixel near the limb is sampled only where its ray passes this far (pixels) inside the limb,
i.e. where its whole footprint sees the target."""
LIMB_REACH_PX = 2.0
"""How far (pixels) from a sample its bilinear neighbours' rays may point: the √2 px of a
bilinear sample grown for the distortion's pixel scale, aberration and the interpolation of
sub-blocks; with the clearance it sets the band along the limb where neighbours are tested."""


@dataclass(frozen=True)
class Framelets:
    """What reprojection needs: images [F, lines, samples] (float32, NaN = invalid; the camera's
    framelet size), the output channel of each framelet, the F poses and each framelet's filter
    (for the camera model)."""

    images: np.ndarray
    channel: np.ndarray
    channel_names: tuple[str, ...]
    poses: FrameletPoses
    filters: Sequence[str]


def pack_camera(camera: Camera, filter_name: str) -> np.ndarray:
    """Packed camera row of ``filter_name`` (``camera.packed``; layout
    :data:`ioflyby.camera.base.PACKED_LAYOUT`): focal length (px), distortion centre
    (corner-origin px), k1, k2, distortion model, photoactive area."""
    return np.asarray(camera.packed(filter_name), float)


def reproject(
    framelets: Framelets,
    camera: Camera,
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
    radii = np.asarray(radii_km, float)
    focal = cams[:, 0]
    limb = np.stack([limb_band_cos_emission(framelets.poses.observer_km, radii, focal),
                     LIMB_CLEARANCE_PX / focal], axis=1)
    images = np.ascontiguousarray(framelets.images, dtype=np.float32)
    channel = np.ascontiguousarray(framelets.channel, dtype=np.int64)
    geometry = (grid.code, grid.params, grid.x_min, grid.y_max, grid.cell_m, grid.height, grid.width, BLOCK)
    n_c = len(framelets.channel_names)
    acc = np.zeros((n_c, grid.height, grid.width), np.float32)
    wsum = np.zeros_like(acc)
    best = np.full_like(acc, -1.0) if overlap == "emission" else np.zeros((1, 1, 1), np.float32)
    # Weight and incidence always (incidence marks lit cells); the other sums only when asked.
    planes = np.zeros((len(kernel.BACKPLANES) if backplanes else 2, grid.height, grid.width), np.float32)
    cand = kernel.candidate_blocks(*geometry, radii, poses, cams)
    seen = np.zeros(images.shape, np.int8)  # pixels' limb verdicts; only pages near the limb get touched
    counts = np.zeros((cand.shape[0], 3), np.int64)
    kernel.reproject_blocks(
        *geometry, sub_block_cells(grid, framelets.poses.observer_km, radii, focal), radii, poses, cams, limb, seen,
        images, channel, cand, float(tolerance_px),
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


def sub_block_cells(grid: MapGrid, observer_km: np.ndarray, radii_km: np.ndarray, focal_px: np.ndarray) -> int:
    """The sub-block size (cells, from :data:`SUB_BLOCKS`) whose side spans at most
    ``SUB_BLOCK_MAX_PX`` framelet pixels where the pixels are smallest (the surface point nearest
    the camera); ``observer_km`` (F, 3) body-fixed, ``focal_px`` (F,)."""
    km_per_px = (np.min(np.linalg.norm(observer_km, axis=-1)) - np.max(radii_km)) / np.max(focal_px)
    return next((n for n in SUB_BLOCKS if n * grid.resolution_km <= SUB_BLOCK_MAX_PX * km_per_px), SUB_BLOCKS[-1])


def limb_band_cos_emission(observer_km: np.ndarray, radii_km: np.ndarray, focal_px: np.ndarray) -> np.ndarray:
    """Per framelet, the cos(emission) below which a bilinear neighbour of a sample may see the sky
    or pass within ``LIMB_CLEARANCE_PX`` of the limb.

    The ball of radius r = c²/a (the smallest radius of curvature of the ellipsoid a ≥ b ≥ c)
    tangent inside at a surface point P lies within the body (Blaschke's rolling theorem). From
    range D at emission e the ray to P is asin(r sin e / L) off the ball's centre and its edge
    asin(r / L) off, L² = D² + r² + 2 D r cos e. Where the difference exceeds
    φ = (``LIMB_REACH_PX`` + ``LIMB_CLEARANCE_PX``) / focal length, every neighbour's ray clears
    the limb by the clearance. The difference shrinks with D, so D is bounded by the observer's
    distance from the centre plus a, and cos e is found by bisection. ``observer_km`` (F, 3)
    body-fixed; ``focal_px`` (F,). 1 where the disc is too small for any margin: every sample is
    then tested.
    """
    r = np.min(radii_km) ** 2 / np.max(radii_km)
    distance = np.linalg.norm(observer_km, axis=-1) + np.max(radii_km)
    reach = (LIMB_REACH_PX + LIMB_CLEARANCE_PX) / np.asarray(focal_px, float)
    low, high = np.zeros_like(distance), np.ones_like(distance)
    for _ in range(40):
        mid = 0.5 * (low + high)
        span = np.sqrt(distance**2 + r**2 + 2.0 * distance * r * mid)
        clear = np.arcsin(r / span) - np.arcsin(r * np.sqrt(1.0 - mid**2) / span) > reach
        high = np.where(clear, mid, high)
        low = np.where(clear, low, mid)
    return high


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
