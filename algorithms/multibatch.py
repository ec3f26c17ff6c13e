"""Learners for the multi-batch policy-evaluation test-bed (all **ours**: the paper proves lower bounds only).

Setting (Johnson, Pike-Burke & Rebeschini, ICLR 2024, arXiv:2310.01616, **paper**; their Alg. 1 as
described in the abstract and reviews): a learner sends queries in ``K`` batches through a
:class:`rltheory.batch_queries.QueryOracle`, with exact feedback (reward and the whole successor
distribution), ``n`` queries in all, and outputs ``theta_hat`` (policy evaluation,
``Q_hat(x) = theta_hat . x``) and ``a_hat = theta_hat / ||theta_hat||`` (best-policy identification).
The learners never see the instance: ``fit(oracle, rng)`` gets the oracle only.

Every learner solves LSTD on the stacked one-step rows ``z_i = x_i - gamma E[x_i']``, targets ``r_i``
(``z_i . theta* = r_i`` holds exactly under linear realisability), by the minimum-norm least-squares
solution with a relative rank cut ``1e-8`` (QR, then an SVD of the small triangular factor; never the
normal equations: digest addendum Sec. 4.5). Learners:

* :class:`OneShotLSTD` (``K = 1``): ``n`` random unit queries, or an approximate G-optimal design over
  ``4 d^2`` random unit candidates (Frank-Wolfe / Fedorov-Wynn, digest B4) rounded to ``n`` queries.
* :class:`RolloutLSTD` (digest B4, ours): batch 1 queries the basis ``e_1..e_d``, batch ``t + 1`` the
  successors returned by batch ``t``. After ``K`` batches ``(x^0 - gamma^K x^K) . theta* =
  sum_{t<K} gamma^t r^t``; with ``x^0 = e_i`` the matrix ``I - gamma^K X_K`` is invertible once
  ``gamma^K sqrt(d) < 1``, so ``K >= K_UB(d, gamma)`` gives exact PE on deterministic instances.
* :class:`NullSpaceLearner` (digest B4 heuristic as simplified in the addendum Sec. 3, ours): batch ``k``
  queries random unit vectors inside the null space of all effective rows received so far
  (budget split evenly across batches).
* :class:`TrajectoryLSTD` (addendum Sec. 3, ours): one batch of policy-induced trajectories of length
  ``c`` from random unit starts; every visited pair counts one query. On ``NestedSector`` the
  component along the hidden frames grows by ``1/gamma`` per step, so trajectories escape to the final
  cap and reveal ``sigma``: this is why our instance says nothing about the paper's policy-induced
  theorem.

No compiled kernel: every hot path is a vectorised NumPy call or LAPACK (QR, SVD) on at most
``(n_k + d + 1) x (d + 1)`` arrays, so there is no Numba loop (and no twin) to keep in step.

Outcomes (addendum Sec. 4.1): **success** ``||theta_hat - theta*|| < 1 - 1e-6`` (the min-norm output
that learned nothing has error 1 only up to rounding); **exact** ``< 1e-6``.

``run(family, n, replicates, seed)`` makes each learner usable by :func:`rltheory.experiments.run_experiment`
(``episodes`` is the query budget ``n``): replicate ``r`` samples its instance from child 0 of its seed
sequence (the same instance for every learner with the same seed) and runs the learner with child 1.
"""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np

from rltheory.batch_queries import Feedback, QueryOracle
from rltheory.errors import InvalidDataError, InvalidParameterError
from rltheory.rng import as_seed_sequences
from rltheory.trace import Trace
from rltheory.validation import check_int, check_real

__all__ = [
    "RANK_RTOL",
    "SUCCESS_THRESHOLD",
    "EXACT_THRESHOLD",
    "Estimate",
    "StackedLeastSquares",
    "random_unit_vectors",
    "g_optimal_design",
    "round_design",
    "OneShotLSTD",
    "RolloutLSTD",
    "NullSpaceLearner",
    "TrajectoryLSTD",
    "solve_lstd",
    "minimum_batches",
]

