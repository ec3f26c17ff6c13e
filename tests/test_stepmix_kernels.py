"""Pessimism kernels of StepMix / EpsMix: compiled vs NumPy twins, and the spec's properties A6.1-A6.6
(as amended by the addendum) on exact models."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rltheory.algorithms import pessimism as kp
from rltheory.bounds.stepmix import safe_floor
from rltheory.kernels.counts import CountState, update_counts_reference
from rltheory.kernels.planning import optimistic_backward_induction
from rltheory.kernels.sampling import alias_tables, sample_trajectories
from rltheory.models import FiniteHorizonMDP
from rltheory.planning import backward_induction, evaluate
from strategies import finite_horizon_mdps

ATOL = 1e-10


def _counts(mdp, episodes, seed, behaviour=None):
    """Counts of ``episodes`` episodes of a random (or given) stochastic policy: ``CountState`` with n = 1."""
    rng = np.random.default_rng(seed)
    pi = rng.dirichlet(np.ones(mdp.A), size=(mdp.H, mdp.S)) if behaviour is None else behaviour
    tables = alias_tables(mdp)
    state = CountState.zeros(1, mdp.H, mdp.S, mdp.A)
    u = rng.random((episodes, 1, 1 + 3 * mdp.H))
    for e in range(episodes):
        update_counts_reference(state, *sample_trajectories(tables, pi[None], u[e]))
    return state


def _random_policy(rng, H, S, A, sparse=True):
    pi = rng.dirichlet(np.ones(A), size=(H, S))
    if sparse:
        pi[pi < 0.15] = 0.0
        pi[..., 0] += 1e-3
        pi /= pi.sum(axis=-1, keepdims=True)
    return pi


def _mixture(greedy, baseline, rho):
    A = baseline.shape[-1]
    return rho * np.eye(A)[greedy] + (1.0 - rho) * baseline


# ---------------------------------------------------------------------------- twins


@given(mdp=finite_horizon_mdps(max_S=5, max_A=3, max_H=5), n=st.integers(1, 3), seed=st.integers(0, 2**32 - 1),
       episodes=st.sampled_from([0, 3, 40]), noisy=st.booleans())
def test_pessimistic_kernels_match_reference(mdp, n, seed, episodes, noisy):
    rng = np.random.default_rng(seed)
    H, S, A = mdp.H, mdp.S, mdp.A
    states = [_counts(mdp, episodes, seed + r) for r in range(n)]
    cs = np.concatenate([c.counts_sas for c in states])
    ca = np.concatenate([c.counts_sa for c in states])
    rs = np.concatenate([c.reward_sum for c in states])
    wlog = kp.weissman_log_term(S, A, H, 100, 0.05)
    rlog = kp.reward_log_term(S, A, H, 100, 0.05) if noisy else 0.0
    np.testing.assert_allclose(kp.empirical_transitions(cs, ca), kp.empirical_transitions_reference(cs, ca),
                               atol=1e-15)
    policies = np.stack([_random_policy(rng, H, S, A) for _ in range(n)])
    V = kp.pessimistic_evaluation(cs, ca, rs, policies, wlog, rlog)
    np.testing.assert_allclose(V, kp.pessimistic_evaluation_reference(cs, ca, rs, policies, wlog, rlog), atol=ATOL)
    greedy = rng.integers(0, A, (n, H, S))
    baseline = _random_policy(rng, H, S, A)
    rhos = np.concatenate([np.zeros((n, 1)), rng.random((n, 5)), np.ones((n, 1))], axis=1)
    vals = kp.pessimistic_mixture_values(cs, ca, rs, greedy, baseline, mdp.mu, wlog, rlog, rhos)
    ref = kp.pessimistic_mixture_values_reference(cs, ca, rs, greedy, baseline, mdp.mu, wlog, rlog, rhos)
    np.testing.assert_allclose(vals, ref, atol=ATOL)
    # the mixture kernel evaluates exactly the explicit mixture policy
    for g in range(rhos.shape[1]):
        pols = np.stack([_mixture(greedy[r], baseline, rhos[r, g]) for r in range(n)])
        direct = kp.pessimistic_evaluation(cs, ca, rs, pols, wlog, rlog)[:, 0] @ mdp.mu
        np.testing.assert_allclose(vals[:, g], direct, atol=ATOL)
    # the search
    tau = float(rng.uniform(0.0, 1.0)) * max(float(vals.max()), 1e-3) * 1.2
    v_low = float(rng.uniform(0.5, 1.5)) * tau
    rho_min = kp.safe_floor_coefficient(tau, v_low, H)
    cand, up = kp.coarse_candidates(9, rho_min)
    search = kp.MixtureSearch(tau, rho_min, v_low, True, cand, up, 5)
    a = kp.search_mixing_coefficient(cs, ca, rs, greedy, baseline, mdp.mu, wlog, rlog, search)
    b = kp.search_mixing_coefficient_reference(cs, ca, rs, greedy, baseline, mdp.mu, wlog, rlog, search)
    np.testing.assert_allclose(a[0], b[0], atol=ATOL)
    np.testing.assert_allclose(a[1], b[1], atol=ATOL)


def test_pooled_counts_match_reference():
    """Counts pooled over steps (``Hc = 1``) take the same code path in both twins."""
    rng = np.random.default_rng(0)
    cs = rng.integers(0, 4, (2, 1, 3, 2, 3))
    ca = cs.sum(-1)
    rs = rng.random(ca.shape) * ca
    pol = rng.dirichlet(np.ones(2), size=(2, 4, 3))
    V = kp.pessimistic_evaluation(cs, ca, rs, pol, 3.0, 1.0)
    np.testing.assert_allclose(V, kp.pessimistic_evaluation_reference(cs, ca, rs, pol, 3.0, 1.0), atol=ATOL)


# ---------------------------------------------------------------------------- A6.1 safe floor, A6.2, A6.3


@settings(max_examples=40)
@given(mdp=finite_horizon_mdps(max_S=5, max_A=3, max_H=7), seed=st.integers(0, 2**32 - 1))
def test_safe_floor_lemma(mdp, seed):
    """A6.1: with rewards >= 0, V^{pi^rho} >= (1 - rho)^H V^{pi^b} for every rho (random and worst-case pi^k)."""
    rng = np.random.default_rng(seed)
    H, S, A = mdp.H, mdp.S, mdp.A
    baseline = _random_policy(rng, H, S, A)
    v_b = evaluate(mdp, baseline)[0]
    worst = np.argmin(mdp.R, axis=-1)  # a myopically bad optimistic policy
    for greedy in (rng.integers(0, A, (H, S)), worst):
        for rho in (0.0, 0.01, 0.3, 0.77, 1.0):
            v = evaluate(mdp, _mixture(greedy, baseline, rho))[0]
            assert (v >= (1.0 - rho) ** H * v_b - 1e-12).all()


def test_safe_floor_is_tight():
    """Equality when pi^k's action leads to a zero-reward absorbing state and pi^b is paid only at the end."""
    H = 5
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = 1.0  # action 0: stay
    P[0, 1, 1] = 1.0  # action 1: fall into the absorbing state 1
    P[1, :, 1] = 1.0
    R = np.zeros((H, 2, 2))
    R[H - 1, 0, 0] = 1.0
    mdp = FiniteHorizonMDP(P, R, np.array([1.0, 0.0]), H)
    baseline = np.zeros((H, 2, 2))
    baseline[..., 0] = 1.0
    greedy = np.ones((H, 2), np.int64)
    v_b = evaluate(mdp, baseline)[0, 0]
    for rho in (0.1, 0.5, 0.9):
        v = evaluate(mdp, _mixture(greedy, baseline, rho))[0, 0]
        assert v == pytest.approx((1 - rho) ** H * v_b, abs=1e-15)


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.2])
@pytest.mark.parametrize("H", [1, 4, 20, 100])
def test_safe_floor_coefficient(alpha, H):
    """rho_min = 1 - (1 - alpha)^{1/H}, certified by the floor in floating point, and maximal."""
    v_b = 0.731
    tau = (1 - alpha) * v_b
    rho = kp.safe_floor_coefficient(tau, v_b, H)
    assert rho == pytest.approx(safe_floor(alpha, H), abs=1e-15)
    assert (1 - rho) ** H * v_b >= tau
    assert (1 - np.nextafter(rho, 1.0) * (1 + 1e-9)) ** H * v_b < tau
    assert kp.safe_floor_coefficient(tau, v_b, H, floor=False) == 0.0
    assert kp.safe_floor_coefficient(tau, 0.99 * tau, H) == -1.0
    cand, up = kp.coarse_candidates(65, rho)
    assert rho in cand and np.all(np.diff(cand) > 0) and np.all(up > cand) and up[-1] == 1.0 and cand[0] == 0.0


