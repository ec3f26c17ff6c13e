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

import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numba as nb
import numpy as np
from numba.core import types
from numba.extending import overload

from rltheory.algorithm import register_algorithm
from rltheory.errors import InvalidParameterError, InvalidPolicyError
from rltheory.kernels.counts import CountState, counts_of, update_counts_one, update_counts_reference
from rltheory.kernels.planning import (
    exact_model,
    greedy_tiebreak_one,
    greedy_tiebreak_reference,
    policy_value_one,
    policy_values_reference,
)
from rltheory.kernels.sampling import alias_tables, sample_episode, sample_trajectories_reference
from rltheory.models import FiniteHorizonMDP
from rltheory.planning import backward_induction, evaluate
from rltheory.policies import to_stochastic, uniform_policy, validate_policy
from rltheory.runner import EpisodicLearner, check_choice
from rltheory.validation import check_real, first_index

from .pessimism import (
    empirical_transitions_one,
    pessimistic_evaluation_one,
    pessimistic_evaluation_reference,
    reward_log_term,
    weissman_log_term,
)
from .ucbvi import BONUSES, UCBVIPlanner, ucbvi_log_term, ucbvi_plan_one, ucbvi_plan_reference

__all__ = [
    "ConservativeLearner",
    "ConservativeUCBVI",
    "BaselineOnly",
    "OptimisticOnly",
    "interpolated_baseline",
    "baseline_for_ratio",
    "TRACE_ARRAYS",
    "Pessimism",
    "OptimisticRule",
    "deploy",
    "rule_implementation",
    "greedy_bounds",
]

#: Arrays of a conservative learner's trace, each ``(replicates, episodes)``.
TRACE_ARRAYS = ("regret", "values", "threshold", "rho", "returns", "lower_bound", "optimistic_values")
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


# ---------------------------------------------------------------------------- records


class Pessimism(NamedTuple):
    """Constants of the R1 lower bounds (:mod:`rltheory.algorithms.pessimism`)."""

    weissman_log: float  #: ``S ln 2 + iota``
    reward_log: float  #: ``ln(2 S A H K / delta)``, 0 for exact rewards


class Episode(NamedTuple):
    """What a rule sees in one episode of one replicate (built inside the compiled loop)."""

    P_hat: np.ndarray  #: ``(H, S, A, S)`` empirical transitions
    counts: CountState  #: the replicate's counts (no leading axis)
    greedy: np.ndarray  #: ``(H, S)`` the optimistic policy ``pi^k``
    baseline: np.ndarray  #: ``(H, S, A)`` the baseline ``pi^b``
    k: int  #: episode number, 1-based
    coin: float  #: a uniform of the episode's own (EpsMix's coin)


class Scratch(NamedTuple):
    """Work arrays of one replicate."""

    play: np.ndarray  #: ``(H, S, A)`` the deployed policy (written by the rule)
    Vlow: np.ndarray  #: ``(H + 1, S)``
    V1: np.ndarray  #: ``(S,)``
    V2: np.ndarray  #: ``(S,)``
    certified: np.ndarray  #: ``(1,)`` cumulative certified value (the budget rule's state)


class OptimisticRule(NamedTuple):
    """Always deploy ``pi^k`` (``rho = 1``): unconstrained UCBVI, the foil of the safety tests."""

    tau: float


# ---------------------------------------------------------------------------- the rule, by name


def deploy(rule, ep, model, pess, scratch):
    """Choose the policy to deploy in one episode: writes ``scratch.play`` and returns ``(rho, lb, v)``
    (mixing coefficient, certified lower bound used, exact value of the deployed policy).

    A generic function: each rule is a NamedTuple type (:class:`OptimisticRule` here,
    ``StepMixRule``/``EpsMixRule`` in :mod:`rltheory.algorithms.stepmix`, ``BudgetRule`` in
    :mod:`rltheory.algorithms.budget`) with a compiled implementation registered for it by
    ``@overload(deploy)``, and a NumPy twin ``rule.deploy_reference``. Compiled code only.
    """
    raise NotImplementedError("compiled only: use the rule's deploy_reference in Python")


