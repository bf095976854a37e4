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

:class:`ioflyby.camera.JunoCam` and :class:`ioflyby.camera.GalileoSSI` satisfy :class:`Camera`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


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
    framelet_lines: int
    """Lines of one framelet (a framing camera: of the whole image, after summing)."""
    framelet_samples: int
    """Samples of one framelet (after summing)."""

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
