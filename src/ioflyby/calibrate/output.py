"""Write a CalibratedProduct: one float32 TIFF per filter plus the calibration record (JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ioflyby.calibrate.pipeline import CalibratedProduct
from ioflyby.errors import CalibrationError
from ioflyby.fileio import AtomicFiles
from ioflyby.ingest.product import thaw


def write_calibrated(result: CalibratedProduct, out_dir: str | Path) -> list[Path]:
    """Write ``<PRODUCT_ID>_<FILTER>_cal.tif`` (float32, exposures stacked along lines:
    ``exposures x 128`` lines x 1648 samples, in ``result.units``) per filter and
    ``<PRODUCT_ID>_calibration.json`` (the record) into ``out_dir``. Files are written to
    temporary names and renamed only when all are complete."""
    import tifffile

    out = Path(out_dir)
    product = result.product
    record = thaw(result.record)
    written: list[Path] = []
    try:
        with AtomicFiles() as files:
            for f_index, filt in enumerate(product.filters):
                final = out / f"{product.product_id}_{filt}_cal.tif"
                image = np.ascontiguousarray(result.data[:, f_index].reshape(-1, result.data.shape[-1]), dtype=np.float32)
                description = json.dumps({"product_id": product.product_id, "filter": filt, "units": result.units,
                                          "exposures": product.n_exposures, "framelet_lines": 128})
                tifffile.imwrite(files.path(final), image, description=description, metadata=None)
                written.append(final)
            final = out / f"{product.product_id}_calibration.json"
            files.path(final).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
            written.append(final)
    except OSError as exc:
        raise CalibrationError(f"{out}: cannot write calibrated product ({exc.strerror or exc})") from None
    return written
