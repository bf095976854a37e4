"""Image-quality measures of rendered views: colour fringes, edge sharpness, channel registration.

- :func:`fringe_ratio`: chroma c = (max − min) / mean of the channels (each first divided by its
  median over the lit interior, so Io's own colour is not counted as a fringe), its 90th percentile
  within ``band_px`` pixels of the valid area's edge (the limb and coverage edges), lit pixels only,
  divided by that over the lit interior (farther than ``interior_px`` from any edge).
- :func:`mtf50`: the slanted-edge method (ISO 12233 in spirit): samples' signed distance to an
  edge → binned edge-spread function → its derivative (line spread) with a Hann window → |FFT| →
  the frequency where the MTF falls to 0.5 (cycles per unit of the distances).
- :func:`registration_px`: sub-pixel shift between two channels by phase correlation
  (scikit-image ``phase_cross_correlation``, upsampling 100; Guizar-Sicairos et al. 2008).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.ndimage import distance_transform_edt


def fringe_ratio(channels: Mapping[str, np.ndarray], valid: np.ndarray, cos_incidence: np.ndarray,
                 band_px: float = 3.0, interior_px: float = 10.0, min_cos_i: float = 0.15) -> dict:
    """Chroma near edges / chroma in the lit interior (90th percentiles); see the module docstring."""
    stack = np.stack([np.asarray(v, np.float64) for v in channels.values()])
    valid = valid & np.all(np.isfinite(stack), axis=0)
    distance = distance_transform_edt(valid)
    lit = valid & (np.nan_to_num(cos_incidence, nan=-1.0) > min_cos_i)
    interior = lit & (distance > interior_px)
    edge = lit & (distance <= band_px)
    medians = np.array([np.median(s[interior]) for s in stack])
    norm = stack / medians[:, None, None]
    mean = norm.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        chroma = (norm.max(axis=0) - norm.min(axis=0)) / mean
    edge_p90 = float(np.percentile(chroma[edge], 90))
    interior_p90 = float(np.percentile(chroma[interior], 90))
    return {"edge_p90": edge_p90, "interior_p90": interior_p90, "ratio": edge_p90 / interior_p90,
            "edge_pixels": int(edge.sum()), "interior_pixels": int(interior.sum())}


def edge_spread(distance: np.ndarray, value: np.ndarray, bin_width: float, half_width: float) -> tuple[np.ndarray, np.ndarray]:
    """Binned edge-spread function: bin centres and mean ``value`` per bin of ``distance``
    (empty bins interpolated)."""
    edges = np.arange(-half_width, half_width + bin_width, bin_width)
    index = np.digitize(distance, edges) - 1
    keep = (index >= 0) & (index < edges.size - 1)
    sums = np.bincount(index[keep], value[keep], minlength=edges.size - 1)
    counts = np.bincount(index[keep], minlength=edges.size - 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    filled = counts > 0
    esf = np.interp(centres, centres[filled], sums[filled] / counts[filled])
    return centres, esf


def mtf50(distance: np.ndarray, value: np.ndarray, bin_width: float, half_width: float) -> float:
    """MTF50 (cycles per unit of ``distance``) of an edge sampled at signed ``distance`` (dark
    side negative) with ``value``; bins of ``bin_width`` over ±``half_width``."""
    _, esf = edge_spread(distance, value, bin_width, half_width)
    lsf = np.gradient(esf)
    lsf *= np.hanning(lsf.size)
    spectrum = np.abs(np.fft.rfft(lsf, n=8 * lsf.size))
    spectrum /= spectrum[0]
    freq = np.fft.rfftfreq(8 * lsf.size, d=bin_width)
    below = np.nonzero(spectrum < 0.5)[0]
    if below.size == 0:
        return float(freq[-1])
    i = int(below[0])
    f0, f1, m0, m1 = freq[i - 1], freq[i], spectrum[i - 1], spectrum[i]
    return float(f0 + (m0 - 0.5) * (f1 - f0) / (m0 - m1))


def registration_px(reference: np.ndarray, moving: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(row, col) shift of ``moving`` relative to ``reference`` over the box around ``mask``
    (values outside ``mask`` set to each image's mean there), by phase correlation."""
    from skimage.registration import phase_cross_correlation

    rows, cols = np.nonzero(mask)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    m = mask[box]

    def prepared(image: np.ndarray) -> np.ndarray:
        part = np.asarray(image[box], np.float64)
        part = np.where(m, part, np.mean(part[m]))
        return (part - part.mean()) / part.std()

    shift, _, _ = phase_cross_correlation(prepared(reference), prepared(moving), upsample_factor=100,
                                          normalization=None)
    return float(shift[0]), float(shift[1])


def channel_registration(channels: Mapping[str, np.ndarray], mask: np.ndarray, reference: str = "GREEN",
                         others: Sequence[str] = ("RED", "BLUE")) -> dict[str, float]:
    """Shift magnitude (px) of each of ``others`` relative to ``reference`` over ``mask``."""
    ref = np.nan_to_num(channels[reference])
    return {name: float(np.hypot(*registration_px(ref, np.nan_to_num(channels[name]), mask))) for name in others}
