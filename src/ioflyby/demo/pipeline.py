"""``ioflyby demo``: the PJ57 flyby end to end on the embedded digital twin, as a report.

Stages (each timed): simulate the scenario's twin (kernels + raw products, with injected timing
and attitude errors) and the comparison twins (kernels only; pj57's later epoch pj58, when
compared, also with one short image of a surface that gained a new lava flow) → read the products → solve the
pointing of each from Io's limb → map them (orthographic colour of the closest image with a
graticule and the catalogue's volcano labels, a global equirectangular mosaic, a perspective view)
with the solved pointing → search the flybys and compare them → find the hot spots of every
product (the twin carries Davies et al.'s catalogued sources with their published temperature and
area; each detection with Io's magnetospheric context) and say which were detected, which missed
and why → find what changed between the two epochs → Io's and Juno's magnetospheric context
around C/A → the eruption time series → a full-resolution rendered view (and, optionally, a flyby
movie) → measure every result against the twin's truth → write ``report.html``, which ends with
the command that opens the outputs in the web viewer.

Needs no file outside the installed packages; outputs are rebuilt on every run (idempotent).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ioflyby.demo import sections
from ioflyby.demo.changes import CHANGE_EPOCHS, CHANGE_IMAGE, DEMO_FLOW, find_changes
from ioflyby.demo.figures import draw_graticule
from ioflyby.demo.volcanoes import VolcanoReport
from ioflyby.demo.volcanoes import find_volcanoes as _volcanoes
from ioflyby.errors import IoflybyError
from ioflyby.fileio import FolderLock, atomic_write_text, check_out, removed_on_failure
from ioflyby.flyby.compare import EncounterCase, EncounterComparison, compare_encounters
from ioflyby.ingest import RawProduct, read_product
from ioflyby.observation import Observation, solve_pointing
from ioflyby.pointing import PointingSolution
from ioflyby.processing import MapSpec, ProcessResult, process
from ioflyby.report import Report, Section
from ioflyby.simulate import (
    PlannedImage,
    Twin,
    TwinOptions,
    build_twin,
    catalogue_hot_spots,
    get_scenario,
    load_basemap,
)
from ioflyby.spice import Kernels
from ioflyby.validate.twin import basemap_correlation, pointing_errors

INJECTED_TIMING_OFFSET_S = 0.015
INJECTED_ATTITUDE_ERROR_DEG = 0.3
INJECTED_ERROR_AXIS_SC = (0.6, 0.8, 0.0)
DEFAULT_COMPARISONS = ("pj58", "galileo-i32")
DEMO_MARKER = ".ioflyby-demo"
FLYBY_HALF_WIDTH_S = 900.0


@dataclass
class DemoSettings:
    """What the demo runs. Map sizes in cells; the defaults keep the run under a minute or two."""

    scenario: str = "pj57"
    comparisons: Sequence[str] = DEFAULT_COMPARISONS
    map_width: int = 1024
    mosaic_resolution_km: float = 6.0
    official_kernel_dir: Path | None = None
    catalogue_hot_spots: bool = True
    """Place the catalogue's thermal sources (published T and area) in the scenario's twin and
    report the hot-spot search on them (the "Volcanoes" section)."""
    changes: bool = True
    """For a scenario with a later epoch among the ``comparisons`` (pj57 → pj58): give that
    comparison twin one short image of a surface with a new lava flow and report what changed
    (about 2–3 s)."""
    magnetosphere: bool = True
    """Io's and the spacecraft's magnetospheric context around C/A (about 1 s)."""
    timeseries: bool = True
    """The eruption time-series figures from the catalogue's epochs (about 2 s)."""
    renders: bool = True
    """A full-resolution rendered view of the image nearest C/A (about 2 s)."""
    movie: bool = False
    """A short flyby movie of the twin (MP4, 90 frames at 640 × 360; several seconds more)."""
    labels: bool = True
    """Volcano labels and a graticule on the orthographic map's figure."""


@dataclass
class DemoResult:
    """Paths and numbers of one demo run (``summary`` is what the CLI prints/--json emits)."""

    report: Path
    summary: dict
    seconds: dict[str, float] = field(default_factory=dict)


class _Stages:
    """Times named stages and reports their start to a callback (progress display)."""

    def __init__(self, total: int, announce: Callable[[str, int, int], None]):
        self.total, self.done, self.announce = total, 0, announce
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.announce(name, self.done, self.total)
        start = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 2)
        self.done += 1
        self.announce(name, self.done, self.total)


