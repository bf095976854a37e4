"""The demo's "Volcanoes" section: the hot-spot search on the twin's products, which carry the
catalogued thermal sources of Davies et al. (2024) with their published temperature and area.

For every source the twin imaged (on the photoactive area, emission ≤ the search's limit) the
section lists its expected matched-filter SNR (:func:`ioflyby.volcano.completeness.expected_snr`,
from the twin's truth), whether it was detected, and why not; the hot-spot map of the product that
imaged most of them, and the completeness of the twin's sources found and missed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ioflyby.ingest import RawProduct
from ioflyby.observation import Observation
from ioflyby.pointing import PointingSolution
from ioflyby.report import Report
from ioflyby.simulate import Twin
from ioflyby.spice import Kernels
from ioflyby.volcano.catalogue import IO_MEAN_RADIUS_KM
from ioflyby.volcano.completeness import (
    completeness_table,
    expected_snr,
    plot_completeness,
    trial_rows,
    truth_trials,
)
from ioflyby.volcano.hotspots import HotSpotConfig, HotSpots, detect_hot_spots, merge

TABLE_ROWS = 4
"""The sources listed: the detected ones and the most promising missed ones (best expected SNR)."""


@dataclass
class VolcanoReport:
    """What the hot-spot search made of the twin's catalogued sources (``sources``: one row per
    imaged source), the files written and the search's own result."""

    found: HotSpots
    sources: list[dict]
    files: dict[str, Path] = field(default_factory=dict)

    def summary(self) -> dict:
        return {"imaged_sources": len(self.sources), "detected": sum(r["detected"] for r in self.sources),
                "detections": len(self.found.detections),
                "matched_to_catalogue": sum(d.catalogue_match is not None for d in self.found.detections),
                "with_io_magnetosphere": sum(d.io_magnetosphere is not None for d in self.found.detections),
                "notes": list(self.found.notes),
                "files": {k: str(v) for k, v in self.files.items()}}

    def add_section(self, report: Report) -> None:
        """The report's "Volcanoes" section: text, the table, the hot-spot map, the completeness plot."""
        part = report.section("Volcanoes: the catalogue's hot spots in the twin")
        detected = sum(r["detected"] for r in self.sources)
        part.text(f"{len(self.sources)} catalogued sources imaged (Davies et al. 2024, published T and area); "
                  f"{len(self.found.detections)} hot spot(s) found, {detected} of them catalogued.")
        shown = sorted(self.sources, key=lambda r: (not r["detected"], -r["expected_snr"]))[:TABLE_ROWS]
        part.table(f"Detected, then the most promising by expected SNR (of {len(self.sources)})",
                   [_row(r) for r in shown])
        if self.found.detections:
            part.table("Detections (colour temperature, area, power with 1σ noise)", [
                {"lat (deg)": d.lat_deg, "lon E (deg)": d.lon_east_deg, "T (K)": d.fit.color_temperature_k,
                 "area (km²)": d.fit.area_km2, "power (GW)": d.fit.power_gw, "SNR": d.snr,
                 "catalogue": d.catalogue_match["name"] if d.catalogue_match else "—",
                 **_context_columns(d.io_magnetosphere)}
                for d in self.found.detections])
        for note in self.found.notes:
            part.text(f"Note: {note}")
        if "map" in self.files:
            part.figure(self.files["map"], "Hot-spot map (RED framelets; circles by power)")
        if "completeness" in self.files:
            part.figure(self.files["completeness"], "Completeness of the catalogued sources")


def _context_columns(context: dict | None) -> dict:
    """Io's magnetospheric context at a detection's time, as table columns ("—" when unknown)."""
    context = context or {}
    return {"Io System III (°W)": context.get("system3_lon_west_deg", "—"),
            "Io centrifugal lat (°)": context.get("centrifugal_lat_deg", "—"),
            "Io in shadow": {True: "yes", False: "no"}.get(context.get("in_shadow"), "—")}


