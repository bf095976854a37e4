"""Radiometric calibration of JunoCam framelets: dark, flat, bad pixels, DN/s.

Calibration frames are read from a directory the user names (layout in
``ioflyby.calibrate.frames``), chosen by perijove (nearest earlier set); nothing is shipped.
"""

from ioflyby.calibrate.derive import (
    DerivedFlat,
    OverlapFit,
    OverlapFlat,
    derive_overlap_flat,
    derive_pixel_flat,
    fit_overlap_correction,
    write_derived_flat,
    write_overlap_flat,
)
from ioflyby.calibrate.frames import CalibrationFile, scan_directory, select_file
from ioflyby.calibrate.metrics import (
    OverlapBlock,
    OverlapFlatness,
    OverlapShift,
    column_striping,
    lit_column_striping,
    overlap_blocks,
    overlap_flatness,
    register_overlaps,
    vignetting_ratio,
)
from ioflyby.calibrate.output import write_calibrated
from ioflyby.calibrate.pipeline import (
    STEPS,
    UNITS,
    CalibratedProduct,
    calibrate_product,
    detect_hot_pixels,
    fit_dark_scale,
    inpaint,
)

__all__ = [
    "STEPS",
    "UNITS",
    "CalibratedProduct",
    "CalibrationFile",
    "DerivedFlat",
    "OverlapBlock",
    "OverlapFit",
    "OverlapFlat",
    "OverlapFlatness",
    "OverlapShift",
    "calibrate_product",
    "column_striping",
    "derive_overlap_flat",
    "derive_pixel_flat",
    "detect_hot_pixels",
    "fit_dark_scale",
    "fit_overlap_correction",
    "inpaint",
    "lit_column_striping",
    "overlap_blocks",
    "overlap_flatness",
    "register_overlaps",
    "scan_directory",
    "select_file",
    "vignetting_ratio",
    "write_calibrated",
    "write_derived_flat",
    "write_overlap_flat",
]
