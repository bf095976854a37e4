"""Compiled kernels of change detection (:mod:`ioflyby.volcano.change`): one pass over a map each,
no full-map temporaries.

The maps are float32 [H, W] with H and W whole multiples of :data:`BLOCK` where block statistics
are taken (``change._padded``); block arrays are [H/BLOCK, W/BLOCK]. Per-cell values of a block
array are its bilinear interpolation between block centres, constant beyond the outer ones,
rows first, then columns, in float32 (the arithmetic of ``change._Blocks.full``). Units are those
of the maps (grey levels); cells are grid cells.
"""

from __future__ import annotations

import math

import numpy as np

from ioflyby._numba import jit

BLOCK = 8


@jit()
def _row_interp(blocks: np.ndarray, i: int, out: np.ndarray) -> None:
    """Block values interpolated to cell row ``i`` (one value per block column) into ``out``."""
    hb = blocks.shape[0]
    r = (i + 0.5) / BLOCK - 0.5
    r = min(max(r, 0.0), hb - 1.0)
    i0 = int(math.floor(r))
    i1 = min(i0 + 1, hb - 1)
    t = np.float32(r - i0)
    for j in range(blocks.shape[1]):
        first = np.float32(blocks[i0, j])
        out[j] = first + (np.float32(blocks[i1, j]) - first) * t


@jit()
def _full_row(small: np.ndarray, out: np.ndarray) -> None:
    """A row of block values (from :func:`_row_interp`) interpolated to every cell of the row:
    cell k of block j lies at j + (k + 0.5)/BLOCK − 0.5, between blocks j − 1 and j (first half of
    the block) or j and j + 1 (second half)."""
    wb = small.shape[0]
    w = out.shape[0]
    for jb in range(wb):
        mid = small[jb]
        lo = small[max(jb - 1, 0)]
        hi = small[min(jb + 1, wb - 1)]
        for k in range(BLOCK):
            j = jb * BLOCK + k
            if j >= w:
                break
            t = np.float32((k + 0.5) / BLOCK - 0.5)
            out[j] = mid + (mid - lo) * t if k < BLOCK // 2 else mid + (hi - mid) * t


@jit()
def _interp_row(blocks: np.ndarray, i: int, small: np.ndarray, out: np.ndarray) -> None:
    """``blocks`` interpolated to every cell of cell row ``i`` (``small``: scratch, one per block column)."""
    _row_interp(blocks, i, small)
    _full_row(small, out)


@jit()
def block_full(blocks: np.ndarray, stride: int, out: np.ndarray) -> None:
    """``out``[i, j] = ``blocks`` interpolated to the cell (i·stride, j·stride)."""
    small = np.empty(blocks.shape[1], np.float32)
    row = np.empty(blocks.shape[1] * BLOCK, np.float32)
    for i in range(out.shape[0]):
        _interp_row(blocks, i * stride, small, row)
        for j in range(out.shape[1]):
            out[i, j] = row[j * stride]


@jit()
def block_moments(a: np.ndarray, b: np.ndarray, valid: np.ndarray, z: np.ndarray, z_limit: float,
                  out: np.ndarray) -> None:
    """Per block the sums (count, Σa, Σb, Σa², Σb²) over the cells that are valid and have
    |z| < ``z_limit`` (``z_limit`` = inf: all valid cells; ``z`` then unused) into ``out`` [5, hb, wb]
    (float64)."""
    out[:] = 0.0
    use_z = math.isfinite(z_limit)
    for i in range(a.shape[0]):
        bi = i // BLOCK
        for j in range(a.shape[1]):
            if not valid[i, j]:
                continue
            if use_z and abs(z[i, j]) >= z_limit:
                continue
            bj = j // BLOCK
            x, y = np.float64(a[i, j]), np.float64(b[i, j])
            out[0, bi, bj] += 1.0
            out[1, bi, bj] += x
            out[2, bi, bj] += y
            out[3, bi, bj] += x * x
            out[4, bi, bj] += y * y


