"""Flyby geometry from SPICE kernels: closest approaches, per-epoch geometry, comparisons.

- :func:`find_encounters` — every local minimum of an observer–target distance in a window
  (SPICE GF ``gfdist`` LOCMIN, refined on the range rate), coverage checked first.
- :func:`flyby_geometry` — distance, altitude above the ellipsoid, relative speed, sub-observer
  point (planetocentric lat, east and west lon), phase, sub-solar point, local solar time,
  eclipse states and JunoCam km/px at one epoch; :func:`timeline` — the same on a time grid.
- :func:`compare_encounters` — several encounters (one kernel set each) side by side: table,
  PNG plots (altitude, ground track on the Io basemap, resolution vs time) and an HTML page.

Units: km, km/s, s past J2000 TDB inside; degrees in the output fields named ``*_deg``.
"""

from ioflyby.flyby.geometry import (
    FlybyGeometry,
    JunoCamScale,
    flyby_geometry,
    junocam_scale,
    range_rate,
    timeline,
)
from ioflyby.flyby.search import (
    Encounter,
    SearchResult,
    coverage_split,
    default_step_s,
    find_encounters,
    refine_minimum,
)

__all__ = [
    "Encounter",
    "FlybyGeometry",
    "JunoCamScale",
    "SearchResult",
    "coverage_split",
    "default_step_s",
    "find_encounters",
    "flyby_geometry",
    "junocam_scale",
    "range_rate",
    "refine_minimum",
    "timeline",
]
