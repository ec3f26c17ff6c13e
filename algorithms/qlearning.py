"""Tabular Q-learning with epsilon-greedy exploration: the "deep RL without the network" baseline.

Finite-horizon, stage-indexed Q-learning (Watkins & Dayan 1992) with the step size of Jin,
Allen-Zhu, Bubeck & Jordan (2018, *Is Q-learning provably efficient?*, NeurIPS, Alg. 1):
``alpha_n = (H + 1) / (H + n)`` after the ``n``-th visit of ``(h, s, a)``, but no exploration bonus:
exploration is epsilon-greedy, as in the DQN runs the effective-horizon papers compare against. The
update after each step is::

    Q_h(s, a) <- (1 - alpha) Q_h(s, a) + alpha (r + max_a' Q_{h+1}(s', a'))      (Q_H = 0)

Acting: with probability ``epsilon`` a uniformly random action, otherwise a greedy one with ties
broken uniformly at random (both from the step's action uniform ``u``: ``u < epsilon`` picks
``floor(u / epsilon A)``, else tie number ``floor((u - epsilon) / (1 - epsilon) n_ties)``). The
*recommended* policy after each episode is greedy in ``Q`` with ties to the lowest action; its exact value
is recomputed whenever one of its actions changed. Trace arrays ``(replicates, episodes)``: ``values``,
``suboptimality`` (``V* - values``), ``returns``.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from rltheory.algorithm import register_algorithm
from rltheory.errors import InvalidParameterError
from rltheory.kernels.planning import exact_model, policy_value_one, policy_values, policy_values_reference
from rltheory.kernels.sampling import (
    alias_draw,
    alias_draw_reference,
    alias_tables,
    draw_next_state_reference,
    next_state,
)
from rltheory.runner import EpisodicLearner
from rltheory.validation import check_real

__all__ = ["QLearning"]

#: Arrays the step writes, each ``(replicates, episodes)``: ``values`` of the *recommended* greedy
#: policy, ``returns`` sampled, ``played`` the exact value of the epsilon-greedy policy played.
TRACE_ARRAYS = ("values", "returns", "played")


class QParams(NamedTuple):
    epsilon: float
    jin: bool  #: step size (H + 1) / (H + n) of Jin et al. (2018); False: the constant ``alpha``
    alpha: float


class QState(NamedTuple):
    """One run's state, each with a leading replicate axis."""

    Q: np.ndarray  #: ``(n, H, S, A)``
    N: np.ndarray  #: ``(n, H, S, A)`` visits
    greedy: np.ndarray  #: ``(n, H, S)`` recommended policy (lowest action on ties)
    value: np.ndarray  #: ``(n,)`` its exact value
    play: np.ndarray  #: ``(n, H, S, A)`` the epsilon-greedy policy played (ties uniform)
    play_value: np.ndarray  #: ``(n,)`` its exact value
    play_stale: np.ndarray  #: ``(n,)`` bool: ``play`` changed since ``play_value`` was computed


class QOut(NamedTuple):
    values: np.ndarray
    returns: np.ndarray
    played: np.ndarray


@nb.njit(cache=True)
def _play_row(q, epsilon, row):
    """``row[a] = epsilon / A + (1 - epsilon) 1{a ties for max q} / n_ties``; returns whether it changed."""
    A = q.shape[0]
    best = -np.inf
    for b in range(A):
        if q[b] > best:
            best = q[b]
    nt = 0
    for b in range(A):
        if q[b] == best:
            nt += 1
    changed = False
    for b in range(A):
        p = epsilon / A + ((1.0 - epsilon) / nt if q[b] == best else 0.0)
        if p != row[b]:
            row[b] = p
            changed = True
    return changed


