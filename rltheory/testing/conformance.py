"""The conformance suite, shipped with the package (scikit-learn's ``check_estimator`` habit).

:func:`check_algorithm` runs a learner class (or one configured instance) through the checks every
rltheory learner passes, on small exact models of the type it declares (``cls.model_type``):

* ``check_trace_shapes``: every array has a leading replicate axis; per-episode arrays are
  ``(R, K)`` (``(R, K + 1)`` for iterate-indexed arrays); floats are finite;
* ``check_determinism``: the same seed gives the same trace; a different seed a different one;
* ``check_replicate_independence``: replicate ``r`` of a batch equals a run of 1 seeded with
  ``replicate_seeds(seed, r, r + 1)``;
* ``check_chunking``: splitting the episode loop (``chunk_episodes``) changes nothing;
* ``check_validation_errors``: bad ``episodes``, ``replicates``, ``backend`` and model raise a
  :class:`~rltheory.errors.ValidationError` naming the argument;
* ``check_backend_agreement``: ``backend="numba"`` and ``"numpy"`` agree to 1e-10;
* ``check_sparse_dense_agreement``: a dense model and the same model stored as successor lists
  give the same trace for the same seed (finite-horizon MDPs whose rows are deterministic or of full
  support, where both storages turn the same uniforms into the same next states);
* ``check_params_roundtrip``: ``type(algo)(**algo.get_params())`` has the same parameters.

Models: a class may define a classmethod ``conformance_models()`` returning a few small models
of its ``model_type``; otherwise the defaults registered for its model type are used
(:data:`DEFAULT_MODELS`: the core's for :class:`~rltheory.models.FiniteHorizonMDP` and
:class:`~rltheory.models.PreferenceGame`; :func:`register_conformance_models` adds others). Hyperparameter sets
come from ``cls.conformance_cases()`` and pairs are filtered by ``cls.supports(model, params)``.

A failed check raises :class:`ConformanceError` (an ``AssertionError``) naming the check, the
parameters and the model. No test runner is needed::

    from rltheory.testing import check_algorithm
    check_algorithm(MyLearner)               # every case x every model x every check
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable

import numpy as np

from ..backend import cupy_available
from ..errors import ValidationError
from ..models import FiniteHorizonMDP, PreferenceGame
from ..rng import replicate_seeds
from ._builders import random_finite_horizon_mdp, random_preference_game

__all__ = ["check_algorithm", "conformance_cases", "models_for", "register_conformance_models", "ConformanceError",
           "ALL_CHECKS",
           "DEFAULT_MODELS", "BUDGET", "REPLICATES"]

BUDGET = 24  # episodes (or iterations) per conformance run
REPLICATES = 3


class ConformanceError(AssertionError):
    """A learner failed a conformance check (the message names the check, parameters and model)."""


def _finite_horizon_models() -> list[FiniteHorizonMDP]:
    return [random_finite_horizon_mdp(5, 3, 4, branching=3, seed=1, reward_noise="bernoulli", name="garnet-5x3"),
            random_finite_horizon_mdp(4, 2, 3, branching=2, seed=2, stationary=False, name="garnet-4x2-staged"),
            random_finite_horizon_mdp(4, 2, 6, branching=1, seed=3, reward_noise="bernoulli",
                                      name="deterministic-4x2"),
            random_finite_horizon_mdp(3, 2, 4, branching=3, seed=4, name="full-support-3x2")]


def _preference_games() -> list[PreferenceGame]:
    return [random_preference_game(4, seed=1, random_reference=True, name="random-4"),
            random_preference_game(3, seed=2, kind="tournament", name="tournament-3"),
            random_preference_game(3, seed=3, kind="tie", name="tie-3")]


#: model type -> factory of the default conformance models of that type.
DEFAULT_MODELS: dict[type, Callable[[], list]] = {FiniteHorizonMDP: _finite_horizon_models,
                                                  PreferenceGame: _preference_games}


def register_conformance_models(model_type: type, factory: Callable[[], list]) -> None:
    """Make ``factory()`` the default conformance models of ``model_type`` (for learners of a new model type
    that do not define ``conformance_models()``; the test suite registers the papers' model types this way)."""
    if not isinstance(model_type, type) or not callable(factory):
        raise TypeError("register_conformance_models(model_type, factory) needs a class and a callable")
    DEFAULT_MODELS[model_type] = factory


def models_for(cls) -> list:
    """The conformance models of ``cls``: its ``conformance_models()`` or the core default for its model type."""
    own = getattr(cls, "conformance_models", None)
    if callable(own):
        return list(own())
    factory = DEFAULT_MODELS.get(getattr(cls, "model_type", None))
    if factory is None:
        raise ConformanceError(f"{cls.__name__} declares model_type {getattr(cls, 'model_type', None)!r}, which has "
                               "no default conformance models: define a classmethod conformance_models()")
    return factory()


def conformance_cases(cls) -> list[tuple[dict, object]]:
    """``(params, model)`` pairs for ``cls``: every hyperparameter set on every supported model."""
    cases = getattr(cls, "conformance_cases", lambda: [{}])()
    supports = getattr(cls, "supports", lambda model, params: True)
    return [(params, model) for params in cases for model in models_for(cls) if supports(model, params)]


def _run(algo, model, **kw):
    kw.setdefault("replicates", REPLICATES)
    kw.setdefault("seed", 0)
    return algo.run(model, BUDGET, **kw)


def _traces_equal(a, b) -> bool:
    return set(a.keys()) == set(b.keys()) and all(np.array_equal(a[k], b[k]) for k in a.keys())


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConformanceError(message)


def check_trace_shapes(algo, model):
    trace = _run(algo, model)
    _require(trace.replicates == REPLICATES, f"trace has {trace.replicates} replicates, asked for {REPLICATES}")
    for name in trace.keys():
        arr = np.asarray(trace[name])
        _require(arr.shape[0] == REPLICATES, f"array {name!r} has leading axis {arr.shape[0]}, not {REPLICATES}")
        if arr.ndim == 2:  # per-episode/iterate arrays, per-checkpoint arrays, or vectors over a game's n actions
            allowed = (BUDGET, BUDGET + 1, getattr(model, "n", None), len(trace.meta.get("checkpoints", ())))
            _require(arr.shape[1] in allowed,
                     f"array {name!r} has shape {arr.shape}; expected (R, {BUDGET}), (R, {BUDGET + 1}) or "
                     "(R, checkpoints)")
        if np.issubdtype(arr.dtype, np.floating):
            _require(bool(np.isfinite(arr).all()), f"array {name!r} has non-finite entries")


def check_determinism(algo, model):
    a, b = _run(algo, model, seed=11), _run(algo, model, seed=11)
    _require(_traces_equal(a, b), "the same seed gave different traces")
    if getattr(algo, "randomized", True):
        _require(not _traces_equal(a, _run(algo, model, seed=12)), "different seeds gave identical traces")


def check_replicate_independence(algo, model):
    batch = _run(algo, model, replicates=4, seed=5)
    for r in (0, 3):
        single = algo.run(model, BUDGET, replicates=None, seed=replicate_seeds(5, r, r + 1))
        _require(_traces_equal(single, batch.replicate(r)), f"replicate {r} of a batch differs from its single run")


def check_chunking(algo, model):
    params = inspect.signature(algo.run).parameters
    for chunk_arg in ("chunk_episodes", "chunk_iterations"):
        if chunk_arg in params:
            _require(_traces_equal(_run(algo, model, **{chunk_arg: 5}), _run(algo, model)),
                     f"{chunk_arg}=5 changed the results")


def check_validation_errors(algo, model):
    bad_calls = {
        "episodes": lambda: algo.run(model, 0, replicates=1),
        "replicates": lambda: algo.run(model, BUDGET, replicates=0),
        "backend": lambda: algo.run(model, BUDGET, backend="no-such-backend"),
        "mdp": lambda: algo.run(object(), BUDGET),
    }
    for argument, call in bad_calls.items():
        try:
            call()
        except ValidationError as exc:
            # iterative solvers name their budget "iterations"; models are "mdp", "model" or "game"
            allowed = (argument, "game", "model", "mdp") + (("iterations",) if argument == "episodes" else ())
            _require(exc.argument in allowed, f"bad {argument!r} raised an error naming {exc.argument!r}")
        except Exception as exc:  # noqa: BLE001 - the check is that nothing else escapes
            raise ConformanceError(f"bad {argument!r} raised {type(exc).__name__} ({exc}), "
                                   "not a ValidationError") from None
        else:
            raise ConformanceError(f"bad {argument!r} was accepted silently")


#: backend -> tolerance of its agreement with the NumPy twin (CuPy: the same float64 operations, reductions
#: possibly ordered differently on the device).
BACKEND_TOLERANCE = {"numba": 1e-10, "cupy": 1e-9}


def check_backend_agreement(algo, model):
    """Every backend the learner offers, beside ``numpy``, gives the NumPy twin's trace (CuPy only where a CUDA
    device is present)."""
    offered = getattr(algo, "backends", ())
    if "numpy" not in offered:
        return
    b = _run(algo, model, backend="numpy")
    for backend, tol in BACKEND_TOLERANCE.items():
        if backend not in offered or (backend == "cupy" and not cupy_available()):
            continue
        a = _run(algo, model, backend=backend)
        _require(set(a.keys()) == set(b.keys()), f"backends return different arrays: {sorted(a.keys())} vs "
                                                 f"{sorted(b.keys())}")
        for k in a.keys():
            diff = np.max(np.abs(np.asarray(a[k], float) - np.asarray(b[k], float)), initial=0.0)
            _require(bool(diff <= tol), f"array {k!r} differs between {backend} and numpy by {diff:.3g} (> {tol:g})")


def sparse_dense_pair(model: FiniteHorizonMDP) -> tuple[FiniteHorizonMDP, FiniteHorizonMDP]:
    """``(dense, sparse)``: the model stored densely and as its canonical successor lists."""
    dense = model if not model.sparse else FiniteHorizonMDP(np.array(model.P), model.R, model.mu, model.H,
                                                            reward_noise=model.reward_noise, name=model.name)
    nxt, probs = dense.successors
    R = dense.R if not dense.stationary else dense.R[0]
    if dense.stationary:
        nxt, probs = nxt[0], probs[0]
    sparse = FiniteHorizonMDP.from_successors(np.array(nxt), np.array(probs), R, dense.mu, dense.H,
                                              reward_noise=dense.reward_noise, name=f"{dense.name} (successor lists)")
    return dense, sparse


def _same_draws_in_both_storages(model: FiniteHorizonMDP) -> bool:
    """Whether a dense row and its successor list turn the same uniform into the same next state.

    Samplers build an alias table over the row as stored: over all ``S`` states for a dense row, over the
    listed successors for a successor list. The two tables coincide when every row is deterministic (one
    successor) or has full support (the list is the row); otherwise the same uniforms legitimately pick
    different (equally distributed) successors, and only the distributions can be compared."""
    support = (np.asarray(model.P_stages) > 0).sum(axis=-1)
    return bool(np.all((support == 1) | (support == model.S)))


def check_sparse_dense_agreement(algo, model):
    if not isinstance(model, FiniteHorizonMDP) or not _same_draws_in_both_storages(model):
        return
    dense, sparse = sparse_dense_pair(model)
    supports = getattr(type(algo), "supports", lambda m, p: True)
    if not supports(sparse, algo.get_params()):
        return
    a, b = _run(algo, dense), _run(algo, sparse)
    _require(set(a.keys()) == set(b.keys()), "dense and successor-list models return different arrays")
    for k in a.keys():
        diff = np.max(np.abs(np.asarray(a[k], float) - np.asarray(b[k], float)), initial=0.0)
        _require(bool(diff <= 1e-10), f"array {k!r} differs between the dense model and its successor-list copy "
                                      f"by {diff:.3g} (same seed)")


def check_params_roundtrip(algo, model):
    params = algo.get_params()
    clone = type(algo)(**params)
    _require(clone.get_params() == params, "get_params does not round-trip through __init__")
    _require(type(algo).__name__ in repr(algo), "repr does not name the class")


class _NeverMet:
    """A stop rule no replicate meets."""

    def reached(self, arrays, start):
        return np.zeros(next(iter(arrays.values())).shape[0], dtype=bool)


class _MetAtOnce:
    """A stop rule every replicate meets in the first chunk."""

    def reached(self, arrays, start):
        return np.ones(next(iter(arrays.values())).shape[0], dtype=bool)


def check_stop_rule(algo, model):
    """Learners whose ``run`` takes ``stop_when`` (the episodic skeleton's): a rule never met changes nothing; one
    met in the first chunk stops there, with the full run's episodes up to it and NaN after."""
    if "stop_when" not in inspect.signature(algo.run).parameters:
        return
    full = _run(algo, model, chunk_episodes=5)
    never = _run(algo, model, chunk_episodes=5, stop_when=_NeverMet())
    _require(_traces_equal(never, full) and never.meta.get("episodes_played") == BUDGET,
             "a stop rule that is never met changed the results")
    once = _run(algo, model, chunk_episodes=5, stop_when=_MetAtOnce())
    played = once.meta.get("episodes_played")
    _require(isinstance(played, int) and 1 <= played <= BUDGET, f"episodes_played={played!r} after a stop rule")
    for name in full.keys():
        a, b = np.asarray(once[name]), np.asarray(full[name])
        if a.ndim >= 2 and a.shape[1] == BUDGET and np.issubdtype(a.dtype, np.floating):
            _require(np.array_equal(a[:, :played], b[:, :played]) and bool(np.isnan(a[:, played:]).all()),
                     f"array {name!r} of a stopped run is not the full run's up to episode {played}, NaN after")


ALL_CHECKS = [check_trace_shapes, check_determinism, check_replicate_independence, check_chunking,
              check_validation_errors, check_backend_agreement, check_sparse_dense_agreement, check_params_roundtrip,
              check_stop_rule]


def check_algorithm(algorithm, *, models: Iterable | None = None, checks: Iterable[Callable] | None = None) -> int:
    """Run the conformance checks; return the number of (check, params, model) combinations run.

    Parameters
    ----------
    algorithm : class or instance
        A class runs every ``conformance_cases()`` parameter set; an instance runs as configured.
    models : iterable of models, optional
        Models to run on (default: :func:`models_for` the class).
    checks : iterable of callables, optional
        A subset of :data:`ALL_CHECKS` (default: all).

    Raises
    ------
    ConformanceError
        On the first failure, naming the check, the parameters and the model.
    """
    cls = algorithm if isinstance(algorithm, type) else type(algorithm)
    models = list(models) if models is not None else models_for(cls)
    checks = list(checks) if checks is not None else ALL_CHECKS
    if isinstance(algorithm, type):
        supports = getattr(cls, "supports", lambda model, params: True)
        configs = [(cls(**params), params) for params in getattr(cls, "conformance_cases", lambda: [{}])()]
        pairs = [(algo, model) for algo, params in configs for model in models if supports(model, params)]
    else:
        pairs = [(algorithm, model) for model in models]
    count = 0
    for algo, model in pairs:
        for check in checks:
            try:
                check(algo, model)
            except ConformanceError as exc:
                raise ConformanceError(f"{check.__name__} failed for {algo!r} on {getattr(model, 'name', model)}: "
                                       f"{exc}") from None
            count += 1
    return count
