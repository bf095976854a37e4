"""Numba kernels of the inverse reprojection: map cell → surface point → framelet pixel → sample.

The per-point mathematics repeats :meth:`ioflyby.geometry.FrameletPoses.surface_to_rays` (light
time per point to first order about the centre's, stellar aberration) followed by the camera's
``ray_to_pixel`` (radial distortion), in scalar form so that one compiled loop does everything
without temporaries; ``tests/test_mapping_reproject.py`` (JunoCam) and ``tests/test_galileo.py``
(Galileo SSI) check it against those numpy implementations. Frames: body-fixed (IAU_<TARGET>) for
surface points, J2000 inside the pose, the camera frame for rays. Units: km, s, radians, pixels.

Near the limb, :func:`limb_clearance` runs the other way (pixel → ray → ellipsoid, the scalar form
of the camera's ``pixel_to_ray`` and ``FrameletPoses.rays_to_surface``) to keep the bilinear
neighbours that see the sky out of a sample; ``tests/test_mapping_limb.py`` checks it against them.

Packed pose layout: :meth:`ioflyby.geometry.FrameletPoses.packed` (one row per framelet, float64).
Packed camera layout: :data:`ioflyby.camera.base.PACKED_LAYOUT` (``Camera.packed``, one row per
framelet): focal length (px), distortion centre (corner-origin px), k1, k2, the distortion model
(forward: distorted = undistorted·(1 + k1 r² + k2 r⁴), JunoCam's IK; inverse: undistorted =
distorted·(1 + k1 r_d² + k2 r_d⁴), ISIS's, Galileo SSI) and the photoactive area (first/last
sample and line). Nothing here knows which camera it maps.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from ioflyby._numba import jit
from ioflyby.camera.junocam import (
    FRAMELET_LINES,
    IK_PIXEL_ORIGIN_OFFSET,
    PHOTOACTIVE_FIRST_SAMPLE,
    PHOTOACTIVE_SAMPLES,
)
from ioflyby.geometry import SPEED_OF_LIGHT_KM_S
from ioflyby.mapping import projections as proj

FIRST_LINE, LAST_LINE = 0.0, float(FRAMELET_LINES - 1)
FIRST_SAMPLE = float(PHOTOACTIVE_FIRST_SAMPLE)  # JunoCam's photoactive columns (cameras' own: packed rows)
LAST_SAMPLE = float(PHOTOACTIVE_FIRST_SAMPLE + PHOTOACTIVE_SAMPLES - 1)
IK_OFFSET = IK_PIXEL_ORIGIN_OFFSET
"""Corner-origin pixel coordinates (the packed distortion centre's) minus ioflyby's."""
CAM_MODEL, CAM_FIRST_SAMPLE, CAM_LAST_SAMPLE, CAM_FIRST_LINE, CAM_LAST_LINE = 5, 6, 7, 8, 9
"""Columns of a packed camera row (:data:`ioflyby.camera.base.PACKED_LAYOUT`)."""
DISTORT_MAX_STEPS = 30
LIGHT_TIME_ITERATIONS = 3
UNDISTORT_MAX_STEPS = 20
UNDISTORT_TOLERANCE_PX = 1e-10

PHOTOMETRY = {"none": 0, "lambert": 1, "lommel-seeliger": 2, "minnaert": 3}
OVERLAP = {"feather": 0, "emission": 1}
MIN_COS_INCIDENCE = 0.02
BACKPLANES = ("weight", "incidence", "emission", "phase", "km_per_px", "time")


@jit(inline="always")
def surface_point(lat: float, lon: float, a: float, b: float, c: float):
    """Triaxial-ellipsoid point (km) and outward unit normal at planetocentric (lat, lon)."""
    dx, dy, dz = math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)
    scale = 1.0 / math.sqrt((dx / a) ** 2 + (dy / b) ** 2 + (dz / c) ** 2)
    px, py, pz = dx * scale, dy * scale, dz * scale
    nx, ny, nz = px / (a * a), py / (b * b), pz / (c * c)
    norm = math.sqrt(nx * nx + ny * ny + nz * nz)
    return px, py, pz, nx / norm, ny / norm, nz / norm


@jit()
def point_to_pixel(pose: np.ndarray, cam: np.ndarray, px: float, py: float, pz: float):
    """(sample, line, range_km) of body-fixed point (px, py, pz) in one framelet; NaN behind."""
    # rotation(delta)^T · p = R^T p + delta · Rdot^T p, so both products are formed once.
    rx = pose[6] * px + pose[9] * py + pose[12] * pz
    ry = pose[7] * px + pose[10] * py + pose[13] * pz
    rz = pose[8] * px + pose[11] * py + pose[14] * pz
    dx = pose[15] * px + pose[18] * py + pose[21] * pz + pose[3]
    dy = pose[16] * px + pose[19] * py + pose[22] * pz + pose[4]
    dz = pose[17] * px + pose[20] * py + pose[23] * pz + pose[5]
    rx += pose[0]
    ry += pose[1]
    rz += pose[2]
    delta = 0.0
    lx, ly, lz = rx, ry, rz
    for _ in range(LIGHT_TIME_ITERATIONS):
        lx, ly, lz = rx + delta * dx, ry + delta * dy, rz + delta * dz
        delta = pose[24] - math.sqrt(lx * lx + ly * ly + lz * lz) / SPEED_OF_LIGHT_KM_S
    distance = math.sqrt(lx * lx + ly * ly + lz * lz)
    ux, uy, uz = lx / distance, ly / distance, lz / distance
    bx, by, bz = pose[25] / SPEED_OF_LIGHT_KM_S, pose[26] / SPEED_OF_LIGHT_KM_S, pose[27] / SPEED_OF_LIGHT_KM_S
    hx, hy, hz = uy * bz - uz * by, uz * bx - ux * bz, ux * by - uy * bx
    cos_phi = math.sqrt(max(0.0, 1.0 - (hx * hx + hy * hy + hz * hz)))
    ax = ux * cos_phi + (hy * uz - hz * uy)
    ay = uy * cos_phi + (hz * ux - hx * uz)
    az = uz * cos_phi + (hx * uy - hy * ux)
    # camera = (camera→J2000)^T · apparent
    cx = pose[28] * ax + pose[31] * ay + pose[34] * az
    cy = pose[29] * ax + pose[32] * ay + pose[35] * az
    cz = pose[30] * ax + pose[33] * ay + pose[36] * az
    if cz <= 0.0:
        return math.nan, math.nan, distance
    focal = cam[0]
    x, y = focal * cx / cz, focal * cy / cz
    scale = _distortion_scale(cam, x, y)
    return x * scale + cam[1] - IK_OFFSET, y * scale + cam[2] - IK_OFFSET, distance


@jit(inline="always")
def _distortion_scale(cam, x, y):
    """distorted / undistorted focal-plane offset (px) at undistorted offset (x, y): the forward
    polynomial, or the Newton inverse of the inverse model's polynomial (NaN where it has no root)."""
    r2 = x * x + y * y
    if cam[CAM_MODEL] == 0.0:
        return 1.0 + cam[3] * r2 + cam[4] * r2 * r2
    radius_u = math.sqrt(r2)
    if radius_u == 0.0:
        return 1.0
    radius = radius_u
    for _ in range(DISTORT_MAX_STEPS):
        rr = radius * radius
        slope = 1.0 + 3.0 * cam[3] * rr + 5.0 * cam[4] * rr * rr
        if slope <= 0.0:
            return math.nan
        step = (radius * (1.0 + cam[3] * rr + cam[4] * rr * rr) - radius_u) / slope
        radius -= step
        if abs(step) < UNDISTORT_TOLERANCE_PX:
            break
    return radius / radius_u


@jit(inline="always")
def _undistorted_offset(cam, xd, yd):
    """Undistorted focal-plane offset (px) of distorted offset (xd, yd): the Newton inverse of the
    forward polynomial, or the inverse model's closed form."""
    radius_d = math.hypot(xd, yd)
    if cam[CAM_MODEL] != 0.0:
        rr = radius_d * radius_d
        scale = 1.0 + cam[3] * rr + cam[4] * rr * rr
        return xd * scale, yd * scale
    radius = radius_d
    for _ in range(UNDISTORT_MAX_STEPS):
        r2 = radius * radius
        step = (radius * (1.0 + cam[3] * r2 + cam[4] * r2 * r2) - radius_d) / (1.0 + 3.0 * cam[3] * r2 + 5.0 * cam[4] * r2 * r2)
        radius -= step
        if abs(step) < UNDISTORT_TOLERANCE_PX:
            break
    ratio = radius / radius_d if radius_d > 0.0 else 1.0
    return xd * ratio, yd * ratio


@jit()
def points_to_pixels(pose: np.ndarray, cam: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Vectorised :func:`point_to_pixel` over points (n, 3) → (n, 3): sample, line, range."""
    out = np.empty((points.shape[0], 3))
    for i in range(points.shape[0]):
        s, l, r = point_to_pixel(pose, cam, points[i, 0], points[i, 1], points[i, 2])
        out[i, 0], out[i, 1], out[i, 2] = s, l, r
    return out


@jit()
def limb_clearance(pose: np.ndarray, cam: np.ndarray, radii: np.ndarray, s: float, l: float) -> float:
    """Angle (radians) by which the ray of framelet pixel (s, l) passes inside the target's limb:
    ≥ 0 where it meets the ellipsoid (radii a, b, c in km), negative where it passes beside it.

    The scalar form of the camera's ``pixel_to_ray`` (:func:`_undistorted_offset`) followed by :meth:`ioflyby.geometry.FrameletPoses.rays_to_surface` (stellar
    aberration removed, J2000 → body-fixed with the per-ray light-time shift of the target epoch).
    The angle is measured where the ellipsoid is the unit sphere (coordinates divided by the
    radii): the limb's angular radius asin(1/|o|) minus the ray's angle from the centre.
    """
    x, y = _undistorted_offset(cam, s + IK_OFFSET - cam[1], l + IK_OFFSET - cam[2])
    z = cam[0]
    norm = math.sqrt(x * x + y * y + z * z)
    x, y, z = x / norm, y / norm, z / norm
    # apparent = (camera→J2000) · ray; geometric = apparent rotated back by the aberration angle
    ux, uy, uz = _rotate(pose, 28, x, y, z)
    bx, by, bz = -pose[25] / SPEED_OF_LIGHT_KM_S, -pose[26] / SPEED_OF_LIGHT_KM_S, -pose[27] / SPEED_OF_LIGHT_KM_S
    hx, hy, hz = uy * bz - uz * by, uz * bx - ux * bz, ux * by - uy * bx
    cos_phi = math.sqrt(max(0.0, 1.0 - (hx * hx + hy * hy + hz * hz)))
    gx = ux * cos_phi + (hy * uz - hz * uy)
    gy = uy * cos_phi + (hz * ux - hx * uz)
    gz = uz * cos_phi + (hx * uy - hy * ux)
    # Body-fixed, scaled by the radii: direction (R + δṘ)·g, origin −(R p + δ(Ṙ p + R v) + δ² Ṙ v).
    a, b, c = radii[0], radii[1], radii[2]
    d0 = _scaled(_rotate(pose, 6, gx, gy, gz), a, b, c)
    d1 = _scaled(_rotate(pose, 15, gx, gy, gz), a, b, c)
    o0 = _scaled(_rotate(pose, 6, pose[0], pose[1], pose[2]), a, b, c)
    rate_p = _rotate(pose, 15, pose[0], pose[1], pose[2])
    rot_v = _rotate(pose, 6, pose[3], pose[4], pose[5])
    o1 = _scaled((rate_p[0] + rot_v[0], rate_p[1] + rot_v[1], rate_p[2] + rot_v[2]), a, b, c)
    o2 = _scaled(_rotate(pose, 15, pose[3], pose[4], pose[5]), a, b, c)
    delta = 0.0
    clearance = 0.0
    for _ in range(LIGHT_TIME_ITERATIONS):
        dx, dy, dz = d0[0] + delta * d1[0], d0[1] + delta * d1[1], d0[2] + delta * d1[2]
        ox = -(o0[0] + delta * (o1[0] + delta * o2[0]))
        oy = -(o0[1] + delta * (o1[1] + delta * o2[1]))
        oz = -(o0[2] + delta * (o1[2] + delta * o2[2]))
        dd = dx * dx + dy * dy + dz * dz
        od = ox * dx + oy * dy + oz * dz
        oo = ox * ox + oy * oy + oz * oz
        if oo <= 1.0:
            return math.pi  # observer inside the ellipsoid: every ray meets it
        clearance = math.asin(1.0 / math.sqrt(oo)) - math.acos(min(1.0, max(-1.0, -od / math.sqrt(dd * oo))))
        if clearance < 0.0:
            delta = 0.0  # as rays_to_surface: a miss restarts from the centre's epoch
            continue
        t = (-od - math.sqrt(max(0.0, od * od - dd * (oo - 1.0)))) / dd  # the nearer intersection
        distance = t * math.sqrt((dx * a) ** 2 + (dy * b) ** 2 + (dz * c) ** 2)
        delta = pose[24] - distance / SPEED_OF_LIGHT_KM_S
    return clearance


@jit(inline="always")
def _rotate(m, offset, x, y, z):
    """The row-major 3×3 matrix ``m[offset:offset + 9]`` times (x, y, z)."""
    return (m[offset] * x + m[offset + 1] * y + m[offset + 2] * z,
            m[offset + 3] * x + m[offset + 4] * y + m[offset + 5] * z,
            m[offset + 6] * x + m[offset + 7] * y + m[offset + 8] * z)


@jit(inline="always")
def _scaled(v, a, b, c):
    """(x / a, y / b, z / c): a body-fixed vector in the space where the ellipsoid is the unit sphere."""
    return v[0] / a, v[1] / b, v[2] / c


@jit(inline="always")
def cell_latlon(code, params, x_min, y_max, cell, col, row, clamp):
    x = x_min + col * cell
    y = y_max - row * cell
    if clamp:
        radius, p = params[0], params[3]
        if code == proj.ORTHOGRAPHIC or code == proj.PERSPECTIVE:
            limit = radius if code == proj.ORTHOGRAPHIC else radius * math.sqrt((p - 1.0) / (p + 1.0))
            rho = math.hypot(x, y)
            if rho > limit * 0.999999:
                x *= limit * 0.999999 / rho
                y *= limit * 0.999999 / rho
        elif code == proj.EQUIRECTANGULAR:
            y = min(max(y, -radius * math.pi / 2.0), radius * math.pi / 2.0)
    return proj.inverse(code, params, x, y)


@jit(inline="always")
def point_quantities(pose, cam, px, py, pz, nx, ny, nz, out):
    """out[:] = sample, line, cos(emission), cos(incidence), cos(phase), range_km."""
    s, l, distance = point_to_pixel(pose, cam, px, py, pz)
    ex, ey, ez = pose[37] - px, pose[38] - py, pose[39] - pz
    e_norm = math.sqrt(ex * ex + ey * ey + ez * ez)
    out[0], out[1] = s, l
    out[2] = (nx * ex + ny * ey + nz * ez) / e_norm
    out[3] = nx * pose[40] + ny * pose[41] + nz * pose[42]
    out[4] = (ex * pose[40] + ey * pose[41] + ez * pose[42]) / e_norm
    out[5] = distance


@jit(parallel=True)
def candidate_blocks(code, params, x_min, y_max, cell, height, width, block, radii, poses, cams):
    """Boolean [block_rows, block_cols, framelets]: may framelet f see any cell of the block?

    Conservative test on the block's corners (corners off the map's domain are first moved to
    its edge): the corners' pixel bounding box, grown by half its size plus 2 px, must meet the
    photoactive area, and some corner must roughly face the camera; blocks with a corner
    behind the camera are kept.
    """
    n_by = (height + block - 1) // block
    n_bx = (width + block - 1) // block
    n_f = poses.shape[0]
    a, b, c = radii[0], radii[1], radii[2]
    corner = np.full((n_f, n_by + 1, n_bx + 1, 6), np.nan)
    for iy in prange(n_by + 1):
        for ix in range(n_bx + 1):
            lat, lon = cell_latlon(code, params, x_min, y_max, cell, ix * block, iy * block, True)
            if not math.isfinite(lat):
                continue
            px, py, pz, nx, ny, nz = surface_point(lat, lon, a, b, c)
            for f in range(n_f):
                point_quantities(poses[f], cams[f], px, py, pz, nx, ny, nz, corner[f, iy, ix])
    cand = np.zeros((n_by, n_bx, n_f), dtype=np.bool_)
    for iy in prange(n_by):
        for ix in range(n_bx):
            for f in range(n_f):
                cand[iy, ix, f] = _block_may_see_area(corner[f], iy, ix, -0.1, cams[f])
    return cand


@jit(inline="always")
def block_may_see(corner, iy, ix, min_cos_e):
    """:func:`_block_may_see_area` on JunoCam's photoactive area."""
    return _block_within(corner, iy, ix, min_cos_e, FIRST_SAMPLE, LAST_SAMPLE, FIRST_LINE, LAST_LINE)


