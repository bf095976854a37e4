"""Calibration frames on disk: discovery, classification and selection by perijove.

Layout of a calibration directory (searched to two folder levels deep; nothing is shipped with
ioflyby, the user points at a directory):

- **kind** from the file name: ``dark`` (subtracted), ``pixelflat`` / ``pixel_flat`` (pixel-to-pixel
  and column response, e.g. from ``ioflyby calibrate derive-flat``), otherwise ``flat`` (the
  large-scale response incl. vignetting), ``mask`` or ``inpaint`` (bad pixels, nonzero = bad).
  A ``flat`` whose name contains ``overlap`` is a large-scale flat derived from framelet
  overlaps: ``ioflyby calibrate derive-flat --from-overlaps`` writes
  ``flat_overlap[_pjNN]_<filter>.tif`` (float32, mean 1) = the flat the directory selected as
  its base x the response correction along lines fitted to the overlaps, plus
  ``flat_overlap[_pjNN].json`` (ignored here); NN = the latest perijove of the products used.
  Files whose name matches none of these (``gain``, ``debias``, ``coverage``...) are ignored and
  listed as unused.
- **filter** from a token in the name (``blue``, ``green``, ``red``, ``methane``, or a trailing
  ``_0``/``_1``/``_2`` index = blue/green/red), or a *stack* of 384 rows = blue, green, red
  framelets (e.g. ``flatFieldsSmooth12to16.tiff``).
- **perijove** from ``pjNN`` in the file name or in a folder name between the directory and the
  file (``pj28/dark_blue.tif``); files without one apply to every perijove.
- formats: TIFF (any numeric type) or PNG (8/16-bit greyscale); 128 x 1648 per filter.

Selection for a product of perijove P, per kind and filter: among the files with perijove <= P
the one with the highest perijove (the *nearest earlier set*); files without a perijove rank
below any numbered one; at equal rank a flat derived from framelet overlaps beats any other
(it is its base flat corrected, see below), then a single-filter file beats a stack, then the
name decides. A product of unknown perijove gets the latest set. If a kind has files for the
filter but all are later than P, that is a CalibrationError (a later set describes a different
detector state); if a kind has no file for the filter at all, the step is skipped and recorded.

Single-filter flats (e.g. ``junocam_rgb_flatfield_v3_*``) are preferred over a stack
(``flatFieldsSmooth12to16.tiff``) at equal rank; a gradient along lines that a flat carries is
corrected by deriving an overlap flat on top of it (``flat_overlap``, which then wins selection).
The measurements behind this choice are in docs/conventions.md, "Calibration: measurements behind
the design".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ioflyby.camera.junocam import FRAMELET_LINES, FRAMELET_SAMPLES
from ioflyby.errors import CalibrationError
from ioflyby.fileio import check_regular_file

MAX_FRAME_BYTES = 64 << 20
"""Largest calibration file read (a 384-row float64 stack is 5 MB)."""
FRAME_SHAPE = (FRAMELET_LINES, FRAMELET_SAMPLES)
STACK_FILTERS: tuple[str, ...] = ("BLUE", "GREEN", "RED")
"""Filter of each 128-row layer of a stacked calibration file, top first, and of the ``_0``/``_1``/``_2``
name suffixes: a property of the calibration files' format, not of the camera."""
KINDS: tuple[str, ...] = ("dark", "flat", "pixelflat", "mask")
_SUFFIXES = (".tif", ".tiff", ".png")
_PJ = re.compile(r"(?:^|[^a-z0-9])pj[_-]?(\d{1,3})(?![0-9])", re.IGNORECASE)
_FILTER_WORDS = {"blue": "BLUE", "green": "GREEN", "red": "RED", "methane": "METHANE", "ch4": "METHANE"}
_INDEX = re.compile(r"_([0-2])$")


@dataclass(frozen=True)
class CalibrationFile:
    """One calibration file: what it is, for which filter(s), from which perijove."""

    path: Path
    kind: str
    filters: tuple[str, ...]  # one filter, or the stack order for a 384-row stack
    perijove: int | None
    stacked: bool


def _kind_of(name: str) -> str | None:
    lower = name.lower()
    if any(word in lower for word in ("coverage", "gain", "debias", "bias")):
        return None
    if "pixelflat" in lower or "pixel_flat" in lower or "pixel-flat" in lower:
        return "pixelflat"
    if "dark" in lower:
        return "dark"
    if "flat" in lower:
        return "flat"
    if "mask" in lower or "inpaint" in lower or "badpix" in lower:
        return "mask"
    return None


