"""The magnetospheric panel of a flyby for an HTML report (``ioflyby.report.Section``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ioflyby.magnetosphere.context import MagnetosphericContext, magnetospheric_context
from ioflyby.magnetosphere.models import FieldModel
from ioflyby.magnetosphere.plots import plot_footprints, plot_latitudes
from ioflyby.magnetosphere.trace import trace_field_lines
from ioflyby.report import Section
from ioflyby.spice import Kernels, et_to_utc, utc_to_et


def io_footprint_oval(distance_rj: float = 5.9, count: int = 72, model: FieldModel | None = None):
    """Footprints of field lines through Io's orbit (``distance_rj`` in the spin equator) at
    ``count`` System III longitudes: the Io footprint oval of the model (``Traces``)."""
    lon = np.linspace(0.0, 2 * np.pi, count, endpoint=False)
    points = np.stack([distance_rj * np.cos(lon), distance_rj * np.sin(lon), np.zeros_like(lon)], axis=1)
    return trace_field_lines(points, model)


def _row(ctx: MagnetosphericContext, i: int) -> dict:
    s = ctx[i].to_json()
    north = s["footprint_north"] or {}
    south = s["footprint_south"] or {}
    return {
        "body": s["body"],
        "System III °W": s["system3_lon_west_deg"],
        "distance R_J": s["distance_rj"],
        "local time h": s["local_time_h"],
        "magnetic lat °": s["magnetic_lat_deg"],
        "centrifugal lat °": s["centrifugal_lat_deg"],
        "|B| nT": float(np.linalg.norm(ctx.b_nt[i])),
        "M-shell R_J": s["mshell_rj"],
        "north footprint lat °, °W": f"{north.get('lat_deg')}, {north.get('lon_west_deg')}",
        "south footprint lat °, °W": f"{south.get('lat_deg')}, {south.get('lon_west_deg')}",
        "torus n_e cm⁻³": s["torus_electron_density_cm3"],
        "in Jupiter's shadow": "yes" if s["in_shadow"] else "no",
    }


def magnetosphere_report_section(
    metakernel: str | Path, out_dir: str | Path, centre_utc: str, half_width_s: float = 3600.0,
    step_s: float = 60.0, observer: str = "JUNO", target: str = "IO", title: str | None = None,
) -> Section:
    """Io's and the spacecraft's magnetospheric context around ``centre_utc`` (e.g. the PJ57
    twin's closest approach) from the kernels of ``metakernel``: a table at the closest sample to
    ``centre_utc`` and two PNGs in ``out_dir`` (latitudes against time; footprints on polar maps
    with Io's footprint oval over a full rotation)."""
    out_dir = Path(out_dir)
    with Kernels([Path(metakernel)]):
        centre = utc_to_et(centre_utc)
        ets = centre + np.arange(-half_width_s, half_width_s + step_s / 2, step_s)
        io_ctx = magnetospheric_context(ets, target)
        sc_ctx = magnetospheric_context(ets, observer)
        middle = int(np.argmin(np.abs(ets - centre)))
        rows = [_row(io_ctx, middle), _row(sc_ctx, middle)]
        when = et_to_utc(float(ets[middle]))
    oval = io_footprint_oval()
    latitudes = plot_latitudes([io_ctx, sc_ctx], centre, out_dir / "magnetosphere_latitudes.png")
    footprints = plot_footprints([io_ctx, sc_ctx], out_dir / "magnetosphere_footprints.png", io_oval=oval)
    section = Section(title or f"{target.title()} and {observer.title()} in Jupiter's magnetosphere")
    section.text(
        f"Context at {when} UTC (±{half_width_s / 60:.0f} min every {step_s:.0f} s): field JRM33 (degree 13) + "
        "Con2020 current sheet; field lines traced to the oblate 1-bar surface; magnetic latitude from JRM33's "
        "dipole (10.25° toward 196.4° W); centrifugal latitude from Phipps & Bagenal (2021). Longitudes are "
        "System III (1965) west, latitudes planetocentric."
    )
    section.table(f"Magnetospheric context at {when} UTC", rows)
    section.figure(latitudes, "Magnetic and centrifugal latitude of Io and the spacecraft against time.")
    section.figure(footprints, "Ionospheric footprints (north, south); grey: Io's footprint over a full rotation.")
    return section
