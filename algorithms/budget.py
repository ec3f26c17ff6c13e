"""The cumulative-budget rule of conservative exploration (Garcelon, Ghavamzadeh, Lazaric & Pirotta 2020).

Garcelon, E., Ghavamzadeh, M., Lazaric, A. and Pirotta, M. (2020). *Conservative Exploration in
Reinforcement Learning*. AISTATS 2020, arXiv:2002.03218. The rule of
:class:`~rltheory.algorithms.conservative.ConservativeUCBVI` (spec §A2.4): in episode ``k`` deploy the
optimistic ``pi^k`` when the certified cumulative value stays above the cumulative safe level,

    sum_{i<k} lb_i + V_low^{pi^k} >= k tau,        tau = (1 - alpha) V^b,

else the baseline; ``lb_i`` is the certified value of what episode ``i`` deployed (``V_low^{pi^i}`` or
the baseline's ``v_low``). It satisfies only the *cumulative* constraint. Lower bounds are the R1
pessimism of :mod:`rltheory.algorithms.pessimism` (an adaptation: Garcelon et al. use their own
confidence sets).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .conservative import _greedy_bounds_reference, greedy_bounds, play_greedy_or_baseline, rule_implementation

__all__ = ["BudgetRule"]


class BudgetRule(NamedTuple):
    """The budget rule's constants; its state (the certified sum) is the run's ``certified`` array."""

    tau: float
    v_low: float
    v_base: float

    def deploy_reference(self, c, greedy, baseline, model, pess, k, coin, certified):
        """NumPy twin of the compiled rule, vectorised over replicates (updates ``certified``)."""
        vp, vk, onehot = _greedy_bounds_reference(c, greedy, model, pess)
        go = certified + vp >= self.tau * k
        rho = np.where(go, 1.0, 0.0)
        lb = np.where(go, vp, self.v_low)
        v = np.where(go, vk, self.v_base)
        certified += lb
        play = np.where(go[:, None, None, None], onehot, baseline[None])
        return rho, lb, v, play


@rule_implementation(BudgetRule)
def _deploy_budget(rule, ep, model, pess, scratch):
    """Compiled budget rule (module docstring); the certified sum lives in ``scratch.certified``."""
    vp, vk = greedy_bounds(ep, model, pess, scratch)
    certified = scratch.certified
    if certified[0] + vp >= rule.tau * ep.k:
        rho, lb, v = 1.0, vp, vk
    else:
        rho, lb, v = 0.0, rule.v_low, rule.v_base
    certified[0] += lb
    play_greedy_or_baseline(ep, rho == 1.0, scratch.play)
    return rho, lb, v
