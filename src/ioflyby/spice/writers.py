"""Writers of the binary and text kernels the project makes itself: SPK type 13 ephemerides,
type 3 CKs of a spacecraft's attitude, and one-partition SCLKs in Juno's clock format.

Conventions: J2000, km and km/s, ET = seconds past J2000 TDB. Every file is written under a
temporary name and renamed when complete (:class:`ioflyby.fileio.AtomicFiles`); CSPICE failures
become :class:`ioflyby.errors.IoflybyError` (via :func:`ioflyby.spice.spice_errors`) naming the
file. The SPK and CK writers need nothing in the kernel pool but, for the CK, an LSK and the
SCLK of ``sclk_id`` (the epochs are encoded as ticks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import spiceypy

from ioflyby.fileio import AtomicFiles, atomic_write_text
from ioflyby.spice.kernelset import spice_errors

SPK_HERMITE_DEGREE = 7
SPK_MAX_SEGMENT_STATES = 10_000
"""Longer state series are split into several type 13 segments sharing their boundary state."""
JUNO_SCLK_ID = -61
JUNO_SPACECRAFT_FRAME_ID = -61000
SCLK_TICKS_PER_COUNT = 256
_SCLK_TIME_SYSTEMS = {"TDB": 1, "TDT": 2}


@dataclass(frozen=True)
class SpkSegment:
    """States of ``body`` relative to ``center`` (NAIF ids): ``states`` (n, 6) in J2000, km and
    km/s, at the increasing ``epochs`` (n,) in ET (s past J2000 TDB)."""

    body: int
    center: int
    epochs: np.ndarray
    states: np.ndarray


def write_spk(path: str | Path, segments: Sequence[SpkSegment], comment: str = "ioflyby SPK",
              label: str = "ioflyby") -> Path:
    """Write ``segments`` as SPK type 13 (Hermite, degree 7) to ``path``, atomically.

    ``comment`` becomes the file's internal name (60 characters at most), ``label`` starts every
    segment's name (``"<label> <body> wrt <center>"``, 40 characters at most). Series longer
    than :data:`SPK_MAX_SEGMENT_STATES` are split into segments sharing their boundary state.
    Returns the final path.
    """
    path = Path(path)
    with AtomicFiles() as files, spice_errors(f"writing the SPK {path}"):
        handle = spiceypy.spkopn(str(files.path(path)), comment[:60], 0)
        try:
            for segment in segments:
                _write_spk_segment(handle, segment, label)
        finally:
            spiceypy.spkcls(handle)
    return path


def _write_spk_segment(handle: int, segment: SpkSegment, label: str) -> None:
    """One or more type 13 segments for ``segment`` (chunks share their boundary state)."""
    epochs = np.asarray(segment.epochs, float)
    states = np.asarray(segment.states, float)
    name = f"{label} {segment.body} wrt {segment.center}"[:40]
    start = 0
    while start < len(epochs) - 1:
        stop = min(start + SPK_MAX_SEGMENT_STATES, len(epochs))
        spiceypy.spkw13(
            handle, segment.body, segment.center, "J2000", float(epochs[start]), float(epochs[stop - 1]),
            name, SPK_HERMITE_DEGREE, stop - start, states[start:stop], epochs[start:stop],
        )
        start = stop - 1


def write_ck(
    path: str | Path,
    ets: np.ndarray,
    spacecraft_to_j2000: np.ndarray,
    angular_velocity_j2000: np.ndarray,
    frame_id: int = JUNO_SPACECRAFT_FRAME_ID,
    sclk_id: int = JUNO_SCLK_ID,
    segment_id: str = "ioflyby attitude",
) -> Path:
    """Write an attitude history as one type 3 CK segment (with angular velocity), atomically.

    ``ets`` (n,): increasing epochs, s past J2000 TDB; ``spacecraft_to_j2000`` (n, 3, 3):
    rotations of frame ``frame_id`` → J2000 at those epochs (the CK stores the C-matrix, their
    transpose, as quaternions); ``angular_velocity_j2000``: (3,) or (n, 3), rad/s in J2000.
    Epochs are encoded as ticks of SCLK ``sclk_id`` (that SCLK and an LSK must be loaded); one
    interpolation interval spans the whole segment. ``segment_id`` (40 characters at most) also
    names the file internally. Returns the final path.
    """
    path = Path(path)
    ets = np.asarray(ets, float)
    rotations = np.asarray(spacecraft_to_j2000, float)
    quaternions = np.array([spiceypy.m2q(np.ascontiguousarray(m.T)) for m in rotations])
    rates = np.broadcast_to(np.asarray(angular_velocity_j2000, float), (len(ets), 3))
    with spice_errors(f"encoding the CK epochs of {path.name} as ticks of SCLK {sclk_id}"):
        ticks = np.array([spiceypy.sce2c(sclk_id, float(et)) for et in ets])
    with AtomicFiles() as files, spice_errors(f"writing the CK {path}"):
        handle = spiceypy.ckopn(str(files.path(path)), segment_id[:60], 0)
        try:
            spiceypy.ckw03(
                handle, float(ticks[0]), float(ticks[-1]), frame_id, "J2000", True, segment_id[:40],
                len(ticks), ticks, quaternions, np.ascontiguousarray(rates), 1, ticks[:1],
            )
        finally:
            spiceypy.ckcls(handle)
    return path


def write_sclk(
    path: str | Path,
    origin_s: float,
    comment: str,
    clock_id: int = JUNO_SCLK_ID,
    time_system: str = "TDB",
    partition_end_ticks: float = 2.0e8 * SCLK_TICKS_PER_COUNT,
) -> Path:
    """Write a one-partition SCLK text kernel in Juno's clock format, atomically.

    Format (as ``jno_sclkscet``): two fields ``count:fraction``, 256 fractions per count, one
    partition from tick 0 to ``partition_end_ticks``, one coefficient record: tick 0 is
    ``origin_s`` seconds past J2000 in ``time_system`` (``"TDB"`` or ``"TDT"``), and the clock
    runs at exactly one count per second of that time system. ``comment`` is written above the
    data. Never load two SCLKs for the same ``clock_id`` together (they share keywords).
    """
    if time_system not in _SCLK_TIME_SYSTEMS:
        raise ValueError(f"SCLK time system {time_system!r}: use one of {', '.join(_SCLK_TIME_SYSTEMS)}")
    code = -clock_id
    text = f"""KPL/SCLK

{comment.strip()}

\\begindata

SCLK_KERNEL_ID              = ( @2000-01-01/00:00:00.00 )
SCLK_DATA_TYPE_{code}        = ( 1 )
SCLK01_TIME_SYSTEM_{code}    = ( {_SCLK_TIME_SYSTEMS[time_system]} )
SCLK01_N_FIELDS_{code}       = ( 2 )
SCLK01_MODULI_{code}         = ( 4294967296 {SCLK_TICKS_PER_COUNT} )
SCLK01_OFFSETS_{code}        = ( 0 0 )
SCLK01_OUTPUT_DELIM_{code}   = ( 1 )
SCLK_PARTITION_START_{code}  = ( 0.0 )
SCLK_PARTITION_END_{code}    = ( {float(partition_end_ticks)!r} )
SCLK01_COEFFICIENTS_{code}   = ( 0.0 {float(origin_s)!r} 1.0 )

\\begintext
"""
    return atomic_write_text(path, text)
