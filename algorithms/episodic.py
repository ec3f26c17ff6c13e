"""Shared pieces of the exploration-free learners (SQIRL, GORP) and the Q-learning baseline.

Sampling and exact evaluation come from the core kernels, which take every policy these learners
use, on dense and sparse (successor-list) models alike:

* :func:`rltheory.kernels.sampling.sample_episode` / ``sample_trajectories_reference`` -- episodes
  under a *mixed* policy ``policy[h, s]`` in ``{-1, 0..A-1}``, where :data:`RANDOM` (``-1``) means
  "uniformly random action" (the exploration part of SQIRL and GORP), or an open-loop plan ``(H,)``
  (GORP's action sequences);
* :func:`rltheory.kernels.planning.policy_values` / ``policy_values_reference`` -- exact values of such
  policies, two rows of values at a time, so BRIDGE-size models never build a dense ``P``.

This module adds :func:`policy_evaluator` (the one of those two a backend uses),
:func:`exact_references` (what every run of these learners needs before its first episode),
:func:`first_epsilon_optimal` (the empirical sample complexity of a trace) and :class:`EpsilonOptimal` (the stop
rule that ends a run once every replicate's sample complexity is known).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from rltheory.kernels.planning import policy_values, policy_values_reference, transition_arrays
from rltheory.kernels.sampling import RANDOM_ACTION, AliasTables, alias_tables, uniforms_per_episode
from rltheory.models import FiniteHorizonMDP
from rltheory.planning import backward_induction
from rltheory.validation import check_real

from ..bounds.sqirl import normalized_suboptimality

__all__ = ["RANDOM", "ExactReferences", "exact_references", "policy_evaluator", "first_epsilon_optimal",
           "EpsilonOptimal"]

#: Policy entry meaning "a uniformly random action" (:data:`rltheory.kernels.sampling.RANDOM_ACTION`).
RANDOM = RANDOM_ACTION


def policy_evaluator(mdp: FiniteHorizonMDP, backend: str):
    """``evaluate(policies) -> (n,)``: exact ``mu @ V^pi_0`` of ``policies`` (leading replicate axis) on ``mdp``,
    compiled (``backend="numba"``) or by the NumPy twin."""
    P, P_next = transition_arrays(mdp)
    R, mu = np.ascontiguousarray(mdp.R), np.asarray(mdp.mu)
    fn = policy_values if backend == "numba" else policy_values_reference

    def evaluate(policies):
        return fn(P, P_next, R, mu, np.ascontiguousarray(policies))

    return evaluate


class ExactReferences(NamedTuple):
    """What a run needs before its first episode: sampling tables, exact values, an exact evaluator."""

    tables: AliasTables  #: alias tables of ``mdp`` (:func:`rltheory.kernels.sampling.alias_tables`)
    v_star: float  #: optimal value ``mu @ V*_0``
    v_random: float  #: value of the uniformly random policy (the recommendation before the first pass)
    evaluate: Callable[[np.ndarray], np.ndarray]  #: :func:`policy_evaluator` of ``mdp`` for the backend
    width: int  #: uniforms per sampled episode (:func:`rltheory.kernels.sampling.uniforms_per_episode`)


def exact_references(mdp: FiniteHorizonMDP, backend: str) -> ExactReferences:
    """:class:`ExactReferences` of ``mdp`` for ``backend`` (``"numba"`` or ``"numpy"``)."""
    evaluate = policy_evaluator(mdp, backend)
    v_random = float(evaluate(np.full((1, mdp.H, mdp.S), RANDOM, np.int64))[0])
    return ExactReferences(tables=alias_tables(mdp), v_star=backward_induction(mdp).value, v_random=v_random,
                           evaluate=evaluate, width=uniforms_per_episode(mdp.H))


# ---------------------------------------------------------------------------- sample complexity


def first_epsilon_optimal(suboptimality, epsilon: float) -> np.ndarray:
    """Empirical sample complexity per replicate: the first episode count ``e + 1`` after which the
    recommended policy is ``epsilon``-optimal (``suboptimality[r, e] <= epsilon``), ``inf`` if never.

    ``suboptimality`` ``(replicates, episodes)``; returns float ``(replicates,)``. As in the papers, the
    median over replicates is the reported number (the BRIDGE README: "the median timestep at which the
    algorithm first found an optimal policy").
    """
    sub = np.asarray(suboptimality, dtype=np.float64)
    hit = sub <= epsilon
    first = np.argmax(hit, axis=1).astype(np.float64) + 1.0
    first[~hit.any(axis=1)] = np.inf
    return first


class EpsilonOptimal:
    """Stop rule (``run(..., stop_when=...)``, :func:`rltheory.runner.check_stop_rule`): a replicate is done once
    an episode's ``values`` are ``epsilon``-optimal, ``normalized_suboptimality(values, v_star, v_worst) <=
    epsilon`` (:func:`rltheory.bounds.sqirl.normalized_suboptimality`, the test of
    :func:`first_epsilon_optimal`).

    A run that stops when every replicate is done has the same first ``epsilon``-optimal episode per replicate
    as a full run: what it recorded is exactly what the full run records up to there. ``values`` is the
    learner's array of the policy it recommends (SQIRL, GORP, Q-learning) or plays (UCBVI), per episode.
    """

    def __init__(self, v_star: float, v_worst: float, epsilon: float, array: str = "values"):
        self.v_star = check_real(v_star, "v_star")
        self.v_worst = check_real(v_worst, "v_worst", high=self.v_star)
        self.epsilon = check_real(epsilon, "epsilon", low=0.0)
        self.array = str(array)

    def get_params(self) -> dict:
        return {"v_star": self.v_star, "v_worst": self.v_worst, "epsilon": self.epsilon, "array": self.array}

    def __repr__(self) -> str:
        return f"EpsilonOptimal(v_star={self.v_star!r}, v_worst={self.v_worst!r}, epsilon={self.epsilon!r})"

    def reached(self, arrays: dict, start: int) -> np.ndarray:
        """``(replicates,)``: some episode of this chunk is ``epsilon``-optimal."""
        sub = normalized_suboptimality(arrays[self.array], self.v_star, self.v_worst)
        return np.asarray(sub <= self.epsilon).any(axis=1)
