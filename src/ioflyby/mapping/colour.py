"""Colour composition of reprojected channels: white balance, stretch, 8/16-bit output.

Linear radiometry in, display values out: ``display = clip((gain_c · value − black) /
(white − black), 0, 1) ** (1 / gamma)``, with one black and white point for all channels (so the
white balance, not the stretch, sets the colour) taken as percentiles of the lit, covered cells.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

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


def _sample(values: np.ndarray, mask: np.ndarray, limit: int = 400_000) -> np.ndarray:
    """Up to ``limit`` finite values under ``mask`` (a regular subsample, for fast percentiles)."""
    picked = values[mask]
    picked = picked[np.isfinite(picked)]
    step = max(1, picked.size // limit)
    return picked[::step]


def white_balance_gains(
    channels: Mapping[str, np.ndarray], mask: np.ndarray, mode: str | Mapping[str, float] = "auto", percentile: float = 95.0
) -> dict[str, float]:
    """Per-channel gains. ``auto``: scale each channel so its ``percentile`` over ``mask`` equals
    the brightest channel's (bright surfaces come out neutral); ``none``: 1; or explicit gains."""
    if isinstance(mode, Mapping):
        return {name: float(mode.get(name, 1.0)) for name in channels}
    if mode == "none":
        return {name: 1.0 for name in channels}
    if mode != "auto":
        raise GeometryError(f"unknown white balance {mode!r}: use auto, none or R,G,B gains")
    levels = {}
    for name, values in channels.items():
        sample = _sample(values, mask)
        levels[name] = float(np.percentile(sample, percentile)) if sample.size else 0.0
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
    gains = white_balance_gains(channels, mask, white_balance)
    pooled = np.concatenate([_sample(values, mask) * gains[name] for name, values in channels.items()])
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


def compose(channels: Mapping[str, np.ndarray], stretch: Stretch, order: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Stack stretched channels (float32 [band, row, col] in [0, 1], NaN where no data) in RGB
    order where the filters allow (RED, GREEN, BLUE), else in the given order. Returns the
    stack and the band names."""
    names = list(order) if order else ([n for n in RGB_ORDER if n in channels] if set(RGB_ORDER) <= set(channels) else list(channels))
    stack = np.stack([apply_stretch(channels[n], stretch.gains[n], stretch) for n in names])
    return stack, names


def to_integer(stack: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """[0, 1] floats → uint8/uint16 (rounded) and an alpha band (max where every band has data)."""
    if bits not in (8, 16):
        raise GeometryError(f"output bit depth must be 8 or 16, got {bits}")
    top = 255 if bits == 8 else 65535
    dtype = np.uint8 if bits == 8 else np.uint16
    valid = np.all(np.isfinite(stack), axis=0)
    scaled = np.nan_to_num(stack, nan=0.0) * np.float32(top) + np.float32(0.5)
    out = scaled.astype(dtype)
    alpha = np.where(valid, top, 0).astype(dtype)
    return out, alpha
