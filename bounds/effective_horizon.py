"""Exact instance-dependent complexity of a tabular MDP: k-QVI-solvability and the effective horizon.

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
  (:data:`REWARD_PRECISION`, the authors' ``REWARD_PRECISION``). ``min_k <= H`` always.
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

Everything is computed only on the states reachable at each step (under any actions), with
compiled kernels (Numba) that each have a NumPy reference twin (``*_reference``), so the sticky
UnlockPickup BRIDGE MDP (97,811 reachable states, ``H = 100``) takes seconds.

Reward units. BRIDGE models are normalised into ``[0, 1]`` by an affine map recorded in
``mdp.meta["reward_map"]`` (:mod:`rltheory.mdps.bridge`): ``precision`` is converted to the model's
units, and :class:`EffectiveHorizonAnalysis` reports values in both units.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numba as nb
import numpy as np

from rltheory.errors import InvalidModelError, InvalidParameterError
from rltheory.models import FiniteHorizonMDP
from rltheory.validation import check_int, check_real

__all__ = [
    "REWARD_PRECISION",
    "GREEDY_MAX_K",
    "EffectiveHorizonAnalysis",
    "ValueFunctions",
    "analyze",
    "value_functions",
    "q_iterates",
    "q_values_from",
    "reachable",
    "reachable_reference",
    "sample_count",
    "log_sample_count",
    "default_precision",
    "MAX_ACTIONS",
]

#: Tolerance for "optimal": ``Q*(s, a) >= V*(s) - 1e-4`` in the file's reward units (authors' code,
#: ``REWARD_PRECISION``; "None of the MDPs should have reward increments of less than 1e-3").
REWARD_PRECISION = 1e-4
#: Greedy returns are computed for ``k = 1..GREEDY_MAX_K`` (authors' ``--max_k`` default, 5).
GREEDY_MAX_K = 5
#: The ``16`` of ``m = 16 var / gap^2 ln(2 H A^k)`` (first paper, Theorem 5.4, via the authors' code).
SAMPLE_COUNT_CONSTANT = 16.0

_MAX, _MEAN, _MIN = 0, 1, 2
_LOG_EXACT_LIMIT = 2.0 ** 52  # below this ceil(x) is exact in float64


# ============================================================================ small formulas


def _log_term(H: int, A: int, k: int) -> float:
    """``ln(2 H A^k)`` as the authors compute it (``log(2 horizon A^k)``), summed in logs if ``A^k`` overflows."""
    power = float(A) ** k if k * math.log(max(A, 1)) < 690 else math.inf
    return math.log(2.0 * H * power) if math.isfinite(power) else math.log(2.0 * H) + k * math.log(A)


def log_sample_count(var, gap, H: int, A: int, k: int):
    """``ln m`` with ``m = max(1, ceil(16 var / gap^2 ln(2 H A^k)))`` (Theorem 5.4's per-state count).

    ``gap = inf`` (no suboptimal action) or ``var <= 0`` give ``m = 1``. Large values are computed in log
    space (the ceiling is then immaterial). Vectorised over ``var`` and ``gap``.
    """
    var = np.asarray(var, dtype=np.float64)
    gap = np.asarray(gap, dtype=np.float64)
    L = _log_term(H, A, k)
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
    var = np.asarray(var, dtype=np.float64)
    gap = np.asarray(gap, dtype=np.float64)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        x = SAMPLE_COUNT_CONSTANT * var / (gap * gap) * _log_term(H, A, k)
        exact = np.isfinite(x) & (x < _LOG_EXACT_LIMIT)
        out = np.where(exact, np.maximum(1.0, np.ceil(np.where(exact, x, 1.0))),
                       np.exp(log_sample_count(var, gap, H, A, k)))
        out = np.where((var <= 0) | ~(gap < np.inf), 1.0, out)
    return out if out.ndim else float(out)


# ============================================================================ compiled kernels
#
# Layouts. Successor tables ``nxt, pr (Hp, S, A, K)`` (``Hp`` in ``{1, H}``), rewards ``R (Hr, S, A)``
# (``Hr`` in ``{1, H}``). Reachable states per step as CSR ``(ptr (H + 1,), idx)`` and as a state-major
# mask ``M (S, H)``. Value arrays are state-major ``(S, H + 1)`` (column ``H`` is 0) except in the one
# backward pass, which is step-major ``(H + 1, S)`` and transposed once. A one-step iteration loops over
# states outermost and over steps innermost (contiguous, vectorisable), and records per ``(s, t)`` what
# the forward walks need, so that the walks read bits instead of recomputing ``Q``:
#
# * ``ties[s, t]``: bit ``a`` set iff ``Q_t(s, a) >= max_b Q_t(s, b)`` (exact argmax ties);
# * ``bsub[s, t]``: ``max`` of ``Q_t(s, a)`` over ``Q*``-suboptimal ``a`` (``-inf`` if none);
# * ``above[s, t]``: bit ``a`` set iff ``Q_t(s, a) > bsub[s, t]``;
# * ``subopt[s, t]`` (fixed): bit ``a`` set iff ``Q*_t(s, a) < V*_t(s) - precision``.
#
# Every ``Q`` is computed the same way everywhere, ``R + (0.0 + p_1 V_1 + p_2 V_2 + ...)`` in successor
# order skipping zero probabilities, so exact ties are seen identically by every kernel and twin.

#: Largest number of actions of :func:`analyze` (action sets are stored as 64-bit masks).
MAX_ACTIONS = 64
#: States per block in the kernels that write step-major summaries.
_BLOCK = 64


@nb.njit(cache=True, error_model="numpy")
def _expect(nxt_row, pr_row, V, t):
    """``sum_j p_j V[n_j, t]`` over successors with ``p_j > 0`` (state-major ``V``), summed in order from 0.0."""
    acc = 0.0
    for j in range(nxt_row.shape[0]):
        p = pr_row[j]
        if p > 0.0:
            acc += p * V[nxt_row[j], t]
    return acc


@nb.njit(cache=True, error_model="numpy")
def reachable(nxt, pr, start, H):
    """States reachable at each step under any actions (compiled).

    Parameters
    ----------
    nxt, pr : ``(Hp, S, A, K)`` successor table and probabilities (``Hp`` in ``{1, H}``).
    start : int64 ``(n0,)`` initial states (the support of ``mu``).
    H : horizon.

    Returns
    -------
    ptr : int64 ``(H + 1,)`` and idx : int64 ``(total,)``: step ``t`` holds ``idx[ptr[t]:ptr[t + 1]]``,
    sorted. Successors with probability 0 do not count.
    """
    Hp, S, A, K = nxt.shape
    mark = np.zeros(S, np.bool_)
    new = np.zeros(S, np.bool_)
    for s in start:
        mark[s] = True
    ptr = np.zeros(H + 1, np.int64)
    idx = np.empty(max(16, S), np.int64)
    n = 0
    for t in range(H):
        hp = t if Hp > 1 else 0
        if n + S > idx.shape[0]:
            bigger = np.empty(max(2 * idx.shape[0], n + S), np.int64)
            bigger[:n] = idx[:n]
            idx = bigger
        for s in range(S):
            if mark[s]:
                idx[n] = s
                n += 1
                if t < H - 1:
                    for a in range(A):
                        for j in range(K):
                            if pr[hp, s, a, j] > 0.0:
                                new[nxt[hp, s, a, j]] = True
        ptr[t + 1] = n
        for s in range(S):
            mark[s] = new[s]
            new[s] = False
    return ptr, idx[:n].copy()


@nb.njit(cache=True, parallel=True, error_model="numpy")
def _values(nxt, pr, R, ptr, idx, Vs, Vr, Vw, W1):
    """Fused backward induction on reachable states, step-major ``(H + 1, S)`` outputs.

    ``Vs = max_a Q*``, ``Vw = min_a Q^worst``, ``Vr = mean_a Q^rand`` clamped into ``[Vw, Vs]``, and
    ``W1 = max(0, max_a (Q^rand - Q^worst)(Q* - Q^worst))`` (Theorem 5.4's variance bound, ``k = 1``).
    """
    Hp = nxt.shape[0]
    Hr = R.shape[0]
    H = ptr.shape[0] - 1
    A = R.shape[2]
    K = nxt.shape[3]
    for t in range(H - 1, -1, -1):
        hp = t if Hp > 1 else 0
        hr = t if Hr > 1 else 0
        for i in nb.prange(ptr[t], ptr[t + 1]):
            s = idx[i]
            best = -np.inf
            worst = np.inf
            acc = 0.0
            w = 0.0
            for a in range(A):
                es = 0.0
                er = 0.0
                ew = 0.0
                for j in range(K):
                    p = pr[hp, s, a, j]
                    if p > 0.0:
                        n = nxt[hp, s, a, j]
                        es += p * Vs[t + 1, n]
                        er += p * Vr[t + 1, n]
                        ew += p * Vw[t + 1, n]
                r = R[hr, s, a]
                qs = r + es
                qr = r + er
                qw = r + ew
                if qs > best:
                    best = qs
                if qw < worst:
                    worst = qw
                acc += qr
                v = (qr - qw) * (qs - qw)
                if v > w:
                    w = v
            vr = acc / A
            if vr > best:
                vr = best
            if vr < worst:
                vr = worst
            Vs[t, s] = best
            Vw[t, s] = worst
            Vr[t, s] = vr
            W1[t, s] = w


@nb.njit(cache=True, error_model="numpy")
def _same_column(nxt, pr, s, h, j):
    """Whether column ``j`` of the successor table is identical for states ``s`` and ``h`` (every action)."""
    for a in range(nxt.shape[2]):
        if nxt[0, s, a, j] != nxt[0, h, a, j] or pr[0, s, a, j] != pr[0, h, a, j]:
            return False
    return True


@nb.njit(cache=True, error_model="numpy")
def _q_all_steps(nxt, pr, R, s, U, t_stop, q, best, prod, held, shared):
    """``q[a, t] = R_t(s, a) + E U[., t + 1]`` and ``best[t] = max_a q[a, t]`` for ``t < t_stop``.

    Stationary models reuse work without changing a bit of the result: the products ``p_j U[n_j, t + 1]`` of
    successor column ``j`` are kept in ``prod[j] (A, H)`` and reused when the next state has the same column
    (``held[j]``: the state they belong to, ``-1`` for none; the caller resets it when ``U`` or ``t_stop``
    change), and computed once when all actions share the column (``shared[j]``). Sticky-action models have
    both: the chosen-action column is the same for every previous action, the repeated-action column the
    same for every chosen action. Sums are still formed in successor order from 0.0.
    """
    Hp = nxt.shape[0]
    Hr = R.shape[0]
    A = R.shape[2]
    K = nxt.shape[3]
    for t in range(t_stop):
        best[t] = -np.inf
    if Hp == 1 and Hr == 1:
        for j in range(K):
            if held[j] >= 0 and _same_column(nxt, pr, s, held[j], j):
                held[j] = s
                continue
            sh = True
            for a in range(1, A):
                if nxt[0, s, a, j] != nxt[0, s, 0, j] or pr[0, s, a, j] != pr[0, s, 0, j]:
                    sh = False
                    break
            shared[j] = sh
            for a in range(1 if sh else A):
                p = pr[0, s, a, j]
                if p > 0.0:
                    n = nxt[0, s, a, j]
                    pj = prod[j, a]
                    for t in range(t_stop):
                        pj[t] = p * U[n, t + 1]
            held[j] = s
        for a in range(A):
            r = R[0, s, a]
            qa = q[a]
            used = 0
            for j in range(K):
                if pr[0, s, a, j] > 0.0:
                    used += 1
            if K <= 2 and used == K:  # fused loops for the common deterministic and sticky cases (same sums)
                p0 = prod[0, 0] if shared[0] else prod[0, a]
                if K == 1:
                    for t in range(t_stop):
                        v = r + p0[t]
                        qa[t] = v
                        best[t] = v if v > best[t] else best[t]
                else:
                    p1 = prod[1, 0] if shared[1] else prod[1, a]
                    for t in range(t_stop):
                        v = r + (p0[t] + p1[t])
                        qa[t] = v
                        best[t] = v if v > best[t] else best[t]
                continue
            for t in range(t_stop):
                qa[t] = 0.0
            for j in range(K):
                if pr[0, s, a, j] > 0.0:
                    pj = prod[j, 0] if shared[j] else prod[j, a]
                    for t in range(t_stop):
                        qa[t] += pj[t]
            for t in range(t_stop):
                qa[t] = r + qa[t]
                if qa[t] > best[t]:
                    best[t] = qa[t]
    else:
        for t in range(t_stop):
            hp = t if Hp > 1 else 0
            hr = t if Hr > 1 else 0
            for a in range(A):
                q[a, t] = R[hr, s, a] + _expect(nxt[hp, s, a], pr[hp, s, a], U, t + 1)
                if q[a, t] > best[t]:
                    best[t] = q[a, t]


@nb.njit(cache=True, error_model="numpy")
def _summaries(q, best, sub, A, t_lo, t_hi, need_ties, need_gap, W_row, tie, abv, gap, ratio):
    """Per-step summaries of ``q (A, H)`` for ``t_lo <= t < t_hi`` (loops over steps innermost).

    ``need_ties``: the ``tie`` masks. ``need_gap``: the ``abv`` masks, ``gap = best - bsub`` and the
    sample-count ratio ``var / gap^2`` with ``var = W_row[t]`` (0 when ``var <= 0`` or ``gap = inf``; -1 marks
    ``gap = 0``, a failed ``k``).
    """
    if need_ties:
        for t in range(t_lo, t_hi):
            tie[t] = 0
        for a in range(A):
            bit = np.uint64(1) << np.uint64(a)
            qa = q[a]
            for t in range(t_lo, t_hi):
                if qa[t] >= best[t]:
                    tie[t] |= bit
    if not need_gap:
        return
    bs = np.empty(t_hi)
    for t in range(t_lo, t_hi):
        bs[t] = -np.inf
        abv[t] = 0
    for a in range(A):
        bit = np.uint64(1) << np.uint64(a)
        qa = q[a]
        for t in range(t_lo, t_hi):
            if sub[t] & bit:
                if qa[t] > bs[t]:
                    bs[t] = qa[t]
    for a in range(A):
        bit = np.uint64(1) << np.uint64(a)
        qa = q[a]
        for t in range(t_lo, t_hi):
            if qa[t] > bs[t]:
                abv[t] |= bit
    for t in range(t_lo, t_hi):
        g = best[t] - bs[t]
        gap[t] = g
        v = W_row[t]
        if g <= 0.0:
            ratio[t] = -1.0
        elif v <= 0.0 or g == np.inf:
            ratio[t] = 0.0
        else:
            ratio[t] = v / (g * g)


@nb.njit(cache=True, error_model="numpy")
def _block_scratch(K, A, H):
    """Per-block scratch of the kernels that sweep ``_BLOCK`` states at all steps: ``q (A, H)``, ``best (H,)``,
    ``prod (K, A, H)``, ``held (K,) = -1``, ``shared (K,)`` (:func:`_q_all_steps`) and the block's zeroed
    step summaries ``ties, above (_BLOCK, H)`` uint64 masks and ``gap (_BLOCK, H)``."""
    return (np.empty((A, H)), np.empty(H), np.empty((K, A, H)), np.full(K, -1, np.int64), np.zeros(K, np.bool_),
            np.zeros((_BLOCK, H), np.uint64), np.zeros((_BLOCK, H), np.uint64), np.zeros((_BLOCK, H)))


@nb.njit(cache=True, parallel=True, error_model="numpy")
def _star_summaries(nxt, pr, R, M, Vs, precision, subopt, ties, gap, above):
    """``subopt[s, t]`` bits (``Q*_t(s, a) < V*_t(s) - precision``, state-major) and the step-major
    summaries of ``Q*`` itself: ``ties``, ``above`` masks and ``gap = V* - bsub`` ``(H, S)``."""
    S, H = M.shape
    A = R.shape[2]
    nblocks = (S + _BLOCK - 1) // _BLOCK
    for blk in nb.prange(nblocks):
        s0 = blk * _BLOCK
        s1 = min(S, s0 + _BLOCK)
        q, best, prod, held, shared, tl, al, gl = _block_scratch(nxt.shape[3], A, H)
        rl = np.zeros(H)  # unused ratios (no variance bound here)
        for s in range(s0, s1):
            _q_all_steps(nxt, pr, R, s, Vs, H, q, best, prod, held, shared)
            for t in range(H):
                sub = np.uint64(0)
                if M[s, t]:
                    for a in range(A):
                        if q[a, t] < Vs[s, t] - precision:
                            sub |= np.uint64(1) << np.uint64(a)
                subopt[s, t] = sub
            _summaries(q, best, subopt[s], A, 0, H, True, True, rl, tl[s - s0], al[s - s0], gl[s - s0], rl)
        for t in range(H):
            for s in range(s0, s1):
                ties[t, s] = tl[s - s0, t]
                above[t, s] = al[s - s0, t]
                gap[t, s] = gl[s - s0, t]


@nb.njit(cache=True, parallel=True, error_model="numpy")
def _iterate(nxt, pr, R, M, U, Vs, subopt, ties_star, gap_star, above_star, t_stop, W, need_ties, need_gap,
             U_out, ties, gap, above, ratio):
    """One Q-value-iteration step at every step at once, with the walk summaries of the new ``Q``.

    ``Q_t(s, a) = R_t(s, a) + E U[s', t + 1]``; ``U_out[s, t] = max_a Q_t(s, a)`` (state-major) where
    ``M[s, t]`` and ``t < t_stop``, ``V*`` for ``t >= t_stop`` (the caller passes ``t_stop = H - k`` when
    producing ``U^k``, whose last ``k`` steps equal ``V*`` bitwise). Step-major ``(H, S)`` summaries of
    ``Q`` (``Q*``'s for ``t >= t_stop``): with ``need_ties`` the ``ties`` masks; with ``need_gap`` the
    ``above`` masks, ``gap = max Q - bsub`` (0 when the best action value is tied with a suboptimal one,
    ``inf`` when no action is suboptimal) and ``ratio = W / gap^2`` with the variance bound ``W[s, t]``
    (see :func:`_summaries`). Blocks of states are written out step by step: every write is contiguous.
    """
    S, H = M.shape
    A = R.shape[2]
    nblocks = (S + _BLOCK - 1) // _BLOCK
    for blk in nb.prange(nblocks):
        s0 = blk * _BLOCK
        s1 = min(S, s0 + _BLOCK)
        q, best, prod, held, shared, tl, al, gl = _block_scratch(nxt.shape[3], A, H)
        rl = np.zeros((_BLOCK, H))
        for s in range(s0, s1):
            i = s - s0
            _q_all_steps(nxt, pr, R, s, U, t_stop, q, best, prod, held, shared)
            _summaries(q, best, subopt[s], A, 0, t_stop, need_ties, need_gap, W[s], tl[i], al[i], gl[i], rl[i])
            for t in range(t_stop):
                if M[s, t]:
                    U_out[s, t] = best[t]
            for t in range(t_stop, H):
                U_out[s, t] = Vs[s, t]
            U_out[s, H] = 0.0
            if need_gap:
                for t in range(t_stop, H):
                    g = gap_star[t, s]
                    v = W[s, t]
                    rl[i, t] = 0.0 if (v <= 0.0 or g == np.inf) else v / (g * g)
        for t in range(H):
            if t < t_stop:
                if need_ties:
                    for s in range(s0, s1):
                        ties[t, s] = tl[s - s0, t]
                if need_gap:
                    for s in range(s0, s1):
                        above[t, s] = al[s - s0, t]
                        gap[t, s] = gl[s - s0, t]
                        ratio[t, s] = rl[s - s0, t]
            else:
                if need_ties:
                    for s in range(s0, s1):
                        ties[t, s] = ties_star[t, s]
                if need_gap:
                    for s in range(s0, s1):
                        above[t, s] = above_star[t, s]
                        gap[t, s] = gap_star[t, s]
                        ratio[t, s] = rl[s - s0, t]


@nb.njit(cache=True, parallel=True, error_model="numpy")
def _var_step(nxt, pr, M, W, Wbase, W_out):
    """Backed-up variance bounds: ``W_out[s, t] = max(0, max_{a, s'} W[s', t + 1])`` for ``t < H - 1`` where
    ``M[s, t]`` (successors ``s'`` with positive probability), and ``Wbase[s, H - 1]`` at the last step.

    Stationary models take each distinct successor once and reuse the previous state's maximum when its
    successor set is the same (the maximum does not depend on the order).
    """
    Hp = nxt.shape[0]
    S, H = M.shape
    A = nxt.shape[2]
    K = nxt.shape[3]
    nblocks = (S + _BLOCK - 1) // _BLOCK
    for blk in nb.prange(nblocks):
        s0 = blk * _BLOCK
        s1 = min(S, s0 + _BLOCK)
        w = np.zeros(H)
        seen = np.empty(A * K, np.int64)
        prev = np.empty(A * K, np.int64)
        n_prev = -1
        for s in range(s0, s1):
            if Hp == 1:
                n_seen = 0
                for a in range(A):
                    for j in range(K):
                        if pr[0, s, a, j] > 0.0:
                            n = nxt[0, s, a, j]
                            dup = False
                            for i in range(n_seen):
                                if seen[i] == n:
                                    dup = True
                                    break
                            if not dup:
                                seen[n_seen] = n
                                n_seen += 1
                same = n_seen == n_prev
                if same:
                    for i in range(n_seen):
                        if seen[i] != prev[i]:
                            same = False
                            break
                if not same:
                    for t in range(H):
                        w[t] = 0.0
                    for i in range(n_seen):
                        n = seen[i]
                        for t in range(H - 1):
                            v = W[n, t + 1]
                            w[t] = v if v > w[t] else w[t]
                    for i in range(n_seen):
                        prev[i] = seen[i]
                    n_prev = n_seen
            else:
                for t in range(H):
                    w[t] = 0.0
                for t in range(H - 1):
                    for a in range(A):
                        for j in range(K):
                            if pr[t, s, a, j] > 0.0:
                                v = W[nxt[t, s, a, j], t + 1]
                                if v > w[t]:
                                    w[t] = v
            for t in range(H - 1):
                if M[s, t]:
                    W_out[s, t] = w[t]
            W_out[s, H - 1] = Wbase[s, H - 1]


@nb.njit(cache=True, error_model="numpy")
def _mark(nxt, pr, hp, s, bits, new):
    """Mark the successors (positive probability) of the actions in ``bits``."""
    A = nxt.shape[2]
    K = nxt.shape[3]
    for a in range(A):
        if (bits >> np.uint64(a)) & np.uint64(1):
            for j in range(K):
                if pr[hp, s, a, j] > 0.0:
                    new[nxt[hp, s, a, j]] = True


@nb.njit(cache=True, error_model="numpy")
def _walk_ties(nxt, pr, ties, subopt, start):
    """The k-QVI walk: from ``start``, follow every exact argmax action; False as soon as a visited argmax
    action is ``Q*``-suboptimal. ``ties, subopt`` step-major ``(H, S)`` bit masks; visited sets are
    boolean arrays scanned in state order (contiguous reads)."""
    Hp, S, A, K = nxt.shape
    H = ties.shape[0]
    vis = np.zeros(S, np.bool_)
    new = np.zeros(S, np.bool_)
    for s in start:
        vis[s] = True
    for t in range(H):
        hp = t if Hp > 1 else 0
        for s in range(S):
            if vis[s]:
                if ties[t, s] & subopt[t, s]:
                    return False
                if t < H - 1:
                    _mark(nxt, pr, hp, s, ties[t, s], new)
        vis, new = new, vis
        new[:] = False
    return True


@nb.njit(cache=True, error_model="numpy")
def _log_count(gap, var, L):
    """``ln max(1, ceil(16 var / gap^2 L))``, in log space when large (0 when ``var <= 0`` or ``gap = inf``)."""
    if var <= 0.0 or gap == np.inf:
        return 0.0
    if gap <= 0.0:  # a tie with a suboptimal action: k fails here, no count
        return np.inf
    x = 16.0 * var / (gap * gap) * L
    if x < 4503599627370496.0:  # 2 ** 52: the ceiling is exact
        c = np.ceil(x)
        return np.log(c) if c > 1.0 else 0.0
    return np.log(16.0) + np.log(var) - 2.0 * np.log(gap) + np.log(L)


@nb.njit(cache=True, error_model="numpy")
def _walk_gap(nxt, pr, gap, ratio, above, start):
    """The effective-horizon walk for one ``k`` (module docstring), on step-major ``(H, S)`` summaries.

    Follows the actions in ``above``; ``m`` grows with ``ratio = var / gap^2``. Returns
    ``(works, ratio_max, t_at_max, s_at_max, min_gap)``.
    """
    Hp, S, A, K = nxt.shape
    H = gap.shape[0]
    vis = np.zeros(S, np.bool_)
    new = np.zeros(S, np.bool_)
    for s in start:
        vis[s] = True
    r_max = -1.0
    t_at = -1
    s_at = -1
    min_gap = np.inf
    for t in range(H):
        hp = t if Hp > 1 else 0
        for s in range(S):
            if vis[s]:
                r = ratio[t, s]
                if r < 0.0:
                    return False, 0.0, -1, -1, 0.0
                g = gap[t, s]
                if g < min_gap:
                    min_gap = g
                if r > r_max:
                    r_max = r
                    t_at = t
                    s_at = s
                if t < H - 1:
                    _mark(nxt, pr, hp, s, above[t, s], new)
        vis, new = new, vis
        new[:] = False
    return True, r_max, t_at, s_at, min_gap


@nb.njit(cache=True, error_model="numpy")
def _greedy_worst(nxt, pr, R, ties, start, G):
    """Worst-case return, over tie-breaking, of policies that take only actions in ``ties`` (the greedy ones).

    A forward pass marks the greedy cone; then ``G[t, s] = min`` over tied ``a`` of
    ``R_t(s, a) + E G[t + 1, .]`` backwards on the cone. ``ties (H, S)``; ``G (H + 1, S)`` is scratch.
    Returns ``G[0, start]``.
    """
    Hp, S, A, K = nxt.shape
    Hr = R.shape[0]
    H = ties.shape[0]
    cone = np.zeros((H, S), np.bool_)
    for s in start:
        cone[0, s] = True
    for t in range(H - 1):
        hp = t if Hp > 1 else 0
        for s in range(S):
            if cone[t, s]:
                _mark(nxt, pr, hp, s, ties[t, s], cone[t + 1])
    G[H, :] = 0.0
    for t in range(H - 1, -1, -1):
        hp = t if Hp > 1 else 0
        hr = t if Hr > 1 else 0
        for s in range(S):
            if not cone[t, s]:
                continue
            g = np.inf
            for a in range(A):
                if (ties[t, s] >> np.uint64(a)) & np.uint64(1):
                    acc = 0.0
                    for j in range(K):
                        p = pr[hp, s, a, j]
                        if p > 0.0:
                            acc += p * G[t + 1, nxt[hp, s, a, j]]
                    ga = R[hr, s, a] + acc
                    if ga < g:
                        g = ga
            G[t, s] = g
    out = np.empty(start.shape[0])
    for i in range(start.shape[0]):
        out[i] = G[0, start[i]]
    return out


# ============================================================================ NumPy reference twins


def _q_reference(nxt, pr, R, t, states, V, col):
    """``Q_t(s, a) = R_t(s, a) + E V[s', col]`` for ``states``, ``(n, A)``; ``V`` state-major."""
    hp = t if nxt.shape[0] > 1 else 0
    hr = t if R.shape[0] > 1 else 0
    nx, p = nxt[hp, states], pr[hp, states]
    acc = np.zeros(nx.shape[:-1])
    for j in range(nx.shape[-1]):
        acc = acc + np.where(p[..., j] > 0, p[..., j] * V[nx[..., j], col], 0.0)
    return R[hr, states] + acc


def _bits(mask2d):
    """Pack a boolean ``(n, A)`` array into uint64 masks ``(n,)``."""
    weights = np.left_shift(np.uint64(1), np.arange(mask2d.shape[1], dtype=np.uint64))
    return (mask2d.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64) if mask2d.size else \
        np.zeros(mask2d.shape[0], np.uint64)


def _unbits(bits, A):
    return ((bits[:, None] >> np.arange(A, dtype=np.uint64)) & np.uint64(1)).astype(bool)


def reachable_reference(nxt, pr, start, H):
    """NumPy twin of :func:`reachable`: ``(ptr, idx)``."""
    Hp = nxt.shape[0]
    cur = np.unique(np.asarray(start, dtype=np.int64))
    blocks = [cur]
    for t in range(H - 1):
        hp = t if Hp > 1 else 0
        n, p = nxt[hp, cur], pr[hp, cur]
        cur = np.unique(n[p > 0])
        blocks.append(cur)
    ptr = np.concatenate([[0], np.cumsum([b.size for b in blocks])]).astype(np.int64)
    return ptr, np.concatenate(blocks).astype(np.int64)


def _values_reference(nxt, pr, R, ptr, idx, Vs, Vr, Vw, W1):
    """Twin of :func:`_values` (step-major outputs)."""
    H = ptr.shape[0] - 1
    for t in range(H - 1, -1, -1):
        st = idx[ptr[t]:ptr[t + 1]]
        qs = _q_reference(nxt, pr, R, t, st, Vs.T, t + 1)
        qr = _q_reference(nxt, pr, R, t, st, Vr.T, t + 1)
        qw = _q_reference(nxt, pr, R, t, st, Vw.T, t + 1)
        Vs[t, st] = qs.max(axis=1)
        Vw[t, st] = qw.min(axis=1)
        acc = np.zeros(st.size)
        for a in range(qr.shape[1]):  # in order, as the kernel sums
            acc = acc + qr[:, a]
        Vr[t, st] = np.maximum(np.minimum(acc / qr.shape[1], Vs[t, st]), Vw[t, st])
        W1[t, st] = np.maximum(0.0, ((qr - qw) * (qs - qw)).max(axis=1))


def _summaries_reference(Q, subopt_bits):
    """``(best, ties, gap, above)`` of ``Q (n, A)`` given ``subopt`` masks ``(n,)``."""
    sub = _unbits(subopt_bits, Q.shape[1])
    best = Q.max(axis=1)
    bsub = np.where(sub, Q, -np.inf).max(axis=1)
    return best, _bits(Q >= best[:, None]), best - bsub, _bits(Q > bsub[:, None])


def _ratio_reference(gap, var):
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where((var <= 0) | (gap == np.inf), 0.0, var / (gap * gap))
    return np.where(gap <= 0, -1.0, r)


def _star_summaries_reference(nxt, pr, R, M, Vs, precision, subopt, ties, gap, above):
    """Twin of :func:`_star_summaries`."""
    S, H = M.shape
    for t in range(H):
        st = np.flatnonzero(M[:, t])
        Q = _q_reference(nxt, pr, R, t, st, Vs, t + 1)
        subopt[:, t] = 0
        subopt[st, t] = _bits(Q < Vs[st, t][:, None] - precision)
        _, ties[t, st], gap[t, st], above[t, st] = _summaries_reference(Q, subopt[st, t])


def _iterate_reference(nxt, pr, R, M, U, Vs, subopt, ties_star, gap_star, above_star, t_stop, W, need_ties,
                       need_gap, U_out, ties, gap, above, ratio):
    """Twin of :func:`_iterate`."""
    S, H = M.shape
    U_out[:, H] = 0.0
    for t in range(H):
        st = np.flatnonzero(M[:, t])
        if t >= t_stop:
            U_out[:, t] = Vs[:, t]
            t_, g_, a_ = ties_star[t, st], gap_star[t, st], above_star[t, st]
            r_ = np.maximum(_ratio_reference(g_, W[st, t]), 0.0)
        else:
            Q = _q_reference(nxt, pr, R, t, st, U, t + 1)
            U_out[st, t], t_, g_, a_ = _summaries_reference(Q, subopt[st, t])
            r_ = _ratio_reference(g_, W[st, t])
        if need_ties:
            ties[t, st] = t_
        if need_gap:
            gap[t, st], above[t, st], ratio[t, st] = g_, a_, r_


def _var_step_reference(nxt, pr, M, W, Wbase, W_out):
    """Twin of :func:`_var_step`."""
    S, H = M.shape
    for t in range(H - 1):
        hp = t if nxt.shape[0] > 1 else 0
        st = np.flatnonzero(M[:, t])
        nx, p = nxt[hp, st], pr[hp, st]
        vals = np.where(p > 0, W[nx, t + 1], 0.0).reshape(st.size, -1)
        W_out[st, t] = np.maximum(0.0, vals.max(axis=1)) if st.size else 0.0
    W_out[:, H - 1] = Wbase[:, H - 1]


def _follow_reference(nxt, pr, t, cur, bits):
    hp = t if nxt.shape[0] > 1 else 0
    rows, acts = np.nonzero(_unbits(bits, nxt.shape[2]))
    n, p = nxt[hp, cur[rows], acts], pr[hp, cur[rows], acts]
    return np.unique(n[p > 0])


def _walk_ties_reference(nxt, pr, ties, subopt, start):
    """Twin of :func:`_walk_ties`."""
    H = ties.shape[0]
    cur = np.unique(start)
    for t in range(H):
        if (ties[t, cur] & subopt[t, cur]).any():
            return False
        cur = _follow_reference(nxt, pr, t, cur, ties[t, cur])
    return True


def _walk_gap_reference(nxt, pr, gap, ratio, above, start):
    """Twin of :func:`_walk_gap`."""
    H = gap.shape[0]
    cur = np.unique(start)
    r_max, t_at, s_at, min_gap = -1.0, -1, -1, np.inf
    for t in range(H):
        r = ratio[t, cur]
        if (r < 0.0).any():
            return False, 0.0, -1, -1, 0.0
        min_gap = min(min_gap, float(gap[t, cur].min()))
        j = int(np.argmax(r))  # first maximum in state order, as the kernel scans
        if r[j] > r_max:
            r_max, t_at, s_at = float(r[j]), t, int(cur[j])
        cur = _follow_reference(nxt, pr, t, cur, above[t, cur])
    return True, r_max, t_at, s_at, min_gap


def _greedy_worst_reference(nxt, pr, R, ties, start, G):
    """Twin of :func:`_greedy_worst`."""
    H = ties.shape[0]
    cone = [np.unique(start)]
    for t in range(H - 1):
        cone.append(_follow_reference(nxt, pr, t, cone[-1], ties[t, cone[-1]]))
    G[H, :] = 0.0
    for t in range(H - 1, -1, -1):
        cur = cone[t]
        Gq = _q_reference(nxt, pr, R, t, cur, G.T, t + 1)
        G[t, cur] = np.where(_unbits(ties[t, cur], nxt.shape[2]), Gq, np.inf).min(axis=1)
    return G[0, np.asarray(start)].copy()


_KERNELS = {
    "numba": dict(reachable=reachable, values=_values, star=_star_summaries, iterate=_iterate, var_step=_var_step,
                  walk_ties=_walk_ties, walk_gap=_walk_gap, greedy_worst=_greedy_worst),
    "numpy": dict(reachable=reachable_reference, values=_values_reference, star=_star_summaries_reference,
                  iterate=_iterate_reference, var_step=_var_step_reference, walk_ties=_walk_ties_reference,
                  walk_gap=_walk_gap_reference, greedy_worst=_greedy_worst_reference),
}


# ============================================================================ public API


@dataclasses.dataclass(frozen=True)
class ValueFunctions:
    """Values of the optimal, uniformly random and worst policies, each ``(H + 1, S)``.

    Entries of states unreachable at a step are NaN unless computed on all states.
    """

    v_star: np.ndarray
    v_random: np.ndarray
    v_worst: np.ndarray


@dataclasses.dataclass(frozen=True)
class EffectiveHorizonAnalysis:
    """Result of :func:`analyze`. Values are expectations under ``mu`` at step 0.

    Attributes
    ----------
    name, horizon, num_actions, num_states : the model.
    n_reachable : distinct states reachable at some step ``0..H-1`` (aliases merged).
    min_k : least ``k`` for which the MDP is ``k``-QVI-solvable (``<= H``).
    epw : effective planning window.
    effective_horizon : Theorem 5.4's simple bound ``min_k H_k`` (``H`` if no ``k < H`` works).
    v_star, v_random, v_worst : optimal, uniform-random and worst values (model units).
    v_star_original, v_random_original, v_worst_original : the same in the file's reward units
        (equal to the above without a ``reward_map``).
    greedy_returns : ``(GREEDY_MAX_K,)`` worst-case return of ``Q^k``-greedy policies, ``k = 1..5`` (model units).
    greedy_returns_original : the same in file units.
    ks : int ``(n,)`` the ``k`` tried by the effective-horizon loop that work; ``horizons_k (n,)`` their
        ``H_k``; ``log_ms (n,)`` ``ln m_k``; ``gaps (n,)``, ``variances (n,)`` at the state with the
        largest ``m``; ``min_gaps (n,)`` the smallest gap over the walk.
    precision : optimality tolerance used (model units).
    seconds : wall time of the analysis.
    """

    name: str
    horizon: int
    num_actions: int
    num_states: int
    n_reachable: int
    min_k: int
    epw: int
    effective_horizon: float
    v_star: float
    v_random: float
    v_worst: float
    v_star_original: float
    v_random_original: float
    v_worst_original: float
    greedy_returns: np.ndarray
    greedy_returns_original: np.ndarray
    ks: np.ndarray
    horizons_k: np.ndarray
    log_ms: np.ndarray
    gaps: np.ndarray
    variances: np.ndarray
    min_gaps: np.ndarray
    precision: float
    seconds: float

    def horizon_k(self, k: int) -> float:
        """``H_k`` for a ``k`` that works (``inf`` otherwise)."""
        hit = np.flatnonzero(self.ks == k)
        return float(self.horizons_k[hit[0]]) if hit.size else math.inf

    def best_k(self) -> int:
        """The ``k`` achieving the effective horizon (``min_k`` when no ``k < H`` works)."""
        if self.ks.size == 0:
            return self.min_k
        return int(self.ks[int(np.argmin(self.horizons_k))])

    def row(self) -> dict:
        """The headline numbers as a flat dict (file units), for tables and JSON."""
        return {"mdp": self.name, "H": self.horizon, "A": self.num_actions, "reachable states": self.n_reachable,
                "min_k": self.min_k, "epw": self.epw, "effective horizon": self.effective_horizon,
                "V*": self.v_star_original, "V random": self.v_random_original, "V worst": self.v_worst_original,
                "seconds": self.seconds}


def default_precision(mdp: FiniteHorizonMDP) -> float:
    """:data:`REWARD_PRECISION` in the model's units (divided by the BRIDGE reward map's scale)."""
    rmap = mdp.meta.get("reward_map") or {}
    return REWARD_PRECISION / float(rmap.get("scale", 1.0))


def _arrays(mdp):
    """``(nxt, pr, R, start)`` with ``R`` collapsed to ``(1, S, A)`` when it does not depend on the step."""
    if not isinstance(mdp, FiniteHorizonMDP):
        raise InvalidModelError("mdp", f"must be a FiniteHorizonMDP, got {type(mdp).__name__}",
                                value=type(mdp).__name__)
    nxt, pr = mdp.successors
    R = mdp.R
    if (R == R[:1]).all():
        R = R[:1]
    start = np.flatnonzero(mdp.mu > 0).astype(np.int64)
    return nxt, pr, np.ascontiguousarray(R), start


def _kernels(backend):
    if backend is None:
        backend = "numba"
    if backend not in _KERNELS:
        raise InvalidParameterError("backend", f"must be one of {tuple(_KERNELS)} or None, got {backend!r}",
                                    value=backend)
    return _KERNELS[backend]


def _all_states(S, H):
    return np.arange(H + 1, dtype=np.int64) * S, np.tile(np.arange(S, dtype=np.int64), H)


def _mask(ptr, idx, S):
    """State-major reachability mask ``(S, H)`` from the CSR lists."""
    H = ptr.shape[0] - 1
    M = np.zeros((S, H), np.bool_)
    M[idx, np.repeat(np.arange(H), np.diff(ptr))] = True
    return M


def _state_major(V):
    return np.ascontiguousarray(V.T)


def _value_arrays(kern, nxt, pr, R, ptr, idx, H, S):
    """``Vs, Vr, Vw, W1`` state-major ``(S, H + 1)`` (0 where unreachable: every array stays finite)."""
    Vs, Vr, Vw, W1 = (np.zeros((H + 1, S)) for _ in range(4))
    kern["values"](nxt, pr, R, ptr, idx, Vs, Vr, Vw, W1)
    return tuple(_state_major(V) for V in (Vs, Vr, Vw, W1))


def value_functions(mdp: FiniteHorizonMDP, *, reachable_only: bool = False, backend=None) -> ValueFunctions:
    """``V*``, ``V^rand`` (clamped into ``[V^worst, V*]``) and ``V^worst``, each ``(H + 1, S)`` (step-major).

    ``reachable_only=True`` computes them only where a state is reachable at a step (NaN elsewhere).
    """
    kern = _kernels(backend)
    nxt, pr, R, start = _arrays(mdp)
    H, S = mdp.H, mdp.S
    ptr, idx = kern["reachable"](nxt, pr, start, H) if reachable_only else _all_states(S, H)
    out = [V.T.copy() for V in _value_arrays(kern, nxt, pr, R, ptr, idx, H, S)[:3]]
    if reachable_only:
        unreachable = ~_mask(ptr, idx, S).T
        for V in out:
            V[:H][unreachable] = np.nan
    return ValueFunctions(*out)


def q_values_from(mdp: FiniteHorizonMDP, V: np.ndarray) -> np.ndarray:
    """``Q_t(s, a) = R_t(s, a) + E V[t + 1, s']`` on all states, ``(H, S, A)``, for step-major ``V (H + 1, S)``."""
    nxt, pr, R, _ = _arrays(mdp)
    Vsm = _state_major(np.asarray(V, dtype=np.float64))
    states = np.arange(mdp.S)
    return np.stack([_q_reference(nxt, pr, R, t, states, Vsm, t + 1) for t in range(mdp.H)])


def q_iterates(mdp: FiniteHorizonMDP, k_max: int, *, start: str = "random") -> np.ndarray:
    """The iterates ``Q^1..Q^{k_max}`` on all states, ``(k_max, H, S, A)`` (dense NumPy: small models only).

    ``start="random"``: ``Q^1 = Q^rand`` (the ``k``-QVI iterates); ``start="rewards"``: ``Q^1 = R`` (the
    effective-planning-window iterates, i.e. ``k``-step lookahead values). Computed on every step with no
    shortcut, so ``Q^k_t = Q*_t`` for ``t >= H - k`` is a checkable fact, not an assumption.
    """
    k_max = check_int(k_max, "k_max", low=1)
    if start not in ("random", "rewards"):
        raise InvalidParameterError("start", f"must be 'random' or 'rewards', got {start!r}", value=start)
    nxt, pr, R, _ = _arrays(mdp)
    H, S = mdp.H, mdp.S
    ptr, idx = _all_states(S, H)
    U = _value_arrays(_KERNELS["numpy"], nxt, pr, R, ptr, idx, H, S)[1] if start == "random" \
        else np.zeros((S, H + 1))
    out = np.empty((k_max, H, S, mdp.A))
    states = np.arange(S)
    for k in range(k_max):
        out[k] = np.stack([_q_reference(nxt, pr, R, t, states, U, t + 1) for t in range(H)])
        U = np.zeros((S, H + 1))
        U[:, :H] = out[k].max(axis=2).T
    return out


def analyze(mdp: FiniteHorizonMDP, *, precision: float | None = None, greedy_max_k: int = GREEDY_MAX_K,
            effective_horizon: bool = True, backend: str | None = None) -> EffectiveHorizonAnalysis:
    """Exact effective-horizon analysis of ``mdp`` (module docstring; spec C2.3 and C2.4).

    Parameters
    ----------
    mdp : FiniteHorizonMDP (dense or sparse, stationary or stage-dependent), at most 64 actions.
    precision : float >= 0, optional
        Optimality tolerance in model units; default :func:`default_precision` (``1e-4`` in file units).
    greedy_max_k : int >= 0
        Greedy returns for ``k = 1..greedy_max_k``.
    effective_horizon : bool
        Compute the simple effective horizon (default). ``False`` computes only what the authors' analysis of
        sticky-action models computes (values, ``min_k``, ``epw``, greedy returns); ``effective_horizon`` is
        then NaN. The effective-horizon loop dominates on large models: it needs every ``k`` below the bound.
    backend : {None, "numba", "numpy"}
        Compiled kernels (default) or their NumPy twins (same numbers, slower).

    Returns
    -------
    EffectiveHorizonAnalysis
    """
    t0 = time.perf_counter()
    kern = _kernels(backend)
    nxt, pr, R, start = _arrays(mdp)
    if mdp.A > MAX_ACTIONS:
        raise InvalidModelError("mdp", f"analyze supports at most {MAX_ACTIONS} actions, got A={mdp.A}", value=mdp.A)
    precision = default_precision(mdp) if precision is None else check_real(precision, "precision", low=0.0)
    greedy_max_k = check_int(greedy_max_k, "greedy_max_k", low=0)
    H, S, A = mdp.H, mdp.S, mdp.A
    w0 = mdp.mu[start]
    ptr, idx = kern["reachable"](nxt, pr, start, H)
    M = _mask(ptr, idx, S)
    Vs, Vr, Vw, W1 = _value_arrays(kern, nxt, pr, R, ptr, idx, H, S)
    subopt, ties_star, above_star = np.zeros((S, H), np.uint64), np.zeros((H, S), np.uint64), \
        np.zeros((H, S), np.uint64)
    gap_star = np.zeros((H, S))
    kern["star"](nxt, pr, R, M, Vs, precision, subopt, ties_star, gap_star, above_star)
    subopt_tm = np.ascontiguousarray(subopt.T)
    star = (subopt, ties_star, gap_star, above_star)
    ties, above = np.zeros((H, S), np.uint64), np.zeros((H, S), np.uint64)
    gap, ratio = np.zeros((H, S)), np.zeros((H, S))

    def at_start(V):
        return float(w0 @ V[start, 0])

    # --- effective planning window: Q^(k) = k-step lookahead values, from U = 0 (so Q^(1) = R)
    U, U_new = np.zeros((S, H + 1)), np.zeros((S, H + 1))
    epw = None
    for k in range(1, H + 1):
        kern["iterate"](nxt, pr, R, M, U, Vs, *star, max(0, H - k), W1, True, False, U_new, ties, gap, above, ratio)
        if kern["walk_ties"](nxt, pr, ties, subopt_tm, start):
            epw = k
            break
        U, U_new = U_new, U

    # --- min_k, greedy returns and the simple effective horizon share the iterates Q^k (Q^1 = Q^rand)
    U = Vr.copy()
    W, W_new, G = W1.copy(), np.zeros((S, H + 1)), np.zeros((H + 1, S))
    min_k = None
    greedy = np.full(greedy_max_k, np.nan)
    eh = float(H) if effective_horizon else 0.0  # eh = 0 switches the effective-horizon loop off
    ks, hks, log_ms, gaps, variances, min_gaps = [], [], [], [], [], []
    logA = math.log(A) if A > 1 else 0.0
    k = 1
    while True:
        need_ties = min_k is None or k <= greedy_max_k
        kern["iterate"](nxt, pr, R, M, U, Vs, *star, max(0, H - k), W, need_ties, k < eh, U_new, ties, gap, above,
                        ratio)
        if min_k is None and kern["walk_ties"](nxt, pr, ties, subopt_tm, start):
            min_k = k
        if k <= greedy_max_k:
            greedy[k - 1] = float(w0 @ kern["greedy_worst"](nxt, pr, R, ties, start, G))
        if k < eh:
            works, r_max, t_at, s_at, min_gap = kern["walk_gap"](nxt, pr, gap, ratio, above, start)
            if works:
                g_at = float(gap[t_at, s_at])
                log_m = _log_count(g_at, float(W[s_at, t_at]), _log_term(H, A, k))
                h_k = k + (log_m / logA if log_m > 0 else 0.0)
                ks.append(k)
                hks.append(h_k)
                log_ms.append(log_m)
                gaps.append(g_at)
                variances.append(float(W[s_at, t_at]))
                min_gaps.append(min_gap)
                eh = min(eh, h_k)
        if min_k is not None and k >= greedy_max_k and k + 1 >= eh:
            break
        if k > 2 * H + greedy_max_k:  # pragma: no cover - min_k <= H because Q^H = Q*
            raise RuntimeError(f"{mdp.name}: no k <= H is QVI-solvable; this contradicts Q^H = Q*")
        if k + 1 < eh:  # the variance bounds are only needed while the effective-horizon loop runs
            kern["var_step"](nxt, pr, M, W, W1, W_new)
            W, W_new = W_new, W
        U, U_new = U_new, U
        k += 1

    aliases = mdp.meta.get("state_aliases") or {}
    uniq = np.flatnonzero(M.any(axis=1))
    if aliases:
        uniq = np.unique(np.array([aliases.get(int(s), int(s)) for s in uniq], dtype=np.int64))
    rmap = mdp.meta.get("reward_map") or {}
    scale, offset = float(rmap.get("scale", 1.0)), float(rmap.get("offset", 0.0))

    def orig(v):
        return scale * np.asarray(v) + H * offset

    v_star, v_rand, v_worst = at_start(Vs), at_start(Vr), at_start(Vw)
    return EffectiveHorizonAnalysis(
        name=mdp.name, horizon=H, num_actions=A, num_states=S, n_reachable=int(uniq.size), min_k=int(min_k),
        epw=int(epw), effective_horizon=float(eh) if effective_horizon else math.nan, v_star=v_star,
        v_random=v_rand, v_worst=v_worst,
        v_star_original=float(orig(v_star)), v_random_original=float(orig(v_rand)),
        v_worst_original=float(orig(v_worst)), greedy_returns=greedy, greedy_returns_original=orig(greedy),
        ks=np.array(ks, dtype=np.int64), horizons_k=np.array(hks), log_ms=np.array(log_ms), gaps=np.array(gaps),
        variances=np.array(variances), min_gaps=np.array(min_gaps), precision=float(precision),
        seconds=time.perf_counter() - t0)
