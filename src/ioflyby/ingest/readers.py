"""``read_product``: JunoCam raw products from the mission website or PDS, validated.

Accepted inputs (every problem raises ProductError naming the file and what is wrong):

- a folder holding ``<PRODUCT_ID>-raw.png`` and ``<NNNNN>-Metadata.json`` (the website
  layout), or the PNG or the JSON path itself;
- the website zips ``NNNNN-ImageSet.zip`` (holds the raw PNG) and ``NNNNN-Data.zip`` (holds the
  Metadata JSON), either zip path or a folder holding them. Members are read in memory, never
  extracted; a member name that would land outside the folder (absolute, ``..``) is rejected;
- a PDS3 EDR: the detached label ``.LBL`` (or its ``.IMG``), read with ``pdr``;
- a Galileo SSI PDS3 product (label's INSTRUMENT_NAME/ID says SSI; detached or attached label):
  :func:`ioflyby.ingest.ssi.read_ssi_product`.

Only regular files are read (never a device, FIFO or socket, also through a symlink), each
after its size is checked against the limit for its kind; a file named inside a label (the
PNG's FILE_NAME, the EDR's ^IMAGE) or a zip member must be a plain file name
(:func:`ioflyby.fileio.check_name`).
"""

from __future__ import annotations

import io
import json
import re
import warnings
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from PIL import Image

from ioflyby.camera.junocam import FRAMELET_SAMPLES
from ioflyby.errors import ProductError
from ioflyby.fileio import check_name, check_regular_file, read_regular_file, shown
from ioflyby.ingest.pds3 import detached_label, error_detail, read_pds3_image
from ioflyby.ingest.product import MAX_LINES, RawProduct, build_product
from ioflyby.ingest.ssi import is_ssi_product, read_ssi_product

MAX_JSON_BYTES = 4 * 1024 * 1024
MAX_JSON_DEPTH = 32
# The largest image this reader accepts, stored, plus room for PNG/PDS framing.
MAX_IMAGE_BYTES = MAX_LINES * FRAMELET_SAMPLES + 16 * 1024 * 1024
MAX_PNG_BYTES = MAX_IMAGE_BYTES
MAX_ZIP_BYTES = MAX_IMAGE_BYTES + MAX_JSON_BYTES
MAX_ZIP_MEMBERS = 1000
_IMAGESET = re.compile(r"^(\d+)-ImageSet\.zip$", re.IGNORECASE)
_DATA = re.compile(r"^(\d+)-Data\.zip$", re.IGNORECASE)


def read_product(path: str | Path) -> RawProduct:
    """Read one JunoCam raw product (folder, PNG/JSON, website zips, or PDS3 EDR) into a RawProduct."""
    path = Path(path)
    if not path.exists():
        raise ProductError(f"{path}: no such file or folder")
    if path.is_dir():
        return _read_folder(path)
    suffix = path.suffix.lower()
    if suffix == ".png":
        return _read_png_json(path, _find_json_for_png(path))
    if suffix == ".json":
        return _read_png_json(_find_png_for_json(path), path)
    if suffix == ".zip":
        return _read_zip_pair(*_zip_pair_for(path))
    if suffix in (".lbl", ".img"):
        return _read_pds3(path)
    raise ProductError(
        f"{path}: not a JunoCam product (expected a folder, -raw.png, -Metadata.json, "
        "ImageSet/Data zip, or PDS3 .LBL/.IMG)"
    )


# ---------------------------------------------------------------- folders and PNG + JSON pairs


