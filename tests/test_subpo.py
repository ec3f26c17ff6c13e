"""SubPO (Prajapat et al., ICLR 2024): model, objectives, estimators, greedy/OPT, NPG, kernel agreement.

Claims checked on exact (enumerated) models; numbers pinned against hand computations.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rltheory.algorithms.subpo import SRL, SubPO, _model_arrays, uniform_value
from rltheory.algorithms.subpo_exact import (
    TrajectoryTable,
    beam_search,
    exact_ascent,
    exact_greedy_value,
    greedy_value,
    optimum,
)
from rltheory.algorithms.subpo_kernels import (
    epoch_kernel,
    epoch_numpy,
    rollout_numpy,
    tabular_advantage,
)
from rltheory.bounds.subpo import (
    conditioned,
    curvature_ratio,
    curvature_sandwich,
    greedy_ratio,
    tight_family_ratio,
    total_curvature,
)
from rltheory.errors import InvalidModelError, InvalidParameterError, ValidationError
from rltheory.mdps import bandit_smdp, coverage_grid, random_bandit_smdp, tight_greedy_family, two_rooms
from rltheory.models import SubmodularMDP
from rltheory.submodular import LogDetEntropy, Modular, SteinerTruncation, WeightedCoverage


# ----------------------------------------------------------------------------- helpers
def random_smdp(seed, S=4, A=3, H=4, *, stochastic=True, fractional=True, staged=False):
    """A random stochastic submodular MDP small enough to enumerate (S <= 4, A <= 3, H <= 4)."""
    rng = np.random.default_rng(seed)
    shape = (H - 1, S, A) if staged else (S, A)
    P = rng.random(shape + (S,)) ** 3 if stochastic else np.eye(S)[rng.integers(0, S, shape)]
    P /= P.sum(axis=-1, keepdims=True)
    J = 5
    cover = (rng.random((S, J)) < 0.5) * (rng.random((S, J)) if fractional else 1.0)
    mu = rng.random(S)
    return SubmodularMDP(P, mu / mu.sum(), H, cover, rng.random(J) + 0.1)


def random_params(model, seed, scale=1.0):
    rng = np.random.default_rng(seed + 1000)
    theta = scale * rng.standard_normal((model.H - 1, model.S, model.A))
    W = scale * rng.standard_normal((model.A, model.features.shape[1]))
    return theta, W


objectives = st.integers(0, 2**31 - 1).flatmap(lambda seed: st.sampled_from(["coverage", "steiner", "logdet",
                                                                              "modular"]).map(lambda k: (k, seed)))


def make_objective(kind, seed, S=7):
    rng = np.random.default_rng(seed)
    if kind == "coverage":
        return WeightedCoverage(rng.random((S, 5)) * (rng.random((S, 5)) < 0.6), rng.random(5))
    if kind == "steiner":
        return SteinerTruncation((rng.random((S, 3)) < 0.5).astype(float), rng.integers(0, 4, 3))
    if kind == "logdet":
        X = rng.standard_normal((S, 3))
        K = np.exp(-0.5 * ((X[:, None] - X[None]) ** 2).sum(-1))
        return LogDetEntropy(K)
    return Modular(rng.random(S))


# ----------------------------------------------------------------------------- objectives
@given(objectives, st.data())
def test_every_objective_is_monotone_and_submodular(obj, data):
    kind, seed = obj
    F = make_objective(kind, seed)
    S = 7
    B = data.draw(st.sets(st.integers(0, S - 1), max_size=S - 1))
    A = data.draw(st.sets(st.sampled_from(sorted(B)), max_size=len(B))) if B else set()
    v = data.draw(st.sampled_from([x for x in range(S) if x not in B]))
    assert F(A) <= F(B) + 1e-9
    assert F(A | {v}) - F(A) >= F(B | {v}) - F(B) - 1e-9
    assert F(set()) == 0.0


def test_official_entropy_on_multisets_is_not_a_set_function():
    """Spec B7: the code's entropy adds 9.965784 per *visit*, so a repeat adds about +3.4 (not 0).

    By hand: det(K_ss + 1e-6 I) for a repeated s with K_ss = 1 is (1 + e)^2 - 1 = 2e + e^2, so the repeat adds
    1/2 ln((2e + e^2) / (1 + e)) + 9.965784 with e = 1e-6."""
    K = np.array([[1.0, 0.3], [0.3, 1.0]])
    seq = [0, 0]
    M = K[np.ix_(seq, seq)] + 1e-6 * np.eye(2)
    official = 0.5 * np.linalg.slogdet(M)[1] + 9.965784 * len(seq)
    single = 0.5 * math.log(1.0 + 1e-6) + 9.965784
    e = 1e-6
    assert official - single == pytest.approx(0.5 * math.log((2 * e + e * e) / (1 + e)) + 9.965784, abs=1e-9)
    assert official - single > 3.0
    F = LogDetEntropy(K)
    assert F(seq) == pytest.approx(single, abs=1e-12)  # the set form ignores the repeat


@given(st.integers(0, 2**31 - 1), st.sampled_from(["coverage", "steiner"]))
def test_telescoping_identity(seed, kind):
    """F(tau) = F({s_0}) + sum_j Delta_j, with incremental gains (coverage) or set differences (others)."""
    rng = np.random.default_rng(seed)
    S, H = 5, 6
    obj = make_objective(kind, seed, S)
    kw = {"cover": obj.cover, "weights": obj.weights} if kind == "coverage" else {"objective": obj}
    m = SubmodularMDP(np.full((S, 2, S), 1 / S), np.full(S, 1 / S), H, **kw)
    tau = rng.integers(0, S, H)
    assert m.value(tau) == pytest.approx(m.value(tau[:1]) + m.gains(tau).sum(), abs=1e-12)


def test_weighted_coverage_by_hand():
    F = WeightedCoverage([[1.0, 0.5, 0.0], [0.0, 1.0, 0.25]], [2.0, 1.0, 4.0])
    assert F([0]) == pytest.approx(2.5)  # 2*1 + 1*0.5
    assert F([1]) == pytest.approx(2.0)  # 1*1 + 4*0.25
    assert F([0, 1]) == pytest.approx(4.0)  # 2*1 + 1*1 + 4*0.25
    assert F.gain(np.array([1.0, 0.5, 0.0]), 1) == pytest.approx(1.5)


# ----------------------------------------------------------------------------- validation
def _ok():
    return dict(P=np.full((2, 2, 2), 0.5), mu=[1.0, 0.0], H=3, cover=[[1.0, 0.0], [0.0, 1.0]])


@pytest.mark.parametrize("change, argument, index", [
    ({"cover": [[np.nan, 0.0], [0.0, 1.0]]}, "cover", (0, 0)),
    ({"cover": [[1.0, -0.1], [0.0, 1.0]]}, "cover", (0, 1)),
    ({"cover": [[1.0, 0.0], [0.0, 1.5]]}, "cover", (1, 1)),
    ({"weights": [1.0, -2.0]}, "weights", (1,)),
    ({"weights": [1.0, np.inf]}, "weights", (1,)),
    ({"H": 1}, "H", None),
    ({"H": 0}, "H", None),
    ({"P": np.full((2, 2, 2), 0.4)}, "P", (0, 0)),
    ({"mu": [0.5, 0.6]}, "mu", None),
    ({"cover": [[1.0, 0.0]]}, "cover", None),
    ({"features": np.array([[0], [5]])}, "features", (1, 0)),
])
def test_bad_models_raise(change, argument, index):
    kw = _ok() | change
    with pytest.raises(InvalidModelError) as info:
        SubmodularMDP(**kw)
    assert isinstance(info.value, ValueError)
    assert info.value.argument == argument
    if index is not None:
        assert info.value.index == index


@pytest.mark.parametrize("kwargs, argument", [
    ({"estimator": "reinforce"}, "estimator"), ({"policy": "mlp"}, "policy"), ({"optimizer": "rmsprop"}, "optimizer"),
    ({"lr": 0.0}, "lr"), ({"lr": -1.0}, "lr"), ({"lr": float("nan")}, "lr"), ({"batch": 1}, "batch"),
    ({"baseline": "critic"}, "baseline"), ({"optimizer": "npg", "policy": "history"}, "optimizer"),
])
def test_bad_parameters_raise(kwargs, argument):
    with pytest.raises(InvalidParameterError) as info:
        SubPO(**kwargs)
    assert info.value.argument == argument
    with pytest.raises(InvalidParameterError):
        SRL(form="modular")


def test_batch_one_is_fine_without_leave_one_out_and_other_objectives_are_refused():
    SubPO(batch=1, baseline="none")
    m = SubmodularMDP(np.full((2, 2, 2), 0.5), [1.0, 0.0], 3, objective=Modular([1.0, 2.0]))
    with pytest.raises(ValidationError) as info:
        SubPO(batch=2).run(m, 1)
    assert info.value.argument == "mdp"


# ----------------------------------------------------------------------------- environments
def test_grid_invariants():
    cov, rooms = coverage_grid(), two_rooms()
    for m in (cov, rooms):
        assert np.all((m.P == 0) | (m.P == 1)) and np.all(m.P.sum(-1) == 1)  # one-hot per (s, a)
        assert m.normaliser == 2 * (m.H + 1)
    assert cov.S == 900 and cov.H == 80 and rooms.S == 98 and rooms.H == 40
    assert np.flatnonzero(cov.mu).tolist() == [34] and np.flatnonzero(rooms.mu).tolist() == [34]
    # reachable cells of two-rooms: 2 rooms of 7x4 + corridor 2x6 = 68
    reach, frontier = {34}, [34]
    while frontier:
        s = frontier.pop()
        for t in np.flatnonzero(rooms.P[s].sum(0)):
            if t not in reach:
                reach.add(int(t))
                frontier.append(int(t))
    assert len(reach) == 68
    # 2x2 footprint: F <= 4 + 2 (H - 1) = 2 (H + 1) on any trajectory
    rng = np.random.default_rng(0)
    u = rng.random((200, 2 * cov.H - 1))
    out = rollout_numpy(u, np.zeros((cov.H - 1, cov.S, cov.A)), np.zeros((cov.A, 25)), False, *_model_arrays(cov))
    F = out[-1]
    assert F.max() <= 162 and F.min() >= 4
    # incremental gains telescope to F of the visited set, computed from its definition
    np.testing.assert_allclose(F, [cov.value(tr) for tr in out[0]], atol=1e-12)


def test_reference_lines_of_the_addendum():
    """Greedy with first-index ties: 162 on coverage (= OPT = MAX_Ret) and 28 on two-rooms; beam reaches 68."""
    assert greedy_value(coverage_grid())[0] == 162
    assert greedy_value(two_rooms())[0] == 28
    assert beam_search(two_rooms(), 500) == 68


# ----------------------------------------------------------------------------- estimators (exact)
@settings(max_examples=6)
@given(st.integers(0, 10_000), st.sampled_from(["markov", "history"]), st.booleans(), st.booleans())
def test_gain_to_go_is_unbiased(seed, policy, stochastic, staged):
    """E[g_gtg] (enumerated) = grad J (central finite differences) to 1e-6, Markov and history policies."""
    model = random_smdp(seed, stochastic=stochastic, staged=staged)
    table = TrajectoryTable(model)
    theta, W = random_params(model, seed)
    history = policy == "history"
    g_t, g_W = table.expected_estimator(theta, W, history, "gain_to_go")
    f_t, f_W = table.gradient_fd(theta, W, history)
    np.testing.assert_allclose(g_t, f_t, atol=1e-6)
    np.testing.assert_allclose(g_W, f_W, atol=1e-6)
    assert np.abs(f_t).max() > 1e-3  # the check has power


@settings(max_examples=6)
@given(st.integers(0, 10_000))
def test_official_and_myopic_share_an_expectation_that_is_not_the_gradient(seed):
    model = random_smdp(seed)
    table = TrajectoryTable(model)
    theta, W = random_params(model, seed)
    T = model.H - 1
    myo, _ = table.expected_estimator(theta, W, False, "myopic")
    off, _ = table.expected_estimator(theta, W, False, "prefix", ret_scale=1 / (T * model.normaliser))
    np.testing.assert_allclose(off * T * model.normaliser, myo, atol=1e-12)
    # independent form: sum_h E[grad log pi(a_h) Delta_h]
    w, p = table.trajectory_probs(theta), table.probs(theta)
    ref = np.zeros_like(theta)
    for n in range(w.size):
        for h in range(T):
            s, a = table.states[n, h], table.actions[n, h]
            ref[h, s] += w[n] * (np.eye(model.A)[a] - p[n, h]) * table.gains[n, h]
    np.testing.assert_allclose(myo, ref, atol=1e-12)


def test_myopic_direction_differs_from_the_gradient():
    model = random_smdp(3)
    table = TrajectoryTable(model)
    theta, _ = random_params(model, 3)
    myo, _ = table.expected_estimator(theta, None, False, "myopic")
    grad, _ = table.gradient_fd(theta)
    assert np.linalg.norm(myo - grad) > 0.05 * np.linalg.norm(grad)


def test_modular_reduction_is_reinforce_with_reward_to_go():
    """SRL's reward-to-go form on the additive surrogate = REINFORCE with reward to go, written out by hand."""
    model = random_smdp(5, fractional=False)
    R, B, T = 1, 7, model.H - 1
    theta = random_params(model, 5)[0][None]
    W = np.zeros((R, model.A, model.features.shape[1]))
    u = np.random.default_rng(1).random((R, B, 2 * T + 1))
    gt, gW, obj = np.zeros_like(theta), np.zeros_like(W), np.zeros(R)
    epoch_kernel(u, theta, W, False, *_model_arrays(model), 1, 0, 2, 1.0, False, gt, gW, obj)
    states, actions, probs = rollout_numpy(u[0], theta[0], W[0], False, *_model_arrays(model))[:3]
    r = model.cover @ model.weights  # additive per-visit reward r(s), repeats counted
    ref = np.zeros_like(theta[0])
    for b in range(B):
        for h in range(T):
            rtg = sum(r[states[b, j]] for j in range(h + 1, T + 1))
            ref[h, states[b, h]] += (np.eye(model.A)[actions[b, h]] - probs[b, h]) * rtg / B
    np.testing.assert_allclose(gt[0], ref, atol=1e-12)