@jit(inline="always")
def _block_may_see_area(corner, iy, ix, min_cos_e, cam):
    """:func:`_block_within` on the photoactive area of packed camera row ``cam``."""
    return _block_within(corner, iy, ix, min_cos_e, cam[CAM_FIRST_SAMPLE], cam[CAM_LAST_SAMPLE],
                         cam[CAM_FIRST_LINE], cam[CAM_LAST_LINE])


@jit(inline="always")
def _block_within(corner, iy, ix, min_cos_e, first_sample, last_sample, first_line, last_line):
    """Conservative footprint test of one block from its four corner quantities."""
    s_lo, s_hi, l_lo, l_hi = np.inf, -np.inf, np.inf, -np.inf
    finite, facing = 0, 0
    for dy in range(2):
        for dx in range(2):
            s = corner[iy + dy, ix + dx, 0]
            l = corner[iy + dy, ix + dx, 1]
            if corner[iy + dy, ix + dx, 2] > min_cos_e:
                facing += 1
            if math.isfinite(s) and math.isfinite(l):
                finite += 1
                s_lo, s_hi = min(s_lo, s), max(s_hi, s)
                l_lo, l_hi = min(l_lo, l), max(l_hi, l)
    if finite == 0 or facing == 0:
        return False
    if finite < 4:
        return True
    margin = 0.5 * max(s_hi - s_lo, l_hi - l_lo) + 2.0
    return (s_hi + margin >= first_sample and s_lo - margin <= last_sample
            and l_hi + margin >= first_line and l_lo - margin <= last_line)


