"""The twin's new effects against independent truth: passband integrals (scipy quad), a hot spot's
total DN from its black body, area and viewing geometry (spiceypy), its PSF centroid and width,
Jupiter-shine from Jupiter's albedo, phase and distance (spiceypy), blooming's charge
conservation, radiation hits, the night-side option (spiceypy ilumin at C/A), the CLI and truth.json.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import spiceypy
from scipy.integrate import quad
from typer.testing import CliRunner

from ioflyby.camera import JunoCam
from ioflyby.cli import simulate_cmd  # noqa: F401  (registers the verb)
from ioflyby.cli.app import app
from ioflyby.errors import ScenarioError
from ioflyby.simulate import (
    HotSpot,
    PlannedImage,
    RenderEffects,
    TwinOptions,
    build_twin,
    load_basemap,
)
from ioflyby.simulate.jupitershine import JUPITER_GEOMETRIC_ALBEDO, JUPITER_MEAN_RADIUS_KM, jupiter_light
from ioflyby.simulate.render import FrameletRenderer, bloom
from ioflyby.spice import Kernels
from ioflyby.volcano.thermal import (
    PASSBANDS,
    band_radiance,
    brightness_temperature,
    colour_temperature,
    planck_radiance,
    power_w,
    radiance_gain,
)

SPOT = HotSpot(0.0, 0.0, 1400.0, 0.5)


@pytest.fixture(scope="module")
def night_twin(tmp_path_factory):
    """pj57 flown over the night side, one 4-exposure image at C/A − 120 s, through the CLI, with a
    two-component hot spot and Jupiter-shine (``--night-side``)."""
    out = tmp_path_factory.mktemp("night") / "twin"
    twin = build_twin("pj57", out, TwinOptions(images=(PlannedImage(-120.0, n_exposures=4),), night_side=True,
                                               effects=RenderEffects.junocam(jupiter_shine=True)))
    return twin


@pytest.fixture(scope="module")
def framelet(night_twin):
    """A night-side GREEN framelet of the twin: its epoch and a night-side on-target pixel."""
    product = night_twin.truth["products"][0]
    with Kernels([night_twin.truth_metakernel]):
        camera = JunoCam.from_kernel_pool()
        renderer = FrameletRenderer(camera, load_basemap())
        et = float(camera.framelet_mid_et("GREEN", product["true_start_et"], product["interframe_delay_s"], 1,
                                          product["tdi"] * 3.2e-3))
        signal, index, points, pose, _ = renderer.signal("GREEN", et, product["tdi"])
    to_sun = pose.sun_km - points
    night = np.einsum("ij,ij->i", points / np.linalg.norm(points, axis=1)[:, None], to_sun) < -0.2 * np.linalg.norm(
        to_sun, axis=1)
    pick = int(np.flatnonzero(night)[len(np.flatnonzero(night)) // 2])
    return {"et": et, "tdi": product["tdi"], "index": int(index[pick]), "point": points[pick]}


def _spot_at(night_twin, framelet, spot: HotSpot, effects: RenderEffects):
    with Kernels([night_twin.truth_metakernel]):
        camera = JunoCam.from_kernel_pool()
        lat, lon = spiceypy.reclat(framelet["point"])[2], spiceypy.reclat(framelet["point"])[1]
        placed = HotSpot(math.degrees(lat), math.degrees(lon) % 360, spot.temperature_k, spot.area_km2,
                         spot.temperature2_k, spot.area2_km2)
        basemap = load_basemap()
        plain = FrameletRenderer(camera, basemap, effects=effects).signal("GREEN", framelet["et"], framelet["tdi"])
        hot = FrameletRenderer(camera, basemap, hot_spots=[placed], effects=effects).signal(
            "GREEN", framelet["et"], framelet["tdi"])
    return placed, (hot.signal - plain.signal).reshape(128, 1648), hot.hot_spots


def test_band_radiance_is_the_passband_mean_of_planck():
    for name, band in PASSBANDS.items():
        low, high = band.centre_nm - band.width_nm / 2, band.centre_nm + band.width_nm / 2
        for temperature in (600.0, 1200.0, 1900.0):
            integral = quad(lambda lam: float(planck_radiance(lam, temperature)), low, high, epsrel=1e-10)[0]
            assert float(band_radiance(name, temperature)) == pytest.approx(integral / (high - low), rel=1e-9)


def test_temperature_inversions_and_power():
    for temperature in (450.0, 1000.0, 1700.0, 3000.0):
        radiance = float(band_radiance("RED", temperature))
        assert brightness_temperature("RED", radiance) == pytest.approx(temperature, rel=1e-6)
        ratio = float(band_radiance("BLUE", temperature) / band_radiance("RED", temperature))
        assert colour_temperature("BLUE", "RED", ratio) == pytest.approx(temperature, rel=1e-6)
    assert math.isnan(brightness_temperature("RED", 0.0))
    assert float(power_w(1000.0, 1.0)) == pytest.approx(5.670374419e-8 * 1e12 * 1e6)
    two = HotSpot(0, 0, 1400.0, 0.5, 700.0, 20.0)
    assert two.power_gw == pytest.approx((float(power_w(1400.0, 0.5)) + float(power_w(700.0, 20.0))) / 1e9)
    assert two.intensity("RED") == pytest.approx(0.5 * float(band_radiance("RED", 1400.0))
                                                 + 20.0 * float(band_radiance("RED", 700.0)))


def test_hot_spot_total_dn_centroid_and_width(night_twin, framelet):
    placed, diff, spots = _spot_at(night_twin, framelet, SPOT, RenderEffects.junocam())
    (image,) = spots
    # Independent geometry: the spot's body-fixed point and Juno from spiceypy (LT+S) at the epoch.
    with Kernels([night_twin.truth_metakernel]):
        direction = np.asarray(spiceypy.latrec(1.0, math.radians(placed.lon_east_deg), math.radians(placed.lat_deg)))
        radii = np.asarray(spiceypy.bodvrd("IO", "RADII", 3)[1])
        point = direction / math.sqrt(((direction / radii) ** 2).sum())
        juno = np.asarray(spiceypy.spkpos("JUNO", framelet["et"], "IAU_IO", "CN+S", "IO")[0])
        normal = np.asarray(spiceypy.surfnm(*radii, point))
        ifov = 1.0 / JunoCam.from_kernel_pool().filter("GREEN").focal_length_px
    to_juno = juno - point
    mu = float(normal @ to_juno / np.linalg.norm(to_juno))
    footprint = np.linalg.norm(to_juno) * ifov
    low, high = 553.5 - 79.3 / 2, 553.5 + 79.3 / 2
    radiance = quad(lambda lam: float(planck_radiance(lam, 1400.0)), low, high)[0] / (high - low)
    expected = 800.0 * math.pi * 5.2**2 / 1.86 * framelet["tdi"] * radiance * 0.5 * mu / footprint**2
    assert diff.sum() == pytest.approx(expected, rel=2e-3)
    assert image.total_dn == pytest.approx(expected, rel=2e-3)
    lines, samples = np.mgrid[0:128, 0:1648]
    centroid_s, centroid_l = (diff * samples).sum() / diff.sum(), (diff * lines).sum() / diff.sum()
    assert centroid_s == pytest.approx(image.sample, abs=0.01) and centroid_l == pytest.approx(image.line, abs=0.01)
    variance = (diff * (samples - centroid_s) ** 2).sum() / diff.sum()
    # Pixel integration adds 1/12 px² to the Gaussian's variance; the spot's size (radius r px) r²/4.
    radius_px = math.sqrt(0.5 / math.pi) / footprint
    assert variance == pytest.approx(0.6**2 + radius_px**2 / 4 + 1 / 12, rel=0.02)
    assert np.count_nonzero(diff > 1e-3 * diff.max()) > 9


def test_two_components_add_and_point_mode_is_one_pixel(night_twin, framelet):
    _, one, _ = _spot_at(night_twin, framelet, SPOT, RenderEffects())
    assert np.count_nonzero(one) == 1
    _, crust, _ = _spot_at(night_twin, framelet, HotSpot(0, 0, 900.0, 30.0), RenderEffects())
    _, both, _ = _spot_at(night_twin, framelet, HotSpot(0, 0, 1400.0, 0.5, 900.0, 30.0), RenderEffects())
    assert both.sum() == pytest.approx(one.sum() + crust.sum(), rel=1e-5)


def test_jupiter_shine_lights_the_night_side(night_twin, framelet):
    with Kernels([night_twin.truth_metakernel]):
        camera = JunoCam.from_kernel_pool()
        basemap = load_basemap()
        dark = FrameletRenderer(camera, basemap).signal("GREEN", framelet["et"], framelet["tdi"])
        lit = FrameletRenderer(camera, basemap, effects=RenderEffects(jupiter_shine=True)).signal(
            "GREEN", framelet["et"], framelet["tdi"])
        io_et = framelet["et"] - float(dark.pose.light_time_s)
        jupiter = np.asarray(spiceypy.spkpos("JUPITER", io_et, "IAU_IO", "LT+S", "IO")[0])
        sun = np.asarray(spiceypy.spkpos("SUN", io_et, "J2000", "LT+S", "JUPITER")[0])
        io = np.asarray(spiceypy.spkpos("IO", io_et, "J2000", "LT+S", "JUPITER")[0])
        light = jupiter_light("IO", "IAU_IO", io_et)
        radii = spiceypy.bodvrd("IO", "RADII", 3)[1]
    alpha = spiceypy.vsep(sun, io)
    fraction = 0.50 * (math.sin(alpha) + (math.pi - alpha) * math.cos(alpha)) / math.pi * (
        JUPITER_MEAN_RADIUS_KM / np.linalg.norm(jupiter)) ** 2
    assert JUPITER_GEOMETRIC_ALBEDO["GREEN"] == 0.50
    assert light.fraction_of_sunlight("GREEN") == pytest.approx(fraction, rel=1e-6)
    assert 0.005 < fraction < 0.015  # ≈ 1 % of sunlight at Io
    i = np.searchsorted(dark.index, framelet["index"])
    point = dark.points[i]
    normal = np.asarray(spiceypy.surfnm(*radii, point))
    cos_j = max(float(normal @ (jupiter - point) / np.linalg.norm(jupiter - point)), 0.0)
    lat, lon = math.atan2(point[2], math.hypot(point[0], point[1])), math.atan2(point[1], point[0])
    albedo = float(basemap.sample("GREEN", np.array([lat]), np.array([lon]))[0])
    scale = 800.0 * framelet["tdi"] * (5.2 * 149597870.7 / float(dark.pose.sun_distance_km)) ** 2
    assert dark.signal[framelet["index"]] == 0.0
    assert lit.signal[framelet["index"]] == pytest.approx(albedo * cos_j * fraction * scale, rel=1e-3)
    day = dark.signal > 0
    assert np.all(lit.signal[day] >= dark.signal[day])
    assert np.all(lit.signal[day] - dark.signal[day] <= 0.9 * fraction * scale * 1.001)  # albedo ≤ 0.9


def test_blooming_conserves_charge_along_the_column():
    signal = np.zeros((128, 8), np.float32)
    signal[60, 3] = 5 * 4000.0
    signal[10, 5] = 100.0
    bloomed = bloom(signal, 4000.0)
    assert bloomed.max() <= 4000.0 + 1e-3
    assert bloomed[:, 3].sum() == pytest.approx(20000.0, rel=1e-6)
    assert np.count_nonzero(bloomed[:, 3] >= 4000.0 - 1e-3) == 5 and np.all(bloomed[:, [0, 1, 2, 4, 6, 7]] == 0)
    assert bloomed[10, 5] == 100.0
    assert bloomed[58:63, 3] == pytest.approx([4000.0] * 5)  # the excess spreads evenly up and down


def test_radiation_hits_and_saturation(night_twin, framelet):
    effects = RenderEffects.junocam(radiation_hits_per_framelet=30.0)
    with Kernels([night_twin.truth_metakernel]):
        renderer = FrameletRenderer(JunoCam.from_kernel_pool(), load_basemap(), effects=effects)
    counts, charge = [], []
    rng = np.random.default_rng(3)
    for _ in range(40):
        plane = np.zeros((128, 1648), np.float32)
        counts.append(renderer.add_radiation_hits(plane, rng))
        charge.append(plane.sum())
    assert np.mean(counts) == pytest.approx(30.0, rel=0.1)
    assert 100.0 * sum(counts) <= sum(charge) <= 3000.0 * sum(counts)
    assert plane[:, :23].sum() == 0 and plane[:, 1631:].sum() == 0  # only photoactive pixels
    with pytest.raises(ScenarioError, match="cannot be negative"):
        RenderEffects(psf_sigma_px=-1.0)
    _, diff, spots = _spot_at(night_twin, framelet, HotSpot(0, 0, 1600.0, 10.0), RenderEffects.junocam())
    assert spots[0].total_dn > 4e4  # ten times the 12-bit full scale
    codes = renderer.digitise(diff.ravel(), np.random.default_rng(0)).reshape(128, 1648)
    column = int(round(spots[0].sample))
    saturated = np.flatnonzero(codes[:, column] == 255)
    assert saturated.size >= 4 and np.all(np.diff(saturated) == 1)  # a bloom trail along the column
    assert np.count_nonzero(codes == 255) < 3 * saturated.size  # and not across it


def test_night_side_twin_truth_and_cli(night_twin, tmp_path):
    truth = night_twin.truth
    assert truth["night_side"] is True and truth["effects"]["jupiter_shine"] is True
    with Kernels([night_twin.truth_metakernel]):
        ca = truth["achieved_ca"]
        point = spiceypy.latrec(1.0, math.radians(ca["lon_east_deg"]), math.radians(ca["lat_deg"]))
        sun = spiceypy.spkpos("SUN", ca["time_et"], "IAU_IO", "LT+S", "IO")[0]
        assert math.degrees(spiceypy.vsep(point, sun)) > 90.0  # C/A over the night side
        et = truth["products"][0]["true_start_et"]
        juno = spiceypy.spkpos("JUNO", et, "IAU_IO", "LT+S", "IO")[0]
        assert math.degrees(spiceypy.vsep(juno, sun)) > 100.0  # the image looks at the night side
    runner = CliRunner()
    result = runner.invoke(app, ["simulate", "--scenario", "pj57", "--out", str(tmp_path / "t"), "--hot-spot",
                                 "10,20,1200,1,700,20,5"])
    assert isinstance(result.exception, ScenarioError) and "T2_K,AREA2_KM2" in str(result.exception)
    result = runner.invoke(app, ["simulate", "--scenario", "pj57", "--out", str(tmp_path / "t"), "--min-power-gw", "5"])
    assert isinstance(result.exception, ScenarioError) and "--hot-spots-from-catalogue" in str(result.exception)
    result = runner.invoke(app, ["simulate", "--scenario", "pj57", "--out", str(tmp_path / "t"), "--radiation-hits", "-1"])
    assert isinstance(result.exception, ScenarioError)


def test_hot_spots_in_truth_json(tmp_path):
    out = tmp_path / "twin"
    spot = HotSpot(40.0, 300.0, 1300.0, 2.0, 800.0, 10.0)
    twin = build_twin("pj57", out, TwinOptions(images=(PlannedImage(-240.0, n_exposures=2),), hot_spots=(spot,),
                                               effects=RenderEffects.junocam(radiation_hits_per_framelet=2.0)))
    truth = json.loads((out / "truth.json").read_text())
    assert truth == twin.truth
    (recorded,) = truth["hot_spots"]
    assert recorded["temperature2_k"] == 800.0 and recorded["power_gw"] == pytest.approx(spot.power_gw)
    recorded = {"psf_sigma_px": 0.6, "blooming": True, "jupiter_shine": False, "radiation_hits_per_framelet": 2.0}
    assert {key: truth["effects"].get(key) for key in recorded} == recorded
    product = truth["products"][0]
    assert product["radiation_hits"] >= 0 and isinstance(product["hot_spot_images"], list)
    for image in product["hot_spot_images"]:
        assert {"exposure", "filter", "sample", "line", "emission_deg", "incidence_deg", "total_dn",
                "saturated"} <= set(image)
    assert radiance_gain("RED") == pytest.approx(800.0 * math.pi * 27.04 / 1.40)
