"""Ephemerides of the Sun, Earth, Jupiter and the Galilean moons written as an SPK.

Source: the astronomy-engine package — VSOP87 (truncated) for the planets and the Lainey L1.2
theory (truncated) for the Galilean satellites, valid for any epoch the twin supports
(1995–2030). Its vectors are J2000 mean equator (EQJ), taken here as SPICE ``J2000`` (the
~20 mas frame bias is far below the theory's accuracy). Time: astronomy-engine's TT; the SPK is
written in TDB (TT→TDB through SPICE, an LSK must be loaded).

Bodies and centres written (SPK type 13, Hermite, J2000, km, km/s):
  10 Sun, 3 Earth–Moon barycentre, 5 Jupiter system barycentre (= VSOP87 "Jupiter") relative to
  0 (solar-system barycentre); 399 Earth relative to 3; 599 Jupiter and 501–504 relative to 5,
  where Jupiter's centre is offset from the system barycentre by −Σ mᵢ rᵢ / M (DE431 masses).

Accuracy against JPL's ephemerides: docs/twin.md, "Ephemeris accuracy" (tests/test_simulate_kernels.py).
Inside the twin it does not matter: every stage reads the same SPK.
"""

from __future__ import annotations

from pathlib import Path

import astronomy
import numpy as np
import spiceypy

from ioflyby.errors import ScenarioError
from ioflyby.simulate.textkernels import GM_KM3_S2
from ioflyby.spice import SpkSegment, write_spk

AU_KM = 149597870.7
DAY_S = 86400.0
MIN_EPOCH_UTC = "1995-01-01"
MAX_EPOCH_UTC = "2030-12-31"
MOONS = {501: "io", 502: "europa", 503: "ganymede", 504: "callisto"}


def _state_km(vector: astronomy.StateVector) -> np.ndarray:
    """astronomy-engine state (AU, AU/day) → km, km/s."""
    return np.array(
        [vector.x * AU_KM, vector.y * AU_KM, vector.z * AU_KM,
         vector.vx * AU_KM / DAY_S, vector.vy * AU_KM / DAY_S, vector.vz * AU_KM / DAY_S]
    )


def _time_of(et: float) -> astronomy.Time:
    """astronomy-engine Time for ET (TDB s past J2000), via SPICE's TDB→TT conversion."""
    tt = spiceypy.unitim(et, "TDB", "TT")
    return astronomy.Time.FromTerrestrialTime(tt / DAY_S)


def check_epoch_range(start_et: float, stop_et: float) -> None:
    """Raise ScenarioError outside 1995–2030, the span the twin's ephemeris is meant for."""
    low, high = spiceypy.str2et(MIN_EPOCH_UTC), spiceypy.str2et(MAX_EPOCH_UTC)
    if start_et < low or stop_et > high:
        raise ScenarioError(
            f"the twin's ephemeris covers {MIN_EPOCH_UTC}..{MAX_EPOCH_UTC}; "
            f"requested {spiceypy.et2utc(start_et, 'ISOC', 0)}..{spiceypy.et2utc(stop_et, 'ISOC', 0)}"
        )


def planet_segments(epochs: np.ndarray) -> list[SpkSegment]:
    """Sun, EMB, Jupiter barycentre (wrt SSB) and Earth (wrt EMB) at ``epochs`` (ET)."""
    sun, emb, jup, earth = [], [], [], []
    for et in epochs:
        time = _time_of(float(et))
        sun.append(_state_km(astronomy.BaryState(astronomy.Body.Sun, time)))
        emb_state = _state_km(astronomy.BaryState(astronomy.Body.EMB, time))
        emb.append(emb_state)
        jup.append(_state_km(astronomy.BaryState(astronomy.Body.Jupiter, time)))
        earth.append(_state_km(astronomy.BaryState(astronomy.Body.Earth, time)) - emb_state)
    return [
        SpkSegment(10, 0, epochs, np.array(sun)),
        SpkSegment(3, 0, epochs, np.array(emb)),
        SpkSegment(5, 0, epochs, np.array(jup)),
        SpkSegment(399, 3, epochs, np.array(earth)),
    ]


def moon_segments(epochs: np.ndarray) -> list[SpkSegment]:
    """Jupiter (599) and the Galilean moons (501–504) relative to the Jupiter barycentre (5)."""
    total_gm = GM_KM3_S2[599] + sum(GM_KM3_S2[m] for m in MOONS)
    jovicentric = {m: [] for m in MOONS}
    for et in epochs:
        info = astronomy.JupiterMoons(_time_of(float(et)))
        for naif, name in MOONS.items():
            jovicentric[naif].append(_state_km(getattr(info, name)))
    arrays = {m: np.array(v) for m, v in jovicentric.items()}
    jupiter = -sum(GM_KM3_S2[m] * arrays[m] for m in MOONS) / total_gm
    segments = [SpkSegment(599, 5, epochs, jupiter)]
    segments += [SpkSegment(m, 5, epochs, arrays[m] + jupiter) for m in MOONS]
    return segments


def sample_epochs(start_et: float, stop_et: float, step_s: float) -> np.ndarray:
    """Evenly spaced epochs covering [start, stop] (both included), at most ``step_s`` apart."""
    count = max(int(np.ceil((stop_et - start_et) / step_s)), 8) + 1
    return np.linspace(start_et, stop_et, count)


def write_ephemeris_spk(
    path: Path, start_et: float, stop_et: float, planet_step_s: float = 3600.0, moon_step_s: float = 300.0
) -> Path:
    """Write the twin's natural-body SPK covering [start_et, stop_et] (ET, s past J2000 TDB).

    Needs an LSK in the pool (TDB→TT). Raises ScenarioError outside 1995–2030.
    """
    check_epoch_range(start_et, stop_et)
    segments = planet_segments(sample_epochs(start_et, stop_et, planet_step_s))
    segments += moon_segments(sample_epochs(start_et, stop_et, moon_step_s))
    return write_spk(path, segments, "ioflyby twin: VSOP87 + L1.2 (astronomy-engine)", label="ioflyby twin")
