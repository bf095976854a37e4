"""Map grids: a projection on the body's IAU sphere, an extent and a cell size, with its CRS.

Cell convention: the centre of the upper-left cell is (col, row) = (0, 0); cell (c, r) has its
centre at x = x_min + (c + 0.5)·cell_m, y = y_max − (r + 0.5)·cell_m (metres), which is GDAL's
geotransform (x_min, cell_m, 0, y_max, 0, −cell_m) shifted by half a cell. Latitudes are
planetocentric and longitudes east-positive; radians inside, degrees in the constructors'
arguments and in :meth:`MapGrid.describe`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from ioflyby.errors import GeometryError
from ioflyby.geometry import Body
from ioflyby.mapping import projections as proj
from ioflyby.mapping.crs import LON_CONVENTION, BodyCRS, body_crs, projected_crs

PROJECTIONS = ("equirectangular", "orthographic", "polar", "perspective")
DEFAULT_WIDTH = 2048
MAX_CELLS = 20000 * 20000
_DISC_MARGIN = 1.01


@dataclass(frozen=True)
class MapGrid:
    """A raster of map cells in a projection of the body's sphere.

    Attributes:
        projection: one of :data:`PROJECTIONS` (``polar`` covers both poles).
        code: numba projection code (:mod:`ioflyby.mapping.projections`).
        params: (R_m, lat0_rad, lon0_rad, P) for the projection functions.
        width, height: cells.
        x_min, y_max: left and top edges of the raster, metres.
        cell_m: cell size, metres.
        crs: the rasterio CRS; ``crs_id`` its IAU_2015 code where one exists.
    """

    projection: str
    code: int
    params: np.ndarray
    width: int
    height: int
    x_min: float
    y_max: float
    cell_m: float
    crs: CRS
    crs_id: str | None
    body: BodyCRS
    extra: dict = field(default_factory=dict)

    # -- constructors by projection (angles in degrees, lengths in km) -----------------------------
    @classmethod
    def equirectangular(
        cls, body: Body, lat_range: tuple[float, float] = (-90.0, 90.0), lon_range: tuple[float, float] | None = None,
        resolution_km: float | None = None, width: int | None = None,
    ) -> MapGrid:
        """Simple cylindrical grid over a lat/lon box (see :func:`equirectangular_grid`)."""
        return equirectangular_grid(_crs_of(body), lat_range, lon_range, resolution_km, width)

    @classmethod
    def orthographic(
        cls, body: Body, lat: float, lon: float, resolution_km: float | None = None, width: int | None = None
    ) -> MapGrid:
        """The visible hemisphere centred on (lat, lon east) (see :func:`orthographic_grid`)."""
        return orthographic_grid(_crs_of(body), lat, lon, resolution_km, width)

    @classmethod
    def polar(
        cls, body: Body, north: bool = True, edge_lat: float = 0.0, lon: float = 0.0,
        resolution_km: float | None = None, width: int | None = None,
    ) -> MapGrid:
        """Polar stereographic out to ``edge_lat`` (see :func:`polar_grid`)."""
        return polar_grid(_crs_of(body), north, edge_lat, lon, resolution_km, width)

    @classmethod
    def perspective(
        cls, body: Body, lat: float, lon: float, altitude_km: float,
        resolution_km: float | None = None, width: int | None = None,
    ) -> MapGrid:
        """The sphere seen from ``altitude_km`` above (lat, lon east) (see :func:`perspective_grid`)."""
        return perspective_grid(_crs_of(body), lat, lon, altitude_km, resolution_km, width)

    @property
    def transform(self) -> Affine:
        """GDAL/rasterio affine transform (cell corner → metres)."""
        return Affine(self.cell_m, 0.0, self.x_min, 0.0, -self.cell_m, self.y_max)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in metres."""
        return (self.x_min, self.y_max - self.height * self.cell_m, self.x_min + self.width * self.cell_m, self.y_max)

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width)."""
        return (self.height, self.width)

    @property
    def resolution_km(self) -> float:
        """Cell size in km (on the CRS sphere; true scale only where the projection has it)."""
        return self.cell_m / 1000.0

    def cell_to_xy(self, col: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cell coordinates (centre of upper-left = 0, 0) → projected metres."""
        return self.x_min + (np.asarray(col, float) + 0.5) * self.cell_m, self.y_max - (np.asarray(row, float) + 0.5) * self.cell_m

    def xy_to_cell(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Projected metres → fractional cell coordinates (col, row)."""
        return (np.asarray(x, float) - self.x_min) / self.cell_m - 0.5, (self.y_max - np.asarray(y, float)) / self.cell_m - 0.5

    def cell_to_latlon(self, col: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cell coordinates → planetocentric lat, east lon (radians; NaN off the projection)."""
        x, y = self.cell_to_xy(col, row)
        return proj.unproject(self.code, self.params, x, y)

    def latlon_to_cell(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Planetocentric lat, east lon (radians) → fractional (col, row); NaN where hidden."""
        x, y = proj.project(self.code, self.params, lat, lon)
        return self.xy_to_cell(x, y)

    def latlon(self) -> tuple[np.ndarray, np.ndarray]:
        """Latitude and longitude (radians) of every cell centre, arrays (height, width)."""
        rows, cols = np.mgrid[0 : self.height, 0 : self.width]
        return self.cell_to_latlon(cols, rows)

    def describe(self) -> dict:
        """JSON-ready summary (degrees, km) written into outputs."""
        radius, lat0, lon0, p = (float(v) for v in self.params)
        info = {
            "projection": self.projection,
            "crs": self.crs_id or "PROJ definition on the IAU sphere (see WKT)",
            "proj4": self.crs.to_proj4(),
            "sphere_radius_km": radius / 1000.0,
            "center_lat_deg": math.degrees(lat0),
            "center_lon_east_deg": math.degrees(lon0),
            "width": self.width,
            "height": self.height,
            "cell_km": self.cell_m / 1000.0,
            "bounds_m": list(self.bounds),
            "convention": LON_CONVENTION,
        }
        if self.code == proj.PERSPECTIVE:
            info["viewpoint_altitude_km"] = (p - 1.0) * radius / 1000.0
        info.update(self.extra)
        return info


def _crs_of(body: Body) -> BodyCRS:
    return body_crs(body.naif_id, body.name, body.radii_km)


def _check_size(width: int, height: int) -> None:
    if width < 1 or height < 1 or width * height > MAX_CELLS:
        raise GeometryError(f"map of {width} x {height} cells is empty or too large; choose another resolution_km or width")


def _square_grid(
    body: BodyCRS, projection: str, code: int, half_extent_m: float, lat0: float, lon0: float,
    height_m: float, resolution_km: float | None, width: int | None, title: str,
) -> MapGrid:
    if resolution_km is not None:
        if not resolution_km > 0:
            raise GeometryError(f"map resolution_km must be positive, got {resolution_km}")
        cell = resolution_km * 1000.0
        width = max(1, int(math.ceil(2 * half_extent_m / cell)))
    else:
        width = int(width or DEFAULT_WIDTH)
        cell = 2 * half_extent_m / width
    _check_size(width, width)
    half = width * cell / 2.0
    crs, crs_id = projected_crs(body, code, lat0, lon0, height_m, title)
    p = 1.0 + height_m / body.radius_m
    params = np.array([body.radius_m, math.radians(lat0), math.radians(lon0), p])
    return MapGrid(projection, code, params, width, width, -half, half, cell, crs, crs_id, body)


def equirectangular_grid(
    body: BodyCRS,
    lat_range_deg: tuple[float, float] = (-90.0, 90.0),
    lon_range_deg: tuple[float, float] | None = None,
    resolution_km: float | None = None,
    width: int | None = None,
) -> MapGrid:
    """Equirectangular (simple cylindrical, standard parallel 0°) grid over a lat/lon box.

    ``lon_range_deg`` is (west edge, east edge) in east longitude; the east edge may exceed 360
    or be below the west one (the box then crosses 180°/0°). Default: global, centred on 0°E
    (IAU_2015:N10). The projection's central meridian is the box centre.
    """
    lat_lo, lat_hi = (float(v) for v in lat_range_deg)
    if not -90.0 <= lat_lo < lat_hi <= 90.0:
        raise GeometryError(f"latitude box {lat_range_deg} must satisfy -90 <= south < north <= 90")
    west, east = (-180.0, 180.0) if lon_range_deg is None else (float(v) for v in lon_range_deg)
    while east <= west:
        east += 360.0
    if east - west > 360.0:
        raise GeometryError(f"longitude box {lon_range_deg} spans more than 360 degrees")
    lon0 = (west + east) / 2.0
    lon0 = ((lon0 + 180.0) % 360.0) - 180.0 if lon_range_deg is not None else 0.0
    span_x = math.radians(east - west) * body.radius_m
    span_y = math.radians(lat_hi - lat_lo) * body.radius_m
    if resolution_km is not None:
        if not resolution_km > 0:
            raise GeometryError(f"map resolution_km must be positive, got {resolution_km}")
        cell = resolution_km * 1000.0
    else:
        cell = span_x / int(width or DEFAULT_WIDTH)
    n_x = max(1, int(round(span_x / cell)))
    n_y = max(1, int(round(span_y / cell)))
    _check_size(n_x, n_y)
    crs, crs_id = projected_crs(body, proj.EQUIRECTANGULAR, 0.0, lon0, title=f"Equirectangular, clon = {lon0:g}")
    params = np.array([body.radius_m, 0.0, math.radians(lon0), 1.0])
    x_min = -n_x * cell / 2.0
    y_max = math.radians(lat_hi) * body.radius_m
    return MapGrid("equirectangular", proj.EQUIRECTANGULAR, params, n_x, n_y, x_min, y_max, cell, crs, crs_id, body)


def orthographic_grid(
    body: BodyCRS, lat0_deg: float, lon0_deg: float, resolution_km: float | None = None, width: int | None = None
) -> MapGrid:
    """Orthographic view of the whole visible hemisphere centred on (lat0, lon0), degrees."""
    _check_lat(lat0_deg)
    return _square_grid(
        body, "orthographic", proj.ORTHOGRAPHIC, body.radius_m * _DISC_MARGIN, lat0_deg, lon0_deg, 0.0,
        resolution_km, width, f"Orthographic, clat = {lat0_deg:.4f}, clon = {lon0_deg:.4f}",
    )


def polar_grid(
    body: BodyCRS, north: bool = True, edge_lat_deg: float = 0.0, lon0_deg: float = 0.0,
    resolution_km: float | None = None, width: int | None = None,
) -> MapGrid:
    """Polar stereographic grid (true scale at the pole) reaching out to ``edge_lat_deg`` (the
    latitude at the middle of each edge; the default 0° shows the whole hemisphere)."""
    edge = abs(float(edge_lat_deg))
    if not 0.0 <= edge < 90.0:
        raise GeometryError(f"polar map edge latitude must be in [0, 90), got {edge_lat_deg}")
    half = 2.0 * body.radius_m * math.tan(math.pi / 4.0 - math.radians(edge) / 2.0)
    code = proj.POLAR_NORTH if north else proj.POLAR_SOUTH
    grid = _square_grid(
        body, "polar", code, half, 90.0 if north else -90.0, lon0_deg, 0.0, resolution_km, width,
        f"{'North' if north else 'South'} Polar Stereographic, clon = {lon0_deg:g}",
    )
    return grid


def perspective_grid(
    body: BodyCRS, lat0_deg: float, lon0_deg: float, altitude_km: float,
    resolution_km: float | None = None, width: int | None = None,
) -> MapGrid:
    """Vertical ("point") perspective from a viewpoint ``altitude_km`` above (lat0, lon0),
    looking at the body centre: what a camera there would see of the sphere (PROJ ``nsper``)."""
    _check_lat(lat0_deg)
    if not altitude_km > 0:
        raise GeometryError(f"perspective viewpoint altitude must be positive, got {altitude_km} km")
    height_m = altitude_km * 1000.0
    p = 1.0 + height_m / body.radius_m
    half = body.radius_m * math.sqrt((p - 1.0) / (p + 1.0)) * _DISC_MARGIN
    return _square_grid(
        body, "perspective", proj.PERSPECTIVE, half, lat0_deg, lon0_deg, height_m, resolution_km, width,
        f"Vertical Perspective from {altitude_km:.1f} km above {lat0_deg:.4f}N {lon0_deg:.4f}E",
    )


def _check_lat(lat_deg: float) -> None:
    if not -90.0 <= lat_deg <= 90.0:
        raise GeometryError(f"centre latitude must be in [-90, 90], got {lat_deg}")
