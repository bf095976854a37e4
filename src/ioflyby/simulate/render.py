"""Render JunoCam raw framelets of a target from the loaded (truth) kernels.

For every framelet (exposure n, filter f) the geometry is taken at mid-exposure
(``JunoCam.framelet_mid_et``) with ``ioflyby.geometry.FrameletPoses.from_spice`` — the same convention as
every reconstruction stage (LT+S, per-pixel light time). Pipeline per pixel:

ray (camera model) → limb prefilter → ellipsoid intercept → planetocentric lat/lon → basemap
albedo → Minnaert shading ``I/F = A μ₀^k μ^(k−1)`` (k = 1: Lambert) with the Sun (plus, with
``RenderEffects.jupiter_shine``, Jupiter's reflected light: :mod:`ioflyby.simulate.jupitershine`)
→ optionally (``RenderEffects.pixel_supersampling``, ``surface_psf``) averaged over n × n
sub-pixel rays and blurred by the camera PSF → per-filter responsivity × TDI stages ×
(5.2 AU / d_sun)² → plus thermal hot spots
(:mod:`ioflyby.simulate.thermal`: passband-integrated black bodies, PSF, pixel integration) →
optional radiation hits → blooming at the 12-bit full scale → dark level, shot noise (gain e⁻/DN)
and read noise → 12-bit integer DN → SQROOT companding (ingest's ``compand_sqroot``). Sky pixels
get the dark level and noise only (Jupiter is not rendered).

Radiometric constants (documented approximations, :mod:`ioflyby.volcano.thermal`): DN per unit
I/F per TDI stage at 5.2 AU BLUE 550, GREEN 800, RED 800, METHANE 60; dark 8 DN, read noise 2 DN,
gain 10 e⁻/DN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from scipy.ndimage import gaussian_filter

from ioflyby.camera import COLOUR_FILTERS, FRAMELET_LINES, FRAMELET_SAMPLES, JunoCam
from ioflyby.camera.junocam import PHOTOACTIVE_FIRST_SAMPLE, PHOTOACTIVE_SAMPLES
from ioflyby.errors import ScenarioError
from ioflyby.geometry import (
    FrameletPoses,
    planetocentric_latlon,
    surface_normals,
    target_radii,
)
from ioflyby.ingest import compand_sqroot
from ioflyby.simulate.basemap import Basemap
from ioflyby.simulate.jupitershine import JupiterLight, jupiter_light
from ioflyby.simulate.thermal import JUNOCAM_PSF_SIGMA_PX, HotSpot, HotSpotField, SpotImage, deposit
from ioflyby.volcano.thermal import RESPONSIVITY_DN, planck_radiance

__all__ = ["JUNOCAM_PSF_SIGMA_PX", "FrameletRenderer", "FrameletSignal", "HotSpot", "ImagingSpec", "NoiseModel",
           "RenderEffects", "RenderResult", "bloom", "planck_radiance"]

TDI_STAGE_MS = 3.2
"""Exposure per TDI stage: EXPOSURE_DURATION = TDI × 3.2 ms in real JunoCam labels."""
AU_KM = 149597870.7
REFERENCE_SUN_DISTANCE_KM = 5.2 * AU_KM
_PREFILTER_MARGIN_RAD = 3e-3
_MAX_DN = 4095
RADIATION_HIT_DN = (100.0, 3000.0)
"""Radiation hits deposit a charge drawn log-uniformly in this range (DN)."""
RADIATION_STREAK_FRACTION = 0.3
"""Share of radiation hits that are a two-pixel streak (the charge split between neighbours)."""


@dataclass(frozen=True)
class NoiseModel:
    """Detector model: dark level, read noise (DN), gain (electrons per DN)."""

    dark_dn: float = 8.0
    read_noise_dn: float = 2.0
    gain_e_per_dn: float = 10.0


@dataclass(frozen=True)
class RenderEffects:
    """Optional effects of the renderer. ``psf_sigma_px``: the camera PSF for hot spots (Gaussian σ,
    px; 0 = a point source in one pixel); ``blooming``: charge above the 12-bit full scale spills
    along the detector column (the line direction) before the ADC clips; ``jupiter_shine``:
    Jupiter's reflected light on the surface; ``radiation_hits_per_framelet``: mean number
    (Poisson) of single-framelet charge deposits (one pixel, or a two-pixel streak);
    ``pixel_supersampling``: n > 1 integrates each pixel's signal over its area, the mean of
    n × n rays at sub-pixel offsets ((i + ½)/n − ½ px), so edges and the limb are box-filtered as
    on a real detector (1: the pixel centre only); ``surface_psf``: the surface's signal is also
    blurred by the camera PSF (the Gaussian of ``psf_sigma_px``, as hot spots are)."""

    psf_sigma_px: float = 0.0
    blooming: bool = False
    jupiter_shine: bool = False
    radiation_hits_per_framelet: float = 0.0
    pixel_supersampling: int = 1
    surface_psf: bool = False

    def __post_init__(self) -> None:
        if not (self.psf_sigma_px >= 0 and self.radiation_hits_per_framelet >= 0):
            raise ScenarioError(f"the PSF sigma ({self.psf_sigma_px} px) and the radiation-hit rate "
                                f"({self.radiation_hits_per_framelet} per framelet) cannot be negative")
        if not (isinstance(self.pixel_supersampling, int) and 1 <= self.pixel_supersampling <= 8):
            raise ScenarioError(f"pixel_supersampling must be an integer from 1 to 8, got {self.pixel_supersampling!r}")

    @classmethod
    def junocam(cls, **changes) -> RenderEffects:
        """What JunoCam would see: the PSF and blooming on (Jupiter-shine and radiation hits as given)."""
        return cls(**{"psf_sigma_px": JUNOCAM_PSF_SIGMA_PX, "blooming": True, **changes})


@dataclass(frozen=True)
class ImagingSpec:
    """One planned image: label START_TIME (UTC), exposures, interframe delay (s), TDI, filters."""

    start_utc: str
    n_exposures: int = 30
    interframe_delay_s: float = 0.372
    tdi: int = 3
    filters: tuple[str, ...] = COLOUR_FILTERS

    @property
    def exposure_s(self) -> float:
        """EXPOSURE_DURATION in seconds (TDI × 3.2 ms)."""
        return self.tdi * TDI_STAGE_MS * 1e-3


@dataclass
class RenderResult:
    """Stored 8-bit framelets ``[exposure, filter, 128, 1648]`` and the render truth: sampled
    on-target pixels, every hot spot's image per framelet, the number of radiation hits."""

    framelets: np.ndarray
    truth_pixels: list[dict] = field(default_factory=list)
    target_pixels: int = 0
    seconds: float = 0.0
    hot_spot_images: list[dict] = field(default_factory=list)
    radiation_hits: int = 0


