"""Joint surface-feature solve of several products of one perijove: the limb and tie points of
every product in one least squares, with one spin axis, spin rate and camera alignment (as in
``ioflyby.pointing.joint``), one **rotation of the reference map** (three small angles in the
body frame) and, per product, its spin phase, limb offset, timing offset (from a CK only) and
the map's local shift across its line of sight (``tiefit``'s map offset).

Why jointly: one image cannot tell the reference map's own small rotation about its line of
sight (Io mosaics: 0.06–0.1° over an image's footprint, docs/pointing.md) from the camera's roll
about it. Images of one pass see the target from directions up to ~100° apart, so a map
rotation turns each image's tie points about a different axis, while the camera rolls of all
images follow one spin axis; fitted together, the map's rotation and the camera's are told apart.

What the map's rotation leaves: the mosaic is not a rigid body. Besides the shared rotation
(prior σ: the georeference's ``registration_sigma_deg`` on each axis) each product gets its own
local rotation about its line of sight (prior σ: ``Georeference.rotation_sigma_deg`` of its tie
points' footprint). Both are parameters of the fit, so the formal roll σ of every product
carries what they leave undetermined; the quality verdict takes it as it is (no further map σ
added, unlike the single-product solve, where that σ cannot be reduced).

Steps (:func:`solve_joint_features`): each product alone (``surface.solve_alone``); the shared
start (axis, rate, alignment weighted by the products' axis σ; each phase re-expressed about
it); the joint fit on the single solves' limb and tie inliers; the tie points matched again with
the joint poses (±``SEARCH_BINNED[1]`` binned px), re-selected at 3 σ and fitted again.

Parameters (physical units in the state, scaled in the fit): shared spin-axis RA, Dec (rad),
rate (rad/s), alignment x, y (rad), map rotation x, y, z (rad, body frame); per product timing
offset (s), phase (rad, at its start), limb offset (px), map shift east, north (km), local map
rotation about its line of sight (rad). Times s past J2000 TDB.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ioflyby.camera import junocam_scale
from ioflyby.errors import PointingError
from ioflyby.geometry.spin import SpinAttitude, axis_ra_dec
from ioflyby.pointing.features import FrameletProjector, match_product
from ioflyby.pointing.fit import (
    ALIGNMENT_PRIOR_RAD,
    AXIS_PRIOR_RAD,
    CK_PHASE_PRIOR_RAD,
    GATES_PX,
    LIMB_OFFSET_PRIOR_PX,
    TIMING_PRIOR_S,
    LimbFit,
    _axis_offset,
    _noise_px,
    _phase_offsets,
    _robust_loss,
    free_covariance,
)
from ioflyby.pointing.joint import JointSolution, _phase_about, prepare_joint
from ioflyby.pointing.quality import assess_features, axis_sigma_deg, upper_check
from ioflyby.pointing.reference import ReferenceMap
from ioflyby.pointing.search import RPM
from ioflyby.pointing.solution import PointingSolution
from ioflyby.pointing.solve import Prepared, solution_from_fit
from ioflyby.pointing.surface import (
    MIN_TIE_GATE_PX,
    SEARCH_BINNED,
    TIE_GATE_SIGMAS,
    SurfaceSolve,
    _ephemeris,
    _tie_model,
    solve_alone,
    tie_statistics,
)
from ioflyby.pointing.tiefit import (
    LOSS_SCALE_SIGMA,
    MAP_OFFSET_PRIOR_KM,
    FeatureFit,
    TieModel,
    map_axes,
    robust_sigma,
)
from ioflyby.spice import et_to_utc

JOINT_LIMB_POINTS = 1000
"""Limb points per product in the joint fit (evenly chosen from its limb inliers)."""
MAP_ROTATION_DISAGREEMENT_SIGMA = (3.0, 5.0)
"""The fitted shared map rotation against its prior σ: good within 3 σ, degraded within 5 σ."""
_SHARED = 8  # ra, dec, rate, alignment x, y, map rotation x, y, z
_OWN = 6  # timing, phase, limb offset, map east, map north (km), local map roll (rad)
_SHARED_SCALES = np.full(_SHARED, 1e-3)
_OWN_SCALES = np.array([1e-3, 1e-3, 0.1, 1.0, 1.0, 1e-3])
_STEP = 1e-4
_STEP_TIMING = 1e-2
_TIE_FLOOR_PX = 0.3


@dataclass
class _Piece:
    """One product in the joint fit: its own solve, the limb and tie points used, their robust
    σ, whether its timing is fitted (from a CK), its CK spin model and its map axes."""

    prepared: Prepared
    alone: SurfaceSolve
    limb: object | None
    ties: TieModel
    ck: SpinAttitude | None
    map_sigma_rad: float

    @property
    def fit_timing(self) -> bool:
        return self.ck is not None


def solve_joint_features(products: Sequence, reference: ReferenceMap, prior: str = "auto",
                         align: bool = True) -> JointSolution:
    """Solve several products of one perijove together from their limbs and tie points to
    ``reference`` (kernels loaded; see the module docstring); ``prior`` and ``align`` as in
    :func:`ioflyby.pointing.solve_loaded`. A product whose own solve is refused (or finds no tie
    point) keeps its own solution and verdict and does not shape the joint one."""
    clock = time.perf_counter()
    prepared = prepare_joint(products, prior)
    alone = [solve_alone(p, reference, align) for p in prepared]
    members = [k for k, s in enumerate(alone) if s.solution.verdict != "refused" and s.ties is not None]
    if len(members) < 2:
        raise PointingError(
            "fewer than two of the products could be solved from their own limb and surface features ("
            + "; ".join(f"{s.solution.product_id}: {s.solution.verdict}" for s in alone)
            + "): a joint surface-feature solve needs two; solve them one by one or give a better basemap")
    pieces = [_piece(prepared[k], alone[k], reference) for k in members]
    state = _JointState.start(pieces, align)
    state = _least_squares(state)
    for gate_pass in range(2):
        pieces = [_rematched(state, i, reference, gate_pass == 0) for i in range(len(pieces))]
        state = _least_squares(replace(state, pieces=pieces))
    solutions = [s.solution for s in alone]
    for i, k in enumerate(members):
        solutions[k] = _member_solution(state, i, reference)
    return _joint_solution(state, solutions, alone, [prepared[k].product.product_id for k in members],
                           reference, time.perf_counter() - clock)


def _piece(prepared: Prepared, alone: SurfaceSolve, reference: ReferenceMap) -> _Piece:
    state = alone.state
    ties = alone.ties.subset(np.nonzero(state.tie_keep)[0])
    limb = alone.limb
    if limb is not None and len(limb) > JOINT_LIMB_POINTS:
        limb = limb.subset(np.linspace(0, len(limb) - 1, JOINT_LIMB_POINTS).round().astype(int))
    footprint = alone.solution.tie_points["footprint_radius_deg"] or 0.0
    ck = prepared.ck_attitude() if prepared.use_ck else None
    return _Piece(prepared, alone, limb, ties, ck,
                  float(np.radians(reference.georeference.rotation_sigma_deg(footprint))))


@dataclass
class _JointState:
    """Shared (``_SHARED``) and per-product (K × ``_OWN``) parameters in physical units, the
    reference epoch and the covariance of the last fit (shared first, then each product's)."""

    pieces: list[_Piece]
    align: bool
    shared: np.ndarray
    own: np.ndarray
    camera_to_spacecraft: np.ndarray
    rigid_sigma_rad: float
    covariance: np.ndarray | None = None

    @classmethod
    def start(cls, pieces: list[_Piece], align: bool) -> _JointState:
        """Axis (weighted by 1/σ²), rate and alignment of the products' own solves; each phase
        re-expressed about them; timing, limb offset and map shift from each own solve."""
        fits = [p.alone.state.limb for p in pieces]
        weights = np.array([1.0 / max(axis_sigma_deg(f), 1e-4) ** 2 for f in fits])
        axis = np.sum([w * f.attitude.axis for w, f in zip(weights, fits)], axis=0)
        ra, dec = axis_ra_dec(axis)
        rate = float(np.average([f.attitude.rate for f in fits], weights=weights))
        alignment = np.average([f.attitude.alignment for f in fits], axis=0, weights=weights)
        template = fits[0].attitude
        shared = np.array([ra, dec, rate, alignment[0], alignment[1], 0.0, 0.0, 0.0])
        start = SpinAttitude(ra, dec, 0.0, rate, pieces[0].prepared.start.et, template.camera_to_spacecraft,
                             (float(alignment[0]), float(alignment[1])))
        own = np.zeros((len(pieces), _OWN))
        for k, (piece, fit) in enumerate(zip(pieces, fits)):
            et = float(np.median(piece.prepared.model.ephemeris.et))
            phase = _phase_about(start, fit.attitude.camera_to_j2000(et, fit.dt), et, piece.prepared.start.et)
            offset = piece.alone.state.map_offset_km
            own[k] = (fit.dt if piece.fit_timing else 0.0, phase, fit.limb_offset_px, offset[0], offset[1], 0.0)
        rigid = float(np.radians(pieces[0].alone.solution.reference_map["georeference"]["registration_sigma_deg"]))
        return cls(pieces, align, shared, own, template.camera_to_spacecraft, rigid)

    def attitude(self, k: int, shared: np.ndarray | None = None, own: np.ndarray | None = None) -> SpinAttitude:
        shared = self.shared if shared is None else shared
        own = self.own[k] if own is None else own
        return SpinAttitude(float(shared[0]), float(shared[1]), float(own[1]), float(shared[2]),
                            self.pieces[k].prepared.start.et, self.camera_to_spacecraft,
                            (float(shared[3]), float(shared[4])))

    def map_rotation(self, k: int, shared: np.ndarray | None = None, own: np.ndarray | None = None) -> np.ndarray:
        """Product ``k``'s map rotation vector (rad, body frame): the shared one plus its local
        rotation about its line of sight (the map's shift across it is ``tiefit``'s map offset)."""
        shared = self.shared if shared is None else shared
        own = self.own[k] if own is None else own
        return shared[5:8] + own[5] * self.pieces[k].ties.map_axes[2]

    def index(self, k: int) -> np.ndarray:
        """Indices of product ``k``'s own parameters in the covariance."""
        return _SHARED + _OWN * k + np.arange(_OWN)

    def feature_fit(self, k: int) -> FeatureFit:
        """Product ``k``'s state as a single-product ``FeatureFit`` (covariance marginalised from
        the joint one: the limb fit's 8 parameters, then the map shift)."""
        own, piece = self.own[k], self.pieces[k]
        i = self.index(k)
        rows = [i[0], 0, 1, i[1], 2, 3, 4, i[2], i[3], i[4]]
        covariance = self.covariance[np.ix_(rows, rows)]
        prepared = piece.prepared
        keep = prepared.model.inliers(self.attitude(k), float(own[0]), float(own[2]), GATES_PX[-1])
        limb = LimbFit(self.attitude(k), float(own[0]), float(own[2]), keep, covariance[:8, :8])
        return FeatureFit(limb, (float(own[3]), float(own[4])), None, covariance, self.map_rotation(k))


def _least_squares(state: _JointState) -> _JointState:
    """One robust least-squares fit of every parameter to the pieces' limb and tie points."""
    from scipy.optimize import least_squares

    pieces = state.pieces
    n = len(pieces)
    shared_free = np.array([True] * 3 + [state.align] * 2 + [True] * 3)
    own_free = np.ones((n, _OWN), bool)
    own_free[:, 0] = [p.fit_timing for p in pieces]
    own_free[:, 2] = [p.limb is not None for p in pieces]
    inverse_scale, limb_sigma, tie_sigma = {}, {}, {}
    for k, piece in enumerate(pieces):
        own = state.own[k]
        if piece.limb is not None:
            initial = piece.limb.residuals(state.attitude(k), own[0], own[2])
            inverse_scale[k] = 1.0 / initial.gradient_rad_per_px
            limb_sigma[k] = _noise_px(initial.residual_px)
        tie_sigma[k] = robust_sigma(piece.ties.residuals(state.attitude(k), own[0], (own[3], own[4]),
                                                         state.map_rotation(k)), _TIE_FLOOR_PX)
    sizes = [(len(p.limb) if p.limb is not None else 0) + 2 * len(p.ties) for p in pieces]
    bounds = np.cumsum([0, *sizes])
    n_data = int(bounds[-1])
    n_shared = int(shared_free.sum())
    owner = np.concatenate([np.full(int(f.sum()), k) for k, f in enumerate(own_free)])
    own_steps = np.where(np.arange(_OWN) == 0, _STEP_TIMING, _STEP)
    steps = np.concatenate([np.full(n_shared, _STEP), np.concatenate([own_steps[f] for f in own_free])])
    spans = [(float(p.prepared.ets.min()), float(p.prepared.ets.max())) for p in pieces]

    def unpack(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        shared, own = state.shared.copy(), state.own.copy()
        shared[shared_free] += x[:n_shared] * _SHARED_SCALES[shared_free]
        scales = np.tile(_OWN_SCALES, (n, 1))
        own[own_free] += x[n_shared:] * scales[own_free]
        return shared, own

    def rows(k: int, shared: np.ndarray, own: np.ndarray) -> np.ndarray:
        piece, mine = pieces[k], own[k]
        attitude = state.attitude(k, shared, mine)
        out = []
        if piece.limb is not None:
            out.append((piece.limb.limb_angle(attitude, mine[0]) * inverse_scale[k] - mine[2]) / limb_sigma[k])
        out.append(piece.ties.residuals(attitude, mine[0], (mine[3], mine[4]),
                                        state.map_rotation(k, shared, mine)).reshape(-1) / tie_sigma[k])
        return np.nan_to_num(np.concatenate(out), nan=100.0)

    def priors(shared: np.ndarray, own: np.ndarray) -> np.ndarray:
        out = list(shared[5:8] / state.rigid_sigma_rad)
        if state.align:
            out += [shared[3] / ALIGNMENT_PRIOR_RAD, shared[4] / ALIGNMENT_PRIOR_RAD]
        for k, piece in enumerate(pieces):
            mine = own[k]
            out += [mine[3] / MAP_OFFSET_PRIOR_KM, mine[4] / MAP_OFFSET_PRIOR_KM, mine[5] / piece.map_sigma_rad]
            if piece.limb is not None:
                out.append(mine[2] / LIMB_OFFSET_PRIOR_PX)
            if piece.ck is not None:
                attitude = state.attitude(k, shared, mine)
                out.append(mine[0] / TIMING_PRIOR_S)
                out += list(_axis_offset(attitude, piece.ck) / AXIS_PRIOR_RAD)
                out += [p / CK_PHASE_PRIOR_RAD for p in _phase_offsets(attitude, piece.ck, spans[k])]
        return np.asarray(out, float)

    def fun(x: np.ndarray) -> np.ndarray:
        shared, own = unpack(x)
        return np.concatenate([rows(k, shared, own) for k in range(n)] + [priors(shared, own)])

    def jacobian(x: np.ndarray) -> np.ndarray:
        """Forward differences; a product's own parameters move only its rows and the priors."""
        f0 = fun(x)
        columns = np.zeros((f0.size, x.size))
        for j in range(x.size):
            moved = x.copy()
            moved[j] += steps[j]
            if j < n_shared:
                columns[:, j] = (fun(moved) - f0) / steps[j]
                continue
            k = int(owner[j - n_shared])
            shared, own = unpack(moved)
            block = slice(bounds[k], bounds[k + 1])
            columns[block, j] = (rows(k, shared, own) - f0[block]) / steps[j]
            columns[n_data:, j] = (priors(shared, own) - f0[n_data:]) / steps[j]
        return columns

    result = least_squares(fun, np.zeros(n_shared + int(own_free.sum())), jac=jacobian, loss=_robust_loss(n_data),
                           f_scale=LOSS_SCALE_SIGMA, x_scale=1.0, xtol=1e-7, ftol=1e-7, max_nfev=40)
    shared, own = unpack(result.x)
    own[:, 1] = np.angle(np.exp(1j * own[:, 1]))
    clusters = np.concatenate([np.concatenate([p.limb.framelet if p.limb is not None else np.zeros(0, int),
                                               np.repeat(p.ties.framelet + 100_000, 2)]) + 1_000_000 * k
                               for k, p in enumerate(pieces)])
    free_index = np.concatenate([np.nonzero(shared_free)[0],
                                 (_SHARED + _OWN * np.arange(n)[:, None] + np.arange(_OWN))[own_free]])
    scales = np.concatenate([_SHARED_SCALES[shared_free], np.tile(_OWN_SCALES, (n, 1))[own_free]])
    size = _SHARED + _OWN * n
    covariance = np.zeros((size, size))
    for k in range(n):
        if not own_free[k, 0]:
            covariance[_SHARED + _OWN * k, _SHARED + _OWN * k] = TIMING_PRIOR_S**2
    covariance[np.ix_(free_index, free_index)] = (free_covariance(result.jac, result.fun, n_data, 1.0, clusters)
                                                  * np.outer(scales, scales))
    return replace(state, shared=shared, own=own, covariance=covariance)


def _rematched(state: _JointState, k: int, reference: ReferenceMap, first: bool) -> _Piece:
    """Product ``k``'s tie points matched again with its joint pose (±``SEARCH_BINNED[1]``
    binned px) and kept within 3 σ of it (at least ``MIN_TIE_GATE_PX``)."""
    piece = state.pieces[k]
    prepared = piece.prepared
    own = state.own[k]
    if first:
        ephemeris = _ephemeris(prepared)
        projector = FrameletProjector(prepared.camera, prepared.model.radii)
        # The pose's map shift and rotation are moved into the pose's tie surface points through
        # the residuals; the matcher predicts from the pose alone, so the match is against it.
        ties = match_product(prepared.product.decompanded(), prepared.product.filters, ephemeris,
                             np.arange(prepared.ets.size), state.attitude(k), float(own[0]), projector, reference,
                             SEARCH_BINNED[1])
        if len(ties) < 15:
            return piece
        model = _tie_model(ties, prepared, ephemeris, map_axes(ephemeris))
    else:
        model = piece.ties
    residual = model.residuals(state.attitude(k), float(own[0]), (own[3], own[4]), state.map_rotation(k))
    finite = np.all(np.isfinite(residual), axis=1)
    gate = max(MIN_TIE_GATE_PX, TIE_GATE_SIGMAS * robust_sigma(residual[finite], 0.0))
    keep = finite & np.all(np.abs(np.nan_to_num(residual, nan=1e9)) < gate, axis=1)
    if keep.sum() < 15:
        return piece
    return replace(piece, ties=model.subset(np.nonzero(keep)[0]))


def _member_solution(state: _JointState, k: int, reference: ReferenceMap) -> PointingSolution:
    """Product ``k``'s solution from the joint state: tie statistics, the feature verdict on the
    joint covariance (which holds the map's rotation), and the shared map rotation against its
    prior."""
    piece = state.pieces[k]
    prepared = piece.prepared
    fit = state.feature_fit(k)
    keep = np.ones(len(piece.ties), bool)
    matched = piece.alone.solution.tie_points["n_matched"]
    statistics = tie_statistics(piece.ties, replace(fit, tie_keep=keep), max(matched, len(piece.ties)), reference,
                                prepared)
    statistics["map_rotation_local_deg"] = float(np.degrees(state.own[k, 5]))
    statistics["map_rotation_local_sigma_deg"] = float(np.degrees(np.sqrt(max(
        state.covariance[_SHARED + _OWN * k + 5, _SHARED + _OWN * k + 5], 0.0))))
    quality = assess_features(prepared.model, fit.limb, prepared.ets, prepared.target, junocam_scale().ifov_rad,
                              statistics, timing_fitted=piece.fit_timing, map_sigma_deg=0.0)
    rotation = np.asarray(state.shared[5:8])
    quality = quality.with_checks([upper_check(
        "map_rotation", float(np.linalg.norm(rotation) / state.rigid_sigma_rad / np.sqrt(3.0)),
        MAP_ROTATION_DISAGREEMENT_SIGMA, "sigma",
        f"the reference map's fitted rotation ({np.degrees(np.linalg.norm(rotation)):.3f} deg) against its "
        "registration sigma, per axis:")])
    start = ("ck" if prepared.use_ck else "global-search") + "+features"
    solution = solution_from_fit(prepared, fit.limb, "features", quality, start=f"joint ({start})")
    solution.reference_map = reference.to_dict()
    solution.tie_points = statistics
    return solution


def _joint_solution(state: _JointState, solutions: list[PointingSolution], alone: list[SurfaceSolve],
                    anchors: list[str], reference: ReferenceMap, seconds: float) -> JointSolution:
    sigma = np.sqrt(np.clip(np.diag(state.covariance)[:_SHARED], 0, None))
    for solution in solutions:
        solution.seconds = seconds
    reference_et = float(np.mean([np.mean(p.prepared.span) for p in state.pieces]))
    joint = JointSolution(
        solutions=solutions,
        individual=[s.solution for s in alone],
        individual_errors=["" for _ in alone],
        anchors=anchors,
        axis_ra_deg=float(np.degrees(state.shared[0]) % 360.0),
        axis_dec_deg=float(np.degrees(state.shared[1])),
        rate_rpm=float(state.shared[2] / RPM),
        reference_et=reference_et,
        reference_utc=et_to_utc(reference_et, 3),
        sigma={"spin_axis_ra_deg": float(np.degrees(sigma[0])), "spin_axis_dec_deg": float(np.degrees(sigma[1])),
               "spin_rate_rpm": float(sigma[2] / RPM)},
        seconds=seconds,
    )
    joint.map_rotation = {
        "reference_map": reference.name,
        "rotation_deg": [float(v) for v in np.degrees(state.shared[5:8])],
        "sigma_deg": [float(v) for v in np.degrees(sigma[5:8])],
        "frame": "body-fixed (IAU) x, y, z; the map shows a point r at r + rotation x r",
    }
    return joint
