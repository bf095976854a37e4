"""Pointing from surface features: the limb solve refined with tie points to a reference map.

Steps (:func:`solve_with_reference`):

1. the start (:func:`_limb_start`): the CK's limb fit, or the global search's candidates of
   several spin-rate hypotheses refined on the limb and, where their limb fits rival each other,
   told apart by the tie points they support (a short limb arc fits a 180°-flipped disc too);
2. tie points between every framelet and the reference map for the current pose
   (``ioflyby.pointing.features``: phase correlation of band-passed patches, search ±
   ``SEARCH_BINNED[0]`` binned pixels), then robust combined fits of limb and tie points
   (``ioflyby.pointing.tiefit``) at shrinking gates, tie points re-selected against the fit
   with ``fit.inlier_indices`` (limb) and ``TieModel.inliers`` (ties);
3. the tie points matched again with the updated pose in a narrower window
   (``SEARCH_BINNED[1]``) and fitted again: the patches now line up to a fraction of a pixel, where
   phase correlation is least biased;
4. the quality verdict (``ioflyby.pointing.quality.assess_features``): formal σ, the limb fit,
   the number, inlier fraction, spread and RMS of the tie points.

Angles rad inside, degrees in reports; times s past J2000 TDB.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ioflyby.camera import junocam_scale
from ioflyby.errors import PointingError
from ioflyby.geometry import FrameletPoses
from ioflyby.pointing.features import FrameletProjector, TiePoints, match_product
from ioflyby.pointing.fit import GATES_PX, MAX_SOLVE_POINTS, MIN_POINTS, LimbFit, inlier_indices, refine
from ioflyby.pointing.quality import assess_features, pointing_sigma
from ioflyby.pointing.reference import ReferenceMap
from ioflyby.pointing.roll import rolled
from ioflyby.pointing.search import global_search
from ioflyby.pointing.solution import PointingSolution
from ioflyby.pointing.solve import Prepared, solution_from_fit
from ioflyby.pointing.tiefit import FeatureFit, TieModel, fit_combined, map_axes, robust_sigma

SEARCH_BINNED = (16.0, 4.0)
FIRST_TIE_GATES_PX = (40.0, 12.0)
TIE_GATE_SIGMAS = 3.0
MIN_TIE_GATE_PX = 1.5
FINAL_PASSES = 2
ROLL_SCAN_DEG = np.arange(-12.0, 12.01, 4.0)
ROLL_SCAN_ABOVE_DEG = 0.3
"""Where the limb leaves the roll looser than this (formal σ), rolls about the line of sight are
scanned (``ROLL_SCAN_DEG``) for the one that matches most patches before the tie-point fits."""
N_RATE_HYPOTHESES = 3
CANDIDATE_LIMB_POINTS = 1000
CANDIDATE_GATES_PX = (40.0, 12.0, 4.0)
RIVAL_LIMB_SHARE = 0.6
"""Refined starts keeping at least this share of the best one's limb inliers are told apart by
their tie support."""
SAME_START_DEG = 1.0
SUPPORT_EXPOSURE_STEP = 3


def _tie_view(ties: TieModel, map_offset_km):
    """``ties`` seen through ``fit.inlier_indices``' interface (its third argument, the limb
    offset, is the map offset here)."""

    class View:
        def inliers(self, attitude, dt, _limb_offset, gate):
            return ties.inliers(attitude, dt, map_offset_km, gate)

    return View()


def _tie_indices(ties: TieModel, state: FeatureFit, gate: float) -> np.ndarray:
    view_fit = replace(state.limb, limb_offset_px=0.0)
    return inlier_indices(_tie_view(ties, state.map_offset_km), view_fit, gate, MAX_SOLVE_POINTS,
                          "the image does not match the reference map (check that the map is of this target and in "
                          "the expected convention)")


def _limb_subset(prepared: Prepared, state: FeatureFit):
    """The limb points on the predicted lit limb within the final limb gate (None when too few)."""
    try:
        chosen = inlier_indices(prepared.model, state.limb, GATES_PX[-1] * 2, MAX_SOLVE_POINTS, "")
    except PointingError:
        return None
    return prepared.model.subset(chosen)


def _ephemeris(prepared: Prepared) -> FrameletPoses:
    ets = prepared.ets.reshape(-1)
    return FrameletPoses.from_spice(prepared.target, ets, camera_to_j2000=np.broadcast_to(np.eye(3), (ets.size, 3, 3)))


def _tie_model(ties: TiePoints, prepared: Prepared, ephemeris: FrameletPoses, axes: np.ndarray) -> TieModel:
    flat = ties.exposure * len(prepared.product.filters) + ties.filter_index
    return TieModel(ties, flat, ephemeris, prepared.camera, prepared.product.filters,
                    float(np.mean(prepared.model.radii)), axes)


@dataclass
class SurfaceSolve:
    """One product's surface-feature solve: its solution (with the verdict), the final combined
    fit ``state``, the tie points matched last (``ties``; None where none matched) and the limb
    points on the predicted lit limb (``limb``; None where too few)."""

    solution: PointingSolution
    state: FeatureFit
    ties: TieModel | None
    limb: object | None


def solve_with_reference(prepared: Prepared, reference: ReferenceMap, align: bool = True
                         ) -> tuple[PointingSolution, FeatureFit]:
    """Solve ``prepared``'s pointing from its limb and tie points to ``reference`` (kernels
    loaded); returns the solution (with the tie-point statistics and the verdict) and the fit."""
    solved = solve_alone(prepared, reference, align)
    return solved.solution, solved.state


def solve_alone(prepared: Prepared, reference: ReferenceMap, align: bool = True) -> SurfaceSolve:
    """:func:`solve_with_reference` keeping the final tie and limb models (for a joint solve)."""
    roll_source = "ck" if prepared.use_ck else "limb"
    ephemeris = _ephemeris(prepared)
    axes = map_axes(ephemeris)
    projector = FrameletProjector(prepared.camera, prepared.model.radii)
    images = prepared.product.decompanded()
    frames = np.arange(prepared.ets.size)
    limb_fit = _limb_start(prepared, align, images, ephemeris, projector, reference)
    limb_fit = _scan_roll(prepared, limb_fit, images, ephemeris, projector, reference)
    state = FeatureFit(limb_fit)
    fit_timing = prepared.use_ck
    ck_prior = prepared.ck_attitude() if prepared.use_ck else None
    matched = 0
    for search in SEARCH_BINNED:
        ties = match_product(images, prepared.product.filters, ephemeris, frames, state.attitude, state.dt, projector,
                             reference, search)
        matched = len(ties)
        if matched < MIN_POINTS:
            break
        model = _tie_model(ties, prepared, ephemeris, axes)
        gates = FIRST_TIE_GATES_PX if search == SEARCH_BINNED[0] else ()
        for gate in [*gates, *([None] * FINAL_PASSES)]:
            if gate is None:
                residual = model.residuals(state.attitude, state.dt, state.map_offset_km)
                keep = model.inliers(state.attitude, state.dt, state.map_offset_km, 1e9)
                gate = max(MIN_TIE_GATE_PX, TIE_GATE_SIGMAS * robust_sigma(residual[keep], 0.0))
            try:
                chosen = _tie_indices(model, state, gate)
            except PointingError:
                matched = 0
                break
            state = fit_combined(_limb_subset(prepared, state), model.subset(chosen), state, align, fit_timing,
                                 ck_prior)
            state = replace(state, tie_keep=None)
        if matched < MIN_POINTS:
            break
    if matched >= MIN_POINTS:
        keep = model.inliers(state.attitude, state.dt, state.map_offset_km, gate)
        state = replace(state, tie_keep=keep,
                        limb=replace(state.limb, keep=prepared.model.inliers(state.attitude, state.dt,
                                                                              state.limb.limb_offset_px,
                                                                              GATES_PX[-1])))
        tie_model = model
    else:
        # Nothing matched: the limb solve stands, with the tie-point checks that refuse it.
        tie_model = None
        state = FeatureFit(limb_fit, covariance=_padded(limb_fit.covariance))
    statistics = tie_statistics(tie_model, state, matched, reference, prepared)
    quality = assess_features(prepared.model, state.limb, prepared.ets, prepared.target, junocam_scale().ifov_rad,
                              statistics, timing_fitted=fit_timing or prepared.use_ck,
                              map_sigma_deg=reference.georeference.rotation_sigma_deg(
                                  statistics["footprint_radius_deg"] or 0.0))
    start = ("ck" if prepared.use_ck else "global-search") + "+features"
    solution = solution_from_fit(prepared, state.limb, "features" if tie_model is not None else roll_source,
                                 quality, start=start)
    solution.reference_map = reference.to_dict()
    solution.tie_points = statistics
    return SurfaceSolve(solution, state, tie_model, _limb_subset(prepared, state) if tie_model is not None else None)


def _limb_start(prepared: Prepared, align: bool, images, ephemeris, projector, reference) -> LimbFit:
    """The start of the feature solve: from a CK, its limb fit; without one, the global search's
    candidates of ``N_RATE_HYPOTHESES`` spin-rate hypotheses, each refined on a subsample of the
    limb (``CANDIDATE_LIMB_POINTS``), the distinct ones whose limb fits nearly as well as the best
    scored by the tie points they support (:func:`_tie_support`), and the winner refined on the
    whole limb (no terminator roll: the tie points fix the roll). A short limb arc near closest
    approach fits a disc flipped by 180° about the line of sight almost as well as the right
    one; the surface features do not."""
    model = prepared.model
    if prepared.use_ck:
        start = prepared.ck_attitude()
        return _refined(model, LimbFit(start), align, start)
    rng = np.random.default_rng(0)
    sub = model.subset(np.sort(rng.choice(len(model), min(len(model), CANDIDATE_LIMB_POINTS), replace=False)))
    fits = []
    for start in global_search(model, prepared.fk, n_rates=N_RATE_HYPOTHESES):
        try:
            fit = refine(sub, LimbFit(start), False, gates=CANDIDATE_GATES_PX)
        except PointingError:
            continue
        if not any(_same_attitude(fit, other, prepared) for other in fits):
            fits.append(fit)
    if not fits:
        raise PointingError(f"{prepared.product.product_id}: the limb solve that starts the surface-feature solve "
                            f"did not converge; check the kernels and the target name {prepared.target}")
    kept = np.array([fit.keep.sum() for fit in fits], float)
    rival = [fit for fit, k in zip(fits, kept) if k >= RIVAL_LIMB_SHARE * kept.max()]
    best = rival[0]
    if len(rival) > 1:
        best = rival[int(np.argmax([_tie_support(prepared, fit, images, ephemeris, projector, reference)
                                    for fit in rival]))]
    return _refined(model, best, align, None)


def _refined(model, fit: LimbFit, align: bool, ck_prior) -> LimbFit:
    try:
        return refine(model, fit, align, ck_prior=ck_prior)
    except PointingError as exc:
        raise PointingError(f"the limb solve that starts the surface-feature solve did not converge ({exc})") from None


def _same_attitude(a: LimbFit, b: LimbFit, prepared: Prepared) -> bool:
    """Whether two fits point the camera within ``SAME_START_DEG`` at the product's middle epoch."""
    et = np.array([float(np.median(prepared.ets))])
    turn = a.attitude.camera_to_j2000(et, a.dt)[0] @ b.attitude.camera_to_j2000(et, b.dt)[0].T
    angle = np.arccos(np.clip((np.trace(turn) - 1.0) / 2.0, -1.0, 1.0))
    return bool(np.degrees(angle) < SAME_START_DEG)