# ----------------------------------------------------------------------------- kernel vs twin
@pytest.mark.parametrize("gain_mode, return_mode, baseline_mode, npg, history", [
    (0, 0, 0, False, False), (0, 0, 0, False, True), (0, 1, 1, False, True), (0, 2, 2, False, False),
    (1, 2, 0, False, False), (1, 0, 2, False, True), (0, 0, 0, True, False), (0, 1, 0, True, False)])
@pytest.mark.parametrize("which", ["random", "staged", "two_rooms"])
def test_kernel_matches_numpy_twin(gain_mode, return_mode, baseline_mode, npg, history, which):
    models = {"random": lambda: random_smdp(11), "staged": lambda: random_smdp(12, staged=True),
              "two_rooms": lambda: two_rooms(horizon=12)}
    model = models[which]()
    R, B, T = 2, 9, model.H - 1
    rng = np.random.default_rng(2)
    theta = rng.standard_normal((R, T, model.S, model.A))
    W = rng.standard_normal((R, model.A, model.features.shape[1]))
    u = rng.random((R, B, 2 * T + 1))
    outs = []
    for fn in (epoch_kernel, epoch_numpy):
        gt, gW, obj = np.zeros_like(theta), np.zeros_like(W), np.zeros(R)
        fn(u, theta, W, history, *_model_arrays(model), gain_mode, return_mode, baseline_mode, 0.3, npg, gt, gW, obj)
        outs.append((gt, gW, obj))
    for a, b in zip(outs[0], outs[1], strict=True):
        np.testing.assert_allclose(a, b, atol=1e-10, rtol=0)
    assert np.abs(outs[0][0]).max() > 0


