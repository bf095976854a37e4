"""Select and download SPICE kernels for a mission and a time window from the NAIF trees.

The NAIF server (``https://naif.jpl.nasa.gov/pub/naif/`` by default, or any mirror with the same
layout given as ``base_url``) publishes Apache-style HTML directory listings. For a window
``[start, stop]`` (UTC) this package:

1. reads the listings of the directories a mission needs (:mod:`.listing`, :func:`parse_listing`);
2. picks files by the versions and dates encoded in their names (:func:`plan_kernels`, with the
   mission's planner, :data:`MISSIONS`: :func:`~.juno.plan_juno`, :func:`~.galileo.plan_galileo`);
3. downloads each into a cache that mirrors the remote relative path (:mod:`.http`,
   :func:`download`: ``.part`` file, HTTP ``Range`` resume, size checks, atomic rename);
4. writes a metakernel that loads them in the order SPICE needs (:mod:`.metakernel`,
   :func:`write_metakernel`).

This module holds the orchestration (:func:`plan_kernels`, :func:`fetch_kernels`) and re-exports
the public names of its modules. Times are UTC, sizes bytes, timeouts seconds. Only the standard
library is used for HTTP (``urllib``) and HTML (``html.parser``).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

from ioflyby.errors import FetchError
from ioflyby.spice.fetch.galileo import plan_galileo, select_galileo_ck, select_galileo_spk
from ioflyby.spice.fetch.http import (
    DEFAULT_BASE_URL,
    MIRROR_HINT,
    TIMEOUT_S,
    USER_AGENT,
    ProgressHook,
    cached_size_ok,
    download,
    fetch_text,
    normalise_base,
    quoted_url,
    remote_size,
)
from ioflyby.spice.fetch.juno import (
    DEFAULT_PLANETS,
    KIND_ORDER,
    latest_version,
    plan_juno,
    select_juno_ck,
    select_juno_spk,
)
from ioflyby.spice.fetch.listing import KernelChoice, Lister, ListingEntry, listing_reader, parse_listing
from ioflyby.spice.fetch.metakernel import metakernel_name, metakernel_text, write_metakernel
from ioflyby.spice.fetch.window import Span, Window, parse_utc, parse_window

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_PLANETS",
    "KIND_ORDER",
    "MIRROR_HINT",
    "MISSIONS",
    "USER_AGENT",
    "FetchResult",
    "FetchedFile",
    "KernelChoice",
    "Lister",
    "ListingEntry",
    "ProgressHook",
    "Span",
    "Window",
    "cached_size_ok",
    "default_cache_dir",
    "download",
    "fetch_kernels",
    "fetch_text",
    "latest_version",
    "listing_reader",
    "metakernel_name",
    "metakernel_text",
    "parse_listing",
    "parse_utc",
    "parse_window",
    "plan_galileo",
    "plan_juno",
    "plan_kernels",
    "remote_size",
    "select_galileo_ck",
    "select_galileo_spk",
    "select_juno_ck",
    "select_juno_spk",
    "write_metakernel",
]


@dataclass(frozen=True)
class FetchedFile:
    """A kernel in the cache (or, for a dry run, one that would be fetched).

    ``bytes`` is the file size in bytes (for a dry run of a file not cached: the listing's size,
    rounded where the listing rounds, ``None`` where it gives none); ``cached`` is True when the
    file was already in the cache with the right size and was not downloaded again.
    """

    kind: str
    url: str
    path: Path
    bytes: int | None
    cached: bool

    def to_dict(self) -> dict:
        """JSON-ready form: ``{"kind", "url", "path", "bytes", "cached"}``."""
        return {"kind": self.kind, "url": self.url, "path": str(self.path), "bytes": self.bytes,
                "cached": self.cached}


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch_kernels` did: the metakernel path and the files, in load order.

    For a dry run nothing is downloaded or written and ``metakernel`` is the path that a real run
    would write.
    """

    metakernel: Path
    files: list[FetchedFile]
    dry_run: bool = False

    def to_dict(self) -> dict:
        """JSON-ready form (the ``ioflyby kernels fetch --json`` contract):
        ``{"metakernel", "files": [{"url", "path", "bytes", "cached", "kind"}], "dry_run"}``."""
        return {"metakernel": str(self.metakernel), "files": [f.to_dict() for f in self.files],
                "dry_run": self.dry_run}


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/ioflyby/kernels``, i.e. ``~/.cache/ioflyby/kernels`` by default."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "ioflyby" / "kernels"


