"""KeRNS, RS-KeRNS and the forgetting baselines (Domingues et al., AISTATS 2021; reconstructed rules)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rltheory.algorithms.kerns import (
    DUCBVI,
    SWUCBVI,
    Forgetting,
    KernelPlanner,
    KeRNS,
    RepresentativeNet,
    RestartUCBVI,
    RSKeRNS,
    StateMetric,
    UCBVINoForgetting,
    greedy_noise_one,
    greedy_noise_reference,
    kernel_psi,
    kerns_plan_one,
    kerns_plan_reference,
    kerns_update_one,
    kerns_update_reference,
    map_add_one,
    map_add_reference,
)
from rltheory.bounds.kerns import eta_from_memory, memory_rule, regret_rate_general, regret_rate_tabular
from rltheory.errors import InvalidParameterError
from rltheory.kernels.sampling import alias_tables, sample_trajectories_reference
from rltheory.kernels.weighted_counts import WeightedCountState
from rltheory.mdps import garnet
from rltheory.mdps.nonstationary import piecewise_grid
from rltheory.nonstationary import NonStationaryMDP
from rltheory.planning import backward_induction, policy_value
from rltheory.rng import draw_uniforms, generators, replicate_seeds

# ---------------------------------------------------------------------------- bonus and estimator, by hand


def test_plan_bonus_pinned_by_hand():
    # one state, two actions, H = 1, beta = 0.01, c = 0.2, c2 = 0.02.
    # (s, a=0) seen 3 times with rewards summing to 1.5: C = 3.01,
    # Q = 1.5/3.01 + 0.2/sqrt(3.01) + 0.02 * 1.01 * 1 / 3.01 = 0.49833887043 + 0.12198904700 = 0.62032791743.
    # (s, a=1) unseen: C = 0.01, bonus 2 + 2.02 > 1, clipped at H - h = 1.
    N = np.zeros((1, 1, 2))
    SR = np.zeros((1, 1, 2))
    SP = np.zeros((1, 1, 2, 1))
    N[0, 0, 0], SR[0, 0, 0], SP[0, 0, 0, 0] = 3.0, 1.5, 3.0
    Q, V = np.empty((1, 1, 2)), np.empty((2, 1))
    kerns_plan_one(WeightedCountState(N, SR, SP), np.eye(1), 1, KernelPlanner(0.01, 0.2, 0.02, False, True), Q, V)
    assert Q[0, 0, 0] == pytest.approx(0.62032791743, abs=1e-10)
    assert Q[0, 0, 1] == 1.0 and V[0, 0] == 1.0


def test_kernel_smoothing_pinned_by_hand():
    # two states at distance 1, Gaussian psi, bandwidth 1: K = exp(-1/2) = 0.60653066 between them.
    # State 0, action 0 seen twice with reward 0.5 each (no next-state mass, a terminal H = 1).
    # At state 1: C = 0.01 + 2 exp(-1/2) = 1.2230613194, R_hat = exp(-1/2) * 1.0 / C,
    # Q = R_hat + 0.2/sqrt(C) + 0.0202/C = 0.6932725709.
    N = np.zeros((1, 2, 1))
    SR = np.zeros((1, 2, 1))
    SP = np.zeros((1, 2, 1, 2))
    N[0, 0, 0], SR[0, 0, 0] = 2.0, 1.0
    Ks = np.array([[1.0, np.exp(-0.5)], [np.exp(-0.5), 1.0]])
    Q, V = np.empty((1, 2, 1)), np.empty((2, 2))
    kerns_plan_one(WeightedCountState(N, SR, SP), Ks, 2, KernelPlanner(0.01, 0.2, 0.02, True, True), Q, V)
    assert Q[0, 1, 0] == pytest.approx(0.6932725709, abs=1e-9)


@settings(deadline=None)
@given(st.integers(0, 10_000), st.booleans(), st.booleans())
def test_plan_matches_twin(seed, smooth, shared):
    rng = np.random.default_rng(seed)
    H, X, A = 4, 5, 3
    Hc = 1 if shared else H
    N = rng.integers(0, 4, (Hc, X, A)).astype(float) * rng.random((Hc, X, A))
    SR = N * rng.random((Hc, X, A))
    SP = rng.random((Hc, X, A, X))
    SP *= (N / np.maximum(SP.sum(-1), 1e-12))[..., None]
    Ks = np.exp(-rng.random((X, X)))
    Ks = (Ks + Ks.T) / 2
    np.fill_diagonal(Ks, 1.0)
    Q, V = np.empty((H, X, A)), np.empty((H + 1, X))
    plan = KernelPlanner(beta=0.01, c1=0.3, c2=0.02, smooth=smooth, clip_stage=True)
    kerns_plan_one(WeightedCountState(N, SR, SP), Ks, X, plan, Q, V)
    Qr, Vr = kerns_plan_reference(WeightedCountState(N, SR, SP), Ks, X, plan, H)
    np.testing.assert_allclose(Q, Qr, atol=1e-12)
    np.testing.assert_allclose(V, Vr, atol=1e-12)
    # clipped at H - h, and never below the estimate without bonus
    assert (Q <= (H - np.arange(H))[:, None, None] + 1e-12).all()


@settings(deadline=None)
@given(st.integers(0, 10_000), st.booleans())
def test_greedy_matches_twin(seed, clip_stage):
    # Q with many ties (values on a coarse grid) and some unmapped states (rep_map = -1: every Q at the clip)
    rng = np.random.default_rng(seed)
    H, S, A, X = 3, 6, 4, 4
    Q = rng.integers(0, 3, (H, X, A)).astype(float)
    rep_map = rng.integers(-1, X, S)
    noise = rng.random(S * A)
    policy = np.empty((H, S), np.int64)
    greedy_noise_one(Q, rep_map, noise, clip_stage, policy)
    np.testing.assert_array_equal(policy, greedy_noise_reference(Q, rep_map, noise, clip_stage, H, S, A))


def _random_net(rng, S, grow):
    coords = rng.random((S, 2)) * 3
    D = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    Kst = kernel_psi("gaussian", D, 0.4)
    metric = StateMetric(D, Kst, 0.8, S - 1, grow)
    if grow:
        net = RepresentativeNet(np.zeros(S, np.int64), np.full(S, -1, np.int64), np.zeros(1, np.int64),
                                np.zeros((S, S)))
    else:
        net = RepresentativeNet(np.arange(S), np.arange(S), np.array([S]), Kst.copy())
    return metric, net


def _copy(record):
    return type(record)(*(np.array(x, copy=True) for x in record))


@settings(deadline=None)
@given(st.integers(0, 10_000), st.booleans())
def test_map_add_matches_twin(seed, grow):
    rng = np.random.default_rng(seed)
    S = 9
    metric, net = _random_net(rng, S, grow)
    twin = _copy(net)
    for s in rng.integers(0, S, 20):
        assert map_add_one(s, metric, net) == map_add_reference(s, metric, twin)
    for a, b in zip(net, twin, strict=True):
        np.testing.assert_array_equal(a, b)


@settings(deadline=None, max_examples=30)
@given(st.integers(0, 10_000), st.sampled_from([
    Forgetting(0.9, 0, 0, False, False, 1e-12),    # exponential discounting
    Forgetting(1.0, 3, 0, False, False, 1e-12),    # sliding window
    Forgetting(1.0, 0, 4, False, False, 1e-12),    # restart
    Forgetting(1.0, 0, 4, True, False, 1e-12),     # restart of the rewards only (replication variant)
    Forgetting(0.8, 0, 0, False, True, 1e-12),     # rlberry's step-0 rule (replication variant)
]), st.booleans(), st.booleans())
def test_update_matches_twin(seed, forget, grow, shared):
    rng = np.random.default_rng(seed)
    H, S, A = 4, 7, 3
    Hc = 1 if shared else H
    metric, net = _random_net(rng, S, grow)
    counts = WeightedCountState(np.zeros((Hc, S, A)), np.zeros((Hc, S, A)), np.zeros((Hc, S, A, S)))
    ring = np.zeros((max(1, forget.window), 4, H))
    twin = (_copy(counts), ring.copy(), _copy(net))
    phase = int(rng.integers(4))
    for k in range(12):
        states, actions, rewards = rng.integers(0, S, H + 1), rng.integers(0, A, H), rng.random(H)
        kerns_update_one(k, phase, states, actions, rewards, forget, counts, ring, metric, net)
        kerns_update_reference(k, phase, states, actions, rewards, forget, twin[0], twin[1], metric, twin[2])
        for a, b in zip((*counts, ring, *net), (*twin[0], twin[1], *twin[2]), strict=True):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------- claims


def _ucbvi_reference(model, episodes, seed, beta=0.01, c=0.2, c2=0.02):
    """UCBVI with the same bonus, written from scratch with integer counts (one replicate)."""
    H, S, A = model.H, model.S, model.A
    gen = generators(replicate_seeds(seed, 0, 1))
    u = draw_uniforms(gen, episodes, 1 + 3 * H + S * A)[0]
    n = np.zeros((S, A))
    rsum = np.zeros((S, A))
    nsas = np.zeros((S, A, S))
    regret = np.empty(episodes)
    for k in range(episodes):
        mdp = model.model(k)
        C = beta + n
        Q = np.empty((H, S, A))
        V = np.zeros(S)
        for h in range(H - 1, -1, -1):
            q = rsum / C + (nsas @ V) / C + c / np.sqrt(C) + c2 * (1 + beta) * H / C
            Q[h] = np.minimum(q, H - h)
            V = Q[h].max(axis=1)
        noise = u[k, 1 + 3 * H:].reshape(S, A)
        policy = np.array([[max(range(A), key=lambda a: (Q[h, s, a], noise[s, a])) for s in range(S)]
                           for h in range(H)], dtype=np.int64)
        regret[k] = backward_induction(mdp).value - policy_value(mdp, policy)
        tables = alias_tables(mdp)
        s, a, r = sample_trajectories_reference(tables, policy[None], u[k:k + 1, :1 + 3 * H])
        for h in range(H):
            n[s[0, h], a[0, h]] += 1
            rsum[s[0, h], a[0, h]] += r[0, h]
            nsas[s[0, h], a[0, h], s[0, h + 1]] += 1
    return regret


def _pair_model(K, seed=0, switch=None):
    a = garnet(S=4, A=2, branching=2, horizon=3, seed=seed)
    b = garnet(S=4, A=2, branching=2, horizon=3, seed=seed + 1)
    sched = np.zeros(K, np.int64) if switch is None else (np.arange(K) >= switch).astype(np.int64)
    return NonStationaryMDP([a, b], sched, coords=np.arange(4.0))


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_no_forgetting_zero_bandwidth_equals_ucbvi_reference(backend):
    model = _pair_model(60, switch=30)
    got = KeRNS(eta=1.0, bandwidth=0.0).run(model, 60, seed=3, backend=backend).regret[0]
    np.testing.assert_allclose(got, _ucbvi_reference(model, 60, 3), atol=1e-12, rtol=0)
    # the named baselines are the same learner
    assert UCBVINoForgetting().run(model, 60, seed=3) == KeRNS(eta=1.0, bandwidth=0.0).run(model, 60, seed=3)
    assert DUCBVI(eta=0.9).run(model, 60, seed=3) == KeRNS(eta=0.9, bandwidth=0.0).run(model, 60, seed=3)
    # a window longer than the run forgets nothing
    assert SWUCBVI(window=1000).run(model, 60, seed=3).regret[0].tolist() == got.tolist()


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("make", [
    lambda: KeRNS(eta=0.9, bandwidth=1.0), lambda: RSKeRNS(eta=0.9, bandwidth=0.5, min_dist=1.0, max_repr=3),
    lambda: DUCBVI(eta=0.8), lambda: SWUCBVI(window=4), lambda: RestartUCBVI(period=5, reset="rewards"),
    lambda: UCBVINoForgetting()], ids=["KeRNS", "RSKeRNS", "DUCBVI", "SWUCBVI", "RestartUCBVI", "UCBVINoForgetting"])
def test_results_do_not_depend_on_the_chunking(make, backend):
    # the state carried from chunk to chunk (sums, window ring, representative net, restart phase) is all there
    model = _pair_model(30, switch=12)
    whole = make().run(model, 30, replicates=3, seed=4, backend=backend)
    for chunk in (1, 7):
        assert make().run(model, 30, replicates=3, seed=4, backend=backend, chunk_episodes=chunk) == whole


@settings(deadline=None, max_examples=6)
@given(st.integers(0, 1000), st.sampled_from([1.0, 0.97]))
def test_optimism_on_stationary_models(seed, eta):
    # Hoeffding-scale bonus c = H sqrt(ln(2 S A H K / delta) / 2), delta = 0.01: on the high-probability
    # event V_{k,h} >= V*_h everywhere (the missing mass beta/C and the reward bias are covered by c2).
    K, H, S, A = 80, 3, 4, 2
    model = _pair_model(K, seed=seed)
    c = H * np.sqrt(np.log(2 * S * A * H * K / 0.01) / 2)
    tr = KeRNS(eta=eta, bandwidth=0.0, bonus_scale=c).run(model, K, replicates=2, seed=seed)
    assert (tr.optimism_gap >= -1e-9).all()
    # and the check can fail: with no first-order bonus optimism breaks
    weak = KeRNS(eta=eta, bandwidth=0.0, bonus_scale=0.0, c2=0.01 / 1.01).run(model, K, replicates=2, seed=seed)
    assert (weak.optimism_gap < -1e-6).any()


def _identity_net(S):
    """Every state its own representative, no smoothing: ``(net, metric)``."""
    ids = np.arange(S)
    return (RepresentativeNet(ids.copy(), ids.copy(), np.array([S]), np.eye(S)),
            StateMetric(np.zeros((S, S)), np.eye(S), 0.5, S, False))


def test_faithful_forgetting_total_weight_and_step0_rule():
    # After k episodes of faithful forgetting the total weight is H (1 - eta^k) / (1 - eta); rlberry's
    # step-0 rule discounts one action's column once per episode, so weight piles up (addendum §4.1).
    rng = np.random.default_rng(0)
    H, S, A, eta, k = 5, 6, 3, 0.9, 200
    totals = {}
    for step0 in (False, True):
        counts = WeightedCountState(np.zeros((1, S, A)), np.zeros((1, S, A)), np.zeros((1, S, A, S)))
        forget = Forgetting(eta, 0, 0, False, step0, 1e-12)
        net, metric = _identity_net(S)
        for e in range(k):
            states = rng.integers(0, S, H + 1)
            actions = rng.integers(0, A, H)
            kerns_update_one(e, 0, states, actions, rng.random(H), forget, counts, np.zeros((1, 4, H)), metric, net)
        totals[step0] = counts.N.sum()
    assert totals[False] == pytest.approx(H * (1 - eta ** k) / (1 - eta), rel=1e-12)
    assert totals[True] > 3 * totals[False]


def test_rs_kerns_net_invariants():
    model = piecewise_grid(episodes=120, period=60, size=5, horizon=6)
    coarse = RSKeRNS(eta=0.95, min_dist=1.5, bandwidth=0.5, max_repr=8).run(model, 120, replicates=2, seed=1)
    reps = coarse.representatives
    assert (np.diff(reps, axis=1) >= 0).all() and reps.max() <= 8 and reps[:, -1].min() >= 2
    fine = RSKeRNS(eta=0.95, min_dist=0.7, bandwidth=0.35).run(model, 120, replicates=2, seed=1)
    assert fine.representatives.max() <= 25
    # the step-0 replication variant is a different learner on the same seeds
    step0 = RSKeRNS(eta=0.95, min_dist=0.7, bandwidth=0.35, forgetting="step0_taken_action").run(
        model, 120, replicates=2, seed=1)
    assert not np.array_equal(step0.regret, fine.regret)


def test_forgetting_beats_no_forgetting_on_piecewise():
    # reduced piecewise scenario (period 150, K = 600): forgetting pays after each switch
    model = piecewise_grid(episodes=600, period=150)
    kerns = KeRNS(eta=0.98).run(model, 600, replicates=4, seed=0).cumulative_regret[:, -1]
    plain = UCBVINoForgetting().run(model, 600, replicates=4, seed=0).cumulative_regret[:, -1]
    assert kerns.mean() < 0.85 * plain.mean()


def test_restart_resets_at_a_random_phase():
    model = _pair_model(40, switch=20)
    tr = RestartUCBVI(period=10).run(model, 40, replicates=3, seed=0)
    assert np.isfinite(tr.regret).all()
    # the update kernel: with period 3 and phase 1 the sums are wiped before the episodes k with (k + 1) % 3 == 0
    rng = np.random.default_rng(0)
    H, S, A = 4, 3, 2
    counts = WeightedCountState(np.zeros((1, S, A)), np.zeros((1, S, A)), np.zeros((1, S, A, S)))
    forget = Forgetting(eta=1.0, window=0, restart=3, rewards_only=False, step0=False, flush=1e-12)
    net, metric = _identity_net(S)
    totals = []
    for k in range(7):
        kerns_update_one(k, 1, rng.integers(0, S, H + 1), rng.integers(0, A, H), rng.random(H), forget, counts,
                         np.zeros((1, 4, H)), metric, net)
        totals.append(counts.N.sum())
    # resets at k = 2 and k = 5
    assert totals == [4.0, 8.0, 4.0, 8.0, 12.0, 4.0, 8.0]


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("make, arg", [
    (lambda: KeRNS(eta=0.0), "eta"),
    (lambda: KeRNS(eta=1.5), "eta"),
    (lambda: KeRNS(eta=float("nan")), "eta"),
    (lambda: KeRNS(window=0), "window"),
    (lambda: KeRNS(bandwidth=-0.1), "bandwidth"),
    (lambda: KeRNS(kernel="nope"), "kernel"),
    (lambda: KeRNS(beta=0.0), "beta"),
    (lambda: KeRNS(clip="never"), "clip"),
    (lambda: KeRNS(c2=0.001), "c2"),
    (lambda: RSKeRNS(bandwidth=0.5, min_dist=0.7), "bandwidth"),
    (lambda: RSKeRNS(forgetting="sometimes"), "forgetting"),
    (lambda: RSKeRNS(min_dist=0.0), "min_dist"),
    (lambda: SWUCBVI(window=0), "window"),
    (lambda: RestartUCBVI(period=0), "period"),
    (lambda: RestartUCBVI(reset="half"), "reset"),
])
def test_bad_parameters(make, arg):
    with pytest.raises(InvalidParameterError) as info:
        make()
    assert info.value.argument == arg


def test_c2_error_says_why_and_runs_beyond_schedule_are_refused():
    with pytest.raises(InvalidParameterError, match="beta / \\(1 \\+ beta\\)"):
        KeRNS(c2=0.0)
    KeRNS(c2=0.0, enforce_optimism=False)  # allowed explicitly, for ablations
    with pytest.raises(InvalidParameterError) as info:
        KeRNS().run(_pair_model(10), 11)
    assert info.value.argument == "episodes"


# ---------------------------------------------------------------------------- bounds (reconstructed)


def test_rates_pinned_by_hand():
    # tabular: Delta^(1/3) K^(2/3): Delta = 8, K = 1000 -> 2 * 100 = 200
    assert regret_rate_tabular(1000, 8.0) == pytest.approx(200.0)
    # general d = 1: Delta^(1/4) K^(3/4): Delta = 16, K = 10_000 -> 2 * 1000 = 2000
    assert regret_rate_general(10_000, 16.0, d=1) == pytest.approx(2000.0)
    # memory rule W = c (K / Delta)^(2/3): K = 8000, Delta = 1, c = 1 -> 400; eta = 1 - 1/W
    assert memory_rule(8000, 1.0, constant=1.0) == pytest.approx(400.0)
    assert eta_from_memory(400.0) == pytest.approx(0.9975)
    with pytest.raises(InvalidParameterError):
        regret_rate_general(100, 1.0, d=-1)


@settings(deadline=None, max_examples=10)
@given(st.integers(0, 10_000))
def test_point_based_equals_aggregated_with_infinite_lipschitz(seed):
    # sigma = 0: both plan from the same decayed counts; with sigma > 0 they differ off the samples
    # (the aggregated form evaluates the kernel estimator at every pair, the theory extends Q~ by Lipschitz)
    sigma = 0.0
    from rltheory.algorithms.kerns_pointwise import PointSamples, pointwise_kerns_plan
    from rltheory.kernels.weighted_counts import closed_form_counts

    rng = np.random.default_rng(seed)
    S, A, H, k, eta = 5, 2, 3, 6, 0.9
    coords = rng.random((S, 2)) * 3
    D = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    x, a, y = rng.integers(0, S, (k, H)), rng.integers(0, A, (k, H)), rng.integers(0, S, (k, H))
    r = rng.random((k, H))
    ages = np.repeat(np.arange(k)[::-1], H)
    samples = PointSamples(x.ravel(), a.ravel(), r.ravel(), y.ravel(), ages)
    Qp = pointwise_kerns_plan(samples, D, H=H, A=A, eta=eta, bandwidth=sigma,
                              beta=0.01, c1=0.2, c2=0.02, lipschitz=1e9)
    N, SR, SP = closed_form_counts(x, a, r, y, S, A, Hc=1, eta=eta)
    plan = KernelPlanner(beta=0.01, c1=0.2, c2=0.02, smooth=sigma > 0, clip_stage=True)
    Qa, _ = kerns_plan_reference(WeightedCountState(N, SR, SP), kernel_psi("gaussian", D, sigma), S, plan, H)
    seen = N[0] > 0
    np.testing.assert_allclose(Qp[:, seen], Qa[:, seen], atol=1e-9)


def test_stationary_gridworld_sanity():
    # on the library's stationary gridworld (one model, Delta = 0) every learner's regret per episode falls
    from rltheory.mdps.nonstationary import stationary_grid

    model = stationary_grid(episodes=300, size=4)
    for algo in (UCBVINoForgetting(), KeRNS(eta=0.99)):
        r = algo.run(model, 300, replicates=2, seed=0).regret.mean(axis=0)
        assert r[-50:].mean() < 0.5 * r[:50].mean()
