"""Text kernels the digital twin writes itself: LSK, PCK, SCLK, and the Juno FK/IK for JunoCam.

Every number below is a published constant, written here so that ``ioflyby simulate`` needs no
external file:

- LSK: the TAI−UTC table (IERS Bulletin C leap seconds up to 2017-01-01, DELTA_AT = 37 s) and
  the DELTET constants of NAIF's ``naif0012.tls``.
- PCK: radii and IAU rotation models of the Sun, Jupiter and the Galilean moons, and the Jupiter
  system nutation angles, as in NAIF's ``pck00010.tpc``; GM values of ``gm_de431.tpc``.
- SCLK: Juno's clock format (SCLK id −61, two fields ``count:fraction`` with 256 fractions per
  count, parallel time TDT), one partition and one coefficient record: the count is TDT seconds
  past 2000-01-01T11:58:55.816 UTC (what Juno's real clock is within minutes; no drift).
- FK/IK: JUNO_SPACECRAFT (−61000, CK-based), JUNO_JUNOCAM_CUBE (−61505) and JUNO_JUNOCAM
  (−61500) as in ``juno_v12.tf``, and the INS-6150x_* JunoCam keywords of
  ``juno_junocam_v03.ti`` (focal length, pixel size, distortion, timing bias, FOVs).

When the official Juno FK/IK are present (``official_juno_fk_ik``), the twin lists those instead.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ioflyby.camera.junocam import PUBLISHED_FOCAL_LENGTH_MM, PUBLISHED_PIXEL_SIZE_MM
from ioflyby.fileio import atomic_write_text
from ioflyby.spice import writers

SPACECRAFT_ID = -61
SPACECRAFT_FRAME_ID = -61000
SCLK_EPOCH_TDT_S = 64.184
"""TDT seconds past J2000 at which the twin's Juno clock reads 0:0 (as Juno's real SCLK)."""
SCLK_PARTITION_END_TICKS = 1.0995116277750e12
"""End of the twin clock's single partition, ticks (the value of Juno's real SCLK kernels' format)."""

LEAP_SECONDS: tuple[tuple[int, str], ...] = (
    (10, "1972-JAN-1"), (11, "1972-JUL-1"), (12, "1973-JAN-1"), (13, "1974-JAN-1"),
    (14, "1975-JAN-1"), (15, "1976-JAN-1"), (16, "1977-JAN-1"), (17, "1978-JAN-1"),
    (18, "1979-JAN-1"), (19, "1980-JAN-1"), (20, "1981-JUL-1"), (21, "1982-JUL-1"),
    (22, "1983-JUL-1"), (23, "1985-JUL-1"), (24, "1988-JAN-1"), (25, "1990-JAN-1"),
    (26, "1991-JAN-1"), (27, "1992-JUL-1"), (28, "1993-JUL-1"), (29, "1994-JUL-1"),
    (30, "1996-JAN-1"), (31, "1997-JUL-1"), (32, "1999-JAN-1"), (33, "2006-JAN-1"),
    (34, "2009-JAN-1"), (35, "2012-JUL-1"), (36, "2015-JUL-1"), (37, "2017-JAN-1"),
)
"""TAI−UTC (s) and the UTC date from which it holds (IERS; no leap second since 2017)."""

GM_KM3_S2: dict[int, float] = {
    10: 1.3271244004193938e11,
    3: 4.0350323550225981e05,
    399: 3.9860043543609598e05,
    5: 1.2671276480000021e08,
    599: 1.266865349218008e08,
    501: 5.959916033410404e03,
    502: 3.202738774922892e03,
    503: 9.887834453334144e03,
    504: 7.179289361397270e03,
}
"""GM of the bodies the twin models, km³/s² (DE431 values, ``gm_de431.tpc``)."""

JUPITER_J2 = 14696.572e-6
"""Jupiter's unnormalised J2 for reference radius 71,492 km (Juno gravity, Iess et al. 2018)."""
JUPITER_J2_REFERENCE_RADIUS_KM = 71492.0

