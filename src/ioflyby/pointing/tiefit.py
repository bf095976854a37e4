"""The spin-model least squares of the limb fit (``ioflyby.pointing.fit``) with tie points to a
reference map (``ioflyby.pointing.features``) added, and the iteration that re-matches them.

*Tie-point residual.* The observed pixel's camera ray against the apparent camera-frame ray
towards the tie point's surface point under the pose: ephemeris held with its rates per framelet
(target position + relative velocity · dt, body rotation + rate · dt), per-point light time and
stellar aberration as in ``FrameletPoses.surface_to_rays``; the ray difference is turned into
(sample, line) pixels through the camera model's local Jacobian at the observed pixel.

*Reference-map offset.* Mosaics are registered to their own control networks: the USGS Io
mosaics and the newer grey one disagree by 2–15 km (docs/pointing.md). The map is therefore
allowed a small rotation about the target's centre, written as a shift (east, north; km) of the
surface at the sub-observer point, across the line of sight (``MAP_OFFSET_PRIOR_KM``). With a limb
in view the limb fixes the pointing across the line of sight and the shift is measured; with none
it is the prior's, and the formal σ of the pointing carries it. A map rotation about the line of
sight is indistinguishable from the camera's roll and is held at zero: the roll is the map's.

*Timing.* Fitted where asked (``fit_timing``; the surface-feature solve asks only from a CK),
prior 0 ± ``TIMING_PRIOR_S``; otherwise held and the spin phase carries it.

Parameters, in this order: the limb fit's eight (timing s, spin-axis RA, Dec rad, phase rad,
rate rad/s, alignment rad, rad, limb offset px; scaled by ``fit._SCALES``) and the map offset
(east, north km). Rows are residuals over their robust σ (limb and tie points separately);
priors are unit-σ Gaussian rows outside the robust loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ioflyby.camera import JunoCam
from ioflyby.geometry import FrameletPoses, stellar_aberration
from ioflyby.geometry.spin import SpinAttitude
from ioflyby.pointing.features import TiePoints
from ioflyby.pointing.fit import (
    _SCALES,
    _STEP_OTHER,
    _STEP_TIMING,
    ALIGNMENT_PRIOR_RAD,
    AXIS_PRIOR_RAD,
    CK_PHASE_PRIOR_RAD,
    LIMB_OFFSET_PRIOR_PX,
    TIMING_PRIOR_S,
    LimbFit,
    _apply,
    _axis_offset,
    _forward_differences,
    _noise_px,
    _phase_offsets,
    _robust_loss,
    free_covariance,
)
from ioflyby.pointing.model import LimbModel

MAP_OFFSET_PRIOR_KM = 10.0
LOSS_SCALE_SIGMA = 2.0
SPEED_OF_LIGHT_KM_S = 299792.458
_MAP_SCALE_KM = 1.0
_STEP_MAP = 1e-3
N_PARAMETERS = _SCALES.size + 2


@dataclass(frozen=True)
class FeatureFit:
    """One state of the combined fit: the limb fit's state (``limb``: attitude, timing, limb
    offset, its limb inliers ``keep``), the reference-map offset (east, north, km), the tie
    inliers ``tie_keep``, the covariance of all ``N_PARAMETERS`` (physical units) and, from a
    joint solve, the map's rotation (``map_rotation_rad``)."""

    limb: LimbFit
    map_offset_km: tuple[float, float] = (0.0, 0.0)
    tie_keep: np.ndarray | None = field(default=None, repr=False)
    covariance: np.ndarray | None = field(default=None, repr=False)
    map_rotation_rad: np.ndarray | None = field(default=None, repr=False)
    """The map's further rotation (body frame, rad) where a joint solve fitted one (else None)."""

    @property
    def attitude(self) -> SpinAttitude:
        return self.limb.attitude

    @property
    def dt(self) -> float:
        return self.limb.dt


