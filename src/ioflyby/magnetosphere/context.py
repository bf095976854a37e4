"""The magnetospheric context of a body (Io, Juno, any SPICE body) at many times.

:func:`magnetospheric_context` (kernels loaded) → :class:`MagnetosphericContext`, a struct of
arrays whose ``to_json()`` is the ``ioflyby magnetosphere --json`` document; ``context[i]`` is one
:class:`ContextSample` (``.to_json()``), the value hot-spot detections and product reports carry.
:func:`io_context` is the same for Io.

Inside: km, ET, radians, east longitudes. In ``to_json()``: degrees, System III (1965) **west**
longitudes (``*_lon_west_deg``), planetocentric latitudes, R_J = 71,492 km, local time in hours,
field components in nT along System III Cartesian axes (``IAU_JUPITER`` x, y, z).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ioflyby.magnetosphere.equators import centrifugal_coordinates, magnetic_latitude, torus_density
from ioflyby.magnetosphere.models import R_J_KM, FieldModel, dipole_unit_vector
from ioflyby.magnetosphere.positions import in_shadow, jovian_positions_km, jupiter_radii_km
from ioflyby.magnetosphere.trace import Traces, trace_field_lines
from ioflyby.spice import body_id, body_name, et_to_utc

TRACE_CHUNK = 64


def _deg(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(np.degrees(value)), 6)


def _west(lon_east: float) -> float | None:
    return None if not np.isfinite(lon_east) else round(float(np.degrees(-lon_east) % 360.0), 6)


def _round(value: float, digits: int = 6) -> float | None:
    return None if not np.isfinite(value) else round(float(value), digits)


@dataclass(frozen=True)
class ContextSample:
    """One body's magnetospheric context at one time (edge units: degrees, R_J, hours, nT)."""

    time_utc: str
    et: float
    body: str
    system3_lon_west_deg: float
    lat_deg: float
    local_time_h: float
    distance_rj: float
    magnetic_lat_deg: float
    centrifugal_lat_deg: float
    centrifugal_equator_distance_rj: float
    torus_electron_density_cm3: float
    b_nt: tuple[float, float, float]
    mshell_rj: float | None
    footprint_north: dict[str, float | None] | None
    footprint_south: dict[str, float | None] | None
    in_shadow: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "time_utc": self.time_utc,
            "body": self.body,
            "system3_lon_west_deg": self.system3_lon_west_deg,
            "local_time_h": self.local_time_h,
            "distance_rj": self.distance_rj,
            "magnetic_lat_deg": self.magnetic_lat_deg,
            "centrifugal_lat_deg": self.centrifugal_lat_deg,
            "b_nt": list(self.b_nt),
            "mshell_rj": self.mshell_rj,
            "footprint_north": self.footprint_north,
            "footprint_south": self.footprint_south,
            "in_shadow": self.in_shadow,
            "lat_deg": self.lat_deg,
            "centrifugal_equator_distance_rj": self.centrifugal_equator_distance_rj,
            "torus_electron_density_cm3": self.torus_electron_density_cm3,
            "et": self.et,
        }


