"""``write_product``: write framelets as a mission-website raw product (PNG + Metadata JSON).

Used by the digital twin so that simulated products go through exactly the reader that real
ones do. The JSON is written like the website's (sorted keys, two-space indent, ASCII, final
newline); the PNG is 8-bit greyscale, ``LINES`` x 1648.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ioflyby.camera.junocam import FRAMELET_LINES, FRAMELET_SAMPLES
from ioflyby.errors import ProductError
from ioflyby.fileio import AtomicFiles
from ioflyby.ingest.product import build_product, parse_filters

_IMAGE_NUMBER = re.compile(r"[A-Z](\d{5})_V\d+$")
PNG_COMPRESS_LEVEL = 1
"""zlib level for written PNGs: 1, zlib's fastest (Pillow's default is 6); the timings and sizes
behind it are in docs/conventions.md, "Ingest: measurements behind the design"."""


def _image_set_number(product_id: str, image_id: int | str | None) -> str:
    """The NNNNN of ``NNNNN-Metadata.json``: ``image_id`` or the product id's image number."""
    if image_id is not None:
        text = str(image_id)
        if not text.isdigit():
            raise ProductError(f"image_id {image_id!r} must be digits (it names NNNNN-Metadata.json)")
        return text.zfill(5)
    match = _IMAGE_NUMBER.search(product_id)
    if not match:
        raise ProductError(
            f"cannot derive NNNNN for the Metadata JSON from PRODUCT_ID {product_id!r}; pass image_id"
        )
    return match.group(1)


def write_product(
    out_dir: str | Path,
    framelets_uint8: np.ndarray,
    metadata: Mapping[str, Any],
    *,
    image_id: int | str | None = None,
) -> Path:
    """Write ``<PRODUCT_ID>-raw.png`` and ``<NNNNN>-Metadata.json`` into ``out_dir``; return the PNG path.

    ``framelets_uint8`` is ``[exposure, filter, 128, 1648]`` uint8 stored DN (companded as
    ``metadata["SAMPLE_BIT_MODE_ID"]`` says, e.g. with ``compand_sqroot``). ``metadata`` holds the
    label keywords (PRODUCT_ID, FILTER_NAME, START_TIME, STOP_TIME, EXPOSURE_DURATION "x <ms>",
    INTERFRAME_DELAY "x <s>", JNO:TDI_STAGES_COUNT, SAMPLE_BIT_MODE_ID, TARGET_NAME, ...); LINES,
    LINE_SAMPLES, FILE_NAME, FILE_RECORDS, RECORD_BYTES, SAMPLE_BITS and SAMPLE_TYPE are filled
    from the array. ``image_id`` sets NNNNN (default: the product id's 5-digit image number).
    The product is validated with the reader's rules before anything is written, and both
    files are written to temporary names and renamed when complete.
    """
    cube = np.asarray(framelets_uint8)
    if cube.dtype != np.uint8 or cube.ndim != 4 or cube.shape[2:] != (FRAMELET_LINES, FRAMELET_SAMPLES):
        raise ProductError(
            f"framelets must be uint8 [exposure, filter, {FRAMELET_LINES}, {FRAMELET_SAMPLES}], "
            f"got {cube.dtype} {cube.shape}"
        )
    meta = dict(metadata)
    filters = parse_filters(meta, "metadata for write_product")
    if cube.shape[1] != len(filters) or cube.shape[0] < 1:
        raise ProductError(f"framelets have {cube.shape[1]} filters but FILTER_NAME lists {len(filters)}")
    product_id = meta.get("PRODUCT_ID")
    if not isinstance(product_id, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]+", product_id):
        raise ProductError(f"PRODUCT_ID {product_id!r} must be a plain file-name-safe string")
    lines = cube.shape[0] * cube.shape[1] * FRAMELET_LINES
    png_name = f"{product_id}-raw.png"
    meta.update(
        LINES=lines,
        LINE_SAMPLES=FRAMELET_SAMPLES,
        FILE_NAME=png_name,
        FILE_RECORDS=lines,
        RECORD_BYTES=FRAMELET_SAMPLES,
        SAMPLE_BITS=8,
        SAMPLE_TYPE="UNSIGNED_INTEGER",
    )
    image = np.ascontiguousarray(cube.reshape(lines, FRAMELET_SAMPLES))
    build_product(image, meta, Path(out_dir), where=f"product {product_id} to write")  # same rules as reading
    json_name = f"{_image_set_number(product_id, image_id)}-Metadata.json"
    try:
        text = json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=True) + "\n"
    except (TypeError, ValueError) as exc:
        raise ProductError(f"metadata for {product_id} is not JSON-serialisable: {exc}") from None

    out = Path(out_dir)
    try:
        with AtomicFiles() as files:
            Image.fromarray(image, mode="L").save(files.path(out / png_name), format="PNG", compress_level=PNG_COMPRESS_LEVEL)
            files.path(out / json_name).write_text(text, encoding="ascii")
    except OSError as exc:
        raise ProductError(f"{out}: cannot write product {product_id} ({exc.strerror or exc})") from None
    return out / png_name