@settings(max_examples=30)
@given(mdp=finite_horizon_mdps(max_S=4, max_A=3, max_H=5), seed=st.integers(0, 2**32 - 1),
       rho=st.floats(0.0, 1.0))
def test_epsmix_value_is_linear(mdp, seed, rho):
    """A6.2: the episode-level mixture (one coin, then a whole episode of pi^k or pi^b) has value
    rho V^k + (1 - rho) V^b, computed independently on a product model whose hidden coin is part of
    the state; the per-step mixture's value is a polynomial in rho instead."""
    rng = np.random.default_rng(seed)
    H, S, A = mdp.H, mdp.S, mdp.A
    baseline = _random_policy(rng, H, S, A)
    greedy = rng.integers(0, A, (H, S))
    Ps = np.stack([mdp.transition(h) for h in range(H)])
    P2 = np.zeros((H, 2 * S, A, 2 * S))
    P2[:, :S, :, :S] = Ps  # coin = heads: copy 0 (plays pi^k)
    P2[:, S:, :, S:] = Ps  # tails: copy 1 (plays pi^b)
    R2 = np.concatenate([mdp.R, mdp.R], axis=1)
    mu2 = np.concatenate([rho * mdp.mu, (1 - rho) * mdp.mu])
    product = FiniteHorizonMDP(P2, R2, mu2, H)
    pi2 = np.concatenate([np.eye(A)[greedy], baseline], axis=1)
    v_mix = float(mu2 @ evaluate(product, pi2)[0])
    v_k = float(mdp.mu @ evaluate(mdp, greedy)[0])
    v_b = float(mdp.mu @ evaluate(mdp, baseline)[0])
    assert v_mix == pytest.approx(rho * v_k + (1 - rho) * v_b, abs=1e-12)


