"""Hot spots in JunoCam framelets: detection, PSF photometry, a black-body fit (colour temperature,
emitting area, power) with its uncertainties, and the catalogue source each one belongs to.

Everything happens in the framelets, before map projection, where the PSF and the timing are
exact (docs/volcano.md, "Hot spots"):

1. **Search** (per framelet, vectorised): residual = image − its 7 × 7 local mean; matched filter
   with the pixel-integrated PSF; each pixel's noise from the detector model (read noise, shot
   noise of the local level, the companding step) scaled by the observed local (15 × 15) scatter
   of the filtered residual (so albedo texture raises the threshold); candidates are local
   maxima above ``threshold_sigma`` on the target, away from its limb. Single-pixel spikes
   (sharpness: peak / 3 × 3 sum) are dropped here.
2. **Persistence**: candidates are placed on the surface (``Observation.backplanes``) and grouped
   by position; a group seen in one framelet only is kept when another framelet that sees the same
   point (``Observation.lonlat_to_pixel``) confirms it above ``confirm_sigma``, or when it is bright
   (``single_look_sigma``) and shaped like the PSF (reduced χ² of the PSF fit). Radiation hits live
   in one framelet and fail both.
3. **Photometry** in every framelet that sees the group's position: background = median of a ring
   (radii 4–7 px), PSF fit of flux and position (position fixed at the geometric prediction when
   the signal is faint) and, where χ² asks for it, width (lava wider than a pixel), flux σ from
   the ring's scatter and the source's shot noise. A framelet
   with a pixel at the companding ceiling is *saturated*: its flux (the ring-subtracted sum over
   the saturated pixels, the bloom trail and their surroundings) is a lower bound.
4. **Thermal fit**: per band the intensity ``A·L_band(T) = flux / (gain × TDI) × (km/px)² / μ``
   (gain: :func:`ioflyby.volcano.thermal.radiance_gain`; μ = cos emission), framelets of a band
   averaged by inverse variance; per-band brightness temperature (the source filling one pixel: a
   lower bound for a sub-pixel source); one black body (T, A) fitted by weighted least squares to
   every unsaturated band with signal (:func:`black_body_fit`: the colour temperature, and the
   emitting area); power = σ T⁴ A. σ by linear propagation of the band noise through the fit
   (``*_sigma_*``); the calibration systematic (each band's throughput uncertain by
   ``band_throughput_sigma``) propagated the same way and given apart (``systematic``): add the
   two in quadrature for a total. The framelets are decompanded to each stored code's mean DN
   (:func:`mean_dn_table`), not its nominal value, so the photometry is unbiased.
5. **Catalogue**: the nearest Davies/Mura source within 3 σ (position σ and the catalogue's
   ``catalogue_position_sigma_km`` in quadrature).
6. **Magnetospheric context**: Io's place in Jupiter's magnetosphere at each detection's time
   (:func:`ioflyby.magnetosphere.io_context`, one SPICE call per product's batch of detection
   times, never per pixel): System III (1965) west longitude, centrifugal and magnetic latitude,
   distance from Jupiter in R_J, local time, whether Io is in Jupiter's shadow. When the kernels
   lack Jupiter or Io (e.g. real products with no satellite ephemeris loaded) each detection
   carries ``io_magnetosphere: null`` and the result a one-line note; the search never fails on it.

Units: radiance W m⁻² sr⁻¹ nm⁻¹ (band average; ``radiance`` is the source's flux spread over one
pixel footprint), temperatures K, areas km², power GW, positions planetocentric latitude and
east longitude in degrees.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import numpy as np
from scipy import ndimage
from scipy.special import erf

from ioflyby.errors import GeometryError
from ioflyby.fileio import AtomicFiles, save_figure
from ioflyby.geometry import planetocentric_latlon
from ioflyby.ingest.companding import SQROOT_MAX_DN, compand_sqroot, decompanding_table
from ioflyby.ingest.product import RawProduct, format_utc, parse_utc
from ioflyby.magnetosphere import IO_SUMMARY_CONVENTION, IO_SUMMARY_KEYS
from ioflyby.observation import Observation
from ioflyby.volcano.thermal import (
    JUNOCAM_PSF_SIGMA_PX,
    TEMPERATURE_RANGE_K,
    band_radiance,
    brightness_temperature,
    colour_temperature,
    log_slope,
    passband,
    power_w,
    radiance_gain,
)

_SCALE_BOX = 15
_SATURATED_REACH = 8
_DAY_SEARCH_FRACTION = 0.7
"""Sunlit groups whose best search SNR is below this share of ``day_threshold_sigma`` are not measured."""
_FIT_RADIUS = 3
_RING = (4.0, 7.0)
_CLIP_SIGMA = 5.0
WIDTH_CHI2_GAIN = 4.0
"""A fit with the source's width free replaces the point-source fit when it lowers χ² by at least
this much (2 σ for one parameter): extended sources get their flux, point sources keep the
point-source fit's precision (a free width would cost it and, bounded below by the PSF, bias it high)."""


@dataclass(frozen=True)
class HotSpotConfig:
    """Detection and fit settings (σ thresholds are matched-filter SNRs).

    A source on sunlit terrain must reach ``day_threshold_sigma`` in its best band: there albedo
    texture, whose red patches can mimic faint hot spots, sets the limit.

    ``psf_sigma_px``: the camera PSF (Gaussian σ, px); ``gain_e_per_dn``/``read_noise_dn``: the
    detector noise model; ``band_throughput_sigma``: relative calibration uncertainty of each band;
    ``group_radius_px``: candidates closer than this (in pixel footprints) are one source;
    ``limb_margin_px``: candidates this close to the limb are ignored, and sources seen at more than
    ``max_emission_deg`` are dropped; ``max_temperature_k``: the hottest plausible source — one
    whose colours are bluer than such a black body (3 σ) is reflected light, not heat (albedo
    texture) and is dropped; ``max_sharpness``: the
    largest peak / 3 × 3-sum ratio of a PSF-like candidate; ``max_single_look_chi2``: the largest
    reduced χ² of a source seen in one framelet; ``catalogue_position_sigma_km``: the catalogue's
    positional uncertainty for the association.
    """

    threshold_sigma: float = 5.0
    day_threshold_sigma: float = 10.0
    confirm_sigma: float = 4.0
    single_look_sigma: float = 8.0
    psf_sigma_px: float = JUNOCAM_PSF_SIGMA_PX
    gain_e_per_dn: float = 10.0
    read_noise_dn: float = 2.0
    band_throughput_sigma: float = 0.10
    group_radius_px: float = 2.5
    limb_margin_px: float = 3.0
    max_sharpness: float = 0.6
    max_single_look_chi2: float = 2.5
    catalogue_position_sigma_km: float = 10.0
    max_emission_deg: float = 75.0
    max_temperature_k: float = 2500.0


@dataclass(frozen=True)
class Look:
    """One framelet's measurement of a source: PSF-fit flux (DN) and position, the geometry there."""

    exposure: int
    filter: str
    sample: float
    line: float
    flux_dn: float
    flux_sigma_dn: float
    position_sigma_px: float
    saturated: bool
    emission_deg: float
    incidence_deg: float
    km_per_px: float
    et: float
    point_km: np.ndarray = field(repr=False)

    @property
    def snr(self) -> float:
        return self.flux_dn / self.flux_sigma_dn if self.flux_sigma_dn > 0 else 0.0

    def to_json(self) -> dict:
        return {"exposure": self.exposure, "filter": self.filter, "sample": self.sample, "line": self.line,
                "flux_dn": self.flux_dn, "flux_sigma_dn": self.flux_sigma_dn, "snr": self.snr,
                "saturated": self.saturated, "emission_deg": self.emission_deg}


