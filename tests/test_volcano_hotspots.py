"""Hot-spot detection and thermal fit against the digital twin's injected truth.

A pj57 twin flown over the night side (one 8-exposure image at C/A − 120 s, Jupiter-shine on)
is rendered again with grids of hot spots of known temperature and area at chosen viewing
geometries (``ioflyby.volcano.completeness``); detections are compared with what was injected:
completeness per band, false detections (also with radiation hits), and for SNR ≥ 20 the
position, colour temperature, area, power and the honesty of the reported σ (pull widths).
The full grid and the timing of a 30-exposure product are in ``benchmarks/bench_hotspots.py``.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from scipy.special import erf
from typer.testing import CliRunner

from ioflyby.cli import hotspots_cmd  # noqa: F401  (registers the verb)
from ioflyby.cli.app import app
from ioflyby.errors import GeometryError
from ioflyby.simulate import HotSpot, PlannedImage, RenderEffects, TwinOptions, build_twin, catalogue_hot_spots
from ioflyby.volcano.catalogue import select_features
from ioflyby.volcano.completeness import (
    TwinProduct,
    accuracy,
    completeness_table,
    decompanding_table_steps,
    expected_snr,
    find_sites,
    match_trials,
    predict_detection,
    run_grid,
    run_trials,
    transitions,
    trial_rows,
)
from ioflyby.volcano.hotspots import HotSpotConfig, detect_hot_spots, mean_dn_table, thermal_colours

TEMPERATURES_K = (1000.0, 1300.0, 1600.0)
AREAS_KM2 = (0.003, 0.03, 0.3, 3.0)
GEOMETRIES = (("night", 30.0), ("night", 60.0), ("day", 60.0))


@pytest.fixture(scope="module")
def night(tmp_path_factory) -> TwinProduct:
    out = tmp_path_factory.mktemp("hotspots") / "twin"
    options = TwinOptions(images=(PlannedImage(-120.0, n_exposures=8),), night_side=True,
                          effects=RenderEffects.junocam(jupiter_shine=True))
    return TwinProduct(build_twin("pj57", out, options), 0)


@pytest.fixture(scope="module")
def grid(night):
    """3 temperatures × 4 areas at 3 geometries (36 spots), 12 per rendered product."""
    trials, false = run_grid(night, TEMPERATURES_K, AREAS_KM2, GEOMETRIES, seed=11, per_product=12)
    return trial_rows(trials), false, len(GEOMETRIES), trials


def test_completeness_per_band(grid):
    rows, _, _, _ = grid
    assert len(rows) == len(TEMPERATURES_K) * len(AREAS_KM2) * len(GEOMETRIES)
    table = completeness_table(rows)
    for entry in table:
        # Io's hot spots are brightest in RED: a band never sees what a longer one misses.
        assert entry["red"] >= entry["green"] >= entry["blue"]
        assert entry["any"] >= entry["red"]
    for side in ("night", "day"):
        for temperature in TEMPERATURES_K:
            curve = [e["any"] for e in table if e["side"] == side and e["temperature_k"] == temperature]
            assert curve == sorted(curve)  # more area, never fewer detections
    brightest = [e for e in table if e["temperature_k"] == 1600.0 and e["area_km2"] == 3.0]
    faintest = [e for e in table if e["temperature_k"] == 1000.0 and e["area_km2"] == 0.003]
    assert all(e["any"] == 1.0 for e in brightest) and all(e["any"] == 0.0 for e in faintest)


def test_no_false_detections_in_the_grid(grid):
    _, false, renders, _ = grid
    assert len(false) <= renders  # ≤ 1 per product


@pytest.fixture(scope="module")
def bright(night):
    """48 night-side spots bright enough for a colour temperature at SNR ≳ 20 in GREEN with RED
    unsaturated (1400–1600 K, 0.04–0.5 km²), at emission 20°, 35° and 45°."""
    spots = [HotSpot(0.0, 0.0, t, a) for t, a in ((1600.0, 0.04), (1600.0, 0.08), (1600.0, 0.15), (1500.0, 0.1),
                                                   (1500.0, 0.2), (1500.0, 0.35), (1400.0, 0.25), (1400.0, 0.5))] * 2
    rows = []
    for k, emission in enumerate((20.0, 35.0, 45.0)):
        sites = find_sites(night.observation, emission, "night", len(spots))
        trials, _ = run_trials(night, spots[:len(sites)], sites, seed=20 + k)
        rows += trial_rows(trials)
    return rows


def test_accuracy_and_honest_sigma_at_snr_20(bright):
    """Position, colour temperature and honest σ at colour SNR ≥ 20 (the weaker of the two best
    bands); area within 20 % and power within 25 % where the two-band physics allows it.

    A colour temperature from GREEN and RED magnifies the GREEN noise into the area by
    λ_G / (λ_R − λ_G) = 3.8 (Wien: d ln A = −3.8 d ln I_GREEN + 4.8 d ln I_RED, whatever T), so
    at colour SNR 20 the area's σ is ≥ 19 % (14 % with BLUE's help at 1600 K): about a fifth of
    the areas then lie beyond 20 % with an unbiased fit and an honest σ. "Within 20 %" for every
    detection needs σ ≲ 8 %, i.e. colour SNR ≳ 50 (docs/volcano.md, "Accuracy")."""
    result = accuracy(bright, min_snr=20.0)
    assert result["count"] >= 25
    assert result["max_offset_px"] <= 1.0 and result["max_offset_km"] <= 4.0
    assert result["max_temperature_error"] <= 0.05
    for key in ("pull_width_temperature", "pull_width_area", "pull_width_power"):
        assert 0.7 <= result[key] <= 1.5, (key, result)
    errors = np.array([r["fit_area_km2"] / r["area_km2"] - 1.0 for r in bright
                       if r["detected"] and r["fit_snr"] >= 20.0])
    assert abs(float(np.mean(errors))) <= 0.03  # unbiased (the companding bias was −3 %)
    assert result["area_within_20_percent"] >= 0.7
    assert result["power_within_25_percent"] >= 0.9
    # The σ, not the 20 %, is the promise at SNR 20: areas beyond 3 of their own σ are rare.
    beyond = [r for r in bright if r["detected"] and r["fit_snr"] >= 20.0
              and abs(math.log(r["fit_area_km2"] / r["area_km2"])) > 3.0 * r["fit_area_sigma_km2"] / r["fit_area_km2"]]
    assert len(beyond) <= max(1, result["count"] // 20), beyond
    # at colour SNR ≥ 50 (σ_area ≲ 8 %) every area is within 20 % and every power within 25 %
    strong = accuracy(bright, min_snr=50.0)
    assert strong["count"] >= 4 and strong["max_area_error"] <= 0.20 and strong["max_power_error"] <= 0.25, strong


def _ideal_flux_sigma(frame_dn: np.ndarray, image: dict, config: HotSpotConfig, steps: np.ndarray) -> float:
    """Cramér–Rao bound on a point source's flux (DN) at its true position: the twin's pixel-
    integrated Gaussian PSF and its detector noise per pixel (read noise, shot noise of background
    plus source, the companding step), background from the ring 4–7 px around it."""
    s, l = float(image["sample"]), float(image["line"])
    lines, samples = np.mgrid[int(l) - 4:int(l) + 5, int(s) - 4:int(s) + 5]
    scale = config.psf_sigma_px * math.sqrt(2.0)
    psf = 0.5 * (erf((lines - l + 0.5) / scale) - erf((lines - l - 0.5) / scale)) * \
        0.5 * (erf((samples - s + 0.5) / scale) - erf((samples - s - 0.5) / scale))
    ring = np.hypot(lines - l, samples - s)
    background = float(np.median(frame_dn[lines, samples][(ring >= 4.0) & (ring <= 7.0)]))
    level = background + float(image["total_dn"]) * psf
    variance = config.read_noise_dn**2 + level / config.gain_e_per_dn + steps[np.clip(level.astype(int), 0, 4096)]
    return 1.0 / math.sqrt(float((psf**2 / variance).sum()))


def _inside(frame: np.ndarray, image: dict, margin: int) -> bool:
    """Whether the spot of ``image`` lies at least ``margin`` px inside the framelet."""
    return margin <= image["line"] < frame.shape[0] - margin - 1 and margin <= image["sample"] < frame.shape[1] - margin - 1


def _measured_looks(night: TwinProduct, spot: HotSpot, seed: int) -> tuple[list[tuple], HotSpotConfig, str]:
    """``spot`` placed at 12 night-side sites seen at emission 30°, rendered and detected: each
    unsaturated look matched to the twin's record of that spot in that framelet, as (look, record,
    framelet in mean DN) — looks at least 4 px inside their framelet — with the detection settings
    and the product's companding."""
    sites = find_sites(night.observation, 30.0, "night", 12, seed=3)
    placed = [replace(spot, lat_deg=site.lat_deg, lon_east_deg=site.lon_east_deg) for site in sites]
    raw, images, _ = night.render(placed, seed=seed)
    found = detect_hot_spots(night.observe(raw), catalogue=False)
    table, filters = mean_dn_table(raw.companding), list(raw.filters)
    looks = []
    for detection in found.detections:
        for look in detection.looks:
            truth = [i for i in images if i["exposure"] == look.exposure and i["filter"] == look.filter
                     and math.hypot(i["sample"] - look.sample, i["line"] - look.line) < 1.0]
            frame = table[raw.framelets[look.exposure, filters.index(look.filter)]]
            if not look.saturated and len(truth) == 1 and _inside(frame, truth[0], 4):
                looks.append((look, truth[0], frame))
    return looks, found.config, raw.companding


