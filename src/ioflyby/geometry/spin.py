"""Spin-stabilised attitude model of Juno, independent of any CK (used by ``pointing`` to solve
it and by ``simulate`` to write the twin's CKs).

The spacecraft spins about its +Z axis at a constant rate::

    spacecraft → J2000 (t) = B(ra, dec) · Rz(phase + rate · (t − reference_et))
    camera     → J2000 (t) = spacecraft → J2000 (t) · A(alignment) · M

- ``B`` has columns (east, north, axis): axis = (cos dec cos ra, cos dec sin ra, sin dec) in
  J2000, east = (−sin ra, cos ra, 0), north = axis × east. This is the IAU pole convention, so
  ``J2000 → spacecraft = eul2m(phase, π/2 − dec, π/2 + ra, 3, 1, 3)``; the phase is counted
  from east, about the axis.
- ``Rz(φ)`` turns vectors by +φ about +Z (right-handed); ``rate`` is signed, rad/s.
- ``M`` is the FK's fixed JUNO_JUNOCAM → JUNO_SPACECRAFT rotation (a TK chain, no CK needed).
- ``A`` is an optional small alignment rotation (rotation vector (ax, ay, 0) in the spacecraft
  frame, radians); a rotation about Z would be indistinguishable from the phase. Applied to the
  spacecraft itself (``spacecraft_to_j2000(t, with_alignment=True)`` = B · Rz · A) it is a tilt
  of the spacecraft +Z from the spin axis: what :meth:`SpinAttitude.from_spin` reads from a CK
  and what the twin injects as an attitude error.

Angles in radians, times in seconds past J2000 TDB.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import spiceypy

from ioflyby.errors import GeometryError
from ioflyby.spice import spice_errors

SPACECRAFT_FRAME = "JUNO_SPACECRAFT"
CAMERA_FRAME = "JUNO_JUNOCAM"


def rotation_z(angle: np.ndarray) -> np.ndarray:
    """Active rotations by ``angle`` (rad, any shape) about +Z: shape ``angle.shape + (3, 3)``."""
    angle = np.asarray(angle, float)
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros(angle.shape + (3, 3))
    out[..., 0, 0] = c
    out[..., 0, 1] = -s
    out[..., 1, 0] = s
    out[..., 1, 1] = c
    out[..., 2, 2] = 1.0
    return out


def rotation_vector_matrix(vector: np.ndarray) -> np.ndarray:
    """Rotation matrix of a rotation vector (axis × angle, rad) by Rodrigues' formula."""
    vector = np.asarray(vector, float)
    angle = float(np.linalg.norm(vector))
    if angle < 1e-15:
        return np.eye(3)
    k = vector / angle
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


def axis_basis(ra: float, dec: float) -> np.ndarray:
    """Matrix B whose columns are (east, north, axis) for a spin axis at RA/Dec (rad, J2000)."""
    axis = np.array([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])
    east = np.array([-np.sin(ra), np.cos(ra), 0.0])
    north = np.cross(axis, east)
    return np.column_stack([east, north, axis])


def axis_ra_dec(axis: np.ndarray) -> tuple[float, float]:
    """RA in [0, 2π) and Dec (rad) of a J2000 direction (any length)."""
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    return float(np.arctan2(axis[1], axis[0]) % (2 * np.pi)), float(np.arcsin(np.clip(axis[2], -1, 1)))


def split_about_z(rotation: np.ndarray) -> tuple[float, tuple[float, float]]:
    """Write ``rotation`` as ``Rz(angle) · A`` with A a rotation about an axis in the X–Y plane;
    returns (angle rad, (ax, ay) = A's rotation vector, rad). Exact (closed form): with
    n = rotation · ẑ and A₀ the shortest rotation ẑ → n, ``Rz(angle) = A₀ᵀ · rotation`` and
    ``A = Rz(−angle) · A₀ · Rz(angle)``. Undefined when rotation · ẑ = −ẑ (GeometryError)."""
    rotation = np.asarray(rotation, float)
    n = rotation[:, 2]
    across = float(np.hypot(n[0], n[1]))
    if across < 1e-12 and n[2] < 0:
        raise GeometryError("a rotation turning +Z onto −Z has no tilt about an axis in the X–Y plane")
    tilt = float(np.arctan2(across, n[2]))
    shortest = np.array([-n[1], n[0], 0.0]) * (tilt / across if across > 1e-15 else 1.0)
    about_z = rotation_vector_matrix(shortest).T @ rotation
    angle = float(np.arctan2(about_z[1, 0], about_z[0, 0]))
    c, s = np.cos(angle), np.sin(angle)
    return angle, (float(c * shortest[0] + s * shortest[1]), float(-s * shortest[0] + c * shortest[1]))


