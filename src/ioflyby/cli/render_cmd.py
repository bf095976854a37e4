"""``ioflyby render``: raw products → a full-resolution, fringe-free, enhanced colour view."""

from __future__ import annotations

from pathlib import Path

import typer

from ioflyby.cli.app import app
from ioflyby.cli.output import console, emit, flag_names, progress

RENDER_FLAGS = {"altitude_km": "--altitude-km", "pointing='solve'": "--solve-pointing"}


def _print(result: dict) -> None:
    view = result["view"]
    console.print(f"render: {', '.join(result['products'])}: {view['view']} view {view['width']} x {view['height']} "
                  f"at {view['km_per_px']:.3f} km/px")
    console.print("seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in result["seconds"].items()))
    for kind, path in result["outputs"].items():
        console.print(f"wrote {path} ({kind})")


@app.command("render")
def render_command(
    products: list[Path] = typer.Argument(..., help="Raw product(s): -raw.png (+ Metadata JSON), zip, or PDS3 label."),
    kernels: list[Path] = typer.Option(
        ..., "--kernels", help="Metakernel(s) or kernel files (repeat, or separate several with commas)."),
    out: Path = typer.Option(..., "--out", help="Output folder."),
    view: str = typer.Option("spacecraft", "--view", help="spacecraft (its own view), orthographic or perspective."),
    lat: float = typer.Option(None, "--lat", help="Map views: centre latitude, deg [default: sub-spacecraft]."),
    lon: float = typer.Option(None, "--lon", help="Map views: centre east longitude, deg [default: sub-spacecraft]."),
    altitude_km: float = typer.Option(None, "--altitude-km", help="Perspective view: viewpoint altitude, km."),
    size: str = typer.Option(None, "--size", help="WxH pixels [default: full resolution, 1 px = 1 framelet px]."),
    enhance: str = typer.Option("gill", "--enhance", help="none, gill or local-contrast."),
    night: str = typer.Option("black", "--night", help="Night side: black or jupitershine (brightened)."),
    flatten: bool = typer.Option(False, "--flatten", help="Even out the illumination (divide by cos(i)^0.7)."),
    solve_pointing: bool = typer.Option(False, "--solve-pointing", help="Solve the pointing from the limb (no CK)."),
    formats: str = typer.Option("png16,tiff16,png8,jpeg", "--formats", help="Any of png16, tiff16, png8, jpeg."),
    as_json: bool = typer.Option(False, "--json", help="Print {outputs, products, view, seconds, record} as JSON."),
) -> None:
    """Render raw products into one colour image for people: the spacecraft's own view (or an
    orthographic / perspective one) reconstructed from every framelet with a Lanczos-3 kernel, the
    best-resolved framelet per pixel, no colour fringes, an enhancement preset, and 16-bit
    PNG/TIFF + 8-bit PNG/JPEG with a caption strip. Every step is recorded in the files."""
    from ioflyby.render.pipeline import STAGES, RenderOptions, render
    from ioflyby.render.view import parse_size
    from ioflyby.spice.kernelset import kernel_paths

    options = RenderOptions(view=view, lat=lat, lon=lon, altitude_km=altitude_km, size=parse_size(size),
                            enhance=enhance, night=night, flatten=flatten,
                            pointing="solve" if solve_pointing else "kernels",
                            formats=tuple(f.strip() for f in formats.split(",") if f.strip()))
    with progress(disable=as_json) as bar:
        task = bar.add_task("render", total=len(STAGES))

        def on_stage(name: str) -> None:
            bar.update(task, completed=STAGES.index(name), description=name)

        with flag_names(RENDER_FLAGS):
            result = render(products, kernel_paths(kernels), out, options, on_stage=on_stage)
        bar.update(task, completed=len(STAGES), description="done")
    emit(result.to_json(), as_json, _print)
