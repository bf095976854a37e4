"""Benchmark: JunoCam pixel_to_ray + ray_to_pixel for 17 M pixels (about 80 RGB framelets' worth).

Prints pixels per second for each direction and the round-trip error. Needs the official IK/FK in
../shared/data/kernels.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ioflyby.camera import FRAMELET_LINES, FRAMELET_SAMPLES, JunoCam
from ioflyby.spice import Kernels

KERNELS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "kernels"
N_PIXELS = 17_000_000
CHUNK = 1 << 21


def main() -> None:
    with Kernels([KERNELS / "fk/juno_v12.tf", KERNELS / "ik/juno_junocam_v03.ti"]):
        camera = JunoCam.from_kernel_pool()
    rng = np.random.default_rng(1)
    samples = rng.uniform(0, FRAMELET_SAMPLES - 1, N_PIXELS)
    lines = rng.uniform(0, FRAMELET_LINES - 1, N_PIXELS)
    forward = backward = 0.0
    worst = 0.0
    for start in range(0, N_PIXELS, CHUNK):
        s, l = samples[start : start + CHUNK], lines[start : start + CHUNK]
        t0 = time.perf_counter()
        rays = camera.pixel_to_ray("GREEN", s, l)
        t1 = time.perf_counter()
        back_s, back_l = camera.ray_to_pixel("GREEN", rays)
        t2 = time.perf_counter()
        forward += t1 - t0
        backward += t2 - t1
        worst = max(worst, float(np.hypot(back_s - s, back_l - l).max()))
    print(f"pixels: {N_PIXELS:,}")
    print(f"pixel_to_ray: {forward:.2f} s, {N_PIXELS / forward / 1e6:.1f} M px/s")
    print(f"ray_to_pixel: {backward:.2f} s, {N_PIXELS / backward / 1e6:.1f} M px/s")
    print(f"round trip:   {forward + backward:.2f} s, {N_PIXELS / (forward + backward) / 1e6:.1f} M px/s")
    print(f"max round-trip error: {worst:.2e} px")


if __name__ == "__main__":
    main()
