"""``ioflyby render``: raw products → a full-resolution colour view for people, with its record.

:func:`render` reads the products, builds their observations (poses from the CK, or the pointing
solved from the limb), reconstructs the chosen view (:mod:`ioflyby.render.core`), enhances it
(:mod:`ioflyby.render.enhance`) and writes 16-bit PNG/TIFF, 8-bit PNG/JPEG with a caption strip
and a JSON sidecar (:mod:`ioflyby.render.output`), all atomically inside ``out``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import spiceypy

from ioflyby.errors import GeometryError
from ioflyby.fileio import AtomicFiles, check_out, inside
from ioflyby.geometry import Body
from ioflyby.ingest import RawProduct, read_product
from ioflyby.observation import Observation
from ioflyby.processing import observation_with_poses
from ioflyby.render import output
from ioflyby.render.core import Reconstruction, reconstruct
from ioflyby.render.enhance import NIGHT, PRESETS, enhance
from ioflyby.render.view import VIEWS, View, map_view, spacecraft_view
from ioflyby.spice import Kernels

STAGES = ("read", "geometry", "reconstruct", "enhance", "write")
FORMATS = ("png16", "tiff16", "png8", "jpeg")


@dataclass(frozen=True)
class RenderOptions:
    """What to render: the view (``spacecraft``, ``orthographic``, ``perspective``; ``lat``/``lon``
    degrees east, ``altitude_km`` for perspective; defaults from the spacecraft's position),
    ``size`` (width, height) or None for full resolution, the enhancement preset, night-side
    rendering, illumination flattening, pose source (``kernels`` or ``solve``) and formats."""

    view: str = "spacecraft"
    lat: float | None = None
    lon: float | None = None
    altitude_km: float | None = None
    size: tuple[int, int] | None = None
    enhance: str = "gill"
    night: str = "black"
    flatten: bool = False
    pointing: str = "kernels"
    formats: tuple[str, ...] = FORMATS

    def check(self) -> None:
        if self.view not in VIEWS:
            raise GeometryError(f"unknown view {self.view!r}: use one of {', '.join(VIEWS)}")
        if self.enhance not in PRESETS:
            raise GeometryError(f"unknown enhancement {self.enhance!r}: use one of {', '.join(PRESETS)}")
        if self.night not in NIGHT:
            raise GeometryError(f"unknown night-side rendering {self.night!r}: use one of {', '.join(NIGHT)}")
        if self.pointing not in ("kernels", "solve"):
            raise GeometryError(f"unknown pose source {self.pointing!r}: use kernels or solve")
        bad = [f for f in self.formats if f not in FORMATS]
        if bad:
            raise GeometryError(f"unknown output format(s) {', '.join(bad)}: use {', '.join(FORMATS)}")


@dataclass
class RenderResult:
    """What :func:`render` made: files by kind, the view, the record of every step, timings.
    ``to_json()`` is the ``ioflyby render --json`` contract."""

    files: dict[str, Path]
    view: dict
    record: dict
    seconds: dict[str, float]
    products: list[str]
    reconstruction: Reconstruction | None = field(default=None, repr=False)
    image: np.ndarray | None = field(default=None, repr=False)

    def to_json(self) -> dict:
        return {"outputs": {k: str(v) for k, v in self.files.items()}, "products": self.products,
                "view": self.view, "seconds": {k: round(v, 4) for k, v in self.seconds.items()},
                "record": self.record}


def build_view(options: RenderOptions, observation: Observation) -> View:
    """The view ``options`` ask for, defaults from ``observation``'s middle framelet."""
    poses = observation.poses
    middle = len(poses) // 2
    if options.view == "spacecraft":
        focal = observation.camera.filter(observation.product.filters[0]).focal_length_px
        return spacecraft_view(observation.body, poses.observer_km[middle], focal, options.size)
    sub = observation.sub_observer
    lat = sub.lat if options.lat is None else options.lat
    lon = sub.lon if options.lon is None else options.lon
    radius = float(np.mean(observation.body.radii_km))
    altitude = options.altitude_km if options.altitude_km is not None else sub.distance_km - radius
    if options.size is None:
        km = (sub.distance_km - radius) / observation.camera.filter(observation.product.filters[0]).focal_length_px
        width = int(min(8192, max(256, np.ceil(2.0 * radius / km * 1.02))))
    else:
        width = max(options.size)
    return map_view(options.view, observation.body, lat, lon, altitude, width)


def caption_for(observations: Sequence[Observation], view: View) -> output.Caption:
    """The caption strip's text of a render of ``observations`` into ``view`` (kernels loaded)."""
    first = observations[0]
    middle = len(first.poses) // 2
    et = float(first.poses.et[middle])
    title = first.product.product_id if len(observations) == 1 else f"{first.product.product_id} + {len(observations) - 1} more"
    observer = first.poses.observer_km[middle]
    return output.Caption(title=f"{title} · {first.body.name} · {view.kind} view",
                          time_utc=spiceypy.et2utc(et, "ISOC", 0) + " UTC", range_km=float(np.linalg.norm(observer)),
                          km_per_px=view.km_per_px, north_deg=view.north_angle_deg())


def observations_of(products: Sequence[RawProduct], pointing: str) -> list[Observation]:
    """Observations of ``products`` with poses (kernels loaded): from the CK, or solved."""
    body = Body.from_spice(products[0].target)
    return [observation_with_poses(product, body, pointing) for product in products]


def render(products: Sequence[RawProduct | str | Path], kernels: Sequence[str | Path] | str | Path,
           out: str | Path | None, options: RenderOptions | None = None,
           on_stage: Callable[[str], None] | None = None) -> RenderResult:
    """Render ``products`` into one view and write it into ``out`` (None: in memory only)."""
    options = options or RenderOptions()
    options.check()
    kernels = [kernels] if isinstance(kernels, (str, Path)) else list(kernels)
    if out is not None:
        check_out(out)
    seconds: dict[str, float] = {}
    announce = on_stage or (lambda _name: None)

    def stage(name: str) -> float:
        announce(name)
        return time.perf_counter()

    began = stage("read")
    raw = [p if isinstance(p, RawProduct) else read_product(p) for p in products]
    if not raw:
        raise GeometryError("no product to render")
    seconds["read"] = time.perf_counter() - began
    began = stage("geometry")
    with Kernels(kernels):
        observations = observations_of(raw, options.pointing)
        view = build_view(options, observations[0])
        caption = caption_for(observations, view)
    seconds["geometry"] = time.perf_counter() - began
    began = stage("reconstruct")
    rec = reconstruct(observations, view)
    if not rec.valid.any():
        raise GeometryError("no pixel of the view was seen by every channel: check the kernels' coverage of the "
                            "image time, or choose another view (--view, --lat, --lon)")
    seconds["reconstruct"] = time.perf_counter() - began
    began = stage("enhance")
    image, steps = enhance(rec, options.enhance, options.night, options.flatten)
    seconds["enhance"] = time.perf_counter() - began
    record = {"software": "ioflyby render", "options": _options_json(options), "reconstruction": rec.record,
              "enhancement": steps,
              "caption": {"title": caption.title, "time_utc": caption.time_utc, "range_km": caption.range_km,
                          "km_per_px": caption.km_per_px, "north_deg_clockwise_from_up": caption.north_deg}}
    files: dict[str, Path] = {}
    if out is not None:
        began = stage("write")
        stem = (raw[0].product_id if len(raw) == 1 else f"mosaic_{len(raw)}") + f"_{view.kind}_{options.enhance}"
        files = write_outputs(Path(out), stem, image, record, caption, options.formats)
        seconds["write"] = time.perf_counter() - began
    return RenderResult(files, view.describe(), record, seconds, [p.product_id for p in raw], rec, image)


def write_outputs(out: Path, stem: str, image: np.ndarray, record: dict, caption: output.Caption,
                  formats: Sequence[str] = FORMATS) -> dict[str, Path]:
    """Write the image in ``formats`` and the JSON sidecar, atomically, inside ``out``."""
    import json

    files: dict[str, Path] = {}
    with AtomicFiles() as staged:
        if "png16" in formats:
            files["png16"] = inside(out, f"{stem}_16bit.png")
            output.write_png16(staged.path(files["png16"]), image, record)
        if "tiff16" in formats:
            files["tiff16"] = inside(out, f"{stem}_16bit.tif")
            output.write_tiff16(staged.path(files["tiff16"]), image, record)
        shared = output.with_caption(output.to_uint8(image), caption) if {"png8", "jpeg"} & set(formats) else None
        if "png8" in formats:
            files["png8"] = inside(out, f"{stem}.png")
            output.write_png8(staged.path(files["png8"]), shared, record)
        if "jpeg" in formats:
            files["jpeg"] = inside(out, f"{stem}.jpg")
            output.write_jpeg(staged.path(files["jpeg"]), shared, record)
        files["sidecar"] = inside(out, f"{stem}.json")
        staged.path(files["sidecar"]).write_text(json.dumps(record, indent=2, default=_json_default), encoding="utf-8")
    return files


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _options_json(options: RenderOptions) -> dict:
    return {"view": options.view, "lat_deg": options.lat, "lon_east_deg": options.lon,
            "altitude_km": options.altitude_km, "size": list(options.size) if options.size else None,
            "enhance": options.enhance, "night": options.night, "flatten": options.flatten,
            "pointing": options.pointing}
