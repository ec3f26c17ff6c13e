"""Exact tabular models, validated on construction.

Conventions (see DESIGN.md): transition tensors ``P[h, s, a, s']`` (or ``P[s, a, s']``
when stationary), mean rewards ``R[h, s, a]`` in ``[0, 1]``, initial distribution
``mu[s]``. Steps are indexed ``h = 0, ..., H-1`` in code (``h = 1, ..., H`` in papers).

Learners never read ``P`` or ``R``; they receive samples through the kernels of
:mod:`rltheory.kernels.sampling`. Exact quantities (values, regret) are computed
from the model by :mod:`rltheory.planning`.
"""

from __future__ import annotations

import hashlib
from functools import cached_property

import numpy as np

from .errors import InvalidModelError
from .validation import (
    as_float_array,
    check_dense_allocation,
    check_distribution,
    check_in_range,
    check_int,
    check_ndim,
    check_real,
    check_shape,
    check_start_distribution,
    first_index,
)

__all__ = ["FiniteHorizonMDP", "DiscountedMDP", "REWARD_NOISES", "DENSE_LIMIT", "PreferenceGame", "PREFERENCE_ATOL"]

#: Largest number of entries of a dense ``P`` built on demand from a sparse model (1.6 GB of float64).
DENSE_LIMIT = 200_000_000

#: Accepted values of ``reward_noise``: observed reward equals ``R`` (``None``) or is a
#: Bernoulli draw with mean ``R`` (``"bernoulli"``).
REWARD_NOISES = (None, "bernoulli")


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.float64).copy()
    a.setflags(write=False)
    return a


def _fingerprint(arrays, extra: str) -> str:
    h = hashlib.sha256()
    for arr in arrays:
        h.update(str(arr.shape).encode())
        h.update(arr.tobytes())
    h.update(extra.encode())
    return h.hexdigest()[:16]


def _check_reward_noise(reward_noise):
    # Only None or a str may match: ``x in REWARD_NOISES`` on an array raises a bare ValueError.
    valid = reward_noise is None or (isinstance(reward_noise, str) and reward_noise in REWARD_NOISES)
    if not valid:
        raise InvalidModelError("reward_noise", f"must be one of {REWARD_NOISES}, got {reward_noise!r}",
                                value=reward_noise)
    return reward_noise


def _validate_transitions(P, R, mu, ndims_P):
    P = as_float_array(P, "P", error=InvalidModelError)
    R = as_float_array(R, "R", error=InvalidModelError)
    mu = as_float_array(mu, "mu", error=InvalidModelError)
    check_ndim(P, "P", ndims_P, error=InvalidModelError,
               what="(S, A, S) stationary" + (" or (H, S, A, S) stage-dependent" if 4 in ndims_P else ""))
    S, A = P.shape[-3], P.shape[-2]
    if S < 1 or A < 1:
        raise InvalidModelError("P", f"needs at least one state and one action, got shape {P.shape}",
                                value=P.shape)
    if P.shape[-1] != S:
        raise InvalidModelError("P", f"last axis (next state) must have length S={S}, got shape {P.shape}",
                                value=P.shape)
    check_distribution(P, "P", error=InvalidModelError)
    mu = check_start_distribution(mu, S, error=InvalidModelError, what="initial distribution over the S states")
    return P, R, mu, S, A


class TabularFacts:
    """Read-only ``S`` and ``A`` and the ``name``/``meta`` labels shared by the tabular model classes.

    A subclass sets ``self._S`` and ``self._A`` in ``__init__`` and calls :meth:`_label`.
    """

    S = property(lambda self: self._S, doc="Number of states.")
    A = property(lambda self: self._A, doc="Number of actions.")

    def _label(self, name, default: str, meta) -> None:
        self.name = name if name is not None else default
        self.meta = dict(meta or {})


