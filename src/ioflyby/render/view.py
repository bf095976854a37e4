"""Viewpoints of a rendered image: where each output pixel looks on the target's surface.

Three kinds of view, each a rule "output pixel → body-fixed surface point and normal":

- ``spacecraft``: a virtual pinhole camera at the spacecraft's body-fixed position at the
  product's middle framelet, looking at the body's centre with the body's north up; the ray of
  each pixel meets the triaxial ellipsoid (the nearer intersection). Pixel (col, row), the centre
  of the upper-left pixel at (0, 0); ray = x·(col − cx)/f + y·(row − cy)/f + z with z towards the
  body centre, y (rows, down) opposite the body's +Z projected onto the image, x = y × z.
- ``orthographic`` / ``perspective``: the cells of a :class:`ioflyby.mapping.grid.MapGrid` of
  those projections (cell centre → planetocentric lat/lon → point on the ellipsoid), the same
  rule as the mapping kernels (:func:`ioflyby.mapping.kernel.cell_latlon`).

Each pixel also gets its distance to the limb in output pixels (positive on the disc), which sets
the anti-aliased limb taper. Units: km, radians, pixels; frames: body-fixed (IAU_<TARGET>).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ioflyby._numba import jit
from ioflyby.errors import GeometryError
from ioflyby.geometry import Body, planetocentric_latlon
from ioflyby.mapping import kernel
from ioflyby.mapping import projections as proj
from ioflyby.mapping.grid import MapGrid

VIEWS = ("spacecraft", "orthographic", "perspective")
CAMERA, MAP = 0, 1
DISC_MARGIN = 1.06
"""The spacecraft view's default field shows the disc with this margin (ratio of half-widths)."""
MAX_SIDE = 8192


@dataclass(frozen=True)
class View:
    """An output view: ``kind`` (one of :data:`VIEWS`), its size, and the packed parameters the
    numba kernels read (:func:`view_point`).

    ``params`` for the spacecraft view: observer (3, km), x, y, z axes (3 each, body-fixed unit
    vectors), focal length f (px), principal point cx, cy (px); for maps: x_min, y_max, cell (m)
    and the grid's projection parameters in ``grid_params`` (code in ``code``).
    ``km_per_px``: the output scale at the disc centre (the sub-observer point for the spacecraft
    view). ``grid``: the MapGrid of map views.
    """

    kind: str
    width: int
    height: int
    code: int
    params: np.ndarray
    grid_params: np.ndarray
    radii_km: np.ndarray
    km_per_px: float
    grid: MapGrid | None = None

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width)."""
        return (self.height, self.width)

    @property
    def observer_km(self) -> np.ndarray | None:
        """The spacecraft view's camera position (body-fixed km), None for map views."""
        return self.params[0:3].copy() if self.kind == "spacecraft" else None

    @property
    def axes(self) -> np.ndarray:
        """Rows x, y, z of the spacecraft view's camera (body-fixed unit vectors)."""
        return self.params[3:12].reshape(3, 3).copy()

    def pixel_rays(self, col: np.ndarray, row: np.ndarray) -> np.ndarray:
        """Unit body-fixed rays (..., 3) of spacecraft-view pixels (centre of upper-left = 0, 0)."""
        if self.kind != "spacecraft":
            raise GeometryError("pixel rays exist only for the spacecraft view")
        f, cx, cy = self.params[12:15]
        x, y, z = self.axes
        rays = (x * ((np.asarray(col, float) - cx) / f)[..., None] + y * ((np.asarray(row, float) - cy) / f)[..., None]
                + z)
        return rays / np.linalg.norm(rays, axis=-1, keepdims=True)

    def north_angle_deg(self) -> float:
        """Direction of the body's north at the view centre, degrees clockwise from image up."""
        if self.kind == "spacecraft":
            north = np.array([0.0, 0.0, 1.0])
            x, y, _ = self.axes
            return math.degrees(math.atan2(float(north @ x), float(-(north @ y))))
        return 0.0  # the map projections here are north-up at their centre

    def describe(self) -> dict:
        """JSON-ready description (degrees, km)."""
        info: dict = {"view": self.kind, "width": self.width, "height": self.height, "km_per_px": self.km_per_px}
        if self.kind == "spacecraft":
            observer = self.params[0:3]
            lat, lon = planetocentric_latlon(observer[None])
            info.update({
                "observer_body_fixed_km": [float(v) for v in observer],
                "sub_observer_lat_deg": float(np.degrees(lat[0])),
                "sub_observer_lon_east_deg": float(np.degrees(lon[0]) % 360.0),
                "range_km": float(np.linalg.norm(observer)),
                "focal_length_px": float(self.params[12]),
                "principal_point_px": [float(self.params[13]), float(self.params[14])],
                "axes_body_fixed": self.axes.tolist(),
                "north_up": True,
            })
        elif self.grid is not None:
            info["grid"] = self.grid.describe()
        return info


