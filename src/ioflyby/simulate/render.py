"""Render JunoCam raw framelets of a target from the loaded (truth) kernels.

For every framelet (exposure n, filter f) the geometry is taken at mid-exposure
(``JunoCam.framelet_mid_et``) with ``ioflyby.geometry.FrameletPoses.from_spice`` — the same convention as
every reconstruction stage (LT+S, per-pixel light time). Pipeline per pixel:

ray (camera model) → limb prefilter → ellipsoid intercept → planetocentric lat/lon → basemap
albedo → Minnaert shading ``I/F = A μ₀^k μ^(k−1)`` (k = 1: Lambert) with the Sun → per-filter
responsivity × TDI stages × (5.2 AU / d_sun)² → plus night-side thermal hot spots → dark level,
shot noise (gain e⁻/DN) and read noise → 12-bit integer DN → SQROOT companding (ingest's
``compand_sqroot``). Sky pixels get the dark level and noise only (Jupiter is not rendered).

Radiometric constants (documented approximations, DN per unit I/F per TDI stage at 5.2 AU):
BLUE 550, GREEN 800, RED 800, METHANE 60; dark 8 DN, read noise 2 DN, gain 10 e⁻/DN.
Hot spots: black body at ``temperature_k`` and ``area_km2``, deposited in the pixel that contains
its centre (point source), as I/F-equivalent ``π B_λ(T) / F_sun(λ)`` times the spot's share of
the pixel footprint; effective wavelengths 480/550/700/889 nm and solar irradiances at 1 AU of
2.05/1.86/1.40/0.95 W m⁻² nm⁻¹.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ioflyby.camera import COLOUR_FILTERS, FRAMELET_LINES, FRAMELET_SAMPLES, JunoCam
from ioflyby.camera.junocam import PHOTOACTIVE_FIRST_SAMPLE, PHOTOACTIVE_SAMPLES
from ioflyby.geometry import (
    FrameletPoses,
    latlon_to_surface,
    planetocentric_latlon,
    surface_normals,
    target_radii,
)
from ioflyby.ingest import compand_sqroot
from ioflyby.simulate.basemap import Basemap

TDI_STAGE_MS = 3.2
"""Exposure per TDI stage: EXPOSURE_DURATION = TDI × 3.2 ms in real JunoCam labels."""
RESPONSIVITY_DN = {"BLUE": 550.0, "GREEN": 800.0, "RED": 800.0, "METHANE": 60.0}
WAVELENGTH_NM = {"BLUE": 480.0, "GREEN": 550.0, "RED": 700.0, "METHANE": 889.0}
SOLAR_IRRADIANCE_1AU = {"BLUE": 2.05, "GREEN": 1.86, "RED": 1.40, "METHANE": 0.95}
AU_KM = 149597870.7
REFERENCE_SUN_DISTANCE_KM = 5.2 * AU_KM
_PREFILTER_MARGIN_RAD = 3e-3
_MAX_DN = 4095


@dataclass(frozen=True)
class HotSpot:
    """A thermal source on the surface: planetocentric latitude, east longitude (deg), K, km²."""

    lat_deg: float
    lon_east_deg: float
    temperature_k: float
    area_km2: float


@dataclass(frozen=True)
class NoiseModel:
    """Detector model: dark level, read noise (DN), gain (electrons per DN)."""

    dark_dn: float = 8.0
    read_noise_dn: float = 2.0
    gain_e_per_dn: float = 10.0


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
    """Stored 8-bit framelets ``[exposure, filter, 128, 1648]`` and the render truth."""

    framelets: np.ndarray
    truth_pixels: list[dict] = field(default_factory=list)
    target_pixels: int = 0
    seconds: float = 0.0


def planck_radiance(wavelength_nm: float, temperature_k: float) -> float:
    """Black-body spectral radiance, W m⁻² sr⁻¹ nm⁻¹."""
    h, c, k = 6.62607015e-34, 299792458.0, 1.380649e-23
    lam = wavelength_nm * 1e-9
    x = h * c / (lam * k * temperature_k)
    if x > 700:
        return 0.0
    return 2 * h * c * c / lam**5 / math.expm1(x) * 1e-9


class FrameletRenderer:
    """Renders framelets with a fixed camera, basemap and detector model (rays cached per filter)."""

    def __init__(self, camera: JunoCam, basemap: Basemap, target: str = "IO", radii: np.ndarray | None = None,
                 minnaert_k: float = 1.0, noise: NoiseModel = NoiseModel(),
                 hot_spots: Sequence[HotSpot] = (), observer: str = "JUNO"):
        self.camera = camera
        self.basemap = basemap
        self.target = target
        self.observer = observer
        self.radii = np.asarray(radii if radii is not None else target_radii(target), float)
        self.minnaert_k = float(minnaert_k)
        self.noise = noise
        self.hot_spots = tuple(hot_spots)
        self._rays: dict[str, np.ndarray] = {}
        self._lut = compand_sqroot(np.arange(_MAX_DN + 1, dtype=np.float64))
        lines, samples = np.mgrid[0:FRAMELET_LINES, 0:FRAMELET_SAMPLES]
        self._grid = (samples.ravel(), lines.ravel())
        active = np.zeros((FRAMELET_LINES, FRAMELET_SAMPLES), bool)
        active[:, PHOTOACTIVE_FIRST_SAMPLE:PHOTOACTIVE_FIRST_SAMPLE + PHOTOACTIVE_SAMPLES] = True
        self._active = active.ravel()

    def rays(self, filter_name: str) -> np.ndarray:
        """Unit rays (128·1648, 3) in JUNO_JUNOCAM for every pixel of a framelet of ``filter_name``."""
        if filter_name not in self._rays:
            samples, lines = self._grid
            self._rays[filter_name] = self.camera.pixel_to_ray(filter_name, samples, lines)
        return self._rays[filter_name]

    # -- one framelet ---------------------------------------------------------------------------
    def signal(self, filter_name: str, et: float, tdi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, object]:
        """Noise-free signal DN of one framelet at mid-exposure ``et`` (flat array of 128·1648),
        the indices of pixels on the target, their surface points (body-fixed km) and the pose."""
        pose = FrameletPoses.from_spice(self.target, [et], self.observer, self.camera.frame)[0]
        signal = np.zeros(FRAMELET_LINES * FRAMELET_SAMPLES, np.float32)
        rays = self.rays(filter_name)
        distance = float(np.linalg.norm(pose.target_position_km))
        direction = pose.camera_to_j2000.T @ (pose.target_position_km / distance)
        radius = float(np.max(self.radii))
        if distance <= radius:
            return signal, np.empty(0, np.int64), np.empty((0, 3)), pose
        cos_limit = math.cos(math.asin(radius / distance) + _PREFILTER_MARGIN_RAD)
        candidates = np.nonzero(self._active & (rays @ direction > cos_limit))[0]
        if candidates.size == 0:
            return signal, candidates, np.empty((0, 3)), pose
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
        i_over_f = albedo * (mu0c**k) * (muc ** (k - 1.0)) if k != 1.0 else albedo * mu0c
        scale = RESPONSIVITY_DN[filter_name] * tdi * (REFERENCE_SUN_DISTANCE_KM / pose.sun_distance_km) ** 2
        signal[index] = (i_over_f * scale).astype(np.float32)
        for spot in self.hot_spots:
            self._add_hot_spot(signal, spot, filter_name, pose, tdi)
        return signal, index, points, pose

    def _add_hot_spot(self, signal: np.ndarray, spot: HotSpot, filter_name: str, pose, tdi: int) -> None:
        point = latlon_to_surface(np.radians(spot.lat_deg), np.radians(spot.lon_east_deg), self.radii)
        normal = surface_normals(point, self.radii)
        to_obs = pose.observer_km - point
        range_km = float(np.linalg.norm(to_obs))
        mu = float(normal @ to_obs) / range_km
        if mu <= 0:
            return  # on the far side
        ray = pose.surface_to_rays(point[None, :])
        sample, line = self.camera.ray_to_pixel(filter_name, ray)
        s, l = int(np.rint(sample[0])), int(np.rint(line[0]))
        if not (PHOTOACTIVE_FIRST_SAMPLE <= s < PHOTOACTIVE_FIRST_SAMPLE + PHOTOACTIVE_SAMPLES and 0 <= l < FRAMELET_LINES):
            return
        ifov = 1.0 / self.camera.filter(filter_name).focal_length_px
        share = min(spot.area_km2 * mu / (range_km * ifov) ** 2, 1.0)
        sun_au = pose.sun_distance_km / AU_KM
        irradiance = SOLAR_IRRADIANCE_1AU[filter_name] / sun_au**2
        i_over_f = math.pi * planck_radiance(WAVELENGTH_NM[filter_name], spot.temperature_k) / irradiance
        scale = RESPONSIVITY_DN[filter_name] * tdi * (REFERENCE_SUN_DISTANCE_KM / pose.sun_distance_km) ** 2
        signal[l * FRAMELET_SAMPLES + s] += np.float32(i_over_f * share * scale)

    def digitise(self, signal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Signal DN → dark + shot + read noise → 12-bit integers → SQROOT codes (uint8)."""
        noise = self.noise
        total = signal + np.float32(noise.dark_dn)
        sigma = np.sqrt(np.maximum(total, 0) / np.float32(noise.gain_e_per_dn) + np.float32(noise.read_noise_dn**2))
        total += rng.standard_normal(total.shape, dtype=np.float32) * sigma
        dn = np.clip(np.rint(total), 0, _MAX_DN).astype(np.int32)
        return self._lut[dn]

    # -- one product ----------------------------------------------------------------------------
    def render(self, spec: ImagingSpec, true_start_et: float, rng: np.random.Generator,
               truth_pixels: int = 100, progress=None) -> RenderResult:
        """Render every framelet of ``spec`` whose exposures truly start at ``true_start_et``
        (label START_TIME plus any injected timing offset). Returns the uint8 cube and a random
        sample of on-target pixels with their mid-exposure ET and planetocentric lat/lon."""
        import time

        began = time.perf_counter()
        n_filters = len(spec.filters)
        cube = np.empty((spec.n_exposures, n_filters, FRAMELET_LINES, FRAMELET_SAMPLES), np.uint8)
        picks: list[dict] = []
        on_target = 0
        for n in range(spec.n_exposures):
            for j, name in enumerate(spec.filters):
                et = float(self.camera.framelet_mid_et(name, true_start_et, spec.interframe_delay_s, n, spec.exposure_s))
                signal, index, points, _ = self.signal(name, et, spec.tdi)
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
        return RenderResult(cube, picks, on_target, time.perf_counter() - began)