def test_run_backends_agree_on_the_grid():
    model = two_rooms(horizon=10)
    for algo in (SubPO(policy="history", batch=16, lr=0.3), SRL(batch=8)):
        a = algo.run(model, 4, replicates=2, seed=3, backend="numba")
        b = algo.run(model, 4, replicates=2, seed=3, backend="numpy")
        np.testing.assert_allclose(a.objective, b.objective, atol=1e-10, rtol=0)


# ----------------------------------------------------------------------------- greedy and bounds
def test_bounds_by_hand():
    assert greedy_ratio() == pytest.approx(0.6321205588285577, abs=1e-15)
    assert tight_family_ratio(3) == pytest.approx(19 / 27, abs=1e-15)
    assert tight_family_ratio(4) == pytest.approx(175 / 256, abs=1e-15)
    assert curvature_ratio(0.5) == pytest.approx(0.7869386805747332, abs=1e-15)
    assert curvature_ratio(0.0) == 1.0
    # F = coverage of {a, b} by s0, {b, c} by s1, unit weights: F(V)=3, F(s0|s1)=1, F(s0)=2 -> c = 1 - 1/2
    F = WeightedCoverage([[1, 1, 0], [0, 1, 1]])
    assert total_curvature(F, [0, 1]) == pytest.approx(0.5)
    assert curvature_sandwich(F, [0, 1], 0.5) == pytest.approx((2.0, 4.0))


