"""Flyby search on the digital-twin scenarios against the twin's own truth.

Contract (DESIGN): ``ioflyby simulate --scenario NAME --out DIR --json`` →
``{"metakernel", "products", "truth"}``; ``truth.json`` holds the achieved closest approach under
``achieved_ca`` (``time_et``, ``time_utc``, ``altitude_km``) and the spacecraft's NAIF id. The
C/A that ``ioflyby.flyby`` finds from the twin's kernels must match it to ≤ 0.05 s and ≤ 0.1 km.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ioflyby.flyby import find_encounters
from ioflyby.flyby.compare import EncounterCase, compare_encounters
from ioflyby.spice import Kernels

SCENARIOS = ("pj57", "pj58", "galileo-i32")


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("ioflyby")
    return [str(script)] if script.exists() else [shutil.which("ioflyby") or "ioflyby"]


@pytest.fixture(scope="module", params=SCENARIOS)
def twin(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp(request.param)
    proc = subprocess.run([*_cli(), "simulate", "--scenario", request.param, "--out", str(out), "--json"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    truth = json.loads((out / "truth.json").read_text())
    assert truth == result["truth"]
    return {"scenario": request.param, "metakernel": Path(result["metakernel"]), "truth": truth,
            "observer": str(truth["spacecraft_id"]), "target": truth["target"]}


def test_twin_closest_approach_matches_truth(twin: dict) -> None:
    achieved = twin["truth"]["achieved_ca"]
    with Kernels([twin["metakernel"]]) as ks:
        spans = [(c.start_et, c.stop_et) for c in ks.spk_coverage() if c.id == int(twin["observer"])]
        assert spans, f"the twin's kernels hold no SPK for {twin['observer']}"
        start, stop = min(a for a, _ in spans), max(b for _, b in spans)
        result = find_encounters(ks, twin["observer"], twin["target"], start, stop, covered_only=True)
    closest = min(result.encounters, key=lambda e: e.distance_km)
    assert abs(closest.et - achieved["time_et"]) <= 0.05, (closest.geometry.time_utc, achieved["time_utc"])
    assert abs(closest.geometry.altitude_km - achieved["altitude_km"]) <= 0.1


def test_twin_compare_page(twin: dict, tmp_path: Path) -> None:
    case = EncounterCase(twin["scenario"], [twin["metakernel"]], twin["observer"], twin["target"])
    result = compare_encounters([case], tmp_path, half_width_s=300, timeline_step_s=10)
    achieved = twin["truth"]["achieved_ca"]
    assert result.encounters[0]["altitude_km"] == pytest.approx(achieved["altitude_km"], abs=0.1)
    assert (tmp_path / "index.html").exists() and (tmp_path / "ground_track.png").exists()