class TieModel:
    """Tie points of one product with their observed rays, pixel Jacobians and per-framelet
    ephemeris (``ephemeris``: one entry per framelet of ``framelet_of_tie``; its attitude unused).

    ``map_axes``: body-frame unit vectors (north and east at the sub-observer point, sub-observer
    direction), which the map offset is written in (see :meth:`surface`)."""

    def __init__(self, ties: TiePoints, framelet_of_tie: np.ndarray, ephemeris: FrameletPoses, camera: JunoCam,
                 filters: tuple[str, ...], radius_km: float, map_axes: np.ndarray):
        self.ties = ties
        self.framelet = np.asarray(framelet_of_tie, int)
        self.ephemeris = ephemeris
        self.radius_km = float(radius_km)
        self.map_axes = np.asarray(map_axes, float)
        n = len(ties)
        rays = np.zeros((3, n, 3))
        for f, name in enumerate(filters):
            sel = ties.filter_index == f
            if np.any(sel):
                s, l = ties.sample[sel], ties.line[sel]
                rays[0, sel] = camera.pixel_to_ray(name, s, l)
                rays[1, sel] = camera.pixel_to_ray(name, s + 1.0, l)
                rays[2, sel] = camera.pixel_to_ray(name, s, l + 1.0)
        self.observed = rays[0]
        jacobian = np.stack([rays[1] - rays[0], rays[2] - rays[0]], axis=-1)  # (N, 3, 2) ray per pixel
        self.to_pixels = np.linalg.pinv(jacobian)  # (N, 2, 3)

    def __len__(self) -> int:
        return int(self.framelet.size)

    def subset(self, keep: np.ndarray) -> TieModel:
        out = TieModel.__new__(TieModel)
        out.ties = self.ties.subset(keep)
        out.framelet, out.ephemeris, out.radius_km, out.map_axes = (self.framelet[keep], self.ephemeris,
                                                                    self.radius_km, self.map_axes)
        out.observed, out.to_pixels = self.observed[keep], self.to_pixels[keep]
        return out

    def surface(self, map_offset_km: tuple[float, float], rotation_rad: np.ndarray | None = None) -> np.ndarray:
        """The tie points' surface points with the reference map offset by ``map_offset_km``
        (east, north; km at the sub-observer point): the map turned about the target's centre,
        about axes across the line of sight; and further turned by the small rotation vector
        ``rotation_rad`` (body frame, rad; the joint solve's map rotation), if given."""
        north, east, _ = self.map_axes
        omega = (map_offset_km[0] * north - map_offset_km[1] * east) / self.radius_km
        if rotation_rad is not None:
            omega = omega + np.asarray(rotation_rad, float)
        points = self.ties.surface_km
        return points + np.cross(omega, points)

    def residuals(self, attitude: SpinAttitude, dt: float, map_offset_km: tuple[float, float] = (0.0, 0.0),
                  rotation_rad: np.ndarray | None = None) -> np.ndarray:
        """(N, 2) residuals (predicted − observed pixel: sample, line) for the pose, map offset
        and map rotation (see :meth:`surface`)."""
        eph, k = self.ephemeris, self.framelet
        points = self.surface(map_offset_km, rotation_rad)
        rotation = eph.j2000_to_body[k] + dt * eph.j2000_to_body_rate[k]
        rate = eph.j2000_to_body_rate[k]
        position = eph.target_position_km[k] + dt * eph.relative_velocity_km_s[k]
        # (R + δṘ)ᵀ P + p + δV: line of sight at the point's own light time (δ from the centre's).
        fixed = np.einsum("nji,nj->ni", rotation, points) + position
        moving = np.einsum("nji,nj->ni", rate, points) + eph.target_velocity_km_s[k]
        delta = np.zeros((points.shape[0], 1))
        for _ in range(2):
            sight = fixed + delta * moving
            delta = eph.light_time_s[k][:, None] - np.linalg.norm(sight, axis=1, keepdims=True) / SPEED_OF_LIGHT_KM_S
        sight = fixed + delta * moving
        apparent = stellar_aberration(sight, eph.observer_velocity_km_s[k])
        apparent /= np.linalg.norm(apparent, axis=1, keepdims=True)
        camera_to_j2000 = attitude.camera_to_j2000(eph.et, dt)[k]
        predicted = np.einsum("nji,nj->ni", camera_to_j2000, apparent)
        # Project onto the observed ray's tangent plane before the Jacobian (first order).
        predicted = predicted / np.einsum("ni,ni->n", predicted, self.observed)[:, None]
        return np.einsum("nij,nj->ni", self.to_pixels, predicted - self.observed)

    def inliers(self, attitude: SpinAttitude, dt: float, map_offset_km: tuple[float, float], gate: float) -> np.ndarray:
        """Tie points within ``gate`` px (both components) of their prediction."""
        res = self.residuals(attitude, dt, map_offset_km)
        return np.all(np.abs(np.nan_to_num(res, nan=1e9)) < gate, axis=1)


def map_axes(ephemeris: FrameletPoses) -> np.ndarray:
    """(north, east, sub-observer direction): body-frame unit vectors at the sub-observer point
    of the middle framelet of ``ephemeris``, north and east tangent there (both across the line
    of sight, so a map offset never turns the map about it: that is the camera's roll)."""
    middle = len(ephemeris) // 2
    sight = ephemeris.observer_km[middle]
    sight = sight / np.linalg.norm(sight)
    east = np.cross([0.0, 0.0, 1.0], sight)
    east /= max(float(np.linalg.norm(east)), 1e-12)
    return np.stack([np.cross(sight, east), east, sight])


