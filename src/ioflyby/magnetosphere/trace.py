"""Field-line tracing to Jupiter's 1-bar surface: M-shell and north/south ionospheric footprints.

Method: the field line ``dr/ds = ±B/|B|`` (System III Cartesian, R_J) is integrated with an
adaptive Dormand–Prince 5(4) Runge–Kutta scheme (absolute local error ``tol_rj`` per step, step
at most ``max_step_rj``), compiled with numba, in both directions from the start point until it
enters the surface. The surface is the 1-bar **oblate** spheroid of Jupiter's IAU radii
(71,492 km equatorial, 66,854 km polar; ``polar_ratio`` = 0.93513), or a sphere
(``polar_ratio=1``). The crossing is located by bisecting the last step (≤ 1e-9 R_J).

- Footprints: planetocentric latitude and east longitude (System III) of the crossing points;
  the one with z > 0 is the northern footprint.
- M-shell: the largest distance from Jupiter's centre along the traced line (the field line's
  apex, its crossing of the magnetic equator), R_J, refined by a parabola through the three
  samples around the maximum.

A line that does not come back to the planet within ``r_max_rj`` (default 150 R_J) or
``max_steps`` steps is open (or not closed within the model): its footprint and M-shell are NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ioflyby._numba import jit
from ioflyby.magnetosphere.models import R_J_KM, FieldModel, _field_at

JUPITER_POLAR_RATIO = 66854.0 / R_J_KM
"""Polar / equatorial radius of Jupiter's 1-bar surface (IAU; pck00010/11)."""

DEFAULT_TOL_RJ = 1e-7
DEFAULT_MAX_STEP_RJ = 0.5
DEFAULT_R_MAX_RJ = 150.0
DEFAULT_MAX_STEPS = 20000


@dataclass(frozen=True)
class Traces:
    """Traced field lines, one entry per start point (radians, planetocentric, east longitude,
    System III; R_J). NaN where the line is open or leaves the model."""

    north_lat: np.ndarray
    north_lon: np.ndarray
    south_lat: np.ndarray
    south_lon: np.ndarray
    mshell_rj: np.ndarray
    surface: str

    def __len__(self) -> int:
        return int(self.mshell_rj.size)


def trace_field_lines(
    positions_rj: np.ndarray,
    model: FieldModel | None = None,
    polar_ratio: float = JUPITER_POLAR_RATIO,
    tol_rj: float = DEFAULT_TOL_RJ,
    max_step_rj: float = DEFAULT_MAX_STEP_RJ,
    r_max_rj: float = DEFAULT_R_MAX_RJ,
) -> Traces:
    """Trace the field lines through ``positions_rj`` ((n, 3) or (3,), System III, R_J) to the
    surface (oblate 1-bar spheroid by default; ``polar_ratio=1`` for the unit sphere)."""
    model = model or FieldModel.jrm33_con2020()
    points = np.ascontiguousarray(np.asarray(positions_rj, dtype=float).reshape(-1, 3))
    out = _trace_many(points, model.packed(), model.degree, model.sheet_parameters(),
                      float(polar_ratio), float(tol_rj), float(max_step_rj), float(r_max_rj), DEFAULT_MAX_STEPS)
    surface = "sphere r = 1 R_J" if polar_ratio == 1.0 else f"oblate 1-bar spheroid (c/a = {polar_ratio:.5f})"
    return Traces(out[:, 0], out[:, 1], out[:, 2], out[:, 3], out[:, 4], surface)


def trace_line_points(
    position_rj: np.ndarray, model: FieldModel | None = None, polar_ratio: float = JUPITER_POLAR_RATIO,
    tol_rj: float = DEFAULT_TOL_RJ, max_step_rj: float = 0.1,
) -> np.ndarray:
    """The traced line through one point as a polyline (m, 3) R_J from the northern to the
    southern end (for plots)."""
    model = model or FieldModel.jrm33_con2020()
    start = np.asarray(position_rj, dtype=float).reshape(3)
    halves = []
    for sign in (1.0, -1.0):
        path = np.empty((DEFAULT_MAX_STEPS + 2, 3))
        n, _ = _trace_half(start, sign, model.packed(), model.degree, model.sheet_parameters(),
                           polar_ratio, tol_rj, max_step_rj, DEFAULT_R_MAX_RJ, DEFAULT_MAX_STEPS, path)
        halves.append(path[:n].copy())
    a, b = halves
    line = np.concatenate([a[::-1], b[1:]])
    return line if line[0, 2] >= line[-1, 2] else line[::-1]


# -- compiled kernels ----------------------------------------------------------------------------

