"""The robust least-squares fit of the spin attitude to the detected limb.

``scipy.optimize.least_squares`` (soft-L1 loss) of the spin-axis RA/Dec, phase and rate, a limb
offset (where the detected limb sits against the ellipsoid's: the detector's edge inside a
darkening limb, an atmosphere's haze outside it), optionally a two-angle camera alignment and,
from a CK, the timing offset; points are re-selected against the predicted lit limb at shrinking
gates (``GATES_PX``, 40 → 3 px, :func:`refine`). Priors are Gaussian, outside the robust loss,
weighted against the limb noise (see :func:`_fit`).

*Timing.* A start-time offset turns the spacecraft by the spin rate × offset (1 ms = 0.012°
= 0.31 px along the scan), exactly what a spin-phase change does; the two differ only by the
target's apparent-size change over the offset (~0.003 px per ms near C/A), far below the limb
detector's bias. So the timing is solved only from a CK, whose spin axis and phase are trusted
(± ``AXIS_PRIOR_RAD``, ± ``CK_PHASE_PRIOR_RAD``: the spacecraft's attitude is known far better
than the image's start time, ~20 ms of jitter by the IK); then the limb's position along the
scan *is* the timing offset. The camera alignment absorbs a camera (or spacecraft) tilt the CK
does not know. Without a CK the timing is held at 0 and the solved phase carries it.

Parameters, in this order: timing offset (s), spin-axis RA, Dec (rad, J2000), spin phase (rad),
spin rate (rad/s), camera alignment (rad, rad), limb offset (px, + inwards); limb residuals in
pixels; times s past J2000 TDB.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import spiceypy

from ioflyby.errors import PointingError
from ioflyby.geometry.spin import SpinAttitude, axis_basis
from ioflyby.pointing.model import LimbModel

TIMING_PRIOR_S = 0.020
ALIGNMENT_PRIOR_RAD = np.radians(0.5)
LIMB_OFFSET_PRIOR_PX = 1.0
AXIS_PRIOR_RAD = np.radians(0.01)
CK_PHASE_PRIOR_RAD = np.radians(0.005)
# The roll about the line of sight, held where the terminator fixed it (ioflyby.pointing.roll).
TERMINATOR_ROLL_HOLD_RAD = np.radians(0.02)
# How well the terminator fixes that roll (the twin's roll errors from it: 0.06-0.14 deg): its
# 1-sigma in the covariance, where the hold above only pins the fit to the terminator's value.
TERMINATOR_ROLL_SIGMA_RAD = np.radians(0.1)
ROLL_HOLD_TO_SIGMA = TERMINATOR_ROLL_HOLD_RAD / TERMINATOR_ROLL_SIGMA_RAD
GATES_PX = (40.0, 15.0, 6.0, 3.0)
LOSS_SCALE_PX = 0.5
MAX_SOLVE_POINTS = 2500
MIN_POINTS = 30


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
    away from the lit side.

    ``ck_prior``: the attitude a CK gives (same reference epoch): its spin axis is held to
    ± ``AXIS_PRIOR_RAD`` and its spin phase to ± ``CK_PHASE_PRIOR_RAD`` at the first and the
    last framelet epoch of the model (phase and rate both, then). A reconstructed CK
    knows the phase (star trackers) far better than the image's start time is known (IK: ~20 ms
    of jitter = 0.24° of spin), so with the phase held the limb's position along the scan
    measures the timing offset. A phase error in the CK itself is indistinguishable from a
    timing offset and is reported as one (phase error / spin rate). Without a CK the timing
    is held at the start's and its σ reported as the prior's: the spin phase then absorbs it, and
    its only other signal, the change of the target's apparent size (radial velocity × dt),
    is far below the limb detector's systematic bias.
    ``roll_prior``: (axis₀, unit direction d), both J2000: the spin axis's displacement from
    axis₀ along d (the direction a roll about the line of sight moves it) is held to
    0 ± ``TERMINATOR_ROLL_HOLD_RAD`` (the roll fixed by the terminator, see
    :func:`ioflyby.pointing.roll._roll_from_terminator`).

    Limb residuals are in pixels; each prior row is (parameter / prior σ) × σ_limb (the robust
    limb noise in px at the start of the fit), so that with the priors outside the robust loss
    the cost is, up to the factor σ_limb², the negative log-posterior Σ (r/σ_limb)² + Σ (p/σ_p)².
    """
    from scipy.optimize import least_squares  # imported on use: a map from a CK never loads it (CLI start-up)
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
    prior_weights = np.ones(result.fun.size - n)
    if roll_prior is not None:
        prior_weights[-1] = ROLL_HOLD_TO_SIGMA
    return replace(_apply(start, full(result.x)),
                   covariance=_formal_covariance(result, n, noise, free, model.framelet, prior_weights))


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


