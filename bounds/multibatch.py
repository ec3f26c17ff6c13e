"""Bounds for the multi-batch policy-evaluation test-bed: what is the papers', what is ours.

Papers
------
* **Zanette (2021)**, "Exponential lower bounds for batch RL: batch RL can be exponentially harder
  than online RL", ICML 2021, arXiv:2012.08005 (**paper**, K = 1). The hard instance hides the sign
  of ``theta*`` along a unit direction ``u``; only queries in the double cap ``|x . u| > gamma``,
  a fraction ``1 / N(gamma, d)`` of the sphere, reveal it, with
  ``N(gamma, d) = 1 / I_{1 - gamma^2}((d - 1)/2, 1/2)`` and
  ``N >= gamma sqrt(d) (1 / (2 (1 - gamma)))^((d - 1)/2)``. We read the theorems' statements
  second-hand (the digest's provenance table); the cap formula is as reproduced there.
* **Johnson, Pike-Burke & Rebeschini (2024)**, "Sample-efficiency in multi-batch reinforcement
  learning: the need for dimension-dependent adaptivity", ICLR 2024, arXiv:2310.01616 (**paper**):
  any sample-efficient K-batch algorithm for PE / BPI under d-dimensional linear function
  approximation needs ``K = Omega(log log d)`` batches (exact feedback, ``gamma >= sqrt(3/4)``).
  Its body was not retrievable (only the abstract and the start of Sec. 1), so **no function here
  implements the paper's bound**: it has unknown constants and is only stated, in text.

Ours (unreviewed; not the paper's result, and not an improvement on it)
-----------------------------------------------------------------------
* :func:`p_sector`: for a fixed unit ``x`` and a uniform ``m``-dimensional subspace ``U`` of
  ``R^D``, ``||P_U x||^2 ~ Beta(m/2, (D - m)/2)``, so
  ``p(D, m, gamma) = P(||P_U x|| > gamma) = I_{1 - gamma^2}((D - m)/2, m/2)``.
  ``p(D, 1, gamma) = 1 / N(gamma, D)``.
* :func:`union_bound`: on the nested-sector instance ``NS`` (``rltheory.mdps.multibatch``) with
  dims ``d = m_0 > m_1 > ... > m_L = 1``, a K-batch learner with ``n`` one-step policy-free queries
  (``K <= L``) succeeds at ``epsilon = 1`` with probability at most
  ``1/2 + 1/2 * n * max_{k <= K} p(m_{k-1}, m_k, gamma)`` (a union bound per level, with the
  learner's worst split of ``n``: digest addendum Sec. 4.4). It covers one-step queries only.
* :func:`adversary_survival` / :func:`K_safe`: the chain rule and the DP over dims; the adversary
  survives ``K`` batches when some chain has ``n * max_k p_k <= 1/2`` over its first ``K`` levels,
  i.e. the union bound is ``<= 3/4`` and no learner is ``(1, 1/4)``-sound.
* :func:`K_UB`: ``floor(ln d / (2 ln(1/gamma))) + 1`` batches of the rollout learner give exact PE
  on deterministic instances (``gamma^K sqrt(d) < 1`` makes ``I - gamma^K X_K`` invertible).

These behave like ``log d`` in ``d`` (digest addendum Sec. 3), which looks stronger than the paper's
``log log d``; it is our unreviewed derivation for one-step queries on our instance only.

All functions validate their arguments (``gamma`` in ``(0, 1)``, integer dims) and raise
:class:`~rltheory.errors.InvalidParameterError` naming the argument.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.special import betainc, betaln

from rltheory.errors import InvalidParameterError
from rltheory.validation import check_int, check_real

__all__ = [
    "log_betainc",
    "N_cap",
    "log_N_cap",
    "N_cap_lower",
    "log_N_cap_lower",
    "p_sector",
    "log_p_sector",
    "p_sector_monte_carlo",
    "check_dims",
    "greedy_chain",
    "union_bound",
    "union_bound_split",
    "adversary_levels",
    "adversary_survival",
    "K_safe",
    "K_UB",
    "wilson_interval",
]

#: Below this, ``betainc`` is replaced by the log-space series of :func:`log_betainc`.
_TINY = 1e-280


def _gamma(gamma) -> float:
    return check_real(gamma, "gamma", low=0.0, high=1.0, low_open=True, high_open=True)


def log_betainc(a: float, b: float, x: float) -> float:
    """``ln I_x(a, b)`` (regularised incomplete beta), accurate where ``I`` underflows.

    Uses ``scipy.special.betainc`` when ``I > 1e-280``; otherwise the hypergeometric form
    ``I_x(a, b) = x^a (1 - x)^b / (a B(a, b)) * 2F1(a + b, 1; a + 1; x)`` (DLMF 8.17.8), whose series
    ``sum_k prod_{j<k} x (a + b + j) / (a + 1 + j)`` is summed in floating point (its terms shrink
    geometrically once ``x (a + b + k) < a + 1 + k``, which holds from ``k = 0`` deep in the lower
    tail, the only place ``I`` underflows).
    """
    if not (a > 0 and b > 0 and 0 <= x <= 1):
        raise InvalidParameterError("a, b, x", f"need a > 0, b > 0, 0 <= x <= 1; got {(a, b, x)!r}",
                                    value=(a, b, x))
    if x == 0:
        return -math.inf
    value = float(betainc(a, b, x))
    if value > _TINY:
        return math.log(value)
    log_pref = a * math.log(x) + b * math.log1p(-x) - math.log(a) - float(betaln(a, b))
    total, term, k = 1.0, 1.0, 0
    while k < 1_000_000:
        term *= x * (a + b + k) / (a + 1 + k)
        total += term
        k += 1
        if term < 1e-17 * total:
            break
    return log_pref + math.log(total)


def N_cap(gamma: float, d: int) -> float:
    """Zanette's ``N(gamma, d) = 1 / I_{1 - gamma^2}((d - 1)/2, 1/2)`` (**paper**, K = 1).

    The inverse of the fraction of the unit sphere in the double cap ``|x . u| > gamma``. Returns
    ``inf`` where it exceeds the double range; use :func:`log_N_cap` there.
    N(0.9, 5) = 68.97, N(0.9, 20) = 3.58e7, N(0.99, 50) = 4.16e42.
    """
    gamma = _gamma(gamma)
    d = check_int(d, "d", low=2)
    frac = float(betainc((d - 1) / 2.0, 0.5, 1.0 - gamma * gamma))
    return 1.0 / frac if frac > 1e-307 else math.inf


def log_N_cap(gamma: float, d: int) -> float:
    """``ln N(gamma, d)``, in log space for any ``d >= 2`` (e.g. ``d = 2**40``)."""
    gamma = _gamma(gamma)
    d = check_int(d, "d", low=2)
    return -log_betainc((d - 1) / 2.0, 0.5, 1.0 - gamma * gamma)


def log_N_cap_lower(gamma: float, d: int) -> float:
    """``ln(gamma sqrt(d) (1 / (2 (1 - gamma)))^((d - 1)/2))``: the closed-form lower bound on ``ln N``."""
    gamma = _gamma(gamma)
    d = check_int(d, "d", low=2)
    return math.log(gamma) + 0.5 * math.log(d) - 0.5 * (d - 1) * math.log(2.0 * (1.0 - gamma))


def N_cap_lower(gamma: float, d: int) -> float:
    """Closed-form lower bound ``gamma sqrt(d) (1 / (2 (1 - gamma)))^((d - 1)/2) <= N(gamma, d)`` (**paper**)."""
    v = log_N_cap_lower(gamma, d)
    return math.exp(v) if v <= 709.7 else math.inf


def _check_pair(D, m) -> tuple[int, int]:
    D = check_int(D, "D", low=2)
    m = check_int(m, "m", low=1, high=D - 1)
    return D, m


def log_p_sector(D: int, m: int, gamma: float) -> float:
    """``ln p(D, m, gamma)`` (**ours**), see :func:`p_sector`."""
    D, m = _check_pair(D, m)
    gamma = _gamma(gamma)
    return log_betainc((D - m) / 2.0, m / 2.0, 1.0 - gamma * gamma)


def p_sector(D: int, m: int, gamma: float) -> float:
    """``p(D, m, gamma) = I_{1 - gamma^2}((D - m)/2, m/2)`` (**ours**).

    The probability that a fixed unit vector keeps more than ``gamma`` of its norm when projected
    on a uniformly random ``m``-dimensional subspace of ``R^D`` (an upper bound for ``||x|| < 1``).
    p(10, 4, 0.9) = 0.02353; ``p(D, 1, gamma) = 1 / N(gamma, D)``.
    """
    return math.exp(log_p_sector(D, m, gamma))


def p_sector_monte_carlo(D: int, m: int, gamma: float, samples: int, rng: np.random.Generator
                         ) -> tuple[float, float]:
    """Monte Carlo estimate of :func:`p_sector` and its standard error: ``samples`` uniform frames.

    Each sample draws an ``m``-frame of ``R^D`` by QR of a Gaussian matrix and projects the fixed
    unit vector ``e_1`` on it (independent of the Beta-law derivation).
    """
    D, m = _check_pair(D, m)
    gamma = _gamma(gamma)
    samples = check_int(samples, "samples", low=2)
    hits = 0
    for start in range(0, samples, 4096):
        s = min(4096, samples - start)
        Q, _ = np.linalg.qr(rng.standard_normal((s, D, m)))
        hits += int((np.linalg.norm(Q[:, 0, :], axis=1) > gamma).sum())
    p = hits / samples
    return p, math.sqrt(max(p * (1 - p), 1.0 / samples) / samples)


def check_dims(dims: Sequence[int], d: int | None = None) -> tuple[int, ...]:
    """``dims`` must be integers strictly decreasing from ``d`` (if given) to 1; returns a tuple."""
    try:
        dims = tuple(dims)
    except TypeError:
        raise InvalidParameterError("dims", f"must be a sequence of integers, got {dims!r}", value=dims) from None
    if len(dims) < 2:
        raise InvalidParameterError("dims", f"needs at least two entries (d, ..., 1), got {dims!r}", value=dims)
    out = []
    for i, m in enumerate(dims):
        if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 1:
            raise InvalidParameterError("dims", f"entries must be integers >= 1, got {m!r}", index=(i,), value=m)
        if i and m >= out[-1]:
            raise InvalidParameterError("dims", f"must be strictly decreasing, got {m} after {out[-1]}",
                                        index=(i,), value=int(m))
        out.append(int(m))
    if out[-1] != 1:
        raise InvalidParameterError("dims", f"must end at 1, got {out[-1]}", index=(len(out) - 1,), value=out[-1])
    if out[0] < 2:
        raise InvalidParameterError("dims", f"must start at d >= 2, got {out[0]}", index=(0,), value=out[0])
    if d is not None and out[0] != d:
        raise InvalidParameterError("dims", f"must start at d={d}, got {out[0]}", index=(0,), value=out[0])
    return tuple(out)


def _largest_admissible(D: int, gamma: float, log_threshold: float) -> int:
    """Largest ``m`` in ``[1, D - 1]`` with ``ln p(D, m) <= log_threshold``; 0 if none (p rises with m)."""
    a = 1.0 - gamma * gamma

    def ok(m: int) -> bool:
        return log_betainc((D - m) / 2.0, m / 2.0, a) <= log_threshold

    if not ok(1):
        return 0
    lo, hi = 1, D - 1  # ok(lo) holds
    if ok(hi):
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


def greedy_chain(d: int, gamma: float, n_design: int) -> tuple[int, ...]:
    """The addendum's chain rule (**ours**): from ``D`` take the largest next ``m`` with
    ``ln p(D, m, gamma) <= -ln(2 n_design)``; when none exists, the last level is ``m = 1``.

    d = 64, gamma = 0.9, n_design = 4096 gives 64 -> 33 -> 13 -> 2 -> 1.
    """
    d = check_int(d, "d", low=2)
    gamma = _gamma(gamma)
    n_design = check_int(n_design, "n_design", low=1)
    thr = -math.log(2.0 * n_design)
    dims = [d]
    while dims[-1] > 1:
        m = _largest_admissible(dims[-1], gamma, thr)
        dims.append(max(m, 1))
    return tuple(dims)


def union_bound_split(dims: Sequence[int], n_per_batch: Sequence[int], gamma: float) -> float:
    """``min(1, 1/2 + 1/2 sum_k n_k p(m_{k-1}, m_k, gamma))`` for a given split (**ours**; ``K <= L``)."""
    dims = check_dims(dims)
    gamma = _gamma(gamma)
    n_per_batch = [check_int(n, "n_per_batch", low=0) for n in n_per_batch]
    if len(n_per_batch) > len(dims) - 1:
        return 1.0
    s = sum(n * p_sector(dims[k], dims[k + 1], gamma) for k, n in enumerate(n_per_batch))
    return min(1.0, 0.5 + 0.5 * s)


def union_bound(dims: Sequence[int], n: int, gamma: float, K: int) -> float:
    """``min(1, 1/2 + 1/2 n max_{k <= K} p(m_{k-1}, m_k, gamma))`` (**ours**; 1 when ``K > L``).

    The bound on the success probability (``||theta_hat - theta*|| < 1``) of any K-batch learner
    with ``n`` one-step queries in all, whatever its split (digest addendum Sec. 4.4).
    """
    dims = check_dims(dims)
    gamma = _gamma(gamma)
    n = check_int(n, "n", low=1)
    K = check_int(K, "K", low=1)
    if K > len(dims) - 1:
        return 1.0
    pmax = max(p_sector(dims[k], dims[k + 1], gamma) for k in range(K))
    return min(1.0, 0.5 + 0.5 * n * pmax)


def adversary_levels(d: int, n: int, gamma: float) -> int:
    """Most levels ``K`` of a chain from ``d`` with ``n p(m_{k-1}, m_k, gamma) <= 1/2`` at every level,
    by dynamic programming over all dims ``D <= d`` (**ours**). Exact for ``d`` up to a few thousand.

    ``L(1) = 0``; ``L(D) = max over admissible m < D of 1 + L(m)`` (0 if none).
    """
    d = check_int(d, "d", low=2)
    n = check_int(n, "n", low=1)
    gamma = _gamma(gamma)
    thr = -math.log(2.0 * n)
    x = 1.0 - gamma * gamma
    levels = np.zeros(d + 1, dtype=np.int64)
    for D in range(2, d + 1):
        m = np.arange(1, D)
        with np.errstate(divide="ignore"):
            lp = np.log(betainc((D - m) / 2.0, m / 2.0, x))
        ok = lp <= thr
        levels[D] = (1 + levels[1:D][ok]).max() if ok.any() else 0
    return int(levels[d])


def adversary_survival(d: int, K: int, n: int, gamma: float) -> bool:
    """Whether the nested-sector adversary survives ``K`` batches against ``n`` one-step queries (**ours**).

    True when some chain ``d = m_0 > ... > m_K >= 1`` has ``n max_{k<=K} p(m_{k-1}, m_k, gamma) <= 1/2``
    (union bound ``<= 3/4``: no K-batch learner is (1, 1/4)-sound on it). DP over dims
    (:func:`adversary_levels`). d = 64, gamma = 0.9 survives 4 / 3 / 2 batches at n = d / d^2 / d^3.
    """
    K = check_int(K, "K", low=1)
    return adversary_levels(d, n, gamma) >= K


def K_safe(d: int, n: int, gamma: float) -> int:
    """Most batches the adversary survives (**ours**): the greedy chain's level count, valid for any ``d``
    (binary search per level; equals :func:`adversary_levels`, the DP, because admissibility is
    monotone in both dims). Our lower bound on the batches needed is ``K_safe + 1``.
    """
    d = check_int(d, "d", low=2)
    n = check_int(n, "n", low=1)
    gamma = _gamma(gamma)
    thr = -math.log(2.0 * n)
    D, levels = d, 0
    while D > 1:
        m = _largest_admissible(D, gamma, thr)
        if m == 0:
            break
        D, levels = m, levels + 1
    return levels


def K_UB(d: int, gamma: float) -> int:
    """``floor(ln d / (2 ln(1/gamma))) + 1`` (**ours**, digest B4): the rollout learner's batches for exact PE
    on any deterministic instance with features in the unit ball (then ``gamma^K sqrt(d) < 1``)."""
    d = check_int(d, "d", low=1)
    gamma = _gamma(gamma)
    return int(math.floor(math.log(d) / (2.0 * math.log(1.0 / gamma)))) + 1


def wilson_interval(successes, trials, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial rate (arrays broadcast); returns ``(low, high)``."""
    s = np.asarray(successes, dtype=float)
    t = np.asarray(trials, dtype=float)
    if (t < 1).any() or (s < 0).any() or (s > t).any():
        raise InvalidParameterError("successes, trials", "need 0 <= successes <= trials and trials >= 1",
                                    value=(s.tolist(), t.tolist()))
    p = s / t
    denom = 1 + z * z / t
    centre = (p + z * z / (2 * t)) / denom
    half = z * np.sqrt(p * (1 - p) / t + z * z / (4 * t * t)) / denom
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
