"""The hostile suite's harness.

Every CLI verb is run as a hostile user would run it, and every refusal is checked the same way
(:func:`assert_refused`): exit status 2, exactly one stderr line (``error: ...``) and no traceback,
nothing created or changed outside ``--out`` (the whole sandbox and the inputs are snapshotted),
no temporary left and no file under a final name that does not open. Case ids are
``family:verb:variant`` (the closing table of the suite counts them).

The one real run the suite needs, a small pj57 twin (one 4-exposure product and its kernels),
is built once per session and shared by the xdist workers through a lock file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import rasterio
from PIL import Image

from ioflyby.cli.app import main
from ioflyby.fileio import is_temporary
from ioflyby.processing import MapSpec, process
from ioflyby.simulate import PlannedImage, Twin, TwinOptions, build_twin
from ioflyby.spice import Kernels
from test_ingest_errors import GOOD_PNG, good_metadata, write_pair

TEXT_SUFFIXES = {".tm", ".tsc", ".tls", ".tpc", ".tf", ".ti", ".html", ".txt", ".csv", ".md"}
CLI = Path(sys.executable).with_name("ioflyby")


@dataclass
class Run:
    """Exit status and captured output of one CLI run."""

    code: int | None
    stdout: str
    stderr: str


def run_cli(capfd: pytest.CaptureFixture, args: list) -> Run:
    """Run ``ioflyby ARGS`` in this process; file-descriptor capture also catches C libraries."""
    capfd.readouterr()
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    captured = capfd.readouterr()
    return Run(code, captured.out, captured.err)


def tree(root: Path, skip: Path | None = None) -> dict[str, tuple]:
    """Every entry under ``root`` (symlinks not followed) → (type, size, mtime), ``skip``'s subtree left out."""
    entries = {}
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if skip is not None:
            dirs[:] = [d for d in dirs if here / d != skip]
        for name in dirs + files:
            path = here / name
            if path == skip:
                continue
            info = path.lstat()
            entries[str(path.relative_to(root))] = (info.st_mode >> 12, info.st_size, info.st_mtime_ns)
    return entries


def check_final(path: Path) -> None:
    """Open ``path`` with the reader its name promises (raises if it does not open)."""
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with rasterio.open(path) as src:
                for index in src.indexes:
                    src.read(index)
    elif suffix == ".png":
        with Image.open(path) as image:
            image.load()
    elif suffix in (".json", ".geojson"):
        json.loads(path.read_text(encoding="utf-8"))
    elif suffix in (".bc", ".bsp"):
        with Kernels([path]):
            pass
    elif suffix in TEXT_SUFFIXES:
        path.read_text(encoding="utf-8")
    else:
        raise AssertionError(f"unexpected output file {path}")


def check_outputs(out: Path, existed_before: bool, killed: bool = False) -> list[Path]:
    """No temporary in ``out`` (unless a run was ``killed``), every other file opens; when ``out``
    did not exist before, no file at all. Returns the final files."""
    if not out.is_dir():
        return []
    files = [p for p in out.rglob("*") if not p.is_dir()]
    leftovers = [p for p in files if is_temporary(p.name) or any(is_temporary(d.name) for d in p.parents)]
    assert killed or not leftovers, f"temporaries left: {leftovers}"
    files = [p for p in files if p not in leftovers]
    finals = [p for p in files if not p.name.startswith(".")]
    if not existed_before:
        assert not finals, f"a refused run wrote {finals}"
    for path in finals:
        check_final(path)
    return finals


@dataclass
class Sandbox:
    """A test's folder: ``out`` sits three levels deep so that ``../../x`` names stay inside ``root``
    (and are seen); ``inputs`` are other folders whose contents must not change either."""

    root: Path
    out: Path
    inputs: tuple[Path, ...] = ()

    def snapshot(self) -> dict:
        state = {"root": tree(self.root, skip=self.out), "out_existed": os.path.lexists(self.out)}
        for index, folder in enumerate(self.inputs):
            state[f"input{index}"] = tree(folder)
        return state


