"""Files of a change detection: GeoJSON, before/after/difference PNGs, comparisons, crops, JSON.

Pictures: before (normalised to the after map's brightness) and after share one grey stretch
(0.5–99.5 percentiles of the after map's compared cells); the difference is ``z`` (the normalised
difference in units of its local scale) from −8 (blue, darker after) to +8 (red, brighter
after), no data grey. Outlines: real changes yellow, mosaic artefacts magenta. Previews are
reduced by whole factors to at most :data:`PREVIEW_WIDTH` cells wide.
"""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from ioflyby.errors import OutputError
from ioflyby.fileio import AtomicFiles, check_out, write_error

PREVIEW_WIDTH = 2048
GIF_WIDTH = 1024
CROP_MIN_SIDE = 320
REAL_COLOUR = np.array([255, 220, 0], np.uint8)
ARTEFACT_COLOUR = np.array([255, 0, 255], np.uint8)
NO_DATA_GREY = 90


def _stretch(values: np.ndarray, valid: np.ndarray, lo: float, hi: float) -> np.ndarray:
    scaled = np.clip((values - lo) / max(hi - lo, 1e-12), 0.0, 1.0) * 255.0
    return np.where(valid, scaled, NO_DATA_GREY).astype(np.uint8)


def _reduce(image: np.ndarray, factor: int, how: str = "mean") -> np.ndarray:
    if factor <= 1:
        return image
    h, w = image.shape[:2]
    hh, ww = h // factor * factor, w // factor * factor
    shaped = image[:hh, :ww].reshape(hh // factor, factor, ww // factor, factor, *image.shape[2:])
    return (shaped.max(axis=(1, 3)) if how == "max" else shaped.mean(axis=(1, 3))).astype(image.dtype)


def _diverging(z: np.ndarray, valid: np.ndarray) -> np.ndarray:
    from matplotlib import colormaps

    rgba = colormaps["coolwarm"](np.clip((z + 8.0) / 16.0, 0.0, 1.0), bytes=True)
    rgb = rgba[..., :3].copy()
    rgb[~valid] = NO_DATA_GREY
    return rgb


def _outlines(labels: np.ndarray, ids: set[int]) -> np.ndarray:
    if not ids:
        return np.zeros(labels.shape, bool)
    selected = np.isin(labels, list(ids))
    return selected & ~ndimage.binary_erosion(selected)


def _draw(rgb: np.ndarray, real: np.ndarray, artefact: np.ndarray) -> np.ndarray:
    out = rgb.copy()
    out[artefact] = ARTEFACT_COLOUR
    out[real] = REAL_COLOUR
    return out


def _grey_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey[..., None], 3, axis=2)


def _save_png(files: AtomicFiles, path: Path, array: np.ndarray) -> Path:
    Image.fromarray(np.ascontiguousarray(array)).save(files.path(path), format="PNG", compress_level=1,
                                                      compress_type=zlib.Z_RLE)
    return path


def _geojson(result) -> dict:
    features = []
    for group, items in (("change", result.changes), ("artefact", result.artefacts)):
        for rank, change in enumerate(items, start=1):
            props = change.to_json()
            props.update({"group": group, "rank": rank})
            features.append({"type": "Feature", "properties": props,
                             "geometry": {"type": "Polygon", "coordinates": [change.polygon]}})
    return {"type": "FeatureCollection",
            "coordinate_convention": "[east-positive longitude, planetocentric latitude] in degrees on Io's IAU "
                                     "sphere (IAU_2015:50100); longitudes continuous across 0/360 within a polygon",
            "crs_note": "not WGS84: coordinates are Io body-fixed (IAU_2015:50100)",
            "features": features}


