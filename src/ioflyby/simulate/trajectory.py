"""Flyby design: a spacecraft trajectory whose closest approach to the target happens at the
requested time, altitude and latitude, integrated in the gravity of Jupiter (GM + J2) and the
target.

Method
------
Closest approach (C/A) is the minimum of the geometric distance to the target's centre. At a
minimum the relative position is perpendicular to the relative velocity, so the design *solves
for the state at C/A* and integrates from it backwards and forwards:

1. the spacecraft's Jupiter-centred velocity at the target's position comes from a Jovian orbit
   (vis-viva for the period, angular momentum for the perijove radius, the orbit plane tilted by
   ``inclination_deg`` from Jupiter's equator, inbound or outbound) — or is given directly;
2. the relative velocity ``v_rel = v_sc − v_target`` fixes the plane of possible C/A positions
   (perpendicular to it); on that circle the direction whose near point on the ellipsoid has the
   requested planetocentric latitude is found (two solutions: the one with the Sun higher, or
   ``branch``), and the distance is solved so the altitude above the ellipsoid (SPICE ``nearpt``)
   equals the request;
3. ``r·v = 0`` at ``ca_et`` makes that instant a distance minimum; the trajectory is integrated
   with scipy DOP853 (rtol 1e-12) in a Jupiter-centred J2000 frame with Jupiter's GM and J2 (pole
   from IAU_JUPITER), the target's GM, and the indirect term of the target's pull on Jupiter;
   target positions are read from the loaded SPK (SPICE), so trajectory and ephemeris agree;
4. the achieved C/A is measured again on the integrated trajectory (dense sampling and a bounded
   minimisation of the distance), and reported.

Units: km, km/s, ET seconds past J2000 TDB; angles in degrees at the interface.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import spiceypy
from scipy.integrate import solve_ivp
from scipy.optimize import minimize_scalar

from ioflyby.errors import ScenarioError
from ioflyby.simulate.textkernels import (
    GM_KM3_S2,
    JUPITER_J2,
    JUPITER_J2_REFERENCE_RADIUS_KM,
)
from ioflyby.spice import SpkSegment, et_to_utc, spice_errors

JUPITER = 599
_RTOL = 1e-12
_ATOL_KM = 1e-7


@dataclass(frozen=True)
class JovianOrbit:
    """The spacecraft's orbit around Jupiter, used to derive the approach velocity.

    ``perijove_radius_km`` and ``period_days`` fix the speed and flight-path angle at the target's
    distance; the orbit plane contains the Jupiter→target line and is tilted by
    ``inclination_deg`` from Jupiter's equator (0 prograde equatorial, 90 polar, sign of
    ``northbound`` picks the direction across the equator); ``inbound`` means moving towards
    perijove. Juno (2023–24): perijove ~1.05 R_J, period ~33–38 days, near-polar orbit.
    """

    perijove_radius_km: float
    period_days: float
    inclination_deg: float
    inbound: bool = True
    northbound: bool = False


@dataclass
class FlybyDesign:
    """A designed flyby: requested and achieved closest approach, and the trajectory samples.

    ``epochs`` (ET) and ``states`` (km, km/s) are the spacecraft relative to Jupiter's centre in
    J2000. ``achieved`` holds time (ET and UTC), distance, altitude, planetocentric lat and lon.
    """

    target: str
    spacecraft_id: int
    requested: dict
    achieved: dict
    relative_velocity_km_s: np.ndarray
    ca_state_relative: np.ndarray
    epochs: np.ndarray
    states: np.ndarray
    info: dict = field(default_factory=dict)

    def segment(self) -> SpkSegment:
        """The trajectory as an SPK segment (spacecraft wrt Jupiter, J2000)."""
        return SpkSegment(self.spacecraft_id, JUPITER, self.epochs, self.states)


def _jupiter_pole(et: float) -> np.ndarray:
    with spice_errors("reading Jupiter's pole (IAU_JUPITER) for the flyby design"):
        return np.asarray(spiceypy.pxform("IAU_JUPITER", "J2000", et))[:, 2]


def _target_state(target_id: int, et: float) -> np.ndarray:
    """Target state relative to Jupiter's centre, J2000, geometric (km, km/s)."""
    return np.asarray(spiceypy.spkgeo(target_id, et, "J2000", JUPITER)[0], float)


