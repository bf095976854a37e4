"""Change detection between epochs (``ioflyby.volcano.change``, ``ioflyby change``), checked against
independent truth:

- the georeference written for the USGS mosaics puts published features (Loki Patera 13°N 309°W,
  Pele 18.7°S 255°W, the catalogue's large paterae) on dark features, and the mirrored convention does not;
- cell areas on the sphere against the analytic area of a latitude band and of a spherical cap;
- twin epochs (map pairs rendered through the project's mapping grid with the twin's photometric
  model from the USGS 2 km mosaic, :func:`ioflyby.simulate.surface_change.render_epoch_map`):
  injected changes of 20–200 km recovered with area within ±10 % and IoU ≥ 0.8 (changes ≥ 10 cells
  across), darkening and brightening, at two phase-angle pairs; no false change above 1 % of the
  compared area when nothing changed (different Sun, viewing geometry, resolution, noise);
- the CLI's JSON contract and its files; the real USGS mosaic pair on the whole globe (slow).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.warp import transform

import ioflyby.cli.change_cmd  # noqa: F401  (registers the verb before the lead adds it to VERBS)
from ioflyby.cli.app import main
from ioflyby.mapping.crs import body_crs
from ioflyby.mapping.grid import equirectangular_grid
from ioflyby.mapping.reference import open_mosaic, write_mosaic_vrt
from ioflyby.simulate.basemap import load_basemap
from ioflyby.simulate.surface_change import SurfaceChange, apply_surface_changes, render_epoch_map
from ioflyby.volcano.catalogue import select_features
from ioflyby.volcano.change import ChangeConfig, ChangeError, cell_areas_km2, detect_changes, truth_comparison

BASEMAPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "io" / "basemaps"
OLD = BASEMAPS / "Io_GalileoSSI-Voyager_Global_Mosaic_2km_180W.jpg"
NEW = BASEMAPS / "New_Io_photomosaic_2km_grey.jpg"
needs_mosaics = pytest.mark.skipif(not (OLD.exists() and NEW.exists()), reason="USGS Io mosaics not in ../shared/data")
IO_R = 1821.49

CHANGES = (
    SurfaceChange(-10.0, 80.0, 10.0, 0.5),           # 20 km across: 8 cells at 2.5 km (below the 10-cell limit)
    SurfaceChange(5.0, 95.0, 20.0, 1.6),             # 40 km, brightening
    SurfaceChange(-15.0, 110.0, 40.0, 0.55),         # 80 km, darkening
    SurfaceChange(15.0, 75.0, 70.0, 0.6),            # 140 km, darkening
    SurfaceChange(18.0, 118.0, 100.0, 1.4),          # 200 km, brightening
    SurfaceChange(-25.0, 90.0, 25.0, 0.5, "flow", 60.0),  # a curved flow, 100 km long
)
LAT_RANGE, LON_RANGE = (-35.0, 35.0), (65.0, 135.0)
GEOMETRIES = {  # (sun, observer) of the before and after epochs, sub-points (lat, east lon) in degrees
    "phase 14 vs 30": (((0.0, 95.0), (10.0, 105.0)), ((-5.0, 115.0), (-5.0, 85.0))),
    "phase 14 vs 46": (((0.0, 95.0), (10.0, 105.0)), ((10.0, 80.0), (0.0, 125.0))),
}


# -- the mosaics' georeference --------------------------------------------------------------------
def _dark_at(data: np.ndarray, ds, lat: float, lon_east: float, radius_km: float) -> float:
    """20th percentile of the mosaic within ``radius_km`` of the point (paterae have bright
    islands and dark rims) minus the median of the annulus from 2x to 4x."""
    x, y = transform(body_crs(501, "IO").geographic_id, ds.crs, [lon_east], [lat])
    row, col = ds.index(x[0], y[0])
    cell = abs(ds.transform.a) / 1000.0
    r = max(2, int(radius_km / cell))
    win = data[max(row - 4 * r, 0): row + 4 * r + 1, max(col - 4 * r, 0): col + 4 * r + 1].astype(float)
    rr, cc = np.mgrid[: win.shape[0], : win.shape[1]]
    dist = np.hypot(rr - min(row, 4 * r), cc - min(col, 4 * r))
    return float(np.percentile(win[dist <= r], 20) - np.median(win[(dist > 2 * r) & (dist <= 4 * r)]))


@needs_mosaics
@pytest.mark.parametrize("path", [OLD, NEW], ids=["galileo-voyager", "photomosaic"])
def test_mosaic_georeference_puts_features_on_their_places(path, tmp_path):
    vrt = write_mosaic_vrt(path, tmp_path / "mosaic.vrt")
    with rasterio.open(vrt) as ds:
        assert ds.crs.to_string().endswith("50115") or "clon = 180" in ds.crs.to_wkt()
        data = ds.read(1)
        # the data README's checks: Loki Patera (13N 309W) and Pele's dark patera (18.7S 255W)
        assert _dark_at(data, ds, 13.0, 51.0, 80.0) < -40
        assert _dark_at(data, ds, -18.7, 105.0, 10.0) < -15
        # large paterae of the catalogue are darker than their surroundings; mirrored (west as east) they are not
        paterae = select_features(sources="gazetteer")
        paterae = paterae[(paterae["feature_type"] == "patera") & (paterae["diameter_km"] >= 60)
                          & (paterae["lat_deg"].abs() < 60)]
        right = [_dark_at(data, ds, r.lat_deg, r.lon_east_deg, r.diameter_km / 4) for r in paterae.itertuples()]
        mirrored = [_dark_at(data, ds, r.lat_deg, r.lon_west_deg, r.diameter_km / 4) for r in paterae.itertuples()]
    assert len(right) >= 15
    assert np.median(right) < -10 and np.mean(np.array(right) < 0) > 0.75
    assert np.median(mirrored) > np.median(right) + 8


@needs_mosaics
def test_mosaic_opens_in_memory_with_the_same_georeference(tmp_path):
    with open_mosaic(OLD) as ds, rasterio.open(write_mosaic_vrt(OLD, tmp_path / "a.vrt")) as written:
        assert ds.transform == written.transform and ds.crs == written.crs
        assert ds.bounds.left == pytest.approx(-math.pi * IO_R * 1000) and ds.bounds.top == pytest.approx(
            math.pi / 2 * IO_R * 1000)


# -- areas on the sphere ---------------------------------------------------------------------------
def test_cell_areas_match_analytic_band_and_cap():
    body = body_crs(501, "IO")
    grid = equirectangular_grid(body, (-90, 90), (0, 360), 5.0)
    rows = cell_areas_km2(grid)
    assert rows.sum() * grid.width == pytest.approx(4 * math.pi * IO_R**2, rel=1e-3)
    band = equirectangular_grid(body, (10, 30), (20, 60), 2.0)
    analytic = IO_R**2 * math.radians(40) * (math.sin(math.radians(30)) - math.sin(math.radians(10)))
    assert cell_areas_km2(band).sum() * band.width == pytest.approx(analytic, rel=2e-3)
    cap_grid = equirectangular_grid(body, (40, 90), (0, 360), 2.0)
    lat, lon = cap_grid.latlon()
    cap = SurfaceChange(90.0, 0.0, 900.0, 0.5)  # a polar cap of 900 km radius
    area = float((cap.contains(lat, lon) * cell_areas_km2(cap_grid)[:, None]).sum())
    assert area == pytest.approx(2 * math.pi * IO_R**2 * (1 - math.cos(900 / IO_R)), rel=3e-3)


# -- twin epochs -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def basemap():
    if not OLD.exists():
        pytest.skip("USGS Io mosaic not in ../shared/data")
    return load_basemap(OLD)


def _pair(basemap, folder: Path, geometry, changes) -> tuple[Path, Path]:
    """Before at 2 km/px (PSF 0.6 cells, 1 % noise, Lambert) and after at 2.5 km/px (PSF 0.8
    cells, 1.5 % noise, Minnaert k = 0.8), as float GeoTIFFs of the project's map writer."""
    body = body_crs(501, "IO")
    (sun_a, obs_a), (sun_b, obs_b) = geometry
    before = render_epoch_map(equirectangular_grid(body, LAT_RANGE, LON_RANGE, 2.0), basemap, sun_a, obs_a,
                              psf_sigma_px=0.6, noise_fraction=0.01, seed=1)
    after = render_epoch_map(equirectangular_grid(body, LAT_RANGE, LON_RANGE, 2.5),
                             apply_surface_changes(basemap, changes), sun_b, obs_b, psf_sigma_px=0.8,
                             noise_fraction=0.015, seed=2, minnaert_k=0.8)
    folder.mkdir(parents=True, exist_ok=True)
    return before.write_linear_geotiff(folder / "before.tif"), after.write_linear_geotiff(folder / "after.tif")


