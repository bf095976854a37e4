"""``ioflyby render`` on a PJ57 twin product against the twin's truth.

The twin is rendered from a basemap with known sharp edges: Io's colour mosaic (the twin's
default) multiplied by a 30° checkerboard (factors 1 and 0.45), so every meridian and parallel
at a multiple of 30° is a step edge. Its framelets integrate each pixel's area (2 x 2 sub-samples)
and carry the camera PSF (``RenderEffects(pixel_supersampling=2, surface_psf=True)``), as a
detector records them. Checks: colour fringes at the limb and coverage edges vs the lit interior
(and today's ``process`` perspective map, reported), MTF50 of the rendered view vs the raw
framelets at the same scale on the checker's meridian edges (and the raw MTF50 vs the twin's
analytic one), channel registration, equality with a direct ray-cast (spiceypy ``surfpt``) of the
basemap from the same viewpoint; ``ioflyby movie`` from products and from a scenario alone.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import spiceypy
from PIL import Image

from ioflyby import simulate
from ioflyby.ingest import read_product
from ioflyby.observation import Observation
from ioflyby.render import RenderOptions, reconstruct, render
from ioflyby.render.metrics import channel_registration, fringe_ratio, mtf50
from ioflyby.render.pipeline import build_view
from ioflyby.simulate.basemap import default_basemap_path, load_basemap
from ioflyby.simulate.render import JUNOCAM_PSF_SIGMA_PX
from ioflyby.spice import Kernels

CELL_DEG = 30.0
DARK_FACTOR = 0.45


def _checker_basemap(path):
    """Io's colour mosaic (bilinear to 4096 x 2048) times a 30° checkerboard; returns its path."""
    with Image.open(default_basemap_path()) as image:
        io = np.asarray(image.convert("RGB").resize((4096, 2048), Image.BILINEAR), np.float32)
    lon = (np.arange(4096) + 0.5) * 360.0 / 4096
    lat = 90.0 - (np.arange(2048) + 0.5) * 180.0 / 2048
    parity = (np.floor(lon / CELL_DEG)[None, :] + np.floor(lat / CELL_DEG)[:, None]) % 2
    factor = np.where(parity == 1, 1.0, DARK_FACTOR)[..., None]
    Image.fromarray(np.clip(io * factor, 0, 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    folder = tmp_path_factory.mktemp("render")
    basemap = _checker_basemap(folder / "checker.png")
    # pixel-area integration (2 x 2 sub-samples) and the camera PSF on the whole surface: raw
    # framelets as a detector records them, so that their edge spread is a fair reference
    effects = simulate.RenderEffects.junocam(pixel_supersampling=2, surface_psf=True)
    options = simulate.TwinOptions(images=(simulate.PlannedImage(-240.0),), basemap=basemap, effects=effects)
    result = simulate.build_twin("pj57", folder / "twin", options)
    product = read_product(result.products[0])
    with Kernels([result.truth_metakernel]):
        observation = Observation(product)
        view = build_view(RenderOptions(), observation)
    rec = reconstruct([observation], view)
    return {"twin": result, "product": product, "obs": observation, "view": view, "rec": rec,
            "basemap": load_basemap(basemap), "io": load_basemap(default_basemap_path()), "folder": folder}


def test_no_colour_fringes_at_limb_and_coverage_edges(twin):
    rec = twin["rec"]
    after = fringe_ratio(rec.channels, rec.valid, rec.cos_incidence)
    from ioflyby.processing import MapSpec, process

    spec = MapSpec(projection="perspective", width=rec.view.width)
    before_map = process([twin["product"]], [twin["twin"].truth_metakernel], spec, out=None).map
    names = [n for n in ("RED", "GREEN", "BLUE")]
    before = fringe_ratio({n: before_map.channels[n] for n in names}, before_map.coverage,
                          np.cos(np.radians(before_map.backplanes["incidence"])))
    print(f"\nfringe p90 edge/interior: process perspective {before['ratio']:.2f}, render {after['ratio']:.2f}")
    assert after["edge_pixels"] > 500 and after["interior_pixels"] > 10000
    assert after["ratio"] <= 2.0
    assert after["ratio"] < before["ratio"]


def _edge_samples(lat, lon, values, planes_ok, radius_km):
    """Signed distance (km, bright side positive) to the nearest checker meridian edge, values
    normalised by the smooth Io albedo x cos i (so the checker factor is what remains)."""
    lon_deg = np.degrees(lon) % 360.0
    lat_deg = np.degrees(lat)
    nearest = np.round(lon_deg / CELL_DEG) * CELL_DEG
    delta = np.radians(lon_deg - nearest)
    distance = radius_km * np.cos(lat) * delta
    lat_edge = np.abs(lat_deg - np.round(lat_deg / CELL_DEG) * CELL_DEG) * math.pi / 180 * radius_km
    east_cell = np.floor((nearest + 1e-6) / CELL_DEG)
    parity_east = (east_cell + np.floor(lat_deg / CELL_DEG)) % 2
    sign = np.where(parity_east == 1, 1.0, -1.0)
    keep = planes_ok & (lat_edge > 40.0) & np.isfinite(values)
    return (distance * sign)[keep], values[keep]


def _normalised(values, lat, lon, cos_i, io):
    return values / (io.sample("GREEN", lat, lon) * np.clip(cos_i, 1e-3, None))


def test_sharpness_mtf50_not_worse_than_raw_framelets(twin):
    obs, rec, io = twin["obs"], twin["rec"], twin["io"]
    radius = float(np.mean(obs.body.radii_km))
    raw_d, raw_v, km_px = [], [], []
    data = obs.product.decompanded()
    j = obs.product.filters.index("GREEN")
    for exposure in range(0, obs.product.n_exposures):
        planes = obs.backplanes("GREEN", exposure)
        ok = (np.isfinite(planes.lat) & (planes.emission_deg < 45) & (planes.incidence_deg < 70))
        if ok.sum() < 1000:
            continue
        values = _normalised(data[exposure, j] - 8.0, planes.lat, planes.lon_east, np.cos(planes.incidence), io)
        d, v = _edge_samples(planes.lat, planes.lon_east, values, ok, radius)
        raw_d.append(d), raw_v.append(v)
        km_px.append(np.nanmedian(planes.km_per_px[ok]))
    raw_d, raw_v = np.concatenate(raw_d), np.concatenate(raw_v)
    assert raw_d.size > 2000
    scale = float(np.median(km_px))
    # Rendered view at the same scale (its km/px at the disc centre is the framelets' at nadir).
    from ioflyby.render.view import surface_points

    rows, cols = np.nonzero(rec.valid & (rec.cos_emission > math.cos(math.radians(45)))
                            & (rec.cos_incidence > math.cos(math.radians(70))))
    points, _ = surface_points(rec.view, cols, rows)
    lat = np.arcsin(points[:, 2] / np.linalg.norm(points, axis=1))
    lon = np.arctan2(points[:, 1], points[:, 0])
    values = _normalised(rec.channels["GREEN"][rows, cols], lat, lon, rec.cos_incidence[rows, cols], io)
    ren_d, ren_v = _edge_samples(lat, lon, values, np.ones(lat.size, bool), radius)
    assert ren_d.size > 2000
    bins = 0.1 * scale
    raw_mtf = mtf50(raw_d, raw_v, bins, 8 * scale)
    ren_mtf = mtf50(ren_d, ren_v, bins, 8 * scale)
    print(f"\nMTF50 (cycles/km): raw framelets {raw_mtf:.4f}, render {ren_mtf:.4f}, ratio {ren_mtf / raw_mtf:.3f}; "
          f"framelet {scale:.2f} km/px, render {rec.view.km_per_px:.2f} km/px")
    assert abs(rec.view.km_per_px / scale - 1.0) < 0.15  # the same scale
    # the raw framelets' MTF50 is the twin's analytic one: 2 x 2 sub-samples (cos(pi f / 2)) x
    # Gaussian PSF x the basemap's bilinear kernel (sinc^2 of its pixel, in framelet pixels)
    freq = np.linspace(0.01, 1.0, 10000)
    basemap_px = 2 * math.pi * radius / 4096 / scale
    model = (np.cos(math.pi * freq / 2) * np.exp(-2 * (math.pi * JUNOCAM_PSF_SIGMA_PX * freq) ** 2)
             * np.sinc(freq * basemap_px) ** 2)
    expected = freq[np.argmax(model < 0.5)] / scale
    print(f"raw MTF50 {raw_mtf * scale:.3f} cycles/px, the twin's analytic {expected * scale:.3f}")
    assert abs(raw_mtf / expected - 1.0) < 0.1
    assert ren_mtf >= 0.9 * raw_mtf


def test_channels_registered(twin):
    rec = twin["rec"]
    lit = rec.valid & (rec.cos_incidence > 0.3)
    shifts = channel_registration(rec.channels, lit)
    print(f"\nchannel shifts vs GREEN (px): {shifts}")
    assert max(shifts.values()) <= 0.05


def test_spacecraft_view_equals_direct_raycast_of_the_basemap(twin):
    rec, view, obs, basemap = twin["rec"], twin["view"], twin["obs"], twin["basemap"]
    rows, cols = np.mgrid[0:view.height:3, 0:view.width:3]
    rows, cols = rows.ravel(), cols.ravel()
    rays = view.pixel_rays(cols, rows)
    observer = view.observer_km
    a, b, c = obs.body.radii_km
    middle = len(obs.poses) // 2
    sun = obs.poses.sun_direction[middle]
    truth = {n: np.full(rows.size, np.nan) for n in ("RED", "GREEN", "BLUE")}
    for i, ray in enumerate(rays):
        with spiceypy.no_found_check():
            point, found = spiceypy.surfpt(observer, ray, a, b, c)
        if not found:
            continue
        normal = np.asarray(spiceypy.surfnm(a, b, c, point))
        cos_i = float(normal @ sun)
        _, lon, lat = spiceypy.reclat(point)
        for name in truth:
            truth[name][i] = float(basemap.sample(name, np.array([lat]), np.array([lon]))[0]) * max(cos_i, 0.0)
    lit = rec.valid[rows, cols] & (rec.cos_incidence[rows, cols] > 0.1) & np.isfinite(truth["GREEN"])
    assert lit.sum() > 5000
    for name in truth:
        r = np.corrcoef(rec.channels[name][rows, cols][lit], truth[name][lit])[0, 1]
        print(f"\n{name}: r = {r:.4f} over {lit.sum()} lit pixels")
        assert r >= 0.98


def test_render_writes_every_format_with_its_record(twin, tmp_path):
    import ioflyby.cli.render_cmd  # noqa: F401  (registers the verb)
    from ioflyby.cli.app import main

    result = render([twin["product"]], [twin["twin"].truth_metakernel], tmp_path, RenderOptions(size=(512, 512)))
    files = result.files
    assert set(files) == {"png16", "tiff16", "png8", "jpeg", "sidecar"}
    with open(files["png16"], "rb") as handle:
        head = handle.read(33)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[24] == 16  # bit depth 16
    with Image.open(files["png8"]) as image:
        record = json.loads(image.text["ioflyby:render"])
        assert image.size[0] == 512 and image.size[1] > 512  # the caption strip below
    assert [s["step"] for s in record["enhancement"]][:2] == ["white_balance", "night"]
    assert json.loads(files["sidecar"].read_text())["options"]["enhance"] == "gill"
    with pytest.raises(SystemExit) as exited:
        main(["render", str(twin["twin"].products[0]), "--kernels", str(twin["twin"].truth_metakernel),
              "--out", str(tmp_path / "cli"), "--view", "orthographic", "--size", "256x256",
              "--enhance", "local-contrast", "--json"])
    assert exited.value.code == 0
    assert len(list((tmp_path / "cli").glob("*_orthographic_local-contrast*"))) == 5


@pytest.fixture(scope="module")
def short_products(tmp_path_factory):
    """Three short PJ57 twin products (8 exposures each) in time order, and the twin."""
    folder = tmp_path_factory.mktemp("movie")
    images = tuple(simulate.PlannedImage(offset, n_exposures=8) for offset in (-480.0, -240.0, 300.0))
    twin = simulate.build_twin("pj57", folder / "twin", simulate.TwinOptions(images=images))
    return twin


def _decoded_frames(path):
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = reader.__next__()
    width, height = meta["size"]
    return [np.frombuffer(f, np.uint8).reshape(height, width, 3) for f in reader]


def test_movie_from_products_in_order_with_their_time_and_range(short_products, tmp_path, capsys):
    import ioflyby.cli.movie_cmd  # noqa: F401  (registers the verb)
    from ioflyby.cli.app import main

    twin, hold = short_products, 2
    out = tmp_path / "products.mp4"
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(["movie", *sum((["--products", str(p)] for p in twin.products), []), "--kernels",
              str(twin.truth_metakernel), "--out", str(out), "--size", "256x192", "--hold", str(hold), "--json"])
    assert exited.value.code == 0
    reported = json.loads(capsys.readouterr().out)
    frames = _decoded_frames(out)
    assert reported["frames"] == len(frames) == 3 * hold and frames[0].shape == (192, 256, 3)
    disc = [f[:, 32:224].astype(float) for f in frames]
    for k in range(3):  # each product held, the next one different
        assert np.abs(disc[k * hold] - disc[k * hold + 1]).mean() < 1.0
        assert (disc[k * hold].max(axis=-1) > 40).mean() > 0.05  # a lit disc is there
    assert np.abs(disc[0] - disc[hold]).mean() > 3.0 and np.abs(disc[hold] - disc[2 * hold]).mean() > 3.0
    # first and last stamps: the first and last product's middle exposure; the closest range:
    # Juno's distance from Io (SPICE, the twin's kernels) at the middle exposures
    products = [read_product(p) for p in twin.products]
    with Kernels([twin.truth_metakernel]):
        middle = [spiceypy.str2et(p.exposure_start_utc[p.n_exposures // 2]) for p in products]
        assert abs(spiceypy.str2et(reported["start_utc"].replace(" UTC", "")) - middle[0]) < 2.0
        assert abs(spiceypy.str2et(reported["stop_utc"].replace(" UTC", "")) - middle[-1]) < 2.0
        ranges = [float(np.linalg.norm(spiceypy.spkpos("JUNO", et, "IAU_IO", "NONE", "IO")[0])) for et in middle]
    assert abs(reported["min_range_km"] - min(ranges)) < 20.0


def test_scenario_movie_from_nothing_passes_closest_approach(tmp_path, capsys):
    import ioflyby.cli.movie_cmd  # noqa: F401
    from ioflyby.cli.app import main

    out = tmp_path / "flyby" / "pj57.mp4"
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(["movie", "--scenario", "pj57", "--out", str(out), "--frames", "13", "--window-s", "300",
              "--size", "320x240", "--json"])
    assert exited.value.code == 0
    reported = json.loads(capsys.readouterr().out)
    frames = _decoded_frames(out)
    assert len(frames) == 13 and frames[0].shape == (240, 320, 3)
    assert sorted(p.name for p in out.parent.iterdir()) == ["pj57.mp4"]  # no twin left beside it
    lit = [(f.max(axis=-1) > 40).mean() for f in frames]
    assert min(lit) > 0.02
    # the 7th of 13 frames is at C/A: the scenario puts Juno 1,500 km above Io's surface (radii
    # 1829.4, 1819.4, 1815.7 km: the surface at 45° latitude lies 1817-1823 km from the centre)
    scenario = simulate.get_scenario("pj57")
    assert reported["start_utc"] < scenario.ca_time_utc < reported["stop_utc"]
    assert abs(reported["min_range_km"] - (scenario.ca_altitude_km + 1820.0)) < 10.0
