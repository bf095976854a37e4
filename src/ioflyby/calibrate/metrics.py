"""Image-quality figures used to show what calibration did (column striping, vignetting, the
flat-field error seen in framelet overlaps), and the per-pixel line-neighbour ratio
(``line_ratio``) that both the striping figure and the pixel flat (``calibrate.derive``) use.

The figures take ``frames`` = ``[n, 128, 1648]`` framelets of one filter (any linear unit).
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ioflyby.errors import CalibrationError


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


def line_ratio(frame: np.ndarray, lit_min_dn: float, window: int) -> np.ndarray:
    """``frame / mean of lit neighbours along the line`` where the whole window is lit, else NaN."""
    lit = frame > lit_min_dn
    weights = ndimage.uniform_filter1d(lit.astype(np.float64), window, axis=-1, mode="constant")
    sums = ndimage.uniform_filter1d(np.where(lit, frame, 0.0).astype(np.float64), window, axis=-1, mode="constant")
    full = lit & (weights > 1.0 - 0.5 / window)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = frame / (sums / np.maximum(weights, 1e-12))
    return np.where(full, ratio, np.nan)


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


# ---------------------------------------------------------------- framelet overlap (flat-field error)
#
# Consecutive exposures of one filter overlap: the spin moves the scene by ``dy`` ≈ 110-117 lines
# per exposure, so lines ``y`` (top) of framelet n+1 see the same clouds as lines ``y + dy``
# (bottom) of framelet n, at nearly the same sample (``dx`` of a few pixels, varying with sample
# through the optical distortion). One scene point measured at two detector positions gives the
# ratio of the detector response at those positions, whatever the scene: after a correct flat
# field that ratio is 1 at every sample.


@dataclass(frozen=True)
class OverlapShift:
    """Where the top lines of framelet n+1 lie in framelet n: a pixel (line ``y``, sample ``x``)
    of framelet n+1 shows the scene of (``y + dy(x)``, ``x + dx(x)``) of framelet n, with
    ``dy``, ``dx`` (pixels) quadratic polynomials in ``x`` (coefficients highest power first,
    ``numpy.polyval``). Fitted to ``blocks`` registered blocks with ``rms_px`` residual."""

    dy_coeffs: tuple[float, ...]
    dx_coeffs: tuple[float, ...]
    blocks: int
    rms_px: float

    def at(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(dy, dx) in pixels at ``samples``."""
        x = np.asarray(samples, dtype=np.float64)
        return np.polyval(self.dy_coeffs, x), np.polyval(self.dx_coeffs, x)


@dataclass(frozen=True)
class OverlapFlatness:
    """Response ratio between the bottom lines of framelet n and the top lines of framelet n+1
    seeing the same scene, per block of samples.

    ``log_ratio[i]`` = natural log of (framelet n's sum / framelet n+1's sum) over the matched lit
    pixels of block ``i`` (samples ``starts[i]`` .. ``starts[i] + block - 1``), median over
    exposure pairs; ``pairs[i]`` = how many pairs measured block ``i`` (blocks with none are
    left out). ``rms`` = root mean square of ``log_ratio`` about 0 (a perfect flat gives 0; 0.01
    is a 1 % response error), ``mean`` its mean and ``spread`` its standard deviation (the part
    that varies with sample). All dimensionless (natural-log units ≈ fractions)."""

    starts: np.ndarray
    block: int
    log_ratio: np.ndarray
    pairs: np.ndarray

    @property
    def rms(self) -> float:
        return float(np.sqrt(np.mean(self.log_ratio**2))) if self.log_ratio.size else float("nan")

    @property
    def mean(self) -> float:
        return float(np.mean(self.log_ratio)) if self.log_ratio.size else float("nan")

    @property
    def spread(self) -> float:
        return float(np.std(self.log_ratio)) if self.log_ratio.size else float("nan")


def _block_shift(a: np.ndarray, b: np.ndarray, x0: int, width: int, dys: range, max_dx: int) -> tuple[float, float, float]:
    """Best (dy, dx, correlation) with ``b[y, x] ≈ a[y + dy, x + dx]`` over samples x0..x0+width
    of ``a``, by normalised cross-correlation over integer shifts refined by a parabola."""
    n_dx = 2 * max_dx + 1
    grid = np.full((len(dys), n_dx), -np.inf)
    for i, dy in enumerate(dys):
        rows = a.shape[0] - dy
        ref = a[dy:, x0 : x0 + width]
        ref = ref - ref.mean()
        windows = np.lib.stride_tricks.sliding_window_view(b[:rows, x0 - max_dx : x0 + width + max_dx], width, axis=1)
        moving = windows - windows.mean(axis=(0, 2), keepdims=True)
        num = np.einsum("rw,rdw->d", ref, moving)
        den = np.sqrt(np.sum(ref * ref) * np.einsum("rdw,rdw->d", moving, moving)) + 1e-12
        grid[i] = num / den
    i, j = np.unravel_index(int(np.argmax(grid)), grid.shape)
    # column j compares a[., x] with b[., x + j - max_dx], i.e. b[., x'] with a[., x' - (j - max_dx)]
    return dys[i] + _parabola(grid[:, j], i), max_dx - j - _parabola(grid[i, :], j), float(grid[i, j])


