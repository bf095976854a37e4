"""Benchmark: read + decompand the largest shared JunoCam product (target <= 0.3 s), calibrate it,
and print what calibration does to column striping and vignetting on the real products.

Run: .venv/bin/python benchmarks/bench_ingest.py
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from ioflyby.calibrate import calibrate_product, column_striping, lit_column_striping, vignetting_ratio
from ioflyby.ingest import read_product

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "junocam"


def main() -> None:
    products = sorted((DATA / "raw").iterdir())
    largest = max(products, key=lambda p: read_product(p).framelets.size)
    times = []
    for _ in range(7):
        start = time.perf_counter()
        linear = read_product(largest).decompanded()
        times.append(time.perf_counter() - start)
    print(f"read+decompand {largest.name} ({linear.shape}, {linear.nbytes / 1e6:.0f} MB float32): "
          f"median {statistics.median(times):.3f} s, best {min(times):.3f} s (target <= 0.3 s)")
    for folder in products:
        product = read_product(folder)
        if product.filters == ("METHANE",):
            continue
        start = time.perf_counter()
        result = calibrate_product(product, DATA / "calibration")
        seconds = time.perf_counter() - start
        before_all = product.decompanded() / np.float32(product.exposure_ms / 1e3)
        print(f"\n{product.product_id}: calibrate {seconds:.2f} s")
        lit = 100.0 / (product.exposure_ms / 1e3)  # 100 DN in DN/s
        for f, filt in enumerate(product.filters):
            before, after = before_all[:, f], result.data[:, f]
            rec = result.record["filters"][filt]
            print(f"  {filt:5s} sky column striping {column_striping(before):7.2f} -> {column_striping(after):7.2f} DN/s"
                  f" | lit column striping {lit_column_striping(before, lit):.4f} -> {lit_column_striping(after, lit):.4f}"
                  f" | lit edge(16-80)/inner(300-400) {vignetting_ratio(before, lit, slice(16, 80), slice(300, 400)):.3f}"
                  f" -> {vignetting_ratio(after, lit, slice(16, 80), slice(300, 400)):.3f}"
                  f" | dark scale {rec['dark']['scale']:.4f}, hot {rec['hot']['detected']}")


if __name__ == "__main__":
    main()
