"""One georeference per known Io mosaic (``ioflyby.geometry.mosaics``), applied by every reader.

Independent truth: the IAU gazetteer's centres of small dark paterae at mid latitudes (through
``ioflyby.volcano.catalogue``, west longitudes converted at its reader), where a mis-read
latitude convention moves features most (13.8 km · sin 2φ for the newer photomosaic). For each
mosaic and each reader — the pointing stage's ``ReferenceMap``, the twin's ``load_basemap``, the
mapping stage's rasterio dataset (``open_mosaic``), its written VRT and change detection's
``read_epoch`` — the darkness-weighted centroid of the dark floor near each gazetteer position
is measured on a local 1-km grid of true (planetocentric) coordinates. The same measurement on
the newer mosaic read as planetocentric (its file grid, no georeference) finds the floors
8–25 km equatorward: the check fails if a reader drops the declaration.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.warp import transform
from scipy import ndimage

from conftest import IO_MEAN_RADIUS_KM, dark_blob_offset_km, local_km_grid
from ioflyby.geometry.mosaics import (
    KNOWN_GEOREFERENCES,
    NEW_IO_PHOTOMOSAIC_GEOREFERENCE,
    RESAMPLE_TOLERANCE_PX,
    Georeference,
    georeference_of,
    resample_to_planetocentric,
    source_lattice,
)
from ioflyby.mapping.crs import body_crs
from ioflyby.mapping.grid import equirectangular_grid
from ioflyby.mapping.reference import mosaic_georeference, open_mosaic, write_mosaic_vrt
from ioflyby.observation import reference_map
from ioflyby.pointing import ReferenceMap
from ioflyby.pointing import reference as pointing_reference
from ioflyby.simulate.basemap import load_basemap
from ioflyby.simulate.surface_change import render_epoch_map
from ioflyby.volcano.catalogue import select_features
from ioflyby.volcano.change import read_epoch

BASEMAPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "io" / "basemaps"
COLOUR = BASEMAPS / "Io_GalileoSSI-Voyager_Global_Mosaic_ClrMerge_2km_180W.jpg"
GREY = BASEMAPS / "Io_GalileoSSI-Voyager_Global_Mosaic_2km_180W.jpg"
NEW = BASEMAPS / "New_Io_photomosaic_2km_grey.jpg"
MOSAICS = {"colour merge": COLOUR, "USGS grey": GREY, "newer grey": NEW}
needs_mosaics = pytest.mark.skipif(not all(p.exists() for p in MOSAICS.values()),
                                   reason="the USGS Io mosaics are not in ../shared/data/io/basemaps")
# Small, dark, isolated paterae at mid latitudes (IAU gazetteer names).
MID_LATITUDE_PATERAE = ("Arusha Patera", "Altjirra Patera", "Uta Patera", "Rata Patera", "Ulgen Patera",
                        "Shurdi Patera", "Nina Patera", "Dusura Patera", "Gauwa Patera", "Ukko Patera",
                        "Surya Patera", "Susanoo Patera", "Kinich Ahau Patera", "Gurzil Patera")
ON_FLOOR_KM = 4.0
"""|median poleward offset| allowed of a correctly read mosaic (the gazetteer and the centroid
method agree within 1–3 km on the USGS mosaics, docs/pointing.md)."""
MISREAD_KM = -8.0
"""The newer mosaic read as planetocentric puts the floors at least this far poleward (i.e. 8 km
equatorward; 13.8 km · sin 2φ at these latitudes)."""


@pytest.fixture(scope="module")
def paterae():
    table = select_features(sources="gazetteer")
    table = table[table["name"].isin(MID_LATITUDE_PATERAE)]
    if len(table) < 10:
        pytest.skip("the IAU gazetteer is not in ../shared/data")
    return table


def _median_poleward_km(sample, paterae) -> float:
    """Median over the paterae of the floor centroid's poleward offset (km) from the gazetteer,
    ``sample(lat, lon_east)`` (radians) giving a reader's brightness."""
    poleward = []
    for row in paterae.itertuples():
        lat, lon = local_km_grid(row.lat_deg, row.lon_east_deg, row.diameter_km)
        poleward.append(np.sign(row.lat_deg) * dark_blob_offset_km(sample(lat, lon))[0])
    return float(np.median(poleward))


