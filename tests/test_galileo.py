"""Galileo SSI through the same Observation, mapping and process as JunoCam, proved on the SSI twin
of galileo-i32 (``ioflyby.simulate.ssi``): its REDRs are read back by ``read_product``, and the
geometry is checked against the twin's injected truth (rendered pixels' lat/lon, the injected
pointing errors) and against SPICE ``sincpt`` through rays built here from the IK keywords."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import spiceypy

import ioflyby as io
from ioflyby.camera import Camera, GalileoSSI, camera_for_product
from ioflyby.ingest import read_product
from ioflyby.ingest.ssi import SsiProduct
from ioflyby.mapping import kernel
from ioflyby.mapping.reproject import pack_camera
from ioflyby.simulate import load_basemap
from ioflyby.simulate.ssi import BASEMAP_BAND, build_ssi_twin

IO_MEAN_RADIUS_KM = 1821.49


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    result = build_ssi_twin(tmp_path_factory.mktemp("ssi") / "galileo-i32")
    products = [read_product(path) for path in result.products]
    return result, products


def _truth_kernels(result):
    return io.Kernels([result.truth_metakernel])


def _pixels(record):
    return (np.array([p["sample"] for p in record["pixels"]], float),
            np.array([p["line"] for p in record["pixels"]], float))


def _ik_ray(sample: float, line: float, summing: int) -> np.ndarray:
    """The ray of a stored pixel built from the INS-77001 keywords in the pool (ISIS's recipe:
    1-based full-frame pixels, undistorted = distorted · (1 + K1 r²))."""
    def value(key):
        return float(spiceypy.gdpool(f"INS-77001_{key}", 0, 1)[0])

    pitch, focal, k1 = value("PIXEL_PITCH"), value("FOCAL_LENGTH"), value("K1")
    full_s, full_l = summing * (sample + 0.5) - 0.5 + 1.0, summing * (line + 0.5) - 0.5 + 1.0
    x, y = (full_s - value("BORESIGHT_SAMPLE")) * pitch, (full_l - value("BORESIGHT_LINE")) * pitch
    scale = 1.0 + k1 * (x * x + y * y)
    return np.array([x * scale, y * scale, focal])


def test_twin_products_are_ssi_redrs_read_back(twin):
    result, products = twin
    assert len(products) == 3 and result.truth["instrument"] == "GALILEO_SSI"
    for product, record in zip(products, result.truth["products"]):
        assert isinstance(product, SsiProduct) and product.instrument == "GALILEO_SSI"
        assert result.products[products.index(product)].suffix == ".LBL"
        assert product.framelets.shape == (1, 1, record["lines"], record["samples"])
        assert product.filters == (record["filter"],) and product.summing == record["summing"]
        assert product.image_time_utc.startswith(record["image_time_utc"][:23])
        assert product.metadata["NOTE"] == "SIMULATED BY IOFLYBY"
        assert product.spacecraft_clock_start.count(".") == 1
        lit = product.image > 3 * result.truth["noise"]["dark_dn"]
        assert lit.mean() > 0.3, "Io fills much of every frame"


def test_camera_follows_the_product_not_a_name(twin):
    result, products = twin
    with _truth_kernels(result):
        cameras = [camera_for_product(p) for p in products]
    assert all(isinstance(c, GalileoSSI) and isinstance(c, Camera) for c in cameras)
    assert [(c.framelet_lines, c.summing) for c in cameras] == [(800, 1), (800, 1), (400, 2)]
    assert cameras[0].spacecraft == "GALILEO ORBITER" and cameras[0].start_clock_id is None


def test_observation_pixels_land_on_the_rendered_truth_and_sincpt(twin):
    """pixel_to_lonlat of rendered pixels vs the renderer's truth and an independent sincpt."""
    result, products = twin
    worst_truth, worst_sincpt = 0.0, 0.0
    with _truth_kernels(result):
        for product, record in zip(products, result.truth["products"]):
            observation = io.Observation(product)
            assert observation.observer == "GALILEO ORBITER" and observation.has_poses
            assert observation.framelet_ets.shape == (1, 1)
            label_et = spiceypy.str2et(product.image_time_utc)
            assert abs(observation.framelet_ets[0, 0] - label_et) < 1e-6  # IMAGE_TIME is the epoch
            samples, lines = _pixels(record)
            planes = observation.backplanes(record["filter"], 0, samples, lines)
            lat, lon = planes.lat_deg, planes.lon_east_deg
            truth_lat = np.array([p["lat_deg"] for p in record["pixels"]])
            truth_lon = np.array([p["lon_east_deg"] for p in record["pixels"]])
            d_lon = (lon - truth_lon + 180.0) % 360.0 - 180.0
            km = IO_MEAN_RADIUS_KM * np.hypot(np.radians(lat - truth_lat), np.radians(d_lon) * np.cos(np.radians(lat)))
            worst_truth = max(worst_truth, float(np.max(km / planes.km_per_px)))
            for k in range(0, samples.size, 8):
                ray = _ik_ray(samples[k], lines[k], product.summing)
                point, _, observer_vector = spiceypy.sincpt(
                    "ELLIPSOID", "IO", label_et, "IAU_IO", "LT+S", "GALILEO ORBITER", "GLL_SSI_PLATFORM", ray)
                ours = planes.points_km[k]
                angle = spiceypy.vsep(point - (point - observer_vector), ours - (point - observer_vector))
                worst_sincpt = max(worst_sincpt, angle * GalileoSSI.from_kernel_pool(summing=product.summing)
                                   .filter(record["filter"]).focal_length_px)
            located = observation.lonlat_to_pixel(truth_lat, truth_lon)
            assert len(located) == samples.size
            assert np.max(np.hypot(located.sample - samples[located.point], located.line - lines[located.point])) < 1e-3
    print(f"SSI twin: pixel_to_lonlat vs rendered truth {worst_truth:.2e} px, vs sincpt {worst_sincpt:.2e} px")
    assert worst_truth <= 0.01
    assert worst_sincpt <= 0.05


