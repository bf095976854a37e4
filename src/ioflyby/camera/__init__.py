"""Camera models behind one interface (:class:`ioflyby.camera.base.Camera`). JunoCam's optics and
timing come from the kernel pool (INS-6150x_* keywords); Galileo SSI's from INS-77001_*.
:func:`camera_for_product` builds the model a product needs (:data:`CAMERAS`, by the product's
``instrument``)."""

from collections.abc import Callable

from ioflyby.camera.base import PACKED_LAYOUT, PACKED_WIDTH, Camera, FilterOptics
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
from ioflyby.errors import GeometryError

CAMERAS: dict[str, Callable[..., Camera]] = {
    "JUNOCAM": JunoCam.for_product,
    "GALILEO_SSI": GalileoSSI.for_product,
}
"""Camera model factories by ``RawProduct.instrument``: each takes the product and reads the kernel pool."""


def camera_for_product(product) -> Camera:
    """The camera model of ``product`` (an ``ioflyby.ingest.RawProduct`` or subclass) from the
    loaded kernels (JunoCam: FK + IK; Galileo SSI: the INS-77001 keywords and an LSK)."""
    instrument = getattr(product, "instrument", "JUNOCAM")
    if instrument not in CAMERAS:
        raise GeometryError(f"no camera model for instrument {instrument!r}: known are {', '.join(CAMERAS)}")
    return CAMERAS[instrument](product)


__all__ = ["CAMERAS", "COLOUR_FILTERS", "FILTERS", "FRAME", "FRAMELET_LINES", "FRAMELET_SAMPLES", "PACKED_LAYOUT",
           "PACKED_WIDTH", "Camera", "FilterModel", "FilterOptics", "GalileoSSI", "JunoCam", "JunoCamScale",
           "SsiOptics", "camera_for_product", "junocam_scale"]
