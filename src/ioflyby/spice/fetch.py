"""Select and download SPICE kernels for a mission and a time window from the NAIF trees.

The NAIF server (``https://naif.jpl.nasa.gov/pub/naif/`` by default, or any mirror with the same
layout given as ``base_url``) publishes Apache-style HTML directory listings. For a window
``[start, stop]`` (UTC) this module:

1. reads the listings of the directories a mission needs (:func:`parse_listing`);
2. picks files by the versions and dates encoded in their names (:func:`plan_kernels`):
   latest LSK/PCK/FK/IK/SCLK, a chosen planetary SPK, the latest Jovian satellite SPK, the
   reconstructed Juno SPKs and CKs whose name dates overlap the window;
3. downloads each into a cache that mirrors the remote relative path (:func:`download`:
   ``.part`` file, HTTP ``Range`` resume, size checks, atomic rename);
4. writes a metakernel that loads them in the order SPICE needs (:func:`write_metakernel`).

Dates in file names are ``YYMMDD`` (20YY). A name's coverage is taken as whole days, from 00:00 of
its first date to 24:00 of its second date (UTC), so a window touching either end day selects it.
Only the standard library is used for HTTP (``urllib``) and HTML (``html.parser``).
"""

from __future__ import annotations

import datetime as dt
import http.client
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from html.parser import HTMLParser
from pathlib import Path

from ioflyby import __version__
from ioflyby.errors import FetchError
from ioflyby.fileio import atomic_write_text

DEFAULT_BASE_URL = "https://naif.jpl.nasa.gov/pub/naif/"
DEFAULT_PLANETS = "de440s.bsp"
KIND_ORDER = ("LSK", "PCK", "FK", "IK", "SCLK", "SPK", "CK")
MIRROR_HINT = "check the internet connection, or use --base-url URL to fetch from a NAIF mirror"

USER_AGENT = f"ioflyby/{__version__} (kernel fetch)"
_CHUNK_BYTES = 1 << 16
_TIMEOUT_S = 60.0
# Apache prints sizes such as "5.1K" / "580K" (rounded to 0.1 below 10, to 1 above): 6 % + 1 KiB
# is wider than its rounding, narrow enough to catch an HTML error page served instead of a kernel.
_APPROX_REL_TOL = 0.06
_APPROX_ABS_TOL = 1024.0
_MK_STRING_MAX = 78  # SPICE text-kernel strings hold up to 80 characters; '+' continues them

ProgressHook = Callable[[str, int, "int | None"], None]
"""Called as ``hook(file_name, bytes_done, bytes_total_or_None)`` while a file downloads."""

Lister = Callable[[str], "list[ListingEntry]"]
"""Returns the entries of a remote directory given its path relative to the base URL."""


# -- data ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ListingEntry:
    """One file in a remote directory listing.

    ``size`` is the exact size in bytes when the listing prints a plain byte count (nginx, or
    Apache for files under 1 KiB); ``approx_size`` is the size in bytes read from a rounded
    human-readable column such as ``5.1K`` (Apache's default), ``None`` where none is shown.
    """

    name: str
    size: int | None = None
    approx_size: float | None = None


@dataclass(frozen=True)
class KernelChoice:
    """A kernel selected for download: its kind (LSK … CK) and path relative to the base URL."""

    kind: str
    remote_path: str
    size: int | None = None
    approx_size: float | None = None

    @property
    def name(self) -> str:
        """The file name (last component of the remote path)."""
        return self.remote_path.rsplit("/", 1)[-1]


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


@dataclass(frozen=True)
class Window:
    """A UTC time window (naive datetimes in UTC), ``start <= stop``."""

    start: dt.datetime
    stop: dt.datetime


