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
before), and the trace records its exact value (``values``, ``suboptimality``) and the sampled returns.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from rltheory.algorithm import Algorithm, register_algorithm
from rltheory.errors import InvalidParameterError
from rltheory.kernels.sampling import sample_episode, sample_trajectories_reference
from rltheory.models import FiniteHorizonMDP
from rltheory.rng import draw_uniforms, generators
from rltheory.trace import Trace
from rltheory.validation import check_int

from .episodic import RANDOM, exact_references
from .sqirl import SCHEDULES, UNIFORM_BUDGET, pass_lengths

__all__ = ["GORP", "iteration_episodes"]

TRACE_ARRAYS = ("values", "suboptimality", "returns")


def iteration_episodes(A: int, k: int, H: int, m: int, i: int) -> int:
    """Episodes of GORP's iteration ``i`` (0-based): ``A^{min(k, H - i)} m``."""
    return A ** min(k, H - i) * m


@nb.njit(cache=True)
def _digit(q, d, pos, A):
    """Action at position ``pos`` of the ``q``-th sequence of length ``d`` (lexicographic, first most significant)."""
    for _ in range(d - 1 - pos):
        q //= A
    return q % A


@nb.njit(parallel=True)
def _gorp_batch(P_prob, P_alias, P_next, mu_prob, mu_alias, R, bernoulli, prefix, i, d, m, q0, u, returns, best_mean,
                best_q):
    """Play sequences ``q0, q0 + 1, ...`` (``m`` episodes each, ``u (n, (q1 - q0) m, 1 + 3H)``) for every
    replicate and keep the best mean reward-to-go from step ``i`` (strictly greater wins, so ties go to the
    first sequence). ``prefix (n, H)`` holds the learned actions (``-1`` afterwards)."""
    n, size, _ = u.shape
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
class GORP(Algorithm):
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

    model_type = FiniteHorizonMDP
    backends = ("numba", "numpy")

    def __init__(self, *, k: int = 1, episodes_per_sequence: int = 1, schedule: str = "doubling"):
        self.k = check_int(k, "k", low=1)
        self.episodes_per_sequence = check_int(episodes_per_sequence, "episodes_per_sequence", low=1)
        if schedule not in SCHEDULES:
            raise InvalidParameterError("schedule", f"must be one of {SCHEDULES}, got {schedule!r}", value=schedule)
        self.schedule = schedule

    @classmethod
    def conformance_cases(cls) -> list[dict]:
        return [{"k": 1}, {"k": 2, "schedule": "fixed"}]

    def pass_episodes(self, A: int, H: int, m: int | None = None) -> int:
        """Episodes of one pass with ``m`` episodes per sequence (default: the first pass's)."""
        m = self.episodes_per_sequence if m is None else m
        return sum(iteration_episodes(A, self.k, H, m, i) for i in range(H))

    def run(self, mdp: FiniteHorizonMDP, episodes: int, *, replicates: int | None = 1, seed=0, backend=None,
            progress: bool = False) -> Trace:
        """Run ``episodes`` episodes per replicate; trace arrays ``values``, ``suboptimality``, ``returns``."""
        episodes, seeds, backend = self._check_run_args(mdp, episodes, replicates, seed, backend)
        n, H, A = len(seeds), mdp.H, mdp.A
        tables, v_star, v_random, evaluate, width = exact_references(mdp, backend)
        gens = generators(seeds)
        out = {k: np.empty((n, episodes)) for k in TRACE_ARRAYS}
        rec_value = np.full(n, v_random)
        prefix = np.full((n, H), RANDOM, np.int64)
        pos, pass_idx, passes = 0, 0, []
        with self._progress(episodes, progress, "GORP") as bar:
            while pos < episodes:
                m = pass_lengths(self.episodes_per_sequence, self.schedule, pass_idx + 1)[-1]
                prefix[:] = RANDOM
                complete = True
                for i in range(H):
                    d = min(self.k, H - i)
                    nq = A ** d
                    best_mean, best_q = np.full(n, -np.inf), np.full(n, -1, np.int64)
                    per = max(1, UNIFORM_BUDGET // (n * width * m))  # sequences per batch of uniforms
                    q_next = 0
                    while q_next < nq and pos < episodes:
                        q1 = min(nq, q_next + per)
                        want = (q1 - q_next) * m
                        size = min(want, episodes - pos)
                        u = draw_uniforms(gens, size, width)
                        full = size // m  # sequences played completely in this batch
                        if full:
                            ret = out["returns"][:, pos:pos + full * m]
                            if backend == "numba":
                                _gorp_batch(tables.P_prob, tables.P_alias, tables.P_next, tables.mu_prob,
                                            tables.mu_alias, tables.R, tables.bernoulli, prefix, i, d, m, q_next,
                                            u[:, :full * m], ret, best_mean, best_q)
                            else:
                                _gorp_batch_reference(tables, prefix, i, d, m, q_next, u[:, :full * m], ret,
                                                      best_mean, best_q)
                        if size > full * m:  # the budget ends inside a sequence: played, estimate unused
                            self._play_rest(tables, prefix, i, d, q_next + full, u[:, full * m:],
                                            out["returns"][:, pos + full * m:pos + size], backend)
                        out["values"][:, pos:pos + size] = rec_value[:, None]
                        pos += size
                        q_next += full
                        bar.update(size)
                        if size < want:
                            break
                    if q_next < nq:
                        complete = False
                        break
                    prefix[:, i] = best_q // A ** (d - 1)
                if complete:
                    rec_value = evaluate(prefix)  # open-loop plans (n, H)
                    out["values"][:, pos - 1] = rec_value
                    passes.append({"m": m, "completed_at_episode": pos})
                pass_idx += 1
        out["suboptimality"] = v_star - out["values"]
        meta = {"algorithm": "GORP", "params": self.get_params(), "model": mdp.name,
                "model_fingerprint": mdp.fingerprint, "episodes": episodes, "replicates": n, "v_star": v_star,
                "v_random": v_random, "passes": passes, "backend": backend}
        return Trace(out, meta)

    @staticmethod
    def _play_rest(tables, prefix, i, d, q, u, returns, backend):
        """Episodes of an unfinished sequence at the end of the budget: played, but their estimate is unused."""
        if not u.shape[1]:
            return
        scratch_mean, scratch_q = np.full(u.shape[0], -np.inf), np.full(u.shape[0], -1, np.int64)
        if backend == "numba":
            _gorp_batch(tables.P_prob, tables.P_alias, tables.P_next, tables.mu_prob, tables.mu_alias, tables.R,
                        tables.bernoulli, prefix, i, d, u.shape[1], q, u, returns, scratch_mean, scratch_q)
        else:
            _gorp_batch_reference(tables, prefix, i, d, u.shape[1], q, u, returns, scratch_mean, scratch_q)
