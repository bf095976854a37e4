"""Our maps against the JunoCam team's own ``-mapprojected.png`` (convention in
``ioflyby.validate.mapprojected`` and ``docs/mapprojected.md``).

Goal (issue 6): ``ioflyby process`` with the pointing solved from the limb reproduces the team's
PNG to ≤ 1 px (phase correlation). What is achieved (measured, 2 cores):

- The team's view has **Jupiter's north up** (not celestial north): its night-side cut is a
  solar-incidence contour (89.45 deg, std 0.02 deg) with the pole up in all four colour products,
  which needs no pointing at all (``test_team_terminator_cut_...``).
- 44C00029: 1.25 px, correlation 0.56, with the roll about the line of sight from the terminator
  on the disc. 44C00030: 9.7 px. PJ43 (pole-on): 43C00078 6.3 px, 43C00080 4.5 px; 43M00081
  (METHANE, faint) not registered. xfail, strict, at 1 px.
- What the offset is made of (docs/mapprojected.md, "Remaining offset"; asserted below): the tile
  offset field is one similarity (RMS about it 0.36-1.28 px) whose shift runs along the spin scan
  (a start-time difference of -5.5, +18.3, +8.2, -8.5 ms: the team maps with the CK and the
  label's START_TIME, which the IK says jitters by ~20 ms; our spin phase comes from the limb),
  with a scale of -0.15...-0.35 % (the visible limb above the 1-bar ellipsoid, which the team's map
  puts on it) and a turn of 0.0-0.39 deg (at 44C00029 our camera alignment: 0.35 -> -0.01 deg
  without it). The team's own R and B planes sit 0.7-1.7 px off its G plane (ours 0.2-0.7 px),
  so no single shift brings every channel within 1 px. A 1 px agreement would need the team's
  timing, which the image does not give.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import spiceypy
from scipy import ndimage

from ioflyby.cli.app import main
from ioflyby.ingest import read_product
from ioflyby.spice import Kernels, utc_to_et
from ioflyby.validate.mapprojected import (
    night_cut_pixels,
    north_angle_deg,
    process_options,
    resample_geotiff,
    scan_direction,
    solar_incidence_deg,
    terminator_turn_deg,
    view_from_label,
)
from ioflyby.validate.teammap import (
    channel_offsets,
    compare_with_reference,
    fit_similarity,
    load_grey,
    offset_budget,
    offset_field,
    phase_correlation,
)

PJ44 = ("JNCE_2022229_44C00029_V01", "JNCE_2022229_44C00030_V01")
PJ43 = ("JNCE_2022186_43C00078_V01", "JNCE_2022186_43C00080_V01", "JNCE_2022186_43M00081_V01")
COLOUR = PJ44 + PJ43[:2]


def _reference(raw_products_dir, name):
    return next((raw_products_dir / name).glob("*-mapprojected.png"))


# -- the comparison itself, against known shifts and rotations --------------------------------
def test_phase_correlation_recovers_known_subpixel_shifts(raw_products_dir):
    grey, _ = load_grey(_reference(raw_products_dir, PJ44[0]))
    for shift in [(3.3, -7.6), (0.25, 0.5), (-0.4, 0.1)]:
        moved = ndimage.shift(grey, shift, order=3)  # (dy, dx)
        result = compare_with_reference(moved, grey)
        assert result["offset_px"][0] == pytest.approx(-shift[1], abs=0.05)
        assert result["offset_px"][1] == pytest.approx(-shift[0], abs=0.05)


def test_phase_correlation_of_random_field():
    rng = np.random.default_rng(1)
    field = ndimage.gaussian_filter(rng.normal(size=(256, 256)), 2.0)
    moved = np.roll(field, (5, -12), axis=(0, 1))
    dx, dy, peak = phase_correlation(field, moved)
    assert (dx, dy) == (pytest.approx(-12, abs=0.01), pytest.approx(5, abs=0.01))
    assert peak > 0.9


def test_rotation_search_finds_a_known_turn(raw_products_dir):
    grey, _ = load_grey(_reference(raw_products_dir, PJ44[0]))
    turned = ndimage.rotate(grey, -3.0, reshape=False, order=1)
    result = compare_with_reference(turned, grey, rotation_max_deg=8.0)
    assert result["rotation_deg"] == pytest.approx(3.0, abs=0.3)


def test_offset_field_similarity_recovers_a_known_turn_scale_and_shift(raw_products_dir):
    """A team PNG resampled through a known similarity (0.35 deg, -0.3 %, (1.2, -2.5) px about
    the disc centre): the tile field's fit gives it back."""
    grey, _ = load_grey(_reference(raw_products_dir, PJ44[0]))
    rows, cols = np.mgrid[0:1600, 0:1600].astype(float)
    x, y = cols - 799.5, rows - 799.5
    turn, scale, shift = np.radians(-0.35), -0.003, (1.2, -2.5)  # r > 0 turns clockwise (y down)
    dx = shift[0] + scale * x - turn * y
    dy = shift[1] + scale * y + turn * x
    ours = ndimage.map_coordinates(grey, [rows + dy, cols + dx], order=3)  # ours moved by (dx, dy) lies on grey
    fit = fit_similarity(offset_field(ours, grey))
    assert fit.translation_px == (pytest.approx(shift[0], abs=0.1), pytest.approx(shift[1], abs=0.1))
    assert fit.scale == pytest.approx(scale, abs=2e-4)
    assert fit.rotation_deg == pytest.approx(0.35, abs=0.02)
    assert fit.residual_rms_px < 0.2


