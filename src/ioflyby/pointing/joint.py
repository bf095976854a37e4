"""Joint pointing solve of several products of one perijove: one spin axis, one spin rate and one
camera alignment shared by all, with each product's own spin phase, limb offset and (from a CK)
start-time offset.

Between manoeuvres Juno's spin axis hardly moves: in the reconstructed PJ1 CK it drifts by
``MEASURED_AXIS_DRIFT_DEG_PER_H`` (docs/conventions.md), i.e. by less than 0.015° over the
``MAX_JOINT_SPAN_S`` a joint solve accepts, ten times below what the limbs of a perijove's
products fix (~0.1°). So the axis is one direction for all of them; a product whose own limb
leaves it loose (a short limb near closest approach) borrows it from its neighbours, and a
product whose own axis disagrees with it (a manoeuvre in between, a wrong fit) is flagged by its
quality verdict.

Steps (:func:`solve_joint`): each product alone (``ioflyby.pointing.solve``); a shared start
from the products whose own solve was not refused (axis and rate weighted by their σ), each
product's phase re-expressed about it (or, where a product could not be solved alone, scanned
over 360°); then one robust least squares over all the products' limb points at shrinking gates,
with every single-product prior (limb offsets, timing and CK priors, terminator roll holds of the
products solved alone). Each product's ``PointingSolution`` carries its quality verdict, with one
more check: its own axis against the shared one, in units of their combined σ.

Parameters inside the fit (scaled, see ``_SHARED_SCALES``): shared spin-axis RA, Dec (rad,
J2000), rate (rad/s), camera alignment (rad, rad); per product timing offset (s), phase (rad),
limb offset (px). Times s past J2000 TDB.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ioflyby.camera import junocam_scale
from ioflyby.errors import PointingError
from ioflyby.geometry.spin import SpinAttitude, axis_basis, axis_ra_dec, split_about_z
from ioflyby.pointing.fit import (
    ALIGNMENT_PRIOR_RAD,
    AXIS_PRIOR_RAD,
    CK_PHASE_PRIOR_RAD,
    LIMB_OFFSET_PRIOR_PX,
    LOSS_SCALE_PX,
    MAX_SOLVE_POINTS,
    ROLL_HOLD_TO_SIGMA,
    TERMINATOR_ROLL_HOLD_RAD,
    TIMING_PRIOR_S,
    LimbFit,
    _axis_offset,
    _noise_px,
    _phase_offsets,
    _robust_loss,
    free_covariance,
    inlier_indices,
)
from ioflyby.pointing.quality import AXIS_DISAGREEMENT_SIGMA, assess, axis_sigma_deg, upper_check
from ioflyby.pointing.roll import _line_of_sight, roll_direction
from ioflyby.pointing.search import RPM, _roll_score
from ioflyby.pointing.solution import PointingSolution
from ioflyby.pointing.solve import Prepared, limb_rms, prepare, solution_from_fit, solve_prepared
from ioflyby.spice import et_to_utc

MEASURED_AXIS_DRIFT_DEG_PER_H = 0.0011
"""How fast Juno's spin axis moved between the two real PJ1 CK slices (45 min apart)."""
MAX_JOINT_SPAN_S = 12 * 3600.0
"""Products more than this apart are not one perijove's pass (manoeuvres may lie between)."""
JOINT_GATES_PX = (15.0, 6.0, 3.0)
MIN_JOINT_POINTS = 800
"""Limb points per product in a joint fit: ``MAX_SOLVE_POINTS`` shared among the products, at least this."""
JOINT_RMS_GROWTH_PX = 0.3
"""A product whose limb RMS grows by more than this from its own solve to the joint one does not
share the others' spin model: it is refitted against theirs instead of shaping it."""
_SHARED = 5  # ra, dec, rate, alignment x, y
_PER_PRODUCT = 3  # timing offset, phase, limb offset
_SHARED_SCALES = np.array([1e-3, 1e-3, 1e-3, 1e-3, 1e-3])
_PRODUCT_SCALES = np.array([1e-3, 1e-3, 0.1])
_STEP = 1e-2
_PHASE_SCAN_DEG = 1.0
_SCAN_POINTS = 800


@dataclass
class _Member:
    """One product in the joint solve: prepared limb model, its own solution (None where it
    could not be solved alone, with ``error`` saying why) and fixed per-product terms."""

    prepared: Prepared
    individual: PointingSolution | None
    individual_fit: LimbFit | None
    error: str
    epoch: float
    ck: SpinAttitude | None
    roll_hold: tuple[np.ndarray, np.ndarray] | None

    @property
    def trusted(self) -> bool:
        """Its own solution exists and its quality gates did not refuse it."""
        return self.individual is not None and self.individual.verdict != "refused"


