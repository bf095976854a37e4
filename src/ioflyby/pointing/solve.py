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
5. The quality verdict (``ioflyby.pointing.quality``): formal σ, limb coverage, residual drift,
   agreement with what is known of the spacecraft.

Framelet epochs start at the product's clock count through the SCLK, else its START_TIME
(``ioflyby.geometry.timing.product_start``). Several products of one perijove are solved
together by ``ioflyby.pointing.joint``, which uses :func:`prepare` and :func:`solve_prepared`.
The result is a ``PointingSolution`` (``ioflyby.pointing.solution``). Angles in radians inside,
degrees in reports; times s past J2000 TDB.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import spiceypy

from ioflyby.camera import JunoCam, junocam_scale
from ioflyby.errors import PointingError
from ioflyby.geometry import FrameletPoses, framelet_mid_ets, target_radii
from ioflyby.geometry.spin import SpinAttitude, camera_to_spacecraft
from ioflyby.geometry.timing import ProductStart, product_start
from ioflyby.pointing.fit import MIN_POINTS, LimbFit, _statistics, refine
from ioflyby.pointing.limb import LimbPoints, detect_limb
from ioflyby.pointing.model import LimbModel
from ioflyby.pointing.quality import assess
from ioflyby.pointing.roll import _roll_from_terminator, roll_direction, rolled
from ioflyby.pointing.search import RPM, global_search
from ioflyby.pointing.solution import PointingSolution
from ioflyby.spice import et_to_utc

__all__ = ["PRIORS", "PointingSolution", "Prepared", "build_model", "prepare", "roll_direction", "rolled",
           "solve_loaded", "solve_prepared"]

ALIGNMENT_LIMIT_RAD = np.radians(1.5)
GOOD_ENOUGH_RMS_PX = 1.5


PRIORS = ("auto", "ck", "search")


def build_model(
    product, points: LimbPoints, camera: JunoCam, target: str, start: ProductStart | None = None
) -> tuple[LimbModel, np.ndarray]:
    """The LimbModel of ``points`` (one ephemeris entry per framelet holding points) and the
    nominal framelet epochs [exposure, filter] from the product's ``start`` (default: see
    :func:`ioflyby.geometry.timing.product_start`)."""
    ets = framelet_mid_ets(product, camera, start)
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


@dataclass
class Prepared:
    """A product ready for the limb fit: its camera, target, limb model (``model``: detected limb
    points with their rays and per-framelet ephemeris), nominal framelet epochs ``ets``
    [exposure, filter] from its ``start``, the FK's camera → spacecraft rotation ``fk`` and
    whether a loaded CK covers it and is used as prior (``use_ck``)."""

    product: object
    camera: JunoCam
    target: str
    model: LimbModel
    ets: np.ndarray
    start: ProductStart
    fk: np.ndarray
    use_ck: bool

    @property
    def span(self) -> tuple[float, float]:
        """First and last nominal framelet epoch (s past J2000 TDB)."""
        return float(self.ets.min()), float(self.ets.max())

    def ck_attitude(self) -> SpinAttitude:
        """The loaded CK's spin model over the product's first seconds (phase at its start)."""
        t_lo, t_hi = self.span
        return SpinAttitude.from_ck(t_lo, min(t_hi, t_lo + 2.0) if t_hi > t_lo else t_lo + 1.0, self.start.et)


def prepare(product, prior: str = "auto", camera: JunoCam | None = None) -> Prepared:
    """Detect ``product``'s limb and build its limb model (kernels loaded); ``prior`` as in
    :func:`solve_loaded` decides whether a CK is used."""
    if prior not in PRIORS:
        raise PointingError(f"unknown pointing prior {prior!r}: choose one of {', '.join(PRIORS)}")
    camera = camera or JunoCam.from_kernel_pool(product.filters)
    target = product.target.strip().upper()
    points = detect_limb(product.decompanded())
    if len(points) < MIN_POINTS:
        raise PointingError(
            f"{product.product_id}: only {len(points)} limb points found; the pointing solve needs "
            f"the lit limb of {target} against the sky in the image"
        )
    start = product_start(product)
    model, ets = build_model(product, points, camera, target, start)
    use_ck = prior == "ck" or (prior == "auto" and _ck_available(float(ets.min()), float(ets.max())))
    return Prepared(product, camera, target, model, ets, start, camera_to_spacecraft(float(ets.flat[0])), use_ck)


