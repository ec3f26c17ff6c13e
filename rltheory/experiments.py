"""Run an algorithm over many replicates, in chunks, with an on-disk cache and resume.

:func:`run_experiment` is the one entry point figure recipes use::

    trace = run_experiment(UCBVI(bonus="bernstein"), riverswim(), 10_000, replicates=64, seed=0)
    trace.regret.shape        # (64, 10_000)

How it works
------------
* **Chunks.** Replicates ``0 .. R-1`` are split into chunks ``[a, b)`` of ``chunk_replicates``
  (the last one shorter). Chunk ``[a, b)`` runs ``algorithm.run(model, episodes,
  replicates=b - a, seed=replicate_seeds(seed, a, b))``: replicate ``r`` always gets the seed
  sequence of replicate ``r`` of root ``seed`` (:mod:`rltheory.rng`), so the result is
  bit-identical whatever ``chunk_replicates``, ``workers`` or the cache state are. This rests on
  the algorithms' replicate independence, which ``tests/conformance.py`` checks for every
  registered learner.
* **Cache.** Each chunk's :class:`~rltheory.trace.Trace` is written as soon as it finishes, to
  ``CACHE/<key>/reps-<a>-<b>.npz``, atomically (a temporary file beside it, then a rename), so a
  crash or Ctrl-C never leaves a half-written chunk. ``<key>`` is
  :func:`cache_key`: a short SHA-256 of a canonical JSON of the algorithm's class and
  ``get_params()``, the model's ``fingerprint``, ``episodes``, ``seed``, ``backend``, the extra
  ``run`` keyword arguments, ``rltheory.__version__`` and a hash of the source code behind the
  result (:func:`code_fingerprint`: the core and the algorithm's own package).
  ``CACHE/<key>/config.json`` holds that JSON, for humans. The number
  of replicates and the chunking are *not* part of the key.
* **Resume and reuse.** Before computing, every ``reps-<c>-<d>.npz`` already in ``CACHE/<key>/``
  is considered, whatever chunking wrote it: a replicate covered by any cached file is read from
  it (rows ``r - c``), and only the uncovered replicates are computed, in pieces that never cross
  a chunk boundary. So a rerun after an interruption computes only the missing chunks; a rerun
  with more replicates computes only the new ones; a rerun with another ``chunk_replicates``
  reuses every replicate already on disk (and its new pieces are named by their own boundaries).
  A cached file that cannot be read, or whose replicate count does not match its name, is moved
  aside to ``<name>.corrupt`` with a warning and recomputed.

* **Where chunks run.** In this process (``workers=1``), a local process pool (``workers=N``), or
  any executor (``executor=``): ``"dask"``, a Dask scheduler address or a ``distributed.Client``
  (:mod:`rltheory.cluster`; ``$RLTHEORY_SCHEDULER`` and ``rltheory reproduce --scheduler`` set the
  default). On an executor other than a local pool, the worker that computes a chunk also saves it
  (best effort: the cache must be on a file system the workers share), and a chunk already on
  disk is read back rather than recomputed, so a client or worker that dies loses only the chunks
  it was running. The progress bar advances as futures complete.

Any change to the library's code changes the key, so stale results are never reused; old
folders are simply left behind (delete ``CACHE`` to reclaim the space, or pass
``cache_dir=False`` not to cache at all).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import contextvars
import dataclasses
import functools
import hashlib
import json
import math
import multiprocessing
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from .cluster import check_executor, is_remote, resolve_executor
from .errors import InvalidDataError, InvalidParameterError
from .rng import replicate_seeds
from .trace import Trace
from .validation import check_int

__all__ = [
    "run_experiment",
    "sweep",
    "cache_key",
    "default_cache_dir",
    "progress_default",
    "write_text_atomic",
    "CACHE_ENV",
    "CACHE_DIRNAME",
]

#: Environment variable naming the default cache folder.
CACHE_ENV = "RLTHEORY_CACHE"
#: Default cache folder, relative to the current directory, when ``RLTHEORY_CACHE`` is unset.
CACHE_DIRNAME = ".rltheory-cache"
#: ``run`` keyword arguments that do not change results and are left out of the cache key.
_NOT_IN_KEY = frozenset({"progress"})

_CHUNK_RE = re.compile(r"^reps-(\d+)-(\d+)\.npz$")

_PROGRESS: contextvars.ContextVar[bool] = contextvars.ContextVar("rltheory_progress", default=True)


@contextlib.contextmanager
def progress_default(enabled: bool) -> Iterator[None]:
    """Within the block, ``run_experiment(progress=None)`` shows bars iff ``enabled``.

    :func:`rltheory.figures.reproduce` uses it so that ``reproduce(progress=False)`` silences
    the sweeps inside figure recipes, which call ``run_experiment`` without ``progress=``.
    """
    token = _PROGRESS.set(bool(enabled))
    try:
        yield
    finally:
        _PROGRESS.reset(token)


# ---------------------------------------------------------------------------- cache key


def default_cache_dir() -> Path:
    """``$RLTHEORY_CACHE`` if set (and non-empty), else ``./.rltheory-cache``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.cwd() / CACHE_DIRNAME


