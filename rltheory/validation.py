"""Checks used at the public boundary.

Each check names the argument, the first offending index and its value, and raises a
:class:`~rltheory.errors.ValidationError` subclass (``error=`` picks which). They are
written with NumPy only, so bad input never reaches a compiled kernel.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from .errors import InvalidParameterError, ValidationError

__all__ = [
    "PROB_ATOL",
    "as_float_array",
    "check_ndim",
    "check_shape",
    "check_finite",
    "check_in_range",
    "check_distribution",
    "check_int",
    "check_real",
    "first_index",
    "check_real_array",
    "MAX_DENSE_BYTES",
    "check_dense_allocation",
    "check_broadcast",
]

#: Tolerance on ``|sum(p) - 1|`` for a probability vector.
PROB_ATOL = 1e-9


def first_index(mask: np.ndarray) -> tuple[int, ...]:
    """Index (C order) of the first ``True`` entry of ``mask``."""
    flat = int(np.flatnonzero(mask.ravel())[0])
    return tuple(int(i) for i in np.unravel_index(flat, mask.shape))


def as_float_array(x, name: str, *, error: type[ValidationError]) -> np.ndarray:
    """Convert ``x`` to a float64 array, or raise ``error`` naming ``name`` (complex input included:
    NumPy would silently drop the imaginary part)."""
    try:
        complex_input = np.iscomplexobj(x)
    except (TypeError, ValueError):  # ragged input: the conversion below reports it
        complex_input = False
    if complex_input:
        raise error(name, "must be real, got a complex array (its imaginary part would be silently dropped)",
                    value="complex")
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise error(name, f"cannot be converted to a float array ({exc})", value=type(x).__name__) from None
    return arr


def check_ndim(arr: np.ndarray, name: str, ndims: tuple[int, ...], *, error, what: str = "") -> None:
    if arr.ndim not in ndims:
        allowed = " or ".join(str(d) for d in ndims)
        extra = f" ({what})" if what else ""
        raise error(name, f"must have {allowed} dimensions{extra}, got shape {arr.shape}", value=arr.shape)


def check_shape(arr: np.ndarray, name: str, shape: tuple[int, ...], *, error, what: str = "") -> None:
    if arr.shape != tuple(shape):
        extra = f" ({what})" if what else ""
        raise error(name, f"must have shape {tuple(shape)}{extra}, got {arr.shape}", value=arr.shape)


def check_finite(arr: np.ndarray, name: str, *, error) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = first_index(bad)
        raise error(name, f"must be finite, got {arr[idx]!r}", index=idx, value=float(arr[idx]))


def check_in_range(arr: np.ndarray, name: str, low: float, high: float, *, error, what: str = "") -> None:
    """Entries must lie in the closed interval ``[low, high]`` (and be finite)."""
    check_finite(arr, name, error=error)
    bad = (arr < low) | (arr > high)
    if bad.any():
        idx = first_index(bad)
        extra = f" ({what})" if what else ""
        raise error(name, f"entries must lie in [{low}, {high}]{extra}, got {arr[idx]!r}",
                    index=idx, value=float(arr[idx]))


def check_distribution(arr: np.ndarray, name: str, *, error, atol: float = PROB_ATOL) -> None:
    """The last axis of ``arr`` must be a probability vector: finite, non-negative, sums to 1."""
    check_finite(arr, name, error=error)
    neg = arr < 0
    if neg.any():
        idx = first_index(neg)
        raise error(name, f"probabilities must be non-negative, got {arr[idx]!r}", index=idx, value=float(arr[idx]))
    sums = arr.sum(axis=-1)
    bad = np.abs(sums - 1.0) > atol
    if np.ndim(bad) == 0:
        if bad:
            raise error(name, f"must sum to 1 (tolerance {atol:g}), sums to {float(sums)!r}", value=float(sums))
        return
    if bad.any():
        idx = first_index(bad)
        raise error(name, f"row must sum to 1 (tolerance {atol:g}), sums to {float(sums[idx])!r}",
                    index=idx, value=float(sums[idx]))


def check_start_distribution(mu, S: int, *, error, what: str) -> np.ndarray:
    """``mu`` as a float64 ``(S,)`` probability vector (``what`` describes it in the shape message)."""
    mu = as_float_array(mu, "mu", error=error)
    check_ndim(mu, "mu", (1,), error=error, what="(S,)")
    check_shape(mu, "mu", (S,), error=error, what=what)
    check_distribution(mu, "mu", error=error)
    return mu


def check_int(x, name: str, *, low: int | None = None, high: int | None = None,
              error=InvalidParameterError) -> int:
    """``x`` must be an integer (not bool) in ``[low, high]``; returns ``int(x)``."""
    if isinstance(x, bool) or not isinstance(x, Integral | np.integer):
        raise error(name, f"must be an integer, got {x!r}", value=x)
    x = int(x)
    if low is not None and x < low:
        raise error(name, f"must be >= {low}, got {x}", value=x)
    if high is not None and x > high:
        raise error(name, f"must be <= {high}, got {x}", value=x)
    return x


def check_real(x, name: str, *, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False, error=InvalidParameterError) -> float:
    """``x`` must be a finite real in the given interval; returns ``float(x)``."""
    if isinstance(x, bool) or not isinstance(x, Real | np.floating | np.integer):
        raise error(name, f"must be a real number, got {x!r}", value=x)
    x = float(x)
    if not np.isfinite(x):
        raise error(name, f"must be finite, got {x!r}", value=x)
    lo_bad = low is not None and (x <= low if low_open else x < low)
    hi_bad = high is not None and (x >= high if high_open else x > high)
    if lo_bad or hi_bad:
        lb = "(" if low_open else "["
        rb = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise error(name, f"must lie in {lb}{lo}, {hi}{rb}, got {x!r}", value=x)
    return x


def check_real_array(x, name: str, *, low: float | None = None, high: float | None = None,
                     low_open: bool = False, high_open: bool = False, integer: bool = False,
                     allow_inf: bool = False, error=InvalidParameterError) -> np.ndarray:
    """``x``, a real or an array of reals, must lie in the given interval; returns it as float64 (0-d for a scalar).

    For the vectorised functions (``bounds/``): entries must be real numbers (not bools, strings,
    complex or objects), not NaN, finite unless ``allow_inf`` (then ``+inf`` passes the upper check),
    whole numbers when ``integer``, and in ``[low, high]`` (ends open as asked). Errors name ``name``,
    the first offending index (arrays) and its value.
    """
    if isinstance(x, str | bytes) or isinstance(x, bool | np.bool_):
        raise error(name, f"must be a real number or an array of reals, got {x!r}", value=repr(x))
    try:
        arr = np.asarray(x)
        if arr.dtype == object:  # Python ints beyond int64, or mixed objects
            if not all(isinstance(v, Real) and not isinstance(v, bool) for v in arr.ravel()):
                raise TypeError("not all entries are real numbers")
            arr = arr.astype(np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raise error(name, f"must be a real number or an array of reals ({exc})", value=type(x).__name__) from None
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise error(name, f"must be a real number or an array of reals, got dtype {arr.dtype}", value=str(arr.dtype))
    f = arr.astype(np.float64)

    def where(mask):
        return first_index(mask) if f.ndim else None
    bad = np.isnan(f) | (np.isneginf(f) if allow_inf else np.isinf(f))
    if bad.any():
        idx = where(bad)
        v = float(f[idx] if idx is not None else f)
        raise error(name, f"must be {'a number or +inf' if allow_inf else 'finite'}, got {v!r}", index=idx, value=v)
    if integer:
        frac = np.isfinite(f) & (f != np.floor(f))
        if frac.any():
            idx = where(frac)
            v = float(f[idx] if idx is not None else f)
            raise error(name, f"must be a whole number, got {v!r}", index=idx, value=v)
    lo_bad = np.zeros(f.shape, bool) if low is None else (f <= low if low_open else f < low)
    hi_bad = np.zeros(f.shape, bool) if high is None else (f >= high if high_open else f > high)
    if (lo_bad | hi_bad).any():
        idx = where(lo_bad | hi_bad)
        v = float(f[idx] if idx is not None else f)
        lb, rb = "(" if low_open or low is None else "[", ")" if high_open or high is None else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise error(name, f"must lie in {lb}{lo}, {hi}{rb}, got {v!r}", index=idx, value=v)
    return f


#: Largest dense array (bytes) a constructor allocates before refusing up front (4 GiB): past it a
#: model belongs in successor lists (``FiniteHorizonMDP.from_successors``), not a dense tensor.
MAX_DENSE_BYTES = 4 * 2**30


def check_dense_allocation(shape, name: str, *, what: str = "array", itemsize: int = 8,
                           limit: int | None = None, error=InvalidParameterError) -> int:
    """Refuse, before allocating, a dense array of ``shape`` over ``limit`` bytes (default :data:`MAX_DENSE_BYTES`).

    ``name`` is the argument to blame (e.g. ``"S"``); the message gives the shape and the size.
    Returns the size in bytes.
    """
    limit = MAX_DENSE_BYTES if limit is None else int(limit)
    nbytes = int(itemsize)
    for d in shape:
        nbytes *= int(d)
    if nbytes > limit:
        dims = " x ".join(str(int(d)) for d in shape)
        raise error(name, f"{what} would be a dense {dims} array of {nbytes / 1e9:.3g} GB, over the "
                          f"{limit / 1e9:.3g} GB limit (MAX_DENSE_BYTES); use fewer states/steps or successor "
                          "lists (FiniteHorizonMDP.from_successors)", value=nbytes)
    return nbytes


def check_broadcast(arrays: dict, *, error=InvalidParameterError) -> tuple[int, ...]:
    """The arrays ``{name: array}`` must broadcast together (NumPy rules); returns the common shape.

    The error names the first argument whose shape does not broadcast with those before it.
    """
    shape: tuple[int, ...] = ()
    for name, a in arrays.items():
        try:
            shape = np.broadcast_shapes(shape, np.shape(a))
        except ValueError:
            shapes = ", ".join(f"{k} {np.shape(v)}" for k, v in arrays.items())
            raise error(name, f"shape {np.shape(a)} does not broadcast with the other arguments ({shapes})",
                        value=np.shape(a)) from None
    return shape
