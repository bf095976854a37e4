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

from dataclasses import dataclass
from pathlib import Path

import numpy as np

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
RESAMPLE_CHUNK_ROWS = 256


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
    to apply."""
    image = np.asarray(image)
    if georeference.is_planetocentric:
        return image.astype(np.float32, copy=False)
    rows, cols = image.shape[:2]
    out = np.empty(image.shape, np.float32)
    lon = (np.arange(cols) + 0.5) * (2 * np.pi / cols)
    for start in range(0, rows, RESAMPLE_CHUNK_ROWS):
        stop = min(rows, start + RESAMPLE_CHUNK_ROWS)
        lat = np.pi / 2 - (np.arange(start, stop) + 0.5) * (np.pi / rows)
        if any(georeference.rotation_deg):
            lat_grid, lon_grid = np.meshgrid(lat, lon, indexing="ij")
            row_lat, col_lon = georeference.mosaic_latlon(lat_grid, lon_grid)
        else:  # rows only: every column keeps its longitude
            row_lat, col_lon = georeference.mosaic_latlon(lat, lon[0])
            row_lat, col_lon = np.broadcast_to(row_lat[:, None], (stop - start, cols)), None
        out[start:stop] = _bilinear(image, row_lat, col_lon)
    return out


def _bilinear(image: np.ndarray, row_lat: np.ndarray, col_lon: np.ndarray | None) -> np.ndarray:
    """Bilinear values of ``image`` at (row latitude, column east longitude) (radians, 2-D);
    ``col_lon`` None: each output column is the image's own column."""
    rows, cols = image.shape[:2]
    y = (np.pi / 2 - row_lat) * (rows / np.pi) - 0.5
    y0 = np.clip(np.floor(y).astype(np.int64), 0, rows - 2)
    fy = np.clip(y - y0, 0.0, 1.0).astype(np.float32)
    if col_lon is None:
        x0 = np.broadcast_to(np.arange(cols), y.shape)
        x1, fx = x0, np.zeros(y.shape, np.float32)
    else:
        x = np.mod(col_lon, 2 * np.pi) * (cols / (2 * np.pi)) - 0.5
        x0 = np.floor(x).astype(np.int64)
        fx = (x - x0).astype(np.float32)
        x0 %= cols
        x1 = (x0 + 1) % cols
    if image.ndim == 3:
        fx, fy = fx[..., None], fy[..., None]
    top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
    bottom = image[y0 + 1, x0] * (1 - fx) + image[y0 + 1, x1] * fx
    return top * (1 - fy) + bottom * fy
