"""Files of a render: 16-bit PNG and TIFF (the image alone), 8-bit PNG and JPEG with a caption
strip, and a JSON sidecar; every file carries the render's record (PNG ``iTXt`` chunk
``ioflyby:render``, TIFF ImageDescription, JPEG comment) so that it can be reproduced.

The 16-bit PNG is encoded here (Pillow writes no 16-bit colour PNG): PNG signature, IHDR
(bit depth 16, colour type 2), one ``iTXt`` chunk, zlib-compressed rows with filter 0, IEND
(ISO/IEC 15948). The caption strip holds product, time, range and scale, a north arrow and a
scale bar, drawn with Pillow.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

RECORD_KEY = "ioflyby:render"


def record_text(record: dict) -> str:
    """The record as compact JSON (numpy values as plain numbers)."""
    def default(value: object) -> object:
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
        return str(value)

    return json.dumps(record, default=default, separators=(",", ":"))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png16_bytes(rgb16: np.ndarray, text: dict[str, str]) -> bytes:
    """A 16-bit RGB PNG of ``rgb16`` (uint16 [row, col, 3]) with ``text`` as iTXt chunks."""
    height, width, _ = rgb16.shape
    rows = np.ascontiguousarray(rgb16.astype(">u2")).view(np.uint8).reshape(height, width * 6)
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1).tobytes()
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    parts = [b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", header)]
    for key, value in text.items():
        parts.append(_chunk(b"iTXt", key.encode("latin-1") + b"\x00\x00\x00\x00\x00" + value.encode("utf-8")))
    parts += [_chunk(b"IDAT", zlib.compress(raw, 3)), _chunk(b"IEND", b"")]
    return b"".join(parts)


def write_png16(path: Path, rgb: np.ndarray, record: dict) -> Path:
    """``rgb`` float [0, 1] → 16-bit PNG at ``path`` with the record."""
    path.write_bytes(png16_bytes(to_uint16(rgb), {RECORD_KEY: record_text(record)}))
    return path


def write_tiff16(path: Path, rgb: np.ndarray, record: dict) -> Path:
    """``rgb`` float [0, 1] → 16-bit RGB TIFF (deflate) with the record as ImageDescription."""
    import tifffile

    tifffile.imwrite(path, to_uint16(rgb), photometric="rgb", compression="zlib",
                     description=record_text(record), metadata=None)
    return path


def write_png8(path: Path, rgb8: np.ndarray, record: dict) -> Path:
    info = PngInfo()
    info.add_itxt(RECORD_KEY, record_text(record))
    Image.fromarray(rgb8).save(path, format="PNG", pnginfo=info, compress_level=6)
    return path


def write_jpeg(path: Path, rgb8: np.ndarray, record: dict) -> Path:
    Image.fromarray(rgb8).save(path, format="JPEG", quality=92, comment=record_text(record).encode()[:60000])
    return path


def to_uint16(rgb: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(rgb, 0, 1) * 65535.0).astype(np.uint16)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(rgb, 0, 1) * 255.0).astype(np.uint8)


@dataclass(frozen=True)
class Caption:
    """What the caption strip says: ``title`` (product), ``time_utc``, ``range_km``,
    ``km_per_px`` (at the view centre), ``north_deg`` (clockwise from up), ``extra`` text."""

    title: str
    time_utc: str
    range_km: float | None
    km_per_px: float
    north_deg: float | None
    extra: str = ""


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without scalable default font
        return ImageFont.load_default()


def nice_length_km(km_per_px: float, max_px: float) -> float:
    """A round length (1, 2 or 5 × 10^n km) at most ``max_px`` pixels long."""
    limit = km_per_px * max_px
    exponent = math.floor(math.log10(limit))
    for mantissa in (5, 2, 1):
        if mantissa * 10**exponent <= limit:
            return float(mantissa * 10**exponent)
    return float(10 ** (exponent - 1))


def with_caption(rgb8: np.ndarray, caption: Caption) -> np.ndarray:
    """``rgb8`` with a black caption strip below it: text, north arrow, scale bar (uint8)."""
    height, width, _ = rgb8.shape
    strip_h = max(48, width // 18)
    font = _font(max(11, strip_h // 4))
    small = _font(max(10, strip_h // 5))
    strip = Image.new("RGB", (width, strip_h), (0, 0, 0))
    draw = ImageDraw.Draw(strip)
    pad = strip_h // 8
    line1 = caption.title
    parts = [caption.time_utc]
    if caption.range_km is not None:
        parts.append(f"range {caption.range_km:,.0f} km")
    parts.append(f"{caption.km_per_px:.2f} km/px")
    line2 = "  ·  ".join(parts) + (f"  ·  {caption.extra}" if caption.extra else "")
    draw.text((pad, pad), line1, fill=(235, 235, 235), font=font)
    draw.text((pad, strip_h // 2 + pad // 2), line2, fill=(190, 190, 190), font=small)
    # scale bar on the right
    bar_km = nice_length_km(caption.km_per_px, width * 0.18)
    bar_px = int(round(bar_km / caption.km_per_px))
    right = width - pad
    y = strip_h - 2 * pad
    draw.rectangle([right - bar_px, y - 2, right, y + 2], fill=(235, 235, 235))
    draw.text((right - bar_px, pad), f"{bar_km:g} km", fill=(235, 235, 235), font=small)
    if caption.north_deg is not None:
        cx, cy, r = right - bar_px - 3 * strip_h // 4, strip_h // 2, strip_h * 0.32
        a = math.radians(caption.north_deg)
        tip = (cx + r * math.sin(a), cy - r * math.cos(a))
        tail = (cx - r * math.sin(a), cy + r * math.cos(a))
        draw.line([tail, tip], fill=(235, 235, 235), width=max(1, strip_h // 24))
        left = (tip[0] - 0.35 * r * math.sin(a + 0.5), tip[1] + 0.35 * r * math.cos(a + 0.5))
        rightp = (tip[0] - 0.35 * r * math.sin(a - 0.5), tip[1] + 0.35 * r * math.cos(a - 0.5))
        draw.polygon([tip, left, rightp], fill=(235, 235, 235))
        draw.text((tip[0] + 4, tip[1] - 2), "N", fill=(235, 235, 235), font=small)
    return np.concatenate([rgb8, np.asarray(strip)], axis=0)
