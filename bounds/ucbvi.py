"""Regret bounds of UCBVI (Azar, Osband & Munos 2017) and the episodic minimax lower bound.

Arguments use the paper's names and may be passed by keyword: ``S`` states, ``A`` actions, ``H``
the horizon (steps per episode), ``K`` the number of episodes, ``delta`` the failure probability;
the paper's ``T = K H`` is the number of steps (derived here, never passed). For stage-dependent
estimates pass ``S = S' = S H`` (UCBVI on the layered MDP whose states are the pairs ``(h, x)``;
see :mod:`rltheory.algorithms.ucbvi`) — :func:`effective_states` computes it. All functions are
vectorised (NumPy broadcasting) over every argument, typically ``K``, and return float arrays.

Validation: ``S``, ``A``, ``H``, ``K`` must be whole numbers ``>= 1`` and ``delta`` must lie in
``(0, 1)``; anything else (NaN, negative, strings, ...) raises
:class:`~rltheory.errors.InvalidParameterError` naming the argument.

Provenance: the theorem constants below are transcribed from arXiv:1703.05449v2 (p. 5) through
two independent secondary transcriptions that agree; the paper body itself could not be read
for this library. The logarithm in the theorems is ``L = ln(5 H S A T / delta)`` (one more
factor ``H`` than the bonuses' ``ln(5 S A T / delta)``).
"""

from __future__ import annotations

import numpy as np

from rltheory.errors import InvalidParameterError
from rltheory.validation import check_broadcast, check_int, check_real, check_real_array

__all__ = [
    "regret_upper_hoeffding",
    "regret_upper_bernstein",
    "regret_lower",
    "theorem_log_term",
    "effective_states",
    "LOWER_BOUND_CONSTANT",
]

#: Constant of the stage-dependent minimax lower bound ``c sqrt(H^3 S A K)`` of Domingues,
#: Ménard, Kaufmann & Valko (ALT 2021, arXiv:2010.03531): ``1 / (48 sqrt(6))``, as reported
#: second-hand (their Theorem 9, for ``K >= S A`` and ``S >= 4``, ``A >= 2``, ``H >= 3 log_A S``).
#: Not checked against the paper text; the figure labels it accordingly.
LOWER_BOUND_CONSTANT = 1.0 / (48.0 * np.sqrt(6.0))


_NO_DELTA = object()


def _sizes(S, A, H, K, delta=_NO_DELTA):
    """Validated float arrays of ``S, A, H, K`` (whole numbers >= 1) and ``delta`` in ``(0, 1)`` (when given)."""
    out = [check_real_array(v, n, low=1, integer=True) for v, n in ((S, "S"), (A, "A"), (H, "H"), (K, "K"))]
    if delta is not _NO_DELTA:
        out.append(check_real_array(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True))
    check_broadcast(dict(zip(("S", "A", "H", "K", "delta"), out, strict=False)))
    return out


def effective_states(S: int, H: int, stage_dependent: bool = True) -> int:
    """States of the MDP UCBVI actually learns: ``S' = S H`` (layered, stage-dependent) or ``S``."""
    S = check_int(S, "S", low=1)
    H = check_int(H, "H", low=1)
    if not isinstance(stage_dependent, bool | np.bool_):
        raise InvalidParameterError("stage_dependent", f"must be True or False, got {stage_dependent!r}",
                                    value=repr(stage_dependent))
    return S * H if stage_dependent else S


def theorem_log_term(S, A, H, K, delta):
    """``L = ln(5 H S A T / delta)`` with ``T = K H`` (Theorems 1 and 2)."""
    S, A, H, K, delta = _sizes(S, A, H, K, delta)
    return np.log(5.0 * H * S * A * (K * H) / delta)


def regret_upper_hoeffding(S, A, H, K, delta):
    """Theorem 1 (UCBVI-CH): with probability at least ``1 - delta``,

    ``Regret(K) <= 20 H L sqrt(S A T) + 250 H^2 S^2 A L^2``, ``T = K H``, ``L = ln(5 H S A T / delta)``

    (``20 H L sqrt(S A T) = 20 H^{3/2} L sqrt(S A K)``). Pass ``S = S H`` for stage-dependent models.
    """
    S, A, H, K, delta = _sizes(S, A, H, K, delta)
    T = K * H
    L = theorem_log_term(S, A, H, K, delta)
    with np.errstate(over="ignore"):
        return 20.0 * H * L * np.sqrt(S * A * T) + 250.0 * H ** 2 * S ** 2 * A * L ** 2


def regret_upper_bernstein(S, A, H, K, delta):
    """Theorem 2 (UCBVI-BF): with probability at least ``1 - delta``,

    ``Regret(K) <= 30 L sqrt(H S A T) + 2500 H^2 S^2 A L^2 + 4 H sqrt(T L)``, ``T = K H``,
    ``L = ln(5 H S A T / delta)`` (``30 L sqrt(H S A T) = 30 H L sqrt(S A K)`` and
    ``4 H sqrt(T L) = 4 H^{3/2} sqrt(K L)``). Pass ``S = S H`` for stage-dependent models.
    """
    S, A, H, K, delta = _sizes(S, A, H, K, delta)
    T = K * H
    L = theorem_log_term(S, A, H, K, delta)
    with np.errstate(over="ignore"):
        return 30.0 * L * np.sqrt(H * S * A * T) + 2500.0 * H ** 2 * S ** 2 * A * L ** 2 + 4.0 * H * np.sqrt(T * L)


def regret_lower(S, A, H, K, constant: float = LOWER_BOUND_CONSTANT):
    """Minimax lower bound ``constant * sqrt(H^3 S A K)`` (``= constant * H sqrt(S A T)``, ``T = K H``) for
    stage-dependent episodic MDPs.

    Every algorithm has, on some MDP with these sizes, expected regret at least this
    (Domingues et al. 2021; see :data:`LOWER_BOUND_CONSTANT` for the constant's provenance and the
    regime ``K >= S A``, ``S >= 4``, ``A >= 2``, ``H >= 3 log_A S`` where it is stated). Pass the true
    ``S`` here, not ``S H``. With stationary transitions the order is ``sqrt(H^2 S A K)`` instead.
    """
    S, A, H, K = _sizes(S, A, H, K)
    constant = check_real(constant, "constant", low=0.0)
    return constant * np.sqrt(H ** 3 * S * A * K)
