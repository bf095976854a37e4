"""Several encounters side by side: one kernel set per encounter (real kernels or a twin's
metakernel), a table of closest-approach geometry, three PNG plots and an HTML page.

For each :class:`EncounterCase` the kernels are loaded, every distance minimum in the window
(default: the whole span both bodies' SPKs cover) is found, the closest one is kept, and a
timeline at ``timeline_step_s`` over ``± half_width_s`` around it is computed; the kernels are
unloaded before the next case. Units as in :mod:`ioflyby.flyby.geometry` (km, km/s, degrees,
planetocentric latitude, east and west longitudes). The output folder is checked before any
work; the files are written under temporary names and appear together when all are complete.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ioflyby.errors import GeometryError
from ioflyby.fileio import AtomicFiles, atomic_write_text, check_out, write_error
from ioflyby.flyby.geometry import DEFAULT_ABCORR, FlybyGeometry, timeline
from ioflyby.flyby.plots import (
    Track,
    basemap_path,
    plot_altitude,
    plot_ground_track,
    plot_resolution,
)
from ioflyby.flyby.search import Encounter, body_coverage, body_id, find_encounters
from ioflyby.spice import Kernels, et_to_utc

TABLE_COLUMNS = (
    ("label", "encounter"),
    ("time_utc", "C/A time (UTC)"),
    ("distance_km", "distance (km)"),
    ("altitude_km", "altitude (km)"),
    ("speed_km_s", "speed (km/s)"),
    ("sub_lat_deg", "sub-obs lat (°)"),
    ("sub_lon_east_deg", "sub-obs lon (°E)"),
    ("sub_lon_west_deg", "sub-obs lon (°W)"),
    ("phase_deg", "phase (°)"),
    ("subpoint_incidence_deg", "solar incidence (°)"),
    ("subsolar_lat_deg", "sub-solar lat (°)"),
    ("subsolar_lon_west_deg", "sub-solar lon (°W)"),
    ("local_solar_time", "local solar time"),
    ("observer_eclipse", "observer in shadow"),
    ("target_eclipse", "target eclipsed"),
    ("junocam_km_per_px", "JunoCam km/px"),
)
PLOT_FILES = {"altitude": "altitude.png", "ground_track": "ground_track.png", "resolution": "resolution.png"}


@dataclass
class EncounterCase:
    """One encounter to compare: a label and the kernels (metakernel and/or files) holding it.

    ``start``/``stop`` (UTC or ET) bound the search; by default the whole span that the loaded
    SPKs cover for both observer and target.
    """

    label: str
    kernels: list[Path]
    observer: str
    target: str
    start: str | float | None = None
    stop: str | float | None = None


@dataclass
class CaseResult:
    """The closest encounter of a case, how many minima the window held, and its timeline."""

    label: str
    closest: Encounter
    minima: int
    timeline: list[FlybyGeometry] = field(default_factory=list)

    def row(self) -> dict:
        """Table row: label + the closest-approach geometry (JSON-ready)."""
        return {"label": self.label, **self.closest.to_dict(), "minima_in_window": self.minima}

    def track(self) -> Track:
        """The timeline as a plotting :class:`Track` (seconds from closest approach)."""
        g = self.timeline
        return Track(
            self.label,
            [p.et - self.closest.et for p in g],
            [p.altitude_km for p in g],
            [p.sub_lat_deg for p in g],
            [p.sub_lon_east_deg for p in g],
            [p.junocam_km_per_px for p in g],
            self.closest.geometry.target,
        )


def _case_window(kernels: Kernels, case: EncounterCase) -> tuple[float | str, float | str]:
    """Search window of a case: its own start/stop, else the span covered for both bodies."""
    if case.start is not None and case.stop is not None:
        return case.start, case.stop
    spans = {}
    for body in (case.observer, case.target):
        intervals = body_coverage(kernels, body)
        if not intervals:
            raise GeometryError(
                f"case {case.label!r}: the kernels hold no SPK data for {body} "
                f"({', '.join(str(p) for p in case.kernels)})"
            )
        spans[body] = (min(a for a, _ in intervals), max(b for _, b in intervals))
    start = max(s[0] for s in spans.values())
    stop = min(s[1] for s in spans.values())
    if not stop > start:
        raise GeometryError(f"case {case.label!r}: the SPK spans of {case.observer} and {case.target} do not overlap")
    return case.start if case.start is not None else start, case.stop if case.stop is not None else stop


def analyse_case(
    case: EncounterCase,
    half_width_s: float = 600.0,
    timeline_step_s: float = 5.0,
    search_step_s: float | None = None,
    max_distance_km: float | None = None,
    abcorr: str = DEFAULT_ABCORR,
) -> CaseResult:
    """Load the case's kernels, find its closest approach, and compute the timeline around it."""
    with Kernels(case.kernels) as kernels:
        start, stop = _case_window(kernels, case)
        covered_only = case.start is None or case.stop is None
        result = find_encounters(
            kernels, case.observer, case.target, start, stop,
            step_s=search_step_s, max_distance_km=max_distance_km, abcorr=abcorr, covered_only=covered_only,
        )
        if not result.encounters:
            raise GeometryError(
                f"case {case.label!r}: no distance minimum of {case.target} from {case.observer} between "
                f"{et_to_utc(result.start_et)} and {et_to_utc(result.stop_et)} UTC"
                + (f" closer than {max_distance_km} km" if max_distance_km is not None else "")
            )
        closest = min(result.encounters, key=lambda e: e.distance_km)
        span = next((a, b) for a, b in result.searched if a <= closest.et <= b)
        points = timeline(case.observer, case.target, closest.et, half_width_s, timeline_step_s, abcorr, window=span)
    return CaseResult(case.label, closest, len(result.encounters), points)


