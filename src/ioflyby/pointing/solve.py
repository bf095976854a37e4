"""Solving JunoCam pointing from the target's limb: timing offset, spin axis, phase and rate.

Pipeline (``solve_pointing``):

1. Detect sub-pixel limb points in every framelet (``limb.detect_limb``).
2. Starting attitude, either from a loaded CK (``SpinAttitude.from_ck``) or, with no CK, from a
   global search that assumes nothing about the spin-axis direction:

   a. for each candidate spin rate (±1.85…2.15 rpm), the limb rays are "despun" to a common
      epoch about the FK's spin axis in the camera frame, and a cone (the target's apparent
      disc) is fitted to them by RANSAC; the best rate gives the target centre's direction in
      the camera frame at that epoch (two of the three attitude angles);
   b. the remaining angle, the roll about the camera → target line, is scanned over 360° and
      scored by how many points the exact model (ellipsoid, lit limb only, gradient direction)
      places near its predicted limb; the best few peaks go on to step 3.
3. Robust least squares (``scipy.optimize.least_squares``, soft-L1 loss) of the spin-axis
   RA/Dec, phase and rate, a limb offset (where the detected limb sits against the ellipsoid's:
   the detector's edge inside a darkening limb, an atmosphere's haze outside it) and optionally
   a two-angle camera alignment, with points re-selected against the predicted lit limb at
   shrinking gates (40 → 3 px). Priors are Gaussian, outside the robust loss, weighted against
   the limb noise (see ``_fit``).

   *Timing.* A start-time offset turns the spacecraft by the spin rate × offset (1 ms = 0.012°
   = 0.31 px along the scan), exactly what a spin-phase change does; the two differ only by the
   target's apparent-size change over the offset (~0.003 px per ms near C/A), far below the
   limb detector's bias. So the timing is solved only from a CK, whose spin axis and phase are
   trusted (± ``AXIS_PRIOR_RAD``, ± ``CK_PHASE_PRIOR_RAD``: the spacecraft's attitude is known
   far better than the image's start time, ~20 ms of jitter by the IK); then the limb's
   position along the scan *is* the timing offset (twin: ≤ 0.7 ms for ±20 ms injected). The
   camera alignment absorbs a camera (or spacecraft) tilt the CK does not know. Without a CK
   the timing is held at 0 and the solved phase carries it.
4. With no CK, the roll about the line of sight is taken from the terminator on the disc
   wherever one is in view: a roll turns the Sun about the line of sight and with it the
   predicted day/night boundary, which must separate the image's lit pixels from its dark ones
   (``ioflyby.pointing.terminator``); the solution is turned to that roll and refined with it
   held (± ``TERMINATOR_ROLL_HOLD_RAD``), twice. The limb alone fixes that roll only through
   the target's flattening: on Jupiter (PJ44, seen from 38° latitude), with the camera
   alignment free, that roll lands 4.5° from the terminator's and from the team's CK-based map
   at a formal σ of 0.05° — a model error (limb altitude, camera model), not noise — and on Io
   (0.5 % flattening) it is loose. The limb roll is used only where no night side is in view.
   ``PointingSolution.roll_source`` says which applied.

Angles in radians inside, degrees in reports; times s past J2000 TDB.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import spiceypy
from scipy.optimize import least_squares

from ioflyby.camera import JunoCam
from ioflyby.errors import PointingError
from ioflyby.geometry import (
    FrameletPose,
    framelet_mid_ets,
    framelet_pose_with_attitude,
    target_radii,
)
from ioflyby.geometry.spin import (
    SpinAttitude,
    axis_basis,
    camera_to_spacecraft,
    rotation_vector_matrix,
)
from ioflyby.pointing.limb import LimbPoints, detect_limb
from ioflyby.pointing.model import FrameletEphemeris, LimbModel
from ioflyby.pointing.terminator import sample_disc, terminator_roll
from ioflyby.spice import KernelSet, et_to_utc, utc_to_et

RPM = 2.0 * np.pi / 60.0
SEARCH_RATES_RPM = np.round(np.arange(1.85, 2.1501, 0.01), 4)
TIMING_PRIOR_S = 0.020
ALIGNMENT_PRIOR_RAD = np.radians(0.5)
ALIGNMENT_LIMIT_RAD = np.radians(1.5)
LIMB_OFFSET_PRIOR_PX = 1.0
AXIS_PRIOR_RAD = np.radians(0.01)
CK_PHASE_PRIOR_RAD = np.radians(0.005)
TERMINATOR_ROLL_HOLD_RAD = np.radians(0.02)
_TERMINATOR_PASSES = 2
GATES_PX = (40.0, 15.0, 6.0, 3.0)
LOSS_SCALE_PX = 0.5
MAX_SOLVE_POINTS = 2500
MIN_POINTS = 30
GOOD_ENOUGH_RMS_PX = 1.5
_SEARCH_POINTS = 1500
_RANSAC_HYPOTHESES = 300
_ROLL_STEP_DEG = 2.0
_ROLL_CANDIDATES = 3


@dataclass
class PointingSolution:
    """The solved pointing of one product.

    ``attitude`` gives the spacecraft/camera orientation at *true* epochs; the true mid-exposure
    epoch of a framelet is the camera model's nominal one plus ``timing_offset_s``;
    ``limb_offset_px`` is where the detected limb sits inside (+) or outside the ellipsoid's.
    ``roll_source``: what fixed the roll about the line of sight — "ck" (the CK prior),
    "terminator" (the day/night boundary on the disc, see ``ioflyby.pointing.terminator``) or
    "limb" (the target's flattening; only where no night side is in view).
    ``rejected_alignment_deg``: the camera alignment a first solve asked for when it was beyond
    belief and the product was solved without one (see :func:`solve_loaded`), else None.
    """

    product_id: str
    target: str
    attitude: SpinAttitude
    timing_offset_s: float
    limb_rms_px: float
    n_limb_points: int
    limb_offset_px: float = 0.0
    per_framelet: list[dict] = field(default_factory=list)
    per_filter: dict[str, dict] = field(default_factory=dict)
    start: str = "ck"
    seconds: float = 0.0
    nominal_start_et: float = 0.0
    nominal_stop_et: float = 0.0
    reference_utc: str = ""
    sigma: dict[str, float] = field(default_factory=dict)
    roll_source: str = "ck"
    rejected_alignment_deg: float | None = None

    def true_et(self, nominal_et: np.ndarray | float) -> np.ndarray | float:
        """True epoch of a nominal camera-model epoch (s past J2000 TDB)."""
        return nominal_et + self.timing_offset_s

    def camera_to_j2000(self, nominal_et: np.ndarray | float) -> np.ndarray:
        """Rotation JUNO_JUNOCAM → J2000 for a framelet whose *nominal* (camera-model) mid-exposure
        epoch is ``nominal_et``: the attitude at the true epoch."""
        return self.attitude.camera_to_j2000(self.true_et(nominal_et))

    def framelet_pose(self, nominal_et: float, observer: str = "JUNO") -> FrameletPose:
        """Full :class:`FrameletPose` (ephemeris at the true epoch, solved attitude) for a framelet
        with nominal mid-exposure epoch ``nominal_et``; needs the SPK/PCK loaded."""
        et = float(self.true_et(nominal_et))
        return framelet_pose_with_attitude(self.target, et, self.attitude.camera_to_j2000(et), observer)

    def to_dict(self) -> dict:
        """JSON-ready summary (degrees, rpm, seconds)."""
        att = self.attitude
        return {
            "product_id": self.product_id,
            "target": self.target,
            "timing_offset_s": self.timing_offset_s,
            "spin_axis_ra_deg": float(np.degrees(att.ra)),
            "spin_axis_dec_deg": float(np.degrees(att.dec)),
            "spin_phase_deg": float(np.degrees(att.phase) % 360.0),
            "spin_phase_reference_utc": self.reference_utc,
            "spin_rate_rpm": att.rate_rpm,
            "camera_alignment_deg": [float(np.degrees(a)) for a in att.alignment],
            "limb_rms_px": self.limb_rms_px,
            "limb_offset_px": self.limb_offset_px,
            "roll_source": self.roll_source,
            "rejected_alignment_deg": self.rejected_alignment_deg,
            "n_limb_points": self.n_limb_points,
            "formal_sigma": self.sigma,
            "formal_sigma_note": _SIGMA_NOTE,
            "start": self.start,
            "solve_seconds": self.seconds,
            "per_filter": self.per_filter,
            "per_framelet": self.per_framelet,
        }


_SIGMA_NOTE = (
    f"1-sigma from the final Jacobian, priors included (timing 0 +/- {TIMING_PRIOR_S * 1e3:g} ms; limb offset "
    f"0 +/- {LIMB_OFFSET_PRIOR_PX:g} px; with a CK, spin axis +/- {np.degrees(AXIS_PRIOR_RAD):g} deg and spin "
    f"phase +/- {np.degrees(CK_PHASE_PRIOR_RAD):g} deg; with the roll from the terminator, roll held to "
    f"+/- {np.degrees(TERMINATOR_ROLL_HOLD_RAD):g} deg). Without a CK the timing is held at 0 and its sigma is "
    "the prior's: the spin phase carries any timing offset."
)


# -- framelet bookkeeping ----------------------------------------------------------------------
def build_model(product, points: LimbPoints, camera: JunoCam, target: str) -> tuple[LimbModel, np.ndarray]:
    """The LimbModel of ``points`` (one ephemeris entry per framelet holding points) and the
    nominal framelet epochs [exposure, filter]."""
    ets = framelet_mid_ets(product, camera)
    keys = points.exposure * len(product.filters) + points.filter_index
    unique, framelet_of_point = np.unique(keys, return_inverse=True)
    eph = FrameletEphemeris.from_spice(target, ets.reshape(-1)[unique])
    return LimbModel(points, framelet_of_point, eph, camera, product.filters, target_radii(target)), ets


# -- global search -----------------------------------------------------------------------------
def _despun_rays(model: LimbModel, spin_axis_camera: np.ndarray, rate: float, ref_et: float) -> np.ndarray:
    """Rays rotated about the camera-frame spin axis to where they point at ``ref_et`` (the
    target held fixed in inertial space)."""
    angle = rate * (model.ephemeris.et[model.framelet] - ref_et)
    k = spin_axis_camera
    r = model.rays[0]
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    # Rodrigues, camera frame: c → J2000 is C_ref · Rot(k, angle) · r.
    return r * cos + np.cross(k, r) * sin + np.outer(r @ k, k) * (1 - cos)


def _ransac_cone(rays: np.ndarray, rho_range: tuple[float, float], rng: np.random.Generator) -> tuple[int, np.ndarray]:
    """Best cone (axis c, any half-angle within ``rho_range`` rad) through unit ``rays``:
    (number of inliers within 0.4°, axis)."""
    n = len(rays)
    picks = np.array([rng.choice(n, 3, replace=False) for _ in range(_RANSAC_HYPOTHESES)])
    a = rays[picks]  # (H, 3, 3)
    good = np.abs(np.linalg.det(a)) > 1e-9
    w = np.full((len(a), 3), np.nan)
    w[good] = np.linalg.solve(a[good], np.ones((good.sum(), 3, 1)))[..., 0]
    norm = np.linalg.norm(w, axis=1)
    axis = w / norm[:, None]
    rho = np.arccos(np.clip(1.0 / norm, -1, 1))
    plausible = good & (rho > rho_range[0]) & (rho < rho_range[1])
    tolerance = np.sin(rho) * np.radians(0.4)
    inliers = np.abs(axis @ rays.T - np.cos(rho)[:, None]) < tolerance[:, None]
    counts = np.where(plausible, inliers.sum(axis=1), 0)
    best = int(np.argmax(counts))
    if counts[best] < 3:
        return 0, axis[best]
    # Refit on the inliers (linear, unconstrained half-angle).
    sel = inliers[best]
    w_fit, *_ = np.linalg.lstsq(rays[sel], np.ones(sel.sum()), rcond=None)
    return int(counts[best]), w_fit / np.linalg.norm(w_fit)


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation taking unit vector a to unit vector b."""
    axis = np.cross(a, b)
    s = np.linalg.norm(axis)
    angle = np.arctan2(s, float(a @ b))
    return rotation_vector_matrix(axis / s * angle) if s > 1e-15 else np.eye(3)


def _roll_score(model: LimbModel, attitude: SpinAttitude) -> float:
    res = model.residuals(attitude, 0.0)
    weight = res.lit & res.aligned & np.isfinite(res.residual_px)
    return float(np.sum(weight / (1.0 + (np.nan_to_num(res.residual_px, nan=1e9) / 10.0) ** 2)))


def global_search(model: LimbModel, fk_rotation: np.ndarray, seed: int = 0) -> list[SpinAttitude]:
    """Candidate attitudes (best first) from the limb alone, with no prior on the spin axis.

    ``fk_rotation`` is JUNO_JUNOCAM → JUNO_SPACECRAFT; the spin axis is the spacecraft +Z.
    """
    rng = np.random.default_rng(seed)
    sub = model.subset(np.sort(rng.choice(len(model), min(len(model), _SEARCH_POINTS), replace=False)))
    ref_et = float(np.median(sub.ephemeris.et[sub.framelet]))
    nearest = int(np.argmin(np.abs(sub.ephemeris.et - ref_et)))
    centre_km = sub.ephemeris.target_position_km[nearest]
    distance = float(np.linalg.norm(centre_km))
    rho_min = np.arcsin(min(1.0, sub.radii.min() / distance))
    rho_max = np.arcsin(min(1.0, sub.radii.max() / distance))
    spin_axis_camera = fk_rotation.T @ np.array([0.0, 0.0, 1.0])
    best = (-1, None, None)
    for rpm in SEARCH_RATES_RPM:
        for sign in (1.0, -1.0):
            rate = sign * rpm * RPM
            rays = _despun_rays(sub, spin_axis_camera, rate, ref_et)
            count, axis = _ransac_cone(rays, (0.9 * rho_min, 1.1 * rho_max + 0.01), rng)
            if count > best[0]:
                best = (count, rate, axis)
    count, rate, centre_camera = best
    if rate is None or count < MIN_POINTS:
        raise PointingError(
            f"global pointing search found no consistent limb ({count} points fit a disc); "
            "is the target in the image, or is the product too faint?"
        )
    u = centre_km / distance
    align = _rotation_between(centre_camera, u)
    scored = []
    for psi in np.radians(np.arange(0.0, 360.0, _ROLL_STEP_DEG)):
        camera_to_j2000 = rotation_vector_matrix(u * psi) @ align
        attitude = SpinAttitude.from_camera_rotation(camera_to_j2000, ref_et, rate, fk_rotation)
        scored.append((_roll_score(sub, attitude), psi, attitude))
    scores = np.array([s[0] for s in scored])
    order = []
    for i in np.argsort(-scores):  # distinct local maxima, best first
        is_peak = scores[i] >= scores[i - 1] and scores[i] >= scores[(i + 1) % len(scores)]
        if is_peak:
            order.append(scored[i][2])
        if len(order) == _ROLL_CANDIDATES:
            break
    return order


# -- least squares -----------------------------------------------------------------------------
@dataclass(frozen=True)
class LimbFit:
    """One state of the limb fit: attitude, timing offset (s), limb offset (px, + inwards, see
    ``LimbModel.residuals``), the points used (boolean mask over the model's points) and the
    formal covariance (see :func:`_fit`)."""

    attitude: SpinAttitude
    dt: float = 0.0
    limb_offset_px: float = 0.0
    keep: np.ndarray | None = field(default=None, repr=False)
    covariance: np.ndarray | None = field(default=None, repr=False)


# Parameters: timing offset s, spin-axis RA, Dec rad, phase rad, rate rad/s, camera alignment
# rad, rad, limb offset px; scaled so that one unit moves the limb by similar amounts.
_SCALES = np.array([1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3, 0.1])
# Absolute forward-difference steps in the scaled parameters: 10 µs, 0.1 µrad, 0.1 µrad/s, 1e-5 px.
# (scipy's relative ``diff_step`` falls back to ~1e-8 of a unit at a parameter's zero, which
# for the timing is 1e-11 s, below what the epochs resolve: the timing then had no derivative.)
_STEP_TIMING, _STEP_OTHER = 1e-2, 1e-4


def _apply(base: LimbFit, x: np.ndarray) -> LimbFit:
    """The fit after scaled changes ``x`` of all the parameters from ``base`` (no covariance)."""
    p = x * _SCALES
    a = base.attitude
    attitude = a.with_params(
        ra=a.ra + p[1], dec=a.dec + p[2], phase=a.phase + p[3], rate=a.rate + p[4],
        alignment=(a.alignment[0] + p[5], a.alignment[1] + p[6]),
    )
    return LimbFit(attitude, base.dt + float(p[0]), base.limb_offset_px + float(p[7]), base.keep)


def _robust_loss(n_data: int):
    """Loss for ``least_squares``: soft-L1 on the first ``n_data`` residuals (limb points, robust
    to stray detections) and plain squares on the rest (the Gaussian priors). A prior must not go
    through the robust loss: beyond ``f_scale`` soft-L1 turns its quadratic penalty into a linear
    one, and a weakly observed parameter (timing near the spin-phase degeneracy, the roll about
    the line of sight) then runs away from it."""

    def rho(z: np.ndarray) -> np.ndarray:
        out = np.empty((3, z.size))
        t = 1.0 + z[:n_data]
        out[0, :n_data] = 2.0 * (np.sqrt(t) - 1.0)
        out[1, :n_data] = 1.0 / np.sqrt(t)
        out[2, :n_data] = -0.5 * t**-1.5
        out[0, n_data:] = z[n_data:]
        out[1, n_data:] = 1.0
        out[2, n_data:] = 0.0
        return out

    return rho


def _forward_differences(fun, steps: np.ndarray):
    """Jacobian of ``fun`` by forward differences with absolute ``steps`` per parameter."""

    def jacobian(x: np.ndarray) -> np.ndarray:
        f0 = fun(x)
        columns = []
        for k, step in enumerate(steps):
            moved = x.copy()
            moved[k] += step
            columns.append((fun(moved) - f0) / step)
        return np.stack(columns, axis=1)

    return jacobian


def _noise_px(residual_px: np.ndarray) -> float:
    """Robust 1-σ of limb residuals (px): 1.4826 × median absolute deviation, at least 0.05 px."""
    r = residual_px[np.isfinite(residual_px)]
    if r.size == 0:
        return 1.0
    return max(0.05, 1.4826 * float(np.median(np.abs(r - np.median(r)))))


def _fit(
    model: LimbModel,
    start: LimbFit,
    align: bool,
    ck_prior: SpinAttitude | None = None,
    roll_prior: tuple[np.ndarray, np.ndarray] | None = None,
) -> LimbFit:
    """One robust least-squares fit from ``start`` (its ``keep`` is ignored); the result holds
    the formal covariance of the parameters [s, rad, rad, rad, rad/s, rad, rad, px] (timing,
    spin-axis RA, Dec, phase, rate, camera alignment, limb offset).

    The limb offset (px, + inwards, prior 0 ± ``LIMB_OFFSET_PRIOR_PX``) is where the detected
    limb sits relative to the ellipsoid's: the detector's edge lies inside a darkening limb and
    an atmosphere lifts it. Only the lit limb is detected, so left out it pulls the disc centre
    away from the lit side: on the twin the solved timing was then off by −0.35…−0.60 ms at
    three of four epochs (−0.08…−0.12 ms with it).

    ``ck_prior``: the attitude a CK gives (same reference epoch): its spin axis is held to
    ± ``AXIS_PRIOR_RAD`` and its spin phase to ± ``CK_PHASE_PRIOR_RAD`` at the first and the
    last framelet epoch of the model (phase and rate both, then). A reconstructed CK
    knows the phase (star trackers) far better than the image's start time is known (IK: ~20 ms
    of jitter = 0.24° of spin), so with the phase held the limb's position along the scan
    measures the timing offset. A phase error in the CK itself is indistinguishable from a
    timing offset and is reported as one (phase error / spin rate). Without a CK the timing
    is held at the start's and its σ reported as the prior's: the spin phase then absorbs it, and
    its only other signal, the change of the target's apparent size (radial velocity × dt),
    is far below the limb detector's systematic bias (on the twin, a fitted timing ran to
    −30…−93 ms, σ 11–19 ms, for a true +15 ms).
    ``roll_prior``: (axis₀, unit direction d), both J2000: the spin axis's displacement from
    axis₀ along d (the direction a roll about the line of sight moves it) is held to
    0 ± ``TERMINATOR_ROLL_HOLD_RAD`` (the roll fixed by the terminator, see :func:`_roll_from_terminator`).

    Limb residuals are in pixels; each prior row is (parameter / prior σ) × σ_limb (the robust
    limb noise in px at the start of the fit), so that with the priors outside the robust loss
    the cost is, up to the factor σ_limb², the negative log-posterior Σ (r/σ_limb)² + Σ (p/σ_p)².
    (Before, the priors went through the soft-L1 loss unscaled: a ±20 ms timing prior weighed
    like a 0.5 px residual and turned linear beyond 10 ms, and the fit ran to −122 ms near C/A.)
    """
    fit_timing = ck_prior is not None
    free = np.r_[[0] if fit_timing else [], [1, 2, 3, 4], [5, 6] if align else [], [7]].astype(int)
    steps = np.where(free == 0, _STEP_TIMING, _STEP_OTHER)
    # The pixel scale of the limb distance (|∇f|) hardly changes within a fit: hold it fixed,
    # so each evaluation needs one ray per point instead of three.
    initial = model.residuals(start.attitude, start.dt, start.limb_offset_px)
    inverse_scale = 1.0 / initial.gradient_rad_per_px
    noise = _noise_px(initial.residual_px)
    n = len(model)
    span = (float(model.ephemeris.et.min()), float(model.ephemeris.et.max()))

    def full(x: np.ndarray) -> np.ndarray:
        out = np.zeros(_SCALES.size)
        out[free] = x
        return out

    def fun(x: np.ndarray) -> np.ndarray:
        fit = _apply(start, full(x))
        attitude, dt = fit.attitude, fit.dt
        limb = model.limb_angle(attitude, dt) * inverse_scale - fit.limb_offset_px
        priors = ([dt / TIMING_PRIOR_S] if fit_timing else []) + [fit.limb_offset_px / LIMB_OFFSET_PRIOR_PX]
        if align:
            priors += [attitude.alignment[0] / ALIGNMENT_PRIOR_RAD, attitude.alignment[1] / ALIGNMENT_PRIOR_RAD]
        if ck_prior is not None:
            axis_offset = _axis_offset(attitude, ck_prior)
            priors += [axis_offset[0] / AXIS_PRIOR_RAD, axis_offset[1] / AXIS_PRIOR_RAD]
            priors += [p / CK_PHASE_PRIOR_RAD for p in _phase_offsets(attitude, ck_prior, span)]
        if roll_prior is not None:
            priors.append(float((attitude.axis - roll_prior[0]) @ roll_prior[1]) / TERMINATOR_ROLL_HOLD_RAD)
        return np.concatenate([np.nan_to_num(limb, nan=100.0), noise * np.asarray(priors)])

    result = least_squares(
        fun, np.zeros(free.size), jac=_forward_differences(fun, steps), loss=_robust_loss(n),
        f_scale=LOSS_SCALE_PX, x_scale=1.0, xtol=1e-6, ftol=1e-6, max_nfev=60,
    )
    return replace(_apply(start, full(result.x)), covariance=_formal_covariance(result, n, noise, free))


def _axis_offset(attitude: SpinAttitude, prior: SpinAttitude) -> np.ndarray:
    """Spin-axis offset from the prior's, in the prior's (east, north) tangent plane, rad."""
    basis = axis_basis(prior.ra, prior.dec)
    return basis[:, :2].T @ attitude.axis


def _phase_offsets(attitude: SpinAttitude, prior: SpinAttitude, ets: Sequence[float]) -> list[float]:
    """How far ``attitude`` has spun past ``prior`` at each epoch of ``ets`` (s past J2000 TDB),
    rad: the component along the prior's spin axis of the rotation (J2000) that takes the
    prior's spin frame to ours. Geometric, so neither a change of the spin axis (which moves
    the origin the phase *parameter* counts from) nor a roll about a line of sight across the
    axis reads as spin."""
    offsets = []
    for et in ets:
        difference = attitude.spacecraft_to_j2000(et) @ prior.spacecraft_to_j2000(et).T
        axis, angle = spiceypy.raxisa(difference)
        offsets.append(float(np.asarray(axis) @ prior.axis) * angle)
    return offsets


def _formal_covariance(result, n_points: int, prior_noise_px: float, free: np.ndarray) -> np.ndarray:
    """Covariance of all the parameters (physical units: s, rad, rad, rad, rad/s, rad, rad, px)
    from the final Jacobian of the ``free`` ones: the limb rows weighted by the final residual
    RMS (px), the prior rows (scaled by ``prior_noise_px`` in the fit) as unit-σ Gaussians. A
    held timing gets its prior's variance, a held alignment 0."""
    jac = result.jac
    rms = float(np.sqrt(np.mean(result.fun[:n_points] ** 2))) if n_points else 1.0
    data, prior = jac[:n_points], jac[n_points:] / prior_noise_px
    information = data.T @ data / max(rms, 1e-3) ** 2 + prior.T @ prior
    covariance = np.zeros((_SCALES.size, _SCALES.size))
    covariance[0, 0] = TIMING_PRIOR_S**2
    try:
        covariance[np.ix_(free, free)] = np.linalg.inv(information) * np.outer(_SCALES[free], _SCALES[free])
    except np.linalg.LinAlgError:
        covariance[np.ix_(free, free)] = np.diag(np.full(free.size, np.inf))
    return covariance


def refine(
    model: LimbModel,
    start: LimbFit,
    align: bool = False,
    gates: Sequence[float] = GATES_PX,
    ck_prior: SpinAttitude | None = None,
    roll_prior: tuple[np.ndarray, np.ndarray] | None = None,
) -> LimbFit:
    """Alternate point selection (lit, gradient-aligned, |residual| < gate) and robust fits at
    shrinking gates (priors as in :func:`_fit`) from ``start``. Returns the last fit with
    ``keep`` the final inliers (within the last gate)."""
    fit = start
    for gate in gates:
        keep = model.inliers(fit.attitude, fit.dt, fit.limb_offset_px, gate)
        if keep.sum() < MIN_POINTS:
            raise PointingError(
                f"only {int(keep.sum())} limb points lie within {gate:g} px of the predicted lit limb; "
                "the starting attitude is too far off (load a CK, or check the target and kernels)"
            )
        chosen = np.nonzero(keep)[0]
        if chosen.size > MAX_SOLVE_POINTS:
            chosen = chosen[np.linspace(0, chosen.size - 1, MAX_SOLVE_POINTS).round().astype(int)]
        # From a CK (axis prior) the start is close and the alignment is fitted from the first
        # gate: withheld, the few-tenths-of-a-degree tilt it should take is absorbed early by a
        # roll about the line of sight, which the limb cannot undo later (measured: 5.5° roll,
        # twin at −60 s). From the global search the start is rough, and a free alignment at
        # wide gates trades against the unconstrained roll instead; there it joins late.
        fit_align = align and (ck_prior is not None or gate <= gates[-1] * 2.5)
        fit = _fit(model.subset(chosen), fit, fit_align, ck_prior, roll_prior)
    return replace(fit, keep=model.inliers(fit.attitude, fit.dt, fit.limb_offset_px, gates[-1]))


def _statistics(model: LimbModel, fit: LimbFit, filters, ets) -> tuple:
    """(RMS, per-filter and per-framelet statistics) of the limb residuals (px) of the fit's
    inliers."""
    res = model.residuals(fit.attitude, fit.dt, fit.limb_offset_px).residual_px
    keep = fit.keep
    pts = model.points
    rms = float(np.sqrt(np.mean(res[keep] ** 2))) if keep.any() else float("nan")
    per_filter = {}
    for f, name in enumerate(filters):
        sel = keep & (pts.filter_index == f)
        per_filter[name] = {
            "n_limb_points": int(sel.sum()),
            "limb_rms_px": float(np.sqrt(np.mean(res[sel] ** 2))) if sel.any() else None,
            "limb_mean_px": float(np.mean(res[sel])) if sel.any() else None,
        }
    per_framelet = []
    for e in range(ets.shape[0]):
        for f, name in enumerate(filters):
            sel = keep & (pts.filter_index == f) & (pts.exposure == e)
            if sel.any():
                per_framelet.append(
                    {
                        "exposure": e,
                        "filter": name,
                        "n_limb_points": int(sel.sum()),
                        "limb_rms_px": float(np.sqrt(np.mean(res[sel] ** 2))),
                        "limb_mean_px": float(np.mean(res[sel])),
                    }
                )
    return rms, per_filter, per_framelet


def _ck_available(et_a: float, et_b: float) -> bool:
    try:
        spiceypy.pxform("JUNO_SPACECRAFT", "J2000", et_a)
        spiceypy.pxform("JUNO_SPACECRAFT", "J2000", et_b)
        return True
    except spiceypy.utils.exceptions.SpiceyError:
        return False


# -- roll from the terminator ------------------------------------------------------------------
def _line_of_sight(model: LimbModel, et: float) -> np.ndarray:
    """Unit J2000 direction observer → target at the framelet epoch nearest ``et``."""
    nearest = int(np.argmin(np.abs(model.ephemeris.et - et)))
    u = model.ephemeris.target_position_km[nearest]
    return u / np.linalg.norm(u)


def rolled(attitude: SpinAttitude, line_of_sight: np.ndarray, angle: float) -> SpinAttitude:
    """The spin model turned as a whole by ``angle`` (rad) about the J2000 unit vector
    ``line_of_sight`` (the spin axis turns with it; the alignment is kept)."""
    turn = rotation_vector_matrix(np.asarray(line_of_sight, float) * angle)
    ref = attitude.reference_et
    out = SpinAttitude.from_spacecraft_rotation(
        turn @ attitude.spacecraft_to_j2000(ref), ref, attitude.rate, attitude.camera_to_spacecraft
    )
    return out.with_params(alignment=attitude.alignment)


def roll_direction(attitude: SpinAttitude, line_of_sight: np.ndarray) -> np.ndarray:
    """Unit J2000 direction in which a roll about ``line_of_sight`` moves the spin axis."""
    d = np.cross(line_of_sight, attitude.axis)
    return d / max(float(np.linalg.norm(d)), 1e-12)


PRIORS = ("auto", "ck", "search")


def solve_loaded(product, prior: str = "auto", align: bool = False, camera: JunoCam | None = None) -> PointingSolution:
    """Solve the pointing of ``product`` (a ``RawProduct``) with kernels already loaded.

    ``prior``: ``"ck"`` (start from the loaded CK, error if none), ``"search"`` (global search,
    ignore any CK) or ``"auto"`` (CK if it covers the product, else search). ``align``: also
    fit the two-angle camera alignment; a fitted alignment beyond ``ALIGNMENT_LIMIT_RAD`` is not
    a camera's (the colour products need 0.3–0.6°) but a limb-model error it absorbed (the PJ43
    METHANE product's polar haze: 4.8°, which turned its spin axis 4.8° from Earth instead of
    0.4°), so the product is solved again without it and ``rejected_alignment_deg`` says so.
    """
    if prior not in PRIORS:
        raise PointingError(f"unknown pointing prior {prior!r}: choose one of {', '.join(PRIORS)}")
    clock = time.perf_counter()
    solution = _solve(product, prior, align, camera)
    tilt = float(np.hypot(*solution.attitude.alignment))
    if tilt > ALIGNMENT_LIMIT_RAD:
        solution = replace(_solve(product, prior, False, camera), rejected_alignment_deg=float(np.degrees(tilt)))
    solution.seconds = time.perf_counter() - clock
    return solution


def _solve(product, prior: str, align: bool, camera: JunoCam | None) -> PointingSolution:
    """One solve (see :func:`solve_loaded`, which times it)."""
    camera = camera or JunoCam.from_kernel_pool(product.filters)
    target = product.target.strip().upper()
    points = detect_limb(product.decompanded())
    if len(points) < MIN_POINTS:
        raise PointingError(
            f"{product.product_id}: only {len(points)} limb points found; the pointing solve needs "
            f"the lit limb of {target} against the sky in the image"
        )
    model, ets = build_model(product, points, camera, target)
    fk = camera_to_spacecraft(float(ets.flat[0]))
    reference_et = utc_to_et(product.start_time_utc)
    t_lo, t_hi = float(ets.min()), float(ets.max())
    use_ck = prior == "ck" or (prior == "auto" and _ck_available(t_lo, t_hi))
    if use_ck:
        starts = [SpinAttitude.from_ck(t_lo, min(t_hi, t_lo + 2.0) if t_hi > t_lo else t_lo + 1.0, reference_et)]
    else:
        starts = global_search(model, fk)
    best = None
    for start in starts:
        try:
            fit = refine(model, LimbFit(start), align, ck_prior=start if use_ck else None)
        except PointingError:
            continue
        rms = float(np.sqrt(np.mean(model.residuals(fit.attitude, fit.dt, fit.limb_offset_px).residual_px[fit.keep] ** 2)))
        score = fit.keep.sum() - 10.0 * rms
        if best is None or score > best[0]:
            best = (score, fit)
        if fit.keep.sum() > 0.5 * len(model) and rms < GOOD_ENOUGH_RMS_PX:
            break  # a clearly right start: skip the other candidates
    if best is None:
        raise PointingError(
            f"{product.product_id}: the pointing solve did not converge from any starting attitude "
            f"({'CK' if use_ck else 'global search'}); check the kernels and the target name {target}"
        )
    fit = best[1]
    roll_source = "ck" if use_ck else "limb"
    if not use_ck:
        fit, roll_source = _roll_from_terminator(model, fit, align, product, camera, target)
    sigma = np.sqrt(np.clip(np.diag(fit.covariance), 0, None))
    rms, per_filter, per_framelet = _statistics(model, fit, product.filters, ets)
    # Report the phase at the product's START_TIME.
    attitude = fit.attitude
    phase = attitude.phase + attitude.rate * (reference_et - attitude.reference_et)
    attitude = attitude.with_params(phase=float(np.angle(np.exp(1j * phase))), reference_et=reference_et)
    return PointingSolution(
        product_id=product.product_id,
        target=target,
        attitude=attitude,
        timing_offset_s=float(fit.dt),
        limb_offset_px=float(fit.limb_offset_px),
        limb_rms_px=rms,
        roll_source=roll_source,
        n_limb_points=int(fit.keep.sum()),
        per_framelet=per_framelet,
        per_filter=per_filter,
        start="ck" if use_ck else "global-search",
        nominal_start_et=t_lo,
        nominal_stop_et=t_hi,
        reference_utc=et_to_utc(reference_et, 6),
        sigma={
            "timing_offset_s": float(sigma[0]),
            "spin_axis_ra_deg": float(np.degrees(sigma[1])),
            "spin_axis_dec_deg": float(np.degrees(sigma[2])),
            "spin_phase_deg": float(np.degrees(sigma[3])),
            "spin_rate_rpm": float(sigma[4] / RPM),
            "limb_offset_px": float(sigma[7]),
        },
    )


def _roll_from_terminator(
    model: LimbModel, fit: LimbFit, align: bool, product, camera: JunoCam, target: str
) -> tuple[LimbFit, str]:
    """With no CK: turn the fit to the roll about the line of sight that the terminator on the
    disc sets (:func:`ioflyby.pointing.terminator.terminator_roll`) and refine with that roll
    held (± TERMINATOR_ROLL_HOLD_RAD), twice (the refit moves the solution a little). Where the
    terminator is not usable, keep the limb's roll. Returns (fit, roll source: "terminator" or
    "limb")."""
    source = "limb"
    for _ in range(_TERMINATOR_PASSES):
        disc = sample_disc(product, camera, target, fit.attitude, fit.dt)
        angle, usable = terminator_roll(disc)
        if not usable:
            break
        u = _line_of_sight(model, fit.attitude.reference_et)
        turned = replace(fit, attitude=rolled(fit.attitude, u, angle))
        hold = (turned.attitude.axis, roll_direction(turned.attitude, u))
        try:
            fit, source = refine(model, turned, align, gates=GATES_PX[-2:], roll_prior=hold), "terminator"
        except PointingError:
            break
    return fit, source


def solve_pointing(
    product, kernels: Sequence[str | Path] | str | Path | None = None, prior: str = "auto", align: bool = False
) -> PointingSolution:
    """Solve the pointing of ``product`` (``RawProduct`` or a path ``read_product`` accepts).

    ``kernels``: metakernel(s)/files to load for the solve (LSK, PCK, FK, IK, SPK; a CK
    optional), or None when the caller has loaded them. See :func:`solve_loaded`.
    """
    if not hasattr(product, "framelets"):
        from ioflyby.ingest import read_product

        product = read_product(product)
    if kernels is None:
        return solve_loaded(product, prior, align)
    with KernelSet(kernels if isinstance(kernels, (list, tuple)) else [kernels]):
        return solve_loaded(product, prior, align)


def pose_solution(solution: PointingSolution, product, camera: JunoCam, target: str):
    """The mapping stage's per-framelet poses (``ioflyby.mapping.poses.PoseSolution``) for a
    solved pointing: the solved attitude at each framelet's true (offset) epoch, with the
    solution's JSON summary as its ``pointing`` record. Kernels must be loaded."""
    from ioflyby.mapping.poses import PoseSolution

    if solution.target != target.strip().upper():
        raise PointingError(
            f"{product.product_id}: pointing solved on {solution.target}'s limb but the map target is {target}"
        )
    ets = framelet_mid_ets(product, camera)
    poses = [[solution.framelet_pose(float(et)) for et in row] for row in ets]
    summary = solution.to_dict()
    summary.pop("per_framelet")
    return PoseSolution(poses, dict(summary, source="solved from the limb (ioflyby.pointing)"))


def solved_pose_source(prior: str = "auto", align: bool = False):
    """A pose source for ``ioflyby.mapping.pipeline.process_products(pose_source=...)`` that
    solves each product's pointing on the fly (see :func:`pose_solution`)."""

    def source(product, camera: JunoCam, target: str):
        return pose_solution(solve_loaded(product, prior=prior, align=align, camera=camera), product, camera, target)

    return source


def pose_source_from_solutions(solutions: Sequence[PointingSolution]):
    """A pose source for ``process_products`` that uses pointings already solved (matched to
    products by product id), so several maps of the same products solve only once."""
    by_product = {solution.product_id: solution for solution in solutions}

    def source(product, camera: JunoCam, target: str):
        if product.product_id not in by_product:
            raise PointingError(f"{product.product_id}: no solved pointing was given for this product")
        return pose_solution(by_product[product.product_id], product, camera, target)

    return source
