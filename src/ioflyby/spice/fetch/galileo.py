"""Which Galileo kernels a time window needs, chosen from NAIF's ``GLL/kernels`` listings by name.

NAIF's Galileo tree (``pub/naif/GLL/kernels/``) names its files by coverage:

- trajectory SPKs ``gll_YYMMDD_YYMMDD_<tag>.bsp`` (coverage start and stop, two-digit years of
  1989–2003, e.g. the whole-mission reconstruction ``gll_951120_021126_raj2021.bsp``); chosen
  where they overlap the window, the latest coverage stop (then name) first until the window is
  covered;
- scan-platform CKs (frame GLL_SSI_PLATFORM's −77001 pointing) per calendar year:
  reconstructed ``gll_plt_rec_YYYY_<tag>_vNN.bc`` and predicted ``gll_plt_pre_YYYY_vNN.bc``; the
  highest ``vNN`` of each year the window touches, reconstructions where they exist, predicts
  only for years without one;
- the clock kernel ``mk000NN[a-z].tsc`` (the highest number, then letter).

LSK, PCK and the planetary and Jovian satellite SPKs come from ``generic_kernels`` as for Juno
(:func:`ioflyby.spice.fetch.juno.plan_juno`). Galileo has no NAIF instrument kernel for SSI: the
camera keywords are ISIS's ``ssiAddendum005.ti`` (:mod:`ioflyby.camera.ssi`), which the user adds.
A name's coverage is whole days (UTC) from 00:00 of its first date to 24:00 of its last.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from ioflyby.errors import FetchError
from ioflyby.spice.fetch.juno import (
    DEFAULT_PLANETS,
    KIND_ORDER,
    _choice,
    _Dated,
    _newest_cover,
    generic_kernels,
)
from ioflyby.spice.fetch.listing import KernelChoice, Lister, ListingEntry
from ioflyby.spice.fetch.window import Window, overlaps, uncovered

GLL = "GLL/kernels/"
_SPK = re.compile(r"gll_(\d{6})_(\d{6})_([A-Za-z0-9]+)\.bsp")
_CK_REC = re.compile(r"gll_plt_rec_(\d{4})(?:_[A-Za-z0-9]+)?_v(\d{2})\.bc")
_CK_PRE = re.compile(r"gll_plt_pre_(\d{4})_v(\d{2})\.bc")
_SCLK = re.compile(r"mk(\d{5})([a-z]?)\.tsc")
CENTURY_PIVOT = 89
"""Two-digit years from 89 are 19YY (Galileo launched in 1989), below it 20YY."""


def _galileo_date(text: str) -> dt.datetime:
    """Midnight UTC of a ``YYMMDD`` date in a Galileo file name (1989–2088)."""
    year = int(text[:2])
    return dt.datetime((1900 if year >= CENTURY_PIVOT else 2000) + year, int(text[2:4]), int(text[4:6]))


def select_galileo_spk(entries: Sequence[ListingEntry], window: Window) -> list[ListingEntry]:
    """Galileo trajectory SPKs ``gll_YYMMDD_YYMMDD_<tag>.bsp`` overlapping ``window``, in load
    order (the last has priority): the latest coverage stop first until the window is covered.
    FetchError when part of the window stays uncovered."""
    dated = []
    for entry in entries:
        match = _SPK.fullmatch(entry.name)
        if not match:
            continue
        try:
            start, stop = _galileo_date(match.group(1)), _galileo_date(match.group(2)) + dt.timedelta(days=1)
        except ValueError:
            continue
        dated.append(_Dated(entry, start, stop, (stop,)))
    chosen = _newest_cover(dated, window)
    gaps = uncovered(window, [(d.start, d.stop) for d in chosen])
    if gaps:
        lo, hi = gaps[0][0], min(gaps[0][1], window.stop)
        raise FetchError(f"no Galileo trajectory SPK (gll_YYMMDD_YYMMDD_*.bsp) covers {lo.isoformat()} .. "
                         f"{hi.isoformat()} UTC; Galileo flew 1989-10-18 .. 2003-09-21: check the dates, or "
                         "use --base-url for a mirror")
    return [d.entry for d in chosen]


def _best_per_year(entries: Sequence[ListingEntry], regex: re.Pattern[str], years: set[int]) -> dict[int, ListingEntry]:
    best: dict[int, tuple[int, ListingEntry]] = {}
    for entry in entries:
        match = regex.fullmatch(entry.name)
        if not match:
            continue
        year, version = int(match.group(1)), int(match.group(2))
        if year in years and (year not in best or version > best[year][0]):
            best[year] = (version, entry)
    return {year: entry for year, (_, entry) in best.items()}


def select_galileo_ck(entries: Sequence[ListingEntry], window: Window) -> list[ListingEntry]:
    """Scan-platform CKs for ``window``: per calendar year it touches, the highest-version
    reconstruction ``gll_plt_rec_YYYY_*_vNN.bc``, else the highest-version predict
    ``gll_plt_pre_YYYY_vNN.bc``; ordered by year. FetchError when no year has either."""
    years = {year for year in range(window.start.year, window.stop.year + 1)
             if overlaps((dt.datetime(year, 1, 1), dt.datetime(year + 1, 1, 1)), window)}
    reconstructed = _best_per_year(entries, _CK_REC, years)
    predicted = _best_per_year(entries, _CK_PRE, years)
    chosen = {**predicted, **reconstructed}
    if not chosen:
        raise FetchError(
            f"no Galileo scan-platform CK (gll_plt_rec_YYYY_*_vNN.bc or gll_plt_pre_YYYY_vNN.bc) for "
            f"{', '.join(str(y) for y in sorted(years))}; use --no-ck to fetch the rest and solve the pointing "
            "from the image")
    return [chosen[year] for year in sorted(chosen)]


def _pick_sclk(lister: Lister) -> KernelChoice:
    directory = GLL + "sclk/"
    best: tuple[tuple[int, str], ListingEntry] | None = None
    for entry in lister(directory):
        match = _SCLK.fullmatch(entry.name)
        if match and (best is None or (int(match.group(1)), match.group(2)) > best[0]):
            best = ((int(match.group(1)), match.group(2)), entry)
    if best is None:
        raise FetchError(f"no Galileo clock kernel (mk000NN[a-z].tsc) in the listing of {directory}; "
                         "is --base-url a NAIF tree?")
    return _choice("SCLK", directory, best[1])


def plan_galileo(
    lister: Lister,
    window: Window,
    *,
    planets: str = DEFAULT_PLANETS,
    satellites: str | None = None,
    include_ck: bool = True,
) -> list[KernelChoice]:
    """Kernels for Galileo over ``window``, in metakernel load order (LSK, PCK, SCLK, SPK, CK):
    the generic LSK, PCK and GM kernels, Galileo's latest SCLK, the planetary SPK ``planets``,
    the Jovian satellites ``satellites`` (else the highest ``jupNNN.bsp``), then the SPKs of
    :func:`select_galileo_spk` and (unless ``include_ck`` is False) the CKs of
    :func:`select_galileo_ck`. The SSI keywords (ISIS's ssiAddendum005.ti) are not on NAIF's tree."""
    plan = generic_kernels(lister, planets, satellites) + [_pick_sclk(lister)]
    plan += [_choice("SPK", GLL + "spk/", e) for e in select_galileo_spk(lister(GLL + "spk/"), window)]
    if include_ck:
        plan += [_choice("CK", GLL + "ck/", e) for e in select_galileo_ck(lister(GLL + "ck/"), window)]
    return sorted(plan, key=lambda c: KIND_ORDER.index(c.kind))
