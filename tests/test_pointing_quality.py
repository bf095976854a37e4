"""Quality gates: every pointing solution carries a verdict (good / degraded / refused) with its
reasons, and a refused one is neither written as a CK nor used for maps unless accepted.

Cases built to fail, each against what is known to be wrong with it: the twin's limb cut to two
framelets (its other framelets blanked), the real PJ44 product cropped to a 40-sample strip (a
limb arc of a few degrees), and a wrong target name. The five real products solving `good` is
asserted in tests/test_pointing_real.py."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from conftest import two_limb_framelets
from ioflyby import simulate
from ioflyby.cli.app import main
from ioflyby.errors import PointingError
from ioflyby.ingest import read_product, write_product
from ioflyby.ingest.product import thaw
from ioflyby.observation import Observation
from ioflyby.pointing import PointingRefused, solve_loaded
from ioflyby.pointing.limb import detect_limb
from ioflyby.pointing.quality import arc_coverage_deg, judge, lower_check, upper_check
from ioflyby.processing import process
from ioflyby.spice import Kernels

PJ44 = "JNCE_2022229_44C00029_V01"
STRIP_SAMPLES = 40


def test_verdict_is_the_worst_check():
    good = upper_check("limb_rms", 0.5, (1.0, 2.0), "px", "limb RMS")
    degraded = lower_check("limb_framelets", 4, (5, 3), "framelets", "limb seen in")
    refused = upper_check("axis_sigma", 3.0, (0.5, 2.0), "deg", "spin-axis formal sigma")
    assert (good.verdict, degraded.verdict, refused.verdict) == ("good", "degraded", "refused")
    assert judge([good]).verdict == "good" and judge([good]).reasons == []
    assert judge([good, degraded]).verdict == "degraded"
    quality = judge([degraded, good, refused])
    assert quality.verdict == "refused" and quality.reasons[0].startswith("spin-axis formal sigma 3")
    assert "joint" in quality.advice
    assert upper_check("across_sigma", float("nan"), (2.5, 6.0), "px", "x").verdict == "refused"


def test_arc_coverage_wraps_around_north():
    assert arc_coverage_deg(np.array([350.0, 355.0, 5.0, 10.0])) == pytest.approx(20.0)
    assert arc_coverage_deg(np.arange(0.0, 360.0, 10.0)) == pytest.approx(350.0)
    assert arc_coverage_deg(np.array([42.0])) == 0.0


# -- the twin's limb cut to two framelets -------------------------------------------------------------
@pytest.fixture(scope="module")
def twin(tmp_path_factory, kernel_dir):
    out = tmp_path_factory.mktemp("twin_quality") / "pj57"
    options = simulate.TwinOptions(timing_offset_s=0.015, attitude_error_deg=0.3, official_kernel_dir=kernel_dir,
                                   images=(simulate.PlannedImage(-60.0),))
    simulate.build_twin("pj57", out, options)
    truth = json.loads((out / "truth.json").read_text())
    return out, read_product(out / truth["products"][0]["dir"])


@pytest.mark.parametrize("prior", ["ck", "search"])
def test_twin_limb_in_two_framelets_is_refused(twin, prior):
    """The full product solves `good` (control); cut to two framelets of limb the solve still
    returns an answer with a fine limb RMS, but its verdict is refused, for too few framelets (and
    from the global search, for a loose attitude), and it cannot be attached for maps."""
    root, product = twin
    with Kernels([root / "twin.tm"]):
        full = solve_loaded(product, prior=prior, align=True)
        cut = solve_loaded(two_limb_framelets(product), prior=prior, align=True)
        observation = Observation(product)
        with pytest.raises(PointingRefused, match="refused"):
            observation.with_pointing(replace(cut, product_id=product.product_id))
    assert full.verdict == "good", full.quality.summary()
    assert cut.limb_rms_px < 0.5
    assert cut.verdict == "refused"
    checks = {c.name: c for c in cut.quality.checks}
    assert checks["limb_framelets"].value <= 2 and checks["limb_framelets"].verdict == "refused"
    if prior == "search":
        assert checks["across_sigma"].verdict == "refused"
    report = cut.to_dict()["quality"]
    assert report["verdict"] == "refused" and report["reasons"] and report["advice"]


# -- the real PJ44 product with a tiny limb -----------------------------------------------------------
@pytest.fixture(scope="module")
def strip_dir(raw_products_dir, tmp_path_factory):
    """The real PJ44 product blanked but for a 40-sample strip through the middle of its limb,
    written as a product (a folder the CLI reads)."""
    product = read_product(raw_products_dir / PJ44)
    middle = int(np.median(detect_limb(product.decompanded()).sample))
    cube = np.zeros_like(product.framelets)
    cube[..., middle:middle + STRIP_SAMPLES] = product.framelets[..., middle:middle + STRIP_SAMPLES]
    folder = tmp_path_factory.mktemp("strip") / PJ44
    write_product(folder, cube, thaw(product.metadata))
    return folder


@pytest.fixture(scope="module")
def strip(strip_dir):
    return read_product(strip_dir)


@pytest.fixture(scope="module")
def strip_solution(strip, juno_2022_kernel_files):
    with Kernels(juno_2022_kernel_files):
        return solve_loaded(strip, prior="search", align=True)


def test_real_product_with_a_tiny_limb_is_refused(strip_solution):
    """A few degrees of limb arc cannot fix a spin axis: the solve converges, the verdict says
    refused for the arc and the formal sigma (a degree or more of spin axis, pixels of pointing)."""
    checks = {c.name: c for c in strip_solution.quality.checks}
    assert strip_solution.verdict == "refused"
    assert checks["limb_arc"].value < 10.0 and checks["limb_arc"].verdict == "refused"
    assert checks["axis_sigma"].value > 1.0 and checks["axis_sigma"].verdict == "refused"
    assert checks["across_sigma"].verdict == "refused"


def _cli(args, kernels):
    for path in kernels:
        args += ["--kernels", str(path)]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return exit_info.value.code


def test_cli_refuses_to_write_a_refused_ck(strip_dir, juno_2022_kernel_files, tmp_path, capsys):
    """``ioflyby pointing`` exits 2 with one line that says refused, why and what would help, and
    writes nothing; with --accept-degraded it writes the CK and its JSON says refused."""
    code = _cli(["pointing", str(strip_dir), "--out", str(tmp_path / "refused"), "--json"], juno_2022_kernel_files)
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "refused" in lines[0] and "limb arc" in lines[0] and "--accept-degraded" in lines[0]
    assert "joint" in lines[0]
    assert not list(tmp_path.rglob("*.bc"))
    code = _cli(["pointing", str(strip_dir), "--out", str(tmp_path / "accepted"), "--json",
                 "--accept-degraded"], juno_2022_kernel_files)
    result = json.loads(capsys.readouterr().out)
    assert code in (0, None)
    assert result["quality"]["verdict"] == "refused" and result["report"]["quality"]["verdict"] == "refused"
    for key in ("timing_offset_s", "spin_axis_ra_deg", "spin_axis_dec_deg", "spin_rate_rpm", "limb_rms_px",
                "n_limb_points", "ck"):
        assert key in result
    assert (tmp_path / "accepted" / f"{PJ44}_pointing.bc").exists()


def test_process_refuses_a_refused_pointing(strip_dir, strip, strip_solution, juno_2022_kernel_files, tmp_path,
                                           capsys):
    """Maps are not made from a refused pointing: the library raises, the CLI exits 2, nothing
    is written."""
    with pytest.raises(PointingRefused):
        process([strip], juno_2022_kernel_files, out=tmp_path / "lib", pointing=[strip_solution])
    code = _cli(["process", str(strip_dir), "--out", str(tmp_path / "cli"), "--solve-pointing",
                 "--pointing-prior", "search"], juno_2022_kernel_files)
    assert code == 2 and "refused" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.tif"))


def test_accepting_a_refused_pointing_is_explicit(strip, strip_solution, juno_2022_kernel_files):
    with Kernels(juno_2022_kernel_files):
        observation = Observation(strip).with_pointing(strip_solution, accept_degraded=True)
    assert observation.pointing.verdict == "refused" and observation.has_poses


# -- wrong target name --------------------------------------------------------------------------------
def test_wrong_target_is_refused_not_answered(twin, raw_products_dir, juno_2022_kernel_files):
    """The twin's Io image solved as Jupiter: an answer comes back, refused (a loose attitude, a
    poor limb fit, a spin rate off Juno's). The real Jupiter image solved as Earth: no answer."""
    root, product = twin
    with Kernels([root / "twin.tm"]):
        as_jupiter = solve_loaded(replace(product, target="JUPITER"), prior="search", align=True)
    assert as_jupiter.verdict == "refused", as_jupiter.quality.summary()
    real = read_product(raw_products_dir / PJ44)
    with Kernels(juno_2022_kernel_files), pytest.raises(PointingError, match="target name EARTH"):
        solve_loaded(replace(real, target="EARTH"), prior="search", align=True)