@jit()
def valid_sums(values: np.ndarray, valid: np.ndarray, out: np.ndarray) -> None:
    """Per block (count of valid cells, Σ values over them) into ``out`` [2, hb, wb] (float64)."""
    out[:] = 0.0
    for i in range(values.shape[0]):
        bi = i // BLOCK
        for j in range(values.shape[1]):
            if valid[i, j]:
                out[0, bi, j // BLOCK] += 1.0
                out[1, bi, j // BLOCK] += values[i, j]


@jit()
def fill_invalid(values: np.ndarray, valid: np.ndarray, mean_blocks: np.ndarray, out: np.ndarray) -> None:
    """``out`` = ``values`` where valid, else the block means interpolated there."""
    small = np.empty(mean_blocks.shape[1], np.float32)
    row = np.empty(mean_blocks.shape[1] * BLOCK, np.float32)
    for i in range(out.shape[0]):
        _interp_row(mean_blocks, i, small, row)
        for j in range(out.shape[1]):
            out[i, j] = values[i, j] if valid[i, j] else row[j]


@jit()
def apply_gain(a: np.ndarray, b: np.ndarray, valid: np.ndarray, z: np.ndarray, z_limit: float,
               gain: np.ndarray, offset: np.ndarray, a_norm: np.ndarray, d: np.ndarray, absd: np.ndarray) -> None:
    """``a_norm`` = gain·a + offset (block values interpolated), ``d`` = b − a_norm (0 where not
    valid), and per block Σ|d| over the cells used for the statistics (valid, |z| < ``z_limit``)
    into ``absd`` [hb, wb]. ``z`` is read before ``d`` is written: it may not alias ``d``."""
    absd[:] = 0.0
    use_z = math.isfinite(z_limit)
    small = np.empty(gain.shape[1], np.float32)
    grow = np.empty(gain.shape[1] * BLOCK, np.float32)
    orow = np.empty(gain.shape[1] * BLOCK, np.float32)
    for i in range(a.shape[0]):
        _interp_row(gain, i, small, grow)
        _interp_row(offset, i, small, orow)
        bi = i // BLOCK
        for j in range(a.shape[1]):
            value = grow[j] * a[i, j] + orow[j]
            a_norm[i, j] = value
            if valid[i, j]:
                diff = b[i, j] - value
                d[i, j] = diff
                if not (use_z and abs(z[i, j]) >= z_limit):
                    absd[bi, j // BLOCK] += abs(diff)
            else:
                d[i, j] = 0.0


@jit()
def edge_curvature(a: np.ndarray, edge: np.ndarray, curvature: np.ndarray) -> None:
    """|∇a| (``numpy.gradient``: central differences, one-sided at the borders) and |∇²a|
    (``scipy.ndimage.laplace``, mirrored borders) of ``a`` [H, W] ≥ 2 × 2."""
    h, w = a.shape
    half = np.float32(2.0)
    two = np.float32(2.0)
    for i in range(h):
        up, down = max(i - 1, 0), min(i + 1, h - 1)
        for j in range(w):
            left, right = max(j - 1, 0), min(j + 1, w - 1)
            if 0 < i < h - 1:
                gy = (a[down, j] - a[up, j]) / half
            else:
                gy = a[down, j] - a[up, j]
            if 0 < j < w - 1:
                gx = (a[i, right] - a[i, left]) / half
            else:
                gx = a[i, right] - a[i, left]
            edge[i, j] = np.float32(math.hypot(gx, gy))
            centre = a[i, j]
            d2y = a[up, j] - two * centre + a[down, j]
            d2x = a[i, left] - two * centre + a[i, right]
            curvature[i, j] = abs(d2y + d2x)


@jit()
def z_scores(d: np.ndarray, valid: np.ndarray, sigma: np.ndarray, gain: np.ndarray, edge: np.ndarray,
             curvature: np.ndarray, kappa: float, lam: float, z: np.ndarray) -> None:
    """z = d / √(σ₀² + (κ·|gain|·edge)² + (λ·|gain|·curvature)²), 0 where not valid; ``sigma`` and
    ``gain`` are block arrays (interpolated), κ or λ ≤ 0 leave their term out."""
    small = np.empty(sigma.shape[1], np.float32)
    srow = np.empty(sigma.shape[1] * BLOCK, np.float32)
    grow = np.empty(gain.shape[1] * BLOCK, np.float32)
    k32, l32 = np.float32(kappa), np.float32(lam)
    for i in range(d.shape[0]):
        _interp_row(sigma, i, small, srow)
        _interp_row(gain, i, small, grow)
        for j in range(d.shape[1]):
            if not valid[i, j]:
                z[i, j] = 0.0
                continue
            s = srow[j]
            scale = s * s
            g = abs(grow[j])
            if kappa > 0:
                e = g * edge[i, j] * k32
                scale += e * e
            if lam > 0:
                c = g * curvature[i, j] * l32
                scale += c * c
            z[i, j] = d[i, j] / np.float32(math.sqrt(scale))


@jit()
def fine_power_sums(x: np.ndarray, valid: np.ndarray, out: np.ndarray) -> None:
    """Per block (valid count, Σ over valid cells of (x − its 3 × 3 mean)²) into ``out`` [2, hb, wb];
    the 3 × 3 mean repeats the border cells (``scipy.ndimage.uniform_filter``, mode "nearest")."""
    out[:] = 0.0
    h, w = x.shape
    for i in range(h):
        bi = i // BLOCK
        up, down = max(i - 1, 0), min(i + 1, h - 1)
        for j in range(w):
            if not valid[i, j]:
                continue
            left, right = max(j - 1, 0), min(j + 1, w - 1)
            total = np.float32(0.0)
            for r in (up, i, down):
                total += x[r, left] + x[r, j] + x[r, right]
            fine = x[i, j] - total / np.float32(9.0)
            out[0, bi, j // BLOCK] += 1.0
            out[1, bi, j // BLOCK] += fine * fine


@jit()
def resample_separable(plane: np.ndarray, r0: np.ndarray, r1: np.ndarray, rt: np.ndarray, c0: np.ndarray,
                       c1: np.ndarray, ct: np.ndarray, out: np.ndarray) -> None:
    """Separable linear resampling (rows, then columns; float32): row i of ``out`` lies between the
    plane's rows r0[i], r1[i] at fraction rt[i]; column j between c0[j], c1[j] at ct[j]."""
    row = np.empty(plane.shape[1], np.float32)
    for i in range(out.shape[0]):
        t = rt[i]
        for k in range(plane.shape[1]):
            first = np.float32(plane[r0[i], k])
            row[k] = first + (np.float32(plane[r1[i], k]) - first) * t
        for j in range(out.shape[1]):
            first = row[c0[j]]
            out[i, j] = first + (row[c1[j]] - first) * ct[j]


@jit()
def fill_mask(grey: np.ndarray, size: int, out: np.ndarray) -> None:
    """Constant fill: ``out`` True in ``size``² blocks where > 90 % of the cells have no grey-level
    step to their left or upper neighbour (cells beyond the map count as steps), and in rows whose
    standard deviation (NaN ignored) is < 0.5."""
    h, w = grey.shape
    hb, wb = (h + size - 1) // size, (w + size - 1) // size
    flat = np.zeros((hb, wb), np.int64)
    for i in range(h):
        for j in range(w):
            step = (j > 0 and grey[i, j] != grey[i, j - 1]) or (i > 0 and grey[i, j] != grey[i - 1, j])
            if not step:
                flat[i // size, j // size] += 1
    for i in range(h):
        n, total, total2 = 0, 0.0, 0.0
        for j in range(w):
            v = grey[i, j]
            if not math.isnan(v):
                n += 1
                total += v
        mean = total / n if n > 0 else math.nan
        for j in range(w):
            v = grey[i, j]
            if not math.isnan(v):
                total2 += (v - mean) ** 2
        flat_row = n > 0 and math.sqrt(total2 / n) < 0.5
        for j in range(w):
            out[i, j] = flat_row or flat[i // size, j // size] > 0.9 * size * size


@jit()
def warp_field(source: np.ndarray, valid: np.ndarray, wrap: bool, rows_y: np.ndarray, rows_x: np.ndarray, c_left: np.ndarray,
               c_right: np.ndarray, w_left: np.ndarray, w_right: np.ndarray, out: np.ndarray) -> None:
    """``out``[i, j] = ``source`` bilinearly sampled at (i + dy, j + dx) (NaN, and the cells
    outside ``valid`` as NaN, spread to their neighbours; ``valid`` of shape (1, 1): all; clamped at the borders, periodic in columns with ``wrap``), with the displacement
    dy = rows_y[i, c_left[j]]·w_left[j] + rows_y[i, c_right[j]]·w_right[j] (dx likewise from
    ``rows_x``): the field already interpolated along rows (``rows_*`` [H, nodes]) and its column
    weights (the arithmetic of ``scipy.ndimage.map_coordinates``, order 1, in float64)."""
    h, w = source.shape
    masked = valid.shape == source.shape
    dy_row = np.empty(w, np.float32)
    dx_row = np.empty(w, np.float32)
    for i in range(h):
        for j in range(w):
            dy_row[j] = rows_y[i, c_left[j]] * w_left[j] + rows_y[i, c_right[j]] * w_right[j]
            dx_row[j] = rows_x[i, c_left[j]] * w_left[j] + rows_x[i, c_right[j]] * w_right[j]
        for j in range(w):
            r = min(max(np.float64(np.float32(i) + dy_row[j]), 0.0), h - 1.0)
            c = np.float64(np.float32(j) + dx_row[j])
            if wrap:
                while c < 0.0:
                    c += w
                while c >= w:
                    c -= w
                c0 = int(c)
                t = c - c0
                c1 = c0 + 1 if c0 + 1 < w else 0
            else:
                c = min(max(c, 0.0), w - 1.0)
                c0 = int(c)
                t = c - c0
                c1 = min(c0 + 1, w - 1)
            r0 = int(r)
            u = r - r0
            r1 = min(r0 + 1, h - 1)
            v00, v01, v10, v11 = source[r0, c0], source[r0, c1], source[r1, c0], source[r1, c1]
            if masked and not (valid[r0, c0] and valid[r0, c1] and valid[r1, c0] and valid[r1, c1]):
                out[i, j] = np.nan
                continue
            top = v00 * (1.0 - t) + v01 * t
            bottom = v10 * (1.0 - t) + v11 * t
            out[i, j] = np.float32(top * (1.0 - u) + bottom * u)
