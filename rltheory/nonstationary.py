"""A time-varying episodic model: a sequence of exact MDPs and the model of each episode.

``NonStationaryMDP(models, schedule)`` holds ``M`` :class:`~rltheory.models.FiniteHorizonMDP`
sharing ``S``, ``A``, ``H`` (and reward noise) and an int array ``schedule (K,)``: episode ``k``
runs on ``models[schedule[k]]``. Piecewise-constant phases and a drifting parameter discretised
into models are both schedules.

Exact quantities (no sampling):

* :meth:`NonStationaryMDP.optimal_values` — ``V*_k = mu_k . V*_{k,1}``, shape ``(K,)``;
* :meth:`NonStationaryMDP.dynamic_regret` — ``V*_k - V^{pi_k}_k`` of per-episode policies, by exact
  evaluation on the ``k``-th model (compiled :func:`dynamic_regret_one`, twin
  :func:`dynamic_regret_reference`);
* :attr:`NonStationaryMDP.tables` — every model's sampling and evaluation tables stacked in one
  :class:`NonStationaryTables` record, the argument compiled learners take;
* :meth:`NonStationaryMDP.total_variation` — ``Delta = sum_k sum_h [max_{s,a} |r_h^{k+1} - r_h^k|
  + max_{s,a} ||P_h^{k+1}(.|s,a) - P_h^k(.|s,a)||_1]`` over consecutive episodes, returned with its
  reward and transition parts (Domingues et al. 2021 weigh the two parts in a way not retrieved;
  the sum is the spec's reading).

States may carry coordinates ``coords (S, d)`` (a metric for kernel-based learners).
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from typing import NamedTuple

import numba as nb
import numpy as np

from .errors import InvalidModelError, InvalidParameterError, InvalidPolicyError
from .kernels.planning import evaluate_policy_one
from .kernels.sampling import alias_tables
from .models import FiniteHorizonMDP, TabularFacts
from .planning import backward_induction
from .validation import as_float_array, check_int, first_index

__all__ = ["NonStationaryMDP", "NonStationaryTables", "dynamic_regret_one", "dynamic_regret_reference",
           "total_variation_reference"]


class NonStationaryTables(NamedTuple):
    """A :class:`NonStationaryMDP` as compiled kernels read it (one typed record; ``M`` models stacked).

    ``P_prob, P_alias (M, Hp, S, A, S)`` and ``mu_prob, mu_alias (M, S)``: alias tables for sampling;
    ``P (M, Hp, S, A, S)``, ``R (M, H, S, A)``, ``mu (M, S)``: the models for exact evaluation;
    ``v_star (M,)`` and ``V_star (M, H + 1, S)``: their optimal values; ``schedule (K,)``: the model of
    each episode; ``bernoulli``: observed rewards are Bernoulli(R).
    """

    P_prob: np.ndarray
    P_alias: np.ndarray
    mu_prob: np.ndarray
    mu_alias: np.ndarray
    P: np.ndarray
    R: np.ndarray
    mu: np.ndarray
    v_star: np.ndarray
    V_star: np.ndarray
    schedule: np.ndarray
    bernoulli: bool


class NonStationaryMDP(TabularFacts):
    """Episode ``k`` runs on ``models[schedule[k]]``.

    Parameters
    ----------
    models : sequence of FiniteHorizonMDP, length ``M >= 1``
        Dense models sharing ``S``, ``A``, ``H`` and ``reward_noise``.
    schedule : int array ``(K,)``, ``K >= 1``
        Model index of each episode, in ``[0, M)``.
    coords : float array ``(S, d)``, optional
        Coordinates of the states (the metric ``rho(x, y) = ||coords[x] - coords[y]||_2``).
    name, meta : optional label and free-form facts.

    Raises
    ------
    InvalidModelError
        Empty ``models``, a non-model entry, models that disagree in ``S``, ``A``, ``H`` or reward
        noise (naming the index of the first one that differs), a bad ``schedule`` or ``coords``.
    """

    def __init__(self, models, schedule, *, coords=None, name=None, meta=None):
        try:
            models = tuple(models)
        except TypeError:
            raise InvalidModelError("models", f"must be a sequence of FiniteHorizonMDP, got {type(models).__name__}",
                                    value=type(models).__name__) from None
        if not models:
            raise InvalidModelError("models", "needs at least one model", value=0)
        for i, m in enumerate(models):
            if not isinstance(m, FiniteHorizonMDP):
                raise InvalidModelError("models", f"entry {i} is a {type(m).__name__}, not a FiniteHorizonMDP",
                                        index=(i,), value=type(m).__name__)
            if m.sparse:
                raise InvalidModelError("models", f"entry {i} is sparse; NonStationaryMDP needs dense models",
                                        index=(i,), value="sparse")
        first = models[0]
        for i, m in enumerate(models[1:], start=1):
            for attr in ("S", "A", "H", "reward_noise"):
                if getattr(m, attr) != getattr(first, attr):
                    raise InvalidModelError(
                        "models", f"entry {i} has {attr}={getattr(m, attr)!r} but entry 0 has "
                                  f"{attr}={getattr(first, attr)!r}; all models must share S, A, H and reward noise",
                        index=(i,), value=getattr(m, attr))
        sched = np.asarray(schedule)
        if sched.dtype == object or not np.issubdtype(sched.dtype, np.integer) or sched.dtype == bool:
            raise InvalidModelError("schedule", f"must be an integer array, got dtype {sched.dtype}",
                                    value=str(sched.dtype))
        if sched.ndim != 1 or sched.shape[0] < 1:
            raise InvalidModelError("schedule", f"must be a non-empty 1-d array, got shape {sched.shape}",
                                    value=sched.shape)
        sched = sched.astype(np.int64)
        bad = (sched < 0) | (sched >= len(models))
        if bad.any():
            idx = first_index(bad)
            raise InvalidModelError("schedule", f"entries must lie in [0, {len(models)}), got {int(sched[idx])}",
                                    index=idx, value=int(sched[idx]))
        sched = np.ascontiguousarray(sched)
        sched.setflags(write=False)
        self._models = models
        self._schedule = sched
        self._S, self._A, self._H = first.S, first.A, first.H
        if coords is not None:
            c = as_float_array(coords, "coords", error=InvalidModelError)
            if c.ndim == 1:
                c = c[:, None]
            if c.ndim != 2 or c.shape[0] != self._S:
                raise InvalidModelError("coords", f"must have shape (S={self._S}, d), got {np.shape(coords)}",
                                        value=np.shape(coords))
            if not np.all(np.isfinite(c)):
                idx = first_index(~np.isfinite(c))
                raise InvalidModelError("coords", "must be finite", index=idx, value=float(c[idx]))
            c = np.ascontiguousarray(c).copy()
            c.setflags(write=False)
        self._coords = c if coords is not None else None
        self._label(name, f"NonStationaryMDP(M={len(models)}, K={len(sched)})", meta)

    # ----------------------------------------------------------------- facts
    H = property(lambda self: self._H, doc="Horizon.")
    models = property(lambda self: self._models, doc="The ``M`` models (tuple).")
    schedule = property(lambda self: self._schedule, doc="Model index of each episode, ``(K,)`` int64, read-only.")
    coords = property(lambda self: self._coords, doc="State coordinates ``(S, d)`` or ``None``.")
    reward_noise = property(lambda self: self._models[0].reward_noise)

    @property
    def episodes(self) -> int:
        """``K``, the length of the schedule."""
        return int(self._schedule.shape[0])

    def model(self, k: int) -> FiniteHorizonMDP:
        """The model of episode ``k``."""
        k = check_int(k, "k", low=0, high=self.episodes - 1)
        return self._models[self._schedule[k]]

    @cached_property
    def stacked(self):
        """``(P (M, Hp, S, A, S), R (M, H, S, A), mu (M, S))`` with a common ``Hp`` (1 if all stationary)."""
        Hp = 1 if all(m.stationary for m in self._models) else self._H
        P = np.stack([np.broadcast_to(m.P_stages, (Hp,) + m.P_stages.shape[1:]) for m in self._models])
        R = np.stack([m.R for m in self._models])
        mu = np.stack([m.mu for m in self._models])
        return np.ascontiguousarray(P), np.ascontiguousarray(R), np.ascontiguousarray(mu)

    @cached_property
    def alias(self):
        """Alias tables of every model stacked: ``(P_prob, P_alias (M, Hp, S, A, S), mu_prob, mu_alias (M, S))``."""
        Hp = self.stacked[0].shape[1]
        tabs = [alias_tables(m) for m in self._models]
        P_prob = np.stack([np.broadcast_to(t.P_prob, (Hp,) + t.P_prob.shape[1:]) for t in tabs])
        P_alias = np.stack([np.broadcast_to(t.P_alias, (Hp,) + t.P_alias.shape[1:]) for t in tabs])
        return (np.ascontiguousarray(P_prob), np.ascontiguousarray(P_alias),
                np.stack([t.mu_prob for t in tabs]), np.stack([t.mu_alias for t in tabs]))

    @cached_property
    def tables(self) -> NonStationaryTables:
        """Every model's alias tables, arrays and optimal values stacked (:class:`NonStationaryTables`)."""
        P, R, mu = self.stacked
        return NonStationaryTables(*self.alias, P, R, mu, self.model_values, self.optimal_tables, self._schedule,
                                   self.reward_noise == "bernoulli")

    @cached_property
    def optimal_tables(self) -> np.ndarray:
        """``V*`` of every model, ``(M, H + 1, S)``."""
        return np.stack([backward_induction(m).V for m in self._models])

    @cached_property
    def model_values(self) -> np.ndarray:
        """``V*`` of every model from its initial distribution, ``(M,)``."""
        mu = self.stacked[2]
        return np.einsum("ms,ms->m", mu, self.optimal_tables[:, 0])

    def optimal_values(self, episodes: int | None = None) -> np.ndarray:
        """``V*_k`` for ``k < episodes`` (default: the whole schedule), ``(episodes,)``."""
        K = self.episodes if episodes is None else check_int(episodes, "episodes", low=1, high=self.episodes)
        return self.model_values[self._schedule[:K]]

    def dynamic_regret(self, policies) -> np.ndarray:
        """``V*_k - V^{pi_k}_k`` of deterministic per-episode policies ``(K', H, S)`` (``K' <= K``), ``(K',)``."""
        pol = np.asarray(policies)
        if pol.ndim != 3 or pol.shape[1:] != (self._H, self._S) or not np.issubdtype(pol.dtype, np.integer):
            raise InvalidPolicyError("policies", f"must be an int array (K', H={self._H}, S={self._S}), "
                                                 f"got {pol.dtype} {pol.shape}", value=pol.shape)
        if pol.shape[0] > self.episodes:
            raise InvalidPolicyError("policies", f"has {pol.shape[0]} episodes but the schedule has {self.episodes}",
                                     value=pol.shape[0])
        bad = (pol < 0) | (pol >= self._A)
        if bad.any():
            idx = first_index(bad)
            raise InvalidPolicyError("policies", f"actions must lie in [0, {self._A})", index=idx,
                                     value=int(pol[idx]))
        P, R, mu = self.stacked
        out = np.empty(pol.shape[0])
        _dynamic_regret_all(P, R, mu, self.model_values, self._schedule, np.ascontiguousarray(pol, np.int64), out)
        return out

    def total_variation(self, episodes: int | None = None) -> dict:
        """``{"total", "reward", "transition"}``: ``Delta`` over the first ``episodes`` episodes (see module)."""
        K = self.episodes if episodes is None else check_int(episodes, "episodes", low=1, high=self.episodes)
        P, R, _ = self.stacked
        M = len(self._models)
        dr = np.zeros((M, M))
        dp = np.zeros((M, M))
        for i in range(M):
            for j in range(M):
                dr[i, j] = np.abs(R[i] - R[j]).max(axis=(1, 2)).sum()
                per_h = np.abs(P[i] - P[j]).sum(axis=-1).max(axis=(1, 2))
                dp[i, j] = per_h.sum() if P.shape[1] > 1 else per_h[0] * self._H
        a, b = self._schedule[:K - 1], self._schedule[1:K]
        r, p = float(dr[a, b].sum()), float(dp[a, b].sum())
        return {"total": r + p, "reward": r, "transition": p}

    @cached_property
    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for m in self._models:
            h.update(m.fingerprint.encode())
        h.update(self._schedule.tobytes())
        if self._coords is not None:
            h.update(self._coords.tobytes())
        return h.hexdigest()[:16]

    def __repr__(self) -> str:
        return f"NonStationaryMDP(name={self.name!r}, M={len(self._models)}, K={self.episodes}, S={self._S}, " \
               f"A={self._A}, H={self._H})"


