"""Atomic outputs: files appear complete under their final names, or not at all.

Every writer in ioflyby stages its files under temporary names in the destination folder and
renames them when all of them are complete; on any failure the temporaries are removed and
nothing that was already there is touched.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from types import TracebackType


class AtomicFiles:
    """Stage several output files and publish them together.

    >>> with AtomicFiles() as files:                       # doctest: +SKIP
    ...     tifffile.imwrite(files.path(out / "red.tif"), red)
    ...     files.path(out / "record.json").write_text(text)

    :meth:`path` returns a temporary path that does not exist yet (some writers, such as
    SPICE's ``spkopn``, refuse existing files) and keeps the final extension (so libraries that
    infer the format from it still work).
    """

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []

    def path(self, final: str | os.PathLike[str]) -> Path:
        """A temporary path beside ``final`` (its folder is created) to write the file into."""
        final = Path(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        temporary = final.with_name(f".{final.stem}.{uuid.uuid4().hex[:10]}.tmp{final.suffix}")
        self._pending.append((temporary, final))
        return temporary

    def commit(self) -> None:
        """Rename every staged file to its final name."""
        for temporary, final in self._pending:
            os.replace(temporary, final)
        self._pending.clear()

    def discard(self) -> None:
        """Delete every staged temporary file."""
        for temporary, _ in self._pending:
            temporary.unlink(missing_ok=True)
        self._pending.clear()

    def __enter__(self) -> AtomicFiles:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if exc_type is None:
            try:
                self.commit()
            except BaseException:
                self.discard()
                raise
        else:
            self.discard()


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; returns the final path."""
    with AtomicFiles() as files:
        files.path(path).write_text(text, encoding=encoding)
    return Path(path)