def test_photometry_reaches_the_cramer_rao_bound(night):
    """The per-framelet PSF photometry is as precise as any unbiased estimator can be: its flux σ
    and its actual errors equal the Cramér–Rao bound of the twin's PSF and detector noise. With
    the thermal fit's weighted least squares (efficient for Gaussian band errors) this makes the
    reported area σ the floor for any method on these data (docs/volcano.md, "Accuracy")."""
    looks, config, companding = _measured_looks(night, HotSpot(0.0, 0.0, 1500.0, 0.2), seed=31)
    steps = decompanding_table_steps(companding)
    ideal = np.array([_ideal_flux_sigma(frame, truth, config, steps) for _, truth, frame in looks])
    reported = np.array([look.flux_sigma_dn for look, _, _ in looks]) / ideal
    pulls = np.array([look.flux_dn - truth["total_dn"] for look, truth, _ in looks]) / ideal
    assert len(looks) >= 30
    assert 0.9 <= float(np.median(reported)) <= 1.3, np.percentile(reported, [10, 50, 90])
    assert 0.8 <= float(np.std(pulls)) <= 1.4 and abs(float(np.mean(pulls))) <= 0.3, (np.mean(pulls), np.std(pulls))


@pytest.mark.parametrize("area_km2", [8.0, 30.0])
def test_extended_sources_keep_their_flux(night, area_km2):
    """Lava wider than a pixel (1000 K over 8 and 30 km²: radius 0.76 and 1.5 px at ≈ 2.1 km/px,
    the twin widening its image accordingly): the RED fluxes equal the twin's to 2 % (median) with
    honest σ — the fit frees the width where χ² asks for it (a point-source fit loses 12 % at
    8 km², and at 30 km² none of its RED looks survives)."""
    looks, _, _ = _measured_looks(night, HotSpot(0.0, 0.0, 1000.0, area_km2), seed=31)
    red = [(look, truth) for look, truth, _ in looks if look.filter == "RED"]
    assert len(red) >= 8
    relative = np.array([look.flux_dn / truth["total_dn"] - 1.0 for look, truth in red])
    pulls = np.array([(look.flux_dn - truth["total_dn"]) / look.flux_sigma_dn for look, truth in red])
    assert abs(float(np.median(relative))) <= 0.02, relative
    assert abs(float(np.mean(pulls))) <= 1.0 and float(np.std(pulls)) <= 1.5, pulls


