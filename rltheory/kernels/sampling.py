"""Sampling from exact models: alias tables and replicate-batched trajectories.

Walker's alias method (Vose's construction) draws a next state in O(1) from one uniform
``u``: ``x = u n``, ``i = floor(x)``, and the draw is ``i`` if ``x - i < prob[i]`` else
``alias[i]``. Tables are built once per model (the true ``P`` never changes).

**Policies** given to the samplers: ``(H, S)`` int64 actions, where the entry
:data:`RANDOM_ACTION` (``-1``) means "a uniformly random action" (the exploration part of SQIRL
and GORP); ``(H,)`` int64 open-loop plans (same convention); or ``(H, S, A)`` float64
probabilities. A uniformly random action is ``min(floor(u A), A - 1)`` of the step's action uniform.

**Uniform layout.** A learner's randomness for one episode is a row of ``1 + 3H`` uniforms
in ``[0, 1)``: index 0 draws the initial state; for step ``h``, index ``1 + 3h`` draws the
action (stochastic policies only), ``2 + 3h`` the next state and ``3 + 3h`` the reward
(Bernoulli noise only). Each replicate draws its rows from its own generator
(:mod:`rltheory.rng`), so compiled kernels and their NumPy twins consume identical numbers.

Every public kernel has a NumPy reference twin ``*_reference``; tests check they agree.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np
from numba.extending import overload

from ..backend import get_namespace

__all__ = [
    "RANDOM_ACTION",
    "AliasTables",
    "alias_tables",
    "alias_draw",
    "alias_draw_reference",
    "draw_next_state",
    "next_state",
    "draw_next_state_reference",
    "sample_episode",
    "build_alias",
    "build_alias_reference",
    "alias_distribution",
    "uniforms_per_episode",
    "sample_trajectories",
    "sample_trajectories_reference",
    "choose_action",
]


#: Entry of a deterministic policy or plan meaning "a uniformly random action".
RANDOM_ACTION = -1


def uniforms_per_episode(H: int) -> int:
    """Length of one episode's row of uniforms: ``1 + 3H``."""
    return 1 + 3 * H


# ---------------------------------------------------------------------------- alias tables


@nb.njit(cache=True)
def _build_alias_row(p, prob, alias):
    n = p.shape[0]
    small = np.empty(n, np.int64)
    large = np.empty(n, np.int64)
    q = p * n
    ns = 0
    nl = 0
    for i in range(n):
        if q[i] < 1.0:
            small[ns] = i
            ns += 1
        else:
            large[nl] = i
            nl += 1
    while ns > 0 and nl > 0:
        ns -= 1
        s = small[ns]
        nl -= 1
        g = large[nl]
        prob[s] = q[s]
        alias[s] = g
        q[g] = (q[g] + q[s]) - 1.0
        if q[g] < 1.0:
            small[ns] = g
            ns += 1
        else:
            large[nl] = g
            nl += 1
    while nl > 0:
        nl -= 1
        prob[large[nl]] = 1.0
        alias[large[nl]] = large[nl]
    while ns > 0:  # only reached through rounding: these columns are (numerically) full
        ns -= 1
        prob[small[ns]] = 1.0
        alias[small[ns]] = small[ns]


@nb.njit(cache=True)
def build_alias(p):
    """Alias tables for every row of ``p`` (last axis is a distribution).

    Parameters
    ----------
    p : float64 array ``(M, n)``

    Returns
    -------
    prob : float64 ``(M, n)``, alias : int64 ``(M, n)``
    """
    M, n = p.shape
    prob = np.empty((M, n))
    alias = np.empty((M, n), np.int64)
    for m in range(M):
        _build_alias_row(p[m], prob[m], alias[m])
    return prob, alias


def build_alias_reference(p: np.ndarray):
    """Plain-Python twin of :func:`build_alias` (Vose's construction, same stack order)."""
    p = np.asarray(p, dtype=np.float64)
    M, n = p.shape
    prob = np.empty((M, n))
    alias = np.empty((M, n), np.int64)
    for m in range(M):
        q = list(p[m] * n)
        small = [i for i in range(n) if q[i] < 1.0]
        large = [i for i in range(n) if q[i] >= 1.0]
        while small and large:
            s, g = small.pop(), large.pop()
            prob[m, s], alias[m, s] = q[s], g
            q[g] = (q[g] + q[s]) - 1.0
            (small if q[g] < 1.0 else large).append(g)
        for i in large + small:
            prob[m, i], alias[m, i] = 1.0, i
    return prob, alias


