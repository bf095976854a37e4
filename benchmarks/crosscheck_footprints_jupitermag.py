"""Io's footprints over a System III rotation: ioflyby's tracer against JupiterMag's.

JupiterMag (James et al., GPL-3.0; Wilson et al. 2023, Space Sci. Rev. 219, 15) is the MOP
community's C++ tracer. It is an optional cross-check, never a dependency of ioflyby:

    .venv/bin/pip install -e '.[crosscheck]'
    .venv/bin/python benchmarks/crosscheck_footprints_jupitermag.py

Both trace JRM33 (degree 13) + Con2020 (default parameters) from Io's orbit (5.9 R_J, on the
spin equator) to the oblate 1-bar surface; the script prints, per Io System III west longitude,
both footprints' planetocentric latitudes, their differences, each footprint's radius relative to
the 1-bar spheroid there (1 = on the surface), and the ranges over the rotation.
"""

from __future__ import annotations

import sys

import numpy as np

from ioflyby.magnetosphere import trace_field_lines
from ioflyby.magnetosphere.models import R_J_KM

POLAR_RADIUS_RJ = 66854.0 / R_J_KM


def jupitermag_footprints(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """JupiterMag's north and south footprints (planetocentric latitude, deg) and their radii
    relative to the 1-bar spheroid at that latitude."""
    import JupiterMag

    JupiterMag.Internal.Config(Model="jrm33", Degree=13)
    JupiterMag.Con2020.Config("default")
    trace = JupiterMag.TraceField(points[:, 0], points[:, 1], points[:, 2], IntModel="jrm33", ExtModel="Con2020",
                                  Verbose=False)
    surface = trace.surface
    out = []
    for x, y, z in ((surface.xn3, surface.yn3, surface.zn3), (surface.xs3, surface.ys3, surface.zs3)):
        lat = np.arctan2(z, np.hypot(x, y))
        spheroid = 1.0 / np.sqrt(np.cos(lat) ** 2 + (np.sin(lat) / POLAR_RADIUS_RJ) ** 2)
        out += [np.degrees(lat), np.sqrt(x**2 + y**2 + z**2) / spheroid]
    return out[0], out[2], out[1], out[3]


def main() -> int:
    try:
        import JupiterMag  # noqa: F401
    except ImportError:
        print("JupiterMag is not installed: .venv/bin/pip install -e '.[crosscheck]' (GPL-3.0, optional)")
        return 2
    io_west = np.arange(0.0, 360.0, 15.0)
    lon_east = np.radians(-io_west)
    points = np.stack([5.9 * np.cos(lon_east), 5.9 * np.sin(lon_east), 0.0 * lon_east], axis=1)
    ours = trace_field_lines(points)
    north, south = np.degrees(ours.north_lat), np.degrees(ours.south_lat)
    jm_north, jm_south, jm_north_r, jm_south_r = jupitermag_footprints(points)
    print(f"{'Io °W':>6} {'N ours':>8} {'N JM':>8} {'ΔN':>6} {'JM r/1bar':>9}   "
          f"{'S ours':>8} {'S JM':>8} {'ΔS':>6} {'JM r/1bar':>9}")
    for row in zip(io_west, north, jm_north, jm_north_r, south, jm_south, jm_south_r):
        w, n, jn, jnr, s, js, jsr = row
        print(f"{w:6.1f} {n:8.2f} {jn:8.2f} {jn - n:6.2f} {jnr:9.4f}   {s:8.2f} {js:8.2f} {js - s:6.2f} {jsr:9.4f}")
    print(f"north ours {north.min():.2f}..{north.max():.2f}°, JupiterMag {jm_north.min():.2f}..{jm_north.max():.2f}°")
    print(f"south ours {south.min():.2f}..{south.max():.2f}°, JupiterMag {jm_south.min():.2f}..{jm_south.max():.2f}°")
    print(f"largest difference: north {np.abs(jm_north - north).max():.2f}°, south {np.abs(jm_south - south).max():.2f}°")
    return 0


if __name__ == "__main__":
    sys.exit(main())
