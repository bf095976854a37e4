"""Colour composition of reprojected channels: white balance, stretch, 8/16-bit output.

Linear radiometry in, display values out: ``display = clip((gain_c · value − black) /
(white − black), 0, 1) ** (1 / gamma)``, with one black and white point for all channels (so the
white balance, not the stretch, sets the colour) taken as percentiles of the lit, covered cells.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numba import prange

from ioflyby._numba import jit
from ioflyby.errors import GeometryError

RGB_ORDER = ("RED", "GREEN", "BLUE")


@dataclass(frozen=True)
class Stretch:
    """Display stretch: channel gains, black/white points (in gained units) and gamma."""

    gains: dict[str, float]
    black: float
    white: float
    gamma: float

    def to_dict(self) -> dict:
        return {"gains": dict(self.gains), "black": self.black, "white": self.white, "gamma": self.gamma}


SAMPLE_LIMIT = 400_000
"""Most cells a percentile is taken over (a regular subsample of the cells under the mask)."""


def _sample_cells(mask: np.ndarray, limit: int = SAMPLE_LIMIT) -> np.ndarray:
    """Flat indices of up to ``limit`` cells under ``mask``, evenly spaced in raster order."""
    cells = np.flatnonzero(mask)
    return cells[:: max(1, cells.size // limit)]


def _sample(values: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """The finite ``values`` at flat indices ``cells``, as float64."""
    picked = values.reshape(-1)[cells].astype(np.float64)
    return picked[np.isfinite(picked)]


def _gains(samples: Mapping[str, np.ndarray], mode: str | Mapping[str, float], percentile: float) -> dict[str, float]:
    if isinstance(mode, Mapping):
        return {name: float(mode.get(name, 1.0)) for name in samples}
    if mode == "none":
        return {name: 1.0 for name in samples}
    if mode != "auto":
        raise GeometryError(f"unknown white balance {mode!r}: use auto, none or R,G,B gains")
    levels = {name: float(np.percentile(sample, percentile)) if sample.size else 0.0 for name, sample in samples.items()}
    top = max(levels.values(), default=0.0)
    return {name: (top / level if level > 0 else 1.0) for name, level in levels.items()}


def fit_stretch(
    channels: Mapping[str, np.ndarray],
    mask: np.ndarray,
    white_balance: str | Mapping[str, float] = "auto",
    percentiles: tuple[float, float] = (0.5, 99.8),
    gamma: float = 1.0,
) -> Stretch:
    """Gains and common black/white points from the cells under ``mask`` (lit, covered)."""
    if not 0.0 <= percentiles[0] < percentiles[1] <= 100.0:
        raise GeometryError(f"stretch percentiles {percentiles} must satisfy 0 <= low < high <= 100")
    if not gamma > 0:
        raise GeometryError(f"gamma must be positive, got {gamma}")
    cells = _sample_cells(mask)
    samples = {name: _sample(values, cells) for name, values in channels.items()}
    gains = _gains(samples, white_balance, 95.0)
    pooled = np.concatenate([sample * gains[name] for name, sample in samples.items()])
    if pooled.size == 0:
        raise GeometryError("nothing to stretch: no map cell was seen by the camera")
    black, white = (float(v) for v in np.percentile(pooled, percentiles))
    if not white > black:
        white = black + 1.0
    return Stretch(gains, black, white, float(gamma))


def apply_stretch(values: np.ndarray, gain: float, stretch: Stretch) -> np.ndarray:
    """Display values in [0, 1] (NaN stays NaN), float32."""
    scaled = (values * np.float32(gain) - np.float32(stretch.black)) * np.float32(1.0 / (stretch.white - stretch.black))
    np.clip(scaled, 0.0, 1.0, out=scaled)
    if stretch.gamma != 1.0:
        np.power(scaled, np.float32(1.0 / stretch.gamma), out=scaled)
    return scaled


def band_order(channels: Mapping[str, np.ndarray], order: Sequence[str] | None = None) -> list[str]:
    """Band names in RGB order where the filters allow (RED, GREEN, BLUE), else ``order`` or the
    channels' own order."""
    if order:
        return list(order)
    return [n for n in RGB_ORDER if n in channels] if set(RGB_ORDER) <= set(channels) else list(channels)


