"""The suite's model strategies: thin wrappers over the shipped :mod:`rltheory.testing.strategies`
(kept so test files can say ``finite_horizon_mdps(max_S=...)``)."""

from __future__ import annotations

from rltheory.testing import strategies as shipped


def finite_horizon_mdps(max_S=6, max_A=4, max_H=6, stationary=None, reward_noise=None, sparse=False):
    return shipped.finite_horizon_mdps(S=(1, max_S), A=(1, max_A), H=(1, max_H), stationary=stationary,
                                       sparse=sparse, reward_noise=reward_noise)


def discounted_mdps(max_S=6, max_A=4):
    return shipped.discounted_mdps(S=(1, max_S), A=(1, max_A), gamma=(0.0, 0.95))