@settings(max_examples=30)
@given(mdp=finite_horizon_mdps(max_S=5, max_A=3, max_H=6), seed=st.integers(0, 2**32 - 1))
def test_mixture_value_is_lipschitz_in_rho(mdp, seed):
    """A6.3: |V^{pi^rho} - V^{pi^rho'}| <= H^2 |rho - rho'| (each step's action law moves by |rho - rho'| in TV)."""
    rng = np.random.default_rng(seed)
    H, S, A = mdp.H, mdp.S, mdp.A
    baseline = _random_policy(rng, H, S, A)
    greedy = rng.integers(0, A, (H, S))
    rhos = np.sort(rng.random(6))
    vals = np.array([evaluate(mdp, _mixture(greedy, baseline, r))[0] for r in rhos])
    for i in range(len(rhos) - 1):
        assert (np.abs(vals[i + 1] - vals[i]) <= H * H * (rhos[i + 1] - rhos[i]) + 1e-12).all()


# ---------------------------------------------------------------------------- A6.4 sandwich


def _weissman_event(mdp, counts, wlog):
    """Whether ||P_hat_h(.|s,a) - P_h(.|s,a)||_1 <= c_n holds at every visited (h, s, a)."""
    n = counts.counts_sa[0]
    P_hat = kp.empirical_transitions(counts.counts_sas, counts.counts_sa)[0]
    P = mdp.P_stages if not mdp.stationary else np.broadcast_to(mdp.P_stages, P_hat.shape)
    l1 = np.abs(P_hat - P).sum(axis=-1)
    radius = np.sqrt(2.0 * wlog / np.maximum(n, 1))
    return bool(((n == 0) | (l1 <= radius)).all())


