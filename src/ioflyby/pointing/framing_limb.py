"""The target's limb in a framing-camera image: where the prior pose puts it, the detected limb
points and their residual against the ellipsoid's limb for a small camera rotation.

Limb model (one epoch): the spacecraft at ``o`` (body-fixed km, centre light time) sees the
ellipsoid of radii (a, b, c) bounded by its limb cone. Scaling space by 1/(a, b, c) makes the
ellipsoid the unit sphere; there a ray ``d`` from ``o'`` makes the angle α with the direction to
the centre, and the limb the angle ρ = asin(1/|o'|). The residual of a limb point is (α − ρ)
over the IFOV, in pixels (+ outside the disc). The scaling changes angles by at most the
ellipsoid's flattening (0.75 % for Io) of a residual that is itself a few pixels: negligible.
Rays are apparent directions (camera → J2000 through the pose), corrected for stellar
aberration as in :meth:`ioflyby.geometry.FrameletPoses.rays_to_surface`.

Pixels: the camera's stored pixels (centre of the upper-left pixel = (0, 0)); angles rad.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ioflyby.camera import Camera
from ioflyby.geometry import FrameletPoses, stellar_aberration
from ioflyby.pointing.limb import detect_limb_framelet

LIMB_GATE_PX = 60.0
"""Detected limb points farther than this (stored px) from the prior's limb are not limb points."""
LEVEL_BAND_PX = 60.0
"""The sky level is the median of the pixels beyond ``LIMB_GATE_PX`` outside the prior's limb; the
disc level the 90th percentile of those in a band this wide (px) beyond ``LIMB_GATE_PX`` inside
it: the brightness *near* the limb, which shading at low sun makes far dimmer than the disc's
centre."""
GRID = 41
"""Pixels per side of the lattice that decides whether the limb crosses the frame."""


def limb_angle_px(directions_body: np.ndarray, observer_km: np.ndarray, radii: np.ndarray, ifov: float) -> np.ndarray:
    """(α − ρ) / IFOV in pixels of body-fixed view directions (..., 3) from ``observer_km``
    (module docstring): negative inside the disc, positive outside."""
    scaled_observer = np.asarray(observer_km, float) / radii
    scaled = directions_body / radii
    scaled = scaled / np.linalg.norm(scaled, axis=-1, keepdims=True)
    distance = float(np.linalg.norm(scaled_observer))
    to_centre = -scaled_observer / distance
    alpha = np.arccos(np.clip(scaled @ to_centre, -1.0, 1.0))
    rho = np.arcsin(min(1.0 / distance, 1.0))
    return (alpha - rho) / ifov


def _body_directions(pose: FrameletPoses, rays_nominal_camera: np.ndarray) -> np.ndarray:
    """Body-fixed geometric directions of camera rays under ``pose``'s camera matrix."""
    apparent = rays_nominal_camera @ pose.camera_to_j2000.T
    geometric = stellar_aberration(apparent, pose.observer_velocity_km_s, remove=True)
    return geometric @ pose.j2000_to_body.T


def limb_in_frame(camera: Camera, filter_name: str, pose: FrameletPoses, radii: np.ndarray) -> bool:
    """Whether the pose puts part of the target's limb inside the frame (a lattice of pixels
    holds both disc and sky, at least ``LIMB_GATE_PX`` clear of the frame's edge)."""
    lines, samples = np.meshgrid(np.linspace(0, camera.framelet_lines - 1, GRID),
                                 np.linspace(0, camera.framelet_samples - 1, GRID), indexing="ij")
    rays = camera.pixel_to_ray(filter_name, samples, lines)
    ifov = 1.0 / camera.filter(filter_name).focal_length_px
    angle = limb_angle_px(_body_directions(pose, rays), pose.observer_km, np.asarray(radii, float), ifov)
    return bool((angle < -1.0).any() and (angle > 1.0).any())


@dataclass(frozen=True)
class FramingLimb:
    """Limb points of one framing image with their rays (camera frame under the prior pose)
    and what turns them into limb residuals."""

    sample: np.ndarray
    line: np.ndarray
    rays: np.ndarray
    pose: FrameletPoses
    radii: np.ndarray
    ifov: float

    def __len__(self) -> int:
        return int(self.sample.size)

    def subset(self, keep: np.ndarray) -> FramingLimb:
        return FramingLimb(self.sample[keep], self.line[keep], self.rays[keep], self.pose, self.radii, self.ifov)

    def residual_px(self, rotation: np.ndarray) -> np.ndarray:
        """Limb residuals (px, + outside) under the camera matrix ``prior · rotation``."""
        turned = self.rays @ rotation.T  # R · r: the prior camera frame's rays
        return limb_angle_px(_body_directions(self.pose, turned), self.pose.observer_km, self.radii, self.ifov)

    def arc_deg(self) -> float:
        """Arc of the limb the points span, degrees of position angle around the target centre
        (as the prior sees it): 360° minus the largest empty gap."""
        directions = _body_directions(self.pose, self.rays)
        centre = -self.pose.observer_km / np.linalg.norm(self.pose.observer_km)
        east = np.cross([0.0, 0.0, 1.0], centre)
        east /= np.linalg.norm(east)
        north = np.cross(centre, east)
        angles = np.degrees(np.arctan2(directions @ east, directions @ north)) % 360.0
        if angles.size < 2:
            return 0.0
        ordered = np.sort(angles)
        return float(360.0 - np.diff(np.r_[ordered, ordered[0] + 360.0]).max())


def detect_frame_limb(
    image: np.ndarray, camera: Camera, filter_name: str, pose: FrameletPoses, radii: np.ndarray,
    gate_px: float = LIMB_GATE_PX,
) -> FramingLimb:
    """Limb points of a framing image (2-D linear DN) near the limb the prior ``pose`` predicts:
    :func:`ioflyby.pointing.limb.detect_limb_framelet` with sky and disc levels from the pixels
    the pose puts outside / just inside the limb (``LEVEL_BAND_PX``), kept within ``gate_px``."""
    radii = np.asarray(radii, float)
    ifov = 1.0 / camera.filter(filter_name).focal_length_px
    lines, samples = np.mgrid[0:image.shape[0]:4, 0:image.shape[1]:4].astype(float)
    angle = limb_angle_px(_body_directions(pose, camera.pixel_to_ray(filter_name, samples, lines)),
                          pose.observer_km, radii, ifov)
    sub = image[::4, ::4]
    sky_pixels = sub[angle > gate_px]
    disc_pixels = sub[(angle < -gate_px) & (angle > -gate_px - LEVEL_BAND_PX)]
    if sky_pixels.size < 16 or disc_pixels.size < 16:
        return FramingLimb(np.zeros(0), np.zeros(0), np.zeros((0, 3)), pose, radii, ifov)
    sky, disc = float(np.median(sky_pixels)), float(np.percentile(disc_pixels, 90))
    points = detect_limb_framelet(image, sky, disc)
    rays = camera.pixel_to_ray(filter_name, points.sample, points.line).reshape(-1, 3)
    near = np.abs(limb_angle_px(_body_directions(pose, rays), pose.observer_km, radii, ifov)) <= gate_px
    return FramingLimb(points.sample[near], points.line[near], rays[near], pose, radii, ifov)


__all__ = ["FramingLimb", "LIMB_GATE_PX", "detect_frame_limb", "limb_angle_px", "limb_in_frame"]
