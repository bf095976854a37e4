"""Safe file handling: what ioflyby reads, and how its outputs appear.

Inputs: :func:`read_regular_file` reads only a regular file (never a device, FIFO, socket or
folder, also through a symlink), after checking its size on the open descriptor, and
:func:`check_regular_file` does the same check for files a library opens itself.

Names: :func:`check_name` is the one rule for a name taken from input (a product id, a target,
a file named inside a label or a zip) that may become part of a path; :func:`inside` builds an
output path from such a name and refuses any that would leave the output folder.

Outputs: :func:`check_out` says, before any work, whether an output folder can be written.
:class:`AtomicFiles` stages files (and folders) under temporary names in their destination folder
and renames them when all are complete; a set of several is published with a journal, so that a
run killed in the middle of the renames is completed by the next one. Temporary names carry the
writer's process id; the next writer into a folder removes those of processes that no longer run
(a killed run's leftovers). :class:`FolderLock` gives one run exclusive use of a folder.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import fcntl
import json
import os
import re
import shutil
import stat
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from ioflyby.errors import IoflybyError, OutputError

# ---------------------------------------------------------------- names from input

NAME_MAX_CHARS = 128
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def is_safe_name(name: object) -> bool:
    """True for a string of letters, digits, ``.``, ``_`` and ``-``, not starting with a dot, of at
    most :data:`NAME_MAX_CHARS` characters: safe as one path component on every platform."""
    return isinstance(name, str) and len(name) <= NAME_MAX_CHARS and _SAFE_NAME.fullmatch(name) is not None


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for quoting input in a one-line message."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        text = f"<{type(value).__name__} too long to show>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_name(name: object, what: str, error: type[IoflybyError] = IoflybyError) -> str:
    """``name`` when :func:`is_safe_name`; otherwise ``error`` saying that ``what`` cannot name a file."""
    if not is_safe_name(name):
        raise error(
            f"{what} = {shown(name)} cannot be used in a file name: use letters, digits, '.', '_' and '-' "
            f"(not starting with '.', at most {NAME_MAX_CHARS} characters)"
        )
    return name  # type: ignore[return-value]


def inside(folder: str | os.PathLike[str], name: str) -> Path:
    """``folder / name`` for an output named from input, refused (OutputError) unless it is one
    safe path component whose folder, symlinks resolved, is ``folder`` itself."""
    folder = Path(folder)
    final = folder / name
    if not is_safe_name(name) or final.parent.resolve() != folder.resolve():
        raise OutputError(f"refusing to write {shown(name)}: the name would leave the output folder {folder}")
    return final


# ---------------------------------------------------------------- inputs


def _kind(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def _check_stat(path: Path, st: os.stat_result, limit: int, error: type[IoflybyError], what: str) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{path}: {_kind(st.st_mode)}, not a regular file; refusing to read it as {what}")
    if st.st_size > limit:
        raise error(f"{path}: {st.st_size:,} bytes is too large for {what} (limit {limit:,})")


def check_regular_file(path: str | os.PathLike[str], limit: int, error: type[IoflybyError], what: str) -> Path:
    """``path`` when it is (or links to) a regular file of at most ``limit`` bytes; ``error`` otherwise.
    For files that a library opens itself (the check and its open are not one step)."""
    path = Path(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    _check_stat(path, st, limit, error, what)
    return path


def read_regular_file(path: str | os.PathLike[str], limit: int, error: type[IoflybyError], what: str) -> bytes:
    """The bytes of ``path``, a regular file of at most ``limit`` bytes, checked on the open
    descriptor (opened non-blocking, so a FIFO cannot hang it) before anything is read."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    try:
        _check_stat(path, os.fstat(fd), limit, error, what)
        chunks, total = [], 0
        while chunk := os.read(fd, min(1 << 20, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise error(f"{path}: grew beyond {limit:,} bytes while being read as {what}")
        return b"".join(chunks)
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


# ---------------------------------------------------------------- output folders


def _nearest_existing(path: Path) -> Path:
    probe = path
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    return probe


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and its ancestors that do not exist yet, deepest first."""
    folder = folder.absolute()
    existing = _nearest_existing(folder)
    return [folder, *folder.parents][: len(folder.parts) - len(existing.parts)]


def _remove_if_empty(folders: list[Path]) -> None:
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


@contextlib.contextmanager
def removed_on_failure(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Run the block; if it fails, remove ``folder`` and the parents the block created for it,
    where they are empty (a refused run leaves no empty output folder behind)."""
    created = _missing_folders(Path(folder))
    try:
        yield Path(folder)
    except BaseException:
        _remove_if_empty(created)
        raise


def _writable_folder(folder: Path) -> bool:
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        return not os.statvfs(folder).f_flag & os.ST_RDONLY
    except OSError:
        return False


def check_out(out: str | os.PathLike[str], flag: str = "--out") -> Path:
    """``out`` as a Path when it is a writable folder, or can be created as one; OutputError (one
    line naming ``flag``) when it is a file, lies under a file, or its file system or folder is
    read-only. Writes nothing."""
    out = Path(out).expanduser()
    existing = _nearest_existing(out.absolute())
    if not existing.is_dir():
        where = "is" if existing == out.absolute() else f"would be created under {existing}, which is"
        raise OutputError(f"{flag} {out} {where} not a folder: choose a folder")
    if not _writable_folder(existing):
        raise OutputError(f"{flag} {out}: {existing} is read-only (no write permission or a read-only file system); "
                          "choose a writable folder")
    return out


class FolderLock:
    """Exclusive use of an output folder by one run: ``flock`` on ``FOLDER/.ioflyby.lock`` (the
    folder is created). A second run is refused with OutputError; a killed run's lock goes with
    its process, so its leftover lock file does not block the next run."""

    NAME = ".ioflyby.lock"

    def __init__(self, folder: str | os.PathLike[str]):
        self.folder = Path(folder)
        self.path = self.folder / self.NAME
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        """Take the lock, or raise OutputError naming the process that holds it."""
        try:
            return self._acquire()
        except OSError as error:
            raise self._not_a_lock() if error.errno == errno.ELOOP else write_error(self.path, error) from None

    def _not_a_lock(self) -> OutputError:
        return OutputError(f"{self.path} is not an ioflyby lock file (a symlink, a hard link or a special file): "
                           "remove it or choose another folder")

    def _acquire(self) -> FolderLock:
        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            flags = os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
            fd = os.open(self.path, flags, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise OutputError(f"{self.folder} is in use by another ioflyby run (process {holder}): "
                                  "wait for it to finish or choose another folder") from None
            opened = os.fstat(fd)
            try:
                same = os.stat(self.path, follow_symlinks=False).st_ino == opened.st_ino
            except FileNotFoundError:
                same = False
            if same and not (stat.S_ISREG(opened.st_mode) and opened.st_nlink == 1):
                os.close(fd)
                raise self._not_a_lock()
            if same:  # not a lock file that its holder unlinked while we waited
                os.ftruncate(fd, 0)
                os.write(fd, str(os.getpid()).encode())
                self._fd = fd
                return self
            os.close(fd)

    def release(self) -> None:
        """Remove the lock file and release the lock."""
        if self._fd is not None:
            Path(self.path).unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self.release()


# ---------------------------------------------------------------- atomic outputs

_TEMPORARY = re.compile(r"^\..*\.(?P<pid>\d+)-[0-9a-f]{8}\.tmp(?:\..*)?$")
_JOURNAL_PREFIX = ".ioflyby-commit."
_current: contextvars.ContextVar[AtomicFiles | None] = contextvars.ContextVar("ioflyby_atomic_files", default=None)


def temporary_name(final_name: str, suffix: str = "") -> str:
    """A hidden name for a temporary of ``final_name`` carrying this process id (so a later run
    can tell a killed run's leftovers), ending in ``suffix`` (a file's extension, kept so that
    libraries that infer the format from it still work)."""
    stem = final_name[: len(final_name) - len(suffix)] if suffix and final_name.endswith(suffix) else final_name
    return f".{stem[:100]}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp{suffix}"


def is_temporary(name: str) -> bool:
    """True for a name :func:`temporary_name` makes (files, staging folders, journals)."""
    return _TEMPORARY.match(name) is not None


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _publish(temporary: Path, final: Path) -> None:
    """Rename ``temporary`` to ``final``; a folder replacing a folder moves the old one aside first."""
    if temporary.is_dir() and final.is_dir() and not final.is_symlink():
        old = final.with_name(temporary_name(final.name))
        os.replace(final, old)
        os.replace(temporary, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(temporary, final)


def _within(folder: Path, relative: str) -> Path | None:
    """``folder / relative`` for a relative path that stays in ``folder`` (symlinks resolved)."""
    parts = Path(relative).parts
    if Path(relative).is_absolute() or ".." in parts or not parts:
        return None
    path = folder / relative
    return path if path.parent.resolve().is_relative_to(folder) else None


def _roll_forward(journal: Path) -> None:
    """Finish the renames a killed run had started (its journal lists them), then drop the
    journal. Only that run's own temporaries are moved, to names inside the journal's folder: a
    journal planted by someone else cannot move anything in from, or out to, elsewhere."""
    folder = journal.parent.resolve()
    pid = _TEMPORARY.match(journal.name).group("pid")
    try:
        moves = json.loads(read_regular_file(journal, 1 << 20, OutputError, "a journal"))["moves"]
        for temporary, final in moves:
            source, target = _within(folder, temporary), _within(folder, final)
            own = any((match := _TEMPORARY.match(part)) and match.group("pid") == pid for part in Path(temporary).parts)
            if (source is not None and target is not None and own and os.path.lexists(source)
                    and not any(is_temporary(part) for part in Path(final).parts)):
                _publish(source, target)
    except (OSError, ValueError, KeyError, TypeError, OutputError):
        pass
    journal.unlink(missing_ok=True)


def clean_stale(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporaries that ioflyby runs no longer alive left in ``folder`` (after first
    completing any set whose renames they had begun); returns what was removed."""
    folder = Path(folder)
    try:
        entries = sorted(folder.iterdir(), key=lambda p: not p.name.startswith(_JOURNAL_PREFIX))
    except OSError:
        return []
    removed = []
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if not match or _process_alive(int(match.group("pid"))) or not os.path.lexists(entry):
            continue
        if entry.name.startswith(_JOURNAL_PREFIX):
            _roll_forward(entry)
        else:
            _remove(entry)
        removed.append(entry)
    return removed


class AtomicFiles:
    """Stage several output files (or folders) and publish them together, or not at all.

    >>> with AtomicFiles() as files:                       # doctest: +SKIP
    ...     tifffile.imwrite(files.path(out / "red.tif"), red)
    ...     files.path(out / "record.json").write_text(text)

    :meth:`path` returns a temporary path that does not exist yet (some writers, such as
    SPICE's ``spkopn``, refuse existing files) and keeps the final extension (so libraries that
    infer the format from it still work). On leaving the block without an error every staged
    file is renamed to its final name; several are published with a journal (a killed run's set
    is completed by the next writer into the folder); on an error the temporaries are removed and
    nothing that was already there is touched.

    An ``AtomicFiles`` opened inside another one (in the same context: threads need
    ``contextvars.copy_context().run``) joins it: its files are published with the outer set.
    Inside the block a file exists only under its temporary name (:func:`staged`).
    """

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []
        self._outer: AtomicFiles | None = None
        self._token: contextvars.Token | None = None
        self._cleaned: set[Path] = set()
        self._created: list[Path] = []
        self._lock = threading.Lock()

    def _register(self, temporary: Path, final: Path) -> None:
        with self._lock:
            self._pending.append((temporary, final))
        if self._outer is not None:
            self._outer._register(temporary, final)

    def _clean_once(self, folder: Path) -> None:
        root = self._outer or self
        with root._lock:
            if folder in root._cleaned:
                return
            root._cleaned.add(folder)
        clean_stale(folder)

    def path(self, final: str | os.PathLike[str]) -> Path:
        """A temporary path beside ``final`` (its folder is created) to write the file into."""
        final = Path(final)
        root = self._outer or self
        with root._lock:
            root._created.extend(_missing_folders(final.parent))
        final.parent.mkdir(parents=True, exist_ok=True)
        self._clean_once(final.parent)
        temporary = final.with_name(temporary_name(final.name, final.suffix))
        self._register(temporary, final)
        return temporary

    def adopt(self, temporary: str | os.PathLike[str], final: str | os.PathLike[str]) -> None:
        """Publish an existing file or folder ``temporary`` (written by other means) as ``final``."""
        final = Path(final)
        self._clean_once(final.parent)
        self._register(Path(temporary), final)

    def staged(self, final: str | os.PathLike[str]) -> Path | None:
        """The temporary under which ``final`` is staged here, or None."""
        final = Path(final)
        root = self._outer or self
        with root._lock:
            return next((t for t, f in reversed(root._pending) if f == final), None)

    def commit(self) -> None:
        """Rename every staged file to its final name (with a journal when there are several)."""
        pending, self._pending = self._pending, []
        if len(pending) == 1:
            _publish(*pending[0])
            return
        if not pending:
            return
        base = Path(os.path.commonpath([str(f.parent) for _, f in pending]))
        journal = base / f"{_JOURNAL_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp.json"
        moves = [[os.path.relpath(t, base), os.path.relpath(f, base)] for t, f in pending]
        staged_journal = journal.with_name(temporary_name(journal.name, ".json"))
        staged_journal.write_text(json.dumps({"moves": moves}), encoding="utf-8")
        os.replace(staged_journal, journal)
        for temporary, final in pending:
            _publish(temporary, final)
        journal.unlink(missing_ok=True)

    def discard(self) -> None:
        """Delete every staged temporary file (and, for the outermost set, the folders it created
        that are left empty)."""
        with self._lock:
            pending, self._pending = self._pending, []
        for temporary, _ in pending:
            _remove(temporary)
        if self._outer is not None:
            with self._outer._lock:
                self._outer._pending = [p for p in self._outer._pending if p not in pending]
        else:
            _remove_if_empty(sorted(set(self._created), key=lambda p: len(p.parts), reverse=True))

    def __enter__(self) -> AtomicFiles:
        self._outer = _current.get()
        if self._outer is None:
            self._token = _current.set(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None
        if self._outer is not None:  # joined: the outermost block publishes or discards
            if exc_type is not None:
                self.discard()
            return
        if exc_type is not None:
            self.discard()
            return
        try:
            self.commit()
        except OSError as error:
            self.discard()
            raise OutputError(f"cannot publish the outputs ({_reason(error)})") from None
        except BaseException:
            self.discard()
            raise


def staged(final: str | os.PathLike[str]) -> Path:
    """Where ``final`` can be read now: its temporary while an enclosing :class:`AtomicFiles` has
    it staged, else ``final`` itself."""
    current = _current.get()
    temporary = current.staged(final) if current is not None else None
    return temporary or Path(final)


def _reason(error: OSError) -> str:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{error.strerror}: free some space or choose another folder"
    return f"{error.strerror or error}{': ' + str(error.filename) if error.filename else ''}"


def write_error(path: str | os.PathLike[str], error: OSError) -> OutputError:
    """The OutputError for an OSError met while writing ``path`` (disk full, read-only, ...)."""
    return OutputError(f"cannot write {path}: {_reason(error)}")


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; returns the final path. OutputError when it cannot."""
    try:
        with AtomicFiles() as files:
            files.path(path).write_text(text, encoding=encoding)
    except OSError as error:
        raise write_error(path, error) from None
    return Path(path)


def save_figure(figure: Any, path: str | os.PathLike[str], dpi: int = 110, tight: bool = False) -> Path:
    """Write a matplotlib ``figure`` as PNG to ``path`` atomically, then close it (frees pyplot's
    reference); ``tight``: crop to the drawn content (``bbox_inches="tight"``)."""
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        with AtomicFiles() as files:
            figure.savefig(files.path(path), format="png", dpi=dpi, bbox_inches="tight" if tight else None)
    finally:
        plt.close(figure)
    return path
