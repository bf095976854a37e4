"""What a batch processes: products found in a folder, listed in a manifest, or held by simulated
archives (twin folders), each with the kernels it needs, and the key its outputs are stored under.

A key is the SHA-256 of the product's bytes (every file that belongs to it), the kernels' bytes
(each metakernel's text and every file it lists) and the settings; two runs with the same key
make the same outputs, so a folder named after the key that holds a complete record is done.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ioflyby.errors import IoflybyError
from ioflyby.fileio import is_safe_name, is_temporary

MANIFEST_SUFFIXES = (".csv", ".json")
PRODUCT_FILE_SUFFIXES = (".png", ".zip", ".lbl")
TWIN_MARKERS = ("truth.json", "twin.tm")
MAX_MANIFEST_BYTES = 64 << 20
KEY_CHARS = 16
"""Hex digits of the key in an output folder's name."""
_CHUNK = 1 << 20


class BatchError(IoflybyError):
    """A batch input, manifest or option is wrong (the message says how to fix it)."""


@dataclass(frozen=True)
class Item:
    """One product to process: its path (anything ``read_product`` accepts), the kernels for it
    (metakernels or kernel files), where it came from (``source``: folder, manifest or twin) and
    its perijove group (products whose pointing may be solved jointly share it; None: alone)."""

    path: Path
    kernels: tuple[Path, ...]
    source: str
    group: str | None = None

    @property
    def name(self) -> str:
        """A file-system-safe name for the product's output folder (its folder or file name)."""
        stem = self.path.name
        for suffix in ("-raw.png", "-ImageSet.zip", ".png", ".zip", ".lbl", ".LBL"):
            if stem.endswith(suffix):
                stem = stem[: -len(suffix)]
                break
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", stem)[:80].lstrip(".") or "product"
        return safe if is_safe_name(safe) else "product"


# ---------------------------------------------------------------- discovery


def discover(inputs: Sequence[str | Path], kernels: Sequence[str | Path] = ()) -> list[Item]:
    """The products of every input: a simulated archive (a twin folder, or a folder of twin
    folders: each twin's ``products/*`` with its ``twin.tm``), a manifest (``.csv`` with columns
    ``product,kernels`` or ``.json``: a list of ``{"product", "kernels"}``; relative paths from the
    manifest's folder; an empty ``kernels`` takes ``kernels``), or a folder of products (each
    sub-folder, and each ``-raw.png``/ImageSet zip/PDS3 label in it; all with ``kernels``)."""
    items: list[Item] = []
    for entry in inputs:
        path = Path(entry).expanduser()
        if not path.exists():
            raise BatchError(f"batch input {path}: no such file or folder")
        if path.is_file():
            if path.suffix.lower() not in MANIFEST_SUFFIXES:
                raise BatchError(f"batch input {path}: a file must be a manifest (.csv or .json); "
                                 "give a folder of products or a twin folder otherwise")
            items += read_manifest(path, kernels)
        elif twin_folders(path):
            for twin in twin_folders(path):
                items += twin_items(twin)
        else:
            items += folder_items(path, kernels)
    if not items:
        raise BatchError(f"no product found in {', '.join(str(p) for p in inputs)}")
    return _unique(items)


def _unique(items: list[Item]) -> list[Item]:
    seen, unique = set(), []
    for item in items:
        marker = (item.path.resolve(), item.kernels)
        if marker not in seen:
            seen.add(marker)
            unique.append(item)
    return unique


def _need_kernels(kernels: Sequence[str | Path], where: str) -> tuple[Path, ...]:
    if not kernels:
        raise BatchError(f"{where}: no kernels for these products; pass --kernels METAKERNEL")
    return tuple(Path(k).expanduser().absolute() for k in kernels)


def is_twin(folder: Path) -> bool:
    """A twin folder (``ioflyby simulate`` output): truth.json and twin.tm beside products/."""
    return all((folder / name).is_file() for name in TWIN_MARKERS) and (folder / "products").is_dir()


def twin_folders(folder: Path) -> list[Path]:
    """``folder`` itself when it is a twin, else its sub-folders that are twins (sorted)."""
    if is_twin(folder):
        return [folder]
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".") and is_twin(p))


def twin_items(twin: Path) -> list[Item]:
    """Every product folder under a twin's products/, with the twin's nominal metakernel; the
    perijove group is the twin's scenario (one flyby, one spin axis)."""
    try:
        scenario = str(json.loads((twin / "truth.json").read_text(encoding="utf-8")).get("scenario", twin.name))
    except (OSError, ValueError, AttributeError):
        scenario = twin.name
    metakernel = (twin / "twin.tm").absolute()
    group = f"{twin.resolve()}::{scenario}"
    return [Item(p.absolute(), (metakernel,), f"twin {twin.name}", group)
            for p in sorted((twin / "products").iterdir()) if p.is_dir() and not p.name.startswith(".")]