_PCK_BODIES = """
BODY10_RADII = ( 696000. 696000. 696000. )
BODY10_POLE_RA = ( 286.13 0. 0. )
BODY10_POLE_DEC = ( 63.87 0. 0. )
BODY10_PM = ( 84.176 14.18440 0. )

BODY599_RADII = ( 71492. 71492. 66854. )
BODY599_POLE_RA = ( 268.056595 -0.006499 0. )
BODY599_POLE_DEC = ( 64.495303 0.002413 0. )
BODY599_PM = ( 284.95 870.5360000 0. )
BODY599_NUT_PREC_RA = ( 0. 0. 0. 0. 0. 0. 0. 0. 0. 0. 0.000117 0.000938 0.001432 0.000030 0.002150 )
BODY599_NUT_PREC_DEC = ( 0. 0. 0. 0. 0. 0. 0. 0. 0. 0. 0.000050 0.000404 0.000617 -0.000013 0.000926 )
BODY599_NUT_PREC_PM = ( 0. 0. 0. 0. 0. 0. 0. 0. 0. 0. 0. 0. 0. 0. 0. )

BODY5_NUT_PREC_ANGLES = ( 73.32 91472.9 24.62 45137.2 283.90 4850.7 355.80 1191.3
                          119.90 262.1 229.80 64.3 352.25 2382.6 113.35 6070.0
                          146.64 182945.8 49.24 90274.4 99.360714 4850.4046
                          175.895369 1191.9605 300.323162 262.5475 114.012305 6070.2476
                          49.511251 64.3000 )

BODY501_RADII = ( 1829.4 1819.4 1815.7 )
BODY501_POLE_RA = ( 268.05 -0.009 0. )
BODY501_POLE_DEC = ( 64.50 0.003 0. )
BODY501_PM = ( 200.39 203.4889538 0. )
BODY501_NUT_PREC_RA = ( 0. 0. 0.094 0.024 )
BODY501_NUT_PREC_DEC = ( 0. 0. 0.040 0.011 )
BODY501_NUT_PREC_PM = ( 0. 0. -0.085 -0.022 )

BODY502_RADII = ( 1562.6 1560.3 1559.5 )
BODY502_POLE_RA = ( 268.08 -0.009 0. )
BODY502_POLE_DEC = ( 64.51 0.003 0. )
BODY502_PM = ( 36.022 101.3747235 0. )
BODY502_NUT_PREC_RA = ( 0. 0. 0. 1.086 0.060 0.015 0.009 )
BODY502_NUT_PREC_DEC = ( 0. 0. 0. 0.468 0.026 0.007 0.002 )
BODY502_NUT_PREC_PM = ( 0. 0. 0. -0.980 -0.054 -0.014 -0.008 )

BODY503_RADII = ( 2631.2 2631.2 2631.2 )
BODY503_POLE_RA = ( 268.20 -0.009 0. )
BODY503_POLE_DEC = ( 64.57 0.003 0. )
BODY503_PM = ( 44.064 50.3176081 0. )
BODY503_NUT_PREC_RA = ( 0. 0. 0. -0.037 0.431 0.091 )
BODY503_NUT_PREC_DEC = ( 0. 0. 0. -0.016 0.186 0.039 )
BODY503_NUT_PREC_PM = ( 0. 0. 0. 0.033 -0.389 -0.082 )

BODY504_RADII = ( 2410.3 2410.3 2410.3 )
BODY504_POLE_RA = ( 268.72 -0.009 0. )
BODY504_POLE_DEC = ( 64.83 0.003 0. )
BODY504_PM = ( 259.51 21.5710715 0. )
BODY504_NUT_PREC_RA = ( 0. 0. 0. 0. -0.068 0.590 0. 0.010 )
BODY504_NUT_PREC_DEC = ( 0. 0. 0. 0. -0.029 0.254 0. -0.004 )
BODY504_NUT_PREC_PM = ( 0. 0. 0. 0. 0.061 -0.533 0. -0.009 )

BODY399_RADII = ( 6378.1366 6378.1366 6356.7519 )
"""

