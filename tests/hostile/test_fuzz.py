"""Property-based fuzzing of every reader of untrusted input, beyond the product metadata of
tests/test_ingest_errors.py: label values (website JSON, as values and as bytes), PDS3 labels,
website zips, text kernels and metakernels (checked against what SPICE itself loads), and
damaged binary kernels. Over 10,000 generated cases in all; whatever the input, only an
IoflybyError (one line) escapes, and whatever is accepted is a valid product or kernel set."""

from __future__ import annotations

import io
import json
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import spiceypy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spiceypy.utils.exceptions import SpiceyError

from ioflyby.errors import IoflybyError
from ioflyby.fileio import is_safe_name
from ioflyby.ingest import read_product
from ioflyby.ingest.product import (
    EXPOSURE_RANGE_S,
    INTERFRAME_RANGE_S,
    PERIJOVE_RANGE,
    TDI_RANGE,
    build_product,
)
from ioflyby.simulate import textkernels as tk
from ioflyby.spice import Kernels
from ioflyby.spice.kernelset import metakernel_members
from ioflyby.spice.writers import SpkSegment, write_spk
from test_ingest import _write_pds3, synthetic_metadata
from test_ingest_errors import good_metadata, png_bytes

FUZZ = settings(deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
# Generated cases per reader (over 10,000 in all, with the 1,100 of tests/test_ingest_errors.py besides).
EXAMPLES = {"label_values": 5000, "label_bytes": 1500, "pds3_labels": 500, "website_zips": 600,
            "text_kernels": 1500, "metakernels": 500, "binary_kernels": 500}


def fuzz(reader: str) -> settings:
    return settings(FUZZ, max_examples=EXAMPLES[reader])


ONE_FILTER_IMAGE = np.random.default_rng(1).integers(0, 256, (128, 1648), dtype=np.uint8)
ONE_FILTER_PNG = png_bytes(ONE_FILTER_IMAGE)
HOSTILE_TEXT = st.sampled_from([
    "", " ", "../../x", "/etc/passwd", "a/b", ".hidden", "C:\\x", "x\x00y", "x\ny", "[/]", "IO ", "\u202eOI",
    "9" * 30, "1e308", "-1", "nan", "inf", "0", "2023-12-30T08:35:10.000", "9999-12-30T00:00:00",
    "0.373 <s>", "1e300 <s>", "3.2 <ms>", "-3 <ms>", "5 <parsec>", "<s>", "SQROOT", "LIN", "BLUE",
])
LABEL_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=10**17, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20), HOSTILE_TEXT,
    st.lists(st.one_of(HOSTILE_TEXT, st.integers(-5, 5)), max_size=4),
    st.dictionaries(st.sampled_from(["value", "units", "x"]), st.one_of(HOSTILE_TEXT, st.floats()), max_size=2),
)
KEYS = ["PRODUCT_ID", "TARGET_NAME", "FILTER_NAME", "START_TIME", "STOP_TIME", "EXPOSURE_DURATION",
        "INTERFRAME_DELAY", "JNO:TDI_STAGES_COUNT", "SAMPLE_BIT_MODE_ID", "SPACECRAFT_CLOCK_START_COUNT", "PJ",
        "ORBIT_NUMBER", "LINES", "LINE_SAMPLES", "FILE_NAME"]


def one_filter_metadata() -> dict:
    return {**good_metadata(128), "FILTER_NAME": ["RED"]}


def assert_valid(product) -> None:
    """What an accepted product must be: safe names, physical values, a consistent cube."""
    assert is_safe_name(product.product_id) and is_safe_name(product.target)
    assert EXPOSURE_RANGE_S[0] <= product.exposure_ms / 1e3 <= EXPOSURE_RANGE_S[1]
    assert INTERFRAME_RANGE_S[0] <= product.interframe_delay_s <= INTERFRAME_RANGE_S[1]
    assert TDI_RANGE[0] <= product.tdi_stages <= TDI_RANGE[1]
    assert product.perijove is None or PERIJOVE_RANGE[0] <= product.perijove <= PERIJOVE_RANGE[1]
    assert product.framelets.shape[1:] == (len(product.filters), 128, 1648)
    assert len(product.exposure_start_utc) == product.n_exposures


def only_ioflyby_errors(call) -> object | None:
    try:
        return call()
    except IoflybyError as exc:
        assert "\n" not in str(exc) and str(exc).isprintable()
        return None