def _support_framelets(prepared: Prepared) -> np.ndarray:
    """Every ``SUPPORT_EXPOSURE_STEP``-th exposure's middle filter (flat framelet indices)."""
    n_filters = len(prepared.product.filters)
    return np.arange(0, prepared.ets.shape[0], SUPPORT_EXPOSURE_STEP) * n_filters + n_filters // 2


def _tie_support(prepared: Prepared, fit: LimbFit, images, ephemeris, projector, reference,
                 attitude=None) -> float:
    """Summed phase-correlation peaks of the patches of :func:`_support_framelets` that match
    ``reference`` for ``attitude`` (default the fit's): how well a pose lines the image up with
    the map."""
    subset = _support_framelets(prepared)
    ties = match_product(images, prepared.product.filters, ephemeris[subset], subset,
                         fit.attitude if attitude is None else attitude, fit.dt, projector, reference,
                         SEARCH_BINNED[0])
    return float(np.sum(ties.peak))


def _scan_roll(prepared: Prepared, fit: LimbFit, images, ephemeris, projector, reference) -> LimbFit:
    """Where the limb leaves the roll loose, the roll about the line of sight (``ROLL_SCAN_DEG``)
    with the most tie support (:func:`_tie_support`)."""
    ends = prepared.ets.reshape(-1)[[0, prepared.ets.size // 2, -1]]
    sight = _sight(ephemeris)
    roll_sigma = pointing_sigma(fit, ends, np.repeat(sight[None], 3, axis=0), prepared.use_ck)[:, 1].max()
    if np.degrees(roll_sigma) < ROLL_SCAN_ABOVE_DEG:
        return fit
    scores = [_tie_support(prepared, fit, images, ephemeris, projector, reference,
                           rolled(fit.attitude, sight, angle)) for angle in np.radians(ROLL_SCAN_DEG)]
    best = float(np.radians(ROLL_SCAN_DEG[int(np.argmax(scores))]))
    return replace(fit, attitude=rolled(fit.attitude, sight, best))


def _sight(ephemeris: FrameletPoses) -> np.ndarray:
    u = ephemeris.target_position_km[len(ephemeris) // 2]
    return u / np.linalg.norm(u)


def _padded(covariance: np.ndarray | None) -> np.ndarray:
    out = np.full((10, 10), 0.0)
    if covariance is not None:
        out[:8, :8] = covariance
    return out


def footprint_radius_deg(points_km: np.ndarray) -> float:
    """Angular radius (deg) of the disc on the target that spreads like ``points_km`` (body-fixed,
    km): √2 × their RMS angle from their mean direction (a uniform disc's)."""
    unit = points_km / np.linalg.norm(points_km, axis=1, keepdims=True)
    mean = unit.mean(axis=0)
    mean /= np.linalg.norm(mean)
    angle = np.arccos(np.clip(unit @ mean, -1.0, 1.0))
    return float(np.degrees(np.sqrt(2.0 * np.mean(angle**2))))


def tie_statistics(model: TieModel | None, state: FeatureFit, matched: int, reference: ReferenceMap,
                   prepared: Prepared) -> dict:
    """Tie-point summary for the report and the quality gates: counts, inlier fraction, RMS (px),
    framelets and spin sweep (deg) they span, the map offset (km) and its σ, per framelet rows."""
    sigma = np.sqrt(np.clip(np.diag(state.covariance), 0, None)) if state.covariance is not None else np.zeros(10)
    out = {"n_matched": int(matched), "n_tie_points": 0, "inlier_fraction": 0.0, "tie_rms_px": None,
           "n_framelets": 0, "spin_sweep_deg": 0.0, "footprint_radius_deg": None,
           "map_offset_east_km": float(state.map_offset_km[0]), "map_offset_north_km": float(state.map_offset_km[1]),
           "map_offset_sigma_km": [float(sigma[8]), float(sigma[9])], "per_framelet": []}
    if model is None or state.tie_keep is None or not state.tie_keep.any():
        return out
    keep = state.tie_keep
    residual = model.residuals(state.attitude, state.dt, state.map_offset_km, state.map_rotation_rad)[keep]
    frames = model.framelet[keep]
    ets = model.ephemeris.et[np.unique(frames)]
    filters = prepared.product.filters
    rows = []
    for frame in np.unique(frames):
        sel = frames == frame
        exposure, index = divmod(int(frame), len(filters))
        rows.append({"exposure": exposure, "filter": filters[index], "n_tie_points": int(sel.sum()),
                     "tie_rms_px": float(np.sqrt(np.mean(residual[sel] ** 2) * 2))})
    out.update({
        "n_tie_points": int(keep.sum()),
        "inlier_fraction": float(keep.sum() / max(matched, 1)),
        "tie_rms_px": float(np.sqrt(np.mean(np.sum(residual**2, axis=1)))),
        "n_framelets": int(np.unique(frames).size),
        "spin_sweep_deg": float(np.degrees(abs(state.attitude.rate) * np.ptp(ets))),
        "footprint_radius_deg": footprint_radius_deg(model.ties.surface_km[keep]),
        "per_framelet": rows,
    })
    return out
