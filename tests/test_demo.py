"""`ioflyby demo` end to end: the report's numbers come from the run, the results match the
twin's truth, a re-run leaves no stale file, and the page shows its images in a real browser."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import spiceypy
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
    second = run_demo(second_out, DemoSettings(scenario="pj58", comparisons=(), map_width=256, timeseries=False,
                                                renders=False))
    truth = json.loads((second_out / "twin" / "pj58" / "truth.json").read_text())
    assert not (second_out / "stale.txt").exists() and not (second_out / "twin" / "pj57").exists()
    assert second.summary["closest_approach"]["time_utc"] != first.summary["closest_approach"]["time_utc"]
    assert second.summary["closest_approach"]["time_utc"].startswith(truth["achieved_ca"]["time_utc"][:19])
    assert truth["achieved_ca"]["time_utc"][:19] in second.report.read_text()
    # pj58 has no later epoch: no change section; its magnetospheric panel is its own flyby's.
    assert "changes" not in second.summary and "What changed" not in second.report.read_text()
    assert second.summary["magnetosphere"]["io_at_ca"]["time_utc"][:19] == truth["achieved_ca"]["time_utc"][:19]


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


def _image_ok(path: str | Path) -> tuple[int, int]:
    """The size of a non-empty PNG that Pillow can decode."""
    path = Path(path)
    assert path.is_file() and path.stat().st_size > 1000, path
    with Image.open(path) as image:
        image.load()
        return image.size


def _figure_links(page: str) -> set[str]:
    return set(re.findall(r"<a href='([^']+)'[^>]*><img src='\1'", page))


def test_every_new_section_is_in_the_report_with_its_images(pj57_demo):
    out, result, _ = pj57_demo
    summary = json.loads((out / "summary.json").read_text())
    page = result.report.read_text()
    titles = re.findall(r"<h2>([^<]*)</h2>", page)
    for title in ("Rendered views", "What changed between PJ57 and PJ58", "How often they erupt: hot-spot time series",
                  "Io and Juno in Jupiter&#x27;s magnetosphere", "Browse these outputs in the viewer"):
        assert title in titles
    for key in ("changes", "magnetosphere", "timeseries", "renders", "viewer", "maps_labelled"):
        assert key in summary
    figures = _figure_links(page)
    for path in (*summary["magnetosphere"]["files"], *summary["timeseries"]["files"], *summary["renders"]["files"],
                 summary["maps_labelled"]["orthographic"]):
        _image_ok(path)
        assert str(Path(path).relative_to(out)) in figures  # shown, and linked to itself at full size
    shown_changes = [f for f in figures if f.startswith("changes/")]
    assert len(shown_changes) >= 2 and all(_image_ok(out / f) for f in shown_changes)
    assert page.count("click to enlarge") >= len(figures)


def test_change_section_recovers_the_injected_flow(pj57_demo):
    """The pj58 twin's new flow: its exact area from its own parameters (a lobe of centre line
    L = 4r and half-width w = r/2 in an equal-area plane: 2Lw + πw²), the region found over it."""
    out, result, _ = pj57_demo
    (flow,) = json.loads((out / "twin" / "pj58" / "truth.json").read_text())["surface_changes"]
    r = flow["radius_km"]
    exact = 2 * (4 * r) * (r / 2) + math.pi * (r / 2) ** 2
    assert flow["area_km2"] == pytest.approx(exact, rel=1e-9)
    lons, lats = np.array(flow["polygon_lon_east_lat_deg"]).T
    changes = json.loads((out / "changes" / "changes" / "changes.json").read_text())["changes"]
    over = [c for c in changes if lats.min() <= c["centroid_lat_deg"] <= lats.max()
            and lons.min() <= c["centroid_lon_east_deg"] <= lons.max()]
    found = max(over, key=lambda c: c["area_km2"])
    assert found["kind"] == "darkening"
    assert found["area_km2"] == pytest.approx(exact, rel=0.10)
    assert changes[0] == found  # the most significant change is the flow
    false_area = sum(c["area_km2"] for c in changes if c is not found)
    compared = result.summary["changes"]["compared_area_km2"]
    assert false_area < 0.01 * compared  # nothing larger than 1 % of the compared area besides the flow
    assert f"{exact:,.0f} km²" in result.report.read_text()


def _io_system3_west_deg(metakernel: Path, utc: str) -> float:
    """Io's System III west longitude at ``utc``: spkpos in IAU_JUPITER, here without ioflyby."""
    spiceypy.furnsh(str(metakernel))
    try:
        x, y, _ = spiceypy.spkpos("IO", spiceypy.str2et(utc), "IAU_JUPITER", "NONE", "JUPITER")[0]
    finally:
        spiceypy.unload(str(metakernel))
    return math.degrees(-math.atan2(y, x)) % 360.0