@nb.njit(cache=True)
def greedy_bounds(ep, model, pess, scratch):
    """``(vp, vk)``: the R1 lower bound and the exact value of the greedy ``pi^k``; ``play`` := one-hot ``pi^k``."""
    play = scratch.play
    H, S, A = play.shape
    for h in range(H):
        for s in range(S):
            for a in range(A):
                play[h, s, a] = 0.0
            play[h, s, ep.greedy[h, s]] = 1.0
    pessimistic_evaluation_one(ep.P_hat, ep.counts.counts_sa, ep.counts.reward_sum, play, pess.weissman_log,
                               pess.reward_log, scratch.Vlow)
    vp = 0.0
    for s in range(S):
        vp += model.mu[s] * scratch.Vlow[0, s]
    vk = policy_value_one(model.P, model.P_next, model.R, model.mu, ep.greedy, scratch.V1, scratch.V2)
    return vp, vk


@nb.njit(cache=True)
def play_greedy_or_baseline(ep, optimistic, play):
    """``play`` := one-hot ``pi^k`` if ``optimistic`` else the baseline."""
    H, S, A = play.shape
    for h in range(H):
        for s in range(S):
            for a in range(A):
                play[h, s, a] = 0.0 if optimistic else ep.baseline[h, s, a]
            if optimistic:
                play[h, s, ep.greedy[h, s]] = 1.0


def rule_implementation(rule_type):
    """Decorator: register a function ``(rule, ep, model, pess, scratch) -> (rho, lb, v)`` as the compiled
    :func:`deploy` of the rule records of type ``rule_type`` (compiled by Numba where the loop calls it).

    Numba caches the loop keyed on this module's source only: after editing a rule in another module, clear
    the ``__pycache__`` ``*.nbi``/``*.nbc`` files of this module (or touch it) so that the loop recompiles.
    """
    def decorate(impl):
        @overload(deploy)
        def _overload(rule, ep, model, pess, scratch):
            if isinstance(rule, types.BaseNamedTuple) and rule.instance_class is rule_type:
                return impl
            return None

        return impl

    return decorate


@rule_implementation(OptimisticRule)
def _deploy_optimistic(rule, ep, model, pess, scratch):
    vp, vk = greedy_bounds(ep, model, pess, scratch)
    play_greedy_or_baseline(ep, True, scratch.play)
    return 1.0, vp, vk


def _greedy_bounds_reference(c, greedy, model, pess):
    """Twin of :func:`greedy_bounds`, vectorised: ``(vp (n,), vk (n,), onehot (n, H, S, A))``."""
    onehot = np.eye(model.R.shape[-1])[greedy]
    vp = pessimistic_evaluation_reference(c.counts_sas, c.counts_sa, c.reward_sum, onehot, pess.weissman_log,
                                          pess.reward_log)[:, 0] @ model.mu
    vk = policy_values_reference(model.P, model.P_next, model.R, model.mu, greedy)
    return vp, vk, onehot


def _optimistic_reference(rule, c, greedy, baseline, model, pess, k, coin, certified):
    vp, vk, onehot = _greedy_bounds_reference(c, greedy, model, pess)
    return np.ones(len(vp)), vp, vk, onehot


OptimisticRule.deploy_reference = _optimistic_reference


# ---------------------------------------------------------------------------- compiled loop


@nb.njit(cache=True)
def _conservative_replicate(tables, model, counts, Q, plan, pess, rule, baseline, certified, first_episode, u, r,
                            out):
    """Episodes of replicate ``r`` (serial; :func:`_run_blocks` runs blocks of replicates on parallel threads)."""
    n_rep, n_ep, width = u.shape
    _, Hq, S, A = Q.shape
    mu, V_star = model.mu, model.V_star
    bonus = np.empty((Hq, S, A))
    U = np.empty((Hq, S, A))
    V = np.empty((Hq + 1, S))
    greedy = np.empty((Hq, S), np.int64)
    cr = counts_of(counts, r)
    P_hat = np.empty(cr.counts_sas.shape)
    scratch = Scratch(np.empty((Hq, S, A)), np.empty((Hq + 1, S)), np.empty(S), np.empty(S), certified[r:r + 1])
    states = np.empty(Hq + 1, np.int64)
    actions = np.empty(Hq, np.int64)
    rewards = np.empty(Hq)
    Qr = Q[r]
    for e in range(n_ep):
        # 1. optimism: UCBVI's planner (Alg. 2 with the Alg. 3 or Alg. 4 bonus), greedy policy (R3)
        ucbvi_plan_one(plan, cr, bonus, Qr, V, U)
        greedy_tiebreak_one(Qr, U, greedy)
        vo = 0.0
        vs = 0.0
        for s in range(S):
            vo += mu[s] * V[0, s]
            vs += mu[s] * V_star[0, s]
        out.optimistic_values[r, e] = vo
        # 2-3. pessimism (R1) and the rule
        empirical_transitions_one(cr.counts_sas, cr.counts_sa, P_hat)
        ep = Episode(P_hat, cr, greedy, baseline, first_episode + e + 1, u[r, e, width - 1])
        rho, lb, v = deploy(rule, ep, model, pess, scratch)
        out.rho[r, e] = rho
        out.lower_bound[r, e] = lb
        out.values[r, e] = v
        out.regret[r, e] = vs - v
        # 4. act and record
        sample_episode(tables.P_prob, tables.P_alias, tables.P_next, tables.mu_prob, tables.mu_alias, tables.R,
                       tables.bernoulli, scratch.play, u[r, e], states, actions, rewards)
        g = 0.0
        for h in range(Hq):
            g += rewards[h]
        out.returns[r, e] = g
        update_counts_one(cr, states, actions, rewards)