@dataclass(frozen=True)
class MagnetosphericContext:
    """A body's context at ``ets`` (n,), struct of arrays. Radians, east longitudes, R_J, nT.

    ``positions_rj`` (n, 3) System III; ``b_nt`` (n, 3) System III axes; ``traces`` None when not
    traced (M-shell and footprints then absent)."""

    body: str
    naif_id: int
    ets: np.ndarray
    positions_rj: np.ndarray
    lon_east: np.ndarray
    lat: np.ndarray
    distance_rj: np.ndarray
    local_time_h: np.ndarray
    magnetic_lat: np.ndarray
    centrifugal_lat: np.ndarray
    centrifugal_equator_distance_rj: np.ndarray
    torus_density_cm3: np.ndarray
    b_nt: np.ndarray
    in_shadow: np.ndarray
    traces: Traces | None
    model: str

    def __len__(self) -> int:
        return int(self.ets.size)

    @property
    def system3_lon_west(self) -> np.ndarray:
        """System III (1965) west longitude, radians in [0, 2π)."""
        return (-self.lon_east) % (2 * np.pi)

    def __getitem__(self, i: int) -> ContextSample:
        i = int(i)
        foot_n = foot_s = None
        mshell = None
        if self.traces is not None:
            t = self.traces
            foot_n = {"lat_deg": _deg(t.north_lat[i]), "lon_west_deg": _west(t.north_lon[i])}
            foot_s = {"lat_deg": _deg(t.south_lat[i]), "lon_west_deg": _west(t.south_lon[i])}
            mshell = _round(t.mshell_rj[i])
        return ContextSample(
            time_utc=et_to_utc(float(self.ets[i])),
            et=float(self.ets[i]),
            body=self.body,
            system3_lon_west_deg=_west(self.lon_east[i]),
            lat_deg=_deg(self.lat[i]),
            local_time_h=_round(self.local_time_h[i]),
            distance_rj=_round(self.distance_rj[i]),
            magnetic_lat_deg=_deg(self.magnetic_lat[i]),
            centrifugal_lat_deg=_deg(self.centrifugal_lat[i]),
            centrifugal_equator_distance_rj=_round(self.centrifugal_equator_distance_rj[i]),
            torus_electron_density_cm3=_round(self.torus_density_cm3[i], 3),
            b_nt=tuple(_round(v, 3) for v in self.b_nt[i]),
            mshell_rj=mshell,
            footprint_north=foot_n,
            footprint_south=foot_s,
            in_shadow=bool(self.in_shadow[i]),
        )

    def samples(self) -> list[ContextSample]:
        return [self[i] for i in range(len(self))]

    def to_json(self) -> dict[str, Any]:
        """``{"samples": [...], "conventions": {...}}`` (the CLI's ``--json``)."""
        return {
            "samples": [s.to_json() for s in self.samples()],
            "conventions": conventions(self.model, self.traces),
        }


def conventions(model: str, traces: Traces | None) -> dict[str, str]:
    """What the numbers in a context's JSON mean."""
    return {
        "longitude": "System III (1965) west longitude, degrees (IAU_JUPITER)",
        "latitude": "planetocentric, degrees",
        "distance": "R_J = 71492 km",
        "local_time": "hours, 12 = sub-solar meridian",
        "b_nt": "nT along IAU_JUPITER (System III) x, y, z",
        "field_model": model,
        "magnetic_latitude": "relative to JRM33's dipole equator (degree-1 coefficients)",
        "centrifugal_latitude": "relative to the Phipps & Bagenal (2021) centrifugal equator",
        "footprint_surface": traces.surface if traces is not None else "not traced",
        "mshell": "largest distance of the traced field line from Jupiter's centre, R_J",
        "torus": "Bagenal & Delamere (2011) equatorial density, Gaussian about the centrifugal equator",
    }