def test_offset_budget_splits_along_and_across_the_scan():
    from ioflyby.validate.teammap import SimilarityFit

    fit = SimilarityFit((3.0, 4.0), 0.0, 0.0, 0.0, 5.0, 10, (799.5, 799.5))
    budget = offset_budget(fit, np.array([0.6, 0.8]), px_per_rad=2000.0, spin_rate_rad_s=0.2)
    assert budget.along_scan_px == pytest.approx(5.0) and budget.across_scan_px == pytest.approx(0.0, abs=1e-12)
    assert budget.timing_ms == pytest.approx(1e3 * 5.0 / (2000.0 * 0.2))


def test_scan_direction_scale_is_the_altitude_over_the_team_pixel(juno_2022_kernel_files, raw_products_dir):
    """At the disc centre the team's view is true to scale, so a ray turned by δ about a spin
    axis moves range·δ·|axis × line of sight| km on the surface, / (horizon / 800) px."""
    product = read_product(raw_products_dir / PJ44[0])
    with Kernels(juno_2022_kernel_files):
        view = view_from_label(product)
        et = utc_to_et(product.start_time_utc)
        position = np.asarray(spiceypy.spkpos("JUPITER", et, "J2000", "LT+S", "JUNO")[0])
        u = position / np.linalg.norm(position)
        axis = np.cross(u, [0.0, 0.0, 1.0])
        axis /= np.linalg.norm(axis)
        direction, px_per_rad = scan_direction(view, "JUPITER", et, axis)
        point = spiceypy.subpnt("INTERCEPT/ELLIPSOID", "JUPITER", et, "IAU_JUPITER", "LT+S", "JUNO")
        lat_graphic = spiceypy.recpgr("JUPITER", point[0], view.sphere_radius_km,
                                      1.0 - view.polar_radius_km / view.sphere_radius_km)[1]
    range_km = float(np.linalg.norm(point[2]))
    horizon_km = view.sphere_radius_km * np.sqrt((view.p - 1) / (view.p + 1))
    # The axis lies across the meridian, so the ray moves along it: the ellipsoid's meridional
    # radius of curvature M turns km into planetographic degrees, drawn on the sphere of radius a.
    a, c = view.sphere_radius_km, view.polar_radius_km
    e2 = 1.0 - (c / a) ** 2
    meridional_km = a * (1.0 - e2) / (1.0 - e2 * np.sin(lat_graphic) ** 2) ** 1.5
    assert px_per_rad == pytest.approx(range_km * a / meridional_km / (horizon_km / 800.0), rel=0.01)
    assert np.linalg.norm(direction) == pytest.approx(1.0)


