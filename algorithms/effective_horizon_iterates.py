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


@nb.njit(cache=True, error_model="numpy", inline="always")
def _q_steps(nxt, pr, R, s, U, lo, hi, q, mx):
    """``q[a, t] = R_t(s, a) + E U[., t + 1]`` for ``lo <= t < hi`` and the maximum over actions in ``mx[A % 2, t]``.

    ``q (A, H)`` and ``mx (2, H)`` are scratch. The expectation is summed in successor order from 0.0 over the
    successors with positive probability (``r + (p_0 U_0 + p_1 U_1)`` for two), bitwise as
    :func:`~.effective_horizon_values._expect`. The maxima are the sequential ones from ``-inf``
    (``v if v > running else running``, action by action), with the running value alternating between the two
    rows of ``mx``: an in-place running maximum compiles to a conditional store, which LLVM does not vectorise.

    Speed notes (measured on the sticky UnlockPickup model): indices are unsigned offsets into the base arrays
    rather than views (a view costs more than the dozen-element loops it feeds, and a signed index adds a
    wrap-around select that stops vectorisation); products are formed inline (the successor rows are in cache for
    the ``A`` sticky siblings that share them). The maximum over the suboptimal actions is a pass of its own
    (:func:`_sub_best`): measured the same speed as folding it into this one.
    """
    Hp = nxt.shape[0]
    Hr = R.shape[0]
    A = R.shape[2]
    K = nxt.shape[3]
    o = np.uint64(lo)
    m = np.uint64(hi - lo)
    one = np.uint64(1)
    for i in range(m):
        mx[0, o + i] = -np.inf
    for a in range(A):
        if Hp == 1 and Hr == 1:
            r = R[0, s, a]
            used = 0
            for j in range(K):
                if pr[0, s, a, j] > 0.0:
                    used += 1
            if K == 1 and used == 1:
                p0 = pr[0, s, a, 0]
                n0 = nxt[0, s, a, 0]
                for i in range(m):
                    q[a, o + i] = r + p0 * U[n0, o + one + i]
            elif K == 2 and used == 2:  # the sticky-action case
                p0 = pr[0, s, a, 0]
                n0 = nxt[0, s, a, 0]
                p1 = pr[0, s, a, 1]
                n1 = nxt[0, s, a, 1]
                for i in range(m):
                    q[a, o + i] = r + (p0 * U[n0, o + one + i] + p1 * U[n1, o + one + i])
            else:
                for i in range(m):
                    q[a, o + i] = 0.0
                for j in range(K):
                    p = pr[0, s, a, j]
                    if p > 0.0:
                        n = nxt[0, s, a, j]
                        for i in range(m):
                            q[a, o + i] += p * U[n, o + one + i]
                for i in range(m):
                    q[a, o + i] = r + q[a, o + i]
        else:
            for t in range(lo, hi):
                hp = t if Hp > 1 else 0
                hr = t if Hr > 1 else 0
                q[a, t] = R[hr, s, a] + _expect(nxt[hp, s, a], pr[hp, s, a], U, t + 1)
        src = np.uint64(a & 1)
        dst = np.uint64((a + 1) & 1)
        for i in range(m):
            v = q[a, o + i]
            w = mx[src, o + i]
            mx[dst, o + i] = v if v > w else w


@nb.njit(cache=True, error_model="numpy", inline="always")
def _sub_best(q, sub, s, A, lo, hi, bs):
    """``bs[A % 2, t]``: the maximum of ``q[a, t]`` over the actions in ``sub[s, t]`` (``-inf`` if none), for
    ``lo <= t < hi``, sequential from ``-inf`` with the running value alternating between the rows of ``bs (2, H)``
    as in :func:`_q_steps`."""
    o = np.uint64(lo)
    m = np.uint64(hi - lo)
    one = np.uint64(1)
    for i in range(m):
        bs[0, o + i] = -np.inf
    for a in range(A):
        src = np.uint64(a & 1)
        dst = np.uint64((a + 1) & 1)
        sh = np.uint64(a)
        for i in range(m):
            x = q[a, o + i] if (np.uint64(sub[s, o + i]) >> sh) & one else -np.inf
            y = bs[src, o + i]
            bs[dst, o + i] = x if x > y else y


@nb.njit(cache=True, error_model="numpy", inline="always")
def _summaries(q, mx, bs, A, lo, hi, need_ties, need_gap, row, tie, abv, gap):
    """Per-step summaries of ``q (A, H)`` for ``lo <= t < hi``, written to row ``row`` of the block arrays
    ``tie, abv, gap (_BLOCK, H)``, from ``best = mx[A % 2]`` and ``b = bs[A % 2]`` (:func:`_q_steps`).

    ``need_ties``: ``tie[t]``, the mask of ``q[a, t] >= best[t]``. ``need_gap``: ``abv[t]`` the mask of
    ``q[a, t] > b[t]`` and ``gap[t] = best[t] - b[t]`` (``inf`` when no action is suboptimal, ``0`` when the best
    one is). One branch-free loop over steps per action (vectorised): masks are ORed from
    ``uint64(comparison) << a`` (an OR under a condition compiles to a conditional store).
    """
    o = np.uint64(lo)
    m = np.uint64(hi - lo)
    fin = np.uint64(A & 1)
    for i in range(m):
        tie[row, o + i] = 0
        abv[row, o + i] = 0
    for a in range(A):
        sh = np.uint64(a)
        if need_ties and need_gap:
            for i in range(m):
                v = q[a, o + i]
                tie[row, o + i] = np.uint64(tie[row, o + i]) | (np.uint64(v >= mx[fin, o + i]) << sh)
                abv[row, o + i] = np.uint64(abv[row, o + i]) | (np.uint64(v > bs[fin, o + i]) << sh)
        elif need_ties:
            for i in range(m):
                tie[row, o + i] = np.uint64(tie[row, o + i]) | (np.uint64(q[a, o + i] >= mx[fin, o + i]) << sh)
        elif need_gap:
            for i in range(m):
                abv[row, o + i] = np.uint64(abv[row, o + i]) | (np.uint64(q[a, o + i] > bs[fin, o + i]) << sh)
    if need_gap:
        for i in range(m):
            gap[row, o + i] = mx[fin, o + i] - bs[fin, o + i]