def _parabola(values: np.ndarray, k: int) -> float:
    """Sub-sample offset of the peak at ``k`` from a parabola through its neighbours (0 at an edge)."""
    if 0 < k < values.size - 1 and np.all(np.isfinite(values[k - 1 : k + 2])):
        curvature = values[k - 1] - 2.0 * values[k] + values[k + 1]
        if curvature < 0:
            return float(0.5 * (values[k - 1] - values[k + 1]) / curvature)
    return 0.0


def register_overlaps(frames: np.ndarray, lit_min: float, *, dy_range: tuple[int, int] = (96, 124), max_dx: int = 10,
                      block: int = 96, step: int = 48, min_correlation: float = 0.97, min_lit: float = 0.5) -> OverlapShift:
    """Fit the shift between consecutive framelets (``frames`` = ``[n, 128, 1648]``, one filter,
    any linear unit) from the scene itself: every ``block``-sample block (every ``step``) of every
    consecutive pair whose overlap strips are at least ``min_lit`` lit (> ``lit_min``) is
    registered by normalised cross-correlation (``dy`` in ``dy_range`` lines, ``|dx| <= max_dx``);
    blocks correlating above ``min_correlation`` are fitted with quadratics in sample, dropping
    outliers (> 3 robust sigmas, at least 0.3 px) until none is left. Raises CalibrationError if
    fewer than 6 blocks register (too little lit overlap)."""
    data = np.asarray(frames, dtype=np.float64)
    dys = range(dy_range[0], dy_range[1] + 1)
    found: list[tuple[float, float, float]] = []
    for a, b in itertools.pairwise(data):
        for x0 in range(max_dx, data.shape[-1] - block - max_dx, step):
            strip_a, strip_b = a[dys[-1]:, x0 : x0 + block], b[: a.shape[0] - dys[0], x0 : x0 + block]
            if (strip_a > lit_min).mean() < min_lit or (strip_b > lit_min).mean() < min_lit:
                continue
            dy, dx, corr = _block_shift(a, b, x0, block, dys, max_dx)
            if corr >= min_correlation and dys[0] < dy < dys[-1] and abs(dx) < max_dx:
                found.append((x0 + 0.5 * (block - 1), dy, dx))
    return _fit_shift(np.array(found).reshape(-1, 3))


def _fit_shift(found: np.ndarray) -> OverlapShift:
    """Robust quadratic fits of dy(x) and dx(x) to registered blocks ``[x, dy, dx]``."""
    keep = np.ones(len(found), dtype=bool)
    while True:
        if keep.sum() < 6:
            raise CalibrationError(
                f"only {int(keep.sum())} blocks of the framelet overlaps registered (need 6): the product "
                "has too little lit scene where consecutive framelets overlap")
        x = found[keep, 0]
        deg = 2 if np.ptp(x) > 200 else (1 if np.ptp(x) > 50 else 0)
        fits = [np.polyfit(x, found[keep, k], deg) for k in (1, 2)]
        resid = np.hypot(*(found[:, k] - np.polyval(c, found[:, 0]) for k, c in ((1, fits[0]), (2, fits[1]))))
        sigma = 1.4826 * float(np.median(resid[keep]))
        new_keep = resid <= max(3.0 * sigma, 0.3)
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    pad = [np.pad(c, (3 - len(c), 0)) for c in fits]
    return OverlapShift(tuple(map(float, pad[0])), tuple(map(float, pad[1])), int(keep.sum()),
                        float(np.sqrt(np.mean(resid[keep] ** 2))))


@dataclass(frozen=True, eq=False)
class OverlapBlock:
    """The matched lit pixels of one sample block of one consecutive framelet pair.

    Pixel (``line``, ``sample``) of framelet ``pair + 1`` sees the scene of (``src_line``,
    ``src_sample``) of framelet ``pair`` (pixels, detector frame of one filter); ``value_src`` and
    ``value_top`` are the two framelets' values there (framelet n bilinearly interpolated), so
    ``log_ratio`` = ln(sum value_src / sum value_top) (dimensionless). ``start`` is the block's
    first sample."""

    pair: int
    start: int
    log_ratio: float
    line: np.ndarray
    sample: np.ndarray
    src_line: np.ndarray
    src_sample: np.ndarray
    value_src: np.ndarray
    value_top: np.ndarray


