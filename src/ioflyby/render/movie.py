"""Flyby movies: frames along a trajectory (the twin's basemap seen from the spacecraft) or from a
sequence of rendered products, with time and range on each frame, encoded to H.264 MP4 by
imageio-ffmpeg.

Twin frames: per frame, SPICE gives the spacecraft's body-fixed position and the Sun's direction
(once per frame, never per pixel); a numba kernel casts every pixel's ray of the north-up
spacecraft view (:func:`ioflyby.render.view.view_point`) onto the ellipsoid, samples the basemap
(bilinear, equirectangular from 0°E) and shades it (Lambert, cos i). Product frames: each product
rendered by :func:`ioflyby.render.pipeline.render`, letter-boxed into the frame size and held for
``hold`` frames.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import spiceypy
from numba import prange
from PIL import Image, ImageDraw

from ioflyby._numba import jit
from ioflyby.errors import GeometryError
from ioflyby.fileio import AtomicFiles, check_out
from ioflyby.geometry import Body
from ioflyby.render.output import _font
from ioflyby.render.view import View, spacecraft_view
from ioflyby.simulate.basemap import Basemap
from ioflyby.spice import Kernels, spice_errors


@dataclass
class MovieResult:
    """What :func:`twin_movie` / :func:`product_movie` made. ``to_json()`` is ``ioflyby movie --json``."""

    path: Path
    frames: int
    size: tuple[int, int]
    fps: int
    seconds: float
    start_utc: str
    stop_utc: str
    min_range_km: float

    def to_json(self) -> dict:
        return {"output": str(self.path), "frames": self.frames, "size": list(self.size), "fps": self.fps,
                "seconds": round(self.seconds, 3), "start_utc": self.start_utc, "stop_utc": self.stop_utc,
                "min_range_km": self.min_range_km}


GAMMA = 2.2
GAMMA_LUT = np.rint(255.0 * np.linspace(0.0, 1.0, 65536) ** (1.0 / GAMMA)).astype(np.uint8)
"""Display value in [0, 1] (65536 steps) → 8-bit code with gamma 1/2.2."""
NEAR_LIMB_S2 = 0.05
"""Rays with sin²(limb angle) − sin²(ray angle) below this get the exact limb distance (taper)."""


@jit(parallel=True)
def shade_frame(params, radii, height, width, albedo, sun, gain, lut, out):
    """``out`` [row, col, 3] uint8: the spacecraft view (:func:`ioflyby.render.view.spacecraft_view`
    ``params``) of basemap ``albedo`` [3, rows, cols] (RGB, equirectangular from 0°E, top 90°N)
    × max(cos i, 0) × ``gain`` through the gamma table ``lut``; black off the disc. Only rows and
    columns inside the disc's bounding circle are ray-cast; the 1.5-px limb taper is computed
    exactly (the clearance angle of :func:`ioflyby.render.view._ray_ellipsoid`) in a thin ring."""
    rows, cols = albedo.shape[1], albedo.shape[2]
    a, b, c = radii[0], radii[1], radii[2]
    ox, oy, oz = params[0], params[1], params[2]
    f, cx, cy = params[12], params[13], params[14]
    sox, soy, soz = ox / a, oy / b, oz / c
    oo = sox * sox + soy * soy + soz * soz
    half = math.asin(min(1.0, max(a, b, c) / math.sqrt(ox * ox + oy * oy + oz * oz)))
    reach = f * math.tan(min(half, 1.5)) + 3.0
    limb_angle = math.asin(min(1.0, 1.0 / math.sqrt(oo)))
    n_lut = lut.shape[0] - 1
    for row in prange(height):
        dy_px = row - cy
        for k in range(3):
            for col in range(width):
                out[row, col, k] = 0
        if abs(dy_px) > reach:
            continue
        half_w = math.sqrt(reach * reach - dy_px * dy_px)
        c0 = max(0, int(cx - half_w))
        c1 = min(width, int(cx + half_w) + 2)
        v = dy_px / f
        for col in range(c0, c1):
            u = (col - cx) / f
            dx = params[3] * u + params[6] * v + params[9]
            dy = params[4] * u + params[7] * v + params[10]
            dz = params[5] * u + params[8] * v + params[11]  # unnormalised: o + t·d is the same point
            sdx, sdy, sdz = dx / a, dy / b, dz / c
            dd = sdx * sdx + sdy * sdy + sdz * sdz
            od = sox * sdx + soy * sdy + soz * sdz
            disc = od * od - dd * (oo - 1.0)
            if disc < 0.0:
                continue
            taper = 1.0
            if disc < NEAR_LIMB_S2 * dd * oo:
                clearance = limb_angle - math.acos(min(1.0, max(-1.0, -od / math.sqrt(dd * oo))))
                if clearance < 0.0:
                    continue
                taper = min(1.0, clearance * f * (1.0 + u * u + v * v) / 1.5)
            t = (-od - math.sqrt(disc)) / dd
            px, py, pz = ox + t * dx, oy + t * dy, oz + t * dz
            nx, ny, nz = px / (a * a), py / (b * b), pz / (c * c)
            cos_i = (nx * sun[0] + ny * sun[1] + nz * sun[2]) / math.sqrt(nx * nx + ny * ny + nz * nz)
            light = max(cos_i, 0.0) * gain * taper
            if light <= 0.0:
                continue
            lat = math.asin(pz / math.sqrt(px * px + py * py + pz * pz))
            lon = math.atan2(py, px) % (2.0 * math.pi)
            x = lon * cols / (2.0 * math.pi) - 0.5
            y = (math.pi / 2.0 - lat) * rows / math.pi - 0.5
            x0 = int(math.floor(x))
            y0 = min(max(int(math.floor(y)), 0), rows - 2)
            fx, fy = x - x0, min(max(y - y0, 0.0), 1.0)
            x0 %= cols
            x1 = (x0 + 1) % cols
            for k in range(3):
                top = albedo[k, y0, x0] * (1 - fx) + albedo[k, y0, x1] * fx
                bottom = albedo[k, y0 + 1, x0] * (1 - fx) + albedo[k, y0 + 1, x1] * fx
                value = min(1.0, (top * (1 - fy) + bottom * fy) * light)
                out[row, col, k] = lut[int(value * n_lut + 0.5)]


def _stamp(frame: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    """Write ``lines`` (light grey) into the top-left corner of ``frame`` in place; returns it."""
    size = max(14, frame.shape[0] // 40)
    font = _font(size)
    step = int(size * 1.4)
    box_w = min(frame.shape[1], int(size * 0.75 * max(len(t) for t in lines)) + 2 * size)
    box_h = min(frame.shape[0], size + step * len(lines) + size // 2)
    mask = Image.new("L", (box_w, box_h), 0)
    draw = ImageDraw.Draw(mask)
    for i, text in enumerate(lines):
        draw.text((size, size + i * step), text, fill=255, font=font)
    alpha = np.asarray(mask, np.float32)[..., None] / 255.0
    region = frame[:box_h, :box_w]
    region[:] = np.rint(region * (1.0 - alpha) + 235.0 * alpha).astype(np.uint8)
    return frame


def _writer(path: Path, fps: int, size: tuple[int, int]):
    """An imageio-ffmpeg H.264 writer (libx264, preset ``veryfast``, CRF-like quality 7, yuv420p)
    that takes C-contiguous uint8 [row, col, 3] arrays (written to ffmpeg's pipe without a copy)."""
    import imageio_ffmpeg

    writer = imageio_ffmpeg.write_frames(str(path), size, fps=fps, codec="libx264", quality=7,
                                         pix_fmt_out="yuv420p", macro_block_size=8, output_params=["-preset", "veryfast"])
    writer.send(None)
    return writer


def twin_movie(kernels: Sequence[str | Path], basemap: Basemap, out: str | Path, start_et: float, stop_et: float,
               frames: int = 300, size: tuple[int, int] = (1920, 1080), fps: int = 30, target: str = "IO",
               observer: str = "JUNO", progress: Callable[[int, int], None] | None = None) -> MovieResult:
    """A movie of ``frames`` frames from ``start_et`` to ``stop_et`` (s past J2000 TDB) of the
    north-up spacecraft view of ``basemap`` (kernels: the twin's metakernel)."""
    if frames < 1 or not stop_et > start_et:
        raise GeometryError("a movie needs at least one frame and a stop time after its start")
    path = Path(out)
    check_out(path.parent)
    began = time.perf_counter()
    albedo = np.ascontiguousarray(np.stack([basemap.bands[n] for n in ("RED", "GREEN", "BLUE")]), np.float32)
    width, height = size
    frame = np.empty((height, width, 3), np.uint8)
    ranges = []
    with Kernels(kernels), AtomicFiles() as staged:
        body = Body.from_spice(target)
        writer = _writer(staged.path(path), fps, size)
        try:
            for i, et in enumerate(np.linspace(start_et, stop_et, frames)):
                with spice_errors(f"locating {observer} and the Sun from {target}"):
                    position = np.asarray(spiceypy.spkpos(observer, et, body.frame, "LT+S", target)[0])
                    sun = np.asarray(spiceypy.spkpos("SUN", et, body.frame, "LT+S", target)[0])
                    utc = spiceypy.et2utc(et, "ISOC", 1)
                view: View = spacecraft_view(body, position, 1.0, size)
                shade_frame(view.params, view.radii_km, height, width, albedo, sun / np.linalg.norm(sun), 1.6,
                            GAMMA_LUT, frame)
                distance = float(np.linalg.norm(position))
                ranges.append(distance)
                altitude = distance - float(np.mean(body.radii_km))
                writer.send(_stamp(frame, [f"{utc} UTC", f"{observer} range {distance:,.0f} km, altitude {altitude:,.0f} km",
                                           f"{view.km_per_px:.2f} km/px at the disc centre"]))
                if progress:
                    progress(i + 1, frames)
        finally:
            writer.close()
        start_utc = spiceypy.et2utc(start_et, "ISOC", 1)
        stop_utc = spiceypy.et2utc(stop_et, "ISOC", 1)
    return MovieResult(path, frames, size, fps, time.perf_counter() - began, start_utc, stop_utc, float(min(ranges)))


def product_movie(products: Sequence[str | Path], kernels: Sequence[str | Path], out: str | Path,
                  size: tuple[int, int] = (1920, 1080), fps: int = 30, hold: int = 15, enhance: str = "gill",
                  progress: Callable[[int, int], None] | None = None) -> MovieResult:
    """A movie of ``products`` in order, each rendered in its spacecraft view and held ``hold``
    frames, with its time and range stamped."""
    from ioflyby.render.pipeline import RenderOptions, render

    path = Path(out)
    check_out(path.parent)
    began = time.perf_counter()
    width, height = size
    side = min(width, height)
    times, ranges = [], []
    with AtomicFiles() as staged:
        writer = _writer(staged.path(path), fps, size)
        try:
            for i, product in enumerate(products):
                result = render([product], kernels, None, RenderOptions(size=(side, side), enhance=enhance))
                caption = result.record["caption"]
                times.append(caption["time_utc"])
                ranges.append(caption["range_km"])
                frame = np.zeros((height, width, 3), np.uint8)
                left, top = (width - side) // 2, (height - side) // 2
                frame[top:top + side, left:left + side] = np.rint(np.clip(result.image, 0, 1) * 255).astype(np.uint8)
                frame = _stamp(frame, [caption["time_utc"], f"range {caption['range_km']:,.0f} km",
                                       f"{result.products[0]}"])
                for _ in range(hold):
                    writer.send(frame)
                if progress:
                    progress(i + 1, len(products))
        finally:
            writer.close()
    if not times:
        raise GeometryError("no product to make a movie of")
    return MovieResult(path, hold * len(times), size, fps, time.perf_counter() - began, times[0], times[-1],
                       float(min(ranges)))


KERNEL_TWIN_IMAGE = dict(offset_s=0.0, n_exposures=1, filters=("GREEN",))
"""The one small image of the kernels-only twin a scenario movie builds for itself."""


def scenario_movie(scenario: str, out: str | Path, kernels: Sequence[str | Path] | None = None,
                   half_window_s: float = 600.0, frames: int = 300, size: tuple[int, int] = (1920, 1080),
                   fps: int = 30, basemap: Basemap | None = None, progress: Callable[[int, int], None] | None = None,
                   on_stage: Callable[[str], None] | None = None) -> MovieResult:
    """A movie along twin scenario ``scenario``'s trajectory, ``half_window_s`` seconds either side
    of its C/A. ``kernels``: an existing twin's metakernel; without it the scenario's kernels are
    built (:func:`ioflyby.simulate.build_twin`, one one-framelet image) in a temporary folder that
    is removed afterwards. ``basemap`` None: the twin's default."""
    import tempfile

    from ioflyby import simulate

    spec = simulate.get_scenario(scenario)
    basemap = basemap if basemap is not None else simulate.load_basemap()
    if kernels:
        with Kernels(kernels):
            start, stop = scenario_window(spec.name, half_window_s)
        return twin_movie(kernels, basemap, out, start, stop, frames, size, fps, target=spec.target, progress=progress)
    check_out(Path(out).parent)
    with tempfile.TemporaryDirectory(prefix="ioflyby_movie_twin_") as scratch:
        if on_stage:
            on_stage("building the twin's kernels")
        options = simulate.TwinOptions(images=(simulate.PlannedImage(**KERNEL_TWIN_IMAGE),),
                                       window_s=max(simulate.TwinOptions.window_s, half_window_s + 60.0))
        twin = simulate.build_twin(spec.name, Path(scratch) / "twin", options)
        metakernel = [twin.truth_metakernel]
        with Kernels(metakernel):
            start, stop = scenario_window(spec.name, half_window_s)
        if on_stage:
            on_stage("frames")
        return twin_movie(metakernel, basemap, out, start, stop, frames, size, fps, target=spec.target,
                          progress=progress)


def scenario_window(name: str, half_window_s: float) -> tuple[float, float]:
    """(start, stop) ET around scenario ``name``'s C/A (leap seconds loaded)."""
    from ioflyby.simulate import get_scenario

    ca = spiceypy.str2et(get_scenario(name).ca_time_utc)
    return ca - half_window_s, ca + half_window_s


def frame_seconds_per_pixel(result: MovieResult) -> float:
    """Seconds per frame per megapixel (for benchmarks)."""
    return result.seconds / result.frames / (result.size[0] * result.size[1] / 1e6) if result.frames else math.nan
