"""The one pose type: where the camera is and where it points at each framelet epoch.

:class:`FrameletPoses` holds F framelets as a struct of arrays (leading axis F). Indexing it with
an integer gives one framelet (the same type with the leading axis dropped); the per-pixel
mappings (:meth:`FrameletPoses.rays_to_surface`, :meth:`FrameletPoses.surface_to_rays`) work on
one framelet. A CK (:meth:`FrameletPoses.from_spice`), a pointing solve and the twin all produce
it; mapping takes :meth:`FrameletPoses.packed` into its numba kernels.

Aberration convention ("LT+S", as ``sincpt``/``illumf``): a camera ray is an *apparent* direction
at the spacecraft epoch ``et``; it is corrected for stellar aberration (the observer's velocity
relative to the solar-system barycentre) to a geometric direction, and it meets the target where
the target was when the light left the surface point, at ``et - lt(point)``. The light time
differs across the body by up to radius/c, so it is applied per pixel by a first-order expansion
of the target's position and orientation about the centre's light time (one SPICE state and one
state-transformation call per framelet, never per pixel).

Frames: J2000 inside the pose; surface points in the target's body-fixed frame (``IAU_<TARGET>``).
Units: km, km/s, seconds past J2000 TDB.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace

import numpy as np
import spiceypy

from ioflyby.errors import GeometryError
from ioflyby.geometry.surface import intersect_ellipsoid
from ioflyby.spice import spice_errors

SPEED_OF_LIGHT_KM_S = 299792.458
_LIGHT_TIME_ITERATIONS = 2
POSE_WIDTH = 44
"""Columns of one row of :meth:`FrameletPoses.packed`."""


def stellar_aberration(directions: np.ndarray, observer_velocity_km_s: np.ndarray, remove: bool = False) -> np.ndarray:
    """Apply (or, with ``remove``, undo) stellar aberration to unit directions (..., 3).

    The SPICE formulation (``stelab``/``stlabx``): rotate the direction about u × v/c by
    asin(|u × v/c|), with v the observer's velocity relative to the solar-system barycentre.
    """
    beta = np.asarray(observer_velocity_km_s, float) / SPEED_OF_LIGHT_KM_S
    if remove:
        beta = -beta
    u = directions / np.linalg.norm(directions, axis=-1, keepdims=True)
    h = np.cross(u, beta)
    sin_phi = np.linalg.norm(h, axis=-1, keepdims=True)
    cos_phi = np.sqrt(1.0 - sin_phi**2)
    # Rotation of u about axis h/|h| by phi: u cos(phi) + (h × u) (|h| = sin(phi), h ⟂ u).
    return u * cos_phi + np.cross(h, u)


def _apply(matrices: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``matrices @ vectors`` over the leading axes (matrices (..., 3, 3), vectors (..., 3))."""
    return np.einsum("...ij,...j->...i", matrices, vectors)


