"""NonStationaryMDP (exact dynamic regret, total variation) and the weighted count state."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rltheory.errors import InvalidModelError, InvalidParameterError, InvalidPolicyError
from rltheory.kernels.weighted_counts import (
    FLUSH,
    WeightedCountState,
    add_episode_one,
    add_episode_reference,
    closed_form_counts,
    decay_one,
    decay_reference,
    window_evict_one,
    window_evict_reference,
)
from rltheory.mdps import garnet
from rltheory.mdps.nonstationary import drift_grid, piecewise_grid, stationary_grid
from rltheory.models import FiniteHorizonMDP
from rltheory.nonstationary import NonStationaryMDP, dynamic_regret_reference, total_variation_reference
from rltheory.planning import backward_induction, policy_value


def _pair(seed=0, H=3):
    return garnet(S=4, A=2, branching=2, horizon=H, seed=seed), garnet(S=4, A=2, branching=2, horizon=H, seed=seed + 1)


# ---------------------------------------------------------------------------- the model


def test_total_variation_by_hand():
    # Two 1-state, 1-action models: rewards 0.2 and 0.7, H = 2. Schedule a a b b a: two switches,
    # each costs H * |0.7 - 0.2| = 1.0 in rewards and 0 in transitions.
    P = np.ones((1, 1, 1))
    a = FiniteHorizonMDP(P, np.full((1, 1), 0.2), np.ones(1), 2)
    b = FiniteHorizonMDP(P, np.full((1, 1), 0.7), np.ones(1), 2)
    m = NonStationaryMDP([a, b], [0, 0, 1, 1, 0])
    tv = m.total_variation()
    assert tv == pytest.approx({"total": 2.0, "reward": 2.0, "transition": 0.0}, abs=1e-12)
    assert m.total_variation(3)["total"] == pytest.approx(1.0)


def test_total_variation_transitions_by_hand():
    # 2 states, 1 action: P(.|0) = (1, 0) vs (0.5, 0.5): L1 distance 1.0 per step, H = 3, one switch.
    Pa = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    Pb = np.array([[[0.5, 0.5]], [[0.0, 1.0]]])
    R = np.zeros((2, 1))
    mu = np.array([1.0, 0.0])
    m = NonStationaryMDP([FiniteHorizonMDP(Pa, R, mu, 3), FiniteHorizonMDP(Pb, R, mu, 3)], [0, 1])
    assert m.total_variation() == pytest.approx({"total": 3.0, "reward": 0.0, "transition": 3.0})


@settings(deadline=None)
@given(st.integers(0, 1000), st.lists(st.integers(0, 2), min_size=2, max_size=12))
def test_total_variation_matches_episode_loop(seed, schedule):
    models = [garnet(S=3, A=2, branching=2, horizon=3, seed=seed + i) for i in range(3)]
    m = NonStationaryMDP(models, schedule)
    assert m.total_variation()["total"] == pytest.approx(total_variation_reference(models, schedule), abs=1e-10)


@settings(deadline=None)
@given(st.integers(0, 1000))
def test_dynamic_regret_is_exact_and_matches_twin(seed):
    a, b = _pair(seed)
    sched = np.array([0, 1, 1, 0, 1])
    m = NonStationaryMDP([a, b], sched)
    rng = np.random.default_rng(seed)
    pol = rng.integers(0, 2, size=(5, 3, 4))
    got = m.dynamic_regret(pol)
    models = (a, b)
    expected = [backward_induction(models[sched[k]]).value - policy_value(models[sched[k]], pol[k]) for k in range(5)]
    np.testing.assert_allclose(got, expected, atol=1e-12)
    P, R, mu = m.stacked
    np.testing.assert_allclose(dynamic_regret_reference(P, R, mu, m.model_values, sched, pol), got, atol=1e-12)
    assert (got >= -1e-12).all()
    # optimal per-episode policies have zero dynamic regret
    opt = np.stack([backward_induction(models[s]).policy for s in sched])
    np.testing.assert_allclose(m.dynamic_regret(opt), 0.0, atol=1e-12)


def test_bad_inputs_name_the_argument():
    a, _ = _pair()
    other = garnet(S=5, A=2, branching=2, horizon=3, seed=0)
    longer = garnet(S=4, A=2, branching=2, horizon=4, seed=0)
    cases = [
        (lambda: NonStationaryMDP([], [0]), "models"),
        (lambda: NonStationaryMDP([a, "x"], [0]), "models"),
        (lambda: NonStationaryMDP([a, other], [0, 1]), "models"),
        (lambda: NonStationaryMDP([a, longer], [0, 1]), "models"),
        (lambda: NonStationaryMDP([a], [0, 1]), "schedule"),
        (lambda: NonStationaryMDP([a], [-1]), "schedule"),
        (lambda: NonStationaryMDP([a], [0.5]), "schedule"),
        (lambda: NonStationaryMDP([a], []), "schedule"),
        (lambda: NonStationaryMDP([a], [0], coords=np.zeros((3, 2))), "coords"),
        (lambda: NonStationaryMDP([a], [0], coords=np.full((4, 2), np.nan)), "coords"),
    ]
    for call, arg in cases:
        with pytest.raises(InvalidModelError) as info:
            call()
        assert info.value.argument == arg
    with pytest.raises(InvalidModelError, match="entry 1 has S=5"):
        NonStationaryMDP([a, other], [0, 1])
    m = NonStationaryMDP([a], [0, 0])
    with pytest.raises(InvalidPolicyError):
        m.dynamic_regret(np.zeros((3, 3, 4), np.int64))
    with pytest.raises(InvalidPolicyError):
        m.dynamic_regret(np.full((2, 3, 4), 2))


# ---------------------------------------------------------------------------- scenarios


def test_tables_record_holds_every_model_stacked():
    a, b = _pair(seed=7)
    model = NonStationaryMDP([a, b], [1, 0, 1])
    t = model.tables
    assert t.schedule.tolist() == [1, 0, 1] and t.bernoulli is False
    for m, mdp in enumerate((a, b)):
        np.testing.assert_array_equal(t.P[m, 0], mdp.P_stages[0])
        np.testing.assert_array_equal(t.R[m], mdp.R)
        np.testing.assert_array_equal(t.mu[m], mdp.mu)
        np.testing.assert_allclose(t.V_star[m], backward_induction(mdp).V, rtol=0, atol=1e-12)
        assert t.v_star[m] == pytest.approx(backward_induction(mdp).value, abs=1e-12)
    assert t.P_prob.shape == t.P_alias.shape == t.P.shape and t.mu_prob.shape == (2, 4)


def test_piecewise_scenario_facts():
    m = piecewise_grid()
    assert (m.S, m.A, m.H, m.episodes) == (49, 5, 20, 3000)
    assert len(m.models) == 4 and m.meta["switches"] == [600, 1200, 1800, 2400]
    # rewards only change: each switch costs H * max_s |r_new - r_old| = 20 * 1 (the old and new goals are
    # >= 4 cells apart, more than the bump radius 1.5), 4 switches in 3000 episodes -> Delta = 80
    tv = m.total_variation()
    assert tv["transition"] == 0.0 and tv["reward"] == pytest.approx(80.0)
    # the four phases are symmetric: same optimal value
    assert np.ptp(m.model_values) < 1e-9
    # the period is a parameter: halving it doubles Delta
    assert piecewise_grid(period=300).total_variation()["total"] == pytest.approx(9 * 20.0)


def test_drift_and_stationary_scenarios():
    d = drift_grid(episodes=1200)
    assert len(d.models) == 120 and d.total_variation()["transition"] == 0.0
    assert d.total_variation()["reward"] > 0
    s = stationary_grid(episodes=10)
    assert s.total_variation()["total"] == 0.0 and s.coords.shape == (25, 2)
    with pytest.raises(InvalidParameterError) as info:
        drift_grid(period=10, models_per_turn=20)
    assert info.value.argument == "models_per_turn"
    with pytest.raises(InvalidParameterError):
        piecewise_grid(period=0)


# ---------------------------------------------------------------------------- weighted counts


def _random_history(rng, k, H, X, A):
    x = rng.integers(0, X, (k, H))
    a = rng.integers(0, A, (k, H))
    y = rng.integers(0, X, (k, H))
    r = rng.random((k, H))
    return x, a, r, y


@settings(deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([0.5, 0.9, 0.995, 1.0]), st.booleans())
def test_recursive_decay_equals_closed_form(seed, eta, shared):
    rng = np.random.default_rng(seed)
    H, X, A, k = 4, 5, 3, 30
    Hc = 1 if shared else H
    x, a, r, y = _random_history(rng, k, H, X, A)
    N, SR, SP = np.zeros((Hc, X, A)), np.zeros((Hc, X, A)), np.zeros((Hc, X, A, X))
    ref = WeightedCountState.zeros(1, Hc, X, A)
    for s in range(k):
        decay_one(N, SR, SP, eta, FLUSH)
        add_episode_one(N, SR, SP, x[s], a[s], r[s], y[s], 1.0)
        decay_reference(ref, eta, FLUSH)
        add_episode_reference(ref, x[s:s + 1], a[s:s + 1], r[s:s + 1], y[s:s + 1])
    cN, cSR, cSP = closed_form_counts(x, a, r, y, X, A, Hc=Hc, eta=eta)
    for got, want in ((N, cN), (SR, cSR), (SP, cSP)):
        np.testing.assert_allclose(got, want, atol=1e-12, rtol=0)
    for got, twin in ((N, ref.N[0]), (SR, ref.SR[0]), (SP, ref.SP[0])):
        np.testing.assert_allclose(got, twin, atol=1e-12, rtol=0)


@settings(deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 8))
def test_sliding_window_equals_closed_form(seed, W):
    rng = np.random.default_rng(seed)
    H, X, A, k = 3, 4, 2, 20
    x, a, r, y = _random_history(rng, k, H, X, A)
    N, SR, SP = np.zeros((1, X, A)), np.zeros((1, X, A)), np.zeros((1, X, A, X))
    ref = WeightedCountState.zeros(1, 1, X, A)
    for s in range(k):
        if s >= W:
            o = s - W
            window_evict_one(N, SR, SP, x[o], a[o], r[o], y[o], FLUSH)
            window_evict_reference(ref, x[o:o + 1], a[o:o + 1], r[o:o + 1], y[o:o + 1])
        add_episode_one(N, SR, SP, x[s], a[s], r[s], y[s], 1.0)
        add_episode_reference(ref, x[s:s + 1], a[s:s + 1], r[s:s + 1], y[s:s + 1])
    cN, cSR, cSP = closed_form_counts(x, a, r, y, X, A, Hc=1, window=W)
    for got, want, twin in ((N, cN, ref.N[0]), (SR, cSR, ref.SR[0]), (SP, cSP, ref.SP[0])):
        np.testing.assert_allclose(got, want, atol=1e-12, rtol=0)
        np.testing.assert_allclose(twin, got, atol=1e-12, rtol=0)
    assert (N >= 0).all()


def test_subnormal_flush():
    N, SR, SP = np.ones((1, 1, 1)), np.full((1, 1, 1), 0.5), np.ones((1, 1, 1, 1))
    steps = 0
    while N[0, 0, 0] > 0:
        decay_one(N, SR, SP, 0.5, FLUSH)
        steps += 1
        assert N[0, 0, 0] == 0.0 or N[0, 0, 0] >= FLUSH
    # 0.5^39 = 1.8e-12 survives, 0.5^40 = 9.1e-13 < 1e-12 is flushed
    assert steps == 40 and SR[0, 0, 0] == 0.0 and SP.max() == 0.0