@dataclass(frozen=True)
class BandMeasurement:
    """A source in one band: intensity ``A·L`` (km² W m⁻² sr⁻¹ nm⁻¹) and its σ, the radiance as if
    spread over one pixel footprint (W m⁻² sr⁻¹ nm⁻¹), SNR, saturation, framelets used."""

    band: str
    intensity: float
    intensity_sigma: float
    radiance: float
    saturated: bool
    framelets: int

    @property
    def snr(self) -> float:
        return self.intensity / self.intensity_sigma if self.intensity_sigma > 0 else 0.0

    def to_json(self) -> dict:
        return {"radiance": self.radiance, "snr": self.snr, "saturated": self.saturated,
                "intensity_w_sr_nm": self.intensity * 1e6, "intensity_sigma_w_sr_nm": self.intensity_sigma * 1e6,
                "framelets": self.framelets}


@dataclass(frozen=True)
class ThermalFit:
    """Black-body fit of a source; NaN where the bands do not allow it (fewer than two unsaturated
    bands with signal). ``systematic`` holds the calibration part of the uncertainty."""

    brightness_temperature_k: dict[str, float]
    color_temperature_k: float = math.nan
    temperature_sigma_k: float = math.nan
    area_km2: float = math.nan
    area_sigma_km2: float = math.nan
    power_gw: float = math.nan
    power_sigma_gw: float = math.nan
    bands_used: tuple[str, ...] = ()
    systematic: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Detection:
    """One hot spot: where (planetocentric lat, east lon, σ in km), when, what each band saw, the
    thermal fit, the framelets measured and the catalogue source it belongs to (or None)."""

    product_id: str
    time_utc: str
    et: float
    lat_deg: float
    lon_east_deg: float
    position_sigma_km: float
    emission_deg: float
    incidence_deg: float
    km_per_px: float
    bands: dict[str, BandMeasurement]
    fit: ThermalFit
    looks: tuple[Look, ...]
    catalogue_match: dict | None = None
    io_magnetosphere: dict | None = None
    """Io's magnetospheric context at ``et`` (:data:`ioflyby.magnetosphere.IO_SUMMARY_KEYS`), None when not computable."""

    @property
    def snr(self) -> float:
        """The largest band SNR."""
        return max((b.snr for b in self.bands.values()), default=0.0)

    @property
    def fit_snr(self) -> float:
        """SNR of the thermal fit's colour: the second-largest SNR of the bands it used (a colour
        needs two); NaN without a fit."""
        ranked = sorted((self.bands[b].snr for b in self.fit.bands_used), reverse=True)
        return ranked[1] if len(ranked) >= 2 else math.nan

    @property
    def night_side(self) -> bool:
        return self.incidence_deg >= 90.0

    def to_json(self) -> dict:
        fit = self.fit
        return {
            "product_id": self.product_id, "time_utc": self.time_utc, "lat_deg": self.lat_deg, "lon_east_deg": self.lon_east_deg,
            "lon_west_deg": (-self.lon_east_deg) % 360.0, "position_sigma_km": self.position_sigma_km,
            "emission_deg": self.emission_deg, "incidence_deg": self.incidence_deg, "km_per_px": self.km_per_px,
            "bands": {name: band.to_json() for name, band in self.bands.items()},
            "brightness_temperature_k": fit.brightness_temperature_k,
            "color_temperature_k": fit.color_temperature_k, "temperature_sigma_k": fit.temperature_sigma_k,
            "area_km2": fit.area_km2, "area_sigma_km2": fit.area_sigma_km2,
            "power_gw": fit.power_gw, "power_sigma_gw": fit.power_sigma_gw,
            "bands_used": list(fit.bands_used), "fit_snr": self.fit_snr, "systematic": fit.systematic,
            "catalogue_match": self.catalogue_match, "io_magnetosphere": self.io_magnetosphere,
            "looks": [look.to_json() for look in self.looks],
        }


@dataclass
class HotSpots:
    """Hot spots found in one or more products (``to_json()`` is ``ioflyby hotspots --json``
    without ``outputs``); ``candidates``/``rejected``: how many framelet candidates were found and
    how many groups failed the persistence test."""

    products: list[str]
    detections: list[Detection]
    config: HotSpotConfig
    candidates: int = 0
    rejected: int = 0
    seconds: float = 0.0
    views: dict[str, tuple[np.ndarray, tuple[str, ...]]] = field(default_factory=dict, repr=False)
    """Per product id: its linear framelets [exposure, filter, line, sample] (DN) and filter names,
    for the hot-spot map (:meth:`write_maps`)."""
    notes: list[str] = field(default_factory=list)
    """One line per thing a person should know (e.g. why the magnetospheric context is missing)."""

    def to_json(self) -> dict:
        return _json_ready({
            "products": self.products, "detections": [d.to_json() for d in self.detections],
            "candidates": self.candidates, "rejected_groups": self.rejected, "seconds": round(self.seconds, 3),
            "uncertainties": "*_sigma_* from the image noise; systematic: band throughput "
                             f"±{100 * self.config.band_throughput_sigma:.0f} % per band propagated the same way",
            "conventions": "planetocentric latitude, east longitude (deg); radiance W m-2 sr-1 nm-1 over one pixel; "
                           f"io_magnetosphere: {IO_SUMMARY_CONVENTION}",
            "notes": self.notes,
        })

    def write(self, out: str | Path, stem: str) -> list[Path]:
        """``<stem>_hotspots.csv`` (one row per detection), ``.geojson`` (points, lon/lat in
        degrees east on Io's sphere) and ``.md`` (a table for people) in ``out``, atomically."""
        out = Path(out)
        texts = {"csv": self.csv(), "geojson": json.dumps(self.geojson(), indent=1), "md": self.markdown()}
        paths = [out / f"{stem}_hotspots.{ext}" for ext in texts]
        with AtomicFiles() as files:
            for path, text in zip(paths, texts.values()):
                files.path(path).write_text(text + ("" if text.endswith("\n") else "\n"), encoding="utf-8")
        return paths

    def write_maps(self, out: str | Path, band: str = "RED") -> list[Path]:
        """``<product>_hotspots_map.png`` per product with a view: the product's ``band`` framelets
        stacked in exposure order (the raw product's view, linear stretch to the 99.5th
        percentile), a circle at each detection's best look in that band (radius and colour from
        log₁₀ power, "inferno"), labelled with its catalogue name (or its number in the table)."""
        paths = []
        for product_id, (dn, filters) in self.views.items():
            detections = [d for d in self.detections if d.product_id == product_id]
            paths.append(plot_hot_spot_map(dn, filters, detections, Path(out) / f"{product_id}_hotspots_map.png",
                                           band=band, title=product_id))
        return paths

    def rows(self) -> list[dict]:
        """Flat rows (CSV and table): position, fit, and each band's radiance, SNR, saturation."""
        bands = sorted({b for d in self.detections for b in d.bands}, key=lambda b: passband(b).centre_nm)
        rows = []
        for d in self.detections:
            row = {k: v for k, v in d.to_json().items() if not isinstance(v, (dict, list)) or k == "catalogue_match"}
            match = row.pop("catalogue_match")
            row["catalogue_name"] = match["name"] if match else ""
            row["catalogue_distance_km"] = match["distance_km"] if match else ""
            context = d.io_magnetosphere or {}
            row.update({f"io_{key}": context.get(key, "") for key in IO_SUMMARY_KEYS})
            row["bands_used"] = "/".join(d.fit.bands_used)
            row.update({f"systematic_{k}": v for k, v in d.fit.systematic.items()})
            for b in bands:
                m = d.bands.get(b)
                row[f"{b.lower()}_radiance"] = m.radiance if m else ""
                row[f"{b.lower()}_snr"] = m.snr if m else ""
                row[f"{b.lower()}_saturated"] = m.saturated if m else ""
                row[f"{b.lower()}_brightness_temperature_k"] = d.fit.brightness_temperature_k.get(b, "")
            rows.append(_json_ready(row))
        return rows

    def csv(self) -> str:
        rows = self.rows()
        if not rows:
            return "time_utc,lat_deg,lon_east_deg\n"
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(dict.fromkeys(k for row in rows for k in row)), restval="")
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue()

    def geojson(self) -> dict:
        features = []
        for d in self.detections:
            lon = (d.lon_east_deg + 180.0) % 360.0 - 180.0
            properties = _json_ready({k: v for k, v in d.to_json().items() if k not in ("looks",)})
            features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, d.lat_deg]},
                             "properties": properties})
        return {"type": "FeatureCollection", "name": "hot spots",
                "crs_note": "planetocentric latitude, east longitude in degrees (-180..180) on the target's sphere",
                "features": features}

    def markdown(self) -> str:
        head = ("| # | time (UTC) | lat ° | lon °E | σ km | T colour K | area km² | power GW | max SNR | catalogue "
                "| Io System III °W | Io centrifugal lat ° |")
        lines = [head, "|" + "---|" * 12]
        for i, d in enumerate(self.detections, 1):
            f = d.fit
            match = d.catalogue_match["name"] if d.catalogue_match else "—"
            context = d.io_magnetosphere or {}
            lines.append(f"| {i} | {d.time_utc} | {d.lat_deg:.2f} | {d.lon_east_deg:.2f} | {d.position_sigma_km:.2f} | "
                         f"{_pm(f.color_temperature_k, f.temperature_sigma_k, 0)} | "
                         f"{_pm(f.area_km2, f.area_sigma_km2, 4)} | {_pm(f.power_gw, f.power_sigma_gw, 3)} | "
                         f"{d.snr:.1f} | {match} | {_fixed(context.get('system3_lon_west_deg'), 2)} | "
                         f"{_fixed(context.get('centrifugal_lat_deg'), 2)} |")
        lines.extend(f"\nNote: {note}" for note in self.notes)
        return "\n".join(lines)


