"""Pointing from the image: sub-pixel limb detection, a robust least-squares solve of JunoCam's
timing offset and Juno's spin attitude (axis, phase, rate), with or without a CK prior, and the
solution written as a CK (plus an SCLK where needed) and a JSON report."""

from ioflyby.pointing.ck import sclk_covers, write_ck, write_outputs, write_project_sclk
from ioflyby.pointing.limb import LimbPoints, detect_limb, detect_limb_framelet
from ioflyby.pointing.model import FrameletEphemeris, LimbModel
from ioflyby.pointing.solve import (
    PointingSolution,
    solve_loaded,
    solve_pointing,
    solved_pose_source,
)

__all__ = [
    "FrameletEphemeris",
    "LimbModel",
    "LimbPoints",
    "PointingSolution",
    "detect_limb",
    "detect_limb_framelet",
    "sclk_covers",
    "solve_loaded",
    "solve_pointing",
    "solved_pose_source",
    "write_ck",
    "write_outputs",
    "write_project_sclk",
]
