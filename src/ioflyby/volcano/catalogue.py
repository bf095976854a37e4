"""Io's volcanic centres and hot spots from published tables, in one table in the project's conventions.

Sources (shipped in ``ioflyby/volcano/data``, citations and licences in its README.md):

- ``davies``: Davies et al. (2024) Table A1, 343 thermal sources with effective temperature,
  area and power (AAS machine-readable fixed-width table).
- ``mura``: Mura et al. (2024) Table 3, Juno JIRAM M-band (4.8 µm) output per orbit PJ41, PJ43,
  PJ47, PJ49 (a band output, not the total thermal power: ``power_gw`` stays empty for it).
- ``gazetteer``: the IAU Gazetteer of Planetary Nomenclature for Io (names, type, diameter).

All three publish **west-positive** longitudes; the readers convert them once, here
(``lon_east = (360 − lon_west) mod 360``), and every row carries both. Io's IAU body is a
sphere, so the published (planetographic) latitudes are planetocentric. Each thermal source is
cross-matched to the gazetteer feature it belongs to (``iau_name``): the features whose name
its name starts with (nearest one, of the type its name abbreviates when there is one), else the
feature whose disc (diameter / 2 + :data:`MATCH_TOLERANCE_DEG`) contains it most centrally.
Renames are resolved: Davies' "Yeloje P. (was Maju P.)" is Yeloje P., and a dropped gazetteer name
(``[Shen Yi]``) points at its successor (Xihe).
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import numpy as np
import pandas as pd

from ioflyby.errors import IoflybyError

IO_MEAN_RADIUS_KM = 1821.49
"""Io's IAU 2015 mean radius (the sphere of its IAU_2015:50100 CRS): great-circle distances."""
MATCH_TOLERANCE_DEG = 1.0
"""Added to a gazetteer feature's radius when matching by position: published hot-spot positions
are rounded to 0.1° (Davies) or 1° (Mura) and JIRAM positions are uncertain by about a degree."""
NAMED_MATCH_TOLERANCE_DEG = 5.0
"""Added to the radius of a feature whose name the source's name carries (Tonatiuh A, Nina (E),
Xihe): sources named after a feature spread around it; farther away the position decides."""
SOURCES = ("davies", "mura", "gazetteer")
FILES = {
    "davies": "davies2024_hotspots_mrt.txt",
    "mura": "mura2024_mband_by_orbit.csv",
    "gazetteer": "iau_gazetteer_io.csv",
}
COLUMNS = ("name", "iau_name", "lat_deg", "lon_east_deg", "lon_west_deg", "feature_type", "power_gw",
           "temperature_k", "area_km2", "source", "status")
"""The catalogue's columns in the order of the ``volcano list`` contract."""
MURA_ORBITS = ("PJ41", "PJ43", "PJ47", "PJ49")
EXTRA_COLUMNS = ("source_id", "diameter_km", *(f"mband_{orbit.lower()}_gw" for orbit in MURA_ORBITS))
"""Also carried: Davies' ID (JRMnnn, Pnnn…), the gazetteer diameter (km), Mura's M-band output per orbit (GW)."""
DAVIES_STATUS = {"": "galileo-era", "1": "jiram-new", "0": "keck-gemini"}
"""Davies' detection-source code → ``status``: Veeder et al. (2015) and earlier, a new Juno JIRAM
detection, an original Keck/Gemini detection."""
_DESCRIPTORS = {"patera", "paterae", "fluctus", "fluctūs", "mons", "montes", "mensa", "mensae", "planum", "regio",
                "tholus", "catena", "vallis"}
_TYPE_HINTS = {"patera": re.compile(r"\b(p\.|patera)(\s|$)"), "fluctus": re.compile(r"\b(f\.|fluct\S*)(\s|$)"),
               "eruptive center": re.compile(r"\be\.c\.")}
_PREFIX = re.compile(r"^(close to|east|west|north|south|[nsew]\.?)\s+")
"""Leading words of a source name that place it near the feature it names ("E. Surya", "close to Tupan Patera")."""


class CatalogueError(IoflybyError):
    """A catalogue table is missing or malformed, or a catalogue query is invalid."""


# -- reading the published tables -------------------------------------------------------------------
def data_dir() -> Traversable:
    """The package's own copy of the published tables."""
    return resources.files("ioflyby.volcano") / "data"


def _read_text(folder: Traversable | Path | None, source: str) -> str:
    path = (data_dir() if folder is None else folder) / FILES[source]
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogueError(f"cannot read the {source} table {path}: {exc.strerror or exc}; "
                             f"reinstall ioflyby or point to a folder holding {FILES[source]}") from None


def west_to_east(lon_west_deg: np.ndarray | float) -> np.ndarray:
    """West-positive longitude (deg) → east-positive in [0, 360)."""
    return (360.0 - np.asarray(lon_west_deg, float)) % 360.0