class FrameletSignal(NamedTuple):
    """Noise-free signal DN of one framelet (flat, 128·1648), the indices of on-target pixels,
    their surface points (body-fixed km), the pose and the hot spots imaged."""

    signal: np.ndarray
    index: np.ndarray
    points: np.ndarray
    pose: FrameletPoses
    hot_spots: list[SpotImage]


def bloom(signal: np.ndarray, full_well: float) -> np.ndarray:
    """Spill the charge above ``full_well`` along each column (axis 0 of [lines, samples]), half
    up and half down, until no pixel exceeds it (charge past the framelet's edge is lost)."""
    columns = np.nonzero((signal > full_well).any(axis=0))[0]
    if columns.size == 0:
        return signal
    block = signal[:, columns].astype(np.float64)
    for _ in range(16 * signal.shape[0]):
        excess = np.clip(block - full_well, 0.0, None)
        if not excess.any():
            break
        block -= excess
        block[1:] += 0.5 * excess[:-1]
        block[:-1] += 0.5 * excess[1:]
    out = signal.copy()
    out[:, columns] = np.minimum(block, full_well)
    return out


class FrameletRenderer:
    """Renders framelets with a fixed camera, basemap, detector model and effects (rays cached per filter)."""

    def __init__(self, camera: JunoCam, basemap: Basemap, target: str = "IO", radii: np.ndarray | None = None,
                 minnaert_k: float = 1.0, noise: NoiseModel = NoiseModel(),
                 hot_spots: Sequence[HotSpot] = (), observer: str = "JUNO", effects: RenderEffects = RenderEffects()):
        self.camera = camera
        self.basemap = basemap
        self.target = target
        self.observer = observer
        self.radii = np.asarray(radii if radii is not None else target_radii(target), float)
        self.minnaert_k = float(minnaert_k)
        self.noise = noise
        self.effects = effects
        self.hot_spots = tuple(hot_spots)
        self._spots = HotSpotField(self.hot_spots, self.radii, effects.psf_sigma_px)
        self._rays: dict[str, np.ndarray] = {}
        self._lut = compand_sqroot(np.arange(_MAX_DN + 1, dtype=np.float64))
        self._saturation_dn = int(np.argmax(self._lut == self._lut[-1]))
        lines, samples = np.mgrid[0:FRAMELET_LINES, 0:FRAMELET_SAMPLES]
        self._grid = (samples.ravel(), lines.ravel())
        active = np.zeros((FRAMELET_LINES, FRAMELET_SAMPLES), bool)
        active[:, PHOTOACTIVE_FIRST_SAMPLE:PHOTOACTIVE_FIRST_SAMPLE + PHOTOACTIVE_SAMPLES] = True
        self._active2d = active
        self._active = active.ravel()

    def rays(self, filter_name: str, offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
        """Unit rays (128·1648, 3) in JUNO_JUNOCAM for every pixel of a framelet of ``filter_name``,
        at (sample, line) ``offset`` px from the pixel centres."""
        key = filter_name if offset == (0.0, 0.0) else f"{filter_name}@{offset[0]:.6f},{offset[1]:.6f}"
        if key not in self._rays:
            samples, lines = self._grid
            self._rays[key] = self.camera.pixel_to_ray(filter_name, samples + offset[0], lines + offset[1])
        return self._rays[key]

    def _sub_offsets(self) -> list[tuple[float, float]]:
        """(sample, line) offsets (px) of the n × n sub-samples of pixel integration."""
        n = self.effects.pixel_supersampling
        steps = [(i + 0.5) / n - 0.5 for i in range(n)]
        return [(ds, dl) for dl in steps for ds in steps]

    # -- one framelet ---------------------------------------------------------------------------
    def signal(self, filter_name: str, et: float, tdi: int) -> FrameletSignal:
        """Noise-free signal of one framelet at mid-exposure ``et`` (see :class:`FrameletSignal`).
        With ``effects.pixel_supersampling`` n > 1 the surface signal is the mean over n × n
        sub-pixel rays (sky sub-samples contribute nothing); the on-target ``index`` and
        ``points`` stay those of the pixel centres."""
        pose = FrameletPoses.from_spice(self.target, [et], self.observer, self.camera.frame)[0]
        signal = np.zeros(FRAMELET_LINES * FRAMELET_SAMPLES, np.float32)
        distance = float(np.linalg.norm(pose.target_position_km))
        direction = pose.camera_to_j2000.T @ (pose.target_position_km / distance)
        radius = float(np.max(self.radii))
        nothing = np.empty(0, np.int64), np.empty((0, 3))
        if distance <= radius:
            return FrameletSignal(signal, *nothing, pose, [])
        cos_limit = math.cos(math.asin(radius / distance) + _PREFILTER_MARGIN_RAD)
        scale = RESPONSIVITY_DN[filter_name] * tdi * (REFERENCE_SUN_DISTANCE_KM / pose.sun_distance_km) ** 2
        light: list[JupiterLight] = []  # Jupiter's light, computed once when first needed
        index, points, i_over_f, seen = self._surface(filter_name, self.rays(filter_name), pose, direction,
                                                      cos_limit, light)
        if self.effects.pixel_supersampling == 1:
            signal[index] = (i_over_f * scale).astype(np.float32)
        else:
            offsets = self._sub_offsets()
            total = np.zeros(signal.size, np.float64)
            for offset in offsets:
                sub_index, _, sub_if, sub_seen = self._surface(filter_name, self.rays(filter_name, offset), pose,
                                                               direction, cos_limit, light)
                total[sub_index] += sub_if
                seen = seen or sub_seen
            signal[:] = (total * (scale / len(offsets))).astype(np.float32)
        if not seen:
            return FrameletSignal(signal, *nothing, pose, [])
        if self.effects.surface_psf and self.effects.psf_sigma_px > 0:
            plane = signal.reshape(FRAMELET_LINES, FRAMELET_SAMPLES)
            plane[:] = gaussian_filter(plane, self.effects.psf_sigma_px, mode="constant", truncate=4.0)
        spots = self._spots.images(self.camera, filter_name, pose, tdi)
        plane = signal.reshape(FRAMELET_LINES, FRAMELET_SAMPLES)
        for spot in spots:
            deposit(plane, spot, self._active2d)
        return FrameletSignal(signal, index, points, pose, spots)

    def _surface(self, filter_name: str, rays: np.ndarray, pose: FrameletPoses, direction: np.ndarray,
                 cos_limit: float, light: list[JupiterLight]) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """Flat indices of the photoactive pixels whose ``rays`` meet the surface, their surface
        points (body-fixed km), I/F there (basemap albedo × Minnaert shading, + Jupiter-shine) and
        whether any ray passed the limb prefilter. ``light``: a cache (empty, or Jupiter's light)."""
        candidates = np.nonzero(self._active & (rays @ direction > cos_limit))[0]
        if candidates.size == 0:
            return np.empty(0, np.int64), np.empty((0, 3)), np.empty(0), False
        points = pose.rays_to_surface(rays[candidates], self.radii)
        hit = ~np.isnan(points[:, 0])
        index, points = candidates[hit], points[hit]
        lat, lon = planetocentric_latlon(points)
        albedo = self.basemap.sample(filter_name, lat, lon)
        normals = surface_normals(points, self.radii)
        to_sun = pose.sun_km - points
        to_obs = pose.observer_km - points
        mu0 = np.einsum("ij,ij->i", normals, to_sun) / np.linalg.norm(to_sun, axis=1)
        mu = np.einsum("ij,ij->i", normals, to_obs) / np.linalg.norm(to_obs, axis=1)
        mu0c = np.clip(mu0, 0.0, None)
        muc = np.clip(mu, 1e-3, None)
        k = self.minnaert_k
        illumination = mu0c if k == 1.0 else mu0c**k
        if self.effects.jupiter_shine:
            if not light:
                light.append(self._jupiter(pose))
            shine = light[0]
            illumination = illumination + shine.fraction_of_sunlight(filter_name) * shine.cosines(points, normals) ** k
        i_over_f = albedo * illumination if k == 1.0 else albedo * illumination * (muc ** (k - 1.0))
        return index, points, i_over_f, True

    def _jupiter(self, pose: FrameletPoses) -> JupiterLight:
        return jupiter_light(self.target, pose.body_frame, float(pose.et - pose.light_time_s))

    def add_radiation_hits(self, signal: np.ndarray, rng: np.random.Generator) -> int:
        """Add this framelet's radiation hits (Poisson count, log-uniform charge, some two-pixel
        streaks) to ``signal`` [lines, samples] in place; returns their number."""
        rate = self.effects.radiation_hits_per_framelet
        if rate <= 0:
            return 0
        count = int(rng.poisson(rate))
        lines = rng.integers(0, FRAMELET_LINES, count)
        samples = rng.integers(PHOTOACTIVE_FIRST_SAMPLE, PHOTOACTIVE_FIRST_SAMPLE + PHOTOACTIVE_SAMPLES - 1, count)
        charge = np.exp(rng.uniform(*np.log(RADIATION_HIT_DN), count))
        streak = rng.random(count) < RADIATION_STREAK_FRACTION
        share = np.where(streak, rng.uniform(0.3, 0.7, count), 1.0)
        np.add.at(signal, (lines, samples), (charge * share).astype(signal.dtype))
        np.add.at(signal, (lines[streak], samples[streak] + 1), (charge * (1 - share))[streak].astype(signal.dtype))
        return count

    def digitise(self, signal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Signal DN → (blooming) → dark + shot + read noise → 12-bit integers → SQROOT codes (uint8)."""
        noise = self.noise
        if self.effects.blooming:
            shape = signal.shape
            signal = bloom(signal.reshape(-1, FRAMELET_SAMPLES), _MAX_DN - noise.dark_dn).reshape(shape)
        total = signal + np.float32(noise.dark_dn)
        sigma = np.sqrt(np.maximum(total, 0) / np.float32(noise.gain_e_per_dn) + np.float32(noise.read_noise_dn**2))
        total += rng.standard_normal(total.shape, dtype=np.float32) * sigma
        dn = np.clip(np.rint(total), 0, _MAX_DN).astype(np.int32)
        return self._lut[dn]

    # -- one product ----------------------------------------------------------------------------
    def render(self, spec: ImagingSpec, true_start_et: float, rng: np.random.Generator,
               truth_pixels: int = 100, progress=None) -> RenderResult:
        """Render every framelet of ``spec`` whose exposures truly start at ``true_start_et``
        (label START_TIME plus any injected timing offset). Returns the uint8 cube, a random
        sample of on-target pixels with their mid-exposure ET and planetocentric lat/lon, and
        every hot spot's image (framelet, centre, geometry, total DN, whether it saturated)."""
        import time

        began = time.perf_counter()
        n_filters = len(spec.filters)
        cube = np.empty((spec.n_exposures, n_filters, FRAMELET_LINES, FRAMELET_SAMPLES), np.uint8)
        picks: list[dict] = []
        spot_images: list[dict] = []
        on_target = hits = 0
        for n in range(spec.n_exposures):
            for j, name in enumerate(spec.filters):
                et = float(self.camera.framelet_mid_et(name, true_start_et, spec.interframe_delay_s, n, spec.exposure_s))
                signal, index, points, _, spots = self.signal(name, et, spec.tdi)
                plane = signal.reshape(FRAMELET_LINES, FRAMELET_SAMPLES)
                spot_images += [self._spot_truth(spot, plane, n, name, et) for spot in spots]
                hits += self.add_radiation_hits(plane, rng)
                cube[n, j] = self.digitise(signal, rng).reshape(FRAMELET_LINES, FRAMELET_SAMPLES)
                on_target += index.size
                if index.size:
                    chosen = rng.choice(index.size, size=min(8, index.size), replace=False)
                    lat, lon = planetocentric_latlon(points[chosen])
                    for c, la, lo in zip(chosen, lat, lon):
                        picks.append({
                            "exposure": n, "filter": name,
                            "sample": int(index[c] % FRAMELET_SAMPLES), "line": int(index[c] // FRAMELET_SAMPLES),
                            "et": et, "lat_deg": math.degrees(la),
                            "lon_east_deg": math.degrees(lo) % 360.0, "lon_west_deg": (-math.degrees(lo)) % 360.0,
                        })
            if progress is not None:
                progress()
        if len(picks) > truth_pixels:
            keep = sorted(rng.choice(len(picks), size=truth_pixels, replace=False))
            picks = [picks[i] for i in keep]
        return RenderResult(cube, picks, on_target, time.perf_counter() - began, spot_images, hits)

    def _spot_truth(self, spot: SpotImage, plane: np.ndarray, exposure: int, filter_name: str, et: float) -> dict:
        """A hot spot's image in one framelet for truth.json; ``saturated`` when a pixel within
        one pixel of its centre, noise-free, reaches the stored 8-bit code's ceiling."""
        s, l = int(np.floor(spot.sample + 0.5)), int(np.floor(spot.line + 0.5))
        box = plane[max(l - 1, 0):l + 2, max(s - 1, 0):s + 2]
        peak = float(box.max()) if box.size else 0.0
        return dict(spot.truth(), exposure=exposure, filter=filter_name, et=et,
                    saturated=bool(peak + self.noise.dark_dn >= self._saturation_dn))
