"""Radiometric calibration of a RawProduct: dark, flat, bad pixels, DN/s.

Steps, per filter, in this order (each one recorded, or recorded as skipped with the reason):

1. **decompand** stored values to linear 12-bit DN (SAMPLE_BIT_MODE_ID).
2. **dark**: subtract ``k * D``. A published dark need not be in the product's DN (see
   docs/conventions.md, "Calibration: measurements behind the design"), so ``k`` is fitted by
   least squares (``fit_dark_scale``) of a background image (``low_half_mean``: per-pixel mean of
   the lower half of the exposures) against ``D`` on dark-sky pixels. Pass ``dark_scale`` to fix
   ``k`` instead.
3. **flat**: divide by the large-scale flat (vignetting) and the pixel flat, each normalised to
   median 1; pixels where a flat is below 0.2 of its median become bad pixels.
4. **bad pixels**: mask file (nonzero = bad) plus *hot pixels* detected in the product
   (pixels whose background image stands above its 5 x 5 neighbourhood median by more
   than ``hot_sigma`` robust sigmas and ``hot_min_dn``); repaired by normalised-convolution
   inpainting from the valid neighbours in the same framelet.
5. **scale** to DN/s: divide by EXPOSURE_DURATION (= TDI stages x the 3.2 ms line time), so
   products with different TDI compare directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from ioflyby.calibrate.frames import (
    CalibrationFile,
    load_for_filter,
    scan_directory,
    select_file,
)
from ioflyby.errors import CalibrationError
from ioflyby.ingest.product import RawProduct, freeze

STEPS: tuple[str, ...] = ("dark", "flat", "pixelflat", "mask", "hot")
FLAT_FLOOR = 0.2
UNITS = "DN/s (linear 12-bit DN / EXPOSURE_DURATION; EXPOSURE_DURATION = TDI stages x 3.2 ms)"


@dataclass(frozen=True, eq=False)
class CalibratedProduct:
    """Calibrated framelets ``[exposure, filter, 128, 1648]`` float32 in ``units`` (read-only),
    the bad-pixel mask ``[filter, 128, 1648]`` that was repaired, and what was applied."""

    product: RawProduct
    data: np.ndarray
    bad_pixels: np.ndarray
    record: Mapping[str, Any]
    units: str = UNITS
    extras: Mapping[str, Any] = field(default_factory=dict)


def normalised(frame: np.ndarray) -> np.ndarray:
    """``frame`` divided by the median of its positive finite values (float64)."""
    good = frame[np.isfinite(frame) & (frame > 0)]
    if good.size == 0:
        raise CalibrationError("flat frame has no positive values")
    return frame / float(np.median(good))


def low_half_mean(frames: np.ndarray) -> np.ndarray:
    """Per-pixel mean of the lower half of the values over exposures (at least one): a background
    image that rejects the moving scene and stars but averages away companding steps."""
    count = max(1, frames.shape[0] // 2)
    return np.sort(frames, axis=0)[:count].mean(axis=0, dtype=np.float64)


def fit_dark_scale(background: np.ndarray, dark: np.ndarray, sky_margin_dn: float = 20.0) -> tuple[float, float, int]:
    """Least-squares ``background ~ b + k * dark`` on dark-sky pixels -> (k >= 0, b, pixels used).

    Dark sky = where the 9 x 9 median of ``background`` is within ``sky_margin_dn`` of its 5th
    percentile (isolated hot pixels stay in the fit; the lit scene does not)."""
    smooth = ndimage.median_filter(background, size=9, mode="nearest")
    sky = smooth <= np.percentile(smooth, 5) + sky_margin_dn
    x = dark[sky].astype(np.float64)
    y = background[sky].astype(np.float64)
    if x.size < 1000 or np.var(x) <= 0:
        return 0.0, float(np.mean(y)) if y.size else 0.0, int(x.size)
    k = float(np.cov(x, y, bias=True)[0, 1] / np.var(x))
    k = max(k, 0.0)
    return k, float(np.mean(y) - k * np.mean(x)), int(x.size)


def detect_hot_pixels(background: np.ndarray, sigma: float = 6.0, min_dn: float = 4.0) -> np.ndarray:
    """Boolean mask of pixels standing above their 5 x 5 median in a background image (the
    per-pixel low-half mean over exposures: a pixel must be high in most exposures, so a hot
    pixel, not a star or a moving limb)."""
    residual = background - ndimage.median_filter(background, size=5, mode="nearest")
    mad = float(np.median(np.abs(residual - np.median(residual))))
    threshold = max(sigma * 1.4826 * mad, min_dn)
    return residual > threshold


def inpaint(frames: np.ndarray, bad: np.ndarray, max_iterations: int = 64) -> np.ndarray:
    """Fill ``bad`` pixels of each frame ``[n, rows, cols]`` from valid neighbours (normalised
    convolution with a 3 x 3 box, repeated until holes are filled); returns a new array. The box
    is applied as two 3-sample running means (the same ratio as the 3 x 3 sum)."""
    out = frames.astype(np.float32, copy=True)
    if not bad.any():
        return out

    def box(values: np.ndarray) -> np.ndarray:
        rows = ndimage.uniform_filter1d(values, 3, axis=-2, mode="nearest")
        return ndimage.uniform_filter1d(rows, 3, axis=-1, mode="nearest")

    valid = (~np.asarray(bad)).astype(np.float32)  # one mask for every frame
    out = np.where(valid > 0, out, 0.0).astype(np.float32)
    for _ in range(max_iterations):
        holes = valid == 0
        if not holes.any():
            break
        weight = box(valid)
        fill = holes & (weight > 0)
        total = box(out * valid)
        out = np.where(fill, total / np.maximum(weight, 1e-12), out).astype(np.float32)
        valid = np.where(fill, 1.0, valid).astype(np.float32)
    return out


def _selected(files: list[CalibrationFile], kind: str, filt: str, pj: int | None, skip: set[str]) -> CalibrationFile | None:
    return None if kind in skip else select_file(files, kind, filt, pj)


def calibrate_product(
    product: RawProduct,
    calibration_dir: str | Path,
    *,
    skip: Iterable[str] = (),
    dark_scale: float | None = None,
    hot_sigma: float = 6.0,
    hot_min_dn: float = 4.0,
) -> CalibratedProduct:
    """Calibrate ``product`` with frames from ``calibration_dir`` chosen by its perijove.

    ``skip`` names steps to leave out (``dark``, ``flat``, ``pixelflat``, ``mask``, ``hot``).
    Returns DN/s; ``record`` says which file, perijove and parameters each step used.
    """
    skip_set = {s.strip().lower() for s in skip if s.strip()}
    unknown = skip_set - set(STEPS)
    if unknown:
        raise CalibrationError(f"unknown step(s) to skip: {sorted(unknown)} (steps: {', '.join(STEPS)})")
    calibration_dir = Path(calibration_dir)
    files, ignored = scan_directory(calibration_dir)
    dn = product.decompanded()
    n_filt = dn.shape[1]
    out = np.empty(dn.shape, dtype=np.float32)
    bad_all = np.zeros((n_filt, *dn.shape[2:]), dtype=bool)
    exposure_s = product.exposure_ms / 1e3
    per_filter: dict[str, Any] = {}
    for f_index, filt in enumerate(product.filters):
        frames = dn[:, f_index].astype(np.float32)
        rec: dict[str, Any] = {}
        dark_file = _selected(files, "dark", filt, product.perijove, skip_set)
        if dark_file is not None:
            dark = load_for_filter(dark_file, filt)
            if dark_scale is None:
                k, offset, used = fit_dark_scale(low_half_mean(frames), dark)
                how = f"fitted on {used} dark-sky pixels"
            else:
                k, offset, used, how = float(dark_scale), 0.0, 0, "given"
            frames = frames - np.float32(k) * dark.astype(np.float32)
            rec["dark"] = {"file": str(dark_file.path), "perijove": dark_file.perijove, "scale": k,
                           "scale_source": how, "sky_offset_dn": offset}
        else:
            rec["dark"] = {"applied": False, "reason": "skipped" if "dark" in skip_set else f"no dark for {filt}"}
        bad = np.zeros(frames.shape[1:], dtype=bool)
        for kind in ("flat", "pixelflat"):
            flat_file = _selected(files, kind, filt, product.perijove, skip_set)
            if flat_file is None:
                rec[kind] = {"applied": False, "reason": "skipped" if kind in skip_set else f"no {kind} for {filt}"}
                continue
            flat = normalised(load_for_filter(flat_file, filt))
            low = ~(flat >= FLAT_FLOOR)
            bad |= low
            frames = frames / np.where(low, 1.0, flat).astype(np.float32)
            rec[kind] = {"file": str(flat_file.path), "perijove": flat_file.perijove,
                         "min": float(flat[~low].min()), "max": float(flat[~low].max()), "pixels_below_floor": int(low.sum())}
        mask_file = _selected(files, "mask", filt, product.perijove, skip_set)
        if mask_file is not None:
            mask = load_for_filter(mask_file, filt) != 0
            bad |= mask
            rec["mask"] = {"file": str(mask_file.path), "perijove": mask_file.perijove, "bad_pixels": int(mask.sum())}
        else:
            rec["mask"] = {"applied": False, "reason": "skipped" if "mask" in skip_set else f"no mask for {filt}"}
        if "hot" not in skip_set:
            hot = detect_hot_pixels(low_half_mean(frames), hot_sigma, hot_min_dn) & ~bad
            bad |= hot
            rec["hot"] = {"detected": int(hot.sum()), "sigma": hot_sigma, "min_dn": hot_min_dn}
        else:
            rec["hot"] = {"applied": False, "reason": "skipped"}
        frames = inpaint(frames, bad)
        rec["inpainted_pixels_per_framelet"] = int(bad.sum())
        out[:, f_index] = frames / np.float32(exposure_s)
        bad_all[f_index] = bad
        per_filter[filt] = rec
    out.flags.writeable = False
    bad_all.flags.writeable = False
    record = {
        "product_id": product.product_id,
        "perijove": product.perijove,
        "calibration_dir": str(calibration_dir),
        "companding": product.companding,
        "exposure_ms": product.exposure_ms,
        "tdi_stages": product.tdi_stages,
        "units": UNITS,
        "steps_order": ["decompand", "dark", "flat", "pixelflat", "mask+hot inpaint", "divide by exposure"],
        "skipped_steps": sorted(skip_set),
        "filters": per_filter,
        "ignored_files": [str(p) for p in ignored],
    }
    return CalibratedProduct(product=product, data=out, bad_pixels=bad_all, record=freeze(record))
