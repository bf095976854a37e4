"""``RawProduct``: one JunoCam raw product as a framelet cube plus its label values.

A JunoCam image is a stack of 128-line framelets, 1648 samples wide: for each exposure one
framelet per filter, in the order of FILTER_NAME. ``LINES = exposures x filters x 128``.

Times here are the label's *nominal* values: exposure ``n`` starts at
``START_TIME + n * INTERFRAME_DELAY``. The precise per-framelet time adds the instrument
kernel's START_TIME_BIAS and INTERFRAME_DELTA; that belongs to the camera model
(``ioflyby.camera.JunoCam``), not here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from ioflyby.camera.junocam import FILTERS, FRAMELET_LINES, FRAMELET_SAMPLES
from ioflyby.errors import ProductError
from ioflyby.fileio import check_name, shown
from ioflyby.ingest.companding import KNOWN_MODES, decompand

# Longest image accepted (lines). Real products hold up to a few tens of thousands of lines;
# the cap keeps a hostile or corrupt header from asking for gigabytes before anything is read.
MAX_LINES = 65_536

# Physical ranges of label values (wider than any JunoCam product; docs/security.md): a value
# outside is a corrupt or hostile label, refused before it reaches a computation.
EXPOSURE_RANGE_S = (1e-6, 10.0)
INTERFRAME_RANGE_S = (1e-3, 60.0)
TDI_RANGE = (1, 256)
PERIJOVE_RANGE = (0, 999)
YEAR_RANGE = (1970, 2100)
MAX_CLOCK_CHARS = 64
_MAX_INT_DIGITS = 18

_UNIT_SECONDS = {"s": 1.0, "sec": 1.0, "ms": 1e-3, "msec": 1e-3, "us": 1e-6, "µs": 1e-6, "usec": 1e-6}
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?:<\s*([^<>\s]+)\s*>)?\s*$")
_PRODUCT_PJ = re.compile(r"^JNCE_\d{7}_(\d{2,3})[A-Z]\d{5}_V\d+$")
_ISO_FORMATS = ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%jT%H:%M:%S.%f", "%Y-%jT%H:%M:%S")


def parse_duration_s(value: Any, *, key: str, default_unit: str, where: str,
                     valid_s: tuple[float, float] = (0.0, math.inf)) -> float:
    """Seconds in a label duration: ``"0.372 <s>"``, ``"19.2 <ms>"``, a pdr ``{"value", "units"}``
    dict, or a bare number in ``default_unit``, within ``valid_s`` (low excluded when 0). Raises
    ProductError naming ``key`` and ``where``."""
    number: Any
    unit: str | None
    if isinstance(value, Mapping) and "value" in value:
        number, unit = value.get("value"), value.get("units")
    elif isinstance(value, str):
        match = _QUANTITY.match(value)
        if not match:
            raise ProductError(
                f"{where}: {key} = {shown(value)} is not a number with optional <unit> (e.g. '0.372 <s>')")
        number, unit = float(match.group(1)), match.group(2)
    else:
        number, unit = value, None
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        raise ProductError(f"{where}: {key} = {shown(value)} is not a number")
    unit_key = str(unit or default_unit).strip().lower()
    if unit_key not in _UNIT_SECONDS:
        raise ProductError(f"{where}: {key} has unknown unit <{shown(unit)[1:-1]}> (use s or ms)")
    try:
        seconds = float(number) * _UNIT_SECONDS[unit_key]
    except OverflowError:
        seconds = math.inf
    low, high = valid_s
    if not math.isfinite(seconds) or seconds <= 0.0 or not low <= seconds <= high:
        bounds = "" if (low, high) == (0.0, math.inf) else f" between {low:g} and {high:g} s"
        raise ProductError(f"{where}: {key} = {shown(value)} must be a positive, finite duration{bounds}")
    return seconds


def parse_utc(value: Any, *, key: str, where: str) -> datetime:
    """A naive UTC ``datetime`` from an ISO label time (``2022-08-17T13:16:09.655``, optional ``Z``),
    in the years :data:`YEAR_RANGE`."""
    if not isinstance(value, str):
        raise ProductError(f"{where}: {key} = {shown(value)} is not an ISO UTC time string")
    text = value.strip().rstrip("Z")
    for fmt in _ISO_FORMATS:
        try:
            moment = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if not YEAR_RANGE[0] <= moment.year < YEAR_RANGE[1]:
            raise ProductError(f"{where}: {key} = {shown(value)} is outside the years {YEAR_RANGE[0]}-{YEAR_RANGE[1]}")
        return moment
    raise ProductError(f"{where}: {key} = {shown(value)} is not an ISO UTC time (YYYY-MM-DDThh:mm:ss.sss)")


def format_utc(moment: datetime) -> str:
    """ISO UTC text with milliseconds, or microseconds where the time is not a whole ms."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text[:-3] if moment.microsecond % 1000 == 0 else text


