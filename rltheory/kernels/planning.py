"""Planning kernels: Bellman sweeps, batched policy evaluation, optimistic backward induction.

Each public kernel has a NumPy reference twin (``*_reference``) that computes the same
quantity with array operations (and runs on CuPy arrays unchanged); tests check agreement.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np
from numba.extending import overload

from ..backend import get_namespace

__all__ = [
    "bellman_sweep",
    "bellman_sweep_parallel",
    "bellman_sweep_reference",
    "optimistic_backward_induction",
    "optimistic_backward_induction_reference",
    "greedy_tiebreak_one",
    "greedy_tiebreak_reference",
    "evaluate_policy_one",
    "transition_arrays",
    "ExactModel",
    "exact_model",
    "policy_value_one",
    "policy_value_update_one",
    "policy_values",
    "policy_values_reference",
]


# ---------------------------------------------------------------------------- discounted sweep


@nb.njit(cache=True, fastmath={"reassoc", "contract"})
def bellman_sweep(P, R, gamma, V, Q, V_new):
    """One synchronous Bellman optimality sweep of a discounted model (in place).

    ``Q[s, a] = R[s, a] + gamma * P[s, a] @ V``; ``V_new[s] = max_a Q[s, a]``.
    Returns ``max_s |V_new[s] - V[s]|``. ``P (S, A, S)``, ``R (S, A)``, ``V, V_new (S,)``,
    ``Q (S, A)``. Serial: one pass over ``P`` at memory bandwidth (see benchmarks); the inner
    product may be reassociated (``fastmath`` reassoc/contract, no NaN/inf assumptions) so that
    it vectorises, which changes results in the last bits only.
    """
    S, A = R.shape
    delta = 0.0
    for s in range(S):
        best = -np.inf
        for a in range(A):
            row = P[s, a]
            acc = 0.0
            for t in range(S):
                acc += row[t] * V[t]
            q = R[s, a] + gamma * acc
            Q[s, a] = q
            if q > best:
                best = q
        d = abs(best - V[s])
        if d > delta:
            delta = d
        V_new[s] = best
    return delta


@nb.njit(parallel=True, cache=True, fastmath={"reassoc", "contract"})
def _bellman_sweep_parallel(P, R, gamma, V, Q, V_new, diff):
    S, A = R.shape
    for s in nb.prange(S):
        best = -np.inf
        for a in range(A):
            row = P[s, a]
            acc = 0.0
            for t in range(S):
                acc += row[t] * V[t]
            q = R[s, a] + gamma * acc
            Q[s, a] = q
            if q > best:
                best = q
        diff[s] = abs(best - V[s])
        V_new[s] = best
    return diff.max()


def bellman_sweep_parallel(P, R, gamma, V, Q, V_new):
    """:func:`bellman_sweep` with ``prange`` over states (Numba's threads), same arguments and result.

    Worth it when ``P`` is large (a launch costs microseconds): :func:`rltheory.planning.value_iteration`
    uses it from ``S * S * A >= PARALLEL_SWEEP_MIN`` entries.
    """
    return _bellman_sweep_parallel(P, R, gamma, V, Q, V_new, np.empty(R.shape[0]))


#: Number of entries of ``P`` from which value iteration sweeps in parallel.
PARALLEL_SWEEP_MIN = 1_000_000


def bellman_sweep_reference(P, R, gamma, V):
    """Twin of :func:`bellman_sweep`: returns ``(Q, V_new, delta)``."""
    xp = get_namespace(P, V)
    Q = R + gamma * (P @ V)
    V_new = Q.max(axis=1)
    return Q, V_new, float(xp.max(xp.abs(V_new - V)))


# ---------------------------------------------------------------------------- optimism


@nb.njit(cache=True)
def optimistic_backward_induction_one(counts_sas, counts_sa, reward_sum, inv_n, bonus, Q_prev, vmax, Q, V, U):
    """Optimistic backward induction on empirical estimates, one replicate (in place).

    For ``h = H-1, ..., 0`` and every ``(s, a)`` with ``n = counts_sa[hc, s, a]``::

        U[h, s, a] = (reward_sum + counts_sas[hc, s, a] @ V[h+1]) / n + bonus[h, s, a]   (inf if n == 0)
        Q[h, s, a] = min(Q_prev[h, s, a], vmax, U[h, s, a])     (vmax if n == 0)
        V[h, s]    = max_a Q[h, s, a],       V[H] = 0

    the update of Azar et al. (2017, Alg. 2); ``U`` is the value before clipping, kept for
    tie-breaking (:func:`greedy_tiebreak_one`). ``Q_prev`` may be the same array as ``Q``.
    Shapes: ``counts_sas (Hc, S, A, S)``, ``counts_sa, reward_sum, inv_n (Hc, S, A)``,
    ``bonus, Q_prev, Q, U (H, S, A)``, ``V (H + 1, S)``; ``inv_n = 1 / counts_sa``
    (:class:`~rltheory.kernels.counts.CountState`), so the division is a multiplication.
    """
    H, S, A = Q.shape
    Hc = counts_sa.shape[0]
    for t in range(S):
        V[H, t] = 0.0
    for h in range(H - 1, -1, -1):
        hc = h if Hc > 1 else 0
        for s in range(S):
            best = -np.inf
            for a in range(A):
                n = counts_sa[hc, s, a]
                if n == 0:
                    q = vmax
                    U[h, s, a] = np.inf
                else:
                    row = counts_sas[hc, s, a]
                    acc = 0.0
                    for t in range(S):
                        acc += row[t] * V[h + 1, t]
                    q = (reward_sum[hc, s, a] + acc) * inv_n[hc, s, a] + bonus[h, s, a]
                    U[h, s, a] = q
                    if q > vmax:
                        q = vmax
                    if q > Q_prev[h, s, a]:
                        q = Q_prev[h, s, a]
                Q[h, s, a] = q
                if q > best:
                    best = q
            V[h, s] = best


@nb.njit(parallel=True, cache=True)
def _optimistic_bi_numba(counts_sas, counts_sa, reward_sum, inv_n, bonus, Q_prev, vmax, Q, V, U):
    for r in nb.prange(Q.shape[0]):
        optimistic_backward_induction_one(counts_sas[r], counts_sa[r], reward_sum[r], inv_n[r], bonus[r], Q_prev[r],
                                          vmax, Q[r], V[r], U[r])


def optimistic_backward_induction(counts_sas, counts_sa, reward_sum, inv_n, bonus, Q_prev, vmax):
    """Batched optimistic backward induction (compiled): returns ``Q, U (n, H, S, A)``, ``V (n, H + 1, S)``.

    See :func:`optimistic_backward_induction_one`; every argument carries a leading replicate axis.
    """
    n, H, S, A = bonus.shape
    Q = np.empty((n, H, S, A))
    U = np.empty((n, H, S, A))
    V = np.empty((n, H + 1, S))
    _optimistic_bi_numba(counts_sas, counts_sa, reward_sum, inv_n, bonus, Q_prev, float(vmax), Q, V, U)
    return Q, V, U


def optimistic_backward_induction_reference(counts_sas, counts_sa, reward_sum, inv_n, bonus, Q_prev, vmax):
    """Twin of :func:`optimistic_backward_induction`, vectorised over replicates."""
    xp = get_namespace(bonus, counts_sas)
    n, H, S, A = bonus.shape
    Hc = counts_sa.shape[1]
    Q = xp.empty((n, H, S, A))
    U = xp.empty((n, H, S, A))
    V = xp.zeros((n, H + 1, S))
    for h in range(H - 1, -1, -1):
        hc = h if Hc > 1 else 0
        N = counts_sa[:, hc]
        pv = xp.sum(counts_sas[:, hc] * V[:, h + 1][:, None, None, :], axis=-1)
        u = (reward_sum[:, hc] + pv) * inv_n[:, hc] + bonus[:, h]
        U[:, h] = xp.where(N == 0, xp.inf, u)
        q = xp.minimum(xp.minimum(u, vmax), Q_prev[:, h])
        Q[:, h] = xp.where(N == 0, vmax, q)
        V[:, h] = Q[:, h].max(axis=-1)
    return Q, V, U


@nb.njit(cache=True)
def greedy_tiebreak_one(Q, U, policy):
    """``policy[h, s]`` = an argmax of ``Q[h, s]``; ties broken by the larger ``U[h, s]``, then the lowest action.

    With ``U`` the unclipped optimistic value this is still a greedy policy of the clipped
    ``Q`` (any tie-breaking is), but it prefers untried actions (``U = inf``) and, among actions
    clipped to the same ceiling, the more optimistic one. ``Q, U (H, S, A)``, ``policy (H, S)``.
    """
    H, S, A = Q.shape
    for h in range(H):
        for s in range(S):
            best = 0
            for a in range(1, A):
                q, qb = Q[h, s, a], Q[h, s, best]
                if q > qb or (q == qb and U[h, s, a] > U[h, s, best]):
                    best = a
            policy[h, s] = best


def greedy_tiebreak_reference(Q, U):
    """Twin of :func:`greedy_tiebreak_one`, for any leading axes: ``(..., H, S)`` int64."""
    xp = get_namespace(Q, U)
    top = Q == Q.max(axis=-1, keepdims=True)
    return xp.argmax(xp.where(top, U, -xp.inf), axis=-1).astype(xp.int64)


# ---------------------------------------------------------------------------- values of mixed policies, any model


class ExactModel(NamedTuple):
    """The true model as compiled kernels read it for *exact* evaluation (never shown to a learner).

    ``P (Hp, S, A, S)`` and ``P_next None`` for a dense model, or the successor lists ``P (Hp, S, A, K)``
    probabilities and ``P_next (Hp, S, A, K)`` next states for a sparse one (:func:`transition_arrays`);
    ``R (H, S, A)``, ``mu (S,)``, ``V_star (H + 1, S)`` the optimal values.
    """

    P: np.ndarray
    P_next: np.ndarray | None
    R: np.ndarray
    mu: np.ndarray
    V_star: np.ndarray


def exact_model(mdp, *, successor_lists: bool = False) -> ExactModel:
    """:class:`ExactModel` of a :class:`~rltheory.models.FiniteHorizonMDP` (dense ``P`` is never built for a
    sparse model).

    ``successor_lists=True`` stores a dense model as its successor lists too when they are at most half as
    long as a row (``K <= S / 2``): evaluation then reads ``K`` entries per pair instead of ``S``, and gives the
    same bits (the lists keep the increasing order of the row and skip only zero terms).
    """
    from ..planning import backward_induction

    P, P_next = transition_arrays(mdp)
    if successor_lists and P_next is None:
        nxt, probs = mdp.successors
        if 2 * nxt.shape[-1] <= mdp.S:
            P, P_next = probs, nxt
    return ExactModel(np.ascontiguousarray(P), P_next, np.ascontiguousarray(mdp.R), np.ascontiguousarray(mdp.mu),
                      np.ascontiguousarray(backward_induction(mdp).V))


def transition_arrays(mdp):
    """``(P, P_next)`` for :func:`policy_values`: ``(P_stages, None)`` for a dense model, the successor lists
    ``(probs, next_states)``, each ``(Hp, S, A, K)``, for a sparse one (dense ``P`` is never built)."""
    if mdp.sparse:
        nxt, probs = mdp.successors
        return probs, nxt
    return mdp.P_stages, None


@nb.njit(inline="always", cache=True)
def _expected_next(P, P_next, hp, s, a, V):
    # sum_{s'} P_h(s' | s, a) V(s'): a dense row (P_next None) or a successor list
    # indexed in place: a row view per call costs more than the sum itself on small models
    acc = 0.0
    if P_next is None:
        for t in range(P.shape[3]):
            acc += P[hp, s, a, t] * V[t]
    else:
        for j in range(P.shape[3]):
            acc += P[hp, s, a, j] * V[P_next[hp, s, a, j]]
    return acc


@nb.njit(inline="always", cache=True)
def _stochastic_state_value(P, P_next, R, policy, h, hp, s, V):
    # sum_a pi_h(a | s) (R_h(s, a) + P_h(s, a) @ V), policy (H, S, A) float64
    v = 0.0
    for a in range(R.shape[2]):
        w = policy[h, s, a]
        if w != 0.0:
            v += w * (R[h, s, a] + _expected_next(P, P_next, hp, s, a, V))
    return v


@nb.njit(inline="always", cache=True)
def _state_action(policy, h, s):
    return policy[h, s]


@nb.njit(inline="always", cache=True)
def _plan_action(policy, h, s):
    return policy[h]


def _make_backward(action):
    """The two backward inductions of :func:`evaluate_policy_one` and :func:`policy_value_one` for one kind of
    policy, as plain compiled loops: ``action(policy, h, s)`` is the action of a deterministic policy
    (``-1``: the mean over the actions), ``None`` a stochastic ``(H, S, A)`` policy.

    The per-state value is written out in each loop rather than called through a helper that returns it
    from two branches: such a helper, even inlined, made the evaluation ~4x slower.
    """
    if action is None:
        @nb.njit(cache=True)
        def two_rows(P, P_next, R, policy, V, V_next):
            H, S, _ = R.shape
            Hp = P.shape[0]
            for t in range(S):
                V_next[t] = 0.0
            for h in range(H - 1, -1, -1):
                hp = h if Hp > 1 else 0
                for s in range(S):
                    V[s] = _stochastic_state_value(P, P_next, R, policy, h, hp, s, V_next)
                for t in range(S):
                    V_next[t] = V[t]

        @nb.njit(cache=True)
        def table(P, R, policy, V):
            H, S, _ = R.shape
            Hp = P.shape[0]
            for t in range(S):
                V[H, t] = 0.0
            for h in range(H - 1, -1, -1):
                hp = h if Hp > 1 else 0
                for s in range(S):
                    V[h, s] = _stochastic_state_value(P, None, R, policy, h, hp, s, V[h + 1])

        return two_rows, table

    @nb.njit(cache=True)
    def two_rows(P, P_next, R, policy, V, V_next):
        # V_next = V^pi_0, keeping two rows
        H, S, A = R.shape
        Hp = P.shape[0]
        for t in range(S):
            V_next[t] = 0.0
        for h in range(H - 1, -1, -1):
            hp = h if Hp > 1 else 0
            for s in range(S):
                a = action(policy, h, s)
                if a >= 0:
                    V[s] = R[h, s, a] + _expected_next(P, P_next, hp, s, a, V_next)
                else:
                    v = 0.0
                    for b in range(A):
                        v += R[h, s, b] + _expected_next(P, P_next, hp, s, b, V_next)
                    V[s] = v / A
            for t in range(S):
                V_next[t] = V[t]

    @nb.njit(cache=True)
    def table(P, R, policy, V):
        # V (H + 1, S) = V^pi on a dense model
        H, S, A = R.shape
        Hp = P.shape[0]
        for t in range(S):
            V[H, t] = 0.0
        for h in range(H - 1, -1, -1):
            hp = h if Hp > 1 else 0
            for s in range(S):
                a = action(policy, h, s)
                if a >= 0:
                    V[h, s] = R[h, s, a] + _expected_next(P, None, hp, s, a, V[h + 1])
                else:
                    v = 0.0
                    for b in range(A):
                        v += R[h, s, b] + _expected_next(P, None, hp, s, b, V[h + 1])
                    V[h, s] = v / A

    return two_rows, table


_BACKWARD = {3: _make_backward(None), 2: _make_backward(_state_action), 1: _make_backward(_plan_action)}

# The dispatch on the policy's kind is made once per evaluation (an overload selecting a whole compiled loop),
# not once per state: with the per-state dispatch of an overload, UCBVI's exact evaluation of its played policy
# took ~5x as long as this loop.


def _backward_two_rows(P, P_next, R, policy, V, V_next):
    """``V_next = V^pi_0`` by backward induction over two rows (compiled only; see :func:`policy_value_one`)."""
    raise NotImplementedError("compiled only: use policy_values_reference in Python")


@overload(_backward_two_rows)
def _backward_two_rows_overload(P, P_next, R, policy, V, V_next):
    loop = _BACKWARD[policy.ndim][0]
    return lambda P, P_next, R, policy, V, V_next: loop(P, P_next, R, policy, V, V_next)


def _backward_table(P, R, policy, V):
    """``V (H + 1, S) = V^pi`` on a dense model (compiled only; see :func:`evaluate_policy_one`)."""
    raise NotImplementedError("compiled only: use rltheory.planning.evaluate in Python")


@overload(_backward_table)
def _backward_table_overload(P, R, policy, V):
    loop = _BACKWARD[policy.ndim][1]
    return lambda P, R, policy, V: loop(P, R, policy, V)


@nb.njit(cache=True)
def evaluate_policy_one(P, R, policy, V):
    """``V^pi`` of one policy on a dense model, every step kept (in place, ``V (H + 1, S)``).

    ``P (Hp, S, A, S)`` with ``Hp`` in ``{1, H}``; ``R (H, S, A)``; ``policy (H, S)`` int64 or ``(H, S, A)``
    float64. For learners that need the whole table (non-stationary models, gaps per step); the value at the
    start alone is :func:`policy_value_one`. Twin: :func:`rltheory.planning.evaluate` on the model.
    """
    _backward_table(P, R, policy, V)


@nb.njit(cache=True)
def policy_value_one(P, P_next, R, mu, policy, V, V_next):
    """``mu @ V^pi_0`` of one policy on the true model, keeping two rows of values only.

    ``(P, P_next)`` from :func:`transition_arrays` (dense, or successor lists: BRIDGE-size models never
    build a dense ``P``); ``R (H, S, A)``, ``mu (S,)``; ``policy`` ``(H, S)`` int64 (``-1`` = uniformly
    random action), ``(H,)`` int64 open-loop plan (same convention) or ``(H, S, A)`` float64;
    ``V, V_next (S,)`` scratch.
    """
    _backward_two_rows(P, P_next, R, policy, V, V_next)
    out = 0.0
    for t in range(mu.shape[0]):
        out += mu[t] * V_next[t]
    return out


@nb.njit(cache=True)
def policy_value_update_one(P, P_next, R, mu, policy, top, V):
    """``mu @ V^pi_0`` of a deterministic policy, keeping the table ``V (H + 1, S)`` of its values between calls.

    Only the rows ``h <= top`` are recomputed: ``V^pi_h`` depends on the policy at steps ``>= h`` only, so when
    ``policy`` differs from the policy of the previous call at steps ``<= top`` alone, the rows above ``top``
    are still exact (``top = H - 1``: everything, as on a first call; ``top = -1``: nothing). ``V[H]`` must
    be 0. Same arithmetic, in the same order, as :func:`policy_value_one`, so the same bits.
    ``(P, P_next)`` from :func:`transition_arrays`; ``policy (H, S)`` int64 (``-1`` = uniformly random).
    Twin: :func:`policy_values_reference`.
    """
    H, S, A = R.shape
    Hp = P.shape[0]
    for h in range(top, -1, -1):
        hp = h if Hp > 1 else 0
        Vn = V[h + 1]
        for s in range(S):
            a = policy[h, s]
            if a >= 0:
                V[h, s] = R[h, s, a] + _expected_next(P, P_next, hp, s, a, Vn)
            else:
                v = 0.0
                for b in range(A):
                    v += R[h, s, b] + _expected_next(P, P_next, hp, s, b, Vn)
                V[h, s] = v / A
    out = 0.0
    for t in range(S):
        out += mu[t] * V[0, t]
    return out


@nb.njit(parallel=True, cache=True)
def _policy_values_numba(P, P_next, R, mu, policies, out):
    S = R.shape[1]
    for r in nb.prange(policies.shape[0]):
        out[r] = policy_value_one(P, P_next, R, mu, policies[r], np.empty(S), np.empty(S))


def policy_values(P, P_next, R, mu, policies) -> np.ndarray:
    """``mu @ V^pi_0`` of ``n`` policies (leading axis of ``policies``), ``(n,)`` (compiled, ``prange``)."""
    out = np.empty(policies.shape[0])
    _policy_values_numba(P, P_next, R, mu, np.ascontiguousarray(policies), out)
    return out


def policy_values_reference(P, P_next, R, mu, policies):
    """Twin of :func:`policy_values`, vectorised over policies and states."""
    xp = get_namespace(P, policies)
    n = policies.shape[0]
    H, S, A = R.shape
    Hp = P.shape[0]
    V = xp.zeros((n, S))
    rows = xp.arange(n)[:, None]
    for h in range(H - 1, -1, -1):
        hp = h if Hp > 1 else 0
        if P_next is None:
            nextv = xp.einsum("sat,nt->nsa", P[hp], V)
        else:
            nextv = xp.sum(P[hp][None] * V[rows[:, :, None, None], P_next[hp][None]], axis=-1)
        Q = R[h][None] + nextv                                   # (n, S, A)
        if policies.ndim == 4:
            V = xp.sum(policies[:, h] * Q, axis=-1)
            continue
        a = policies[:, h][:, None] if policies.ndim == 2 else policies[:, h]     # (n, 1) or (n, S)
        a = xp.broadcast_to(a, (n, S))
        chosen = xp.take_along_axis(Q, xp.maximum(a, 0)[..., None], axis=-1)[..., 0]
        V = xp.where(a >= 0, chosen, Q.mean(axis=-1))
    return V @ mu