def test_nominal_kernels_are_off_by_the_injected_pointing_error(twin):
    """With twin.tm (the nominal CK) every feature sits where the injected rotation predicts:
    shift ≈ f·θ·(a_y, −a_x) px for a rotation θ about camera axis a (small-angle pinhole)."""
    result, products = twin
    with io.Kernels([result.metakernel]):
        for product, record in zip(products, result.truth["products"]):
            observation = io.Observation(product)
            error = record["pointing_error"]
            axis = np.array(error["axis_camera"], float) / np.linalg.norm(error["axis_camera"])
            predicted = error["angle_px"] * np.array([axis[1], -axis[0]])
            samples, lines = _pixels(record)
            located = observation.lonlat_to_pixel([p["lat_deg"] for p in record["pixels"]],
                                                  [p["lon_east_deg"] for p in record["pixels"]])
            shift = np.column_stack([located.sample - samples[located.point], located.line - lines[located.point]])
            print(f"{record['product_id']}: injected {predicted.round(3)} px, nominal kernels show "
                  f"{shift.mean(axis=0).round(3)} px (spread {shift.std(axis=0).max():.3f})")
            assert np.linalg.norm(predicted) > 3.0
            assert np.all(np.linalg.norm(shift - predicted, axis=1) <= 0.1)


def test_mapping_kernels_match_the_camera_model(twin):
    """The numba reprojection (packed SSI row: inverse distortion model) vs the numpy camera and
    poses: surface → pixel, and the limb test of the bilinear neighbours."""
    result, products = twin
    with _truth_kernels(result):
        for product, record in zip(products, result.truth["products"]):
            observation = io.Observation(product)
            pose = observation.poses[0]
            name = record["filter"]
            samples, lines = np.meshgrid(np.linspace(0, product.image.shape[1] - 1, 21),
                                         np.linspace(0, product.image.shape[0] - 1, 21))
            points = observation.backplanes(name, 0, samples.ravel(), lines.ravel()).points_km
            points = points[np.isfinite(points[:, 0])]
            expected = observation.camera.ray_to_pixel(name, pose.surface_to_rays(points))
            cam = pack_camera(observation.camera, name)
            ours = kernel.points_to_pixels(pose.packed(float(pose.et))[0], cam, points)
            assert points.shape[0] > 100
            assert np.max(np.abs(ours[:, 0] - expected[0])) < 1e-6
            assert np.max(np.abs(ours[:, 1] - expected[1])) < 1e-6
            if record["aim"] == "limb":
                packed, radii = pose.packed(float(pose.et))[0], observation.body.radii_km
                line = np.arange(0, 800, 7, dtype=float)
                for s in (100.0, 400.0, 700.0):
                    hits = np.isfinite(observation.backplanes(name, 0, np.full(line.size, s), line).lat)
                    clear = np.array([kernel.limb_clearance(packed, cam, radii, s, v) for v in line])
                    assert np.array_equal(clear >= 0, hits)


def test_process_maps_correlate_with_the_basemap(twin):
    """io.process on each SSI twin frame (truth kernels): Lambert-corrected map vs the basemap the
    twin rendered from, over lit cells (incidence and emission < 75°) — tests/test_mapping_twin.py's
    metric and threshold (r ≥ 0.95)."""
    result, products = twin
    basemap = load_basemap(result.truth["basemap"]["path"])
    for path, product, record in zip(result.products, products, result.truth["products"]):
        lat = np.array([p["lat_deg"] for p in record["pixels"]])
        lon = np.array([p["lon_east_deg"] for p in record["pixels"]])
        centre = math.degrees(math.atan2(np.sin(np.radians(lon)).mean(), np.cos(np.radians(lon)).mean())) % 360.0
        half = float(np.max(np.abs((lon - centre + 180.0) % 360.0 - 180.0))) + 0.5
        spec = io.MapSpec(projection="equirectangular", lat_range=(max(lat.min() - 0.5, -90.0), min(lat.max() + 0.5, 90.0)),
                          lon_range=(centre - half, centre + half), width=900, photometry="lambert", backplanes=True)
        mapped = io.process([path], [result.truth_metakernel], spec).map
        planes = mapped.backplanes
        lit = mapped.coverage & (planes["incidence"] < 75.0) & (planes["emission"] < 75.0)
        name = record["filter"]
        truth = basemap.sample(BASEMAP_BAND[name], np.radians(planes["lat"][lit]), np.radians(planes["lon_east"][lit]))
        r = np.corrcoef(mapped.channels[name][lit], truth)[0, 1]
        print(f"{record['product_id']} {name} ({record['aim']}): r = {r:.4f} over {lit.sum()} lit cells")
        assert lit.sum() > 50_000
        assert r >= 0.95


def test_truth_json_records_the_injected_errors(twin):
    result, _ = twin
    saved = json.loads((result.metakernel.parent / "truth.json").read_text())
    assert saved == result.truth
    assert "C_nominal * R(axis_camera, angle)" in saved["injected"]["pointing_convention"]
    assert {p["aim"] for p in saved["products"]} == {"disc", "limb"}
    assert all(p["pointing_error"]["angle_urad"] > 0 for p in saved["products"])