@jit(inline="always")
def _bilinear(images, f, s, l):
    """Bilinear sample of framelet ``f`` of ``images`` [framelet, line, sample] at (s, l)."""
    i0 = int(math.floor(l))
    j0 = int(math.floor(s))
    i1 = min(i0 + 1, images.shape[1] - 1)
    j1 = min(j0 + 1, images.shape[2] - 1)
    fl, fs = l - i0, s - j0
    top = images[f, i0, j0] * (1.0 - fs) + images[f, i0, j1] * fs
    bottom = images[f, i1, j0] * (1.0 - fs) + images[f, i1, j1] * fs
    return top * (1.0 - fl) + bottom * fl


@jit()
def bilinear_on_target(images, f, s, l, pose, cam, radii, min_clearance, seen):
    """:func:`_bilinear` from only the neighbours whose rays pass at least ``min_clearance``
    (radians) inside the limb (weights renormalised), so that no sky enters a sample near the
    limb; NaN if no neighbour does. ``seen`` [framelet, line, sample] int8 remembers each
    pixel's verdict (0 not yet known, 1 clear, 2 not) across samples and threads (two threads
    that meet an unknown pixel at once both write the same verdict)."""
    i0 = int(math.floor(l))
    j0 = int(math.floor(s))
    i1 = min(i0 + 1, images.shape[1] - 1)
    j1 = min(j0 + 1, images.shape[2] - 1)
    fl, fs = l - i0, s - j0
    total = weight = 0.0
    for corner in range(4):
        i = i1 if corner >= 2 else i0
        j = j1 if corner % 2 else j0
        w = (fl if corner >= 2 else 1.0 - fl) * (fs if corner % 2 else 1.0 - fs)
        if w <= 0.0:
            continue
        if seen[f, i, j] == 0:
            seen[f, i, j] = 1 if limb_clearance(pose, cam, radii, float(j), float(i)) >= min_clearance else 2
        if seen[f, i, j] == 1:
            total += w * images[f, i, j]
            weight += w
    return total / weight if weight > 0.0 else math.nan


