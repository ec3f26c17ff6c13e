"""Small random exact models from a seed (NumPy only): the conformance suite's models and the
numerical part of the Hypothesis strategies."""

from __future__ import annotations

import numpy as np

from ..models import FiniteHorizonMDP, PreferenceGame

__all__ = ["successor_lists", "dense_from_successors", "random_rewards", "random_finite_horizon_mdp",
           "random_preference_game", "REWARD_KINDS"]

REWARD_KINDS = ("uniform", "binary", "sparse")


def successor_lists(rng: np.random.Generator, stages: int, S: int, A: int, branching: int):
    """``(next_states, probs)``, each ``(stages, S, A, branching)``: distinct successors, positive weights."""
    keys = rng.random((stages, S, A, S))
    nxt = np.argsort(keys, axis=-1)[..., :branching].astype(np.int64)
    probs = rng.dirichlet(np.ones(branching), size=(stages, S, A)) if branching > 1 else np.ones((stages, S, A, 1))
    return nxt, probs


def dense_from_successors(nxt: np.ndarray, probs: np.ndarray, S: int) -> np.ndarray:
    """The dense ``(..., S)`` tensor of successor lists with distinct entries."""
    P = np.zeros(nxt.shape[:-1] + (S,))
    np.put_along_axis(P, nxt, probs, axis=-1)
    return P


def random_rewards(rng: np.random.Generator, kind: str, shape) -> np.ndarray:
    """Mean rewards in ``[0, 1]``: ``uniform``; ``binary`` (exact 0/1, so exact ties); ``sparse`` (mostly 0)."""
    R = rng.random(shape)
    if kind == "binary":
        R = np.round(R)
    elif kind == "sparse":
        R = np.where(rng.random(shape) < 0.2, R, 0.0)
    return R


def random_finite_horizon_mdp(S: int, A: int, H: int, *, branching: int, seed: int, stationary: bool = True,
                              sparse: bool = False, reward_kind: str = "uniform", reward_noise=None,
                              name: str | None = None) -> FiniteHorizonMDP:
    """A random model with ``branching`` successors per pair and start state 0 (a Garnet-like draw)."""
    rng = np.random.default_rng(seed)
    stages = 1 if stationary else H
    nxt, probs = successor_lists(rng, stages, S, A, branching)
    R = random_rewards(rng, reward_kind, (stages, S, A))
    mu = np.zeros(S)
    mu[0] = 1.0
    if stationary:
        nxt, probs, R = nxt[0], probs[0], R[0]
    if sparse:
        return FiniteHorizonMDP.from_successors(nxt, probs, R, mu, H, reward_noise=reward_noise, name=name)
    return FiniteHorizonMDP(dense_from_successors(nxt, probs, S), R, mu, H, reward_noise=reward_noise, name=name)


def random_preference_game(n: int, *, seed: int, kind: str = "uniform", random_reference: bool = False,
                           name: str | None = None) -> PreferenceGame:
    """``P[i, j]`` for ``i > j`` uniform (``kind="uniform"``), 0/1 (``"tournament"``) or 1/2 (``"tie"``)."""
    rng = np.random.default_rng(seed)
    lower = {"uniform": rng.random((n, n)), "tournament": np.round(rng.random((n, n))),
             "tie": np.full((n, n), 0.5)}[kind]
    P = np.tril(lower, -1) + np.tril(1.0 - lower, -1).T + 0.5 * np.eye(n)
    ref = None
    if random_reference:
        ref = rng.dirichlet(np.ones(n)) + 1e-3
        ref /= ref.sum()
    return PreferenceGame(P, ref, name=name)
