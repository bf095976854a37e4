"""Limb detection on synthetic framelets with analytic truth (an anti-aliased disc of known centre
and radius), and the spin-attitude model against independent SPICE calls."""

from __future__ import annotations

import numpy as np
import pytest
import spiceypy

from ioflyby.geometry.spin import SpinAttitude, axis_basis
from ioflyby.pointing.limb import detect_limb, detect_limb_framelet

SKY, DISC = 20.0, 1000.0


def _disc_framelet(cx: float, cy: float, radius: float, supersample: int = 8, ramp_px: float = 0.0) -> np.ndarray:
    """128 × 1648 framelet: sky, plus a uniformly bright disc integrated over each pixel (exact
    coverage by supersampling). With ``ramp_px`` the brightness falls linearly to zero across a
    ramp that far inside the disc on its +x side (a terminator-like gradual edge)."""
    lines, samples = np.mgrid[0:128, 0:1648].astype(float)
    offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
    total = np.zeros_like(lines)
    for dy in offsets:
        for dx in offsets:
            x, y = samples + dx, lines + dy
            inside = (x - cx) ** 2 + (y - cy) ** 2 <= radius**2
            shade = np.ones_like(x)
            if ramp_px:
                shade = np.clip((cx + radius * 0.2 - x) / ramp_px, 0.0, 1.0)
            total += inside * shade
    return SKY + (DISC - SKY) * total / supersample**2


def test_points_lie_on_the_true_circle_to_a_tenth_of_a_pixel():
    cx, cy, radius = 700.3, 300.7, 260.0  # limb crosses the framelet obliquely
    image = _disc_framelet(cx, cy, radius)
    points = detect_limb_framelet(image, SKY, DISC)
    assert len(points) > 150
    distance = np.hypot(points.sample - cx, points.line - cy) - radius
    assert np.abs(np.median(distance)) < 0.05
    assert np.sqrt(np.mean(distance**2)) < 0.1
    # The normals point from the sky towards the disc centre.
    towards = np.stack([cx - points.sample, cy - points.line], 1)
    towards /= np.linalg.norm(towards, axis=1, keepdims=True)
    cos = towards[:, 0] * points.normal_sample + towards[:, 1] * points.normal_line
    assert cos.min() > 0.9


def test_framelet_edges_and_small_dots_are_not_limb():
    image = np.full((128, 1648), SKY)
    image[:, 1000:] = DISC  # disc filling the right part: one true vertical limb at x = 999.5
    image[60:63, 300:303] = DISC  # a moon as a 3-px dot
    image[0:40, 500:700] = DISC  # a disc cut by the framelet's top edge: edge at y = 39.5 only
    points = detect_limb_framelet(image, SKY, DISC)
    assert len(points) > 0
    on_limb = np.abs(points.sample - 999.5) < 0.2
    on_cut_disc = (np.abs(points.line - 39.5) < 0.2) | ((points.line < 40) & (np.abs(points.sample - 499.5) < 0.2))
    on_cut_disc |= (points.line < 40) & (np.abs(points.sample - 699.5) < 0.2)
    assert np.all(on_limb | on_cut_disc)
    assert not np.any((np.abs(points.sample - 301) < 5) & (np.abs(points.line - 61) < 5)), "the dot was taken as limb"
    assert not np.any(points.line < 3) and not np.any(points.line > 124), "framelet edge taken as limb"
    assert not np.any(points.sample > 1627), "edge of the photoactive area taken as limb"


def test_gradual_terminator_is_rejected_but_the_limb_kept():
    cx, cy, radius = 800.0, 64.0, 400.0
    image = _disc_framelet(cx, cy, radius, supersample=4, ramp_px=120.0)
    points = detect_limb_framelet(image, SKY, DISC)
    distance = np.hypot(points.sample - cx, points.line - cy) - radius
    assert len(points) > 50
    assert np.abs(distance).max() < 0.5, "a point off the limb (terminator ramp) was detected"


def test_detect_limb_runs_per_filter_levels_and_skips_empty_framelets():
    frame = _disc_framelet(700.0, 64.0, 300.0, supersample=2)
    cube = np.full((3, 2, 128, 1648), SKY, np.float32)
    cube[1, 0] = frame
    cube[2, 1] = frame * 0.1  # a fainter filter: its own levels
    points = detect_limb(cube)
    assert set(zip(points.exposure.tolist(), points.filter_index.tolist())) == {(1, 0), (2, 1)}


def test_spin_attitude_matches_spice_euler_convention():
    """J2000 → spacecraft must equal eul2m(phase, π/2 − dec, π/2 + ra; 3, 1, 3) (IAU pole form)."""
    ra, dec, phase, rate, ref = np.radians(187.4), np.radians(-1.8), 0.7, 0.2045, 1000.0
    attitude = SpinAttitude(ra, dec, phase, rate, ref, np.eye(3))
    et = 1003.5
    angle = phase + rate * (et - ref)
    expected = np.asarray(spiceypy.eul2m(angle, np.pi / 2 - dec, np.pi / 2 + ra, 3, 1, 3))
    assert np.allclose(attitude.spacecraft_to_j2000(et).T, expected, atol=1e-12)
    assert np.allclose(attitude.axis, spiceypy.radrec(1.0, ra, dec), atol=1e-12)
    # Angular velocity: d/dt of the rotation equals [w]x R.
    h = 1e-4
    derivative = (attitude.spacecraft_to_j2000(et + h) - attitude.spacecraft_to_j2000(et - h)) / (2 * h)
    omega_cross = derivative @ attitude.spacecraft_to_j2000(et).T
    w = np.array([omega_cross[2, 1], omega_cross[0, 2], omega_cross[1, 0]])
    assert np.allclose(w, attitude.angular_velocity_j2000, atol=1e-8)


@pytest.mark.parametrize("tilt", [(0.0, 0.0), (0.004, -0.002)])
def test_from_spin_recovers_phase_and_tilt(tilt):
    truth = SpinAttitude(np.radians(30.0), np.radians(50.0), -2.0, 0.21, 0.0, np.eye(3), tilt)
    rotation = truth.spacecraft_to_j2000(0.0) @ truth.alignment_matrix()
    back = SpinAttitude.from_spin(rotation, truth.axis, 0.0, truth.rate, np.eye(3))
    assert np.allclose(back.alignment, tilt, atol=1e-9)
    for et in (0.0, 5.0):
        assert np.allclose(back.camera_to_j2000(et), truth.camera_to_j2000(et), atol=1e-9)
    assert np.allclose(axis_basis(back.ra, back.dec)[:, 2], truth.axis, atol=1e-12)


def test_project_sclk_counts_tdb_seconds(tmp_path):
    """The fallback SCLK (written when the loaded one cannot encode the epochs) converts ET to
    256 ticks per TDB second from its origin, and back, through plain spiceypy."""
    from ioflyby.pointing import write_project_sclk

    anchor = 757196943.5  # 2023-12-30
    path = write_project_sclk(tmp_path / "juno_project.tsc", anchor, clock_id=-999)
    spiceypy.furnsh(str(path))
    try:
        for et in (anchor - 5e7, anchor, anchor + 9e7):
            ticks = spiceypy.sce2c(-999, et)
            assert ticks == pytest.approx((et - (anchor - 1e8)) * 256.0, abs=1e-3)
            assert spiceypy.sct2e(-999, ticks) == pytest.approx(et, abs=1e-6)
    finally:
        spiceypy.unload(str(path))
