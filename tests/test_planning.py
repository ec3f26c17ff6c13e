"""Exact planning: dynamic programming vs linear programming, policy evaluation identities,
and the planning kernels vs their reference twins and vs :mod:`rltheory.planning`.

The LP (:mod:`rltheory.planning_lp`, cvxpy + Clarabel) is an independent route to ``V*``:
it shares no code with backward induction or value iteration beyond the model arrays.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rltheory import planning_lp
from rltheory.errors import (
    InvalidModelError,
    InvalidParameterError,
    InvalidPolicyError,
    ValidationError,
)
from rltheory.kernels.planning import (
    bellman_sweep,
    bellman_sweep_reference,
    policy_values,
    policy_values_reference,
    transition_arrays,
)
from rltheory.models import DiscountedMDP, FiniteHorizonMDP
from rltheory.planning import (
    backward_induction,
    discounted_occupancy,
    evaluate,
    evaluate_discounted,
    greedy,
    occupancy,
    policy_value,
    q_values,
    value_iteration,
)
from rltheory.planning_lp import lp_discounted, lp_finite_horizon, policy_from_occupancy
from strategies import discounted_mdps, finite_horizon_mdps

LP_ATOL = 1e-6       # LP vs DP (interior-point solver at 1e-10 tolerances)
EXACT_ATOL = 1e-10   # two exact computations of the same quantity in floating point
seeds = st.integers(0, 2**32 - 1)


# ------------------------------------------------------------------ helpers


def _random_deterministic(rng, shape, A):
    return rng.integers(0, A, size=shape).astype(np.int64)


def _random_stochastic(rng, shape):
    """Random distributions on the last axis, some with zeros (exercises skipped actions)."""
    p = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
    p[rng.random(shape) < 0.3] = 0.0
    p[..., 0] += 1e-3
    return p / p.sum(axis=-1, keepdims=True)


def _policy_iteration(mdp: DiscountedMDP) -> np.ndarray:
    """Howard's policy iteration with exact linear solves: ``V*`` independent of value iteration."""
    pi = np.zeros(mdp.S, dtype=np.int64)
    for _ in range(200):
        P_pi = mdp.P[np.arange(mdp.S), pi]
        r_pi = mdp.R[np.arange(mdp.S), pi]
        V = np.linalg.solve(np.eye(mdp.S) - mdp.gamma * P_pi, r_pi)
        Q = mdp.R + mdp.gamma * mdp.P @ V
        # Switch only on strict improvement (beyond rounding), so the loop terminates.
        better = Q.max(axis=1) > Q[np.arange(mdp.S), pi] + 1e-13
        if not better.any():
            return V
        pi = np.where(better, Q.argmax(axis=1), pi)
    raise AssertionError("policy iteration did not terminate")


def _check_fh_flow(mdp: FiniteHorizonMDP, d: np.ndarray, atol: float):
    """``d`` is a finite-horizon occupancy measure of ``mdp`` (non-negative, flow-conserving)."""
    assert d.shape == (mdp.H, mdp.S, mdp.A)
    assert (d >= 0).all()
    np.testing.assert_allclose(d[0].sum(axis=1), mdp.mu, atol=atol)
    for h in range(mdp.H - 1):
        inflow = np.einsum("sa,sat->t", d[h], mdp.transition(h))
        np.testing.assert_allclose(d[h + 1].sum(axis=1), inflow, atol=atol)


# ------------------------------------------------------------------ finite horizon: DP vs LP


