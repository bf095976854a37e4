"""The roll about the line of sight from the terminator on the disc.

A roll of the camera about the line of sight to the target leaves a round limb where it is but
turns the sky, and with it the Sun, about that line: the terminator on the disc turns with it.
The roll is where the predicted day/night boundary (solar incidence 90°) best separates the
image's lit pixels from its dark ones. Surface points, normals and the Sun are computed once, at
the current solution; a roll ψ then only turns the Sun direction about the line of sight by −ψ
in the body frame (the sky turned by ψ about the target is the target and its Sun turned by −ψ),
so a scan over rolls costs one dot product per sampled pixel and roll.

Score: over the sampled disc pixels within ``NEAR_TERMINATOR_COS`` of the predicted terminator
(|cos i| small), the fraction where "predicted lit" (cos i > 0) agrees with "observed lit"
(decompanded DN above ``DARK_FRACTION`` of the product's clearly lit level, per filter). A
boundary needs no photometric law and ignores albedo (any surface brighter than 1 % of the lit
level counts as lit). The observed boundary need not lie at cos i = 0 (twilight moves it to the
night side, the DN threshold to the day side), and a shifted boundary compared with the predicted
one would be turned to compromise, so its level is fitted too. On the pj57 twin (no CK) the roll
comes out within 0.06–0.14°, where the ends of the lit limb arc left 1.0–4.1° (and a brightness
correlation 0.4–0.9°).

Angles in radians; body-fixed frames as ``ioflyby.geometry``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ioflyby.camera import JunoCam
from ioflyby.geometry import FrameletPoses, framelet_mid_ets, target_radii
from ioflyby.geometry.spin import SpinAttitude
from ioflyby.geometry.surface import surface_normals

SAMPLE_STEP_PX = 8
LINE_STEP_PX = 4
EDGE_LINES = 2
NEAR_TERMINATOR_COS = 0.1
DARK_FRACTION = 0.01
LIT_COS = 0.2
MIN_TERMINATOR_PIXELS = 250
BOUNDARY_LEVELS = np.arange(-0.05, 0.0501, 0.005)
SCAN_HALF_WIDTH_DEG = 180.0
COARSE_STEP_DEG = 1.0
MAX_DISC_PIXELS = 50_000
FINE_STEP_DEG = 0.05


@dataclass(frozen=True)
class DiscSamples:
    """Sampled disc pixels of one product at one solution: body-fixed unit normals (N, 3), the
    Sun direction per pixel (N, 3, body frame at its framelet), the line of sight per pixel
    (N, 3, body frame, observer → target), DN normalised per filter (N,)."""

    normals: np.ndarray
    sun: np.ndarray
    line_of_sight: np.ndarray
    brightness: np.ndarray


def sample_disc(product, camera: JunoCam, target: str, attitude: SpinAttitude, dt: float) -> DiscSamples:
    """Disc pixels on a grid (every ``SAMPLE_STEP_PX`` samples, ``LINE_STEP_PX`` lines) of every
    framelet of ``product``, with their surface normals for ``attitude`` and timing offset ``dt``
    (s; framelet epochs nominal + dt). Kernels loaded."""
    radii = target_radii(target)
    cube = product.decompanded()
    ets = framelet_mid_ets(product, camera)
    samples, lines = np.meshgrid(
        np.arange(0, cube.shape[-1], SAMPLE_STEP_PX, dtype=float),
        np.arange(EDGE_LINES, cube.shape[-2] - EDGE_LINES, LINE_STEP_PX, dtype=float),
    )
    samples, lines = samples.ravel(), lines.ravel()
    rays = {name: camera.pixel_to_ray(name, samples, lines) for name in product.filters}
    nominal = ets.reshape(-1)
    poses = FrameletPoses.from_spice(target, nominal + dt, camera_to_j2000=attitude.camera_to_j2000(nominal, dt))
    normals, suns, sights, dns, filters = [], [], [], [], []
    for exposure in range(ets.shape[0]):
        for f, name in enumerate(product.filters):
            pose = poses[exposure * ets.shape[1] + f]
            points = pose.rays_to_surface(rays[name], radii)
            hit = np.isfinite(points[:, 0])
            if not hit.any():
                continue
            normals.append(surface_normals(points[hit], radii))
            suns.append(np.broadcast_to(pose.sun_direction, (hit.sum(), 3)))
            sight = pose.j2000_to_body @ pose.target_position_km
            sights.append(np.broadcast_to(sight / np.linalg.norm(sight), (hit.sum(), 3)))
            dns.append(cube[exposure, f][lines[hit].astype(int), samples[hit].astype(int)].astype(float))
            filters.append(np.full(hit.sum(), f))
    if not normals:
        return DiscSamples(*(np.zeros((0, 3)),) * 3, np.zeros(0))
    normals, sun, sight = np.concatenate(normals), np.concatenate(suns), np.concatenate(sights)
    brightness, filter_of = np.concatenate(dns), np.concatenate(filters)
    cos_i = np.einsum("ni,ni->n", normals, sun)
    for f in np.unique(filter_of):
        mine = filter_of == f
        lit = mine & (cos_i > LIT_COS)
        scale = np.percentile(brightness[lit], 90) if lit.sum() > 10 else 0.0
        brightness[mine] = brightness[mine] / scale if scale > 0 else np.nan
    keep = np.nonzero(np.isfinite(brightness))[0]
    if keep.size > MAX_DISC_PIXELS:  # evenly thinned: the scan's cost is linear in pixels
        keep = keep[np.linspace(0, keep.size - 1, MAX_DISC_PIXELS).round().astype(int)]
    return DiscSamples(normals[keep], sun[keep], sight[keep], brightness[keep])


def _incidence_terms(disc: DiscSamples) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(p, q, r) per pixel with cos i = p cos ψ + q sin ψ + r for the Sun turned by ψ about
    the pixel's line of sight u (Rodrigues: s' = s cos ψ + (u × s) sin ψ + u (u·s)(1 − cos ψ))."""
    n, u, s = disc.normals, disc.line_of_sight, disc.sun
    along = np.einsum("ni,ni->n", n, u) * np.einsum("ni,ni->n", u, s)
    return np.einsum("ni,ni->n", n, s) - along, np.einsum("ni,ni->n", n, np.cross(u, s)), along


