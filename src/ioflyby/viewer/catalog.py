"""What a folder of ioflyby outputs holds, for the viewer: maps, vector layers, flybys, reports, catalogues.

The folder is walked once (symlinks are not followed into folders; a file whose real path leaves
the folder is skipped; hidden names are skipped) and every item gets an opaque id (a hash of its
relative path), so tile and layer URLs never carry a path.

- **Maps**: GeoTIFFs with a CRS. Integer colour/grey maps (``ioflyby process`` colour GeoTIFFs,
  uint8/uint16 with an alpha band) and float maps of one band (e.g. a change map) are map layers;
  ``*_linear.tif`` and ``*_backplanes.tif`` are listed as files of the map they belong to. Each
  map carries its time (the earliest START_TIME / IMAGE_TIME of its products, from the products'
  ``*-Metadata.json`` found in the folder, else the day in the product id), target, perijove,
  pointing verdict (``PROCESSING`` tag written by ``ioflyby process``), lon/lat bounds and preview.
- **Vector layers**: every ``*.geojson`` (schema in docs/viewer.md): ``*_hotspots.geojson``
  (``ioflyby hotspots``), ``*_labels.geojson`` (``process --labels``, projected metres), files whose
  name holds ``change`` (``ioflyby change`` polygons), others shown generically.
- **Flybys**: every ``comparison.json`` (``ioflyby flyby compare``, the demo) with the PNG plots
  beside it; **reports**: ``*.html``; **catalogues**: SQLite files (``ioflyby batch``), read-only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import stat
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from ioflyby.viewer.paths import is_inside

MAX_FILES = 50_000
"""Files looked at in one scan (a folder with more is listed partially, and says so)."""
MAX_JSON_BYTES = 20_000_000
"""Largest JSON / GeoJSON file the viewer parses."""
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
SQLITE_MAX_ROWS = 500
_PRODUCT_ID = re.compile(r"JN[CE]E_(\d{4})(\d{3})_(\d{2})([CM])(\d{5})_V\d{2}")
_ENCOUNTER_COLUMNS = ("label", "time_utc", "altitude_km", "speed_km_s", "sub_lat_deg", "sub_lon_east_deg",
                      "sub_lon_west_deg", "phase_deg", "local_solar_time", "junocam_km_per_px")


def item_id(relative: str) -> str:
    """Opaque id of the item at ``relative`` (16 hex digits of its SHA-256)."""
    return hashlib.sha256(relative.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def product_from_id(product_id: str) -> dict:
    """Date (UTC day, ISO), perijove and kind parsed from a JunoCam product id (empty dict if not one)."""
    match = _PRODUCT_ID.search(product_id)
    if not match:
        return {}
    year, doy, pj, kind = int(match[1]), int(match[2]), int(match[3]), match[4]
    day = datetime(year, 1, 1) + timedelta(days=doy - 1)
    return {"date_utc": day.strftime("%Y-%m-%d"), "perijove": pj, "kind": "colour" if kind == "C" else "methane"}


@dataclass
class Catalog:
    """Everything found under ``root`` (a real path); items are JSON-ready dicts."""

    root: Path
    maps: list[dict] = field(default_factory=list)
    layers: list[dict] = field(default_factory=list)
    flybys: list[dict] = field(default_factory=list)
    reports: list[dict] = field(default_factory=list)
    databases: list[dict] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    truncated: bool = False
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"root": self.root.name, "maps": self.maps, "layers": self.layers, "flybys": self.flybys,
                "reports": self.reports, "databases": self.databases, "truncated": self.truncated,
                "problems": self.problems,
                "conventions": "planetocentric latitude, east-positive longitude (deg); bounds [west, south, east, north]"}

    def find(self, kind: str, ident: str) -> dict | None:
        """The map / layer / database with id ``ident`` (kind "maps", "layers" or "databases")."""
        return next((item for item in getattr(self, kind) if item["id"] == ident), None)


def walk_files(root: Path, limit: int = MAX_FILES) -> tuple[list[Path], bool]:
    """Real paths of the regular files under ``root`` (hidden names and folder symlinks skipped,
    files whose real path leaves ``root`` dropped), sorted; and whether ``limit`` cut the list."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            real = Path(os.path.realpath(os.path.join(folder, name)))
            try:
                if not (is_inside(root, real) and stat.S_ISREG(os.stat(real).st_mode)):
                    continue
            except OSError:
                continue
            found.append(Path(folder, name))
            if len(found) >= limit:
                return found, True
    return found, False


