"""Our maps against the JunoCam team's own ``-mapprojected.png`` (convention in
``ioflyby.validate.mapprojected`` and ``docs/mapprojected.md``).

Goal (issue 6): ``ioflyby process`` with the pointing solved from the limb reproduces the team's
PNG to ≤ 1 px (phase correlation). What is achieved (measured, 2 cores):

- The team's view has **Jupiter's north up** (not celestial north): its night-side cut is a
  solar-incidence contour (89.45 deg, std 0.02 deg) with the pole up in all four colour products,
  which needs no pointing at all (``test_team_terminator_cut_...``).
- 44C00029: 1.25 px, correlation 0.56, rotation 0.08 deg, with the roll about the line of sight
  from the terminator on the disc. (With the limb's own roll, from Jupiter's flattening, the
  team's features lay turned +4.2 deg from ours and the offset was 33 px.) xfail, strict, at 1 px.
- 44C00030: 9.7 px, rotation 1.2 deg: the team's map is centred 0.55 deg (~10 px) from its own
  label sub-spacecraft point (docs/mapprojected.md). xfail, strict.
- PJ43 (pole-on): 43C00078 6.3 px, 43C00080 4.5 px (rotations 0.8/-0.2 deg); 43M00081
  (METHANE, faint) not registered. xfail, strict, at 1 px.
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
    solar_incidence_deg,
    terminator_turn_deg,
    view_from_label,
)
from ioflyby.validate.teammap import (
    compare_with_reference,
    load_grey,
    phase_correlation,
)

PJ44 = ("JNCE_2022229_44C00029_V01", "JNCE_2022229_44C00030_V01")
PJ43 = ("JNCE_2022186_43C00078_V01", "JNCE_2022186_43C00080_V01", "JNCE_2022186_43M00081_V01")


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
        comparison = compare_with_reference(ours, _reference(raw_products_dir, name), rotation_max_deg=5.0)
        comparison["celestial_north_deg"] = celestial
        out[name] = comparison
        print(f"\n{name}: offset ({comparison['offset_px'][0]:.2f}, {comparison['offset_px'][1]:.2f}) px, "
              f"|offset| {comparison['offset_norm_px']:.2f} px, correlation {comparison['correlation']:.3f}, "
              f"rotation {comparison['rotation_deg']:.2f} deg")
    return out


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


@pytest.mark.xfail(strict=True, reason="1.25 px: within the team's own pointing errors (see docstring)")
def test_pj44_jet_n3_within_one_pixel(comparisons):
    assert comparisons["JNCE_2022229_44C00029_V01"]["offset_norm_px"] <= 1.0


@pytest.mark.xfail(strict=True, reason="team map centred 0.55 deg from its label sub-spacecraft point (see docstring)")
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


@pytest.mark.xfail(strict=True, reason="PJ43 pole-on: 4.5-6.3 px and METHANE unregistered (see docstring)")
@pytest.mark.parametrize("name", PJ43)
def test_pj43_within_one_pixel(comparisons, name):
    c = comparisons[name]
    assert c["offset_norm_px"] <= 1.0 and c["correlation"] >= 0.5
