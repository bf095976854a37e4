"""Predicting the limb: signed pixel distance of detected limb points from the target's limb
for a given spin attitude and timing offset.

Per framelet (one SPICE pose at its nominal mid-exposure time, never per point or per
iteration; only the ephemeris part of the :class:`~ioflyby.geometry.FrameletPoses` is used, the
attitude being what is solved) the target ephemeris is held with its rates, so a timing offset ``dt`` moves it to
first order (target position + relative velocity · dt, body orientation + rate · dt); the
camera attitude comes from :class:`~ioflyby.geometry.spin.SpinAttitude` at ``t + dt``.
Rays follow the geometry package's conventions (apparent camera rays → stellar aberration
removed with the observer's barycentric velocity → body frame at the light-time corrected
epoch), so the predicted limb agrees with ``FrameletPoses.rays_to_surface``.

The residual of a point is ``f / |∇f|`` with ``f`` the signed angular limb distance
(``ioflyby.geometry.limb_distance``, positive on the disc) and ``∇f`` its gradient in framelet
pixels (finite differences over one pixel): the distance in pixels from the predicted limb
curve, to first order (Sampson distance), valid for any distortion and ellipsoid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ioflyby.camera import JunoCam
from ioflyby.geometry import FrameletPoses, limb_distance, stellar_aberration
from ioflyby.geometry.spin import SpinAttitude
from ioflyby.pointing.limb import LimbPoints


def _rotate(matrices: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``matrices @ vectors`` over the last axes (matrices (..., 3, 3), vectors (..., 3),
    broadcast), written out per component (much faster than einsum/matmul for 3×3)."""
    return (
        vectors[..., 0, None] * matrices[..., :, 0]
        + vectors[..., 1, None] * matrices[..., :, 1]
        + vectors[..., 2, None] * matrices[..., :, 2]
    )


@dataclass
class LimbResiduals:
    """Residuals of each limb point: ``residual_px`` (signed, + = detected inside the predicted
    disc), ``lit`` (the predicted limb there is sunlit), ``aligned`` (the image gradient agrees
    with the predicted limb normal within 45°)."""

    residual_px: np.ndarray
    lit: np.ndarray
    aligned: np.ndarray
    gradient_rad_per_px: np.ndarray


class LimbModel:
    """Limb points of one product with their camera rays and per-framelet ephemeris.

    Args:
        points: detected limb points.
        framelet_of_point: index into ``ephemeris`` (one entry per framelet) for each point.
        ephemeris: per-framelet poses at nominal times (their attitude is not used).
        camera: the JunoCam model; ``filters`` maps filter_index → filter name.
        radii: target ellipsoid radii, km.
    """

    def __init__(
        self,
        points: LimbPoints,
        framelet_of_point: np.ndarray,
        ephemeris: FrameletPoses,
        camera: JunoCam,
        filters: tuple[str, ...],
        radii: np.ndarray,
    ):
        self.points = points
        self.framelet = np.asarray(framelet_of_point, int)
        self.ephemeris = ephemeris
        self.radii = np.asarray(radii, float)
        n = len(points)
        self.rays = np.zeros((3, n, 3))
        for f, name in enumerate(filters):
            sel = points.filter_index == f
            if not np.any(sel):
                continue
            s, l = points.sample[sel], points.line[sel]
            self.rays[0, sel] = camera.pixel_to_ray(name, s, l)
            self.rays[1, sel] = camera.pixel_to_ray(name, s + 1.0, l)
            self.rays[2, sel] = camera.pixel_to_ray(name, s, l + 1.0)

    def subset(self, keep: np.ndarray) -> LimbModel:
        """A model over a subset of the points (shares the ephemeris)."""
        out = LimbModel.__new__(LimbModel)
        out.points = self.points.subset(keep)
        out.framelet = self.framelet[keep]
        out.ephemeris = self.ephemeris
        out.radii = self.radii
        out.rays = self.rays[:, keep]
        return out

    def __len__(self) -> int:
        return int(self.framelet.size)

    def body_rays(self, attitude: SpinAttitude, dt: float, ray_sets: slice = slice(None)) -> tuple[np.ndarray, np.ndarray]:
        """(observer position in the body frame per point (N, 3), geometric body-frame
        directions (K, N, 3) of the ray sets chosen by ``ray_sets`` (0: the point, 1: one sample
        further, 2: one line further)) for ``attitude`` and timing offset ``dt``."""
        eph = self.ephemeris
        position, rotation = eph.shifted(dt)
        camera_to_j2000 = attitude.camera_to_j2000(eph.et, dt)[self.framelet]  # (N, 3, 3)
        origin = -_rotate(rotation, position)[self.framelet]
        # Stellar aberration is removed in J2000; rotate there first, then to the body frame.
        apparent = _rotate(camera_to_j2000, self.rays[ray_sets])
        geometric = stellar_aberration(apparent, eph.observer_velocity_km_s[self.framelet], remove=True)
        return origin, _rotate(rotation[self.framelet], geometric)

    def limb_angle(self, attitude: SpinAttitude, dt: float) -> np.ndarray:
        """Signed angular limb distance (rad, + on the disc) of each point's own ray."""
        origin, directions = self.body_rays(attitude, dt, slice(0, 1))
        return limb_distance(origin, directions[0], self.radii)

    def residuals(self, attitude: SpinAttitude, dt: float, limb_offset_px: float = 0.0) -> LimbResiduals:
        """Residuals of every point (pixels) for ``attitude``, timing offset ``dt`` (s) and the
        detected limb sitting ``limb_offset_px`` inside the ellipsoid's (the detector's edge lies
        inside a darkening limb; an atmosphere's haze lifts it: negative)."""
        origin, directions = self.body_rays(attitude, dt)
        f = limb_distance(origin[None], directions, self.radii)  # (3, N) rad
        d_sample, d_line = f[1] - f[0], f[2] - f[0]
        gradient = np.hypot(d_sample, d_line)
        sun = self._sun_elevation(origin, directions[0])
        with np.errstate(invalid="ignore", divide="ignore"):
            residual = f[0] / gradient - limb_offset_px
            cos_normal = (d_sample * self.points.normal_sample + d_line * self.points.normal_line) / gradient
        return LimbResiduals(residual, sun > 0.0, np.nan_to_num(cos_normal) > np.cos(np.radians(45)), gradient)

    def inliers(self, attitude: SpinAttitude, dt: float, limb_offset_px: float, gate_px: float) -> np.ndarray:
        """Points on the predicted lit limb, gradient-aligned, within ``gate_px`` of it (limb
        offset as in :meth:`residuals`)."""
        res = self.residuals(attitude, dt, limb_offset_px)
        return res.lit & res.aligned & (np.abs(np.nan_to_num(res.residual_px, nan=1e9)) < gate_px)

    def _sun_elevation(self, origin: np.ndarray, directions: np.ndarray) -> np.ndarray:
        o = origin / self.radii
        d = directions / self.radii
        t = -np.einsum("ni,ni->n", o, d) / np.einsum("ni,ni->n", d, d)
        nearest = o + t[:, None] * d
        surface = nearest / np.linalg.norm(nearest, axis=1, keepdims=True) * self.radii
        normal = surface / self.radii**2
        normal /= np.linalg.norm(normal, axis=1, keepdims=True)
        sun = self.ephemeris.sun_direction[self.framelet]
        return np.einsum("ni,ni->n", normal, sun) / np.linalg.norm(sun, axis=1)