def magnetospheric_context(
    ets: Sequence[float] | np.ndarray,
    body: str | int = "IO",
    trace: bool = True,
    model: FieldModel | None = None,
    on_traced: Callable[[int], None] | None = None,
) -> MagnetosphericContext:
    """The magnetospheric context of ``body`` at ``ets`` (s past J2000 TDB). Kernels with the
    body's and the Sun's SPK data relative to Jupiter and a PCK for IAU_JUPITER must be loaded.

    ``trace``: trace each field line (M-shell, footprints; ~5 ms a point); ``on_traced(n)`` is
    called after each chunk of ``n`` traced points (progress bars).
    """
    model = model or FieldModel.jrm33_con2020()
    ets = np.atleast_1d(np.asarray(ets, dtype=float))
    naif = body_id(body)
    name = body_name(naif)
    positions_km = jovian_positions_km(naif, ets)
    sun_km = jovian_positions_km(10, ets)
    positions = positions_km / R_J_KM
    lon = np.arctan2(positions[:, 1], positions[:, 0])
    lat = np.arctan2(positions[:, 2], np.hypot(positions[:, 0], positions[:, 1]))
    sun_lon = np.arctan2(sun_km[:, 1], sun_km[:, 0])
    local_time = (12.0 + np.degrees(lon - sun_lon) / 15.0) % 24.0
    centrifugal_lat, centrifugal_height = centrifugal_coordinates(positions)
    b = model.field(positions)
    traces = None
    if trace:
        traces = _trace_in_chunks(positions, model, on_traced)
    return MagnetosphericContext(
        body=name,
        naif_id=naif,
        ets=ets,
        positions_rj=positions,
        lon_east=lon,
        lat=lat,
        distance_rj=np.linalg.norm(positions, axis=1),
        local_time_h=local_time,
        magnetic_lat=magnetic_latitude(positions, dipole_unit_vector(model.g, model.h)),
        centrifugal_lat=centrifugal_lat,
        centrifugal_equator_distance_rj=centrifugal_height,
        torus_density_cm3=torus_density(positions),
        b_nt=b,
        in_shadow=in_shadow(positions_km, sun_km, jupiter_radii_km()),
        traces=traces,
        model=model.name,
    )


def io_context(ets: Sequence[float] | np.ndarray, trace: bool = True) -> MagnetosphericContext:
    """Io's magnetospheric context at ``ets`` (kernels loaded): ``io_context(ets)[i].to_json()``
    is what a hot-spot detection or a product report carries."""
    return magnetospheric_context(ets, "IO", trace=trace)


IO_SUMMARY_KEYS = ("system3_lon_west_deg", "centrifugal_lat_deg", "magnetic_lat_deg", "distance_rj", "local_time_h",
                   "in_shadow")
"""What a hot-spot detection or a product report carries of Io's context (keys of :meth:`ContextSample.to_json`)."""
IO_SUMMARY_CONVENTION = ("Io at that time: System III (1965) west longitude (deg, IAU_JUPITER), centrifugal "
                         "(Phipps & Bagenal 2021) and magnetic (JRM33 dipole) latitude (deg), distance from Jupiter "
                         "(R_J = 71492 km), local time (h), in Jupiter's shadow")


def io_context_summaries(ets: Sequence[float] | np.ndarray) -> tuple[list[dict[str, Any]] | None, str | None]:
    """Io's context (:data:`IO_SUMMARY_KEYS`, no field-line tracing) at each of ``ets``, computed in
    one call, with kernels holding Io, Jupiter and the Sun relative to Jupiter and a PCK for
    IAU_JUPITER loaded. When the kernels lack them: (None, a one-line note saying why) — the
    callers (hot spots, product reports) carry null rather than fail."""
    from spiceypy.utils.exceptions import SpiceyError

    from ioflyby.errors import IoflybyError

    try:
        context = io_context(ets, trace=False)
    except (IoflybyError, SpiceyError) as exc:
        reason = str(exc).split("; loaded:")[0].splitlines()[0]
        return None, (f"no magnetospheric context (io_magnetosphere null): the kernels lack what it needs "
                      f"(Io, Jupiter and the Sun relative to Jupiter, a PCK for IAU_JUPITER) — {reason}")
    return [{key: context[i].to_json()[key] for key in IO_SUMMARY_KEYS} for i in range(len(context))], None


def _trace_in_chunks(positions: np.ndarray, model: FieldModel, on_traced: Callable[[int], None] | None) -> Traces:
    parts = []
    for start in range(0, len(positions), TRACE_CHUNK):
        chunk = positions[start:start + TRACE_CHUNK]
        parts.append(trace_field_lines(chunk, model))
        if on_traced is not None:
            on_traced(len(chunk))
    if not parts:
        empty = np.zeros(0)
        return Traces(empty, empty, empty, empty, empty, "")
    return Traces(*(np.concatenate([getattr(p, k) for p in parts]) for k in
                    ("north_lat", "north_lon", "south_lat", "south_lon", "mshell_rj")), parts[0].surface)
