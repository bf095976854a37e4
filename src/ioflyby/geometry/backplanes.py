"""Per-pixel backplanes of a framelet: latitude, longitude, illumination angles, range, scale.

Angles in radians, planetocentric latitude, east-positive longitude in (-π, π], km.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ioflyby.camera import JunoCam
from ioflyby.geometry.pose import FrameletPose
from ioflyby.geometry.surface import illumination_angles, planetocentric_latlon


@dataclass(frozen=True)
class Backplanes:
    """Per-pixel geometry of one framelet. Angles in radians; NaN off the target.

    ``km_per_px`` is the pixel footprint perpendicular to the line of sight (range × IFOV).
    """

    points_km: np.ndarray
    lat: np.ndarray
    lon_east: np.ndarray
    incidence: np.ndarray
    emission: np.ndarray
    phase: np.ndarray
    range_km: np.ndarray
    km_per_px: np.ndarray
    et: float


def framelet_backplanes(
    camera: JunoCam,
    filter_name: str,
    pose: FrameletPose,
    radii: np.ndarray,
    samples: np.ndarray,
    lines: np.ndarray,
) -> Backplanes:
    """Backplanes for framelet pixel coordinates (ioflyby convention: centre of the upper-left
    pixel is (0, 0)), with the per-pixel light time and aberration of :class:`FrameletPose`."""
    rays = camera.pixel_to_ray(filter_name, samples, lines)
    points = pose.rays_to_surface(rays, radii)
    lat, lon = planetocentric_latlon(points)
    incidence, emission, phase = illumination_angles(points, pose.observer_km, pose.sun_km, radii)
    range_km = np.linalg.norm(points - pose.observer_km, axis=-1)
    ifov = 1.0 / camera.filter(filter_name).focal_length_px
    return Backplanes(points, lat, lon, incidence, emission, phase, range_km, range_km * ifov, pose.et)