def orbit_velocity(position_km: np.ndarray, pole: np.ndarray, orbit: JovianOrbit) -> np.ndarray:
    """Jupiter-centred J2000 velocity (km/s) of a spacecraft on ``orbit`` at ``position_km``."""
    gm = GM_KM3_S2[JUPITER]
    r = float(np.linalg.norm(position_km))
    a = (gm * (orbit.period_days * 86400.0 / (2 * math.pi)) ** 2) ** (1.0 / 3.0)
    e = 1.0 - orbit.perijove_radius_km / a
    if not 0 <= e < 1 or r > a * (1 + e) or r < orbit.perijove_radius_km:
        raise ScenarioError(
            f"a Jovian orbit with perijove {orbit.perijove_radius_km:.0f} km and period "
            f"{orbit.period_days} d does not reach the target's distance {r:.0f} km"
        )
    speed = math.sqrt(gm * (2.0 / r - 1.0 / a))
    tangential = math.sqrt(gm * a * (1 - e * e)) / r
    radial = math.sqrt(max(speed**2 - tangential**2, 0.0)) * (-1.0 if orbit.inbound else 1.0)
    r_hat = position_km / r
    east = np.cross(pole, r_hat)
    east /= np.linalg.norm(east)
    north = np.cross(r_hat, east)
    inc = math.radians(orbit.inclination_deg)
    along = math.cos(inc) * east + math.sin(inc) * (north if orbit.northbound else -north)
    return radial * r_hat + tangential * along


def _near_point(position_body: np.ndarray, radii: np.ndarray) -> tuple[np.ndarray, float]:
    point, altitude = spiceypy.nearpt(position_body.tolist(), *radii.tolist())
    return np.asarray(point, float), float(altitude)


def _latlon_deg(point: np.ndarray) -> tuple[float, float]:
    _, lon, lat = spiceypy.reclat(point.tolist())
    return math.degrees(lat), math.degrees(lon)


