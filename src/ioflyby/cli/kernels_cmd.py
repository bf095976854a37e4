"""``ioflyby kernels``: check what a set of kernels covers; fetch kernels from NAIF."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ioflyby.cli.app import app
from ioflyby.cli.output import console, emit
from ioflyby.spice import KernelSet

kernels_app = typer.Typer(help="Inspect and fetch SPICE kernels.", no_args_is_help=True)
app.add_typer(kernels_app, name="kernels")


def _print_report(report: dict) -> None:
    spk = Table(title="SPK coverage (UTC)")
    for column in ("body", "name", "start", "stop"):
        spk.add_column(column)
    for row in report["spk"]:
        spk.add_row(str(row["body"]), row["name"], row["start_utc"], row["stop_utc"])
    console.print(spk)
    if report["ck"]:
        ck = Table(title="CK coverage (UTC)")
        for column in ("frame id", "frame", "sclk", "start", "stop"):
            ck.add_column(column)
        for row in report["ck"]:
            ck.add_row(str(row["frame_id"]), row["name"], str(row["sclk_id"]), row["start_utc"], row["stop_utc"])
        console.print(ck)
    text = Table(title="Text kernels")
    text.add_column("kind")
    text.add_column("path")
    for row in report["text_kernels"]:
        text.add_row(row["kind"], row["path"])
    console.print(text)
    for problem in report["problems"]:
        console.print(f"[yellow]problem:[/] {problem}")


@kernels_app.command("check")
def check(
    kernels: list[Path] = typer.Argument(..., help="Metakernel(s) and/or kernel files to load."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Load kernels and report SPK coverage per body, CK coverage per frame, text kernels and
    likely problems (no LSK, a CK without its SCLK). A missing or corrupt file exits 2."""
    with KernelSet(kernels) as kernel_set:
        report = kernel_set.report()
    emit(report, as_json, _print_report)
