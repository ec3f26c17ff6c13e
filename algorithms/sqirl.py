"""SQIRL: shallow Q-iteration via reinforcement learning, tabular theory form.

Laidlaw, C., Zhu, B., Russell, S. and Dragan, A. (2024). *The Effective Horizon Explains Deep RL
Performance in Stochastic Environments*. ICLR 2024 (spotlight), arXiv:2312.08369.

Provenance. The paper's body could not be retrieved for this library (abstract, summaries and the
four ICLR reviews only); the algorithm below is the project's reconstruction (spec C2.1) from the
abstract ("iteratively learns a near-optimal policy by exploring randomly to collect rollouts and then
performing a limited number of steps of fitted-Q iteration over those rollouts"), the reviews and the
structure of the authors' practical code (``effective_horizon/sb3/algorithms/sqirl.py``: per-timestep
rounds of ``episodes_per_timestep`` episodes, frozen policies for earlier timesteps, random actions
afterwards, ``k`` heads = ``k`` regression levels, head 1 regresses the Monte-Carlo return-to-go,
policy greedy on the last head). Reconstructed::

    input k, m (episodes per timestep), Regress, horizon T
    for i = 1..T:                                  # one round per timestep
        collect m episodes: pi_1..pi_{i-1} for t < i, uniformly random actions for t >= i
        j = min(i + k - 1, T)
        Qhat_j = Regress({(s_j, a_j) -> sum_{t >= j} r_t})                   # Q of the random policy
        for t = j - 1 down to i:                                            # k - 1 fitted-Q backups
            Qhat_t = Regress({(s_t, a_t) -> r_t + max_a Qhat_{t+1}(s_{t+1}, a)})
        pi_i(s) = argmax_a Qhat_i(s, a)                                     # lowest action on ties
    return pi_1..pi_T

With exact regression (infinite data) ``Qhat_i = Q^k_i``, the ``k``-th iterate of Q-value iteration
from the random policy's ``Q`` (:mod:`rltheory.algorithms.effective_horizon_analysis`), so SQIRL returns a policy
greedy in ``Q^k``, optimal on every state it reaches when the MDP is ``k``-QVI-solvable. Each round
uses only its own ``m`` episodes; a pass costs ``T m`` episodes (``T^2 m`` steps).

Anytime runs. :meth:`SQIRL.run` plays a budget of episodes as successive independent passes, with
``m`` fixed (``schedule="fixed"``) or doubling from pass to pass (``schedule="doubling"``, the default:
a doubling trick, so one run traces the whole sample-complexity curve). The *recommended* policy after
each episode is the policy returned by the last completed pass (the uniformly random policy before the
first one); its exact value on the true model is recorded, and the empirical sample complexity is the
first episode after which it is ``epsilon``-optimal (:func:`rltheory.algorithms.episodic.first_epsilon_optimal`),
median over replicates, as in the paper's experiments.

Trace arrays, each ``(replicates, episodes)``: ``values`` (exact value of the recommended policy),
``suboptimality`` (``V* - values``), ``returns`` (sampled return of the exploration episode played),
``played`` (exact value of the exploration policy played: ``pi_1..pi_{i-1}``, then uniformly random) and
``regret`` (``V* - played``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from rltheory.algorithm import register_algorithm
from rltheory.errors import InvalidParameterError
from rltheory.kernels.sampling import sample_episode, sample_trajectories_reference
from rltheory.runner import UNIFORM_BUDGET, EpisodicLearner, check_choice
from rltheory.validation import check_int

from .episodic import RANDOM, exact_references
from .regression import ORACLE_TABULAR, LinearLeastSquares, as_oracle

__all__ = ["SQIRL", "SCHEDULES", "pass_lengths"]

SCHEDULES = ("doubling", "fixed")
#: Arrays the step writes (``suboptimality`` and ``regret`` are derived), each ``(replicates, episodes)``.
TRACE_ARRAYS = ("values", "returns", "played")


def pass_lengths(m0: int, schedule: str, passes: int) -> list[int]:
    """Episodes per timestep of passes ``0..passes-1``: ``m0`` (fixed) or ``m0 2^j`` (doubling)."""
    return [m0 * (2 ** j if schedule == "doubling" else 1) for j in range(passes)]


# ---------------------------------------------------------------------------- compiled round kernels


@nb.njit(parallel=True, cache=True)
def _simulate_round(tables, policy, i, j, u, off, st, at, rt, G, returns):
    """Play ``u.shape[1]`` episodes per replicate under ``policy[r]`` and store steps ``i..j`` of each.

    ``tables`` the model's :class:`~rltheory.kernels.sampling.AliasTables`.
    ``st, at (n, m, j - i + 1)`` states/actions at steps ``i..j``; ``rt`` rewards there; ``G (n, m)`` the
    return-to-go from step ``j``; ``returns (n, size)`` the whole episode's return. Rows ``off..off+size``.
    """
    n, size, _ = u.shape
    P_prob, P_alias, mu_prob, mu_alias, R, bernoulli, P_next = tables  # unpacked before prange
    H = R.shape[0]
    for r in nb.prange(n):
        states = np.empty(H + 1, np.int64)
        actions = np.empty(H, np.int64)
        rewards = np.empty(H)
        for e in range(size):
            sample_episode(P_prob, P_alias, P_next, mu_prob, mu_alias, R, bernoulli, policy[r], u[r, e],
                           states, actions, rewards)
            g = 0.0
            for h in range(j, H):
                g += rewards[h]
            tot = 0.0
            for h in range(H):
                tot += rewards[h]
            for h in range(i, j + 1):
                st[r, off + e, h - i] = states[h]
                at[r, off + e, h - i] = actions[h]
                rt[r, off + e, h - i] = rewards[h]
            G[r, off + e] = g
            returns[r, e] = tot


@nb.njit(cache=True)
def _fill_tabular(sums, counts, Q):
    """Twin of :func:`rltheory.algorithms.regression.tabular_fill` (same summation order)."""
    S, A = Q.shape
    for s in range(S):
        tot = 0.0
        nv = 0
        for a in range(A):
            if counts[s, a] > 0:
                Q[s, a] = sums[s, a] / counts[s, a]
                nv += 1
            else:
                Q[s, a] = 0.0
            tot += Q[s, a]
        fill = tot / nv if nv > 0 else 0.0
        for a in range(A):
            if counts[s, a] == 0:
                Q[s, a] = fill


@nb.njit(cache=True)
def _linear_fit(phi, st_col, at_col, y, ridge, Q):
    """Ridge regression on ``phi (S, A, d)``; writes ``Q = phi theta`` (samples accumulated in order)."""
    S, A, d = phi.shape
    XtX = np.zeros((d, d))
    Xty = np.zeros(d)
    for e in range(y.shape[0]):
        x = phi[st_col[e], at_col[e]]
        for p in range(d):
            Xty[p] += x[p] * y[e]
            for q in range(d):
                XtX[p, q] += x[p] * x[q]
    for p in range(d):
        XtX[p, p] += ridge
    theta = np.linalg.solve(XtX, Xty)
    for s in range(S):
        for a in range(A):
            acc = 0.0
            for p in range(d):
                acc += phi[s, a, p] * theta[p]
            Q[s, a] = acc


@nb.njit(parallel=True, cache=True)
def _regress_round(st, at, rt, G, i, j, S, A, oracle, phi, ridge, policy):
    """SQIRL's regressions for round ``i`` (levels ``j`` down to ``i``) and ``policy[r, i] = argmax Qhat_i``."""
    n, m, _ = st.shape
    for r in nb.prange(n):
        Q = np.zeros((S, A))
        Qn = np.zeros((S, A))
        y = np.empty(m)
        sums = np.zeros((S, A))
        counts = np.zeros((S, A))
        for t in range(j, i - 1, -1):
            c = t - i
            for e in range(m):
                if t == j:
                    y[e] = G[r, e]
                else:
                    s2 = st[r, e, c + 1]
                    best = -np.inf
                    for a in range(A):
                        if Qn[s2, a] > best:
                            best = Qn[s2, a]
                    y[e] = rt[r, e, c] + best
            if oracle == ORACLE_TABULAR:
                sums[:] = 0.0
                counts[:] = 0.0
                for e in range(m):
                    sums[st[r, e, c], at[r, e, c]] += y[e]
                    counts[st[r, e, c], at[r, e, c]] += 1.0
                _fill_tabular(sums, counts, Q)
            else:
                hf = t if phi.shape[0] > 1 else 0
                _linear_fit(phi[hf], st[r, :, c], at[r, :, c], y, ridge, Q)
            Q, Qn = Qn, Q
        for s in range(S):
            best = 0
            for a in range(1, A):
                if Qn[s, a] > Qn[s, best]:
                    best = a
            policy[r, i, s] = best