def test_radiation_hits_make_at_most_one_false_detection(night):
    hits = TwinProduct(night.twin, 0, effects=RenderEffects.junocam(jupiter_shine=True,
                                                                    radiation_hits_per_framelet=20.0))
    for seed in (1, 2):
        raw, _, count = hits.render([], seed)
        assert count > 300
        found = detect_hot_spots(hits.observe(raw), catalogue=False)
        assert len(found.detections) <= 1
        assert found.candidates < 3 * count  # most hits never became candidates (sharpness)


def test_detections_match_their_catalogue_source(night):
    """Hot spots (1400 K, 1 km²) placed at Davies sources that the RED framelets see at emission
    < 60° are all found, and every detection is named after the source it was placed at."""
    davies = select_features(sources="davies")
    seen = night.observation.lonlat_to_pixel(davies["lat_deg"].to_numpy(), davies["lon_east_deg"].to_numpy())
    usable = sorted({int(p) for p, e in zip(seen.point, seen.emission_deg) if e < 60.0})
    rows = davies.iloc[usable]
    spots: list[HotSpot] = []
    for row in rows.itertuples(index=False):
        if all(math.hypot(row.lat_deg - h.lat_deg, row.lon_east_deg - h.lon_east_deg) > 3.0 for h in spots):
            spots.append(HotSpot(row.lat_deg, row.lon_east_deg, 1400.0, 1.0, name=row.name))
    assert len(spots) >= 2
    raw, images, _ = night.render(spots, seed=5)
    found = detect_hot_spots(night.observe(raw))
    names = {d.catalogue_match["name"] for d in found.detections if d.catalogue_match}
    imaged = {spots[i["spot"]].name for i in images if i["filter"] == "RED"
              and i["emission_deg"] < 60.0 and 3 <= i["line"] <= 124 and 30 <= i["sample"] <= 1620}
    assert imaged <= names
    assert all(d.catalogue_match is not None for d in found.detections)