@pytest.mark.parametrize("stationary", [True, False], ids=["stationary", "stage-dependent"])
@given(data=st.data())
def test_backward_induction_matches_lp(stationary, data):
    mdp = data.draw(finite_horizon_mdps(stationary=stationary))
    bi = backward_induction(mdp)
    lp = lp_finite_horizon(mdp)
    assert lp.status in ("optimal", "optimal_inaccurate")
    assert abs(bi.value - lp.value) < LP_ATOL
    # The duals (with a positive inflow everywhere) are V* on every state, reachable or not.
    assert lp.V.shape == (mdp.H + 1, mdp.S)
    np.testing.assert_allclose(lp.V, bi.V, atol=LP_ATOL)
    assert abs(mdp.mu @ lp.V[0] - lp.value) < LP_ATOL
    # The LP occupancy is a feasible occupancy measure whose reward is the value.
    _check_fh_flow(mdp, lp.occupancy, atol=1e-7)
    assert abs(np.sum(lp.occupancy * mdp.R) - lp.value) < LP_ATOL
    np.testing.assert_allclose(bi.V[mdp.H], 0.0)
    np.testing.assert_allclose(bi.V[:-1], bi.Q.max(axis=2))


@given(mdp=finite_horizon_mdps())
def test_lp_occupancy_induced_policy_attains_lp_value(mdp):
    lp = lp_finite_horizon(mdp)
    pi = lp.policy
    assert pi.shape == (mdp.H, mdp.S, mdp.A)
    assert (pi >= 0).all()
    np.testing.assert_allclose(pi.sum(axis=2), 1.0, atol=1e-12)
    assert abs(policy_value(mdp, pi) - lp.value) < LP_ATOL
    # A flow-conserving occupancy is reproduced exactly by the policy it induces.
    d = occupancy(mdp, pi)
    assert abs(np.sum(d * mdp.R) - lp.value) < LP_ATOL
    np.testing.assert_allclose(d, lp.occupancy, atol=LP_ATOL)


def test_lp_policy_is_uniform_on_unreached_states():
    # State 1 is never reached (mu on state 0, state 0 absorbing).
    P = np.zeros((2, 3, 2))
    P[0, :, 0] = 1.0
    P[1, :, 1] = 1.0
    R = np.array([[0.1, 0.9, 0.5], [1.0, 0.0, 0.0]])
    mdp = FiniteHorizonMDP(P, R, [1.0, 0.0], 3)
    lp = lp_finite_horizon(mdp)
    np.testing.assert_allclose(lp.policy[:, 1], 1.0 / 3.0)
    np.testing.assert_allclose(lp.policy[:, 0], np.tile([0.0, 1.0, 0.0], (3, 1)), atol=1e-6)
    assert abs(lp.value - 2.7) < LP_ATOL
    # V* of the unreached state is still recovered (3 steps of reward 1).
    np.testing.assert_allclose(lp.V[:, 1], [3.0, 2.0, 1.0, 0.0], atol=LP_ATOL)
    np.testing.assert_allclose(policy_from_occupancy(np.zeros((2, 4))), 0.25)


# ------------------------------------------------------------------ finite horizon: optimality


@given(mdp=finite_horizon_mdps(), seed=seeds)
def test_optimal_value_dominates_random_policies(mdp, seed):
    rng = np.random.default_rng(seed)
    V_star = backward_induction(mdp).V
    for pi in (_random_deterministic(rng, (mdp.H, mdp.S), mdp.A),
               _random_stochastic(rng, (mdp.H, mdp.S, mdp.A)),
               _random_deterministic(rng, (mdp.S,), mdp.A)):
        V_pi = evaluate(mdp, pi)
        assert (V_star >= V_pi - 1e-12).all()
        assert policy_value(mdp, pi) <= backward_induction(mdp).value + 1e-12


@given(mdp=finite_horizon_mdps())
def test_greedy_policy_is_optimal(mdp):
    bi = backward_induction(mdp)
    assert bi.policy.shape == (mdp.H, mdp.S) and bi.policy.dtype == np.int64
    Q_pi, V_pi = q_values(mdp, bi.policy)
    np.testing.assert_allclose(V_pi, bi.V, atol=EXACT_ATOL, rtol=0)
    np.testing.assert_allclose(Q_pi, bi.Q, atol=EXACT_ATOL, rtol=0)
    assert abs(policy_value(mdp, bi.policy) - bi.value) < EXACT_ATOL
    # The greedy action attains the max of Q*.
    attained = np.take_along_axis(bi.Q, bi.policy[..., None], axis=2)[..., 0]
    np.testing.assert_array_equal(attained, bi.V[:-1])


