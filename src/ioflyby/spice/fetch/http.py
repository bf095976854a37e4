"""HTTP access to a NAIF tree: directory listings, file sizes and resumable, verified downloads.

URLs are built from a base URL (the NAIF server or a mirror with the same layout) and a path
relative to it. Sizes are in bytes, timeouts in seconds. Downloads go to a ``.part`` file that an
HTTP ``Range`` request continues, are checked against the sizes announced by the server and the
directory listing, and are renamed to their final name only when complete. Only the standard
library (``urllib``) is used. Every failure is a :class:`~ioflyby.errors.FetchError` naming the URL
and what to do.
"""

from __future__ import annotations

import http.client
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ioflyby import __version__
from ioflyby.errors import FetchError

if TYPE_CHECKING:
    from ioflyby.spice.fetch.listing import KernelChoice

DEFAULT_BASE_URL = "https://naif.jpl.nasa.gov/pub/naif/"
MIRROR_HINT = "check the internet connection, or use --base-url URL to fetch from a NAIF mirror"

USER_AGENT = f"ioflyby/{__version__} (kernel fetch)"
TIMEOUT_S = 60.0
_CHUNK_BYTES = 1 << 16
# Apache prints sizes such as "5.1K" / "580K" (rounded to 0.1 below 10, to 1 above): 6 % + 1 KiB
# is wider than its rounding, narrow enough to catch an HTML error page served instead of a kernel.
_APPROX_REL_TOL = 0.06
_APPROX_ABS_TOL = 1024.0

ProgressHook = Callable[[str, int, "int | None"], None]
"""Called as ``hook(file_name, bytes_done, bytes_total_or_None)`` while a file downloads."""


def normalise_base(base_url: str) -> str:
    """``base_url`` stripped and ending in ``/``; FetchError when it is not a URL."""
    base = base_url.strip()
    if not urllib.parse.urlsplit(base).scheme:
        raise FetchError(f"--base-url {base_url!r} is not a URL (expected e.g. {DEFAULT_BASE_URL})")
    return base if base.endswith("/") else base + "/"


def quoted_url(base: str, remote_path: str) -> str:
    """The URL of ``remote_path`` (relative, unquoted) under a base from :func:`normalise_base`."""
    return base + urllib.parse.quote(remote_path)


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


def fetch_text(url: str, timeout: float = TIMEOUT_S) -> str:
    """The body of ``url`` decoded as text (for directory listings). FetchError on failure."""
    try:
        with urllib.request.urlopen(_request(url), timeout=timeout) as response:
            charset = response.headers.get_content_charset() or "utf-8"
            return response.read().decode(charset, errors="replace")
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise _http_failure(url, exc, "reading the directory listing") from None


def remote_size(url: str, timeout: float = TIMEOUT_S) -> int | None:
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
    if size is None and approx_size is not None and not _within_rounding(got, approx_size):
        raise FetchError(
            f"downloaded {got} bytes from {url} but the directory listing says about "
            f"{approx_size:.0f}: the server sent something else (an error page?); {MIRROR_HINT}"
        )


def _within_rounding(got: int, approx_size: float) -> bool:
    """True when ``got`` bytes agree with a listing's rounded size ``approx_size`` (bytes)."""
    return abs(got - approx_size) <= _APPROX_REL_TOL * approx_size + _APPROX_ABS_TOL


def download(
    url: str,
    path: str | Path,
    *,
    size: int | None = None,
    approx_size: float | None = None,
    progress: ProgressHook | None = None,
    retries: int = 2,
    timeout: float = TIMEOUT_S,
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


def cached_size_ok(path: Path, choice: KernelChoice, url: str, timeout: float = TIMEOUT_S) -> bool:
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
    return choice.approx_size is None or _within_rounding(have, choice.approx_size)
