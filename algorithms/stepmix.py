"""StepMix and EpsMix: conservative exploration under an episode-wise constraint.

Li, D., Huang, R., Shen, C. and Yang, J. (2023). *Near-optimal Conservative Exploration in
Reinforcement Learning under Episode-wise Constraints*. ICML 2023, PMLR 202:20221-20252;
arXiv:2306.06265.

Provenance — read first. Only the paper's **abstract** could be read for this library: the stored
copies of arXiv (abs and HTML), PMLR, PSU, PapersWithCode, aminer and emergentmind all stop after
it, no PDF/TeX copy was found, and no official code exists (searches of code and issue indexes
found nothing; rechecked for this implementation). What the abstract states is followed: a tabular
episodic MDP; a known safe baseline; a constraint never violated *in any episode* with high
probability; **StepMix**, a mixture that "adaptively and smoothly interpolates between the baseline
policy and the optimistic policy"; **EpsMix**, a "randomization-based" variant with the same
guarantees; a baseline learned from an offline dataset (:mod:`rltheory.algorithms.offline`).
Every rule below is **reconstructed** (StepMix spec §A2 and its addendum rules R1-R6, which
override §A2 where they differ); it may differ from the paper's pseudo-code and constants. Each
reconstructed rule is provably safe; the proof sketch is below.

Algorithm (episode ``k``; ``tau = (1 - alpha) V^b``)
----------------------------------------------------
1. ``pi^k`` <- UCBVI-BF planning on the counts (Azar et al. 2017, Alg. 2 + Alg. 4 bonus, times
   ``bonus_scale``), greedy with ties broken by the unclipped value. [R3, reconstructed]
2. **StepMix**: ``pi^{k,rho}_h(a|s) = rho 1{a = pi^k_h(s)} + (1 - rho) pi^b_h(a|s)``; a fresh
   coin per *step* (the name). Lower bound ``L_k(rho) = max(V_low^{pi^{k,rho}}, (1 - rho)^H V^b)``
   with ``V_low`` the R1 pessimistic value. ``rho_k`` = the largest point of the R2 search
   (``rho = 1`` first; a ``grid``-point grid containing the safe floor
   ``rho_min = 1 - (1 - alpha)^{1/H}``; ``refine`` points in the bracket of its largest feasible
   point) with ``L_k(rho) >= tau``. [spec §A2.1 + R1, R2; reconstructed]

   **EpsMix**: one coin per *episode*: play ``pi^k`` with probability ``rho_k``, else ``pi^b``.
   The randomised policy's value is ``rho V^{pi^k} + (1 - rho) V^b`` (linear), so with
   ``v_k = V_low^{pi^k}``: ``rho_k = 1`` if ``v_k >= tau``, else ``alpha V^b / (V^b - v_k)``
   (``>= alpha``). [spec §A2.2; reconstructed]
3. Deploy, observe the trajectory, update the counts.

Safety proof sketch (why the reconstruction keeps T1: ``P(forall k: V^{pi_k} >= tau) >= 1 - delta``).
(i) On Weissman's event (probability ``>= 1 - delta`` with ``iota = ln(S A H K / delta)``),
``|(P_hat - P) V| <= ||P_hat - P||_1 span(V) / 2`` for every vector ``V``, so the R1 step
lower-bounds ``P V`` for the computed ``V_low`` itself, and backward induction gives
``V_low^pi <= V^pi`` for *every* policy — every mixture and every ``rho`` at once, no union
over them (:mod:`rltheory.algorithms.pessimism`). (ii) Rewards are non-negative and with probability
``(1 - rho)^H`` the per-step coin picks the baseline at every step, a trajectory then distributed
as under ``pi^b``; so ``V^{pi^{k,rho}} >= (1 - rho)^H V^b`` (tight: equality when ``pi^k`` enters
a zero-reward absorbing state). Both terms of ``L_k`` lower-bound the deployed value, and the
search returns only points it *evaluated* with ``L_k >= tau``; ``rho_min`` is always a candidate
and feasible by (ii), so ``rho_k >= rho_min`` from episode 1. For EpsMix,
``rho v_k + (1 - rho) V^b = tau`` at the closed-form ``rho`` and ``v_k <= V^{pi^k}`` by (i).
The optimistic side (``bonus_scale``, the bonus) never enters these inequalities.

Where this follows the spec and where it departs
------------------------------------------------
* Pessimism: R1 (span-scaled Weissman step), not §A2.0's fixed ``(H - h) c_n / 2`` penalty
  (the addendum measured the latter stalling on larger models). Unvisited pairs use reward 0
  (this library reveals rewards by observation; 0 is a valid lower bound); with Bernoulli reward
  noise a Hoeffding reward term is subtracted and ``delta`` is split in halves.
* Search: R2 with ``grid = 65``, ``refine = 64`` (§A2.1's bisection is not used: ``L_k`` is not
  monotone); the candidate ``rho = 1`` is evaluated first.
* ``floor=False`` is the §A2.4 ablation "pessimistic term only" (then ``rho = 0``, the baseline
  with its known value, is the fallback).
* Known ``V^b`` (Garcelon et al. 2020's assumption, spec §A1), and a known initial distribution
  ``mu`` (the paper's fixed ``s_1``). Estimated values: :class:`ConservativeLearner`'s
  ``baseline_value=(v_low, v_high)``.
* The regret theorem's constants are unknown (:mod:`rltheory.bounds.stepmix`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rltheory.algorithm import register_algorithm
from rltheory.errors import InvalidParameterError
from rltheory.kernels.planning import policy_value_one, policy_values_reference
from rltheory.validation import check_int

from .conservative import (
    ConservativeLearner,
    _greedy_bounds_reference,
    greedy_bounds,
    play_greedy_or_baseline,
    rule_implementation,
)
from .pessimism import (
    MixtureSearch,
    coarse_candidates,
    safe_floor_coefficient,
    search_mixing_coefficient_one,
    search_mixing_coefficient_reference,
)

__all__ = ["StepMix", "EpsMix", "StepMixRule", "EpsMixRule", "epsmix_coefficient", "safe_floor_coefficient"]


# ---------------------------------------------------------------------------- StepMix's rule


class StepMixRule(NamedTuple):
    """StepMix's rule (step 2 of the module docstring): the largest certified per-step mixture, found by the
    R2 search with the settings ``search``."""

    search: MixtureSearch

    @property
    def rho_min(self) -> float:
        return self.search.rho_min

    def deploy_reference(self, c, greedy, baseline, model, pess, k, coin, certified):
        """NumPy twin of the compiled rule, vectorised over replicates: ``(rho, lb, v, play)``."""
        rho, lb = search_mixing_coefficient_reference(c.counts_sas, c.counts_sa, c.reward_sum, greedy, baseline,
                                                      model.mu, pess.weissman_log, pess.reward_log, self.search)
        onehot = np.eye(baseline.shape[-1])[greedy]
        play = rho[:, None, None, None] * onehot + (1.0 - rho)[:, None, None, None] * baseline[None]
        v = policy_values_reference(model.P, model.P_next, model.R, model.mu, play)
        return rho, lb, v, play


@rule_implementation(StepMixRule)
def _deploy_stepmix(rule, ep, model, pess, scratch):
    """Compiled StepMix rule: R2's search, then the per-step mixture deployed and evaluated exactly."""
    rho, lb = search_mixing_coefficient_one(ep.P_hat, ep.counts.counts_sa, ep.counts.reward_sum, ep.greedy,
                                            ep.baseline, model.mu, pess.weissman_log, pess.reward_log, rule.search)
    play = scratch.play
    H, S, A = play.shape
    for h in range(H):
        for s in range(S):
            for a in range(A):
                play[h, s, a] = (1.0 - rho) * ep.baseline[h, s, a]
            play[h, s, ep.greedy[h, s]] += rho
    v = policy_value_one(model.P, model.P_next, model.R, model.mu, play, scratch.V1, scratch.V2)
    return rho, lb, v


