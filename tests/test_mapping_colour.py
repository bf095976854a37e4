"""Colour stage and export against independent truth: the display formula evaluated in float64
numpy, percentiles of the full (unsampled) data, and what is on disk after a failed write."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from PIL import Image

from ioflyby.errors import GeometryError, IoflybyError
from ioflyby.mapping import colour, export
from ioflyby.mapping.crs import body_crs
from ioflyby.mapping.grid import equirectangular_grid

NAMES = ("BLUE", "GREEN", "RED")


@pytest.fixture(scope="module")
def channels():
    rng = np.random.default_rng(7)
    shape = (300, 420)
    base = rng.gamma(4.0, 200.0, shape)
    out = {name: (base * factor).astype(np.float32) for name, factor in zip(NAMES, (0.5, 0.8, 1.0))}
    out["BLUE"][rng.random(shape) < 0.05] = np.nan  # cells one filter missed
    out["RED"][:20] = np.nan
    return out


def _truth(channels, stretch, bits, names):
    """The module's display formula in float64, rounded half up, and the alpha band."""
    top = 2**bits - 1
    planes = []
    for name in names:
        value = channels[name].astype(np.float64) * stretch.gains[name]
        display = np.clip((value - stretch.black) / (stretch.white - stretch.black), 0.0, 1.0) ** (1.0 / stretch.gamma)
        planes.append(np.where(np.isnan(display), 0, np.floor(np.nan_to_num(display) * top + 0.5)))
    valid = np.all([np.isfinite(channels[n]) for n in names], axis=0)
    return np.array(planes), np.where(valid, top, 0)


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("gamma", [1.0, 2.2])
def test_render_matches_display_formula(channels, bits, gamma):
    stretch = colour.Stretch({"BLUE": 2.0, "GREEN": 1.25, "RED": 1.0}, 150.0, 1500.0, gamma)
    bands, alpha, names = colour.render(channels, stretch, bits)
    assert names == ["RED", "GREEN", "BLUE"]
    assert bands.dtype == alpha.dtype == (np.uint8 if bits == 8 else np.uint16)
    truth, truth_alpha = _truth(channels, stretch, bits, names)
    # float32 arithmetic: at most one count off, and only where the value sits on a rounding edge
    diff = np.abs(bands.astype(np.int64) - truth)
    assert diff.max() <= 1 and diff.mean() < 0.01
    assert np.array_equal(alpha, truth_alpha)
    assert bands[2][np.isnan(channels["BLUE"])].max() == 0
    if gamma == 1.0:  # the float stack route gives the same integers
        stack, _ = colour.compose(channels, stretch)
        assert np.array_equal(colour.to_integer(stack, bits)[0], bands)
    with pytest.raises(GeometryError, match="bit depth"):
        colour.render(channels, stretch, 12)


def test_to_integer_rounds_clips_and_marks_missing():
    stack = np.array([[[0.0, 0.5, 1.0, np.nan, 1.7, -0.2]], [[1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]], np.float32)
    bands, alpha = colour.to_integer(stack, 8)
    assert bands[0, 0].tolist() == [0, 128, 255, 0, 255, 0]
    assert alpha[0].tolist() == [255, 255, 255, 0, 255, 255]


def test_fit_stretch_percentiles_of_the_full_data(channels):
    mask = np.ones(channels["RED"].shape, bool)
    mask[:, :50] = False
    stretch = colour.fit_stretch(channels, mask, "auto", (0.5, 99.8))
    # Channels are scaled copies of one field: auto white balance undoes the scale exactly
    # (up to the NaN cells of BLUE, which are a random 5 %).
    assert stretch.gains["RED"] == pytest.approx(1.0)
    assert stretch.gains["GREEN"] == pytest.approx(1.0 / 0.8, rel=1e-3)
    assert stretch.gains["BLUE"] == pytest.approx(1.0 / 0.5, rel=0.02)
    pooled = np.concatenate([channels[n][mask] * stretch.gains[n] for n in NAMES])
    pooled = pooled[np.isfinite(pooled)]
    # fewer cells than the sampling limit: the percentiles are those of all the data
    assert stretch.black == pytest.approx(np.percentile(pooled, 0.5), rel=1e-3)
    assert stretch.white == pytest.approx(np.percentile(pooled, 99.8), rel=1e-3)


def test_fit_stretch_subsample_agrees_with_full_data():
    rng = np.random.default_rng(3)
    values = rng.normal(1000.0, 100.0, (1500, 1500)).astype(np.float32)  # 2.25 M cells, > the sample limit
    mask = np.ones(values.shape, bool)
    stretch = colour.fit_stretch({"RED": values}, mask, "none", (1.0, 99.0))
    low, high = np.percentile(values, [1.0, 99.0])
    # a 450 000-cell sample has a standard error of 0.56 on the 1 % / 99 % points of N(1000, 100)
    assert abs(stretch.black - low) < 3.0 and abs(stretch.white - high) < 3.0


def _only(folder, *names):
    return sorted(p.name for p in folder.iterdir()) == sorted(names)


def test_exports_appear_complete_or_not_at_all(tmp_path, monkeypatch):
    grid = equirectangular_grid(body_crs(501, "IO"), (-30.0, 30.0), (100.0, 160.0), width=120)
    bands = np.full((3, *grid.shape), 200, np.uint8)
    alpha = np.full(grid.shape, 255, np.uint8)
    export.write_colour_geotiff(tmp_path / "map.tif", grid, bands, alpha, ["RED", "GREEN", "BLUE"], "IO")
    export.write_png(tmp_path / "map.png", bands, alpha)
    assert _only(tmp_path, "map.tif", "map.png")
    with rasterio.open(tmp_path / "map.tif") as dst:
        assert dst.read(1).min() == 200 and dst.read(4).min() == 255
    with Image.open(tmp_path / "map.png") as image:
        assert image.mode == "RGBA" and image.getpixel((3, 3)) == (200, 200, 200, 255)

    def broken_save(self, fp, *args, **kwargs):
        with open(fp, "wb") as handle:
            handle.write(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(IoflybyError, match="preview.png"):
        export.write_png(tmp_path / "preview.png", bands, alpha)
    assert _only(tmp_path, "map.tif", "map.png")
    (tmp_path / "blocker").write_text("a file, not a folder")
    with pytest.raises(IoflybyError, match="blocker"):
        export.write_colour_geotiff(tmp_path / "blocker" / "map.tif", grid, bands, alpha, ["RED", "GREEN", "BLUE"], "IO")
