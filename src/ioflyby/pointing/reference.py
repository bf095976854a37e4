"""A reference map of the target for surface-feature pointing (``ioflyby.pointing.features``).

The map reaches the pointing stage as this small value, never as a file: the code that reads a
mosaic (for Io, the USGS global mosaics through ``ioflyby.simulate.basemap.load_basemap``) lives
in the orchestration layer (``ioflyby.observation.solve_pointing``, the CLI).

Convention (:data:`CONVENTION`): a global simple-cylindrical (equirectangular) grid, row 0 at
90°N and the last row at 90°S (planetocentric latitude, pixel centres half a pixel in), column 0
at 0°E with east-positive longitude increasing to the right (the last column ends at 360°E). Only
relative brightness matters: the matcher band-passes and normalises it locally, so a mosaic with
other photometry, resolution or epoch than the images serves.

A mosaic that departs from this (rows of another latitude, a grid turned against the body frame)
declares it in its :class:`Georeference`; :data:`KNOWN_GEOREFERENCES` holds those measured for
known files (docs/pointing.md, "Georeference of the Io mosaics"), with the σ of what remains,
which the quality gates count in the roll. Both are declared once, in
``ioflyby.geometry.mosaics`` (shared with the twin's renderer and change detection), and
re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ioflyby.errors import PointingError
from ioflyby.geometry.mosaics import (  # noqa: F401  (re-exported: the declarations live in geometry)
    IO_MEAN_RADIUS_KM,
    IO_MOSAIC_REGISTRATION_SIGMA_DEG,
    IO_RADII_KM,
    KNOWN_GEOREFERENCES,
    MIN_FOOTPRINT_DEG,
    NEW_IO_PHOTOMOSAIC_GEOREFERENCE,
    REGISTRATION_FOOTPRINT_DEG,
    REGISTRATION_SCALE_EXPONENT,
    UNKNOWN_REGISTRATION_SIGMA_DEG,
    USGS_MOSAIC_GEOREFERENCE,
    Georeference,
)
from ioflyby.geometry.spin import rotation_vector_matrix

CONVENTION = ("global equirectangular; row 0 at 90 deg N (planetocentric), column 0 at 0 deg E, "
              "longitude east-positive increasing to the right")


@dataclass(frozen=True)
class ReferenceMap:
    """Brightness of the target on a global equirectangular grid (see the module docstring).

    Attributes:
        image: float32 (rows, 2·rows) brightness, any units.
        name: what it is (a file name, "earlier ioflyby map", ...), for the report.
        source: where it came from (a path), for the report.
        georeference: how its grid departs from planetocentric body-frame coordinates
            (:data:`KNOWN_GEOREFERENCES` for known files), applied by :meth:`sample`.
    """

    image: np.ndarray = field(repr=False)
    name: str
    source: str = ""
    georeference: Georeference = field(default_factory=Georeference)

    def __post_init__(self) -> None:
        image = np.asarray(self.image, np.float32)
        if image.ndim != 2 or abs(image.shape[1] - 2 * image.shape[0]) > 2 or image.shape[0] < 8:
            raise PointingError(f"reference map {self.name!r} has shape {image.shape}: a global equirectangular "
                                "map is (rows, 2*rows); give a whole-target mosaic")
        object.__setattr__(self, "image", np.ascontiguousarray(np.nan_to_num(image)))

    @property
    def degrees_per_pixel(self) -> float:
        """Grid spacing, degrees of longitude (= of latitude) per pixel."""
        return 360.0 / self.image.shape[1]

    def km_per_pixel(self, radius_km: float) -> float:
        """Grid spacing at the equator of a sphere of ``radius_km``, km per pixel."""
        return float(np.radians(self.degrees_per_pixel) * radius_km)

    def sample(self, lat: np.ndarray, lon_east: np.ndarray) -> np.ndarray:
        """Bilinear brightness at planetocentric ``lat`` and east ``lon_east`` (radians, any
        shape), through the map's georeference, wrapping in longitude and clamping at the
        poles; NaN in, NaN out."""
        finite = np.isfinite(lat) & np.isfinite(lon_east)
        lat, lon_east = np.where(finite, lat, 0.0), np.where(finite, lon_east, 0.0)
        if any(self.georeference.rotation_deg):
            cos_lat = np.cos(lat)
            point = np.stack([cos_lat * np.cos(lon_east), cos_lat * np.sin(lon_east), np.sin(lat)], axis=-1)
            return np.where(finite, self.sample_points(point), np.nan)
        return np.where(finite, self._sample_grid(self._row_latitude(lat), lon_east), np.nan)

    def sample_points(self, points: np.ndarray) -> np.ndarray:
        """Bilinear brightness at body-fixed points (..., 3) (any length units; finite), through
        the map's georeference (planetocentric latitude of each point)."""
        if any(self.georeference.rotation_deg):
            points = points @ rotation_vector_matrix(np.radians(self.georeference.rotation_deg)).T
        lat = np.arctan2(points[..., 2], np.hypot(points[..., 0], points[..., 1]))
        lon_east = np.arctan2(points[..., 1], points[..., 0])
        return self._sample_grid(self._row_latitude(lat), lon_east)

    def _row_latitude(self, lat: np.ndarray) -> np.ndarray:
        ratio = self.georeference.latitude_ratio
        return lat if ratio == 1.0 else np.arctan2(ratio * np.sin(lat), np.cos(lat))

    def _sample_grid(self, row_lat: np.ndarray, lon_east: np.ndarray) -> np.ndarray:
        """Bilinear interpolation at the grid's own (row latitude, column east longitude), rad."""
        grid = self.image
        rows, cols = grid.shape
        x = np.mod(lon_east, 2 * np.pi) * (cols / (2 * np.pi)) - 0.5
        y = (np.pi / 2 - row_lat) * (rows / np.pi) - 0.5
        x0 = np.floor(x).astype(np.int64)
        y0 = np.clip(np.floor(y).astype(np.int64), 0, rows - 2)
        fx = x - x0
        fy = np.clip(y - y0, 0.0, 1.0)
        x0 %= cols
        x1 = (x0 + 1) % cols
        top = grid[y0, x0] * (1 - fx) + grid[y0, x1] * fx
        bottom = grid[y0 + 1, x0] * (1 - fx) + grid[y0 + 1, x1] * fx
        return top * (1 - fy) + bottom * fy

    def to_dict(self) -> dict:
        """JSON-ready description (name, source, shape, spacing, convention, georeference)."""
        return {"name": self.name, "source": self.source, "shape": list(self.image.shape),
                "degrees_per_pixel": self.degrees_per_pixel, "convention": CONVENTION,
                "georeference": self.georeference.to_dict()}
