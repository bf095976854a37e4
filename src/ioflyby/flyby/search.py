"""Closest approaches: every local minimum of the observer–target distance in a time window.

Method: SPICE GF (``gfdist`` with relation ``LOCMIN``) over the part of the window that the
loaded SPKs cover for both bodies, then each minimum is refined as the root of the range rate
``d|r|/dt = r·v/|r|`` (``spkez`` states, Brent's method, to ~1 µs). Times are seconds past J2000
TDB, distances km.

Coverage: before searching, the SPK coverage of the observer and the target is compared with
the window. Uncovered parts raise :class:`~ioflyby.errors.CoverageError` naming each uncovered
sub-interval in UTC; with ``covered_only=True`` the search runs on the covered part instead and
the uncovered parts are returned in :attr:`SearchResult.uncovered` (the CLI prints a warning).

Step: GF samples the range rate every ``step_s`` seconds and can miss a minimum–maximum pair
closer together than that. The default (:func:`default_step_s`) is 300 s, or a twentieth of
the osculating period when the observer is bound to the target (a spacecraft orbiting a planet),
whichever is smaller: distance extrema of a spacecraft about a planet are half an orbit apart,
and those between a spacecraft and a moon during a flyby hours apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import spiceypy
from scipy.optimize import brentq

from ioflyby.errors import CoverageError, GeometryError
from ioflyby.flyby.geometry import (
    DEFAULT_ABCORR,
    FlybyGeometry,
    flyby_geometry,
    junocam_scale,
    range_rate,
)
from ioflyby.spice import (
    Kernels,
    body_id,
    body_name,
    et_to_utc,
    spice_errors,
    utc_to_et,
)

MAX_DEFAULT_STEP_S = 300.0
MIN_STEP_S = 1e-3
_STEPS_PER_ORBIT = 20
_MAX_GF_INTERVALS = 200_000
_REFINE_XTOL_S = 1e-6
_SSB = 0


@dataclass(frozen=True)
class Encounter:
    """One local minimum of the observer–target distance and the geometry there.

    ``et`` is the refined closest-approach epoch (s past J2000 TDB); ``gf_et`` the GF estimate.
    """

    et: float
    gf_et: float
    geometry: FlybyGeometry

    @property
    def distance_km(self) -> float:
        """Observer–target centre distance at closest approach, km."""
        return self.geometry.distance_km

    def to_dict(self) -> dict:
        """JSON-ready dictionary: the DESIGN contract keys first, then the rest."""
        g = self.geometry.to_dict()
        head = {k: g[k] for k in ("time_utc", "distance_km", "altitude_km", "speed_km_s",
                                  "sub_lat_deg", "sub_lon_west_deg", "phase_deg")}
        rest = {k: v for k, v in g.items() if k not in head}
        return {**head, **rest, "gf_et": self.gf_et}


@dataclass
class SearchResult:
    """Encounters sorted by time, the windows searched and the uncovered parts (ET pairs)."""

    observer: str
    target: str
    start_et: float
    stop_et: float
    step_s: float
    abcorr: str
    encounters: list[Encounter] = field(default_factory=list)
    searched: list[tuple[float, float]] = field(default_factory=list)
    uncovered: list[tuple[float, float]] = field(default_factory=list)
    max_distance_km: float | None = None

    def to_dict(self) -> dict:
        """JSON-ready dictionary holding the ``{"encounters": [...]}`` contract."""
        return {
            "encounters": [e.to_dict() for e in self.encounters],
            "observer": self.observer,
            "target": self.target,
            "start_utc": et_to_utc(self.start_et),
            "stop_utc": et_to_utc(self.stop_et),
            "step_s": self.step_s,
            "abcorr": self.abcorr,
            "max_distance_km": self.max_distance_km,
            "searched_utc": [[et_to_utc(a), et_to_utc(b)] for a, b in self.searched],
            "uncovered_utc": [[et_to_utc(a), et_to_utc(b)] for a, b in self.uncovered],
        }


def _as_et(value: float | str) -> float:
    return utc_to_et(value) if isinstance(value, str) else float(value)


def _window(intervals: list[tuple[float, float]]) -> spiceypy.utils.support_types.SpiceCell:
    cell = spiceypy.cell_double(2 * max(len(intervals), 1) + 2)
    for start, stop in intervals:
        spiceypy.wninsd(start, stop, cell)
    return cell


def _intervals(cell: spiceypy.utils.support_types.SpiceCell) -> list[tuple[float, float]]:
    return [tuple(spiceypy.wnfetd(cell, i)) for i in range(spiceypy.wncard(cell))]


def spk_segment_spans(kernels: Kernels) -> list[tuple[int, int, float, float]]:
    """(body, center, start ET, stop ET) of every segment in the SPKs that ``kernels`` loaded."""
    spans = []
    for path in kernels.files:
        if spiceypy.kinfo(path)[0] != "SPK":
            continue
        handle = spiceypy.dafopr(path)
        try:
            spiceypy.dafbfs(handle)
            while spiceypy.daffna():
                doubles, ints = spiceypy.dafus(spiceypy.dafgs(), 2, 6)
                spans.append((int(ints[0]), int(ints[1]), float(doubles[0]), float(doubles[1])))
        finally:
            spiceypy.dafcls(handle)
    return spans


def body_coverage(kernels: Kernels, body: int | str) -> list[tuple[float, float]]:
    """Intervals (ET) where ``body`` can be placed: its own SPK coverage, plus the spans of
    segments that are given relative to it (a centre needs no data of its own there), merged.
    The SSB (0) is always covered."""
    naif_id = body_id(body)
    if naif_id == _SSB:
        return [(-math.inf, math.inf)]
    own = [(c.start_et, c.stop_et) for c in kernels.spk_coverage() if c.id == naif_id]
    as_centre = [(a, b) for _, centre, a, b in spk_segment_spans(kernels) if centre == naif_id]
    return _intervals(_window(own + as_centre))


def coverage_split(
    kernels: Kernels, bodies: list[int | str], start_et: float, stop_et: float
) -> tuple[list[tuple[float, float]], dict[int, list[tuple[float, float]]]]:
    """Split ``[start_et, stop_et]`` into the part every body's SPK covers and, per body id,
    the sub-intervals that body's SPK does not cover (ET pairs)."""
    window = _window([(start_et, stop_et)])
    covered = _window([(start_et, stop_et)])
    gaps: dict[int, list[tuple[float, float]]] = {}
    for body in bodies:
        naif_id = body_id(body)
        spans = [(max(a, start_et), min(b, stop_et)) for a, b in body_coverage(kernels, naif_id)]
        have = _window([(a, b) for a, b in spans if a <= b])
        missing = _intervals(spiceypy.wndifd(window, have))
        if missing:
            gaps[naif_id] = missing
        covered = spiceypy.wnintd(covered, have)
    return _intervals(covered), gaps