def overlap_blocks(frames: np.ndarray, shift: OverlapShift, lit_min: float, *, reference: np.ndarray | None = None,
                   block: int = 32, min_fraction: float = 0.5, erode: int = 2) -> list[OverlapBlock]:
    """Every measured (pair, block) of the framelet overlaps with its matched pixels, for
    ``overlap_flatness`` (which takes the median over pairs) and for fitting a flat to the
    overlaps (``ioflyby.calibrate.derive``). Arguments as for ``overlap_flatness``."""
    data = np.asarray(frames, dtype=np.float64)
    chooser = data if reference is None else np.asarray(reference, dtype=np.float64)
    if chooser.shape != data.shape:
        raise CalibrationError(f"reference framelets {chooser.shape} do not match the framelets {data.shape}")
    n_lines, n_samples = data.shape[-2:]
    samples = np.arange(n_samples, dtype=np.float64)
    dy, dx = shift.at(samples)
    lines = np.arange(n_lines - int(np.floor(dy.min())), dtype=np.float64)[:, None]
    src_line = lines + dy[None, :]
    src_sample = np.broadcast_to(samples[None, :] + dx[None, :], src_line.shape)
    line_grid = np.broadcast_to(lines, src_line.shape)
    sample_grid = np.broadcast_to(samples[None, :], src_line.shape)
    inside = (src_line <= n_lines - 1) & (src_sample >= 0) & (src_sample <= n_samples - 1)
    structure = np.ones((2 * erode + 1, 2 * erode + 1), dtype=bool)
    found: list[OverlapBlock] = []
    for pair in range(data.shape[0] - 1):
        a, b = data[pair], data[pair + 1]
        moved = ndimage.map_coordinates(a, [src_line, src_sample], order=1, mode="nearest")
        top = b[: lines.shape[0]]
        lit_a = ndimage.binary_erosion(chooser[pair] > lit_min, structure, border_value=1)
        lit_moved = ndimage.map_coordinates(lit_a.astype(np.float32), [src_line, src_sample], order=0, mode="nearest") > 0
        lit_top = ndimage.binary_erosion(chooser[pair + 1] > lit_min, structure, border_value=1)[: lines.shape[0]]
        good = inside & lit_moved & lit_top & (moved > 0) & (top > 0)
        for s0 in range(0, n_samples - block + 1, block):
            cols = slice(s0, s0 + block)
            sel = good[:, cols]
            if sel.sum() >= min_fraction * inside[:, cols].sum() and sel.any():
                v_src, v_top = moved[:, cols][sel], top[:, cols][sel]
                found.append(OverlapBlock(pair, s0, float(np.log(v_src.sum() / v_top.sum())),
                                          line_grid[:, cols][sel], sample_grid[:, cols][sel],
                                          src_line[:, cols][sel], src_sample[:, cols][sel], v_src, v_top))
    return found


def overlap_flatness(frames: np.ndarray, shift: OverlapShift, lit_min: float, *, reference: np.ndarray | None = None,
                     block: int = 32, min_fraction: float = 0.5, erode: int = 2) -> OverlapFlatness:
    """Response ratio of the framelet overlaps per ``block`` samples (see OverlapFlatness).

    ``frames`` = ``[n, 128, 1648]`` framelets of one filter in any linear unit with zero at no
    light (ratios of raw DN include the small dark/bias offset); ``shift`` from
    ``register_overlaps`` (fit it once on the raw product and reuse it for the calibrated one, so
    only the calibration differs). Framelet n is sampled at (y + dy, x + dx) by bilinear
    interpolation for every top line y of framelet n+1 that lands inside it; a pixel counts where
    both values exceed ``lit_min`` and so do all its neighbours within ``erode`` pixels (keeps
    the limb's steep edge out); a block of a pair counts where at least ``min_fraction`` of its
    overlap pixels do. Pass ``reference`` (e.g. the raw framelets, with ``lit_min`` in their unit)
    to choose the pixels there, so that two versions of a product are compared on the same pixels."""
    n_pairs = max(np.shape(frames)[0] - 1, 0)
    starts = np.arange(0, np.shape(frames)[-1] - block + 1, block)
    per_pair = np.full((n_pairs, starts.size), np.nan)
    for item in overlap_blocks(frames, shift, lit_min, reference=reference, block=block,
                               min_fraction=min_fraction, erode=erode):
        per_pair[item.pair, item.start // block] = item.log_ratio
    counts = np.sum(np.isfinite(per_pair), axis=0)
    measured = counts > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(per_pair[:, measured], axis=0)
    return OverlapFlatness(starts[measured], block, median, counts[measured])
