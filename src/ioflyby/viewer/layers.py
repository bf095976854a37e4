"""Vector layers for the client, all in longitude/latitude degrees (east, -180..180) on Io's sphere.

- GeoJSON files of the folder: coordinates as written, unless a ``crs`` member names another CRS
  (``ioflyby process --labels`` writes projected metres with the map's IAU code or WKT there), in
  which case every position is transformed with PROJ to Io's geographic CRS.
- Io's volcano catalogue (``ioflyby.volcano.catalogue``, read-only): Davies et al. (2024) thermal
  sources, Mura et al. (2024) JIRAM sources and the IAU gazetteer's named features.
- Search by name over the gazetteer, the catalogue and the folder's maps.
"""

from __future__ import annotations

import math
import unicodedata
import warnings
from functools import cache
from pathlib import Path

from ioflyby.viewer.catalog import MAX_JSON_BYTES, read_json

_LONLAT_NAMES = ("urn:ogc:def:crs:OGC:1.3:CRS84", "EPSG:4326", "CRS84")
VOLCANO_COLUMNS = ("name", "iau_name", "lat_deg", "lon_east_deg", "lon_west_deg", "feature_type", "power_gw",
                   "temperature_k", "area_km2", "source", "status", "source_id", "diameter_km")
CITATIONS = ("Davies, A. G., et al. (2024), Planet. Sci. J. 5:121, doi:10.3847/PSJ/ad4346 (CC BY 4.0)",
             "Mura, A., et al. (2024), Front. Astron. Space Sci. 11:1369472, doi:10.3389/fspas.2024.1369472 (CC BY 4.0)",
             "IAU Gazetteer of Planetary Nomenclature, USGS Astrogeology (public domain)")


class LayerError(Exception):
    """A GeoJSON file the viewer cannot show (too large, malformed, unknown CRS)."""


def wrap_lon(lon: float) -> float:
    """East longitude in degrees wrapped to [-180, 180)."""
    return (lon + 180.0) % 360.0 - 180.0


def lonlat_geojson(path: Path) -> dict:
    """The GeoJSON FeatureCollection of ``path`` with positions in lon/lat degrees (east, -180..180)."""
    if path.stat().st_size > MAX_JSON_BYTES:
        raise LayerError(f"larger than {MAX_JSON_BYTES:,} bytes")
    data = read_json(path)
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" or not isinstance(data.get("features"), list):
        raise LayerError("not a GeoJSON FeatureCollection")
    crs = _crs_name(data.get("crs"))
    transform = _to_lonlat(crs) if crs and crs not in _LONLAT_NAMES else None
    features = []
    for feature in data["features"]:
        if not isinstance(feature, dict) or not isinstance(feature.get("geometry"), dict):
            continue
        geometry = dict(feature["geometry"])
        geometry["coordinates"] = _map_positions(geometry.get("coordinates"), transform)
        features.append({"type": "Feature", "geometry": geometry,
                         "properties": feature.get("properties") if isinstance(feature.get("properties"), dict) else {}})
    return {"type": "FeatureCollection", "name": data.get("name") or path.stem, "features": features,
            "source_crs": crs or "lon/lat degrees (east) on Io's sphere"}


def _crs_name(member) -> str | None:
    if isinstance(member, dict):
        name = (member.get("properties") or {}).get("name")
        return str(name) if name else None
    return None


def _to_lonlat(crs: str):
    from pyproj import CRS, Transformer

    from ioflyby.viewer.tiles import io_tms

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            transformer = Transformer.from_crs(CRS.from_user_input(crs), io_tms().geographic_crs, always_xy=True)
    except Exception as exc:  # noqa: BLE001 - any CRS PROJ cannot read
        raise LayerError(f"unknown CRS {crs[:60]!r}: {exc}") from None

    def transform(x: float, y: float) -> tuple[float, float]:
        lon, lat = transformer.transform(x, y)
        return wrap_lon(lon), lat

    return transform


