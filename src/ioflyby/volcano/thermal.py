"""Thermal emission seen through JunoCam's filters: Planck's law, the band passbands, band-averaged
radiance, brightness and colour temperature, emitting area and power — and the nominal JunoCam
radiometry that turns radiance into DN (shared by the twin's renderer and the hot-spot fit).

Units: wavelengths in nm, spectral radiance in W m⁻² sr⁻¹ nm⁻¹, temperatures in K, areas in km²,
powers in W (``power_gw`` in GW).

Passbands (ISIS JunoCam filter table, centre / width in nm): BLUE 480.1 / 45.5, GREEN 553.5 / 79.3,
RED 698.9 / 175.4; METHANE 889 / 20 (a narrow band; the width is an assumption). Each is modelled
as a top-hat of that width, so a band's radiance is the mean of B_λ(T) over it (Gauss–Legendre,
:data:`QUADRATURE_POINTS` nodes).

Radiometry (documented approximations, the same in the twin and the fit): a band records
``RESPONSIVITY_DN`` DN per unit I/F per TDI stage at 5.2 AU from the Sun, with the solar spectral
irradiance at 1 AU of ``SOLAR_IRRADIANCE_1AU`` (W m⁻² nm⁻¹) in the band. A radiance L then gives
``L · π · 5.2² / F_1AU`` I/F-units at any solar distance, i.e. :func:`radiance_gain` DN per TDI stage
per unit radiance — a property of the camera alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

PLANCK_H = 6.62607015e-34
SPEED_OF_LIGHT_M_S = 299792458.0
BOLTZMANN_K = 1.380649e-23
STEFAN_BOLTZMANN = 5.670374419e-8
"""W m⁻² K⁻⁴."""
QUADRATURE_POINTS = 24
REFERENCE_SUN_DISTANCE_AU = 5.2
RESPONSIVITY_DN = {"BLUE": 550.0, "GREEN": 800.0, "RED": 800.0, "METHANE": 60.0}
"""DN per unit I/F per TDI stage at 5.2 AU (nominal JunoCam radiometry of the twin)."""
SOLAR_IRRADIANCE_1AU = {"BLUE": 2.05, "GREEN": 1.86, "RED": 1.40, "METHANE": 0.95}
"""Solar spectral irradiance in each band at 1 AU, W m⁻² nm⁻¹."""
JUNOCAM_PSF_SIGMA_PX = 0.6
"""JunoCam's point-spread function as the twin renders it and the fit assumes: a Gaussian of this
standard deviation (px), FWHM 1.4 px (an assumption, not a measured value)."""
TEMPERATURE_RANGE_K = (150.0, 5000.0)
"""Brightness and colour temperatures are searched in this range."""
TABLE_POINTS = 8192
"""Temperatures (log-spaced over the range) at which ln L_band is tabulated for the inversions:
linear interpolation in ln T is then exact to ≈ 1e-7."""


@dataclass(frozen=True)
class Passband:
    """A filter modelled as a top-hat: centre and width in nm."""

    name: str
    centre_nm: float
    width_nm: float

    def nodes(self) -> tuple[np.ndarray, np.ndarray]:
        """Gauss–Legendre wavelengths (nm) and weights summing to 1 across the band."""
        x, w = _legendre()
        return self.centre_nm + 0.5 * self.width_nm * x, 0.5 * w


@lru_cache(maxsize=1)
def _legendre() -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(QUADRATURE_POINTS)


PASSBANDS: dict[str, Passband] = {
    "BLUE": Passband("BLUE", 480.1, 45.5),
    "GREEN": Passband("GREEN", 553.5, 79.3),
    "RED": Passband("RED", 698.9, 175.4),
    "METHANE": Passband("METHANE", 889.0, 20.0),
}


def planck_radiance(wavelength_nm: np.ndarray | float, temperature_k: np.ndarray | float) -> np.ndarray:
    """Black-body spectral radiance B_λ(T), W m⁻² sr⁻¹ nm⁻¹ (broadcasts; 0 where T ≤ 0)."""
    lam = np.asarray(wavelength_nm, float) * 1e-9
    t = np.asarray(temperature_k, float)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        x = PLANCK_H * SPEED_OF_LIGHT_M_S / (lam * BOLTZMANN_K * t)
        value = 2 * PLANCK_H * SPEED_OF_LIGHT_M_S**2 / lam**5 / np.expm1(x) * 1e-9
    return np.where((t > 0) & np.isfinite(value), value, 0.0)


def band_radiance(band: str, temperature_k: np.ndarray | float) -> np.ndarray:
    """Mean of B_λ(T) over ``band``'s passband, W m⁻² sr⁻¹ nm⁻¹ (broadcasts over temperature)."""
    wavelengths, weights = passband(band).nodes()
    t = np.asarray(temperature_k, float)
    return np.tensordot(planck_radiance(wavelengths, t[..., None]), weights, axes=([-1], [0]))


