"""Galileo SSI camera model against the real Galileo kernels of image E6I0032 (Io, 1997-02-19).

Independent truth: rays built here by hand from the numbers in the instrument-keyword file's text
(focal length, pixel pitch, boresight, K1, ISIS's RadialDistortionMap formula), SPICE's own
``sincpt`` through them, and the epoch from the image's ISIS label. Nothing below comes from the
code under test except what is being checked.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import spiceypy

from ioflyby.camera import Camera, GalileoSSI, JunoCam
from ioflyby.camera.ssi import COVER_REMOVED_UTC
from ioflyby.errors import GeometryError, KernelError
from ioflyby.geometry import FrameletPoses, framelet_mid_ets, target_radii
from ioflyby.ingest import read_product
from ioflyby.ingest.ssi_writer import write_ssi_product
from ioflyby.spice import Kernels

MAX_GEOMETRY_ERROR_PX = 0.05
MAX_ROUND_TRIP_PX = 1e-6


def _ik_numbers(text: str) -> dict[str, float]:
    """INS-77001_* scalars as written in the .ti file."""
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"INS-77001_(\w+)\s*=\s*([-+0-9.eE]+)\s*$", text, re.MULTILINE)}


def _isis_label(text: str) -> dict[str, str]:
    return {m.group(1): m.group(2).strip() for m in re.finditer(r"^\s*(\w+)\s*=\s*(.+?)\s*$", text, re.MULTILINE)}


@pytest.fixture(scope="module")
def gll(kernel_dir: Path):
    folder = kernel_dir / "galileo_1997_io_slices"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    files = [kernel_dir / "lsk/naif0012.tls", folder / "pck00009.tpc", folder / "mk00062b.tsc",
             folder / "ssiAddendum005.ti", *sorted(folder.glob("*.bsp")), *sorted(folder.glob("*.bc"))]
    label = _isis_label((folder / "E6I0032_isis3.lbl").read_text())
    ik = _ik_numbers((folder / "ssiAddendum005.ti").read_text())
    with Kernels(files):
        yield {"label": label, "ik": ik, "et": spiceypy.str2et(label["StartTime"])}


def _hand_ray(ik: dict[str, float], sample, line, cover: bool = False) -> np.ndarray:
    """ISIS SsiCamera: 1-based pixel centres, focal plane mm = (pixel - boresight) * pitch,
    undistorted = distorted * (1 + K1 r_d^2), ray (x, y, f) in GLL_SSI_PLATFORM."""
    pitch, suffix = ik["PIXEL_PITCH"], "_COVER" if cover else ""
    x = (np.asarray(sample, float) + 1.0 - ik["BORESIGHT_SAMPLE"]) * pitch
    y = (np.asarray(line, float) + 1.0 - ik["BORESIGHT_LINE"]) * pitch
    scale = 1.0 + ik["K1" + suffix] * (x * x + y * y)
    ray = np.stack(np.broadcast_arrays(x * scale, y * scale, ik["FOCAL_LENGTH" + suffix]), axis=-1)
    return ray / np.linalg.norm(ray, axis=-1, keepdims=True)


def _angle_px(a: np.ndarray, b: np.ndarray, ik: dict[str, float]) -> np.ndarray:
    """Angle between unit vectors in full-frame pixels (IFOV = pitch / focal length)."""
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    return np.arctan2(cross, np.sum(a * b, axis=-1)) * ik["FOCAL_LENGTH"] / ik["PIXEL_PITCH"]


@pytest.fixture(scope="module")
def camera(gll) -> GalileoSSI:
    return GalileoSSI.for_epoch(gll["et"])


FRAME_CORNERS_AND_CENTRE = np.array([[0, 0], [799, 0], [0, 799], [799, 799], [399.5, 399.5], [399, 399]], float)


def test_interface_is_the_junocam_one(camera) -> None:
    assert isinstance(camera, Camera)
    assert isinstance(JunoCam({}), Camera)
    assert camera.frame == "GLL_SSI_PLATFORM" and (camera.framelet_lines, camera.framelet_samples) == (800, 800)


def test_rays_of_corner_and_centre_pixels_match_the_ik(camera, gll) -> None:
    s, l = FRAME_CORNERS_AND_CENTRE.T
    error = _angle_px(camera.pixel_to_ray("VIOLET", s, l), _hand_ray(gll["ik"], s, l), gll["ik"])
    assert error.max() < 1e-9
    # the boresight pixel (ISIS 400, 400) looks straight down +Z
    assert np.allclose(camera.pixel_to_ray("CLEAR", 399, 399), [0, 0, 1], atol=1e-15)
    # K1 < 0 (barrel): the corner ray lies ~1 px further out than a distortion-free pinhole's
    pinhole = _hand_ray({**gll["ik"], "K1": 0.0}, 0, 0)
    assert 0.9 < _angle_px(camera.pixel_to_ray("CLEAR", 0, 0), pinhole, gll["ik"]) < 1.2


def test_distortion_inverse_round_trips_over_the_whole_frame(camera) -> None:
    edges = np.arange(-0.5, 800.0, 0.5)
    s, l = np.meshgrid(edges, edges)
    back_s, back_l = camera.ray_to_pixel("CLEAR", camera.pixel_to_ray("CLEAR", s, l))
    assert max(np.abs(back_s - s).max(), np.abs(back_l - l).max()) <= MAX_ROUND_TRIP_PX
    summed = GalileoSSI.from_kernel_pool(summing=2)
    s2, l2 = np.meshgrid(np.arange(-0.5, 400.0, 0.5), np.arange(-0.5, 400.0, 0.5))
    back_s, back_l = summed.ray_to_pixel("RED", summed.pixel_to_ray("RED", s2, l2))
    assert max(np.abs(back_s - s2).max(), np.abs(back_l - l2).max()) <= MAX_ROUND_TRIP_PX


def test_summed_pixel_is_the_centre_of_its_2x2_block(gll) -> None:
    summed = GalileoSSI.from_kernel_pool(summing=2)
    s, l = np.array([0, 199, 399, 17]), np.array([0, 399, 0, 250])
    expected = _hand_ray(gll["ik"], 2 * s + 0.5, 2 * l + 0.5)
    assert _angle_px(summed.pixel_to_ray("GREEN", s, l), expected, gll["ik"]).max() < 1e-9
    assert summed.ifov_rad == pytest.approx(2 * gll["ik"]["PIXEL_PITCH"] / gll["ik"]["FOCAL_LENGTH"])


def test_cover_keywords_before_april_1994(gll) -> None:
    early = GalileoSSI.for_epoch(spiceypy.str2et("1991-10-29T22:37:00"))  # Gaspra flyby
    assert GalileoSSI.for_epoch(spiceypy.str2et(COVER_REMOVED_UTC) + 1.0).optics.focal_length_mm == gll["ik"]["FOCAL_LENGTH"]
    s, l = FRAME_CORNERS_AND_CENTRE.T
    error = _angle_px(early.pixel_to_ray("CLEAR", s, l), _hand_ray(gll["ik"], s, l, cover=True), gll["ik"])
    assert error.max() < 1e-9


def _e6i0032_product(tmp_path: Path, label: dict[str, str]):
    """The image's label values (its pixels are not public here) through the SSI writer and reader."""
    exposure_s = float(label["ExposureDuration"].split()[0])
    path = write_ssi_product(tmp_path, np.zeros((800, 800), np.uint8), image_id=label["ProductId"],
                             image_time_utc=label["StartTime"], exposure_ms=exposure_s * 1e3,
                             filter_name=label["FilterName"], target=label["TargetName"],
                             spacecraft_clock=label["SpacecraftClockStartCount"])
    return read_product(path)


