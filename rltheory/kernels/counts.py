"""Visit counts of model-based learners, batched over replicates.

State of one replicate (``Hc`` is ``H`` for stage-dependent estimates, 1 when counts are
pooled over steps):

* ``counts_sas[hc, s, a, s']`` — transitions observed (int64),
* ``counts_sa[hc, s, a]``     — visits of ``(s, a)`` (int64),
* ``reward_sum[hc, s, a]``    — sum of observed rewards (float64),
* ``visits[h, s]``            — visits of state ``s`` at step ``h``, ``h = 0..H`` (int64;
  the ``N'_{k,h}`` of Azar et al. 2017);
* ``inv_n[hc, s, a]``         — ``1 / counts_sa`` (0 where unvisited), float64. Derived, but kept
  because planners read it for every pair in every episode and a division there is several times
  slower than a multiplication (it is updated only for the pairs an episode visits).

All arrays carry a leading replicate axis ``n``.

:class:`ObservedSupport` keeps, next to these counts, the *observed* next states of every pair as a short
sorted list (with their counts as float64), so that a planner sums over the successors seen so far
instead of all ``S`` columns of ``counts_sas``. Skipping the zero columns of a row in the same
increasing order adds only exact zeros less, so sums over it are bit-identical to the dense sums.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from ..backend import get_namespace

__all__ = ["CountState", "counts_of", "update_counts_one", "update_counts", "update_counts_reference",
           "ObservedSupport", "update_support_one", "observed_support_reference"]


class CountState(NamedTuple):
    """Counts of ``n`` replicates (shapes in the module docstring, each with leading ``n``).

    A NamedTuple of arrays, so that compiled kernels take it as one argument; inside a kernel,
    ``counts_of(counts, r)`` is the record of replicate ``r`` (the same arrays without their leading axis).
    """

    counts_sas: np.ndarray
    counts_sa: np.ndarray
    reward_sum: np.ndarray
    visits: np.ndarray
    inv_n: np.ndarray

    @classmethod
    def zeros(cls, n: int, H: int, S: int, A: int, *, stage_dependent: bool = True, xp=np) -> CountState:
        Hc = H if stage_dependent else 1
        return cls(xp.zeros((n, Hc, S, A, S), dtype=xp.int64), xp.zeros((n, Hc, S, A), dtype=xp.int64),
                   xp.zeros((n, Hc, S, A)), xp.zeros((n, H + 1, S), dtype=xp.int64), xp.zeros((n, Hc, S, A)))

    def copy(self) -> CountState:
        return CountState(self.counts_sas.copy(), self.counts_sa.copy(), self.reward_sum.copy(), self.visits.copy(),
                          self.inv_n.copy())


@nb.njit(cache=True, inline="always")
def counts_of(counts, r):
    """The :class:`CountState` of replicate ``r`` (views, no copy), inside compiled code."""
    return CountState(counts.counts_sas[r], counts.counts_sa[r], counts.reward_sum[r], counts.visits[r],
                      counts.inv_n[r])


@nb.njit(cache=True)
def update_counts_one(counts, states, actions, rewards):
    """Add one episode of one replicate (its :class:`CountState`, no leading axis) to its counts (in place)."""
    counts_sas, counts_sa, reward_sum, visits, inv_n = counts
    H = actions.shape[0]
    Hc = counts_sa.shape[0]
    for h in range(H):
        hc = h if Hc > 1 else 0
        s = states[h]
        a = actions[h]
        counts_sas[hc, s, a, states[h + 1]] += 1
        counts_sa[hc, s, a] += 1
        inv_n[hc, s, a] = 1.0 / counts_sa[hc, s, a]
        reward_sum[hc, s, a] += rewards[h]
        visits[h, s] += 1
    visits[H, states[H]] += 1


@nb.njit(parallel=True, cache=True)
def _update_counts_numba(counts, states, actions, rewards):
    # Records' arrays are unpacked before ``prange``: writes through a tuple's field inside a parallel
    # loop are lost (Numba's parfor lowering), so every prange kernel of the library does this.
    counts_sas, counts_sa, reward_sum, visits, inv_n = counts
    for r in nb.prange(states.shape[0]):
        update_counts_one(CountState(counts_sas[r], counts_sa[r], reward_sum[r], visits[r], inv_n[r]), states[r],
                          actions[r], rewards[r])


def update_counts(counts: CountState, states, actions, rewards) -> None:
    """Add one episode per replicate to ``counts`` (compiled, in place).

    ``states (n, H + 1)``, ``actions (n, H)`` int64; ``rewards (n, H)`` float64.
    """
    _update_counts_numba(counts, states, actions, rewards)


def update_counts_reference(counts: CountState, states, actions, rewards) -> None:
    """NumPy/CuPy twin of :func:`update_counts` (scatter-add through ``bincount``)."""
    xp = get_namespace(counts.counts_sa, states)
    n, H = actions.shape
    _, Hc, S, A, _ = counts.counts_sas.shape
    steps = xp.arange(H)
    hc = steps if Hc > 1 else xp.zeros(H, dtype=xp.int64)
    rep = xp.arange(n)[:, None]
    s, a, s2 = states[:, :-1], actions, states[:, 1:]
    sa_idx = ((rep * Hc + hc[None, :]) * S + s) * A + a
    size_sa = n * Hc * S * A
    counts.counts_sa[...] += xp.bincount(sa_idx.ravel(), minlength=size_sa).reshape(counts.counts_sa.shape)
    counts.reward_sum[...] += xp.bincount(sa_idx.ravel(), weights=rewards.ravel(),
                                     minlength=size_sa).reshape(counts.reward_sum.shape)
    counts.counts_sas[...] += xp.bincount((sa_idx * S + s2).ravel(), minlength=size_sa * S).reshape(
        counts.counts_sas.shape)
    v_idx = (rep * (H + 1) + xp.arange(H + 1)[None, :]) * S + states
    counts.visits[...] += xp.bincount(v_idx.ravel(), minlength=n * (H + 1) * S).reshape(counts.visits.shape)
    counts.inv_n[...] = xp.where(counts.counts_sa > 0, 1.0 / xp.maximum(counts.counts_sa, 1), 0.0)


# ---------------------------------------------------------------------------- observed successor lists


class ObservedSupport(NamedTuple):
    """Observed next states of ``n`` replicates, a sorted list per pair (a compact view of ``counts_sas``).

    * ``next_states[hc, s, a, j]`` (int64), ``j < size[hc, s, a]``: the next states ``s'`` with
      ``counts_sas[hc, s, a, s'] > 0``, in increasing order (the rest of the row is unused);
    * ``counts[hc, s, a, j]`` (float64): ``counts_sas[hc, s, a, next_states[hc, s, a, j]]``, exact;
    * ``size[hc, s, a]`` (int64): how many.

    Shapes ``(n, Hc, S, A, capacity)`` and ``(n, Hc, S, A)``. ``capacity`` bounds the number of distinct
    next states of one pair: ``S`` always does; the true model's largest support does too (observed next
    states lie in it), which is what learners use to keep the lists short. It is a memory layout only:
    nothing a learner decides depends on it.
    """

    next_states: np.ndarray
    counts: np.ndarray
    size: np.ndarray

    @classmethod
    def zeros(cls, n: int, H: int, S: int, A: int, capacity: int, *, stage_dependent: bool = True) -> ObservedSupport:
        Hc = H if stage_dependent else 1
        return cls(np.zeros((n, Hc, S, A, capacity), dtype=np.int64), np.zeros((n, Hc, S, A, capacity)),
                   np.zeros((n, Hc, S, A), dtype=np.int64))


@nb.njit(cache=True)
def update_support_one(support, states, actions):
    """Add one episode of one replicate (its :class:`ObservedSupport`, no leading axis) in place.

    A next state seen before has its count raised by one; a new one is inserted at its sorted place.
    ``states (H + 1,)``, ``actions (H,)`` int64, as for :func:`update_counts_one`.
    """
    next_states, counts, size = support
    H = actions.shape[0]
    Hc = size.shape[0]
    for h in range(H):
        hc = h if Hc > 1 else 0
        s = states[h]
        a = actions[h]
        t = states[h + 1]
        m = size[hc, s, a]
        j = 0
        while j < m and next_states[hc, s, a, j] < t:
            j += 1
        if j < m and next_states[hc, s, a, j] == t:
            counts[hc, s, a, j] += 1.0
            continue
        if m == next_states.shape[3]:
            raise ValueError("ObservedSupport: more distinct next states than its capacity")
        for i in range(m, j, -1):
            next_states[hc, s, a, i] = next_states[hc, s, a, i - 1]
            counts[hc, s, a, i] = counts[hc, s, a, i - 1]
        next_states[hc, s, a, j] = t
        counts[hc, s, a, j] = 1.0
        size[hc, s, a] = m + 1


def observed_support_reference(counts_sas, capacity: int) -> ObservedSupport:
    """Twin of :func:`update_support_one`: the :class:`ObservedSupport` of dense counts ``(n, Hc, S, A, S)``."""
    counts_sas = np.asarray(counts_sas)
    seen = counts_sas > 0
    size = seen.sum(axis=-1).astype(np.int64)
    order = np.argsort(~seen, axis=-1, kind="stable")[..., :capacity]  # seen columns first, increasing
    next_states = np.where(np.arange(capacity) < size[..., None], order, 0).astype(np.int64)
    counts = np.where(np.arange(capacity) < size[..., None], np.take_along_axis(counts_sas, order, -1), 0)
    return ObservedSupport(next_states, counts.astype(np.float64), size)
