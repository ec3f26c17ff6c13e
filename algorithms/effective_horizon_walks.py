"""Effective-horizon analysis engine, part 3: the forward walks from the initial states.

``k``-QVI-solvability and the effective planning window follow every exact argmax action; the simple effective
horizon follows the actions above the best suboptimal one and takes the largest ``var / gap^2`` (with
:func:`_log_count`, the compiled twin of :func:`rltheory.bounds.effective_horizon.log_sample_count`). Both walks
of one ``k`` are taken in one pass (:func:`_walks`). The greedy returns take the worst tie-breaking
(:func:`_greedy_worst`).

Summaries are split at ``t_stop = H - k``: the iterate's ``(H, S)`` arrays for ``t < t_stop`` and ``Q*``'s
beyond (``Q^k_t = Q*_t`` there), so the ``Q*`` rows are never copied. Visited sets are a list for the
``k``-QVI walk (few states) and boolean arrays scanned in state order for the effective-horizon walk (about
half the reachable states; sequential reads). Successors are marked from the distinct-successor lists of
:func:`~.effective_horizon_variance.successor_lists` (stationary tables) or from the table. Compiled kernels
with their NumPy twins (``*_reference``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .effective_horizon_iterates import _unbits
from .effective_horizon_values import _q_reference


@nb.njit(cache=True, error_model="numpy", inline="always")
def _mark(nxt, pr, hp, s, bits, new):
    """Mark the successors (positive probability) of the actions in ``bits``, from the successor table (the
    effective-horizon walk marks from the successor lists in a branch-free loop of its own)."""
    A = nxt.shape[2]
    K = nxt.shape[3]
    for a in range(A):
        if (bits >> np.uint64(a)) & np.uint64(1):
            for j in range(K):
                if pr[hp, s, a, j] > 0.0:
                    new[nxt[hp, s, a, j]] = True


@nb.njit(cache=True, error_model="numpy", inline="always")
def _mark_list(nxt, pr, hp, s, bits, mark, out, m, sptr, sn, smask, csr):
    """Append to ``out[m:]`` the successors of the actions in ``bits`` not yet in ``mark`` (and mark them);
    returns the new length."""
    if csr:
        b = np.uint64(bits)
        for i in range(sptr[s], sptr[s + 1]):
            if smask[i] & b:
                n = sn[i]
                if not mark[n]:
                    mark[n] = True
                    out[m] = n
                    m += 1
        return m
    A = nxt.shape[2]
    K = nxt.shape[3]
    for a in range(A):
        if (bits >> np.uint64(a)) & np.uint64(1):
            for j in range(K):
                if pr[hp, s, a, j] > 0.0:
                    n = nxt[hp, s, a, j]
                    if not mark[n]:
                        mark[n] = True
                        out[m] = n
                        m += 1
    return m


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


@nb.njit(cache=True, error_model="numpy", inline="always")
def _ratio_at(v, g, t, s, best):
    """Fold one visited ``(t, s)`` with variance ``v`` and gap ``g`` into ``best = (r_max, t_at, s_at, g_at, v_at,
    min_gap)``: ``ratio = v / g^2`` (0 when ``v <= 0`` or ``g = inf``) replaces the maximum only if larger (the first
    in ``(t, s)`` order is kept)."""
    r_max, t_at, s_at, g_at, v_at, min_gap = best
    r = 0.0 if (v <= 0.0 or g == np.inf) else v / (g * g)
    min_gap = g if g < min_gap else min_gap
    if r > r_max:
        return r, t, s, g, v, min_gap
    return r_max, t_at, s_at, g_at, v_at, min_gap


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _walks(nxt, pr, lists, start, t_stop, ties, gap, above, rows, succ, star, WgT, gid, Wlast, walk_ties,
           walk_gap):
    """The ``k``-QVI walk and the effective-horizon walk for one ``k``, in one pass over the steps.

    Parameters
    ----------
    nxt, pr : successor table ``(Hp, S, A, K)``.
    lists : ``(sptr, sn, smask)`` of :func:`~.effective_horizon_variance.successor_lists` (stationary tables), or
        empty arrays (``sptr`` of length 0: mark from the table).
    start : int64 initial states.
    t_stop : ``ties``, ``gap``, ``above`` hold the summaries of ``Q^k`` for ``t < t_stop``; ``Q*``'s are used beyond.
    ties : ``(H, S)`` argmax masks, or ``(1, S)`` for one row shared by every ``t < t_stop`` (lookahead iterates).
    gap, above : ``(H, S)`` (read when ``walk_gap``).
    rows : int64 ``(S,)``: state ``s``'s summaries of ``Q^k`` are in column ``rows[s]`` of ``ties``, ``gap`` and
        ``above`` (the identity, or the first state of its group for the factored sticky iterates,
        :mod:`.effective_horizon_sticky`); ``star``'s are in column ``s``.
    succ : int64 ``(G, A)``: the base successors ``T(g, a)`` of a sticky-action model
        (:class:`~.effective_horizon_sticky.StickyLayout`), or ``(0, A)``. With ``G > 0`` the effective-horizon walk
        takes the ``G * A`` sticky states a group at a time (before the last step): the successors of the visited
        ``(g, b)`` are ``(T(g, a), a)`` for ``a`` in the union of their ``above`` masks, marked once, and each
        ``(T(g, b), b)`` (the repeated action, reached whatever is chosen), instead of ``A`` list entries per
        visited state (5.5 of a group's 6 states are visited on the sticky UnlockPickup model). The same results.
    star : ``(subopt, ties_star, gap_star, above_star)``, each ``(H, S)``.
    WgT, gid, Wlast : the variance bound ``var(t, s) = WgT[t, gid[s]]`` for ``t < H - 1``, ``Wlast[s]`` at ``H - 1``.
    walk_ties, walk_gap : which walks to take.

    The ``k``-QVI walk follows every exact argmax action and fails as soon as one is ``Q*``-suboptimal. The
    effective-horizon walk follows the actions in ``above``, with ``ratio = var / gap^2`` (0 when ``var <= 0`` or
    ``gap = inf``), and fails where ``gap <= 0`` (``t < t_stop``: the best action ties with a suboptimal one).

    Returns
    -------
    ``(ties_ok, gap_ok, r_max, t_at, s_at, g_at, v_at, min_gap)``: whether each walk passed (False when not taken);
    for a passing effective-horizon walk, its largest ratio (first in ``(t, s)`` order), where, the gap and
    variance there, and the smallest gap on the walk (zeros otherwise).
    """
    subopt, ties_star, gap_star, above_star = star
    sptr, sn, smask = lists
    Hp, S, A, K = nxt.shape
    H = ties_star.shape[0]
    G = succ.shape[0]
    csr = Hp == 1 and sptr.shape[0] == S + 1
    # The k-QVI walk visits few states: a list in order of discovery plus marks (a step costs its visited
    # states). The effective-horizon walk visits about half of them: a boolean set per step, compacted into a
    # list in state order (sequential reads of the step's summaries; the largest ratio is the first in (t, s)
    # order), with successors marked from the lists without a branch (`ng[n] |= reached`): measured 2x faster
    # than testing each state and each successor, whose outcomes a branch predictor cannot guess.
    cur_t, new_t = np.empty(S, np.int64), np.empty(S, np.int64)
    mark_t = np.zeros(S, np.bool_)
    vg = np.zeros(S, np.bool_)
    ng = np.zeros(S, np.bool_)
    lst = np.empty(S, np.int64)
    n_t = 0
    for s in start:
        vg[s] = True
        if not mark_t[s]:
            mark_t[s] = True
            cur_t[n_t] = s
            n_t += 1
    mark_t[:] = False
    ties_ok = walk_ties
    gap_ok = walk_gap
    best = (-1.0, -1, -1, 0.0, 0.0, np.inf)  # (r_max, t_at, s_at, g_at, v_at, min_gap), see _ratio_at
    for t in range(H):
        if not (ties_ok or gap_ok):
            break
        hp = t if Hp > 1 else 0
        below = t < t_stop
        tr = t if ties.shape[0] > 1 else 0
        more = t < H - 1
        if ties_ok:
            m = 0
            for i in range(n_t):
                s = cur_t[i]
                tie = ties[tr, rows[s]] if below else ties_star[t, s]
                if tie & subopt[t, s]:
                    ties_ok = False
                    break
                if more:
                    m = _mark_list(nxt, pr, hp, s, tie, mark_t, new_t, m, sptr, sn, smask, csr)
            for i in range(m):
                mark_t[new_t[i]] = False
            cur_t, new_t = new_t, cur_t
            n_t = m
        if gap_ok:
            s_from = 0
            if more and G > 0:  # the sticky states a group at a time
                s_from = G * A
                for grp in range(G):
                    base = grp * A
                    chosen = np.uint64(0)  # the union of the visited states' masks
                    for bb in range(A):
                        if not vg[base + bb]:
                            continue
                        vg[base + bb] = False
                        s = base + bb
                        if below:
                            g = gap[t, rows[s]]
                            ga = np.uint64(above[t, rows[s]])
                            if g <= 0.0:
                                gap_ok = False
                                break
                        else:
                            g = gap_star[t, s]
                            ga = np.uint64(above_star[t, s])
                        best = _ratio_at(WgT[t, gid[s]], g, t, s, best)
                        chosen |= ga
                        if ga != 0:  # the repeated action's successor, reached whatever is chosen
                            ng[succ[grp, bb] * A + bb] = True
                    if not gap_ok:
                        break
                    for a in range(A):  # the chosen actions' successors, once per group
                        if (chosen >> np.uint64(a)) & np.uint64(1):
                            ng[succ[grp, a] * A + a] = True
            n_g = 0
            for s in range(s_from, S):
                lst[n_g] = s
                n_g += vg[s]
                vg[s] = False
            for i in range(n_g if gap_ok else 0):
                s = lst[i]
                v = WgT[t, gid[s]] if more else Wlast[s]
                if below:
                    g = gap[t, rows[s]]
                    abv = above[t, rows[s]]
                    if g <= 0.0:
                        gap_ok = False
                        break
                else:
                    g = gap_star[t, s]
                    abv = above_star[t, s]
                best = _ratio_at(v, g, t, s, best)
                if more and csr:  # no branch on the outcome: ng[n] |= (n reached by an action in abv)
                    b = np.uint64(abv)
                    for e in range(sptr[s], sptr[s + 1]):
                        n = sn[e]
                        ng[n] = ng[n] | ((smask[e] & b) != 0)
                elif more:
                    _mark(nxt, pr, hp, s, abv, ng)
            vg, ng = ng, vg
    if not gap_ok:
        return ties_ok, False, 0.0, -1, -1, 0.0, 0.0, 0.0
    r_max, t_at, s_at, g_at, v_at, min_gap = best
    return ties_ok, True, r_max, t_at, s_at, g_at, v_at, min_gap


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _greedy_worst(nxt, pr, R, ties, rows, t_stop, ties_star, start, G):
    """Worst-case return, over tie-breaking, of policies that take only actions in the argmax masks (greedy ones).

    The masks are ``ties (H, S)`` (state ``s`` in column ``rows[s]``, as in :func:`_walks`) for ``t < t_stop`` and
    ``ties_star (H, S)`` beyond. A forward pass marks the
    greedy cone; then ``G[t, s] = min`` over tied ``a`` of ``R_t(s, a) + E G[t + 1, .]`` backwards on the cone.
    ``G (H + 1, S)`` is scratch. Returns ``G[0, start]``.
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
                _mark(nxt, pr, hp, s, ties[t, rows[s]] if t < t_stop else ties_star[t, s], cone[t + 1])
    G[H, :] = 0.0
    for t in range(H - 1, -1, -1):
        hp = t if Hp > 1 else 0
        hr = t if Hr > 1 else 0
        for s in range(S):
            if not cone[t, s]:
                continue
            tie = ties[t, rows[s]] if t < t_stop else ties_star[t, s]
            g = np.inf
            for a in range(A):
                if (tie >> np.uint64(a)) & np.uint64(1):
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
    rows, acts = np.nonzero(_unbits(np.asarray(bits, np.uint64), nxt.shape[2]))
    n, p = nxt[hp, cur[rows], acts], pr[hp, cur[rows], acts]
    return np.unique(n[p > 0])


def _walks_reference(nxt, pr, lists, start, t_stop, ties, gap, above, rows, succ, star, WgT, gid, Wlast, walk_ties,
                     walk_gap):
    """Twin of :func:`_walks` (``lists`` and ``succ`` unused: a state at a time)."""
    subopt, ties_star, gap_star, above_star = star
    H = ties_star.shape[0]
    cur_t = np.unique(start) if walk_ties else None
    cur_g = np.unique(start) if walk_gap else None
    r_max, t_at, s_at, g_at, v_at, min_gap = -1.0, -1, -1, 0.0, 0.0, np.inf
    for t in range(H):
        below = t < t_stop
        if cur_t is not None:
            tie = ties[t if ties.shape[0] > 1 else 0, rows[cur_t]] if below else ties_star[t, cur_t]
            cur_t = None if (tie & subopt[t, cur_t]).any() else _follow_reference(nxt, pr, t, cur_t, tie)
        if cur_g is not None:
            v = WgT[t, gid[cur_g]] if t < H - 1 else Wlast[cur_g]
            c = rows[cur_g]
            g, abv = (gap[t, c], above[t, c]) if below else (gap_star[t, cur_g], above_star[t, cur_g])
            if below and (g <= 0).any():
                cur_g = None
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                r = np.where((v <= 0) | (g == np.inf), 0.0, v / (g * g))
            min_gap = min(min_gap, float(g.min()))
            j = int(np.argmax(r))  # first maximum in state order, as the kernel scans
            if r[j] > r_max:
                r_max, t_at, s_at, g_at, v_at = float(r[j]), t, int(cur_g[j]), float(g[j]), float(v[j])
            cur_g = _follow_reference(nxt, pr, t, cur_g, abv)
    if cur_g is None:
        return cur_t is not None, False, 0.0, -1, -1, 0.0, 0.0, 0.0
    return cur_t is not None, True, r_max, t_at, s_at, g_at, v_at, min_gap


def _greedy_worst_reference(nxt, pr, R, ties, rows, t_stop, ties_star, start, G):
    """Twin of :func:`_greedy_worst`."""
    H = ties.shape[0]

    def tie(t, cur):
        return ties[t, rows[cur]] if t < t_stop else ties_star[t, cur]

    cone = [np.unique(start)]
    for t in range(H - 1):
        cone.append(_follow_reference(nxt, pr, t, cone[-1], tie(t, cone[-1])))
    G[H, :] = 0.0
    for t in range(H - 1, -1, -1):
        cur = cone[t]
        Gq = _q_reference(nxt, pr, R, t, cur, G.T, t + 1)
        G[t, cur] = np.where(_unbits(np.asarray(tie(t, cur), np.uint64), nxt.shape[2]), Gq, np.inf).min(axis=1)
    return G[0, np.asarray(start)].copy()