def describe_gaps(gaps: dict[int, list[tuple[float, float]]]) -> str:
    """Human text naming, per body, each uncovered sub-interval in UTC."""
    parts = []
    for naif_id, spans in gaps.items():
        text = ", ".join(f"{et_to_utc(a)} to {et_to_utc(b)} UTC" for a, b in spans[:6])
        more = f" and {len(spans) - 6} more" if len(spans) > 6 else ""
        parts.append(f"{body_name(naif_id)} ({naif_id}) has no SPK data from {text}{more}")
    return "; ".join(parts)


def default_step_s(observer: int | str, target: int | str, et: float) -> float:
    """GF step (s): 300 s, or 1/20 of the osculating period when the observer is bound to the
    target (GM from the kernel pool, ``BODY<id>_GM``), whichever is smaller."""
    step = MAX_DEFAULT_STEP_S
    tgt = body_id(target)
    if spiceypy.bodfnd(tgt, "GM"):
        mu = float(spiceypy.bodvcd(tgt, "GM", 1)[1][0])
        state = -np.asarray(spiceypy.spkez(tgt, et, "J2000", "NONE", body_id(observer))[0])
        r, v2 = float(np.linalg.norm(state[:3])), float(np.dot(state[3:], state[3:]))
        energy = v2 / 2 - mu / r
        if energy < 0:
            semi_major = -mu / (2 * energy)
            period = 2 * math.pi * math.sqrt(semi_major**3 / mu)
            step = min(step, period / _STEPS_PER_ORBIT)
    return max(step, MIN_STEP_S)


