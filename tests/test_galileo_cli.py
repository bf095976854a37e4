"""The Galileo SSI twin through the command line: ``ioflyby simulate --scenario galileo-i32
--camera ssi`` (the ``{metakernel, products, truth}`` JSON contract, real SSI REDRs) and
``ioflyby process`` on one of its frames (a GeoTIFF whose cells match the basemap the twin
rendered from: independent truth), and the one-line errors of ``--camera``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from typer.testing import CliRunner

from ioflyby.cli.app import _register_verbs, app, main
from ioflyby.ingest import read_product
from ioflyby.ingest.ssi import SsiProduct
from ioflyby.mapping.product import BACKPLANE_DESCRIPTIONS
from ioflyby.simulate import load_basemap
from ioflyby.simulate.ssi import BASEMAP_BAND


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    _register_verbs()
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    captured = capsys.readouterr()
    return exit_info.value.code or 0, captured.out, captured.err


@pytest.fixture(scope="module")
def ssi_twin(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("ssi-cli") / "twin"
    _register_verbs()
    result = CliRunner().invoke(app, ["simulate", "--scenario", "galileo-i32", "--camera", "ssi", "--out", str(out),
                                      "--json", "--seed", "3", "--surface-change", "5,280,40,0.5"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_simulate_camera_ssi_json_contract(ssi_twin):
    assert set(ssi_twin) == {"metakernel", "products", "truth"}
    truth = ssi_twin["truth"]
    out = Path(ssi_twin["metakernel"]).parent
    assert json.loads((out / "truth.json").read_text()) == truth
    assert truth["instrument"] == "GALILEO_SSI" and truth["seed"] == 3
    assert [c["lat_deg"] for c in truth["surface_changes"]] == [5.0]
    assert len(ssi_twin["products"]) == len(truth["products"]) == 3
    for path, record in zip(ssi_twin["products"], truth["products"]):
        product = read_product(path)
        assert path.endswith(".LBL") and isinstance(product, SsiProduct)
        assert product.framelets.shape[2:] == (record["lines"], record["samples"])
    assert not list(out.parent.glob(".twin.*"))


@pytest.mark.slow
def test_simulate_junocam_stays_the_default(tmp_path, capsys):
    """Without --camera the galileo-i32 twin is the JunoCam-like one (observer −61), as before
    (~22 s: three JunoCam images)."""
    code, out, _ = _run(["simulate", "--scenario", "galileo-i32", "--out", str(tmp_path / "j"), "--json",
                         "--written-fk-ik"], capsys)
    assert code == 0
    truth = json.loads(out)["truth"]
    assert truth.get("instrument") != "GALILEO_SSI" and truth["spacecraft_id"] == -61


def test_process_cli_on_an_ssi_twin_frame(ssi_twin, tmp_path, capsys):
    """``ioflyby process G32I0003.LBL --kernels twin.tm`` (nominal CK) writes a GeoTIFF; with the
    truth metakernel its Lambert-corrected cells correlate with the twin's basemap (r ≥ 0.95)."""
    record = ssi_twin["truth"]["products"][2]
    label = Path(ssi_twin["metakernel"]).parent / record["path"]
    lat = np.array([p["lat_deg"] for p in record["pixels"]])
    lon = np.array([p["lon_east_deg"] for p in record["pixels"]])
    box = ["--lat-range", f"{lat.min() + 1:.3f},{lat.max() - 1:.3f}",
           "--lon-range", f"{lon.min() + 1:.3f},{lon.max() - 1:.3f}"]
    code, out, err = _run(["process", str(label), "--kernels", ssi_twin["metakernel"], "--projection",
                           "equirectangular", *box, "--width", "400", "--out", str(tmp_path / "nominal"), "--json"],
                          capsys)
    assert code == 0, err
    written = [Path(p) for p in json.loads(out)["outputs"]]
    tifs = [p for p in written if p.suffix == ".tif"]
    assert tifs and all(p.is_file() and p.parent == tmp_path / "nominal" for p in tifs)
    with rasterio.open(tifs[0]) as dataset:
        assert dataset.crs is not None and dataset.width == 400

    truth_mk = Path(ssi_twin["metakernel"]).parent / ssi_twin["truth"]["kernels"]["truth_metakernel"]
    code, out, err = _run(["process", str(label), "--kernels", str(truth_mk), "--projection", "equirectangular",
                           *box, "--width", "400", "--photometry", "lambert", "--science", "--backplanes",
                           "--out", str(tmp_path / "truth"), "--json"], capsys)
    assert code == 0, err
    outputs = [Path(p) for p in json.loads(out)["outputs"]]
    linear = next(p for p in outputs if p.name.endswith("_linear.tif"))
    planes = next(p for p in outputs if p.name.endswith("_backplanes.tif"))
    with rasterio.open(linear) as dataset:
        values = dataset.read(1)
    with rasterio.open(planes) as dataset:
        band = {d.split(" (")[0]: k + 1 for k, d in enumerate(dataset.descriptions)}
        incidence, cell_lat, cell_lon = (dataset.read(band[BACKPLANE_DESCRIPTIONS[name].split(" (")[0]])
                                         for name in ("incidence", "lat", "lon_east"))
    lit = np.isfinite(values) & (incidence < 75.0)
    basemap = load_basemap(ssi_twin["truth"]["basemap"]["path"])
    expected = basemap.sample(BASEMAP_BAND[record["filter"]], np.radians(cell_lat[lit]), np.radians(cell_lon[lit]))
    r = np.corrcoef(values[lit], expected)[0, 1]
    print(f"ioflyby process {record['product_id']} (truth kernels): r = {r:.4f} over {lit.sum()} cells")
    assert lit.sum() > 50_000 and r >= 0.95


@pytest.mark.parametrize("argv, words", [
    (["--scenario", "pj57", "--camera", "ssi"], "galileo-i32"),
    (["--scenario", "galileo-i32", "--camera", "ssi", "--timing-offset", "0.5"], "--timing-offset"),
    (["--scenario", "galileo-i32", "--camera", "wac"], "junocam, ssi"),
])
def test_camera_errors_are_one_line(argv, words, tmp_path, capsys):
    code, _, err = _run(["simulate", *argv, "--out", str(tmp_path / "t")], capsys)
    assert code == 2
    assert words in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "t").exists()
