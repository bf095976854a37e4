"""Tie points between JunoCam framelets and a reference map of the target, by phase correlation.

For one framelet and the current pose (spin attitude + timing offset):

1. surface points of a coarse lattice of pixels (every ``LATTICE_PX``; SPICE-free, per-ray light
   time as in ``FrameletPoses.rays_to_surface``), interpolated to the framelet binned
   ``BIN`` × ``BIN`` (so its ground scale is near the ~2 km of the Io mosaics);
2. the reference map sampled at those points and shaded like the image (Lambert, μ₀ from the
   ellipsoid normal and the Sun): the map *in the framelet's geometry* as the pose predicts it;
3. both band-passed (difference of Gaussians, ``BAND_SIGMAS_BINNED``, normalised convolution
   inside the usable mask: lit, not grazing, on the disc) and cut into square patches along the
   framelet; each patch normalised to zero mean and unit variance (so a mosaic of other
   brightness, epoch or colour serves) and windowed (Hann);
4. phase correlation of each patch pair (whitened cross-power spectrum, Kuglin & Hines 1975;
   sub-pixel peak from the larger neighbour on each axis, Foroosh et al. 2002), the peak
   searched within ± ``search_px``. The shift ``d`` (the image = the prediction moved by ``d``)
   makes a tie point: the surface point the pose puts at the patch centre ``p`` is seen at pixel
   ``p + d``.

The peak height (the normalised phase-correlation value, 0–1) and its distinctness (over the
best peak outside its neighbourhood) are kept; weak or ambiguous ones are dropped here, the rest
are weighed and screened against the fitted model (``ioflyby.pointing.tiefit``).

Pixels in the camera module's convention (centre of the upper-left pixel = (0, 0)); surface
points body-fixed km; angles rad.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import fft, ndimage

from ioflyby.camera import JunoCam
from ioflyby.camera.junocam import FRAMELET_LINES, FRAMELET_SAMPLES, PHOTOACTIVE_FIRST_SAMPLE, PHOTOACTIVE_SAMPLES
from ioflyby.geometry import FrameletPoses
from ioflyby.geometry.spin import SpinAttitude
from ioflyby.pointing.reference import ReferenceMap

BIN = 2
LATTICE_PX = 16
PATCH_BINNED = FRAMELET_LINES // BIN
PATCH_STEP_BINNED = PATCH_BINNED // 2
BAND_SIGMAS_BINNED = (0.8, 6.0)
MIN_COS_INCIDENCE = 0.2
MIN_COS_EMISSION = 0.3
MIN_USABLE_FRACTION = 0.85
MIN_PEAK = 0.04
MIN_DISTINCTNESS = 1.25
RELATIVE_TEXTURE = 0.05
"""A patch's band-passed reference must vary by this fraction of its mean brightness (a blank or
featureless map gives none)."""


@dataclass(frozen=True)
class TiePoints:
    """Tie points of one product (arrays of equal length N).

    Attributes:
        exposure, filter_index: the framelet.
        sample, line: the pixel where ``surface_km`` is seen (observed, sub-pixel).
        surface_km: body-fixed surface point (km) of the reference map seen there.
        peak: phase-correlation peak height (0-1); distinctness: its ratio to the next peak.
    """

    exposure: np.ndarray
    filter_index: np.ndarray
    sample: np.ndarray
    line: np.ndarray
    surface_km: np.ndarray
    peak: np.ndarray
    distinctness: np.ndarray

    def __len__(self) -> int:
        return int(self.sample.size)

    def subset(self, keep: np.ndarray) -> TiePoints:
        return TiePoints(*(getattr(self, name)[keep] for name in self.__dataclass_fields__))

    @classmethod
    def concatenate(cls, parts: list[TiePoints]) -> TiePoints:
        if not parts:
            return cls(*(np.zeros((0, 3)) if name == "surface_km" else np.zeros(0)
                         for name in cls.__dataclass_fields__))
        return cls(*(np.concatenate([getattr(p, name) for p in parts]) for name in cls.__dataclass_fields__))


def _binned(framelet: np.ndarray) -> np.ndarray:
    """Mean over BIN × BIN pixels (lines, samples)."""
    lines, samples = framelet.shape
    return framelet.reshape(lines // BIN, BIN, samples // BIN, BIN).mean(axis=(1, 3))


def binned_to_pixel(index: np.ndarray) -> np.ndarray:
    """Framelet pixel coordinate of a binned pixel coordinate."""
    return BIN * np.asarray(index, float) + 0.5 * (BIN - 1)


def band_pass(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Difference of Gaussians (``BAND_SIGMAS_BINNED``) by normalised convolution within
    ``mask`` (0 outside it)."""
    weight = mask.astype(np.float64)
    values = np.where(mask, image, 0.0)
    out = []
    for sigma in BAND_SIGMAS_BINNED:
        num = ndimage.gaussian_filter(values, sigma, mode="nearest")
        den = ndimage.gaussian_filter(weight, sigma, mode="nearest")
        out.append(num / np.maximum(den, 1e-6))
    return np.where(mask, out[0] - out[1], 0.0)


