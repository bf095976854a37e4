"""Where per-framelet poses come from: a pluggable *pose source*.

A pose source is any callable ``(product, camera, target) -> PoseSolution`` run while the
product's kernels are loaded. :func:`kernel_poses` reads everything from SPICE (SPK, CK, PCK,
SCLK); a pointing solver can return its own solution (e.g. poses with solved attitude and
timing) plus a description in ``pointing`` that ``ioflyby process --json`` reports verbatim.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ioflyby.camera import JunoCam
from ioflyby.geometry import FrameletPose, body_frame_name, framelet_pose
from ioflyby.ingest import RawProduct
from ioflyby.spice import utc_to_et


@dataclass(frozen=True)
class PoseSolution:
    """Poses ``[exposure][filter]`` (mid-exposure) and a JSON-ready description of the pointing."""

    poses: list[list[FrameletPose]]
    pointing: dict = field(default_factory=dict)


PoseSource = Callable[[RawProduct, JunoCam, str], PoseSolution]


def framelet_mid_ets(product: RawProduct, camera: JunoCam) -> np.ndarray:
    """Mid-exposure ET [exposure, filter] (s past J2000 TDB): the label's START_TIME plus the IK's
    START_TIME_BIAS, n·(INTERFRAME_DELAY + INTERFRAME_DELTA) and half the exposure. Needs an LSK."""
    start_et = utc_to_et(product.start_time_utc)
    exposures = np.arange(product.n_exposures)
    return np.stack(
        [camera.framelet_mid_et(f, start_et, product.interframe_delay_s, exposures, product.exposure_ms / 1e3)
         for f in product.filters],
        axis=1,
    )


def kernel_poses(product: RawProduct, camera: JunoCam, target: str) -> PoseSolution:
    """Poses from the loaded kernels (trajectory, attitude CK, PCK): six SPICE calls a framelet."""
    ets = framelet_mid_ets(product, camera)
    frame = body_frame_name(target)
    poses = [[framelet_pose(target, float(et), body_frame=frame) for et in row] for row in ets]
    return PoseSolution(poses, {"source": "kernels"})