def _ca_position(
    v_rel: np.ndarray, to_body: np.ndarray, radii: np.ndarray, altitude_km: float, latitude_deg: float,
    sun_body: np.ndarray, branch: int | None,
) -> np.ndarray:
    """Body-fixed C/A position ⟂ v_rel whose near point has the requested latitude and altitude."""
    v_hat_body = to_body @ (v_rel / np.linalg.norm(v_rel))
    e1 = np.cross(v_hat_body, [0.0, 0.0, 1.0])
    if np.linalg.norm(e1) < 1e-9:
        e1 = np.cross(v_hat_body, [1.0, 0.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(v_hat_body, e1)
    amplitude = math.hypot(e1[2], e2[2])
    phase = math.atan2(e2[2], e1[2])
    max_lat = math.degrees(math.asin(min(amplitude, 1.0)))
    aim = latitude_deg
    position = np.zeros(3)
    for _ in range(6):  # aim the direction so that the *near point* lands on the latitude
        s = math.sin(math.radians(aim)) / amplitude
        if abs(s) > 1.0:
            raise ScenarioError(
                f"closest-approach latitude {latitude_deg:.2f}° is not reachable with this approach "
                f"velocity: reachable |latitude| ≤ {max_lat:.2f}° (change the orbit or the latitude)"
            )
        options = [phase + math.acos(s), phase - math.acos(s)]
        directions = [math.cos(t) * e1 + math.sin(t) * e2 for t in options]
        if branch is None:
            chosen = max(directions, key=lambda d: float(d @ sun_body))
        else:
            chosen = directions[branch % 2]
        distance = float(np.mean(radii)) + altitude_km
        for _ in range(8):
            _, alt = _near_point(chosen * distance, radii)
            distance += altitude_km - alt
        position = chosen * distance
        achieved_lat, _ = _latlon_deg(_near_point(position, radii)[0])
        if abs(achieved_lat - latitude_deg) < 1e-9:
            break
        aim += latitude_deg - achieved_lat
    return position


def _acceleration_factory(target_id: int, pole: np.ndarray):
    gm_j, gm_t = GM_KM3_S2[JUPITER], GM_KM3_S2[target_id]
    j2_term = 1.5 * JUPITER_J2 * gm_j * JUPITER_J2_REFERENCE_RADIUS_KM**2

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        r = y[:3]
        rn = math.sqrt(r @ r)
        z = r @ pole
        accel = -gm_j * r / rn**3
        accel += -j2_term / rn**5 * ((1 - 5 * z * z / (rn * rn)) * r + 2 * z * pole)
        target = np.asarray(spiceypy.spkgps(target_id, t, "J2000", JUPITER)[0])
        rel = r - target
        accel += -gm_t * rel / math.sqrt(rel @ rel) ** 3 - gm_t * target / math.sqrt(target @ target) ** 3
        return np.concatenate([y[3:], accel])

    return rhs


def _sample_times(ca_et: float, window_s: float) -> np.ndarray:
    """Output epochs: 1 s within ±10 min of C/A, 10 s to ±1 h, 60 s beyond, ends included."""
    pieces = []
    for half, step in ((min(600.0, window_s), 1.0), (min(3600.0, window_s), 10.0), (window_s, 60.0)):
        pieces.append(np.arange(-half, half + 1e-9, step))
    offsets = np.unique(np.concatenate(pieces + [np.array([-window_s, window_s])]))
    return ca_et + offsets


def _integrate(rhs, ca_et: float, state: np.ndarray, times: np.ndarray):
    """Integrate from the C/A state to both ends; return states at ``times`` and the solutions."""
    out = np.empty((len(times), 6))
    solutions = []
    for end in (times[0], times[-1]):
        if end == ca_et:
            continue
        sol = solve_ivp(rhs, (ca_et, end), state, method="DOP853", rtol=_RTOL, atol=_ATOL_KM, dense_output=True)
        if not sol.success:
            raise ScenarioError(f"flyby integration failed: {sol.message}")
        lo, hi = sorted((ca_et, end))
        mask = (times >= lo) & (times <= hi)
        out[mask] = sol.sol(times[mask]).T
        solutions.append((lo, hi, sol))
    return out, solutions


def measure_closest_approach(
    solutions, target_id: int, target: str, ca_guess_et: float, radii: np.ndarray, frame: str
) -> dict:
    """Achieved C/A on the integrated trajectory: dense sampling ±120 s, then bounded minimisation."""

    def state(t: float) -> np.ndarray:
        for lo, hi, sol in solutions:
            if lo <= t <= hi:
                return sol.sol(t)
        raise ScenarioError("time outside the integrated window")

    def distance(t: float) -> float:
        rel = state(t)[:3] - spiceypy.spkgps(target_id, t, "J2000", JUPITER)[0]
        return float(np.linalg.norm(rel))

    # Work in offsets from the guess: Brent's tolerance is relative to |x|, useless on raw ET.
    grid = np.arange(-120.0, 120.01, 0.5)
    values = [distance(ca_guess_et + dt) for dt in grid]
    k = int(np.argmin(values))
    res = minimize_scalar(lambda dt: distance(ca_guess_et + dt),
                          bounds=(grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]),
                          method="bounded", options={"xatol": 1e-6})
    t_ca = ca_guess_et + float(res.x)
    rel = state(t_ca)[:3] - spiceypy.spkgps(target_id, t_ca, "J2000", JUPITER)[0]
    body = np.asarray(spiceypy.pxform("J2000", frame, t_ca)) @ rel
    near, alt = _near_point(body, radii)
    lat, lon = _latlon_deg(near)
    return {
        "time_et": t_ca,
        "time_utc": et_to_utc(t_ca, 4),
        "distance_km": float(res.fun),
        "altitude_km": alt,
        "lat_deg": lat,
        "lon_east_deg": lon % 360.0,
        "lon_west_deg": (-lon) % 360.0,
        "relative_speed_km_s": float(np.linalg.norm(state(t_ca)[3:] - _target_state(target_id, t_ca)[3:])),
    }


def design_flyby(
    target: str,
    ca_time_utc: str,
    ca_altitude_km: float,
    ca_latitude_deg: float,
    *,
    orbit: JovianOrbit | None = None,
    relative_velocity_km_s: np.ndarray | None = None,
    branch: int | None = None,
    window_s: float = 3600.0,
    spacecraft_id: int = -61,
) -> FlybyDesign:
    """Design a flyby of ``target`` with C/A at ``ca_time_utc`` (UTC), ``ca_altitude_km`` above the
    ellipsoid and near point at planetocentric ``ca_latitude_deg``; integrate ±``window_s``.

    Give either a Jovian ``orbit`` (approach velocity from the orbit) or the J2000
    ``relative_velocity_km_s`` directly. The kernel pool must hold an LSK, a PCK with the target
    and Jupiter, and an SPK with the target and Jupiter (the twin's ephemeris).
    """
    if ca_altitude_km <= 0:
        raise ScenarioError(f"closest-approach altitude must be positive, got {ca_altitude_km} km")
    if not -90 < ca_latitude_deg < 90:
        raise ScenarioError(f"closest-approach latitude must be within (-90, 90)°, got {ca_latitude_deg}")
    if (orbit is None) == (relative_velocity_km_s is None):
        raise ScenarioError("give exactly one of orbit= or relative_velocity_km_s= for the approach")
    with spice_errors(f"designing the flyby of {target} at {ca_time_utc}"):
        target_id = int(spiceypy.bods2c(target))
        ca_et = float(spiceypy.str2et(ca_time_utc))
        frame = spiceypy.cidfrm(target_id)[1]
        radii = np.asarray(spiceypy.bodvcd(target_id, "RADII", 3)[1], float)
        target_state = _target_state(target_id, ca_et)
        pole = _jupiter_pole(ca_et)
        to_body = np.asarray(spiceypy.pxform("J2000", frame, ca_et))
        sun_body = to_body @ np.asarray(spiceypy.spkpos("SUN", ca_et, "J2000", "NONE", target)[0])
    if orbit is not None:
        v_rel = orbit_velocity(target_state[:3], pole, orbit) - target_state[3:]
    else:
        v_rel = np.asarray(relative_velocity_km_s, float)
    position_body = _ca_position(v_rel, to_body, radii, ca_altitude_km, ca_latitude_deg,
                                 sun_body / np.linalg.norm(sun_body), branch)
    ca_relative = np.concatenate([to_body.T @ position_body, v_rel])
    ca_state = target_state + ca_relative
    rhs = _acceleration_factory(target_id, pole)
    times = _sample_times(ca_et, window_s)
    with spice_errors(f"integrating the flyby of {target}"):
        states, solutions = _integrate(rhs, ca_et, ca_state, times)
        achieved = measure_closest_approach(solutions, target_id, target, ca_et, radii, frame)
    if np.min(np.linalg.norm(states[:, :3], axis=1)) < JUPITER_J2_REFERENCE_RADIUS_KM:
        raise ScenarioError("the designed trajectory enters Jupiter within the window; shorten window_s")
    requested = {
        "time_utc": ca_time_utc, "time_et": ca_et, "altitude_km": float(ca_altitude_km),
        "lat_deg": float(ca_latitude_deg),
    }
    info = {
        "orbit": None if orbit is None else orbit.__dict__,
        "relative_speed_km_s": float(np.linalg.norm(v_rel)),
        "model": "Jupiter GM + J2 (Juno gravity), target GM, DOP853 rtol 1e-12, Jupiter-centred J2000",
        "window_s": float(window_s),
    }
    return FlybyDesign(target.upper(), spacecraft_id, requested, achieved, v_rel, ca_relative, times, states, info)
