"""Models stored as successor lists behave exactly like their dense twins."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rltheory.errors import InvalidModelError
from rltheory.kernels import sampling as ks
from rltheory.models import FiniteHorizonMDP
from rltheory.planning import backward_induction, evaluate, occupancy
from strategies import finite_horizon_mdps


def _sparse_twin(mdp: FiniteHorizonMDP) -> FiniteHorizonMDP:
    nxt, pr = mdp.successors
    if mdp.stationary:
        nxt, pr = nxt[0], pr[0]
    return FiniteHorizonMDP.from_successors(nxt, pr, mdp.R, mdp.mu, mdp.H, reward_noise=mdp.reward_noise)


@given(mdp=finite_horizon_mdps(), seed=st.integers(0, 2**32 - 1))
def test_successor_form_matches_dense(mdp, seed):
    sparse = _sparse_twin(mdp)
    assert sparse.sparse and not mdp.sparse and sparse.stationary == mdp.stationary
    np.testing.assert_allclose(sparse.P, mdp.P, atol=1e-15)
    a, b = backward_induction(mdp), backward_induction(sparse)
    np.testing.assert_allclose(a.V, b.V, atol=1e-12)
    np.testing.assert_array_equal(a.policy, b.policy)
    rng = np.random.default_rng(seed)
    pi = rng.dirichlet(np.ones(mdp.A), size=(mdp.H, mdp.S))
    np.testing.assert_allclose(evaluate(mdp, pi), evaluate(sparse, pi), atol=1e-12)
    np.testing.assert_allclose(occupancy(mdp, pi), occupancy(sparse, pi), atol=1e-12)


def test_repeated_successors_add_up_and_deterministic_models():
    nxt = np.array([[[1, 1], [0, 0]], [[1, 0], [1, 1]]])       # (S=2, A=2, K=2)
    pr = np.array([[[0.25, 0.75], [0.5, 0.5]], [[0.4, 0.6], [1.0, 0.0]]])
    m = FiniteHorizonMDP.from_successors(nxt, pr, np.zeros((2, 2)), [1.0, 0.0], H=3)
    np.testing.assert_allclose(m.P, [[[0, 1], [1, 0]], [[0.6, 0.4], [0, 1]]])
    det = FiniteHorizonMDP.from_successors(np.array([[[1]], [[0]]]), np.ones((2, 1, 1)), [[1.0], [0.0]], [1.0, 0.0],
                                           H=4)
    assert backward_induction(det).value == pytest.approx(2.0)


def test_large_sparse_model_never_builds_dense_P():
    S, A, H = 30_000, 2, 5
    nxt = np.stack([(np.arange(S) + 1) % S, np.zeros(S, int)], axis=1)[:, :, None]
    mu = np.zeros(S)
    mu[0] = 1.0  # one-hot start (np.eye(S)[0] would allocate S^2 floats = 7.2 GB)
    m = FiniteHorizonMDP.from_successors(nxt, np.ones((S, A, 1)), np.full((S, A), 0.5), mu, H)
    assert backward_induction(m).value == pytest.approx(2.5)
    with pytest.raises(ValueError, match="successor lists"):
        m.P  # noqa: B018
    states, _, _ = ks.sample_trajectories(ks.alias_tables(m), np.zeros((2, H, S), np.int64),
                                          np.random.default_rng(0).random((2, ks.uniforms_per_episode(H))))
    np.testing.assert_array_equal(states[0], np.arange(H + 1))


@given(mdp=finite_horizon_mdps(reward_noise="bernoulli"), n=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_sparse_sampler_matches_reference(mdp, n, seed):
    sparse = _sparse_twin(mdp)
    rng = np.random.default_rng(seed)
    tables = ks.alias_tables(sparse)
    assert tables.P_next is not None
    policies = rng.integers(0, mdp.A, size=(n, mdp.H, mdp.S))
    u = rng.random((n, ks.uniforms_per_episode(mdp.H)))
    for a, b in zip(ks.sample_trajectories(tables, policies, u), ks.sample_trajectories_reference(tables, policies, u),
                    strict=True):
        np.testing.assert_array_equal(a, b)


def test_sparse_sampler_follows_the_model():
    rng = np.random.default_rng(1)
    S, A, K, n = 5, 2, 3, 100_000
    nxt = rng.integers(0, S, size=(S, A, K))
    pr = rng.dirichlet(np.ones(K), size=(S, A))
    m = FiniteHorizonMDP.from_successors(nxt, pr, np.zeros((S, A)), np.full(S, 1 / S), H=1)
    states, _, _ = ks.sample_trajectories(ks.alias_tables(m), np.ones((n, 1, S), np.int64),
                                          rng.random((n, ks.uniforms_per_episode(1))))
    for s in range(S):
        at = states[:, 0] == s
        freq = np.bincount(states[at, 1], minlength=S) / at.sum()
        p = m.P[s, 1]
        assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / at.sum()) + 1e-12)


@pytest.mark.parametrize("kwargs, argument, index", [
    ({"next_states": np.full((2, 1, 1), 2)}, "next_states", (0, 0, 0)),
    ({"next_states": np.zeros((2, 1, 1)) + 0.5}, "next_states", None),
    ({"next_states": np.zeros((2, 1))}, "next_states", None),
    ({"probs": np.full((2, 1, 1), 0.5)}, "probs", (0, 0)),
    ({"probs": np.ones((2, 1, 2))}, "probs", None),
    ({"mu": [1.0]}, "mu", None),
    ({"R": np.full((2, 1), 2.0)}, "R", (0, 0)),
])
def test_successor_validation(kwargs, argument, index):
    args = {"next_states": np.zeros((2, 1, 1), int), "probs": np.ones((2, 1, 1)), "R": np.zeros((2, 1)),
            "mu": [0.5, 0.5]}
    args.update(kwargs)
    with pytest.raises(InvalidModelError) as e:
        FiniteHorizonMDP.from_successors(args["next_states"], args["probs"], args["R"], args["mu"], H=2)
    assert e.value.argument == argument
    if index is not None:
        assert e.value.index == index