_FK = """
FRAME_JUNO_SPACECRAFT        = -61000
FRAME_-61000_NAME            = 'JUNO_SPACECRAFT'
FRAME_-61000_CLASS           = 3
FRAME_-61000_CLASS_ID        = -61000
FRAME_-61000_CENTER          = -61
CK_-61000_SCLK               = -61
CK_-61000_SPK                = -61

FRAME_JUNO_JUNOCAM_CUBE      = -61505
FRAME_-61505_NAME            = 'JUNO_JUNOCAM_CUBE'
FRAME_-61505_CLASS           = 4
FRAME_-61505_CLASS_ID        = -61505
FRAME_-61505_CENTER          = -61
TKFRAME_-61505_SPEC          = 'MATRIX'
TKFRAME_-61505_RELATIVE      = 'JUNO_SPACECRAFT'
TKFRAME_-61505_MATRIX        = ( -0.0059163 -0.0142817 -0.9998805
                                  0.0023828 -0.9998954  0.0142678
                                 -0.9999797 -0.0022981  0.0059497 )

FRAME_JUNO_JUNOCAM           = -61500
FRAME_-61500_NAME            = 'JUNO_JUNOCAM'
FRAME_-61500_CLASS           = 4
FRAME_-61500_CLASS_ID        = -61500
FRAME_-61500_CENTER          = -61
TKFRAME_-61500_SPEC          = 'ANGLES'
TKFRAME_-61500_RELATIVE      = 'JUNO_JUNOCAM_CUBE'
TKFRAME_-61500_ANGLES        = ( 0.69 -0.469 0.583 )
TKFRAME_-61500_AXES          = ( 3 2 1 )
TKFRAME_-61500_UNITS         = 'DEGREES'

NAIF_BODY_NAME += ( 'JUNO' )
NAIF_BODY_CODE += ( -61 )
NAIF_BODY_NAME += ( 'JUNO_SPACECRAFT' )
NAIF_BODY_CODE += ( -61000 )
NAIF_BODY_NAME += ( 'JUNO_JUNOCAM' )
NAIF_BODY_CODE += ( -61500 )
NAIF_BODY_NAME += ( 'JUNO_JUNOCAM_BLUE' )
NAIF_BODY_CODE += ( -61501 )
NAIF_BODY_NAME += ( 'JUNO_JUNOCAM_GREEN' )
NAIF_BODY_CODE += ( -61502 )
NAIF_BODY_NAME += ( 'JUNO_JUNOCAM_RED' )
NAIF_BODY_CODE += ( -61503 )
NAIF_BODY_NAME += ( 'JUNO_JUNOCAM_METHANE' )
NAIF_BODY_CODE += ( -61504 )
"""