MISSIONS: dict[str, Callable[..., list[KernelChoice]]] = {"juno": plan_juno, "galileo": plan_galileo}


def plan_kernels(
    mission: str,
    start: str | dt.datetime,
    stop: str | dt.datetime,
    *,
    base_url: str = DEFAULT_BASE_URL,
    planets: str = DEFAULT_PLANETS,
    satellites: str | None = None,
    include_ck: bool = True,
    lister: Lister | None = None,
    timeout: float = TIMEOUT_S,
) -> list[KernelChoice]:
    """Read the listings under ``base_url`` and choose the kernels of ``mission`` for the UTC
    window ``[start, stop]``, in load order. FetchError for an unknown mission or failed listing."""
    planner = MISSIONS.get(mission.lower())
    if planner is None:
        raise FetchError(f"unknown mission {mission!r}; supported: {', '.join(sorted(MISSIONS))}")
    window = parse_window(start, stop)
    read = lister or listing_reader(base_url, timeout)
    return planner(read, window, planets=planets, satellites=satellites, include_ck=include_ck)


def fetch_kernels(
    start: str | dt.datetime,
    stop: str | dt.datetime,
    dest: str | Path,
    *,
    mission: str = "juno",
    base_url: str = DEFAULT_BASE_URL,
    cache: str | Path | None = None,
    planets: str = DEFAULT_PLANETS,
    satellites: str | None = None,
    include_ck: bool = True,
    dry_run: bool = False,
    progress: ProgressHook | None = None,
    retries: int = 2,
    timeout: float = TIMEOUT_S,
) -> FetchResult:
    """Select, download (cached, verified) and list in a metakernel the kernels of ``mission`` for
    the UTC window ``[start, stop]``.

    Files go to ``cache`` (default :func:`default_cache_dir`) under their path relative to
    ``base_url``; files already there with the right size are not downloaded again. The metakernel
    ``<dest>/<mission>_<start>_<stop>.tm`` is written last, only when every file is in place.
    ``dry_run`` reads the listings and reports what would be fetched, downloading nothing.
    Raises FetchError naming the URL that failed and what to do.
    """
    window = parse_window(start, stop)
    base = normalise_base(base_url)
    cache_dir = Path(cache).expanduser() if cache is not None else default_cache_dir()
    choices = plan_kernels(mission, window.start, window.stop, base_url=base, planets=planets,
                           satellites=satellites, include_ck=include_ck, timeout=timeout)
    metakernel = Path(dest).expanduser() / metakernel_name(mission, window)
    files: list[FetchedFile] = []
    for choice in choices:
        url = quoted_url(base, choice.remote_path)
        local = cache_dir / choice.remote_path
        if dry_run:
            cached = local.is_file() and (choice.size is None or local.stat().st_size == choice.size)
            guess = choice.size if choice.size is not None else (
                round(choice.approx_size) if choice.approx_size is not None else None)
            files.append(FetchedFile(choice.kind, url, local, local.stat().st_size if cached else guess, cached))
        elif cached_size_ok(local, choice, url, timeout):
            files.append(FetchedFile(choice.kind, url, local, local.stat().st_size, True))
        else:
            got = download(url, local, size=choice.size, approx_size=choice.approx_size,
                           progress=progress, retries=retries, timeout=timeout)
            files.append(FetchedFile(choice.kind, url, local, got, False))
    if not dry_run:
        comment = (f"Mission {mission.lower()}, window {window.start.isoformat()} .. "
                   f"{window.stop.isoformat()} UTC,\nfetched from {base} on "
                   f"{formatdate(usegmt=True)}.")
        write_metakernel(metakernel, cache_dir, choices, comment)
    return FetchResult(metakernel, files, dry_run)
