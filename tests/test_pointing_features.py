"""Pointing from surface features: tie points between the framelets and a reference map of Io,
fed into the limb's spin-model least squares (``ioflyby.pointing.surface``).

Truth is independent of the solver: a synthetic shift for the phase correlation, a constructed
map for the reference-map convention, and the digital twin's truth CK (``twin_truth.tm``, the
attitude the products were rendered with) for the solved pointing. The twin is rendered from the
USGS colour merge and matched against the *newer grey* mosaic, a different mosaic with its own
photometry, epoch and registration, so the match is not pixel-identical. The newer mosaic's
declared georeference is checked against the IAU gazetteer's positions of small dark paterae."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import dark_blob_offset_km, local_km_grid
from ioflyby import simulate
from ioflyby.cli.app import main
from ioflyby.errors import PointingError
from ioflyby.ingest import read_product
from ioflyby.observation import Observation, reference_map, solve_pointing
from ioflyby.pointing import PointingRefused, ReferenceMap, solve_joint
from ioflyby.pointing.features import phase_correlate
from ioflyby.pointing.reference import Georeference
from ioflyby.spice import Kernels
from ioflyby.validate import framelet_pointing_errors

BASEMAPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "io" / "basemaps"
RENDERED_FROM = BASEMAPS / "Io_GalileoSSI-Voyager_Global_Mosaic_ClrMerge_2km_180W.jpg"
MATCHED_AGAINST = BASEMAPS / "New_Io_photomosaic_2km_grey.jpg"
TIMING_OFFSET_S = 0.020
ATTITUDE_ERROR_DEG = 0.3
ACROSS_LIMIT_DEG = 0.02
ROLL_LIMIT_DEG = 0.1
NEAR_CA_OFFSETS_S = (-60.0, -30.0, 0.0, 30.0)
GAZETTEER = Path(__file__).resolve().parents[2] / "shared" / "data" / "io" / "catalogues" / "iau_gazetteer_io_full.csv"
# Small, dark, isolated paterae at mid latitudes (where a planetographic-style relabelling of the
# rows moves features most: 13.8 km * sin 2 phi), name as in the gazetteer.
MID_LATITUDE_PATERAE = ("Arusha Patera", "Altjirra Patera", "Uta Patera", "Rata Patera", "Ulgen Patera",
                        "Shurdi Patera", "Nina Patera", "Dusura Patera", "Gauwa Patera", "Ukko Patera",
                        "Surya Patera", "Susanoo Patera", "Kinich Ahau Patera", "Gurzil Patera")


# -- building blocks ----------------------------------------------------------------------------------
def test_phase_correlation_recovers_a_known_sub_pixel_shift():
    """A band-limited random texture moved by a known sub-pixel shift (Fourier shift theorem):
    the measured shift is within 0.1 px of it, with a high, distinct peak."""
    rng = np.random.default_rng(3)
    n = 64
    texture = np.fft.ifft2(np.fft.fft2(rng.standard_normal((n, n))) *
                           np.exp(-(np.add.outer(np.fft.fftfreq(n) ** 2, np.fft.fftfreq(n) ** 2)) / 0.02)).real
    shift = np.array([2.3, -4.6])
    ky, kx = np.meshgrid(np.fft.fftfreq(n), np.fft.fftfreq(n), indexing="ij")
    moved = np.fft.ifft2(np.fft.fft2(texture) * np.exp(-2j * np.pi * (ky * shift[0] + kx * shift[1]))).real
    measured, peak, distinct = phase_correlate(moved[None], texture[None], search=16)
    assert np.allclose(measured[0], shift, atol=0.1)
    assert peak[0] > 0.5 and distinct[0] > 3


def test_reference_map_convention_east_positive_from_zero_east():
    """A map whose value is its own east longitude (deg) and planetocentric latitude: sampling
    returns them (column 0 at 0 deg E increasing eastward, row 0 at 90 deg N)."""
    rows, cols = 90, 180
    lon_centres = (np.arange(cols) + 0.5) * 2.0
    lat_centres = 90.0 - (np.arange(rows) + 0.5) * 2.0
    lon_map = ReferenceMap(np.tile(lon_centres, (rows, 1)), "lon")
    lat_map = ReferenceMap(np.tile(lat_centres[:, None], (1, cols)), "lat")
    lat, lon = np.radians([10.0, -45.0, 60.0]), np.radians([101.0, 255.0, 31.0])
    assert np.allclose(lon_map.sample(lat, lon), [101.0, 255.0, 31.0], atol=1e-6)
    assert np.allclose(lat_map.sample(lat, lon), [10.0, -45.0, 60.0], atol=1e-6)
    with pytest.raises(PointingError, match="global equirectangular"):
        ReferenceMap(np.zeros((10, 10)), "square")


def test_georeference_relabelled_rows_and_rotation():
    """A map whose rows are latitude ψ = atan(k tan φ) and whose features are turned by a known
    rotation: sampling through a Georeference with that ratio and rotation returns the value
    built for each true (planetocentric) latitude and longitude."""
    rows, cols = 360, 720
    ratio, rotation_deg = 0.985, (0.0, 0.0, 2.0)  # rotation about the pole: features 2 deg east
    row_lat = 90.0 - (np.arange(rows) + 0.5) * 0.5
    lon_centres = (np.arange(cols) + 0.5) * 0.5
    true_lat = np.degrees(np.arctan(np.tan(np.radians(row_lat)) / ratio))
    lat_map = ReferenceMap(np.tile(true_lat[:, None], (1, cols)), "lat",
                           georeference=Georeference(latitude_ratio=ratio, rotation_deg=rotation_deg))
    lon_map = ReferenceMap(np.tile((lon_centres - 2.0) % 360.0, (rows, 1)), "lon",
                           georeference=Georeference(latitude_ratio=ratio, rotation_deg=rotation_deg))
    lat, lon = np.radians([40.0, -35.0, 10.0]), np.radians([100.0, 250.0, 33.0])
    assert np.allclose(lat_map.sample(lat, lon), [40.0, -35.0, 10.0], atol=0.01)
    assert np.allclose(lon_map.sample(lat, lon), [100.0, 250.0, 33.0], atol=0.01)


def _dark_centroid_km(reference: ReferenceMap, lat_deg: float, lon_east_deg: float, diameter_km: float):
    """(north, east) km of the darkness-weighted centroid of the dark blob nearest the given
    position, sampled through the map's georeference on a local 1-km grid."""
    return dark_blob_offset_km(reference.sample(*local_km_grid(lat_deg, lon_east_deg, diameter_km)))


