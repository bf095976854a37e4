"""Camera models. JunoCam's optics and timing come from the kernel pool (INS-6150x_* keywords)."""

from ioflyby.camera.junocam import (
    FILTERS,
    FRAME,
    FRAMELET_LINES,
    FRAMELET_SAMPLES,
    FilterModel,
    JunoCam,
)

__all__ = ["FILTERS", "FRAME", "FRAMELET_LINES", "FRAMELET_SAMPLES", "FilterModel", "JunoCam"]
