"""Convergence bounds of Nash Mirror Prox (Tiapkin et al. 2025, arXiv:2505.19731v1) and of its baselines.

Functions of the number of preference queries ``N`` (Nash-MP spends 2 per iteration, so
``t = N / 2`` iterations) are vectorised over ``N`` and return float arrays.

Provenance. Only the abstract of v1 was readable: it states that ``KL(pi*_beta || pi_t)``
decreases "at a rate of order ``(1 + 2 beta)^(-N/2)``", and that the exploitability gap and the
span semi-norm of log-probabilities converge linearly, all independently of the number of
responses ``n``; a secondary summary adds that the rates "scale as ``(1 + 2 beta)^(-N/2) / beta``".
The constants below are therefore **reconstructed**:

* :func:`kl_upper` — ``(1 + eta beta)^(-N/2) KL(pi* || pi_0)``, i.e. per-iteration contraction
  ``1 / (1 + eta beta)`` for ``0 < eta <= 2`` (composite mirror prox with a 1/2-Lipschitz
  operator and a ``beta``-strongly monotone regulariser, constant 1 on ``KL_0``). The tests check
  it on every iterate of random games (n from 2 to 50, beta from 0.01 to 1), and that it fails at
  the inadmissible step ``eta = 4``.
* :func:`span_upper` — derived here from the KL bound (so as reliable as it), for ``eta <= 2``:

  1. the extrapolation point is not far from ``pi*``: the three-point inequality of the prox,
     the ``beta``-strong concavity at ``pi*`` and ``|a^T P b| <= ||a||_1 ||b||_1 / 2`` (``sum a =
     sum b = 0``) give ``KL(pi* || pi_{t+1/2}) <= c_h KL(pi* || pi_t)``,
     ``c_h = (1 + eta/2) / (1 + eta beta - eta/2)``;
  2. ``log pi_{t+1} - log pi* = (log pi_t - log pi* + eta P (pi_{t+1/2} - pi*)) / (1 + eta beta) + c``
     and ``span(P v) <= ||v||_1``, so ``s_{t+1} <= (s_t + eta sqrt(2 c_h KL_t)) / (1 + eta beta)``
     (Pinsker);
  3. unrolled with ``KL_t <= q^t KL_0``, ``q = 1 / (1 + eta beta)``::

         s_t <= q^t s_0 + eta sqrt(2 c_h KL_0) (q^(t/2) - q^t) / (q^(-1/2) - 1)

  a linear rate ``q^(t/2) = (1 + eta beta)^(-N/4)``, independent of ``n`` (the abstract's
  "uniformly for the span semi-norm"; its constant is not known). The spec's empirical envelope
  ``12.5 sqrt(q^t KL_0)`` is *not* used: our tests found it violated at ``t = 0`` (``n = 2``,
  small ``beta``, where ``pi*`` is nearly a point mass).
* :func:`exploitability_upper` — derived here: for every ``pi`` (Hoeffding's lemma on
  ``P(pi - pi*)``, whose range is at most ``||pi - pi*||_1``, then Pinsker)::

      exploitability(pi) <= KL(pi* || pi) / (4 beta) + beta KL(pi || pi*)

  (:func:`exploitability_pointwise_upper`), and ``KL(pi || pi*) <= min(s, (e^s - 1)^2)`` for
  ``s = span(log pi - log pi*)`` (the log-ratio takes both signs; ``KL <= chi^2``); with the two
  bounds above this is linear, ``~ q^t`` once ``s_t`` is small. The abstract's
  ``(1 + 2 beta)^(-N/2) / beta`` scaling (secondary summary) is the shape; our ``1/beta^2``
  asymptotic constant is looser. The spec's guess ``KL_0 q^t / beta`` was found violated at
  ``t = 0`` for ``beta`` near 1 by our tests.
* :func:`kl_upper_inexact` — approximate Nash-MP: from the exact step's contraction,
  ``KL_{t+1} <= KL_t / (1 + eta beta) + delta_{t+1}`` where ``delta_{t+1}`` is the excess KL of the
  inexact step (the ``inexactness`` trace array); unrolled. A consequence of the exact-step bound,
  not the paper's statement (which links the approximation error to the remaining
  suboptimality, constants unknown).

Arguments (keyword-capable, the paper's names): ``N`` preference queries (whole, ``>= 0``), ``t``
iterations (``>= 0``), ``beta > 0`` the regularisation, ``eta > 0`` the step size (``0 < eta <= 2`` where a
bound is derived for the admissible step only: :func:`extrapolation_kl_factor`, :func:`span_upper`,
:func:`exploitability_upper`), ``kl0 = KL(pi* || pi_0) >= 0`` and ``span0 >= 0`` (KL values computed in
floating point may be :data:`KL_ATOL` below 0), ``T`` Nash-MD iterations (whole, ``>= 0``). Bad input
raises :class:`~rltheory.errors.InvalidParameterError` naming the argument.

Baselines (as recalled; not checked against their texts): Nash-MD (Munos et al. 2024, Thm. 1)
``KL_T <= 8 / (beta^2 (T + 1))`` for ``eta_t = 2 / (beta (t + 2))``, from the one-step recursion
``KL_{t+1} <= (1 - eta_t beta) KL_t + 2 eta_t^2``; magnetic mirror descent (Sokota et al. 2023)
``(1 + eta beta)^(-N) KL_0`` for ``eta <= beta / L^2 = 4 beta``.
"""

