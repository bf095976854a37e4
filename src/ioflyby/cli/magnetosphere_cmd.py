"""``ioflyby magnetosphere``: a body's place in Jupiter's magnetosphere at one time, a series of
times, or a product's exposures: System III longitude, local time, magnetic and centrifugal
latitude, field, M-shell, footprints, shadow; plots along the window with --out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from ioflyby.cli.app import app, err_console
from ioflyby.cli.output import console, emit, progress
from ioflyby.errors import IoflybyError
from ioflyby.fileio import check_out
from ioflyby.spice import Kernels, utc_to_et
from ioflyby.spice.kernelset import kernel_paths

MAX_SAMPLES = 2_000_000
PLOT_COMPANION = {"IO": "JUNO", "JUNO": "IO"}


class MagnetosphereUsageError(IoflybyError):
    """The times asked for are not a valid selection."""


def _times(time: str | None, start: str | None, stop: str | None, step: float | None, product: Path | None) -> np.ndarray:
    chosen = [name for name, given in (("--time", time), ("--start/--stop/--step", start or stop or step),
                                       ("--product", product)) if given]
    if len(chosen) != 1:
        raise MagnetosphereUsageError("give exactly one of --time UTC, --start UTC --stop UTC --step S, --product PRODUCT")
    if time:
        return np.array([utc_to_et(time)])
    if product is not None:
        from ioflyby.ingest import read_product

        raw = read_product(product)
        return np.array([utc_to_et(t) for t in raw.exposure_start_utc])
    if not (start and stop and step):
        raise MagnetosphereUsageError("a series needs all of --start, --stop and --step (seconds)")
    if not step > 0:
        raise MagnetosphereUsageError(f"--step must be positive seconds, got {step}")
    first, last = utc_to_et(start), utc_to_et(stop)
    if last < first:
        raise MagnetosphereUsageError("--stop is before --start: swap them")
    count = int(np.floor((last - first) / step)) + 1
    if count > MAX_SAMPLES:
        raise MagnetosphereUsageError(f"{count} samples: more than {MAX_SAMPLES}; use a larger --step")
    return first + step * np.arange(count)


def _print(result: dict) -> None:
    table = Table(title=f"Magnetospheric context ({len(result['samples'])} samples)")
    for column in ("time (UTC)", "body", "SIII °W", "LT h", "r R_J", "mag lat °", "cfg lat °", "|B| nT",
                   "M-shell", "north fp lat/°W", "south fp lat/°W", "shadow"):
        table.add_column(column, justify="right")

    def fp(value):
        return "—" if not value or value["lat_deg"] is None else f"{value['lat_deg']:.2f}/{value['lon_west_deg']:.2f}"

    for s in result["samples"][:200]:
        table.add_row(s["time_utc"], s["body"], f"{s['system3_lon_west_deg']:.3f}", f"{s['local_time_h']:.2f}",
                      f"{s['distance_rj']:.3f}", f"{s['magnetic_lat_deg']:.3f}", f"{s['centrifugal_lat_deg']:.3f}",
                      f"{float(np.linalg.norm(s['b_nt'])):.1f}",
                      "—" if s["mshell_rj"] is None else f"{s['mshell_rj']:.3f}",
                      fp(s["footprint_north"]), fp(s["footprint_south"]), "yes" if s["in_shadow"] else "no")
    console.print(table)
    if len(result["samples"]) > 200:
        console.print(f"(first 200 of {len(result['samples'])} samples; use --json for all)")
    for path in result.get("outputs", []):
        console.print(f"wrote {path}")


@app.command("magnetosphere")
def magnetosphere(
    kernels: list[str] = typer.Option(..., "--kernels", help="Metakernel or kernel files (repeat, or comma-separated)."),
    time: str | None = typer.Option(None, "--time", help="One time, UTC (ISO)."),
    start: str | None = typer.Option(None, "--start", help="Series start, UTC (ISO)."),
    stop: str | None = typer.Option(None, "--stop", help="Series stop, UTC (ISO)."),
    step: float | None = typer.Option(None, "--step", help="Series step (s)."),
    product: Path | None = typer.Option(None, "--product", help="A raw product: one sample per exposure start."),
    body: str = typer.Option("IO", "--body", help="IO, JUNO or any SPICE body name or id."),
    trace: bool = typer.Option(True, "--trace/--no-trace", help="Trace field lines (M-shell, footprints)."),
    out: Path | None = typer.Option(None, "--out", help="Folder for plots (latitudes, footprints) along the window."),
    as_json: bool = typer.Option(False, "--json", help="Print {\"samples\": [...], ...} as JSON."),
) -> None:
    """System III (1965) west longitude, local time, distance (R_J), magnetic and centrifugal latitude,
    JRM33 + Con2020 field, M-shell and north/south footprints (traced to the oblate 1-bar surface),
    Jupiter's shadow, for a body at the given times."""
    from ioflyby.magnetosphere import magnetospheric_context

    folder = check_out(out) if out is not None else None
    with Kernels(kernel_paths(kernels)):
        ets = _times(time, start, stop, step, product)
        with progress(disable=as_json or not trace) as bar:
            task = bar.add_task("tracing field lines", total=int(ets.size))
            context = magnetospheric_context(ets, body, trace=trace, on_traced=lambda n: bar.advance(task, n))
            result = context.to_json()
            if folder is not None:
                result["outputs"] = [str(p) for p in _plots(context, ets, folder, trace)]
    emit(result, as_json, _print)


def _plots(context, ets: np.ndarray, folder: Path, trace: bool) -> list[Path]:
    """Latitudes against time and footprints of the body and its companion (Io ↔ Juno) when the
    kernels hold it; the companion is left out with a warning otherwise."""
    from ioflyby.magnetosphere import magnetospheric_context
    from ioflyby.magnetosphere.plots import plot_footprints, plot_latitudes
    from ioflyby.magnetosphere.section import io_footprint_oval

    contexts = [context]
    companion = PLOT_COMPANION.get(context.body.upper())
    if companion is not None:
        try:
            contexts.append(magnetospheric_context(ets, companion, trace=trace))
        except IoflybyError as exc:
            err_console.print(f"[yellow]warning:[/] {companion} left out of the plots: {exc}", highlight=False)
    reference = float(ets[len(ets) // 2])
    outputs = [plot_latitudes(contexts, reference, folder / "magnetosphere_latitudes.png")]
    if trace:
        outputs.append(plot_footprints(contexts, folder / "magnetosphere_footprints.png", io_oval=io_footprint_oval()))
    return outputs
