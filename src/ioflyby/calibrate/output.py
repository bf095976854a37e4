"""Write a CalibratedProduct: one float32 TIFF per filter plus the calibration record (JSON)."""

from __future__ import annotations

import errno
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ioflyby.calibrate.pipeline import CalibratedProduct
from ioflyby.errors import CalibrationError
from ioflyby.fileio import AtomicFiles, check_out, inside
from ioflyby.ingest.product import thaw


def write_tiffs_and_record(
    tiffs: Sequence[tuple[Path, np.ndarray, str | None]], record_path: Path, record: dict, what: str
) -> list[Path]:
    """Write TIFFs ``(path, array, description or None)`` and a JSON record, all or nothing
    (temporary names renamed together); a failure raises CalibrationError naming ``what``."""
    import tifffile

    written: list[Path] = []
    try:
        with AtomicFiles() as files:
            for final, array, description in tiffs:
                options = {"description": description, "metadata": None} if description else {}
                tifffile.imwrite(files.path(final), array, **options)
                written.append(final)
            files.path(record_path).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
            written.append(record_path)
    except OSError as exc:
        raise CalibrationError(f"{record_path.parent}: cannot write {what} ({exc.strerror or exc}"
                               f"{'; free some space' if exc.errno == errno.ENOSPC else ''})") from None
    return written


def write_calibrated(result: CalibratedProduct, out_dir: str | Path) -> list[Path]:
    """Write ``<PRODUCT_ID>_<FILTER>_cal.tif`` (float32, exposures stacked along lines:
    ``exposures x 128`` lines x 1648 samples, in ``result.units``) per filter and
    ``<PRODUCT_ID>_calibration.json`` (the record) into ``out_dir``. Files are written to
    temporary names and renamed only when all are complete."""
    out = check_out(out_dir)
    product = result.product
    tiffs = []
    for f_index, filt in enumerate(product.filters):
        image = np.ascontiguousarray(result.data[:, f_index].reshape(-1, result.data.shape[-1]), dtype=np.float32)
        description = json.dumps({"product_id": product.product_id, "filter": filt, "units": result.units,
                                  "exposures": product.n_exposures, "framelet_lines": 128})
        tiffs.append((inside(out, f"{product.product_id}_{filt}_cal.tif"), image, description))
    return write_tiffs_and_record(
        tiffs, inside(out, f"{product.product_id}_calibration.json"), thaw(result.record), "calibrated product"
    )
