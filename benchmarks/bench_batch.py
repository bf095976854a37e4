"""Scaling of ``ioflyby batch``: throughput with 1 and 2 worker processes, parallel efficiency
(goal: >= 85 % at 2 workers on this 2-core machine), a projection for N workers and each
worker's peak memory.

Archive: one pj57 twin with N_PRODUCTS small products (4 exposures each), 256-cell maps and the
hot-spot search. Each configuration runs on a fresh LocalCluster (warm-up product first, so that
worker start-up, imports and numba cache loads are not counted), into a fresh output folder.

Projection (Amdahl with the measured serial fraction): speed-up S(N) = 1 / (s + (1 - s) / N),
where s = (2 / S(2) - 1) is the serial share implied by the 2-worker speed-up; the per-product
work has no shared state (kernels loaded once per worker, outputs in their own folders), so on a
cluster s comes from the client (catalogue writes, task dispatch: ~ms per product) and the shared
file system.

    .venv/bin/python benchmarks/bench_batch.py [--products 12]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

GOAL_EFFICIENCY = 0.85


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _run(twin_root: Path, workers: int, work: Path, settings) -> dict:
    from distributed import Client

    from ioflyby.batch import make_cluster, run_batch

    cluster = make_cluster(workers, dashboard_address=None)
    try:
        with Client(cluster) as client:
            # warm up every worker: imports, numba cache, kernels (one product each, outside the timing)
            products = sorted((twin_root / "products").iterdir())
            warm = work / f"warm{workers}"
            warm.mkdir()
            for k in range(workers):
                manifest = warm / f"m{k}.csv"
                manifest.write_text(f"product,kernels\n{products[k]},{twin_root / 'twin.tm'}\n")
            run_batch([warm / f"m{k}.csv" for k in range(workers)], warm / "out", settings=settings, client=client)
            out = work / f"out{workers}"
            began = time.perf_counter()
            result = run_batch([twin_root], out, settings=settings, client=client)
            seconds = time.perf_counter() - began
            peaks = client.run(_peak_rss_mib)
    finally:
        cluster.close()
    counts = result.counts()
    return {"workers": workers, "seconds": seconds, "done": counts["done"], "failed": counts["failed"],
            "throughput": counts["done"] / seconds, "peak_mib": sorted(peaks.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=12)
    args = parser.parse_args()
    from ioflyby.batch import BatchSettings
    from ioflyby.processing import MapSpec
    from ioflyby.simulate import PlannedImage, TwinOptions, build_twin

    work = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    try:
        offsets = [-480.0 + 30.0 * k for k in range(args.products)]
        twin = build_twin("pj57", work / "twin", TwinOptions(
            images=tuple(PlannedImage(o, n_exposures=4) for o in offsets), truth_pixels=10))
        settings = BatchSettings(spec=MapSpec(width=256), mosaic_resolution_km=None)
        runs = [_run(twin.metakernel.parent, n, work, settings) for n in (1, 2)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    one, two = runs
    speedup = two["throughput"] / one["throughput"]
    efficiency = speedup / 2
    serial = max(0.0, 2.0 / speedup - 1.0)
    print(f"archive: {args.products} products (4 exposures, 256-cell orthographic maps + hot spots)")
    for r in runs:
        print(f"{r['workers']} worker(s): {r['done']} done, {r['failed']} failed in {r['seconds']:.1f} s -> "
              f"{r['throughput']:.3f} products/s; peak RSS per worker {', '.join(f'{m:.0f}' for m in r['peak_mib'])} MiB")
    print(f"speed-up at 2 workers {speedup:.2f}, efficiency {100 * efficiency:.1f} % "
          f"(goal >= {100 * GOAL_EFFICIENCY:.0f} %: {'PASS' if efficiency >= GOAL_EFFICIENCY else 'MISS'})")
    print(f"projection (Amdahl, serial share {100 * serial:.1f} %): " + ", ".join(
        f"N={n}: {1 / (serial + (1 - serial) / n):.1f}x ({one['throughput'] / (serial + (1 - serial) / n):.2f} products/s)"
        for n in (4, 8, 16, 64)))


if __name__ == "__main__":
    main()
