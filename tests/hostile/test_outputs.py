"""Hostile output folders against every verb that writes (calibrate, calibrate derive-flat,
pointing, process, simulate, flyby compare, demo, kernels fetch, hotspots): ``--out`` an existing file, under
a file, a device, read-only, full, or in use by another run; runs killed with SIGKILL in the
middle of writing, then run again; two runs at once. Also: a set of outputs appears whole or not
at all, every projection's GeoTIFF carries its CRS inside the file, a symlink planted in ``--out``
is replaced rather than followed, and simulate never deletes a file it did not write."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import resource
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.warp import transform

from hostile.conftest import (
    CAN_MOUNT,
    TWIN_OPTIONS,
    Sandbox,
    assert_refused,
    check_outputs,
    kill_when,
    read_only_folder,
    start_cli,
    symlink,
    temporaries,
    tmpfs,
)
from ioflyby import fileio
from ioflyby.errors import OutputError
from ioflyby.fileio import AtomicFiles, FolderLock, clean_stale, temporary_name
from ioflyby.mapping import export
from ioflyby.mapping.grid import MapGrid
from ioflyby.simulate import build_twin

WRITING_VERBS = ("calibrate", "derive-flat", "pointing", "process", "simulate", "flyby-compare", "demo",
                 "kernels-fetch", "hotspots")


def out_args(verb: str, out: Path, product: Path, calibration: Path, kernels: Path) -> list:
    """``verb`` writing into ``out``; ``product``/``kernels`` may not exist (then only an ``--out``
    checked first can explain a refusal that names it)."""
    return {
        "calibrate": ["calibrate", product, "--calibration", calibration, "--out", out],
        "derive-flat": ["calibrate", "derive-flat", product, "--out", out, "--min-count", "1", "--lit-min-dn", "0"],
        "pointing": ["pointing", product, "--kernels", kernels, "--out", out],
        "process": ["process", product, "--kernels", kernels, "--out", out, "--width", "256"],
        "simulate": ["simulate", "--scenario", "pj57", "--out", out],
        "flyby-compare": ["flyby", "compare", "--case", f"a={kernels}", "--out", out],
        "demo": ["demo", "--out", out, "--map-width", "128"],
        "hotspots": ["hotspots", product, "--kernels", kernels, "--out", out],
        "kernels-fetch": ["kernels", "fetch", "--start", "2023-12-30", "--stop", "2023-12-31", "--dest", out,
                          "--base-url", "http://127.0.0.1:9/"],
    }[verb]


def _file(sandbox: Sandbox) -> Path:
    sandbox.out.parent.mkdir(parents=True)
    sandbox.out.write_text("a file where the output folder should be")
    return sandbox.out


def _under_file(sandbox: Sandbox) -> Path:
    _file(sandbox)
    sandbox.out = sandbox.out / "maps"
    return sandbox.out


def _device(sandbox: Sandbox) -> Path:
    return symlink(sandbox.out, "/dev/null")


BAD_OUT = {"out_is_file": (_file, "not a folder"), "out_under_file": (_under_file, "not a folder"),
           "out_is_device": (_device, "not a folder")}


@pytest.mark.parametrize(("verb", "variant"), [
    pytest.param(verb, variant, id=f"bad_out:{verb}:{variant}") for variant in BAD_OUT for verb in WRITING_VERBS])
def test_bad_out_is_refused_before_any_work(verb, variant, sandbox: Sandbox, cli):
    make, match = BAD_OUT[variant]
    make(sandbox)
    before = sandbox.snapshot()
    missing = sandbox.root / "missing"
    run = cli(out_args(verb, sandbox.out, missing / "product", missing, missing / "kernels.tm"))
    assert_refused(run, sandbox, before, match)
    assert "--out" in run.stderr or "--dest" in run.stderr


@pytest.mark.parametrize("verb", [pytest.param(v, id=f"read_only_out:{v}:read_only") for v in WRITING_VERBS])
def test_read_only_out_is_refused_before_any_work(verb, sandbox: Sandbox, cli, monkeypatch):
    missing = sandbox.root / "missing"
    with read_only_folder(sandbox.out, monkeypatch):
        before = sandbox.snapshot()
        run = cli(out_args(verb, sandbox.out, missing / "product", missing, missing / "kernels.tm"))
        assert_refused(run, sandbox, before, "read-only")


# ---------------------------------------------------------------- full disk


@contextlib.contextmanager
def full_disk(out: Path, room: int):
    """``out`` with only ``room`` bytes for the run: a tmpfs of that size where one can be
    mounted, else a file-size limit (writes beyond it fail with EFBIG)."""
    if CAN_MOUNT:
        with tmpfs(out, str(max(room, 4096))):
            yield "tmpfs"
        return
    out.mkdir(parents=True, exist_ok=True)
    with file_size_limit(room):
        yield "rlimit"


@contextlib.contextmanager
def file_size_limit(size: int):
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous_handler)


# verb -> bytes of room: enough to start writing, far from enough to finish
ROOM = {"calibrate": 512 << 10, "derive-flat": 512 << 10, "pointing": 8 << 10, "process": 256 << 10,
        "simulate": 64 << 10, "flyby-compare": 64 << 10, "demo": 64 << 10}


@pytest.mark.parametrize("verb", [pytest.param(v, id=f"full_disk:{v}:{'tmpfs' if CAN_MOUNT else 'rlimit'}")
                                  for v in ROOM])
def test_full_disk_leaves_nothing_under_a_final_name(verb, twin, good_product, empty_calibration, sandbox: Sandbox,
                                                     cli):
    product = good_product if verb in ("calibrate", "derive-flat") else twin.products[0]
    kernels = twin.metakernel if verb in ("pointing", "flyby-compare") else twin.truth_metakernel
    if verb == "process":  # compile and cache the map kernels before the disk is full
        assert cli(out_args(verb, sandbox.root / "warm", product, empty_calibration, kernels)).code == 0
    with full_disk(sandbox.out, ROOM[verb]):
        before = sandbox.snapshot()
        run = cli(out_args(verb, sandbox.out, product, empty_calibration, kernels))
        assert_refused(run, sandbox, before)
        assert not [p for p in sandbox.out.rglob("*") if p.is_file()], "a failed set left files"
    if verb not in ("simulate", "demo"):  # their successful runs are tests/test_simulate.py's and test_demo.py's
        assert cli(out_args(verb, sandbox.out, product, empty_calibration, kernels)).code == 0


def test_geotiff_write_error_is_caught_before_the_rename(twin, sandbox: Sandbox, cli, monkeypatch):
    """A GeoTIFF truncated behind GDAL's back (what a full disk does silently) never gets its
    final name: the reopened temporary does not verify."""
    original = rasterio.io.DatasetWriter.close

    def close_and_truncate(self):
        name = self.name
        original(self)
        os.truncate(name, os.path.getsize(name) // 2)

    monkeypatch.setattr(rasterio.io.DatasetWriter, "close", close_and_truncate)
    before = sandbox.snapshot()
    run = cli(out_args("process", sandbox.out, twin.products[0], sandbox.root, twin.truth_metakernel))
    assert_refused(run, sandbox, before, "cannot write .*_orthographic.tif")


def test_file_size_limit_during_process(twin, sandbox: Sandbox, cli):
    """The portable full disk (writes beyond a size limit fail with EFBIG), on any machine."""
    args = out_args("process", sandbox.out, twin.products[0], sandbox.root, twin.truth_metakernel)
    assert cli(args[:-1] + ["64"]).code == 0  # warm: kernels compiled and cached
    for path in sandbox.out.iterdir():
        path.unlink()
    before = sandbox.snapshot()
    with file_size_limit(100 << 10):
        run = cli(args)
    assert_refused(run, sandbox, before, "cannot write")
    assert not list(sandbox.out.iterdir())


# ---------------------------------------------------------------- concurrent runs


@pytest.mark.parametrize("verb", [pytest.param(v, id=f"concurrent:{v}:lock_held") for v in ("simulate", "demo")])
def test_folder_in_use_by_another_run_is_refused(verb, sandbox: Sandbox, cli):
    with FolderLock(sandbox.out):
        before = sandbox.snapshot()
        run = cli(out_args(verb, sandbox.out, sandbox.root, sandbox.root, sandbox.root))
        assert_refused(run, sandbox, before, "in use by another ioflyby run")
    assert not sandbox.out.joinpath(FolderLock.NAME).exists()


@pytest.mark.parametrize("plant", [pytest.param(p, id=f"concurrent:simulate:lock_{p}") for p in ("symlink", "hardlink")])
def test_a_planted_lock_file_is_never_written_through(plant, sandbox: Sandbox, cli):
    victim = sandbox.root / "victim"
    victim.write_text("precious")
    sandbox.out.mkdir(parents=True)
    lock = sandbox.out / FolderLock.NAME
    lock.symlink_to(victim) if plant == "symlink" else os.link(victim, lock)
    before = sandbox.snapshot()
    run = cli(out_args("simulate", sandbox.out, sandbox.root, sandbox.root, sandbox.root))
    assert_refused(run, sandbox, before, "not an ioflyby lock file")
    assert victim.read_text() == "precious"


def test_two_process_runs_at_once_both_publish_whole_files(twin, sandbox: Sandbox):
    args = out_args("process", sandbox.out, twin.products[0], sandbox.root, twin.truth_metakernel)
    runs = [start_cli(args[:-1] + ["512"], sandbox.root) for _ in range(2)]
    for run in runs:
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
    finals = check_outputs(sandbox.out, existed_before=True)
    assert sorted(p.suffix for p in finals) == [".png", ".tif"]


def test_simulate_keeps_a_file_added_during_the_run(sandbox: Sandbox):
    added = sandbox.out / "notes.txt"

    def add_a_file(stage: str, done: int, total: int) -> None:
        if stage == "attitude" and not added.exists():
            added.write_text("mine")

    build_twin("pj57", sandbox.out, TWIN_OPTIONS, progress=add_a_file)
    assert added.read_text() == "mine"
    build_twin("pj57", sandbox.out, TWIN_OPTIONS, overwrite=True)
    assert added.read_text() == "mine"
    assert sorted(p.name for p in sandbox.out.iterdir()) == sorted(
        ["kernels", "products", "twin.tm", "twin_truth.tm", "truth.json", "notes.txt"])


# ---------------------------------------------------------------- SIGKILL mid-write, then again


def _set_is_whole(out: Path, stems: list[str], killed: bool = False) -> None:
    """Every final in ``out`` opens, and the files of one set are all there or none is."""
    finals = check_outputs(out, existed_before=True, killed=killed)
    names = {p.name for p in finals}
    present = [stem for stem in stems if stem in names]
    assert not present or len(present) == len(stems), f"incomplete set: {sorted(names)}"


def _kill_then_rerun(args: list, sandbox: Sandbox, cli, stems: list[str], ready=None) -> bool:
    process = start_cli(args, sandbox.root)
    killed = kill_when(process, ready or (lambda: bool(temporaries(sandbox.out))))
    _set_is_whole(sandbox.out, stems, killed=True)
    run = cli(args)
    assert run.code == 0, run.stderr
    assert not temporaries(sandbox.out), "stale temporaries were not cleaned"
    _set_is_whole(sandbox.out, stems)
    assert all((sandbox.out / stem).exists() for stem in stems)
    return killed


def test_process_killed_mid_write_then_rerun(twin, sandbox: Sandbox, cli):
    product = twin.products[0]
    args = ["process", product, "--kernels", twin.truth_metakernel, "--out", sandbox.out, "--width", "1536",
            "--backplanes", "--science"]
    stem = f"{product.name}_orthographic"
    stems = [f"{stem}.tif", f"{stem}_preview.png", f"{stem}_linear.tif", f"{stem}_backplanes.tif"]
    assert _kill_then_rerun(args, sandbox, cli, stems)


def test_calibrate_killed_mid_write_then_rerun(good_product, empty_calibration, sandbox: Sandbox, cli):
    args = out_args("calibrate", sandbox.out, good_product, empty_calibration, sandbox.root)
    stems = [f"JNCE_2023364_57C00012_V01_{f}_cal.tif" for f in ("BLUE", "GREEN", "RED")]
    _kill_then_rerun(args, sandbox, cli, stems + ["JNCE_2023364_57C00012_V01_calibration.json"])


def test_pointing_killed_mid_write_then_rerun(twin, sandbox: Sandbox, cli):
    args = out_args("pointing", sandbox.out, twin.products[0], sandbox.root, twin.metakernel)
    stem = f"{twin.products[0].name}_pointing"
    _kill_then_rerun(args, sandbox, cli, [f"{stem}.bc", f"{stem}.json"])


def test_flyby_compare_killed_mid_write_then_rerun(twin, sandbox: Sandbox, cli):
    args = out_args("flyby-compare", sandbox.out, sandbox.root, sandbox.root, twin.metakernel)
    stems = ["altitude.png", "ground_track.png", "resolution.png", "comparison.json", "index.html"]
    assert _kill_then_rerun(args, sandbox, cli, stems)


def test_simulate_killed_mid_run_then_rerun(sandbox: Sandbox):
    process = start_cli(["simulate", "--scenario", "pj57", "--out", sandbox.out], sandbox.root)
    killed = kill_when(process, lambda: any(p.name == "twin_ephemeris.bsp" for p in sandbox.out.rglob("*")))
    assert killed
    assert temporaries(sandbox.out) and (sandbox.out / FolderLock.NAME).exists()  # a killed run's leftovers
    twin = build_twin("pj57", sandbox.out, TWIN_OPTIONS)  # not refused: lock and staging free
    assert twin.metakernel.is_file() and not temporaries(sandbox.out)
    assert sorted(p.name for p in sandbox.out.iterdir()) == sorted(
        ["kernels", "products", "twin.tm", "twin_truth.tm", "truth.json"])


def test_demo_killed_mid_run_leaves_a_folder_the_next_run_accepts(sandbox: Sandbox):
    from ioflyby.demo.pipeline import DEMO_MARKER, _check_replaceable

    process = start_cli(["demo", "--out", sandbox.out, "--map-width", "128"], sandbox.root)
    assert kill_when(process, lambda: (sandbox.out / "twin").exists())
    _check_replaceable(sandbox.out)
    assert (sandbox.out / DEMO_MARKER).exists()
    FolderLock(sandbox.out).acquire().release()


def test_a_set_whose_renames_were_cut_short_is_completed_by_the_next_writer(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    temps = [tmp_path / f".a.{dead.pid}-0123abcd.tmp.tif", tmp_path / f".b.{dead.pid}-4567cdef.tmp.png"]
    temps[0].write_text("first")
    (tmp_path / "b.png").write_text("old")
    temps[1].write_text("second")
    os.replace(temps[0], tmp_path / "a.tif")  # the killed run had renamed the first file only
    journal = tmp_path / f".ioflyby-commit.{dead.pid}-89abcdef.tmp.json"
    journal.write_text('{"moves": [["%s", "a.tif"], ["%s", "b.png"]]}' % (temps[0].name, temps[1].name))
    stray = tmp_path / f".c.{dead.pid}-00000000.tmp.tif.aux.xml"
    stray.write_text("orphaned sidecar")
    live = tmp_path / f".d.{os.getpid()}-11111111.tmp.tif"
    live.write_text("a running writer's")
    removed = clean_stale(tmp_path)
    assert (tmp_path / "a.tif").read_text() == "first" and (tmp_path / "b.png").read_text() == "second"
    assert set(removed) == {journal, stray} and live.exists()


def test_a_planted_journal_moves_nothing_in_or_out(tmp_path):
    """A journal is a hostile input too: it may only move its own run's temporaries within its folder."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (outside / "secret").write_text("stays")
    (out / "mine.txt").write_text("stays too")
    (out / "link").symlink_to(outside)
    evil = [["../outside/secret", "stolen"], [f".x.{dead.pid}-0123abcd.tmp", "../outside/secret"],
            ["mine.txt", "renamed"], [f".y.{dead.pid}-0123abcd.tmp", "link/planted"], ["/etc/hostname", "host"]]
    for name in (f".x.{dead.pid}-0123abcd.tmp", f".y.{dead.pid}-0123abcd.tmp"):
        (out / name).write_text("attacker's")
    (out / f".ioflyby-commit.{dead.pid}-89abcdef.tmp.json").write_text(json.dumps({"moves": evil}))
    clean_stale(out)
    assert (outside / "secret").read_text() == "stays" and sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert sorted(p.name for p in out.iterdir()) == ["link", "mine.txt"]


