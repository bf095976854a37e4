"""Dense (all-pixel) registration of a framing-camera image to a reference map of the target.

The three small angles θ (camera frame, rad; ``C = C_prior · R(θ)``, :mod:`ioflyby.pointing.framing`)
are fitted by Gauss–Newton (Lucas–Kanade) on every usable pixel of the image at once:

1. the image is binned ``b`` × ``b`` (coarse to fine: ``b·4``, ``b·2``, ``b``, where ``b`` brings a
   binned pixel nearest half the map's ground scale, :func:`ioflyby.pointing.framing_ties.binning_for`);
2. at the current θ the map is rendered into the binned image's geometry (surface points of the
   binned pixels' centres by ``FrameletPoses.rays_to_surface``, Lambert shading,
   :func:`ioflyby.pointing.features.shaded_reference`); usable where lit and not grazing, less a
   margin of ``EDGE_MARGIN_BINNED`` binned pixels;
3. both are band-passed (:func:`ioflyby.pointing.features.band_pass`) and scaled to unit RMS;
4. a small rotation δ moves a feature seen at pixel ``x`` by ``D(x) δ`` (``D``: the pixel
   displacement per radian about each camera axis, from the camera model), so the image is
   modelled as ``I(x) ≈ a · P(x − D δ) + c ≈ a P(x) + c − a ∇P(x)·D(x) δ`` — linear least squares in
   ``(a, c, aδ)`` with a Gaussian prior of ``prior_rad`` on each angle of θ + δ (the CK's: it holds
   a direction the image does not fix, such as the roll of a small, weakly textured field);
5. θ += δ, re-rendered, until the step moves the frame by less than ``SETTLED_PX``.

The data's information matrix ``Gᵀ G / s²`` (``G`` the δ columns, ``s²`` the residual variance
times ``CORRELATION_AREA_BINNED``: band-passed pixels are not independent) is returned with θ, so
the framing fit (:mod:`ioflyby.pointing.framing`) can combine it with the limb and the CK prior.

The registration is refused (None) when the rendered map has no detail in the frame (relative
RMS of its band-pass below ``features.RELATIVE_TEXTURE``), when too few pixels are usable, or
when the registered image and map do not correlate (``MIN_CORRELATION``): such a frame is not
constrained by the map and must not be answered from it.

Pixels: the camera's stored pixels (centre of the upper-left pixel = (0, 0)); km; rad.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from ioflyby.camera import Camera
from ioflyby.geometry import FrameletPoses
from ioflyby.geometry.spin import rotation_vector_matrix
from ioflyby.pointing.features import RELATIVE_TEXTURE, band_pass, shaded_reference
from ioflyby.pointing.framing_ties import binned_centres, binning_for
from ioflyby.pointing.reference import ReferenceMap

LEVELS = (4, 2, 1)
"""Coarse-to-fine multiples of the finest binning."""
MIN_BINNED_SIDE = 48
"""A pyramid level is skipped when the binned image would be smaller than this (binned px)."""
MAX_ITERATIONS = 12
SETTLED_PX = 0.005
"""A level stops when a step moves the frame's corner by less than this (stored px)."""
EDGE_MARGIN_BINNED = 3
"""Binned pixels dropped next to the usable mask's edge (limb, terminator, frame edge)."""
MIN_PIXELS = 400
"""Fewer usable binned pixels than this: not registered."""
MIN_CORRELATION = 0.3
"""Band-passed image vs band-passed rendered map at the solution: below this, not registered."""
CORRELATION_AREA_BINNED = 8.0
"""Binned pixels per independent sample of the band-passed residual (≈ 4π σ² of the DoG's
narrow Gaussian, 0.8 binned px): scales the formal σ."""
DISPLACEMENT_STEP_RAD = 1e-5


