"""Per-framelet pose from SPICE (a handful of calls per framelet, never per pixel) and the exact
pixel ⇄ surface mapping that SPICE ``sincpt`` defines, vectorised in numpy.

Aberration convention ("LT+S", as ``sincpt``/``illumf``): a camera ray is an *apparent*
direction at the spacecraft epoch ``et``; it is corrected for stellar aberration (the observer's
velocity relative to the solar-system barycentre) to a geometric direction, and it meets the
target where the target was when the light left the surface point, i.e. at ``et - lt(point)``.
The light time differs across the body by up to radius/c (6 ms for Io, 0.24 s for Jupiter), which
at 1,500 km from Io moves the surface by ~0.1 pixel, so it is applied per pixel here by a
first-order expansion of the target's position and orientation about the centre's light time
(one SPICE state and one state-transformation call per framelet).

Frames: J2000 inside the pose; surface points in the target's body-fixed frame (``IAU_<TARGET>``).
Units: km, km/s, seconds past J2000 TDB.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import spiceypy

from ioflyby.geometry.surface import intersect_ellipsoid
from ioflyby.spice import spice_errors

SPEED_OF_LIGHT_KM_S = 299792.458
_LIGHT_TIME_ITERATIONS = 2


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


@dataclass(frozen=True)
class FrameletPose:
    """Where the camera is and where it points at one framelet epoch.

    Attributes:
        et: epoch at the spacecraft, s past J2000 TDB.
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
    """

    et: float
    light_time_s: float
    target_position_km: np.ndarray
    target_velocity_km_s: np.ndarray
    observer_velocity_km_s: np.ndarray
    j2000_to_body: np.ndarray
    j2000_to_body_rate: np.ndarray
    camera_to_j2000: np.ndarray
    sun_direction: np.ndarray
    sun_distance_km: float
    target: str
    body_frame: str
    camera_frame: str

    # -- convenient approximations (centre light time) --------------------------------------
    @property
    def observer_km(self) -> np.ndarray:
        """Spacecraft position relative to the target centre, body-fixed, km (centre light time)."""
        return -(self.j2000_to_body @ self.target_position_km)

    @property
    def camera_to_body(self) -> np.ndarray:
        """Rotation camera → body-fixed, ignoring aberration (for quick looks and priors)."""
        return self.j2000_to_body @ self.camera_to_j2000

    @property
    def sun_km(self) -> np.ndarray:
        """Sun position relative to the target centre, body-fixed, km."""
        return self.sun_direction * self.sun_distance_km

    def geometric_directions_body(self, rays_camera: np.ndarray) -> np.ndarray:
        """Camera rays (apparent) → geometric unit directions in the body frame (centre epoch)."""
        apparent = rays_camera @ self.camera_to_j2000.T
        geometric = stellar_aberration(apparent, self.observer_velocity_km_s, remove=True)
        return geometric @ self.j2000_to_body.T

    # -- exact mapping ----------------------------------------------------------------------
    def rays_to_surface(self, rays_camera: np.ndarray, radii: np.ndarray) -> np.ndarray:
        """Surface points (body-fixed km, NaN for misses) seen along camera rays (..., 3).

        With δ the per-pixel shift of the target epoch from the centre's, the target position
        is ``p + δ·V`` and the rotation ``R + δ·Ṙ``; the products with R and Ṙ are formed once
        per framelet (origin terms) or once per ray (direction terms), never per iteration.
        """
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


def framelet_pose(
    target: str,
    et: float,
    observer: str = "JUNO",
    camera_frame: str = "JUNO_JUNOCAM",
    body_frame: str | None = None,
) -> FrameletPose:
    """Pose of ``camera_frame`` on ``observer`` relative to ``target`` at ``et`` (ET seconds).

    Six SPICE calls: light-time corrected target position, target and observer barycentric
    states, the J2000→body state transformation at the target epoch, the camera orientation at
    ``et``, and the Sun seen from the target.
    """
    with spice_errors(f"computing the orientation of {camera_frame} at ET {et:.3f}"):
        camera_to_j2000 = spiceypy.pxform(camera_frame, "J2000", et)
    return framelet_pose_with_attitude(target, et, camera_to_j2000, observer, camera_frame, body_frame)


def framelet_pose_with_attitude(
    target: str,
    et: float,
    camera_to_j2000: np.ndarray,
    observer: str = "JUNO",
    camera_frame: str = "JUNO_JUNOCAM",
    body_frame: str | None = None,
) -> FrameletPose:
    """Like :func:`framelet_pose` but with the camera orientation given (rotation camera frame →
    J2000 at ``et``, 3×3) instead of read from a CK: for attitude solved from the image itself.

    Five SPICE calls (ephemerides, body orientation, Sun); no CK is needed.
    """
    frame = body_frame or body_frame_name(target)
    with spice_errors(f"computing the pose of {camera_frame} relative to {target} at ET {et:.3f}"):
        target_position, light_time = spiceypy.spkpos(target, et, "J2000", "LT", observer)
        target_epoch = et - light_time
        target_state = spiceypy.spkssb(spiceypy.bods2c(target), target_epoch, "J2000")
        observer_state = spiceypy.spkssb(spiceypy.bods2c(observer), et, "J2000")
        state_transform = np.asarray(spiceypy.sxform("J2000", frame, target_epoch))
        sun, _ = spiceypy.spkpos("SUN", target_epoch, frame, "LT+S", target)
    sun = np.asarray(sun, float)
    sun_distance = float(np.linalg.norm(sun))
    return FrameletPose(
        et=float(et),
        light_time_s=float(light_time),
        target_position_km=np.asarray(target_position, float),
        target_velocity_km_s=np.asarray(target_state[3:], float),
        observer_velocity_km_s=np.asarray(observer_state[3:], float),
        j2000_to_body=state_transform[:3, :3].copy(),
        j2000_to_body_rate=state_transform[3:, :3].copy(),
        camera_to_j2000=np.asarray(camera_to_j2000, float),
        sun_direction=sun / sun_distance,
        sun_distance_km=sun_distance,
        target=target,
        body_frame=frame,
        camera_frame=camera_frame,
    )


def framelet_poses(
    target: str,
    ets: Sequence[float] | np.ndarray,
    observer: str = "JUNO",
    camera_frame: str = "JUNO_JUNOCAM",
) -> list[FrameletPose]:
    """:func:`framelet_pose` for each epoch (the body frame is looked up once)."""
    frame = body_frame_name(target)
    return [framelet_pose(target, float(et), observer, camera_frame, frame) for et in ets]