@settings(max_examples=15)
@given(st.integers(0, 10_000), st.integers(3, 6), st.integers(2, 4), st.booleans())
def test_greedy_within_nwf_and_curvature_bounds_on_bandit_smdps(seed, S, picks, fractional):
    model = random_bandit_smdp(S, 6, picks + 1, seed=seed, fractional=fractional)
    opt, gre = optimum(model), exact_greedy_value(model)
    assert gre <= opt + 1e-9
    assert gre >= greedy_ratio(picks) * opt - 1e-9 >= greedy_ratio() * opt - 1e-9
    g = conditioned(model.value, 0)
    c = total_curvature(g, range(S))
    assert gre >= curvature_ratio(c) * opt - 1e-9
    A = np.random.default_rng(seed).choice(S, size=min(picks, S), replace=False)
    lo, hi = curvature_sandwich(g, A, c)
    assert lo - 1e-9 <= g(A) <= hi + 1e-9


@pytest.mark.parametrize("k", [2, 3, 4])
def test_tight_family_attains_the_greedy_ratio(k):
    model = tight_greedy_family(k)
    assert optimum(model) == pytest.approx(k, abs=1e-12)
    assert exact_greedy_value(model) / k == pytest.approx(tight_family_ratio(k), abs=1e-12)
    eps = tight_greedy_family(k, eps=0.01)
    assert exact_greedy_value(eps) / k == pytest.approx(tight_family_ratio(k) + 0.01, abs=1e-12)
    assert greedy_value(model, ties="random", episodes=20, seed=1).mean() >= exact_greedy_value(model) - 1e-12


