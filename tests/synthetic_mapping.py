"""A small analytic spinning-camera flyby for tests and benchmarks of the mapping stage.

Not the digital twin (``ioflyby.simulate`` builds SPICE kernels and real-format products): this
builds :class:`~ioflyby.geometry.FrameletPoses` directly from a straight-line trajectory,
a uniformly rotating target and a camera spinning about its +X (sample) axis, and renders
framelets from an analytic albedo through the *geometry* package's forward mapping
(``pixel_to_ray`` → ``rays_to_surface``), so a reconstruction can be checked against known
truth without any kernel. Frames: an inertial frame standing in for J2000; the target's body
frame is a rotation about inertial +Z. Units: km, s, radians.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace

import numpy as np

from ioflyby.camera import JunoCam
from ioflyby.camera.junocam import FilterModel
from ioflyby.geometry import SPEED_OF_LIGHT_KM_S, FrameletPoses, illumination_angles, planetocentric_latlon

IO_RADII_KM = np.array([1829.4, 1819.4, 1815.7])  # pck00010.tpc
_IK_DISTORTION_Y = {"METHANE": 315.48, "BLUE": 158.48, "GREEN": 3.48, "RED": -151.52}  # juno_junocam_v03.ti
_IK_IDS = {"METHANE": -61504, "BLUE": -61501, "GREEN": -61502, "RED": -61503}


def ik_like_camera() -> JunoCam:
    """A JunoCam with the values of juno_junocam_v03.ti (focal length 10.95637 mm / 7.4 µm,
    distortion centre x 814.21, k1, k2, START_TIME_BIAS 0.06188 s, INTERFRAME_DELTA 1 ms)."""
    filters = {
        name: FilterModel(
            name=name, naif_id=_IK_IDS[name], focal_length_px=10.95637 / 0.0074, center_x_px=814.21,
            center_y_px=cy, k1=-5.9624209455667325e-08, k2=2.7381910042256151e-14,
            start_time_bias_s=0.06188, interframe_delta_s=0.001,
        )
        for name, cy in _IK_DISTORTION_Y.items()
    }
    return JunoCam(filters)


def _rotation_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _rotation_about(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k


@dataclass(frozen=True)
class SyntheticFlyby:
    """Straight-line flyby of a rotating ellipsoid seen by a spinning JunoCam-like camera.

    The spacecraft is at ``sc_position_km`` (inertial, relative to the target centre) at t = 0
    (mid-image) and moves with ``sc_velocity_km_s``; the target moves with
    ``target_velocity_km_s`` (barycentric) and rotates about +Z with ``rotation_rate_rad_s``.
    At t = 0 the camera boresight points at the target centre, +X along the spin axis.
    """

    sc_position_km: tuple[float, float, float] = (8000.0, -1500.0, 1200.0)
    sc_velocity_km_s: tuple[float, float, float] = (-5.0, 18.0, 2.0)
    target_velocity_km_s: tuple[float, float, float] = (0.0, 17.3, 0.0)
    sun_direction: tuple[float, float, float] = (0.8, 0.45, 0.2)
    rotation_rate_rad_s: float = 2 * math.pi / (1.769 * 86400)
    rotation_phase_rad: float = 0.7
    spin_period_s: float = 30.0
    interframe_delay_s: float = 0.371
    exposure_s: float = 0.0032 * 3
    n_exposures: int = 14
    et0: float = 7.5e8
    radii_km: tuple[float, float, float] = tuple(IO_RADII_KM)

    def body_rotation(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """J2000→body rotation at inertial time offset ``t`` and its time derivative."""
        angle = self.rotation_phase_rad + self.rotation_rate_rad_s * t
        rotation = _rotation_z(angle).T
        rate = self.rotation_rate_rad_s * (_rotation_z(angle + 1e-3).T - _rotation_z(angle - 1e-3).T) / 2e-3
        return rotation, rate

    def camera_to_inertial(self, t: float) -> np.ndarray:
        """Camera → inertial rotation at time offset ``t`` (spinning about the spin axis)."""
        boresight = -np.asarray(self.sc_position_km, float)
        boresight /= np.linalg.norm(boresight)
        spin_axis = np.cross(boresight, [0.0, 0.0, 1.0])
        spin_axis /= np.linalg.norm(spin_axis)
        y_axis = np.cross(boresight, spin_axis)
        c0 = np.column_stack([spin_axis, y_axis, boresight])
        return _rotation_about(spin_axis, -2 * math.pi * t / self.spin_period_s) @ c0

    def pose(self, t: float) -> FrameletPoses:
        """The exact pose (one framelet) at time offset ``t`` (s from mid-image)."""
        sc = np.asarray(self.sc_position_km, float) + t * np.asarray(self.sc_velocity_km_s, float)
        v_target = np.asarray(self.target_velocity_km_s, float)
        light_time = 0.0
        for _ in range(10):  # target at t - lt, observer at t
            relative = -sc + v_target * (-light_time)  # target moved back by lt
            light_time = float(np.linalg.norm(relative)) / SPEED_OF_LIGHT_KM_S
        relative = -sc - v_target * light_time
        rotation, rate = self.body_rotation(t - light_time)
        sun = np.asarray(self.sun_direction, float)
        sun /= np.linalg.norm(sun)
        return FrameletPoses(
            et=np.asarray(self.et0 + t), light_time_s=np.asarray(light_time), target_position_km=relative,
            target_velocity_km_s=v_target, observer_velocity_km_s=np.asarray(self.sc_velocity_km_s, float) + v_target,
            j2000_to_body=rotation, j2000_to_body_rate=rate, camera_to_j2000=self.camera_to_inertial(t),
            sun_direction=sun, sun_distance_km=np.asarray(7.8e8), target="IO", body_frame="IAU_IO",
            camera_frame="JUNO_JUNOCAM",
        )

    def framelet_times(self, camera: JunoCam, filters: Sequence[str]) -> np.ndarray:
        """Mid-exposure time offsets [exposure, filter] (s), centred on the middle exposure."""
        start = -0.5 * (self.n_exposures - 1) * self.interframe_delay_s
        return np.array([
            [camera.framelet_mid_et(f, start, self.interframe_delay_s, n, self.exposure_s) for f in filters]
            for n in range(self.n_exposures)
        ])

    def poses(self, camera: JunoCam, filters: Sequence[str]) -> FrameletPoses:
        """Poses of every framelet, exposure-major (index ``exposure * len(filters) + filter``)."""
        singles = [self.pose(float(t)) for t in self.framelet_times(camera, filters).ravel()]
        stacked = {f.name: np.stack([getattr(p, f.name) for p in singles])
                   for f in fields(FrameletPoses) if isinstance(getattr(singles[0], f.name), np.ndarray)}
        return replace(singles[0], **stacked)


def render_framelets(
    flyby: SyntheticFlyby,
    camera: JunoCam,
    filters: Sequence[str],
    albedo: Callable[[np.ndarray, np.ndarray, int], np.ndarray],
    lambert: bool = True,
    photometric: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """Framelets [exposure, filter, 128, 1648] float32 of ``albedo(lat, lon, filter_index)``
    (radians) × cos(incidence) where lit (``lambert``), or × ``photometric(cos_i, cos_e)``
    where given; 0 off the target. Rendered through the geometry package's forward mapping,
    independent of the reprojection code."""
    radii = np.asarray(flyby.radii_km, float)
    poses = flyby.poses(camera, filters)
    lines, samples = np.mgrid[0:128, 0:1648].astype(float)
    out = np.zeros((flyby.n_exposures, len(filters), 128, 1648), np.float32)
    rays = {f: camera.pixel_to_ray(f, samples, lines) for f in filters}
    for n in range(flyby.n_exposures):
        for k, f in enumerate(filters):
            pose = poses[n * len(filters) + k]
            points = pose.rays_to_surface(rays[f], radii)
            hit = np.isfinite(points[..., 0])
            if not hit.any():
                continue
            p = points[hit]
            lat, lon = planetocentric_latlon(p)
            value = albedo(lat, lon, k)
            if lambert or photometric is not None:
                incidence, emission, _ = illumination_angles(p, pose.observer_km, pose.sun_km, radii)
                cos_i = np.clip(np.cos(incidence), 0.0, None)
                value = value * (cos_i if photometric is None else photometric(cos_i, np.cos(emission)))
            out[n, k][hit] = value
    return out


def spot_albedo(
    spots_lat: np.ndarray, spots_lon: np.ndarray, sigma_km: float, radius_km: float, background: float = 0.0
) -> Callable[[np.ndarray, np.ndarray, int], np.ndarray]:
    """Albedo of Gaussian spots (peak 1, ``sigma_km`` along the surface) on ``background``."""
    spots = np.stack([np.cos(spots_lat) * np.cos(spots_lon), np.cos(spots_lat) * np.sin(spots_lon), np.sin(spots_lat)], -1)

    def albedo(lat: np.ndarray, lon: np.ndarray, _k: int) -> np.ndarray:
        u = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)
        value = np.full(lat.shape, background, float)
        for s in spots:
            angle = np.arccos(np.clip(u @ s, -1.0, 1.0))
            near = angle < 6 * sigma_km / radius_km
            value[near] += np.exp(-0.5 * (angle[near] * radius_km / sigma_km) ** 2)
        return value

    return albedo


def pattern_albedo(lat: np.ndarray, lon: np.ndarray, k: int) -> np.ndarray:
    """A smooth colourful test albedo (different in each channel ``k``)."""
    return 0.5 + 0.25 * np.sin(3 * lon + k) * np.cos(2 * lat) + 0.15 * np.cos(7 * lat - 2 * lon + 0.5 * k)
