"""Sample-complexity bounds of SQIRL (ICLR 2024) and GORP (NeurIPS 2023) in terms of the effective horizon.

Papers: Laidlaw, Zhu, Russell & Dragan, *The Effective Horizon Explains Deep RL Performance in
Stochastic Environments*, ICLR 2024, arXiv:2312.08369 (SQIRL, Theorem 3.6); Laidlaw, Russell & Dragan,
*Bridging RL Theory and Practice with the Effective Horizon*, NeurIPS 2023, arXiv:2304.09853 (GORP,
Theorem 5.4).

Provenance. Neither paper's body could be retrieved for this library.

* **GORP** (first paper): a pass of GORP with planning depth ``k`` and ``m`` episodes per action
  sequence costs ``T A^k m`` episodes (``T^2 A^k m`` steps; see :mod:`rltheory.algorithms.gorp`), and
  Theorem 5.4 (as implemented in the authors' ``gorp_bounds.jl``) takes
  ``m_k = max over visited states of max(1, ceil(16 var / gap^2 ln(2 T A^k)))`` so that GORP returns an
  optimal policy with probability at least 1/2; with ``H_k = k + log_A m_k`` the cost is
  ``T A^{H_k}`` episodes = ``T^2 A^{H_k}`` steps (a third-party summary of the paper states the same
  ``N <= T^2 A^H``). :func:`gorp_episodes` is that number.
* **SQIRL** (second paper, Theorem 3.6): the ICLR reviews state the form: if the MDP is ``k``-QVI-solvable
  and the regression oracle is least squares over a class of pseudo-dimension ``D`` containing the needed
  ``Q``-functions, SQIRL returns an ``epsilon``-optimal policy with probability at least ``1 - delta``
  after ``O~(k T^3 A^{Hbar_k} D log(1/delta) / epsilon)`` steps, linear in ``1 / epsilon``, with returns in
  ``[0, 1]``. The constant and the hidden logarithms are **reconstructed**: :data:`SQIRL_CONSTANT` = 1 and
  no extra log factors. The stochastic effective horizon ``Hbar_k = k + log_A m_k`` is computed with the
  same per-state count ``m_k`` (``~ var / gap^2``, i.e. ``1 / Delta_k^2`` up to logarithms, the form the
  reviews describe), from :func:`rltheory.algorithms.effective_horizon_analysis.analyze`.

Arguments use the papers' names and may be passed by keyword: ``k`` the planning depth (``k >= 1``),
``H_bar`` / ``H_k`` the (stochastic) effective horizon for that ``k`` (``>= 0``; ``+inf`` -- "no ``k``
works" -- gives an infinite bound), ``A`` actions, ``T`` the **horizon** (steps per episode: the papers
write ``T`` for what the UCBVI module calls ``H``), ``epsilon > 0``, ``delta`` in ``(0, 1)``, ``D >= 1``
the pseudo-dimension. Anything else (NaN, negative, strings, ...) raises
:class:`~rltheory.errors.InvalidParameterError` naming the argument.

Units. ``epsilon`` is measured on returns normalised to ``[0, 1]``; the figures use the span of
achievable expected returns, ``(V* - V^pi) / (V* - V^worst) <= epsilon`` (exact for deterministic MDPs,
where ``V*`` and ``V^worst`` are the largest and smallest returns), see :func:`normalized_suboptimality`.
"""

from __future__ import annotations

import numpy as np

from rltheory.validation import check_broadcast, check_real, check_real_array

__all__ = [
    "SQIRL_CONSTANT",
    "effective_horizon_k",
    "sqirl_steps",
    "sqirl_episodes",
    "sqirl_episodes_per_timestep",
    "gorp_episodes",
    "gorp_steps",
    "normalized_suboptimality",
    "is_vacuous",
]

#: Constant of Theorem 3.6 (reconstructed: unknown, set to 1; see the module docstring).
SQIRL_CONSTANT = 1.0


def _whole(x, name):
    return check_real_array(x, name, low=1, integer=True)


def _horizon(x, name):
    return check_real_array(x, name, low=0.0, allow_inf=True)


