"""Common shape of rltheory's learners and the registry the conformance suite walks.

A learner follows scikit-learn's convention: hyperparameters are keyword arguments of
``__init__`` (validated there, stored under the same names), and one method does the work::

    trace = Algo(**params).run(model, episodes, replicates=R, seed=0, backend=None)

``run`` returns a :class:`~rltheory.trace.Trace` with ``(replicates, episodes)`` arrays.
Registering a class with :func:`register_algorithm` enrols it in ``tests/conformance.py``.
"""

from __future__ import annotations

import inspect

from tqdm.auto import tqdm

from .backend import resolve_backend
from .errors import InvalidModelError, InvalidParameterError
from .rng import as_seed_sequences
from .validation import check_int

__all__ = ["Algorithm", "register_algorithm", "ALGORITHMS", "episode_chunks"]

#: name -> class of every registered algorithm.
ALGORITHMS: dict[str, type] = {}


def register_algorithm(cls: type) -> type:
    """Class decorator: enrol ``cls`` (by ``cls.__name__``) in :data:`ALGORITHMS`.

    Names are unique: registering another class under a name already taken raises ``ValueError``
    (re-registering the same class, e.g. when its module is reloaded, replaces it).
    """
    old = ALGORITHMS.get(cls.__name__)
    if old is not None and (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"an algorithm named {cls.__name__!r} is already registered ({old.__module__}."
                         f"{old.__qualname__}); give {cls.__module__}.{cls.__qualname__} another name")
    ALGORITHMS[cls.__name__] = cls
    return cls


def episode_chunks(total: int, chunk: int):
    """Yield ``(start, size)`` pairs covering ``range(total)`` in pieces of at most ``chunk``."""
    start = 0
    while start < total:
        size = min(chunk, total - start)
        yield start, size
        start += size


class Algorithm:
    """Base class: parameter introspection and run-argument validation.

    Subclasses set ``model_type`` (the exact model class ``run`` accepts) and ``backends``,
    and implement ``run``. ``conformance_cases()`` returns the hyperparameter sets the shared
    conformance suite exercises.
    """

    model_type: type = object
    backends: tuple[str, ...] = ("numba", "numpy")

    def get_params(self) -> dict:
        """Hyperparameters as given to ``__init__`` (names of its keyword arguments)."""
        sig = inspect.signature(type(self).__init__)
        return {name: getattr(self, name) for name in sig.parameters if name != "self"}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    #: False for deterministic solvers whose output does not depend on the seed.
    randomized: bool = True

    @classmethod
    def conformance_cases(cls) -> list[dict]:
        """Hyperparameter sets for the conformance suite (default: the defaults)."""
        return [{}]

    @classmethod
    def supports(cls, model, params: dict) -> bool:
        """Whether ``cls(**params)`` can run on ``model`` (the conformance suite skips other pairs).

        The default: ``model`` is an instance of the learner's ``model_type``; subclasses narrow it further.
        """
        return isinstance(model, cls.model_type)

    def _check_run_args(self, model, episodes, replicates, seed, backend):
        """Validate ``run``'s arguments; returns ``(episodes, seeds, backend)``."""
        if not isinstance(model, self.model_type):
            raise InvalidModelError("mdp", f"{type(self).__name__} needs a {self.model_type.__name__}, "
                                           f"got {type(model).__name__}", value=type(model).__name__)
        episodes = check_int(episodes, "episodes", low=1)
        seeds = as_seed_sequences(seed, replicates)
        backend = resolve_backend(backend)
        if backend not in self.backends:
            raise InvalidParameterError("backend", f"{type(self).__name__} supports {self.backends}, got {backend!r}",
                                        value=backend)
        return episodes, seeds, backend

    @staticmethod
    def _progress(total: int, enabled: bool, desc: str) -> tqdm:
        """A tqdm bar over episodes (a no-op object when disabled)."""
        return tqdm(total=total, disable=not enabled, desc=desc, unit="ep", leave=False)
