"""Effective-horizon analysis engine, part 1: reachability and the fused backward pass (``V*, V^rand, V^worst``).

Compiled kernels with their NumPy twins (``*_reference``), used by
:func:`rltheory.algorithms.effective_horizon_analysis.analyze` (where the engine's placement is explained).

Layouts. Successor tables ``nxt, pr (Hp, S, A, K)`` (``Hp`` in ``{1, H}``), rewards ``R (Hr, S, A)``
(``Hr`` in ``{1, H}``). Reachable states per step as CSR ``(ptr (H + 1,), idx)`` and as a state-major
mask ``M (S, H)``. Value arrays are state-major ``(S, H + 1)`` (column ``H`` is 0) except in the one
backward pass, which is step-major ``(H + 1, S)`` and transposed once. A one-step iteration loops over
states outermost and over steps innermost (contiguous, vectorisable), and records per ``(s, t)`` what
the forward walks need, so that the walks read bits instead of recomputing ``Q``:

* ``ties[s, t]``: bit ``a`` set iff ``Q_t(s, a) >= max_b Q_t(s, b)`` (exact argmax ties);
* ``bsub[s, t]``: ``max`` of ``Q_t(s, a)`` over ``Q*``-suboptimal ``a`` (``-inf`` if none);
* ``above[s, t]``: bit ``a`` set iff ``Q_t(s, a) > bsub[s, t]``;
* ``subopt[s, t]`` (fixed): bit ``a`` set iff ``Q*_t(s, a) < V*_t(s) - precision``.

Every ``Q`` is computed the same way everywhere, ``R + (0.0 + p_1 V_1 + p_2 V_2 + ...)`` in successor
order skipping zero probabilities, so exact ties are seen identically by every kernel and twin.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["reachable", "reachable_reference", "spans"]


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


def spans(ptr, idx, S):
    """``(span_lo, span_hi)`` int64 ``(S,)``: the first step at which each state is reachable and one past the last
    (``span_lo = H, span_hi = 0`` for a state never reachable). Plain NumPy (one pass per step)."""
    H = ptr.shape[0] - 1
    lo = np.full(S, H, np.int64)
    hi = np.zeros(S, np.int64)
    for t in range(H - 1, -1, -1):
        lo[idx[ptr[t]:ptr[t + 1]]] = t
    for t in range(H):
        hi[idx[ptr[t]:ptr[t + 1]]] = t + 1
    return lo, hi


# ---------------------------------------------------------------------------- NumPy twins


def _q_reference(nxt, pr, R, t, states, V, col):
    """``Q_t(s, a) = R_t(s, a) + E V[s', col]`` for ``states``, ``(n, A)``; ``V`` state-major."""
    hp = t if nxt.shape[0] > 1 else 0
    hr = t if R.shape[0] > 1 else 0
    nx, p = nxt[hp, states], pr[hp, states]
    acc = np.zeros(nx.shape[:-1])
    for j in range(nx.shape[-1]):
        acc = acc + np.where(p[..., j] > 0, p[..., j] * V[nx[..., j], col], 0.0)
    return R[hr, states] + acc


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


