"""``process``: raw products → map products, stage by stage, each stage timed.

Stages (``seconds`` keys): read (ingest), calibrate (decompanding, or the full calibration when
a calibration folder is given), geometry (kernels, camera model, per-framelet poses from the CK
or a solved pointing), reproject (per product, then the mosaic), colour (white balance,
stretch), write (GeoTIFFs, PNG).
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ioflyby.errors import GeometryError, MissingAttitudeError, PointingError
from ioflyby.fileio import AtomicFiles, check_out, inside
from ioflyby.geometry import Body
from ioflyby.ingest import RawProduct, read_product
from ioflyby.mapping.colour import Stretch
from ioflyby.mapping.crs import body_crs
from ioflyby.mapping.grid import PROJECTIONS, MapGrid
from ioflyby.mapping.mosaic import mosaic
from ioflyby.mapping.product import DEFAULT_STRETCH_PERCENTILES, ColourImage, MapProduct
from ioflyby.observation import Observation, solve_pointing
from ioflyby.pointing import PointingSolution
from ioflyby.spice import Kernels

POSE_SOURCES = ("kernels", "solve")


@dataclass
class MapSpec:
    """What map to make (angles in degrees, lengths in km; None = a default from the geometry).

    ``projection``: equirectangular, orthographic, polar or perspective. Centre ``lat``/``lon``
    (east) default to the sub-spacecraft point at mid-image; ``lat_range``/``lon_range`` bound an
    equirectangular map; ``north``/``edge_lat`` a polar one; ``altitude_km`` the perspective
    viewpoint (default: the spacecraft's). Cell size from ``resolution_km`` or ``width``.
    ``labels``: draw the volcano catalogue's hot spots and names on the preview and write them as
    a GeoJSON layer (:mod:`ioflyby.volcano.labels`).
    """

    projection: str = "orthographic"
    target: str | None = None
    lat: float | None = None
    lon: float | None = None
    lat_range: tuple[float, float] | None = None
    lon_range: tuple[float, float] | None = None
    north: bool | None = None
    edge_lat: float = 0.0
    altitude_km: float | None = None
    resolution_km: float | None = None
    width: int | None = None
    photometry: str = "none"
    minnaert_k: float = 0.7
    overlap: str = "feather"
    white_balance: str | dict = "auto"
    stretch: tuple[float, float] = DEFAULT_STRETCH_PERCENTILES
    gamma: float = 1.0
    bits: int = 16
    backplanes: bool = False
    science: bool = False
    calibration_dir: Path | None = None
    match_brightness: bool = True
    labels: bool = False

    def grid(self, observation: Observation) -> MapGrid:
        """The grid this spec asks for; defaults come from ``observation``'s mid-image geometry."""
        sub = observation.sub_observer
        lat = sub.lat if self.lat is None else self.lat
        lon = (sub.lon + 180.0) % 360.0 - 180.0 if self.lon is None else self.lon
        size = {"resolution_km": self.resolution_km, "width": self.width}
        body = observation.body
        if self.projection == "equirectangular":
            return MapGrid.equirectangular(body, self.lat_range or (-90.0, 90.0), self.lon_range, **size)
        if self.projection == "orthographic":
            return MapGrid.orthographic(body, lat, lon, **size)
        if self.projection == "polar":
            return MapGrid.polar(body, self.north if self.north is not None else lat >= 0, self.edge_lat, **size)
        if self.projection == "perspective":
            radius_km = body_crs(body.naif_id, body.name, body.radii_km).radius_m / 1000.0
            altitude = self.altitude_km if self.altitude_km is not None else sub.distance_km - radius_km
            return MapGrid.perspective(body, lat, lon, altitude, **size)
        raise GeometryError(f"unknown projection {self.projection!r}: use {', '.join(PROJECTIONS)}")


@dataclass
class ProcessResult:
    """What :func:`process` made: the map in memory, the files written (``files`` by kind:
    colour, preview, linear, backplanes, labels), timings per stage and the pointing used.

    ``to_json()`` is the ``ioflyby process --json`` contract.
    """

    map: MapProduct
    files: dict[str, Path]
    seconds: dict[str, float]
    framelets: int
    pointing: dict
    stretch: Stretch
    products: list[str]
    io_magnetosphere: list[dict] | None = None
    """Per product, Io's magnetospheric context at its mid-time (target Io;
    :func:`ioflyby.magnetosphere.io_context_summaries`), None otherwise or when the kernels lack it."""
    notes: list[str] = field(default_factory=list)

    @property
    def grid(self) -> MapGrid:
        return self.map.grid

    @property
    def outputs(self) -> list[Path]:
        return list(self.files.values())

    def to_json(self) -> dict:
        return {
            "outputs": [str(p) for p in self.outputs],
            "seconds": {k: round(v, 4) for k, v in self.seconds.items()},
            "framelets": self.framelets,
            "pointing": self.pointing,
            "target": self.map.target,
            "grid": self.grid.describe(),
            "stretch": self.stretch.to_dict(),
            "coverage_fraction": float(self.map.coverage.mean()),
            "mosaic": self.map.meta if len(self.products) > 1 else None,
            "io_magnetosphere": self.io_magnetosphere,
            "notes": self.notes,
        }


class _Stages:
    """Times named stages (seconds added up per name) and announces each start."""

    def __init__(self, announce: Callable[[str], None] | None):
        self.seconds: dict[str, float] = {}
        self.announce = announce or (lambda _name: None)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.announce(name)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


def framelet_images(product: RawProduct, calibration_dir: Path | None) -> tuple[np.ndarray, dict]:
    """Linear framelets [exposure, filter, lines, samples] float32 (the camera's framelet size) and a
    record of what was done."""
    if calibration_dir is None:
        return product.decompanded(), {"calibration": "decompanded only (linear 12-bit DN)"}
    from ioflyby.calibrate import calibrate_product

    result = calibrate_product(product, calibration_dir)
    return np.asarray(result.data), {"calibration": result.units, "calibration_dir": str(calibration_dir)}


def pointing_record(observation: Observation) -> dict:
    """JSON description of where an observation's poses came from (the ``pointing`` of
    ``process --json``): the kernels, or the solved pointing's summary."""
    if observation.pointing is None:
        return {"source": "kernels"}
    summary = observation.pointing.to_dict()
    summary.pop("per_framelet")
    return dict(summary, source="solved from the limb (ioflyby.pointing)")


def observation_with_poses(
    product: RawProduct, body: Body, pointing: str | Sequence[PointingSolution], prior: str = "auto",
    accept_degraded: bool = False,
) -> Observation:
    """The product's Observation with poses from the kernels (``"kernels"``), a solve
    (``"solve"``), or the given solutions (matched by product id); a solution its quality gates
    refused raises ``PointingRefused`` unless ``accept_degraded``."""
    observation = Observation(product, body=body)
    if pointing == "kernels":
        if not observation.has_poses:
            raise MissingAttitudeError(product.product_id, observation.missing_poses_reason,
                                       "solve the pointing from the image instead (pointing='solve')")
        return observation
    if pointing == "solve":
        return observation.with_pointing(solve_pointing(observation, prior=prior, align=True), accept_degraded)
    by_product = {solution.product_id: solution for solution in pointing}
    if product.product_id not in by_product:
        raise PointingError(f"{product.product_id}: no solved pointing was given for this product")
    return observation.with_pointing(by_product[product.product_id], accept_degraded)


def process(
    products: Sequence[RawProduct | str | Path],
    kernels: Sequence[str | Path] | str | Path,
    spec: MapSpec | None = None,
    out: str | Path | None = None,
    pointing: str | Sequence[PointingSolution] = "kernels",
    pointing_prior: str = "auto",
    on_stage: Callable[[str], None] | None = None,
    accept_degraded: bool = False,
) -> ProcessResult:
    """Map ``products`` (RawProducts or paths ``read_product`` accepts; several are mosaicked)
    onto the grid ``spec`` asks for, and write a colour GeoTIFF + PNG preview (and, as ``spec``
    asks, linear channels and backplanes) into ``out`` unless it is None (maps in memory only).

    ``pointing``: "kernels" (the CK), "solve" (from each product's limb, see
    :func:`ioflyby.observation.solve_pointing`; ``pointing_prior`` as there) or solved
    pointings (matched by product id). ``on_stage(name)`` is called as each stage starts.
    A solved pointing whose quality gates refused it stops the run (``PointingRefused``) unless
    ``accept_degraded``.
    """
    spec = spec or MapSpec()
    if spec.projection not in PROJECTIONS:
        raise GeometryError(f"unknown projection {spec.projection!r}: use {', '.join(PROJECTIONS)}")
    if isinstance(pointing, str) and pointing not in POSE_SOURCES:
        raise PointingError(f"unknown pose source {pointing!r}: use {', '.join(POSE_SOURCES)} or solved pointings")
    kernels = [kernels] if isinstance(kernels, (str, Path)) else list(kernels)
    if out is not None:
        check_out(out)
    stages = _Stages(on_stage)
    with stages.stage("read"):
        raw = [p if isinstance(p, RawProduct) else read_product(p) for p in products]
    if not raw:
        raise GeometryError("no product to process")
    with stages.stage("calibrate"):
        images = [framelet_images(p, spec.calibration_dir) for p in raw]
    with stages.stage("geometry"), Kernels(kernels):
        body = Body.from_spice(spec.target or raw[0].target)
        observations = [observation_with_poses(p, body, pointing, pointing_prior, accept_degraded) for p in raw]
        grid = spec.grid(observations[0])
        context, context_note = io_context_at_mid_times(observations)
    with stages.stage("reproject"):
        maps = [
            observation.map(grid, photometry=spec.photometry, minnaert_k=spec.minnaert_k, overlap=spec.overlap,
                            backplanes=spec.backplanes, images=data)
            for observation, (data, _) in zip(observations, images)
        ]
        result = maps[0] if len(maps) == 1 else mosaic(maps, match_brightness=spec.match_brightness)
    if not result.coverage.any():
        raise GeometryError(
            f"no map cell of the {spec.projection} grid was seen by the camera: check the target "
            f"({body.name}), the kernels' coverage of the image time, or the map centre/extent"
        )
    with stages.stage("colour"):
        stretch = result.fit_stretch(spec.white_balance, spec.stretch, spec.gamma)
        image = result.render(stretch, spec.bits)
        preview = image if spec.bits == 8 else result.render(stretch, 8)
    records = [pointing_record(o) for o in observations]
    files: dict[str, Path] = {}
    if out is not None:
        with stages.stage("write"):
            files = _write(result, Path(out), _stem(raw, spec), image, preview, spec, {
                "products": [p.product_id for p in raw], "pointing": records, "stretch": stretch.to_dict(),
                "reprojection": result.meta, "calibration": [record for _, record in images],
                "io_magnetosphere": context,
            }, images[0][1]["calibration"])
    return ProcessResult(
        map=result, files=files, seconds=stages.seconds,
        framelets=int(sum(p.n_exposures * len(p.filters) for p in raw)),
        pointing=records[0] if len(records) == 1 else {"products": records},
        stretch=stretch, products=[p.product_id for p in raw], io_magnetosphere=context,
        notes=[context_note] if context_note else [],
    )


def io_context_at_mid_times(observations: Sequence[Observation]) -> tuple[list[dict] | None, str | None]:
    """Io's magnetospheric context (``ioflyby.magnetosphere.io_context_summaries``) at each
    observation's mid-time, tagged with the product and the UTC time, when the target is Io
    (kernels loaded); (None, None) for other targets, (None, why) when the kernels lack it."""
    if not observations or observations[0].body.name.upper() != "IO":
        return None, None
    from ioflyby.magnetosphere import io_context_summaries
    from ioflyby.spice import et_to_utc

    ets = np.array([float(np.mean(o.framelet_ets)) for o in observations])
    summaries, note = io_context_summaries(ets)
    if summaries is None:
        return None, note
    return [{"product_id": o.product.product_id, "time_utc": et_to_utc(et), **summary}
            for o, et, summary in zip(observations, ets, summaries)], None


def _stem(raw: Sequence[RawProduct], spec: MapSpec) -> str:
    stem = raw[0].product_id if len(raw) == 1 else f"mosaic_{len(raw)}"
    return f"{stem}_{spec.projection}"


def _write(result: MapProduct, out: Path, stem: str, image: ColourImage, preview: ColourImage, spec: MapSpec,
           record: dict, units: str) -> dict[str, Path]:
    """Colour GeoTIFF and PNG preview (encoded on the other core meanwhile: both release the
    GIL), then the linear channels and backplanes when ``spec`` asks for them, and the
    catalogue labels (drawn on the preview, GeoJSON beside the GeoTIFF); the files appear
    together, or none of them (one :class:`ioflyby.fileio.AtomicFiles` set)."""
    tags = {"PROCESSING": record}
    labels = None
    if spec.labels:
        from ioflyby.volcano.labels import map_labels

        labels = map_labels(result)
        preview = labels.draw(preview)
    with AtomicFiles(), ThreadPoolExecutor(1) as background:
        png = background.submit(contextvars.copy_context().run, result.preview_png,
                                inside(out, f"{stem}_preview.png"), preview)
        files = {"colour": result.write_geotiff(inside(out, f"{stem}.tif"), image, tags), "preview": png.result()}
        if spec.science:
            files["linear"] = result.write_linear_geotiff(inside(out, f"{stem}_linear.tif"), f"linear ({units})")
        if spec.backplanes:
            files["backplanes"] = result.write_backplanes_geotiff(inside(out, f"{stem}_backplanes.tif"))
        if labels is not None:
            files["labels"] = labels.write_geojson(inside(out, f"{stem}_labels.geojson"))
    return files