def great_circle_deg(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Angle (deg) between points on a sphere given planetocentric lat / east lon in degrees (broadcasts)."""
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(v, float)) for v in (lat1, lon1, lat2, lon2))
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return np.degrees(2.0 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


def read_mrt(text: str) -> list[dict[str, str]]:
    """Rows of an AAS machine-readable table (MRT): columns sliced at the bytes its
    "Byte-by-byte Description" gives, values stripped ("" = blank), keyed by label."""
    lines = text.splitlines()
    spec = re.compile(r"^\s*(\d+)-\s*(\d+)\s+\S+\s+\S+\s+(\S+)")
    columns = [(int(m[1]) - 1, int(m[2]), m[3]) for m in map(spec.match, lines) if m]
    rules = [i for i, line in enumerate(lines) if line.startswith("-----")]
    if not columns or not rules:
        raise CatalogueError("not an AAS machine-readable table (no byte-by-byte description); use the published file")
    return [{label: line[start:stop].strip() for start, stop, label in columns}
            for line in lines[rules[-1] + 1:] if line.strip()]


def _number(text: str) -> float:
    return float(text) if text.strip() else math.nan


def _frame(rows: Iterable[dict], source: str) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows))
    frame["lon_east_deg"] = west_to_east(frame["lon_west_deg"])
    frame["source"] = source
    for column in (*COLUMNS, *EXTRA_COLUMNS):
        if column not in frame:
            frame[column] = math.nan if column.endswith(("_gw", "_k", "_km2", "_km")) else None
    return frame[[*COLUMNS, *EXTRA_COLUMNS]]


def read_davies(folder: Traversable | Path | None = None) -> pd.DataFrame:
    """Davies et al. (2024) Table A1 in catalogue columns (``feature_type`` "hot spot", ``status``
    per :data:`DAVIES_STATUS`, renames "X (was Y)" resolved to X, unnamed sources named by their ID;
    ``iau_name`` not yet matched)."""
    rows = read_mrt(_read_text(folder, "davies"))
    return _frame(({
        "name": re.sub(r"\s*\(was [^)]*\)", "", row["Name"]).strip('"') or row["ID"],
        "lat_deg": float(row["Lat"]), "lon_west_deg": float(row["Long"]), "feature_type": "hot spot",
        "power_gw": float(row["Power"]), "temperature_k": _number(row["Temp"]), "area_km2": _number(row["Area"]),
        "status": DAVIES_STATUS[row["Status"]], "source_id": row["ID"] or None,
    } for row in rows), "davies")


def read_mura(folder: Traversable | Path | None = None) -> pd.DataFrame:
    """Mura et al. (2024) Table 3 in catalogue columns: M-band output per orbit in
    ``mband_pjNN_gw``, ``status`` "jiram PJ41 PJ47…" (the orbits that report it)."""
    records = []
    for row in csv.DictReader(io.StringIO(_read_text(folder, "mura"))):
        orbits = [orbit for orbit in MURA_ORBITS if row[f"{orbit}_GW"].strip()]
        records.append({
            "name": row["name"], "lat_deg": float(row["lat_deg"]), "lon_west_deg": float(row["lon_west_deg"]),
            "feature_type": "hot spot", "status": "jiram " + " ".join(orbits),
            **{f"mband_{orbit.lower()}_gw": _number(row[f"{orbit}_GW"]) for orbit in MURA_ORBITS},
        })
    return _frame(records, "mura")


def read_gazetteer(folder: Traversable | Path | None = None) -> pd.DataFrame:
    """The IAU gazetteer for Io in catalogue columns: ``feature_type`` the singular descriptor
    ("patera", "eruptive center"…), ``status`` "approved" or "dropped" (a bracketed name)."""
    records = []
    for raw in csv.DictReader(io.StringIO(_read_text(folder, "gazetteer"))):
        row = {" ".join(key.split()): value for key, value in raw.items()}  # "Center          Longitude"
        name = row["Feature Name"]
        records.append({
            "name": name.strip("[]"), "lat_deg": float(row["Center Latitude"]),
            "lon_west_deg": float(row["Center Longitude"]),
            "feature_type": row["Feature Type"].split(",")[0].strip().lower(),
            "diameter_km": float(row["Diameter"]), "status": "dropped" if name.startswith("[") else "approved",
        })
    return _frame(records, "gazetteer")


# -- cross-matching to the gazetteer ---------------------------------------------------------------
def match_key(name: str) -> str:
    """A name folded for comparison: accents removed, hyphens as spaces, lower case, leading
    placement words dropped ("Tol-Ava Patera" and "Tol Ava P." share "tol ava")."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return _PREFIX.sub("", " ".join(plain.replace("-", " ").casefold().split()))


def name_root(name: str) -> str:
    """The match key of a gazetteer name without its descriptor term: "Loki Patera" → "loki"."""
    words = match_key(name).split()
    return " ".join(words[:-1]) if len(words) > 1 and words[-1] in _DESCRIPTORS else " ".join(words)


def _named_candidates(name: str, roots: pd.Series, types: pd.Series) -> np.ndarray:
    """Gazetteer rows whose root the source name starts with (the longest such root), narrowed
    to the type the name abbreviates ("P." patera, "F." fluctus, "E.C." eruptive center) where
    the gazetteer has it."""
    key = match_key(name)
    starts = np.array([key == root or key.startswith(root + " ") for root in roots])
    if not starts.any():
        return starts
    chosen = starts & (roots.str.len() == roots[starts].str.len().max()).to_numpy()
    hint = next((kind for kind, pattern in _TYPE_HINTS.items() if pattern.search(key)), None)
    typed = chosen & (types == hint).to_numpy()
    return typed if typed.any() else chosen


def cross_match(features: pd.DataFrame, gazetteer: pd.DataFrame) -> pd.Series:
    """The approved gazetteer name each feature belongs to (None where none): the nearest
    feature its name carries (:func:`_named_candidates`) within that feature's radius +
    :data:`NAMED_MATCH_TOLERANCE_DEG`, else the feature whose radius + :data:`MATCH_TOLERANCE_DEG`
    contains it most centrally (smallest distance / reach). Positions are compared as given
    (``lat_deg``, ``lon_east_deg``)."""
    approved = gazetteer[gazetteer["status"] == "approved"].reset_index(drop=True)
    roots = approved["name"].map(name_root)
    radius_deg = np.degrees(approved["diameter_km"].to_numpy() / 2.0 / IO_MEAN_RADIUS_KM)
    reach_deg = radius_deg + MATCH_TOLERANCE_DEG
    names = []
    for row in features.itertuples(index=False):
        separation = great_circle_deg(row.lat_deg, row.lon_east_deg, approved["lat_deg"], approved["lon_east_deg"])
        named = _named_candidates(row.name, roots, approved["feature_type"]) & (
            separation <= radius_deg + NAMED_MATCH_TOLERANCE_DEG)
        inside = separation <= reach_deg
        if named.any():
            names.append(approved.at[int(np.argmin(np.where(named, separation, np.inf))), "name"])
        elif inside.any():
            names.append(approved.at[int(np.argmin(np.where(inside, separation / reach_deg, np.inf))), "name"])
        else:
            names.append(None)
    return pd.Series(names, index=features.index, dtype=object)


# -- the catalogue ---------------------------------------------------------------------------------
def build_catalogue(folder: Traversable | Path | None = None) -> pd.DataFrame:
    """Davies, Mura and the gazetteer (read from ``folder``, default the shipped copy) in one
    table, thermal sources cross-matched to the gazetteer; approved gazetteer rows name themselves."""
    gazetteer = read_gazetteer(folder)
    parts = [read_davies(folder), read_mura(folder), gazetteer]
    for part in parts:
        part["iau_name"] = cross_match(part, gazetteer)
    approved = gazetteer["status"] == "approved"
    gazetteer.loc[approved, "iau_name"] = gazetteer.loc[approved, "name"]
    return pd.concat(parts, ignore_index=True)


@lru_cache(maxsize=1)
def _shipped() -> pd.DataFrame:
    return build_catalogue()


def load_catalogue() -> pd.DataFrame:
    """The catalogue from the shipped tables (built once per process; a copy each call)."""
    return _shipped().copy()


def select_features(
    catalogue: pd.DataFrame | None = None,
    sources: Sequence[str] | str = "all",
    near: tuple[float, float] | None = None,
    radius_km: float | None = None,
    min_power_gw: float | None = None,
) -> pd.DataFrame:
    """Rows of ``catalogue`` (default: :func:`load_catalogue`) from ``sources`` ("all" or names in
    :data:`SOURCES`), with ``power_gw`` ≥ ``min_power_gw`` (rows without a power are dropped when
    it is given) and, with ``near`` = (lat, east lon) deg, within ``radius_km`` great-circle km
    (on Io's mean sphere), sorted by distance with a ``distance_km`` column."""
    table = load_catalogue() if catalogue is None else catalogue
    names = [sources] if isinstance(sources, str) else list(sources)
    wanted = set(SOURCES) if names == ["all"] else set(names)
    unknown = wanted - set(SOURCES)
    if unknown:
        raise CatalogueError(f"unknown catalogue source {', '.join(sorted(unknown))}: use {', '.join(SOURCES)} or all")
    table = table[table["source"].isin(wanted)]
    if min_power_gw is not None:
        table = table[table["power_gw"] >= min_power_gw]
    if (near is None) != (radius_km is None):
        raise CatalogueError("give both near (lat, east lon) and radius_km, or neither")
    if near is not None:
        lat, lon = near
        if not (-90.0 <= lat <= 90.0 and math.isfinite(lon)) or not radius_km > 0:
            raise CatalogueError(f"near must be (lat in [-90, 90], east lon) and radius_km positive; got "
                                 f"{lat:g}, {lon:g} and {radius_km:g}")
        distance = np.radians(great_circle_deg(lat, lon, table["lat_deg"], table["lon_east_deg"])) * IO_MEAN_RADIUS_KM
        table = table.assign(distance_km=distance)
        table = table[table["distance_km"] <= radius_km].sort_values("distance_km", kind="stable")
    return table.copy()


def features_json(table: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts (NaN and missing values → None)."""
    records = table.astype(object).where(table.notna(), None).to_dict(orient="records")
    return [{key: (float(value) if isinstance(value, np.floating) else value) for key, value in record.items()}
            for record in records]
