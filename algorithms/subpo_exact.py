"""Exact tools for small submodular MDPs: trajectory enumeration, greedy, OPT, and a beam-search lower bound.

* :class:`TrajectoryTable` enumerates every trajectory of positive probability (``N`` of them) once; then
  ``J(theta)``, its gradient (finite differences or score form), the expectation of any SubPO estimator, the
  Fisher matrix and the exact NPG advantages are weighted sums over the table.
* :func:`greedy_value` / :func:`exact_greedy_value`: the history-dependent greedy policy (at each step the action
  maximising the expected immediate marginal gain; ties to the lowest action, or uniformly at random).
* :func:`optimum`: OPT over history-dependent policies by expectimax over histories (small ``H`` only).
* :func:`beam_search`: deterministic models; keeps the ``width`` best prefixes: a **lower bound** on OPT.
"""

from __future__ import annotations

import numpy as np

from rltheory.errors import InvalidModelError, InvalidParameterError
from rltheory.submodular import SubmodularMDP
from rltheory.validation import check_int

from .subpo_kernels import (
    RETURN_MODES,
    _cover_numpy,
    policy_probs,
    returns_from_gains,
    scatter_gradient,
    tabular_advantage,
)

__all__ = ["TrajectoryTable", "trajectory_table", "greedy_value", "exact_greedy_value", "optimum", "beam_search",
           "exact_ascent", "TIES"]

TIES = ("lowest", "random")
#: Largest trajectory table built by default.
MAX_TRAJECTORIES = 200_000


def _check_model(model):
    if not isinstance(model, SubmodularMDP):
        raise InvalidModelError("model", f"needs a SubmodularMDP, got {type(model).__name__}",
                                value=type(model).__name__)
    return model


