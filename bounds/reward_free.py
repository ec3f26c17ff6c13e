"""Theory constants and bounds of reward-free exploration in linear mixture MDPs.

Paper: J. Zhang, W. Zhang & Q. Gu, "Optimal Horizon-Free Reward-Free Exploration for Linear Mixture
MDPs", ICML 2023 (arXiv 2303.10165). Only the paper's abstract could be retrieved; the constants below are
those of the first author's thesis (W. Zhang, UCLA 2024, ch. 2, which contains the paper as Sec. 2.6;
numbering below is the thesis'): Thm 2.6.3 (HF-UCRL-RFE++), Thm 2.4.3 (UCRL-RFE), Thm 2.5.1 (UCRL-RFE+),
Thm 2.6.8 / Cor. 2.6.10 (lower bound). The abstract agrees: O~(d^2 eps^-2) episodes suffice when the total
reward is at most 1, and Omega(d^2 eps^-2) are necessary.

Our one change: ``tau_k`` contains ``log(gamma^2 / alpha) + 1`` (the number of peeling levels), which is
``<= 0`` when ``H`` is small against ``d`` and would put ``log(0)`` into ``tau_k``; we use
``max(1, log(gamma^2 / alpha) + 1)`` (prototype addendum 5a).
"""

from __future__ import annotations

import math

import numpy as np

from rltheory.errors import InvalidParameterError
from rltheory.validation import check_int, check_real

__all__ = [
    "hf_levels", "hf_alpha", "hf_gamma", "hf_lambda", "hf_beta", "hf_delta",
    "ucrl_rfe_lambda", "ucrl_rfe_beta", "ucrl_rfe_plus_constants",
    "hf_upper_bound", "hf_sample_complexity", "hf_first_nonvacuous_K", "lower_bound_episodes",
    "LOWER_BOUND_CONSTANT",
]

#: The lower bound's absolute constant is not given in closed form (Thm 2.6.8); our placeholder.
LOWER_BOUND_CONSTANT = 1.0


