"""Benchmark: raw → colour GeoTIFF on a 2048×2048 map for a 27-exposure RGB product.

Builds a digital-twin PJ57 product (27 exposures, BLUE/GREEN/RED) with ``ioflyby.simulate``
(not timed), then runs ``ioflyby.process`` (orthographic, 2048×2048, 16-bit colour GeoTIFF +
PNG preview) ``--repeat`` times: the first run loads/compiles the numba kernels; the others are
warm. Prints seconds per stage of every run, the median of the warm runs, and peak RSS.
Restricted to 2 CPU cores.

    .venv/bin/python benchmarks/bench_mapping.py [--projection orthographic] [--width 2048]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "2")
if hasattr(os, "sched_setaffinity"):
    cores = sorted(os.sched_getaffinity(0))[:2]
    os.sched_setaffinity(0, cores)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projection", default="orthographic")
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--exposures", type=int, default=27)
    parser.add_argument("--repeat", type=int, default=6)
    args = parser.parse_args()

    from ioflyby.processing import MapSpec, process

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        # The twin is built in a child process so that its memory does not count in the peak RSS.
        code = ("import json, sys; from ioflyby.simulate import PlannedImage, TwinOptions, build_twin; "
                f"r = build_twin('pj57', sys.argv[1], TwinOptions(images=(PlannedImage(-240.0, n_exposures={args.exposures}),))); "
                "print(json.dumps({'metakernel': str(r.metakernel), 'products': [str(p) for p in r.products]}))")
        done = subprocess.run([sys.executable, "-c", code, str(Path(tmp) / "twin")], check=True, capture_output=True, text=True)
        twin = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"twin built in {time.perf_counter() - start:.1f} s (not part of the benchmark)")
        product = twin["products"][0]
        spec = MapSpec(projection=args.projection, width=args.width)
        if args.projection == "equirectangular":
            spec.width = args.width * 2  # 2048 rows x 4096 columns
        print(f"product {Path(product).name}: {args.exposures} exposures x 3 filters; map {args.projection} {args.width} wide")
        warm: list[dict[str, float]] = []
        for run in range(args.repeat):
            start, cpu = time.perf_counter(), time.process_time()
            result = process([product], [twin["metakernel"]], spec, Path(tmp) / f"out{run}").to_json()
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            label = "warm-up (numba load/compile)" if run == 0 else f"run {run}"
            stages = "  ".join(f"{k}={v:.3f}" for k, v in result["seconds"].items())
            print(f"{label}: wall {wall:.3f} s, cpu {cpu:.3f} s | {stages}")
            if run:
                warm.append({"wall": wall, "cpu": cpu, **result["seconds"]})
        if warm:
            medians = "  ".join(f"{k}={statistics.median(r[k] for r in warm):.3f}" for k in warm[0])
            print(f"median of {len(warm)} warm runs: {medians}")
        print(f"grid {result['grid']['width']}x{result['grid']['height']} at {result['grid']['cell_km']:.3f} km, "
              f"coverage {100 * result['coverage_fraction']:.1f}%")
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS {peak_kib / 1024:.0f} MiB; cores {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}; "
          f"numba threads {os.environ['NUMBA_NUM_THREADS']}")
    print("target: <= 1 s wall, <= 1 GB on 2 cores", file=sys.stderr)


if __name__ == "__main__":
    main()