@settings(max_examples=30)
@given(mdp=finite_horizon_mdps(max_S=5, max_A=3, max_H=5), seed=st.integers(0, 2**32 - 1),
       episodes=st.sampled_from([5, 50, 400]), noisy=st.booleans())
def test_pessimistic_and_optimistic_sandwich(mdp, seed, episodes, noisy):
    """A6.4: on the confidence event, V_low^pi <= V^pi for random stochastic policies and mixtures at every
    step and state, and the CH-optimistic values dominate V*."""
    if noisy:
        mdp = mdp.with_reward_noise("bernoulli")
    H, S, A = mdp.H, mdp.S, mdp.A
    delta = 0.1
    counts = _counts(mdp, episodes, seed)
    d = delta / 2 if noisy else delta
    wlog = kp.weissman_log_term(S, A, H, episodes, d)
    rlog = kp.reward_log_term(S, A, H, episodes, d) if noisy else 0.0
    assume(_weissman_event(mdp, counts, wlog))
    if noisy:
        n = counts.counts_sa[0]
        r_hat = counts.reward_sum[0] / np.maximum(n, 1)
        assume(((n == 0) | (np.abs(r_hat - mdp.R) <= np.sqrt(rlog / (2 * np.maximum(n, 1))))).all())
    rng = np.random.default_rng(seed)
    baseline = _random_policy(rng, H, S, A)
    greedy = rng.integers(0, A, (H, S))
    for pi in (_random_policy(rng, H, S, A), baseline, *(_mixture(greedy, baseline, r) for r in (0.2, 0.9, 1.0))):
        low = kp.pessimistic_evaluation(counts.counts_sas, counts.counts_sa, counts.reward_sum, pi[None], wlog,
                                        rlog)[0]
        assert (low <= evaluate(mdp, pi) + 1e-12).all()
        assert (low >= -1e-15).all()
    # optimism (Hoeffding bonus, V-independent) on the same event: V_bar >= V*
    L = np.log(5 * S * H * A * episodes * H / delta)
    bonus = np.where(counts.counts_sa > 0, 7.0 * H * L / np.sqrt(np.maximum(counts.counts_sa, 1)), 0.0)
    _, V_bar, _ = optimistic_backward_induction(counts.counts_sas, counts.counts_sa, counts.reward_sum, counts.inv_n,
                                                bonus, np.full((1, H, S, A), float(H)), float(H))
    assert (V_bar[0] >= backward_induction(mdp).V - 1e-12).all()


def test_sandwich_check_has_teeth():
    """Without the radius (plug-in values) the lower bound exceeds the true value somewhere."""
    from rltheory.mdps import garnet

    mdp = garnet(S=5, A=2, branching=3, horizon=5, seed=3, stationary=False)
    counts = _counts(mdp, 30, 0)
    pi = _random_policy(np.random.default_rng(0), mdp.H, mdp.S, mdp.A)
    plug_in = kp.pessimistic_evaluation(counts.counts_sas, counts.counts_sa, counts.reward_sum, pi[None], 0.0,
                                        0.0)[0]
    assert (plug_in > evaluate(mdp, pi) + 1e-3).any()


