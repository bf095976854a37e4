"""The twin's own kernels against the official ones and independent truth.

- project-written FK/IK: same keywords and same rays as juno_v12.tf + juno_junocam_v03.ti;
- project-written LSK/PCK: same UTC↔ET and IAU_IO/IAU_JUPITER orientation as naif0012/pck00010;
- ephemeris SPK: Io relative to Jupiter's barycentre against JPL's (Galileo 1997 kernel slices);
- CK: orientation and spin rate equal the analytic spin model; SCLK in Juno's format.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import spiceypy

from ioflyby.camera import JunoCam
from ioflyby.simulate import (
    nominal_attitude,
    with_attitude_error,
    write_ck,
    write_ephemeris_spk,
)
from ioflyby.simulate import textkernels as tk
from ioflyby.spice import Kernels

JUNOCAM_IDS = (-61500, -61501, -61502, -61503, -61504)
IK_KEYS = ("FOCAL_LENGTH", "PIXEL_SIZE", "DISTORTION_K1", "DISTORTION_K2", "DISTORTION_X", "DISTORTION_Y",
           "START_TIME_BIAS", "INTERFRAME_DELTA", "BORESIGHT", "FOV_BOUNDARY_CORNERS")


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("twin_text")
    return {
        "lsk": tk.write_lsk(folder / "t.tls"), "pck": tk.write_pck(folder / "t.tpc"),
        "sclk": tk.write_sclk(folder / "t.tsc"), "fk": tk.write_fk(folder / "t.tf"), "ik": tk.write_ik(folder / "t.ti"),
    }


def _ik_values() -> dict[str, list[float]]:
    return {f"INS{i}_{k}": list(spiceypy.gdpool(f"INS{i}_{k}", 0, 100)) for i in JUNOCAM_IDS for k in IK_KEYS}


def _rays_and_mount(lsk: Path, fk: Path, ik: Path) -> tuple[dict, np.ndarray, dict]:
    samples, lines = np.meshgrid(np.linspace(0, 1647, 23), np.linspace(0, 127, 7))
    with Kernels([lsk, fk, ik]):
        camera = JunoCam.from_kernel_pool()
        rays = {f: camera.pixel_to_ray(f, samples, lines) for f in ("METHANE", "BLUE", "GREEN", "RED")}
        mount = np.asarray(spiceypy.pxform("JUNO_JUNOCAM", "JUNO_SPACECRAFT", 0.0))
        values = _ik_values()
    return rays, mount, values


def test_written_fk_ik_equal_official(written, kernel_dir):
    official = _rays_and_mount(kernel_dir / "lsk" / "naif0012.tls", kernel_dir / "fk" / "juno_v12.tf",
                               kernel_dir / "ik" / "juno_junocam_v03.ti")
    ours = _rays_and_mount(written["lsk"], written["fk"], written["ik"])
    for name in official[0]:
        angle = np.linalg.norm(official[0][name] - ours[0][name], axis=-1)  # chord ≈ angle, rad
        assert angle.max() < 1e-12, name
    assert np.abs(official[1] - ours[1]).max() < 1e-15
    assert official[2] == ours[2]


def test_written_lsk_and_pck_match_naif(written, kernel_dir):
    utcs = ["1996-06-30T23:59:59", "2001-10-16T01:23:20", "2016-12-31T23:59:60.5", "2017-01-01T00:00:00", "2024-02-03T17:48:35"]

    def sample(lsk, pck):
        with Kernels([lsk, pck]):
            ets = [spiceypy.str2et(u) for u in utcs]
            rot = [np.asarray(spiceypy.pxform(f, "J2000", ets[-1])) for f in ("IAU_IO", "IAU_JUPITER", "IAU_EUROPA")]
            radii = [list(spiceypy.bodvrd(b, "RADII", 3)[1]) for b in ("IO", "JUPITER", "GANYMEDE")]
        return ets, rot, radii

    ref = sample(kernel_dir / "lsk" / "naif0012.tls", kernel_dir / "pck" / "pck00010.tpc")
    ours = sample(written["lsk"], written["pck"])
    assert ref[0] == ours[0]
    for a, b in zip(ref[1], ours[1]):
        assert np.abs(a - b).max() < 1e-14
    assert ref[2] == ours[2]


def test_written_sclk_has_juno_format(written, kernel_dir):
    def fmt():
        return [list(spiceypy.gdpool(k, 0, 10)) for k in ("SCLK01_N_FIELDS_61", "SCLK01_MODULI_61", "SCLK01_TIME_SYSTEM_61")]

    with Kernels([kernel_dir / "sclk" / "jno_sclkscet_00090.tsc"]):
        real = fmt()
    with Kernels([written["lsk"], written["sclk"]]):
        assert fmt() == real
        et = spiceypy.str2et("2023-12-30T08:36:00")
        ticks = spiceypy.sce2c(-61, et)
        # count = TDT seconds past J2000 minus 64.184 s, 256 ticks per count
        assert ticks / 256 == pytest.approx(spiceypy.unitim(et, "TDB", "TDT") - 64.184, abs=1 / 256)
        assert spiceypy.sct2e(-61, ticks) == pytest.approx(et, abs=1e-6)


def test_ephemeris_against_jpl_io(tmp_path, written, kernel_dir):
    """Io wrt Jupiter barycentre and Jupiter wrt Sun vs JPL (real 1997 Galileo-era SPK slices)."""
    slices = kernel_dir / "galileo_1997_io_slices"
    for name in ("gllssi2isisAle1_0.bsp", "gllssi2isisAle1_1.bsp"):
        with Kernels([slices / name]):
            cover = spiceypy.spkcov(str(slices / name), 501)
            et = cover[0] + 1.0
            io_ref = np.asarray(spiceypy.spkgeo(501, et, "J2000", 5)[0])
            jup_ref = np.asarray(spiceypy.spkgeo(5, et, "J2000", 10)[0])
        with Kernels([written["lsk"], written["pck"]]):
            spk = write_ephemeris_spk(tmp_path / f"{name}.eph.bsp", et - 7200, et + 7200)
        with Kernels([written["lsk"], spk]):
            io = np.asarray(spiceypy.spkgeo(501, et, "J2000", 5)[0])
            jup = np.asarray(spiceypy.spkgeo(5, et, "J2000", 10)[0])
        assert np.linalg.norm(io[:3] - io_ref[:3]) < 150.0  # measured 66-67 km
        assert np.linalg.norm(io[3:] - io_ref[3:]) < 0.01  # km/s
        assert np.linalg.norm(jup[:3] - jup_ref[:3]) < 30000.0  # VSOP87 truncated: measured 17,400 km (4.7")


def _angle_axis(rotation: np.ndarray) -> tuple[float, np.ndarray]:
    """Rotation angle (deg) and unit axis of a rotation matrix (plain numpy)."""
    angle = math.degrees(math.acos(np.clip((np.trace(rotation) - 1) / 2, -1, 1)))
    axis = np.array([rotation[2, 1] - rotation[1, 2], rotation[0, 2] - rotation[2, 0], rotation[1, 0] - rotation[0, 1]])
    return angle, axis / np.linalg.norm(axis)


@pytest.mark.parametrize("error_axis", [(0, 1, 0), (0.6, 0.0, 0.8), (0, 0, 1)])
def test_ck_reproduces_spin_model(tmp_path, written, error_axis):
    """Nominal CK: +Z on the requested axis, 12 deg/s about it; truth CK = nominal · R(axis, 0.2°)
    at every epoch, whether the error axis is across the spin axis (alignment), along it (phase)
    or mixed."""
    spin_axis = np.array([0.3, -0.4, 0.866]) / np.linalg.norm([0.3, -0.4, 0.866])
    with Kernels([written["lsk"], written["sclk"], written["fk"]]):
        et0 = spiceypy.str2et("2024-02-03T17:48:35")
        nominal = nominal_attitude(spin_axis, et0, 2.0, np.eye(3), math.radians(37.0))
        truth = with_attitude_error(nominal, error_axis, 0.2)
        nominal_ck = write_ck(tmp_path / "n.bc", nominal, et0 - 100, et0 + 100)
        truth_ck = write_ck(tmp_path / "t.bc", truth, et0 - 100, et0 + 100)
        times = et0 + np.random.default_rng(3).uniform(-99, 99, 10)
        read = {}
        for name, ck, model in (("nominal", nominal_ck, nominal), ("truth", truth_ck, truth)):
            with Kernels([ck]):
                read[name] = [np.asarray(spiceypy.pxform("JUNO_SPACECRAFT", "J2000", t)) for t in times]
                for t, from_ck in zip(times, read[name]):
                    assert np.abs(from_ck - model.spacecraft_to_j2000(t, with_alignment=True)).max() < 1e-9
                if name == "nominal":
                    z = np.asarray(spiceypy.pxform("JUNO_SPACECRAFT", "J2000", et0))[:, 2]
                    x0 = np.asarray(spiceypy.pxform("JUNO_SPACECRAFT", "J2000", et0))[:, 0]
                    x1 = np.asarray(spiceypy.pxform("JUNO_SPACECRAFT", "J2000", et0 + 1.0))[:, 0]
                    assert z == pytest.approx(spin_axis, abs=1e-12)
                    assert math.degrees(math.acos(np.clip(x0 @ x1, -1, 1))) == pytest.approx(12.0, abs=1e-9)
    for a, b in zip(read["nominal"], read["truth"]):
        angle, axis = _angle_axis(a.T @ b)  # R(axis_sc, angle), the same at every epoch
        assert angle == pytest.approx(0.2, abs=1e-9)
        assert axis == pytest.approx(np.asarray(error_axis, float) / np.linalg.norm(error_axis), abs=1e-6)
