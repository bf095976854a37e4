"""Eruption time series of Io's volcanoes: light curves per volcano and the statistics a
volcanologist asks of them.

Epochs come from

- ``mura``: Mura et al. (2024) Table 3, Juno JIRAM M-band (4.8 µm) output per orbit PJ41, PJ43,
  PJ47, PJ49 (quantity ``mband_gw``). An empty cell means "not observed or not given" (the table's
  README), so it is an epoch of *unknown* coverage, never a non-detection. Each orbit is dated by
  its perijove (:data:`PERIJOVE_UTC`); JIRAM's Io images of an orbit lie within about a day of it.
- ``davies``: Davies et al. (2024) Table A1, total thermal power (``power_gw``), one epoch per
  source of kind "compilation" (all data up to PJ49, dated at PJ49): shown and listed, never used
  for variability, outbursts or periods.
- ioflyby's own hot-spot detections (``ioflyby hotspots`` CSV or JSON outputs; quantity
  ``power_gw``), one epoch per product, associated with a volcano by their ``catalogue_match``
  name or, unmatched, by position (:data:`ASSOCIATION_KM`). A product that did not detect a volcano
  is a non-detection only where its own detections prove the volcano was in view
  (:func:`detection_coverage`).

Statistics, each on the epochs of one quantity (kind "observation"):

- variability: max, min, max/min, coefficient of variation, fractional change epoch to epoch;
- outbursts (:func:`find_outbursts`): a rise to at least ``factor`` × the volcano's previous
  quiescent level (median of its earlier non-outburst values) that also exceeds that level by
  ``n_sigma`` × the noise (the value's σ, the earlier values' robust scatter, or
  :data:`RELATIVE_NOISE` × level, whichever is largest). Io monitoring calls a hot spot's sudden
  brightening by a large factor above its usual level an outburst (Spencer et al. 1997, GRL 24:2451;
  de Kleer & de Pater 2016, Icarus 280:378; de Kleer et al. 2019, AJ 158:29); factor 3 and 3 σ are
  this module's defaults. The event lasts until a value comes back within 1 σ of that level (a
  hysteresis: a noisy eruption plateau is one event, not many);
- duty cycle: fraction of covered epochs in which the volcano is in its high (eruptive) state —
  values split in two states by least within-state variance (Otsu 1979), the high state's mean at
  least :data:`STATE_RATIO` × the low one's, else every detection is active; an observed
  non-detection is inactive — and the detection fraction (detected / covered epochs);
- periodicity: the Lomb–Scargle periodogram (astropy ``LombScargle``, VanderPlas 2018, ApJS 236:16)
  with the Baluev (2008, MNRAS 385:1279) false-alarm probability of its highest peak;
- where activity is (:func:`activity_distribution`): leading/trailing (apex of motion at 90°W),
  sub-/anti-Jovian and north/south counts against a binomial p = ½, and Kolmogorov–Smirnov tests
  of sin(latitude) ~ U(−1, 1) and east longitude ~ U(0, 360) — the uniform-on-the-sphere null.

Inside, times are seconds past J2000 TDB (``et_s``) and days; positions planetocentric latitude
and east longitude in degrees (both longitudes in JSON). :func:`epoch_table` is the per-epoch table
(one row per volcano and epoch) that other per-epoch columns (e.g. Io's System III longitude) join
on ``et_s`` or ``epoch``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ioflyby.errors import IoflybyError
from ioflyby.fileio import save_figure

if TYPE_CHECKING:
    from ioflyby.report import Section
    from ioflyby.volcano.timeseries_magnetosphere import MagnetosphereLink

PERIJOVE_UTC = {
    "PJ41": "2022-04-09T15:49:17",
    "PJ43": "2022-07-05T09:17:22",
    "PJ47": "2022-12-15T03:23:22",
    "PJ49": "2023-03-01T05:53:21",
}
"""Juno perijove times (UTC) of the Mura et al. (2024) orbits, from the Juno orbit table of the
LASP Magnetospheres of Outer Planets group (lasp.colorado.edu/mop, "EM2 spreadsheet"), as
tabulated in jpmorgen/IoIO ``IoIO/juno.py``; PJ43 agrees with the JunoCam products of 2022 day 186."""
DAVIES_EPOCH = "Davies2024"
SOURCES = ("mura", "davies")
QUANTITIES = {"mband_gw": "JIRAM M-band (4.8 µm) output (GW)", "power_gw": "total thermal power (GW)"}
ASSOCIATION_KM = 50.0
"""Unmatched detections within this great-circle distance (km on Io's sphere) are one volcano."""
RELATIVE_NOISE = 0.2
"""Noise floor of a value without its own σ, as a fraction of the level compared with (JIRAM and
ground-based hot-spot photometry calibrate to a few tens of per cent)."""
OUTBURST_FACTOR = 3.0
OUTBURST_SIGMA = 3.0
STATE_RATIO = 2.0
"""A high state counts as eruptive when its mean is at least this × the low state's."""
MIN_EPOCHS_FOR_PERIOD = 8
"""Fewer detected epochs than this give no periodogram."""
LEADING_APEX_LON_EAST_DEG = 270.0
"""Io's leading hemisphere is centred on 90°W (its apex of motion) = 270°E; trailing on 90°E."""
SUB_JOVIAN_LON_EAST_DEG = 0.0


class TimeSeriesError(IoflybyError):
    """A time-series input (detections folder, volcano name, option) is missing or invalid."""


# -- epochs -----------------------------------------------------------------------------------------
def utc_to_et(utc: str) -> float:
    """Seconds past J2000 TDB of an ISO UTC time (astropy; no kernels needed)."""
    from astropy.time import Time

    try:
        tdb = Time(utc, scale="utc").tdb
    except ValueError:
        raise TimeSeriesError(f"not a UTC time: {utc!r}; use ISO format, e.g. 2023-12-30T08:35:00") from None
    return float(((tdb.jd1 - 2451545.0) + tdb.jd2) * 86400.0)


@dataclass(frozen=True)
class Epoch:
    """One look at one volcano: ``value`` (GW, None where not measured) of ``quantity``,
    ``detected`` (None: unknown), ``coverage`` "observed" / "not observable" / "unknown",
    ``kind`` "observation" or "compilation"."""

    epoch: str
    time_utc: str
    et_s: float
    source: str
    quantity: str
    value: float | None
    sigma: float | None
    detected: bool | None
    coverage: str
    kind: str = "observation"
    product_id: str | None = None

    @property
    def days(self) -> float:
        return self.et_s / 86400.0

    def to_json(self) -> dict:
        return {"epoch": self.epoch, "time_utc": self.time_utc, "et_s": self.et_s, "source": self.source,
                "quantity": self.quantity, "value_gw": self.value, "sigma_gw": self.sigma, "detected": self.detected,
                "coverage": self.coverage, "kind": self.kind, "product_id": self.product_id}


@dataclass(frozen=True)
class Variability:
    """Spread of a light curve (GW): ``changes`` are (value_b − value_a) / value_a between
    consecutive detected epochs."""

    n_epochs: int
    n_detected: int
    max_gw: float | None
    min_gw: float | None
    max_over_min: float | None
    mean_gw: float | None
    coefficient_of_variation: float | None
    changes: list[dict]
    max_abs_change: float | None

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Outburst:
    """A rise to ≥ factor × the previous quiescent level (GW): where it started, its peak, the
    epochs it lasted, its size against the noise."""

    start_epoch: str
    start_time_utc: str
    peak_epoch: str
    peak_gw: float
    previous_level_gw: float
    factor: float | None
    significance_sigma: float
    epochs: list[str]

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Periodicity:
    """Lomb–Scargle result: the strongest periods (days) with the false-alarm probability of each
    peak's power; ``reason`` says why there is none. ``frequency``/``power`` are for plots."""

    periods_days: list[float]
    false_alarm: list[float]
    n_epochs: int
    min_period_days: float | None = None
    max_period_days: float | None = None
    method: str = "astropy LombScargle, Baluev false-alarm probability"
    reason: str | None = None
    frequency: np.ndarray | None = field(default=None, repr=False, compare=False)
    power: np.ndarray | None = field(default=None, repr=False, compare=False)
    fap_1pct_power: float | None = None

    @property
    def best_false_alarm(self) -> float | None:
        return self.false_alarm[0] if self.false_alarm else None

    def to_json(self) -> dict:
        return {"periods_days": self.periods_days, "false_alarm": self.false_alarm, "n_epochs": self.n_epochs,
                "min_period_days": self.min_period_days, "max_period_days": self.max_period_days,
                "method": self.method, "reason": self.reason}


@dataclass
class VolcanoSeries:
    """One volcano's light curve in one quantity and its statistics (filled by :func:`analyse`)."""

    name: str
    lat_deg: float
    lon_east_deg: float
    quantity: str
    epochs: list[Epoch]
    iau_name: str | None = None
    variability: Variability | None = None
    outbursts: list[Outburst] = field(default_factory=list)
    duty_cycle: float | None = None
    detection_fraction: float | None = None
    periodicity: Periodicity | None = None

    def observations(self) -> list[Epoch]:
        return sorted((e for e in self.epochs if e.kind == "observation"), key=lambda e: e.et_s)

    def to_json(self) -> dict:
        p = self.periodicity
        return {
            "name": self.name, "iau_name": self.iau_name, "lat_deg": self.lat_deg, "lon_east_deg": self.lon_east_deg,
            "lon_west_deg": (-self.lon_east_deg) % 360.0, "quantity": self.quantity,
            "epochs": [e.to_json() for e in sorted(self.epochs, key=lambda e: e.et_s)],
            "variability": self.variability.to_json() if self.variability else None,
            "duty_cycle": self.duty_cycle, "detection_fraction": self.detection_fraction,
            "periods_days": p.periods_days if p else [], "false_alarm": p.best_false_alarm if p else None,
            "periodogram": p.to_json() if p else None,
            "outbursts": [o.to_json() for o in self.outbursts],
        }


# -- reading the sources ----------------------------------------------------------------------------
def mura_series(folder: Path | None = None) -> list[VolcanoSeries]:
    """Mura et al. (2024) M-band output per orbit, one series per hot spot (empty cells: coverage
    unknown), read with :func:`ioflyby.volcano.catalogue.read_mura`."""
    from ioflyby.volcano.catalogue import MURA_ORBITS, read_mura

    table = read_mura(folder)
    times = {orbit: (PERIJOVE_UTC[orbit], utc_to_et(PERIJOVE_UTC[orbit])) for orbit in MURA_ORBITS}
    series = []
    for row in table.itertuples(index=False):
        epochs = []
        for orbit in MURA_ORBITS:
            value = float(getattr(row, f"mband_{orbit.lower()}_gw"))
            seen = math.isfinite(value)
            epochs.append(Epoch(orbit, times[orbit][0], times[orbit][1], "mura", "mband_gw", value if seen else None,
                                None, True if seen else None, "observed" if seen else "unknown"))
        series.append(VolcanoSeries(row.name, float(row.lat_deg), float(row.lon_east_deg), "mband_gw", epochs,
                                    iau_name=_iau_names("mura").get(row.name)))
    return series


def _iau_names(source: str) -> dict[str, str | None]:
    """Source name → the IAU feature the shipped catalogue matched it to."""
    from ioflyby.volcano.catalogue import select_features

    table = select_features(sources=source)
    return dict(zip(table["name"], table["iau_name"]))


def davies_series(folder: Path | None = None) -> list[VolcanoSeries]:
    """Davies et al. (2024) total power, one single-epoch "compilation" series per source."""
    from ioflyby.volcano.catalogue import read_davies

    utc = PERIJOVE_UTC["PJ49"]
    et = utc_to_et(utc)
    iau = _iau_names("davies")
    return [VolcanoSeries(row.name, float(row.lat_deg), float(row.lon_east_deg), "power_gw",
                          [Epoch(DAVIES_EPOCH, utc, et, "davies", "power_gw", float(row.power_gw), None, True,
                                 "observed", kind="compilation")], iau_name=iau.get(row.name))
            for row in read_davies(folder).itertuples(index=False)]


@dataclass(frozen=True)
class DetectionRecord:
    """One row of an ``ioflyby hotspots`` output: where, when, power (GW) and its σ, emission
    angle (deg), and the catalogue source it was matched to ("" none)."""

    product_id: str
    time_utc: str
    lat_deg: float
    lon_east_deg: float
    power_gw: float | None
    power_sigma_gw: float | None
    emission_deg: float | None
    catalogue_name: str


def _float(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _record(row: dict, where: Path) -> DetectionRecord:
    match = row.get("catalogue_match")
    name = match.get("name", "") if isinstance(match, dict) else row.get("catalogue_name") or ""
    lat, lon = _float(row.get("lat_deg")), _float(row.get("lon_east_deg"))
    if lat is None or lon is None or not row.get("time_utc") or not row.get("product_id"):
        raise TimeSeriesError(f"{where}: a detection without product_id, time_utc, lat_deg and lon_east_deg; "
                              "give the CSV or JSON that ioflyby hotspots writes")
    return DetectionRecord(str(row["product_id"]), str(row["time_utc"]), lat, lon % 360.0, _float(row.get("power_gw")),
                           _float(row.get("power_sigma_gw")), _float(row.get("emission_deg")), str(name or ""))


def read_detections(paths: Iterable[str | Path]) -> list[DetectionRecord]:
    """Detections from ``ioflyby hotspots`` outputs: folders (every ``*_hotspots.csv`` in them, and
    ``*.json`` files holding ``{"detections": [...]}``, i.e. a saved ``--json``) or such files."""
    from ioflyby.fileio import read_regular_file

    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(path.glob("*_hotspots.csv")) + sorted(path.glob("*.json"))
            if not found:
                raise TimeSeriesError(f"--detections {path}: no *_hotspots.csv or hotspots JSON in it; "
                                      "run ioflyby hotspots --out there first")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise TimeSeriesError(f"--detections {path}: no such file or folder")
    records = []
    for path in files:
        text = read_regular_file(path, 256 * 2**20, TimeSeriesError, "detections file").decode("utf-8", "replace")
        if path.suffix.lower() == ".json":
            try:
                data = json.loads(text)
            except ValueError:
                raise TimeSeriesError(f"{path}: not JSON; give the output of ioflyby hotspots --json") from None
            if not isinstance(data, dict) or not isinstance(data.get("detections"), list):
                continue  # another JSON in the folder (e.g. a run record): not detections
            rows = data["detections"]
        else:
            rows = list(csv.DictReader(io.StringIO(text)))
        records += [_record(row, path) for row in rows]
    return records


def _great_circle_deg(lat1, lon1, lat2, lon2) -> np.ndarray:
    from ioflyby.volcano.catalogue import great_circle_deg

    return great_circle_deg(lat1, lon1, lat2, lon2)


def detection_coverage(lat_deg: float, lon_east_deg: float, seen: Sequence[DetectionRecord],
                       max_emission_deg: float) -> str:
    """Was (lat, east lon) in view of a product, judged from that product's own detections?
    A point's angle from the sub-observer point is at most its emission angle, so a detection D
    at emission e_D puts the sub-observer point within e_D of D: the volcano V is "observed" when
    d(V, D) + e_D ≤ ``max_emission_deg`` for some D (exact for a distant observer; near a close
    flyby the emission angle exceeds that angle), "not observable" when d(V, D) − e_D ≥ 90° for
    some D (beyond the limb), else "unknown"."""
    usable = [d for d in seen if d.emission_deg is not None]
    if not usable:
        return "unknown"
    distance = _great_circle_deg(lat_deg, lon_east_deg, np.array([d.lat_deg for d in usable]),
                                 np.array([d.lon_east_deg for d in usable]))
    emission = np.array([d.emission_deg for d in usable])
    if np.any(distance - emission >= 90.0):
        return "not observable"
    return "observed" if np.any(distance + emission <= max_emission_deg) else "unknown"


def _catalogue_positions() -> dict[str, tuple[float, float, str | None]]:
    from ioflyby.volcano.catalogue import select_features

    table = select_features(sources=("davies", "mura"))
    return {row.name: (float(row.lat_deg), float(row.lon_east_deg), row.iau_name)
            for row in table.itertuples(index=False)}


def _groups(records: Sequence[DetectionRecord], radius_km: float) -> list[tuple[str, float, float, list]]:
    """Detections grouped into volcanoes: by catalogue name, else greedily by position."""
    from ioflyby.volcano.catalogue import IO_MEAN_RADIUS_KM

    known = _catalogue_positions()
    named: dict[str, list[DetectionRecord]] = {}
    loose: list[list[DetectionRecord]] = []
    for record in records:
        if record.catalogue_name:
            named.setdefault(record.catalogue_name, []).append(record)
            continue
        for group in loose:
            lat = float(np.mean([r.lat_deg for r in group]))
            lon = float(np.mean([r.lon_east_deg for r in group]))
            if np.radians(_great_circle_deg(lat, lon, record.lat_deg, record.lon_east_deg)) * IO_MEAN_RADIUS_KM \
                    <= radius_km:
                group.append(record)
                break
        else:
            loose.append([record])
    groups = []
    for name, members in named.items():
        lat, lon, _ = known.get(name, (float(np.mean([r.lat_deg for r in members])),
                                       float(np.mean([r.lon_east_deg for r in members])), None))
        groups.append((name, lat, lon, members))
    for members in loose:
        lat = float(np.mean([r.lat_deg for r in members]))
        lon = float(np.mean([r.lon_east_deg for r in members]))
        groups.append((f"unmatched {lat:+.1f} {lon:.1f}E", lat, lon, members))
    return groups


def detection_series(records: Sequence[DetectionRecord], radius_km: float = ASSOCIATION_KM,
                     max_emission_deg: float = 75.0) -> list[VolcanoSeries]:
    """One ``power_gw`` series per volcano seen in the detections; every product is an epoch of
    every volcano (detected, or not with its coverage per :func:`detection_coverage`). Several
    detections of one volcano in one product: the most powerful."""
    products: dict[str, list[DetectionRecord]] = {}
    for record in records:
        products.setdefault(record.product_id, []).append(record)
    when = {pid: (rows[0].time_utc, utc_to_et(rows[0].time_utc)) for pid, rows in products.items()}
    iau = {name: entry[2] for name, entry in _catalogue_positions().items()}
    series = []
    for name, lat, lon, members in _groups(records, radius_km):
        epochs = []
        for pid, rows in products.items():
            mine = [r for r in members if r.product_id == pid]
            if mine:
                best = max(mine, key=lambda r: -1.0 if r.power_gw is None else r.power_gw)
                epochs.append(Epoch(pid, when[pid][0], when[pid][1], "ioflyby", "power_gw", best.power_gw,
                                    best.power_sigma_gw, True, "observed", product_id=pid))
            else:
                coverage = detection_coverage(lat, lon, rows, max_emission_deg)
                epochs.append(Epoch(pid, when[pid][0], when[pid][1], "ioflyby", "power_gw", None, None,
                                    False if coverage == "observed" else None, coverage, product_id=pid))
        series.append(VolcanoSeries(name, lat, lon, "power_gw", epochs, iau_name=iau.get(name)))
    return series


def attach_davies(series: list[VolcanoSeries], davies: Sequence[VolcanoSeries],
                  radius_km: float = ASSOCIATION_KM) -> None:
    """Add Davies' compilation epoch to each ``power_gw`` series of the same name, or of the
    nearest Davies source within ``radius_km``."""
    from ioflyby.volcano.catalogue import IO_MEAN_RADIUS_KM

    if not davies:
        return
    lats = np.array([d.lat_deg for d in davies])
    lons = np.array([d.lon_east_deg for d in davies])
    by_name = {d.name: d for d in davies}
    for s in series:
        if s.quantity != "power_gw":
            continue
        match = by_name.get(s.name)
        if match is None:
            distance = np.radians(_great_circle_deg(s.lat_deg, s.lon_east_deg, lats, lons)) * IO_MEAN_RADIUS_KM
            i = int(np.argmin(distance))
            match = davies[i] if distance[i] <= radius_km else None
        if match is not None:
            s.epochs.extend(match.epochs)


# -- statistics -------------------------------------------------------------------------------------
def _detected(epochs: Sequence[Epoch]) -> list[Epoch]:
    return [e for e in epochs if e.detected and e.value is not None]


def variability(epochs: Sequence[Epoch]) -> Variability:
    """Max, min, max/min, mean, coefficient of variation (std/mean, ddof 1) and the fractional
    change between consecutive detected epochs (time order)."""
    seen = sorted(_detected(epochs), key=lambda e: e.et_s)
    values = np.array([e.value for e in seen], float)
    if values.size == 0:
        return Variability(len(epochs), 0, None, None, None, None, None, [], None)
    changes = [{"from": a.epoch, "to": b.epoch, "fraction": (b.value - a.value) / a.value}
               for a, b in zip(seen, seen[1:]) if a.value > 0]
    low = float(values.min())
    return Variability(
        len(epochs), int(values.size), float(values.max()), low, float(values.max() / low) if low > 0 else None,
        float(values.mean()), float(values.std(ddof=1) / values.mean()) if values.size > 1 and values.mean() > 0
        else None, changes, max((abs(c["fraction"]) for c in changes), default=None))


def _robust_scatter(values: Sequence[float]) -> float:
    if len(values) < 3:
        return 0.0
    median = statistics.median(values)
    return 1.4826 * statistics.median(abs(v - median) for v in values)


def find_outbursts(epochs: Sequence[Epoch], factor: float = OUTBURST_FACTOR,
                   n_sigma: float = OUTBURST_SIGMA) -> list[Outburst]:
    """Outbursts in time order (criterion in the module docstring). Observed non-detections count
    as zero in the quiescent level; epochs of unknown coverage are skipped."""
    quiet: list[float] = []
    events: list[Outburst] = []
    current: dict | None = None
    for e in sorted(epochs, key=lambda e: e.et_s):
        if e.coverage != "observed" or e.kind != "observation":
            continue
        value = e.value if e.detected and e.value is not None else 0.0
        if current is not None:
            level = current["level"]
            if value - level > max(e.sigma or 0.0, current["noise"]):
                current["epochs"].append(e.epoch)
                if value > current["peak"]:
                    current["peak"], current["peak_epoch"] = value, e.epoch
                continue
            events.append(_close(current))
            current = None
        if quiet:
            level = float(statistics.median(quiet))
            noise = max(e.sigma or 0.0, _robust_scatter(quiet), RELATIVE_NOISE * level)
            significance = (value - level) / noise if noise > 0 else math.inf
            if value > 0 and value >= factor * level and significance >= n_sigma:
                current = {"start": e, "level": level, "noise": noise, "peak": value, "peak_epoch": e.epoch,
                           "epochs": [e.epoch], "significance": significance}
                continue
        quiet.append(value)
    if current is not None:
        events.append(_close(current))
    return events


def _close(event: dict) -> Outburst:
    start: Epoch = event["start"]
    level = event["level"]
    return Outburst(start.epoch, start.time_utc, event["peak_epoch"], event["peak"], level,
                    event["peak"] / level if level > 0 else None,
                    event["significance"] if math.isfinite(event["significance"]) else None, event["epochs"])


def two_state_threshold(values: Sequence[float], ratio: float = STATE_RATIO) -> float | None:
    """The value splitting ``values`` into a low and a high state with the least within-state
    variance (Otsu 1979, IEEE SMC 9:62, on the values), or None when the high state's mean is
    under ``ratio`` × the low state's (one state: a steady source and its noise)."""
    ordered = np.sort(np.asarray(values, float))
    if ordered.size < 2:
        return None
    cost = [i * ordered[:i].var() + (ordered.size - i) * ordered[i:].var() for i in range(1, ordered.size)]
    i = int(np.argmin(cost)) + 1
    low, high = ordered[:i].mean(), ordered[i:].mean()
    return float(0.5 * (ordered[i - 1] + ordered[i])) if high >= ratio * low else None


def duty_cycle(epochs: Sequence[Epoch]) -> float | None:
    """Fraction of covered observation epochs in which the volcano is in its high (eruptive)
    state (:func:`two_state_threshold`; a source with one state is active whenever detected; a
    non-detection in view is inactive). None without a covered epoch."""
    covered = [e for e in epochs if e.coverage == "observed" and e.kind == "observation"]
    seen = [e.value for e in _detected(covered)]
    if not covered:
        return None
    threshold = two_state_threshold(seen)
    active = len(seen) if threshold is None else sum(1 for v in seen if v >= threshold)
    return active / len(covered)


def detection_fraction(epochs: Sequence[Epoch]) -> float | None:
    """Detected / covered observation epochs (None without a covered epoch)."""
    covered = [e for e in epochs if e.coverage == "observed" and e.kind == "observation"]
    return len(_detected(covered)) / len(covered) if covered else None


def periodicity(epochs: Sequence[Epoch], min_period_days: float | None = None,
                max_period_days: float | None = None, n_peaks: int = 3) -> Periodicity:
    """Lomb–Scargle periodogram of the detected values (uncertainties as weights where all have
    one) between ``min_period_days`` (default: twice the shortest spacing, at least 1 day) and
    ``max_period_days`` (default: half the time span, two cycles at least); the ``n_peaks``
    highest distinct peaks with the Baluev false-alarm probability of each."""
    from astropy.timeseries import LombScargle

    seen = sorted(_detected([e for e in epochs if e.kind == "observation"]), key=lambda e: e.et_s)
    if len(seen) < MIN_EPOCHS_FOR_PERIOD:
        return Periodicity([], [], len(seen), reason=f"{len(seen)} detected epochs; a period needs at least "
                                                     f"{MIN_EPOCHS_FOR_PERIOD}")
    t = np.array([e.days for e in seen])
    y = np.array([e.value for e in seen], float)
    sigmas = [e.sigma for e in seen]
    dy = np.array(sigmas, float) if all(s is not None and s > 0 for s in sigmas) else None
    span = float(t.max() - t.min())
    spacing = np.diff(np.unique(t))
    low = min_period_days or max(1.0, 2.0 * float(spacing.min()) if spacing.size else 1.0)
    high = max_period_days or span / 2.0
    if not high > low:
        return Periodicity([], [], len(seen), low, high, reason=f"time span {span:.0f} d too short for periods "
                                                                f"above {low:.1f} d")
    model = LombScargle(t, y, dy)
    frequency, power = model.autopower(minimum_frequency=1.0 / high, maximum_frequency=1.0 / low,
                                       samples_per_peak=10)
    peaks = _peaks(frequency, power, span, n_peaks)
    faps = [float(model.false_alarm_probability(power[i], method="baluev", minimum_frequency=1.0 / high,
                                                maximum_frequency=1.0 / low)) for i in peaks]
    level = float(model.false_alarm_level(0.01, method="baluev", minimum_frequency=1.0 / high,
                                          maximum_frequency=1.0 / low))
    return Periodicity([float(1.0 / frequency[i]) for i in peaks], faps, len(seen), low, high,
                       frequency=frequency, power=power, fap_1pct_power=level)


def _peaks(frequency: np.ndarray, power: np.ndarray, span_days: float, n: int) -> list[int]:
    """Indices of the ``n`` highest local maxima at least one peak width (1 / span) apart."""
    inner = np.flatnonzero((power[1:-1] >= power[:-2]) & (power[1:-1] >= power[2:])) + 1
    candidates = [0, *inner.tolist(), len(power) - 1]
    chosen: list[int] = []
    for i in sorted(candidates, key=lambda i: -power[i]):
        if all(abs(frequency[i] - frequency[j]) > 1.0 / span_days for j in chosen):
            chosen.append(i)
        if len(chosen) == n:
            break
    return chosen


def analyse(series: VolcanoSeries, factor: float = OUTBURST_FACTOR, n_sigma: float = OUTBURST_SIGMA,
            min_period_days: float | None = None, max_period_days: float | None = None) -> VolcanoSeries:
    """Fill ``series``' variability, outbursts, duty cycle and periodicity (observations only)."""
    observed = series.observations()
    series.variability = variability(observed)
    series.outbursts = find_outbursts(observed, factor, n_sigma)
    series.duty_cycle = duty_cycle(observed)
    series.detection_fraction = detection_fraction(observed)
    series.periodicity = periodicity(observed, min_period_days, max_period_days)
    return series


# -- where the activity is --------------------------------------------------------------------------
@dataclass(frozen=True)
class UniformTest:
    """One test of positions against uniform on the sphere: ``counts`` (for binomial tests the
    two halves), the statistic and its p-value."""

    name: str
    statistic: float
    p_value: float
    counts: dict[str, int] | None = None

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ActivityDistribution:
    """Where a population of volcanoes lies, tested against uniform on the sphere;
    ``rejects_uniform``: the smallest p-value × number of tests (Bonferroni) < ``alpha``."""

    population: str
    n: int
    tests: list[UniformTest]
    alpha: float
    rejects_uniform: bool
    lat_histogram: dict[str, int]

    def to_json(self) -> dict:
        return {"population": self.population, "n": self.n, "alpha": self.alpha,
                "rejects_uniform": self.rejects_uniform, "tests": [t.to_json() for t in self.tests],
                "lat_histogram": self.lat_histogram}


def _within(lon_east_deg: np.ndarray, centre_deg: float) -> np.ndarray:
    return np.abs((lon_east_deg - centre_deg + 180.0) % 360.0 - 180.0) < 90.0


def activity_distribution(lat_deg: Sequence[float], lon_east_deg: Sequence[float], population: str = "active",
                          alpha: float = 0.05) -> ActivityDistribution:
    """Binomial tests (p = ½, two-sided) of leading vs trailing, sub- vs anti-Jovian and north vs
    south; Kolmogorov–Smirnov tests of sin(lat) ~ U(−1, 1) and east longitude ~ U(0, 360) (scipy);
    a histogram in four equal-area latitude bands."""
    from scipy import stats

    lat = np.asarray(lat_deg, float)
    lon = np.asarray(lon_east_deg, float) % 360.0
    n = int(lat.size)
    if n < 2:
        return ActivityDistribution(population, n, [], alpha, False, {})
    tests = []
    for name, first, second, inside in (
        ("leading vs trailing", "leading", "trailing", _within(lon, LEADING_APEX_LON_EAST_DEG)),
        ("sub- vs anti-Jovian", "sub_jovian", "anti_jovian", _within(lon, SUB_JOVIAN_LON_EAST_DEG)),
        ("north vs south", "north", "south", lat > 0),
    ):
        k = int(inside.sum())
        tests.append(UniformTest(name, k / n, float(stats.binomtest(k, n, 0.5).pvalue), {first: k, second: n - k}))
    ks_lat = stats.kstest(np.sin(np.radians(lat)), stats.uniform(loc=-1.0, scale=2.0).cdf)
    ks_lon = stats.kstest(lon, stats.uniform(loc=0.0, scale=360.0).cdf)
    tests += [UniformTest("KS sin(latitude) ~ U(-1, 1)", float(ks_lat.statistic), float(ks_lat.pvalue)),
              UniformTest("KS east longitude ~ U(0, 360)", float(ks_lon.statistic), float(ks_lon.pvalue))]
    edges = np.degrees(np.arcsin([-1.0, -0.5, 0.0, 0.5, 1.0]))
    counts, _ = np.histogram(lat, bins=edges)
    histogram = {f"{a:.0f}..{b:.0f}": int(c) for a, b, c in zip(edges, edges[1:], counts)}
    rejects = min(t.p_value for t in tests) * len(tests) < alpha
    return ActivityDistribution(population, n, tests, alpha, bool(rejects), histogram)


# -- the whole job ----------------------------------------------------------------------------------
@dataclass
class TimeSeriesResult:
    """Series per volcano and quantity, where the active and the outbursting ones lie, the
    criteria used; ``to_json()`` is ``ioflyby volcano timeseries --json`` (without outputs)."""

    series: list[VolcanoSeries]
    distributions: list[ActivityDistribution]
    criteria: dict
    magnetosphere: MagnetosphereLink | None = None

    def to_json(self) -> dict:
        result = {"series": [s.to_json() for s in self.series],
                  "distributions": [d.to_json() for d in self.distributions], "criteria": self.criteria,
                  "conventions": "planetocentric latitude, east and west longitude (deg); times UTC and seconds "
                                 "past J2000 TDB (et_s); values GW of the series' quantity",
                  "sources": ["Mura et al. 2024, Front. Astron. Space Sci. 11:1369472 (Table 3)",
                              "Davies et al. 2024, PSJ 5:121 (Table A1)",
                              "Juno perijove times: LASP MOP Juno orbit table"]}
        if self.magnetosphere is not None:
            result["magnetosphere"] = self.magnetosphere.to_json()
        return result

    def epoch_table(self) -> pd.DataFrame:
        """:func:`epoch_table`, with Io's magnetospheric context columns (``io_*``) when joined."""
        table = epoch_table(self.series)
        if self.magnetosphere is not None and self.magnetosphere.per_epoch:
            from ioflyby.volcano.timeseries_magnetosphere import CONTEXT_COLUMNS

            context = pd.DataFrame(self.magnetosphere.per_epoch)[["et_s", *CONTEXT_COLUMNS]]
            table = table.merge(context.rename(columns={c: f"io_{c}" for c in CONTEXT_COLUMNS}), on="et_s",
                                how="left")
        return table


def epoch_table(series: Sequence[VolcanoSeries]) -> pd.DataFrame:
    """One row per volcano, quantity and epoch: name, quantity, epoch, time_utc, et_s, source,
    kind, value_gw, sigma_gw, detected, coverage, product_id, lat_deg, lon_east_deg, lon_west_deg.
    Join other per-epoch columns on ``et_s`` (or ``epoch``)."""
    rows = [{"name": s.name, "quantity": s.quantity, **e.to_json(), "lat_deg": s.lat_deg,
             "lon_east_deg": s.lon_east_deg, "lon_west_deg": (-s.lon_east_deg) % 360.0}
            for s in series for e in sorted(s.epochs, key=lambda e: e.et_s)]
    columns = ["name", "quantity", "epoch", "time_utc", "et_s", "source", "kind", "value_gw", "sigma_gw", "detected",
               "coverage", "product_id", "lat_deg", "lon_east_deg", "lon_west_deg"]
    return pd.DataFrame(rows, columns=columns)


def _origin(series: VolcanoSeries) -> str:
    """Where a series' observations come from (mura, ioflyby), else its compilation (davies)."""
    observed = series.observations()
    return (observed or series.epochs)[0].source if series.epochs else "none"


def select_series(series: Sequence[VolcanoSeries], name: str) -> list[VolcanoSeries]:
    """The series named ``name`` (case, accents, hyphens and "P."/"Patera" ignored), else those
    whose name or IAU feature shares its root ("Loki" → Loki Patera's sources); a :class:`TimeSeriesError` naming close ones when none does."""
    from difflib import get_close_matches

    from ioflyby.volcano.catalogue import name_root

    def plain(text: str | None) -> str:
        folded = "".join(c for c in unicodedata.normalize("NFKD", text or "") if not unicodedata.combining(c))
        return " ".join(folded.replace("-", " ").replace(" P.", " Patera").casefold().split())

    def key(text: str | None) -> str:
        return name_root(plain(text)) if text else ""

    chosen = [s for s in series if plain(name) and plain(s.name) == plain(name)]
    if not chosen:
        wanted = key(name)
        chosen = [s for s in series if wanted and wanted in (key(s.name), key(s.iau_name))]
    if not chosen:
        names = sorted({s.name for s in series})
        close = get_close_matches(name, names, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see ioflyby volcano list"
        raise TimeSeriesError(f"no volcano named {name!r} in these sources{hint}")
    return chosen


def build_timeseries(sources: Sequence[str] = ("mura",), detections: Iterable[str | Path] = (),
                     name: str | None = None, factor: float = OUTBURST_FACTOR, n_sigma: float = OUTBURST_SIGMA,
                     min_period_days: float | None = None, max_period_days: float | None = None,
                     catalogue_folder: Path | None = None, kernels: Sequence[str | Path] | None = None,
                     correlate: Sequence[str] = (), against: str | Path | None = None,
                     max_lag_days: float = 10.0) -> TimeSeriesResult:
    """Series from the catalogue ``sources`` (:data:`SOURCES`) and the ``detections`` (paths for
    :func:`read_detections`), optionally only volcano ``name``, each analysed (:func:`analyse`),
    plus the distribution of the detected and of the outbursting volcanoes.

    With ``kernels`` (Io's, Jupiter's and the Sun's SPK, an LSK, a PCK), Io's magnetospheric
    context is joined at every observation epoch and the activity tested against the
    ``correlate`` covariates (all when empty); with ``against`` (a ``time_utc,value`` CSV), a
    lagged cross-correlation up to ``max_lag_days``: :mod:`ioflyby.volcano.timeseries_magnetosphere`."""
    from ioflyby.volcano.timeseries_magnetosphere import check_options, magnetosphere_link

    kernels = list(kernels or [])
    check_options(kernels, correlate, max_lag_days)
    unknown = set(sources) - set(SOURCES)
    if unknown:
        raise TimeSeriesError(f"unknown source {', '.join(sorted(unknown))}: use {' or '.join(SOURCES)}")
    if not factor > 1 or not n_sigma > 0:
        raise TimeSeriesError(f"the outburst factor must exceed 1 and n_sigma be positive; got {factor:g}, {n_sigma:g}")
    detections = list(detections)
    if not sources and not detections:
        raise TimeSeriesError("nothing to analyse: give --source mura/davies or --detections DIR")
    series: list[VolcanoSeries] = []
    if "mura" in sources:
        series += mura_series(catalogue_folder)
    davies = davies_series(catalogue_folder) if "davies" in sources else []
    if detections:
        own = detection_series(read_detections(detections))
        attach_davies(own, davies)
        series += own
        attached = {id(e) for s in own for e in s.epochs}
        davies = [d for d in davies if id(d.epochs[0]) not in attached]
    series += davies
    if name is not None:
        series = select_series(series, name)
    for s in series:
        analyse(s, factor, n_sigma, min_period_days, max_period_days)
    populations: dict[str, list[VolcanoSeries]] = {}
    for s in series:
        if any(e.detected for e in s.epochs):
            populations.setdefault(f"detected ({_origin(s)})", []).append(s)
        if s.outbursts:
            populations.setdefault("outbursting", []).append(s)
    distributions = [activity_distribution([s.lat_deg for s in group], [s.lon_east_deg for s in group], label)
                     for label, group in populations.items()]
    criteria = {"outburst": f"value >= {factor:g} x previous quiescent level (median of earlier non-outburst "
                            f"values) and >= {n_sigma:g} sigma above it (sigma: the value's, the earlier values' "
                            f"robust scatter, or {RELATIVE_NOISE:g} x level, the largest)",
                "duty_cycle": f"fraction of covered epochs in the high state (Otsu two-state split, high mean >= "
                              f"{STATE_RATIO:g} x low mean, else every detection); detection_fraction: detected / "
                              "covered epochs",
                "periodicity": f"astropy LombScargle, Baluev FAP; >= {MIN_EPOCHS_FOR_PERIOD} detected epochs",
                "mura_missing_value": "not observed or not given: coverage unknown, not a non-detection",
                "epoch_times": "Mura orbits at their perijove (UTC); Davies compilation at PJ49 (not used in "
                               "statistics); detections at their product time"}
    link = None
    if kernels or against is not None:
        link = magnetosphere_link(series, kernels, correlate, against, max_lag_days)
    return TimeSeriesResult(series, distributions, criteria, link)


# -- plots ------------------------------------------------------------------------------------------
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _ranked(series: Sequence[VolcanoSeries]) -> list[VolcanoSeries]:
    """Series with at least two detections, most variable first."""
    usable = [s for s in series if s.variability and s.variability.n_detected >= 2 and s.variability.max_over_min]
    return sorted(usable, key=lambda s: (-len(s.outbursts), -s.variability.max_over_min))


def plot_light_curves(series: Sequence[VolcanoSeries], path: str | Path, limit: int = 8, title: str = "") -> Path:
    """Light curves (GW against date, log scale) of the ``limit`` most variable series; stars mark
    outburst starts, down triangles non-detections in view, the Davies compilation a cross."""
    from astropy.time import Time

    plt = _pyplot()
    chosen = _ranked(series)[:limit] or [s for s in series if s.variability and s.variability.n_detected][:limit]
    figure, axis = plt.subplots(figsize=(9, 5))
    for s in chosen:
        epochs = sorted(s.epochs, key=lambda e: e.et_s)
        obs = [e for e in epochs if e.kind == "observation" and e.detected and e.value]
        dates = Time([e.time_utc for e in obs], scale="utc").datetime if obs else []
        line, = axis.plot(dates, [e.value for e in obs], "o-", markersize=4,
                          label=f"{s.name} ({QUANTITIES[s.quantity].split(' (')[0]})")
        starts = {o.start_epoch for o in s.outbursts}
        burst = [e for e in obs if e.epoch in starts]
        if burst:
            axis.plot(Time([e.time_utc for e in burst], scale="utc").datetime, [e.value for e in burst], "*",
                      color=line.get_color(), markersize=14)
        missed = [e for e in epochs if e.detected is False]
        if missed and obs:
            axis.plot(Time([e.time_utc for e in missed], scale="utc").datetime,
                      [min(e.value for e in obs) / 3.0] * len(missed), "v", color=line.get_color())
        ref = [e for e in epochs if e.kind == "compilation" and e.value]
        if ref:
            axis.plot(Time([e.time_utc for e in ref], scale="utc").datetime, [e.value for e in ref], "x",
                      color=line.get_color(), markersize=9)
    axis.set_yscale("log")
    axis.set_ylabel("GW")
    axis.set_xlabel("date (UTC)")
    axis.grid(alpha=0.3, which="both")
    if chosen:
        axis.legend(fontsize=7, loc="best")
    axis.set_title(title or "Io hot-spot light curves (★ outburst start, ▼ not detected in view)")
    figure.autofmt_xdate()
    figure.tight_layout()
    return save_figure(figure, Path(path))


def plot_periodogram(series: Sequence[VolcanoSeries], path: str | Path, limit: int = 4, title: str = "") -> Path:
    """Lomb–Scargle power against period (days, log) of the series that have a periodogram, with
    each one's 1 % false-alarm level dashed."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(8, 4.5))
    shown = [s for s in series if s.periodicity is not None and s.periodicity.power is not None][:limit]
    for s in shown:
        p = s.periodicity
        line, = axis.plot(1.0 / p.frequency, p.power, lw=1, label=f"{s.name}: {p.periods_days[0]:.0f} d, "
                                                                  f"FAP {p.false_alarm[0]:.1e}")
        if p.fap_1pct_power is not None:
            axis.axhline(p.fap_1pct_power, ls="--", lw=0.8, color=line.get_color())
    if not shown:
        axis.text(0.5, 0.5, f"no series with ≥ {MIN_EPOCHS_FOR_PERIOD} detected epochs", ha="center",
                  transform=axis.transAxes)
    axis.set_xscale("log")
    axis.set_xlabel("period (days)")
    axis.set_ylabel("Lomb–Scargle power")
    axis.grid(alpha=0.3, which="both")
    if shown:
        axis.legend(fontsize=8)
    axis.set_title(title or "Periodogram (dashed: 1 % false-alarm level)")
    figure.tight_layout()
    return save_figure(figure, Path(path))


def plot_variability_map(series: Sequence[VolcanoSeries], path: str | Path, title: str = "") -> Path:
    """Each volcano at its position (east longitude, planetocentric latitude), coloured by
    log10(max/min) over its epochs; rings mark outbursts; hemisphere centres annotated."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(9, 4.8))
    usable = [s for s in series if s.variability and s.variability.n_detected]
    ratio = np.array([np.log10(s.variability.max_over_min) if s.variability.max_over_min else 0.0 for s in usable])
    lon = np.array([s.lon_east_deg for s in usable])
    lat = np.array([s.lat_deg for s in usable])
    points = axis.scatter(lon, lat, c=ratio, s=20 + 40 * ratio, cmap="inferno", vmin=0,
                          vmax=max(1.0, float(ratio.max()) if ratio.size else 1.0), edgecolors="k", linewidths=0.3)
    burst = [s for s in usable if s.outbursts]
    if burst:
        axis.scatter([s.lon_east_deg for s in burst], [s.lat_deg for s in burst], s=260, facecolors="none",
                     edgecolors="tab:cyan", linewidths=1.5, label="outburst")
        for s in burst:
            axis.annotate(s.name, (s.lon_east_deg, s.lat_deg), fontsize=7, xytext=(4, 4), textcoords="offset points")
        axis.legend(loc="lower right", fontsize=8)
    figure.colorbar(points, ax=axis, label="log10(max / min)")
    for lon_c, text in ((0, "sub-Jovian"), (90, "trailing"), (180, "anti-Jovian"), (270, "leading")):
        axis.axvline(lon_c, color="0.8", lw=0.6)
        axis.text(lon_c + 2, 84, text, fontsize=7, color="0.4")
    axis.set_xlim(0, 360)
    axis.set_ylim(-90, 90)
    axis.set_xlabel("east longitude (deg)")
    axis.set_ylabel("planetocentric latitude (deg)")
    axis.set_title(title or "Variability of Io's hot spots")
    figure.tight_layout()
    return save_figure(figure, Path(path))


def write_outputs(result: TimeSeriesResult, out: str | Path, stem: str = "timeseries") -> list[Path]:
    """``<stem>.json`` (the result), ``<stem>_epochs.csv`` (:func:`epoch_table`, with Io's context
    columns when joined), and the light curve, periodogram and variability-map PNGs, plus
    ``<stem>_magnetosphere.png`` (activity vs Io's context) when joined, in ``out``, atomically."""
    from ioflyby.fileio import AtomicFiles

    out = Path(out)
    paths = [out / f"{stem}.json", out / f"{stem}_epochs.csv", out / f"{stem}_light_curves.png",
             out / f"{stem}_periodogram.png", out / f"{stem}_variability_map.png"]
    if result.magnetosphere is not None:
        paths.append(out / f"{stem}_magnetosphere.png")
    with AtomicFiles() as files:
        files.path(paths[0]).write_text(json.dumps(_json_safe(result.to_json()), indent=1) + "\n", encoding="utf-8")
        files.path(paths[1]).write_text(result.epoch_table().to_csv(index=False), encoding="utf-8")
        plot_light_curves(result.series, paths[2])
        plot_periodogram(result.series, paths[3])
        plot_variability_map(result.series, paths[4])
        if result.magnetosphere is not None:
            from ioflyby.volcano.timeseries_magnetosphere import plot_activity_context

            plot_activity_context(result.magnetosphere, paths[5])
    return paths


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# -- a Loki-like series and the demo's section ------------------------------------------------------
def loki_like_epochs(period_days: float = 540.0, eruption_days: float = 230.0, years: float = 10.0,
                     quiet_gw: float = 10.0, eruption_gw: float = 40.0, noise: float = 0.15,
                     seed: int = 0) -> list[Epoch]:
    """A synthetic Loki Patera: brightening from ``quiet_gw`` to ``eruption_gw`` for
    ``eruption_days`` every ``period_days`` (Rathbun et al. 2002, GRL 29:1443: a ~540-day cycle),
    sampled like ground-based monitoring — nights at random while Jupiter is observable (about 8
    of its 13-month synodic period), weather gaps — with ``noise`` relative Gaussian scatter."""
    rng = np.random.default_rng(seed)
    nights = np.arange(0.0, years * 365.25)
    season = (nights % 398.9) < 250.0
    taken = season & (rng.random(nights.size) < 0.2)
    t = nights[taken] + rng.uniform(-0.2, 0.2, int(taken.sum()))
    phase = (t % period_days) / period_days
    truth = np.where(phase < eruption_days / period_days, eruption_gw, quiet_gw)
    values = truth * (1.0 + noise * rng.standard_normal(t.size))
    from astropy.time import Time

    et = utc_to_et("2013-08-01T00:00:00") + t * 86400.0
    utc = Time(2451545.0 + et / 86400.0, format="jd", scale="tdb").utc.isot
    return [Epoch(f"night{i:04d}", str(u), float(e), "synthetic", "power_gw", float(v), noise * float(v), True,
                  "observed") for i, (u, e, v) in enumerate(zip(utc, et, values))]


def timeseries_report_section(out: str | Path, result: TimeSeriesResult | None = None) -> Section:
    """The demo report's time-series part: the Mura et al. (2024) per-orbit light curves (or
    ``result``), their variability map, and the period of a synthetic Loki-like series recovered
    by the periodogram; figures written into ``out``."""
    from ioflyby.report import Section

    out = Path(out)
    result = result or build_timeseries(("mura",))
    loki = analyse(VolcanoSeries("synthetic Loki-like", 13.0, 51.0, "power_gw", loki_like_epochs()))
    section = Section("How often they erupt: hot-spot time series")
    ranked = _ranked(result.series)
    bursts = [(s, o) for s in result.series for o in s.outbursts]
    section.text(f"{len(result.series)} light curves; {len(bursts)} outburst(s) by the criterion: "
                 f"{result.criteria['outburst']}. Sources: Mura et al. 2024 (JIRAM M-band per orbit PJ41–PJ49), "
                 "epochs at the Juno perijove times.")
    p = loki.periodicity
    if p and p.periods_days:
        section.text(f"A synthetic Loki-like series (540-day cycle, 230-day eruptions, {p.n_epochs} irregular "
                     f"nights with seasonal gaps, 15 % noise) gives a period of {p.periods_days[0]:.0f} days "
                     f"(false-alarm probability {p.false_alarm[0]:.1e}) and a duty cycle of {loki.duty_cycle:.2f} "
                     f"(injected {230 / 540:.2f}).")
    rows = [{"volcano": s.name, "lat °": s.lat_deg, "lon °E": s.lon_east_deg,
             "epochs (GW)": " → ".join("—" if e.value is None else f"{e.value:g}" for e in s.observations()),
             "max/min": s.variability.max_over_min, "duty cycle": s.duty_cycle,
             "outburst": ", ".join(f"{o.start_epoch} ×{o.factor:.1f}" for o in s.outbursts if o.factor) or ""}
            for s in ranked[:10]]
    section.table("Most variable hot spots", rows)
    section.figure(plot_light_curves(result.series, out / "timeseries_light_curves.png"), "Light curves")
    section.figure(plot_variability_map(result.series, out / "timeseries_variability_map.png"), "Variability map")
    section.figure(plot_periodogram([loki], out / "timeseries_loki_periodogram.png",
                                    title="Synthetic Loki-like series: Lomb–Scargle periodogram"),
                   "Period of a synthetic Loki-like series")
    return section
