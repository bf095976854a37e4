"""``write_ssi_product``: write an image as a Galileo SSI PDS3 REDR, read back by
:func:`ioflyby.ingest.ssi.read_ssi_product`.

The layout and keyword names follow the Galileo SSI REDR CD-ROM SIS (GLL 232-16, H. Mortensen,
1997; PDS ``go_00xx/document/cdvolsis.htm``) and the real labels of the GO-J/JSA-SSI-2-REDR-V1.0
volumes (e.g. ``go_0018/g7/jupiter/c038961/8600r.lbl``): fixed-length records of
LINE_PREFIX_BYTES (200) + one line of samples; the ``.IMG`` starts with a VICAR image header
(``^IMAGE_HEADER``, 2 records) followed by the image lines, each after its 200-byte line prefix
(zero-filled here: the telemetry, bad-data and prefix tables of the real products are not
simulated). Detached (``NNNNR.LBL`` + ``NNNNR.IMG``, as on the volumes) or attached (the label
at the start of the ``.IMG``, padded to whole records, ``^IMAGE`` a record number).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np

from ioflyby.camera.ssi import FILTERS, FULL_FRAME_LINES
from ioflyby.errors import ProductError
from ioflyby.fileio import AtomicFiles, check_name
from ioflyby.ingest.product import format_utc, parse_utc
from ioflyby.ingest.ssi import SsiProduct, build_ssi_product

LINE_PREFIX_BYTES = 200
"""Bytes of binary line prefix before each image line (REDR SIS)."""
HEADER_RECORDS = 2
"""Records of the VICAR image header at the start of a detached product's .IMG."""
DATA_SET_ID = "GO-J/JSA-SSI-2-REDR-V1.0"
FILTER_NUMBERS = {name: i for i, name in enumerate(FILTERS[:8])} | {"INFRARED": 5}
FRAME_DURATION_S = {1: 8.667, 2: 15.166}
"""Typical FRAME_DURATION of full-frame (IM8) and summation-mode (HIS) images, s."""
TELEMETRY_FORMAT = {1: "IM8", 2: "HIS"}


def _label(*, image_file: str | None, image_record: int, record_bytes: int, file_records: int,
           lines: int, samples: int, header: bool, keywords: dict[str, str]) -> str:
    pointer = f'("{image_file}",{image_record})' if image_file else str(image_record)
    lines_out = [
        "PDS_VERSION_ID = PDS3",
        "/* File Format and Length */",
        "RECORD_TYPE = FIXED_LENGTH",
        f"RECORD_BYTES = {record_bytes}",
        f"FILE_RECORDS = {file_records}",
    ]
    if image_file is None:
        lines_out.append(f"LABEL_RECORDS = {image_record - 1}")
    lines_out.append("/* Pointers to Data Objects */")
    if header:
        lines_out.append(f'^IMAGE_HEADER = ("{image_file}",1)')
    lines_out.append(f"^IMAGE = {pointer}")
    lines_out += [f"{key} = {value}" for key, value in keywords.items()]
    if header:
        lines_out += [
            "OBJECT = IMAGE_HEADER",
            "  HEADER_TYPE = VICAR2",
            "  INTERCHANGE_FORMAT = ASCII",
            f"  BYTES = {HEADER_RECORDS * record_bytes}",
            f"  RECORDS = {HEADER_RECORDS}",
            "END_OBJECT = IMAGE_HEADER",
        ]
    lines_out += [
        "OBJECT = IMAGE",
        f"  LINES = {lines}",
        f"  LINE_SAMPLES = {samples}",
        "  SAMPLE_TYPE = UNSIGNED_INTEGER",
        "  SAMPLE_BITS = 8",
        f"  LINE_PREFIX_BYTES = {LINE_PREFIX_BYTES}",
        "  LINE_SUFFIX_BYTES = 0",
        "END_OBJECT = IMAGE",
        "END",
    ]
    return "\r\n".join(lines_out) + "\r\n"


def _vicar_header(record_bytes: int, lines: int, samples: int, image_id: str) -> bytes:
    text = (f"LBLSIZE={HEADER_RECORDS * record_bytes}  FORMAT='BYTE'  TYPE='IMAGE'  ORG='BSQ'  NL={lines}  "
            f"NS={samples}  NB=1  NBB={LINE_PREFIX_BYTES}  NLB=0  MISSION='GALILEO'  SENSOR='SSI'  "
            f"PICNO='{image_id}'").encode("ascii")
    return text.ljust(HEADER_RECORDS * record_bytes, b" ")


