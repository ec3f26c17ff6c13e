"""Effective-horizon analysis engine, part 2: the ``k``-step iterates ``Q^k`` and their per-state summaries.

One iteration ``Q^{k+1}_t(s, a) = R_t(s, a) + E max_a' Q^k_{t+1}`` on the reachable states, recording per
``(s, t)`` the bit masks and gaps the forward walks (:mod:`.effective_horizon_walks`) read: ``ties``
(exact argmax), ``above`` (actions above the best ``Q*``-suboptimal one), ``gap`` and ``ratio = var / gap^2``;
plus the backup of Theorem 5.4's variance bounds. Layouts as in :mod:`.effective_horizon_values`.
Compiled kernels with their NumPy twins (``*_reference``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .effective_horizon_values import _expect, _q_reference

#: States per block in the kernels that write step-major summaries.
_BLOCK = 64


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


# ---------------------------------------------------------------------------- NumPy twins


def _bits(mask2d):
    """Pack a boolean ``(n, A)`` array into uint64 masks ``(n,)``."""
    weights = np.left_shift(np.uint64(1), np.arange(mask2d.shape[1], dtype=np.uint64))
    return (mask2d.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64) if mask2d.size else \
        np.zeros(mask2d.shape[0], np.uint64)


def _unbits(bits, A):
    return ((bits[:, None] >> np.arange(A, dtype=np.uint64)) & np.uint64(1)).astype(bool)


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


