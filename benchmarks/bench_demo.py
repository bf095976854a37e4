"""What the demo report's added sections cost: ``ioflyby demo`` with the sections of the
science/render/viewer integration switched off (the earlier report) and with the defaults, each in
a fresh process-free run inside this interpreter (warm: imports and numba caches loaded by a
first, small run). Prints wall and CPU seconds per configuration and per stage, and the increase
against the goal (≤ 20 s of wall time on an idle machine; on a loaded machine compare CPU time).

    .venv/bin/python benchmarks/bench_demo.py [--repeat 1] [--movie]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

GOAL_INCREASE_S = 20.0
OFF = {"changes": False, "magnetosphere": False, "timeseries": False, "renders": False, "labels": False}


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def _run(out: Path, **flags) -> tuple[float, float, dict]:
    from ioflyby.demo import DemoSettings, run_demo

    began, cpu = time.perf_counter(), _cpu()
    result = run_demo(out, DemoSettings(**flags))
    return time.perf_counter() - began, _cpu() - cpu, result.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--movie", action="store_true", help="also time the optional flyby movie")
    args = parser.parse_args()
    configs = {"earlier sections only": OFF, "defaults": {}}
    if args.movie:
        configs["defaults + movie"] = {"movie": True}
    with tempfile.TemporaryDirectory(prefix="bench_demo_") as scratch:
        _run(Path(scratch) / "warm", map_width=128, comparisons=(), **OFF)
        results = {}
        for name, flags in configs.items():
            runs = [_run(Path(scratch) / f"{name.replace(' ', '_')}_{i}", **flags) for i in range(args.repeat)]
            wall, cpu, stages = min(runs, key=lambda r: r[0])
            results[name] = (wall, cpu)
            print(f"{name:24s} wall {wall:6.1f} s  cpu {cpu:6.1f} s  " +
                  ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
    base_wall, base_cpu = results["earlier sections only"]
    wall, cpu = results["defaults"]
    print(f"increase: wall {wall - base_wall:+.1f} s, cpu {cpu - base_cpu:+.1f} s "
          f"(goal ≤ {GOAL_INCREASE_S:.0f} s idle; ratio {max(wall - base_wall, cpu - base_cpu) / GOAL_INCREASE_S:.2f})")
    print(f"load average now: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
