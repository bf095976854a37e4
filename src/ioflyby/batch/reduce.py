"""Reductions after the per-product tasks: a global mosaic of every product and one per epoch,
built from the per-product linear GeoTIFFs without holding them in memory together.

Method (streaming, windowed): the mosaic is a global equirectangular grid on the body's IAU
sphere (:meth:`ioflyby.mapping.MapGrid.equirectangular`). Each product map is opened alone, read
once at a coarse scale through a GDAL warped view (``rasterio.vrt.WarpedVRT``) onto the mosaic
grid to find which rows it covers; then the mosaic is written strip by strip (``block_rows``
rows): for each strip, each product covering it is warped onto that window only (bilinear;
cells a product did not see are NaN and carry no weight) and each channel of a cell takes the
mean of the products that saw it in that channel (a filter's framelets see other ground than the
next filter's). Peak memory: one strip × channels × 2 plus one product's
warped window — independent of the number of products. Channels are linear (DN, or DN/s when
calibrated), as the maps' ``_linear.tif``; no brightness matching between products.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ioflyby.fileio import AtomicFiles, inside

DEFAULT_BLOCK_ROWS = 128
_FOOTPRINT_SCALE = 8


@dataclass(frozen=True)
class MosaicResult:
    """A mosaic written: its path, the products in it, cells seen (fraction) and grid summary."""

    name: str
    path: Path
    products: list[str]
    coverage_fraction: float
    grid: dict

    def to_json(self) -> dict:
        return {"name": self.name, "path": str(self.path), "products": self.products,
                "coverage_fraction": round(self.coverage_fraction, 6), "grid": self.grid}


def mosaic_grid(body: dict, resolution_km: float):
    """The global equirectangular grid of ``body`` (a record's ``body``: name, naif_id, radii_km, frame)."""
    from ioflyby.geometry import Body
    from ioflyby.mapping.grid import MapGrid

    return MapGrid.equirectangular(Body(body["name"], int(body["naif_id"]), np.asarray(body["radii_km"], float),
                                        body["frame"]), resolution_km=resolution_km)


def _band_names(path: Path) -> list[str]:
    import rasterio

    with rasterio.open(path) as src:
        return [(d or f"band{i}").split(",")[0].replace("JunoCam ", "") for i, d in enumerate(src.descriptions, 1)]


def _warped(src, grid):
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT

    return WarpedVRT(src, crs=grid.crs, transform=grid.transform, width=grid.width, height=grid.height,
                     resampling=Resampling.bilinear, src_nodata=np.nan, nodata=np.nan, dtype="float32")


def footprint_rows(path: Path, grid) -> tuple[int, int] | None:
    """First and last mosaic rows (inclusive) that the map at ``path`` may cover, from a coarse
    warped read (one product in memory, at 1/8 scale); None when it covers none."""
    import rasterio

    height = max(1, grid.height // _FOOTPRINT_SCALE)
    width = max(1, grid.width // _FOOTPRINT_SCALE)
    with rasterio.open(path) as src, _warped(src, grid) as vrt:
        coarse = vrt.read(out_shape=(vrt.count, height, width))
    rows = np.flatnonzero(np.isfinite(coarse).any(axis=(0, 2)))
    if rows.size == 0:
        return None
    scale = grid.height / height
    first = max(0, int((rows[0] - 1) * scale))
    last = min(grid.height - 1, int((rows[-1] + 2) * scale))
    return first, last


def stream_mosaic(sources: Sequence[Path], grid, path: Path, target: str,
                  block_rows: int = DEFAULT_BLOCK_ROWS) -> float:
    """Write the mean of the linear maps ``sources`` on ``grid`` to ``path`` (float32 GeoTIFF, one
    band per channel, NaN where no product saw the cell), strip by strip; returns the fraction
    of cells seen."""
    import rasterio
    from rasterio.windows import Window

    from ioflyby.mapping.export import grid_tags

    names = _band_names(sources[0])
    footprints = [(source, footprint_rows(source, grid)) for source in sources]
    footprints = [(s, rows) for s, rows in footprints if rows is not None]
    profile = {"driver": "GTiff", "dtype": "float32", "count": len(names), "width": grid.width,
               "height": grid.height, "crs": grid.crs, "transform": grid.transform, "nodata": np.nan,
               "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate", "predictor": 3}
    seen = 0
    with AtomicFiles() as files:
        staged = files.path(path)
        with rasterio.open(staged, "w", **profile) as dst:
            for index, name in enumerate(names, 1):
                dst.set_band_description(index, f"JunoCam {name}, linear, mean of the products that saw the cell")
            dst.update_tags(**grid_tags(grid, target, {"MOSAIC": {"products": len(sources),
                                                                  "method": "streaming mean (ioflyby.batch.reduce)"}}))
            for top in range(0, grid.height, block_rows):
                rows = min(block_rows, grid.height - top)
                window = Window(0, top, grid.width, rows)
                total = np.zeros((len(names), rows, grid.width), np.float64)
                count = np.zeros((len(names), rows, grid.width), np.float64)
                for source, (first, last) in footprints:
                    if last < top or first >= top + rows:
                        continue
                    with rasterio.open(source) as src, _warped(src, grid) as vrt:
                        data = vrt.read(window=window)
                    ok = np.isfinite(data)
                    total += np.where(ok, data, 0.0)
                    count += ok
                mean = np.where(count > 0, total / np.where(count > 0, count, 1.0), np.nan).astype(np.float32)
                seen += int((count > 0).any(axis=0).sum())
                dst.write(mean, window=window)
    return seen / float(grid.width * grid.height)


def build_mosaics(records: Sequence[tuple[dict, Path]], out: Path, resolution_km: float,
                  block_rows: int = DEFAULT_BLOCK_ROWS) -> list[MosaicResult]:
    """The global mosaic (``mosaics/global_equirectangular.tif``) of every done product with a
    linear map, and one per epoch (``mosaics/<epoch>_equirectangular.tif``), per target."""
    linear = [(r, folder / r["map"]["files"]["linear"]) for r, folder in records
              if (r.get("map") or {}).get("files", {}).get("linear")]
    results = []
    by_target: dict[str, list] = {}
    for r, path in linear:
        by_target.setdefault(r["body"]["name"], []).append((r, path))
    for target, members in sorted(by_target.items()):
        grid = mosaic_grid(members[0][0]["body"], resolution_km)
        prefix = "" if len(by_target) == 1 else f"{target.lower()}_"
        sets = {f"{prefix}global": members}
        for r, path in members:
            sets.setdefault(f"{prefix}{r['epoch']}", []).append((r, path))
        for name, chosen in sets.items():
            chosen = sorted(chosen, key=lambda rp: (rp[0]["time_utc"], rp[0]["product_id"]))
            path = inside(out / "mosaics", f"{name}_equirectangular.tif")
            fraction = stream_mosaic([p for _, p in chosen], grid, path, target, block_rows)
            results.append(MosaicResult(name, path, [r["product_id"] for r, _ in chosen], fraction, grid.describe()))
    return results
