"""A strict CPU stand-in for CuPy, for testing the ``backend="cupy"`` paths where no GPU is at hand.

It is NumPy underneath, so it cannot say anything about speed, kernels or device memory; what it checks is the
*contract* the CuPy code paths rely on, with the failures CuPy itself raises:

* a device array (:class:`ndarray` here) is not a NumPy array: ``np.asarray(x)``, assigning it into a NumPy
  array, or passing it to a compiled (Numba) kernel raises ``TypeError`` — it must come back with ``x.get()``
  (``rltheory.backend.to_numpy``);
* an operation that mixes a device array with a NumPy array of one or more dimensions (``x + np_array``,
  ``x[i] = np_array``, ``cupy.where(mask, x, np_array)``, ``np.einsum(..., x, np_array)``) raises
  ``TypeError``; NumPy *scalars* and Python numbers mix freely, as in CuPy;
* reductions return 0-d device arrays, not Python numbers (``float(x)``, ``bool(x)``, ``int(x)`` work;
  ``range(x)`` or indexing with a 0-d device array does not, as ``__index__`` is not offered);
* ``cupy.asarray`` / ``cupy.array`` accept NumPy input (the explicit host-to-device copy); the module counts
  those copies in ``host_to_device``, so a test can check that a run does not copy its tables every episode.

Install with :func:`install` (a pytest ``monkeypatch``): it puts this module in ``sys.modules["cupy"]``, so
``rltheory.backend`` finds it as it would find CuPy, with one (pretend) device.
"""

from __future__ import annotations

import numbers
import sys
import types

import numpy as np

__all__ = ["ndarray", "install", "asarray", "asnumpy"]


class ndarray(np.lib.mixins.NDArrayOperatorsMixin):  # noqa: N801 - CuPy's name
    """A device array: wraps a NumPy array and refuses implicit conversion and mixing (see the module)."""

    __slots__ = ("_a",)
    __array_priority__ = 1000

    def __init__(self, a):
        self._a = a

    # -- what CuPy refuses
    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct "
                        "a NumPy array explicitly. (strict CuPy stand-in)")

    def __index__(self):
        raise TypeError("a device array cannot be used as a Python index (strict CuPy stand-in)")

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    # -- NumPy protocols: unwrap device arrays, refuse host arrays, wrap the results
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        args = [_unwrap(x, f"{ufunc.__name__}") for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(_unwrap(x, f"{ufunc.__name__}(out=)") for x in kwargs["out"])
        return _wrap(getattr(ufunc, method)(*args, **kwargs))

    def __array_function__(self, func, types_, args, kwargs):
        return _wrap(func(*_unwrap_all(args, func.__name__), **_unwrap_all(kwargs, func.__name__)))

    # -- the array interface the library uses
    def get(self):
        """The host copy (CuPy's device-to-host transfer)."""
        return np.array(self._a, copy=True)

    def __getitem__(self, key):
        return _wrap(self._a[_unwrap_all(key, "indexing")])

    def __setitem__(self, key, value):
        self._a[_unwrap_all(key, "indexing")] = _unwrap(value, "item assignment")

    def __len__(self):
        return len(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __bool__(self):
        return bool(self._a)

    def __repr__(self):
        return f"strict_cupy.ndarray({self._a!r})"

    def __getattr__(self, name):
        if name.startswith("__"):  # __array_interface__, __array_struct__, ...: NumPy must not see the host buffer
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if callable(attr):
            def method(*args, **kwargs):
                return _wrap(attr(*_unwrap_all(args, name), **_unwrap_all(kwargs, name)))
            return method
        return _wrap(attr)

    @property
    def T(self):  # noqa: N802
        return _wrap(self._a.T)


def _unwrap(x, where: str):
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, np.ndarray) and x.ndim > 0:
        raise TypeError(f"Unsupported type {type(x)} in {where}: a NumPy array mixed with device arrays "
                        "(strict CuPy stand-in)")
    return x


def _unwrap_all(x, where: str):
    if isinstance(x, (ndarray, np.ndarray)):
        return _unwrap(x, where)
    if isinstance(x, tuple):
        return tuple(_unwrap_all(v, where) for v in x)
    if isinstance(x, list):
        return [_unwrap_all(v, where) for v in x]
    if isinstance(x, dict):
        return {k: _unwrap_all(v, where) for k, v in x.items()}
    return x


def _wrap(x):
    if isinstance(x, np.ndarray):
        return ndarray(x)
    if isinstance(x, np.generic) and not isinstance(x, (np.str_, np.bytes_)):
        return ndarray(np.asarray(x))  # CuPy reductions give 0-d device arrays
    if isinstance(x, tuple):
        return tuple(_wrap(v) for v in x)
    if isinstance(x, list):
        return [_wrap(v) for v in x]
    return x


def asarray(x, dtype=None):
    """Host (or device) data to a device array: the explicit copy, the one place NumPy input is welcome."""
    if isinstance(x, ndarray):
        return x if dtype is None else ndarray(x._a.astype(dtype))
    return ndarray(np.array(x, dtype=dtype, copy=True))


def asnumpy(x):
    return x.get() if isinstance(x, ndarray) else np.asarray(x)


def _namespace_function(name: str, fn):
    def call(*args, **kwargs):
        return _wrap(fn(*_unwrap_all(args, f"cupy.{name}"), **_unwrap_all(kwargs, f"cupy.{name}")))
    call.__name__ = name
    return call


def _build_module() -> types.ModuleType:
    mod = types.ModuleType("cupy")
    mod.__doc__ = "strict CuPy stand-in (tests only)"
    for name in dir(np):
        if name.startswith("_"):
            continue
        obj = getattr(np, name)
        if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)) or type(obj).__name__ in (
                "_ArrayFunctionDispatcher", "ufunc"):
            setattr(mod, name, _namespace_function(name, obj))
        elif isinstance(obj, (numbers.Number, type)):
            setattr(mod, name, obj)
    for sub in ("linalg", "fft"):
        sm = types.ModuleType(f"cupy.{sub}")
        for name in dir(getattr(np, sub)):
            if not name.startswith("_") and callable(getattr(getattr(np, sub), name)):
                setattr(sm, name, _namespace_function(f"{sub}.{name}", getattr(getattr(np, sub), name)))
        setattr(mod, sub, sm)
    mod.ndarray = ndarray
    mod.host_to_device = 0  # copies of host data to the "device" so far (asarray / array of a non-device input)

    def counted_asarray(x, dtype=None):
        if not isinstance(x, ndarray):
            mod.host_to_device += 1
        return asarray(x, dtype)

    mod.asarray = counted_asarray
    mod.array = lambda x, dtype=None, copy=True: counted_asarray(x, dtype)
    mod.asnumpy = asnumpy
    mod.newaxis = None
    cuda = types.ModuleType("cupy.cuda")
    cuda.runtime = types.SimpleNamespace(getDeviceCount=lambda: 1)
    cuda.Device = lambda *a: types.SimpleNamespace(synchronize=lambda: None)
    mod.cuda = cuda
    return mod


ndarray.__module__ = "cupy"  # rltheory.backend dispatches on the array type's module, as for CuPy's


def install(monkeypatch) -> types.ModuleType:
    """Make ``import cupy`` give the stand-in for the rest of the test (undone by ``monkeypatch``)."""
    mod = _build_module()
    monkeypatch.setitem(sys.modules, "cupy", mod)
    return mod