def write_ssi_product(
    out_dir: str | Path,
    image: np.ndarray,
    *,
    image_id: str,
    image_time_utc: str,
    exposure_ms: float,
    filter_name: str,
    target: str = "IO",
    spacecraft_clock: str = "",
    gain_mode: str = "100K",
    observation_id: str = "",
    orbit: str = "",
    frame_duration_s: float | None = None,
    attached: bool = False,
    file_stem: str | None = None,
) -> Path:
    """Write ``image`` (uint8, 800 × 800 full frame or 400 × 400 summed) as an SSI REDR into
    ``out_dir``; return the path to read (the ``.LBL``, or the ``.IMG`` when ``attached``).

    ``image_time_utc`` is IMAGE_TIME (mid-exposure UTC), ``exposure_ms`` EXPOSURE_DURATION (ms);
    the summing mode follows the image size (TELEMETRY_FORMAT_ID IM8 or HIS). The product is
    validated with the reader's rules before anything is written; the files are written to
    temporary names and renamed when complete.
    """
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 2 or array.shape not in ((800, 800), (400, 400)):
        raise ProductError(f"SSI image must be uint8 800 × 800 or 400 × 400, got {array.dtype} {array.shape}")
    summing = FULL_FRAME_LINES // array.shape[0]
    check_name(image_id, "image_id", ProductError)
    stem = check_name(file_stem or image_id, "file_stem", ProductError)
    filter_key = filter_name.strip().upper()
    moment = parse_utc(image_time_utc, key="IMAGE_TIME", where="write_ssi_product")
    frame_duration = FRAME_DURATION_S[summing] if frame_duration_s is None else float(frame_duration_s)
    keywords = {
        "DATA_SET_ID": f'"{DATA_SET_ID}"',
        "SPACECRAFT_NAME": '"GALILEO ORBITER"',
        "INSTRUMENT_NAME": '"SOLID STATE IMAGING SYSTEM"',
        "SPACECRAFT_CLOCK_CNT_PARTITION": "1",
        "SPACECRAFT_CLOCK_START_COUNT": f'"{spacecraft_clock}"' if spacecraft_clock else '"N/A"',
        "IMAGE_TIME": format_utc(moment) + "Z",
        "IMAGE_ID": f'"{image_id}"',
        "ORBIT_NUMBER": f'"{orbit}"' if orbit else "UNK",
        "OBSERVATION_ID": f'"{observation_id}"' if observation_id else '"N/A"',
        "TARGET_NAME": f'"{target.upper()}"',
        "FILTER_NAME": f'"{filter_key}"',
        "FILTER_NUMBER": str(FILTER_NUMBERS.get(filter_key, 0)),
        "EXPOSURE_DURATION": f"{float(exposure_ms):.2f}",
        "GAIN_MODE_ID": f'"{gain_mode}"',
        "FRAME_DURATION": f"{frame_duration:.3f}",
        "LIGHT_FLOOD_STATE_FLAG": '"ON"',
        "EXPOSURE_TYPE": '"NORMAL"',
        "BLEMISH_PROTECTION_FLAG": '"OFF"',
        "INVERTED_CLOCK_STATE_FLAG": '"NOT INVERTED"',
        "ON_CHIP_MOSAIC_FLAG": '"N"',
        "COMPRESSION_TYPE": '"NONE"',
        "TELEMETRY_FORMAT_ID": f'"{TELEMETRY_FORMAT[summing]}"',
        "INSTRUMENT_MODE_ID": '"CONTIGUOUS READOUT"',
        "NOTE": '"SIMULATED BY IOFLYBY"',
    }
    lines, samples = array.shape
    record_bytes = LINE_PREFIX_BYTES + samples
    records = np.zeros((lines, record_bytes), np.uint8)
    records[:, LINE_PREFIX_BYTES:] = array
    img_name, lbl_name = f"{stem}.IMG", f"{stem}.LBL"
    _validate(array, keywords, moment, exposure_ms, stem)
    with AtomicFiles() as files:
        out = Path(out_dir)
        if attached:
            label_records = 1
            while True:
                text = _label(image_file=None, image_record=label_records + 1,
                              record_bytes=record_bytes, file_records=label_records + lines, lines=lines,
                              samples=samples, header=False, keywords=keywords).encode("ascii")
                if len(text) <= label_records * record_bytes:
                    break
                label_records += 1
            files.path(out / img_name).write_bytes(text.ljust(label_records * record_bytes, b" ") + records.tobytes())
            return out / img_name
        text = _label(image_file=img_name, image_record=HEADER_RECORDS + 1,
                      record_bytes=record_bytes, file_records=HEADER_RECORDS + lines, lines=lines, samples=samples,
                      header=True, keywords=keywords)
        files.path(out / lbl_name).write_text(text, encoding="ascii", newline="")
        files.path(out / img_name).write_bytes(_vicar_header(record_bytes, lines, samples, image_id) + records.tobytes())
    return out / lbl_name


def _validate(array: np.ndarray, keywords: dict[str, str], moment: datetime, exposure_ms: float,
              stem: str) -> SsiProduct:
    """Build the product from the values to write, with the reader's rules (nothing written yet)."""
    metadata = {key: value.strip('"') for key, value in keywords.items()}
    metadata["EXPOSURE_DURATION"] = float(exposure_ms)
    metadata["FRAME_DURATION"] = float(keywords["FRAME_DURATION"])
    metadata["IMAGE_TIME"] = format_utc(moment)
    return build_ssi_product(array, metadata, Path("."), where=f"SSI product {stem} to write")
