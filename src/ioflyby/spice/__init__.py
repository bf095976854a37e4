"""SPICE layer: load kernels, report coverage, convert times, translate CSPICE errors.

Every other stage reads ephemerides, frames and clocks through SPICE only (spiceypy).
"""

from ioflyby.spice.kernelset import (
    CoverageInterval,
    KernelSet,
    body_id,
    body_name,
    et_to_utc,
    spice_errors,
    utc_to_et,
)

__all__ = [
    "CoverageInterval",
    "KernelSet",
    "body_id",
    "body_name",
    "et_to_utc",
    "spice_errors",
    "utc_to_et",
]