def test_newer_mosaic_georeference_against_the_iau_gazetteer(grey_reference):
    """Independent truth: the IAU gazetteer's centres of small dark mid-latitude paterae. Read
    as planetocentric, the newer grey mosaic puts them 8-25 km nearer the equator (the
    planetographic-style relabelling of its rows); read through its declared georeference they
    are where the gazetteer says, as they are in the USGS colour merge."""
    import pandas as pd

    if not GAZETTEER.exists():
        pytest.skip(f"the IAU gazetteer is absent from {GAZETTEER.parent}")
    table = pd.read_csv(GAZETTEER)
    table = table[table["Clean Feature Name"].isin(MID_LATITUDE_PATERAE)]
    assert len(table) >= 10
    raw = ReferenceMap(grey_reference.image, "planetocentric reading")
    poleward = {"declared": [], "raw": [], "colour": []}
    colour = reference_map(RENDERED_FROM)
    for _, row in table.iterrows():
        lat, lon_east = row["Center Latitude"], (360.0 - row["Center Longitude"]) % 360.0
        for key, ref in (("declared", grey_reference), ("raw", raw), ("colour", colour)):
            north, _ = _dark_centroid_km(ref, lat, lon_east, row["Diameter"])
            poleward[key].append(np.sign(lat) * north)
    median = {key: float(np.median(values)) for key, values in poleward.items()}
    assert median["raw"] < -8.0, median
    assert abs(median["declared"]) < 4.0 and abs(median["colour"]) < 4.0, median


