"""Bounds of StepMix / EpsMix (Li, Huang, Shen & Yang, ICML 2023, arXiv:2306.06265).

Provenance. Only the abstract could be read: "StepMix achieves near-optimal regret order as in the
constraint-free setting" and "EpsMix ... achieve[s] the same performance". The theorem's shape below
is the StepMix spec's reconstruction (§A3, T2-T3); **its constants are unknown** and are named
constants here (:data:`UNKNOWN_C1`, :data:`UNKNOWN_C2`, set to 1), never fitted silently.
:func:`fit_leading_constant` fits the leading constant *explicitly* for plots that say so.

* T2 (StepMix), T3 (EpsMix), reconstructed: with probability ``>= 1 - delta``::

      Reg(K) <= C1 sqrt(H^3 S A K iota) + C2 poly(H, S, A) iota Delta_b / (alpha V^b (alpha V^b + Delta_b))

  with ``iota = ln(S A H K / delta)`` and ``Delta_b = V* - V^b``. The first term is the
  constraint-free minimax order for stage-dependent transitions (Domingues et al. 2021); the
  second, ``K``-independent apart from logarithms, has the conservative-bandit shape the spec
  guesses; its polynomial, :data:`LOWER_ORDER_POLY` ``= H^3 S^2 A``, is a placeholder.
* The *provable* per-episode cap (spec rule R5): on the safety event every deployed policy earns
  at least ``(1 - alpha) V^b``, so ``Reg(K) <= K (Delta_b + alpha V^b)``
  (:func:`regret_safe_cap`); it holds for any algorithm satisfying the episode-wise constraint.
* The safe floor (spec §A2.1, rule R2): ``rho_min = 1 - (1 - alpha)^{1/H}``, the largest mixing
  coefficient that ``V^{pi^rho} >= (1 - rho)^H V^b`` alone certifies (:func:`safe_floor`).

Arguments use the paper's names and may be passed by keyword (``S``, ``A``, ``H``, ``K`` whole numbers
``>= 1``; ``delta`` and ``alpha`` in ``(0, 1)``; ``v_b > 0`` the baseline's value ``V^b``; ``gap = V* - V^b
>= 0``); anything else raises :class:`~rltheory.errors.InvalidParameterError` naming the argument.
Vectorised over ``K``. ``T = K H`` (steps) does not appear: the reconstructed theorem is stated in ``K``.
"""

from __future__ import annotations

import numpy as np

from rltheory.errors import InvalidDataError, InvalidParameterError
from rltheory.validation import check_broadcast, check_int, check_real, check_real_array

__all__ = [
    "UNKNOWN_C1",
    "UNKNOWN_C2",
    "LOWER_ORDER_POLY",
    "log_term",
    "safe_floor",
    "leading_term",
    "regret_upper",
    "regret_safe_cap",
    "fit_leading_constant",
    "loglog_slope",
]

#: Leading constant ``C1`` of the reconstructed T2/T3. Unknown (the theorem's text was not available).
UNKNOWN_C1 = 1.0
#: Constant ``C2`` of the lower-order term. Unknown.
UNKNOWN_C2 = 1.0
#: The polynomial of the lower-order term, as a label: a placeholder, not the paper's (unknown).
LOWER_ORDER_POLY = "H^3 S^2 A"


def _sizes(S, A, H, K, delta):
    """Validated float arrays of ``S, A, H, K`` (whole numbers >= 1) and ``delta`` in ``(0, 1)``."""
    out = [check_real_array(v, n, low=1, integer=True) for v, n in ((S, "S"), (A, "A"), (H, "H"), (K, "K"))]
    out.append(check_real_array(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True))
    check_broadcast(dict(zip(("S", "A", "H", "K", "delta"), out, strict=True)))
    return tuple(out)


def _baseline(alpha, v_b, gap):
    alpha = check_real_array(alpha, "alpha", low=0.0, high=1.0, low_open=True, high_open=True)
    v_b = check_real_array(v_b, "v_b", low=0.0, low_open=True)
    gap = check_real_array(gap, "gap", low=0.0)
    return alpha, v_b, gap


def log_term(S, A, H, K, delta):
    """``iota = ln(S A H K / delta)`` (the union bound of the confidence sets; rule R1)."""
    S, A, H, K, delta = _sizes(S, A, H, K, delta)
    return np.log(S * A * H * K / delta)


def safe_floor(alpha: float, H: int) -> float:
    """``rho_min = 1 - (1 - alpha)^{1/H}`` (about ``alpha / H``): StepMix's smallest mixing coefficient."""
    alpha = check_real(alpha, "alpha", low=0.0, high=1.0, low_open=True, high_open=True)
    H = check_int(H, "H", low=1)
    return float(1.0 - (1.0 - alpha) ** (1.0 / H))