@dataclass
class JointSolution:
    """Products of one perijove solved together: ``solutions`` (one per product, in order, each
    with its quality verdict), the products' own solutions (``individual``; None where a
    product could not be solved alone, ``individual_errors`` says why), the shared spin axis and
    rate with their formal σ (``reference_et``: the mean of the products' mid-epochs).
    ``anchors``: the products whose limbs shaped the shared spin model; the others (solved alone
    with a refused verdict, or not at all, or whose limb would not share it) were fitted to it."""

    solutions: list[PointingSolution]
    individual: list[PointingSolution | None]
    individual_errors: list[str]
    anchors: list[str]
    axis_ra_deg: float
    axis_dec_deg: float
    rate_rpm: float
    reference_et: float
    reference_utc: str
    sigma: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    map_rotation: dict | None = None
    """Joint surface-feature solve only (``ioflyby.pointing.jointsurface``): the reference map's
    fitted rotation (deg, body frame) with its σ."""

    def to_dict(self) -> dict:
        """JSON-ready summary (degrees, rpm, UTC)."""
        return {
            "products": [s.product_id for s in self.solutions],
            "anchors": self.anchors,
            "spin_axis_ra_deg": self.axis_ra_deg,
            "spin_axis_dec_deg": self.axis_dec_deg,
            "reference_utc": self.reference_utc,
            "spin_axis_model": f"one axis for all the products (Juno's measured drift {MEASURED_AXIS_DRIFT_DEG_PER_H} deg/h)",
            "spin_rate_rpm": self.rate_rpm,
            "formal_sigma": self.sigma,
            "verdicts": {s.product_id: s.verdict for s in self.solutions},
            "individual": [None if s is None else {
                "product_id": s.product_id, "spin_axis_ra_deg": float(np.degrees(s.attitude.ra)),
                "spin_axis_dec_deg": float(np.degrees(s.attitude.dec)), "spin_rate_rpm": s.attitude.rate_rpm,
                "limb_rms_px": s.limb_rms_px, "verdict": s.verdict, "formal_sigma": s.sigma,
            } for s in self.individual],
            "individual_errors": self.individual_errors,
            "solve_seconds": self.seconds,
            **({"map_rotation": self.map_rotation} if self.map_rotation is not None else {}),
        }


def prepare_joint(products: Sequence, prior: str) -> list[Prepared]:
    """Each product prepared for a joint solve (limb points, prior), refused unless there are at
    least two and they lie within :data:`MAX_JOINT_SPAN_S` of each other (one perijove)."""
    if len(products) < 2:
        raise PointingError("a joint pointing solve needs at least two products of one perijove")
    prepared = [prepare(product, prior) for product in products]
    epochs = np.array([np.mean(p.span) for p in prepared])
    if np.ptp(epochs) > MAX_JOINT_SPAN_S:
        raise PointingError(
            f"the products span {np.ptp(epochs) / 3600:.1f} h; a joint solve shares one spin axis, so give "
            f"products of one perijove (within {MAX_JOINT_SPAN_S / 3600:g} h)"
        )
    return prepared


def solve_joint(products: Sequence, prior: str = "auto", align: bool = True, reference=None) -> JointSolution:
    """Solve the pointing of several products of one perijove together (kernels loaded; see the
    module docstring). ``prior`` and ``align`` as in :func:`ioflyby.pointing.solve_loaded`.
    ``reference`` (a ``ReferenceMap``): solve from the limbs and surface features together, with
    one rotation of the map shared by all (``ioflyby.pointing.jointsurface``)."""
    if reference is not None:
        from ioflyby.pointing.jointsurface import solve_joint_features

        return solve_joint_features(products, reference, prior, align)
    clock = time.perf_counter()
    members = [_member(p, align) for p in prepare_joint(products, prior)]
    state = _JointState.start(members, _shared_start(members), align)
    anchors = [k for k, m in enumerate(members) if m.trusted] or [_best_member(members)]
    state = state.fitted(anchors, JOINT_GATES_PX)
    while len(anchors) > 2 and (outlier := _worst_outlier(state, anchors)) is not None:
        anchors.remove(outlier)
        state = state.fitted(anchors, JOINT_GATES_PX[-2:])
    for k in range(len(members)):
        if k not in anchors:
            state = state.fitted([k], JOINT_GATES_PX, hold_shared=True)
    solutions = [_member_solution(state, k, k in anchors) for k in range(len(members))]
    return _joint_solution(state, solutions, anchors, time.perf_counter() - clock)


