"""Hostile raw products against every verb that reads one (info, calibrate, calibrate
derive-flat, pointing, process, hotspots): malformed, huge and absurd metadata, names that would leave the
output folder, special files and symlinks, zip bombs and zip-slip. Each is refused with exit 2 and
one line, before anything is written; then the same verb succeeds on a good product."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from hostile.conftest import Sandbox, assert_refused, check_outputs, fifo, symlink
from test_ingest import _write_pds3, synthetic_framelets, synthetic_metadata
from test_ingest_errors import GOOD_PNG, JSON_NAME, PNG_NAME, good_metadata, png_bytes, write_pair

PRODUCT_VERBS = ("info", "calibrate", "derive-flat", "pointing", "process", "hotspots")
ZIP_NAMES = ("14001-ImageSet.zip", "14001-Data.zip")


def verb_args(verb: str, product: Path, out: Path, calibration: Path, kernels: Path) -> list:
    """The command line of ``verb`` on ``product`` writing into ``out``."""
    return {
        "info": ["info", product],
        "calibrate": ["calibrate", product, "--calibration", calibration, "--out", out],
        "derive-flat": ["calibrate", "derive-flat", product, "--out", out, "--min-count", "1"],
        "pointing": ["pointing", product, "--kernels", kernels, "--out", out],
        "process": ["process", product, "--kernels", kernels, "--out", out, "--width", "64"],
        "hotspots": ["hotspots", product, "--kernels", kernels, "--out", out],
    }[verb]


def _meta(**changes) -> dict:
    meta = good_metadata()
    for key, value in changes.items():
        key = key.replace("__", ":")
        if value is _DROP:
            meta.pop(key)
        else:
            meta[key] = value
    return meta


_DROP = object()


def _pair(meta: dict | bytes, png: bytes = GOOD_PNG) -> Callable[[Path, Path], Path]:
    return lambda folder, _escape: write_pair(folder, png, meta)


def _pair_with(**changes) -> Callable[[Path, Path], Path]:
    return _pair(_meta(**changes))


def _escape_id(folder: Path, escape: Path) -> Path:
    return write_pair(folder, GOOD_PNG, _meta(PRODUCT_ID=str(escape / "escape_abs")))


def _file_name_traversal(folder: Path, _escape: Path) -> Path:
    write_pair(folder, GOOD_PNG, _meta(FILE_NAME="../../escape-raw.png"))
    return folder / JSON_NAME


def _nested_json(folder: Path, _escape: Path) -> Path:
    text = json.dumps(good_metadata())[:-1] + ', "DEEP": ' + "[" * 40 + "]" * 40 + "}"
    return write_pair(folder, GOOD_PNG, text.encode())


def _digits(count: int) -> Callable[[Path, Path], Path]:
    def build(folder: Path, _escape: Path) -> Path:
        text = json.dumps(good_metadata()).replace('"LINES": 384', '"LINES": ' + "9" * count)
        return write_pair(folder, GOOD_PNG, text.encode())
    return build


def _special(png: str | None = None, meta: str | None = None, argument: str = "folder") -> Callable:
    """A product folder whose PNG and/or JSON is a FIFO, /dev/zero, a folder or a dangling link."""
    def make(path: Path, kind: str, content: bytes) -> None:
        if kind == "fifo":
            fifo(path)
        elif kind == "dev_zero":
            symlink(path, "/dev/zero")
        elif kind == "folder":
            path.mkdir(parents=True)
        elif kind == "dangling":
            symlink(path, path.with_name("nowhere"))
        else:
            path.write_bytes(content)

    def build(folder: Path, _escape: Path) -> Path:
        folder.mkdir(parents=True)
        make(folder / PNG_NAME, png or "file", GOOD_PNG)
        make(folder / JSON_NAME, meta or "file", json.dumps(good_metadata()).encode())
        return {"folder": folder, "png": folder / PNG_NAME, "json": folder / JSON_NAME}[argument]
    return build


def _pds3(edit: Callable[[Path], None]) -> Callable[[Path, Path], Path]:
    def build(folder: Path, _escape: Path) -> Path:
        label = _write_pds3(folder, synthetic_framelets(seed=3)[:1], synthetic_metadata())
        edit(label)
        return label
    return build


def _pointer_traversal(label: Path) -> None:
    label.write_text(label.read_text().replace('"TEST_EDR.IMG"', '"../../TEST_EDR.IMG"'))


def _image_dev_zero(label: Path) -> None:
    label.with_suffix(".IMG").unlink()
    symlink(label.with_suffix(".IMG"), "/dev/zero")


def _zips(image_members: dict, data_members: dict | None = None) -> Callable[[Path, Path], Path]:
    def build(folder: Path, _escape: Path) -> Path:
        folder.mkdir(parents=True)
        data = data_members if data_members is not None else {JSON_NAME: json.dumps(good_metadata()).encode()}
        for name, members in zip(ZIP_NAMES, (image_members, data)):
            with zipfile.ZipFile(folder / name, "w", zipfile.ZIP_DEFLATED) as archive:
                for member, content in members.items():
                    archive.writestr(member, content)
        return folder / ZIP_NAMES[0]
    return build


def _zip_bomb(member: str, size: int, which: int) -> Callable[[Path, Path], Path]:
    """A zip whose one member inflates to ``size`` zero bytes (a few hundred KB compressed)."""
    def build(folder: Path, escape: Path) -> Path:
        path = _zips({PNG_NAME: GOOD_PNG})(folder, escape)
        with zipfile.ZipFile(folder / ZIP_NAMES[which], "w", zipfile.ZIP_DEFLATED) as archive:
            with archive.open(member, "w", force_zip64=True) as stream:
                chunk = bytes(1 << 22)
                for _ in range(size // len(chunk)):
                    stream.write(chunk)
        return path
    return build


def _zip_fifo(folder: Path, escape: Path) -> Path:
    path = _zips({PNG_NAME: GOOD_PNG})(folder, escape)
    path.unlink()
    return fifo(path)


def _corrupt_zip(folder: Path, escape: Path) -> Path:
    path = _zips({PNG_NAME: GOOD_PNG})(folder, escape)
    path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    return path


def _huge_png(folder: Path, _escape: Path) -> Path:
    """100,000 lines of zeros: a small PNG whose header asks for 165 MB of pixels."""
    return write_pair(folder, png_bytes(np.zeros((100_000, 1648), np.uint8)), good_metadata(100_032))


# variant -> (family, builder(folder, escape) -> the path to pass, what the error line must say)
CASES: dict[str, tuple[str, Callable[[Path, Path], Path], str]] = {
    "invalid_json": ("malformed", _pair(b'{"LINES": 384,'), "invalid JSON"),
    "json_array": ("malformed", _pair(b"[1, 2, 3]"), "object"),
    "missing_start_time": ("malformed", _pair_with(START_TIME=_DROP), "START_TIME"),
    "non_utf8": ("malformed", _pair(json.dumps(good_metadata()).encode().replace(b"IO", b"I\xff")), "UTF-8"),
    "nested_40_deep": ("malformed", _nested_json, "nested"),
    "filters_null": ("malformed", _pair_with(FILTER_NAME=None), "FILTER_NAME"),
    "int_5000_digits": ("huge", _digits(5000), "too many digits"),
    "int_4000_digits": ("huge", _digits(4000), "LINES"),
    "json_5_mb": ("huge", _pair_with(PADDING="x" * (5 << 20)), "too large"),
    "product_id_10k_chars": ("huge", _pair_with(PRODUCT_ID="J" * 10_000), "PRODUCT_ID"),
    "clock_100k_chars": ("huge", _pair_with(SPACECRAFT_CLOCK_START_COUNT="1" * 100_000), "CLOCK"),
    "png_100k_lines": ("huge", _huge_png, "lines|pixels"),
    "exposure_1e308_s": ("absurd", _pair_with(EXPOSURE_DURATION="1e308 <s>"), "EXPOSURE_DURATION"),
    "exposure_nan": ("absurd", _pair_with(EXPOSURE_DURATION=float("nan")), "EXPOSURE_DURATION"),
    "tdi_1e300": ("absurd", _pair_with(JNO__TDI_STAGES_COUNT=10**300), "TDI"),
    "tdi_negative": ("absurd", _pair_with(JNO__TDI_STAGES_COUNT=-4), "TDI"),
    "interframe_1e300_s": ("absurd", _pair_with(INTERFRAME_DELAY="1e300 <s>"), "INTERFRAME_DELAY"),
    "interframe_zero": ("absurd", _pair_with(INTERFRAME_DELAY="0 <s>"), "INTERFRAME_DELAY"),
    "start_year_9999": ("absurd", _pair_with(START_TIME="9999-12-30T08:35:10.000"), "START_TIME"),
    "perijove_1e40": ("absurd", _pair_with(PJ=10**40), "PJ"),
    "product_id_dotdot": ("traversal", _pair_with(PRODUCT_ID="../../escape"), "PRODUCT_ID"),
    "product_id_absolute": ("traversal", _escape_id, "PRODUCT_ID"),
    "product_id_subfolder": ("traversal", _pair_with(PRODUCT_ID="sub/escape"), "PRODUCT_ID"),
    "product_id_hidden": ("traversal", _pair_with(PRODUCT_ID=".escape"), "PRODUCT_ID"),
    "product_id_newline": ("traversal", _pair_with(PRODUCT_ID="JNCE\nescape"), "PRODUCT_ID"),
    "product_id_markup": ("traversal", _pair_with(PRODUCT_ID="[/]escape[bold]"), "PRODUCT_ID"),
    "target_dotdot": ("traversal", _pair_with(TARGET_NAME="../../IO"), "TARGET_NAME"),
    "file_name_dotdot": ("traversal", _file_name_traversal, "FILE_NAME"),
    "pds3_pointer_dotdot": ("traversal", _pds3(_pointer_traversal), "IMAGE"),
    "png_dev_zero": ("special_file", _special(png="dev_zero"), "character device"),
    "png_fifo": ("special_file", _special(png="fifo"), "FIFO"),
    "json_fifo": ("special_file", _special(meta="fifo"), "FIFO"),
    "json_dev_zero": ("special_file", _special(meta="dev_zero"), "character device"),
    "argument_fifo": ("special_file", _special(png="fifo", argument="png"), "FIFO"),
    "png_is_folder": ("special_file", _special(png="folder"), "folder"),
    "png_dangling_link": ("special_file", _special(png="dangling"), "cannot read"),
    "pds3_image_dev_zero": ("special_file", _pds3(_image_dev_zero), "character device"),
    "zip_slip_dotdot": ("zip", _zips({"../../evil-raw.png": GOOD_PNG}), "zip-slip"),
    "zip_slip_absolute": ("zip", _zips({"/tmp/evil-raw.png": GOOD_PNG}), "zip-slip"),
    "zip_slip_drive": ("zip", _zips({"C:/evil-raw.png": GOOD_PNG}), "zip-slip"),
    "zip_slip_nested": ("zip", _zips({"a/../../evil-raw.png": GOOD_PNG}), "zip-slip"),
    "zip_unsafe_member": ("zip", _zips({"a;b c-raw.png": GOOD_PNG}), "member"),
    "zip_bomb_png": ("zip", _zip_bomb(PNG_NAME, 140 << 20, 0), "over the"),
    "zip_bomb_json": ("zip", _zip_bomb(JSON_NAME, 8 << 20, 1), "over the"),
    "zip_2000_members": ("zip", _zips({f"{i:05d}.txt": b"" for i in range(2000)}), "members"),
    "zip_corrupt": ("zip", _corrupt_zip, "zip"),
    "zip_fifo": ("zip", _zip_fifo, "FIFO"),
}


@pytest.fixture(scope="module")
def bad_products(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    """Every hostile product, built once (read-only inputs of the cases)."""
    root = tmp_path_factory.mktemp("bad-products")
    escape = root / "escape"
    escape.mkdir()
    return root, {name: build(root / name, escape) for name, (_, build, _) in CASES.items()}


PARAMS = [pytest.param(verb, name, id=f"{CASES[name][0]}:{verb}:{name}") for name in CASES for verb in PRODUCT_VERBS]


@pytest.mark.parametrize(("verb", "name"), PARAMS)
def test_hostile_product_is_refused(verb, name, bad_products, sandbox: Sandbox, cli, empty_calibration):
    root, paths = bad_products
    sandbox.inputs = (root,)
    before = sandbox.snapshot()
    run = cli(verb_args(verb, paths[name], sandbox.out, empty_calibration, sandbox.root / "unused.tm"))
    assert_refused(run, sandbox, before, CASES[name][2])


@pytest.mark.parametrize("verb", ["info", "calibrate", "derive-flat"])
def test_same_verb_succeeds_after_a_refusal(verb, bad_products, good_product, sandbox: Sandbox, cli,
                                            empty_calibration):
    _, paths = bad_products
    kernels = sandbox.root / "unused.tm"
    assert cli(verb_args(verb, paths["product_id_dotdot"], sandbox.out, empty_calibration, kernels)).code == 2
    run = cli(verb_args(verb, good_product, sandbox.out, empty_calibration, kernels))
    assert run.code == 0, run.stderr
    assert verb == "info" or len(check_outputs(sandbox.out, existed_before=True)) >= 2


def test_pointing_and_process_succeed_after_a_refusal(bad_products, twin, sandbox: Sandbox, cli):
    _, paths = bad_products
    for verb in ("process", "pointing"):
        assert cli(verb_args(verb, paths["zip_slip_dotdot"], sandbox.out, sandbox.root, twin.metakernel)).code == 2
        run = cli(verb_args(verb, twin.products[0], sandbox.out, sandbox.root, twin.truth_metakernel))
        assert run.code == 0, run.stderr
    assert {p.suffix for p in check_outputs(sandbox.out, existed_before=True)} == {".tif", ".png", ".bc", ".json"}
