"""Sub-pixel limb detection in JunoCam framelets (pure numpy/scipy, no SPICE).

A limb point is where the brightness profile across a sharp edge between the lit disc and the
sky crosses half-way between the local disc level and the local sky level. Along the dominant
gradient axis (samples or lines) of a Gaussian-smoothed framelet (σ = 1 px, symmetric, so a
straight step keeps its position), pixels whose gradient is a local maximum and exceeds a
fraction of the product's disc–sky contrast are candidates; the crossing of the half level is
found by linear interpolation between the two pixels that straddle it.

Rejected here (more is rejected later against the predicted limb, see ``solve``):

- the terminator and albedo features: their gradients are far weaker than the limb's;
- framelet edges: nothing within ``EDGE_MARGIN_PX`` of the first/last line or outside the
  photoactive samples;
- off-disc objects (moons as small dots, hot pixels): the bright side must stay bright for
  ``DISC_DEPTH_PX`` pixels inwards, and the dark side must be sky-dark.

Pixel convention: the camera module's (centre of the upper-left pixel = (0, 0)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ioflyby.camera.junocam import (
    FRAMELET_LINES,
    PHOTOACTIVE_FIRST_SAMPLE,
    PHOTOACTIVE_SAMPLES,
)

SMOOTHING_SIGMA_PX = 1.0
EDGE_MARGIN_PX = 3
PROFILE_HALF_WIDTH_PX = 6
DISC_DEPTH_PX = 8
MIN_GRADIENT_FRACTION = 0.06
"""Candidate edges need |∇I| above this fraction of the disc–sky contrast per pixel."""
MIN_STEP_FRACTION = 0.3
"""The local bright–dark step must exceed this fraction of the disc–sky contrast."""
MAX_SKY_FRACTION = 0.25
"""The dark side must be below sky + this fraction of the contrast (sky, not a darker cloud)."""


@dataclass(frozen=True)
class LimbPoints:
    """Detected limb points of one product (all arrays of equal length N).

    Attributes:
        exposure: exposure index of each point.
        filter_index: index into the product's ``filters`` of each point.
        sample, line: sub-pixel framelet coordinates (ioflyby pixel convention).
        normal_sample, normal_line: unit image gradient (points from sky towards the disc).
        step: local disc minus sky level, DN.
    """

    exposure: np.ndarray
    filter_index: np.ndarray
    sample: np.ndarray
    line: np.ndarray
    normal_sample: np.ndarray
    normal_line: np.ndarray
    step: np.ndarray

    def __len__(self) -> int:
        return int(self.sample.size)

    def subset(self, keep: np.ndarray) -> LimbPoints:
        """The points selected by a boolean mask or index array."""
        return LimbPoints(*(getattr(self, name)[keep] for name in self.__dataclass_fields__))

    @staticmethod
    def concatenate(parts: list[LimbPoints]) -> LimbPoints:
        """All points of ``parts`` in one set."""
        names = list(LimbPoints.__dataclass_fields__)
        if not parts:
            return LimbPoints(*(np.zeros(0, int if n in ("exposure", "filter_index") else float) for n in names))
        return LimbPoints(*(np.concatenate([getattr(p, n) for p in parts]) for n in names))


def brightness_levels(framelets: np.ndarray) -> tuple[float, float]:
    """(sky, disc) DN levels of a stack of framelets of one filter: the 20th percentile of the
    photoactive pixels and the 99.5th percentile of the smoothed stack."""
    active = framelets[..., PHOTOACTIVE_FIRST_SAMPLE : PHOTOACTIVE_FIRST_SAMPLE + PHOTOACTIVE_SAMPLES]
    sub = active[..., ::4, ::4]
    sky = float(np.percentile(sub, 20))
    disc = float(np.percentile(sub, 99.5))
    return sky, disc


def _half_level_crossing(profile: np.ndarray, centre: int, sign: np.ndarray) -> tuple[np.ndarray, ...]:
    """Sub-pixel position of the half-level crossing in profiles (N, 2W+1) around index W.

    ``sign`` is +1 where brightness increases along the profile. Returns (offset from the
    centre in px, bright level, dark level, depth check value); offset NaN where no clean
    crossing exists.
    """
    width = profile.shape[1]
    oriented = np.where(sign[:, None] > 0, profile, profile[:, ::-1])  # now rising left → right
    dark = oriented[:, :centre].min(axis=1)
    bright = oriented[:, centre + 1 :].max(axis=1)
    half = 0.5 * (dark + bright)
    above = oriented >= half[:, None]
    # The crossing nearest the centre: last pixel below the half level before the first one
    # above it, searched from the centre outwards on the rising profile.
    idx = np.arange(width)
    first_above = np.where(above & (idx >= centre - 2), idx, width).min(axis=1)
    lower = np.clip(first_above - 1, 0, width - 2)
    v0 = np.take_along_axis(oriented, lower[:, None], 1)[:, 0]
    v1 = np.take_along_axis(oriented, (lower + 1)[:, None], 1)[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = (half - v0) / (v1 - v0)
    position = lower + frac
    valid = (first_above > 0) & (first_above < width) & (frac >= 0) & (frac <= 1) & (v1 > v0)
    position = np.where(valid, position, np.nan)
    offset = np.where(sign > 0, position - centre, centre - position)
    return offset, bright, dark


def detect_limb_framelet(
    image: np.ndarray, sky: float, disc: float, exposure: int = 0, filter_index: int = 0
) -> LimbPoints:
    """Limb points in one framelet ``image`` (128 × 1648 linear DN) given the product's sky and
    disc levels (DN) for this filter. See the module docstring for the method."""
    from scipy import ndimage  # imported on use: a map from a CK never loads it (CLI start-up)
    contrast = max(disc - sky, 1e-6)
    smooth = ndimage.gaussian_filter(np.asarray(image, np.float32), SMOOTHING_SIGMA_PX, mode="nearest")
    gl, gs = np.gradient(smooth)
    magnitude = np.hypot(gs, gl)
    along_samples = np.abs(gs) >= np.abs(gl)
    # Local maximum of the magnitude along the dominant axis.
    mag_pad = np.pad(magnitude, 1, mode="edge")
    left, right = mag_pad[1:-1, :-2], mag_pad[1:-1, 2:]
    up, down = mag_pad[:-2, 1:-1], mag_pad[2:, 1:-1]
    peak = np.where(along_samples, (magnitude >= left) & (magnitude > right), (magnitude >= up) & (magnitude > down))
    candidate = peak & (magnitude > MIN_GRADIENT_FRACTION * contrast)
    w = PROFILE_HALF_WIDTH_PX
    margin_l = max(EDGE_MARGIN_PX, 0)
    candidate[: margin_l + 1, :] = False
    candidate[-margin_l - 1 :, :] = False
    lo = PHOTOACTIVE_FIRST_SAMPLE + EDGE_MARGIN_PX
    hi = PHOTOACTIVE_FIRST_SAMPLE + PHOTOACTIVE_SAMPLES - EDGE_MARGIN_PX
    candidate[:, :lo] = False
    candidate[:, hi:] = False
    lines, samples = np.nonzero(candidate)
    if lines.size == 0:
        return LimbPoints.concatenate([])
    horizontal = along_samples[lines, samples]
    rows = []
    for flag in (True, False):
        sel = horizontal == flag
        ln, sm = lines[sel], samples[sel]
        offsets = np.arange(-w, w + 1)
        if flag:
            rr = np.broadcast_to(ln[:, None], (ln.size, offsets.size))
            cc = np.clip(sm[:, None] + offsets, 0, image.shape[1] - 1)
            sign = np.sign(gs[ln, sm])
        else:
            rr = np.clip(ln[:, None] + offsets, 0, image.shape[0] - 1)
            cc = np.broadcast_to(sm[:, None], (sm.size, offsets.size))
            sign = np.sign(gl[ln, sm])
        profile = smooth[rr, cc]
        offset, bright, dark = _half_level_crossing(profile, w, sign)
        # Depth: the disc side stays bright DISC_DEPTH_PX further in (rejects small dots).
        depth = (w + DISC_DEPTH_PX) * sign.astype(int)
        if flag:
            deep = smooth[ln, np.clip(sm + depth, 0, image.shape[1] - 1)]
        else:
            deep = smooth[np.clip(ln + depth, 0, image.shape[0] - 1), sm]
        step = bright - dark
        ok = (
            np.isfinite(offset)
            & (np.abs(offset) <= 1.5)
            & (step > MIN_STEP_FRACTION * contrast)
            & (dark < sky + MAX_SKY_FRACTION * contrast)
            & (deep > dark + 0.5 * step)
        )
        s_pos = sm.astype(float) + (offset if flag else 0.0)
        l_pos = ln.astype(float) + (0.0 if flag else offset)
        g = np.hypot(gs[ln, sm], gl[ln, sm])
        rows.append(
            LimbPoints(
                exposure=np.full(ok.sum(), exposure, int),
                filter_index=np.full(ok.sum(), filter_index, int),
                sample=s_pos[ok],
                line=l_pos[ok],
                normal_sample=(gs[ln, sm] / g)[ok],
                normal_line=(gl[ln, sm] / g)[ok],
                step=step[ok],
            )
        )
    return LimbPoints.concatenate(rows)


def detect_limb(cube: np.ndarray, max_points_per_framelet: int = 400) -> LimbPoints:
    """Limb points in every framelet of a product cube ``[exposure, filter, 128, 1648]`` of
    linear DN (``RawProduct.decompanded()``). Levels are computed per filter over the product;
    at most ``max_points_per_framelet`` points are kept per framelet (evenly thinned)."""
    cube = np.asarray(cube)
    if cube.ndim != 4 or cube.shape[2] != FRAMELET_LINES:
        raise ValueError(f"expected a [exposure, filter, 128, 1648] cube, got shape {cube.shape}")
    parts: list[LimbPoints] = []
    for f in range(cube.shape[1]):
        sky, disc = brightness_levels(cube[:, f])
        for e in range(cube.shape[0]):
            frame = cube[e, f]
            # Skip framelets with no disc-bright pixel at all (cheap test on a subsample).
            if frame[::2, ::2].max() < sky + MIN_STEP_FRACTION * (disc - sky):
                continue
            pts = detect_limb_framelet(frame, sky, disc, e, f)
            if len(pts) > max_points_per_framelet:
                keep = np.linspace(0, len(pts) - 1, max_points_per_framelet).round().astype(int)
                pts = pts.subset(keep)
            parts.append(pts)
    return LimbPoints.concatenate(parts)