def alias_distribution(prob: np.ndarray, alias: np.ndarray) -> np.ndarray:
    """The distribution an alias table samples from (exact, for tests): ``(..., n)``."""
    n = prob.shape[-1]
    flat_p = prob.reshape(-1, n)
    flat_a = alias.reshape(-1, n)
    out = flat_p.copy()
    rows = np.repeat(np.arange(flat_p.shape[0]), n)
    np.add.at(out, (rows, flat_a.ravel()), (1.0 - flat_p).ravel())
    return (out / n).reshape(prob.shape)


class AliasTables(NamedTuple):
    """Alias tables of a finite-horizon model.

    Attributes
    ----------
    P_prob, P_alias : ``(Hp, S, A, S)`` tables of ``P_stages`` (``Hp`` is 1 or ``H``); for a sparse
        model ``(Hp, S, A, K)`` tables over the successor lists, whose draws are column indices.
    mu_prob, mu_alias : ``(S,)`` tables of the initial distribution.
    R : ``(H, S, A)`` mean rewards; bernoulli : whether observed rewards are Bernoulli(R).
    P_next : ``None`` (dense), or ``(Hp, S, A, K)`` int64: the next state of each column (sparse).
    """

    P_prob: np.ndarray
    P_alias: np.ndarray
    mu_prob: np.ndarray
    mu_alias: np.ndarray
    R: np.ndarray
    bernoulli: bool
    P_next: np.ndarray | None = None

    # a NamedTuple, so that compiled kernels take the tables as one argument


_ALIAS_CACHE_ATTR = "_rltheory_alias_tables"


def alias_tables(mdp) -> AliasTables:
    """Alias tables of a :class:`~rltheory.models.FiniteHorizonMDP` (cached on the model)."""
    cached = mdp.__dict__.get(_ALIAS_CACHE_ATTR)
    if cached is not None:
        return cached
    S = mdp.S
    if mdp.sparse:
        P_next, Ps = mdp.successors
    else:
        P_next, Ps = None, mdp.P_stages
    prob, alias = build_alias(np.ascontiguousarray(Ps.reshape(-1, Ps.shape[-1])))
    mp, ma = build_alias(np.ascontiguousarray(mdp.mu.reshape(1, S)))
    tables = AliasTables(prob.reshape(Ps.shape), alias.reshape(Ps.shape), mp[0], ma[0],
                         np.ascontiguousarray(mdp.R), mdp.reward_noise == "bernoulli", P_next)
    mdp.__dict__[_ALIAS_CACHE_ATTR] = tables
    return tables


# ---------------------------------------------------------------------------- trajectories


@nb.njit(inline="always", cache=True)
def alias_draw(prob_row, alias_row, u):
    """A draw from one alias table row (``prob_row, alias_row (n,)``) with one uniform ``u``: an index in ``[0, n)``."""
    n = prob_row.shape[0]
    x = u * n
    i = int(x)
    if i >= n:
        i = n - 1
    if x - i < prob_row[i]:
        return i
    return alias_row[i]


@nb.njit(inline="always", cache=True)
def _uniform_action(u, A):
    a = int(u * A)
    return a if a < A else A - 1


@nb.njit(inline="always", cache=True)
def _categorical_draw(p_row, u):
    # first a with u < cumsum(p)[a]; falls back to the last action with positive mass
    c = 0.0
    last = 0
    for a in range(p_row.shape[0]):
        if p_row[a] > 0.0:
            last = a
            c += p_row[a]
            if u < c:
                return a
    return last


