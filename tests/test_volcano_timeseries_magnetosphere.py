"""The eruption time series joined with Io's magnetospheric context, against independent truths:
Io's System III longitude from SPICE called directly here, and synthetic detections whose power
was made to depend (or not) on that longitude, or on a synthetic torus-brightness series with a
known lag. Kernels: the PJ57 twin (Io, Jupiter, the Sun; 2023-12-29T08:36 to 2023-12-31T08:36)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import spiceypy
from astropy.time import Time, TimeDelta

import ioflyby as io
import ioflyby.cli.volcano_cmd  # noqa: F401  (registers the verb until the CLI's verb table lists it)
from ioflyby.cli.app import main
from ioflyby.simulate.scenarios import TwinOptions
from ioflyby.volcano import timeseries as ts
from ioflyby.volcano.timeseries_magnetosphere import MagnetosphereLinkError

N_EPOCHS = 80
PEAK_WEST_DEG = 200.0
SPAN = ("2023-12-29T09:00:00", "2023-12-31T08:00:00")  # inside the twin's SPK span
LAG_S = 3 * 3600.0


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    return io.build_twin("pj57", tmp_path_factory.mktemp("tsmag") / "pj57", TwinOptions(images=()))


@pytest.fixture(scope="module")
def times():
    """Observation times (UTC) spread at random over the twin's coverage."""
    rng = np.random.default_rng(57)
    start, stop = Time(SPAN[0], scale="utc"), Time(SPAN[1], scale="utc")
    offsets = np.sort(rng.uniform(0.0, (stop - start).sec, N_EPOCHS))
    return list((start + TimeDelta(offsets, format="sec")).isot)


@pytest.fixture(scope="module")
def system3_truth(twin, times):
    """Io's System III west longitude (deg) at each time: SPICE directly, IAU_JUPITER is System III."""
    with io.Kernels(twin.metakernel):
        ets = [spiceypy.str2et(t) for t in times]
        positions = [spiceypy.spkpos("IO", et, "IAU_JUPITER", "NONE", "JUPITER")[0] for et in ets]
    return np.array([np.degrees(-np.arctan2(p[1], p[0])) % 360.0 for p in positions])


def _write_detections(path: Path, times: list[str], power: np.ndarray) -> Path:
    """A CSV in the ``ioflyby hotspots`` format: one product per time, each detecting one
    (unmatched) volcano at 10°N 100°E at ``power`` GW."""
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["product_id", "time_utc", "lat_deg", "lon_east_deg", "power_gw",
                                         "power_sigma_gw", "emission_deg", "catalogue_name"])
        writer.writeheader()
        for i, (time, value) in enumerate(zip(times, power)):
            writer.writerow({"product_id": f"SYN_{i:03d}", "time_utc": time, "lat_deg": 10.0, "lon_east_deg": 100.0,
                             "power_gw": f"{value:.6f}", "power_sigma_gw": f"{0.1 * value:.6f}", "emission_deg": 30.0,
                             "catalogue_name": ""})
    return path


@pytest.fixture(scope="module")
def detections(tmp_path_factory, times, system3_truth):
    """Two detection sets: power ∝ exp(0.6 cos(λ_III − 200°)) with 25 % log-normal scatter, and the
    same scatter without any dependence."""
    folder = tmp_path_factory.mktemp("syn")
    rng = np.random.default_rng(3)
    noise = rng.normal(0.0, 0.25, N_EPOCHS)
    dependent = 20.0 * np.exp(0.6 * np.cos(np.radians(system3_truth - PEAK_WEST_DEG)) + noise)
    flat = 20.0 * np.exp(np.random.default_rng(4).normal(0.0, 0.25, N_EPOCHS))
    return (_write_detections(folder / "dependent_hotspots.csv", times, dependent),
            _write_detections(folder / "flat_hotspots.csv", times, flat))


def _correlation(result, covariate):
    return next(c for c in result.magnetosphere.correlations if c["covariate"] == covariate)


def test_context_per_epoch_equals_spice_and_the_injected_dependence_is_found(twin, times, system3_truth, detections):
    dependent, flat = detections
    found = ts.build_timeseries((), [dependent], kernels=[twin.metakernel], correlate=["system3"])
    rows = found.magnetosphere.per_epoch
    assert [r["time_utc"] for r in rows] == times
    ours = np.array([r["system3_lon_west_deg"] for r in rows])
    assert np.abs((ours - system3_truth + 180.0) % 360.0 - 180.0).max() < 1e-3
    assert all(r["time_basis"] == "observation" for r in rows)
    phase = _correlation(found, "system3_lon_west_deg")
    assert phase["p_value"] < 0.01 and phase["n"] == N_EPOCHS
    assert abs((phase["peak_phase_deg"] - PEAK_WEST_DEG + 180) % 360 - 180) < 20.0
    # centrifugal and magnetic latitude were not asked for
    assert {c["covariate"] for c in found.magnetosphere.correlations} == {
        "system3_lon_west_deg", "system3_lon_west_deg of outburst starts"}
    # the epoch table carries the context, joined on et_s
    table = found.epoch_table()
    assert np.allclose(np.sort(table["io_system3_lon_west_deg"].to_numpy()), np.sort(ours))
    none = ts.build_timeseries((), [flat], kernels=[twin.metakernel])
    p_values = {c["covariate"]: c["p_value"] for c in none.magnetosphere.correlations}
    assert p_values["system3_lon_west_deg"] > 0.05
    assert p_values["centrifugal_lat_deg"] > 0.05 and p_values["magnetic_lat_deg"] > 0.05


