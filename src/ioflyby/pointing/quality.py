"""Quality verdict of a pointing solve: ``good``, ``degraded`` or ``refused``, with the reasons.

Each check measures one way a limb solve can be wrong while its limb RMS looks fine:

- *formal σ* (from the fit's covariance, priors included): of the spin axis; of the camera
  pointing across the line of sight and of the roll about it, propagated to the first, middle and
  last framelet of the product (so an axis the limb leaves loose shows as the pointing error it
  causes where the limb is not); of the timing offset where it is fitted (from a CK);
- *limb coverage*: how many framelets hold limb points, the arc of position angle around the
  target they span, and the spin angle swept between the first and last of them;
- *residual structure*: the drift of the per-framelet mean residuals along the scan (what a
  wrong spin axis, rate or timing leaves; noise and per-filter limb offsets do not drift), and the
  limb RMS itself;
- *agreement with priors*: Juno's spin rate (≈ 2 rpm outside manoeuvres), the timing offset a CK
  leaves (the IK's ~20 ms jitter), and in a joint solve the product's own spin axis against the
  shared one (``ioflyby.pointing.joint``).

Each check gives ``good`` within its first limit, ``degraded`` within its second, else
``refused``; the verdict is the worst. A refused solution is not written as a CK and not used
for maps unless the user accepts it (``--accept-degraded``). The limits are module constants;
the measurements behind them are in docs/conventions.md. Angles are reported in degrees and
pixels, times in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import spiceypy

from ioflyby.errors import PointingError
from ioflyby.pointing.fit import _SCALES, TIMING_PRIOR_S, LimbFit, _apply
from ioflyby.pointing.model import LimbModel

VERDICTS = ("good", "degraded", "refused")

# (good up to, degraded up to) per check; beyond the second: refused.
AXIS_SIGMA_DEG = (0.5, 2.0)
ACROSS_SIGMA_PX = (2.5, 6.0)
ROLL_SIGMA_DEG = (0.4, 1.0)
TIMING_SIGMA_S = (0.002, 0.005)
LIMB_RMS_PX = (1.0, 2.0)
RESIDUAL_TREND_PX = (0.75, 1.5)
SPIN_RATE_OFF_RPM = (0.1, 0.2)
CK_TIMING_OFFSET_S = (0.06, 0.2)
AXIS_DISAGREEMENT_SIGMA = (3.0, 5.0)
# (good from, degraded from) for coverage; below the second: refused.
LIMB_FRAMELETS = (5, 3)
BORROWED_AXIS_LIMB_FRAMELETS = (2, 1)
LIMB_ARC_DEG = (20.0, 10.0)
LIMB_SPIN_SWEEP_DEG = (10.0, 4.0)
# Tie points to a reference map (surface-feature pointing, ioflyby.pointing.surface).
TIE_POINTS = (40, 15)
TIE_INLIER_FRACTION = (0.4, 0.2)
TIE_FRAMELETS = (5, 3)
TIE_SPIN_SWEEP_DEG = (10.0, 4.0)
TIE_RMS_PX = (3.0, 6.0)
# A reference map's rotation about the line of sight cannot be told from the camera's roll: the
# roll from tie points is the map's. The roll's σ adds the map's registration σ
# (ReferenceMap.georeference.registration_sigma_deg: ~0.07 deg for the Io mosaics whose
# georeference is declared, 0.3 deg for an unknown map), and a surface-feature solve, whose point
# is to fix the roll, is good only within FEATURE_ROLL_SIGMA_DEG.
FEATURE_ROLL_SIGMA_DEG = (0.1, 0.4)

NOMINAL_SPIN_RPM = 2.0
STRUCTURE_MIN_POINTS = 10
_ROTATION_STEP = 1e-3  # scaled parameter units (see ioflyby.pointing.fit._SCALES)


@dataclass(frozen=True)
class QualityCheck:
    """One check: ``name``, its ``value`` (unit in ``unit``), the ``limits`` (good, degraded)
    it was held to, ``verdict`` and a one-line ``reason`` (empty when good)."""

    name: str
    value: float
    unit: str
    limits: tuple[float, float]
    verdict: str
    reason: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "value": self.value, "unit": self.unit, "limits": list(self.limits),
                "verdict": self.verdict, "reason": self.reason}


@dataclass(frozen=True)
class PointingQuality:
    """The verdict of a solve (the worst of its ``checks``) and what would help (``advice``)."""

    verdict: str
    checks: tuple[QualityCheck, ...]
    advice: str = ""

    @property
    def reasons(self) -> list[str]:
        """The reasons of every check that is not good, worst first."""
        ranked = sorted((c for c in self.checks if c.verdict != "good"), key=lambda c: -VERDICTS.index(c.verdict))
        return [c.reason for c in ranked]

    @property
    def refused(self) -> bool:
        return self.verdict == "refused"

    def summary(self) -> str:
        """One line: the verdict, its reasons and the advice."""
        if self.verdict == "good":
            return "good"
        return f"{self.verdict}: {'; '.join(self.reasons)}" + (f" — {self.advice}" if self.advice else "")

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "reasons": self.reasons, "advice": self.advice,
                "checks": [c.to_dict() for c in self.checks]}

    def with_checks(self, extra: Sequence[QualityCheck]) -> PointingQuality:
        """This verdict with ``extra`` checks added (e.g. a joint solve's agreement checks)."""
        return judge([*self.checks, *extra])


class PointingRefused(PointingError):
    """A pointing solve whose quality gates refused it was about to be written or used."""

    def __init__(self, product_id: str, quality: PointingQuality):
        super().__init__(
            f"{product_id}: pointing refused ({'; '.join(quality.reasons)}); {quality.advice or 'see the report'}; "
            "--accept-degraded writes and uses it anyway"
        )
        self.product_id = product_id
        self.quality = quality


def upper_check(name: str, value: float, limits: tuple[float, float], unit: str, what: str) -> QualityCheck:
    """A check where smaller is better: good ≤ limits[0] < degraded ≤ limits[1] < refused."""
    value = float(value) if np.isfinite(value) else float("inf")
    verdict = "good" if value <= limits[0] else "degraded" if value <= limits[1] else "refused"
    reason = "" if verdict == "good" else f"{what} {value:.3g} {unit} (> {limits[verdict == 'refused']:g})"
    return QualityCheck(name, float(value), unit, limits, verdict, reason)


def lower_check(name: str, value: float, limits: tuple[float, float], unit: str, what: str) -> QualityCheck:
    """A check where larger is better: good ≥ limits[0] > degraded ≥ limits[1] > refused."""
    verdict = "good" if value >= limits[0] else "degraded" if value >= limits[1] else "refused"
    reason = "" if verdict == "good" else f"{what} {value:.3g} {unit} (< {limits[verdict == 'refused']:g})"
    return QualityCheck(name, float(value), unit, limits, verdict, reason)


def judge(checks: Sequence[QualityCheck]) -> PointingQuality:
    """The verdict of ``checks`` (the worst) and advice for what failed."""
    worst = max((VERDICTS.index(c.verdict) for c in checks), default=0)
    return PointingQuality(VERDICTS[worst], tuple(checks), _advice(checks) if worst else "")


_ADVICE = {
    "limb": "the limb is too short here: solve it jointly with other products of the same perijove "
            "(ioflyby pointing P1 P2 ...) or load a CK",
    "sigma": "the limb leaves the attitude loose: solve jointly with other products of the same perijove "
             "(ioflyby pointing P1 P2 ...) or load a CK",
    "fit": "the limb does not fit the target's ellipsoid: check the target name and the kernels",
    "prior": "the solution disagrees with what is known of the spacecraft: check the kernels and target name",
    "ties": "the image does not match the reference map: check that the map is of this target, global and "
            "east-positive from 0 deg E at its left edge, or solve from the limb alone (no basemap)",
}
_ADVICE_OF = {"limb_framelets": "limb", "limb_arc": "limb", "limb_spin_sweep": "limb", "axis_sigma": "sigma",
              "across_sigma": "sigma", "roll_sigma": "sigma", "timing_sigma": "sigma", "limb_rms": "fit",
              "residual_trend": "sigma", "tie_points": "ties", "tie_inlier_fraction": "ties",
              "tie_framelets": "ties", "tie_spin_sweep": "ties", "tie_rms": "ties"}


def _advice(checks: Sequence[QualityCheck]) -> str:
    kinds = dict.fromkeys(_ADVICE_OF.get(c.name, "prior") for c in checks if c.verdict != "good")
    return "; ".join(_ADVICE[k] for k in kinds)


# -- measurements -----------------------------------------------------------------------------------
def _small_rotation(rotation: np.ndarray) -> np.ndarray:
    """Rotation vector (rad) of a rotation close to the identity (..., 3, 3) → (..., 3)."""
    return 0.5 * np.stack([rotation[..., 2, 1] - rotation[..., 1, 2], rotation[..., 0, 2] - rotation[..., 2, 0],
                           rotation[..., 1, 0] - rotation[..., 0, 1]], axis=-1)


def pointing_sigma(fit: LimbFit, ets: np.ndarray, lines_of_sight: np.ndarray, timing_fitted: bool) -> np.ndarray:
    """Formal 1-σ (rad) of the camera pointing at nominal epochs ``ets`` (K,): columns (across the
    line of sight, worst direction; roll about it), from the fit's parameter covariance through
    the camera → J2000 rotation. ``lines_of_sight``: unit J2000 observer → target (K, 3). A held
    timing (no CK) does not count: the spin phase carries it."""
    covariance = np.array(fit.covariance, float)
    if not timing_fitted:
        covariance[0, :] = covariance[:, 0] = 0.0
    if not np.all(np.isfinite(covariance)):
        return np.full((len(ets), 2), np.inf)
    base = fit.attitude.camera_to_j2000(ets, fit.dt)
    columns = []
    for k in range(_SCALES.size):
        step = np.zeros(_SCALES.size)
        step[k] = _ROTATION_STEP
        moved = _apply(fit, step)
        turned = moved.attitude.camera_to_j2000(ets, moved.dt) @ np.swapaxes(base, -1, -2)
        columns.append(_small_rotation(turned) / (_ROTATION_STEP * _SCALES[k]))
    jacobian = np.stack(columns, axis=-1)  # (K, 3, 8) rad per parameter unit
    rotation_cov = jacobian @ covariance @ np.swapaxes(jacobian, -1, -2)
    u = lines_of_sight
    roll = np.sqrt(np.clip(np.einsum("ki,kij,kj->k", u, rotation_cov, u), 0, None))
    across_projector = np.eye(3) - u[:, :, None] * u[:, None, :]
    across_cov = across_projector @ rotation_cov @ across_projector
    across = np.sqrt(np.clip(np.linalg.eigvalsh(across_cov)[:, -1], 0, None))
    return np.column_stack([across, roll])


def axis_sigma_deg(fit: LimbFit) -> float:
    """Formal 1-σ of the spin-axis direction in its worst direction, degrees."""
    cov = np.array(fit.covariance[1:3, 1:3], float)
    cos_dec = np.cos(fit.attitude.dec)
    cov[0, :] *= cos_dec
    cov[:, 0] *= cos_dec
    if not np.all(np.isfinite(cov)):
        return float("inf")
    return float(np.degrees(np.sqrt(max(float(np.linalg.eigvalsh(cov)[-1]), 0.0))))


def limb_position_angles(model: LimbModel, fit: LimbFit) -> np.ndarray:
    """Position angle (deg, [0, 360)) of each inlier limb point around the target centre, from
    celestial north (J2000 +Z across the line of sight) towards east."""
    keep = fit.keep
    frame = model.framelet[keep]
    rays = model.rays[0, keep]
    camera_to_j2000 = fit.attitude.camera_to_j2000(model.ephemeris.et, fit.dt)[frame]
    directions = np.einsum("nij,nj->ni", camera_to_j2000, rays)
    u = model.ephemeris.target_position_km[frame]
    u = u / np.linalg.norm(u, axis=1, keepdims=True)
    north = np.array([0.0, 0.0, 1.0]) - u[:, 2:3] * u
    north /= np.maximum(np.linalg.norm(north, axis=1, keepdims=True), 1e-12)
    east = np.cross(u, north)
    return np.degrees(np.arctan2(np.einsum("ni,ni->n", directions, east), np.einsum("ni,ni->n", directions, north))) % 360.0


def arc_coverage_deg(angles_deg: np.ndarray) -> float:
    """Arc of position angle the points span: 360° minus the largest empty gap between them."""
    if angles_deg.size < 2:
        return 0.0
    ordered = np.sort(angles_deg)
    gaps = np.diff(np.r_[ordered, ordered[0] + 360.0])
    return float(360.0 - gaps.max())


def residual_trend_px(model: LimbModel, fit: LimbFit, residual_px: np.ndarray) -> float:
    """Drift (px) of the limb residuals along the scan: the weighted straight line through the
    per-framelet mean residuals of the inliers (framelets holding at least
    ``STRUCTURE_MIN_POINTS``) against epoch, half its rise over the span of those framelets. A
    wrong spin axis, rate or timing grows along the scan; noise and per-filter offsets do not
    (0 with fewer than three such framelets)."""
    frames = model.framelet[fit.keep]
    unique, inverse, counts = np.unique(frames, return_inverse=True, return_counts=True)
    enough = counts >= STRUCTURE_MIN_POINTS
    if enough.sum() < 3:
        return 0.0
    means = np.bincount(inverse, weights=residual_px[fit.keep], minlength=unique.size)[enough] / counts[enough]
    t = model.ephemeris.et[unique[enough]]
    weight = counts[enough].astype(float)
    t = t - np.average(t, weights=weight)
    slope = np.sum(weight * t * (means - np.average(means, weights=weight))) / np.sum(weight * t**2)
    return float(abs(slope) * np.ptp(t) / 2.0)


def _lines_of_sight(target: str, ets: np.ndarray, observer: str = "JUNO") -> np.ndarray:
    sights = np.array([spiceypy.spkpos(target, float(et), "J2000", "LT+S", observer)[0] for et in ets])
    return sights / np.linalg.norm(sights, axis=1, keepdims=True)


def assess(
    model: LimbModel, fit: LimbFit, framelet_ets: np.ndarray, target: str, ifov_rad: float, timing_fitted: bool,
    limb_rms_px: float, axis_from_neighbours: bool = False,
) -> PointingQuality:
    """The quality verdict of a limb solve ``fit`` over ``model`` (its inliers ``fit.keep``);
    ``framelet_ets``: every nominal framelet epoch of the product (s past J2000 TDB); kernels loaded.
    ``axis_from_neighbours``: the spin axis, rate and alignment were fitted to other products (a
    joint solve), so the product's own limb only has to fix its phase (and timing): its limb must
    be seen in ``BORROWED_AXIS_LIMB_FRAMELETS`` framelets, and its arc and spin sweep, which
    measure how well it fixes an axis, are not asked for."""
    keep = fit.keep
    inlier_frames = np.unique(model.framelet[keep])
    ends = np.array([framelet_ets.min(), np.median(framelet_ets), framelet_ets.max()])
    sigma = pointing_sigma(fit, ends, _lines_of_sight(target, ends), timing_fitted)
    inlier_ets = model.ephemeris.et[inlier_frames] if inlier_frames.size else np.zeros(1)
    sweep = float(np.degrees(abs(fit.attitude.rate) * np.ptp(inlier_ets)))
    residual = model.residuals(fit.attitude, fit.dt, fit.limb_offset_px).residual_px
    checks = [
        upper_check("axis_sigma", axis_sigma_deg(fit), AXIS_SIGMA_DEG, "deg", "spin-axis formal sigma"),
        upper_check("across_sigma", float(sigma[:, 0].max() / ifov_rad), ACROSS_SIGMA_PX, "px",
                    "pointing formal sigma across the line of sight"),
        upper_check("roll_sigma", float(np.degrees(sigma[:, 1].max())), ROLL_SIGMA_DEG, "deg",
                    "roll formal sigma about the line of sight"),
        lower_check("limb_framelets", float(inlier_frames.size),
                    BORROWED_AXIS_LIMB_FRAMELETS if axis_from_neighbours else LIMB_FRAMELETS, "framelets",
                    "limb seen in"),
        upper_check("limb_rms", limb_rms_px, LIMB_RMS_PX, "px", "limb RMS"),
        upper_check("residual_trend", residual_trend_px(model, fit, residual), RESIDUAL_TREND_PX, "px",
                    "drift of the limb residuals along the scan"),
        upper_check("spin_rate", abs(abs(fit.attitude.rate_rpm) - NOMINAL_SPIN_RPM), SPIN_RATE_OFF_RPM, "rpm",
                    f"spin rate off Juno's {NOMINAL_SPIN_RPM:g} rpm by"),
    ]
    if not axis_from_neighbours:
        checks += [
            lower_check("limb_arc", arc_coverage_deg(limb_position_angles(model, fit)), LIMB_ARC_DEG, "deg",
                        "limb arc of position angle"),
            lower_check("limb_spin_sweep", sweep, LIMB_SPIN_SWEEP_DEG, "deg", "spin angle swept along the limb"),
        ]
    if timing_fitted:
        timing_sigma = float(np.sqrt(max(fit.covariance[0, 0], 0.0)))
        checks += [
            upper_check("timing_sigma", timing_sigma, TIMING_SIGMA_S, "s", "timing formal sigma"),
            upper_check("ck_timing_offset", abs(fit.dt), CK_TIMING_OFFSET_S, "s",
                        "start-time offset from the CK's spin phase"),
        ]
    return judge(checks)


def held_timing_parallax_rad(model: LimbModel, ets: np.ndarray) -> np.ndarray:
    """Pointing error (rad) across the line of sight that a held start time costs at ``ets``:
    the spacecraft's motion across the line of sight in ``TIMING_PRIOR_S`` over the range (the
    spin phase takes up the rest of a timing error, not this parallax; large near closest
    approach)."""
    eph = model.ephemeris
    nearest = np.argmin(np.abs(eph.et[None, :] - np.asarray(ets)[:, None]), axis=1)
    position = eph.target_position_km[nearest]
    velocity = eph.relative_velocity_km_s[nearest]
    distance = np.linalg.norm(position, axis=1)
    u = position / distance[:, None]
    across = velocity - np.sum(velocity * u, axis=1)[:, None] * u
    return TIMING_PRIOR_S * np.linalg.norm(across, axis=1) / distance


def assess_features(
    model: LimbModel, fit: LimbFit, framelet_ets: np.ndarray, target: str, ifov_rad: float, ties: dict,
    timing_fitted: bool, map_sigma_deg: float,
) -> PointingQuality:
    """The quality verdict of a solve from the limb and tie points to a reference map
    (``ioflyby.pointing.surface``): formal σ (``fit.covariance``, the combined fit's), the limb
    RMS where limb points were used, the spin rate, and the tie points (``ties``, see
    ``surface.tie_statistics``): their number, inlier fraction, framelets, spin sweep and RMS.
    The roll's σ adds the reference map's registration σ ``map_sigma_deg`` (a turned map turns the
    solved roll with it) and must be within ``FEATURE_ROLL_SIGMA_DEG``. The limb's own coverage is
    not asked for: the tie points fix what a short limb leaves loose. With the timing held, the
    across σ adds its parallax (:func:`held_timing_parallax_rad`)."""
    ends = np.array([framelet_ets.min(), np.median(framelet_ets), framelet_ets.max()])
    sigma = pointing_sigma(fit, ends, _lines_of_sight(target, ends), timing_fitted)
    if not timing_fitted:
        sigma[:, 0] = np.hypot(sigma[:, 0], held_timing_parallax_rad(model, ends))
    roll_sigma = np.hypot(sigma[:, 1], np.radians(map_sigma_deg) if ties["n_tie_points"] else 0.0)
    checks = [
        upper_check("axis_sigma", axis_sigma_deg(fit), AXIS_SIGMA_DEG, "deg", "spin-axis formal sigma"),
        upper_check("across_sigma", float(sigma[:, 0].max() / ifov_rad), ACROSS_SIGMA_PX, "px",
                    "pointing formal sigma across the line of sight"),
        upper_check("roll_sigma", float(np.degrees(roll_sigma.max())), FEATURE_ROLL_SIGMA_DEG, "deg",
                    "roll sigma about the line of sight (formal, with the reference map's registration)"),
        upper_check("spin_rate", abs(abs(fit.attitude.rate_rpm) - NOMINAL_SPIN_RPM), SPIN_RATE_OFF_RPM, "rpm",
                    f"spin rate off Juno's {NOMINAL_SPIN_RPM:g} rpm by"),
        lower_check("tie_points", float(ties["n_tie_points"]), TIE_POINTS, "points",
                    "tie points to the reference map:"),
        lower_check("tie_inlier_fraction", float(ties["inlier_fraction"]), TIE_INLIER_FRACTION, "",
                    "share of matched patches consistent with the pointing"),
        lower_check("tie_framelets", float(ties["n_framelets"]), TIE_FRAMELETS, "framelets", "tie points in"),
        lower_check("tie_spin_sweep", float(ties["spin_sweep_deg"]), TIE_SPIN_SWEEP_DEG, "deg",
                    "spin angle swept by the tie points"),
        upper_check("tie_rms", float("inf") if ties["tie_rms_px"] is None else ties["tie_rms_px"], TIE_RMS_PX, "px", "tie-point RMS"),
    ]
    if fit.keep is not None and fit.keep.any():
        residual = model.residuals(fit.attitude, fit.dt, fit.limb_offset_px).residual_px[fit.keep]
        checks.append(upper_check("limb_rms", float(np.sqrt(np.mean(residual**2))), LIMB_RMS_PX, "px", "limb RMS"))
    if timing_fitted:
        checks.append(upper_check("timing_sigma", float(np.sqrt(max(fit.covariance[0, 0], 0.0))), TIMING_SIGMA_S,
                                  "s", "timing formal sigma"))
    return judge(checks)
