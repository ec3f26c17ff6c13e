"""Size arguments of the strategies: an int or an inclusive ``(low, high)`` range, validated."""

from __future__ import annotations

from numbers import Integral

import numpy as np

from ..errors import InvalidParameterError

__all__ = ["size_range", "MAX_DENSE_ENTRIES"]

#: Largest dense transition tensor a strategy will build (entries of ``P``; 2e6 float64 = 16 MB).
MAX_DENSE_ENTRIES = 2_000_000


def _is_int(x) -> bool:
    return isinstance(x, Integral | np.integer) and not isinstance(x, bool)


def size_range(value, name: str, *, low: int = 1) -> tuple[int, int]:
    """``value`` (an int, a ``(lo, hi)`` pair or a ``range``) as an inclusive ``(lo, hi)`` with ``low <= lo <= hi``."""
    if isinstance(value, range):
        if value.step != 1 or len(value) == 0:
            raise InvalidParameterError(name, f"a range must be non-empty with step 1, got {value!r}", value=value)
        value = (value.start, value.stop - 1)
    if _is_int(value):
        value = (int(value), int(value))
    if not (isinstance(value, tuple | list) and len(value) == 2 and all(_is_int(v) for v in value)):
        raise InvalidParameterError(name, f"must be an int or an inclusive (min, max) pair of ints, got {value!r}",
                                    value=value)
    lo, hi = int(value[0]), int(value[1])
    if lo < low:
        raise InvalidParameterError(name, f"must be >= {low}, got min {lo}", value=lo)
    if lo > hi:
        raise InvalidParameterError(name, f"min {lo} exceeds max {hi}", value=(lo, hi))
    return lo, hi
