"""Coordinate reference systems of map products: the IAU 2015 codes that PROJ knows.

Which CRS and why
-----------------
PROJ ships the IAU working-group codes as authority ``IAU_2015``; for a body with NAIF id N the
codes are ``N*100 + k``: ``+0`` the geographic CRS on the IAU mean **sphere** with planetocentric
("Ocentric") latitude and east-positive longitude, ``+10``/``+15`` equirectangular centred on
0°/180°, ``+30``/``+35`` north/south polar stereographic, ``+65``/``+70`` orthographic centred on
(0°, 0°)/(0°, 180°). For Io: 50100 (sphere R = 1821.49 km), 50110, 50115, 50130, 50135, 50165,
50170. The ``+1`` (ellipsoid) variants do not exist for Io: its IAU shape is triaxial, which
neither PROJ nor GDAL models.

ioflyby therefore writes map coordinates on the IAU sphere: a map cell's *coordinates* are
planetocentric latitude / east longitude converted to metres with the sphere's radius, exactly
as PROJ does for these codes, while the *surface point* each cell samples is computed on the
triaxial ellipsoid of the loaded PCK at that planetocentric latitude/longitude. So any GIS that
reads the CRS recovers the right planetocentric latitude/longitude of every pixel.

Where the code's own parameters fit (e.g. orthographic centred on 0°N 180°E) the product carries
that code. Other centres (orthographic on the sub-spacecraft point, a lat/lon box centred
elsewhere) and the vertical perspective ("nsper", which has no IAU code) use a PROJ definition on
the same sphere, written as WKT2 with the IAU body, datum and sphere names.

Inside a GeoTIFF the CRS is written as GeoTIFF keys; the vertical perspective has no GeoTIFF
projection, so its CRS goes into the file as an ESRI projection-engine string
(:func:`geotiff_keys_flavor`), which GDAL reads back as the same projection.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np
from rasterio.crs import CRS
from rasterio.errors import CRSError

from ioflyby.errors import GeometryError
from ioflyby.mapping import projections as proj

AUTHORITY = "IAU_2015"
LON_CONVENTION = "planetocentric latitude, east-positive longitude (degrees), IAU body-fixed frame"


@dataclass(frozen=True)
class BodyCRS:
    """The geographic reference of a target: sphere radius (m), names, IAU code if PROJ knows it."""

    naif_id: int
    body_name: str
    radius_m: float
    geographic_id: str | None
    datum_name: str
    sphere_name: str
    geographic_name: str


def _quoted_name(wkt: str, keyword: str) -> str | None:
    match = re.search(keyword + r'\["([^"]+)"', wkt)
    return match.group(1) if match else None


def body_crs(naif_id: int, target_name: str, radii_km: np.ndarray | None = None) -> BodyCRS:
    """The IAU_2015 geographic CRS of body ``naif_id`` (``IAU_2015:50100`` for Io), or, where PROJ
    has none, a sphere whose radius is the mean of the PCK ``radii_km`` (a, b, c)."""
    code = f"{AUTHORITY}:{int(naif_id) * 100}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            crs = CRS.from_string(code)
        wkt = crs.to_wkt()
        radius = float(re.search(r'SPHEROID\["[^"]*",([0-9.eE+-]+)', wkt).group(1))
        name = _quoted_name(wkt, "GEOGCS") or code
        return BodyCRS(
            naif_id=int(naif_id),
            body_name=name.split(" (")[0],
            radius_m=radius,
            geographic_id=code,
            datum_name=_quoted_name(wkt, "DATUM") or name,
            sphere_name=_quoted_name(wkt, "SPHEROID") or name,
            geographic_name=name,
        )
    except (CRSError, AttributeError):
        if radii_km is None:
            raise GeometryError(
                f"PROJ has no {code} for {target_name}; pass the body's radii (load a PCK) so a "
                "sphere of their mean radius can be used"
            ) from None
        radius = float(np.mean(radii_km)) * 1000.0
        title = target_name.title()
        return BodyCRS(
            naif_id=int(naif_id),
            body_name=title,
            radius_m=radius,
            geographic_id=None,
            datum_name=f"{title} - Sphere (PCK mean radius)",
            sphere_name=f"{title} - Sphere (PCK mean radius)",
            geographic_name=f"{title} - Sphere / Ocentric",
        )


def _iau_projected_code(body: BodyCRS, code: int, lat0: float, lon0: float) -> str | None:
    """The IAU_2015 projected code whose parameters equal ours, if any (angles in degrees)."""
    if body.geographic_id is None:
        return None
    base = body.naif_id * 100
    lon = lon0 % 360.0
    offset = None
    if code == proj.EQUIRECTANGULAR:
        offset = {0.0: 10, 180.0: 15}.get(lon)
    elif code == proj.POLAR_NORTH and lon == 0.0:
        offset = 30
    elif code == proj.POLAR_SOUTH and lon == 0.0:
        offset = 35
    elif code == proj.ORTHOGRAPHIC and lat0 == 0.0:
        offset = {0.0: 65, 180.0: 70}.get(lon)
    if offset is None:
        return None
    candidate = f"{AUTHORITY}:{base + offset}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            CRS.from_string(candidate)
    except CRSError:
        return None
    return candidate


def geotiff_keys_flavor(code: int) -> str:
    """GDAL's ``GEOTIFF_KEYS_FLAVOR`` for projection ``code``: ``ESRI_PE`` for the vertical
    perspective, which standard GeoTIFF keys cannot express (GDAL would put its CRS in an
    ``.aux.xml`` sidecar instead of the file), ``STANDARD`` otherwise."""
    return "ESRI_PE" if code == proj.PERSPECTIVE else "STANDARD"


def proj_string(body: BodyCRS, code: int, lat0: float, lon0: float, height_m: float = 0.0) -> str:
    """PROJ definition of projection ``code`` on the body's sphere (angles in degrees)."""
    radius = f"+R={body.radius_m:.6f} +units=m +no_defs"
    lon = ((lon0 + 180.0) % 360.0) - 180.0
    if code == proj.EQUIRECTANGULAR:
        return f"+proj=eqc +lat_ts=0 +lat_0=0 +lon_0={lon!r} +x_0=0 +y_0=0 {radius}"
    if code == proj.ORTHOGRAPHIC:
        return f"+proj=ortho +lat_0={lat0!r} +lon_0={lon!r} +x_0=0 +y_0=0 {radius}"
    if code in (proj.POLAR_NORTH, proj.POLAR_SOUTH):
        lat_0 = 90 if code == proj.POLAR_NORTH else -90
        return f"+proj=stere +lat_0={lat_0} +lon_0={lon!r} +k=1 +x_0=0 +y_0=0 {radius}"
    if code == proj.PERSPECTIVE:
        return f"+proj=nsper +lat_0={lat0!r} +lon_0={lon!r} +h={height_m!r} +x_0=0 +y_0=0 {radius}"
    raise GeometryError(f"unknown projection code {code}")


def projected_crs(
    body: BodyCRS, code: int, lat0_deg: float, lon0_deg: float, height_m: float = 0.0, title: str = ""
) -> tuple[CRS, str | None]:
    """(rasterio CRS, IAU code or None) for a projection on the body's sphere.

    An IAU_2015 code is used where one with exactly these parameters exists; otherwise the PROJ
    definition is written as WKT2 carrying the body's IAU sphere and datum names.
    """
    iau = _iau_projected_code(body, code, lat0_deg, lon0_deg)
    if iau is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return CRS.from_string(iau), iau
    crs = CRS.from_proj4(proj_string(body, code, lat0_deg, lon0_deg, height_m))
    wkt = crs.to_wkt(version="WKT2_2019")
    name = f"{body.geographic_name} / {title}" if title else body.geographic_name
    for keyword, value in (
        ("PROJCRS", name),
        ("BASEGEOGCRS", body.geographic_name),
        ("DATUM", body.datum_name),
        ("ELLIPSOID", body.sphere_name),
        ("CONVERSION", title or "unnamed"),
    ):
        wkt = re.sub(keyword + r'\["unknown"', f'{keyword}["{value}"', wkt, count=1)
    return CRS.from_wkt(wkt), None

