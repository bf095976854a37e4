"""Jupiter's magnetic field: JRM33 internal field + Connerney (2020) current sheet, compiled.

Coordinates: right-handed System III (``IAU_JUPITER``) Cartesian, in Jupiter radii
(:data:`R_J_KM` = 71,492 km, the reference radius of the JRM models); field in nT, same axes.

- Internal field: the Schmidt semi-normalised spherical-harmonic series of JRM33 (Connerney et al.
  2022, JGR Planets 127, e2021JE007055) with the coefficients shipped by the ``jrm33`` package
  (MIT), evaluated here by our own numba code (the ``jrm33`` package is the independent check,
  tests/test_magnetosphere.py). Degree 13 by default, the package's and the MOP community code's
  default (Wilson et al. 2023, Space Sci. Rev. 219, 15).
- Current sheet: Connerney et al. (2020, JGR Space Physics 125, e2020JA028138), the analytic
  (Edwards et al. 2001, PSS 49, 1115) form with the ``con2020`` package's (MIT) default
  parameters, ported to numba; ``con2020``'s own integral and hybrid modes are the checks.

The dipole of a model (degree 1) gives the magnetic latitude: :func:`dipole_axis`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from ioflyby._numba import jit
from ioflyby.errors import IoflybyError

R_J_KM = 71492.0
"""Jupiter's equatorial radius (km), the reference radius of JRM33 and Con2020."""

JRM33_DEFAULT_DEGREE = 13

CON2020_DEFAULTS = {
    "mu_i": 139.6,  # mu0 I0 / 2, nT
    "i_rho": 16.7,  # radial current, MA
    "r0": 7.8,  # inner edge, R_J
    "r1": 51.4,  # outer edge, R_J
    "d": 3.6,  # half thickness, R_J
    "xt": 9.3,  # tilt of the sheet, degrees
    "xp": 155.8,  # right-handed (east) longitude of the tilt, degrees
}
"""Connerney et al. (2020) current-sheet parameters, as the ``con2020`` package's defaults."""

_DELTA_RHO = 1.0  # con2020's smoothing scale between the small- and large-rho forms (R_J)


class FieldModelError(IoflybyError):
    """A field model cannot be built (coefficients missing, degree out of range)."""


@cache
def jrm33_coefficients() -> tuple[np.ndarray, np.ndarray]:
    """JRM33's Schmidt semi-normalised Gauss coefficients (nT) as ``(g, h)``, each
    ``[n, m]`` for n = 0..30 (row 0 unused), read from the ``jrm33`` package's data file."""
    try:
        import jrm33
    except ImportError:  # pragma: no cover - a hard dependency
        raise FieldModelError("the jrm33 package is missing: pip install 'jrm33>=1.0.3'") from None
    path = Path(jrm33.__file__).parent / "__data" / "coeffs.dat"
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    nmax = max(int(row[1]) for row in rows)
    g = np.zeros((nmax + 1, nmax + 1))
    h = np.zeros((nmax + 1, nmax + 1))
    for kind, n, m, value in rows:
        (g if kind == "g" else h)[int(n), int(m)] = float(value)
    g.setflags(write=False)
    h.setflags(write=False)
    return g, h


