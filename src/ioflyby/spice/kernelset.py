"""Loading SPICE kernels, reporting what they cover, and turning CSPICE failures into clear errors.

Times inside are seconds past J2000 TDB (ET); reports carry UTC strings. SPICE keeps one global
kernel pool per process, so a :class:`Kernels` is a context manager that loads its files on
entry and unloads exactly those files on exit. SPICE is not thread-safe: use processes.

Only regular files are loaded (never a device, FIFO or socket: SPICE would hang on or read them
without end), metakernel members included, which are checked before SPICE opens them. A text
kernel must carry a NAIF header (``KPL/...``) or a ``\begindata`` block: any other text file
(``/etc/passwd`` listed in a metakernel) is refused, not loaded as an empty kernel.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import spiceypy
from spiceypy.utils.exceptions import SpiceyError

from ioflyby.errors import CoverageError, IoflybyError, KernelError
from ioflyby.fileio import check_regular_file, read_regular_file

TEXT_KERNEL_KINDS = {
    ".tls": "LSK",
    ".tpc": "PCK",
    ".tf": "FK",
    ".ti": "IK",
    ".tsc": "SCLK",
    ".tm": "MK",
    ".mk": "MK",
}
MAX_TEXT_KERNEL_BYTES = 64 * 1024 * 1024
MAX_BINARY_KERNEL_BYTES = 1 << 40
_MAX_WINDOW_INTERVALS = 100_000
_MAX_OBJECTS = 10_000
_CK_CLASS = 3


@dataclass(frozen=True)
class CoverageInterval:
    """One contiguous interval of data for a body (SPK) or frame (CK), ET seconds TDB."""

    kind: str  # "spk" or "ck"
    id: int  # NAIF body id (SPK) or CK structure id (CK)
    name: str
    start_et: float
    stop_et: float
    sclk_id: int | None = None  # CK only: the spacecraft clock the segment times are in

    def contains(self, et: float) -> bool:
        """True when ``et`` (s past J2000 TDB) falls inside the interval, ends included."""
        return self.start_et <= et <= self.stop_et


_MESSAGE_SENTENCES = 2


def spice_error_message(exc: SpiceyError) -> str:
    """The short CSPICE message and the first two sentences of its long one, on one line (the
    rest of a long message is general advice that would bury what went wrong)."""
    short = getattr(exc, "short", "") or ""
    long = " ".join((getattr(exc, "long", "") or str(exc)).split())
    sentences = re.split(r"(?<=[.;])\s+(?=[A-Z])", long)
    text = " ".join(sentences[:_MESSAGE_SENTENCES])
    return f"{short} {text}".strip()


def et_to_utc(et: float, digits: int = 3) -> str:
    """ISO UTC string (``YYYY-MM-DDTHH:MM:SS.sss``) of ET seconds past J2000 TDB. Needs an LSK."""
    try:
        return spiceypy.et2utc(et, "ISOC", digits)
    except SpiceyError:
        # Without a leapseconds kernel only TDB calendar output is possible; say so in the value.
        return spiceypy.etcal(et) + " TDB"


def utc_to_et(utc: str) -> float:
    """ET seconds past J2000 TDB of a UTC string in any form SPICE accepts (ISO recommended)."""
    try:
        return spiceypy.str2et(utc)
    except SpiceyError as exc:
        raise KernelError(
            f"cannot convert time {utc!r}: {spice_error_message(exc)} "
            "(is a leapseconds kernel such as naif0012.tls loaded, and is the time ISO UTC?)"
        ) from None


def body_name(naif_id: int) -> str:
    """Name SPICE knows for a NAIF body id, or the id as text."""
    name = spiceypy.bodc2s(naif_id)
    return name


def kernel_paths(values: Sequence[str | Path] | str | Path) -> list[Path]:
    """Kernel paths from command-line values, each a path or a comma-separated list of paths
    (``--kernels a.tls,b.tpc --kernels c.bsp``); the one parser every verb uses."""
    values = [values] if isinstance(values, (str, Path)) else values
    return [Path(part.strip()) for value in values for part in str(value).split(",") if part.strip()]


def _check_readable(path: Path) -> None:
    """Raise KernelError unless ``path`` is a regular file SPICE recognises as a kernel: binary
    DAF/DAS, or text with a NAIF header or a ``\\begindata`` block (at most 64 MiB)."""
    if not os.path.lexists(path) or (path.is_symlink() and not path.exists()):
        raise KernelError(f"kernel file not found: {path}")
    check_regular_file(path, MAX_BINARY_KERNEL_BYTES, KernelError, "a SPICE kernel")
    try:
        architecture, _ = spiceypy.getfat(str(path))
    except SpiceyError as exc:
        raise KernelError(f"cannot read kernel {path}: {spice_error_message(exc)}") from None
    if architecture in ("DAF", "DAS"):
        return
    check_regular_file(path, MAX_TEXT_KERNEL_BYTES, KernelError, "a SPICE text kernel")
    if architecture == "?":
        # Text kernels without a KPL/ header are legal; they must still hold a data block.
        with path.open("rb") as handle:
            head = handle.read(1 << 20)
        if b"\\begindata" not in head:
            raise KernelError(
                f"not a SPICE kernel: {path} (neither a binary DAF/DAS file nor a text kernel "
                "with a NAIF header or a \\begindata block)"
            )


# CSPICE reads only the first 132 characters of a text kernel line (a quote left open there
# ends with the line) and keeps only the first 80 characters of a string value: the parser below
# does the same, so that it sees every file name SPICE will open.
_LINE_CHARS = 132
_STRING_CHARS = 80
_TOKEN = re.compile(r"'(?P<string>(?:[^']|'')*)(?:'|$)|(?P<other>\+=|=|[()]|[^\s'=()]+)")
_MK_VARIABLES = ("KERNELS_TO_LOAD", "PATH_SYMBOLS", "PATH_VALUES")


def _text_assignments(text: str) -> dict[str, list[str]]:
    """String values of the metakernel variables in a text kernel's ``\\begindata`` blocks
    (``+=`` appends; a string ending in ``+`` continues in the next one), read as SPICE reads them."""
    tokens: list[tuple[bool, str]] = []  # (is a string, text)
    inside = False
    for line in text.splitlines():
        marker = line.strip()
        if marker in ("\\begindata", "\\begintext"):
            inside = marker == "\\begindata"
        elif inside:
            for match in _TOKEN.finditer(line[:_LINE_CHARS]):
                string = match.group("string")
                tokens.append((True, string.replace("''", "'")[:_STRING_CHARS]) if string is not None
                              else (False, match.group("other")))
    values: dict[str, list[str]] = {}
    name = None
    for index, (is_string, token) in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else (True, "")
        if not is_string and following in ((False, "="), (False, "+=")):
            name = token if token in _MK_VARIABLES else None
            if name and following[1] == "=":
                values[name] = []
        elif name and is_string:
            values.setdefault(name, []).append(token)
    return {key: _joined(strings) for key, strings in values.items()}


def _joined(strings: list[str]) -> list[str]:
    result: list[str] = []
    carry = ""
    for piece in strings:
        if piece.rstrip().endswith("+"):
            carry += piece.rstrip()[:-1]
        else:
            result.append(carry + piece)
            carry = ""
    return result + ([carry] if carry else [])


def metakernel_members(path: Path) -> list[Path]:
    """The files a metakernel lists (``$SYMBOL`` replaced from PATH_SYMBOLS/PATH_VALUES), read
    without SPICE; an empty list for any other kernel."""
    if spiceypy.getfat(str(path))[0] in ("DAF", "DAS"):
        return []
    raw = read_regular_file(path, MAX_TEXT_KERNEL_BYTES, KernelError, "a SPICE text kernel")
    values = _text_assignments(raw.decode("latin-1"))
    symbols = dict(zip(values.get("PATH_SYMBOLS", []), values.get("PATH_VALUES", [])))
    members = []
    for entry in values.get("KERNELS_TO_LOAD", []):
        for symbol in sorted(symbols, key=len, reverse=True):
            entry = entry.replace(f"${symbol}", symbols[symbol])
        members.append(Path(entry.strip()))
    return members


_DAF_WORD_BYTES = 8


def _verify_binary(path: str) -> None:
    """Walk a loaded DAF's segment summaries and check every segment's data lies inside the
    file, so truncation and damage show up at load time rather than deep in a computation."""
    architecture, filetype = spiceypy.getfat(path)
    if architecture != "DAF":
        return
    size = Path(path).stat().st_size
    try:
        handle = spiceypy.dafopr(path)
        try:
            n_doubles, n_integers = spiceypy.dafhsf(handle)
            spiceypy.dafbfs(handle)
            last_address = 0
            while spiceypy.daffna():
                summary = spiceypy.dafgs(n_doubles + (n_integers + 1) // 2)
                _, integers = spiceypy.dafus(summary, n_doubles, n_integers)
                last_address = max(last_address, int(integers[-1]))  # segment end address
        finally:
            spiceypy.dafcls(handle)
    except SpiceyError as exc:
        raise KernelError(f"corrupt or truncated {filetype} kernel {path}: {spice_error_message(exc)}") from None
    if last_address * _DAF_WORD_BYTES > size:
        raise KernelError(
            f"truncated {filetype} kernel {path}: segments reach byte {last_address * _DAF_WORD_BYTES:,} "
            f"but the file has {size:,} bytes (download it again)"
        )


class Kernels:
    """A set of SPICE kernels (files and/or metakernels) loaded for the duration of a ``with``.

    >>> with Kernels(["naif0012.tls", "juno.tm"]) as ks:   # doctest: +SKIP
    ...     ks.require_spk(-61, et)

    Coverage queries (:meth:`spk_coverage`, :meth:`ck_coverage`) look at every binary kernel
    loaded by this set, metakernel contents included.
    """

    def __init__(self, paths: Sequence[str | Path] | str | Path):
        if isinstance(paths, (str, Path)):
            paths = [paths]
        self.paths = [Path(p).expanduser() for p in paths]
        self._loaded: list[str] = []
        self._is_loaded = False

    # -- loading ---------------------------------------------------------------------------
    def load(self) -> Kernels:
        """Load every file (metakernel members too). Raises KernelError naming a bad file."""
        if self._is_loaded:
            return self
        before = self._pool_files()
        try:
            for path in self.paths:
                _check_readable(path)
                for member in metakernel_members(path):
                    _check_member(path, member)
                try:
                    spiceypy.furnsh(str(path))
                except SpiceyError as exc:
                    raise KernelError(
                        f"cannot load kernel {path}: {spice_error_message(exc)}"
                    ) from None
            for path in _added_entries(before, self._pool_files()):
                _check_readable(Path(path))
                _verify_binary(path)
        except IoflybyError:
            for path in _added_entries(before, self._pool_files()):
                with contextlib.suppress(SpiceyError):
                    spiceypy.unload(path)
            raise
        self._loaded = _added_entries(before, self._pool_files())
        self._is_loaded = True
        return self

    def unload(self) -> None:
        """Unload exactly the files this set loaded."""
        for path in reversed(self._loaded):
            with contextlib.suppress(SpiceyError):
                spiceypy.unload(path)
        self._loaded = []
        self._is_loaded = False

    def __enter__(self) -> Kernels:
        return self.load()

    def __exit__(self, *exc_info: object) -> None:
        self.unload()

    @staticmethod
    def _pool_files() -> list[str]:
        count = spiceypy.ktotal("ALL")
        return [spiceypy.kdata(i, "ALL")[0] for i in range(count)]

    @property
    def files(self) -> list[str]:
        """Every file this set has loaded, metakernels and their members, in load order."""
        return list(self._loaded)

    def _files_of_kind(self, kind: str) -> list[str]:
        result = []
        for path in self._loaded:
            filetype = spiceypy.kinfo(path)[0]
            if filetype == kind:
                result.append(path)
        return result

    # -- coverage ------------------------------------------------------------------------------
    def spk_coverage(self) -> list[CoverageInterval]:
        """Coverage intervals of every body in the loaded SPKs, merged across files."""
        by_body: dict[int, spiceypy.utils.support_types.SpiceCell] = {}
        for path in self._files_of_kind("SPK"):
            ids = spiceypy.spkobj(path, spiceypy.cell_int(_MAX_OBJECTS))
            for body in ids:
                cell = by_body.setdefault(int(body), spiceypy.cell_double(2 * _MAX_WINDOW_INTERVALS))
                spiceypy.spkcov(path, int(body), cell)
        return [
            CoverageInterval("spk", body, body_name(body), start, stop)
            for body, cell in sorted(by_body.items(), key=lambda item: abs(item[0]))
            for start, stop in _window_intervals(cell)
        ]

    def ck_coverage(self) -> list[CoverageInterval]:
        """Coverage intervals of every CK structure (frame) in the loaded CKs.

        Interval ends are converted from spacecraft clock to ET, so the matching SCLK kernel and
        an LSK must be loaded; structures whose clock is missing are reported by
        :meth:`problems` and left out here.
        """
        result = []
        for path in self._files_of_kind("CK"):
            ids = spiceypy.ckobj(path, spiceypy.cell_int(_MAX_OBJECTS))
            for ck_id in ids:
                ck_id = int(ck_id)
                sclk_id = ck_sclk_id(ck_id)
                if not sclk_loaded(sclk_id):
                    continue
                cell = spiceypy.cell_double(2 * _MAX_WINDOW_INTERVALS)
                spiceypy.ckcov(path, ck_id, False, "INTERVAL", 0.0, "TDB", cell)
                name = ck_frame_name(ck_id)
                for start, stop in _window_intervals(cell):
                    result.append(CoverageInterval("ck", ck_id, name, start, stop, sclk_id))
        return result

    def text_kernels(self) -> list[dict[str, str]]:
        """The loaded text kernels (LSK, PCK, FK, IK, SCLK, metakernels) with their kind."""
        result = []
        for path in self._loaded:
            filetype = spiceypy.kinfo(path)[0]
            if filetype in ("TEXT", "META"):
                kind = TEXT_KERNEL_KINDS.get(Path(path).suffix.lower(), filetype)
                result.append({"path": path, "kind": "MK" if filetype == "META" else kind})
        return result

    def problems(self) -> list[str]:
        """What is likely missing: no LSK, CKs without their SCLK, SPKs without data."""
        found = []
        kinds = {k["kind"] for k in self.text_kernels()}
        if "LSK" not in kinds and not pool_has("DELTET/DELTA_T_A"):
            found.append("no leapseconds kernel (LSK, e.g. naif0012.tls) loaded: UTC conversion impossible")
        for path in self._files_of_kind("CK"):
            for ck_id in spiceypy.ckobj(path, spiceypy.cell_int(_MAX_OBJECTS)):
                sclk_id = ck_sclk_id(int(ck_id))
                if not sclk_loaded(sclk_id):
                    found.append(
                        f"CK {path} (structure {int(ck_id)}) needs the spacecraft clock kernel "
                        f"for SCLK {sclk_id}, which is not loaded"
                    )
        for path in self._files_of_kind("SPK"):
            if spiceypy.card(spiceypy.spkobj(path, spiceypy.cell_int(_MAX_OBJECTS))) == 0:
                found.append(f"SPK {path} holds no segments")
        return found

    def report(self) -> dict:
        """JSON-ready coverage report (the ``ioflyby kernels check --json`` contract)."""
        return {
            "spk": [
                {
                    "body": c.id,
                    "name": c.name,
                    "start_utc": et_to_utc(c.start_et),
                    "stop_utc": et_to_utc(c.stop_et),
                }
                for c in self.spk_coverage()
            ],
            "ck": [
                {
                    "frame_id": c.id,
                    "name": c.name,
                    "sclk_id": c.sclk_id,
                    "start_utc": et_to_utc(c.start_et),
                    "stop_utc": et_to_utc(c.stop_et),
                }
                for c in self.ck_coverage()
            ],
            "text_kernels": self.text_kernels(),
            "problems": self.problems(),
        }

    # -- requirements --------------------------------------------------------------------------
    def require_spk(self, body: int | str, et: float) -> None:
        """Raise CoverageError unless the loaded SPKs hold ``body`` at ``et`` (s past J2000 TDB)."""
        naif_id = body_id(body)
        intervals = [c for c in self.spk_coverage() if c.id == naif_id]
        if not any(c.contains(et) for c in intervals):
            raise CoverageError(
                f"no SPK data for {body_name(naif_id)} ({naif_id}) at {et_to_utc(et)} UTC"
                f"{_coverage_hint(intervals)}; loaded: {', '.join(self._loaded) or 'nothing'}"
            )


def _check_member(metakernel: Path, member: Path) -> None:
    try:
        _check_readable(member)
    except KernelError as exc:
        raise KernelError(f"metakernel {metakernel}: {exc}") from None


def _added_entries(before: list[str], after: list[str]) -> list[str]:
    """Pool entries present in ``after`` but not ``before``, counting repeats: SPICE keeps one
    entry per load of a text kernel, so a file loaded by two sets appears twice."""
    remaining = Counter(before)
    added = []
    for path in after:
        if remaining[path] > 0:
            remaining[path] -= 1
        else:
            added.append(path)
    return added


def _coverage_hint(intervals: list[CoverageInterval]) -> str:
    if not intervals:
        return " (no loaded kernel covers it at all)"
    spans = ", ".join(f"{et_to_utc(c.start_et, 0)}..{et_to_utc(c.stop_et, 0)}" for c in intervals[:5])
    return f" (covered: {spans})"


def _window_intervals(cell: spiceypy.utils.support_types.SpiceCell) -> Iterator[tuple[float, float]]:
    for i in range(spiceypy.wncard(cell)):
        yield spiceypy.wnfetd(cell, i)


def pool_has(name: str) -> bool:
    """Whether the kernel pool holds the variable ``name``."""
    with spiceypy.no_found_check():
        return bool(spiceypy.dtpool(name)[0])


def body_id(body: int | str) -> int:
    """NAIF id of a body given by name or id; KernelError for an unknown name."""
    if isinstance(body, int):
        return body
    text = str(body).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    with spiceypy.no_found_check():
        code, found = spiceypy.bods2c(text)
    if not found:
        raise KernelError(f"unknown body name {text!r}: give a NAIF name (e.g. IO, JUNO) or id")
    return int(code)


def ck_sclk_id(ck_id: int) -> int:
    """Spacecraft clock id for a CK structure: the CK_<id>_SCLK keyword, else ck_id // 1000."""
    keyword = f"CK_{ck_id}_SCLK"
    if pool_has(keyword):
        return int(spiceypy.gipool(keyword, 0, 1)[0])
    return int(ck_id / 1000)


