"""UTC time windows and the half-open spans of time that kernel files cover.

Times are naive :class:`datetime.datetime` values in UTC; no leapseconds kernel is needed (nor
available before the fetch). A :class:`Window` is closed, ``[start, stop]``; a :data:`Span` is
half-open, ``[a, b)``; a window equals the span ``[start, stop + 1 µs)`` at datetime resolution.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from ioflyby.errors import FetchError

_TICK = dt.timedelta(microseconds=1)  # datetime resolution: [start, stop] == [start, stop + tick)

Span = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class Window:
    """A UTC time window (naive datetimes in UTC), ``start <= stop``."""

    start: dt.datetime
    stop: dt.datetime


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


def _half_open(window: Window) -> Span:
    """The closed window [start, stop] as the half-open span [start, stop + 1 µs)."""
    return window.start, window.stop + _TICK


def overlaps(span: Span, window: Window) -> bool:
    """True when the half-open span [a, b) shares an instant with the closed window."""
    lo, hi = _half_open(window)
    return span[0] < hi and lo < span[1]


def uncovered(window: Window, spans: Iterable[Span]) -> list[Span]:
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