def _read_folder(folder: Path) -> RawProduct:
    pngs = sorted(folder.glob("[!.]*-raw.png"))
    if len(pngs) == 1:
        return _read_png_json(pngs[0], _find_json_for_png(pngs[0]))
    if len(pngs) > 1:
        raise ProductError(f"{folder}: holds {len(pngs)} raw PNGs; pass the one you mean")
    zips = sorted(p for p in folder.iterdir() if _IMAGESET.match(p.name))
    if len(zips) == 1:
        return _read_zip_pair(*_zip_pair_for(zips[0]))
    if len(zips) > 1:
        raise ProductError(f"{folder}: holds {len(zips)} ImageSet zips; pass the one you mean")
    labels = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".lbl")
    if len(labels) == 1:
        return _read_pds3(labels[0])
    raise ProductError(
        f"{folder}: no JunoCam product found (expected <PRODUCT_ID>-raw.png with NNNNN-Metadata.json, "
        "NNNNN-ImageSet.zip with NNNNN-Data.zip, or one PDS3 .LBL)"
    )


def _find_json_for_png(png: Path) -> Path:
    candidates = sorted(png.parent.glob("[!.]*-Metadata.json"))
    if not candidates:
        raise ProductError(f"{png}: no NNNNN-Metadata.json beside it; download the product's Data zip too")
    if len(candidates) == 1:
        return candidates[0]
    product_id = png.name[: -len("-raw.png")] if png.name.endswith("-raw.png") else png.stem
    for candidate in candidates:
        try:
            meta = _parse_json(_read_limited(candidate, MAX_JSON_BYTES), str(candidate))
        except ProductError:
            continue
        if meta.get("PRODUCT_ID") == product_id or meta.get("FILE_NAME") == png.name:
            return candidate
    raise ProductError(f"{png}: none of the {len(candidates)} Metadata JSON files beside it is for {product_id}")


def _find_png_for_json(json_path: Path) -> Path:
    meta = _parse_json(_read_limited(json_path, MAX_JSON_BYTES), str(json_path))
    name = meta.get("FILE_NAME")
    if name is not None:
        check_name(name, f"{json_path}: FILE_NAME", ProductError)
        if (json_path.parent / name).is_file():
            return json_path.parent / name
    pngs = sorted(json_path.parent.glob("[!.]*-raw.png"))
    if len(pngs) == 1:
        return pngs[0]
    raise ProductError(f"{json_path}: cannot find its raw PNG (FILE_NAME = {name!r}) beside it")


def _read_limited(path: Path, limit: int) -> bytes:
    return read_regular_file(path, limit, ProductError, "a JunoCam product file")


def _read_png_json(png: Path, json_path: Path) -> RawProduct:
    metadata = _parse_json(_read_limited(json_path, MAX_JSON_BYTES), str(json_path))
    image = _decode_png(_read_limited(png, MAX_PNG_BYTES), str(png))
    return build_product(image, metadata, png.parent, where=f"{png.name} + {json_path.name} in {png.parent}")


def _parse_json(raw: bytes, where: str) -> dict[str, Any]:
    """Metadata JSON object from bytes; ProductError for non-UTF-8, invalid JSON, non-objects."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ProductError(f"{where}: not UTF-8 text (byte {exc.start}); is this really a Metadata JSON?") from None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        detail = (f"{exc.msg} at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError)
                  else "nested too deeply" if isinstance(exc, RecursionError) else "a number with too many digits")
        raise ProductError(f"{where}: invalid JSON ({detail})") from None
    if not isinstance(value, dict):
        raise ProductError(
            f"{where}: the Metadata JSON must be an object of label keywords, got {type(value).__name__}")
    if _depth(value) > MAX_JSON_DEPTH:
        raise ProductError(f"{where}: the Metadata JSON is nested more than {MAX_JSON_DEPTH} levels deep")
    return value


def _depth(value: Any) -> int:
    """Nesting depth of JSON-like data (0 for a scalar), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH:
            break
        children = item.values() if isinstance(item, Mapping) else item if isinstance(item, (list, tuple)) else ()
        stack.extend((child, level + 1) for child in children)
    return deepest


