"""The effective horizon and ``k``-QVI-solvability: definitions, and Theorem 5.4's sample count.

Papers. Laidlaw, Russell & Dragan, *Bridging RL Theory and Practice with the Effective Horizon*,
NeurIPS 2023, arXiv:2304.09853 (GORP, ``k``-QVI-solvability, the effective planning window, the
effective horizon and its Theorem 5.4 bound); Laidlaw, Zhu, Russell & Dragan, *The Effective Horizon
Explains Deep RL Performance in Stochastic Environments*, ICLR 2024, arXiv:2312.08369 (the same
notions on stochastic MDPs, SQIRL).

Provenance. The papers' full text could not be retrieved for this library (only their abstracts,
summaries and the four ICLR reviews). Everything below follows the authors' public analysis code
(cassidylaidlaw/effective-horizon: ``EffectiveHorizon.jl/src/value_iteration.jl``,
``gorp_bounds.jl``, ``analyze_mdp.jl``, ``analyze_sticky_actions.jl``), which the project's spec
(C2.3, C2.4) digests; it was re-implemented here from that description, not copied. Where the code is
silent for stochastic models (the simple effective-horizon bound is written for deterministic ones)
the generalisation is marked *reconstructed*.

Definitions (steps ``t = 0..H-1`` in code; ``Q_H = 0``):

* ``Q^rand`` (uniform random policy), ``Q*``, ``Q^worst`` by backward induction with the mean, max and
  min over actions; ``V^rand`` is clamped into ``[V^worst, V*]`` (floating-point safety, as the authors do).
* ``k``-step iterates: ``Q^1 = Q^rand`` and ``Q^{k+1}_t(s, a) = R_t(s, a) + E_{s'}[max_a' Q^k_{t+1}(s', a')]``.
  By induction ``Q^k_t = Q*_t`` for ``t >= H - k`` (the last ``k`` steps), bitwise here.
* **min_k** (``k``-QVI-solvability, the first paper's definition; ICLR reviews cite it as Def. 3.1):
  the least ``k`` such that walking forward from the initial states and following **every** action
  that ties for ``argmax_a Q^k_t(s, a)`` (exact ties) never meets an action with
  ``Q*_t(s, a) < V*_t(s) - precision``; ``precision = 1e-4`` in the file's reward units
  (the authors' ``REWARD_PRECISION``; :data:`rltheory.algorithms.effective_horizon_analysis.REWARD_PRECISION`).
  ``min_k <= H`` always.
* **epw** (effective planning window): the same walk starting from ``Q = R`` (``k = 1`` is the
  one-step lookahead), i.e. on ``k``-step optimal lookahead values.
* **greedy_returns[k]** for ``k = 1..5``: the worst case, over tie-breaking, of the return of a policy
  greedy in ``Q^k`` (a backward pass taking the minimum over tied argmax actions).
* **Simple effective horizon** (first paper, Theorem 5.4; authors' ``compute_simple_effective_horizon``):
  variance bounds ``var_1(t, s, a) = (Q^rand - Q^worst)(Q* - Q^worst)``, backed up as
  ``var_{k+1}(t, s, a) = max_{s', a'} var_k(t + 1, s', a')`` (last step unchanged). For ``k = 1, 2, ...``
  while ``k`` is below the best bound so far (initially ``H``): walk forward from the initial states; at
  each visited ``(t, s)``, ``gap = max_a Q^k - max_{a Q*-suboptimal} Q^k`` (``k`` fails if the two are
  equal), ``var = max_a var_k(t, s, a)`` and ``m = max(1, ceil(16 var / gap^2 ln(2 H A^k)))``; visit
  next the successors of every action with ``Q^k > max`` suboptimal ``Q^k``. If ``k`` works,
  ``H_k = k + log_A max m`` and the effective horizon is ``min_k H_k``. ``m`` is handled in log space
  when ``16 var / gap^2`` overflows (KeyCorridor has gaps near ``1e-10``; the authors use BigInt).
  *Reconstructed for stochastic models:* the successors ``s'`` range over the support of the next-state
  distribution (the authors' code has one successor per action).

Where things are. This module holds the definitions above and the per-state sample count of Theorem 5.4
as short, validated functions (:func:`sample_count`, :func:`log_sample_count`; the effective horizon
``H_k = k + log_A m`` is :func:`rltheory.bounds.sqirl.effective_horizon_k`). Computing the measures
exactly on a model (reachable-state backward passes, the ``k``-step iterates, the forward walks: compiled
kernels with NumPy twins) is an analysis engine, in :mod:`rltheory.algorithms.effective_horizon_analysis`
(:func:`~rltheory.algorithms.effective_horizon_analysis.analyze`).
"""