@dataclass(frozen=True)
class FieldModel:
    """A field model: internal spherical harmonics (``g``, ``h`` to ``degree``) plus, optionally,
    the Con2020 current sheet with ``current_sheet`` parameters (:data:`CON2020_DEFAULTS` keys).

    ``FieldModel.jrm33_con2020()`` is the default; ``FieldModel.jrm33(current_sheet=False)`` is the
    internal field alone; ``FieldModel.dipole(g10, g11, h11)`` a pure dipole (tests, checks).
    """

    name: str
    g: np.ndarray
    h: np.ndarray
    degree: int
    current_sheet: dict[str, float] | None = field(default=None)

    @classmethod
    def jrm33(cls, degree: int = JRM33_DEFAULT_DEGREE, current_sheet: bool = False) -> FieldModel:
        g, h = jrm33_coefficients()
        if not 1 <= degree <= g.shape[0] - 1:
            raise FieldModelError(f"JRM33 degree must be 1..{g.shape[0] - 1}, got {degree}")
        sheet = dict(CON2020_DEFAULTS) if current_sheet else None
        name = f"JRM33 (degree {degree})" + (" + Con2020" if sheet else "")
        return cls(name, g, h, degree, sheet)

    @classmethod
    def jrm33_con2020(cls, degree: int = JRM33_DEFAULT_DEGREE) -> FieldModel:
        return cls.jrm33(degree, current_sheet=True)

    @classmethod
    def dipole(cls, g10: float, g11: float = 0.0, h11: float = 0.0) -> FieldModel:
        g = np.zeros((2, 2))
        h = np.zeros((2, 2))
        g[1, 0], g[1, 1], h[1, 1] = g10, g11, h11
        return cls("dipole", g, h, 1, None)

    def packed(self) -> np.ndarray:
        """The coefficients and recursion constants for the compiled code (cached)."""
        cached = self.__dict__.get("_packed")
        if cached is None:
            cached = pack_coefficients(self.g, self.h, self.degree)
            object.__setattr__(self, "_packed", cached)
        return cached

    def sheet_parameters(self) -> np.ndarray:
        """The current sheet as a float array for the compiled code (all zero when absent)."""
        if self.current_sheet is None:
            return np.zeros(7)
        p = self.current_sheet
        return np.array([p["mu_i"], p["i_rho"], p["r0"], p["r1"], p["d"], np.radians(p["xt"]), np.radians(p["xp"])])

    def field(self, positions_rj: np.ndarray) -> np.ndarray:
        """Field (nT, System III Cartesian) at ``positions_rj`` (..., 3) in R_J, System III."""
        points = np.asarray(positions_rj, dtype=float)
        flat = np.ascontiguousarray(points.reshape(-1, 3))
        out = _field_many(flat, self.packed(), self.degree, self.sheet_parameters())
        return out.reshape(points.shape)

    def internal_field(self, positions_rj: np.ndarray) -> np.ndarray:
        """The spherical-harmonic part alone (nT), same conventions as :meth:`field`."""
        points = np.asarray(positions_rj, dtype=float)
        flat = np.ascontiguousarray(points.reshape(-1, 3))
        return _field_many(flat, self.packed(), self.degree, np.zeros(7)).reshape(points.shape)

    def sheet_field(self, positions_rj: np.ndarray) -> np.ndarray:
        """The current-sheet part alone (nT); zeros when the model has none."""
        points = np.asarray(positions_rj, dtype=float)
        flat = np.ascontiguousarray(points.reshape(-1, 3))
        out = np.zeros_like(flat)
        params = self.sheet_parameters()
        if params[0] != 0.0:
            for i in range(flat.shape[0]):
                out[i] = _con2020(flat[i, 0], flat[i, 1], flat[i, 2], params)
        return out.reshape(points.shape)


def dipole_axis(g: np.ndarray, h: np.ndarray) -> tuple[float, float]:
    """The dipole of a spherical-harmonic model: (tilt from the spin axis, right-handed (east)
    longitude toward which the northern end tilts), radians. The dipole moment is along
    (g11, h11, g10) in System III Cartesian."""
    moment = dipole_unit_vector(g, h)
    tilt = float(np.arccos(moment[2]))
    lon_east = float(np.arctan2(moment[1], moment[0]) % (2 * np.pi))
    return tilt, lon_east