def _disc_pixels(gll) -> np.ndarray:
    """Pixels on Io's disc, found by hand: Io's centre and points at 0.3–0.95 of its apparent
    radius in eight directions, projected with a pinhole (distortion < 1 px does not matter)."""
    ik = gll["ik"]
    centre, _ = spiceypy.spkpos("IO", gll["et"], "GLL_SSI_PLATFORM", "LT+S", "GALILEO ORBITER")
    f_px = ik["FOCAL_LENGTH"] / ik["PIXEL_PITCH"]
    c = np.array([centre[0] / centre[2] * f_px, centre[1] / centre[2] * f_px]) + ik["BORESIGHT_SAMPLE"] - 1.0
    radius = 1815.7 / np.linalg.norm(centre) * f_px
    angles = np.radians(np.arange(0, 360, 45) + 22.5)
    rings = [c + k * radius * np.stack([np.cos(angles), np.sin(angles)], axis=1) for k in (0.3, 0.7, 0.95)]
    return np.round(np.vstack([c[None], *rings]))


def test_e6i0032_geometry_matches_sincpt(tmp_path, gll, camera) -> None:
    label, ik = gll["label"], gll["ik"]
    product = _e6i0032_product(tmp_path, label)
    assert product.summing == 1 and product.filters == ("VIOLET",)
    et = float(framelet_mid_ets(product, camera)[0, 0])
    assert et == pytest.approx(gll["et"], abs=1e-6)  # label StartTime = mid-exposure (ISIS, ALE)
    pose = FrameletPoses.from_spice("IO", [et], observer="GALILEO ORBITER", camera_frame=camera.frame)[0]
    radii = target_radii("IO")

    # corner and centre pixels of the frame see sky beside Io: neither SPICE nor the model hits
    s, l = FRAME_CORNERS_AND_CENTRE.T
    for ray in _hand_ray(ik, s, l):
        _, _, _, found = _sincpt(gll["et"], ray)
        assert not found
    assert np.all(np.isnan(pose.rays_to_surface(camera.pixel_to_ray("VIOLET", s, l), radii)))

    pixels = _disc_pixels(gll)
    model_points = pose.rays_to_surface(camera.pixel_to_ray("VIOLET", pixels[:, 0], pixels[:, 1]), radii)
    errors_forward, errors_back = [], []
    for (sample, line), model_point in zip(pixels, model_points):
        point, _, observer_vector, found = _sincpt(gll["et"], _hand_ray(ik, sample, line))
        assert found, (sample, line)
        observer = point - observer_vector  # spacecraft, body-fixed, at the target epoch
        errors_forward.append(_angle_px(_unit(point - observer), _unit(model_point - observer), ik))
        back_s, back_l = camera.ray_to_pixel("VIOLET", pose.surface_to_rays(point))
        errors_back.append(np.hypot(back_s - sample, back_l - line))
    print(f"E6I0032, {len(pixels)} disc pixels: surface point vs sincpt max {max(errors_forward):.4f} px; "
          f"sincpt point back through ray_to_pixel max {max(errors_back):.4f} px")
    assert max(errors_forward) <= MAX_GEOMETRY_ERROR_PX
    assert max(errors_back) <= MAX_GEOMETRY_ERROR_PX


