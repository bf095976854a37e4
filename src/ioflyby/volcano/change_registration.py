"""Local registration of two maps of the same region: a smooth displacement field from tiles.

Two global mosaics built on different control networks are misaligned by different amounts in
different places (the USGS Galileo–Voyager mosaic against the later photomosaic: ~7–9 km on
average, ~20 km locally), which no single shift or rotation removes. Method:

1. Both maps are reduced by whole ``factor`` (block mean) and cut into tiles of ``tile`` cells
   every ``step`` cells (reduced cells). Per tile, phase correlation (Kuglin & Hines 1975) in one
   batched FFT: mean removed, Hann taper, the cross-power spectrum whitened and weighted by a
   Gaussian low-pass (which shapes the correlation peak as a Gaussian, so that the three-point
   Gaussian fit gives its sub-cell position) and a high-pass that removes shading.
2. A tile is used where it is fully valid, textured, and its peak stands out (peak / RMS of the
   correlation surface ≥ :data:`MIN_PEAK_RATIO`); tiles farther than max(1 cell, 3 × the robust
   spread) from the median of their 3 × 3 neighbours are outliers (a real change, a seam, a
   repeated pattern) and dropped.
3. The accepted shifts are interpolated and smoothed by normalised convolution (a Gaussian of
   ``smooth_tiles`` tile steps over the accepted tiles, divided by the same Gaussian of their
   weights; wrapping in longitude for a global map): a smooth field defined everywhere.
4. The field is evaluated at every cell by separable linear interpolation (a small matrix
   product along rows, two weights per column) and the after map is warped onto the before map
   bilinearly, no data spreading to its neighbours: :func:`warp_field` (a compiled loop that
   evaluates the field cell by cell) or :func:`warp` (``scipy.ndimage.map_coordinates`` on a
   dense field; the same values).

Sign convention: the displacement (dy, dx) in cells is where a feature at (row, col) of the
before map is found in the after map: ``after(row + dy, col + dx) ≈ before(row, col)``; +x is
along columns (east on an equirectangular map), +y along rows (south).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import fft, ndimage

MIN_PEAK_RATIO = 7.0
"""A tile's correlation peak must stand this many RMS above its correlation surface."""
MIN_VALID_FRACTION = 0.98
MIN_TEXTURE_FRACTION = 0.25
"""A tile's detail (std of the high-passed tile) must reach this fraction of the median tile's."""


