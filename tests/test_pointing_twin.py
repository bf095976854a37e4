"""Pointing solved on digital-twin products with injected timing and attitude errors; truth from
the twin's truth CK and truth.json (independent of the solver).

What the limb of a (nearly) spherical target determines, and what it cannot:

- the camera's pointing *across* the line of sight at every framelet where the target is seen:
  asserted ≤ 0.015° here, with limb RMS ≤ 0.3 px;
- *not* the roll about the line of sight (a rotation of the whole sky about the target direction
  leaves a sphere's limb unchanged) and, at these ranges, *not* a timing offset separately from
  the spin phase (Io moves < 0.05 px in 15 ms). The solver keeps those near the priors and
  reports formal sigmas; the tests check it does not claim millisecond timing it cannot have.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import spiceypy

from ioflyby import simulate
from ioflyby.camera import JunoCam
from ioflyby.geometry import framelet_mid_ets
from ioflyby.ingest import read_product
from ioflyby.pointing import solve_loaded, write_ck
from ioflyby.spice import KernelSet

TIMING_OFFSET_S = 0.015
ATTITUDE_ERROR_DEG = 0.3


def _pj57_twin(folder, kernel_dir, offset_from_ca_s: float):
    """The pj57 twin with one image at ``offset_from_ca_s`` and the injected errors above."""
    out = folder / "pj57"
    options = simulate.TwinOptions(
        timing_offset_s=TIMING_OFFSET_S,
        attitude_error_deg=ATTITUDE_ERROR_DEG,
        attitude_error_axis_sc=(0.6, 0.8, 0.0),
        official_kernel_dir=kernel_dir,
        images=(simulate.PlannedImage(offset_from_ca_s),),
    )
    simulate.build_twin("pj57", out, options)
    return out, json.loads((out / "truth.json").read_text())


@pytest.fixture(scope="module")
def twin(tmp_path_factory, kernel_dir):
    return _pj57_twin(tmp_path_factory.mktemp("twin"), kernel_dir, -480.0)


def _pointing_errors(root, truth, solution, product):
    """Across-line-of-sight and roll errors (deg) of the solved camera pointing at the nominal
    epochs of framelets holding limb points, against the truth CK at the true epochs."""
    with KernelSet([root / "twin_truth.tm"]):
        ets = framelet_mid_ets(product, JunoCam.from_kernel_pool(product.filters))
        across, roll = [], []
        for row in solution.per_framelet:
            et = float(ets[row["exposure"], product.filters.index(row["filter"])])
            true_et = et + truth["injected"]["timing_offset_s"]
            target, _ = spiceypy.spkpos(truth["target"], true_et, "J2000", "LT+S", "JUNO")
            u = np.asarray(target) / np.linalg.norm(target)
            error = solution.camera_to_j2000(et) @ np.asarray(spiceypy.pxform("JUNO_JUNOCAM", "J2000", true_et)).T
            axis, angle = spiceypy.raxisa(error)
            vector = np.asarray(axis) * angle
            roll.append(np.degrees(vector @ u))
            across.append(np.degrees(np.linalg.norm(vector - (vector @ u) * u)))
    return np.array(across), np.array(roll)


@pytest.fixture(scope="module")
def ck_solution(twin):
    """Product, solution from the nominal CK (0.3° off the truth, no timing offset), with alignment."""
    root, truth = twin
    product = read_product(root / truth["products"][0]["dir"])
    with KernelSet([root / "twin.tm"]):
        return product, solve_loaded(product, prior="ck", align=True)


def test_twin_pointing_from_ck_prior_with_injected_errors(twin, ck_solution):
    root, truth = twin
    product, solution = ck_solution
    across, roll = _pointing_errors(root, truth, solution, product)
    assert solution.limb_rms_px <= 0.3
    assert solution.n_limb_points > 500
    assert across.max() <= 0.015, f"pointing across the line of sight off by {across.max():.4f}°"
    # Unobservable parts: the solver must not claim a timing precision the limb cannot give
    # (measured error here ~16 ms), and the roll must not run away from the prior by more than
    # the prior's own error.
    assert solution.sigma["timing_offset_s"] >= 1e-3
    assert abs(solution.timing_offset_s) < 0.02
    assert np.abs(roll).max() <= ATTITUDE_ERROR_DEG + 0.1


def test_written_ck_reproduces_the_solved_camera_pointing_through_the_fk(twin, ck_solution, tmp_path):
    """A SPICE user loading the written CK with the FK must get the solved camera pointing, the
    solved alignment included: pxform(JUNO_JUNOCAM → J2000) at the nominal framelet epochs equals
    ``solution.camera_to_j2000`` to < 1e-6 rad. The twin's truth tilts the spacecraft 0.3° off
    the spin axis, so the solved alignment is large (asserted > 0.15°) and a CK that dropped it
    would be off by that much (measured 4.6e-3 rad before the fix)."""
    root, _ = twin
    product, solution = ck_solution
    assert np.degrees(np.hypot(*solution.attitude.alignment)) > 0.15
    with KernelSet([root / "twin.tm"]):
        info = write_ck(solution, tmp_path / "solved.bc")
        # Loaded after the twin's nominal CK, so it takes precedence; with the SCLK it was
        # encoded with when the loaded one could not (the writer unloads that one again).
        extra = [tmp_path / "solved.bc", *([info["sclk"]] if info["sclk"] else [])]
        with KernelSet(extra):
            ets = framelet_mid_ets(product, JunoCam.from_kernel_pool(product.filters))
            errors = []
            for et in np.linspace(ets.min(), ets.max(), 25):
                spice = np.asarray(spiceypy.pxform("JUNO_JUNOCAM", "J2000", float(et)))
                _, angle = spiceypy.raxisa(spice @ solution.camera_to_j2000(float(et)).T)
                errors.append(angle)
    assert max(errors) < 1e-6, f"CK through the FK differs from the solution by {max(errors):.2e} rad"


def test_twin_pointing_without_ck(twin):
    root, truth = twin
    product = read_product(root / truth["products"][0]["dir"])
    with KernelSet([root / "twin.tm"]):
        solution = solve_loaded(product, prior="search", align=True)
    across, _ = _pointing_errors(root, truth, solution, product)
    assert solution.start == "global-search"
    assert solution.limb_rms_px <= 0.3
    assert across.max() <= 0.015


@pytest.fixture(scope="module")
def twin_near_ca(tmp_path_factory, kernel_dir):
    return _pj57_twin(tmp_path_factory.mktemp("twin60"), kernel_dir, -60.0)


def test_twin_timing_near_closest_approach_is_honest(twin_near_ca):
    """Issue 6 asks for timing ≤ 1 ms; the limb of one image cannot give it, even 60 s from C/A.

    Physics (pj57 twin, image at −60 s): range 3,754 km, Io moves 25.9 km/s across the line of
    sight, so 1 ms shifts it 0.026 km = 6.9 µrad = 0.010 px (IFOV 675 µrad) — but at one epoch
    that shift is the same for every limb point, i.e. exactly a pointing offset, which the spin
    phase/axis absorb (1 ms of spin is 0.31 px). What is left is second order: the range changes
    by 13.6 km/s · 1 ms = 0.014 km, the disc radius (~750 px) by 0.003 px per ms, against a limb
    noise of 0.2 px over ~5,000 points (and a limb-detection bias of ~0.1 px, measured on this
    twin, mimics 0.1 px of radius = ~36 ms of range change). Measured (global search): timing
    −1 ms, formal 1-σ ≈ 12 ms. The test asserts the solver reports that honestly: σ ≥ 1 ms and the
    true offset within 3 σ of the estimate."""
    root, truth = twin_near_ca
    product = read_product(root / truth["products"][0]["dir"])
    with KernelSet([root / "twin.tm"]):
        solution = solve_loaded(product, prior="search", align=True)
    across, _ = _pointing_errors(root, truth, solution, product)
    sigma = solution.sigma["timing_offset_s"]
    assert solution.limb_rms_px <= 0.3
    # Near C/A the timing error (~8 ms) moves Io by 6.9 mrad/s · 8 ms ≈ 0.003° against the stars,
    # so the camera pointing at the true epochs carries it: measured 0.0165° max.
    assert across.max() <= 0.02
    assert sigma >= 1e-3
    assert abs(solution.timing_offset_s - truth["injected"]["timing_offset_s"]) <= 3.0 * sigma


def test_twin_near_closest_approach_from_ck_prior(twin_near_ca):
    """The same image solved from the nominal CK (0.3° tilt, no timing offset) must do at least as
    well as the search. Before the fix it ran to −122 ms (σ 14 ms) with the spin axis rolled 5.7°
    about the line of sight and 0.053° across it: the ±20 ms timing and ±1° axis priors went
    through the robust loss (soft-L1 turned them linear, far too weak against 5,000 points),
    and the alignment was withheld at the wide gates, so the 0.3° tilt went into a roll the limb
    could not undo. Measured after: −0.4 ± 10.4 ms, 0.012° across, 0.03° roll."""
    root, truth = twin_near_ca
    product = read_product(root / truth["products"][0]["dir"])
    with KernelSet([root / "twin.tm"]):
        solution = solve_loaded(product, prior="ck", align=True)
    across, roll = _pointing_errors(root, truth, solution, product)
    sigma = solution.sigma["timing_offset_s"]
    assert solution.start == "ck"
    assert solution.limb_rms_px <= 0.3
    assert across.max() <= 0.015, f"pointing across the line of sight off by {across.max():.4f}°"
    assert np.abs(roll).max() <= ATTITUDE_ERROR_DEG + 0.1
    assert 1e-3 <= sigma <= 0.025
    assert abs(solution.timing_offset_s - truth["injected"]["timing_offset_s"]) <= 3.0 * sigma
    # The injected 0.3° tilt of the spacecraft from the spin axis is what the alignment recovers.
    tilt = np.radians(ATTITUDE_ERROR_DEG) * np.array([0.6, 0.8])
    assert np.degrees(np.hypot(*(np.array(solution.attitude.alignment) - tilt))) < 0.05
