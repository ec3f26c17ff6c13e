"""GORP: greedy over random policy, for deterministic MDPs.

Laidlaw, C., Russell, S. and Dragan, A. (2023). *Bridging RL Theory and Practice with the Effective
Horizon*. NeurIPS 2023, arXiv:2304.09853. GORP is the algorithm whose sample complexity defines the
effective horizon (its Theorem 5.4 bound is :mod:`rltheory.bounds.effective_horizon`).

Provenance. The paper's body could not be retrieved; the algorithm follows the authors' public
implementation (``effective_horizon/sb3/algorithms/gorp.py``; parameters ``episodes_per_action_sequence``
``m`` and ``planning_depth`` ``k``), re-implemented here:

    for i = 1..T:                                            # one action per iteration
        for every action sequence a_{i..i+k-1} in A^k, in lexicographic order:
            play m episodes: the learned actions a_1..a_{i-1}, then the sequence, then uniformly random actions
            estimate its value by the mean reward-to-go from step i
        a_i = first action of the sequence with the highest mean (the first one on ties)
    return the open-loop plan a_1..a_T

Choices made here: near the horizon only the ``A^{min(k, T - i + 1)}`` distinct sequences are tried
(longer ones differ only after the episode ends, and lose every tie to their first representative), so
an iteration costs ``A^{min(k, T - i + 1)} m`` episodes. The plan is open loop: on a stochastic
(e.g. sticky-action) model GORP still runs, but it is only guaranteed on deterministic ones, which is
what SQIRL generalises. As for :class:`~rltheory.algorithms.SQIRL`, ``run`` plays successive passes
(``m`` fixed or doubling), the recommended policy is the last completed pass's plan (uniformly random
before), and the trace records its exact value (``values``, ``suboptimality``), the sampled returns, and
the exact value of the plan *played* in each episode (``played``; ``regret = V* - played``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from rltheory.algorithm import register_algorithm
from rltheory.kernels.sampling import sample_episode, sample_trajectories_reference
from rltheory.runner import UNIFORM_BUDGET, EpisodicLearner, check_choice
from rltheory.validation import check_int

from .episodic import RANDOM, exact_references
from .sqirl import SCHEDULES, _PassState, pass_lengths

__all__ = ["GORP", "iteration_episodes"]

#: Arrays the step writes (``suboptimality`` and ``regret`` are derived), each ``(replicates, episodes)``.
TRACE_ARRAYS = ("values", "returns", "played")


def iteration_episodes(A: int, k: int, H: int, m: int, i: int) -> int:
    """Episodes of GORP's iteration ``i`` (0-based): ``A^{min(k, H - i)} m``."""
    return A ** min(k, H - i) * m


@nb.njit(cache=True)
def _digit(q, d, pos, A):
    """Action at position ``pos`` of the ``q``-th sequence of length ``d`` (lexicographic, first most significant)."""
    for _ in range(d - 1 - pos):
        q //= A
    return q % A


@nb.njit(parallel=True, cache=True)
def _gorp_batch(tables, prefix, i, d, m, q0, u, returns, best_mean, best_q):
    """Play sequences ``q0, q0 + 1, ...`` (``m`` episodes each, ``u (n, (q1 - q0) m, 1 + 3H)``) for every
    replicate and keep the best mean reward-to-go from step ``i`` (strictly greater wins, so ties go to the
    first sequence). ``prefix (n, H)`` holds the learned actions (``-1`` afterwards)."""
    n, size, _ = u.shape
    P_prob, P_alias, mu_prob, mu_alias, R, bernoulli, P_next = tables  # unpacked before prange
    H, S, A = R.shape
    nq = size // m
    for r in nb.prange(n):
        plan = np.empty(H, np.int64)
        states = np.empty(H + 1, np.int64)
        actions = np.empty(H, np.int64)
        rewards = np.empty(H)
        for b in range(nq):
            q = q0 + b
            for h in range(H):
                plan[h] = prefix[r, h] if h < i else RANDOM
            for p in range(d):
                plan[i + p] = _digit(q, d, p, A)
            acc = 0.0
            for e in range(m):
                row = b * m + e
                sample_episode(P_prob, P_alias, P_next, mu_prob, mu_alias, R, bernoulli, plan, u[r, row],
                               states, actions, rewards)
                g = 0.0
                for h in range(i, H):
                    g += rewards[h]
                tot = 0.0
                for h in range(H):
                    tot += rewards[h]
                returns[r, row] = tot
                acc += g
            mean = acc / m
            if best_q[r] < 0 or mean > best_mean[r]:
                best_mean[r] = mean
                best_q[r] = q


