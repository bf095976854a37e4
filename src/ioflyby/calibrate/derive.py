"""Derive a *pixel flat* (pixel-to-pixel and column-to-column response) from many raw products.

Method, per filter: in every framelet, each lit pixel (linear DN above ``lit_min_dn``) is divided
by the mean of its lit neighbours along the same line (``window`` samples, the pixel included);
the per-pixel median of these ratios over all framelets of all products is the pixel flat.
Because the scene differs between framelets while the detector does not, scene texture
averages out and fixed-pattern structure (column striping, dust, weak pixels) remains.
Structure broader than ``window`` (vignetting) is *not* measured: keep a large-scale flat for
that. Pixels lit in fewer than ``min_count`` framelets get 1 and are reported in the coverage.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from ioflyby.errors import CalibrationError
from ioflyby.fileio import AtomicFiles
from ioflyby.ingest.product import RawProduct


@dataclass(frozen=True, eq=False)
class DerivedFlat:
    """A pixel flat per filter (median 1 over covered pixels) and how many framelets covered each pixel."""

    flats: dict[str, np.ndarray]
    coverage: dict[str, np.ndarray]
    perijove: int | None
    products: tuple[str, ...]


def line_ratio(frame: np.ndarray, lit_min_dn: float, window: int) -> np.ndarray:
    """``frame / mean of lit neighbours along the line`` where the whole window is lit, else NaN."""
    lit = frame > lit_min_dn
    weights = ndimage.uniform_filter1d(lit.astype(np.float64), window, axis=-1, mode="constant")
    sums = ndimage.uniform_filter1d(np.where(lit, frame, 0.0).astype(np.float64), window, axis=-1, mode="constant")
    full = lit & (weights > 1.0 - 0.5 / window)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = frame / (sums / np.maximum(weights, 1e-12))
    return np.where(full, ratio, np.nan)


def derive_pixel_flat(
    products: Sequence[RawProduct], *, lit_min_dn: float = 100.0, window: int = 15, min_count: int = 5
) -> DerivedFlat:
    """Pixel flat per filter from the lit framelets of ``products`` (see module docstring)."""
    if not products:
        raise CalibrationError("derive-flat needs at least one product")
    if window < 3 or window % 2 == 0:
        raise CalibrationError(f"window must be an odd number >= 3, got {window}")
    ratios: dict[str, list[np.ndarray]] = {}
    for product in products:
        dn = product.decompanded()
        for f_index, filt in enumerate(product.filters):
            for frame in dn[:, f_index]:
                ratios.setdefault(filt, []).append(line_ratio(frame.astype(np.float64), lit_min_dn, window).astype(np.float32))
    flats: dict[str, np.ndarray] = {}
    coverage: dict[str, np.ndarray] = {}
    for filt, stack_list in ratios.items():
        stack = np.stack(stack_list)
        count = np.sum(np.isfinite(stack), axis=0)
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                median = np.nanmedian(stack, axis=0)
        covered = count >= min_count
        if not covered.any():
            raise CalibrationError(
                f"no pixel of {filt} is lit (> {lit_min_dn} DN) in {min_count} framelets; "
                "use more or brighter products, or lower --lit-min-dn"
            )
        flat = np.where(covered, median, np.nan)
        flat = flat / float(np.nanmedian(flat))
        flats[filt] = np.where(covered, flat, 1.0).astype(np.float32)
        coverage[filt] = count.astype(np.uint16)
    pjs = [p.perijove for p in products if p.perijove is not None]
    return DerivedFlat(flats, coverage, max(pjs) if pjs else None, tuple(p.product_id for p in products))


def write_derived_flat(result: DerivedFlat, out_dir: str | Path) -> list[Path]:
    """Write ``pixelflat[_pjNN]_<filter>.tif`` (float32), ``coverage[_pjNN]_<filter>.tif`` (uint16)
    and ``pixelflat[_pjNN].json`` into ``out_dir`` (temporary names, renamed when all are written).
    The names are what ``ioflyby calibrate --calibration`` recognises."""
    import tifffile

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tag = f"_pj{result.perijove:02d}" if result.perijove is not None else ""
    written: list[Path] = []
    summary = {"method": "median over framelets of pixel / mean of lit line neighbours", "perijove": result.perijove,
               "products": list(result.products), "filters": {}}
    try:
        with AtomicFiles() as files:
            for filt, flat in result.flats.items():
                name = filt.lower()
                for final, array in ((out / f"pixelflat{tag}_{name}.tif", flat), (out / f"coverage{tag}_{name}.tif", result.coverage[filt])):
                    tifffile.imwrite(files.path(final), array)
                    written.append(final)
                covered = result.coverage[filt] > 0
                summary["filters"][filt] = {"covered_pixels": int(covered.sum()), "min": float(flat.min()), "max": float(flat.max())}
            final = out / f"pixelflat{tag}.json"
            files.path(final).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
            written.append(final)
    except OSError as exc:
        raise CalibrationError(f"{out}: cannot write derived flat ({exc.strerror or exc})") from None
    return written
