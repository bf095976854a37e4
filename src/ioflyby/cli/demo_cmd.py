"""``ioflyby demo``: the PJ57 flyby end to end on the embedded digital twin."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.table import Table

from ioflyby.cli.app import app
from ioflyby.cli.output import console, emit, progress


def _print_summary(summary: dict) -> None:
    ca = summary["closest_approach"]
    console.print(
        f"[bold]{summary['scenario']}[/]: C/A {ca['time_utc']} UTC, altitude {ca['altitude_km']:.2f} km, "
        f"speed {ca['speed_km_s']:.2f} km/s, JunoCam {ca['junocam_km_per_px']:.3f} km/px"
    )
    table = Table(title="Flybys compared")
    for column in ("flyby", "C/A (UTC)", "altitude km", "speed km/s"):
        table.add_column(column)
    for row in summary["comparisons"]:
        table.add_row(row["label"], row["time_utc"], f"{row['altitude_km']:.2f}", f"{row['speed_km_s']:.2f}")
    console.print(table)
    correlation = "; ".join(
        f"{name} " + " ".join(f"{band[0]} {r:.3f}" for band, r in bands.items())
        for name, bands in summary["map_correlation"].items()
    )
    console.print(
        f"pointing from the limb: worst error across the line of sight {summary['pointing_worst_across_deg']:.4f}°, "
        f"timing {summary['timing_worst_error_ms']:.2f} ms, "
        f"limb RMS {summary['limb_rms_px']} px"
    )
    console.print(f"maps vs basemap albedo (Pearson r): {correlation}")
    console.print(
        f"C/A found vs twin truth: {summary['ca_time_error_s'] * 1e3:.3f} ms, {summary['ca_altitude_error_km'] * 1e3:.1f} m"
    )
    for row in summary.get("changes", {}).get("recovered", []):
        console.print(f"new {row['shape']} ({row['kind']}) found: {row['found_area_km2']:,.0f} km² of "
                      f"{row['true_area_km2']:,.0f} km² injected (IoU {row['iou']:.3f})")
    io_at_ca = summary.get("magnetosphere", {}).get("io_at_ca")
    if io_at_ca:
        console.print(f"Io at C/A: System III {io_at_ca['system3_lon_west_deg']:.2f}° W, centrifugal latitude "
                      f"{io_at_ca['centrifugal_lat_deg']:+.2f}°, {io_at_ca['distance_rj']:.3f} R_J")
    if "viewer" in summary:
        console.print(f"browse the outputs: {summary['viewer']['command']} → {summary['viewer']['url']}")
    console.print("seconds per stage: " + ", ".join(f"{k} {v}" for k, v in summary["seconds"].items()))
    console.print(f"report: [bold]{summary['report']}[/]")


@app.command("demo")
def demo(
    out: Path = typer.Option(Path("demo-output"), "--out", help="Folder for the twin, maps, plots and report.html; replaced on every run, so it must be new, empty or an earlier demo output."),
    scenario: str = typer.Option("pj57", "--scenario", help="Twin scenario to reconstruct: pj57, pj58 or galileo-i32."),
    map_width: int = typer.Option(1024, "--map-width", help="Width in cells of the orthographic and perspective maps."),
    movie: bool = typer.Option(False, "--movie", help="Also make a short flyby movie of the twin (MP4, a few seconds)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Simulate the scenario's twin, read its raw products, solve their pointing from Io's limb,
    map them (orthographic, global mosaic, perspective), compare the flyby with the other twins,
    find the hot spots (with Io's magnetospheric context) and what changed between PJ57 and PJ58,
    add the magnetospheric panel, the eruption time series and a full-resolution rendered view,
    check every result against the twin's truth and write OUT/report.html."""
    from ioflyby.demo import STAGES, DemoSettings, run_demo
    from ioflyby.errors import GeometryError
    from ioflyby.mapping.grid import MAX_CELLS

    if not 16 <= map_width <= math.isqrt(MAX_CELLS):
        raise GeometryError(f"--map-width {map_width}: give 16 to {math.isqrt(MAX_CELLS)} cells")
    settings = DemoSettings(scenario=scenario, map_width=map_width, movie=movie)
    with progress(disable=as_json) as bar:
        task = bar.add_task("demo", total=len(STAGES))

        def announce(stage: str, done: int, total: int) -> None:
            bar.update(task, completed=done, description=f"demo: {stage}")

        result = run_demo(out, settings, announce)
    emit(result.summary, as_json, _print_summary)
