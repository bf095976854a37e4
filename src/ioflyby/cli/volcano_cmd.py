"""``ioflyby volcano list``: Io's volcanic centres and hot spots from the published catalogues."""

from __future__ import annotations

import math

import typer
from rich.table import Table

from ioflyby.cli.app import app
from ioflyby.cli.output import console, emit, flag_names
from ioflyby.errors import IoflybyError

volcano_app = typer.Typer(help="Io's volcanoes: the published catalogue.", no_args_is_help=True)
app.add_typer(volcano_app, name="volcano")

VOLCANO_FLAGS = {"near": "--near", "radius_km": "--radius-km", "min_power_gw": "--min-power-gw"}
TABLE_COLUMNS = (("name", "name", ""), ("iau_name", "IAU feature", ""), ("lat_deg", "lat °", ".1f"),
                 ("lon_east_deg", "lon °E", ".1f"), ("feature_type", "type", ""), ("power_gw", "GW", "n"),
                 ("temperature_k", "T K", ".0f"), ("area_km2", "km²", "n"), ("source", "source", ""))
"""What a person sees (--json has every column, west longitude and status included)."""


def _near(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        lat, lon = (float(v) for v in text.split(","))
    except ValueError:
        raise IoflybyError(f"--near must be LAT,LON in degrees (east longitude), got {text!r}") from None
    return lat, lon


def _cell(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if fmt == "n":  # powers and areas span 1e-3..1e4: whole numbers from 100 up, 3 significant digits below
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return format(value, fmt) if fmt else str(value)


def _print(result: dict) -> None:
    features = result["features"]
    table = Table(title=f"Io volcano catalogue: {len(features)} features")
    columns = TABLE_COLUMNS + ((("distance_km", "distance km", ".1f"),) if features and "distance_km" in features[0]
                               else ())
    for key, title, fmt in columns:
        table.add_column(title, justify="right" if fmt else "left", no_wrap=key in ("name", "iau_name"))
    for feature in features:
        table.add_row(*(_cell(feature[key], fmt) for key, _, fmt in columns))
    console.print(table)
    console.print("Sources: Davies et al. 2024 (PSJ 5:121), Mura et al. 2024 (Front. Astron. Space Sci. 11:1369472), "
                  "IAU Gazetteer of Planetary Nomenclature. Longitudes converted from the published west-positive.")


@volcano_app.command("list")
def list_features(
    near: str = typer.Option(None, "--near", help="Centre LAT,LON (deg, east longitude) of a search circle."),
    radius_km: float = typer.Option(None, "--radius-km", help="With --near: radius of the circle, km on Io's surface."),
    source: str = typer.Option("all", "--source", help="davies, mura, gazetteer or all."),
    min_power_gw: float = typer.Option(None, "--min-power-gw", help="Only sources at least this powerful (GW)."),
    as_json: bool = typer.Option(False, "--json", help='Print {"features": [...]} as JSON.'),
) -> None:
    """List Io's volcanic centres and hot spots (Davies et al. 2024 thermal sources, Mura et al.
    2024 JIRAM M-band output per orbit, IAU gazetteer features) with position (planetocentric
    latitude, east and west longitude), type, power, temperature, area and the IAU feature each
    belongs to; with --near, those within --radius-km sorted by distance."""
    from ioflyby.volcano.catalogue import features_json, select_features

    with flag_names(VOLCANO_FLAGS):
        table = select_features(sources=source, near=_near(near), radius_km=radius_km, min_power_gw=min_power_gw)
    emit({"features": features_json(table)}, as_json, _print)