def test_myopic_ascent_stops_at_greedy_while_gain_to_go_reaches_opt():
    """Tight family (k = 3, decoys win ties by eps): exact ascent along the myopic direction converges to the greedy
    value k (1 - (1 - 1/k)^k) + k eps; along the gain-to-go gradient (= grad J) it reaches OPT = k."""
    k, eps = 3, 0.01
    table = TrajectoryTable(tight_greedy_family(k, eps=eps))
    greedy = exact_greedy_value(table.model)
    assert exact_ascent(table, "myopic", 300, 10.0)[-1] == pytest.approx(greedy, abs=0.02)
    assert exact_ascent(table, "gain_to_go", 300, 10.0)[-1] >= 0.99 * k


def test_sampled_gain_to_go_reaches_opt_on_the_tight_family():
    model = tight_greedy_family(3, eps=0.01)
    trace = SubPO(batch=64, lr=0.3).run(model, 150, replicates=2, seed=0)
    assert trace.exact_objective[:, -1].min() >= 0.98 * 3


# ----------------------------------------------------------------------------- NPG
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tabular_npg_equals_pinv_fisher_direction(seed):
    model = random_smdp(seed)
    table = TrajectoryTable(model)
    theta = random_params(model, seed)[0]
    F = table.fisher(theta)
    grad = table.expected_estimator(theta, None, False, "gain_to_go")[0].ravel()
    w = (np.linalg.pinv(F, rcond=1e-10) @ grad).reshape(theta.shape)
    adv = table.advantage(theta)
    # visited (h, s) blocks: pinv gives the minimum-norm solution, adv + const per block; compare centred rows
    visited = np.zeros(theta.shape[:2], bool)
    for h in range(model.H - 1):
        visited[h, np.unique(table.states[:, h])] = True
    centre = lambda x: x - x.mean(axis=2, keepdims=True)  # noqa: E731
    np.testing.assert_allclose(centre(w)[visited], centre(adv)[visited], atol=1e-8)


