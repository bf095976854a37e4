"""``ioflyby kernels``: check what a set of kernels covers; fetch kernels from NAIF."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ioflyby.cli.app import app
from ioflyby.cli.output import console, emit, progress
from ioflyby.fileio import check_out
from ioflyby.spice import Kernels
from ioflyby.spice.fetch import DEFAULT_BASE_URL, DEFAULT_PLANETS, fetch_kernels
from ioflyby.spice.kernelset import kernel_paths

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
    kernels: list[Path] = typer.Argument(..., help="Metakernel(s) and/or kernel files to load (or comma lists)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Load kernels and report SPK coverage per body, CK coverage per frame, text kernels and
    likely problems (no LSK, a CK without its SCLK). A missing or corrupt file exits 2."""
    with Kernels(kernel_paths(kernels)) as kernel_set:
        report = kernel_set.report()
    emit(report, as_json, _print_report)


def _print_fetch(result: dict) -> None:
    verb = "would fetch" if result["dry_run"] else "downloaded"
    table = Table(title="Kernels (load order)")
    for column in ("kind", "file", "bytes", "status"):
        table.add_column(column)
    for row in result["files"]:
        size = "?" if row["bytes"] is None else f"{row['bytes']:,}"
        table.add_row(row["kind"], row["path"], size, "cached" if row["cached"] else verb)
    console.print(table)
    if result["dry_run"]:
        console.print(f"dry run: nothing downloaded; the metakernel would be {result['metakernel']}")
    else:
        console.print(f"metakernel: {result['metakernel']}")


@kernels_app.command("fetch")
def fetch(
    start: str = typer.Option(..., "--start", help="Window start, ISO UTC (2023-12-30T07:00)."),
    stop: str = typer.Option(..., "--stop", help="Window stop, ISO UTC."),
    dest: Path = typer.Option(..., "--dest", help="Folder for the metakernel juno_<start>_<stop>.tm."),
    mission: str = typer.Option("juno", "--mission", help="Mission whose kernels to fetch (juno, galileo)."),
    base_url: str = typer.Option(DEFAULT_BASE_URL, "--base-url", help="Root of a NAIF tree or mirror."),
    cache: Path = typer.Option(None, "--cache", help="Kernel cache [default: ~/.cache/ioflyby/kernels]."),
    planets: str = typer.Option(DEFAULT_PLANETS, "--planets", help="Planetary SPK in generic_kernels/spk/planets/."),
    satellites: str = typer.Option(
        None, "--satellites", help="Jovian satellite SPK (e.g. jup365.bsp) [default: highest jupNNN.bsp]."
    ),
    no_ck: bool = typer.Option(False, "--no-ck", help="Skip attitude CKs (e.g. not yet published)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be fetched; download nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print {metakernel, files} as JSON."),
) -> None:
    """Select kernels for a mission and UTC window from the NAIF trees (latest versions, files whose
    name dates cover the window), download them into the cache (resumed, size-checked) and write a
    metakernel into DEST. A failed download exits 2 and names the URL."""
    if not dry_run:
        check_out(dest, "--dest")
        if cache is not None:
            check_out(cache, "--cache")
    with progress(disable=as_json or dry_run) as bar:
        tasks: dict[str, int] = {}

        def hook(name: str, done: int, total: int | None) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done, total=total)

        result = fetch_kernels(
            start, stop, dest, mission=mission, base_url=base_url, cache=cache, planets=planets,
            satellites=satellites, include_ck=not no_ck, dry_run=dry_run, progress=hook,
        )
    emit(result.to_dict(), as_json, _print_fetch)
