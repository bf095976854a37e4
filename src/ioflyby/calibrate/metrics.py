"""Image-quality figures used to show what calibration did (column striping, vignetting).

All take ``frames`` = ``[n, 128, 1648]`` framelets of one filter (any linear unit).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import ndimage

from ioflyby.calibrate.derive import line_ratio


def column_striping(frames: np.ndarray, columns: slice = slice(900, 1600), clip_percentile: float = 99.0,
                    trend_window: int = 51) -> float:
    """Std of the column means of a dark-sky region after removing a smooth trend (same unit as
    ``frames``): mean over all framelets and lines of each column, pixels above the
    ``clip_percentile`` (stars, hot pixels) left out, trend = running median of ``trend_window``."""
    region = np.asarray(frames, dtype=np.float64)[..., columns]
    cap = np.percentile(region, clip_percentile)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(np.where(region <= cap, region, np.nan), axis=tuple(range(region.ndim - 1)))
    trend = ndimage.median_filter(means, trend_window, mode="nearest")
    return float(np.nanstd(means - trend))


def lit_column_striping(frames: np.ndarray, lit_min: float, window: int = 15, min_count: int = 300) -> float:
    """Relative column striping in lit scene: std over columns of the mean ratio of each lit pixel
    to its line neighbours (``window`` samples), using columns lit in at least ``min_count`` lines."""
    data = np.asarray(frames, dtype=np.float64).reshape(-1, np.shape(frames)[-1])
    ratio = line_ratio(data, lit_min, window)
    count = np.sum(np.isfinite(ratio), axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        col = np.nanmean(ratio, axis=0)
    ok = count >= min_count
    return float(np.std(col[ok])) if ok.any() else float("nan")


def vignetting_ratio(frames: np.ndarray, lit_min: float, edge: slice, centre: slice) -> float:
    """Mean brightness of lit pixels in the ``edge`` columns over that in the ``centre`` columns.

    On a real scene this mixes vignetting with the scene itself; compare before/after on the
    same framelets, where only the calibration differs."""
    data = np.asarray(frames, dtype=np.float64)
    lit = data > lit_min

    def band(cols: slice) -> float:
        values = data[..., cols][lit[..., cols]]
        return float(values.mean()) if values.size else float("nan")

    return band(edge) / band(centre)