def _pixel(inverse, x, y):
    """(column, row) of map x, y through an inverse affine transform (pixel corners at integers)."""
    return inverse.a * x + inverse.b * y + inverse.c, inverse.d * x + inverse.e * y + inverse.f


def _dataset_sampler(dataset):
    """Bilinear sampling of band 1 of a rasterio dataset at (lat, east lon) radians, through the
    dataset's own CRS and transform (pyproj does the projection)."""
    data = dataset.read(1).astype(np.float32)
    geographic = body_crs(501, "IO").geographic_id

    def sample(lat, lon):
        x, y = transform(geographic, dataset.crs, np.degrees(lon).ravel() % 360.0, np.degrees(lat).ravel())
        col, row = _pixel(~dataset.transform, np.asarray(x), np.asarray(y))
        values = ndimage.map_coordinates(data, [row - 0.5, col - 0.5], order=1, mode="nearest")
        return values.reshape(lat.shape)

    return sample


def _grid_sampler(values: np.ndarray, grid, wrap: bool = True):
    """Bilinear sampling of a latitude-longitude grid's values at (lat, east lon) radians
    (``wrap``: a global grid, periodic in longitude; else clamped at the edges)."""
    lat_axis, lon_axis = (np.asarray(a) for a in grid.latlon())
    lat_axis, lon_axis = lat_axis[:, 0], lon_axis[0, :]
    step_lat, step_lon = lat_axis[1] - lat_axis[0], lon_axis[1] - lon_axis[0]

    def sample(lat, lon):
        row = (lat - lat_axis[0]) / step_lat
        col = np.mod(lon - lon_axis[0], 2 * np.pi) / step_lon
        filled = np.nan_to_num(values, nan=float(np.nanmedian(values)))
        return ndimage.map_coordinates(filled, [row, col], order=1, mode="grid-wrap" if wrap else "nearest")

    return sample


# -- the declaration ----------------------------------------------------------------------------------
def test_one_declaration_shared_by_the_pointing_stage():
    assert pointing_reference.KNOWN_GEOREFERENCES is KNOWN_GEOREFERENCES
    assert pointing_reference.Georeference is Georeference
    assert georeference_of(NEW) is NEW_IO_PHOTOMOSAIC_GEOREFERENCE
    assert georeference_of("elsewhere/unknown.jpg") == Georeference()
    assert NEW_IO_PHOTOMOSAIC_GEOREFERENCE.latitude_ratio == pytest.approx((1815.7 / 1829.4) ** 2)
    assert KNOWN_GEOREFERENCES[GREY.name].is_planetocentric and KNOWN_GEOREFERENCES[COLOUR.name].is_planetocentric


def test_resampling_puts_a_relabelled_rotated_grid_on_planetocentric_coordinates():
    """A map whose value is the true latitude / east longitude of what it shows, built with a
    known latitude relation and rotation (analytic inverse): resampled, every pixel holds its own
    planetocentric latitude and longitude."""
    rows, cols = 180, 360
    declared = Georeference(latitude_ratio=0.985, rotation_deg=(0.5, -0.3, 1.0))
    row_lat = np.radians(90.0 - (np.arange(rows) + 0.5) * 180.0 / rows)
    col_lon = np.radians((np.arange(cols) + 0.5) * 360.0 / cols)
    psi, lam = np.meshgrid(row_lat, col_lon, indexing="ij")
    lat_r = np.arctan(np.tan(psi) / declared.latitude_ratio)  # undo the latitude relation ...
    point = np.stack([np.cos(lat_r) * np.cos(lam), np.cos(lat_r) * np.sin(lam), np.sin(lat_r)], axis=-1)
    from scipy.spatial.transform import Rotation

    true = Rotation.from_rotvec(np.radians(declared.rotation_deg)).inv().apply(point.reshape(-1, 3)).reshape(point.shape)
    true_lat = np.degrees(np.arcsin(true[..., 2]))  # ... and the rotation (scipy, not ioflyby)
    true_lon = np.degrees(np.arctan2(true[..., 1], true[..., 0])) % 360.0
    out = resample_to_planetocentric(np.stack([true_lat, np.cos(np.radians(true_lon)),
                                               np.sin(np.radians(true_lon))], axis=-1), declared)
    inner = slice(10, rows - 10)
    expected_lat = np.degrees(row_lat)[inner, None]
    assert np.abs(out[inner, :, 0] - expected_lat).max() < 0.01
    lon = np.degrees(np.arctan2(out[inner, :, 2], out[inner, :, 1])) % 360.0
    assert np.abs((lon - np.degrees(col_lon)[None, :] + 180.0) % 360.0 - 180.0).max() < 0.02


