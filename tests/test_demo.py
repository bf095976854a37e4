"""`ioflyby demo` end to end: the report's numbers come from the run, the results match the
twin's truth, a re-run leaves no stale file, and the page shows its images in a real browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ioflyby.demo import DemoSettings, run_demo
from ioflyby.errors import IoflybyError

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def pj57_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    result = run_demo(out, DemoSettings(map_width=384))
    truth = json.loads((out / "twin" / "pj57" / "truth.json").read_text())
    return out, result, truth


def test_report_numbers_are_the_twins_truth(pj57_demo):
    out, result, truth = pj57_demo
    summary = json.loads((out / "summary.json").read_text())
    achieved = truth["achieved_ca"]
    assert summary["closest_approach"]["altitude_km"] == pytest.approx(achieved["altitude_km"], abs=0.1)
    assert abs(summary["ca_time_error_s"]) < 0.05
    assert [row["label"] for row in summary["comparisons"]] == ["pj57", "pj58", "galileo-i32"]
    page = result.report.read_text()
    assert summary["closest_approach"]["time_utc"] in page
    for preview in summary["maps"].values():
        assert Path(preview).is_file()


def test_reconstruction_accuracy_against_truth(pj57_demo):
    _, result, _ = pj57_demo
    summary = result.summary
    assert summary["pointing_worst_across_deg"] <= 0.011
    assert summary["timing_worst_error_ms"] <= 1.0  # 15 ms injected, solved from the nominal CK
    assert max(summary["limb_rms_px"]) <= 0.3
    for name, bands in summary["map_correlation"].items():
        assert set(bands) == {"BLUE", "GREEN", "RED"}, name
        assert min(bands.values()) >= 0.95, (name, bands)


def test_other_scenario_changes_the_numbers_and_leaves_no_stale_file(pj57_demo, tmp_path):
    out, first, _ = pj57_demo
    second_out = tmp_path / "again"
    shutil.copytree(out, second_out)
    (second_out / "stale.txt").write_text("left from an earlier run")
    second = run_demo(second_out, DemoSettings(scenario="pj58", comparisons=(), map_width=256))
    truth = json.loads((second_out / "twin" / "pj58" / "truth.json").read_text())
    assert not (second_out / "stale.txt").exists() and not (second_out / "twin" / "pj57").exists()
    assert second.summary["closest_approach"]["time_utc"] != first.summary["closest_approach"]["time_utc"]
    assert second.summary["closest_approach"]["time_utc"].startswith(truth["achieved_ca"]["time_utc"][:19])
    assert truth["achieved_ca"]["time_utc"][:19] in second.report.read_text()


def test_refuses_to_empty_a_foreign_folder(tmp_path):
    (tmp_path / "precious.txt").write_text("not a demo")
    with pytest.raises(IoflybyError, match="not an earlier demo output"):
        run_demo(tmp_path, DemoSettings())
    assert (tmp_path / "precious.txt").exists()


def _screenshot(chromium: str, page: Path, png: Path) -> np.ndarray:
    profile = png.with_suffix(".profile")
    subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1200,1800",
         f"--screenshot={png}", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    return np.asarray(Image.open(png).convert("RGB"), float)


def test_report_shows_its_images_in_chromium(pj57_demo, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed (.ci/run installs it)")
    out, result, _ = pj57_demo
    with_images = _screenshot(chromium, result.report, tmp_path / "report.png")
    # The same page with its images removed is the baseline: what the images add must show.
    text_only = out / "text_only.html"
    text_only.write_text(re.sub(r"<img [^>]*>", "", result.report.read_text()))
    without_images = _screenshot(chromium, text_only, tmp_path / "text.png")
    def painted(shot: np.ndarray) -> float:  # fraction of pixels far from the white page
        return float((shot.min(axis=2) < 200).mean())
    # The images, not the text (which grows with every report section), must paint the page.
    assert painted(with_images) > 0.25
    assert painted(with_images) - painted(without_images) > 0.2
    assert painted(without_images) < 0.1
    # Io's disc: the orthographic map (first figure) has coloured, lit pixels, not a broken icon.
    top = with_images[100:700, :600]
    assert (top.max(axis=2) > 120).mean() > 0.05
