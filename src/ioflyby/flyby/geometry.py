"""Observer–target geometry at one epoch: distance, altitude, sub-observer point, lighting.

Conventions: km, km/s, seconds past J2000 TDB inside; degrees at the edges (the dataclass fields
named ``*_deg``). Latitudes are planetocentric; longitudes are given east-positive (0–360) and
west-positive (0–360, ``(360 - east) mod 360``) on the target's body-fixed frame
(``IAU_<TARGET>`` unless the kernels associate another). The sub-observer point is the nearest
point of the reference ellipsoid (SPICE ``subpnt`` "NEAR POINT/ELLIPSOID"), so the altitude is
the distance to that point. Relative speed and distance are target relative to observer in
J2000 with the chosen aberration correction (default ``NONE``: geometric states).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import spiceypy

from ioflyby.camera import JunoCamScale, junocam_scale
from ioflyby.errors import CoverageError, GeometryError, IoflybyError
from ioflyby.spice import body_id, et_to_utc, spice_errors

DEFAULT_ABCORR = "NONE"
"""Geometric states: closest approach is where the true (not apparent) distance is smallest."""

_SUN = "10"
_OCCULT_STATE = {
    0: "none",
    -1: "partial",
    -2: "annular",
    -3: "total",
}


@dataclass(frozen=True)
class BodyGeometry:
    """What SPICE knows about a target's shape and body-fixed frame."""

    target_id: int
    name: str
    frame: str | None
    radii_km: tuple[float, float, float] | None


@dataclass(frozen=True)
class FlybyGeometry:
    """Geometry of ``observer`` relative to ``target`` at one epoch.

    Distances km, speeds km/s, angles degrees, latitudes planetocentric, longitudes on the
    target body-fixed frame. Fields are ``None`` where the kernels cannot give them (no radii for
    the target, no Sun ephemeris); ``notes`` says why.
    """

    et: float
    time_utc: str
    observer: str
    target: str
    abcorr: str
    distance_km: float
    speed_km_s: float
    range_rate_km_s: float
    altitude_km: float | None
    sub_lat_deg: float | None
    sub_lon_east_deg: float | None
    sub_lon_west_deg: float | None
    phase_deg: float | None
    subpoint_incidence_deg: float | None
    subpoint_emission_deg: float | None
    subpoint_phase_deg: float | None
    subpoint_sunlit: bool | None
    subsolar_lat_deg: float | None
    subsolar_lon_east_deg: float | None
    subsolar_lon_west_deg: float | None
    local_solar_time: str | None
    local_solar_time_hours: float | None
    observer_eclipse: str | None
    target_eclipse: str | None
    target_eclipse_by: str | None
    junocam_km_per_px: float | None
    junocam_ifov_source: str
    body_frame: str | None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """JSON-ready dictionary (contract keys included; notes as a list)."""
        data = asdict(self)
        data["notes"] = list(self.notes)
        return data


def describe_body(target: int | str) -> BodyGeometry:
    """Id, name, body-fixed frame and ellipsoid radii (km) of ``target`` from the kernel pool."""
    naif_id = body_id(target)
    with spiceypy.no_found_check():
        name, found = spiceypy.bodc2n(naif_id)
        _, frame, frame_found = spiceypy.cidfrm(naif_id)
    radii = None
    if spiceypy.bodfnd(naif_id, "RADII"):
        values = spiceypy.bodvcd(naif_id, "RADII", 3)[1]
        radii = (float(values[0]), float(values[1]), float(values[2]))
    return BodyGeometry(
        naif_id, name if found else str(naif_id), frame if frame_found else None, radii
    )


def west_longitude_deg(lon_east_deg: float) -> float:
    """West-positive longitude in [0, 360) of an east-positive longitude (degrees)."""
    return (-lon_east_deg) % 360.0


def east_longitude_deg(lon_rad: float) -> float:
    """East-positive longitude in [0, 360) degrees of a longitude in radians."""
    return math.degrees(lon_rad) % 360.0


def relative_state(observer: int | str, target: int | str, et: float, abcorr: str = DEFAULT_ABCORR) -> np.ndarray:
    """State (km, km/s) of ``target`` relative to ``observer`` in J2000 at ``et`` (s TDB)."""
    obs, tgt = body_id(observer), body_id(target)
    with spice_errors(f"computing the state of {tgt} relative to {obs} at {et_to_utc(et)} UTC"):
        state, _ = spiceypy.spkez(tgt, et, "J2000", abcorr, obs)
    return np.asarray(state, float)


