"""Reconstruct a view from every framelet of one or more products: linear I/F per channel.

Steps (each recorded in :attr:`Reconstruction.record`): decompanded DN → dark level removed (per
filter, the median of its darkest 2 % of photoactive pixels) → I/F with ioflyby's nominal
JunoCam radiometry (DN per unit I/F per TDI stage at 5.2 AU, :data:`ioflyby.volcano.thermal.
RESPONSIVITY_DN`, scaled by the TDI and the Sun's distance of each framelet) — the white balance
"from calibrated radiance": channels in I/F are directly comparable → when the view's pixels are
coarser than the framelets', a Gaussian anti-aliasing pre-filter of σ = ½·√(k² − 1) framelet
pixels (k the ratio of scales) → :mod:`ioflyby.render.sample` (Lanczos-3, best-resolved
framelet, sky kept out) → a common validity mask (every channel valid) with the limb tapered
over :data:`LIMB_TAPER_PX` output pixels, identical in all channels.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter

from ioflyby.errors import GeometryError
from ioflyby.mapping.reproject import LIMB_CLEARANCE_PX, LIMB_REACH_PX, limb_band_cos_emission, pack_camera
from ioflyby.observation import Observation
from ioflyby.render import sample
from ioflyby.render.view import View, view_code
from ioflyby.simulate.render import REFERENCE_SUN_DISTANCE_KM
from ioflyby.volcano.thermal import RESPONSIVITY_DN

LIMB_TAPER_PX = 1.5
"""The limb's anti-aliasing ramp: alpha rises from 0 to 1 over this many output pixels inside it."""
LANCZOS_REACH_PX = 3.5
"""How far (framelet px) a Lanczos-3 tap may lie from its sample, with the interpolation's slack."""
DARK_FRACTION = 2.0
DARK_STRIDE = (2, 5)
"""The dark level is estimated from every 2nd line and 5th sample of the photoactive area."""
RGB = ("RED", "GREEN", "BLUE")


@dataclass
class Reconstruction:
    """A view reconstructed from framelets: ``channels`` name → float32 I/F [row, col] (NaN where
    not valid), ``valid`` (every channel valid and the pixel on the disc), ``alpha`` in [0, 1]
    (``valid`` with the limb taper), ``cos_incidence``, ``cos_emission``, ``km_per_px`` (of the
    best framelet), ``limb_px`` (distance to the limb, output px), the view and a record."""

    view: View
    channels: dict[str, np.ndarray]
    valid: np.ndarray
    alpha: np.ndarray
    cos_incidence: np.ndarray
    cos_emission: np.ndarray
    km_per_px: np.ndarray
    limb_px: np.ndarray
    record: dict = field(default_factory=dict)
    seconds: float = 0.0

    def rgb_names(self) -> list[str]:
        """Channel names in display order (RED, GREEN, BLUE where present)."""
        names = [n for n in RGB if n in self.channels]
        return names if len(names) == 3 else list(self.channels)[:3]