from __future__ import annotations

import math

import numpy as np

from rltheory.errors import InvalidParameterError
from rltheory.validation import as_float_array, check_int

__all__ = ["SAMPLE_COUNT_CONSTANT", "sample_count", "log_sample_count"]

#: The ``16`` of ``m = 16 var / gap^2 ln(2 H A^k)`` (first paper, Theorem 5.4, via the authors' code).
SAMPLE_COUNT_CONSTANT = 16.0

_LOG_EXACT_LIMIT = 2.0 ** 52  # below this ceil(x) is exact in float64


def _log_term(H: int, A: int, k: int) -> float:
    """``ln(2 H A^k)`` as the authors compute it (``log(2 horizon A^k)``), summed in logs if ``A^k`` overflows."""
    power = float(A) ** k if k * math.log(max(A, 1)) < 690 else math.inf
    return math.log(2.0 * H * power) if math.isfinite(power) else math.log(2.0 * H) + k * math.log(A)


def _check_count_args(var, gap, H, A, k):
    """Validated ``(var, gap, ln(2 H A^k))``: ``var`` finite ``>= 0``, ``gap >= 0`` (``inf`` allowed), ints ``>= 1``."""
    H = check_int(H, "H", low=1)
    A = check_int(A, "A", low=1)
    k = check_int(k, "k", low=1)
    var = as_float_array(var, "var", error=InvalidParameterError)
    gap = as_float_array(gap, "gap", error=InvalidParameterError)
    for name, arr, ok in (("var", var, np.isfinite(var) & (var >= 0)), ("gap", gap, gap >= 0)):
        if not np.all(ok):
            idx = tuple(int(i) for i in np.argwhere(~np.atleast_1d(ok))[0]) if arr.ndim else None
            value = float(arr[idx]) if idx is not None else float(arr)
            what = "finite and >= 0" if name == "var" else ">= 0 (inf: no suboptimal action)"
            raise InvalidParameterError(name, f"must be {what}, got {value!r}", index=idx, value=value)
    return var, gap, _log_term(H, A, k)


def log_sample_count(var, gap, H: int, A: int, k: int):
    """``ln m`` with ``m = max(1, ceil(16 var / gap^2 ln(2 H A^k)))`` (Theorem 5.4's per-state count).

    ``gap = inf`` (no suboptimal action) or ``var <= 0`` give ``m = 1``. Large values are computed in log
    space (the ceiling is then immaterial). Vectorised over ``var`` and ``gap``.

    Raises
    ------
    InvalidParameterError
        ``var`` negative or not finite, ``gap`` negative or NaN, ``H``, ``A`` or ``k`` not an integer ``>= 1``.
    """
    var, gap, L = _check_count_args(var, gap, H, A, k)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        x = SAMPLE_COUNT_CONSTANT * var / (gap * gap) * L
        exact = np.isfinite(x) & (x < _LOG_EXACT_LIMIT)
        small = np.log(np.maximum(1.0, np.ceil(np.where(exact, x, 1.0))))
        big = math.log(SAMPLE_COUNT_CONSTANT) + np.log(np.maximum(var, 1e-300)) - 2 * np.log(gap) + math.log(L)
        out = np.where(exact, small, big)
        out = np.where((var <= 0) | ~(gap < np.inf), 0.0, out)
    return out if out.ndim else float(out)


def sample_count(var, gap, H: int, A: int, k: int):
    """``m = max(1, ceil(16 var / gap^2 ln(2 H A^k)))`` as a float: exact below ``2^52``, ``inf`` beyond float range."""
    var, gap, L = _check_count_args(var, gap, H, A, k)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        x = SAMPLE_COUNT_CONSTANT * var / (gap * gap) * L
        exact = np.isfinite(x) & (x < _LOG_EXACT_LIMIT)
        out = np.where(exact, np.maximum(1.0, np.ceil(np.where(exact, x, 1.0))),
                       np.exp(log_sample_count(var, gap, H, A, k)))
        out = np.where((var <= 0) | ~(gap < np.inf), 1.0, out)
    return out if out.ndim else float(out)


