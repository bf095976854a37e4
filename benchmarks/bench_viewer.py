"""`ioflyby serve` under load: startup time of the CLI, and 200 concurrent tile requests from a
bounded local client (httpx async, at most --concurrency connections) against a uvicorn server on
an OS-chosen port. Prints per-tile latency percentiles and the error count against the targets
(startup < 2 s; 200 requests with no error; p95 reported), and the tile matrix set comparison
behind docs/viewer.md (planetcantile's IoGeographicSphere vs a custom morecantile TMS on
IAU_2015:50100).

    python benchmarks/bench_viewer.py [DIR] [--requests 200] [--concurrency 32]

DIR: a folder of ioflyby outputs (default: a small demo output built in a temporary folder).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

STARTUP_TARGET_S = 2.0


def demo_folder(tmp: Path) -> Path:
    from ioflyby.demo import DemoSettings, run_demo

    out = tmp / "demo"
    run_demo(out, DemoSettings(map_width=1024, comparisons=()))
    return out


def cli_startup_seconds(folder: Path) -> float:
    """Seconds from launching ``ioflyby serve DIR --port 0`` to its first answer to GET /api/info."""
    import httpx

    code = ("import ioflyby.cli.serve_cmd; from ioflyby.cli.app import main; "
            f"main(['serve', {str(folder)!r}, '--port', '0'])")
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        url = line[line.index("http://"):].split()[0]
        printed = time.perf_counter() - start
        httpx.get(url + "api/info", timeout=30).raise_for_status()
        answered = time.perf_counter() - start
    finally:
        process.terminate()
        process.wait(10)
    print(f"startup: URL printed after {printed:.2f} s, first answer after {answered:.2f} s "
          f"(target < {STARTUP_TARGET_S} s: {'met' if answered < STARTUP_TARGET_S else 'MISSED'})")
    return answered


def serve_in_thread(folder: Path):
    import uvicorn

    from ioflyby.viewer.app import create_app, server_config

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    server = uvicorn.Server(server_config(create_app(folder)))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}"


def tile_urls(catalog: dict, count: int, rng: random.Random) -> list[str]:
    """``count`` tile URLs over every map and the basemap, zooms 0..6, inside each map's bounds."""
    layers = [("basemap", (-180.0, -90.0, 180.0, 90.0))] + [(m["id"], m["bounds"]) for m in catalog["maps"] if m["bounds"]]
    urls = []
    while len(urls) < count:
        layer, (west, south, east, north) = rng.choice(layers)
        z = rng.randint(0, 6)
        cell = 360.0 / 512 / 2 ** z
        lon = rng.uniform(west, min(east, west + 359.9))
        lat = rng.uniform(south, north)
        x = int(((lon + 180.0) % 360.0) / cell) // 256
        y = min(int((90.0 - lat) / cell) // 256, 2 ** z - 1)
        urls.append(f"/tiles/{layer}/{z}/{x}/{y}.png")
    return urls


async def fetch_all(base: str, urls: list[str], concurrency: int) -> tuple[list[float], list[str]]:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies, errors = [], []
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        async def one(url):
            async with gate:
                start = time.perf_counter()
                try:
                    response = await client.get(url)
                    if response.status_code != 200 or not response.content.startswith(b"\x89PNG"):
                        errors.append(f"{url}: HTTP {response.status_code}")
                except httpx.HTTPError as exc:
                    errors.append(f"{url}: {type(exc).__name__}")
                latencies.append(time.perf_counter() - start)

        await asyncio.gather(*(one(url) for url in urls))
    return latencies, errors


def tms_comparison() -> None:
    """planetcantile's Io TMS vs a custom morecantile TMS built from IAU_2015:50100: same grid?
    and the time to build each."""
    import morecantile
    from planetcantile import planetary_tms
    from pyproj import CRS

    start = time.perf_counter()
    planet = planetary_tms.get("IoGeographicSphere")
    planet_s = time.perf_counter() - start
    start = time.perf_counter()
    custom = morecantile.TileMatrixSet.custom([-180.0, -90.0, 180.0, 90.0], CRS.from_user_input("IAU_2015:50100"),
                                              matrix_scale=[2, 1], id="IAU_2015_50100")
    custom_s = time.perf_counter() - start
    worst = 0.0
    for z in range(0, 8):
        for x, y in ((0, 0), (2 ** (z + 1) - 1, 2 ** z - 1), (2 ** z, 2 ** (z - 1) if z else 0)):
            a, b = planet.xy_bounds(x, y, z), custom.xy_bounds(x, y, z)
            worst = max(worst, *(abs(p - q) for p, q in zip(a, b)))
    same_sphere = planet.crs._pyproj_crs.ellipsoid.semi_major_metre == CRS.from_user_input("IAU_2015:50100").ellipsoid.semi_major_metre
    print(f"TMS: planetcantile IoGeographicSphere built in {planet_s * 1e3:.1f} ms, custom morecantile TMS on "
          f"IAU_2015:50100 in {custom_s * 1e3:.1f} ms; largest tile-bound difference z 0..7: {worst:.2e} deg; "
          f"same sphere (R = {planet.crs._pyproj_crs.ellipsoid.semi_major_metre:.0f} m): {same_sphere}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or demo_folder(Path(tmp))
        tms_comparison()
        startup = cli_startup_seconds(folder)
        server, thread, base = serve_in_thread(folder)
        try:
            while not server.started:
                time.sleep(0.05)
            catalog = httpx.get(base + "/api/catalog", timeout=60).json()
            httpx.get(base + "/tiles/basemap/0/0/0.png", timeout=60)  # the basemap is built once, in the background
            urls = tile_urls(catalog, args.requests, random.Random(17))
            start = time.perf_counter()
            latencies, errors = asyncio.run(fetch_all(base, urls, args.concurrency))
            wall = time.perf_counter() - start
        finally:
            server.should_exit = True
            thread.join(10)
    ms = np.array(latencies) * 1e3
    result = {"requests": len(urls), "concurrency": args.concurrency, "errors": len(errors), "wall_s": round(wall, 3),
              "tiles_per_s": round(len(urls) / wall, 1), "p50_ms": round(float(np.percentile(ms, 50)), 1),
              "p95_ms": round(float(np.percentile(ms, 95)), 1), "max_ms": round(float(ms.max()), 1),
              "startup_s": round(startup, 3), "maps": len(catalog["maps"])}
    print(f"{len(urls)} tile requests, at most {args.concurrency} at once, over {result['maps']} maps + basemap: "
          f"{len(errors)} errors (target 0: {'met' if not errors else 'MISSED'}), {wall:.2f} s wall, "
          f"{result['tiles_per_s']} tiles/s; latency per tile p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
          f"max {result['max_ms']} ms")
    for line in errors[:5]:
        print("  error:", line)
    if args.json:
        print(json.dumps(result))
    return 0 if not errors and startup < STARTUP_TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
