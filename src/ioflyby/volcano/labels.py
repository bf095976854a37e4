"""Catalogue features in a product: where the framelets see them, where they fall on a map, and
the map's labels (names and hot-spot markers on the PNG preview, a GeoJSON layer in the map's CRS).

Angles in degrees, planetocentric latitude, east longitude; framelet pixels (sample, line) with
the centre of the upper-left pixel at (0, 0); map cells (col, row) likewise (MapGrid's convention).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from ioflyby.fileio import AtomicFiles
from ioflyby.mapping.export import PREVIEW_MAX_SIDE
from ioflyby.mapping.grid import MapGrid
from ioflyby.mapping.product import ColourImage, MapProduct
from ioflyby.volcano.catalogue import CatalogueError, features_json, select_features

if TYPE_CHECKING:
    from ioflyby.observation import Observation

LABEL_SOURCES = ("davies",)
"""Catalogue sources a map is labelled with by default: the thermal sources with their power."""
SIGHTING_COLUMNS = ("feature", "exposure", "filter", "sample", "line", "emission_deg", "incidence_deg", "phase_deg",
                    "km_per_px", "lit")
"""Columns :func:`visible_features` adds to the catalogue's (``feature`` = the catalogue row's index)."""
MAP_COLUMNS = ("col", "row", "x_m", "y_m", "incidence_deg", "emission_deg", "lit")
"""Columns :func:`map_labels` adds: map cell, projected metres in the grid's CRS, the map's backplanes there."""
FONT_PX = 12
"""Label text height in preview pixels."""
_DESIGNATION = re.compile(r"^(JRM|PFd|PFu|Pfu|PV|Fd|Fu|P|I)\s*\d|^no name$|^\(")
"""Catalogue designations (JRM111, P197, PFd 630, I32A, "(-48 159 W)") rather than names: no text label."""


# -- framelets -------------------------------------------------------------------------------------
def visible_features(
    observation: Observation, catalogue: pd.DataFrame | None = None, min_power_gw: float | None = None
) -> pd.DataFrame:
    """The catalogue features (default: every source of the shipped catalogue; with
    ``min_power_gw`` only those at least that powerful) that ``observation``'s framelets see:
    one row per (feature, framelet) with the feature's catalogue columns and
    :data:`SIGHTING_COLUMNS` — pixel position from :meth:`Observation.lonlat_to_pixel`,
    emission, incidence and phase angles at the point (deg), pixel footprint (km) and ``lit``
    (incidence < 90°)."""
    _require_io(observation.body.name)
    table = select_features(catalogue, min_power_gw=min_power_gw)
    hits = observation.lonlat_to_pixel(table["lat_deg"].to_numpy(float), table["lon_east_deg"].to_numpy(float))
    rows = table.iloc[hits.point].reset_index(names="feature")
    sightings = pd.DataFrame({"exposure": hits.exposure, "filter": hits.filter, "sample": hits.sample,
                              "line": hits.line, "emission_deg": hits.emission_deg})
    for column in ("incidence_deg", "phase_deg", "km_per_px"):
        sightings[column] = np.nan
    for (exposure, name), group in sightings.groupby(["exposure", "filter"], sort=False):
        planes = observation.backplanes(name, int(exposure), group["sample"].to_numpy(), group["line"].to_numpy())
        sightings.loc[group.index, ["incidence_deg", "phase_deg", "km_per_px"]] = np.column_stack(
            [planes.incidence_deg, planes.phase_deg, planes.km_per_px])
    sightings["lit"] = sightings["incidence_deg"] < 90.0
    return pd.concat([rows, sightings], axis=1)[[*table.columns, *SIGHTING_COLUMNS]]


# -- maps ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MapLabels:
    """Catalogue features seen on a map: their catalogue columns plus :data:`MAP_COLUMNS`
    (fractional cell ``col``/``row``, ``x_m``/``y_m`` in the grid's CRS, the map's incidence and
    emission at the nearest cell — emission NaN unless the map has backplanes — and ``lit``)."""

    features: pd.DataFrame
    grid: MapGrid
    target: str

    def to_geojson(self) -> dict:
        """A GeoJSON FeatureCollection of points in the grid's projected CRS (metres), named in a
        ``crs`` member (the IAU_2015 code, or the WKT) as GDAL reads it."""
        crs_name = self.grid.crs_id or self.grid.crs.to_wkt()
        return {
            "type": "FeatureCollection",
            "name": f"{self.target} volcano catalogue features",
            "crs": {"type": "name", "properties": {"name": crs_name}},
            "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [p["x_m"], p["y_m"]]},
                          "properties": p} for p in features_json(self.features)],
        }

    def write_geojson(self, path: str | Path) -> Path:
        """Write :meth:`to_geojson` atomically to ``path``."""
        path = Path(path)
        with AtomicFiles() as files:
            files.path(path).write_text(json.dumps(self.to_geojson(), indent=1, allow_nan=False), encoding="utf-8")
        return path

    def draw(self, image: ColourImage, max_side: int | None = PREVIEW_MAX_SIDE) -> ColourImage:
        """``image`` (8-bit bands on this grid) with a hot-spot marker at every feature (radius
        and colour by power, see :func:`marker_style`) and the names of named ones (most
        powerful first, skipping names that would overlap), made opaque where drawn. Sizes are
        scaled so that they read as :data:`FONT_PX`-pixel text once the preview is shrunk to
        ``max_side``."""
        height, width = image.alpha.shape
        scale = max(1.0, max(height, width) / max_side) if max_side else 1.0
        canvas = Image.fromarray(np.ascontiguousarray(np.dstack([*image.bands, image.alpha])), "RGBA")
        draw = ImageDraw.Draw(canvas)
        font = ImageFont.truetype(_font_path(), round(FONT_PX * scale))
        order = self.features.sort_values("power_gw", ascending=False, na_position="last", kind="stable")
        taken: list[tuple[float, float, float, float]] = []
        for feature in order.itertuples(index=False):
            radius, colour = marker_style(feature.power_gw)
            x, y, r = round(feature.col), round(feature.row), round(radius * scale)  # Pillow truncates fractions
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour, outline=(0, 0, 0, 255), width=max(1, round(scale)))
            if _DESIGNATION.match(feature.name):
                continue
            text = {"text": feature.name, "font": font, "stroke_width": round(scale)}
            place = {"xy": (x + r + 2 * scale, y), "anchor": "lm"}  # right of the marker, or left at the edge
            box = draw.textbbox(**place, **text)
            if box[2] > width:
                place = {"xy": (x - r - 2 * scale, y), "anchor": "rm"}
                box = draw.textbbox(**place, **text)
            if not any(_overlap(box, other) for other in taken):
                taken.append(box)
                draw.text(**place, **text, fill=(255, 255, 255, 255), stroke_fill=(0, 0, 0, 255))
        pixels = np.asarray(canvas)
        return replace(image, bands=np.ascontiguousarray(np.moveaxis(pixels[..., :3], -1, 0)),
                       alpha=np.ascontiguousarray(pixels[..., 3]))


def map_labels(
    product: MapProduct, catalogue: pd.DataFrame | None = None, sources: tuple[str, ...] | str = LABEL_SOURCES,
    min_power_gw: float | None = None,
) -> MapLabels:
    """The catalogue features (from ``sources``, at least ``min_power_gw``) that fall on a map
    cell the camera saw: positions projected with the grid's own projection (see :class:`MapLabels`)."""
    _require_io(product.target)
    grid = product.grid
    table = select_features(catalogue, sources=sources, min_power_gw=min_power_gw)
    lat, lon = np.radians(table["lat_deg"].to_numpy(float)), np.radians(table["lon_east_deg"].to_numpy(float))
    col, row = grid.latlon_to_cell(lat, lon)
    with np.errstate(invalid="ignore"):
        cell_col, cell_row = np.rint(col), np.rint(row)
        on_grid = (cell_col >= 0) & (cell_col < grid.width) & (cell_row >= 0) & (cell_row < grid.height)
    seen = np.zeros(on_grid.shape, bool)
    seen[on_grid] = product.coverage[cell_row[on_grid].astype(int), cell_col[on_grid].astype(int)]
    cells = (cell_row[seen].astype(int), cell_col[seen].astype(int))
    x, y = grid.cell_to_xy(col[seen], row[seen])
    emission = product.backplanes.get("emission")
    features = table[seen].assign(
        col=col[seen], row=row[seen], x_m=x, y_m=y, incidence_deg=product.backplanes["incidence"][cells],
        emission_deg=emission[cells] if emission is not None else np.nan,
    )
    features["lit"] = features["incidence_deg"] < 90.0
    return MapLabels(features.reset_index(drop=True), grid, product.target)


def _require_io(target: str) -> None:
    if target.strip().upper() != "IO":
        raise CatalogueError(f"the volcano catalogue lists Io's features; this product's target is {target}: "
                             "label maps and observations of IO only")


def marker_style(power_gw: float) -> tuple[float, tuple[int, int, int, int]]:
    """Marker radius (preview pixels: 2 at ≤ 1 GW to 10 at ≥ 10⁴ GW, log scale) and RGBA colour
    (matplotlib's "inferno" over log10 power 0..4; grey when the power is unknown)."""
    if not math.isfinite(power_gw):
        return 2.0, (160, 160, 160, 255)
    level = min(max(math.log10(max(power_gw, 1e-9)), 0.0), 4.0)
    from matplotlib import colormaps

    red, green, blue, _ = colormaps["inferno"](0.25 + 0.75 * level / 4.0)
    return 2.0 + 2.0 * level, (round(255 * red), round(255 * green), round(255 * blue), 255)


def _font_path() -> str:
    """DejaVu Sans as shipped inside matplotlib (no system font assumed)."""
    import matplotlib

    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