def test_a_failed_set_publishes_nothing(tmp_path):
    with pytest.raises(OSError), AtomicFiles():
        with AtomicFiles() as inner:
            inner.path(tmp_path / "out" / "map.tif").write_text("staged")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- CRS inside every projection's GeoTIFF


@pytest.mark.parametrize("projection", ["equirectangular", "orthographic", "polar", "perspective"])
def test_every_projection_carries_its_crs_inside_the_file(projection, twin, sandbox: Sandbox, cli):
    run = cli(["process", twin.products[0], "--kernels", twin.truth_metakernel, "--out", sandbox.out,
               "--projection", projection, "--width", "96", "--json"])
    assert run.code == 0, run.stderr
    tif = next(sandbox.out.glob("*.tif"))
    assert not list(sandbox.out.glob("*.aux.xml")) and not temporaries(sandbox.out)
    grid_json = json.loads(run.stdout)["grid"]
    with rasterio.open(tif) as src:
        assert src.crs is not None and src.crs.is_projected
        # cells around the map centre (on the disc in every projection), through the file's own
        # geotransform and CRS to planetocentric lat/lon by PROJ
        cols, rows = np.meshgrid((np.linspace(0.35, 0.65, 5) * src.width).astype(int),
                                 (np.linspace(0.35, 0.65, 5) * src.height).astype(int))
        t = src.transform
        xs, ys = t.c + (cols.ravel() + 0.5) * t.a, t.f + (rows.ravel() + 0.5) * t.e
        lon, lat = transform(src.crs, "IAU_2015:50100", xs, ys)
        crs = src.crs
    grid = _grid_of(twin, projection, grid_json)
    want_lat, want_lon = grid.cell_to_latlon(cols.ravel(), rows.ravel())
    ok = np.isfinite(want_lat) & np.isfinite(lat)
    assert ok.all(), projection
    assert np.allclose(np.degrees(want_lat[ok]), np.asarray(lat)[ok], atol=1e-6)
    dlon = (np.degrees(want_lon[ok]) - np.asarray(lon)[ok] + 180.0) % 360.0 - 180.0
    assert np.allclose(dlon, 0.0, atol=1e-6), crs.to_proj4()


