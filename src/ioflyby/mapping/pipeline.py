"""``process``: raw products → map products, stage by stage, each stage timed.

Stages (``seconds`` keys): read (ingest), calibrate (decompanding, or the full calibration
when a calibration folder is given), geometry (kernels, camera model, per-framelet poses from the
pluggable pose source), reproject (per product, then the mosaic), colour (white balance,
stretch), write (GeoTIFFs, PNG).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ioflyby.camera import JunoCam
from ioflyby.errors import GeometryError
from ioflyby.geometry import target_radii
from ioflyby.ingest import RawProduct, read_product
from ioflyby.mapping import colour, export
from ioflyby.mapping.crs import body_crs
from ioflyby.mapping.grid import (
    MapGrid,
    equirectangular_grid,
    orthographic_grid,
    perspective_grid,
    polar_grid,
)
from ioflyby.mapping.mosaic import mosaic
from ioflyby.mapping.poses import PoseSolution, PoseSource, kernel_poses
from ioflyby.mapping.reproject import Framelets, MapProduct, reproject
from ioflyby.spice import KernelSet, body_id

BACKPLANE_DESCRIPTIONS = {
    "lat": "planetocentric latitude (deg)",
    "lon_east": "east-positive longitude (deg)",
    "incidence": "incidence angle (deg)",
    "emission": "emission angle (deg)",
    "phase": "phase angle (deg)",
    "km_per_px": "source pixel footprint perpendicular to the line of sight (km)",
    "time": "observation time (ET, s past J2000 TDB)",
}


PROJECTIONS = ("equirectangular", "orthographic", "polar", "perspective")


@dataclass
class ProcessOptions:
    """Options of :func:`process_products` (angles in degrees, lengths in km)."""

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
    stretch: tuple[float, float] = (0.5, 99.8)
    gamma: float = 1.0
    bits: int = 16
    backplanes: bool = False
    science: bool = False
    calibration_dir: Path | None = None
    match_brightness: bool = True
    extra: dict = field(default_factory=dict)


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def stage(self, name: str):
        timer = self

        class _Stage:
            def __enter__(self):
                self.start = time.perf_counter()

            def __exit__(self, *exc):
                timer.seconds[name] = timer.seconds.get(name, 0.0) + time.perf_counter() - self.start

        return _Stage()


def framelet_images(product: RawProduct, calibration_dir: Path | None) -> tuple[np.ndarray, dict]:
    """Linear framelets [exposure, filter, 128, 1648] float32 and a record of what was done."""
    if calibration_dir is None:
        return product.decompanded(), {"calibration": "decompanded only (linear 12-bit DN)"}
    from ioflyby.calibrate import calibrate_product

    result = calibrate_product(product, calibration_dir)
    return np.asarray(result.data), {"calibration": result.units, "calibration_dir": str(calibration_dir)}


def sub_observer(solution: PoseSolution) -> tuple[float, float, float]:
    """Planetocentric lat, east lon (deg) and distance from the centre (km) of the spacecraft
    at the middle framelet (body-fixed, centre light time)."""
    row = solution.poses[len(solution.poses) // 2]
    observer = row[len(row) // 2].observer_km
    distance = float(np.linalg.norm(observer))
    return (math.degrees(math.asin(observer[2] / distance)), math.degrees(math.atan2(observer[1], observer[0])), distance)


def build_grid(options: ProcessOptions, naif_id: int, target: str, radii: np.ndarray, solution: PoseSolution) -> MapGrid:
    """The map grid the options ask for; defaults come from the mid-image spacecraft position."""
    body = body_crs(naif_id, target, radii)
    sub_lat, sub_lon, distance = sub_observer(solution)
    lat = sub_lat if options.lat is None else options.lat
    lon = sub_lon if options.lon is None else options.lon
    size = {"resolution_km": options.resolution_km, "width": options.width}
    if options.projection == "equirectangular":
        return equirectangular_grid(body, options.lat_range or (-90.0, 90.0), options.lon_range, **size)
    if options.projection == "orthographic":
        return orthographic_grid(body, lat, lon, **size)
    if options.projection == "polar":
        north = options.north if options.north is not None else lat >= 0
        return polar_grid(body, north, options.edge_lat, 0.0, **size)
    if options.projection == "perspective":
        altitude = options.altitude_km if options.altitude_km is not None else distance - body.radius_m / 1000.0
        return perspective_grid(body, lat, lon, altitude, **size)
    raise GeometryError(f"unknown projection {options.projection!r}: use {', '.join(PROJECTIONS)}")


def _framelets(product: RawProduct, images: np.ndarray, solution: PoseSolution) -> Framelets:
    n_exp, n_filt = images.shape[:2]
    if len(solution.poses) != n_exp or any(len(row) != n_filt for row in solution.poses):
        raise GeometryError(f"pose source returned poses that do not match {product.product_id} ({n_exp} x {n_filt} framelets)")
    return Framelets(
        images=images.reshape(n_exp * n_filt, *images.shape[2:]),
        channel=np.tile(np.arange(n_filt), n_exp),
        channel_names=tuple(product.filters),
        poses=[p for row in solution.poses for p in row],
        filters=list(product.filters) * n_exp,
    )


def process_products(
    paths: Sequence[str | Path],
    kernels: Sequence[str | Path],
    out_dir: str | Path,
    options: ProcessOptions | None = None,
    pose_source: PoseSource = kernel_poses,
    camera_factory: Callable[[], JunoCam] = JunoCam.from_kernel_pool,
    on_stage: Callable[[str], None] | None = None,
    products: Sequence[RawProduct] | None = None,
) -> dict:
    """Run the stages on ``paths`` (or already-read ``products``) and write map products into
    ``out_dir``. Returns ``{"outputs", "seconds", "framelets", "pointing", "grid", ...}``."""
    options = options or ProcessOptions()
    if options.projection not in PROJECTIONS:
        raise GeometryError(f"unknown projection {options.projection!r}: use {', '.join(PROJECTIONS)}")
    timer = _Timer()
    notify = on_stage or (lambda _name: None)
    out_dir = Path(out_dir)
    notify("read")
    with timer.stage("read"):
        raw = list(products) if products is not None else [read_product(p) for p in paths]
    if not raw:
        raise GeometryError("no product to process")
    notify("calibrate")
    with timer.stage("calibrate"):
        images = [framelet_images(p, options.calibration_dir) for p in raw]
    notify("geometry")
    with timer.stage("geometry"), KernelSet(list(kernels)):
        target = (options.target or raw[0].target).upper()
        camera = camera_factory()
        naif_id = body_id(target)
        radii = target_radii(target)
        solutions = [pose_source(p, camera, target) for p in raw]
        grid = build_grid(options, naif_id, target, radii, solutions[0])
    maps: list[MapProduct] = []
    notify("reproject")
    with timer.stage("reproject"):
        for product, (data, _), solution in zip(raw, images, solutions):
            maps.append(reproject(
                _framelets(product, data, solution), camera, radii, grid, photometry=options.photometry,
                minnaert_k=options.minnaert_k, overlap=options.overlap, backplanes=options.backplanes,
            ))
        result = maps[0] if len(maps) == 1 else mosaic(maps, match_brightness=options.match_brightness)
    if not result.coverage.any():
        raise GeometryError(
            f"no map cell of the {options.projection} grid was seen by the camera: check the target "
            f"({target}), the kernels' coverage of the image time, or the map centre/extent"
        )
    notify("colour")
    with timer.stage("colour"):
        lit = result.coverage & (result.backplanes["incidence"] < 90.0)  # NaN (unseen) compares False
        stretch = colour.fit_stretch(result.channels, lit if lit.any() else result.coverage, options.white_balance,
                                     options.stretch, options.gamma)
        bands, alpha, names = colour.render(result.channels, stretch, options.bits)
        if options.bits == 8:
            bands8, alpha8 = bands, alpha
        else:
            bands8, alpha8, _ = colour.render(result.channels, stretch, 8)
    notify("write")
    stem = raw[0].product_id if len(raw) == 1 else f"mosaic_{len(raw)}"
    stem = f"{stem}_{options.projection}"
    record = {
        "products": [p.product_id for p in raw], "pointing": [s.pointing for s in solutions],
        "stretch": stretch.to_dict(), "reprojection": result.meta, "calibration": [r for _, r in images],
    }
    outputs: list[Path] = []
    with timer.stage("write"), ThreadPoolExecutor(1) as background:
        # The preview is encoded on the other core while the GeoTIFF is written (both release the GIL).
        preview = background.submit(export.write_png, out_dir / f"{stem}_preview.png", bands8, alpha8)
        outputs.append(export.write_colour_geotiff(out_dir / f"{stem}.tif", grid, bands, alpha, names, target, {"PROCESSING": record}))
        outputs.append(preview.result())
        if options.science:
            descriptions = {n: f"JunoCam {n}, linear ({images[0][1]['calibration']})" for n in result.channels}
            outputs.append(export.write_float_geotiff(out_dir / f"{stem}_linear.tif", grid, result.channels, descriptions, target))
        if options.backplanes:
            outputs.append(export.write_float_geotiff(out_dir / f"{stem}_backplanes.tif", grid, result.backplanes,
                                                      BACKPLANE_DESCRIPTIONS, target))
    pointing = solutions[0].pointing if len(solutions) == 1 else {"products": [s.pointing for s in solutions]}
    return {
        "outputs": [str(p) for p in outputs],
        "seconds": {k: round(v, 4) for k, v in timer.seconds.items()},
        "framelets": int(sum(p.n_exposures * len(p.filters) for p in raw)),
        "pointing": pointing,
        "target": target,
        "grid": grid.describe(),
        "stretch": stretch.to_dict(),
        "coverage_fraction": float(result.coverage.mean()),
        "mosaic": result.meta if len(maps) > 1 else None,
    }
