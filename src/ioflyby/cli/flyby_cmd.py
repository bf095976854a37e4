"""``ioflyby flyby``: closest approaches from SPICE kernels; ``ioflyby flyby compare``: several
encounters side by side (table, PNG plots, HTML page)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ioflyby.cli.app import app, err_console
from ioflyby.cli.output import console, emit, progress
from ioflyby.flyby import find_encounters, timeline
from ioflyby.flyby.compare import EncounterCase, compare_encounters
from ioflyby.flyby.geometry import DEFAULT_ABCORR
from ioflyby.spice import Kernels
from ioflyby.spice.kernelset import kernel_paths

flyby_app = typer.Typer(
    help=(
        "Flyby geometry from SPICE kernels.\n\n"
        "Search: ioflyby flyby --observer JUNO --target IO --start UTC --stop UTC --kernels MK [--json] "
        "lists every local distance minimum (time, distance, altitude, speed, sub-observer lat/lon, "
        "phase, sub-solar point, local solar time, eclipse state, JunoCam km/px).\n\n"
        "Compare: ioflyby flyby compare --case LABEL=MK --case LABEL2=MK2 --out DIR writes a table, "
        "altitude / ground-track / resolution plots and an HTML page."
    ),
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(flyby_app, name="flyby")


def _print_encounters(result: dict) -> None:
    table = Table(title=f"Distance minima of {result['target']} from {result['observer']} (abcorr {result['abcorr']})")
    columns = [
        ("time_utc", "C/A (UTC)", "{}"),
        ("distance_km", "distance km", "{:,.3f}"),
        ("altitude_km", "altitude km", "{:,.3f}"),
        ("speed_km_s", "speed km/s", "{:.3f}"),
        ("sub_lat_deg", "lat °", "{:.3f}"),
        ("sub_lon_east_deg", "lon °E", "{:.3f}"),
        ("sub_lon_west_deg", "lon °W", "{:.3f}"),
        ("phase_deg", "phase °", "{:.2f}"),
        ("local_solar_time", "LST", "{}"),
        ("junocam_km_per_px", "JunoCam km/px", "{:.3f}"),
    ]
    for _, title, _ in columns:
        table.add_column(title, justify="right")
    for row in result["encounters"]:
        table.add_row(*("–" if row.get(key) is None else fmt.format(row[key]) for key, _, fmt in columns))
    console.print(table)
    if result["encounters"]:
        console.print(f"JunoCam IFOV from {result['encounters'][0]['junocam_ifov_source']}")
    if "timeline" in result:
        console.print(f"timeline: {len(result['timeline']['points'])} points (use --json to read them)")


@flyby_app.callback(invoke_without_command=True)
def search(
    ctx: typer.Context,
    observer: str | None = typer.Option(None, "--observer", help="Observer body (name or NAIF id), e.g. JUNO."),
    target: str | None = typer.Option(None, "--target", help="Target body (name or NAIF id), e.g. IO."),
    start: str | None = typer.Option(None, "--start", help="Window start, UTC (ISO)."),
    stop: str | None = typer.Option(None, "--stop", help="Window stop, UTC (ISO)."),
    kernels: list[str] = typer.Option(
        [], "--kernels", help="Metakernel or kernel file; repeat, or separate several with commas."
    ),
    max_distance_km: float | None = typer.Option(None, "--max-distance-km", help="Keep minima closer than this (km)."),
    step_s: float | None = typer.Option(
        None, "--step", help="GF search step (s); default min(300 s, period/20 for a bound orbit)."
    ),
    abcorr: str = typer.Option(DEFAULT_ABCORR, "--abcorr", help="Aberration correction (NONE = geometric)."),
    covered_only: bool = typer.Option(
        False, "--covered-only", help="Search only the part of the window the SPKs cover (warns) instead of failing."
    ),
    timeline_step: float | None = typer.Option(
        None, "--timeline-step", help="Also compute a timeline every this many s around one encounter."
    ),
    timeline_half_width: float = typer.Option(600.0, "--timeline-half-width", help="Timeline half width (s)."),
    timeline_index: int | None = typer.Option(
        None, "--timeline-index", help="Which encounter (0-based, time order) the timeline is around; default closest."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: {\"encounters\": [...], ...}."),
) -> None:
    """Find every local distance minimum between observer and target in [start, stop].

    A window the SPKs only partly cover is an error naming the gaps, unless --covered-only.

    See `ioflyby flyby compare --help` for the side-by-side comparison."""
    if ctx.invoked_subcommand is not None:
        return
    missing = [name for name, value in (("--observer", observer), ("--target", target), ("--start", start),
                                        ("--stop", stop)) if value is None]
    if not kernels:
        missing.append("--kernels")
    if missing:
        if len(missing) == 5:
            typer.echo(ctx.get_help())
            raise typer.Exit(0)
        raise typer.BadParameter(
            "missing: a search needs all of --observer, --target, --start, --stop, --kernels "
            "(or use `ioflyby flyby compare`)",
            param_hint=", ".join(missing),
        )
    with Kernels(kernel_paths(kernels)) as kernel_set:
        result = find_encounters(
            kernel_set, observer, target, start, stop,
            step_s=step_s, max_distance_km=max_distance_km, abcorr=abcorr, covered_only=covered_only,
        )
        report = result.to_dict()
        if result.uncovered:
            spans = ", ".join(f"{a}..{b}" for a, b in report["uncovered_utc"])
            err_console.print(f"[yellow]warning:[/] not searched (no SPK coverage): {spans} UTC", highlight=False)
        if timeline_step is not None and result.encounters:
            report["timeline"] = _timeline(result, timeline_index, timeline_half_width, timeline_step, abcorr)
    emit(report, as_json, _print_encounters)


def _timeline(result, index: int | None, half_width: float, step: float, abcorr: str) -> dict:
    encounters = result.encounters
    if index is None:
        index = min(range(len(encounters)), key=lambda i: encounters[i].distance_km)
    if not 0 <= index < len(encounters):
        raise typer.BadParameter(f"--timeline-index {index} out of range 0..{len(encounters) - 1}")
    centre = encounters[index]
    span = next((a, b) for a, b in result.searched if a <= centre.et <= b)
    points = timeline(result.observer, result.target, centre.et, half_width, step, abcorr, window=span)
    return {
        "encounter_index": index,
        "step_s": step,
        "half_width_s": half_width,
        "points": [{"t_from_ca_s": p.et - centre.et, **p.to_dict()} for p in points],
    }


def _parse_case(spec: str, observer: str, target: str) -> EncounterCase:
    """``LABEL=KERNEL[,KERNEL...]`` or ``LABEL@OBSERVER=KERNEL...`` → EncounterCase."""
    if "=" not in spec:
        raise typer.BadParameter(f"--case {spec!r}: expected LABEL=METAKERNEL[,KERNEL...]")
    label, paths = spec.split("=", 1)
    case_observer = observer
    if "@" in label:
        label, case_observer = label.split("@", 1)
    paths_list = kernel_paths([paths])
    if not label.strip() or not paths_list:
        raise typer.BadParameter(f"--case {spec!r}: label and at least one kernel are required")
    return EncounterCase(label.strip(), paths_list, case_observer.strip(), target)


@flyby_app.command("compare")
def compare(
    case: list[str] = typer.Option(
        ..., "--case",
        help="LABEL=METAKERNEL[,KERNEL...] per encounter (repeat); LABEL@OBSERVER=... overrides --observer.",
    ),
    out: Path = typer.Option(..., "--out", help="Output folder (PNG plots, comparison.json, index.html)."),
    observer: str = typer.Option("JUNO", "--observer", help="Observer body (default for every case)."),
    target: str = typer.Option("IO", "--target", help="Target body."),
    half_width_s: float = typer.Option(600.0, "--half-width", help="Timeline half width around C/A (s)."),
    timeline_step_s: float = typer.Option(5.0, "--timeline-step", help="Timeline step (s)."),
    step_s: float | None = typer.Option(None, "--step", help="GF search step (s)."),
    max_distance_km: float | None = typer.Option(None, "--max-distance-km", help="Ignore minima farther than this (km)."),
    abcorr: str = typer.Option(DEFAULT_ABCORR, "--abcorr", help="Aberration correction."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: {\"encounters\", \"outputs\", \"html\"}."),
) -> None:
    """Compare encounters side by side (one kernel set each: twin metakernels or real kernels).

    Writes the C/A table, plots (altitude, ground track, JunoCam km/px) and index.html to --out.
    """
    cases = [_parse_case(spec, observer, target) for spec in case]
    with progress(disable=as_json) as bar:
        task = bar.add_task("encounters", total=len(cases))
        result = compare_encounters(
            cases, out, half_width_s, timeline_step_s, step_s, max_distance_km, abcorr,
            on_case=lambda _label: bar.advance(task),
        )
    emit(result.to_json(), as_json, _print_comparison)


def _print_comparison(result: dict) -> None:
    table = Table(title="Closest approaches")
    for title in ("encounter", "C/A (UTC)", "altitude km", "speed km/s", "lat °", "lon °W", "phase °", "km/px"):
        table.add_column(title, justify="right")
    for row in result["encounters"]:
        table.add_row(
            row["label"], row["time_utc"], f"{row['altitude_km']:,.3f}" if row["altitude_km"] is not None else "–",
            f"{row['speed_km_s']:.3f}",
            *("–" if row[k] is None else f"{row[k]:.2f}" for k in ("sub_lat_deg", "sub_lon_west_deg", "phase_deg")),
            "–" if row["junocam_km_per_px"] is None else f"{row['junocam_km_per_px']:.3f}",
        )
    console.print(table)
    console.print(f"page: {result['html']}")