def _grid_of(twin, projection: str, described: dict) -> MapGrid:
    """The grid ioflyby mapped onto, rebuilt from the processed observation (its numba
    projection is the reference the file's CRS must agree with)."""
    from ioflyby.ingest import read_product
    from ioflyby.observation import Observation
    from ioflyby.processing import MapSpec
    from ioflyby.spice import Kernels

    with Kernels([twin.truth_metakernel]):
        observation = Observation(read_product(twin.products[0]))
        grid = MapSpec(projection, width=96).grid(observation)
    assert grid.describe() == described
    return grid


def test_planted_symlink_in_out_is_replaced_not_followed(twin, sandbox: Sandbox, cli):
    victim = sandbox.root / "victim.tif"
    victim.write_text("must not change")
    stem = f"{twin.products[0].name}_orthographic"
    symlink(sandbox.out / f"{stem}.tif", victim)
    run = cli(out_args("process", sandbox.out, twin.products[0], sandbox.root, twin.truth_metakernel))
    assert run.code == 0, run.stderr
    assert victim.read_text() == "must not change"
    assert not (sandbox.out / f"{stem}.tif").is_symlink()
    check_outputs(sandbox.out, existed_before=True)


def test_names_from_input_cannot_leave_the_output_folder(tmp_path):
    assert fileio.inside(tmp_path, "JNCE_2022229_44C00029_V01.tif") == tmp_path / "JNCE_2022229_44C00029_V01.tif"
    for name in ("../x.tif", "/etc/x", "a/b.tif", ".hidden", "", "x" * 200, "a\nb"):
        with pytest.raises(OutputError):
            fileio.inside(tmp_path, name)


def test_temporary_names_keep_the_extension_and_fit(tmp_path):
    name = temporary_name("J" * 200 + ".tif", ".tif")
    assert name.endswith(".tmp.tif") and len(name) < 150 and fileio.is_temporary(name)


def test_png_preview_write_failure_publishes_no_geotiff(twin, sandbox: Sandbox, cli, monkeypatch):
    def fail(*args, **kwargs):
        time.sleep(0.2)  # the GeoTIFF is staged by then
        raise OutputError("cannot write preview: injected")

    monkeypatch.setattr(export, "write_png", fail)
    before = sandbox.snapshot()
    run = cli(out_args("process", sandbox.out, twin.products[0], sandbox.root, twin.truth_metakernel))
    assert_refused(run, sandbox, before, "injected")