def _resolve_cache_dir(cache_dir) -> Path | None:
    if cache_dir is False:
        return None
    if cache_dir is None or cache_dir is True:
        return default_cache_dir()
    if isinstance(cache_dir, str | os.PathLike):
        path = Path(cache_dir)
        if path.exists() and not path.is_dir():
            raise InvalidParameterError("cache_dir", f"{str(path)!r} exists and is not a folder", value=str(path))
        return path
    raise InvalidParameterError(
        "cache_dir", "must be a path, None (default folder) or False (no cache), "
        f"got {type(cache_dir).__name__}", value=cache_dir)


def _canonical(obj: Any, where: str) -> Any:
    """A JSON-serialisable, deterministic stand-in for ``obj`` (arrays are hashed, not listed)."""
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        x = float(obj)
        return x if math.isfinite(x) else repr(x)
    if isinstance(obj, Enum):
        return {"__enum__": f"{type(obj).__qualname__}.{obj.name}"}
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:  # the bytes would be pointers
            return [_canonical(v, f"{where}[{i}]") for i, v in enumerate(obj.tolist())]
        arr = np.ascontiguousarray(obj)
        digest = hashlib.sha256(arr.tobytes()).hexdigest()[:16]
        return {"__ndarray__": digest, "dtype": arr.dtype.str, "shape": list(arr.shape)}
    if isinstance(obj, Mapping):
        return {str(k): _canonical(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_canonical(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, set | frozenset):
        return sorted((_canonical(v, where) for v in obj), key=json.dumps)
    fingerprint = getattr(obj, "fingerprint", None)
    if isinstance(fingerprint, str):
        return {"__class__": type(obj).__qualname__, "fingerprint": fingerprint}
    if callable(getattr(obj, "get_params", None)):
        params = _canonical(obj.get_params(), f"{where}.get_params()")
        return {"__class__": _class_name(obj), "params": params}
    raise InvalidParameterError(
        where.split("[")[0].split(".")[0],
        f"{where} is a {type(obj).__name__}, which has no canonical form for the cache key "
        "(give it a `fingerprint` string or pass cache_dir=False)", value=type(obj).__name__)


def _class_name(obj) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _model_fingerprint(model) -> Any:
    fingerprint = getattr(model, "fingerprint", None)
    if isinstance(fingerprint, str):
        return fingerprint
    state = getattr(model, "__dict__", None)
    if not state:
        raise InvalidParameterError(
            "model", f"a {type(model).__name__} has no `fingerprint` and no attributes to hash "
            "for the cache key (pass cache_dir=False)", value=type(model).__name__)
    # Fall back to hashing the model's attributes (arrays by their bytes), sorted by name.
    return {"__class__": _class_name(model),
            "state": _canonical({k: v for k, v in sorted(state.items())}, "model")}


def _hash_folder(digest, folder: Path, *, kernels: bool = False) -> None:
    files = sorted(folder.glob("*.py")) + (sorted(folder.glob("kernels/*.py")) if kernels else [])
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())


@functools.cache
def _core_digest() -> bytes:
    """SHA-256 state of the core's sources (this package's folder and its ``kernels/``)."""
    digest = hashlib.sha256()
    _hash_folder(digest, Path(__file__).resolve().parent, kernels=True)
    return digest.digest()


@functools.cache
def _folder_digest(folder: str) -> bytes:
    digest = hashlib.sha256()
    _hash_folder(digest, Path(folder))
    return digest.digest()


def _source_folder(obj) -> Path | None:
    """The folder of the module that defines ``type(obj)`` (``None`` for built-ins and interactive classes).

    Read from the class's already-imported module (``sys.modules``): nothing is imported here.
    """
    module = sys.modules.get(type(obj).__module__)
    file = getattr(module, "__file__", None)
    return Path(file).resolve().parent if file else None


def code_fingerprint(algorithm=None) -> str:
    """A hash of the source code that produces ``algorithm``'s results: the core and the algorithm's package.

    Part of every cache key, so that a change to a learner or a kernel never silently reuses results
    computed by older code. Hashed: every ``.py`` file of the core (``rltheory/`` and its ``kernels/``)
    and, when ``algorithm`` is given, every ``.py`` file in the folder of the module defining its class
    (for the library's learners, ``rltheory.algorithms``; for a third party's learner, its own package).
    The files are located through the class's own, already-imported module, so the core imports no
    paper package (figure recipes, models' constructors and bounds do not produce results: models
    enter the key through their own ``fingerprint``).
    """
    digest = hashlib.sha256(_core_digest())
    folder = _source_folder(algorithm) if algorithm is not None else None
    if folder is not None and folder != Path(__file__).resolve().parent:
        digest.update(_folder_digest(str(folder)))
    return digest.hexdigest()[:16]


def _key_config(algorithm, model, episodes: int, seed: int, backend, run_kwargs: Mapping) -> dict:
    from . import __version__

    kwargs = {k: v for k, v in run_kwargs.items() if k not in _NOT_IN_KEY}
    return {
        "algorithm": _class_name(algorithm),
        "params": _canonical(algorithm.get_params(), "algorithm"),
        "model": _model_fingerprint(model),
        "episodes": episodes,
        "seed": seed,
        "backend": backend,
        "run_kwargs": _canonical(kwargs, "run_kwargs"),
        "rltheory": __version__,
        "code": code_fingerprint(algorithm),
    }


def _dumps(config: Mapping) -> str:
    return json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)


