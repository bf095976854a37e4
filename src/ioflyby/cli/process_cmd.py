"""``ioflyby process``: raw products → map-projected GeoTIFF + PNG (and backplanes)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ioflyby.cli.app import app
from ioflyby.cli.output import console, emit, flag_names, progress
from ioflyby.errors import GeometryError

STAGES = ("read", "calibrate", "geometry", "reproject", "colour", "write")
PROCESS_FLAGS = {"pointing='solve'": "--solve-pointing", "resolution_km": "--resolution-km", "width": "--width"}


def _pair(text: str | None, what: str) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise GeometryError(f"{what} must be two numbers separated by a comma, got {text!r}") from None
    return low, high


def _white_balance(text: str) -> str | dict:
    if text in ("auto", "none"):
        return text
    try:
        red, green, blue = (float(v) for v in text.split(","))
    except ValueError:
        raise GeometryError(f"--white-balance must be auto, none or three gains R,G,B; got {text!r}") from None
    return {"RED": red, "GREEN": green, "BLUE": blue}


def _print(result: dict) -> None:
    table = Table(title=f"process: {result['target']}, {result['grid']['projection']}")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for stage, seconds in result["seconds"].items():
        table.add_row(stage, f"{seconds:.3f}")
    console.print(table)
    console.print(f"framelets: {result['framelets']}, map {result['grid']['width']} x {result['grid']['height']} "
                  f"at {result['grid']['cell_km']:.3f} km, coverage {100 * result['coverage_fraction']:.1f}%")
    for path in result["outputs"]:
        console.print(f"wrote {path}")


@app.command("process")
def process(
    products: list[Path] = typer.Argument(..., help="Raw product(s): -raw.png (+ Metadata JSON), zip, or PDS3 label."),
    kernels: list[Path] = typer.Option(
        ..., "--kernels", help="Metakernel(s) or kernel files (repeat, or separate several with commas)."),
    out: Path = typer.Option(..., "--out", help="Output folder."),
    projection: str = typer.Option("orthographic", "--projection", help="equirectangular, orthographic, polar or perspective."),
    target: str = typer.Option(None, "--target", help="Target body [default: the product's TARGET_NAME]."),
    lat: float = typer.Option(None, "--lat", help="Centre latitude, deg [default: sub-spacecraft point at mid-image]."),
    lon: float = typer.Option(None, "--lon", help="Centre east longitude, deg [default: sub-spacecraft point]."),
    lat_range: str = typer.Option(None, "--lat-range", help="Equirectangular box: SOUTH,NORTH deg [default: -90,90]."),
    lon_range: str = typer.Option(None, "--lon-range", help="Equirectangular box: WEST,EAST east-lon deg [default: global]."),
    pole: str = typer.Option(None, "--pole", help="Polar map: north or south [default: the hemisphere of --lat]."),
    edge_lat: float = typer.Option(0.0, "--edge-lat", help="Polar map: latitude at the middle of the edges, deg."),
    altitude_km: float = typer.Option(None, "--altitude-km", help="Perspective viewpoint altitude [default: the spacecraft's]."),
    resolution_km: float = typer.Option(None, "--resolution-km", help="Map cell size, km [default: from --width]."),
    width: int = typer.Option(None, "--width", help="Map width in cells [default: 2048]."),
    photometry: str = typer.Option("none", "--photometry", help="none, lambert, lommel-seeliger or minnaert."),
    minnaert_k: float = typer.Option(0.7, "--minnaert-k", help="Minnaert exponent k."),
    overlap: str = typer.Option("feather", "--overlap", help="Framelet overlaps: feather or emission (best emission angle)."),
    white_balance: str = typer.Option("auto", "--white-balance", help="auto, none, or gains R,G,B."),
    stretch: str = typer.Option("0.5,99.8", "--stretch", help="Black and white percentiles of lit cells."),
    gamma: float = typer.Option(1.0, "--gamma", help="Display gamma."),
    bits: int = typer.Option(16, "--bits", help="Colour GeoTIFF bit depth: 8 or 16."),
    backplanes: bool = typer.Option(False, "--backplanes", help="Also write a backplanes GeoTIFF."),
    science: bool = typer.Option(False, "--science", help="Also write the linear channels as float32 GeoTIFF."),
    calibration: Path = typer.Option(None, "--calibration", help="Calibration frames folder (dark, flat, masks)."),
    labels: bool = typer.Option(
        False, "--labels",
        help="Draw Io's catalogued hot spots (Davies et al. 2024; marker size/colour by power) and their names on "
             "the PNG preview and write them as a GeoJSON layer in the map's CRS.",
    ),
    solve_pointing: bool = typer.Option(
        False, "--solve-pointing",
        help="Solve each product's pointing from the target's limb (ioflyby pointing) instead of using the CK.",
    ),
    pointing_prior: str = typer.Option(
        "auto", "--pointing-prior", help="With --solve-pointing: ck, search (no CK) or auto (CK when loaded)."
    ),
    accept_degraded: bool = typer.Option(
        False, "--accept-degraded",
        help="With --solve-pointing: map a product even when the pointing's quality gates refused it.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print {outputs, seconds, framelets, pointing, ...} as JSON."),
) -> None:
    """Reproject raw JunoCam products onto a map (several products are mosaicked with brightness
    matching and feathered seams) and write a colour GeoTIFF (IAU CRS), a PNG preview and,
    optionally, backplanes and linear channels. Map coordinates: planetocentric latitude,
    east-positive longitude."""
    from ioflyby.processing import MapSpec, process
    from ioflyby.spice.kernelset import kernel_paths

    if pole not in (None, "north", "south"):
        raise GeometryError(f"--pole must be north or south, got {pole!r}")
    spec = MapSpec(
        projection=projection, target=target, lat=lat, lon=lon, lat_range=_pair(lat_range, "--lat-range"),
        lon_range=_pair(lon_range, "--lon-range"), north=None if pole is None else pole == "north",
        edge_lat=edge_lat, altitude_km=altitude_km, resolution_km=resolution_km, width=width,
        photometry=photometry, minnaert_k=minnaert_k, overlap=overlap, white_balance=_white_balance(white_balance),
        stretch=_pair(stretch, "--stretch"), gamma=gamma, bits=bits, backplanes=backplanes, science=science,
        calibration_dir=calibration, labels=labels,
    )
    with progress(disable=as_json) as bar:
        task = bar.add_task("process", total=len(STAGES))

        def on_stage(name: str) -> None:
            bar.update(task, completed=STAGES.index(name), description=name)

        with flag_names(PROCESS_FLAGS):
            result = process(products, kernel_paths(kernels), spec, out,
                             pointing="solve" if solve_pointing else "kernels", pointing_prior=pointing_prior,
                             on_stage=on_stage, accept_degraded=accept_degraded)
        bar.update(task, completed=len(STAGES), description="done")
    emit(result.to_json(), as_json, _print)
