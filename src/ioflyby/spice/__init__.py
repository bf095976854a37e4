"""SPICE layer: load kernels, report coverage, convert times, translate CSPICE errors.

Every other stage reads ephemerides, frames and clocks through SPICE only (spiceypy).
"""

from ioflyby.spice.fetch import (
    DEFAULT_BASE_URL,
    FetchedFile,
    FetchResult,
    KernelChoice,
    ListingEntry,
    default_cache_dir,
    download,
    fetch_kernels,
    parse_listing,
    plan_kernels,
    write_metakernel,
)
from ioflyby.spice.kernelset import (
    CoverageInterval,
    Kernels,
    body_id,
    body_name,
    et_to_utc,
    spice_errors,
    utc_to_et,
)
from ioflyby.spice.writers import SpkSegment, write_ck, write_sclk, write_spk

__all__ = [
    "DEFAULT_BASE_URL",
    "CoverageInterval",
    "FetchResult",
    "FetchedFile",
    "KernelChoice",
    "Kernels",
    "ListingEntry",
    "SpkSegment",
    "body_id",
    "body_name",
    "default_cache_dir",
    "download",
    "et_to_utc",
    "fetch_kernels",
    "parse_listing",
    "plan_kernels",
    "spice_errors",
    "utc_to_et",
    "write_ck",
    "write_metakernel",
    "write_sclk",
    "write_spk",
]
