"""``ioflyby info`` (what a raw product holds) and ``ioflyby calibrate`` (dark, flat, bad pixels).

``ioflyby calibrate PRODUCT --calibration DIR --out DIR`` is shorthand for
``ioflyby calibrate run PRODUCT ...``; ``ioflyby calibrate derive-flat PRODUCTS... --out DIR``
derives a pixel flat from many products (``--from-overlaps``: the large-scale flat's response
along lines, from where consecutive framelets overlap).
"""

from __future__ import annotations

from pathlib import Path

import click
import typer
from rich.table import Table
from typer.core import TyperGroup

from ioflyby.cli.app import app
from ioflyby.cli.output import console, emit, progress


class _DefaultRunGroup(TyperGroup):
    """A group whose first argument, when not a sub-command name or an option, means ``run``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


calibrate_app = typer.Typer(
    cls=_DefaultRunGroup,
    no_args_is_help=True,
    help=(
        "Calibrate raw products with dark, flat and bad-pixel frames from a calibration directory "
        "(chosen by perijove, nearest earlier set). 'ioflyby calibrate PRODUCT --calibration DIR "
        "--out DIR' is short for 'ioflyby calibrate run ...'; 'ioflyby calibrate derive-flat "
        "PRODUCTS... --out DIR' derives a pixel flat from many products."
    ),
)
app.add_typer(calibrate_app, name="calibrate")


def _print_info(info: dict) -> None:
    camera = {"GALILEO_SSI": "Galileo SSI"}.get(info.get("instrument", "JUNOCAM"), "JunoCam")
    table = Table(title=f"{camera} product {info['product_id']}", show_header=False)
    for key, value in info.items():
        table.add_row(key, ", ".join(value) if isinstance(value, list) else str(value))
    console.print(table)


@app.command("info")
def info(
    product: Path = typer.Argument(..., help="Product: folder (PNG + Metadata JSON), -raw.png, the website zips, a PDS3 "
                                   ".LBL, or a Galileo SSI .LBL/.IMG."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: product_id, target, perijove, start/stop UTC, "
                                 "exposures, filters, tdi, exposure_ms, interframe_s, companding (Galileo SSI: "
                                 "instrument, filter, image_time_utc, exposure_ms, lines, samples, summing...)."),
) -> None:
    """Read a raw product (JunoCam or Galileo SSI) and print what it holds. A malformed product exits 2."""
    from ioflyby.ingest import read_product

    emit(read_product(product).describe(), as_json, _print_info)


def _print_calibration(result: dict) -> None:
    for path in result["outputs"]:
        console.print(f"wrote {path}")
    for filt, rec in result["record"]["filters"].items():
        parts = []
        for step in ("dark", "flat", "pixelflat", "mask"):
            entry = rec[step]
            parts.append(f"{step}: " + (Path(entry["file"]).name if "file" in entry else entry.get("reason", "-")))
        console.print(f"{filt}: " + "; ".join(parts) + f"; hot pixels {rec['hot'].get('detected', 0)}")


@calibrate_app.command("run")
def calibrate_run(
    product: Path = typer.Argument(..., help="Raw product (as for 'ioflyby info')."),
    calibration: Path = typer.Option(..., "--calibration", help="Calibration directory (darks, flats, masks; pjNN in names or folders)."),
    out: Path = typer.Option(..., "--out", help="Output folder: <PRODUCT_ID>_<FILTER>_cal.tif per filter + <PRODUCT_ID>_calibration.json."),
    skip: list[str] = typer.Option([], "--skip", help="Leave out a step: dark, flat, pixelflat, mask, hot (repeatable)."),
    dark_scale: float | None = typer.Option(None, "--dark-scale", help="Fixed dark scale instead of fitting it on dark sky."),
    as_json: bool = typer.Option(False, "--json", help="Print outputs and the calibration record as JSON."),
) -> None:
    """Decompand, subtract the dark, flat-field, repair bad and hot pixels, divide by exposure:
    float32 TIFFs in DN/s, one per filter, and a JSON record of what was applied."""
    from ioflyby.calibrate import calibrate_product, write_calibrated
    from ioflyby.fileio import check_out
    from ioflyby.ingest import read_product
    from ioflyby.ingest.product import thaw

    check_out(out)
    raw = read_product(product)
    result = calibrate_product(raw, calibration, skip=skip, dark_scale=dark_scale)
    paths = write_calibrated(result, out)
    emit({"outputs": [str(p) for p in paths], "units": result.units, "record": thaw(result.record)}, as_json, _print_calibration)


@calibrate_app.command("derive-flat")
def derive_flat(
    products: list[Path] = typer.Argument(..., help="Raw products (the more and the more varied, the better)."),
    out: Path = typer.Option(..., "--out", help="Output folder for pixelflat[_pjNN]_<filter>.tif, coverage and JSON "
                             "(with --from-overlaps: flat_overlap[_pjNN]_<filter>.tif and JSON)."),
    lit_min_dn: float = typer.Option(100.0, "--lit-min-dn", help="Linear DN above which a pixel counts as lit."),
    window: int = typer.Option(15, "--window", help="Odd number of samples along a line for the local mean."),
    min_count: int = typer.Option(5, "--min-count", help="Framelets a pixel must be lit in; fewer gives flat 1."),
    from_overlaps: bool = typer.Option(False, "--from-overlaps", help="Instead of a pixel flat, derive the large-scale "
                                       "flat's response along lines from where consecutive framelets overlap: the "
                                       "--calibration directory's flat corrected by a fitted gradient along lines."),
    calibration: Path | None = typer.Option(None, "--calibration", help="With --from-overlaps: calibration directory "
                                            "for darks, pixel flats, masks and the base flat (none: raw DN, base flat 1)."),
    line_degree: int = typer.Option(0, "--line-degree", help="With --from-overlaps: Legendre degree in sample of the "
                                    "gradient along lines (0 = one gradient per filter, best in cross-validation)."),
    sample_degree: int = typer.Option(0, "--sample-degree", help="With --from-overlaps: Legendre degree of the slow "
                                      "variation along samples, seen only through the overlaps' sample shift; 0 = "
                                      "keep the base flat's (higher degrees did worse on held-out PJ43/44 products)."),
    as_json: bool = typer.Option(False, "--json", help="Print the written paths as JSON."),
) -> None:
    """Derive a pixel flat (pixel-to-pixel and column response; not vignetting) from many raw
    products, or with --from-overlaps the large-scale flat's response along lines."""
    from ioflyby.calibrate import (
        derive_overlap_flat,
        derive_pixel_flat,
        write_derived_flat,
        write_overlap_flat,
    )
    from ioflyby.camera.junocam import FRAMELET_SAMPLES
    from ioflyby.errors import CalibrationError
    from ioflyby.fileio import check_out
    from ioflyby.ingest import read_product

    check_out(out)
    if not 3 <= window <= FRAMELET_SAMPLES:
        raise CalibrationError(f"--window {window}: give an odd number of samples from 3 to {FRAMELET_SAMPLES}")
    raws = []
    with progress(disable=as_json) as bar:
        task = bar.add_task("reading products", total=len(products))
        for path in products:
            raws.append(read_product(path))
            bar.advance(task)
        if from_overlaps:
            measuring = bar.add_task("measuring framelet overlaps", total=len(raws))
            overlap = derive_overlap_flat(raws, calibration, line_degree=line_degree, sample_degree=sample_degree,
                                          lit_min_dn=lit_min_dn, on_product=lambda _id: bar.advance(measuring))
    if from_overlaps:
        paths = write_overlap_flat(overlap, out)
        result = {"outputs": [str(p) for p in paths], "perijove": overlap.perijove, "products": list(overlap.products),
                  "filters": {f: {"base_flat": overlap.bases[f], "overlap_blocks": fit.measurements,
                                  "rms_ln_ratio_base": fit.rms_before, "rms_ln_ratio_fitted": fit.rms_after}
                              for f, fit in overlap.fits.items()},
                  "skipped": list(overlap.skipped)}
    else:
        derived = derive_pixel_flat(raws, lit_min_dn=lit_min_dn, window=window, min_count=min_count)
        paths = write_derived_flat(derived, out)
        result = {"outputs": [str(p) for p in paths], "perijove": derived.perijove, "products": list(derived.products)}
    emit(result, as_json, lambda r: [console.print(f"wrote {p}") for p in r["outputs"]])
