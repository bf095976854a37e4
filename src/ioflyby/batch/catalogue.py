"""The results catalogue of a batch folder: one SQLite file (``catalogue.sqlite``, the default,
embedded) with a ``products`` table (one row per product key: id, time, target, perijove, pointing
verdict and numbers, outputs, timings, error) and a ``hotspots`` table (one row per detection),
and the same tables as Parquet (``products.parquet``, ``hotspots.parquet``) for pandas/arrow.

Rows are keyed by the product's key (its bytes, kernels and settings), so re-running a batch
replaces a product's row instead of adding one; each result is one SQLite transaction.
Coordinates: planetocentric latitude, east longitude (``lon_east_deg``; ``lon_west_deg`` too).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path

CATALOGUE = "catalogue.sqlite"
PARQUET = {"products": "products.parquet", "hotspots": "hotspots.parquet"}

PRODUCT_COLUMNS = {
    "key": "TEXT PRIMARY KEY", "product_id": "TEXT", "status": "TEXT", "reason": "TEXT", "input": "TEXT",
    "source": "TEXT", "kernels": "TEXT", "perijove_group": "TEXT", "time_utc": "TEXT", "stop_time_utc": "TEXT",
    "target": "TEXT", "perijove": "INTEGER", "epoch": "TEXT", "pointing_source": "TEXT",
    "pointing_verdict": "TEXT", "limb_rms_px": "REAL", "timing_offset_s": "REAL", "spin_axis_ra_deg": "REAL",
    "spin_axis_dec_deg": "REAL", "spin_rate_rpm": "REAL", "coverage_fraction": "REAL", "map_projection": "TEXT",
    "map_cell_km": "REAL", "n_hotspots": "INTEGER", "folder": "TEXT", "outputs": "TEXT", "seconds_total": "REAL",
    "seconds": "TEXT", "worker": "TEXT", "finished_utc": "TEXT",
}
HOTSPOT_COLUMNS = {
    "key": "TEXT", "n": "INTEGER", "product_id": "TEXT", "time_utc": "TEXT", "lat_deg": "REAL",
    "lon_east_deg": "REAL", "lon_west_deg": "REAL", "position_sigma_km": "REAL", "emission_deg": "REAL",
    "incidence_deg": "REAL", "km_per_px": "REAL", "color_temperature_k": "REAL", "temperature_sigma_k": "REAL",
    "area_km2": "REAL", "area_sigma_km2": "REAL", "power_gw": "REAL", "power_sigma_gw": "REAL",
    "bands_used": "TEXT", "catalogue_name": "TEXT", "catalogue_distance_km": "REAL",
    "io_system3_lon_west_deg": "REAL", "io_centrifugal_lat_deg": "REAL", "io_magnetic_lat_deg": "REAL",
    "io_distance_rj": "REAL", "io_local_time_h": "REAL", "io_in_shadow": "INTEGER",
}
"""One row per detection; ``io_*``: Io's magnetospheric context at its time (``io_magnetosphere``)."""


def connect(out: Path) -> sqlite3.Connection:
    """Open (creating) ``out/catalogue.sqlite`` with its tables."""
    connection = sqlite3.connect(out / CATALOGUE, timeout=30.0)
    columns = ", ".join(f"{name} {kind}" for name, kind in PRODUCT_COLUMNS.items())
    hot = ", ".join(f"{name} {kind}" for name, kind in HOTSPOT_COLUMNS.items())
    with connection:
        connection.execute(f"CREATE TABLE IF NOT EXISTS products ({columns})")
        connection.execute(f"CREATE TABLE IF NOT EXISTS hotspots ({hot}, PRIMARY KEY (key, n))")
    return connection