def dipole_unit_vector(g: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Unit vector (System III Cartesian) of the degree-1 dipole moment of (g, h)."""
    vector = np.array([g[1, 1], h[1, 1], g[1, 0]], dtype=float)
    return vector / np.linalg.norm(vector)


# -- compiled kernels ----------------------------------------------------------------------------


def pack_coefficients(g: np.ndarray, h: np.ndarray, degree: int) -> np.ndarray:
    """(degree+1, degree+1, 4) array for the compiled series: g, h and the two constants of the
    Schmidt semi-normalised Legendre recursion (for m = n: sqrt((2n-1)/(2n)) in slot 2)."""
    out = np.zeros((degree + 1, degree + 1, 4))
    out[:, :, 0] = g[: degree + 1, : degree + 1]
    out[:, :, 1] = h[: degree + 1, : degree + 1]
    for n in range(1, degree + 1):
        out[n, n, 2] = np.sqrt((2.0 * n - 1.0) / (2.0 * n))
        for m in range(n):
            a = np.sqrt(float(n * n - m * m))
            out[n, m, 2] = (2.0 * n - 1.0) / a
            out[n, m, 3] = np.sqrt(float(max((n - 1) * (n - 1) - m * m, 0))) / a
    out.setflags(write=False)
    return out


@jit()
def _internal(x: float, y: float, z: float, coef: np.ndarray, nmax: int) -> np.ndarray:
    """Spherical-harmonic field (nT, Cartesian System III) at (x, y, z) R_J; ``coef`` from
    :func:`pack_coefficients`. B = -grad V, V = a sum (a/r)^(n+1) (g cos m phi + h sin m phi) P_n^m."""
    rho2 = x * x + y * y
    r = np.sqrt(rho2 + z * z)
    rho = np.sqrt(rho2)
    cost = z / r
    sint = rho / r
    if rho > 0.0:
        cosp = x / rho
        sinp = y / rho
    else:
        cosp = 1.0
        sinp = 0.0
    size = nmax + 1
    p = np.zeros((size, size))
    dp = np.zeros((size, size))
    cosm = np.empty(size)
    sinm = np.empty(size)
    cosm[0] = 1.0
    sinm[0] = 0.0
    for m in range(1, size):
        cosm[m] = cosm[m - 1] * cosp - sinm[m - 1] * sinp
        sinm[m] = sinm[m - 1] * cosp + cosm[m - 1] * sinp
    p[0, 0] = 1.0
    br = 0.0
    bt = 0.0
    bp = 0.0
    inv_r = 1.0 / r
    scale = inv_r * inv_r
    for n in range(1, size):
        if n == 1:
            p[1, 1] = sint
            dp[1, 1] = cost
        else:
            k = coef[n, n, 2]
            p[n, n] = k * sint * p[n - 1, n - 1]
            dp[n, n] = k * (cost * p[n - 1, n - 1] + sint * dp[n - 1, n - 1])
        for m in range(n):
            a = coef[n, m, 2]
            b = coef[n, m, 3]
            if n >= 2:
                p[n, m] = a * cost * p[n - 1, m] - b * p[n - 2, m]
                dp[n, m] = a * (cost * dp[n - 1, m] - sint * p[n - 1, m]) - b * dp[n - 2, m]
            else:
                p[n, m] = a * cost * p[n - 1, m]
                dp[n, m] = a * (cost * dp[n - 1, m] - sint * p[n - 1, m])
        scale *= inv_r  # (a/r)^(n+2)
        sr = 0.0
        st = 0.0
        sp = 0.0
        for m in range(n + 1):
            g = coef[n, m, 0]
            h = coef[n, m, 1]
            gc = g * cosm[m] + h * sinm[m]
            sr += gc * p[n, m]
            st += gc * dp[n, m]
            sp += m * (g * sinm[m] - h * cosm[m]) * p[n, m]
        br += (n + 1.0) * scale * sr
        bt -= scale * st
        bp += scale * sp
    bp = bp / max(sint, 1e-12)
    out = np.empty(3)
    out[0] = br * sint * cosp + bt * cost * cosp - bp * sinp
    out[1] = br * sint * sinp + bt * cost * sinp + bp * cosp
    out[2] = br * cost - bt * sint
    return out


@jit()
def _edwards(rho: float, z: float, d: float, a: float, mui2: float) -> tuple[float, float]:
    """(B_rho, B_z) of a semi-infinite current sheet of inner edge ``a`` (Edwards et al. 2001,
    eqs. 9a-b and 13a-b, joined by a tanh of width 1 R_J as in ``con2020``)."""
    zpd = z + d
    zmd = z - d
    a2 = a * a
    zmd2 = zmd * zmd
    zpd2 = zpd * zpd
    # small-rho form
    f1 = np.sqrt(zmd2 + a2)
    f2 = np.sqrt(zpd2 + a2)
    f1c = f1 * f1 * f1
    f2c = f2 * f2 * f2
    half = rho / 2.0
    half2 = half * half
    cube16 = half2 * half / 2.0
    f3 = (a2 - 2.0 * zmd2) / (f1 * f1 * f1 * f1 * f1)
    f4 = (a2 - 2.0 * zpd2) / (f2 * f2 * f2 * f2 * f2)
    brho_s = mui2 * (half * (1.0 / f1 - 1.0 / f2) + cube16 * (f3 - f4))
    bz_s = mui2 * (np.log((zpd + f2) / (zmd + f1)) + half2 * (zpd / f2c - zmd / f1c))
    # large-rho form
    rho2 = rho * rho
    g1 = np.sqrt(zmd2 + rho2)
    g2 = np.sqrt(zpd2 + rho2)
    g1c = g1 * g1 * g1
    g2c = g2 * g2 * g2
    zc = min(max(z, -d), d)
    if rho > 0.0:
        brho_l = mui2 * ((g1 - g2) / rho + rho * a2 / 4.0 * (1.0 / g2c - 1.0 / g1c) + 2.0 / rho * zc)
    else:
        brho_l = 0.0
    den = zmd + g1
    term = np.log((zpd + g2) / den) if den != 0.0 else 0.0
    bz_l = mui2 * (term + a2 / 4.0 * (zpd / g2c - zmd / g1c))
    t = np.tanh((rho - a) / _DELTA_RHO)
    return brho_s * (1.0 - t) / 2.0 + brho_l * (1.0 + t) / 2.0, bz_s * (1.0 - t) / 2.0 + bz_l * (1.0 + t) / 2.0


@jit()
def _con2020(x: float, y: float, z: float, params: np.ndarray) -> np.ndarray:
    """Con2020 current-sheet field (nT, Cartesian System III) at (x, y, z) R_J, analytic form.

    ``params``: mu_i (nT), i_rho (MA), r0, r1, d (R_J), tilt and tilt longitude (rad)."""
    mui, irho, r0, r1, d, xt, xp = params[0], params[1], params[2], params[3], params[4], params[5], params[6]
    shift = xp - np.pi
    cxp = np.cos(shift)
    sxp = np.sin(shift)
    cxt = np.cos(xt)
    sxt = np.sin(xt)
    # System III -> current-sheet coordinates
    xr = x * cxp + y * sxp
    y1 = y * cxp - x * sxp
    x1 = xr * cxt + z * sxt
    z1 = z * cxt - xr * sxt
    rho1 = np.sqrt(x1 * x1 + y1 * y1)
    brho_in, bz_in = _edwards(rho1, z1, d, r0, mui)
    brho_out, bz_out = _edwards(rho1, z1, d, r1, mui)
    brho = brho_in - brho_out
    bz = bz_in - bz_out
    if rho1 > 0.0:
        bphi = 2.7975 * irho / rho1
        az = abs(z1)
        if az < d:
            bphi *= az / d
        if z1 > 0.0:
            bphi = -bphi
        cphi = x1 / rho1
        sphi = y1 / rho1
    else:
        bphi = 0.0
        cphi = 1.0
        sphi = 0.0
    bx1 = brho * cphi - bphi * sphi
    by1 = brho * sphi + bphi * cphi
    if rho1 == 0.0:
        bx1 = 0.0
        by1 = 0.0
    bxr = bx1 * cxt - bz * sxt
    out = np.empty(3)
    out[2] = bx1 * sxt + bz * cxt
    out[0] = bxr * cxp - by1 * sxp
    out[1] = by1 * cxp + bxr * sxp
    return out


@jit()
def _field_at(x: float, y: float, z: float, coef: np.ndarray, nmax: int, sheet: np.ndarray) -> np.ndarray:
    """Internal + (when ``sheet[0]`` ≠ 0) current-sheet field, nT, System III Cartesian."""
    out = _internal(x, y, z, coef, nmax)
    if sheet[0] != 0.0:
        out += _con2020(x, y, z, sheet)
    return out


@jit()
def _field_many(points: np.ndarray, coef: np.ndarray, nmax: int, sheet: np.ndarray) -> np.ndarray:
    out = np.empty_like(points)
    for i in range(points.shape[0]):
        out[i] = _field_at(points[i, 0], points[i, 1], points[i, 2], coef, nmax, sheet)
    return out