class TrajectoryTable:
    """All trajectories of positive probability under *some* policy (every action allowed).

    Attributes (``N`` trajectories, ``T = H - 1``): ``states (N, H)``, ``actions (N, T)``, ``log_model (N,)``
    (``log mu(s_0) + sum_h log P(s_{h+1} | s_h, a_h)``), ``value (N,)`` ``F`` of the visited set (from
    ``model.value``), ``gains (N, T)`` and ``first (N,)`` (incremental marginal gains and ``F({s_0})``),
    ``surrogate_gains``/``surrogate_first`` (the SRL modular surrogate, coverage models), ``phi (N, T, Kf)``.
    """

    def __init__(self, model: SubmodularMDP, max_trajectories: int = MAX_TRAJECTORIES):
        self.model = _check_model(model)
        H, A = model.H, model.A
        nxt, prob = model.successors
        s0 = np.flatnonzero(model.mu > 0)
        states = s0[:, None]
        logp = np.log(model.mu[s0])
        actions = np.zeros((s0.size, 0), dtype=np.int64)
        for h in range(H - 1):
            hp = h if nxt.shape[0] > 1 else 0
            n = states.shape[0]
            cand_a = np.repeat(np.arange(A), nxt.shape[3])
            cand_k = np.tile(np.arange(nxt.shape[3]), A)
            last = states[:, -1]
            pk = prob[hp][last[:, None], cand_a[None], cand_k[None]]  # (n, A K)
            keep = pk > 0
            rows, cidx = np.nonzero(keep)
            if rows.size > max_trajectories:
                raise InvalidParameterError("max_trajectories", f"{model.name} has more than {max_trajectories} "
                                            "trajectories; it is too large to enumerate", value=rows.size)
            new_s = nxt[hp][last[rows], cand_a[cidx], cand_k[cidx]]
            states = np.concatenate([states[rows], new_s[:, None]], axis=1)
            actions = np.concatenate([actions[rows], cand_a[cidx][:, None]], axis=1)
            logp = logp[rows] + np.log(pk[rows, cidx])
            del n
        self.states, self.actions, self.log_model = states, actions, logp
        N, T = actions.shape
        if model.is_coverage:  # F of the visited set, straight from its definition (not from the gains)
            self.value = model.cover[states].max(axis=1) @ model.weights
        else:
            self.value = np.array([model.value(tr) for tr in states])
        Kf = model.features.shape[1]
        self.phi = np.zeros((N, T, Kf))
        if model.is_coverage:
            cols, vals = model.cover_lists
            m = np.zeros((N, model.cover.shape[1] + 1))
            self.first, self.surrogate_first = _cover_numpy(m, states[:, 0], cols, vals, model.weights)
            self.gains = np.empty((N, T))
            self.surrogate_gains = np.empty((N, T))
            f = model.features
            for h in range(T):
                self.phi[:, h] = np.take_along_axis(m, np.where(f[states[:, h]] < 0, m.shape[1] - 1,
                                                                f[states[:, h]]), axis=1)
                self.gains[:, h], self.surrogate_gains[:, h] = _cover_numpy(m, states[:, h + 1], cols, vals,
                                                                            model.weights)
        else:
            self.first = np.array([model.value(tr[:1]) for tr in states])
            self.gains = np.array([model.gains(tr) for tr in states]).reshape(N, T)
            self.surrogate_first = self.surrogate_gains = None

    # ------------------------------------------------------------------ policy quantities
    def probs(self, theta, W=None, history=False) -> np.ndarray:
        """``pi(a | x_h)`` along every trajectory: ``(N, T, A)``."""
        T = self.actions.shape[1]
        if not history:  # Markov: softmax once per (h, s), then gather
            pi = np.exp(theta - theta.max(axis=2, keepdims=True))
            pi /= pi.sum(axis=2, keepdims=True)
            return pi[np.arange(T)[None, :], self.states[:, :T]]
        W = np.zeros((self.model.A, self.phi.shape[2])) if W is None else W
        return np.stack([policy_probs(theta, W, history, h, self.states[:, h], self.phi[:, h]) for h in range(T)],
                        axis=1) if T else np.zeros((self.states.shape[0], 0, self.model.A))

    def trajectory_probs(self, theta, W=None, history=False) -> np.ndarray:
        """Probability of every trajectory under the policy: ``(N,)``."""
        p = self.probs(theta, W, history)
        pa = np.take_along_axis(p, self.actions[..., None], axis=2)[..., 0]
        return np.exp(self.log_model + np.log(pa).sum(axis=1))

    def objective(self, theta, W=None, history=False) -> float:
        """``J = E[F(tau)]`` exactly."""
        return float(self.trajectory_probs(theta, W, history) @ self.value)

    def returns(self, estimator: str, *, surrogate: bool = False, ret_scale: float = 1.0) -> np.ndarray:
        """Per-step returns ``(N, T)`` of an estimator (``gain_to_go``, ``myopic``, ``prefix``)."""
        gains, first = (self.surrogate_gains, self.surrogate_first) if surrogate else (self.gains, self.first)
        return returns_from_gains(gains, first, RETURN_MODES[estimator], ret_scale)

    def expected_estimator(self, theta, W=None, history=False, estimator="gain_to_go", *, surrogate=False,
                           ret_scale=1.0):
        """``E[sum_h grad log pi(a_h | x_h) G_h]`` exactly: ``(grad_theta (T, S, A), grad_W (A, Kf))``."""
        W = np.zeros((self.model.A, self.phi.shape[2])) if W is None else W
        w = self.trajectory_probs(theta, W, history)
        G = self.returns(estimator, surrogate=surrogate, ret_scale=ret_scale)
        return scatter_gradient(self.states, self.actions, self.probs(theta, W, history), self.phi, G, w,
                                self.model.S, history)

    def gradient_fd(self, theta, W=None, history=False, step=1e-5):
        """``grad J`` by central finite differences: ``(grad_theta, grad_W)``."""
        W = np.zeros((self.model.A, self.phi.shape[2])) if W is None else W
        out = []
        for arr in (theta, W):
            g = np.zeros_like(arr)
            if arr is W and not history:
                out.append(g)
                continue
            for idx in np.ndindex(arr.shape):
                old = arr[idx]
                arr[idx] = old + step
                up = self.objective(theta, W, history)
                arr[idx] = old - step
                down = self.objective(theta, W, history)
                arr[idx] = old
                g[idx] = (up - down) / (2 * step)
            out.append(g)
        return tuple(out)

    def fisher(self, theta) -> np.ndarray:
        """Exact Fisher ``E[(sum_h grad log pi)(sum_h grad log pi)^T]`` of the Markov policy, ``(T S A, T S A)``."""
        T, S, A = theta.shape
        p = self.probs(theta)
        w = self.trajectory_probs(theta)
        N = w.size
        score = np.zeros((N, T, S, A))
        onehot = np.zeros_like(p)
        np.put_along_axis(onehot, self.actions[..., None], 1.0, axis=2)
        for h in range(T):
            score[np.arange(N), h, self.states[:, h]] = onehot[:, h] - p[:, h]
        score = score.reshape(N, -1)
        return (score * w[:, None]).T @ score

    def advantage(self, theta, estimator="gain_to_go") -> np.ndarray:
        """Exact ``Q_h(s, a) - V_h(s)`` of the Markov policy for the estimator's returns: ``(T, S, A)``."""
        w = self.trajectory_probs(theta)
        return tabular_advantage(self.states, self.actions, self.returns(estimator), w, self.model.S,
                                 self.model.A)