def cache_key(algorithm, model, episodes: int, *, seed: int = 0, backend: str | None = None,
              **run_kwargs) -> str:
    """The cache folder name of a configuration: 16 hex digits of a SHA-256.

    Hashes the canonical JSON of (algorithm class, ``algorithm.get_params()``, model
    fingerprint, ``episodes``, ``seed``, ``backend``, ``run_kwargs`` minus ``progress``,
    ``rltheory.__version__``, :func:`code_fingerprint`). Array-valued parameters enter through a
    hash of their bytes.
    """
    _check_algorithm(algorithm)
    episodes = check_int(episodes, "episodes", low=1)
    seed = check_int(seed, "seed", low=0)
    config = _key_config(algorithm, model, episodes, seed, backend, run_kwargs)
    return hashlib.sha256(_dumps(config).encode()).hexdigest()[:16]


def _check_algorithm(algorithm) -> None:
    if isinstance(algorithm, type):
        name = algorithm.__name__
        raise InvalidParameterError(
            "algorithm", f"must be an instance, got the class {name} (write {name}(...))",
            value=name)
    for method in ("run", "get_params"):
        if not callable(getattr(algorithm, method, None)):
            name = type(algorithm).__name__
            raise InvalidParameterError(
                "algorithm", f"must have a `{method}` method, got a {name}", value=name)


# ---------------------------------------------------------------------------- chunks on disk


def _chunk_path(key_dir: Path, a: int, b: int) -> Path:
    return key_dir / f"reps-{a}-{b}.npz"


#: Metadata entry of a cached chunk file: its cache key, replicate range, episodes and array layout.
_STAMP = "cache_chunk"
#: A ``.tmp`` file in a cache folder older than this (seconds) is left over from a killed writer.
STALE_TMP_SECONDS = 3600.0


def _stamp(trace: Trace, key: str, a: int, b: int, episodes: int) -> dict:
    return {"key": key, "replicates": [a, b], "episodes": episodes,
            "arrays": {k: [str(v.dtype), list(v.shape[1:])] for k, v in sorted(trace.arrays.items())}}


def _save_atomic(trace: Trace, path: Path, stamp: Mapping | None = None) -> None:
    """Write ``trace`` to ``path`` so that ``path`` is either absent or complete.

    :meth:`Trace.save` writes a temporary file beside ``path`` and renames it into place; the
    temporary file is removed whatever happens (exceptions included). ``stamp`` (the chunk's key,
    replicate range, episodes and array layout) is stored in the file's metadata and checked when
    the chunk is read back.
    """
    if stamp is not None:
        trace = Trace(trace.arrays, {**trace.meta, _STAMP: dict(stamp)})
    trace.save(path)


def _clean_stale_tmp(key_dir: Path, now: float | None = None) -> list[Path]:
    """Remove ``.tmp`` files older than :data:`STALE_TMP_SECONDS` from ``key_dir`` (left by killed writers)."""
    import time

    now = time.time() if now is None else now
    removed = []
    if not key_dir.is_dir():
        return removed
    for p in key_dir.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            if now - p.stat().st_mtime > STALE_TMP_SECONDS:
                p.unlink()
                removed.append(p)
    return removed


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file and a rename; returns the path.

    Readers see the old file or the new one, never a partial one; the temporary file is removed
    whatever happens.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600 files; give the usual mode
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path


