"""Figures the demo report draws itself: a latitude/longitude graticule over a map's preview.

The graticule's lines are projected with the map's own grid (:meth:`MapGrid.latlon_to_cell`,
NaN where the projection hides a point), so they lie where the map puts those coordinates.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ioflyby.fileio import AtomicFiles
from ioflyby.mapping.grid import MapGrid

LINE_RGBA = (255, 255, 255, 150)
TEXT_RGBA = (255, 255, 160, 255)
SAMPLE_DEG = 0.5


def graticule_lines(grid: MapGrid, step_deg: float = 30.0) -> list[tuple[str, float, np.ndarray]]:
    """The graticule on ``grid``: (kind "lat"/"lon", value in degrees — planetocentric latitude or
    east longitude —, polyline pieces as an (n, 2) array of fractional (col, row), NaN between
    hidden stretches) for parallels every ``step_deg`` between ±90° and meridians every ``step_deg``."""
    along = np.radians(np.arange(-180.0, 180.0 + SAMPLE_DEG / 2, SAMPLE_DEG))
    lines = []
    for lat in np.arange(-90.0 + step_deg, 90.0, step_deg):
        col, row = grid.latlon_to_cell(np.full_like(along, math.radians(lat)), along)
        lines.append(("lat", float(lat), np.column_stack([col, row])))
    meridian = np.radians(np.arange(-90.0, 90.0 + SAMPLE_DEG / 2, SAMPLE_DEG))
    for lon in np.arange(0.0, 360.0, step_deg):
        col, row = grid.latlon_to_cell(meridian, np.full_like(meridian, math.radians(lon)))
        lines.append(("lon", float(lon), np.column_stack([col, row])))
    return lines


def _pieces(points: np.ndarray) -> list[np.ndarray]:
    """Runs of finite points of a polyline."""
    finite = np.all(np.isfinite(points), axis=1)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], finite.astype(int), [0]])))
    return [points[a:b] for a, b in zip(edges[::2], edges[1::2]) if b - a >= 2]


def _label(kind: str, value: float) -> str:
    if kind == "lat":
        return "0°" if value == 0 else f"{abs(value):.0f}°{'N' if value > 0 else 'S'}"
    return f"{(-value) % 360.0:.0f}°W"


def draw_graticule(preview: str | Path, grid: MapGrid, out: str | Path, step_deg: float = 30.0) -> Path:
    """Write ``out``: the PNG ``preview`` of a map on ``grid`` (any scale) with a graticule every
    ``step_deg`` (parallels labelled N/S, meridians in °W, Io's published convention) drawn
    over it; written atomically."""
    image = Image.open(preview).convert("RGBA")
    scale_x, scale_y = image.width / grid.width, image.height / grid.height
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    font = ImageFont.load_default(size=max(10, image.width // 70))
    width = max(1, image.width // 600)
    for kind, value, points in graticule_lines(grid, step_deg):
        pixels = (points + 0.5) * (scale_x, scale_y)
        pieces = _pieces(pixels)
        for piece in pieces:
            draw.line([tuple(p) for p in piece], fill=LINE_RGBA, width=width)
        if pieces:
            longest = max(pieces, key=len)
            x, y = longest[len(longest) // 2]
            if 0 <= x < image.width and 0 <= y < image.height:
                draw.text((x + 3, y), _label(kind, value), font=font, fill=TEXT_RGBA, anchor="lm",
                          stroke_width=1, stroke_fill=(0, 0, 0, 255))
    composed = Image.alpha_composite(image, overlay)
    out = Path(out)
    with AtomicFiles() as files:
        composed.save(files.path(out), format="PNG")
    return out
