"""Weighted (float, forgetting) counts for non-stationary learners, batched over replicates.

The integer :class:`~rltheory.kernels.counts.CountState` keeps every sample with weight 1. Here
each sample carries a float weight that a forgetting rule changes between episodes. State of one
replicate (``Hc`` is ``H`` for per-step estimates, 1 when shared across steps; ``X`` the number of
indexed states, e.g. ``S`` or the number of representative states):

* ``N[hc, x, a]``       — weight sum of the samples at ``(x, a)``;
* ``SR[hc, x, a]``      — weighted sum of their rewards;
* ``SP[hc, x, a, y]``   — weighted count of their transitions to ``y``.

Forgetting, applied once per episode *before* the episode's samples are added, so that at the
start of episode ``k`` the sample of episode ``s < k`` has age ``t = k - s - 1`` and weight
``tau(t)``:

* exponential discounting ``tau(t) = eta^t``: :func:`decay_one` multiplies every entry by ``eta``;
* sliding window ``tau(t) = 1{t < W}``: :func:`window_evict_one` subtracts the episode that leaves
  the window (kept in a ring buffer of the last ``W`` episodes);
* restart: :func:`reset_one` zeroes everything.

**Subnormal flush.** A pair no longer visited decays towards zero and becomes subnormal after
about ``708 / |ln eta|`` episodes, where arithmetic is tens of times slower; every entry whose
magnitude falls below :data:`FLUSH` (``1e-12``) after forgetting is set to exactly 0. Evictions
also flush, which removes the round-off left by subtracting rewards.

:func:`closed_form_counts` recomputes the sums from the whole history with weights ``tau(age)``
(the definition); tests check the recursive kernels against it and against their NumPy twins.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

__all__ = [
    "FLUSH",
    "WeightedCountState",
    "decay_one",
    "decay_reference",
    "add_episode_one",
    "add_episode_reference",
    "window_evict_one",
    "window_evict_reference",
    "reset_one",
    "closed_form_counts",
]

#: Entries below this magnitude are set to 0 after forgetting.
FLUSH = 1e-12


class WeightedCountState(NamedTuple):
    """Weighted sums of ``n`` replicates: ``N, SR (n, Hc, X, A)``, ``SP (n, Hc, X, A, X)``.

    A typed record (compiled kernels take it as one argument); ``WeightedCountState(N[r], SR[r], SP[r])``
    is replicate ``r``'s record, ``(Hc, X, A)`` and ``(Hc, X, A, X)``.
    """

    N: np.ndarray
    SR: np.ndarray
    SP: np.ndarray

    @classmethod
    def zeros(cls, n: int, Hc: int, X: int, A: int) -> WeightedCountState:
        return cls(np.zeros((n, Hc, X, A)), np.zeros((n, Hc, X, A)), np.zeros((n, Hc, X, A, X)))

    def copy(self) -> WeightedCountState:
        return WeightedCountState(self.N.copy(), self.SR.copy(), self.SP.copy())


# ---------------------------------------------------------------------------- compiled (one replicate)


@nb.njit(cache=True)
def _scale_flush(a, eta, flush):
    flat = a.reshape(-1)
    for i in range(flat.shape[0]):
        v = flat[i] * eta
        flat[i] = v if abs(v) >= flush else 0.0


@nb.njit(cache=True)
def decay_one(N, SR, SP, eta, flush):
    """Multiply every weight by ``eta`` and flush entries below ``flush`` to 0 (one replicate, in place)."""
    _scale_flush(N, eta, flush)
    _scale_flush(SR, eta, flush)
    _scale_flush(SP, eta, flush)


@nb.njit(cache=True)
def add_episode_one(N, SR, SP, x, a, r, y, weight):
    """Add one episode's samples ``(x[h], a[h], r[h], y[h])``, ``h < H``, with ``weight`` (in place).

    ``x, a, y`` int64 ``(H,)`` (indices into the state axis), ``r`` float ``(H,)``; step ``h`` goes to
    ``hc = h`` when ``Hc > 1`` and to 0 otherwise.
    """
    Hc = N.shape[0]
    for h in range(x.shape[0]):
        hc = h if Hc > 1 else 0
        N[hc, x[h], a[h]] += weight
        SR[hc, x[h], a[h]] += weight * r[h]
        SP[hc, x[h], a[h], y[h]] += weight


@nb.njit(cache=True)
def _flush_entries(N, SR, SP, x, a, flush):
    Hc = N.shape[0]
    for h in range(x.shape[0]):
        hc = h if Hc > 1 else 0
        s, b = x[h], a[h]
        if abs(N[hc, s, b]) < flush:
            N[hc, s, b] = 0.0
        if abs(SR[hc, s, b]) < flush:
            SR[hc, s, b] = 0.0
        row = SP[hc, s, b]
        for t in range(row.shape[0]):
            if abs(row[t]) < flush:
                row[t] = 0.0


@nb.njit(cache=True)
def window_evict_one(N, SR, SP, x, a, r, y, flush):
    """Remove an episode previously added with weight 1 (it left the window), then flush its entries."""
    add_episode_one(N, SR, SP, x, a, r, y, -1.0)
    _flush_entries(N, SR, SP, x, a, flush)


@nb.njit(cache=True)
def reset_one(N, SR, SP):
    """Forget everything (restart)."""
    N[...] = 0.0
    SR[...] = 0.0
    SP[...] = 0.0


# ---------------------------------------------------------------------------- NumPy twins (batched)


def decay_reference(state: WeightedCountState, eta: float, flush: float = FLUSH) -> None:
    """Twin of :func:`decay_one` for all replicates (in place)."""
    for arr in (state.N, state.SR, state.SP):
        arr *= eta
        arr[np.abs(arr) < flush] = 0.0


def add_episode_reference(state: WeightedCountState, x, a, r, y, weight=1.0) -> None:
    """Twin of :func:`add_episode_one`: ``x, a, y (n, H)`` int, ``r (n, H)``, ``weight`` scalar or ``(n,)``."""
    n, H = x.shape
    Hc = state.N.shape[1]
    rows = np.repeat(np.arange(n), H)
    hc = np.tile(np.arange(H) if Hc > 1 else np.zeros(H, np.int64), n)
    w = np.broadcast_to(np.asarray(weight, float).reshape(-1, 1) if np.ndim(weight) else weight, (n, H)).ravel()
    xs, acts, ys = x.ravel(), a.ravel(), y.ravel()
    np.add.at(state.N, (rows, hc, xs, acts), w)
    np.add.at(state.SR, (rows, hc, xs, acts), w * r.ravel())
    np.add.at(state.SP, (rows, hc, xs, acts, ys), w)


def window_evict_reference(state: WeightedCountState, x, a, r, y, flush: float = FLUSH) -> None:
    """Twin of :func:`window_evict_one` for all replicates."""
    add_episode_reference(state, x, a, r, y, -1.0)
    n, H = x.shape
    Hc = state.N.shape[1]
    for i in range(n):
        for h in range(H):
            hc = h if Hc > 1 else 0
            key = (i, hc, x[i, h], a[i, h])
            for arr in (state.N, state.SR):
                if abs(arr[key]) < flush:
                    arr[key] = 0.0
            row = state.SP[key]
            row[np.abs(row) < flush] = 0.0


def closed_form_counts(x, a, r, y, X: int, A: int, *, Hc: int, eta: float = 1.0, window: int | None = None):
    """The sums at the start of episode ``k = len(x)`` from the definition (no recursion, no flush).

    ``x, a, y (k, H)`` int and ``r (k, H)`` of one replicate's episodes ``s = 0..k-1``. Sample weights
    are ``tau(k - s - 1)`` with ``tau(t) = eta^t`` (and ``1{t < window}`` when ``window`` is given).
    Returns ``(N, SR, SP)`` of shapes ``(Hc, X, A)``, ``(Hc, X, A)``, ``(Hc, X, A, X)``.
    """
    k, H = x.shape
    N = np.zeros((Hc, X, A))
    SR = np.zeros((Hc, X, A))
    SP = np.zeros((Hc, X, A, X))
    for s in range(k):
        t = k - s - 1
        w = eta ** t
        if window is not None and t >= window:
            w = 0.0
        for h in range(H):
            hc = h if Hc > 1 else 0
            N[hc, x[s, h], a[s, h]] += w
            SR[hc, x[s, h], a[s, h]] += w * r[s, h]
            SP[hc, x[s, h], a[s, h], y[s, h]] += w
    return N, SR, SP
