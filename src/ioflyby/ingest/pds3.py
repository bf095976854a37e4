"""PDS3 products through ``pdr``: the label's IMAGE object checked before the image is decoded,
pdr's many error types turned into one-line :class:`ProductError`. Used by the JunoCam EDR and
Galileo SSI readers."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ioflyby.errors import ProductError


def plain(value: Any) -> Any:
    """pdr label values -> JSON-like values (MultiDict -> dict, tuple -> list, numpy scalars -> Python)."""
    if isinstance(value, Mapping) or hasattr(value, "items"):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def error_detail(exc: Exception) -> str:
    """A library exception as ``Type: message``, its message cut short for a one-line error."""
    text = str(exc)
    return f"{type(exc).__name__}: {text if len(text) <= 120 else text[:117] + '...'}"


def read_pds3_image(
    label: Path, where: str, what: str, check: Callable[[Mapping[str, Any], Mapping[str, Any]], None],
) -> tuple[dict[str, Any], dict[str, Any], np.ndarray]:
    """Read the PDS3 product of ``label`` with pdr: ``check(image_object, label)`` runs on the raw
    label values before the IMAGE is decoded (raising ProductError for what the reader refuses);
    returns (label keywords without IMAGE, IMAGE keywords, the image array) as plain values.
    ``what`` names the product kind in the error of an unreadable file."""
    try:
        import pdr

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = pdr.read(str(label))
            metadata_raw = data.metadata
            image_meta = metadata_raw.get("IMAGE")
            if image_meta is None or not hasattr(image_meta, "get"):
                raise ProductError(f"{where}: the label has no IMAGE object")
            check(image_meta, metadata_raw)
            image = np.asarray(data["IMAGE"])
    except ProductError:
        raise
    except Exception as exc:  # noqa: BLE001 - pdr surfaces parser/IO errors of many types
        raise ProductError(f"{where}: cannot read {what} with pdr ({error_detail(exc)})") from None
    metadata = {k: plain(v) for k, v in metadata_raw.items() if k != "IMAGE"}
    return metadata, plain(image_meta), image


def detached_label(path: Path) -> Path | None:
    """The ``.LBL`` beside ``path`` (case-insensitive suffix), ``path`` itself if it is a label, or None."""
    if path.suffix.lower() == ".lbl":
        return path
    for suffix in (".LBL", ".lbl"):
        candidate = path.with_suffix(suffix)
        if os.path.lexists(candidate):
            return candidate
    return None
