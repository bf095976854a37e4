"""The georeference of known global mosaics of Io: one declaration, used by every reader.

A global simple-cylindrical (equirectangular) mosaic is meant to put a surface point at
planetocentric latitude φ, east longitude λ of the IAU body frame in the row and column of (φ, λ).
Some do not: :class:`Georeference` says how a mosaic's grid departs from that (rows of another
latitude, features turned by a small rotation), and :data:`KNOWN_GEOREFERENCES` holds what was
measured for the known files (docs/pointing.md, "Georeference of the Io mosaics").

The readers apply it: ``ioflyby.pointing.reference.ReferenceMap`` samples through it,
``ioflyby.simulate.basemap.load_basemap`` and ``ioflyby.mapping.reference`` resample the image
onto a planetocentric grid with :func:`resample_to_planetocentric`.

Grid convention of the images handled here: row 0 at 90°N, pixel centres half a pixel in, column
0 starting at 0°E with east longitude increasing to the right (the USGS Io mosaics: left edge
360°W = 0°E).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ioflyby._numba import jit
from ioflyby.geometry.spin import rotation_vector_matrix

IO_RADII_KM = (1829.4, 1819.4, 1815.7)
"""Io's triaxial radii (IAU 2015 / pck00010), km."""
IO_MEAN_RADIUS_KM = 1821.6
UNKNOWN_REGISTRATION_SIGMA_DEG = 0.3
"""Rotation σ (each axis, over a 60°-radius footprint) of a map whose registration to the
target's body frame is not known: the size of the differences between Io mosaics before their
georeference was declared (docs/pointing.md)."""
REGISTRATION_FOOTPRINT_DEG = 60.0
REGISTRATION_SCALE_EXPONENT = 0.72
"""How a map's rotation error over a footprint grows as the footprint shrinks: σ(ρ) =
σ(60°) · (60°/ρ)^0.72, fitted to the rotation about the line of sight between two Io mosaics
over footprints of radius 25°–80° (docs/pointing.md)."""
MIN_FOOTPRINT_DEG = 10.0