class FiniteHorizonMDP(TabularFacts):
    """An episodic MDP with horizon ``H``, known exactly.

    Parameters
    ----------
    P : array, shape ``(S, A, S)`` (stationary) or ``(H, S, A, S)`` (stage-dependent)
        Transition probabilities ``P[h, s, a, s']``; each row sums to 1 (tolerance 1e-9).
    R : array, shape ``(S, A)`` or ``(H, S, A)``
        Mean rewards in ``[0, 1]``.
    mu : array, shape ``(S,)``
        Initial-state distribution.
    H : int, optional
        Horizon (>= 1). Required when ``P`` and ``R`` are both stationary; otherwise it must
        agree with their leading axis.
    reward_noise : {None, "bernoulli"}
        ``None``: the observed reward is ``R[h, s, a]`` itself. ``"bernoulli"``: it is a
        Bernoulli draw with mean ``R[h, s, a]``.
    name : str, optional
        Label used in figures.
    meta : dict, optional
        Free-form facts about the model kept by copies (e.g. the reward map of an imported
        Gymnasium environment, grid cells of a gridworld). Not part of :attr:`fingerprint`.

    Raises
    ------
    InvalidModelError
        Naming the argument and the first offending index and value.
    """

    def __init__(self, P, R, mu, H=None, *, reward_noise=None, name=None, meta=None):
        P, R, mu, S, A = _validate_transitions(P, R, mu, (3, 4))
        self._P = _readonly(P)
        self._succ = None
        self._init_common(R, mu, S, A, P.shape[0] if P.ndim == 4 else None, H, reward_noise, name, meta)

    @classmethod
    def from_successors(cls, next_states, probs, R, mu, H=None, *, reward_noise=None, name=None,
                        meta=None) -> FiniteHorizonMDP:
        """A model stored as successor lists, for large sparse models (dense ``P`` never built).

        Parameters
        ----------
        next_states : int array, shape ``(S, A, K)`` or ``(H, S, A, K)``
            ``next_states[h, s, a, k]`` is the ``k``-th possible next state of ``(s, a)`` at step
            ``h``, in ``[0, S)``. Repeats are allowed (their probabilities add up).
        probs : float array, same shape
            ``probs[h, s, a, k]`` its probability; each ``(h, s, a)`` row sums to 1.
        R, mu, H, reward_noise, name, meta
            As for the dense constructor.

        A deterministic model has ``K = 1``; BRIDGE MDPs with sticky actions have ``K = 2``.
        """
        self = cls.__new__(cls)
        nxt = np.asarray(next_states)
        if nxt.dtype == object or not np.issubdtype(nxt.dtype, np.integer):
            raise InvalidModelError("next_states", f"must be an integer array, got dtype {nxt.dtype}",
                                    value=str(nxt.dtype))
        check_ndim(nxt, "next_states", (3, 4), error=InvalidModelError, what="(S, A, K) or (H, S, A, K)")
        S, A, K = nxt.shape[-3:]
        if S < 1 or A < 1 or K < 1:
            raise InvalidModelError("next_states", f"needs S, A, K >= 1, got shape {nxt.shape}", value=nxt.shape)
        bad = (nxt < 0) | (nxt >= S)
        if bad.any():
            idx = first_index(bad)
            raise InvalidModelError("next_states", f"entries must lie in [0, {S}), got {int(nxt[idx])}",
                                    index=idx, value=int(nxt[idx]))
        pr = as_float_array(probs, "probs", error=InvalidModelError)
        check_shape(pr, "probs", nxt.shape, error=InvalidModelError, what="same shape as next_states")
        check_distribution(pr, "probs", error=InvalidModelError)
        mu = check_start_distribution(mu, S, error=InvalidModelError, what="initial distribution over the S states")
        R = as_float_array(R, "R", error=InvalidModelError)
        stages = nxt.shape[0] if nxt.ndim == 4 else None
        self._P = None
        nxt = nxt if nxt.ndim == 4 else nxt[None]
        pr = pr if pr.ndim == 4 else pr[None]
        nxt = np.ascontiguousarray(nxt, dtype=np.int64).copy()
        nxt.setflags(write=False)
        self._succ = (nxt, _readonly(pr))
        self._init_common(R, mu, S, A, stages, H, reward_noise, name, meta)
        return self

    def _init_common(self, R, mu, S, A, stages, H, reward_noise, name, meta):
        check_ndim(R, "R", (2, 3), error=InvalidModelError, what="(S, A) or (H, S, A)")
        horizons = {}
        if stages is not None:
            horizons["P"] = stages
        if R.ndim == 3:
            horizons["R"] = R.shape[0]
        if H is not None:
            H = check_int(H, "H", low=1, error=InvalidModelError)
            horizons["H"] = H
        if not horizons:
            raise InvalidModelError("H", "is required when P and R are both stationary", value=None)
        if len(set(horizons.values())) > 1:
            raise InvalidModelError("H", f"inconsistent horizons {horizons}", value=horizons)
        H = next(iter(horizons.values()))
        if H < 1:
            raise InvalidModelError("H", f"must be >= 1, got {H}", value=H)
        check_shape(R, "R", (S, A) if R.ndim == 2 else (H, S, A), error=InvalidModelError,
                    what="mean rewards")
        check_in_range(R, "R", 0.0, 1.0, error=InvalidModelError, what="mean rewards")
        check_dense_allocation((H, S, A), "H", what="the mean rewards R over the horizon", error=InvalidModelError)
        self._R = _readonly(np.broadcast_to(R, (H, S, A)))
        self._mu = _readonly(mu)
        self._H, self._S, self._A = int(H), int(S), int(A)
        self._stationary = stages is None
        self._stages = 1 if stages is None else int(stages)
        self._reward_noise = _check_reward_noise(reward_noise)
        self._label(name, f"MDP(S={S}, A={A}, H={H})", meta)

    # ----------------------------------------------------------------- basic facts
    H = property(lambda self: self._H, doc="Horizon (steps per episode).")
    mu = property(lambda self: self._mu, doc="Initial distribution, shape ``(S,)``, read-only.")
    R = property(lambda self: self._R, doc="Mean rewards, always ``(H, S, A)``, read-only.")
    reward_noise = property(lambda self: self._reward_noise, doc="``None`` or ``'bernoulli'`` (read-only).")

    @property
    def stationary(self) -> bool:
        """True when the transitions do not depend on the step."""
        return self._stationary

    @property
    def sparse(self) -> bool:
        """True when the model is stored as successor lists (:meth:`from_successors`)."""
        return self._P is None

    @property
    def P(self) -> np.ndarray:
        """Transitions, ``(S, A, S)`` or ``(H, S, A, S)``, read-only.

        For a sparse model the dense array is built on first use (and cached) when it holds at most
        :data:`DENSE_LIMIT` entries; larger models raise ``ValueError``: use :attr:`successors`,
        :meth:`expected_next` and :meth:`push_forward`, which never build it.
        """
        if self._P is not None:
            return self._P
        cached = self.__dict__.get("_dense_cache")
        if cached is None:
            nxt, pr = self._succ
            size = nxt.shape[0] * self._S * self._A * self._S
            if size > DENSE_LIMIT:
                raise ValueError(f"{self.name}: a dense P would have {size:,} entries (> {DENSE_LIMIT:,}); "
                                 "this model is stored as successor lists (mdp.successors)")
            dense = np.zeros(nxt.shape[:-1] + (self._S,))
            idx = np.indices(nxt.shape[:-1])
            for k in range(nxt.shape[-1]):
                np.add.at(dense, (*idx, nxt[..., k]), pr[..., k])
            cached = self.__dict__["_dense_cache"] = _readonly(dense[0] if self._stationary else dense)
        return cached

    @property
    def P_stages(self) -> np.ndarray:
        """Transitions with a leading stage axis: ``(1, S, A, S)`` if stationary, else ``(H, S, A, S)``.

        Kernels index it with ``min(h, P_stages.shape[0] - 1)``.
        """
        P = self.P
        return P[None] if P.ndim == 3 else P

    def transition(self, h: int) -> np.ndarray:
        """``P_h``, shape ``(S, A, S)``."""
        P = self.P
        return P if P.ndim == 3 else P[h]

    @cached_property
    def successors(self) -> tuple[np.ndarray, np.ndarray]:
        """``(next_states, probs)``, each ``(Hp, S, A, K)`` with ``Hp`` in ``{1, H}`` (read-only).

        For a dense model, ``K`` is the largest number of next states with positive probability
        over all rows; each row lists them in increasing order, padded with probability 0.
        """
        if self._succ is not None:
            return self._succ
        P = self.P_stages
        support = P > 0
        K = max(1, int(support.sum(axis=-1).max()))
        order = np.argsort(~support, axis=-1, kind="stable")[..., :K]
        probs = np.take_along_axis(P, order, axis=-1)
        nxt = np.ascontiguousarray(order, dtype=np.int64)
        nxt.setflags(write=False)
        return nxt, _readonly(probs)

    def expected_next(self, h: int, V: np.ndarray) -> np.ndarray:
        """``(P_h V)(s, a) = sum_{s'} P_h(s' | s, a) V(s')``, shape ``(S, A)``, for ``V`` of shape ``(S,)``."""
        if self._P is not None:
            return self.transition(h) @ V
        nxt, pr = self._succ
        hp = h if self._stages > 1 else 0
        return np.einsum("sak,sak->sa", pr[hp], V[nxt[hp]])

    def push_forward(self, h: int, d: np.ndarray) -> np.ndarray:
        """``sum_{s, a} d(s, a) P_h(. | s, a)``, shape ``(S,)``, for a state-action measure ``d (S, A)``."""
        if self._P is not None:
            return np.einsum("sa,sat->t", d, self.transition(h))
        nxt, pr = self._succ
        hp = h if self._stages > 1 else 0
        return np.bincount(nxt[hp].ravel(), weights=(pr[hp] * d[..., None]).ravel(), minlength=self._S)

    @cached_property
    def fingerprint(self) -> str:
        """A short hash of the model (arrays, horizon, reward noise), for cache keys."""
        arrays = (self._P,) if self._succ is None else self._succ
        return _fingerprint((*arrays, self._R, self._mu), f"H={self._H};noise={self.reward_noise}")

    def with_reward_noise(self, reward_noise) -> FiniteHorizonMDP:
        """The same model with another reward-noise setting."""
        if self._succ is not None:
            return FiniteHorizonMDP.from_successors(*self._succ, self._R, self._mu, self._H, reward_noise=reward_noise,
                                                    name=self.name, meta=self.meta)
        return FiniteHorizonMDP(self._P, self._R, self._mu, self._H, reward_noise=reward_noise, name=self.name,
                                meta=self.meta)

    def to_gymnasium(self, *, render_mode=None):
        """A :class:`gymnasium.Env` that samples from this model (needs the ``gym`` extra)."""
        from .gym_adapter import FiniteHorizonEnv

        return FiniteHorizonEnv(self, render_mode=render_mode)

    def __repr__(self) -> str:
        kind = ("stationary" if self.stationary else "stage-dependent") + (", sparse" if self.sparse else "")
        noise = f", reward_noise={self.reward_noise!r}" if self.reward_noise else ""
        return f"FiniteHorizonMDP(name={self.name!r}, S={self.S}, A={self.A}, H={self.H}, {kind}{noise})"


