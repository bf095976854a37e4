"""Galileo SSI PDS3 products (EDR and REDR, full-frame 800 × 800 and summed 400 × 400), read
with ``pdr`` into :class:`SsiProduct`, a single-exposure framing :class:`RawProduct`.

Accepted layouts (every problem raises a one-line ProductError naming the file):

- a detached label ``.LBL`` (or its ``.IMG``), as on the Galileo REDR volumes GO_0002–GO_0023:
  ``^IMAGE = ("NNNNR.IMG", record)`` with the image header, tables and line prefixes around it;
- an attached label at the start of the ``.IMG`` (``^IMAGE = record``).

Label keywords used (Galileo SSI REDR SIS 232-16, H. Mortensen 1997, PDS volume
``go_00xx/document/cdvolsis.htm``; the same names in every REDR label): INSTRUMENT_NAME or
INSTRUMENT_ID (which camera), IMAGE_TIME (UTC, the exposure's time tag; START_TIME where a label
has no IMAGE_TIME), SPACECRAFT_CLOCK_START_COUNT (RIM.MOD91), EXPOSURE_DURATION (ms unless a unit
says otherwise), FILTER_NAME, TARGET_NAME, GAIN_MODE_ID, FRAME_DURATION (s), TELEMETRY_FORMAT_ID,
IMAGE_ID / PRODUCT_ID, DATA_SET_ID, and the IMAGE object (LINES, LINE_SAMPLES, SAMPLE_BITS,
LINE_PREFIX_BYTES).

Summation mode: a 400 × 400 IMAGE is summed; an 800 × 800 IMAGE whose TELEMETRY_FORMAT_ID is a
summation format (HIS, AI8) holds the summed image in its first 400 lines and samples (ISIS
``gllssi2isis`` halves the dimensions of such products); without TELEMETRY_FORMAT_ID, ISIS's
FRAME_DURATION rule decides (2–3 s or 15–16 s: summed).

Times: the label's IMAGE_TIME is the middle of the exposure (see :mod:`ioflyby.camera.ssi`); the
product's ``start_time_utc`` is the shutter opening (IMAGE_TIME - EXPOSURE_DURATION/2) and
``stop_time_utc`` its closing, so ``camera.framelet_mid_et`` gives IMAGE_TIME back.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ioflyby.camera.ssi import FILTERS, FULL_FRAME_LINES, FULL_FRAME_SAMPLES
from ioflyby.errors import ProductError
from ioflyby.fileio import check_name, check_regular_file, read_regular_file, shown
from ioflyby.ingest.pds3 import detached_label, read_pds3_image
from ioflyby.ingest.product import (
    MAX_CLOCK_CHARS,
    RawProduct,
    format_utc,
    freeze,
    parse_duration_s,
    parse_utc,
)

INSTRUMENT = "GALILEO_SSI"
MAX_LABEL_BYTES = 1024 * 1024
"""Largest detached label (real ones are ~10 KB)."""
MAX_SSI_IMAGE_BYTES = 64 * 1024 * 1024
"""Largest image file (a full-frame 16-bit REDR with headers is under 2 MB)."""
SNIFF_BYTES = 64 * 1024
"""How much of a file is read to decide whether it is an SSI product."""
EXPOSURE_RANGE_S = (0.0, 60.0)
"""SSI exposures run from 0 (zero-exposure frames) to 51.2 s; longer is a corrupt label."""
FRAME_DURATION_RANGE_S = (0.1, 120.0)
SUMMED_TELEMETRY_FORMATS = ("HIS", "AI8")
"""TELEMETRY_FORMAT_IDs of 2 × 2 summation-mode images (Phase 2)."""
SUMMED_FRAME_DURATIONS_S = ((2.0, 3.0), (15.0, 16.0))
"""FRAME_DURATION ranges that mean summation mode when TELEMETRY_FORMAT_ID is absent (ISIS gllssi2isis)."""
_INSTRUMENT_LINE = re.compile(
    rb"^\s*INSTRUMENT_?(?:NAME|ID)\s*=\s*\"?\s*(SOLID[ _]STATE[ _]IMAGING(?:[ _]SYSTEM)?|SSI)\s*\"?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_ISIS_CUBE = re.compile(rb"^\s*Object\s*=\s*IsisCube\s*$", re.IGNORECASE | re.MULTILINE)
_TARGET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,39}$")
_SAMPLE_DTYPES = {8: "u1", 16: "u2"}


@dataclass(frozen=True, eq=False)
class SsiProduct(RawProduct):
    """One Galileo SSI image: a :class:`RawProduct` with one exposure and one filter.

    ``framelets`` is ``[1, 1, lines, samples]`` of stored DN (800 × 800, or 400 × 400 summed;
    uint8, uint16 for 16-bit EDRs); SSI DN are linear (``companding`` "LIN1", ``tdi_stages`` 1);
    ``interframe_delay_s`` is FRAME_DURATION (the camera's frame cycle); ``start_time_utc`` and
    ``stop_time_utc`` are shutter open and close around ``image_time_utc`` (IMAGE_TIME).
    """

    instrument: ClassVar[str] = INSTRUMENT
    image_time_utc: str = ""
    summing: int = 1
    gain_mode: str = ""
    telemetry_format: str = ""
    data_set_id: str = ""
    product_type: str = ""
    orbit: str = ""

    @property
    def image(self) -> np.ndarray:
        """The image, ``[lines, samples]`` stored DN (read-only)."""
        return self.framelets[0, 0]

    @property
    def exposure_s(self) -> float:
        """EXPOSURE_DURATION, s."""
        return self.exposure_ms * 1e-3

    def decompanded(self) -> np.ndarray:
        """Linear DN as float32, same shape as ``framelets`` (SSI stores DN linearly)."""
        return self.framelets.astype(np.float32)

    def describe(self) -> dict[str, Any]:
        """What ``ioflyby info`` prints (JSON-ready; times UTC ISO, durations in the key's unit)."""
        lines, samples = self.image.shape
        return {
            "instrument": self.instrument,
            "product_id": self.product_id,
            "product_type": self.product_type or None,
            "data_set_id": self.data_set_id or None,
            "target": self.target,
            "orbit": self.orbit or None,
            "filter": self.filters[0],
            "image_time_utc": self.image_time_utc,
            "shutter_open_utc": self.start_time_utc,
            "shutter_close_utc": self.stop_time_utc,
            "exposure_ms": self.exposure_ms,
            "spacecraft_clock_start": self.spacecraft_clock_start,
            "lines": lines,
            "samples": samples,
            "summing": self.summing,
            "gain_mode": self.gain_mode or None,
            "telemetry_format": self.telemetry_format or None,
            "frame_duration_s": self.interframe_delay_s or None,
            "sample_bits": int(self.image.dtype.itemsize * 8),
            "source": str(self.source),
        }


# ---------------------------------------------------------------- recognising an SSI product


def _head(path: Path, size: int) -> bytes:
    """The first ``size`` bytes of a regular file (b"" for anything else: never raises)."""
    try:
        check_regular_file(path, MAX_SSI_IMAGE_BYTES, ProductError, "a product file")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except (ProductError, OSError):
        return b""
    try:
        return os.read(fd, size)
    except OSError:
        return b""
    finally:
        os.close(fd)


def _label_text(head: bytes) -> bytes:
    """The PDS3 label part of ``head``: everything up to the END statement."""
    match = re.search(rb"^\s*END\s*$", head, re.MULTILINE)
    return head[: match.start()] if match else head


def is_ssi_product(path: str | Path) -> bool:
    """Whether ``path`` (a .LBL, or a .IMG with a label beside it or attached) is a Galileo SSI
    product: its label's INSTRUMENT_NAME / INSTRUMENT_ID (ISIS: InstrumentId) names SSI. Never raises."""
    path = Path(path)
    label = detached_label(path)
    head = _head(label if label is not None else path, SNIFF_BYTES)
    return bool(_INSTRUMENT_LINE.search(_label_text(head)))


# ---------------------------------------------------------------- reading


def _image_file(label: Path, pointer: Any, where: str) -> tuple[Path, int]:
    """(file holding the image, its first record) from the ^IMAGE pointer: ``("NAME", record)``,
    ``"NAME"`` (record 1) or a record number in the label's own file."""
    if isinstance(pointer, bool):
        raise ProductError(f"{where}: ^IMAGE = {shown(pointer)} is not a file name or record number")
    if isinstance(pointer, int):
        return label, pointer
    if isinstance(pointer, Mapping) and "value" in pointer:  # (n <BYTES>) is not used by SSI labels
        raise ProductError(f"{where}: ^IMAGE = {shown(pointer)}: a byte offset; SSI labels give records")
    name, record = pointer, 1
    if isinstance(pointer, (list, tuple)) and len(pointer) == 2:
        name, record = pointer
    if not isinstance(name, str) or isinstance(record, bool) or not isinstance(record, int):
        raise ProductError(f"{where}: ^IMAGE = {shown(pointer)} is not (\"FILE.IMG\", record)")
    check_name(name, f"{where}: ^IMAGE", ProductError)
    matches = [p for p in label.parent.iterdir() if p.name.lower() == name.lower()]
    if not matches:
        raise ProductError(f"{where}: its image file {name} (^IMAGE) is missing beside it")
    return matches[0], record


def _require_layout(image_meta: Mapping[str, Any], metadata: Mapping[str, Any], label: Path, where: str) -> None:
    """Check the IMAGE object and the file size it implies (before pdr decodes it)."""
    lines, samples = image_meta.get("LINES"), image_meta.get("LINE_SAMPLES")
    if (lines, samples) not in ((FULL_FRAME_LINES, FULL_FRAME_SAMPLES), (FULL_FRAME_LINES // 2, FULL_FRAME_SAMPLES // 2)):
        raise ProductError(f"{where}: IMAGE is {shown(samples)} × {shown(lines)} (samples × lines); Galileo SSI "
                           "images are 800 × 800 or 400 × 400 (summation mode)")
    bits = image_meta.get("SAMPLE_BITS")
    if bits not in _SAMPLE_DTYPES or isinstance(bits, bool):
        raise ProductError(f"{where}: IMAGE SAMPLE_BITS = {shown(bits)}; SSI products hold 8- or 16-bit samples")
    prefix = image_meta.get("LINE_PREFIX_BYTES", 0)
    record_bytes = metadata.get("RECORD_BYTES")
    if not isinstance(prefix, int) or isinstance(prefix, bool) or not 0 <= prefix <= 4096:
        raise ProductError(f"{where}: IMAGE LINE_PREFIX_BYTES = {shown(prefix)} must be 0 to 4096")
    if not isinstance(record_bytes, int) or isinstance(record_bytes, bool) or not 0 < record_bytes <= 65536:
        raise ProductError(f"{where}: RECORD_BYTES = {shown(record_bytes)} must be 1 to 65536")
    image_file, record = _image_file(label, metadata.get("^IMAGE"), where)
    if not 1 <= record <= 10_000:
        raise ProductError(f"{where}: ^IMAGE record {record} must be 1 to 10000")
    check_regular_file(image_file, MAX_SSI_IMAGE_BYTES, ProductError, "an SSI image file")
    needed = (record - 1) * record_bytes + lines * (prefix + samples * bits // 8)
    size = image_file.stat().st_size
    if size < needed:
        raise ProductError(f"{where}: {image_file.name} holds {size:,} bytes but the label's IMAGE needs {needed:,}: "
                           "the file is truncated (download it again)")


def read_ssi_product(path: str | Path) -> SsiProduct:
    """Read a Galileo SSI PDS3 product (its .LBL, its .IMG, or an attached-label .IMG)."""
    path = Path(path)
    label = detached_label(path) or path
    where = str(label)
    limit = MAX_LABEL_BYTES if label.suffix.lower() == ".lbl" else MAX_SSI_IMAGE_BYTES
    head = read_regular_file(label, limit, ProductError, "a Galileo SSI label")[:SNIFF_BYTES]  # pdr reads it again
    if _ISIS_CUBE.search(head):
        raise ProductError(f"{where}: an ISIS cube label, not a PDS3 product; give the SSI EDR/REDR (.LBL and .IMG "
                           "from the Galileo PDS volumes)")

    def check(image_meta: Mapping[str, Any], label_keys: Mapping[str, Any]) -> None:
        _require_layout(image_meta, label_keys, label, where)

    metadata, image_keys, image = read_pds3_image(label, where, "the SSI product", check)
    bits = image_keys["SAMPLE_BITS"]
    expected = (image_keys["LINES"], image_keys["LINE_SAMPLES"])
    if image.shape != expected or image.dtype.kind not in "ui":
        raise ProductError(f"{where}: IMAGE decoded to {image.dtype} {image.shape}, expected {expected} "
                           f"{bits}-bit samples: the file is truncated or its label is wrong")
    metadata["IMAGE"] = image_keys
    for key in ("LINES", "LINE_SAMPLES", "SAMPLE_BITS", "SAMPLE_TYPE"):
        metadata.setdefault(key, image_keys.get(key))
    return build_ssi_product(image.astype(_SAMPLE_DTYPES[bits], copy=False), metadata, label.parent, where)


# ---------------------------------------------------------------- label values


def _text(metadata: Mapping[str, Any], key: str, where: str, default: str = "") -> str:
    """Optional short string value (numbers are shown as text)."""
    value = metadata.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ProductError(f"{where}: {key} = {shown(value)} must be a short text value")
    text = str(value).strip()
    if len(text) > 64 or not text.isprintable():
        raise ProductError(f"{where}: {key} = {shown(value)} must be at most 64 printable characters")
    return text


def _seconds(value: Any, key: str, default_unit: str, where: str, valid: tuple[float, float]) -> float:
    """A duration in seconds; ``0`` is allowed when ``valid`` starts at 0 (zero-exposure frames)."""
    if isinstance(value, Mapping) and isinstance(value.get("units"), str):
        unit = value["units"].strip().lower()
        value = {"value": value.get("value"), "units": {"seconds": "s", "milliseconds": "ms"}.get(unit, unit)}
    number = value.get("value") if isinstance(value, Mapping) else value
    if valid[0] == 0.0 and not isinstance(number, bool) and isinstance(number, (int, float)) and number == 0:
        return 0.0
    return parse_duration_s(value, key=key, default_unit=default_unit, where=where, valid_s=valid)


def _clock(metadata: Mapping[str, Any], where: str) -> str:
    """SPACECRAFT_CLOCK_START_COUNT as text (RIM.MOD91, e.g. 03836008.26)."""
    value = metadata.get("SPACECRAFT_CLOCK_START_COUNT", "")
    if isinstance(value, float) and math.isfinite(value) and 0 <= value < 1e9:
        value = f"{value:011.2f}"  # an unquoted count parsed as a number: restore its zero padding
    if not isinstance(value, str) or len(value) > MAX_CLOCK_CHARS or not value.isprintable():
        raise ProductError(f"{where}: SPACECRAFT_CLOCK_START_COUNT = {shown(value)} must be a short string "
                           f"(at most {MAX_CLOCK_CHARS} printable characters)")
    return value.strip()


def _summing(lines: int, telemetry: str, frame_duration_s: float | None) -> int:
    if lines == FULL_FRAME_LINES // 2:
        return 2
    if telemetry:
        return 2 if telemetry.upper() in SUMMED_TELEMETRY_FORMATS else 1
    if frame_duration_s is not None and any(lo < frame_duration_s < hi for lo, hi in SUMMED_FRAME_DURATIONS_S):
        return 2
    return 1


def _image_time(metadata: Mapping[str, Any], where: str) -> tuple[str, str]:
    """(key used, value): IMAGE_TIME, else START_TIME when it is a time."""
    for key in ("IMAGE_TIME", "START_TIME"):
        value = metadata.get(key)
        if isinstance(value, str) and value.strip().upper() not in ("", "N/A", "UNK", "NULL"):
            return key, value.strip()
    raise ProductError(f"{where}: required key IMAGE_TIME is missing (the image's UTC time tag)")


def build_ssi_product(image: np.ndarray, metadata: Mapping[str, Any], source: Path, where: str) -> SsiProduct:
    """Validate ``metadata`` against the decoded ``image`` (lines × samples) and build an SsiProduct.

    ``where`` names the file(s) in every error message."""
    if image.ndim != 2:
        raise ProductError(f"{where}: image has {image.ndim} dimensions; SSI images are 2-D")
    lines, samples = image.shape
    telemetry = _text(metadata, "TELEMETRY_FORMAT_ID", where).upper()
    frame_duration = None
    if "FRAME_DURATION" in metadata:
        frame_duration = _seconds(metadata["FRAME_DURATION"], "FRAME_DURATION", "s", where, FRAME_DURATION_RANGE_S)
    summing = _summing(lines, telemetry, frame_duration)
    if summing == 2 and lines == FULL_FRAME_LINES:
        image = image[: FULL_FRAME_LINES // 2, : FULL_FRAME_SAMPLES // 2]  # summed data fill the first quadrant
        lines, samples = image.shape
    if (lines, samples) != (FULL_FRAME_LINES // summing, FULL_FRAME_SAMPLES // summing):
        raise ProductError(f"{where}: image is {samples} × {lines}; SSI images are 800 × 800 or 400 × 400 (summed)")
    time_key, image_time = _image_time(metadata, where)
    moment = parse_utc(image_time, key=time_key, where=where)
    if "EXPOSURE_DURATION" not in metadata:
        raise ProductError(f"{where}: required key EXPOSURE_DURATION is missing")
    exposure_s = _seconds(metadata["EXPOSURE_DURATION"], "EXPOSURE_DURATION", "ms", where, EXPOSURE_RANGE_S)
    filter_name = _text(metadata, "FILTER_NAME", where).upper()
    if filter_name not in FILTERS:
        raise ProductError(f"{where}: unknown filter {shown(metadata.get('FILTER_NAME'))} in FILTER_NAME "
                           f"(Galileo SSI filters: {', '.join(FILTERS)})")
    target = _text(metadata, "TARGET_NAME", where).upper()
    if not _TARGET.match(target):
        raise ProductError(f"{where}: TARGET_NAME = {shown(metadata.get('TARGET_NAME'))} must be a body name "
                           "(letters, digits, spaces, '_' and '-')")
    product_id = _text(metadata, "IMAGE_ID", where) or _text(metadata, "PRODUCT_ID", where) or Path(where).stem
    product_id = check_name(product_id, f"{where}: IMAGE_ID", ProductError)
    half = timedelta(microseconds=round(exposure_s * 5e5))
    data_set = _text(metadata, "DATA_SET_ID", where).upper()
    cube = np.ascontiguousarray(image).reshape(1, 1, lines, samples)
    cube.flags.writeable = False
    return SsiProduct(
        product_id=product_id,
        target=target,
        perijove=None,
        filters=(filter_name,),
        framelets=cube,
        companding="LIN1",
        start_time_utc=format_utc(moment - half),
        stop_time_utc=format_utc(moment + half),
        exposure_ms=exposure_s * 1e3,
        tdi_stages=1,
        interframe_delay_s=frame_duration if frame_duration is not None else 0.0,
        spacecraft_clock_start=_clock(metadata, where),
        metadata=freeze(metadata),
        source=Path(source),
        image_time_utc=format_utc(moment),
        summing=summing,
        gain_mode=_text(metadata, "GAIN_MODE_ID", where),
        telemetry_format=telemetry,
        data_set_id=data_set,
        product_type="REDR" if "REDR" in data_set else "EDR" if "EDR" in data_set else "",
        orbit=_text(metadata, "ORBIT_NUMBER", where),
    )
