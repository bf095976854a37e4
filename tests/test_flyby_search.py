"""Closest-approach search and per-epoch geometry against independent truth.

- Real 2022 Juno SPK: perijoves from ``find_encounters`` vs an independent dense-sampling
  search (plain ``spkpos`` distances on a grid, shrinking grids around each discrete minimum).
- Real 1997 Galileo/Io slices: distance and sub-spacecraft point at the E6I0032 image time vs
  ``spkpos`` in IAU_IO plus a nearest-point-on-ellipsoid solve written here.
- Synthetic SPKs with closed-form answers: a Keplerian orbit (perijoves at t_p + kP, distance
  a(1-e)) and a straight-line flyby (C/A at t0, distance b, phase and eclipses by construction).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import spiceypy
from scipy.optimize import brentq

from ioflyby.errors import CoverageError, GeometryError
from ioflyby.flyby import find_encounters, flyby_geometry, junocam_scale, timeline
from ioflyby.spice import Kernels, write_spk
from synthetic_flyby import (
    KeplerOrbit,
    fixed_segment,
    kepler_segment,
    linear_segment,
)

JUNO_SPK = "spk/spk_pre_220614_221109_220810_jm0450.bsp"
GM_JUPITER = 126_686_531.9  # km^3/s^2 (BODY599_GM, DE431)
AU_KM = 149_597_870.7


# -- independent helpers (no ioflyby code) ------------------------------------------------------
def nearest_point_on_ellipsoid(p: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Closest point of the ellipsoid x²/a²+y²/b²+z²/c²=1 to an outside point p (Lagrange:
    x_i = p_i a_i²/(a_i²+t), t > 0 the root of Σ (p_i a_i/(a_i²+t))² = 1)."""
    a2 = radii**2

    def g(t: float) -> float:
        return float(np.sum((p * radii / (a2 + t)) ** 2) - 1.0)

    t = brentq(g, 0.0, float(np.linalg.norm(p) * radii.max()), xtol=1e-14, rtol=1e-15)
    return p * a2 / (a2 + t)


def lat_lon_deg(x: np.ndarray) -> tuple[float, float]:
    """Planetocentric latitude and east longitude in [0, 360) of a body-fixed vector."""
    lat = math.degrees(math.atan2(x[2], math.hypot(x[0], x[1])))
    return lat, math.degrees(math.atan2(x[1], x[0])) % 360.0


def dense_minima(obs: str, tgt: str, et0: float, et1: float, grid_s: float = 600.0) -> list[tuple[float, float]]:
    """Interior local minima of |spkpos| by sampling: a grid, then grids 20× finer around each
    discrete minimum until the bracket is under 0.1 ms. Returns (et, distance_km)."""
    def dist(t: float) -> float:
        return float(np.linalg.norm(spiceypy.spkpos(tgt, t, "J2000", "NONE", obs)[0]))

    grid = np.arange(et0, et1, grid_s)
    d = np.array([dist(t) for t in grid])
    found = []
    for i in np.where((d[1:-1] < d[:-2]) & (d[1:-1] < d[2:]))[0] + 1:
        lo, hi = grid[i - 1], grid[i + 1]
        while hi - lo > 1e-4:
            ts = np.linspace(lo, hi, 41)
            ds = np.array([dist(t) for t in ts])
            j = int(np.argmin(ds))
            lo, hi = ts[max(j - 1, 0)], ts[min(j + 1, 40)]
        t = 0.5 * (lo + hi)
        found.append((t, dist(t)))
    return found


