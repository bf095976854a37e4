"""``ioflyby batch``: a simulated archive on dask.distributed, checked against each product run
alone, failures recorded, kill -9 of the client and of a worker, the catalogue and the mosaics.

The archive: four digital twins (pj57 and pj58, two of each with different image times and
noise seeds), six small products each (two exposures), plus a malformed product and one outside
its kernels' coverage. Maps are small (128 cells) so the whole file runs in a few minutes.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")
rasterio = pytest.importorskip("rasterio")

from ioflyby.batch import BatchSettings, discover, read_tables, run_batch  # noqa: E402
from ioflyby.batch.inputs import BatchError, item_key, settings_digest  # noqa: E402
from ioflyby.batch.tasks import RECORD, valid_record  # noqa: E402
from ioflyby.fileio import is_temporary  # noqa: E402
from ioflyby.processing import MapSpec, process  # noqa: E402
from ioflyby.simulate import PlannedImage, TwinOptions, build_twin  # noqa: E402
from ioflyby.volcano.hotspots import find_hot_spots  # noqa: E402

SPEC = MapSpec(width=128)
SETTINGS = BatchSettings(spec=SPEC, mosaic_resolution_km=60.0)
TWINS = {
    "pj57a": ("pj57", (-480.0, -400.0, -320.0, -240.0, 300.0, 380.0), 0),
    "pj57b": ("pj57", (-440.0, -360.0, -280.0, -200.0, 340.0, 420.0), 1),
    "pj58a": ("pj58", (-480.0, -400.0, -320.0, -240.0, 300.0, 380.0), 2),
    "pj58b": ("pj58", (-440.0, -360.0, -280.0, -200.0, 340.0, 420.0), 3),
}


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> dict:
    """Four twins under one folder (24 products) plus two bad products inside the pj57a twin."""
    root = tmp_path_factory.mktemp("archive")
    twins = {}
    for name, (scenario, offsets, seed) in TWINS.items():
        options = TwinOptions(images=tuple(PlannedImage(o, n_exposures=2) for o in offsets), seed=seed, truth_pixels=10)
        twins[name] = build_twin(scenario, root / name, options)
    good = [p for twin in twins.values() for p in twin.products]
    source = twins["pj57a"].products[0]
    bad = root / "pj57a" / "products"
    malformed = bad / "ZZ_malformed"
    malformed.mkdir()
    for f in source.iterdir():
        data = f.read_bytes()
        (malformed / f.name).write_bytes(data[: len(data) // 3] if f.suffix == ".png" else data)
    uncovered = bad / "ZZ_uncovered"
    uncovered.mkdir()
    for f in source.iterdir():
        if f.suffix == ".json":
            meta = json.loads(f.read_text())
            for k in ("START_TIME", "STOP_TIME", "IMAGE_TIME"):
                meta[k] = meta[k].replace("2023-", "2025-")
            meta["SPACECRAFT_CLOCK_START_COUNT"] = "820000000:00"
            (uncovered / f.name).write_text(json.dumps(meta))
        else:
            (uncovered / f.name).write_bytes(f.read_bytes())
    return {"root": root, "twins": twins, "good": good, "bad": [malformed, uncovered]}


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of two one-thread worker processes, OS-chosen ports, no dashboard."""
    from distributed import Client

    from ioflyby.batch import make_cluster

    cluster = make_cluster(2, dashboard_address=None)
    with Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def batch_run(archive, client, tmp_path_factory):
    out = tmp_path_factory.mktemp("batch")
    result = run_batch([archive["root"]], out, settings=SETTINGS, client=client)
    return out, result


def _final_folders(out: Path) -> list[Path]:
    return sorted(p for p in (out / "products").iterdir() if not p.name.startswith("."))


def _assert_no_partial(out: Path) -> None:
    """Every final product folder is complete (record, every file with its size and SHA-256) and
    nothing else but hidden temporaries lies under products/."""
    for folder in _final_folders(out):
        assert folder.is_dir() and valid_record(folder, check_hashes=True) is not None, folder
        record = json.loads((folder / RECORD).read_text())
        assert sorted(p.name for p in folder.iterdir()) == sorted([*record["files"], RECORD])


