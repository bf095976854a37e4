"""Surface epochs for the twin: changes of Io's surface (new lava, fresh deposits) between flybys.

A :class:`SurfaceChange` multiplies the basemap's albedo by ``reflectance_factor`` inside a shape
(< 1: darkening, e.g. new lava; > 1: brightening, e.g. a fresh frost or plume deposit). The
shapes are defined in the Lambert azimuthal **equal-area** plane centred on the change (on Io's
IAU sphere, R = 1821.49 km), where a planar area is the area on the sphere, so the areas written
to ``truth.json`` are exact:

- ``disc``: all points within great-circle distance ``radius_km`` of the centre;
  area 2πR²(1 − cos(r/R)).
- ``flow``: a curved lobe, the shape of a lava flow: its centre line, of length 4·r in the
  equal-area plane, is a circular arc turning through 60° that starts along ``azimuth_deg``
  (clockwise from north, default 90° = east) at the middle; half-width r/2 with rounded ends;
  area 2·L·w + πw² (L the centre-line length, w the half-width).

:class:`ChangedBasemap` applies the changes where the renderer samples the basemap, at the exact
(planetocentric) latitude and longitude of each sample, so the shapes are as sharp as the
rendering, whatever the basemap's own resolution. :func:`render_epoch_map` renders a map of the
changed surface on a :class:`~ioflyby.mapping.grid.MapGrid` with the twin's photometric model
(Minnaert, ``I/F = A μ₀^k μ^(k−1)``), a Gaussian PSF and noise: two such maps are two epochs under
different illumination, viewing geometry and resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from ioflyby.errors import ScenarioError
from ioflyby.simulate.basemap import Basemap

IO_SPHERE_RADIUS_KM = 1821.49
"""Io's IAU 2015 mean radius: the sphere of the IAU_2015:501xx CRSs, on which areas are given."""
SHAPES = ("disc", "flow")
FLOW_TURN_RAD = math.pi / 3
"""How far the centre line of a ``flow`` turns from end to end."""
FLOW_LENGTH_PER_RADIUS = 4.0
FLOW_HALF_WIDTH_PER_RADIUS = 0.5


def laea_forward(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float,
                 radius_km: float = IO_SPHERE_RADIUS_KM) -> tuple[np.ndarray, np.ndarray]:
    """Lambert azimuthal equal-area (x east, y north; km) of planetocentric ``lat``, east ``lon``
    (radians) about (``lat0``, ``lon0``) on a sphere; NaN at the antipode."""
    dlon = np.asarray(lon, float) - lon0
    lat = np.asarray(lat, float)
    cos_c = math.sin(lat0) * np.sin(lat) + math.cos(lat0) * np.cos(lat) * np.cos(dlon)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.sqrt(2.0 / (1.0 + cos_c))
    x = radius_km * k * np.cos(lat) * np.sin(dlon)
    y = radius_km * k * (math.cos(lat0) * np.sin(lat) - math.sin(lat0) * np.cos(lat) * np.cos(dlon))
    return x, y


def laea_inverse(x: np.ndarray, y: np.ndarray, lat0: float, lon0: float,
                 radius_km: float = IO_SPHERE_RADIUS_KM) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`laea_forward`: (lat, east lon) in radians."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    rho = np.hypot(x, y)
    c = 2.0 * np.arcsin(np.clip(rho / (2.0 * radius_km), -1.0, 1.0))
    sin_c, cos_c = np.sin(c), np.cos(c)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(rho > 0, y * sin_c / rho, 0.0)
    lat = np.arcsin(np.clip(cos_c * math.sin(lat0) + ratio * math.cos(lat0), -1.0, 1.0))
    lon = lon0 + np.arctan2(x * sin_c, rho * math.cos(lat0) * cos_c - y * math.sin(lat0) * sin_c)
    return lat, lon


