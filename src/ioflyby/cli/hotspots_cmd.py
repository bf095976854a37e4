"""``ioflyby hotspots``: hot spots in raw products — position, band radiances, temperature, area, power."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from ioflyby.cli.app import app
from ioflyby.cli.output import console, emit, flag_names, progress

HOTSPOT_FLAGS = {"pointing='solve'": "--solve-pointing"}


def _number(value, digits: int) -> str:
    return "—" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{value:.{digits}f}"


def _print(result: dict) -> None:
    detections = result["detections"]
    table = Table(title=f"Hot spots: {len(detections)} in {len(result['products'])} product(s)")
    for column in ("time (UTC)", "lat °", "lon °E", "σ km", "T colour K", "area km²", "power GW", "SNR", "catalogue",
                   "Io S III °W"):
        table.add_column(column, justify="left" if column in ("time (UTC)", "catalogue") else "right")
    for d in detections:
        snr = max((b["snr"] for b in d["bands"].values()), default=0.0)
        match = d["catalogue_match"]
        table.add_row(d["time_utc"], _number(d["lat_deg"], 2), _number(d["lon_east_deg"], 2),
                      _number(d["position_sigma_km"], 2),
                      f"{_number(d['color_temperature_k'], 0)} ± {_number(d['temperature_sigma_k'], 0)}",
                      f"{_number(d['area_km2'], 4)} ± {_number(d['area_sigma_km2'], 4)}",
                      f"{_number(d['power_gw'], 3)} ± {_number(d['power_sigma_gw'], 3)}", _number(snr, 1),
                      f"{match['name']} ({match['distance_km']:.1f} km)" if match else "—",
                      _number((d.get("io_magnetosphere") or {}).get("system3_lon_west_deg"), 1))
    console.print(table)
    console.print(result["uncertainties"])
    for note in result.get("notes", []):
        console.print(f"[yellow]note:[/] {note}")
    for path in result["outputs"]:
        console.print(f"wrote {path}")


def _stem(products: list[str]) -> str:
    return products[0] if len(products) == 1 else f"{products[0]}_and_{len(products) - 1}_more"


@app.command("hotspots")
def hotspots(
    products: list[Path] = typer.Argument(..., help="Raw product(s): folder, PNG/JSON, zip or PDS3 label."),
    kernels: list[Path] = typer.Option(..., "--kernels", help="Metakernel(s) or kernel files (repeat the option)."),
    out: Path = typer.Option(..., "--out", help="Folder for <product>_hotspots.csv/.geojson/.md/_map.png."),
    solve_pointing: bool = typer.Option(
        False, "--solve-pointing", help="Solve each product's pointing from the target's limb instead of the CK."),
    calibration: Path = typer.Option(None, "--calibration", help="Calibration frames folder (dark, flat, masks)."),
    threshold: float = typer.Option(5.0, "--threshold", help="Detection threshold (matched-filter SNR)."),
    truth: Path = typer.Option(
        None, "--truth", help="A twin's truth.json: also write the completeness of its hot spots (CSV + PNG)."),
    as_json: bool = typer.Option(False, "--json", help="Print {detections, outputs, ...} as JSON."),
) -> None:
    """Find hot spots in the framelets (before map projection), measure them in every band by PSF
    photometry and fit a black body: colour temperature, emitting area and power with their
    uncertainties, each matched to the nearest catalogued source, with Io's magnetospheric context
    at its time (System III west longitude, centrifugal and magnetic latitude, distance, shadow;
    null and a note when the kernels lack Jupiter or Io). Positions are planetocentric latitude
    and east longitude."""
    from ioflyby.fileio import check_out
    from ioflyby.spice.kernelset import kernel_paths
    from ioflyby.volcano.hotspots import HotSpotConfig, find_hot_spots

    check_out(out)
    with progress(disable=as_json) as bar:
        task = bar.add_task("hot spots", total=len(products))

        started = [0]

        def on_product(product_id: str) -> None:
            bar.update(task, completed=started[0], description=product_id)
            started[0] += 1

        with flag_names(HOTSPOT_FLAGS):
            found = find_hot_spots(products, kernel_paths(kernels), "solve" if solve_pointing else "kernels",
                                   HotSpotConfig(threshold_sigma=threshold), calibration, on_product)
        bar.update(task, completed=len(products), description="done")
    stem = _stem(found.products)
    outputs = found.write(out, stem) + found.write_maps(out)
    result = found.to_json()
    if truth is not None:
        result["completeness"], more = _completeness(found, truth, out, stem)
        outputs += more
    result["outputs"] = [str(p) for p in outputs]
    emit(result, as_json, _print)


def _completeness(found, truth_path: Path, out: Path, stem: str) -> tuple[list[dict], list[Path]]:
    """Completeness of a twin's injected hot spots: a table (returned, and as CSV) and its plot."""
    from ioflyby.errors import ScenarioError
    from ioflyby.fileio import atomic_write_text
    from ioflyby.volcano.catalogue import IO_MEAN_RADIUS_KM
    from ioflyby.volcano.completeness import (
        completeness_table,
        plot_completeness,
        rows_csv,
        trial_rows,
        truth_trials,
    )

    try:
        truth = json.loads(Path(truth_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        truth = None
    if not isinstance(truth, dict) or not {"hot_spots", "products"} <= set(truth):
        raise ScenarioError(f"--truth {truth_path}: not a twin's truth.json (ioflyby simulate writes one)")
    trials = truth_trials(truth, found, np.full(3, IO_MEAN_RADIUS_KM))
    table = completeness_table(trial_rows(trials, found.config.threshold_sigma), binned=True)
    csv_path = atomic_write_text(out / f"{stem}_completeness.csv", rows_csv(table))
    png_path = plot_completeness(table, out / f"{stem}_completeness.png", f"Completeness of {truth.get('scenario')} "
                                 "twin hot spots")
    return table, [csv_path, png_path]
