"""Benchmark: time to solve the pointing of one product (target: ≤ 5 s), real products with no CK
(global search) and a twin product from its CK prior. Prints one line per case.

Usage: python benchmarks/bench_pointing.py [--repeat N] [--twin]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from ioflyby.ingest import read_product
from ioflyby.pointing import solve_loaded
from ioflyby.spice import Kernels

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
KERNELS = DATA / "kernels"
FILES = [
    KERNELS / "lsk/naif0012.tls",
    KERNELS / "pck/pck00010.tpc",
    KERNELS / "fk/juno_v12.tf",
    KERNELS / "ik/juno_junocam_v03.ti",
    KERNELS / "sclk/jno_sclkscet_00090.tsc",
    KERNELS / "spk/spk_pre_220614_221109_220810_jm0450.bsp",
]


def _time(product, repeat: int, **kwargs) -> tuple[float, object]:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        solution = solve_loaded(product, **kwargs)
        times.append(time.perf_counter() - began)
    return statistics.median(times), solution


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--twin", action="store_true", help="also a pj57 twin product (builds the twin first)")
    args = parser.parse_args()
    print(f"{'product':28s} {'start':20s} {'median s':>9s} {'rms px':>7s} {'points':>7s} {'timing ms':>10s}  roll from")
    with Kernels(FILES):
        for folder in sorted((DATA / "junocam" / "raw").iterdir()):
            product = read_product(folder)
            seconds, sol = _time(product, args.repeat, prior="search")
            print(f"{product.product_id:28s} {sol.start:20s} {seconds:9.2f} {sol.limb_rms_px:7.3f} {sol.n_limb_points:7d} "
                  f"{sol.timing_offset_s * 1e3:10.2f}  {sol.roll_source}")
    if args.twin:
        from ioflyby.simulate import PlannedImage, TwinOptions, build_twin

        with tempfile.TemporaryDirectory() as tmp:
            options = TwinOptions(timing_offset_s=0.015, attitude_error_deg=0.3, official_kernel_dir=KERNELS,
                                  images=(PlannedImage(-480.0),))
            result = build_twin("pj57", Path(tmp) / "twin", options)
            product = read_product(result.products[0])
            with Kernels([result.metakernel]):
                for prior in ("ck", "search"):
                    seconds, sol = _time(product, args.repeat, prior=prior, align=True)
                    print(f"{product.product_id:28s} {sol.start + '+align':20s} {seconds:9.2f} {sol.limb_rms_px:7.3f} "
                          f"{sol.n_limb_points:7d} {sol.timing_offset_s * 1e3:10.2f}  {sol.roll_source}  (15 ms injected)")


if __name__ == "__main__":
    main()