def plot_hot_spot_map(dn: np.ndarray, filters: Sequence[str], detections: Sequence[Detection], path: str | Path,
                      band: str = "RED", title: str = "") -> Path:
    """The hot-spot map of one product (see :meth:`HotSpots.write_maps`), a PNG written atomically.
    Detections without a look in ``band`` are placed at their best look in another band (same
    framelet geometry to within the filters' offsets, a few pixels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    names = [f.upper() for f in filters]
    f = names.index(band) if band in names else 0
    strip = np.concatenate(list(dn[:, f]), axis=0).astype(np.float32)
    lines = dn.shape[2]
    step = max(1, math.ceil(strip.shape[0] / 2048))  # long products: block means, same axes in pixels
    if step > 1:
        rows, cols = strip.shape[0] // step * step, strip.shape[1] // step * step
        strip = strip[:rows, :cols].reshape(rows // step, step, cols // step, step).mean(axis=(1, 3))
    top = float(np.percentile(strip, 99.5)) or 1.0
    height = 3.0 + 10.0 * strip.shape[0] / strip.shape[1]
    figure, axis = plt.subplots(figsize=(10, min(height, 60.0)))
    axis.imshow(strip, cmap="gray", vmin=0.0, vmax=top, interpolation="nearest", aspect="equal",
                extent=(-0.5, strip.shape[1] * step - 0.5, strip.shape[0] * step - 0.5, -0.5))
    powers = np.array([d.fit.power_gw if math.isfinite(d.fit.power_gw) else math.nan for d in detections])
    finite = powers[np.isfinite(powers) & (powers > 0)]
    norm = LogNorm(vmin=float(finite.min()) if finite.size else 0.1,
                   vmax=max(float(finite.max()) if finite.size else 10.0, (float(finite.min()) if finite.size else 0.1) * 10))
    cmap = plt.get_cmap("inferno")
    for i, (d, power) in enumerate(zip(detections, powers), 1):
        looks = [k for k in d.looks if k.filter.upper() == band] or list(d.looks)
        look = max(looks, key=lambda k: k.snr)
        x, y = look.sample, look.exposure * lines + look.line
        known = math.isfinite(power) and power > 0
        colour = cmap(norm(power)) if known else (0.2, 0.8, 1.0, 1.0)
        radius = 8.0 + 6.0 * max(math.log10(power) + 1.0, 0.0) if known else 8.0
        axis.add_patch(plt.Circle((x, y), radius, fill=False, color=colour, linewidth=1.5))
        label = d.catalogue_match["name"] if d.catalogue_match else f"#{i}"
        if known:
            label += f" {power:.3g} GW"
        axis.annotate(label, (x + radius, y - radius), color=colour, fontsize=8, weight="bold")
    mappable = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    figure.colorbar(mappable, ax=axis, fraction=0.03, label="power (GW, circle size too)")
    axis.set_title(f"Hot spots {title} ({band} framelets by exposure; {len(detections)} detected)", fontsize=10)
    axis.set_xlabel("sample (px)")
    axis.set_ylabel(f"exposure × {lines} + line (px)")
    figure.tight_layout()
    return save_figure(figure, path, dpi=90)


def _json_ready(value):
    """``value`` with non-finite floats as None and numpy scalars as Python numbers (valid JSON)."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fixed(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _pm(value: float, sigma: float, digits: int) -> str:
    return "—" if not math.isfinite(value) else f"{value:.{digits}f} ± {sigma:.{digits}f}"