def _gorp_batch_reference(tables, prefix, i, d, m, q0, u, returns, best_mean, best_q):
    """Twin of :func:`_gorp_batch`."""
    n, size, _ = u.shape
    H, S, A = tables.R.shape
    for r in range(n):
        for b in range(size // m):
            q = q0 + b
            plan = np.where(np.arange(H) < i, prefix[r], RANDOM)
            plan[i:i + d] = [(q // A ** (d - 1 - p)) % A for p in range(d)]
            rows = slice(b * m, (b + 1) * m)
            _, _, rewards = sample_trajectories_reference(tables, np.broadcast_to(plan, (m, H)), u[r, rows])
            tot = np.zeros(m)
            for h in range(H):
                tot = tot + rewards[:, h]
            returns[r, rows] = tot
            acc = 0.0
            for e in range(m):
                g = 0.0
                for h in range(i, H):
                    g += rewards[e, h]
                acc += g
            mean = acc / m
            if best_q[r] < 0 or mean > best_mean[r]:
                best_mean[r], best_q[r] = mean, q


@register_algorithm
class GORP(EpisodicLearner):
    """GORP (Laidlaw, Russell & Dragan, NeurIPS 2023): greedy over random-policy rollouts, open loop.

    Parameters
    ----------
    k : int >= 1
        Planning depth (length of the enumerated action sequences).
    episodes_per_sequence : int >= 1
        ``m`` of the first pass (episodes per action sequence).
    schedule : {"doubling", "fixed"}
        ``m`` of successive passes.
    """

    label = "GORP"
    trace_arrays = TRACE_ARRAYS

    def __init__(self, *, k: int = 1, episodes_per_sequence: int = 1, schedule: str = "doubling"):
        self.k = check_int(k, "k", low=1)
        self.episodes_per_sequence = check_int(episodes_per_sequence, "episodes_per_sequence", low=1)
        self.schedule = check_choice(schedule, "schedule", SCHEDULES)

    @classmethod
    def conformance_cases(cls) -> list[dict]:
        return [{"k": 1}, {"k": 2, "schedule": "fixed"}]

    def pass_episodes(self, A: int, H: int, m: int | None = None) -> int:
        """Episodes of one pass with ``m`` episodes per sequence (default: the first pass's)."""
        m = self.episodes_per_sequence if m is None else m
        return sum(iteration_episodes(A, self.k, H, m, i) for i in range(H))

    def state_bytes(self, mdp) -> int:
        return 8 * (2 * mdp.H + 8)

    def start(self, mdp, run):
        n, H = run.replicates, mdp.H
        state = _PassState(exact_references(mdp, run.backend), n)
        state.prefix = np.full((n, H), RANDOM, np.int64)
        state.q_next = 0  # next sequence of the current iteration
        state.H, state.A, state.n, state.width = H, mdp.A, n, run.width
        return state

    def next_chunk(self, state, position, remaining, default):
        if state.q_next == 0:  # a new iteration (and maybe a new pass)
            if state.i == 0:
                state.m = pass_lengths(self.episodes_per_sequence, self.schedule, state.pass_idx + 1)[-1]
                state.prefix[:] = RANDOM
            state.d = min(self.k, state.H - state.i)
            state.nq = state.A ** state.d
            state.best_mean, state.best_q = np.full(state.n, -np.inf), np.full(state.n, -1, np.int64)
        per = max(1, UNIFORM_BUDGET // (state.n * state.width * state.m))  # sequences per batch of uniforms
        return min((min(state.nq, state.q_next + per) - state.q_next) * state.m, remaining)

    def _plans(self, state, q0, count):
        """The open-loop plans of sequences ``q0 .. q0 + count - 1`` of every replicate: ``(n, count, H)``."""
        A, i, d = state.A, state.i, state.d
        plans = np.repeat(state.prefix[:, None, :], count, axis=1)
        plans[:, :, i:] = RANDOM
        q = q0 + np.arange(count)
        for p in range(d):
            plans[:, :, i + p] = (q // A ** (d - 1 - p)) % A
        return plans

    def _step(self, state, u, start, out, backend):
        m, i, d = state.m, state.i, state.d
        size = u.shape[1]
        full = size // m  # sequences played completely in this chunk
        count = full + (1 if size > full * m else 0)
        played = state.refs.evaluate(self._plans(state, state.q_next, count).reshape(-1, state.H))
        out["played"][...] = np.repeat(played.reshape(state.n, count), m, axis=1)[:, :size]
        tables = state.refs.tables
        if full:
            if backend == "numba":
                _gorp_batch(tables, state.prefix, i, d, m, state.q_next, u[:, :full * m], out["returns"][:, :full * m],
                            state.best_mean, state.best_q)
            else:
                _gorp_batch_reference(tables, state.prefix, i, d, m, state.q_next, u[:, :full * m],
                                      out["returns"][:, :full * m], state.best_mean, state.best_q)
        if size > full * m:  # the budget ends inside a sequence: played, estimate unused
            self._play_rest(tables, state.prefix, i, d, state.q_next + full, u[:, full * m:],
                            out["returns"][:, full * m:], backend)
        out["values"][...] = state.rec_value[:, None]
        state.q_next += full
        if state.q_next < state.nq:
            return
        state.q_next = 0
        state.prefix[:, i] = state.best_q // state.A ** (d - 1)
        state.i += 1
        if state.i == state.H:
            state.complete_pass(state.prefix, out["values"], start + size)

    def step(self, state, u, start, out):
        self._step(state, u, start, out, "numba")

    def step_reference(self, state, u, start, out):
        self._step(state, u, start, out, "numpy")

    def finish(self, state, arrays) -> dict:
        return {"suboptimality": state.v_star - arrays["values"], "regret": state.v_star - arrays["played"]}

    def run_meta(self, state) -> dict:
        return {"v_random": state.refs.v_random, "passes": state.passes}

    @staticmethod
    def _play_rest(tables, prefix, i, d, q, u, returns, backend):
        """Episodes of an unfinished sequence at the end of the budget: played, but their estimate is unused."""
        if not u.shape[1]:
            return
        scratch_mean, scratch_q = np.full(u.shape[0], -np.inf), np.full(u.shape[0], -1, np.int64)
        if backend == "numba":
            _gorp_batch(tables, prefix, i, d, u.shape[1], q, u, returns, scratch_mean, scratch_q)
        else:
            _gorp_batch_reference(tables, prefix, i, d, u.shape[1], q, u, returns, scratch_mean, scratch_q)