@pytest.fixture(scope="module", params=list(GEOMETRIES))
def twin_pair(request, basemap, tmp_path_factory):
    folder = tmp_path_factory.mktemp("change")
    changed = detect_changes(*_pair(basemap, folder / "changed", GEOMETRIES[request.param], CHANGES))
    unchanged = detect_changes(*_pair(basemap, folder / "same", GEOMETRIES[request.param], ()))
    return changed, unchanged, folder


def test_twin_changes_recovered(twin_pair):
    changed, _, _ = twin_pair
    rows = truth_comparison(changed, [c.to_dict() for c in CHANGES])
    cell_km = changed.grid.resolution_km
    for change, row in zip(CHANGES, rows):
        across = 2 * change.radius_km / cell_km if change.shape == "disc" else change.radius_km / cell_km
        assert row["found_kind"] == row["kind"], row
        if across >= 10:
            assert abs(row["area_error"]) <= 0.10, row
            assert row["iou"] >= 0.8, row
    top = {(round(c.centroid_lat_deg), round(c.centroid_lon_east_deg)) for c in changed.changes[:6]}
    assert {(round(c.lat_deg), round(c.lon_east_deg)) for c in CHANGES if c.radius_km >= 20} <= top


def test_twin_no_false_change_when_nothing_changed(twin_pair):
    _, unchanged, _ = twin_pair
    assert unchanged.changed_area_km2 / unchanged.compared_area_km2 < 0.01
    assert unchanged.normalisation["sharper"] == "before"  # 2 km/px, PSF 0.6 vs 2.5 km/px, PSF 0.8


