"""Rate analysis of reward-free runs: log-log slopes with bootstrap intervals, episodes to reach eps.

Used by the tests, the figures and the notebook of the reward-free slice (``reward_free.py``), so the
claims they check are computed one way. Pure NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rltheory.errors import InvalidParameterError

__all__ = ["SlopeFit", "loglog_slope", "episodes_to_epsilon", "episodes_to_epsilon_bootstrap"]


@dataclass(frozen=True)
class SlopeFit:
    """A least-squares slope of ``log y`` on ``log x`` with a percentile bootstrap interval."""

    slope: float
    low: float
    high: float
    intercept: float

    def __str__(self) -> str:
        return f"{self.slope:+.2f} [{self.low:+.2f}, {self.high:+.2f}]"


def _fit(x, y):
    lx, ly = np.log(x), np.log(y)
    slope, icpt = np.polyfit(lx, ly, 1)
    return float(slope), float(icpt)


def loglog_slope(x, Y, *, x_min: float | None = None, n_boot: int = 1000, level: float = 0.9,
                 seed: int = 0) -> SlopeFit:
    """Slope of ``log mean_r Y[r, i]`` against ``log x[i]`` (points with ``x >= x_min`` and ``mean > 0``).

    ``Y (R, n)``: one row per replicate (seed). The interval resamples replicates with replacement
    (percentile bootstrap at ``level``).
    """
    x = np.asarray(x, dtype=np.float64)
    Y = np.atleast_2d(np.asarray(Y, dtype=np.float64))
    if Y.shape[1] != x.size:
        raise InvalidParameterError("Y", f"must have {x.size} columns (one per x), got {Y.shape}", value=Y.shape)
    keep = np.ones(x.size, bool) if x_min is None else x >= x_min
    mean = Y.mean(axis=0)
    keep &= mean > 0
    if keep.sum() < 2:
        raise InvalidParameterError("Y", "needs at least two positive points to fit a slope", value=int(keep.sum()))
    slope, icpt = _fit(x[keep], mean[keep])
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        m = Y[rng.integers(0, Y.shape[0], Y.shape[0])].mean(axis=0)
        ok = keep & (m > 0)
        if ok.sum() >= 2:
            boots.append(_fit(x[ok], m[ok])[0])
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2]) if boots else (np.nan, np.nan)
    return SlopeFit(slope, float(lo), float(hi), icpt)


def episodes_to_epsilon(checkpoints, Y, eps: float) -> float:
    """First checkpoint after which the replicate-mean of ``Y (R, n)`` stays ``<= eps`` (``inf`` if never)."""
    cps = np.asarray(checkpoints, dtype=np.float64)
    mean = np.atleast_2d(np.asarray(Y, dtype=np.float64)).mean(axis=0)
    above = np.flatnonzero(mean > eps)
    if above.size == 0:
        return float(cps[0])
    if above[-1] == cps.size - 1:
        return float("inf")
    return float(cps[above[-1] + 1])


def episodes_to_epsilon_bootstrap(checkpoints, Y, eps: float, *, n_boot: int = 500, seed: int = 0) -> np.ndarray:
    """Bootstrap draws (over replicates) of :func:`episodes_to_epsilon`, shape ``(n_boot,)``."""
    Y = np.atleast_2d(np.asarray(Y, dtype=np.float64))
    rng = np.random.default_rng(seed)
    return np.array([episodes_to_epsilon(checkpoints, Y[rng.integers(0, Y.shape[0], Y.shape[0])], eps)
                     for _ in range(n_boot)])
