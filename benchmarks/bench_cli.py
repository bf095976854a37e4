"""Benchmark: the whole ``ioflyby process`` command, as a user runs it, against its floors.

One digital-twin PJ57 product (the image 240 s before C/A: 30 exposures x BLUE/GREEN/RED = 90
framelets, 19 M raw pixels) is built (not timed) and mapped to a 2160 x 1080 equirectangular
colour GeoTIFF + PNG preview. Printed, as wall seconds and as CPU seconds (user + system, which a
busy machine disturbs less):

- command: ``ioflyby process ... --json`` in a fresh process, numba cache warm (one untimed run
  first), ``--repeat`` runs: min / median, and the peak RSS of the process;
- in-process: :func:`ioflyby.process` warm in one interpreter (the same call ``--repeat`` times
  after one untimed run): min / median, and the median per stage;
- floors: interpreter start + importing the libraries the command needs (numpy, numba, spiceypy,
  Pillow, rasterio, typer, rich); numba's start-up (a fresh process that also loads one cached
  kernel, minus the former); the PNG inflate of the product (the floor of the read stage);
- the ratio command / floor, the floor being interpreter + imports + numba start + the warm
  in-process run: what a fresh process cannot avoid.

Restricted to 2 CPU cores, like the development machine.

    .venv/bin/python benchmarks/bench_cli.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import zlib
from pathlib import Path
from typing import NamedTuple

os.environ.setdefault("NUMBA_NUM_THREADS", "2")
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:2])

WIDTH = 2160
NEEDED_IMPORTS = "import numpy, numba, spiceypy, PIL.Image, PIL.PngImagePlugin, rasterio, typer, rich.progress"
NUMBA_START = """
    from ioflyby._numba import jit

    @jit()
    def one(x):
        return x + 1.0

    one(1.0)
"""


class Run(NamedTuple):
    wall: float  # s
    cpu: float  # user + system, s
    peak_mb: float = 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        product, metakernel = _twin(tmp / "twin")
        command = _command(product, metakernel)
        _run([*command, str(tmp / "warm-up")])  # fills the numba cache and the page cache
        runs = [_run([*command, str(tmp / f"run{i}")]) for i in range(args.repeat)]
        warm, stages = _in_process(product, metakernel, tmp, args.repeat)
        imports = _best([_run([sys.executable, "-c", NEEDED_IMPORTS]) for _ in range(args.repeat)])
        numba_start = _numba_start(tmp, args.repeat)
        inflate = _png_inflate(product, args.repeat)

    start_wall, start_cpu = max(numba_start.wall - imports.wall, 0.0), max(numba_start.cpu - imports.cpu, 0.0)
    floor = Run(imports.wall + start_wall + _median(warm).wall, imports.cpu + start_cpu + _median(warm).cpu)
    print(f"product {Path(product).name}: 90 framelets; map equirectangular {WIDTH} x {WIDTH // 2}")
    print(f"command (fresh process, numba cache warm), {len(runs)} runs: {_describe(runs)}, "
          f"peak RSS {max(r.peak_mb for r in runs):.0f} MB")
    print(f"in-process warm ioflyby.process, {len(warm)} runs: {_describe(warm)} | "
          + "  ".join(f"{k}={v:.3f}" for k, v in stages.items()))
    print(f"floors: interpreter + imports {imports.wall:.3f} s (cpu {imports.cpu:.3f}), numba start "
          f"{start_wall:.3f} s (cpu {start_cpu:.3f}), PNG inflate {inflate:.3f} s (read stage {stages['read']:.3f} s)")
    print(f"floor = interpreter + imports + numba start + warm run: {floor.wall:.3f} s (cpu {floor.cpu:.3f})")
    print(f"command / floor: wall {_median(runs).wall / floor.wall:.2f} (median), {_best(runs).wall / floor.wall:.2f}"
          f" (min); cpu {_median(runs).cpu / floor.cpu:.2f} (median), {_best(runs).cpu / floor.cpu:.2f} (min)")
    print("targets: command <= 1.3 x floor, in-process warm <= 0.6 s, peak <= 600 MB", file=sys.stderr)


def _twin(folder: Path) -> tuple[str, str]:
    """The PJ57 twin's image 240 s before C/A, built in a child process (not timed)."""
    code = ("import json, sys; from ioflyby.simulate import PlannedImage, TwinOptions, build_twin; "
            "r = build_twin('pj57', sys.argv[1], TwinOptions(images=(PlannedImage(-240.0),))); "
            "print(json.dumps([str(r.products[0]), str(r.metakernel)]))")
    done = subprocess.run([sys.executable, "-c", code, str(folder)], check=True, capture_output=True, text=True)
    product, metakernel = json.loads(done.stdout.strip().splitlines()[-1])
    return product, metakernel