#: Relative rank cut: singular values below ``RANK_RTOL * sigma_max`` count as zero.
RANK_RTOL = 1e-8
#: ``||theta_hat - theta*|| < SUCCESS_THRESHOLD`` is a success at epsilon = 1 (addendum Sec. 4.1).
SUCCESS_THRESHOLD = 1.0 - 1e-6
#: ``||theta_hat - theta*|| < EXACT_THRESHOLD`` is exact PE.
EXACT_THRESHOLD = 1e-6


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A learner's output: ``theta`` ``(d,)`` (PE) and ``action`` ``(d,)`` = ``theta / ||theta||`` (BPI; zeros
    when ``theta = 0``), with the batches and queries it used."""

    theta: np.ndarray
    action: np.ndarray
    batches_used: int
    queries_used: int


def _estimate(theta: np.ndarray, oracle) -> Estimate:
    norm = float(np.linalg.norm(theta))
    action = theta / norm if norm > 0 else np.zeros_like(theta)
    return Estimate(theta, action, oracle.batches_used, oracle.queries_used)


class StackedLeastSquares:
    """Minimum-norm least squares on rows added batch by batch, without the normal equations.

    Keeps the triangular factor ``R`` of the QR decomposition of ``[Z | r]`` (at most
    ``(d + 1) x (d + 1)``): adding rows re-factors ``[R; Z_new | r_new]``. Since ``[Z | r] = Q R`` with
    orthonormal ``Q``, ``||Z theta - r|| = ||R_Z theta - R_r||`` and the singular values of ``R_Z`` are
    those of ``Z``: the solution and the null space come from an SVD of ``R_Z`` with relative rank cut
    ``rtol`` (singular values ``<= rtol * sigma_max`` are zero).
    """

    def __init__(self, d: int, rtol: float = RANK_RTOL):
        self.d = check_int(d, "d", low=1)
        self.rtol = check_real(rtol, "rtol", low=0.0, high=1.0, high_open=True)
        self._R = np.zeros((0, self.d + 1))
        self.rows = 0

    def add(self, Z: np.ndarray, r: np.ndarray) -> None:
        Z = np.asarray(Z, float)
        r = np.asarray(r, float)
        if Z.ndim != 2 or Z.shape[1] != self.d or r.shape != (Z.shape[0],):
            raise InvalidDataError("Z, r", f"need Z (n, {self.d}) and r (n,), got {Z.shape} and {r.shape}",
                                   value=(Z.shape, r.shape))
        if Z.shape[0] == 0:
            return
        stacked = np.vstack([self._R, np.column_stack([Z, r])])
        self._R = np.linalg.qr(stacked, mode="r")
        self.rows += Z.shape[0]

    def _svd(self):
        A = self._R[:, : self.d]
        if A.shape[0] == 0:
            return np.zeros(0), np.eye(self.d), 0
        U, s, Vt = np.linalg.svd(A, full_matrices=True)
        rank = int((s > self.rtol * s[0]).sum()) if s.size and s[0] > 0 else 0
        return s, Vt, rank

    @property
    def rank(self) -> int:
        return self._svd()[2]

    def null_space(self) -> np.ndarray:
        """Orthonormal basis ``(d, d - rank)`` of the null space of the stacked rows."""
        _, Vt, rank = self._svd()
        return Vt[rank:].T.copy()

    def solve(self) -> np.ndarray:
        """Minimum-norm least-squares ``theta`` ``(d,)`` (zeros before any row)."""
        if self._R.shape[0] == 0:
            return np.zeros(self.d)
        A, c = self._R[:, : self.d], self._R[:, self.d]
        theta, *_ = np.linalg.lstsq(A, c, rcond=self.rtol)
        return theta


def solve_lstd(feedback: Feedback, gamma: float, rtol: float = RANK_RTOL) -> np.ndarray:
    """Min-norm LSTD ``theta`` from one (stacked) :class:`Feedback` with ``np.linalg.lstsq`` (rank cut ``rtol``)."""
    Z = feedback.effective_features(gamma)
    theta, *_ = np.linalg.lstsq(Z, feedback.rewards, rcond=rtol)
    return theta


def random_unit_vectors(rng: np.random.Generator, n: int, basis: np.ndarray) -> np.ndarray:
    """``n`` unit vectors uniform on the unit sphere of ``span(basis)`` (``basis`` orthonormal ``(d, r)``)."""
    g = rng.standard_normal((n, basis.shape[1]))
    X = g @ basis.T
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def g_optimal_design(X: np.ndarray, tol: float = 0.05, max_iter: int = 20_000) -> np.ndarray:
    """Approximate G-optimal design weights on the rows of ``X`` ``(N, d)`` (Frank-Wolfe / Fedorov-Wynn).

    ``rho <- (1 - eta) rho + eta e_{i*}``, ``i* = argmax ||x_i||^2_{G(rho)^{-1}}``,
    ``eta = (g/d - 1) / (g - 1)``, stopped when ``g <= d (1 + tol)`` (Kiefer-Wolfowitz: the optimum is
    ``g = d``). ``X`` must span ``R^d``. Returns ``rho`` ``(N,)``, non-negative, summing to one.
    """
    X = np.asarray(X, float)
    N, d = X.shape
    if np.linalg.matrix_rank(X) < d:
        raise InvalidParameterError("X", f"candidates must span R^{d}", value=int(np.linalg.matrix_rank(X)))
    rho = np.full(N, 1.0 / N)
    for _ in range(max_iter):
        G = X.T @ (rho[:, None] * X)
        L = np.linalg.cholesky(G)
        Y = np.linalg.solve(L, X.T)  # ||x||^2_{G^-1} = ||L^{-1} x||^2
        g_all = np.einsum("ij,ij->j", Y, Y)
        i = int(np.argmax(g_all))
        g = float(g_all[i])
        if g <= d * (1.0 + tol):
            break
        eta = (g / d - 1.0) / (g - 1.0)
        rho *= 1.0 - eta
        rho[i] += eta
    return rho / rho.sum()


def round_design(rho: np.ndarray, n: int) -> np.ndarray:
    """Integer counts ``(N,)`` summing to ``n``: ``floor(n rho)`` plus the largest remainders."""
    n = check_int(n, "n", low=0)
    raw = n * np.asarray(rho, float)
    counts = np.floor(raw).astype(np.int64)
    rest = n - int(counts.sum())
    if rest > 0:
        counts[np.argsort(-(raw - counts), kind="stable")[:rest]] += 1
    return counts


class _Learner:
    """Shared parts: parameters, the success criteria and :meth:`run` for the experiment runner."""

    uses_trajectories = False

    def get_params(self) -> dict:
        sig = inspect.signature(type(self).__init__)
        return {name: getattr(self, name) for name in sig.parameters if name != "self"}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def fit(self, oracle, rng: np.random.Generator) -> Estimate:  # pragma: no cover - abstract
        raise NotImplementedError

    def run(self, model, episodes: int, *, replicates: int = 1, seed=0, progress: bool = False) -> Trace:
        """Run on ``replicates`` instances drawn from ``model`` (an instance family with ``sample(rng)``),
        with budget ``n = episodes`` queries and ``self.batches`` batches.

        Returns a :class:`~rltheory.trace.Trace` of ``(replicates,)`` arrays: ``error``
        (``||theta_hat - theta*||``), ``success``, ``exact``, ``bpi_gap`` (``||theta*|| - theta* . a_hat``),
        ``batches_used``, ``queries_used``.
        """
        n = check_int(episodes, "episodes", low=1)
        seqs = as_seed_sequences(seed, replicates)
        out = {k: [] for k in ("error", "success", "exact", "bpi_gap", "batches_used", "queries_used")}
        for ss in seqs:
            inst_ss, learn_ss, oracle_ss = (np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key + (i,))
                                            for i in range(3))
            instance = model.sample(np.random.default_rng(inst_ss))
            oracle = QueryOracle(instance, self.batches, n, rng=np.random.default_rng(oracle_ss),
                                 trajectories=self.uses_trajectories, record=False)
            est = self.fit(oracle, np.random.default_rng(learn_ss))
            err = instance.error(est.theta)
            th = instance.theta_star
            out["error"].append(err)
            out["success"].append(err < SUCCESS_THRESHOLD)
            out["exact"].append(err < EXACT_THRESHOLD)
            out["bpi_gap"].append(float(np.linalg.norm(th) - th @ est.action))
            out["batches_used"].append(est.batches_used)
            out["queries_used"].append(est.queries_used)
        meta = {"algorithm": type(self).__name__, "params": self.get_params(),
                "model": getattr(model, "fingerprint", repr(model)), "budget": n}
        return Trace({k: np.asarray(v) for k, v in out.items()}, meta=meta)


class OneShotLSTD(_Learner):
    """One batch (``K = 1``) of ``n`` one-step queries, then min-norm LSTD (ours).

    Parameters
    ----------
    queries : {"random", "design"}
        ``"random"``: ``n`` uniform unit vectors. ``"design"``: approximate G-optimal design over
        ``candidates_per_d2 * d^2`` uniform unit candidates, rounded to ``n`` queries.
    candidates_per_d2 : int
        Candidate count per ``d^2`` for the design (4 in the digest, B5.3).
    """

    batches = 1

    def __init__(self, queries: str = "random", candidates_per_d2: int = 4):
        if queries not in ("random", "design"):
            raise InvalidParameterError("queries", f"must be 'random' or 'design', got {queries!r}", value=queries)
        self.queries = queries
        self.candidates_per_d2 = check_int(candidates_per_d2, "candidates_per_d2", low=1)

    def fit(self, oracle, rng: np.random.Generator) -> Estimate:
        d, n = oracle.dim, oracle.budget
        if self.queries == "random":
            X = random_unit_vectors(rng, n, np.eye(d))
        else:
            C = random_unit_vectors(rng, max(self.candidates_per_d2 * d * d, d + 1), np.eye(d))
            counts = round_design(g_optimal_design(C), n)
            X = np.repeat(C, counts, axis=0)
        fb = oracle.submit(X)
        return _estimate(solve_lstd(fb, oracle.gamma), oracle)


class RolloutLSTD(_Learner):
    """``K``-step rollouts from the basis, one step per batch (ours, digest B4); needs deterministic
    transitions (a stochastic successor raises :class:`~rltheory.errors.InvalidDataError`).

    Uses ``min(batches, n // d)`` batches of at most ``d`` queries (zero successors, whose value is
    known to be 0, are not queried). Exact when ``batches >= K_UB(d, gamma)``.
    """

    def __init__(self, batches: int):
        self.batches = check_int(batches, "batches", low=1)

    def fit(self, oracle, rng: np.random.Generator) -> Estimate:
        d = oracle.dim
        if oracle.budget < d:
            raise InvalidParameterError("budget", f"RolloutLSTD needs at least d={d} queries, got {oracle.budget}",
                                        value=oracle.budget)
        steps = min(oracle.batches, oracle.budget // d)
        ls = StackedLeastSquares(d)
        X = np.eye(d)
        for _ in range(steps):
            fb = oracle.submit(X)
            if (np.count_nonzero(fb.probs > 0, axis=1) > 1).any():
                raise InvalidDataError("feedback", "RolloutLSTD needs deterministic transitions", value="stochastic")
            ls.add(fb.effective_features(oracle.gamma), fb.rewards)
            nxt = fb.expected_next()
            X = nxt[np.linalg.norm(nxt, axis=1) > 0]
            if X.shape[0] == 0:
                break
        return _estimate(ls.solve(), oracle)


class NullSpaceLearner(_Learner):
    """Random unit queries inside the current null space of the stacked effective rows (ours).

    Batch ``k`` gets ``n // K`` queries (the first ``n % K`` batches one more); once the stacked rows
    have full rank the learner stops early (the solution is then exact).
    """

    def __init__(self, batches: int):
        self.batches = check_int(batches, "batches", low=1)

    def fit(self, oracle, rng: np.random.Generator) -> Estimate:
        d, K, n = oracle.dim, oracle.batches, oracle.budget
        sizes = [n // K + (1 if k < n % K else 0) for k in range(K)]
        ls = StackedLeastSquares(d)
        for size in sizes:
            null = ls.null_space()
            if null.shape[1] == 0 or size == 0:
                break
            fb = oracle.submit(random_unit_vectors(rng, size, null))
            ls.add(fb.effective_features(oracle.gamma), fb.rewards)
        return _estimate(ls.solve(), oracle)


class TrajectoryLSTD(_Learner):
    """One batch of policy-induced trajectories of length ``length`` from random unit starts (ours).

    ``starts`` trajectories (default ``d``); needs ``n >= starts * length`` queries. LSTD on every
    visited pair.
    """

    batches = 1
    uses_trajectories = True

    def __init__(self, length: int, starts: int | None = None):
        self.length = check_int(length, "length", low=1)
        self.starts = None if starts is None else check_int(starts, "starts", low=1)

    def fit(self, oracle, rng: np.random.Generator) -> Estimate:
        d = oracle.dim
        m = d if self.starts is None else self.starts
        if m * self.length > oracle.budget:
            raise InvalidParameterError("budget", f"{m} trajectories of length {self.length} need "
                                                  f"{m * self.length} queries, budget is {oracle.budget}",
                                        value=oracle.budget)
        fb = oracle.submit_trajectories(random_unit_vectors(rng, m, np.eye(d)), np.full(m, self.length))
        return _estimate(solve_lstd(fb, oracle.gamma), oracle)


def minimum_batches(make_learner, model, n: int, *, replicates: int, seed: int = 0, k_max: int,
                    target: float = 0.9, k_start: int = 1) -> tuple[int | None, dict[int, float]]:
    """Smallest ``K`` in ``[k_start, k_max]`` whose success rate (``replicates`` runs) is ``>= target``.

    ``make_learner(K)`` builds the learner. Returns ``(K or None, {K: rate})`` for every ``K`` tried.
    """
    rates = {}
    for K in range(k_start, k_max + 1):
        trace = make_learner(K).run(model, n, replicates=replicates, seed=seed)
        rates[K] = float(np.mean(trace.success))
        if rates[K] >= target:
            return K, rates
    return None, rates

