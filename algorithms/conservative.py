"""Conservative exploration with a safe baseline: the shared episode loop, and the comparison methods.

Setting (Li, Huang, Shen & Yang, ICML 2023, Sec. 2 as far as the abstract states it; the rest in
the standard form of the StepMix spec, §A1). An episodic MDP with unknown transitions, a known
*baseline* policy ``pi^b`` with value ``V^b = mu @ V^{pi^b}_0``, and a tolerance ``alpha``. The
*episode-wise* conservative constraint asks that the policy deployed in episode ``k`` satisfy::

    V^{pi_k} >= tau := (1 - alpha) V^b        for every k = 1..K, with probability >= 1 - delta

(the *expected* value of the possibly randomised policy, not its sampled return). Budget methods
(Garcelon et al. 2020) only satisfy the *cumulative* version ``sum_{i<=k} V^{pi_i} >= k tau``.

Every learner here shares one fused, compiled episode loop (:func:`_conservative_chunk`, NumPy
twin :func:`_conservative_chunk_reference`), run on blocks of replicates in parallel threads.
Each episode and replicate:

1. **optimism** — UCBVI's planner (Azar et al. 2017, Alg. 2 with the Alg. 4 "BF" or Alg. 3 "CH"
   bonus, times ``optimism_scale``) gives ``Q_bar``; ``pi^k`` is greedy in ``Q_bar`` with ties
   broken by the unclipped value (spec rule R3, the rule of :mod:`rltheory.algorithms.ucbvi`);
2. **pessimism** — lower bounds from :mod:`rltheory.kernels.pessimism` (rule R1: the
   span-scaled Weissman step at ``iota = ln(S A H K / delta)``; never a user knob, R4);
3. **the rule** picks what to deploy: StepMix's per-step mixture coefficient (rule R2 search),
   EpsMix's per-episode coin (closed form), or the cumulative budget of :class:`ConservativeUCBVI`;
4. the deployed policy is evaluated **exactly** on the true model (``values``, ``regret``), a
   trajectory is sampled with the replicate's own uniforms (``returns``), counts are updated.

The learner knows ``mu`` (the paper's fixed initial state ``s_1``, generalised to a known initial
distribution) and whether rewards are observed with noise; it never reads ``P`` or ``R``.

Baseline value ``V^b``: "known" (``baseline_value=None``: computed exactly from the model, the
assumption of Garcelon et al. 2020 that the spec adopts; or a float given by the user), or
"estimated" (a pair ``(v_low, v_high)``: ``v_low`` lower-bounds the value of ``baseline_policy``
and enters the floor and EpsMix's formula; ``v_high`` upper-bounds the safe level and sets
``tau = (1 - alpha) v_high``; see :mod:`rltheory.algorithms.offline`).

Trace arrays, each ``(replicates, episodes)``: ``regret`` (``V* - values``), ``values`` (exact
value of the policy actually deployed: the mixture; for EpsMix the randomised policy,
``rho V^{pi^k} + (1 - rho) V^b``), ``threshold`` (``tau``), ``rho`` (mixing coefficient; 0 or 1 for
the budget method), ``returns`` (sampled), ``lower_bound`` (the certified lower bound the rule
used: ``L_k(rho_k)`` for StepMix, ``rho v_low^k + (1 - rho) v_low`` for EpsMix, the played
policy's lower bound for the budget method), ``optimistic_values`` (``mu @ V_bar_0``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba as nb
import numpy as np

from rltheory.algorithm import Algorithm, episode_chunks, register_algorithm
from rltheory.errors import InvalidParameterError, InvalidPolicyError
from rltheory.kernels.counts import CountState, update_counts_one, update_counts_reference
from rltheory.kernels.pessimism import (
    empirical_transitions_one,
    pessimistic_evaluation_one,
    pessimistic_evaluation_reference,
    reward_log_term,
    safe_floor_coefficient,
    search_mixing_coefficient_one,
    search_mixing_coefficient_reference,
    weissman_log_term,
)
from rltheory.kernels.planning import (
    evaluate_policies_reference,
    evaluate_policy_one,
    greedy_tiebreak_one,
    greedy_tiebreak_reference,
)
from rltheory.kernels.sampling import (
    alias_tables,
    sample_episode_one,
    sample_trajectories_reference,
    uniforms_per_episode,
)
from rltheory.models import FiniteHorizonMDP
from rltheory.planning import backward_induction, evaluate
from rltheory.policies import to_stochastic, uniform_policy, validate_policy
from rltheory.rng import draw_uniforms, generators
from rltheory.trace import Trace
from rltheory.validation import check_int, check_real, first_index

from .ucbvi import (
    _BERNSTEIN,
    _HOEFFDING,
    BONUSES,
    ucbvi_log_term,
    ucbvi_plan_one,
    ucbvi_plan_reference,
)

__all__ = [
    "ConservativeLearner",
    "ConservativeUCBVI",
    "BaselineOnly",
    "OptimisticOnly",
    "interpolated_baseline",
    "baseline_for_ratio",
    "TRACE_ARRAYS",
]

#: Arrays of a conservative learner's trace, each ``(replicates, episodes)``.
TRACE_ARRAYS = ("regret", "values", "threshold", "rho", "returns", "lower_bound", "optimistic_values")
RULE_STEPMIX, RULE_EPSMIX, RULE_BUDGET, RULE_OPTIMISTIC = 0, 1, 2, 3
_LOOP_ARRAYS = ("regret", "values", "rho", "returns", "lower_bound", "optimistic_values")


# ---------------------------------------------------------------------------- baseline policies


def _worst_policy(mdp: FiniteHorizonMDP) -> np.ndarray:
    """A deterministic policy minimising the value (backward induction with ``min``), ``(H, S)``."""
    V = np.zeros(mdp.S)
    pi = np.empty((mdp.H, mdp.S), np.int64)
    for h in range(mdp.H - 1, -1, -1):
        Q = mdp.R[h] + mdp.transition(h) @ V
        pi[h] = np.argmin(Q, axis=1)
        V = Q.min(axis=1)
    return pi


def interpolated_baseline(mdp: FiniteHorizonMDP, eta: float) -> np.ndarray:
    """A baseline between the worst, the uniform and the optimal policy, shape ``(H, S, A)``.

    ``eta`` in ``[0, 1]``: ``(1 - eta) uniform + eta pi*`` (the baseline of spec §A4, env R1);
    ``eta`` in ``[-1, 0)``: ``(1 + eta) uniform - eta pi_worst`` (for values below the uniform
    policy's). ``pi*`` / ``pi_worst`` maximise / minimise the value (lowest action on ties).
    Uses the model: a device for *constructing experiments*, not for learners.
    """
    eta = check_real(eta, "eta", low=-1.0, high=1.0)
    if eta >= 0:
        other = np.eye(mdp.A)[backward_induction(mdp).policy]
    else:
        other = np.eye(mdp.A)[_worst_policy(mdp)]
    w = abs(eta)
    return (1.0 - w) * uniform_policy(mdp.H, mdp.S, mdp.A) + w * other


def baseline_for_ratio(mdp: FiniteHorizonMDP, ratio: float, *, tol: float = 1e-6) -> tuple[np.ndarray, float]:
    """The :func:`interpolated_baseline` whose value is ``ratio V*`` (bisection on ``eta``).

    Spec §A4 asks for ``(1 - eta) uniform + eta pi*`` with ``V^b ~ 0.6 V*``; on its random models
    the uniform policy already earns more than ``0.6 V*``, so ratios below the uniform's are
    reached by mixing the uniform with the worst policy instead (``eta < 0``). Returns
    ``(baseline (H, S, A), eta)``. Raises :class:`InvalidParameterError` (``ratio``) when
    ``ratio V*`` lies outside ``[V^worst, V*]``.
    """
    ratio = check_real(ratio, "ratio", low=0.0, high=1.0)
    v_star = backward_induction(mdp).value

    def value(eta):
        return float(mdp.mu @ evaluate(mdp, interpolated_baseline(mdp, eta))[0])

    target = ratio * v_star
    lo, hi = -1.0, 1.0
    if value(lo) > target + 1e-12:
        raise InvalidParameterError("ratio", f"even the worst policy earns {value(lo):.4g} > {ratio:g} V* = "
                                             f"{target:.4g}", value=ratio)
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if value(mid) < target:
            lo = mid
        else:
            hi = mid
    return interpolated_baseline(mdp, hi), hi


def _check_baseline_policy(policy):
    """``"uniform"`` as is, or an explicit baseline array checked by :func:`_check_baseline_array`."""
    if isinstance(policy, str):
        if policy != "uniform":
            raise InvalidPolicyError("baseline_policy", f"must be 'uniform' or an array, got {policy!r}", value=policy)
        return policy
    return _check_baseline_array(policy)


def _check_baseline_array(policy) -> np.ndarray:
    """Model-free checks of an explicit baseline policy: numeric, 2-D actions or 3-D distributions."""
    try:
        arr = np.asarray(policy)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise InvalidPolicyError("baseline_policy", f"cannot be converted to an array ({exc})") from None
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise InvalidPolicyError("baseline_policy", f"must be 'uniform' or a numeric array, got {policy!r}",
                                 value=str(arr.dtype))
    if arr.ndim not in (2, 3):
        raise InvalidPolicyError("baseline_policy", f"must have shape (H, S) of actions or (H, S, A) of "
                                                    f"probabilities, got shape {arr.shape}", value=arr.shape)
    if arr.ndim == 3:
        from rltheory.validation import check_distribution

        arr = arr.astype(np.float64)
        check_distribution(arr, "baseline_policy", error=InvalidPolicyError)
    else:
        if not np.issubdtype(arr.dtype, np.integer):
            f = arr.astype(np.float64)
            bad = ~np.isfinite(f) | (f != np.round(f))
            if bad.any():
                idx = first_index(bad)
                raise InvalidPolicyError("baseline_policy", f"deterministic entries must be integer actions, "
                                                            f"got {f[idx]!r}", index=idx, value=float(f[idx]))
        arr = arr.astype(np.int64)
        if (arr < 0).any():
            idx = first_index(arr < 0)
            raise InvalidPolicyError("baseline_policy", f"actions must be >= 0, got {int(arr[idx])}",
                                     index=idx, value=int(arr[idx]))
    arr = arr.copy()
    arr.setflags(write=False)
    return arr


# ---------------------------------------------------------------------------- compiled loop


@nb.njit
def _conservative_replicate(P_prob, P_alias, mu_prob, mu_alias, R_mean, bernoulli,
                            P_true, mu, V_star, baseline, v_base,
                            counts_sas, counts_sa, reward_sum, visits, inv_n, Q, certified,
                            rule, bonus_kind, H, L, S_eff, scale,
                            weissman_log, reward_log, tau, rho_min, v_low, use_floor, candidates, uppers, n_fine,
                            first_episode, u, r,
                            regret, values, rho_out, returns, lower_out, optimistic_values):
    """Episodes of replicate ``r`` (serial; :func:`_run_blocks` runs blocks of replicates on parallel threads)."""
    n_rep, n_ep, width = u.shape
    _, Hq, S, A = Q.shape
    bonus = np.empty((Hq, S, A))
    U = np.empty((Hq, S, A))
    V = np.empty((Hq + 1, S))
    Vpi = np.empty((Hq + 1, S))
    greedy = np.empty((Hq, S), np.int64)
    play = np.empty((Hq, S, A))
    P_hat = np.empty(counts_sas.shape[1:])
    Vlow = np.empty((Hq + 1, S))
    states = np.empty(Hq + 1, np.int64)
    actions = np.empty(Hq, np.int64)
    rewards = np.empty(Hq)
    Qr = Q[r]
    for e in range(n_ep):
        # 1. optimism: UCBVI's planner (Alg. 2 with the Alg. 3 or Alg. 4 bonus), greedy policy (R3)
        ucbvi_plan_one(bonus_kind, counts_sas[r], counts_sa[r], reward_sum[r], visits[r], inv_n[r], H, L, S_eff, A,
                       scale, bonus, Qr, V, U)
        greedy_tiebreak_one(Qr, U, greedy)
        vo = 0.0
        vs = 0.0
        for s in range(S):
            vo += mu[s] * V[0, s]
            vs += mu[s] * V_star[0, s]
        optimistic_values[r, e] = vo
        # 2-3. pessimism (R1) and the rule
        empirical_transitions_one(counts_sas[r], counts_sa[r], P_hat)
        if rule == 0:  # StepMix: largest certified per-step mixture (R2)
            rho, lb = search_mixing_coefficient_one(P_hat, counts_sa[r], reward_sum[r], greedy,
                                                    baseline, mu, weissman_log, reward_log, tau, rho_min,
                                                    v_low, use_floor, candidates, uppers, n_fine)
            for h in range(Hq):
                for s in range(S):
                    for a in range(A):
                        play[h, s, a] = (1.0 - rho) * baseline[h, s, a]
                    play[h, s, greedy[h, s]] += rho
            evaluate_policy_one(P_true, R_mean, play, Vpi)
            v = 0.0
            for s in range(S):
                v += mu[s] * Vpi[0, s]
        else:
            for h in range(Hq):
                for s in range(S):
                    for a in range(A):
                        play[h, s, a] = 0.0
                    play[h, s, greedy[h, s]] = 1.0
            pessimistic_evaluation_one(P_hat, counts_sa[r], reward_sum[r], play, weissman_log, reward_log, Vlow)
            vp = 0.0
            for s in range(S):
                vp += mu[s] * Vlow[0, s]
            evaluate_policy_one(P_true, R_mean, greedy, Vpi)
            vk = 0.0
            for s in range(S):
                vk += mu[s] * Vpi[0, s]
            if rule == 3:  # always optimistic (UCBVI): the rule the safety tests must catch
                rho = 1.0
                lb = vp
                v = vk
                optimistic = True
            elif rule == 1:  # EpsMix: closed-form coefficient, one coin per episode
                if vp >= tau:
                    rho = 1.0
                elif v_low >= tau:
                    rho = (v_low - tau) / (v_low - vp)
                else:
                    rho = 0.0
                lb = rho * vp + (1.0 - rho) * v_low
                optimistic = u[r, e, width - 1] < rho
                v = rho * vk + (1.0 - rho) * v_base
            else:  # budget (Garcelon et al. 2020): cumulative certified value
                if certified[r] + vp >= tau * (first_episode + e + 1):
                    rho = 1.0
                    lb = vp
                    v = vk
                else:
                    rho = 0.0
                    lb = v_low
                    v = v_base
                certified[r] += lb
                optimistic = rho == 1.0
            for h in range(Hq):
                for s in range(S):
                    for a in range(A):
                        play[h, s, a] = 0.0 if optimistic else baseline[h, s, a]
                    if optimistic:
                        play[h, s, greedy[h, s]] = 1.0
        rho_out[r, e] = rho
        lower_out[r, e] = lb
        values[r, e] = v
        regret[r, e] = vs - v
        # 4. act and record
        sample_episode_one(P_prob, P_alias, mu_prob, mu_alias, R_mean, bernoulli, play, u[r, e],
                           states, actions, rewards)
        g = 0.0
        for h in range(Hq):
            g += rewards[h]
        returns[r, e] = g
        update_counts_one(counts_sas[r], counts_sa[r], reward_sum[r], visits[r], inv_n[r], states, actions, rewards)


@nb.njit(nogil=True)
def _conservative_chunk(P_prob, P_alias, mu_prob, mu_alias, R_mean, bernoulli,
                        P_true, mu, V_star, baseline, v_base,
                        counts_sas, counts_sa, reward_sum, visits, inv_n, Q, certified,
                        rule, bonus_kind, H, L, S_eff, scale,
                        weissman_log, reward_log, tau, rho_min, v_low, use_floor, candidates, uppers, n_fine,
                        first_episode, u, r_start, r_stop,
                        regret, values, rho_out, returns, lower_out, optimistic_values):
    """The fused episode loop (module docstring) for replicates ``r_start <= r < r_stop``, in place.

    Releases the GIL: :func:`_run_blocks` runs blocks of replicates on parallel threads (no
    ``prange``: the parfor lowering of this large loop tripled its compile time).
    """
    for r in range(r_start, r_stop):
        _conservative_replicate(P_prob, P_alias, mu_prob, mu_alias, R_mean, bernoulli, P_true, mu, V_star, baseline,
                                v_base, counts_sas, counts_sa, reward_sum, visits, inv_n, Q, certified, rule,
                                bonus_kind,
                                H, L, S_eff, scale, weissman_log, reward_log, tau, rho_min, v_low, use_floor,
                                candidates, uppers, n_fine, first_episode, u, r, regret, values, rho_out, returns,
                                lower_out, optimistic_values)


def _run_blocks(kernel, args_before, u, outputs) -> None:
    """Run ``kernel(*args_before, u, r_start, r_stop, *outputs)`` over all replicates, in contiguous blocks
    on ``numba.get_num_threads()`` threads (the kernels release the GIL). Replicates are independent, so
    the split does not change any number."""
    n = u.shape[0]
    workers = max(1, min(n, nb.get_num_threads()))
    if workers == 1:
        kernel(*args_before, u, 0, n, *outputs)
        return
    bounds = np.linspace(0, n, workers + 1).astype(np.int64)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(kernel, *args_before, u, int(a), int(b), *outputs)
                   for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
        for f in futures:
            f.result()


@nb.njit(nogil=True)
def _baseline_chunk(P_prob, P_alias, mu_prob, mu_alias, R_mean, bernoulli, baseline, u, r_start, r_stop, returns):
    """Sampled returns of the baseline for replicates ``r_start <= r < r_stop`` (in place)."""
    _, n_ep, _ = u.shape
    H = R_mean.shape[0]
    states = np.empty(H + 1, np.int64)
    actions = np.empty(H, np.int64)
    rewards = np.empty(H)
    for r in range(r_start, r_stop):
        for e in range(n_ep):
            sample_episode_one(P_prob, P_alias, mu_prob, mu_alias, R_mean, bernoulli, baseline, u[r, e], states,
                               actions, rewards)
            g = 0.0
            for h in range(H):
                g += rewards[h]
            returns[r, e] = g


def _conservative_chunk_reference(tables, P_true, R_mean, mu, V_star, baseline, v_base, counts, Q, certified,
                                  rule, bonus_kind, H, L, S_eff, scale, weissman_log, reward_log, tau, rho_min,
                                  v_low, use_floor, candidates, uppers, n_fine, first_episode, u,
                                  regret, values, rho_out, returns, lower_out, optimistic_values):
    """Twin of :func:`_conservative_chunk`: a Python loop over episodes, vectorised over replicates."""
    n, n_ep, width = u.shape
    A = Q.shape[-1]
    eye = np.eye(A)
    c = counts
    for e in range(n_ep):
        V, U = ucbvi_plan_reference(bonus_kind, c, Q, H, L, S_eff, A, scale)
        greedy = greedy_tiebreak_reference(Q, U)
        onehot = eye[greedy]
        optimistic_values[:, e] = V[:, 0] @ mu
        v_star = V_star[0] @ mu
        if rule == RULE_STEPMIX:
            rho, lb = search_mixing_coefficient_reference(c.counts_sas, c.counts_sa, c.reward_sum, greedy, baseline,
                                                          mu, weissman_log, reward_log, tau, rho_min, v_low,
                                                          use_floor, candidates, uppers, n_fine)
            play = rho[:, None, None, None] * onehot + (1.0 - rho)[:, None, None, None] * baseline[None]
            v = evaluate_policies_reference(P_true, R_mean, play)[:, 0] @ mu
        else:
            vp = pessimistic_evaluation_reference(c.counts_sas, c.counts_sa, c.reward_sum, onehot, weissman_log,
                                                  reward_log)[:, 0] @ mu
            vk = evaluate_policies_reference(P_true, R_mean, greedy)[:, 0] @ mu
            if rule == RULE_OPTIMISTIC:
                rho, lb, v = np.ones(n), vp, vk
                optimistic = np.ones(n, dtype=bool)
            elif rule == RULE_EPSMIX:
                with np.errstate(divide="ignore", invalid="ignore"):
                    mid = (v_low - tau) / (v_low - vp)
                rho = np.where(vp >= tau, 1.0, np.where(v_low >= tau, mid, 0.0))
                lb = rho * vp + (1.0 - rho) * v_low
                optimistic = u[:, e, width - 1] < rho
                v = rho * vk + (1.0 - rho) * v_base
            else:
                go = certified + vp >= tau * (first_episode + e + 1)
                rho = np.where(go, 1.0, 0.0)
                lb = np.where(go, vp, v_low)
                v = np.where(go, vk, v_base)
                certified += lb
                optimistic = go
            play = np.where(optimistic[:, None, None, None], onehot, baseline[None])
        rho_out[:, e] = rho
        lower_out[:, e] = lb
        values[:, e] = v
        regret[:, e] = v_star - v
        states, actions, rewards = sample_trajectories_reference(tables, play, u[:, e])
        returns[:, e] = rewards.sum(axis=1)
        update_counts_reference(c, states, actions, rewards)


# ---------------------------------------------------------------------------- the learners


class ConservativeLearner(Algorithm):
    """Shared constructor, validation and ``run`` of the conservative learners (not registered).

    Parameters
    ----------
    alpha : float in (0, 1)
        Tolerance: every deployed policy must earn at least ``(1 - alpha) V^b``.
    delta : float in (0, 1)
        Confidence: the safety guarantee holds with probability ``>= 1 - delta``.
    baseline_policy : "uniform" or array ``(H, S)`` of actions / ``(H, S, A)`` of probabilities
        The safe baseline ``pi^b`` ("uniform": the uniformly random policy of the model run on).
    baseline_value : None, float > 0, or pair ``(v_low, v_high)``
        ``None``: ``V^b`` is known and computed exactly from the model; a float: the known value;
        a pair: an estimated value (lower bound of the baseline's value, upper bound of the safe
        level; ``tau = (1 - alpha) v_high``).
    bonus : {"bernstein", "hoeffding"}
        The optimistic bonus: UCBVI-BF (Alg. 4, default, rule R3) or UCBVI-CH (Alg. 3).
    optimism_scale : float >= 0
        Multiplies the optimistic bonus; 1.0 is the theory. Safety-neutral: safety rests on the
        pessimistic side only (rule R3). The pessimistic radius has no scale knob (R1, R4).
    """

    model_type = FiniteHorizonMDP
    backends = ("numba", "numpy")
    _rule: int = RULE_STEPMIX
    _name: str = "Conservative"

    def __init__(self, *, alpha: float = 0.1, delta: float = 0.05, baseline_policy="uniform", baseline_value=None,
                 bonus: str = "bernstein", optimism_scale: float = 1.0):
        self.alpha = check_real(alpha, "alpha", low=0.0, high=1.0, low_open=True, high_open=True)
        self.delta = check_real(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
        self.baseline_policy = _check_baseline_policy(baseline_policy)
        self.baseline_value = self._check_baseline_value(baseline_value)
        if bonus not in BONUSES:
            raise InvalidParameterError("bonus", f"must be one of {BONUSES}, got {bonus!r}", value=bonus)
        self.bonus = bonus
        self.optimism_scale = check_real(optimism_scale, "optimism_scale", low=0.0)

    @staticmethod
    def _check_baseline_value(value):
        if value is None:
            return None
        if isinstance(value, tuple | list | np.ndarray):
            if len(value) != 2:
                raise InvalidParameterError("baseline_value", f"a pair (v_low, v_high) was expected, got {value!r}",
                                            value=value)
            low = check_real(value[0], "baseline_value", low=0.0)
            high = check_real(value[1], "baseline_value", low=0.0, low_open=True)
            if low > high:
                raise InvalidParameterError("baseline_value", f"v_low={low:g} exceeds v_high={high:g}",
                                            index=(0,), value=low)
            return (low, high)
        return check_real(value, "baseline_value", low=0.0, low_open=True)

    @classmethod
    def conformance_cases(cls) -> list[dict]:
        return [{"bonus": "bernstein", "optimism_scale": 0.05}, {"bonus": "hoeffding", "optimism_scale": 0.02}]

    # ----------------------------------------------------------------- setup shared with BaselineOnly
    def _baseline(self, mdp: FiniteHorizonMDP) -> np.ndarray:
        """The baseline as ``(H, S, A)`` probabilities for this model (validated against its shape)."""
        if isinstance(self.baseline_policy, str):
            return uniform_policy(mdp.H, mdp.S, mdp.A)
        pi = validate_policy(self.baseline_policy, mdp.H, mdp.S, mdp.A, name="baseline_policy")
        # a fresh writable copy: one compiled signature whatever the flags of the array given
        return np.array(to_stochastic(pi, mdp.A), dtype=np.float64, order="C", copy=True)

    def _values(self, mdp, baseline):
        """``(v_base exact, v_low, v_high)``; raises when the safe level is not positive."""
        v_base = float(mdp.mu @ evaluate(mdp, baseline)[0])
        bv = getattr(self, "baseline_value", None)
        if bv is None:
            if not v_base > 0.0:
                raise InvalidParameterError(
                    "baseline_policy", f"has value V^b = {v_base:g} on {mdp.name}: the conservative constraint "
                    "(1 - alpha) V^b needs V^b > 0 (and the regret bound scales with 1 / (alpha V^b))",
                    value=v_base)
            return v_base, v_base, v_base
        if isinstance(bv, tuple):
            return v_base, bv[0], bv[1]
        return v_base, bv, bv

    def log_terms(self, mdp: FiniteHorizonMDP, episodes: int) -> dict:
        """The constants of this run: UCBVI's ``L`` (optimism), R1's ``S ln 2 + iota`` and the
        reward term (0 for exact rewards). With noisy rewards ``delta`` is split in halves between
        the transition and the reward events."""
        S, A, H = mdp.S, mdp.A, mdp.H
        noisy = mdp.reward_noise is not None
        d = self.delta / 2.0 if noisy else self.delta
        return {"L": ucbvi_log_term(S * H, A, episodes * H, self.delta),
                "weissman_log": weissman_log_term(S, A, H, episodes, d),
                "reward_log": reward_log_term(S, A, H, episodes, d) if noisy else 0.0}

    def _search_settings(self, tau, v_low, H):
        return {"rho_min": safe_floor_coefficient(tau, v_low, H), "use_floor": True,
                "candidates": np.zeros(1), "uppers": np.ones(1), "n_fine": 1}

    def _meta_params(self) -> dict:
        params = self.get_params()
        for k, v in params.items():
            if isinstance(v, np.ndarray):
                params[k] = f"array{v.shape}"
        return params

    def run(self, mdp: FiniteHorizonMDP, episodes: int, *, replicates: int | None = 1, seed=0, backend=None,
            progress: bool = False, chunk_episodes: int | None = None) -> Trace:
        """Run ``episodes`` episodes for each replicate.

        Parameters
        ----------
        mdp : FiniteHorizonMDP
        episodes : int >= 1
            ``K``; it enters the confidence radii (``iota = ln(S A H K / delta)``, UCBVI's ``T = K H``).
        replicates : int >= 1
        seed : int or sequence of SeedSequence
            Replicate ``r`` uses ``rltheory.rng.replicate_seeds(seed, r, r + 1)``.
        backend : {None, "numba", "numpy"}
            The compiled episode loop, or its NumPy twin.
        progress : bool
        chunk_episodes : int, optional
            Episodes per compiled call; results do not depend on it.

        Returns
        -------
        Trace with ``regret, values, threshold, rho, returns, lower_bound, optimistic_values``, each
        ``(replicates, episodes)`` (see :mod:`rltheory.algorithms.conservative`).
        """
        episodes, seeds, backend = self._check_run_args(mdp, episodes, replicates, seed, backend)
        n, H, S, A = len(seeds), mdp.H, mdp.S, mdp.A
        baseline = self._baseline(mdp)
        v_base, v_low, v_high = self._values(mdp, baseline)
        tau = (1.0 - self.alpha) * v_high
        logs = self.log_terms(mdp, episodes)
        search = self._search_settings(tau, v_low, H)
        V_star = backward_induction(mdp).V
        tables = alias_tables(mdp)
        width = uniforms_per_episode(H) + (1 if self._rule == RULE_EPSMIX else 0)
        if chunk_episodes is None:
            chunk_episodes = max(1, min(episodes, 2_000_000 // (n * width)))
        chunk_episodes = check_int(chunk_episodes, "chunk_episodes", low=1)
        gens = generators(seeds)
        kind = _HOEFFDING if self.bonus == "hoeffding" else _BERNSTEIN
        counts = CountState.zeros(n, H, S, A)
        Q = np.full((n, H, S, A), float(H))
        certified = np.zeros(n)
        out = {k: np.empty((n, episodes)) for k in _LOOP_ARRAYS}
        P_true, R_mean, mu = mdp.P_stages, mdp.R, mdp.mu
        common = (self._rule, kind, H, logs["L"], float(S * H), self.optimism_scale, logs["weissman_log"],
                  logs["reward_log"], tau, search["rho_min"], v_low, search["use_floor"], search["candidates"],
                  search["uppers"], search["n_fine"])
        with self._progress(episodes, progress, self._name) as bar:
            for start, size in episode_chunks(episodes, chunk_episodes):
                u = draw_uniforms(gens, size, width)
                chunk_out = {k: np.empty((n, size)) for k in _LOOP_ARRAYS}
                if backend == "numba":
                    before = (tables.P_prob, tables.P_alias, tables.mu_prob, tables.mu_alias, R_mean,
                              tables.bernoulli, P_true, mu, V_star, baseline, v_base, counts.counts_sas,
                              counts.counts_sa, counts.reward_sum, counts.visits, counts.inv_n, Q, certified, *common,
                              start)
                    _run_blocks(_conservative_chunk, before, u, tuple(chunk_out[k] for k in _LOOP_ARRAYS))
                else:
                    _conservative_chunk_reference(tables, P_true, R_mean, mu, V_star, baseline, v_base, counts, Q,
                                                  certified, *common, start, u,
                                                  *(chunk_out[k] for k in _LOOP_ARRAYS))
                for k in _LOOP_ARRAYS:
                    out[k][:, start:start + size] = chunk_out[k]
                bar.update(size)
        out["threshold"] = np.full((n, episodes), tau)
        meta = {"algorithm": type(self).__name__, "params": self._meta_params(), "model": mdp.name,
                "model_fingerprint": mdp.fingerprint, "episodes": episodes, "replicates": n,
                "v_star": float(mu @ V_star[0]), "v_baseline": v_base, "v_low": v_low, "v_high": v_high,
                "threshold": tau, "rho_min": search["rho_min"], "backend": backend, **logs}
        return Trace({k: out[k] for k in TRACE_ARRAYS}, meta)


@register_algorithm
class ConservativeUCBVI(ConservativeLearner):
    """Budget-based conservative UCBVI (Garcelon, Ghavamzadeh, Lazaric & Pirotta 2020, arXiv:2002.03218).

    The comparison method of spec §A2.4: play the optimistic ``pi^k`` when the certified
    cumulative value stays above the cumulative safe level,
    ``sum_{i<k} lb_i + V_low^{pi^k} >= k (1 - alpha) V^b`` (``lb_i`` is ``V_low^{pi^i}`` if episode
    ``i`` played ``pi^i``, else the baseline's value), otherwise the baseline. It satisfies only the
    *cumulative* constraint, so single episodes may fall below ``(1 - alpha) V^b``. Lower bounds
    are the same R1 pessimism as StepMix's (Garcelon et al. use their own confidence sets; this is
    an adaptation, so the name is ours). Parameters as :class:`ConservativeLearner`.
    """

    _rule = RULE_BUDGET
    _name = "CUCBVI"


class OptimisticOnly(ConservativeLearner):
    """The shared loop with the rule replaced by "always optimistic" (``rho = 1``): unconstrained UCBVI.

    Same planner, same uniforms and the same exact evaluation as :class:`~rltheory.algorithms.UCBVI`
    (``bonus_scale = optimism_scale``, stage-dependent counts), so its ``regret``, ``values`` and
    ``returns`` equal UCBVI's for the same seed (``tests/test_stepmix.py`` checks it); it adds the
    conservative learners' diagnostics (``threshold``, ``lower_bound``). Used as the "UCBVI" curve of
    the StepMix figures (one compiled loop for every method) and as the foil of the safety tests.
    Not registered: it is UCBVI.
    """

    _rule = RULE_OPTIMISTIC
    _name = "UCBVI"


@register_algorithm
class BaselineOnly(Algorithm):
    """Always play the baseline (spec §A2.4): zero violations, regret ``K (V* - V^b)``.

    Parameters
    ----------
    baseline_policy : "uniform" or array ``(H, S)`` / ``(H, S, A)``
    alpha : float in (0, 1)
        Only to report the ``threshold`` ``(1 - alpha) V^b`` beside the other learners.

    Trace arrays ``regret, values, threshold, rho (= 0), returns``, each ``(replicates, episodes)``.
    """

    model_type = FiniteHorizonMDP
    backends = ("numba", "numpy")

    def __init__(self, *, baseline_policy="uniform", alpha: float = 0.1):
        self.alpha = check_real(alpha, "alpha", low=0.0, high=1.0, low_open=True, high_open=True)
        self.baseline_policy = _check_baseline_policy(baseline_policy)

    _baseline = ConservativeLearner._baseline

    def run(self, mdp: FiniteHorizonMDP, episodes: int, *, replicates: int | None = 1, seed=0, backend=None,
            progress: bool = False, chunk_episodes: int | None = None) -> Trace:
        """Sample ``episodes`` episodes of the baseline per replicate (arguments as :meth:`ConservativeLearner.run`)."""
        episodes, seeds, backend = self._check_run_args(mdp, episodes, replicates, seed, backend)
        n, H = len(seeds), mdp.H
        baseline = self._baseline(mdp)
        v_base = float(mdp.mu @ evaluate(mdp, baseline)[0])
        v_star = backward_induction(mdp).value
        tables = alias_tables(mdp)
        width = uniforms_per_episode(H)
        if chunk_episodes is None:
            chunk_episodes = max(1, min(episodes, 2_000_000 // (n * width)))
        chunk_episodes = check_int(chunk_episodes, "chunk_episodes", low=1)
        gens = generators(seeds)
        returns = np.empty((n, episodes))
        policies = np.ascontiguousarray(np.broadcast_to(baseline, (n, *baseline.shape)))
        for start, size in episode_chunks(episodes, chunk_episodes):
            u = draw_uniforms(gens, size, width)
            if backend == "numba":
                out = np.empty((n, size))
                _run_blocks(_baseline_chunk, (tables.P_prob, tables.P_alias, tables.mu_prob, tables.mu_alias,
                                              tables.R, tables.bernoulli, baseline), u, (out,))
                returns[:, start:start + size] = out
            else:
                for e in range(size):
                    returns[:, start + e] = sample_trajectories_reference(tables, policies, u[:, e])[2].sum(axis=1)
        full = np.full((n, episodes), v_base)
        meta = {"algorithm": "BaselineOnly", "params": {"alpha": self.alpha, "baseline_policy": (
            self.baseline_policy if isinstance(self.baseline_policy, str) else f"array{self.baseline_policy.shape}")},
                "model": mdp.name, "model_fingerprint": mdp.fingerprint, "episodes": episodes, "replicates": n,
                "v_star": v_star, "v_baseline": v_base, "threshold": (1.0 - self.alpha) * v_base, "backend": backend}
        return Trace({"regret": v_star - full, "values": full, "threshold": (1.0 - self.alpha) * full,
                      "rho": np.zeros((n, episodes)), "returns": returns}, meta)