def folder_items(folder: Path, kernels: Sequence[str | Path]) -> list[Item]:
    """Each non-hidden sub-folder and each product file (``-raw.png``, ImageSet zip, PDS3 label) of
    ``folder``, all with ``kernels``."""
    found = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or is_temporary(path.name):
            continue
        name = path.name.lower()
        if path.is_dir() or name.endswith("-raw.png") or name.endswith("-imageset.zip") or name.endswith(".lbl"):
            found.append(path.absolute())
    if not found:
        return []
    paths = _need_kernels(kernels, f"products folder {folder}")
    return [Item(p, paths, f"folder {folder}") for p in found]


def read_manifest(path: Path, kernels: Sequence[str | Path] = ()) -> list[Item]:
    """Items of a manifest: CSV with a header ``product,kernels`` (optional ``group``), or JSON (a
    list of objects with the same keys, or ``{"products": [...]}``). ``kernels``: one path or
    several separated by ``;`` or ``,``; relative paths are from the manifest's folder."""
    raw = path.read_bytes()[:MAX_MANIFEST_BYTES]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BatchError(f"manifest {path}: not UTF-8 text") from None
    rows = _json_rows(text, path) if path.suffix.lower() == ".json" else _csv_rows(text, path)
    base = path.parent
    items = []
    for number, row in enumerate(rows, 1):
        product = str(row.get("product") or "").strip()
        if not product:
            raise BatchError(f"manifest {path}, entry {number}: no product path; give one in the 'product' column")
        listed = [part.strip() for part in re.split(r"[;,]", str(row.get("kernels") or "")) if part.strip()]
        entry_kernels = [base / k for k in listed] if listed else list(kernels)
        group = str(row["group"]).strip() if row.get("group") else None
        items.append(Item((base / product).absolute(), _need_kernels(entry_kernels, f"manifest {path}, entry {number}"),
                          f"manifest {path.name}", group or None))
    return items


def _json_rows(text: str, path: Path) -> list[dict]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise BatchError(f"manifest {path}: not JSON ({error.msg} at line {error.lineno})") from None
    if isinstance(value, dict):
        value = value.get("products")
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise BatchError(f"manifest {path}: expected a list of {{\"product\", \"kernels\"}} objects")
    return [{k: ";".join(map(str, v)) if isinstance(v, list) else v for k, v in row.items()} for row in value]


def _csv_rows(text: str, path: Path) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "product" not in [f.strip() for f in reader.fieldnames]:
        raise BatchError(f"manifest {path}: a CSV manifest needs a header line with columns product,kernels")
    return [{(k or "").strip(): v for k, v in row.items()} for row in reader]


# ---------------------------------------------------------------- keys


def product_files(path: Path) -> list[Path]:
    """The files a product is made of: every regular non-hidden file of a product folder; for a
    file, itself and its companions (same name prefix before '-', and for a ``-raw.png`` the
    ``-Metadata.json`` files beside it)."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    if not path.is_file():
        return []
    prefix = path.name.split("-")[0]
    siblings = {p for p in path.parent.iterdir() if p.is_file() and p.name.split("-")[0] == prefix}
    if path.name.lower().endswith(".png"):
        siblings |= set(path.parent.glob("[!.]*-Metadata.json"))
    if path.suffix.lower() == ".lbl":
        siblings |= {p for p in path.parent.iterdir() if p.stem == path.stem}
    return sorted(siblings | {path})


@cache
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes (remembered for the same path, size and modification time)."""
    st = os.stat(path)
    return _file_digest(str(path), st.st_size, st.st_mtime_ns)


def kernel_files(kernels: Iterable[Path]) -> list[Path]:
    """Each kernel, and for a metakernel the files it lists (after it)."""
    from ioflyby.spice.kernelset import metakernel_members

    files = []
    for kernel in kernels:
        files.append(kernel)
        if kernel.is_file():
            try:
                files += [m if m.is_absolute() else kernel.parent / m for m in metakernel_members(kernel)]
            except IoflybyError:
                pass
    return files


def _update_files(digest, files: Iterable[Path], base: Path | None) -> None:
    for path in files:
        name = path.name if base is None else str(path)
        digest.update(name.encode())
        digest.update(file_digest(path).encode() if path.is_file() else b"missing")


def item_key(item: Item, settings_digest: str) -> str:
    """The item's key (hex SHA-256): product bytes + kernel bytes and paths + settings."""
    digest = hashlib.sha256(b"ioflyby batch v1\0")
    _update_files(digest, product_files(item.path), None)
    digest.update(b"\0kernels\0")
    _update_files(digest, kernel_files(item.kernels), Path("/"))
    digest.update(b"\0settings\0" + settings_digest.encode())
    return digest.hexdigest()


def settings_digest(settings: dict) -> str:
    """SHA-256 of the settings (a JSON-ready dict, keys sorted)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()