def leading_term(S, A, H, K, delta):
    """``sqrt(H^3 S A K iota)``: the constraint-free order (array over ``K``)."""
    S, A, H, K, delta = _sizes(S, A, H, K, delta)
    with np.errstate(over="ignore"):
        return np.sqrt(H ** 3 * S * A * K * log_term(S, A, H, K, delta))


def regret_upper(S, A, H, K, delta, *, alpha=None, v_b=None, gap=None, c1: float = UNKNOWN_C1,
                 c2: float = UNKNOWN_C2):
    """The reconstructed T2/T3 bound (module docstring), an array over ``K``.

    ``c1 sqrt(H^3 S A K iota) + c2 H^3 S^2 A iota gap / (alpha v_b (alpha v_b + gap))``. The lower-order
    term is omitted when any of ``alpha``, ``v_b``, ``gap`` (``= V* - V^b``) is ``None``. The constants
    default to :data:`UNKNOWN_C1`, :data:`UNKNOWN_C2` (= 1): **the paper's constants are unknown**, so
    this curve shows the *shape* of the theorem, not a certified upper bound.
    """
    S, A, H, K, delta = _sizes(S, A, H, K, delta)
    c1 = check_real(c1, "c1", low=0.0)
    c2 = check_real(c2, "c2", low=0.0)
    out = c1 * leading_term(S, A, H, K, delta)
    if alpha is not None and v_b is not None and gap is not None:
        alpha, v_b, gap = _baseline(alpha, v_b, gap)
        check_broadcast({"S, A, H, K, delta": out, "alpha": alpha, "v_b": v_b, "gap": gap})
        ab = alpha * v_b
        with np.errstate(over="ignore"):
            out = out + c2 * H ** 3 * S ** 2 * A * log_term(S, A, H, K, delta) * gap / (ab * (ab + gap))
    return out


def regret_safe_cap(K, gap: float, alpha: float, v_b: float):
    """``K (Delta_b + alpha V^b)``: the regret of any learner that meets the episode-wise constraint
    (per-episode regret ``V* - V^{pi_k} <= V* - (1 - alpha) V^b``). Array over ``K``."""
    K = check_real_array(K, "K", low=0, integer=True)
    alpha, v_b, gap = _baseline(alpha, v_b, gap)
    check_broadcast({"K": K, "gap": gap, "alpha": alpha, "v_b": v_b})
    return K * (gap + alpha * v_b)


def fit_leading_constant(K, regret, S, A, H, delta, *, start: float = 0.5) -> float:
    """Least-squares ``c`` in ``regret ~ c sqrt(H^3 S A K iota)`` over ``K >= start K_max`` (spec §A3).

    ``K (n,)``, ``regret (n,)`` (e.g. the mean cumulative regret). A *fitted* constant: plots using it
    must say so.
    """
    K = check_real_array(K, "K", low=1, integer=True)
    y = check_real_array(regret, "regret", error=InvalidDataError)
    start = check_real(start, "start", low=0.0, high=1.0)
    for v, n in ((S, "S"), (A, "A"), (H, "H"), (delta, "delta")):
        if np.ndim(v) != 0:
            raise InvalidParameterError(n, f"must be a scalar here, got shape {np.shape(v)}", value=np.shape(v))
    if K.shape != y.shape or K.ndim != 1 or K.size < 2:
        raise InvalidDataError("regret", f"must be 1-d with the shape of K {K.shape}, got {y.shape}", value=y.shape)
    keep = K >= start * K.max()
    f = leading_term(S, A, H, K[keep], delta)
    return float(f @ y[keep] / (f @ f))


def loglog_slope(regret, *, start: float = 0.25) -> np.ndarray:
    """Slope of ``log Reg(k)`` against ``log k`` over ``k in [start K, K]`` (least squares), per row.

    ``regret (..., K)`` cumulative regrets; returns ``(...)``. 0.5 is the ``sqrt(K)`` rate, 1 linear.
    """
    y = check_real_array(regret, "regret", error=InvalidDataError)
    start = check_real(start, "start", low=0.0, high=1.0)
    K = y.shape[-1] if y.ndim else 0
    k = np.arange(1, K + 1, dtype=np.float64)
    keep = k >= start * K
    if keep.sum() < 2:
        raise InvalidDataError("regret", f"needs at least 2 episodes in [start K, K] on its last axis, got shape "
                               f"{y.shape} with start={start:g}", value=y.shape)
    x = np.log(k[keep])
    ly = np.log(np.maximum(y[..., keep], 1e-300))
    xc = x - x.mean()
    return ((ly - ly.mean(axis=-1, keepdims=True)) @ xc) / (xc @ xc)