def _cos_incidence(terms: tuple[np.ndarray, np.ndarray, np.ndarray], angle: float) -> np.ndarray:
    """cos i of every pixel for the solution rolled by ``angle`` (rad): the Sun turned by −angle."""
    p, q, r = terms
    return p * np.cos(-angle) + q * np.sin(-angle) + r


def _agreement(cos_i: np.ndarray, observed_lit: np.ndarray, level: float) -> tuple[float, int, int]:
    """(agreement fraction, predicted lit, predicted dark) near the boundary cos i = ``level``."""
    shifted = cos_i - level
    near = np.abs(shifted) < NEAR_TERMINATOR_COS
    if not near.any():
        return float("nan"), 0, 0
    predicted_lit = shifted[near] > 0.0
    agree = predicted_lit == observed_lit[near]
    return float(np.mean(agree)), int(predicted_lit.sum()), int((~predicted_lit).sum())


def terminator_score(disc: DiscSamples, angle: float, level: float = 0.0) -> tuple[float, int, int]:
    """For the solution rolled by ``angle`` (rad) about the line of sight and the observed
    day/night boundary taken at cos i = ``level``: (fraction of the pixels within
    ``NEAR_TERMINATOR_COS`` of that boundary whose observed lit/dark state agrees with the
    prediction, number of those predicted lit, number predicted dark)."""
    return _agreement(_cos_incidence(_incidence_terms(disc), angle), disc.brightness > DARK_FRACTION, level)


def terminator_roll(disc: DiscSamples) -> tuple[float, bool]:
    """The roll (rad, to apply with ``roll.rolled`` about the line of sight) that maximises
    :func:`terminator_score`: a coarse scan over the full turn with the boundary at cos i = 0,
    then a fine one about its best with the boundary level free (``BOUNDARY_LEVELS``: twilight
    puts the observed boundary on the night side, a dark surface or the DN threshold on the day
    side, and a boundary shifted from the predicted one would otherwise be turned to compromise
    — 0.25° on a test sphere), taking the middle of the fine scan's best plateau. Second value:
    whether the terminator was usable (at least ``MIN_TERMINATOR_PIXELS`` on either side of
    cos i = 0 near it at that roll: no night side in view, no terminator)."""
    terms = _incidence_terms(disc)
    observed_lit = disc.brightness > DARK_FRACTION
    coarse = np.radians(np.arange(-SCAN_HALF_WIDTH_DEG, SCAN_HALF_WIDTH_DEG, COARSE_STEP_DEG))
    scores = np.array([_agreement(_cos_incidence(terms, a), observed_lit, 0.0)[0] for a in coarse])
    if not np.isfinite(scores).any():
        return 0.0, False
    fine = coarse[int(np.nanargmax(scores))] + np.radians(
        np.arange(-COARSE_STEP_DEG, COARSE_STEP_DEG + 1e-9, FINE_STEP_DEG)
    )
    fine_scores = np.full(fine.size, np.nan)
    for k, angle in enumerate(fine):
        cos_i = _cos_incidence(terms, angle)
        fine_scores[k] = np.nanmax([_agreement(cos_i, observed_lit, level)[0] for level in BOUNDARY_LEVELS])
    top = np.nonzero(fine_scores == np.nanmax(fine_scores))[0]
    angle = float(np.angle(np.exp(1j * np.mean(fine[top]))))
    _, lit, dark = _agreement(_cos_incidence(terms, angle), observed_lit, 0.0)
    return angle, min(lit, dark) >= MIN_TERMINATOR_PIXELS