# ---------------------------------------------------------------------------- A6.5 monotonicity


@settings(max_examples=30)
@given(mdp=finite_horizon_mdps(max_S=5, max_A=3, max_H=5), seed=st.integers(0, 2**32 - 1),
       lam=st.floats(1.0, 10.0))
def test_bonus_monotonicity(mdp, seed, lam):
    """A6.5 as far as it holds. Optimistic side (V-independent CH bonus): scaling the bonus by lam >= 1
    weakly raises V_bar. Pessimistic side: for fixed next-step values a larger radius weakly lowers
    every Q_low (one step: the radius only enters as ``- radius * span``)."""
    H, S, A = mdp.H, mdp.S, mdp.A
    counts = _counts(mdp, 30, seed)
    bonus = np.where(counts.counts_sa > 0, 1.0 / np.sqrt(np.maximum(counts.counts_sa, 1)), 0.0)
    Q0 = np.full((1, H, S, A), float(H))
    c = (counts.counts_sas, counts.counts_sa, counts.reward_sum, counts.inv_n)
    lo = optimistic_backward_induction(*c, bonus, Q0, float(H))[1]
    hi = optimistic_backward_induction(*c, lam * bonus, Q0, float(H))[1]
    assert (hi >= lo - 1e-12).all()
    # pessimism over two steps: the last step's lower bound does not depend on the radius (V_H = 0 has no
    # span), so the first step sees the same next-step values and a larger radius can only lower it
    if H >= 2:
        rng = np.random.default_rng(seed)
        pi = _random_policy(rng, 2, S, A)
        two = (counts.counts_sas[:, :2], counts.counts_sa[:, :2], counts.reward_sum[:, :2])
        a = kp.pessimistic_evaluation(*two, pi[None], 2.0, 0.0)
        b = kp.pessimistic_evaluation(*two, pi[None], 2.0 * lam ** 2, 0.0)
        assert (b <= a + 1e-12).all()


def test_pessimism_is_not_monotone_in_the_radius_over_several_steps():
    """Documented exception to spec A6.5 under rule R1: the span-scaled step is not monotone in the
    next-step values (lowering the top value lowers the span, which can raise ``P_hat V - c span``), so a
    larger radius can *raise* a multi-step lower bound. Safety does not need monotonicity; this instance
    (found by random search) keeps the claim from being re-added as a test."""
    cs = np.array([[[0, 2, 3], [3, 3, 1], [0, 0, 2]],
                   [[0, 1, 3], [1, 2, 0], [3, 3, 0]],
                   [[2, 2, 3], [3, 0, 1], [3, 3, 2]]])[None, :, :, None, :]
    ca = cs.sum(-1)
    r_mean = np.array([[0.70085766, 0.14275838, 0.82269701], [0.37800159, 0.31545971, 0.32267355],
                       [0.72745245, 0.08935532, 0.01912568]])[None, :, :, None]
    rs = r_mean * ca
    pol = np.ones((1, 3, 3, 1))
    w = 1.5267864297572653
    a = kp.pessimistic_evaluation(cs, ca, rs, pol, w, 0.0)[0]
    b = kp.pessimistic_evaluation(cs, ca, rs, pol, 1.9456863052632085 * w, 0.0)[0]
    assert b[0, 1] > a[0, 1] + 1e-3
    assert (b[1:] <= a[1:] + 1e-12).all()  # the last two steps are monotone


# ---------------------------------------------------------------------------- A6.6 feasibility


@settings(max_examples=25)
@given(mdp=finite_horizon_mdps(max_S=5, max_A=3, max_H=5), seed=st.integers(0, 2**32 - 1),
       alpha=st.sampled_from([0.05, 0.1, 0.2]), episodes=st.sampled_from([2, 30, 300]),
       use_floor=st.booleans())