def find_encounters(
    kernels: Kernels,
    observer: int | str,
    target: int | str,
    start: float | str,
    stop: float | str,
    *,
    step_s: float | None = None,
    max_distance_km: float | None = None,
    abcorr: str = DEFAULT_ABCORR,
    covered_only: bool = False,
) -> SearchResult:
    """All local minima of the ``observer``–``target`` distance in ``[start, stop]``.

    ``start``/``stop`` are ET seconds past J2000 TDB or UTC strings. ``kernels`` is the loaded
    :class:`Kernels` (its SPK coverage is checked first). Minima farther than
    ``max_distance_km`` are dropped. Each encounter carries the full :class:`FlybyGeometry` at
    the refined closest-approach epoch. Raises CoverageError for uncovered parts of the window
    unless ``covered_only``, GeometryError for an empty/reversed window or a bad step.
    """
    start_et, stop_et = _as_et(start), _as_et(stop)
    if not stop_et > start_et:
        raise GeometryError(f"search window is empty: stop {et_to_utc(stop_et)} is not after start {et_to_utc(start_et)}")
    obs, tgt = body_id(observer), body_id(target)
    if obs == tgt:
        raise GeometryError(f"observer and target are the same body ({obs})")
    covered, gaps = coverage_split(kernels, [obs, tgt], start_et, stop_et)
    uncovered = _intervals(spiceypy.wndifd(_window([(start_et, stop_et)]), _window(covered)))
    if gaps and not covered_only:
        raise CoverageError(
            f"the loaded SPKs do not cover the whole window {et_to_utc(start_et)} to "
            f"{et_to_utc(stop_et)} UTC: {describe_gaps(gaps)}. Load kernels covering it, narrow "
            "--start/--stop, or pass --covered-only to search the covered part only"
        )
    if not covered:
        raise CoverageError(f"nothing to search: {describe_gaps(gaps)}")
    if step_s is None:
        step_s = default_step_s(obs, tgt, covered[0][0])
    if not step_s > 0:
        raise GeometryError(f"search step must be positive, got {step_s} s")
    result = SearchResult(
        body_name(obs), body_name(tgt), start_et, stop_et, float(step_s), abcorr,
        searched=covered, uncovered=uncovered, max_distance_km=max_distance_km,
    )
    scale = junocam_scale()
    for gf_et in gf_minima(obs, tgt, covered, step_s, abcorr):
        span = next((a, b) for a, b in covered if a <= gf_et <= b)
        et = refine_minimum(obs, tgt, gf_et, span, step_s, abcorr)
        geometry = flyby_geometry(obs, tgt, et, abcorr, scale)
        if max_distance_km is not None and geometry.distance_km > max_distance_km:
            continue
        result.encounters.append(Encounter(et, gf_et, geometry))
    return result


def gf_minima(
    observer: int, target: int, intervals: list[tuple[float, float]], step_s: float, abcorr: str
) -> list[float]:
    """Epochs (ET) of local distance minima found by ``gfdist`` LOCMIN over ``intervals``."""
    total = sum(b - a for a, b in intervals)
    nintvls = int(min(_MAX_GF_INTERVALS, max(1000, total / step_s / 2 + 10)))
    cnfine = _window(intervals)
    result = spiceypy.cell_double(2 * nintvls)
    with spice_errors(f"searching distance minima of {target} from {observer} (GF, step {step_s} s)"):
        spiceypy.gfdist(str(target), abcorr, str(observer), "LOCMIN", 0.0, 0.0, float(step_s), nintvls, cnfine, result)
    return [a for a, _ in _intervals(result)]


def refine_minimum(
    observer: int,
    target: int,
    et_guess: float,
    span: tuple[float, float],
    max_half_width_s: float,
    abcorr: str = DEFAULT_ABCORR,
) -> float:
    """Closest-approach epoch (ET) as the root of the range rate bracketing ``et_guess``.

    The bracket grows from 1 ms until the range rate changes sign from negative to positive,
    up to ``max_half_width_s`` and within ``span``; if no bracket is found (a minimum pressed
    against a coverage edge) the GF epoch is returned unchanged.
    """
    def rate(et: float) -> float:
        return range_rate(observer, target, et, abcorr)

    half = 1e-3
    while half <= max_half_width_s * 1.0001:
        lo, hi = max(span[0], et_guess - half), min(span[1], et_guess + half)
        f_lo, f_hi = rate(lo), rate(hi)
        if f_lo <= 0.0 <= f_hi:
            if f_lo == 0.0:
                return lo
            if f_hi == 0.0:
                return hi
            return float(brentq(rate, lo, hi, xtol=_REFINE_XTOL_S, rtol=4 * np.finfo(float).eps))
        half *= 10
    return et_guess
