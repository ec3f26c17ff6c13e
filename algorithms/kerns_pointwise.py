"""Point-based KeRNS planning (the theory version, spec ``kerns.md`` B2.1): a NumPy reference for cost.

KeRNS as analysed plans from every past sample ``z_j = (x_j, a_j)`` with time-kernel weights
``w_j(z) = eta^{age_j} psi(rho(x, x_j) / sigma) 1{a = a_j}`` (actions at infinite distance from each
other), computes optimistic values ``Q~_h`` at the sample points, and extends them to every pair by the
Lipschitz extension ``Q_h(x, a) = min(H - h, min_{j: a_j = a} [Q~_h(z_j) + L rho(x, x_j)])``. Each
episode costs ``O(H (k H)^2)`` (``n = k H`` samples, an ``n x n`` weight matrix), which is why the
library's learners use the aggregated form (:mod:`rltheory.algorithms.kerns`) — on a finite space
with ``sigma = 0`` and ``L = inf`` the two give the same ``Q`` (``tests/test_kerns.py`` checks it); with
``sigma > 0`` they agree at sampled pairs only up to the values propagated from unsampled ones, where
the aggregated form uses the kernel estimate and the theory the Lipschitz extension. Reconstructed rules
(bonus and clipping as in :mod:`rltheory.algorithms.kerns`); used only by the ``kerns-cost`` figure.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .kerns import kernel_psi

__all__ = ["PointSamples", "pointwise_kerns_plan"]


class PointSamples(NamedTuple):
    """The ``n`` past samples point-based KeRNS plans from, each ``(n,)``."""

    x: np.ndarray  #: state (int)
    a: np.ndarray  #: action (int)
    r: np.ndarray  #: reward
    y: np.ndarray  #: next state (int)
    age: np.ndarray  #: episodes since the sample (``k - s - 1``)


def pointwise_kerns_plan(samples: PointSamples, D, *, H: int, A: int, eta: float, bandwidth: float, beta: float,
                         c1: float, c2: float, lipschitz: float, kernel: str = "gaussian") -> np.ndarray:
    """``Q (H, S, A)`` of point-based KeRNS from ``n`` samples (a :class:`PointSamples`).

    ``D (S, S)`` is the state metric; the other arguments as in :class:`~rltheory.algorithms.kerns.KeRNS`
    (``c1`` is ``bonus_scale``) and ``lipschitz = L``.
    """
    xs, acts, ys = (np.asarray(v, np.int64) for v in (samples.x, samples.a, samples.y))
    rs, ages = np.asarray(samples.r, float), np.asarray(samples.age, float)
    S = D.shape[0]
    W = kernel_psi(kernel, D[np.ix_(xs, xs)], bandwidth) * (acts[:, None] == acts[None, :]) * eta ** ages[None, :]
    C = beta + W.sum(axis=1)
    base = (W @ rs) / C + c1 / np.sqrt(C) + c2 * (1.0 + beta) * H / C
    Q = np.empty((H, S, A))
    V = np.zeros(S)
    for h in range(H - 1, -1, -1):
        qt = base + (W @ V[ys]) / C
        clip = float(H - h)
        for a in range(A):
            m = acts == a
            if m.any():
                ext = (qt[m][None, :] + lipschitz * D[:, xs[m]]).min(axis=1)
                Q[h, :, a] = np.minimum(clip, ext)
            else:
                Q[h, :, a] = clip
        V = Q[h].max(axis=1)
    return Q