def sclk_loaded(sclk_id: int) -> bool:
    """True when an SCLK kernel for spacecraft clock ``sclk_id`` (e.g. -61) is in the pool."""
    return pool_has(f"SCLK_DATA_TYPE_{-sclk_id}") or pool_has(f"SCLK01_COEFFICIENTS_{-sclk_id}")


def ck_frame_name(ck_id: int) -> str:
    """Name of the frame whose CK class id is ``ck_id``, or the id as text when no FK says."""
    with spiceypy.no_found_check():
        _, name, _, found = spiceypy.ccifrm(_CK_CLASS, ck_id)
    return name if found else str(ck_id)


@contextlib.contextmanager
def spice_errors(doing: str) -> Iterator[None]:
    """Turn any CSPICE failure inside the block into an IoflybyError saying what was being done.

    >>> with spice_errors("computing the Io state for framelet 3"):   # doctest: +SKIP
    ...     spiceypy.spkpos(...)
    """
    try:
        yield
    except SpiceyError as exc:
        short = getattr(exc, "short", "") or ""
        loaded = ", ".join(Kernels._pool_files()) or "nothing"
        cls = CoverageError if "INSUFF" in short or "NOFRAMECONNECT" in short else KernelError
        raise cls(f"{doing}: {spice_error_message(exc)}; loaded: {loaded}") from None
