"""Vectorised ray–ellipsoid geometry (pure numpy, no SPICE).

Conventions: km; body-fixed frame of the target; planetocentric latitude and east-positive
longitude in radians, longitude in (-π, π]; angles (incidence, emission, phase) in radians.
"""

from __future__ import annotations

import numpy as np


def intersect_ellipsoid(origin: np.ndarray, directions: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """First intersection of rays with the ellipsoid x²/a² + y²/b² + z²/c² = 1.

    Args:
        origin: ray start(s), shape (3,) or broadcastable to ``directions``, km.
        directions: ray directions, shape (..., 3), any length.
        radii: (a, b, c) in km.

    Returns:
        Points of shape (..., 3) in km; NaN where the ray misses or the surface is behind.
    """
    radii = np.asarray(radii, float)
    o = np.asarray(origin, float) / radii
    d = np.asarray(directions, float) / radii
    a = np.einsum("...i,...i->...", d, d)
    b = np.einsum("...i,...i->...", o, d)
    c = np.einsum("...i,...i->...", o, o) - 1.0
    disc = b * b - a * c
    with np.errstate(invalid="ignore"):
        root = np.sqrt(disc)
        near = (-b - root) / a
        far = (-b + root) / a
    t = np.where(c > 0, near, far)  # from inside the body, the exit point
    t = np.where((disc >= 0) & (t > 0), t, np.nan)
    return np.asarray(origin, float) + t[..., None] * np.asarray(directions, float)


def limb_distance(origin: np.ndarray, directions: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Signed angular distance (radians) of each ray from the ellipsoid's limb as seen from
    ``origin``: positive on the disc, negative in the sky, zero on the limb.

    Computed in the frame where the ellipsoid is the unit sphere (exact for a sphere, a close
    approximation for Io's small flattening): the angle between the ray and the origin→centre
    line, subtracted from the apparent angular radius.
    """
    radii = np.asarray(radii, float)
    o = np.asarray(origin, float) / radii
    d = np.asarray(directions, float) / radii
    d = d / np.linalg.norm(d, axis=-1, keepdims=True)
    distance = np.linalg.norm(o, axis=-1)
    angular_radius = np.arcsin(np.clip(1.0 / distance, -1.0, 1.0))
    cos_offset = np.clip(-np.einsum("...i,...i->...", o, d) / distance, -1.0, 1.0)
    return angular_radius - np.arccos(cos_offset)


def surface_normals(points: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Outward unit normals of the ellipsoid at ``points`` (..., 3) km."""
    gradient = np.asarray(points, float) / np.asarray(radii, float) ** 2
    return gradient / np.linalg.norm(gradient, axis=-1, keepdims=True)


def planetocentric_latlon(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Planetocentric latitude and east-positive longitude (radians, lon in (-π, π])."""
    points = np.asarray(points, float)
    lon = np.arctan2(points[..., 1], points[..., 0])
    lat = np.arctan2(points[..., 2], np.hypot(points[..., 0], points[..., 1]))
    return lat, lon


def latlon_to_surface(lat: np.ndarray, lon: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Ellipsoid surface points (..., 3) km for planetocentric lat / east lon in radians."""
    direction = np.stack(
        [np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=-1
    )
    scale = 1.0 / np.sqrt(np.sum((direction / np.asarray(radii, float)) ** 2, axis=-1))
    return direction * scale[..., None]


def _angle_between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    cos = np.einsum("...i,...i->...", u, v) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return np.arccos(np.clip(cos, -1.0, 1.0))


def illumination_angles(
    points: np.ndarray, observer_km: np.ndarray, sun_km: np.ndarray, radii: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Incidence, emission and phase angles (radians) at surface ``points``.

    ``observer_km`` and ``sun_km`` are positions relative to the target centre (body-fixed, km).
    """
    normals = surface_normals(points, radii)
    to_sun = np.asarray(sun_km, float) - points
    to_observer = np.asarray(observer_km, float) - points
    return (
        _angle_between(normals, to_sun),
        _angle_between(normals, to_observer),
        _angle_between(to_sun, to_observer),
    )
