"""Surface epochs of the twin (``ioflyby.simulate.surface_change``) against independent truth:
exact areas against the spherical-cap formula and a Monte-Carlo count on the sphere, outlines
against the shapes, the basemap factor inside/outside, the CLI parser, and the truth record."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ioflyby.errors import ScenarioError
from ioflyby.simulate.basemap import Basemap
from ioflyby.simulate.surface_change import (
    IO_SPHERE_RADIUS_KM,
    SurfaceChange,
    apply_surface_changes,
    parse_surface_change,
)

R = IO_SPHERE_RADIUS_KM


def _monte_carlo_area(change: SurfaceChange, n: int = 2_000_000) -> tuple[float, float]:
    """Area (km²) by uniform points on the whole sphere, and its 1-sigma error."""
    rng = np.random.default_rng(5)
    lat = np.arcsin(rng.uniform(-1, 1, n))
    lon = rng.uniform(0, 2 * math.pi, n)
    p = change.contains(lat, lon).mean()
    total = 4 * math.pi * R**2
    return p * total, math.sqrt(p * (1 - p) / n) * total


@pytest.mark.parametrize("change", [SurfaceChange(20, 40, 300, 0.5), SurfaceChange(-60, 300, 500, 1.5, "flow", 30),
                                    SurfaceChange(80, 10, 400, 0.7, "flow", 120)])
def test_exact_area_against_monte_carlo(change):
    area, sigma = _monte_carlo_area(change)
    assert change.area_km2() == pytest.approx(area, abs=4 * sigma)
    if change.shape == "disc":
        assert change.area_km2() == pytest.approx(2 * math.pi * R**2 * (1 - math.cos(change.radius_km / R)), rel=1e-12)


def test_outline_is_the_shape_boundary():
    for change in (SurfaceChange(10, 100, 60, 0.5), SurfaceChange(-20, 200, 40, 1.5, "flow", 45)):
        lat, lon = change.boundary(720)
        lat, lon = np.radians(lat), np.radians(lon)
        centre = (math.radians(change.lat_deg), math.radians(change.lon_east_deg))
        inward = change.contains(centre[0] + 0.99 * (lat - centre[0]), centre[1] + 0.99 * (lon - centre[1]))
        outward = change.contains(centre[0] + 1.01 * (lat - centre[0]), centre[1] + 1.01 * (lon - centre[1]))
        assert inward.mean() > 0.97 and outward.mean() < 0.03


def test_changed_basemap_factor_and_parse():
    bands = {name: np.full((180, 360), 0.5, np.float32) for name in ("BLUE", "GREEN", "RED", "METHANE")}
    base = Basemap(None, bands)
    changed = apply_surface_changes(base, [parse_surface_change("0,90,100,0.4"), parse_surface_change("30,0,50,2,disc")])
    lat = np.radians([0.0, 0.0, 30.0, -45.0])
    lon = np.radians([90.0, 93.2, 0.0, 200.0])  # centre, 3.2 deg = 102 km away, second centre, elsewhere
    assert changed.sample("GREEN", lat, lon) == pytest.approx([0.2, 0.5, 1.0, 0.5], abs=1e-5)
    assert apply_surface_changes(base, []) is base
    flow = parse_surface_change("13,51,60,0.5,flow,30")
    assert flow.shape == "flow" and flow.azimuth_deg == 30
    for bad in ("1,2,3", "1,2,3,0.5,blob", "95,0,10,0.5", "0,0,-1,0.5"):
        with pytest.raises(ScenarioError):
            parse_surface_change(bad)


def test_truth_record():
    record = SurfaceChange(-15, 110, 40, 0.55, "flow").to_dict()
    assert record["kind"] == "darkening" and record["lon_west_deg"] == pytest.approx(250)
    ring = np.array(record["polygon_lon_east_lat_deg"])
    assert np.allclose(ring[0], ring[-1]) and len(ring) > 100
    assert record["area_km2"] == pytest.approx(2 * 160 * 20 + math.pi * 20**2)