class DiscountedMDP(TabularFacts):
    """An infinite-horizon discounted MDP, known exactly.

    Parameters
    ----------
    P : array, shape ``(S, A, S)``
        Transition probabilities; each row sums to 1 (tolerance 1e-9).
    R : array, shape ``(S, A)``
        Mean rewards in ``[0, 1]``.
    mu : array, shape ``(S,)``
        Initial distribution.
    gamma : float in ``[0, 1)``
        Discount factor.
    """

    def __init__(self, P, R, mu, gamma, *, reward_noise=None, name=None):
        P, R, mu, S, A = _validate_transitions(P, R, mu, (3,))
        check_ndim(R, "R", (2,), error=InvalidModelError, what="(S, A)")
        check_shape(R, "R", (S, A), error=InvalidModelError, what="mean rewards")
        check_in_range(R, "R", 0.0, 1.0, error=InvalidModelError, what="mean rewards")
        self._gamma = check_real(gamma, "gamma", low=0.0, high=1.0, high_open=True, error=InvalidModelError)
        self._P, self._R, self._mu = _readonly(P), _readonly(R), _readonly(mu)
        self._S, self._A = int(S), int(A)
        self._reward_noise = _check_reward_noise(reward_noise)
        self.name = name if name is not None else f"DiscountedMDP(S={S}, A={A}, gamma={self.gamma:g})"

    mu = property(lambda self: self._mu, doc="Initial distribution, shape ``(S,)``, read-only.")
    P = property(lambda self: self._P, doc="Transitions ``(S, A, S)``, read-only.")
    R = property(lambda self: self._R, doc="Mean rewards ``(S, A)``, read-only.")
    gamma = property(lambda self: self._gamma, doc="Discount factor in ``[0, 1)`` (read-only).")
    reward_noise = property(lambda self: self._reward_noise, doc="``None`` or ``'bernoulli'`` (read-only).")

    @cached_property
    def fingerprint(self) -> str:
        return _fingerprint((self._P, self._R, self._mu), f"gamma={self.gamma!r};noise={self.reward_noise}")

    def __repr__(self) -> str:
        return f"DiscountedMDP(name={self.name!r}, S={self.S}, A={self.A}, gamma={self.gamma:g})"