from __future__ import annotations

import numpy as np

from rltheory.errors import InvalidDataError, InvalidParameterError
from rltheory.validation import check_broadcast, check_real, check_real_array

__all__ = [
    "QUERIES_PER_ITERATION",
    "contraction",
    "rate_per_query",
    "kl_upper",
    "kl_upper_iterations",
    "exploitability_upper",
    "exploitability_pointwise_upper",
    "span_upper",
    "extrapolation_kl_factor",
    "exploitability_pointwise_upper",
    "kl_upper_inexact",
    "nash_md_kl_upper",
    "nash_md_recursion",
    "mmd_kl_upper",
]

#: Queries (evaluations of ``P pi``) per Nash-MP iteration.
QUERIES_PER_ITERATION = 2
#: Float noise tolerated below 0 in KL divergences and spans passed in (computed values).
KL_ATOL = 1e-12


def _beta(beta):
    return check_real_array(beta, "beta", low=0.0, low_open=True)


def _eta(eta, admissible=False):
    return check_real_array(eta, "eta", low=0.0, high=2.0 if admissible else None, low_open=True)


def _nonneg(x, name):
    return check_real_array(x, name, low=-KL_ATOL)


def _count(x, name, integer=True):
    return check_real_array(x, name, low=0.0, integer=integer)


def contraction(beta, eta=2.0):
    """Per-iteration KL contraction factor ``1 / (1 + eta beta)`` of exact Nash-MP (``eta <= 2``)."""
    eta, beta = _eta(eta, admissible=True), _beta(beta)
    check_broadcast({"beta": beta, "eta": eta})
    return 1.0 / (1.0 + eta * beta)


def rate_per_query(beta, eta=2.0):
    """Per-query factor ``(1 + eta beta)^(-1/2)`` (``(1 + 2 beta)^(-1/2)`` at ``eta = 2``)."""
    return contraction(beta, eta) ** 0.5


def kl_upper_iterations(t, beta, kl0, eta=2.0):
    """``KL(pi* || pi_t) <= (1 + eta beta)^(-t) KL(pi* || pi_0)`` after ``t`` Nash-MP iterations."""
    kl0, t, q = _nonneg(kl0, "kl0"), _count(t, "t", integer=False), contraction(beta, eta)
    check_broadcast({"t": t, "beta/eta": q, "kl0": kl0})
    return kl0 * q ** t


def kl_upper(N, beta, kl0, eta=2.0):
    """KL rate after ``N`` queries: ``(1 + eta beta)^(-N/2) KL_0`` (the abstract's ``(1 + 2 beta)^(-N/2)``, eta = 2)."""
    return kl_upper_iterations(_count(N, "N") / QUERIES_PER_ITERATION, beta, kl0, eta)


def extrapolation_kl_factor(beta, eta=2.0):
    """``c_h = (1 + eta/2) / (1 + eta beta - eta/2)``, ``eta <= 2``: ``KL(pi* || pi_{t+1/2}) <= c_h KL(pi* || pi_t)``.
    """
    beta, eta = _beta(beta), _eta(eta, admissible=True)
    check_broadcast({"beta": beta, "eta": eta})
    return (1.0 + eta / 2.0) / (1.0 + eta * beta - eta / 2.0)


def span_upper(N, beta, kl0, span0, eta=2.0):
    """``||log pi_t - log pi*||_span <= q^t s_0 + eta sqrt(2 c_h KL_0) (q^(t/2) - q^t) / (q^(-1/2) - 1)``, ``t = N/2``.

    Derived from :func:`kl_upper` (module docstring); ``span0 = s_0`` is the initial span.
    """
    t = _count(N, "N") / QUERIES_PER_ITERATION
    q = contraction(beta, eta)
    c_h = extrapolation_kl_factor(beta, eta)
    kl0 = np.maximum(_nonneg(kl0, "kl0"), 0.0)
    span0 = _nonneg(span0, "span0")
    check_broadcast({"N": t, "beta/eta": q, "kl0": kl0, "span0": span0})
    return q ** t * span0 + _eta(eta) * np.sqrt(2.0 * c_h * kl0) * (q ** (t / 2) - q ** t) / (q ** -0.5 - 1)


