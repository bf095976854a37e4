"""Plots of magnetospheric context along a flyby (matplotlib, Agg): magnetic and centrifugal
latitude against time, and ionospheric footprints on polar maps of Jupiter (System III west
longitude around the pole, planetocentric colatitude as radius). PNGs written atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ioflyby.fileio import save_figure  # noqa: E402
from ioflyby.magnetosphere.context import MagnetosphericContext  # noqa: E402
from ioflyby.magnetosphere.trace import Traces  # noqa: E402


def plot_latitudes(contexts: Sequence[MagnetosphericContext], reference_et: float, path: Path) -> Path:
    """Magnetic and centrifugal latitude (deg) of each context's body against minutes from
    ``reference_et`` (e.g. closest approach)."""
    fig, axes = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for ctx in contexts:
        minutes = (ctx.ets - reference_et) / 60.0
        axes[0].plot(minutes, np.degrees(ctx.magnetic_lat), label=ctx.body)
        axes[1].plot(minutes, np.degrees(ctx.centrifugal_lat), label=ctx.body)
    axes[0].set_ylabel("magnetic latitude (°, JRM33 dipole)")
    axes[1].set_ylabel("centrifugal latitude (°, P&B 2021)")
    axes[1].set_xlabel("minutes from closest approach")
    for ax in axes:
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0].set_title("Magnetic and centrifugal latitude")
    return save_figure(fig, path, tight=True)


def _polar(ax, lat: np.ndarray, lon_east: np.ndarray, north: bool, **style) -> None:
    colat = 90.0 - np.degrees(lat) if north else 90.0 + np.degrees(lat)
    theta = np.radians(np.degrees(-lon_east) % 360.0)  # west longitude around the pole
    ax.plot(theta, colat, **style)


def plot_footprints(contexts: Sequence[MagnetosphericContext], path: Path, io_oval: Traces | None = None) -> Path:
    """North and south footprints of each traced context on polar maps (System III west
    longitude counter-clockwise, colatitude out to 50°); ``io_oval``: Io's footprint over a
    full System III rotation as a reference."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.5), subplot_kw={"projection": "polar"})
    for ax, north in zip(axes, (True, False)):
        if io_oval is not None:
            lat = io_oval.north_lat if north else io_oval.south_lat
            lon = io_oval.north_lon if north else io_oval.south_lon
            _polar(ax, np.append(lat, lat[:1]), np.append(lon, lon[:1]), north, color="0.5", lw=1,
                   label="Io footprint, full rotation")
        for ctx in contexts:
            if ctx.traces is None:
                continue
            t = ctx.traces
            lat = t.north_lat if north else t.south_lat
            lon = t.north_lon if north else t.south_lon
            _polar(ax, lat, lon, north, marker=".", ms=3, ls="", label=ctx.body)
        ax.set_rlim(0, 50)
        ax.set_rticks([10, 20, 30, 40, 50])
        ax.set_title(("North" if north else "South") + " (colatitude °, System III °W)")
        ax.legend(loc="lower left", fontsize=8)
    return save_figure(fig, path, tight=True)