@dataclass(frozen=True)
class DenseRegistration:
    """The registered θ (rad, camera frame, relative to the prior pose), the data's information
    matrix (rad⁻², CK prior excluded), and diagnostics: usable binned pixels, binning, the
    correlation of the band-passed image and rendered map at θ, the relative texture of the
    rendered map, iterations over all levels."""

    theta: np.ndarray
    information: np.ndarray
    n_pixels: int
    binning: int
    correlation: float
    texture: float
    iterations: int

    def residual(self, theta: np.ndarray) -> np.ndarray:
        """Whitened rows (3,) with ``rowsᵀ rows = (θ − θ̂)ᵀ information (θ − θ̂)``."""
        values, vectors = np.linalg.eigh(self.information)
        root = vectors @ np.diag(np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
        return root @ (np.asarray(theta, float) - self.theta)

    def to_dict(self) -> dict:
        return {"n_pixels": self.n_pixels, "binning": self.binning, "correlation": self.correlation,
                "relative_texture": self.texture, "iterations": self.iterations}


def _turned(pose: FrameletPoses, theta: np.ndarray) -> FrameletPoses:
    return replace(pose, camera_to_j2000=pose.camera_to_j2000 @ rotation_vector_matrix(theta))


@dataclass
class _Level:
    binning: int
    image: np.ndarray
    rays: np.ndarray
    displacement: np.ndarray  # (3, 2, rows, cols) binned px per rad [line, sample]


def _level(image: np.ndarray, camera: Camera, filter_name: str, binning: int) -> _Level:
    rows, cols = image.shape[0] // binning, image.shape[1] // binning
    binned = image[:rows * binning, :cols * binning].reshape(rows, binning, cols, binning).mean(axis=(1, 3))
    lines, samples = np.meshgrid(binned_centres(rows, binning), binned_centres(cols, binning), indexing="ij")
    rays = camera.pixel_to_ray(filter_name, samples, lines)
    displacement = np.empty((3, 2, rows, cols))
    for k in range(3):
        step = np.zeros(3)
        step[k] = DISPLACEMENT_STEP_RAD
        # A feature on ray r under C·R(δ) is seen on r·R(δ) (row vectors; FramingTies.residual_px).
        moved_s, moved_l = camera.ray_to_pixel(filter_name, rays @ rotation_vector_matrix(step))
        displacement[k, 0] = (moved_l - lines) / binning / DISPLACEMENT_STEP_RAD
        displacement[k, 1] = (moved_s - samples) / binning / DISPLACEMENT_STEP_RAD
    return _Level(binning, binned, rays, displacement)


def _unit(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    inside = values[mask]
    return np.where(mask, (values - inside.mean()) / max(float(inside.std()), 1e-12), 0.0)


def _render(level: _Level, pose: FrameletPoses, theta: np.ndarray, radii: np.ndarray, reference: ReferenceMap):
    """(band-passed image, band-passed rendering, both unit RMS; mask; relative texture)."""
    turned = _turned(pose, theta)
    surface = turned.rays_to_surface(level.rays, radii)
    predicted, usable = shaded_reference(reference, surface, turned, radii)
    mask = ndimage.binary_erosion(usable, iterations=EDGE_MARGIN_BINNED, border_value=0)
    if mask.sum() < MIN_PIXELS:
        return None
    observed, model = band_pass(level.image, usable), band_pass(predicted, usable)
    texture = float(model[mask].std() / max(float(predicted[mask].mean()), 1e-12))
    return _unit(observed, mask), _unit(model, mask), mask, texture


def _step(level: _Level, observed: np.ndarray, model: np.ndarray, mask: np.ndarray, theta: np.ndarray,
          prior_rad: float) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(δ rad, data information rad⁻², the correlation, a) of one Gauss–Newton step."""
    grad_l, grad_s = np.gradient(model)
    columns = [-(grad_l * level.displacement[k, 0] + grad_s * level.displacement[k, 1])[mask] for k in range(3)]
    design = np.column_stack([model[mask], np.ones(int(mask.sum())), *columns])
    target = observed[mask]
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    residual = target - design @ coef
    gain = float(coef[0]) if abs(coef[0]) > 1e-6 else 1e-6
    variance = max(float(np.mean(residual**2)), 1e-6) * CORRELATION_AREA_BINNED
    g = design[:, 2:] * gain  # columns per rad of δ
    # Normal equations of [a, c, aδ] with the prior on θ + δ (rows scaled by 1/√variance).
    normal = design.T @ design / variance
    rhs = design.T @ target / variance
    prior = np.zeros((5, 5))
    prior[2:, 2:] = np.eye(3) / (prior_rad * gain) ** 2
    rhs_prior = np.zeros(5)
    rhs_prior[2:] = -theta * gain / (prior_rad * gain) ** 2
    solved = np.linalg.solve(normal + prior, rhs + rhs_prior)
    delta = solved[2:] / gain
    correlation = float(np.corrcoef(target, model[mask])[0, 1])
    return delta, g.T @ g / variance, correlation, gain


def register_frame(
    image: np.ndarray, camera: Camera, filter_name: str, pose: FrameletPoses, radii: np.ndarray,
    reference: ReferenceMap, theta0: np.ndarray | None = None, prior_rad: float = 1e-3,
) -> DenseRegistration | None:
    """Dense registration of a framing ``image`` (2-D linear DN) to ``reference`` from the prior
    ``pose`` (θ from ``theta0``, rad; default 0) with a Gaussian prior of ``prior_rad`` on each
    angle (module docstring). None when the map does not constrain the frame."""
    radii = np.asarray(radii, float)
    image = np.asarray(image, np.float64)
    theta = np.zeros(3) if theta0 is None else np.asarray(theta0, float).copy()
    finest = binning_for(camera, filter_name, pose, radii, reference)
    corner = 0.5 * float(np.hypot(*image.shape))
    ifov = 1.0 / camera.filter(filter_name).focal_length_px
    binnings = [finest * m for m in LEVELS if min(image.shape) // (finest * m) >= MIN_BINNED_SIDE] or [finest]
    iterations, information, correlation, texture, n_pixels = 0, None, 0.0, 0.0, 0
    for binning in binnings:
        level = _level(image, camera, filter_name, binning)
        for _ in range(MAX_ITERATIONS):
            rendered = _render(level, pose, theta, radii, reference)
            if rendered is None:
                return None
            observed, model, mask, texture = rendered
            if binning == binnings[0] and iterations == 0 and texture < RELATIVE_TEXTURE:
                return None  # judged where the pyramid starts: finer levels oversample the map's detail
            delta, information, correlation, gain = _step(level, observed, model, mask, theta, prior_rad)
            iterations += 1
            n_pixels = int(mask.sum())
            if not np.all(np.isfinite(delta)) or gain <= 0:
                return None
            theta = theta + delta
            moved = max(float(np.hypot(*delta[:2])) / ifov, abs(float(delta[2])) * corner)
            if moved < SETTLED_PX:
                break
    if information is None or correlation < MIN_CORRELATION:
        return None
    return DenseRegistration(theta, information, n_pixels, binnings[-1], correlation, texture, iterations)


__all__ = ["DenseRegistration", "register_frame"]