def test_ties_go_to_the_lowest_action():
    # Three actions with *identical* transition rows, so Q ties are exact in floating point.
    # State 0: actions 1 and 2 tie for best; state 1: all three tie; state 2: 0 and 2 tie.
    S, A, H = 3, 3, 4
    P = np.zeros((S, A, S))
    P[:, :] = [0.25, 0.5, 0.25]
    R = np.array([[0.25, 0.75, 0.75], [0.5, 0.5, 0.5], [1.0, 0.0, 1.0]])
    mdp = FiniteHorizonMDP(P, R, [1.0, 0.0, 0.0], H)
    bi = backward_induction(mdp)
    np.testing.assert_array_equal(bi.policy, np.tile([1, 0, 0], (H, 1)))
    # A stage-dependent model where the tie changes with the step.
    R_h = np.stack([R, R[::-1], R, R])
    bi = backward_induction(FiniteHorizonMDP(np.stack([P] * H), R_h, [1.0, 0.0, 0.0]))
    np.testing.assert_array_equal(bi.policy[1], [0, 0, 1])
    # Discounted: value iteration breaks ties the same way.
    vi = value_iteration(DiscountedMDP(P, R, [1 / 3] * 3, 0.9))
    np.testing.assert_array_equal(vi.policy, [1, 0, 0])
    Q = np.array([[1.0, 2.0, 2.0], [3.0, 3.0, 3.0], [0.0, -1.0, 0.0]])
    np.testing.assert_array_equal(greedy(Q), [1, 0, 0])


# ------------------------------------------------------------------ finite horizon: evaluation


@given(mdp=finite_horizon_mdps(), seed=seeds)
def test_deterministic_policy_equals_its_one_hot_form(mdp, seed):
    rng = np.random.default_rng(seed)
    det = _random_deterministic(rng, (mdp.H, mdp.S), mdp.A)
    one_hot = np.eye(mdp.A)[det]
    close = dict(atol=EXACT_ATOL, rtol=0)
    np.testing.assert_allclose(evaluate(mdp, det), evaluate(mdp, one_hot), **close)
    np.testing.assert_allclose(occupancy(mdp, det), occupancy(mdp, one_hot), **close)
    # Float arrays holding integer actions are deterministic policies too.
    # (unless (H, S) is also the stochastic shape (S, A), where a float array means probabilities).
    if (mdp.S, mdp.A) != (mdp.H, mdp.S):
        np.testing.assert_allclose(evaluate(mdp, det.astype(float)), evaluate(mdp, det), atol=0)
    # A stationary policy equals its tiled stage-wise form.
    stat = det[0]
    tiled = np.tile(stat, (mdp.H, 1))
    np.testing.assert_allclose(evaluate(mdp, stat), evaluate(mdp, tiled), atol=0)
    sto = _random_stochastic(rng, (mdp.S, mdp.A))
    tiled = np.broadcast_to(sto, (mdp.H, mdp.S, mdp.A))
    np.testing.assert_allclose(evaluate(mdp, sto), evaluate(mdp, tiled), atol=0)


@given(mdp=finite_horizon_mdps(), seed=seeds, stochastic=st.booleans())
def test_evaluate_equals_occupancy_times_rewards(mdp, seed, stochastic):
    rng = np.random.default_rng(seed)
    pi = (_random_stochastic(rng, (mdp.H, mdp.S, mdp.A)) if stochastic
          else _random_deterministic(rng, (mdp.H, mdp.S), mdp.A))
    d = occupancy(mdp, pi)
    V = evaluate(mdp, pi)
    assert V.shape == (mdp.H + 1, mdp.S)
    np.testing.assert_array_equal(V[mdp.H], 0.0)
    np.testing.assert_allclose(d.sum(axis=(1, 2)), 1.0, atol=1e-12)
    _check_fh_flow(mdp, d, atol=1e-12)
    assert abs(np.sum(d * mdp.R) - mdp.mu @ V[0]) < EXACT_ATOL
    assert abs(policy_value(mdp, pi) - mdp.mu @ V[0]) < EXACT_ATOL
    # The Bellman equation for V^pi, step by step.
    pi_s = np.eye(mdp.A)[pi] if not stochastic else pi
    for h in range(mdp.H):
        Q = mdp.R[h] + mdp.transition(h) @ V[h + 1]
        np.testing.assert_allclose(V[h], np.sum(pi_s[h] * Q, axis=1), atol=EXACT_ATOL)


