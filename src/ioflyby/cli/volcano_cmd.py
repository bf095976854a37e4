"""``ioflyby volcano list``: Io's volcanic centres and hot spots from the published catalogues;
``ioflyby volcano timeseries``: their light curves across epochs and the statistics of them."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.table import Table

from ioflyby.cli.app import app
from ioflyby.cli.output import console, emit, flag_names, progress
from ioflyby.errors import IoflybyError

volcano_app = typer.Typer(help="Io's volcanoes: the published catalogue and eruption time series.",
                          no_args_is_help=True)
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


TIMESERIES_FLAGS = {"factor": "--outburst-factor", "n_sigma": "--outburst-sigma",
                    "min_period_days": "--min-period-days", "max_period_days": "--max-period-days",
                    "max_lag_days": "--max-lag-days"}


def _print_timeseries(result: dict) -> None:
    series = result["series"]
    table = Table(title=f"Io hot-spot time series: {len(series)} light curves")
    for title in ("name", "quantity", "epochs (GW)", "max/min", "duty", "period d (FAP)", "outbursts"):
        table.add_column(title, justify="left" if title in ("name", "quantity", "epochs (GW)", "outbursts") else "right")
    shown = sorted(series, key=lambda s: (-len(s["outbursts"]), -((s["variability"] or {}).get("max_over_min") or 0)))
    for s in shown[:40]:
        values = " → ".join("—" if e["value_gw"] is None else f"{e['value_gw']:.3g}" for e in s["epochs"]
                            if e["kind"] == "observation")
        ratio = (s["variability"] or {}).get("max_over_min")
        period = f"{s['periods_days'][0]:.0f} ({s['false_alarm']:.1e})" if s["periods_days"] else ""
        bursts = ", ".join(f"{o['start_epoch']} ×{o['factor']:.1f}" if o["factor"] else o["start_epoch"]
                           for o in s["outbursts"])
        table.add_row(s["name"], s["quantity"], values, _cell(ratio, ".3g"), _cell(s["duty_cycle"], ".2f"), period,
                      bursts)
    console.print(table)
    if len(series) > 40:
        console.print(f"… {len(series) - 40} more in --json and {result['outputs'][0]}")
    for d in result["distributions"]:
        tests = "; ".join(f"{t['name']} p={t['p_value']:.2g}" for t in d["tests"])
        console.print(f"{d['population']} ({d['n']}): {'not uniform' if d['rejects_uniform'] else 'uniform'} — {tests}")
    console.print(f"Outburst criterion: {result['criteria']['outburst']}")
    link = result.get("magnetosphere")
    if link:
        console.print(f"Io's magnetospheric context joined at {len(link['per_epoch'])} epochs "
                      f"(kernels cover {link['kernel_span_utc']})")
        for c in link["correlations"]:
            verdict = c.get("reason") or f"p = {c['p_value']:.3g}" + (" (significant at 1 %)" if c["p_value"] < 0.01
                                                                      else "")
            console.print(f"  activity vs {c['covariate']}: {verdict}")
    for path in result["outputs"]:
        console.print(f"wrote {path}")


@volcano_app.command("timeseries")
def timeseries(
    out: Path = typer.Option(..., "--out", help="Folder for timeseries.json, _epochs.csv and the plots."),
    source: list[str] = typer.Option(None, "--source", help="Catalogue epochs: mura (per orbit), davies (repeatable)."),
    detections: list[Path] = typer.Option(None, "--detections",
                                          help="Folder or file of ioflyby hotspots outputs (repeatable)."),
    name: str = typer.Option(None, "--name", help="Only this volcano (catalogue or IAU name)."),
    factor: float = typer.Option(3.0, "--outburst-factor", help="Outburst: rise to at least this x the previous level."),
    n_sigma: float = typer.Option(3.0, "--outburst-sigma", help="Outburst: and at least this many sigma above it."),
    min_period_days: float = typer.Option(None, "--min-period-days", help="Shortest period searched (days)."),
    max_period_days: float = typer.Option(None, "--max-period-days", help="Longest period searched (days)."),
    kernels: list[str] = typer.Option(None, "--kernels",
                                      help="Metakernel/kernels with Io, Jupiter, the Sun: join Io's context."),
    correlate: list[str] = typer.Option(None, "--correlate",
                                        help="Test activity vs system3, centrifugal or magnetic (repeatable)."),
    against: Path = typer.Option(None, "--against", help="CSV time_utc,value (e.g. torus brightness): lagged r."),
    max_lag_days: float = typer.Option(10.0, "--max-lag-days", help="With --against: largest lag searched (days)."),
    as_json: bool = typer.Option(False, "--json", help='Print {"series": [...], ...} as JSON.'),
) -> None:
    """Light curves of Io's hot spots across epochs (Mura et al. 2024 JIRAM M-band per orbit,
    Davies et al. 2024 as one compiled epoch, ioflyby hotspots detections) and their statistics:
    detection and coverage per epoch, variability, outbursts, duty cycle, Lomb-Scargle periods with
    false-alarm probability, and where the active volcanoes lie (tests against uniform). With
    --kernels, Io's magnetospheric context (System III longitude, centrifugal and magnetic
    latitude, distance from the centrifugal equator) at each epoch and tests of activity against
    it; with --against, a lagged cross-correlation with a user time series. Writes
    timeseries.json, timeseries_epochs.csv and light-curve, periodogram and variability-map PNGs
    (and timeseries_magnetosphere.png)."""
    from ioflyby.fileio import check_out
    from ioflyby.spice.kernelset import kernel_paths
    from ioflyby.volcano.timeseries import build_timeseries, write_outputs

    check_out(out)
    sources = list(source) if source else ([] if detections else ["mura"])
    with progress(disable=as_json) as bar:
        task = bar.add_task("time series", total=2)
        with flag_names(TIMESERIES_FLAGS):
            result = build_timeseries(sources, detections or (), name, factor, n_sigma, min_period_days,
                                      max_period_days, kernels=kernel_paths(kernels) if kernels else None,
                                      correlate=correlate or (), against=against, max_lag_days=max_lag_days)
        bar.update(task, completed=1, description="plots")
        outputs = write_outputs(result, out)
        bar.update(task, completed=2, description="done")
    emit({**result.to_json(), "outputs": [str(p) for p in outputs]}, as_json, _print_timeseries)
