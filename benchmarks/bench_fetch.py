"""Benchmark: kernel fetching without network.

Prints (1) the time to parse an Apache listing of weekly Juno CK/SPK names from 2011 to 2024
(about 5 000 rows, NAIF's JUNO/kernels/ck/ order of magnitude) and to select CKs and SPKs from it, and (2) download throughput of
``download`` from a local HTTP server on 127.0.0.1, fresh and resumed from half a ``.part``.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ioflyby.spice.fetch import Window, download, parse_listing, select_juno_ck, select_juno_spk

N_WEEKS = 680  # 2011-08 .. 2024-08; 7 names a week
DOWNLOAD_MB = 64


def _apache_listing(names: list[str]) -> str:
    rows = [
        f'<tr><td valign="top"><img src="/icons/unknown.gif" alt="[   ]"></td><td><a href="{n}">{n}</a>'
        f'</td><td align="right">2023-12-31 10:00  </td><td align="right">4.2M</td><td>&nbsp;</td></tr>'
        for n in names
    ]
    return "<html><body><table>" + '<tr><th><a href="?C=N;O=D">Name</a></th></tr>' + "\n".join(rows) + "</table></body></html>"


def bench_listing() -> None:
    start = dt.date(2011, 8, 5)
    names = []
    for week in range(N_WEEKS):
        a = start + dt.timedelta(days=7 * week)
        b = a + dt.timedelta(days=6)
        for version in (1, 2, 3):
            names.append(f"juno_sc_rec_{a:%y%m%d}_{b:%y%m%d}_v{version:02d}.bc")
            names.append(f"juno_sc_rec_{a:%y%m%d}_{b:%y%m%d}_v{version:02d}.lbl")
        names.append(f"spk_rec_{a:%y%m%d}_{b:%y%m%d}_{b + dt.timedelta(days=5):%y%m%d}.bsp")
        names.append(f"juno_sc_raw_{a:%y%m%d}_{b:%y%m%d}_v01.bc")
    html = _apache_listing(names)
    t0 = time.perf_counter()
    entries = parse_listing(html)
    t1 = time.perf_counter()
    window = Window(dt.datetime(2023, 12, 30, 7), dt.datetime(2024, 1, 2))
    ck = select_juno_ck(entries, window)
    t2 = time.perf_counter()
    spk = select_juno_spk(entries, window)
    t3 = time.perf_counter()
    print(f"listing: {len(entries):,} rows, {len(html) / 1e6:.1f} MB HTML parsed in {t1 - t0:.3f} s")
    print(f"select CK ({len(ck)} chosen) in {t2 - t1:.3f} s; select SPK ({len(spk)} chosen) in {t3 - t2:.3f} s")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def bench_download() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "srv").mkdir()
        payload = os.urandom(DOWNLOAD_MB << 20)
        (root / "srv" / "big.bsp").write_bytes(payload)
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root / "srv")))
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{httpd.server_address[1]}/big.bsp"
        try:
            t0 = time.perf_counter()
            got = download(url, root / "cache" / "big.bsp", size=len(payload))
            seconds = time.perf_counter() - t0
            assert got == len(payload) and (root / "cache" / "big.bsp").read_bytes() == payload
            print(f"download: {DOWNLOAD_MB} MB in {seconds:.2f} s = {DOWNLOAD_MB / seconds:.0f} MB/s (local server)")
            # SimpleHTTPRequestHandler ignores Range: a half .part is restarted from byte 0 (200)
            (root / "cache" / "again.bsp.part").write_bytes(payload[: len(payload) // 2])
            t0 = time.perf_counter()
            download(url, root / "cache" / "again.bsp", size=len(payload))
            seconds = time.perf_counter() - t0
            assert (root / "cache" / "again.bsp").read_bytes() == payload
            print(f"download over a stale half .part (server without Range): {seconds:.2f} s, bytes verified")
        finally:
            httpd.shutdown()
            httpd.server_close()


def main() -> None:
    bench_listing()
    bench_download()


if __name__ == "__main__":
    main()