def read_json(path: Path) -> object | None:
    """Parsed JSON of a file of at most :data:`MAX_JSON_BYTES`, None when larger or malformed."""
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def scan(root: Path) -> Catalog:
    """The :class:`Catalog` of folder ``root`` (resolved first)."""
    root = Path(os.path.realpath(root))
    paths, truncated = walk_files(root)
    catalog = Catalog(root=root, truncated=truncated)
    relative = {path: path.relative_to(root).as_posix() for path in paths}
    catalog.files = list(relative.values())
    by_name = {rel: path for path, rel in relative.items()}
    products = _product_times(p for p in paths if p.name.endswith("-Metadata.json"))
    for path in paths:
        suffix = path.suffix.lower()
        rel = relative[path]
        try:
            if suffix in (".tif", ".tiff") and not path.stem.endswith(("_linear", "_backplanes")):
                item = _map_item(path, rel, by_name, products)
                if item is not None:
                    catalog.maps.append(item)
            elif suffix == ".geojson":
                catalog.layers.append(_layer_item(path, rel))
            elif path.name == "comparison.json":
                catalog.flybys.append(_flyby_item(path, rel, by_name))
            elif suffix == ".html":
                catalog.reports.append({"name": rel, "path": rel})
            elif suffix in SQLITE_SUFFIXES:
                catalog.databases.append(_database_item(path, rel))
        except Exception as exc:  # noqa: BLE001 - one unreadable file must not hide the others
            catalog.problems.append(f"{rel}: {type(exc).__name__}: {exc}")
    catalog.maps.sort(key=lambda m: (m["time_utc"] or "9999", m["name"]))
    _attach_layers(catalog)
    return catalog


def _product_times(metadata_files) -> dict[str, dict]:
    """Product id → {"time_utc", "target", "perijove"} from JunoCam ``*-Metadata.json`` files."""
    products = {}
    for path in metadata_files:
        meta = read_json(path)
        if not isinstance(meta, dict):
            continue
        product_id = str(meta.get("PRODUCT_ID") or path.parent.name)
        time = meta.get("START_TIME") or meta.get("IMAGE_TIME")
        pj = meta.get("PJ") or meta.get("ORBIT_NUMBER")
        products[product_id] = {"time_utc": str(time) if time else None, "target": meta.get("TARGET_NAME"),
                                "perijove": int(pj) if str(pj).isdigit() else None}
    return products


def _map_item(path: Path, rel: str, by_name: dict[str, Path], products: dict[str, dict]) -> dict | None:
    import rasterio

    from ioflyby.viewer.tiles import band_stretch, geographic_bounds

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path) as src:
            if src.crs is None:
                return None
            dtype, count, tags = src.dtypes[0], src.count, src.tags()
            interp = [c.name for c in src.colorinterp]
            width, height = src.width, src.height
    has_alpha = "alpha" in interp
    colour_bands = count - 1 if has_alpha else count
    if dtype in ("uint8", "uint16") and colour_bands in (1, 3):
        indexes, kind, stretch = tuple(range(1, colour_bands + 1)), "colour", None
    elif dtype.startswith("float") and count == 1:
        indexes, kind = (1,), "float"
        stretch = band_stretch(str(path), indexes)
    else:
        return None
    processing = _json_tag(tags.get("PROCESSING"))
    grid = _json_tag(tags.get("GRID"))
    ids = [str(p) for p in processing.get("products", [])] or ([path.stem] if _PRODUCT_ID.search(path.stem) else [])
    times = [products.get(p, {}).get("time_utc") or product_from_id(p).get("date_utc") for p in ids]
    times = sorted(t for t in times if t)
    perijoves = sorted({pj for p in ids if (pj := products.get(p, {}).get("perijove") or
                                             product_from_id(p).get("perijove")) is not None})
    pointing = processing.get("pointing") or []
    verdicts = [r.get("quality", {}).get("verdict") for r in pointing if isinstance(r, dict)]
    stem = rel[: -len(path.suffix)]
    files = {"GeoTIFF": rel}
    for label, suffix in (("preview", "_preview.png"), ("linear", "_linear.tif"), ("backplanes", "_backplanes.tif"),
                          ("labels", "_labels.geojson")):
        if stem + suffix in by_name:
            files[label] = stem + suffix
    bounds = geographic_bounds(str(path))
    if "center_lat_deg" in grid and "center_lon_east_deg" in grid:
        center = [float(grid["center_lat_deg"]), (float(grid["center_lon_east_deg"]) + 180.0) % 360.0 - 180.0]
    elif bounds is not None:
        center = [(bounds[1] + bounds[3]) / 2.0, (bounds[0] + bounds[2]) / 2.0]
    else:
        center = None
    return {
        "id": item_id(rel), "name": path.stem, "path": rel, "kind": kind, "dtype": dtype, "indexes": list(indexes),
        "stretch": [list(s) for s in stretch] if stretch else None, "has_alpha": has_alpha, "width": width, "height": height,
        "projection": grid.get("projection"), "crs": tags.get("CRS_SOURCE") or grid.get("crs"),
        "cell_km": grid.get("cell_km"), "target": tags.get("TARGET"), "bounds": list(bounds) if bounds else None, "center": center,
        "time_utc": times[0] if times else None, "products": ids, "perijoves": perijoves,
        "pointing_quality": _worst(verdicts) if verdicts else ("kernels" if pointing else None),
        "limb_rms_px": [r.get("limb_rms_px") for r in pointing if isinstance(r, dict) and "limb_rms_px" in r],
        "preview": files.get("preview"), "files": files,
    }