def _checks(d, H, B=None, delta=None):
    d = check_int(d, "d", low=1)
    H = check_int(H, "H", low=1)
    if B is not None:
        B = check_real(B, "B", low=0.0, low_open=True)
    if delta is not None:
        delta = check_real(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
    return d, H, B, delta


def hf_levels(K: int, H: int) -> int:
    """``M = ceil(log(7 K H) / log 2)`` HOME levels (Thm 2.6.3)."""
    K = check_int(K, "K", low=1)
    H = check_int(H, "H", low=1)
    return int(math.ceil(math.log(7 * K * H) / math.log(2)))


def hf_alpha(H: int) -> float:
    """Variance floor ``alpha = H^{-1/2}`` (Thm 2.6.3)."""
    return check_int(H, "H", low=1) ** -0.5


def hf_gamma(d: int) -> float:
    """HOME level ``gamma = d^{-1/4}`` (Thm 2.6.3; not a discount)."""
    return check_int(d, "d", low=1) ** -0.25


def hf_lambda(d: int, B: float) -> float:
    """Ridge ``lambda = d / B^2`` (Thm 2.6.3)."""
    d, _, B, _ = _checks(d, 1, B)
    return d / B ** 2


def hf_delta(delta_total: float, K: int, H: int) -> float:
    """Per-event ``delta = delta' / (4 M)`` so the theorem holds with probability ``1 - delta'``."""
    delta_total = check_real(delta_total, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
    return delta_total / (4 * hf_levels(K, H))


def hf_beta(k, d: int, H: int, B: float, delta: float, K: int | None = None):
    """``beta_k = 12 sqrt(d eta_k tau_k) + 30 tau_k / gamma^2 + sqrt(lambda) B`` (Thm 2.6.3).

    ``eta_k = log(1 + k H / (alpha^2 d lambda))``, ``tau_k = log(32 max(1, log(gamma^2/alpha) + 1) k^2 H^2 /
    delta)`` (our ``max(1, .)``, see the module docstring); ``delta`` is the per-event level (see
    :func:`hf_delta`). ``k`` may be an array. ``K`` is unused (kept for symmetry with the other radii).
    """
    d, H, B, delta = _checks(d, H, B, delta)
    k = np.asarray(k, dtype=np.float64)
    if np.any(k < 1):
        raise InvalidParameterError("k", "episode indices must be >= 1", value=float(np.min(k)))
    alpha, gamma, lam = hf_alpha(H), hf_gamma(d), hf_lambda(d, B)
    eta = np.log1p(k * H / (alpha ** 2 * d * lam))
    levels = max(1.0, math.log(gamma ** 2 / alpha) + 1.0)
    tau = np.log(32 * levels * k ** 2 * H ** 2 / delta)
    beta = 12 * np.sqrt(d * eta * tau) + 30 * tau / gamma ** 2 + math.sqrt(lam) * B
    return float(beta) if beta.ndim == 0 else beta


def ucrl_rfe_lambda(B: float) -> float:
    """``lambda = B^{-2}`` (Thm 2.4.3 and 2.5.1)."""
    return check_real(B, "B", low=0.0, low_open=True) ** -2


def ucrl_rfe_beta(K: int, d: int, H: int, B: float, delta: float) -> float:
    """``beta = H sqrt(d log(3 (1 + K H^3 B^2) / delta)) + 1`` (Thm 2.4.3)."""
    d, H, B, delta = _checks(d, H, B, delta)
    K = check_int(K, "K", low=1)
    return H * math.sqrt(d * math.log(3 * (1 + K * H ** 3 * B ** 2) / delta)) + 1


def ucrl_rfe_plus_constants(K: int, d: int, H: int, B: float, delta: float) -> dict:
    """Thm 2.5.1: ``lambda = B^-2``, ``alpha = H^2 / d``, ``L = log(48 K^2 H^2 / delta)``, and radii

    ``beta_hat = 8 sqrt(d log(1 + K H B^2) L) + 4 sqrt(d) L + 1``,
    ``beta_check = 8 d sqrt(log(1 + K H B^2) L) + 4 sqrt(d) L + 1``,
    ``beta_tilde = 8 H^2 sqrt(d log(1 + K H B^2) L) + 4 H^2 L + 1``,
    ``beta = H sqrt(d log(12 (1 + K H^3 B^2) / delta)) + 1``.
    """
    d, H, B, delta = _checks(d, H, B, delta)
    K = check_int(K, "K", low=1)
    L = math.log(48 * K ** 2 * H ** 2 / delta)
    lg = math.log(1 + K * H * B ** 2)
    return {
        "lam": B ** -2, "alpha": H ** 2 / d, "L": L,
        "beta_hat": 8 * math.sqrt(d * lg * L) + 4 * math.sqrt(d) * L + 1,
        "beta_check": 8 * d * math.sqrt(lg * L) + 4 * math.sqrt(d) * L + 1,
        "beta_tilde": 8 * H ** 2 * math.sqrt(d * lg * L) + 4 * H ** 2 * L + 1,
        "beta": H * math.sqrt(d * math.log(12 * (1 + K * H ** 3 * B ** 2) / delta)) + 1,
    }


def _hf_terms(K, d, H, B, delta_total):
    K = np.asarray(K, dtype=np.float64)
    M = np.array([hf_levels(int(k), H) for k in np.atleast_1d(K)], dtype=np.float64).reshape(K.shape)
    delta = delta_total / (4 * M)
    beta = np.array([hf_beta(int(k), d, H, B, float(dl)) for k, dl in
                     zip(np.atleast_1d(K), np.atleast_1d(delta), strict=True)]).reshape(K.shape)
    alpha, gamma, lam = hf_alpha(H), hf_gamma(d), hf_lambda(d, B)
    iota = np.log1p(K * H / (d * lam * alpha ** 2))
    zeta = 4 * np.log(4 * np.log(K * H) / delta)
    A = (896 * np.maximum(64 * beta ** 2 * d * iota, 2 * zeta) + 24 * zeta + 240 * d * iota
         + 240 * beta * gamma ** 2 * d * iota + 120 * beta * d * iota * np.sqrt(M) + 24 * np.sqrt(zeta * M * d * iota)
         + M * d * iota)
    Bp = (64 * np.maximum(8 * beta * np.sqrt(d * iota), np.sqrt(2 * zeta))
          + 120 * beta * np.sqrt(d * iota) * H * alpha ** 2)
    return A, Bp


def hf_upper_bound(K, d: int, H: int, B: float, delta: float):
    """Explicit gap bound of Thm 2.6.3 (from its proof): ``4 A / K + 4 B' / sqrt(K)``, w.p. ``1 - delta``.

    ``iota = log(1 + K H / (d lambda alpha^2))``, ``zeta = 4 log(4 log(K H) / delta_e)`` with the per-event
    ``delta_e = delta / (4 M)``, ``beta = beta_K``;
    ``A = 896 max(64 beta^2 d iota, 2 zeta) + 24 zeta + 240 d iota + 240 beta gamma^2 d iota
    + 120 beta d iota sqrt(M) + 24 sqrt(zeta M d iota) + M d iota``,
    ``B' = 64 max(8 beta sqrt(d iota), sqrt(2 zeta)) + 120 beta sqrt(d iota) H alpha^2``.
    Vacuous (> 1) until ``K ~ 1e16`` at ``d = 4, H = 20`` (see :func:`hf_first_nonvacuous_K`).
    """
    d, H, B, delta = _checks(d, H, B, delta)
    A, Bp = _hf_terms(K, d, H, B, delta)
    Kf = np.asarray(K, dtype=np.float64)
    out = 4 * A / Kf + 4 * Bp / np.sqrt(Kf)
    return float(out) if out.ndim == 0 else out


def hf_sample_complexity(eps: float, d: int, H: int, B: float, delta: float, K: int) -> float:
    """Episodes making the Thm 2.6.3 bound ``<= eps`` at the radius of budget ``K``:
    ``(16 / eps^2) B'^2 + (8 / eps) A`` (Cor. 2.6.4 in its theorem form)."""
    eps = check_real(eps, "eps", low=0.0, low_open=True)
    d, H, B, delta = _checks(d, H, B, delta)
    A, Bp = _hf_terms(K, d, H, B, delta)
    return float(16 / eps ** 2 * Bp ** 2 + 8 / eps * A)


def hf_first_nonvacuous_K(d: int, H: int, B: float, delta: float, *, K_max: float = 1e22) -> float:
    """Smallest ``K`` (on a grid of 20 points per decade) where :func:`hf_upper_bound` is ``<= 1``."""
    grid = np.logspace(1, math.log10(K_max), int(20 * (math.log10(K_max) - 1)) + 1)
    vals = hf_upper_bound(np.round(grid), d, H, B, delta)
    ok = np.flatnonzero(vals <= 1.0)
    return float(grid[ok[0]]) if ok.size else math.inf


def lower_bound_episodes(eps, d: int, H: int = 1, *, per_step_rewards: bool = False):
    """``C d^2 / eps^2`` (Thm 2.6.8; ``C H^2 d^2 / eps^2`` for per-step rewards, Cor. 2.6.10).

    ``C`` is an unspecified absolute constant (:data:`LOWER_BOUND_CONSTANT`, a placeholder of 1).
    """
    d = check_int(d, "d", low=1)
    H = check_int(H, "H", low=1)
    eps = np.asarray(eps, dtype=np.float64)
    out = LOWER_BOUND_CONSTANT * d ** 2 / eps ** 2 * (H ** 2 if per_step_rewards else 1)
    return float(out) if out.ndim == 0 else out
