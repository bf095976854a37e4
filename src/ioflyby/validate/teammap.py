"""Comparing an ioflyby map with a reference image of the same view (e.g. the JunoCam team's
``-mapprojected.png``): registration offset by phase correlation, Pearson correlation, and the
rotation about the image centre; and what an offset is made of: the field of tile offsets fitted
with one similarity (:func:`offset_field`, :func:`fit_similarity`), its shift split along and
across the spin scan (:func:`offset_budget`), and the offsets per colour channel
(:func:`channel_offsets`).

All images are reduced to one grey plane (mean of the colour bands) with a validity mask (an
alpha band where the file has one, else pixels brighter than ``dark``). Offsets are in pixels of
the reference, ``(dx, dy)`` = how far *our* image must be moved (x right, y down) to lie on the
reference; rotations in degrees, positive counter-clockwise as seen on the screen (y down).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from ioflyby.errors import ProductError

DARK_DN = 3.0
"""Grey level (0–255 scale) at or below which a pixel of an image without alpha counts as empty."""


def load_grey(image: str | Path | np.ndarray, dark: float = DARK_DN) -> tuple[np.ndarray, np.ndarray]:
    """(grey float64 (H, W) on a 0–255 scale, valid mask) of a PNG/GeoTIFF path or an array.

    Arrays may be (H, W), (H, W, C) or band-first (C, H, W) with C ≤ 4; a fourth band (or the
    second of two) is alpha. 16-bit data are scaled to 0–255."""
    if isinstance(image, (str, Path)):
        path = Path(image)
        if not path.is_file():
            raise ProductError(f"image {path} does not exist")
        if path.suffix.lower() in (".tif", ".tiff"):
            import rasterio

            with rasterio.open(path) as src:
                array = src.read()
        else:
            from PIL import Image

            with Image.open(path) as im:
                array = np.asarray(im)
    else:
        array = np.asarray(image)
    scale = 255.0 / 65535.0 if array.dtype == np.uint16 else 1.0
    array = array.astype(float) * scale
    if array.ndim == 3 and array.shape[0] <= 4 and array.shape[2] > 4:
        array = np.moveaxis(array, 0, -1)
    if array.ndim == 2:
        bands, alpha = array[..., None], None
    elif array.shape[2] in (2, 4):
        bands, alpha = array[..., :-1], array[..., -1]
    else:
        bands, alpha = array, None
    grey = bands.mean(axis=2)
    valid = (alpha > 0) & (grey > 0) if alpha is not None else grey > dark
    return grey, valid


def fit_to_shape(array: np.ndarray, shape: tuple[int, int], fill: float = 0) -> np.ndarray:
    """Crop or pad ``array`` (H, W, ...) symmetrically about its centre to ``shape`` (an odd
    difference puts the extra row/column at the end)."""
    out = np.full(tuple(shape) + array.shape[2:], fill, dtype=array.dtype)
    src, dst = [], []
    for have, want in zip(array.shape[:2], shape):
        if have >= want:
            start = (have - want) // 2
            src.append(slice(start, start + want))
            dst.append(slice(0, want))
        else:
            start = (want - have) // 2
            src.append(slice(0, have))
            dst.append(slice(start, start + have))
    out[dst[0], dst[1]] = array[src[0], src[1]]
    return out


BANDPASS_SIGMAS_PX = (2.0, 16.0)
"""Gaussian scales (pixels) of the band-pass applied before registration: the fine scale removes
pixel noise and resolution differences (the team's maps are smoother than ours), the coarse one
the smooth brightness (the team's maps are photometrically flattened and ours need not be), so
only cloud features, limb and terminator structure are compared."""


def detail(grey: np.ndarray, mask: np.ndarray, sigmas: tuple[float, float] = BANDPASS_SIGMAS_PX) -> np.ndarray:
    """Band-pass of log brightness over ``mask``: its mask-normalised Gaussian average at
    ``sigmas[0]`` minus that at ``sigmas[1]`` (so shading and a brightness scale cancel), zero
    outside the mask."""
    logged = np.where(mask, np.log(np.maximum(grey, 0.5)), 0.0)
    weight = mask.astype(float)

    def smooth(sigma: float) -> np.ndarray:
        if sigma <= 0:
            return logged
        return ndimage.gaussian_filter(logged, sigma) / np.maximum(ndimage.gaussian_filter(weight, sigma), 1e-6)

    return np.where(mask, smooth(sigmas[0]) - smooth(sigmas[1]), 0.0)


EDGE_MARGIN_PX = 24.0
"""Pixels within this distance of the edge of the region valid in both images are left out of
the statistics: there (terminator, limb) the photometry of the two maps differs most (ours is
not flattened) and the band-pass is one-sided."""


def comparison_weight(mask: np.ndarray, margin: float = EDGE_MARGIN_PX, taper: float = 16.0) -> np.ndarray:
    """Weight 0…1: 0 within ``margin`` px of the edge of ``mask``, rising to 1 over ``taper`` px."""
    return np.clip((ndimage.distance_transform_edt(mask) - margin) / taper, 0.0, 1.0)


def _prepared(detail_image: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Weighted, zero-mean detail image for phase correlation."""
    out = detail_image * weight
    inside = weight > 0
    return np.where(inside, out - out[inside].mean(), 0.0)


PEAK_SIGMA_PX = 2.5
"""The whitened cross-power spectrum is multiplied by a Gaussian low-pass whose correlation-
surface width is this (pixels, about the band-pass fine scale: finer frequencies carry no signal): a pure translation then gives a sampled Gaussian peak, whose
centre a three-point Gaussian (log-parabola) fit recovers without the bias of a parabola on a
sinc."""


def _parabolic(c_minus: float, c0: float, c_plus: float) -> float:
    denominator = c_minus - 2.0 * c0 + c_plus
    return 0.0 if denominator == 0 else 0.5 * (c_minus - c_plus) / denominator


def _gaussian_peak(c_minus: float, c0: float, c_plus: float) -> float:
    values = np.log(np.maximum([c_minus, c0, c_plus], 1e-12 * max(c0, 1e-300)))
    return float(np.clip(_parabolic(*values), -1.0, 1.0)) if c0 > 0 else 0.0


def phase_correlation(ours: np.ndarray, reference: np.ndarray) -> tuple[float, float, float]:
    """Sub-pixel translation (dx, dy) that moves ``ours`` onto ``reference`` (same shape, 2-D),
    from the peak of the normalised cross-power spectrum (Gaussian-windowed, see
    :data:`PEAK_SIGMA_PX`), refined by a Gaussian through the peak and its neighbours; also
    the peak height (1 for identical shifted images)."""
    if ours.shape != reference.shape:
        raise ValueError(f"shapes differ: {ours.shape} vs {reference.shape}")
    h, w = ours.shape
    f_ours = np.fft.rfft2(ours)
    f_ref = np.fft.rfft2(reference)
    cross = f_ref * np.conj(f_ours)
    cross /= np.maximum(np.abs(cross), 1e-12 * np.abs(cross).max())
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    cross *= np.exp(-2.0 * (np.pi * PEAK_SIGMA_PX) ** 2 * (fx**2 + fy**2))
    surface = np.fft.irfft2(cross, s=ours.shape)
    iy, ix = np.unravel_index(int(np.argmax(surface)), surface.shape)
    dy = _gaussian_peak(surface[(iy - 1) % h, ix], surface[iy, ix], surface[(iy + 1) % h, ix])
    dx = _gaussian_peak(surface[iy, (ix - 1) % w], surface[iy, ix], surface[iy, (ix + 1) % w])
    shift_y = iy + dy if iy <= h // 2 else iy + dy - h
    shift_x = ix + dx if ix <= w // 2 else ix + dx - w
    peak = float(surface[iy, ix] * 2.0 * np.pi * PEAK_SIGMA_PX**2)
    return float(shift_x), float(shift_y), peak


def local_offsets(
    ours: np.ndarray, reference: np.ndarray, mask: np.ndarray, tile: int = 128, min_fill: float = 0.9
) -> np.ndarray:
    """Phase-correlation offsets of tiles: rows (x_centre, y_centre, dx, dy, peak) for every
    ``tile``×``tile`` tile (half-tile steps) at least ``min_fill`` inside ``mask`` (detail images
    of both, see :func:`detail`). A field of offsets shows what a single translation cannot:
    scale, rotation, distortion."""
    rows = []
    h, w = mask.shape
    window = np.outer(np.hanning(tile), np.hanning(tile))
    for y0 in range(0, h - tile + 1, tile // 2):
        for x0 in range(0, w - tile + 1, tile // 2):
            m = mask[y0 : y0 + tile, x0 : x0 + tile]
            if m.mean() < min_fill:
                continue
            a = ours[y0 : y0 + tile, x0 : x0 + tile] * window
            b = reference[y0 : y0 + tile, x0 : x0 + tile] * window
            dx, dy, peak = phase_correlation(a, b)
            rows.append((x0 + tile / 2 - 0.5, y0 + tile / 2 - 0.5, dx, dy, peak))
    return np.array(rows).reshape(-1, 5)


def pearson(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Pearson correlation of ``a`` and ``b`` over ``mask`` (NaN if fewer than 100 pixels)."""
    if mask.sum() < 100:
        return float("nan")
    x, y = a[mask] - a[mask].mean(), b[mask] - b[mask].mean()
    return float((x @ y) / np.sqrt((x @ x) * (y @ y)))


def rotate_about_centre(image: np.ndarray, angle_deg: float, order: int = 1) -> np.ndarray:
    """``image`` turned by ``angle_deg`` counter-clockwise on the screen about its centre."""
    return ndimage.rotate(image, angle_deg, reshape=False, order=order, mode="constant", cval=0.0)


def rotation_search(
    ours: np.ndarray, ours_valid: np.ndarray, reference: np.ndarray, reference_valid: np.ndarray,
    max_deg: float = 30.0, step_deg: float = 1.0, shrink: int = 4,
) -> tuple[float, float]:
    """Rotation (deg, counter-clockwise on the screen, about the image centre) that best lays
    ``ours`` on ``reference``, by brute force over ±``max_deg`` on images shrunk ``shrink``
    times, refined by a parabola through the best angle and its neighbours; returns (angle,
    correlation at that angle)."""
    def small(image):
        return ndimage.zoom(image, 1.0 / shrink, order=1)

    a, av = small(ours), small(ours_valid.astype(float)) > 0.99
    b, bv = small(reference), small(reference_valid.astype(float)) > 0.99
    angles = np.arange(-max_deg, max_deg + step_deg / 2, step_deg)
    scores = []
    for angle in angles:
        rotated = rotate_about_centre(a, angle)
        mask = (rotate_about_centre(av.astype(float), angle) > 0.99) & bv
        core = comparison_weight(mask, EDGE_MARGIN_PX / shrink, 1.0) > 0
        scores.append(pearson(rotated, b, core))
    scores = np.nan_to_num(np.array(scores), nan=-1.0)
    best = int(np.argmax(scores))
    refine = _parabolic(scores[best - 1], scores[best], scores[best + 1]) if 0 < best < len(scores) - 1 else 0.0
    return float(angles[best] + refine * step_deg), float(scores[best])


def compare_with_reference(
    ours: str | Path | np.ndarray, reference: str | Path | np.ndarray, rotation_max_deg: float | None = None
) -> dict:
    """Registration of our map against a reference image of the same view.

    ``ours`` is cropped/padded about its centre to the reference's size first (the JunoCam team's
    map-projected PNGs are 1600×1600 with the disc centred, see ``docs/mapprojected.md``).
    Returns ``{"offset_px": (dx, dy), "offset_norm_px", "correlation", "phase_peak",
    "n_pixels"}`` (correlation over pixels valid in both, as given, without shifting), plus
    ``"rotation_deg"`` and ``"rotation_correlation"`` when ``rotation_max_deg`` is given.
    """
    grey_ours, valid_ours = load_grey(ours)
    grey_ref, valid_ref = load_grey(reference)
    grey_ours = fit_to_shape(grey_ours, grey_ref.shape)
    valid_ours = fit_to_shape(valid_ours, grey_ref.shape, fill=False)
    if valid_ours.sum() < 100 or valid_ref.sum() < 100:
        raise ProductError("one of the images has almost no valid pixels; nothing to compare")
    both = valid_ours & valid_ref
    weight = comparison_weight(both)
    core = weight > 0
    if core.sum() < 100:
        raise ProductError("the two images share almost no valid pixels; nothing to compare")
    detail_ours, detail_ref = detail(grey_ours, both), detail(grey_ref, both)
    dx, dy, peak = phase_correlation(_prepared(detail_ours, weight), _prepared(detail_ref, weight))
    result = {
        "offset_px": (dx, dy),
        "offset_norm_px": float(np.hypot(dx, dy)),
        "correlation": pearson(detail_ours, detail_ref, core),
        "correlation_brightness": pearson(grey_ours, grey_ref, core),
        "phase_peak": peak,
        "n_pixels": int(core.sum()),
    }
    if rotation_max_deg is not None:
        angle, score = rotation_search(
            detail(grey_ours, valid_ours), valid_ours, detail(grey_ref, valid_ref), valid_ref, rotation_max_deg
        )
        result["rotation_deg"] = angle
        result["rotation_correlation"] = score
    return result


MIN_TILE_PEAK = 0.15
"""Tiles whose phase-correlation peak is below this (no common structure) are left out of the
offset field."""


def offset_field(
    ours: str | Path | np.ndarray, reference: str | Path | np.ndarray, tile: int = 128, min_peak: float = MIN_TILE_PEAK
) -> np.ndarray:
    """The field of local offsets of ``ours`` against ``reference`` (prepared as in
    :func:`compare_with_reference`: grey, band-passed over the common valid region less its
    edge margin): rows (x_centre, y_centre, dx, dy, peak) of the tiles (see
    :func:`local_offsets`) whose peak is at least ``min_peak``; pixels of the reference."""
    grey_ours, valid_ours = load_grey(ours)
    grey_ref, valid_ref = load_grey(reference)
    grey_ours = fit_to_shape(grey_ours, grey_ref.shape)
    valid_ours = fit_to_shape(valid_ours, grey_ref.shape, fill=False)
    both = valid_ours & valid_ref
    core = comparison_weight(both) > 0
    tiles = local_offsets(detail(grey_ours, both), detail(grey_ref, both), core, tile)
    return tiles[tiles[:, 4] >= min_peak]


@dataclass(frozen=True)
class SimilarityFit:
    """The offset field (:func:`offset_field`) as one similarity transform about a centre:
    ``(dx, dy) = t + scale·(p − c) + rotation × (p − c)`` in reference pixels (y down).

    ``translation_px``: (dx, dy) at the centre ``centre_px``; ``scale``: fractional (−0.003 =
    ours must shrink by 0.3 % to lie on the reference); ``rotation_deg``: counter-clockwise on
    the screen, turning ours onto the reference; ``residual_rms_px``: RMS of the tile offsets
    about the fit (what no similarity explains); ``max_offset_px``: the largest offset the fit
    gives at any tile; ``n_tiles``."""

    translation_px: tuple[float, float]
    scale: float
    rotation_deg: float
    residual_rms_px: float
    max_offset_px: float
    n_tiles: int
    centre_px: tuple[float, float]

    def scale_px_at(self, radius_px: float) -> float:
        """The scale term as a radial displacement (px) at ``radius_px`` from the centre."""
        return self.scale * radius_px

    def rotation_px_at(self, radius_px: float) -> float:
        """The rotation as a tangential displacement (px) at ``radius_px`` from the centre."""
        return math.radians(self.rotation_deg) * radius_px

    def to_dict(self) -> dict:
        return asdict(self)


def fit_similarity(tiles: np.ndarray, centre: tuple[float, float] = (799.5, 799.5)) -> SimilarityFit:
    """Least-squares similarity (translation, scale, rotation) through an offset field (rows
    x, y, dx, dy[, …] as from :func:`offset_field`) about ``centre`` (reference pixels; the
    team's disc centre by default). Raises ProductError with fewer than 3 tiles."""
    tiles = np.asarray(tiles, float)
    if tiles.shape[0] < 3:
        raise ProductError("fewer than 3 tiles share structure with the reference; no field to fit")
    x, y = tiles[:, 0] - centre[0], tiles[:, 1] - centre[1]
    n = x.size
    design = np.zeros((2 * n, 4))
    design[:n, 0] = 1.0
    design[n:, 1] = 1.0
    design[:n, 2], design[n:, 2] = x, y
    # (dx, dy) = s·(x, y) + r·(−y, x) with y down: r > 0 turns clockwise on the screen.
    design[:n, 3], design[n:, 3] = -y, x
    observed = np.r_[tiles[:, 2], tiles[:, 3]]
    params = np.linalg.lstsq(design, observed, rcond=None)[0]
    model = design @ params
    residual = observed - model
    return SimilarityFit(
        translation_px=(float(params[0]), float(params[1])),
        scale=float(params[2]),
        rotation_deg=float(-np.degrees(params[3])),
        residual_rms_px=float(np.sqrt(np.mean(residual[:n] ** 2 + residual[n:] ** 2))),
        max_offset_px=float(np.max(np.hypot(model[:n], model[n:]))),
        n_tiles=int(n),
        centre_px=(float(centre[0]), float(centre[1])),
    )


def _band(image: np.ndarray, band: int) -> np.ndarray:
    """One colour band of an (H, W, C) array, with its alpha band kept where C is 2 or 4."""
    if image.shape[2] in (2, 4):
        return np.dstack([image[..., band], image[..., -1]])
    return image[..., band]


def channel_offsets(ours: np.ndarray, reference: np.ndarray, names: tuple[str, ...] = ("RED", "GREEN", "BLUE")) -> dict:
    """Per colour channel (same band order in both, e.g. R, G, B): our channel against the
    reference's (phase correlation, px); and each image's channels against its own middle one
    (``reference_vs_<name>``, ``ours_vs_<name>``: the misregistration of the colour planes
    within one image). Arrays (H, W, C) with an optional last alpha band."""
    ours, reference = np.asarray(ours), np.asarray(reference)
    middle = len(names) // 2
    out: dict = {}
    for band, name in enumerate(names):
        c = compare_with_reference(_band(ours, band), _band(reference, band))
        out[name] = {"offset_px": c["offset_px"], "correlation": c["correlation"]}
    for band, name in enumerate(names):
        if band == middle:
            continue
        key = f"{name}_vs_{names[middle]}"
        out[f"reference_{key}"] = compare_with_reference(_band(reference, band), _band(reference, middle))["offset_px"]
        out[f"ours_{key}"] = compare_with_reference(_band(ours, band), _band(ours, middle))["offset_px"]
    return out


@dataclass(frozen=True)
class OffsetBudget:
    """What a registration offset is made of (reference pixels; see ``docs/mapprojected.md``,
    "Remaining offset"): the offset field's similarity (:class:`SimilarityFit`) with its
    translation at the disc centre split along the spin scan (``along_scan_px``, positive
    where the scan runs) and across it (``across_scan_px``), and the along-scan part as a
    start-time difference (``timing_ms``: along / (px per radian of spin × spin rate))."""

    fit: SimilarityFit
    along_scan_px: float
    across_scan_px: float
    timing_ms: float

    def to_dict(self) -> dict:
        return {"fit": self.fit.to_dict(), "along_scan_px": self.along_scan_px,
                "across_scan_px": self.across_scan_px, "timing_ms": self.timing_ms}


def offset_budget(fit: SimilarityFit, scan_unit: np.ndarray, px_per_rad: float, spin_rate_rad_s: float) -> OffsetBudget:
    """Split ``fit``'s centre translation along and across the scan direction ``scan_unit``
    ((dx, dy) unit vector, e.g. from :func:`ioflyby.validate.mapprojected.scan_direction`, with
    its ``px_per_rad``) and express the along-scan part as a timing difference (ms) at
    ``spin_rate_rad_s``."""
    unit = np.asarray(scan_unit, float) / np.linalg.norm(scan_unit)
    across = np.array([unit[1], -unit[0]])
    t = np.asarray(fit.translation_px, float)
    along = float(t @ unit)
    return OffsetBudget(fit, along, float(t @ across), 1e3 * along / (px_per_rad * spin_rate_rad_s))