def framelet_if(observation: Observation, images: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """Framelets [exposure, filter, line, sample] of ``observation`` in I/F (float32, see the
    module docstring) and what was done to them."""
    product = observation.product
    source = product.decompanded() if images is None else images
    data = np.array(source, np.float32, copy=True)
    darks, scales = {}, {}
    sun = observation.poses.sun_distance_km.reshape(product.n_exposures, len(product.filters))
    for j, name in enumerate(product.filters):
        active = data[:, j, ::DARK_STRIDE[0], 24:1632:DARK_STRIDE[1]]  # a regular subset suffices
        finite = active[np.isfinite(active)]
        low = finite[finite <= np.percentile(finite, DARK_FRACTION)] if finite.size else np.zeros(1)
        dark = float(np.median(low))
        darks[name] = dark
        responsivity = RESPONSIVITY_DN.get(name, 800.0) * product.tdi_stages
        factor = responsivity * (REFERENCE_SUN_DISTANCE_KM / sun[:, j]) ** 2
        data[:, j] -= dark
        data[:, j] /= factor[:, None, None].astype(np.float32)
        scales[name] = float(np.mean(factor))
    record = {"product": product.product_id, "input": "decompanded 12-bit DN" if images is None else "given images",
              "dark_dn": darks, "dn_per_unit_if": scales,
              "white_balance": "I/F from ioflyby's nominal JunoCam radiometry (RESPONSIVITY_DN x TDI x (5.2 AU / d_sun)^2)"}
    return data, record


def reconstruct(observations: Sequence[Observation], view: View, images: Sequence[np.ndarray | None] | None = None,
                channel_names: Sequence[str] | None = None) -> Reconstruction:
    """Reconstruct ``view`` from every framelet of ``observations`` (with poses); see the module
    docstring. ``images``: per observation linear framelets to use instead of the decompanded DN."""
    began = time.perf_counter()
    if not observations:
        raise GeometryError("no product to render")
    images = list(images) if images is not None else [None] * len(observations)
    names = list(channel_names or [n for n in observations[0].product.filters if n != "METHANE"] or
                 list(observations[0].product.filters))
    index = {n: k for k, n in enumerate(names)}
    et_ref = min(float(np.min(o.poses.et)) for o in observations)
    cubes, poses, cams, channel, observers, focal, records = [], [], [], [], [], [], []
    for obs, given in zip(observations, images):
        data, record = framelet_if(obs, given)
        records.append(record)
        n_e, n_f = data.shape[:2]
        keep = [j for j, n in enumerate(obs.product.filters) if n in index]
        packed = obs.poses.packed(et_ref).reshape(n_e, n_f, -1)
        for j in keep:
            name = obs.product.filters[j]
            cubes.append(data[:, j])
            poses.append(packed[:, j])
            cams.append(np.tile(pack_camera(obs.camera, name), (n_e, 1)))
            channel.append(np.full(n_e, index[name]))
            observers.append(obs.poses.observer_km.reshape(n_e, n_f, 3)[:, j])
            focal.append(np.full(n_e, obs.camera.filter(name).focal_length_px))
    cube = np.ascontiguousarray(np.concatenate(cubes), np.float32)
    pose = np.ascontiguousarray(np.concatenate(poses))
    cam = np.ascontiguousarray(np.concatenate(cams))
    chan = np.ascontiguousarray(np.concatenate(channel), np.int64)
    observer = np.concatenate(observers)
    focal_px = np.concatenate(focal)
    radii = np.asarray(view.radii_km, float)
    framelet_km = (float(np.min(np.linalg.norm(observer, axis=1))) - float(np.max(radii))) / float(np.max(focal_px))
    ratio = view.km_per_px / framelet_km
    prefilter = 0.5 * math.sqrt(ratio**2 - 1.0) if ratio > 1.25 else 0.0
    if prefilter > 0:
        for f in range(cube.shape[0]):
            cube[f] = gaussian_filter(np.nan_to_num(cube[f]), prefilter, mode="nearest")
    # Per framelet, the cos(emission) below which a Lanczos tap might see the sky (the mapping's
    # bound, its reach widened from the bilinear 2 px to the Lanczos 3.5 px).
    widen = (LIMB_REACH_PX + LIMB_CLEARANCE_PX) / (LANCZOS_REACH_PX + LIMB_CLEARANCE_PX)
    limb = np.ascontiguousarray(np.stack([limb_band_cos_emission(observer, radii, focal_px * widen),
                                          LIMB_CLEARANCE_PX / focal_px], axis=1))
    kind = view_code(view)
    cand = sample.candidate_blocks(kind, view.params, view.grid_params, radii, view.height, view.width, sample.BLOCK,
                                   pose, cam)
    n_c = len(names)
    acc = np.zeros((n_c, view.height, view.width), np.float32)
    wsum = np.zeros_like(acc)
    planes = np.full((len(sample.PLANES), view.height, view.width), np.nan, np.float32)
    seen = np.zeros(cube.shape, np.int8)
    middle = len(observations[0].poses) // 2
    sun = np.ascontiguousarray(observations[0].poses.sun_direction[middle], float)
    sample.render_blocks(kind, view.params, view.grid_params, radii, view.height, view.width, sample.BLOCK, sample.SUB,
                         pose, cam, limb, seen, cube, chan, n_c, cand, _LUT, sun, acc, wsum, planes)
    covered = wsum > 0
    valid = covered.all(axis=0) & np.isfinite(planes[0])
    values = np.divide(acc, wsum, out=acc, where=covered)  # in place: acc becomes the values
    values[:, ~valid] = np.nan
    limb_px = planes[3]
    alpha = np.nan_to_num(limb_px)
    alpha *= np.float32(1.0 / LIMB_TAPER_PX)
    np.clip(alpha, 0.0, 1.0, out=alpha)
    alpha[~valid] = 0.0
    channels = {n: values[k] for n, k in index.items()}
    record = {
        "products": records,
        "view": view.describe(),
        "sampling": {"kernel": "Lanczos-3 (separable, 1024-phase table, normalised)",
                     "near_limb": "bilinear from neighbours whose rays clear the limb by 0.5 px (ioflyby.mapping)",
                     "framelet_choice": f"best resolved (range/(f cos e)); within {sample.RESOLUTION_TOLERANCE:.0%} "
                                        f"blended, {sample.FEATHER_PX} px feather at framelet edges",
                     "anti_alias_sigma_framelet_px": prefilter, "output_to_framelet_scale": ratio},
        "mask": {"rule": "every channel valid (common mask); outside it black",
                 "limb_taper_px": LIMB_TAPER_PX},
        "coverage_fraction_of_disc": float(valid.sum() / max(1, np.isfinite(planes[0]).sum())),
    }
    return Reconstruction(view, channels, valid, alpha, planes[0], planes[1], planes[2], limb_px, record,
                          time.perf_counter() - began)


_LUT = sample.lanczos_table().astype(np.float32)