# -- real Juno 2022 SPK ----------------------------------------------------------------------------
def test_juno_perijoves_match_dense_sampling(kernel_dir: Path) -> None:
    files = [kernel_dir / "lsk/naif0012.tls", kernel_dir / "pck/pck00010.tpc", kernel_dir / JUNO_SPK]
    with Kernels(files) as ks:
        spans = [c for c in ks.spk_coverage() if c.id == -61]
        assert len(spans) == 1
        et0, et1 = spans[0].start_et, spans[0].stop_et
        result = find_encounters(ks, "JUNO", "JUPITER", et0, et1)
        truth = dense_minima("-61", "599", et0, et1)
    assert len(truth) == 4  # PJ43, PJ44, PJ45, PJ46 (2022-11-06) inside 2022-06-14..11-09
    assert len(result.encounters) == len(truth)
    for enc, (t_true, d_true) in zip(result.encounters, truth, strict=True):
        assert abs(enc.et - t_true) <= 1e-3, (enc.geometry.time_utc, enc.et - t_true)
        assert abs(enc.distance_km - d_true) <= 0.010
    assert result.encounters[0].geometry.time_utc.startswith("2022-07-05T09:17")  # PJ43
    assert result.encounters[1].geometry.time_utc.startswith("2022-08-17T14:4")  # PJ44


def test_partial_coverage_names_the_gap(kernel_dir: Path) -> None:
    files = [kernel_dir / "lsk/naif0012.tls", kernel_dir / JUNO_SPK]
    with Kernels(files) as ks:
        with pytest.raises(CoverageError) as info:
            find_encounters(ks, "JUNO", "JUPITER", "2022-10-01T00:00:00", "2022-12-01T00:00:00")
        message = str(info.value)
        assert "2022-11-09T21:38:27.812 to 2022-12-01T00:00:00.000 UTC" in message
        assert "JUNO (-61)" in message and "--covered-only" in message
        partial = find_encounters(ks, "JUNO", "JUPITER", "2022-10-01T00:00:00", "2022-12-01T00:00:00",
                                  covered_only=True)
        assert [e.geometry.time_utc[:13] for e in partial.encounters] == ["2022-11-06T21"]
        assert len(partial.uncovered) == 1
        with pytest.raises(CoverageError, match="IO \\(501\\) has no SPK data"):
            find_encounters(ks, "JUNO", "IO", "2022-07-01", "2022-07-02")
        with pytest.raises(GeometryError):
            find_encounters(ks, "JUNO", "JUPITER", "2022-07-02", "2022-07-01")


# -- real Galileo 1997 slices ------------------------------------------------------------------------
def test_galileo_e6i0032_distance_and_subpoint(kernel_dir: Path) -> None:
    folder = kernel_dir / "galileo_1997_io_slices"
    label = (folder / "E6I0032_isis3.lbl").read_text()
    start_time = re.search(r"StartTime\s*=\s*(\S+)", label).group(1)
    assert start_time == "1997-02-19T21:07:27.314"
    files = [kernel_dir / "lsk/naif0012.tls", folder / "pck00009.tpc", *sorted(folder.glob("*.bsp"))]
    with Kernels(files):
        et = spiceypy.str2et(start_time)
        got = flyby_geometry("GALILEO ORBITER", "IO", et)
        # Independent: Io→Galileo vector in IAU_IO from spkpos, own nearest-point solve.
        io_from_gll, _ = spiceypy.spkpos("IO", et, "IAU_IO", "NONE", "GALILEO ORBITER")
        p = -np.asarray(io_from_gll)
        radii = np.asarray(spiceypy.bodvrd("IO", "RADII", 3)[1])
        near = nearest_point_on_ellipsoid(p, radii)
        lat, lon_e = lat_lon_deg(near)
        sun, _ = spiceypy.spkpos("SUN", et, "J2000", "NONE", "IO")
        obs, _ = spiceypy.spkpos("GALILEO ORBITER", et, "J2000", "NONE", "IO")
        phase = math.degrees(math.acos(np.dot(sun, obs) / np.linalg.norm(sun) / np.linalg.norm(obs)))
    assert got.distance_km == pytest.approx(np.linalg.norm(p), abs=1e-6)
    assert got.altitude_km == pytest.approx(np.linalg.norm(p - near), abs=1e-6)
    assert got.sub_lat_deg == pytest.approx(lat, abs=1e-7)
    assert got.sub_lon_east_deg == pytest.approx(lon_e, abs=1e-7)
    assert got.sub_lon_west_deg == pytest.approx((360.0 - lon_e) % 360.0, abs=1e-7)
    assert got.phase_deg == pytest.approx(phase, abs=1e-7)