def _formal_covariance(
    result, n_points: int, prior_noise_px: float, free: np.ndarray, clusters: np.ndarray | None = None,
    prior_weights: np.ndarray | None = None,
) -> np.ndarray:
    """Covariance of all the parameters (physical units: s, rad, rad, rad, rad/s, rad, rad, px)
    from the final Jacobian of the ``free`` ones: the limb rows weighted by the final residual
    RMS (px), the prior rows (scaled by ``prior_noise_px`` in the fit) as unit-σ Gaussians. A
    held timing gets its prior's variance, a held alignment 0.

    ``clusters`` (one label per limb row, e.g. its framelet): limb residuals are correlated
    within a cluster (a framelet's limb sits off together: haze, per-filter offsets), which the
    formal covariance ignores; it is widened to the cluster-robust (sandwich) one wherever that
    is larger (:func:`cluster_robust`). ``prior_weights``: per prior row, its σ in the fit over its
    σ in the covariance (a hold that pins the fit is weighed by the accuracy of what it holds)."""
    covariance = np.zeros((_SCALES.size, _SCALES.size))
    covariance[0, 0] = TIMING_PRIOR_S**2
    covariance[np.ix_(free, free)] = free_covariance(
        result.jac, result.fun, n_points, prior_noise_px, clusters, prior_weights) * np.outer(_SCALES[free], _SCALES[free])
    return covariance


def free_covariance(
    jac: np.ndarray, fun: np.ndarray, n_points: int, prior_noise_px: float, clusters: np.ndarray | None = None,
    prior_weights: np.ndarray | None = None,
) -> np.ndarray:
    """Covariance of the fitted (scaled) parameters from a robust least-squares fit's final
    Jacobian ``jac`` and residuals ``fun`` (the first ``n_points`` rows limb residuals in px,
    the rest prior rows scaled by ``prior_noise_px``, each weighted by ``prior_weights``),
    widened for correlation within ``clusters`` (see :func:`_formal_covariance`); infinite where
    the information is singular."""
    rms = max(float(np.sqrt(np.mean(fun[:n_points] ** 2))) if n_points else 1.0, 1e-3)
    data, prior = jac[:n_points], jac[n_points:] / prior_noise_px
    if prior_weights is not None:
        prior = prior * np.asarray(prior_weights, float)[:, None]
    information = data.T @ data / rms**2 + prior.T @ prior
    try:
        formal = np.linalg.inv(information)
    except np.linalg.LinAlgError:
        return np.diag(np.full(jac.shape[1], np.inf))
    if clusters is None:
        return formal
    weight = (1.0 + (fun[:n_points] / LOSS_SCALE_PX) ** 2) ** -0.25  # soft-L1: √ρ′, as in the modified Jacobian
    scores = data * (weight * fun[:n_points] / rms**2)[:, None]
    labels = np.unique(clusters, return_inverse=True)[1]
    per_cluster = np.zeros((labels.max() + 1 if labels.size else 0, jac.shape[1]))
    np.add.at(per_cluster, labels, scores)
    sandwich = formal @ (per_cluster.T @ per_cluster + prior.T @ prior) @ formal
    return cluster_robust(formal, sandwich)


def cluster_robust(formal: np.ndarray, sandwich: np.ndarray) -> np.ndarray:
    """The covariance that equals ``formal`` except in the directions where ``sandwich`` (the
    cluster-robust estimate) is larger, which it takes: F^½ · max(I, F^-½ S F^-½) · F^½ (both
    symmetric positive semi-definite). With few clusters the sandwich is rank-deficient; the
    formal covariance then still bounds it from below."""
    values, vectors = np.linalg.eigh(formal)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    inverse_root = vectors * np.where(values > 0, 1.0 / np.sqrt(np.where(values > 0, values, 1.0)), 0.0)
    ratio_values, ratio_vectors = np.linalg.eigh(inverse_root.T @ sandwich @ inverse_root)
    widened = (ratio_vectors * np.maximum(ratio_values, 1.0)) @ ratio_vectors.T
    return root @ widened @ root.T


def inlier_indices(model: LimbModel, fit: LimbFit, gate: float, limit: int, advice: str) -> np.ndarray:
    """Indices of ``model``'s points on the lit limb ``fit`` predicts, within ``gate`` px of it,
    at most ``limit`` of them evenly chosen; PointingError (ending with ``advice``) when fewer
    than ``MIN_POINTS`` are."""
    keep = model.inliers(fit.attitude, fit.dt, fit.limb_offset_px, gate)
    if keep.sum() < MIN_POINTS:
        raise PointingError(
            f"only {int(keep.sum())} limb points lie within {gate:g} px of the predicted lit limb; {advice}"
        )
    chosen = np.nonzero(keep)[0]
    return chosen[np.linspace(0, chosen.size - 1, limit).round().astype(int)] if chosen.size > limit else chosen


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
        chosen = inlier_indices(model, fit, gate, MAX_SOLVE_POINTS,
                                "the starting attitude is too far off (load a CK, or check the target and kernels)")
        # From a CK (axis prior) the start is close and the alignment is fitted from the first
        # gate: withheld, the few-tenths-of-a-degree tilt it should take is absorbed early by a
        # roll about the line of sight, which the limb cannot undo later. From the global search
        # the start is rough, and a free alignment at wide gates trades against the unconstrained
        # roll instead; there it joins late.
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
