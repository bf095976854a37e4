"""Map projections on a sphere of radius R (metres), as PROJ defines them, compiled with numba.

Each projection is a pair of scalar functions (forward: planetocentric latitude / east longitude
in radians → x, y in metres; inverse: x, y → lat, lon, NaN outside the projection's domain) that
the reprojection kernel calls per map cell, plus vectorised wrappers. The formulae are Snyder's
(USGS Professional Paper 1395) for the spherical case, the same as PROJ's ``eqc``, ``ortho``,
``stere`` (polar aspect, k0 = 1) and ``nsper``; ``tests/test_mapping_grid.py`` checks them
against PROJ through rasterio.

A projection is identified by an integer ``code`` and a parameter vector
``params = (R_m, lat0_rad, lon0_rad, P)`` where ``P = 1 + h/R`` is the viewpoint distance of the
vertical perspective in sphere radii (unused by the others).
"""

from __future__ import annotations

import math

import numpy as np

from ioflyby._numba import jit

EQUIRECTANGULAR = 0
ORTHOGRAPHIC = 1
POLAR_NORTH = 2
POLAR_SOUTH = 3
PERSPECTIVE = 4

CODES = {
    "equirectangular": EQUIRECTANGULAR,
    "orthographic": ORTHOGRAPHIC,
    "polar_north": POLAR_NORTH,
    "polar_south": POLAR_SOUTH,
    "perspective": PERSPECTIVE,
}

_NAN = math.nan


@jit(inline="always")
def _wrap_pi(angle: float) -> float:
    """Angle wrapped into [-π, π)."""
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


@jit()
def forward(code: int, params: np.ndarray, lat: float, lon: float) -> tuple[float, float]:
    """(lat, lon) radians → (x, y) metres; NaN where the point is not on the visible side."""
    radius, lat0, lon0, p = params[0], params[1], params[2], params[3]
    dlon = _wrap_pi(lon - lon0)
    if code == EQUIRECTANGULAR:
        return radius * dlon, radius * lat
    if code == POLAR_NORTH:
        rho = 2.0 * radius * math.tan(math.pi / 4.0 - lat / 2.0)
        return rho * math.sin(dlon), -rho * math.cos(dlon)
    if code == POLAR_SOUTH:
        rho = 2.0 * radius * math.tan(math.pi / 4.0 + lat / 2.0)
        return rho * math.sin(dlon), rho * math.cos(dlon)
    cos_c = math.sin(lat0) * math.sin(lat) + math.cos(lat0) * math.cos(lat) * math.cos(dlon)
    if code == ORTHOGRAPHIC:
        if cos_c < 0.0:
            return _NAN, _NAN
        k = 1.0
    else:  # PERSPECTIVE
        if cos_c < 1.0 / p:
            return _NAN, _NAN
        k = (p - 1.0) / (p - cos_c)
    x = radius * k * math.cos(lat) * math.sin(dlon)
    y = radius * k * (math.cos(lat0) * math.sin(lat) - math.sin(lat0) * math.cos(lat) * math.cos(dlon))
    return x, y


@jit()
def inverse(code: int, params: np.ndarray, x: float, y: float) -> tuple[float, float]:
    """(x, y) metres → (lat, lon) radians, lon in [-π, π); NaN outside the domain."""
    radius, lat0, lon0, p = params[0], params[1], params[2], params[3]
    if not (math.isfinite(x) and math.isfinite(y)):
        return _NAN, _NAN
    if code == EQUIRECTANGULAR:
        lat = y / radius
        if abs(lat) > math.pi / 2.0:
            return _NAN, _NAN
        return lat, _wrap_pi(x / radius + lon0)
    rho = math.hypot(x, y)
    if code == POLAR_NORTH or code == POLAR_SOUTH:
        c = 2.0 * math.atan(rho / (2.0 * radius))
        if code == POLAR_NORTH:
            return math.pi / 2.0 - c, _wrap_pi(lon0 + math.atan2(x, -y))
        return c - math.pi / 2.0, _wrap_pi(lon0 + math.atan2(x, y))
    if code == ORTHOGRAPHIC:
        if rho > radius:
            return _NAN, _NAN
        sin_c = rho / radius
    else:  # PERSPECTIVE
        limit = radius * math.sqrt((p - 1.0) / (p + 1.0))
        if rho > limit:
            return _NAN, _NAN
        if rho == 0.0:
            sin_c = 0.0
        else:
            q = rho / (radius * (p - 1.0))
            sin_c = (p - math.sqrt(max(0.0, 1.0 - q * q * (p * p - 1.0)))) / (1.0 / q + q)
    if rho == 0.0:
        return lat0, _wrap_pi(lon0)
    cos_c = math.sqrt(max(0.0, 1.0 - sin_c * sin_c))
    lat = math.asin(min(1.0, max(-1.0, cos_c * math.sin(lat0) + y * sin_c * math.cos(lat0) / rho)))
    lon = lon0 + math.atan2(x * sin_c, rho * cos_c * math.cos(lat0) - y * sin_c * math.sin(lat0))
    return lat, _wrap_pi(lon)


@jit()
def _forward_many(code, params, lat, lon, x, y):
    for i in range(lat.size):
        x[i], y[i] = forward(code, params, lat[i], lon[i])


@jit()
def _inverse_many(code, params, x, y, lat, lon):
    for i in range(x.size):
        lat[i], lon[i] = inverse(code, params, x[i], y[i])


def project(code: int, params: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`forward`: radians → metres (NaN off the visible side)."""
    lat, lon = np.broadcast_arrays(np.asarray(lat, float), np.asarray(lon, float))
    flat_lat, flat_lon = np.ascontiguousarray(lat).ravel(), np.ascontiguousarray(lon).ravel()
    x, y = np.empty_like(flat_lat), np.empty_like(flat_lat)
    _forward_many(code, np.asarray(params, float), flat_lat, flat_lon, x, y)
    return x.reshape(lat.shape), y.reshape(lat.shape)


def unproject(code: int, params: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`inverse`: metres → radians (NaN outside the domain)."""
    x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
    flat_x, flat_y = np.ascontiguousarray(x).ravel(), np.ascontiguousarray(y).ravel()
    lat, lon = np.empty_like(flat_x), np.empty_like(flat_x)
    _inverse_many(code, np.asarray(params, float), flat_x, flat_y, lat, lon)
    return lat.reshape(x.shape), lon.reshape(x.shape)
