"""Reading JunoCam raw products: the five real ones, the website zips, PDS3 EDRs, decompanding.

Truth comes from the products' own labels (LINES, FILTER_NAME, STOP_TIME), the PNG decoded
independently with Pillow, the published SQROOT table values, and SPICE called directly.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import synthetic_label
from ioflyby.errors import ProductError
from ioflyby.ingest import (
    SQROOT_TABLE,
    compand_sqroot,
    decompand,
    read_product,
    write_product,
)

REAL = {
    "JNCE_2022186_43C00078_V01": "13537",
    "JNCE_2022186_43C00080_V01": "13539",
    "JNCE_2022186_43M00081_V01": "13540",
    "JNCE_2022229_44C00029_V01": "13541",
    "JNCE_2022229_44C00030_V01": "13542",
}


def synthetic_metadata(product_id: str = "JNCE_2023364_57C00012_V01", filters=("BLUE", "GREEN", "RED")) -> dict:
    """Label keywords of a small synthetic product in the website's form."""
    return synthetic_label(product_id, filters)


def synthetic_framelets(n_exp: int = 2, n_filt: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n_exp, n_filt, 128, 1648), dtype=np.uint8)


# ---------------------------------------------------------------- the real products


@pytest.mark.parametrize("product_id", sorted(REAL))
def test_real_product_matches_its_label_and_png(raw_products_dir: Path, product_id: str) -> None:
    folder = raw_products_dir / product_id
    label = json.loads((folder / f"{REAL[product_id]}-Metadata.json").read_text())
    png = np.asarray(Image.open(folder / f"{product_id}-raw.png"))
    product = read_product(folder)

    n_filt = len(label["FILTER_NAME"])
    assert product.filters == tuple(label["FILTER_NAME"])
    assert product.n_exposures == label["LINES"] // (128 * n_filt)
    assert product.framelets.shape == (product.n_exposures, n_filt, 128, 1648)
    # framelet (e, f) is rows (e*n_filt + f)*128 ... of the PNG
    for e, f in ((0, 0), (product.n_exposures - 1, n_filt - 1), (product.n_exposures // 2, n_filt // 2)):
        start = (e * n_filt + f) * 128
        assert np.array_equal(product.framelets[e, f], png[start : start + 128])
    assert not product.framelets.flags.writeable
    with pytest.raises(TypeError):
        product.metadata["LINES"] = 1  # type: ignore[index]
    linear = product.decompanded()
    assert linear.dtype == np.float32 and linear.min() >= 0 and linear.max() <= 2879
    assert product.tdi_stages == label["JNO:TDI_STAGES_COUNT"]
    assert product.perijove == int(label["PJ"])
    # the last exposure starts one interframe delay before the label's STOP_TIME
    stop = product.exposure_start_utc[-1]
    delay_ms = round(product.interframe_delay_s * 1000)
    from datetime import datetime, timedelta

    parsed = datetime.fromisoformat(stop) + timedelta(milliseconds=delay_ms)
    assert parsed == datetime.fromisoformat(label["STOP_TIME"])


def test_known_exposure_counts(raw_products_dir: Path) -> None:
    rgb = read_product(raw_products_dir / "JNCE_2022229_44C00029_V01")
    assert (rgb.n_exposures, rgb.filters) == (18, ("BLUE", "GREEN", "RED"))
    assert (rgb.exposure_ms, rgb.interframe_delay_s, rgb.tdi_stages) == (6.4, 0.373, 2)
    methane = read_product(raw_products_dir / "JNCE_2022186_43M00081_V01" / "JNCE_2022186_43M00081_V01-raw.png")
    assert (methane.n_exposures, methane.filters, methane.tdi_stages) == (12, ("METHANE",), 32)
    assert methane.exposure_ms == pytest.approx(102.4)


def test_exposure_start_et_against_spice(kernel_dir: Path, raw_products_dir: Path) -> None:
    import spiceypy

    product = read_product(raw_products_dir / "JNCE_2022186_43C00078_V01")
    spiceypy.furnsh(str(kernel_dir / "lsk" / "naif0012.tls"))
    try:
        et = product.exposure_start_et()
        expected = [spiceypy.str2et(t) for t in product.exposure_start_utc]
    finally:
        spiceypy.unload(str(kernel_dir / "lsk" / "naif0012.tls"))
    assert et.shape == (12,)
    np.testing.assert_allclose(et, expected, atol=1e-6)


# ---------------------------------------------------------------- companding


def test_sqroot_table_matches_published_values() -> None:
    # values of the JunoCam SQROOT table as published (MSSS SIS; as used by ISIS and community tools)
    published = {0: 0, 23: 23, 24: 25, 43: 63, 44: 67, 89: 247, 90: 255, 184: 1007, 185: 1023, 209: 1407, 210: 1439, 255: 2879}
    for code, value in published.items():
        assert SQROOT_TABLE[code] == value
    steps = np.diff(SQROOT_TABLE)
    assert set(np.unique(steps)) == {1, 2, 4, 8, 16, 32} and np.all(np.diff(steps) >= 0)


def test_companding_round_trip_on_table_image() -> None:
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 256, (4, 3, 128, 1648), dtype=np.uint8)
    image = SQROOT_TABLE[codes]  # linear DN exactly on the table
    assert np.array_equal(compand_sqroot(image), codes)
    assert np.array_equal(decompand(compand_sqroot(image)), image)


def test_compand_error_within_half_step() -> None:
    linear = np.linspace(0, 2879, 20001)
    back = decompand(compand_sqroot(linear))
    code = compand_sqroot(linear).astype(int)
    step = np.diff(SQROOT_TABLE, prepend=0, append=SQROOT_TABLE[-1] + 32)
    half = np.maximum(step[code], step[np.minimum(code + 1, 256)]) / 2
    assert np.all(np.abs(back - linear) <= half + 1e-6)
    assert compand_sqroot(np.array([-5.0, 1e6, np.nan])).tolist() == [0, 255, 0]


def test_linear_modes_and_unknown_mode() -> None:
    codes = np.arange(256, dtype=np.uint8)
    for mode, factor in (("LIN1", 1), ("LIN8", 8), ("LIN16", 16)):
        assert np.array_equal(decompand(codes, mode), codes.astype(np.float32) * factor)
    with pytest.raises(ProductError, match="SAMPLE_BIT_MODE_ID"):
        decompand(codes, "LUT3")


# ---------------------------------------------------------------- writer, zips, PDS3


def test_writer_reproduces_real_json_byte_for_byte(raw_products_dir: Path, tmp_path: Path) -> None:
    folder = raw_products_dir / "JNCE_2022186_43M00081_V01"
    json_path = folder / "13540-Metadata.json"
    real = read_product(folder)
    png_path = write_product(tmp_path, np.asarray(real.framelets), json.loads(json_path.read_text()), image_id=13540)
    assert png_path == tmp_path / "JNCE_2022186_43M00081_V01-raw.png"
    assert (tmp_path / "13540-Metadata.json").read_bytes() == json_path.read_bytes()
    assert np.array_equal(np.asarray(Image.open(png_path)), np.asarray(Image.open(folder / png_path.name)))
    assert not list(tmp_path.glob("*.part"))


def test_write_then_read_synthetic(tmp_path: Path) -> None:
    cube = synthetic_framelets()
    png = write_product(tmp_path, cube, synthetic_metadata())
    assert (tmp_path / "00012-Metadata.json").is_file()
    product = read_product(png)
    assert np.array_equal(product.framelets, cube)
    assert product.target == "IO" and product.perijove == 57
    assert product.exposure_start_utc == ("2023-12-30T08:35:10.000", "2023-12-30T08:35:10.373")


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_website_zips(tmp_path: Path) -> None:
    cube = synthetic_framelets(seed=5)
    src = tmp_path / "src"
    png = write_product(src, cube, synthetic_metadata())
    zips = tmp_path / "zips"
    zips.mkdir()
    _zip(zips / "14001-ImageSet.zip", {png.name: png.read_bytes(), "readme.txt": b"x"})
    _zip(zips / "14001-Data.zip", {"14001-Metadata.json": (src / "00012-Metadata.json").read_bytes()})
    for path in (zips, zips / "14001-ImageSet.zip", zips / "14001-Data.zip"):
        assert np.array_equal(read_product(path).framelets, cube)


def _write_pds3(folder: Path, cube: np.ndarray, meta: dict) -> Path:
    lines = cube.shape[0] * cube.shape[1] * 128
    filters = ", ".join(f'"{f}"' for f in meta["FILTER_NAME"])
    label = f"""PDS_VERSION_ID = PDS3
RECORD_TYPE = FIXED_LENGTH
RECORD_BYTES = 1648
FILE_RECORDS = {lines}
^IMAGE = ("TEST_EDR.IMG", 1)
PRODUCT_ID = "{meta['PRODUCT_ID']}"
TARGET_NAME = "{meta['TARGET_NAME']}"
ORBIT_NUMBER = 57
FILTER_NAME = ({filters})
START_TIME = {meta['START_TIME']}
STOP_TIME = {meta['STOP_TIME']}
SPACECRAFT_CLOCK_START_COUNT = "{meta['SPACECRAFT_CLOCK_START_COUNT']}"
EXPOSURE_DURATION = 3.2 <ms>
INTERFRAME_DELAY = 0.373 <s>
JNO:TDI_STAGES_COUNT = 1
SAMPLE_BIT_MODE_ID = "SQROOT"
OBJECT = IMAGE
  LINES = {lines}
  LINE_SAMPLES = 1648
  SAMPLE_TYPE = UNSIGNED_INTEGER
  SAMPLE_BITS = 8
  SAMPLE_BIT_MASK = 2#11111111#
END_OBJECT = IMAGE
END
"""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "TEST_EDR.LBL").write_text(label.replace("\n", "\r\n"), encoding="ascii")
    cube.reshape(lines, 1648).tofile(folder / "TEST_EDR.IMG")
    return folder / "TEST_EDR.LBL"


def test_pds3_edr_matches_website_form(tmp_path: Path) -> None:
    cube = synthetic_framelets(seed=7)
    meta = synthetic_metadata()
    label = _write_pds3(tmp_path / "pds", cube, meta)
    web = read_product(write_product(tmp_path / "web", cube, meta))
    for path in (label, label.with_suffix(".IMG"), label.parent):
        edr = read_product(path)
        assert np.array_equal(edr.framelets, web.framelets)
        for field in ("product_id", "target", "filters", "companding", "start_time_utc", "tdi_stages", "perijove"):
            assert getattr(edr, field) == getattr(web, field), field
        assert edr.exposure_ms == pytest.approx(3.2) and edr.interframe_delay_s == pytest.approx(0.373)


def test_pds3_truncated_image_is_a_product_error(tmp_path: Path) -> None:
    label = _write_pds3(tmp_path, synthetic_framelets(seed=8), synthetic_metadata())
    img = label.with_suffix(".IMG")
    img.write_bytes(img.read_bytes()[: 1648 * 300])
    with pytest.raises(ProductError, match="TEST_EDR"):
        read_product(label)