def _apply_all(base: FeatureFit, x: np.ndarray) -> FeatureFit:
    limb = _apply(base.limb, x[:_SCALES.size])
    shift = x[_SCALES.size:] * _MAP_SCALE_KM
    return replace(base, limb=limb, map_offset_km=(base.map_offset_km[0] + float(shift[0]),
                                                   base.map_offset_km[1] + float(shift[1])))


def robust_sigma(residual: np.ndarray, floor: float) -> float:
    """1.4826 × median absolute deviation of ``residual`` (flattened), at least ``floor``."""
    r = np.asarray(residual, float).reshape(-1)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return 1.0
    return max(floor, 1.4826 * float(np.median(np.abs(r - np.median(r)))))


def fit_combined(
    limb_model: LimbModel | None, ties: TieModel, start: FeatureFit, align: bool, fit_timing: bool,
    ck_prior: SpinAttitude | None = None, tie_floor_px: float = 0.3,
) -> FeatureFit:
    """One robust least-squares fit of the spin model, timing (``fit_timing``), alignment
    (``align``), limb offset (with a limb) and map offset to the limb points of ``limb_model``
    (None: no limb) and the tie points of ``ties`` from ``start``; the result holds the formal
    covariance (cluster-robust over framelets, see ``fit.free_covariance``)."""
    from scipy.optimize import least_squares

    has_limb = limb_model is not None and len(limb_model) > 0
    free = [0] if fit_timing else []
    free += [1, 2, 3, 4] + ([5, 6] if align else []) + ([7] if has_limb else []) + [8, 9]
    free = np.asarray(free, int)
    steps = np.where(free == 0, _STEP_TIMING, np.where(free >= _SCALES.size, _STEP_MAP, _STEP_OTHER))
    s0 = start.limb
    if has_limb:
        initial = limb_model.residuals(s0.attitude, s0.dt, s0.limb_offset_px)
        inverse_scale = 1.0 / initial.gradient_rad_per_px
        limb_sigma = _noise_px(initial.residual_px)
    tie_sigma = robust_sigma(ties.residuals(s0.attitude, s0.dt, start.map_offset_km), tie_floor_px)
    span = (float(ties.ephemeris.et.min()), float(ties.ephemeris.et.max()))
    n_limb = len(limb_model) if has_limb else 0
    n_data = n_limb + 2 * len(ties)

    def full(x: np.ndarray) -> np.ndarray:
        out = np.zeros(N_PARAMETERS)
        out[free] = x
        return out

    def fun(x: np.ndarray) -> np.ndarray:
        state = _apply_all(start, full(x))
        attitude, dt, offset = state.attitude, state.dt, state.limb.limb_offset_px
        rows = []
        if has_limb:
            rows.append((limb_model.limb_angle(attitude, dt) * inverse_scale - offset) / limb_sigma)
        rows.append(ties.residuals(attitude, dt, state.map_offset_km).reshape(-1) / tie_sigma)
        priors = [dt / TIMING_PRIOR_S] if fit_timing else []
        if has_limb:
            priors.append(offset / LIMB_OFFSET_PRIOR_PX)
        if align:
            priors += [a / ALIGNMENT_PRIOR_RAD for a in attitude.alignment]
        if ck_prior is not None:
            priors += list(_axis_offset(attitude, ck_prior) / AXIS_PRIOR_RAD)
            priors += [p / CK_PHASE_PRIOR_RAD for p in _phase_offsets(attitude, ck_prior, span)]
        priors += [m / MAP_OFFSET_PRIOR_KM for m in state.map_offset_km]
        return np.concatenate([np.nan_to_num(np.concatenate(rows), nan=100.0), np.asarray(priors, float)])

    result = least_squares(fun, np.zeros(free.size), jac=_forward_differences(fun, steps), loss=_robust_loss(n_data),
                           f_scale=LOSS_SCALE_SIGMA, x_scale=1.0, xtol=1e-7, ftol=1e-7, max_nfev=60)
    clusters = np.concatenate([limb_model.framelet if has_limb else np.zeros(0, int),
                               np.repeat(ties.framelet + 100_000, 2)])
    scales = np.r_[_SCALES, _MAP_SCALE_KM, _MAP_SCALE_KM]
    covariance = np.zeros((N_PARAMETERS, N_PARAMETERS))
    covariance[0, 0] = TIMING_PRIOR_S**2
    covariance[np.ix_(free, free)] = free_covariance(result.jac, result.fun, n_data, 1.0, clusters) * \
        np.outer(scales[free], scales[free])
    state = _apply_all(start, full(result.x))
    return replace(state, limb=replace(state.limb, covariance=covariance[:_SCALES.size, :_SCALES.size]),
                   covariance=covariance)
