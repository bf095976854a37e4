"""Eruption time series: a synthetic Loki-like cycle (injected period and duty cycle as the truth)
recovered by the periodogram, white noise giving no false period, the Mura et al. (2024) per-orbit
numbers read independently of the package (csv module) against the series' variability and the
East Girru outburst, the uniform-null tests on synthetic positions, detections from real
``ioflyby hotspots`` output files, and the ``volcano timeseries`` CLI."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest

import ioflyby.cli.volcano_cmd  # noqa: F401  (registers the verb until the CLI's verb table lists it)
from ioflyby.cli.app import main
from ioflyby.volcano import timeseries as ts
from ioflyby.volcano.hotspots import Detection, HotSpotConfig, HotSpots, ThermalFit

MURA_FILE = "mura2024_mband_by_orbit.csv"
ORBITS = ("PJ41", "PJ43", "PJ47", "PJ49")
LOKI_PERIOD_D = 540.0
LOKI_ERUPTION_D = 230.0


# -- synthetic Loki-like series (the injected period is the truth) ----------------------------------
def _loki_values(t_days: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Quiescent 12 GW; eruptions of 230 d every 540 d: a ~15-day rise to +30 GW, then a slow
    fade to half of it; 20 % multiplicative and 1 GW additive noise."""
    phase = (t_days + 97.0) % LOKI_PERIOD_D
    erupting = phase < LOKI_ERUPTION_D
    shape = (1.0 - np.exp(-phase / 15.0)) * (1.0 - 0.5 * phase / LOKI_ERUPTION_D)
    truth = 12.0 + np.where(erupting, 30.0 * shape, 0.0)
    return truth * (1.0 + 0.2 * rng.standard_normal(t_days.size)) + rng.standard_normal(t_days.size)


def _ground_cadence(rng: np.random.Generator, years: float = 9.0) -> np.ndarray:
    """Nights while Jupiter is observable (~8 of its 398.9-day synodic period), 15 % of them
    observed (telescope time, weather): clumped, irregular, with yearly gaps."""
    nights = np.arange(0.0, years * 365.25)
    observable = (nights % 398.9) < 240.0
    taken = nights[observable & (rng.random(nights.size) < 0.15)]
    return taken + rng.uniform(0.0, 0.3, taken.size)  # time of night


def _juno_cadence(rng: np.random.Generator, years: float = 8.0) -> np.ndarray:
    """One look per Juno orbit (38–53 days), 40 % of orbits without an Io observation."""
    t = np.cumsum(rng.uniform(38.0, 53.0, int(years * 365.25 / 38)))
    t = t[t < years * 365.25]
    return t[rng.random(t.size) > 0.4]


def _epochs(t_days: np.ndarray, values: np.ndarray, sigma: float | None = None) -> list[ts.Epoch]:
    start = ts.utc_to_et("2016-07-05T00:00:00")
    return [ts.Epoch(f"e{i}", "", start + d * 86400.0, "synthetic", "power_gw", float(v),
                     sigma, True, "observed") for i, (d, v) in enumerate(zip(t_days, values))]


@pytest.mark.parametrize("cadence", [_ground_cadence, _juno_cadence])
def test_loki_like_period_recovered_within_5_percent_with_small_false_alarm(cadence):
    rng = np.random.default_rng(42)
    t = np.sort(cadence(rng))
    series = ts.analyse(ts.VolcanoSeries("synthetic Loki", 13.0, 51.0, "power_gw", _epochs(t, _loki_values(t, rng))))
    p = series.periodicity
    assert p.n_epochs == t.size and t.size >= 30
    assert abs(p.periods_days[0] - LOKI_PERIOD_D) / LOKI_PERIOD_D < 0.05, p.periods_days
    assert p.false_alarm[0] < 1e-3
    assert series.to_json()["false_alarm"] == p.false_alarm[0]
    # the eruptions fill 230 of 540 days: the duty cycle (active = above mid-range) follows
    assert series.duty_cycle == pytest.approx(LOKI_ERUPTION_D / LOKI_PERIOD_D, abs=0.1)


