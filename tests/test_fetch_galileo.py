"""Galileo kernel fetching: selection from NAIF's GLL tree by the dates and versions in the file
names, end to end against a local HTTP server on 127.0.0.1 (no network).

The served tree holds REAL Galileo kernels from ../shared/data/kernels/galileo_1997_io_slices
under NAIF-like names, beside dummy files of other dates, versions and kinds that must never be
chosen. The expected selection is written out by hand from the naming rules."""

from __future__ import annotations

import datetime as dt
import functools
import os
import shutil
import threading
import urllib.parse
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import spiceypy

from ioflyby.errors import FetchError
from ioflyby.spice import Kernels, fetch_kernels
from ioflyby.spice.fetch import ListingEntry, Window, plan_kernels, select_galileo_ck, select_galileo_spk

GENERIC = "pub/naif/generic_kernels/"
GLL = "pub/naif/GLL/kernels/"
SLICES = "galileo_1997_io_slices/"
TREE = {
    GENERIC + "lsk/naif0012.tls": "lsk/naif0012.tls",
    GENERIC + "lsk/naif0011.tls": "dummy",
    GENERIC + "pck/pck00010.tpc": "pck/pck00010.tpc",
    GENERIC + "pck/pck00009.tpc": "dummy",
    GENERIC + "pck/gm_de431.tpc": "pck/gm_de431.tpc",
    GENERIC + "spk/planets/de440s.bsp": SLICES + "gllssi2isisAle1_0.bsp",
    GENERIC + "spk/planets/de430.bsp": "dummy",
    GENERIC + "spk/satellites/jup365.bsp": SLICES + "gllssi2isisAle1_0.bsp",
    GENERIC + "spk/satellites/jup310.bsp": "dummy",
    GLL + "sclk/mk00062b.tsc": SLICES + "mk00062b.tsc",
    GLL + "sclk/mk00062a.tsc": "dummy",
    GLL + "sclk/mk00061c.tsc": "dummy",
    GLL + "spk/gll_951120_021126_raj2021.bsp": SLICES + "gllssi2isisAle1_1.bsp",
    GLL + "spk/gll_890825_940101_old.bsp": "dummy",
    GLL + "spk/s970311a.bsp": "dummy",
    GLL + "ck/gll_plt_rec_1997_mav_v01.bc": SLICES + "CKmerge_type3.plt_1_sliced_-77001.bc",
    GLL + "ck/gll_plt_rec_1997_mav_v00.bc": "dummy",
    GLL + "ck/gll_plt_pre_1997_v00.bc": "dummy",
    GLL + "ck/gll_plt_rec_1996_mav_v00.bc": "dummy",
    GLL + "ck/gll_plt_pre_1998_v00.bc": "dummy",
    GLL + "ck/gll_plt_rec_1997_mav_v01.lbl": "dummy",
}
EXPECTED = [
    GENERIC + "lsk/naif0012.tls",
    GENERIC + "pck/pck00010.tpc",
    GENERIC + "pck/gm_de431.tpc",
    GLL + "sclk/mk00062b.tsc",
    GENERIC + "spk/planets/de440s.bsp",
    GENERIC + "spk/satellites/jup365.bsp",
    GLL + "spk/gll_951120_021126_raj2021.bsp",
    GLL + "ck/gll_plt_rec_1997_mav_v01.bc",
]
IMAGE_TIME = "1997-02-19T21:07:27.314"  # E6I0032 (its ISIS label's StartTime)