# Per JunoCam NAIF id: (DISTORTION_Y, FOV shape, boresight, FOV corners) of juno_junocam_v03.ti.
_IK_BANDS: dict[int, tuple[float, str, tuple[float, ...], tuple[float, ...]]] = {
    -61500: (78.48, "POLYGON", (0.0, 0.0, 1.0), (
        -0.47351727, -0.18862601, 0.86034971, -0.47852984, -0.11376363, 0.87067045,
        -0.47934991, -0.09577177, 0.87238262, -0.48125208, -0.01885545, 0.87637943,
        -0.48132762, -0.00181401, 0.87653889, -0.48010800, 0.07530320, 0.87397125,
        -0.47949606, 0.09218676, 0.87268845, -0.47518685, 0.16768048, 0.86375964,
        0.48724863, 0.16654879, 0.85723408, 0.49166330, 0.09156385, 0.86595800,
        0.49229026, 0.07479430, 0.86721169, 0.49353987, -0.00180175, 0.86972131,
        0.49346247, -0.01872799, 0.86956544, 0.49151356, -0.09512467, 0.86565912,
        0.49067337, -0.11299511, 0.86398596, 0.48553839, -0.18735362, 0.85390345)),
    -61501: (158.48, "RECTANGLE", (0.00862523, -0.06371477, 0.99793088), (
        -0.47934991, -0.09577177, 0.87238262, -0.48125208, -0.01885545, 0.87637943,
        0.49346247, -0.01872799, 0.86956544, 0.49151356, -0.09512467, 0.86565912)),
    -61502: (3.48, "RECTANGLE", (0.00863288, 0.04084925, 0.99912803), (
        -0.48132762, -0.00181401, 0.87653889, -0.48010800, 0.07530320, 0.87397125,
        0.49229026, 0.07479430, 0.86721169, 0.49353987, -0.00180175, 0.86972131)),
    -61503: (-151.52, "RECTANGLE", (0.00857099, 0.14442688, 0.98947835), (
        -0.47949606, 0.09218676, 0.87268845, -0.47518685, 0.16768048, 0.86375964,
        0.48724863, 0.16654879, 0.85723408, 0.49166330, 0.09156385, 0.86595800)),
    -61504: (315.48, "RECTANGLE", (0.00854687, -0.16805056, 0.98574133), (
        -0.47351727, -0.18862601, 0.86034971, -0.47852984, -0.11376363, 0.87067045,
        0.49067337, -0.11299511, 0.86398596, 0.48553839, -0.18735362, 0.85390345)),
}
_IK_COMMON = {
    "FOCAL_LENGTH": repr(PUBLISHED_FOCAL_LENGTH_MM),
    "PIXEL_SIZE": repr(PUBLISHED_PIXEL_SIZE_MM),
    "DISTORTION_K1": "-5.9624209455667325e-08",
    "DISTORTION_K2": "2.7381910042256151e-14",
    "DISTORTION_X": "814.21",
    "START_TIME_BIAS": "0.06188",
    "INTERFRAME_DELTA": "0.001",
}


def _write_kernel(path: Path, header: str, comment: str, data: str) -> Path:
    """Write a text kernel (``header``, comment, one data block; ASCII, as SPICE requires) atomically."""
    text = f"{header}\n\n{comment.strip()}\n\n\\begindata\n{data.strip()}\n\\begintext\n"
    return atomic_write_text(path, text, encoding="ascii")


def write_lsk(path: Path) -> Path:
    """Leapseconds kernel from :data:`LEAP_SECONDS` (same content as naif0012.tls)."""
    rows = "\n".join(f"    {dat}, @{date}" for dat, date in LEAP_SECONDS)
    data = (
        "DELTET/DELTA_T_A = 32.184\nDELTET/K = 1.657D-3\nDELTET/EB = 1.671D-2\n"
        "DELTET/M = ( 6.239996D0 1.99096871D-7 )\n"
        f"DELTET/DELTA_AT = (\n{rows} )"
    )
    return _write_kernel(path, "KPL/LSK", "ioflyby digital twin: leap seconds (IERS, as naif0012.tls).", data)


def write_pck(path: Path) -> Path:
    """PCK with radii, IAU rotation models (pck00010) and GM (gm_de431) of the twin's bodies."""
    gm = "\n".join(f"BODY{body}_GM = ( {value!r} )" for body, value in GM_KM3_S2.items())
    return _write_kernel(
        path, "KPL/PCK",
        "ioflyby digital twin: Sun, Jupiter, Galilean moons (pck00010 rotation and radii, DE431 GM).",
        _PCK_BODIES + "\n" + gm,
    )


def write_sclk(path: Path) -> Path:
    """Juno-format spacecraft clock kernel (id −61): one partition, count = TDT s past the epoch."""
    comment = (
        "ioflyby digital twin: Juno spacecraft clock (format of jno_sclkscet; ideal clock, "
        "count = TDT seconds past J2000 - 64.184 s, 256 fractions per count)."
    )
    return writers.write_sclk(path, SCLK_EPOCH_TDT_S, comment, clock_id=SPACECRAFT_ID, time_system="TDT",
                              partition_end_ticks=SCLK_PARTITION_END_TICKS)


def write_fk(path: Path) -> Path:
    """Frames kernel: JUNO_SPACECRAFT (CK), JUNO_JUNOCAM_CUBE, JUNO_JUNOCAM and the band names."""
    return _write_kernel(path, "KPL/FK", "ioflyby digital twin: Juno frames from juno_v12.tf.", _FK)


