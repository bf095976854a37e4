"""Benchmark/report: our maps of the real colour products (pointing solved from the limb, no CK)
against the JunoCam team's own ``-mapprojected.png``, in the team's convention
(``ioflyby.validate.mapprojected``, ``docs/mapprojected.md``). Prints, per product, the global
registration offset (phase correlation, px) and correlation, and what the offset is made of
(``ioflyby.validate.teammap.offset_budget``): the tile offset field's similarity — translation
at the disc centre split along/across the spin scan with the along-scan part as a start-time
difference (ms), scale (% and px at r = 800), rotation (deg and px at r = 800), RMS about the
fit — and the per-channel offsets (ours vs the team's R, G, B; the team's R and B against its G).

Variants (the "Remaining offset" experiments of the doc): ``--no-align`` solves without the
camera alignment (the team maps with the nominal frames kernel); ``--limb-on-ellipsoid``
lengthens the IK focal length by the fitted limb offset over the disc radius, so that the
visible limb lies on the 1-bar ellipsoid.

Usage: python benchmarks/bench_mapprojected.py [--no-align] [--limb-on-ellipsoid] [--keep DIR] [PRODUCT ...]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import spiceypy

from ioflyby.camera.junocam import PUBLISHED_IFOV_RAD
from ioflyby.ingest import read_product
from ioflyby.pointing import solve_loaded
from ioflyby.processing import MapSpec, process
from ioflyby.spice import Kernels, utc_to_et
from ioflyby.validate.mapprojected import process_options, resample_geotiff, scan_direction, view_from_label
from ioflyby.validate.teammap import (
    channel_offsets,
    compare_with_reference,
    fit_similarity,
    offset_budget,
    offset_field,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
KERNELS = DATA / "kernels"
IK = KERNELS / "ik/juno_junocam_v03.ti"
BASE = [KERNELS / name for name in (
    "lsk/naif0012.tls", "pck/pck00010.tpc", "fk/juno_v12.tf",
    "sclk/jno_sclkscet_00090.tsc", "spk/spk_pre_220614_221109_220810_jm0450.bsp",
)]
COLOUR = ("JNCE_2022229_44C00029_V01", "JNCE_2022229_44C00030_V01", "JNCE_2022186_43C00078_V01",
          "JNCE_2022186_43C00080_V01")


def scaled_ik(factor: float, folder: Path) -> Path:
    """The JunoCam IK with every FOCAL_LENGTH multiplied by ``factor``, written into ``folder``."""
    text = re.sub(r"(FOCAL_LENGTH\s*=\s*\(\s*)([0-9.]+)", lambda m: f"{m.group(1)}{float(m.group(2)) * factor:.7f}",
                  IK.read_text())
    path = folder / f"junocam_focal_x{factor:.6f}.ti"
    path.write_text(text)
    return path


def disc_radius_px(product) -> float:
    """Jupiter's apparent equatorial radius at the product's start, JunoCam pixels (kernels loaded)."""
    position = spiceypy.spkpos("JUPITER", utc_to_et(product.start_time_utc), "J2000", "LT+S", "JUNO")[0]
    radius = spiceypy.bodvrd("JUPITER", "RADII", 3)[1][0]
    return float(np.arcsin(radius / np.linalg.norm(position)) / PUBLISHED_IFOV_RAD)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("products", nargs="*", default=list(COLOUR))
    parser.add_argument("--no-align", action="store_true", help="solve without the camera alignment")
    parser.add_argument("--limb-on-ellipsoid", action="store_true",
                        help="focal length x (1 + |limb offset| / disc radius): the visible limb on the 1-bar ellipsoid")
    parser.add_argument("--keep", type=Path, default=None, help="write maps here")
    args = parser.parse_args()
    out = args.keep or Path(tempfile.mkdtemp())
    print(f"{'product':26s} {'solve s':>7s} {'limb px':>7s} {'|d| px':>6s} {'corr':>5s} | {'t_x':>6s} {'t_y':>6s} "
          f"{'along':>6s} {'across':>6s} {'ms':>6s} {'scale%':>7s} {'@800':>6s} {'rot deg':>7s} {'@800':>6s} "
          f"{'rms':>5s} | R, G, B ours vs team (px) | team R-G, B-G (px)")
    for name in args.products:
        product = read_product(DATA / "junocam" / "raw" / name)
        files = BASE + [IK]
        with Kernels(files):
            began = time.perf_counter()
            solution = solve_loaded(product, prior="search", align=not args.no_align)
            if args.limb_on_ellipsoid:
                factor = 1.0 + abs(solution.limb_offset_px) / disc_radius_px(product)
                files = BASE + [scaled_ik(factor, out)]
        if args.limb_on_ellipsoid:
            with Kernels(files):
                solution = solve_loaded(product, prior="search", align=not args.no_align)
        solve_s = time.perf_counter() - began
        with Kernels(files):
            view = view_from_label(product)
            scan, px_per_rad = scan_direction(view, "JUPITER", utc_to_et(product.start_time_utc), solution.attitude.axis)
        result = process([product], files, MapSpec(projection="perspective", **process_options(view)), out / name,
                         pointing=[solution])
        ours = resample_geotiff(result.files["colour"], view)
        reference = next((DATA / "junocam" / "raw" / name).glob("*-mapprojected.png"))
        from PIL import Image

        with Image.open(reference) as im:
            team = np.asarray(im)
        c = compare_with_reference(ours, team)
        budget = offset_budget(fit_similarity(offset_field(ours, team)), scan, px_per_rad, solution.attitude.rate)
        f = budget.fit
        channels = channel_offsets(ours, team)
        per = ", ".join(f"({channels[k]['offset_px'][0]:.2f},{channels[k]['offset_px'][1]:.2f})" for k in ("RED", "GREEN", "BLUE"))
        own = ", ".join(f"({channels[k][0]:.2f},{channels[k][1]:.2f})"
                        for k in ("reference_RED_vs_GREEN", "reference_BLUE_vs_GREEN"))
        print(f"{name:26s} {solve_s:7.1f} {solution.limb_offset_px:7.2f} {c['offset_norm_px']:6.2f} {c['correlation']:5.2f} | "
              f"{f.translation_px[0]:6.2f} {f.translation_px[1]:6.2f} {budget.along_scan_px:6.2f} {budget.across_scan_px:6.2f} "
              f"{budget.timing_ms:6.1f} {100 * f.scale:7.3f} {f.scale_px_at(800):6.2f} {f.rotation_deg:7.3f} "
              f"{f.rotation_px_at(800):6.2f} {f.residual_rms_px:5.2f} | {per} | {own}", flush=True)


if __name__ == "__main__":
    main()