# -- the twin near closest approach -------------------------------------------------------------------
@pytest.fixture(scope="module")
def twin(tmp_path_factory, kernel_dir):
    if not RENDERED_FROM.exists() or not MATCHED_AGAINST.exists():
        pytest.skip(f"the USGS Io mosaics are absent from {BASEMAPS}")
    out = tmp_path_factory.mktemp("features") / "pj57"
    options = simulate.TwinOptions(timing_offset_s=TIMING_OFFSET_S, attitude_error_deg=ATTITUDE_ERROR_DEG,
                                   attitude_error_axis_sc=(0.6, 0.8, 0.0), official_kernel_dir=kernel_dir,
                                   basemap=RENDERED_FROM,
                                   images=tuple(simulate.PlannedImage(t) for t in NEAR_CA_OFFSETS_S))
    simulate.build_twin("pj57", out, options)
    truth = json.loads((out / "truth.json").read_text())
    return out, truth, read_product(out / truth["products"][0]["dir"])


@pytest.fixture(scope="module")
def grey_reference():
    if not MATCHED_AGAINST.exists():
        pytest.skip(f"the newer Io mosaic is absent from {BASEMAPS}")
    return reference_map(MATCHED_AGAINST)


@pytest.fixture(scope="module")
def joint_near_ca(twin, grey_reference):
    """The four twin products solved jointly from their limbs and surface features, no CK
    (``ioflyby.pointing.solve_joint`` with a reference map); it solves each alone first
    (``JointSolution.individual``)."""
    root, truth, _ = twin
    products = [read_product(root / entry["dir"]) for entry in truth["products"]]
    with Kernels([root / "twin.tm"]):
        joint = solve_joint(products, prior="search", align=True, reference=grey_reference)
    return joint, products


def _with_errors(twin, solutions, products) -> dict:
    """{offset from C/A (s): (solution, (across, roll) errors (deg) at every framelet holding tie
    points)}."""
    root, truth, _ = twin
    out = {}
    for offset, solution, product in zip(NEAR_CA_OFFSETS_S, solutions, products):
        seen = sorted({(r["exposure"], r["filter"]) for r in solution.tie_points["per_framelet"]})
        out[offset] = (solution, _errors_deg(root, truth, solution, product, seen))
    return out


@pytest.fixture(scope="module")
def near_ca(twin, joint_near_ca):
    """The four twin products each solved alone with no CK (global search), as
    ``solve_pointing(..., reference=)`` does, with their errors (see :func:`_with_errors`)."""
    joint, products = joint_near_ca
    return _with_errors(twin, joint.individual, products)


@pytest.fixture(scope="module")
def near_ca_joint(twin, joint_near_ca):
    joint, products = joint_near_ca
    return _with_errors(twin, joint.solutions, products)


def _errors_deg(root, truth, solution, product, framelets) -> np.ndarray:
    """(across the line of sight, roll about it) errors (deg) of the solved camera pointing at the
    nominal epochs of ``framelets`` [(exposure, filter)], against the twin's truth CK at the true
    epochs (nominal + the injected timing offset)."""
    return np.column_stack(framelet_pointing_errors(solution, product, root / "twin_truth.tm",
                                                    truth["injected"]["timing_offset_s"], framelets))


def _check(solution, name):
    return next(c for c in solution.quality.checks if c.name == name)


