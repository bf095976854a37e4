"""Benchmark/report: our maps of the five real products (pointing solved from the limb, no CK)
against the JunoCam team's own ``-mapprojected.png``, in the team's convention
(``ioflyby.validate.mapprojected``, ``docs/mapprojected.md``). Prints, per product, the
registration offset (phase correlation, px), the band-pass correlation, the rotation between the
two (brute force, deg), the pole's position angle from celestial north, the north angle that
makes the team's night-side cut a solar-incidence contour (with its incidence and spread; 0 =
Jupiter's north up, the convention) and the times.

Usage: python benchmarks/bench_mapprojected.py [--projection perspective|orthographic] [--keep DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from ioflyby.ingest import read_product
from ioflyby.pointing import solve_loaded
from ioflyby.processing import MapSpec, process
from ioflyby.spice import Kernels, utc_to_et
from ioflyby.validate.mapprojected import (
    night_cut_pixels,
    north_angle_deg,
    process_options,
    resample_geotiff,
    sun_direction_body,
    terminator_turn_deg,
    view_from_label,
)
from ioflyby.validate.teammap import compare_with_reference, load_grey

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
KERNELS = DATA / "kernels"
FILES = [KERNELS / name for name in (
    "lsk/naif0012.tls", "pck/pck00010.tpc", "fk/juno_v12.tf", "ik/juno_junocam_v03.ti",
    "sclk/jno_sclkscet_00090.tsc", "spk/spk_pre_220614_221109_220810_jm0450.bsp",
)]


def view_target(product) -> str:
    return product.target.strip().upper()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--projection", default="perspective", choices=("perspective", "orthographic"))
    parser.add_argument("--keep", type=Path, default=None, help="write maps and resampled PNGs here")
    args = parser.parse_args()
    out = args.keep or Path(tempfile.mkdtemp())
    print(f"{'product':28s} {'solve s':>7s} {'limb px':>7s} {'dx px':>7s} {'dy px':>7s} {'|d| px':>7s} "
          f"{'corr':>6s} {'rot deg':>8s} {'cel.N deg':>9s} {'cut n deg':>9s} {'cut inc':>7s} {'spread':>6s}")
    for folder in sorted((DATA / "junocam" / "raw").iterdir()):
        product = read_product(folder)
        with Kernels(FILES):
            began = time.perf_counter()
            solution = solve_loaded(product, prior="search", align=True)
            solve_s = time.perf_counter() - began
            view = view_from_label(product)
            et = utc_to_et(product.start_time_utc)
            celestial = north_angle_deg(view_target(product), et)
            sun = sun_direction_body(view_target(product), et)
        settings = process_options(view)
        if args.projection == "orthographic":
            settings = {"lat": settings["lat"], "lon": settings["lon"], "resolution_km": view.sphere_radius_km / view.disc_radius_px}
        result = process([product], FILES, MapSpec(projection=args.projection, **settings), out / product.product_id,
                         pointing=[solution])
        ours = resample_geotiff(result.files["colour"], view)
        if args.keep:
            from PIL import Image

            rgb = ours[..., :-1].astype(float)
            Image.fromarray((np.clip(rgb / max(rgb.max(), 1) * 255, 0, 255)).astype(np.uint8).squeeze()).save(
                out / f"{product.product_id}_teamview.png")
        reference = next(folder.glob("*-mapprojected.png"))
        cut_n, cut_incidence, cut_spread = terminator_turn_deg(view, *night_cut_pixels(load_grey(reference)[1]), sun)
        c = compare_with_reference(ours, reference, rotation_max_deg=5.0)
        print(f"{product.product_id:28s} {solve_s:7.2f} {solution.limb_rms_px:7.3f} {c['offset_px'][0]:7.2f} "
              f"{c['offset_px'][1]:7.2f} {c['offset_norm_px']:7.2f} {c['correlation']:6.3f} {c['rotation_deg']:8.2f} "
              f"{celestial:9.2f} {cut_n:9.2f} {cut_incidence:7.2f} {cut_spread:6.3f}", flush=True)


if __name__ == "__main__":
    main()
