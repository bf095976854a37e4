"""``ioflyby pointing``: solve JunoCam pointing from the target's limb; write a CK and a report."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path

import typer
from rich.table import Table

from ioflyby.cli.app import app
from ioflyby.cli.output import console, emit
from ioflyby.errors import PointingError

JOINT_REPORT = "joint_pointing.json"


def _alignment(report: dict) -> str:
    text = ", ".join(f"{angle:+.3f}°" for angle in report["camera_alignment_deg"])
    if report["rejected_alignment_deg"] is not None:
        text += f" (a {report['rejected_alignment_deg']:.1f}° fit was rejected as a limb-model error: solved without)"
    return text


def _time_source(time_source: dict) -> str:
    if time_source["source"] == "sclk":
        return (f"the spacecraft clock {time_source['clock_count']} through the SCLK "
                f"({time_source['clock_minus_start_time_ms']:+.3f} ms from START_TIME)")
    return time_source["note"]


def _quality(quality: dict) -> str:
    if quality["verdict"] == "good":
        return "good"
    return f"{quality['verdict']}: {'; '.join(quality['reasons'])}"


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
        ("framelet times from", _time_source(report["time_source"])),
        ("quality", _quality(report["quality"])),
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
    ties = report.get("tie_points")
    if ties:
        table = Table(title=f"Tie points to the reference map {report['reference_map']['name']}")
        table.add_column("quantity")
        table.add_column("value")
        table.add_row("tie points (inliers / matched)", f"{ties['n_tie_points']} / {ties['n_matched']}")
        table.add_row("tie-point RMS", f"{ties['tie_rms_px']:.2f} px in {ties['n_framelets']} framelets")
        table.add_row("spin angle swept by them", f"{ties['spin_sweep_deg']:.1f}°")
        if ties.get("footprint_radius_deg") is not None:
            table.add_row("their footprint on the target (radius)", f"{ties['footprint_radius_deg']:.1f}°")
        table.add_row("map offset at the sub-observer point (east, north)",
                      f"{ties['map_offset_east_km']:+.1f}, {ties['map_offset_north_km']:+.1f} km")
        console.print(table)


def _joint_json(results: list, joint) -> dict:
    """``--json`` of a joint solve: every product's single-product JSON, and the joint summary."""
    return {"products": [result.to_json() for result in results], "joint": joint.to_dict()}


def _print_joint(result: dict) -> None:
    for product in result["products"]:
        _print_result(product)
    joint = result["joint"]
    sigma = joint["formal_sigma"]
    table = Table(title=f"Joint solve of {len(joint['products'])} products (spin model from {', '.join(joint['anchors'])})")
    table.add_column("quantity")
    table.add_column("value")
    table.add_row("spin axis RA, Dec (J2000)", f"{joint['spin_axis_ra_deg']:.4f} ± {sigma['spin_axis_ra_deg']:.4f}°, "
                  f"{joint['spin_axis_dec_deg']:+.4f} ± {sigma['spin_axis_dec_deg']:.4f}°")
    table.add_row("spin rate", f"{joint['spin_rate_rpm']:.5f} ± {sigma['spin_rate_rpm']:.5f} rpm")
    if joint.get("map_rotation"):
        rotation = joint["map_rotation"]
        table.add_row(f"rotation of {rotation['reference_map']} (body x, y, z)",
                      ", ".join(f"{v:+.3f} ± {s:.3f}°" for v, s in zip(rotation["rotation_deg"], rotation["sigma_deg"])))
    for product_id, verdict in joint["verdicts"].items():
        table.add_row(product_id, verdict)
    console.print(table)


@app.command("pointing")
def pointing(
    products: list[Path] = typer.Argument(
        ..., help="Raw product(s): folder, PNG/JSON, zip or PDS3 label. Several products of one perijove are "
        "solved jointly: one spin axis, rate and camera alignment, each its own phase and start-time offset."),
    kernels: list[Path] = typer.Option(
        ..., "--kernels", help="Metakernel or kernel file (repeat, or separate several with commas): LSK, PCK, FK, "
        "IK, SCLK, SPK; a CK is used as prior."),
    out: Path = typer.Option(..., "--out", help="Folder for <product>_pointing.bc/.json (and joint_pointing.json)."),
    prior: str = typer.Option("auto", "--prior", help="auto (CK if loaded, else global search), ck, or search."),
    align: bool = typer.Option(
        True, "--align/--no-align",
        help="Also solve a small camera-alignment rotation (2 angles). On by default: the real PJ43/PJ44 "
        "products need ~0.6 deg, and without it their limb RMS is 0.57-0.83 px instead of 0.21-0.56 px.",
    ),
    accept_degraded: bool = typer.Option(
        False, "--accept-degraded",
        help="Write the CK even when the quality gates refused the solution (its report still says refused).",
    ),
    basemap: Path | None = typer.Option(
        None, "--basemap", help="Global equirectangular map of the target (e.g. a USGS Io mosaic; left edge 0 deg E, "
        "east-positive): refine the limb solve with tie points to its surface features (several products: "
        "jointly, with one fitted rotation of the map)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Recover the pointing from the image itself (limb of the target): timing offset, spin
    axis, phase and rate; write it as a CK (with an SCLK if the loaded one cannot encode the
    epochs) and a JSON report with residuals per framelet and per filter. A solution the
    quality gates refuse is not written (exit 2, one line saying why) unless --accept-degraded;
    with several products, nothing is written unless all pass."""
    from ioflyby.fileio import AtomicFiles, atomic_write_text, check_out, inside
    from ioflyby.ingest import read_product
    from ioflyby.pointing import PRIORS, solve_joint, solve_loaded, write_outputs
    from ioflyby.spice import Kernels
    from ioflyby.spice.kernelset import kernel_paths

    if prior not in PRIORS:
        raise PointingError(f"--prior {prior!r}: use one of {', '.join(PRIORS)}")
    check_out(out)
    raws = [read_product(product) for product in products]
    reference = None
    if basemap is not None:
        from ioflyby.observation import reference_map

        reference = reference_map(basemap)
    what = "the limb and surface features" if reference is not None else "the limb"
    with Kernels(kernel_paths(kernels)):
        with console.status(f"solving pointing from {what}", spinner="dots") if not as_json else nullcontext():
            joint = solve_joint(raws, prior=prior, align=align, reference=reference) if len(raws) > 1 else None
            if joint:
                solutions = joint.solutions
            elif reference is not None:
                from ioflyby.observation import Observation, solve_pointing

                solutions = [solve_pointing(Observation(raws[0]), prior=prior, align=align, reference=reference)]
            else:
                solutions = [solve_loaded(raws[0], prior=prior, align=align)]
        for solution in solutions:
            solution.require_usable(accept_degraded)
        with AtomicFiles():
            results = [write_outputs(solution, out) for solution in solutions]
            if joint:
                atomic_write_text(inside(out, JOINT_REPORT), json.dumps(_joint_json(results, joint), indent=2))
    if joint:
        emit(_joint_json(results, joint), as_json, _print_joint)
    else:
        emit(results[0].to_json(), as_json, _print_result)

