"""A baseline learned from offline data, for StepMix / EpsMix (Li et al. 2023, the offline extension).

The abstract states that the baseline "is not given a priori but must be learned from an offline
dataset" and that "similar conservative guarantee and regret can be achieved if the offline
dataset is sufficiently large". Everything below is the **reconstructed** design of spec §A2.3
(the paper's text was not available):

1. data: ``N`` episodes of an unknown behaviour policy ``mu_b``; its value ``V^{mu_b}`` defines
   the safe level, ``(1 - alpha) V^{mu_b}``;
2. behaviour cloning: ``pi_hat_h(a|s) = N_h(s, a) / N_h(s)``, uniform where ``N_h(s) = 0``;
3. an upper confidence bound of the safe level from the empirical returns (Hoeffding, returns in
   ``[0, H]``): ``v_high = mean return + H sqrt(ln(2 / delta') / (2 N))`` with ``delta' = delta / 2``;
4. a lower confidence bound of the *cloned* policy's value: its pessimistic value (rule R1, the
   span-scaled Weissman step, :mod:`rltheory.algorithms.pessimism`) on the offline counts, with
   ``iota = ln(S A H N / delta')``; valid for the data-dependent ``pi_hat`` because the R1 bound
   holds for every policy at once;
5. the online learner runs with ``baseline_policy = pi_hat`` and ``baseline_value = (v_low, v_high)``:
   threshold ``tau = (1 - alpha) v_high >= (1 - alpha) V^{mu_b}`` and floor ``(1 - rho)^H v_low``.

With probability ``>= 1 - delta`` (offline) ``- delta`` (online), every deployed policy then
earns at least ``(1 - alpha) V^{mu_b}``, *provided* a coefficient is certified, which needs
``v_low >= tau`` at ``rho = 0``: the dataset is "large enough" when
``V_low^{pi_hat} >= (1 - alpha) v_high`` (:attr:`OfflineBaseline.certifies`). Otherwise the learners
fall back to the cloned baseline uncertified (their ``lower_bound`` then stays below
``threshold``). An alternative reading of the paper (pessimistic offline RL, e.g. VI-LCB, instead of
cloning) is an open question. Offline counts are not reused online (a possible improvement).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rltheory.algorithms.pessimism import pessimistic_evaluation, reward_log_term, weissman_log_term
from rltheory.errors import InvalidDataError, InvalidParameterError
from rltheory.kernels.sampling import alias_tables, sample_trajectories, uniforms_per_episode
from rltheory.models import FiniteHorizonMDP
from rltheory.policies import to_stochastic, validate_policy
from rltheory.validation import as_float_array, check_distribution, check_int, check_real, first_index

__all__ = ["OfflineDataset", "OfflineBaseline", "generate_dataset", "behaviour_clone", "learn_baseline"]


def _int_array(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        f = as_float_array(x, name, error=InvalidDataError)
        bad = ~np.isfinite(f) | (f != np.round(f))
        if bad.any():
            idx = first_index(bad)
            raise InvalidDataError(name, f"entries must be integer indices, got {f[idx]!r}", index=idx,
                                   value=float(f[idx]))
        arr = f
    return np.ascontiguousarray(arr, dtype=np.int64)


@dataclass(frozen=True)
class OfflineDataset:
    """``N`` episodes of length ``H`` on ``S`` states and ``A`` actions, validated on construction.

    Attributes
    ----------
    states : int array ``(N, H + 1)``, entries in ``[0, S)``
    actions : int array ``(N, H)``, entries in ``[0, A)``
    rewards : float array ``(N, H)``, entries in ``[0, 1]``
    S, A : int

    Raises
    ------
    InvalidDataError
        Naming the array, the first offending index ``(episode, step)`` and its value.
    """

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    S: int
    A: int

    def __post_init__(self):
        S = check_int(self.S, "S", low=1, error=InvalidDataError)
        A = check_int(self.A, "A", low=1, error=InvalidDataError)
        states = _int_array(self.states, "states")
        actions = _int_array(self.actions, "actions")
        rewards = as_float_array(self.rewards, "rewards", error=InvalidDataError)
        if states.ndim != 2 or states.shape[1] < 2 or states.shape[0] < 1:
            raise InvalidDataError("states", f"must have shape (N, H + 1) with N >= 1, H >= 1, got {states.shape}",
                                   value=states.shape)
        N, H = states.shape[0], states.shape[1] - 1
        for name, arr in (("actions", actions), ("rewards", rewards)):
            if arr.shape != (N, H):
                raise InvalidDataError(name, f"must have shape (N, H) = {(N, H)} to match states {states.shape}, "
                                             f"got {arr.shape}", value=arr.shape)
        for name, arr, n in (("states", states, S), ("actions", actions, A)):
            bad = (arr < 0) | (arr >= n)
            if bad.any():
                idx = first_index(bad)
                raise InvalidDataError(name, f"entries must lie in [0, {n}), got {int(arr[idx])}", index=idx,
                                       value=int(arr[idx]))
        bad = ~np.isfinite(rewards) | (rewards < 0) | (rewards > 1)
        if bad.any():
            idx = first_index(bad)
            raise InvalidDataError("rewards", f"entries must lie in [0, 1], got {rewards[idx]!r}", index=idx,
                                   value=float(rewards[idx]))
        for name, arr in (("states", states), ("actions", actions), ("rewards", rewards)):
            arr = arr.copy()
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "S", S)
        object.__setattr__(self, "A", A)

    @property
    def episodes(self) -> int:
        """``N``."""
        return self.states.shape[0]

    @property
    def H(self) -> int:
        """Horizon."""
        return self.actions.shape[1]

    def counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(counts_sas (H, S, A, S), counts_sa (H, S, A), reward_sum (H, S, A))`` of the data."""
        N, H, S, A = self.episodes, self.H, self.S, self.A
        h = np.broadcast_to(np.arange(H), (N, H))
        s, a, s2 = self.states[:, :-1], self.actions, self.states[:, 1:]
        sa = ((h * S + s) * A + a).ravel()
        counts_sa = np.bincount(sa, minlength=H * S * A).reshape(H, S, A)
        reward_sum = np.bincount(sa, weights=self.rewards.ravel(), minlength=H * S * A).reshape(H, S, A)
        counts_sas = np.bincount(sa * S + s2.ravel(), minlength=H * S * A * S).reshape(H, S, A, S)
        return counts_sas.astype(np.int64), counts_sa.astype(np.int64), reward_sum


