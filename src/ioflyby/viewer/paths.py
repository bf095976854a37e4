"""Which files under the served folder a request may read: one rule, applied to every file URL.

A request names a file by a relative path (URL-decoded once by the server). It is refused unless

- it is at most :data:`MAX_PATH_CHARS` characters, printable, without NUL, backslash or ``%``
  (a ``%`` left after one decoding is double encoding: ``%252e%252e``),
- it is relative (no leading ``/``, no drive letter) and every component is a plain name (no
  empty, ``.`` or ``..`` component, none starting with ``.``: hidden files such as the demo's
  lock and marker are not served),
- its suffix is one of :data:`SERVED_SUFFIXES`,
- the real path (symlinks resolved) lies inside the real path of the served folder, and
- that real path is a regular file.

Syntax errors are answered 400, everything else 404 (the same answer for "absent" and "refused",
so a request cannot probe what exists outside the folder).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

MAX_PATH_CHARS = 512
"""Longest relative path accepted in a request (characters)."""
SERVED_SUFFIXES = frozenset({
    ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".geojson", ".json", ".csv", ".md", ".html", ".txt",
})
"""File types the viewer serves from the folder (outputs of ioflyby); anything else is 404."""
_DRIVE = re.compile(r"^[A-Za-z]:")


class PathRefused(Exception):
    """A requested path the viewer will not serve; ``status`` is the HTTP status to answer (400/404)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def check_syntax(relative: str) -> list[str]:
    """The components of ``relative`` when it is a well-formed relative path; PathRefused(400) otherwise."""
    if not relative or len(relative) > MAX_PATH_CHARS:
        raise PathRefused(400, f"path must have 1 to {MAX_PATH_CHARS} characters")
    if not relative.isprintable() or any(c in relative for c in "\\%\x00"):
        raise PathRefused(400, "path holds a backslash, '%' (double encoding) or a control character")
    if relative.startswith("/") or _DRIVE.match(relative):
        raise PathRefused(400, "absolute paths are not served: give a path relative to the served folder")
    parts = relative.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise PathRefused(400, "path components '', '.' and '..' are not allowed")
    return parts


def resolve_under(root: Path, relative: str, suffixes: frozenset[str] = SERVED_SUFFIXES) -> Path:
    """The real path of file ``relative`` inside ``root`` (itself a real path), after every check of
    the module docstring (``suffixes``: the file types accepted); PathRefused otherwise."""
    parts = check_syntax(relative)
    if any(part.startswith(".") for part in parts):
        raise PathRefused(404, "hidden files are not served")
    if Path(parts[-1]).suffix.lower() not in suffixes:
        raise PathRefused(404, "this file type is not served")
    real = Path(os.path.realpath(root.joinpath(*parts)))
    if not is_inside(root, real):
        raise PathRefused(404, "not inside the served folder")
    try:
        mode = os.stat(real).st_mode
    except OSError:
        raise PathRefused(404, "no such file") from None
    if not stat.S_ISREG(mode):
        raise PathRefused(404, "not a regular file")
    return real


def is_inside(root: Path, real: Path) -> bool:
    """True when real path ``real`` is ``root`` or below it (both already resolved)."""
    return Path(real).is_relative_to(root)


def relative_name(root: Path, real: Path) -> str:
    """``real`` (inside ``root``) as the POSIX relative path used in URLs."""
    return real.relative_to(root).as_posix()