@pytest.mark.parametrize("declared", [NEW_IO_PHOTOMOSAIC_GEOREFERENCE,
                                      Georeference(latitude_ratio=0.985, rotation_deg=(0.5, -0.3, 1.0))],
                         ids=["newer mosaic", "0.6 deg rotation"])
def test_interpolated_source_pixels_within_a_hundredth_of_a_pixel_of_the_exact_mapping(declared):
    """The resampling's source positions (exact on a coarse lattice, linear between) against the
    exact per-pixel mapping computed here with scipy's rotation, on the newer mosaic's full
    5748 × 2874 grid: every row (poles included), every 5th column (all lattice phases)."""
    from scipy.spatial.transform import Rotation

    rows, cols = 2874, 5748
    lattice = source_lattice((rows, cols), declared)
    y, x = lattice.pixels()
    out_cols = np.arange(0, cols, 5)
    lat = np.radians(90.0 - (np.arange(rows) + 0.5) * 180.0 / rows)
    lon = np.radians((out_cols + 0.5) * 360.0 / cols)
    lat_grid, lon_grid = np.meshgrid(lat, lon, indexing="ij")
    point = np.stack([np.cos(lat_grid) * np.cos(lon_grid), np.cos(lat_grid) * np.sin(lon_grid), np.sin(lat_grid)], -1)
    shown = Rotation.from_rotvec(np.radians(declared.rotation_deg)).apply(point.reshape(-1, 3)).reshape(point.shape)
    psi = np.arctan2(declared.latitude_ratio * shown[..., 2], np.hypot(shown[..., 0], shown[..., 1]))
    exact_y = (np.pi / 2 - psi) * rows / np.pi - 0.5
    exact_x = np.arctan2(shown[..., 1], shown[..., 0]) * cols / (2 * np.pi) - 0.5
    dx = (x[:, out_cols] - exact_x + cols / 2) % cols - cols / 2
    assert np.abs(y[:, out_cols] - exact_y).max() <= RESAMPLE_TOLERANCE_PX
    assert np.abs(dx).max() <= RESAMPLE_TOLERANCE_PX


# -- gazetteer paterae through every reader ----------------------------------------------------------
@needs_mosaics
def test_newer_mosaic_read_as_planetocentric_misplaces_the_floors(paterae):
    """The control: without its georeference the newer mosaic's floors are 8+ km equatorward."""
    raw = load_basemap(NEW, georeferenced=False)
    assert _median_poleward_km(lambda lat, lon: raw.sample("RED", lat, lon), paterae) < MISREAD_KM
    as_planetocentric = ReferenceMap(raw.bands["RED"], "file grid")
    assert _median_poleward_km(as_planetocentric.sample, paterae) < MISREAD_KM


@needs_mosaics
@pytest.mark.parametrize("name", list(MOSAICS))
def test_paterae_on_their_floors_through_pointing_and_twin_readers(name, paterae):
    path = MOSAICS[name]
    pointing = reference_map(path)
    basemap = load_basemap(path)
    offsets = {"pointing": _median_poleward_km(pointing.sample, paterae),
               "twin basemap": _median_poleward_km(lambda lat, lon: basemap.sample("RED", lat, lon), paterae)}
    assert all(abs(v) < ON_FLOOR_KM for v in offsets.values()), (name, offsets)


