"""``Trace``: what a run returns — named arrays with a leading replicate axis.

Every array of a trace has shape ``(replicates, ...)``; for learners the second axis is the
episode (``(replicates, episodes)``), for iterative solvers the iteration. ``meta`` holds
JSON-serialisable facts about the run (algorithm, parameters, model, seed, version).
Figure recipes consume traces and bound arrays only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

__all__ = ["Trace"]


class Trace:
    """Named arrays with a common leading replicate axis.

    >>> t = Trace({"regret": np.zeros((2, 5))}, meta={"algorithm": "UCBVI"})
    >>> t.regret.shape, t.replicates
    ((2, 5), 2)
    """

    def __init__(self, arrays: Mapping[str, np.ndarray], meta: Mapping | None = None):
        arrays = {k: np.asarray(v) for k, v in arrays.items()}
        if not arrays:
            raise ValueError("a Trace needs at least one array")
        leading = {k: v.shape[0] if v.ndim else None for k, v in arrays.items()}
        if None in leading.values() or len(set(leading.values())) != 1:
            raise ValueError(f"all arrays of a Trace must share a leading replicate axis, got {leading}")
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
            raise ValueError("nothing to concatenate")
        keys = list(traces[0].keys())
        for t in traces[1:]:
            if list(t.keys()) != keys:
                raise ValueError(f"traces have different arrays: {keys} vs {list(t.keys())}")
        return Trace({k: np.concatenate([t[k] for t in traces], axis=0) for k in keys},
                     meta if meta is not None else traces[0].meta)

    # ---------------------------------------------------------------- disk
    def save(self, path: str | os.PathLike) -> Path:
        """Write to ``.npz`` atomically (temporary file, then rename); returns the path."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                np.savez(fh, __meta__=np.array(json.dumps(self.meta, default=str)), **self._arrays)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Trace:
        with np.load(Path(path), allow_pickle=False) as data:
            meta = json.loads(str(data["__meta__"])) if "__meta__" in data.files else {}
            arrays = {k: data[k] for k in data.files if k != "__meta__"}
        return cls(arrays, meta)
