"""Images for people: full-resolution, fringe-free, enhanced views reconstructed from every
framelet (:func:`render`), and flyby movies (:mod:`ioflyby.render.movie`). See docs/render.md."""

from ioflyby.render.core import Reconstruction, reconstruct
from ioflyby.render.enhance import NIGHT, PRESETS, enhance
from ioflyby.render.pipeline import RenderOptions, RenderResult, render
from ioflyby.render.view import VIEWS, View, map_view, spacecraft_view

__all__ = ["NIGHT", "PRESETS", "VIEWS", "Reconstruction", "RenderOptions", "RenderResult", "View", "enhance",
           "map_view", "reconstruct", "render", "spacecraft_view"]