# -- time window --------------------------------------------------------------------------------
def parse_utc(text: str, what: str = "time") -> dt.datetime:
    """Naive UTC datetime of an ISO 8601 string (``2023-12-30``, ``2023-12-30T07:35:12Z``, …).

    No leapseconds kernel is needed (nor available yet): selection works on whole days.
    """
    value = text.strip()
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise FetchError(
            f"cannot read the {what} {text!r}: give an ISO UTC time such as 2023-12-30T08:00:00 "
            "or a date such as 2023-12-30"
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def parse_window(start: str | dt.datetime, stop: str | dt.datetime) -> Window:
    """A :class:`Window` from two UTC times (strings or naive UTC datetimes); FetchError if reversed."""
    begin = start if isinstance(start, dt.datetime) else parse_utc(start, "start time")
    end = stop if isinstance(stop, dt.datetime) else parse_utc(stop, "stop time")
    if end < begin:
        raise FetchError(f"the stop time {end.isoformat()} is before the start time {begin.isoformat()}")
    return Window(begin, end)


def metakernel_name(mission: str, window: Window) -> str:
    """File name of the metakernel for ``mission`` and ``window``: ``juno_<start>_<stop>.tm``,
    times as ``YYYYMMDDTHHMMSS`` UTC."""
    fmt = "%Y%m%dT%H%M%S"
    return f"{mission.lower()}_{window.start.strftime(fmt)}_{window.stop.strftime(fmt)}.tm"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/ioflyby/kernels``, i.e. ``~/.cache/ioflyby/kernels`` by default."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "ioflyby" / "kernels"


# -- listings -----------------------------------------------------------------------------------
_DATE_TOKEN = re.compile(r"^(\d{4}-\d{2}-\d{2}|\d{1,2}-[A-Za-z]{3}-\d{4})$")
_TIME_TOKEN = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$")
_SIZE_TOKEN = re.compile(r"^(\d+(?:\.\d+)?)([KMGT]?)$")
_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class _AnchorCollector(HTMLParser):
    """Collects ``<a href>`` targets and the text between each anchor and the next one."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, list[str]]] = []
        self._in_anchor = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            self.links.append((href or "", []))
            self._in_anchor = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._in_anchor = False

    def handle_data(self, data: str) -> None:
        if self.links and not self._in_anchor:
            self.links[-1][1].append(data)


def _file_name_of(href: str) -> str | None:
    """The file name an href of a directory listing points at, None for anything else
    (parent directory, sort links ``?C=N;O=D``, sub-directories, absolute or external links)."""
    if not href or href[0] in "?#/" or "://" in href or href.startswith("mailto:"):
        return None
    path = urllib.parse.unquote(href.split("?", 1)[0].split("#", 1)[0])
    if not path or "/" in path or path in (".", ".."):
        return None
    return path


def _size_after_date(text: str) -> tuple[int | None, float | None]:
    """(exact bytes, approximate bytes) from the text after a link: ``date [time] size``."""
    tokens = text.split()
    for i, token in enumerate(tokens):
        if not _DATE_TOKEN.match(token):
            continue
        j = i + 1
        if j < len(tokens) and _TIME_TOKEN.match(tokens[j]):
            j += 1
        if j < len(tokens):
            match = _SIZE_TOKEN.match(tokens[j])
            if match:
                number, unit = match.groups()
                if unit == "" and "." not in number:
                    return int(number), float(number)
                return None, float(number) * _SIZE_UNITS[unit]
        return None, None
    return None, None


def parse_listing(html: str) -> list[ListingEntry]:
    """Files in an HTML directory listing (Apache fancy/table/plain, nginx autoindex, …).

    Links are read with :mod:`html.parser`; parent-directory, sort, sub-directory and external
    links are ignored. Sizes are read from the ``date time size`` text following a link when
    present (see :class:`ListingEntry`). Order and first occurrence are kept; duplicates dropped.
    """
    collector = _AnchorCollector()
    collector.feed(html)
    collector.close()
    entries: dict[str, ListingEntry] = {}
    for href, texts in collector.links:
        name = _file_name_of(href)
        if name is None or name in entries:
            continue
        size, approx = _size_after_date(" ".join(texts))
        entries[name] = ListingEntry(name, size, approx)
    return list(entries.values())


# -- HTTP ---------------------------------------------------------------------------------------
def _request(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> urllib.request.Request:
    return urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})}, method=method)


def _http_failure(url: str, exc: BaseException, doing: str) -> FetchError:
    """A FetchError saying which URL failed, how, and what to do."""
    if isinstance(exc, urllib.error.HTTPError):
        how = f"HTTP {exc.code} {exc.reason}"
        if exc.code == 404:
            return FetchError(f"{doing} {url} failed: {how} (not on this server; is --base-url a "
                              f"NAIF tree such as {DEFAULT_BASE_URL}?)")
        return FetchError(f"{doing} {url} failed: {how}; try again later, or {MIRROR_HINT}")
    reason = getattr(exc, "reason", None) or exc
    return FetchError(f"{doing} {url} failed: {reason}; {MIRROR_HINT}")


def fetch_text(url: str, timeout: float = _TIMEOUT_S) -> str:
    """The body of ``url`` decoded as text (for directory listings). FetchError on failure."""
    try:
        with urllib.request.urlopen(_request(url), timeout=timeout) as response:
            charset = response.headers.get_content_charset() or "utf-8"
            return response.read().decode(charset, errors="replace")
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise _http_failure(url, exc, "reading the directory listing") from None


def remote_size(url: str, timeout: float = _TIMEOUT_S) -> int | None:
    """``Content-Length`` of ``url`` from a HEAD request (bytes), None where the server gives none."""
    try:
        with urllib.request.urlopen(_request(url, method="HEAD"), timeout=timeout) as response:
            length = response.headers.get("Content-Length")
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise _http_failure(url, exc, "checking the size of") from None
    return int(length) if length and length.isdigit() else None


class _Interrupted(Exception):
    """The transfer stopped before the announced end; the ``.part`` file holds what arrived."""

    def __init__(self, done: int, total: int | None, reason: str):
        super().__init__(reason)
        self.done, self.total, self.reason = done, total, reason


class _RestartNeeded(Exception):
    """The partial file cannot be continued (changed remote file, bad range): start again."""


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, total bytes) of a ``Content-Range: bytes a-b/total`` (or ``*/total``) header."""
    match = re.match(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)", value or "")
    if not match:
        return None, None
    first = int(match.group(1)) if match.group(1) else None
    total = int(match.group(2)) if match.group(2) != "*" else None
    return first, total


def _validator_path(part: Path) -> Path:
    return part.with_name(part.name + ".validator")


def _remove_partial(part: Path) -> None:
    part.unlink(missing_ok=True)
    _validator_path(part).unlink(missing_ok=True)


def _transfer(url: str, part: Path, progress: ProgressHook | None, timeout: float) -> int:
    """One HTTP GET of ``url`` into ``part``, resuming from its current length with ``Range``
    (and ``If-Range``, so a changed remote file is sent whole). Returns the final byte count.

    Raises _Interrupted when fewer bytes than announced arrived, _RestartNeeded when the partial
    file is unusable, FetchError for HTTP and connection errors.
    """
    have = part.stat().st_size if part.exists() else 0
    headers: dict[str, str] = {}
    validator = _validator_path(part)
    if have:
        headers["Range"] = f"bytes={have}-"
        if validator.exists():
            headers["If-Range"] = validator.read_text().strip()
    try:
        response = urllib.request.urlopen(_request(url, headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            _, total = _content_range(exc.headers.get("Content-Range"))
            if total == have:
                return have  # the partial file is already complete
            raise _RestartNeeded from None
        raise _http_failure(url, exc, "downloading") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise _http_failure(url, exc, "downloading") from None
    with response:
        if response.status == 206:
            first, total = _content_range(response.headers.get("Content-Range"))
            if first != have:
                raise _RestartNeeded
            mode, done = "ab", have
        else:  # 200: the server ignored the range (or the file changed): start from byte 0
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            mode, done = "wb", 0
            tag = response.headers.get("ETag") or response.headers.get("Last-Modified")
            validator.parent.mkdir(parents=True, exist_ok=True)
            if tag:
                validator.write_text(tag)
            else:
                validator.unlink(missing_ok=True)
        name = part.name.removesuffix(".part")
        with part.open(mode) as out:
            while True:
                try:
                    chunk = response.read(_CHUNK_BYTES)
                except (http.client.HTTPException, OSError) as exc:
                    raise _Interrupted(done, total, str(exc) or type(exc).__name__) from None
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(name, done, total)
    if total is not None and done < total:
        raise _Interrupted(done, total, "the server closed the connection early")
    if total is not None and done > total:
        raise _RestartNeeded
    return done


def _check_size(url: str, got: int, size: int | None, approx_size: float | None) -> None:
    """FetchError unless ``got`` bytes match the listing's exact size, or its rounded size."""
    if size is not None and got != size:
        raise FetchError(
            f"downloaded {got} bytes from {url} but the directory listing says {size}: the copy on "
            f"the server is incomplete or changed; try again later, or {MIRROR_HINT}"
        )
    if size is None and approx_size is not None:
        if abs(got - approx_size) > _APPROX_REL_TOL * approx_size + _APPROX_ABS_TOL:
            raise FetchError(
                f"downloaded {got} bytes from {url} but the directory listing says about "
                f"{approx_size:.0f}: the server sent something else (an error page?); {MIRROR_HINT}"
            )


def download(
    url: str,
    path: str | Path,
    *,
    size: int | None = None,
    approx_size: float | None = None,
    progress: ProgressHook | None = None,
    retries: int = 2,
    timeout: float = _TIMEOUT_S,
) -> int:
    """Download ``url`` to ``path`` and return its size in bytes.

    Bytes go to ``<path>.part``; an existing ``.part`` is continued with an HTTP ``Range`` request
    where the server answers 206 (and restarted where it answers 200). A transfer that stops early
    is resumed up to ``retries`` times; if it still fails, FetchError says so and the ``.part`` is
    kept so that the next call resumes. The result must match the ``Content-Length`` and the
    listing's ``size`` (exact bytes) or ``approx_size`` (rounded bytes); on a mismatch the partial
    file is deleted and FetchError raised. Only a complete, verified file is renamed to ``path``.
    """
    target = Path(path)
    part = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    restarted = False
    attempt = 0
    while True:
        try:
            got = _transfer(url, part, progress, timeout)
            break
        except _RestartNeeded:
            _remove_partial(part)
            if restarted:
                raise FetchError(f"the server keeps sending inconsistent byte ranges for {url}; "
                                 f"{MIRROR_HINT}") from None
            restarted = True
        except _Interrupted as exc:
            attempt += 1
            if attempt > retries:
                of_total = f" of {exc.total}" if exc.total is not None else ""
                raise FetchError(
                    f"downloading {url} was interrupted after {exc.done}{of_total} bytes "
                    f"({exc.reason}); the partial file {part} is kept: run the command again to "
                    f"resume, or {MIRROR_HINT}"
                ) from None
    try:
        _check_size(url, got, size, approx_size)
    except FetchError:
        _remove_partial(part)
        raise
    os.replace(part, target)
    _validator_path(part).unlink(missing_ok=True)
    return got


def cached_size_ok(path: Path, choice: KernelChoice, url: str, timeout: float = _TIMEOUT_S) -> bool:
    """True when ``path`` holds a complete copy of ``choice``: its size equals the listing's exact
    size or, where the listing rounds sizes, the server's ``Content-Length`` (HEAD request)."""
    if not path.is_file():
        return False
    have = path.stat().st_size
    if choice.size is not None:
        return have == choice.size
    length = remote_size(url, timeout)
    if length is not None:
        return have == length
    return choice.approx_size is None or abs(have - choice.approx_size) <= (
        _APPROX_REL_TOL * choice.approx_size + _APPROX_ABS_TOL
    )


# -- selection by file name ---------------------------------------------------------------------
def _yymmdd(text: str) -> dt.datetime:
    """Midnight UTC of a ``YYMMDD`` date in a NAIF file name (years 2000–2099)."""
    return dt.datetime(2000 + int(text[:2]), int(text[2:4]), int(text[4:6]))


def _day_span(first: str, last: str) -> tuple[dt.datetime, dt.datetime]:  # [a, b)
    """Coverage [00:00 of ``first``, 24:00 of ``last``) of two ``YYMMDD`` dates in a name."""
    return _yymmdd(first), _yymmdd(last) + dt.timedelta(days=1)


_TICK = dt.timedelta(microseconds=1)  # datetime resolution: [start, stop] == [start, stop + tick)

Span = tuple[dt.datetime, dt.datetime]


def _half_open(window: Window) -> Span:
    """The closed window [start, stop] as the half-open span [start, stop + 1 µs)."""
    return window.start, window.stop + _TICK


def _overlaps(span: Span, window: Window) -> bool:
    """True when the half-open span [a, b) shares an instant with the closed window."""
    lo, hi = _half_open(window)
    return span[0] < hi and lo < span[1]


def latest_version(entries: Iterable[ListingEntry], pattern: str) -> ListingEntry | None:
    """The entry whose whole name matches ``pattern`` with the largest integer in group 1."""
    regex = re.compile(pattern)
    best: tuple[int, ListingEntry] | None = None
    for entry in entries:
        match = regex.fullmatch(entry.name)
        if match and (best is None or int(match.group(1)) > best[0]):
            best = (int(match.group(1)), entry)
    return best[1] if best else None


@dataclass(frozen=True)
class _Dated:
    """A listing entry with coverage dates (and production date or version) read from its name."""

    entry: ListingEntry
    start: dt.datetime
    stop: dt.datetime
    rank: tuple  # larger is newer: (production date,) for SPK, (version,) for CK


def _uncovered(window: Window, spans: Iterable[Span]) -> list[Span]:
    """Parts of ``window`` that none of the half-open ``spans`` [a, b) covers, as half-open spans."""
    gaps = [_half_open(window)]
    for a, b in spans:
        remaining = []
        for lo, hi in gaps:
            if b <= lo or a >= hi:
                remaining.append((lo, hi))
                continue
            if a > lo:
                remaining.append((lo, a))
            if b < hi:
                remaining.append((b, hi))
        gaps = remaining
    return gaps


def _newest_cover(
    candidates: Sequence[_Dated],
    window: Window,
    covered: Sequence[Span] = (),
) -> list[_Dated]:
    """Files covering as much of ``window`` as they can, newest first: a file is kept when it
    covers some part of the window that neither ``covered`` nor a newer (higher-ranked) kept file
    covers. Returned oldest first, which is SPICE load order (the last loaded file has priority)."""
    chosen: list[_Dated] = []
    for item in sorted(candidates, key=lambda d: (d.rank, d.entry.name), reverse=True):
        gaps = _uncovered(window, [*covered, *((c.start, c.stop) for c in chosen)])
        if not gaps:
            break
        if any(item.start < hi and lo < item.stop for lo, hi in gaps):
            chosen.append(item)
    return list(reversed(chosen))


_JUNO_SPK_REC = re.compile(r"(?:juno|spk)_rec_(\d{6})_(\d{6})_(\d{6})\.bsp")
_JUNO_SPK_PRE = re.compile(r"(?:juno|spk)_pre_(\d{6})_(\d{6})_(\d{6})(?:_[A-Za-z0-9]+)?\.bsp")
_JUNO_SPK_ORBIT = "juno_rec_orbit.bsp"
_JUNO_CK_REC = re.compile(r"juno_sc_rec_(\d{6})_(\d{6})_v(\d{2})\.bc")


def _dated_spks(entries: Iterable[ListingEntry], regex: re.Pattern[str]) -> list[_Dated]:
    result = []
    for entry in entries:
        match = regex.fullmatch(entry.name)
        if not match:
            continue
        try:
            start, stop = _day_span(match.group(1), match.group(2))
            produced = _yymmdd(match.group(3))
        except ValueError:
            continue  # not a calendar date: not a file this rule knows
        result.append(_Dated(entry, start, stop, (produced,)))
    return result


def select_juno_spk(entries: Sequence[ListingEntry], window: Window) -> list[ListingEntry]:
    """Juno trajectory SPKs for ``window``, in load order (last has priority).

    Reconstructions ``juno_rec_``/``spk_rec_YYMMDD_YYMMDD_YYMMDD.bsp`` (coverage start, coverage
    stop, production date) overlapping the window are chosen newest production first until the
    window is covered. If part of the window stays uncovered, ``juno_rec_orbit.bsp`` (whole-mission
    reconstruction) and predicts ``spk_pre_…`` covering the gaps are added before them (lower
    priority). FetchError when nothing covers the window.
    """
    recs = _newest_cover(_dated_spks(entries, _JUNO_SPK_REC), window)
    rec_spans = [(d.start, d.stop) for d in recs]
    if not _uncovered(window, rec_spans):
        return [d.entry for d in recs]
    predicts = _newest_cover(_dated_spks(entries, _JUNO_SPK_PRE), window, rec_spans)
    orbit = [e for e in entries if e.name == _JUNO_SPK_ORBIT]
    gaps = _uncovered(window, rec_spans + [(d.start, d.stop) for d in predicts])
    if gaps and not orbit:
        lo, hi = gaps[0][0], min(gaps[0][1], window.stop)
        raise FetchError(
            f"no Juno trajectory SPK (juno_rec_*, spk_rec_*, {_JUNO_SPK_ORBIT}, spk_pre_*) covers "
            f"{lo.isoformat()} .. {hi.isoformat()} UTC; check the dates, or use --base-url for a "
            "mirror holding newer kernels"
        )
    return [d.entry for d in predicts] + orbit + [d.entry for d in recs]


def select_juno_ck(entries: Sequence[ListingEntry], window: Window) -> list[ListingEntry]:
    """Reconstructed Juno attitude CKs ``juno_sc_rec_YYMMDD_YYMMDD_vNN.bc`` overlapping
    ``window``: the highest ``vNN`` per date range, ordered by date range. Raw and predicted
    variants are never chosen. FetchError when none overlaps."""
    best: dict[tuple[dt.datetime, dt.datetime], tuple[int, ListingEntry]] = {}
    for entry in entries:
        match = _JUNO_CK_REC.fullmatch(entry.name)
        if not match:
            continue
        try:
            span = _day_span(match.group(1), match.group(2))
        except ValueError:
            continue
        version = int(match.group(3))
        if _overlaps(span, window) and (span not in best or version > best[span][0]):
            best[span] = (version, entry)
    if not best:
        raise FetchError(
            f"no reconstructed Juno attitude CK (juno_sc_rec_YYMMDD_YYMMDD_vNN.bc) overlaps "
            f"{window.start.isoformat()} .. {window.stop.isoformat()} UTC; attitude may not be "
            "published yet: use --no-ck to fetch the rest, or --base-url for another mirror"
        )
    return [best[span][1] for span in sorted(best)]


# -- missions -----------------------------------------------------------------------------------
def _pick_latest(lister: Lister, directory: str, pattern: str, kind: str, what: str) -> KernelChoice:
    entries = lister(directory)
    entry = latest_version(entries, pattern)
    if entry is None:
        raise FetchError(f"no {what} (file name matching {pattern}) in the listing of {directory}; "
                         "is --base-url a NAIF tree?")
    return _choice(kind, directory, entry)


def _pick_named(lister: Lister, directory: str, name: str, kind: str, option: str) -> KernelChoice:
    entries = lister(directory)
    for entry in entries:
        if entry.name == name:
            return _choice(kind, directory, entry)
    available = ", ".join(sorted(e.name for e in entries if e.name.endswith(".bsp"))[:20]) or "none"
    raise FetchError(f"{name} is not in {directory} (available: {available}); choose one with {option}")


def _choice(kind: str, directory: str, entry: ListingEntry) -> KernelChoice:
    return KernelChoice(kind, directory + entry.name, entry.size, entry.approx_size)


def plan_juno(
    lister: Lister,
    window: Window,
    *,
    planets: str = DEFAULT_PLANETS,
    satellites: str | None = None,
    include_ck: bool = True,
) -> list[KernelChoice]:
    """Kernels for Juno over ``window``, in metakernel load order (LSK, PCK, FK, IK, SCLK, SPK, CK).

    Generic: latest ``naif00NN.tls``, latest ``pck000NN.tpc`` and ``gm_de4NN.tpc``, the planetary
    SPK named ``planets`` (default de440s.bsp), the Jovian satellites SPK named ``satellites`` or
    else the highest ``jupNNN.bsp`` (names do not tell coverage; jup365 spans 1600–2200). Juno:
    latest ``juno_vNN.tf``, ``juno_junocam_vNN.ti``, ``jno_sclkscet_NNNNN.tsc``, then the SPKs of
    :func:`select_juno_spk` and (unless ``include_ck`` is False) the CKs of :func:`select_juno_ck`.
    """
    generic, juno = "generic_kernels/", "JUNO/kernels/"
    plan = [
        _pick_latest(lister, generic + "lsk/", r"naif(\d{4})\.tls", "LSK", "leapseconds kernel"),
        _pick_latest(lister, generic + "pck/", r"pck(\d{5})\.tpc", "PCK", "planetary constants kernel"),
        _pick_latest(lister, generic + "pck/", r"gm_de(\d{3})\.tpc", "PCK", "GM kernel"),
        _pick_latest(lister, juno + "fk/", r"juno_v(\d+)\.tf", "FK", "Juno frames kernel"),
        _pick_latest(lister, juno + "ik/", r"juno_junocam_v(\d+)\.ti", "IK", "JunoCam instrument kernel"),
        _pick_latest(lister, juno + "sclk/", r"jno_sclkscet_(\d{5})\.tsc", "SCLK", "Juno clock kernel"),
        _pick_named(lister, generic + "spk/planets/", planets, "SPK", "--planets"),
    ]
    if satellites:
        plan.append(_pick_named(lister, generic + "spk/satellites/", satellites, "SPK", "--satellites"))
    else:
        plan.append(_pick_latest(lister, generic + "spk/satellites/", r"jup(\d{3})\.bsp", "SPK",
                                 "Jovian satellite ephemeris"))
    plan += [_choice("SPK", juno + "spk/", e) for e in select_juno_spk(lister(juno + "spk/"), window)]
    if include_ck:
        plan += [_choice("CK", juno + "ck/", e) for e in select_juno_ck(lister(juno + "ck/"), window)]
    return sorted(plan, key=lambda c: KIND_ORDER.index(c.kind))  # stable: keeps SPK/CK priority


MISSIONS: dict[str, Callable[..., list[KernelChoice]]] = {"juno": plan_juno}


def _normalise_base(base_url: str) -> str:
    base = base_url.strip()
    if not urllib.parse.urlsplit(base).scheme:
        raise FetchError(f"--base-url {base_url!r} is not a URL (expected e.g. {DEFAULT_BASE_URL})")
    return base if base.endswith("/") else base + "/"


def _quoted_url(base: str, remote_path: str) -> str:
    return base + urllib.parse.quote(remote_path)


def listing_reader(base_url: str, timeout: float = _TIMEOUT_S) -> Lister:
    """A :data:`Lister` that GETs and parses each directory once (memoised)."""
    base = _normalise_base(base_url)
    memo: dict[str, list[ListingEntry]] = {}

    def read(directory: str) -> list[ListingEntry]:
        if directory not in memo:
            memo[directory] = parse_listing(fetch_text(_quoted_url(base, directory), timeout))
        return memo[directory]

    return read


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
    timeout: float = _TIMEOUT_S,
) -> list[KernelChoice]:
    """Read the listings under ``base_url`` and choose the kernels of ``mission`` for the UTC
    window ``[start, stop]``, in load order. FetchError for an unknown mission or failed listing."""
    planner = MISSIONS.get(mission.lower())
    if planner is None:
        raise FetchError(f"unknown mission {mission!r}; supported: {', '.join(sorted(MISSIONS))}")
    window = parse_window(start, stop)
    read = lister or listing_reader(base_url, timeout)
    return planner(read, window, planets=planets, satellites=satellites, include_ck=include_ck)


# -- metakernel ---------------------------------------------------------------------------------
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


# -- the whole job ------------------------------------------------------------------------------
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
    timeout: float = _TIMEOUT_S,
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
    base = _normalise_base(base_url)
    cache_dir = Path(cache).expanduser() if cache is not None else default_cache_dir()
    choices = plan_kernels(mission, window.start, window.stop, base_url=base, planets=planets,
                           satellites=satellites, include_ck=include_ck, timeout=timeout)
    metakernel = Path(dest).expanduser() / metakernel_name(mission, window)
    files: list[FetchedFile] = []
    for choice in choices:
        url = _quoted_url(base, choice.remote_path)
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
