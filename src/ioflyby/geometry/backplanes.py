"""Per-pixel backplanes of a framelet: latitude, longitude, illumination angles, range, scale.

Angles in radians (the ``*_deg`` properties in degrees), planetocentric latitude, east-positive
longitude in (-π, π] (``lon_east_deg`` in [0, 360)), km.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ioflyby.camera.base import Camera
from ioflyby.geometry.poses import FrameletPoses
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

    @property
    def lat_deg(self) -> np.ndarray:
        return np.degrees(self.lat)

    @property
    def lon_east_deg(self) -> np.ndarray:
        return np.degrees(self.lon_east) % 360.0

    @property
    def incidence_deg(self) -> np.ndarray:
        return np.degrees(self.incidence)

    @property
    def emission_deg(self) -> np.ndarray:
        return np.degrees(self.emission)

    @property
    def phase_deg(self) -> np.ndarray:
        return np.degrees(self.phase)


def framelet_backplanes(
    camera: Camera,
    filter_name: str,
    pose: FrameletPoses,
    radii: np.ndarray,
    samples: np.ndarray,
    lines: np.ndarray,
) -> Backplanes:
    """Backplanes for framelet pixel coordinates (ioflyby convention: centre of the upper-left
    pixel is (0, 0)) of the one framelet whose pose is ``pose`` (``poses[i]``), with the
    per-pixel light time and aberration of :meth:`FrameletPoses.rays_to_surface`."""
    rays = camera.pixel_to_ray(filter_name, samples, lines)
    points = pose.rays_to_surface(rays, radii)
    lat, lon = planetocentric_latlon(points)
    incidence, emission, phase = illumination_angles(points, pose.observer_km, pose.sun_km, radii)
    range_km = np.linalg.norm(points - pose.observer_km, axis=-1)
    ifov = 1.0 / camera.filter(filter_name).focal_length_px
    return Backplanes(points, lat, lon, incidence, emission, phase, range_km, range_km * ifov, float(pose.et))