@nb.njit(parallel=True, cache=True)
def _qlearning_chunk(tables, model, state, params, u, out):
    """Episodes of a chunk for every replicate (``prange``), in place (records in the module)."""
    n, c, _ = u.shape
    H, S, A = tables.R.shape
    Hp = tables.P_prob.shape[0]
    # unpack the records before prange (writes through a record's field inside prange are lost)
    P_prob, P_alias, mu_prob, mu_alias, R, bernoulli, P_next = tables
    P, P_eval_next, R_eval, mu, _ = model
    epsilon, jin, alpha = params
    Q, N, greedy, value, play, play_value, play_stale = state
    values_out, returns_out, played_out = out
    for r in nb.prange(n):
        V = np.empty(S)
        V_next = np.empty(S)
        for e in range(c):
            if play_stale[r]:
                play_value[r] = policy_value_one(P, P_eval_next, R_eval, mu, play[r], V, V_next)
                play_stale[r] = False
            played_out[r, e] = play_value[r]
            ue = u[r, e]
            s = alias_draw(mu_prob, mu_alias, ue[0])
            changed = False
            tot = 0.0
            for h in range(H):
                ua = ue[1 + 3 * h]
                if ua < epsilon:
                    a = int(ua / epsilon * A)
                    if a >= A:
                        a = A - 1
                else:
                    best = -np.inf
                    for b in range(A):
                        if Q[r, h, s, b] > best:
                            best = Q[r, h, s, b]
                    nt = 0
                    for b in range(A):
                        if Q[r, h, s, b] == best:
                            nt += 1
                    pick = int((ua - epsilon) / (1.0 - epsilon) * nt)
                    if pick >= nt:
                        pick = nt - 1
                    a = 0
                    for b in range(A):
                        if Q[r, h, s, b] == best:
                            if pick == 0:
                                a = b
                                break
                            pick -= 1
                hp = h if Hp > 1 else 0
                rew = R[h, s, a]
                if bernoulli:
                    rew = 1.0 if ue[3 + 3 * h] < rew else 0.0
                s2 = next_state(P_prob, P_alias, P_next, hp, s, a, ue[2 + 3 * h])
                tot += rew
                N[r, h, s, a] += 1
                step = (H + 1.0) / (H + N[r, h, s, a]) if jin else alpha
                nxt = 0.0
                if h < H - 1:
                    nxt = -np.inf
                    for b in range(A):
                        if Q[r, h + 1, s2, b] > nxt:
                            nxt = Q[r, h + 1, s2, b]
                Q[r, h, s, a] = (1.0 - step) * Q[r, h, s, a] + step * (rew + nxt)
                if _play_row(Q[r, h, s], epsilon, play[r, h, s]):
                    play_stale[r] = True
                g = 0
                for b in range(1, A):
                    if Q[r, h, s, b] > Q[r, h, s, g]:
                        g = b
                if g != greedy[r, h, s]:
                    greedy[r, h, s] = g
                    changed = True
                s = s2
            if changed:
                value[r] = policy_value_one(P, P_eval_next, R_eval, mu, greedy[r], V, V_next)
            values_out[r, e] = value[r]
            returns_out[r, e] = tot


def _play_rows_reference(q, epsilon):
    """Twin of :func:`_play_row` for rows ``q (m, A)``: the played distributions ``(m, A)``."""
    A = q.shape[-1]
    ties = q == q.max(axis=-1, keepdims=True)
    nt = ties.sum(axis=-1, keepdims=True)
    return epsilon / A + np.where(ties, (1.0 - epsilon) / nt, 0.0)


def _qlearning_chunk_reference(tables, model, state, params, u, out):
    """Twin of :func:`_qlearning_chunk`, vectorised over replicates."""
    n, c, _ = u.shape
    H, S, A = tables.R.shape
    Hp = tables.P_prob.shape[0]
    epsilon, jin, alpha = params
    Q, N, greedy, value, play, play_value, play_stale = state
    rows = np.arange(n)
    for e in range(c):
        if play_stale.any():
            idx = np.flatnonzero(play_stale)
            play_value[idx] = policy_values_reference(model.P, model.P_next, model.R, model.mu, play[idx])
            play_stale[:] = False
        out.played[:, e] = play_value
        ue = u[:, e]
        s = alias_draw_reference(np.broadcast_to(tables.mu_prob, (n, S)), np.broadcast_to(tables.mu_alias, (n, S)),
                                 ue[:, 0])
        changed = np.zeros(n, bool)
        tot = np.zeros(n)
        for h in range(H):
            ua = ue[:, 1 + 3 * h]
            q = Q[rows, h, s]                                        # (n, A)
            ties = q == q.max(axis=1, keepdims=True)
            nt = ties.sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                pick = np.minimum(((ua - epsilon) / (1.0 - epsilon) * nt).astype(np.int64), nt - 1)
            rank = np.cumsum(ties, axis=1) - 1
            greedy_a = np.argmax(ties & (rank == pick[:, None]), axis=1)
            rnd = np.minimum((ua / epsilon * A).astype(np.int64), A - 1) if epsilon > 0 else np.zeros(n, np.int64)
            a = np.where(ua < epsilon, rnd, greedy_a)
            hp = h if Hp > 1 else 0
            rew = tables.R[h, s, a]
            if tables.bernoulli:
                rew = np.where(ue[:, 3 + 3 * h] < rew, 1.0, 0.0)
            s2 = draw_next_state_reference(tables, hp, s, a, ue[:, 2 + 3 * h])
            tot = tot + rew
            N[rows, h, s, a] += 1
            step = (H + 1.0) / (H + N[rows, h, s, a]) if jin else np.full(n, alpha)
            nxt = Q[rows, h + 1, s2].max(axis=1) if h < H - 1 else np.zeros(n)
            Q[rows, h, s, a] = (1.0 - step) * Q[rows, h, s, a] + step * (rew + nxt)
            new_rows = _play_rows_reference(Q[rows, h, s], epsilon)
            play_stale |= (new_rows != play[rows, h, s]).any(axis=1)
            play[rows, h, s] = new_rows
            g = np.argmax(Q[rows, h, s], axis=1)
            changed |= g != greedy[rows, h, s]
            greedy[rows, h, s] = g
            s = s2
        if changed.any():
            idx = np.flatnonzero(changed)
            value[idx] = policy_values_reference(model.P, model.P_next, model.R, model.mu, greedy[idx])
        out.values[:, e] = value
        out.returns[:, e] = tot


