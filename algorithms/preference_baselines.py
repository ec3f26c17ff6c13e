"""The baselines Nash-MP is compared with: MMD, online mirror descent (online IPO), Nash-MD and EGPO.

Each is one update rule, written as a compiled step (:func:`~rltheory.algorithms.preference_dynamics.step_kernel`)
and its NumPy twin; the run skeleton, metrics and iteration driver are shared
(:mod:`rltheory.algorithms.preference_dynamics`). ``x_t = log pi_t``; one *query* = one evaluation
of ``P pi``; ``a = eta beta``; ``+ c`` means "then renormalise".

* :class:`MagneticMirrorDescent` (Sokota et al., ICLR 2023), 1 query: ``pi_{t+1} =
  Prox(pi_t, P pi_t; eta)`` with magnet ``rho`` — Nash-MP's extrapolation step alone
  (:func:`rltheory.kernels.mirror.kl_prox`).
* :class:`OnlineMirrorDescent` (online IPO), 1 query: ``log pi_{t+1} = (1 - a) log pi_t + a log rho
  + eta P pi_t + c`` — mirror descent on ``J_beta`` with the KL term linearised.
* :class:`NashMD` (Munos et al., "Nash Learning from Human Feedback", ICML 2024,
  arXiv:2312.00886), 1 query: ``log mu_t = (1 - a_t) log pi_t + a_t log rho + c``;
  ``log pi_{t+1} = log mu_t + eta_t P mu_t + c``.
* :class:`ExtragradientPO` (EGPO, arXiv:2503.08942), 2 queries: extragradient in logit space on
  the tabular IPO-style loss ``sum_{y,y'} [d(y) - d(y')]^2 / n^2``, ``d = log(pi/rho) - P pi / beta``
  (``P pi`` held fixed): ``x_{t+1/2} = x_t - a d(x_t) + c``, ``x_{t+1} = x_t - a d(x_{t+1/2}) + c``.

Differences from the spec (``shared/specs/nash_mp.md``)
-------------------------------------------------------
* The spec gives OMD and MMD the same prox form (A2.4). Both are asked for, so
  :class:`MagneticMirrorDescent` is that prox form and :class:`OnlineMirrorDescent` is the
  explicit (linearised) step above. Derivation of the online-IPO link: for tabular logits and
  ``y, y' ~ pi_t`` (stop-gradient), the online-IPO loss ``E[(h(y, y') - (P[y, y'] - 1/2) / beta)^2]``,
  ``h = log(pi/rho)(y) - log(pi/rho)(y')``, has gradient ``4 pi (d - E_pi d)`` with
  ``d = log(pi/rho) - P pi / beta``; the natural gradient drops the factor ``pi`` and a step
  ``eta beta`` of it is the OMD update above.
* Nash-MD's default step is the schedule ``eta_t = 2 / (beta (t + 2))`` of Munos et al.'s
  Theorem 1 (as recalled; the spec quotes the same), for which ``KL_T <= 8 / (beta^2 (T + 1))``.

Step-size defaults (reconstructed): MMD and OMD ``eta = min(4 beta, 1/beta)`` (``beta / L^2`` with
``L = 1/2`` is the largest step of Sokota et al.'s linear-rate theorem as recalled, not checked
against its text; ``eta beta <= 1`` keeps OMD's mixture weights non-negative); EGPO
``eta = min(1, 1/beta)``. Figures and the notebook tune baselines' ``eta`` on a grid rather than
rely on these.
"""

from __future__ import annotations

import numpy as np

from rltheory.algorithm import register_algorithm
from rltheory.backend import get_namespace
from rltheory.kernels.mirror import exp_one, kl_prox, kl_prox_one, log_normalize, matvec_t_one, normalize_one
from rltheory.validation import check_real

from .preference_dynamics import (
    PREFERENCE_LIPSCHITZ,
    PreferenceDynamics,
    check_beta,
    check_mixture_step,
    keyword_only_hyperparameters,
    matvec,
    step_kernel,
)

