"""Io's volcano catalogue against the published numbers (Davies et al. 2024 power classes and top
five, row counts), the IAU gazetteer positions (separations computed independently with SPICE
``latrec``/``vsep``), the shared copy of the tables, and the ``volcano list`` CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import spiceypy

import ioflyby.cli.volcano_cmd  # noqa: F401  (registers the verb until the CLI's verb table lists it)
from ioflyby.cli.app import main
from ioflyby.volcano import catalogue as cat

SHIPPED = ("davies2024_hotspots_mrt.txt", "mura2024_mband_by_orbit.csv", "iau_gazetteer_io.csv")
FAMOUS = {"Loki P.": "Loki Patera", "Pele": "Pele", "Janus P.": "Janus Patera", "Pillan": "Pillan Fluctus"}
"""Davies sources → the gazetteer feature each lies within 2° of (Pillan: nearest of Pillan Patera/Fluctus/Mons)."""


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return cat.load_catalogue()


def _separation_deg(lat1, lon1, lat2, lon2) -> float:
    """Independent of the code under test: SPICE unit vectors and their angle."""
    u = spiceypy.latrec(1.0, math.radians(lon1), math.radians(lat1))
    v = spiceypy.latrec(1.0, math.radians(lon2), math.radians(lat2))
    return math.degrees(spiceypy.vsep(u, v))


def _row(table: pd.DataFrame, source: str, name: str) -> pd.Series:
    rows = table[(table["source"] == source) & (table["name"] == name)]
    assert len(rows) == 1, f"{source} {name}: {len(rows)} rows"
    return rows.iloc[0]


def test_shipped_tables_equal_the_shared_ones(shared_data):
    shared = shared_data / "io" / "catalogues"
    for name in SHIPPED:
        assert (cat.data_dir() / name).read_bytes() == (shared / name).read_bytes(), name
    pd.testing.assert_frame_equal(cat.build_catalogue(shared), cat.load_catalogue())


def test_citations_ship_with_the_tables():
    text = (cat.data_dir() / "README.md").read_text(encoding="utf-8")
    for needle in ("10.3847/PSJ/ad4346", "10.3389/fspas.2024.1369472", "Gazetteer of Planetary Nomenclature",
                   "CC BY 4.0", *SHIPPED):
        assert needle in text


def test_davies_rows_and_power_classes_are_the_published_ones(table):
    davies = table[table["source"] == "davies"]
    assert len(davies) == 343
    classes = pd.cut(davies["power_gw"], [0, 1, 10, 100, 1000, np.inf], right=False).value_counts(sort=False)
    assert classes.tolist() == [7, 76, 150, 101, 9]
    top = davies.nlargest(5, "power_gw")
    assert list(zip(top["name"], top["power_gw"])) == [
        ("Loki P.", 9600.0), ("Dazhbog P.", 4070.0), ("Reiden P.", 1850.0), ("Hi'iaka P.", 1584.0), ("Pillan", 1500.0)]
    loki = _row(table, "davies", "Loki P.")
    assert (loki["lat_deg"], loki["lon_west_deg"], loki["temperature_k"], loki["area_km2"]) == (12.8, 308.4, 298, 21500)
    assert loki["feature_type"] == "hot spot" and loki["status"] == "galileo-era"
    assert _row(table, "davies", "JRM111")["status"] == "jiram-new"  # unnamed: its ID


def test_other_sources_counts_and_columns(table):
    assert table["source"].value_counts().to_dict() == {"davies": 343, "gazetteer": 254, "mura": 90}
    assert list(table.columns[: len(cat.COLUMNS)]) == list(cat.COLUMNS)
    gazetteer = table[table["source"] == "gazetteer"]
    assert (gazetteer["status"] == "dropped").sum() == 4
    assert gazetteer["power_gw"].isna().all() and table[table["source"] == "mura"]["power_gw"].isna().all()
    amirani = _row(table, "mura", "Amirani A")
    assert (amirani["mband_pj41_gw"], amirani["mband_pj47_gw"]) == (3.97, 9.08)
    assert amirani["status"] == "jiram PJ41 PJ43 PJ47 PJ49"
    assert _row(table, "gazetteer", "Loki Patera")[["feature_type", "diameter_km"]].tolist() == ["patera", 226.57]


def test_longitudes_are_converted_once_to_east(table):
    # Published: Loki P. at 308.4 W; east-positive 51.6. Every row carries both, consistently.
    assert _row(table, "davies", "Loki P.")["lon_east_deg"] == pytest.approx(51.6)
    assert np.allclose((table["lon_east_deg"] + table["lon_west_deg"]) % 360.0, 0.0)
    assert table["lon_east_deg"].between(0.0, 360.0, inclusive="left").all()


@pytest.mark.parametrize("name", FAMOUS)
def test_famous_volcanoes_lie_within_2_degrees_of_their_gazetteer_features(table, name):
    source, feature = _row(table, "davies", name), _row(table, "gazetteer", FAMOUS[name])
    assert source["iau_name"] == FAMOUS[name]
    assert _separation_deg(source["lat_deg"], source["lon_east_deg"], feature["lat_deg"], feature["lon_east_deg"]) < 2.0


def test_reading_west_longitudes_as_east_breaks_those_matches(table):
    davies = cat.read_davies()
    wrong = davies.assign(lon_east_deg=davies["lon_west_deg"])  # the mistake: west values used as east
    gazetteer = cat.read_gazetteer()
    matched = cat.cross_match(wrong, gazetteer)
    for name, feature_name in FAMOUS.items():
        source = wrong[wrong["name"] == name].iloc[0]
        feature = _row(table, "gazetteer", feature_name)
        assert _separation_deg(source["lat_deg"], source["lon_east_deg"], feature["lat_deg"], feature["lon_east_deg"]) > 30.0
        assert matched[source.name] != feature_name
    right = cat.cross_match(davies, gazetteer)
    named = davies["name"].isin(list(FAMOUS))
    assert right[named].tolist() == [FAMOUS[n] for n in davies.loc[named, "name"]]


def test_renames_are_resolved(table):
    assert _row(table, "davies", "Yeloje P.")["iau_name"] == "Yeloje Patera"  # published "Yeloje P. (was Maju P.)"
    assert _row(table, "davies", "Asis P.")["iau_name"] == "Asis Patera"  # "(was Aluna P.)"
    assert not table["name"].str.contains("Maju|Aluna").any()
    assert _row(table, "gazetteer", "Shen Yi")[["status", "iau_name"]].tolist() == ["dropped", "Xihe"]
    assert _row(table, "davies", "Tol Ava P.")["iau_name"] == "Tol-Ava Patera"  # spelling folded
    assert _row(table, "davies", "Loki E.C.")["iau_name"] == "Loki"  # the eruptive centre, not the patera


def test_select_near_a_point_sorts_by_great_circle_distance(table):
    loki = _row(table, "gazetteer", "Loki Patera")
    near = cat.select_features(near=(loki["lat_deg"], loki["lon_east_deg"]), radius_km=200.0)
    assert near["distance_km"].is_monotonic_increasing and near["distance_km"].iloc[0] == 0.0
    assert {"Loki P.", "Loki Patera"} <= set(near["name"])
    expected = [math.radians(_separation_deg(loki["lat_deg"], loki["lon_east_deg"], r.lat_deg, r.lon_east_deg))
                * cat.IO_MEAN_RADIUS_KM for r in near.itertuples()]
    assert np.allclose(near["distance_km"], expected, atol=1e-6)
    everything = cat.select_features(near=(loki["lat_deg"], loki["lon_east_deg"]), radius_km=1e4)
    assert len(everything) == len(table)  # Io's half circumference is 5722 km


def test_select_by_source_and_power(table):
    assert len(cat.select_features(sources="davies", min_power_gw=1000.0)) == 9
    assert len(cat.select_features(sources=["davies"], min_power_gw=100.0)) == 110
    assert set(cat.select_features(sources=("mura", "gazetteer"))["source"]) == {"mura", "gazetteer"}
    with pytest.raises(cat.CatalogueError, match="unknown catalogue source"):
        cat.select_features(sources="keck")
    with pytest.raises(cat.CatalogueError, match="radius_km"):
        cat.select_features(near=(0.0, 0.0))


def _run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(["volcano", "list", *args])
    out = capsys.readouterr()
    return int(info.value.code or 0), out.out, out.err


def test_cli_json_has_the_contract_keys_and_nulls(capsys):
    code, out, _ = _run(capsys, "--near", "-18.7,104.72", "--radius-km", "60", "--source", "all", "--json")
    assert code == 0
    features = json.loads(out)["features"]
    pele = next(f for f in features if f["name"] == "Pele" and f["source"] == "davies")
    assert set(cat.COLUMNS) <= set(pele)
    assert pele["iau_name"] == "Pele" and pele["power_gw"] == 280.0 and pele["lon_west_deg"] == 255.6
    gazetteer_pele = next(f for f in features if f["source"] == "gazetteer" and f["name"] == "Pele")
    assert gazetteer_pele["power_gw"] is None and gazetteer_pele["temperature_k"] is None
    code, out, _ = _run(capsys, "--source", "davies", "--min-power-gw", "1000", "--json")
    assert code == 0 and len(json.loads(out)["features"]) == 9


def test_cli_table_and_errors(capsys):
    code, out, _ = _run(capsys, "--source", "davies", "--min-power-gw", "2000")
    assert code == 0 and "Loki P." in out and "Dazhbog P." in out
    for args, message in ((["--near", "13"], "--near must be LAT,LON"), (["--near", "1,2"], "--radius-km"),
                          (["--source", "keck"], "unknown catalogue source")):
        code, _, err = _run(capsys, *args)
        assert code == 2 and message in err