def trajectory_table(model: SubmodularMDP, max_trajectories: int = MAX_TRAJECTORIES) -> TrajectoryTable | None:
    """The model's :class:`TrajectoryTable` (built once and kept on the model), or None if it has too many."""
    cache = model.__dict__.setdefault("_trajectory_tables", {})
    if max_trajectories not in cache:
        try:
            cache[max_trajectories] = TrajectoryTable(model, max_trajectories)
        except InvalidParameterError:
            cache[max_trajectories] = None
    return cache[max_trajectories]


# ---------------------------------------------------------------------------- greedy
class _SetState:
    """Visited set of one trajectory with an incremental gain (covered vector for coverage models)."""

    def __init__(self, model, s):
        self.model = model
        if model.is_coverage:
            self.m = model.cover[s].copy()
        self.visited = {int(s)}
        self.F = model.value([s])

    def gain(self, s) -> float:
        if self.model.is_coverage:
            return float(self.model.weights @ np.maximum(self.model.cover[s] - self.m, 0.0))
        if s in self.visited:
            return 0.0
        return self.model.value(self.visited | {int(s)}) - self.F

    def add(self, s):
        g = self.gain(s)
        if self.model.is_coverage:
            np.maximum(self.m, self.model.cover[s], out=self.m)
        self.visited.add(int(s))
        self.F += g
        return g

    def copy(self):
        other = _SetState.__new__(_SetState)
        other.model, other.visited, other.F = self.model, set(self.visited), self.F
        if self.model.is_coverage:
            other.m = self.m.copy()
        return other


def _greedy_scores(model, st, h, s):
    nxt, prob = model.successors
    hp = h if nxt.shape[0] > 1 else 0
    return np.array([sum(prob[hp, s, a, k] * st.gain(nxt[hp, s, a, k]) for k in range(nxt.shape[3])
                         if prob[hp, s, a, k] > 0) for a in range(model.A)])


def _greedy_action(scores, ties, rng, tol=1e-12):
    best = np.flatnonzero(scores >= scores.max() - tol)
    return int(best[0]) if ties == "lowest" else int(rng.choice(best))


def greedy_value(model: SubmodularMDP, ties: str = "lowest", episodes: int = 1, seed: int = 0) -> np.ndarray:
    """``F`` of ``episodes`` greedy trajectories, ``(episodes,)`` (random ties and transitions use ``seed``).

    Greedy is history dependent: at step ``h`` it takes ``argmax_a E[F(s' | tau_{0:h}) | s_h, a]`` (spec B2.4),
    ties to the lowest action (``ties="lowest"``) or uniformly among the maximisers (``"random"``).
    """
    _check_model(model)
    if ties not in TIES:
        raise InvalidParameterError("ties", f"must be one of {TIES}, got {ties!r}", value=ties)
    episodes = check_int(episodes, "episodes", low=1)
    rng = np.random.default_rng(check_int(seed, "seed", low=0))
    nxt, prob = model.successors
    out = np.empty(episodes)
    for e in range(episodes):
        s = int(rng.choice(model.S, p=model.mu))
        st = _SetState(model, s)
        for h in range(model.H - 1):
            a = _greedy_action(_greedy_scores(model, st, h, s), ties, rng)
            hp = h if nxt.shape[0] > 1 else 0
            s = int(nxt[hp, s, a, rng.choice(nxt.shape[3], p=prob[hp, s, a])])
            st.add(s)
        out[e] = st.F
    return out


