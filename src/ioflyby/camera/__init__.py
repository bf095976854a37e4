"""Camera models behind one interface (:class:`ioflyby.camera.base.Camera`). JunoCam's optics and
timing come from the kernel pool (INS-6150x_* keywords); Galileo SSI's from INS-77001_*."""

from ioflyby.camera.base import Camera, FilterOptics
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
from ioflyby.camera.ssi import GalileoSSI, SsiOptics

__all__ = ["COLOUR_FILTERS", "FILTERS", "FRAME", "FRAMELET_LINES", "FRAMELET_SAMPLES", "Camera", "FilterModel",
           "FilterOptics", "GalileoSSI", "JunoCam", "JunoCamScale", "SsiOptics", "junocam_scale"]