def spacecraft_view(body: Body, observer_km: np.ndarray, focal_px: float, size: tuple[int, int] | None = None) -> View:
    """The virtual camera at ``observer_km`` (body-fixed km) looking at the body centre, north up.

    Without ``size`` (width, height) the focal length is ``focal_px`` (JunoCam's scale: one output
    pixel per framelet pixel at the sub-observer point) and the image is as large as the disc
    needs (times :data:`DISC_MARGIN`); with it, the focal length fits the disc into it.
    """
    observer = np.asarray(observer_km, float)
    radii = np.asarray(body.radii_km, float)
    distance = float(np.linalg.norm(observer))
    if distance <= float(np.max(radii)) * 1.0001:
        raise GeometryError(f"the viewpoint is {distance:.1f} km from {body.name}'s centre, inside the body: "
                            "choose another time or an orthographic view")
    half_angle = math.asin(float(np.max(radii)) / distance)
    tan_half = math.tan(min(half_angle * DISC_MARGIN, math.radians(80.0)))
    if size is None:
        side = int(2 * math.ceil(focal_px * tan_half + 4))
        if side > MAX_SIDE:
            side = MAX_SIDE
            focal_px = (side / 2 - 4) / tan_half
        width = height = side
    else:
        width, height = _check_size(size)
        focal_px = (min(width, height) / 2.0 - 2.0) / tan_half
    z = -observer / distance
    north = np.array([0.0, 0.0, 1.0])
    up = north - (north @ z) * z
    if np.linalg.norm(up) < 1e-9:  # looking along the pole: keep 0°E up
        up = np.array([1.0, 0.0, 0.0]) - z[0] * z
    y = -up / np.linalg.norm(up)
    x = np.cross(y, z)
    params = np.concatenate([observer, x, y, z, [focal_px, (width - 1) / 2.0, (height - 1) / 2.0]])
    km_per_px = (distance - float(np.max(radii))) / focal_px
    return View("spacecraft", width, height, CAMERA, params, np.zeros(4), radii, km_per_px)


def map_view(kind: str, body: Body, lat_deg: float, lon_deg: float, altitude_km: float | None, width: int) -> View:
    """An orthographic or vertical-perspective map view of ``width`` × ``width`` cells centred on
    (lat, lon east) in degrees; ``altitude_km`` is the perspective viewpoint's height."""
    width = _check_size((width, width))[0]
    if kind == "orthographic":
        grid = MapGrid.orthographic(body, lat_deg, lon_deg, width=width)
    elif kind == "perspective":
        if altitude_km is None or not altitude_km > 0:
            raise GeometryError("a perspective view needs --altitude-km > 0 (the viewpoint's height above the surface)")
        grid = MapGrid.perspective(body, lat_deg, lon_deg, altitude_km, width=width)
    else:
        raise GeometryError(f"unknown view {kind!r}: use one of {', '.join(VIEWS)}")
    params = np.array([grid.x_min, grid.y_max, grid.cell_m])
    return View(kind, grid.width, grid.height, grid.code, params, np.asarray(grid.params, float),
                np.asarray(body.radii_km, float), grid.resolution_km, grid)


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    width, height = (int(v) for v in size)
    if not (16 <= width <= MAX_SIDE and 16 <= height <= MAX_SIDE):
        raise GeometryError(f"image size {width}x{height} is outside 16..{MAX_SIDE} pixels a side: choose another --size")
    return width, height


def parse_size(text: str | None) -> tuple[int, int] | None:
    """``"WxH"`` (or ``"N"`` for a square) → (width, height); None stays None."""
    if text is None:
        return None
    parts = text.lower().replace("×", "x").split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise GeometryError(f"--size {text!r} is not WxH in pixels (e.g. 2048x2048)") from None
    if len(values) == 1:
        values *= 2
    if len(values) != 2:
        raise GeometryError(f"--size {text!r} is not WxH in pixels (e.g. 2048x2048)")
    return _check_size((values[0], values[1]))


# ---------------------------------------------------------------- numba: pixel → surface


