"""The digital twin end to end, checked against independent truth.

- closest approach of every scenario found by spiceypy ``gfdist`` + ``nearpt`` on the written
  kernels (not by the project's flyby code): time within 0.05 s, altitude within 0.1 km;
- render truth: each recorded pixel's lat/lon equals spiceypy ``sincpt`` for that pixel's ray
  (rebuilt from the IK keywords here) at the mid-exposure time (rebuilt from the label) to
  ≤ 0.01 pixel;
- products read by ``ingest.read_product``; Metadata.json keys and value types equal the real ones;
- injected timing offset and attitude error are what the kernels and labels say.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import spiceypy
from typer.testing import CliRunner

from ioflyby.cli.app import _register_verbs, app
from ioflyby.errors import ScenarioError
from ioflyby.ingest import read_product
from ioflyby.simulate import (
    HotSpot,
    JovianOrbit,
    PlannedImage,
    TwinOptions,
    build_twin,
    design_flyby,
    write_ephemeris_spk,
)
from ioflyby.simulate import textkernels as tk
from ioflyby.simulate.render import FrameletRenderer, planck_radiance
from ioflyby.spice import Kernels

TIMING_OFFSET_S = 0.23
ATTITUDE_ERROR_DEG = 0.05


@pytest.fixture(scope="module")
def pj57(tmp_path_factory) -> dict:
    """The pj57 twin built through the CLI, with injected errors."""
    out = tmp_path_factory.mktemp("pj57") / "twin"
    _register_verbs()
    result = CliRunner().invoke(app, [
        "simulate", "--scenario", "pj57", "--out", str(out), "--json",
        "--timing-offset", str(TIMING_OFFSET_S), "--attitude-error", str(ATTITUDE_ERROR_DEG),
        "--attitude-error-axis", "0,1,0", "--seed", "7",
    ])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module", params=["pj58", "galileo-i32"])
def small_twin(request, tmp_path_factory) -> dict:
    """Other scenarios, with one short product each (the C/A check needs the kernels only);
    galileo-i32 uses the project-written FK/IK (the no-external-file path of the demo)."""
    out = tmp_path_factory.mktemp(request.param) / "twin"
    options = TwinOptions(images=(PlannedImage(-300.0, n_exposures=2),), use_official_fk_ik=request.param == "pj58")
    return build_twin(request.param, out, options).to_json()


def test_cli_contract_and_files(pj57):
    assert set(pj57) == {"metakernel", "products", "truth"}
    out = Path(pj57["metakernel"]).parent
    assert json.loads((out / "truth.json").read_text()) == pj57["truth"]
    assert len(pj57["products"]) == 3 and all(Path(p).is_dir() for p in pj57["products"])
    truth = pj57["truth"]
    for key in ("time_utc", "altitude_km", "lat_deg", "lon_east_deg", "lon_west_deg"):
        assert key in truth["achieved_ca"]
    assert truth["injected"]["timing_offset_s"] == TIMING_OFFSET_S
    assert truth["injected"]["attitude_error_deg"] == ATTITUDE_ERROR_DEG
    assert "eastward" in truth["basemap"]["longitude_convention"]
    assert not list(out.parent.glob(".twin.*"))  # no temp folder left


def _real_metadata(raw_products_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(raw_products_dir.glob("*/*-Metadata.json"))]


def test_products_read_like_real_ones(pj57, raw_products_dir):
    real = _real_metadata(raw_products_dir)
    assert len(real) == 5
    for folder in pj57["products"]:
        product = read_product(folder)
        assert product.framelets.shape == (30, 3, 128, 1648)
        assert product.filters == ("BLUE", "GREEN", "RED") and product.target == "IO" and product.perijove == 57
        meta = json.loads(next(Path(folder).glob("*-Metadata.json")).read_text())
        for ref in real:
            assert set(meta) == set(ref)
            for key, value in ref.items():
                assert type(meta[key]) is type(value), key
        for key in ("EXPOSURE_DURATION", "INTERFRAME_DELAY", "SOLAR_DISTANCE", "SPACECRAFT_ALTITUDE"):
            assert re.fullmatch(r"[-+0-9.e]+ <[a-z]+>", meta[key]), key
        assert re.fullmatch(r"\d+:\d+", meta["SPACECRAFT_CLOCK_START_COUNT"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", meta["START_TIME"])
        # Io is in the picture: some pixels well above the dark sky
        assert (product.decompanded() > 100).mean() > 0.003


def _independent_ca(metakernel: str, target: str, ca_et: float) -> tuple[float, float, float]:
    """C/A by SPICE GF (local minimum of distance) and nearpt altitude/latitude: no project code."""
    with Kernels([metakernel]):
        window = spiceypy.cell_double(2)
        spiceypy.wninsd(ca_et - 600.0, ca_et + 600.0, window)
        result = spiceypy.cell_double(200)
        spiceypy.gfdist(target, "NONE", "-61", "LOCMIN", 0.0, 0.0, 5.0, 100, window, result)
        assert spiceypy.wncard(result) == 1
        t = spiceypy.wnfetd(result, 0)[0]
        position = spiceypy.spkpos("-61", t, f"IAU_{target}", "NONE", target)[0]
        radii = spiceypy.bodvrd(target, "RADII", 3)[1]
        near, altitude = spiceypy.nearpt(position, *radii)
        latitude = math.degrees(spiceypy.reclat(near)[2])
    return t, altitude, latitude


def _check_ca(result: dict) -> None:
    truth = result["truth"]
    requested = truth["requested_ca"]
    with Kernels([result["metakernel"]]):
        ca_et = spiceypy.str2et(requested["time_utc"])
    t, altitude, latitude = _independent_ca(result["metakernel"], truth["target"], ca_et)
    assert abs(t - ca_et) <= 0.05
    assert abs(altitude - requested["altitude_km"]) <= 0.1
    assert abs(latitude - requested["lat_deg"]) <= 0.01
    assert abs(truth["achieved_ca"]["time_et"] - t) <= 0.05


def test_closest_approach_pj57(pj57):
    _check_ca(pj57)


def test_closest_approach_other_scenarios(small_twin):
    _check_ca(small_twin)
    assert read_product(small_twin["products"][0]).n_exposures == 2
    expected = "official" if small_twin["truth"]["scenario"] == "pj58" else "written"
    assert small_twin["truth"]["kernels"]["fk_ik_source"] == expected


def _ik_ray(naif: int, sample: float, line: float) -> np.ndarray:
    """Camera ray from the IK recipe alone (pool keywords; IK pixel origin = pixel corner)."""
    def value(key):
        return spiceypy.gdpool(f"INS{naif}_{key}", 0, 1)[0]

    focal = value("FOCAL_LENGTH") / value("PIXEL_SIZE")
    k1, k2 = value("DISTORTION_K1"), value("DISTORTION_K2")
    xd, yd = sample + 0.5 - value("DISTORTION_X"), line + 0.5 - value("DISTORTION_Y")
    x, y = xd, yd
    for _ in range(60):
        r2 = x * x + y * y
        scale = 1 + k1 * r2 + k2 * r2 * r2
        x, y = xd / scale, yd / scale
    ray = np.array([x, y, focal])
    return ray / np.linalg.norm(ray)


def _surface_point(lat_deg: float, lon_deg: float, radii: np.ndarray) -> np.ndarray:
    u = np.array([math.cos(math.radians(lat_deg)) * math.cos(math.radians(lon_deg)),
                  math.cos(math.radians(lat_deg)) * math.sin(math.radians(lon_deg)), math.sin(math.radians(lat_deg))])
    return u / math.sqrt(np.sum((u / radii) ** 2))


def test_render_truth_matches_sincpt(pj57):
    out = Path(pj57["metakernel"]).parent
    checked = 0
    with Kernels([out / "twin_truth.tm"]):
        radii = np.asarray(spiceypy.bodvrd("IO", "RADII", 3)[1])
        for product, folder in zip(pj57["truth"]["products"], pj57["products"]):
            meta = json.loads(next(Path(folder).glob("*-Metadata.json")).read_text())
            start = spiceypy.str2et(meta["START_TIME"])
            delay = float(meta["INTERFRAME_DELAY"].split()[0])
            exposure = float(meta["EXPOSURE_DURATION"].split()[0]) * 1e-3
            assert len(product["pixels"]) >= 30
            for pixel in product["pixels"]:
                naif = int(spiceypy.bods2c(f"JUNO_JUNOCAM_{pixel['filter']}"))
                bias = spiceypy.gdpool(f"INS{naif}_START_TIME_BIAS", 0, 1)[0]
                delta = spiceypy.gdpool(f"INS{naif}_INTERFRAME_DELTA", 0, 1)[0]
                et = start + TIMING_OFFSET_S + bias + pixel["exposure"] * (delay + delta) + exposure / 2
                assert pixel["et"] == pytest.approx(et, abs=1e-6)
                ray = _ik_ray(naif, pixel["sample"], pixel["line"])
                point, _, observer = spiceypy.sincpt("ELLIPSOID", "IO", et, "IAU_IO", "LT+S", "JUNO", "JUNO_JUNOCAM", ray)
                truth_point = _surface_point(pixel["lat_deg"], pixel["lon_east_deg"], radii)
                ifov = spiceypy.gdpool(f"INS{naif}_PIXEL_SIZE", 0, 1)[0] / spiceypy.gdpool(f"INS{naif}_FOCAL_LENGTH", 0, 1)[0]
                pixel_km = np.linalg.norm(observer) * ifov
                assert np.linalg.norm(np.asarray(point) - truth_point) / pixel_km <= 0.01
                assert pixel["lon_west_deg"] == pytest.approx((360.0 - pixel["lon_east_deg"]) % 360.0, abs=1e-9)
                checked += 1
    assert checked >= 150


def test_injected_attitude_error_and_timing(pj57):
    out = Path(pj57["metakernel"]).parent
    product = pj57["truth"]["products"][0]
    et = product["true_start_et"] + 1.0
    with Kernels([out / "twin.tm"]):
        nominal = np.asarray(spiceypy.pxform("JUNO_SPACECRAFT", "J2000", et))
        label_et = spiceypy.str2et(product["label_start_utc"])
    with Kernels([out / "twin_truth.tm"]):
        true = np.asarray(spiceypy.pxform("JUNO_SPACECRAFT", "J2000", et))
    relative = nominal.T @ true  # R(axis_sc, angle)
    angle = math.degrees(math.acos((np.trace(relative) - 1) / 2))
    axis = np.array([relative[2, 1] - relative[1, 2], relative[0, 2] - relative[2, 0], relative[1, 0] - relative[0, 1]])
    assert angle == pytest.approx(ATTITUDE_ERROR_DEG, abs=1e-7)
    assert axis / np.linalg.norm(axis) == pytest.approx([0, 1, 0], abs=1e-6)
    assert product["true_start_et"] - label_et == pytest.approx(TIMING_OFFSET_S, abs=1e-6)


def test_planck_integrates_to_stefan_boltzmann():
    sigma = 5.670374419e-8
    wavelengths = np.linspace(50.0, 200000.0, 400001)  # nm
    values = np.array([planck_radiance(w, 1000.0) for w in wavelengths[::100]])
    integral = np.trapezoid(values, wavelengths[::100])
    assert integral == pytest.approx(sigma * 1000.0**4 / math.pi, rel=2e-3)


def test_hot_spot_lands_on_its_pixel(pj57):
    out = Path(pj57["metakernel"]).parent
    pixel = pj57["truth"]["products"][1]["pixels"][0]
    spot = HotSpot(pixel["lat_deg"], pixel["lon_east_deg"], 1400.0, 5.0)
    from ioflyby.camera import JunoCam
    from ioflyby.simulate import load_basemap

    with Kernels([out / "twin_truth.tm"]):
        camera = JunoCam.from_kernel_pool()
        basemap = load_basemap()
        plain = FrameletRenderer(camera, basemap).signal(pixel["filter"], pixel["et"], 3)[0]
        hot = FrameletRenderer(camera, basemap, hot_spots=[spot]).signal(pixel["filter"], pixel["et"], 3)[0]
    diff = (hot - plain).reshape(128, 1648)
    line, sample = np.unravel_index(np.argmax(diff), diff.shape)
    assert diff.max() > 1.0 and np.count_nonzero(diff) == 1
    assert abs(sample - pixel["sample"]) <= 1 and abs(line - pixel["line"]) <= 1


def test_unreachable_latitude_and_busy_output(tmp_path):
    kdir = tmp_path / "k"
    lsk, pck = tk.write_lsk(kdir / "a.tls"), tk.write_pck(kdir / "a.tpc")
    with Kernels([lsk, pck]):
        et = spiceypy.str2et("2023-12-30T08:36:00")
        spk = write_ephemeris_spk(kdir / "e.bsp", et - 7200, et + 7200)
    with Kernels([lsk, pck, spk]):
        orbit = JovianOrbit(75000.0, 35.0, 90.0)
        with pytest.raises(ScenarioError, match="not reachable"):
            design_flyby("IO", "2023-12-30T08:36:00", 1500.0, 85.0, orbit=orbit)
        with pytest.raises(ScenarioError, match="altitude"):
            design_flyby("IO", "2023-12-30T08:36:00", -5.0, 10.0, orbit=orbit)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("keep")
    with pytest.raises(ScenarioError, match="not empty"):
        build_twin("pj57", busy)
    assert (busy / "x").read_text() == "keep"
    _register_verbs()
    result = CliRunner().invoke(app, ["simulate", "--scenario", "nope", "--out", str(tmp_path / "n")])
    assert isinstance(result.exception, ScenarioError)