def _catalogue_prediction(night, grid, spots, seed):
    """Render ``spots``, detect, and predict each spot from the grid's completeness curves."""
    curves = transitions(grid[3])
    raw, images, _ = night.render(spots, seed=seed)
    found = detect_hot_spots(night.observe(raw))
    signal = expected_snr(raw, images)
    outcome = []
    for i, spot in enumerate(spots):
        seen = [im for im in images if im["spot"] == i]
        side = "night" if min((im["incidence_deg"] for im in seen), default=180.0) >= 90.0 else "day"
        outcome.append(predict_detection(signal.get(i, {}), side, curves))
    from ioflyby.volcano.completeness import Site

    sites = [Site(s.lat_deg, s.lon_east_deg, 0.0, 0.0) for s in spots]
    km = {i: min((im["km_per_px"] for im in images if im["spot"] == i), default=3.0) for i in range(len(spots))}
    trials = match_trials(spots, sites, km, found.detections, night.observation.body.radii_km, 3.0)
    trials = [replace(t, expected_snr=signal.get(i, {})) for i, t in enumerate(trials)]
    return outcome, trials, found, curves


def test_catalogue_placed_twin_detects_what_the_completeness_curves_predict(night, grid):
    """Davies' sources with their published T and area: each is predicted seen / missed / either
    (inside the measured curve's transition band) from its expected SNR in each band (the twin's
    truth: its DN, the noise at its place) and the grid's completeness curves; the detected set
    equals the predicted set (only "either" sources may go both ways), and every detection is its
    catalogue source. Their temperatures (≤ 1035 K, mostly < 500 K) put all of them below
    JunoCam's limit: the curves say missed, and nothing is detected."""
    spots = catalogue_hot_spots()
    outcome, trials, found, _ = _catalogue_prediction(night, grid, spots, seed=9)
    assert outcome.count("either") <= 2
    for spot, predicted, trial in zip(spots, outcome, trials):
        if predicted != "either":
            assert (trial.detection is not None) == (predicted == "seen"), (spot, predicted)
    matched = {id(t.detection) for t in trials if t.detection is not None}
    assert all(id(d) in matched for d in found.detections)


def test_catalogue_positions_hotter_detected_as_predicted(night, grid):
    """The catalogue's positions and areas with hotter lava (1000–1600 K in turn) give a mix of
    detectable and hopeless sources: the detected set equals what the completeness curves predict
    (transition-band sources either way, at most a third), and every detection is named after the
    catalogue source it was placed at."""
    davies = select_features(sources="davies")
    davies = davies[davies["area_km2"] > 0]
    seen = night.observation.lonlat_to_pixel(davies["lat_deg"].to_numpy(), davies["lon_east_deg"].to_numpy())
    usable = sorted({int(p) for p, e in zip(seen.point, seen.emission_deg) if e < 70.0})
    spots: list[HotSpot] = []
    temperatures = (1000.0, 1600.0, 1200.0, 1400.0)
    for row in davies.iloc[usable].itertuples(index=False):
        if all(math.hypot(row.lat_deg - h.lat_deg, row.lon_east_deg - h.lon_east_deg) > 3.0 for h in spots):
            area = float(np.clip(row.area_km2, 0.003, 3.0))
            spots.append(HotSpot(row.lat_deg, row.lon_east_deg, temperatures[len(spots) % 4], area, name=row.name))
    assert len(spots) >= 6
    outcome, trials, found, _ = _catalogue_prediction(night, grid, spots, seed=5)
    assert "seen" in outcome and "missed" in outcome
    assert outcome.count("either") <= len(spots) // 3, outcome
    for spot, predicted, trial in zip(spots, outcome, trials):
        if predicted != "either":
            assert (trial.detection is not None) == (predicted == "seen"), (spot, predicted)
        if trial.detection is not None:
            assert trial.detection.catalogue_match is not None
            assert trial.detection.catalogue_match["name"] == spot.name
    matched = {id(t.detection) for t in trials if t.detection is not None}
    assert all(id(d) in matched for d in found.detections)


