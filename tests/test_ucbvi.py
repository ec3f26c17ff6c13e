"""UCBVI (Azar, Osband & Munos 2017): claims of the paper checked on exact models."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rltheory.algorithms import UCBVI
from rltheory.bounds.ucbvi import regret_lower, regret_upper_bernstein, regret_upper_hoeffding
from rltheory.errors import InvalidModelError, InvalidParameterError
from rltheory.mdps import garnet, riverswim
from rltheory.planning import backward_induction
from strategies import finite_horizon_mdps

#: Reduced bonus scales at which UCBVI visibly learns RiverSwim within 20,000 episodes
#: (the figures use the same values).
LEARNING_SCALE = {"hoeffding": 0.001, "bernstein": 0.01}


@settings(max_examples=15)
@given(mdp=finite_horizon_mdps(max_S=5, max_A=3, max_H=5), bonus=st.sampled_from(["hoeffding", "bernstein"]),
       stage_dependent=st.booleans(), seed=st.integers(0, 1000))
def test_optimism_at_theory_scale(mdp, bonus, stage_dependent, seed):
    """On the high-probability event, V_{k,h}(x) >= V*_h(x) for every k, h, x (Azar et al., Lemma 18 / 3 via
    Alg. 2's clipping). At theory scale (delta = 0.1) the event holds on every drawn model."""
    if not stage_dependent and not mdp.stationary:
        stage_dependent = True
    trace = UCBVI(bonus=bonus, delta=0.1, stage_dependent=stage_dependent).run(mdp, 60, replicates=2, seed=seed)
    assert trace.optimism_gap.min() >= -1e-12
    v_star = backward_induction(mdp).value
    assert (trace.optimistic_values >= v_star - 1e-12).all()


def test_optimism_check_has_teeth():
    """Without a bonus the empirical values fall below V* somewhere: the optimism check above can fail."""
    trace = UCBVI(bonus="hoeffding", bonus_scale=0.0).run(riverswim(), 300, replicates=4, seed=0)
    assert trace.optimism_gap.min() < -1e-3


@pytest.mark.parametrize("bonus", ["hoeffding", "bernstein"])
def test_learns_riverswim_at_reduced_scale(bonus):
    K = 20_000
    trace = UCBVI(bonus=bonus, bonus_scale=LEARNING_SCALE[bonus]).run(riverswim(), K, replicates=8, seed=0)
    first, last = trace.regret[:, : K // 10].mean(), trace.regret[:, -K // 10:].mean()
    assert last < 0.25 * first, (first, last)
    assert trace.cumulative_regret[:, -1].mean() < 0.5 * K * trace.regret[:, : K // 10].mean()


def _worst_value(mdp) -> float:
    """``min_pi V^pi_1(mu)``: backward induction with ``min`` in place of ``max`` (independent of UCBVI's code)."""
    V = np.zeros(mdp.S)
    for h in range(mdp.H - 1, -1, -1):
        V = (mdp.R[h] + mdp.expected_next(h, V)).min(axis=1)
    return float(mdp.mu @ V)


@pytest.mark.parametrize("bonus", ["hoeffding", "bernstein"])
@pytest.mark.parametrize("make", [riverswim, lambda: garnet(S=6, A=3, branching=3, horizon=8, seed=2)])
def test_regret_at_theory_scale_is_exact_capped_and_paid_for_by_optimism(bonus, make):
    """At theory scale (delta = 0.1) Theorems 1-2 are vacuous at simulable K (above K H: see
    ``test_bounds_pinned.py``), so the checks here are ones that can fail:

    * the regret of each played policy lies in ``[0, V* - V_worst]`` (``V_worst`` by a min-DP), so the
      cumulative regret stays under the trivial cap ``K (V* - V_worst)``;
    * the exact value of the played policy is checked against an independent evaluation, its sampled
      return (unbiased: mean difference within 5 standard errors);
    * optimism pays for the regret (the analysis' first step): ``V* - V^{pi_k} <= V_{k,1}(mu) - V^{pi_k}``.
    """
    mdp = make()
    K = 2000
    trace = UCBVI(bonus=bonus, delta=0.1).run(mdp, K, replicates=4, seed=1)
    v_star = backward_induction(mdp).value
    gap = v_star - _worst_value(mdp)
    assert gap > 0.1
    assert (trace.regret >= -1e-12).all() and (trace.regret <= gap + 1e-12).all()
    assert (trace.cumulative_regret[:, -1] <= K * gap).all()
    diff = (trace.returns - trace.values).ravel()
    assert abs(diff.mean()) < 5 * diff.std() / np.sqrt(diff.size)
    assert (trace.regret <= trace.optimistic_values - trace.values + 1e-9).all()


def test_sampled_returns_match_exact_values():
    """The sampled return of each episode is an unbiased draw of the played policy's exact value."""
    mdp = garnet(S=5, A=2, branching=3, horizon=6, seed=0, reward_noise="bernoulli")
    trace = UCBVI(bonus="bernstein", bonus_scale=0.05).run(mdp, 2000, replicates=8, seed=3)
    diff = (trace.returns - trace.values).ravel()
    assert abs(diff.mean()) < 5 * diff.std() / np.sqrt(diff.size)


def test_bonus_scale_zero_is_greedy_and_scale_changes_behaviour():
    mdp = riverswim()
    a = UCBVI(bonus_scale=0.0).run(mdp, 50, seed=0)
    b = UCBVI(bonus_scale=1.0).run(mdp, 50, seed=0)
    assert a != b


def test_log_term_follows_alg3():
    mdp = riverswim()
    algo = UCBVI(delta=0.05)
    T = 1000 * mdp.H
    assert algo.log_term(mdp, 1000) == pytest.approx(np.log(5 * mdp.S * mdp.H * mdp.A * T / 0.05))
    assert UCBVI(stage_dependent=False).log_term(mdp, 1000) == pytest.approx(np.log(5 * mdp.S * mdp.A * T / 0.1))


def test_bounds_shapes_and_order():
    K = np.array([10, 100, 1000])
    for f in (regret_upper_hoeffding, regret_upper_bernstein):
        y = f(6, 2, 20, K, 0.1)
        assert y.shape == (3,) and np.all(np.diff(y) > 0)
    low = regret_lower(6, 2, 20, K)
    assert np.all(low < regret_upper_bernstein(6, 2, 20, K, 0.1))
    np.testing.assert_allclose(low[1] / low[0], np.sqrt(10))
    # Theorem constants pinned by hand (all bounds: tests/test_bounds_pinned.py). S=A=H=K=1, delta=0.5: L = ln 10
    # Thm 1: 20 L + 250 L^2 = 1371.526229479481;  Thm 2: 30 L + 2500 L^2 + 4 sqrt(L) = 13329.89253750336
    assert regret_upper_hoeffding(1, 1, 1, 1, 0.5) == pytest.approx(1371.526229479481, rel=1e-12)
    assert regret_upper_bernstein(1, 1, 1, 1, 0.5) == pytest.approx(13329.89253750336, rel=1e-12)
    # lower: sqrt(3^3 4 2 8) / (48 sqrt 6) = sqrt(2) / 4
    assert regret_lower(4, 2, 3, 8) == pytest.approx(np.sqrt(2) / 4, rel=1e-12)


@pytest.mark.parametrize("kwargs, argument", [
    ({"bonus": "ucb"}, "bonus"), ({"delta": 0.0}, "delta"), ({"delta": 1.0}, "delta"),
    ({"bonus_scale": -1.0}, "bonus_scale"), ({"bonus_scale": float("nan")}, "bonus_scale"),
    ({"stage_dependent": "yes"}, "stage_dependent"),
])
def test_constructor_validation(kwargs, argument):
    with pytest.raises(InvalidParameterError) as e:
        UCBVI(**kwargs)
    assert e.value.argument == argument


def test_run_validation():
    stage_dependent_model = garnet(S=3, A=2, branching=2, horizon=3, stationary=False)
    with pytest.raises(InvalidParameterError) as e:
        UCBVI(stage_dependent=False).run(stage_dependent_model, 5)
    assert e.value.argument == "stage_dependent"
    with pytest.raises(InvalidModelError):
        UCBVI().run(np.zeros((3, 2, 3)), 5)
