"""Effective-horizon analysis engine, part 5: the ``k``-step iterates of a sticky-action model, factored.

A sticky-action model (BRIDGE-Sticky, :mod:`rltheory.mdps.bridge`) has states ``(g, b) = g * A + b``: a base
state ``g`` and the previously executed action ``b``. Choosing ``a`` executes ``a`` with probability ``1 - p``
and ``b`` with probability ``p``; the base dynamics ``g' = T(g, a)`` are deterministic and the mean reward is
``(1 - p) r(g, a) + p r(g, b)``. So, for any continuation values ``U`` on the sticky states,

    ``Q_t((g, b), a) = (1 - p) X_t(g, a) + p X_t(g, b)``,  with  ``X_t(g, a) = r(g, a) + U[(T(g, a), a), t + 1]``,

and everything one backup of :func:`~.effective_horizon_iterates._iterate` records is a function of ``X_t(g, .)``:
``max_a Q = (1 - p) max_a X + p X(g, b)``; the argmax set of ``Q`` at ``(g, b)`` is the argmax set of ``X_t(g, .)``
(the same for every ``b``); the ``Q*``-suboptimal actions of ``(g, b)`` are ``{a : (1 - p)(X*(g, a) - max X*) <
-precision}`` (the same for every ``b``); hence ``above`` is the same for every ``b`` and ``gap = (1 - p)(max X -
max_sub X)``. One backup therefore costs ``A`` successor reads per ``(g, t)`` instead of ``2 A^2`` (one per action
and successor of each of the ``A`` states ``(g, b)``), and its summaries are written once per group, in one column
(:func:`summary_columns`): on the sticky UnlockPickup model (``A = 6``) one iterate takes about 40 ms instead of 190
(one core). The ``Q*``-suboptimal sets are taken from the general kernel's ``Q*`` summaries, per group
(:func:`group_subopt`), and the general kernel runs instead if two states of one group disagree there. The
effective-horizon walk then takes the sticky states a group at a time as well (``succ`` of
:func:`~.effective_horizon_walks._walks`, at every step but the last): the chosen actions' successors once per
group, the repeated action's once per visited state, instead of ``A`` successors per visited state (that model's
walks 2.1 -> 1.3 s, a passing one 70-120 -> 40 ms).

Exactness. The factorisation is exact in real arithmetic; in floating point it rounds differently from the general
kernel (the model's rewards ``(1 - p) r(g, a) + p r(g, b)`` were themselves rounded when it was built, and ``r`` is
read back from the model as ``r(g, a) = R((g, a), a)``, within rounding of the builder's ``r``). Its backup is the
one the authors' analysis code writes for sticky actions (``Q = sum_j p_j (r_j + max Q_next)`` per successor, i.e.
``(1 - p) X(g, a) + p X(g, b)``); the general kernel's is ``R + (p_0 U_0 + p_1 U_1)``. The two agree bit for bit
wherever the arithmetic is exact (dyadic ``p``, 0/1 rewards, ``A`` in {1, 2, 4}; 3,000 random models) and to
rounding, with the same ``min_k``, ``epw``, working ``k`` and greedy returns, on models with continuous rewards
(1,500) and on all five BRIDGE models with sticky actions (every output; the pinned numbers too). Where the *real*
values of two actions are equal but reached through different sums (shaped rewards such as ``-0.2`` mapped into
``[0, 1]``), an exact-equality argmax decides the tie by rounding, and the two evaluation orders can decide it
differently: of 800 random 1-30-state models with such rewards (``p = 1/4``) 13 differ in a greedy return or an
``H_k``; with a non-dyadic ``p = 1/3`` even 0/1 rewards can differ, a few in ``min_k``. Neither order is the
"right" one (both compare computed floats exactly, as the authors' code does); ``analyze(..., factor_sticky=False)``
gives the general kernel's. :func:`sticky_layout` checks the structure on the model's own arrays (the labels in
``mdp.meta`` are not trusted). States after the ``G * A`` sticky ones (BRIDGE's first-step state) are swept by the
general kernel.

Compiled kernel :func:`_sticky_iterate` with its NumPy twin :func:`_sticky_iterate_reference` (bitwise equal).
"""

from __future__ import annotations

import dataclasses

import numba as nb
import numpy as np

from .effective_horizon_iterates import _BLOCK, _bits, _block_scratch, _sub_best, _summaries, _unbits

__all__ = ["StickyLayout", "FactoredSweep", "sticky_layout", "factored_sweep", "group_subopt", "summary_columns"]



@dataclasses.dataclass(frozen=True)
class StickyLayout:
    """The factored form of a sticky-action model.

    Attributes
    ----------
    succ : int64 ``(G, A)``: base successor ``T(g, a)`` (the model's successor is the state ``T(g, a) * A + a``).
    reward : float64 ``(G, A)``: base reward ``r(g, a) = R((g, a), a)``.
    p : the sticky probability, in ``(0, 1)``.
    """

    succ: np.ndarray
    reward: np.ndarray
    p: float

    @property
    def groups(self) -> int:
        return self.succ.shape[0]

    def group_spans(self, span_lo: np.ndarray, span_hi: np.ndarray):
        """``(glo, ghi)`` int64 ``(G,)``: the union of the spans of the ``A`` states of each group."""
        G, A = self.succ.shape
        return (span_lo[:G * A].reshape(G, A).min(axis=1).copy(), span_hi[:G * A].reshape(G, A).max(axis=1).copy())


