"""SQIRL, GORP and Q-learning: claims of the papers on exact models, oracles, bounds, validation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from rltheory.algorithms import GORP, SQIRL, LinearLeastSquares, QLearning, TabularMean
from rltheory.algorithms.effective_horizon_analysis import analyze, q_iterates
from rltheory.algorithms.episodic import first_epsilon_optimal, policy_evaluator
from rltheory.bounds import sqirl as bounds
from rltheory.errors import InvalidParameterError, ValidationError
from rltheory.mdps import bridge, combination_lock, garnet
from rltheory.planning import backward_induction

# ---------------------------------------------------------------------------- SQIRL converges to greedy(Q^k)


def test_sqirl_returns_the_greedy_policy_of_qk():
    """With enough data per timestep SQIRL's regressions approach Q^k (the k-th QVI iterate from Q^rand), so the
    returned policy is greedy in Q^k: suboptimal for k = 1 on this Garnet (min_k = 2), optimal from k = 2. A SQIRL
    that regressed the wrong targets, or ignored k, would not reproduce both values."""
    mdp = garnet(S=4, A=2, branching=2, horizon=4, seed=12)
    assert analyze(mdp).min_k == 2
    Q = q_iterates(mdp, 3)
    evaluate = policy_evaluator(mdp, "numba")
    expected = [evaluate(np.argmax(Q[k - 1], axis=2)[None])[0] for k in (1, 2, 3)]
    v_star = backward_induction(mdp).value
    assert expected[0] < v_star - 0.3 and expected[1] == pytest.approx(v_star) and expected[2] == pytest.approx(v_star)
    m = 4000
    for k, want in zip((1, 2, 3), expected, strict=True):
        trace = SQIRL(k=k, episodes_per_timestep=m, schedule="fixed").run(mdp, mdp.H * m, replicates=16, seed=1)
        hit = np.abs(trace.values[:, -1] - want) < 1e-9
        assert hit.mean() >= 15 / 16, (k, trace.values[:, -1], want)
        assert trace.meta["passes"] == [{"m": m, "completed_at_episode": mdp.H * m}]


def test_recommendation_is_random_until_a_pass_completes():
    mdp = garnet(S=4, A=2, branching=2, horizon=3, seed=0)
    trace = SQIRL(k=1, episodes_per_timestep=5, schedule="fixed").run(mdp, 40, replicates=2, seed=0)
    v_rand = trace.meta["v_random"]
    assert np.allclose(trace.values[:, :14], v_rand)          # 3 rounds x 5 episodes = 15 per pass
    assert np.allclose(trace.suboptimality, trace.meta["v_star"] - trace.values)
    assert [p["completed_at_episode"] for p in trace.meta["passes"]] == [15, 30]


# ---------------------------------------------------------------------------- Theorem 3.6 (reconstructed)


@pytest.mark.parametrize("sticky", [0.0, 0.25])
def test_sqirl_is_epsilon_optimal_within_its_bound(sticky):
    """Theorem 3.6 (constants reconstructed): with the episodes the bound allows (one pass, m = bound / T), SQIRL
    returns an epsilon-optimal policy with probability >= 1 - delta, on instances where the bound is not vacuous."""
    mdp = combination_lock(2, A=2, horizon=3, sticky=sticky)
    a = analyze(mdp)
    k = a.best_k()
    H_k = a.horizon_k(k)
    assert not bounds.is_vacuous(H_k, mdp.H)
    eps, delta = 0.1, 0.1
    m = int(bounds.sqirl_episodes_per_timestep(k, H_k, mdp.A, mdp.H, eps, delta, D=mdp.S * mdp.A))
    assert 1_000 < m < 100_000
    trace = SQIRL(k=k, episodes_per_timestep=m, schedule="fixed").run(mdp, mdp.H * m, replicates=10, seed=3)
    sub = bounds.normalized_suboptimality(trace.values[:, -1], a.v_star, a.v_worst)
    assert (sub <= eps).mean() >= 1 - delta
    # the bound is not met trivially: with one episode per timestep SQIRL usually fails here
    few = SQIRL(k=k, episodes_per_timestep=1, schedule="fixed").run(mdp, mdp.H, replicates=40, seed=3)
    assert (bounds.normalized_suboptimality(few.values[:, -1], a.v_star, a.v_worst) <= eps).mean() < 1 - delta


def test_sample_complexity_grows_with_the_effective_horizon():
    """Across combination locks (effective horizon = depth, T = 8 fixed), deterministic and sticky, SQIRL's median
    empirical sample complexity increases with the effective horizon."""
    eh, sc = [], []
    for d in (1, 2, 3, 4, 5):
        for sticky in (0.0, 0.25):
            mdp = combination_lock(d, sticky=sticky)
            a = analyze(mdp)
            assert a.effective_horizon == d
            trace = SQIRL(k=a.best_k(), episodes_per_timestep=1).run(mdp, 6000, replicates=8, seed=0)
            first = first_epsilon_optimal(bounds.normalized_suboptimality(trace.values, a.v_star, a.v_worst), 0.01)
            eh.append(a.effective_horizon)
            sc.append(np.median(first))
    assert np.isfinite(sc).all()
    assert spearmanr(eh, sc).statistic > 0.9, list(zip(eh, sc, strict=True))
    assert sc[-1] > 8 * sc[0]


# ---------------------------------------------------------------------------- GORP, Theorem 5.4


def test_gorp_finds_an_optimal_policy_with_the_theorem_count():
    """NeurIPS 2023 Theorem 5.4 (as in the authors' code): GORP with planning depth k and m_k episodes per action
    sequence returns an optimal policy with probability at least 1/2 (deterministic MDPs). Here k = 1 on a depth-2
    lock (T = 8) needs m_1 = 111 samples; with m = 1 it fails most of the time."""
    mdp = combination_lock(2, A=2, horizon=8)
    a = analyze(mdp)
    assert 1 in a.ks
    m1 = int(round(np.exp(a.log_ms[list(a.ks).index(1)])))
    assert m1 > 50
    assert bounds.gorp_episodes(a.horizon_k(1), mdp.A, mdp.H) == pytest.approx(mdp.H * mdp.A * m1)
    algo = GORP(k=1, episodes_per_sequence=m1, schedule="fixed")
    trace = algo.run(mdp, algo.pass_episodes(mdp.A, mdp.H), replicates=24, seed=0)
    assert (trace.suboptimality[:, -1] < 1e-9).mean() >= 0.5
    weak = GORP(k=1, episodes_per_sequence=1, schedule="fixed")
    trace = weak.run(mdp, weak.pass_episodes(mdp.A, mdp.H), replicates=24, seed=0)
    assert (trace.suboptimality[:, -1] < 1e-9).mean() < 0.5


def test_gorp_on_freeway_with_the_theorem_count(shared_dir):
    path = shared_dir / "data" / "bridge" / "freeway_10_fs30.npz"
    if not path.is_file():
        pytest.skip("freeway_10_fs30.npz not present")
    mdp = bridge.load(path)
    a = analyze(mdp)
    m1 = int(round(np.exp(a.log_ms[list(a.ks).index(1)])))
    algo = GORP(k=1, episodes_per_sequence=m1, schedule="fixed")
    trace = algo.run(mdp, algo.pass_episodes(mdp.A, mdp.H), replicates=8, seed=0)
    assert (trace.suboptimality[:, -1] < 1e-9).mean() >= 0.5


def test_gorp_exact_on_deterministic_locks():
    """On a lock, Q^rand already ranks the right action first; with k = depth a single rollout per sequence is
    exact (m_k = 1), so one pass of T A^k episodes always finds the combination."""
    mdp = combination_lock(3, A=2, horizon=5)
    algo = GORP(k=3, episodes_per_sequence=1, schedule="fixed")
    n = algo.pass_episodes(mdp.A, mdp.H)
    assert n <= bounds.gorp_episodes(3, mdp.A, mdp.H)
    trace = algo.run(mdp, n, replicates=6, seed=2)
    assert np.allclose(trace.suboptimality[:, -1], 0.0)


# ---------------------------------------------------------------------------- regression oracles


def test_linear_oracle_with_one_hot_features_matches_tabular():
    mdp = garnet(S=4, A=2, branching=2, horizon=4, seed=12)
    onehot = np.eye(mdp.S * mdp.A).reshape(mdp.S, mdp.A, -1)
    lin = SQIRL(k=2, episodes_per_timestep=3000, oracle=LinearLeastSquares(onehot, ridge=1e-9), schedule="fixed")
    tab = SQIRL(k=2, episodes_per_timestep=3000, schedule="fixed")
    a = lin.run(mdp, 12000, replicates=4, seed=5)
    b = tab.run(mdp, 12000, replicates=4, seed=5)
    np.testing.assert_allclose(a.values[:, -1], b.values[:, -1], atol=1e-9)
    c = lin.run(mdp, 12000, replicates=4, seed=5, backend="numpy")
    np.testing.assert_allclose(a.values, c.values, atol=1e-9)


def test_user_oracle_runs_on_the_numpy_backend():
    class Shrunk:
        kind = None

        def fit(self, t, states, actions, targets, S, A):
            return 0.5 * TabularMean().fit(t, states, actions, targets, S, A)

    mdp = garnet(S=4, A=2, branching=2, horizon=3, seed=1)
    algo = SQIRL(oracle=Shrunk())
    assert algo.run(mdp, 30, backend="numpy").values.shape == (1, 30)
    with pytest.raises(InvalidParameterError) as info:
        algo.run(mdp, 30)
    assert info.value.argument == "backend"


def test_oracle_validation():
    mdp = garnet(S=4, A=2, horizon=3)
    with pytest.raises(InvalidParameterError):
        LinearLeastSquares(np.zeros((4, 2)))
    with pytest.raises(InvalidParameterError):
        LinearLeastSquares(np.full((4, 2, 3), np.nan))
    with pytest.raises(InvalidParameterError):
        LinearLeastSquares(np.zeros((4, 2, 3)), ridge=0.0)
    with pytest.raises(InvalidParameterError) as info:
        SQIRL(oracle=LinearLeastSquares(np.zeros((5, 2, 3)))).run(mdp, 10)
    assert info.value.argument == "features"
    with pytest.raises(InvalidParameterError):
        SQIRL(oracle="ridge")


@pytest.mark.parametrize("make, kwargs, argument", [
    (SQIRL, {"k": 0}, "k"), (SQIRL, {"episodes_per_timestep": 0}, "episodes_per_timestep"),
    (SQIRL, {"schedule": "halving"}, "schedule"), (GORP, {"k": 0}, "k"),
    (GORP, {"episodes_per_sequence": -1}, "episodes_per_sequence"), (QLearning, {"epsilon": 1.5}, "epsilon"),
    (QLearning, {"step_size": "adam"}, "step_size"), (QLearning, {"step_size": 0.0}, "step_size"),
])
def test_parameter_validation(make, kwargs, argument):
    with pytest.raises(ValidationError) as info:
        make(**kwargs)
    assert info.value.argument == argument


# ---------------------------------------------------------------------------- Q-learning, helpers


def test_qlearning_learns_a_small_lock():
    mdp = combination_lock(3, A=2, horizon=4)
    trace = QLearning(epsilon=0.2).run(mdp, 3000, replicates=4, seed=0)
    assert (trace.suboptimality[:, -200:] < 1e-9).all()
    assert trace.suboptimality[:, 0].max() > 0.5


def test_policy_evaluator_backends_agree_on_sticky_models():
    rng = np.random.default_rng(0)
    mdp = combination_lock(3, sticky=0.25)
    policies = rng.integers(-1, mdp.A, size=(6, mdp.H, mdp.S))
    np.testing.assert_allclose(policy_evaluator(mdp, "numba")(policies), policy_evaluator(mdp, "numpy")(policies),
                               atol=1e-12)


def test_first_epsilon_optimal():
    sub = np.array([[0.5, 0.2, 0.05, 0.3], [0.5, 0.5, 0.5, 0.5], [0.0, 1.0, 1.0, 1.0]])
    assert np.array_equal(first_epsilon_optimal(sub, 0.1), [3.0, np.inf, 1.0])


# ---------------------------------------------------------------------------- bounds


def test_bound_shapes():
    eps = np.geomspace(1e-3, 1e-1, 5)
    b = bounds.sqirl_episodes(2, 3.5, 3, 10, eps, 0.1, 20)
    slope = np.diff(np.log(b)) / np.diff(np.log(eps))
    np.testing.assert_allclose(slope, -1.0)                       # linear in 1 / epsilon
    h = np.array([2.0, 3.0, 4.0])
    ratio = bounds.sqirl_episodes(2, h, 3, 10, 0.1, 0.1, 20)
    np.testing.assert_allclose(ratio[1:] / ratio[:-1], 3.0)       # base-A exponential in H_bar
    steps = bounds.sqirl_steps(1, 2, 2, 5, 0.1, 0.1, 4)
    assert steps == pytest.approx(5 * bounds.sqirl_episodes(1, 2, 2, 5, 0.1, 0.1, 4))
    assert bounds.gorp_episodes(3.0, 2, 8) == 64.0 and bounds.gorp_steps(3.0, 2, 8) == 512.0
    assert bounds.effective_horizon_k(2, np.log(9.0), 3) == pytest.approx(4.0)
    assert bounds.is_vacuous(8.0, 8) and not bounds.is_vacuous(7.9, 8)
    assert bounds.normalized_suboptimality(0.5, 1.0, 0.0) == 0.5
    with pytest.raises(InvalidParameterError):
        bounds.sqirl_episodes(1, 2, 2, 5, 0.0, 0.1, 4)
    with pytest.raises(InvalidParameterError):
        bounds.sqirl_episodes(1, 2, 2, 5, 0.1, 1.0, 4)


# ---------------------------------------------------------------------------- figure recipes


def test_recipes_are_registered_and_run_without_bridge_files(tmp_path, monkeypatch):
    from rltheory.figures import FIGURES, load_recipes
    from rltheory.paper_figures import sqirl as recipe

    load_recipes()
    for name in ("sqirl-sample-complexity", "sqirl-effective-horizon"):
        assert FIGURES[name].status == "reconstructed setting"
        assert FIGURES[name].module == "rltheory.paper_figures.sqirl"
    monkeypatch.setenv("RLTHEORY_BRIDGE_DIR", str(tmp_path))  # an empty folder: no BRIDGE files
    monkeypatch.setattr(recipe, "_warned_missing", False)
    with pytest.warns(recipe.MissingDataWarning, match="NOT FOUND"):  # said once, loudly
        assert recipe.bridge_dir() is None
    out = recipe.make_effective_horizon(quick=True)
    assert "No BRIDGE files" in out.notes
    assert out.data["missing_inputs"], "the JSON must record the missing input (MANIFEST marks the row)"
    assert {r["group"] for r in out.data["rows"]} == {"lock", "Garnet", "sparse Garnet"}
    locks = [r for r in out.data["rows"] if r["group"] == "lock"]
    assert [r["effective_horizon"] for r in locks] == [float(d) for d in recipe.LOCK_DEPTHS[True]]
    assert all(r["effective_horizon"] == r["T"] for r in out.data["rows"] if r["group"] == "Garnet")