def _command(product: str, metakernel: str) -> list[str]:
    """``ioflyby process ... --out`` through the installed console script (beside this interpreter)."""
    script = Path(sys.executable).with_name("ioflyby")
    launcher = [str(script)] if script.exists() else [sys.executable, "-c", "from ioflyby.cli import main; main()"]
    return [*launcher, "process", product, "--kernels", metakernel, "--projection", "equirectangular",
            "--width", str(WIDTH), "--json", "--out"]


def _run(command: list[str]) -> Run:
    """Wall and CPU seconds and peak RSS of one child process; SystemExit with its stderr if it fails."""
    with tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            stderr.seek(0)
            raise SystemExit(f"{command[0]} failed ({child.returncode}): {stderr.read().decode()}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def _in_process(product: str, metakernel: str, tmp: Path, repeat: int) -> tuple[list[Run], dict[str, float]]:
    """``repeat`` warm :func:`ioflyby.process` runs and the median seconds per stage."""
    from ioflyby.processing import MapSpec, process

    spec = MapSpec(projection="equirectangular", width=WIDTH)
    process([product], [metakernel], spec, tmp / "in-process-warm-up")
    runs, seconds = [], []
    for run in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        result = process([product], [metakernel], spec, tmp / f"in-process{run}")
        runs.append(Run(time.perf_counter() - start, time.process_time() - cpu))
        seconds.append(result.to_json()["seconds"])
    return runs, {stage: statistics.median(s[stage] for s in seconds) for stage in seconds[0]}


def _numba_start(tmp: Path, repeat: int) -> Run:
    """Fastest fresh process that imports the libraries and loads one cached ioflyby kernel."""
    script = tmp / "numba_start.py"
    script.write_text(NEEDED_IMPORTS + "\n" + textwrap.dedent(NUMBA_START))
    _run([sys.executable, str(script)])  # compiles it into the cache
    return _best([_run([sys.executable, str(script)]) for _ in range(repeat)])


def _png_inflate(product: str, repeat: int) -> float:
    """Fastest zlib inflate of the product PNG's image data (its IDAT chunks, into a buffer of the
    known size), in memory."""
    data = next(Path(product).glob("*-raw.png")).read_bytes()
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    chunks, pos = [], 8
    while pos < len(data):
        length, kind = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4:pos + 8]
        if kind == b"IDAT":
            chunks.append(data[pos + 8:pos + 8 + length])
        pos += 12 + length
    stream = b"".join(chunks)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        zlib.decompress(stream, bufsize=height * (width + 1))  # a filter byte per line
        best = min(best, time.perf_counter() - start)
    return best


def _best(runs: list[Run]) -> Run:
    return Run(min(r.wall for r in runs), min(r.cpu for r in runs), max(r.peak_mb for r in runs))


def _median(runs: list[Run]) -> Run:
    return Run(statistics.median(r.wall for r in runs), statistics.median(r.cpu for r in runs))


def _describe(runs: list[Run]) -> str:
    return (f"min {_best(runs).wall:.3f} s, median {_median(runs).wall:.3f} s "
            f"(cpu min {_best(runs).cpu:.3f}, median {_median(runs).cpu:.3f})")


if __name__ == "__main__":
    main()