def test_planning_rejects_bad_models_and_policies():
    fh = FiniteHorizonMDP(np.full((2, 2, 2), 0.5), np.full((2, 2), 0.5), [0.5, 0.5], 3)
    disc = DiscountedMDP(np.full((2, 2, 2), 0.5), np.full((2, 2), 0.5), [0.5, 0.5], 0.5)
    for fn, bad in [(backward_induction, disc), (lambda m: evaluate(m, [0, 0]), disc),
                    (lambda m: occupancy(m, [0, 0]), disc), (value_iteration, fh),
                    (lambda m: evaluate_discounted(m, [0, 0]), fh),
                    (lambda m: discounted_occupancy(m, [0, 0]), fh),
                    (lp_finite_horizon, disc), (lp_discounted, fh),
                    (lp_finite_horizon, "not a model")]:
        with pytest.raises(InvalidModelError) as exc:
            fn(bad)
        assert exc.value.argument == "mdp"
    with pytest.raises(InvalidPolicyError):
        evaluate(fh, [0, 2])
    with pytest.raises(InvalidPolicyError):
        evaluate_discounted(disc, np.full((2, 3), 1 / 3))


@pytest.mark.filterwarnings("ignore:Solution may be inaccurate")
def test_lp_solver_failure_names_the_status(monkeypatch):
    mdp = FiniteHorizonMDP(np.full((3, 2, 3), 1 / 3), [[0.1, 0.9], [0.5, 0.2], [0.3, 0.3]],
                           [0.2, 0.3, 0.5], 4)
    disc = DiscountedMDP(mdp.P, mdp.R[0], mdp.mu, 0.9)
    monkeypatch.setitem(planning_lp.CLARABEL_SETTINGS, "max_iter", 1)
    for fn, m in [(lp_finite_horizon, mdp), (lp_discounted, disc)]:
        with pytest.raises(RuntimeError, match=r"CLARABEL.*status 'user_limit'"):
            fn(m)


# ------------------------------------------------------------------ discounted


@given(mdp=discounted_mdps())
def test_value_iteration_matches_lp_and_policy_iteration(mdp):
    vi = value_iteration(mdp)
    lp = lp_discounted(mdp)
    V_pi = _policy_iteration(mdp)
    np.testing.assert_allclose(vi.V, lp.V, atol=LP_ATOL, rtol=0)
    np.testing.assert_allclose(vi.V, V_pi, atol=1e-9, rtol=0)
    assert abs(vi.value - lp.value) < LP_ATOL
    assert abs(vi.value - mdp.mu @ vi.V) < 1e-12
    # The greedy policy is tol-optimal; its exact value is V*.
    np.testing.assert_allclose(evaluate_discounted(mdp, vi.policy), V_pi, atol=1e-9, rtol=0)
    np.testing.assert_allclose(vi.Q.max(axis=1), vi.V, atol=0)
    # Bellman optimality residual of the value-iteration V.
    assert np.abs((mdp.R + mdp.gamma * mdp.P @ vi.V).max(axis=1) - vi.V).max() < 1e-9
    assert vi.iterations >= 1


