"""Exact dynamic programming on known models.

Finite horizon (steps ``h = 0..H-1``, terminal ``V[H] = 0``)::

    Q_h(s, a) = R_h(s, a) + sum_{s'} P_h(s' | s, a) V_{h+1}(s')
    V_h(s)    = max_a Q_h(s, a)              (optimal)
              = sum_a pi_h(a | s) Q_h(s, a)  (policy evaluation)

Discounted: ``V = max_a [R + gamma P V]`` by value iteration, stopped when
``||V_{n+1} - V_n||_inf < tol (1 - gamma) / (2 gamma)``, which makes the greedy policy's
value and ``V_{n+1}`` both ``tol``-accurate (Puterman 1994, Thm. 6.3.1).

An independent cross-check by linear programming over occupancy measures lives in
:mod:`rltheory.planning_lp`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InvalidModelError, InvalidParameterError
from .game_planning import RegularizedNash, regularized_nash  # re-exported: the planning API
from .models import DiscountedMDP, FiniteHorizonMDP
from .policies import to_stochastic, validate_policy
from .validation import as_float_array, check_finite, check_int, check_real, first_index

__all__ = [
    "MAX_DEFAULT_SWEEPS",
    "PlanningResult",
    "DiscountedSolution",
    "backward_induction",
    "evaluate",
    "q_values",
    "policy_value",
    "occupancy",
    "value_iteration",
    "evaluate_discounted",
    "discounted_occupancy",
    "greedy",
    "RegularizedNash",
    "regularized_nash",
]


#: Cap on :func:`value_iteration`'s *default* number of sweeps. When the contraction bound needs more
#: (``gamma`` very close to 1, or a tiny ``tol``), the call is refused up front naming ``gamma``, rather than
#: running for days (``gamma = 1 - 1e-12`` would default to ~5e13 sweeps); pass ``max_iter=`` to choose.
MAX_DEFAULT_SWEEPS = 1_000_000


@dataclass(frozen=True)
class PlanningResult:
    """Optimal solution of a finite-horizon MDP.

    Attributes
    ----------
    Q : ``(H, S, A)`` optimal action values.
    V : ``(H + 1, S)`` optimal values, ``V[H] = 0``.
    policy : ``(H, S)`` int64, greedy in ``Q`` with ties broken to the lowest action.
    value : float, ``mu @ V[0]``.
    """

    Q: np.ndarray
    V: np.ndarray
    policy: np.ndarray
    value: float


@dataclass(frozen=True)
class DiscountedSolution:
    """Solution of a discounted MDP by value iteration.

    Attributes
    ----------
    V : ``(S,)`` values, ``tol``-close to ``V*`` in sup norm.
    Q : ``(S, A)`` the one-step lookahead ``R + gamma P V``.
    policy : ``(S,)`` int64, greedy in ``Q`` (lowest action on ties).
    iterations : number of Bellman sweeps performed.
    value : float, ``mu @ V``.
    """

    V: np.ndarray
    Q: np.ndarray
    policy: np.ndarray
    iterations: int
    value: float


def _require(mdp, cls, name="mdp"):
    if not isinstance(mdp, cls):
        raise InvalidModelError(name, f"must be a {cls.__name__}, got {type(mdp).__name__}", value=type(mdp).__name__)


def greedy(Q: np.ndarray) -> np.ndarray:
    """Greedy actions along the last axis, ties to the lowest action (``argmax``'s rule).

    ``Q (..., A)`` real, ``A >= 1``, no NaN (``-inf`` marks an excluded action); returns ``(...)`` int64.
    """
    q = as_float_array(Q, "Q", error=InvalidParameterError)
    if q.ndim < 1 or q.shape[-1] < 1:
        raise InvalidParameterError("Q", f"must have at least one action on its last axis, got shape {q.shape}",
                                    value=q.shape)
    nan = np.isnan(q)
    if nan.any():
        idx = first_index(nan)
        raise InvalidParameterError("Q", "must not contain NaN", index=idx, value=float("nan"))
    return np.argmax(q, axis=-1).astype(np.int64)


def backward_induction(mdp: FiniteHorizonMDP) -> PlanningResult:
    """Optimal ``Q``, ``V`` and a deterministic optimal policy by backward induction.

    Cost ``O(H S^2 A)``.
    """
    _require(mdp, FiniteHorizonMDP)
    H, S, A = mdp.H, mdp.S, mdp.A
    Q = np.empty((H, S, A))
    V = np.zeros((H + 1, S))
    for h in range(H - 1, -1, -1):
        Q[h] = mdp.R[h] + mdp.expected_next(h, V[h + 1])
        V[h] = Q[h].max(axis=1)
    return PlanningResult(Q=Q, V=V, policy=greedy(Q), value=float(mdp.mu @ V[0]))


def q_values(mdp: FiniteHorizonMDP, policy) -> tuple[np.ndarray, np.ndarray]:
    """``(Q^pi (H, S, A), V^pi (H + 1, S))`` of a deterministic or stochastic policy."""
    _require(mdp, FiniteHorizonMDP)
    pi = to_stochastic(validate_policy(policy, mdp.H, mdp.S, mdp.A), mdp.A)
    H, S, A = mdp.H, mdp.S, mdp.A
    Q = np.empty((H, S, A))
    V = np.zeros((H + 1, S))
    for h in range(H - 1, -1, -1):
        Q[h] = mdp.R[h] + mdp.expected_next(h, V[h + 1])
        V[h] = np.einsum("sa,sa->s", pi[h], Q[h])
    return Q, V


def evaluate(mdp: FiniteHorizonMDP, policy) -> np.ndarray:
    """Exact value ``V^pi``, shape ``(H + 1, S)``, of a policy ``(H, S)`` or ``(H, S, A)``."""
    return q_values(mdp, policy)[1]


def policy_value(mdp: FiniteHorizonMDP, policy) -> float:
    """``mu @ V^pi_0``: expected return of ``policy`` from the initial distribution."""
    _require(mdp, FiniteHorizonMDP)
    return float(mdp.mu @ evaluate(mdp, policy)[0])


def occupancy(mdp: FiniteHorizonMDP, policy) -> np.ndarray:
    """State-action occupancy ``d[h, s, a] = Pr(s_h = s, a_h = a)`` under ``policy``, ``(H, S, A)``.

    Each ``d[h]`` sums to 1, and ``sum(d * R) = policy_value(mdp, policy)``.
    """
    _require(mdp, FiniteHorizonMDP)
    pi = to_stochastic(validate_policy(policy, mdp.H, mdp.S, mdp.A), mdp.A)
    d = np.empty((mdp.H, mdp.S, mdp.A))
    state = np.array(mdp.mu)
    for h in range(mdp.H):
        d[h] = state[:, None] * pi[h]
        state = mdp.push_forward(h, d[h])
    return d


# --------------------------------------------------------------------------- discounted


def value_iteration(mdp: DiscountedMDP, *, tol: float = 1e-10, max_iter: int | None = None,
                    V0: np.ndarray | None = None) -> DiscountedSolution:
    """Value iteration for a discounted MDP, with the compiled Bellman sweep.

    Stops when ``||V_{n+1} - V_n||_inf < tol (1 - gamma) / (2 gamma)`` (Puterman 1994,
    Thm. 6.3.1), so that ``||V_{n+1} - V*||_inf < tol / 2`` and the greedy policy is
    ``tol``-optimal. ``gamma = 0`` stops after one sweep. A ``tol`` finer than the float resolution of the
    values (``8 eps max(1, max R / (1 - gamma))``, about ``2e-15 / (1 - gamma)``) is met at that resolution.

    Parameters
    ----------
    tol : float > 0
    max_iter : int, optional
        Defaults to the number of sweeps the contraction needs from ``V0 = 0``:
        ``ceil(log(tol (1 - gamma) / 2) / log(gamma)) + 2`` (at least 1); exceeding it raises ``RuntimeError``.
        When that default exceeds :data:`MAX_DEFAULT_SWEEPS` (``gamma`` within about ``3.5e-5`` of 1 at the
        default ``tol``) an :class:`~rltheory.errors.InvalidParameterError` naming ``gamma`` is raised before
        any sweep: pass ``max_iter`` explicitly (value iteration often stops far earlier than the a-priori
        bound) or use :func:`evaluate_discounted` / :mod:`rltheory.planning_lp`.
    """
    from .kernels.planning import PARALLEL_SWEEP_MIN, bellman_sweep, bellman_sweep_parallel

    _require(mdp, DiscountedMDP)
    tol = check_real(tol, "tol", low=0.0, low_open=True)
    g = mdp.gamma
    if max_iter is None:
        # At least one sweep: a tol large enough makes the log ratio negative.
        needed = 1.0 if g == 0 else max(1.0, np.ceil(np.log(tol * (1 - g) / 2) / np.log(g)) + 2)
        if not needed <= MAX_DEFAULT_SWEEPS:
            raise InvalidParameterError(
                "gamma", f"= {g!r} with tol={tol:g} needs up to {needed:.3g} sweeps by the contraction bound, "
                         f"more than MAX_DEFAULT_SWEEPS={MAX_DEFAULT_SWEEPS:,}; pass max_iter= explicitly, a larger "
                         "tol, or use evaluate_discounted / planning_lp", value=g)
        max_iter = int(needed)
    max_iter = check_int(max_iter, "max_iter", low=1)
    if V0 is None:
        V = np.zeros(mdp.S)
    else:
        V = as_float_array(V0, "V0", error=InvalidParameterError).copy()
        if V.shape != (mdp.S,):
            raise InvalidParameterError("V0", f"must have shape ({mdp.S},), got {V.shape}", value=V.shape)
        check_finite(V, "V0", error=InvalidParameterError)
    threshold = tol * (1 - g) / (2 * g) if g > 0 else np.inf
    # A sweep cannot change V by less than the float resolution of its values (|V| <= max R / (1 - gamma)): a
    # tol below that resolution would never be met (found by property testing; notebooks/01_property_testing).
    threshold = max(threshold, 8 * np.finfo(np.float64).eps * max(1.0, float(np.max(mdp.R, initial=0.0)) / (1 - g)))
    P, R = mdp.P, mdp.R
    Q = np.empty((mdp.S, mdp.A))
    V_new = np.empty(mdp.S)
    sweep = bellman_sweep_parallel if P.size >= PARALLEL_SWEEP_MIN else bellman_sweep
    for it in range(1, max_iter + 1):  # noqa: B007  (``it`` is reported after the loop)
        delta = sweep(P, R, g, V, Q, V_new)
        V, V_new = V_new, V
        if delta < threshold:
            break
    else:
        raise RuntimeError(f"value_iteration did not reach tol={tol:g} in {max_iter} sweeps")
    return DiscountedSolution(V=V.copy(), Q=Q.copy(), policy=greedy(Q), iterations=it, value=float(mdp.mu @ V))


def evaluate_discounted(mdp: DiscountedMDP, policy) -> np.ndarray:
    """Exact ``V^pi`` of a stationary policy ``(S,)`` or ``(S, A)`` by a linear solve, ``(S,)``."""
    _require(mdp, DiscountedMDP)
    pi = to_stochastic(validate_policy(policy, 1, mdp.S, mdp.A), mdp.A)[0]
    P_pi = np.einsum("sa,sat->st", pi, mdp.P)
    r_pi = np.einsum("sa,sa->s", pi, mdp.R)
    return np.linalg.solve(np.eye(mdp.S) - mdp.gamma * P_pi, r_pi)


def discounted_occupancy(mdp: DiscountedMDP, policy) -> np.ndarray:
    """Normalised discounted occupancy ``d(s, a) = (1 - gamma) sum_t gamma^t Pr(s_t = s, a_t = a)``, ``(S, A)``.

    ``sum(d) = 1`` and ``sum(d * R) = (1 - gamma) mu @ V^pi``.
    """
    _require(mdp, DiscountedMDP)
    pi = to_stochastic(validate_policy(policy, 1, mdp.S, mdp.A), mdp.A)[0]
    P_pi = np.einsum("sa,sat->st", pi, mdp.P)
    state = np.linalg.solve((np.eye(mdp.S) - mdp.gamma * P_pi).T, (1 - mdp.gamma) * mdp.mu)
    return state[:, None] * pi

