"""What a dask worker runs: one task per product (or per perijove group whose pointing is solved
jointly), writing the product's outputs into a staging folder that is renamed to its final name
(``products/<name>-<key>``) only when every file and the record are complete.

SPICE is not thread-safe and its kernel pool is per process: workers run one thread, and each
keeps the kernels of the last metakernel it used loaded (:func:`use_kernels`), so a worker loads a
metakernel once for all the products that need it; the pipeline calls then load nothing more
(``process(..., kernels=[])`` uses the loaded pool).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from ioflyby.batch.inputs import Item
from ioflyby.errors import IoflybyError
from ioflyby.fileio import temporary_name

RECORD = "record.json"
STEPS = ("calibrate", "pointing", "maps", "hotspots")
DEFAULT_STEPS = ("calibrate", "maps", "hotspots")


@dataclass(frozen=True)
class BatchSettings:
    """What each product goes through. ``steps``: a subset of :data:`STEPS` (calibrate: use
    ``calibration_dir`` when given, else decompanding only; pointing: solve it from the limb —
    jointly for a perijove's products when ``joint`` — instead of the CK; maps: ``spec``'s map
    (linear channels always written: the mosaics are built from them); hotspots: the hot-spot
    search at ``threshold_sigma``). ``mosaic_resolution_km``: cell of the global and per-epoch
    mosaics (None: no mosaics)."""

    steps: tuple[str, ...] = DEFAULT_STEPS
    spec: object = None  # ioflyby.processing.MapSpec (imported lazily)
    calibration_dir: Path | None = None
    threshold_sigma: float = 5.0
    pointing_prior: str = "auto"
    joint: bool = True
    accept_degraded: bool = False
    mosaic_resolution_km: float | None = 20.0
    extra: dict = field(default_factory=dict)

    def map_spec(self):
        """The MapSpec used for the maps (linear channels on, calibration as the steps say)."""
        from ioflyby.processing import MapSpec

        spec = self.spec or MapSpec()
        calibration = self.calibration_dir if "calibrate" in self.steps else None
        return replace(spec, science=True, calibration_dir=calibration)

    def to_json(self) -> dict:
        """JSON-ready settings (the part of a product's key that is not its bytes)."""
        from dataclasses import asdict

        from ioflyby import __version__

        spec = asdict(self.map_spec())
        return {"ioflyby": __version__, "steps": sorted(self.steps), "spec": spec,
                "calibration_dir": None if self.calibration_dir is None or "calibrate" not in self.steps
                else str(self.calibration_dir),
                "threshold_sigma": self.threshold_sigma if "hotspots" in self.steps else None,
                "pointing": {"prior": self.pointing_prior, "joint": self.joint, "accept_degraded": self.accept_degraded}
                if "pointing" in self.steps else "kernels", "extra": self.extra}


@dataclass(frozen=True)
class Plan:
    """One product of a task: the item, its key and its final output folder."""

    item: Item
    key: str
    folder: Path


# ---------------------------------------------------------------- kernels, once per worker

_loaded: dict = {"key": None, "kernels": None, "loads": 0}


def use_kernels(paths: tuple[Path, ...]) -> None:
    """Have exactly ``paths`` loaded in this process: nothing to do when they are the ones
    loaded last, else the previous set is unloaded and this one loaded (once per worker and
    metakernel while a worker's tasks share it)."""
    from ioflyby.spice import Kernels

    key = tuple((str(p), os.stat(p).st_mtime_ns if os.path.exists(p) else 0) for p in paths)
    if _loaded["key"] == key:
        return
    if _loaded["kernels"] is not None:
        _loaded["kernels"].unload()
        _loaded.update(key=None, kernels=None)
    kernels = Kernels(list(paths)).load()
    _loaded.update(key=key, kernels=kernels, loads=_loaded["loads"] + 1)


def kernel_loads() -> int:
    """How many times this process has loaded a kernel set for batch tasks."""
    return int(_loaded["loads"])


# ---------------------------------------------------------------- records


def one_line(error: BaseException) -> str:
    """A failure's one-line reason: an IoflybyError's message, else the exception type and text."""
    text = str(error) if isinstance(error, IoflybyError) else f"{type(error).__name__}: {error}"
    line = next((s.strip() for s in text.splitlines() if s.strip()), type(error).__name__)
    return line[:500]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def valid_record(folder: Path, key: str | None = None, check_hashes: bool = False) -> dict | None:
    """The record of a complete output folder (``record.json`` parsed, its key ``key`` when given,
    every output present with its recorded size, and hash when ``check_hashes``), else None."""
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
        if key is not None and record.get("key") != key:
            return None
        for name, info in record["files"].items():
            path = folder / name
            if not path.is_file() or path.stat().st_size != info["size"]:
                return None
            if check_hashes and _sha256(path) != info["sha256"]:
                return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return record


def failure(plan: Plan, reason: str, seconds: float, product_id: str | None = None) -> dict:
    """The result of a product that failed (nothing is written for it)."""
    return {"key": plan.key, "product_id": product_id or plan.item.name, "status": "failed", "reason": reason,
            "input": str(plan.item.path), "kernels": [str(k) for k in plan.item.kernels], "source": plan.item.source,
            "group": plan.item.group, "seconds": {"total": round(seconds, 4)}, "worker": _worker(),
            "finished_utc": _now()}


def _worker() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(), "kernel_loads": kernel_loads()}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def epoch_of(product) -> str:
    """A product's epoch for the per-epoch mosaics: ``pjNN`` (its perijove) or its UTC date."""
    if product.perijove is not None:
        return f"pj{int(product.perijove)}"
    return product.start_time_utc[:10]


