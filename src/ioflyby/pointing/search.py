"""Global attitude search from the limb alone, with no prior on the spin axis (the start of a
solve that has no CK).

a. For each candidate spin rate (``SEARCH_RATES_RPM``, ±1.85…2.15 rpm), the limb rays are
   "despun" to a common epoch about the FK's spin axis in the camera frame, and a cone (the
   target's apparent disc) is fitted to them by RANSAC; the best rate gives the target centre's
   direction in the camera frame at that epoch (two of the three attitude angles).
b. The remaining angle, the roll about the camera → target line, is scanned over 360° and
   scored by how many points the exact model (ellipsoid, lit limb only, gradient direction)
   places near its predicted limb; the best few peaks are the candidate starts of the limb fit
   (``ioflyby.pointing.fit.refine``).

Rays are unit vectors in the camera frame (JUNO_JUNOCAM); the spin axis is the spacecraft +Z
(JUNO_SPACECRAFT), taken to the camera frame through the FK; the candidate attitudes are
``SpinAttitude`` objects (rates rad/s, angles rad, times s past J2000 TDB).
"""

from __future__ import annotations

import numpy as np

from ioflyby.errors import PointingError
from ioflyby.geometry.spin import SpinAttitude, rotation_vector_matrix
from ioflyby.pointing.fit import MIN_POINTS
from ioflyby.pointing.model import LimbModel

RPM = 2.0 * np.pi / 60.0
SEARCH_RATES_RPM = np.round(np.arange(1.85, 2.1501, 0.01), 4)
_SEARCH_POINTS = 1500
_RANSAC_HYPOTHESES = 300
_ROLL_STEP_DEG = 2.0
_ROLL_CANDIDATES = 3
_DISTINCT_CENTRE_DEG = 0.5
_MULTI_RATE_ROLL_POINTS = 600


def _despun_rays(model: LimbModel, spin_axis_camera: np.ndarray, rate: float, ref_et: float) -> np.ndarray:
    """Rays rotated about the camera-frame spin axis to where they point at ``ref_et`` (the
    target held fixed in inertial space)."""
    angle = rate * (model.ephemeris.et[model.framelet] - ref_et)
    k = spin_axis_camera
    r = model.rays[0]
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    # Rodrigues, camera frame: c → J2000 is C_ref · Rot(k, angle) · r.
    return r * cos + np.cross(k, r) * sin + np.outer(r @ k, k) * (1 - cos)


