"""Galileo SSI PDS3 products: the writer's REDRs (detached and attached labels, full frame and
summed) read back exactly through ``read_product`` and ``ioflyby info``; every malformed or
hostile product gives one ProductError line naming the file (exit 2 on the CLI), like JunoCam's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ioflyby.cli.app import main
from ioflyby.errors import ProductError
from ioflyby.ingest import RawProduct, read_product
from ioflyby.ingest.ssi import SsiProduct, is_ssi_product
from ioflyby.ingest.ssi_writer import write_ssi_product

IMAGE_TIME = "1997-02-19T21:07:27.314"
EXPOSURE_MS = 195.83
IMAGE = np.random.default_rng(32).integers(0, 256, (800, 800), dtype=np.uint8)


def _write(folder: Path, image: np.ndarray = IMAGE, **options) -> Path:
    return write_ssi_product(folder, image, image_id="E6I0032", image_time_utc=IMAGE_TIME, exposure_ms=EXPOSURE_MS,
                             filter_name="VIOLET", spacecraft_clock="03836008.26", observation_id="E6ISSRFMON01",
                             orbit="E6", **options)


@pytest.mark.parametrize("attached", [False, True])
@pytest.mark.parametrize("size", [800, 400])
def test_written_products_read_back(tmp_path: Path, attached: bool, size: int) -> None:
    image = IMAGE[:size, :size].copy()
    path = _write(tmp_path, image, attached=attached)
    assert path.suffix == (".IMG" if attached else ".LBL") and is_ssi_product(path)
    targets = [path] if attached else [path, path.with_suffix(".IMG"), tmp_path]
    for target in targets:
        product = read_product(target)
        assert isinstance(product, SsiProduct) and isinstance(product, RawProduct)
        assert product.instrument == "GALILEO_SSI"
        assert np.array_equal(product.image, image) and product.framelets.shape == (1, 1, size, size)
        assert product.summing == 800 // size
        assert (product.product_id, product.target, product.filters) == ("E6I0032", "IO", ("VIOLET",))
        assert product.image_time_utc == IMAGE_TIME and product.exposure_ms == pytest.approx(EXPOSURE_MS)
        # shutter open/close = IMAGE_TIME -/+ half the exposure (0.097915 s)
        assert product.start_time_utc == "1997-02-19T21:07:27.216085"
        assert product.stop_time_utc == "1997-02-19T21:07:27.411915"
        assert product.spacecraft_clock_start == "03836008.26" and product.orbit == "E6"
        assert product.product_type == "REDR" and product.telemetry_format == ("IM8" if size == 800 else "HIS")
        assert product.decompanded().dtype == np.float32 and product.decompanded()[0, 0, 5, 7] == image[5, 7]


def test_label_keywords_are_the_redr_ones(tmp_path: Path) -> None:
    text = _read(_write(tmp_path))
    # keyword names and forms of the GO-J/JSA-SSI-2-REDR-V1.0 labels (e.g. go_0018 .../8600r.lbl)
    for line in ('DATA_SET_ID = "GO-J/JSA-SSI-2-REDR-V1.0"', 'SPACECRAFT_NAME = "GALILEO ORBITER"',
                 'INSTRUMENT_NAME = "SOLID STATE IMAGING SYSTEM"', 'SPACECRAFT_CLOCK_START_COUNT = "03836008.26"',
                 f"IMAGE_TIME = {IMAGE_TIME}Z", 'FILTER_NAME = "VIOLET"', "FILTER_NUMBER = 3",
                 "EXPOSURE_DURATION = 195.83", 'GAIN_MODE_ID = "100K"', "FRAME_DURATION = 8.667",
                 'TELEMETRY_FORMAT_ID = "IM8"', "RECORD_BYTES = 1000", "LINE_PREFIX_BYTES = 200",
                 '^IMAGE = ("E6I0032.IMG",3)'):
        assert line in [entry.strip() for entry in text.splitlines()], line
    assert (tmp_path / "E6I0032.IMG").stat().st_size == 802 * 1000


def test_real_redr_summed_layout_800_with_summation_telemetry(tmp_path: Path) -> None:
    """A REDR of a summation-mode (HIS) image stores 800 x 800 with the data in the first quadrant
    (ISIS gllssi2isis halves such products)."""
    full = np.zeros((800, 800), np.uint8)
    full[:400, :400] = IMAGE[:400, :400]
    label = _write(tmp_path, full)
    _edit(label, 'TELEMETRY_FORMAT_ID = "IM8"', 'TELEMETRY_FORMAT_ID = "HIS"')
    product = read_product(label)
    assert product.summing == 2 and np.array_equal(product.image, IMAGE[:400, :400])


def test_info_describes_an_ssi_product(tmp_path: Path, capsys) -> None:
    label = _write(tmp_path, IMAGE[:400, :400].copy())
    assert _cli(["info", str(label), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["instrument"] == "GALILEO_SSI" and info["target"] == "IO" and info["filter"] == "VIOLET"
    assert info["exposure_ms"] == pytest.approx(EXPOSURE_MS) and info["image_time_utc"] == IMAGE_TIME
    assert (info["lines"], info["samples"], info["summing"]) == (400, 400, 2)
    assert _cli(["info", str(label)]) == 0
    assert "Galileo SSI product E6I0032" in capsys.readouterr().out


def _cli(args: list[str]) -> int | None:
    try:
        main(args)
    except SystemExit as exc:
        return exc.code
    return 0


def _read(path: Path) -> str:
    return path.read_bytes().decode("latin-1")


def _save(path: Path, text: str) -> None:
    path.write_bytes(text.encode("latin-1"))


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = _read(path)
    assert old in text, old
    _save(path, text.replace(old, new, count))


def _drop(key: str):
    return lambda label: _save(label, re.sub(rf"(?m)^{key} = .*\r?\n", "", _read(label)))


def _replace(old: str, new: str):
    return lambda label: _edit(label, old, new)


def _truncate(keep_bytes: int):
    def apply(label: Path) -> None:
        img = label.with_suffix(".IMG")
        img.write_bytes(img.read_bytes()[:keep_bytes])
    return apply


CASES = {
    "truncated_img": (_truncate(2000 + 300 * 1000), "truncated"),
    "empty_img": (_truncate(0), "truncated"),
    "missing_img": (lambda label: label.with_suffix(".IMG").unlink(), "missing"),
    "wrong_size": (_replace("LINES = 800", "LINES = 640"), "800 × 800"),
    "wrong_width": (_replace("LINE_SAMPLES = 800", "LINE_SAMPLES = 1648"), "800 × 800"),
    "no_image_object": (lambda label: _save(label, re.sub(r"OBJECT = IMAGE\r\n(.*\r\n)*?END_OBJECT = IMAGE\r\n",
                                                          "", _read(label))), "IMAGE object"),
    "missing_image_time": (_drop("IMAGE_TIME"), "IMAGE_TIME"),
    "missing_exposure": (_drop("EXPOSURE_DURATION"), "EXPOSURE_DURATION"),
    "missing_filter": (_drop("FILTER_NAME"), "FILTER_NAME"),
    "missing_target": (_drop("TARGET_NAME"), "TARGET_NAME"),
    "unknown_filter": (_replace('FILTER_NAME = "VIOLET"', 'FILTER_NAME = "METHANE"'), "unknown filter"),
    "absurd_exposure": (_replace("EXPOSURE_DURATION = 195.83", "EXPOSURE_DURATION = 1e308"), "EXPOSURE_DURATION"),
    "negative_exposure": (_replace("EXPOSURE_DURATION = 195.83", "EXPOSURE_DURATION = -5"), "EXPOSURE_DURATION"),
    "exposure_unit": (_replace("EXPOSURE_DURATION = 195.83", "EXPOSURE_DURATION = 195.83 <PARSEC>"),
                      "EXPOSURE_DURATION"),
    "absurd_frame_duration": (_replace("FRAME_DURATION = 8.667", "FRAME_DURATION = 1e9"), "FRAME_DURATION"),
    "year_9999": (_replace(f"IMAGE_TIME = {IMAGE_TIME}Z", "IMAGE_TIME = 9999-02-19T21:07:27.314Z"), "IMAGE_TIME"),
    "bad_time": (_replace(f"IMAGE_TIME = {IMAGE_TIME}Z", 'IMAGE_TIME = "yesterday"'), "IMAGE_TIME"),
    "sample_bits_32": (_replace("SAMPLE_BITS = 8", "SAMPLE_BITS = 32"), "SAMPLE_BITS"),
    "huge_prefix": (_replace("LINE_PREFIX_BYTES = 200", "LINE_PREFIX_BYTES = 99999999"), "LINE_PREFIX_BYTES"),
    "huge_record": (_replace('^IMAGE = ("E6I0032.IMG",3)', '^IMAGE = ("E6I0032.IMG",999999999)'), "record"),
    "traversal_pointer": (_replace('^IMAGE = ("E6I0032.IMG",3)', '^IMAGE = ("../../E6I0032.IMG",3)'), "\\^IMAGE"),
    "absolute_pointer": (_replace('^IMAGE = ("E6I0032.IMG",3)', '^IMAGE = ("/etc/passwd",3)'), "\\^IMAGE"),
    "traversal_image_id": (_replace('IMAGE_ID = "E6I0032"', 'IMAGE_ID = "../../x"'), "IMAGE_ID"),
    "target_path": (_replace('TARGET_NAME = "IO"', 'TARGET_NAME = "../IO"'), "TARGET_NAME"),
    "clock_too_long": (_replace('"03836008.26"', '"' + "9" * 200 + '"'), "SPACECRAFT_CLOCK_START_COUNT"),
    "control_chars": (_replace('TARGET_NAME = "IO"', 'TARGET_NAME = "I\x1bO"'), "TARGET_NAME"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_product_one_error_line(tmp_path: Path, case: str, capsys) -> None:
    label = _write(tmp_path / case)
    spoil, match = CASES[case]
    spoil(label)
    with pytest.raises(ProductError, match=match) as info:
        read_product(label)
    message = str(info.value)
    assert "\n" not in message and "E6I0032" in message
    assert _cli(["info", str(label)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1


def test_truncated_attached_product(tmp_path: Path) -> None:
    path = _write(tmp_path, attached=True)
    path.write_bytes(path.read_bytes()[:-5000])
    with pytest.raises(ProductError, match="truncated"):
        read_product(path)


def test_isis_cube_label_is_refused_in_one_line(kernel_dir: Path, tmp_path: Path) -> None:
    isis = kernel_dir / "galileo_1997_io_slices" / "E6I0032_isis3.lbl"
    if not isis.is_file():
        pytest.skip(f"{isis} is absent")
    assert is_ssi_product(isis)
    with pytest.raises(ProductError, match="ISIS cube label") as info:
        read_product(isis)
    assert "\n" not in str(info.value) and "E6I0032_isis3.lbl" in str(info.value)


def test_a_junocam_label_is_not_taken_for_ssi(tmp_path: Path) -> None:
    from test_ingest import _write_pds3, synthetic_framelets, synthetic_metadata

    label = _write_pds3(tmp_path, synthetic_framelets(seed=3), synthetic_metadata())
    assert not is_ssi_product(label) and not is_ssi_product(label.with_suffix(".IMG"))
    assert type(read_product(label)) is RawProduct


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_nothing_but_product_errors_escape(tmp_path_factory, data) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    label = _write(folder, IMAGE[:400, :400].copy())
    text = label.read_bytes()
    start = data.draw(st.integers(0, len(text) - 1))
    length = data.draw(st.integers(1, 40))
    junk = data.draw(st.binary(min_size=0, max_size=40))
    label.write_bytes(text[:start] + junk + text[start + length:])
    try:
        product = read_product(label)
    except ProductError as exc:
        assert "\n" not in str(exc)
    else:
        assert product.image.shape in ((800, 800), (400, 400))
