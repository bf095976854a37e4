"""Pointing from the image: sub-pixel limb detection, a robust least-squares solve of JunoCam's
timing offset and Juno's spin attitude (axis, phase, rate), with or without a CK prior, a quality
verdict on every solution (good / degraded / refused, with reasons), joint solves of several
products of one perijove, and the solution written as a CK (plus an SCLK where needed) and a JSON
report. With a reference map of the target, the limb solve is refined with tie points to its
surface features (``ioflyby.pointing.surface``)."""

from ioflyby.pointing.ck import PointingOutputs, sclk_covers, write_ck, write_outputs, write_project_sclk
from ioflyby.pointing.framing import FramingSolution, solve_framing
from ioflyby.pointing.joint import JointSolution, solve_joint
from ioflyby.pointing.limb import LimbPoints, detect_limb, detect_limb_framelet
from ioflyby.pointing.model import LimbModel
from ioflyby.pointing.quality import PointingQuality, PointingRefused, QualityCheck
from ioflyby.pointing.reference import ReferenceMap
from ioflyby.pointing.solution import PointingSolution
from ioflyby.pointing.solve import PRIORS, solve_loaded

__all__ = [
    "PRIORS",
    "FramingSolution",
    "JointSolution",
    "LimbModel",
    "LimbPoints",
    "PointingOutputs",
    "PointingQuality",
    "PointingRefused",
    "PointingSolution",
    "QualityCheck",
    "ReferenceMap",
    "detect_limb",
    "detect_limb_framelet",
    "sclk_covers",
    "solve_framing",
    "solve_joint",
    "solve_loaded",
    "write_ck",
    "write_outputs",
    "write_project_sclk",
]