def _write_config(key_dir: Path, config: Mapping) -> None:
    path = key_dir / "config.json"
    if not path.exists():
        write_text_atomic(path, json.dumps(config, sort_keys=True, indent=1) + "\n")


def _cached_intervals(key_dir: Path) -> list[tuple[int, int, Path]]:
    """``(c, d, path)`` of every ``reps-<c>-<d>.npz`` in ``key_dir``, sorted."""
    if not key_dir.is_dir():
        return []
    found = []
    for p in key_dir.iterdir():
        m = _CHUNK_RE.match(p.name)
        if m and int(m.group(1)) < int(m.group(2)):
            found.append((int(m.group(1)), int(m.group(2)), p))
    return sorted(found)


def _quarantine(path: Path, reason: str) -> None:
    warnings.warn(f"ignoring unusable cached chunk {path} ({reason}); it is moved aside and recomputed",
                  RuntimeWarning, stacklevel=5)
    with contextlib.suppress(OSError):
        os.replace(path, path.with_name(path.name + ".corrupt"))


def _check_stamp(trace: Trace, key: str | None, c: int, d: int, episodes: int | None) -> None:
    """Raise :class:`InvalidDataError` unless ``trace`` is the chunk ``[c, d)`` of ``key`` it claims to be."""
    if trace.replicates != d - c:
        raise InvalidDataError("path", f"holds {trace.replicates} replicates, its name says {d - c}",
                               value=trace.replicates)
    stamp = trace.meta.get(_STAMP)
    if not isinstance(stamp, dict):
        raise InvalidDataError("path", "has no chunk stamp (key, replicate range): not written by this cache",
                               value=None)
    if key is not None and stamp.get("key") != key:
        raise InvalidDataError("path", f"belongs to cache key {stamp.get('key')!r}, not {key!r}",
                               value=stamp.get("key"))
    if stamp.get("replicates") != [c, d]:
        raise InvalidDataError("path", f"holds replicates {stamp.get('replicates')}, its name says [{c}, {d}]",
                               value=stamp.get("replicates"))
    if episodes is not None and stamp.get("episodes") != episodes:
        raise InvalidDataError("path", f"was run for {stamp.get('episodes')} episodes, not {episodes}",
                               value=stamp.get("episodes"))
    layout = {k: [str(v.dtype), list(v.shape[1:])] for k, v in sorted(trace.arrays.items())}
    if stamp.get("arrays") != layout:
        raise InvalidDataError("path", f"arrays {layout} do not match the stamp {stamp.get('arrays')} "
                                       "(missing, truncated or altered arrays)", value=sorted(layout))


def _load_chunk(path: Path, c: int, d: int, key: str | None = None, episodes: int | None = None) -> Trace | None:
    """The trace in ``path`` (its chunk stamp checked and removed), or ``None`` (moved aside, warned) if unusable."""
    try:
        trace = Trace.load(path)
        _check_stamp(trace, key, c, d, episodes)
    except FileNotFoundError:
        return None
    except Exception as exc:  # unreadable or inconsistent: recompute rather than fail
        _quarantine(path, f"{type(exc).__name__}: {exc}")
        return None
    meta = {k: v for k, v in trace.meta.items() if k != _STAMP}
    return Trace(trace.arrays, meta)


# ---------------------------------------------------------------------------- planning


@dataclasses.dataclass
class _Segment:
    """Replicates ``[a, b)``: read from ``source`` (its rows ``a - offset``) or computed."""

    a: int
    b: int
    source: Trace | None = None
    offset: int = 0
    computed: Trace | None = None

    def rows(self) -> Trace:
        if self.source is None:
            return self.computed
        t = self.source
        i, j = self.a - self.offset, self.b - self.offset
        if i == 0 and j == t.replicates:
            return t
        return Trace({k: v[i:j] for k, v in t.arrays.items()}, t.meta)


def _grid(replicates: int, chunk: int) -> Iterator[tuple[int, int]]:
    for a in range(0, replicates, chunk):
        yield a, min(a + chunk, replicates)


