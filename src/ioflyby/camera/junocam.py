"""The JunoCam camera model, built from the kernel pool alone (INS-6150x_* keywords of the IK).

Pixel coordinates
-----------------
``sample`` counts columns (0..1647) and ``line`` counts rows of one framelet (0..127). The
**centre of the upper-left pixel is (0, 0)**; pixel (s, l) covers [s-0.5, s+0.5] × [l-0.5, l+0.5].
The IK's recipe uses coordinates whose origin is the *corner* of that pixel (its FOV corners are
"pixels (23.5, 0.5) … (1630.5, 127.5)", i.e. centres of the outermost photoactive pixels), so
``ik = ours + 0.5``; the conversion happens only inside this module.

Rays are unit vectors in the ``JUNO_JUNOCAM`` frame (+Z boresight, +X along samples, +Y along
lines). Distortion follows the IK recipe: ``distorted = undistorted · (1 + k1 r² + k2 r⁴)``, with
r the undistorted radius in pixels from (DISTORTION_X, DISTORTION_Y); the inverse is solved by
Newton iteration to convergence.

Framelet timing: exposure ``n`` of a product starts at
``START_TIME + START_TIME_BIAS + n · (INTERFRAME_DELAY + INTERFRAME_DELTA)``, the first and last
terms from the product label, the bias and delta from the IK.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import spiceypy
from spiceypy.utils.exceptions import SpiceyError

from ioflyby.camera.base import DISTORTION_FORWARD, pool_double, radial_inverse
from ioflyby.errors import GeometryError, KernelError
from ioflyby.spice.kernelset import pool_has

FRAME = "JUNO_JUNOCAM"
SPACECRAFT = "JUNO"
"""NAIF name of the observer (-61)."""
CLOCK_ID = -61
"""NAIF id of Juno's spacecraft clock: a product's SPACECRAFT_CLOCK_START_COUNT dates its start."""
"""Name of the camera frame every ray is expressed in (defined by the Juno FK)."""
NAIF_ID = -61500
"""NAIF id of JUNO_JUNOCAM, the camera as a whole (its bands are -61501..-61504)."""
FRAMELET_LINES = 128
FRAMELET_SAMPLES = 1648
PHOTOACTIVE_FIRST_SAMPLE = 23
"""First photoactive column: the IK text says 23 dark pixels start each line."""
PHOTOACTIVE_SAMPLES = 1608
"""Number of photoactive columns (IK text, 'Note 1')."""
COLOUR_FILTERS: tuple[str, ...] = ("BLUE", "GREEN", "RED")
"""The colour bands, in detector order along +Y (the order of a colour product's FILTER_NAME)."""
FILTERS: tuple[str, ...] = ("METHANE", *COLOUR_FILTERS)
"""Every band, in detector order along +Y (the order of the IK's band listing)."""
PUBLISHED_FOCAL_LENGTH_MM = 10.95637
"""INS-6150x_FOCAL_LENGTH of juno_junocam_v03.ti (the same for the camera and every band), mm."""
PUBLISHED_PIXEL_SIZE_MM = 0.0074
"""INS-6150x_PIXEL_SIZE of juno_junocam_v03.ti (the same for the camera and every band), mm."""
PUBLISHED_IFOV_RAD = PUBLISHED_PIXEL_SIZE_MM / PUBLISHED_FOCAL_LENGTH_MM
"""Pixel IFOV of the published IK (PIXEL_SIZE / FOCAL_LENGTH), rad; for when no IK is loaded."""
IK_PIXEL_ORIGIN_OFFSET = 0.5
"""IK pixel coordinates minus ioflyby's (IK origin: the upper-left pixel's corner)."""
_NEWTON_TOLERANCE_PX = 1e-10


@dataclass(frozen=True)
class FilterModel:
    """Optics of one JunoCam filter band, read from the kernel pool.

    All lengths in pixels; times in seconds.
    """

    name: str
    naif_id: int
    focal_length_px: float  # INS-6150x_FOCAL_LENGTH / INS-6150x_PIXEL_SIZE
    center_x_px: float  # INS-6150x_DISTORTION_X (IK pixel convention)
    center_y_px: float  # INS-6150x_DISTORTION_Y (IK pixel convention)
    k1: float  # INS-6150x_DISTORTION_K1, px⁻²
    k2: float  # INS-6150x_DISTORTION_K2, px⁻⁴
    start_time_bias_s: float  # INS-6150x_START_TIME_BIAS
    interframe_delta_s: float  # INS-6150x_INTERFRAME_DELTA

    def distort(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Undistorted focal-plane offsets (px from the distortion centre) → distorted ones."""
        r2 = x * x + y * y
        scale = 1.0 + self.k1 * r2 + self.k2 * r2 * r2
        return x * scale, y * scale

    def undistort(self, xd: np.ndarray, yd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distorted offsets → undistorted ones, by Newton iteration on the radius until every
        element moves less than 1e-10 px. Raises GeometryError if it does not converge (only
        possible far outside the detector)."""
        radius_d = np.hypot(xd, yd)
        radius = radial_inverse(radius_d, self.k1, self.k2, _NEWTON_TOLERANCE_PX,
                                f"JunoCam {self.name} (pixel far outside the detector?)")
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(radius_d > 0, radius / radius_d, 1.0)
        return xd * ratio, yd * ratio


def _pool_double(keyword: str) -> float:
    return pool_double(keyword, "the JunoCam instrument kernel (juno_junocam_v03.ti or one written by `ioflyby simulate`)")


def _filter_naif_id(name: str) -> int:
    with spiceypy.no_found_check():
        code, found = spiceypy.bods2c(f"JUNO_JUNOCAM_{name}")
    if not found:
        raise KernelError(
            f"no NAIF id for JUNO_JUNOCAM_{name}: load the Juno frames kernel (juno_v12.tf) "
            "that names the JunoCam bands"
        )
    return int(code)


def _read_filter(name: str) -> FilterModel:
    naif_id = _filter_naif_id(name)
    prefix = f"INS{naif_id}_"
    try:
        focal_mm = _pool_double(prefix + "FOCAL_LENGTH")
        pixel_mm = _pool_double(prefix + "PIXEL_SIZE")
        return FilterModel(
            name=name,
            naif_id=naif_id,
            focal_length_px=focal_mm / pixel_mm,
            center_x_px=_pool_double(prefix + "DISTORTION_X"),
            center_y_px=_pool_double(prefix + "DISTORTION_Y"),
            k1=_pool_double(prefix + "DISTORTION_K1"),
            k2=_pool_double(prefix + "DISTORTION_K2"),
            start_time_bias_s=_pool_double(prefix + "START_TIME_BIAS"),
            interframe_delta_s=_pool_double(prefix + "INTERFRAME_DELTA"),
        )
    except SpiceyError as exc:
        raise KernelError(f"cannot read JunoCam {name} parameters from the kernel pool: {exc}") from None


class JunoCam:
    """JunoCam per-filter optics and timing, from the loaded FK + IK.

    >>> with Kernels([fk, ik]):              # doctest: +SKIP
    ...     cam = JunoCam.from_kernel_pool()
    ...     rays = cam.pixel_to_ray("RED", samples, lines)
    """

    frame = FRAME
    spacecraft = SPACECRAFT
    start_clock_id: int | None = CLOCK_ID
    framelet_lines = FRAMELET_LINES
    framelet_samples = FRAMELET_SAMPLES
    is_framing = False

    def __init__(self, filters: dict[str, FilterModel]):
        self.filters = dict(filters)

    @classmethod
    def from_kernel_pool(cls, names: Iterable[str] = FILTERS) -> JunoCam:
        """Read every filter's parameters from the kernel pool (the IK and FK must be loaded)."""
        return cls({name: _read_filter(name) for name in names})

    @classmethod
    def for_product(cls, product) -> JunoCam:
        """The model of ``product``'s filters (an ``ioflyby.ingest.RawProduct``), from the kernel pool."""
        return cls.from_kernel_pool(product.filters)

    def packed(self, filter_name: str) -> np.ndarray:
        """Filter ``filter_name`` as one row of :data:`ioflyby.camera.base.PACKED_LAYOUT`: focal length
        (px), distortion centre (IK pixels, corner origin), k1, k2, the forward (IK) distortion model
        and the photoactive columns 23..1630, lines 0..127."""
        model = self.filter(filter_name)
        return np.array([model.focal_length_px, model.center_x_px, model.center_y_px, model.k1, model.k2,
                         DISTORTION_FORWARD, PHOTOACTIVE_FIRST_SAMPLE, PHOTOACTIVE_FIRST_SAMPLE + PHOTOACTIVE_SAMPLES - 1,
                         0.0, FRAMELET_LINES - 1.0])

    def filter(self, name: str) -> FilterModel:
        """The model of filter ``name`` (METHANE, BLUE, GREEN or RED, case-insensitive)."""
        key = name.upper()
        if key not in self.filters:
            raise GeometryError(f"unknown JunoCam filter {name!r}: expected one of {', '.join(self.filters)}")
        return self.filters[key]

    @staticmethod
    def in_photoactive_area(sample: np.ndarray, line: np.ndarray) -> np.ndarray:
        """Whether pixel coordinates fall on a photoactive pixel (within half a pixel of the
        centres of the outermost ones; NaN gives False)."""
        sample, line = np.asarray(sample, float), np.asarray(line, float)
        first, last = PHOTOACTIVE_FIRST_SAMPLE - 0.5, PHOTOACTIVE_FIRST_SAMPLE + PHOTOACTIVE_SAMPLES - 0.5
        return (sample >= first) & (sample < last) & (line >= -0.5) & (line < FRAMELET_LINES - 0.5)

    def pixel_to_ray(self, filter_name: str, sample: np.ndarray, line: np.ndarray) -> np.ndarray:
        """Unit view vectors in JUNO_JUNOCAM for framelet pixel coordinates (any broadcastable
        shapes; ioflyby pixel convention, centre of the upper-left pixel = (0, 0)).

        Returns an array of shape ``broadcast(sample, line).shape + (3,)``.
        """
        model = self.filter(filter_name)
        sample, line = np.broadcast_arrays(np.asarray(sample, float), np.asarray(line, float))
        xd = sample + IK_PIXEL_ORIGIN_OFFSET - model.center_x_px
        yd = line + IK_PIXEL_ORIGIN_OFFSET - model.center_y_px
        x, y = model.undistort(xd, yd)
        rays = np.stack([x, y, np.full_like(x, model.focal_length_px)], axis=-1)
        rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
        return rays

    def ray_to_pixel(self, filter_name: str, rays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Framelet (sample, line) of view vectors in JUNO_JUNOCAM (shape ``(..., 3)``, any
        length). Rays at or behind the focal plane (z ≤ 0) give NaN. The result may lie outside
        the framelet; callers test ``0 <= line <= 127`` themselves."""
        model = self.filter(filter_name)
        rays = np.asarray(rays, float)
        z = rays[..., 2]
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(z > 0, model.focal_length_px / z, np.nan)
        x, y = model.distort(rays[..., 0] * scale, rays[..., 1] * scale)
        sample = x + model.center_x_px - IK_PIXEL_ORIGIN_OFFSET
        line = y + model.center_y_px - IK_PIXEL_ORIGIN_OFFSET
        return sample, line

    def exposure_start_et(
        self, filter_name: str, start_et: float, interframe_delay_s: float, exposure: np.ndarray | int
    ) -> np.ndarray:
        """Start of exposure ``n`` (ET, s past J2000 TDB) for a product whose label gives
        START_TIME = ``start_et`` and INTERFRAME_DELAY = ``interframe_delay_s``:
        ``start + START_TIME_BIAS + n · (INTERFRAME_DELAY + INTERFRAME_DELTA)``."""
        model = self.filter(filter_name)
        n = np.asarray(exposure, float)
        return start_et + model.start_time_bias_s + n * (interframe_delay_s + model.interframe_delta_s)

    def framelet_mid_et(
        self,
        filter_name: str,
        start_et: float,
        interframe_delay_s: float,
        exposure: np.ndarray | int,
        exposure_s: float,
    ) -> np.ndarray:
        """Middle of the exposure of framelet ``exposure`` (ET): start + half the exposure time."""
        return self.exposure_start_et(filter_name, start_et, interframe_delay_s, exposure) + 0.5 * exposure_s


@dataclass(frozen=True)
class JunoCamScale:
    """JunoCam instantaneous field of view of one pixel (rad) and where its value came from."""

    ifov_rad: float
    source: str


def junocam_scale() -> JunoCamScale:
    """JunoCam pixel IFOV = PIXEL_SIZE / FOCAL_LENGTH (both mm), from the kernel pool when the IK
    (``INS-61500_PIXEL_SIZE``, ``INS-61500_FOCAL_LENGTH``) is loaded, else the published values
    (``PUBLISHED_*``)."""
    size_key = f"INS{NAIF_ID}_PIXEL_SIZE"
    focal_key = f"INS{NAIF_ID}_FOCAL_LENGTH"
    if pool_has(size_key) and pool_has(focal_key):
        size = float(spiceypy.gdpool(size_key, 0, 1)[0])
        focal = float(spiceypy.gdpool(focal_key, 0, 1)[0])
        return JunoCamScale(size / focal, f"kernel pool {size_key}={size} / {focal_key}={focal}")
    return JunoCamScale(
        PUBLISHED_IFOV_RAD,
        f"published PIXEL_SIZE {PUBLISHED_PIXEL_SIZE_MM} mm / FOCAL_LENGTH "
        f"{PUBLISHED_FOCAL_LENGTH_MM} mm (JunoCam IK not loaded)",
    )
