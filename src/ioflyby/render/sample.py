"""Resampling of framelets into a view: Lanczos-3, best-resolved framelet, per-channel validity.

For every output pixel (:func:`ioflyby.render.view.view_point`: surface point and normal) and
every framelet whose footprint may contain it (32 × 32-pixel blocks pruned on their corners with
the mapping's conservative test), the exact framelet pixel comes from the mapping kernels'
:func:`ioflyby.mapping.kernel.point_quantities` (per-point light time, stellar aberration,
distortion). Within 8 × 8-pixel sub-blocks where bilinear interpolation of the corners' pixel
coordinates is exact to 0.02 px at the centre it is interpolated, as the mapping does.

Sampling: a separable Lanczos-3 kernel (Duchon 1979; the 6 × 6 taps' weights from a table of
1024 phases, normalised to sum to one). Where a tap could see the sky (cos(emission) below the
framelet's limb band) the mapping's :func:`ioflyby.mapping.kernel.bilinear_on_target` is used
instead, which keeps only neighbours whose rays pass at least half a pixel inside the limb: no sky
enters the disc. Taps must lie inside the photoactive area; the framelet's weight ramps from 0 to
1 over ``FEATHER_PX`` pixels inside that margin, so consecutive framelets blend without a seam.

Choice among framelets of one channel: each candidate's resolution r = range / (f · cos e) (km
per pixel across the foreshortened direction); weights ``ramp · exp(−(r / r_min − 1) / 0.05)``
make the best-resolved framelet win and those within a few per cent of it blend (the overlaps of
consecutive framelets of one product). A channel is valid where its weights sum to > 0. Each pixel
takes two passes: where every candidate sees it and how well resolved, then samples (Lanczos, in
float32) only the framelets with weight (r / r_min − 1 ≤ ``NEGLIGIBLE_EXCESS``), falling back to
all of a channel's framelets where none of those gave a finite value. Sub-blocks whose corners'
framelet coordinates cannot reach a framelet's usable area skip it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from ioflyby._numba import jit
from ioflyby.mapping import kernel
from ioflyby.mapping.kernel import FIRST_LINE, FIRST_SAMPLE, LAST_LINE, LAST_SAMPLE
from ioflyby.render.view import view_point

LANCZOS_A = 3
LUT_PHASES = 1024
FEATHER_PX = 4.0
RESOLUTION_TOLERANCE = 0.05
NEGLIGIBLE_EXCESS = 0.35
"""Framelets resolved more than 35 % worse than the best (weight < e^-7) are not sampled."""
BLOCK = 32
SUB = 8
TOLERANCE_PX = 0.02
PLANES = ("cos_incidence", "cos_emission", "km_per_px", "limb_px")


def lanczos_table(a: int = LANCZOS_A, phases: int = LUT_PHASES) -> np.ndarray:
    """Weights [phase, 2a] of the Lanczos-a kernel for a sample at fractional offset
    t = phase / phases past tap a − 1 (taps at −a + 1 … a relative to floor), each row summing to 1."""
    t = np.arange(phases + 1) / phases
    offsets = np.arange(-a + 1, a + 1)
    x = offsets[None, :] - t[:, None]
    weights = np.sinc(x) * np.sinc(x / a)
    weights[np.abs(x) >= a] = 0.0
    return np.ascontiguousarray(weights / weights.sum(axis=1, keepdims=True))


@jit(inline="always")
def _lanczos(images, f, s, l, lut):
    """Lanczos-3 sample of framelet ``f`` at (s, l); the caller keeps every tap inside the image."""
    i0 = int(math.floor(l))
    j0 = int(math.floor(s))
    n = lut.shape[0] - 1
    pl = int((l - i0) * n + 0.5)
    ps = int((s - j0) * n + 0.5)
    total = np.float32(0.0)
    for a in range(6):
        wl = lut[pl, a]
        row = np.float32(0.0)
        for b in range(6):
            row += lut[ps, b] * images[f, i0 - 2 + a, j0 - 2 + b]
        total += wl * row
    return total


@jit(inline="always")
def _taps_inside(s, l):
    """Distance (px) of the Lanczos taps' support from the photoactive area's edge (< 0: outside)."""
    return min(l - (FIRST_LINE + 2.0), (LAST_LINE - 3.0) - l, s - (FIRST_SAMPLE + 2.0), (LAST_SAMPLE - 3.0) - s)


@jit(inline="always")
def _box_meets(s_lo, s_hi, l_lo, l_hi):
    """Does the box [s_lo, s_hi] × [l_lo, l_hi] meet the area where Lanczos taps fit?"""
    return (s_hi >= FIRST_SAMPLE + 2.0 and s_lo <= LAST_SAMPLE - 3.0
            and l_hi >= FIRST_LINE + 2.0 and l_lo <= LAST_LINE - 3.0)


@jit(parallel=True)
def candidate_blocks(kind, params, grid_params, radii, height, width, block, poses, cams):
    """Boolean [block_rows, block_cols, framelets]: may framelet f see a pixel of the block?
    (corners beside the disc moved onto the limb; the mapping's :func:`kernel.block_may_see`)."""
    n_by = (height + block - 1) // block
    n_bx = (width + block - 1) // block
    n_f = poses.shape[0]
    corner = np.full((n_f, n_by + 1, n_bx + 1, 6), np.nan)
    for iy in prange(n_by + 1):
        pt = np.empty(7)
        for ix in range(n_bx + 1):
            if not view_point(kind, params, grid_params, radii, ix * block - 0.5, iy * block - 0.5, True, pt):
                continue
            for f in range(n_f):
                kernel.point_quantities(poses[f], cams[f], pt[0], pt[1], pt[2], pt[3], pt[4], pt[5], corner[f, iy, ix])
    cand = np.zeros((n_by, n_bx, n_f), dtype=np.bool_)
    for iy in prange(n_by):
        for ix in range(n_bx):
            for f in range(n_f):
                cand[iy, ix, f] = kernel.block_may_see(corner[f], iy, ix, -0.1)
    return cand


@jit(parallel=True)
def render_blocks(kind, params, grid_params, radii, height, width, block, sub, poses, cams, limb, seen, images,
                  channel, n_channels, cand, lut, sun, acc, wsum, planes):
    """Accumulate Σ w·value and Σ w per channel (``acc``, ``wsum`` [channel, row, col]) and the
    pixel's geometry (``planes`` [4, row, col]: cos incidence, cos emission of the best framelet,
    its km/px, the distance to the limb in output px; NaN where the pixel sees no surface);
    ``sun``: the Sun's body-fixed unit direction for the incidence plane."""
    n_by, n_bx, n_f = cand.shape
    n_sub = block // sub
    n_node = n_sub + 1
    for iy in prange(n_by):
        pt = np.empty(7)
        q = np.empty(6)
        nodes = np.empty((n_node, n_node, 7))
        node_ok = np.zeros((n_node, n_node), dtype=np.bool_)
        quant = np.empty((n_f, n_node, n_node, 6))
        interp = np.zeros((n_f, n_sub, n_sub), dtype=np.bool_)
        chosen = np.empty(n_f, dtype=np.int64)
        useful = np.zeros((n_f, n_sub, n_sub), dtype=np.bool_)
        c_f = np.empty(n_f, dtype=np.int64)
        c_val = np.empty(n_f)
        c_s = np.empty(n_f)
        c_l = np.empty(n_f)
        c_ramp = np.empty(n_f)
        c_res = np.empty(n_f)
        c_cose = np.empty(n_f)
        c_ch = np.empty(n_f, dtype=np.int64)
        best_res = np.empty(n_channels)
        for ix in range(n_bx):
            n_chosen = 0
            for f in range(n_f):
                if cand[iy, ix, f]:
                    chosen[n_chosen] = f
                    n_chosen += 1
            row0, col0 = iy * block, ix * block
            if n_chosen == 0:
                for row in range(row0, min(row0 + block, height)):
                    for col in range(col0, min(col0 + block, width)):
                        if view_point(kind, params, grid_params, radii, float(col), float(row), False, pt):
                            planes[0, row, col] = pt[3] * sun[0] + pt[4] * sun[1] + pt[5] * sun[2]
                        planes[3, row, col] = pt[6]
                continue
            for na in range(n_node):
                for nb in range(n_node):
                    node_ok[na, nb] = view_point(kind, params, grid_params, radii, float(col0 + nb * sub),
                                                 float(row0 + na * sub), False, nodes[na, nb])
            for i_f in range(n_chosen):
                f = chosen[i_f]
                for na in range(n_node):
                    for nb in range(n_node):
                        if node_ok[na, nb]:
                            nd = nodes[na, nb]
                            kernel.point_quantities(poses[f], cams[f], nd[0], nd[1], nd[2], nd[3], nd[4], nd[5],
                                                     quant[f, na, nb])
                        else:
                            quant[f, na, nb, 0] = math.nan
                for sa in range(n_sub):
                    for sb in range(n_sub):
                        ok = True
                        s_lo, s_hi, l_lo, l_hi = math.inf, -math.inf, math.inf, -math.inf
                        for da in range(2):
                            for db in range(2):
                                qq = quant[f, sa + da, sb + db]
                                if not (node_ok[sa + da, sb + db] and math.isfinite(qq[0]) and qq[2] > 0.0):
                                    ok = False
                                else:
                                    s_lo, s_hi = min(s_lo, qq[0]), max(s_hi, qq[0])
                                    l_lo, l_hi = min(l_lo, qq[1]), max(l_hi, qq[1])
                        interp[f, sa, sb] = False
                        useful[f, sa, sb] = True
                        if ok and view_point(kind, params, grid_params, radii, col0 + (sb + 0.5) * sub,
                                             row0 + (sa + 0.5) * sub, False, pt):
                            kernel.point_quantities(poses[f], cams[f], pt[0], pt[1], pt[2], pt[3], pt[4], pt[5], q)
                            s_mid = 0.25 * (quant[f, sa, sb, 0] + quant[f, sa + 1, sb, 0] + quant[f, sa, sb + 1, 0] + quant[f, sa + 1, sb + 1, 0])
                            l_mid = 0.25 * (quant[f, sa, sb, 1] + quant[f, sa + 1, sb, 1] + quant[f, sa, sb + 1, 1] + quant[f, sa + 1, sb + 1, 1])
                            interp[f, sa, sb] = math.hypot(s_mid - q[0], l_mid - q[1]) < TOLERANCE_PX
                            # interpolated (s, l) stay in the corners' box: skip the framelet where
                            # that box misses the area its Lanczos taps may use
                            useful[f, sa, sb] = not interp[f, sa, sb] or _box_meets(s_lo, s_hi, l_lo, l_hi)
            for row in range(row0, min(row0 + block, height)):
                sa = (row - row0) // sub
                v = (row - row0 - sa * sub) / sub
                for col in range(col0, min(col0 + block, width)):
                    sb = (col - col0) // sub
                    u = (col - col0 - sb * sub) / sub
                    on_disc = view_point(kind, params, grid_params, radii, float(col), float(row), False, pt)
                    planes[3, row, col] = pt[6]
                    if not on_disc:
                        continue
                    planes[0, row, col] = pt[3] * sun[0] + pt[4] * sun[1] + pt[5] * sun[2]
                    w00, w01, w10, w11 = (1 - u) * (1 - v), u * (1 - v), (1 - u) * v, u * v
                    n_ok = 0
                    for k in range(n_channels):
                        best_res[k] = math.inf
                    # pass 1: where each framelet sees the pixel, and how well resolved
                    for i_f in range(n_chosen):
                        f = chosen[i_f]
                        if not useful[f, sa, sb]:
                            continue
                        if interp[f, sa, sb]:
                            n00, n01 = quant[f, sa, sb], quant[f, sa, sb + 1]
                            n10, n11 = quant[f, sa + 1, sb], quant[f, sa + 1, sb + 1]
                            s = w00 * n00[0] + w01 * n01[0] + w10 * n10[0] + w11 * n11[0]
                            l = w00 * n00[1] + w01 * n01[1] + w10 * n10[1] + w11 * n11[1]
                            cos_e = w00 * n00[2] + w01 * n01[2] + w10 * n10[2] + w11 * n11[2]
                            rng = w00 * n00[5] + w01 * n01[5] + w10 * n10[5] + w11 * n11[5]
                        else:
                            kernel.point_quantities(poses[f], cams[f], pt[0], pt[1], pt[2], pt[3], pt[4], pt[5], q)
                            s, l, cos_e, rng = q[0], q[1], q[2], q[5]
                        if not (cos_e > 0.0 and math.isfinite(s)):
                            continue
                        inside = _taps_inside(s, l)
                        if inside < 0.0:
                            continue
                        res = rng / (cams[f, 0] * cos_e)
                        k = channel[f]
                        c_f[n_ok] = f
                        c_s[n_ok] = s
                        c_l[n_ok] = l
                        c_ramp[n_ok] = min(1.0, (inside + 0.5) / FEATHER_PX)
                        c_res[n_ok] = res
                        c_cose[n_ok] = cos_e
                        c_ch[n_ok] = k
                        c_val[n_ok] = -math.inf  # not sampled yet
                        if res < best_res[k]:
                            best_res[k] = res
                        n_ok += 1
                    # pass 2: sample only the framelets with weight (all of a channel's framelets
                    # where none of those gave a finite value, the best then among the finite ones)
                    best_cose, best_km = -1.0, math.inf
                    for k in range(n_channels):
                        limit = NEGLIGIBLE_EXCESS
                        for attempt in range(2):
                            for i in range(n_ok):
                                if c_ch[i] != k:
                                    continue
                                excess = c_res[i] / best_res[k] - 1.0
                                if excess > limit:
                                    continue
                                f = c_f[i]
                                if attempt == 0 or c_val[i] == -math.inf:
                                    if c_cose[i] < limb[f, 0]:
                                        c_val[i] = kernel.bilinear_on_target(images, f, c_s[i], c_l[i], poses[f],
                                                                              cams[f], radii, limb[f, 1], seen)
                                    else:
                                        c_val[i] = _lanczos(images, f, c_s[i], c_l[i], lut)
                                value = c_val[i]
                                if not math.isfinite(value):
                                    continue
                                w = c_ramp[i] * math.exp(-excess / RESOLUTION_TOLERANCE)
                                acc[k, row, col] += w * value
                                wsum[k, row, col] += w
                                if c_res[i] < best_km:
                                    best_km = c_res[i]
                                    best_cose = c_cose[i]
                            if wsum[k, row, col] > 0.0 or best_res[k] == math.inf:
                                break
                            # the best-resolved framelets gave no value: rank the finite ones
                            limit = NEGLIGIBLE_EXCESS
                            best_res[k] = math.inf
                            for i in range(n_ok):
                                if c_ch[i] == k and c_val[i] == -math.inf:
                                    f = c_f[i]
                                    if c_cose[i] < limb[f, 0]:
                                        c_val[i] = kernel.bilinear_on_target(images, f, c_s[i], c_l[i], poses[f],
                                                                              cams[f], radii, limb[f, 1], seen)
                                    else:
                                        c_val[i] = _lanczos(images, f, c_s[i], c_l[i], lut)
                                if c_ch[i] == k and math.isfinite(c_val[i]) and c_res[i] < best_res[k]:
                                    best_res[k] = c_res[i]
                            if best_res[k] == math.inf:
                                break
                    if best_km < math.inf:
                        planes[1, row, col] = best_cose
                        planes[2, row, col] = best_km * best_cose