STAGES = ("simulate", "read", "pointing", "maps", "flyby", "volcanoes", "changes", "magnetosphere", "timeseries",
          "renders", "accuracy", "report")


def run_demo(
    out: str | Path, settings: DemoSettings | None = None, announce: Callable[[str, int, int], None] | None = None
) -> DemoResult:
    """Run the whole demo into ``out`` and return the report path and summary.

    ``out`` must be absent, empty, or an earlier demo output (it holds the marker file); it is
    checked before any work, locked against a second run, emptied first so a run leaves no
    stale file, and removed again if the run fails, so no half-written report is left. (The
    twin's metakernel names its folder by absolute path, so the run cannot be built elsewhere
    and moved.)
    """
    settings = settings or DemoSettings()
    out = check_out(out).resolve()
    _check_replaceable(out)
    with removed_on_failure(out), FolderLock(out) as lock:
        _check_replaceable(out)
        _empty(out, keep=lock.path)
        (out / DEMO_MARKER).write_text("ioflyby demo output; `ioflyby demo` replaces this folder on every run\n")
        try:
            return _run_stages(out, settings, announce)
        except BaseException:
            _empty(out, keep=lock.path)
            raise


def _check_replaceable(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (_entries(out) and not (out / DEMO_MARKER).exists())):
        raise IoflybyError(
            f"{out} exists and is not an earlier demo output: choose another --out (the demo replaces its folder)"
        )


def _entries(out: Path) -> list[Path]:
    return [p for p in out.iterdir() if p.name != FolderLock.NAME]


def _empty(out: Path, keep: Path) -> None:
    """Remove everything in the demo folder ``out`` but the lock file ``keep``."""
    for entry in out.iterdir():
        if entry == keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _run_stages(out: Path, settings: DemoSettings, announce: Callable[[str, int, int], None] | None) -> DemoResult:
    stages = _Stages(len(STAGES), announce or (lambda *_: None))
    scenario = get_scenario(settings.scenario)

    later = CHANGE_EPOCHS.get(scenario.name) if settings.changes else None
    later = later if later in settings.comparisons else None
    with stages.stage("simulate"):
        spots = tuple(catalogue_hot_spots()) if settings.catalogue_hot_spots else ()
        twin = build_twin(scenario, out / "twin" / scenario.name, _twin_options(settings, scenario.images, spots))
        comparison_twins = {
            name: build_twin(name, out / "twin" / name,
                             _twin_options(settings, (CHANGE_IMAGE,), changes=(DEMO_FLOW,)) if name == later
                             else _twin_options(settings, ()))
            for name in settings.comparisons
        }
    with stages.stage("read"):
        products = [read_product(p) for p in twin.products]
    with stages.stage("pointing"), Kernels([twin.metakernel]):
        solutions = [solve_pointing(Observation(p), prior="ck", align=True) for p in products]
    with stages.stage("maps"):
        nearest_ca = min(range(len(products)), key=lambda i: abs(scenario.images[i].offset_s))
        maps = _make_maps(products, solutions, nearest_ca, twin.metakernel, out / "maps", settings)
    with stages.stage("flyby"):
        cases = [EncounterCase(scenario.name, [twin.metakernel], "JUNO", scenario.target)] + [
            EncounterCase(name, [t.metakernel], "JUNO", get_scenario(name).target)
            for name, t in comparison_twins.items()
        ]
        flyby = compare_encounters(cases, out / "flyby", half_width_s=FLYBY_HALF_WIDTH_S)
    with stages.stage("volcanoes"):
        volcanoes = _volcanoes(products, solutions, twin, out / "volcanoes") if settings.catalogue_hot_spots else None
    extra: dict[str, tuple] = {}
    with stages.stage("changes"):
        changes = None
        if later:
            changes = find_changes(maps["mosaic"].files["linear"], comparison_twins[later], settings.mosaic_resolution_km,
                                   out / "changes")
    ca_utc = flyby.encounters[0]["time_utc"]
    with stages.stage("magnetosphere"):
        if settings.magnetosphere:
            extra["magnetosphere"] = sections.magnetosphere_part(twin.metakernel, ca_utc, out / "magnetosphere")
    with stages.stage("timeseries"):
        if settings.timeseries:
            extra["timeseries"] = sections.timeseries_part(out / "timeseries")
    with stages.stage("renders"):
        if settings.renders:
            extra["renders"] = sections.renders_part(twin.products[nearest_ca], twin.metakernel, out / "renders",
                                                     scenario.name, settings.movie)
    with stages.stage("accuracy"):
        accuracy = _accuracy(products, solutions, maps, flyby, twin)
    with stages.stage("report"):
        summary = _summary(scenario.name, flyby, accuracy, products, maps)
        if volcanoes is not None:
            summary["volcanoes"] = volcanoes.summary()
        if changes is not None:
            summary["changes"] = changes.summary()
        if settings.labels:
            summary["maps_labelled"] = {"orthographic": str(_labelled_orthographic(maps["orthographic"]))}
        extra["viewer"] = sections.viewer_part(out)
        summary.update({name: part[1] for name, part in extra.items()})
        later_name = get_scenario(later).name.upper() if later else ""
        report = _write_report(out, scenario, summary, accuracy, flyby, maps, products, stages.seconds, volcanoes,
                               changes.section(scenario.name.upper(), later_name) if changes else None,
                               {name: part[0] for name, part in extra.items()})
    summary["seconds"] = dict(stages.seconds)
    summary["report"] = str(report)
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return DemoResult(report, summary, dict(stages.seconds))


