"""The demo report's part for rendered views: :func:`render_report_section`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ioflyby.report import Section


def render_report_section(renders: Sequence, movie: Path | None = None, metrics: dict | None = None,
                          title: str = "Rendered views") -> Section:
    """A report section with each render's 8-bit PNG (full resolution behind the link; the page
    shows it scaled), its caption, the movie's link and, when given, the quality measures
    (``metrics``: name → value, e.g. from :mod:`ioflyby.render.metrics`). ``renders``:
    :class:`ioflyby.render.RenderResult` objects written with the png8 format."""
    section = Section(title)
    section.text("Full-resolution views reconstructed from every framelet (Lanczos-3, best-resolved framelet per "
                 "pixel, a common validity mask so no colour fringes, enhancement recorded in each file). "
                 "Click an image for the full resolution.")
    for result in renders:
        path = result.files.get("png8") or result.files.get("jpeg")
        if path is None:
            continue
        caption = result.record.get("caption", {})
        steps = ", ".join(step["step"] for step in result.record.get("enhancement", []))
        section.figure(Path(path), f"{caption.get('title', '')}; {caption.get('time_utc', '')}; "
                                   f"{caption.get('km_per_px', 0):.2f} km/px; steps: {steps}")
    if movie is not None:
        section.text(f"Flyby movie: {Path(movie).name} (H.264 MP4).")
    if metrics:
        section.table("Image quality", [{"measure": k, "value": v} for k, v in metrics.items()])
    return section
