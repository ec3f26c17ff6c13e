"""Linear mixture MDPs: ``P(s' | s, a) = <phi(s' | s, a), theta*>`` with known features ``phi``.

A linear mixture MDP (Jia et al. 2020; Ayoub et al. 2020; Zhou, Gu & Szepesvari 2021) is an episodic,
time-homogeneous MDP whose transition kernel is linear in an unknown parameter ``theta* (d,)`` through
known features ``phi (d, S, A, S)``. For a function ``V: S -> R`` write

    phi_V(s, a) = sum_{s'} phi(s' | s, a) V(s')        (shape (S, A, d) over all pairs),

so that ``[P V](s, a) = <phi_V(s, a), theta*>``: value-targeted regression sees a linear model.
The usual normalisation (e.g. Zhang, Zhang & Gu, ICML 2023, Sec. 3) is ``||phi_V(s, a)||_2 <= 1`` for
every ``V: S -> [0, 1]`` and ``||theta*||_2 <= B``; both are checked on construction.

:class:`LinearMixtureMDP` is an exact model: its induced tabular kernel ``P (S, A, S)`` is available
(:attr:`P`, :meth:`tabular`) for exact planning and evaluation, and learners read only :attr:`phi`
and draw transitions from it.
"""

from __future__ import annotations

import hashlib
from functools import cached_property

import numpy as np

from .errors import InvalidModelError
from .models import TabularFacts
from .validation import (
    PROB_ATOL,
    as_float_array,
    check_finite,
    check_int,
    check_ndim,
    check_real,
    check_shape,
    first_index,
)

__all__ = ["LinearMixtureMDP", "PHI_NORM_ATOL", "EXACT_NORM_MAX_STATES", "max_phi_norm"]

#: Slack on ``||phi_V(s, a)|| <= 1``.
PHI_NORM_ATOL = 1e-9
#: Up to this many states the bound ``max_{V in [0,1]^S} ||phi_V(s, a)||`` is computed exactly.
EXACT_NORM_MAX_STATES = 16


def max_phi_norm(phi_sa: np.ndarray) -> np.ndarray:
    """``max_{V in [0,1]^S} ||phi_V(s, a)||_2`` for every pair, shape ``(S, A)``.

    ``phi_sa`` has shape ``(S, A, d, S')`` (features of pair ``(s, a)`` as a ``d x S'`` matrix). The
    squared norm is convex in ``V``, so its maximum over the box sits at a vertex ``V in {0, 1}^S``:
    exact enumeration for ``S' <= EXACT_NORM_MAX_STATES``. Beyond that, the value at ``V = 1`` is exact
    when all features are non-negative (the norm is then monotone in ``V``); otherwise the upper bound
    ``sqrt(sum_i (sum_j |phi_ij|)^2)`` is returned (a sufficient check).
    """
    S_next = phi_sa.shape[-1]
    if S_next <= EXACT_NORM_MAX_STATES:
        bits = ((np.arange(2 ** S_next)[:, None] >> np.arange(S_next)[None, :]) & 1).astype(np.float64)
        proj = np.einsum("saij,vj->savi", phi_sa, bits)          # (S, A, 2^S, d)
        return np.sqrt(np.max(np.sum(proj ** 2, axis=-1), axis=-1))
    if np.all(phi_sa >= 0):
        return np.sqrt(np.sum(phi_sa.sum(axis=-1) ** 2, axis=-1))
    return np.sqrt(np.sum(np.abs(phi_sa).sum(axis=-1) ** 2, axis=-1))


