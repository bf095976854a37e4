"""Solving JunoCam pointing from the target's limb: timing offset, spin axis, phase and rate.

Pipeline (``solve_loaded``):

1. Detect sub-pixel limb points in every framelet (``ioflyby.pointing.limb.detect_limb``).
2. Starting attitude, either from a loaded CK (``SpinAttitude.from_ck``) or, with no CK, from a
   global search that assumes nothing about the spin-axis direction
   (``ioflyby.pointing.search``).
3. Robust least squares of the spin attitude, a limb offset and optionally a camera alignment;
   the timing offset only from a CK (``ioflyby.pointing.fit``).
4. With no CK, the roll about the line of sight from the terminator on the disc wherever one is
   in view (``ioflyby.pointing.roll``).

The result is a ``PointingSolution`` (``ioflyby.pointing.solution``). Angles in radians inside,
degrees in reports; times s past J2000 TDB.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import spiceypy

from ioflyby.camera import JunoCam
from ioflyby.errors import PointingError
from ioflyby.geometry import FrameletPoses, framelet_mid_ets, target_radii
from ioflyby.geometry.spin import SpinAttitude, camera_to_spacecraft
from ioflyby.pointing.fit import MIN_POINTS, LimbFit, _statistics, refine
from ioflyby.pointing.limb import LimbPoints, detect_limb
from ioflyby.pointing.model import LimbModel
from ioflyby.pointing.roll import _roll_from_terminator, roll_direction, rolled
from ioflyby.pointing.search import RPM, global_search
from ioflyby.pointing.solution import PointingSolution
from ioflyby.spice import et_to_utc, utc_to_et

__all__ = ["PRIORS", "PointingSolution", "build_model", "roll_direction", "rolled", "solve_loaded"]

ALIGNMENT_LIMIT_RAD = np.radians(1.5)
GOOD_ENOUGH_RMS_PX = 1.5


PRIORS = ("auto", "ck", "search")


def build_model(product, points: LimbPoints, camera: JunoCam, target: str) -> tuple[LimbModel, np.ndarray]:
    """The LimbModel of ``points`` (one ephemeris entry per framelet holding points) and the
    nominal framelet epochs [exposure, filter]."""
    ets = framelet_mid_ets(product, camera)
    keys = points.exposure * len(product.filters) + points.filter_index
    unique, framelet_of_point = np.unique(keys, return_inverse=True)
    nominal = ets.reshape(-1)[unique]
    # The attitude is what the fit solves: these poses carry the ephemeris, with an identity placeholder.
    eph = FrameletPoses.from_spice(target, nominal, camera_to_j2000=np.broadcast_to(np.eye(3), (nominal.size, 3, 3)))
    return LimbModel(points, framelet_of_point, eph, camera, product.filters, target_radii(target)), ets


def _ck_available(et_a: float, et_b: float) -> bool:
    try:
        spiceypy.pxform("JUNO_SPACECRAFT", "J2000", et_a)
        spiceypy.pxform("JUNO_SPACECRAFT", "J2000", et_b)
        return True
    except spiceypy.utils.exceptions.SpiceyError:
        return False


def solve_loaded(product, prior: str = "auto", align: bool = False, camera: JunoCam | None = None) -> PointingSolution:
    """Solve the pointing of ``product`` (a ``RawProduct``) with kernels already loaded.

    ``prior``: ``"ck"`` (start from the loaded CK, error if none), ``"search"`` (global search,
    ignore any CK) or ``"auto"`` (CK if it covers the product, else search). ``align``: also
    fit the two-angle camera alignment; a fitted alignment beyond ``ALIGNMENT_LIMIT_RAD`` is not
    a camera's but a limb-model error it absorbed (e.g. a polar haze the ellipsoid lacks), so the
    product is solved again without it and ``rejected_alignment_deg`` says so.
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
