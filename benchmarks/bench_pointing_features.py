"""Benchmark: time to solve the pointing of one product from its limb and surface features
(target: ≤ 10 s), and with ``--joint`` the joint solve of the four images at C/A − 60, − 30, 0
and + 30 s (no target; its time is reported): the PJ57 twin at C/A − 60 s (20 ms timing and 0.3° attitude errors injected,
no CK: global search), rendered from the USGS colour merge and matched against the newer grey
mosaic. Prints the median wall time, its ratio to the target, the median CPU time of this process
(what the solve costs on an idle machine; the wall time on a shared one is longer) and the
tie-point figures.

Usage: python benchmarks/bench_pointing_features.py [--repeat N] [--offset S] [--joint]
"""

# ruff: noqa: E402  (OPENBLAS_NUM_THREADS must be set before numpy is imported)
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from ioflyby import simulate
from ioflyby.ingest import read_product
from ioflyby.observation import Observation, reference_map, solve_pointing
from ioflyby.pointing import solve_joint
from ioflyby.spice import Kernels

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
BASEMAPS = DATA / "io" / "basemaps"
TARGET_S = 10.0
JOINT_OFFSETS_S = (-60.0, -30.0, 0.0, 30.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--offset", type=float, default=-60.0, help="image time from closest approach, s")
    parser.add_argument("--joint", action="store_true", help="time the joint solve of the four C/A images")
    args = parser.parse_args()
    reference = reference_map(BASEMAPS / "New_Io_photomosaic_2km_grey.jpg")
    offsets = JOINT_OFFSETS_S if args.joint else (args.offset,)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "pj57"
        options = simulate.TwinOptions(
            timing_offset_s=0.02, attitude_error_deg=0.3, attitude_error_axis_sc=(0.6, 0.8, 0.0),
            official_kernel_dir=DATA / "kernels", images=tuple(simulate.PlannedImage(t) for t in offsets),
            basemap=BASEMAPS / "Io_GalileoSSI-Voyager_Global_Mosaic_ClrMerge_2km_180W.jpg")
        simulate.build_twin("pj57", out, options)
        truth = json.loads((out / "truth.json").read_text())
        if args.joint:
            _joint(out, truth, reference, args.repeat)
            return
        product = read_product(out / truth["products"][0]["dir"])
        times, cpu = [], []
        with Kernels([out / "twin.tm"]):
            for _ in range(args.repeat):
                began, began_cpu = time.perf_counter(), time.process_time()
                solution = solve_pointing(Observation(product), prior="search", align=True, reference=reference)
                times.append(time.perf_counter() - began)
                cpu.append(time.process_time() - began_cpu)
    median = statistics.median(times)
    ties = solution.tie_points
    print(f"surface-feature solve, twin C/A{args.offset:+.0f} s: {median:.2f} s (median of {args.repeat}), "
          f"target {TARGET_S:g} s, ratio {median / TARGET_S:.2f}; CPU {statistics.median(cpu):.2f} s "
          f"(ratio {statistics.median(cpu) / TARGET_S:.2f}); load average {os.getloadavg()[0]:.1f}; "
          f"verdict {solution.verdict}; "
          f"{ties['n_tie_points']} tie points in {ties['n_framelets']} framelets, RMS {ties['tie_rms_px']:.2f} px; "
          f"limb RMS {solution.limb_rms_px:.2f} px")


def _joint(out: Path, truth: dict, reference, repeat: int) -> None:
    """Time the joint solve of the twin's products (each solved alone inside it first)."""
    products = [read_product(out / entry["dir"]) for entry in truth["products"]]
    times, cpu = [], []
    with Kernels([out / "twin.tm"]):
        for _ in range(repeat):
            began, began_cpu = time.perf_counter(), time.process_time()
            joint = solve_joint(products, prior="search", align=True, reference=reference)
            times.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
    verdicts = ", ".join(f"{s.verdict}" for s in joint.solutions)
    print(f"joint surface-feature solve of {len(products)} images (C/A {', '.join(f'{t:+.0f}' for t in JOINT_OFFSETS_S)} s): "
          f"{statistics.median(times):.2f} s wall (median of {repeat}), CPU {statistics.median(cpu):.2f} s, "
          f"{statistics.median(cpu) / len(products):.2f} s CPU per image (single-product target {TARGET_S:g} s); "
          f"load average {os.getloadavg()[0]:.1f}; verdicts {verdicts}; map rotation "
          f"{', '.join(f'{v:+.3f}' for v in joint.map_rotation['rotation_deg'])} deg")


if __name__ == "__main__":
    main()
