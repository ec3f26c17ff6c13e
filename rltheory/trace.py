"""``Trace``: what a run returns — named arrays with a leading replicate axis.

Every array of a trace has shape ``(replicates, ...)``; for learners the second axis is the
episode (``(replicates, episodes)``), for iterative solvers the iteration. ``meta`` holds
JSON-serialisable facts about the run (algorithm, parameters, model, seed, version).
Figure recipes consume traces and bound arrays only.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from .errors import InvalidDataError

__all__ = ["Trace"]


class Trace:
    """Named arrays with a common leading replicate axis.

    >>> t = Trace({"regret": np.zeros((2, 5))}, meta={"algorithm": "UCBVI"})
    >>> t.regret.shape, t.replicates
    ((2, 5), 2)
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], meta: Mapping | None = None):
        if not isinstance(arrays, Mapping):
            raise InvalidDataError("arrays", f"must be a mapping name -> array, got {type(arrays).__name__}",
                                   value=type(arrays).__name__)
        if not arrays:
            raise InvalidDataError("arrays", "a Trace needs at least one array, got an empty mapping", value=0)
        bad = [k for k in arrays if not isinstance(k, str)]
        if bad:
            raise InvalidDataError("arrays", f"names must be strings, got {bad[0]!r}", value=bad[0])
        if meta is not None and not isinstance(meta, Mapping):
            raise InvalidDataError("meta", f"must be a mapping or None, got {type(meta).__name__}",
                                   value=type(meta).__name__)
        arrays = {k: np.asarray(v) for k, v in arrays.items()}
        leading = {k: v.shape[0] if v.ndim else None for k, v in arrays.items()}
        if None in leading.values() or len(set(leading.values())) != 1:
            raise InvalidDataError("arrays", f"all arrays of a Trace must share a leading replicate axis, got "
                                             f"{leading}", value=leading)
        self._arrays = arrays
        self.meta = dict(meta or {})

    # ---------------------------------------------------------------- access
    def __getattr__(self, name):
        arrays = self.__dict__.get("_arrays", {})
        if name in arrays:
            return arrays[name]
        raise AttributeError(f"Trace has no array {name!r} (has: {sorted(arrays)})")

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self._arrays[name]
        except (KeyError, TypeError):
            raise KeyError(f"Trace has no array {name!r} (has: {sorted(self._arrays)})") from None

    def __contains__(self, name: str) -> bool:
        return name in self._arrays

    def keys(self):
        return self._arrays.keys()

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        return dict(self._arrays)

    @property
    def replicates(self) -> int:
        return next(iter(self._arrays.values())).shape[0]

    @property
    def cumulative_regret(self) -> np.ndarray:
        """``cumsum(regret, axis=1)``, shape ``(replicates, episodes)``."""
        return np.cumsum(self["regret"], axis=1)

    def replicate(self, r: int) -> Trace:
        """The trace of replicate ``r`` alone (leading axis kept, length 1)."""
        return Trace({k: v[r:r + 1] for k, v in self._arrays.items()}, self.meta)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}{tuple(v.shape)}" for k, v in self._arrays.items())
        return f"Trace({shapes})"

    def __eq__(self, other) -> bool:
        if not isinstance(other, Trace) or set(self.keys()) != set(other.keys()):
            return False
        return all(np.array_equal(self[k], other[k]) for k in self.keys())

    # ---------------------------------------------------------------- combine
    @staticmethod
    def concatenate(traces: Iterable[Trace], meta: Mapping | None = None) -> Trace:
        """Stack traces along the replicate axis (all must have the same arrays)."""
        traces = list(traces)
        if not traces:
            raise InvalidDataError("traces", "nothing to concatenate", value=0)
        keys = list(traces[0].keys())
        for i, t in enumerate(traces[1:], 1):
            if list(t.keys()) != keys:
                raise InvalidDataError("traces", f"trace {i} has arrays {list(t.keys())}, trace 0 has {keys}",
                                       index=(i,), value=list(t.keys()))
            for k in keys:
                if t[k].shape[1:] != traces[0][k].shape[1:]:
                    raise InvalidDataError("traces", f"array {k!r} of trace {i} has shape {t[k].shape}, trace 0's "
                                                     f"{traces[0][k].shape} (only the replicate axis may differ)",
                                           index=(i,), value=t[k].shape)
        return Trace({k: np.concatenate([t[k] for t in traces], axis=0) for k in keys},
                     meta if meta is not None else traces[0].meta)

    # ---------------------------------------------------------------- disk
    def _played_arrays(self) -> tuple[dict, list]:
        """The arrays to store, and the names of those cut to the episodes played: a run stopped early
        (``meta["episodes_played"] < meta["episodes"]``, ``run(..., stop_when=...)``) keeps only the played
        columns of its ``(replicates, episodes, ...)`` arrays (the rest are NaN, :meth:`load` restores them)."""
        played, episodes = self.meta.get("episodes_played"), self.meta.get("episodes")
        if not (isinstance(played, int) and isinstance(episodes, int) and 0 <= played < episodes):
            return self._arrays, []
        arrays, cut = dict(self._arrays), []
        for k, v in self._arrays.items():
            if v.ndim >= 2 and v.shape[1] == episodes and v.dtype.kind == "f" and np.isnan(v[:, played:]).all():
                arrays[k] = v[:, :played]
                cut.append(k)
        return arrays, cut

    def save(self, path: str | os.PathLike) -> Path:
        """Write to ``.npz`` atomically (temporary file, then rename); returns the path. A run stopped early
        stores only the episodes it played (:meth:`load` pads the rest with NaN again)."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        arrays, cut = self._played_arrays()
        try:
            with open(tmp, "wb") as fh:
                np.savez(fh, __meta__=np.array(json.dumps(self.meta, default=str)),
                         __cut__=np.array(cut, dtype=str), **arrays)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Trace:
        """Read a trace written by :meth:`save`.

        Raises
        ------
        FileNotFoundError
            ``path`` does not exist.
        InvalidDataError
            ``path`` is not a readable trace file (truncated or corrupt archive, bad metadata, no arrays).
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                if not hasattr(data, "files"):
                    raise InvalidDataError("path", f"{path} holds a bare array, not a trace archive", value=str(path))
                meta = json.loads(str(data["__meta__"])) if "__meta__" in data.files else {}
                cut = [str(k) for k in data["__cut__"]] if "__cut__" in data.files else []
                arrays = {k: data[k] for k in data.files if k not in ("__meta__", "__cut__")}
        except (FileNotFoundError, IsADirectoryError, InvalidDataError):
            raise
        except (EOFError, zipfile.BadZipFile, json.JSONDecodeError, ValueError, KeyError, OSError) as exc:
            raise InvalidDataError("path", f"{path} is not a readable trace file ({type(exc).__name__}: {exc})",
                                   value=str(path)) from exc
        if not isinstance(meta, dict):
            raise InvalidDataError("path", f"{path}: the trace metadata is not a JSON object", value=str(path))
        episodes = meta.get("episodes")
        for k in cut:                                   # episodes a stopped run did not play: NaN again
            v = arrays.get(k)
            if v is None or not isinstance(episodes, int) or v.ndim < 2 or v.shape[1] > episodes:
                raise InvalidDataError("path", f"{path}: array {k!r} was stored cut to the episodes played, but does "
                                               f"not fit episodes={episodes!r}", value=str(path))
            full = np.full((v.shape[0], episodes, *v.shape[2:]), np.nan, dtype=v.dtype)
            full[:, :v.shape[1]] = v
            arrays[k] = full
        return cls(arrays, meta)
