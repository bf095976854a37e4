"""Tie points between a framing-camera image and a reference map of the target.

For the current pose of one image:

1. the image is binned ``b`` × ``b`` so a binned pixel's ground size is nearest half the map's
   (``b = round(map km/px ÷ image km/px ÷ 2)`` at the frame centre, at least 1: the map's
   interpolated detail is kept);
2. the surface points of the binned pixels' centres (``FrameletPoses.rays_to_surface``: per-ray
   light time and aberration) sample the reference map (``ReferenceMap.sample_points``), shaded
   as the image is (Lambert, μ₀ from the ellipsoid normal and the Sun): the map *as the pose
   predicts the image*; usable where lit (μ₀ > ``MIN_COS_INCIDENCE``) and not grazing
   (μ > ``MIN_COS_EMISSION``);
3. image and prediction band-passed (difference of Gaussians ``BAND_SIGMAS_BINNED``, normalised
   convolution within the usable mask), cut into square patches of ``PATCH_BINNED`` binned pixels
   every ``PATCH_STEP_BINNED``, each normalised (zero mean, unit variance) and Hann-windowed;
4. :func:`ioflyby.pointing.features.phase_correlate` gives each patch's shift ``d`` (the image
   = the prediction moved by ``d``); the surface point the pose puts at the patch centre ``p``
   is seen at ``p + d``. Weak, ambiguous and featureless patches are dropped with the surface
   matcher's thresholds (``features.MIN_PEAK``, ``MIN_DISTINCTNESS``, ``RELATIVE_TEXTURE``).

Pixels: the camera's stored pixels (centre of the upper-left pixel = (0, 0)); km; rad.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ioflyby.camera import Camera
from ioflyby.geometry import FrameletPoses
from ioflyby.pointing.features import (
    MIN_DISTINCTNESS,
    MIN_PEAK,
    RELATIVE_TEXTURE,
    band_pass,
    phase_correlate,
    shaded_reference,
)
from ioflyby.pointing.reference import ReferenceMap

PATCH_BINNED = 32
PATCH_STEP_BINNED = 16
MIN_USABLE_FRACTION = 0.85
SEARCH_FRACTION = 0.3
"""Shifts are searched within ± this fraction of a patch (binned pixels)."""


@dataclass(frozen=True)
class FramingTies:
    """Tie points of one framing image: the observed pixel (sample, line) of each surface point
    (body-fixed km) and its ray in the camera frame of the prior pose (``rays``)."""

    sample: np.ndarray
    line: np.ndarray
    surface_km: np.ndarray
    rays: np.ndarray
    peak: np.ndarray
    camera: Camera
    filter_name: str
    binning: int

    def __len__(self) -> int:
        return int(self.sample.size)

    def subset(self, keep: np.ndarray) -> FramingTies:
        return FramingTies(self.sample[keep], self.line[keep], self.surface_km[keep], self.rays[keep],
                           self.peak[keep], self.camera, self.filter_name, self.binning)

    def rebased(self, rotation: np.ndarray) -> FramingTies:
        """These ties with rays matched under ``prior · rotation`` turned into the prior's frame."""
        return FramingTies(self.sample, self.line, self.surface_km, self.rays @ rotation.T, self.peak, self.camera,
                           self.filter_name, self.binning)

    def residual_px(self, rotation: np.ndarray) -> np.ndarray:
        """(N, 2) predicted minus observed (sample, line), px, under ``prior · rotation``."""
        sample, line = self.camera.ray_to_pixel(self.filter_name, self.rays @ rotation)
        return np.column_stack([sample - self.sample, line - self.line])