# ---------------------------------------------------------------- label values (4,000)


@st.composite
def label_values(draw) -> dict:
    meta = one_filter_metadata()
    for key in draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=4, unique=True)):
        if draw(st.integers(0, 9)) == 0:
            meta.pop(key, None)
        else:
            meta[key] = draw(LABEL_VALUES)
    return meta


@fuzz("label_values")
@given(meta=label_values())
def test_label_values(meta: dict) -> None:
    product = only_ioflyby_errors(lambda: build_product(ONE_FILTER_IMAGE, meta, Path("fuzz"), where="fuzz"))
    if product is not None:
        assert_valid(product)


# ---------------------------------------------------------------- label bytes through the reader (2,000)


@st.composite
def label_bytes(draw) -> bytes:
    meta = one_filter_metadata()
    meta[draw(st.sampled_from(KEYS))] = draw(LABEL_VALUES)
    text = json.dumps(meta, default=str)
    kind = draw(st.sampled_from(["flip", "cut", "splice", "nest", "digits", "as_is"]))
    if kind == "flip":
        data = bytearray(text.encode())
        for _ in range(draw(st.integers(1, 5))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    if kind == "cut":
        return text.encode()[: draw(st.integers(0, len(text)))]
    if kind == "splice":
        return (text[:-1] + f', "X": {draw(st.sampled_from(["NaN", "-Infinity", "1e999", "[" * 50, "{}", "null"]))}}}'
                ).encode()
    if kind == "nest":
        depth = draw(st.integers(1, 3000))
        return (text[:-1] + ', "X": ' + "[" * depth + "]" * depth + "}").encode()
    if kind == "digits":
        return text.replace('"LINES": 128', '"LINES": ' + "1" * draw(st.integers(10, 6000))).encode()
    return text.encode()


@pytest.fixture(scope="module")
def label_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz-labels")
    (folder / "JNCE_2023364_57C00012_V01-raw.png").write_bytes(ONE_FILTER_PNG)
    return folder


@fuzz("label_bytes")
@given(raw=label_bytes())
def test_label_bytes(raw: bytes, label_folder: Path) -> None:
    (label_folder / "00012-Metadata.json").write_bytes(raw)
    product = only_ioflyby_errors(lambda: read_product(label_folder))
    if product is not None:
        assert_valid(product)


# ---------------------------------------------------------------- PDS3 labels (600)


PDS_EDITS = st.sampled_from([
    ('"TEST_EDR.IMG"', '"../../TEST_EDR.IMG"'), ('"TEST_EDR.IMG"', '"/dev/zero"'), ('("TEST_EDR.IMG", 1)', "1"),
    ("LINES = 128", "LINES = 99999999999"), ("LINES = 128", "LINES = -1"), ("LINE_SAMPLES = 1648", "LINE_SAMPLES = 0"),
    ("SAMPLE_BITS = 8", "SAMPLE_BITS = 16"), ("3.2 <ms>", "1e308 <s>"), ("0.373 <s>", "0 <s>"),
    ("JNO:TDI_STAGES_COUNT = 1", "JNO:TDI_STAGES_COUNT = 1000000"), ("END_OBJECT = IMAGE", ""),
    ("OBJECT = IMAGE", "OBJECT = TABLE"), ("ORBIT_NUMBER = 57", "ORBIT_NUMBER = 123456789"),
    ('PRODUCT_ID = "', 'PRODUCT_ID = "../'), ("START_TIME = 2023", "START_TIME = 9999"), ("END\r\n", ""),
    ('TARGET_NAME = "IO"', 'TARGET_NAME = "I/O"'), ("RECORD_BYTES = 1648", "RECORD_BYTES = 1"),
])


@pytest.fixture(scope="module")
def pds3_label(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cube = np.random.default_rng(2).integers(0, 256, (1, 1, 128, 1648), dtype=np.uint8)
    return _write_pds3(tmp_path_factory.mktemp("fuzz-pds3"), cube, synthetic_metadata(filters=("RED",)))


@fuzz("pds3_labels")
@given(edits=st.lists(PDS_EDITS, max_size=3), flips=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)),
                                                              max_size=3))