def test_team_disc_is_the_800px_horizon_circle(raw_products_dir):
    """Independent of our maps: the lit limb in each team PNG lies on a circle of radius ≈ 800 px
    about the image centre (limb darkening puts the thresholded edge 1-3 px inside)."""
    for name in PJ43 + PJ44:
        _grey, valid = load_grey(_reference(raw_products_dir, name))
        ys, xs = np.nonzero(valid)
        radius = np.hypot(xs - 799.5, ys - 799.5)
        assert 795.0 <= np.percentile(radius, 99.99) <= 800.5, name


# -- the CLI against the team's PNGs ----------------------------------------------------------
@pytest.fixture(scope="module")
def comparisons(juno_2022_kernel_files, raw_products_dir, tmp_path_factory):
    """Per product: ``ioflyby process --projection perspective --solve-pointing`` with the team
    view's centre/altitude/scale, resampled into the team's view and compared."""
    out = {}
    for name in PJ44 + PJ43:
        folder = raw_products_dir / name
        product = read_product(folder)
        with Kernels(juno_2022_kernel_files):
            view = view_from_label(product)
            celestial = north_angle_deg("JUPITER", utc_to_et(product.start_time_utc))
        settings = process_options(view)
        target = tmp_path_factory.mktemp(name)
        args = ["process", str(folder), "--out", str(target), "--projection", "perspective", "--solve-pointing",
                "--pointing-prior", "search", "--lat", repr(settings["lat"]), "--lon", repr(settings["lon"]),
                "--altitude-km", repr(settings["altitude_km"]), "--resolution-km", repr(settings["resolution_km"]),
                "--json"]
        for path in juno_2022_kernel_files:
            args += ["--kernels", str(path)]
        with pytest.raises(SystemExit) as exit_info:
            main(args)
        assert exit_info.value.code in (0, None)
        ours = resample_geotiff(_written_map(target), view)
        team = _team_image(raw_products_dir, name)
        comparison = compare_with_reference(ours, team, rotation_max_deg=5.0)
        comparison["celestial_north_deg"] = celestial
        out[name] = comparison
        if name not in COLOUR:
            continue  # METHANE: not registered (see docstring)
        record = _pointing_record(_written_map(target))
        comparison["limb_offset_px"] = record["limb_offset_px"]
        with Kernels(juno_2022_kernel_files):
            comparison["disc_radius_px"] = _disc_radius_px(product)
        comparison["budget"] = _budget(ours, team, juno_2022_kernel_files, view, product, _written_map(target))
        comparison["channels"] = channel_offsets(ours, team)
        print(f"\n{name}: offset ({comparison['offset_px'][0]:.2f}, {comparison['offset_px'][1]:.2f}) px, "
              f"|offset| {comparison['offset_norm_px']:.2f} px, correlation {comparison['correlation']:.3f}, "
              f"rotation {comparison['rotation_deg']:.2f} deg")
    return out


def _team_image(raw_products_dir, name):
    from PIL import Image

    with Image.open(_reference(raw_products_dir, name)) as im:
        return np.asarray(im)


def _pointing_record(tif):
    """The pointing the process verb solved, read back from the GeoTIFF's PROCESSING tag."""
    import json

    import rasterio

    with rasterio.open(tif) as src:
        return json.loads(src.tags()["PROCESSING"])["pointing"][0]


def _disc_radius_px(product):
    """Jupiter's apparent equatorial radius (JunoCam pixels, IK IFOV) at the product's start."""
    from ioflyby.camera import junocam_scale

    position = spiceypy.spkpos("JUPITER", utc_to_et(product.start_time_utc), "J2000", "LT+S", "JUNO")[0]
    radius = spiceypy.bodvrd("JUPITER", "RADII", 3)[1][0]
    return float(np.arcsin(radius / np.linalg.norm(position)) / junocam_scale().ifov_rad)