def _plan(replicates: int, chunk: int, key_dir: Path | None, key: str | None = None,
          episodes: int | None = None) -> list[_Segment]:
    """Cover ``[0, replicates)`` with segments, reading cached files where they exist.

    Within each chunk ``[a, b)`` of the grid, a replicate covered by a cached file is read from
    the covering file that reaches furthest; the uncovered stretches become segments to compute.
    """
    intervals = _cached_intervals(key_dir) if key_dir is not None else []
    loaded: dict[Path, Trace] = {}
    segments: list[_Segment] = []
    for a, b in _grid(replicates, chunk):
        r = a
        while r < b:
            source = None
            while source is None:
                covering = [(d, c, p) for c, d, p in intervals if c <= r < d]
                if not covering:
                    break
                d, c, p = max(covering)  # the covering file that reaches furthest
                source = loaded[p] if p in loaded else _load_chunk(p, c, d, key, episodes)
                if source is None:
                    intervals.remove((c, d, p))
                else:
                    loaded[p] = source
            if source is not None:
                stop = min(d, b)
                segments.append(_Segment(r, stop, source=source, offset=c))
            else:
                stop = min([b, *(c for c, _, _ in intervals if c > r)])
                segments.append(_Segment(r, stop))
            r = stop
    return segments


# ---------------------------------------------------------------------------- execution


def _compute_chunk(algorithm, model, episodes: int, seed: int, a: int, b: int, backend,
                   run_kwargs: Mapping, save_to: str | None = None, key: str | None = None) -> Trace:
    """Run replicates ``[a, b)`` with their seed sequences (top-level, so that it pickles).

    ``save_to``: also write the chunk there (atomically, stamped with ``key``) before returning, from
    the process that computed it: on a remote executor a chunk is then on disk as soon as it is done,
    even if the client that asked for it has died. Best effort: a folder this worker cannot write
    (a cache that is not on a shared file system) is left to the client, which saves what it receives.
    A chunk already at ``save_to`` (a task that Dask reruns after losing the worker that held its
    result, or another client's sweep of the same configuration) is read back, not recomputed.
    """
    if save_to is not None and os.path.exists(save_to):
        cached = _load_chunk(Path(save_to), a, b, key, episodes)
        if cached is not None:
            return cached
    kwargs = dict(run_kwargs)
    if backend is not None:
        kwargs["backend"] = backend
    seeds = replicate_seeds(seed, a, b)
    trace = algorithm.run(model, episodes, replicates=b - a, seed=seeds, **kwargs)
    name = type(algorithm).__name__
    if not isinstance(trace, Trace):
        raise InvalidDataError(
            "algorithm", f"{name}.run returned a {type(trace).__name__}, not a Trace",
            value=type(trace).__name__)
    if trace.replicates != b - a:
        raise InvalidDataError(
            "algorithm", f"{name}.run returned {trace.replicates} replicates for a chunk of "
            f"{b - a}",
            value=trace.replicates)
    if save_to is not None:
        with contextlib.suppress(OSError):
            path = Path(save_to)
            if path.parent.is_dir() and not path.exists():
                _save_atomic(trace, path, _stamp(trace, key, a, b, episodes))
    return trace


@dataclasses.dataclass
class _Job:
    """One configuration of a sweep: what to run, where its chunks live, how it is covered."""

    label: Any
    algorithm: Any
    model: Any
    episodes: int
    seed: int
    backend: str | None
    run_kwargs: dict
    key: str | None
    key_dir: Path | None
    segments: list[_Segment]

    def chunk_args(self, seg: _Segment, remote: bool = False) -> tuple:
        """Arguments of :func:`_compute_chunk` for ``seg`` (``remote``: the worker saves the chunk too)."""
        args = (self.algorithm, self.model, self.episodes, self.seed, seg.a, seg.b, self.backend,
                self.run_kwargs)
        if remote and self.key_dir is not None:
            args += (str(_chunk_path(self.key_dir, seg.a, seg.b)), self.key)
        return args

    def finish(self, seg: _Segment, trace: Trace) -> None:
        """Record ``seg``'s computed trace and save it (unless its worker already has: same file, same bytes)."""
        seg.computed = trace
        if self.key_dir is not None and not _chunk_path(self.key_dir, seg.a, seg.b).exists():
            _save_atomic(trace, _chunk_path(self.key_dir, seg.a, seg.b),
                         _stamp(trace, self.key, seg.a, seg.b, self.episodes))

    def inconsistent(self) -> list[_Segment]:
        """Segments read from cache whose arrays do not match the others' (names, dtypes, trailing shapes).

        The reference layout is that of a computed segment if any, else the most common one (none if
        two layouts are equally common). Each such segment's file is quarantined and the segment is
        turned back into one to compute.
        """
        def layout(t: Trace):
            return tuple((k, str(v.dtype), v.shape[1:]) for k, v in sorted(t.arrays.items()))

        done = [seg for seg in self.segments if seg.computed is not None or seg.source is not None]
        if not done:
            return []
        computed = [layout(seg.computed) for seg in done if seg.computed is not None]
        if computed:
            ref = computed[0]
        else:
            counts: dict = {}
            for seg in done:
                counts[layout(seg.source)] = counts.get(layout(seg.source), 0) + 1
            ref = max(counts, key=counts.get)
            if list(counts.values()).count(counts[ref]) > 1:  # no majority: trust none of them
                ref = None
        bad = [seg for seg in done if seg.source is not None and layout(seg.source) != ref]
        for seg in bad:
            if self.key_dir is not None:
                c, d = seg.offset, seg.offset + seg.source.replicates
                _quarantine(_chunk_path(self.key_dir, c, d), "its arrays do not match the other chunks'")
            seg.source, seg.offset = None, 0
        return bad

    def result(self) -> Trace:
        pieces = [seg.rows() for seg in self.segments]
        meta = json.loads(json.dumps(pieces[0].meta, default=str))
        computed = sum(seg.b - seg.a for seg in self.segments if seg.computed is not None)
        total = self.segments[-1].b
        cache_dir = str(self.key_dir) if self.key_dir is not None else None
        played = [piece.meta.get("episodes_played") for piece in pieces]
        if all(isinstance(p, int) for p in played):          # replicate chunks may stop at different episodes
            meta["episodes_played"] = max(played)
        meta.update({"replicates": total, "seed": self.seed,
                     "experiment": {"cache_key": self.key, "cache_dir": cache_dir,
                                    "replicates_computed": computed,
                                    "replicates_from_cache": total - computed}})
        return Trace.concatenate(pieces, meta=meta)