# ---------------------------------------------------------------- fast: inputs and keys


def test_manifest_and_folder_inputs(tmp_path):
    products = tmp_path / "products"
    (products / "A").mkdir(parents=True)
    (products / "A" / "x-raw.png").write_bytes(b"a")
    (products / "B-raw.png").write_bytes(b"b")
    mk = tmp_path / "k.tm"
    mk.write_text("KPL/MK\n\\begindata\nKERNELS_TO_LOAD = ( )\n\\begintext\n")
    items = discover([products], [mk])
    assert [i.path.name for i in items] == ["A", "B-raw.png"] and all(i.kernels == (mk,) for i in items)
    with pytest.raises(BatchError, match="--kernels"):
        discover([products])
    csv = tmp_path / "m.csv"
    csv.write_text("product,kernels\nproducts/A,k.tm\nproducts/B-raw.png,\n")
    assert [i.kernels for i in discover([csv], [tmp_path / "other.tm"])] == [(mk,), (tmp_path / "other.tm",)]
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps([{"product": "products/A", "kernels": ["k.tm"]}]))
    assert discover([manifest])[0].path == products / "A"
    bad = tmp_path / "bad.csv"
    bad.write_text("path\nx\n")
    with pytest.raises(BatchError, match="product,kernels"):
        discover([bad])


def test_key_changes_with_bytes_kernels_and_settings(tmp_path):
    (tmp_path / "P").mkdir()
    (tmp_path / "P" / "a-raw.png").write_bytes(b"one")
    mk = tmp_path / "k.tm"
    mk.write_text("KPL/MK\n")
    item = discover([tmp_path], [mk])[0]
    digest = settings_digest(SETTINGS.to_json())
    key = item_key(item, digest)
    assert item_key(item, digest) == key
    assert item_key(item, settings_digest(BatchSettings(spec=MapSpec(width=256)).to_json())) != key
    mk.write_text("KPL/MK\n\\begindata\n")
    assert item_key(item, digest) != key
    mk.write_text("KPL/MK\n")
    assert item_key(item, digest) == key
    (tmp_path / "P" / "a-raw.png").write_bytes(b"two")
    assert item_key(item, digest) != key


# ---------------------------------------------------------------- the archive end to end


@pytest.mark.slow
def test_archive_matches_each_product_alone(archive, batch_run, tmp_path):
    """24 twin products: the batch's GeoTIFFs (colour and linear) and hot-spot tables equal those of
    ``process`` and ``find_hot_spots`` (the ``hotspots`` verb) run on each product alone."""
    out, result = batch_run
    products, hotspots = read_tables(out)
    by_input = {Path(row.input).name + "|" + json.loads(row.kernels)[0]: row for row in products.itertuples()}
    assert len(archive["good"]) == 24
    for twin in archive["twins"].values():
        for product in twin.products:
            row = by_input[product.name + "|" + str(twin.metakernel.absolute())]
            assert row.status == "done", row.reason
            alone = tmp_path / row.key
            ref = process([product], twin.metakernel, replace(SPEC, science=True), alone)
            found = find_hot_spots([product], twin.metakernel)
            found.write(alone, found.products[0])
            folder = Path(row.folder)
            for kind in ("colour", "linear"):
                with rasterio.open(ref.files[kind]) as a, rasterio.open(folder / ref.files[kind].name) as b:
                    assert a.crs == b.crs and a.transform == b.transform
                    np.testing.assert_array_equal(a.read(), b.read())
            name = f"{found.products[0]}_hotspots.csv"
            assert (folder / name).read_text() == (alone / name).read_text()
            assert row.n_hotspots == len(found.detections)
    assert len(hotspots) == int(products.n_hotspots.sum())


@pytest.mark.slow
def test_failures_recorded_and_others_complete(archive, batch_run):
    out, result = batch_run
    products, _ = read_tables(out)
    failed = products[products.status == "failed"]
    reasons = {Path(row.input).name: row.reason for row in failed.itertuples()}
    assert sorted(reasons) == ["ZZ_malformed", "ZZ_uncovered"]
    assert "\n" not in "".join(reasons.values())
    assert "png" in reasons["ZZ_malformed"].lower(), reasons
    assert any(w in reasons["ZZ_uncovered"].lower() for w in ("cover", "ck", "attitude", "kernel")), reasons
    assert sorted(p.reason for p in result.products if p.status == "failed") == sorted(reasons.values())
    assert sum(p.status == "done" for p in result.products) == 24
    _assert_no_partial(out)


