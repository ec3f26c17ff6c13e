"""The shipped Hypothesis strategies: valid models only, sizes within range, shrinking to tiny models,
clear errors on bad arguments."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from rltheory.errors import InvalidModelError, InvalidParameterError
from rltheory.models import DiscountedMDP, FiniteHorizonMDP, PreferenceGame
from rltheory.planning import backward_induction
from rltheory.policies import validate_policy
from rltheory.testing.strategies import (
    discounted_mdps,
    find_counterexample,
    finite_horizon_mdps,
    policies,
    preference_games,
)

MANY = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


@MANY
@given(finite_horizon_mdps(S=(2, 5), A=(1, 3), H=(3, 4)))
def test_finite_horizon_draws_are_valid_and_in_range(mdp):
    assert isinstance(mdp, FiniteHorizonMDP)
    assert 2 <= mdp.S <= 5 and 1 <= mdp.A <= 3 and 3 <= mdp.H <= 4
    # rebuilding from the stored arrays re-runs every validation of the constructor
    FiniteHorizonMDP(np.array(mdp.P), mdp.R, mdp.mu, mdp.H)


@MANY
@given(finite_horizon_mdps(S=3, A=2, H=2, stationary=False, sparse=True, reward_noise="bernoulli"))
def test_fixed_flags_are_respected(mdp):
    assert (mdp.S, mdp.A, mdp.H) == (3, 2, 2)
    assert mdp.sparse and not mdp.stationary and mdp.reward_noise == "bernoulli"


@MANY
@given(finite_horizon_mdps(S=(1, 5), A=(1, 3), H=(1, 4), allow_degenerate=False))
def test_non_degenerate_draws_reach_every_state_and_pay_something(mdp):
    assert (mdp.mu > 0).all()
    assert mdp.R.max() > 0


@MANY
@given(discounted_mdps(S=(1, 4), A=(1, 3), gamma=(0.5, 0.9)))
def test_discounted_draws(mdp):
    assert isinstance(mdp, DiscountedMDP) and 0.5 <= mdp.gamma <= 0.9 and mdp.S <= 4


@MANY
@given(preference_games(n=(2, 6), reference=None))
def test_game_draws(game):
    assert isinstance(game, PreferenceGame) and 2 <= game.n <= 6
    np.testing.assert_allclose(game.P + game.P.T, 1.0, atol=1e-12)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.data(), finite_horizon_mdps(S=(1, 4), A=(1, 3), H=(1, 3)))
def test_policies_are_valid_for_their_model(data, mdp):
    pi = data.draw(policies(mdp))
    validate_policy(pi, mdp.H, mdp.S, mdp.A)
    det = data.draw(policies(mdp, deterministic=True))
    assert det.shape == (mdp.H, mdp.S) and det.dtype == np.int64


def test_a_planted_failure_shrinks_to_a_tiny_model():
    """The false claim "V* < 0.5" fails; Hypothesis reports a model with S, A, H <= 2."""
    counterexample = find(finite_horizon_mdps(S=(1, 8), A=(1, 4), H=(1, 8)),
                          lambda m: backward_induction(m).value >= 0.5,
                          settings=settings(derandomize=True, database=None, max_examples=2000))
    assert counterexample.S <= 2 and counterexample.A <= 2 and counterexample.H <= 2
    assert backward_induction(counterexample).value >= 0.5


def test_shrinking_goes_toward_deterministic_transitions():
    counterexample = find(finite_horizon_mdps(S=(1, 6), A=(1, 3), H=(1, 4)), lambda m: m.S >= 3,
                          settings=settings(derandomize=True, database=None))
    assert counterexample.S == 3 and counterexample.A == 1 and counterexample.H == 1
    assert ((np.asarray(counterexample.P) > 0).sum(axis=-1) == 1).all()  # one successor per pair
    assert counterexample.stationary


@pytest.mark.parametrize("kwargs, argument", [
    ({"S": (4, 2)}, "S"), ({"A": -1}, "A"), ({"H": (0, 3)}, "H"), ({"S": "abc"}, "S"), ({"S": (1.5, 3)}, "S"),
    ({"S": (1, 400), "A": (1, 50), "H": 2}, "S"), ({"stationary": "yes"}, "stationary"),
    ({"sparse": np.array([True])}, "sparse"), ({"reward_noise": "gaussian"}, "reward_noise"),
    ({"allow_degenerate": None}, "allow_degenerate"),
])
def test_bad_arguments_name_themselves(kwargs, argument):
    with pytest.raises(InvalidParameterError) as info:
        finite_horizon_mdps(**kwargs)
    assert info.value.argument == argument


@pytest.mark.parametrize("call, argument", [
    (lambda: discounted_mdps(gamma=1.0), "gamma"), (lambda: discounted_mdps(gamma=(0.9, 0.5)), "gamma"),
    (lambda: discounted_mdps(gamma=(0.1, 0.2, 0.3)), "gamma"), (lambda: preference_games(n=(3, 1)), "n"),
    (lambda: preference_games(n=(1, 5000)), "n"), (lambda: preference_games(reference="zipf"), "reference"),
])
def test_bad_arguments_of_other_strategies(call, argument):
    with pytest.raises(InvalidParameterError) as info:
        call()
    assert info.value.argument == argument


def test_policies_needs_a_finite_horizon_model():
    with pytest.raises(InvalidModelError):
        policies(object())


def test_find_counterexample_returns_none_for_a_true_claim_and_a_tiny_model_for_a_false_one():
    strategy = finite_horizon_mdps(S=(1, 5), A=(1, 3), H=(1, 5))
    assert find_counterexample(strategy, lambda m: backward_induction(m).value <= m.H, max_examples=50) is None
    small = find_counterexample(strategy, lambda m: backward_induction(m).value < 0.5, max_examples=200)
    assert small.S == 1 and small.A == 1 and small.H <= 2  # one state and action suffice; a step may be needed


def test_model_shrinking_keeps_the_failure():
    """The model-level shrinker removes states, actions and steps only while the claim still fails."""
    from rltheory.testing._builders import random_finite_horizon_mdp
    from rltheory.testing._shrink import shrink_model

    big = random_finite_horizon_mdp(6, 4, 6, branching=3, seed=7, stationary=False)
    fails = lambda m: backward_induction(m).value > 1.5  # noqa: E731
    assert fails(big)
    small = shrink_model(big, fails)
    assert fails(small) and small.S == 1 and small.A <= 2 and 2 <= small.H <= 3  # 1.5 < V* needs two steps
    assert small.S * small.A * small.H < big.S * big.A * big.H