def _twin_options(settings: DemoSettings, images: Sequence[PlannedImage], hot_spots: tuple = (),
                  changes: tuple = ()) -> TwinOptions:
    return TwinOptions(
        hot_spots=hot_spots,
        surface_changes=changes,
        timing_offset_s=INJECTED_TIMING_OFFSET_S,
        attitude_error_deg=INJECTED_ATTITUDE_ERROR_DEG,
        attitude_error_axis_sc=INJECTED_ERROR_AXIS_SC,
        official_kernel_dir=settings.official_kernel_dir,
        images=tuple(images),
    )


def _make_maps(
    products: list[RawProduct],
    solutions: list[PointingSolution],
    nearest_ca: int,
    metakernel: Path,
    out: Path,
    settings: DemoSettings,
) -> dict[str, ProcessResult]:
    """Orthographic colour and perspective view of the image planned nearest C/A (index
    ``nearest_ca``), and a global mosaic of all products."""
    closest = [nearest_ca]
    checked = {"science": True, "backplanes": True}  # linear bands + lat/lon for the accuracy check
    jobs = {
        "orthographic": (closest, MapSpec(projection="orthographic", width=settings.map_width, labels=settings.labels,
                                          **checked)),
        "mosaic": (
            range(len(products)),
            MapSpec(
                projection="equirectangular", resolution_km=settings.mosaic_resolution_km, photometry="lambert",
                **checked,
            ),
        ),
        "perspective": (closest, MapSpec(projection="perspective", width=settings.map_width, **checked)),
    }
    return {
        name: process([products[i] for i in chosen], [metakernel], spec, out / name, pointing=solutions)
        for name, (chosen, spec) in jobs.items()
    }


def _labelled_orthographic(result: ProcessResult) -> Path:
    """The orthographic map's labelled preview with a 30° graticule drawn over it."""
    preview = result.files["preview"]
    return draw_graticule(preview, result.map.grid, preview.with_name(preview.stem + "_graticule.png"))


def _accuracy(products, solutions, maps: dict[str, ProcessResult], flyby: EncounterComparison, twin: Twin) -> dict:
    injected = twin.truth["injected"]
    pointing = [
        {
            "product": product.product_id,
            "limb_rms_px": solution.limb_rms_px,
            "limb_points": solution.n_limb_points,
            **pointing_errors(solution, product, twin.truth_metakernel, injected["timing_offset_s"]),
        }
        for product, solution in zip(products, solutions)
    ]
    basemap = load_basemap(twin.truth["basemap"]["path"])
    correlation = {
        name: basemap_correlation(result.map, basemap, lambert_corrected=name == "mosaic")
        for name, result in maps.items()
    }
    found = flyby.encounters[0]
    achieved = twin.truth["achieved_ca"]
    ca_error = {
        "time_error_s": found["et"] - achieved["time_et"],
        "altitude_error_km": found["altitude_km"] - achieved["altitude_km"],
    }
    return {"pointing": pointing, "map_correlation": correlation, "closest_approach": ca_error}


