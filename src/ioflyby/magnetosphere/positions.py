"""Positions relative to Jupiter in System III (``IAU_JUPITER``) from SPICE, many ETs at once.

``IAU_JUPITER`` (the PCK's prime meridian rate 870.536°/day) is System III (1965). Positions are
geometric (no light time: the magnetospheric context of a body is where it *is* at ET).

SPICE is called per time step, never per sample of a long series: for a natural body (and the
Sun) on a dense series, states are computed at knots no more than ``knot_step_s`` apart (600 s for
moons, 3600 s for the Sun) and the positions between them by cubic Hermite interpolation of
position and velocity in the rotating frame; the interpolation error is below 0.05 km for Io and
below 0.5 km for the Sun's 7.8e8 km (analytic bound h^4 |x''''| / 384 with the synodic rate;
measured in tests/test_magnetosphere.py). A spacecraft (negative NAIF id) is computed at every
sample: its trajectory near perijove is not smooth on those scales.
"""

from __future__ import annotations

import numpy as np
import spiceypy

from ioflyby.spice import body_id, body_name, spice_errors

FRAME = "IAU_JUPITER"
CENTRE = "JUPITER"
MOON_KNOT_S = 600.0
SUN_KNOT_S = 3600.0


def default_knot_step(naif_id: int) -> float:
    """Knot spacing (s) for a body: 0 (every sample) for spacecraft and Jupiter's barycentre."""
    if naif_id < 0 or naif_id in (5, 599):
        return 0.0
    return SUN_KNOT_S if naif_id == 10 else MOON_KNOT_S


def jovian_positions_km(body: str | int, ets: np.ndarray, knot_step_s: float | None = None) -> np.ndarray:
    """Positions (n, 3) km of ``body`` relative to Jupiter in IAU_JUPITER at ``ets`` (s past
    J2000 TDB), geometric. Kernels must be loaded; CoverageError names what is missing."""
    naif = body_id(body)
    ets = np.atleast_1d(np.asarray(ets, dtype=float))
    step = default_knot_step(naif) if knot_step_s is None else float(knot_step_s)
    name = body_name(naif)
    with spice_errors(f"computing the position of {name} relative to Jupiter in {FRAME}"):
        if ets.size == 0:
            return np.zeros((0, 3))
        start, stop = float(ets.min()), float(ets.max())
        count = int(np.ceil((stop - start) / step)) + 1 if step > 0 else 0
        if step <= 0 or count < 2 or 4 * count > ets.size:
            return _states(naif, ets)[:, :3]
        knots = np.linspace(start, stop, count)
        return hermite(knots, _states(naif, knots), ets)


def _states(naif: int, ets: np.ndarray) -> np.ndarray:
    states, _ = spiceypy.spkezr(str(naif), ets, FRAME, "NONE", CENTRE)
    return np.asarray(states, dtype=float).reshape(-1, 6)


def hermite(knots: np.ndarray, states: np.ndarray, ets: np.ndarray) -> np.ndarray:
    """Cubic Hermite interpolation of positions from (position, velocity) ``states`` (k, 6) at
    ascending ``knots`` to ``ets``; (n, 3)."""
    index = np.clip(np.searchsorted(knots, ets, side="right") - 1, 0, knots.size - 2)
    t0 = knots[index]
    h = knots[index + 1] - t0
    s = ((ets - t0) / h)[:, None]
    s2 = s * s
    s3 = s2 * s
    h00 = 2 * s3 - 3 * s2 + 1
    h10 = s3 - 2 * s2 + s
    h01 = -2 * s3 + 3 * s2
    h11 = s3 - s2
    p0 = states[index, :3]
    v0 = states[index, 3:]
    p1 = states[index + 1, :3]
    v1 = states[index + 1, 3:]
    hh = h[:, None]
    return h00 * p0 + h10 * hh * v0 + h01 * p1 + h11 * hh * v1


def jupiter_radii_km() -> np.ndarray:
    """Jupiter's (a, b, c) radii (km) from the loaded PCK."""
    with spice_errors("reading Jupiter's radii (BODY599_RADII) from the PCK"):
        return np.asarray(spiceypy.bodvrd("JUPITER", "RADII", 3)[1], dtype=float)


def in_shadow(positions_km: np.ndarray, sun_km: np.ndarray, radii_km: np.ndarray) -> np.ndarray:
    """Whether each position's line of sight to the Sun's centre meets Jupiter's ellipsoid
    (``radii_km``), i.e. the point is in Jupiter's geometric shadow. All vectors Jupiter-centred,
    same frame (the ellipsoid's body-fixed one)."""
    scale = 1.0 / np.asarray(radii_km, dtype=float)
    p = np.asarray(positions_km, dtype=float) * scale
    d = (np.asarray(sun_km, dtype=float) - positions_km) * scale
    a = np.einsum("ij,ij->i", d, d)
    b = 2 * np.einsum("ij,ij->i", p, d)
    c = np.einsum("ij,ij->i", p, p) - 1.0
    disc = b * b - 4 * a * c
    root = np.sqrt(np.maximum(disc, 0.0))
    t_far = (-b + root) / (2 * a)
    # the segment toward the Sun (0 < t < 1) enters the ellipsoid: discriminant > 0, the far
    # root ahead of the point, and the point itself outside (c > 0)
    return (disc > 0) & (t_far > 0) & (c > 0) & ((-b - root) / (2 * a) < 1.0)
