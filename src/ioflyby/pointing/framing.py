"""Pointing of a framing camera (Galileo SSI): three small rotation angles per image, from the
target's limb and/or tie points to a reference map, starting from the CK.

A framing camera exposes the whole image at one epoch, so its pointing is one camera matrix;
there is no spin and no timing offset to solve. The solved matrix is the prior's (the loaded CK,
``C_prior``: camera frame → J2000) turned by a small rotation θ (rad, camera frame)::

    C = C_prior · R(θ),   R(θ) = exp([θ]×)  (Rodrigues; θ = axis · angle)

so a feature the prior puts on camera ray ``r`` is seen on ``R(θ)ᵀ r``.

Observations (``ioflyby.pointing.framing_limb`` and ``framing_ties``):

- *limb points*: sub-pixel limb crossings found by :func:`ioflyby.pointing.limb.detect_limb_framelet`
  (any 2-D image) with the sky and disc levels taken from the pixels the prior puts off and on the
  disc; kept within ``LIMB_GATE_PX`` of the prior's limb. Residual: the angle between the pixel's
  ray and the ellipsoid's limb cone seen from the spacecraft, in pixels (+ outside the disc);
- *tie points*: the reference map rendered in the image's geometry (Lambert shading, the image
  binned to the map's ground scale), both band-passed and phase-correlated patch by patch
  (:func:`ioflyby.pointing.features.phase_correlate`); the surface point the pose puts at a
  patch centre is seen where the shift says. Residual: (sample, line) of the point under θ minus
  the observed pixel. Re-matched at the solved pose until θ settles (``TIE_ROUNDS``). Used when
  the limb is in the frame;
- *dense registration* (:mod:`ioflyby.pointing.framing_dense`), for frames the prior puts wholly
  inside the disc: every usable pixel of the band-passed image against the band-passed map rendered
  through the pose, Gauss–Newton on θ with the CK prior; it enters the fit as θ̂ with its
  information matrix. A map that does not constrain the frame (no detail, no correlation) is
  refused with a :class:`PointingError`, not answered.

Fit: :func:`scipy.optimize.least_squares` (soft-L1 loss, then plain least squares on the inliers
within ``OUTLIER_SIGMAS`` robust σ) of the three angles, each with a Gaussian prior of
``CK_PRIOR_RAD`` (the CK's assumed accuracy: it regularises the rotation about the direction to
the target's centre, which a nearly circular limb cannot fix). Formal σ: the final Jacobian with
each data set's residual scatter; with tie points only, the reference map's registration σ
(``Georeference``) is added, because a map's offset cannot be told from the camera's pointing.

Pixels: the camera's stored pixels (ioflyby convention, centre of the upper-left pixel = (0, 0));
angles rad inside, µrad / degrees / px in the report; km; s past J2000 TDB.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares

from ioflyby.camera import Camera
from ioflyby.errors import PointingError
from ioflyby.geometry import FrameletPoses
from ioflyby.geometry.spin import rotation_vector_matrix
from ioflyby.pointing.framing_dense import MIN_CORRELATION, DenseRegistration, register_frame
from ioflyby.pointing.framing_limb import FramingLimb, detect_frame_limb, limb_in_frame
from ioflyby.pointing.framing_ties import FramingTies, match_frame
from ioflyby.pointing.quality import (
    ACROSS_SIGMA_PX,
    LIMB_RMS_PX,
    TIE_INLIER_FRACTION,
    TIE_POINTS,
    TIE_RMS_PX,
    PointingQuality,
    PointingRefused,
    judge,
    lower_check,
    upper_check,
)
from ioflyby.pointing.reference import ReferenceMap

CK_PRIOR_RAD = 1e-3
"""1-σ of each angle of the CK prior (rad): Galileo's scan-platform pointing knowledge, ~1 mrad
(≈ 100 SSI pixels) — loose against the data, firm where they say nothing."""
OUTLIER_SIGMAS = 3.0
TIE_ROUNDS = 4
"""Tie points are re-matched at the solved pose at most this many times."""
SETTLED_PX = 0.02
"""Re-matching stops when θ moves the frame by less than this (px)."""
MIN_LIMB_POINTS = 20
"""A limb with fewer points is not used."""
MIN_TIE_POINTS = 4


@dataclass
class FramingSolution:
    """The solved pointing of one framing-camera image.

    ``camera_to_j2000`` is the solved camera matrix (camera frame → J2000) at the image epoch
    ``et`` (s past J2000 TDB; the camera's mid-exposure epoch, no timing offset); ``rotation_rad``
    is θ (camera frame, rad) with ``camera_to_j2000 = prior · R(θ)``. ``sigma``: formal 1-σ
    (``across_px``, ``across_urad``: the worst direction across the boresight; ``roll_deg``:
    about it; ``per_axis_urad``). ``quality``: the verdict (``ioflyby.pointing.quality``).
    ``limb``/``tie_points``: statistics of each data set used (None where unused);
    ``reference_map``: ``ReferenceMap.to_dict()`` where one was used.
    """

    product_id: str
    target: str
    observer: str
    camera_frame: str
    filter_name: str
    et: float
    camera_to_j2000: np.ndarray
    prior_camera_to_j2000: np.ndarray
    rotation_rad: np.ndarray
    ifov_rad: float
    sigma: dict[str, float] = field(default_factory=dict)
    limb: dict | None = None
    tie_points: dict | None = None
    reference_map: dict | None = None
    dense: dict | None = None
    quality: PointingQuality | None = None
    seconds: float = 0.0
    start: str = "ck"

    @property
    def verdict(self) -> str:
        """The quality verdict: "good", "degraded" or "refused"."""
        return "good" if self.quality is None else self.quality.verdict

    @property
    def sources(self) -> list[str]:
        """What fixed the pointing: "limb", "tie_points" and/or "dense" (the dense registration)."""
        return [name for name, used in (("limb", self.limb), ("tie_points", self.tie_points), ("dense", self.dense))
                if used]

    def require_usable(self, accept_degraded: bool = False) -> FramingSolution:
        """This solution, unless its quality gates refused it and ``accept_degraded`` is False
        (then :class:`~ioflyby.pointing.quality.PointingRefused`)."""
        if self.verdict == "refused" and not accept_degraded:
            raise PointingRefused(self.product_id, self.quality)
        return self

    def framelet_poses(
        self, nominal_ets: np.ndarray, target: str | None = None, observer: str | None = None,
        camera_frame: str | None = None,
    ) -> FrameletPoses:
        """Poses of the image (ephemeris from the loaded SPK/PCK at ``nominal_ets``, flattened —
        one epoch for a framing camera; the solved camera matrix). ``target``, ``observer`` and
        ``camera_frame`` must be the solved ones (default: them)."""
        for given, solved, what in ((target, self.target, "target"), (observer, self.observer, "observer"),
                                    (camera_frame, self.camera_frame, "camera frame")):
            if given is not None and given.strip().upper() != solved.upper():
                raise PointingError(f"{self.product_id}: pointing solved for {what} {solved}, not {given}")
        ets = np.asarray(nominal_ets, float).reshape(-1)
        rotations = np.broadcast_to(self.camera_to_j2000, (ets.size, 3, 3)).copy()
        return FrameletPoses.from_spice(self.target, ets, self.observer, self.camera_frame, camera_to_j2000=rotations)

    def to_dict(self) -> dict:
        """JSON-ready summary (µrad, px, degrees, seconds)."""
        angle = float(np.linalg.norm(self.rotation_rad))
        return {
            "product_id": self.product_id, "target": self.target, "observer": self.observer,
            "camera_frame": self.camera_frame, "filter": self.filter_name, "model": "framing: C = C_prior * R(theta)",
            "image_et": self.et, "start": self.start, "sources": self.sources,
            "rotation_camera_urad": [float(v * 1e6) for v in self.rotation_rad],
            "rotation_angle_urad": angle * 1e6, "rotation_angle_px": angle / self.ifov_rad,
            "camera_to_j2000": np.asarray(self.camera_to_j2000).tolist(),
            "formal_sigma": self.sigma, "formal_sigma_note": _SIGMA_NOTE,
            "limb": self.limb, "tie_points": self.tie_points, "dense": self.dense, "reference_map": self.reference_map,
            "quality": None if self.quality is None else self.quality.to_dict(), "solve_seconds": self.seconds,
        }

    to_json = to_dict


_SIGMA_NOTE = (f"1-sigma from the final Jacobian scaled by each data set's residual scatter, CK prior "
               f"{CK_PRIOR_RAD * 1e6:g} urad per angle included; with tie points or the dense registration and no limb, "
               "the reference "
               "map's registration sigma is added (a map offset cannot be told from the pointing)")


# -- the fit -----------------------------------------------------------------------------------------
@dataclass
class _Data:
    limb: FramingLimb | None
    ties: FramingTies | None
    dense: DenseRegistration | None = None


def _residuals(theta: np.ndarray, data: _Data, limb_sigma: float, tie_sigma: float) -> np.ndarray:
    rotation = rotation_vector_matrix(theta)
    parts = []
    if data.limb is not None:
        parts.append(data.limb.residual_px(rotation) / limb_sigma)
    if data.ties is not None:
        parts.append(data.ties.residual_px(rotation).ravel() / tie_sigma)
    if data.dense is not None:
        parts.append(data.dense.residual(theta))  # already whitened by its information matrix
    return np.concatenate(parts) if parts else np.zeros(0)


def _robust_sigma(residual: np.ndarray, floor: float = 0.05) -> float:
    """1.4826 × the median absolute residual (px), at least ``floor``."""
    if residual.size == 0:
        return 1.0
    return max(float(1.4826 * np.median(np.abs(residual))), floor)


def _fit(theta0: np.ndarray, data: _Data) -> tuple[np.ndarray, np.ndarray, _Data, float, float]:
    """(θ, covariance (3, 3) rad², the inlier data, limb σ px, tie σ px)."""
    def total(theta, limb_sigma, tie_sigma, loss):
        prior = (theta - 0.0) / CK_PRIOR_RAD
        return np.concatenate([_residuals(theta, data, limb_sigma, tie_sigma), prior]), loss

    theta = np.asarray(theta0, float)
    limb_sigma = tie_sigma = 1.0
    for _ in range(3):
        result = least_squares(lambda t: total(t, limb_sigma, tie_sigma, "soft_l1")[0], theta, loss="soft_l1",
                               f_scale=OUTLIER_SIGMAS, x_scale=1e-5, diff_step=1e-3)
        theta = result.x
        rotation = rotation_vector_matrix(theta)
        if data.limb is not None:
            limb_sigma = _robust_sigma(data.limb.residual_px(rotation))
        if data.ties is not None:
            tie_sigma = _robust_sigma(data.ties.residual_px(rotation).ravel())
    rotation = rotation_vector_matrix(theta)
    inliers = _Data(
        None if data.limb is None else data.limb.subset(np.abs(data.limb.residual_px(rotation)) <= OUTLIER_SIGMAS * limb_sigma),
        None if data.ties is None else data.ties.subset(
            np.all(np.abs(data.ties.residual_px(rotation)) <= OUTLIER_SIGMAS * tie_sigma, axis=1)),
        data.dense,
    )
    result = least_squares(lambda t: np.concatenate([_residuals(t, inliers, limb_sigma, tie_sigma), t / CK_PRIOR_RAD]),
                           theta, x_scale=1e-5, diff_step=1e-3)
    theta = result.x
    rotation = rotation_vector_matrix(theta)
    # Each data set's scatter about the final fit scales its rows (the formal σ follows the data).
    if inliers.limb is not None and len(inliers.limb):
        limb_sigma = float(np.sqrt(np.mean(inliers.limb.residual_px(rotation) ** 2))) or limb_sigma
    if inliers.ties is not None and len(inliers.ties):
        tie_sigma = float(np.sqrt(np.mean(inliers.ties.residual_px(rotation) ** 2))) or tie_sigma
    jacobian = _jacobian(theta, inliers, limb_sigma, tie_sigma)
    covariance = np.linalg.inv(jacobian.T @ jacobian + np.eye(3) / CK_PRIOR_RAD**2)
    return theta, covariance, inliers, limb_sigma, tie_sigma


def _jacobian(theta: np.ndarray, data: _Data, limb_sigma: float, tie_sigma: float, step: float = 1e-7) -> np.ndarray:
    base = _residuals(theta, data, limb_sigma, tie_sigma)
    columns = []
    for k in range(3):
        moved = np.array(theta, float)
        moved[k] += step
        columns.append((_residuals(moved, data, limb_sigma, tie_sigma) - base) / step)
    return np.column_stack(columns) if base.size else np.zeros((0, 3))


# -- the solve ---------------------------------------------------------------------------------------
def solve_framing(
    product, camera: Camera, pose: FrameletPoses, radii_km: np.ndarray, reference: ReferenceMap | None = None,
    observer: str | None = None,
) -> FramingSolution:
    """Solve the camera matrix of a framing-camera ``product`` (one framelet; kernels loaded)
    from its prior ``pose`` (the CK's, at the image epoch): from Io's limb where the prior puts
    it in the frame, and from tie points to ``reference`` where one is given (both when both).
    ``radii_km``: the target's ellipsoid. Raises :class:`PointingError` when neither the limb nor
    a reference map is available, or when neither yields enough points. A frame the prior puts
    wholly inside the disc is registered densely to ``reference``
    (:func:`ioflyby.pointing.framing_dense.register_frame`); :class:`PointingError` when the map
    does not constrain it."""
    clock = time.perf_counter()
    filter_name = product.filters[0]
    image = np.asarray(product.decompanded()[0, 0], np.float64)
    radii = np.asarray(radii_km, float)
    ifov = 1.0 / camera.filter(filter_name).focal_length_px
    has_limb = limb_in_frame(camera, filter_name, pose, radii)
    if not has_limb and reference is None:
        raise PointingError(
            f"{product.product_id}: {product.target.strip()}'s limb is not in the frame and no reference map was "
            "given: pass a global mosaic of the target (solve_pointing(obs, reference=...), --basemap)")
    limb = detect_frame_limb(image, camera, filter_name, pose, radii) if has_limb else None
    if limb is not None and len(limb) < MIN_LIMB_POINTS:
        limb = None
    theta = np.zeros(3)
    data = _Data(limb, None)
    if limb is not None:
        theta = _fit(theta, data)[0]
    ties, matched, binning, dense = None, 0, 1, None
    if reference is not None and not has_limb:
        dense = register_frame(image, camera, filter_name, pose, radii, reference, prior_rad=CK_PRIOR_RAD)
        if dense is None:
            raise PointingError(
                f"{product.product_id}: the frame lies inside the disc and the reference map {reference.name!r} does "
                "not constrain it (no shared detail); give a mosaic that shows this area, or keep the CK pointing")
        theta = dense.theta
    elif reference is not None:
        for _ in range(TIE_ROUNDS):
            found = match_frame(image, camera, filter_name, _turned(pose, theta), radii, reference)
            if found is None or len(found) < MIN_TIE_POINTS:
                ties = None
                break
            ties, matched, binning = found.rebased(rotation_vector_matrix(theta)), len(found), found.binning
            previous = theta
            theta = _fit(theta, _Data(limb, ties))[0]
            if np.linalg.norm(theta - previous) / ifov < SETTLED_PX:
                break
    if limb is None and ties is None and dense is None:
        what = "no limb points" if has_limb else "the limb is not in the frame"
        raise PointingError(
            f"{product.product_id}: {what} and the reference map gave fewer than {MIN_TIE_POINTS} tie points; "
            "the frame cannot be pointed from the image (check the target, the map, or keep the CK pointing)")
    theta, covariance, inliers, limb_sigma, tie_sigma = _fit(theta, _Data(limb, ties, dense))
    camera_to_j2000 = pose.camera_to_j2000 @ rotation_vector_matrix(theta)
    sigma = _sigma(covariance, camera, filter_name, pose, radii, ifov, reference if limb is None else None)
    limb_stats = None if limb is None else {
        "n_detected": len(limb), "n_used": len(inliers.limb), "rms_px": limb_sigma,
        "arc_deg": inliers.limb.arc_deg()}
    tie_stats = None if ties is None else {
        "n_matched": matched, "n_used": len(inliers.ties), "rms_px": tie_sigma, "binning": binning,
        "inlier_fraction": len(inliers.ties) / max(matched, 1)}
    solution = FramingSolution(
        product_id=product.product_id, target=pose.target, observer=observer or camera.spacecraft,
        camera_frame=camera.frame, filter_name=filter_name, et=float(pose.et), camera_to_j2000=camera_to_j2000,
        prior_camera_to_j2000=np.array(pose.camera_to_j2000), rotation_rad=theta, ifov_rad=ifov, sigma=sigma,
        limb=limb_stats, tie_points=tie_stats, dense=None if dense is None else dense.to_dict(), reference_map=None if reference is None else reference.to_dict(),
    )
    solution.quality = assess_framing(solution)
    solution.seconds = time.perf_counter() - clock
    return solution


def _turned(pose: FrameletPoses, theta: np.ndarray) -> FrameletPoses:
    from dataclasses import replace

    return replace(pose, camera_to_j2000=pose.camera_to_j2000 @ rotation_vector_matrix(theta))


def _sigma(covariance: np.ndarray, camera: Camera, filter_name: str, pose: FrameletPoses, radii: np.ndarray,
           ifov: float, reference: ReferenceMap | None) -> dict[str, float]:
    """Formal σ across the boresight (worst direction) and about it, plus the map's registration
    where only the map fixes the pointing."""
    across_var = float(np.linalg.eigvalsh(covariance[:2, :2])[-1])
    roll_var = float(covariance[2, 2])
    map_urad = 0.0
    if reference is not None:
        centre = pose.rays_to_surface(camera.pixel_to_ray(filter_name, np.array([(camera.framelet_samples - 1) / 2]),
                                                          np.array([(camera.framelet_lines - 1) / 2])), radii)[0]
        distance = float(np.linalg.norm(pose.observer_km - centre)) if np.isfinite(centre[0]) else float(
            np.linalg.norm(pose.observer_km))
        registration = np.radians(reference.georeference.registration_sigma_deg) * float(np.mean(radii))
        map_urad = registration / distance * 1e6
        across_var += (map_urad * 1e-6) ** 2
        half_width = 0.5 * camera.framelet_samples * ifov * distance / float(np.mean(radii))
        roll_var += np.radians(reference.georeference.rotation_sigma_deg(np.degrees(half_width))) ** 2
    half_diagonal_px = 0.5 * float(np.hypot(camera.framelet_samples, camera.framelet_lines))
    return {"across_px": float(np.sqrt(across_var) / ifov), "across_urad": float(np.sqrt(across_var) * 1e6),
            "roll_deg": float(np.degrees(np.sqrt(roll_var))), "roll_corner_px": float(np.sqrt(roll_var) * half_diagonal_px), "map_registration_urad": float(map_urad),
            "per_axis_urad": [float(v) for v in np.sqrt(np.diag(covariance)) * 1e6]}


def assess_framing(solution: FramingSolution) -> PointingQuality:
    """The quality verdict of a framing solve: formal σ across the boresight and about it (the
    roll as the shift it makes at the frame's corner; both held to ``ACROSS_SIGMA_PX``), the
    limb RMS (when the limb was used), the tie points' count, inlier fraction and RMS (when used),
    the dense registration's correlation of image and rendered map (when used)."""
    checks = [
        upper_check("across_sigma", solution.sigma["across_px"], ACROSS_SIGMA_PX, "px",
                    "pointing formal sigma across the line of sight"),
        upper_check("roll_sigma", solution.sigma["roll_corner_px"], ACROSS_SIGMA_PX, "px",
                    "roll formal sigma about the line of sight, at the frame's corner"),
    ]
    if solution.limb is not None:
        checks.append(upper_check("limb_rms", solution.limb["rms_px"], LIMB_RMS_PX, "px", "limb RMS"))
    if solution.tie_points is not None:
        ties = solution.tie_points
        checks += [
            lower_check("tie_points", float(ties["n_used"]), TIE_POINTS if solution.limb is None else (4, 2),
                        "points", "tie points to the reference map"),
            lower_check("tie_inlier_fraction", ties["inlier_fraction"], TIE_INLIER_FRACTION, "",
                        "fraction of tie points kept"),
            upper_check("tie_rms", ties["rms_px"], TIE_RMS_PX, "px", "tie-point RMS"),
        ]
    if solution.dense is not None:
        checks.append(lower_check("dense_correlation", solution.dense["correlation"], (0.6, MIN_CORRELATION), "",
                                  "band-passed image vs rendered reference map, correlation"))
    return judge(checks)


__all__ = ["CK_PRIOR_RAD", "FramingSolution", "assess_framing", "solve_framing"]