@jit(inline="always")
def _accumulate(s, l, cos_e, cos_i, cos_phase, range_km, f, images, channel, cams, poses, radii, limb, seen,
                photometry, minnaert_k, overlap, feather_px, acc, wsum, best, planes, row, col):
    """Sample framelet f at (s, l) and add it to cell (row, col) with its cos(emission),
    cos(incidence), cos(phase) and range (km). Below ``limb[f, 0]`` = cos(emission) (near the
    limb) only the neighbours whose rays clear the limb by ``limb[f, 1]`` radians are sampled."""
    if cos_e <= 0.0:
        return
    first_s, last_s = cams[f, CAM_FIRST_SAMPLE], cams[f, CAM_LAST_SAMPLE]
    first_l, last_l = cams[f, CAM_FIRST_LINE], cams[f, CAM_LAST_LINE]
    if not (first_l <= l <= last_l and first_s <= s <= last_s):
        return
    if cos_e < limb[f, 0]:
        value = bilinear_on_target(images, f, s, l, poses[f], cams[f], radii, limb[f, 1], seen)
    else:
        value = _bilinear(images, f, s, l)
    if not math.isfinite(value):
        return
    if photometry != 0:
        if cos_i < MIN_COS_INCIDENCE:
            return
        if photometry == 1:
            value /= cos_i
        elif photometry == 2:
            value *= (cos_i + cos_e) / (2.0 * cos_i)
        else:
            value /= cos_i**minnaert_k * cos_e ** (minnaert_k - 1.0)
    edge = min(l - first_l + 0.5, last_l + 0.5 - l, s - first_s + 0.5, last_s + 0.5 - s)
    weight = min(1.0, edge / feather_px) if feather_px > 0 else 1.0
    k = channel[f]
    if overlap == 0:
        acc[k, row, col] += weight * value
        wsum[k, row, col] += weight
    elif cos_e > best[k, row, col]:
        best[k, row, col] = cos_e
        acc[k, row, col] = value
        wsum[k, row, col] = 1.0
    planes[0, row, col] += weight
    planes[1, row, col] += weight * cos_i
    if planes.shape[0] > 2:
        planes[2, row, col] += weight * cos_e
        planes[3, row, col] += weight * cos_phase
        planes[4, row, col] += weight * range_km / cams[f, 0]
        planes[5, row, col] += weight * poses[f, 43]