@nb.njit(nogil=True, cache=True)
def _conservative_chunk(tables, model, counts, Q, plan, pess, rule, baseline, certified, first_episode, u, r_start,
                        r_stop, out):
    """The fused episode loop (module docstring) for replicates ``r_start <= r < r_stop``, in place.

    Releases the GIL: :func:`_run_blocks` runs blocks of replicates on parallel threads (no
    ``prange``: the parfor lowering of this large loop tripled its compile time).
    """
    for r in range(r_start, r_stop):
        _conservative_replicate(tables, model, counts, Q, plan, pess, rule, baseline, certified, first_episode, u, r,
                                out)


def _run_blocks(kernel, args_before, u, outputs) -> None:
    """Run ``kernel(*args_before, u, r_start, r_stop, outputs)`` over all replicates, in contiguous blocks
    on ``numba.get_num_threads()`` threads (the kernels release the GIL). Replicates are independent, so
    the split does not change any number."""
    n = u.shape[0]
    workers = max(1, min(n, nb.get_num_threads()))
    if workers == 1:
        kernel(*args_before, u, 0, n, outputs)
        return
    bounds = np.linspace(0, n, workers + 1).astype(np.int64)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(kernel, *args_before, u, int(a), int(b), outputs)
                   for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
        for f in futures:
            f.result()


@nb.njit(nogil=True, cache=True)
def _baseline_chunk(tables, baseline, u, r_start, r_stop, returns):
    """Sampled returns of the baseline for replicates ``r_start <= r < r_stop`` (in place)."""
    _, n_ep, _ = u.shape
    H = tables.R.shape[0]
    states = np.empty(H + 1, np.int64)
    actions = np.empty(H, np.int64)
    rewards = np.empty(H)
    for r in range(r_start, r_stop):
        for e in range(n_ep):
            sample_episode(tables.P_prob, tables.P_alias, tables.P_next, tables.mu_prob, tables.mu_alias, tables.R,
                           tables.bernoulli, baseline, u[r, e], states, actions, rewards)
            g = 0.0
            for h in range(H):
                g += rewards[h]
            returns[r, e] = g


def _conservative_chunk_reference(tables, model, counts, Q, plan, pess, rule, baseline, certified, first_episode, u,
                                  out):
    """Twin of :func:`_conservative_chunk`: a Python loop over episodes, vectorised over replicates."""
    n, n_ep, width = u.shape
    c = counts
    mu = model.mu
    v_star = model.V_star[0] @ mu
    for e in range(n_ep):
        V, U = ucbvi_plan_reference(plan, c, Q)
        greedy = greedy_tiebreak_reference(Q, U)
        out.optimistic_values[:, e] = V[:, 0] @ mu
        rho, lb, v, play = rule.deploy_reference(c, greedy, baseline, model, pess, first_episode + e + 1,
                                                 u[:, e, width - 1], certified)
        out.rho[:, e] = rho
        out.lower_bound[:, e] = lb
        out.values[:, e] = v
        out.regret[:, e] = v_star - v
        states, actions, rewards = sample_trajectories_reference(tables, play, u[:, e])
        out.returns[:, e] = rewards.sum(axis=1)
        update_counts_reference(c, states, actions, rewards)


class ConservativeOut(NamedTuple):
    """Per-episode outputs of a chunk, each ``(replicates, chunk)``."""

    regret: np.ndarray
    values: np.ndarray
    rho: np.ndarray
    returns: np.ndarray
    lower_bound: np.ndarray
    optimistic_values: np.ndarray


class _Run(NamedTuple):
    tables: object
    model: object
    counts: CountState
    Q: np.ndarray
    plan: UCBVIPlanner
    pess: Pessimism
    rule: object
    baseline: np.ndarray
    certified: np.ndarray
    v_star: float
    meta: dict


