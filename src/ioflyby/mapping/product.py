"""A map held in memory: reprojected linear channels, backplanes and coverage on a grid, with
writers for a colour GeoTIFF (IAU CRS), a PNG preview, linear channels and backplanes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ioflyby.mapping import colour, export
from ioflyby.mapping.grid import MapGrid

BACKPLANE_DESCRIPTIONS = {
    "lat": "planetocentric latitude (deg)",
    "lon_east": "east-positive longitude (deg)",
    "incidence": "incidence angle (deg)",
    "emission": "emission angle (deg)",
    "phase": "phase angle (deg)",
    "km_per_px": "source pixel footprint perpendicular to the line of sight (km)",
    "time": "observation time (ET, s past J2000 TDB)",
}
DEFAULT_STRETCH_PERCENTILES = (0.5, 99.8)
INSTRUMENT_NAMES = {"JUNOCAM": "JunoCam", "GALILEO_SSI": "Galileo SSI"}
"""Display names of ``RawProduct.instrument`` values (band descriptions of the GeoTIFFs)."""


@dataclass(frozen=True)
class ColourImage:
    """Display bands [band, row, col] (uint8 or uint16), alpha (0 where unseen), band names and
    the stretch that made them."""

    bands: np.ndarray
    alpha: np.ndarray
    names: list[str]
    stretch: colour.Stretch


@dataclass
class MapProduct:
    """Reprojected channels on a grid.

    ``channels[name]``: float32 (height, width), the input's units (photometrically corrected
    if asked), NaN where no framelet saw the cell. ``backplanes``: incidence, emission, phase
    (degrees; the angle of the weighted mean cosine), km_per_px (source pixel footprint), time
    (ET, s past J2000 TDB) — weighted means over the samples used, NaN where no data — and the
    cells' lat and lon_east (degrees); only incidence unless made with backplanes.
    ``target``: the SPICE name of the body.
    """

    grid: MapGrid
    channels: dict[str, np.ndarray]
    backplanes: dict[str, np.ndarray]
    coverage: np.ndarray
    target: str
    meta: dict = field(default_factory=dict)

    @property
    def lit(self) -> np.ndarray:
        """Cells seen by the camera with the Sun above the horizon (incidence < 90°)."""
        return self.coverage & (self.backplanes["incidence"] < 90.0)  # NaN (unseen) compares False

    def fit_stretch(
        self, white_balance: str | Mapping[str, float] = "auto",
        percentiles: tuple[float, float] = DEFAULT_STRETCH_PERCENTILES, gamma: float = 1.0,
    ) -> colour.Stretch:
        """White balance and black/white points from the lit cells (all seen cells where none is lit);
        see :func:`ioflyby.mapping.colour.fit_stretch`."""
        lit = self.lit
        return colour.fit_stretch(self.channels, lit if lit.any() else self.coverage, white_balance, percentiles, gamma)

    def render(self, stretch: colour.Stretch | None = None, bits: int = 16) -> ColourImage:
        """Display bands (RGB order where the filters allow) at ``bits`` (8 or 16) per band."""
        stretch = stretch or self.fit_stretch()
        bands, alpha, names = colour.render(self.channels, stretch, bits)
        return ColourImage(bands, alpha, names, stretch)

    def write_geotiff(self, path: str | Path, image: ColourImage | None = None,
                      tags: Mapping[str, object] | None = None) -> Path:
        """Colour GeoTIFF with alpha, the grid's IAU CRS embedded (default: :meth:`render`)."""
        image = image or self.render()
        return export.write_colour_geotiff(path, self.grid, image.bands, image.alpha, image.names, self.target, tags)

    def preview_png(self, path: str | Path, image: ColourImage | None = None) -> Path:
        """8-bit PNG preview with alpha, at most ``export.PREVIEW_MAX_SIDE`` on its longer side."""
        image = image if image is not None and image.bands.dtype == np.uint8 else self.render(
            image.stretch if image is not None else None, 8)
        return export.write_png(path, image.bands, image.alpha)

    def write_linear_geotiff(self, path: str | Path, units: str = "linear",
                             tags: Mapping[str, object] | None = None) -> Path:
        """The channels as float32 GeoTIFF bands (NaN = unseen), described as ``INSTRUMENT NAME, units``
        (``meta["instrument"]``, a ``RawProduct.instrument``; JunoCam when absent)."""
        instrument = INSTRUMENT_NAMES.get(self.meta.get("instrument", "JUNOCAM"), str(self.meta.get("instrument")))
        descriptions = {name: f"{instrument} {name}, {units}" for name in self.channels}
        return export.write_float_geotiff(path, self.grid, self.channels, descriptions, self.target, tags)

    def write_backplanes_geotiff(self, path: str | Path, tags: Mapping[str, object] | None = None) -> Path:
        """The backplanes as float GeoTIFF bands, described per :data:`BACKPLANE_DESCRIPTIONS`."""
        return export.write_float_geotiff(path, self.grid, self.backplanes, BACKPLANE_DESCRIPTIONS, self.target, tags)