def _ransac_cone(rays: np.ndarray, rho_range: tuple[float, float], rng: np.random.Generator) -> tuple[int, np.ndarray]:
    """Best cone (axis c, any half-angle within ``rho_range`` rad) through unit ``rays``:
    (number of inliers within 0.4°, axis)."""
    n = len(rays)
    picks = np.array([rng.choice(n, 3, replace=False) for _ in range(_RANSAC_HYPOTHESES)])
    a = rays[picks]  # (H, 3, 3)
    good = np.abs(np.linalg.det(a)) > 1e-9
    w = np.full((len(a), 3), np.nan)
    w[good] = np.linalg.solve(a[good], np.ones((good.sum(), 3, 1)))[..., 0]
    norm = np.linalg.norm(w, axis=1)
    axis = w / norm[:, None]
    rho = np.arccos(np.clip(1.0 / norm, -1, 1))
    plausible = good & (rho > rho_range[0]) & (rho < rho_range[1])
    tolerance = np.sin(rho) * np.radians(0.4)
    inliers = np.abs(axis @ rays.T - np.cos(rho)[:, None]) < tolerance[:, None]
    counts = np.where(plausible, inliers.sum(axis=1), 0)
    best = int(np.argmax(counts))
    if counts[best] < 3:
        return 0, axis[best]
    # Refit on the inliers (linear, unconstrained half-angle).
    sel = inliers[best]
    w_fit, *_ = np.linalg.lstsq(rays[sel], np.ones(sel.sum()), rcond=None)
    return int(counts[best]), w_fit / np.linalg.norm(w_fit)


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation taking unit vector a to unit vector b."""
    axis = np.cross(a, b)
    s = np.linalg.norm(axis)
    angle = np.arctan2(s, float(a @ b))
    return rotation_vector_matrix(axis / s * angle) if s > 1e-15 else np.eye(3)


def _roll_score(model: LimbModel, attitude: SpinAttitude) -> float:
    res = model.residuals(attitude, 0.0)
    weight = res.lit & res.aligned & np.isfinite(res.residual_px)
    return float(np.sum(weight / (1.0 + (np.nan_to_num(res.residual_px, nan=1e9) / 10.0) ** 2)))


def _rate_hypotheses(sub: LimbModel, spin_axis_camera: np.ndarray, ref_et: float, rho_range: tuple[float, float],
                     rng: np.random.Generator) -> list[tuple[int, float, np.ndarray]]:
    """(inlier count, rate rad/s, target-centre direction in the camera frame at ``ref_et``) of
    every candidate spin rate and sense, best first."""
    out = []
    for rpm in SEARCH_RATES_RPM:
        for sign in (1.0, -1.0):
            rate = sign * rpm * RPM
            rays = _despun_rays(sub, spin_axis_camera, rate, ref_et)
            count, axis = _ransac_cone(rays, rho_range, rng)
            out.append((count, rate, axis))
    out.sort(key=lambda item: -item[0])
    return out


def _distinct_rates(hypotheses: list, n_rates: int) -> list:
    """The best ``n_rates`` hypotheses whose target-centre directions differ by more than
    ``_DISTINCT_CENTRE_DEG`` from every better one (the same disc found at a neighbouring rate
    is not a new start)."""
    chosen = []
    for hypothesis in hypotheses:
        if all(np.degrees(np.arccos(np.clip(hypothesis[2] @ c[2], -1, 1))) > _DISTINCT_CENTRE_DEG or
               np.sign(hypothesis[1]) != np.sign(c[1]) for c in chosen):
            chosen.append(hypothesis)
        if len(chosen) == n_rates:
            break
    return chosen


def global_search(model: LimbModel, fk_rotation: np.ndarray, seed: int = 0, n_rates: int = 1) -> list[SpinAttitude]:
    """Candidate attitudes (best first) from the limb alone, with no prior on the spin axis.

    ``fk_rotation`` is JUNO_JUNOCAM → JUNO_SPACECRAFT; the spin axis is the spacecraft +Z.
    ``n_rates``: how many distinct spin-rate hypotheses (best cone fits whose target centres
    differ) give roll candidates; a short limb arc near closest approach fits a disc at more
    than one rate, and the surface-feature solve tells them apart (``ioflyby.pointing.surface``).
    """
    rng = np.random.default_rng(seed)
    sub = model.subset(np.sort(rng.choice(len(model), min(len(model), _SEARCH_POINTS), replace=False)))
    ref_et = float(np.median(sub.ephemeris.et[sub.framelet]))
    nearest = int(np.argmin(np.abs(sub.ephemeris.et - ref_et)))
    centre_km = sub.ephemeris.target_position_km[nearest]
    distance = float(np.linalg.norm(centre_km))
    rho_min = np.arcsin(min(1.0, sub.radii.min() / distance))
    rho_max = np.arcsin(min(1.0, sub.radii.max() / distance))
    spin_axis_camera = fk_rotation.T @ np.array([0.0, 0.0, 1.0])
    hypotheses = _rate_hypotheses(sub, spin_axis_camera, ref_et, (0.9 * rho_min, 1.1 * rho_max + 0.01), rng)
    count = hypotheses[0][0]
    if count < MIN_POINTS:
        raise PointingError(
            f"global pointing search found no consistent limb ({count} points fit a disc); "
            "is the target in the image, or is the product too faint?"
        )
    u = centre_km / distance
    if n_rates > 1 and len(sub) > _MULTI_RATE_ROLL_POINTS:
        sub = sub.subset(np.sort(rng.choice(len(sub), _MULTI_RATE_ROLL_POINTS, replace=False)))
    order = []
    for count, rate, centre_camera in _distinct_rates(hypotheses, n_rates):
        if count < MIN_POINTS:
            break
        order += _roll_candidates(sub, u, centre_camera, ref_et, rate, fk_rotation)
    return order


def _roll_candidates(sub: LimbModel, u: np.ndarray, centre_camera: np.ndarray, ref_et: float, rate: float,
                     fk_rotation: np.ndarray) -> list[SpinAttitude]:
    """The roll about the camera → target line scanned over 360°: the best distinct peaks of
    the limb score, best first."""
    align = _rotation_between(centre_camera, u)
    scored = []
    for psi in np.radians(np.arange(0.0, 360.0, _ROLL_STEP_DEG)):
        camera_to_j2000 = rotation_vector_matrix(u * psi) @ align
        attitude = SpinAttitude.from_camera_rotation(camera_to_j2000, ref_et, rate, fk_rotation)
        scored.append((_roll_score(sub, attitude), psi, attitude))
    scores = np.array([s[0] for s in scored])
    order = []
    for i in np.argsort(-scores):  # distinct local maxima, best first
        is_peak = scores[i] >= scores[i - 1] and scores[i] >= scores[(i + 1) % len(scores)]
        if is_peak:
            order.append(scored[i][2])
        if len(order) == _ROLL_CANDIDATES:
            break
    return order