@jit(inline="always")
def _ray_ellipsoid(ox, oy, oz, dx, dy, dz, a, b, c):
    """Nearer intersection of the ray o + t·d with the ellipsoid, and the ray's clearance angle
    (radians, the space where the ellipsoid is the unit sphere; negative where it misses).
    Returns (t, clearance, closest-approach parameter)."""
    sox, soy, soz = ox / a, oy / b, oz / c
    sdx, sdy, sdz = dx / a, dy / b, dz / c
    dd = sdx * sdx + sdy * sdy + sdz * sdz
    od = sox * sdx + soy * sdy + soz * sdz
    oo = sox * sox + soy * soy + soz * soz
    clearance = math.asin(min(1.0, 1.0 / math.sqrt(oo))) - math.acos(min(1.0, max(-1.0, -od / math.sqrt(dd * oo))))
    disc = od * od - dd * (oo - 1.0)
    t_closest = -od / dd
    if disc < 0.0 or clearance < 0.0:
        return math.nan, clearance, t_closest
    return (-od - math.sqrt(disc)) / dd, clearance, t_closest


@jit(inline="always")
def _normal(px, py, pz, a, b, c):
    nx, ny, nz = px / (a * a), py / (b * b), pz / (c * c)
    norm = math.sqrt(nx * nx + ny * ny + nz * nz)
    return nx / norm, ny / norm, nz / norm


@jit()
def view_point(kind, params, grid_params, radii, col, row, clamp, out):
    """Surface point of output pixel (col, row) (centre of upper-left = 0, 0): ``out[:]`` = point
    (km), unit normal, distance to the limb (output px, > 0 on the disc); returns whether the
    pixel sees the surface. With ``clamp`` a pixel beside the disc is moved to the limb (for the
    conservative block tests) and counts as seeing it."""
    a, b, c = radii[0], radii[1], radii[2]
    if kind == CAMERA:
        f, cx, cy = params[12], params[13], params[14]
        u, v = (col - cx) / f, (row - cy) / f
        dx = params[3] * u + params[6] * v + params[9]
        dy = params[4] * u + params[7] * v + params[10]
        dz = params[5] * u + params[8] * v + params[11]
        norm = math.sqrt(dx * dx + dy * dy + dz * dz)
        dx, dy, dz = dx / norm, dy / norm, dz / norm
        ox, oy, oz = params[0], params[1], params[2]
        t, clearance, t_closest = _ray_ellipsoid(ox, oy, oz, dx, dy, dz, a, b, c)
        out[6] = clearance * f * (1.0 + u * u + v * v)
        if not math.isfinite(t):
            if not clamp:
                return False
            px, py, pz = ox + t_closest * dx, oy + t_closest * dy, oz + t_closest * dz
            scale = 1.0 / math.sqrt((px / a) ** 2 + (py / b) ** 2 + (pz / c) ** 2)
            px, py, pz = px * scale, py * scale, pz * scale
        else:
            px, py, pz = ox + t * dx, oy + t * dy, oz + t * dz
        nx, ny, nz = _normal(px, py, pz, a, b, c)
        out[0], out[1], out[2], out[3], out[4], out[5] = px, py, pz, nx, ny, nz
        return True
    x_min, y_max, cell = params[0], params[1], params[2]
    x = x_min + (col + 0.5) * cell
    y = y_max - (row + 0.5) * cell
    radius, p = grid_params[0], grid_params[3]
    limit = radius if kind == proj.ORTHOGRAPHIC else radius * math.sqrt((p - 1.0) / (p + 1.0))
    out[6] = (limit - math.hypot(x, y)) / cell
    lat, lon = kernel.cell_latlon(kind, grid_params, x_min, y_max, cell, col + 0.5, row + 0.5, clamp)
    if not math.isfinite(lat):
        return False
    px, py, pz, nx, ny, nz = kernel.surface_point(lat, lon, a, b, c)
    out[0], out[1], out[2], out[3], out[4], out[5] = px, py, pz, nx, ny, nz
    return True


def view_code(view: View) -> int:
    """The kind code :func:`view_point` takes: CAMERA, or the map projection's code."""
    return CAMERA if view.kind == "spacecraft" else int(view.code)


def surface_points(view: View, col: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Body-fixed surface points (n, 3) km of output pixels (NaN where the pixel sees no surface)
    and their distance to the limb (output px); vectorised :func:`view_point`, for callers."""
    col, row = np.broadcast_arrays(np.asarray(col, float).ravel(), np.asarray(row, float).ravel())
    return _surface_points(view_code(view), view.params, view.grid_params, view.radii_km, col, row)


@jit()
def _surface_points(kind, params, grid_params, radii, col, row):
    points = np.full((col.size, 3), np.nan)
    limb = np.empty(col.size)
    out = np.empty(7)
    for i in range(col.size):
        if view_point(kind, params, grid_params, radii, col[i], row[i], False, out):
            points[i, 0], points[i, 1], points[i, 2] = out[0], out[1], out[2]
        limb[i] = out[6]
    return points, limb
