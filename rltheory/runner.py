"""The one run skeleton of rltheory's episodic learners.

Every episodic learner (:mod:`rltheory.algorithms`: UCBVI, StepMix, EpsMix, ConservativeUCBVI,
BaselineOnly, QLearning, SQIRL, GORP, and on non-stationary models KeRNS, RSKeRNS, DUCBVI, SWUCBVI,
RestartUCBVI, UCBVINoForgetting) subclasses :class:`EpisodicLearner` and writes only what is its own.
:meth:`EpisodicLearner.run` owns everything else, once:

1. **validation** of ``run``'s arguments (model type, ``episodes``, ``replicates``, ``seed``,
   ``backend``, ``progress``, ``chunk_episodes``), with a clear :class:`~rltheory.errors.ValidationError`;
   on a :class:`~rltheory.nonstationary.NonStationaryMDP`, ``episodes`` may not exceed its schedule;
2. a **memory estimate** made before anything is allocated (:func:`check_run_size`): a call that
   would need more than :data:`MEMORY_LIMIT` bytes is refused, naming the argument and the size;
3. **seeding**: one :class:`numpy.random.SeedSequence` per replicate (:mod:`rltheory.rng`), one
   generator each, whose uniforms the learner consumes in episode order (a learner that needs a
   per-replicate draw before the first episode, e.g. a random restart phase, takes it in ``start``
   from ``run.generators``, before any uniform is drawn);
4. **chunking** of the episodes by the memory rule :func:`default_chunk` (the uniforms of one chunk
   fill at most :data:`UNIFORM_BUDGET` float64s); results never depend on the chunking; an optional
   **stop rule** (``stop_when``, e.g. :class:`~rltheory.algorithms.episodic.EpsilonOptimal`) ends a run
   once every replicate has met it (:func:`check_stop_rule`);
5. the **progress** bar;
6. **trace assembly**: ``(replicates, episodes)`` arrays, ``regret = V* - values`` of the policy
   played where the step wrote only ``values``, and the common ``meta``. On a non-stationary model
   ``V*`` is per episode (``V*_k`` of episode ``k``'s model: the regret is the dynamic regret) and
   ``meta`` holds each model's ``V*`` (``v_star_models``) and the total variation of the run.

What a learner supplies (the template; ``algorithms/ucbvi.py`` is the worked example)::

    class MyLearner(EpisodicLearner):
        label = "Mine"                          # progress-bar label
        trace_arrays = ("regret", "values", ...)  # arrays its step writes, each (n, chunk)

        def __init__(self, *, my_param=1.0): ...          # keyword-only, validated
        def start(self, mdp, run) -> state                 # state for run.replicates replicates (RunContext)
        def step(self, state, u, start, out)               # compiled: episodes start..start+len
        def step_reference(self, state, u, start, out)     # its NumPy twin (same numbers)

and optionally :meth:`~EpisodicLearner.uniform_width`, :meth:`~EpisodicLearner.state_bytes`,
:meth:`~EpisodicLearner.next_chunk` (learners whose natural unit is a round, e.g. SQIRL),
:meth:`~EpisodicLearner.finish` (arrays derived after the loop) and
:meth:`~EpisodicLearner.run_meta`. ``u`` is ``(replicates, size, width)`` uniforms; ``out`` maps
each name of ``trace_arrays`` to a ``(replicates, size)`` float64 array to fill.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any, NamedTuple

import numpy as np

from .algorithm import Algorithm
from .backend import resolve_backend
from .errors import InvalidModelError, InvalidParameterError
from .kernels.sampling import uniforms_per_episode
from .models import FiniteHorizonMDP
from .nonstationary import NonStationaryMDP, check_episodes
from .rng import as_seed_sequences, draw_uniforms, generators
from .trace import Trace
from .validation import check_int

__all__ = ["EpisodicLearner", "RunContext", "default_chunk", "check_chunk_episodes", "check_run_size",
           "check_choice", "check_flag", "check_stop_rule", "UNIFORM_BUDGET", "MEMORY_LIMIT", "FIRST_STOP_CHECK"]

#: Uniforms (float64) held in memory at once: 2,000,000 = 16 MB. One chunk of episodes of ``n``
#: replicates with ``width`` uniforms per episode holds ``n x chunk x width`` of them.
UNIFORM_BUDGET = 2_000_000
#: Largest memory (bytes) a run may need by the estimate of :func:`check_run_size`: 8 GiB.
MEMORY_LIMIT = 8 * 2 ** 30
#: With a stop rule, the first chunk's episodes (at most): chunks then double up to the memory rule's size, so
#: a run that could stop after ``e`` episodes plays fewer than ``max(2 e, FIRST_STOP_CHECK)`` of them (and at
#: most one chunk of the memory rule's size beyond ``e``).
FIRST_STOP_CHECK = 256


def default_chunk(replicates: int, width: int, episodes: int) -> int:
    """Episodes per chunk: as many as keep ``replicates x chunk x width`` uniforms within
    :data:`UNIFORM_BUDGET` (at least 1, at most ``episodes``)."""
    return max(1, min(episodes, UNIFORM_BUDGET // (replicates * width)))


def check_chunk_episodes(value) -> int | None:
    """``None`` (the memory rule) or a positive integer (bools, strings, floats and arrays refused)."""
    if value is None:
        return None
    if isinstance(value, bool | np.bool_) or not isinstance(value, Integral | np.integer):
        raise InvalidParameterError("chunk_episodes", f"must be None or an integer >= 1, got {value!r}",
                                    value=repr(value))
    return check_int(value, "chunk_episodes", low=1)


def check_stop_rule(value):
    """``None`` or an object with a callable ``reached(arrays, start)`` (the ``stop_when`` of
    :meth:`EpisodicLearner.run`): ``arrays`` maps each name of the learner's ``trace_arrays`` to the chunk's
    ``(replicates, size)`` array of episodes ``start .. start + size - 1``; it returns a ``(replicates,)`` bool
    array, True where the replicate met the rule in that chunk. A rule that enters a cache key (run through
    :func:`rltheory.experiments.sweep` with a cache) also needs ``get_params()`` or a ``fingerprint``."""
    if value is None:
        return None
    if not callable(getattr(value, "reached", None)):
        raise InvalidParameterError("stop_when", "must be None or an object with a method reached(arrays, start) "
                                                 f"returning one bool per replicate, got {type(value).__name__}",
                                    value=type(value).__name__)
    return value


def _reached(stop_when, chunk: dict, position: int, n: int) -> np.ndarray:
    """The stop rule's verdict on one chunk, checked: a ``(n,)`` bool array."""
    hit = np.asarray(stop_when.reached(chunk, position))
    if hit.shape != (n,) or hit.dtype != np.bool_:
        raise InvalidParameterError("stop_when", f"reached() must return a bool array of shape ({n},) (one per "
                                                 f"replicate), got {hit.dtype} {hit.shape}",
                                    value=f"{hit.dtype} {hit.shape}")
    return hit