def test_pds3_labels(edits, flips, pds3_label: Path) -> None:
    original = pds3_label.with_suffix(".orig")
    if not original.exists():
        original.write_bytes(pds3_label.read_bytes())
    text = original.read_text()
    for old, new in edits:
        text = text.replace(old, new)
    data = bytearray(text.encode("latin-1"))
    for position, value in flips:
        data[position % len(data)] = value
    pds3_label.write_bytes(bytes(data))
    product = only_ioflyby_errors(lambda: read_product(pds3_label))
    if product is not None:
        assert_valid(product)


# ---------------------------------------------------------------- website zips (800)


MEMBER_NAMES = st.one_of(
    st.sampled_from(["JNCE_2023364_57C00012_V01-raw.png", "00012-Metadata.json", "../x-raw.png", "/x-raw.png",
                     "a/../../x-raw.png", "C:/x-raw.png", "dir/", "x\x00-raw.png", "a b-raw.png", "-raw.png",
                     "x-Metadata.json", "..-raw.png"]),
    st.text(max_size=12).map(lambda t: t + "-raw.png").filter(lambda name: not name.startswith("\x00")),
)


@fuzz("website_zips")
@given(image_names=st.lists(MEMBER_NAMES, min_size=0, max_size=3), data_names=st.lists(MEMBER_NAMES, max_size=3),
       damage=st.one_of(st.none(), st.tuples(st.integers(0, 5000), st.integers(0, 255))), cut=st.booleans())
