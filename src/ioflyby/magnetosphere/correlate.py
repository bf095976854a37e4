"""Does Io's activity follow its magnetospheric context? Tests with their significance.

- :func:`rayleigh_test`: are event phases (e.g. Io's System III longitude at each detection)
  uniformly distributed? Rayleigh's Z = n R̄² with the p-value of Zar (2010, Biostatistical
  Analysis, eq. 27.4) — for events, not for measured values.
- :func:`phase_dependence`: does a measured value (e.g. hot-spot power) depend on a phase (System
  III longitude)? Statistic: the first-harmonic amplitude of the value against the phase (a
  least-squares fit of ``c + a cos φ + b sin φ``); p-value by permuting the values over the
  phases (no distributional assumption).
- :func:`linear_dependence`: does a value depend on a covariate (centrifugal latitude, distance
  from the plasma-sheet centre)? Pearson r with a permutation p-value.
- :func:`lagged_correlation`: lagged cross-correlation of an activity series with a user series
  (e.g. torus brightness), both on their own time axes; significance of the largest |r| over all
  lags (which accounts for having searched the lags) against phase-randomised surrogates of the
  user series (Theiler et al. 1992, Physica D 58, 77), which keep its power spectrum and so its
  autocorrelation.

All results are dataclasses with ``to_json()``; all take a ``seed`` so a result is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ioflyby.errors import IoflybyError


class CorrelationError(IoflybyError):
    """The inputs of a correlation test do not allow it (too few points, mismatched lengths)."""


@dataclass(frozen=True)
class TestResult:
    """A statistic, its p-value, and what was tested."""

    test: str
    statistic: float
    p_value: float
    n: int
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"test": self.test, "statistic": self.statistic, "p_value": self.p_value, "n": self.n, **self.detail}


def _check(n: int, minimum: int, what: str) -> None:
    if n < minimum:
        raise CorrelationError(f"{what} needs at least {minimum} points, got {n}: add observations")


def _finite_pairs(x, values, name: str, minimum: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, values) as float arrays of equal length with the pairs holding a NaN dropped; at least
    ``minimum`` pairs for ``what``."""
    x = np.asarray(x, dtype=float)
    values = np.asarray(values, dtype=float)
    if x.shape != values.shape:
        raise CorrelationError(f"{name} and values differ in length ({x.size} vs {values.size})")
    keep = np.isfinite(x) & np.isfinite(values)
    _check(int(keep.sum()), minimum, what)
    return x[keep], values[keep]


def rayleigh_test(phases: np.ndarray) -> TestResult:
    """Rayleigh test of uniformity of ``phases`` (rad). Large Z, small p: clustered phases."""
    phases = np.asarray(phases, dtype=float)
    phases = phases[np.isfinite(phases)]
    n = phases.size
    _check(n, 3, "the Rayleigh test")
    resultant = np.hypot(np.cos(phases).sum(), np.sin(phases).sum())
    r_bar = resultant / n
    z = n * r_bar**2
    p = np.exp(np.sqrt(1 + 4 * n + 4 * (n**2 - resultant**2)) - (1 + 2 * n))
    mean_phase = float(np.arctan2(np.sin(phases).sum(), np.cos(phases).sum()) % (2 * np.pi))
    return TestResult("rayleigh", float(z), float(min(max(p, 0.0), 1.0)), n,
                      {"mean_resultant_length": float(r_bar), "mean_phase_deg": float(np.degrees(mean_phase))})


