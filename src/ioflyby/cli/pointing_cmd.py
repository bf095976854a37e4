"""``ioflyby pointing``: solve JunoCam pointing from the target's limb; write a CK and a report."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import typer
from rich.table import Table

from ioflyby.cli.app import app
from ioflyby.cli.output import console, emit
from ioflyby.errors import PointingError
from ioflyby.pointing.solve import PRIORS


def _alignment(report: dict) -> str:
    text = ", ".join(f"{angle:+.3f}°" for angle in report["camera_alignment_deg"])
    if report["rejected_alignment_deg"] is not None:
        text += f" (a {report['rejected_alignment_deg']:.1f}° fit was rejected as a limb-model error: solved without)"
    return text


def _print_result(result: dict) -> None:
    table = Table(title=f"Pointing of {result['report']['product_id']} (start: {result['report']['start']})")
    table.add_column("quantity")
    table.add_column("value")
    report = result["report"]
    timing_sigma_ms = report["formal_sigma"]["timing_offset_s"] * 1e3
    timing = f"{result['timing_offset_s'] * 1e3:+.2f} ± {timing_sigma_ms:.2f} ms"
    if report["start"] != "ck":
        timing += " (held: without a CK the spin phase carries it)"
    rows = [
        ("timing offset", timing),
        ("spin axis RA, Dec (J2000)", f"{result['spin_axis_ra_deg']:.4f}°, {result['spin_axis_dec_deg']:+.4f}°"),
        ("spin rate", f"{result['spin_rate_rpm']:.5f} rpm"),
        ("limb RMS", f"{result['limb_rms_px']:.3f} px over {result['n_limb_points']} points"),
        ("camera alignment", _alignment(report)),
        ("limb offset (+ inwards)", f"{report['limb_offset_px']:+.2f} px"),
        ("roll about the line of sight from", report["roll_source"]),
        ("CK", result["ck"]),
        ("SCLK", result["sclk"] or "the loaded one"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    per_filter = Table(title="Limb residuals per filter (px)")
    for column in ("filter", "points", "rms", "mean"):
        per_filter.add_column(column)
    for name, stats in result["report"]["per_filter"].items():
        rms = "-" if stats["limb_rms_px"] is None else f"{stats['limb_rms_px']:.3f}"
        mean = "-" if stats["limb_mean_px"] is None else f"{stats['limb_mean_px']:+.3f}"
        per_filter.add_row(name, str(stats["n_limb_points"]), rms, mean)
    console.print(per_filter)


@app.command("pointing")
def pointing(
    product: Path = typer.Argument(..., help="Raw product: folder, PNG/JSON, zip or PDS3 label."),
    kernels: list[Path] = typer.Option(..., "--kernels", help="Metakernel or kernel file (repeatable): LSK, PCK, FK, IK, SCLK, SPK; a CK is used as prior."),
    out: Path = typer.Option(..., "--out", help="Folder for <product>_pointing.bc/.json."),
    prior: str = typer.Option("auto", "--prior", help="auto (CK if loaded, else global search), ck, or search."),
    align: bool = typer.Option(
        True, "--align/--no-align",
        help="Also solve a small camera-alignment rotation (2 angles). On by default: the real PJ43/PJ44 "
        "products need ~0.6 deg, and without it their limb RMS is 0.57-0.83 px instead of 0.21-0.56 px.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Recover the pointing from the image itself (limb of the target): timing offset, spin
    axis, phase and rate; write it as a CK (with an SCLK if the loaded one cannot encode the
    epochs) and a JSON report with residuals per framelet and per filter."""
    from ioflyby.ingest import read_product
    from ioflyby.pointing import solve_loaded, write_outputs
    from ioflyby.spice import Kernels

    if prior not in PRIORS:
        raise PointingError(f"--prior {prior!r}: use one of {', '.join(PRIORS)}")
    raw = read_product(product)
    with Kernels(kernels):
        with console.status("solving pointing from the limb", spinner="dots") if not as_json else nullcontext():
            solution = solve_loaded(raw, prior=prior, align=align)
        result = write_outputs(solution, out)
    emit(result.to_json(), as_json, _print_result)

