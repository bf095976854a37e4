"""``ioflyby change``: what changed on Io's surface between two maps (new lava, deposits, colour)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ioflyby.cli.app import app
from ioflyby.cli.output import console, emit, flag_names, progress

CHANGE_FLAGS = {"region": "--region", "resolution_km": "--resolution-km"}
STAGES = ("reading", "registration", "resolution", "normalisation", "regions", "measuring", "writing")


def _parse_region(text: str | None) -> tuple[float, float, float, float] | None:
    from ioflyby.volcano.change import ChangeError

    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4 or not all(-90.0 <= v <= 90.0 for v in values[:2]) or values[0] == values[1]:
        raise ChangeError(f"--region {text!r}: give LAT0,LAT1,LON0,LON1 in degrees (latitudes within ±90, "
                          "east longitudes, e.g. -30,10,90,140)")
    return values  # type: ignore[return-value]


def _print(result: dict) -> None:
    table = Table(title=f"{len(result['changes'])} changes ({result['changed_area_km2']:,.0f} km², "
                        f"{result['changed_fraction']:.2%} of the compared area)")
    for column in ("kind", "lat °", "lon °E", "area km²", "change", "score", "nearest feature"):
        table.add_column(column, justify="left" if column in ("kind", "nearest feature") else "right")
    for c in result["changes"][:30]:
        near = c["nearest_feature"]
        table.add_row(c["kind"], f"{c['centroid_lat_deg']:.2f}", f"{c['centroid_lon_east_deg']:.2f}",
                      f"{c['area_km2']:,.0f}", f"{c['mean_change']:+.2f}", f"{c['score']:.1f}",
                      f"{near['name']} ({near['distance_km']:.0f} km)")
    console.print(table)
    reg = result["registration"]
    local = reg.get("local") or {}
    console.print(f"registration: mean shift {reg['shift_x_px']:+.2f}, {reg['shift_y_px']:+.2f} cells, rotation "
                  f"{reg['rotation_deg']:+.3f} deg; local field mean {local.get('field_mean_px', 0.0):.2f}, max "
                  f"{local.get('field_max_px', 0.0):.2f} cells from {reg['tiles']} tiles"
                  f"{' (applied)' if reg['applied'] else ''}; {len(result['artefacts'])} mosaic artefacts set aside")
    for path in result["outputs"]:
        console.print(f"wrote {path}")


@app.command("change")
def change(
    before: Path = typer.Argument(..., help="The earlier map: an ioflyby GeoTIFF (Io CRS) or a USGS Io mosaic (.jpg)."),
    after: Path = typer.Argument(..., help="The later map, likewise."),
    out: Path = typer.Option(..., "--out", help="Folder for changes.geojson/.json, PNGs and the comparison."),
    region: str = typer.Option(None, "--region", help="LAT0,LAT1,LON0,LON1 (deg, east longitude): compare only "
                               "this box (default: where both maps overlap)."),
    resolution_km: float = typer.Option(None, "--resolution-km", help="Cell of the common grid (default: the "
                                        "coarser map's)."),
    window_km: float = typer.Option(500.0, "--window-km", help="Window of the local brightness normalisation."),
    seed_sigma: float = typer.Option(5.0, "--seed-sigma", help="Significance (z) a change must reach somewhere."),
    crops: int = typer.Option(8, "--crops", help="How many top changes to draw as before/after crops."),
    as_json: bool = typer.Option(False, "--json", help="Print {changes, artefacts, outputs, ...} as JSON."),
) -> None:
    """Compare two epochs of Io's surface: common grid, registration check, resolution and
    photometric normalisation, then changed regions (darkening, brightening, colour change) with
    area on Io's sphere, centroid, perimeter, significance and nearest catalogue feature, sorted by
    significance; mosaic artefacts (seams, resolution steps, brightness mismatch) are listed apart."""
    from ioflyby.fileio import check_out
    from ioflyby.volcano.change import ChangeConfig, ChangeError, detect_changes

    check_out(out)
    if crops < 0:
        raise ChangeError(f"--crops {crops}: give 0 or more")
    with flag_names(CHANGE_FLAGS):
        config = ChangeConfig(region=_parse_region(region), resolution_km=resolution_km, window_km=window_km,
                              seed_sigma=seed_sigma, grow_sigma=min(3.0, seed_sigma))
        with progress(disable=as_json) as bar:
            task = bar.add_task("reading", total=len(STAGES))

            def stage(name: str) -> None:
                bar.update(task, description=name, completed=STAGES.index(name) if name in STAGES else 0)

            result = detect_changes(before, after, config, stage)
            stage("writing")
            result.write(out, crops=crops)
            bar.update(task, completed=len(STAGES))
    emit(result.to_json(), as_json, _print)
