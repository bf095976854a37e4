"""Geometry against independent SPICE computations (sincpt, illumf) on the real PJ1 kernels,
and against analytic cases."""

from __future__ import annotations

import numpy as np
import pytest
import spiceypy

from ioflyby.camera import JunoCam
from ioflyby.geometry import (
    FrameletPoses,
    framelet_backplanes,
    intersect_ellipsoid,
    latlon_to_surface,
    limb_distance,
    planetocentric_latlon,
    target_radii,
)
from ioflyby.spice import Kernels

PJ1_START_UTC = "2016-08-27T09:00:04.129"


@pytest.fixture(scope="module")
def pj1(pj1_kernel_files):
    with Kernels(pj1_kernel_files):
        yield JunoCam.from_kernel_pool()


def test_intercepts_match_sincpt(pj1):
    camera = pj1
    et = spiceypy.str2et(PJ1_START_UTC) + 3.0  # Jupiter in the METHANE band
    pose = FrameletPoses.from_spice("JUPITER", [et])[0]
    radii = target_radii("JUPITER")
    lines, samples = np.mgrid[0:128:16, 23:1631:100].astype(float)
    cam_rays = camera.pixel_to_ray("METHANE", samples, lines)
    points = pose.rays_to_surface(cam_rays, radii)
    checked = 0
    for index in np.ndindex(samples.shape):
        with spiceypy.no_found_check():
            spoint, _, _, found = spiceypy.sincpt(
                "Ellipsoid", "JUPITER", et, "IAU_JUPITER", "LT+S", "JUNO", "JUNO_JUNOCAM", cam_rays[index]
            )
        assert found == np.isfinite(points[index][0])
        if found:
            checked += 1
            # Compare in pixels: project SPICE's point back through our inverse mapping. The km
            # difference grows without bound towards the limb while the pixel one does not.
            back_sample, back_line = camera.ray_to_pixel("METHANE", pose.surface_to_rays(spoint))
            assert np.hypot(back_sample - samples[index], back_line - lines[index]) < 0.01
            assert np.linalg.norm(points[index] - spoint) < 0.05  # km, at ~400,000 km range
    assert checked > 20


def test_backplanes_match_spice_illumination(pj1):
    camera = pj1
    et = spiceypy.str2et(PJ1_START_UTC) + 3.0  # Jupiter in the METHANE band
    pose = FrameletPoses.from_spice("JUPITER", [et])[0]
    radii = target_radii("JUPITER")
    sample, line = np.array([1000.0]), np.array([64.0])
    planes = framelet_backplanes(camera, "METHANE", pose, radii, sample, line)
    ray = camera.pixel_to_ray("METHANE", sample, line)[0]
    spoint, trgepc, _ = spiceypy.sincpt(
        "Ellipsoid", "JUPITER", et, "IAU_JUPITER", "LT+S", "JUNO", "JUNO_JUNOCAM", ray
    )
    _, _, phase, incidence, emission, _, _ = spiceypy.illumf(
        "Ellipsoid", "JUPITER", "SUN", et, "IAU_JUPITER", "LT+S", "JUNO", spoint
    )
    # illumf uses aberration-corrected (apparent) vectors from the point; ours geometric ones:
    # they differ by ~v/c ≈ 1e-4 rad at most.
    assert np.degrees(abs(planes.phase[0] - phase)) < 5e-3
    assert np.degrees(abs(planes.incidence[0] - incidence)) < 5e-3
    assert np.degrees(abs(planes.emission[0] - emission)) < 5e-3
    radius, lon, lat = spiceypy.reclat(spoint)
    assert np.degrees(abs(planes.lat[0] - lat)) < 1e-5 and np.degrees(abs(planes.lon_east[0] - lon)) < 1e-5


def test_sphere_intercept_analytic():
    radii = np.array([10.0, 10.0, 10.0])
    origin = np.array([0.0, 0.0, 30.0])
    directions = np.array([[0, 0, -1.0], [0, 1.0, 0], [np.sin(0.1), 0, -np.cos(0.1)]])
    points = intersect_ellipsoid(origin, directions, radii)
    assert np.allclose(points[0], [0, 0, 10])
    assert np.isnan(points[1]).all()
    # Law of cosines: |o + t d| = 10 with |o| = 30 and angle 0.1 rad.
    t = 30 * np.cos(0.1) - np.sqrt(100 - (30 * np.sin(0.1)) ** 2)
    assert np.allclose(points[2], origin + t * directions[2])


def test_limb_distance_sign_and_zero_on_tangent():
    radii = np.array([10.0, 10.0, 10.0])
    origin = np.array([0.0, 0.0, 20.0])
    tangent = np.arcsin(0.5)  # apparent radius from distance 20
    angles = np.array([tangent - 0.01, tangent, tangent + 0.01])
    rays = np.stack([np.sin(angles), np.zeros(3), -np.cos(angles)], axis=-1)
    distance = limb_distance(origin, rays, radii)
    assert np.allclose(distance, [0.01, 0.0, -0.01], atol=1e-12)


def test_latlon_round_trip_on_io_ellipsoid():
    radii = np.array([1829.4, 1819.4, 1815.7])
    lat = np.radians(np.array([-80.0, -13.0, 0.0, 45.0, 89.0]))
    lon = np.radians(np.array([-170.0, -20.0, 0.0, 90.0, 179.0]))
    points = latlon_to_surface(lat, lon, radii)
    assert np.allclose(np.sum((points / radii) ** 2, axis=-1), 1.0)
    back_lat, back_lon = planetocentric_latlon(points)
    assert np.allclose(back_lat, lat) and np.allclose(back_lon, lon)
