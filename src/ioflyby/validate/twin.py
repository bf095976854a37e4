"""How well the reconstruction recovered the twin's truth.

Everything here compares an output (a solved pointing, a map, a flyby search) with what
the digital twin says is true (its truth CK and ``truth.json``, its basemap) — never with the
reconstruction's own intermediate values.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import spiceypy

from ioflyby.camera import JunoCam
from ioflyby.geometry import framelet_mid_ets
from ioflyby.ingest import RawProduct
from ioflyby.mapping.product import MapProduct
from ioflyby.pointing import PointingSolution
from ioflyby.simulate import Basemap
from ioflyby.spice import Kernels

LIT_LIMIT_DEG = 75.0
"""Cells used for the basemap correlation: incidence and emission both below this."""


def framelet_pointing_errors(
    solution: PointingSolution, product: RawProduct, truth_metakernel: Path, timing_offset_s: float,
    framelets: Sequence[tuple[int, str]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Solved camera pointing against the twin's truth CK at ``framelets`` [(exposure, filter)]
    (default: those that held limb points): the solution at each framelet's nominal mid-exposure
    epoch against the truth at that epoch + ``timing_offset_s`` (s).

    Returns per framelet, in degrees, the error across the line of sight to the target (what
    moves the image) and the roll about it (signed; what the limb of a round body cannot fix).
    """
    if framelets is None:
        framelets = [(row["exposure"], row["filter"]) for row in solution.per_framelet]
    with Kernels([truth_metakernel]):
        ets = framelet_mid_ets(product, JunoCam.from_kernel_pool(product.filters))
        across, roll = [], []
        for exposure, filter_name in framelets:
            nominal_et = float(ets[exposure, product.filters.index(filter_name)])
            true_et = nominal_et + timing_offset_s
            to_target, _ = spiceypy.spkpos(solution.target, true_et, "J2000", "LT+S", "JUNO")
            line_of_sight = np.asarray(to_target) / np.linalg.norm(to_target)
            truth = np.asarray(spiceypy.pxform("JUNO_JUNOCAM", "J2000", true_et))
            axis, angle = spiceypy.raxisa(solution.camera_to_j2000(nominal_et) @ truth.T)
            vector = np.asarray(axis) * angle
            roll.append(vector @ line_of_sight)
            across.append(np.linalg.norm(vector - (vector @ line_of_sight) * line_of_sight))
    return np.degrees(np.array(across)), np.degrees(np.array(roll))


def pointing_errors(
    solution: PointingSolution, product: RawProduct, truth_metakernel: Path, timing_offset_s: float
) -> dict[str, float]:
    """Solved camera pointing against the twin's truth CK, at the framelets that held limb points
    (:func:`framelet_pointing_errors`): the largest error across the line of sight and the
    largest roll about it (degrees), and the timing error in ms."""
    across, roll = framelet_pointing_errors(solution, product, truth_metakernel, timing_offset_s)
    return {
        "across_line_of_sight_deg": float(across.max()),
        "roll_deg": float(np.abs(roll).max()),
        "timing_error_ms": 1e3 * (solution.timing_offset_s - timing_offset_s),
    }


def basemap_correlation(product: MapProduct, basemap: Basemap, lambert_corrected: bool) -> dict[str, float]:
    """Pearson r between each channel of a map and the basemap sampled at the map cells' own
    latitude/longitude, over well-lit, well-seen cells (the map must hold its backplanes). A
    map made without the Lambert correction is divided by cos(incidence) here first (the twin
    renders Lambert surfaces), so every projection is judged on albedo."""
    plane = product.backplanes
    lit = (plane["incidence"] < LIT_LIMIT_DEG) & (plane["emission"] < LIT_LIMIT_DEG)
    lat, lon = np.radians(plane["lat"][lit]), np.radians(plane["lon_east"][lit])
    result = {"cells": int(lit.sum())}
    for band, channel in product.channels.items():
        if band not in basemap.bands:
            continue
        values = channel[lit]
        if not lambert_corrected:
            values = values / np.cos(np.radians(plane["incidence"][lit]))
        usable = np.isfinite(values)
        truth = basemap.sample(band, lat[usable], lon[usable])
        result[band] = float(np.corrcoef(values[usable], truth)[0, 1])
    return result
