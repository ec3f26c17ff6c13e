"""Submodular MDPs: a controlled Markov process scored by a set function of the visited states.

A :class:`SubmodularMDP` holds transitions ``P`` ``(S, A, S)`` (or stage-dependent ``(H - 1, S, A, S)``),
a start distribution ``mu`` ``(S,)``, a horizon ``H >= 2`` and a monotone submodular objective of the
*set* of visited states. A trajectory ``tau = (s_0, a_0, s_1, ..., a_{H-2}, s_{H-1})`` has ``H`` states
and ``H - 1`` actions, and scores ``F(tau) = F({s_0, ..., s_{H-1}})``; revisits add nothing.

The objective is a weighted coverage by default (the form every compiled kernel handles)::

    F(A) = sum_j weights[j] * max_{s in A} cover[s, j]        cover (S, J) in [0, 1], weights (J,) >= 0

Its marginal gain is computed incrementally from the running maximum ``m = max_{s in A} cover[s, :]``
(a ``(J,)`` "covered" vector per trajectory): ``F(s | A) = sum_j w_j max(0, cover[s, j] - m_j)``,
never by recomputing ``F`` of the prefix. Other objectives are plain callables on sets of states
(:class:`SteinerTruncation`, :class:`LogDetEntropy`, :class:`Modular`), passed as ``objective=``;
exact enumeration, greedy and OPT accept them, the compiled learners need the coverage form.

This module holds the generic model only; the papers' environments live in ``rltheory.mdps``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from functools import cached_property

import numpy as np

from .errors import InvalidModelError
from .models import TabularFacts
from .validation import (
    as_float_array,
    check_distribution,
    check_finite,
    check_in_range,
    check_int,
    check_ndim,
    check_real,
    check_shape,
    check_start_distribution,
    first_index,
)

__all__ = ["SubmodularMDP", "WeightedCoverage", "SteinerTruncation", "LogDetEntropy", "Modular",
           "as_state_set"]


def as_state_set(states: Iterable[int], S: int) -> np.ndarray:
    """Sorted distinct states of ``states`` as an int array (the set the objective scores)."""
    arr = np.unique(np.asarray(list(states) if not isinstance(states, np.ndarray) else states, dtype=np.int64))
    if arr.size and (arr[0] < 0 or arr[-1] >= S):
        raise InvalidModelError("states", f"must lie in [0, {S}), got {arr.tolist()}", value=arr.tolist())
    return arr


class WeightedCoverage:
    """``F(A) = sum_j w_j max_{s in A} cover[s, j]`` (0 on the empty set); monotone submodular.

    ``cover`` ``(S, J)`` in ``[0, 1]``, ``weights`` ``(J,)`` finite and ``>= 0``.
    """

    def __init__(self, cover, weights=None):
        cover = as_float_array(cover, "cover", error=InvalidModelError)
        check_ndim(cover, "cover", (2,), error=InvalidModelError, what="(S, J)")
        if cover.shape[0] < 1 or cover.shape[1] < 1:
            raise InvalidModelError("cover", f"needs S, J >= 1, got shape {cover.shape}", value=cover.shape)
        check_in_range(cover, "cover", 0.0, 1.0, error=InvalidModelError, what="coverage levels")
        J = cover.shape[1]
        weights = np.ones(J) if weights is None else as_float_array(weights, "weights", error=InvalidModelError)
        check_ndim(weights, "weights", (1,), error=InvalidModelError, what="(J,)")
        check_shape(weights, "weights", (J,), error=InvalidModelError, what="one weight per column of cover")
        check_finite(weights, "weights", error=InvalidModelError)
        neg = weights < 0
        if neg.any():
            idx = first_index(neg)
            raise InvalidModelError("weights", f"must be >= 0 (monotone objective), got {weights[idx]!r}",
                                    index=idx, value=float(weights[idx]))
        self.cover = _readonly(cover)
        self.weights = _readonly(weights)

    def __call__(self, states) -> float:
        A = as_state_set(states, self.cover.shape[0])
        if A.size == 0:
            return 0.0
        return float(self.weights @ self.cover[A].max(axis=0))

    def gain(self, covered: np.ndarray, s: int) -> float:
        """``F(s | A)`` from the running maximum ``covered = max_{a in A} cover[a, :]`` ``(J,)``."""
        return float(self.weights @ np.maximum(self.cover[s] - covered, 0.0))


class SteinerTruncation:
    """``F(A) = sum_k min(|items_k ∩ A|, dmin_k)``: collect ``dmin_k`` items of each type ``k``.

    ``items`` ``(S, K)`` 0/1 (state ``s`` holds an item of type ``k``), ``dmin`` ``(K,)`` integers ``>= 0``.
    The steiner objective of the official code (spec B4); monotone submodular (truncated modular).
    """

    def __init__(self, items, dmin):
        items = as_float_array(items, "items", error=InvalidModelError)
        check_ndim(items, "items", (2,), error=InvalidModelError, what="(S, K)")
        bad = (items != 0) & (items != 1)
        if bad.any():
            idx = first_index(bad)
            raise InvalidModelError("items", f"entries must be 0 or 1, got {items[idx]!r}", index=idx,
                                    value=float(items[idx]))
        dmin = as_float_array(dmin, "dmin", error=InvalidModelError)
        check_shape(dmin, "dmin", (items.shape[1],), error=InvalidModelError, what="one threshold per item type")
        check_in_range(dmin, "dmin", 0.0, np.inf, error=InvalidModelError)
        self.items, self.dmin = _readonly(items), _readonly(dmin)

    def __call__(self, states) -> float:
        A = as_state_set(states, self.items.shape[0])
        return float(np.minimum(self.items[A].sum(axis=0), self.dmin).sum())


class LogDetEntropy:
    """``F(A) = 1/2 ln det(K_AA + jitter I) + per_state |A|`` over the deduplicated set ``A`` (0 if empty).

    Spec B7: the official entropy objective adds ``9.965784`` per state of the *multiset*, which is not a
    set function; this is its set-function form [RECONSTRUCTED choice]. ``log det`` of a positive definite
    kernel is submodular, and ``per_state >= -1/2 ln(jitter)`` makes every marginal gain
    ``1/2 ln(posterior variance + jitter) + per_state`` non-negative, so ``F`` is monotone.
    """

    def __init__(self, K, jitter: float = 1e-6, per_state: float = 9.965784):
        K = as_float_array(K, "K", error=InvalidModelError)
        check_ndim(K, "K", (2,), error=InvalidModelError, what="(S, S) kernel matrix")
        check_shape(K, "K", (K.shape[0], K.shape[0]), error=InvalidModelError, what="square")
        check_finite(K, "K", error=InvalidModelError)
        if not np.allclose(K, K.T, atol=1e-12):
            raise InvalidModelError("K", "must be symmetric", value=K.shape)
        self.jitter = check_real(jitter, "jitter", low=0.0, low_open=True, error=InvalidModelError)
        self.per_state = check_real(per_state, "per_state", low=-0.5 * np.log(self.jitter), error=InvalidModelError)
        if np.linalg.eigvalsh(K).min() < -1e-10:
            raise InvalidModelError("K", "must be positive semi-definite", value=float(np.linalg.eigvalsh(K).min()))
        self.K = _readonly(K)

    def __call__(self, states) -> float:
        A = as_state_set(states, self.K.shape[0])
        if A.size == 0:
            return 0.0
        sign, logdet = np.linalg.slogdet(self.K[np.ix_(A, A)] + self.jitter * np.eye(A.size))
        return float(0.5 * logdet + self.per_state * A.size)


class Modular:
    """``F(A) = sum_{s in A} r[s]`` with ``r >= 0``: modular, hence monotone submodular (curvature 0)."""

    def __init__(self, r):
        r = as_float_array(r, "r", error=InvalidModelError)
        check_ndim(r, "r", (1,), error=InvalidModelError, what="(S,)")
        check_in_range(r, "r", 0.0, np.inf, error=InvalidModelError)
        self.r = _readonly(r)

    def __call__(self, states) -> float:
        return float(self.r[as_state_set(states, self.r.size)].sum())


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a).copy()
    a.setflags(write=False)
    return a


class SubmodularMDP(TabularFacts):
    """A controlled Markov process whose return is a monotone submodular function of the visited states.

    Parameters
    ----------
    P : array ``(S, A, S)`` or ``(H - 1, S, A, S)``
        Transition probabilities ``P[h, s, a, s']`` of the ``H - 1`` moves; rows sum to 1 (tolerance 1e-9).
    mu : array ``(S,)``
        Start distribution.
    H : int >= 2
        Number of visited states per trajectory (``H - 1`` actions), spec B1's convention.
    cover : array ``(S, J)`` in ``[0, 1]``, optional
        Weighted-coverage objective (see the module docstring); required unless ``objective`` is given.
    weights : array ``(J,)`` >= 0, optional
        Column weights of ``cover`` (default all ones).
    objective : callable on a set of states, optional
        Any other monotone submodular set function (e.g. :class:`SteinerTruncation`); then ``cover`` must
        be ``None``, and only the exact/greedy tools (not the compiled learners) accept the model.
    features : int array ``(S, K)`` in ``[-1, J)``, optional
        Columns of the covered vector a history policy reads at state ``s`` (``-1``: a constant 0
        feature). Default: all ``J`` columns at every state (small models). Grids pass a window.
    normaliser : float > 0, optional
        ``MAX_Ret`` of the official code's estimator (spec B2.2). Default ``F(all states)``.
    name, meta
        Label for figures; free-form facts (grid shape, cells) kept by the model.
    """

    def __init__(self, P, mu, H, cover=None, weights=None, *, objective: Callable | None = None, features=None,
                 normaliser=None, name=None, meta=None):
        H = check_int(H, "H", low=2, error=InvalidModelError)
        P = as_float_array(P, "P", error=InvalidModelError)
        check_ndim(P, "P", (3, 4), error=InvalidModelError, what="(S, A, S) or (H - 1, S, A, S)")
        S, A = P.shape[-3], P.shape[-2]
        if S < 1 or A < 1 or P.shape[-1] != S:
            raise InvalidModelError("P", f"must be (S, A, S) with S, A >= 1, got shape {P.shape}", value=P.shape)
        if P.ndim == 4 and P.shape[0] != H - 1:
            raise InvalidModelError("P", f"stage-dependent P needs H - 1 = {H - 1} stages, got {P.shape[0]}",
                                    value=P.shape)
        check_distribution(P, "P", error=InvalidModelError)
        mu = check_start_distribution(mu, S, error=InvalidModelError, what="start distribution over the S states")
        if (cover is None) == (objective is None):
            raise InvalidModelError("cover", "give exactly one of cover (weighted coverage) or objective",
                                    value=None if cover is None else "both")
        if objective is not None and not callable(objective):
            raise InvalidModelError("objective", f"must be callable on a set of states, got {type(objective).__name__}",
                                    value=type(objective).__name__)
        self._coverage = WeightedCoverage(cover, weights) if cover is not None else None
        if self._coverage is not None and self._coverage.cover.shape[0] != S:
            raise InvalidModelError("cover", f"must have S={S} rows, got shape {self._coverage.cover.shape}",
                                    value=self._coverage.cover.shape)
        self._objective = self._coverage if objective is None else objective
        J = self._coverage.cover.shape[1] if self._coverage is not None else 0
        if features is None:
            feats = np.tile(np.arange(J, dtype=np.int64), (S, 1)) if J else np.full((S, 1), -1, dtype=np.int64)
        else:
            feats = np.asarray(features)
            if feats.dtype == object or not np.issubdtype(feats.dtype, np.integer):
                raise InvalidModelError("features", f"must be an integer array, got dtype {feats.dtype}",
                                        value=str(feats.dtype))
            check_ndim(feats, "features", (2,), error=InvalidModelError, what="(S, K)")
            if feats.shape[0] != S or feats.shape[1] < 1:
                raise InvalidModelError("features", f"must have shape (S={S}, K >= 1), got {feats.shape}",
                                        value=feats.shape)
            bad = (feats < -1) | (feats >= J)
            if bad.any():
                idx = first_index(bad)
                raise InvalidModelError("features", f"entries must lie in [-1, {J}), got {int(feats[idx])}",
                                        index=idx, value=int(feats[idx]))
        self._features = _readonly(feats.astype(np.int64))
        self._P, self._mu = _readonly(P), _readonly(mu)
        self._S, self._A, self._H = int(S), int(A), int(H)
        if normaliser is None:
            normaliser = self.value(range(S))
            normaliser = normaliser if normaliser > 0 else 1.0
        self.normaliser = check_real(normaliser, "normaliser", low=0.0, low_open=True, error=InvalidModelError)
        self._label(name, f"SubmodularMDP(S={S}, A={A}, H={H})", meta)

    # ----------------------------------------------------------------- facts
    H = property(lambda self: self._H, doc="Visited states per trajectory (``H - 1`` actions).")
    mu = property(lambda self: self._mu, doc="Start distribution ``(S,)``, read-only.")
    P = property(lambda self: self._P, doc="Transitions ``(S, A, S)`` or ``(H - 1, S, A, S)``, read-only.")
    features = property(lambda self: self._features, doc="History-feature columns ``(S, K)``, read-only.")
    objective = property(lambda self: self._objective, doc="The set function ``F`` (callable on a set of states).")

    @property
    def is_coverage(self) -> bool:
        """True when ``F`` is the weighted coverage given by ``cover``/``weights`` (kernel-ready)."""
        return self._coverage is not None

    @property
    def cover(self) -> np.ndarray:
        """``(S, J)`` coverage levels (raises for a model built from another ``objective``)."""
        if self._coverage is None:
            raise InvalidModelError("cover", f"{self.name} has a {type(self._objective).__name__} objective, "
                                             "not a weighted coverage", value=None)
        return self._coverage.cover

    @property
    def weights(self) -> np.ndarray:
        """``(J,)`` column weights of the coverage objective."""
        self.cover  # noqa: B018 - raises for non-coverage objectives
        return self._coverage.weights

    @property
    def P_stages(self) -> np.ndarray:
        """``(1, S, A, S)`` if stationary else ``(H - 1, S, A, S)``; move ``h`` uses ``min(h, Hp - 1)``."""
        return self._P[None] if self._P.ndim == 3 else self._P

    @cached_property
    def successors(self) -> tuple[np.ndarray, np.ndarray]:
        """``(next_states, probs)``, each ``(Hp, S, A, K)``: the support of every row, padded with probability 0."""
        P = self.P_stages
        support = P > 0
        K = max(1, int(support.sum(axis=-1).max()))
        order = np.argsort(~support, axis=-1, kind="stable")[..., :K]
        return _readonly(order.astype(np.int64)), _readonly(np.take_along_axis(P, order, axis=-1))

    @cached_property
    def cover_lists(self) -> tuple[np.ndarray, np.ndarray]:
        """Sparse rows of ``w * cover``: ``(columns (S, Kc), values (S, Kc))``; padding has column ``-1``.

        Kernels compute ``F(s | A) = sum_k w[col] max(0, cover[s, col] - m[col])`` over the ``Kc`` entries.
        """
        cover = self.cover
        nz = cover > 0
        Kc = max(1, int(nz.sum(axis=1).max()))
        cols = np.full((self._S, Kc), -1, dtype=np.int64)
        vals = np.zeros((self._S, Kc))
        for s in range(self._S):
            c = np.flatnonzero(nz[s])
            cols[s, :c.size] = c
            vals[s, :c.size] = cover[s, c]
        return _readonly(cols), _readonly(vals)

    @cached_property
    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for arr in (self._P, self._mu, self._features) + ((self.cover, self.weights) if self.is_coverage else ()):
            h.update(str(arr.shape).encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        h.update(f"H={self._H};obj={type(self._objective).__name__};norm={self.normaliser!r}".encode())
        return h.hexdigest()[:16]

    # ----------------------------------------------------------------- objective
    def value(self, states) -> float:
        """``F`` of the set of ``states`` (any iterable of state indices; repeats ignored)."""
        return float(self._objective(as_state_set(states, self._S)))

    def gains(self, states) -> np.ndarray:
        """Marginal gains ``Delta_j = F(s_{j+1} | {s_0..s_j})`` along a sequence ``(n,)`` -> ``(n - 1,)``.

        For weighted coverage they are computed incrementally from the covered vector; for other
        objectives as differences of ``F`` on the growing set (reference use only).
        """
        seq = np.asarray(states, dtype=np.int64)
        out = np.empty(max(seq.size - 1, 0))
        if self.is_coverage:
            covered = self.cover[seq[0]].copy()
            for j in range(1, seq.size):
                out[j - 1] = self._coverage.gain(covered, seq[j])
                np.maximum(covered, self.cover[seq[j]], out=covered)
            return out
        for j in range(1, seq.size):
            out[j - 1] = self.value(seq[:j + 1]) - self.value(seq[:j])
        return out

    def __repr__(self) -> str:
        kind = "stationary" if self._P.ndim == 3 else "stage-dependent"
        return (f"SubmodularMDP(name={self.name!r}, S={self.S}, A={self.A}, H={self.H}, {kind}, "
                f"objective={type(self._objective).__name__})")