_C = np.array([0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0])
_A = np.array([
    [0, 0, 0, 0, 0, 0],
    [1 / 5, 0, 0, 0, 0, 0],
    [3 / 40, 9 / 40, 0, 0, 0, 0],
    [44 / 45, -56 / 15, 32 / 9, 0, 0, 0],
    [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729, 0, 0],
    [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656, 0],
    [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
])
_E = np.array([71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40])


@jit()
def _direction(p: np.ndarray, sign: float, coef, nmax, sheet) -> np.ndarray:
    b = _field_at(p[0], p[1], p[2], coef, nmax, sheet)
    return sign * b / np.sqrt(b[0] * b[0] + b[1] * b[1] + b[2] * b[2])


@jit()
def _dp_step(p: np.ndarray, k1: np.ndarray, step: float, sign: float, coef, nmax, sheet):
    """One Dormand–Prince step: (5th-order point, error estimate vector, derivative there)."""
    k = np.empty((7, 3))
    k[0] = k1
    for i in range(1, 7):
        q = p.copy()
        for j in range(i):
            q += step * _A[i, j] * k[j]
        k[i] = _direction(q, sign, coef, nmax, sheet)
    new = p.copy()
    for j in range(6):
        new += step * _A[6, j] * k[j]
    err = np.zeros(3)
    for j in range(7):
        err += step * _E[j] * k[j]
    return new, err, k[6]


@jit()
def _inside(p: np.ndarray, polar_ratio: float) -> float:
    """< 0 inside the spheroid of equatorial radius 1 and polar radius ``polar_ratio``."""
    return p[0] * p[0] + p[1] * p[1] + (p[2] / polar_ratio) ** 2 - 1.0


@jit()
def _trace_half(start, sign, coef, nmax, sheet, polar_ratio, tol, max_step, r_max, max_steps, path):
    """Trace from ``start`` along sign·B until the surface; fills ``path`` (points, start first,
    the surface point last) and returns (number of points, 1 if the surface was reached)."""
    p = start.copy()
    path[0] = p
    count = 1
    if _inside(p, polar_ratio) <= 0.0:
        return count, 0
    k1 = _direction(p, sign, coef, nmax, sheet)
    step = min(max_step, 0.01)
    for _ in range(max_steps):
        r = np.sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2])
        step = min(step, max_step, 0.25 * r)
        new, err, k7 = _dp_step(p, k1, step, sign, coef, nmax, sheet)
        error = max(abs(err[0]), abs(err[1]), abs(err[2]))
        if error > tol:
            step *= max(0.2, 0.9 * (tol / error) ** 0.2)
            continue
        if _inside(new, polar_ratio) <= 0.0:
            lo = 0.0
            hi = step
            best = new
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                q, _e, _k = _dp_step(p, k1, mid, sign, coef, nmax, sheet)
                if _inside(q, polar_ratio) > 0.0:
                    lo = mid
                else:
                    hi = mid
                    best = q
                if hi - lo < 1e-10:
                    break
            path[count] = best
            return count + 1, 1
        p = new
        k1 = k7
        path[count] = p
        count += 1
        if count >= path.shape[0] - 1 or r > r_max:
            return count, 0
        factor = 5.0 if error == 0.0 else min(5.0, 0.9 * (tol / error) ** 0.2)
        step *= max(0.2, factor)
    return count, 0


@jit()
def _apex(path_a, n_a, path_b, n_b) -> float:
    """Largest distance from the centre along the two halves (which share their first point),
    refined by a parabola through the three samples around it."""
    n = n_a + n_b - 1
    rs = np.empty(n)
    ss = np.empty(n)
    # order: half a reversed, then half b without its first point
    s = 0.0
    for i in range(n_a):
        q = path_a[n_a - 1 - i]
        rs[i] = np.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2])
        if i > 0:
            d = path_a[n_a - 1 - i] - path_a[n_a - i]
            s += np.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
        ss[i] = s
    for j in range(1, n_b):
        q = path_b[j]
        d = path_b[j] - path_b[j - 1]
        s += np.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
        rs[n_a - 1 + j] = np.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2])
        ss[n_a - 1 + j] = s
    k = int(np.argmax(rs))
    if k == 0 or k == n - 1:
        return rs[k]
    x0, x1, x2 = ss[k - 1], ss[k], ss[k + 1]
    y0, y1, y2 = rs[k - 1], rs[k], rs[k + 1]
    denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
    if denom == 0.0:
        return y1
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
    b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / denom
    if a >= 0.0:
        return y1
    xv = -b / (2.0 * a)
    c = y0 - a * x0 * x0 - b * x0
    return max(y1, a * xv * xv + b * xv + c)


@jit()
def _trace_many(points, coef, nmax, sheet, polar_ratio, tol, max_step, r_max, max_steps):
    out = np.full((points.shape[0], 5), np.nan)
    path_a = np.empty((max_steps + 2, 3))
    path_b = np.empty((max_steps + 2, 3))
    for i in range(points.shape[0]):
        start = points[i].copy()
        n_a, ok_a = _trace_half(start, 1.0, coef, nmax, sheet, polar_ratio, tol, max_step, r_max, max_steps, path_a)
        n_b, ok_b = _trace_half(start, -1.0, coef, nmax, sheet, polar_ratio, tol, max_step, r_max, max_steps, path_b)
        if ok_a == 0 or ok_b == 0:
            continue
        ends = (path_a[n_a - 1], path_b[n_b - 1])
        for end in ends:
            lat = np.arctan2(end[2], np.sqrt(end[0] * end[0] + end[1] * end[1]))
            lon = np.arctan2(end[1], end[0])
            if end[2] >= 0.0:
                out[i, 0] = lat
                out[i, 1] = lon
            else:
                out[i, 2] = lat
                out[i, 3] = lon
        out[i, 4] = _apex(path_a, n_a, path_b, n_b)
    return out
