"""SPICE metakernels: a text kernel that loads the fetched files from the cache in load order.

Paths go through the path symbol ``$KERNELS`` (the cache folder); strings longer than a text
kernel allows are split into pieces continued with ``+``. Files are written in ASCII, atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ioflyby.fileio import atomic_write_text
from ioflyby.spice.fetch.listing import KernelChoice
from ioflyby.spice.fetch.window import Window

_MK_STRING_MAX = 78  # SPICE text-kernel strings hold up to 80 characters; '+' continues them


def metakernel_name(mission: str, window: Window) -> str:
    """File name of the metakernel for ``mission`` and ``window``: ``juno_<start>_<stop>.tm``,
    times as ``YYYYMMDDTHHMMSS`` UTC."""
    fmt = "%Y%m%dT%H%M%S"
    return f"{mission.lower()}_{window.start.strftime(fmt)}_{window.stop.strftime(fmt)}.tm"


def _kpl_string(value: str) -> list[str]:
    """A SPICE text-kernel string as quoted pieces of at most 80 characters, continued with '+'."""
    escaped = value.replace("'", "''")
    pieces = []
    while len(escaped) > _MK_STRING_MAX:
        cut = _MK_STRING_MAX - 1
        if escaped[cut - 1] == "'":  # never split a doubled quote
            cut -= 1
        pieces.append(f"'{escaped[:cut]}+'")
        escaped = escaped[cut:]
    pieces.append(f"'{escaped}'")
    return pieces


def metakernel_text(cache_dir: Path, choices: Sequence[KernelChoice], comment: str = "") -> str:
    """Text of a metakernel loading ``choices`` (in the given order) from ``cache_dir`` through the
    path symbol ``$KERNELS``."""
    lines = ["KPL/MK", "", "   Metakernel written by ioflyby kernels fetch.", ""]
    lines += [f"   {line}" for line in comment.splitlines()]
    lines += ["   Kernels are listed in load order: for SPK and CK the last file loaded wins.", "",
              "\\begindata", ""]
    lines.append("   PATH_VALUES  = ( " + "\n                    ".join(_kpl_string(str(cache_dir))) + " )")
    lines.append("   PATH_SYMBOLS = ( 'KERNELS' )")
    lines += ["", "   KERNELS_TO_LOAD = ("]
    for choice in choices:
        for piece in _kpl_string(f"$KERNELS/{choice.remote_path}"):
            lines.append(f"      {piece}")
    lines += ["   )", "", "\\begintext", ""]
    return "\n".join(lines)


def write_metakernel(path: Path, cache_dir: Path, choices: Sequence[KernelChoice], comment: str = "") -> Path:
    """Write the metakernel to ``path`` through a temporary file renamed when complete."""
    return atomic_write_text(path, metakernel_text(cache_dir.resolve(), choices, comment), encoding="ascii")