def _regress_round_reference(oracle, st, at, rt, G, i, j, S, A, policy):
    """Twin of :func:`_regress_round` through the oracle's NumPy ``fit`` (any user oracle works here)."""
    n, m, _ = st.shape
    for r in range(n):
        Qn = None
        for t in range(j, i - 1, -1):
            c = t - i
            y = G[r] if t == j else rt[r, :, c] + Qn[st[r, :, c + 1]].max(axis=1)
            Qn = np.asarray(oracle.fit(t, st[r, :, c], at[r, :, c], y, S, A), dtype=np.float64)
        policy[r, i] = np.argmax(Qn, axis=1)


# ---------------------------------------------------------------------------- the learner


class _PassState:
    """Where a run of passes stands (SQIRL and GORP): pass index, ``m``, the step ``i`` within the pass,
    the recommended policy's value, the completed passes."""

    def __init__(self, refs, n):
        self.refs = refs
        self.v_star = refs.v_star
        self.rec_value = np.full(n, refs.v_random)
        self.pass_idx = 0
        self.m = 0
        self.i = 0
        self.passes = []

    def complete_pass(self, policies, values_out, position):
        """The pass ended with the chunk just played: evaluate its policy, report it at the chunk's last episode."""
        self.rec_value = self.refs.evaluate(policies)
        values_out[:, -1] = self.rec_value
        self.passes.append({"m": self.m, "completed_at_episode": position})
        self.pass_idx += 1
        self.i = 0