@dataclass
class DisplacementField:
    """Displacement (cells of the full map) on a regular grid of tile centres.

    ``rows``/``cols``: the centres' full-map coordinates (cells); ``dy``/``dx``: the smoothed
    field there [ny, nx]; ``raw_dy``/``raw_dx``: the tiles' own shifts (NaN where not used);
    ``accepted``: tiles used; ``measured``: tiles with enough data and texture to be measured.
    """

    rows: np.ndarray
    cols: np.ndarray
    dy: np.ndarray
    dx: np.ndarray
    raw_dy: np.ndarray
    raw_dx: np.ndarray
    accepted: np.ndarray
    measured: int
    wrap: bool

    def stats(self) -> dict:
        """Magnitudes of the field (cells) and the tiles' scatter about it."""
        mag = np.hypot(self.dy, self.dx)
        ok = self.accepted
        resid = np.hypot(self.raw_dy - self.dy, self.raw_dx - self.dx)[ok]
        return {
            "tiles_measured": int(self.measured), "tiles_used": int(ok.sum()),
            "field_mean_px": float(mag.mean()), "field_p95_px": float(np.percentile(mag, 95)),
            "field_max_px": float(mag.max()),
            "tile_scatter_rms_px": float(np.sqrt(np.mean(resid**2))) if resid.size else float("nan"),
        }

    def dense(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(dy, dx) at every cell of a map of ``shape`` (float32; linear between tile centres,
        constant beyond the outer ones, periodic in columns for a global map)."""
        wr = _linear_weights(np.arange(shape[0], dtype=np.float64), self.rows, False, shape[0])
        wc = _linear_weights(np.arange(shape[1], dtype=np.float64), self.cols, self.wrap, shape[1])
        return ((wr @ self.dy.astype(np.float32)) @ wc.T, (wr @ self.dx.astype(np.float32)) @ wc.T)

    def separable(self, shape: tuple[int, int]) -> tuple[np.ndarray, ...]:
        """The field of :meth:`dense` in separable form: (dy, dx) interpolated along rows
        [H, nodes] (float32), and per column its two nodes and their weights (left, right,
        w_left, w_right): dy[i, j] = rows_dy[i, left[j]]·w_left[j] + rows_dy[i, right[j]]·w_right[j]."""
        wr = _linear_weights(np.arange(shape[0], dtype=np.float64), self.rows, False, shape[0])
        left, right, w_left, w_right = _linear_nodes(np.arange(shape[1], dtype=np.float64), self.cols, self.wrap,
                                                     shape[1])
        return wr @ self.dy.astype(np.float32), wr @ self.dx.astype(np.float32), left, right, w_left, w_right


def _linear_nodes(x: np.ndarray, nodes: np.ndarray, periodic: bool,
                  period: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per x, the two nodes between which it is linearly interpolated and their
    weights (left, right, w_left, w_right; float32 weights)."""
    n = len(nodes)
    if n == 1:
        zero = np.zeros(len(x), np.int64)
        return zero, zero, np.ones(len(x), np.float32), np.zeros(len(x), np.float32)
    if periodic:
        ext = np.concatenate([[nodes[-1] - period], nodes, [nodes[0] + period]])
        k = np.clip(np.searchsorted(ext, x, side="right") - 1, 0, n)
        t = (x - ext[k]) / (ext[k + 1] - ext[k])
        left, right = (k - 1) % n, k % n
    else:
        k = np.clip(np.searchsorted(nodes, x, side="right") - 1, 0, n - 2)
        t = np.clip((x - nodes[k]) / (nodes[k + 1] - nodes[k]), 0.0, 1.0)
        left, right = k, k + 1
    return left, right, (1.0 - t).astype(np.float32), t.astype(np.float32)


def _linear_weights(x: np.ndarray, nodes: np.ndarray, periodic: bool, period: int) -> np.ndarray:
    """Matrix [len(x), len(nodes)] of linear-interpolation weights (nodes increasing)."""
    left, right, w_left, w_right = _linear_nodes(x, nodes, periodic, period)
    weights = np.zeros((len(x), len(nodes)), np.float32)
    index = np.arange(len(x))
    np.add.at(weights, (index, left), w_left)
    np.add.at(weights, (index, right), w_right)
    return weights


def reduce(values: np.ndarray, factor: int) -> np.ndarray:
    """Block mean over ``factor`` × ``factor`` cells (float32; the ragged edge dropped)."""
    if factor <= 1:
        return values.astype(np.float32, copy=values.dtype == bool)
    h, w = values.shape[0] // factor * factor, values.shape[1] // factor * factor
    total = np.zeros((h // factor, w // factor), np.float32)
    for i in range(factor):
        for j in range(factor):
            total += values[i:h:factor, j:w:factor]
    total *= np.float32(1.0 / factor**2)
    return total


def _band_weight(tile: int) -> np.ndarray:
    """Weight of the whitened cross-power spectrum over rfft2 frequencies: high-pass above 2
    cycles per tile, Gaussian low-pass (σ = 0.18 cycles/cell)."""
    fy = np.fft.fftfreq(tile)[:, None]
    fx = np.fft.rfftfreq(tile)[None, :]
    f = np.hypot(fy, fx)
    return (np.exp(-0.5 * (f / 0.18) ** 2) * (1.0 - np.exp(-0.5 * (f * tile / 2.0) ** 2))).astype(np.float32)


def _gauss_peak(minus: np.ndarray, centre: np.ndarray, plus: np.ndarray) -> np.ndarray:
    """Sub-cell offset of a peak from three samples (Gaussian fit; parabolic where not positive)."""
    lm, lc, lp = (np.log(np.maximum(v, 1e-12)) for v in (minus, centre, plus))
    gauss_den = lm - 2 * lc + lp
    par_den = minus - 2 * centre + plus
    positive = (minus > 0) & (plus > 0) & (centre > 0) & (gauss_den < 0)
    offset = np.where(positive, 0.5 * (lm - lp) / np.where(gauss_den == 0, -1, gauss_den),
                      0.5 * (minus - plus) / np.where(par_den == 0, -1, par_den))
    return np.clip(offset, -0.5, 0.5)


def tile_shifts(before: np.ndarray, after: np.ndarray, valid: np.ndarray, tile: int = 64, step: int = 32,
                batch: int = 512) -> tuple[np.ndarray, ...]:
    """Phase-correlation shift of every tile (see the module docstring), on maps already reduced.

    Returns (row0, col0, dy, dx, peak_ratio, measurable) with row0/col0 the tiles' upper-left
    corners (1-D) and the others [ny, nx]; dy/dx in cells of the given maps.
    """
    h, w = before.shape
    row0 = np.arange(0, h - tile + 1, step)
    col0 = np.arange(0, w - tile + 1, step)
    ny, nx = len(row0), len(col0)
    dy = np.full((ny, nx), np.nan, np.float32)
    dx = np.full((ny, nx), np.nan, np.float32)
    ratio = np.zeros((ny, nx), np.float32)
    if ny == 0 or nx == 0:
        return row0, col0, dy, dx, ratio, np.zeros((ny, nx), bool)
    view = np.lib.stride_tricks.sliding_window_view
    vfrac = view(valid.astype(np.float32), (tile, tile))[::step, ::step].mean(axis=(2, 3))
    detail_a = before - ndimage.uniform_filter(before, 9, mode="nearest")
    texture = view(detail_a, (tile, tile))[::step, ::step].std(axis=(2, 3))
    usable = vfrac >= MIN_VALID_FRACTION
    measurable = usable & (texture >= MIN_TEXTURE_FRACTION * float(np.median(texture[usable]))) if usable.any() \
        else usable
    taper = np.outer(np.hanning(tile), np.hanning(tile)).astype(np.float32)
    weight = _band_weight(tile)
    ta, tb = view(before, (tile, tile))[::step, ::step], view(after, (tile, tile))[::step, ::step]
    where = np.argwhere(measurable)
    for start in range(0, len(where), batch):
        idx = where[start:start + batch]
        a = ta[idx[:, 0], idx[:, 1]].astype(np.float32)
        b = tb[idx[:, 0], idx[:, 1]].astype(np.float32)
        a = (a - a.mean(axis=(1, 2), keepdims=True)) * taper
        b = (b - b.mean(axis=(1, 2), keepdims=True)) * taper
        cross = np.conj(fft.rfft2(a)) * fft.rfft2(b)  # single precision (numpy.fft would use double)
        cross *= weight / np.maximum(np.abs(cross), 1e-12)
        surface = fft.irfft2(cross, s=(tile, tile)).astype(np.float32, copy=False)
        flat = surface.reshape(len(idx), -1)
        peak = flat.argmax(axis=1)
        py, px = np.divmod(peak, tile)
        k = np.arange(len(idx))
        centre = surface[k, py, px]
        oy = _gauss_peak(surface[k, (py - 1) % tile, px], centre, surface[k, (py + 1) % tile, px])
        ox = _gauss_peak(surface[k, py, (px - 1) % tile], centre, surface[k, py, (px + 1) % tile])
        sy = (py + tile // 2) % tile - tile // 2 + oy
        sx = (px + tile // 2) % tile - tile // 2 + ox
        rms = np.sqrt(np.mean(flat.astype(np.float64) ** 2, axis=1))
        dy[idx[:, 0], idx[:, 1]] = sy
        dx[idx[:, 0], idx[:, 1]] = sx
        ratio[idx[:, 0], idx[:, 1]] = centre / np.maximum(rms, 1e-12)
    return row0, col0, dy, dx, ratio, measurable


def _neighbour_median(values: np.ndarray, ok: np.ndarray, wrap: bool) -> np.ndarray:
    """Median of the accepted 3 × 3 neighbours (centre excluded) of each tile (NaN where none)."""
    padded = np.pad(np.where(ok, values, np.nan), 1, mode="constant", constant_values=np.nan)
    if wrap:
        padded[1:-1, 0], padded[1:-1, -1] = padded[1:-1, -2], padded[1:-1, 1]
    stack = [padded[1 + i: padded.shape[0] - 1 + i, 1 + j: padded.shape[1] - 1 + j]
             for i in (-1, 0, 1) for j in (-1, 0, 1) if (i, j) != (0, 0)]
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmedian(np.stack(stack), axis=0)


def _normalised_convolution(values: np.ndarray, ok: np.ndarray, sigma: float, wrap: bool) -> np.ndarray:
    """Gaussian-weighted mean of the accepted values about every node; wider where too few."""
    mode = ("nearest", "wrap" if wrap else "nearest")
    out = np.full(values.shape, np.nan, np.float64)
    v = np.where(ok, values, 0.0).astype(np.float64)
    w = ok.astype(np.float64)
    fallback = float(np.median(values[ok])) if ok.any() else 0.0
    for scale in (1.0, 2.0, 4.0, 8.0):
        num = ndimage.gaussian_filter(v, sigma * scale, mode=mode)
        den = ndimage.gaussian_filter(w, sigma * scale, mode=mode)
        fill = np.isnan(out) & (den > 0.05)
        out[fill] = num[fill] / den[fill]
        if not np.isnan(out).any():
            break
    return np.where(np.isnan(out), fallback, out)


def displacement_field(before: np.ndarray, after: np.ndarray, valid: np.ndarray, wrap: bool, factor: int = 1,
                       tile: int = 64, step: int = 32, smooth_tiles: float = 1.0) -> DisplacementField:
    """The smooth displacement field of ``after`` relative to ``before`` (module docstring);
    ``factor``: the reduction before the tiles are cut (cells of the full maps per tile cell)."""
    a, b = reduce(before, factor), reduce(after, factor)
    ok_cells = reduce(valid, factor) >= 0.999
    row0, col0, dy, dx, ratio, measurable = tile_shifts(a, b, ok_cells, tile, step)
    dy, dx = dy * factor, dx * factor
    accepted = measurable & (ratio >= MIN_PEAK_RATIO) & (np.abs(dy) < tile * factor / 3) & (
        np.abs(dx) < tile * factor / 3)
    for _ in range(2):
        my, mx = _neighbour_median(dy, accepted, wrap), _neighbour_median(dx, accepted, wrap)
        dev = np.hypot(dy - my, dx - mx)
        finite = accepted & np.isfinite(dev)
        spread = 1.4826 * float(np.median(dev[finite])) if finite.any() else 0.0
        accepted &= ~(np.isfinite(dev) & (dev > max(1.0 * factor, 3.0 * spread)))
    # tile centres in full-map cells: a reduced cell p spans full cells p*f .. p*f+f-1
    rows = (row0 + (tile - 1) / 2.0) * factor + (factor - 1) / 2.0
    cols = (col0 + (tile - 1) / 2.0) * factor + (factor - 1) / 2.0
    sy = _normalised_convolution(dy, accepted, smooth_tiles, wrap)
    sx = _normalised_convolution(dx, accepted, smooth_tiles, wrap)
    raw_dy, raw_dx = np.where(accepted, dy, np.nan), np.where(accepted, dx, np.nan)
    return DisplacementField(rows, cols, sy, sx, raw_dy, raw_dx, accepted, int(measurable.sum()), wrap)


def warp(values: np.ndarray, dy: np.ndarray, dx: np.ndarray, wrap: bool, rows_per_chunk: int = 512) -> np.ndarray:
    """``values`` resampled at (row + dy, col + dx) (bilinear; NaN spreads to its neighbours),
    chunked by rows to bound memory; periodic in columns for a global map."""
    h, w = values.shape
    out = np.empty((h, w), np.float32)
    cols = np.arange(w, dtype=np.float32)[None, :]
    source = values.astype(np.float32, copy=False)
    if wrap:  # two columns of the other edge on each side make the interpolation periodic
        source = np.concatenate([source[:, -2:], source, source[:, :2]], axis=1)
    for r0 in range(0, h, rows_per_chunk):
        r1 = min(r0 + rows_per_chunk, h)
        rr = np.arange(r0, r1, dtype=np.float32)[:, None] + dy[r0:r1]
        cc = cols + dx[r0:r1]
        if wrap:
            cc = np.mod(cc, w) + 2.0
        ndimage.map_coordinates(source, [rr, cc], output=out[r0:r1], order=1, mode="nearest", prefilter=False)
    return out


def warp_field(values: np.ndarray, field: DisplacementField, wrap: bool, valid: np.ndarray | None = None) -> np.ndarray:
    """``values`` resampled at (row + dy, col + dx) of ``field`` (what :func:`warp` does with
    ``field.dense``), the field evaluated cell by cell in a compiled loop: bilinear, no data (NaN,
    or outside ``valid``) spreading to its neighbours as NaN, clamped at the borders, periodic in
    columns for a global map."""
    from ioflyby.volcano.change_kernels import warp_field as kernel

    out = np.empty(values.shape, np.float32)
    valid = np.ones((1, 1), bool) if valid is None else valid
    kernel(np.ascontiguousarray(values, np.float32), valid, wrap, *field.separable(values.shape), out)
    return out


def field_summary(field: DisplacementField, cell_km: float) -> dict:
    """JSON record of a displacement field (cells and km)."""
    stats = field.stats()
    record = dict(stats)
    for key in ("field_mean_px", "field_p95_px", "field_max_px", "tile_scatter_rms_px"):
        record[key.replace("_px", "_km")] = stats[key] * cell_km if math.isfinite(stats[key]) else stats[key]
    return record