class LinearMixtureMDP(TabularFacts):
    """An episodic linear mixture MDP with a fixed start state, known exactly.

    Parameters
    ----------
    phi : array, shape ``(d, S, A, S)``
        Known features ``phi[i, s, a, s'] = phi_i(s' | s, a)``.
    theta : array, shape ``(d,)``
        True parameter ``theta*``. The induced ``P[s, a, s'] = sum_i phi[i, s, a, s'] theta[i]`` must be
        a probability distribution over ``s'`` for every ``(s, a)`` (tolerance 1e-9; entries within
        -1e-12 of zero are set to 0).
    H : int
        Horizon (>= 1).
    start_state : int
        The fixed initial state ``s_1``.
    B : float, optional
        Known bound on ``||theta*||_2`` (default ``||theta*||_2``); must be at least ``||theta*||_2``.
    name : str, optional
        Label used in figures.

    Raises
    ------
    InvalidModelError
        Naming the argument and the offending index: ``phi``/``theta`` shapes or ``d`` mismatch,
        non-finite entries, an induced row that is not a distribution (index ``(s, a)`` or
        ``(s, a, s')``), ``||phi_V(s, a)|| > 1`` for some ``V`` in ``[0, 1]^S`` (index ``(s, a)``).
    """

    def __init__(self, phi, theta, H, *, start_state=0, B=None, name=None):
        phi = as_float_array(phi, "phi", error=InvalidModelError)
        theta = as_float_array(theta, "theta", error=InvalidModelError)
        check_ndim(phi, "phi", (4,), error=InvalidModelError, what="(d, S, A, S)")
        d, S, A, S2 = phi.shape
        if d < 1 or S < 1 or A < 1:
            raise InvalidModelError("phi", f"needs d, S, A >= 1, got shape {phi.shape}", value=phi.shape)
        if S2 != S:
            raise InvalidModelError("phi", f"last axis (next state) must have length S={S}, got shape {phi.shape}",
                                    value=phi.shape)
        check_finite(phi, "phi", error=InvalidModelError)
        check_ndim(theta, "theta", (1,), error=InvalidModelError, what="(d,)")
        check_shape(theta, "theta", (d,), error=InvalidModelError, what=f"d={d} from phi's first axis")
        check_finite(theta, "theta", error=InvalidModelError)
        self._H = check_int(H, "H", low=1, error=InvalidModelError)
        self._s1 = check_int(start_state, "start_state", low=0, high=S - 1, error=InvalidModelError)

        P = np.einsum("isaj,i->saj", phi, theta)
        neg = P < -1e-12
        if neg.any():
            idx = first_index(neg)
            raise InvalidModelError("phi", f"induced P(s'|s,a) = <phi(s'|s,a), theta> is negative, {P[idx]!r}",
                                    index=idx, value=float(P[idx]))
        sums = P.sum(axis=-1)
        bad = np.abs(sums - 1.0) > PROB_ATOL
        if bad.any():
            idx = first_index(bad)
            raise InvalidModelError("phi", f"induced row P(.|s,a) must sum to 1 (tolerance {PROB_ATOL:g}), "
                                           f"sums to {float(sums[idx])!r}", index=idx, value=float(sums[idx]))
        P = np.clip(P, 0.0, None)
        P /= P.sum(axis=-1, keepdims=True)

        phi_sa = np.ascontiguousarray(np.moveaxis(phi, 0, 2))        # (S, A, d, S)
        norms = max_phi_norm(phi_sa)
        too_big = norms > 1.0 + PHI_NORM_ATOL
        if too_big.any():
            idx = first_index(too_big)
            raise InvalidModelError("phi", f"max over V in [0,1]^S of ||phi_V(s,a)||_2 must be <= 1, got "
                                           f"{float(norms[idx])!r}", index=idx, value=float(norms[idx]))
        tn = float(np.linalg.norm(theta))
        if B is None:
            B = tn
        B = check_real(B, "B", low=0.0, low_open=True, error=InvalidModelError)
        if tn > B * (1 + 1e-12):
            raise InvalidModelError("B", f"must bound ||theta||_2 = {tn!r}, got {B!r}", value=B)
        self._phi = _readonly(phi)
        self._phi_sa = _readonly(phi_sa)
        self._theta = _readonly(theta)
        self._P = _readonly(P)
        self._B = B
        self._d, self._S, self._A = d, S, A
        self.name = name or f"LinearMixtureMDP(d={d}, S={S}, A={A}, H={self._H})"

    d = property(lambda self: self._d, doc="Feature dimension.")
    H = property(lambda self: self._H, doc="Horizon.")
    B = property(lambda self: self._B, doc="Known bound on ``||theta*||_2``.")
    start_state = property(lambda self: self._s1, doc="The fixed start state ``s_1``.")
    phi = property(lambda self: self._phi, doc="Features ``(d, S, A, S)``, read-only.")
    phi_sa = property(lambda self: self._phi_sa, doc="Features as ``(S, A, d, S)`` matrices, read-only.")
    theta = property(lambda self: self._theta, doc="True parameter ``(d,)``, read-only.")
    P = property(lambda self: self._P, doc="Induced exact kernel ``(S, A, S)``, read-only.")

    def phi_V(self, V) -> np.ndarray:
        """``phi_V(s, a) = sum_{s'} phi(s'|s, a) V(s')`` for all pairs: ``V (..., S) -> (..., S, A, d)``.

        One tensor contraction ``(S, A, d, S) x (..., S)``; ``<phi_V(s, a), theta*> = [P V](s, a)``.
        """
        V = np.asarray(V, dtype=np.float64)
        if V.shape[-1:] != (self._S,):
            raise InvalidModelError("V", f"last axis must have length S={self._S}, got shape {V.shape}",
                                    value=V.shape)
        return np.einsum("saij,...j->...sai", self._phi_sa, V)

    def transition_from(self, theta) -> np.ndarray:
        """``<phi(.|s, a), theta>`` as an ``(S, A, S)`` array (not a kernel for a general ``theta``)."""
        return np.einsum("saij,i->saj", self._phi_sa, np.asarray(theta, dtype=np.float64))

    @property
    def start_distribution(self) -> np.ndarray:
        mu = np.zeros(self._S)
        mu[self._s1] = 1.0
        return mu

    def tabular(self, R=None):
        """The exact tabular model (``P``, start state ``s_1``) with rewards ``R`` (default 0)."""
        from .models import FiniteHorizonMDP  # models re-exports this module: import lazily

        if R is None:
            R = np.zeros((self._S, self._A))
        return FiniteHorizonMDP(self._P, R, self.start_distribution, H=self._H, name=self.name)

    @cached_property
    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for arr in (self._phi, self._theta):
            h.update(str(arr.shape).encode())
            h.update(arr.tobytes())
        h.update(f"H={self._H};s1={self._s1};B={self._B!r}".encode())
        return h.hexdigest()[:16]

    def __repr__(self) -> str:
        return f"LinearMixtureMDP(d={self._d}, S={self._S}, A={self._A}, H={self._H}, s1={self._s1})"


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.float64).copy()
    a.setflags(write=False)
    return a