__all__ = ["MagneticMirrorDescent", "OnlineMirrorDescent", "NashMD", "ExtragradientPO", "MMD_STEP_FACTOR"]

#: Default baseline step factor ``1 / L^2 = 4``: MMD's ``eta = 4 beta`` (Sokota et al. 2023, recalled).
MMD_STEP_FACTOR = 1.0 / PREFERENCE_LIPSCHITZ ** 2


def _default_mirror_step(beta: float) -> float:
    """``min(4 beta, 1 / beta)`` (module docstring; reconstructed)."""
    return min(MMD_STEP_FACTOR * beta, 1.0 / beta)


# ---------------------------------------------------------------------------- magnetic mirror descent


@step_kernel
def mmd_step(PT, log_rho, x, g, beta, eta, pi, h):
    """``x <- log Prox(pi_t, P pi_t; eta)`` (``g = P pi_t`` on entry)."""
    kl_prox_one(x, g, log_rho, beta, eta, x)


def mmd_step_reference(P, log_rho, x, g, beta, eta):
    """Twin of :func:`mmd_step`, ``x (R, n)``."""
    return kl_prox(x, g, log_rho, beta, eta)


@register_algorithm
class MagneticMirrorDescent(PreferenceDynamics):
    """Magnetic mirror descent (Sokota et al., ICLR 2023) with magnet ``rho``: ``pi_{t+1} = Prox(pi_t, P pi_t; eta)``.

    One query per iteration. ``eta=None`` means ``min(4 beta, 1/beta)`` (``beta / L^2``, the
    largest step of the linear-rate theorem as recalled; reconstructed default). Any ``eta > 0``
    is accepted: the iteration is well defined, only the rate is not guaranteed.
    """

    _step = staticmethod(mmd_step)
    _step_reference = staticmethod(mmd_step_reference)

    @keyword_only_hyperparameters
    def __init__(self, *, beta: float = 0.1, eta: float | None = None):
        self.beta = check_beta(beta)
        self.eta = None if eta is None else check_real(eta, "eta", low=0.0, low_open=True)

    def _step_sizes(self, iterations):
        eta = _default_mirror_step(self.beta) if self.eta is None else self.eta
        return np.full(iterations, float(eta))


# ---------------------------------------------------------------------------- online mirror descent / online IPO


@step_kernel
def omd_step(PT, log_rho, x, g, beta, eta, pi, h):
    """``x <- (1 - a) x + a log rho + eta P pi_t + c``, ``a = eta beta``."""
    a = eta * beta
    for i in range(x.shape[0]):
        x[i] = (1.0 - a) * x[i] + a * log_rho[i] + eta * g[i]
    normalize_one(x)


def omd_step_reference(P, log_rho, x, g, beta, eta):
    """Twin of :func:`omd_step`, ``x (R, n)``."""
    a = eta * beta
    return log_normalize((1.0 - a) * x + a * log_rho + eta * g)


@register_algorithm
class OnlineMirrorDescent(PreferenceDynamics):
    """Online mirror descent / online IPO: ``log pi_{t+1} = (1 - eta beta) log pi_t + eta beta log rho + eta P pi_t``.

    One query per iteration; ``eta beta <= 1`` is required. It is the natural-gradient step of the
    tabular online-IPO loss (module docstring). ``eta=None`` means ``min(4 beta, 1/beta)``
    (reconstructed default).
    """

    _step = staticmethod(omd_step)
    _step_reference = staticmethod(omd_step_reference)

    @keyword_only_hyperparameters
    def __init__(self, *, beta: float = 0.1, eta: float | None = None):
        self.beta = check_beta(beta)
        self.eta = None if eta is None else check_mixture_step(eta, self.beta, "OnlineMirrorDescent")

    def _step_sizes(self, iterations):
        eta = _default_mirror_step(self.beta) if self.eta is None else self.eta
        return np.full(iterations, float(eta))


# ---------------------------------------------------------------------------- Nash-MD


