"""A Galileo SSI map and a Juno JunoCam map of the same area through change detection
(``ioflyby.volcano.change.detect_changes`` and ``ioflyby change``), proved on the twins: the
galileo-i32 SSI twin (one full-frame CLEAR image 11 h after C/A, ~2.5 km/px, phase 4°) and the
pj57 JunoCam twin (one image 480 s before C/A, ~9 km/px, phase 93°), both mapped by
``io.process`` (Lambert-corrected linear I/F) onto the same equirectangular box, with a surface
change (``SurfaceChange``) injected into one epoch's twin. Truth: the injected change's exact area
and outline (``truth_comparison``), independent of the detector."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rasterio

import ioflyby as io
from ioflyby.cli.app import _register_verbs, main
from ioflyby.simulate import PlannedImage, TwinOptions, build_twin
from ioflyby.simulate.ssi import SsiImage, SsiTwinOptions, build_ssi_twin
from ioflyby.simulate.surface_change import SurfaceChange
from ioflyby.volcano.change import ChangeConfig, detect_changes, truth_comparison

REGION = (-2.0, 28.0, 152.0, 188.0)
"""(lat0, lat1, lon0, lon1) degrees, planetocentric, east longitude: lit and seen by both images."""
SSI_IMAGE = SsiImage(40000.0, "CLEAR", 10.0, aim="disc")
"""Galileo outbound, ~230,000 km from Io: the disc centred near 190°E, ~2.5 km/px."""
JUNO_IMAGE = PlannedImage(-480.0, n_exposures=30)
SSI_CELL_KM, JUNO_CELL_KM = 2.5, 8.0
"""Map cells near each image's native scale (SSI 2.5 km/px, JunoCam ~9 km/px here)."""
NEW_FLOW = SurfaceChange(14.0, 170.0, 90.0, 0.5, "flow", 120.0)
"""A new dark flow seen by Juno (after): 360 km long, 90 km (11 cells) wide."""
FADED_SPOT = SurfaceChange(8.0, 163.0, 80.0, 0.5)
"""A dark spot in Galileo's epoch (before) that faded by Juno's: 160 km (20 cells) across."""


def _map(twin, spec: io.MapSpec, out: Path) -> Path:
    return io.process(twin.products, [twin.truth_metakernel], spec, out).files["linear"]


def _spec(cell_km: float) -> io.MapSpec:
    return io.MapSpec(projection="equirectangular", lat_range=REGION[:2], lon_range=REGION[2:], resolution_km=cell_km,
                      photometry="lambert", science=True)


@pytest.fixture(scope="module")
def maps(tmp_path_factory) -> dict[str, Path]:
    """SSI and JunoCam maps with and without an injected change (truth kernels: the pointing is
    not under test here; ``tests/test_galileo_pointing.py`` solves it)."""
    root = tmp_path_factory.mktemp("galileo-change")
    result = {}
    for name, changes in (("ssi", ()), ("ssi_changed", (FADED_SPOT,))):
        twin = build_ssi_twin(root / name, SsiTwinOptions(images=(SSI_IMAGE,), window_s=45000.0,
                                                          surface_changes=changes))
        assert twin.truth["surface_changes"] == [c.to_dict() for c in changes]
        result[name] = _map(twin, _spec(SSI_CELL_KM), root / f"{name}_map")
    for name, changes in (("juno", ()), ("juno_changed", (NEW_FLOW,))):
        twin = build_twin("pj57", root / name, TwinOptions(images=(JUNO_IMAGE,), surface_changes=changes,
                                                           use_official_fk_ik=False))
        result[name] = _map(twin, _spec(JUNO_CELL_KM), root / f"{name}_map")
    return result


def test_the_maps_are_a_galileo_one_and_a_juno_one(maps):
    for name, instrument in (("ssi", "Galileo SSI CLEAR"), ("juno", "JunoCam")):
        with rasterio.open(maps[name]) as dataset:
            assert dataset.crs is not None and all(d.startswith(instrument) for d in dataset.descriptions)


def _check_recovered(result, change: SurfaceChange, kind: str) -> dict:
    row = truth_comparison(result, [change.to_dict()])[0]
    cell_km = result.grid.resolution_km
    across = 2 * change.radius_km / cell_km if change.shape == "disc" else change.radius_km / cell_km
    print(f"{change.shape}: true {row['true_area_km2']:.0f} km², found {row['found_area_km2']:.0f} km² "
          f"({row['area_error']:+.2%}), IoU {row['iou']:.3f}, {row.get('found_kind')}; {across:.1f} cells across; "
          f"{len(result.changes)} change(s), {len(result.artefacts)} artefact(s)")
    assert across >= 10
    assert row["found_kind"] == kind
    assert abs(row["area_error"]) <= 0.10
    assert row["iou"] >= 0.8
    assert result.changed_area_km2 <= 1.1 * change.area_km2()  # nothing else of note
    return row


def test_a_new_flow_in_the_juno_map_is_found_against_the_galileo_map(maps):
    result = detect_changes(maps["ssi"], maps["juno_changed"], ChangeConfig(region=REGION))
    assert result.grid.resolution_km == pytest.approx(JUNO_CELL_KM, rel=1e-3)  # the coarser input
    _check_recovered(result, NEW_FLOW, "darkening")


def test_a_change_in_the_galileo_epoch_is_found_against_the_juno_map(maps):
    """The injection in the SSI twin's surface (SsiTwinOptions.surface_changes): darker in
    Galileo's map, so Juno's map is brighter there."""
    result = detect_changes(maps["ssi_changed"], maps["juno"], ChangeConfig(region=REGION))
    _check_recovered(result, FADED_SPOT, "brightening")


def test_no_false_change_between_galileo_and_juno_when_nothing_changed(maps):
    result = detect_changes(maps["ssi"], maps["juno"], ChangeConfig(region=REGION))
    print(f"unchanged: {result.changed_area_km2:.0f} of {result.compared_area_km2:.0f} km² flagged")
    assert result.compared_area_km2 > 5e5  # most of the 30° × 36° box
    assert result.changed_area_km2 / result.compared_area_km2 < 0.01


def test_ioflyby_change_cli_takes_a_galileo_and_a_juno_map(maps, tmp_path, capsys):
    _register_verbs()
    out = tmp_path / "changes"
    with pytest.raises(SystemExit) as exit_info:
        main(["change", str(maps["ssi"]), str(maps["juno_changed"]), "--out", str(out),
              "--region", ",".join(f"{v:g}" for v in REGION), "--json"])
    assert exit_info.value.code in (0, None)
    result = json.loads(capsys.readouterr().out)
    assert len(result["changes"]) >= 1
    top = result["changes"][0]
    assert top["kind"] == "darkening"
    assert abs(top["area_km2"] / NEW_FLOW.area_km2() - 1.0) <= 0.10
    assert abs(top["centroid_lat_deg"] - 14.0) < 2.0 and abs(top["centroid_lon_east_deg"] - 170.0) < 3.0
    assert (out / "changes.geojson").is_file()
