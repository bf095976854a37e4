"""Benchmark: time to solve the pointing of one product (target: ≤ 5 s), real products with no CK
(global search) and a twin product from its CK prior; and the joint solve of the three PJ43
products (target: ≤ 15 s, their own solves included). Prints one line per case.

Usage: python benchmarks/bench_pointing.py [--repeat N] [--twin] [--no-joint]

OpenBLAS is held to one thread unless OPENBLAS_NUM_THREADS says otherwise: the fits' matrices are
small, ioflyby parallelises by processes, and on a shared 2-core machine BLAS threads competing
with other processes made the same solves 2-3x slower (docs/conventions.md).
"""

# ruff: noqa: E402  (OPENBLAS_NUM_THREADS must be set before numpy is imported)
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from ioflyby.ingest import read_product
from ioflyby.pointing import solve_joint, solve_loaded
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


JOINT = ("JNCE_2022186_43C00078_V01", "JNCE_2022186_43C00080_V01", "JNCE_2022186_43M00081_V01")


def _joint(repeat: int) -> None:
    """Time the joint solve of the three PJ43 products (no CK) and print each one's verdict."""
    products = [read_product(DATA / "junocam" / "raw" / name) for name in JOINT]
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        joint = solve_joint(products, prior="search", align=True)
        times.append(time.perf_counter() - began)
    verdicts = ", ".join(f"{s.product_id[-9:]} {s.verdict} {s.limb_rms_px:.3f} px" for s in joint.solutions)
    print(f"{'joint PJ43 x3':28s} {'joint':20s} {statistics.median(times):9.2f}  axis {joint.axis_ra_deg:.3f}, "
          f"{joint.axis_dec_deg:+.3f} deg; {verdicts}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--twin", action="store_true", help="also a pj57 twin product (builds the twin first)")
    parser.add_argument("--no-joint", action="store_true", help="skip the joint solve of three products")
    args = parser.parse_args()
    print(f"{'product':28s} {'start':20s} {'median s':>9s} {'rms px':>7s} {'points':>7s} {'timing ms':>10s}  roll from")
    with Kernels(FILES):
        for folder in sorted((DATA / "junocam" / "raw").iterdir()):
            product = read_product(folder)
            seconds, sol = _time(product, args.repeat, prior="search")
            print(f"{product.product_id:28s} {sol.start:20s} {seconds:9.2f} {sol.limb_rms_px:7.3f} {sol.n_limb_points:7d} "
                  f"{sol.timing_offset_s * 1e3:10.2f}  {sol.roll_source}  {sol.verdict}")
        if not args.no_joint:
            _joint(args.repeat)
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
