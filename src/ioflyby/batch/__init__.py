"""Whole archives on dask.distributed: ``ioflyby batch`` (docs/batch.md).

Inputs (:mod:`~ioflyby.batch.inputs`): a folder of products, a manifest, or simulated archives;
per-product tasks on workers (:mod:`~ioflyby.batch.tasks`), resumable and idempotent (outputs
under a key of content and settings); the results catalogue in SQLite and Parquet
(:mod:`~ioflyby.batch.catalogue`); streaming mosaics (:mod:`~ioflyby.batch.reduce`); the client
(:mod:`~ioflyby.batch.runner`).
"""

from ioflyby.batch.catalogue import read_tables
from ioflyby.batch.inputs import BatchError, Item, discover
from ioflyby.batch.reduce import MosaicResult, stream_mosaic
from ioflyby.batch.runner import BatchResult, ProductOutcome, make_cluster, run_batch
from ioflyby.batch.tasks import DEFAULT_STEPS, STEPS, BatchSettings

__all__ = [
    "DEFAULT_STEPS",
    "STEPS",
    "BatchError",
    "BatchResult",
    "BatchSettings",
    "Item",
    "MosaicResult",
    "ProductOutcome",
    "discover",
    "make_cluster",
    "read_tables",
    "run_batch",
    "stream_mosaic",
]
