"""SPICE layer: load kernels, report coverage, convert times, translate CSPICE errors.

Every other stage reads ephemerides, frames and clocks through SPICE only (spiceypy). The NAIF
downloader's names (:mod:`ioflyby.spice.fetch`, which needs urllib and friends) are imported on
first use, so that commands that only read kernels do not pay for it.
"""

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

_FETCH_NAMES = (
    "DEFAULT_BASE_URL",
    "FetchedFile",
    "FetchResult",
    "KernelChoice",
    "ListingEntry",
    "default_cache_dir",
    "download",
    "fetch_kernels",
    "parse_listing",
    "plan_kernels",
    "write_metakernel",
)

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


def __getattr__(name: str):
    if name in _FETCH_NAMES:
        from ioflyby.spice import fetch

        return getattr(fetch, name)
    raise AttributeError(f"module 'ioflyby.spice' has no attribute {name!r}")