def test_thermal_colours_reject_reflected_light():
    from ioflyby.volcano.hotspots import BandMeasurement
    from ioflyby.volcano.thermal import band_radiance

    def bands(temperature: float, scale: dict | None = None) -> dict:
        out = {}
        for name in ("BLUE", "GREEN", "RED"):
            value = float(band_radiance(name, temperature)) * (scale or {}).get(name, 1.0)
            out[name] = BandMeasurement(name, value, 0.02 * float(band_radiance("RED", temperature)), value, False, 1)
        return out

    assert thermal_colours(bands(1400.0), 2500.0)
    sunlight = {"BLUE": 2.05, "GREEN": 1.86, "RED": 1.40}  # reflected sunlight: I/F-flat texture
    grey = {n: type(b)(n, sunlight[n], 0.05, sunlight[n], False, 1) for n, b in bands(1400.0).items()}
    assert not thermal_colours(grey, 2500.0)


def test_cli_json_files_and_completeness(tmp_path):
    out = tmp_path / "twin"
    spot = HotSpot(54.743, 281.925, 1400.0, 1.0)
    twin = build_twin("pj57", out, TwinOptions(images=(PlannedImage(-120.0, n_exposures=8),), night_side=True,
                                               hot_spots=(spot,), effects=RenderEffects.junocam(jupiter_shine=True)))
    result = CliRunner().invoke(app, ["hotspots", str(twin.products[0]), "--kernels", str(twin.metakernel), "--out",
                                      str(tmp_path / "found"), "--json", "--truth", str(out / "truth.json")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    imaged = [i for i in twin.truth["products"][0]["hot_spot_images"] if i["filter"] == "RED"]
    if not imaged:
        pytest.skip("the spot fell outside this short image")
    (d,) = data["detections"]
    for key in ("time_utc", "lat_deg", "lon_east_deg", "position_sigma_km", "bands", "brightness_temperature_k",
                "color_temperature_k", "temperature_sigma_k", "area_km2", "area_sigma_km2", "power_gw",
                "power_sigma_gw", "catalogue_match"):
        assert key in d
    assert set(d["bands"]["RED"]) >= {"radiance", "snr", "saturated"}
    assert d["lat_deg"] == pytest.approx(spot.lat_deg, abs=0.2) and d["lon_east_deg"] == pytest.approx(spot.lon_east_deg,
                                                                                                       abs=0.3)
    assert d["color_temperature_k"] == pytest.approx(1400.0, rel=0.1)
    suffixes = sorted(p.rsplit("_", 1)[-1] for p in data["outputs"])
    assert suffixes == ["completeness.csv", "completeness.png", "hotspots.csv", "hotspots.geojson", "hotspots.md",
                        "map.png"]
    from PIL import Image

    view = np.asarray(Image.open(next(p for p in data["outputs"] if p.endswith("_map.png"))).convert("RGB"), float)
    assert view.shape[0] > 100 and (np.abs(view[..., 0] - view[..., 2]) > 60).any()  # a coloured marker
    geojson = json.loads((tmp_path / "found" / f"{twin.truth['products'][0]['product_id']}_hotspots.geojson").read_text())
    assert geojson["features"][0]["geometry"]["coordinates"][1] == pytest.approx(spot.lat_deg, abs=0.2)
    assert data["completeness"][0]["any"] == 1.0
    with pytest.raises(GeometryError):
        detect_hot_spots(TwinProduct(twin, 0).observation, images=np.zeros((1, 1, 128, 1648)))
