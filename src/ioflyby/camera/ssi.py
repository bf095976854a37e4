"""The Galileo SSI camera model, built from the kernel pool alone (INS-77001_* keywords).

Galileo has no NAIF instrument kernel for SSI; ISIS's ``ssiAddendum005.ti`` supplies the
keywords: focal length with the optics cover on and off (``INS-77001_FOCAL_LENGTH_COVER``,
``INS-77001_FOCAL_LENGTH``, mm), ``INS-77001_PIXEL_PITCH`` (mm), the boresight pixel
(``INS-77001_BORESIGHT_SAMPLE/LINE``), the radial distortion ``INS-77001_K1(_COVER)`` (mm⁻²),
the 800 × 800 detector (``INS-77001_FRAME_LINES/SAMPLES``) and the frame GLL_SSI_PLATFORM
(-77001), whose orientation is the scan-platform CK.

Pixel coordinates
-----------------
ioflyby's convention (:mod:`ioflyby.camera.base`): the centre of the upper-left pixel is (0, 0).
ISIS numbers pixels from 1 with integer values at pixel centres, so ``isis = ours + 1``; the
boresight keywords (400, 400) are ISIS coordinates, i.e. ioflyby full-frame pixel (399, 399).

Summation mode (2 × 2 on-chip summing, 400 × 400 images; TELEMETRY_FORMAT_ID HIS or AI8):
summed pixel ``s`` covers full-frame pixels ``2s`` and ``2s + 1``, so its centre is full-frame
``summing · (s + 0.5) - 0.5`` (ISIS ``CameraDetectorMap`` with ``SetDetectorSampleSumming``).

Equations (ISIS ``SsiCamera`` + ``RadialDistortionMap``; ALE ``GalileoSsiIsisLabelNaifSpiceDriver``)
-----------------------------------------------------------------------------------------------------
Distorted focal-plane position (mm) of full-frame pixel (s, l)::

    x_d = (s + 1 - BORESIGHT_SAMPLE) · PIXEL_PITCH,   y_d = (l + 1 - BORESIGHT_LINE) · PIXEL_PITCH

Undistorted position (closed form; r_d² = x_d² + y_d² in mm², K1 in mm⁻², negative: barrel)::

    x_u = x_d · (1 + K1 · r_d²),   y_u = y_d · (1 + K1 · r_d²)

Ray in GLL_SSI_PLATFORM: ``(x_u, y_u, FOCAL_LENGTH)`` normalised (+Z boresight, +X samples,
+Y lines). The inverse (ray → pixel) solves ``r_d (1 + K1 r_d²) = r_u`` for r_d by Newton's
method to 1e-12 mm. Before 1994-04-01 (optics cover on) the ``_COVER`` focal length and K1 apply.

Exposure timing
---------------
A framing camera exposes the whole image at once: one epoch per image. The label time
(IMAGE_TIME, ISIS StartTime) is taken as the **middle** of the exposure, as ISIS
(``SsiCamera::ShutterOpenCloseTimes``: open = time - exposure/2, close = time + exposure/2) and
ALE (``center_ephemeris_time`` = the label start time) do; the shutter is open for
EXPOSURE_DURATION around it. The reader (:mod:`ioflyby.ingest.ssi`) stores the shutter-open time
as the product's nominal start, so :meth:`GalileoSSI.framelet_mid_et` (start + exposure/2) gives
IMAGE_TIME back, through the same call as JunoCam's.

The clock count (SPACECRAFT_CLOCK_START_COUNT, RIM.MOD91) resolves only 2/3 s, and for E6I0032
the count through mk00062b.tsc (21:07:26.066) lies 1.25 s before IMAGE_TIME (21:07:27.314): the
label time, not the count, is the image epoch (ALE's choice; ISIS's SsiCamera uses the count).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ioflyby.camera.base import DISTORTION_INVERSE, pool_double, radial_inverse
from ioflyby.errors import GeometryError, KernelError

NAIF_ID = -77001
"""NAIF id of GLL_SSI_PLATFORM, the SSI camera frame (the scan platform's CK frame)."""
FRAME = "GLL_SSI_PLATFORM"
"""Name of the camera frame every ray is expressed in (defined by ssiAddendum005.ti)."""
SPACECRAFT = "GALILEO ORBITER"
"""NAIF name of the observer (-77)."""
CLOCK_ID = -77
"""NAIF id of Galileo's spacecraft clock (SCLK kernel mk000xx.tsc)."""
FULL_FRAME_LINES = 800
FULL_FRAME_SAMPLES = 800
SUMMING_MODES: tuple[int, ...] = (1, 2)
"""Full-frame (1) and 2 × 2 summation mode (2, 400 × 400 images)."""
FILTERS: tuple[str, ...] = ("CLEAR", "GREEN", "RED", "VIOLET", "IR-7560", "IR-9680", "IR-7270", "IR-8890", "INFRARED")
"""SSI filter-wheel positions 0–7 (FILTER_NUMBER order), then INFRARED, the name some labels give
position 5 (0.986 µm). One optical model serves every filter."""
COVER_REMOVED_UTC = "1994-04-01T00:00:00"
"""The optics cover came off before this date (ISIS SsiCamera / ALE ``odtk``): earlier images
use the ``_COVER`` focal length and K1."""
ISIS_PIXEL_ORIGIN_OFFSET = 1.0
"""ISIS pixel coordinates minus ioflyby's (ISIS: 1-based, integer at the pixel centre)."""
PUBLISHED_FOCAL_LENGTH_MM = 1500.46655964
"""INS-77001_FOCAL_LENGTH of ssiAddendum005.ti (cover off), mm."""
PUBLISHED_PIXEL_PITCH_MM = 0.01524
"""INS-77001_PIXEL_PITCH of ssiAddendum005.ti, mm."""
_NEWTON_TOLERANCE_MM = 1e-12


@dataclass(frozen=True)
class SsiOptics:
    """SSI optics for one filter, in *stored* pixels of the chosen summing mode.

    Every filter shares the optics; ``name`` only records which was asked for.
    """

    name: str
    focal_length_mm: float  # INS-77001_FOCAL_LENGTH or _COVER
    pixel_pitch_mm: float  # INS-77001_PIXEL_PITCH (one full-frame pixel)
    k1_per_mm2: float  # INS-77001_K1 or _COVER, mm⁻²
    boresight_sample: float  # INS-77001_BORESIGHT_SAMPLE (ISIS, 1-based)
    boresight_line: float  # INS-77001_BORESIGHT_LINE (ISIS, 1-based)
    summing: int

    @property
    def focal_length_px(self) -> float:
        """Focal length in stored pixels (summed pixels are ``summing`` times larger)."""
        return self.focal_length_mm / (self.pixel_pitch_mm * self.summing)

    def undistort(self, xd: np.ndarray, yd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distorted focal-plane position (mm) → undistorted (mm): ``x·(1 + K1 r_d²)`` (ISIS
        RadialDistortionMap::SetFocalPlane)."""
        scale = 1.0 + self.k1_per_mm2 * (xd * xd + yd * yd)
        return xd * scale, yd * scale

    def distort(self, xu: np.ndarray, yu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Undistorted focal-plane position (mm) → distorted (mm): Newton's method on
        ``r_d + K1 r_d³ = r_u`` until every step is below 1e-12 mm. Positions with no solution
        (r_u beyond the cubic's maximum, ~77 mm, far off the 12 mm detector) give NaN."""
        radius_u = np.hypot(xu, yu)
        k1 = self.k1_per_mm2
        radius = radial_inverse(radius_u, k1, 0.0, _NEWTON_TOLERANCE_MM,
                                "Galileo SSI (ray far outside the field of view?)")
        residual = np.abs(radius * (1.0 + k1 * radius * radius) - radius_u)
        radius = np.where((1.0 + 3.0 * k1 * radius * radius > 0) & (residual < 1e-9), radius, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(radius_u > 0, radius / radius_u, 1.0)
        return xu * ratio, yu * ratio


def _pool_double(keyword: str) -> float:
    return pool_double(keyword, "the Galileo SSI instrument keywords (ISIS's ssiAddendum005.ti, or one written by `ioflyby simulate`)")


def cover_on(et: float) -> bool:
    """Whether the optics cover was on at ``et`` (ET): before :data:`COVER_REMOVED_UTC`.

    Needs a leapseconds kernel loaded."""
    from ioflyby.spice import utc_to_et

    return float(et) < utc_to_et(COVER_REMOVED_UTC)


def summing_for_size(lines: int, samples: int) -> int:
    """The summing mode whose image size is ``lines × samples`` (800 → 1, 400 → 2)."""
    for mode in SUMMING_MODES:
        if (lines, samples) == (FULL_FRAME_LINES // mode, FULL_FRAME_SAMPLES // mode):
            return mode
    raise GeometryError(f"Galileo SSI images are 800 × 800 (full frame) or 400 × 400 (summed), not {samples} × {lines}")


class GalileoSSI:
    """Galileo SSI optics and timing, from the loaded instrument keywords (ssiAddendum005.ti).

    >>> with Kernels([lsk, ik]):                      # doctest: +SKIP
    ...     cam = GalileoSSI.from_kernel_pool(summing=1)
    ...     rays = cam.pixel_to_ray("CLEAR", samples, lines)

    One optical model serves every filter; ``filter_name`` is accepted for the common camera
    interface (:class:`ioflyby.camera.base.Camera`) and checked against :data:`FILTERS`.
    """

    frame = FRAME
    naif_id = NAIF_ID
    clock_id = CLOCK_ID
    spacecraft = SPACECRAFT
    start_clock_id: int | None = None
    """The label's IMAGE_TIME, not the clock count, is the image epoch (module docstring)."""
    is_framing = True

    def __init__(self, optics: SsiOptics):
        if optics.summing not in SUMMING_MODES:
            raise GeometryError(f"Galileo SSI summing mode {optics.summing}: expected one of {SUMMING_MODES}")
        self.optics = optics
        self.summing = optics.summing
        self.framelet_lines = FULL_FRAME_LINES // optics.summing
        self.framelet_samples = FULL_FRAME_SAMPLES // optics.summing
        self.filters = {name: replace(optics, name=name) for name in FILTERS}

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_kernel_pool(cls, *, summing: int = 1, cover: bool = False) -> GalileoSSI:
        """Read the INS-77001 keywords (``cover``: the optics cover was on, before 1994-04-01)."""
        suffix = "_COVER" if cover else ""
        prefix = f"INS{NAIF_ID}_"
        lines = _pool_double(prefix + "FRAME_LINES")
        samples = _pool_double(prefix + "FRAME_SAMPLES")
        if (lines, samples) != (FULL_FRAME_LINES, FULL_FRAME_SAMPLES):
            raise KernelError(f"{prefix}FRAME_LINES/SAMPLES = {lines:g} × {samples:g}; Galileo SSI is 800 × 800")
        return cls(SsiOptics(
            name="CLEAR",
            focal_length_mm=_pool_double(prefix + "FOCAL_LENGTH" + suffix),
            pixel_pitch_mm=_pool_double(prefix + "PIXEL_PITCH"),
            k1_per_mm2=_pool_double(prefix + "K1" + suffix),
            boresight_sample=_pool_double(prefix + "BORESIGHT_SAMPLE"),
            boresight_line=_pool_double(prefix + "BORESIGHT_LINE"),
            summing=int(summing),
        ))

    @classmethod
    def for_epoch(cls, et: float, *, summing: int = 1) -> GalileoSSI:
        """The model for an image taken at ``et`` (cover keywords before 1994-04-01)."""
        return cls.from_kernel_pool(summing=summing, cover=cover_on(et))

    @classmethod
    def for_product(cls, product) -> GalileoSSI:
        """The model for ``product`` (an ``ioflyby.ingest.ssi.SsiProduct``): its summing mode, the
        cover keywords its epoch needs (an LSK must be loaded)."""
        from ioflyby.spice import utc_to_et

        return cls.for_epoch(utc_to_et(product.image_time_utc or product.start_time_utc),
                             summing=int(getattr(product, "summing", 1)))

    def filter(self, name: str) -> SsiOptics:
        """The optics under filter ``name`` (one of :data:`FILTERS`, case-insensitive)."""
        key = str(name).strip().upper()
        if key not in self.filters:
            raise GeometryError(f"unknown Galileo SSI filter {name!r}: expected one of {', '.join(FILTERS)}")
        return self.filters[key]

    @property
    def ifov_rad(self) -> float:
        """Angular size of one stored pixel at the boresight, rad (≈10.16 µrad full frame)."""
        return 1.0 / self.optics.focal_length_px

    def packed(self, filter_name: str) -> np.ndarray:
        """The optics as one row of :data:`ioflyby.camera.base.PACKED_LAYOUT`, in stored pixels:
        focal length, boresight in corner-origin pixels (``(BORESIGHT - 0.5) / summing``), K1 in
        px⁻² (``K1 · (pitch · summing)²``), the inverse (ISIS) distortion model, the whole image."""
        optics = self.filter(filter_name)
        pixel_mm = optics.pixel_pitch_mm * self.summing
        return np.array([optics.focal_length_px, (optics.boresight_sample - 0.5) / self.summing,
                         (optics.boresight_line - 0.5) / self.summing, optics.k1_per_mm2 * pixel_mm**2, 0.0,
                         DISTORTION_INVERSE, 0.0, self.framelet_samples - 1.0, 0.0, self.framelet_lines - 1.0])

    # -- pixels ⇄ full-frame detector ----------------------------------------------------------
    def to_full_frame(self, sample: np.ndarray, line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Stored (possibly summed) pixel coordinates → full-frame ioflyby pixel coordinates."""
        k = self.summing
        return k * (np.asarray(sample, float) + 0.5) - 0.5, k * (np.asarray(line, float) + 0.5) - 0.5

    def from_full_frame(self, sample: np.ndarray, line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Full-frame ioflyby pixel coordinates → stored (possibly summed) ones."""
        k = self.summing
        return (np.asarray(sample, float) + 0.5) / k - 0.5, (np.asarray(line, float) + 0.5) / k - 0.5

    def in_photoactive_area(self, sample: np.ndarray, line: np.ndarray) -> np.ndarray:
        """Whether stored pixel coordinates fall on the detector (within half a pixel of the
        outermost centres; NaN gives False)."""
        sample, line = np.asarray(sample, float), np.asarray(line, float)
        return ((sample >= -0.5) & (sample < self.framelet_samples - 0.5)
                & (line >= -0.5) & (line < self.framelet_lines - 0.5))

    # -- optics ---------------------------------------------------------------------------------
    def pixel_to_ray(self, filter_name: str, sample: np.ndarray, line: np.ndarray) -> np.ndarray:
        """Unit view vectors in GLL_SSI_PLATFORM for stored pixel coordinates (any broadcastable
        shapes). Returns ``broadcast(sample, line).shape + (3,)``."""
        optics = self.filter(filter_name)
        sample, line = np.broadcast_arrays(np.asarray(sample, float), np.asarray(line, float))
        full_s, full_l = self.to_full_frame(sample, line)
        xd = (full_s + ISIS_PIXEL_ORIGIN_OFFSET - optics.boresight_sample) * optics.pixel_pitch_mm
        yd = (full_l + ISIS_PIXEL_ORIGIN_OFFSET - optics.boresight_line) * optics.pixel_pitch_mm
        xu, yu = optics.undistort(xd, yd)
        rays = np.stack([xu, yu, np.full_like(xu, optics.focal_length_mm)], axis=-1)
        rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
        return rays

    def ray_to_pixel(self, filter_name: str, rays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Stored (sample, line) of view vectors in GLL_SSI_PLATFORM (shape ``(..., 3)``, any
        length). Rays at or behind the focal plane (z ≤ 0) give NaN; the result may lie outside
        the image (callers test :meth:`in_photoactive_area`)."""
        optics = self.filter(filter_name)
        rays = np.asarray(rays, float)
        z = rays[..., 2]
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(z > 0, optics.focal_length_mm / z, np.nan)
        xd, yd = optics.distort(rays[..., 0] * scale, rays[..., 1] * scale)
        full_s = xd / optics.pixel_pitch_mm + optics.boresight_sample - ISIS_PIXEL_ORIGIN_OFFSET
        full_l = yd / optics.pixel_pitch_mm + optics.boresight_line - ISIS_PIXEL_ORIGIN_OFFSET
        return self.from_full_frame(full_s, full_l)

    # -- timing ---------------------------------------------------------------------------------
    @staticmethod
    def mid_exposure_et(image_et: float) -> float:
        """Mid-exposure ET of an image whose label time (IMAGE_TIME) is ``image_et``: the label
        time itself (see the module docstring)."""
        return float(image_et)

    @staticmethod
    def shutter_open_close_et(image_et: float, exposure_s: float) -> tuple[float, float]:
        """(shutter open, shutter close) ET: the label time ∓ half the exposure duration."""
        half = 0.5 * float(exposure_s)
        return float(image_et) - half, float(image_et) + half

    def exposure_start_et(
        self, filter_name: str, start_et: float, interframe_delay_s: float, exposure: np.ndarray | int
    ) -> np.ndarray:
        """Shutter-open ET of exposure ``exposure`` (an SSI image has only exposure 0) of a product
        whose nominal start (``RawProduct.start_time_utc``: IMAGE_TIME - EXPOSURE_DURATION/2) is
        ``start_et``: ``start_et + n · interframe_delay_s``. Same signature as
        :meth:`ioflyby.camera.JunoCam.exposure_start_et`; SSI has no start-time bias."""
        self.filter(filter_name)
        return start_et + np.asarray(exposure, float) * interframe_delay_s

    def framelet_mid_et(
        self,
        filter_name: str,
        start_et: float,
        interframe_delay_s: float,
        exposure: np.ndarray | int,
        exposure_s: float,
    ) -> np.ndarray:
        """Mid-exposure ET: shutter open + half the exposure, i.e. the label's IMAGE_TIME. Same
        signature as :meth:`ioflyby.camera.JunoCam.framelet_mid_et`."""
        return self.exposure_start_et(filter_name, start_et, interframe_delay_s, exposure) + 0.5 * exposure_s