@pytest.mark.parametrize("seed", [0, 4])
def test_exact_npg_improves_monotonically(seed):
    model = random_smdp(seed)
    table = TrajectoryTable(model)
    theta = np.zeros((model.H - 1, model.S, model.A))
    eta = 0.1 / model.normaliser
    J = [table.objective(theta)]
    for _ in range(40):
        theta = theta + eta * table.advantage(theta)
        J.append(table.objective(theta))
    assert np.all(np.diff(J) >= -1e-12)
    assert J[-1] > J[0] + 1e-3


def test_npg_advantage_from_samples_matches_kernel():
    """The sampled NPG direction equals tabular_advantage of the sampled returns with unit weights."""
    model = random_smdp(7)
    R, B, T = 1, 30, model.H - 1
    theta = np.zeros((R, T, model.S, model.A))
    W = np.zeros((R, model.A, model.features.shape[1]))
    u = np.random.default_rng(4).random((R, B, 2 * T + 1))
    gt, gW, obj = np.zeros_like(theta), np.zeros_like(W), np.zeros(R)
    epoch_kernel(u, theta, W, False, *_model_arrays(model), 0, 0, 0, 1.0, True, gt, gW, obj)
    states, actions, _, _, gains = rollout_numpy(u[0], theta[0], W[0], False, *_model_arrays(model))[:5]
    G = np.cumsum(gains[:, ::-1], axis=1)[:, ::-1]
    np.testing.assert_allclose(gt[0], tabular_advantage(states, actions, G, np.ones(B), model.S, model.A),
                               atol=1e-12)


# ----------------------------------------------------------------------------- learning
def test_learning_beats_uniform_and_is_reproducible():
    model = random_smdp(9, H=4)
    algo = SubPO(batch=32, lr=0.3)
    a = algo.run(model, 40, replicates=2, seed=1)
    b = algo.run(model, 40, replicates=2, seed=1)
    assert a == b
    assert a.exact_objective[:, -1].min() > uniform_value(model) + 0.05
    assert np.all(a.exact_objective[:, -1] <= optimum(model) + 1e-9)


def test_bandit_smdp_structure():
    m = bandit_smdp(np.eye(3), horizon=3, epsilon=0.3)
    np.testing.assert_allclose(m.P[0, 1], [0.1, 0.8, 0.1])
    assert m.A == m.S == 3


def test_greedy_baseline_class():
    from rltheory.algorithms.subpo import Greedy

    rooms = two_rooms()
    assert Greedy().run(rooms).objective.tolist() == [[28.0]]
    rand = Greedy(ties="random").run(rooms, 30, replicates=2, seed=0).objective
    assert rand.shape == (2, 30) and rand.mean() > 28.0  # random ties explore more than lowest-action ties
    with pytest.raises(InvalidParameterError):
        Greedy(ties="first")


@pytest.mark.parametrize("seed", [1, 6])
def test_exact_gradient_ascent_with_small_steps_never_decreases_j(seed):
    """Spec B6.7: exact gradient steps with eta = 1 / (H^2 F_max) never decrease J (the rule is loose, addendum §1)."""
    model = random_smdp(seed)
    table = TrajectoryTable(model)
    eta = 1.0 / (model.H ** 2 * model.normaliser)
    J = exact_ascent(table, "gain_to_go", 40, eta)
    assert np.all(np.diff(J) >= -1e-12)
    assert J[-1] > J[0]
