"""When each framelet of a raw product was taken, from its label and the camera model."""

from __future__ import annotations

import numpy as np

from ioflyby.camera import JunoCam
from ioflyby.spice import utc_to_et


def framelet_mid_ets(product, camera: JunoCam) -> np.ndarray:
    """Mid-exposure ET of every framelet, shape [exposure, filter] (s past J2000 TDB).

    The label's START_TIME plus the IK's START_TIME_BIAS, n·(INTERFRAME_DELAY +
    INTERFRAME_DELTA) and half the exposure: the epoch at which the whole project (simulator,
    reconstruction, pointing) takes a framelet's geometry. ``product`` is an
    ``ioflyby.ingest.RawProduct`` (any object with its label fields). Needs an LSK loaded.
    """
    start_et = utc_to_et(product.start_time_utc)
    exposures = np.arange(product.n_exposures)
    return np.stack(
        [camera.framelet_mid_et(name, start_et, product.interframe_delay_s, exposures, product.exposure_ms * 1e-3)
         for name in product.filters],
        axis=1,
    )
