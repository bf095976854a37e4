"""Map grids and their CRSs against PROJ (through rasterio), which implements the same
projections independently; GeoTIFF export read back with rasterio."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.warp import transform

from ioflyby.errors import GeometryError
from ioflyby.mapping import colour, export
from ioflyby.mapping.crs import body_crs
from ioflyby.mapping.grid import equirectangular_grid, orthographic_grid, perspective_grid, polar_grid

IO_NAIF = 501
IAU_IO_RADIUS_M = 1821490.0  # IAU WGCCRE 2015 mean radius of Io


@pytest.fixture(scope="module")
def io():
    return body_crs(IO_NAIF, "IO")


def _grids(io):
    return {
        "eqc_global": equirectangular_grid(io, width=720),
        "eqc_box": equirectangular_grid(io, (-30.0, 40.0), (150.0, 250.0), width=500),
        "ortho_sub": orthographic_grid(io, 23.0, -141.0, width=400),
        "ortho_iau": orthographic_grid(io, 0.0, 180.0, width=400),
        "polar_n": polar_grid(io, True, 0.0, 0.0, width=400),
        "polar_s": polar_grid(io, False, 30.0, 45.0, width=400),
        "perspective": perspective_grid(io, -10.0, 30.0, 1500.0, width=400),
    }


def test_body_crs_is_the_iau_io_sphere(io):
    assert io.geographic_id == "IAU_2015:50100"
    assert io.radius_m == IAU_IO_RADIUS_M
    assert "Io" in io.geographic_name


def test_iau_codes_where_parameters_match(io):
    grids = _grids(io)
    assert grids["eqc_global"].crs_id == "IAU_2015:50110"
    assert grids["ortho_iau"].crs_id == "IAU_2015:50170"
    assert grids["polar_n"].crs_id == "IAU_2015:50130"
    assert grids["eqc_box"].crs_id is None and grids["ortho_sub"].crs_id is None
    # Custom definitions still sit on the IAU Io sphere and carry its names.
    for key in ("eqc_box", "ortho_sub", "polar_s", "perspective"):
        wkt = grids[key].crs.to_wkt()
        assert "Io (2015) - Sphere" in wkt
        assert f"+R={IAU_IO_RADIUS_M:.0f}" in grids[key].crs.to_proj4()


@pytest.mark.parametrize("key", ["eqc_global", "eqc_box", "ortho_sub", "ortho_iau", "polar_n", "polar_s", "perspective"])
def test_projection_matches_proj(io, key):
    grid = _grids(io)[key]
    rng = np.random.default_rng(7)
    lat = rng.uniform(-89.0, 89.0, 3000)
    lon = rng.uniform(-180.0, 180.0, 3000)
    # Independent visibility: angular distance from the projection centre.
    lat0, lon0 = math.radians(grid.describe()["center_lat_deg"]), math.radians(grid.describe()["center_lon_east_deg"])
    cos_c = np.sin(lat0) * np.sin(np.radians(lat)) + np.cos(lat0) * np.cos(np.radians(lat)) * np.cos(np.radians(lon) - lon0)
    if key.startswith("ortho"):
        keep = cos_c > 1e-6
    elif key == "perspective":
        keep = cos_c > IAU_IO_RADIUS_M / (IAU_IO_RADIUS_M + 1.5e6) + 1e-6
    elif key == "polar_s":
        keep = lat < 80.0
    else:
        keep = np.ones(lat.shape, bool)
    lat, lon = lat[keep], lon[keep]
    x_proj, y_proj = transform("IAU_2015:50100", grid.crs, lon, lat)
    col, row = grid.latlon_to_cell(np.radians(lat), np.radians(lon))
    x, y = grid.cell_to_xy(col, row)
    assert np.all(np.isfinite(x))
    assert np.max(np.hypot(x - np.array(x_proj), y - np.array(y_proj))) < 1e-3  # metres
    back_lat, back_lon = grid.cell_to_latlon(col, row)
    assert np.allclose(np.degrees(back_lat), lat, atol=1e-9)
    assert np.allclose(np.angle(np.exp(1j * (back_lon - np.radians(lon)))), 0.0, atol=1e-9)


def test_hidden_side_is_nan(io):
    grid = orthographic_grid(io, 0.0, 0.0, width=100)
    col, row = grid.latlon_to_cell(np.radians([0.0, 0.0]), np.radians([179.0, 10.0]))
    assert np.isnan(col[0]) and np.isfinite(col[1])
    lat, _ = grid.cell_to_latlon(np.array([0.0]), np.array([0.0]))  # corner: off the disc
    assert np.isnan(lat[0])


def test_global_equirectangular_bounds_and_cells(io):
    grid = equirectangular_grid(io, width=2048)
    half_circumference = math.pi * IAU_IO_RADIUS_M
    assert grid.shape == (1024, 2048)
    assert np.allclose(grid.bounds, (-half_circumference, -half_circumference / 2, half_circumference, half_circumference / 2))
    # 0N 0E is the grid centre: the corner shared by cells (1023, 511) and (1024, 512).
    col, row = grid.latlon_to_cell(np.array([0.0]), np.array([0.0]))
    assert np.allclose([col[0], row[0]], [1023.5, 511.5])
    # 45N 90E: a quarter of the width east of the centre, a quarter of the height north.
    col, row = grid.latlon_to_cell(np.radians([45.0]), np.radians([90.0]))
    assert np.allclose([col[0], row[0]], [1023.5 + 512, 511.5 - 256])


def test_resolution_and_errors(io):
    grid = orthographic_grid(io, 0.0, 0.0, resolution_km=10.0)
    assert grid.cell_m == 10000.0 and grid.width == math.ceil(2 * 1.01 * IAU_IO_RADIUS_M / 10000.0)
    with pytest.raises(GeometryError):
        orthographic_grid(io, 95.0, 0.0)
    with pytest.raises(GeometryError):
        equirectangular_grid(io, (10.0, -10.0))
    with pytest.raises(GeometryError):
        perspective_grid(io, 0.0, 0.0, -5.0)


def test_colour_geotiff_round_trip(io, tmp_path):
    grid = equirectangular_grid(io, (-30.0, 30.0), (100.0, 160.0), width=240)
    lat, lon = grid.latlon()
    # A bright square at 10N 130E, 2 x 2 degrees.
    spot = (np.abs(np.degrees(lat) - 10.0) < 1.0) & (np.abs(np.degrees(lon) - 130.0) < 1.0)
    channels = {name: np.where(spot, 1.0, 0.2).astype(np.float32) for name in ("RED", "GREEN", "BLUE")}
    channels["RED"][:5] = np.nan
    stretch = colour.fit_stretch(channels, np.ones(grid.shape, bool), "none", (0.0, 100.0))
    stack, names = colour.compose(channels, stretch)
    bands, alpha = colour.to_integer(stack, 16)
    path = export.write_colour_geotiff(tmp_path / "map.tif", grid, bands, alpha, names, "IO")
    assert [p.name for p in tmp_path.iterdir()] == ["map.tif"]  # no temporary left beside it
    with rasterio.open(path) as dst:
        assert dst.crs == CRS.from_string("IAU_2015:50100") or "Io (2015)" in dst.crs.to_wkt()
        assert dst.count == 4 and dst.dtypes[0] == "uint16"
        assert np.allclose(dst.bounds, grid.bounds)
        assert dst.descriptions[0].startswith("JunoCam RED")
        assert dst.tags()["LONGITUDE_DIRECTION"] == "east-positive"
        # Where PROJ puts 10N 130E, the file has the bright square.
        (x,), (y,) = transform("IAU_2015:50100", dst.crs, [130.0], [10.0])
        r, c = dst.index(x, y)
        assert dst.read(1)[r, c] == 65535 and dst.read(4)[r, c] == 65535
        assert dst.read(4)[0, 0] == 0  # no RED there
        # bounds in degrees: the box edges
        west, south = transform(dst.crs, "IAU_2015:50100", [dst.bounds.left], [dst.bounds.bottom])
        assert np.allclose([west[0], south[0]], [100.0, -30.0], atol=1e-6)