def test_magnetospheric_panel_and_hot_spot_context_against_spice(pj57_demo):
    out, result, _ = pj57_demo
    metakernel = out / "twin" / "pj57" / "twin.tm"
    at_ca = result.summary["magnetosphere"]["io_at_ca"]
    ca_utc = result.summary["closest_approach"]["time_utc"]
    assert at_ca["time_utc"][:19] == ca_utc[:19]
    expected = _io_system3_west_deg(metakernel, ca_utc)
    assert abs((at_ca["system3_lon_west_deg"] - expected + 180.0) % 360.0 - 180.0) < 1e-3
    shown = re.search(r"<tr><td>IO</td><td>([-0-9.]+)</td>", result.report.read_text())
    assert shown and float(shown.group(1)) == pytest.approx(expected, abs=0.01)  # the panel's table, at C/A
    hot_spots = json.loads((out / "volcanoes" / "demo_hotspots.geojson").read_text())["features"]
    for feature in hot_spots:
        context = feature["properties"]["io_magnetosphere"]
        lon = _io_system3_west_deg(metakernel, feature["properties"]["time_utc"])
        assert abs((context["system3_lon_west_deg"] - lon + 180.0) % 360.0 - 180.0) < 1e-3


def test_time_series_shows_the_published_light_curves(pj57_demo):
    _, result, _ = pj57_demo
    # Mura et al. (2024), East Girru's M-band output at PJ41/43/47/49 (GW).
    assert "1.27 → 0.3 → 8.88 → 7.49" in result.report.read_text()


def test_rendered_view_is_full_resolution_and_fringe_free(pj57_demo):
    out, result, _ = pj57_demo
    renders = result.summary["renders"]
    width, height = _image_ok(renders["files"][0])
    assert width == renders["size"][0] and height > renders["size"][1]  # full size, plus the caption strip
    assert width > 520  # larger than the page shows it: the link enlarges it
    assert renders["fringe_ratio"] <= 2.0  # chroma at edges ≤ 2× the interior's (issue 21)
    assert renders["movie"] is None  # off by default


def test_orthographic_map_has_a_graticule_where_the_projection_puts_it(pj57_demo):
    """The 30°N parallel and the 180°W meridian, projected independently with pyproj onto the
    orthographic GeoTIFF's own CRS and transform, fall on drawn (changed) pixels of the figure."""
    import pyproj
    import rasterio

    out, result, _ = pj57_demo
    figure = Path(result.summary["maps_labelled"]["orthographic"])
    preview = Path(result.summary["maps"]["orthographic"])
    tif = preview.with_name(preview.name.replace("_preview.png", ".tif"))
    labels = json.loads(preview.with_name(preview.name.replace("_preview.png", "_labels.geojson")).read_text())
    assert len(labels["features"]) > 10
    drawn = np.asarray(Image.open(figure).convert("RGB"), float)
    plain = np.asarray(Image.open(preview).convert("RGB"), float)
    with rasterio.open(tif) as dataset:
        crs, transform, shape = pyproj.CRS(dataset.crs.to_wkt()), dataset.transform, dataset.shape
    lonlat = pyproj.Transformer.from_crs(crs.geodetic_crs, crs, always_xy=True)
    scale = (drawn.shape[1] / shape[1], drawn.shape[0] / shape[0])
    for lon_east, lat in ([(lon, 30.0) for lon in np.arange(120.0, 240.0, 2.0)] +
                          [(180.0, lat) for lat in np.arange(-50.0, 50.0, 2.0)]):
        x, y = lonlat.transform(lon_east, lat)
        if not np.isfinite(x):
            continue
        col, row = ~transform @ (x, y)
        c, r = int(col * scale[0]), int(row * scale[1])
        if not (1 <= r < drawn.shape[0] - 1 and 1 <= c < drawn.shape[1] - 1):
            continue
        near = np.abs(drawn[r - 1:r + 2, c - 1:c + 2] - plain[r - 1:r + 2, c - 1:c + 2]).max()
        assert near > 10, (lon_east, lat)


def test_report_points_to_the_viewer(pj57_demo):
    out, result, _ = pj57_demo
    assert f"Browse these outputs: ioflyby serve {out} → http://127.0.0.1:8000/" in result.report.read_text()
