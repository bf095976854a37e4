"""Shared fixtures. Real data lives in ../shared/data beside the checkout and is never copied.

Tests that need it are skipped with a clear reason where the folder is absent (a user's clone);
under CI (CI=true) its absence is an error instead, so CI never silently skips them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


def _require_shared() -> Path:
    if SHARED_DATA.is_dir():
        return SHARED_DATA
    reason = f"real data folder {SHARED_DATA} is absent (it sits beside the checkout in CI)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data (read-only real mission data)."""
    return _require_shared()


@pytest.fixture(scope="session")
def kernel_dir(shared_data: Path) -> Path:
    """Path to the official NAIF kernels in ../shared/data/kernels."""
    return shared_data / "kernels"


@pytest.fixture(scope="session")
def raw_products_dir(shared_data: Path) -> Path:
    """Folder of the five real JunoCam products (PNG + Metadata.json + mapprojected PNG)."""
    return shared_data / "junocam" / "raw"


@pytest.fixture(scope="session")
def pj1_kernel_files(kernel_dir: Path) -> list[Path]:
    """LSK, PCK, SCLK, FK, IK and the real PJ1 CK/SPK slices (JunoCam image JNCR_2016240_01M06152)."""
    slices = kernel_dir / "pj1_image_slices"
    return [
        kernel_dir / "lsk/naif0012.tls",
        kernel_dir / "pck/pck00010.tpc",
        kernel_dir / "sclk/jno_sclkscet_00090.tsc",
        kernel_dir / "fk/juno_v12.tf",
        kernel_dir / "ik/juno_junocam_v03.ti",
        *sorted(slices.glob("*.bc")),
        *sorted(slices.glob("*.bsp")),
    ]


@pytest.fixture(scope="session")
def juno_2022_kernel_files(kernel_dir: Path) -> list[Path]:
    """What the real PJ43/PJ44 products have: LSK, PCK, FK, IK, SCLK and the 2022 trajectory (no CK)."""
    return [
        kernel_dir / "lsk/naif0012.tls",
        kernel_dir / "pck/pck00010.tpc",
        kernel_dir / "fk/juno_v12.tf",
        kernel_dir / "ik/juno_junocam_v03.ti",
        kernel_dir / "sclk/jno_sclkscet_00090.tsc",
        kernel_dir / "spk/spk_pre_220614_221109_220810_jm0450.bsp",
    ]


def synthetic_label(product_id: str, filters=("BLUE", "GREEN", "RED"), stop_time: str = "2023-12-30T08:35:10.746") -> dict:
    """Label keywords of a small synthetic product in the mission website's form (PJ57, Io)."""
    return {
        "PRODUCT_ID": product_id,
        "FILTER_NAME": list(filters),
        "START_TIME": "2023-12-30T08:35:10.000",
        "STOP_TIME": stop_time,
        "EXPOSURE_DURATION": "3.200000 <ms>",
        "INTERFRAME_DELAY": "0.373 <s>",
        "JNO:TDI_STAGES_COUNT": 1,
        "SAMPLE_BIT_MODE_ID": "SQROOT",
        "TARGET_NAME": "IO",
        "SPACECRAFT_CLOCK_START_COUNT": "757283710:123",
        "PJ": "57",
    }


def two_limb_framelets(product):
    """``product`` with every framelet blanked (zero DN) but the two richest in limb points: a
    limb too short to fix the pointing (the pointing quality tests' case built to fail)."""
    from dataclasses import replace

    import numpy as np

    from ioflyby.pointing.limb import detect_limb

    points = detect_limb(product.decompanded())
    keys, counts = np.unique(points.exposure * len(product.filters) + points.filter_index, return_counts=True)
    cube = np.zeros_like(product.framelets)
    for key in keys[np.argsort(-counts)[:2]]:
        exposure, index = divmod(int(key), len(product.filters))
        cube[exposure, index] = product.framelets[exposure, index]
    return replace(product, framelets=cube)


IO_MEAN_RADIUS_KM = 1821.6


def local_km_grid(lat_deg: float, lon_east_deg: float, diameter_km: float):
    """Planetocentric (lat, east lon) radians of a 1-km (north, east) grid 2.4 diameters wide
    centred on the position (row 0 north)."""
    import numpy as np

    n = int(2.4 * diameter_km) | 1
    offsets = np.arange(n) - n // 2
    east, north = np.meshgrid(offsets, -offsets)
    lat = np.radians(lat_deg) + north / IO_MEAN_RADIUS_KM
    return lat, np.radians(lon_east_deg) + east / (IO_MEAN_RADIUS_KM * np.cos(lat))


def dark_blob_offset_km(values) -> tuple[float, float]:
    """(north, east) km of the darkness-weighted centroid of the dark blob nearest the centre of
    values sampled on :func:`local_km_grid` (smoothed by 2 km; blobs whose centre lies beyond
    0.35 of the grid's width are passed over)."""
    import numpy as np
    from scipy import ndimage

    n = values.shape[0]
    smooth = ndimage.gaussian_filter(np.asarray(values, float), 2.0)
    dark = np.clip(np.median(smooth) - smooth, 0.0, None)
    labels, count = ndimage.label(dark > 0.5 * dark.max())
    centre = n // 2
    best = max(range(1, count + 1), key=lambda k: dark[labels == k].sum() -
               1e9 * (np.hypot(*np.subtract(ndimage.center_of_mass(dark, labels, k), centre)) > 0.35 * n))
    row, col = ndimage.center_of_mass(dark, labels, best)
    return float(centre - row), float(col - centre)