def test_registration_recovers_an_injected_shift(basemap, tmp_path):
    body = body_crs(501, "IO")
    grid = equirectangular_grid(body, (-20, 20), (80, 120), 2.0)
    before = render_epoch_map(grid, basemap, (0, 100), (0, 100), psf_sigma_px=1.0, noise_fraction=0.005, seed=3)
    shifted = equirectangular_grid(body, (-20, 20), (80 + 1.3 * 2.0 / IO_R * 180 / math.pi,
                                                      120 + 1.3 * 2.0 / IO_R * 180 / math.pi), 2.0)
    after = render_epoch_map(shifted, basemap, (0, 100), (0, 100), psf_sigma_px=1.0, noise_fraction=0.005, seed=4)
    # the after map's cells lie 1.3 cells east: written on the before grid, features move 1.3 cells west
    after.grid = grid
    a = before.write_linear_geotiff(tmp_path / "a.tif")
    b = after.write_linear_geotiff(tmp_path / "b.tif")
    result = detect_changes(a, b)
    assert result.registration.shift_x_px == pytest.approx(-1.3, abs=0.15)
    assert abs(result.registration.shift_y_px) < 0.15 and result.registration.applied
    assert result.changed_area_km2 / result.compared_area_km2 < 0.01


def test_local_registration_recovers_an_injected_displacement_field():
    """A crop of the USGS mosaic warped by a known smooth field (±3–5 cells, varying across the
    map, the kind two control networks leave) is recovered to 0.25 cell RMS."""
    from ioflyby.volcano.change_registration import displacement_field, warp

    if not OLD.exists():
        pytest.skip("USGS Io mosaic not in ../shared/data")
    from PIL import Image

    with Image.open(OLD) as image:
        grey = np.asarray(image.convert("L"), np.float32)[1000:1640, 1500:2780]
    h, w = grey.shape
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    true_dy = 3.0 * np.sin(cols / 250.0) + 1.0
    true_dx = -4.0 + 2.0 * np.cos(rows / 180.0)
    # after(row + dy, col + dx) = before(row, col)  <=>  after = before sampled at (row - dy, col - dx)
    after = warp(grey, -true_dy, -true_dx, False) + np.random.default_rng(5).normal(0, 2.0, grey.shape).astype(np.float32)
    field = displacement_field(grey, after, np.ones(grey.shape, bool), False)
    dy, dx = field.dense(grey.shape)
    inner = (slice(64, -64), slice(64, -64))
    assert np.sqrt(np.mean((dy - true_dy)[inner] ** 2)) < 0.25
    assert np.sqrt(np.mean((dx - true_dx)[inner] ** 2)) < 0.25
    assert field.stats()["tiles_used"] >= 0.8 * field.stats()["tiles_measured"]


def test_cli_contract_and_files(twin_pair, tmp_path, capsys):
    _, _, folder = twin_pair
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        main(["change", str(folder / "changed" / "before.tif"), str(folder / "changed" / "after.tif"), "--out",
              str(out), "--region", "-30,30,70,130", "--json"])
    assert exit_info.value.code in (0, None)
    result = json.loads(capsys.readouterr().out)
    assert {"changes", "outputs"} <= set(result)
    scores = [c["score"] for c in result["changes"]]
    assert scores == sorted(scores, reverse=True) and len(scores) >= 5
    for c in result["changes"]:
        assert {"centroid_lat_deg", "centroid_lon_east_deg", "area_km2", "kind", "score", "nearest_feature"} <= set(c)
        assert {"name", "distance_km"} <= set(c["nearest_feature"])
        assert -30 <= c["centroid_lat_deg"] <= 30 and 70 <= c["centroid_lon_east_deg"] <= 130
    names = {Path(p).name for p in result["outputs"]}
    assert {"changes.geojson", "before.png", "after.png", "difference.png", "comparison.png", "comparison.gif"} <= names
    geojson = json.loads((out / "changes.geojson").read_text())
    assert len(geojson["features"]) == len(result["changes"]) + len(result["artefacts"])
    ring = np.array(geojson["features"][0]["geometry"]["coordinates"][0])
    assert np.allclose(ring[0], ring[-1], atol=1e-3)