# -- members and the shared start -------------------------------------------------------------------
def _member(prepared: Prepared, align: bool) -> _Member:
    """A product's own solve (its failure noted, not raised: the joint solve may still place it)."""
    t_lo, t_hi = prepared.span
    ck = prepared.ck_attitude() if prepared.use_ck else None
    try:
        individual, fit = solve_prepared(prepared, align)
    except PointingError as exc:
        return _Member(prepared, None, None, str(exc), 0.5 * (t_lo + t_hi), ck, None)
    hold = None
    if individual.roll_source == "terminator" and individual.verdict != "refused":
        u = _line_of_sight(prepared.model, fit.attitude.reference_et)
        hold = (fit.attitude.axis, roll_direction(fit.attitude, u))
    return _Member(prepared, individual, fit, "", 0.5 * (t_lo + t_hi), ck, hold)


def _shared_start(members: list[_Member]) -> SpinAttitude:
    """Axis (weighted by 1/σ²), rate and alignment from the products solved alone and not
    refused (else the one with the smallest axis σ); phase 0 at the first product's start."""
    solved = [m for m in members if m.individual is not None]
    if not solved:
        raise PointingError(
            "no product of the set could be solved on its own: "
            + "; ".join(m.error for m in members)
        )
    chosen = [m for m in solved if m.trusted] or [members[_best_member(members)]]
    weights = np.array([1.0 / max(axis_sigma_deg(m.individual_fit), 1e-4) ** 2 for m in chosen])
    axis = np.sum([w * m.individual_fit.attitude.axis for w, m in zip(weights, chosen)], axis=0)
    rate = float(np.average([m.individual_fit.attitude.rate for m in chosen], weights=weights))
    alignment = tuple(np.average([m.individual_fit.attitude.alignment for m in chosen], axis=0, weights=weights))
    template = chosen[0].individual_fit.attitude
    ra, dec = axis_ra_dec(axis)
    return SpinAttitude(ra, dec, 0.0, rate, members[0].prepared.start.et, template.camera_to_spacecraft,
                        (float(alignment[0]), float(alignment[1])))


def _best_member(members: list[_Member]) -> int:
    """Index of the product solved alone with the smallest spin-axis σ (for a set with none
    trusted)."""
    sigmas = [axis_sigma_deg(m.individual_fit) if m.individual_fit is not None else np.inf for m in members]
    return int(np.argmin(sigmas))


def _worst_outlier(state: _JointState, anchors: list[int]) -> int | None:
    """The anchor whose limb RMS grew most in the joint fit over its own solve, if by more than
    ``JOINT_RMS_GROWTH_PX``: its limb does not share the others' spin model (else None)."""
    growth = {}
    for k in anchors:
        member = state.members[k]
        if member.individual is not None:
            growth[k] = limb_rms(member.prepared.model, state.member_fit(k)) - member.individual.limb_rms_px
    worst = max(growth, key=growth.get, default=None)
    return worst if worst is not None and growth[worst] > JOINT_RMS_GROWTH_PX else None


def _phase_about(shared: SpinAttitude, camera_to_j2000: np.ndarray, et: float, reference_et: float) -> float:
    """Phase (rad, at ``reference_et``) of ``shared``'s axis, rate and alignment that puts the
    camera closest to ``camera_to_j2000`` at ``et``."""
    fixed = shared.alignment_matrix() @ shared.camera_to_spacecraft
    about_z = axis_basis(shared.ra, shared.dec).T @ camera_to_j2000 @ fixed.T
    angle, _ = split_about_z(about_z)
    return float(angle - shared.rate * (et - reference_et))


def _scanned_phase(member: _Member, shared: SpinAttitude) -> float:
    """Phase (rad, at the product's start) of ``shared`` that places the most limb points near
    the predicted lit limb, over a 360° scan (for a product not solved alone)."""
    model = member.prepared.model
    rng = np.random.default_rng(0)
    sub = model.subset(np.sort(rng.choice(len(model), min(len(model), _SCAN_POINTS), replace=False)))
    reference = member.prepared.start.et
    phases = np.radians(np.arange(0.0, 360.0, _PHASE_SCAN_DEG))
    scores = [_roll_score(sub, shared.with_params(phase=float(p), reference_et=reference)) for p in phases]
    return float(phases[int(np.argmax(scores))])


