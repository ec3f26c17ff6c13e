"""Preference games: validation, constructors, exact equilibria (regularised and maximal lottery).

Each exact solver is cross-checked by an independent method: the regularised equilibrium
(Newton / mirror-prox fixed point) against a convex program minimising the exploitability
(cvxpy, exponential cone), and the maximal lottery (cvxpy + Clarabel LP) against SciPy's HiGHS
simplex and the ``beta -> 0`` limit of the regularised equilibrium.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rltheory.errors import InvalidModelError, InvalidParameterError, ValidationError
from rltheory.mdps import (
    bradley_terry_game,
    condorcet_game,
    cyclic_game,
    game_batch,
    random_game,
    random_reference,
    rock_paper_scissors,
)
from rltheory.models import PreferenceGame
from rltheory.planning import regularized_nash
from rltheory.planning_lp import CLARABEL_SETTINGS, maximal_lottery


@st.composite
def preference_games(draw, min_n=2, max_n=12):
    n = draw(st.integers(min_n, max_n))
    kind = draw(st.sampled_from(["uniform", "tournament", "tie"]))
    seed = draw(st.integers(0, 2**31 - 1))
    ref = draw(st.sampled_from([None, "random"]))
    return random_game(n, kind=kind, seed=seed, reference=ref, reference_scale=1.5)


# ---------------------------------------------------------------------------- validation


def _rps():
    return np.array([[0.5, 1.0, 0.0], [0.0, 0.5, 1.0], [1.0, 0.0, 0.5]])


@pytest.mark.parametrize("P, argument, index", [
    (np.ones((2, 3)) * 0.5, "P", None),
    (np.ones((2, 2, 2, 2)) * 0.5, "P", None),
    (np.array([[0.5, 1.2], [-0.2, 0.5]]), "P", (0, 1)),
    (np.array([[0.5, 0.7], [0.4, 0.5]]), "P", (0, 1)),
    (np.array([[0.6, 0.5], [0.5, 0.5]]), "P", (0, 0)),
    (np.array([[0.5, np.nan], [0.5, 0.5]]), "P", (0, 1)),
])
def test_invalid_preferences_name_argument_and_index(P, argument, index):
    with pytest.raises(InvalidModelError) as info:
        PreferenceGame(P)
    assert info.value.argument == argument
    assert info.value.index == index
    assert isinstance(info.value, ValueError)


def test_antisymmetry_tolerance_is_1e_12():
    P = random_game(3, seed=0).P.copy()
    P[0, 1] += 5e-13
    PreferenceGame(P)
    P[0, 1] += 1e-12
    with pytest.raises(InvalidModelError, match="P \\+ P.T = 1") as info:
        PreferenceGame(P)
    assert info.value.index in ((0, 1), (1, 0))


@pytest.mark.parametrize("reference, index", [([0.5, 0.5, 0.0], (2,)), ([0.6, 0.6, -0.2], (2,)),
                                              ([0.2, 0.2, 0.2], None), ([0.5, 0.5], None)])
def test_invalid_reference(reference, index):
    with pytest.raises(InvalidModelError) as info:
        PreferenceGame(_rps(), reference)
    assert info.value.argument == "reference"
    assert info.value.index == index


def test_batch_validation_names_the_game():
    P = np.stack([_rps(), _rps()])
    P[1, 2, 0] = 0.3
    with pytest.raises(InvalidModelError) as info:
        PreferenceGame(P)
    assert info.value.index[0] == 1
    with pytest.raises(InvalidModelError) as info:
        PreferenceGame(np.stack([_rps(), _rps()]), np.array([[0.2, 0.3, 0.5], [0.0, 0.5, 0.5]]))
    assert info.value.argument == "reference" and info.value.index == (1, 0)


def test_game_facts_and_batches():
    g = PreferenceGame(_rps(), [0.2, 0.3, 0.5], name="rps")
    assert g.n == 3 and not g.batched and g.num_games == 1 and g.batch is None
    assert g.P_batch.shape == (1, 3, 3) and g.reference_batch.shape == (1, 3)
    with pytest.raises(ValueError):
        g.P[0, 0] = 1.0  # read-only
    np.testing.assert_allclose(g.preference([1, 0, 0]), [0.5, 0.0, 1.0])
    b = PreferenceGame.stack([g, rock_paper_scissors()])
    assert b.batched and b.batch == 2 and b.P.shape == (2, 3, 3)
    np.testing.assert_array_equal(b.game(1).P, rock_paper_scissors().P)
    assert b.preference(np.array([[1, 0, 0], [0, 1, 0]])).shape == (2, 3)
    assert g.fingerprint != rock_paper_scissors().fingerprint
    with pytest.raises(InvalidModelError):
        PreferenceGame.stack([g, random_game(4)])
    with pytest.raises(ValidationError):
        b.game(2)


# ---------------------------------------------------------------------------- constructors


@settings(max_examples=15)
@given(game=preference_games(), seed=st.integers(0, 1000))
def test_every_mixed_strategy_ties_with_itself(game, seed):
    """``P + P^T = 1`` makes ``pi^T P pi = 1/2`` for every ``pi``."""
    pi = random_reference(game.n, seed, 2.0)
    assert abs(pi @ game.P @ pi - 0.5) < 1e-12
    np.testing.assert_array_equal(game.P + game.P.T, np.ones((game.n, game.n)))


def test_constructors_are_exactly_antisymmetric_and_seeded():
    for g in (random_game(7, seed=3), random_game(6, kind="tournament", seed=1), cyclic_game(6, seed=2, low=0.6),
              bradley_terry_game([0.3, -1.0, 2.0, 0.0]), condorcet_game(5, winner=3, seed=4)):
        np.testing.assert_array_equal(g.P + g.P.T, np.ones((g.n, g.n)))
    np.testing.assert_array_equal(random_game(7, seed=3).P, random_game(7, seed=3).P)
    assert not np.array_equal(random_game(7, seed=3).P, random_game(7, seed=4).P)
    with pytest.raises(InvalidParameterError):
        random_game(3, kind="nope")
    with pytest.raises(InvalidParameterError):
        cyclic_game(5, low=0.4)


def test_rock_paper_scissors_and_cycles_have_no_condorcet_winner():
    np.testing.assert_array_equal(rock_paper_scissors().P, _rps())
    for n in (3, 4, 5, 8):
        for seed in (None, 1):
            P = cyclic_game(n, seed=seed, low=0.7, high=0.9).P
            assert (P < 0.5).any(axis=0).all()  # every response loses to someone
            assert not any((np.delete(P[i], i) >= 0.5).all() for i in range(n))


def test_bradley_terry_is_transitive_with_the_top_score_winning():
    s = np.array([0.3, -1.0, 2.0, 0.0])
    P = bradley_terry_game(s).P
    np.testing.assert_allclose(P[2, 1], 1.0 / (1.0 + np.exp(-3.0)))
    order = np.argsort(-s)
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            assert P[a, b] > 0.5
    np.testing.assert_allclose(maximal_lottery(bradley_terry_game(s)).policy, np.eye(4)[2], atol=1e-7)


def test_game_batch_does_not_depend_on_its_size():
    small, big = game_batch(random_game, 3, n=5, seed=7), game_batch(random_game, 9, n=5, seed=7)
    np.testing.assert_array_equal(small.P, big.P[:3])


# ---------------------------------------------------------------------------- regularised equilibrium


def _fixed_point_residual(game, pi, beta):
    G = np.log(game.reference) + game.P @ pi / beta
    q = np.exp(G - G.max())
    return np.abs(q / q.sum() - pi).max()


def _equilibrium_by_convex_program(game, beta):
    """Independent method: ``pi* = argmin_pi exploitability(pi)``, a convex program
    (log-sum-exp of an affine map plus ``beta KL(pi || rho)``), solved by cvxpy/Clarabel."""
    import cvxpy as cp

    pi = cp.Variable(game.n, nonneg=True)
    log_rho = np.log(game.reference)
    objective = (beta * cp.log_sum_exp(log_rho + game.P @ pi / beta)
                 + beta * cp.sum(-cp.entr(pi) - cp.multiply(pi, log_rho)))
    cp.Problem(cp.Minimize(objective), [cp.sum(pi) == 1]).solve(solver=cp.CLARABEL, **CLARABEL_SETTINGS)
    return np.asarray(pi.value)


@settings(max_examples=12)
@given(game=preference_games(max_n=10), beta=st.floats(0.02, 1.0))
def test_regularized_nash_fixed_point_and_convex_program_agree(game, beta):
    sol = regularized_nash(game, beta)
    assert sol.residual <= 1e-12
    assert _fixed_point_residual(game, sol.policy, beta) < 1e-12
    np.testing.assert_allclose(sol.policy.sum(), 1.0, atol=1e-14)
    np.testing.assert_allclose(_equilibrium_by_convex_program(game, beta), sol.policy, atol=1e-5)


def test_regularized_nash_special_cases():
    g = random_game(6, kind="tie", reference="random", seed=2)
    np.testing.assert_allclose(regularized_nash(g, 0.05).policy, g.reference, atol=1e-14)  # P = 1/2: pi* = rho
    g = random_game(6, seed=2, reference="random")
    assert np.abs(regularized_nash(g, 1e4).policy - g.reference).max() < 1e-4  # beta -> inf: pi* -> rho
    np.testing.assert_allclose(regularized_nash(rock_paper_scissors(), 0.01).policy, np.full(3, 1 / 3), atol=1e-14)


def test_regularized_nash_small_beta_and_batches():
    b = game_batch(random_game, 5, n=20, kind="tournament", reference="random", seed=3)
    sol = regularized_nash(b, 0.002)
    # below beta ~ 1e-3 the tolerance is raised to 16 ulps of 1/beta (logits of size 1/beta): 1.8e-12 here
    floor = 16 * np.finfo(float).eps * (1 + np.abs(np.log(b.reference)).max() + 1 / 0.002)
    assert sol.policy.shape == (5, 20) and sol.residual <= floor
    for i, g in enumerate(b.games()):
        single = regularized_nash(g, 0.002)
        np.testing.assert_allclose(single.log_policy, sol.log_policy[i], atol=1e-10)
        assert _fixed_point_residual(g, sol.policy[i], 0.002) < 1e-12


def test_regularized_nash_is_permutation_equivariant():
    g = random_game(7, seed=5, reference="random")
    perm = np.random.default_rng(0).permutation(7)
    gp = PreferenceGame(g.P[np.ix_(perm, perm)], g.reference[perm])
    np.testing.assert_allclose(regularized_nash(gp, 0.1).policy, regularized_nash(g, 0.1).policy[perm], atol=1e-13)


def test_regularized_nash_rejects_bad_input():
    with pytest.raises(InvalidParameterError) as info:
        regularized_nash(rock_paper_scissors(), 0.0)
    assert info.value.argument == "beta"
    with pytest.raises(InvalidModelError) as info:
        regularized_nash(np.eye(2), 0.1)
    assert info.value.argument == "game"


# ---------------------------------------------------------------------------- maximal lottery (beta = 0)


def _maximal_lottery_by_highs(P):
    from scipy.optimize import linprog

    n = P.shape[0]
    c = np.r_[np.zeros(n), -1.0]  # maximise v
    A_ub = np.c_[-P.T, np.ones(n)]  # v - (P^T pi)_y <= 0
    res = linprog(c, A_ub=A_ub, b_ub=np.zeros(n), A_eq=np.r_[np.ones(n), 0.0][None], b_eq=[1.0],
                  bounds=[(0, None)] * n + [(None, None)], method="highs")
    return res.x[:n], -res.fun


@pytest.mark.parametrize("n, seed", [(3, 0), (5, 1), (7, 2), (9, 3), (11, 4)])
def test_maximal_lottery_lp_agrees_with_highs_and_the_equilibrium_condition(n, seed):
    g = random_game(n, seed=seed)  # odd n, no ties: the maximal lottery is unique
    ml = maximal_lottery(g)
    assert ml.status == "optimal" and abs(ml.value - 0.5) < 1e-8
    assert (g.P.T @ ml.policy >= 0.5 - 1e-8).all()  # P(pi > y) >= 1/2 for every y
    other, v = _maximal_lottery_by_highs(g.P)
    assert abs(v - 0.5) < 1e-9
    np.testing.assert_allclose(ml.policy, other, atol=1e-6)


def test_maximal_lottery_is_the_small_beta_limit():
    g = random_game(7, seed=2)
    ml = maximal_lottery(g).policy
    gaps = [np.abs(regularized_nash(g, beta).policy - ml).sum() for beta in (0.1, 0.01, 0.001)]
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 0.05


def test_maximal_lottery_of_planted_condorcet_winner_and_batches():
    g = condorcet_game(8, winner=5, seed=1)
    np.testing.assert_allclose(maximal_lottery(g).policy, np.eye(8)[5], atol=1e-7)
    b = game_batch(condorcet_game, 3, n=6, winner=2)
    ml = maximal_lottery(b)
    assert ml.policy.shape == (3, 6) and len(ml.status) == 3
    np.testing.assert_allclose(ml.policy, np.tile(np.eye(6)[2], (3, 1)), atol=1e-7)
    np.testing.assert_allclose(maximal_lottery(rock_paper_scissors()).policy, np.full(3, 1 / 3), atol=1e-8)
    with pytest.raises(InvalidModelError):
        maximal_lottery("not a game")


# ---------------------------------------------------------------------------- bad input (issue 10)


@pytest.mark.parametrize("call, argument", [
    (lambda: random_game(4, reference_scale=float("nan")), "reference_scale"),
    (lambda: random_game(4, reference="random", reference_scale=-1.0), "reference_scale"),
    (lambda: random_game(4, kind=np.array(["uniform", "tie"])), "kind"),
    (lambda: bradley_terry_game("abc"), "scores"),
    (lambda: bradley_terry_game([1.0, 2.0 + 1j]), "scores"),
    (lambda: game_batch(random_game, 10**9, n=4), "B"),
    (lambda: game_batch(random_game, 2**62, n=4), "B"),
    (lambda: game_batch("random_game", 3, n=4), "make"),
])
def test_bad_game_arguments_are_named(call, argument):
    with pytest.raises(ValidationError) as err:
        call()
    assert err.value.argument == argument


def test_game_batch_refuses_before_allocating():
    """The estimate is made from the first game: a huge B is refused at once, with the size in the message."""
    import time
    import tracemalloc

    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(InvalidParameterError, match=r"GiB") as err:
        game_batch(random_game, 10**9, n=50)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 10 * 2**20 and time.perf_counter() - t0 < 5
    assert err.value.value == 10**9
    assert game_batch(random_game, 3, n=4, seed=2).fingerprint == game_batch(random_game, 3, n=4, seed=2).fingerprint


def test_complex_preferences_and_references_are_rejected():
    with pytest.raises(InvalidModelError) as err:
        PreferenceGame(np.full((2, 2), 0.5) + 0j)
    assert err.value.argument == "P"
    with pytest.raises(ValidationError) as err:
        PreferenceGame(np.full((2, 2), 0.5), reference=np.array([0.5, 0.5]) * (1 + 1e-3j))
    assert err.value.argument == "reference"
