"""What a camera model must provide: the interface the geometry, pointing and mapping stages use.

A camera model turns pixel coordinates of one *framelet* into unit view vectors in the camera's
SPICE frame and back, and says when each framelet was exposed. A pushframe camera (JunoCam) has
many framelets per product, one per filter and exposure; a framing camera (Galileo SSI) has one
framelet, the whole image, exposed once.

Conventions shared by every camera
----------------------------------
- Pixel coordinates are ``(sample, line)`` with the **centre of the upper-left pixel at (0, 0)**
  (pixel (s, l) covers [s-0.5, s+0.5] × [l-0.5, l+0.5]); ``sample`` counts columns, ``line`` rows
  of one framelet, in the pixels the product stores (summed pixels for a summed image).
- Rays are unit vectors in :attr:`Camera.frame` (+Z towards the scene, +X along samples, +Y along
  lines), shape ``(..., 3)``.
- Times are ET: seconds past J2000 TDB.

What differs between cameras is asked of the camera, never tested by name: its observer
(:attr:`Camera.spacecraft`), which clock dates a product (:attr:`Camera.start_clock_id`), the
framelet size, the per-framelet epochs (:meth:`Camera.framelet_mid_et`) and the packed optics the
mapping kernels use (:meth:`Camera.packed`, layout :data:`PACKED_LAYOUT`).
:func:`ioflyby.camera.camera_for_product` builds the model a product needs.

:class:`ioflyby.camera.JunoCam` and :class:`ioflyby.camera.GalileoSSI` satisfy :class:`Camera`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import spiceypy
from spiceypy.utils.exceptions import SpiceyError

from ioflyby.errors import GeometryError, KernelError

PACKED_LAYOUT = (
    "focal_length_px", "centre_sample_corner_px", "centre_line_corner_px", "k1_per_px2", "k2_per_px4",
    "distortion_model", "first_sample", "last_sample", "first_line", "last_line",
)
"""Columns of :meth:`Camera.packed` (one float64 row per filter, read by :mod:`ioflyby.mapping.kernel`):
focal length in stored pixels; the distortion centre in pixel coordinates whose origin is the
upper-left pixel's *corner* (ioflyby coordinates + 0.5); radial coefficients k1 (px⁻²) and k2
(px⁻⁴); the distortion model (:data:`DISTORTION_FORWARD` or :data:`DISTORTION_INVERSE`); the
centres of the outermost photoactive pixels (ioflyby coordinates, inclusive)."""
PACKED_WIDTH = len(PACKED_LAYOUT)
DISTORTION_FORWARD = 0.0
"""distorted = undistorted · (1 + k1 r² + k2 r⁴), r the *undistorted* radius (the JunoCam IK's recipe)."""
DISTORTION_INVERSE = 1.0
"""undistorted = distorted · (1 + k1 r² + k2 r⁴), r the *distorted* radius (ISIS's RadialDistortionMap, Galileo SSI)."""


@runtime_checkable
class FilterOptics(Protocol):
    """The optics of one filter (band) of a camera, as the pipeline needs them."""

    name: str
    """Filter name, upper case."""
    focal_length_px: float
    """Focal length in stored pixels (FOCAL_LENGTH / pixel size); 1/focal_length_px is the IFOV, rad."""


@runtime_checkable
class Camera(Protocol):
    """A camera model: optics (pixel ⇄ ray per filter), detector extent and exposure timing."""

    frame: str
    """SPICE frame name the rays are expressed in (its orientation comes from a CK or a solve)."""
    spacecraft: str
    """NAIF name of the spacecraft carrying the camera (the observer of every pose)."""
    start_clock_id: int | None
    """NAIF id of the spacecraft clock whose label count dates a product's start
    (:func:`ioflyby.geometry.timing.product_start`), or None where the label's UTC time is the epoch."""
    framelet_lines: int
    """Lines of one framelet (a framing camera: of the whole image, after summing)."""
    framelet_samples: int
    """Samples of one framelet (after summing)."""
    is_framing: bool
    """True for a framing camera (the whole image exposed at once: one framelet, one epoch, pointing
    = one camera matrix, ``ioflyby.pointing.framing``); False for a pushframe camera (JunoCam:
    many framelets along a spin, pointing = a spin attitude and timing offset)."""

    def filter(self, name: str) -> FilterOptics:
        """Optics of filter ``name`` (case-insensitive); GeometryError for an unknown name."""
        ...

    def in_photoactive_area(self, sample: np.ndarray, line: np.ndarray) -> np.ndarray:
        """Whether pixel coordinates fall on light-sensitive pixels (NaN gives False)."""
        ...

    def pixel_to_ray(self, filter_name: str, sample: np.ndarray, line: np.ndarray) -> np.ndarray:
        """Unit view vectors ``broadcast(sample, line).shape + (3,)`` in :attr:`frame`."""
        ...

    def ray_to_pixel(self, filter_name: str, rays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(sample, line) of view vectors ``(..., 3)`` in :attr:`frame` (any length); NaN for rays
        at or behind the focal plane. The result may lie outside the framelet."""
        ...

    def packed(self, filter_name: str) -> np.ndarray:
        """Optics of filter ``filter_name`` as one float64 row of :data:`PACKED_WIDTH` columns
        (:data:`PACKED_LAYOUT`), for the numba mapping kernels."""
        ...

    def framelet_mid_et(
        self,
        filter_name: str,
        start_et: float,
        interframe_delay_s: float,
        exposure: np.ndarray | int,
        exposure_s: float,
    ) -> np.ndarray:
        """Mid-exposure ET of framelet ``exposure`` of a product whose nominal start
        (``RawProduct.start_time_utc``) is ``start_et``, with the product's interframe delay and
        exposure duration (s): the epoch at which the whole project takes a framelet's geometry.
        (JunoCam adds its IK's START_TIME_BIAS and INTERFRAME_DELTA; SSI has one exposure.)"""
        ...


def pool_double(keyword: str, kernel_advice: str) -> float:
    """The first value of ``keyword`` in the SPICE kernel pool; KernelError naming the keyword and
    ``kernel_advice`` (which kernel to load) when it is absent or unreadable."""
    try:
        with spiceypy.no_found_check():
            values, found = spiceypy.gdpool(keyword, 0, 1)
    except SpiceyError as exc:
        raise KernelError(f"cannot read {keyword} from the kernel pool: {exc}") from None
    if not found:
        raise KernelError(f"kernel pool lacks {keyword}: load {kernel_advice}")
    return float(values[0])


NEWTON_MAX_STEPS = 50


def radial_inverse(target: np.ndarray, k1: float, k2: float, tolerance: float, where: str) -> np.ndarray:
    """The radius r solving ``r (1 + k1 r² + k2 r⁴) = target`` (any unit, k1 and k2 in its
    powers), by Newton's method from r = target until every step is below ``tolerance`` (NaN input
    counts as done); GeometryError naming ``where`` if it does not converge (only far outside a
    detector)."""
    radius = np.array(target, dtype=float, copy=True)
    for _ in range(NEWTON_MAX_STEPS):
        r2 = radius * radius
        step = (radius * (1.0 + k1 * r2 + k2 * r2 * r2) - target) / (1.0 + 3.0 * k1 * r2 + 5.0 * k2 * r2 * r2)
        radius = radius - step
        if not np.any(np.abs(step) >= tolerance):
            return radius
    raise GeometryError(f"{where}: distortion inverse did not converge within {NEWTON_MAX_STEPS} steps")