def test_white_noise_gives_no_false_period():
    faps = []
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        t = np.sort(_ground_cadence(rng))
        p = ts.periodicity(_epochs(t, 20.0 + 3.0 * rng.standard_normal(t.size), 3.0))
        faps.append(p.false_alarm[0])
    faps = np.array(faps)
    assert np.median(faps) > 0.2  # a calibrated FAP is ~uniform under the null
    assert (faps < 0.01).sum() <= 2


def test_too_few_epochs_give_no_period_and_say_why():
    p = ts.periodicity(_epochs(np.array([0.0, 40.0, 80.0]), np.array([1.0, 2.0, 1.0])))
    assert p.periods_days == [] and p.best_false_alarm is None and "at least" in p.reason


# -- Mura et al. (2024) per orbit -------------------------------------------------------------------
@pytest.fixture(scope="module")
def published(shared_data) -> list[tuple[str, list[float | None]]]:
    """Table 3 as published, read with the csv module only (independent of the package's reader);
    rows in table order (some names, e.g. "Unnamed", repeat)."""
    with open(shared_data / "io" / "catalogues" / MURA_FILE, newline="", encoding="utf-8") as handle:
        return [(row["name"], [float(row[f"{o}_GW"]) if row[f"{o}_GW"].strip() else None for o in ORBITS])
                for row in csv.DictReader(handle)]


@pytest.fixture(scope="module")
def mura() -> ts.TimeSeriesResult:
    return ts.build_timeseries(("mura",))


def test_east_girru_is_the_published_series_and_an_outburst(published, mura):
    assert dict(published)["East Girru"] == [1.27, 0.3, 8.88, 7.49]
    (girru,) = [s for s in mura.series if s.name == "East Girru"]
    assert [e.value for e in girru.observations()] == [1.27, 0.3, 8.88, 7.49]
    assert girru.variability.max_over_min == pytest.approx(8.88 / 0.3)
    assert [c["fraction"] for c in girru.variability.changes] == pytest.approx(
        [(0.3 - 1.27) / 1.27, (8.88 - 0.3) / 0.3, (7.49 - 8.88) / 8.88])
    (burst,) = girru.outbursts
    assert burst.start_epoch == "PJ47" and burst.epochs == ["PJ47", "PJ49"]
    assert burst.previous_level_gw == pytest.approx((1.27 + 0.3) / 2)
    assert burst.factor == pytest.approx(8.88 / 0.785)
    # its neighbour Girru Patera varies by a factor 3 but never rises 3x above its earlier level
    (neighbour,) = [s for s in mura.series if s.name == "Girru Patera"]
    assert neighbour.outbursts == [] and neighbour.variability.max_over_min == pytest.approx(2.09 / 0.69)


def test_every_mura_series_has_the_hand_computed_variability(published, mura):
    assert len(mura.series) == len(published) == 90
    checked = 0
    for (name, values), s in zip(published, mura.series):
        assert s.name == name
        seen = [v for v in values if v is not None]
        v = s.variability
        assert v.n_detected == len(seen) and v.n_epochs == 4
        assert [e.coverage for e in s.observations()] == ["unknown" if x is None else "observed" for x in values]
        assert [e.detected for e in s.observations()] == [None if x is None else True for x in values]
        assert v.max_gw == max(seen) and v.min_gw == min(seen)
        assert v.max_over_min == pytest.approx(max(seen) / min(seen))
        assert [c["fraction"] for c in v.changes] == pytest.approx([(b - a) / a for a, b in zip(seen, seen[1:])])
        checked += len(seen) > 1
    assert checked > 40


def test_perijove_dates_agree_with_the_junocam_products_and_juno_orbits(raw_products_dir):
    days = {p.name.split("_")[1] for p in raw_products_dir.iterdir() if p.name.startswith("JNCE_") and "_43" in p.name}
    (doy,) = days  # 2022186: the PJ43 products were taken on day 186 of 2022
    pj43 = dt.date(int(doy[:4]), 1, 1) + dt.timedelta(days=int(doy[4:]) - 1)
    assert ts.PERIJOVE_UTC["PJ43"].startswith(pj43.isoformat())
    times = [dt.datetime.fromisoformat(ts.PERIJOVE_UTC[o]) for o in ORBITS]
    periods = [(b - a).total_seconds() / 86400 / (int(nb[2:]) - int(na[2:]))
               for (a, na), (b, nb) in zip(zip(times, ORBITS), zip(times[1:], ORBITS[1:]))]
    assert all(36.0 < p < 45.0 for p in periods), periods  # Juno's orbit after the 2021 Ganymede flyby


