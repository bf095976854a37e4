"""Kernels: loading, coverage reports, errors; the `ioflyby kernels check` CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import spiceypy

from ioflyby.errors import CoverageError, KernelError
from ioflyby.spice import Kernels, utc_to_et

JUNO_SPK_2022 = "spk/spk_pre_220614_221109_220810_jm0450.bsp"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from ioflyby.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_spk_coverage_matches_spkcov(kernel_dir):
    spk = kernel_dir / JUNO_SPK_2022
    with Kernels([kernel_dir / "lsk/naif0012.tls", spk]) as kernels:
        coverage = {c.id: c for c in kernels.spk_coverage()}
    # Independent: read the same file's coverage with raw spiceypy calls.
    cell = spiceypy.cell_double(100)
    spiceypy.spkcov(str(spk), -61, cell)
    start, stop = spiceypy.wnfetd(cell, 0)
    assert coverage[-61].start_et == start and coverage[-61].stop_et == stop
    assert set(coverage) == {-61, 3, 5, 10, 301, 399, 599}


def test_kernelset_unloads_only_its_files(kernel_dir):
    lsk = kernel_dir / "lsk/naif0012.tls"
    before = spiceypy.ktotal("ALL")
    with Kernels([lsk]):
        with Kernels([lsk, kernel_dir / "fk/juno_v12.tf"]):
            assert spiceypy.ktotal("ALL") == before + 3
        assert spiceypy.ktotal("ALL") == before + 1
        utc_to_et("2023-12-30T08:36:00")  # the outer set's LSK is still there
    assert spiceypy.ktotal("ALL") == before


def test_metakernel_members_are_loaded_and_reported(kernel_dir, tmp_path):
    mk = tmp_path / "test.tm"
    mk.write_text(
        "KPL/MK\n\\begindata\n"
        f"PATH_VALUES = ( '{kernel_dir}' )\nPATH_SYMBOLS = ( 'K' )\n"
        "KERNELS_TO_LOAD = ( '$K/lsk/naif0012.tls', '$K/sclk/jno_sclkscet_00090.tsc',\n"
        "  '$K/fk/juno_v12.tf', '$K/pj1_image_slices/juno_sc_rec_160821_160827_v01_0_sliced_-61000.bc' )\n"
        "\\begintext\n"
    )
    with Kernels([mk]) as kernels:
        report = kernels.report()
    kinds = [k["kind"] for k in report["text_kernels"]]
    assert kinds == ["MK", "LSK", "SCLK", "FK"]
    (ck,) = report["ck"]
    assert ck["frame_id"] == -61000 and ck["name"] == "JUNO_SPACECRAFT" and ck["sclk_id"] == -61
    assert ck["start_utc"].startswith("2016-08-27T08:1")
    assert report["problems"] == []


def test_ck_without_sclk_is_reported_as_problem(kernel_dir):
    ck = kernel_dir / "pj1_image_slices/juno_sc_rec_160821_160827_v01_0_sliced_-61000.bc"
    with Kernels([kernel_dir / "lsk/naif0012.tls", ck]) as kernels:
        problems = kernels.problems()
        assert kernels.ck_coverage() == []
    assert any("SCLK -61" in p for p in problems)


def test_require_spk_names_body_time_and_loaded_files(kernel_dir):
    spk = kernel_dir / JUNO_SPK_2022
    with Kernels([kernel_dir / "lsk/naif0012.tls", spk]) as kernels:
        et = utc_to_et("2023-12-30T08:36:00")
        with pytest.raises(CoverageError) as info:
            kernels.require_spk("IO", et)
        kernels.require_spk("JUNO", utc_to_et("2022-07-05T09:00:00"))
    message = str(info.value)
    assert "IO (501)" in message and "2023-12-30T08:36:00" in message and spk.name in message


@pytest.mark.parametrize("content", [b"not a kernel at all", b"DAF/SPK " + bytes(2000)])
def test_corrupt_kernel_is_kernel_error(tmp_path, content):
    bad = tmp_path / "bad.bsp"
    bad.write_bytes(content)
    before = spiceypy.ktotal("ALL")
    with pytest.raises(KernelError, match="bad.bsp"):
        Kernels([bad]).load()
    assert spiceypy.ktotal("ALL") == before


def test_truncated_spk_is_kernel_error(kernel_dir, tmp_path):
    truncated = tmp_path / "truncated.bsp"
    truncated.write_bytes((kernel_dir / JUNO_SPK_2022).read_bytes()[:5000])
    with pytest.raises(KernelError, match="truncated"):
        Kernels([truncated]).load()


def test_cli_kernels_check_json_lists_juno(kernel_dir):
    result = _cli("kernels", "check", str(kernel_dir / "lsk/naif0012.tls"), str(kernel_dir / JUNO_SPK_2022), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    juno = [row for row in report["spk"] if row["body"] == -61]
    assert juno == [
        {"body": -61, "name": "JUNO", "start_utc": juno[0]["start_utc"], "stop_utc": juno[0]["stop_utc"]}
    ]
    assert juno[0]["start_utc"].startswith("2022-06-14") and juno[0]["stop_utc"].startswith("2022-11-09")
    assert set(report) == {"spk", "ck", "text_kernels", "problems"}


@pytest.mark.parametrize("make_bad", ["missing", "corrupt"])
def test_cli_bad_kernel_one_line_exit_2(tmp_path, make_bad):
    path = tmp_path / "juno.bsp"
    if make_bad == "corrupt":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    result = _cli("kernels", "check", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "juno.bsp" in lines[0] and "Traceback" not in result.stderr