def _decode_png(raw: bytes, where: str) -> np.ndarray:
    """8-bit greyscale PNG -> (lines, 1648) uint8; header checked before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw), formats=["PNG"])
            width, height = image.size
            mode = image.mode
    except Image.DecompressionBombError:
        raise ProductError(
            f"{where}: PNG declares far more pixels than a JunoCam image ({MAX_LINES} lines of "
            f"{FRAMELET_SAMPLES} at most); refusing to decode it"
        ) from None
    except Exception as exc:  # noqa: BLE001 - PIL raises many types for bad headers
        raise ProductError(f"{where}: not a readable PNG ({error_detail(exc)})") from None
    if width != FRAMELET_SAMPLES:
        raise ProductError(f"{where}: PNG is {width} pixels wide; JunoCam raw images are {FRAMELET_SAMPLES} wide")
    if height > MAX_LINES:
        raise ProductError(f"{where}: PNG has {height} lines, more than the {MAX_LINES} this reader accepts")
    if mode != "L":
        raise ProductError(f"{where}: PNG mode is {mode}; JunoCam raw PNGs are 8-bit greyscale (mode L)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
            array = np.asarray(image, dtype=np.uint8)
    except Exception as exc:  # noqa: BLE001 - truncated/corrupt streams raise OSError, SyntaxError, zlib.error...
        raise ProductError(f"{where}: PNG data is truncated or corrupt ({error_detail(exc)})") from None
    if array.shape != (height, width):
        raise ProductError(f"{where}: PNG decoded to {array.shape}, expected ({height}, {width})")
    return array


# ---------------------------------------------------------------- website zips


def _zip_pair_for(path: Path) -> tuple[Path, Path]:
    """(ImageSet zip, Data zip) for either one of them, found beside each other by NNNNN."""
    name = path.name
    imageset = _IMAGESET.match(name)
    data = _DATA.match(name)
    if imageset:
        partner = path.with_name(f"{imageset.group(1)}-Data.zip")
        if not partner.is_file():
            raise ProductError(f"{path}: {partner.name} (the Metadata) is missing beside it")
        return path, partner
    if data:
        partner = path.with_name(f"{data.group(1)}-ImageSet.zip")
        if not partner.is_file():
            raise ProductError(f"{path}: {partner.name} (the raw image) is missing beside it")
        return partner, path
    raise ProductError(f"{path}: expected NNNNN-ImageSet.zip or NNNNN-Data.zip from the JunoCam website")


def _safe_member_names(archive: zipfile.ZipFile, where: str) -> list[zipfile.ZipInfo]:
    """Members after rejecting any name that would resolve outside the target folder (zip-slip)."""
    members = archive.infolist()
    if len(members) > MAX_ZIP_MEMBERS:
        raise ProductError(f"{where}: {len(members):,} members, more than the {MAX_ZIP_MEMBERS} a website zip can hold")
    for info in members:
        name = info.filename
        posix = PurePosixPath(name.replace("\\", "/"))
        if (
            name.startswith(("/", "\\"))
            or re.match(r"^[A-Za-z]:", name)
            or ".." in posix.parts
            or "\x00" in name
        ):
            raise ProductError(f"{where}: member {shown(name)} points outside the product folder (zip-slip); "
                               "refusing the archive")
    return members


def _zip_member(zip_path: Path, pattern: str, limit: int) -> tuple[bytes, str]:
    """Bytes of the one member whose base name matches ``pattern`` (regex), checked for size."""
    where = str(zip_path)
    check_regular_file(zip_path, MAX_ZIP_BYTES, ProductError, "a JunoCam website zip")
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = _safe_member_names(archive, where)
            wanted = [m for m in members if not m.is_dir() and re.search(pattern, PurePosixPath(m.filename).name)]
            if not wanted:
                found = shown([m.filename for m in members][:5], 200)
                raise ProductError(f"{where}: no member matching {pattern!r} (found: {found})")
            if len(wanted) > 1:
                raise ProductError(f"{where}: {len(wanted)} members match {pattern!r}; expected one")
            info = wanted[0]
            check_name(PurePosixPath(info.filename).name, f"{where}: member", ProductError)
            if info.file_size > limit:
                raise ProductError(f"{where}: member {info.filename} is {info.file_size} bytes, over the {limit} limit")
            with archive.open(info) as stream:
                data = stream.read(limit + 1)
            if len(data) > limit:
                raise ProductError(f"{where}: member {info.filename} expands beyond {limit} bytes")
            return data, info.filename
    except ProductError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, RuntimeError, ValueError,
            zlib.error) as exc:
        raise ProductError(f"{where}: corrupt or unreadable zip ({error_detail(exc)})") from None


def _read_zip_pair(imageset: Path, data: Path) -> RawProduct:
    raw_json, json_name = _zip_member(data, r"-Metadata\.json$", MAX_JSON_BYTES)
    metadata = _parse_json(raw_json, f"{data}:{json_name}")
    raw_png, png_name = _zip_member(imageset, r"-raw\.png$", MAX_PNG_BYTES)
    image = _decode_png(raw_png, f"{imageset}:{png_name}")
    return build_product(image, metadata, imageset, where=f"{imageset.name}:{png_name} + {data.name}:{json_name}")


# ---------------------------------------------------------------- PDS3 EDR


def _label_path(path: Path) -> Path:
    label = detached_label(path)
    if label is None:
        raise ProductError(f"{path}: its detached PDS3 label (.LBL) is missing beside it")
    return label


def _check_image_file(label: Path, pointer: Any) -> None:
    """The file the ^IMAGE pointer names (``"NAME"`` or ``("NAME", record)``; a number points into
    the label itself) must be a plain name beside the label, a regular file of bounded size."""
    name = pointer[0] if isinstance(pointer, (list, tuple)) and pointer else pointer
    if not isinstance(name, str):
        return
    check_name(name, f"{label}: ^IMAGE", ProductError)
    matches = [p for p in label.parent.iterdir() if p.name.lower() == name.lower()]
    if not matches:
        raise ProductError(f"{label}: its image file {name} (^IMAGE) is missing beside it")
    for match in matches:
        check_regular_file(match, MAX_IMAGE_BYTES, ProductError, "a PDS3 image file")


def _read_pds3(path: Path) -> RawProduct:
    if is_ssi_product(path):  # Galileo SSI (label's INSTRUMENT_NAME/ID): its own reader
        return read_ssi_product(path)
    label = _label_path(path)
    where = str(label)
    _read_limited(label, MAX_JSON_BYTES)  # type and size check; pdr reads it again

    def check(image_meta: Mapping[str, Any], label_keys: Mapping[str, Any]) -> None:
        lines = image_meta.get("LINES")
        if not isinstance(lines, int) or isinstance(lines, bool) or not 0 < lines <= MAX_LINES:
            raise ProductError(f"{where}: IMAGE LINES = {shown(lines)}; this reader accepts 1 to {MAX_LINES}")
        if image_meta.get("LINE_SAMPLES") != FRAMELET_SAMPLES:
            raise ProductError(f"{where}: IMAGE LINE_SAMPLES = {shown(image_meta.get('LINE_SAMPLES'))}; "
                               f"JunoCam framelets are {FRAMELET_SAMPLES} wide")
        _check_image_file(label, label_keys.get("^IMAGE"))

    metadata, image_keys, image = read_pds3_image(label, where, "PDS3 product", check)
    for key in ("LINES", "LINE_SAMPLES", "SAMPLE_BITS", "SAMPLE_TYPE", "SAMPLE_BIT_MASK"):
        if key in image_keys:
            metadata.setdefault(key, image_keys[key])
    metadata["IMAGE"] = image_keys
    if image.dtype.kind not in "ui" or image.dtype.itemsize != 1:
        raise ProductError(f"{where}: IMAGE is {image.dtype}; JunoCam EDRs hold 8-bit unsigned samples")
    return build_product(image.astype(np.uint8, copy=False), metadata, label.parent, where=where)