def product_row(result: dict, folder: Path | None) -> dict:
    """A result (a product's record, or a failure) as a ``products`` row."""
    pointing = result.get("pointing") or {}
    quality = pointing.get("quality") if isinstance(pointing.get("quality"), dict) else {}
    map_info = result.get("map") or {}
    grid = map_info.get("grid") or {}
    files = result.get("files") or {}
    seconds = result.get("seconds") or {}
    return {
        "key": result["key"], "product_id": result.get("product_id"),
        "status": "failed" if result.get("status") == "failed" else "done", "reason": result.get("reason"),
        "input": result.get("input"), "source": result.get("source"), "kernels": json.dumps(result.get("kernels")),
        "perijove_group": result.get("group"), "time_utc": result.get("time_utc"),
        "stop_time_utc": result.get("stop_time_utc"), "target": result.get("target"),
        "perijove": result.get("perijove"), "epoch": result.get("epoch"),
        "pointing_source": pointing.get("source"),
        "pointing_verdict": pointing.get("verdict") or quality.get("verdict"),
        "limb_rms_px": pointing.get("limb_rms_px"), "timing_offset_s": pointing.get("timing_offset_s"),
        "spin_axis_ra_deg": pointing.get("spin_axis_ra_deg"), "spin_axis_dec_deg": pointing.get("spin_axis_dec_deg"),
        "spin_rate_rpm": pointing.get("spin_rate_rpm"), "coverage_fraction": map_info.get("coverage_fraction"),
        "map_projection": grid.get("projection"), "map_cell_km": grid.get("cell_km"),
        "n_hotspots": len(result.get("hotspots") or []) if result.get("status") != "failed" else None,
        "folder": None if folder is None or result.get("status") == "failed" else str(folder),
        "outputs": json.dumps([str(folder / name) for name in files] if folder is not None else []),
        "seconds_total": seconds.get("total"), "seconds": json.dumps(seconds),
        "worker": json.dumps(result.get("worker")), "finished_utc": result.get("finished_utc"),
    }


def hotspot_rows(result: dict) -> list[dict]:
    """A done product's detections as ``hotspots`` rows."""
    rows = []
    for n, d in enumerate(result.get("hotspots") or []):
        match = d.get("catalogue_match") or {}
        row = {name: d.get(name) for name in HOTSPOT_COLUMNS if name in d}
        row.update(key=result["key"], n=n, product_id=result.get("product_id"),
                   bands_used="/".join(d.get("bands_used") or []), catalogue_name=match.get("name"),
                   catalogue_distance_km=match.get("distance_km"))
        row.update({f"io_{name}": value for name, value in (d.get("io_magnetosphere") or {}).items()
                    if f"io_{name}" in HOTSPOT_COLUMNS})
        rows.append(row)
    return rows


def record(connection: sqlite3.Connection, result: dict, folder: Path | None) -> None:
    """Write one product's rows (replacing its earlier ones) in one transaction. A failure does
    not replace a done row of the same key (its outputs are still there and valid)."""
    row = product_row(result, folder)
    with connection:
        if row["status"] == "failed":
            done = connection.execute("SELECT 1 FROM products WHERE key = ? AND status = 'done'", (row["key"],))
            if done.fetchone():
                return
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        connection.execute(f"INSERT OR REPLACE INTO products ({names}) VALUES ({marks})", tuple(row.values()))
        connection.execute("DELETE FROM hotspots WHERE key = ?", (row["key"],))
        for hot in hotspot_rows(result):
            names = ", ".join(hot)
            connection.execute(f"INSERT INTO hotspots ({names}) VALUES ({', '.join('?' for _ in hot)})",
                               tuple(hot.values()))


def record_all(out: Path, results: Iterable[tuple[dict, Path | None]]) -> None:
    connection = connect(out)
    try:
        for result, folder in results:
            record(connection, result, folder)
    finally:
        connection.close()


def read_tables(out: Path):
    """The catalogue's two tables as pandas DataFrames ``(products, hotspots)``."""
    import pandas as pd

    connection = sqlite3.connect(f"file:{out / CATALOGUE}?mode=ro", uri=True)
    try:
        products = pd.read_sql_query("SELECT * FROM products ORDER BY time_utc, product_id", connection)
        hotspots = pd.read_sql_query("SELECT * FROM hotspots ORDER BY time_utc, key, n", connection)
    finally:
        connection.close()
    return products, hotspots


def write_parquet(out: Path) -> dict[str, Path]:
    """``products.parquet`` and ``hotspots.parquet`` from the SQLite tables, published together."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ioflyby.fileio import AtomicFiles

    products, hotspots = read_tables(out)
    paths = {name: out / file for name, file in PARQUET.items()}
    with AtomicFiles() as files:
        for name, frame in (("products", products), ("hotspots", hotspots)):
            pq.write_table(pa.Table.from_pandas(_typed(frame, name), preserve_index=False), files.path(paths[name]))
    return paths


def _typed(frame, name: str):
    """Columns with their SQL types (an all-null column would otherwise have no type)."""
    columns = PRODUCT_COLUMNS if name == "products" else HOTSPOT_COLUMNS
    kinds = {"TEXT": "object", "REAL": "float64", "INTEGER": "Int64"}
    for column, kind in columns.items():
        frame[column] = frame[column].astype(kinds[kind.split()[0]])
    return frame