def range_rate(observer: int | str, target: int | str, et: float, abcorr: str = DEFAULT_ABCORR) -> float:
    """d|r|/dt (km/s) of the observer–target distance at ``et``; zero at a distance extremum."""
    state = relative_state(observer, target, et, abcorr)
    r = state[:3]
    return float(np.dot(r, state[3:]) / np.linalg.norm(r))


def _occultation(front: str, front_frame: str, observer: str, et: float, abcorr: str) -> str:
    """How the Sun is occulted by ``front`` (ellipsoid) as seen from ``observer``."""
    code = spiceypy.occult(_SUN, "ELLIPSOID", "IAU_SUN", front, "ELLIPSOID", front_frame, abcorr, observer, et)
    return _OCCULT_STATE.get(int(code), "none")


def primary_of(target_id: int) -> int | None:
    """NAIF id of the planet a natural satellite orbits (501 → 599), else ``None``."""
    if 100 < target_id < 1000 and target_id % 100 not in (0, 99):
        return (target_id // 100) * 100 + 99
    return None


def flyby_geometry(
    observer: int | str,
    target: int | str,
    et: float,
    abcorr: str = DEFAULT_ABCORR,
    scale: JunoCamScale | None = None,
) -> FlybyGeometry:
    """Geometry of ``observer`` relative to ``target`` at ``et`` (s past J2000 TDB).

    A few SPICE calls: ``spkez`` (distance, speed), ``subpnt`` (nearest ellipsoid point →
    altitude and sub-observer lat/lon), ``ilumin`` (angles at that point), ``subslr``,
    ``et2lst``, ``occult``. Lighting quantities are ``None`` with a note when the Sun (or the
    target's primary) is not in the loaded SPKs; everything else raises a CoverageError/
    KernelError naming what is missing.
    """
    obs_id, body = body_id(observer), describe_body(target)
    obs, tgt = str(obs_id), str(body.target_id)
    scale = scale or junocam_scale()
    notes: list[str] = []
    state = relative_state(obs_id, body.target_id, et, abcorr)
    distance = float(np.linalg.norm(state[:3]))
    speed = float(np.linalg.norm(state[3:]))
    rdot = float(np.dot(state[:3], state[3:]) / distance)
    shape: dict = dict.fromkeys(
        ("altitude_km", "sub_lat_deg", "sub_lon_east_deg", "sub_lon_west_deg"), None
    )
    spoint = None
    if body.radii_km is None or body.frame is None:
        notes.append(f"no RADII/body-fixed frame for {body.name}: altitude and sub-point omitted (load a PCK)")
    else:
        with spice_errors(f"computing the sub-{obs} point on {body.name} at {et_to_utc(et)} UTC"):
            spoint, _, srfvec = spiceypy.subpnt("NEAR POINT/ELLIPSOID", tgt, et, body.frame, abcorr, obs)
        _, lon, lat = spiceypy.reclat(spoint)
        lon_e = east_longitude_deg(lon)
        shape = {
            "altitude_km": float(np.linalg.norm(srfvec)),
            "sub_lat_deg": math.degrees(lat),
            "sub_lon_east_deg": lon_e,
            "sub_lon_west_deg": west_longitude_deg(lon_e),
        }
    lighting = _lighting(obs, body, et, abcorr, spoint, shape.get("sub_lon_east_deg"), notes)
    altitude = shape["altitude_km"]
    return FlybyGeometry(
        et=et,
        time_utc=et_to_utc(et, 6),
        observer=_name(obs_id),
        target=body.name,
        abcorr=abcorr,
        distance_km=distance,
        speed_km_s=speed,
        range_rate_km_s=rdot,
        **shape,
        **lighting,
        junocam_km_per_px=None if altitude is None else altitude * scale.ifov_rad,
        junocam_ifov_source=scale.source,
        body_frame=body.frame,
        notes=tuple(notes),
    )


def _name(naif_id: int) -> str:
    with spiceypy.no_found_check():
        name, found = spiceypy.bodc2n(naif_id)
    return name if found else str(naif_id)


def _lighting(
    obs: str,
    body: BodyGeometry,
    et: float,
    abcorr: str,
    spoint: np.ndarray | None,
    sub_lon_east_deg: float | None,
    notes: list[str],
) -> dict:
    """Phase, sub-point illumination, sub-solar point, local solar time and eclipse states."""
    result: dict = dict.fromkeys(
        (
            "phase_deg",
            "subpoint_incidence_deg",
            "subpoint_emission_deg",
            "subpoint_phase_deg",
            "subpoint_sunlit",
            "subsolar_lat_deg",
            "subsolar_lon_east_deg",
            "subsolar_lon_west_deg",
            "local_solar_time",
            "local_solar_time_hours",
            "observer_eclipse",
            "target_eclipse",
            "target_eclipse_by",
        )
    )
    tgt = str(body.target_id)
    try:
        with spice_errors(f"computing the Sun direction from {body.name} at {et_to_utc(et)} UTC"):
            sun, _ = spiceypy.spkpos(_SUN, et, "J2000", abcorr, tgt)
            to_obs, _ = spiceypy.spkpos(obs, et, "J2000", abcorr, tgt)
    except CoverageError as exc:
        notes.append(f"no lighting: {exc}".split("; loaded:")[0])
        return result
    result["phase_deg"] = math.degrees(spiceypy.vsep(sun, to_obs))
    if spoint is None:
        return result
    with spice_errors(f"computing the lighting on {body.name} at {et_to_utc(et)} UTC"):
        _, _, phase, incidence, emission = spiceypy.ilumin("ELLIPSOID", tgt, et, body.frame, abcorr, obs, spoint)
        solar_point, _, _ = spiceypy.subslr("NEAR POINT/ELLIPSOID", tgt, et, body.frame, abcorr, obs)
        hours, minutes, seconds, _, _ = spiceypy.et2lst(
            et, body.target_id, math.radians(sub_lon_east_deg), "PLANETOCENTRIC"
        )
        result["observer_eclipse"] = _occultation(tgt, body.frame, obs, et, abcorr)
    _, slon, slat = spiceypy.reclat(solar_point)
    slon_e = east_longitude_deg(slon)
    result.update(
        subpoint_incidence_deg=math.degrees(incidence),
        subpoint_emission_deg=math.degrees(emission),
        subpoint_phase_deg=math.degrees(phase),
        subpoint_sunlit=bool(incidence < math.pi / 2),
        subsolar_lat_deg=math.degrees(slat),
        subsolar_lon_east_deg=slon_e,
        subsolar_lon_west_deg=west_longitude_deg(slon_e),
        local_solar_time=f"{hours:02d}:{minutes:02d}:{seconds:02d}",
        local_solar_time_hours=hours + minutes / 60 + seconds / 3600,
    )
    _target_eclipse(body, et, abcorr, result, notes)
    return result


def _target_eclipse(body: BodyGeometry, et: float, abcorr: str, result: dict, notes: list[str]) -> None:
    """Fill whether the target centre sees the Sun hidden by its primary (Io in Jupiter's shadow)."""
    primary = primary_of(body.target_id)
    if primary is None:
        return
    primary_body = describe_body(primary)
    if primary_body.radii_km is None or primary_body.frame is None:
        notes.append(f"target eclipse unknown: no RADII for {primary_body.name}")
        return
    try:
        with spice_errors(f"checking whether {primary_body.name} shadows {body.name}"):
            state = _occultation(str(primary), primary_body.frame, str(body.target_id), et, abcorr)
    except IoflybyError as exc:
        notes.append(f"target eclipse unknown: {exc}".split("; loaded:")[0])
        return
    result["target_eclipse"] = state
    result["target_eclipse_by"] = primary_body.name


def timeline(
    observer: int | str,
    target: int | str,
    center_et: float,
    half_width_s: float,
    step_s: float,
    abcorr: str = DEFAULT_ABCORR,
    window: tuple[float, float] | None = None,
) -> list[FlybyGeometry]:
    """Geometry every ``step_s`` seconds over ``center_et ± half_width_s`` (s past J2000 TDB),
    C/A time included, clipped to ``window`` (start, stop ET) when given."""
    if step_s <= 0 or half_width_s < 0:
        raise GeometryError(f"timeline step ({step_s} s) must be > 0 and half width ({half_width_s} s) >= 0")
    count = int(math.floor(half_width_s / step_s))
    offsets = np.arange(-count, count + 1) * step_s
    times = center_et + offsets
    if window is not None:
        times = times[(times >= window[0]) & (times <= window[1])]
    scale = junocam_scale()
    return [flyby_geometry(observer, target, float(et), abcorr, scale) for et in times]
