"""The JunoCam team's ``-mapprojected.png`` convention, and our maps resampled into it.

The team's PNG is the view from the spacecraft (the convention and the evidence for each item
are in ``docs/mapprojected.md``):

- a **vertical (point) perspective of a sphere** of Jupiter's equatorial radius (71 492 km),
  seen from a height above it equal to the label's ``SPACECRAFT_ALTITUDE``;
- on that sphere a point sits at its **planetographic** latitude (the label's convention) and
  System III longitude, i.e. the ellipsoid's lat/lon are placed on the sphere;
- centred on the label's ``SUB_SPACECRAFT_LATITUDE`` (planetographic) and
  ``SUB_SPACECRAFT_LONGITUDE`` (west);
- the horizon circle (the disc) has a radius of **800 px** about the image centre, pixel
  (799.5, 799.5) with (0, 0) the centre of the upper-left pixel, in a 1600×1600 image;
- **Jupiter's north up**: the image is drawn with the target's projected north pole (the
  meridian of the centre, heading north) pointing up, ``north_angle_deg = 0``.
  :func:`terminator_turn_deg` checks this without any pointing (the team's night-side cut is a
  contour of solar incidence only at the right turn); :func:`north_angle_deg` (the pole's
  position angle from celestial north) is a diagnostic for comparing "up" conventions.

Angles in degrees at this module's edges; lengths in km; times s past J2000 TDB.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import spiceypy
from scipy import ndimage

from ioflyby.errors import ProductError
from ioflyby.mapping import projections as proj
from ioflyby.spice import spice_errors

SIZE_PX = 1600
DISC_RADIUS_PX = 800.0
TEAM_NORTH_ANGLE_DEG = 0.0
"""The team's turn of the view: the target's north pole points up (see the module docstring)."""


def _label_number(metadata, key: str, product_id: str) -> float:
    try:
        return float(str(metadata[key]).split("<")[0])
    except (KeyError, ValueError):
        raise ProductError(f"{product_id}: label keyword {key} is missing or not a number; it is needed for the "
                           "team's map-projected convention") from None


@dataclass(frozen=True)
class MapprojectedView:
    """One product's team map-projected view (see the module docstring)."""

    centre_lat_graphic_deg: float
    centre_lon_east_deg: float
    altitude_km: float
    north_angle_deg: float
    sphere_radius_km: float
    polar_radius_km: float
    size_px: int = SIZE_PX
    disc_radius_px: float = DISC_RADIUS_PX

    @property
    def p(self) -> float:
        """Viewpoint distance from the sphere's centre in sphere radii."""
        return 1.0 + self.altitude_km / self.sphere_radius_km

    def pixel_latlon(self, cols: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Planetocentric latitude and east longitude (radians; NaN off the disc) of pixels
        (col, row), (0, 0) = centre of the upper-left pixel."""
        radius_m = self.sphere_radius_km * 1000.0
        horizon_m = radius_m * math.sqrt((self.p - 1.0) / (self.p + 1.0))
        scale = horizon_m / self.disc_radius_px
        centre = (self.size_px - 1) / 2.0
        u = (np.asarray(cols, float) - centre) * scale
        v = -(np.asarray(rows, float) - centre) * scale
        c, s = math.cos(math.radians(self.north_angle_deg)), math.sin(math.radians(self.north_angle_deg))
        params = np.array([radius_m, math.radians(self.centre_lat_graphic_deg), math.radians(self.centre_lon_east_deg), self.p])
        lat_graphic, lon = proj.unproject(proj.PERSPECTIVE, params, c * u - s * v, s * u + c * v)
        ratio2 = (self.polar_radius_km / self.sphere_radius_km) ** 2
        return np.arctan(ratio2 * np.tan(lat_graphic)), lon

    def latlon_pixel(self, lat_graphic: np.ndarray, lon_east: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(col, row) of surface points at **planetographic** latitude and east longitude
        (radians), the inverse of :meth:`pixel_latlon` (NaN on the far side)."""
        radius_m = self.sphere_radius_km * 1000.0
        horizon_m = radius_m * math.sqrt((self.p - 1.0) / (self.p + 1.0))
        scale = horizon_m / self.disc_radius_px
        params = np.array([radius_m, math.radians(self.centre_lat_graphic_deg), math.radians(self.centre_lon_east_deg), self.p])
        x, y = proj.project(proj.PERSPECTIVE, params, lat_graphic, lon_east)
        c, s = math.cos(math.radians(self.north_angle_deg)), math.sin(math.radians(self.north_angle_deg))
        u, v = c * x + s * y, -s * x + c * y
        centre = (self.size_px - 1) / 2.0
        return centre + u / scale, centre - v / scale

    def to_dict(self) -> dict:
        return asdict(self)


def north_angle_deg(target: str, et: float, observer: str = "JUNO") -> float:
    """Position angle (deg) of the target's north pole from the projected J2000 +Z (celestial
    north), about the observer → target direction (right-handed about it), at ``et``."""
    with spice_errors(f"computing the direction of {target}'s pole seen from {observer}"):
        position, light_time = spiceypy.spkpos(target, et, "J2000", "LT+S", observer)
        pole = np.asarray(spiceypy.pxform(f"IAU_{target.upper()}", "J2000", et - light_time))[:, 2]
    view = np.asarray(position) / np.linalg.norm(position)

    def on_sky(vector: np.ndarray) -> np.ndarray:
        vector = vector - (vector @ view) * view
        return vector / np.linalg.norm(vector)

    north, celestial = on_sky(pole), on_sky(np.array([0.0, 0.0, 1.0]))
    return float(np.degrees(np.arctan2(np.cross(celestial, north) @ view, celestial @ north)))


def solar_incidence_deg(view: MapprojectedView, cols: np.ndarray, rows: np.ndarray, sun_body: np.ndarray) -> np.ndarray:
    """Solar incidence angle (deg; NaN off the disc) at pixels (col, row) of ``view``: angle
    between the surface normal at the pixel's planetographic latitude/longitude and the unit
    Sun direction ``sun_body`` in the body-fixed frame (IAU_<TARGET>)."""
    lat_centric, lon = view.pixel_latlon(cols, rows)
    ratio2 = (view.polar_radius_km / view.sphere_radius_km) ** 2
    lat_graphic = np.arctan(np.tan(lat_centric) / ratio2)
    normal = np.stack([np.cos(lat_graphic) * np.cos(lon), np.cos(lat_graphic) * np.sin(lon), np.sin(lat_graphic)], -1)
    sun = np.asarray(sun_body, float) / np.linalg.norm(sun_body)
    return np.degrees(np.arccos(np.clip(normal @ sun, -1.0, 1.0)))


def sun_direction_body(target: str, et: float, observer: str = "JUNO") -> np.ndarray:
    """Unit direction target → Sun in IAU_<TARGET> at the light-time-corrected epoch of the
    target seen from ``observer`` at ``et`` (SPK, PCK, LSK must be loaded)."""
    with spice_errors(f"computing the Sun direction at {target} seen from {observer}"):
        _, light_time = spiceypy.spkpos(target, et, "J2000", "LT+S", observer)
        sun = np.asarray(spiceypy.spkpos("SUN", et - light_time, f"IAU_{target.upper()}", "LT+S", target)[0])
    return sun / np.linalg.norm(sun)


def night_cut_pixels(valid: np.ndarray, limb_margin_px: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    """(cols, rows) of the edge of a team PNG's valid region away from the limb (more than
    ``limb_margin_px`` inside the 800 px horizon): the team's cut on the night side."""
    valid = ndimage.binary_opening(valid, iterations=3)
    rows, cols = np.nonzero(valid & ~ndimage.binary_erosion(valid))
    centre = (valid.shape[0] - 1) / 2.0
    inside = np.hypot(cols - centre, rows - centre) < DISC_RADIUS_PX - limb_margin_px
    return cols[inside].astype(float), rows[inside].astype(float)


def terminator_turn_deg(view: MapprojectedView, cols: np.ndarray, rows: np.ndarray, sun_body: np.ndarray) -> tuple[float, float, float]:
    """North angle (deg) that makes the pixels (cols, rows) (e.g. :func:`night_cut_pixels`) one
    contour of solar incidence, by a 1 deg scan over ±180 deg refined in 0.05 deg steps; returns
    (north angle, median incidence deg, incidence spread deg)."""
    import dataclasses

    def spread(angle: float) -> tuple[float, float]:
        incidence = solar_incidence_deg(dataclasses.replace(view, north_angle_deg=float(angle)), cols, rows, sun_body)
        return float(np.nanstd(incidence)), float(np.nanmedian(incidence))

    coarse = min(np.arange(-180.0, 180.0, 1.0), key=lambda a: spread(a)[0])
    best = min(np.arange(coarse - 1.0, coarse + 1.0001, 0.05), key=lambda a: spread(a)[0])
    std, median = spread(best)
    return float((best + 180.0) % 360.0 - 180.0), median, std


def view_from_label(product, target: str | None = None) -> MapprojectedView:
    """The team's view for ``product`` (a ``RawProduct``): centre and altitude from its label,
    Jupiter's north up (:data:`TEAM_NORTH_ANGLE_DEG`); a PCK must be loaded for the radii."""
    target = (target or product.target).strip().upper()
    meta = product.metadata
    lat = _label_number(meta, "SUB_SPACECRAFT_LATITUDE", product.product_id)
    lon_west = _label_number(meta, "SUB_SPACECRAFT_LONGITUDE", product.product_id)
    altitude = _label_number(meta, "SPACECRAFT_ALTITUDE", product.product_id)
    with spice_errors(f"reading {target}'s radii (load a PCK)"):
        radii = np.asarray(spiceypy.bodvrd(target, "RADII", 3)[1], float)
    return MapprojectedView(
        centre_lat_graphic_deg=lat,
        centre_lon_east_deg=(-lon_west) % 360.0,
        altitude_km=altitude,
        north_angle_deg=TEAM_NORTH_ANGLE_DEG,
        sphere_radius_km=float(radii[0]),
        polar_radius_km=float(radii[2]),
    )


def resample_geotiff(path: str | Path, view: MapprojectedView) -> np.ndarray:
    """Resample one of our map GeoTIFFs (``ioflyby process`` output; any projection its GRID tag
    describes) into the team's view: array (size, size, bands) in the file's data type, the
    last band alpha (0 where we have no data)."""
    import rasterio

    with rasterio.open(path) as src:
        data = src.read()
        transform = src.transform
        grid = json.loads(src.tags().get("GRID", "null") or "null")
    if not grid:
        raise ProductError(f"{path} has no GRID tag: resample only maps written by ioflyby process")
    code = {"orthographic": proj.ORTHOGRAPHIC, "perspective": proj.PERSPECTIVE,
            "equirectangular": proj.EQUIRECTANGULAR}.get(grid["projection"])
    if code is None:
        raise ProductError(f"{path}: cannot resample a {grid['projection']} map into the team's view")
    radius_m = grid["sphere_radius_km"] * 1000.0
    p = 1.0 + grid.get("viewpoint_altitude_km", 0.0) / grid["sphere_radius_km"]
    params = np.array([radius_m, math.radians(grid["center_lat_deg"]), math.radians(grid["center_lon_east_deg"]), p])
    rows, cols = np.mgrid[0 : view.size_px, 0 : view.size_px].astype(float)
    lat, lon = view.pixel_latlon(cols, rows)
    x, y = proj.project(code, params, np.nan_to_num(lat, nan=0.0), np.nan_to_num(lon, nan=0.0))
    col = (x - transform.c) / transform.a - 0.5
    row = (y - transform.f) / transform.e - 0.5
    bad = ~(np.isfinite(lat) & np.isfinite(x) & np.isfinite(y))
    col[bad], row[bad] = -10.0, -10.0
    out = np.empty((view.size_px, view.size_px, data.shape[0]), data.dtype)
    for band in range(data.shape[0]):
        order = 0 if band == data.shape[0] - 1 else 1
        out[..., band] = ndimage.map_coordinates(data[band].astype(float), [row, col], order=order, cval=0.0)
    return out


def process_options(view: MapprojectedView) -> dict:
    """``ioflyby process`` settings for a perspective map close to the team's view (same centre
    as a planetocentric latitude, same viewpoint altitude, about the same disc size), to be
    resampled exactly into it with :func:`resample_geotiff`: keys ``lat``, ``lon``,
    ``altitude_km``, ``resolution_km`` (degrees east, km)."""
    ratio2 = (view.polar_radius_km / view.sphere_radius_km) ** 2
    lat_centric = math.degrees(math.atan(ratio2 * math.tan(math.radians(view.centre_lat_graphic_deg))))
    horizon_km = view.sphere_radius_km * math.sqrt((view.p - 1.0) / (view.p + 1.0))
    return {"lat": lat_centric, "lon": view.centre_lon_east_deg, "altitude_km": view.altitude_km,
            "resolution_km": horizon_km / view.disc_radius_px}


SCAN_STEP_RAD = 1e-4
"""Spin step (rad) over which :func:`scan_direction` differentiates the disc centre's pixel."""


def scan_direction(view: MapprojectedView, target: str, et: float, spin_axis_j2000: np.ndarray,
                   observer: str = "JUNO") -> tuple[np.ndarray, float]:
    """Where the spin scan runs in the team's view: (unit (dx, dy) in its pixels, x right and y
    down, px per radian of spin) of the ray to the target's centre turned about the spacecraft's
    spin axis (J2000 unit vector) by a small positive angle, at ``et`` (s past J2000 TDB; SPK,
    PCK, LSK loaded). An error of the image's start time moves a map along this direction by
    spin rate × error × the px per radian."""
    target = target.strip().upper()
    with spice_errors(f"computing {observer}'s view of {target}"):
        position, light_time = spiceypy.spkpos(target, et, "J2000", "LT+S", observer)
        to_body = np.asarray(spiceypy.pxform("J2000", f"IAU_{target}", et - light_time))
        radii = np.asarray(spiceypy.bodvrd(target, "RADII", 3)[1], float)
    position = np.asarray(position, float)
    origin = -to_body @ position
    axis = np.asarray(spin_axis_j2000, float) / np.linalg.norm(spin_axis_j2000)
    pixels = []
    for angle in (0.0, SCAN_STEP_RAD):
        ray = np.asarray(spiceypy.vrotv(position, axis, angle))
        with spice_errors("intersecting the disc centre's ray with the target"):
            point = np.asarray(spiceypy.surfpt(origin, to_body @ ray, *radii))
        _, lat_graphic, _ = spiceypy.recpgr(target, point, radii[0], (radii[0] - radii[2]) / radii[0])
        lon_east = math.atan2(point[1], point[0])
        pixels.append(np.array(view.latlon_pixel(np.array([lat_graphic]), np.array([lon_east])), float)[:, 0])
    step = (pixels[1] - pixels[0]) / SCAN_STEP_RAD
    size = float(np.linalg.norm(step))
    return step / size, size
