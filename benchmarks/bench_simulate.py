"""Benchmark the digital twin: full pj57 build, and rendering one 30-exposure RGB product
(30 × 3 framelets of 128 × 1648 ≈ 19 M pixels) at several distances from Io.

Target (issue 4): rendering a 30-exposure RGB product takes ≤ 10 s on the 2-core machine.
Run: ``.venv/bin/python benchmarks/bench_simulate.py``
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from ioflyby.camera import JunoCam
from ioflyby.ingest import write_product
from ioflyby.simulate import FrameletRenderer, ImagingSpec, build_twin, load_basemap
from ioflyby.spice import Kernels, et_to_utc


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        result = build_twin("pj57", Path(tmp) / "twin")
        build_s = time.perf_counter() - began
        truth = result.truth
        print(f"pj57 twin build (kernels + flyby + 3 products + PNG/JSON): {build_s:.2f} s")
        for p in truth["products"]:
            print(f"  {p['product_id']}: render {p['render_seconds']:.2f} s, {p['target_pixels']:,} pixels on Io")
        out = result.metakernel.parent
        with Kernels([result.truth_metakernel]):
            camera = JunoCam.from_kernel_pool()
            renderer = FrameletRenderer(camera, load_basemap())
            rng = np.random.default_rng(0)
            ca_et = truth["achieved_ca"]["time_et"]
            for offset in (-480.0, -240.0, -120.0, -60.0):
                start = ca_et + offset - 0.5 * 30 * 0.373
                spec = ImagingSpec(et_to_utc(start), 30, 0.372, 3, ("BLUE", "GREEN", "RED"))
                t0 = time.perf_counter()
                rendered = renderer.render(spec, start, rng)
                render_s = time.perf_counter() - t0
                print(f"render 30-exposure RGB at C/A{offset:+.0f} s: {render_s:.2f} s "
                      f"({rendered.target_pixels / 1e6:.2f} M of 19.0 M pixels on Io)")
            first = truth["products"][0]

            json_meta = json.loads(next((out / first["dir"]).glob("*-Metadata.json")).read_text())
            cube = rendered.framelets
            t0 = time.perf_counter()
            write_product(Path(tmp) / "w", cube, json_meta)
            print(f"write_product (PNG + JSON, ingest) for one product: {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
