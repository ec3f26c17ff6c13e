"""Regret rates of KeRNS (Domingues et al., AISTATS 2021) and its memory tuning rule — reconstructed.

The paper's theorem could not be read (only its abstract: the bound "scales with the covering
dimension of the state-action space and the total variation of the MDP"). The exponents below are
the project digest's reconstruction (``kerns.md`` B3, addendum §4.11); all constants are
**reconstructed** or calibrated, and figures fit a constant rather than plot these absolutely.

* Tabular (finite state-action space, covering dimension 0): ``R(K) ~ Delta^(1/3) K^(2/3)`` with a
  memory (window or ``1 / (1 - eta)``) ``W ~ (K / Delta)^(2/3)``.
* General covering dimension ``d > 0``: ``R(K) ~ Delta^(1/(2d+2)) K^((2d+1)/(2d+2))``, from balancing
  ``(K / W) sigma^(-2d)`` (Kernel-UCBVI per window), ``K sigma`` (kernel bias) and ``W Delta`` (drift):
  ``sigma = W^(-1/(2d+1))``, ``W = (K / Delta)^((2d+1)/(2d+2))``. At ``d = 0`` it would give ``K^(1/2)``,
  which is why the tabular rate is stated separately.
"""

from __future__ import annotations

import numpy as np

from rltheory.errors import InvalidParameterError
from rltheory.validation import check_real

__all__ = ["regret_rate_tabular", "regret_rate_general", "memory_rule", "eta_from_memory",
           "CALIBRATED_MEMORY_CONSTANT"]

#: Constant of :func:`memory_rule` calibrated on the prototype's piecewise grid (addendum §3, §4.11):
#: the best memory there was ~200 episodes at K = 3000, Delta = 80, where (K / Delta)^(2/3) = 11.2.
CALIBRATED_MEMORY_CONSTANT = 18.0


def _positive(x, name):
    arr = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise InvalidParameterError(name, f"must be positive and finite, got {x!r}", value=x)
    return arr


def regret_rate_tabular(K, delta_tv, constant: float = 1.0):
    """``constant * Delta^(1/3) * K^(2/3)`` (reconstructed tabular rate; ``K``, ``Delta`` may be arrays)."""
    K, D = _positive(K, "K"), _positive(delta_tv, "delta_tv")
    return check_real(constant, "constant", low=0.0) * D ** (1 / 3) * K ** (2 / 3)


def regret_rate_general(K, delta_tv, d: float, constant: float = 1.0):
    """``constant * Delta^(1/(2d+2)) * K^((2d+1)/(2d+2))`` for covering dimension ``d > 0`` (reconstructed)."""
    d = check_real(d, "d", low=0.0, low_open=True)
    K, D = _positive(K, "K"), _positive(delta_tv, "delta_tv")
    return check_real(constant, "constant", low=0.0) * D ** (1 / (2 * d + 2)) * K ** ((2 * d + 1) / (2 * d + 2))


def memory_rule(K, delta_tv, constant: float = CALIBRATED_MEMORY_CONSTANT):
    """Tabular memory ``W = constant * (K / Delta)^(2/3)`` episodes (window, or ``1 / (1 - eta)``)."""
    K, D = _positive(K, "K"), _positive(delta_tv, "delta_tv")
    return check_real(constant, "constant", low=0.0, low_open=True) * (K / D) ** (2 / 3)


def eta_from_memory(W):
    """``eta = 1 - 1 / W`` (memory ``1 / (1 - eta) = W`` episodes; ``W >= 1``)."""
    W = _positive(W, "W")
    if np.any(W < 1):
        raise InvalidParameterError("W", f"must be >= 1, got {W!r}", value=float(np.min(W)))
    return 1.0 - 1.0 / W