# ---------------------------------------------------------------------------- EpsMix's rule


def epsmix_coefficient(vp, tau, v_low):
    """EpsMix's coefficient (closed form, spec §A2.2): ``1`` if ``vp >= tau``; else
    ``(v_low - tau) / (v_low - vp)`` (``= alpha V^b / (V^b - vp)`` for a known value) if ``v_low >= tau``;
    else 0. ``vp`` is the R1 lower bound of ``pi^k``'s value. Works on floats and arrays alike."""
    vp = np.asarray(vp, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mid = (v_low - tau) / (v_low - vp)
    out = np.where(vp >= tau, 1.0, np.where(v_low >= tau, mid, 0.0))
    return out if out.ndim else float(out)


class EpsMixRule(NamedTuple):
    """EpsMix's rule: one coin per episode, ``pi^k`` with probability :func:`epsmix_coefficient`, else ``pi^b``."""

    tau: float
    v_low: float
    v_base: float  #: exact value of the baseline (the randomised policy's value is linear in ``rho``)

    def deploy_reference(self, c, greedy, baseline, model, pess, k, coin, certified):
        vp, vk, onehot = _greedy_bounds_reference(c, greedy, model, pess)
        rho = epsmix_coefficient(vp, self.tau, self.v_low)
        lb = rho * vp + (1.0 - rho) * self.v_low
        optimistic = coin < rho
        v = rho * vk + (1.0 - rho) * self.v_base
        play = np.where(optimistic[:, None, None, None], onehot, baseline[None])
        return rho, lb, v, play


@rule_implementation(EpsMixRule)
def _deploy_epsmix(rule, ep, model, pess, scratch):
    """Compiled EpsMix rule: the closed-form coefficient (:func:`epsmix_coefficient`), one coin per episode."""
    vp, vk = greedy_bounds(ep, model, pess, scratch)
    tau, v_low = rule.tau, rule.v_low
    if vp >= tau:
        rho = 1.0
    elif v_low >= tau:
        rho = (v_low - tau) / (v_low - vp)
    else:
        rho = 0.0
    lb = rho * vp + (1.0 - rho) * v_low
    play_greedy_or_baseline(ep, ep.coin < rho, scratch.play)
    return rho, lb, rho * vk + (1.0 - rho) * rule.v_base


# ---------------------------------------------------------------------------- the learners

@register_algorithm
class StepMix(ConservativeLearner):
    """StepMix (Li et al. 2023): per-step mixture of the optimistic and the baseline policy.

    Parameters
    ----------
    alpha, delta, baseline_policy, baseline_value, bonus, bonus_scale (optimism_scale: deprecated)
        As :class:`~rltheory.algorithms.conservative.ConservativeLearner` (defaults: ``alpha=0.1``,
        ``delta=0.05``, the uniform baseline with its exact value, UCBVI-BF at theory scale).
    floor : bool
        Use the safe floor ``(1 - rho)^H V^b`` in ``L_k`` (default). ``False``: the pessimistic term
        only (ablation of spec §A2.4).
    grid : int >= 2
        Points of the coarse grid ``i / (grid - 1)`` (plus ``rho_min``), rule R2.
    refine : int >= 1
        Points of the refining grid inside the bracket of the largest feasible coarse point.

    Examples
    --------
    >>> from rltheory.mdps import garnet
    >>> mdp = garnet(S=4, A=2, branching=4, horizon=4, seed=0, stationary=False)
    >>> trace = StepMix(alpha=0.1).run(mdp, 100, replicates=2, seed=0)
    >>> bool((trace.values >= trace.threshold - 1e-9).all())
    True
    """

    def __init__(self, *, alpha: float = 0.1, delta: float = 0.05, baseline_policy="uniform", baseline_value=None,
                 bonus: str = "bernstein", bonus_scale: float = 1.0, optimism_scale: float | None = None,
                 floor: bool = True, grid: int = 65, refine: int = 64):
        super().__init__(alpha=alpha, delta=delta, baseline_policy=baseline_policy, baseline_value=baseline_value,
                         bonus=bonus, bonus_scale=bonus_scale, optimism_scale=optimism_scale)
        if not isinstance(floor, bool):
            raise InvalidParameterError("floor", f"must be a bool, got {floor!r}", value=floor)
        self.floor = floor
        self.grid = check_int(grid, "grid", low=2)
        self.refine = check_int(refine, "refine", low=1)

    @classmethod
    def conformance_cases(cls) -> list[dict]:
        return [*super().conformance_cases(), {"floor": False, "grid": 9, "refine": 4, "alpha": 0.3}]

    def safe_floor(self, H: int, v_low: float | None = None, v_high: float | None = None) -> float:
        """``rho_min``: the largest coefficient certified by the floor alone (``1 - (1 - alpha)^{1/H}``
        for a known baseline value; see :func:`rltheory.algorithms.pessimism.safe_floor_coefficient`)."""
        v_low = 1.0 if v_low is None else v_low
        v_high = v_low if v_high is None else v_high
        return safe_floor_coefficient((1.0 - self.alpha) * v_high, v_low, H, floor=self.floor)

    def make_rule(self, tau, v_low, v_base, H):
        rho_min = safe_floor_coefficient(tau, v_low, H, floor=self.floor)
        candidates, uppers = coarse_candidates(self.grid, rho_min)
        return StepMixRule(MixtureSearch(tau, rho_min, v_low, self.floor, candidates, uppers, self.refine))


@register_algorithm
class EpsMix(ConservativeLearner):
    """EpsMix (Li et al. 2023): one coin per episode between the optimistic and the baseline policy.

    ``rho_k = 1`` if ``V_low^{pi^k} >= (1 - alpha) V^b``, else ``alpha V^b / (V^b - V_low^{pi^k})``
    (estimated values: ``(v_low - tau) / (v_low - V_low^{pi^k})``). Parameters as
    :class:`~rltheory.algorithms.conservative.ConservativeLearner`. The trace's ``values`` are those of
    the randomised policy, ``rho V^{pi^k} + (1 - rho) V^b``; ``returns`` come from the policy the
    coin picked (the uniform after the ``1 + 3H`` of the episode's layout draws the coin).
    """

    extra_uniforms = 1  # the episode's coin

    def make_rule(self, tau, v_low, v_base, H):
        return EpsMixRule(tau, v_low, v_base)