def test_website_zips(image_names, data_names, damage, cut, tmp_path_factory) -> None:
    folder = tmp_path_factory.getbasetemp() / f"fuzz-zip-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    meta = json.dumps(one_filter_metadata()).encode()
    for zip_name, names, content in (("14001-ImageSet.zip", image_names, ONE_FILTER_PNG),
                                     ("14001-Data.zip", data_names, meta)):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            for name in names:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # duplicate member names are part of the fuzz
                    archive.writestr(name, content if not name.endswith("/") else b"")
        data = bytearray(buffer.getvalue())
        if damage is not None and data:
            data[damage[0] % len(data)] = damage[1]
        (folder / zip_name).write_bytes(bytes(data[: len(data) // 2] if cut else data))
    product = only_ioflyby_errors(lambda: read_product(folder / "14001-ImageSet.zip"))
    if product is not None:
        assert_valid(product)


# ---------------------------------------------------------------- text kernels and metakernels (2,000 + 800)


@pytest.fixture(scope="module")
def kernel_pieces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real small kernels to list in generated metakernels, and special files to list beside them."""
    folder = tmp_path_factory.mktemp("fuzz-kernels")
    epochs = np.linspace(0.0, 600.0, 20)
    pieces = {
        "lsk": tk.write_lsk(folder / "lsk.tls"),
        "pck": tk.write_pck(folder / "pck.tpc"),
        "spk": write_spk(folder / "small.bsp", [SpkSegment(-61, 501, epochs, np.tile([1e4, 0, 0, 0, 1, 0], (20, 1)))]),
        "fifo": folder / "fifo.bsp",
        "dev_zero": folder / "zero.bsp",
        "passwd": Path("/etc/passwd"),
        "missing": folder / "missing.bsp",
        "folder": folder,
    }
    os.mkfifo(pieces["fifo"])
    pieces["dev_zero"].symlink_to("/dev/zero")
    return pieces


VALUES = st.one_of(st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=False, allow_infinity=False).map(repr),
                   st.sampled_from(["'text'", "'it''s'", "@2023-12-30", "@bad", "1.2.3", "'", "( 1 2", ")", "=",
                                    "'unterminated", "1D5", "-", "+", "'a' 'b'"]))
NAMES = st.sampled_from(["BODY501_RADII", "KERNELS_TO_LOAD", "PATH_VALUES", "PATH_SYMBOLS", "X", "DELTET/DELTA_T_A",
                         "A" * 40, "BAD NAME", ""])


@st.composite
def text_kernels(draw, pieces: dict[str, Path]) -> str:
    lines = [draw(st.sampled_from(["KPL/PCK", "KPL/MK", "", "garbage"]))]
    for _ in range(draw(st.integers(0, 4))):
        lines.append(draw(st.sampled_from(["\\begindata", "\\begintext", "  \\begindata", "text"])))
        operator = draw(st.sampled_from(["=", "+=", " = ", "="]))
        if draw(st.booleans()):
            members = [str(pieces[draw(st.sampled_from(sorted(pieces)))]) for _ in range(draw(st.integers(0, 3)))]
            quoted = " ".join(f"'{m}'" for m in members)
            lines.append(f"KERNELS_TO_LOAD {operator} ( {quoted} )")
        else:
            values = " ".join(draw(st.lists(VALUES, max_size=4)))
            lines.append(f"{draw(NAMES)} {operator} ( {values} )")
    return "\n".join(lines) + "\n"


def _load_or_refuse(path: Path) -> None:
    kernels = only_ioflyby_errors(lambda: Kernels([path]).load())
    if kernels is not None:
        try:
            kernels.report()
        finally:
            kernels.unload()


@fuzz("text_kernels")
@given(data=st.data())
def test_text_kernels(data, kernel_pieces, tmp_path_factory) -> None:
    path = tmp_path_factory.getbasetemp() / f"fuzz-{os.getpid()}.tk"
    path.write_text(data.draw(text_kernels(kernel_pieces)), encoding="latin-1", errors="replace")
    _load_or_refuse(path)


@st.composite
def metakernels(draw, pieces: dict[str, Path]) -> str:
    """A metakernel listing real kernels (directly or through a $SYMBOL, whole or split with '+'
    continuations, several to a line or one per line: lines often pass SPICE's 132 characters)."""
    chosen = draw(st.lists(st.sampled_from(["lsk", "pck", "spk"]), min_size=1, max_size=3, unique=True))
    folder = str(pieces["lsk"].parent)
    entries = []
    for key in chosen:
        full = draw(st.sampled_from([f"{folder}/{pieces[key].name}", f"$K/{pieces[key].name}"]))
        cut = draw(st.integers(1, len(full) - 1))
        parts = [full] if draw(st.booleans()) else [full[:cut] + "+", full[cut:]]
        entries.append(" ".join(f"'{p}'" for p in parts))
    separator = draw(st.sampled_from([" ", "\n", "\n   "]))
    split = draw(st.integers(1, len(entries)))
    blocks = [f"KERNELS_TO_LOAD = ( {separator.join(entries[:split])} )"]
    if split < len(entries):
        blocks.append(f"KERNELS_TO_LOAD += ( {separator.join(entries[split:])} )")
    return ("KPL/MK\n\\begintext\nnotes\n\\begindata\nPATH_SYMBOLS = ( 'K' )\nPATH_VALUES = ( '" + folder
            + "' )\n" + "\n".join(blocks) + "\n\\begintext\n")


@fuzz("metakernels")
@given(data=st.data())
def test_metakernel_parser_sees_every_file_spice_opens(data, kernel_pieces, tmp_path_factory) -> None:
    """The independent truth is SPICE itself: what furnsh opens (before any error it meets) is
    among the files the metakernel pre-check found, and all of them when SPICE loads it cleanly."""
    path = tmp_path_factory.getbasetemp() / f"fuzz-{os.getpid()}.tm"
    path.write_text(data.draw(metakernels(kernel_pieces)))
    predicted = metakernel_members(path)
    before = spiceypy.ktotal("ALL")
    try:
        spiceypy.furnsh(str(path))
        clean = True
    except SpiceyError:
        clean = False
    opened = [spiceypy.kdata(i, "ALL")[0] for i in range(before, spiceypy.ktotal("ALL"))]
    for name in reversed(opened):
        spiceypy.unload(name)
    members = [Path(name) for name in opened if Path(name) != path]
    assert set(members) <= set(predicted)
    assert not clean or members == predicted


# ---------------------------------------------------------------- damaged binary kernels (800)


@fuzz("binary_kernels")
@given(flips=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=6),
       cut=st.one_of(st.none(), st.integers(0, 1 << 16)))
def test_damaged_binary_kernels(flips, cut, kernel_pieces, tmp_path_factory) -> None:
    data = bytearray(kernel_pieces["spk"].read_bytes())
    for position, value in flips:
        data[1024 + position % (len(data) - 1024)] = value  # the file record stays: SPICE reads a DAF
    path = tmp_path_factory.getbasetemp() / f"fuzz-{os.getpid()}.bsp"
    path.write_bytes(bytes(data[:cut] if cut is not None else data))
    _load_or_refuse(path)


def test_the_generated_cases_add_up_to_over_ten_thousand() -> None:
    assert sum(EXAMPLES.values()) >= 10_000
