"""The roll helpers behind the terminator constraint, against analytic geometry (no kernels)."""

from __future__ import annotations

import numpy as np
import pytest

from ioflyby.geometry.spin import SpinAttitude, rotation_vector_matrix
from ioflyby.pointing.roll import roll_direction, rolled


def _attitude(alignment=(0.002, -0.003)) -> SpinAttitude:
    fk = rotation_vector_matrix(np.array([0.3, -1.2, 0.4]))
    return SpinAttitude(np.radians(241.0), np.radians(-61.7), 0.7, 0.2094, 1000.0, fk, alignment)


@pytest.mark.parametrize("angle_deg", [-37.0, 0.5, 90.0])
def test_rolled_turns_the_whole_sky_about_the_line_of_sight(angle_deg):
    """rolled(a, u, ψ) must equal R(u, ψ) · a at every epoch (camera and spacecraft frames), so
    that a target on u stays where it was in the image while the Sun turns about it."""
    attitude = _attitude()
    u = np.array([0.2, -0.9, 0.3])
    u /= np.linalg.norm(u)
    angle = np.radians(angle_deg)
    turn = rotation_vector_matrix(u * angle)
    out = rolled(attitude, u, angle)
    ets = np.array([990.0, 1000.0, 1003.7, 1030.0])
    assert np.allclose(out.camera_to_j2000(ets), turn @ attitude.camera_to_j2000(ets), atol=1e-12)
    assert np.allclose(out.axis, turn @ attitude.axis, atol=1e-12)
    assert out.alignment == attitude.alignment and out.rate == attitude.rate
    # The target direction, seen in the camera frame, does not move.
    for et in ets:
        assert np.allclose(out.camera_to_j2000(et).T @ u, attitude.camera_to_j2000(et).T @ u, atol=1e-12)


def test_roll_direction_is_where_a_small_roll_moves_the_axis():
    attitude = _attitude()
    u = np.array([0.1, 0.5, 0.86])
    u /= np.linalg.norm(u)
    small = 1e-6
    moved = rolled(attitude, u, small).axis - attitude.axis
    d = roll_direction(attitude, u)
    assert np.isclose(np.linalg.norm(d), 1.0)
    expected = small * np.linalg.norm(np.cross(u, attitude.axis))
    assert np.allclose(moved, expected * d, atol=1e-12)
