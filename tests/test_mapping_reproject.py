"""Reprojection against analytic truth: a spinning JunoCam-like camera flies past a rotating Io
(``tests/synthetic_mapping.py``); framelets are rendered through the *geometry* package's
forward mapping (tested against SPICE ``sincpt``), and the map is compared with where PROJ puts
the known surface features."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rasterio.warp import transform

from ioflyby.geometry import latlon_to_surface
from ioflyby.mapping import kernel
from ioflyby.mapping.crs import body_crs
from ioflyby.mapping.grid import equirectangular_grid, orthographic_grid
from ioflyby.mapping.mosaic import mosaic
from ioflyby.mapping.reproject import Framelets, pack_camera, reproject
from synthetic_mapping import (
    IO_RADII_KM,
    SyntheticFlyby,
    ik_like_camera,
    pattern_albedo,
    render_framelets,
    spot_albedo,
)

FILTERS = ("BLUE", "GREEN", "RED")
SPOT_SIGMA_KM = 12.0


@pytest.fixture(scope="module")
def scene():
    camera = ik_like_camera()
    flyby = SyntheticFlyby()
    poses = flyby.poses(camera, FILTERS)
    body = body_crs(501, "IO")
    observer = flyby.pose(0.0).observer_km
    sub_lat = math.degrees(math.asin(observer[2] / np.linalg.norm(observer)))
    sub_lon = math.degrees(math.atan2(observer[1], observer[0]))
    return camera, flyby, poses, body, sub_lat, sub_lon


def _framelets(flyby, poses, images):
    return Framelets(images.reshape(-1, 128, 1648), np.tile(np.arange(3), flyby.n_exposures), FILTERS, poses,
                     list(FILTERS) * flyby.n_exposures)


def test_kernel_matches_geometry_package(scene):
    camera, flyby, poses, *_ = scene
    rng = np.random.default_rng(3)
    lat = rng.uniform(-1.2, 1.2, 500)
    lon = rng.uniform(-math.pi, math.pi, 500)
    points = latlon_to_surface(lat, lon, IO_RADII_KM)
    for index in (0, 17, 30):
        pose, name = poses[index], FILTERS[index % 3]
        ours = kernel.points_to_pixels(pose.packed(float(pose.et))[0], pack_camera(camera, name), points)
        sample, line = camera.ray_to_pixel(name, pose.surface_to_rays(points))
        front = np.isfinite(sample)
        assert np.array_equal(front, np.isfinite(ours[:, 0]))
        assert np.max(np.hypot(ours[front, 0] - sample[front], ours[front, 1] - line[front])) < 1e-6


@pytest.fixture(scope="module")
def spots(scene):
    camera, flyby, poses, body, sub_lat, sub_lon = scene
    # Spots on a lat/lon lattice around the sub-spacecraft point (some fall outside the images).
    lat = np.radians(np.repeat(np.arange(-50, 51, 12.5), 9))
    lon = np.radians(np.tile(sub_lon + np.arange(-56, 57, 14), 9))
    images = render_framelets(flyby, camera, FILTERS, spot_albedo(lat, lon, SPOT_SIGMA_KM, 1821.49), lambert=False)
    grid = orthographic_grid(body, sub_lat, sub_lon, resolution_km=4.0)
    result = reproject(_framelets(flyby, poses, images), camera, IO_RADII_KM, grid)
    return grid, lat, lon, result


def _centroids(grid, lat, lon, values, half=9):
    """Expected cell (from PROJ) and measured intensity centroid of each spot."""
    x, y = transform("IAU_2015:50100", grid.crs, np.degrees(lon), np.degrees(lat))
    col, row = grid.xy_to_cell(np.array(x), np.array(y))
    found = []
    for c, r in zip(col, row):
        ci, ri = int(round(c)), int(round(r))
        if not (half <= ci < grid.width - half and half <= ri < grid.height - half):
            continue
        window = values[ri - half : ri + half + 1, ci - half : ci + half + 1]
        if not np.all(np.isfinite(window)) or window.max() < 0.5:
            continue
        rr, cc = np.mgrid[ri - half : ri + half + 1, ci - half : ci + half + 1]
        found.append((c, r, (window * cc).sum() / window.sum(), (window * rr).sum() / window.sum()))
    return np.array(found)


def test_geometric_accuracy_against_proj(spots):
    grid, lat, lon, result = spots
    offsets = {}
    for name in FILTERS:
        found = _centroids(grid, lat, lon, result.channels[name])
        assert len(found) >= 25, f"only {len(found)} spots measurable in {name}"
        error = np.hypot(found[:, 2] - found[:, 0], found[:, 3] - found[:, 1])
        assert np.median(error) <= 0.1 and np.percentile(error, 99) <= 0.5, (name, np.median(error), error.max())
        offsets[name] = (found[:, 2:] - found[:, :2]).mean(axis=0)
    for a in FILTERS:
        for b in FILTERS:
            assert np.hypot(*(offsets[a] - offsets[b])) <= 0.3


def test_reconstruction_correlates_with_albedo(scene):
    camera, flyby, poses, body, sub_lat, sub_lon = scene
    images = render_framelets(flyby, camera, FILTERS, pattern_albedo, lambert=True)
    grid = equirectangular_grid(body, (-70.0, 70.0), (sub_lon - 80.0, sub_lon + 80.0), resolution_km=8.0)
    result = reproject(_framelets(flyby, poses, images), camera, IO_RADII_KM, grid, photometry="lambert")
    lat, lon = grid.latlon()
    # Lit and seen well: within a few pixels of the limb, bilinear sampling mixes in the sky.
    lit = result.coverage & (result.backplanes["incidence"] < 80.0) & (result.backplanes["emission"] < 80.0)
    assert lit.sum() > 20000
    for k, name in enumerate(FILTERS):
        truth = pattern_albedo(lat, lon, k)
        values = result.channels[name]
        assert np.corrcoef(values[lit], truth[lit])[0, 1] >= 0.99
        assert np.median(np.abs(values[lit] / truth[lit] - 1.0)) < 0.01  # Lambert undone exactly


@pytest.mark.parametrize("model,k", [("lommel-seeliger", None), ("minnaert", 0.7)])
def test_photometric_corrections_recover_flat_albedo(scene, model, k):
    camera, flyby, poses, body, sub_lat, sub_lon = scene
    if model == "minnaert":
        law = lambda ci, ce: ci**k * np.clip(ce, 1e-6, None) ** (k - 1)  # noqa: E731
    else:
        law = lambda ci, ce: 2 * ci / (ci + ce)  # noqa: E731
    images = render_framelets(flyby, camera, FILTERS, lambda la, lo, _k: np.full(la.shape, 0.6), photometric=law)
    grid = orthographic_grid(body, sub_lat, sub_lon, resolution_km=15.0)
    result = reproject(_framelets(flyby, poses, images), camera, IO_RADII_KM, grid, photometry=model, minnaert_k=k or 0.7)
    lit = result.coverage & (result.backplanes["incidence"] < 75.0) & (result.backplanes["emission"] < 75.0)
    values = result.channels["GREEN"][lit]
    assert lit.sum() > 2000
    assert np.percentile(np.abs(values - 0.6), 95) < 0.006


def test_backplanes_match_analytic_geometry(spots, scene):
    grid, _, _, result = spots
    _, flyby, *_ = scene
    planes = result.backplanes
    ok = result.coverage
    lat, lon = np.radians(planes["lat"][ok]), np.radians(planes["lon_east"][ok])
    points = latlon_to_surface(lat, lon, IO_RADII_KM)
    mid = flyby.pose(0.0)
    normal = points / IO_RADII_KM**2
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    cos_i = normal @ mid.sun_direction
    assert np.allclose(np.degrees(np.arccos(cos_i)), planes["incidence"][ok], atol=0.05)
    to_sc = mid.observer_km - points
    distance = np.linalg.norm(to_sc, axis=-1)
    cos_e = np.einsum("ij,ij->i", normal, to_sc) / distance
    # The spacecraft moves ~35 km during the image: emission from the mid-image position agrees
    # to a fraction of a degree, range to well under 1%.
    assert np.median(np.abs(np.degrees(np.arccos(cos_e)) - planes["emission"][ok])) < 0.3
    ifov = 0.0074 / 10.95637
    assert np.median(np.abs(planes["km_per_px"][ok] / (distance * ifov) - 1)) < 0.01
    assert np.all(np.abs(planes["time"][ok] - flyby.et0) < flyby.n_exposures * flyby.interframe_delay_s)



def test_incidence_only_without_backplanes(spots, scene):
    """The lean path (``backplanes=False``, as ``process`` uses) keeps the same channels and an
    incidence plane that matches the analytic geometry."""
    grid, _, _, full = spots
    camera, flyby, poses, *_ = scene
    images = render_framelets(flyby, camera, FILTERS, spot_albedo(np.radians([0.0]), np.radians([0.0]), SPOT_SIGMA_KM, 1821.49),
                              lambert=False)
    lean = reproject(_framelets(flyby, poses, images), camera, IO_RADII_KM, grid, backplanes=False)
    assert set(lean.backplanes) == {"incidence"}
    assert np.array_equal(lean.coverage, full.coverage)
    lat, lon = grid.latlon()
    ok = lean.coverage
    points = latlon_to_surface(lat[ok], lon[ok], IO_RADII_KM)
    normal = points / IO_RADII_KM**2
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    cos_i = normal @ flyby.pose(0.0).sun_direction
    assert np.allclose(np.degrees(np.arccos(cos_i)), lean.backplanes["incidence"][ok], atol=0.05)
    assert np.all(np.isnan(lean.backplanes["incidence"][~ok]))
    for name in FILTERS:
        assert np.array_equal(np.isfinite(lean.channels[name]), np.isfinite(full.channels[name]))

def test_overlap_by_best_emission_and_mosaic_brightness_matching(scene):
    camera, flyby, poses, body, sub_lat, sub_lon = scene
    images = render_framelets(flyby, camera, FILTERS, pattern_albedo, lambert=False)
    grid = orthographic_grid(body, sub_lat, sub_lon, resolution_km=12.0)
    lat, lon = grid.latlon()
    first = reproject(_framelets(flyby, poses, images), camera, IO_RADII_KM, grid, overlap="emission")
    ok = np.isfinite(first.channels["RED"]) & (first.backplanes["emission"] < 80.0)
    assert np.corrcoef(first.channels["RED"][ok], pattern_albedo(lat, lon, 2)[ok])[0, 1] > 0.995
    second = reproject(_framelets(flyby, poses, images * 1.7), camera, IO_RADII_KM, grid)
    blended = mosaic([first, second], feather_cells=4)
    gains = blended.meta["gains"][1]
    assert all(abs(g * 1.7 - 1.0) < 0.01 for g in gains.values())
    assert np.nanmedian(np.abs(blended.channels["RED"][ok] / first.channels["RED"][ok] - 1)) < 0.01