@nb.njit(cache=True, error_model="numpy")
def _block_scratch(A, H, mask):
    """Per-block scratch: ``q (A, H)``, ``mx, bs (2, H)`` (:func:`_q_steps`, :func:`_summaries`) and the block's
    step summaries ``ties, above (_BLOCK, H)`` (dtype of ``mask``) and ``gap (_BLOCK, H)``."""
    return (np.empty((A, H)), np.empty((2, H)), np.empty((2, H)), np.empty((_BLOCK, H), mask.dtype),
            np.empty((_BLOCK, H), mask.dtype), np.empty((_BLOCK, H)))


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
        q, mx, bs, tl, al, gl = _block_scratch(A, H, subopt)
        for s in range(s0, s1):
            _q_steps(nxt, pr, R, s, Vs, 0, H, q, mx)
            for t in range(H):
                sub = np.uint64(0)
                if M[s, t]:
                    for a in range(A):
                        if q[a, t] < Vs[s, t] - precision:
                            sub |= np.uint64(1) << np.uint64(a)
                subopt[s, t] = sub
            _sub_best(q, subopt, s, A, 0, H, bs)
            _summaries(q, mx, bs, A, 0, H, True, True, s - s0, tl, al, gl)
        for t in range(H):
            for s in range(s0, s1):
                ties[t, s] = tl[s - s0, t]
                above[t, s] = al[s - s0, t]
                gap[t, s] = gl[s - s0, t]


@nb.njit(cache=True, parallel=True, error_model="numpy")
def _iterate(nxt, pr, R, span_lo, span_hi, U, subopt, t_stop, need_ties, need_gap, U_out, ties, gap, above, rows):
    """One Q-value-iteration step at every step at once, with the walk summaries of the new ``Q``.

    ``Q_t(s, a) = R_t(s, a) + E U[s', t + 1]`` and ``U_out[s, t] = max_a Q_t(s, a)`` (state-major) for
    ``span_lo[s] <= t < min(t_stop, span_hi[s])`` (the caller passes ``t_stop = H - k`` when producing ``U^k``:
    its last ``k`` steps are ``V*`` and are never read, and the walks take ``Q*``'s summaries there). Step-major
    ``(H, S)`` summaries of ``Q`` on the same entries (:func:`_summaries`): with ``need_ties`` the ``ties``
    masks; with ``need_gap`` the ``above`` masks and ``gap``. Blocks of states are written out step by step
    (entries of a block row outside its state's steps are never copied out: they stay as they were). State ``s``'s
    summaries go to column ``rows[s]`` (the identity, except beside the factored sticky iterates,
    :mod:`.effective_horizon_sticky`).
    """
    S = U.shape[0]
    H = U.shape[1] - 1
    A = R.shape[2]
    fin = A & 1
    nblocks = (S + _BLOCK - 1) // _BLOCK
    for blk in nb.prange(nblocks):
        s0 = blk * _BLOCK
        s1 = min(S, s0 + _BLOCK)
        q, mx, bs, tl, al, gl = _block_scratch(A, H, subopt)
        t_lo, t_hi = H, 0
        for s in range(s0, s1):
            lo = span_lo[s]
            hi = min(t_stop, span_hi[s])
            if hi <= lo:
                continue
            t_lo = min(t_lo, lo)
            t_hi = max(t_hi, hi)
            _q_steps(nxt, pr, R, s, U, lo, hi, q, mx)
            if need_gap:
                _sub_best(q, subopt, s, A, lo, hi, bs)
            o = np.uint64(lo)
            for i in range(np.uint64(hi - lo)):
                U_out[s, o + i] = mx[fin, o + i]
            _summaries(q, mx, bs, A, lo, hi, need_ties, need_gap, s - s0, tl, al, gl)
        for t in range(t_lo, t_hi):
            for s in range(s0, s1):
                if span_lo[s] <= t and t < min(t_stop, span_hi[s]):
                    c = rows[s]
                    if need_ties:
                        ties[t, c] = tl[s - s0, t]
                    if need_gap:
                        above[t, c] = al[s - s0, t]
                        gap[t, c] = gl[s - s0, t]


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
                       above, rows):
    """Twin of :func:`_iterate`."""
    H = U.shape[1] - 1
    for t in range(min(t_stop, H)):
        st = np.flatnonzero((span_lo <= t) & (t < span_hi))
        Q = _q_reference(nxt, pr, R, t, st, U, t + 1)
        U_out[st, t], t_, g_, a_ = _summaries_reference(Q, subopt[st, t])
        if need_ties:
            ties[t, rows[st]] = t_
        if need_gap:
            gap[t, rows[st]], above[t, rows[st]] = g_, a_


def _lookahead_reference(nxt, pr, R, L, L_out, ties):
    """Twin of :func:`_lookahead`."""
    Q = _q_reference(nxt, pr, R, 0, np.arange(nxt.shape[1]), L[:, None], 0)
    L_out[:] = Q.max(axis=1)
    ties[:] = _bits(Q >= L_out[:, None])