# ---------------------------------------------------------------------------- kernels


@nb.njit(cache=True)
def dynamic_regret_one(P, R, mu, v_star, m, policy, V):
    """``v_star[m] - mu[m] . V^pi_1`` of one deterministic policy ``(H, S)`` on model ``m`` (``V (H + 1, S)`` scratch).

    ``P (M, Hp, S, A, S)``, ``R (M, H, S, A)``, ``mu (M, S)``, ``v_star (M,)``.
    """
    evaluate_policy_one(P[m], R[m], policy, V)
    v = 0.0
    for s in range(mu.shape[1]):
        v += mu[m, s] * V[0, s]
    return v_star[m] - v


@nb.njit(cache=True)
def _dynamic_regret_all(P, R, mu, v_star, schedule, policies, out):
    H, S = policies.shape[1], policies.shape[2]
    V = np.empty((H + 1, S))
    for k in range(policies.shape[0]):
        out[k] = dynamic_regret_one(P, R, mu, v_star, schedule[k], policies[k], V)


def dynamic_regret_reference(P, R, mu, v_star, schedule, policies):
    """NumPy twin of :meth:`NonStationaryMDP.dynamic_regret` (plain backward recursion), ``(K',)``."""
    Kp, H, S = policies.shape
    Hp = P.shape[1]
    out = np.empty(Kp)
    for k in range(Kp):
        m = schedule[k]
        V = np.zeros(S)
        for h in range(H - 1, -1, -1):
            a = policies[k, h]
            Ph = P[m, h if Hp > 1 else 0]
            V = R[m, h, np.arange(S), a] + Ph[np.arange(S), a] @ V
        out[k] = v_star[m] - mu[m] @ V
    return out


def total_variation_reference(models, schedule) -> float:
    """NumPy twin of ``NonStationaryMDP.total_variation()["total"]``: a loop over consecutive episodes."""
    total = 0.0
    for k in range(len(schedule) - 1):
        a, b = models[schedule[k]], models[schedule[k + 1]]
        for h in range(a.H):
            total += np.max(np.abs(b.R[h] - a.R[h]))
            total += np.max(np.sum(np.abs(b.transition(h) - a.transition(h)), axis=-1))
    return float(total)


def check_episodes(model: NonStationaryMDP, episodes: int) -> int:
    """Validate a run length against the schedule (``1 <= episodes <= K``)."""
    episodes = check_int(episodes, "episodes", low=1)
    if episodes > model.episodes:
        raise InvalidParameterError("episodes", f"is {episodes} but the schedule of {model.name} has only "
                                                f"{model.episodes} episodes", value=episodes)
    return episodes