def test_cli_errors_are_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["change", str(tmp_path / "missing.tif"), str(tmp_path / "missing2.tif"), "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "error" in err
    with pytest.raises(ChangeError):
        ChangeConfig(seed_sigma=2.0, grow_sigma=3.0)


# -- the real mosaics -------------------------------------------------------------------------------
@needs_mosaics
@pytest.mark.slow
def test_real_mosaics_whole_globe(tmp_path):
    result = detect_changes(OLD, NEW, ChangeConfig())
    assert result.grid.width >= 5700 and result.compared_area_km2 > 0.8 * 4 * math.pi * IO_R**2
    assert result.changes and all(c.area_km2 > 0 for c in result.changes)
    assert result.artefacts and {c.artefact for c in result.artefacts} <= {"polar smear", "seam", "data edge",
                                                                          "resolution step", "brightness mismatch"}
    # the two mosaics' control networks differ locally: a field of several cells, applied
    registration = result.registration
    assert registration.tiles >= 500 and registration.applied
    assert registration.local["field_mean_px"] > 2.0 and registration.local["field_max_px"] > 8.0
    assert all(abs(c.centroid_lat_deg) <= 70.0 for c in result.changes)
    paths = result.write(tmp_path, crops=4)
    assert (tmp_path / "before_georeference.vrt").exists() and len(paths) >= 10


# -- the compiled kernels against the libraries they replace -------------------------------------
def test_kernels_match_the_library_functions_they_replace():
    """The fused kernels of ``change_kernels`` give what numpy/scipy/scikit-image give: the local
    registration warp (``scipy.ndimage.map_coordinates`` on the dense field), |∇a| and |∇²a|
    (``numpy.gradient``, ``scipy.ndimage.laplace``), the 3 × 3 fine detail
    (``scipy.ndimage.uniform_filter``) and hysteresis (``skimage.filters.apply_hysteresis_threshold``)."""
    from scipy import ndimage
    from skimage.filters import apply_hysteresis_threshold

    from ioflyby.volcano import change_kernels as kernels
    from ioflyby.volcano.change import _hysteresis
    from ioflyby.volcano.change_registration import DisplacementField, warp, warp_field

    rng = np.random.default_rng(7)
    a = ndimage.gaussian_filter(rng.normal(size=(96, 160)), 2.0).astype(np.float32) * 50 + 100
    a[40:44, 70:75] = np.nan
    rows, cols = np.array([10.0, 47.5, 85.0]), np.array([5.0, 60.0, 110.0, 150.0])
    dy = rng.uniform(-4, 4, (3, 4))
    dx = rng.uniform(-4, 4, (3, 4))
    for wrap in (False, True):
        fld = DisplacementField(rows, cols, dy, dx, dy, dx, np.ones((3, 4), bool), 12, wrap)
        expected = warp(a, *fld.dense(a.shape), wrap)
        got = warp_field(a, fld, wrap)
        assert np.array_equal(np.isnan(expected), np.isnan(got))
        assert np.nanmax(np.abs(expected - got)) < 1e-3
    b = np.nan_to_num(a, nan=100.0)
    edge, curvature = np.empty_like(b), np.empty_like(b)
    kernels.edge_curvature(b, edge, curvature)
    gy, gx = np.gradient(b)
    assert np.allclose(edge, np.hypot(gx, gy), atol=1e-4)
    assert np.allclose(curvature, np.abs(ndimage.laplace(b)), atol=1e-3)
    sums = np.empty((2, 12, 20))
    kernels.fine_power_sums(b, np.ones(b.shape, bool), sums)
    fine = (b - ndimage.uniform_filter(b, 3, mode="nearest")).astype(np.float64) ** 2
    assert np.allclose(sums[1], fine.reshape(12, 8, 20, 8).sum(axis=(1, 3)), rtol=1e-3)
    z = ndimage.gaussian_filter(rng.normal(size=(200, 300)), 3.0) * 30
    assert np.array_equal(_hysteresis(z, 3.0, 5.0), apply_hysteresis_threshold(z, 3.0, 5.0))