def choose_action(policy, h, s, u, A):
    """Action of ``policy`` at step ``h`` in state ``s`` given the uniform ``u`` (compiled dispatch on its type).

    ``(H,)`` int64 plan: ``policy[h]``; ``(H, S)`` int64: ``policy[h, s]`` (for both, ``-1`` = uniformly
    random, ``min(floor(u A), A - 1)``); ``(H, S, A)`` float64: the first ``a`` with
    ``u < cumsum(policy[h, s])[a]``.
    """
    if policy.ndim == 3:
        return int(_categorical_draw.py_func(policy[h, s], u))
    a = int(policy[h] if policy.ndim == 1 else policy[h, s])
    return a if a >= 0 else _uniform_action.py_func(u, A)


@overload(choose_action)
def _choose_action_overload(policy, h, s, u, A):
    if policy.ndim == 3:
        return lambda policy, h, s, u, A: _categorical_draw(policy[h, s], u)

    if policy.ndim == 1:
        def plan(policy, h, s, u, A):
            a = policy[h]
            return a if a >= 0 else _uniform_action(u, A)

        return plan

    def deterministic(policy, h, s, u, A):
        a = policy[h, s]
        return a if a >= 0 else _uniform_action(u, A)

    return deterministic


@nb.njit(inline="always", cache=True)
def draw_next_state(P_prob, P_alias, P_next, hp, s, a, u):
    """Next state after ``(s, a)`` at stage ``hp`` from the model's alias tables and one uniform ``u``.

    ``P_next`` is ``None`` for a dense model (a draw is the next state) or ``(Hp, S, A, K)`` for a sparse
    one (a draw is a column of the successor list); Numba compiles one specialisation per case.
    """
    j = alias_draw(P_prob[hp, s, a], P_alias[hp, s, a], u)
    if P_next is not None:
        return P_next[hp, s, a, j]
    return j


@nb.njit(cache=True)
def next_state(P_prob, P_alias, P_next, hp, s, a, u):
    """:func:`draw_next_state` as a real call, for kernels whose ``P_next`` comes from a record's field.

    ``draw_next_state`` is inlined (``inline="always"``: a call per step costs half of UCBVI's speed), and
    Numba prunes its ``P_next is not None`` branch only when ``P_next`` is an argument of the function it
    is inlined into; here it is.
    """
    return draw_next_state(P_prob, P_alias, P_next, hp, s, a, u)


@nb.njit(cache=True)
def sample_episode(P_prob, P_alias, P_next, mu_prob, mu_alias, R, bernoulli, policy, u, states, actions, rewards):
    """One episode of one replicate of a dense (``P_next=None``) or sparse model (in-place outputs).

    Tables as in :class:`AliasTables`; ``policy`` of any kind of the module docstring; ``u`` the
    episode's ``1 + 3H`` uniforms; ``states (H+1,)``, ``actions (H,)``, ``rewards (H,)``.
    """
    H, _, A = R.shape
    Hp = P_prob.shape[0]
    s = alias_draw(mu_prob, mu_alias, u[0])
    states[0] = s
    for h in range(H):
        a = choose_action(policy, h, s, u[1 + 3 * h], A)
        hp = h if Hp > 1 else 0
        r = R[h, s, a]
        if bernoulli:
            r = 1.0 if u[3 + 3 * h] < r else 0.0
        s_next = draw_next_state(P_prob, P_alias, P_next, hp, s, a, u[2 + 3 * h])
        actions[h] = a
        rewards[h] = r
        states[h + 1] = s_next
        s = s_next


@nb.njit(parallel=True, cache=True)
def _sample_trajectories_numba(P_prob, P_alias, P_next, mu_prob, mu_alias, R, bernoulli, policies, u):
    n_rep = u.shape[0]
    H = R.shape[0]
    states = np.empty((n_rep, H + 1), np.int64)
    actions = np.empty((n_rep, H), np.int64)
    rewards = np.empty((n_rep, H))
    for r in nb.prange(n_rep):
        sample_episode(P_prob, P_alias, P_next, mu_prob, mu_alias, R, bernoulli, policies[r], u[r],
                        states[r], actions[r], rewards[r])
    return states, actions, rewards


