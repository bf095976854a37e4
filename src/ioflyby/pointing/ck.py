"""Writing a solved pointing as a SPICE CK (type 3, with angular velocity) and, where the loaded
spacecraft clock kernel cannot encode the product's epochs, a project SCLK to go with it.

Epoch convention of the CK: it is meant to be used with the *nominal* framelet epochs of the
camera model (label START_TIME + IK START_TIME_BIAS + n·(INTERFRAME_DELAY + INTERFRAME_DELTA)
+ exposure/2), as every SPICE-based JunoCam tool computes them. The solved timing offset is
therefore folded into the attitude: the CK at nominal epoch τ holds the spacecraft orientation
at the true epoch τ + timing_offset_s. (The ephemeris is read at τ, which for Jupiter-range
products changes nothing measurable; for close flybys use ``PointingSolution`` directly.)

The CK holds the orientation of JUNO_SPACECRAFT (CK id −61000) relative to J2000, including any
solved camera alignment as a tilt of the spacecraft from the spin axis
(``SpinAttitude.spacecraft_to_j2000(t, with_alignment=True)``), so that the FK's fixed chain
gives exactly ``PointingSolution.camera_to_j2000``: ``pxform("JUNO_JUNOCAM", "J2000", τ)`` with
this CK loaded equals ``solution.camera_to_j2000(τ)``. Files are written to a temporary name and renamed.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import spiceypy
from spiceypy.utils.exceptions import SpiceyError

from ioflyby.errors import KernelError
from ioflyby.fileio import AtomicFiles, atomic_write_text, check_out, inside, staged
from ioflyby.geometry.timing import JUNO_CLOCK_ID
from ioflyby.pointing.solution import PointingSolution
from ioflyby.spice import Kernels, writers

SPACECRAFT_CK_ID = -61000
SAMPLE_STEP_S = 0.1
MARGIN_S = 10.0


def sclk_covers(et_start: float, et_stop: float, clock_id: int = JUNO_CLOCK_ID) -> bool:
    """True when the loaded SCLK kernel converts ``et_start``…``et_stop`` (ET) to ticks and back
    to within a millisecond."""
    try:
        for et in (et_start, et_stop):
            ticks = spiceypy.sce2c(clock_id, et)
            if abs(spiceypy.sct2e(clock_id, ticks) - et) > 1e-3:
                return False
        return True
    except SpiceyError:
        return False


def write_project_sclk(path: Path, anchor_et: float, clock_id: int = JUNO_CLOCK_ID) -> Path:
    """Write a one-partition SCLK text kernel for ``clock_id`` (Juno's two-field format, 256
    ticks per second) that counts TDB seconds from ``anchor_et − 10⁸ s``. Valid for ±3 years
    around the anchor. Its counts are *not* Juno's real clock counts: load it only to read CKs
    written with it, and never together with an official Juno SCLK (they share keywords)."""
    origin_et = anchor_et - 1.0e8
    comment = f"""Project SCLK written by ioflyby because the loaded Juno SCLK kernel could not encode the
epochs of a solved pointing. Counts are TDB seconds since ET {origin_et:.3f} (not Juno's real
spacecraft clock); 256 ticks per second; one partition."""
    return writers.write_sclk(path, origin_et, comment, clock_id=clock_id, time_system="TDB",
                              partition_end_ticks=2.0e8 * writers.SCLK_TICKS_PER_COUNT)


def write_ck(solution, path: Path, sclk_dir: Path | None = None, step_s: float = SAMPLE_STEP_S) -> dict:
    """Write ``solution`` (a ``PointingSolution``) as a type-3 CK covering the product's framelet
    epochs ± 10 s, sampled every ``step_s`` seconds, with angular velocity.

    Needs the LSK and an SCLK for Juno loaded. Where that SCLK cannot encode the epochs, a
    project SCLK is written next to the CK (or into ``sclk_dir``), loaded, and used.
    Returns ``{"ck", "sclk", "sclk_kind", "start_et", "stop_et", "epochs"}``.
    """
    path = Path(path)
    start = solution.nominal_start_et - MARGIN_S
    stop = solution.nominal_stop_et + MARGIN_S
    sclk_path: Path | None = None
    if not sclk_covers(start, stop):
        sclk_path = Path(sclk_dir or path.parent) / (path.stem + ".tsc")
        write_project_sclk(sclk_path, 0.5 * (start + stop))
    # The project SCLK is loaded only while the CK is encoded with it, then unloaded again (from
    # its temporary name while it is staged with the CK in one set of outputs).
    with Kernels([staged(sclk_path)]) if sclk_path else contextlib.nullcontext():
        if sclk_path and not sclk_covers(start, stop):
            raise KernelError(f"the project SCLK {sclk_path} does not convert the product epochs; report this")
        nominal = np.arange(start, stop + 0.5 * step_s, step_s)
        attitude = solution.attitude
        writers.write_ck(
            path, nominal, attitude.spacecraft_to_j2000(nominal + solution.timing_offset_s, with_alignment=True),
            attitude.angular_velocity_j2000, SPACECRAFT_CK_ID, JUNO_CLOCK_ID, f"ioflyby {solution.product_id}",
        )
    sclk_kind = "project" if sclk_path else "loaded"
    return {
        "ck": str(path),
        "sclk": str(sclk_path) if sclk_path else None,
        "sclk_kind": sclk_kind,
        "start_et": float(start),
        "stop_et": float(stop),
        "epochs": "nominal camera-model framelet epochs; timing_offset_s folded into the attitude",
    }


@dataclass(frozen=True)
class PointingOutputs:
    """A solved pointing written as a CK (``ck``, with ``sclk`` when the loaded SCLK could not
    encode its epochs: ``sclk_kind`` says which) and a JSON report (``report_json``).
    ``to_json()`` is the ``ioflyby pointing --json`` contract."""

    solution: PointingSolution
    ck: Path
    sclk: Path | None
    sclk_kind: str
    ck_epochs: str
    report_json: Path

    def to_json(self) -> dict:
        report = self.solution.to_dict()
        summary = {key: report[key] for key in (
            "timing_offset_s", "spin_axis_ra_deg", "spin_axis_dec_deg", "spin_rate_rpm", "limb_rms_px", "n_limb_points")}
        summary |= {"ck": str(self.ck), "sclk": None if self.sclk is None else str(self.sclk),
                    "sclk_kind": self.sclk_kind, "ck_epochs": self.ck_epochs, "report_json": str(self.report_json),
                    "quality": report["quality"]}
        return _plain(dict(summary, report=report))


def write_outputs(solution: PointingSolution, out_dir: str | Path) -> PointingOutputs:
    """Write ``<product>_pointing.bc`` (plus an SCLK when needed) and ``<product>_pointing.json``
    (the ``to_json()`` of the result) into ``out_dir`` (created); kernels must still be loaded.
    The files appear together, or none of them."""
    out_dir = check_out(out_dir)
    stem = f"{solution.product_id}_pointing"
    with AtomicFiles():
        ck_info = write_ck(solution, inside(out_dir, f"{stem}.bc"))
        sclk = None if ck_info["sclk"] is None else Path(ck_info["sclk"])
        result = PointingOutputs(solution, Path(ck_info["ck"]), sclk, ck_info["sclk_kind"], ck_info["epochs"],
                                 inside(out_dir, f"{stem}.json"))
        atomic_write_text(result.report_json, json.dumps(result.to_json(), indent=2))
    return result


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value