def exploitability_pointwise_upper(kl_forward, kl_reverse, beta):
    """``exploitability(pi) <= KL(pi* || pi) / (4 beta) + beta KL(pi || pi*)`` for every ``pi`` (module docstring)."""
    beta, kl_forward, kl_reverse = _beta(beta), _nonneg(kl_forward, "kl_forward"), _nonneg(kl_reverse, "kl_reverse")
    check_broadcast({"kl_forward": kl_forward, "kl_reverse": kl_reverse, "beta": beta})
    return kl_forward / (4.0 * beta) + beta * kl_reverse


def exploitability_upper(N, beta, kl0, span0, eta=2.0):
    """``exploitability(pi_t) <= KL_t / (4 beta) + beta min(S_t, (e^(S_t) - 1)^2)`` with the bounds
    ``KL_t`` of :func:`kl_upper` and ``S_t`` of :func:`span_upper` (module docstring)."""
    S = span_upper(N, beta, kl0, span0, eta)
    with np.errstate(over="ignore"):
        reverse = np.minimum(S, np.expm1(S) ** 2)
    return exploitability_pointwise_upper(kl_upper(N, beta, kl0, eta), reverse, beta)


def kl_upper_inexact(kl0, beta, eta, inexactness):
    """Unrolled ``b_{t+1} = b_t / (1 + eta beta) + delta_{t+1}``, ``b_0 = KL_0``, over the last axis.

    ``kl0`` ``(...)``, ``inexactness`` ``(..., T + 1)`` (the approximate run's array; entry 0
    unused). Returns ``(..., T + 1)``: a bound on ``KL(pi* || pi_t)`` of approximate Nash-MP.
    """
    delta = check_real_array(inexactness, "inexactness", error=InvalidDataError)
    if delta.ndim < 1 or delta.shape[-1] < 1:
        raise InvalidDataError("inexactness", f"must have a last axis of T + 1 >= 1 entries, got shape {delta.shape}",
                               value=delta.shape)
    kl0 = _nonneg(kl0, "kl0")
    try:
        kl0 = np.broadcast_to(kl0, delta.shape[:-1])
    except ValueError:
        raise InvalidDataError("kl0", f"must broadcast to inexactness.shape[:-1] = {delta.shape[:-1]}, got "
                               f"{kl0.shape}", value=kl0.shape) from None
    q = contraction(beta, eta)
    try:
        fits = np.broadcast_shapes(q.shape, delta.shape[:-1]) == delta.shape[:-1]
    except ValueError:
        fits = False
    if not fits:
        raise InvalidParameterError("beta", f"beta and eta (shape {q.shape}) must broadcast to inexactness.shape[:-1]"
                                    f" = {delta.shape[:-1]}", value=q.shape)
    out = np.empty_like(delta)
    out[..., 0] = kl0
    for t in range(1, delta.shape[-1]):
        out[..., t] = out[..., t - 1] * q + delta[..., t]
    return out


def nash_md_kl_upper(T, beta):
    """Nash-MD with ``eta_t = 2 / (beta (t + 2))``: ``KL(pi* || pi_T) <= 8 / (beta^2 (T + 1))`` (recalled)."""
    beta, T = _beta(beta), _count(T, "T")
    check_broadcast({"T": T, "beta": beta})
    return 8.0 / (beta ** 2 * (T + 1.0))


def nash_md_recursion(kl0, beta, etas):
    """Unrolled ``b_{t+1} = (1 - eta_t beta) b_t + 2 eta_t^2``, ``b_0 = KL_0``: ``(T + 1,)`` for ``etas`` ``(T,)``."""
    etas = check_real_array(etas, "etas", low=0.0, low_open=True)
    if etas.ndim != 1:
        raise InvalidDataError("etas", f"must be 1-d (one step size per iteration), got shape {etas.shape}",
                               value=etas.shape)
    beta = check_real(beta, "beta", low=0.0, low_open=True)
    kl0 = check_real(kl0, "kl0", low=-KL_ATOL)
    out = np.empty(etas.size + 1)
    out[0] = kl0
    for t, e in enumerate(etas):
        out[t + 1] = (1.0 - e * beta) * out[t] + 2.0 * e * e
    return out


def mmd_kl_upper(N, beta, kl0, eta):
    """Magnetic mirror descent (one query per step, ``eta <= 4 beta``): ``(1 + eta beta)^(-N) KL_0`` (recalled)."""
    kl0, N, q = _nonneg(kl0, "kl0"), _count(N, "N"), contraction(beta, eta)
    check_broadcast({"N": N, "beta/eta": q, "kl0": kl0})
    return kl0 * q ** N