def sample_trajectories(tables: AliasTables, policies: np.ndarray, u: np.ndarray):
    """One episode for each replicate (compiled, ``prange`` over replicates).

    Parameters
    ----------
    tables : :class:`AliasTables` of the true model.
    policies : ``(n, H, S)`` int64 actions, ``(n, H)`` int64 open-loop plans (``-1`` = uniformly random
        for both) or ``(n, H, S, A)`` float64 probabilities.
    u : ``(n, 1 + 3H)`` uniforms (layout in the module docstring).

    Returns
    -------
    states ``(n, H + 1)`` int64, actions ``(n, H)`` int64, rewards ``(n, H)`` float64.
    """
    return _sample_trajectories_numba(tables.P_prob, tables.P_alias, tables.P_next, tables.mu_prob, tables.mu_alias,
                                      tables.R, tables.bernoulli, policies, u)


def alias_draw_reference(prob, alias, u):
    """Twin of :func:`alias_draw`, vectorised: rows ``prob, alias (..., n)``, uniforms ``u (...)``."""
    xp = get_namespace(prob, u)
    n = prob.shape[-1]
    x = u * n
    i = xp.minimum(xp.floor(x).astype(xp.int64), n - 1)
    p_i = xp.take_along_axis(prob, i[..., None], axis=-1)[..., 0]
    a_i = xp.take_along_axis(alias, i[..., None], axis=-1)[..., 0]
    return xp.where(x - i < p_i, i, a_i)


def _categorical_draw_reference(p, u):
    xp = get_namespace(p, u)
    c = xp.cumsum(p, axis=-1)
    hit = (u[..., None] < c) & (p > 0)
    n = p.shape[-1]
    idx = xp.arange(n)
    last = xp.max(xp.where(p > 0, idx, 0), axis=-1)
    first = xp.min(xp.where(hit, idx, n), axis=-1)
    return xp.where(first < n, first, last)


def draw_next_state_reference(tables: AliasTables, hp: int, s, a, u):
    """Twin of :func:`draw_next_state`, vectorised over arrays ``s, a, u`` of one shape."""
    xp = get_namespace(s, u)
    col = alias_draw_reference(xp.asarray(tables.P_prob)[hp, s, a], xp.asarray(tables.P_alias)[hp, s, a], u)
    return col if tables.P_next is None else xp.asarray(tables.P_next)[hp, s, a, col]


def _choose_reference(policies, rows, h, s, u, A):
    """Twin of :func:`choose_action` for one step of every replicate (``policies`` with a leading axis)."""
    xp = get_namespace(policies, u)
    if policies.ndim == 4:
        return _categorical_draw_reference(policies[rows, h, s], u)
    a = policies[:, h] if policies.ndim == 2 else policies[rows, h, s]
    return xp.where(a >= 0, a, xp.minimum(xp.floor(u * A).astype(xp.int64), A - 1))


def sample_trajectories_reference(tables: AliasTables, policies, u):
    """NumPy/CuPy twin of :func:`sample_trajectories`, vectorised over replicates."""
    xp = get_namespace(policies, u)
    R = xp.asarray(tables.R)
    n_rep = u.shape[0]
    H = R.shape[0]
    Hp = tables.P_prob.shape[0]
    A = R.shape[2]
    rows = xp.arange(n_rep)
    states = xp.empty((n_rep, H + 1), dtype=xp.int64)
    actions = xp.empty((n_rep, H), dtype=xp.int64)
    rewards = xp.empty((n_rep, H))
    mu_prob = xp.broadcast_to(xp.asarray(tables.mu_prob), (n_rep, R.shape[1]))
    mu_alias = xp.broadcast_to(xp.asarray(tables.mu_alias), (n_rep, R.shape[1]))
    s = alias_draw_reference(mu_prob, mu_alias, u[:, 0])
    states[:, 0] = s
    for h in range(H):
        a = _choose_reference(policies, rows, h, s, u[:, 1 + 3 * h], A)
        hp = h if Hp > 1 else 0
        r = R[h, s, a]
        if tables.bernoulli:
            r = xp.where(u[:, 3 + 3 * h] < r, 1.0, 0.0)
        s = draw_next_state_reference(tables, hp, s, a, u[:, 2 + 3 * h])
        actions[:, h] = a
        rewards[:, h] = r
        states[:, h + 1] = s
    return states, actions, rewards
