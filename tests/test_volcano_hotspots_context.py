"""Every hot-spot detection carries Io's magnetospheric context at its time: checked against an
independent SPICE computation (Io's position relative to Jupiter in IAU_JUPITER = System III,
straight from spiceypy in the test), and never a failure when the kernels lack Jupiter or Io."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import spiceypy
from typer.testing import CliRunner

from ioflyby.cli import hotspots_cmd  # noqa: F401  (registers the verb)
from ioflyby.cli.app import app
from ioflyby.ingest import read_product
from ioflyby.magnetosphere import IO_SUMMARY_KEYS
from ioflyby.observation import Observation
from ioflyby.simulate import HotSpot, PlannedImage, RenderEffects, TwinOptions, build_twin
from ioflyby.spice import Kernels
from ioflyby.volcano.hotspots import detect_hot_spots, with_io_context

R_J_KM = 71492.0
SPOT = HotSpot(54.743, 281.925, 1400.0, 1.0)


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    out = tmp_path_factory.mktemp("context") / "twin"
    return build_twin("pj57", out, TwinOptions(images=(PlannedImage(-120.0, n_exposures=8),), night_side=True,
                                               hot_spots=(SPOT,), effects=RenderEffects.junocam(jupiter_shine=True)))


@pytest.fixture(scope="module")
def cli_result(twin, tmp_path_factory):
    out = tmp_path_factory.mktemp("found")
    result = CliRunner().invoke(app, ["hotspots", str(twin.products[0]), "--kernels", str(twin.metakernel),
                                      "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    if not data["detections"]:
        pytest.skip("the spot fell outside this short image")
    return data, out


def _io_in_system3(metakernel, time_utc: str) -> tuple[float, float, float]:
    """Io's System III west longitude (deg), latitude (deg) and distance (R_J) at ``time_utc``:
    spkpos in IAU_JUPITER, geometric, computed here without ioflyby."""
    spiceypy.furnsh(str(metakernel))
    try:
        et = spiceypy.str2et(time_utc)
        position, _ = spiceypy.spkpos("IO", et, "IAU_JUPITER", "NONE", "JUPITER")
    finally:
        spiceypy.unload(str(metakernel))
    x, y, z = position
    return (math.degrees(-math.atan2(y, x)) % 360.0, math.degrees(math.atan2(z, math.hypot(x, y))),
            float(np.linalg.norm(position)) / R_J_KM)


def test_each_detection_has_ios_system3_longitude_at_its_time(twin, cli_result):
    data, _ = cli_result
    assert data["notes"] == []
    for d in data["detections"]:
        context = d["io_magnetosphere"]
        assert set(context) == set(IO_SUMMARY_KEYS)
        lon_west, lat, distance = _io_in_system3(twin.metakernel, d["time_utc"])
        # Io moves 0.0077°/s in System III: 1e-3° is 0.13 s of its motion.
        assert abs((context["system3_lon_west_deg"] - lon_west + 180.0) % 360.0 - 180.0) < 1e-3
        assert context["distance_rj"] == pytest.approx(distance, abs=1e-4)
        # Io's orbit is within 0.05° of Jupiter's equator; the dipole is tilted 10.25°, and the
        # centrifugal equator reaches at most ~7° at Io's distance (Phipps & Bagenal 2021).
        assert abs(lat) < 0.1
        assert abs(context["magnetic_lat_deg"]) <= 10.3 and abs(context["centrifugal_lat_deg"]) <= 7.5
        assert context["in_shadow"] in (True, False)


def test_context_is_in_the_csv_and_geojson(cli_result):
    data, out = cli_result
    paths = {p.rsplit("_", 1)[-1]: p for p in data["outputs"]}
    rows = list(csv.DictReader(open(paths["hotspots.csv"], encoding="utf-8")))
    assert len(rows) == len(data["detections"])
    for row, d in zip(rows, data["detections"]):
        assert float(row["io_system3_lon_west_deg"]) == pytest.approx(d["io_magnetosphere"]["system3_lon_west_deg"])
    features = json.loads(open(paths["hotspots.geojson"], encoding="utf-8").read())["features"]
    assert features[0]["properties"]["io_magnetosphere"]["centrifugal_lat_deg"] == pytest.approx(
        data["detections"][0]["io_magnetosphere"]["centrifugal_lat_deg"])
    assert "Io System III" in open(paths["hotspots.md"], encoding="utf-8").read()


def test_kernels_without_jupiter_give_null_and_a_note_not_a_failure(twin):
    """The detections are found with the full kernels' poses; the context is then asked of a
    kernel set holding Juno's trajectory but no Jupiter (as with real products whose satellite
    ephemeris was not loaded): null context, one note, the detections kept."""
    with Kernels([twin.metakernel]):
        observation = Observation(read_product(twin.products[0]))
        found = detect_hot_spots(observation, magnetosphere=False)
    if not found.detections:
        pytest.skip("the spot fell outside this short image")
    assert all(d.io_magnetosphere is None for d in found.detections)
    kernels = twin.metakernel.parent / "kernels"
    without_jupiter = [kernels / "twin_leapseconds.tls", kernels / "twin_constants.tpc",
                       kernels / "twin_juno_trajectory.bsp"]
    with Kernels(without_jupiter):
        kept, note = with_io_context(found.detections)
    assert len(kept) == len(found.detections) and all(d.io_magnetosphere is None for d in kept)
    assert note is not None and "\n" not in note and "null" in note
    with Kernels([twin.metakernel]):
        placed, none = with_io_context(found.detections)
    assert none is None and all(d.io_magnetosphere is not None for d in placed)


def test_process_reports_ios_context_at_the_products_mid_time(twin, tmp_path):
    """``process --json`` of an Io product carries Io's context at the product's mid-time (the
    mean of its framelet epochs), System III longitude as spiceypy gives it."""
    import ioflyby as io

    result = io.process([twin.products[0]], [twin.metakernel], io.MapSpec("orthographic", width=128))
    (context,) = result.to_json()["io_magnetosphere"]
    assert context["product_id"] == read_product(twin.products[0]).product_id
    lon_west, _, distance = _io_in_system3(twin.metakernel, context["time_utc"])
    assert abs((context["system3_lon_west_deg"] - lon_west + 180.0) % 360.0 - 180.0) < 1e-3
    assert context["distance_rj"] == pytest.approx(distance, abs=1e-4)
    assert result.notes == []