def camera_to_spacecraft(et: float) -> np.ndarray:
    """The FK's fixed JUNO_JUNOCAM → JUNO_SPACECRAFT rotation (needs the Juno FK loaded)."""
    with spice_errors("reading the JUNO_JUNOCAM → JUNO_SPACECRAFT alignment (load the Juno FK juno_v12.tf)"):
        return np.asarray(spiceypy.pxform(CAMERA_FRAME, SPACECRAFT_FRAME, et), float)


@dataclass(frozen=True)
class SpinAttitude:
    """Spin model of the spacecraft (see the module docstring).

    Attributes:
        ra, dec: spin-axis (spacecraft +Z) direction in J2000, rad.
        phase: rotation about the axis at ``reference_et``, rad, counted from east.
        rate: spin rate, rad/s (signed; Juno ≈ 2 rpm ≈ 0.21 rad/s).
        reference_et: epoch of ``phase``, s past J2000 TDB.
        camera_to_spacecraft: FK rotation JUNO_JUNOCAM → JUNO_SPACECRAFT.
        alignment: small alignment rotation vector (ax, ay) in the spacecraft frame, rad.
    """

    ra: float
    dec: float
    phase: float
    rate: float
    reference_et: float
    camera_to_spacecraft: np.ndarray = field(repr=False)
    alignment: tuple[float, float] = (0.0, 0.0)

    @property
    def axis(self) -> np.ndarray:
        """Unit spin axis in J2000."""
        return np.ascontiguousarray(axis_basis(self.ra, self.dec)[:, 2])

    @property
    def rate_rpm(self) -> float:
        """Spin rate in revolutions per minute."""
        return self.rate * 60.0 / (2.0 * np.pi)

    @property
    def angular_velocity_j2000(self) -> np.ndarray:
        """Angular velocity of the spacecraft in J2000, rad/s (the alignment does not change it)."""
        return self.rate * self.axis

    def alignment_matrix(self) -> np.ndarray:
        """The alignment rotation A (spacecraft frame)."""
        return rotation_vector_matrix(np.array([self.alignment[0], self.alignment[1], 0.0]))

    def spacecraft_to_j2000(self, et: np.ndarray | float, with_alignment: bool = False, delay_s: float = 0.0) -> np.ndarray:
        """Rotation JUNO_SPACECRAFT → J2000 at ``et + delay_s`` (``et`` any shape; result shape
        + (3, 3)): B · Rz, or B · Rz · A with ``with_alignment`` (the alignment as a tilt of the
        spacecraft). ``delay_s`` is added after the reference epoch is subtracted, so delays
        below a microsecond survive (``et`` itself, near 7e8 s, resolves only ~1e-7 s)."""
        angle = self.phase + self.rate * ((np.asarray(et, float) - self.reference_et) + delay_s)
        rotation = axis_basis(self.ra, self.dec) @ rotation_z(angle)
        return rotation @ self.alignment_matrix() if with_alignment else rotation

    def camera_to_j2000(self, et: np.ndarray | float, delay_s: float = 0.0) -> np.ndarray:
        """Rotation JUNO_JUNOCAM → J2000 at ``et + delay_s`` (``et`` any shape; result shape +
        (3, 3); ``delay_s`` as in :meth:`spacecraft_to_j2000`)."""
        fixed = self.alignment_matrix() @ self.camera_to_spacecraft
        return self.spacecraft_to_j2000(et, delay_s=delay_s) @ fixed

    def with_params(self, **changes: float) -> SpinAttitude:
        """A copy with some attributes replaced."""
        return replace(self, **changes)

    def with_spacecraft_rotation(self, rotation: np.ndarray) -> SpinAttitude:
        """The model whose ``spacecraft_to_j2000(t, with_alignment=True)`` is this one's times
        ``rotation`` (a rotation in the spacecraft frame, on the right) at every t: its part
        about +Z goes into the phase, the rest into the alignment (exact, see :func:`split_about_z`)."""
        dphase, alignment = split_about_z(self.alignment_matrix() @ np.asarray(rotation, float))
        return replace(self, phase=self.phase + dphase, alignment=alignment)

    @classmethod
    def from_axis(
        cls, axis: np.ndarray, phase: float, rate: float, reference_et: float, camera_to_spacecraft: np.ndarray
    ) -> SpinAttitude:
        """The spin model (no alignment) about the J2000 direction ``axis`` (any length)."""
        ra, dec = axis_ra_dec(axis)
        return cls(ra, dec, float(phase), float(rate), float(reference_et), np.asarray(camera_to_spacecraft, float))

    @classmethod
    def from_camera_rotation(
        cls, camera_to_j2000: np.ndarray, et: float, rate: float, camera_to_spacecraft: np.ndarray
    ) -> SpinAttitude:
        """The spin model (no alignment) whose camera → J2000 rotation at ``et`` is the given one."""
        spacecraft = np.asarray(camera_to_j2000, float) @ camera_to_spacecraft.T
        return cls.from_spacecraft_rotation(spacecraft, et, rate, camera_to_spacecraft)

    @classmethod
    def from_spacecraft_rotation(
        cls, spacecraft_to_j2000: np.ndarray, et: float, rate: float, camera_to_spacecraft: np.ndarray
    ) -> SpinAttitude:
        """The spin model whose spacecraft → J2000 rotation at ``et`` is the given one (its +Z
        becomes the spin axis, its +X fixes the phase)."""
        ra, dec = axis_ra_dec(spacecraft_to_j2000[:, 2])
        basis = axis_basis(ra, dec)
        x = spacecraft_to_j2000[:, 0]
        phase = float(np.arctan2(x @ basis[:, 1], x @ basis[:, 0]))
        return cls(ra, dec, phase, float(rate), float(et), np.asarray(camera_to_spacecraft, float))

    @classmethod
    def from_spin(
        cls, spacecraft_to_j2000: np.ndarray, axis: np.ndarray, et: float, rate: float, camera_to_spacecraft: np.ndarray
    ) -> SpinAttitude:
        """The spin model about the J2000 unit ``axis`` whose spacecraft → J2000 rotation at
        ``et`` is the given one; a spacecraft +Z off the axis becomes the alignment rotation."""
        ra, dec = axis_ra_dec(axis)
        phase, tilt = split_about_z(axis_basis(ra, dec).T @ spacecraft_to_j2000)  # = Rz(phase) · A
        return cls(ra, dec, phase, float(rate), float(et), np.asarray(camera_to_spacecraft, float), tilt)

    @classmethod
    def from_ck(cls, et_a: float, et_b: float, reference_et: float) -> SpinAttitude:
        """Spin model from the loaded CK: spin axis and rate from the spacecraft's rotation
        between ``et_a`` and ``et_b`` (s past J2000 TDB, less than half a turn apart), phase and
        any tilt of the spacecraft +Z from the spin axis (as alignment) at ``reference_et``."""
        with spice_errors(f"reading the Juno attitude (CK) at ET {et_a:.3f}…{et_b:.3f}"):
            ra_ = np.asarray(spiceypy.pxform(SPACECRAFT_FRAME, "J2000", et_a))
            rb_ = np.asarray(spiceypy.pxform(SPACECRAFT_FRAME, "J2000", et_b))
            ref = np.asarray(spiceypy.pxform(SPACECRAFT_FRAME, "J2000", reference_et))
        axis, angle = spiceypy.raxisa(rb_ @ ra_.T)
        axis = np.asarray(axis, float)
        if float(axis @ ref[:, 2]) < 0:  # express as a rotation about the axis nearest +Z
            axis, angle = -axis, -angle
        rate = angle / (et_b - et_a)
        return cls.from_spin(ref, axis, reference_et, rate, camera_to_spacecraft(reference_et))
