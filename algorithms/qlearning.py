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

import numba as nb
import numpy as np

from rltheory.algorithm import Algorithm, episode_chunks, register_algorithm
from rltheory.errors import InvalidParameterError
from rltheory.kernels.planning import policy_value_one, transition_arrays
from rltheory.kernels.sampling import (
    alias_draw,
    alias_draw_reference,
    draw_next_state,
    draw_next_state_reference,
)
from rltheory.models import FiniteHorizonMDP
from rltheory.rng import draw_uniforms, generators
from rltheory.trace import Trace
from rltheory.validation import check_real

from .episodic import exact_references

__all__ = ["QLearning"]

TRACE_ARRAYS = ("values", "suboptimality", "returns")


@nb.njit(parallel=True)
def _qlearning_chunk(P_prob, P_alias, P_next, P_eval, P_eval_next, mu_prob, mu_alias, R, mu, bernoulli, epsilon, jin,
                     alpha, Q, N, greedy, value, u, values_out, returns_out):
    n, c, _ = u.shape
    H, S, A = R.shape
    Hp = P_prob.shape[0]
    for r in nb.prange(n):
        V = np.empty(S)
        V_next = np.empty(S)
        for e in range(c):
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
                s2 = draw_next_state(P_prob, P_alias, P_next, hp, s, a, ue[2 + 3 * h])
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
                g = 0
                for b in range(1, A):
                    if Q[r, h, s, b] > Q[r, h, s, g]:
                        g = b
                if g != greedy[r, h, s]:
                    greedy[r, h, s] = g
                    changed = True
                s = s2
            if changed:
                value[r] = policy_value_one(P_eval, P_eval_next, R, mu, greedy[r], V, V_next)
            values_out[r, e] = value[r]
            returns_out[r, e] = tot


def _qlearning_chunk_reference(tables, evaluate, epsilon, jin, alpha, Q, N, greedy, value, u, values_out, returns_out):
    """Twin of :func:`_qlearning_chunk`, vectorised over replicates."""
    n, c, _ = u.shape
    H, S, A = tables.R.shape
    Hp = tables.P_prob.shape[0]
    rows = np.arange(n)
    for e in range(c):
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
            g = np.argmax(Q[rows, h, s], axis=1)
            changed |= g != greedy[rows, h, s]
            greedy[rows, h, s] = g
            s = s2
        if changed.any():
            idx = np.flatnonzero(changed)
            value[idx] = evaluate(greedy[idx])
        values_out[:, e] = value
        returns_out[:, e] = tot


@register_algorithm
class QLearning(Algorithm):
    """Tabular finite-horizon Q-learning with epsilon-greedy exploration (module docstring).

    Parameters
    ----------
    epsilon : float in [0, 1]
        Probability of a uniformly random action.
    step_size : "jin" or float in (0, 1]
        ``(H + 1) / (H + n)`` (Jin et al. 2018) or a constant.
    initial_value : float
        Initial ``Q`` (0: pessimistic for rewards in [0, 1]; ``H``: optimistic).
    """

    model_type = FiniteHorizonMDP
    backends = ("numba", "numpy")

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

    def run(self, mdp: FiniteHorizonMDP, episodes: int, *, replicates: int | None = 1, seed=0, backend=None,
            progress: bool = False, chunk_episodes: int | None = None) -> Trace:
        """Run ``episodes`` episodes per replicate; trace arrays ``values``, ``suboptimality``, ``returns``."""
        episodes, seeds, backend = self._check_run_args(mdp, episodes, replicates, seed, backend)
        n, H, S, A = len(seeds), mdp.H, mdp.S, mdp.A
        tables, v_star, _, evaluate, width = exact_references(mdp, backend)
        P_eval, P_eval_next = transition_arrays(mdp)
        if chunk_episodes is None:
            chunk_episodes = max(1, min(episodes, 2_000_000 // (n * width)))
        gens = generators(seeds)
        Q = np.full((n, H, S, A), self.initial_value)
        N = np.zeros((n, H, S, A), np.int64)
        greedy = np.zeros((n, H, S), np.int64)
        value = evaluate(greedy)
        jin = self.step_size == "jin"
        alpha = 0.0 if jin else float(self.step_size)
        out = {k: np.empty((n, episodes)) for k in TRACE_ARRAYS}
        with self._progress(episodes, progress, "Q-learning") as bar:
            for start, size in episode_chunks(episodes, int(chunk_episodes)):
                u = draw_uniforms(gens, size, width)
                v_out = np.empty((n, size))
                r_out = np.empty((n, size))
                if backend == "numba":
                    _qlearning_chunk(tables.P_prob, tables.P_alias, tables.P_next, P_eval, P_eval_next, tables.mu_prob,
                                     tables.mu_alias, tables.R, np.asarray(mdp.mu), tables.bernoulli, self.epsilon,
                                     jin, alpha, Q, N, greedy, value, u, v_out, r_out)
                else:
                    _qlearning_chunk_reference(tables, evaluate, self.epsilon, jin, alpha, Q, N, greedy, value, u,
                                               v_out, r_out)
                out["values"][:, start:start + size] = v_out
                out["returns"][:, start:start + size] = r_out
                bar.update(size)
        out["suboptimality"] = v_star - out["values"]
        meta = {"algorithm": "QLearning", "params": self.get_params(), "model": mdp.name,
                "model_fingerprint": mdp.fingerprint, "episodes": episodes, "replicates": n, "v_star": v_star,
                "backend": backend}
        return Trace(out, meta)
