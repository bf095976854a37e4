"""Reconstruction of digital-twin PJ57 products against the twin's truth: the sampled pixels'
true lat/lon (``truth.json``) and the basemap the products were rendered from. The CLI is run
end to end and its GeoTIFF read back with rasterio."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.warp import transform

from ioflyby import simulate
from ioflyby.cli import main
from ioflyby.ingest import read_product
from ioflyby.mapping.crs import body_crs
from ioflyby.mapping.grid import equirectangular_grid, orthographic_grid
from ioflyby.observation import Observation
from ioflyby.spice import Kernels

BLOB_SIGMA_PX = 1.5


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    out = tmp_path_factory.mktemp("twin") / "pj57"
    options = simulate.TwinOptions(images=(simulate.PlannedImage(-240.0),), truth_pixels=600)
    result = simulate.build_twin("pj57", out, options)
    product = read_product(result.products[0])
    with Kernels([result.truth_metakernel]):
        observation = Observation(product)
    return result, product, observation


def _blob_framelets(product, pixels):
    """Zero framelets with a Gaussian blob on each chosen truth pixel."""
    cube = np.zeros(product.framelets.shape, np.float32)
    lines, samples = np.mgrid[0:128, 0:1648]
    index = {name: k for k, name in enumerate(product.filters)}
    for p in pixels:
        near = (slice(max(0, p["line"] - 6), p["line"] + 7), slice(p["sample"] - 6, p["sample"] + 7))
        dl, ds = lines[near] - p["line"], samples[near] - p["sample"]
        cube[p["exposure"], index[p["filter"]]][near] += np.exp(-0.5 * (dl**2 + ds**2) / BLOB_SIGMA_PX**2)
    return cube


def test_surface_points_land_where_truth_says(twin):
    result, product, observation = twin
    body = body_crs(501, "IO")
    sub_lat, sub_lon, distance = observation.sub_observer
    native_km = (distance - 1821.0) / observation.camera.filter("GREEN").focal_length_px
    grid = orthographic_grid(body, sub_lat, sub_lon, resolution_km=native_km)
    pixels = [p for p in result.truth["products"][0]["pixels"] if 14 <= p["line"] <= 113 and 30 <= p["sample"] <= 1620]
    x, y = transform("IAU_2015:50100", grid.crs, [p["lon_east_deg"] for p in pixels], [p["lat_deg"] for p in pixels])
    col, row = grid.xy_to_cell(np.array(x), np.array(y))
    # Keep blobs that are isolated in the map within their channel (no blending of two blobs).
    keep = []
    for i, p in enumerate(pixels):
        same = [j for j, q in enumerate(pixels) if q["filter"] == p["filter"] and j != i]
        if all(math.hypot(col[i] - col[j], row[i] - row[j]) > 14 for j in same):
            keep.append(i)
    chosen = [pixels[i] for i in keep]
    mapped = observation.map(grid, images=_blob_framelets(product, chosen), backplanes=True)
    errors, emissions, offsets = [], [], {name: [] for name in product.filters}
    for i in keep:
        values = mapped.channels[pixels[i]["filter"]]
        ci, ri = int(round(col[i])), int(round(row[i]))
        window = np.nan_to_num(values[ri - 7 : ri + 8, ci - 7 : ci + 8])
        if window.sum() < 1.0 or window.shape != (15, 15):
            continue
        rr, cc = np.mgrid[ri - 7 : ri + 8, ci - 7 : ci + 8]
        offset = np.array([(window * cc).sum() / window.sum() - col[i], (window * rr).sum() / window.sum() - row[i]])
        errors.append(np.hypot(*offset))
        emissions.append(float(mapped.backplanes["emission"][ri, ci]))
        if emissions[-1] < 75.0:
            offsets[pixels[i]["filter"]].append(offset)
    # Within ~15 deg of the limb a 1.5 px blob is smeared over more map cells than the 15 x 15
    # centroid window holds, so its centroid no longer measures the mapping; judge the rest.
    errors = np.array(errors)[np.array(emissions) < 75.0]
    assert errors.size >= 100, f"only {errors.size} truth pixels measurable"
    registration = max(np.hypot(*(np.mean(offsets[a], axis=0) - np.mean(offsets[b], axis=0)))
                       for a in offsets for b in offsets)
    print(f"channel registration {registration:.3f} cells")
    print(f"twin geometric error (map cells of {native_km:.2f} km): median {np.median(errors):.3f}, "
          f"p99 {np.percentile(errors, 99):.3f}, n={errors.size}")
    assert np.median(errors) <= 0.1
    assert np.percentile(errors, 99) <= 0.5
    means = {name: np.mean(v, axis=0) for name, v in offsets.items() if v}
    assert len(means) == 3
    for a in means:
        for b in means:
            assert np.hypot(*(means[a] - means[b])) <= 0.3


def test_equirectangular_correlates_with_basemap(twin):
    result, product, observation = twin
    body = body_crs(501, "IO")
    grid = equirectangular_grid(body, resolution_km=5.0)
    mapped = observation.map(grid, photometry="lambert", backplanes=True)
    basemap = simulate.load_basemap(result.truth["basemap"]["path"])
    lat, lon = np.radians(mapped.backplanes["lat"]), np.radians(mapped.backplanes["lon_east"])
    planes = mapped.backplanes
    lit = mapped.coverage & (planes["incidence"] < 75.0) & (planes["emission"] < 75.0)
    assert lit.sum() > 50_000
    for name in product.filters:
        truth = basemap.sample(name, lat[lit], lon[lit])
        r = np.corrcoef(mapped.channels[name][lit], truth)[0, 1]
        print(f"{name}: r = {r:.4f} over {lit.sum()} lit cells")
        assert r >= 0.95


def test_cli_geotiff_has_io_crs_and_known_point(twin, tmp_path, capsys):
    result, *_ = twin
    product_dir = str(result.products[0])
    with pytest.raises(SystemExit) as exit_info:
        main(["process", product_dir, "--kernels", str(result.metakernel), "--projection", "equirectangular",
              "--width", "1024", "--out", str(tmp_path), "--json", "--backplanes"])
    assert exit_info.value.code in (0, None)
    report = json.loads(capsys.readouterr().out)
    assert set(report) >= {"outputs", "seconds", "framelets", "pointing"}
    assert report["pointing"] == {"source": "kernels"} and report["framelets"] == 90
    assert set(report["seconds"]) == {"read", "calibrate", "geometry", "reproject", "colour", "write"}
    colour_tif = Path(report["outputs"][0])
    with rasterio.open(colour_tif) as dst:
        assert dst.crs.to_string() in ("IAU_2015:50110",) or "Io (2015)" in dst.crs.to_wkt()
        radius = 1821490.0
        assert np.allclose(dst.bounds, (-math.pi * radius, -math.pi * radius / 2, math.pi * radius, math.pi * radius / 2))
        alpha = dst.read(4)
    with rasterio.open(Path(report["outputs"][2])) as planes:
        lat, lon = planes.read(planes.descriptions.index("planetocentric latitude (deg)") + 1), \
            planes.read(planes.descriptions.index("east-positive longitude (deg)") + 1)
        # A truth pixel's lat/lon, located with rasterio's own transform, lands on a covered cell
        # whose lat/lon planes say the same.
        pixel = result.truth["products"][0]["pixels"][0]
        (x,), (y,) = transform("IAU_2015:50100", planes.crs, [pixel["lon_east_deg"]], [pixel["lat_deg"]])
        r, c = planes.index(x, y)
        assert alpha[r, c] > 0
        cell_km = 2 * math.pi * 1821.49 / 1024
        assert abs(lat[r, c] - pixel["lat_deg"]) * math.pi / 180 * 1821.49 <= cell_km
        d_lon = (lon[r, c] - pixel["lon_east_deg"] + 180) % 360 - 180
        assert abs(d_lon) * math.pi / 180 * 1821.49 * math.cos(math.radians(pixel["lat_deg"])) <= cell_km
