"""numba for ioflyby's kernels: :func:`jit` compiles once, caches on disk and says when it compiles.

Where the compiled code is cached: beside the sources (numba's ``__pycache__``) when their folder
is writable, else in the user cache folder ``$XDG_CACHE_HOME/ioflyby/numba`` (by default
``~/.cache/ioflyby/numba``, beside the kernel cache), so that a read-only installation does not
compile on every run; a ``NUMBA_CACHE_DIR`` set by the user wins. The folder is chosen when a
kernel is decorated and numba's global setting is left as it was.

The first run after installing or upgrading compiles the kernels (the time is in the README);
when the first of them starts compiling, one INFO message :data:`NOTICE` goes to the
``ioflyby.compile`` logger, which the command line prints on stderr.
"""

from __future__ import annotations

import inspect
import logging
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import numba
from numba.core import event

NOTICE = "compiling the map kernels once (about 20 s); later runs load them from the cache"
log = logging.getLogger("ioflyby.compile")
_KERNELS: set[Callable] = set()  # the Python functions behind ioflyby's dispatchers


def jit(**options: Any) -> Callable[[Callable], Any]:
    """``numba.njit(cache=True, **options)``, cached as the module says, with the compile notice."""

    def decorate(function: Callable) -> Any:
        _listen_for_compiles()
        _KERNELS.add(function)
        with _cache_dir(_cache_folder(Path(inspect.getfile(function)).parent)):
            return numba.njit(cache=True, **options)(function)

    return decorate


@cache
def _cache_folder(source: Path) -> Path | None:
    """Where kernels defined in ``source`` are cached: None for numba's choice (the user's
    NUMBA_CACHE_DIR, or ``source/__pycache__`` when writable), else the user cache folder."""
    if numba.config.CACHE_DIR or _writable(source / "__pycache__"):
        return None
    from ioflyby.spice.fetch import default_cache_dir

    return default_cache_dir().parent / "numba"


def _writable(folder: Path) -> bool:
    """numba's own test of a cache folder: it can be created and a file written in it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


@contextmanager
def _cache_dir(folder: Path | None) -> Iterator[None]:
    """numba's cache folder set to ``folder`` (unchanged for None) while a kernel is decorated."""
    if folder is None:
        yield
        return
    previous = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = str(folder)
    try:
        yield
    finally:
        numba.config.CACHE_DIR = previous


class _CompileNotice(event.Listener):
    """Logs :data:`NOTICE` once, when the first of ioflyby's kernels starts compiling (numba's
    ``numba:compile`` event fires on compiling only, not on loading from the cache)."""

    def __init__(self) -> None:
        self.said = False

    def on_start(self, ev: event.Event) -> None:
        if not self.said and ev.data["dispatcher"].py_func in _KERNELS:
            self.said = True
            log.info(NOTICE)

    def on_end(self, ev: event.Event) -> None:
        pass


@cache
def _listen_for_compiles() -> None:
    event.register("numba:compile", _CompileNotice())