@given(mdp=discounted_mdps())
def test_lp_discounted_occupancy_is_normalised_and_its_policy_is_optimal(mdp):
    lp = lp_discounted(mdp)
    d = lp.occupancy
    assert d.shape == (mdp.S, mdp.A) and (d >= 0).all()
    assert abs(d.sum() - 1.0) < 1e-7
    g = mdp.gamma
    inflow = (1 - g) * mdp.mu + g * np.einsum("sa,sat->t", d, mdp.P)
    np.testing.assert_allclose(d.sum(axis=1), inflow, atol=1e-7)
    assert abs(np.sum(d * mdp.R) - (1 - g) * lp.value) < LP_ATOL
    assert abs(mdp.mu @ evaluate_discounted(mdp, lp.policy) - lp.value) < LP_ATOL
    np.testing.assert_allclose(lp.policy.sum(axis=1), 1.0, atol=1e-12)


@given(mdp=discounted_mdps(), seed=seeds, stochastic=st.booleans())
def test_discounted_occupancy_identity(mdp, seed, stochastic):
    rng = np.random.default_rng(seed)
    pi = (_random_stochastic(rng, (mdp.S, mdp.A)) if stochastic
          else _random_deterministic(rng, (mdp.S,), mdp.A))
    d = discounted_occupancy(mdp, pi)
    V = evaluate_discounted(mdp, pi)
    g = mdp.gamma
    assert abs(d.sum() - 1.0) < 1e-12
    assert (d >= -1e-15).all()
    assert abs(np.sum(d * mdp.R) - (1 - g) * mdp.mu @ V) < EXACT_ATOL
    inflow = (1 - g) * mdp.mu + g * np.einsum("sa,sat->t", d, mdp.P)
    np.testing.assert_allclose(d.sum(axis=1), inflow, atol=EXACT_ATOL)
    # V^pi solves its Bellman equation, and never exceeds V*.
    pi_s = pi if stochastic else np.eye(mdp.A)[pi]
    np.testing.assert_allclose(V, np.sum(pi_s * (mdp.R + g * mdp.P @ V), axis=1), atol=EXACT_ATOL)
    assert (V <= _policy_iteration(mdp) + 1e-9).all()
    # Deterministic vs one-hot.
    if not stochastic:
        np.testing.assert_allclose(evaluate_discounted(mdp, np.eye(mdp.A)[pi]), V, atol=EXACT_ATOL)


def test_value_iteration_rejects_bad_parameters():
    mdp = DiscountedMDP(np.full((3, 2, 3), 1 / 3), np.full((3, 2), 0.5), np.ones(3) / 3, 0.9)
    for tol in (0.0, -1e-3, np.nan, np.inf, "1e-6", True, None):
        with pytest.raises(InvalidParameterError) as exc:
            value_iteration(mdp, tol=tol)
        assert exc.value.argument == "tol"
        assert isinstance(exc.value, ValueError)
    for max_iter in (0, -5, 2.5, 10.0, True):
        with pytest.raises(InvalidParameterError) as exc:
            value_iteration(mdp, max_iter=max_iter)
        assert exc.value.argument == "max_iter"
    for V0 in (np.zeros(2), np.zeros((3, 1)), np.zeros((1, 3)), 0.0,
               [np.nan, 0.0, 0.0], [0.0, np.inf, 0.0]):
        with pytest.raises(InvalidParameterError) as exc:
            value_iteration(mdp, V0=V0)
        assert exc.value.argument == "V0"
    # Too few sweeps is a RuntimeError, not a silent answer.
    with pytest.raises(RuntimeError, match="did not reach"):
        value_iteration(mdp, max_iter=2)


def test_value_iteration_large_tol_and_warm_start():
    rng = np.random.default_rng(7)
    P = rng.dirichlet(np.ones(4), size=(4, 3))
    mdp = DiscountedMDP(P, rng.random((4, 3)), np.ones(4) / 4, 0.9)
    V_star = _policy_iteration(mdp)
    # A tolerance larger than 1 / (1 - gamma) is legal (and trivially met).
    for tol in (1e3, 1e6):
        vi = value_iteration(mdp, tol=tol)
        assert np.abs(vi.V - V_star).max() < tol / 2
    # Warm start at V*: one sweep suffices.
    vi = value_iteration(mdp, V0=V_star)
    assert vi.iterations == 1
    np.testing.assert_allclose(vi.V, V_star, atol=1e-12)
    # gamma = 0: one sweep, V = max_a R.
    vi0 = value_iteration(DiscountedMDP(P, mdp.R, mdp.mu, 0.0))
    assert vi0.iterations == 1
    np.testing.assert_allclose(vi0.V, mdp.R.max(axis=1), atol=0)