def _summary(name, flyby: EncounterComparison, accuracy, products, maps: dict[str, ProcessResult]) -> dict:
    ca = flyby.encounters[0]
    return {
        "scenario": name,
        "closest_approach": {key: ca[key] for key in ("time_utc", "altitude_km", "speed_km_s", "sub_lat_deg", "sub_lon_west_deg")}
        | {"junocam_km_per_px": ca.get("junocam_km_per_px")},
        "comparisons": [
            {"label": row["label"], "time_utc": row["time_utc"], "altitude_km": row["altitude_km"], "speed_km_s": row["speed_km_s"]}
            for row in flyby.encounters
        ],
        "products": [p.product_id for p in products],
        "pointing_worst_across_deg": max(p["across_line_of_sight_deg"] for p in accuracy["pointing"]),
        "timing_worst_error_ms": max(abs(p["timing_error_ms"]) for p in accuracy["pointing"]),
        "limb_rms_px": [round(p["limb_rms_px"], 3) for p in accuracy["pointing"]],
        "map_correlation": {
            name: {band: r for band, r in bands.items() if band != "cells"}
            for name, bands in accuracy["map_correlation"].items()
        },
        "ca_time_error_s": accuracy["closest_approach"]["time_error_s"],
        "ca_altitude_error_km": accuracy["closest_approach"]["altitude_error_km"],
        "maps": {name: str(result.files["preview"]) for name, result in maps.items()},
    }


def _write_report(out, scenario, summary, accuracy, flyby, maps, products, seconds,
                  volcanoes: VolcanoReport | None = None, changes: Section | None = None,
                  parts: dict[str, Section] | None = None) -> Path:
    ca = summary["closest_approach"]
    report = Report(
        f"ioflyby demo: {scenario.description}",
        f"C/A {ca['time_utc']} UTC at {ca['altitude_km']:.1f} km, {ca['speed_km_s']:.2f} km/s — "
        "a digital twin: every number below was computed in this run.",
    )
    pictures = report.section("Io, reconstructed from the twin's raw JunoCam products")
    captions = {
        "orthographic": "Orthographic colour map of the image nearest closest approach (solved pointing)",
        "mosaic": f"Global equirectangular mosaic of {len(products)} products (Lambert-corrected)",
        "perspective": "Perspective view from the spacecraft at mid-image",
    }
    labelled = summary.get("maps_labelled", {})
    if labelled:
        captions["orthographic"] += ("; 30° graticule (meridians in °W), Davies et al. (2024) hot spots by power "
                                     "and their names")
    for name, caption in captions.items():
        pictures.figure(Path(labelled.get(name) or summary["maps"][name]), caption)
    parts = parts or {}
    if "renders" in parts:
        report.add(parts["renders"])
    flyby_part = report.section("Flyby geometry and comparison")
    flyby_part.table("Closest approaches (from the SPICE kernels of each twin)", [
        {"flyby": row["label"], "C/A (UTC)": row["time_utc"], "altitude (km)": row["altitude_km"],
         "speed (km/s)": row["speed_km_s"], "sub-lat (deg)": row["sub_lat_deg"],
         "sub-lon W (deg)": row["sub_lon_west_deg"], "JunoCam km/px": row.get("junocam_km_per_px")}
        for row in flyby.encounters
    ])
    for name in ("altitude", "ground_track", "resolution"):
        if name in flyby.outputs:
            flyby_part.figure(flyby.outputs[name], name.replace("_", " "))
    checks = report.section("Accuracy against the twin's truth")
    checks.text(
        f"Injected: timing offset {INJECTED_TIMING_OFFSET_S * 1e3:.0f} ms and attitude error "
        f"{INJECTED_ATTITUDE_ERROR_DEG}° — the pointing was solved from Io's limb starting from the nominal CK."
    )
    checks.table("Pointing solved from the limb vs the truth CK", accuracy["pointing"])
    checks.table("Each map vs the basemap the twin was rendered from (Pearson r of albedo, lit cells)", [
        {"map": name, "cells": bands["cells"], **{band: r for band, r in bands.items() if band != "cells"},
         "all r ≥ 0.95": min(r for band, r in bands.items() if band != "cells") >= 0.95}
        for name, bands in accuracy["map_correlation"].items()
    ])
    checks.table("Flyby search vs the twin's designed closest approach", [accuracy["closest_approach"]])
    timing = report.section("Timings")
    timing.table("Wall seconds per stage", [{"stage": k, "seconds": v} for k, v in seconds.items()])
    timing.table("Map processing seconds per step", [
        {"map": name, **result.to_json()["seconds"]} for name, result in maps.items()
    ])
    if volcanoes is not None:
        volcanoes.add_section(report)
    if changes is not None:
        report.add(changes)
    for name in ("timeseries", "magnetosphere", "viewer"):
        if name in parts:
            report.add(parts[name])
    return report.write(out / "report.html")
