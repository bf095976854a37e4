"""Where per-framelet poses come from: a pluggable *pose source*.

A pose source is any callable ``(product, camera, target) -> PoseSolution`` run while the
product's kernels are loaded. :func:`kernel_poses` reads everything from SPICE (SPK, CK, PCK,
SCLK); a pointing solver can return its own solution (e.g. poses with solved attitude and
timing) plus a description in ``pointing`` that ``ioflyby process --json`` reports verbatim.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ioflyby.camera import JunoCam
from ioflyby.errors import CoverageError
from ioflyby.geometry import (
    FrameletPose,
    body_frame_name,
    framelet_mid_ets,
    framelet_pose,
)
from ioflyby.ingest import RawProduct


@dataclass(frozen=True)
class PoseSolution:
    """Poses ``[exposure][filter]`` (mid-exposure) and a JSON-ready description of the pointing."""

    poses: list[list[FrameletPose]]
    pointing: dict = field(default_factory=dict)


PoseSource = Callable[[RawProduct, JunoCam, str], PoseSolution]


def kernel_poses(product: RawProduct, camera: JunoCam, target: str) -> PoseSolution:
    """Poses from the loaded kernels (trajectory, attitude CK, PCK): six SPICE calls a framelet."""
    ets = framelet_mid_ets(product, camera)
    frame = body_frame_name(target)
    try:
        poses = [[framelet_pose(target, float(et), body_frame=frame) for et in row] for row in ets]
    except CoverageError as exc:
        raise CoverageError(
            f"{product.product_id}: {exc} — without an attitude kernel (CK) for the image time, "
            "solve the pointing from the image instead (ioflyby process --solve-pointing)"
        ) from None
    return PoseSolution(poses, {"source": "kernels"})
