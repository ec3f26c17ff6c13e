"""Every episodic learner gives the same trace on a model stored as successor lists and on its dense copy.

Issue 10: UCBVI (and the conservative learners) sampled sparse models through the dense sampler, reading a
successor-list *column* as the next state; on a deterministic lock (K = 1) every draw was column 0 = state
0, so UCBVI never learnt (regret 2000/2000). The same seed now gives the same trace (to 1e-10: exact
evaluations sum in another order on the two storages) on

* deterministic models (every alias draw is the one successor, whatever the storage), and
* full-support models whose successor lists are ``0..S-1`` in order (the alias tables are then identical).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from rltheory.algorithm import ALGORITHMS
from rltheory.mdps import garnet
from rltheory.models import FiniteHorizonMDP
from rltheory.runner import EpisodicLearner


def _lock(depth=3, A=2, H=6):
    """A deterministic combination lock stored as successor lists (K = 1): the right action moves on, any
    other falls into an absorbing sink; the last right action pays 1."""
    sink = depth
    T = np.full((depth + 1, A), sink, np.int64)
    right = [1, 0, 1][:depth]
    for i in range(depth):
        T[i, right[i]] = i + 1 if i + 1 < depth else sink
    R = np.zeros((depth + 1, A))
    R[depth - 1, right[depth - 1]] = 1.0
    return FiniteHorizonMDP.from_successors(T[:, :, None], np.ones((depth + 1, A, 1)), R, np.eye(depth + 1)[0], H,
                                            name="lock")


def _full_support_sparse(mdp):
    nxt, pr = mdp.successors
    assert (nxt == np.arange(mdp.S)).all(), "the successor lists must be 0..S-1 for identical alias tables"
    return FiniteHorizonMDP.from_successors(nxt, pr, mdp.R, mdp.mu, mdp.H, reward_noise=mdp.reward_noise)


def _dense(mdp):
    return FiniteHorizonMDP(np.array(mdp.P), mdp.R, mdp.mu, mdp.H, reward_noise=mdp.reward_noise)


def _episodic_cases():
    import rltheory.algorithms  # noqa: F401  (registers the learners)

    out = []
    for name, cls in sorted(ALGORITHMS.items()):
        if not issubclass(cls, EpisodicLearner):
            continue
        for i, params in enumerate(cls.conformance_cases()):
            out.append(pytest.param(cls, params, id=f"{name}-case{i}"))
    return out


MODELS = {
    "lock": _lock,
    "garnet-full": lambda: garnet(S=3, A=2, branching=3, horizon=4, seed=5, stationary=False,
                                  reward_noise="bernoulli"),
}


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("cls, params", _episodic_cases())
def test_sparse_model_and_its_dense_copy_give_the_same_trace(cls, params, model):
    base = MODELS[model]()
    sparse = base if base.sparse else _full_support_sparse(base)
    dense = _dense(sparse)
    assert sparse.sparse and not dense.sparse
    if not (cls.supports(sparse, params)):
        pytest.skip("unsupported pair")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        algo = cls(**params)
    a = algo.run(sparse, 30, replicates=2, seed=3)
    b = algo.run(dense, 30, replicates=2, seed=3)
    assert set(a.keys()) == set(b.keys())
    for k in a.keys():
        np.testing.assert_allclose(a[k], b[k], rtol=0, atol=1e-10, err_msg=k)


def test_ucbvi_learns_the_sparse_lock():
    """The issue-10 report: on a deterministic successor-list lock UCBVI learned nothing (regret = V* in
    every episode). It now learns: the last episodes are (nearly always) played optimally."""
    from rltheory.algorithms import UCBVI

    lock = _lock(depth=2, H=8)
    trace = UCBVI(bonus="bernstein", bonus_scale=0.01).run(lock, 300, replicates=2, seed=0)
    assert trace.regret[:, -50:].mean() < 0.1
    assert trace.cumulative_regret[:, -1].max() < 50
