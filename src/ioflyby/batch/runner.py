"""The batch client: plan the products (keys, what is already done), run the rest on
dask.distributed, record each result in the catalogue as it arrives, then the reductions.

Resumable and idempotent: a product's outputs appear under ``products/<name>-<key16>`` only
complete (a staging folder renamed, :mod:`ioflyby.batch.tasks`); a run skips every key whose
folder holds a valid record, so killing the client or a worker loses only unfinished products
and the next run does exactly those. One run at a time per output folder (``FolderLock``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ioflyby.batch import catalogue
from ioflyby.batch.inputs import KEY_CHARS, BatchError, Item, discover, item_key, settings_digest
from ioflyby.batch.reduce import MosaicResult, build_mosaics
from ioflyby.batch.tasks import BatchSettings, Plan, run_task, valid_record
from ioflyby.fileio import FolderLock, check_out, clean_stale

PRODUCTS = "products"
WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""Each worker is one process with one thread (SPICE is not thread-safe); its numba and BLAS
kernels use one core, so N workers use N cores."""


@dataclass
class ProductOutcome:
    """One product of a run: ``status`` done (made now), skipped (done before) or failed (with its
    one-line ``reason``); ``outputs``: its files; ``seconds``: its task's wall time (0 when skipped)."""

    product_id: str
    status: str
    reason: str | None
    outputs: list[str]
    seconds: float
    key: str = ""
    folder: Path | None = None

    def to_json(self) -> dict:
        return {"product_id": self.product_id, "status": self.status, "reason": self.reason,
                "outputs": self.outputs, "seconds": self.seconds}


@dataclass
class BatchResult:
    """What a batch run did. ``to_json()`` is ``ioflyby batch --json``: ``products`` (product_id,
    status, reason, outputs, seconds), ``catalogue`` (the SQLite file), ``seconds``; also the
    Parquet tables, the mosaics and the dask dashboard address."""

    products: list[ProductOutcome]
    catalogue: Path
    seconds: float
    parquet: dict[str, Path] = field(default_factory=dict)
    mosaics: list[MosaicResult] = field(default_factory=list)
    dashboard: str | None = None
    workers: int = 0

    def counts(self) -> dict[str, int]:
        return {s: sum(p.status == s for p in self.products) for s in ("done", "skipped", "failed")}

    def to_json(self) -> dict:
        return {"products": [p.to_json() for p in self.products], "catalogue": str(self.catalogue),
                "seconds": round(self.seconds, 3), "parquet": {k: str(v) for k, v in self.parquet.items()},
                "mosaics": [m.to_json() for m in self.mosaics], "dashboard": self.dashboard}


Progress = Callable[[dict[str, int], int], None]


def plan_items(items: Sequence[Item], out: Path, settings: BatchSettings) -> list[Plan]:
    """Each item's key and final folder (``out/products/<name>-<key16>``); one plan per key."""
    digest = settings_digest(settings.to_json())
    plans, seen = [], set()
    for item in items:
        key = item_key(item, digest)
        if key not in seen:
            seen.add(key)
            plans.append(Plan(item, key, out / PRODUCTS / f"{item.name}-{key[:KEY_CHARS]}"))
    return plans


def task_groups(plans: Sequence[Plan], settings: BatchSettings) -> list[list[Plan]]:
    """One task per product, or per perijove group when the pointing is solved jointly; tasks
    ordered by kernels so that a worker keeps one metakernel loaded for many of them."""
    joint = "pointing" in settings.steps and settings.joint
    groups: dict[object, list[Plan]] = {}
    for plan in plans:
        marker = (plan.item.kernels, plan.item.group) if joint and plan.item.group else plan.key
        groups.setdefault(marker, []).append(plan)
    return sorted(groups.values(), key=lambda g: ([str(k) for k in g[0].item.kernels], g[0].item.group or "",
                                                  g[0].item.name))


def _outcome(result: dict, plan: Plan, status: str | None = None) -> ProductOutcome:
    status = status or result["status"]
    files = [] if status == "failed" else [str(plan.folder / name) for name in result.get("files", {})]
    seconds = 0.0 if status == "skipped" else float((result.get("seconds") or {}).get("total") or 0.0)
    return ProductOutcome(result.get("product_id") or plan.item.name, status, result.get("reason"), files,
                          round(seconds, 3), plan.key, None if status == "failed" else plan.folder)


def make_cluster(workers: int | None, dashboard_address: str | None = ":0"):
    """A LocalCluster of ``workers`` processes (default: the CPUs), one thread each, on ports the
    OS chooses."""
    from distributed import LocalCluster

    count = workers or os.cpu_count() or 1
    return LocalCluster(n_workers=count, threads_per_worker=1, processes=True, scheduler_port=0,
                        dashboard_address=dashboard_address, silence_logs=logging.ERROR, env=dict(WORKER_ENV))