def check_choice(value, name: str, choices) -> str:
    """``value`` must be one of the strings ``choices`` (an array or other non-string is refused clearly)."""
    if not isinstance(value, str) or value not in choices:
        raise InvalidParameterError(name, f"must be one of {tuple(choices)}, got {value!r}",
                                    value=value if isinstance(value, str) else type(value).__name__)
    return value


def check_flag(value, name: str) -> bool:
    """``value`` must be a bool (NumPy's included); arrays and truthy objects are refused."""
    if not isinstance(value, bool | np.bool_):
        raise InvalidParameterError(name, f"must be a bool, got {value!r}", value=type(value).__name__)
    return bool(value)


def _format_bytes(b: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if b < 1024 or unit == "PiB":
            return f"{b:,.1f} {unit}"
        b /= 1024
    return f"{b:.3g} PiB"  # pragma: no cover


def check_run_size(replicates: int, episodes: int, *, bytes_per_episode: int, bytes_per_replicate: int,
                   limit: int | None = None) -> int:
    """Refuse a run whose estimated memory exceeds ``limit`` (default :data:`MEMORY_LIMIT`), before allocating.

    The estimate is ``replicates x (bytes_per_replicate + episodes x bytes_per_episode)``: the learner's
    state per replicate plus the trace arrays. The error names ``replicates`` when even one episode per
    replicate does not fit, else ``episodes``. Returns the estimate (bytes).
    """
    limit = MEMORY_LIMIT if limit is None else limit
    one = replicates * (bytes_per_replicate + bytes_per_episode)
    total = replicates * (bytes_per_replicate + episodes * bytes_per_episode)
    if total > limit:
        name, value = ("replicates", replicates) if one > limit else ("episodes", episodes)
        raise InvalidParameterError(name, f"{name}={value:,} would need about {_format_bytes(total)} "
                                          f"(replicates={replicates:,} x episodes={episodes:,}), more than the "
                                          f"{_format_bytes(limit)} allowed (rltheory.runner.MEMORY_LIMIT)",
                                    value=value)
    return total


class RunContext(NamedTuple):
    """What :meth:`EpisodicLearner.start` is told about the run."""

    replicates: int  #: ``n``
    episodes: int  #: ``K``
    backend: str  #: ``"numba"``, ``"numpy"`` or ``"cupy"``
    width: int  #: uniforms per episode
    #: the replicates' generators, before any uniform is drawn (for per-replicate draws made at start)
    generators: tuple = ()


class EpisodicLearner(Algorithm):
    """Base class of the episodic learners: the run skeleton (module docstring) around a learner's step."""

    backends: tuple[str, ...] = ("numba", "numpy")
    #: Label of the progress bar.
    label: str = "episodes"
    #: Arrays the step writes, each ``(replicates, chunk)``.
    trace_arrays: tuple[str, ...] = ("regret", "values")

    model_type = FiniteHorizonMDP

    # ------------------------------------------------------------------ what a learner supplies
    def uniform_width(self, mdp) -> int:
        """Uniforms per episode (default ``1 + 3H``, the layout of :mod:`rltheory.kernels.sampling`)."""
        return uniforms_per_episode(mdp.H)

    def state_bytes(self, mdp) -> int:
        """Estimated bytes of one replicate's state (default: counts of a model-based learner,
        ``(H S A S + 4 H S A) x 8``)."""
        H, S, A = mdp.H, mdp.S, mdp.A
        return 8 * (H * S * A * S + 4 * H * S * A + (H + 1) * S)

    def start(self, mdp, run: RunContext) -> Any:
        """The learner's state for ``run.replicates`` replicates (anything the steps accept)."""
        raise NotImplementedError

    def next_chunk(self, state, position: int, remaining: int, default: int) -> int:
        """Episodes of the next chunk (``1 <= size <= remaining``); default: ``min(default, remaining)``."""
        return min(default, remaining)

    def step(self, state, u: np.ndarray, start: int, out: dict) -> None:
        """Play episodes ``start .. start + u.shape[1] - 1`` with the compiled kernels, filling ``out``."""
        raise NotImplementedError

    def step_reference(self, state, u: np.ndarray, start: int, out: dict) -> None:
        """The NumPy twin of :meth:`step` (same numbers to 1e-10)."""
        raise NotImplementedError

    def finish(self, state, arrays: dict) -> dict:
        """Arrays derived after the loop (added to the trace); default none."""
        return {}

    def run_meta(self, state) -> dict:
        """Learner-specific facts for the trace's ``meta``."""
        return {}

    def check_model(self, mdp) -> None:
        """Model-dependent checks of the hyperparameters (raise a ``ValidationError``)."""

    # ------------------------------------------------------------------ the skeleton
    def run(self, mdp, episodes: int, *, replicates: int | None = 1, seed=0, backend=None, progress: bool = False,
            chunk_episodes: int | None = None, stop_when=None) -> Trace:
        """Run ``episodes`` episodes for each of ``replicates`` independent replicates.

        Parameters
        ----------
        mdp : FiniteHorizonMDP (or the learner's ``model_type``, e.g. NonStationaryMDP)
            The exact model the learner interacts with (dense or stored as successor lists).
        episodes : int >= 1 (at most the schedule's length on a NonStationaryMDP)
        replicates : int >= 1
        seed : int or sequence of SeedSequence
            Root seed (replicate ``r`` uses ``rltheory.rng.replicate_seeds(seed, r, r + 1)``), or explicit
            per-replicate seed sequences.
        backend : {None, "numba", "numpy"} (and "cupy" where the learner lists it)
            ``None``/``"numba"``: the compiled kernels; ``"numpy"``: their reference twins.
        progress : bool
            Show a labelled tqdm bar over episodes.
        chunk_episodes : int >= 1, optional
            Episodes per compiled call (default: :func:`default_chunk`); results do not depend on it.
        stop_when : stop rule, optional
            Stop once every replicate has met it (:func:`check_stop_rule`; e.g.
            :class:`~rltheory.algorithms.episodic.EpsilonOptimal`: the recommended policy has been
            ``epsilon``-optimal once). Checked after each chunk; with a rule the chunks start at
            :data:`FIRST_STOP_CHECK` episodes and double up to the usual size. Episodes not played hold NaN in
            every trace array, and ``meta["episodes_played"]`` says how many were; what was played is exactly
            what a run without the rule plays (only where it stops depends on the chunking).

        Returns
        -------
        Trace whose arrays (each ``(replicates, episodes)``) the learner's docstring lists; ``regret`` is
        always present: ``V* - values`` of the policy played in each episode (``V*_k - values`` on a
        NonStationaryMDP: the dynamic regret); ``meta["episodes_played"]`` is ``episodes`` unless
        ``stop_when`` ended the run early.
        """
        model_type = self.model_type
        if not isinstance(mdp, model_type):
            raise InvalidModelError("mdp", f"{type(self).__name__} needs a {model_type.__name__}, "
                                           f"got {type(mdp).__name__}", value=type(mdp).__name__)
        episodes = check_int(episodes, "episodes", low=1)
        if isinstance(mdp, NonStationaryMDP):
            episodes = check_episodes(mdp, episodes)
        progress = check_flag(progress, "progress")
        chunk_episodes = check_chunk_episodes(chunk_episodes)
        stop_when = check_stop_rule(stop_when)
        if backend is not None and not isinstance(backend, str):
            raise InvalidParameterError("backend", f"must be one of {self.backends} or None, got {backend!r}",
                                        value=type(backend).__name__)
        backend = resolve_backend(backend)
        if backend not in self.backends:
            raise InvalidParameterError("backend", f"{type(self).__name__} supports {self.backends}, got {backend!r}",
                                        value=backend)
        if isinstance(seed, np.random.SeedSequence):
            n_requested = 1
        elif isinstance(seed, list | tuple):
            n_requested = max(1, len(seed))
        else:
            n_requested = check_int(1 if replicates is None else replicates, "replicates", low=1)
        names = set(self.trace_arrays) | {"regret", "values"}
        check_run_size(n_requested, episodes, bytes_per_episode=8 * (len(names) + 1),
                       bytes_per_replicate=self.state_bytes(mdp))
        self.check_model(mdp)
        seeds = as_seed_sequences(seed, replicates)
        n = len(seeds)
        width = self.uniform_width(mdp)
        default = default_chunk(n, width, episodes) if chunk_episodes is None else chunk_episodes
        gens = generators(seeds)
        state = self.start(mdp, RunContext(n, episodes, backend, width, tuple(gens)))
        out = {k: np.empty((n, episodes)) for k in self.trace_arrays}
        step = self.step if backend == "numba" else self.step_reference
        position = 0
        done = np.zeros(n, dtype=bool)
        target = default if stop_when is None else min(default, FIRST_STOP_CHECK)
        with self._progress(episodes, progress, self.label) as bar:
            while position < episodes:
                size = self.next_chunk(state, position, episodes - position, target)
                u = draw_uniforms(gens, size, width)
                chunk = {k: np.empty((n, size)) for k in self.trace_arrays}
                step(state, u, position, chunk)
                for k in self.trace_arrays:
                    out[k][:, position:position + size] = chunk[k]
                position += size
                bar.update(size)
                if stop_when is not None:
                    done |= _reached(stop_when, chunk, position - size, n)
                    if done.all():
                        for k in self.trace_arrays:      # what finish() derives from them stays NaN there too
                            out[k][:, position:] = np.nan
                        break
                    target = min(default, 2 * target)
        out.update(self.finish(state, out))
        if isinstance(mdp, NonStationaryMDP):  # V*_k of each episode's model: dynamic regret
            v_star = mdp.optimal_values(episodes)
            model_meta = {"v_star_models": mdp.model_values.tolist(),
                          "total_variation": mdp.total_variation(episodes)}
        else:
            v_star = self.optimal_value(state, mdp)
            model_meta = {"v_star": v_star}
        if "regret" not in out:
            out["regret"] = v_star - out["values"]
        if position < episodes:  # stopped by the rule: every per-episode array is NaN where nothing was played
            for v in out.values():
                if v.ndim >= 2 and v.shape[1] == episodes and v.dtype.kind == "f":
                    v[:, position:] = np.nan
        meta = {"algorithm": type(self).__name__, "params": self._meta_params(), "model": mdp.name,
                "model_fingerprint": mdp.fingerprint, "episodes": episodes, "episodes_played": position,
                "replicates": n, **model_meta,
                "backend": backend, **self.run_meta(state)}
        return Trace(out, meta)

    def optimal_value(self, state, mdp) -> float:
        """``mu @ V*_0`` of ``mdp`` (from the state's ``v_star`` when it has one)."""
        v = getattr(state, "v_star", None)
        if v is None:
            from .planning import backward_induction

            return backward_induction(mdp).value
        return float(v)

    def _meta_params(self) -> dict:
        params = self.get_params()
        for k, v in params.items():
            if isinstance(v, np.ndarray):
                params[k] = f"array{v.shape}"
            elif not isinstance(v, str | int | float | bool | type(None) | tuple | list):
                params[k] = repr(v)
        return params