def _sincpt(et: float, ray: np.ndarray):
    with spiceypy.no_found_check():
        point, target_epoch, vector, found = spiceypy.sincpt(
            "ELLIPSOID", "IO", et, "IAU_IO", "LT+S", "GALILEO ORBITER", "GLL_SSI_PLATFORM", ray)
    return np.asarray(point), target_epoch, np.asarray(vector), found


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def test_timing_is_one_exposure_centred_on_the_label_time(tmp_path, gll, camera) -> None:
    product = _e6i0032_product(tmp_path, gll["label"])
    exposure_s = float(gll["label"]["ExposureDuration"].split()[0])
    start = spiceypy.str2et(product.start_time_utc)
    opened, closed = camera.shutter_open_close_et(gll["et"], exposure_s)
    assert opened == pytest.approx(start, abs=1e-6) and closed - opened == pytest.approx(exposure_s)
    assert float(camera.exposure_start_et("VIOLET", start, product.interframe_delay_s, 0)) == pytest.approx(start)
    mid = camera.framelet_mid_et("VIOLET", start, product.interframe_delay_s, 0, exposure_s)
    assert float(mid) == pytest.approx(gll["et"], abs=1e-6)


def test_missing_keywords_and_unknown_filter(gll, camera) -> None:
    with pytest.raises(GeometryError, match="unknown Galileo SSI filter"):
        camera.pixel_to_ray("METHANE", 0, 0)
    with pytest.raises(GeometryError, match="summing"):
        GalileoSSI.from_kernel_pool(summing=3)
    k1 = spiceypy.gdpool("INS-77001_K1", 0, 1)
    spiceypy.dvpool("INS-77001_K1")
    try:
        with pytest.raises(KernelError, match="INS-77001_K1"):
            GalileoSSI.from_kernel_pool()
    finally:
        spiceypy.pdpool("INS-77001_K1", k1)
