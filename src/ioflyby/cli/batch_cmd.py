"""``ioflyby batch``: a whole archive on dask.distributed — resumable, idempotent, catalogued."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from ioflyby.cli.app import app
from ioflyby.cli.output import console, emit, flag_names

BATCH_FLAGS = {"resolution_km": "--resolution-km", "width": "--width"}


def _bar(disable: bool) -> Progress:
    from rich.console import Console

    err = Console(stderr=True)
    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=err,
                    disable=disable or not err.is_terminal, transient=True)


def _print(result: dict) -> None:
    counts = {s: sum(p["status"] == s for p in result["products"]) for s in ("done", "skipped", "failed")}
    table = Table(title=f"batch: {counts['done']} done, {counts['skipped']} skipped, {counts['failed']} failed")
    for column in ("product", "status", "seconds", "reason"):
        table.add_column(column, justify="right" if column == "seconds" else "left")
    for p in result["products"]:
        table.add_row(p["product_id"], p["status"], f"{p['seconds']:.1f}", p["reason"] or "")
    console.print(table)
    for mosaic in result.get("mosaics", []):
        console.print(f"mosaic {mosaic['name']}: {len(mosaic['products'])} products, "
                      f"{100 * mosaic['coverage_fraction']:.1f}% of cells → {mosaic['path']}")
    console.print(f"catalogue: {result['catalogue']} (+ {', '.join(result.get('parquet', {}).values())})")
    console.print(f"{result['seconds']:.1f} s")


def _value(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _print_summary(result: dict) -> None:
    table = Table(title=f"catalogue {result['catalogue']}: {len(result['products'])} products, "
                        f"{len(result['hotspots'])} hot spots")
    columns = ("product_id", "status", "time_utc", "target", "perijove", "pointing_source", "pointing_verdict",
               "limb_rms_px", "n_hotspots", "seconds_total", "reason")
    for column in columns:
        table.add_column(column)
    for row in result["products"]:
        table.add_row(*(_value(row.get(c)) for c in columns))
    console.print(table)
    if result["hotspots"]:
        hot = Table(title="hot spots (planetocentric lat, east lon)")
        hot_columns = ("product_id", "time_utc", "lat_deg", "lon_east_deg", "color_temperature_k", "power_gw",
                       "catalogue_name")
        for column in hot_columns:
            hot.add_column(column)
        for row in result["hotspots"]:
            hot.add_row(*(_value(row.get(c)) for c in hot_columns))
        console.print(hot)


def summary(folder: Path) -> dict:
    """The catalogue of a batch folder as JSON-ready rows (``products``, ``hotspots``)."""
    from ioflyby.batch.catalogue import CATALOGUE, read_tables
    from ioflyby.batch.inputs import BatchError

    if not (folder / CATALOGUE).is_file():
        raise BatchError(f"--summary {folder}: no {CATALOGUE} there; give the --out folder of an ioflyby batch run")
    products, hotspots = read_tables(folder)
    rows = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in json.loads(products.to_json(orient="records"))]
    hot = json.loads(hotspots.to_json(orient="records"))
    return {"catalogue": str(folder / CATALOGUE), "products": rows, "hotspots": hot}


@app.command("batch")
def batch(
    inputs: list[Path] = typer.Argument(
        None, help="Folder of products, manifest (.csv/.json with product,kernels) or simulated archive (twin folders)."),
    kernels: list[Path] = typer.Option(
        None, "--kernels", help="Metakernel(s) for products without their own (folder input, manifest gaps)."),
    out: Path = typer.Option(None, "--out", help="Output folder (products/, mosaics/, catalogue.sqlite, *.parquet)."),
    steps: str = typer.Option("calibrate,maps,hotspots", "--steps",
                              help="Comma-separated subset of calibrate,pointing,maps,hotspots."),
    projection: str = typer.Option("orthographic", "--projection", help="Per-product map projection."),
    width: int = typer.Option(None, "--width", help="Per-product map width in cells [default: 2048]."),
    resolution_km: float = typer.Option(None, "--resolution-km", help="Per-product map cell size, km."),
    calibration: Path = typer.Option(None, "--calibration", help="Calibration frames folder (calibrate step)."),
    threshold: float = typer.Option(5.0, "--threshold", help="Hot-spot detection threshold (matched-filter SNR)."),
    joint: bool = typer.Option(True, "--joint/--no-joint",
                               help="With the pointing step: solve each perijove's products together (one task)."),
    mosaic_km: float = typer.Option(20.0, "--mosaic-resolution-km", help="Mosaic cell size, km (0: no mosaics)."),
    workers: int = typer.Option(None, "--workers", help="Local worker processes [default: the CPUs]."),
    scheduler: str = typer.Option(None, "--scheduler", help="Use a running dask scheduler: tcp://HOST:PORT."),
    summary_dir: Path = typer.Option(None, "--summary", help="Print the catalogue of a batch folder and exit."),
    as_json: bool = typer.Option(False, "--json", help="Print {products, catalogue, seconds} as JSON."),
) -> None:
    """Process a whole archive on dask.distributed: one task per product (per perijove group when
    the pointing is solved jointly), outputs under a key of product bytes, kernels and settings
    (re-running skips what is done), failures recorded with their reason, a catalogue of products
    and hot spots (SQLite + Parquet) and streaming global and per-epoch mosaics."""
    from ioflyby.batch import BatchSettings, run_batch
    from ioflyby.batch.inputs import BatchError
    from ioflyby.processing import MapSpec
    from ioflyby.spice.kernelset import kernel_paths

    if summary_dir is not None:
        emit(summary(summary_dir), as_json, _print_summary)
        return
    if not inputs or out is None:
        raise BatchError("give INPUT(s) and --out DIR (or --summary DIR to print a catalogue)")
    settings = BatchSettings(
        steps=tuple(s.strip() for s in steps.split(",") if s.strip()),
        spec=MapSpec(projection=projection, width=width, resolution_km=resolution_km),
        calibration_dir=calibration, threshold_sigma=threshold, joint=joint,
        mosaic_resolution_km=mosaic_km if mosaic_km and mosaic_km > 0 else None,
    )
    with _bar(as_json) as bar:
        task = bar.add_task("batch", total=None)

        def on_start(dashboard: str | None, n_workers: int) -> None:
            if not as_json:
                bar.console.print(f"dask: {n_workers} workers, dashboard {dashboard}")

        def on_progress(counts: dict[str, int], total: int) -> None:
            finished = sum(counts.values())
            bar.update(task, total=total, completed=finished,
                       description=f"done {counts['done']} · failed {counts['failed']} · skipped {counts['skipped']}")

        with flag_names(BATCH_FLAGS):
            result = run_batch(inputs, out, kernel_paths(kernels or []), settings, workers, scheduler,
                               on_progress=on_progress, on_start=on_start)
    emit(result.to_json(), as_json, _print)
