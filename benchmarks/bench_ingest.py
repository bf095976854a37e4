"""Benchmark: read + decompand the largest shared JunoCam product (target <= 0.3 s), calibrate it,
and print what calibration does to column striping and, where consecutive framelets overlap,
to the response error along lines (scene-independent; see calibrate.metrics.overlap_flatness)
on the real products, with the shared calibration directory (v3 flats) and with the
flatFieldsSmooth12to16 stack instead.

Run: .venv/bin/python benchmarks/bench_ingest.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from ioflyby.calibrate import calibrate_product, column_striping, lit_column_striping
from ioflyby.calibrate.metrics import overlap_flatness, register_overlaps
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
    rgb = [read_product(folder) for folder in products]
    rgb = [p for p in rgb if p.filters != ("METHANE",)]
    for product in rgb:
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
                  f" | dark scale {rec['dark']['scale']:.4f}, hot {rec['hot']['detected']}")
    overlap_table(rgb)


def smooth_stack_directory(root: Path) -> Path:
    """A calibration directory with the darks, masks and only the flatFieldsSmooth12to16 stack."""
    for path in (DATA / "calibration").iterdir():
        if "dark" in path.name or "mask" in path.name or path.name == "flatFieldsSmooth12to16.tiff":
            (root / path.name).symlink_to(path)
    return root


def overlap_table(products: list) -> None:
    """rms / mean of ln(response ratio) between framelet overlaps (bottom lines of exposure n vs
    top lines of n+1, ~115 lines apart), over 32-sample blocks: raw, v3 flats, smooth stack."""
    print("\nframelet-overlap response error along lines, ln(ratio) over 32-sample blocks (0.01 = 1 %)")
    print(f"{'product':27s} {'filter':6s} {'TDI':>3s} {'blocks':>6s} {'shift rms':>9s} | {'rms raw':>7s} {'v3':>7s} {'smooth':>7s}"
          f" | {'mean raw':>8s} {'v3':>8s} {'smooth':>8s}")
    with tempfile.TemporaryDirectory() as tmp:
        smooth_dir = smooth_stack_directory(Path(tmp))
        for product in products:
            raw = product.decompanded()
            exposure_s = product.exposure_ms / 1e3
            v3 = calibrate_product(product, DATA / "calibration").data
            smooth = calibrate_product(product, smooth_dir).data
            for f, filt in enumerate(product.filters):
                shift = register_overlaps(raw[:, f], lit_min=60.0)
                rows = [overlap_flatness(raw[:, f], shift, 100.0)] + [
                    overlap_flatness(cal[:, f] * exposure_s, shift, 100.0, reference=raw[:, f]) for cal in (v3, smooth)]
                print(f"{product.product_id:27s} {filt:6s} {product.tdi_stages:3d} {rows[0].log_ratio.size:6d} "
                      f"{shift.rms_px:7.2f}px | " + " ".join(f"{r.rms:7.4f}" for r in rows) + " | "
                      + " ".join(f"{r.mean:+8.4f}" for r in rows))

if __name__ == "__main__":
    main()