# -- the PSF ---------------------------------------------------------------------------------------
def _psf_1d(offsets: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel-integrated unit Gaussian at pixel offsets (pixel centre − source centre), and its
    derivatives with respect to the source centre and to σ."""
    scale = sigma * math.sqrt(2.0)
    upper, lower = (offsets + 0.5) / scale, (offsets - 0.5) / scale
    value = 0.5 * (erf(upper) - erf(lower))
    g_upper, g_lower = np.exp(-upper**2), np.exp(-lower**2)
    d_centre = -(g_upper - g_lower) / (sigma * math.sqrt(2.0 * math.pi))
    d_sigma = -(upper * g_upper - lower * g_lower) / (sigma * math.sqrt(math.pi))
    return value, d_centre, d_sigma


def psf_kernel(sigma_px: float, radius: int = 2) -> np.ndarray:
    """The pixel-integrated PSF centred on a pixel, (2r+1)² values summing to ≈ 1."""
    profile = _psf_1d(np.arange(-radius, radius + 1, dtype=float), sigma_px)[0]
    return np.outer(profile, profile)


# -- step 1: search --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Candidate:
    exposure: int
    filter_index: int
    sample: float
    line: float
    snr: float
    sharpness: float


class _Framelets:
    """The product's linear framelets in DN with the per-framelet SNR maps of the search."""

    def __init__(self, obs: Observation, dn: np.ndarray, config: HotSpotConfig):
        self.obs = obs
        self.dn = dn
        self.config = config
        self.filters = obs.product.filters
        table = decompanding_table(obs.product.companding)
        self.saturation_dn = float(min(table[-1], 4095.0))
        codes = np.clip(np.searchsorted(table, np.arange(4097)), 1, table.size - 1)
        self.quantisation = ((table[codes] - table[codes - 1]) ** 2 / 12.0).astype(np.float32)
        self._rays: dict[str, np.ndarray] = {}
        kernel = psf_kernel(config.psf_sigma_px)
        self.profile = kernel.sum(axis=0)
        self.kernel_norm = float(np.sqrt((kernel**2).sum()))
        self.snr: dict[tuple[int, int], np.ndarray] = {}
        lines, samples = np.mgrid[0:dn.shape[2], 0:dn.shape[3]]
        active = obs.camera.in_photoactive_area(samples, lines)
        self._active = ndimage.binary_erosion(active, iterations=2)

    def rays(self, filter_name: str) -> np.ndarray:
        """Unit rays (lines, samples, 3) in the camera frame of every pixel of a ``filter_name`` framelet."""
        if filter_name not in self._rays:
            lines, samples = np.mgrid[0:self.dn.shape[2], 0:self.dn.shape[3]]
            self._rays[filter_name] = self.obs.camera.pixel_to_ray(filter_name, samples, lines).astype(np.float32)
        return self._rays[filter_name]

    def variance(self, level: np.ndarray) -> np.ndarray:
        """Per-pixel noise variance (DN²) of a framelet whose local level is ``level``."""
        c = self.config
        quantisation = self.quantisation[np.clip(level, 0, 4096).astype(np.int32)]
        return c.read_noise_dn**2 + np.maximum(level, 0.0) / c.gain_e_per_dn + quantisation

    def search_mask(self, exposure: int, filter_index: int) -> np.ndarray:
        """Pixels on the target, at least ``limb_margin_px`` inside its limb, inside the photoactive area."""
        name = self.filters[filter_index]
        pose = self.obs.poses[self.obs.framelet_index(name, exposure)]
        distance = float(np.linalg.norm(pose.target_position_km))
        radii = self.obs.body.radii_km
        if distance <= max(radii):
            return np.zeros(self.dn.shape[2:], bool)
        direction = (pose.camera_to_j2000.T @ (pose.target_position_km / distance)).astype(np.float32)
        ifov = 1.0 / self.obs.camera.filter(name).focal_length_px
        inner = math.asin(min(radii) / distance) - self.config.limb_margin_px * ifov
        return (self.rays(name) @ direction > math.cos(max(inner, 0.0))) & self._active

    def search(self, exposure: int, filter_index: int) -> list[_Candidate]:
        """Candidates of one framelet (see the module docstring, step 1); keeps its SNR map."""
        image = self.dn[exposure, filter_index]
        mask = self.search_mask(exposure, filter_index)
        if not mask.any():
            return []
        level = ndimage.uniform_filter(image, 7, mode="nearest")
        residual = image - level
        matched = ndimage.correlate1d(ndimage.correlate1d(residual, self.profile, axis=0, mode="nearest"),
                                      self.profile, axis=1, mode="nearest")
        z = matched / (np.sqrt(self.variance(level)) * self.kernel_norm)
        snr = z / self._local_scale(z, mask)
        self.snr[exposure, filter_index] = snr
        peaks = self._peaks(snr, mask)
        out = []
        for l, s in zip(*peaks):
            box = np.clip(residual[l - 1:l + 2, s - 1:s + 2], 0.0, None)
            total = float(box.sum())
            if total <= 0:
                continue
            sharpness = float(residual[l, s]) / total
            if sharpness > self.config.max_sharpness:
                continue
            ds = float((box.sum(axis=0) * (-1, 0, 1)).sum()) / total
            dl = float((box.sum(axis=1) * (-1, 0, 1)).sum()) / total
            out.append(_Candidate(exposure, filter_index, s + ds, l + dl, float(snr[l, s]), sharpness))
        return self._merge_saturated(image, out)

    def _merge_saturated(self, image: np.ndarray, candidates: list[_Candidate]) -> list[_Candidate]:
        """One candidate per saturated region (its bloom trail included), at the region's centroid:
        the peaks a bloomed source leaves along its trail and in its halo (within
        :data:`_SATURATED_REACH` px) are one source. A region cut by the
        framelet's first or last line gives none (its centre is unknown; other framelets place it)."""
        saturated = image >= self.saturation_dn - 0.5
        if not saturated.any() or not candidates:
            return candidates
        labels, _ = ndimage.label(ndimage.binary_dilation(saturated, iterations=_SATURATED_REACH))
        merged: dict[int, _Candidate] = {}
        out = []
        for c in candidates:
            label = int(labels[int(round(c.line)), int(round(c.sample))])
            if not label:
                out.append(c)
            elif label not in merged or c.snr > merged[label].snr:
                merged[label] = c
        for label, c in merged.items():
            lines, samples = np.nonzero((labels == label) & saturated)
            if lines.min() > 0 and lines.max() < image.shape[0] - 1:
                out.append(replace(c, sample=float(samples.mean()), line=float(lines.mean())))
        return out

    @staticmethod
    def _local_scale(z: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Local RMS of ``z`` (clipped at ±5: sources barely count) over :data:`_SCALE_BOX`² masked
        pixels, ≥ 0.5; 1 where too few pixels are masked."""
        weight = ndimage.uniform_filter(mask.astype(np.float32), _SCALE_BOX)
        power = ndimage.uniform_filter(np.minimum(z * z, _CLIP_SIGMA**2) * mask, _SCALE_BOX)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.sqrt(power / weight)
        return np.where(weight > 0.2, np.maximum(scale, 0.5), 1.0)

    def _peaks(self, snr: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lines, samples = np.nonzero((snr > self.config.threshold_sigma) & mask)
        keep = (lines > 0) & (lines < snr.shape[0] - 1) & (samples > 0) & (samples < snr.shape[1] - 1)
        lines, samples = lines[keep], samples[keep]
        value = snr[lines, samples]
        is_peak = np.ones(lines.size, bool)
        for dl in (-1, 0, 1):
            for ds in (-1, 0, 1):
                if dl or ds:
                    is_peak &= value >= snr[lines + dl, samples + ds]
        return lines[is_peak], samples[is_peak]

    def snr_near(self, exposure: int, filter_index: int, sample: float, line: float) -> float:
        """Largest search SNR within one pixel of (sample, line); 0 where the framelet was not searched."""
        snr = self.snr.get((exposure, filter_index))
        if snr is None:
            return 0.0
        l, s = int(round(line)), int(round(sample))
        box = snr[max(l - 1, 0):l + 2, max(s - 1, 0):s + 2]
        return float(box.max()) if box.size else 0.0


# -- step 3: photometry ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Fit:
    sample: float
    line: float
    flux: float
    flux_sigma: float
    position_sigma: float
    chi2: float
    saturated: bool
    chi2_sum: float = math.nan
    """Unreduced χ² (``chi2`` is per degree of freedom)."""


def psf_photometry(image: np.ndarray, sample: float, line: float, config: HotSpotConfig, saturation_dn: float,
                   free_position: bool = True, quantisation: np.ndarray | None = None) -> _Fit | None:
    """PSF fit of one source near (sample, line) in a framelet image (DN): ring-median background,
    Gauss–Newton on the flux and (``free_position``) the centre — and the width (≥ the PSF's: a
    source larger than a pixel) where that lowers χ² by :data:`WIDTH_CHI2_GAIN` — weighted by the
    ring's scatter plus the source's shot noise and (``quantisation``: DN² by integer DN level, the
    companding step's variance) the quantisation of the source's pixels. Saturated pixels of a
    neighbour's bloom trail (and their neighbours) are left out. A source whose own core is saturated gets the ring-subtracted
    sum of its saturated pixels, bloom trail and a 2-pixel margin (a lower bound), no position
    fit. None when too few of its pixels are usable."""
    outer = int(_RING[1])
    l0, s0 = int(round(line)), int(round(sample))
    la, lb = max(l0 - outer, 0), min(l0 + outer + 1, image.shape[0])
    sa, sb = max(s0 - outer, 0), min(s0 + outer + 1, image.shape[1])
    cut = image[la:lb, sa:sb].astype(np.float64)
    yy, xx = np.mgrid[la:lb, sa:sb]
    radius = np.hypot(yy - line, xx - sample)
    ring = cut[(radius >= _RING[0]) & (radius <= _RING[1])]
    background = float(np.median(ring)) if ring.size else 0.0
    scatter = 1.4826 * float(np.median(np.abs(ring - background))) if ring.size else config.read_noise_dn
    scatter = max(scatter, config.read_noise_dn)
    clipped = ndimage.binary_dilation(cut >= saturation_dn - 0.5)
    core = (np.abs(yy - l0) <= 1) & (np.abs(xx - s0) <= 1)
    if clipped[core].any():
        own = _own_saturated_region(image, sample, line, saturation_dn)
        if own is not None:
            return _saturated_sum(image, own, background, scatter, sample, line)
    near = (np.abs(yy - l0) <= _FIT_RADIUS) & (np.abs(xx - s0) <= _FIT_RADIUS) & ~clipped
    if (near & core).sum() < 5:
        return None
    pixels = (xx[near].astype(float), yy[near].astype(float), cut[near] - background)
    noise = _PixelNoise(scatter, config.gain_e_per_dn, background, quantisation)
    start = (0.0, float(sample), float(line), config.psf_sigma_px)
    fit = _gauss_newton(pixels, start, noise, config, free_position, fit_width=False)
    if fit is None:
        return psf_photometry(image, sample, line, config, saturation_dn, free_position=False,
                              quantisation=quantisation)
    if free_position:
        wide = _gauss_newton(pixels, (fit.flux, fit.sample, fit.line, config.psf_sigma_px), noise, config,
                             True, fit_width=True)
        if wide is not None and fit.chi2_sum - wide.chi2_sum >= WIDTH_CHI2_GAIN:
            fit = wide
    return fit


@dataclass(frozen=True)
class _PixelNoise:
    """Noise of a source's pixels: the ring's scatter (read noise, background shot noise and
    texture), the source's shot noise (``gain`` e⁻/DN) and the extra companding quantisation at
    the source's level above the background's (``quantisation``: DN² by integer DN, or None)."""

    scatter: float
    gain: float
    background: float
    quantisation: np.ndarray | None

    def variance(self, model: np.ndarray) -> np.ndarray:
        signal = np.maximum(model, 0.0)
        out = self.scatter**2 + signal / self.gain
        if self.quantisation is not None:
            top = self.quantisation.size - 1
            at = self.quantisation[np.clip(self.background + signal, 0, top).astype(np.int64)]
            out = out + np.maximum(at - self.quantisation[int(np.clip(self.background, 0, top))], 0.0)
        return out


def _gauss_newton(pixels: tuple[np.ndarray, np.ndarray, np.ndarray], start: tuple[float, float, float, float],
                  noise: _PixelNoise, config: HotSpotConfig, free_position: bool, fit_width: bool) -> _Fit | None:
    """Weighted Gauss–Newton for (flux[, sample, line][, width]); None if the centre runs away."""
    x, y, data = pixels
    flux, s, l, width = start
    sample0, line0 = s, l
    for _ in range(10 if free_position else 2):
        px, dpx, wpx = _psf_1d(x - s, width)
        py, dpy, wpy = _psf_1d(y - l, width)
        model = px * py
        weight = 1.0 / noise.variance(flux * model)
        columns = [model]
        if free_position:
            columns += [flux * dpx * py, flux * px * dpy]
        if fit_width:
            columns.append(flux * (wpx * py + px * wpy))
        jac = np.stack(columns, axis=1)
        normal = jac.T @ (jac * weight[:, None])
        step = np.linalg.solve(normal + 1e-12 * np.eye(len(normal)), jac.T @ ((data - flux * model) * weight))
        flux += step[0]
        if free_position:
            s, l = s + float(np.clip(step[1], -0.5, 0.5)), l + float(np.clip(step[2], -0.5, 0.5))
            if abs(s - sample0) > 1.5 or abs(l - line0) > 1.5 or flux <= 0:
                return None
        if fit_width:
            width = float(np.clip(width + step[3], config.psf_sigma_px, 3.0 * config.psf_sigma_px))
    px, _, _ = _psf_1d(x - s, width)
    py, _, _ = _psf_1d(y - l, width)
    model = flux * px * py
    variance = noise.variance(model)
    covariance = np.linalg.inv(normal)
    chi2_sum = float(((data - model) ** 2 / variance).sum())
    position_sigma = math.sqrt(0.5 * (covariance[1, 1] + covariance[2, 2])) if free_position else math.nan
    return _Fit(s, l, float(flux), math.sqrt(covariance[0, 0]), position_sigma,
                chi2_sum / max(data.size - len(normal), 1), False, chi2_sum)


def _own_saturated_region(image: np.ndarray, sample: float, line: float, saturation_dn: float) -> np.ndarray | None:
    """The saturated region (mask) of a source at (sample, line): one that reaches within 1.5 px of
    it and is centred on it (within 2 px across the column, 3 px along it unless the framelet's
    edge cuts it); None when the saturation nearby belongs to a neighbour's bloom trail."""
    labels, _ = ndimage.label(image >= saturation_dn - 0.5)
    l0, s0 = int(round(line)), int(round(sample))
    near = labels[max(l0 - 2, 0):l0 + 3, max(s0 - 2, 0):s0 + 3]
    for label in np.unique(near[near > 0]):
        lines, samples = np.nonzero(labels == label)
        if np.hypot(lines - line, samples - sample).min() > 1.5 or abs(samples.mean() - sample) > 2.0:
            continue
        cut = lines.min() == 0 or lines.max() == image.shape[0] - 1
        if cut or abs(lines.mean() - line) <= 3.0:
            return labels == label
    return None


def _saturated_sum(image: np.ndarray, region: np.ndarray, background: float, scatter: float, sample: float,
                   line: float) -> _Fit:
    """Lower-bound flux of a saturated source: the background-subtracted sum over its saturated
    region (with its bloom trail) grown by 2 pixels."""
    grown = ndimage.binary_dilation(region, iterations=2)
    flux = float((image[grown] - background).sum())
    return _Fit(sample, line, flux, scatter * math.sqrt(int(grown.sum())), math.nan, math.nan, True)


# -- the pipeline ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Placed:
    candidate: _Candidate
    point_km: np.ndarray
    km_per_px: float
    sunlit: bool


@dataclass
class _Group:
    members: list[_Placed]

    @property
    def framelets(self) -> set[tuple[int, int]]:
        return {(m.candidate.exposure, m.candidate.filter_index) for m in self.members}

    @property
    def best(self) -> _Placed:
        return max(self.members, key=lambda m: m.candidate.snr)

    def centre_latlon(self) -> tuple[float, float]:
        """SNR²-weighted mean of the members' surface points → (lat, east lon) in degrees."""
        weights = np.array([m.candidate.snr**2 for m in self.members])
        point = (np.array([m.point_km for m in self.members]) * weights[:, None]).sum(axis=0) / weights.sum()
        lat, lon = planetocentric_latlon(point)
        return math.degrees(float(lat)), math.degrees(float(lon)) % 360.0


def mean_dn_table(mode: str) -> np.ndarray:
    """Stored code → the mean of the 12-bit integer DN values the camera stores as that code
    (float32, 256 entries): the unbiased decompanding for photometry. SQROOT rounds to the
    nearest code with ties upwards, so the nominal table value of a code with a step of s > 1 DN
    lies 0.5 DN above the mean of its integers, and a source's summed flux would be biased high by
    0.5 DN per pixel above 23 DN (0.3–0.5 σ at any SNR, measured). The saturated code keeps its
    nominal value (the ceiling; a lower bound). Linear modes: the nominal table."""
    table = decompanding_table(mode)
    if str(mode).strip().upper() != "SQROOT":
        return table
    dn = np.arange(SQROOT_MAX_DN + 1)
    codes = compand_sqroot(dn).astype(np.int64)
    sums = np.bincount(codes, weights=dn, minlength=256)
    counts = np.bincount(codes, minlength=256)
    mean = np.where(counts > 0, sums / np.maximum(counts, 1), table).astype(np.float32)
    mean[-1] = table[-1]
    mean.setflags(write=False)
    return mean


def linear_dn(observation: Observation, images: np.ndarray | None = None, units: str = "DN") -> np.ndarray:
    """Framelets [exposure, filter, 128, 1648] in linear DN (float32): the stored codes decompanded
    to the mean DN of each code (:func:`mean_dn_table`) by default, else ``images`` in ``units``
    "DN" or "DN/s" (``ioflyby.calibrate``'s output; × the exposure time)."""
    product = observation.product
    data = mean_dn_table(product.companding)[product.framelets] if images is None else \
        np.asarray(images, np.float32)
    if data.shape[:2] != observation.framelet_ets.shape:
        raise GeometryError(f"images hold {data.shape[0]} x {data.shape[1]} framelets; {product.product_id} has "
                            f"{observation.framelet_ets.shape[0]} x {observation.framelet_ets.shape[1]}")
    if units == "DN":
        return data
    if units == "DN/s":
        return data * np.float32(product.exposure_ms / 1e3)
    raise GeometryError(f"unknown image units {units!r}: use DN or DN/s")


def detect_hot_spots(
    observation: Observation,
    images: np.ndarray | None = None,
    units: str = "DN",
    config: HotSpotConfig | None = None,
    catalogue: bool = True,
    magnetosphere: bool = True,
) -> HotSpots:
    """Find and fit the hot spots of one observation (its poses must be known). ``images``: linear
    framelets (default: the decompanded product) in ``units`` (see :func:`linear_dn`);
    ``catalogue``: associate each detection with the nearest catalogue source (target Io only);
    ``magnetosphere``: give each detection Io's magnetospheric context at its time (target Io
    only; the kernels with Jupiter, Io and the Sun loaded, else null and a note, see
    :func:`with_io_context`)."""
    began = time.perf_counter()
    config = config or HotSpotConfig()
    frames = _Framelets(observation, linear_dn(observation, images, units), config)
    n_exposures, n_filters = observation.framelet_ets.shape
    candidates = [c for e in range(n_exposures) for f in range(n_filters) for c in frames.search(e, f)]
    groups = _group(_place(observation, candidates, config.max_emission_deg), config)
    predictions = _predict(observation, [g.centre_latlon() for g in groups])
    detections, rejected = [], 0
    for group, predicted in zip(groups, predictions):
        hopeless = group.best.sunlit and group.best.candidate.snr < _DAY_SEARCH_FRACTION * config.day_threshold_sigma
        if hopeless or not _persistent(frames, group, predicted, config):
            rejected += 1
            continue
        detection = _measure(frames, group, predicted)
        threshold = config.day_threshold_sigma if detection and not detection.night_side else config.threshold_sigma
        if detection is None or detection.snr < threshold or \
                detection.emission_deg > config.max_emission_deg or \
                not thermal_colours(detection.bands, config.max_temperature_k):
            rejected += 1
            continue
        detections.append(detection)
    if catalogue and observation.body.name.upper() == "IO":
        detections = associate(detections, config.catalogue_position_sigma_km)
    notes = []
    if magnetosphere and observation.body.name.upper() == "IO":
        detections, note = with_io_context(detections)
        notes += [f"{observation.product.product_id}: {note}"] if note else []
    detections.sort(key=lambda d: d.et)
    return HotSpots([observation.product.product_id], detections, config, len(candidates), rejected,
                    time.perf_counter() - began,
                    views={observation.product.product_id: (frames.dn, tuple(observation.product.filters))}, notes=notes)


def _place(observation: Observation, candidates: Sequence[_Candidate], max_emission_deg: float) -> list[_Placed]:
    """Candidates on the surface (body-fixed points, footprint), per framelet in one call; those
    seen at more than ``max_emission_deg`` are dropped."""
    placed = []
    filters = observation.product.filters
    by_framelet: dict[tuple[int, int], list[_Candidate]] = {}
    for c in candidates:
        by_framelet.setdefault((c.exposure, c.filter_index), []).append(c)
    for (exposure, f), items in by_framelet.items():
        planes = observation.backplanes(filters[f], exposure, np.array([c.sample for c in items]),
                                        np.array([c.line for c in items]))
        for c, point, km, emission, incidence in zip(items, planes.points_km, planes.km_per_px,
                                                     planes.emission_deg, planes.incidence_deg):
            if emission <= max_emission_deg:
                placed.append(_Placed(c, np.asarray(point), float(km), bool(incidence < 90.0)))
    return placed


def _group(placed: list[_Placed], config: HotSpotConfig) -> list[_Group]:
    """Greedy grouping, brightest first: a candidate joins the first group whose brightest member
    lies within ``group_radius_px`` footprints of it."""
    groups: list[_Group] = []
    seeds = np.empty((len(placed), 3))
    reach = np.empty(len(placed))
    for item in sorted(placed, key=lambda p: -p.candidate.snr):
        n = len(groups)
        distance = np.linalg.norm(seeds[:n] - item.point_km, axis=1)
        inside = np.flatnonzero(distance <= config.group_radius_px * np.maximum(reach[:n], item.km_per_px))
        if inside.size:
            groups[inside[0]].members.append(item)
        else:
            seeds[n], reach[n] = item.point_km, item.km_per_px
            groups.append(_Group([item]))
    return groups


def _predict(observation: Observation, centres: list[tuple[float, float]]) -> list[list[tuple[int, str, float, float]]]:
    """Every framelet (exposure, filter, sample, line) that sees each centre."""
    out: list[list[tuple[int, str, float, float]]] = [[] for _ in centres]
    if not centres:
        return out
    lat, lon = np.array(centres).T
    hits = observation.lonlat_to_pixel(lat, lon)
    for p, e, f, s, l in zip(hits.point, hits.exposure, hits.filter, hits.sample, hits.line):
        out[int(p)].append((int(e), str(f), float(s), float(l)))
    return out


def _persistent(frames: _Framelets, group: _Group, predicted: list, config: HotSpotConfig) -> bool:
    """Seen in two framelets, confirmed in another framelet, or one bright PSF-shaped look."""
    seen = group.framelets
    if len(seen) >= 2:
        return True
    for exposure, name, sample, line in predicted:
        key = (exposure, frames.filters.index(name))
        if key not in seen and frames.snr_near(*key, sample, line) >= config.confirm_sigma:
            return True
    best = group.best.candidate
    if best.snr < config.single_look_sigma:
        return False
    fit = psf_photometry(frames.dn[best.exposure, best.filter_index], best.sample, best.line, config,
                         frames.saturation_dn, quantisation=frames.quantisation)
    return fit is not None and (fit.saturated or fit.chi2 <= config.max_single_look_chi2)


def _measure(frames: _Framelets, group: _Group, predicted: list) -> Detection | None:
    """Photometry in every framelet that sees the group, the band intensities and the fit."""
    obs, config = frames.obs, frames.config
    looks = []
    for exposure, name, sample, line in predicted:
        f = frames.filters.index(name)
        free = frames.snr_near(exposure, f, sample, line) >= config.threshold_sigma
        fit = psf_photometry(frames.dn[exposure, f], sample, line, config, frames.saturation_dn, free_position=free,
                             quantisation=frames.quantisation)
        if fit is None:
            continue
        planes = obs.backplanes(name, exposure, np.array([fit.sample]), np.array([fit.line]))
        if not np.isfinite(planes.points_km[0, 0]) or not fit.flux_sigma > 0:
            continue
        looks.append(Look(exposure, name, fit.sample, fit.line, fit.flux, fit.flux_sigma, fit.position_sigma,
                          fit.saturated, float(planes.emission_deg[0]), float(planes.incidence_deg[0]),
                          float(planes.km_per_px[0]), planes.et, planes.points_km[0]))
    bands = _bands(looks, obs.product.tdi_stages)
    if not bands:
        return None
    located = [k for k in looks if math.isfinite(k.position_sigma_px) and not k.saturated] or \
        [max(looks, key=lambda k: k.snr)]
    sigma_km = np.array([_position_sigma_km(k) for k in located])
    weights = 1.0 / sigma_km**2 if np.all(np.isfinite(sigma_km)) else np.ones(len(located))
    point = (np.array([k.point_km for k in located]) * weights[:, None]).sum(axis=0) / weights.sum()
    lat, lon = planetocentric_latlon(point)
    best = max(looks, key=lambda k: k.snr)
    position_sigma = float(1.0 / math.sqrt(weights.sum())) if np.all(np.isfinite(sigma_km)) else \
        0.5 * best.km_per_px / max(math.cos(math.radians(best.emission_deg)), 0.05)
    return Detection(obs.product.product_id, _utc(obs, best.et), best.et, math.degrees(float(lat)), math.degrees(float(lon)) % 360.0,
                     position_sigma, best.emission_deg, best.incidence_deg, best.km_per_px, bands,
                     thermal_fit(bands, config.band_throughput_sigma), tuple(looks))


def _position_sigma_km(look: Look) -> float:
    """σ of a look's surface position along its worse (foreshortened) axis, km."""
    return look.position_sigma_px * look.km_per_px / max(math.cos(math.radians(look.emission_deg)), 0.05)


def _bands(looks: Sequence[Look], tdi: int) -> dict[str, BandMeasurement]:
    """Per band, the inverse-variance mean intensity of its unsaturated looks (or, when every look
    saturated, the largest lower bound)."""
    out = {}
    for name in dict.fromkeys(k.filter for k in looks):
        band_looks = [k for k in looks if k.filter == name and k.emission_deg < 89.0]
        if not band_looks:
            continue
        scale = [k.km_per_px**2 / math.cos(math.radians(k.emission_deg)) / (radiance_gain(name) * tdi)
                 for k in band_looks]
        values = np.array([k.flux_dn * c for k, c in zip(band_looks, scale)])
        sigmas = np.array([k.flux_sigma_dn * c for k, c in zip(band_looks, scale)])
        unsaturated = np.array([not k.saturated for k in band_looks])
        if unsaturated.any():
            w = 1.0 / sigmas[unsaturated] ** 2
            value, sigma = float((values[unsaturated] * w).sum() / w.sum()), float(1.0 / math.sqrt(w.sum()))
        else:
            i = int(np.argmax(values))
            value, sigma = float(values[i]), float(sigmas[i])
        best = max(band_looks, key=lambda k: k.snr)
        radiance = value * math.cos(math.radians(best.emission_deg)) / best.km_per_px**2
        out[name] = BandMeasurement(name, value, sigma, radiance, not unsaturated.any(), len(band_looks))
    return out


def thermal_colours(bands: dict[str, BandMeasurement], max_temperature_k: float) -> bool:
    """Whether no band is brighter, relative to a longer unsaturated band, than a black body of
    ``max_temperature_k`` allows (by more than 3 σ): the colours of heat, not of reflected light."""
    ordered = sorted(bands.values(), key=lambda b: passband(b.band).centre_nm)
    for i, short in enumerate(ordered):
        for long in ordered[i + 1:]:
            if long.saturated:
                continue
            limit = float(band_radiance(short.band, max_temperature_k) / band_radiance(long.band, max_temperature_k))
            excess = short.intensity - limit * long.intensity
            if excess > 3.0 * math.hypot(short.intensity_sigma, limit * long.intensity_sigma):
                return False
    return True


def thermal_fit(bands: dict[str, BandMeasurement], throughput_sigma: float, min_snr: float = 3.0) -> ThermalFit:
    """Brightness temperatures, and the colour temperature, area and power (with noise and
    systematic σ) of one black body fitted to every unsaturated band with SNR ≥ ``min_snr``
    (see the module docstring, step 4); NaN where fewer than two such bands or no fit."""
    brightness = {name: brightness_temperature(name, b.radiance) for name, b in bands.items() if b.snr >= min_snr}
    usable = sorted((b for b in bands.values() if not b.saturated and b.snr >= min_snr),
                    key=lambda b: passband(b.band).centre_nm)
    if len(usable) < 2:
        return ThermalFit(brightness)
    solution = black_body_fit(usable)
    if solution is None:
        return ThermalFit(brightness)
    temperature, area, jacobian = solution
    intensity = np.array([b.intensity for b in usable])
    noise = np.array([b.intensity_sigma for b in usable])
    # Linear propagation: d(ln T, ln A) = G · dI with G the weighted least-squares gain.
    weights = 1.0 / noise**2
    gain = np.linalg.solve(jacobian.T @ (jacobian * weights[:, None]), (jacobian * weights[:, None]).T)
    power_row = np.array([4.0, 1.0]) @ gain

    def spread(rows: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        return np.sqrt(((rows * sigma) ** 2).sum(axis=-1))

    rows = np.vstack([gain, power_row])
    sigma_noise = spread(rows, noise)
    sigma_system = spread(rows, throughput_sigma * intensity)
    power = float(power_w(temperature, area)) / 1e9
    return ThermalFit(
        brightness, temperature, temperature * sigma_noise[0], area, area * sigma_noise[1], power,
        power * sigma_noise[2], tuple(b.band for b in usable),
        {"band_throughput_fraction": throughput_sigma, "temperature_k": temperature * float(sigma_system[0]),
         "area_km2": area * float(sigma_system[1]), "power_gw": power * float(sigma_system[2])},
    )


def black_body_fit(bands: Sequence[BandMeasurement], iterations: int = 20) -> tuple[float, float, np.ndarray] | None:
    """Weighted least squares of one black body to band intensities: minimises
    Σ_b ((I_b − A·L_b(T)) / σ_b)² over T and A (Gauss–Newton in ln T, ln A, started at the colour
    temperature of the pair of bands that measures it best). Returns (T K, A km², Jacobian
    ∂I_b/∂(ln T, ln A) at the solution), or None where the colours fit no temperature in range."""
    intensity = np.array([b.intensity for b in bands])
    sigma = np.array([b.intensity_sigma for b in bands])
    start = None
    def colour_sigma(pair: tuple[BandMeasurement, BandMeasurement]) -> float:
        lever = 1.0 / passband(pair[0].band).centre_nm - 1.0 / passband(pair[1].band).centre_nm
        return math.hypot(1.0 / pair[0].snr, 1.0 / pair[1].snr) / lever

    for short, long in sorted(((a, b) for i, a in enumerate(bands) for b in bands[i + 1:]), key=colour_sigma):
        start = colour_temperature(short.band, long.band, short.intensity / long.intensity)
        if math.isfinite(start):
            break
    if start is None or not math.isfinite(start):
        return None
    log_t = math.log(start)
    low, high = (math.log(t) for t in TEMPERATURE_RANGE_K)

    def model(log_t: float) -> tuple[np.ndarray, np.ndarray]:
        t = math.exp(log_t)
        radiance = np.array([float(band_radiance(b.band, t)) for b in bands])
        slope = np.array([float(log_slope(b.band, t)) for b in bands])
        return radiance, slope

    radiance, slope = model(log_t)
    w = 1.0 / sigma**2
    log_a = math.log(max(float((intensity * radiance * w).sum() / (radiance**2 * w).sum()), 1e-30))
    for _ in range(iterations):
        predicted = math.exp(log_a) * radiance
        jacobian = np.column_stack([predicted * slope, predicted])
        normal = jacobian.T @ (jacobian * w[:, None])
        step = np.linalg.solve(normal, jacobian.T @ ((intensity - predicted) * w))
        step = np.clip(step, -0.5, 0.5)
        log_t = float(np.clip(log_t + step[0], low, high))
        log_a += float(step[1])
        radiance, slope = model(log_t)
        if abs(step[0]) < 1e-7 and abs(step[1]) < 1e-7:
            break
    if not low < log_t < high:
        return None
    predicted = math.exp(log_a) * radiance
    return math.exp(log_t), math.exp(log_a), np.column_stack([predicted * slope, predicted])


def _utc(observation: Observation, et: float) -> str:
    """UTC of an epoch inside the product, from its label START_TIME (no SPICE needed)."""
    product, start = observation.product, observation.start
    label_et = start.et - (start.clock_minus_start_time_s or 0.0 if start.source == "sclk" else 0.0)
    moment = parse_utc(product.start_time_utc, key="START_TIME", where=product.product_id)
    return format_utc(moment + timedelta(seconds=et - label_et))


def with_io_context(detections: list[Detection]) -> tuple[list[Detection], str | None]:
    """``detections`` with Io's magnetospheric context at their times (``io_magnetosphere``:
    :func:`ioflyby.magnetosphere.io_context_summaries`, one call for the whole batch); when the
    loaded kernels cannot give it, every detection gets None and the one-line note returned says
    why (the detections are never lost over it)."""
    from ioflyby.magnetosphere import io_context_summaries

    if not detections:
        return detections, None
    summaries, note = io_context_summaries(np.array([d.et for d in detections]))
    if summaries is None:
        return [replace(d, io_magnetosphere=None) for d in detections], note
    return [replace(d, io_magnetosphere=summary) for d, summary in zip(detections, summaries)], None


def associate(detections: list[Detection], catalogue_sigma_km: float) -> list[Detection]:
    """Each detection with its nearest Davies/Mura source when within 3 σ (detection σ and
    ``catalogue_sigma_km`` in quadrature): ``catalogue_match`` = {name, iau_name, source, distance_km}."""
    from ioflyby.volcano.catalogue import IO_MEAN_RADIUS_KM, great_circle_deg, select_features

    if not detections:
        return detections
    table = select_features(sources=("davies", "mura"))
    out = []
    for d in detections:
        distance = np.radians(great_circle_deg(d.lat_deg, d.lon_east_deg, table["lat_deg"].to_numpy(),
                                               table["lon_east_deg"].to_numpy())) * IO_MEAN_RADIUS_KM
        i = int(np.argmin(distance))
        limit = 3.0 * math.hypot(d.position_sigma_km, catalogue_sigma_km)
        row = table.iloc[i]
        match = {"name": row["name"], "iau_name": row["iau_name"], "source": row["source"],
                 "distance_km": float(distance[i])} if distance[i] <= limit else None
        out.append(replace(d, catalogue_match=match))
    return out


def find_hot_spots(
    products: Sequence[RawProduct | str | Path],
    kernels: Sequence[str | Path] | str | Path,
    pointing: str = "kernels",
    config: HotSpotConfig | None = None,
    calibration_dir: str | Path | None = None,
    on_product: Callable[[str], None] | None = None,
    magnetosphere: bool = True,
) -> HotSpots:
    """Hot spots of every product (each detected on its own: a source seen in several products
    is reported once per product). ``pointing``: "kernels" (the CK) or "solve" (from each
    product's limb); ``calibration_dir``: calibrate first (DN/s), else the decompanded DN;
    ``on_product(product_id)`` is called as each product starts; ``magnetosphere``: Io's
    magnetospheric context on each detection (see :func:`detect_hot_spots`)."""
    from ioflyby.geometry import Body
    from ioflyby.ingest import read_product
    from ioflyby.processing import framelet_images, observation_with_poses
    from ioflyby.spice import Kernels

    if pointing not in ("kernels", "solve"):
        raise GeometryError(f"unknown pose source {pointing!r}: use kernels or solve")
    began = time.perf_counter()
    raw = [p if isinstance(p, RawProduct) else read_product(p) for p in products]
    if not raw:
        raise GeometryError("no product to search for hot spots")
    config = config or HotSpotConfig()
    kernels = [kernels] if isinstance(kernels, (str, Path)) else list(kernels)
    results = []
    with Kernels(kernels):
        body = Body.from_spice(raw[0].target)
        for product in raw:
            (on_product or (lambda _id: None))(product.product_id)
            observation = observation_with_poses(product, body, pointing)
            images, _ = framelet_images(product, None if calibration_dir is None else Path(calibration_dir))
            units = "DN" if calibration_dir is None else "DN/s"
            results.append(detect_hot_spots(observation, images, units, config, magnetosphere=magnetosphere))
    return merge(results, [p.product_id for p in raw], config, time.perf_counter() - began)


def merge(results: Sequence[HotSpots], products: Sequence[str], config: HotSpotConfig,
          seconds: float | None = None) -> HotSpots:
    """One :class:`HotSpots` of the per-product ``results`` (detections, counts, views, notes)."""
    return HotSpots(list(products), [d for r in results for d in r.detections], config,
                    sum(r.candidates for r in results), sum(r.rejected for r in results),
                    sum(r.seconds for r in results) if seconds is None else seconds,
                    views={k: v for r in results for k, v in r.views.items()},
                    notes=[n for r in results for n in r.notes])