def _make_job(label, algorithm, model, episodes, *, replicates, seed, chunk_replicates, cache_root,
              backend, run_kwargs) -> _Job:
    _check_algorithm(algorithm)
    if "replicates" in run_kwargs or "seed" in run_kwargs:
        bad = "replicates" if "replicates" in run_kwargs else "seed"
        raise InvalidParameterError(bad, "is set by run_experiment, not passed through",
                                    value=run_kwargs[bad])
    episodes = check_int(episodes, "episodes", low=1)
    replicates = check_int(replicates, "replicates", low=1)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise InvalidParameterError(
            "seed", "must be a non-negative int (the root seed; replicate r uses "
            f"replicate_seeds(seed, r, r + 1)), got {seed!r}", value=seed)
    seed = check_int(seed, "seed", low=0)
    chunk = check_int(chunk_replicates, "chunk_replicates", low=1)
    _check_run_kwargs(algorithm, run_kwargs)
    key = key_dir = None
    if cache_root is not None:
        config = _key_config(algorithm, model, episodes, seed, backend, run_kwargs)
        key = hashlib.sha256(_dumps(config).encode()).hexdigest()[:16]
        key_dir = cache_root / key
        _write_config(key_dir, config)
        _clean_stale_tmp(key_dir)
    segments = _plan(replicates, chunk, key_dir, key, episodes)
    return _Job(label, algorithm, model, episodes, seed, backend, dict(run_kwargs), key, key_dir,
                segments)


def _check_run_kwargs(algorithm, run_kwargs: Mapping) -> None:
    """Unknown ``run`` keywords and a bad ``chunk_episodes`` fail here, naming the keyword, before any work."""
    import inspect

    try:
        params = inspect.signature(algorithm.run).parameters
    except (TypeError, ValueError):  # no introspectable signature: let run() decide
        params = None
    if params is not None and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        for name in run_kwargs:
            if name not in params or params[name].kind is inspect.Parameter.POSITIONAL_ONLY:
                known = sorted(n for n, p in params.items()
                               if p.kind is p.KEYWORD_ONLY and n not in ("replicates", "seed"))
                raise InvalidParameterError(
                    name, f"is not a keyword of {type(algorithm).__name__}.run (it accepts {known})",
                    value=run_kwargs[name])
    if run_kwargs.get("chunk_episodes") is not None:
        check_int(run_kwargs["chunk_episodes"], "chunk_episodes", low=1)


def _mp_context():
    # "spawn": numba's OpenMP threading layer is not fork-safe once a parallel kernel has run
    # in the parent, and a fresh interpreter per worker is the portable behaviour anyway.
    return multiprocessing.get_context("spawn")