# -- synthetic: Keplerian orbit --------------------------------------------------------------------
@pytest.fixture(scope="module")
def kepler_spk(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, KeplerOrbit, float, float]:
    tp = 7.0e8
    orbit = KeplerOrbit.from_period(3 * 86400.0, 75_000.0, GM_JUPITER, tp)
    start, stop = tp - 1.3 * 86400.0, tp + 8.0 * 86400.0  # perijoves at tp, tp+P, tp+2P
    path = write_spk(tmp_path_factory.mktemp("kep") / "kepler.bsp",
                     [kepler_segment(-61, 599, orbit, start, stop, per_orbit=2000)])
    return path, orbit, start, stop


def test_kepler_perijoves_analytic(kepler_spk, kernel_dir: Path) -> None:
    path, orbit, start, stop = kepler_spk
    with Kernels([kernel_dir / "lsk/naif0012.tls", kernel_dir / "pck/pck00010.tpc", path]) as ks:
        result = find_encounters(ks, "JUNO", "JUPITER", start, stop)
    times = [orbit.tp_et + k * orbit.period_s for k in range(3)]
    assert [e.et for e in result.encounters] == pytest.approx(times, abs=1e-3)
    for enc in result.encounters:
        assert enc.distance_km == pytest.approx(orbit.rp_km, abs=0.01)
        v_peri = math.sqrt(GM_JUPITER * (1 + orbit.ecc) / orbit.rp_km)  # vis-viva at periapsis
        assert enc.geometry.speed_km_s == pytest.approx(v_peri, abs=1e-5)
        assert abs(enc.geometry.range_rate_km_s) < 1e-6


# -- synthetic: straight-line flyby of Io ------------------------------------------------------------
T0 = 7.5e8
B_KM = 3000.0
V_KM_S = 17.0
SUN_DIR = np.array([1.0, 0.0, 0.0])


def _flyby_spk(folder: Path, ca_dir: np.ndarray, jupiter_toward_sun: bool) -> Path:
    """Spacecraft -999 passes Io (501) at B_KM along ``ca_dir`` at T0; Sun fixed 5.2 au along +X
    (J2000) from Io and at the SSB; Jupiter (599) 421 700 km from Io, toward the Sun or away."""
    u = ca_dir / np.linalg.norm(ca_dir)
    w = np.cross(u, [0.0, 0.0, 1.0])
    w /= np.linalg.norm(w)
    jupiter = (1 if jupiter_toward_sun else -1) * 421_700.0 * SUN_DIR
    return write_spk(folder / f"flyby_{abs(hash((tuple(u), jupiter_toward_sun)))}.bsp", [
        linear_segment(-999, 501, B_KM * u, V_KM_S * w, T0, 4000.0, 20.0),
        fixed_segment(501, 10, -5.2 * AU_KM * SUN_DIR, T0 - 5000, T0 + 5000),
        fixed_segment(599, 501, jupiter, T0 - 5000, T0 + 5000),
        fixed_segment(10, 0, [0.0, 0.0, 0.0], T0 - 5000, T0 + 5000),  # SSB for SPICE's chains
    ])