@needs_mosaics
@pytest.mark.parametrize("name", list(MOSAICS))
def test_paterae_on_their_floors_through_mapping_readers(name, paterae, tmp_path):
    path = MOSAICS[name]
    offsets = {}
    with open_mosaic(path) as dataset:
        offsets["open_mosaic"] = _median_poleward_km(_dataset_sampler(dataset), paterae)
    with rasterio.open(write_mosaic_vrt(path, tmp_path / "mosaic.vrt")) as dataset:
        offsets["written VRT"] = _median_poleward_km(_dataset_sampler(dataset), paterae)
    grid = equirectangular_grid(body_crs(501, "IO"), (-90.0, 90.0), (0.0, 360.0), 2.0)
    epoch = read_epoch(path, grid)
    offsets["change read_epoch"] = _median_poleward_km(_grid_sampler(epoch.grey, grid), paterae)
    assert all(abs(v) < ON_FLOOR_KM for v in offsets.values()), (name, offsets)


@needs_mosaics
def test_gcp_vrt_of_the_newer_mosaic_is_where_the_resampled_copy_puts_the_points():
    """The text VRT of the untouched JPEG carries control points; the pixel a control point names
    in the file holds the value the resampled (planetocentric) copy has at its x, y."""
    georeference = mosaic_georeference(NEW)
    with open_mosaic(NEW) as dataset:
        resampled = dataset.read(1).astype(np.float32)
        inverse = ~dataset.transform
    from PIL import Image

    with Image.open(NEW) as image:
        raw = np.asarray(image.convert("L"), np.float32)
    points = np.array(georeference.control_points())
    inside = (np.abs(points[:, 3]) < 0.8 * abs(georeference.transform[3]))
    pixel, line, x, y = points[inside].T
    col, row = _pixel(inverse, x, y)
    from_file = ndimage.map_coordinates(raw, [line - 0.5, pixel - 0.5], order=1, mode="grid-wrap")
    from_copy = ndimage.map_coordinates(resampled, [row - 0.5, col - 0.5], order=1, mode="grid-wrap")
    assert np.median(np.abs(from_file - from_copy)) < 3.0  # DN (0-255), bilinear twice
    assert "<GCPList" in georeference.vrt_xml() and "<GeoTransform>" not in georeference.vrt_xml()


# -- the twin renders the newer mosaic's features at their gazetteer positions ------------------------
@needs_mosaics
def test_twin_renders_newer_mosaic_features_at_their_gazetteer_positions(paterae):
    """A twin epoch (Sun and observer overhead each patera, Lambert I/F) rendered from the newer
    mosaic: its floors sit on the gazetteer positions; rendered from the file grid they do not."""
    body = body_crs(501, "IO")
    renders = {"declared": load_basemap(NEW), "file grid": load_basemap(NEW, georeferenced=False)}
    poleward = {key: [] for key in renders}
    for row in paterae.itertuples():
        half = row.diameter_km * 1.2 / IO_MEAN_RADIUS_KM * 180.0 / np.pi
        lat_range = (row.lat_deg - half, row.lat_deg + half)
        half_lon = half / np.cos(np.radians(row.lat_deg))
        grid = equirectangular_grid(body, lat_range, (row.lon_east_deg - half_lon, row.lon_east_deg + half_lon), 1.0)
        for key, basemap in renders.items():
            product = render_epoch_map(grid, basemap, (row.lat_deg, row.lon_east_deg), (row.lat_deg, row.lon_east_deg))
            image = np.nan_to_num(product.channels["GREEN"].astype(float), nan=float(np.nanmedian(product.channels["GREEN"])))
            sample = _grid_sampler(image, grid, wrap=False)
            lat, lon = local_km_grid(row.lat_deg, row.lon_east_deg, row.diameter_km)
            poleward[key].append(np.sign(row.lat_deg) * dark_blob_offset_km(sample(lat, lon))[0])
    median = {key: float(np.median(v)) for key, v in poleward.items()}
    assert abs(median["declared"]) < ON_FLOOR_KM, median
    assert median["file grid"] < MISREAD_KM, median
