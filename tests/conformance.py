"""The shared conformance suite (in the spirit of scikit-learn's ``check_estimator``).

Every class registered with :func:`rltheory.algorithm.register_algorithm` is run through the
same checks on small exact models of the type it declares (``cls.model_type``):

* trace shapes: every array has a leading replicate axis, per-episode arrays ``(R, K)``
  (``(R, K + 1)`` for iterate-indexed arrays), all finite;
* same-seed determinism, and different seeds giving different samples;
* replicate independence: replicate ``r`` of a batch equals a run of 1 seeded with
  ``replicate_seeds(seed, r, r + 1)``;
* chunking: splitting the episode loop into chunks does not change the numbers;
* validation errors at the boundary (``ValidationError`` naming the argument);
* compiled-vs-NumPy agreement (``backend="numba"`` vs ``"numpy"``) to 1e-10;
* ``get_params`` round trip.

A new algorithm gets all of this by being registered and, for a new model type, by adding a
factory to :data:`MODEL_FACTORIES`. Outsiders can call :func:`check_algorithm` directly.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from rltheory.algorithm import ALGORITHMS
from rltheory.errors import ValidationError
from rltheory.models import FiniteHorizonMDP, LinearMixtureMDP, PreferenceGame
from rltheory.rng import replicate_seeds

BUDGET = 24  # episodes (or iterations) per conformance run
REPLICATES = 3


def _finite_horizon_models():
    from rltheory.mdps import garnet, riverswim

    return [garnet(S=5, A=3, branching=3, horizon=4, seed=1, reward_noise="bernoulli"),
            garnet(S=4, A=2, branching=2, horizon=3, seed=2, stationary=False),
            riverswim(4, 6)]


def _preference_games():
    from rltheory.mdps import bradley_terry_game, random_game, rock_paper_scissors

    return [random_game(4, seed=1, reference="random"), rock_paper_scissors(), bradley_terry_game([0.0, 1.0, -0.5])]


#: model type -> factory returning a few small models of that type.
MODEL_FACTORIES = {FiniteHorizonMDP: _finite_horizon_models, PreferenceGame: _preference_games}


def conformance_cases():
    """``(algorithm class, params, model)`` triples for every registered algorithm."""
    import rltheory.algorithms  # noqa: F401  (registers the algorithms)

    out = []
    for name, cls in sorted(ALGORITHMS.items()):
        factory = MODEL_FACTORIES.get(cls.model_type)
        if factory is None:
            out.append(pytest.param(cls, {}, None, id=f"{name}-no-model-factory"))
            continue
        for i, params in enumerate(cls.conformance_cases()):
            for j, model in enumerate(factory()):
                if cls.supports(model, params):
                    out.append(pytest.param(cls, params, model, id=f"{name}-case{i}-model{j}"))
    return out


def _run(algo, model, **kw):
    kw.setdefault("replicates", REPLICATES)
    kw.setdefault("seed", 0)
    return algo.run(model, BUDGET, **kw)


def check_trace_shapes(algo, model):
    trace = _run(algo, model)
    assert trace.replicates == REPLICATES
    for name in trace.keys():
        arr = trace[name]
        assert arr.shape[0] == REPLICATES, name
        if arr.ndim == 2:  # per-episode/iterate arrays, or per-replicate vectors over the model's n actions
            allowed = (BUDGET, BUDGET + 1, getattr(model, "n", None), len(trace.meta.get("checkpoints", ())))
            assert arr.shape[1] in allowed, (name, arr.shape)
        if np.issubdtype(arr.dtype, np.floating):
            assert np.isfinite(arr).all(), f"{name} has non-finite entries"
    return trace


def check_determinism(algo, model):
    a, b = _run(algo, model, seed=11), _run(algo, model, seed=11)
    assert a == b, "same seed gave different traces"
    if getattr(algo, "randomized", True):
        assert a != _run(algo, model, seed=12), "different seeds gave identical traces"


def check_replicate_independence(algo, model):
    batch = _run(algo, model, replicates=4, seed=5)
    for r in (0, 3):
        single = algo.run(model, BUDGET, replicates=None, seed=replicate_seeds(5, r, r + 1))
        assert single == batch.replicate(r), f"replicate {r} of a batch differs from its single run"


def check_chunking(algo, model):
    params = inspect.signature(algo.run).parameters
    for chunk_arg in ("chunk_episodes", "chunk_iterations"):
        if chunk_arg in params:
            assert _run(algo, model, **{chunk_arg: 5}) == _run(algo, model), "chunking changed the results"


def check_validation_errors(algo, model):
    bad_calls = {
        "episodes": lambda: algo.run(model, 0, replicates=1),
        "replicates": lambda: algo.run(model, BUDGET, replicates=0),
        "backend": lambda: algo.run(model, BUDGET, backend="no-such-backend"),
        "mdp": lambda: algo.run(object(), BUDGET),
    }
    for argument, call in bad_calls.items():
        with pytest.raises(ValidationError) as info:
            call()
        assert isinstance(info.value, ValueError)
        # iterative solvers name their budget "iterations"
        allowed = (argument, "game", "model", "mdp") + (("iterations",) if argument == "episodes" else ())
        assert info.value.argument in allowed, (argument, info.value.argument)


def check_backend_agreement(algo, model):
    if "numpy" not in algo.backends:
        return
    a = _run(algo, model, backend="numba")
    b = _run(algo, model, backend="numpy")
    assert set(a.keys()) == set(b.keys())
    for k in a.keys():
        np.testing.assert_allclose(a[k], b[k], atol=1e-10, rtol=0, err_msg=k)


def check_params_roundtrip(algo, model):
    params = algo.get_params()
    clone = type(algo)(**params)
    assert clone.get_params() == params
    assert type(algo).__name__ in repr(algo)


ALL_CHECKS = [check_trace_shapes, check_determinism, check_replicate_independence, check_chunking,
              check_validation_errors, check_backend_agreement, check_params_roundtrip]


def check_algorithm(algo, model):
    """Run every conformance check on one configured algorithm and one model."""
    for check in ALL_CHECKS:
        check(algo, model)


def _submodular_models():
    from rltheory.mdps import random_bandit_smdp, tight_greedy_family

    return [random_bandit_smdp(4, 5, 3, seed=1, epsilon=0.2), tight_greedy_family(2)]


from rltheory.models import SubmodularMDP  # noqa: E402

MODEL_FACTORIES[SubmodularMDP] = _submodular_models
def _linear_mixture_models():
    from rltheory.mdps import mixture_of_kernels

    return [mixture_of_kernels(S=4, A=2, d=3, H=3, seed=1)]


MODEL_FACTORIES[LinearMixtureMDP] = _linear_mixture_models
def _nonstationary_models():
    from rltheory.mdps import garnet
    from rltheory.mdps.nonstationary import piecewise_grid
    from rltheory.nonstationary import NonStationaryMDP

    a = garnet(S=4, A=2, branching=2, horizon=3, seed=3)
    b = garnet(S=4, A=2, branching=2, horizon=3, seed=4)
    return [NonStationaryMDP([a, b], (np.arange(BUDGET) // 7) % 2, coords=np.arange(4.0)),
            piecewise_grid(episodes=BUDGET, period=6, size=5, horizon=4)]


def _register_nonstationary_factory():
    from rltheory.nonstationary import NonStationaryMDP

    MODEL_FACTORIES[NonStationaryMDP] = _nonstationary_models


_register_nonstationary_factory()
