"""The roll about the line of sight (observer → target), from the terminator, for a solve with
no CK.

A roll turns the Sun about the line of sight and with it the predicted day/night boundary, which
must separate the image's lit pixels from its dark ones (``ioflyby.pointing.terminator``). So
wherever a terminator is on the disc in view, the limb fit's solution is turned to the roll the
terminator sets (:func:`rolled`) and refined with that roll held (± ``TERMINATOR_ROLL_HOLD_RAD``,
see ``ioflyby.pointing.fit``), twice. The limb alone fixes that roll only through the target's
flattening, which is loose on Io and open to limb-model errors (limb altitude, camera model) on
Jupiter; the limb's roll is kept only where no night side is in view
(``PointingSolution.roll_source`` says which applied).

Directions are J2000 unit vectors, angles rad, times s past J2000 TDB.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ioflyby.camera import JunoCam
from ioflyby.errors import PointingError
from ioflyby.geometry.spin import SpinAttitude, rotation_vector_matrix
from ioflyby.pointing.fit import GATES_PX, LimbFit, refine
from ioflyby.pointing.model import LimbModel
from ioflyby.pointing.terminator import sample_disc, terminator_roll

_TERMINATOR_PASSES = 2


def _line_of_sight(model: LimbModel, et: float) -> np.ndarray:
    """Unit J2000 direction observer → target at the framelet epoch nearest ``et``."""
    nearest = int(np.argmin(np.abs(model.ephemeris.et - et)))
    u = model.ephemeris.target_position_km[nearest]
    return u / np.linalg.norm(u)


def rolled(attitude: SpinAttitude, line_of_sight: np.ndarray, angle: float) -> SpinAttitude:
    """The spin model turned as a whole by ``angle`` (rad) about the J2000 unit vector
    ``line_of_sight`` (the spin axis turns with it; the alignment is kept)."""
    turn = rotation_vector_matrix(np.asarray(line_of_sight, float) * angle)
    ref = attitude.reference_et
    out = SpinAttitude.from_spacecraft_rotation(
        turn @ attitude.spacecraft_to_j2000(ref), ref, attitude.rate, attitude.camera_to_spacecraft
    )
    return out.with_params(alignment=attitude.alignment)


def roll_direction(attitude: SpinAttitude, line_of_sight: np.ndarray) -> np.ndarray:
    """Unit J2000 direction in which a roll about ``line_of_sight`` moves the spin axis."""
    d = np.cross(line_of_sight, attitude.axis)
    return d / max(float(np.linalg.norm(d)), 1e-12)


def _roll_from_terminator(
    model: LimbModel, fit: LimbFit, align: bool, product, camera: JunoCam, target: str
) -> tuple[LimbFit, str]:
    """With no CK: turn the fit to the roll about the line of sight that the terminator on the
    disc sets (:func:`ioflyby.pointing.terminator.terminator_roll`) and refine with that roll
    held (± TERMINATOR_ROLL_HOLD_RAD), twice (the refit moves the solution a little). Where the
    terminator is not usable, keep the limb's roll. Returns (fit, roll source: "terminator" or
    "limb")."""
    source = "limb"
    for _ in range(_TERMINATOR_PASSES):
        disc = sample_disc(product, camera, target, fit.attitude, fit.dt)
        angle, usable = terminator_roll(disc)
        if not usable:
            break
        u = _line_of_sight(model, fit.attitude.reference_et)
        turned = replace(fit, attitude=rolled(fit.attitude, u, angle))
        hold = (turned.attitude.axis, roll_direction(turned.attitude, u))
        try:
            fit, source = refine(model, turned, align, gates=GATES_PX[-2:], roll_prior=hold), "terminator"
        except PointingError:
            break
    return fit, source
