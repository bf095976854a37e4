"""Does Io's volcanic activity follow Io's place in Jupiter's magnetosphere? The time series'
epochs joined with Io's magnetospheric context, and the tests of activity against it.

- Context per epoch (:func:`io_context_per_epoch`, kernels with Io, Jupiter and the Sun loaded by
  this module): Io's System III (1965) west longitude, centrifugal latitude (Phipps & Bagenal
  2021), magnetic latitude (JRM33 dipole), distance from the centrifugal equator, distance from
  Jupiter, local time, whether Io is in Jupiter's shadow — from
  :func:`ioflyby.magnetosphere.io_context` (no field-line tracing).
- Activity: for each detection of a volcano with at least :data:`MIN_DETECTIONS` detections at
  exact observation times, ``ln(value / geometric mean of that volcano's detected values)`` — a
  relative brightening that pools volcanoes of very different power. Epochs dated by a perijove
  rather than by the observation (the Mura et al. 2024 orbits, :data:`PERIJOVE_DATED_SOURCES`)
  are joined but never used in a test: Io turns once through System III every 12.95 h, so the
  longitude at perijove says nothing about the longitude at the (unknown) observation time.
- Tests (:mod:`ioflyby.magnetosphere.correlate`): activity against System III longitude — a
  first-harmonic fit with a permutation p-value, and a Rayleigh test of the longitudes at which
  outbursts started; against centrifugal and magnetic latitude and the distance from the
  centrifugal equator — Pearson r with a permutation p-value; against a user time series
  (``time_utc,value`` CSV, e.g. torus brightness) — lagged cross-correlation whose largest |r|
  is tested against phase-randomised surrogates of the user series.

JSON (``"magnetosphere"`` of ``ioflyby volcano timeseries --json``): ``{"per_epoch": [...],
"correlations": [...], "kernel_span_utc", "activity", "conventions"}``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ioflyby.errors import IoflybyError

if TYPE_CHECKING:
    from ioflyby.volcano.timeseries import VolcanoSeries

COVARIATES = ("system3", "centrifugal", "magnetic")
"""What ``--correlate`` accepts: System III longitude, centrifugal latitude (and the distance from
the centrifugal equator), magnetic latitude."""
PERIJOVE_DATED_SOURCES = ("mura",)
"""Sources whose epochs carry the perijove time, not the observation time: joined, never tested."""
MIN_DETECTIONS = 2
DEFAULT_MAX_LAG_DAYS = 10.0
MAX_LAGS = 401
N_PERMUTATIONS = 2000
N_SURROGATES = 1000
CONTEXT_COLUMNS = ("system3_lon_west_deg", "centrifugal_lat_deg", "magnetic_lat_deg",
                   "centrifugal_equator_distance_rj", "distance_rj", "local_time_h", "in_shadow")
REQUIRED_BODIES = {501: "Io", 599: "Jupiter", 10: "the Sun"}


class MagnetosphereLinkError(IoflybyError):
    """The magnetospheric join or its tests cannot be done as asked (option, kernels, CSV)."""


@dataclass
class MagnetosphereLink:
    """Per-epoch context rows, the tests' results (dicts), the kernels' span and, for plots, the
    pooled activity samples and the lagged correlation."""

    per_epoch: list[dict]
    correlations: list[dict]
    kernel_span_utc: list[list[str]] | None
    samples: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    lagged: Any = field(default=None, repr=False)

    def to_json(self) -> dict:
        return {"per_epoch": self.per_epoch, "correlations": self.correlations,
                "kernel_span_utc": self.kernel_span_utc,
                "activity": "ln(value / geometric mean of the volcano's detected values), detections at exact "
                            f"observation times of volcanoes with >= {MIN_DETECTIONS} of them",
                "conventions": "System III (1965) west longitude; planetocentric, centrifugal (Phipps & Bagenal "
                               "2021) and magnetic (JRM33 dipole) latitudes in degrees; distances in R_J = "
                               "71492 km; local time in hours"}

    def context_by_et(self) -> dict[float, dict]:
        return {row["et_s"]: row for row in self.per_epoch}


# -- kernels and context ----------------------------------------------------------------------------
def _merge(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[list[float]] = []
    for start, stop in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    return [(a, b) for a, b in merged]


def _intersect(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out = []
    for a0, a1 in a:
        for b0, b1 in b:
            lo, hi = max(a0, b0), min(a1, b1)
            if lo <= hi:
                out.append((lo, hi))
    return _merge(out)


def kernel_span(kernels) -> list[tuple[float, float]]:
    """ET intervals in which the loaded SPKs hold Io, and Jupiter and the Sun where they hold them
    at all (a kernel set without them fails later with its own message)."""
    by_body: dict[int, list[tuple[float, float]]] = {}
    for c in kernels.spk_coverage():
        if c.id in REQUIRED_BODIES:
            by_body.setdefault(c.id, []).append((c.start_et, c.stop_et))
    if 501 not in by_body:
        raise MagnetosphereLinkError("the kernels hold no ephemeris of Io (NAIF 501): give --kernels with Io's, "
                                     "Jupiter's and the Sun's SPK, an LSK and a PCK")
    span = _merge(by_body[501])
    for body in (599, 10):
        if body in by_body:
            span = _intersect(span, _merge(by_body[body]))
    return span


def _span_text(span: list[tuple[float, float]]) -> str:
    from ioflyby.spice import et_to_utc

    if not span:
        return "none in common"
    parts = [f"{et_to_utc(a, 0)} to {et_to_utc(b, 0)}" for a, b in span[:3]]
    return ", ".join(parts) + (f" and {len(span) - 3} more" if len(span) > 3 else "")


def io_context_per_epoch(epochs: Sequence, kernels: Sequence[str | Path]) -> tuple[list[dict], list[list[str]]]:
    """Io's context at each distinct epoch time (objects with ``epoch``, ``time_utc``, ``et_s``,
    ``source``), kernels ``kernels`` loaded here. Returns (rows sorted by time, kernel span as
    UTC pairs). Raises :class:`MagnetosphereLinkError` naming the span when an epoch is outside."""
    from ioflyby.magnetosphere import io_context
    from ioflyby.spice import Kernels, et_to_utc
    from ioflyby.spice.kernelset import kernel_paths

    unique: dict[float, Any] = {}
    for e in epochs:
        unique.setdefault(float(e.et_s), e)
    ets = np.array(sorted(unique))
    with Kernels(kernel_paths(list(kernels))) as loaded:
        span = kernel_span(loaded)
        inside = np.zeros(ets.size, dtype=bool)
        for start, stop in span:
            inside |= (ets >= start) & (ets <= stop)
        if not inside.all():
            outside = ets[~inside]
            raise MagnetosphereLinkError(
                f"{outside.size} of {ets.size} epochs (first {unique[float(outside[0])].time_utc or et_to_utc(outside[0])}) "
                f"lie outside the kernels' coverage of Io, Jupiter and the Sun ({_span_text(span)}): give --kernels "
                "covering every epoch, or leave those epochs out")
        context = io_context(ets, trace=False) if ets.size else None
        span_utc = [[et_to_utc(a, 0), et_to_utc(b, 0)] for a, b in span]
    rows = []
    for i, et in enumerate(ets):
        e = unique[float(et)]
        rows.append({
            "epoch": e.epoch, "time_utc": e.time_utc, "et_s": float(et), "source": e.source,
            "time_basis": "perijove (not the observation time)" if e.source in PERIJOVE_DATED_SOURCES else "observation",
            "system3_lon_west_deg": float(np.degrees(context.system3_lon_west[i])),
            "centrifugal_lat_deg": float(np.degrees(context.centrifugal_lat[i])),
            "magnetic_lat_deg": float(np.degrees(context.magnetic_lat[i])),
            "centrifugal_equator_distance_rj": float(context.centrifugal_equator_distance_rj[i]),
            "distance_rj": float(context.distance_rj[i]),
            "local_time_h": float(context.local_time_h[i]),
            "in_shadow": bool(context.in_shadow[i]),
        })
    return rows, span_utc


# -- activity ---------------------------------------------------------------------------------------
def relative_activity(series: Sequence[VolcanoSeries]) -> list[tuple[float, float, str]]:
    """(et_s, ln(value / the volcano's geometric mean), volcano) for each detection at an exact
    observation time of a volcano with at least :data:`MIN_DETECTIONS` such detections."""
    out = []
    for s in series:
        rows = [(e.et_s, e.value) for e in s.epochs if e.kind == "observation" and e.detected and e.value
                and e.value > 0 and e.source not in PERIJOVE_DATED_SOURCES]
        if len(rows) < MIN_DETECTIONS:
            continue
        logs = np.log([v for _, v in rows])
        out += [(et, float(v - logs.mean()), s.name) for (et, _), v in zip(rows, logs)]
    return sorted(out)


def _outburst_ets(series: Sequence[VolcanoSeries]) -> list[float]:
    out = []
    for s in series:
        start = {o.start_epoch for o in s.outbursts}
        out += [e.et_s for e in s.epochs if e.epoch in start and e.kind == "observation"
                and e.source not in PERIJOVE_DATED_SOURCES]
    return out


# -- user time series -------------------------------------------------------------------------------
def read_user_series(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """A ``time_utc,value`` CSV (header required; other columns ignored) → (ET s, values),
    sorted by time."""
    from astropy.time import Time

    from ioflyby.fileio import read_regular_file

    path = Path(path)
    if not path.is_file():
        raise MagnetosphereLinkError(f"--against {path}: no such file; give a CSV with columns time_utc,value")
    text = read_regular_file(path, 256 * 2**20, MagnetosphereLinkError, "--against CSV").decode("utf-8", "replace")
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"time_utc", "value"} <= {n.strip() for n in reader.fieldnames}:
        raise MagnetosphereLinkError(f"--against {path}: needs a header with columns time_utc,value")
    times, values = [], []
    for number, row in enumerate(reader, start=2):
        row = {k.strip(): v for k, v in row.items() if k}
        try:
            value = float(row["value"])
        except (TypeError, ValueError):
            raise MagnetosphereLinkError(f"--against {path}, line {number}: value {row.get('value')!r} "
                                         "is not a number") from None
        if math.isfinite(value):
            times.append((row["time_utc"] or "").strip())
            values.append(value)
    if len(values) < 8:
        raise MagnetosphereLinkError(f"--against {path}: {len(values)} usable rows; a lagged correlation needs at least 8")
    try:
        tdb = Time(times, scale="utc").tdb
    except ValueError:
        raise MagnetosphereLinkError(f"--against {path}: a time_utc is not an ISO UTC time "
                                     "(e.g. 2023-12-30T08:35:00)") from None
    ets = ((tdb.jd1 - 2451545.0) + tdb.jd2) * 86400.0
    order = np.argsort(ets)
    return np.asarray(ets)[order], np.asarray(values)[order]


# -- the tests --------------------------------------------------------------------------------------
def _result(covariate: str, run) -> dict:
    from ioflyby.magnetosphere.correlate import CorrelationError

    try:
        found = run().to_json()
    except CorrelationError as exc:
        return {"covariate": covariate, "p_value": None, "reason": str(exc)}
    return {"covariate": covariate, **found}


def _lags(series_ets: np.ndarray, max_lag_days: float) -> np.ndarray:
    step = float(np.median(np.diff(series_ets))) if series_ets.size > 1 else 86400.0
    max_lag = max_lag_days * 86400.0
    step = max(step, 2 * max_lag / (MAX_LAGS - 1))
    count = int(max_lag // step)
    return np.arange(-count, count + 1) * step


def check_options(kernels: Sequence[str | Path] | None, correlate: Sequence[str], max_lag_days: float) -> list[str]:
    """The distinct ``correlate`` covariates, or :class:`MagnetosphereLinkError` for an unknown
    one, for covariates without kernels, for a lag range that is not positive."""
    correlate = list(dict.fromkeys(correlate))
    unknown = [c for c in correlate if c not in COVARIATES]
    if unknown:
        raise MagnetosphereLinkError(f"--correlate {unknown[0]}: use {', '.join(COVARIATES)}")
    if correlate and not kernels:
        raise MagnetosphereLinkError("--correlate needs --kernels (Io's, Jupiter's and the Sun's SPK, an LSK, a PCK)")
    if not max_lag_days > 0:
        raise MagnetosphereLinkError(f"max_lag_days must be positive, got {max_lag_days:g}")
    return correlate


def magnetosphere_link(series: Sequence[VolcanoSeries], kernels: Sequence[str | Path] | None = None,
                       correlate: Sequence[str] = (), against: str | Path | None = None,
                       max_lag_days: float = DEFAULT_MAX_LAG_DAYS, seed: int = 0) -> MagnetosphereLink:
    """Join Io's context (``kernels``) to the observation epochs of ``series`` and test the
    relative activity against the ``correlate`` covariates (:data:`COVARIATES`; all of them when
    kernels are given and ``correlate`` is empty) and against the ``against`` CSV series."""
    from ioflyby.magnetosphere import lagged_correlation, linear_dependence, phase_dependence, rayleigh_test
    from ioflyby.magnetosphere.correlate import CorrelationError

    correlate = check_options(kernels, correlate, max_lag_days)
    epochs = [e for s in series for e in s.epochs if e.kind == "observation"]
    per_epoch, span = ([], None)
    if kernels:
        per_epoch, span = io_context_per_epoch(epochs, kernels)
        correlate = correlate or list(COVARIATES)
    activity = relative_activity(series)
    context = {row["et_s"]: row for row in per_epoch}
    ets = np.array([a[0] for a in activity])
    values = np.array([a[1] for a in activity])
    per_epoch_activity: dict[float, list[float]] = {}
    for et, value, _ in activity:
        per_epoch_activity.setdefault(et, []).append(value)
    for row in per_epoch:
        found = per_epoch_activity.get(row["et_s"])
        row["activity"] = float(np.mean(found)) if found else None
    column = {key: np.array([context[et][key] for et in ets]) if per_epoch else np.zeros(0)
              for key in CONTEXT_COLUMNS[:4]}
    samples = {"et_s": ets, "activity": values, **column}
    results: list[dict] = []
    if "system3" in correlate:
        phases = np.radians(column["system3_lon_west_deg"])
        results.append(_result("system3_lon_west_deg", lambda: phase_dependence(
            phases, values, N_PERMUTATIONS, seed)))
        bursts = np.array(_outburst_ets(series))
        burst_phases = np.radians([context[et]["system3_lon_west_deg"] for et in bursts if et in context])
        entry = _result("system3_lon_west_deg of outburst starts", lambda: rayleigh_test(burst_phases))
        results.append(entry)
    if "centrifugal" in correlate:
        results.append(_result("centrifugal_lat_deg", lambda: linear_dependence(
            column["centrifugal_lat_deg"], values, N_PERMUTATIONS, seed)))
        results.append(_result("abs(centrifugal_equator_distance_rj)", lambda: linear_dependence(
            np.abs(column["centrifugal_equator_distance_rj"]), values, N_PERMUTATIONS, seed)))
    if "magnetic" in correlate:
        results.append(_result("magnetic_lat_deg", lambda: linear_dependence(
            column["magnetic_lat_deg"], values, N_PERMUTATIONS, seed)))
    lagged = None
    if against is not None:
        user_ets, user_values = read_user_series(against)
        epoch_ets = np.array(sorted(per_epoch_activity))
        epoch_values = np.array([np.mean(per_epoch_activity[et]) for et in epoch_ets])
        lags = _lags(user_ets, max_lag_days)
        name = f"user series {Path(against).name}"
        try:
            lagged = lagged_correlation(epoch_ets, epoch_values, user_ets, user_values, lags, N_SURROGATES, seed)
        except CorrelationError as exc:
            results.append({"covariate": name, "p_value": None, "reason": str(exc)})
        else:
            results.append({"covariate": name, **lagged.to_json(), "best_lag_days": lagged.best_lag_s / 86400.0})
    for entry in results:
        if entry.get("p_value") is not None:
            entry["significant_at_0.01"] = bool(entry["p_value"] < 0.01)
    return MagnetosphereLink(per_epoch, results, span, samples, lagged)


# -- plot -------------------------------------------------------------------------------------------
def _p_text(link: MagnetosphereLink, covariate: str) -> str:
    found = [c for c in link.correlations if c["covariate"] == covariate and c.get("p_value") is not None]
    return f" (p = {found[0]['p_value']:.2g})" if found else ""


def plot_activity_context(link: MagnetosphereLink, path: str | Path) -> Path:
    """Relative activity against Io's System III west longitude (with the first-harmonic fit)
    and centrifugal latitude (with the linear fit), and r(lag) against the user series when
    there is one."""
    from ioflyby.fileio import save_figure
    from ioflyby.volcano.timeseries import _pyplot

    plt = _pyplot()
    panels = 3 if link.lagged is not None else 2
    figure, axes = plt.subplots(1, panels, figsize=(4.6 * panels, 4.2))
    s = link.samples
    y = s.get("activity", np.zeros(0))
    lon = s.get("system3_lon_west_deg", np.zeros(0))
    lat = s.get("centrifugal_lat_deg", np.zeros(0))
    axis = axes[0]
    if lon.size and y.size:
        axis.plot(lon, y, "o", ms=4, alpha=0.7)
        if lon.size >= 5:
            phase = np.radians(lon)
            design = np.stack([np.ones_like(phase), np.cos(phase), np.sin(phase)], axis=1)
            coef = np.linalg.lstsq(design, y, rcond=None)[0]
            grid = np.radians(np.linspace(0, 360, 361))
            axis.plot(np.degrees(grid), coef[0] + coef[1] * np.cos(grid) + coef[2] * np.sin(grid), "-", lw=1.5)
    else:
        axis.text(0.5, 0.5, "no context (give --kernels)", ha="center", transform=axis.transAxes)
    axis.set_xlim(360, 0)
    axis.set_xlabel("Io's System III west longitude (deg)")
    axis.set_ylabel("ln(power / volcano's geometric mean)")
    axis.set_title("Activity vs System III" + _p_text(link, "system3_lon_west_deg"), fontsize=9)
    axis = axes[1]
    if lat.size and y.size:
        axis.plot(lat, y, "o", ms=4, alpha=0.7)
        if lat.size >= 4 and np.ptp(lat) > 0:
            slope, intercept = np.polyfit(lat, y, 1)
            grid = np.linspace(lat.min(), lat.max(), 2)
            axis.plot(grid, slope * grid + intercept, "-", lw=1.5)
    axis.set_xlabel("Io's centrifugal latitude (deg)")
    axis.set_title("Activity vs centrifugal latitude" + _p_text(link, "centrifugal_lat_deg"), fontsize=9)
    if link.lagged is not None:
        axis = axes[2]
        lagged = link.lagged
        axis.plot(lagged.lags_s / 86400.0, lagged.r, "-")
        axis.axvline(lagged.best_lag_s / 86400.0, ls="--", lw=0.8)
        axis.set_xlabel("lag (days): activity(t) vs series(t + lag)")
        axis.set_ylabel("Pearson r")
        axis.set_title(f"Lagged correlation (p = {lagged.p_value:.2g})", fontsize=9)
    for axis in axes:
        axis.grid(alpha=0.3)
    figure.tight_layout()
    return save_figure(figure, path)
