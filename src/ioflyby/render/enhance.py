"""Display enhancement of a reconstructed view: presets in the spirit of the citizen processors.

Linear I/F channels in (:class:`ioflyby.render.core.Reconstruction`), display RGB in [0, 1] out.
Every step appends a record (name and parameters) to the list returned with the image, which the
output files carry, so that a render can be repeated exactly. Steps, in order:

1. white balance: the channels are I/F (:mod:`ioflyby.render.core`), i.e. balanced from the
   calibrated radiance; gains 1 unless given;
2. illumination flattening (optional): I/F / max(cos i, 0.15)^k (Minnaert-like, k = 0.7) so the
   terminator's shading is evened out;
3. night side: ``black`` (cos i ≤ 0 set to 0) or ``jupitershine`` (the night side, lit by
   Jupiter at ~1 % of sunlight, multiplied so that its 95th percentile sits at a quarter of the
   day side's median, blended over |cos i| < 0.03);
4. stretch: one black and white point for all channels (0.5 and 99.8 percentiles of the lit
   disc's pooled channels), then gamma;
5. preset ``gill``: unsharp mask on the luminance (σ 1.5 px, amount 0.7) and saturation × 1.3;
   ``local-contrast``: CLAHE on the luminance (scikit-image ``equalize_adapthist``, tiles of 1/8
   of the image, clip 0.01; Zuiderveld 1994) blended 60 %, then a light unsharp mask (σ 1 px,
   amount 0.4); ``none``: nothing more.

Filters are mask-aware (normalised convolution over the valid pixels; Gaussians truncated at
3 σ), so the black sky does not bleed a halo into the limb; the luminance changes are applied to
all channels as one ratio, so no colour is created. Percentiles are taken over a regular subset of
at most :data:`PERCENTILE_SAMPLES` pixels. Everything runs in float32, in place where it can.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from ioflyby.errors import GeometryError
from ioflyby.render.core import Reconstruction

PRESETS = ("none", "gill", "local-contrast")
NIGHT = ("black", "jupitershine")
PRESET_GAMMA = {"none": 1.0, "gill": 1.6, "local-contrast": 1.4}
FLATTEN_MIN_COS_I = 0.15
FLATTEN_K = 0.7
NIGHT_BLEND_COS_I = 0.03
NIGHT_TARGET = 0.25
PERCENTILE_SAMPLES = 1_000_000
GAUSS_TRUNCATE = 3.0


def _subset(mask: np.ndarray) -> np.ndarray:
    """Flat indices of a regular subset (at most :data:`PERCENTILE_SAMPLES`) of ``mask``'s pixels."""
    index = np.flatnonzero(mask)
    return index[::max(1, index.size // PERCENTILE_SAMPLES)]


def _smoothstep(x: np.ndarray, low: float, high: float) -> np.ndarray:
    t = np.clip((x - low) / (high - low), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _masked_blur(values: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur over ``mask`` only (normalised convolution); values outside kept."""
    weight = gaussian_filter(mask.astype(np.float32), sigma, truncate=GAUSS_TRUNCATE)
    blurred = gaussian_filter(np.where(mask, values, np.float32(0.0)), sigma, truncate=GAUSS_TRUNCATE)
    np.maximum(weight, np.float32(1e-3), out=weight)
    blurred /= weight
    return blurred


def _luminance(rgb: np.ndarray) -> np.ndarray:
    lum = rgb[..., 0] * np.float32(0.2126)
    lum += rgb[..., 1] * np.float32(0.7152)
    lum += rgb[..., 2] * np.float32(0.0722)
    return lum


def _apply_luminance(rgb: np.ndarray, old: np.ndarray, new: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``rgb`` × new/old luminance (in place; 1 where old ≤ 1e-6; pixels outside ``mask`` are
    blacked out later by the alpha)."""
    ratio = np.divide(new, np.maximum(old, np.float32(1e-6)), dtype=np.float32)
    ratio[old <= 1e-6] = 1.0
    rgb *= ratio[..., None]
    return rgb


def enhance(rec: Reconstruction, preset: str = "gill", night: str = "black", flatten: bool = False,
            gains: dict[str, float] | None = None, percentiles: tuple[float, float] = (0.5, 99.8),
            gamma: float | None = None) -> tuple[np.ndarray, list[dict]]:
    """Display RGB float32 [row, col, 3] in [0, 1] (black outside the disc) and the steps taken."""
    if preset not in PRESETS:
        raise GeometryError(f"unknown enhancement {preset!r}: use one of {', '.join(PRESETS)}")
    if night not in NIGHT:
        raise GeometryError(f"unknown night-side rendering {night!r}: use one of {', '.join(NIGHT)}")
    names = rec.rgb_names()
    gains = {n: float((gains or {}).get(n, 1.0)) for n in names}
    steps: list[dict] = [{"step": "white_balance", "source": "I/F from the calibrated radiance (see reconstruction)",
                          "gains": gains}]
    mask = rec.valid
    rgb = np.empty(mask.shape + (3,), np.float32)
    for k, n in enumerate(names):
        np.multiply(np.nan_to_num(rec.channels[n]), np.float32(gains[n]), out=rgb[..., k])
    cos_i = np.nan_to_num(rec.cos_incidence, nan=-1.0).astype(np.float32, copy=False)
    lit = mask & (cos_i > 0.05)
    if not lit.any():
        lit = mask
    if flatten:
        rgb /= (np.maximum(cos_i, np.float32(FLATTEN_MIN_COS_I)) ** np.float32(FLATTEN_K))[..., None]
        steps.append({"step": "flatten_illumination", "divide_by": "max(cos i, 0.15)^0.7",
                      "min_cos_i": FLATTEN_MIN_COS_I, "k": FLATTEN_K})
    day = _smoothstep(cos_i, -NIGHT_BLEND_COS_I, NIGHT_BLEND_COS_I)
    if night == "black":
        rgb *= day[..., None]
        steps.append({"step": "night", "mode": "black", "rule": "smoothstep(cos i, -0.03, 0.03)"})
    else:
        dark = mask & (cos_i < -NIGHT_BLEND_COS_I)
        lum = _luminance(rgb).ravel()
        night_level = float(np.percentile(lum[_subset(dark)], 95)) if dark.sum() > 50 else 0.0
        day_level = float(np.median(lum[_subset(lit)]))
        gain = NIGHT_TARGET * day_level / night_level if night_level > 0 else 1.0
        gain = float(np.clip(gain, 1.0, 1000.0))
        rgb *= (day + (1.0 - day) * gain)[..., None]
        steps.append({"step": "night", "mode": "jupitershine", "night_gain": gain,
                      "rule": "night side x gain so its p95 = 0.25 x day median; blend smoothstep(cos i, -0.03, 0.03)"})
    pooled = rgb.reshape(-1, 3)[_subset(lit)].ravel()
    black, white = (float(v) for v in np.percentile(pooled, percentiles))
    if not white > black:
        white = black + 1e-6
    gamma = float(PRESET_GAMMA[preset] if gamma is None else gamma)
    if not gamma > 0:
        raise GeometryError(f"gamma must be positive, got {gamma}")
    rgb -= np.float32(black)
    rgb *= np.float32(1.0 / (white - black))
    np.clip(rgb, 0.0, 1.0, out=rgb)
    if gamma != 1.0:
        np.power(rgb, np.float32(1.0 / gamma), out=rgb)
    steps.append({"step": "stretch", "black_if": black, "white_if": white, "percentiles": list(percentiles),
                  "gamma": gamma, "common_to_all_channels": True})
    if preset == "gill":
        rgb = _unsharp(rgb, mask, 1.5, 0.7, steps)
        rgb = _saturate(rgb, mask, 1.3, steps)
    elif preset == "local-contrast":
        rgb = _clahe(rgb, mask, steps)
        rgb = _unsharp(rgb, mask, 1.0, 0.4, steps)
    np.clip(rgb, 0.0, 1.0, out=rgb)
    rgb *= rec.alpha[..., None]
    steps.append({"step": "alpha", "rule": "common validity mask x limb taper", "outside": "black"})
    return rgb, steps


def _unsharp(rgb: np.ndarray, mask: np.ndarray, sigma: float, amount: float, steps: list[dict]) -> np.ndarray:
    lum = _luminance(rgb)
    sharp = _masked_blur(lum, mask, sigma)
    sharp -= lum
    sharp *= np.float32(-amount)
    sharp += lum
    np.clip(sharp, 0.0, 1.0, out=sharp)
    steps.append({"step": "unsharp_mask", "on": "luminance", "sigma_px": sigma, "amount": amount, "mask_aware": True,
                  "gaussian_truncate_sigma": GAUSS_TRUNCATE})
    return _apply_luminance(rgb, lum, sharp, mask)


def _saturate(rgb: np.ndarray, mask: np.ndarray, factor: float, steps: list[dict]) -> np.ndarray:
    lum = _luminance(rgb)[..., None]
    steps.append({"step": "saturation", "factor": factor})
    rgb -= lum
    rgb *= np.float32(factor)
    rgb += lum
    return rgb


def _clahe(rgb: np.ndarray, mask: np.ndarray, steps: list[dict]) -> np.ndarray:
    from skimage.exposure import equalize_adapthist

    lum = _luminance(rgb)
    tile = max(8, max(lum.shape) // 8)
    equalised = equalize_adapthist(np.clip(lum, 0, 1), kernel_size=tile, clip_limit=0.01).astype(np.float32)
    new = np.where(mask, 0.6 * equalised + 0.4 * lum, lum)
    steps.append({"step": "clahe", "library": "scikit-image equalize_adapthist", "kernel_size_px": tile,
                  "clip_limit": 0.01, "blend": 0.6, "on": "luminance"})
    return _apply_luminance(rgb, lum, new, mask)
