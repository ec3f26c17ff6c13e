"""Policy arrays: validation and conversion.

A *deterministic* policy is an integer array ``pi[h, s]`` of actions; a *stochastic*
policy is a float array ``pi[h, s, a]`` whose last axis is a distribution. Stationary
policies (``(S,)`` or ``(S, A)``) are accepted where a horizon is given and broadcast
over steps.
"""

from __future__ import annotations

import numpy as np

from .errors import InvalidPolicyError
from .validation import check_distribution, check_int, first_index

__all__ = ["validate_policy", "to_stochastic", "uniform_policy"]


def validate_policy(policy, H: int, S: int, A: int, name: str = "policy") -> np.ndarray:
    """Validate ``policy`` and return it as ``(H, S)`` int64 or ``(H, S, A)`` float64.

    Accepted shapes: ``(H, S)`` / ``(S,)`` integer actions in ``[0, A)``, or
    ``(H, S, A)`` / ``(S, A)`` distributions over actions. Integer-valued float arrays
    of shape ``(H, S)`` are accepted as deterministic policies.

    Raises
    ------
    InvalidPolicyError
        Naming ``name``, the first offending index and value.
    """
    H = check_int(H, "H", low=1, error=InvalidPolicyError)
    S = check_int(S, "S", low=1, error=InvalidPolicyError)
    A = check_int(A, "A", low=1, error=InvalidPolicyError)
    try:
        arr = np.asarray(policy)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise InvalidPolicyError(name, f"cannot be converted to an array ({exc})") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise InvalidPolicyError(name, f"must be a numeric array, got dtype {arr.dtype}", value=str(arr.dtype))
    if np.iscomplexobj(arr):
        raise InvalidPolicyError(name, f"must be real (actions or probabilities), got dtype {arr.dtype}",
                                 value=str(arr.dtype))
    integer = np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool
    stochastic_shape = arr.shape in ((S, A), (H, S, A))
    deterministic_shape = arr.shape in ((S,), (H, S))
    # A float (H, S) array is read as actions unless it also has the stochastic shape (S, A).
    if deterministic_shape and (integer or not stochastic_shape):
        # Validate before broadcasting a stationary (S,) policy, so that error indices
        # index the argument as given.
        det = arr
        if not integer:
            f = det.astype(np.float64)
            nonint = ~np.isfinite(f) | (f != np.round(f))
            if nonint.any():
                idx = first_index(nonint)
                raise InvalidPolicyError(name, f"deterministic policy entries must be integer actions, got {f[idx]!r}",
                                         index=idx, value=float(f[idx]))
        # Range check before the cast to int64, which would wrap uint64 2**64 - 1 to -1 (and send huge
        # floats to -2**63): the error reports the entry as given.
        bad = (det < 0) | (det >= A)
        if bad.any():
            idx = first_index(bad)
            v = det[idx].item()  # a Python int for integer dtypes, a float for float ones
            raise InvalidPolicyError(name, f"actions must lie in [0, {A}), got {v}", index=idx, value=v)
        det = det.astype(np.int64)
        if det.ndim == 1:
            det = np.broadcast_to(det, (H, S)).copy()
        return np.ascontiguousarray(det)
    if stochastic_shape:
        sto = np.asarray(arr, dtype=np.float64)
        check_distribution(sto, name, error=InvalidPolicyError)
        if sto.ndim == 2:
            sto = np.broadcast_to(sto, (H, S, A))
        return np.ascontiguousarray(sto)
    raise InvalidPolicyError(
        name, f"must have shape (H, S)=({H}, {S}) of actions or (H, S, A)=({H}, {S}, {A}) of probabilities, "
              f"got {arr.shape}", value=arr.shape)


def to_stochastic(policy: np.ndarray, A: int) -> np.ndarray:
    """A validated ``(H, S)`` or ``(H, S, A)`` policy as ``(H, S, A)`` probabilities."""
    if policy.ndim == 3:
        return policy
    return np.eye(A)[policy]


def uniform_policy(H: int, S: int, A: int) -> np.ndarray:
    """The uniformly random policy, shape ``(H, S, A)``."""
    return np.full((H, S, A), 1.0 / A)
