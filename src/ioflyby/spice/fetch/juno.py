"""Which Juno kernels a time window needs, chosen from directory listings by their file names.

Versions and dates are read from NAIF's names: the latest LSK/PCK/FK/IK/SCLK, a chosen planetary
SPK, the latest Jovian satellite SPK, and the reconstructed Juno SPKs and CKs whose name dates
overlap the window. Dates in file names are ``YYMMDD`` (20YY). A name's coverage is taken as whole
days, from 00:00 of its first date to 24:00 of its second date (UTC), so a window touching either
end day selects it. Plans are lists of :class:`KernelChoice` in metakernel load order.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ioflyby.errors import FetchError
from ioflyby.spice.fetch.listing import KernelChoice, Lister, ListingEntry
from ioflyby.spice.fetch.window import Span, Window, overlaps, uncovered

DEFAULT_PLANETS = "de440s.bsp"
KIND_ORDER = ("LSK", "PCK", "FK", "IK", "SCLK", "SPK", "CK")


def _yymmdd(text: str) -> dt.datetime:
    """Midnight UTC of a ``YYMMDD`` date in a NAIF file name (years 2000–2099)."""
    return dt.datetime(2000 + int(text[:2]), int(text[2:4]), int(text[4:6]))


def _day_span(first: str, last: str) -> Span:  # [a, b)
    """Coverage [00:00 of ``first``, 24:00 of ``last``) of two ``YYMMDD`` dates in a name."""
    return _yymmdd(first), _yymmdd(last) + dt.timedelta(days=1)


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
        gaps = uncovered(window, [*covered, *((c.start, c.stop) for c in chosen)])
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
    if not uncovered(window, rec_spans):
        return [d.entry for d in recs]
    predicts = _newest_cover(_dated_spks(entries, _JUNO_SPK_PRE), window, rec_spans)
    orbit = [e for e in entries if e.name == _JUNO_SPK_ORBIT]
    gaps = uncovered(window, rec_spans + [(d.start, d.stop) for d in predicts])
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
        if overlaps(span, window) and (span not in best or version > best[span][0]):
            best[span] = (version, entry)
    if not best:
        raise FetchError(
            f"no reconstructed Juno attitude CK (juno_sc_rec_YYMMDD_YYMMDD_vNN.bc) overlaps "
            f"{window.start.isoformat()} .. {window.stop.isoformat()} UTC; attitude may not be "
            "published yet: use --no-ck to fetch the rest, or --base-url for another mirror"
        )
    return [best[span][1] for span in sorted(best)]


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


def generic_kernels(lister: Lister, planets: str, satellites: str | None) -> list[KernelChoice]:
    """The mission-independent kernels: latest ``naif00NN.tls``, ``pck000NN.tpc`` and
    ``gm_de4NN.tpc``, the planetary SPK named ``planets``, and the Jovian satellites SPK named
    ``satellites`` or else the highest ``jupNNN.bsp`` (names do not tell coverage; jup365 spans
    1600–2200)."""
    generic = "generic_kernels/"
    plan = [
        _pick_latest(lister, generic + "lsk/", r"naif(\d{4})\.tls", "LSK", "leapseconds kernel"),
        _pick_latest(lister, generic + "pck/", r"pck(\d{5})\.tpc", "PCK", "planetary constants kernel"),
        _pick_latest(lister, generic + "pck/", r"gm_de(\d{3})\.tpc", "PCK", "GM kernel"),
        _pick_named(lister, generic + "spk/planets/", planets, "SPK", "--planets"),
    ]
    if satellites:
        plan.append(_pick_named(lister, generic + "spk/satellites/", satellites, "SPK", "--satellites"))
    else:
        plan.append(_pick_latest(lister, generic + "spk/satellites/", r"jup(\d{3})\.bsp", "SPK",
                                 "Jovian satellite ephemeris"))
    return plan


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
    juno = "JUNO/kernels/"
    plan = generic_kernels(lister, planets, satellites) + [
        _pick_latest(lister, juno + "fk/", r"juno_v(\d+)\.tf", "FK", "Juno frames kernel"),
        _pick_latest(lister, juno + "ik/", r"juno_junocam_v(\d+)\.ti", "IK", "JunoCam instrument kernel"),
        _pick_latest(lister, juno + "sclk/", r"jno_sclkscet_(\d{5})\.tsc", "SCLK", "Juno clock kernel"),
    ]
    plan += [_choice("SPK", juno + "spk/", e) for e in select_juno_spk(lister(juno + "spk/"), window)]
    if include_ck:
        plan += [_choice("CK", juno + "ck/", e) for e in select_juno_ck(lister(juno + "ck/"), window)]
    return sorted(plan, key=lambda c: KIND_ORDER.index(c.kind))  # stable: keeps SPK/CK priority