def _filter_of(stem: str) -> str | None:
    tokens = re.split(r"[^a-z0-9]+", stem.lower())
    for token in tokens:
        if token in _FILTER_WORDS:
            return _FILTER_WORDS[token]
    index = _INDEX.search(stem)
    return STACK_FILTERS[int(index.group(1))] if index else None


def _perijove_of(path: Path, root: Path) -> int | None:
    parts = [path.stem, *reversed(path.relative_to(root).parts[:-1])]
    for part in parts:
        match = _PJ.search(part)
        if match:
            return int(match.group(1))
    return None


def read_frame(path: Path) -> np.ndarray:
    """A calibration image as float64 (rows, 1648); CalibrationError if unreadable, not a regular
    file or larger than ``MAX_FRAME_BYTES``."""
    check_regular_file(path, MAX_FRAME_BYTES, CalibrationError, "a calibration frame")
    try:
        if path.suffix.lower() == ".png":
            from PIL import Image

            with Image.open(path) as image:
                array = np.asarray(image)
        else:
            import tifffile

            array = tifffile.imread(path)
    except Exception as exc:  # noqa: BLE001 - image libraries raise many types for corrupt files
        raise CalibrationError(f"{path}: cannot read calibration frame ({type(exc).__name__}: {exc})") from None
    array = np.squeeze(np.asarray(array))
    if array.ndim != 2 or array.shape[1] != FRAME_SHAPE[1] or array.dtype.kind not in "uifb":
        raise CalibrationError(f"{path}: calibration frame is {array.dtype} {array.shape}; expected (128 or 384, 1648)")
    return array.astype(np.float64)


def scan_directory(directory: Path) -> tuple[list[CalibrationFile], list[Path]]:
    """(recognised calibration files, ignored image files) under ``directory`` (two levels deep)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CalibrationError(f"{directory}: calibration directory not found (pass --calibration DIR)")
    found: list[CalibrationFile] = []
    ignored: list[Path] = []
    candidates = [p for pattern in ("*", "*/*", "*/*/*") for p in directory.glob(pattern)]
    for path in sorted(p for p in candidates if p.is_file() and p.suffix.lower() in _SUFFIXES):
        kind = _kind_of(path.name)
        if kind is None:
            ignored.append(path)
            continue
        filt = _filter_of(path.stem)
        if filt is None:
            found.append(CalibrationFile(path, kind, STACK_FILTERS, _perijove_of(path, directory), True))
        else:
            found.append(CalibrationFile(path, kind, (filt,), _perijove_of(path, directory), False))
    return found, ignored


def select_file(
    files: list[CalibrationFile], kind: str, filter_name: str, perijove: int | None
) -> CalibrationFile | None:
    """The file of ``kind`` for ``filter_name`` from the nearest earlier perijove (see module doc)."""
    matching = [f for f in files if f.kind == kind and filter_name in f.filters]
    if not matching:
        return None

    def rank(item: CalibrationFile) -> tuple[int, int, int, str]:
        derived = int(item.kind == "flat" and "overlap" in item.path.name.lower())
        return (-1 if item.perijove is None else item.perijove, derived, 0 if item.stacked else 1, item.path.name)

    eligible = matching if perijove is None else [f for f in matching if f.perijove is None or f.perijove <= perijove]
    if not eligible:
        sets = sorted({f.perijove for f in matching if f.perijove is not None})
        raise CalibrationError(
            f"{kind} frames for {filter_name} exist only for PJ {sets} in {matching[0].path.parent}, "
            f"all later than the product's PJ{perijove}; add an earlier set or skip the step (--skip {kind})"
        )
    return max(eligible, key=rank)


def load_for_filter(item: CalibrationFile, filter_name: str) -> np.ndarray:
    """The 128 x 1648 frame of ``filter_name`` from ``item`` (a slice of a stack where needed)."""
    array = read_frame(item.path)
    rows = FRAME_SHAPE[0]
    if item.stacked:
        if array.shape[0] != rows * len(item.filters):
            raise CalibrationError(
                f"{item.path}: a stacked frame must have {rows * len(item.filters)} rows "
                f"({'/'.join(item.filters)}), it has {array.shape[0]}"
            )
        index = item.filters.index(filter_name)
        array = array[index * rows : (index + 1) * rows]
    elif array.shape[0] != rows:
        raise CalibrationError(f"{item.path}: expected {rows} rows for one filter, found {array.shape[0]}")
    if not np.all(np.isfinite(array)):
        array = np.where(np.isfinite(array), array, 0.0)
    return array