@dataclass(frozen=True)
class Georeference:
    """How a global mosaic's grid departs from planetocentric, east-positive coordinates of the
    IAU body frame, and how well that is known.

    Attributes:
        latitude_ratio: the rows' latitude ψ obeys tan ψ = latitude_ratio · tan φ for the
            planetocentric latitude φ (1: planetocentric rows; (a/c)² of a spheroid of radii a, c:
            planetographic rows).
        rotation_deg: small rotation vector (body frame x, y, z; degrees) that takes a surface
            point's true position to where the mosaic shows it (x through 0°E on the equator,
            z the north pole; z is a constant east shift of every feature).
        registration_sigma_deg: 1-σ of the mosaic's remaining rotation about any axis, over a
            footprint of radius ``REGISTRATION_FOOTPRINT_DEG`` (degrees; :meth:`rotation_sigma_deg`
            for others); ``UNKNOWN_REGISTRATION_SIGMA_DEG`` when nothing is known.
        evidence: how it was measured (for the report).
    """

    latitude_ratio: float = 1.0
    rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    registration_sigma_deg: float = UNKNOWN_REGISTRATION_SIGMA_DEG
    evidence: str = "none: registration unknown"

    @property
    def is_planetocentric(self) -> bool:
        """Whether the grid is already planetocentric and unrotated (nothing to resample)."""
        return self.latitude_ratio == 1.0 and not any(self.rotation_deg)

    def rotation_sigma_deg(self, footprint_radius_deg: float) -> float:
        """1-σ (degrees) of the mosaic's rotation about an axis through the centre of a footprint
        of angular radius ``footprint_radius_deg`` (degrees, at least ``MIN_FOOTPRINT_DEG``)."""
        radius = max(float(footprint_radius_deg), MIN_FOOTPRINT_DEG)
        return self.registration_sigma_deg * (REGISTRATION_FOOTPRINT_DEG / radius) ** REGISTRATION_SCALE_EXPONENT

    def applied(self) -> Georeference:
        """The georeference of this mosaic once resampled onto a planetocentric grid
        (:func:`resample_to_planetocentric`): no latitude relation or rotation left, the same σ."""
        if self.is_planetocentric:
            return self
        return Georeference(registration_sigma_deg=self.registration_sigma_deg,
                            evidence="resampled to planetocentric through: " + self.evidence)

    def mosaic_latlon(self, lat: np.ndarray, lon_east: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where the mosaic shows the surface point at planetocentric ``lat``, east ``lon_east``
        (radians, any shape): its (row latitude, column east longitude), radians."""
        if any(self.rotation_deg):
            cos_lat = np.cos(lat)
            point = np.stack([cos_lat * np.cos(lon_east), cos_lat * np.sin(lon_east), np.sin(lat)], axis=-1)
            point = point @ rotation_vector_matrix(np.radians(self.rotation_deg)).T
            lat = np.arctan2(point[..., 2], np.hypot(point[..., 0], point[..., 1]))
            lon_east = np.arctan2(point[..., 1], point[..., 0])
        if self.latitude_ratio != 1.0:
            lat = np.arctan2(self.latitude_ratio * np.sin(lat), np.cos(lat))
        return lat, lon_east

    def to_dict(self) -> dict:
        return {"latitude_ratio": self.latitude_ratio, "rotation_deg": list(self.rotation_deg),
                "registration_sigma_deg": self.registration_sigma_deg, "evidence": self.evidence}


_KM = np.degrees(1.0 / IO_MEAN_RADIUS_KM)
IO_MOSAIC_REGISTRATION_SIGMA_DEG = 0.061
"""Rotation about the line of sight between the USGS colour merge and the newer photomosaic (its
georeference declared) over 162 footprints of 60° radius: RMS 0.061° (90 % within 0.12°)
(docs/pointing.md); taken as each mosaic's σ against the body frame."""
USGS_MOSAIC_GEOREFERENCE = Georeference(
    registration_sigma_deg=IO_MOSAIC_REGISTRATION_SIGMA_DEG,
    evidence="USGS Galileo SSI-Voyager mosaic, planetocentric: 70 small paterae within 1.6 km (sin 2 phi term) "
             "and 2 km (rotation) of the IAU gazetteer (docs/pointing.md)")
NEW_IO_PHOTOMOSAIC_GEOREFERENCE = Georeference(
    latitude_ratio=(IO_RADII_KM[2] / IO_RADII_KM[0]) ** 2,
    rotation_deg=(2.1 * _KM, 0.1 * _KM, 2.5 * _KM),
    registration_sigma_deg=IO_MOSAIC_REGISTRATION_SIGMA_DEG,
    evidence="rows: tan psi = (c/a)^2 tan phi (features 13.8 km sin 2 phi nearer the equator; paterae against "
             "the IAU gazetteer -17.5 +- 1.1 km sin 2 phi, patches against the USGS colour merge -15.0 km); "
             "turned by (2.1, 0.1, 2.5) +- 1.2 km about body x, y, z against the gazetteer (docs/pointing.md)")
"""``New_Io_photomosaic_2km_grey.jpg``: features sit 13.8 km · sin 2φ nearer the equator than on a
planetocentric grid — the size and shape of Io's planetographic–planetocentric difference
(a = 1829.4, c = 1815.7 km) applied the wrong way — and the mosaic is turned by ~0.1° (2–3 km)
against the IAU gazetteer. Measured on the centroids of 70 small dark paterae against the
gazetteer (and confirmed by 436 2-km patches phase-correlated against the USGS colour merge);
docs/pointing.md, "Georeference of the Io mosaics"."""
KNOWN_GEOREFERENCES = {
    "Io_GalileoSSI-Voyager_Global_Mosaic_ClrMerge_2km_180W.jpg": USGS_MOSAIC_GEOREFERENCE,
    "Io_GalileoSSI-Voyager_Global_Mosaic_2km_180W.jpg": USGS_MOSAIC_GEOREFERENCE,
    "New_Io_photomosaic_2km_grey.jpg": NEW_IO_PHOTOMOSAIC_GEOREFERENCE,
}
"""Mosaic file name → its :class:`Georeference` (other files: :class:`Georeference` (), unknown)."""


def georeference_of(path: str | Path) -> Georeference:
    """The declared georeference of the mosaic file ``path`` (by file name; unknown files:
    planetocentric with an unknown registration σ)."""
    return KNOWN_GEOREFERENCES.get(Path(path).name, Georeference())


def resample_to_planetocentric(image: np.ndarray, georeference: Georeference) -> np.ndarray:
    """The global equirectangular ``image`` (rows, cols[, bands]; see the module docstring)
    resampled (bilinear, wrapping in longitude, clamped at the poles) onto the planetocentric grid
    of the same shape, through ``georeference``: output pixel (φ, λ) takes the mosaic's value
    where it shows the point (φ, λ). float32; the image itself (as float32) when there is nothing
    to apply.

    Where the mosaic shows each pixel comes from :func:`source_lattice` (exact every
    ``RESAMPLE_LATTICE_STEP`` columns of every row, linear between, within
    ``RESAMPLE_TOLERANCE_PX`` of the exact mapping); the image is then sampled once by a compiled
    kernel."""
    image = np.asarray(image)
    if georeference.is_planetocentric:
        return image.astype(np.float32, copy=False)
    lattice = source_lattice(image.shape[:2], georeference)
    bands = np.ascontiguousarray(image if image.ndim == 3 else image[..., None])
    out = np.empty(bands.shape, np.float32)
    _sample_kernel(bands, lattice.rows_px, lattice.shift_px, lattice.exact_index, lattice.exact_rows_px,
                   lattice.exact_shift_px, lattice.step, out)
    return out if image.ndim == 3 else out[..., 0]


RESAMPLE_LATTICE_STEP = 16
"""Columns between the exact evaluations of the mapping along each row (pixels)."""
RESAMPLE_TOLERANCE_PX = 0.01
"""Largest difference (pixels) allowed between the interpolated and the exact source position."""
LATTICE_SAFETY = 4.0
"""Factor on a row's estimated interpolation error before comparing it with the tolerance."""


@dataclass(frozen=True)
class SourceLattice:
    """Where a mosaic shows each pixel of the planetocentric grid of shape (rows, cols), in the
    mosaic's pixel coordinates (row y, column x; 0 at the centre of the top-left pixel): exact at
    columns 0, step, 2·step, … of every output row and linear between them; rows where that
    would err by more than ``RESAMPLE_TOLERANCE_PX`` (near the poles) exact at
    every column.

    Attributes:
        cols: columns of the grid.
        step: lattice spacing (columns).
        rows_px: source row y at the lattice nodes, (rows, nodes) float64.
        shift_px: source column x minus the output column, wrapped into [−cols/2, cols/2),
            (rows, nodes) float64.
        exact_index: per output row, its index into ``exact_rows_px`` / ``exact_shift_px``,
            −1 where the lattice is used.
        exact_rows_px, exact_shift_px: y and x − column at every column of the exact rows,
            (exact rows, cols) float64.
    """

    cols: int
    step: int
    rows_px: np.ndarray
    shift_px: np.ndarray
    exact_index: np.ndarray
    exact_rows_px: np.ndarray
    exact_shift_px: np.ndarray

    def pixels(self) -> tuple[np.ndarray, np.ndarray]:
        """Source (y, x) at every output pixel, (rows, cols) float64 each (x not wrapped: the
        output column plus its shift), as the resampling kernel computes them."""
        shape = (self.exact_index.shape[0], self.cols)
        y, x = np.empty(shape), np.empty(shape)
        _pixels_kernel(self.rows_px, self.shift_px, self.exact_index, self.exact_rows_px, self.exact_shift_px,
                       self.step, y, x)
        return y, x


def source_lattice(shape: tuple[int, int], georeference: Georeference,
                   step: int = RESAMPLE_LATTICE_STEP) -> SourceLattice:
    """Where the mosaic of ``shape`` (rows, cols) shows each planetocentric pixel, through
    ``georeference`` (:meth:`Georeference.mosaic_latlon`, exact at the lattice nodes).

    Interpolation error: linear interpolation over ``step`` columns errs by at most step²/8 times
    the largest second derivative along the row. A small rotation θ about an equatorial axis moves
    a point by θ·sin(λ − α) in latitude and −θ·tan φ·cos(λ − α) in longitude, so the second
    derivatives are (rows/π)·θ·(2π/cols)² and (cols/2π)·θ·tan|φ|·(2π/cols)² px per px²: for the
    newer Io mosaic (θ = 1.15e-3 rad, 5748 columns, step 16) 4e-5 and 4e-5·tan|φ| px, under
    0.01 px everywhere but within ~4 rows of the poles; rotation about the pole axis and the
    latitude relation are exact. Each row's error is estimated from its lattice's second
    differences (Δ²/8, times ``LATTICE_SAFETY``); rows above ``RESAMPLE_TOLERANCE_PX`` are
    evaluated at every column."""
    rows, cols = (int(v) for v in shape)
    nodes = -(-(cols - 1) // step) + 1
    rows_px, shift_px = _exact_pixels(rows, cols, np.arange(rows), np.arange(nodes) * step, georeference)
    estimate = np.zeros(rows)
    if nodes >= 3:
        for values in (rows_px, shift_px):
            estimate = np.maximum(estimate, np.abs(np.diff(values, 2, axis=1)).max(axis=1) / 8.0)
    exact = np.flatnonzero(LATTICE_SAFETY * estimate > RESAMPLE_TOLERANCE_PX)
    exact_index = np.full(rows, -1, np.int64)
    exact_index[exact] = np.arange(exact.size)
    exact_rows_px, exact_shift_px = _exact_pixels(rows, cols, exact, np.arange(cols), georeference)
    return SourceLattice(cols, step, rows_px, shift_px, exact_index, exact_rows_px, exact_shift_px)


def _exact_pixels(rows: int, cols: int, out_rows: np.ndarray, out_cols: np.ndarray,
                  georeference: Georeference) -> tuple[np.ndarray, np.ndarray]:
    """Source (y, x − column wrapped into [−cols/2, cols/2)) of the output pixels at ``out_rows``
    × ``out_cols`` of a (rows, cols) grid, exactly (float64, (len(out_rows), len(out_cols)))."""
    lat = np.pi / 2 - (np.asarray(out_rows, float) + 0.5) * (np.pi / rows)
    lon = (np.asarray(out_cols, float) + 0.5) * (2 * np.pi / cols)
    if any(georeference.rotation_deg):
        lat_grid, lon_grid = np.meshgrid(lat, lon, indexing="ij")
        row_lat, col_lon = georeference.mosaic_latlon(lat_grid, lon_grid)
    else:  # rows only: every column keeps its longitude
        row_lat, _ = georeference.mosaic_latlon(lat, lon[:1])
        row_lat, col_lon = np.broadcast_to(row_lat[:, None], (lat.size, lon.size)), lon[None, :]
    y = (np.pi / 2 - row_lat) * (rows / np.pi) - 0.5
    x = np.mod(col_lon, 2 * np.pi) * (cols / (2 * np.pi)) - 0.5
    shift = np.mod(x - np.asarray(out_cols, float)[None, :] + cols / 2, cols) - cols / 2
    return np.ascontiguousarray(y, float), np.ascontiguousarray(np.broadcast_to(shift, y.shape), float)


@jit()
def _row_pixels(rows_px, shift_px, exact_index, exact_rows_px, exact_shift_px, step, i, y, x):
    """Source (y, x) of every pixel of output row ``i`` into ``y``, ``x`` (cols): the exact row,
    or linear between the lattice nodes."""
    cols = y.shape[0]
    k = exact_index[i]
    if k >= 0:
        for j in range(cols):
            y[j] = exact_rows_px[k, j]
            x[j] = j + exact_shift_px[k, j]
        return
    for n in range(rows_px.shape[1] - 1):
        y_a, y_step = rows_px[i, n], (rows_px[i, n + 1] - rows_px[i, n]) / step
        s_a, s_step = shift_px[i, n], (shift_px[i, n + 1] - shift_px[i, n]) / step
        first = n * step
        for m in range(min(step, cols - first)):
            y[first + m] = y_a + y_step * m
            x[first + m] = first + m + s_a + s_step * m
    last = (rows_px.shape[1] - 1) * step
    if last < cols:
        y[last] = rows_px[i, -1]
        x[last] = last + shift_px[i, -1]


@jit()
def _pixels_kernel(rows_px, shift_px, exact_index, exact_rows_px, exact_shift_px, step, y, x):
    """:func:`_row_pixels` for every output row into ``y``, ``x`` (rows, cols)."""
    for i in range(y.shape[0]):
        _row_pixels(rows_px, shift_px, exact_index, exact_rows_px, exact_shift_px, step, i, y[i], x[i])


@jit()
def _sample_kernel(image, rows_px, shift_px, exact_index, exact_rows_px, exact_shift_px, step, out):
    """Bilinear values of ``image`` (rows, cols, bands) at each output pixel's source position
    (:func:`_row_pixels`) into ``out`` (float32, same shape): wrapping in columns, rows clamped
    to the first and last."""
    rows, cols, bands = image.shape
    y = np.empty(cols)
    x = np.empty(cols)
    for i in range(rows):
        _row_pixels(rows_px, shift_px, exact_index, exact_rows_px, exact_shift_px, step, i, y, x)
        for j in range(cols):
            y0 = min(max(int(math.floor(y[j])), 0), rows - 2)
            fy = min(max(y[j] - y0, 0.0), 1.0)
            xf = math.floor(x[j])
            fx = x[j] - xf
            x0 = int(xf)
            while x0 < 0:
                x0 += cols
            while x0 >= cols:
                x0 -= cols
            x1 = x0 + 1 if x0 + 1 < cols else 0
            for b in range(bands):
                top = image[y0, x0, b] * (1.0 - fx) + image[y0, x1, b] * fx
                bottom = image[y0 + 1, x0, b] * (1.0 - fx) + image[y0 + 1, x1, b] * fx
                out[i, j, b] = top * (1.0 - fy) + bottom * fy