# ------------------------------------------------------------------ kernels vs twins


@given(S=st.integers(1, 12), A=st.integers(1, 6), gamma=st.sampled_from([0.0, 0.5, 0.9, 0.99]),
       seed=seeds, scale=st.sampled_from([1.0, 100.0]))
def test_bellman_sweep_matches_reference(S, A, gamma, seed, scale):
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(S), size=(S, A))
    R = rng.random((S, A))
    V = scale * rng.standard_normal(S)
    Q = np.empty((S, A))
    V_new = np.empty(S)
    delta = bellman_sweep(P, R, gamma, V, Q, V_new)
    Q_ref, V_ref, delta_ref = bellman_sweep_reference(P, R, gamma, V)
    tol = EXACT_ATOL * scale
    np.testing.assert_allclose(Q, Q_ref, atol=tol, rtol=0)
    np.testing.assert_allclose(V_new, V_ref, atol=tol, rtol=0)
    assert abs(delta - delta_ref) < tol
    # And both are the definition.
    np.testing.assert_allclose(Q, R + gamma * np.einsum("sat,t->sa", P, V), atol=tol, rtol=0)
    # Read-only model arrays (as models hand them out) are accepted.
    P.setflags(write=False)
    R.setflags(write=False)
    assert abs(bellman_sweep(P, R, gamma, V, Q, V_new) - delta) < tol


@given(mdp=finite_horizon_mdps(), n=st.integers(1, 5), seed=seeds, stochastic=st.booleans())
def test_evaluate_policies_matches_reference_and_planning(mdp, n, seed, stochastic):
    rng = np.random.default_rng(seed)
    H, S, A = mdp.H, mdp.S, mdp.A
    if stochastic:
        policies = _random_stochastic(rng, (n, H, S, A))
    else:
        policies = _random_deterministic(rng, (n, H, S), A)
    P, P_next = transition_arrays(mdp)
    R, mu = np.ascontiguousarray(mdp.R), np.asarray(mdp.mu)
    V = policy_values(P, P_next, R, mu, policies)
    V_ref = policy_values_reference(P, P_next, R, mu, policies)
    assert V.shape == V_ref.shape == (n,)
    np.testing.assert_allclose(V, V_ref, atol=EXACT_ATOL, rtol=0)
    for i in range(n):
        np.testing.assert_allclose(V[i], mdp.mu @ evaluate(mdp, policies[i])[0], atol=EXACT_ATOL, rtol=0)
    # Deterministic policies in one-hot form give the same values.
    if not stochastic:
        one_hot = np.eye(A)[policies]
        V_hot = policy_values(P, P_next, R, mu, one_hot)
        np.testing.assert_allclose(V_hot, V, atol=EXACT_ATOL, rtol=0)


def test_errors_are_value_errors():
    assert issubclass(InvalidParameterError, ValidationError)
    assert issubclass(ValidationError, ValueError)


def test_value_iteration_meets_a_tol_below_float_resolution():
    """Regression (found by property testing): tol = 1e-13 at gamma = 0.945 asks sweeps to change V by less than
    its float resolution (|V| ~ 18); the stopping rule is met at that resolution instead of raising."""
    mdp = DiscountedMDP(np.ones((1, 1, 1)), np.array([[0.98]]), np.ones(1), 0.9453125)
    sol = value_iteration(mdp, tol=1e-13)
    assert sol.V[0] == pytest.approx(0.98 / (1 - 0.9453125), rel=1e-14)