def _execute(jobs: list[_Job], *, workers: int, executor: Any, progress: bool,
             desc: str) -> None:
    """Compute every segment without a source, saving each as soon as it finishes.

    The bar advances as futures complete (in completion order). A chunk whose future was cancelled
    from outside (a Dask cluster restarted, a scheduler lost) raises ``CancelledError`` once the
    others are in: everything finished is on disk, and a rerun computes only what is missing.
    """
    todo = [(job, seg) for job in jobs for seg in job.segments if seg.source is None and seg.computed is None]
    total = sum(len(job.segments) for job in jobs)
    with tqdm(total=total, initial=total - len(todo), desc=desc, unit="chunk", disable=not progress,
              leave=False) as bar:
        if total - len(todo):
            bar.set_postfix(cached=total - len(todo))
        if not todo:
            return
        executor = resolve_executor(executor)  # here: a run served from the cache connects to nothing
        if executor is None and workers == 1:
            for job, seg in todo:
                job.finish(seg, _compute_chunk(*job.chunk_args(seg)))
                bar.update(1)
            return
        own = executor is None
        if own:
            pool = cf.ProcessPoolExecutor(max_workers=min(workers, len(todo)),
                                          mp_context=_mp_context())
        else:
            pool = executor
        futures = {}
        try:
            remote = is_remote(pool)
            futures = {pool.submit(_compute_chunk, *job.chunk_args(seg, remote)): (job, seg)
                       for job, seg in todo}
            first_error: BaseException | None = None
            cancelled = 0
            for fut in cf.as_completed(futures):
                if fut.cancelled():
                    cancelled += 1
                    continue
                exc = fut.exception()
                if exc is not None:
                    if first_error is None:
                        first_error = exc
                        for other in futures:  # stop what has not started; keep what is running
                            other.cancel()
                    continue
                job, seg = futures[fut]
                job.finish(seg, fut.result())
                bar.update(1)
            if first_error is not None:
                raise first_error
            if cancelled:
                raise cf.CancelledError(
                    f"{cancelled} of {len(futures)} chunk(s) were cancelled by the executor (a Dask cluster "
                    "restarted or a scheduler lost?); the finished ones are saved: rerun to compute only "
                    "the missing ones")
        except BaseException:
            for fut in futures:
                fut.cancel()
            if own:
                pool.shutdown(wait=False, cancel_futures=True)
                own = False
            raise
        finally:
            if own:
                pool.shutdown(wait=True)


def _resolve_progress(progress: bool | None) -> bool:
    return _PROGRESS.get() if progress is None else bool(progress)


# ---------------------------------------------------------------------------- public API


def run_experiment(algorithm, model, episodes: int, *, replicates: int, seed: int = 0,
                   chunk_replicates: int = 8, cache_dir: str | os.PathLike | bool | None = None,
                   workers: int = 1, progress: bool | None = None, backend: str | None = None,
                   executor: Any = None, **run_kwargs) -> Trace:
    """Run ``algorithm`` on ``model`` for ``replicates`` replicates, cached and resumable.

    Parameters
    ----------
    algorithm : Algorithm
        An instance with ``run(model, episodes, *, replicates, seed, ...) -> Trace`` and
        ``get_params()`` (see :mod:`rltheory.algorithm`).
    model : exact model
        Passed to ``algorithm.run``; its ``fingerprint`` enters the cache key.
    episodes : int >= 1
    replicates : int >= 1
    seed : int >= 0
        Root seed; replicate ``r`` uses ``replicate_seeds(seed, r, r + 1)``.
    chunk_replicates : int >= 1
        Replicates per ``algorithm.run`` call (and per cached file).
    cache_dir : path, None or False
        Cache root (the chunks go to ``cache_dir/<key>/``). ``None``: ``$RLTHEORY_CACHE`` if
        set, else ``./.rltheory-cache``. ``False``: no cache (nothing read or written).
    workers : int >= 1
        Chunks run in a ``ProcessPoolExecutor`` of this many processes ("spawn" start method:
        scripts need the ``if __name__ == "__main__":`` guard; each process compiles the numba
        kernels once). ``1`` runs in this process.
    progress : bool or None
        A tqdm bar over chunks. ``None`` follows :func:`progress_default` (on by default).
    backend : str or None
        Forwarded to ``algorithm.run`` when not ``None``; part of the cache key.
    executor : None, "local", "dask", a scheduler address, a ``distributed.Client`` or a ``concurrent.futures.Executor``
        Where chunks run instead of local processes (resolved by
        :func:`rltheory.cluster.resolve_executor`); ``workers`` is then ignored and the executor
        is not shut down. ``None`` follows ``rltheory reproduce --scheduler`` and
        ``$RLTHEORY_SCHEDULER`` when set, else local processes. On an executor other than a local
        pool (Dask), each chunk is also saved by the worker that computed it (best effort: when the
        cache folder is on a shared file system), so a client that dies loses nothing finished.
        Results are bit-identical on every executor.
    **run_kwargs
        Further keyword arguments of ``algorithm.run`` (part of the cache key, except ``progress``).

    Returns
    -------
    Trace
        Every array of shape ``(replicates, ...)`` as ``algorithm.run`` returns them (learners:
        ``(replicates, episodes)``), bit-identical whatever ``chunk_replicates``, ``workers``
        and the cache state. ``meta`` is the algorithm's, with ``replicates``, ``seed`` and an
        ``experiment`` entry (cache key and folder, replicates computed vs read from cache).

    Raises
    ------
    InvalidParameterError
        Bad ``episodes``, ``replicates``, ``seed``, ``chunk_replicates``, ``workers``,
        ``cache_dir``, or an algorithm parameter with no canonical form for the cache key.
    """
    return sweep([(None, algorithm, model)], episodes, replicates=replicates, seed=seed,
                 chunk_replicates=chunk_replicates, cache_dir=cache_dir, workers=workers,
                 progress=progress, backend=backend, executor=executor, **run_kwargs)[None]


