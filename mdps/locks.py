"""Combination locks: the canonical hard-exploration instance whose effective horizon is its depth.

A lock of depth ``d`` (Laidlaw, Russell & Dragan, NeurIPS 2023, arXiv:2304.09853, use locks to
illustrate the effective horizon; the construction below is ours) is a chain of ``d`` states with one
correct action each: the correct action moves on, any other action falls into an absorbing sink, and
the last correct action pays 1 and ends the episode. The model is built in the BRIDGE format
(:func:`rltheory.mdps.bridge.from_arrays`), so sticky actions (BRIDGE-Sticky, ``p = 0.25``) come for
free and the model is stored as successor lists (sparse).
"""

from __future__ import annotations

import numpy as np

from rltheory.models import FiniteHorizonMDP
from rltheory.validation import check_int, check_real

from . import bridge

__all__ = ["combination_lock"]


def combination_lock(depth: int, A: int = 2, horizon: int = 8, sticky: float = 0.0,
                     seed: int = 0) -> FiniteHorizonMDP:
    """A combination lock of ``depth`` states, ``A`` actions and horizon ``horizon``.

    States ``0..depth-1`` form a chain; in each, one correct action (drawn uniformly with
    ``numpy.random.default_rng(seed)``) moves on, every other action falls into the absorbing sink
    (state ``depth``); the last correct action pays 1 and ends the episode (BRIDGE's ``-1``: the
    END state). The uniformly random policy's ``Q`` still ranks the correct action first, with a gap
    of order ``A^-depth``: the effective horizon is ``depth`` (``k = depth`` with ``m = 1``) when
    ``depth <= horizon``.

    Parameters
    ----------
    depth : int >= 1
    A : int >= 2
        Number of actions.
    horizon : int >= 1
        Episode length ``T``.
    sticky : float in [0, 1)
        Sticky-action probability (:data:`rltheory.mdps.bridge.STICKY_PROBABILITY` = 0.25 is
        BRIDGE-Sticky); the model's name then ends in ``-Sticky``.
    seed : int
        Seed of the correct actions.

    Returns
    -------
    FiniteHorizonMDP
        Successor-list model with ``depth + 2`` states (chain, sink, END) when ``sticky == 0``, and
        ``(depth + 2) * A + 1`` states (state, previous action; first-step state) otherwise. Its name is
        ``Lock(d=depth,A=A,T=horizon)`` (plus ``-Sticky``).
    """
    depth = check_int(depth, "depth", low=1)
    A = check_int(A, "A", low=2)
    horizon = check_int(horizon, "horizon", low=1)
    sticky = check_real(sticky, "sticky", low=0.0, high=1.0, high_open=True)
    seed = check_int(seed, "seed", low=0)
    rng = np.random.default_rng(seed)
    sink = depth
    T = np.full((depth + 1, A), sink, np.int64)
    R = np.zeros((depth + 1, A), np.float32)
    right = rng.integers(0, A, size=depth)
    for i in range(depth):
        T[i, right[i]] = i + 1 if i + 1 < depth else -1
    R[depth - 1, right[depth - 1]] = 1.0
    # from_arrays appends "-Sticky" to the name of a sticky model itself
    return bridge.from_arrays(T, R, horizon, sticky, name=f"Lock(d={depth},A={A},T={horizon})")
