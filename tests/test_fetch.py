"""Kernel fetching: listing parsing, selection by file-name dates and versions, resumable verified
downloads and the metakernel, end to end against a local HTTP server on 127.0.0.1 (no network).

The served tree is built per test from REAL kernels in ../shared/data/kernels copied (in a tmp
dir) under NAIF-like names, plus dummy files of other dates/versions that must never be chosen.
Expected selections are written out by hand from the NAIF naming rules, not taken from the code.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import json
import os
import re
import shutil
import socket
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import spiceypy

from ioflyby.errors import FetchError
from ioflyby.spice import Kernels, fetch_kernels, parse_listing
from ioflyby.spice.fetch import (
    ListingEntry,
    Window,
    download,
    latest_version,
    plan_juno,
    select_juno_ck,
    select_juno_spk,
)

# -- the served tree ----------------------------------------------------------------------------
GENERIC = "pub/naif/generic_kernels/"
JUNO = "pub/naif/JUNO/kernels/"

# remote path -> source: a path relative to ../shared/data/kernels (real kernel) or a dummy tag
TREE: dict[str, str] = {
    GENERIC + "lsk/naif0012.tls": "lsk/naif0012.tls",
    GENERIC + "lsk/naif0011.tls": "dummy",
    GENERIC + "lsk/naif0009.tls": "dummy",
    GENERIC + "lsk/naif0012.tls.pc": "dummy",
    GENERIC + "pck/pck00011.tpc": "pck/pck00011.tpc",
    GENERIC + "pck/pck00010.tpc": "pck/pck00010.tpc",
    GENERIC + "pck/pck00011_n0066.tpc": "dummy",
    GENERIC + "pck/gm_de431.tpc": "pck/gm_de431.tpc",
    GENERIC + "pck/gm_de421.tpc": "dummy",
    GENERIC + "spk/planets/de440s.bsp": "galileo_1997_io_slices/gllssi2isisAle1_0.bsp",
    GENERIC + "spk/planets/de440.bsp": "dummy",
    GENERIC + "spk/planets/de430.bsp": "dummy",
    GENERIC + "spk/satellites/jup365.bsp": "galileo_1997_io_slices/gllssi2isisAle1_1.bsp",
    GENERIC + "spk/satellites/jup344.bsp": "dummy",
    GENERIC + "spk/satellites/jup310.bsp": "dummy",
    GENERIC + "spk/satellites/jup344-s2003_j24.bsp": "dummy",
    JUNO + "fk/juno_v12.tf": "fk/juno_v12.tf",
    JUNO + "fk/juno_v11.tf": "dummy",
    JUNO + "ik/juno_junocam_v03.ti": "ik/juno_junocam_v03.ti",
    JUNO + "ik/juno_junocam_v02.ti": "dummy",
    JUNO + "ik/juno_jade_v07.ti": "dummy",
    JUNO + "sclk/jno_sclkscet_00090.tsc": "sclk/jno_sclkscet_00090.tsc",
    JUNO + "sclk/jno_sclkscet_00089.tsc": "dummy",
    # reconstructions: newest production (160912) wins over the older one with the same span
    JUNO + "spk/spk_rec_160815_160901_160912.bsp": "pj1_image_slices/JNCR_2016240_01M06152_V01_METHANE_0008_1.bsp",
    JUNO + "spk/juno_rec_160815_160901_160910.bsp": "dummy",
    JUNO + "spk/juno_rec_160902_161010_161020.bsp": "dummy",
    JUNO + "spk/juno_rec_170106_170228_170307.bsp": "spk/juno_rec_170106_170228_170307.bsp",
    JUNO + "spk/spk_pre_160820_161020_160801.bsp": "dummy",
    JUNO + "spk/juno_rec_orbit.bsp": "dummy",
    JUNO + "ck/juno_sc_rec_160821_160827_v02.bc": "pj1_image_slices/juno_sc_rec_160821_160827_v01_1_sliced_-61000.bc",
    JUNO + "ck/juno_sc_rec_160821_160827_v01.bc": "dummy",
    JUNO + "ck/juno_sc_rec_160814_160820_v03.bc": "dummy",
    JUNO + "ck/juno_sc_rec_160828_160903_v01.bc": "dummy",
    JUNO + "ck/juno_sc_raw_160821_160827_v07.bc": "dummy",
    JUNO + "ck/juno_sc_pre_160821_160827_v09.bc": "dummy",
    JUNO + "ck/juno_sc_rec_160821_160827_v02.bc.lbl": "dummy",
}

# What NAIF's naming rules select for 2016-08-27T09:00..09:01:30, in metakernel load order.
EXPECTED = [
    GENERIC + "lsk/naif0012.tls",
    GENERIC + "pck/pck00011.tpc",
    GENERIC + "pck/gm_de431.tpc",
    JUNO + "fk/juno_v12.tf",
    JUNO + "ik/juno_junocam_v03.ti",
    JUNO + "sclk/jno_sclkscet_00090.tsc",
    GENERIC + "spk/planets/de440s.bsp",
    GENERIC + "spk/satellites/jup365.bsp",
    JUNO + "spk/spk_rec_160815_160901_160912.bsp",
    JUNO + "ck/juno_sc_rec_160821_160827_v02.bc",
]
START, STOP = "2016-08-27T09:00:00", "2016-08-27T09:01:30"
BIG = JUNO + "spk/juno_rec_170106_170228_170307.bsp"  # 579584 bytes, for interrupted transfers


def _strfsize(size: int) -> str:
    """Apache's (apr_strfsize) rounded size column, e.g. 5257 -> '5.1K', 579584 -> '566K'."""
    if size < 973:
        return f"{size:3d} "
    value, unit = float(size), ""
    for unit in "KMGT":
        value /= 1024.0
        if value < 973:
            break
    return f"{value:.1f}{unit}" if value < 9.95 else f"{int(value + 0.5):3d}{unit}"


