"""Absurd option values against every verb that takes any: each is refused with exit 2 and one
line (no traceback, no RuntimeWarning), nothing written, and where they are cheap to check,
before any work (the run would otherwise take seconds to minutes)."""

from __future__ import annotations

import pytest

from hostile.conftest import Sandbox, assert_refused

# case id -> (command line with {out}, {product}, {kernels}, {twin_product}, {mk} to fill, what the line must say)
CASES: dict[str, tuple[list[str], str]] = {
    "simulate:timing_offset_1e308": (["simulate", "--scenario", "pj57", "--out", "{out}", "--timing-offset", "1e308"],
                                     "--timing-offset"),
    "simulate:timing_offset_nan": (["simulate", "--scenario", "pj57", "--out", "{out}", "--timing-offset", "nan"],
                                   "--timing-offset"),
    "simulate:attitude_error_1e308": (["simulate", "--scenario", "pj57", "--out", "{out}", "--attitude-error",
                                       "1e308"], "--attitude-error"),
    "simulate:attitude_error_negative": (["simulate", "--scenario", "pj57", "--out", "{out}", "--attitude-error",
                                          "-1"], "--attitude-error"),
    "simulate:hot_spot_nan": (["simulate", "--scenario", "pj57", "--out", "{out}", "--hot-spot", "nan,0,1000,1"],
                              "--hot-spot"),
    "simulate:axis_zero": (["simulate", "--scenario", "pj57", "--out", "{out}", "--attitude-error-axis", "0,0,0"],
                           "--attitude-error-axis"),
    "simulate:scenario_traversal": (["simulate", "--scenario", "../../pj57", "--out", "{out}"], "unknown scenario"),
    "demo:map_width_zero": (["demo", "--out", "{out}", "--map-width", "0"], "--map-width"),
    "demo:map_width_1e9": (["demo", "--out", "{out}", "--map-width", "1000000000"], "--map-width"),
    "demo:scenario_traversal": (["demo", "--out", "{out}", "--scenario", "../../x"], "unknown scenario"),
    "derive-flat:window_1e9": (["calibrate", "derive-flat", "{product}", "--out", "{out}", "--window", "1000000001"],
                               "--window"),
    "derive-flat:window_even": (["calibrate", "derive-flat", "{product}", "--out", "{out}", "--window", "4"],
                                "window"),
    "process:projection_unknown": (["process", "{twin_product}", "--kernels", "{mk}", "--out", "{out}",
                                    "--projection", "../../x"], "projection"),
    "process:width_1e9": (["process", "{twin_product}", "--kernels", "{mk}", "--out", "{out}", "--width",
                           "1000000000"], "too large"),
    "process:pole_sideways": (["process", "{twin_product}", "--kernels", "{mk}", "--out", "{out}", "--projection",
                               "polar", "--pole", "east"], "--pole"),
    "process:stretch_garbage": (["process", "{twin_product}", "--kernels", "{mk}", "--out", "{out}", "--stretch",
                                 "a,b"], "--stretch"),
    "pointing:prior_unknown": (["pointing", "{twin_product}", "--kernels", "{mk}", "--out", "{out}", "--prior",
                                "oracle"], "--prior"),
    "flyby:year_9999": (["flyby", "--observer", "JUNO", "--target", "IO", "--start", "9999-01-01", "--stop",
                         "9999-01-02", "--kernels", "{mk}"], "SPK"),
    "flyby:start_garbage": (["flyby", "--observer", "JUNO", "--target", "IO", "--start", "yesterday", "--stop",
                             "today", "--kernels", "{mk}"], "time"),
    "flyby-compare:duplicate_labels": (["flyby", "compare", "--case", "a={mk}", "--case", "a={mk}", "--out", "{out}"],
                                       "unique"),
    "kernels-fetch:start_garbage": (["kernels", "fetch", "--start", "garbage", "--stop", "2023-12-31", "--dest",
                                     "{out}", "--dry-run"], "start time"),
    "volcano:near_infinite": (["volcano", "list", "--near", "1e999,0", "--radius-km", "5"], "--near"),
    "volcano:radius_negative": (["volcano", "list", "--near", "0,0", "--radius-km", "-1"], "--radius-km"),
    "volcano:source_traversal": (["volcano", "list", "--source", "../../etc/passwd"], "source"),
}


@pytest.mark.parametrize("case", [pytest.param(case, id=f"absurd_option:{case}") for case in CASES])
def test_absurd_option_is_refused(case, twin, good_product, sandbox: Sandbox, cli):
    args, match = CASES[case]
    fill = {"{out}": sandbox.out, "{product}": good_product, "{twin_product}": twin.products[0],
            "{mk}": twin.truth_metakernel}
    before = sandbox.snapshot()
    run = cli([fill.get(arg, arg) if arg in fill else arg.replace("{mk}", str(twin.truth_metakernel))
               for arg in args])
    assert_refused(run, sandbox, before, match)
