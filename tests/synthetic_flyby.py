"""Small synthetic SPKs with known geometry, for tests, benchmarks and demonstrations.

Not the digital twin (that is ``ioflyby.simulate``): these are analytic trajectories whose
closest approaches are known in closed form — a Keplerian orbit (perijoves at ``t_p + k·P``,
distance ``a(1 - e)``) and a straight-line flyby (closest approach ``b`` at ``t0``). States are
sampled as :class:`ioflyby.spice.SpkSegment` (J2000, km and km/s, ET seconds TDB) and written
as SPK type 13 by :func:`ioflyby.spice.write_spk`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import spiceypy

from ioflyby.spice.writers import SpkSegment


@dataclass(frozen=True)
class KeplerOrbit:
    """Elliptic orbit: periapsis radius ``rp_km``, eccentricity, inclination/node/argument
    (radians, J2000), periapsis epoch ``tp_et`` (s TDB) and ``mu`` (km³/s²)."""

    rp_km: float
    ecc: float
    inc: float
    node: float
    argp: float
    tp_et: float
    mu: float

    @property
    def semi_major_km(self) -> float:
        """Semi-major axis a = rp / (1 - e), km."""
        return self.rp_km / (1.0 - self.ecc)

    @property
    def period_s(self) -> float:
        """Orbital period 2π √(a³/μ), s."""
        return 2 * math.pi * math.sqrt(self.semi_major_km**3 / self.mu)

    def elements(self) -> np.ndarray:
        """SPICE ``conics`` element vector (mean anomaly 0 at ``tp_et``)."""
        return np.array([self.rp_km, self.ecc, self.inc, self.node, self.argp, 0.0, self.tp_et, self.mu])

    @classmethod
    def from_period(cls, period_s: float, rp_km: float, mu: float, tp_et: float,
                    inc: float = math.pi / 2, node: float = 0.0, argp: float = math.pi * 1.5) -> KeplerOrbit:
        """Orbit with the given period and periapsis radius (polar by default)."""
        a = (mu * (period_s / (2 * math.pi)) ** 2) ** (1 / 3)
        return cls(rp_km, 1.0 - rp_km / a, inc, node, argp, tp_et, mu)


def kepler_epochs(orbit: KeplerOrbit, start_et: float, stop_et: float, per_orbit: int = 1000) -> np.ndarray:
    """Epochs (ET) spaced uniformly in eccentric anomaly, ``per_orbit`` per revolution, so that
    samples crowd near periapsis where the motion is fast; ``start_et`` and ``stop_et`` included."""
    e, period = orbit.ecc, orbit.period_s
    k0 = math.floor((start_et - orbit.tp_et) / period)
    k1 = math.ceil((stop_et - orbit.tp_et) / period)
    big_e = np.linspace(0.0, 2 * math.pi, per_orbit, endpoint=False)
    mean = big_e - e * np.sin(big_e)
    base = mean / (2 * math.pi) * period
    epochs = np.concatenate([orbit.tp_et + k * period + base for k in range(k0, k1 + 1)])
    epochs = epochs[(epochs > start_et) & (epochs < stop_et)]
    return np.concatenate([[start_et], epochs, [stop_et]])


def kepler_segment(body: int, center: int, orbit: KeplerOrbit, start_et: float, stop_et: float,
                   per_orbit: int = 1000) -> SpkSegment:
    """Sampled two-body states of ``body`` about ``center`` from SPICE ``conics``."""
    epochs = kepler_epochs(orbit, start_et, stop_et, per_orbit)
    elts = orbit.elements()
    states = np.array([spiceypy.conics(elts, float(et)) for et in epochs])
    return SpkSegment(body, center, epochs, states)


def linear_segment(body: int, center: int, ca_position_km: Sequence[float], velocity_km_s: Sequence[float],
                   t0_et: float, half_width_s: float, step_s: float) -> SpkSegment:
    """Straight-line motion ``r(t) = r0 + v (t - t0)`` of ``body`` about ``center``; with
    ``r0 ⟂ v`` the closest approach is at ``t0`` at distance ``|r0|``."""
    r0, v = np.asarray(ca_position_km, float), np.asarray(velocity_km_s, float)
    n = int(math.ceil(half_width_s / step_s))
    epochs = t0_et + np.arange(-n, n + 1) * step_s
    states = np.hstack([r0 + np.outer(epochs - t0_et, v), np.tile(v, (len(epochs), 1))])
    return SpkSegment(body, center, epochs, states)


def fixed_segment(body: int, center: int, position_km: Sequence[float], start_et: float, stop_et: float) -> SpkSegment:
    """``body`` at rest at ``position_km`` from ``center`` over [start, stop] (ET)."""
    epochs = np.linspace(start_et, stop_et, 9)
    states = np.tile(np.concatenate([np.asarray(position_km, float), np.zeros(3)]), (len(epochs), 1))
    return SpkSegment(body, center, epochs, states)
