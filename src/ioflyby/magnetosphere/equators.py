"""Magnetic and centrifugal latitude, and a simple Io plasma torus density model.

All positions are System III (``IAU_JUPITER``) Cartesian in R_J; angles in radians; longitudes
right-handed (east-positive) inside, as everywhere in ioflyby.

- Magnetic latitude: the angle between the position and the dipole equator of the internal
  model (JRM33's degree-1 coefficients: 10.25° tilt toward 196.4° W).
- Centrifugal equator: Phipps & Bagenal (2021, JGR Space Physics 126, e2020JA028713, eq. 2),
  the latitude of the plasma sheet's centre at cylindrical distance rho (R_J) and right-handed
  System III longitude phi:  lat_c = (a tanh(b rho - c) + d) sin(phi - e), with
  a = 1.66°, b = 0.131, c = 1.62, d = 7.76°, e = 249° (:data:`PHIPPS_BAGENAL_2021`). At Io's
  5.9 R_J the amplitude is 6.61°; the equator is highest (+) at phi = e + 90° = 339° E (21° W).
- Torus: equatorial electron density of Bagenal & Delamere (2011, JGR 116, A05209, eq. 1 —
  n = 1987 (rho/6)^-8.2 + 14 (rho/6)^-3.2 + 0.05 (rho/6)^-0.65 cm^-3, given for rho ≥ 6 R_J and
  extrapolated inward) spread about the centrifugal equator as exp(-(z_c/H)^2) with the
  centrifugal scale height H = sqrt(2 (kT_i + Z kT_e) / (3 m_i Omega^2)) (Hill & Michel 1976;
  Bagenal & Sullivan 1981) for T_i = 40 eV, Z T_e = 6.5 eV, m_i = 21 u (H = 0.94 R_J).
  A first-order description of where Io sits in its torus, not a torus model for science fits.
"""

from __future__ import annotations

import numpy as np

PHIPPS_BAGENAL_2021 = {"a_deg": 1.66, "b": 0.131, "c": 1.62, "d_deg": 7.76, "e_deg": 249.0}
"""Phipps & Bagenal (2021) eq. 2 parameters; ``e_deg`` is a right-handed (east) longitude."""

SYSTEM_III_PERIOD_S = 9 * 3600 + 55 * 60 + 29.711
"""System III (1965) rotation period (s), 870.536°/day (the IAU_JUPITER prime meridian rate)."""

TORUS = {"t_i_ev": 40.0, "z_t_e_ev": 6.5, "ion_mass_u": 21.0}
_EV_J = 1.602176634e-19
_U_KG = 1.66053906660e-27
_R_J_M = 71492e3


def magnetic_latitude(positions_rj: np.ndarray, dipole_unit: np.ndarray) -> np.ndarray:
    """Latitude (rad) relative to the dipole equator whose moment is along ``dipole_unit``."""
    p = np.asarray(positions_rj, dtype=float)
    r = np.linalg.norm(p, axis=-1)
    return np.arcsin(np.clip(p @ np.asarray(dipole_unit, dtype=float) / r, -1.0, 1.0))


def centrifugal_equator_latitude(rho_rj: np.ndarray, lon_east: np.ndarray) -> np.ndarray:
    """Latitude (rad) of the centrifugal equator at cylindrical distance ``rho_rj`` (R_J) and
    right-handed System III longitude ``lon_east`` (rad), Phipps & Bagenal (2021) eq. 2."""
    p = PHIPPS_BAGENAL_2021
    amplitude = np.radians(p["a_deg"] * np.tanh(p["b"] * np.asarray(rho_rj, dtype=float) - p["c"]) + p["d_deg"])
    return amplitude * np.sin(np.asarray(lon_east, dtype=float) - np.radians(p["e_deg"]))


def centrifugal_equator_amplitude(rho_rj: float | np.ndarray) -> np.ndarray:
    """Tilt (rad) of the centrifugal equator at ``rho_rj``: a tanh(b rho - c) + d."""
    p = PHIPPS_BAGENAL_2021
    return np.radians(p["a_deg"] * np.tanh(p["b"] * np.asarray(rho_rj, dtype=float) - p["c"]) + p["d_deg"])


def centrifugal_coordinates(positions_rj: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(centrifugal latitude (rad), distance from the centrifugal equator (R_J, + north of it))
    of System III positions (R_J): planetocentric latitude minus the equator's latitude there."""
    p = np.asarray(positions_rj, dtype=float)
    rho = np.hypot(p[..., 0], p[..., 1])
    r = np.linalg.norm(p, axis=-1)
    lat = np.arctan2(p[..., 2], rho)
    lon = np.arctan2(p[..., 1], p[..., 0])
    centrifugal_lat = lat - centrifugal_equator_latitude(rho, lon)
    return centrifugal_lat, r * np.sin(centrifugal_lat)


def torus_scale_height_rj() -> float:
    """Centrifugal scale height H (R_J) of the torus model (:data:`TORUS` parameters)."""
    omega = 2 * np.pi / SYSTEM_III_PERIOD_S
    energy = (TORUS["t_i_ev"] + TORUS["z_t_e_ev"]) * _EV_J
    return float(np.sqrt(2 * energy / (3 * TORUS["ion_mass_u"] * _U_KG * omega**2)) / _R_J_M)


def torus_equatorial_density(rho_rj: np.ndarray) -> np.ndarray:
    """Electron density (cm^-3) at the centrifugal equator, Bagenal & Delamere (2011) eq. 1."""
    x = np.asarray(rho_rj, dtype=float) / 6.0
    return 1987.0 * x**-8.2 + 14.0 * x**-3.2 + 0.05 * x**-0.65


def torus_density(positions_rj: np.ndarray) -> np.ndarray:
    """Model electron density (cm^-3) at System III positions (R_J)."""
    p = np.asarray(positions_rj, dtype=float)
    rho = np.hypot(p[..., 0], p[..., 1])
    _, height = centrifugal_coordinates(p)
    return torus_equatorial_density(rho) * np.exp(-((height / torus_scale_height_rj()) ** 2))