def assert_refused(run: Run, sandbox: Sandbox, before: dict, match: str | None = None) -> None:
    """Exit 2, one stderr line ``error: ...`` (matching ``match``), no traceback, nothing changed
    outside ``--out``, nothing under a final name that does not open, no temporary left."""
    lines = run.stderr.strip().splitlines()
    assert run.code == 2, f"exit {run.code}: {run.stderr[-2000:]}"
    assert len(lines) == 1, f"stderr has {len(lines)} lines: {run.stderr[-2000:]}"
    assert lines[0].startswith("error: ") and "Traceback" not in run.stderr, lines[0]
    if match is not None:
        assert re.search(match, lines[0], re.IGNORECASE), f"{match!r} not in {lines[0]!r}"
    after = sandbox.snapshot()
    for key, state in before.items():
        if key != "out_existed":
            assert after[key] == state, f"{key} changed: {_difference(state, after[key])}"
    check_outputs(sandbox.out, before["out_existed"])


def _difference(before: dict, after: dict) -> dict:
    return {name: (before.get(name), after.get(name)) for name in set(before) | set(after)
            if before.get(name) != after.get(name)}


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path, tmp_path / "a" / "b" / "out")


@pytest.fixture
def cli(capfd) -> Callable[[list], Run]:
    return lambda args: run_cli(capfd, args)


# ---------------------------------------------------------------- shared inputs


def shared_root(factory: pytest.TempPathFactory) -> Path:
    """A folder every xdist worker of this session sees (the session's base folder otherwise)."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


TWIN_OPTIONS = TwinOptions(images=(PlannedImage(-240.0, n_exposures=4),), truth_pixels=10)


@pytest.fixture(scope="session")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Twin:
    """A pj57 twin with one small product (Io 240 s before C/A), built once for all workers, its
    product mapped once in memory here so that the map kernels are compiled (or loaded from the
    cache) before any case: a compile notice would otherwise be a second stderr line."""
    root = shared_root(tmp_path_factory) / "hostile-twin"
    with file_lock(root.with_suffix(".lock")):
        if not (root / "truth.json").is_file():
            build_twin("pj57", root, TWIN_OPTIONS)
        truth = json.loads((root / "truth.json").read_text())
        twin = Twin(root / "twin.tm", [root / p["dir"] for p in truth["products"]], truth)
        process(twin.products, [twin.truth_metakernel], MapSpec("orthographic", width=64))
    return twin


@pytest.fixture(scope="module")
def good_product(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid synthetic product (tests/test_ingest_errors.py's), read-only for the cases."""
    return write_pair(tmp_path_factory.mktemp("good") / "product", GOOD_PNG, good_metadata())


@pytest.fixture(scope="module")
def empty_calibration(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A calibration folder without frames: calibrate then only decompands and scales."""
    return tmp_path_factory.mktemp("calibration")


# ---------------------------------------------------------------- special files and file systems


def fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def symlink(path: Path, target: str | Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return path


def _can_mount() -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    probe = Path(f"/tmp/ioflyby-mount-probe-{os.getpid()}")
    probe.mkdir(exist_ok=True)
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)],
                            capture_output=True).returncode == 0
        if ok:
            subprocess.run(["umount", str(probe)], capture_output=True)
        return ok
    finally:
        with contextlib.suppress(OSError):
            probe.rmdir()


CAN_MOUNT = _can_mount()


@contextlib.contextmanager
def tmpfs(path: Path, size: str, read_only: bool = False) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` (root with CAP_SYS_ADMIN only)."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


@contextlib.contextmanager
def read_only_folder(path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder the run cannot write: a read-only tmpfs where one can be mounted, mode 0555 for a
    user without root, else (root without mount) the write check is told the folder is read-only."""
    if CAN_MOUNT:
        with tmpfs(path, "1m", read_only=True):
            yield path
        return
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(0o755)
        return
    import ioflyby.fileio as fileio

    original = fileio._writable_folder
    monkeypatch.setattr(fileio, "_writable_folder", lambda folder: original(folder) and folder != path)
    yield path


# ---------------------------------------------------------------- runs in a subprocess


def start_cli(args: list, cwd: Path) -> subprocess.Popen:
    """``ioflyby ARGS`` as a separate process (for concurrency and kill -9)."""
    return subprocess.Popen([str(CLI), *map(str, args)], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def kill_when(process: subprocess.Popen, ready: Callable[[], bool], timeout: float = 120.0) -> bool:
    """SIGKILL ``process`` as soon as ``ready()`` is true; True when it was killed mid-run."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if ready():
            process.kill()
            process.wait()
            return True
        time.sleep(0.002)
    process.kill()
    process.communicate()
    return False


def temporaries(folder: Path) -> list[Path]:
    """ioflyby temporaries under ``folder``."""
    return [p for p in folder.rglob("*") if is_temporary(p.name)] if folder.exists() else []
