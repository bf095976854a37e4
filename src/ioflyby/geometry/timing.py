"""When each framelet of a raw product was taken, from its label and the camera model.

The image's start comes from the spacecraft clock when it can (``SPACECRAFT_CLOCK_START_COUNT``
through the loaded SCLK kernel: the count the camera was triggered at), else from the label's
UTC ``START_TIME`` (written to the millisecond); :func:`product_start` says which and why. The
camera says which clock dates its products (``Camera.start_clock_id``; None: the label time, as
for Galileo SSI, whose IMAGE_TIME is the epoch and whose count resolves only 2/3 s).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import spiceypy
from spiceypy.utils.exceptions import SpiceyError

from ioflyby.camera.base import Camera
from ioflyby.spice import et_to_utc, utc_to_et
from ioflyby.spice.kernelset import sclk_loaded, spice_error_message

JUNO_CLOCK_ID = -61
"""NAIF id of Juno's spacecraft clock (SCLK)."""
CLOCK_AGREEMENT_S = 0.005
"""Largest accepted difference between the clock count through the loaded SCLK and START_TIME:
more than one clock tick (1/256 s) plus START_TIME's rounding to the millisecond. A larger one
means the loaded SCLK is not the clock correlation the label was made with (e.g. an old SCLK
extrapolated years past its last record), and START_TIME is used."""
TIME_SOURCES = ("sclk", "start_time")


@dataclass(frozen=True)
class ProductStart:
    """The start epoch of a product's first exposure (before the IK's START_TIME_BIAS).

    ``et``: s past J2000 TDB; ``source``: "sclk" (clock count through the SCLK) or "start_time"
    (the label's UTC START_TIME); ``clock_count``: the label's count ("" when absent);
    ``clock_minus_start_time_s``: the clock epoch minus START_TIME's where both convert, else
    None; ``note``: why START_TIME was used ("" with the clock).
    """

    et: float
    source: str
    clock_count: str = ""
    clock_minus_start_time_s: float | None = None
    note: str = ""

    def to_dict(self) -> dict:
        """JSON-ready description (UTC, ms)."""
        difference = self.clock_minus_start_time_s
        return {
            "source": self.source,
            "start_utc": et_to_utc(self.et, 6),
            "clock_count": self.clock_count or None,
            "clock_minus_start_time_ms": None if difference is None else difference * 1e3,
            "note": self.note,
        }


def _clock_epoch(count: str, clock_id: int) -> tuple[float | None, str]:
    """(ET of the clock ``count`` through the loaded SCLK, or None; why not)."""
    if not count or count.strip().upper() in ("N/A", "UNK", "NULL"):
        return None, "the label has no SPACECRAFT_CLOCK_START_COUNT"
    if not sclk_loaded(clock_id):
        return None, f"no SCLK kernel for clock {clock_id} is loaded"
    try:
        return float(spiceypy.scs2e(clock_id, count.strip())), ""
    except SpiceyError as exc:
        return None, f"the loaded SCLK cannot convert clock count {count!r}: {spice_error_message(exc)}"


def product_start(product, clock_id: int | None = JUNO_CLOCK_ID) -> ProductStart:
    """The start epoch of ``product`` (an ``ioflyby.ingest.RawProduct``, or any object with
    ``start_time_utc`` and ``spacecraft_clock_start``): its clock count through the loaded SCLK
    for ``clock_id`` when one is loaded and agrees with START_TIME within ``CLOCK_AGREEMENT_S``,
    else START_TIME, with a note saying why. ``clock_id`` None: the camera dates its products by
    the label time (``Camera.start_clock_id``), START_TIME is used. Needs an LSK loaded."""
    label_et = utc_to_et(product.start_time_utc)
    count = str(getattr(product, "spacecraft_clock_start", "") or "")
    if clock_id is None:
        return ProductStart(label_et, "start_time", count, None,
                            "the camera's image epoch is the label time, not the clock count")
    clock_et, why_not = _clock_epoch(count, clock_id)
    if clock_et is None:
        return ProductStart(label_et, "start_time", count, None, f"{why_not}: framelet times from START_TIME")
    difference = clock_et - label_et
    if abs(difference) > CLOCK_AGREEMENT_S:
        note = (f"the loaded SCLK puts clock count {count} {difference * 1e3:+.3f} ms from START_TIME "
                f"(more than {CLOCK_AGREEMENT_S * 1e3:g} ms: not the clock correlation the label was made with; "
                "load the SCLK kernel covering the image): framelet times from START_TIME")
        return ProductStart(label_et, "start_time", count, difference, note)
    return ProductStart(clock_et, "sclk", count, difference)


def camera_clock_id(camera: Camera) -> int | None:
    """The clock that dates ``camera``'s products (``Camera.start_clock_id``; Juno's for a camera
    model that does not say)."""
    return getattr(camera, "start_clock_id", JUNO_CLOCK_ID)


def framelet_mid_ets(product, camera: Camera, start: ProductStart | None = None) -> np.ndarray:
    """Mid-exposure ET of every framelet, shape [exposure, filter] (s past J2000 TDB).

    The product's start (``start``, default :func:`product_start` with the camera's clock: the
    clock count through the SCLK, else START_TIME) plus what the camera adds
    (``camera.framelet_mid_et``: JunoCam's START_TIME_BIAS, n·(INTERFRAME_DELAY +
    INTERFRAME_DELTA) and half the exposure; SSI's half exposure): the epoch at which the whole
    project (simulator, reconstruction, pointing) takes a framelet's geometry. ``product`` is an
    ``ioflyby.ingest.RawProduct`` (any object with its label fields). Needs an LSK loaded.
    """
    start_et = (start or product_start(product, camera_clock_id(camera))).et
    exposures = np.arange(product.n_exposures)
    return np.stack(
        [camera.framelet_mid_et(name, start_et, product.interframe_delay_s, exposures, product.exposure_ms * 1e-3)
         for name in product.filters],
        axis=1,
    )