def sweep(configs: Iterable[tuple], episodes: int, *, replicates: int, seed: int = 0,
          chunk_replicates: int = 8, cache_dir: str | os.PathLike | bool | None = None,
          workers: int = 1, progress: bool | None = None, backend: str | None = None,
          executor: Any = None, **run_kwargs) -> dict[Any, Trace]:
    """:func:`run_experiment` for several configurations at once, sharing one process pool.

    Parameters
    ----------
    configs : iterable of ``(label, algorithm, model)`` or ``(label, algorithm, model, run_kwargs)``
        Labels must be distinct (hashable; figure recipes use strings). A fourth item, a mapping,
        adds ``run`` keyword arguments for that configuration only; in it, the keys ``"episodes"``
        and ``"seed"`` replace the shared ``episodes`` and root ``seed`` for that configuration
        (e.g. one run per (instance, budget, seed), each its own configuration, all in one pool).
    episodes, replicates, seed, chunk_replicates, cache_dir, workers, progress, backend, executor
    **run_kwargs
        As in :func:`run_experiment`, shared by every configuration. Every configuration uses
        the same root ``seed`` (common random numbers across algorithms) unless its own mapping
        sets ``"seed"``.

    Returns
    -------
    dict label -> Trace, in the order of ``configs``, each as :func:`run_experiment` returns it.
    """
    workers = check_int(workers, "workers", low=1)
    progress = _resolve_progress(progress)
    cache_root = _resolve_cache_dir(cache_dir)
    if isinstance(configs, str | bytes | Mapping) or not isinstance(configs, Iterable):
        raise InvalidParameterError(
            "configs", "must be an iterable of (label, algorithm, model[, run_kwargs]) tuples, got "
            f"{type(configs).__name__}", value=type(configs).__name__)
    jobs: list[_Job] = []
    seen = set()
    for i, config in enumerate(configs):
        if not isinstance(config, tuple | list) or len(config) not in (3, 4):
            raise InvalidParameterError(
                "configs", "entries must be (label, algorithm, model[, run_kwargs]), "
                f"got {config!r}",
                index=(i,), value=config)
        label, algorithm, model = config[:3]
        extra = dict(config[3]) if len(config) == 4 else {}
        config_episodes, config_seed = extra.pop("episodes", episodes), extra.pop("seed", seed)
        if label in seen:
            raise InvalidParameterError("configs", f"duplicate label {label!r}", index=(i,),
                                        value=label)
        seen.add(label)
        jobs.append(_make_job(label, algorithm, model, config_episodes, replicates=replicates,
                              seed=config_seed, chunk_replicates=chunk_replicates, cache_root=cache_root,
                              backend=backend,
                              run_kwargs={**run_kwargs, **extra}))
    if not jobs:
        raise InvalidParameterError("configs", "is empty", value=0)
    if len(jobs) == 1:
        job = jobs[0]
        model_name = getattr(job.model, "name", type(job.model).__name__)
        desc = f"{type(job.algorithm).__name__} on {model_name}"
    else:
        desc = f"sweep of {len(jobs)}"
    check_executor(executor)
    _execute(jobs, workers=workers, executor=executor, progress=progress, desc=desc)
    if any([job.inconsistent() for job in jobs]):  # every job checked; chunks that disagree are recomputed
        _execute(jobs, workers=workers, executor=executor, progress=progress, desc=desc)
    return {job.label: job.result() for job in jobs}
