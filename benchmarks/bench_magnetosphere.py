"""Benchmark: Io's magnetospheric context for a year of 60 s samples, and field-line tracing.

No real one-year Io ephemeris is available offline, so this writes one in a temporary folder with
the twin's ephemeris writer (astronomy-engine: VSOP87 + L1.2; Jupiter, the Sun and Io every 30
min) plus the twin's PCK and LSK. Then it times

- ``magnetospheric_context(ets, "IO", trace=False)`` for 525 600 samples (one year at 60 s):
  positions, System III longitude, local time, magnetic and centrifugal latitude, field
  (JRM33 + Con2020), shadow, torus density. Target ≤ 5 s.
- ``trace_field_lines`` for 200 of those positions (JRM33 + Con2020 to the oblate 1-bar surface,
  both footprints and the M-shell). Target ≤ 50 ms per point.

The first call of each compiled kernel is excluded (numba compiles or loads its cache once).
Usage: python benchmarks/bench_magnetosphere.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import spiceypy

from ioflyby.magnetosphere import magnetospheric_context, trace_field_lines
from ioflyby.simulate.ephemeris import write_ephemeris_spk
from ioflyby.simulate.textkernels import write_lsk, write_pck
from ioflyby.spice import Kernels

YEAR_S = 365 * 86400.0
STEP_S = 60.0
CONTEXT_TARGET_S = 5.0
TRACE_TARGET_MS = 50.0


def build_kernels(folder: Path, start_utc: str) -> tuple[list[Path], float]:
    lsk = write_lsk(folder / "bench.tls")
    pck = write_pck(folder / "bench.tpc")
    spiceypy.furnsh(str(lsk))
    try:
        start = spiceypy.str2et(start_utc)
    finally:
        spiceypy.unload(str(lsk))
    with Kernels([lsk]):
        spk = write_ephemeris_spk(folder / "bench.bsp", start - 3600, start + YEAR_S + 3600,
                                  planet_step_s=86400.0, moon_step_s=1800.0)
    return [lsk, pck, spk], start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        kernels, start = build_kernels(Path(tmp), "2024-01-01T00:00:00")
        print(f"wrote a one-year ephemeris in {time.perf_counter() - t0:.1f} s")
        ets = start + STEP_S * np.arange(int(YEAR_S / STEP_S))
        with Kernels(kernels):
            magnetospheric_context(ets[:100], "IO", trace=False)  # compile / load the kernels
            t0 = time.perf_counter()
            context = magnetospheric_context(ets, "IO", trace=False)
            elapsed = time.perf_counter() - t0
        print(f"context, {ets.size} samples (1 year at {STEP_S:.0f} s), no tracing: {elapsed:.2f} s "
              f"(target ≤ {CONTEXT_TARGET_S:.0f} s, ratio {elapsed / CONTEXT_TARGET_S:.2f}); "
              f"{elapsed / ets.size * 1e6:.2f} µs a sample; {int(context.in_shadow.sum())} samples in shadow")
        points = context.positions_rj[:: ets.size // 200][:200]
        trace_field_lines(points[:2])
        t0 = time.perf_counter()
        traces = trace_field_lines(points)
        per_point_ms = (time.perf_counter() - t0) / len(points) * 1e3
        print(f"trace (JRM33 deg 13 + Con2020, oblate 1-bar, tol 1e-7 R_J), {len(points)} points: "
              f"{per_point_ms:.2f} ms a point (target ≤ {TRACE_TARGET_MS:.0f} ms, ratio {per_point_ms / TRACE_TARGET_MS:.3f}); "
              f"north {np.degrees(np.nanmin(traces.north_lat)):.1f}..{np.degrees(np.nanmax(traces.north_lat)):.1f}°, "
              f"south {np.degrees(np.nanmin(traces.south_lat)):.1f}..{np.degrees(np.nanmax(traces.south_lat)):.1f}°, "
              f"M-shell {np.nanmin(traces.mshell_rj):.2f}..{np.nanmax(traces.mshell_rj):.2f} R_J")


if __name__ == "__main__":
    main()
