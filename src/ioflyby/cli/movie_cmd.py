"""``ioflyby movie``: a flyby movie along the twin's trajectory, or from a sequence of products."""

from __future__ import annotations

from pathlib import Path

import typer

from ioflyby.cli.app import app
from ioflyby.cli.output import console, emit, progress
from ioflyby.errors import GeometryError


def _print(result: dict) -> None:
    console.print(f"movie: {result['frames']} frames {result['size'][0]}x{result['size'][1]} at {result['fps']} fps, "
                  f"{result['start_utc']} .. {result['stop_utc']}, closest range {result['min_range_km']:,.0f} km, "
                  f"{result['seconds']:.1f} s")
    console.print(f"wrote {result['output']}")


@app.command("movie")
def movie_command(
    out: Path = typer.Option(..., "--out", help="Output movie file (.mp4)."),
    scenario: str = typer.Option(None, "--scenario", help="Twin scenario (e.g. pj57): frames along its trajectory."),
    products: list[Path] = typer.Option(None, "--products", help="Products to show in order (repeat)."),
    kernels: list[Path] = typer.Option(
        None, "--kernels", help="Metakernel(s): an existing twin's twin_truth.tm for --scenario [default: built "
                                "in a temporary folder]; required with --products."),
    window_s: float = typer.Option(600.0, "--window-s", help="Scenario: seconds before and after C/A."),
    frames: int = typer.Option(300, "--frames", help="Scenario: number of frames."),
    size: str = typer.Option("1920x1080", "--size", help="Frame size WxH."),
    fps: int = typer.Option(30, "--fps", help="Frames per second."),
    hold: int = typer.Option(15, "--hold", help="Products: frames each product is shown."),
    basemap: Path = typer.Option(None, "--basemap", help="Scenario: basemap image [default: the twin's]."),
    as_json: bool = typer.Option(False, "--json", help="Print {output, frames, size, fps, seconds, ...} as JSON."),
) -> None:
    """Make a flyby movie (H.264 MP4 through imageio-ffmpeg): along a twin scenario's trajectory
    (the basemap seen from the spacecraft, north up; the scenario's kernels are built when no
    --kernels are given) or from products rendered in order; every frame is stamped with its UTC
    time and range."""
    from ioflyby.render import movie
    from ioflyby.render.view import parse_size
    from ioflyby.simulate import load_basemap
    from ioflyby.spice.kernelset import kernel_paths

    if (scenario is None) == (not products):
        raise GeometryError("give either --scenario NAME or --products PRODUCT ... (one of them)")
    if out.suffix.lower() != ".mp4":
        raise GeometryError(f"--out {out} should end in .mp4")
    if products and not kernels:
        raise GeometryError("--products needs --kernels (the metakernel(s) covering the products' times)")
    if frames < 1 or hold < 1:
        raise GeometryError("--frames and --hold must be at least 1")
    paths = kernel_paths(kernels) if kernels else None
    frame_size = parse_size(size)
    with progress(disable=as_json) as bar:
        task = bar.add_task("movie", total=frames if scenario else len(products))

        def step(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description="frames" if scenario else "products")

        def stage(name: str) -> None:
            bar.update(task, description=name)

        if scenario:
            result = movie.scenario_movie(scenario, out, paths, window_s, frames, frame_size, fps,
                                          load_basemap(basemap), progress=step, on_stage=stage)
        else:
            result = movie.product_movie(products, paths, out, frame_size, fps, hold=hold, progress=step)
    emit(result.to_json(), as_json, _print)