def compose(channels: Mapping[str, np.ndarray], stretch: Stretch, order: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Stack stretched channels (float32 [band, row, col] in [0, 1], NaN where no data) in RGB
    order where the filters allow (RED, GREEN, BLUE), else in the given order. Returns the
    stack and the band names."""
    names = band_order(channels, order)
    stack = np.stack([apply_stretch(channels[n], stretch.gains[n], stretch) for n in names])
    return stack, names


@jit(inline="always")
def _mark_invalid(k, row, col, out, alpha):
    out[k, row, col] = 0
    alpha[row, col] = 0


@jit(parallel=True)
def _quantize(planes, gains, black, scale, inv_gamma, top, out, alpha):
    """out[k] ← round(top · clip((gains[k] · planes[k] − black) · scale, 0, 1) ** inv_gamma), 0
    where planes[k] is not finite; alpha ← top where every plane is finite, else 0. Float32
    arithmetic, as :func:`apply_stretch`; rows in parallel."""
    zero, one, half = np.float32(0.0), np.float32(1.0), np.float32(0.5)
    width = out.shape[2]
    for row in prange(out.shape[1]):
        alpha[row, :] = top
        for k in range(len(planes)):
            values = planes[k][row]
            gain = gains[k]
            # Two loops so that the common gamma = 1 one has no power in it (it vectorises).
            if inv_gamma == one:
                for col in range(width):
                    if math.isfinite(values[col]):
                        out[k, row, col] = min(max((values[col] * gain - black) * scale, zero), one) * top + half
                    else:
                        _mark_invalid(k, row, col, out, alpha)
            else:
                for col in range(width):
                    if math.isfinite(values[col]):
                        display = min(max((values[col] * gain - black) * scale, zero), one)
                        out[k, row, col] = display**inv_gamma * top + half
                    else:
                        _mark_invalid(k, row, col, out, alpha)


def _quantized(
    planes: Sequence[np.ndarray], gains: Sequence[float], black: float, scale: float, gamma: float, bits: int
) -> tuple[np.ndarray, np.ndarray]:
    if bits not in (8, 16):
        raise GeometryError(f"output bit depth must be 8 or 16, got {bits}")
    dtype = np.uint8 if bits == 8 else np.uint16
    planes = tuple(np.ascontiguousarray(plane, dtype=np.float32) for plane in planes)
    out = np.empty((len(planes), *planes[0].shape), dtype)
    alpha = np.empty(planes[0].shape, dtype)
    _quantize(planes, np.asarray(gains, np.float32), np.float32(black), np.float32(scale), np.float32(1.0 / gamma),
              np.float32(np.iinfo(dtype).max), out, alpha)
    return out, alpha


def to_integer(stack: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """[0, 1] floats [band, row, col] → uint8/uint16 (rounded; values outside [0, 1] clipped, 0
    where NaN) and an alpha band (the maximum where every band has data, else 0)."""
    return _quantized(list(stack), [1.0] * len(stack), 0.0, 1.0, 1.0, bits)


def render(
    channels: Mapping[str, np.ndarray], stretch: Stretch, bits: int, order: Sequence[str] | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``to_integer(*compose(channels, stretch, order), bits)`` in one pass without the float
    stack: (bands [band, row, col] uint8/uint16, alpha, band names)."""
    names = band_order(channels, order)
    bands, alpha = _quantized([channels[n] for n in names], [stretch.gains[n] for n in names], stretch.black,
                              1.0 / (stretch.white - stretch.black), stretch.gamma, bits)
    return bands, alpha, names
