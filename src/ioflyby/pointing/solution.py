"""The result of a pointing solve: the solved spin attitude and timing offset of one product,
the limb statistics, the formal 1-σ, and how it was reached (``PointingSolution``).

Angles in radians inside, degrees in the JSON summary (``to_dict``); times s past J2000 TDB.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ioflyby.errors import PointingError
from ioflyby.geometry import FrameletPoses
from ioflyby.geometry.spin import SpinAttitude
from ioflyby.pointing.fit import (
    AXIS_PRIOR_RAD,
    CK_PHASE_PRIOR_RAD,
    LIMB_OFFSET_PRIOR_PX,
    TERMINATOR_ROLL_HOLD_RAD,
    TERMINATOR_ROLL_SIGMA_RAD,
    TIMING_PRIOR_S,
)
from ioflyby.pointing.quality import PointingQuality, PointingRefused


@dataclass
class PointingSolution:
    """The solved pointing of one product.

    ``attitude`` gives the spacecraft/camera orientation at *true* epochs; the true mid-exposure
    epoch of a framelet is the camera model's nominal one plus ``timing_offset_s``;
    ``limb_offset_px`` is where the detected limb sits inside (+) or outside the ellipsoid's.
    ``roll_source``: what fixed the roll about the line of sight — "ck" (the CK prior),
    "terminator" (the day/night boundary on the disc, see ``ioflyby.pointing.terminator``) or
    "limb" (the target's flattening; only where no night side is in view).
    ``rejected_alignment_deg``: the camera alignment a first solve asked for when it was beyond
    belief and the product was solved without one (see :func:`ioflyby.pointing.solve.solve_loaded`), else None.
    ``time_source``: where the nominal epochs' start came from (``ProductStart.to_dict()``: the
    spacecraft clock through the SCLK, or START_TIME and why).
    ``quality``: the verdict of the quality gates with its reasons (``ioflyby.pointing.quality``);
    a refused solution is not written as a CK or used for maps unless accepted (:meth:`require_usable`).
    ``reference_map``/``tie_points``: with surface features (``ioflyby.pointing.surface``), the
    reference map used (``ReferenceMap.to_dict()``) and the tie-point statistics (counts, RMS px,
    spread, the map's fitted offset in km), else None.
    """

    product_id: str
    target: str
    attitude: SpinAttitude
    timing_offset_s: float
    limb_rms_px: float
    n_limb_points: int
    limb_offset_px: float = 0.0
    per_framelet: list[dict] = field(default_factory=list)
    per_filter: dict[str, dict] = field(default_factory=dict)
    start: str = "ck"
    seconds: float = 0.0
    nominal_start_et: float = 0.0
    nominal_stop_et: float = 0.0
    reference_utc: str = ""
    sigma: dict[str, float] = field(default_factory=dict)
    roll_source: str = "ck"
    rejected_alignment_deg: float | None = None
    time_source: dict = field(default_factory=dict)
    quality: PointingQuality | None = None
    reference_map: dict | None = None
    tie_points: dict | None = None

    @property
    def verdict(self) -> str:
        """The quality verdict: "good", "degraded" or "refused" (see ``ioflyby.pointing.quality``)."""
        return "good" if self.quality is None else self.quality.verdict

    def require_usable(self, accept_degraded: bool = False) -> PointingSolution:
        """This solution, unless its quality gates refused it and ``accept_degraded`` is False:
        then :class:`~ioflyby.pointing.quality.PointingRefused` (one line: why, and what would help)."""
        if self.verdict == "refused" and not accept_degraded:
            raise PointingRefused(self.product_id, self.quality)
        return self

    def true_et(self, nominal_et: np.ndarray | float) -> np.ndarray | float:
        """True epoch of a nominal camera-model epoch (s past J2000 TDB)."""
        return nominal_et + self.timing_offset_s

    def camera_to_j2000(self, nominal_et: np.ndarray | float) -> np.ndarray:
        """Rotation JUNO_JUNOCAM → J2000 for a framelet whose *nominal* (camera-model) mid-exposure
        epoch is ``nominal_et``: the attitude at the true epoch."""
        return self.attitude.camera_to_j2000(self.true_et(nominal_et))

    def framelet_poses(
        self, nominal_ets: np.ndarray, target: str | None = None, observer: str = "JUNO",
        camera_frame: str = "JUNO_JUNOCAM",
    ) -> FrameletPoses:
        """Poses (ephemeris at the true epochs, solved attitude) of the framelets whose nominal
        mid-exposure epochs are ``nominal_ets`` (flattened); needs the SPK/PCK loaded.
        ``target`` must be the body whose limb was solved (default: it)."""
        if target is not None and target.strip().upper() != self.target:
            raise PointingError(f"{self.product_id}: pointing solved on {self.target}'s limb, not {target}'s")
        ets = np.asarray(self.true_et(np.asarray(nominal_ets, float).reshape(-1)))
        return FrameletPoses.from_spice(self.target, ets, observer, camera_frame,
                                        camera_to_j2000=self.attitude.camera_to_j2000(ets))

    def to_dict(self) -> dict:
        """JSON-ready summary (degrees, rpm, seconds)."""
        att = self.attitude
        return {
            "product_id": self.product_id,
            "target": self.target,
            "timing_offset_s": self.timing_offset_s,
            "spin_axis_ra_deg": float(np.degrees(att.ra)),
            "spin_axis_dec_deg": float(np.degrees(att.dec)),
            "spin_phase_deg": float(np.degrees(att.phase) % 360.0),
            "spin_phase_reference_utc": self.reference_utc,
            "spin_rate_rpm": att.rate_rpm,
            "camera_alignment_deg": [float(np.degrees(a)) for a in att.alignment],
            "limb_rms_px": self.limb_rms_px,
            "limb_offset_px": self.limb_offset_px,
            "roll_source": self.roll_source,
            "rejected_alignment_deg": self.rejected_alignment_deg,
            "n_limb_points": self.n_limb_points,
            "formal_sigma": self.sigma,
            "formal_sigma_note": _SIGMA_NOTE,
            "start": self.start,
            "time_source": self.time_source,
            "quality": None if self.quality is None else self.quality.to_dict(),
            "solve_seconds": self.seconds,
            "per_filter": self.per_filter,
            "per_framelet": self.per_framelet,
            "reference_map": self.reference_map,
            "tie_points": self.tie_points,
        }


_SIGMA_NOTE = (
    "1-sigma from the final Jacobian, widened where the limb residuals' correlation within a framelet "
    "(cluster-robust sandwich) says so; "
    f"priors included (timing 0 +/- {TIMING_PRIOR_S * 1e3:g} ms; limb offset "
    f"0 +/- {LIMB_OFFSET_PRIOR_PX:g} px; with a CK, spin axis +/- {np.degrees(AXIS_PRIOR_RAD):g} deg and spin "
    f"phase +/- {np.degrees(CK_PHASE_PRIOR_RAD):g} deg; with the roll from the terminator, roll held to "
    f"+/- {np.degrees(TERMINATOR_ROLL_HOLD_RAD):g} deg, counted in the sigma at the terminator's accuracy, "
    f"+/- {np.degrees(TERMINATOR_ROLL_SIGMA_RAD):g} deg). Without a CK the timing is held at 0 and its sigma is "
    "the prior's: the spin phase carries any timing offset."
)