def exact_greedy_value(model: SubmodularMDP) -> float:
    """Expected ``F`` of greedy with ties to the lowest action, exactly (recursion over transition outcomes)."""
    _check_model(model)
    nxt, prob = model.successors

    def rec(h, s, st):
        if h == model.H - 1:
            return st.F
        a = _greedy_action(_greedy_scores(model, st, h, s), "lowest", None)
        hp = h if nxt.shape[0] > 1 else 0
        tot = 0.0
        for k in range(nxt.shape[3]):
            if prob[hp, s, a, k] > 0:
                child = st.copy()
                child.add(int(nxt[hp, s, a, k]))
                tot += prob[hp, s, a, k] * rec(h + 1, int(nxt[hp, s, a, k]), child)
        return tot

    return float(sum(model.mu[s] * rec(0, s, _SetState(model, s)) for s in np.flatnonzero(model.mu > 0)))


def optimum(model: SubmodularMDP, max_nodes: int = 2_000_000) -> float:
    """OPT = ``max`` over history-dependent policies of ``E[F(tau)]``, by expectimax with memoisation."""
    _check_model(model)
    nxt, prob = model.successors
    memo: dict = {}

    def key(h, s, st):
        return (h, s, st.m.tobytes() if model.is_coverage else frozenset(st.visited))

    def rec(h, s, st):
        if h == model.H - 1:
            return 0.0
        k0 = key(h, s, st)
        if k0 in memo:
            return memo[k0]
        if len(memo) > max_nodes:
            raise InvalidParameterError("max_nodes", f"{model.name} is too large for exact OPT", value=max_nodes)
        hp = h if nxt.shape[0] > 1 else 0
        best = -np.inf
        for a in range(model.A):
            tot = 0.0
            for k in range(nxt.shape[3]):
                if prob[hp, s, a, k] > 0:
                    s2 = int(nxt[hp, s, a, k])
                    child = st.copy()
                    g = child.add(s2)
                    tot += prob[hp, s, a, k] * (g + rec(h + 1, s2, child))
            best = max(best, tot)
        memo[k0] = best
        return best

    return float(sum(model.mu[s] * (model.value([s]) + rec(0, s, _SetState(model, s)))
                     for s in np.flatnonzero(model.mu > 0)))


def beam_search(model: SubmodularMDP, width: int = 2000) -> float:
    """Best ``F`` found by a beam of ``width`` prefixes (deterministic coverage models): a lower bound on OPT.

    Prefixes with the same (current state, covered vector) are merged; the ``width`` highest ``F`` survive
    each step (ties kept in order of generation, so the result is deterministic).
    """
    _check_model(model)
    width = check_int(width, "width", low=1)
    nxt, prob = model.successors
    if nxt.shape[3] != 1 or not np.all(prob[..., 0] == 1.0) or np.count_nonzero(model.mu) != 1:
        raise InvalidModelError("model", "beam search needs deterministic transitions and start", value=model.name)
    cover, w = model.cover, model.weights
    s = np.array([int(np.flatnonzero(model.mu)[0])])
    m = cover[s].copy()
    for h in range(model.H - 1):
        hp = h if nxt.shape[0] > 1 else 0
        s2 = nxt[hp][s, :, 0].reshape(-1)  # (n A,)
        m2 = np.maximum(np.repeat(m, model.A, axis=0), cover[s2])
        key = np.concatenate([s2[:, None].astype(float), m2], axis=1)
        _, first = np.unique(key, axis=0, return_index=True)
        first = np.sort(first)
        s2, m2 = s2[first], m2[first]
        F = m2 @ w
        order = np.argsort(-F, kind="stable")[:width]
        s, m = s2[order], m2[order]
    return float((m @ w).max())


def exact_ascent(table: TrajectoryTable, direction: str = "gain_to_go", steps: int = 300, eta: float = 10.0,
                 npg: bool = False) -> np.ndarray:
    """``J`` along exact ascent from the uniform Markov policy, ``(steps + 1,)``.

    Each step moves ``theta`` by ``eta`` times the exact expectation of the estimator ``direction``
    (``"gain_to_go"`` = ``grad J``; ``"myopic"``: the official code's direction), or with ``npg=True`` by ``eta``
    times the exact tabular advantage ``Q - V`` of ``direction``'s returns (natural policy gradient).
    """
    model = table.model
    theta = np.zeros((model.H - 1, model.S, model.A))
    J = [table.objective(theta)]
    for _ in range(check_int(steps, "steps", low=0)):
        g = table.advantage(theta, direction) if npg else table.expected_estimator(theta, None, False, direction)[0]
        theta = theta + eta * g
        J.append(table.objective(theta))
    return np.array(J)