class FrameletProjector:
    """Surface points of framelet pixels for a pose: rays of a coarse pixel lattice per filter
    (cached) and their interpolation to the binned framelet."""

    def __init__(self, camera: JunoCam, radii: np.ndarray):
        self.camera = camera
        self.radii = np.asarray(radii, float)
        self.lattice_lines = np.arange(0, FRAMELET_LINES + LATTICE_PX, LATTICE_PX, dtype=float)
        self.lattice_samples = np.arange(0, FRAMELET_SAMPLES + LATTICE_PX, LATTICE_PX, dtype=float)
        self._rays: dict[str, np.ndarray] = {}
        rows = binned_to_pixel(np.arange(FRAMELET_LINES // BIN)) / LATTICE_PX
        cols = binned_to_pixel(np.arange(FRAMELET_SAMPLES // BIN)) / LATTICE_PX
        self.binned_coords = np.stack(np.meshgrid(rows, cols, indexing="ij"))

    def rays(self, filter_name: str) -> np.ndarray:
        if filter_name not in self._rays:
            lines, samples = np.meshgrid(self.lattice_lines, self.lattice_samples, indexing="ij")
            self._rays[filter_name] = self.camera.pixel_to_ray(filter_name, samples, lines)
        return self._rays[filter_name]

    def surface(self, filter_name: str, pose: FrameletPoses) -> np.ndarray | None:
        """Body-fixed surface points (km) of the binned framelet's pixels (lines/BIN, samples/BIN, 3),
        NaN off the disc; None when the framelet does not see the target."""
        lattice = pose.rays_to_surface(self.rays(filter_name), self.radii)
        if not np.isfinite(lattice[..., 0]).any():
            return None
        return np.stack([ndimage.map_coordinates(lattice[..., k], self.binned_coords, order=1, mode="nearest",
                                                 cval=np.nan) for k in range(3)], axis=-1)


def shaded_reference(reference: ReferenceMap, surface: np.ndarray, pose: FrameletPoses, radii: np.ndarray):
    """(the reference shaded as the image is (Lambert), the usable mask: on the target, lit and
    seen within the incidence/emission limits) at the body-fixed ``surface`` points (km, NaN off
    the target) seen from ``pose``."""
    finite = np.isfinite(surface[..., 0])
    points = np.where(finite[..., None], surface, radii)
    normal = points / radii**2
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    mu0 = normal @ pose.sun_direction
    to_observer = pose.observer_km - points
    mu = np.einsum("...i,...i->...", normal, to_observer) / np.linalg.norm(to_observer, axis=-1)
    usable = finite & (mu0 > MIN_COS_INCIDENCE) & (mu > MIN_COS_EMISSION)
    return np.where(usable, reference.sample_points(points) * np.clip(mu0, 0.0, None), 0.0), usable


def _predicted(reference: ReferenceMap, surface: np.ndarray, pose: FrameletPoses, radii: np.ndarray):
    """:func:`shaded_reference` on the binned framelet, within JunoCam's photoactive columns."""
    shaded, usable = shaded_reference(reference, surface, pose, radii)
    first = int(np.ceil(PHOTOACTIVE_FIRST_SAMPLE / BIN)) + 1
    last = (PHOTOACTIVE_FIRST_SAMPLE + PHOTOACTIVE_SAMPLES) // BIN - 1
    usable[:, :first] = False
    usable[:, last:] = False
    return np.where(usable, shaded, 0.0), usable


def _patches(image: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.stack([image[:, s:s + PATCH_BINNED] for s in starts])


def phase_correlate(image: np.ndarray, prediction: np.ndarray, search: float) -> tuple[np.ndarray, ...]:
    """Shifts (P, 2) [lines, samples] with image ≈ prediction moved by the shift, peak heights
    (P,) and distinctness (P,) of patch pairs (P, n, n) (already normalised and windowed); the
    peak is searched within ± ``search`` (binned pixels) of zero."""
    n = image.shape[-1]
    cross = fft.rfft2(image) * np.conj(fft.rfft2(prediction))
    cross /= np.maximum(np.abs(cross), 1e-12)
    surface = fft.irfft2(cross, s=(n, n))
    surface = fft.fftshift(surface, axes=(-2, -1))
    centre = n // 2
    offsets = np.arange(n) - centre
    allowed = (np.abs(offsets)[:, None] <= search) & (np.abs(offsets)[None, :] <= search)
    masked = np.where(allowed, surface, -np.inf).reshape(surface.shape[0], -1)
    best = np.argmax(masked, axis=1)
    rows, cols = np.divmod(best, n)
    p = np.arange(surface.shape[0])
    peak = surface[p, rows, cols]

    def vertex(minus, zero, plus):
        # Foroosh, Zerubia & Berthod (2002): the sub-pixel offset of a phase-correlation peak from
        # the larger of its neighbours (the peak of a shifted impulse is a Dirichlet kernel).
        minus, plus = np.clip(minus, 0.0, None), np.clip(plus, 0.0, None)
        with np.errstate(invalid="ignore", divide="ignore"):
            right = plus / (plus + zero)
            left = -minus / (minus + zero)
        return np.nan_to_num(np.where(plus >= minus, right, left))

    dr = vertex(surface[p, (rows - 1) % n, cols], peak, surface[p, (rows + 1) % n, cols])
    dc = vertex(surface[p, rows, (cols - 1) % n], peak, surface[p, rows, (cols + 1) % n])
    shifts = np.column_stack([rows - centre + dr, cols - centre + dc])
    near = (np.abs(offsets[None, :, None] - offsets[rows][:, None, None]) <= 2) & \
           (np.abs(offsets[None, None, :] - offsets[cols][:, None, None]) <= 2)
    others = np.where(near | ~allowed[None], -np.inf, surface).reshape(surface.shape[0], -1).max(axis=1)
    distinct = peak / np.maximum(others, 1e-6)
    return shifts, peak, distinct


def match_framelet(
    image: np.ndarray, filter_name: str, pose: FrameletPoses, projector: FrameletProjector,
    reference: ReferenceMap, search: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Tie points of one framelet (``image``: linear DN, 128 × 1648) for ``pose`` (its attitude
    the current one): (pixel (K, 2) [sample, line], surface points (K, 3) km, peak, distinctness,
    patch texture) or None where nothing usable is in view. ``search``: binned pixels."""
    surface = projector.surface(filter_name, pose)
    if surface is None:
        return None
    predicted, usable = _predicted(reference, surface, pose, projector.radii)
    if usable.mean() < 0.5 * MIN_USABLE_FRACTION * PATCH_BINNED / usable.shape[1]:
        return None
    starts = np.arange(0, usable.shape[1] - PATCH_BINNED + 1, PATCH_STEP_BINNED)
    fraction = np.array([usable[:, s:s + PATCH_BINNED].mean() for s in starts])
    starts = starts[fraction >= MIN_USABLE_FRACTION]
    if starts.size == 0:
        return None
    observed = band_pass(_binned(np.asarray(image, np.float64)), usable)
    model = band_pass(predicted, usable)
    mask = _patches(usable, starts)
    a, b = _patches(observed, starts), _patches(model, starts)
    level = np.array([predicted[:, s:s + PATCH_BINNED][usable[:, s:s + PATCH_BINNED]].mean() for s in starts])
    texture = np.array([b[k][mask[k]].std() for k in range(len(starts))]) / np.maximum(level, 1e-12)
    window = np.outer(np.hanning(PATCH_BINNED), np.hanning(PATCH_BINNED))
    pairs = []
    for stack in (a, b):
        mean = np.array([s[m].mean() for s, m in zip(stack, mask)])
        std = np.array([s[m].std() for s, m in zip(stack, mask)])
        pairs.append(np.where(mask, (stack - mean[:, None, None]) / np.maximum(std, 1e-12)[:, None, None], 0.0) * window)
    shifts, peak, distinct = phase_correlate(pairs[0], pairs[1], search)
    centre = PATCH_BINNED / 2 - 0.5
    centre_binned = np.column_stack([np.full(starts.size, centre), starts + centre])  # [line, sample]
    # The surface point the pose puts at the patch centre (interpolated on the binned grid).
    ground = np.stack([ndimage.map_coordinates(surface[..., k], centre_binned.T, order=1) for k in range(3)], axis=-1)
    seen = binned_to_pixel(centre_binned + shifts)
    return np.column_stack([seen[:, 1], seen[:, 0]]), ground, peak, distinct, texture


def match_product(
    images: np.ndarray, filters: tuple[str, ...], ephemeris: FrameletPoses, framelets: np.ndarray,
    attitude: SpinAttitude, dt: float, projector: FrameletProjector, reference: ReferenceMap, search: float,
) -> TiePoints:
    """Tie points of every framelet in ``framelets`` (flat indices exposure·n_filters + filter;
    ``ephemeris`` holds their poses at the nominal epochs, in that order) for the pose
    (``attitude``, timing offset ``dt`` s). ``images``: linear DN [exposure, filter, 128, 1648].
    Weak (peak < MIN_PEAK), ambiguous (distinctness < MIN_DISTINCTNESS) and featureless
    (texture < RELATIVE_TEXTURE) patches are dropped."""
    n_filters = len(filters)
    cameras = attitude.camera_to_j2000(ephemeris.et, dt)
    parts = []
    for k, flat in enumerate(framelets):
        exposure, filter_index = divmod(int(flat), n_filters)
        pose = replace(ephemeris[k], camera_to_j2000=cameras[k])
        found = match_framelet(images[exposure, filter_index], filters[filter_index], pose, projector, reference,
                               search)
        if found is None:
            continue
        pixel, ground, peak, distinct, texture = found
        keep = (peak >= MIN_PEAK) & (distinct >= MIN_DISTINCTNESS) & (texture >= RELATIVE_TEXTURE) & \
            np.isfinite(ground[:, 0])
        if not keep.any():
            continue
        count = int(keep.sum())
        parts.append(TiePoints(np.full(count, exposure), np.full(count, filter_index), pixel[keep, 0],
                               pixel[keep, 1], ground[keep], peak[keep], distinct[keep]))
    return TiePoints.concatenate(parts)
