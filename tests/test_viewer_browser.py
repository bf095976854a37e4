"""`ioflyby serve` in a real browser (Playwright driving headless Chromium) over a demo output:
tiles render where Io is, "Loki" flies to Loki Patera, a hot-spot popup shows the published
numbers, the swipe shows two different layers; the screenshot is taken in the test's folder and
copied to docs/images/viewer.png only when IOFLYBY_UPDATE_DOCS_IMAGES=1 (tests never write into
the source tree otherwise).

Truths: the published position of Loki Patera (13°N 309°W, IAU gazetteer), Davies et al. (2024)
Table A1 read by the catalogue's own reader from the shipped file, and the pixels each layer shows
alone (the swipe's left half must be layer A's pixels, its right half layer B's).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DOCS_IMAGE = Path(__file__).resolve().parents[1] / "docs" / "images" / "viewer.png"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (.ci/run installs it)")]


@pytest.fixture(scope="module")
def viewer_url(tmp_path_factory):
    import uvicorn

    from ioflyby.demo import DemoSettings, run_demo
    from ioflyby.viewer.app import create_app, server_config

    out = tmp_path_factory.mktemp("viewer-demo") / "run"
    run_demo(out, DemoSettings(map_width=384, comparisons=(), mosaic_resolution_km=12.0))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(server_config(create_app(out)))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, viewer_url):
    page = browser.new_page(viewport={"width": 1280, "height": 760})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(viewer_url)
    assert page.evaluate("window.ioflyby.ready") is True, page.evaluate("window.ioflyby.error")
    _settle(page)
    yield page
    assert errors == []
    page.close()


def _map_png(page) -> np.ndarray:
    from io import BytesIO

    from PIL import Image

    box = page.locator("#map").bounding_box()
    shot = page.screenshot(clip=box)
    return np.asarray(Image.open(BytesIO(shot)).convert("RGB")).astype(int)


def _settle(page):
    page.wait_for_timeout(100)
    page.wait_for_function("window.ioflyby.idle()", timeout=20_000)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(200)


def _container_point(page, lat: float, lon: float) -> tuple[float, float]:
    point = page.evaluate(f"(() => {{const p = window.ioflyby.map.latLngToContainerPoint([{lat}, {lon}]); "
                          "return [p.x, p.y];})()")
    box = page.locator("#map").bounding_box()
    return box["x"] + point[0], box["y"] + point[1]


def test_tiles_render_where_io_is(page):
    counts = page.evaluate("""(() => {
        const out = {};
        for (const [name, selector] of [["basemap", ".leaflet-tile-pane img.leaflet-tile-loaded"],
                                         ["maps", ".leaflet-maps-pane img.leaflet-tile-loaded"]]) {
          let opaque = 0, varied = new Set();
          for (const img of document.querySelectorAll(selector)) {
            const c = document.createElement("canvas"); c.width = img.naturalWidth; c.height = img.naturalHeight;
            const g = c.getContext("2d"); g.drawImage(img, 0, 0);
            const d = g.getImageData(0, 0, c.width, c.height).data;
            for (let i = 0; i < d.length; i += 4 * 97) { if (d[i + 3] > 0) { opaque++; varied.add(d[i] >> 3); } }
          }
          out[name] = {opaque, levels: varied.size, tiles: document.querySelectorAll(selector).length};
        }
        return out;
    })()""")
    assert counts["basemap"]["tiles"] >= 2 and counts["basemap"]["opaque"] > 1000 and counts["basemap"]["levels"] > 10
    assert counts["maps"]["tiles"] >= 2 and counts["maps"]["opaque"] > 500 and counts["maps"]["levels"] > 10
    # the screen shows Io where Io is: the map area is not black between the poles
    pixels = _map_png(page)
    top, bottom = (int(v) for v in (_container_point(page, 60, 0)[1], _container_point(page, -60, 0)[1]))
    box = page.locator("#map").bounding_box()
    band = pixels[top - int(box["y"]):bottom - int(box["y"])]
    assert (band.sum(axis=2) > 30).mean() > 0.95


def test_search_loki_flies_to_loki_patera(page):
    page.fill("#search-input", "Loki")
    page.click("#search button")
    page.wait_for_function("Math.abs(window.ioflyby.map.getCenter().lat - 13) < 1 && "
                           "Math.abs(window.ioflyby.map.getCenter().lng - 51) < 1", timeout=10_000)
    page.wait_for_timeout(900)  # the fly animation ends
    lat, lon = page.evaluate("[window.ioflyby.map.getCenter().lat, window.ioflyby.map.getCenter().lng]")
    assert lat == pytest.approx(13.0, abs=1.0)  # published: Loki Patera 13°N 309°W
    assert (-lon) % 360.0 == pytest.approx(309.0, abs=1.0)
    assert "309" in page.locator("#readout").inner_text() or "308" in page.locator("#readout").inner_text()
    assert page.locator("#search-results li").first.inner_text().startswith("Loki Patera")


def test_hot_spot_popup_shows_its_numbers(page):
    from ioflyby.volcano.catalogue import read_davies

    davies = read_davies()
    loki = davies[davies["name"] == "Loki P."].iloc[0]
    page.evaluate(f"window.ioflyby.map.setView([{loki.lat_deg}, {loki.lon_east_deg}], 6, {{animate: false}})")
    _settle(page)
    x, y = _container_point(page, loki.lat_deg, loki.lon_east_deg)
    page.mouse.click(x, y)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5_000)
    text = popup.inner_text()
    assert "Loki P." in text and "Davies et al. 2024" in text
    assert f"{loki.power_gw:,.0f}" in text  # 9,600 GW
    assert f"{loki.temperature_k:.0f}" in text
    area = loki.area_km2
    assert (f"{area:,.0f}" if area >= 100 else f"{area:.3g}") in text


def test_swipe_shows_two_different_layers(page):
    maps = page.evaluate("window.ioflyby.state.catalog.maps.map(m => [m.id, m.name])")
    mosaic = next(i for i, name in maps if "equirectangular" in name)
    page.evaluate("(() => { for (const b of document.querySelectorAll('#layers input[type=checkbox]')) "
                  "if (b.checked) b.click(); })()")
    page.evaluate("window.ioflyby.map.setView([20, 100], 3, {animate: false})")

    def alone(layer_id):
        page.evaluate(f"window.ioflyby.setSwipe(true, '{layer_id}', '{layer_id}', 0.5)")
        _settle(page)
        return _map_png(page)

    basemap_only, mosaic_only = alone("basemap"), alone(mosaic)
    page.select_option("#swipe-left", "basemap")
    page.select_option("#swipe-right", mosaic)
    page.check("#swipe-on")
    _settle(page)
    swiped = _map_png(page)
    width = swiped.shape[1]
    left, right = slice(40, width // 2 - 20), slice(width // 2 + 20, width - 40)
    rows = slice(40, swiped.shape[0] - 60)
    differs = np.abs(basemap_only - mosaic_only).sum(axis=2) > 30
    for side, truth, other in ((left, basemap_only, mosaic_only), (right, mosaic_only, basemap_only)):
        region = differs[rows, side]
        assert region.mean() > 0.2  # the two layers differ here: the test can tell them apart
        shown = swiped[rows, side][region]
        assert (np.abs(shown - truth[rows, side][region]).sum(axis=1) <= 12).mean() > 0.97
        assert (np.abs(shown - other[rows, side][region]).sum(axis=1) <= 12).mean() < 0.2
    assert page.locator("#swipe-divider").is_visible()


def test_gallery_and_flyby_tabs(page):
    page.click("#tabs button[data-tab=products]")
    cards = page.locator("#gallery .card")
    assert cards.count() == 3
    text = cards.first.inner_text()
    assert "2023-12-30" in text and "PJ57" in text and "good" in text and "IO" in text
    page.wait_for_function("[...document.querySelectorAll('#gallery img')].every(i => i.complete && i.naturalWidth > 0)")
    page.click("#tabs button[data-tab=flybys]")
    assert "pj57" in page.locator("#flybys table").inner_text()
    page.wait_for_function("[...document.querySelectorAll('#flybys img')].length === 3 && "
                           "[...document.querySelectorAll('#flybys img')].every(i => i.complete && i.naturalWidth > 0)")


def test_screenshot_for_the_docs(page, tmp_path):
    maps = page.evaluate("window.ioflyby.state.catalog.maps.map(m => [m.id, m.name])")
    ortho = next(i for i, name in maps if "orthographic" in name)
    page.evaluate(f"(() => {{ document.querySelector('input[data-layer=\"{ortho}\"]').click(); }})()")
    page.fill("#search-input", "Loki")
    page.click("#search button")
    page.wait_for_function("Math.abs(window.ioflyby.map.getCenter().lat - 13) < 1", timeout=10_000)
    page.evaluate("window.ioflyby.map.setView([25, 70], 3, {animate: false})")
    page.select_option("#swipe-left", "basemap")
    page.check("#swipe-on")
    _settle(page)
    time.sleep(0.3)
    shot = tmp_path / "viewer.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 50_000
    if os.environ.get("IOFLYBY_UPDATE_DOCS_IMAGES") == "1":
        shutil.copyfile(shot, DOCS_IMAGE)