# ---------------------------------------------------------------------------- the learners


class ConservativeLearner(EpisodicLearner):
    """Shared constructor, validation and run state of the conservative learners (not registered).

    A subclass supplies its rule by name: :meth:`make_rule` returns the rule's record (a NamedTuple
    with a compiled :func:`deploy` registered for its type and a NumPy twin ``deploy_reference``).

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
    bonus_scale : float >= 0
        Multiplies the optimistic bonus (the name UCBVI uses); 1.0 is the theory. Safety-neutral:
        safety rests on the pessimistic side only (rule R3). The pessimistic radius has no scale knob
        (R1, R4).
    optimism_scale : float >= 0, deprecated
        The old name of ``bonus_scale`` (a ``DeprecationWarning``; giving both is an error).
    """

    trace_arrays = _LOOP_ARRAYS
    #: Uniforms per episode beyond the ``1 + 3H`` of the sampling layout (EpsMix's coin: 1).
    extra_uniforms: int = 0

    def __init__(self, *, alpha: float = 0.1, delta: float = 0.05, baseline_policy="uniform", baseline_value=None,
                 bonus: str = "bernstein", bonus_scale: float = 1.0, optimism_scale: float | None = None):
        self.alpha = check_real(alpha, "alpha", low=0.0, high=1.0, low_open=True, high_open=True)
        self.delta = check_real(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
        self.baseline_policy = _check_baseline_policy(baseline_policy)
        self.baseline_value = self._check_baseline_value(baseline_value)
        self.bonus = check_choice(bonus, "bonus", BONUSES)
        if optimism_scale is not None:
            if bonus_scale != 1.0:
                raise InvalidParameterError("optimism_scale", "is the deprecated name of bonus_scale: give only "
                                                              "bonus_scale", value=optimism_scale)
            warnings.warn("optimism_scale is deprecated: use bonus_scale (the name UCBVI uses)", DeprecationWarning,
                          stacklevel=2)
            bonus_scale = check_real(optimism_scale, "optimism_scale", low=0.0)
        self.bonus_scale = check_real(bonus_scale, "bonus_scale", low=0.0)
        self.optimism_scale = None

    @property
    def label(self) -> str:
        return type(self).__name__

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
        return [{"bonus": "bernstein", "bonus_scale": 0.05}, {"bonus": "hoeffding", "bonus_scale": 0.02}]

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

    def make_rule(self, tau: float, v_low: float, v_base: float, H: int):
        """The rule's record for this run (``tau`` the safe level, ``v_low``/``v_base`` the baseline's values)."""
        raise NotImplementedError

    # ----------------------------------------------------------------- the skeleton's hooks
    def uniform_width(self, mdp) -> int:
        return super().uniform_width(mdp) + self.extra_uniforms

    def start(self, mdp, run):
        n, H, S, A = run.replicates, mdp.H, mdp.S, mdp.A
        baseline = self._baseline(mdp)
        v_base, v_low, v_high = self._values(mdp, baseline)
        tau = (1.0 - self.alpha) * v_high
        logs = self.log_terms(mdp, run.episodes)
        rule = self.make_rule(tau, v_low, v_base, H)
        model = exact_model(mdp)
        plan = UCBVIPlanner(self.bonus == "bernstein", float(H), logs["L"], float(S * H), self.bonus_scale)
        v_star = float(mdp.mu @ model.V_star[0])
        meta = {"v_baseline": v_base, "v_low": v_low, "v_high": v_high, "threshold": tau,
                "rho_min": float(getattr(rule, "rho_min", _safe_floor(tau, v_low, H))), **logs}
        return _Run(alias_tables(mdp), model, CountState.zeros(n, H, S, A), np.full((n, H, S, A), float(H)), plan,
                    Pessimism(logs["weissman_log"], logs["reward_log"]), rule, baseline, np.zeros(n), v_star, meta)

    def step(self, run, u, start, out):
        _run_blocks(_conservative_chunk, (run.tables, run.model, run.counts, run.Q, run.plan, run.pess, run.rule,
                                          run.baseline, run.certified, start), u,
                    ConservativeOut(*(out[k] for k in _LOOP_ARRAYS)))

    def step_reference(self, run, u, start, out):
        _conservative_chunk_reference(run.tables, run.model, run.counts, run.Q, run.plan, run.pess, run.rule,
                                      run.baseline, run.certified, start, u,
                                      ConservativeOut(*(out[k] for k in _LOOP_ARRAYS)))

    def finish(self, run, arrays) -> dict:
        return {"threshold": np.full(arrays["values"].shape, run.meta["threshold"])}

    def run_meta(self, run) -> dict:
        return dict(run.meta)


def _safe_floor(tau, v_low, H):
    from .stepmix import safe_floor_coefficient

    return safe_floor_coefficient(tau, v_low, H)


@register_algorithm
class ConservativeUCBVI(ConservativeLearner):
    """Budget-based conservative UCBVI (Garcelon, Ghavamzadeh, Lazaric & Pirotta 2020, arXiv:2002.03218).

    The comparison method of spec §A2.4: play the optimistic ``pi^k`` when the certified
    cumulative value stays above the cumulative safe level,
    ``sum_{i<k} lb_i + V_low^{pi^k} >= k (1 - alpha) V^b`` (``lb_i`` is ``V_low^{pi^i}`` if episode
    ``i`` played ``pi^i``, else the baseline's value), otherwise the baseline. It satisfies only the
    *cumulative* constraint, so single episodes may fall below ``(1 - alpha) V^b``. Lower bounds
    are the same R1 pessimism as StepMix's (Garcelon et al. use their own confidence sets; this is
    an adaptation, so the name is ours). The rule: :class:`rltheory.algorithms.budget.BudgetRule`.
    Parameters as :class:`ConservativeLearner`.
    """

    label = "CUCBVI"

    def make_rule(self, tau, v_low, v_base, H):
        from .budget import BudgetRule

        return BudgetRule(tau, v_low, v_base)


class OptimisticOnly(ConservativeLearner):
    """The shared loop with the rule replaced by "always optimistic" (``rho = 1``): unconstrained UCBVI.

    Same planner, same uniforms and the same exact evaluation as :class:`~rltheory.algorithms.UCBVI`
    (``bonus_scale`` alike, stage-dependent counts), so its ``regret``, ``values`` and
    ``returns`` equal UCBVI's for the same seed (``tests/test_stepmix.py`` checks it); it adds the
    conservative learners' diagnostics (``threshold``, ``lower_bound``). Used as the "UCBVI" curve of
    the StepMix figures (one compiled loop for every method) and as the foil of the safety tests.
    Not registered: it is UCBVI.
    """

    label = "UCBVI"

    def make_rule(self, tau, v_low, v_base, H):
        return OptimisticRule(tau)


@register_algorithm
class BaselineOnly(EpisodicLearner):
    """Always play the baseline (spec §A2.4): zero violations, regret ``K (V* - V^b)``.

    Parameters
    ----------
    baseline_policy : "uniform" or array ``(H, S)`` / ``(H, S, A)``
    alpha : float in (0, 1)
        Only to report the ``threshold`` ``(1 - alpha) V^b`` beside the other learners.

    Trace arrays ``regret, values, threshold, rho (= 0), returns``, each ``(replicates, episodes)``.
    """

    label = "Baseline"
    trace_arrays = ("returns",)

    def __init__(self, *, baseline_policy="uniform", alpha: float = 0.1):
        self.alpha = check_real(alpha, "alpha", low=0.0, high=1.0, low_open=True, high_open=True)
        self.baseline_policy = _check_baseline_policy(baseline_policy)

    _baseline = ConservativeLearner._baseline

    def state_bytes(self, mdp) -> int:
        return 8 * mdp.H * mdp.S * mdp.A

    def start(self, mdp, run):
        baseline = self._baseline(mdp)
        v_base = float(mdp.mu @ evaluate(mdp, baseline)[0])
        return {"tables": alias_tables(mdp), "baseline": baseline, "v_base": v_base,
                "v_star": backward_induction(mdp).value, "n": run.replicates}

    def step(self, run, u, start, out):
        _run_blocks(_baseline_chunk, (run["tables"], run["baseline"]), u, out["returns"])

    def step_reference(self, run, u, start, out):
        policies = np.ascontiguousarray(np.broadcast_to(run["baseline"], (run["n"], *run["baseline"].shape)))
        for e in range(u.shape[1]):
            out["returns"][:, e] = sample_trajectories_reference(run["tables"], policies, u[:, e])[2].sum(axis=1)

    def optimal_value(self, run, mdp) -> float:
        return run["v_star"]

    def finish(self, run, arrays) -> dict:
        full = np.full(arrays["returns"].shape, run["v_base"])
        return {"regret": run["v_star"] - full, "values": full, "threshold": (1.0 - self.alpha) * full,
                "rho": np.zeros(full.shape)}

    def run_meta(self, run) -> dict:
        return {"v_baseline": run["v_base"], "threshold": (1.0 - self.alpha) * run["v_base"]}
