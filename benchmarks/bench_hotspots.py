"""Benchmark the hot-spot detection on the digital twin: completeness per band over a grid of
injected hot spots (temperature × area × emission angle, night and day side), accuracy of the
detections with SNR ≥ 20 (position, colour temperature, area, power, pull widths), false
detections on spot-free products with radiation hits, and the time of detection + fit for one
full 30-exposure product (target: ≤ 2 s).

Run: ``.venv/bin/python benchmarks/bench_hotspots.py [OUT_DIR]`` (OUT_DIR gets the table as CSV
and the completeness plot; default: a temporary folder).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from ioflyby.simulate import HotSpot, PlannedImage, RenderEffects, TwinOptions, build_twin
from ioflyby.volcano.completeness import (
    TwinProduct,
    accuracy,
    completeness_table,
    find_sites,
    plot_completeness,
    rows_csv,
    run_grid,
    run_trials,
    transitions,
    trial_rows,
)
from ioflyby.volcano.hotspots import detect_hot_spots

TEMPERATURES_K = (900.0, 1100.0, 1300.0, 1600.0)
AREAS_KM2 = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
NIGHT = (("night", 10.0), ("night", 35.0), ("night", 55.0), ("night", 70.0))
DAY = (("day", 10.0), ("day", 35.0), ("day", 55.0), ("day", 70.0))
BRIGHT = [HotSpot(0.0, 0.0, t, a) for t, a in ((1600.0, 0.04), (1600.0, 0.08), (1600.0, 0.15), (1500.0, 0.1),
                                              (1500.0, 0.2), (1500.0, 0.35), (1400.0, 0.25), (1400.0, 0.5))] * 2
"""Spots with SNR ≳ 20 in GREEN and RED unsaturated on the night side, for the accuracy statistics."""


def twin_product(folder: Path, name: str, offset_s: float, night_side: bool, exposures: int,
                 radiation_hits: float = 0.0) -> TwinProduct:
    effects = RenderEffects.junocam(jupiter_shine=True, radiation_hits_per_framelet=radiation_hits)
    options = TwinOptions(images=(PlannedImage(offset_s, n_exposures=exposures),), night_side=night_side,
                          effects=effects)
    return TwinProduct(build_twin("pj57", folder / name, options), 0)


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="bench_hotspots_"))
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        night = twin_product(Path(tmp), "night", -120.0, True, 10)
        day = twin_product(Path(tmp), "day", -240.0, False, 10)
        print(f"two pj57 twins (night side C/A-120 s, day side C/A-240 s; 10 exposures): "
              f"{time.perf_counter() - began:.1f} s")
        began = time.perf_counter()
        trials, false = run_grid(night, TEMPERATURES_K, AREAS_KM2, NIGHT, seed=1)
        more, false_day = run_grid(day, TEMPERATURES_K, AREAS_KM2, DAY, seed=101)
        trials += more
        rows = trial_rows(trials)
        print(f"grid: {len(rows)} injected spots in {time.perf_counter() - began:.1f} s; "
              f"false detections {len(false) + len(false_day)}")
        table = completeness_table(rows)
        print(f"{'side':>5} {'T K':>6} {'area km2':>9} {'n':>3} {'any':>5} {'BLUE':>5} {'GREEN':>5} {'RED':>5}")
        for e in table:
            print(f"{e['side']:>5} {e['temperature_k']:6.0f} {e['area_km2']:9.0e} {e['injected']:3d} {e['any']:5.2f} "
                  f"{e['blue']:5.2f} {e['green']:5.2f} {e['red']:5.2f}")
        for key, band in sorted(transitions(trials).items()):
            print(f"completeness transition {key[0]:>5} {key[1]:>5}: expected SNR {band.low:.3g} .. {band.high:.3g} "
                  f"({band.trials} trials)")
        bright = []
        for k, emission in enumerate((10.0, 35.0, 55.0)):
            sites = find_sites(night.observation, emission, "night", len(BRIGHT))
            done, _ = run_trials(night, BRIGHT[:len(sites)], sites, seed=200 + k)
            bright += trial_rows(done)
        for snr in (20.0, 30.0, 50.0):
            result = accuracy(rows + bright, snr)
            print(f"accuracy, detections whose colour SNR (weaker of the two best bands) >= {snr:.0f}: "
                  + ", ".join(f"{k} {v:.3g}" for k, v in result.items()))
        (out / "completeness_rows.csv").write_text(rows_csv(rows))
        (out / "completeness.csv").write_text(rows_csv(table))
        print(f"plot: {plot_completeness(table, out / 'completeness.png')}")

        hits = twin_product(Path(tmp), "hits", -120.0, True, 10, radiation_hits=20.0)
        counts = [len(detect_hot_spots(hits.observe(hits.render([], seed)[0]), catalogue=False).detections)
                  for seed in range(5)]
        print(f"spot-free night-side products with 20 radiation hits per framelet: false detections {counts}")

        full = twin_product(Path(tmp), "full", -240.0, False, 30)
        sites = find_sites(full.observation, 40.0, "day", 8)
        spots = [HotSpot(0.0, 0.0, 1400.0, 1.0)] * len(sites)
        raw, _, _ = full.render([], 0)
        observation = full.observe(raw)
        detect_hot_spots(observation)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            detect_hot_spots(observation)
            times.append(time.perf_counter() - t0)
        print(f"detection + fit, one spot-free 30-exposure product: best {min(times):.2f} s of {len(times)}")
        t0 = time.perf_counter()
        trials, found = run_trials(full, spots, sites, seed=7)
        print(f"detection + fit, the same product with {len(spots)} hot spots: {found.seconds:.2f} s "
              f"({sum(t.detection is not None for t in trials)} found)")


if __name__ == "__main__":
    main()