def test_search_returns_the_largest_evaluated_feasible_point(mdp, seed, alpha, episodes, use_floor):
    """A6.6 / R2: L(rho_k) >= tau, rho_k in [rho_min, 1], and rho_k is the largest feasible point of the
    R2 grid (checked by brute force over the same points)."""
    rng = np.random.default_rng(seed)
    H, S, A = mdp.H, mdp.S, mdp.A
    baseline = _random_policy(rng, H, S, A)
    v_b = float(mdp.mu @ evaluate(mdp, baseline)[0])
    assume(v_b > 1e-6)
    counts = _counts(mdp, episodes, seed)
    greedy = rng.integers(0, A, (1, H, S))
    tau = (1 - alpha) * v_b
    wlog = kp.weissman_log_term(S, A, H, 1000, 0.05)
    rho_min = kp.safe_floor_coefficient(tau, v_b, H, floor=use_floor)
    cand, up = kp.coarse_candidates(17, rho_min)
    args = (counts.counts_sas, counts.counts_sa, counts.reward_sum, greedy, baseline, mdp.mu, wlog, 0.0)
    rho, lb = kp.search_mixing_coefficient(*args, kp.MixtureSearch(tau, rho_min, v_b, use_floor, cand, up, 8))
    rho, lb = float(rho[0]), float(lb[0])
    assert rho_min <= rho <= 1.0 and lb >= tau - 1e-12 * max(1.0, tau)
    v_rho = kp.pessimistic_mixture_values(*args, np.array([[rho]]))[0, 0]
    floor = (1 - rho) ** H * v_b if use_floor else (v_b if rho == 0 else 0.0)
    assert lb == pytest.approx(max(v_rho, floor), abs=1e-12)
    # brute force: every grid point above rho (coarse, and the fine points of rho's bracket) is infeasible
    v1 = kp.pessimistic_mixture_values(*args, np.ones((1, 1)))[0, 0]
    if rho < 1.0:
        assert v1 < tau
        vals = kp.pessimistic_mixture_values(*args, cand[None])[0]
        above = cand > rho
        assert not ((vals >= tau) | (cand <= rho_min))[above].any()


def test_oracle_counts_give_rho_one_when_the_optimistic_policy_is_safe():
    """A6.6 (oracle): with P_hat = P exactly and no radius, V_low is the exact value, so rho = 1 iff V^{pi^k} >= tau."""
    H, S, A = 3, 2, 2
    P = np.array([[[0.5, 0.5], [0.25, 0.75]], [[1.0, 0.0], [0.5, 0.5]]])
    R = np.array([[0.2, 0.6], [0.9, 0.1]])
    mdp = FiniteHorizonMDP(P, R, np.array([1.0, 0.0]), H)
    m = 8
    cs = np.broadcast_to((m * P).astype(np.int64), (1, H, S, A, S)).copy()
    ca = cs.sum(-1)
    rs = R[None, None] * ca
    baseline = np.full((H, S, A), 0.5)
    v_b = float(mdp.mu @ evaluate(mdp, baseline)[0])
    for greedy in (np.zeros((H, S), np.int64), np.ones((H, S), np.int64)):
        v_k = float(mdp.mu @ evaluate(mdp, greedy)[0])
        exact = kp.pessimistic_mixture_values(cs, ca, rs, greedy[None], baseline, mdp.mu, 0.0, 0.0, np.ones((1, 1)))
        assert exact[0, 0] == pytest.approx(v_k, abs=1e-12)
        tau = 0.9 * v_b
        rho_min = kp.safe_floor_coefficient(tau, v_b, H)
        cand, up = kp.coarse_candidates(65, rho_min)
        rho, _ = kp.search_mixing_coefficient(cs, ca, rs, greedy[None], baseline, mdp.mu, 0.0, 0.0,
                                              kp.MixtureSearch(tau, rho_min, v_b, True, cand, up, 64))
        assert (rho[0] == 1.0) == (v_k >= tau)