def require_int(metadata: Mapping[str, Any], key: str, where: str, *, minimum: int = 0,
                maximum: int = 10**_MAX_INT_DIGITS) -> int:
    """Integer label value (an int, or a string of digits) in [minimum, maximum]; ProductError
    when missing, mistyped or out of range."""
    if key not in metadata:
        raise ProductError(f"{where}: required key {key} is missing")
    value = _as_int(metadata[key])
    if value is None:
        raise ProductError(f"{where}: {key} = {shown(metadata[key])} must be an integer")
    if not minimum <= value <= maximum:
        raise ProductError(f"{where}: {key} = {shown(value)} must be between {minimum} and {maximum}")
    return value


def _as_int(value: Any) -> int | None:
    """An int label value, or a string of at most 18 digits; None for anything else."""
    if isinstance(value, str):
        text = value.strip().lstrip("+")
        return int(text) if text.isdigit() and text.isascii() and len(text) <= _MAX_INT_DIGITS else None
    return None if isinstance(value, bool) or not isinstance(value, int) else value


def require_str(metadata: Mapping[str, Any], key: str, where: str) -> str:
    """Non-empty string label value; ProductError when missing or mistyped."""
    if key not in metadata:
        raise ProductError(f"{where}: required key {key} is missing")
    value = metadata[key]
    if not isinstance(value, str) or not value.strip():
        raise ProductError(f"{where}: {key} = {shown(value)} must be a non-empty string")
    return value.strip()


def parse_filters(metadata: Mapping[str, Any], where: str) -> tuple[str, ...]:
    """FILTER_NAME as a tuple of upper-case known filter names, in stack order."""
    if "FILTER_NAME" not in metadata:
        raise ProductError(f"{where}: required key FILTER_NAME is missing")
    value = metadata["FILTER_NAME"]
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not names:
        raise ProductError(f"{where}: FILTER_NAME = {shown(value)} must be a non-empty list of filter names")
    filters: list[str] = []
    for name in names:
        if not isinstance(name, str) or name.strip().upper() not in FILTERS:
            raise ProductError(
                f"{where}: unknown filter {shown(name)} in FILTER_NAME (JunoCam filters: {', '.join(FILTERS)})"
            )
        filters.append(name.strip().upper())
    if len(set(filters)) != len(filters):
        raise ProductError(f"{where}: FILTER_NAME {filters} lists a filter twice")
    return tuple(filters)


def perijove_of(metadata: Mapping[str, Any], product_id: str, where: str = "label") -> int | None:
    """Perijove number from PJ, ORBIT_NUMBER or the product id (``JNCE_2022229_44C00029_V01`` -> 44);
    ProductError for a number outside :data:`PERIJOVE_RANGE`."""
    for key in ("PJ", "ORBIT_NUMBER"):
        if _as_int(metadata.get(key)) is not None:
            return require_int(metadata, key, where, minimum=PERIJOVE_RANGE[0], maximum=PERIJOVE_RANGE[1])
    match = _PRODUCT_PJ.match(product_id)
    return int(match.group(1)) if match else None