@pytest.mark.slow
def test_rerun_skips_everything_and_catalogue_is_unique(archive, batch_run, client):
    out, first = batch_run
    again = run_batch([archive["root"]], out, settings=SETTINGS, client=client)
    counts = again.counts()
    assert counts == {"done": 0, "skipped": 24, "failed": 2}
    connection = sqlite3.connect(out / "catalogue.sqlite")
    keys = [k for (k,) in connection.execute("SELECT key FROM products")]
    connection.close()
    assert len(keys) == len(set(keys)) == 26
    import pandas as pd

    assert len(pd.read_parquet(out / "products.parquet")) == 26
    assert len(_final_folders(out)) == 24


@pytest.mark.slow
def test_mosaics_streamed_from_the_maps(archive, batch_run):
    """Global and per-epoch mosaics: each cell is the mean of the products' linear maps warped to
    the mosaic grid; checked against GDAL's warp of each map in full, one at a time (independent of
    the strip-wise accumulation)."""
    from rasterio.warp import Resampling, reproject

    out, result = batch_run
    names = sorted(m.name for m in result.mosaics)
    assert names == ["global", "pj57", "pj58"]
    global_mosaic = next(m for m in result.mosaics if m.name == "global")
    assert len(global_mosaic.products) == 24
    with rasterio.open(global_mosaic.path) as src:
        mosaic = src.read()
        crs, transform, shape = src.crs, src.transform, src.shape
    total = np.zeros_like(mosaic, np.float64)
    count = np.zeros(mosaic.shape)
    for folder in _final_folders(out):
        linear = next(folder.glob("*_linear.tif"))
        with rasterio.open(linear) as src:
            dest = np.full((src.count, *shape), np.nan, np.float32)
            reproject(src.read(), dest, src_transform=src.transform, src_crs=src.crs, dst_transform=transform,
                      dst_crs=crs, resampling=Resampling.bilinear, src_nodata=np.nan, dst_nodata=np.nan)
        ok = np.isfinite(dest)
        total += np.where(ok, dest, 0)
        count = count + ok
    expected = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    # GDAL's warper treats the edge of a map's coverage slightly differently per window: allow 0.2 %
    assert (np.isfinite(mosaic) != np.isfinite(expected)).mean() < 0.002
    seen = np.isfinite(expected) & np.isfinite(mosaic)
    assert seen.mean() > 0.2
    relative = np.abs(mosaic[seen] / expected[seen] - 1.0)
    # GDAL's approximate transformer (0.125 px) differs between a window and a whole-grid warp; a
    # product's edge cells enter one mean and not the other
    assert np.median(relative) < 1e-3 and np.percentile(relative, 99) < 0.05


# ---------------------------------------------------------------- kill tests