def write_ik(path: Path) -> Path:
    """JunoCam instrument kernel with the INS-6150x_* keywords of juno_junocam_v03.ti."""
    lines: list[str] = []
    for naif_id, (distortion_y, shape, boresight, corners) in _IK_BANDS.items():
        prefix = f"INS{naif_id}_"
        for key, value in _IK_COMMON.items():
            lines.append(f"{prefix}{key} = ( {value} )")
        lines.append(f"{prefix}DISTORTION_Y = ( {distortion_y} )")
        lines.append(f"{prefix}FOV_FRAME = 'JUNO_JUNOCAM'")
        lines.append(f"{prefix}FOV_SHAPE = '{shape}'")
        lines.append(f"{prefix}BORESIGHT = ( {' '.join(repr(v) for v in boresight)} )")
        triples = [" ".join(repr(v) for v in corners[i : i + 3]) for i in range(0, len(corners), 3)]
        lines.append(f"{prefix}FOV_BOUNDARY_CORNERS = (")  # text kernel lines must stay short
        lines.extend(f"    {t}" for t in triples)
        lines.append("    )")
        lines.append("")
    return _write_kernel(
        path, "KPL/IK", "ioflyby digital twin: JunoCam parameters of juno_junocam_v03.ti.", "\n".join(lines)
    )


def official_juno_fk_ik(kernel_dir: str | Path | None = None) -> tuple[Path, Path] | None:
    """The official ``fk/juno_v12.tf`` and ``ik/juno_junocam_v03.ti`` when they exist.

    Looked for in ``kernel_dir``, else ``$IOFLYBY_KERNELS``, else ``../shared/data/kernels``
    beside the current directory and beside the source checkout. ``None`` when absent.
    """
    candidates: list[Path] = []
    if kernel_dir is not None:
        candidates.append(Path(kernel_dir))
    if os.environ.get("IOFLYBY_KERNELS"):
        candidates.append(Path(os.environ["IOFLYBY_KERNELS"]))
    candidates.append(Path.cwd().parent / "shared" / "data" / "kernels")
    candidates.append(Path(__file__).resolve().parents[3].parent / "shared" / "data" / "kernels")
    for folder in candidates:
        fk, ik = folder / "fk" / "juno_v12.tf", folder / "ik" / "juno_junocam_v03.ti"
        if fk.is_file() and ik.is_file():
            return fk.resolve(), ik.resolve()
    return None


def _split_string(value: str, width: int = 70) -> list[str]:
    """A long metakernel string as SPICE continuation pieces (each ends in '+' but the last)."""
    pieces = [value[i : i + width] for i in range(0, len(value), width)] or [""]
    return [p + "+" for p in pieces[:-1]] + [pieces[-1]]


def write_metakernel(path: Path, root: Path, relative_files: Sequence[str], extra_files: Sequence[Path] = ()) -> Path:
    """Metakernel loading ``relative_files`` (relative to ``root``, via PATH_SYMBOLS) and
    ``extra_files`` (absolute paths). Long paths are split with SPICE's '+' continuation."""
    entries: list[str] = []
    for name in relative_files:
        entries.extend(f"'{piece}'" for piece in _split_string(f"$TWIN/{name}"))
    for extra in extra_files:
        entries.extend(f"'{piece}'" for piece in _split_string(str(Path(extra).resolve())))
    root_value = "\n".join(f"  '{piece}'" for piece in _split_string(str(Path(root).resolve())))
    data = (
        f"PATH_SYMBOLS = ( 'TWIN' )\nPATH_VALUES = (\n{root_value} )\n"
        "KERNELS_TO_LOAD = (\n" + "\n".join(f"  {e}" for e in entries) + " )"
    )
    return _write_kernel(path, "KPL/MK", "ioflyby digital twin metakernel.", data)


# -- Galileo (the galileo-i32 SSI twin, ioflyby.simulate.ssi) ------------------------------------

