"""The notebook API (``ioflyby.Observation``) against independent paths: SPICE ``sincpt`` through
the CK that a pointing solve wrote (real PJ44 product), and the twin's own truth pixels; its
inverse ``lonlat_to_pixel`` against its forward mapping; conventions a user relies on."""

from __future__ import annotations

import numpy as np
import pytest
import spiceypy

import ioflyby as io
from ioflyby.errors import GeometryError, MissingAttitudeError
from ioflyby.pointing import write_outputs
from ioflyby.simulate import PlannedImage, TwinOptions

PJ44 = "JNCE_2022229_44C00029_V01"


@pytest.fixture(scope="module")
def pj44(juno_2022_kernel_files, raw_products_dir, tmp_path_factory):
    """The real PJ44 product, its pointing solved from the limb (no CK exists) and written as a CK."""
    product = io.read_product(raw_products_dir / PJ44)
    out = tmp_path_factory.mktemp("pj44")
    with io.Kernels(juno_2022_kernel_files):
        bare = io.Observation(product)
        solution = io.solve_pointing(bare, prior="search")
        observation = bare.with_pointing(solution)
        written = write_outputs(solution, out)
    return bare, observation, written


def _pixels_on_disc(observation, rng, per_framelet=40, framelets=12):
    """(filter, exposure, sample, line) of random pixels on the target in ``framelets`` random
    framelets that see it."""
    chosen, used = [], 0
    for exposure in rng.permutation(observation.product.n_exposures):
        for name in observation.product.filters:
            lat, _ = observation.pixel_to_lonlat(name, int(exposure))
            lines, samples = np.nonzero(np.isfinite(lat))
            if lines.size == 0 or used == framelets:
                continue
            pick = rng.choice(lines.size, min(per_framelet, lines.size), replace=False)
            chosen += [(name, int(exposure), float(samples[i]), float(lines[i])) for i in pick]
            used += 1
    return chosen


def test_pixel_to_lonlat_matches_sincpt_through_the_written_ck(pj44, juno_2022_kernel_files):
    bare, observation, written = pj44
    rng = np.random.default_rng(44)
    pixels = _pixels_on_disc(observation, rng)
    assert len(pixels) >= 300
    kernels = list(juno_2022_kernel_files) + [written.ck] + ([written.sclk] if written.sclk else [])
    errors_px = []
    with io.Kernels(kernels):
        frame = observation.body.frame
        for name, exposure, sample, line in pixels:
            planes = observation.backplanes(name, exposure, np.array([sample]), np.array([line]))
            et = float(observation.framelet_ets[exposure, observation.product.filters.index(name)])
            ray = observation.camera.pixel_to_ray(name, sample, line)
            with spiceypy.no_found_check():
                spoint, _, srfvec, found = spiceypy.sincpt(
                    "Ellipsoid", observation.body.name, et, frame, "LT+S", "JUNO", "JUNO_JUNOCAM", ray)
            assert found, f"sincpt misses {name} exposure {exposure} pixel ({sample}, {line})"
            # The separation of the two surface points across the line of sight, in pixels.
            difference = planes.points_km[0] - np.asarray(spoint)
            sight = np.asarray(srfvec) / np.linalg.norm(srfvec)
            across = difference - (difference @ sight) * sight
            errors_px.append(np.linalg.norm(across) / planes.range_km[0] * observation.camera.filter(name).focal_length_px)
            lat_deg, lon_deg = observation.pixel_to_lonlat(name, exposure, np.array([sample]), np.array([line]))
            _, lon, lat = spiceypy.reclat(spoint)
            assert abs(lat_deg[0] - np.degrees(lat)) < 0.05  # deg; the pixel comparison is the tight one
            assert abs((lon_deg[0] - np.degrees(lon) + 180.0) % 360.0 - 180.0) < 0.05
    errors_px = np.array(errors_px)
    print(f"{errors_px.size} pixels vs sincpt: median {np.median(errors_px):.2e}, max {errors_px.max():.2e} px")
    assert errors_px.max() <= 0.01


def test_without_a_ck_the_poses_ask_for_a_pointing_solve(pj44):
    bare, observation, _ = pj44
    assert not bare.has_poses and observation.has_poses
    with pytest.raises(MissingAttitudeError, match="solve the pointing"):
        bare.pixel_to_lonlat("RED", 3)


@pytest.fixture(scope="module")
def twin_observation(tmp_path_factory):
    twin = io.build_twin("pj57", tmp_path_factory.mktemp("twin") / "pj57",
                         TwinOptions(images=(PlannedImage(-240.0),), truth_pixels=300))
    with io.Kernels(twin.truth_metakernel):
        observation = io.Observation(io.read_product(twin.products[0]))
    return twin, observation


def test_lonlat_to_pixel_inverts_pixel_to_lonlat(twin_observation):
    _, observation = twin_observation
    rng = np.random.default_rng(57)
    pixels = _pixels_on_disc(observation, rng, per_framelet=25)
    lonlat = [observation.pixel_to_lonlat(n, e, np.array([s]), np.array([l])) for n, e, s, l in pixels]
    hits = observation.lonlat_to_pixel([lat[0] for lat, _ in lonlat], [lon[0] for _, lon in lonlat])
    errors = []
    for index, (name, exposure, sample, line) in enumerate(pixels):
        mine = (hits.point == index) & (hits.exposure == exposure) & (hits.filter == name)
        assert mine.sum() == 1
        errors.append(np.hypot(hits.sample[mine][0] - sample, hits.line[mine][0] - line))
    assert len(errors) >= 200 and max(errors) <= 0.01
    # Points are also found in the neighbouring framelets that overlap them, never behind the disc.
    assert len(hits) > len(pixels) and np.all(hits.emission_deg < 90.0)


def test_pixel_to_lonlat_recovers_the_twin_truth_pixels(twin_observation):
    twin, observation = twin_observation
    pixels = twin.truth["products"][0]["pixels"]
    assert len(pixels) >= 100
    for p in pixels:
        lat, lon = observation.pixel_to_lonlat(p["filter"], p["exposure"], np.array([p["sample"]]),
                                               np.array([p["line"]]))
        assert lat[0] == pytest.approx(p["lat_deg"], abs=1e-6)
        assert lon[0] == pytest.approx(p["lon_east_deg"], abs=1e-6)


def test_conventions_a_notebook_relies_on(twin_observation):
    _, observation = twin_observation
    name, exposure, *_ = _pixels_on_disc(observation, np.random.default_rng(1), per_framelet=1, framelets=1)[0]
    lat, lon = observation.pixel_to_lonlat(name, exposure)
    assert lat.shape == lon.shape == (128, 1648)
    assert not lat.flags.writeable and not lon.flags.writeable
    assert np.nanmin(lon) >= 0.0 and np.nanmax(lon) < 360.0
    planes = observation.backplanes(name, exposure)
    assert not planes.incidence.flags.writeable and not planes.points_km.flags.writeable
    on = np.isfinite(planes.lat)
    assert np.allclose(planes.lat_deg[on], lat[on]) and np.all(planes.emission_deg[on] < 90.0)
    sub = observation.sub_observer
    assert -90.0 <= sub.lat <= 90.0 and 0.0 <= sub.lon < 360.0 and sub.distance_km > 1821.0
    with pytest.raises(GeometryError, match="filters are"):
        observation.pixel_to_lonlat("METHANE", 0)
    with pytest.raises(GeometryError, match="outside"):
        observation.pixel_to_lonlat("GREEN", observation.product.n_exposures)