def binning_for(camera: Camera, filter_name: str, pose: FrameletPoses, radii: np.ndarray,
                reference: ReferenceMap) -> int:
    """The binning that brings the image's ground scale at the frame centre nearest half the map's."""
    centre = camera.pixel_to_ray(filter_name, np.array([(camera.framelet_samples - 1) / 2]),
                                 np.array([(camera.framelet_lines - 1) / 2]))
    point = pose.rays_to_surface(centre, radii)[0]
    distance = np.linalg.norm(pose.observer_km - point) if np.isfinite(point[0]) else \
        np.linalg.norm(pose.observer_km) - float(np.mean(radii))
    image_km = distance / camera.filter(filter_name).focal_length_px
    ratio = reference.km_per_pixel(float(np.mean(radii))) / image_km / 2.0
    limit = max(1, min(camera.framelet_lines, camera.framelet_samples) // (2 * PATCH_BINNED))
    return int(np.clip(round(ratio), 1, limit))


def binned_centres(count: int, binning: int) -> np.ndarray:
    """Stored-pixel coordinate of binned pixels 0..count-1's centres."""
    return binning * np.arange(count, dtype=float) + 0.5 * (binning - 1)


def _normalised(stack: np.ndarray, mask: np.ndarray, window: np.ndarray) -> np.ndarray:
    out = np.zeros_like(stack)
    for k in range(stack.shape[0]):
        values = stack[k][mask[k]]
        out[k] = np.where(mask[k], (stack[k] - values.mean()) / max(values.std(), 1e-12), 0.0) * window
    return out


def match_frame(
    image: np.ndarray, camera: Camera, filter_name: str, pose: FrameletPoses, radii: np.ndarray,
    reference: ReferenceMap,
) -> FramingTies | None:
    """Tie points of a framing ``image`` (2-D linear DN) for ``pose`` (module docstring); their
    rays in the camera frame of ``pose``. None when too little of the target is usable."""
    radii = np.asarray(radii, float)
    b = binning_for(camera, filter_name, pose, radii, reference)
    rows, cols = image.shape[0] // b, image.shape[1] // b
    binned = image[:rows * b, :cols * b].reshape(rows, b, cols, b).mean(axis=(1, 3))
    line_c, sample_c = binned_centres(rows, b), binned_centres(cols, b)
    lines, samples = np.meshgrid(line_c, sample_c, indexing="ij")
    surface = pose.rays_to_surface(camera.pixel_to_ray(filter_name, samples, lines), radii)
    predicted, usable = shaded_reference(reference, surface, pose, radii)
    n = min(PATCH_BINNED, rows, cols)
    step = max(n // 2, 1)
    starts = [(r, c) for r in range(0, rows - n + 1, step) for c in range(0, cols - n + 1, step)
              if usable[r:r + n, c:c + n].mean() >= MIN_USABLE_FRACTION]
    if not starts:
        return None
    observed, model = band_pass(binned, usable), band_pass(predicted, usable)
    cut = [np.stack([a[r:r + n, c:c + n] for r, c in starts]) for a in (observed, model, usable)]
    mask = cut[2].astype(bool)
    level = np.array([predicted[r:r + n, c:c + n][usable[r:r + n, c:c + n]].mean() for r, c in starts])
    texture = np.array([cut[1][k][mask[k]].std() for k in range(len(starts))]) / np.maximum(level, 1e-12)
    window = np.outer(np.hanning(n), np.hanning(n))
    shifts, peak, distinct = phase_correlate(_normalised(cut[0], mask, window), _normalised(cut[1], mask, window),
                                             SEARCH_FRACTION * n)
    centre = np.array(starts, float) + (n - 1) / 2.0  # [row, col] binned
    ground = np.stack([ndimage.map_coordinates(surface[..., k], centre.T, order=1) for k in range(3)], axis=-1)
    seen = centre + shifts
    keep = (peak >= MIN_PEAK) & (distinct >= MIN_DISTINCTNESS) & (texture >= RELATIVE_TEXTURE) & \
        np.isfinite(ground[:, 0])
    if not keep.any():
        return None
    ground = ground[keep]
    sample = b * seen[keep, 1] + 0.5 * (b - 1)
    line = b * seen[keep, 0] + 0.5 * (b - 1)
    rays = pose.surface_to_rays(ground)
    return FramingTies(sample, line, ground, rays, peak[keep], camera, filter_name, b)


__all__ = ["FramingTies", "band_pass", "binning_for", "match_frame"]
