"""Framelet times from the spacecraft clock (SPACECRAFT_CLOCK_START_COUNT through the SCLK) when
an SCLK describes it, else from the label's START_TIME with a note.

Truths: the real PJ1 image's ISIS label (clock 525560580:87 = 2016-08-27T09:00:04.129, its
START_TIME written to the millisecond from the clock), the clock count converted by hand from the
SCLK kernel's coefficient table, and the digital twin's own SCLK and truth.json."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import numpy as np
import pytest
import spiceypy

from ioflyby import simulate
from ioflyby.camera import JunoCam
from ioflyby.geometry.timing import CLOCK_AGREEMENT_S, framelet_mid_ets, product_start
from ioflyby.ingest import read_product
from ioflyby.observation import Observation
from ioflyby.pointing import solve_loaded
from ioflyby.spice import Kernels, utc_to_et

PJ1_CLOCK = "525560580:87"
PJ1_START_TIME = "2016-08-27T09:00:04.129"
TICKS_PER_COUNT = 256


def _pj1_product(clock: str = PJ1_CLOCK) -> SimpleNamespace:
    """The label fields of the real PJ1 METHANE image JNCR_2016240_01M06152 (its ISIS label)."""
    return SimpleNamespace(start_time_utc=PJ1_START_TIME, spacecraft_clock_start=clock, n_exposures=12,
                           filters=("METHANE",), interframe_delay_s=0.378, exposure_ms=204.8)


def _sclk_by_hand(sclk_path, clock: str) -> float:
    """ET of a Juno clock string from the SCLK kernel's text (partitions, coefficient records
    of (encoded ticks, TDT s, seconds per count)), linear between records; TDT → TDB by SPICE's
    ``unitim`` alone."""
    text = sclk_path.read_text()

    def values(name: str) -> np.ndarray:
        body = re.search(rf"{name}\s*=\s*\(([^)]*)\)", text).group(1)
        return np.array([float(v.replace("D", "E")) for v in body.split()])

    starts, ends = values("SCLK_PARTITION_START_61"), values("SCLK_PARTITION_END_61")
    records = values("SCLK01_COEFFICIENTS_61").reshape(-1, 3)
    count, fraction = (int(v) for v in clock.split(":"))
    raw = count * TICKS_PER_COUNT + fraction
    partition = int(np.nonzero((starts <= raw) & (raw < ends))[0][-1])
    ticks = float(np.sum(ends[:partition] - starts[:partition]) + raw - starts[partition])
    record = records[np.searchsorted(records[:, 0], ticks, side="right") - 1]
    tdt = record[1] + (ticks - record[0]) / TICKS_PER_COUNT * record[2]
    return float(spiceypy.unitim(tdt, "TDT", "TDB"))


def test_pj1_start_from_the_clock(pj1_kernel_files, kernel_dir):
    """Real PJ1: the clock count through the official SCLK, 0.32 ms before START_TIME (the label
    rounds the clock's time to the millisecond: < 0.5 ms), equal to the hand conversion of the
    SCLK's coefficient table; every framelet moves by that much."""
    product = _pj1_product()
    with Kernels(pj1_kernel_files):
        start = product_start(product)
        by_hand = _sclk_by_hand(kernel_dir / "sclk/jno_sclkscet_00090.tsc", PJ1_CLOCK)
        label_et = utc_to_et(PJ1_START_TIME)
        camera = JunoCam.from_kernel_pool(product.filters)
        from_clock = framelet_mid_ets(product, camera)
        from_label = np.stack([camera.framelet_mid_et("METHANE", label_et, 0.378, np.arange(12), 0.2048)], axis=1)
    assert start.source == "sclk" and start.note == ""
    assert start.et == pytest.approx(by_hand, abs=2e-6)
    assert 0.1e-3 < -start.clock_minus_start_time_s < 0.5e-3
    assert start.clock_minus_start_time_s == pytest.approx(start.et - label_et, abs=1e-9)
    np.testing.assert_allclose(from_clock - from_label, start.clock_minus_start_time_s, atol=1e-6)
    assert start.to_dict()["clock_minus_start_time_ms"] == pytest.approx(-0.319, abs=0.01)


def test_start_time_without_an_sclk(kernel_dir):
    """No SCLK loaded: START_TIME, and the note says so."""
    with Kernels([kernel_dir / "lsk/naif0012.tls"]):
        start = product_start(_pj1_product())
        assert start.et == utc_to_et(PJ1_START_TIME)
    assert start.source == "start_time" and "no SCLK" in start.note and start.clock_minus_start_time_s is None


def test_start_time_without_a_clock_count(pj1_kernel_files):
    with Kernels(pj1_kernel_files):
        start = product_start(_pj1_product(clock="N/A"))
    assert start.source == "start_time" and "SPACECRAFT_CLOCK_START_COUNT" in start.note


def test_stale_sclk_falls_back_to_start_time(juno_2022_kernel_files, raw_products_dir):
    """The shared SCLK (jno_sclkscet_00090) ends its coefficient records in 2019; extrapolated
    to PJ44 (2022) it puts the clock count 1.70 s from START_TIME. That is not a clock the label
    was made with: START_TIME is used, and the note says why and what to load."""
    product = read_product(raw_products_dir / "JNCE_2022229_44C00029_V01")
    with Kernels(juno_2022_kernel_files):
        observation = Observation(product)
        last_record_tdt = spiceypy.gdpool("SCLK01_COEFFICIENTS_61", 0, 100000)[-2]
        assert spiceypy.unitim(last_record_tdt, "TDT", "TDB") < utc_to_et(product.start_time_utc)
        label_et = utc_to_et(product.start_time_utc)
    start = observation.start
    assert observation.time_source == "start_time" and start.et == label_et
    assert abs(start.clock_minus_start_time_s) > CLOCK_AGREEMENT_S
    assert "SCLK" in start.note and "START_TIME" in start.note


@pytest.fixture(scope="module")
def twin(tmp_path_factory, kernel_dir):
    out = tmp_path_factory.mktemp("twin_clock") / "pj57"
    options = simulate.TwinOptions(timing_offset_s=0.005, attitude_error_deg=0.3, official_kernel_dir=kernel_dir,
                                   images=(simulate.PlannedImage(-240.0),))
    simulate.build_twin("pj57", out, options)
    return out, json.loads((out / "truth.json").read_text())


def test_twin_clock_round_trips_and_agrees_with_start_time(twin):
    """The twin's label clock count through the twin's own SCLK is the epoch it rendered from
    (truth.json's label_start_et) and START_TIME's, to a microsecond; encoding that epoch gives
    the count back, tick for tick. So the clock and START_TIME paths agree on the twin."""
    root, truth = twin
    record = truth["products"][0]
    product = read_product(root / record["dir"])
    with Kernels([root / "twin.tm"]):
        start = product_start(product)
        count, fraction = (int(v) for v in product.spacecraft_clock_start.split(":"))
        ticks = spiceypy.sce2c(-61, start.et)
        label_et = utc_to_et(product.start_time_utc)
    assert start.source == "sclk"
    assert start.et == pytest.approx(record["label_start_et"], abs=1e-6)
    assert start.et == pytest.approx(label_et, abs=1e-6)
    assert ticks == pytest.approx(count * TICKS_PER_COUNT + fraction, abs=1e-3)


def test_solution_and_observation_say_the_time_source(twin):
    """The pointing report and the Observation name the clock; the timing solved from the CK is
    the injected one (truth.json), as with START_TIME."""
    root, truth = twin
    product = read_product(root / truth["products"][0]["dir"])
    with Kernels([root / "twin.tm"]):
        observation = Observation(product)
        solution = solve_loaded(product, prior="ck", align=True)
    assert observation.time_source == "sclk"
    report = solution.to_dict()["time_source"]
    assert report["source"] == "sclk" and report["clock_count"] == product.spacecraft_clock_start
    assert report["clock_minus_start_time_ms"] == pytest.approx(0.0, abs=1e-3)
    assert abs(solution.timing_offset_s - truth["injected"]["timing_offset_s"]) <= 1e-3
