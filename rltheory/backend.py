"""The one backend switch.

Compiled kernels come in two flavours that compute the same thing:

* ``"numba"`` — scalar loops compiled by Numba, ``prange`` over the replicate axis (CPU);
* ``"numpy"`` — the plain reference twin, vectorised over replicates with array operations.
  Written against the namespace of its inputs, so the same code runs on CuPy arrays on a GPU
  (``"cupy"``).

Dispatch is by the arrays' namespace (:func:`get_namespace`), never by a global flag inside a
kernel. CuPy is imported lazily and is optional (extra ``[gpu]``).
"""

from __future__ import annotations

import numpy as np

from .errors import InvalidParameterError

__all__ = ["BACKENDS", "get_namespace", "resolve_backend", "cupy_available", "to_numpy", "asarray", "record_to"]

BACKENDS = ("numba", "numpy", "cupy")


def cupy_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def get_namespace(*arrays):
    """``cupy`` if any argument is a CuPy array, else ``numpy``."""
    for a in arrays:
        mod = type(a).__module__
        if mod.startswith("cupy"):
            import cupy

            return cupy
    return np


def resolve_backend(backend: str | None) -> str:
    """Validate a ``backend=`` argument; ``None`` means ``"numba"``."""
    if backend is None:
        return "numba"
    if backend not in BACKENDS:
        raise InvalidParameterError("backend", f"must be one of {BACKENDS} or None, got {backend!r}", value=backend)
    if backend == "cupy" and not cupy_available():
        raise InvalidParameterError("backend", "'cupy' needs CuPy and a CUDA device (pip install rltheory[gpu])",
                                    value=backend)
    return backend


def asarray(x, backend: str):
    """``x`` as an array of the backend's namespace (NumPy for ``numba``/``numpy``)."""
    if backend == "cupy":
        import cupy

        return cupy.asarray(x)
    return np.asarray(x)


def to_numpy(x) -> np.ndarray:
    """A NumPy array from a NumPy or CuPy array."""
    if type(x).__module__.startswith("cupy"):
        return x.get()
    return np.asarray(x)


def record_to(record, backend: str):
    """A copy of the ``NamedTuple`` ``record`` with every NumPy array field moved to ``backend``'s arrays (other
    fields, e.g. ``None`` or flags, kept). Move a run's constant tables once at its start: on a GPU every
    ``asarray`` of host data is a transfer across the bus."""
    if backend != "cupy":
        return record
    return type(record)(*(asarray(x, backend) if isinstance(x, np.ndarray) else x for x in record))
