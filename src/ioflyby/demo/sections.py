"""The demo report's parts built by other packages: Io's magnetospheric context around C/A, the
eruption time series, full-resolution rendered views (and optionally a flyby movie), and the
line that points to the web viewer. Each returns its :class:`ioflyby.report.Section` and the
numbers and files the demo's ``summary.json`` records."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ioflyby.report import Section
from ioflyby.spice import Kernels, utc_to_et

VIEWER_URL = "http://127.0.0.1:8000/"
MOVIE_FRAMES = 90
MOVIE_SIZE = (640, 360)
MOVIE_HALF_WINDOW_S = 600.0


def magnetosphere_part(metakernel: Path, ca_utc: str, out: Path) -> tuple[Section, dict]:
    """The flyby's magnetospheric panel (:func:`ioflyby.magnetosphere.magnetosphere_report_section`
    around ``ca_utc``) and Io's context at C/A for the summary (no field-line tracing)."""
    from ioflyby.magnetosphere import io_context, magnetosphere_report_section

    section = magnetosphere_report_section(metakernel, out, ca_utc)
    with Kernels([metakernel]):
        at_ca = io_context(np.array([utc_to_et(ca_utc)]), trace=False)[0].to_json()
    keep = ("time_utc", "system3_lon_west_deg", "local_time_h", "distance_rj", "magnetic_lat_deg",
            "centrifugal_lat_deg", "in_shadow")
    return section, {"io_at_ca": {k: at_ca[k] for k in keep}, "files": [str(p) for p, _ in section.figures]}


def timeseries_part(out: Path) -> tuple[Section, dict]:
    """The eruption time-series figures (:func:`ioflyby.volcano.timeseries.timeseries_report_section`)."""
    from ioflyby.volcano.timeseries import timeseries_report_section

    section = timeseries_report_section(out)
    return section, {"files": [str(p) for p, _ in section.figures]}


def renders_part(product: Path, metakernel: Path, out: Path, scenario: str | None = None,
                 movie: bool = False) -> tuple[Section, dict]:
    """A full-resolution spacecraft view of ``product`` (:func:`ioflyby.render.render`, pointing
    solved from the limb, 8-bit PNG with its caption strip) with its colour-fringe measure, and,
    with ``movie``, a short flyby movie of ``scenario`` from the twin's kernels."""
    from ioflyby.render import RenderOptions, render
    from ioflyby.render.metrics import fringe_ratio
    from ioflyby.render.report_section import render_report_section

    result = render([product], [metakernel], out, RenderOptions(pointing="solve", formats=("png8",)))
    rec = result.reconstruction
    fringes = fringe_ratio(rec.channels, rec.valid, rec.cos_incidence)
    metrics = {"colour fringes: chroma p90 near edges / interior": round(fringes["ratio"], 3),
               "render seconds": round(sum(result.seconds.values()), 2)}
    movie_path = None
    if movie and scenario is not None:
        from ioflyby.render.movie import scenario_movie

        made = scenario_movie(scenario, out / f"{scenario}_flyby.mp4", kernels=[metakernel],
                              half_window_s=MOVIE_HALF_WINDOW_S, frames=MOVIE_FRAMES, size=MOVIE_SIZE)
        movie_path = made.path
    section = render_report_section([result], movie=movie_path, metrics=metrics)
    summary = {"files": [str(result.files["png8"])], "fringe_ratio": fringes["ratio"],
               "size": list(result.image.shape[1::-1]) if result.image is not None else None,
               "movie": str(movie_path) if movie_path else None}
    return section, summary


def viewer_part(out: Path) -> tuple[Section, dict]:
    """How to browse the demo's outputs in the web viewer (a static page cannot know the port)."""
    section = Section("Browse these outputs in the viewer")
    command = f"ioflyby serve {out}"
    section.text(f"Browse these outputs: {command} → {VIEWER_URL} (maps in Io's own CRS, volcanoes, hot spots, "
                 "the change between epochs; add --port N to serve on another port).")
    return section, {"command": command, "url": VIEWER_URL}
