"""Effective-horizon analysis engine, part 2: the ``k``-step iterates ``Q^k`` and their per-state summaries.

One iteration ``Q^{k+1}_t(s, a) = R_t(s, a) + E max_a' Q^k_{t+1}`` on the reachable states, recording per
``(t, s)`` the bit masks and gaps the forward walks (:mod:`.effective_horizon_walks`) read: ``ties`` (exact
argmax), ``above`` (actions above the best ``Q*``-suboptimal one) and ``gap = max Q - max suboptimal Q``; the
same summaries of ``Q*`` once (:func:`_star_summaries`); and the lookahead iterates of the effective planning
window of stationary models (:func:`_lookahead`). Layouts as in :mod:`.effective_horizon_values`: ``U`` is
state-major ``(S, H + 1)`` and each state's steps are swept innermost (contiguous rows, vectorised loops);
summaries are step-major ``(H, S)`` for the walks, written out in blocks of :data:`_BLOCK` states. Bit masks are
``uint8`` arrays when ``A <= 8`` (:func:`mask_dtype`), ``uint64`` otherwise. Each state is swept only over the
steps at which it is reachable (``span_lo[s] <= t < span_hi[s]``, :func:`~.effective_horizon_values.spans`):
entries outside are never read by a reachable state. Compiled kernels with their NumPy twins (``*_reference``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .effective_horizon_values import _expect, _q_reference

#: States per block in the kernels that write step-major summaries.
_BLOCK = 64


def mask_dtype(A: int):
    """The dtype of the action bit masks: ``uint8`` for ``A <= 8`` (an eighth of the traffic), else ``uint64``."""
    return np.uint8 if A <= 8 else np.uint64


@nb.njit(cache=True, error_model="numpy")
def _same_column(nxt, pr, s, h, j):
    """Whether column ``j`` of the successor table is identical for states ``s`` and ``h`` (every action)."""
    for a in range(nxt.shape[2]):
        if nxt[0, s, a, j] != nxt[0, h, a, j] or pr[0, s, a, j] != pr[0, h, a, j]:
            return False
    return True


@nb.njit(cache=True, error_model="numpy")
def _q_steps(nxt, pr, R, s, U, lo, hi, q, best, prod, held, held_lo, held_hi, shared):
    """``q[a, t] = R_t(s, a) + E U[., t + 1]`` and ``best[t] = max_a q[a, t]`` for ``lo <= t < hi``.

    Stationary models reuse work without changing a bit of the result: the products ``p_j U[n_j, t + 1]`` of
    successor column ``j`` are kept in ``prod[j] (A, H)`` and reused when the next state has the same column
    and its steps lie in ``[held_lo[j], held_hi[j])`` (``held[j]``: the state they belong to, ``-1`` for none;
    the caller resets it for each block), and computed once when all actions share the column (``shared[j]``).
    Sticky-action models have both: the chosen-action column is the same for every previous action, the
    repeated-action column the same for every chosen action. Sums are still formed in successor order from 0.0.
    """
    Hp = nxt.shape[0]
    Hr = R.shape[0]
    A = R.shape[2]
    K = nxt.shape[3]
    # Loops run over views from 0 so that Numba knows the index is not negative and LLVM vectorises them.
    m = hi - lo
    bst = best[lo:hi]
    for i in range(m):
        bst[i] = -np.inf
    if Hp == 1 and Hr == 1:
        for j in range(K):
            if held[j] >= 0 and held_lo[j] <= lo and hi <= held_hi[j] and _same_column(nxt, pr, s, held[j], j):
                continue
            sh = True
            for a in range(1, A):
                if nxt[0, s, a, j] != nxt[0, s, 0, j] or pr[0, s, a, j] != pr[0, s, 0, j]:
                    sh = False
                    break
            shared[j] = sh
            pv = prod[j, :, lo:hi]
            for a in range(1 if sh else A):
                p = pr[0, s, a, j]
                if p > 0.0:
                    src = U[nxt[0, s, a, j], lo + 1:hi + 1]
                    for i in range(m):
                        pv[a, i] = p * src[i]
            held[j] = s
            held_lo[j] = lo
            held_hi[j] = hi
        qv = q[:, lo:hi]
        p0v = prod[0, :, lo:hi]
        p1v = prod[K - 1, :, lo:hi]
        for a in range(A):
            r = R[0, s, a]
            used = 0
            for j in range(K):
                if pr[0, s, a, j] > 0.0:
                    used += 1
            if K <= 2 and used == K:  # fused loops for the common deterministic and sticky cases (same sums)
                a0 = 0 if shared[0] else a
                if K == 1:
                    for i in range(m):
                        v = r + p0v[a0, i]
                        qv[a, i] = v
                        bst[i] = v if v > bst[i] else bst[i]
                else:
                    a1 = 0 if shared[1] else a
                    for i in range(m):
                        v = r + (p0v[a0, i] + p1v[a1, i])
                        qv[a, i] = v
                        bst[i] = v if v > bst[i] else bst[i]
                continue
            for i in range(m):
                qv[a, i] = 0.0
            for j in range(K):
                if pr[0, s, a, j] > 0.0:
                    pj = prod[j, 0 if shared[j] else a, lo:hi]
                    for i in range(m):
                        qv[a, i] += pj[i]
            for i in range(m):
                qv[a, i] = r + qv[a, i]
                bst[i] = qv[a, i] if qv[a, i] > bst[i] else bst[i]
    else:
        for t in range(lo, hi):
            hp = t if Hp > 1 else 0
            hr = t if Hr > 1 else 0
            for a in range(A):
                q[a, t] = R[hr, s, a] + _expect(nxt[hp, s, a], pr[hp, s, a], U, t + 1)
                if q[a, t] > best[t]:
                    best[t] = q[a, t]


@nb.njit(cache=True, error_model="numpy")
def _summaries(q, best, sub, A, lo, hi, need_ties, need_gap, tie, abv, gap, bs):
    """Per-step summaries of ``q (A, H)`` for ``lo <= t < hi``, in branch-free loops over steps (vectorised;
    ``bs (H,)`` is scratch).

    ``need_ties``: ``tie[t]``, the mask of ``q[a, t] >= best[t]``. ``need_gap``: with ``bs[t]`` the best value of
    an action in ``sub[t]`` (``-inf`` if none), ``abv[t]`` the mask of ``q[a, t] > bs[t]`` and
    ``gap[t] = best[t] - bs[t]`` (``inf`` when no action is suboptimal, ``0`` when the best one is).
    """
    m = hi - lo
    bv = best[lo:hi]
    qv = q[:, lo:hi]
    zero = np.uint64(0)
    if need_ties:
        tv = tie[lo:hi]
        for i in range(m):
            tv[i] = 0
        for a in range(A):
            bit = np.uint64(1) << np.uint64(a)
            for i in range(m):
                tv[i] = np.uint64(tv[i]) | (bit if qv[a, i] >= bv[i] else zero)
    if not need_gap:
        return
    sv = sub[lo:hi]
    av = abv[lo:hi]
    gv = gap[lo:hi]
    bsv = bs[lo:hi]
    for i in range(m):
        bsv[i] = -np.inf
        av[i] = 0
    for a in range(A):
        bit = np.uint64(1) << np.uint64(a)
        for i in range(m):
            x = qv[a, i] if np.uint64(sv[i]) & bit else -np.inf
            bsv[i] = x if x > bsv[i] else bsv[i]
    for a in range(A):
        bit = np.uint64(1) << np.uint64(a)
        for i in range(m):
            av[i] = np.uint64(av[i]) | (bit if qv[a, i] > bsv[i] else zero)
    for i in range(m):
        gv[i] = bv[i] - bsv[i]


@nb.njit(cache=True, error_model="numpy")
def _block_scratch(K, A, H, mask):
    """Per-block scratch: ``q (A, H)``, ``best, bs (H,)``, ``prod (K, A, H)``, ``held (K,) = -1``, ``held_lo,
    held_hi (K,)``, ``shared (K,)`` (:func:`_q_steps`) and the block's step summaries ``ties, above (_BLOCK, H)``
    (dtype of ``mask``) and ``gap (_BLOCK, H)``."""
    return (np.empty((A, H)), np.empty(H), np.empty(H), np.empty((K, A, H)), np.full(K, -1, np.int64),
            np.zeros(K, np.int64), np.zeros(K, np.int64), np.zeros(K, np.bool_),
            np.zeros((_BLOCK, H), mask.dtype), np.zeros((_BLOCK, H), mask.dtype), np.zeros((_BLOCK, H)))


@nb.njit(cache=True, parallel=True, error_model="numpy")
def _star_summaries(nxt, pr, R, M, Vs, precision, subopt, ties, gap, above):
    """``subopt[s, t]`` bits (``Q*_t(s, a) < V*_t(s) - precision``, state-major ``(S, H)``, 0 where ``M`` is
    False) and the step-major ``(H, S)`` summaries of ``Q*`` itself: ``ties``, ``above`` masks and
    ``gap = V* - bsub`` (``Vs`` state-major ``(S, H + 1)``)."""
    S, H = M.shape
    A = R.shape[2]
    nblocks = (S + _BLOCK - 1) // _BLOCK
    for blk in nb.prange(nblocks):
        s0 = blk * _BLOCK
        s1 = min(S, s0 + _BLOCK)
        q, best, bs, prod, held, hlo, hhi, shared, tl, al, gl = _block_scratch(nxt.shape[3], A, H, subopt)
        for s in range(s0, s1):
            _q_steps(nxt, pr, R, s, Vs, 0, H, q, best, prod, held, hlo, hhi, shared)
            for t in range(H):
                sub = np.uint64(0)
                if M[s, t]:
                    for a in range(A):
                        if q[a, t] < Vs[s, t] - precision:
                            sub |= np.uint64(1) << np.uint64(a)
                subopt[s, t] = sub
            _summaries(q, best, subopt[s], A, 0, H, True, True, tl[s - s0], al[s - s0], gl[s - s0], bs)
        for t in range(H):
            for s in range(s0, s1):
                ties[t, s] = tl[s - s0, t]
                above[t, s] = al[s - s0, t]
                gap[t, s] = gl[s - s0, t]


@nb.njit(cache=True, parallel=True, error_model="numpy")
def _iterate(nxt, pr, R, span_lo, span_hi, U, subopt, t_stop, need_ties, need_gap, U_out, ties, gap, above):
    """One Q-value-iteration step at every step at once, with the walk summaries of the new ``Q``.

    ``Q_t(s, a) = R_t(s, a) + E U[s', t + 1]`` and ``U_out[s, t] = max_a Q_t(s, a)`` (state-major) for
    ``span_lo[s] <= t < min(t_stop, span_hi[s])`` (the caller passes ``t_stop = H - k`` when producing ``U^k``:
    its last ``k`` steps are ``V*`` and are never read, and the walks take ``Q*``'s summaries there). Step-major
    ``(H, S)`` summaries of ``Q`` on the same entries (:func:`_summaries`): with ``need_ties`` the ``ties``
    masks; with ``need_gap`` the ``above`` masks and ``gap``. Blocks of states are written out step by step.
    """
    S = U.shape[0]
    H = U.shape[1] - 1
    A = R.shape[2]
    nblocks = (S + _BLOCK - 1) // _BLOCK
    for blk in nb.prange(nblocks):
        s0 = blk * _BLOCK
        s1 = min(S, s0 + _BLOCK)
        q, best, bs, prod, held, hlo, hhi, shared, tl, al, gl = _block_scratch(nxt.shape[3], A, H, subopt)
        t_lo, t_hi = H, 0
        for s in range(s0, s1):
            lo = span_lo[s]
            hi = min(t_stop, span_hi[s])
            if hi <= lo:
                continue
            t_lo = min(t_lo, lo)
            t_hi = max(t_hi, hi)
            i = s - s0
            _q_steps(nxt, pr, R, s, U, lo, hi, q, best, prod, held, hlo, hhi, shared)
            Uo = U_out[s]
            for t in range(lo, hi):
                Uo[t] = best[t]
            _summaries(q, best, subopt[s], A, lo, hi, need_ties, need_gap, tl[i], al[i], gl[i], bs)
        for t in range(t_lo, t_hi):
            if need_ties:
                for s in range(s0, s1):
                    ties[t, s] = tl[s - s0, t]
            if need_gap:
                for s in range(s0, s1):
                    above[t, s] = al[s - s0, t]
                    gap[t, s] = gl[s - s0, t]


@nb.njit(cache=True, parallel=True, error_model="numpy")
def _lookahead(nxt, pr, R, L, L_out, ties):
    """One step of the effective-planning-window iterates of a stationary model, on every state:
    ``Q(s, a) = R(s, a) + E L[s']``, ``L_out = max_a Q``, ``ties (S,)`` its argmax masks.

    From ``L = 0`` the ``k``-th call gives the ``k``-step lookahead, which is ``Q^(k)_t`` at every ``t < H - k``
    bitwise (the iterate does not depend on ``t`` there when neither ``P`` nor ``R`` does): one ``(S, A)`` pass
    per ``k`` instead of ``H - k``.
    """
    _, S, A, K = nxt.shape
    for s in nb.prange(S):
        best = -np.inf
        q = np.empty(A)
        for a in range(A):
            acc = 0.0
            for j in range(K):
                p = pr[0, s, a, j]
                if p > 0.0:
                    acc += p * L[nxt[0, s, a, j]]
            q[a] = R[0, s, a] + acc
            best = q[a] if q[a] > best else best
        tie = np.uint64(0)
        for a in range(A):
            if q[a] >= best:
                tie |= np.uint64(1) << np.uint64(a)
        L_out[s] = best
        ties[s] = tie


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


def _star_summaries_reference(nxt, pr, R, M, Vs, precision, subopt, ties, gap, above):
    """Twin of :func:`_star_summaries`."""
    S, H = M.shape
    for t in range(H):
        st = np.flatnonzero(M[:, t])
        Q = _q_reference(nxt, pr, R, t, st, Vs, t + 1)
        subopt[:, t] = 0
        subopt[st, t] = _bits(Q < Vs[st, t][:, None] - precision)
        _, ties[t, st], gap[t, st], above[t, st] = _summaries_reference(Q, subopt[st, t])


def _iterate_reference(nxt, pr, R, span_lo, span_hi, U, subopt, t_stop, need_ties, need_gap, U_out, ties, gap,
                       above):
    """Twin of :func:`_iterate`."""
    H = U.shape[1] - 1
    for t in range(min(t_stop, H)):
        st = np.flatnonzero((span_lo <= t) & (t < span_hi))
        Q = _q_reference(nxt, pr, R, t, st, U, t + 1)
        U_out[st, t], t_, g_, a_ = _summaries_reference(Q, subopt[st, t])
        if need_ties:
            ties[t, st] = t_
        if need_gap:
            gap[t, st], above[t, st] = g_, a_


def _lookahead_reference(nxt, pr, R, L, L_out, ties):
    """Twin of :func:`_lookahead`."""
    Q = _q_reference(nxt, pr, R, 0, np.arange(nxt.shape[1]), L[:, None], 0)
    L_out[:] = Q.max(axis=1)
    ties[:] = _bits(Q >= L_out[:, None])