@step_kernel
def nash_md_step(PT, log_rho, x, g, beta, eta, pi, h):
    """Geometric mixture ``log mu = (1 - a) x + a log rho + c``, then ``x <- log mu + eta P mu + c``."""
    a = eta * beta
    for i in range(x.shape[0]):
        h[i] = (1.0 - a) * x[i] + a * log_rho[i]
    normalize_one(h)
    exp_one(h, pi)
    matvec_t_one(PT, pi, g)
    for i in range(x.shape[0]):
        x[i] = h[i] + eta * g[i]
    normalize_one(x)


def nash_md_step_reference(P, log_rho, x, g, beta, eta):
    """Twin of :func:`nash_md_step`, ``x (R, n)``."""
    xp = get_namespace(P, x)
    a = eta * beta
    m = log_normalize((1.0 - a) * x + a * log_rho)
    return log_normalize(m + eta * matvec(P, xp.exp(m), xp))


@register_algorithm
class NashMD(PreferenceDynamics):
    """Nash-MD (Munos et al., "Nash Learning from Human Feedback", ICML 2024, arXiv:2312.00886).

    ``log mu_t = (1 - eta_t beta) log pi_t + eta_t beta log rho + c`` (geometric mixture), then
    ``log pi_{t+1} = log mu_t + eta_t P mu_t + c``: one query per iteration. ``eta=None`` (default)
    is the schedule ``eta_t = 2 / (beta (t + 2))`` of their Theorem 1 (recalled; the spec quotes
    the same), with ``KL(pi* || pi_T) <= 8 / (beta^2 (T + 1))``; a float is a constant step with
    ``eta beta <= 1``.
    """

    _step = staticmethod(nash_md_step)
    _step_reference = staticmethod(nash_md_step_reference)

    @keyword_only_hyperparameters
    def __init__(self, *, beta: float = 0.1, eta: float | None = None):
        self.beta = check_beta(beta)
        self.eta = None if eta is None else check_mixture_step(eta, self.beta, "NashMD")

    def _step_sizes(self, iterations):
        if self.eta is None:
            return 2.0 / (self.beta * (np.arange(iterations) + 2.0))
        return np.full(iterations, float(self.eta))


# ---------------------------------------------------------------------------- EGPO


@step_kernel
def egpo_step(PT, log_rho, x, g, beta, eta, pi, h):
    """Extragradient on logits: ``h = x - a d(x) + c``, ``x <- x - a d(h) + c``, ``d = x - log rho - P pi / beta``."""
    a = eta * beta
    n = x.shape[0]
    for i in range(n):
        h[i] = x[i] - a * (x[i] - log_rho[i] - g[i] / beta)
    normalize_one(h)
    exp_one(h, pi)
    matvec_t_one(PT, pi, g)
    for i in range(n):
        x[i] = x[i] - a * (h[i] - log_rho[i] - g[i] / beta)
    normalize_one(x)


def egpo_step_reference(P, log_rho, x, g, beta, eta):
    """Twin of :func:`egpo_step`, ``x (R, n)``."""
    xp = get_namespace(P, x)
    a = eta * beta
    h = log_normalize(x - a * (x - log_rho - g / beta))
    g2 = matvec(P, xp.exp(h), xp)
    return log_normalize(x - a * (h - log_rho - g2 / beta))


@register_algorithm
class ExtragradientPO(PreferenceDynamics):
    """Extragradient preference optimisation (EGPO, arXiv:2503.08942), exact tabular version.

    Extragradient in logit space on the IPO-style loss (module docstring) with logit step
    ``eta beta`` (``eta beta <= 1``): 2 queries per iteration. ``eta=None`` means ``min(1, 1/beta)``
    (reconstructed default).
    """

    queries_per_iteration = 2
    _step = staticmethod(egpo_step)
    _step_reference = staticmethod(egpo_step_reference)

    @keyword_only_hyperparameters
    def __init__(self, *, beta: float = 0.1, eta: float | None = None):
        self.beta = check_beta(beta)
        self.eta = None if eta is None else check_mixture_step(eta, self.beta, "ExtragradientPO")

    def _step_sizes(self, iterations):
        eta = min(1.0, 1.0 / self.beta) if self.eta is None else self.eta
        return np.full(iterations, float(eta))