@dataclass(frozen=True)
class SurfaceChange:
    """A change of the surface's albedo between epochs (angles in degrees, lengths in km; see the
    module docstring for the shapes)."""

    lat_deg: float
    lon_east_deg: float
    radius_km: float
    reflectance_factor: float
    shape: str = "disc"
    azimuth_deg: float = 90.0

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat_deg <= 90.0 and math.isfinite(self.lon_east_deg)):
            raise ScenarioError(f"surface change at {self.lat_deg}, {self.lon_east_deg}: latitude within ±90°")
        if not (0.0 < self.radius_km <= 1000.0 and 0.0 < self.reflectance_factor <= 10.0):
            raise ScenarioError(f"surface change radius {self.radius_km} km and factor {self.reflectance_factor}: "
                                "give a radius in (0, 1000] km and a reflectance factor in (0, 10]")
        if self.shape not in SHAPES:
            raise ScenarioError(f"surface change shape {self.shape!r}: choose one of {', '.join(SHAPES)}")

    # -- geometry in the equal-area plane (km) -----------------------------------------------------
    @property
    def _flow(self) -> tuple[float, float, float]:
        """(centre-line length L, half-width w, arc radius Rc) of a flow, km."""
        length = FLOW_LENGTH_PER_RADIUS * self.radius_km
        return length, FLOW_HALF_WIDTH_PER_RADIUS * self.radius_km, length / FLOW_TURN_RAD

    def _along_across(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        az = math.radians(self.azimuth_deg)
        return x * math.sin(az) + y * math.cos(az), x * math.cos(az) - y * math.sin(az)

    def _from_along_across(self, s: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        az = math.radians(self.azimuth_deg)
        return s * math.sin(az) + t * math.cos(az), s * math.cos(az) - t * math.sin(az)

    def _inside_plane(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if self.shape == "disc":
            rho = 2.0 * IO_SPHERE_RADIUS_KM * math.sin(self.radius_km / (2.0 * IO_SPHERE_RADIUS_KM))
            return x * x + y * y <= rho * rho
        _, w, rc = self._flow
        s, t = self._along_across(x, y)
        psi = np.arctan2(s, rc - t)
        inside = (np.abs(psi) <= FLOW_TURN_RAD / 2) & (np.abs(np.hypot(s, t - rc) - rc) <= w)
        for sign in (-1.0, 1.0):
            es, et = rc * math.sin(sign * FLOW_TURN_RAD / 2), rc - rc * math.cos(FLOW_TURN_RAD / 2)
            inside |= (s - es) ** 2 + (t - et) ** 2 <= w * w
        return inside

    def contains(self, lat: np.ndarray, lon_east: np.ndarray) -> np.ndarray:
        """Whether planetocentric ``lat``, east ``lon_east`` (radians) lie inside the change."""
        lat0, lon0 = math.radians(self.lat_deg), math.radians(self.lon_east_deg)
        with np.errstate(invalid="ignore"):
            x, y = laea_forward(lat, lon_east, lat0, lon0)
            inside = self._inside_plane(x, y)
        return inside & np.isfinite(x)

    def area_km2(self) -> float:
        """The exact area on Io's IAU sphere (km²)."""
        r = IO_SPHERE_RADIUS_KM
        if self.shape == "disc":
            return 2.0 * math.pi * r * r * (1.0 - math.cos(self.radius_km / r))
        length, w, _ = self._flow
        return 2.0 * length * w + math.pi * w * w

    def boundary(self, n: int = 360) -> tuple[np.ndarray, np.ndarray]:
        """The outline as (lat, east lon) degrees, ``n`` points, closed, counter-clockwise seen from above."""
        if self.shape == "disc":
            rho = 2.0 * IO_SPHERE_RADIUS_KM * math.sin(self.radius_km / (2.0 * IO_SPHERE_RADIUS_KM))
            a = np.linspace(0.0, 2 * math.pi, n)
            x, y = rho * np.cos(a), rho * np.sin(a)
        else:
            _, w, rc = self._flow
            m = max(8, n // 4)
            half = FLOW_TURN_RAD / 2
            psi = np.linspace(-half, half, m)
            outer = ((rc + w) * np.sin(psi), rc - (rc + w) * np.cos(psi))
            inner = ((rc - w) * np.sin(psi[::-1]), rc - (rc - w) * np.cos(psi[::-1]))
            caps = []
            for sign in (1.0, -1.0):
                es, et = rc * math.sin(sign * half), rc - rc * math.cos(half)
                start = math.atan2(-(rc - et), es) if sign > 0 else math.atan2(rc - et, -es)
                angles = start + np.linspace(0.0, math.pi, m) * (1 if sign > 0 else 1)
                caps.append((es + w * np.cos(angles), et + w * np.sin(angles)))
            s = np.concatenate([outer[0], caps[0][0], inner[0], caps[1][0], outer[0][:1]])
            t = np.concatenate([outer[1], caps[0][1], inner[1], caps[1][1], outer[1][:1]])
            x, y = self._from_along_across(s, t)
        lat, lon = laea_inverse(x, y, math.radians(self.lat_deg), math.radians(self.lon_east_deg))
        return np.degrees(lat), np.degrees(lon) % 360.0

    def to_dict(self) -> dict:
        """JSON-ready record for ``truth.json``: parameters, exact area and outline polygon."""
        lat, lon = self.boundary()
        return {
            "lat_deg": self.lat_deg, "lon_east_deg": self.lon_east_deg % 360.0,
            "lon_west_deg": (-self.lon_east_deg) % 360.0, "radius_km": self.radius_km,
            "reflectance_factor": self.reflectance_factor, "shape": self.shape, "azimuth_deg": self.azimuth_deg,
            "kind": "darkening" if self.reflectance_factor < 1.0 else "brightening",
            "area_km2": self.area_km2(), "area_sphere_radius_km": IO_SPHERE_RADIUS_KM,
            "polygon_lon_east_lat_deg": [[round(float(a), 6), round(float(b), 6)] for a, b in zip(lon, lat)],
            "convention": "planetocentric latitude, east-positive longitude (deg); area exact on Io's IAU sphere",
        }


def parse_surface_change(text: str) -> SurfaceChange:
    """``LAT,LON_EAST,RADIUS_KM,REFLECTANCE_FACTOR[,SHAPE[,AZIMUTH_DEG]]`` → :class:`SurfaceChange`."""
    parts = [p.strip() for p in text.split(",")]
    try:
        if len(parts) < 4 or len(parts) > 6:
            raise ValueError
        lat, lon, radius, factor = (float(p) for p in parts[:4])
        shape = parts[4].lower() if len(parts) > 4 else "disc"
        azimuth = float(parts[5]) if len(parts) > 5 else 90.0
    except ValueError:
        raise ScenarioError(f"--surface-change {text!r}: give LAT,LON_EAST,RADIUS_KM,REFLECTANCE_FACTOR[,SHAPE"
                            "[,AZIMUTH_DEG]] with SHAPE disc or flow (e.g. 13,51,60,0.5,flow)") from None
    return SurfaceChange(lat, lon % 360.0, radius, factor, shape, azimuth)


@dataclass(frozen=True)
class ChangedBasemap(Basemap):
    """A basemap whose albedo is multiplied by each change's factor inside its shape."""

    changes: tuple[SurfaceChange, ...] = field(default=())

    def factor(self, lat: np.ndarray, lon_east: np.ndarray) -> np.ndarray:
        """The product of the factors of the changes containing each point (1 outside them)."""
        result = np.ones(np.shape(lat), np.float32)
        for change in self.changes:
            result[change.contains(lat, lon_east)] *= np.float32(change.reflectance_factor)
        return result

    def sample(self, filter_name: str, lat: np.ndarray, lon_east: np.ndarray) -> np.ndarray:
        return super().sample(filter_name, lat, lon_east) * self.factor(lat, lon_east)


def apply_surface_changes(basemap: Basemap, changes: tuple[SurfaceChange, ...] | list[SurfaceChange]) -> Basemap:
    """``basemap`` with ``changes`` applied (the basemap itself when there are none)."""
    if not changes:
        return basemap
    return ChangedBasemap(basemap.path, basemap.bands, tuple(changes))


def _direction(lat_deg: float, lon_deg: float) -> np.ndarray:
    lat, lon = math.radians(lat_deg), math.radians(lon_deg)
    return np.array([math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)])


def render_epoch_map(grid, basemap: Basemap, sun_lat_lon_deg: tuple[float, float],
                     observer_lat_lon_deg: tuple[float, float], filter_name: str = "GREEN",
                     minnaert_k: float = 1.0, psf_sigma_px: float = 0.0, noise_fraction: float = 0.0,
                     seed: int = 0, max_angle_deg: float = 85.0):
    """One epoch of the (changed) surface as a :class:`~ioflyby.mapping.product.MapProduct` on ``grid``.

    Every cell samples ``basemap`` at its planetocentric latitude / east longitude, is shaded
    with the twin's photometric model ``I/F = A μ₀^k μ^(k−1)`` for a Sun and an observer far away
    above the sub-solar and sub-observer points (degrees, east longitude), blurred with a
    Gaussian PSF of ``psf_sigma_px`` cells and given Gaussian noise of ``noise_fraction`` × the
    median I/F. Cells with incidence or emission above ``max_angle_deg`` are NaN (unseen).
    Backplanes: incidence, emission, phase (degrees).
    """
    from ioflyby.mapping.product import MapProduct

    lat, lon = grid.latlon()
    valid = np.isfinite(lat)
    normal = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    sun, observer = _direction(*sun_lat_lon_deg), _direction(*observer_lat_lon_deg)
    mu0 = np.tensordot(sun, normal, axes=1)
    mu = np.tensordot(observer, normal, axes=1)
    albedo = np.where(valid, basemap.sample(filter_name, np.where(valid, lat, 0.0), np.where(valid, lon, 0.0)), 0.0)
    shading = np.clip(mu0, 0.0, None) ** minnaert_k * np.clip(mu, 1e-3, None) ** (minnaert_k - 1.0)
    image = (albedo * shading).astype(np.float32)
    if psf_sigma_px > 0:
        image = ndimage.gaussian_filter(image, psf_sigma_px, mode="nearest")
    limit = math.cos(math.radians(max_angle_deg))
    seen = valid & (mu0 > limit) & (mu > limit)
    if noise_fraction > 0:
        rng = np.random.default_rng(seed)
        image += rng.normal(0.0, noise_fraction * float(np.median(image[seen])), image.shape).astype(np.float32)
    image[~seen] = np.nan
    phase = math.degrees(math.acos(float(np.clip(sun @ observer, -1.0, 1.0))))
    backplanes = {
        "incidence": np.where(seen, np.degrees(np.arccos(np.clip(mu0, -1, 1))), np.nan).astype(np.float32),
        "emission": np.where(seen, np.degrees(np.arccos(np.clip(mu, -1, 1))), np.nan).astype(np.float32),
        "phase": np.where(seen, phase, np.nan).astype(np.float32),
    }
    meta = {"sun_lat_lon_deg": list(sun_lat_lon_deg), "observer_lat_lon_deg": list(observer_lat_lon_deg),
            "phase_deg": phase, "psf_sigma_px": psf_sigma_px, "noise_fraction": noise_fraction,
            "minnaert_k": minnaert_k}
    return MapProduct(grid, {filter_name: image}, backplanes, seen, "IO", meta)
