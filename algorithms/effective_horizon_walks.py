"""Effective-horizon analysis engine, part 3: the forward walks from the initial states.

``k``-QVI-solvability and the effective planning window follow every exact argmax action
(:func:`_walk_ties`); the simple effective horizon follows the actions above the best suboptimal one and
takes the largest ``var / gap^2`` (:func:`_walk_gap`, with :func:`_log_count`, the compiled twin of
:func:`rltheory.bounds.effective_horizon.log_sample_count`); the greedy returns take the worst tie-breaking
(:func:`_greedy_worst`). Compiled kernels with their NumPy twins (``*_reference``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .effective_horizon_iterates import _unbits
from .effective_horizon_values import _q_reference


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


@nb.njit(cache=True, inline="always")
def _start_sets(S, start):
    """``(vis, new)``: boolean ``(S,)`` arrays, the visited set holding ``start`` and an empty next set."""
    vis = np.zeros(S, np.bool_)
    new = np.zeros(S, np.bool_)
    for s in start:
        vis[s] = True
    return vis, new


@nb.njit(cache=True, error_model="numpy")
def _walk_ties(nxt, pr, ties, subopt, start):
    """The k-QVI walk: from ``start``, follow every exact argmax action; False as soon as a visited argmax
    action is ``Q*``-suboptimal. ``ties, subopt`` step-major ``(H, S)`` bit masks; visited sets are
    boolean arrays scanned in state order (contiguous reads)."""
    Hp, S, A, K = nxt.shape
    H = ties.shape[0]
    vis, new = _start_sets(S, start)
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
    vis, new = _start_sets(S, start)
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


# ---------------------------------------------------------------------------- NumPy twins


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