@register_algorithm
class SQIRL(EpisodicLearner):
    """SQIRL, tabular theory form (Laidlaw et al., ICLR 2024; reconstruction in the module docstring).

    Parameters
    ----------
    k : int >= 1
        Planning depth: ``k - 1`` fitted-Q backups after regressing the random policy's ``Q``.
    episodes_per_timestep : int >= 1
        ``m`` of the first pass (every pass with ``schedule="fixed"``).
    oracle : "tabular", :class:`~rltheory.algorithms.regression.TabularMean`,
        :class:`~rltheory.algorithms.regression.LinearLeastSquares`, or a user object with
        ``fit(t, states, actions, targets, S, A) -> (S, A)`` (then ``backend="numpy"``).
    schedule : {"doubling", "fixed"}
        ``m`` of successive passes (see the module docstring).

    Examples
    --------
    >>> from rltheory.mdps import garnet
    >>> trace = SQIRL(k=1, episodes_per_timestep=8).run(garnet(S=4, A=2, horizon=3), 200, replicates=2)
    >>> trace.values.shape
    (2, 200)
    """

    label = "SQIRL"
    trace_arrays = TRACE_ARRAYS

    def __init__(self, *, k: int = 1, episodes_per_timestep: int = 16, oracle="tabular", schedule: str = "doubling"):
        self.k = check_int(k, "k", low=1)
        self.episodes_per_timestep = check_int(episodes_per_timestep, "episodes_per_timestep", low=1)
        self.oracle = as_oracle(oracle)
        self.schedule = check_choice(schedule, "schedule", SCHEDULES)

    @classmethod
    def conformance_cases(cls) -> list[dict]:
        return [{"k": 1, "episodes_per_timestep": 2}, {"k": 2, "episodes_per_timestep": 1, "schedule": "fixed"}]

    def pass_episodes(self, H: int, passes: int = 1) -> int:
        """Episodes used by the first ``passes`` passes on horizon ``H``: ``H sum_j m_j``."""
        return H * sum(pass_lengths(self.episodes_per_timestep, self.schedule, passes))

    def state_bytes(self, mdp) -> int:
        return 8 * (mdp.H * mdp.S + 4 * self.episodes_per_timestep * self.k + mdp.S * mdp.A * 4)

    def check_model(self, mdp) -> None:
        if isinstance(self.oracle, LinearLeastSquares):
            self.oracle.check(mdp.S, mdp.A, mdp.H)

    def start(self, mdp, run):
        """Exact references, the oracle's compiled form, and the pass state (module docstring)."""
        if run.backend == "numba" and getattr(self.oracle, "kind", None) is None:
            raise InvalidParameterError("backend", "a user oracle has no compiled path: use backend='numpy'",
                                        value=run.backend)
        n, H, S = run.replicates, mdp.H, mdp.S
        state = _PassState(exact_references(mdp, run.backend), n)
        if isinstance(self.oracle, LinearLeastSquares):
            state.phi, state.ridge = np.ascontiguousarray(self.oracle.stage_features(H)), self.oracle.ridge
        else:
            state.phi, state.ridge = np.zeros((1, 1, 1, 1)), 0.0
        state.policy = np.full((n, H, S), RANDOM, np.int64)
        state.off = 0  # episodes of the current round already played
        state.budget = max(1, UNIFORM_BUDGET // (n * run.width))
        state.mdp_shape = (H, S, mdp.A)
        return state

    def next_chunk(self, state, position, remaining, default):
        if state.off == 0 and state.i == 0:
            state.m = pass_lengths(self.episodes_per_timestep, self.schedule, state.pass_idx + 1)[-1]
        return min(state.m - state.off, remaining, state.budget)

    def _step(self, state, u, start, out, compiled):
        H, S, A = state.mdp_shape
        n, c, _ = u.shape
        i, m = state.i, state.m
        j = min(i + self.k - 1, H - 1)
        if state.off == 0:  # a new round: pi_1..pi_{i-1}, then random actions
            if i == 0:
                state.policy[:] = RANDOM
            state.st = np.zeros((n, m, j - i + 1), np.int64)
            state.at = np.zeros((n, m, j - i + 1), np.int64)
            state.rt = np.zeros((n, m, j - i + 1))
            state.G = np.zeros((n, m))
            state.played = state.refs.evaluate(state.policy)
        tables = state.refs.tables
        if compiled:
            _simulate_round(tables, state.policy, i, j, u, state.off, state.st, state.at, state.rt, state.G,
                            out["returns"])
        else:
            self._simulate_reference(tables, state.policy, i, j, u, state.off, state.st, state.at, state.rt, state.G,
                                     out["returns"])
        out["values"][...] = state.rec_value[:, None]
        out["played"][...] = state.played[:, None]
        state.off += c
        if state.off < m:
            return
        state.off = 0
        if compiled:
            _regress_round(state.st, state.at, state.rt, state.G, i, j, S, A, self.oracle.kind, state.phi,
                           state.ridge, state.policy)
        else:
            _regress_round_reference(self.oracle, state.st, state.at, state.rt, state.G, i, j, S, A, state.policy)
        state.i += 1
        if state.i == H:
            state.complete_pass(state.policy, out["values"], start + c)

    def step(self, state, u, start, out):
        self._step(state, u, start, out, True)

    def step_reference(self, state, u, start, out):
        self._step(state, u, start, out, False)

    def finish(self, state, arrays) -> dict:
        return {"suboptimality": state.v_star - arrays["values"], "regret": state.v_star - arrays["played"]}

    def run_meta(self, state) -> dict:
        return {"v_random": state.refs.v_random, "passes": state.passes}

    def _meta_params(self) -> dict:
        return {"k": self.k, "episodes_per_timestep": self.episodes_per_timestep, "oracle": repr(self.oracle),
                "schedule": self.schedule}

    @staticmethod
    def _simulate_reference(tables, policy, i, j, u, off, st, at, rt, G, returns):
        n, c, _ = u.shape
        H = tables.R.shape[0]
        for r in range(n):
            pol = np.broadcast_to(policy[r], (c,) + policy.shape[1:])
            states, actions, rewards = sample_trajectories_reference(tables, pol, u[r])
            st[r, off:off + c] = states[:, i:j + 1]
            at[r, off:off + c] = actions[:, i:j + 1]
            rt[r, off:off + c] = rewards[:, i:j + 1]
            g = np.zeros(c)
            for h in range(j, H):  # in order, as the kernel sums
                g = g + rewards[:, h]
            tot = np.zeros(c)
            for h in range(H):
                tot = tot + rewards[:, h]
            G[r, off:off + c] = g
            returns[r] = tot
