"""Remote directory listings: the files an HTML directory index shows, with their sizes.

NAIF and its mirrors publish Apache-style listings (fancy, table or plain; nginx autoindex reads
the same way). Links are read with :mod:`html.parser`; sizes are in bytes, exact where the listing
prints a byte count and approximate where it prints a rounded column such as ``5.1K``. Remote
paths are relative to the base URL; directory paths end in ``/``.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser

from ioflyby.spice.fetch.http import TIMEOUT_S, fetch_text, normalise_base, quoted_url

Lister = Callable[[str], "list[ListingEntry]"]
"""Returns the entries of a remote directory given its path relative to the base URL."""

_DATE_TOKEN = re.compile(r"^(\d{4}-\d{2}-\d{2}|\d{1,2}-[A-Za-z]{3}-\d{4})$")
_TIME_TOKEN = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$")
_SIZE_TOKEN = re.compile(r"^(\d+(?:\.\d+)?)([KMGT]?)$")
_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


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


def listing_reader(base_url: str, timeout: float = TIMEOUT_S) -> Lister:
    """A :data:`Lister` that GETs and parses each directory once (memoised)."""
    base = normalise_base(base_url)
    memo: dict[str, list[ListingEntry]] = {}

    def read(directory: str) -> list[ListingEntry]:
        if directory not in memo:
            memo[directory] = parse_listing(fetch_text(quoted_url(base, directory), timeout))
        return memo[directory]

    return read