def _cell(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 1e5 else f"{value:,.1f}"
    return str(value)


def render_html(rows: Sequence[dict], images: dict[str, str], title: str, notes: Sequence[str] = ()) -> str:
    """A small self-contained HTML page: the table of ``rows`` and the PNGs (relative links)."""
    head = "".join(f"<th>{html.escape(name)}</th>" for _, name in TABLE_COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(row.get(key)))}</td>" for key, _ in TABLE_COLUMNS) + "</tr>"
        for row in rows
    )
    figures = "".join(
        f'<figure><img src="{html.escape(name)}" alt="{html.escape(kind)}"><figcaption>'
        f"{html.escape(kind.replace('_', ' '))}</figcaption></figure>"
        for kind, name in images.items()
    )
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;margin:1.5em;color:#222}"
        "table{border-collapse:collapse;font-size:13px}"
        "th,td{border:1px solid #bbb;padding:3px 7px;text-align:right}"
        "th{background:#eee}td:first-child{text-align:left;font-weight:bold}"
        "img{max-width:100%}figure{margin:1em 0}"
        "</style></head><body>"
        f"<h1>{html.escape(title)}</h1><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        f"<ul>{items}</ul>{figures}</body></html>\n"
    )


@dataclass(frozen=True)
class EncounterComparison:
    """Encounters side by side: one row per case (the CLI's table keys, ``et`` included), the
    files written (``altitude``, ``ground_track``, ``resolution``, ``json``, ``html``), the
    ground-track basemap used (None when the target has none) and the page's notes.
    ``to_json()`` is the ``ioflyby flyby compare --json`` contract."""

    encounters: list[dict]
    outputs: dict[str, Path]
    basemap: Path | None
    notes: list[str]

    @property
    def html(self) -> Path:
        return self.outputs["html"]

    def to_json(self) -> dict:
        return {
            "encounters": self.encounters,
            "outputs": {k: str(v) for k, v in self.outputs.items()},
            "html": str(self.html),
            "basemap": None if self.basemap is None else str(self.basemap),
            "notes": self.notes,
        }


def compare_encounters(
    cases: Sequence[EncounterCase],
    out_dir: str | Path,
    half_width_s: float = 600.0,
    timeline_step_s: float = 5.0,
    search_step_s: float | None = None,
    max_distance_km: float | None = None,
    abcorr: str = DEFAULT_ABCORR,
    on_case: Callable[[str], None] | None = None,
) -> EncounterComparison:
    """Analyse every case, then write ``altitude.png``, ``ground_track.png``,
    ``resolution.png``, ``comparison.json`` and ``index.html`` into ``out_dir``.
    ``on_case(label)`` is called after each case (progress).
    """
    if not cases:
        raise GeometryError("nothing to compare: give at least one encounter (label and kernels)")
    labels = [c.label for c in cases]
    if len(set(labels)) != len(labels):
        raise GeometryError(f"encounter labels must be unique, got {labels}")
    out = check_out(out_dir)
    results = []
    for case in cases:
        results.append(analyse_case(case, half_width_s, timeline_step_s, search_step_s, max_distance_km, abcorr))
        if on_case is not None:
            on_case(case.label)
    tracks = [r.track() for r in results]
    basemap = basemap_path(tracks[0].target)
    rows = [r.row() for r in results]
    notes = _page_notes(results, basemap, half_width_s, timeline_step_s)
    table = {
        "encounters": rows,
        "timelines": {r.label: [p.to_dict() for p in r.timeline] for r in results},
        "notes": notes,
    }
    pairs = dict.fromkeys(f"{r.closest.geometry.observer}–{r.closest.geometry.target}" for r in results)
    title = "Flyby comparison: " + ", ".join(pairs)
    try:
        with AtomicFiles():
            outputs = {
                "altitude": plot_altitude(tracks, out / PLOT_FILES["altitude"]),
                "ground_track": plot_ground_track(tracks, out / PLOT_FILES["ground_track"], basemap),
                "resolution": plot_resolution(tracks, out / PLOT_FILES["resolution"]),
                "json": atomic_write_text(out / "comparison.json", json.dumps(table, indent=1, default=str)),
                "html": atomic_write_text(out / "index.html", render_html(rows, PLOT_FILES, title, notes)),
            }
    except OSError as exc:
        raise write_error(out, exc) from None
    return EncounterComparison(rows, outputs, basemap, notes)


def _page_notes(results: Sequence[CaseResult], basemap: Path | None, half_width_s: float, step_s: float) -> list[str]:
    first = results[0].closest.geometry
    notes = [
        f"Closest approach = smallest local minimum of the centre distance per encounter, aberration "
        f"correction {first.abcorr}; altitude above the reference ellipsoid (nearest point).",
        "Latitudes planetocentric; longitudes on the body-fixed frame, east- and west-positive.",
        f"Timelines every {step_s:g} s over ±{half_width_s:g} s around closest approach.",
        f"JunoCam km/px = altitude × IFOV; IFOV from {first.junocam_ifov_source}.",
        "Ground track basemap: "
        + (f"{basemap} (east longitude 0° at the left edge, 360° at the right)" if basemap else "none for this target"),
    ]
    ids = {body_id(r.closest.geometry.target) for r in results}
    if len(ids) > 1:
        notes.append("Warning: the encounters have different targets; the basemap is the first one's.")
    return notes
