"""Hot spots in the twin: thermal emission of one or two black-body components through each
filter's passband (:mod:`ioflyby.volcano.thermal`), spread by the camera's point-spread function
and integrated over the pixels.

A spot at planetocentric (lat, east lon) on the ellipsoid with components (T₁, A₁) [, (T₂, A₂)]
puts ``radiance_gain(band) × TDI × Σ Aᵢ μ L_band(Tᵢ) / (range × IFOV)²`` DN into the framelet
(μ = cos emission: the projected area; the radiance of a black body does not depend on the
direction). That total is spread by a Gaussian PSF of ``psf_sigma_px`` widened by the spot's own
size (a disc of radius r px has a variance r²/4 per axis) and integrated exactly over each pixel
(differences of error functions). ``psf_sigma_px = 0`` puts the whole spot into the pixel that
contains its centre (a point source).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.special import erf

from ioflyby.camera import FRAMELET_LINES, FRAMELET_SAMPLES, JunoCam
from ioflyby.geometry import FrameletPoses, latlon_to_surface, surface_normals
from ioflyby.volcano.thermal import JUNOCAM_PSF_SIGMA_PX, band_radiance, power_w, radiance_gain

__all__ = ["JUNOCAM_PSF_SIGMA_PX", "HotSpot", "HotSpotField", "SpotImage", "catalogue_hot_spots", "deposit",
           "pixel_integrated_gaussian"]
_PSF_REACH_SIGMA = 4.0


@dataclass(frozen=True)
class HotSpot:
    """A thermal source on the surface: planetocentric latitude, east longitude (deg), one black
    body (K, km²) and optionally a second one (``temperature2_k``, ``area2_km2``: a cooler crust
    beside the hot fraction); ``name`` when placed from a catalogue."""

    lat_deg: float
    lon_east_deg: float
    temperature_k: float
    area_km2: float
    temperature2_k: float | None = None
    area2_km2: float | None = None
    name: str | None = None

    def components(self) -> list[tuple[float, float]]:
        """(temperature K, area km²) of each black-body component."""
        parts = [(self.temperature_k, self.area_km2)]
        if self.temperature2_k is not None and self.area2_km2:
            parts.append((self.temperature2_k, self.area2_km2))
        return parts

    @property
    def total_area_km2(self) -> float:
        return sum(area for _, area in self.components())

    def intensity(self, band: str) -> float:
        """Σ Aᵢ L_band(Tᵢ): the band radiance times the emitting area, km² W m⁻² sr⁻¹ nm⁻¹."""
        return float(sum(area * band_radiance(band, t) for t, area in self.components()))

    @property
    def power_gw(self) -> float:
        """Total black-body output Σ σ Tᵢ⁴ Aᵢ, GW."""
        return float(sum(power_w(t, area) for t, area in self.components())) / 1e9

    def to_dict(self) -> dict:
        return dict(asdict(self), power_gw=self.power_gw)


@dataclass(frozen=True)
class SpotImage:
    """One hot spot in one framelet: its centre (sample, line), geometry (emission and solar
    incidence angles in degrees, range and footprint in km), total DN and the
    pixel-integrated PSF ``stamp`` whose upper-left pixel is (``sample0``, ``line0``)."""

    spot: int
    sample: float
    line: float
    emission_deg: float
    incidence_deg: float
    range_km: float
    km_per_px: float
    total_dn: float
    stamp: np.ndarray
    sample0: int
    line0: int

    def truth(self) -> dict:
        return {"spot": self.spot, "sample": self.sample, "line": self.line, "emission_deg": self.emission_deg,
                "incidence_deg": self.incidence_deg, "range_km": self.range_km, "km_per_px": self.km_per_px,
                "total_dn": self.total_dn}


def pixel_integrated_gaussian(sample: float, line: float, sigma_px: float) -> tuple[np.ndarray, int, int]:
    """Fractions of a unit Gaussian (centre in pixel coordinates, centre of the upper-left pixel
    = (0, 0)) falling in each pixel of a stamp reaching 4 σ: (stamp [lines, samples], first
    sample, first line). ``sigma_px = 0``: the one pixel containing the centre."""
    if sigma_px <= 0:
        return np.ones((1, 1)), int(np.floor(sample + 0.5)), int(np.floor(line + 0.5))
    reach = int(math.ceil(_PSF_REACH_SIGMA * sigma_px)) + 1
    s0, l0 = int(np.floor(sample + 0.5)) - reach, int(np.floor(line + 0.5)) - reach
    edges = np.arange(2 * reach + 2) - 0.5
    scale = sigma_px * math.sqrt(2.0)
    along_s = np.diff(0.5 * erf((s0 + edges - sample) / scale))
    along_l = np.diff(0.5 * erf((l0 + edges - line) / scale))
    return np.outer(along_l, along_s), s0, l0


class HotSpotField:
    """The hot spots of a render: surface points and normals once, then per framelet where each
    spot lands and the DN it deposits."""

    def __init__(self, spots: Sequence[HotSpot], radii: np.ndarray, psf_sigma_px: float):
        self.spots = tuple(spots)
        self.psf_sigma_px = float(psf_sigma_px)
        lat = np.radians([s.lat_deg for s in self.spots])
        lon = np.radians([s.lon_east_deg for s in self.spots])
        self.points = latlon_to_surface(lat, lon, radii).reshape(-1, 3)
        self.normals = surface_normals(self.points, radii).reshape(-1, 3)
        self._intensity: dict[str, np.ndarray] = {}

    def intensity(self, band: str) -> np.ndarray:
        """Σ Aᵢ L_band(Tᵢ) of every spot (cached per band)."""
        if band not in self._intensity:
            self._intensity[band] = np.array([s.intensity(band) for s in self.spots])
        return self._intensity[band]

    def images(self, camera: JunoCam, filter_name: str, pose: FrameletPoses, tdi: int) -> list[SpotImage]:
        """The spots that land on (or within the PSF's reach of) the framelet, facing the camera."""
        if not self.spots:
            return []
        to_observer = pose.observer_km - self.points
        range_km = np.linalg.norm(to_observer, axis=1)
        mu = np.einsum("ij,ij->i", self.normals, to_observer) / range_km
        facing = np.nonzero(mu > 0)[0]
        if facing.size == 0:
            return []
        sample, line = camera.ray_to_pixel(filter_name, pose.surface_to_rays(self.points[facing]))
        ifov = 1.0 / camera.filter(filter_name).focal_length_px
        reach = _PSF_REACH_SIGMA * self.psf_sigma_px + 1.0
        near = ((sample > -reach) & (sample < FRAMELET_SAMPLES - 1 + reach)
                & (line > -reach) & (line < FRAMELET_LINES - 1 + reach))
        gain = radiance_gain(filter_name) * tdi
        out = []
        for k in np.nonzero(near)[0]:
            i = int(facing[k])
            km_per_px = float(range_km[i] * ifov)
            total = gain * self.intensity(filter_name)[i] * mu[i] / km_per_px**2
            sigma = self.psf_sigma_px
            if sigma > 0:
                radius_px = math.sqrt(self.spots[i].total_area_km2 / math.pi) / km_per_px
                sigma = math.hypot(sigma, radius_px / 2.0)
            stamp, s0, l0 = pixel_integrated_gaussian(float(sample[k]), float(line[k]), sigma)
            to_sun = pose.sun_km - self.points[i]
            incidence = math.degrees(math.acos(float(np.clip(self.normals[i] @ to_sun / np.linalg.norm(to_sun), -1, 1))))
            out.append(SpotImage(i, float(sample[k]), float(line[k]), math.degrees(math.acos(min(mu[i], 1.0))),
                                 incidence, float(range_km[i]), km_per_px, float(total), stamp * total, s0, l0))
        return out


def deposit(signal: np.ndarray, image: SpotImage, active: np.ndarray) -> None:
    """Add a spot's stamp into ``signal`` [lines, samples] where ``active`` (photoactive columns)."""
    lines, samples = image.stamp.shape
    la, lb = max(image.line0, 0), min(image.line0 + lines, signal.shape[0])
    sa, sb = max(image.sample0, 0), min(image.sample0 + samples, signal.shape[1])
    if la >= lb or sa >= sb:
        return
    part = image.stamp[la - image.line0:lb - image.line0, sa - image.sample0:sb - image.sample0]
    signal[la:lb, sa:sb] += (part * active[la:lb, sa:sb]).astype(signal.dtype)


def catalogue_hot_spots(min_power_gw: float | None = None) -> list[HotSpot]:
    """The thermal sources of Davies et al. (2024) (:mod:`ioflyby.volcano.catalogue`) that publish
    both a temperature and an area, as named one-component hot spots, optionally only those of at
    least ``min_power_gw``. Their published power is Σ σT⁴A of the same T and area only where the
    source is one black body; the twin renders the (T, A) given."""
    from ioflyby.volcano.catalogue import select_features

    table = select_features(sources="davies", min_power_gw=min_power_gw)
    table = table[(table["temperature_k"] > 0) & (table["area_km2"] > 0)]
    return [HotSpot(float(row.lat_deg), float(row.lon_east_deg), float(row.temperature_k), float(row.area_km2),
                    name=str(row.name)) for row in table.itertuples(index=False)]
