"""Apply the shipped conformance suite (:mod:`rltheory.testing.conformance`) to every registered algorithm,
and show that an outside learner passes through it with one registration line."""

from __future__ import annotations

import numpy as np
import pytest

import rltheory.algorithms  # noqa: F401  (registers the algorithms)
from rltheory.algorithm import ALGORITHMS, Algorithm
from rltheory.errors import InvalidParameterError
from rltheory.models import FiniteHorizonMDP
from rltheory.planning import backward_induction, evaluate
from rltheory.rng import generators
from rltheory.testing import ConformanceError, check_algorithm
from rltheory.testing.conformance import (
    ALL_CHECKS,
    BUDGET,
    conformance_cases,
    models_for,
    register_conformance_models,
)
from rltheory.trace import Trace

# ---------------------------------------------------------------------------- the papers' model types
# (the core cannot import environments; the suite registers small instances of each paper's model type)


def _submodular_models():
    from rltheory.mdps import random_bandit_smdp, tight_greedy_family

    return [random_bandit_smdp(4, 5, 3, seed=1, epsilon=0.2), tight_greedy_family(2)]


def _linear_mixture_models():
    from rltheory.mdps import mixture_of_kernels

    return [mixture_of_kernels(S=4, A=2, d=3, H=3, seed=1)]


def _nonstationary_models():
    from rltheory.mdps import garnet
    from rltheory.mdps.nonstationary import piecewise_grid
    from rltheory.nonstationary import NonStationaryMDP

    a = garnet(S=4, A=2, branching=2, horizon=3, seed=3)
    b = garnet(S=4, A=2, branching=2, horizon=3, seed=4)
    return [NonStationaryMDP([a, b], (np.arange(BUDGET) // 7) % 2, coords=np.arange(4.0)),
            piecewise_grid(episodes=BUDGET, period=6, size=5, horizon=4)]


def _register_paper_model_types():
    from rltheory.models import LinearMixtureMDP, SubmodularMDP
    from rltheory.nonstationary import NonStationaryMDP

    register_conformance_models(SubmodularMDP, _submodular_models)
    register_conformance_models(LinearMixtureMDP, _linear_mixture_models)
    register_conformance_models(NonStationaryMDP, _nonstationary_models)


_register_paper_model_types()


def _cases():
    out = []
    for name, cls in sorted(ALGORITHMS.items()):
        if cls.__module__.startswith("tests") or cls.__module__ == __name__:
            continue
        for i, (params, model) in enumerate(conformance_cases(cls)):
            label = getattr(model, "name", type(model).__name__)
            out.append(pytest.param(cls, params, model, id=f"{name}-{i}-{label}"))
    return out


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("cls, params, model", _cases())
def test_conformance(cls, params, model, check):
    check(cls(**params), model)


def test_ucbvi_is_registered():
    assert "UCBVI" in ALGORITHMS


# ---------------------------------------------------------------------------- an outside learner


class UniformLearner(Algorithm):
    """A tiny learner written in a test file: it plays the uniformly random policy and reports its exact regret.

    It is what a third party writes; :func:`check_algorithm` accepts it without registration.
    """

    model_type = FiniteHorizonMDP

    def __init__(self, *, scale: float = 1.0):
        if not (isinstance(scale, float | int) and scale > 0):
            raise InvalidParameterError("scale", f"must be positive, got {scale!r}", value=scale)
        self.scale = scale

    def run(self, mdp, episodes, *, replicates=1, seed=0, backend=None, progress=False):
        episodes, seeds, backend = self._check_run_args(mdp, episodes, replicates, seed, backend)
        pi = np.full((mdp.H, mdp.S, mdp.A), 1.0 / mdp.A)
        v_pi = float(mdp.mu @ evaluate(mdp, pi)[0])
        regret = backward_induction(mdp).value - v_pi
        rets = np.stack([g.random(episodes) for g in generators(seeds)])  # a stand-in "sampled return"
        return Trace({"regret": np.full((len(seeds), episodes), regret), "returns": rets * self.scale})


class SeedIgnoringLearner(UniformLearner):
    """A broken learner: every replicate draws from one shared stream, so replicates depend on each other."""

    def run(self, mdp, episodes, *, replicates=1, seed=0, backend=None, progress=False):
        episodes, seeds, backend = self._check_run_args(mdp, episodes, replicates, seed, backend)
        rng = np.random.default_rng(0 if isinstance(seed, list) else seed)
        return Trace({"regret": rng.random((len(seeds), episodes))})


def test_an_outside_learner_passes_the_shipped_suite():
    n_models = len(models_for(UniformLearner))
    assert check_algorithm(UniformLearner) == len(ALL_CHECKS) * n_models
    assert check_algorithm(UniformLearner(scale=2.0), checks=ALL_CHECKS[:2]) == 2 * n_models


def test_a_broken_learner_is_caught_and_named():
    with pytest.raises(ConformanceError, match="check_replicate_independence.*SeedIgnoringLearner"):
        check_algorithm(SeedIgnoringLearner)