# -- the joint fit ----------------------------------------------------------------------------------
@dataclass
class _JointState:
    """Shared and per-product parameters (physical units) with the inliers and covariance of the
    last fits. ``shared``: ra, dec, rate, alignment x, y; ``per_product`` (K, 3): timing offset,
    phase, limb offset; ``covariance`` over (shared, per_product flattened)."""

    members: list[_Member]
    align: bool
    shared: np.ndarray
    per_product: np.ndarray
    reference_et: float
    camera_to_spacecraft: np.ndarray
    keep: dict[int, np.ndarray] = field(default_factory=dict)
    covariance: np.ndarray | None = None

    @classmethod
    def start(cls, members: list[_Member], shared: SpinAttitude, align: bool) -> _JointState:
        per_product = np.zeros((len(members), _PER_PRODUCT))
        for k, member in enumerate(members):
            reference = member.prepared.start.et
            fit = member.individual_fit
            if fit is None:
                per_product[k] = (0.0, _scanned_phase(member, shared), 0.0)
                continue
            et = float(np.median(member.prepared.model.ephemeris.et))
            phase = _phase_about(shared, fit.attitude.camera_to_j2000(et, fit.dt), et, reference)
            per_product[k] = (fit.dt if member.ck is not None else 0.0, phase, fit.limb_offset_px)
        reference_et = float(np.mean([m.epoch for m in members]))
        values = np.array([shared.ra, shared.dec, shared.rate, *shared.alignment])
        n = _SHARED + _PER_PRODUCT * len(members)
        return cls(members, align, values, per_product, reference_et, shared.camera_to_spacecraft,
                   covariance=np.zeros((n, n)))

    def attitude(self, k: int, shared: np.ndarray | None = None, own: np.ndarray | None = None) -> SpinAttitude:
        """Product ``k``'s spin model (the shared axis, rate and alignment; its phase at its start)."""
        shared = self.shared if shared is None else shared
        own = self.per_product[k] if own is None else own
        return SpinAttitude(float(shared[0]), float(shared[1]), float(own[1]), float(shared[2]),
                            self.members[k].prepared.start.et,
                            self.camera_to_spacecraft, (float(shared[3]), float(shared[4])))

    def member_fit(self, k: int) -> LimbFit:
        """Product ``k``'s state as a single-product ``LimbFit`` (its covariance mapped from the
        joint one, see :meth:`member_covariance`)."""
        own = self.per_product[k]
        return LimbFit(self.attitude(k), float(own[0]), float(own[2]), self.keep.get(k), self.member_covariance(k))

    def member_covariance(self, k: int) -> np.ndarray:
        """Covariance (8 × 8, the single-product order: timing, RA, Dec, phase, rate, alignment
        x, y, limb offset) of product ``k``'s parameters, from the joint covariance."""
        own = _SHARED + _PER_PRODUCT * k
        rows = [own, 0, 1, own + 1, 2, 3, 4, own + 2]
        return self.covariance[np.ix_(rows, rows)]

    def fitted(self, active: Sequence[int], gates: Sequence[float], hold_shared: bool = False) -> _JointState:
        """Refit the products ``active`` (indices) at shrinking ``gates`` (px) from this state:
        the shared parameters with their own, or, with ``hold_shared``, their own alone."""
        state = self
        for gate in gates:
            limit = max(MAX_SOLVE_POINTS // len(active), MIN_JOINT_POINTS)
            subsets = {k: _inlier_subset(state, k, gate, limit) for k in active}
            state = _least_squares(state, subsets, hold_shared)
        keep = dict(state.keep)
        for k in active:
            fit = state.member_fit(k)
            keep[k] = state.members[k].prepared.model.inliers(fit.attitude, fit.dt, fit.limb_offset_px, gates[-1])
        return replace(state, keep=keep)


def _inlier_subset(state: _JointState, k: int, gate: float, limit: int):
    """Product ``k``'s limb points within ``gate`` px of the lit limb the joint solution predicts
    (at most ``limit``, evenly chosen) as a LimbModel."""
    member = state.members[k]
    model = member.prepared.model
    try:
        chosen = inlier_indices(model, state.member_fit(k), gate, limit,
                                "is it of the same perijove and target as the others?")
    except PointingError as exc:
        raise PointingError(f"{member.prepared.product.product_id} in the joint solve: {exc}") from None
    return model.subset(chosen)


def _least_squares(state: _JointState, subsets: dict, hold_shared: bool) -> _JointState:
    """One robust least-squares fit to the limb points in ``subsets`` (product index → LimbModel)
    of those products' own parameters and, unless ``hold_shared``, the shared ones; priors as in
    ``ioflyby.pointing.fit._fit``. The covariance blocks of the fitted parameters are replaced."""
    from scipy.optimize import least_squares  # imported on use: a map from a CK never loads it (CLI start-up)
    active = sorted(subsets)
    shared_free = np.array([not hold_shared] * 3 + [state.align and not hold_shared] * 2)
    product_free = np.ones((len(active), _PER_PRODUCT), bool)
    product_free[:, 0] = [state.members[k].ck is not None for k in active]
    product_scale = np.tile(_PRODUCT_SCALES, (len(active), 1))
    initial = {k: subsets[k].residuals(state.attitude(k), state.per_product[k, 0], state.per_product[k, 2])
               for k in active}
    inverse_scale = {k: 1.0 / r.gradient_rad_per_px for k, r in initial.items()}
    noise = float(np.median([_noise_px(r.residual_px) for r in initial.values()]))
    bounds = np.cumsum([0, *(len(subsets[k]) for k in active)])
    n_data = int(bounds[-1])
    spans = {k: (float(subsets[k].ephemeris.et.min()), float(subsets[k].ephemeris.et.max())) for k in active}
    n_shared_free = int(shared_free.sum())

    def unpack(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        shared, per_product = state.shared.copy(), state.per_product.copy()
        shared[shared_free] += x[:n_shared_free] * _SHARED_SCALES[shared_free]
        own = per_product[active]
        own[product_free] += x[n_shared_free:] * product_scale[product_free]
        per_product[active] = own
        return shared, per_product

    def limb(k: int, shared: np.ndarray, own: np.ndarray) -> np.ndarray:
        values = subsets[k].limb_angle(state.attitude(k, shared, own), own[0]) * inverse_scale[k] - own[2]
        return np.nan_to_num(values, nan=100.0)

    def prior_rows(shared: np.ndarray, per_product: np.ndarray) -> tuple[list[float], list[float]]:
        """Prior rows (in units of their σ) and each one's weight in the covariance
        (``ROLL_HOLD_TO_SIGMA`` for a terminator roll hold, else 1)."""
        rows, weights = [], []
        if state.align and not hold_shared:
            rows += [shared[3] / ALIGNMENT_PRIOR_RAD, shared[4] / ALIGNMENT_PRIOR_RAD]
        for k in active:
            member, own = state.members[k], per_product[k]
            rows.append(own[2] / LIMB_OFFSET_PRIOR_PX)
            attitude = state.attitude(k, shared, own)
            if member.ck is not None:
                rows.append(own[0] / TIMING_PRIOR_S)
                rows += list(_axis_offset(attitude, member.ck) / AXIS_PRIOR_RAD)
                rows += [p / CK_PHASE_PRIOR_RAD for p in _phase_offsets(attitude, member.ck, spans[k])]
            if member.roll_hold is not None and not hold_shared:
                axis, direction = member.roll_hold
                weights += [1.0] * (len(rows) - len(weights)) + [ROLL_HOLD_TO_SIGMA]
                rows.append(float((attitude.axis - axis) @ direction) / TERMINATOR_ROLL_HOLD_RAD)
        return rows, weights + [1.0] * (len(rows) - len(weights))

    def priors(shared: np.ndarray, per_product: np.ndarray) -> np.ndarray:
        return noise * np.asarray(prior_rows(shared, per_product)[0])

    def fun(x: np.ndarray) -> np.ndarray:
        shared, per_product = unpack(x)
        return np.concatenate([limb(k, shared, per_product[k]) for k in active] + [priors(shared, per_product)])

    owner = np.concatenate([np.full(int(f.sum()), i) for i, f in enumerate(product_free)])

    def jacobian(x: np.ndarray) -> np.ndarray:
        """Forward differences; a product's own parameters move only its limb rows and the priors."""
        f0 = fun(x)
        columns = []
        for j in range(x.size):
            moved = x.copy()
            moved[j] += _STEP
            if j < n_shared_free:
                columns.append((fun(moved) - f0) / _STEP)
                continue
            i = int(owner[j - n_shared_free])
            shared, per_product = unpack(moved)
            column = np.zeros_like(f0)
            rows = slice(bounds[i], bounds[i + 1])
            column[rows] = (limb(active[i], shared, per_product[active[i]]) - f0[rows]) / _STEP
            column[n_data:] = (priors(shared, per_product) - f0[n_data:]) / _STEP
            columns.append(column)
        return np.stack(columns, axis=1)

    result = least_squares(fun, np.zeros(n_shared_free + int(product_free.sum())), jac=jacobian,
                           loss=_robust_loss(n_data), f_scale=LOSS_SCALE_PX, x_scale=1.0, xtol=1e-6, ftol=1e-6,
                           max_nfev=60)
    shared, per_product = unpack(result.x)
    per_product[:, 1] = np.angle(np.exp(1j * per_product[:, 1]))
    clusters = np.concatenate([subsets[k].framelet + 100000 * k for k in active])
    own_index = (_SHARED + _PER_PRODUCT * np.asarray(active)[:, None] + np.arange(_PER_PRODUCT)).reshape(-1)
    free_index = np.concatenate([np.nonzero(shared_free)[0], own_index[product_free.reshape(-1)]])
    free_scales = np.concatenate([_SHARED_SCALES[shared_free], product_scale[product_free]])
    covariance = state.covariance.copy()
    if not hold_shared:
        covariance[:_SHARED, :] = covariance[:, :_SHARED] = 0.0
    covariance[own_index, :] = covariance[:, own_index] = 0.0
    held_timing = own_index[~product_free.reshape(-1)]
    covariance[held_timing, held_timing] = TIMING_PRIOR_S**2
    weights = prior_rows(shared, per_product)[1]
    covariance[np.ix_(free_index, free_index)] = (
        free_covariance(result.jac, result.fun, n_data, noise, clusters, weights) * np.outer(free_scales, free_scales))
    return replace(state, shared=shared, per_product=per_product, covariance=covariance)


# -- results ----------------------------------------------------------------------------------------
def _member_solution(state: _JointState, k: int, anchor: bool) -> PointingSolution:
    """Product ``k``'s ``PointingSolution`` from the joint state, with its quality verdict and
    the agreement of its own axis with the shared one; ``anchor``: it shaped the shared spin
    model (else it was fitted against it)."""
    member = state.members[k]
    prepared = member.prepared
    fit = state.member_fit(k)
    quality = assess(prepared.model, fit, prepared.ets, prepared.target, junocam_scale().ifov_rad,
                     member.ck is not None, limb_rms(prepared.model, fit), axis_from_neighbours=not anchor)
    if member.individual_fit is not None:
        own, joint = member.individual_fit.attitude.axis, fit.attitude.axis
        separation = float(np.degrees(np.arccos(np.clip(own @ joint, -1.0, 1.0))))
        combined = float(np.hypot(axis_sigma_deg(member.individual_fit), axis_sigma_deg(fit)))
        quality = quality.with_checks([upper_check(
            "axis_agreement", separation / max(combined, 1e-9), AXIS_DISAGREEMENT_SIGMA, "sigma",
            f"its own spin axis ({separation:.3f} deg away) disagrees with the other products' by")])
    roll_source = "ck" if member.ck is not None else (
        "terminator" if any(m.roll_hold is not None for m in state.members) else "limb")
    start = "ck" if member.ck is not None else "global-search"
    role = "joint" if anchor else "joint, fitted to the others' axis"
    return solution_from_fit(prepared, fit, roll_source, quality, start=f"{role} ({start})")


def _joint_solution(
    state: _JointState, solutions: list[PointingSolution], anchors: list[int], seconds: float
) -> JointSolution:
    sigma = np.sqrt(np.clip(np.diag(state.covariance)[:_SHARED], 0, None))
    for solution in solutions:
        solution.seconds = seconds
    return JointSolution(
        solutions=solutions,
        individual=[m.individual for m in state.members],
        individual_errors=[m.error for m in state.members],
        anchors=[solutions[k].product_id for k in anchors],
        axis_ra_deg=float(np.degrees(state.shared[0]) % 360.0),
        axis_dec_deg=float(np.degrees(state.shared[1])),
        rate_rpm=float(state.shared[2] / RPM),
        reference_et=state.reference_et,
        reference_utc=et_to_utc(state.reference_et, 3),
        sigma={
            "spin_axis_ra_deg": float(np.degrees(sigma[0])),
            "spin_axis_dec_deg": float(np.degrees(sigma[1])),
            "spin_rate_rpm": float(sigma[2] / RPM),
        },
        seconds=seconds,
    )