def log_slope(band: str, temperature_k: np.ndarray | float) -> np.ndarray:
    """d ln L_band / d ln T at ``temperature_k`` (≈ hc/λkT in Wien's regime): how a relative
    temperature error becomes a relative radiance error."""
    t = np.asarray(temperature_k, float)
    step = 1e-4
    return (np.log(band_radiance(band, t * (1 + step))) - np.log(band_radiance(band, t * (1 - step)))) / (2 * step)


def passband(band: str) -> Passband:
    """The passband of ``band`` (KeyError names the known bands)."""
    try:
        return PASSBANDS[band.upper()]
    except KeyError:
        raise KeyError(f"no passband for {band!r}: known bands {', '.join(PASSBANDS)}") from None


def radiance_gain(band: str) -> float:
    """DN per TDI stage recorded for a band-averaged radiance of 1 W m⁻² sr⁻¹ nm⁻¹ filling a pixel."""
    name = band.upper()
    return RESPONSIVITY_DN[name] * math.pi * REFERENCE_SUN_DISTANCE_AU**2 / SOLAR_IRRADIANCE_1AU[name]


@lru_cache(maxsize=None)
def _log_radiance_table(band: str) -> tuple[np.ndarray, np.ndarray]:
    """(ln T, ln L_band(T)) on :data:`TABLE_POINTS` temperatures spanning :data:`TEMPERATURE_RANGE_K`."""
    log_t = np.linspace(*np.log(TEMPERATURE_RANGE_K), TABLE_POINTS)
    with np.errstate(divide="ignore"):
        return log_t, np.log(band_radiance(band, np.exp(log_t)))


def _invert(log_t: np.ndarray, values: np.ndarray, target: float) -> float:
    """T where the increasing tabulated ``values`` (over ``log_t``) reach ``target``; NaN outside."""
    usable = np.isfinite(values)
    values, log_t = values[usable], log_t[usable]
    if not values[0] <= target <= values[-1]:
        return math.nan
    return float(np.exp(np.interp(target, values, log_t)))


def brightness_temperature(band: str, radiance: float) -> float:
    """Temperature of a black body filling the pixel with band radiance ``radiance``; NaN if ≤ 0
    or outside :data:`TEMPERATURE_RANGE_K`. A lower bound of the true temperature of a source
    smaller than the pixel."""
    if not radiance > 0:
        return math.nan
    log_t, log_l = _log_radiance_table(band.upper())
    return _invert(log_t, log_l, math.log(radiance))


def colour_temperature(short_band: str, long_band: str, ratio: float) -> float:
    """Temperature at which L_short / L_long equals ``ratio`` (band-averaged radiances or
    intensities, any common unit; the ratio grows with T); NaN when no temperature in range gives it."""
    if not ratio > 0:
        return math.nan
    log_t, short = _log_radiance_table(short_band.upper())
    _, long = _log_radiance_table(long_band.upper())
    return _invert(log_t, short - long, math.log(ratio))


def power_w(temperature_k: np.ndarray | float, area_km2: np.ndarray | float) -> np.ndarray:
    """Total black-body output σ T⁴ A of an emitting area, W."""
    return STEFAN_BOLTZMANN * np.asarray(temperature_k, float) ** 4 * np.asarray(area_km2, float) * 1e6
