"""The shared kernel writers (``ioflyby.spice.writers``) and the spin model's exact split.

Truth is independent of the writers: states read back through plain spiceypy against the
analytic motion; rotations rebuilt with Rodrigues' formula in plain numpy. Failures must be
IoflybyErrors and leave nothing in the output folder (no final file, no temporary).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import spiceypy

from ioflyby.errors import IoflybyError
from ioflyby.geometry.spin import SpinAttitude, split_about_z
from ioflyby.simulate import textkernels as tk
from ioflyby.spice import Kernels, SpkSegment, write_ck, write_sclk, write_spk


def _rodrigues(vector: np.ndarray) -> np.ndarray:
    angle = float(np.linalg.norm(vector))
    if angle == 0.0:
        return np.eye(3)
    k = np.asarray(vector, float) / angle
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(angle) * kx + (1 - math.cos(angle)) * kx @ kx


def _rz(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def test_spk_chunks_share_boundaries_and_read_back(tmp_path):
    """25,001 states of uniform motion (three chunked segments) read back exactly at and between samples."""
    r0, v = np.array([7000.0, -300.0, 50.0]), np.array([-1.5, 8.0, 0.25])
    epochs = 1.0e8 + np.arange(25_001) * 2.0
    states = np.hstack([r0 + np.outer(epochs - epochs[0], v), np.tile(v, (len(epochs), 1))])
    path = write_spk(tmp_path / "line.bsp", [SpkSegment(-999, 399, epochs, states)], "line")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["line.bsp"]
    with Kernels([path]):
        for et in (epochs[0], epochs[9_999], epochs[9_999] + 0.7, epochs[19_998] - 1.3, epochs[-1]):
            state = np.asarray(spiceypy.spkgeo(-999, float(et), "J2000", 399)[0])
            assert state[:3] == pytest.approx(r0 + (et - epochs[0]) * v, abs=1e-6)
            assert state[3:] == pytest.approx(v, abs=1e-9)
    handle = spiceypy.dafopr(str(path))
    try:
        spiceypy.dafbfs(handle)
        count = 0
        while spiceypy.daffna():
            count += 1
    finally:
        spiceypy.dafcls(handle)
    assert count == 3


def test_spk_failure_is_ioflyby_error_and_leaves_nothing(tmp_path):
    epochs = np.array([3.0, 2.0, 1.0])  # decreasing: CSPICE refuses
    with pytest.raises(IoflybyError, match="writing the SPK .*bad.bsp"):
        write_spk(tmp_path / "bad.bsp", [SpkSegment(-999, 399, epochs, np.zeros((3, 6)))])
    assert list(tmp_path.iterdir()) == []


def test_ck_without_sclk_is_ioflyby_error_and_leaves_nothing(tmp_path):
    ets = np.array([0.0, 1.0])
    with pytest.raises(IoflybyError, match="SCLK -61"):
        write_ck(tmp_path / "x.bc", ets, np.stack([np.eye(3)] * 2), np.zeros(3))
    assert list(tmp_path.iterdir()) == []


def test_ck_failure_while_writing_leaves_nothing(tmp_path):
    lsk = tk.write_lsk(tmp_path / "k" / "t.tls")
    sclk = write_sclk(tmp_path / "k" / "t.tsc", 0.0, "test clock", clock_id=-61)
    out = tmp_path / "out"
    out.mkdir()
    with Kernels([lsk, sclk]), pytest.raises(IoflybyError, match="writing the CK .*x.bc"):
        write_ck(out / "x.bc", np.array([5.0, 1.0]), np.stack([np.eye(3)] * 2), np.zeros(3))  # times decrease
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("time_system", ["TDB", "TDT"])
def test_sclk_counts_seconds_of_its_time_system(tmp_path, time_system):
    lsk = tk.write_lsk(tmp_path / "t.tls")
    path = write_sclk(tmp_path / "c.tsc", 7.0e8, "test clock", clock_id=-998, time_system=time_system)
    with Kernels([lsk, path]):
        for et in (7.0e8 + 10.0, 7.5e8 + 0.3):
            seconds = et if time_system == "TDB" else spiceypy.unitim(et, "TDB", "TDT")
            assert spiceypy.sce2c(-998, et) == pytest.approx((seconds - 7.0e8) * 256, abs=1e-3)


def test_split_about_z_is_exact():
    rng = np.random.default_rng(5)
    for _ in range(200):
        rotation = _rodrigues(rng.normal(size=3) * rng.uniform(0.01, 2.5))
        angle, (ax, ay) = split_about_z(rotation)
        assert np.abs(_rz(angle) @ _rodrigues(np.array([ax, ay, 0.0])) - rotation).max() < 1e-12


def test_spacecraft_rotation_goes_into_alignment_and_phase():
    """Any rotation in the spacecraft frame: the model's tilted attitude equals the old one times it
    at every epoch; its Z part changes the phase only."""
    base = SpinAttitude(1.0, -0.3, 0.4, 0.2, 0.0, np.eye(3), (0.002, -0.001))
    for vector in ([0.003, 0.004, 0.0], [0.0, 0.0, 0.01], [0.3, -0.2, 0.5]):
        rotated = base.with_spacecraft_rotation(_rodrigues(np.array(vector)))
        for et in (-7.0, 0.0, 13.0):
            expected = base.spacecraft_to_j2000(et, with_alignment=True) @ _rodrigues(np.array(vector))
            assert np.abs(rotated.spacecraft_to_j2000(et, with_alignment=True) - expected).max() < 1e-12
        assert rotated.axis == pytest.approx(base.axis, abs=1e-15)
    pure_z = SpinAttitude(1.0, -0.3, 0.4, 0.2, 0.0, np.eye(3)).with_spacecraft_rotation(_rz(0.01))
    assert pure_z.phase == pytest.approx(0.41, abs=1e-15) and pure_z.alignment == (0.0, 0.0)