def _json_tag(text: str | None) -> dict:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _worst(verdicts: list) -> str:
    order = ["refused", "degraded", "good"]
    known = [v for v in verdicts if v in order]
    return min(known, key=order.index) if known else str(verdicts[0])


def layer_kind(name: str) -> str:
    """How a GeoJSON file is shown, from its name: hotspots, labels, changes or features."""
    lower = name.lower()
    if lower.endswith("_hotspots.geojson"):
        return "hotspots"
    if lower.endswith("_labels.geojson"):
        return "labels"
    if "change" in lower:
        return "changes"
    return "features"


def _layer_item(path: Path, rel: str) -> dict:
    return {"id": item_id(rel), "name": path.stem, "path": rel, "kind": layer_kind(path.name),
            "bytes": path.stat().st_size}


def _flyby_item(path: Path, rel: str, by_name: dict[str, Path]) -> dict:
    table = read_json(path)
    rows = table.get("encounters", []) if isinstance(table, dict) else []
    folder = rel.rsplit("/", 1)[0] + "/" if "/" in rel else ""
    plots = sorted(r for r in by_name if r.startswith(folder) and "/" not in r[len(folder):] and r.endswith(".png"))
    html = folder + "index.html"
    return {
        "id": item_id(rel), "name": folder.rstrip("/") or "flyby", "path": rel,
        "encounters": [{k: row.get(k) for k in _ENCOUNTER_COLUMNS} for row in rows if isinstance(row, dict)],
        "plots": plots, "html": html if html in by_name else None,
    }


def _database_item(path: Path, rel: str) -> dict:
    return {"id": item_id(rel), "name": path.name, "path": rel,
            "tables": {name: table["total"] for name, table in read_database(path, max_rows=0).items()}}


def read_database(path: Path, max_rows: int = SQLITE_MAX_ROWS) -> dict[str, dict]:
    """Table name → {"columns", "rows" (at most ``max_rows``), "total"} of a SQLite file opened
    read-only (``mode=ro``; the viewer never writes)."""
    uri = f"file:{path}?mode=ro"
    connection = sqlite3.connect(uri, uri=True, timeout=2.0, check_same_thread=False)
    try:
        connection.execute("PRAGMA query_only = ON")
        names = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        tables = {}
        for name in names:
            quoted = '"' + name.replace('"', '""') + '"'
            cursor = connection.execute(f"SELECT * FROM {quoted} LIMIT {int(max_rows)}")
            columns = [d[0] for d in cursor.description]
            rows = [[_cell(v) for v in row] for row in cursor.fetchall()]
            total = connection.execute(f"SELECT COUNT(*) FROM {quoted}").fetchone()[0]
            tables[name] = {"columns": columns, "rows": rows, "total": total}
        return tables
    finally:
        connection.close()


def _cell(value):
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def _attach_layers(catalog: Catalog) -> None:
    """Give each map the ids of the GeoJSON layers written beside it (labels)."""
    by_path = {layer["path"]: layer["id"] for layer in catalog.layers}
    for item in catalog.maps:
        labels = item["files"].get("labels")
        item["label_layer"] = by_path.get(labels) if labels else None
