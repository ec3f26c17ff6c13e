"""Approximation guarantees for greedy / SubPO on bandit SMDPs (Prajapat et al., ICLR 2024; spec B3).

The paper's statements were not retrievable (abstract only): it says SubPO "recovers optimal constant factor
approximations of submodular bandits" and a secondary source quotes ``1 - 1/e`` for the (epsilon-)bandit SMDP and
``1 - c`` under bounded curvature. The functions here are the classical facts those claims rest on
[RECONSTRUCTED link to the paper]:

* Nemhauser, Wolsey & Fisher (1978): greedy with ``k`` picks is within ``1 - (1 - 1/k)^k >= 1 - 1/e`` of OPT;
  the tight family of :func:`rltheory.mdps.tight_greedy_family` attains ``1 - (1 - 1/k)^k`` exactly.
* Conforti & Cornuéjols (1984): with total curvature ``c``, greedy is within ``(1 - e^{-c}) / c`` of OPT, and
  ``(1 - c) sum_{v in A} F({v}) <= F(A) <= sum_{v in A} F({v})`` for every set ``A``.

On a bandit SMDP the start ``s_0`` is pre-selected, so they apply to ``g(A) = F(A ∪ {s_0}) - F({s_0})`` and
``F(greedy) >= ratio * OPT`` follows because ``F({s_0})`` is common to both sides.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import numpy as np

from rltheory.errors import InvalidParameterError
from rltheory.validation import check_int, check_real

__all__ = ["greedy_ratio", "tight_family_ratio", "curvature_ratio", "total_curvature", "curvature_sandwich",
           "conditioned"]


def greedy_ratio(k: int | None = None) -> float:
    """``1 - (1 - 1/k)^k`` for ``k`` picks (Nemhauser-Wolsey-Fisher); ``1 - 1/e`` when ``k`` is None."""
    if k is None:
        return 1.0 - math.exp(-1.0)
    k = check_int(k, "k", low=1)
    return 1.0 - (1.0 - 1.0 / k) ** k


def tight_family_ratio(k: int) -> float:
    """Greedy/OPT on the tight family with ``k`` decoys: exactly ``1 - (1 - 1/k)^k``."""
    return greedy_ratio(k)


def curvature_ratio(c: float) -> float:
    """``(1 - e^{-c}) / c`` (Conforti-Cornuéjols), 1 at ``c = 0``; ``c`` in ``[0, 1]``."""
    c = check_real(c, "c", low=0.0, high=1.0)
    return 1.0 if c == 0.0 else (1.0 - math.exp(-c)) / c


def total_curvature(F: Callable[[Iterable[int]], float], ground: Iterable[int]) -> float:
    """``c = 1 - min_v F(v | V - v) / F({v})`` over ``v`` with ``F({v}) > 0`` (0 if there is none)."""
    V = [int(v) for v in ground]
    if not V:
        raise InvalidParameterError("ground", "must not be empty", value=0)
    FV = F(V)
    ratios = []
    for v in V:
        single = F([v])
        if single > 1e-12:
            rest = [x for x in V if x != v]
            ratios.append((FV - F(rest)) / single)
    return float(np.clip(1.0 - min(ratios), 0.0, 1.0)) if ratios else 0.0


def curvature_sandwich(F: Callable[[Iterable[int]], float], A: Iterable[int], c: float) -> tuple[float, float]:
    """``((1 - c) sum_{v in A} F({v}), sum_{v in A} F({v}))``: the bounds on ``F(A)`` under curvature ``c``."""
    singles = sum(F([int(v)]) for v in set(A))
    return (1.0 - c) * singles, singles


def conditioned(F: Callable[[Iterable[int]], float], s0: int) -> Callable[[Iterable[int]], float]:
    """``g(A) = F(A ∪ {s0}) - F({s0})``: the bandit SMDP's objective over the picks."""
    base = F([s0])
    return lambda A: F(list(A) + [s0]) - base