@jit(parallel=True)
def reproject_blocks(
    code, params, x_min, y_max, cell, height, width, block, sub, radii, poses, cams, limb, seen, images, channel,
    cand, tolerance_px, photometry, minnaert_k, overlap, feather_px, acc, wsum, best, planes, counts,
):
    """Accumulate framelet samples into map cells (rows of coarse blocks in parallel).

    Each candidate (block, framelet) pair gets a lattice of exact pixel coordinates every
    ``sub`` cells; a ``sub``×``sub`` sub-block whose four nodes are on the map and in front of
    the camera, and whose exact centre differs from the bilinear interpolation of its nodes by
    less than ``tolerance_px``, is interpolated; other sub-blocks are computed per cell.
    ``acc``/``wsum`` [channel, row, col]: Σ w·value and Σ w; ``best``: cos(emission) of the kept
    sample (overlap = best emission); ``planes`` [6, row, col]: Σ w and Σ w·(incidence,
    emission, phase, km/px, time) over all channels, the angles as cosines (the backplane is the
    angle of the weighted mean cosine) — or only the first two, [2, row, col], when the other
    backplanes are not wanted; ``counts`` [block_rows, 3]: sub-blocks skipped, computed exactly,
    interpolated. ``limb`` [F, 2]: per framelet the cos(emission) below which a sample takes only
    the neighbours whose rays clear the limb, and that clearance (radians); ``seen`` int8 like
    ``images``, zeros: the pixels' verdicts (:func:`bilinear_on_target`).
    """
    n_by, n_bx, n_f = cand.shape
    full = planes.shape[0] > 2  # phase and range are interpolated only for the backplanes
    a, b, c = radii[0], radii[1], radii[2]
    n_sub = block // sub
    n_node = n_sub + 1
    for iy in prange(n_by):
        q = np.empty(6)
        centre = np.empty(6)
        nodes = np.empty((n_node, n_node, 7))  # point xyz, normal xyz, inside flag
        quant = np.empty((n_f, n_node, n_node, 6))
        submode = np.zeros((n_f, n_sub, n_sub), dtype=np.int8)
        chosen = np.empty(n_f, dtype=np.int64)
        for ix in range(n_bx):
            n_chosen = 0
            for f in range(n_f):
                if cand[iy, ix, f]:
                    chosen[n_chosen] = f
                    n_chosen += 1
            if n_chosen == 0:
                continue
            row0, col0 = iy * block, ix * block
            for na in range(n_node):
                for nb in range(n_node):
                    lat, lon = cell_latlon(code, params, x_min, y_max, cell, col0 + nb * sub, row0 + na * sub, False)
                    if math.isfinite(lat):
                        px, py, pz, nx, ny, nz = surface_point(lat, lon, a, b, c)
                        nodes[na, nb, 0], nodes[na, nb, 1], nodes[na, nb, 2] = px, py, pz
                        nodes[na, nb, 3], nodes[na, nb, 4], nodes[na, nb, 5] = nx, ny, nz
                        nodes[na, nb, 6] = 1.0
                    else:
                        nodes[na, nb, 6] = 0.0
            for i_f in range(n_chosen):
                f = chosen[i_f]
                for na in range(n_node):
                    for nb in range(n_node):
                        if nodes[na, nb, 6] > 0:
                            point_quantities(poses[f], cams[f], nodes[na, nb, 0], nodes[na, nb, 1], nodes[na, nb, 2],
                                              nodes[na, nb, 3], nodes[na, nb, 4], nodes[na, nb, 5], quant[f, na, nb])
                        else:
                            for j in range(6):
                                quant[f, na, nb, j] = np.nan
                for sa in range(n_sub):
                    for sb in range(n_sub):
                        ok = (nodes[sa, sb, 6] > 0 and nodes[sa + 1, sb, 6] > 0 and nodes[sa, sb + 1, 6] > 0
                              and nodes[sa + 1, sb + 1, 6] > 0)
                        if ok and not _block_may_see_area(quant[f], sa, sb, -0.05, cams[f]):
                            submode[f, sa, sb] = 0
                            counts[iy, 0] += 1
                            continue
                        mode = 1
                        if ok and math.isfinite(quant[f, sa, sb, 0] + quant[f, sa + 1, sb, 0] + quant[f, sa, sb + 1, 0] + quant[f, sa + 1, sb + 1, 0]):
                            lat, lon = cell_latlon(code, params, x_min, y_max, cell, col0 + (sb + 0.5) * sub, row0 + (sa + 0.5) * sub, False)
                            px, py, pz, nx, ny, nz = surface_point(lat, lon, a, b, c)
                            point_quantities(poses[f], cams[f], px, py, pz, nx, ny, nz, centre)
                            s_mid = 0.25 * (quant[f, sa, sb, 0] + quant[f, sa + 1, sb, 0] + quant[f, sa, sb + 1, 0] + quant[f, sa + 1, sb + 1, 0])
                            l_mid = 0.25 * (quant[f, sa, sb, 1] + quant[f, sa + 1, sb, 1] + quant[f, sa, sb + 1, 1] + quant[f, sa + 1, sb + 1, 1])
                            if math.hypot(s_mid - centre[0], l_mid - centre[1]) < tolerance_px:
                                mode = 2
                        submode[f, sa, sb] = mode
                        counts[iy, mode] += 1
            for sa in range(n_sub):
                for sb in range(n_sub):
                    exact_needed = False
                    n_active = 0
                    for i_f in range(n_chosen):
                        f = chosen[i_f]
                        if submode[f, sa, sb] == 1:
                            exact_needed = True
                        if submode[f, sa, sb] != 0:
                            n_active += 1
                    if n_active == 0:
                        continue
                    for row in range(row0 + sa * sub, min(row0 + (sa + 1) * sub, height)):
                        v = (row + 0.5 - row0 - sa * sub) / sub
                        for col in range(col0 + sb * sub, min(col0 + (sb + 1) * sub, width)):
                            u = (col + 0.5 - col0 - sb * sub) / sub
                            px = py = pz = nx = ny = nz = 0.0
                            on_map = True
                            if exact_needed:
                                lat, lon = cell_latlon(code, params, x_min, y_max, cell, col + 0.5, row + 0.5, False)
                                on_map = math.isfinite(lat)
                                if on_map:
                                    px, py, pz, nx, ny, nz = surface_point(lat, lon, a, b, c)
                            w00, w01, w10, w11 = (1 - u) * (1 - v), u * (1 - v), (1 - u) * v, u * v
                            for i_f in range(n_chosen):
                                f = chosen[i_f]
                                m = submode[f, sa, sb]
                                if m == 0:
                                    continue
                                if m == 1:
                                    if not on_map:
                                        continue
                                    if (nx * (poses[f, 37] - px) + ny * (poses[f, 38] - py) + nz * (poses[f, 39] - pz)) <= 0.0:
                                        continue  # faces away from the camera (emission >= 90 deg): nothing to sample
                                    point_quantities(poses[f], cams[f], px, py, pz, nx, ny, nz, q)
                                    _accumulate(q[0], q[1], q[2], q[3], q[4], q[5], f, images, channel, cams, poses, radii, limb, seen,
                                                photometry, minnaert_k, overlap, feather_px, acc, wsum, best, planes, row, col)
                                else:
                                    n00, n01 = quant[f, sa, sb], quant[f, sa, sb + 1]
                                    n10, n11 = quant[f, sa + 1, sb], quant[f, sa + 1, sb + 1]
                                    cos_phase = range_km = 0.0
                                    if full:
                                        cos_phase = w00 * n00[4] + w01 * n01[4] + w10 * n10[4] + w11 * n11[4]
                                        range_km = w00 * n00[5] + w01 * n01[5] + w10 * n10[5] + w11 * n11[5]
                                    _accumulate(w00 * n00[0] + w01 * n01[0] + w10 * n10[0] + w11 * n11[0],
                                                w00 * n00[1] + w01 * n01[1] + w10 * n10[1] + w11 * n11[1],
                                                w00 * n00[2] + w01 * n01[2] + w10 * n10[2] + w11 * n11[2],
                                                w00 * n00[3] + w01 * n01[3] + w10 * n10[3] + w11 * n11[3],
                                                cos_phase, range_km, f, images, channel, cams, poses, radii, limb, seen,
                                                photometry, minnaert_k, overlap, feather_px, acc, wsum, best, planes, row, col)


@jit(parallel=True)
def finish_channels(acc: np.ndarray, wsum: np.ndarray) -> None:
    """In place, [channel, row, col]: ``acc`` ← ``acc / wsum`` where ``wsum > 0``, else NaN."""
    for row in prange(acc.shape[1]):
        for k in range(acc.shape[0]):
            for col in range(acc.shape[2]):
                w = wsum[k, row, col]
                acc[k, row, col] = acc[k, row, col] / w if w > 0 else np.nan


@jit(parallel=True)
def finish_plane(total: np.ndarray, weight: np.ndarray, angle: bool) -> None:
    """In place, [row, col]: ``total`` ← ``total / weight`` where ``weight > 0``, else NaN; with
    ``angle`` the mean is a cosine and becomes its angle in degrees (clipped to [-1, 1] first)."""
    for row in prange(total.shape[0]):
        for col in range(total.shape[1]):
            w = weight[row, col]
            if w > 0:
                mean = total[row, col] / w
                total[row, col] = math.degrees(math.acos(min(1.0, max(-1.0, mean)))) if angle else mean
            else:
                total[row, col] = np.nan
