"""Exact planning by linear programming over occupancy measures: an independent cross-check.

The dynamic programs of :mod:`rltheory.planning` are checked against the linear programs
below, solved with cvxpy and the interior-point solver Clarabel at tight tolerances
(:data:`CLARABEL_SETTINGS`), so that agreement to ``1e-6`` is a meaningful test. The
constraint matrices are assembled in one go as SciPy sparse matrices; no scalar constraint is
ever built in a Python loop.

Finite horizon (Puterman 1994, Sec. 4.6.1 / 6.9; occupancy-measure form as in Altman 1999)::

    max_{d >= 0}  sum_h <d_h, R_h>
    s.t.  sum_a d_0(s, a)      = mu(s)                                  for all s
          sum_a d_{h+1}(s', a) = sum_{s, a} P_h(s' | s, a) d_h(s, a)     for all s', h < H - 1

whose dual is ``min mu @ y_0`` s.t. ``y_h(s) >= R_h(s, a) + P_h(s, a) @ y_{h+1}``, ``y_H = 0``.
Every feasible ``y`` dominates ``V*`` (backward induction), so the dual optimum equals ``V*``
*on the states an optimal policy reaches*; elsewhere the dual is only an upper bound and an
interior-point solver returns some point above ``V*`` there. To recover ``V*`` everywhere we solve
the same LP a second time with the right-hand side replaced by a strictly positive inflow
``1/S`` at every step and state (a cvxpy ``Parameter``, so the problem is compiled once): with
positive weights on every ``y_h(s)``, the dual minimiser is unique and equals ``V*``.

Discounted (Puterman 1994, Sec. 6.9)::

    max_{d >= 0}  <d, R> / (1 - gamma)
    s.t.  sum_a d(s', a) = (1 - gamma) mu(s') + gamma sum_{s, a} P(s' | s, a) d(s, a)

with dual ``min (1 - gamma) mu @ V`` s.t. ``V(s) >= R(s, a) + gamma P(s, a) @ V``. The
occupancy ``d`` is *normalised*: ``d(s, a) = (1 - gamma) sum_t gamma^t Pr(s_t = s, a_t = a)``
sums to 1 and ``<d, R> = (1 - gamma) mu @ V*`` (the convention of
:func:`rltheory.planning.discounted_occupancy`). ``V`` is again read off the equality-constraint
duals of a second solve with the uniform initial distribution.

Sign convention of the duals: cvxpy returns, for ``Maximize(c @ d)`` subject to
``A @ d == b``, the multiplier ``y`` of the Lagrangian ``c @ d + y @ (b - A @ d)``, i.e. the
value functions with their natural (non-negative) sign; the tests compare them with
backward induction and value iteration, which would catch a flip.

Policies induced by an occupancy: ``pi(a | s) = d(s, a) / sum_b d(s, b)``; on states whose
occupancy is at most :data:`UNREACHED_ATOL` (numerically unreached) the policy is *uniform*.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .errors import InvalidModelError
from .models import DiscountedMDP, FiniteHorizonMDP, PreferenceGame

__all__ = [
    "CLARABEL_SETTINGS",
    "UNREACHED_ATOL",
    "FiniteHorizonLPResult",
    "DiscountedLPResult",
    "lp_finite_horizon",
    "lp_discounted",
    "policy_from_occupancy",
    "MaximalLottery",
    "maximal_lottery",
]

#: Clarabel settings passed through cvxpy. Full accuracy at ``1e-10``; the "reduced"
#: tolerances (used when Clarabel stops with ``AlmostSolved``, reported by cvxpy as
#: ``optimal_inaccurate``) are still ``1e-8``, far below the ``1e-6`` the tests ask for.
CLARABEL_SETTINGS: dict = {
    "tol_gap_abs": 1e-10,
    "tol_gap_rel": 1e-10,
    "tol_feas": 1e-10,
    "tol_ktratio": 1e-8,
    "reduced_tol_gap_abs": 1e-8,
    "reduced_tol_gap_rel": 1e-8,
    "reduced_tol_feas": 1e-8,
    "reduced_tol_ktratio": 1e-6,
    "max_iter": 200,
}

#: cvxpy statuses accepted as a solution (see :data:`CLARABEL_SETTINGS`).
_ACCEPTED = ("optimal", "optimal_inaccurate")

#: A state whose (clipped) occupancy is at most this is treated as unreached when a policy
#: is read off an occupancy measure; it gets the uniform distribution.
UNREACHED_ATOL = 1e-10


@dataclass(frozen=True)
class FiniteHorizonLPResult:
    """Solution of the finite-horizon occupancy LP.

    Attributes
    ----------
    value : float
        Optimal objective ``sum_h <d_h, R_h>``, which equals ``mu @ V*_0``.
    occupancy : ``(H, S, A)``
        An optimal occupancy measure ``d_h(s, a) = Pr(s_h = s, a_h = a)``, clipped at 0
        (interior-point solutions can carry ``-1e-12``-sized entries); each ``d_h`` sums to 1
        up to the solver tolerance.
    policy : ``(H, S, A)``
        The stochastic policy induced by ``occupancy``; uniform on unreached states.
    V : ``(H + 1, S)``
        ``V*`` from the equality-constraint duals of the LP with a positive inflow at every
        step (see the module docstring); ``V[H] = 0``.
    status : str
        cvxpy's status of the ``mu`` solve (``"optimal"`` or ``"optimal_inaccurate"``).
    """

    value: float
    occupancy: np.ndarray
    policy: np.ndarray
    V: np.ndarray
    status: str


@dataclass(frozen=True)
class DiscountedLPResult:
    """Solution of the discounted occupancy LP.

    Attributes
    ----------
    value : float
        ``mu @ V* = <d, R> / (1 - gamma)``.
    occupancy : ``(S, A)``
        An optimal *normalised* discounted occupancy (sums to 1), clipped at 0.
    policy : ``(S, A)``
        The stationary policy induced by ``occupancy``; uniform on unreached states.
    V : ``(S,)``
        ``V*`` from the equality-constraint duals of the LP with the uniform initial
        distribution.
    status : str
        cvxpy's status of the ``mu`` solve.
    """

    value: float
    occupancy: np.ndarray
    policy: np.ndarray
    V: np.ndarray
    status: str


def _require(mdp, cls):
    if not isinstance(mdp, cls):
        raise InvalidModelError("mdp", f"must be a {cls.__name__}, got {type(mdp).__name__}",
                                value=type(mdp).__name__)


def policy_from_occupancy(d: np.ndarray, atol: float = UNREACHED_ATOL) -> np.ndarray:
    """``pi(a | s) = d(s, a) / sum_b d(s, b)`` on the last axis; uniform where that sum <= ``atol``.

    ``d`` is clipped at 0 first; any leading axes (steps) are kept.
    """
    d = np.maximum(np.asarray(d, dtype=np.float64), 0.0)
    mass = d.sum(axis=-1, keepdims=True)
    reached = mass > atol
    uniform = np.full_like(d, 1.0 / d.shape[-1])
    return np.where(reached, d / np.where(reached, mass, 1.0), uniform)


def _flow_matrix(P_steps: np.ndarray, discount: float, chained: bool) -> sp.csc_array:
    """The flow-conservation matrix, assembled from index arrays.

    ``chained=True`` (finite horizon): ``P_steps (H, S, A, S)``; variables ``d[h, s, a]``
    flattened in C order; row ``h * S + s'`` reads ``sum_a d_h(s', a) - sum_{s, a}
    P_{h-1}(s' | s, a) d_{h-1}(s, a)`` (no inflow term at ``h = 0``).
    ``chained=False`` (discounted): ``P_steps (1, S, A, S)``; row ``s'`` reads
    ``sum_a d(s', a) - discount * sum_{s, a} P(s' | s, a) d(s, a)``.
    """
    K, S, A, _ = P_steps.shape
    n = K * S * A
    # "Outflow" entries: sum_a d_h(s, a) on row h * S + s.
    rows_out = np.repeat(np.arange(K * S), A)
    cols_out = np.arange(n)
    vals_out = np.ones(n)
    # "Inflow" entries: P_h(s' | s, a) d_h(s, a) feeds row (h + 1) * S + s' (chained) or s'.
    src = P_steps[:-1] if chained else P_steps
    h, s, a, t = np.nonzero(src)
    rows_in = (h + 1) * S + t if chained else t
    cols_in = (h * S + s) * A + a
    vals_in = -discount * src[h, s, a, t]
    rows = np.concatenate([rows_out, rows_in])
    cols = np.concatenate([cols_out, cols_in])
    vals = np.concatenate([vals_out, vals_in])
    # Duplicate (row, col) pairs (the discounted self-loops s = s') are summed.
    return sp.csc_array((vals, (rows, cols)), shape=(K * S, n))


class _OccupancyLP:
    """``max c @ d`` s.t. ``A_eq @ d == b``, ``d >= 0``; ``b`` a cvxpy Parameter (compiled once)."""

    def __init__(self, A_eq: sp.csc_array, c: np.ndarray):
        import cvxpy as cp

        self._cp = cp
        self.d = cp.Variable(A_eq.shape[1], nonneg=True)
        self.b = cp.Parameter(A_eq.shape[0])
        self.flow = A_eq @ self.d == self.b
        self.problem = cp.Problem(cp.Maximize(c @ self.d), [self.flow])

    def solve(self, b: np.ndarray, what: str) -> tuple[float, np.ndarray, np.ndarray, str]:
        """Solve for the right-hand side ``b``: ``(objective, d, duals, status)``.

        Raises RuntimeError, naming the status, unless the solve is (almost) optimal.
        """
        cp = self._cp
        self.b.value = b
        try:
            self.problem.solve(solver=cp.CLARABEL, **CLARABEL_SETTINGS)
        except cp.error.SolverError as exc:
            raise RuntimeError(f"{what}: the LP solver CLARABEL failed (status "
                               f"{self.problem.status!r}): {exc}") from exc
        status = self.problem.status
        if status not in _ACCEPTED or self.d.value is None or self.flow.dual_value is None:
            raise RuntimeError(f"{what}: the LP solver CLARABEL returned status {status!r} "
                               f"(expected one of {_ACCEPTED})")
        return (float(self.problem.value), np.asarray(self.d.value, dtype=np.float64),
                np.asarray(self.flow.dual_value, dtype=np.float64).reshape(-1), status)


def lp_finite_horizon(mdp: FiniteHorizonMDP) -> FiniteHorizonLPResult:
    """Solve a finite-horizon MDP by linear programming over occupancy measures.

    See the module docstring for the primal, its dual and how ``V`` is recovered.
    Two solves of one compiled problem of ``H S A`` variables and ``H S`` equality
    constraints.

    Raises
    ------
    InvalidModelError
        If ``mdp`` is not a :class:`~rltheory.models.FiniteHorizonMDP`.
    RuntimeError
        If Clarabel does not return an (almost) optimal solution; the message names the status.
    """
    _require(mdp, FiniteHorizonMDP)
    H, S, A = mdp.H, mdp.S, mdp.A
    P_steps = np.broadcast_to(mdp.P_stages, (H, S, A, S))
    lp = _OccupancyLP(_flow_matrix(P_steps, 1.0, chained=True), mdp.R.ravel())

    b = np.zeros(H * S)
    b[:S] = mdp.mu
    value, d, _, status = lp.solve(b, "lp_finite_horizon")
    occ = np.maximum(d.reshape(H, S, A), 0.0)

    # Positive inflow everywhere pins every dual coordinate to V*.
    _, _, y, _ = lp.solve(np.full(H * S, 1.0 / S), "lp_finite_horizon (values)")
    V = np.zeros((H + 1, S))
    V[:H] = y.reshape(H, S)
    return FiniteHorizonLPResult(value=value, occupancy=occ, policy=policy_from_occupancy(occ),
                                 V=V, status=status)


def lp_discounted(mdp: DiscountedMDP) -> DiscountedLPResult:
    """Solve a discounted MDP by linear programming over normalised occupancy measures.

    See the module docstring for the normalisation (``occupancy`` sums to 1,
    ``<occupancy, R> = (1 - gamma) mu @ V*``) and how ``V`` is recovered.

    Raises
    ------
    InvalidModelError
        If ``mdp`` is not a :class:`~rltheory.models.DiscountedMDP`.
    RuntimeError
        If Clarabel does not return an (almost) optimal solution; the message names the status.
    """
    _require(mdp, DiscountedMDP)
    S, A, g = mdp.S, mdp.A, mdp.gamma
    lp = _OccupancyLP(_flow_matrix(mdp.P[None], g, chained=False), mdp.R.ravel())

    objective, d, _, status = lp.solve((1.0 - g) * np.asarray(mdp.mu), "lp_discounted")
    occ = np.maximum(d.reshape(S, A), 0.0)

    # Uniform weights pin every dual coordinate: the dual of this solve is V*.
    _, _, V, _ = lp.solve(np.full(S, (1.0 - g) / S), "lp_discounted (values)")
    return DiscountedLPResult(value=objective / (1.0 - g), occupancy=occ,
                              policy=policy_from_occupancy(occ), V=V.copy(), status=status)


# ---------------------------------------------------------------------------- preference games


@dataclass(frozen=True)
class MaximalLottery:
    """The maximal lottery (unregularised symmetric Nash equilibrium, ``beta = 0``) of a preference game.

    Attributes
    ----------
    policy : ``(n,)``, or ``(B, n)`` for a batch of games
        ``pi`` with ``P(pi > y) >= 1/2`` for every response ``y``, clipped at 0 and renormalised.
    value : float, or ``(B,)``
        ``min_y (P^T pi)[y]``, which is ``1/2`` at the optimum (``P + P^T = 1``).
    status : str, or list of str
        cvxpy's status per game.
    """

    policy: np.ndarray
    value: np.ndarray | float
    status: str | list


def maximal_lottery(game: PreferenceGame) -> MaximalLottery:
    """The maximal lottery of ``game`` by linear programming (cvxpy + Clarabel)::

        max_{pi, v}  v   s.t.  P^T pi >= v 1,  1^T pi = 1,  pi >= 0

    (Fishburn's maximal lotteries; the symmetric equilibrium of the zero-sum game with payoff
    ``P - 1/2``). The optimum is ``v = 1/2``. It is unique for an odd number of responses when no
    off-diagonal entry equals ``1/2`` (Laffond, Laslier & Le Breton 1997); otherwise the
    interior-point solver returns some point of the optimal face. One compiled problem (``P`` is a
    cvxpy Parameter) is solved once per game of a batch, by Clarabel at the tight
    :data:`CLARABEL_SETTINGS`, else at its defaults, else by HiGHS through cvxpy (large games with
    many unplayed responses are degenerate LPs on which the interior-point method can stall).

    Raises
    ------
    InvalidModelError
        ``game`` is not a PreferenceGame.
    RuntimeError
        Clarabel did not return an (almost) optimal solution; the message names the status.
    """
    import cvxpy as cp

    if not isinstance(game, PreferenceGame):
        raise InvalidModelError("game", f"must be a PreferenceGame, got {type(game).__name__}",
                                value=type(game).__name__)
    n = game.n
    pi = cp.Variable(n, nonneg=True)
    v = cp.Variable()
    PT = cp.Parameter((n, n))
    problem = cp.Problem(cp.Maximize(v), [PT @ pi >= v, cp.sum(pi) == 1])
    policies, values, statuses = [], [], []
    attempts = ((cp.CLARABEL, CLARABEL_SETTINGS), (cp.CLARABEL, {}), (cp.SCIPY, {"scipy_options": {"method": "highs"}}))
    for b, P in enumerate(game.P_batch):
        PT.value = np.ascontiguousarray(P.T)
        failures = []
        for solver, options in attempts:  # tight Clarabel; default Clarabel; HiGHS (degenerate large games)
            try:
                with warnings.catch_warnings():  # "may be inaccurate": the status says so, and is returned
                    warnings.simplefilter("ignore", UserWarning)
                    problem.solve(solver=solver, **options)
            except cp.error.SolverError as exc:
                failures.append(f"{solver}: {exc}")
                continue
            if problem.status in _ACCEPTED and pi.value is not None:
                break
            failures.append(f"{solver}: status {problem.status!r}")
        else:
            raise RuntimeError(f"maximal_lottery (game {b}): no LP solver succeeded ({'; '.join(failures)})")
        p = np.maximum(np.asarray(pi.value, dtype=np.float64), 0.0)
        p /= p.sum()
        policies.append(p)
        values.append(float((P.T @ p).min()))
        statuses.append(problem.status)
    if game.batched:
        return MaximalLottery(policy=np.stack(policies), value=np.asarray(values), status=statuses)
    return MaximalLottery(policy=policies[0], value=values[0], status=statuses[0])