def freeze(value: Any) -> Any:
    """Read-only deep copy of JSON-like data: dicts become MappingProxyType, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Plain JSON-serialisable copy of frozen metadata (mappings -> dict, tuples -> list)."""
    if isinstance(value, Mapping):
        return {str(k): thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


@dataclass(frozen=True, eq=False)
class RawProduct:
    """One JunoCam raw product (immutable).

    ``framelets`` is ``[exposure, filter, 128, 1648]`` of *stored* DN (uint8 for 8-bit modes),
    read-only; ``decompanded()`` gives linear 12-bit DN. Times are the label's nominal values
    (see the module docstring); exposure and interframe delay are converted to ms and s.
    ``instrument`` names the camera (subclasses for other cameras override it, e.g.
    ``ioflyby.ingest.ssi.SsiProduct``).
    """

    instrument: ClassVar[str] = "JUNOCAM"
    product_id: str
    target: str
    perijove: int | None
    filters: tuple[str, ...]
    framelets: np.ndarray
    companding: str
    start_time_utc: str
    stop_time_utc: str
    exposure_ms: float
    tdi_stages: int
    interframe_delay_s: float
    spacecraft_clock_start: str
    metadata: Mapping[str, Any]
    source: Path

    @property
    def n_exposures(self) -> int:
        """Number of exposures (each holds one framelet per filter)."""
        return int(self.framelets.shape[0])

    @property
    def exposure_start_utc(self) -> tuple[str, ...]:
        """Nominal UTC start of each exposure: START_TIME + n * INTERFRAME_DELAY (ISO text).

        Leap seconds inside the image are ignored (the label times are UTC); the camera model
        adds START_TIME_BIAS and INTERFRAME_DELTA for the precise framelet times.
        """
        start = parse_utc(self.start_time_utc, key="START_TIME", where=str(self.source))
        step_us = round(self.interframe_delay_s * 1e6)
        return tuple(format_utc(start + timedelta(microseconds=n * step_us)) for n in range(self.n_exposures))

    def exposure_start_et(self) -> np.ndarray:
        """Nominal exposure starts as ET (s past J2000 TDB): ET(START_TIME) + n * INTERFRAME_DELAY.

        Needs a leapseconds kernel loaded (``ioflyby.spice.Kernels``); raises KernelError if not.
        """
        from ioflyby.spice import utc_to_et

        et0 = utc_to_et(self.start_time_utc)
        return et0 + np.arange(self.n_exposures, dtype=np.float64) * self.interframe_delay_s

    def decompanded(self) -> np.ndarray:
        """Linear 12-bit DN, float32, same shape as ``framelets`` (by SAMPLE_BIT_MODE_ID)."""
        return decompand(self.framelets, self.companding)

    def describe(self) -> dict[str, Any]:
        """What ``ioflyby info`` prints (JSON-ready; times UTC ISO, durations in the key's unit)."""
        starts = self.exposure_start_utc
        return {
            "product_id": self.product_id,
            "target": self.target,
            "perijove": self.perijove,
            "start_utc": self.start_time_utc,
            "stop_utc": self.stop_time_utc,
            "first_exposure_utc": starts[0],
            "last_exposure_utc": starts[-1],
            "exposures": self.n_exposures,
            "filters": list(self.filters),
            "tdi": self.tdi_stages,
            "exposure_ms": self.exposure_ms,
            "interframe_s": self.interframe_delay_s,
            "companding": self.companding,
            "spacecraft_clock_start": self.spacecraft_clock_start,
            "lines": int(self.framelets.shape[0] * self.framelets.shape[1] * self.framelets.shape[2]),
            "source": str(self.source),
        }


def build_product(image: np.ndarray, metadata: Mapping[str, Any], source: Path, where: str) -> RawProduct:
    """Validate ``metadata`` against the decoded ``image`` (lines x 1648) and build a RawProduct.

    ``where`` names the file(s) in every error message.
    """
    filters = parse_filters(metadata, where)
    lines = require_int(metadata, "LINES", where, minimum=1, maximum=MAX_LINES)
    samples = metadata.get("LINE_SAMPLES", FRAMELET_SAMPLES)
    if samples != FRAMELET_SAMPLES:
        raise ProductError(f"{where}: LINE_SAMPLES = {shown(samples)}, JunoCam framelets are {FRAMELET_SAMPLES} wide")
    block = FRAMELET_LINES * len(filters)
    if lines % block:
        raise ProductError(
            f"{where}: LINES = {lines} is not a multiple of 128 x {len(filters)} filters ({block}); "
            "the product is truncated or its FILTER_NAME is wrong"
        )
    if image.ndim != 2 or image.shape[1] != FRAMELET_SAMPLES:
        raise ProductError(f"{where}: image is {image.shape[::-1]} (width x lines); JunoCam raw images are 1648 wide")
    if image.shape[0] != lines:
        raise ProductError(f"{where}: LINES = {lines} but the image has {image.shape[0]} lines")
    companding = require_str(metadata, "SAMPLE_BIT_MODE_ID", where).upper()
    if companding not in KNOWN_MODES:
        raise ProductError(f"{where}: unknown SAMPLE_BIT_MODE_ID {shown(companding)} (known: {', '.join(KNOWN_MODES)})")
    product_id = check_name(require_str(metadata, "PRODUCT_ID", where), f"{where}: PRODUCT_ID", ProductError)
    if "FILE_NAME" in metadata:
        check_name(metadata["FILE_NAME"], f"{where}: FILE_NAME", ProductError)
    start = require_str(metadata, "START_TIME", where)
    stop = require_str(metadata, "STOP_TIME", where)
    parse_utc(start, key="START_TIME", where=where)
    parse_utc(stop, key="STOP_TIME", where=where)
    for key in ("EXPOSURE_DURATION", "INTERFRAME_DELAY"):
        if key not in metadata:
            raise ProductError(f"{where}: required key {key} is missing")
    exposure_s = parse_duration_s(metadata["EXPOSURE_DURATION"], key="EXPOSURE_DURATION", default_unit="ms",
                                  where=where, valid_s=EXPOSURE_RANGE_S)
    interframe_s = parse_duration_s(metadata["INTERFRAME_DELAY"], key="INTERFRAME_DELAY", default_unit="s",
                                    where=where, valid_s=INTERFRAME_RANGE_S)
    tdi = require_int(metadata, "JNO:TDI_STAGES_COUNT", where, minimum=TDI_RANGE[0], maximum=TDI_RANGE[1])
    target = check_name(require_str(metadata, "TARGET_NAME", where), f"{where}: TARGET_NAME", ProductError)
    clock = metadata.get("SPACECRAFT_CLOCK_START_COUNT", "")
    if not isinstance(clock, str) or len(clock) > MAX_CLOCK_CHARS or not clock.isprintable():
        raise ProductError(f"{where}: SPACECRAFT_CLOCK_START_COUNT = {shown(clock)} must be a short string "
                           f"(at most {MAX_CLOCK_CHARS} printable characters)")
    cube = image.reshape(lines // block, len(filters), FRAMELET_LINES, FRAMELET_SAMPLES)
    cube.flags.writeable = False
    return RawProduct(
        product_id=product_id,
        target=target,
        perijove=perijove_of(metadata, product_id, where),
        filters=filters,
        framelets=cube,
        companding=companding,
        start_time_utc=start,
        stop_time_utc=stop,
        exposure_ms=exposure_s * 1e3,
        tdi_stages=tdi,
        interframe_delay_s=interframe_s,
        spacecraft_clock_start=clock,
        metadata=freeze(metadata),
        source=Path(source),
    )