# -- where activity is ------------------------------------------------------------------------------
def _uniform_sphere(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return np.degrees(np.arcsin(rng.uniform(-1, 1, n))), rng.uniform(0, 360, n)


def test_uniform_positions_are_not_rejected():
    lat, lon = _uniform_sphere(400, np.random.default_rng(7))
    result = ts.activity_distribution(lat, lon)
    assert not result.rejects_uniform
    assert all(t.p_value > 0.01 for t in result.tests)


def test_a_trailing_hemisphere_excess_is_rejected():
    rng = np.random.default_rng(8)
    lat, lon = _uniform_sphere(300, rng)
    trailing = rng.random(lon.size) < 0.72  # 72 % put in the trailing hemisphere (centred on 90°E = 270°W)
    lon = np.where(trailing, rng.uniform(0, 180, lon.size), rng.uniform(180, 360, lon.size))
    result = ts.activity_distribution(lat, lon)
    assert result.rejects_uniform
    test = next(t for t in result.tests if t.name == "leading vs trailing")
    assert test.counts["trailing"] == int(trailing.sum()) and test.p_value < 1e-6


def test_an_equatorial_band_is_rejected_by_the_latitude_test():
    rng = np.random.default_rng(9)
    lat = rng.uniform(-30, 30, 200)  # uniform in latitude is not uniform on the sphere either
    result = ts.activity_distribution(lat, rng.uniform(0, 360, 200))
    ks = next(t for t in result.tests if t.name.startswith("KS sin"))
    assert result.rejects_uniform and ks.p_value < 1e-6


# -- ioflyby's own detections -----------------------------------------------------------------------
def _detection(product: str, time: str, lat: float, lon: float, power: float, emission: float,
               match: str | None) -> Detection:
    fit = ThermalFit({}, power_gw=power, power_sigma_gw=0.1 * power)
    catalogue = {"name": match, "iau_name": None, "source": "davies", "distance_km": 3.0} if match else None
    return Detection(product, time, 0.0, lat, lon, 2.0, emission, 120.0, 1.0, {}, fit, (), catalogue)


@pytest.fixture(scope="module")
def detections_dir(tmp_path_factory):
    """Three products written by the hot-spot module itself, their detections consistent with one
    sub-observer point each: (5°N, 125°E) sees Loki P. (Davies: 12.8°N, 51.6°E) at 10 GW and an
    unmatched source at 0°N 200°E; (0°N, 190°E) sees a source 10° from the unmatched one (so it was
    in view and missed) and not Loki (beyond the limb); (0°N, 40°E) sees Loki at 60 GW and another
    source, the unmatched one being beyond the limb."""
    folder = tmp_path_factory.mktemp("detections")
    products = [
        ("JNCE_2023364_57C00001_V01", "2023-12-30T08:00:00", [(12.8, 51.6, 10.0, 72.0, "Loki P."),
                                                              (0.0, 200.0, 2.0, 75.0, None)]),
        ("JNCE_2024034_58C00001_V01", "2024-02-03T17:00:00", [(0.0, 190.0, 3.0, 5.0, "Pele")]),
        ("JNCE_2024100_60C00001_V01", "2024-04-09T08:00:00", [(12.8, 51.6, 60.0, 17.0, "Loki P."),
                                                              (0.0, 30.0, 1.0, 10.0, None)]),
    ]
    for product, time, rows in products:
        found = [_detection(product, time, *row) for row in rows]
        HotSpots([product], found, HotSpotConfig()).write(folder, product)
    return folder


def test_detections_make_light_curves_with_coverage(detections_dir):
    result = ts.build_timeseries((), [detections_dir])
    loki = next(s for s in result.series if s.name == "Loki P.")
    assert [(e.value, e.detected, e.coverage) for e in loki.observations()] == [
        (10.0, True, "observed"), (None, None, "not observable"), (60.0, True, "observed")]
    assert (loki.lat_deg, loki.lon_east_deg) == pytest.approx((12.8, 360 - 308.4))  # Davies' position, east
    assert [o.start_epoch for o in loki.outbursts] == ["JNCE_2024100_60C00001_V01"]
    lone = next(s for s in result.series if s.name.startswith("unmatched") and s.lon_east_deg == pytest.approx(200))
    assert [(e.detected, e.coverage) for e in lone.observations()] == [
        (True, "observed"), (False, "observed"), (None, "not observable")]


def test_davies_epoch_joins_the_detected_volcano_as_a_compilation(detections_dir):
    result = ts.build_timeseries(("davies",), [detections_dir], name="Loki Patera")
    (loki,) = result.series
    compiled = [e for e in loki.epochs if e.kind == "compilation"]
    assert [(e.source, e.value) for e in compiled] == [("davies", 9600.0)]  # Davies et al. 2024: Loki P. 9600 GW
    assert loki.variability.max_gw == 60.0  # statistics use the observations only


def test_epoch_table_joins_other_per_epoch_columns(mura):
    table = mura.epoch_table()
    assert len(table) == 90 * 4 and table["et_s"].nunique() == 4
    extra = pd.DataFrame({"epoch": list(ORBITS), "io_system3_lon_deg": [10.0, 20.0, 30.0, 40.0]})
    joined = table.merge(extra, on="epoch", how="left")
    assert joined["io_system3_lon_deg"].notna().all() and len(joined) == len(table)


# -- CLI --------------------------------------------------------------------------------------------
def _run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(["volcano", "timeseries", *args])
    captured = capsys.readouterr()
    return info.value.code or 0, captured.out, captured.err


def test_cli_json_shape_and_outputs(capsys, tmp_path):
    code, out, err = _run(capsys, "--source", "mura", "--name", "East Girru", "--out", str(tmp_path), "--json")
    assert code == 0, err
    result = json.loads(out)
    (series,) = result["series"]
    assert {"name", "epochs", "variability", "periods_days", "false_alarm", "outbursts"} <= set(series)
    assert series["name"] == "East Girru" and series["lon_east_deg"] == 360 - 234 and series["lon_west_deg"] == 234
    assert [e["value_gw"] for e in series["epochs"]] == [1.27, 0.3, 8.88, 7.49]
    assert series["outbursts"][0]["start_epoch"] == "PJ47"
    assert series["periods_days"] == [] and series["false_alarm"] is None  # four epochs: no period claimed
    names = {p.rsplit("/", 1)[-1] for p in result["outputs"]}
    assert names == {"timeseries.json", "timeseries_epochs.csv", "timeseries_light_curves.png",
                     "timeseries_periodogram.png", "timeseries_variability_map.png"}
    assert json.loads((tmp_path / "timeseries.json").read_text())["series"][0]["name"] == "East Girru"
    assert (tmp_path / "timeseries_light_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in tmp_path.iterdir() if p.name not in names]  # nothing else (no temporaries)


@pytest.mark.parametrize("args, needle", [
    (("--name", "Nonexistent Patera"), "no volcano named"),
    (("--source", "galileo"), "unknown source"),
    (("--detections", "/nonexistent/folder"), "no such file or folder"),
    (("--outburst-factor", "0.5"), "--outburst-factor"),
])
def test_cli_errors_are_one_line_and_exit_2(capsys, tmp_path, args, needle):
    code, out, err = _run(capsys, *args, "--out", str(tmp_path), "--json")
    assert code == 2 and out == ""
    assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_report_section_has_the_figures(tmp_path, mura):
    section = ts.timeseries_report_section(tmp_path, mura)
    assert len(section.figures) == 3 and all(path.is_file() for path, _ in section.figures)
    assert any("540" in p for p in section.paragraphs) and section.tables[0][1]
    assert math.isfinite(section.tables[0][1][0]["max/min"])
