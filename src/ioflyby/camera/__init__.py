"""Camera models. JunoCam's optics and timing come from the kernel pool (INS-6150x_* keywords)."""

from ioflyby.camera.junocam import (
    COLOUR_FILTERS,
    FILTERS,
    FRAME,
    FRAMELET_LINES,
    FRAMELET_SAMPLES,
    FilterModel,
    JunoCam,
    JunoCamScale,
    junocam_scale,
)

__all__ = ["COLOUR_FILTERS", "FILTERS", "FRAME", "FRAMELET_LINES", "FRAMELET_SAMPLES", "FilterModel", "JunoCam",
           "JunoCamScale", "junocam_scale"]