def solve_loaded(product, prior: str = "auto", align: bool = False, camera: JunoCam | None = None) -> PointingSolution:
    """Solve the pointing of ``product`` (a ``RawProduct``) with kernels already loaded.

    ``prior``: ``"ck"`` (start from the loaded CK, error if none), ``"search"`` (global search,
    ignore any CK) or ``"auto"`` (CK if it covers the product, else search). ``align``: also
    fit the two-angle camera alignment; a fitted alignment beyond ``ALIGNMENT_LIMIT_RAD`` is not
    a camera's but a limb-model error it absorbed (e.g. a polar haze the ellipsoid lacks), so the
    product is solved again without it and ``rejected_alignment_deg`` says so. The solution
    carries its quality verdict (``solution.quality``, see ``ioflyby.pointing.quality``).
    """
    clock = time.perf_counter()
    solution = solve_prepared(prepare(product, prior, camera), align)[0]
    solution.seconds = time.perf_counter() - clock
    return solution


def solve_prepared(prepared: Prepared, align: bool) -> tuple[PointingSolution, LimbFit]:
    """The solution of a prepared product and its final fit (see :func:`solve_loaded`)."""
    fit, roll_source = _fit_prepared(prepared, align)
    rejected = None
    tilt = float(np.hypot(*fit.attitude.alignment))
    if tilt > ALIGNMENT_LIMIT_RAD:
        (fit, roll_source), rejected = _fit_prepared(prepared, False), float(np.degrees(tilt))
    quality = assess(prepared.model, fit, prepared.ets, prepared.target, junocam_scale().ifov_rad, prepared.use_ck,
                     limb_rms(prepared.model, fit))
    solution = solution_from_fit(prepared, fit, roll_source, quality, start="ck" if prepared.use_ck else "global-search")
    solution.rejected_alignment_deg = rejected
    return solution, fit


def limb_rms(model: LimbModel, fit: LimbFit) -> float:
    """RMS (px) of the fit's inlier limb residuals."""
    residual = model.residuals(fit.attitude, fit.dt, fit.limb_offset_px).residual_px[fit.keep]
    return float(np.sqrt(np.mean(residual**2))) if residual.size else float("nan")


def _fit_prepared(prepared: Prepared, align: bool) -> tuple[LimbFit, str]:
    """The limb fit of a prepared product from the CK or the global search's starts, the roll
    from the terminator where no CK; returns (fit, roll source)."""
    model, use_ck = prepared.model, prepared.use_ck
    starts = [prepared.ck_attitude()] if use_ck else global_search(model, prepared.fk)
    best = None
    for start in starts:
        try:
            fit = refine(model, LimbFit(start), align, ck_prior=start if use_ck else None)
        except PointingError:
            continue
        rms = limb_rms(model, fit)
        score = fit.keep.sum() - 10.0 * rms
        if best is None or score > best[0]:
            best = (score, fit)
        if fit.keep.sum() > 0.5 * len(model) and rms < GOOD_ENOUGH_RMS_PX:
            break  # a clearly right start: skip the other candidates
    if best is None:
        raise PointingError(
            f"{prepared.product.product_id}: the pointing solve did not converge from any starting attitude "
            f"({'CK' if use_ck else 'global search'}); check the kernels and the target name {prepared.target}"
        )
    fit = best[1]
    if use_ck:
        return fit, "ck"
    return _roll_from_terminator(model, fit, align, prepared.product, prepared.camera, prepared.target)


def solution_from_fit(prepared: Prepared, fit: LimbFit, roll_source: str, quality, start: str) -> PointingSolution:
    """The ``PointingSolution`` of a prepared product's final ``fit`` (statistics, formal σ, the
    phase re-referenced to the product's start) with its ``quality`` verdict."""
    product, ets = prepared.product, prepared.ets
    sigma = np.sqrt(np.clip(np.diag(fit.covariance), 0, None))
    rms, per_filter, per_framelet = _statistics(prepared.model, fit, product.filters, ets)
    # Report the phase at the product's start (clock count or START_TIME, see time_source).
    reference_et = prepared.start.et
    attitude = fit.attitude
    phase = attitude.phase + attitude.rate * (reference_et - attitude.reference_et)
    attitude = attitude.with_params(phase=float(np.angle(np.exp(1j * phase))), reference_et=reference_et)
    t_lo, t_hi = prepared.span
    return PointingSolution(
        product_id=product.product_id,
        target=prepared.target,
        attitude=attitude,
        timing_offset_s=float(fit.dt),
        limb_offset_px=float(fit.limb_offset_px),
        limb_rms_px=rms,
        roll_source=roll_source,
        n_limb_points=int(fit.keep.sum()),
        per_framelet=per_framelet,
        per_filter=per_filter,
        start=start,
        nominal_start_et=t_lo,
        nominal_stop_et=t_hi,
        reference_utc=et_to_utc(reference_et, 6),
        time_source=prepared.start.to_dict(),
        quality=quality,
        sigma={
            "timing_offset_s": float(sigma[0]),
            "spin_axis_ra_deg": float(np.degrees(sigma[1])),
            "spin_axis_dec_deg": float(np.degrees(sigma[2])),
            "spin_phase_deg": float(np.degrees(sigma[3])),
            "spin_rate_rpm": float(sigma[4] / RPM),
            "limb_offset_px": float(sigma[7]),
        },
    )
