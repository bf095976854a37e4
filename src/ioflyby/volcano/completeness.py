"""How complete and how accurate the hot-spot detection is, measured on the digital twin.

Hot spots of known temperature and area are injected into a twin product at surface points chosen
by viewing geometry (emission angle, night or day side), the product is rendered again with them
(:class:`ioflyby.simulate.FrameletRenderer`, the same labels and kernels), and
:func:`ioflyby.volcano.hotspots.detect_hot_spots` runs on it. Each injected spot is matched to the
nearest detection within ``match_radius_px`` pixel footprints; detections matching nothing are
false. Completeness per band: the share of injected spots detected with that band's SNR at or
above the detection threshold (``any``: detected at all).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ioflyby.camera import JunoCam
from ioflyby.fileio import save_figure
from ioflyby.geometry import latlon_to_surface
from ioflyby.ingest import RawProduct, read_product
from ioflyby.observation import Observation
from ioflyby.simulate import FrameletRenderer, HotSpot, ImagingSpec, RenderEffects, Twin, load_basemap
from ioflyby.simulate.render import NoiseModel
from ioflyby.spice import Kernels
from ioflyby.volcano.hotspots import Detection, HotSpotConfig, HotSpots, detect_hot_spots, mean_dn_table, psf_kernel


@dataclass(frozen=True)
class Site:
    """A surface point seen in a product: planetocentric lat, east lon (deg), its emission and
    solar incidence angles (deg) in the framelet that sees it best."""

    lat_deg: float
    lon_east_deg: float
    emission_deg: float
    incidence_deg: float

    @property
    def side(self) -> str:
        return "night" if self.incidence_deg >= 90.0 else "day"


@dataclass(frozen=True)
class Trial:
    """One injected hot spot and what became of it: the matching detection (or None) and the
    signal it was expected to give (``expected_snr``: band → matched-filter SNR, see
    :func:`expected_snr`; empty when unknown)."""

    spot: HotSpot
    site: Site
    detection: Detection | None
    offset_km: float
    km_per_px: float
    expected_snr: dict[str, float] = field(default_factory=dict)

    @property
    def best_expected_snr(self) -> float:
        return max(self.expected_snr.values(), default=math.nan)


def find_sites(observation: Observation, emission_deg: float, side: str, count: int, spacing_px: float = 40.0,
               tolerance_deg: float = 4.0, filter_name: str = "RED", seed: int = 0) -> list[Site]:
    """Up to ``count`` surface points seen in ``observation`` at ``emission_deg`` ± ``tolerance_deg``
    on the ``side`` ("night": incidence ≥ 95°, "day": ≤ 80°), at least ``spacing_px`` apart in the
    ``filter_name`` framelets and away from the framelet ends (lines 16–111), each at a random
    sub-pixel position (``seed``) so that the trials sample every pixel phase."""
    lines, samples = np.mgrid[16:112:8, 40:1600:8].astype(float)
    jitter = np.random.default_rng(seed).uniform(-0.5, 0.5, (2, *lines.shape))
    lines, samples = lines + jitter[0], samples + jitter[1]
    chosen: list[tuple[Site, np.ndarray, float]] = []
    for exposure in range(observation.product.n_exposures):
        planes = observation.backplanes(filter_name, exposure, samples, lines)
        good = (np.abs(planes.emission_deg - emission_deg) <= tolerance_deg) & np.isfinite(planes.emission_deg)
        good &= planes.incidence_deg >= 95.0 if side == "night" else planes.incidence_deg <= 80.0
        for i in np.flatnonzero(good):
            point = planes.points_km.reshape(-1, 3)[i]
            km = float(planes.km_per_px.ravel()[i])
            if all(np.linalg.norm(point - p) > spacing_px * max(km, k) for _, p, k in chosen):
                site = Site(float(planes.lat_deg.ravel()[i]), float(planes.lon_east_deg.ravel()[i]),
                            float(planes.emission_deg.ravel()[i]), float(planes.incidence_deg.ravel()[i]))
                chosen.append((site, point, km))
                if len(chosen) == count:
                    return [c[0] for c in chosen]
    return [c[0] for c in chosen]


class TwinProduct:
    """A twin product that can be rendered again with other hot spots (same labels, kernels, noise
    model and effects; only the pixels change)."""

    def __init__(self, twin: Twin, index: int = 0, effects: RenderEffects | None = None):
        self.twin = twin
        self.record = twin.truth["products"][index]
        self.base = read_product(twin.products[index])
        self.effects = effects or RenderEffects(**twin.truth["effects"])
        self.noise = NoiseModel(**twin.truth["noise"])
        with Kernels([twin.truth_metakernel]):
            self.camera = JunoCam.from_kernel_pool()
            self.observation = Observation(self.base, camera=self.camera)
        self.basemap = load_basemap(twin.truth["basemap"]["path"])

    def render(self, spots: Sequence[HotSpot], seed: int) -> tuple[RawProduct, list[dict], int]:
        """The product with ``spots`` (and fresh noise from ``seed``): the RawProduct, every spot's
        image truth and the number of radiation hits."""
        r = self.record
        spec = ImagingSpec(r["label_start_utc"], r["n_exposures"], r["interframe_delay_s"], r["tdi"], tuple(r["filters"]))
        with Kernels([self.twin.truth_metakernel]):
            renderer = FrameletRenderer(self.camera, self.basemap, self.twin.truth["target"], noise=self.noise,
                                        hot_spots=spots, effects=self.effects,
                                        minnaert_k=self.twin.truth["photometry"]["minnaert_k"])
            result = renderer.render(spec, r["true_start_et"], np.random.default_rng(seed), truth_pixels=0)
        return replace(self.base, framelets=result.framelets), result.hot_spot_images, result.radiation_hits

    def observe(self, product: RawProduct) -> Observation:
        """The observation of a re-rendered product (the base product's poses)."""
        obs = self.observation
        with Kernels([self.twin.truth_metakernel]):
            return Observation(product, camera=obs.camera, body=obs.body, poses=obs.poses)


def run_trials(product: TwinProduct, spots: Sequence[HotSpot], sites: Sequence[Site], seed: int,
               config: HotSpotConfig | None = None, match_radius_px: float = 3.0) -> tuple[list[Trial], HotSpots]:
    """Inject ``spots`` (one per site, placed there), detect, and match every spot to a detection."""
    placed = [replace(spot, lat_deg=site.lat_deg, lon_east_deg=site.lon_east_deg) for spot, site in zip(spots, sites)]
    raw, images, _ = product.render(placed, seed)
    found = detect_hot_spots(product.observe(raw), config=config, catalogue=False)
    trials = match_trials(placed, sites, _footprints(images), found.detections,
                          product.observation.body.radii_km, match_radius_px)
    signal = expected_snr(raw, images, config)
    return [replace(t, expected_snr=signal.get(i, {})) for i, t in enumerate(trials)], found


def expected_snr(raw: RawProduct, images: Sequence[dict], config: HotSpotConfig | None = None,
                 edge_px: float = 2.0) -> dict[int, dict[str, float]]:
    """The matched-filter SNR each injected spot should reach in each band, from the twin's truth:
    spot index → band → the largest over the framelets that image it (``images``: the render's
    ``hot_spot_images``) of ``total_dn · ‖PSF‖ / σ_pixel``, with σ_pixel² = read noise² + level /
    gain + the companding step's variance at the local level (the median of the product's pixels
    4–7 px from the spot: the background the spot sits on) — the detector model of ``config``.
    Framelet positions the search cannot use (within ``edge_px`` of a framelet's edge or outside
    the photoactive area, or seen at more than ``config.max_emission_deg``) are left out. Pixel
    phase and albedo texture are not in it: the completeness curves measure their effect."""
    config = config or HotSpotConfig()
    table = mean_dn_table(raw.companding)
    nominal = decompanding_table_steps(raw.companding)
    norm = float(np.sqrt((psf_kernel(config.psf_sigma_px) ** 2).sum()))
    out: dict[int, dict[str, float]] = {}
    filters = list(raw.filters)
    for image in images:
        s, l = float(image["sample"]), float(image["line"])
        if not (edge_px <= l <= raw.framelets.shape[2] - 1 - edge_px and JunoCam.in_photoactive_area(s, l)
                and JunoCam.in_photoactive_area(s - edge_px, l) and JunoCam.in_photoactive_area(s + edge_px, l)
                and image["emission_deg"] <= config.max_emission_deg):
            continue
        frame = raw.framelets[image["exposure"], filters.index(image["filter"])]
        la, lb = max(int(l) - 7, 0), min(int(l) + 8, frame.shape[0])
        sa, sb = max(int(s) - 7, 0), min(int(s) + 8, frame.shape[1])
        yy, xx = np.mgrid[la:lb, sa:sb]
        ring = np.hypot(yy - l, xx - s)
        level = float(np.median(table[frame[la:lb, sa:sb][(ring >= 4.0) & (ring <= 7.0)]]))
        variance = config.read_noise_dn**2 + max(level, 0.0) / config.gain_e_per_dn + \
            nominal[int(np.clip(level, 0, nominal.size - 1))]
        snr = float(image["total_dn"]) * norm / math.sqrt(variance)
        bands = out.setdefault(int(image["spot"]), {})
        bands[image["filter"]] = max(bands.get(image["filter"], 0.0), snr)
    return out


def decompanding_table_steps(mode: str) -> np.ndarray:
    """Variance (DN²) of the companding step at each integer DN level 0..4096 (step² / 12)."""
    from ioflyby.ingest.companding import decompanding_table

    table = decompanding_table(mode)
    codes = np.clip(np.searchsorted(table, np.arange(4097)), 1, table.size - 1)
    return ((table[codes] - table[codes - 1]) ** 2 / 12.0).astype(np.float64)


@dataclass(frozen=True)
class Transition:
    """Where the measured completeness turns from 0 to 1 on one side (night/day) in one band (or
    ``any``): spots whose expected SNR is below ``low`` were all missed, above ``high`` all seen;
    between the two either can happen (the curve's transition band, as wide as the trials leave
    it: the lowest expected SNR seen and the highest missed)."""

    side: str
    band: str
    low: float
    high: float
    trials: int

    def predict(self, snr: float) -> str:
        """"seen", "missed" or "either" for a spot of expected SNR ``snr``."""
        if not snr > 0:
            return "missed"
        return "seen" if snr > self.high else "missed" if snr < self.low else "either"

    def to_json(self) -> dict:
        return {"side": self.side, "band": self.band, "low_snr": self.low, "high_snr": self.high,
                "trials": self.trials}


def transitions(trials: Sequence[Trial], threshold_sigma: float = 5.0,
                margin: float = 1.5) -> dict[tuple[str, str], Transition]:
    """The transition bands of the measured completeness against expected SNR, per (side, band)
    for BLUE, GREEN, RED (a band "sees" a spot when the detection has it at ``threshold_sigma``
    or saturated) and ``any`` (detected at all, against the best band's expected SNR): from the
    lowest expected SNR seen to the highest missed, widened by ``margin`` either way (a grid
    samples the curve coarsely: its steep part can lie between two trials)."""
    out = {}
    for side in ("night", "day"):
        chosen = [t for t in trials if t.site.side == side and t.expected_snr]
        if not chosen:
            continue
        for band in ("BLUE", "GREEN", "RED", "any"):
            points = []
            for t in chosen:
                if band == "any":
                    points.append((t.best_expected_snr, t.detection is not None))
                else:
                    m = t.detection.bands.get(band) if t.detection else None
                    points.append((t.expected_snr.get(band, 0.0), bool(m and (m.saturated or m.snr >= threshold_sigma))))
            seen = [s for s, ok in points if ok]
            missed = [s for s, ok in points if not ok]
            lowest_seen = min(seen, default=math.inf)
            highest_missed = max(missed, default=0.0)
            low, high = min(lowest_seen, highest_missed), max(lowest_seen, highest_missed)
            out[side, band] = Transition(side, band, low / margin, high * margin, len(points))
    return out


def predict_detection(expected: dict[str, float], side: str, curves: dict[tuple[str, str], Transition]) -> str:
    """"seen", "missed" or "either" for a spot of per-band ``expected`` SNR on ``side``: seen when
    the ``any`` curve or a band's curve says seen, missed when the ``any`` curve and every band's
    say missed, else either."""
    votes = [curves[side, "any"].predict(max(expected.values(), default=0.0))] if (side, "any") in curves else []
    votes += [curves[side, b].predict(snr) for b, snr in expected.items() if (side, b) in curves]
    if not votes:
        raise ValueError(f"no completeness curve for the {side} side")
    if "seen" in votes:
        return "seen"
    return "missed" if all(v == "missed" for v in votes) else "either"


def truth_trials(truth: dict, found: HotSpots, radii: np.ndarray, match_radius_px: float = 3.0) -> list[Trial]:
    """The twin's injected hot spots (``truth.json``) in every product that imaged them on its
    photoactive area, matched to the detections of that product."""
    spots = [HotSpot(**{k: v for k, v in h.items() if k != "power_gw"}) for h in truth["hot_spots"]]
    trials = []
    for record in truth["products"]:
        images = [i for i in record.get("hot_spot_images", []) if JunoCam.in_photoactive_area(i["sample"], i["line"])]
        seen = sorted({i["spot"] for i in images})
        if not seen:
            continue
        sites = [_site(spots[k], [i for i in images if i["spot"] == k]) for k in seen]
        detections = [d for d in found.detections if d.product_id == record["product_id"]]
        footprints = {n: v for n, v in enumerate(_footprints(images)[k] for k in seen)}
        trials += match_trials([spots[k] for k in seen], sites, footprints, detections, radii, match_radius_px)
    return trials


def _site(spot: HotSpot, images: Sequence[dict]) -> Site:
    best = min(images, key=lambda i: i["emission_deg"])
    return Site(spot.lat_deg, spot.lon_east_deg, best["emission_deg"], best["incidence_deg"])


def _footprints(images: Sequence[dict]) -> dict[int, float]:
    """Smallest pixel footprint (km) of each spot over the framelets that imaged it."""
    km: dict[int, float] = {}
    for image in images:
        km[image["spot"]] = min(km.get(image["spot"], math.inf), image["km_per_px"])
    return km


def match_trials(spots: Sequence[HotSpot], sites: Sequence[Site], km_per_px: dict[int, float],
                 detections: Sequence[Detection], radii: np.ndarray, match_radius_px: float) -> list[Trial]:
    """Each spot (index into ``km_per_px``) with the nearest detection within ``match_radius_px``
    footprints, else None."""
    points = [latlon_to_surface(math.radians(d.lat_deg), math.radians(d.lon_east_deg), radii) for d in detections]
    trials = []
    for i, (spot, site) in enumerate(zip(spots, sites)):
        truth = latlon_to_surface(math.radians(spot.lat_deg), math.radians(spot.lon_east_deg), radii)
        distances = [float(np.linalg.norm(p - truth)) for p in points]
        k = int(np.argmin(distances)) if distances else -1
        scale = km_per_px.get(i, math.nan)
        if k >= 0 and distances[k] <= match_radius_px * scale:
            trials.append(Trial(spot, site, detections[k], distances[k], scale))
        else:
            trials.append(Trial(spot, site, None, math.nan, scale))
    return trials


def run_grid(product: TwinProduct, temperatures_k: Sequence[float], areas_km2: Sequence[float],
             geometries: Sequence[tuple[str, float]], seed: int = 0, config: HotSpotConfig | None = None,
             per_product: int = 16) -> tuple[list[Trial], list[Detection]]:
    """Every (temperature, area) at every (side, emission angle) of ``geometries``, rendered
    ``per_product`` spots at a time at separate sites of that geometry: the trials and the false
    detections of all the renders."""
    trials: list[Trial] = []
    false: list[Detection] = []
    spots = [HotSpot(0.0, 0.0, float(t), float(a)) for t in temperatures_k for a in areas_km2]
    render = 0
    for side, emission in geometries:
        sites = find_sites(product.observation, emission, side, per_product, seed=seed + render)
        if not sites:
            continue
        for start in range(0, len(spots), len(sites)):
            chunk = spots[start:start + len(sites)]
            done, found = run_trials(product, chunk, sites[:len(chunk)], seed + render, config)
            trials += done
            false += false_detections(done, found)
            render += 1
    return trials, false


def false_detections(trials: Sequence[Trial], found: HotSpots) -> list[Detection]:
    """Detections that match no injected spot."""
    matched = {id(t.detection) for t in trials if t.detection is not None}
    return [d for d in found.detections if id(d) not in matched]


def trial_rows(trials: Sequence[Trial], threshold_sigma: float = 5.0) -> list[dict]:
    """One row per trial: injected T, area, power, geometry; detected per band; fitted values."""
    rows = []
    for t in trials:
        d = t.detection
        row = {"temperature_k": t.spot.temperature_k, "area_km2": t.spot.area_km2, "power_gw": t.spot.power_gw,
               "side": t.site.side, "emission_deg": t.site.emission_deg, "incidence_deg": t.site.incidence_deg,
               "km_per_px": t.km_per_px, "detected": d is not None, "offset_km": t.offset_km,
               "offset_px": t.offset_km / t.km_per_px if d else math.nan}
        for band in ("BLUE", "GREEN", "RED"):
            m = d.bands.get(band) if d else None
            row[f"snr_{band.lower()}"] = m.snr if m else math.nan
            row[f"seen_{band.lower()}"] = bool(m and m.snr >= threshold_sigma and not m.saturated) or \
                bool(m and m.saturated)
        fit = d.fit if d else None
        for key in ("color_temperature_k", "temperature_sigma_k", "area_km2", "area_sigma_km2", "power_gw",
                    "power_sigma_gw"):
            row[f"fit_{key}"] = getattr(fit, key) if fit else math.nan
        row["position_sigma_km"] = d.position_sigma_km if d else math.nan
        row["fit_snr"] = d.fit_snr if d else math.nan
        for band in ("BLUE", "GREEN", "RED"):
            row[f"expected_snr_{band.lower()}"] = t.expected_snr.get(band, math.nan) if t.expected_snr else math.nan
        row["expected_snr_best"] = t.best_expected_snr
        rows.append(row)
    return rows


def completeness_table(rows: Sequence[dict], binned: bool = False) -> list[dict]:
    """Completeness per (side, temperature, area): injected count and the detected share, any band
    and per band. ``binned``: temperatures to the nearest 100 K and areas to the nearest power of
    ten (for spots that are not on a grid, such as a catalogue's)."""
    def key(row: dict) -> tuple[str, float, float]:
        if not binned:
            return row["side"], row["temperature_k"], row["area_km2"]
        return row["side"], 100.0 * round(row["temperature_k"] / 100.0), 10.0 ** round(math.log10(row["area_km2"]))

    table = []
    for side, temperature, area in sorted({key(r) for r in rows}):
        chosen = [r for r in rows if key(r) == (side, temperature, area)]
        entry = {"side": side, "temperature_k": temperature, "area_km2": area, "injected": len(chosen),
                 "any": float(np.mean([r["detected"] for r in chosen]))}
        for band in ("blue", "green", "red"):
            entry[band] = float(np.mean([r[f"seen_{band}"] for r in chosen]))
        table.append(entry)
    return table


def accuracy(rows: Sequence[dict], min_snr: float = 20.0) -> dict:
    """Errors of the detections with a colour temperature whose colour SNR (``Detection.fit_snr``:
    the weaker of its two best bands) reaches ``min_snr``:
    worst position offset (px, km), worst relative colour-temperature, area and power errors, the
    shares of areas within 20 % and powers within 25 %, and the pull (error / reported σ)
    standard deviations of temperature, area and power."""
    good = [r for r in rows if r["detected"] and r["fit_snr"] >= min_snr and math.isfinite(r["fit_color_temperature_k"])]
    if not good:
        return {"count": 0}
    errors = {key: np.array([r[f"fit_{key}"] / r[truth] - 1.0 for r in good])
              for key, truth in (("color_temperature_k", "temperature_k"), ("area_km2", "area_km2"),
                                 ("power_gw", "power_gw"))}
    pulls = {name: np.array([(r[f"fit_{value}"] - r[truth]) / r[f"fit_{sigma}"] for r in good])
             for name, value, truth, sigma in (("temperature", "color_temperature_k", "temperature_k",
                                                "temperature_sigma_k"),
                                               ("area", "area_km2", "area_km2", "area_sigma_km2"),
                                               ("power", "power_gw", "power_gw", "power_sigma_gw"))}
    return {
        "count": len(good),
        "max_offset_px": float(max(r["offset_px"] for r in good)),
        "max_offset_km": float(max(r["offset_km"] for r in good)),
        "max_temperature_error": float(np.abs(errors["color_temperature_k"]).max()),
        "max_area_error": float(np.abs(errors["area_km2"]).max()),
        "max_power_error": float(np.abs(errors["power_gw"]).max()),
        "area_within_20_percent": float(np.mean(np.abs(errors["area_km2"]) <= 0.20)),
        "power_within_25_percent": float(np.mean(np.abs(errors["power_gw"]) <= 0.25)),
        **{f"pull_width_{name}": float(np.std(values)) for name, values in pulls.items()},
    }


def rows_csv(rows: Sequence[dict]) -> str:
    """Rows as CSV text."""
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def plot_completeness(table: Sequence[dict], path: str | Path, title: str = "Hot-spot completeness (twin)") -> Path:
    """Completeness against emitting area, one panel per band (and "any band"), one curve per
    temperature, solid night side, dashed day side; a PNG written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = ("any", "blue", "green", "red")
    figure, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.6), sharey=True)
    temperatures = sorted({e["temperature_k"] for e in table})
    colours = plt.get_cmap("inferno")(np.linspace(0.2, 0.85, max(len(temperatures), 1)))
    for axis, panel in zip(axes, panels):
        for colour, temperature in zip(colours, temperatures):
            for side, style in (("night", "-"), ("day", "--")):
                entries = sorted((e for e in table if e["temperature_k"] == temperature and e["side"] == side),
                                 key=lambda e: e["area_km2"])
                if entries:
                    axis.plot([e["area_km2"] for e in entries], [e[panel] for e in entries], style, color=colour,
                              marker="o", markersize=3, label=f"{temperature:.0f} K {side}")
        axis.set_xscale("log")
        axis.set_xlabel("emitting area (km²)")
        axis.set_title("any band" if panel == "any" else panel.upper())
        axis.set_ylim(-0.05, 1.05)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("detected fraction")
    axes[-1].legend(fontsize=7, loc="lower right")
    figure.suptitle(title)
    figure.tight_layout()
    return save_figure(figure, path, dpi=110)