@pytest.mark.slow
def test_twin_near_closest_approach_four_images(near_ca):
    """PJ57 twin at C/A - 60, - 30, 0 and + 30 s (Io overfills the 58 deg field; the limb is a
    partial arc), 20 ms timing and 0.3 deg attitude errors injected, no CK (global search);
    rendered from the colour merge, matched against the newer grey mosaic read through its
    declared georeference. Truth: the twin's truth CK.

    - every image is solved from its surface features (not refused), within 0.025 deg across the
      line of sight and 0.2 deg in roll; the C/A image, whose limb arc alone fits a start flipped
      by 180 deg, is recovered: good, within 0.02 deg across and 0.1 deg in roll;
    - never a wrong roll marked good: an image marked good is within 0.1 deg in roll, and every
      roll error is within twice the reported roll sigma (which counts the map's registration:
      over these footprints the two mosaics differ by up to ~0.1 deg about the line of sight)."""
    for offset, (solution, errors) in near_ca.items():
        label = f"C/A{offset:+.0f} s: {solution.quality.summary()}"
        across, roll = errors[:, 0].max(), np.abs(errors[:, 1]).max()
        assert solution.verdict != "refused", label
        assert solution.start == "global-search+features"
        assert across <= 0.025 and roll <= 0.2, (label, across, roll)
        assert roll <= 2.0 * _check(solution, "roll_sigma").value, (label, roll)
        if solution.verdict == "good":
            assert roll <= ROLL_LIMIT_DEG, (label, roll)
        ties = solution.tie_points
        assert ties["n_tie_points"] >= 100 and ties["n_framelets"] >= 10 and ties["tie_rms_px"] < 3.0, label
    solution, errors = near_ca[0.0]
    assert solution.verdict == "good", solution.quality.summary()
    assert errors[:, 0].max() <= ACROSS_LIMIT_DEG and np.abs(errors[:, 1]).max() <= ROLL_LIMIT_DEG
    report = solution.to_dict()
    assert report["reference_map"]["name"] == MATCHED_AGAINST.name
    assert "east-positive" in report["reference_map"]["convention"]
    assert report["reference_map"]["georeference"]["latitude_ratio"] < 1.0
    for key in ("timing_offset_s", "limb_rms_px", "quality", "per_framelet"):
        assert key in report


@pytest.mark.slow
def test_twin_near_closest_approach_joint_solve(joint_near_ca, near_ca_joint, near_ca):
    """The same four images solved jointly: one spin axis, rate and camera alignment, one fitted
    rotation of the reference map (three body-frame angles) and each image's local map rotation
    about its line of sight (prior: the map's registration sigma over its footprint). The images
    see Io from directions far apart, so the map's rotation and the camera's roll separate.
    Truth: the twin's truth CK.

    - every image good, within 0.02 deg across the line of sight and 0.1 deg in roll (the
      Must-show), though alone the -60 s and -30 s images are 0.16-0.17 deg off in roll and
      rightly not good (their roll sigma holds the map's registration);
    - the joint report holds the map rotation with its sigma, and each product's verdict a check
      of it against the map's registration sigma."""
    joint, _ = joint_near_ca
    for offset, (solution, errors) in near_ca_joint.items():
        label = f"C/A{offset:+.0f} s joint: {solution.quality.summary()}"
        across, roll = errors[:, 0].max(), np.abs(errors[:, 1]).max()
        assert solution.verdict == "good", label
        assert across <= ACROSS_LIMIT_DEG and roll <= ROLL_LIMIT_DEG, (label, across, roll)
        assert solution.start.startswith("joint (global-search+features")
        assert solution.tie_points["n_tie_points"] >= 100, label
        assert _check(solution, "map_rotation").verdict == "good", label
    for offset in (-60.0, -30.0):  # alone, the map's rotation is not separable: not called good
        assert near_ca[offset][0].verdict != "good", near_ca[offset][0].quality.summary()
        assert _check(near_ca[offset][0], "roll_sigma").value > ROLL_LIMIT_DEG
    alone_rolls = [np.abs(errors[:, 1]).max() for _, errors in near_ca.values()]
    joint_rolls = [np.abs(errors[:, 1]).max() for _, errors in near_ca_joint.values()]
    assert max(joint_rolls) < max(alone_rolls)
    report = joint.to_dict()
    assert report["map_rotation"]["reference_map"] == MATCHED_AGAINST.name
    assert len(report["map_rotation"]["rotation_deg"]) == 3 and all(s > 0 for s in report["map_rotation"]["sigma_deg"])
    assert set(report["verdicts"].values()) == {"good"}


