"""JunoCam companding: 12-bit linear DN <-> 8-bit stored DN, by SAMPLE_BIT_MODE_ID.

JunoCam digitises 12 bits and usually stores 8 (SAMPLE_BITS = 8). The label keyword
SAMPLE_BIT_MODE_ID names how (JunoCam SIS, M. Caplinger, MSSS):

``SQROOT``
    square-root companding. The decompanding table is piecewise linear: starting at 0, the
    first 24 codes step by 1 DN, then 20 codes by 2, 46 by 4, 95 by 8, 25 by 16 and 46 by 32,
    so code 255 decompands to 2879 DN. The table below is *built* from these segments.
``LIN1``, ``LIN8``, ``LIN16``
    linear: the stored value times 1, 8 or 16 (the 12-bit value was divided by that factor
    on board).

Any other mode is an error (``ProductError``): guessing would silently corrupt radiometry.
"""

from __future__ import annotations

import numpy as np

from ioflyby.errors import ProductError

# (number of codes, DN step between consecutive codes) for the SQROOT table, in code order.
# The first segment's step applies between its own codes (0, 1, ..., 23); each later
# segment's first code is one step above the previous segment's last value.
SQROOT_SEGMENTS: tuple[tuple[int, int], ...] = ((24, 1), (20, 2), (46, 4), (95, 8), (25, 16), (46, 32))
SQROOT_MAX_DN = 2879

LINEAR_FACTORS: dict[str, int] = {"LIN1": 1, "LIN8": 8, "LIN16": 16}
KNOWN_MODES: tuple[str, ...] = ("SQROOT", *LINEAR_FACTORS)


def _build_sqroot_table() -> np.ndarray:
    """256-entry SQROOT decompanding table (float32 linear DN) from ``SQROOT_SEGMENTS``."""
    steps: list[int] = []
    for count, step in SQROOT_SEGMENTS:
        steps.extend([step] * count)
    # steps[0] is the (unused) step *into* code 0; code 0 decompands to 0 DN.
    values = np.concatenate([[0], np.cumsum(steps[1:])])
    if values.size != 256 or int(values[-1]) != SQROOT_MAX_DN:  # pragma: no cover - definition check
        raise AssertionError("SQROOT table definition is inconsistent")
    return values.astype(np.float32)


SQROOT_TABLE: np.ndarray = _build_sqroot_table()
SQROOT_TABLE.setflags(write=False)


def decompanding_table(mode: str) -> np.ndarray:
    """The 256-entry float32 table mapping a stored 8-bit code to linear 12-bit DN for ``mode``."""
    key = str(mode).strip().upper()
    if key == "SQROOT":
        return SQROOT_TABLE
    if key in LINEAR_FACTORS:
        table = np.arange(256, dtype=np.float32) * LINEAR_FACTORS[key]
        table.setflags(write=False)
        return table
    raise ProductError(
        f"unknown SAMPLE_BIT_MODE_ID {mode!r}: JunoCam products use one of {', '.join(KNOWN_MODES)}; "
        "check the product's metadata"
    )


def decompand(stored: np.ndarray, mode: str = "SQROOT") -> np.ndarray:
    """Linear 12-bit DN (float32, same shape) of stored 8-bit JunoCam values.

    ``stored`` must hold integers 0..255 (any integer dtype); ``mode`` is SAMPLE_BIT_MODE_ID.
    """
    table = decompanding_table(mode)
    array = np.asarray(stored)
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.integer):
            raise ProductError(f"cannot decompand {array.dtype} data: stored JunoCam values are 8-bit integers")
        if array.size and (array.min() < 0 or array.max() > 255):
            raise ProductError("cannot decompand values outside 0..255: stored JunoCam values are 8-bit")
        array = array.astype(np.uint8)
    return table[array]


# Decision thresholds for SQROOT companding: a linear DN x maps to the code whose table value is
# nearest (ties go up). Midpoints between consecutive table values, in linear DN.
_SQROOT_MIDPOINTS = (SQROOT_TABLE[:-1].astype(np.float64) + SQROOT_TABLE[1:]) / 2.0


def compand_sqroot(linear: np.ndarray) -> np.ndarray:
    """Stored 8-bit SQROOT codes (uint8) of linear DN, as JunoCam would store them.

    Each value maps to the code whose decompanded value is nearest (ties go to the higher
    code); values below 0 give code 0 and values above 2879 DN saturate at code 255. NaN is
    treated as 0. ``decompand(compand_sqroot(x))`` is within half a step of ``x`` on 0..2879.
    """
    values = np.nan_to_num(np.asarray(linear, dtype=np.float64), nan=0.0, posinf=SQROOT_MAX_DN, neginf=0.0)
    codes = np.searchsorted(_SQROOT_MIDPOINTS, values, side="right")
    return codes.astype(np.uint8)