# ---------------------------------------------------------------- the task


def run_task(plans: list[Plan], settings: BatchSettings) -> list[dict]:
    """Process ``plans`` (one product, or one perijove group solved jointly) in this worker; one
    result dict per plan, in order: a done product's record, or a failure with its reason. A
    product already complete under its final name (an earlier or a parallel run) is reported
    from its record without being processed again."""
    from ioflyby.ingest import read_product

    results: dict[int, dict] = {}
    raws: dict[int, object] = {}
    started: dict[int, float] = {}
    for index, plan in enumerate(plans):
        started[index] = time.perf_counter()
        existing = valid_record(plan.folder, plan.key)
        if existing is not None:
            results[index] = dict(existing, status="skipped")
            continue
        try:
            use_kernels(plan.item.kernels)
            raws[index] = read_product(plan.item.path)
        except Exception as error:  # noqa: BLE001 - one product's failure must not stop the others
            results[index] = failure(plan, one_line(error), time.perf_counter() - started[index])
    solutions, solve_seconds = _solutions(plans, raws, settings, results, started)
    for index, raw in raws.items():
        if index in results:
            continue
        plan = plans[index]
        try:
            use_kernels(plan.item.kernels)
            results[index] = _product(plan, raw, settings, solutions.get(index), solve_seconds.get(index, 0.0),
                                      started[index])
        except Exception as error:  # noqa: BLE001
            results[index] = failure(plan, one_line(error), time.perf_counter() - started[index], raw.product_id)
    return [results[i] for i in range(len(plans))]


def _solutions(plans, raws, settings: BatchSettings, results: dict, started: dict) -> tuple[dict, dict]:
    """Pointing solutions by plan index when the steps ask for a solve: one joint solve for a
    group (kernels of its first product), else each product's own; failures recorded."""
    if "pointing" not in settings.steps or not raws:
        return {}, {}
    from ioflyby.geometry import Body
    from ioflyby.observation import Observation, solve_pointing
    from ioflyby.pointing import solve_joint

    indices = sorted(raws)
    solutions, seconds = {}, {}
    if settings.joint and len(indices) > 1:
        clock = time.perf_counter()
        try:
            use_kernels(plans[indices[0]].item.kernels)
            joint = solve_joint([raws[i] for i in indices], prior=settings.pointing_prior, align=True)
            share = (time.perf_counter() - clock) / len(indices)
            for i, solution in zip(indices, joint.solutions):
                solutions[i], seconds[i] = solution, share
            return solutions, seconds
        except IoflybyError:
            pass  # each product's own solve below says what is wrong with it
    for i in indices:
        clock = time.perf_counter()
        try:
            use_kernels(plans[i].item.kernels)
            observation = Observation(raws[i], body=Body.from_spice(raws[i].target))
            solutions[i] = solve_pointing(observation, prior=settings.pointing_prior, align=True)
            seconds[i] = time.perf_counter() - clock
        except Exception as error:  # noqa: BLE001
            results[i] = failure(plans[i], one_line(error), time.perf_counter() - started[i], raws[i].product_id)
    return solutions, seconds


