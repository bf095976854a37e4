"""Benchmark: closest-approach search over one year of a Juno-like trajectory.

No real one-year Juno SPK is available offline, so this writes one in a temporary folder: a
Keplerian polar orbit about Jupiter with a 53-day period and perijove 4 000 km above the 1-bar
equatorial radius, sampled 2 000 times per orbit (denser near perijove) as SPK type 13, plus
Jupiter and the Sun fixed 5.2 au apart so the lighting geometry can be computed. It then times
``find_encounters`` (coverage check, GF LOCMIN search, range-rate refinement and full geometry
at each perijove) over 365 days. Target: ≤ 1 s. Also reports the error of the perijoves
against the analytic ones (t_p + kP, a(1 - e)), and the cost of a 1 201-point timeline.

Usage: python benchmarks/bench_flyby.py [--kernels DIR]   (DIR holding lsk/ and pck/; default
../shared/data/kernels beside the checkout)
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ioflyby.flyby import find_encounters, timeline
from ioflyby.spice import Kernels, write_spk

# The analytic SPK builders are test fixtures, kept in tests/ (not part of the library).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from synthetic_flyby import KeplerOrbit, fixed_segment, kepler_segment  # noqa: E402

GM_JUPITER = 126_686_531.9  # km^3/s^2
R_JUPITER = 71_492.0  # km, equatorial
AU_KM = 149_597_870.7
DAY = 86_400.0
TARGET_S = 1.0


def build_spk(folder: Path, start: float, stop: float) -> tuple[Path, KeplerOrbit]:
    """Juno-like orbit SPK (-61 about 599) plus Jupiter and Sun placeholders, written in ``folder``."""
    orbit = KeplerOrbit.from_period(53 * DAY, R_JUPITER + 4000.0, GM_JUPITER, start + 20 * DAY)
    segments = [
        kepler_segment(-61, 599, orbit, start, stop, per_orbit=2000),
        fixed_segment(599, 10, [5.2 * AU_KM, 0.0, 0.0], start, stop),
        fixed_segment(10, 0, [0.0, 0.0, 0.0], start, stop),
    ]
    return write_spk(folder / "juno_like_1yr.bsp", segments), orbit


def main() -> None:
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "kernels"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", type=Path, default=default)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    start = 7.2e8  # 2022-10-25
    stop = start + 365 * DAY
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        spk, orbit = build_spk(Path(tmp), start - DAY, stop + DAY)
        write_s = time.perf_counter() - t0
        files = [args.kernels / "lsk" / "naif0012.tls", args.kernels / "pck" / "pck00010.tpc", spk]
        with Kernels(files) as kernels:
            runs = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                result = find_encounters(kernels, "JUNO", "JUPITER", start, stop)
                runs.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            points = timeline("JUNO", "JUPITER", result.encounters[0].et, 600.0, 1.0)
            timeline_s = time.perf_counter() - t0
    k0 = math.ceil((start - orbit.tp_et) / orbit.period_s)
    truth = [orbit.tp_et + k * orbit.period_s for k in range(k0, k0 + 20)]
    truth = [t for t in truth if start < t < stop]
    dt = max(abs(e.et - t) for e, t in zip(result.encounters, truth, strict=True))
    dd = max(abs(e.distance_km - orbit.rp_km) for e in result.encounters)
    print("bench_flyby: one-year closest-approach search, Juno-like 53-day polar orbit")
    print(f"  SPK written in {write_s:.2f} s ({spk.name}, {len(result.encounters)} perijoves in 365 d)")
    print(f"  find_encounters, 365 d window, step {result.step_s:g} s: "
          f"best {min(runs):.3f} s, median {statistics.median(runs):.3f} s over {len(runs)} runs "
          f"(target <= {TARGET_S:.1f} s: {'PASS' if statistics.median(runs) <= TARGET_S else 'FAIL'})")
    print(f"  perijoves vs analytic: max |dt| = {dt * 1e3:.4f} ms, max |d distance| = {dd * 1e3:.4f} m")
    print(f"  timeline of {len(points)} points (1 s step, ±600 s): {timeline_s:.3f} s "
          f"({timeline_s / len(points) * 1e6:.0f} µs per point)")


if __name__ == "__main__":
    main()