def sticky_layout(nxt: np.ndarray, pr: np.ndarray, R: np.ndarray, *, rtol: float = 1e-13) -> StickyLayout | None:
    """The :class:`StickyLayout` of a model whose arrays have the sticky-action form, else ``None``.

    Checked on the arrays (``nxt, pr (1, S, A, 2)``, ``R (1, S, A)``; stationary models only), for the first
    ``G * A`` states (``G`` whole groups of ``A`` states with successor probabilities ``(1 - p, p)``, as many as
    lead the state list): the first successor of ``(g, b)`` under ``a`` is ``(T(g, a), a)`` with
    probability ``1 - p`` and ``T(g, a)`` the same for every ``b``; the second is ``(T(g, b), b)`` with probability
    ``p`` (the same ``p`` everywhere, ``0 < p < 1``); every successor is one of the ``G * A`` states; and
    ``R((g, b), a) = (1 - p) r(g, a) + p r(g, b)`` with ``r(g, a) = R((g, a), a)``, to ``rtol`` (the builder rounded
    it). States after ``G * A`` are unconstrained (the general kernel sweeps them).
    """
    if nxt.ndim != 4 or nxt.shape[0] != 1 or nxt.shape[3] != 2 or R.shape[0] != 1:
        return None
    _, S, A, _ = nxt.shape
    p = float(pr[0, 0, 0, 1])
    if not 0.0 < p < 1.0:
        return None
    # the sticky states: the longest prefix of whole groups whose probabilities are (1 - p, p)
    sticky = ((pr[0, :, :, 1] == p) & (pr[0, :, :, 0] == 1.0 - p)).all(axis=1)
    G = (S if sticky.all() else int(np.argmin(sticky))) // A
    if G < 1:
        return None
    n = G * A
    first = nxt[0, :n, :, 0].reshape(G, A, A)      # [g, b, a]
    second = nxt[0, :n, :, 1].reshape(G, A, A)
    acts = np.arange(A)
    if (first.min() < 0 or first.max() >= n or second.min() < 0 or second.max() >= n
            or (first % A != acts).any()):
        return None
    succ = first[:, 0, :] // A                      # T(g, a)
    if (first // A != succ[:, None, :]).any():
        return None
    if (second != (succ * A + acts)[:, :, None]).any():  # (T(g, b), b) for every a
        return None
    Rg = R[0, :n].reshape(G, A, A)                  # [g, b, a]
    r = np.ascontiguousarray(Rg[:, acts, acts])     # r(g, a) = R((g, a), a)
    expect = (1.0 - p) * r[:, None, :] + p * r[:, :, None]
    if not np.allclose(Rg, expect, rtol=rtol, atol=rtol):
        return None
    return StickyLayout(np.ascontiguousarray(succ, np.int64), r, p)


@dataclasses.dataclass(frozen=True)
class FactoredSweep:
    """What the factored iterate sweeps: ``layout``, the group spans ``glo, ghi (G,)``, the group masks ``subg (G, H)``
    (:func:`group_subopt`), and ``rest_lo (S,)``: the span starts with the sticky states' emptied (``H``), for the
    general kernel on the states after them."""

    layout: StickyLayout
    glo: np.ndarray
    ghi: np.ndarray
    subg: np.ndarray
    rest_lo: np.ndarray


def factored_sweep(layout: StickyLayout | None, subopt: np.ndarray, M: np.ndarray, span_lo: np.ndarray,
                   span_hi: np.ndarray) -> FactoredSweep | None:
    """The :class:`FactoredSweep` of a layout, or ``None`` (no layout, or :func:`group_subopt` found none)."""
    subg = group_subopt(layout, subopt, M) if layout is not None else None
    if subg is None:
        return None
    rest_lo = span_lo.copy()
    rest_lo[:layout.groups * layout.succ.shape[1]] = M.shape[1]
    return FactoredSweep(layout, *layout.group_spans(span_lo, span_hi), subg, rest_lo)


def group_subopt(layout: StickyLayout, subopt: np.ndarray, M: np.ndarray) -> np.ndarray | None:
    """The ``Q*``-suboptimal action masks per group, ``(G, H)``, or ``None`` where they differ between two reachable
    states of a group (possible only through rounding at the precision boundary: the general kernel then decides).

    ``subopt (S, H)`` state-major masks of the model, ``M (S, H)`` reachability (unreachable entries are ignored).
    """
    G, A = layout.succ.shape
    H = subopt.shape[1]
    sub = subopt[:G * A].reshape(G, A, H)
    reach = M[:G * A].reshape(G, A, H)
    merged = np.bitwise_or.reduce(np.where(reach, sub, 0).astype(sub.dtype), axis=1)
    if (reach & (sub != merged[:, None, :])).any():
        return None
    return np.ascontiguousarray(merged)


def summary_columns(layout: StickyLayout | None, S: int):
    """``(rows, C)``: the column ``rows[s]`` (int64 ``(S,)``) of each state's summaries of ``Q^k`` among ``C``.

    Without a layout, every state has its own (the identity, ``C = S``); with one, the ``G * A`` sticky states
    share their group's column ``s // A`` and the states after them take the next columns (``C = G + S - G A``).
    """
    identity = np.arange(S, dtype=np.int64)
    if layout is None:
        return identity, S
    G, A = layout.succ.shape
    n = G * A
    return np.concatenate([identity[:n] // A, G + identity[:S - n]]), G + S - n


@nb.njit(cache=True, parallel=True, error_model="numpy")
def _sticky_iterate(succ, reward, p, glo, ghi, U, subg, t_stop, need_ties, need_gap, U_out, ties, gap, above):
    """One backup of the factored iterate on the ``G * A`` sticky states (the rest are left as they are).

    ``X_t(g, a) = r(g, a) + U[T(g, a) * A + a, t + 1]``; ``U_out[g * A + b, t] = (1 - p) max_a X + p X(g, b)``;
    the summaries of the ``A`` states of group ``g``, the same for all of them, once, in column ``g``:
    ``ties[t, g]`` the argmax mask of ``X_t(g, .)``, ``above[t, g]`` the mask of ``X > bsub`` and
    ``gap[t, g] = (1 - p)(max X - bsub)``, with ``bsub`` the maximum of ``X`` over ``subg[g, t]`` (``-inf`` if
    empty). Readers map state ``s < G * A`` to column ``s // A`` (the walks' ``rows``): one column per group
    writes and reads ``A`` times less than one per state. For ``glo[g] <= t < min(t_stop, ghi[g])``. Layouts and
    flags as in :func:`~.effective_horizon_iterates._iterate` (``U``, ``U_out`` state-major ``(S, H + 1)``; summaries
    step-major ``(H, C)`` with ``C >= G`` columns); ``succ, reward (G, A)``, ``glo, ghi (G,)``, ``subg (G, H)``.
    """
    G, A = succ.shape
    H = U.shape[1] - 1
    q = 1.0 - p
    fin = A & 1
    one = np.uint64(1)
    nblocks = (G + _BLOCK - 1) // _BLOCK  # blocks of groups (base states), A sticky states each
    for blk in nb.prange(nblocks):
        g0 = blk * _BLOCK
        g1 = min(G, g0 + _BLOCK)
        X, mx, bs, tl, al, gl = _block_scratch(A, H, ties)
        t_lo, t_hi = H, 0
        for g in range(g0, g1):
            lo, hi = glo[g], min(t_stop, ghi[g])
            if hi <= lo:
                continue
            t_lo, t_hi = min(t_lo, lo), max(t_hi, hi)
            o, m = np.uint64(lo), np.uint64(hi - lo)
            for i in range(m):
                mx[0, o + i] = -np.inf
            for a in range(A):
                r = reward[g, a]
                n = np.uint64(succ[g, a] * A + a)
                for i in range(m):
                    X[a, o + i] = r + U[n, o + one + i]
                src = np.uint64(a & 1)
                dst = np.uint64((a + 1) & 1)
                for i in range(m):
                    v = X[a, o + i]
                    w = mx[src, o + i]
                    mx[dst, o + i] = v if v > w else w
            if need_gap:
                _sub_best(X, subg, g, A, lo, hi, bs)
            for b in range(A):
                s = np.uint64(g * A + b)
                for i in range(m):
                    U_out[s, o + i] = q * mx[fin, o + i] + p * X[b, o + i]
            _summaries(X, mx, bs, A, lo, hi, need_ties, need_gap, g - g0, tl, al, gl)
        for t in range(t_lo, t_hi):
            for g in range(g0, g1):
                if glo[g] <= t and t < min(t_stop, ghi[g]):
                    if need_ties:
                        ties[t, g] = tl[g - g0, t]
                    if need_gap:
                        above[t, g] = al[g - g0, t]
                        gap[t, g] = q * gl[g - g0, t]


def _sticky_iterate_reference(succ, reward, p, glo, ghi, U, subg, t_stop, need_ties, need_gap, U_out, ties, gap,
                              above):
    """Twin of :func:`_sticky_iterate`."""
    G, A = succ.shape
    H = U.shape[1] - 1
    q = 1.0 - p
    nxt_state = succ * A + np.arange(A)
    for t in range(min(t_stop, H)):
        gs = np.flatnonzero((glo <= t) & (t < ghi))
        X = reward[gs] + U[nxt_state[gs], t + 1]                                   # (n, A)
        best = X.max(axis=1)
        sub = _unbits(np.asarray(subg[gs, t], np.uint64), A)
        bsub = np.where(sub, X, -np.inf).max(axis=1)
        U_out[(gs[:, None] * A + np.arange(A)).ravel(), t] = (q * best[:, None] + p * X).ravel()
        if need_ties:
            ties[t, gs] = _bits(X >= best[:, None])
        if need_gap:
            above[t, gs] = _bits(X > bsub[:, None])
            gap[t, gs] = q * (best - bsub)