def _row(source: dict) -> dict:
    return {"source": source["name"], "T (K)": source["temperature_k"], "area (km²)": source["area_km2"],
            "side": source["side"], "expected SNR": round(source["expected_snr"], 3), "detected": source["detected"],
            "why": source["why"]}


def find_volcanoes(products: list[RawProduct], solutions: list[PointingSolution], twin: Twin, out: Path,
                   config: HotSpotConfig | None = None) -> VolcanoReport:
    """Search every product (with its solved pointing) for hot spots, compare with the twin's
    catalogued sources, and write the CSV/GeoJSON/table, the hot-spot map and the completeness
    plot into ``out``."""
    config = config or HotSpotConfig()
    results = []
    with Kernels([twin.metakernel]):
        for product, solution in zip(products, solutions):
            observation = Observation(product).with_pointing(solution)
            results.append(detect_hot_spots(observation, config=config))
    found = merge(results, [p.product_id for p in products], config)
    sources, imaged = _sources(products, twin, found, config)
    out.mkdir(parents=True, exist_ok=True)
    files = dict(zip(("csv", "geojson", "md"), found.write(out, "demo")))
    busiest = max(range(len(products)), key=lambda i: imaged[i]) if products else None
    if busiest is not None:
        product_id = products[busiest].product_id
        mapped = HotSpots(found.products, found.detections, config, views={product_id: found.views[product_id]})
        files["map"] = mapped.write_maps(out)[0]
    trials = truth_trials(twin.truth, found, np.full(3, IO_MEAN_RADIUS_KM))
    if trials:
        table = completeness_table(trial_rows(trials, config.threshold_sigma), binned=True)
        files["completeness"] = plot_completeness(table, out / "completeness.png",
                                                  "Completeness of the twin's catalogued hot spots")
    return VolcanoReport(found, sources, files)


def _sources(products: list[RawProduct], twin: Twin, found: HotSpots,
             config: HotSpotConfig) -> tuple[list[dict], list[int]]:
    """One row per catalogued source imaged by some product (its best product by expected SNR):
    published values, side, emission, expected SNR and band, detected, why; and per product the
    number of sources it imaged."""
    spots = twin.truth["hot_spots"]
    best: dict[int, dict] = {}
    imaged = []
    for product, record in zip(products, twin.truth["products"]):
        images = record.get("hot_spot_images", [])
        signal = expected_snr(product, images, config)
        imaged.append(len(signal))
        names = {d.catalogue_match["name"] for d in found.detections
                 if d.product_id == product.product_id and d.catalogue_match}
        for k, bands in signal.items():
            band, snr = max(bands.items(), key=lambda item: item[1]) if bands else ("RED", 0.0)
            if k in best and best[k]["expected_snr"] >= snr:
                continue
            looks = [i for i in images if i["spot"] == k]
            seen = min(looks, key=lambda i: i["emission_deg"])
            spot = spots[k]
            side = "night" if seen["incidence_deg"] >= 90.0 else "day"
            threshold = config.threshold_sigma if side == "night" else config.day_threshold_sigma
            detected = spot.get("name") in names
            best[k] = {"name": spot.get("name") or f"spot {k}", "temperature_k": spot["temperature_k"],
                       "area_km2": spot["area_km2"], "power_gw": spot["power_gw"], "side": side,
                       "emission_deg": seen["emission_deg"], "expected_snr": snr, "band": band, "detected": detected,
                       "why": _why(detected, snr, threshold, band, spot["temperature_k"])}
    return list(best.values()), imaged


def _why(detected: bool, snr: float, threshold: float, band: str, temperature_k: float) -> str:
    if detected:
        return f"found (expected {band} SNR {snr:.3g} ≥ {threshold:g})"
    if snr < threshold:
        faint = " (its heat is infrared)" if temperature_k < 1000.0 else ""
        return f"too faint: {band} SNR {snr:.2g} < {threshold:g}{faint}"
    if math.isfinite(snr):
        return f"expected {band} SNR {snr:.3g} ≥ {threshold:g} but not found (near the completeness transition)"
    return "not measurable"