@pytest.mark.parametrize(("phase", "jupiter_toward_sun"), [(60.0, True), (180.0, False)])
def test_linear_flyby_closed_form(tmp_path: Path, kernel_dir: Path, phase: float, jupiter_toward_sun: bool) -> None:
    ca_dir = np.array([math.cos(math.radians(phase)), math.sin(math.radians(phase)), 0.0])
    spk = _flyby_spk(tmp_path, ca_dir, jupiter_toward_sun)
    files = [kernel_dir / "lsk/naif0012.tls", kernel_dir / "pck/pck00010.tpc", kernel_dir / "ik/juno_junocam_v03.ti", spk]
    with Kernels(files) as ks:
        result = find_encounters(ks, -999, "IO", T0 - 3600, T0 + 3600)
        assert len(result.encounters) == 1
        enc = result.encounters[0]
        p_fixed, _ = spiceypy.spkpos("-999", enc.et, "IAU_IO", "NONE", "IO")
        radii = np.asarray(spiceypy.bodvrd("IO", "RADII", 3)[1])
        line = timeline(-999, "IO", enc.et, 60.0, 30.0)
        sun_fixed, _ = spiceypy.spkpos("SUN", enc.et, "IAU_IO", "NONE", "IO")
        sun_lon = lat_lon_deg(np.asarray(sun_fixed))[1]
    g = enc.geometry
    assert enc.et == pytest.approx(T0, abs=1e-4)
    assert g.distance_km == pytest.approx(B_KM, abs=1e-6)
    assert g.speed_km_s == pytest.approx(V_KM_S, abs=1e-9)
    near = nearest_point_on_ellipsoid(np.asarray(p_fixed), radii)
    assert g.altitude_km == pytest.approx(np.linalg.norm(p_fixed - near), abs=1e-6)
    lat, lon = lat_lon_deg(near)
    assert (g.sub_lat_deg, g.sub_lon_east_deg) == pytest.approx((lat, lon), abs=1e-7)
    assert g.phase_deg == pytest.approx(phase, abs=1e-6)
    assert g.observer_eclipse == ("total" if phase == 180.0 else "none")  # behind Io: Sun hidden
    assert g.target_eclipse == ("total" if jupiter_toward_sun else "none")
    assert g.subpoint_sunlit is (phase < 90.0)
    ifov = 0.0074 / 10.95637
    assert g.junocam_km_per_px == pytest.approx(g.altitude_km * ifov, rel=1e-12)
    assert "INS-61500_PIXEL_SIZE" in g.junocam_ifov_source
    # Sub-solar point = nearest ellipsoid point to the Sun (where the Sun is at the zenith).
    sub_sun = lat_lon_deg(nearest_point_on_ellipsoid(np.asarray(sun_fixed), radii))
    assert (g.subsolar_lat_deg, g.subsolar_lon_east_deg) == pytest.approx(sub_sun, abs=1e-6)
    # Local solar time: 12 h at the Sun's planetocentric longitude, 15° per hour eastward.
    expected_lst = (12.0 + (g.sub_lon_east_deg - sun_lon) / 15.0) % 24.0
    assert g.local_solar_time_hours == pytest.approx(expected_lst, abs=1 / 3600 + 1e-9)
    assert [round(p.et - enc.et, 6) for p in line] == [-60.0, -30.0, 0.0, 30.0, 60.0]
    assert line[0].distance_km == pytest.approx(math.hypot(B_KM, 60 * V_KM_S), abs=1e-6)


def test_junocam_scale_falls_back_to_published_values(kernel_dir: Path) -> None:
    with Kernels([kernel_dir / "lsk/naif0012.tls"]):
        scale = junocam_scale()
    assert scale.ifov_rad == pytest.approx(0.0074 / 10.95637)
    assert scale.source.startswith("published")


def test_max_distance_filter(kepler_spk, kernel_dir: Path) -> None:
    path, orbit, start, stop = kepler_spk
    with Kernels([kernel_dir / "lsk/naif0012.tls", path]) as ks:
        assert find_encounters(ks, -61, 599, start, stop, max_distance_km=orbit.rp_km - 1).encounters == []
        assert len(find_encounters(ks, -61, 599, start, stop, max_distance_km=orbit.rp_km + 1).encounters) == 3
