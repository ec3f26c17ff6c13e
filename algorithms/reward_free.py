"""Reward-free exploration in linear mixture MDPs: HF-UCRL-RFE++, UCRL-RFE and a random baseline.

Paper: J. Zhang, W. Zhang & Q. Gu, "Optimal Horizon-Free Reward-Free Exploration for Linear Mixture
MDPs", ICML 2023 (arXiv 2303.10165). Only its abstract could be retrieved; the algorithms follow the first
author's thesis (W. Zhang, UCLA 2024, ch. 2: Alg. 4 = HF-UCRL-RFE++ = the ICML paper, Alg. 2 = UCRL-RFE of
Zhang, Zhou & Gu, NeurIPS 2021, Alg. 1 = PLAN, Alg. 5 = HOME of Zhou & Gu 2022). Thesis numbering below.

Protocol. Exploration: ``K`` episodes from the start state ``s_1`` without rewards. Planning: given any
reward ``r`` whose total along every trajectory is at most 1 (Assumption 2.6.1), return a policy
(:meth:`plan`). Models are :class:`~rltheory.models.LinearMixtureMDP`; learners read ``phi`` only and
draw transitions from the true kernel.

**HF-UCRL-RFE++** (:class:`HFUCRLRFE`, Alg. 4). Two weighted value-targeted regressions, each with
``M`` HOME levels (the ``2^m``-th powers of its target): the *hat* chain regresses the optimistic
trajectory uncertainty ``V_hat_{k,h+1}``, the *tilde* chain the candidate's value ``V_tilde_{k,h+1}``.
Per episode: freeze the covariances (``Sigma_dot``), pick ``(pi_k, theta_k, r_k)`` maximising
``V_hat_{k,1}(s_1)`` (line 5), roll out ``pi_k``, weight each level by HOME's variance (running
covariance in the epistemic term, frozen ones in the error bars), update. Constants of Thm 2.6.3
(``M``, ``alpha = H^{-1/2}``, ``gamma = d^{-1/4}``, ``lambda = d / B^2``, ``beta_k``) come from
:mod:`rltheory.bounds.reward_free`.

Our choices, labelled as ours (the paper leaves them open or the prototype addendum of the project's
digest made them rules):

* **Tractable oracle (ours).** Line 5 maximises over all policies, all ``theta`` in the intersection of
  ``2 M k`` ellipsoids and all rewards in R: intractable. We search ``theta in {theta_hat_{k,0},
  theta_tilde_{k,0}}`` (the boundary points of the digest were feasible in ~2 of 8192 episodes and are
  dropped), ``r in {0, state indicators / H [, pair indicators / H], n_random U[0,1]/H tables drawn per
  episode, r_{k-1}}``, and for each pair a backward greedy DP over ``pi`` (exact for fixed ``pi_{h+1..H}``).
  The best ``V_hat_{k,1}(s_1)`` wins, ties broken by the unclipped score. This breaks the monotonicity
  Lemma 2.8.8, so ``V_hat_{k,1}(s_1)`` and the saturation fraction (entries of ``V_hat`` clipped at 1)
  are logged per episode (``vhat1``, ``saturation``).
* **Clipping.** ``V_tilde`` and ``V_hat`` are clipped to ``[0, 1]`` before powers and targets (an
  estimated kernel is improper; ``V^{2^20}`` overflows otherwise).
* **Index of u (reconstructed).** ``u_{k,h} = min(1, beta ||phi_{V_{h+1}}||_{Sigma_tilde_dot^{-1}})``: the
  thesis prints ``V_h``; the analysis needs ``V_{h+1}``.
* **Radius.** ``beta_k`` of Thm 2.6.3 is ~2e3 at simulable ``K``: every ``min(1, .)`` saturates and
  exploration degenerates. ``beta`` (absolute, constant) or ``beta_scale`` (multiplier of ``beta_k``) are
  exposed; figures use ``beta_scale = 1e-3`` (the addendum's working value) and say so.
* **Planning parameter.** The thesis plans with "``theta_K``"; the hat-chain estimate is nearly
  uninformative (it regresses uncertainties), so we plan with the pooled level-0 regression
  ``theta_plan = (Sigma_hat_0 + Sigma_tilde_0 - lambda I)^{-1} (b_hat_0 + b_tilde_0)``.
* **Mass projection.** The estimated kernel's rows should sum to one: ``<phi_1(s, a), theta> = 1`` for
  all pairs. Metrics are reported with the ``Sigma``-weighted projection onto these constraints
  (``value_error``, ``gap``, ...) and without (``value_error_raw``).

**UCRL-RFE** (:class:`UCRLRFE`, Alg. 2, Hoeffding). Pseudo-reward ``r^k_h(s, a) = min(1, (2 beta / H)
max_{f: S -> [0, H-h]} ||phi_f(s, a)||_{Sigma_k^{-1}})`` (the max at a vertex of the box: exact by a
Gray-code walk over ``2^S`` vertices, so ``S <= 16``), PLAN with bonus, rollout with the maximising
``f`` as value target. Constants of Thm 2.4.3. Planning keeps the bonus (as specified); metrics of
plug-in planning (``beta = 0``) are reported beside it (``*_plugin``).

**UCRL-RFE+** (:class:`UCRLRFEPlus`, Alg. 3, Bernstein): UCRL-RFE plus a variance-weighted regression
on the exploration values and one on their squares; explores with PLAN on the weighted estimate. Constants
of Thm 2.5.1. Planning as UCRL-RFE (u-regression, bonus kept; plug-in reported beside it).

**Random baseline** (:class:`RandomExploration`, ours): uniformly random actions; the model estimator is
unweighted value-targeted regression with all indicator targets ``f = 1{s' = j}`` (``S`` targets per
transition), i.e. ``Sigma = lambda I + sum N(s, a) Phi(s, a) Phi(s, a)^T``.

Metrics (``run``), arrays ``(replicates, n_checkpoints)`` at the checkpoint episode counts
(``meta["checkpoints"]``), over a fixed test-reward set (:func:`evaluation_rewards`, all in R):

* ``gap`` -- tie-adversarial gap: per test reward, ``max_a e(a) - min_a e(a)`` with ``e = Q_hat_1(s_1, .)
  - Q*_1(s_1, .)``; a first-step bonus that nearly ties the true values attains it, so it lower-bounds
  ``sup_{r in R}`` of the planned gap (up to the total-reward scale). Max over the test rewards.
* ``value_error`` / ``value_error_raw`` -- ``max_r |V_hat_1(s_1; r) - V*_1(s_1; r)|`` with / without the
  mass projection; ``theta_error`` = ``||theta_plan - theta*||_2`` (raw);
* ``mean_gap`` -- mean over test rewards of the planned policy's true gap ``V*_1 - V^{pi_hat}_1``;
  ``solved_fraction`` -- fraction of test rewards solved exactly (gap ``<= 1e-12``).

With ``run(..., plan_rewards=R)`` the planning phase also runs inside ``run`` on each replicate's final
estimate: ``planned_first_action`` and ``planned_gap``, ``(replicates, len(R))``, are what :meth:`plan` returns
for each reward (so runs on the experiment runner's workers, whose learner state stays there, can be scored).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rltheory.algorithm import Algorithm, register_algorithm
from rltheory.errors import InvalidParameterError
from rltheory.linear_mixture import LinearMixtureMDP
from rltheory.regression import project_affine
from rltheory.rng import generators
from rltheory.trace import Trace
from rltheory.validation import as_float_array, check_finite, check_int, check_real

from ..bounds.reward_free import (
    hf_alpha,
    hf_beta,
    hf_delta,
    hf_gamma,
    hf_lambda,
    hf_levels,
    ucrl_rfe_beta,
    ucrl_rfe_lambda,
    ucrl_rfe_plus_constants,
)
from . import reward_free_kernels as kern

__all__ = ["HFUCRLRFE", "UCRLRFE", "UCRLRFEPlus", "RandomExploration", "PlanResult", "evaluation_rewards",
           "geometric_checkpoints", "check_reward", "EstimatePlanner", "RewardFreeEvaluator", "REWARD_ATOL"]

#: Slack on "total reward along every trajectory is at most 1".
REWARD_ATOL = 1e-9
#: Gap below which a test reward counts as solved exactly.
SOLVED_TOL = 1e-12


# ---------------------------------------------------------------------------------------- rewards
def evaluation_rewards(S: int, A: int, H: int, *, n_uniform: int = 24, n_pairs: int = 18,
                       seed: int = 20230317) -> np.ndarray:
    """The test-reward set ``(n, S, A)`` (stationary, each in R since every entry is at most ``1/H``):
    ``S`` state indicators ``1{s = j}/H``, ``n_uniform`` tables ``U[0, 1]/H`` and ``min(n_pairs, S A)``
    pair indicators ``1{(s, a) = (j, b)}/H`` (pairs drawn without replacement). Fixed by ``seed``."""
    S, A, H = check_int(S, "S", low=1), check_int(A, "A", low=1), check_int(H, "H", low=1)
    rng = np.random.default_rng(seed)
    states = np.repeat(np.eye(S)[:, :, None], A, axis=2)
    uniform = rng.random((n_uniform, S, A))
    pairs = np.zeros((min(n_pairs, S * A), S * A))
    pairs[np.arange(len(pairs)), rng.choice(S * A, size=len(pairs), replace=False)] = 1.0
    return np.concatenate([states, uniform, pairs.reshape(-1, S, A)]) / H


def check_reward(reward, S: int, A: int, H: int, *, per_step: bool = False, name: str = "reward") -> np.ndarray:
    """Validate a reward and return it as ``(H, S, A)`` with total at most 1.

    ``reward (S, A)`` (stationary) or ``(H, S, A)``, entries ``>= 0``. With ``per_step=False`` the total
    along every trajectory must be at most 1; we check the sufficient condition ``sum_h max_{s,a} r_h <= 1``
    (it is necessary too when every pair is reachable at every step). With ``per_step=True`` entries must
    lie in ``[0, 1]`` and the reward is rescaled by ``1/H`` (thesis Cor. 2.6.6's variant).
    """
    r = as_float_array(reward, name, error=InvalidParameterError)
    if r.shape == (S, A):
        r = np.broadcast_to(r, (H, S, A))
    if r.shape != (H, S, A):
        raise InvalidParameterError(name, f"must have shape ({S}, {A}) or ({H}, {S}, {A}), got {r.shape}",
                                    value=r.shape)
    check_finite(r, name, error=InvalidParameterError)
    neg = r < 0
    if neg.any():
        idx = tuple(int(i) for i in np.argwhere(neg)[0])
        raise InvalidParameterError(name, f"rewards must be >= 0, got {r[idx]!r}", index=idx, value=float(r[idx]))
    if per_step:
        big = r > 1.0
        if big.any():
            idx = tuple(int(i) for i in np.argwhere(big)[0])
            raise InvalidParameterError(name, f"per-step rewards must be <= 1, got {r[idx]!r}", index=idx,
                                        value=float(r[idx]))
        return np.ascontiguousarray(r / H)
    peaks = r.reshape(H, -1).max(axis=1)
    cum = np.cumsum(peaks)
    if cum[-1] > 1.0 + REWARD_ATOL:
        h = int(np.argmax(cum > 1.0 + REWARD_ATOL))
        raise InvalidParameterError(name, f"trajectory total can reach {cum[-1]!r} > 1 (the declared scale); the "
                                          f"running maximum exceeds 1 at step {h} (pass per_step=True for "
                                          f"per-step rewards in [0, 1])", index=(h,), value=float(cum[-1]))
    return np.ascontiguousarray(r)


def geometric_checkpoints(episodes: int, per_octave: int = 2) -> np.ndarray:
    """Episode counts ``round(2^(j / per_octave))`` in ``[1, episodes]`` (unique), plus ``episodes``."""
    episodes = check_int(episodes, "episodes", low=1)
    n = int(math.floor(math.log2(episodes) * per_octave)) + 1
    cps = np.unique(np.round(2.0 ** (np.arange(n) / per_octave)).astype(np.int64))
    cps = cps[(cps >= 1) & (cps <= episodes)]
    return np.unique(np.append(cps, episodes))


def _check_checkpoints(checkpoints, episodes: int) -> np.ndarray:
    if checkpoints is None:
        return geometric_checkpoints(episodes)
    cps = np.asarray(checkpoints)
    if cps.ndim != 1 or cps.size == 0 or not np.issubdtype(cps.dtype, np.integer):
        raise InvalidParameterError("checkpoints", f"must be a non-empty 1-d sequence of integers, got {checkpoints!r}",
                                    value=str(checkpoints))
    bad = (cps < 1) | (cps > episodes)
    if bad.any():
        i = int(np.argmax(bad))
        raise InvalidParameterError("checkpoints", f"must lie in [1, episodes={episodes}], got {int(cps[i])}",
                                    index=(i,), value=int(cps[i]))
    return np.unique(cps.astype(np.int64))


# ---------------------------------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class PlanResult:
    """Output of :meth:`plan`: ``policy (H, S)``, its exact ``value`` on the true model from ``s_1``,
    the optimal ``optimal_value``, and the learner's ``estimated_value`` ``V_hat_1(s_1)``."""

    policy: np.ndarray
    value: float
    optimal_value: float
    estimated_value: float

    @property
    def gap(self) -> float:
        return self.optimal_value - self.value


def _dp(P, rewards, H, bonus=0.0, G=None):
    """Backward DP with values clipped to ``[0, 1]``: ``P (S, A, S)``, ``rewards (n, H, S, A)``.

    ``Q_h = [r_h + P V_{h+1} + bonus ||phi_{V_{h+1}}||]_[0, 1]`` (no clip when ``bonus`` is ``None``:
    exact evaluation on a true kernel). Returns ``(Q (n, H, S, A), V (n, H+1, S))``.
    """
    n, _, S, A = rewards.shape
    V = np.zeros((n, H + 1, S))
    Q = np.zeros((n, H, S, A))
    for h in range(H - 1, -1, -1):
        v = V[:, h + 1]
        q = rewards[:, h] + np.einsum("saj,nj->nsa", P, v)
        if bonus is None:
            Q[:, h] = q
        else:
            if bonus > 0:
                q = q + bonus * np.sqrt(np.maximum(np.einsum("saij,ni,nj->nsa", G, v, v), 0.0))
            Q[:, h] = np.clip(q, 0.0, 1.0)
        V[:, h] = Q[:, h].max(axis=-1)
    return Q, V


def _policy_values(P, rewards, pi, H):
    """Exact values ``(n, H+1, S)`` of deterministic policies ``pi (n, H, S)`` on the true kernel."""
    n, _, S, _ = rewards.shape
    V = np.zeros((n, H + 1, S))
    idx = np.arange(S)
    for h in range(H - 1, -1, -1):
        a = pi[:, h]
        V[:, h] = rewards[:, h][np.arange(n)[:, None], idx[None, :], a] + np.einsum(
            "nsj,nj->ns", P[idx[None, :], a], V[:, h + 1])
    return V


class EstimatePlanner:
    """Planning in an estimated model ``theta`` of a linear mixture MDP, with the mass projection."""

    def __init__(self, model: LinearMixtureMDP):
        self.model = model
        self.constraint = model.phi_V(np.ones(model.S)).reshape(model.S * model.A, model.d)   # rows phi_1(s, a)

    def project(self, theta, Sigma) -> np.ndarray:
        """The mass projection: ``argmin ||t - theta||_Sigma`` s.t. ``<phi_1(s, a), t> = 1`` for all pairs."""
        return project_affine(theta, Sigma, self.constraint, np.ones(len(self.constraint)))

    def plan(self, theta, rewards, bonus=0.0, G=None):
        """Greedy plan in the model ``theta``: ``(pi (n, H, S), Q_hat (n, H, S, A), V_hat (n, H+1, S))``."""
        Pt = self.model.transition_from(theta)
        Q, V = _dp(Pt, rewards, self.model.H, bonus=bonus, G=G)
        return np.argmax(Q, axis=-1), Q, V


class RewardFreeEvaluator(EstimatePlanner):
    """Exact scoring of an estimate ``theta`` against a test-reward set on the true model."""

    def __init__(self, model: LinearMixtureMDP, rewards=None):
        super().__init__(model)
        H, S, A = model.H, model.S, model.A
        if rewards is None:
            rewards = evaluation_rewards(S, A, H)
        rewards = np.asarray(rewards, dtype=np.float64)
        if rewards.ndim not in (3, 4):
            raise InvalidParameterError("test_rewards", "must have shape (n, S, A) or (n, H, S, A), got "
                                                        f"{rewards.shape}", value=rewards.shape)
        self.rewards = np.stack([check_reward(r, S, A, H, name="test_rewards") for r in rewards])
        self.Qstar, self.Vstar = _dp(model.P, self.rewards, H, bonus=None)

    def metrics(self, theta, Sigma, *, bonus=0.0, G=None) -> dict:
        m = self.model
        s1 = m.start_state
        theta_p = self.project(theta, Sigma)
        pi, Q, V = self.plan(theta_p, self.rewards, bonus, G)
        _, _, V_raw = self.plan(theta, self.rewards, bonus, G)
        e = Q[:, 0, s1, :] - self.Qstar[:, 0, s1, :]
        true = _policy_values(m.P, self.rewards, pi, m.H)[:, 0, s1]
        gaps = self.Vstar[:, 0, s1] - true
        return {
            "gap": float(np.max(e.max(axis=1) - e.min(axis=1))),
            "value_error": float(np.max(np.abs(V[:, 0, s1] - self.Vstar[:, 0, s1]))),
            "value_error_raw": float(np.max(np.abs(V_raw[:, 0, s1] - self.Vstar[:, 0, s1]))),
            "theta_error": float(np.linalg.norm(theta - m.theta)),
            "mean_gap": float(np.mean(gaps)),
            "solved_fraction": float(np.mean(gaps <= SOLVED_TOL)),
        }


METRICS = ("gap", "value_error", "value_error_raw", "theta_error", "mean_gap", "solved_fraction")


# ---------------------------------------------------------------------------------------- base class
class _RewardFree(Algorithm):
    """Shared ``run`` / ``plan`` skeleton: per replicate, ``_init`` then ``_episodes`` up to each checkpoint."""

    model_type = LinearMixtureMDP
    extra_metrics: tuple[str, ...] = ()
    per_episode: tuple[str, ...] = ()

    def run(self, model, episodes, *, replicates=1, seed=0, checkpoints=None, test_rewards=None, backend=None,
            progress=False, plan_rewards=None) -> Trace:
        """Explore ``episodes`` episodes per replicate; metrics at ``checkpoints`` (default geometric).

        Returns a :class:`~rltheory.trace.Trace` with ``(R, n_checkpoints)`` metric arrays (see the module
        docstring) and ``(R, episodes)`` per-episode diagnostics; ``meta["checkpoints"]`` lists the counts.
        The learner keeps each replicate's final estimate for :meth:`plan`.

        ``plan_rewards`` (optional, ``(n, S, A)`` or ``(n, H, S, A)``, each with total at most 1): the
        planning phase run inside ``run`` on each replicate's final estimate, for runs whose learner state
        never comes back (the experiment runner's worker processes). Adds ``planned_first_action``
        ``(R, n)`` (int64: the planned action at step 1 in the start state) and ``planned_gap`` ``(R, n)``
        (``V*_1(s_1) - V^pi_1(s_1)`` of the planned policy, exact), each entry as :meth:`plan` returns it.
        """
        episodes, seeds, backend = self._check_run_args(model, episodes, replicates, seed, backend)
        cps = _check_checkpoints(checkpoints, episodes)
        plan_r = None if plan_rewards is None else _check_plan_rewards(plan_rewards, model)
        ev = RewardFreeEvaluator(model, test_rewards)
        names = METRICS + self.extra_metrics
        out = {k: np.zeros((len(seeds), len(cps))) for k in names}
        diag = {k: np.zeros((len(seeds), episodes)) for k in self.per_episode}
        self.model_ = model
        self.states_ = []
        bar = self._progress(episodes * len(seeds), progress, type(self).__name__)
        for r, gen in enumerate(generators(seeds)):
            state = self._init(model, episodes)
            done = 0
            for c, cp in enumerate(cps):
                self._episodes(model, state, done, int(cp), gen, backend, {k: v[r] for k, v in diag.items()})
                bar.update(int(cp) - done)
                done = int(cp)
                for k, v in self._metrics(model, state, ev).items():
                    out[k][r, c] = v
            self.states_.append(state)
        bar.close()
        if plan_r is not None:
            planned = [[self._plan_state(state, r[None]) for r in plan_r] for state in self.states_]
            out["planned_first_action"] = np.array([[p.policy[0, model.start_state] for p in row] for row in planned],
                                                   dtype=np.int64).reshape(len(seeds), len(plan_r))
            out["planned_gap"] = np.array([[p.gap for p in row] for row in planned]).reshape(len(seeds), len(plan_r))
        meta = {"algorithm": type(self).__name__, "params": self.get_params(), "model": model.name,
                "fingerprint": model.fingerprint, "episodes": episodes, "checkpoints": cps.tolist(),
                "backend": backend, **self._meta(model, episodes)}
        return Trace({**out, **diag}, meta=meta)

    def _meta(self, model, episodes) -> dict:
        return {}

    def plan(self, reward, *, replicate: int = 0, per_step: bool = False) -> PlanResult:
        """Planning phase: the policy for ``reward`` from replicate ``replicate``'s final estimate.

        ``reward (S, A)`` or ``(H, S, A)`` with total at most 1 along every trajectory, or per-step in
        ``[0, 1]`` with ``per_step=True`` (rescaled by ``1/H``). Returns the policy and its exact value.
        """
        if not getattr(self, "states_", None):
            raise InvalidParameterError("plan", "call run() first (the planning phase needs explored data)")
        replicate = check_int(replicate, "replicate", low=0, high=len(self.states_) - 1)
        m = self.model_
        return self._plan_state(self.states_[replicate], check_reward(reward, m.S, m.A, m.H, per_step=per_step)[None])

    def _plan_state(self, state, r) -> PlanResult:
        """:meth:`plan` on an explored ``state`` for one checked reward ``r (1, H, S, A)``."""
        m = self.model_
        ev = EstimatePlanner(m)
        theta, Sigma, bonus, G = self._planning_model(state)
        pi, _, V = ev.plan(ev.project(theta, Sigma), r, bonus, G)
        _, Vstar = _dp(m.P, r, m.H, bonus=None)
        true = _policy_values(m.P, r, pi, m.H)
        s1 = m.start_state
        return PlanResult(pi[0], float(true[0, 0, s1]), float(Vstar[0, 0, s1]), float(V[0, 0, s1]))

    def _metrics(self, model, state, ev) -> dict:
        theta, Sigma, bonus, G = self._planning_model(state)
        return ev.metrics(theta, Sigma, bonus=bonus, G=G)

    @staticmethod
    def _check_beta(beta, beta_scale):
        if beta is not None:
            beta = check_real(beta, "beta", low=0.0, low_open=True)
        return beta, check_real(beta_scale, "beta_scale", low=0.0, low_open=True)


def _check_plan_rewards(plan_rewards, model) -> np.ndarray:
    """``plan_rewards`` of :meth:`_RewardFree.run` as ``(n, H, S, A)``, each checked by :func:`check_reward`."""
    r = as_float_array(plan_rewards, "plan_rewards", error=InvalidParameterError)
    if r.ndim not in (3, 4) or len(r) == 0:
        raise InvalidParameterError("plan_rewards", f"must have shape (n, {model.S}, {model.A}) or (n, {model.H}, "
                                                    f"{model.S}, {model.A}) with n >= 1, got {r.shape}",
                                    value=r.shape)
    return np.stack([check_reward(x, model.S, model.A, model.H, name=f"plan_rewards[{i}]") for i, x in enumerate(r)])


def _solve_all(Sigma, b):
    return np.linalg.solve(Sigma, b[..., None])[..., 0]


# ---------------------------------------------------------------------------------------- HF-UCRL-RFE++
@register_algorithm
class HFUCRLRFE(_RewardFree):
    """HF-UCRL-RFE++ (thesis Alg. 4 = Zhang, Zhang & Gu, ICML 2023) with our tractable oracle.

    Parameters
    ----------
    delta : float
        Overall failure probability ``delta'``; events use ``delta' / (4 M)`` (Thm 2.6.3).
    beta : float, optional
        Absolute confidence radius (constant over episodes); overrides ``beta_scale``.
    beta_scale : float
        Multiplier of the theory radius ``beta_k`` (Thm 2.6.3). Default 1 (theory).
    lam : float, optional
        Ridge ``lambda`` (default ``d / B^2``, Thm 2.6.3).
    n_random_rewards : int
        Random ``U[0,1]/H`` reward candidates of the oracle, drawn per episode (ours).
    pair_rewards : bool
        Add the ``S A`` pair indicators ``/H`` to the oracle's reward candidates (ours).
    """

    extra_metrics = ()
    per_episode = ("vhat1", "saturation", "floor_fraction")

    def __init__(self, *, delta=0.1, beta=None, beta_scale=1.0, lam=None, n_random_rewards=8, pair_rewards=False):
        self.delta = check_real(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
        self.beta, self.beta_scale = self._check_beta(beta, beta_scale)
        self.lam = None if lam is None else check_real(lam, "lam", low=0.0, low_open=True)
        self.n_random_rewards = check_int(n_random_rewards, "n_random_rewards", low=0)
        self.pair_rewards = bool(pair_rewards)

    @classmethod
    def conformance_cases(cls):
        return [{"beta": 2.0}]

    def constants(self, model, episodes) -> dict:
        """``M, alpha, gamma, lambda`` and the per-event ``delta`` for a run of ``episodes`` episodes."""
        d, H = model.d, model.H
        return {"M": hf_levels(episodes, H), "alpha": hf_alpha(H), "gamma": hf_gamma(d),
                "lam": self.lam if self.lam is not None else hf_lambda(d, model.B),
                "delta_event": hf_delta(self.delta, episodes, H)}

    def radius(self, model, episodes, k):
        """``beta`` used in episode ``k`` (1-based, may be an array): the absolute ``beta``, or
        ``beta_scale * beta_k`` (Thm 2.6.3 with the per-event ``delta' / (4 M)``)."""
        if self.beta is not None:
            return self.beta + 0.0 * np.asarray(k, dtype=np.float64) if np.ndim(k) else self.beta
        return self.beta_scale * hf_beta(k, model.d, model.H, model.B, hf_delta(self.delta, episodes, model.H))

    def _meta(self, model, episodes):
        c = self.constants(model, episodes)
        return {**c, "beta_first": self.radius(model, episodes, 1), "beta_last": self.radius(model, episodes, episodes)}

    def _init(self, model, episodes):
        c = self.constants(model, episodes)
        M, d, S, A, H = c["M"], model.d, model.S, model.A, model.H
        eye = np.eye(d)
        # the oracle's fixed reward candidates (ours): 0 and the state indicators 1{s = j} / H
        base = np.concatenate([np.zeros((1, S, A)), np.repeat(np.eye(S)[:, :, None], A, axis=2) / H])
        if self.pair_rewards:
            base = np.concatenate([base, np.eye(S * A).reshape(S * A, S, A) / H])
        cum = np.cumsum(model.P, axis=-1)
        cum[..., -1] = 1.0
        return {
            "c": c, "episodes": episodes, "cumP": cum, "base_rewards": base, "prev_r": np.zeros((S, A)),
            "betas": np.atleast_1d(self.radius(model, episodes, np.arange(1, episodes + 1))),
            "thetas": np.zeros((2, M, d)), "Sigma": np.broadcast_to(c["lam"] * eye, (2, M, d, d)).copy(),
            "b": np.zeros((2, M, d)), "Sinv": np.broadcast_to(eye / c["lam"], (2, M, d, d)).copy(),
        }

    def _episodes(self, model, st, start, stop, gen, backend, diag):
        """Alg. 4, lines 4-14 for episodes ``start..stop-1`` (0-based), in place on the state ``st``."""
        c = st["c"]
        S, A, H, s1 = model.S, model.A, model.H, model.start_state
        numba = backend == "numba"
        factor = kern.factor if numba else kern.factor_reference
        kernels = kern.mixture_kernels if numba else kern.mixture_kernels_reference
        oracle = kern.hf_oracle if numba else kern.hf_oracle_reference
        episode = kern.hf_episode if numba else kern.hf_episode_reference
        for k in range(start, stop):
            beta = float(st["betas"][k])
            frz = st["Sinv"].copy()                                              # Sigma_dot (frozen)
            Fhat = factor(model.phi_sa, frz[0, 0])                             # ||phi_V||_{Sigma_dot^-1} = ||F V||
            Ftil = factor(model.phi_sa, frz[1, 0])
            Pts = kernels(model.phi_sa, st["thetas"][:, 0])                      # theta_hat_{k,0}, theta_tilde_{k,0}
            rand = gen.random((self.n_random_rewards, S, A)) / H
            rewards = np.concatenate([st["base_rewards"], rand, st["prev_r"][None]])
            t, j, pi, Vt, Vh, sat = oracle(Pts, Fhat, Ftil, rewards, beta, H, s1)
            st["prev_r"] = rewards[j].copy()
            u = gen.random(H)
            n_floor = episode(model.phi_sa, st["cumP"], s1, pi, Vh, Vt, u, st["thetas"], st["Sinv"], frz,
                              st["Sigma"], st["b"], beta, c["alpha"], c["gamma"])
            st["thetas"] = _solve_all(st["Sigma"], st["b"])
            diag["vhat1"][k] = Vh[0, s1]
            diag["saturation"][k] = sat
            diag["floor_fraction"][k] = n_floor / (2 * H)

    def _planning_model(self, st):
        lam = st["c"]["lam"]
        Sigma = st["Sigma"][0, 0] + st["Sigma"][1, 0] - lam * np.eye(st["Sigma"].shape[-1])
        return np.linalg.solve(Sigma, st["b"][0, 0] + st["b"][1, 0]), Sigma, 0.0, None


# ---------------------------------------------------------------------------------------- UCRL-RFE
@register_algorithm
class UCRLRFE(_RewardFree):
    """UCRL-RFE (thesis Alg. 2; Zhang, Zhou & Gu, NeurIPS 2021): Hoeffding bonuses, pseudo value targets.

    Parameters: ``delta``; ``beta`` (absolute) or ``beta_scale`` (multiplier of Thm 2.4.3's
    ``beta = H sqrt(d log(3 (1 + K H^3 B^2) / delta)) + 1``); ``lam`` (default ``B^-2``). Exact box
    maximisation over ``2^S`` vertices: ``S <= 16``.
    """

    extra_metrics = tuple(f"{k}_plugin" for k in METRICS if k != "theta_error")
    per_episode = ("pseudo_reward_saturation",)

    def __init__(self, *, delta=0.1, beta=None, beta_scale=1.0, lam=None):
        self.delta = check_real(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
        self.beta, self.beta_scale = self._check_beta(beta, beta_scale)
        self.lam = None if lam is None else check_real(lam, "lam", low=0.0, low_open=True)

    @classmethod
    def conformance_cases(cls):
        return [{"beta_scale": 0.1}]

    @classmethod
    def supports(cls, model, params):
        return model.S <= 16

    def radius(self, model, episodes):
        if self.beta is not None:
            return self.beta
        return self.beta_scale * ucrl_rfe_beta(episodes, model.d, model.H, model.B, self.delta)

    def _meta(self, model, episodes):
        return {"beta": self.radius(model, episodes), "lam": self._lam(model)}

    def _lam(self, model):
        return self.lam if self.lam is not None else ucrl_rfe_lambda(model.B)

    def _init(self, model, episodes):
        if model.S > 16:
            raise InvalidParameterError("mdp", f"UCRL-RFE's exact box maximisation needs S <= 16, got {model.S}",
                                        value=model.S)
        d, lam = model.d, self._lam(model)
        cum = np.cumsum(model.P, axis=-1)
        cum[..., -1] = 1.0
        return {"beta": self.radius(model, episodes), "lam": lam, "cumP": cum, "theta": np.zeros(d),
                "Sigma": lam * np.eye(d), "b": np.zeros(d), "Sinv": np.eye(d) / lam}

    def _episodes(self, model, st, start, stop, gen, backend, diag):
        H, s1, beta = model.H, model.start_state, st["beta"]
        gram, box, plan, episode = ((kern.gram, kern.box_max, kern.ucrl_plan, kern.ucrl_episode)
                                    if backend == "numba" else
                                    (kern.gram_reference, kern.box_max_reference, kern.ucrl_plan_reference,
                                     kern.ucrl_episode_reference))
        scale = (H - np.arange(H) - 1.0)[:, None, None]                          # f: S -> [0, H - h] (1-based h)
        for k in range(start, stop):
            G = gram(model.phi_sa, st["Sinv"])
            val, vstar = box(G)
            raw = (2 * beta / H) * scale * np.sqrt(val)[None]
            r = np.minimum(1.0, raw)                                             # pseudo-reward r^k_h (Alg. 2)
            Pt = model.transition_from(st["theta"])
            pi, _, _ = plan(Pt, G, np.ascontiguousarray(r), beta, float(H))     # PLAN, values in [0, H]
            episode(model.phi_sa, st["cumP"], s1, pi, vstar, gen.random(H), st["Sinv"], st["Sigma"], st["b"])
            st["theta"] = np.linalg.solve(st["Sigma"], st["b"])
            diag["pseudo_reward_saturation"][k] = float(np.mean(raw >= 1.0))

    def _planning_model(self, st):
        # Rewards of total <= 1 are per-step rewards scaled by 1/H: PLAN(theta, Sigma, H r, beta) / H equals
        # the clip-[0, 1] DP with the same bonus beta ||phi_V|| (the norm scales with V).
        from . import reward_free_kernels as k

        return st["theta"], st["Sigma"], st["beta"], k.gram_reference(self.model_.phi_sa, st["Sinv"])

    def _metrics(self, model, state, ev):
        theta, Sigma, bonus, G = self._planning_model(state)
        out = ev.metrics(theta, Sigma, bonus=bonus, G=G)
        plug = ev.metrics(theta, Sigma)
        out.update({f"{k}_plugin": v for k, v in plug.items() if k != "theta_error"})
        return out


# ---------------------------------------------------------------------------------------- UCRL-RFE+
@register_algorithm
class UCRLRFEPlus(UCRLRFE):
    """UCRL-RFE+ (thesis Alg. 3): UCRL-RFE plus Bernstein-weighted regressions on the exploration values.

    Besides UCRL-RFE's pseudo-target regression (``Sigma``, used for the pseudo-reward and the planning
    phase), a weighted regression ``theta_hat`` on ``(phi_V, V(s'))`` with weight ``1 / nu`` and an
    unweighted one ``theta_tilde`` on ``(phi_{V^2}, V(s')^2)``, ``V = V^k_{h+1}`` the exploration values;
    ``nu = max(alpha, Vbar + E)`` (see :func:`~rltheory.algorithms.reward_free_kernels.ucrl_plus_episode`).
    Exploration plays ``PLAN(theta_hat_k, Sigma_hat_k, r^k, beta_hat)``. Constants of Thm 2.5.1
    (``lambda = B^-2``, ``alpha = H^2 / d``, ``beta_hat, beta_check, beta_tilde, beta``); ``beta_scale``
    multiplies all four radii, an absolute ``beta`` replaces all four.
    """

    per_episode = ("pseudo_reward_saturation", "mean_nu")

    def radii(self, model, episodes) -> dict:
        c = ucrl_rfe_plus_constants(episodes, model.d, model.H, model.B, self.delta)
        keys = ("beta", "beta_hat", "beta_check", "beta_tilde")
        if self.beta is not None:
            return {**c, **{k: self.beta for k in keys}}
        return {**c, **{k: self.beta_scale * c[k] for k in keys}}

    def radius(self, model, episodes):
        return self.radii(model, episodes)["beta"]

    def _meta(self, model, episodes):
        return {**self.radii(model, episodes), "lam": self._lam(model)}

    def _init(self, model, episodes):
        st = super()._init(model, episodes)
        d, lam = model.d, st["lam"]
        st["radii"] = self.radii(model, episodes)
        for name in ("hat", "til"):
            st[name] = (np.eye(d) / lam, lam * np.eye(d), np.zeros(d))
            st[f"theta_{name}"] = np.zeros(d)
        return st

    def _episodes(self, model, st, start, stop, gen, backend, diag):
        H, s1, c = model.H, model.start_state, st["radii"]
        numba = backend == "numba"
        gram = kern.gram if numba else kern.gram_reference
        box = kern.box_max if numba else kern.box_max_reference
        plan = kern.ucrl_plan if numba else kern.ucrl_plan_reference
        episode = kern.ucrl_plus_episode if numba else kern.ucrl_plus_episode_reference
        scale = (H - np.arange(H) - 1.0)[:, None, None]
        for k in range(start, stop):
            G = gram(model.phi_sa, st["Sinv"])
            val, vstar = box(G)
            raw = (2 * c["beta"] / H) * scale * np.sqrt(val)[None]
            r = np.ascontiguousarray(np.minimum(1.0, raw))                      # pseudo-reward (UCRL-RFE's rule)
            hat_frz, til_frz = st["hat"][0].copy(), st["til"][0].copy()
            G_hat = gram(model.phi_sa, hat_frz)
            pi, V, _ = plan(model.transition_from(st["theta_hat"]), G_hat, r, c["beta_hat"], float(H))
            u_state = (st["Sinv"], st["Sigma"], st["b"])
            diag["mean_nu"][k] = episode(model.phi_sa, st["cumP"], s1, pi, V, vstar, gen.random(H), st["theta_hat"],
                                         st["theta_til"], hat_frz, til_frz, u_state, st["hat"], st["til"],
                                         c["alpha"], c["beta_check"], c["beta_tilde"])
            st["theta"] = np.linalg.solve(st["Sigma"], st["b"])
            st["theta_hat"] = np.linalg.solve(st["hat"][1], st["hat"][2])
            st["theta_til"] = np.linalg.solve(st["til"][1], st["til"][2])
            diag["pseudo_reward_saturation"][k] = float(np.mean(raw >= 1.0))


# ---------------------------------------------------------------------------------------- random
@register_algorithm
class RandomExploration(_RewardFree):
    """Uniform-random exploration + unweighted VTR with indicator targets (our baseline; see module doc)."""

    def __init__(self, *, lam=None):
        self.lam = None if lam is None else check_real(lam, "lam", low=0.0, low_open=True)

    def _init(self, model, episodes):
        cum = np.cumsum(model.P, axis=-1)
        cum[..., -1] = 1.0
        lam = self.lam if self.lam is not None else hf_lambda(model.d, model.B)
        return {"cumP": cum, "counts": np.zeros((model.S, model.A, model.S)), "lam": lam}

    def _meta(self, model, episodes):
        return {"lam": self.lam if self.lam is not None else hf_lambda(model.d, model.B)}

    def _episodes(self, model, st, start, stop, gen, backend, diag):
        u = gen.random((stop - start, model.H, 2))        # same stream however episodes are chunked
        f = kern.random_episodes if backend == "numba" else kern.random_episodes_reference
        f(st["cumP"], model.start_state, u, st["counts"])

    def _planning_model(self, st):
        phi_sa, N = self.model_.phi_sa, st["counts"]
        Sigma = st["lam"] * np.eye(phi_sa.shape[2]) + np.einsum("sa,saij,sakj->ik", N.sum(-1), phi_sa, phi_sa)
        b = np.einsum("saj,saij->i", N, phi_sa)
        return np.linalg.solve(Sigma, b), Sigma, 0.0, None