#: Tolerance on ``|P + P.T - 1|`` for a :class:`PreferenceGame` (the issue's "to 1e-12").
PREFERENCE_ATOL = 1e-12


class PreferenceGame:
    """A symmetric two-player preference game over ``n`` responses (one context), known exactly.

    ``P[y, y']`` is the probability that response ``y`` is preferred to ``y'``; the game is
    constant-sum: ``P + P.T = 1`` (so the diagonal is ``1/2``), and intransitive ``P`` is
    allowed. ``P(y > pi) = (P @ pi)[y]`` and ``P(pi > pi') = pi @ P @ pi'``.

    A *batch* of ``B`` games with the same ``n`` is one object with ``P`` of shape
    ``(B, n, n)``: algorithms run it as ``B`` replicates (a leading replicate axis), one game
    per replicate.

    Parameters
    ----------
    P : array, shape ``(n, n)`` or ``(B, n, n)``
        Preference probabilities in ``[0, 1]`` with ``P + P^T = 1`` to :data:`PREFERENCE_ATOL`.
    reference : array, shape ``(n,)`` or ``(B, n)``, optional
        Reference policy ``rho`` of the KL regularisation: strictly positive, sums to 1
        (tolerance 1e-9). Default: uniform.
    name : str, optional
        Label used in figures.
    meta : dict, optional
        Free-form facts kept with the game (e.g. the planted Condorcet winner); not part of
        :attr:`fingerprint`.

    Raises
    ------
    InvalidModelError
        Naming the argument (``"P"`` or ``"reference"``), the first offending index and value.
    """

    def __init__(self, P, reference=None, *, name=None, meta=None):
        P = as_float_array(P, "P", error=InvalidModelError)
        check_ndim(P, "P", (2, 3), error=InvalidModelError, what="(n, n) or a batch (B, n, n)")
        n = P.shape[-1]
        if P.shape[-2] != n or n < 1 or (P.ndim == 3 and P.shape[0] < 1):
            raise InvalidModelError("P", f"must be square with n >= 1 (and B >= 1), got shape {P.shape}",
                                    value=P.shape)
        check_in_range(P, "P", 0.0, 1.0, error=InvalidModelError, what="preference probabilities")
        err = np.abs(P + np.swapaxes(P, -1, -2) - 1.0)
        bad = err > PREFERENCE_ATOL
        if bad.any():
            idx = first_index(bad)
            j = idx[:-2] + (idx[-1], idx[-2])
            raise InvalidModelError(
                "P", f"must satisfy P + P.T = 1 (tolerance {PREFERENCE_ATOL:g}): P{idx} + P{j} = "
                     f"{float(P[idx] + P[j])!r}", index=idx, value=float(P[idx]))
        batch = P.shape[0] if P.ndim == 3 else None
        if reference is None:
            reference = np.full((n,), 1.0 / n)
        reference = as_float_array(reference, "reference", error=InvalidModelError)
        check_ndim(reference, "reference", (1, 2) if batch is not None else (1,), error=InvalidModelError,
                   what="(n,)" + (" or (B, n)" if batch is not None else ""))
        want = (n,) if reference.ndim == 1 else (batch, n)
        check_shape(reference, "reference", want, error=InvalidModelError, what="reference policy")
        check_distribution(reference, "reference", error=InvalidModelError)
        nonpos = reference <= 0
        if nonpos.any():
            idx = first_index(nonpos)
            raise InvalidModelError("reference", f"must be strictly positive (full support), got {reference[idx]!r}",
                                    index=idx, value=float(reference[idx]))
        self._P = _readonly(P)
        self._reference = _readonly(reference / reference.sum(axis=-1, keepdims=True))
        self._n, self._batch = int(n), batch
        kind = "" if batch is None else f", batch={batch}"
        self.name = name if name is not None else f"PreferenceGame(n={n}{kind})"
        self.meta = dict(meta or {})

    n = property(lambda self: self._n, doc="Number of responses (actions).")
    batch = property(lambda self: self._batch, doc="Number of games ``B`` of a batch, ``None`` for one game.")
    P = property(lambda self: self._P, doc="Preferences as given: ``(n, n)`` or ``(B, n, n)``, read-only.")
    reference = property(lambda self: self._reference,
                         doc="Reference policy as given: ``(n,)`` or ``(B, n)``, read-only.")

    @property
    def batched(self) -> bool:
        """True for a batch of games (``P`` of shape ``(B, n, n)``)."""
        return self._batch is not None

    @property
    def num_games(self) -> int:
        """``B`` for a batch, 1 for one game."""
        return 1 if self._batch is None else self._batch

    @property
    def P_batch(self) -> np.ndarray:
        """Preferences with a leading game axis: ``(num_games, n, n)`` (a view)."""
        return self._P[None] if self._batch is None else self._P

    @property
    def reference_batch(self) -> np.ndarray:
        """Reference policies ``(num_games, n)`` (broadcast when one ``rho`` serves a batch)."""
        return np.broadcast_to(self._reference, (self.num_games, self._n))

    def game(self, b: int) -> PreferenceGame:
        """Game ``b`` of a batch (or this game itself, ``b = 0``) as a single game."""
        b = check_int(b, "b", low=0, high=self.num_games - 1, error=InvalidModelError)
        return PreferenceGame(self.P_batch[b], self.reference_batch[b], name=f"{self.name}[{b}]",
                              meta=self.meta)

    def games(self) -> list[PreferenceGame]:
        """The single games of a batch, in order (``[self]``-like for one game)."""
        return [self.game(b) for b in range(self.num_games)]

    @classmethod
    def stack(cls, games, *, name=None) -> PreferenceGame:
        """One batched game from single games (or batches) of the same ``n``."""
        games = list(games)
        if not games:
            raise InvalidModelError("games", "needs at least one game", value=0)
        for i, g in enumerate(games):
            if not isinstance(g, PreferenceGame):
                raise InvalidModelError("games", f"entry {i} is a {type(g).__name__}, not a PreferenceGame",
                                        index=(i,), value=type(g).__name__)
            if g.n != games[0].n:
                raise InvalidModelError("games", f"entry {i} has n={g.n}, entry 0 has n={games[0].n}",
                                        index=(i,), value=g.n)
        P = np.concatenate([g.P_batch for g in games])
        ref = np.concatenate([g.reference_batch for g in games])
        return cls(P, ref, name=name or f"{games[0].name} x{P.shape[0]}")

    def preference(self, policy) -> np.ndarray:
        """``P(y > pi) = P @ pi`` for every response ``y``: ``(n,)``, or ``(B, n)`` for ``pi`` ``(B, n)``."""
        pi = np.asarray(policy, dtype=np.float64)
        if not self.batched:
            return pi @ self._P.T
        return np.einsum("bij,bj->bi", self._P, np.broadcast_to(pi, (self.num_games, self._n)))

    @cached_property
    def fingerprint(self) -> str:
        """A short hash of ``P`` and the reference policy, for cache keys."""
        return _fingerprint((self._P, self._reference), "PreferenceGame")

    def __repr__(self) -> str:
        kind = "" if self._batch is None else f", batch={self._batch}"
        return f"PreferenceGame(name={self.name!r}, n={self.n}{kind})"

# Submodular MDPs (set-function returns) live in their own core module; re-exported here.
from .submodular import SubmodularMDP  # noqa: E402

__all__ += ["SubmodularMDP"]
from .linear_mixture import LinearMixtureMDP  # noqa: E402  (core module of its own; re-exported here)

__all__ += ["LinearMixtureMDP"]
# The time-varying model lives in its own module; re-exported here (imported last: it imports this one).
from .nonstationary import NonStationaryMDP  # noqa: E402

__all__ += ["NonStationaryMDP"]