class _Run(NamedTuple):
    tables: object
    model: object
    state: QState
    params: QParams
    v_star: float


@register_algorithm
class QLearning(EpisodicLearner):
    """Tabular finite-horizon Q-learning with epsilon-greedy exploration (module docstring).

    Parameters
    ----------
    epsilon : float in [0, 1]
        Probability of a uniformly random action.
    step_size : "jin" or float in (0, 1]
        ``(H + 1) / (H + n)`` (Jin et al. 2018) or a constant.
    initial_value : float
        Initial ``Q`` (0: pessimistic for rewards in [0, 1]; ``H``: optimistic).

    Trace arrays, each ``(replicates, episodes)``: ``regret`` (``V*`` minus the exact value of the
    epsilon-greedy policy *played*, ties uniform), ``played`` (that value), ``values`` (exact value of the
    *recommended* greedy policy, lowest action on ties), ``suboptimality`` (``V* - values``), ``returns``.
    """

    label = "Q-learning"
    trace_arrays = TRACE_ARRAYS

    def __init__(self, *, epsilon: float = 0.1, step_size="jin", initial_value: float = 0.0):
        self.epsilon = check_real(epsilon, "epsilon", low=0.0, high=1.0)
        if isinstance(step_size, str):
            if step_size != "jin":
                raise InvalidParameterError("step_size", f"must be 'jin' or a float in (0, 1], got {step_size!r}",
                                            value=step_size)
        else:
            step_size = check_real(step_size, "step_size", low=0.0, high=1.0, low_open=True)
        self.step_size = step_size
        self.initial_value = check_real(initial_value, "initial_value")

    @classmethod
    def conformance_cases(cls) -> list[dict]:
        return [{}, {"epsilon": 0.3, "step_size": 0.5, "initial_value": 1.0}]

    def state_bytes(self, mdp) -> int:
        return 8 * (3 * mdp.H * mdp.S * mdp.A + mdp.H * mdp.S + 3)

    def start(self, mdp, run):
        n, H, S, A = run.replicates, mdp.H, mdp.S, mdp.A
        model = exact_model(mdp)
        evaluate = policy_values if run.backend == "numba" else policy_values_reference
        greedy = np.zeros((n, H, S), np.int64)
        Q = np.full((n, H, S, A), self.initial_value)
        play = np.full((n, H, S, A), 1.0 / A)  # every action ties at the start: uniform, whatever epsilon
        state = QState(Q, np.zeros((n, H, S, A), np.int64), greedy,
                       evaluate(model.P, model.P_next, model.R, model.mu, greedy), play, np.zeros(n),
                       np.ones(n, bool))
        jin = self.step_size == "jin"
        params = QParams(self.epsilon, jin, 0.0 if jin else float(self.step_size))
        return _Run(alias_tables(mdp), model, state, params, float(mdp.mu @ model.V_star[0]))

    def step(self, run, u, start, out):
        _qlearning_chunk(run.tables, run.model, run.state, run.params, u, QOut(*(out[k] for k in TRACE_ARRAYS)))

    def step_reference(self, run, u, start, out):
        _qlearning_chunk_reference(run.tables, run.model, run.state, run.params, u,
                                   QOut(*(out[k] for k in TRACE_ARRAYS)))

    def finish(self, run, arrays) -> dict:
        return {"suboptimality": run.v_star - arrays["values"], "regret": run.v_star - arrays["played"]}