@dataclass
class ServerState:
    """Knobs and a request log shared by the handler threads."""

    root: Path
    listing: str = "apache"  # "apache": rounded sizes; "nginx": exact byte counts
    ranges: bool = True  # honour Range requests (206); False answers 200 with the whole file
    cut: dict[str, list[int]] = field(default_factory=dict)  # path -> body bytes sent, per request
    listed_size: dict[str, int] = field(default_factory=dict)  # path -> size the listing claims
    body: dict[str, bytes] = field(default_factory=dict)  # path -> bytes served instead
    missing: set[str] = field(default_factory=set)  # listed, but answer 404
    log: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class RangeHandler(SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler plus Range/If-Range (206/416), Apache- or nginx-style listings
    and fault injection (early close, wrong sizes, 404 for listed files)."""

    state: ServerState

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def send_head(self):  # noqa: C901 - one branch per HTTP case is clearest here
        rel = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
        with self.state.lock:
            self.state.log.append((self.command, rel, self.headers.get("Range"), self.headers.get("If-Range")))
        local = self.state.root / rel
        if local.is_dir():
            return self._listing(local, rel)
        if not local.is_file() or rel in self.state.missing:
            self.send_error(404, "Not Found")
            return None
        data = self.state.body.get(rel, local.read_bytes())
        modified = self.date_time_string(int(local.stat().st_mtime))
        start = 0
        wanted = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if wanted and self.state.ranges and (if_range is None or if_range == modified):
            start = int(re.fullmatch(r"bytes=(\d+)-", wanted).group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        payload = data[start:]
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Last-Modified", modified)
        self.send_header("Accept-Ranges", "bytes" if self.state.ranges else "none")
        self.end_headers()
        with self.state.lock:
            cuts = self.state.cut.get(rel)
            if self.command == "GET" and cuts:
                payload = payload[: cuts.pop(0)]
                self.close_connection = True
        return io.BytesIO(payload)

    def _listing(self, folder: Path, rel: str):
        rows = []
        for child in sorted(folder.iterdir()):
            child_rel = f"{rel.rstrip('/')}/{child.name}"
            stamp = dt.datetime.fromtimestamp(child.stat().st_mtime)
            if child.is_dir():
                rows.append((child.name + "/", stamp, None))
            else:
                rows.append((child.name, stamp, self.state.listed_size.get(child_rel, child.stat().st_size)))
        html = self._apache(rel, rows) if self.state.listing == "apache" else self._nginx(rel, rows)
        body = html.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html;charset=ISO-8859-1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    @staticmethod
    def _apache(rel: str, rows: list) -> str:
        parent = "/" + rel.rstrip("/").rsplit("/", 1)[0] + "/"
        lines = [
            '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">',
            f"<html><head><title>Index of /{rel}</title></head><body><h1>Index of /{rel}</h1><table>",
            '<tr><th valign="top"><img src="/icons/blank.gif" alt="[ICO]"></th><th><a href="?C=N;O=D">'
            'Name</a></th><th><a href="?C=M;O=A">Last modified</a></th><th><a href="?C=S;O=A">Size</a>'
            '</th><th><a href="?C=D;O=A">Description</a></th></tr><tr><th colspan="5"><hr></th></tr>',
            f'<tr><td valign="top"><img src="/icons/back.gif" alt="[PARENTDIR]"></td><td><a href="{parent}">'
            'Parent Directory</a></td><td>&nbsp;</td><td align="right">  - </td><td>&nbsp;</td></tr>',
        ]
        for name, stamp, size in rows:
            shown = "  - " if size is None else _strfsize(size)
            lines.append(
                f'<tr><td valign="top"><img src="/icons/unknown.gif" alt="[   ]"></td><td><a href="'
                f'{urllib.parse.quote(name)}">{name}</a></td><td align="right">{stamp:%Y-%m-%d %H:%M}  '
                f'</td><td align="right">{shown}</td><td>&nbsp;</td></tr>'
            )
        lines += ['<tr><th colspan="5"><hr></th></tr></table>',
                  "<address>Apache/2.4.37 Server at 127.0.0.1 Port 8443</address></body></html>"]
        return "\n".join(lines)

    @staticmethod
    def _nginx(rel: str, rows: list) -> str:
        lines = [f"<html><head><title>Index of /{rel}</title></head><body><h1>Index of /{rel}</h1><hr><pre>",
                 '<a href="../">../</a>']
        for name, stamp, size in rows:
            shown = "-" if size is None else str(size)
            lines.append(f'<a href="{urllib.parse.quote(name)}">{name}</a>{" " * 20}'
                         f"{stamp:%d-%b-%Y %H:%M}{shown:>20}")
        lines.append("</pre><hr></body></html>")
        return "\n".join(lines)


def build_tree(root: Path, kernel_dir: Path) -> dict[str, bytes]:
    """Write TREE under ``root``; return remote path -> bytes for the real kernels."""
    real = {}
    for number, (remote, source) in enumerate(TREE.items()):
        target = root / remote
        target.parent.mkdir(parents=True, exist_ok=True)
        if source == "dummy":
            target.write_bytes(f"not a kernel {number}\n".encode() * (number + 3))
        else:
            shutil.copyfile(kernel_dir / source, target)
            real[remote] = target.read_bytes()
    return real


@pytest.fixture()
def server(tmp_path: Path, kernel_dir: Path):
    """A ThreadingHTTPServer on 127.0.0.1 (free port) serving the fixture tree."""
    root = tmp_path / "tree"
    real = build_tree(root, kernel_dir)
    state = ServerState(root)
    handler = type("Handler", (RangeHandler,), {"state": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    host, port = httpd.server_address[:2]
    yield {"base": f"http://{host}:{port}/pub/naif/", "url": f"http://{host}:{port}/", "state": state,
           "real": real, "root": root}
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _kernel_gets(state: ServerState) -> list[str]:
    return [rel for method, rel, _, _ in state.log if method == "GET" and not rel.endswith("/")]


def _leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# -- end to end -----------------------------------------------------------------------------------
@pytest.mark.parametrize("listing", ["apache", "nginx"])
def test_fetch_end_to_end_loads_with_kernelset(server, tmp_path: Path, kernel_dir: Path, listing: str):
    server["state"].listing = listing
    cache = tmp_path / ("kernel_cache_with_a_deliberately_long_name_" + "x" * 40)  # > 80 chars: '+' lines
    dest = tmp_path / "dest"
    result = fetch_kernels(START, STOP, dest, base_url=server["base"], cache=cache, timeout=10)

    assert [f.url for f in result.files] == [server["url"] + p for p in EXPECTED]
    assert [f.kind for f in result.files] == ["LSK", "PCK", "PCK", "FK", "IK", "SCLK", "SPK", "SPK", "SPK", "CK"]
    assert result.metakernel == dest / "juno_20160827T090000_20160827T090130.tm"
    assert "+'" in result.metakernel.read_text()  # the long cache path needed string continuation
    for fetched, remote in zip(result.files, EXPECTED):
        assert not fetched.cached
        assert fetched.path == cache / remote.removeprefix("pub/naif/")
        assert _digest(fetched.path.read_bytes()) == _digest(server["real"][remote])
        assert fetched.bytes == len(server["real"][remote])
    assert not [p for p in _leftovers(cache) if p.endswith((".part", ".validator"))]
    assert sorted(set(_kernel_gets(server["state"]))) == sorted(EXPECTED)  # no dummy was downloaded

    # Independent truth: the SPK/CK spans of the source slices, read straight from the shared files.
    source_spk = str(kernel_dir / TREE[EXPECTED[8]])
    spk_start, spk_stop = spiceypy.spkcov(source_spk, -61)
    with Kernels([result.metakernel]) as kernels:
        loaded = [Path(p) for p in kernels.files]
        assert loaded[0] == result.metakernel
        assert [p.resolve() for p in loaded[1:]] == [f.path.resolve() for f in result.files]
        assert kernels.problems() == []
        kernels.require_spk(-61, 0.5 * (spk_start + spk_stop))
        kernels.require_spk(501, spiceypy.spkcov(str(kernel_dir / TREE[EXPECTED[7]]), 501)[0])
        ck = [c for c in kernels.ck_coverage() if c.id == -61000]
        assert ck and abs(ck[0].start_et - spk_start) < 60.0  # slices cut for the same image
        text_kinds = [k["kind"] for k in kernels.text_kernels()]
    assert text_kinds == ["MK", "LSK", "PCK", "PCK", "FK", "IK", "SCLK"]

    # A second run downloads nothing (cache hits) and rewrites the same metakernel.
    before = len(_kernel_gets(server["state"]))
    again = fetch_kernels(START, STOP, dest, base_url=server["base"], cache=cache, timeout=10)
    assert all(f.cached for f in again.files)
    assert len(_kernel_gets(server["state"])) == before
    assert [p.name for p in dest.iterdir()] == [result.metakernel.name]


def test_dry_run_lists_without_downloading(server, tmp_path: Path):
    server["state"].listing = "nginx"
    result = fetch_kernels(START, STOP, tmp_path / "dest", base_url=server["base"], cache=tmp_path / "c",
                           dry_run=True, timeout=10)
    assert [f.url for f in result.files] == [server["url"] + p for p in EXPECTED]
    assert [f.bytes for f in result.files] == [len(server["real"][p]) for p in EXPECTED]
    assert not any(f.cached for f in result.files)
    assert _kernel_gets(server["state"]) == []
    assert not (tmp_path / "dest").exists() and not (tmp_path / "c").exists()


def test_cli_fetch_json_and_dry_run(server, tmp_path: Path):
    from typer.testing import CliRunner

    from ioflyby.cli import kernels_cmd  # noqa: F401  (registers the verbs)
    from ioflyby.cli.app import app

    args = ["kernels", "fetch", "--mission", "juno", "--start", START, "--stop", STOP,
            "--dest", str(tmp_path / "dest"), "--cache", str(tmp_path / "cache"), "--base-url", server["base"]]
    dry = CliRunner().invoke(app, [*args, "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    listed = json.loads(dry.stdout)
    assert [f["url"] for f in listed["files"]] == [server["url"] + p for p in EXPECTED]
    assert not (tmp_path / "cache").exists()

    run = CliRunner().invoke(app, [*args, "--json"])
    assert run.exit_code == 0, run.output
    payload = json.loads(run.stdout)
    assert payload["metakernel"] == str(tmp_path / "dest" / "juno_20160827T090000_20160827T090130.tm")
    assert set(payload["files"][0]) >= {"url", "path", "bytes", "cached"}
    for row, remote in zip(payload["files"], EXPECTED):
        assert Path(row["path"]).read_bytes() == server["real"][remote]
        assert row["bytes"] == len(server["real"][remote]) and row["cached"] is False


def test_cli_unreachable_server_exits_2_naming_the_url(tmp_path: Path, capsys):
    from ioflyby.cli.app import main

    port = _closed_port()
    with pytest.raises(SystemExit) as exit_info:
        main(["kernels", "fetch", "--start", START, "--stop", STOP, "--dest", str(tmp_path / "d"),
              "--cache", str(tmp_path / "c"), "--base-url", f"http://127.0.0.1:{port}/pub/naif/"])
    assert exit_info.value.code == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"127.0.0.1:{port}" in err and "--base-url" in err
    assert _leftovers(tmp_path) == []


# -- downloads: resume, restart, size checks ---------------------------------------------------------
def test_interrupted_download_keeps_part_then_resumes_with_range(server, tmp_path: Path):
    state, data = server["state"], server["real"][BIG]
    state.cut[BIG] = [200_000]
    target = tmp_path / "cache" / "big.bsp"
    with pytest.raises(FetchError, match=r"interrupted after 200000 of 579584 bytes.*run the command again"):
        download(server["url"] + BIG, target, retries=0, timeout=10)
    part = target.with_name("big.bsp.part")
    assert not target.exists()
    assert part.read_bytes() == data[:200_000]

    got = download(server["url"] + BIG, target, retries=0, timeout=10)
    assert got == len(data) == 579584
    assert _digest(target.read_bytes()) == _digest(data)
    assert not part.exists()
    gets = [(r, i) for m, p, r, i in state.log if m == "GET" and p == BIG]
    assert gets[0] == (None, None)
    assert gets[1][0] == "bytes=200000-" and gets[1][1] is not None  # Range + If-Range validator


def test_download_retries_resume_within_one_call(server, tmp_path: Path):
    state, data = server["state"], server["real"][BIG]
    state.cut[BIG] = [100_000, 150_000]  # two early closes, then a healthy answer
    target = tmp_path / "big.bsp"
    assert download(server["url"] + BIG, target, retries=2, timeout=10) == len(data)
    assert target.read_bytes() == data
    ranges = [r for m, p, r, _ in state.log if m == "GET" and p == BIG]
    assert ranges == [None, "bytes=100000-", "bytes=250000-"]


def test_resume_restarts_when_server_ignores_range(server, tmp_path: Path):
    state, data = server["state"], server["real"][BIG]
    state.ranges = False
    state.cut[BIG] = [300_000]
    target = tmp_path / "big.bsp"
    assert download(server["url"] + BIG, target, retries=1, timeout=10) == len(data)
    assert target.read_bytes() == data  # not 300000 old bytes + a whole file appended


def test_resume_restarts_when_remote_file_changed(server, tmp_path: Path):
    state, root = server["state"], server["root"]
    state.cut[BIG] = [50_000]
    target = tmp_path / "big.bsp"
    with pytest.raises(FetchError):
        download(server["url"] + BIG, target, retries=0, timeout=10)
    new = bytes(range(256)) * 3000
    (root / BIG).write_bytes(new)
    os.utime(root / BIG, (1_700_000_000, 1_700_000_000))  # a different Last-Modified
    assert download(server["url"] + BIG, target, retries=0, timeout=10) == len(new)
    assert target.read_bytes() == new


def test_listing_size_mismatch_deletes_partial_and_writes_nothing(server, tmp_path: Path):
    state = server["state"]
    state.listing = "nginx"
    remote = JUNO + "ck/juno_sc_rec_160821_160827_v02.bc"
    state.listed_size[remote] = len(server["real"][remote]) + 100  # the server's copy is truncated
    cache, dest = tmp_path / "cache", tmp_path / "dest"
    with pytest.raises(FetchError, match=r"juno_sc_rec_160821_160827_v02\.bc.*listing says"):
        fetch_kernels(START, STOP, dest, base_url=server["base"], cache=cache, timeout=10)
    assert not dest.exists()
    assert not [p for p in _leftovers(cache) if "juno_sc_rec" in p]  # no final file, no .part


def test_error_page_instead_of_kernel_is_rejected(server, tmp_path: Path):
    state = server["state"]  # apache listing: sizes rounded, so the check is approximate
    state.body[GENERIC + "lsk/naif0012.tls"] = b"<html>quota exceeded</html>" * 400
    with pytest.raises(FetchError, match=r"naif0012\.tls.*about 52\d\d"):
        fetch_kernels(START, STOP, tmp_path / "dest", base_url=server["base"], cache=tmp_path / "c", timeout=10)
    assert _leftovers(tmp_path / "c") == []
    assert not (tmp_path / "dest").exists()


def test_listed_file_missing_on_server_is_a_fetch_error(server, tmp_path: Path):
    server["state"].missing.add(JUNO + "fk/juno_v12.tf")
    with pytest.raises(FetchError, match=r"juno_v12\.tf failed: HTTP 404"):
        fetch_kernels(START, STOP, tmp_path / "dest", base_url=server["base"], cache=tmp_path / "c", timeout=10)
    assert not (tmp_path / "c" / "JUNO/kernels/fk/juno_v12.tf").exists()
    assert not (tmp_path / "dest").exists()


def test_missing_directory_is_a_fetch_error_naming_the_listing(server, tmp_path: Path):
    shutil.rmtree(server["root"] / JUNO / "ck")
    with pytest.raises(FetchError, match=r"listing .*/pub/naif/JUNO/kernels/ck/ failed: HTTP 404"):
        fetch_kernels(START, STOP, tmp_path / "dest", base_url=server["base"], cache=tmp_path / "c", timeout=10)
    assert not (tmp_path / "dest").exists()
    # --no-ck works without that directory
    result = fetch_kernels(START, STOP, tmp_path / "dest", base_url=server["base"], cache=tmp_path / "c",
                           include_ck=False, timeout=10)
    assert [f.url for f in result.files] == [server["url"] + p for p in EXPECTED[:-1]]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server_is_a_fetch_error(tmp_path: Path):
    port = _closed_port()
    with pytest.raises(FetchError, match=rf"127\.0\.0\.1:{port}/pub/naif/.*--base-url"):
        fetch_kernels(START, STOP, tmp_path / "dest", base_url=f"http://127.0.0.1:{port}/pub/naif/",
                      cache=tmp_path / "c", timeout=5)
    with pytest.raises(FetchError, match=rf"downloading http://127\.0\.0\.1:{port}/x\.bsp failed"):
        download(f"http://127.0.0.1:{port}/x.bsp", tmp_path / "c" / "x.bsp", timeout=5)
    assert _leftovers(tmp_path) == []


# -- listings -----------------------------------------------------------------------------------------
APACHE_PRE = """<html><head><title>Index of /pub/naif/generic_kernels/lsk</title></head><body>
<h1>Index of /pub/naif/generic_kernels/lsk</h1>
<pre><img src="/icons/blank.gif" alt="Icon "> <a href="?C=N;O=D">Name</a>  <a href="?C=M;O=A">Last modified</a>
<hr><img src="/icons/back.gif" alt="[PARENTDIR]"> <a href="/pub/naif/generic_kernels/">Parent Directory</a>   -
<img src="/icons/folder.gif" alt="[DIR]"> <a href="a_old_versions/">a_old_versions/</a>  2016-07-05 12:53    -
<img src="/icons/text.gif" alt="[TXT]"> <a href="aareadme.txt">aareadme.txt</a>      2016-07-05 12:53  9.2K
<img src="/icons/unknown.gif" alt="[   ]"> <a href="naif0012.tls">naif0012.tls</a>  2016-07-05 12:52  5.1K
<img src="/icons/unknown.gif" alt="[   ]"> <a href="latest%2Bleap.tls">latest+leap.tls</a>  2017-01-02 10:00  812
<img src="/icons/unknown.gif" alt="[   ]"> <a href="big.bsp">big.bsp</a>  2021-02-03 04:05   31M
<hr></pre><a href="https://naif.jpl.nasa.gov/">NAIF</a>
<address>Apache/2.4.6 (CentOS) Server at naif.jpl.nasa.gov Port 443</address>
</body></html>"""


def test_parse_apache_pre_listing_ignores_parent_sort_dirs_and_external_links():
    entries = parse_listing(APACHE_PRE)
    assert entries == [
        ListingEntry("aareadme.txt", None, 9.2 * 1024),
        ListingEntry("naif0012.tls", None, 5.1 * 1024),
        ListingEntry("latest+leap.tls", 812, 812.0),
        ListingEntry("big.bsp", None, 31 * 1024 * 1024),
    ]


def test_parse_generated_listings_match_the_tree(server):
    """The fixture's Apache and nginx pages parse to the files actually in the folder."""
    folder = server["root"] / JUNO / "ck"
    sizes = {p.name: p.stat().st_size for p in folder.iterdir()}
    rows = [(p.name, dt.datetime(2024, 1, 2, 3, 4), p.stat().st_size) for p in sorted(folder.iterdir())]
    rows.append(("sub/", dt.datetime(2024, 1, 2), None))
    nginx = parse_listing(RangeHandler._nginx(JUNO + "ck/", rows))
    assert {e.name: e.size for e in nginx} == sizes
    apache = parse_listing(RangeHandler._apache(JUNO + "ck/", rows))
    assert {e.name for e in apache} == set(sizes)
    for entry in apache:  # rounded sizes: within Apache's rounding of the true size
        true = sizes[entry.name]
        assert entry.size == (true if true < 973 else None)
        assert abs(entry.approx_size - true) <= 0.05 * 1024 + 0.025 * true


# -- selection by name ----------------------------------------------------------------------------------
def _entries(names: list[str]) -> list[ListingEntry]:
    return [ListingEntry(n) for n in names]


def _window(start: str, stop: str) -> Window:
    return Window(dt.datetime.fromisoformat(start), dt.datetime.fromisoformat(stop))


CK_NAMES = [
    "juno_sc_rec_231217_231223_v01.bc",
    "juno_sc_rec_231224_231230_v01.bc",
    "juno_sc_rec_231224_231230_v02.bc",
    "juno_sc_rec_231231_240106_v01.bc",
    "juno_sc_rec_240107_240113_v01.bc",
    "juno_sc_rec_240107_240113_v03.bc",
    "juno_sc_rec_240107_240113_v02.bc",
    "juno_sc_raw_231224_231230_v05.bc",
    "juno_sc_pre_231231_240106_v09.bc",
    "juno_sc_rec_231231_240106_v01.bc.lbl",
    "juno_sc_rec_231231_240106_v04.bc.gz",
    "juno_sc_rec_231340_231350_v07.bc",  # month 13: not a date
]


@pytest.mark.parametrize(
    ("start", "stop", "expected"),
    [
        ("2023-12-30T07:00", "2024-01-02T00:00", ["juno_sc_rec_231224_231230_v02.bc", "juno_sc_rec_231231_240106_v01.bc"]),
        ("2023-12-30T23:59:59", "2023-12-30T23:59:59", ["juno_sc_rec_231224_231230_v02.bc"]),
        ("2024-01-06T12:00", "2024-01-07T01:00", ["juno_sc_rec_231231_240106_v01.bc", "juno_sc_rec_240107_240113_v03.bc"]),
        ("2023-12-17T00:00", "2023-12-17T00:00", ["juno_sc_rec_231217_231223_v01.bc"]),
    ],
)
def test_select_ck_overlapping_latest_version(start, stop, expected):
    assert [e.name for e in select_juno_ck(_entries(CK_NAMES), _window(start, stop))] == expected


def test_select_ck_none_overlapping_suggests_no_ck():
    with pytest.raises(FetchError, match="--no-ck"):
        select_juno_ck(_entries(CK_NAMES), _window("2024-03-01", "2024-03-02"))


SPK_NAMES = [
    "juno_rec_231201_231231_240105.bsp",
    "spk_rec_231215_240110_240115.bsp",
    "spk_rec_231215_240110_240112.bsp",
    "juno_rec_240110_240215_240220.bsp",
    "spk_pre_240201_240430_240125_jm0580.bsp",
    "spk_pre_240301_240630_240225.bsp",
    "spk_pre_231101_231130_231020.bsp",
    "juno_rec_orbit.bsp",
    "juno_pred_orbit.bsp",
    "juno_rec_231201_231231_240105.bsp.lbl",
]


@pytest.mark.parametrize(
    ("start", "stop", "expected"),
    [
        # Io flyby PJ57 (2023-12-30): both reconstructions cover it; the newest production wins alone
        ("2023-12-30T07:35", "2023-12-30T08:00", ["spk_rec_231215_240110_240115.bsp"]),
        # 12-05..12-15 is only in the older file: both, older first (newest loaded last = priority)
        ("2023-12-05", "2023-12-20", ["juno_rec_231201_231231_240105.bsp", "spk_rec_231215_240110_240115.bsp"]),
        # Io flyby PJ58 (2024-02-03)
        ("2024-02-03T21:00", "2024-02-03T23:00", ["juno_rec_240110_240215_240220.bsp"]),
        # past the reconstructions: predict + whole-mission orbit file under the reconstruction
        ("2024-02-14", "2024-02-20", ["spk_pre_240201_240430_240125_jm0580.bsp", "juno_rec_orbit.bsp",
                                      "juno_rec_240110_240215_240220.bsp"]),
        ("2024-03-10", "2024-03-12", ["spk_pre_240301_240630_240225.bsp", "juno_rec_orbit.bsp"]),
        # no dated file at all: the whole-mission reconstruction
        ("2025-06-01", "2025-06-02", ["juno_rec_orbit.bsp"]),
    ],
)
def test_select_spk_newest_production_and_fallbacks(start, stop, expected):
    assert [e.name for e in select_juno_spk(_entries(SPK_NAMES), _window(start, stop))] == expected


def test_select_spk_without_any_coverage_is_an_error():
    names = [n for n in SPK_NAMES if n != "juno_rec_orbit.bsp"]
    with pytest.raises(FetchError, match=r"2025-06-01T00:00:00 \.\. 2025-06-02T00:00:00"):
        select_juno_spk(_entries(names), _window("2025-06-01", "2025-06-02"))
    # partly covered by a reconstruction and nothing for the rest: an error too, naming the gap
    with pytest.raises(FetchError, match=r"covers 2024-07-01T00:00:00 \.\. 2024-07-05T00:00:00"):
        select_juno_spk(_entries(names), _window("2024-06-25", "2024-07-05"))


@pytest.mark.parametrize(
    ("names", "pattern", "expected"),
    [
        (["naif0008.tls", "naif0011.tls", "naif0012.tls", "naif0012.tls.pc", "naif0010.tls", "aareadme.txt"],
         r"naif(\d{4})\.tls", "naif0012.tls"),
        (["pck00008.tpc", "pck00011_n0066.tpc", "pck00010.tpc", "pck00011.tpc", "gm_de440.tpc", "gm_de431.tpc"],
         r"pck(\d{5})\.tpc", "pck00011.tpc"),
        (["gm_de431.tpc", "gm_de440.tpc", "gm_Horizons.pck", "pck00011.tpc"], r"gm_de(\d{3})\.tpc", "gm_de440.tpc"),
        (["jup310.bsp", "jup365.bsp", "jup344.bsp", "jup344-s2003_j24.bsp", "jup365.bsp.lbl"], r"jup(\d{3})\.bsp",
         "jup365.bsp"),
        (["jno_sclkscet_00099.tsc", "jno_sclkscet_00157.tsc", "jno_sclkscet_00100.tsc"], r"jno_sclkscet_(\d{5})\.tsc",
         "jno_sclkscet_00157.tsc"),
        (["juno_v9.tf", "juno_v12.tf", "juno_v10.tf"], r"juno_v(\d+)\.tf", "juno_v12.tf"),
    ],
)
def test_latest_version_is_numeric_and_exact(names, pattern, expected):
    assert latest_version(_entries(names), pattern).name == expected


def test_plan_juno_orders_kinds_and_honours_overrides():
    listings = {
        "generic_kernels/lsk/": ["naif0011.tls", "naif0012.tls"],
        "generic_kernels/pck/": ["pck00010.tpc", "pck00011.tpc", "gm_de440.tpc", "gm_de431.tpc"],
        "generic_kernels/spk/planets/": ["de440s.bsp", "de440.bsp", "de430.bsp"],
        "generic_kernels/spk/satellites/": ["jup344.bsp", "jup365.bsp", "jup380.bsp"],
        "JUNO/kernels/fk/": ["juno_v12.tf"],
        "JUNO/kernels/ik/": ["juno_junocam_v03.ti", "juno_junocam_v02.ti"],
        "JUNO/kernels/sclk/": ["jno_sclkscet_00157.tsc"],
        "JUNO/kernels/spk/": SPK_NAMES,
        "JUNO/kernels/ck/": CK_NAMES,
    }
    plan = plan_juno(lambda d: _entries(listings[d]), _window("2023-12-30T07:00", "2023-12-31T01:00"),
                     planets="de440.bsp", satellites="jup365.bsp")
    assert [(c.kind, c.remote_path) for c in plan] == [
        ("LSK", "generic_kernels/lsk/naif0012.tls"),
        ("PCK", "generic_kernels/pck/pck00011.tpc"),
        ("PCK", "generic_kernels/pck/gm_de440.tpc"),
        ("FK", "JUNO/kernels/fk/juno_v12.tf"),
        ("IK", "JUNO/kernels/ik/juno_junocam_v03.ti"),
        ("SCLK", "JUNO/kernels/sclk/jno_sclkscet_00157.tsc"),
        ("SPK", "generic_kernels/spk/planets/de440.bsp"),
        ("SPK", "generic_kernels/spk/satellites/jup365.bsp"),
        ("SPK", "JUNO/kernels/spk/spk_rec_231215_240110_240115.bsp"),
        ("CK", "JUNO/kernels/ck/juno_sc_rec_231224_231230_v02.bc"),
        ("CK", "JUNO/kernels/ck/juno_sc_rec_231231_240106_v01.bc"),
    ]
    with pytest.raises(FetchError, match=r"de999\.bsp is not in generic_kernels/spk/planets/.*--planets"):
        plan_juno(lambda d: _entries(listings[d]), _window("2023-12-30", "2023-12-31"), planets="de999.bsp")


@pytest.mark.parametrize(("start", "stop", "message"), [
    ("yesterday", "2024-01-01", "start time 'yesterday'"),
    ("2024-01-02", "2024-01-01", "before the start"),
])
def test_bad_window_is_a_fetch_error(tmp_path: Path, start, stop, message):
    with pytest.raises(FetchError, match=message):
        fetch_kernels(start, stop, tmp_path, base_url="http://127.0.0.1:9/", cache=tmp_path / "c")