def _manifest(archive, path: Path, n: int) -> Path:
    rows = ["product,kernels"]
    for twin in list(archive["twins"].values())[:2]:
        rows += [f"{p},{twin.metakernel}" for p in twin.products[: n // 2]]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.slow
def test_client_sigkill_then_rerun_completes_exactly_once(archive, client, tmp_path):
    manifest = _manifest(archive, tmp_path / "m.csv", 8)
    out = tmp_path / "out"
    code = ("import ioflyby.cli.batch_cmd; from ioflyby.cli.app import main; "
            f"main(['batch', {str(manifest)!r}, '--out', {str(out)!r}, '--width', '128', '--workers', '2', "
            "'--mosaic-resolution-km', '60', '--json'])")
    child = subprocess.Popen([sys.executable, "-c", code], start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and child.poll() is None:
            if (out / "products").is_dir() and len(_final_folders(out)) >= 2:
                break
            time.sleep(0.2)
        assert child.poll() is None, "the batch ended before it could be killed"
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # the client and its LocalCluster's workers
        child.wait()
    before = {p.name for p in _final_folders(out)}
    assert 2 <= len(before) < 8
    _assert_no_partial(out)
    settings = BatchSettings(spec=MapSpec(width=128), mosaic_resolution_km=60.0)
    again = run_batch([manifest], out, settings=settings, client=client)
    assert again.counts() == {"done": 8 - len(before), "skipped": len(before), "failed": 0}
    assert {Path(p.folder).name for p in again.products if p.status == "skipped"} == before
    assert len(_final_folders(out)) == 8 and not any(is_temporary(p.name) for p in (out / "products").iterdir())
    _assert_no_partial(out)
    products, _ = read_tables(out)
    assert len(products) == 8 and products.key.is_unique and products.input.is_unique


@pytest.mark.slow
def test_worker_sigkill_midway_is_retried(archive, client, tmp_path):
    """A worker killed (SIGKILL) while it runs a product: the nanny restarts it, the scheduler
    runs the task again elsewhere and every product completes once."""
    manifest = _manifest(archive, tmp_path / "m.csv", 6)
    out = tmp_path / "out"
    killed: list[int] = []
    running: list[str] = []

    def kill_busy_worker(counts, total):
        if killed or sum(counts.values()) < 1:
            return
        busy = {w: keys for w, keys in client.processing().items() if keys}
        if not busy:
            return
        address, keys = next(iter(busy.items()))
        pid = client.run(os.getpid, workers=[address])[address]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
        running.extend(str(k) for k in keys)

    settings = BatchSettings(spec=MapSpec(width=128), mosaic_resolution_km=None, extra={"test": "worker-kill"})
    result = run_batch([manifest], out, settings=settings, client=client, on_progress=kill_busy_worker)
    assert killed, "no worker was busy to be killed"
    # A task whose product the killed worker had already published (but not yet reported) finds it
    # complete when it is run again: "skipped", not done twice.
    counts = result.counts()
    assert counts["failed"] == 0 and counts["done"] + counts["skipped"] == 6, counts
    records = {f.name: json.loads((f / RECORD).read_text()) for f in _final_folders(out)}
    assert len(records) == 6
    retried = [name for name in records if any(name in key for key in running)]
    assert retried, (running, list(records))
    skipped = {o.folder.name for o in result.products if o.status == "skipped" and o.folder is not None}
    assert all(records[name]["worker"]["pid"] != killed[0] or name in skipped for name in retried)
    _assert_no_partial(out)
    client.wait_for_workers(2, timeout=60)


def test_summary_cli(tmp_path):
    """``ioflyby batch --summary DIR --json`` prints the catalogue; a folder without one is a one-line error."""
    from typer.testing import CliRunner

    import ioflyby.cli.batch_cmd  # noqa: F401 - registers the verb
    from ioflyby.batch import catalogue
    from ioflyby.cli.app import app

    catalogue.record_all(tmp_path, [({"key": "k1", "product_id": "P1", "status": "failed", "reason": "bad PNG"}, None)])
    runner = CliRunner()
    result = runner.invoke(app, ["batch", "--summary", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["products"][0]["product_id"] == "P1" and data["products"][0]["reason"] == "bad PNG"
    from ioflyby.cli.app import main

    with pytest.raises(SystemExit) as exit_info:
        main(["batch", "--summary", str(tmp_path / "nothing")])
    assert exit_info.value.code == 2


def test_hotspot_rows_carry_ios_context():
    """A detection's ``io_magnetosphere`` lands in the ``io_*`` columns; a null one leaves them empty."""
    from ioflyby.batch.catalogue import hotspot_rows

    context = {"system3_lon_west_deg": 131.75, "centrifugal_lat_deg": 2.38, "magnetic_lat_deg": 4.41,
               "distance_rj": 5.91, "local_time_h": 16.07, "in_shadow": False}
    result = {"key": "k", "product_id": "P", "hotspots": [
        {"time_utc": "2023-12-30T08:36:00", "lat_deg": 1.0, "io_magnetosphere": context},
        {"time_utc": "2023-12-30T08:36:01", "lat_deg": 2.0, "io_magnetosphere": None}]}
    with_context, without = hotspot_rows(result)
    assert {k: with_context[f"io_{k}"] for k in context} == context
    assert not any(k.startswith("io_") for k in without)