def _budget(ours, team, kernel_files, view, product, tif):
    """The offset field's similarity, its translation split along/across the scan of the
    pointing the process verb solved."""
    record = _pointing_record(tif)
    ra, dec = np.radians(record["spin_axis_ra_deg"]), np.radians(record["spin_axis_dec_deg"])
    axis = np.array([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])
    with Kernels(kernel_files):
        scan, px_per_rad = scan_direction(view, "JUPITER", utc_to_et(product.start_time_utc), axis)
    rate = record["spin_rate_rpm"] * 2.0 * np.pi / 60.0
    return offset_budget(fit_similarity(offset_field(ours, team)), scan, px_per_rad, rate)


def _written_map(folder):
    """The GeoTIFF the process verb wrote into ``folder``."""
    return str(next(folder.glob("*_perspective.tif")))


@pytest.mark.parametrize("name", PJ44 + PJ43[:2])
def test_team_terminator_cut_is_an_incidence_contour_with_jupiter_north_up(juno_2022_kernel_files, raw_products_dir, name):
    """Independent of any pointing: the team's sharp cut on the night side is a contour of solar
    incidence (Sun from SPICE) exactly when the view has Jupiter's north up, and is not one with
    celestial north up (turn by the pole's position angle, -4.4 deg PJ44, -60 deg PJ43)."""
    product = read_product(raw_products_dir / name)
    with Kernels(juno_2022_kernel_files):
        view = view_from_label(product)
        et = utc_to_et(product.start_time_utc)
        _, light_time = spiceypy.spkpos("JUPITER", et, "J2000", "LT+S", "JUNO")
        sun = np.asarray(spiceypy.spkpos("SUN", et - light_time, "IAU_JUPITER", "LT+S", "JUPITER")[0])
        celestial = north_angle_deg("JUPITER", et)
    _grey, valid = load_grey(_reference(raw_products_dir, name))
    valid = ndimage.binary_opening(valid, iterations=3)
    ys, xs = np.nonzero(valid & ~ndimage.binary_erosion(valid))
    inside = np.hypot(xs - 799.5, ys - 799.5) < 780.0  # leave out the limb
    cols, rows = xs[inside].astype(float), ys[inside].astype(float)
    pole_up = solar_incidence_deg(view, cols, rows, sun)
    assert view.north_angle_deg == 0.0
    assert np.nanstd(pole_up) < 0.1 and 89.0 < np.nanmedian(pole_up) < 90.0  # measured 0.02, 89.45
    celestial_up = solar_incidence_deg(dataclasses.replace(view, north_angle_deg=celestial), cols, rows, sun)
    assert np.nanstd(celestial_up) > 10 * np.nanstd(pole_up)
    turn, _incidence, _spread = terminator_turn_deg(view, *night_cut_pixels(load_grey(_reference(raw_products_dir, name))[1]), sun)
    assert abs(turn) <= 0.2  # measured -0.10 ... +0.05


def test_pj44_jet_n3_reproduces_the_team_map(comparisons):
    """44C00029 registers to the team's map within 1.5 px (measured 1.25 px), with the features
    not turned (|rotation| <= 0.5 deg; measured 0.08). Correlation of the band-passed images
    0.56: the two photometries differ (the team flattens the illumination, we do not)."""
    c = comparisons["JNCE_2022229_44C00029_V01"]
    assert c["offset_norm_px"] <= 1.5
    assert abs(c["rotation_deg"]) <= 0.5
    assert c["correlation"] >= 0.5


@pytest.mark.xfail(strict=True, reason="1.25 px: the team's timing (-5.5 ms along the scan), a 0.35 deg turn "
                   "(our camera alignment) and a -0.35 % scale (limb altitude), see docs/mapprojected.md")
