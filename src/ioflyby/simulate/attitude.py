"""Spin-stabilised attitude of the twin's spacecraft, written as a type 3 CK.

The attitude is the project's spin model :class:`ioflyby.geometry.spin.SpinAttitude` (the one
``ioflyby.pointing`` solves for): JUNO_SPACECRAFT (−61000) spins about its +Z axis, held along
the J2000 spin axis (RA/Dec), at a constant rate (Juno: 2 rpm), with the phase counted from
east at ``reference_et``::

    C(sc → J2000)(t) = B(ra, dec) · Rz(phase + rate (t − reference_et)) · A

The *nominal* attitude has no tilt (A = I). An injected *attitude error* rotates the truth away
from it about an axis fixed in the spacecraft frame, truth = nominal · R(axis_sc, angle)
(:func:`with_attitude_error`): its X/Y part becomes the model's alignment rotation A (a tilt of
+Z from the spin axis), its Z part a change of phase — exactly, for any axis and angle. CKs
store the C-matrix J2000 → spacecraft with the angular velocity in J2000, every ``step_s``
seconds; type 3 interpolation of a uniform spin between such records is exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import spiceypy

from ioflyby.errors import ScenarioError
from ioflyby.geometry.spin import SpinAttitude, rotation_vector_matrix
from ioflyby.simulate.textkernels import SPACECRAFT_FRAME_ID, SPACECRAFT_ID
from ioflyby.spice import writers

RPM_TO_RAD_S = 2 * math.pi / 60.0


def nominal_attitude(spin_axis_j2000: Sequence[float], reference_et: float, rate_rpm: float,
                     camera_to_spacecraft: np.ndarray, phase_rad: float = 0.0) -> SpinAttitude:
    """The twin's nominal spin: about ``spin_axis_j2000`` (any length), ``rate_rpm`` (rpm,
    right-handed about +Z), phase ``phase_rad`` from east at ``reference_et`` (s past J2000 TDB)."""
    if np.linalg.norm(spin_axis_j2000) == 0:
        raise ScenarioError("the spin axis is the zero vector")
    return SpinAttitude.from_axis(spin_axis_j2000, phase_rad, rate_rpm * RPM_TO_RAD_S, reference_et,
                                  camera_to_spacecraft)


def with_attitude_error(nominal: SpinAttitude, axis_sc: Sequence[float], angle_deg: float) -> SpinAttitude:
    """The truth attitude: ``nominal`` followed by a rotation of ``angle_deg`` about ``axis_sc``
    (spacecraft frame, any length). The X/Y part goes into the alignment, the Z part into the phase."""
    axis = np.asarray(axis_sc, float)
    if not angle_deg:
        return nominal
    if axis.shape != (3,) or np.linalg.norm(axis) == 0:
        raise ScenarioError(f"attitude error axis {tuple(axis_sc)}: give three numbers x,y,z, not all 0")
    return nominal.with_spacecraft_rotation(rotation_vector_matrix(axis / np.linalg.norm(axis) * math.radians(angle_deg)))


def et_to_sclk_ticks(et: float) -> float:
    """Encoded Juno SCLK (ticks, 1/256 s) of ET; needs the twin's (or Juno's) SCLK and an LSK."""
    return float(spiceypy.sce2c(SPACECRAFT_ID, et))


def sclk_string(et: float) -> str:
    """Clock count in the Metadata.json format ``count:fraction`` (e.g. ``710295867:187``)."""
    ticks = int(round(et_to_sclk_ticks(et)))
    return f"{ticks // 256}:{ticks % 256}"


def write_ck(path: Path, attitude: SpinAttitude, start_et: float, stop_et: float, step_s: float = 1.0,
             segment_id: str = "ioflyby twin spin") -> Path:
    """Write ``attitude`` (with its alignment as a tilt of the spacecraft) over [start_et,
    stop_et] (ET) as a type 3 CK segment for frame −61000 relative to J2000, a record every
    ``step_s`` seconds (SCLK −61 and an LSK must be loaded)."""
    if stop_et <= start_et:
        raise ScenarioError("CK interval is empty")
    if abs(attitude.rate) * step_s >= math.pi / 2:
        raise ScenarioError("CK record spacing too coarse for the spin rate")
    n = int(math.ceil((stop_et - start_et) / step_s)) + 1
    ets = np.linspace(start_et, stop_et, n)
    return writers.write_ck(path, ets, attitude.spacecraft_to_j2000(ets, with_alignment=True),
                            attitude.angular_velocity_j2000, SPACECRAFT_FRAME_ID, SPACECRAFT_ID, segment_id)