def run_batch(
    inputs: Sequence[str | Path],
    out: str | Path,
    kernels: Sequence[str | Path] = (),
    settings: BatchSettings | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    client=None,
    on_progress: Progress | None = None,
    on_start: Callable[[str | None, int], None] | None = None,
    dashboard_address: str | None = ":0",
) -> BatchResult:
    """Process every product of ``inputs`` (see :func:`ioflyby.batch.inputs.discover`) into
    ``out``: on ``client`` (a ``distributed.Client``) when given, else on the scheduler at
    ``scheduler`` (``tcp://host:port``), else on a LocalCluster of ``workers`` processes.
    ``on_progress(counts, total)`` is called as each product ends; ``on_start(dashboard, workers)``
    once the cluster is up."""
    began = time.perf_counter()
    settings = settings or BatchSettings()
    unknown = set(settings.steps) - {"calibrate", "pointing", "maps", "hotspots"}
    if unknown or not settings.steps:
        raise BatchError(f"--steps {','.join(settings.steps)}: use a comma-separated subset of "
                         "calibrate,pointing,maps,hotspots")
    out = check_out(out).absolute()
    items = discover(inputs, kernels)
    lock = FolderLock(out).acquire()
    try:
        clean_stale(out)
        (out / PRODUCTS).mkdir(exist_ok=True)
        clean_stale(out / PRODUCTS)
        plans = plan_items(items, out, settings)
        connection = catalogue.connect(out)
        try:
            outcomes, records, dashboard, n_workers = _run(plans, settings, connection, workers, scheduler, client,
                                                           on_progress, on_start, dashboard_address)
        finally:
            connection.close()
        mosaics = []
        if settings.mosaic_resolution_km and "maps" in settings.steps and records:
            mosaics = build_mosaics(records, out, settings.mosaic_resolution_km)
        parquet = catalogue.write_parquet(out)
    finally:
        lock.release()
    return BatchResult(outcomes, out / catalogue.CATALOGUE, time.perf_counter() - began, parquet, mosaics,
                       dashboard, n_workers)


def _run(plans, settings, connection, workers, scheduler, client, on_progress, on_start, dashboard_address):
    """Skip what is done, run the rest, record every result; returns the outcomes (in plan order),
    the done records with their folders (for the reductions), the dashboard address and the workers."""
    outcome: dict[str, ProductOutcome] = {}
    records: dict[str, tuple[dict, Path]] = {}
    counts = {"done": 0, "skipped": 0, "failed": 0}
    todo = []
    for plan in plans:
        existing = valid_record(plan.folder, plan.key)
        if existing is None:
            todo.append(plan)
            continue
        catalogue.record(connection, existing, plan.folder)
        outcome[plan.key] = _outcome(existing, plan, "skipped")
        records[plan.key] = (existing, plan.folder)
        counts["skipped"] += 1
    report = on_progress or (lambda _counts, _total: None)
    report(dict(counts), len(plans))
    dashboard, n_workers = None, 0
    if todo:
        with _client(client, scheduler, workers, dashboard_address) as active:
            dashboard = getattr(active, "dashboard_link", None)
            n_workers = len(active.scheduler_info().get("workers", {}))
            if on_start:
                on_start(dashboard, n_workers)
            for plan, result in _execute(active, task_groups(todo, settings), settings):
                status = "skipped" if result.get("status") == "skipped" else result["status"]
                catalogue.record(connection, result, plan.folder if status != "failed" else None)
                outcome[plan.key] = _outcome(result, plan, status)
                if status != "failed":
                    records[plan.key] = (result, plan.folder)
                counts[status] += 1
                report(dict(counts), len(plans))
            _remove_leftovers(todo[0].folder.parent, set(active.run(os.getpid).values()))
    ordered = [outcome[p.key] for p in plans]
    done_records = [records[p.key] for p in plans if p.key in records]
    return ordered, done_records, dashboard, n_workers


def _remove_leftovers(products: Path, live_pids: set[int]) -> None:
    """After every task has ended: staging folders of processes other than this run's workers
    (workers killed midway, also when the system has not reaped them yet) are garbage."""
    import re
    import shutil

    from ioflyby.fileio import is_temporary

    for entry in products.iterdir():
        match = re.search(r"\.(\d+)-[0-9a-f]{8}\.tmp$", entry.name)
        if is_temporary(entry.name) and match and int(match.group(1)) not in live_pids | {os.getpid()}:
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)


def _execute(client, groups: list[list[Plan]], settings: BatchSettings):
    """Submit one task per group; yield (plan, result) as tasks end. A task that raised (its
    worker died more often than the scheduler allows, or a bug) fails its products with the reason."""
    from distributed import as_completed

    from ioflyby.batch.tasks import one_line

    futures = {}
    for group in groups:
        key = f"ioflyby-batch-{group[0].item.name}-{group[0].key[:KEY_CHARS]}"
        future = client.submit(run_task, group, settings, key=key, pure=False)
        futures[future] = group
    for future in as_completed(list(futures)):
        group = futures[future]
        try:
            results = future.result()
        except Exception as error:  # noqa: BLE001 - a lost task fails its products, not the run
            reason = one_line(error)
            results = [{"key": p.key, "product_id": p.item.name, "status": "failed", "reason": reason,
                        "input": str(p.item.path), "source": p.item.source, "seconds": {}} for p in group]
        for plan, result in zip(group, results):
            yield plan, result
        future.release()


class _client:
    """The dask client to use: the given one (left open), one connected to ``scheduler``, or one
    on a new LocalCluster (both closed at the end)."""

    def __init__(self, client, scheduler, workers, dashboard_address):
        self.given, self.scheduler, self.workers, self.dashboard = client, scheduler, workers, dashboard_address
        self.cluster = self.client = None

    def __enter__(self):
        if self.given is not None:
            return self.given
        from distributed import Client

        if self.scheduler:
            try:
                self.client = Client(self.scheduler, timeout="20s")
            except (OSError, TimeoutError) as error:
                raise BatchError(f"--scheduler {self.scheduler}: cannot connect ({error}); start it with "
                                 "'dask scheduler' and give its tcp://HOST:PORT") from None
            return self.client
        self.cluster = make_cluster(self.workers, self.dashboard)
        self.client = Client(self.cluster)
        return self.client

    def __exit__(self, *exc_info):
        if self.client is not None and self.given is None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
