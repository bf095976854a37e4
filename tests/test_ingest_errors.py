"""Bad input: every malformed product gives one ProductError line naming the file, exit 2 on the
CLI, nothing written; and a property test over >= 1,000 generated malformed products."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import synthetic_label
from ioflyby.cli.app import main
from ioflyby.errors import IoflybyError, ProductError
from ioflyby.ingest import read_product

PRODUCT_ID = "JNCE_2023364_57C00012_V01"
PNG_NAME = f"{PRODUCT_ID}-raw.png"
JSON_NAME = "00012-Metadata.json"


def good_metadata(lines: int = 384) -> dict:
    return {
        **synthetic_label(PRODUCT_ID, stop_time="2023-12-30T08:35:10.373"),
        "FILE_NAME": PNG_NAME,
        "LINES": lines,
        "LINE_SAMPLES": 1648,
    }


def png_bytes(array: np.ndarray, mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buffer, format="PNG")
    return buffer.getvalue()


GOOD_PNG = png_bytes(np.random.default_rng(0).integers(0, 256, (384, 1648), dtype=np.uint8))


def write_pair(folder: Path, png: bytes, meta: dict | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PNG_NAME).write_bytes(png)
    raw = meta if isinstance(meta, bytes) else json.dumps(meta).encode()
    (folder / JSON_NAME).write_bytes(raw)
    return folder


def assert_one_line_error(folder_or_file: Path, match: str, capsys) -> None:
    with pytest.raises(ProductError, match=match) as info:
        read_product(folder_or_file)
    message = str(info.value)
    assert "\n" not in message
    folder = folder_or_file if folder_or_file.is_dir() else folder_or_file.parent
    assert any(name in message for name in [p.name for p in folder.iterdir()] + [str(folder)])
    out_dir = folder_or_file.parent / "cli_out"
    with pytest.raises(SystemExit) as exit_info:
        main(["calibrate", str(folder_or_file), "--calibration", str(folder_or_file.parent), "--out", str(out_dir)])
    assert exit_info.value.code == 2
    assert not out_dir.exists()
    err = capsys.readouterr().err
    assert err.startswith("error:") and match.split("|")[0].lower()[:6] in err.lower()


def test_good_pair_reads(tmp_path: Path) -> None:
    assert read_product(write_pair(tmp_path / "p", GOOD_PNG, good_metadata())).n_exposures == 1


CASES = {
    "truncated_png": (GOOD_PNG[: len(GOOD_PNG) // 2], good_metadata(), "truncated|corrupt|readable"),
    "corrupt_png": (GOOD_PNG[:100] + b"\x00" * 50 + GOOD_PNG[150:], good_metadata(), "truncated|corrupt|readable"),
    "not_png": (b"GIF89a" + b"\x00" * 100, good_metadata(), "readable PNG"),
    "width": (png_bytes(np.zeros((384, 1600), np.uint8)), good_metadata(), "1648"),
    "rgb_png": (png_bytes(np.zeros((384, 1648, 3), np.uint8), "RGB"), good_metadata(), "mode"),
    "lines_not_multiple": (png_bytes(np.zeros((400, 1648), np.uint8)), good_metadata(400), "multiple of 128"),
    "lines_disagree": (GOOD_PNG, good_metadata(768), "768"),
    "missing_key": (GOOD_PNG, {k: v for k, v in good_metadata().items() if k != "START_TIME"}, "START_TIME"),
    "mistyped_lines": (GOOD_PNG, {**good_metadata(), "LINES": "many"}, "LINES"),
    "mistyped_filters": (GOOD_PNG, {**good_metadata(), "FILTER_NAME": 3}, "FILTER_NAME"),
    "bad_delay_unit": (GOOD_PNG, {**good_metadata(), "INTERFRAME_DELAY": "0.373 <parsec>"}, "INTERFRAME_DELAY"),
    "negative_exposure": (GOOD_PNG, {**good_metadata(), "EXPOSURE_DURATION": "-3 <ms>"}, "EXPOSURE_DURATION"),
    "bad_time": (GOOD_PNG, {**good_metadata(), "START_TIME": "yesterday"}, "START_TIME"),
    "unknown_filter": (GOOD_PNG, {**good_metadata(), "FILTER_NAME": ["BLUE", "GREEN", "INFRARED"]}, "unknown filter"),
    "unknown_mode": (GOOD_PNG, {**good_metadata(), "SAMPLE_BIT_MODE_ID": "LUT7"}, "SAMPLE_BIT_MODE_ID"),
    "non_utf8_json": (GOOD_PNG, json.dumps(good_metadata()).encode().replace(b"IO", b"I\xff\xfe"), "UTF-8"),
    "invalid_json": (GOOD_PNG, b'{"LINES": 384,', "invalid JSON"),
    "json_array": (GOOD_PNG, b"[1, 2, 3]", "object"),
    "absurd_exposure": (GOOD_PNG, {**good_metadata(), "EXPOSURE_DURATION": "1e308 <s>"}, "EXPOSURE_DURATION"),
    "absurd_tdi": (GOOD_PNG, {**good_metadata(), "JNO:TDI_STAGES_COUNT": 10**300}, "TDI"),
    "year_9999": (GOOD_PNG, {**good_metadata(), "START_TIME": "9999-12-30T08:35:10.000"}, "START_TIME"),
    "int_too_long": (GOOD_PNG, json.dumps(good_metadata()).replace('"LINES": 384', '"LINES": ' + "9" * 5000).encode(),
                     "too many digits"),
    "traversal_product_id": (GOOD_PNG, {**good_metadata(), "PRODUCT_ID": "../../x"}, "PRODUCT_ID"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_product_one_error_line(tmp_path: Path, case: str, capsys) -> None:
    png, meta, match = CASES[case]
    assert_one_line_error(write_pair(tmp_path / case, png, meta), match, capsys)


def test_hundred_thousand_line_png_is_refused_before_decoding(tmp_path: Path, capsys) -> None:
    # 100,000 x 1648 zeros compress to a small PNG; the reader must refuse it from the header
    huge = png_bytes(np.zeros((100_000, 1648), np.uint8))
    folder = write_pair(tmp_path / "huge", huge, good_metadata(100_032))
    import tracemalloc

    tracemalloc.start()
    with pytest.raises(ProductError, match="lines|pixels"):
        read_product(folder)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 60e6  # never decoded the 165 MB of pixels
    assert_one_line_error(folder, "lines|pixels", capsys)


def _zips(folder: Path, image_members: dict[str, bytes], data_members: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, members in (("14001-ImageSet.zip", image_members), ("14001-Data.zip", data_members)):
        with zipfile.ZipFile(folder / name, "w") as archive:
            for member, data in members.items():
                archive.writestr(member, data)
    return folder / "14001-ImageSet.zip"


def test_zip_without_expected_members(tmp_path: Path, capsys) -> None:
    path = _zips(tmp_path / "z1", {"something.png": GOOD_PNG}, {JSON_NAME: json.dumps(good_metadata()).encode()})
    assert_one_line_error(path, "no member", capsys)
    path = _zips(tmp_path / "z2", {PNG_NAME: GOOD_PNG}, {"notes.txt": b"hello"})
    assert_one_line_error(path, "no member", capsys)


@pytest.mark.parametrize("evil", ["../../evil-raw.png", "/tmp/evil-raw.png", "C:/evil-raw.png", "a/../../x-raw.png"])
def test_zip_slip_rejected_and_nothing_extracted(tmp_path: Path, evil: str, capsys) -> None:
    path = _zips(tmp_path / "z", {evil: GOOD_PNG}, {JSON_NAME: json.dumps(good_metadata()).encode()})
    assert_one_line_error(path, "zip-slip", capsys)
    assert not (tmp_path / "evil-raw.png").exists()


def test_corrupt_zip(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "z"
    folder.mkdir()
    (folder / "14001-ImageSet.zip").write_bytes(b"PK\x03\x04 this is not a zip")
    (folder / "14001-Data.zip").write_bytes(b"nope")
    assert_one_line_error(folder / "14001-ImageSet.zip", "zip", capsys)


def test_missing_partner_zip(tmp_path: Path) -> None:
    folder = tmp_path / "z"
    folder.mkdir()
    (folder / "14001-ImageSet.zip").write_bytes(b"")
    with pytest.raises(ProductError, match="14001-Data.zip"):
        read_product(folder / "14001-ImageSet.zip")


# ---------------------------------------------------------------- property-based


JSON_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True), st.text(max_size=12),
    st.lists(st.text(max_size=8), max_size=4), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@st.composite
def malformed_products(draw) -> tuple[bytes, bytes, str]:
    meta = good_metadata()
    png = GOOD_PNG
    kind = draw(st.sampled_from(["drop_key", "retype_key", "png_bytes", "lines", "filters", "json_bytes", "duration"]))
    keys = sorted(meta)
    if kind == "drop_key":
        for key in draw(st.lists(st.sampled_from(keys), min_size=1, max_size=4, unique=True)):
            meta.pop(key)
    elif kind == "retype_key":
        meta[draw(st.sampled_from(keys))] = draw(JSON_VALUES)
    elif kind == "png_bytes":
        data = bytearray(png)
        cut = draw(st.integers(0, len(data)))
        for _ in range(draw(st.integers(1, 8))):
            position = draw(st.integers(0, len(data) - 1))
            data[position] = draw(st.integers(0, 255))
        png = bytes(data[:cut]) if draw(st.booleans()) else bytes(data)
    elif kind == "lines":
        meta["LINES"] = draw(st.integers(-5, 5000))
    elif kind == "filters":
        meta["FILTER_NAME"] = draw(st.lists(st.sampled_from(["BLUE", "GREEN", "RED", "METHANE", "UV", "", "blue"]), max_size=5))
    elif kind == "duration":
        key = draw(st.sampled_from(["EXPOSURE_DURATION", "INTERFRAME_DELAY"]))
        meta[key] = draw(st.one_of(st.text(max_size=15), st.floats(allow_nan=True), st.integers(-3, 3)))
    raw_json = json.dumps(meta).encode()
    if kind == "json_bytes":
        data = bytearray(raw_json)
        for _ in range(draw(st.integers(1, 6))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        raw_json = bytes(data)
    return png, raw_json, kind


@settings(max_examples=1100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=malformed_products())
def test_nothing_but_product_errors_escape(case: tuple[bytes, bytes, str]) -> None:
    png, raw_json, _kind = case
    folder = Path(tempfile.mkdtemp(prefix="ioflyby-fuzz-"))
    try:
        write_pair(folder, png, raw_json)
        try:
            product = read_product(folder)
        except IoflybyError as exc:
            assert "\n" not in str(exc)
            return
        # whatever was accepted must be a consistent product
        assert product.framelets.shape[1:] == (len(product.filters), 128, 1648)
        assert product.framelets.shape[0] * len(product.filters) * 128 == 384
        assert product.exposure_ms > 0 and product.interframe_delay_s > 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)