def _harmonic_amplitude(values: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """First-harmonic amplitude of least-squares fits c + a cos + b sin, one per row of
    ``values`` (k, n)."""
    design = np.stack([np.ones_like(cos), cos, sin], axis=1)
    coefficients, *_ = np.linalg.lstsq(design, values.T, rcond=None)
    return np.hypot(coefficients[1], coefficients[2])


def phase_dependence(phases: np.ndarray, values: np.ndarray, n_permutations: int = 2000, seed: int = 0) -> TestResult:
    """Permutation test of a first-harmonic dependence of ``values`` on ``phases`` (rad)."""
    phases, values = _finite_pairs(phases, values, "phases", 5, "a phase-dependence test")
    cos, sin = np.cos(phases), np.sin(phases)
    observed = _harmonic_amplitude(values[None, :], cos, sin)[0]
    rng = np.random.default_rng(seed)
    shuffled = np.array([rng.permutation(values) for _ in range(n_permutations)])
    null = _harmonic_amplitude(shuffled, cos, sin)
    p = (1 + np.count_nonzero(null >= observed)) / (n_permutations + 1)
    design = np.stack([np.ones_like(cos), cos, sin], axis=1)
    c, a, b = np.linalg.lstsq(design, values, rcond=None)[0]
    peak = float(np.degrees(np.arctan2(b, a)) % 360.0)
    return TestResult("phase_dependence", float(observed), float(p), int(values.size),
                      {"mean": float(c), "peak_phase_deg": peak, "n_permutations": n_permutations})


def linear_dependence(covariate: np.ndarray, values: np.ndarray, n_permutations: int = 2000, seed: int = 0) -> TestResult:
    """Pearson correlation of ``values`` with ``covariate`` and its two-sided permutation p."""
    x, y = _finite_pairs(covariate, values, "covariate", 4, "a correlation test")
    xs = (x - x.mean()) / (x.std() or 1.0)
    ys = (y - y.mean()) / (y.std() or 1.0)
    r = float(np.mean(xs * ys))
    rng = np.random.default_rng(seed)
    null = np.array([np.mean(xs * rng.permutation(ys)) for _ in range(n_permutations)])
    p = (1 + np.count_nonzero(np.abs(null) >= abs(r))) / (n_permutations + 1)
    return TestResult("pearson_permutation", r, float(p), int(x.size), {"n_permutations": n_permutations})


@dataclass(frozen=True)
class LaggedCorrelation:
    """Pearson r of activity(t) with series(t + lag) for each lag (s); the best lag; the
    surrogate p-value of the largest |r|."""

    lags_s: np.ndarray
    r: np.ndarray
    best_lag_s: float
    best_r: float
    p_value: float
    n_surrogates: int

    def to_json(self) -> dict[str, Any]:
        return {
            "test": "lagged_correlation_phase_surrogates",
            "lags_s": [float(v) for v in self.lags_s],
            "r": [None if not np.isfinite(v) else float(v) for v in self.r],
            "best_lag_s": self.best_lag_s,
            "best_r": self.best_r,
            "p_value": self.p_value,
            "n_surrogates": self.n_surrogates,
        }


def _phase_surrogates(series: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` series with the same amplitude spectrum as ``series`` and random phases."""
    spectrum = np.fft.rfft(series - series.mean())
    phases = rng.uniform(0, 2 * np.pi, (count, spectrum.size))
    phases[:, 0] = 0.0
    if series.size % 2 == 0:
        phases[:, -1] = 0.0
    return np.fft.irfft(np.abs(spectrum) * np.exp(1j * phases), n=series.size) + series.mean()


def _lag_r(activity: np.ndarray, sample_times: np.ndarray, grid: np.ndarray, series: np.ndarray) -> np.ndarray:
    """r(lag) for each row of ``sample_times`` (lags, n): the series interpolated there."""
    a = (activity - activity.mean()) / (activity.std() or 1.0)
    values = np.interp(sample_times, grid, series)
    values = values - values.mean(axis=-1, keepdims=True)
    scale = values.std(axis=-1)
    scale[scale == 0] = np.inf
    return (values * a).mean(axis=-1) / scale


def lagged_correlation(
    activity_times: np.ndarray, activity: np.ndarray, series_times: np.ndarray, series: np.ndarray,
    lags_s: np.ndarray, n_surrogates: int = 1000, seed: int = 0,
) -> LaggedCorrelation:
    """Lagged cross-correlation of ``activity`` (at ``activity_times``, ET s) with a user
    ``series`` (at ``series_times``): r(lag) = corr(activity(t), series(t + lag)). The series is
    resampled to a uniform grid (its median spacing) for the surrogates; activity samples whose
    shifted time leaves the series' span are not used at that lag."""
    ta = np.asarray(activity_times, dtype=float)
    a = np.asarray(activity, dtype=float)
    ts = np.asarray(series_times, dtype=float)
    s = np.asarray(series, dtype=float)
    lags = np.atleast_1d(np.asarray(lags_s, dtype=float))
    if ta.shape != a.shape or ts.shape != s.shape:
        raise CorrelationError("times and values must have the same length (activity and series)")
    _check(a.size, 5, "a lagged correlation")
    _check(s.size, 8, "the user series of a lagged correlation")
    order = np.argsort(ts)
    ts, s = ts[order], s[order]
    step = float(np.median(np.diff(ts)))
    if not step > 0:
        raise CorrelationError("the user series needs increasing, distinct times")
    grid = np.arange(ts[0], ts[-1] + step / 2, step)
    uniform = np.interp(grid, ts, s)
    shifted = ta[None, :] + lags[:, None]
    inside = (shifted >= grid[0]) & (shifted <= grid[-1])
    usable = inside.all(axis=0)
    if usable.sum() < 5:
        raise CorrelationError("fewer than 5 activity samples fall inside the user series at every lag: "
                               "use smaller lags or a longer series")
    shifted = shifted[:, usable]
    act = a[usable]
    r = _lag_r(act, shifted, grid, uniform)
    best = int(np.nanargmax(np.abs(r)))
    rng = np.random.default_rng(seed)
    surrogates = _phase_surrogates(uniform, n_surrogates, rng)
    null = np.array([np.nanmax(np.abs(_lag_r(act, shifted, grid, sur))) for sur in surrogates])
    p = (1 + np.count_nonzero(null >= abs(r[best]))) / (n_surrogates + 1)
    return LaggedCorrelation(lags, r, float(lags[best]), float(r[best]), float(p), n_surrogates)
