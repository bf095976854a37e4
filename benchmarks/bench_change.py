"""Change detection on the whole globe at the USGS mosaics' 2 km/px: time and peak memory.

Target (issue 15): ≤ 10 s and ≤ 2 GB for the Galileo SSI–Voyager mosaic against the later
photomosaic (5723 × 2862 cells). Prints wall time, CPU time (this process; rusage also counts
children), the stages, and the peak resident memory (ru_maxrss), each with its ratio to the
target. The machine's load is printed too: on a shared 2-core machine the wall time follows the
other jobs, so the CPU time is the figure to compare. The first run after installing compiles the
numba kernels of :mod:`ioflyby.volcano.change_kernels` (a few seconds, then cached): run twice.

    python benchmarks/bench_change.py [--write OUT] [--figure docs/images/change_top.png]

``--figure`` draws the top real changes and top artefacts side by side (before normalised |
after registered | after with outline: yellow = change, magenta = artefact), one row each,
labelled with rank, kind or artefact reason, centroid (lat, lon W) and area.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

from ioflyby.volcano.change import detect_changes

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "io" / "basemaps"
BEFORE = DATA / "Io_GalileoSSI-Voyager_Global_Mosaic_2km_180W.jpg"
AFTER = DATA / "New_Io_photomosaic_2km_grey.jpg"
TARGET_S, TARGET_MB = 10.0, 2048.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="also write the outputs into this folder")
    parser.add_argument("--figure", type=Path, help="also draw the top changes and artefacts into this PNG")
    args = parser.parse_args()
    stages = []
    usage = _rusage()
    started, cpu0 = time.perf_counter(), time.process_time()
    result = detect_changes(BEFORE, AFTER, progress=lambda s: stages.append(
        (s, time.perf_counter() - started, time.process_time() - cpu0)))
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu0
    after_usage = _rusage()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    user, system = after_usage[0] - usage[0], after_usage[1] - usage[1]
    print(f"grid {result.grid.width} x {result.grid.height} cells of {result.grid.resolution_km:.3f} km; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("stages start at (wall s / CPU s): " + ", ".join(f"{name} {t:.2f}/{c:.2f}" for name, t, c in stages))
    print(f"wall {wall:.2f} s (target {TARGET_S:g} s, ratio {wall / TARGET_S:.2f}); CPU {cpu:.2f} s "
          f"(ratio {cpu / TARGET_S:.2f}; rusage with children: user {user:.2f} s + system {system:.2f} s)")
    print("registration: " + ", ".join(f"{k} {v:.2f}" for k, v in result.registration.local.items()))
    print(f"peak memory {peak_mb:.0f} MB (target {TARGET_MB:.0f} MB, ratio {peak_mb / TARGET_MB:.2f})")
    print(f"{len(result.changes)} changes ({result.changed_area_km2:,.0f} km2), {len(result.artefacts)} artefacts")
    if args.write:
        t = time.perf_counter()
        result.write(args.write, crops=16)
        print(f"outputs written in {time.perf_counter() - t:.2f} s to {args.write}")
    if args.figure:
        draw_figure(result, args.figure)
        print(f"figure written to {args.figure}")


def _rusage() -> tuple[float, float]:
    """(user, system) CPU seconds of this process and its children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + children.ru_utime, own.ru_stime + children.ru_stime


def draw_figure(result, path: Path, changes: int = 8, artefacts: int = 4, height: int = 220) -> None:
    """Rows of before | after | outlined crops of the top changes and artefacts (see --figure)."""
    import numpy as np
    from PIL import Image, ImageDraw

    from ioflyby.volcano.change_plots import _crop

    sample = result.after[result.valid][::50]
    stretch = (float(np.percentile(sample, 0.5)), float(np.percentile(sample, 99.5)))
    rows = []
    items = [("change", i + 1, c) for i, c in enumerate(result.changes[:changes])]
    items += [("artefact", i + 1, c) for i, c in enumerate(result.artefacts[:artefacts])]
    for group, rank, c in items:
        image = Image.fromarray(_crop(result, c, stretch))
        image = image.resize((max(1, image.width * height // image.height), height), Image.Resampling.NEAREST)
        label = (f"{group} {rank}: {c.artefact or c.kind}, {c.centroid_lat_deg:+.1f} lat "
                 f"{(-c.centroid_lon_east_deg) % 360:.1f} W, {c.area_km2:,.0f} km2, near {c.nearest_feature['name']}")
        canvas = Image.new("RGB", (image.width, height + 18), "white")
        canvas.paste(image, (0, 18))
        ImageDraw.Draw(canvas).text((4, 3), label, fill=(0, 0, 0))
        rows.append(canvas)
    width = max(r.width for r in rows)
    sheet = Image.new("RGB", (width, sum(r.height + 4 for r in rows)), "white")
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height + 4
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, optimize=True)


if __name__ == "__main__":
    main()
