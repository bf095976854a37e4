"""Derive flats from many raw products: a *pixel flat* (``derive_pixel_flat``) and a large-scale
flat corrected along lines from framelet overlaps (``derive_overlap_flat``, further below).

Pixel flat (pixel-to-pixel and column-to-column response).

Method, per filter: in every framelet, each lit pixel (linear DN above ``lit_min_dn``) is divided
by the mean of its lit neighbours along the same line (``window`` samples, the pixel included);
the per-pixel median of these ratios over all framelets of all products is the pixel flat.
Because the scene differs between framelets while the detector does not, scene texture
averages out and fixed-pattern structure (column striping, dust, weak pixels) remains.
Structure broader than ``window`` (vignetting) is *not* measured: keep a large-scale flat for
that. Pixels lit in fewer than ``min_count`` framelets get 1 and are reported in the coverage.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ioflyby.calibrate.frames import FRAME_SHAPE, load_for_filter, scan_directory, select_file
from ioflyby.calibrate.metrics import line_ratio, overlap_blocks, register_overlaps
from ioflyby.calibrate.output import write_tiffs_and_record
from ioflyby.calibrate.pipeline import calibrate_product, normalised
from ioflyby.errors import CalibrationError
from ioflyby.ingest.product import RawProduct


@dataclass(frozen=True, eq=False)
class DerivedFlat:
    """A pixel flat per filter (median 1 over covered pixels) and how many framelets covered each pixel."""

    flats: dict[str, np.ndarray]
    coverage: dict[str, np.ndarray]
    perijove: int | None
    products: tuple[str, ...]


def derive_pixel_flat(
    products: Sequence[RawProduct], *, lit_min_dn: float = 100.0, window: int = 15, min_count: int = 5
) -> DerivedFlat:
    """Pixel flat per filter from the lit framelets of ``products`` (see module docstring)."""
    if not products:
        raise CalibrationError("derive-flat needs at least one product")
    if window < 3 or window % 2 == 0:
        raise CalibrationError(f"window must be an odd number >= 3, got {window}")
    ratios: dict[str, list[np.ndarray]] = {}
    for product in products:
        dn = product.decompanded()
        for f_index, filt in enumerate(product.filters):
            for frame in dn[:, f_index]:
                ratios.setdefault(filt, []).append(line_ratio(frame.astype(np.float64), lit_min_dn, window).astype(np.float32))
    flats: dict[str, np.ndarray] = {}
    coverage: dict[str, np.ndarray] = {}
    for filt, stack_list in ratios.items():
        stack = np.stack(stack_list)
        count = np.sum(np.isfinite(stack), axis=0)
        with np.errstate(all="ignore"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                median = np.nanmedian(stack, axis=0)
        covered = count >= min_count
        if not covered.any():
            raise CalibrationError(
                f"no pixel of {filt} is lit (> {lit_min_dn} DN) in {min_count} framelets; "
                "use more or brighter products, or lower --lit-min-dn"
            )
        flat = np.where(covered, median, np.nan)
        flat = flat / float(np.nanmedian(flat))
        flats[filt] = np.where(covered, flat, 1.0).astype(np.float32)
        coverage[filt] = count.astype(np.uint16)
    pjs = [p.perijove for p in products if p.perijove is not None]
    return DerivedFlat(flats, coverage, max(pjs) if pjs else None, tuple(p.product_id for p in products))


def write_derived_flat(result: DerivedFlat, out_dir: str | Path) -> list[Path]:
    """Write ``pixelflat[_pjNN]_<filter>.tif`` (float32), ``coverage[_pjNN]_<filter>.tif`` (uint16)
    and ``pixelflat[_pjNN].json`` into ``out_dir`` (temporary names, renamed when all are written).
    The names are what ``ioflyby calibrate --calibration`` recognises."""
    out = Path(out_dir)
    tag = f"_pj{result.perijove:02d}" if result.perijove is not None else ""
    summary = {"method": "median over framelets of pixel / mean of lit line neighbours", "perijove": result.perijove,
               "products": list(result.products), "filters": {}}
    tiffs = []
    for filt, flat in result.flats.items():
        name = filt.lower()
        tiffs += [(out / f"pixelflat{tag}_{name}.tif", flat, None),
                  (out / f"coverage{tag}_{name}.tif", result.coverage[filt], None)]
        covered = result.coverage[filt] > 0
        summary["filters"][filt] = {"covered_pixels": int(covered.sum()), "min": float(flat.min()), "max": float(flat.max())}
    return write_tiffs_and_record(tiffs, out / f"pixelflat{tag}.json", summary, "derived flat")


# ---------------------------------------------------------------- large-scale flat from framelet overlaps
#
# Consecutive framelets of one filter overlap by ~12 lines (calibrate.metrics): the bottom lines
# of framelet n and the top lines of framelet n+1 see the same clouds, so every matched block
# measures ln F(y + dy, x + dx) - ln F(y, x) of the detector response F, whatever the scene.
# Over many pairs and products these measurements constrain a smooth correction C to a base flat:
#
#     ln C(y, x) = g(u) * (y - 63.5) / 63.5 + h(u),   u = clip(x, lo, hi) mapped to [-1, 1],
#     g = sum_j a_j P_j(u)  (j = 0..line_degree),     h = sum_j b_j P_j(u)  (j = 1..sample_degree),
#
# P_j Legendre polynomials, [lo, hi] the sample range the overlaps measured (outside it C keeps
# its edge value: nothing is extrapolated). Only the *difference* between the ~12 first and
# ~12 last lines is seen, so the line dependence is a gradient (a curvature along lines is not
# identifiable); h is seen only through the overlaps' sample shift dx (a few pixels), i.e. as
# h'(x) * dx(x), so keep sample_degree 0 unless many products with different dx are used.
#
# Defaults: line_degree 0 (one gradient per filter), sample_degree 0, the directory's flat as the
# base; the cross-validation behind them is in docs/conventions.md, "Calibration: measurements
# behind the design".


@dataclass(frozen=True)
class OverlapFit:
    """The fitted correction for one filter (see the section comment): Legendre coefficients
    ``line_coeffs`` (a_0..a_K, natural-log units per half frame height, 63.5 lines) and
    ``sample_coeffs`` (b_1..b_M, natural-log units) over samples ``sample_range`` (pixels,
    inclusive). ``measurements`` (pair, block) overlaps from ``products`` were fitted; their rms
    ln(ratio) about 0 was ``rms_before`` with the base flat and ``rms_after`` predicted with the
    correction (dimensionless)."""

    line_coeffs: tuple[float, ...]
    sample_coeffs: tuple[float, ...]
    sample_range: tuple[float, float]
    measurements: int
    products: int
    rms_before: float
    rms_after: float

    def log_correction(self, line: np.ndarray, sample: np.ndarray) -> np.ndarray:
        """ln C at (``line``, ``sample``) pixel positions (arrays of one shape), not normalised."""
        return _basis(line, sample, self.sample_range, len(self.line_coeffs) - 1, len(self.sample_coeffs)) @ np.array(
            self.line_coeffs + self.sample_coeffs)

    def correction(self, shape: tuple[int, int] = (128, 1648)) -> np.ndarray:
        """C over a whole framelet, normalised to mean 1 (float64)."""
        line, sample = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
        values = np.exp(self.log_correction(line.ravel(), sample.ravel()).reshape(shape))
        return values / values.mean()


@dataclass(frozen=True, eq=False)
class OverlapFlat:
    """A large-scale flat per filter derived from framelet overlaps: ``flats`` = base flat x
    correction, normalised to mean 1 (float32, 128 x 1648); ``fits`` what was fitted; ``bases``
    the base flat file per filter (``None`` = a flat of 1); ``skipped`` why a product/filter
    gave no measurement."""

    flats: dict[str, np.ndarray]
    fits: dict[str, OverlapFit]
    bases: dict[str, str | None]
    perijove: int | None
    products: tuple[str, ...]
    skipped: tuple[str, ...] = ()


def _basis(line: np.ndarray, sample: np.ndarray, sample_range: tuple[float, float], line_degree: int,
           sample_degree: int) -> np.ndarray:
    """Design columns of ln C at pixel positions: P_0..P_K(u) * (y - 63.5) / 63.5, then P_1..P_M(u)."""
    lo, hi = sample_range
    u = 2.0 * (np.clip(np.asarray(sample, np.float64), lo, hi) - lo) / max(hi - lo, 1.0) - 1.0
    legendre = np.polynomial.legendre.legvander(u, max(line_degree, sample_degree))
    y = (np.asarray(line, np.float64)[:, None] - 63.5) / 63.5
    return np.hstack([legendre[:, : line_degree + 1] * y, legendre[:, 1 : sample_degree + 1]])


def _block_design(blocks: Sequence, sample_range: tuple[float, float], line_degree: int, sample_degree: int) -> np.ndarray:
    """Per overlap block, d(ln ratio)/d(coefficient): brightness-weighted mean of each basis
    column at framelet n's positions minus that at framelet n+1's (linearised ln of sum ratio)."""
    rows = []
    for item in blocks:
        src = _basis(item.src_line, item.src_sample, sample_range, line_degree, sample_degree)
        top = _basis(item.line, item.sample, sample_range, line_degree, sample_degree)
        rows.append(item.value_src @ src / item.value_src.sum() - item.value_top @ top / item.value_top.sum())
    return np.array(rows).reshape(len(rows), line_degree + 1 + sample_degree)


def _robust_lstsq(design: np.ndarray, values: np.ndarray, iterations: int = 20) -> np.ndarray:
    """Coefficients minimising a Huber loss (k = 1.5 robust sigmas) by reweighted least squares."""
    weights = np.ones(values.size)
    coeffs = np.zeros(design.shape[1])
    for _ in range(iterations):
        root = np.sqrt(weights)
        coeffs = np.linalg.lstsq(design * root[:, None], values * root, rcond=None)[0]
        resid = values - design @ coeffs
        sigma = max(1.4826 * float(np.median(np.abs(resid - np.median(resid)))), 1e-6)
        new = np.minimum(1.0, 1.5 * sigma / np.maximum(np.abs(resid), 1e-12))
        if np.allclose(new, weights, atol=1e-4):
            break
        weights = new
    return coeffs


def fit_overlap_correction(blocks: Sequence, *, line_degree: int = 0, sample_degree: int = 0,
                           products: int = 1) -> OverlapFit:
    """Fit the correction C (section comment) to overlap blocks measured on base-flattened
    framelets (``calibrate.metrics.overlap_blocks`` of one filter, any number of products): the
    coefficients minimise the robust sum over blocks of (measured ln ratio - predicted change)^2.
    CalibrationError if there are fewer blocks than 3 per coefficient."""
    n_coeffs = line_degree + 1 + sample_degree
    if line_degree < 0 or sample_degree < 0:
        raise CalibrationError(f"line and sample degrees must be >= 0, got {line_degree}, {sample_degree}")
    if len(blocks) < 3 * n_coeffs:
        raise CalibrationError(
            f"only {len(blocks)} overlap blocks measured, need {3 * n_coeffs} for {n_coeffs} coefficients: "
            "use more products with lit overlaps or lower --line-degree/--sample-degree")
    starts = np.array([item.start for item in blocks], dtype=np.float64)
    width = max(int(item.sample.max() - item.start) + 1 for item in blocks)
    sample_range = (float(starts.min()), float(starts.max() + width - 1))
    design = _block_design(blocks, sample_range, line_degree, sample_degree)
    measured = np.array([item.log_ratio for item in blocks])
    coeffs = _robust_lstsq(design, measured)
    resid = measured - design @ coeffs
    return OverlapFit(tuple(map(float, coeffs[: line_degree + 1])), tuple(map(float, coeffs[line_degree + 1 :])),
                      sample_range, len(blocks), products, float(np.sqrt(np.mean(measured**2))),
                      float(np.sqrt(np.mean(resid**2))))


def _base_flats(calibration_dir: Path | None, filters: Sequence[str], perijove: int | None) -> dict[str, tuple[np.ndarray, str | None]]:
    """Per filter the flat that ``calibration_dir`` selects for ``perijove`` (normalised to median
    1) and its path, or a flat of 1 where there is no directory or no flat for the filter."""
    files = scan_directory(calibration_dir)[0] if calibration_dir is not None else []
    bases: dict[str, tuple[np.ndarray, str | None]] = {}
    for filt in filters:
        chosen = select_file(files, "flat", filt, perijove) if files else None
        if chosen is None:
            bases[filt] = (np.ones(FRAME_SHAPE), None)
        else:
            flat = normalised(load_for_filter(chosen, filt))
            bases[filt] = (np.where(flat > 0.2, flat, 1.0), str(chosen.path))
    return bases


def measure_overlap_blocks(product: RawProduct, calibration_dir: str | Path | None, bases: dict[str, np.ndarray], *,
                           lit_min_dn: float = 100.0, register_lit_dn: float = 60.0, block: int = 32) -> tuple[dict[str, list], list[str]]:
    """Overlap blocks per filter of one product, measured on its framelets in linear DN after the
    dark, pixel flat and bad-pixel steps of ``calibration_dir`` (raw DN without one), divided by
    ``bases[filter]``; registration and lit pixels are chosen on the raw DN (``register_lit_dn``,
    ``lit_min_dn``). Returns (blocks per filter, reasons for filters that gave none)."""
    raw = product.decompanded()
    if calibration_dir is None:
        frames = raw
    else:
        frames = calibrate_product(product, calibration_dir, skip=("flat",)).data * np.float32(product.exposure_ms / 1e3)
    found: dict[str, list] = {}
    skipped: list[str] = []
    for f_index, filt in enumerate(product.filters):
        if filt not in bases:
            continue
        try:
            shift = register_overlaps(raw[:, f_index], lit_min=register_lit_dn)
        except CalibrationError as exc:
            skipped.append(f"{product.product_id} {filt}: {exc}")
            continue
        base = bases[filt].astype(np.float32)
        found[filt] = overlap_blocks(frames[:, f_index] / base, shift, lit_min_dn, reference=raw[:, f_index], block=block)
    return found, skipped


def derive_overlap_flat(
    products: Sequence[RawProduct], calibration_dir: str | Path | None = None, *, line_degree: int = 0,
    sample_degree: int = 0, lit_min_dn: float = 100.0, register_lit_dn: float = 60.0, block: int = 32,
    on_product: Callable[[str], None] | None = None,
) -> OverlapFlat:
    """Large-scale flat per filter (RGB/METHANE, whichever the products hold) from the framelet
    overlaps of ``products`` (see the section comment above): base flat = the flat that
    ``calibration_dir`` selects for the latest perijove of the products (1 without a directory
    or flat), and the correction fitted to the overlaps measured on base-flattened framelets
    (dark, pixel flat and bad pixels from ``calibration_dir`` first). The result replaces the
    base: ``write_overlap_flat`` names it so that ``calibrate_product`` selects it.
    ``on_product(product_id)`` is called after each product is measured (progress display)."""
    if not products:
        raise CalibrationError("derive-flat needs at least one product")
    pjs = [p.perijove for p in products if p.perijove is not None]
    perijove = max(pjs) if pjs else None
    filters = list(dict.fromkeys(f for p in products for f in p.filters))
    cal_dir = Path(calibration_dir) if calibration_dir is not None else None
    bases = _base_flats(cal_dir, filters, perijove)
    blocks: dict[str, list] = {filt: [] for filt in filters}
    seen: dict[str, int] = {filt: 0 for filt in filters}
    skipped: list[str] = []
    for product in products:
        found, why = measure_overlap_blocks(product, cal_dir, {f: b for f, (b, _) in bases.items()},
                                            lit_min_dn=lit_min_dn, register_lit_dn=register_lit_dn, block=block)
        skipped += why
        if on_product is not None:
            on_product(product.product_id)
        for filt, items in found.items():
            blocks[filt] += items
            seen[filt] += bool(items)
    flats: dict[str, np.ndarray] = {}
    fits: dict[str, OverlapFit] = {}
    for filt in filters:
        if not blocks[filt]:
            skipped.append(f"{filt}: no lit framelet overlap in any product; no flat written")
            continue
        fit = fit_overlap_correction(blocks[filt], line_degree=line_degree, sample_degree=sample_degree, products=seen[filt])
        flat = bases[filt][0] * fit.correction()
        flats[filt] = (flat / flat.mean()).astype(np.float32)
        fits[filt] = fit
    if not flats:
        raise CalibrationError("no product has lit overlaps between consecutive framelets: " + "; ".join(skipped))
    return OverlapFlat(flats, fits, {f: bases[f][1] for f in flats}, perijove,
                       tuple(p.product_id for p in products), tuple(skipped))


def write_overlap_flat(result: OverlapFlat, out_dir: str | Path) -> list[Path]:
    """Write ``flat_overlap[_pjNN]_<filter>.tif`` (float32, 128 x 1648, mean 1) per filter and
    ``flat_overlap[_pjNN].json`` (method, base flats, coefficients, fit figures) into ``out_dir``
    (temporary names, renamed when all are written). ``calibrate --calibration`` recognises them
    as the large-scale ``flat`` of perijove NN (see ``calibrate.frames``), so in a directory that
    also holds unnumbered flats they are chosen for products of perijove NN and later."""
    out = Path(out_dir)
    tag = f"_pj{result.perijove:02d}" if result.perijove is not None else ""
    summary = {"method": "base flat x exp(g(sample) * (line - 63.5) / 63.5 + h(sample)), fitted to framelet-overlap "
                         "ln ratios (Legendre coefficients in sample mapped to [-1, 1] over sample_range, clamped outside)",
               "perijove": result.perijove, "products": list(result.products), "skipped": list(result.skipped),
               "filters": {}}
    tiffs = []
    for filt, flat in result.flats.items():
        tiffs.append((out / f"flat_overlap{tag}_{filt.lower()}.tif", flat, None))
        fit = result.fits[filt]
        summary["filters"][filt] = {
            "base_flat": result.bases[filt], "line_coeffs": list(fit.line_coeffs),
            "sample_coeffs": list(fit.sample_coeffs), "sample_range_px": list(fit.sample_range),
            "overlap_blocks": fit.measurements, "products": fit.products,
            "rms_ln_ratio_base": fit.rms_before, "rms_ln_ratio_fitted": fit.rms_after}
    return write_tiffs_and_record(tiffs, out / f"flat_overlap{tag}.json", summary, "overlap-derived flat")