class NginxHandler(SimpleHTTPRequestHandler):
    """Static files with nginx-style autoindex listings (exact byte sizes)."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def list_directory(self, path):
        rel = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        rows = ['<html><head><title>Index of {0}</title></head><body><h1>Index of {0}</h1><hr><pre>'.format(rel),
                '<a href="../">../</a>']
        for name in sorted(os.listdir(path)):
            full = os.path.join(path, name)
            shown = "-" if os.path.isdir(full) else str(os.path.getsize(full))
            name += "/" if os.path.isdir(full) else ""
            rows.append(f'<a href="{urllib.parse.quote(name)}">{name}</a>{" " * 20}01-Jan-2020 00:00{shown:>20}')
        body = ("\n".join(rows) + "</pre><hr></body></html>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        import io

        return io.BytesIO(body)


@pytest.fixture()
def server(tmp_path: Path, kernel_dir: Path):
    if not (kernel_dir / SLICES).is_dir():
        pytest.skip("../shared/data/kernels/galileo_1997_io_slices is absent")
    root = tmp_path / "www"
    for remote, source in TREE.items():
        target = root / remote
        target.parent.mkdir(parents=True, exist_ok=True)
        if source == "dummy":
            target.write_bytes(b"not a kernel: must never be chosen\n")
        else:
            shutil.copyfile(kernel_dir / source, target)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(NginxHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/pub/naif/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _window(start: str, stop: str) -> Window:
    return Window(dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(stop))


def test_plan_picks_what_the_naming_rules_say(server):
    plan = plan_kernels("galileo", "1997-02-19T21:07:20", "1997-02-19T21:07:35", base_url=server)
    assert ["pub/naif/" + c.remote_path for c in plan] == EXPECTED
    assert [c.kind for c in plan] == ["LSK", "PCK", "PCK", "SCLK", "SPK", "SPK", "SPK", "CK"]


def test_fetched_kernels_give_e6i0032_geometry(server, tmp_path: Path, kernel_dir: Path):
    """The fetched metakernel (plus ISIS's SSI addendum, not on NAIF) orients GLL_SSI_PLATFORM and
    places Io exactly as the original files do."""
    result = fetch_kernels("1997-02-19T21:07:20", "1997-02-19T21:07:35", tmp_path / "mk", mission="galileo",
                           base_url=server, cache=tmp_path / "cache")
    assert [f.url.split("/pub/naif/")[1] for f in result.files] == [e.split("pub/naif/")[1] for e in EXPECTED]
    addendum = kernel_dir / SLICES / "ssiAddendum005.ti"

    def geometry(kernels):
        with Kernels(kernels):
            et = spiceypy.str2et(IMAGE_TIME)
            return (np.asarray(spiceypy.pxform("GLL_SSI_PLATFORM", "J2000", et)),
                    np.asarray(spiceypy.spkpos("IO", et, "J2000", "LT+S", "GALILEO ORBITER")[0]))

    fetched = geometry([result.metakernel, addendum])
    originals = [kernel_dir / "lsk/naif0012.tls", kernel_dir / "pck/pck00010.tpc", kernel_dir / SLICES / "mk00062b.tsc",
                 kernel_dir / SLICES / "gllssi2isisAle1_1.bsp", addendum,
                 kernel_dir / SLICES / "CKmerge_type3.plt_1_sliced_-77001.bc"]
    expected = geometry(originals)
    assert np.allclose(fetched[0], expected[0], atol=1e-12)
    assert np.allclose(fetched[1], expected[1], atol=1e-6)
    # E6I0032 shows Io as a 167-px-radius disc: 1821 km / (167 · 10.16 µrad) ≈ 1.07e6 km away.
    assert 1.0e6 < np.linalg.norm(fetched[1]) < 1.15e6


def _entries(*names: str) -> list[ListingEntry]:
    return [ListingEntry(name) for name in names]


def test_spk_two_digit_years_span_the_millennium():
    entries = _entries("gll_990101_991231_a.bsp", "gll_991201_000630_b.bsp", "gll_000101_021126_c.bsp",
                       "gll_951120_021126_raj2021.bsp", "gll_971301_980101_bad.bsp")
    chosen = select_galileo_spk(entries, _window("1999-12-30T00:00:00", "2000-01-02T00:00:00"))
    # Latest coverage stop first: the whole-mission file covers the window alone.
    assert [e.name for e in chosen] == ["gll_951120_021126_raj2021.bsp"]
    chosen = select_galileo_spk(entries[:3], _window("1999-12-30T00:00:00", "2000-07-02T00:00:00"))
    assert [e.name for e in chosen] == ["gll_991201_000630_b.bsp", "gll_000101_021126_c.bsp"]
    with pytest.raises(FetchError, match="1989-10-18"):
        select_galileo_spk(entries, _window("2004-01-01T00:00:00", "2004-01-02T00:00:00"))


def test_ck_per_year_reconstruction_before_predict():
    entries = _entries("gll_plt_rec_2001_mav_v00.bc", "gll_plt_rec_2001_mav_v02.bc", "gll_plt_pre_2001_v05.bc",
                       "gll_plt_pre_2002_v00.bc", "gll_plt_pre_2002_v01.bc", "gll_plt_rec_2003_mav_v00.bc")
    chosen = select_galileo_ck(entries, _window("2001-12-31T23:00:00", "2002-01-01T01:00:00"))
    assert [e.name for e in chosen] == ["gll_plt_rec_2001_mav_v02.bc", "gll_plt_pre_2002_v01.bc"]
    with pytest.raises(FetchError, match="--no-ck"):
        select_galileo_ck(entries, _window("1999-06-01T00:00:00", "1999-06-02T00:00:00"))
