"""Every compiled kernel agrees with its NumPy reference twin (to 1e-10) on random inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rltheory.kernels import counts as kc
from rltheory.kernels import planning as kp
from rltheory.kernels import sampling as ks
from rltheory.planning import policy_value
from strategies import finite_horizon_mdps

ATOL = 1e-10


def _random_distributions(seed, M, n, sparsity=0.5):
    rng = np.random.default_rng(seed)
    p = rng.random((M, n)) * (rng.random((M, n)) > sparsity)
    p[np.arange(M), rng.integers(0, n, M)] += 0.1
    return p / p.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------------------- alias tables


@given(seed=st.integers(0, 2**32 - 1), M=st.integers(1, 20), n=st.integers(1, 40),
       sparsity=st.sampled_from([0.0, 0.5, 0.9]))
def test_alias_tables_match_reference_and_are_exact(seed, M, n, sparsity):
    p = _random_distributions(seed, M, n, sparsity)
    prob, alias = ks.build_alias(p)
    prob_ref, alias_ref = ks.build_alias_reference(p)
    np.testing.assert_array_equal(prob, prob_ref)
    np.testing.assert_array_equal(alias, alias_ref)
    np.testing.assert_allclose(ks.alias_distribution(prob, alias), p, atol=1e-12)
    assert ((alias >= 0) & (alias < n)).all()


def test_alias_distribution_detects_a_wrong_table():
    p = np.array([[0.2, 0.3, 0.5]])
    prob, alias = ks.build_alias(p)
    prob[0, 0] = min(1.0, prob[0, 0] + 0.1)
    assert np.abs(ks.alias_distribution(prob, alias) - p).max() > 0.01


# ---------------------------------------------------------------------------- trajectories


@given(mdp=finite_horizon_mdps(reward_noise="bernoulli"), n=st.integers(1, 5), seed=st.integers(0, 2**32 - 1),
       stochastic=st.booleans())
def test_sample_trajectories_match_reference(mdp, n, seed, stochastic):
    rng = np.random.default_rng(seed)
    tables = ks.alias_tables(mdp)
    if stochastic:
        policies = rng.dirichlet(np.ones(mdp.A), size=(n, mdp.H, mdp.S))
        policies[policies < 0.2] = 0.0  # exercise zero-probability actions
        policies[..., 0] += 1e-3
        policies /= policies.sum(axis=-1, keepdims=True)
    else:
        policies = rng.integers(0, mdp.A, size=(n, mdp.H, mdp.S))
    u = rng.random((n, ks.uniforms_per_episode(mdp.H)))
    got = ks.sample_trajectories(tables, policies, u)
    ref = ks.sample_trajectories_reference(tables, policies, u)
    for a, b in zip(got, ref, strict=True):
        np.testing.assert_array_equal(a, b)
    states, actions, rewards = got
    assert ((states >= 0) & (states < mdp.S)).all() and ((actions >= 0) & (actions < mdp.A)).all()
    assert set(np.unique(rewards)) <= {0.0, 1.0}


def test_sampled_transitions_follow_the_model():
    """Empirical next-state frequencies match P within 5 standard errors (stage-dependent model)."""
    rng = np.random.default_rng(3)
    S, A, H, n = 4, 2, 3, 100_000
    from rltheory.models import FiniteHorizonMDP

    mdp = FiniteHorizonMDP(rng.dirichlet(np.ones(S), size=(H, S, A)), rng.random((H, S, A)), np.full(S, 1 / S))
    policies = np.zeros((n, H, S), np.int64)
    u = rng.random((n, ks.uniforms_per_episode(H)))
    states, actions, _ = ks.sample_trajectories(ks.alias_tables(mdp), policies, u)
    for h in range(H):
        for s in range(S):
            at = states[:, h] == s
            freq = np.bincount(states[at, h + 1], minlength=S) / at.sum()
            p = mdp.P[h, s, 0]
            se = np.sqrt(p * (1 - p) / at.sum())
            assert np.all(np.abs(freq - p) <= 5 * se + 1e-12)


def test_stochastic_policy_action_frequencies():
    from rltheory.models import FiniteHorizonMDP

    S, A, H, n = 2, 3, 1, 200_000
    mdp = FiniteHorizonMDP(np.full((S, A, S), 0.5), np.zeros((S, A)), np.array([1.0, 0.0]), H)
    pi = np.array([0.2, 0.0, 0.8])
    policies = np.broadcast_to(pi, (n, H, S, A)).copy()
    u = np.random.default_rng(0).random((n, ks.uniforms_per_episode(H)))
    _, actions, _ = ks.sample_trajectories(ks.alias_tables(mdp), policies, u)
    freq = np.bincount(actions[:, 0], minlength=A) / n
    assert freq[1] == 0.0
    np.testing.assert_allclose(freq, pi, atol=5 * np.sqrt(0.25 / n))


# ---------------------------------------------------------------------------- counts


@given(mdp=finite_horizon_mdps(reward_noise="bernoulli"), n=st.integers(1, 4), episodes=st.integers(1, 5),
       stage_dependent=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_update_counts_matches_reference(mdp, n, episodes, stage_dependent, seed):
    rng = np.random.default_rng(seed)
    tables = ks.alias_tables(mdp)
    c1 = kc.CountState.zeros(n, mdp.H, mdp.S, mdp.A, stage_dependent=stage_dependent)
    c2 = kc.CountState.zeros(n, mdp.H, mdp.S, mdp.A, stage_dependent=stage_dependent)
    for _ in range(episodes):
        pol = rng.integers(0, mdp.A, size=(n, mdp.H, mdp.S))
        traj = ks.sample_trajectories(tables, pol, rng.random((n, ks.uniforms_per_episode(mdp.H))))
        kc.update_counts(c1, *traj)
        kc.update_counts_reference(c2, *traj)
    for name in ("counts_sas", "counts_sa", "visits"):
        np.testing.assert_array_equal(getattr(c1, name), getattr(c2, name))
    np.testing.assert_allclose(c1.reward_sum, c2.reward_sum, atol=ATOL)
    np.testing.assert_array_equal(c1.inv_n, c2.inv_n)
    np.testing.assert_array_equal(c1.inv_n, np.where(c1.counts_sa > 0, 1.0 / np.maximum(c1.counts_sa, 1), 0.0))
    assert c1.counts_sa.sum() == n * episodes * mdp.H
    np.testing.assert_array_equal(c1.counts_sas.sum(axis=-1), c1.counts_sa)


# ---------------------------------------------------------------------------- optimism kernels


def _random_counts(rng, n, Hc, S, A, max_count=6):
    counts_sas = rng.integers(0, max_count, size=(n, Hc, S, A, S)) * (rng.random((n, Hc, S, A, S)) < 0.6)
    counts_sa = counts_sas.sum(axis=-1)
    reward_sum = counts_sa * rng.random((n, Hc, S, A))
    inv_n = np.where(counts_sa > 0, 1.0 / np.maximum(counts_sa, 1), 0.0)
    return counts_sas.astype(np.int64), counts_sa.astype(np.int64), reward_sum, inv_n


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 4), H=st.integers(1, 5), S=st.integers(1, 6),
       A=st.integers(1, 4), stage_dependent=st.booleans())
def test_optimistic_backward_induction_matches_reference(seed, n, H, S, A, stage_dependent):
    rng = np.random.default_rng(seed)
    counts_sas, counts_sa, reward_sum, inv_n = _random_counts(rng, n, H if stage_dependent else 1, S, A)
    bonus = rng.random((n, H, S, A)) * rng.choice([0.0, 1.0, 10.0])
    Q_prev = np.where(rng.random((n, H, S, A)) < 0.3, rng.random((n, H, S, A)) * H, float(H))
    Q_prev[np.broadcast_to(counts_sa == 0, Q_prev.shape)] = H  # unvisited pairs were never lowered
    got = kp.optimistic_backward_induction(counts_sas, counts_sa, reward_sum, inv_n, bonus, Q_prev, float(H))
    ref = kp.optimistic_backward_induction_reference(counts_sas, counts_sa, reward_sum, inv_n, bonus, Q_prev, float(H))
    for a, b in zip(got, ref, strict=True):
        np.testing.assert_allclose(a, b, atol=ATOL, rtol=0)
    Q, V, U = got
    assert (Q <= Q_prev + 1e-15).all() and (Q <= H).all()
    np.testing.assert_array_equal(np.isinf(U), np.broadcast_to(counts_sa == 0, U.shape))


@given(seed=st.integers(0, 2**32 - 1), H=st.integers(1, 4), S=st.integers(1, 5), A=st.integers(1, 5))
def test_greedy_tiebreak_matches_reference(seed, H, S, A):
    rng = np.random.default_rng(seed)
    Q = rng.integers(0, 3, size=(H, S, A)).astype(float)  # many exact ties
    U = np.where(rng.random((H, S, A)) < 0.2, np.inf, rng.integers(0, 3, size=(H, S, A)).astype(float))
    pol = np.empty((H, S), np.int64)
    kp.greedy_tiebreak_one(Q, U, pol)
    np.testing.assert_array_equal(pol, kp.greedy_tiebreak_reference(Q, U))
    # it is always an argmax of Q
    np.testing.assert_array_equal(np.take_along_axis(Q, pol[..., None], -1)[..., 0], Q.max(-1))


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 3), H=st.integers(1, 5), S=st.integers(1, 6),
       A=st.integers(1, 3), stage_dependent=st.booleans(), scale=st.sampled_from([0.0, 0.01, 1.0]))
def test_ucbvi_bonus_kernels_match_reference(seed, n, H, S, A, stage_dependent, scale):
    from rltheory.algorithms.ucbvi import (
        UCBVIPlanner,
        bernstein_backward_induction_one,
        bernstein_backward_induction_reference,
        hoeffding_bonus_one,
        hoeffding_bonus_reference,
    )

    rng = np.random.default_rng(seed)
    Hc = H if stage_dependent else 1
    counts_sas, counts_sa, reward_sum, inv_n = _random_counts(rng, n, Hc, S, A, max_count=40)
    visits = rng.integers(0, 50, size=(n, H + 1, S)) * (rng.random((n, H + 1, S)) < 0.8)
    Q_prev = np.full((n, H, S, A), float(H))
    L, S_eff = 3.7, float(S * H)
    ref_b = hoeffding_bonus_reference(inv_n, H, L, scale, H)
    for r in range(n):
        b = np.empty((H, S, A))
        hoeffding_bonus_one(inv_n[r], H, L, scale, b)
        np.testing.assert_allclose(b, ref_b[r], rtol=1e-14, atol=0)
        # Alg. 3: 7 H L / sqrt(N) where visited
        N = np.broadcast_to(counts_sa[r], (H, S, A))
        np.testing.assert_allclose(b[N > 0], scale * 7 * H * L / np.sqrt(N[N > 0]), rtol=1e-14)
    counts = kc.CountState(counts_sas, counts_sa, reward_sum, visits, inv_n)
    plan = UCBVIPlanner(True, float(H), L, S_eff, scale)
    Q_ref, V_ref, U_ref = bernstein_backward_induction_reference(counts, Q_prev, plan)
    for r in range(n):
        Q, V, U = np.empty((H, S, A)), np.empty((H + 1, S)), np.empty((H, S, A))
        bernstein_backward_induction_one(kc.CountState(*(x[r] for x in counts)), Q_prev[r], plan, Q, V, U)
        np.testing.assert_allclose(Q, Q_ref[r], atol=ATOL, rtol=0)
        np.testing.assert_allclose(V, V_ref[r], atol=ATOL, rtol=0)
        np.testing.assert_allclose(U, U_ref[r], atol=ATOL, rtol=1e-13)


@pytest.mark.gpu
def test_reference_twins_run_on_cupy():
    import cupy

    rng = np.random.default_rng(0)
    n, H, S, A = 3, 4, 5, 2
    counts_sas, counts_sa, reward_sum, inv_n = _random_counts(rng, n, H, S, A)
    bonus = rng.random((n, H, S, A))
    Q_prev = np.full((n, H, S, A), float(H))
    cpu = kp.optimistic_backward_induction_reference(counts_sas, counts_sa, reward_sum, inv_n, bonus, Q_prev, float(H))
    gpu = kp.optimistic_backward_induction_reference(*(cupy.asarray(x) for x in
                                                        (counts_sas, counts_sa, reward_sum, inv_n, bonus, Q_prev)),
                                                     float(H))
    for a, b in zip(cpu, gpu, strict=True):
        np.testing.assert_allclose(a, b.get(), atol=ATOL)


# ---------------------------------------------------------------------------- mixed policies, plans, sparse models


def _policies_of_every_kind(rng, n, H, S, A):
    return [rng.integers(-1, A, size=(n, H, S)),                   # actions, -1 = uniformly random
            rng.integers(-1, A, size=(n, H)),                      # open-loop plans
            rng.dirichlet(np.ones(A), size=(n, H, S))]             # probabilities


@given(mdp=finite_horizon_mdps(reward_noise="bernoulli"), sparse=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_samplers_and_policy_values_match_references_for_every_policy_kind(mdp, sparse, seed):
    from rltheory.models import FiniteHorizonMDP

    if sparse:
        nxt, pr = mdp.successors
        mdp = FiniteHorizonMDP.from_successors(nxt if not mdp.stationary else nxt[0], pr if not mdp.stationary
                                               else pr[0], mdp.R, mdp.mu, mdp.H, reward_noise="bernoulli")
    rng = np.random.default_rng(seed)
    tables = ks.alias_tables(mdp)
    P, P_next = kp.transition_arrays(mdp)
    n, H, S, A = 4, mdp.H, mdp.S, mdp.A
    for policies in _policies_of_every_kind(rng, n, H, S, A):
        u = rng.random((n, ks.uniforms_per_episode(H)))
        got = ks.sample_trajectories(tables, policies, u)
        for a, b in zip(got, ks.sample_trajectories_reference(tables, policies, u), strict=True):
            np.testing.assert_array_equal(a, b)
        values = kp.policy_values(P, P_next, mdp.R, mdp.mu, policies)
        np.testing.assert_allclose(values, kp.policy_values_reference(P, P_next, mdp.R, mdp.mu, policies), atol=ATOL)
        # against exact planning with the equivalent stochastic policy
        if policies.ndim == 4:
            sto = policies
        else:
            det = policies if policies.ndim == 3 else np.broadcast_to(policies[:, :, None], (n, H, S))
            sto = np.where(det[..., None] >= 0, np.eye(A)[np.maximum(det, 0)], 1.0 / A)
        np.testing.assert_allclose(values, [policy_value(mdp, sto[r]) for r in range(n)], atol=ATOL)


def test_uniform_action_entries_are_uniform():
    from rltheory.models import FiniteHorizonMDP

    S, A, H, n = 1, 3, 1, 90_000
    mdp = FiniteHorizonMDP(np.ones((S, A, S)), np.zeros((S, A)), np.ones(S), H)
    u = np.random.default_rng(0).random((n, ks.uniforms_per_episode(H)))
    _, actions, _ = ks.sample_trajectories(ks.alias_tables(mdp), np.full((n, H, S), ks.RANDOM_ACTION), u)
    freq = np.bincount(actions[:, 0], minlength=A) / n
    np.testing.assert_allclose(freq, 1 / A, atol=5 * np.sqrt(2 / 9 / n))


@given(seed=st.integers(0, 2**32 - 1), S=st.integers(1, 40), A=st.integers(1, 5), gamma=st.sampled_from([0.0, 0.9]))
def test_parallel_bellman_sweep_matches_reference(seed, S, A, gamma):
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(S), size=(S, A))
    R, V = rng.random((S, A)), rng.random(S) * 10
    Q, V_new = np.empty((S, A)), np.empty(S)
    delta = kp.bellman_sweep_parallel(P, R, gamma, V, Q, V_new)
    Q_ref, V_ref, delta_ref = kp.bellman_sweep_reference(P, R, gamma, V)
    np.testing.assert_allclose(Q, Q_ref, atol=ATOL)
    np.testing.assert_allclose(V_new, V_ref, atol=ATOL)
    assert delta == pytest.approx(delta_ref, abs=ATOL)


# ---------------------------------------------------------------------------- observed successor lists, incremental
# evaluation and UCBVI's incremental planner (their twins are the dense references above)


@given(mdp=finite_horizon_mdps(), n=st.integers(1, 3), episodes=st.integers(1, 6), stage_dependent=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_observed_support_matches_reference(mdp, n, episodes, stage_dependent, seed):
    rng = np.random.default_rng(seed)
    # pooled counts only on a stationary model (as UCBVI refuses otherwise): pooled over steps of a
    # stage-dependent model, a row can see more distinct next states than one step's successor width K
    stage_dependent = stage_dependent or not mdp.stationary
    tables = ks.alias_tables(mdp)
    K = mdp.successors[0].shape[-1]
    counts = kc.CountState.zeros(n, mdp.H, mdp.S, mdp.A, stage_dependent=stage_dependent)
    support = kc.ObservedSupport.zeros(n, mdp.H, mdp.S, mdp.A, K, stage_dependent=stage_dependent)
    for _ in range(episodes):
        pol = rng.integers(0, mdp.A, size=(n, mdp.H, mdp.S))
        states, actions, rewards = ks.sample_trajectories(tables, pol, rng.random((n, ks.uniforms_per_episode(mdp.H))))
        kc.update_counts(counts, states, actions, rewards)
        for r in range(n):
            kc.update_support_one(kc.ObservedSupport(*(x[r] for x in support)), states[r], actions[r])
    ref = kc.observed_support_reference(counts.counts_sas, K)
    for got, want in zip(support, ref, strict=True):
        np.testing.assert_array_equal(got, want)
    # by hand: the lists are increasing, hold exactly the next states seen, with their counts
    nxt, cnt, size = support
    for idx in np.ndindex(*size.shape):
        m = size[idx]
        row = counts.counts_sas[idx]
        np.testing.assert_array_equal(nxt[idx][:m], np.flatnonzero(row))
        np.testing.assert_array_equal(cnt[idx][:m], row[row > 0])


def test_observed_support_refuses_overflow():
    support = kc.ObservedSupport.zeros(1, 1, 3, 1, 1)
    one = kc.ObservedSupport(*(x[0] for x in support))
    kc.update_support_one(one, np.array([0, 1]), np.array([0]))
    with pytest.raises(ValueError, match="capacity"):
        kc.update_support_one(one, np.array([0, 2]), np.array([0]))


@given(mdp=finite_horizon_mdps(), sparse=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_policy_value_update_matches_reference_and_full_evaluation(mdp, sparse, seed):
    """Successive policies that change at random steps: the value kept between calls equals a fresh evaluation."""
    rng = np.random.default_rng(seed)
    model = kp.exact_model(mdp, successor_lists=sparse)
    H, S, A = mdp.H, mdp.S, mdp.A
    pol = rng.integers(-1, A, size=(H, S))
    W = np.zeros((H + 1, S))
    v = kp.policy_value_update_one(model.P, model.P_next, model.R, model.mu, pol, H - 1, W)
    for _ in range(6):
        top = int(rng.integers(-1, H))
        if top >= 0:
            pol[rng.integers(0, top + 1), rng.integers(0, S)] = rng.integers(-1, A)
            pol[top, rng.integers(0, S)] = rng.integers(-1, A)
        v = kp.policy_value_update_one(model.P, model.P_next, model.R, model.mu, pol, top, W)
        V1, V2 = np.empty(S), np.empty(S)
        assert v == kp.policy_value_one(model.P, model.P_next, model.R, model.mu, pol, V1, V2)  # same bits
        dense = kp.exact_model(mdp)
        ref = kp.policy_values_reference(dense.P, dense.P_next, dense.R, dense.mu, pol[None])[0]
        assert abs(v - ref) <= ATOL
        if (pol >= 0).all():
            assert abs(v - policy_value(mdp, pol)) <= 1e-9


@given(mdp=finite_horizon_mdps(reward_noise="bernoulli"), bernstein=st.booleans(), stage_dependent=st.booleans(),
       scale=st.sampled_from([0.0, 0.001, 0.01, 1.0]), seed=st.integers(0, 2**32 - 1))
def test_incremental_ucbvi_planner_matches_reference(mdp, bernstein, stage_dependent, scale, seed):
    """Episode after episode, the incremental planner gives the dense twin's Q, V and greedy policy (and the
    compiled full-pass planner's bits), whatever changed since the previous call."""
    from rltheory.algorithms.ucbvi import (
        UCBVIBuffers,
        UCBVIPlanner,
        UCBVISupport,
        greedy_tiebreak_reference,
        refresh_hoeffding_bonus_one,
        ucbvi_plan_one,
        ucbvi_plan_reference,
        ucbvi_plan_support_one,
    )

    if not stage_dependent and not mdp.stationary:
        return
    rng = np.random.default_rng(seed)
    H, S, A = mdp.H, mdp.S, mdp.A
    Hc = H if stage_dependent else 1
    K = mdp.successors[0].shape[-1]
    plan = UCBVIPlanner(bernstein, float(H), 2.5, float(S * H), scale)
    counts = kc.CountState.zeros(1, H, S, A, stage_dependent=stage_dependent)
    support = kc.ObservedSupport.zeros(1, H, S, A, K, stage_dependent=stage_dependent)
    one = kc.CountState(*(x[0] for x in counts))
    fast = UCBVISupport(kc.ObservedSupport(*(x[0] for x in support)), np.zeros((Hc, S, A)), np.zeros((Hc, S, A),
                                                                                                     np.uint8))
    buf = UCBVIBuffers(np.empty((H + 1, S)), np.empty((H, S, A)), np.empty((H, S)), np.empty((H, S, A)),
                       np.full((H, S), -1, np.int64), np.zeros((2, S), np.uint8), np.empty(1), np.empty(max(S, H),
                                                                                                         np.int64))
    V_star = kp.exact_model(mdp).V_star
    Q = np.full((H, S, A), float(H))
    Q_ref = Q[None].copy()
    Q_dense = Q.copy()
    tables = ks.alias_tables(mdp)
    states = np.zeros(H + 1, np.int64)
    actions = np.zeros(H, np.int64)
    for e in range(25):
        top, gap = ucbvi_plan_support_one(plan, one, fast, V_star, Q, buf, states, e % 10 == 0)
        V_ref, U_ref = ucbvi_plan_reference(plan, counts, Q_ref)
        np.testing.assert_allclose(Q, Q_ref[0], atol=ATOL, rtol=0)
        np.testing.assert_allclose(buf.V, V_ref[0], atol=ATOL, rtol=0)
        np.testing.assert_array_equal(buf.policy, greedy_tiebreak_reference(Q_ref, U_ref)[0])
        assert abs(gap - (V_ref[0, :-1] - V_star[:-1]).min()) <= ATOL
        # the compiled full pass: the same bits
        V_d, U_d = np.empty((H + 1, S)), np.empty((H, S, A))
        ucbvi_plan_one(plan, one, np.empty((H, S, A)) if bernstein else _hoeffding(plan, one.inv_n, H), Q_dense, V_d,
                       U_d)
        np.testing.assert_array_equal(Q, Q_dense)
        np.testing.assert_array_equal(buf.V, V_d)
        pol = buf.policy.copy()
        s_, a_, r_ = ks.sample_trajectories(tables, pol[None], rng.random((1, ks.uniforms_per_episode(H))))
        states[:], actions[:] = s_[0], a_[0]
        kc.update_counts(counts, s_, a_, r_)
        kc.update_support_one(fast.support, states, actions)
        fast.fresh[np.arange(H) if Hc > 1 else 0, states[:-1], actions] = 1
        if not bernstein:
            refresh_hoeffding_bonus_one(plan, one.inv_n, fast.bonus, states, actions)


def _hoeffding(plan, inv_n, H):
    from rltheory.algorithms.ucbvi import hoeffding_bonus_one

    b = np.empty((H,) + inv_n.shape[1:])
    hoeffding_bonus_one(inv_n, plan.H, plan.L, plan.scale, b)
    return b