GALILEO_SPACECRAFT_ID = -77
GALILEO_SCLK_MODULI = (16777215, 91, 10, 8)
"""Galileo's clock fields RIM, MOD91, MOD10, MOD8 (``mk000xx.tsc``): 7280 ticks per RIM."""
GALILEO_SECONDS_PER_RIM = 60.0 + 2.0 / 3.0
"""Nominal length of one RIM count, s (the real clock's rate, 60.6663 s, drifts around it)."""
GALILEO_SCLK_ORIGIN_TDB_S = -3.2287591517365e8
"""TDB s past J2000 at which the twin's Galileo clock reads 0 (the first record of mk00062b.tsc)."""


def write_galileo_sclk(path: Path) -> Path:
    """Galileo-format spacecraft clock kernel (id −77): four fields RIM.MOD91.MOD10.MOD8 (moduli
    16777215 91 10 8, as ``mk00062b.tsc``), one partition, one coefficient record: an ideal clock
    of exactly 60 ⅔ s per RIM from :data:`GALILEO_SCLK_ORIGIN_TDB_S`."""
    code = -GALILEO_SPACECRAFT_ID
    moduli = " ".join(str(m) for m in GALILEO_SCLK_MODULI)
    data = (
        "SCLK_KERNEL_ID = ( @2000-01-01/00:00:00.00 )\n"
        f"SCLK_DATA_TYPE_{code} = ( 1 )\n"
        f"SCLK01_TIME_SYSTEM_{code} = ( 1 )\n"
        f"SCLK01_N_FIELDS_{code} = ( 4 )\n"
        f"SCLK01_MODULI_{code} = ( {moduli} )\n"
        f"SCLK01_OFFSETS_{code} = ( 0 0 0 0 )\n"
        f"SCLK01_OUTPUT_DELIM_{code} = ( 1 )\n"
        f"SCLK_PARTITION_START_{code} = ( 0.0 )\n"
        f"SCLK_PARTITION_END_{code} = ( 1.2213812519900E+11 )\n"
        f"SCLK01_COEFFICIENTS_{code} = ( 0.0 {GALILEO_SCLK_ORIGIN_TDB_S!r} {GALILEO_SECONDS_PER_RIM!r} )"
    )
    return _write_kernel(path, "KPL/SCLK",
                         "ioflyby digital twin: Galileo spacecraft clock (format of mk00062b.tsc; ideal clock).", data)


SSI_ADDENDUM = {
    "PLATFORM_ID": "-77001",
    "FOCAL_LENGTH_COVER": "1499.957",
    "FOCAL_LENGTH": "1500.46655964",
    "PIXEL_PITCH": "0.01524",
    "BORESIGHT_SAMPLE": "400",
    "BORESIGHT_LINE": "400",
    "K1_COVER": "-.000032280038653",
    "K1": "-.000024976983626",
    "FRAME_LINES": "800.0",
    "FRAME_SAMPLES": "800.0",
}
"""The INS-77001_* camera keywords of ISIS's ``ssiAddendum005.ti`` (Galileo has no NAIF SSI IK)."""

_SSI_FRAME = """
FRAME_GLL_SSI_PLATFORM   = -77001
FRAME_-77001_NAME        = 'GLL_SSI_PLATFORM'
FRAME_-77001_CLASS       = 3
FRAME_-77001_CLASS_ID    = -77001
FRAME_-77001_CENTER      = -77
CK_-77001_SCLK           = -77
CK_-77001_SPK            = -77
NAIF_BODY_NAME += ( 'GLL_SSI_PLATFORM' )
NAIF_BODY_CODE += ( -77001 )
"""


def write_ssi_addendum(path: Path) -> Path:
    """The Galileo SSI instrument keywords and the CK frame GLL_SSI_PLATFORM (−77001, oriented by
    the scan-platform CK relative to J2000), as ISIS's ``ssiAddendum005.ti`` defines them."""
    keywords = "\n".join(f"INS-77001_{key} = {value}" for key, value in SSI_ADDENDUM.items())
    return _write_kernel(path, "KPL/IK", "ioflyby digital twin: Galileo SSI keywords of ISIS's ssiAddendum005.ti.",
                         keywords + "\n" + _SSI_FRAME)