def test_pj44_jet_n3_within_one_pixel(comparisons):
    assert comparisons["JNCE_2022229_44C00029_V01"]["offset_norm_px"] <= 1.0


@pytest.mark.xfail(strict=True, reason="9.7 px: the team's map sits 7.8 px along the scan (18 ms of its start "
                   "time), see docs/mapprojected.md")
def test_pj44_second_product_within_one_pixel(comparisons):
    c = comparisons["JNCE_2022229_44C00030_V01"]
    assert c["offset_norm_px"] <= 1.0 and c["correlation"] >= 0.5


@pytest.mark.parametrize("name", PJ43[:2])
def test_pj43_colour_products_register_and_are_not_turned(comparisons, name):
    """Pole-on PJ43 colour products: within 8 px and 1.5 deg of the team's map (measured 6.3 and
    4.5 px, 0.8 and -0.2 deg)."""
    c = comparisons[name]
    assert c["offset_norm_px"] <= 8.0
    assert abs(c["rotation_deg"]) <= 1.5


@pytest.mark.parametrize("name", COLOUR)
def test_remaining_offset_is_a_similarity_with_its_shift_along_the_scan(comparisons, name):
    """What is left is not noise: the tile offset field is one similarity (RMS about it <= 1.5
    px; measured 0.36-0.40 PJ44, 0.76-1.28 PJ43) whose shift at the disc centre runs along the
    spin scan (across <= 1.5 px; measured 0.2-1.0, along 2.6-7.8) and is a start-time difference within the IK's
    ~20 ms START_TIME jitter (measured -5.5, +18, +8, -8.5 ms): the team maps with the CK and the
    label's time, our spin phase comes from the limb (docs/mapprojected.md, Remaining offset)."""
    budget = comparisons[name]["budget"]
    assert budget.fit.residual_rms_px <= 1.5
    assert abs(budget.across_scan_px) <= 1.5 < abs(budget.along_scan_px)
    assert abs(budget.timing_ms) <= 25.0


@pytest.mark.parametrize("name", COLOUR)
def test_scale_term_is_the_limb_offset(comparisons, name):
    """The field's scale (ours must shrink 0.15-0.35 %) is the fitted limb offset over the disc
    radius (the visible limb 0.4-1.5 px above the 1-bar ellipsoid, 0.12-0.26 %): the team's map
    has the visible limb on the ellipsoid. Within 0.15 % (measured differences 0.01-0.11 %)."""
    c = comparisons[name]
    limb = c["limb_offset_px"] / c["disc_radius_px"]
    assert c["budget"].fit.scale < 0.0
    assert c["budget"].fit.scale == pytest.approx(-abs(limb), abs=0.0015)


@pytest.mark.parametrize("name", COLOUR)
def test_team_colour_planes_are_misregistered_more_than_ours(comparisons, name):
    """The team's R and B planes sit 0.7-1.7 px off its G plane, ours 0.2-0.7 px (same scene,
    same colours, so the colour dependence of features cannot make the difference); summed over
    R and B the team's exceed ours by 1.1-2.0 px."""
    channels = comparisons[name]["channels"]
    team = [np.hypot(*channels[f"reference_{key}"]) for key in ("RED_vs_GREEN", "BLUE_vs_GREEN")]
    ours = [np.hypot(*channels[f"ours_{key}"]) for key in ("RED_vs_GREEN", "BLUE_vs_GREEN")]
    assert min(team) >= 0.65 and max(ours) <= 0.75, (team, ours)
    assert sum(team) >= sum(ours) + 0.9, (team, ours)


@pytest.mark.xfail(strict=True, reason="PJ43: 6.3 / 4.5 px along the scan (team timing +8.2 / -8.5 ms); METHANE "
                   "unregistered; see docs/mapprojected.md")
@pytest.mark.parametrize("name", PJ43)
def test_pj43_within_one_pixel(comparisons, name):
    c = comparisons[name]
    assert c["offset_norm_px"] <= 1.0 and c["correlation"] >= 0.5