@pytest.mark.slow
def test_map_of_unknown_registration_is_not_good(twin, grey_reference):
    """The same mosaic with its registration declared unknown (rotation sigma 0.3 deg): the roll
    rests on the map's, so the solve is not good, for its roll sigma."""
    from dataclasses import replace

    from ioflyby.pointing.reference import UNKNOWN_REGISTRATION_SIGMA_DEG

    root, _, product = twin
    unknown = ReferenceMap(grey_reference.image, "unknown registration", georeference=replace(
        grey_reference.georeference, registration_sigma_deg=UNKNOWN_REGISTRATION_SIGMA_DEG))
    with Kernels([root / "twin.tm"]):
        solution = solve_pointing(Observation(product), prior="search", align=True, reference=unknown)
    assert solution.verdict != "good"
    assert _check(solution, "roll_sigma").verdict != "good"
    assert _check(solution, "roll_sigma").value >= UNKNOWN_REGISTRATION_SIGMA_DEG


@pytest.mark.slow
def test_reference_map_of_the_wrong_region_is_refused(twin, grey_reference):
    """The grey mosaic turned by 180 deg of longitude (the other hemisphere of Io): its patches
    do not match the images; the solve comes back refused for its tie points and cannot be
    attached for maps."""
    root, _, product = twin
    image = grey_reference.image
    wrong = ReferenceMap(np.roll(image, image.shape[1] // 2, axis=1), "wrong hemisphere")
    with Kernels([root / "twin.tm"]):
        observation = Observation(product)
        solution = solve_pointing(observation, prior="search", align=True, reference=wrong)
        with pytest.raises(PointingRefused, match="reference map"):
            observation.with_pointing(solution)
    checks = {c.name: c for c in solution.quality.checks}
    assert solution.verdict == "refused"
    assert "refused" in {checks[name].verdict for name in ("tie_points", "tie_inlier_fraction", "tie_rms")}


def test_blank_reference_map_is_refused_by_the_cli(twin, tmp_path, capsys):
    """A featureless (uniform) reference map gives no tie point: ``ioflyby pointing --basemap``
    exits 2 with one line saying refused and why, and writes no CK."""
    from PIL import Image

    import ioflyby.cli.pointing_cmd  # noqa: F401  (registers the verb)

    root, truth, _ = twin
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((180, 360, 3), 128, np.uint8)).save(blank)
    with pytest.raises(SystemExit) as exit_info:
        main(["pointing", str(root / truth["products"][0]["dir"]), "--kernels", str(root / "twin.tm"),
              "--prior", "search", "--basemap", str(blank), "--out", str(tmp_path / "out"), "--json"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2
    assert len(err) == 1 and "refused" in err[0] and "tie points" in err[0]
    assert not list(tmp_path.rglob("*.bc"))


@pytest.mark.slow
def test_cli_joint_surface_feature_solve(twin, tmp_path, capsys):
    """``ioflyby pointing P1 P2 --basemap`` solves the products jointly with the map: a CK and a
    report per product and joint_pointing.json with the map's fitted rotation; the solved pointing
    of the first product is within the Must-show of the twin's truth CK."""
    import ioflyby.cli.pointing_cmd  # noqa: F401  (registers the verb)

    root, truth, _ = twin
    out = tmp_path / "out"
    dirs = [str(root / entry["dir"]) for entry in truth["products"][:2]]
    with pytest.raises(SystemExit) as exit_info:
        main(["pointing", *dirs, "--kernels", str(root / "twin.tm"), "--prior", "search",
              "--basemap", str(MATCHED_AGAINST), "--out", str(out), "--json"])
    assert exit_info.value.code in (0, None)
    report = json.loads(capsys.readouterr().out)
    assert report["joint"]["map_rotation"]["reference_map"] == MATCHED_AGAINST.name
    assert len(report["products"]) == 2 and (out / "joint_pointing.json").exists()
    assert len(list(out.glob("*.bc"))) == 2
    assert all(p["report"]["start"].startswith("joint") for p in report["products"])