def generate_dataset(mdp: FiniteHorizonMDP, behaviour_policy, episodes: int, *, seed: int = 0) -> OfflineDataset:
    """``episodes`` episodes of ``behaviour_policy`` (``(H, S)`` actions or ``(H, S, A)`` probabilities)
    sampled from ``mdp`` with the library's compiled sampler (deterministic given ``seed``)."""
    pi = validate_policy(behaviour_policy, mdp.H, mdp.S, mdp.A, name="behaviour_policy")
    pi = np.ascontiguousarray(to_stochastic(pi, mdp.A), dtype=np.float64)
    N = check_int(episodes, "episodes", low=1)
    seed = check_int(seed, "seed", low=0)
    u = np.random.default_rng(seed).random((N, uniforms_per_episode(mdp.H)))
    states, actions, rewards = sample_trajectories(alias_tables(mdp), np.broadcast_to(pi, (N, *pi.shape)), u)
    return OfflineDataset(states, actions, rewards, mdp.S, mdp.A)


def behaviour_clone(dataset: OfflineDataset) -> np.ndarray:
    """``pi_hat_h(a|s) = N_h(s, a) / N_h(s)``, uniform where ``N_h(s) = 0``: shape ``(H, S, A)``."""
    _, counts_sa, _ = dataset.counts()
    n_s = counts_sa.sum(axis=-1, keepdims=True)
    return np.where(n_s > 0, counts_sa / np.maximum(n_s, 1), 1.0 / dataset.A)


@dataclass(frozen=True)
class OfflineBaseline:
    """A cloned baseline and the confidence bounds the online learners need.

    Attributes
    ----------
    policy : ``(H, S, A)`` the behaviour-cloned policy ``pi_hat``.
    value_low : a lower confidence bound of ``V^{pi_hat}`` (R1 pessimism on the offline counts).
    value_high : an upper confidence bound of the safe level ``V^{mu_b}`` (Hoeffding on returns).
    value_estimate : the mean offline return (an unbiased estimate of ``V^{mu_b}``).
    episodes : ``N``; delta : total confidence spent (half on each bound).
    """

    policy: np.ndarray
    value_low: float
    value_high: float
    value_estimate: float
    episodes: int
    delta: float

    @property
    def baseline_value(self) -> tuple[float, float]:
        """``(value_low, value_high)``: pass as ``baseline_value=`` to StepMix / EpsMix."""
        return (self.value_low, self.value_high)

    def certifies(self, alpha: float) -> bool:
        """Whether the data certify the baseline itself: ``value_low >= (1 - alpha) value_high``."""
        return self.value_low >= (1.0 - alpha) * self.value_high


def learn_baseline(dataset: OfflineDataset, mu, *, delta: float = 0.05, reward_noise=None) -> OfflineBaseline:
    """Behaviour-clone ``dataset`` and bound the values (module docstring, steps 2-4).

    Parameters
    ----------
    dataset : OfflineDataset
    mu : array ``(S,)``
        The (known) initial distribution.
    delta : float in (0, 1)
        Total confidence of the two bounds (``delta / 2`` each).
    reward_noise : {None, "bernoulli"}
        Whether observed rewards are noisy (adds Hoeffding's reward term to the lower bound).
    """
    if not isinstance(dataset, OfflineDataset):
        raise InvalidDataError("dataset", f"must be an OfflineDataset, got {type(dataset).__name__}",
                               value=type(dataset).__name__)
    delta = check_real(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
    mu = as_float_array(mu, "mu", error=InvalidParameterError)
    if mu.shape != (dataset.S,):
        raise InvalidParameterError("mu", f"must have shape ({dataset.S},), got {mu.shape}", value=mu.shape)
    check_distribution(mu, "mu", error=InvalidParameterError)
    if reward_noise not in (None, "bernoulli"):
        raise InvalidParameterError("reward_noise", f"must be None or 'bernoulli', got {reward_noise!r}",
                                    value=reward_noise)
    N, H, S, A = dataset.episodes, dataset.H, dataset.S, dataset.A
    d = delta / 2.0
    policy = behaviour_clone(dataset)
    estimate = float(dataset.rewards.sum(axis=1).mean())
    high = estimate + H * math.sqrt(math.log(2.0 / d) / (2.0 * N))
    counts_sas, counts_sa, reward_sum = dataset.counts()
    d_pess = d / 2.0 if reward_noise else d
    wlog = weissman_log_term(S, A, H, N, d_pess)
    rlog = reward_log_term(S, A, H, N, d_pess) if reward_noise else 0.0
    V = pessimistic_evaluation(counts_sas[None], counts_sa[None], reward_sum[None], policy[None], wlog, rlog)[0]
    low = float(mu @ V[0])
    return OfflineBaseline(policy=policy, value_low=low, value_high=high, value_estimate=estimate, episodes=N,
                           delta=delta)
