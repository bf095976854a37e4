"""Benchmark: read + decompand the largest shared JunoCam product (target <= 0.3 s), calibrate it,
and print what calibration does to column striping and, where consecutive framelets overlap,
to the response error along lines (scene-independent; see calibrate.metrics.overlap_flatness)
on the real products, with the shared calibration directory (v3 flats), with the
flatFieldsSmooth12to16 stack instead, and with a flat derived from the overlaps of the other
perijove's products (``derive-flat --from-overlaps``, cross-validated), plus which model
choices cross-validate best.

Run: .venv/bin/python benchmarks/bench_ingest.py
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from ioflyby.calibrate import (
    calibrate_product,
    column_striping,
    derive_overlap_flat,
    fit_overlap_correction,
    lit_column_striping,
    write_overlap_flat,
)
from ioflyby.calibrate.metrics import overlap_flatness, register_overlaps
from ioflyby.ingest import read_product

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "junocam"


def main() -> None:
    products = sorted((DATA / "raw").iterdir())
    largest = max(products, key=lambda p: read_product(p).framelets.size)
    times = []
    for _ in range(7):
        start = time.perf_counter()
        linear = read_product(largest).decompanded()
        times.append(time.perf_counter() - start)
    print(f"read+decompand {largest.name} ({linear.shape}, {linear.nbytes / 1e6:.0f} MB float32): "
          f"median {statistics.median(times):.3f} s, best {min(times):.3f} s (target <= 0.3 s)")
    rgb = [read_product(folder) for folder in products]
    rgb = [p for p in rgb if p.filters != ("METHANE",)]
    for product in rgb:
        start = time.perf_counter()
        result = calibrate_product(product, DATA / "calibration")
        seconds = time.perf_counter() - start
        before_all = product.decompanded() / np.float32(product.exposure_ms / 1e3)
        print(f"\n{product.product_id}: calibrate {seconds:.2f} s")
        lit = 100.0 / (product.exposure_ms / 1e3)  # 100 DN in DN/s
        for f, filt in enumerate(product.filters):
            before, after = before_all[:, f], result.data[:, f]
            rec = result.record["filters"][filt]
            print(f"  {filt:5s} sky column striping {column_striping(before):7.2f} -> {column_striping(after):7.2f} DN/s"
                  f" | lit column striping {lit_column_striping(before, lit):.4f} -> {lit_column_striping(after, lit):.4f}"
                  f" | dark scale {rec['dark']['scale']:.4f}, hot {rec['hot']['detected']}")
    overlap_table(rgb)


def smooth_stack_directory(root: Path) -> Path:
    """A calibration directory with the darks, masks and only the flatFieldsSmooth12to16 stack."""
    for path in (DATA / "calibration").iterdir():
        if "dark" in path.name or "mask" in path.name or path.name == "flatFieldsSmooth12to16.tiff":
            (root / path.name).symlink_to(path)
    return root


def derived_directory(root: Path, training: list, **options) -> tuple[Path, dict]:
    """The shared calibration directory plus a flat derived from the overlaps of ``training``
    (v3 flats as base), written without a perijove so that it applies to every product."""
    for path in (DATA / "calibration").iterdir():
        (root / path.name).symlink_to(path)
    derived = derive_overlap_flat(training, DATA / "calibration", **options)
    write_overlap_flat(dataclasses.replace(derived, perijove=None), root)
    return root, derived.fits


def overlap_table(products: list) -> None:
    """rms / mean of ln(response ratio) between framelet overlaps (bottom lines of exposure n vs
    top lines of n+1, ~115 lines apart), over 32-sample blocks: raw, v3 flats, smooth stack, and
    the flat derived from the overlaps of the *other* perijove's products (cross-validated)."""
    print("\nframelet-overlap response error along lines, ln(ratio) over 32-sample blocks (0.01 = 1 %);")
    print("'derived' = v3 x gradient along lines fitted to the overlaps of the other perijove's products")
    print(f"{'product':27s} {'filter':6s} {'TDI':>3s} {'blocks':>6s} {'shift rms':>9s} | {'rms raw':>7s} {'v3':>7s} {'smooth':>7s}"
          f" {'derived':>7s} | {'mean raw':>8s} {'v3':>8s} {'smooth':>8s} {'derived':>8s}")
    by_pj: dict[int, list] = {}
    for product in products:
        by_pj.setdefault(product.perijove, []).append(product)
    table: dict[str, list[list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "smooth").mkdir()
        smooth_dir = smooth_stack_directory(Path(tmp) / "smooth")
        derived_dirs, fits = {}, {}
        for pj in by_pj:
            training = [p for other, group in by_pj.items() if other != pj for p in group]
            start = time.perf_counter()
            (Path(tmp) / f"not{pj}").mkdir()
            derived_dirs[pj], fits[pj] = derived_directory(Path(tmp) / f"not{pj}", training)
            print(f"  (derive-flat --from-overlaps on {len(training)} products for PJ{pj}: {time.perf_counter() - start:.1f} s;"
                  " gradient a0 per filter " + ", ".join(f"{f} {fit.line_coeffs[0]:+.4f}" for f, fit in fits[pj].items()) + ")")
        for product in products:
            raw = product.decompanded()
            exposure_s = product.exposure_ms / 1e3
            calibrated = [calibrate_product(product, d).data for d in (DATA / "calibration", smooth_dir, derived_dirs[product.perijove])]
            for f, filt in enumerate(product.filters):
                shift = register_overlaps(raw[:, f], lit_min=60.0)
                rows = [overlap_flatness(raw[:, f], shift, 100.0)] + [
                    overlap_flatness(cal[:, f] * exposure_s, shift, 100.0, reference=raw[:, f]) for cal in calibrated]
                table.setdefault(filt, []).append([r.rms for r in rows])
                print(f"{product.product_id:27s} {filt:6s} {product.tdi_stages:3d} {rows[0].log_ratio.size:6d} "
                      f"{shift.rms_px:7.2f}px | " + " ".join(f"{r.rms:7.4f}" for r in rows) + " | "
                      + " ".join(f"{r.mean:+8.4f}" for r in rows))
    print(f"{'mean rms over products':41s} | raw      v3  smooth derived")
    for filt, rows in table.items():
        print(f"  {filt:39s} | " + " ".join(f"{v:7.4f}" for v in np.mean(rows, axis=0)))
    everything = np.array([row for rows in table.values() for row in rows])
    print(f"  {'all ' + str(len(everything)) + ' product x filter cases':39s} | " + " ".join(f"{v:7.4f}" for v in everything.mean(axis=0))
          + f"   (derived < raw in {int(np.sum(everything[:, 3] < everything[:, 0]))}, < v3 in"
          f" {int(np.sum(everything[:, 3] < everything[:, 1]))}, < smooth in {int(np.sum(everything[:, 3] < everything[:, 2]))})")
    model_choice_table(by_pj)


def model_choice_table(by_pj: dict[int, list]) -> None:
    """Cross-validated mean overlap rms for other bases and model degrees. For speed the flat is
    applied by dividing the framelets calibrated without a flat (dark, mask, hot pixels) rather
    than by re-running calibrate_product per model (same figures to 0.0001 for the default)."""
    import tifffile
    from PIL import Image

    from ioflyby.calibrate.derive import measure_overlap_blocks
    from ioflyby.calibrate.pipeline import normalised

    cal = DATA / "calibration"
    stack = tifffile.imread(cal / "flatFieldsSmooth12to16.tiff").astype(np.float64)
    bases = {"raw (1)": {f: np.ones((128, 1648)) for f in ("BLUE", "GREEN", "RED")},
             "v3": {f: normalised(np.asarray(Image.open(cal / f"junocam_rgb_flatfield_v3_{i}.png"), np.float64))
                    for i, f in enumerate(("BLUE", "GREEN", "RED"))},
             "smooth": {f: normalised(stack[i * 128 : (i + 1) * 128]) for i, f in enumerate(("BLUE", "GREEN", "RED"))}}
    prepared = {}
    for group in by_pj.values():
        for product in group:
            raw = product.decompanded()
            dark = calibrate_product(product, cal, skip=["flat"]).data * np.float32(product.exposure_ms / 1e3)
            shifts = {f: register_overlaps(raw[:, i], lit_min=60.0) for i, f in enumerate(product.filters)}
            prepared[product.product_id] = (product, raw, dark, shifts)
    print("\nmodel choice, cross-validated (derive on one perijove, measure the other): mean overlap rms over all cases")
    print(f"{'base':8s} {'line_degree':>11s} {'sample_degree':>13s} {'mean rms':>9s}  (no correction: raw, v3, smooth "
          "in the table above)")
    for base_name, base in bases.items():
        blocks = {pid: measure_overlap_blocks(p, cal, base)[0] for pid, (p, *_rest) in prepared.items()}
        for line_degree, sample_degree in ((0, 0), (1, 0), (2, 0), (3, 0), (0, 1), (1, 1), (0, 2)):
            values = []
            for pj, group in by_pj.items():
                training = [p.product_id for other, g in by_pj.items() if other != pj for p in g]
                for filt in ("BLUE", "GREEN", "RED"):
                    fit = fit_overlap_correction(sum((blocks[pid][filt] for pid in training), []),
                                                 line_degree=line_degree, sample_degree=sample_degree)
                    flat = (base[filt] * fit.correction()).astype(np.float32)
                    for product in group:
                        _, raw, dark, shifts = prepared[product.product_id]
                        i = product.filters.index(filt)
                        values.append(overlap_flatness(dark[:, i] / flat, shifts[filt], 100.0, reference=raw[:, i]).rms)
            print(f"{base_name:8s} {line_degree:11d} {sample_degree:13d} {np.mean(values):9.4f}")


if __name__ == "__main__":
    main()