def _map_positions(coordinates, transform):
    """Nested GeoJSON coordinates with every position's longitude wrapped (and transformed)."""
    if isinstance(coordinates, list) and coordinates and all(isinstance(v, (int, float)) for v in coordinates[:2]):
        if len(coordinates) < 2:
            return coordinates
        x, y = float(coordinates[0]), float(coordinates[1])
        lon, lat = transform(x, y) if transform else (wrap_lon(x), y)
        if not (math.isfinite(lon) and math.isfinite(lat)):
            return None
        return [round(lon, 7), round(lat, 7), *coordinates[2:]]
    if isinstance(coordinates, list):
        return [p for p in (_map_positions(c, transform) for c in coordinates) if p is not None]
    return coordinates


@cache
def volcano_features() -> list[dict]:
    """Io's catalogue (every source) as JSON-ready rows of :data:`VOLCANO_COLUMNS`."""
    from ioflyby.volcano.catalogue import features_json, load_catalogue

    table = load_catalogue()
    return [{k: row.get(k) for k in VOLCANO_COLUMNS} for row in features_json(table)]


def fold(text: str) -> str:
    """``text`` folded for name search: accents removed, lower case, hyphens as spaces."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(plain.lower().replace("-", " ").replace("'", "").split())


TYPE_PRIORITY = {"patera": 0, "eruptive center": 1, "hot spot": 2}
"""Among features answering a bare name equally well, a volcano's patera first ("Loki" → Loki Patera)."""


def _root(name: str) -> str:
    """Folded name without a trailing descriptor ("loki patera" → "loki", "loki p." → "loki")."""
    words = fold(name).split()
    while len(words) > 1 and (words[-1].rstrip(".") in ("p", "f", "patera", "paterae", "fluctus", "mons", "montes",
                                                        "e.c", "ec", "tholus", "mensa", "planum", "regio")):
        words.pop()
    return " ".join(words)


def search(query: str, maps: list[dict], limit: int = 20) -> list[dict]:
    """Catalogue features and maps whose name holds ``query`` (folded). Order: names equal to the
    query or to it plus a descriptor ("Loki" → Loki Patera, Loki, Loki P.), then names starting with
    it, then the rest; within a rank approved gazetteer features before thermal sources, a patera
    before an eruptive centre before a hot spot (:data:`TYPE_PRIORITY`). Each hit: name, kind,
    source, lat_deg, lon_east_deg, lon_west_deg (and the map id for maps)."""
    wanted = fold(query)
    if not wanted:
        return []
    hits = []
    for feature in volcano_features():
        name = fold(str(feature["name"] or ""))
        if wanted not in name:
            continue
        rank = 0 if wanted in (name, _root(str(feature["name"]))) else 1 if name.startswith(wanted) else 2
        source = {"gazetteer": 0, "davies": 1, "mura": 2}.get(feature["source"], 3)
        if feature["source"] == "gazetteer" and feature.get("status") != "approved":
            source = 4
        kind = TYPE_PRIORITY.get(str(feature["feature_type"]), 3)
        hits.append(((rank, source, kind, len(name)), {
            "name": feature["name"], "kind": feature["feature_type"], "source": feature["source"],
            "lat_deg": feature["lat_deg"], "lon_east_deg": feature["lon_east_deg"],
            "lon_west_deg": feature["lon_west_deg"], "power_gw": feature["power_gw"]}))
    for item in maps:
        if wanted in fold(item["name"]) or any(wanted in fold(p) for p in item["products"]):
            lat, lon = item["center"] or (0.0, 0.0)
            hits.append(((3, 0, 0, len(item["name"])), {
                "name": item["name"], "kind": "map", "source": "folder", "map_id": item["id"],
                "lat_deg": lat, "lon_east_deg": lon % 360.0, "lon_west_deg": (-lon) % 360.0,
                "bounds": item["bounds"]}))
    hits.sort(key=lambda h: h[0])
    return [hit for _, hit in hits[:limit]]