def _crop(result, change, stretch: tuple[float, float]) -> np.ndarray:
    """before | after around ``change`` (outline drawn), enlarged to at least CROP_MIN_SIDE."""
    rows, cols = np.nonzero(result.labels == change.id)
    h, w = result.labels.shape
    half = int(max(np.ptp(rows), np.ptp(cols), 24)) + 8
    rc, cc = int(rows.mean()), int(cols.mean())
    r0, r1 = max(rc - half, 0), min(rc + half + 1, h)
    c0, c1 = max(cc - half, 0), min(cc + half + 1, w)
    valid = result.valid[r0:r1, c0:c1]
    outline = _outlines(result.labels[r0:r1, c0:c1], {change.id})
    panels = []
    for values in (result.before, result.after):
        grey = _grey_rgb(_stretch(values[r0:r1, c0:c1], valid, *stretch))
        panels.append(grey)
    marked = _draw(panels[1], outline, np.zeros_like(outline)) if change.artefact is None else _draw(
        panels[1], np.zeros_like(outline), outline)
    gap = np.full((panels[0].shape[0], 4, 3), 255, np.uint8)
    image = np.concatenate([panels[0], gap, panels[1], gap, marked], axis=1)
    scale = max(1, math.ceil(CROP_MIN_SIDE / image.shape[0]))
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def write_outputs(result, out: Path, crops: int = 8) -> list[Path]:
    """Write every file of ``result`` into ``out`` as one atomic set (see the module docstring)."""
    from ioflyby.volcano.change import mosaic_vrt_text

    out = check_out(out)
    valid = result.valid
    sample = result.after[valid][:: max(1, int(valid.sum()) // 200_000)]
    stretch = (float(np.percentile(sample, 0.5)), float(np.percentile(sample, 99.5))) if sample.size else (0.0, 1.0)
    factor = max(1, math.ceil(result.grid.width / PREVIEW_WIDTH))
    real_ids = {c.id for c in result.changes}
    artefact_ids = {c.id for c in result.artefacts}
    real_line = _reduce(_outlines(result.labels, real_ids), factor, "max")
    artefact_line = _reduce(_outlines(result.labels, artefact_ids), factor, "max")
    small_valid = _reduce(valid.astype(np.uint8), factor, "max").astype(bool)
    before = _stretch(_reduce(result.before, factor), small_valid, *stretch)
    after = _stretch(_reduce(result.after, factor), small_valid, *stretch)
    difference = _diverging(_reduce(result.z, factor), small_valid)
    paths: list[Path] = []
    try:
        with AtomicFiles() as files:
            paths.append(_save_png(files, out / "before.png", before))
            paths.append(_save_png(files, out / "after.png", after))
            paths.append(_save_png(files, out / "difference.png", _draw(difference, real_line, artefact_line)))
            gap = np.full((before.shape[0], 6, 3), 255, np.uint8)
            side = np.concatenate([_grey_rgb(before), gap, _draw(_grey_rgb(after), real_line, artefact_line), gap,
                                   _draw(difference, real_line, artefact_line)], axis=1)
            paths.append(_save_png(files, out / "comparison.png", side))
            gif_factor = max(1, math.ceil(before.shape[1] / GIF_WIDTH))
            frames = [Image.fromarray(_reduce(_draw(_grey_rgb(x), real_line, artefact_line), gif_factor))
                      for x in (before, after)]
            gif = out / "comparison.gif"
            frames[0].save(files.path(gif), format="GIF", save_all=True, append_images=frames[1:], duration=700,
                           loop=0)
            paths.append(gif)
            for rank, change in enumerate(result.changes[:crops], start=1):
                paths.append(_save_png(files, out / f"change_{rank:02d}.png", _crop(result, change, stretch)))
            for rank, change in enumerate(result.artefacts[: max(0, crops // 2)], start=1):
                paths.append(_save_png(files, out / f"artefact_{rank:02d}.png", _crop(result, change, stretch)))
            for role in ("before", "after"):
                info = result.inputs.get(role, {})
                if info.get("mosaic"):
                    vrt = out / f"{role}_georeference.vrt"
                    files.path(vrt).write_text(mosaic_vrt_text(info["path"]), encoding="utf-8")
                    paths.append(vrt)
            geojson = out / "changes.geojson"
            files.path(geojson).write_text(json.dumps(_geojson(result)) + "\n", encoding="utf-8")
            paths.append(geojson)
            record = out / "changes.json"
            paths.append(record)
            result.outputs = paths
            files.path(record).write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise write_error(out, exc) from None
    except ValueError as exc:
        raise OutputError(f"cannot write the change outputs into {out}: {exc}") from None
    return paths
