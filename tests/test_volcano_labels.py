"""Catalogue labels on a digital-twin PJ57 product whose hot spots were placed at the Davies et
al. (2024) positions: in the framelets (``Observation.visible_features``) against the hot spots
the twin rendered (the difference from the same twin without them: same seed, same noise draws)
and SPICE ``ilumin``; on the map (``process --labels``) against PROJ's projection of the
catalogue positions, the GeoTIFF's coverage, the preview's pixels and the mapped hot spots."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import rasterio
import spiceypy
from PIL import Image
from rasterio.crs import CRS
from rasterio.warp import transform

from ioflyby import simulate
from ioflyby.errors import IoflybyError
from ioflyby.ingest import read_product
from ioflyby.observation import Observation
from ioflyby.processing import MapSpec, process
from ioflyby.spice import Kernels
from ioflyby.volcano.catalogue import select_features
from ioflyby.volcano.labels import SIGHTING_COLUMNS, marker_style

MIN_POWER_GW = 100.0
SPOT_TEMPERATURE_K, SPOT_AREA_KM2 = 1500.0, 0.1
"""Hot enough to stand out in RED on the day side too (the catalogue's effective temperatures are not)."""
MAP_WIDTH = 1024
"""Cells: the preview keeps the map's size, so preview pixel = map cell."""


@pytest.fixture(scope="module")
def davies():
    return select_features(sources="davies", min_power_gw=MIN_POWER_GW)


@pytest.fixture(scope="module")
def twin(tmp_path_factory, davies):
    """One PJ57 twin image with a hot spot at every catalogue position above MIN_POWER_GW, mapped
    orthographically with --labels (8-bit, so the GeoTIFF is the unlabelled preview), and the
    same image without hot spots (linear framelets and map) for the differences."""
    spots = tuple(simulate.HotSpot(lat_deg=row.lat_deg, lon_east_deg=row.lon_east_deg, temperature_k=SPOT_TEMPERATURE_K,
                                   area_km2=SPOT_AREA_KM2) for row in davies.itertuples())
    folder = tmp_path_factory.mktemp("labels")
    images = (simulate.PlannedImage(-240.0),)
    result = simulate.build_twin("pj57", folder / "twin", simulate.TwinOptions(images=images, hot_spots=spots))
    plain = simulate.build_twin("pj57", folder / "plain", simulate.TwinOptions(images=images))
    product, plain_product = read_product(result.products[0]), read_product(plain.products[0])
    spec = MapSpec("orthographic", width=MAP_WIDTH, bits=8, labels=True)
    processed = process([product], [result.metakernel], spec, out=folder / "maps")
    with Kernels([result.metakernel]):
        observation, plain_observation = Observation(product), Observation(plain_product)
    spots_only = product.decompanded().astype(float) - plain_product.decompanded()
    plain_map = plain_observation.map(processed.grid, backplanes=False)
    return result, observation, spots_only, processed, processed.map.channels["RED"] - plain_map.channels["RED"]


@pytest.fixture(scope="module")
def sightings(twin, davies):
    return twin[1].visible_features(catalogue=davies)


def _isolated(frame, columns, min_distance):
    """Rows of ``frame`` with no other row within ``min_distance`` (in ``columns``) in their group."""
    points = frame[list(columns)].to_numpy(float)
    distance = np.hypot(*(points[:, None, :] - points[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(distance, np.inf)
    return frame[distance.min(axis=1) > min_distance]


def _centroid(window: np.ndarray) -> tuple[float, float]:
    """(sample, line) offset from the centre of a square window of the signal-weighted centroid
    (the hot spots' share: quantisation steps of the SQROOT companding count as noise)."""
    half = window.shape[0] // 2
    weight = np.where(window > 0.2 * window.max(), window, 0.0)
    lines, samples = np.mgrid[-half:half + 1, -half:half + 1]
    return (samples * weight).sum() / weight.sum(), (lines * weight).sum() / weight.sum()


def test_visible_features_fall_on_the_hot_spots_the_twin_rendered(twin, sightings):
    _, observation, spots_only, _, _ = twin
    assert set(SIGHTING_COLUMNS) <= set(sightings.columns) and sightings["lit"].any() and not sightings["lit"].all()
    red = observation.product.filters.index("RED")
    checked = []
    for exposure, group in sightings[sightings["filter"] == "RED"].groupby("exposure"):
        # Away from framelet edges, and not grazing (emission < 80°: beyond, a 0.1 km² spot's few DN
        # drown in the SQROOT companding steps).
        inside = group[group["line"].between(4, 123) & group["sample"].between(30, 1617) & (group["emission_deg"] < 80)]
        for row in _isolated(inside, ("sample", "line"), 6.0).itertuples():
            s, l = int(round(row.sample)), int(round(row.line))
            window = spots_only[exposure, red, l - 2:l + 3, s - 2:s + 3]
            ds, dl = _centroid(window)
            checked.append((np.hypot(s + ds - row.sample, l + dl - row.line), window.max(), row.lit))
    error_px, peak, lit = np.array(checked).T
    print(f"{error_px.size} RED sightings: hot-spot centroid vs visible_features median {np.median(error_px):.2f}, "
          f"max {error_px.max():.2f} px; {int(lit.sum())} lit")
    assert error_px.size >= 20 and lit.any() and not lit.all()
    assert (peak > 20).all()  # the twin's hot spot is there
    assert error_px.max() <= 0.5


def test_visible_features_angles_match_spice_ilumin(twin, sightings):
    result, observation, _, _, _ = twin
    rows = sightings.iloc[:: max(1, len(sightings) // 25)]
    with Kernels([result.metakernel]):
        for row in rows.itertuples():
            et = float(observation.framelet_ets[row.exposure, observation.product.filters.index(row.filter)])
            point = spiceypy.latrec(1.0, math.radians(row.lon_east_deg), math.radians(row.lat_deg))
            with spiceypy.no_found_check():
                spoint, found = spiceypy.surfpt([0.0, 0.0, 0.0], point, *observation.body.radii_km)
            assert found
            _, _, phase, incidence, emission = spiceypy.ilumin("Ellipsoid", "IO", et, "IAU_IO", "LT+S", "JUNO", spoint)
            assert abs(row.incidence_deg - math.degrees(incidence)) < 0.05
            assert abs(row.emission_deg - math.degrees(emission)) < 0.05
            assert row.lit == (math.degrees(incidence) < 90.0)


def test_geojson_points_are_the_catalogue_positions_in_the_map_crs(twin):
    processed, davies = twin[3], select_features(sources="davies")  # the layer: every Davies source seen
    grid = processed.grid
    layer = json.loads(processed.files["labels"].read_text())
    assert CRS.from_user_input(layer["crs"]["properties"]["name"]) == grid.crs
    seen_cells = np.any([np.isfinite(channel) for channel in processed.map.channels.values()], axis=0)
    # Independent: PROJ projects the catalogue positions on the map's hemisphere (SPICE vsep from
    # its centre); a cell was seen where any band has data.
    centre = grid.describe()
    centre_vector = spiceypy.latrec(1.0, math.radians(centre["center_lon_east_deg"]), math.radians(centre["center_lat_deg"]))
    near_side = davies[[spiceypy.vsep(centre_vector, spiceypy.latrec(1.0, math.radians(lon), math.radians(lat))) < math.pi / 2
                        for lat, lon in zip(davies["lat_deg"], davies["lon_east_deg"])]]
    x, y = transform("IAU_2015:50100", grid.crs, near_side["lon_east_deg"].tolist(), near_side["lat_deg"].tolist())
    x, y = np.array(x), np.array(y)
    col, row = grid.xy_to_cell(x, y)
    cell_col, cell_row = np.rint(col).astype(int), np.rint(row).astype(int)
    on_map = (cell_col >= 0) & (cell_col < grid.width) & (cell_row >= 0) & (cell_row < grid.height)
    seen = on_map.copy()
    seen[on_map] = seen_cells[cell_row[on_map], cell_col[on_map]]
    expected = {name: (xi, yi, ci, ri) for name, xi, yi, ci, ri, s in zip(near_side["name"], x, y, col, row, seen) if s}
    features = {f["properties"]["name"]: f for f in layer["features"]}
    assert len(features) >= 100 and set(features) == set(expected)
    for name, feature in features.items():
        xi, yi, ci, ri = expected[name]
        assert np.allclose(feature["geometry"]["coordinates"], [xi, yi], atol=1.0)  # metres
        assert abs(feature["properties"]["col"] - ci) < 1e-3 and abs(feature["properties"]["row"] - ri) < 1e-3


def test_preview_markers_are_drawn_at_the_map_grid_positions(twin):
    processed = twin[3]
    layer = json.loads(processed.files["labels"].read_text())
    labelled = np.asarray(Image.open(processed.files["preview"]).convert("RGBA")).astype(int)
    with rasterio.open(processed.files["colour"]) as tif:
        plain = np.moveaxis(tif.read(), 0, -1).astype(int)
    assert labelled.shape == plain.shape == (MAP_WIDTH, MAP_WIDTH, 4)
    drawn = (labelled != plain).any(axis=-1)
    anchors = [(p["col"], p["row"], p["power_gw"]) for p in (f["properties"] for f in layer["features"])]
    points = np.array([(c, r) for c, r, _ in anchors])
    distance = np.hypot(*(points[:, None, :] - points[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(distance, np.inf)
    lines, samples = np.mgrid[0:MAP_WIDTH, 0:MAP_WIDTH]
    errors = []
    for (col, row, power), nearest in zip(anchors, distance.min(axis=1)):
        radius = marker_style(power)[0]
        if nearest < 40:
            continue  # another label could reach into this marker's window
        window = drawn & (np.hypot(samples - round(col), lines - round(row)) <= radius)
        centroid = (samples[window].mean(), lines[window].mean())
        errors.append(np.hypot(centroid[0] - col, centroid[1] - row))
    errors = np.array(errors)
    print(f"{errors.size} isolated markers: centroid vs anchor max {errors.max():.2f} px")
    assert errors.size >= 5 and errors.max() <= 0.75  # Pillow draws on whole pixels: ≤ 0.5 px from rounding
    assert (labelled[..., :3] == 255).all(axis=-1).sum() > (plain[..., :3] == 255).all(axis=-1).sum()  # white names


def test_map_hot_spots_sit_under_their_labels(twin):
    _, _, _, processed, red_spots = twin
    layer = json.loads(processed.files["labels"].read_text())
    anchors = _isolated(pd.DataFrame([f["properties"] for f in layer["features"]]), ("col", "row"), 6.0)
    errors = []
    for col, row in zip(anchors["col"], anchors["row"]):
        c, r = round(col), round(row)
        window = red_spots[r - 3:r + 4, c - 3:c + 4]
        if window.shape != (7, 7) or not np.isfinite(window).all() or window.max() <= 0:
            continue
        dc, dr = _centroid(window)
        errors.append(np.hypot(c + dc - col, r + dr - row))
    errors = np.array(errors)
    print(f"{errors.size} map hot spots: centroid vs label anchor median {np.median(errors):.2f}, max {errors.max():.2f} cells")
    assert errors.size >= 20 and np.median(errors) <= 0.5 and errors.max() <= 1.5


def test_labels_are_for_io_only(twin):
    processed = twin[3]
    from dataclasses import replace

    from ioflyby.volcano.labels import map_labels

    with pytest.raises(IoflybyError, match="IO only"):
        map_labels(replace(processed.map, target="EUROPA"))
