"""Map cells at the limb against the digital twin's truth: no sky enters a bilinear sample.

The twin (PJ57, one 30-exposure image 240 s before C/A) is rendered from a uniform basemap, so
the truth of a cell is known exactly (the renderer's dark level + albedo · μ₀ · its DN per unit
I/F) and nothing but the sampling can change a limb cell's brightness. Without the on-target test
bilinear samples near the limb mix in the dark sky; with it they do not.
"""

from __future__ import annotations

import numpy as np
import pytest
import spiceypy
from PIL import Image

from ioflyby import simulate
from ioflyby.geometry import latlon_to_surface, surface_normals
from ioflyby.ingest import read_product
from ioflyby.mapping import kernel
from ioflyby.mapping import reproject as reproject_module
from ioflyby.mapping.crs import body_crs
from ioflyby.mapping.grid import equirectangular_grid
from ioflyby.mapping.reproject import pack_camera
from ioflyby.observation import Observation
from ioflyby.simulate.render import REFERENCE_SUN_DISTANCE_KM, RESPONSIVITY_DN, NoiseModel
from ioflyby.spice import Kernels

GREY = 170  # uniform basemap level (0-255)
CELL_KM = 6.0
LIMB_EMISSION_DEG = (85.0, 90.0)
MIN_COS_INCIDENCE = 0.3  # lit well above the dark level


@pytest.fixture(scope="module")
def flat_twin(tmp_path_factory):
    folder = tmp_path_factory.mktemp("limb")
    basemap = folder / "uniform.png"
    Image.new("L", (720, 360), GREY).save(basemap)
    options = simulate.TwinOptions(images=(simulate.PlannedImage(-240.0),), basemap=basemap)
    result = simulate.build_twin("pj57", folder / "pj57", options)
    product = read_product(result.products[0])
    with Kernels([result.truth_metakernel]):
        observation = Observation(product)
        mid_et = float(np.median(observation.poses.et))
        sun_km, _ = spiceypy.spkpos("SUN", mid_et, observation.body.frame, "LT+S", observation.body.name)
    grid = equirectangular_grid(body_crs(501, "IO"), resolution_km=CELL_KM)
    return result, product, observation, np.asarray(sun_km), grid


def _limb_ratios(mapped, product, observation, sun_km: np.ndarray, result) -> dict[str, np.ndarray]:
    """Mapped / true DN of lit covered cells at emission 85–90°, per filter."""
    planes = mapped.backplanes
    cells = mapped.coverage & (planes["emission"] >= LIMB_EMISSION_DEG[0]) & (planes["emission"] < LIMB_EMISSION_DEG[1])
    lat, lon = np.radians(planes["lat"][cells]), np.radians(planes["lon_east"][cells])
    radii = observation.body.radii_km
    sun_distance = float(np.linalg.norm(sun_km))
    cos_i = surface_normals(latlon_to_surface(lat, lon, radii), radii) @ (sun_km / sun_distance)
    basemap = simulate.load_basemap(result.truth["basemap"]["path"])
    ratios = {}
    for name in product.filters:
        dn_per_i_over_f = RESPONSIVITY_DN[name] * product.tdi_stages * (REFERENCE_SUN_DISTANCE_KM / sun_distance) ** 2
        truth = NoiseModel().dark_dn + basemap.sample(name, lat, lon) * cos_i * dn_per_i_over_f
        values = mapped.channels[name][cells]
        keep = (cos_i > MIN_COS_INCIDENCE) & np.isfinite(values)
        ratios[name] = values[keep] / truth[keep]
    return ratios


def test_limb_cells_keep_the_truth_brightness(flat_twin):
    result, product, observation, sun_km, grid = flat_twin
    mapped = observation.map(grid, backplanes=True)
    for name, ratio in _limb_ratios(mapped, product, observation, sun_km, result).items():
        median, p5 = np.median(ratio), np.percentile(ratio, 5)
        print(f"{name}: {ratio.size} limb cells, median {median:.3f}, 5th percentile {p5:.3f} of the truth")
        assert ratio.size > 5000
        assert median >= 0.97 and p5 >= 0.9


def test_without_the_on_target_test_the_sky_darkens_the_limb(flat_twin, monkeypatch):
    """The same measurement sees the artefact when no sample is tested (plain bilinear)."""
    result, product, observation, sun_km, grid = flat_twin
    monkeypatch.setattr(reproject_module, "limb_band_cos_emission", lambda observer, *_: np.zeros(len(observer)))
    mapped = observation.map(grid, backplanes=True)
    for name, ratio in _limb_ratios(mapped, product, observation, sun_km, result).items():
        print(f"{name} plain bilinear: median {np.median(ratio):.3f}, 5th percentile {np.percentile(ratio, 5):.3f}")
        assert np.percentile(ratio, 5) < 0.5


def test_the_limb_band_holds_every_sample_that_needs_the_test(flat_twin, monkeypatch):
    """Testing every sample's neighbours (band = the whole disc) changes no cell beyond rounding
    (the renormalised sum and the plain bilinear formula round differently)."""
    _, product, observation, _, grid = flat_twin
    banded = observation.map(grid, backplanes=False)
    monkeypatch.setattr(reproject_module, "limb_band_cos_emission", lambda observer, *_: np.ones(len(observer)))
    everywhere = observation.map(grid, backplanes=False)
    assert np.array_equal(banded.coverage, everywhere.coverage)
    for name in product.filters:
        np.testing.assert_allclose(banded.channels[name], everywhere.channels[name], rtol=1e-5)


def test_kernel_limb_clearance_agrees_with_the_geometry_package(flat_twin):
    """Sign of the kernel's clearance = whether JunoCam.pixel_to_ray + FrameletPoses.rays_to_surface
    meet the target, for every pixel of framelets that show the limb."""
    _, product, observation, *_ = flat_twin
    radii = observation.body.radii_km
    packed = observation.poses.packed(float(np.min(observation.poses.et)))
    lines, samples = np.mgrid[0:128, 0:1648].astype(float)
    tested = 0
    for index in range(0, len(observation.poses), 7):
        name = product.filters[index % len(product.filters)]
        hit = np.isfinite(observation.poses[index].rays_to_surface(
            observation.camera.pixel_to_ray(name, samples, lines), radii)[..., 0])
        if hit.all() or not hit.any():
            continue
        cam = pack_camera(observation.camera, name)
        clearance = np.array([[kernel.limb_clearance(packed[index], cam, radii, s, l) for s in range(1648)]
                              for l in range(128)])
        assert np.array_equal(clearance >= 0.0, hit)
        tested += 1
    assert tested >= 3