def _product(plan: Plan, raw, settings: BatchSettings, solution, solve_seconds: float, began: float) -> dict:
    """Make one product's outputs in a staging folder, write its record last, rename the folder."""
    from ioflyby.geometry import Body
    from ioflyby.processing import process

    plan.folder.parent.mkdir(parents=True, exist_ok=True)
    staging = plan.folder.parent / temporary_name(plan.folder.name)
    staging.mkdir()
    try:
        seconds: dict[str, float] = {"pointing": round(solve_seconds, 4)} if solution is not None else {}
        pointing = "kernels" if solution is None else [solution]
        record: dict = {"map": None, "pointing": {"source": "kernels"}, "hotspots": []}
        if "maps" in settings.steps:
            result = process([raw], [], settings.map_spec(), staging, pointing=pointing,
                             pointing_prior=settings.pointing_prior, accept_degraded=settings.accept_degraded)
            summary = result.to_json()
            seconds.update(summary.pop("seconds"))
            summary["files"] = {kind: path.name for kind, path in result.files.items()}
            summary.pop("outputs")
            record["map"] = summary
            record["pointing"] = summary["pointing"]
        elif solution is not None:
            from ioflyby.observation import Observation
            from ioflyby.processing import pointing_record

            observation = Observation(raw, body=Body.from_spice(raw.target))
            record["pointing"] = pointing_record(observation.with_pointing(solution, settings.accept_degraded))
        if "hotspots" in settings.steps:
            clock = time.perf_counter()
            found = _hot_spots(raw, settings, solution)
            found.write(staging, raw.product_id)
            record["hotspots"] = found.to_json()["detections"]
            seconds["hotspots"] = round(time.perf_counter() - clock, 4)
        body = Body.from_spice(raw.target)
        seconds["total"] = round(time.perf_counter() - began, 4)
        record.update({
            "key": plan.key, "product_id": raw.product_id, "status": "done", "reason": None,
            "input": str(plan.item.path), "kernels": [str(k) for k in plan.item.kernels], "source": plan.item.source,
            "group": plan.item.group, "time_utc": raw.start_time_utc, "stop_time_utc": raw.stop_time_utc,
            "target": raw.target, "perijove": raw.perijove, "epoch": epoch_of(raw),
            "body": {"name": body.name, "naif_id": body.naif_id, "radii_km": [float(r) for r in body.radii_km],
                     "frame": body.frame},
            "seconds": seconds, "worker": _worker(), "finished_utc": _now(), "settings": settings.to_json(),
        })
        record["files"] = {p.name: {"size": p.stat().st_size, "sha256": _sha256(p)}
                           for p in sorted(staging.iterdir()) if p.is_file()}
        (staging / RECORD).write_text(json.dumps(_ready(record), indent=1) + "\n", encoding="utf-8")
        _publish(staging, plan.folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    published = valid_record(plan.folder, plan.key)
    return dict(published or record, status="done")


def _hot_spots(raw, settings: BatchSettings, solution):
    """Hot spots of one product: ``find_hot_spots`` with the CK (the ``hotspots`` verb's call), or
    ``detect_hot_spots`` on the observation with its solved pointing."""
    from ioflyby.volcano.hotspots import HotSpotConfig, detect_hot_spots, find_hot_spots

    config = HotSpotConfig(threshold_sigma=settings.threshold_sigma)
    calibration = settings.calibration_dir if "calibrate" in settings.steps else None
    if solution is None:
        return find_hot_spots([raw], [], "kernels", config, calibration)
    from ioflyby.geometry import Body
    from ioflyby.observation import Observation
    from ioflyby.processing import framelet_images

    observation = Observation(raw, body=Body.from_spice(raw.target)).with_pointing(solution, settings.accept_degraded)
    images, _ = framelet_images(raw, calibration)
    return detect_hot_spots(observation, images, "DN" if calibration is None else "DN/s", config)


def _publish(staging: Path, final: Path) -> None:
    """Rename the complete staging folder to its final name; when another run published the same
    key meanwhile (its folder complete), keep that one and drop this copy."""
    try:
        os.rename(staging, final)
    except OSError:
        if valid_record(final) is None:
            shutil.rmtree(final, ignore_errors=True)  # an incomplete leftover under the final name
            os.rename(staging, final)
        else:
            shutil.rmtree(staging, ignore_errors=True)


def _ready(value):
    """JSON-ready: non-finite floats as None, numpy scalars as numbers, paths as text."""
    import math

    import numpy as np

    if isinstance(value, dict):
        return {str(k): _ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value
