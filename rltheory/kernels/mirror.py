"""Mirror steps on the probability simplex in log space: the KL prox, and its compiled building blocks.

A policy over ``n`` responses is kept as normalised log-probabilities ``x = log pi`` ``(..., n)``.
The one prox step of the library (used by the preference-game solver
:func:`rltheory.game_planning.regularized_nash` and by every preference-game learner in
``rltheory.algorithms``) is the KL-regularised mirror step with a magnet ``rho``::

    Prox(pi, g; eta) = argmax_q eta [<q, g> - beta KL(q || rho)] - KL(q || pi)
                     = softmax((eta g + eta beta log rho + log pi) / (1 + eta beta))

(the first-order condition of a strictly concave problem on the simplex; ``beta = 0`` is the plain
entropic mirror-ascent step). It is generic: mirror prox, magnetic mirror descent and the exact
equilibrium solver all apply it with different payoff vectors ``g``.

Twins. :func:`log_normalize` and :func:`kl_prox` are array functions against the inputs' namespace
(NumPy, or CuPy); :func:`kl_prox_one` and :func:`normalize_one` are their compiled single-vector
versions for use inside an algorithm's fused loop. Both normalise with the same *sequential* sum
(``cumsum`` in the array version); the compiled prox multiplies by ``1 / (1 + eta beta)`` where the
array version divides, so the two agree to rounding (tests: 1e-12), not bit for bit.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..backend import get_namespace

__all__ = ["logsumexp_last", "log_normalize", "kl_prox", "kl_prox_logits", "normalize_one", "exp_one", "matvec_t_one",
           "kl_prox_one"]


def logsumexp_last(z, xp):
    """``logsumexp`` over the last axis, keepdims, in namespace ``xp`` (sequential sum, as the compiled kernels)."""
    m = xp.max(z, axis=-1, keepdims=True)
    return m + xp.log(xp.cumsum(xp.exp(z - m), axis=-1)[..., -1:])


def log_normalize(z):
    """``z - logsumexp(z)`` over the last axis: logits to normalised log-probabilities (same shape)."""
    xp = get_namespace(z)
    return z - logsumexp_last(z, xp)


def kl_prox_logits(log_base, g, log_rho, beta: float, eta: float):
    """The prox step before normalisation: ``(eta g + eta beta log rho + log pi) / (1 + eta beta)``, ``(..., n)``.

    ``log Prox(pi, g; eta)`` is this minus its ``logsumexp``; callers that normalise with their own
    summation order (:func:`rltheory.game_planning.regularized_nash`) use it directly.
    """
    return (eta * g + (eta * beta) * log_rho + log_base) / (1.0 + eta * beta)


def kl_prox(log_base, g, log_rho, beta: float, eta: float):
    """The KL prox step in log space, shapes ``(..., n)`` (broadcasting)::

        Prox(pi, g; eta) = argmax_q eta [<q, g> - beta KL(q || rho)] - KL(q || pi)
                         = softmax((eta g + eta beta log rho + log pi) / (1 + eta beta))

    ``log_base = log pi``, ``g`` the payoff vector (e.g. ``P pi'``), ``log_rho = log rho``.
    Returns the normalised ``log Prox``. Compiled twin: :func:`kl_prox_one`.
    """
    return log_normalize(kl_prox_logits(log_base, g, log_rho, beta, eta))


# ---------------------------------------------------------------------------- compiled building blocks


@nb.njit(cache=True)
def normalize_one(z):
    """In place: ``z -= logsumexp(z)`` for ``z (n,)`` (sequential sum)."""
    m = z[0]
    for i in range(1, z.shape[0]):
        if z[i] > m:
            m = z[i]
    s = 0.0
    for i in range(z.shape[0]):
        s += np.exp(z[i] - m)
    c = m + np.log(s)
    for i in range(z.shape[0]):
        z[i] -= c


@nb.njit(cache=True)
def exp_one(x, out):
    """``out = exp(x)`` for ``x, out (n,)``."""
    for i in range(x.shape[0]):
        out[i] = np.exp(x[i])


@nb.njit(cache=True)
def matvec_t_one(PT, v, out):
    """``out = P v`` from ``PT = P^T`` ``(n, n)`` (C-contiguous).

    Column-axpy form: the inner loop over ``i`` is contiguous with independent accumulators, so it
    vectorises without reassociating sums (the result equals the sequential ``sum_j P[i, j] v[j]``).
    """
    n = v.shape[0]
    for i in range(n):
        out[i] = 0.0
    for j in range(n):
        vj = v[j]
        row = PT[j]
        for i in range(n):
            out[i] += row[i] * vj


@nb.njit(cache=True)
def kl_prox_one(x, g, log_rho, beta, eta, out):
    """``out = log Prox(exp(x), g; eta)`` for vectors ``(n,)`` (``out`` may alias ``x``); twin of :func:`kl_prox`."""
    c = 1.0 / (1.0 + eta * beta)
    for i in range(x.shape[0]):
        out[i] = (eta * g[i] + eta * beta * log_rho[i] + x[i]) * c
    normalize_one(out)
