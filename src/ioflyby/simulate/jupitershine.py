"""Jupiter-shine: sunlight reflected by Jupiter onto the target (what lights Io's night side).

Jupiter is treated as a Lambert sphere seen from the target's centre: its irradiance at the target,
as a fraction of the sunlight there, is ``p_band · Φ(α) · (R_J / d)²`` with ``p_band`` Jupiter's
full-disc geometric albedo in the band (:data:`JUPITER_GEOMETRIC_ALBEDO`, approximate values read
from Karkoschka's 1994 full-disc albedo spectrum; low in the 889 nm methane band), ``Φ(α) =
(sin α + (π − α) cos α) / π`` the Lambert-sphere phase function at Jupiter's phase angle α (Sun –
Jupiter – target), R_J Jupiter's mean radius and d the target–Jupiter distance. Jupiter's solar
distance is taken equal to the target's (they differ by < 0.1 %). At Io (d ≈ 5.9 R_J) that is
1.4 % of sunlight at full phase and ≈ 0.9 % at α = 60°. Each surface point is lit from Jupiter's
centre (cosine of the angle to it); Jupiter's 19° disc and its partial rising over the horizon
are ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import spiceypy

from ioflyby.spice import spice_errors

JUPITER_MEAN_RADIUS_KM = 69911.0
JUPITER_GEOMETRIC_ALBEDO = {"BLUE": 0.46, "GREEN": 0.50, "RED": 0.50, "METHANE": 0.10}


def lambert_phase_function(phase_rad: float) -> float:
    """Φ(α) of a Lambert sphere, normalised to 1 at α = 0."""
    return (math.sin(phase_rad) + (math.pi - phase_rad) * math.cos(phase_rad)) / math.pi


@dataclass(frozen=True)
class JupiterLight:
    """Jupiter seen from the target at one epoch: its centre in the body-fixed frame (km from the
    target's centre), its phase angle (rad) and distance (km)."""

    position_km: np.ndarray
    phase_rad: float
    distance_km: float

    def fraction_of_sunlight(self, band: str) -> float:
        """Jupiter's irradiance at the target / the Sun's, in ``band``."""
        return (JUPITER_GEOMETRIC_ALBEDO[band] * lambert_phase_function(self.phase_rad)
                * (JUPITER_MEAN_RADIUS_KM / self.distance_km) ** 2)

    def cosines(self, points: np.ndarray, normals: np.ndarray) -> np.ndarray:
        """Cosine of the angle between each surface normal and the direction to Jupiter (≥ 0)."""
        to_jupiter = self.position_km - points
        cos = np.einsum("ij,ij->i", normals, to_jupiter) / np.linalg.norm(to_jupiter, axis=1)
        return np.clip(cos, 0.0, None)


def jupiter_light(target: str, body_frame: str, et: float) -> JupiterLight:
    """Jupiter as seen from ``target`` at ``et`` (the time light leaves the surface), from the
    loaded kernels (LT+S)."""
    with spice_errors(f"locating Jupiter from {target}"):
        position = np.asarray(spiceypy.spkpos("JUPITER", et, body_frame, "LT+S", target)[0], float)
        to_sun = np.asarray(spiceypy.spkpos("SUN", et, "J2000", "LT+S", "JUPITER")[0], float)
        to_target = np.asarray(spiceypy.spkpos(target, et, "J2000", "LT+S", "JUPITER")[0], float)
    return JupiterLight(position, float(spiceypy.vsep(to_sun, to_target)), float(np.linalg.norm(position)))
