"""Io's volcanoes: the published catalogue (:mod:`ioflyby.volcano.catalogue`), catalogue labels on
maps and framelets (:mod:`ioflyby.volcano.labels`), hot spots found in the images
(:mod:`ioflyby.volcano.hotspots`).

Submodules are imported on first use (``ioflyby.volcano.load_catalogue`` works; nothing heavy
loads with the package).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "load_catalogue": "catalogue",
    "select_features": "catalogue",
    "CatalogueError": "catalogue",
    "visible_features": "labels",
    "detect_hot_spots": "hotspots",
    "find_hot_spots": "hotspots",
    "HotSpotConfig": "hotspots",
}


def __getattr__(name: str) -> object:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