def _eps_delta(epsilon, delta):
    epsilon = check_real_array(epsilon, "epsilon", low=0.0, low_open=True)
    delta = check_real_array(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
    return epsilon, delta


def effective_horizon_k(k, log_m, A):
    """``H_k = k + log_A m_k`` from ``ln m_k`` (``= k`` when ``m_k = 1`` or ``A = 1``). Vectorised.

    ``k`` whole ``>= 1``, ``log_m = ln m_k >= 0`` (``m_k >= 1``), ``A`` whole ``>= 1``.
    """
    k = _whole(k, "k")
    log_m = check_real_array(log_m, "log_m", low=0.0, allow_inf=True)
    A = _whole(A, "A")
    check_broadcast({"k": k, "log_m": log_m, "A": A})
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(A > 1, k + log_m / np.log(np.maximum(A, 2.0)), k + 0.0 * log_m)


def sqirl_steps(k, H_bar, A, T, epsilon, delta, D, constant: float = SQIRL_CONSTANT):
    """Theorem 3.6 (constant reconstructed): ``C k T^3 A^{Hbar_k} D ln(1/delta) / epsilon`` steps.

    Vectorised over every argument; ``H_bar`` is ``Hbar_k`` for the same ``k``; ``T`` the horizon;
    ``D`` the oracle's pseudo-dimension per timestep (``S A`` for the tabular oracle). Returned in
    floating point (``inf`` beyond float range).
    """
    k, A, T, D = _whole(k, "k"), _whole(A, "A"), _whole(T, "T"), _whole(D, "D")
    H_bar = _horizon(H_bar, "H_bar")
    epsilon, delta = _eps_delta(epsilon, delta)
    constant = check_real(constant, "constant", low=0.0, low_open=True)
    check_broadcast({"k": k, "H_bar": H_bar, "A": A, "T": T, "epsilon": epsilon, "delta": delta, "D": D})
    with np.errstate(over="ignore", invalid="ignore"):
        return constant * k * T ** 3 * np.power(A, H_bar) * D * np.log(1.0 / delta) / epsilon


def sqirl_episodes(k, H_bar, A, T, epsilon, delta, D, constant: float = SQIRL_CONSTANT):
    """:func:`sqirl_steps` divided by ``T`` (every episode has ``T`` steps)."""
    return sqirl_steps(k, H_bar, A, T, epsilon, delta, D, constant) / _whole(T, "T")


def sqirl_episodes_per_timestep(k, H_bar, A, T, epsilon, delta, D, constant: float = SQIRL_CONSTANT):
    """The ``m = ceil(episodes / T)`` that spends :func:`sqirl_episodes` in one pass of ``T`` rounds."""
    return np.ceil(sqirl_episodes(k, H_bar, A, T, epsilon, delta, D, constant) / _whole(T, "T"))


def gorp_episodes(H_k, A, T):
    """First paper, Theorem 5.4 (via the authors' code): ``T A^{H_k}`` episodes (GORP succeeds w.p. >= 1/2)."""
    H_k, A, T = _horizon(H_k, "H_k"), _whole(A, "A"), _whole(T, "T")
    check_broadcast({"H_k": H_k, "A": A, "T": T})
    with np.errstate(over="ignore"):
        return T * np.power(A, H_k)


def gorp_steps(H_k, A, T):
    """``T^2 A^{H_k}`` steps."""
    return _whole(T, "T") * gorp_episodes(H_k, A, T)


def normalized_suboptimality(values, v_star: float, v_worst: float):
    """``(V* - V^pi) / (V* - V^worst)`` (0 when every policy is optimal). Vectorised over ``values``.

    ``v_star >= v_worst`` finite reals; ``values`` finite.
    """
    v_star = check_real(v_star, "v_star")
    v_worst = check_real(v_worst, "v_worst", high=v_star)
    span = v_star - v_worst
    sub = v_star - check_real_array(values, "values")
    return sub / span if span > 0 else np.zeros_like(sub)


def is_vacuous(H_bar, T) -> np.ndarray:
    """A bound exponential in ``Hbar`` says nothing beyond worst-case exponential-in-horizon ones when
    ``Hbar >= T`` (the simple bound defaults to ``T`` when no ``k < T`` works)."""
    H_bar, T = _horizon(H_bar, "H_bar"), _whole(T, "T")
    check_broadcast({"H_bar": H_bar, "T": T})
    return H_bar >= T