@dataclass(frozen=True)
class FrameletPoses:
    """Poses of F framelets (arrays with leading axis F), or of one framelet (no leading axis).

    Attributes:
        et: epoch at the spacecraft (mid-exposure), s past J2000 TDB.
        light_time_s: one-way light time from the target centre, s.
        target_position_km: target centre relative to the spacecraft at ``et - light_time_s``
            (geometric, light-time corrected), J2000, km.
        target_velocity_km_s: target velocity relative to the barycentre, J2000.
        observer_velocity_km_s: spacecraft velocity relative to the barycentre, J2000.
        j2000_to_body: rotation J2000 → body-fixed at ``et - light_time_s``.
        j2000_to_body_rate: its time derivative, s⁻¹.
        camera_to_j2000: rotation camera frame → J2000 at ``et``.
        sun_direction: unit vector target centre → Sun, body-fixed.
        sun_distance_km: target–Sun distance, km.
        target, body_frame, camera_frame: SPICE names.
    """

    et: np.ndarray
    light_time_s: np.ndarray
    target_position_km: np.ndarray
    target_velocity_km_s: np.ndarray
    observer_velocity_km_s: np.ndarray
    j2000_to_body: np.ndarray
    j2000_to_body_rate: np.ndarray
    camera_to_j2000: np.ndarray
    sun_direction: np.ndarray
    sun_distance_km: np.ndarray
    target: str
    body_frame: str
    camera_frame: str

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_spice(
        cls,
        target: str,
        ets: Sequence[float] | np.ndarray,
        observer: str = "JUNO",
        camera_frame: str = "JUNO_JUNOCAM",
        camera_to_j2000: np.ndarray | None = None,
    ) -> FrameletPoses:
        """Poses at the epochs ``ets`` (flattened) from the loaded kernels.

        The camera orientation comes from the CK (``pxform(camera_frame, J2000)``) unless
        ``camera_to_j2000`` (F, 3, 3) is given (attitude solved from the image; no CK needed).
        Five SPICE calls a framelet (ephemerides, body orientation, Sun), plus the CK's.
        """
        ets = np.asarray(ets, float).reshape(-1)
        if camera_to_j2000 is None:
            camera_to_j2000 = camera_orientations(camera_frame, ets)
        camera_to_j2000 = np.asarray(camera_to_j2000, float)
        if camera_to_j2000.shape != (ets.size, 3, 3):
            raise GeometryError(f"camera orientations have shape {camera_to_j2000.shape}; expected ({ets.size}, 3, 3)")
        frame = body_frame_name(target)
        rows = [_ephemeris_row(target, float(et), observer, frame) for et in ets]
        light_time, position, target_velocity, observer_velocity, rotation, rate, sun = (
            np.array([row[k] for row in rows], float).reshape((ets.size,) + shape)
            for k, shape in enumerate(_ROW_SHAPES)
        )
        sun_distance = np.linalg.norm(sun, axis=-1)
        return cls(
            et=ets, light_time_s=light_time, target_position_km=position, target_velocity_km_s=target_velocity,
            observer_velocity_km_s=observer_velocity, j2000_to_body=rotation, j2000_to_body_rate=rate,
            camera_to_j2000=camera_to_j2000, sun_direction=sun / sun_distance[..., None],
            sun_distance_km=sun_distance, target=target, body_frame=frame, camera_frame=camera_frame,
        )

    def __len__(self) -> int:
        if self.et.ndim == 0:
            raise TypeError("a single framelet's pose has no length")
        return int(self.et.shape[0])

    def __getitem__(self, index: int | slice | np.ndarray) -> FrameletPoses:
        """Framelet ``index`` (an int gives one framelet; a slice or index array a subset)."""
        arrays = {f.name: getattr(self, f.name)[index] for f in fields(self) if f.name not in _NAMES}
        return replace(self, **arrays)

    # -- derived quantities (centre light time) --------------------------------------------------
    @property
    def observer_km(self) -> np.ndarray:
        """Spacecraft position relative to the target centre, body-fixed, km (centre light time)."""
        return -_apply(self.j2000_to_body, self.target_position_km)

    @property
    def sun_km(self) -> np.ndarray:
        """Sun position relative to the target centre, body-fixed, km."""
        return self.sun_direction * np.asarray(self.sun_distance_km)[..., None]

    @property
    def relative_velocity_km_s(self) -> np.ndarray:
        """d(target_position_km)/dt: target velocity minus the observer's, J2000, km/s."""
        return self.target_velocity_km_s - self.observer_velocity_km_s

    def shifted(self, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """(target position J2000 km, J2000 → body rotation) at ``et + dt``, to first order."""
        return (self.target_position_km + dt * self.relative_velocity_km_s,
                self.j2000_to_body + dt * self.j2000_to_body_rate)

    # -- exact pixel ⇄ surface mapping of one framelet -------------------------------------------
    def rays_to_surface(self, rays_camera: np.ndarray, radii: np.ndarray) -> np.ndarray:
        """Surface points (body-fixed km, NaN for misses) seen along camera rays (..., 3).

        With δ the per-pixel shift of the target epoch from the centre's, the target position
        is ``p + δ·V`` and the rotation ``R + δ·Ṙ``; the products with R and Ṙ are formed once
        per framelet (origin terms) or once per ray (direction terms), never per iteration.
        """
        self._require_single("rays_to_surface")
        apparent = rays_camera @ self.camera_to_j2000.T
        geometric = stellar_aberration(apparent, self.observer_velocity_km_s, remove=True)
        rotation, rate = self.j2000_to_body, self.j2000_to_body_rate
        position, velocity = self.target_position_km, self.target_velocity_km_s
        origin_terms = (rotation @ position, rate @ position + rotation @ velocity, rate @ velocity)
        direction_terms = (geometric @ rotation.T, geometric @ rate.T)
        delta = np.zeros(geometric.shape[:-1] + (1,))
        for _ in range(_LIGHT_TIME_ITERATIONS):
            origin = -(origin_terms[0] + delta * (origin_terms[1] + delta * origin_terms[2]))
            direction = direction_terms[0] + delta * direction_terms[1]
            points = intersect_ellipsoid(origin, direction, radii)
            ranges = np.linalg.norm(points - origin, axis=-1, keepdims=True)
            delta = np.nan_to_num(self.light_time_s - ranges / SPEED_OF_LIGHT_KM_S)
        return points

    def surface_to_rays(self, points_body: np.ndarray) -> np.ndarray:
        """Apparent unit rays in the camera frame (..., 3) towards body-fixed surface points.

        The inverse of :meth:`rays_to_surface`; visibility (emission < 90°, occlusion) is the
        caller's business.
        """
        self._require_single("surface_to_rays")
        points_body = np.asarray(points_body, float)
        # Line of sight at target-epoch shift δ: (R + δṘ)ᵀ P + p + δV.
        fixed = points_body @ self.j2000_to_body + self.target_position_km
        moving = points_body @ self.j2000_to_body_rate + self.target_velocity_km_s
        delta = np.zeros(points_body.shape[:-1] + (1,))
        for _ in range(_LIGHT_TIME_ITERATIONS + 1):
            line_of_sight = fixed + delta * moving
            delta = self.light_time_s - np.linalg.norm(line_of_sight, axis=-1, keepdims=True) / SPEED_OF_LIGHT_KM_S
        line_of_sight = fixed + delta * moving
        apparent = stellar_aberration(line_of_sight, self.observer_velocity_km_s)
        return apparent @ self.camera_to_j2000

    def _require_single(self, what: str) -> None:
        if self.et.ndim != 0:
            raise TypeError(f"{what} works on one framelet: index the poses first (poses[i])")

    # -- exchange --------------------------------------------------------------------------------
    def packed(self, et_reference: float) -> np.ndarray:
        """(F, POSE_WIDTH) float64 table for numba kernels. Columns: 0:3 target position
        (J2000 km), 3:6 target velocity, 6:15 J2000→body rotation (row-major), 15:24 its rate,
        24 light time, 25:28 observer velocity, 28:37 camera→J2000 (row-major), 37:40 observer
        position body-fixed (km), 40:43 Sun direction body-fixed, 43 epoch − ``et_reference`` (s)."""
        poses = self if self.et.ndim == 1 else self[None]
        n = poses.et.shape[0]
        return np.ascontiguousarray(np.concatenate([
            poses.target_position_km, poses.target_velocity_km_s, poses.j2000_to_body.reshape(n, 9),
            poses.j2000_to_body_rate.reshape(n, 9), poses.light_time_s[:, None], poses.observer_velocity_km_s,
            poses.camera_to_j2000.reshape(n, 9), poses.observer_km, poses.sun_direction,
            (poses.et - et_reference)[:, None],
        ], axis=1))

    def to_json(self) -> dict:
        """JSON-ready arrays (lists), with the units in the key names."""
        return {
            "target": self.target, "body_frame": self.body_frame, "camera_frame": self.camera_frame,
            "et": self.et.tolist(), "light_time_s": self.light_time_s.tolist(),
            "target_position_km": self.target_position_km.tolist(),
            "target_velocity_km_s": self.target_velocity_km_s.tolist(),
            "observer_velocity_km_s": self.observer_velocity_km_s.tolist(),
            "j2000_to_body": self.j2000_to_body.tolist(), "j2000_to_body_rate": self.j2000_to_body_rate.tolist(),
            "camera_to_j2000": self.camera_to_j2000.tolist(), "sun_direction": self.sun_direction.tolist(),
            "sun_distance_km": self.sun_distance_km.tolist(),
        }


_NAMES = ("target", "body_frame", "camera_frame")
_ROW_SHAPES = ((), (3,), (3,), (3,), (3, 3), (3, 3), (3,))


def _ephemeris_row(target: str, et: float, observer: str, frame: str) -> tuple:
    """(light time, target position J2000, target and observer barycentric velocities, J2000 →
    body rotation and its rate, Sun from the target body-fixed) at ``et`` — five SPICE calls."""
    with spice_errors(f"computing the position of {target} relative to {observer} at ET {et:.3f}"):
        position, light_time = spiceypy.spkpos(target, et, "J2000", "LT", observer)
        target_epoch = et - light_time
        target_state = spiceypy.spkssb(spiceypy.bods2c(target), target_epoch, "J2000")
        observer_state = spiceypy.spkssb(spiceypy.bods2c(observer), et, "J2000")
        state_transform = np.asarray(spiceypy.sxform("J2000", frame, target_epoch))
        sun, _ = spiceypy.spkpos("SUN", target_epoch, frame, "LT+S", target)
    return (light_time, position, target_state[3:], observer_state[3:], state_transform[:3, :3],
            state_transform[3:, :3], sun)


def camera_orientations(camera_frame: str, ets: np.ndarray) -> np.ndarray:
    """Rotations ``camera_frame`` → J2000 at ``ets`` (F, 3, 3) from the loaded CK."""
    with spice_errors(f"computing the orientation of {camera_frame} at ET {float(ets.flat[0]) if ets.size else 0:.3f}"):
        return np.array([spiceypy.pxform(camera_frame, "J2000", float(et)) for et in ets]).reshape(-1, 3, 3)


def body_frame_name(target: str) -> str:
    """The body-fixed frame SPICE associates with ``target`` (``IAU_IO`` for IO)."""
    with spice_errors(f"finding the body-fixed frame of {target}"):
        code = spiceypy.bods2c(target)
        _, name = spiceypy.cidfrm(code)
    return name


def target_radii(target: str) -> np.ndarray:
    """Tri-axial ellipsoid radii (a, b, c) of ``target`` in km, from the loaded PCK."""
    with spice_errors(f"reading the radii of {target} (load a PCK such as pck00010.tpc)"):
        _, radii = spiceypy.bodvrd(target, "RADII", 3)
    return np.asarray(radii, float)