def test_lagged_correlation_with_a_user_series_finds_the_injected_lag(twin, times, tmp_path):
    """A red-noise "torus brightness" every 10 min; activity follows it 3 h later (power at t
    from the brightness at t + 3 h, as ``lagged_correlation`` defines the lag)."""
    rng = np.random.default_rng(11)
    grid = Time("2023-12-28T12:00:00", scale="utc") + TimeDelta(np.arange(0, 4 * 86400, 600.0), format="sec")
    brightness = np.convolve(rng.normal(0, 1, grid.size + 30), np.ones(18) / 18, mode="same")[15:-15]
    with (tmp_path / "torus.csv").open("w") as handle:
        handle.write("time_utc,value\n" + "".join(f"{t.isot},{v:.6f}\n" for t, v in zip(grid, brightness)))
    seconds = (Time(times, scale="utc") - grid[0]).sec
    driver = np.interp(seconds + LAG_S, np.arange(grid.size) * 600.0, brightness)
    power = 20.0 * np.exp(driver / driver.std() * 0.4 + rng.normal(0, 0.05, len(times)))
    detections = _write_detections(tmp_path / "lagged_hotspots.csv", times, power)
    result = ts.build_timeseries((), [detections], against=tmp_path / "torus.csv", max_lag_days=0.5)
    (lagged,) = result.magnetosphere.correlations
    assert lagged["p_value"] < 0.01 and abs(lagged["best_lag_s"] - LAG_S) <= 600.0
    assert result.magnetosphere.per_epoch == []  # no kernels: no context, the lag test alone


# -- CLI --------------------------------------------------------------------------------------------
def _run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(["volcano", "timeseries", *args])
    captured = capsys.readouterr()
    return info.value.code or 0, captured.out, captured.err


def test_cli_json_plot_and_epoch_columns(capsys, tmp_path, twin, detections):
    code, out, err = _run(capsys, "--detections", str(detections[0]), "--kernels", str(twin.metakernel),
                          "--correlate", "system3", "--correlate", "centrifugal", "--out", str(tmp_path), "--json")
    assert code == 0, err
    result = json.loads(out)
    link = result["magnetosphere"]
    assert len(link["per_epoch"]) == N_EPOCHS
    assert {"system3_lon_west_deg", "centrifugal_lat_deg", "magnetic_lat_deg",
            "centrifugal_equator_distance_rj"} <= set(link["per_epoch"][0])
    covariates = {c["covariate"]: c for c in link["correlations"]}
    assert covariates["system3_lon_west_deg"]["p_value"] < 0.01
    assert "centrifugal_lat_deg" in covariates and "magnetic_lat_deg" not in covariates
    assert link["kernel_span_utc"] == [["2023-12-29T08:36:00", "2023-12-31T08:36:00"]]
    png = tmp_path / "timeseries_magnetosphere.png"
    assert str(png) in result["outputs"] and png.read_bytes()[:4] == b"\x89PNG"
    with (tmp_path / "timeseries_epochs.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == N_EPOCHS and all(row["io_system3_lon_west_deg"] for row in rows)


def test_cli_correlate_without_kernels_is_one_line_exit_2(capsys, tmp_path, detections):
    code, out, err = _run(capsys, "--detections", str(detections[0]), "--correlate", "system3",
                          "--out", str(tmp_path), "--json")
    assert code == 2 and out == ""
    assert "--correlate needs --kernels" in err and len(err.strip().splitlines()) == 1


def test_cli_epochs_outside_the_kernels_name_the_span(capsys, tmp_path, twin):
    late = _write_detections(tmp_path / "late_hotspots.csv", ["2023-12-30T08:00:00", "2024-02-03T17:00:00",
                                                              "2024-02-03T18:00:00"], np.array([5.0, 6.0, 7.0]))
    code, out, err = _run(capsys, "--detections", str(late), "--kernels", str(twin.metakernel),
                          "--out", str(tmp_path / "o"), "--json")
    assert code == 2 and out == "" and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert "2 of 3 epochs" in err and "2023-12-29T08:36:00 to 2023-12-31T08:36:00" in err


def test_unknown_covariate_is_refused():
    with pytest.raises(MagnetosphereLinkError, match="--correlate torus"):
        ts.build_timeseries(("mura",), correlate=["torus"], kernels=["x.tm"])

