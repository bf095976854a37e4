"""Spin-stabilised attitude of the twin's spacecraft, written as a type 3 CK.

The spacecraft frame (JUNO_SPACECRAFT, −61000) spins about its +Z axis at a constant rate
(Juno: 2 rpm) with +Z held along ``spin_axis`` (a J2000 unit vector). At ``reference_et`` the
spacecraft +X axis points along ``x_reference`` projected perpendicular to the spin axis, turned
by ``phase_deg`` about +Z. Then

    C(sc → J2000)(t) = A · R_z(phase + ω (t − reference_et)),  A = [x̂₀ ŷ₀ ẑ]

An *attitude error* rotates the truth away from the nominal CK: truth = nominal · R(axis_sc,
angle), i.e. a rotation about an axis fixed in the spacecraft frame. CKs store the C-matrix
J2000 → spacecraft (``m2q`` of its transpose) with the angular velocity in J2000, every
``step_s`` seconds; type 3 interpolation of a uniform spin between such records is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import spiceypy

from ioflyby.errors import ScenarioError
from ioflyby.simulate.textkernels import SPACECRAFT_FRAME_ID, SPACECRAFT_ID
from ioflyby.spice import writers


def rotation_about(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """Active rotation matrix by ``angle_rad`` about unit ``axis`` (Rodrigues)."""
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle_rad) * k + (1 - math.cos(angle_rad)) * (k @ k)


@dataclass(frozen=True)
class SpinAttitude:
    """Uniform spin about spacecraft +Z; see the module docstring. Angles in degrees, rate in rpm."""

    spin_axis: tuple[float, float, float]
    reference_et: float
    rate_rpm: float = 2.0
    phase_deg: float = 0.0
    x_reference: tuple[float, float, float] = (0.0, 0.0, 1.0)
    error_axis_sc: tuple[float, float, float] = (1.0, 0.0, 0.0)
    error_deg: float = 0.0

    @property
    def rate_rad_s(self) -> float:
        """Spin rate, rad/s (positive: right-handed about +Z)."""
        return self.rate_rpm * 2 * math.pi / 60.0

    def _base(self) -> np.ndarray:
        z = np.asarray(self.spin_axis, float)
        z /= np.linalg.norm(z)
        x = np.asarray(self.x_reference, float)
        x = x - (x @ z) * z
        if np.linalg.norm(x) < 1e-6:
            x = np.cross([0.0, 1.0, 0.0], z) if abs(z[1]) < 0.9 else np.cross([1.0, 0.0, 0.0], z)
        x /= np.linalg.norm(x)
        return np.column_stack([x, np.cross(z, x), z])

    def sc_to_j2000(self, et: float | np.ndarray, with_error: bool = False) -> np.ndarray:
        """Rotation(s) spacecraft → J2000 at ``et`` (shape (3, 3) or (n, 3, 3))."""
        ets = np.atleast_1d(np.asarray(et, float))
        angle = math.radians(self.phase_deg) + self.rate_rad_s * (ets - self.reference_et)
        c, s = np.cos(angle), np.sin(angle)
        rz = np.zeros((len(ets), 3, 3))
        rz[:, 0, 0], rz[:, 0, 1], rz[:, 1, 0], rz[:, 1, 1], rz[:, 2, 2] = c, -s, s, c, 1.0
        result = self._base() @ rz
        if with_error and self.error_deg:
            result = result @ rotation_about(np.asarray(self.error_axis_sc), math.radians(self.error_deg))
        return result[0] if np.ndim(et) == 0 else result

    def angular_velocity_j2000(self) -> np.ndarray:
        """Angular velocity of the spacecraft frame in J2000, rad/s (the error does not change it)."""
        z = np.asarray(self.spin_axis, float)
        return self.rate_rad_s * z / np.linalg.norm(z)


def et_to_sclk_ticks(et: float) -> float:
    """Encoded Juno SCLK (ticks, 1/256 s) of ET; needs the twin's (or Juno's) SCLK and an LSK."""
    return float(spiceypy.sce2c(SPACECRAFT_ID, et))


def sclk_string(et: float) -> str:
    """Clock count in the Metadata.json format ``count:fraction`` (e.g. ``710295867:187``)."""
    ticks = int(round(et_to_sclk_ticks(et)))
    return f"{ticks // 256}:{ticks % 256}"


def write_ck(path: Path, attitude: SpinAttitude, start_et: float, stop_et: float,
             with_error: bool = False, step_s: float = 1.0) -> Path:
    """Write the attitude over [start_et, stop_et] as a type 3 CK segment for frame −61000
    relative to J2000 (SCLK −61 and an LSK must be loaded). ``with_error`` writes the truth
    attitude with the injected error applied."""
    if stop_et <= start_et:
        raise ScenarioError("CK interval is empty")
    if attitude.rate_rad_s * step_s >= math.pi / 2:
        raise ScenarioError("CK record spacing too coarse for the spin rate")
    n = int(math.ceil((stop_et - start_et) / step_s)) + 1
    ets = np.linspace(start_et, stop_et, n)
    segment = "ioflyby twin spin" + (" truth" if with_error else "")
    return writers.write_ck(path, ets, attitude.sc_to_j2000(ets, with_error=with_error),
                            attitude.angular_velocity_j2000(), SPACECRAFT_FRAME_ID, SPACECRAFT_ID, segment)
