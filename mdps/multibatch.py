"""Instances of the multi-batch policy-evaluation test-bed (all **ours**; see the provenance below).

Every instance is a discounted MDP whose states are the points ``x`` of the closed unit ball of
``R^d``, one action per state, feature ``phi(x) = x``, deterministic transitions ``x -> T(x)`` and
reward ``r(x) = (x - gamma T(x)) . theta*``, so ``Q(x) = theta* . x`` solves the Bellman equation:
``Q`` is linear for every policy (all-policy realisability) and ``|r| <= 1``. A start state ``s*``
whose actions are all unit vectors behaves, action by action, like the state it names, so
``Q(s*, a) = theta* . a`` and the PE error ``sup_a |Q_hat(s*, a) - Q(s*, a)|`` equals
``||theta_hat - theta*||_2`` exactly.

They answer the :class:`rltheory.batch_queries.QueryOracle` protocol: ``dim``, ``gamma`` and
``respond(X) -> (rewards (n,), probs (n, 1), successors (n, 1, d))``.

* :class:`DeterministicLinearChain` (benign, ours): ``T(x) = R S R^T x`` with ``S`` the nilpotent shift
  ``e_1 -> e_2 -> ... -> e_d -> 0`` in a hidden random orthonormal basis ``R``; ``||T|| <= 1``, and
  ``I - gamma R S R^T`` is invertible, so any ``d`` linearly independent one-step queries identify
  ``theta*`` in one batch. ``||theta*|| = 1/(1 + gamma)`` keeps ``|r| <= 1``.
* :class:`NestedSector` ``NS(d, gamma, m_0:L, W, sigma)`` (ours; digest B3, in the spirit of the paper's
  sectors but not the paper's construction): dims ``d = m_0 > m_1 > ... > m_L = 1``, nested orthonormal
  frames ``W_j`` (``d x m_j``, ``span W_L ⊂ ... ⊂ span W_1``), ``u = W_L``, ``theta* = sigma u``. Level of
  ``x``: the first ``j`` with ``||W_j^T x|| <= gamma'``; then ``y = W_j W_j^T x``, ``w = x - y``,
  ``c = min(1, sqrt(1 - ||y||^2 / gamma^2) / ||w||)`` (0 when ``w = 0``), ``T(x) = y / gamma + c w``,
  ``r = 0``. With no such level (``x`` in the final double cap ``|u . x| > gamma'``), ``T(x) = 0`` and
  ``r = sigma u . x``. The margin ``gamma' = gamma (1 - 1e-9)`` keeps ``1 - ||y||^2/gamma^2 >= 2e-9``
  on resolved rows, so ``||T(x)|| <= 1`` holds in floating point (digest B8).
* :class:`CapInstance`: ``NS`` with one level (``dims = (d, 1)``): Zanette's double cap (our
  reconstruction of his K = 1 instance; the paper's own construction was read second-hand).

Random family (:meth:`NestedSector.sample`): ``W_1`` a uniform ``m_1``-frame (QR of a Gaussian), then
``W_j = W_{j-1} V_j`` with ``V_j`` a uniform ``m_j``-frame of ``R^{m_{j-1}}``, re-orthonormalised by QR at
every level; ``sigma`` uniform in ``{-1, +1}``. :func:`greedy_dims` is the digest addendum's chain rule.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy.special import betainc

from rltheory.errors import InvalidModelError, InvalidParameterError
from rltheory.validation import as_float_array, check_finite, check_int, check_real

__all__ = [
    "MARGIN",
    "DeterministicLinearChain",
    "NestedSector",
    "CapInstance",
    "InstanceFamily",
    "greedy_dims",
]

#: Relative margin on the level test: a level resolves ``x`` when ``||W_j^T x|| <= gamma (1 - MARGIN)``.
MARGIN = 1e-9


def _check_gamma(gamma) -> float:
    return check_real(gamma, "gamma", low=0.0, high=1.0, low_open=True, high_open=True)


def _check_dims(dims, d: int | None = None) -> tuple[int, ...]:
    try:
        dims = tuple(dims)
    except TypeError:
        raise InvalidParameterError("dims", f"must be a sequence of integers, got {dims!r}", value=dims) from None
    if len(dims) < 2:
        raise InvalidParameterError("dims", f"needs at least two entries (d, ..., 1), got {dims!r}", value=dims)
    for i, m in enumerate(dims):
        if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 1:
            raise InvalidParameterError("dims", f"entries must be integers >= 1, got {m!r}", index=(i,), value=m)
        if i and m >= dims[i - 1]:
            raise InvalidParameterError("dims", f"must be strictly decreasing, got {m} after {dims[i - 1]}",
                                        index=(i,), value=int(m))
    if dims[-1] != 1:
        raise InvalidParameterError("dims", f"must end at 1, got {dims[-1]}", index=(len(dims) - 1,), value=dims[-1])
    if d is not None and dims[0] != d:
        raise InvalidParameterError("dims", f"must start at d={d}, got {dims[0]}", index=(0,), value=dims[0])
    return tuple(int(m) for m in dims)


def _check_states(X, d: int) -> np.ndarray:
    X = as_float_array(X, "X", error=InvalidParameterError)
    if X.ndim != 2 or X.shape[1] != d:
        raise InvalidParameterError("X", f"must have shape (n, {d}), got {X.shape}", value=X.shape)
    check_finite(X, "X", error=InvalidParameterError)
    return X


def _uniform_frame(rng: np.random.Generator, D: int, m: int) -> np.ndarray:
    """A uniformly random ``D x m`` orthonormal frame (QR of a Gaussian, signs fixed by ``diag(R) > 0``)."""
    Q, R = np.linalg.qr(rng.standard_normal((D, m)))
    return Q * np.sign(np.diag(R))[None, :]


def greedy_dims(d: int, gamma: float, n_design: int) -> tuple[int, ...]:
    """The addendum's chain rule (ours): from ``D`` take the largest ``m < D`` with
    ``ln p(D, m, gamma) <= -ln(2 n_design)``, where ``p(D, m, gamma) = I_{1-gamma^2}((D-m)/2, m/2)``;
    when none exists the last level is ``m = 1``. Greedy is optimal: ``p`` rises with ``m`` and falls
    with ``D``. (``rltheory.bounds.multibatch.greedy_chain`` is the same rule, in log space for any ``d``;
    a test checks they agree.) d = 64, gamma = 0.9, n_design = d^2 gives (64, 33, 13, 2, 1).
    """
    d = check_int(d, "d", low=2)
    gamma = _check_gamma(gamma)
    n_design = check_int(n_design, "n_design", low=1)
    thr = -math.log(2.0 * n_design)
    dims = [d]
    while dims[-1] > 1:
        D = dims[-1]
        m = np.arange(1, D)
        with np.errstate(divide="ignore"):
            lp = np.log(betainc((D - m) / 2.0, m / 2.0, 1.0 - gamma * gamma))
        ok = np.flatnonzero(lp <= thr)
        dims.append(int(m[ok[-1]]) if ok.size else 1)
    return tuple(dims)


class _LinearInstance:
    """Shared parts: ``dim``, ``gamma``, ``theta_star``, Q and the one-successor response format."""

    dim: int
    gamma: float
    theta_star: np.ndarray

    def transition(self, X) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def reward(self, X) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def q_value(self, X) -> np.ndarray:
        """``Q(x) = theta* . x`` for rows of ``X``, shape ``(n,)``."""
        return _check_states(X, self.dim) @ self.theta_star

    def _step(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(T(X), r(X))`` for validated rows."""
        return self.transition(X), self.reward(X)

    def respond(self, X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exact feedback for rows of ``X`` ``(n, d)``: ``(r (n,), probs (n, 1), successors (n, 1, d))``."""
        X = _check_states(X, self.dim)
        T, r = self._step(X)
        return r, np.ones((X.shape[0], 1)), T[:, None, :]

    def error(self, theta_hat) -> float:
        """PE error ``||theta_hat - theta*||_2`` (= sup over the unit sphere of ``|Q_hat - Q|``)."""
        theta_hat = as_float_array(theta_hat, "theta_hat", error=InvalidParameterError)
        if theta_hat.shape != (self.dim,):
            raise InvalidParameterError("theta_hat", f"must have shape ({self.dim},), got {theta_hat.shape}",
                                        value=theta_hat.shape)
        return float(np.linalg.norm(theta_hat - self.theta_star))


class DeterministicLinearChain(_LinearInstance):
    """Benign instance (ours): ``T(x) = M x`` with ``M = R S R^T``, ``S`` the nilpotent shift.

    Parameters
    ----------
    basis : ndarray (d, d)
        Orthonormal ``R`` (columns: the chain's states ``e_1 -> ... -> e_d -> 0`` in feature space).
    theta_star : ndarray (d,)
        ``||theta*|| <= 1 / (1 + gamma)`` so that ``|r| <= 1`` on the ball.
    gamma : float in (0, 1)
    """

    def __init__(self, basis, theta_star, gamma: float):
        self.gamma = _check_gamma(gamma)
        R = as_float_array(basis, "basis", error=InvalidModelError)
        if R.ndim != 2 or R.shape[0] != R.shape[1] or R.shape[0] < 2:
            raise InvalidModelError("basis", f"must be a square (d, d) matrix with d >= 2, got {R.shape}",
                                    value=R.shape)
        check_finite(R, "basis", error=InvalidModelError)
        d = R.shape[0]
        if not np.allclose(R.T @ R, np.eye(d), atol=1e-10):
            dev = float(np.abs(R.T @ R - np.eye(d)).max())
            raise InvalidModelError("basis", f"must have orthonormal columns (|R^T R - I| = {dev:.3g})", value=dev)
        th = as_float_array(theta_star, "theta_star", error=InvalidModelError)
        if th.shape != (d,):
            raise InvalidModelError("theta_star", f"must have shape ({d},), got {th.shape}", value=th.shape)
        check_finite(th, "theta_star", error=InvalidModelError)
        norm = float(np.linalg.norm(th))
        if norm > 1.0 / (1.0 + self.gamma) + 1e-12:
            raise InvalidModelError("theta_star", f"norm must be <= 1/(1+gamma) = {1 / (1 + self.gamma):.6g} "
                                                  f"(|r| <= 1), got {norm:.6g}", value=norm)
        self.dim = d
        self.theta_star = th
        S = np.eye(d, k=-1)  # S e_i = e_{i+1}, S e_d = 0
        self._M = R @ S @ R.T

    @classmethod
    def sample(cls, d: int, gamma: float, rng: np.random.Generator) -> DeterministicLinearChain:
        """Random basis (uniform orthogonal) and ``theta*`` uniform on the sphere of radius ``1/(1+gamma)``."""
        d = check_int(d, "d", low=2)
        gamma = _check_gamma(gamma)
        R = _uniform_frame(rng, d, d)
        v = rng.standard_normal(d)
        return cls(R, v / np.linalg.norm(v) / (1.0 + gamma), gamma)

    def transition(self, X) -> np.ndarray:
        X = _check_states(X, self.dim)
        return X @ self._M.T

    def reward(self, X) -> np.ndarray:
        X = _check_states(X, self.dim)
        return (X - self.gamma * self.transition(X)) @ self.theta_star


class NestedSector(_LinearInstance):
    """``NS(d, gamma, dims, W, sigma)`` (ours, digest B3); see the module docstring.

    Parameters
    ----------
    frames : sequence of ndarray
        ``W_1, ..., W_L``, ``W_j`` of shape ``(d, m_j)`` with orthonormal columns, nested
        (``span W_{j+1} ⊂ span W_j``), ``m_L = 1``.
    sigma : {-1, +1}
    gamma : float in (0, 1)
    """

    def __init__(self, frames: Sequence[np.ndarray], sigma: int, gamma: float):
        self.gamma = _check_gamma(gamma)
        if isinstance(sigma, bool) or sigma not in (-1, 1):
            raise InvalidModelError("sigma", f"must be -1 or +1, got {sigma!r}", value=sigma)
        frames = [as_float_array(W, "frames", error=InvalidModelError) for W in frames]
        if not frames:
            raise InvalidModelError("frames", "needs at least one frame", value=0)
        d = frames[0].shape[0]
        dims = [d]
        for j, W in enumerate(frames):
            if W.ndim != 2 or W.shape[0] != d:
                raise InvalidModelError("frames", f"W_{j + 1} must have shape ({d}, m), got {W.shape}",
                                        index=(j,), value=W.shape)
            check_finite(W, "frames", error=InvalidModelError)
            if np.abs(W.T @ W - np.eye(W.shape[1])).max() > 1e-10:
                raise InvalidModelError("frames", f"W_{j + 1} must have orthonormal columns", index=(j,))
            dims.append(W.shape[1])
            if j and np.abs(W - frames[j - 1] @ (frames[j - 1].T @ W)).max() > 1e-10:
                raise InvalidModelError("frames", f"span W_{j + 1} must lie inside span W_{j}", index=(j,))
        self.dims = _check_dims(dims)
        if d < 2:
            raise InvalidModelError("frames", f"need d >= 2, got {d}", value=d)
        self.dim = d
        self.frames = tuple(frames)
        self.sigma = int(sigma)
        self.u = frames[-1][:, 0].copy()
        self.theta_star = self.sigma * self.u
        self.threshold = self.gamma * (1.0 - MARGIN)

    @property
    def levels(self) -> int:
        return len(self.frames)

    @classmethod
    def sample(cls, d: int, gamma: float, dims: Sequence[int], rng: np.random.Generator) -> NestedSector:
        """A random instance of the family: nested uniform frames (QR each level) and a uniform sign."""
        d = check_int(d, "d", low=2)
        gamma = _check_gamma(gamma)
        dims = _check_dims(dims, d)
        frames = []
        W = None
        for j in range(1, len(dims)):
            V = _uniform_frame(rng, dims[j - 1], dims[j])
            W = V if W is None else np.linalg.qr(W @ V)[0]  # re-orthonormalise; the span is what matters
            frames.append(W)
        sigma = 1 if rng.random() < 0.5 else -1
        return cls(frames, sigma, gamma)

    def resolve_level(self, X) -> np.ndarray:
        """Level ``j`` (1-based) resolving each row, or ``0`` for rows in the final cap; shape ``(n,)``."""
        X = _check_states(X, self.dim)
        level = np.zeros(X.shape[0], dtype=np.int64)
        for j, W in enumerate(self.frames, start=1):
            open_ = level == 0
            if not open_.any():
                break
            norms = np.linalg.norm(X[open_] @ W, axis=1)
            idx = np.flatnonzero(open_)[norms <= self.threshold]
            level[idx] = j
        return level

    def transition(self, X) -> np.ndarray:
        X = _check_states(X, self.dim)
        return self._transition(X, self.resolve_level(X))

    def _step(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        level = self.resolve_level(X)
        return self._transition(X, level), self._reward(X, level)

    def _transition(self, X: np.ndarray, level: np.ndarray) -> np.ndarray:
        T = np.zeros_like(X)
        for j, W in enumerate(self.frames, start=1):
            rows = np.flatnonzero(level == j)
            if rows.size == 0:
                continue
            x = X[rows]
            y = (x @ W) @ W.T
            w = x - y
            ny2 = np.einsum("ij,ij->i", y, y)
            nw = np.linalg.norm(w, axis=1)
            room = np.sqrt(np.maximum(0.0, 1.0 - ny2 / (self.gamma * self.gamma)))
            with np.errstate(divide="ignore", invalid="ignore"):
                c = np.where(nw > 0, np.minimum(1.0, room / np.where(nw > 0, nw, 1.0)), 0.0)
            T[rows] = y / self.gamma + c[:, None] * w
        return T  # rows in the final cap (level 0) go to the zero state

    def reward(self, X) -> np.ndarray:
        """``r(x) = (x - gamma T(x)) . theta*``: exactly 0 off the final cap, ``sigma u . x`` in it."""
        X = _check_states(X, self.dim)
        return self._reward(X, self.resolve_level(X))

    def _reward(self, X: np.ndarray, level: np.ndarray) -> np.ndarray:
        return np.where(level == 0, self.sigma * (X @ self.u), 0.0)

    def with_sigma(self, sigma: int) -> NestedSector:
        return NestedSector(self.frames, sigma, self.gamma)


class CapInstance(NestedSector):
    """Zanette's double cap (our reconstruction): ``NS`` with one level, ``dims = (d, 1)``, ``u`` hidden."""

    def __init__(self, u, sigma: int, gamma: float):
        u = as_float_array(u, "u", error=InvalidModelError)
        if u.ndim != 1 or u.shape[0] < 2:
            raise InvalidModelError("u", f"must be a vector of dimension d >= 2, got shape {u.shape}", value=u.shape)
        check_finite(u, "u", error=InvalidModelError)
        if abs(np.linalg.norm(u) - 1.0) > 1e-10:
            raise InvalidModelError("u", f"must be a unit vector, has norm {np.linalg.norm(u)!r}",
                                    value=float(np.linalg.norm(u)))
        super().__init__([u[:, None]], sigma, gamma)

    @classmethod
    def sample(cls, d: int, gamma: float, rng: np.random.Generator) -> CapInstance:  # type: ignore[override]
        d = check_int(d, "d", low=2)
        gamma = _check_gamma(gamma)
        v = rng.standard_normal(d)
        sigma = 1 if rng.random() < 0.5 else -1
        return cls(v / np.linalg.norm(v), sigma, gamma)

    def with_sigma(self, sigma: int) -> CapInstance:
        return CapInstance(self.u, sigma, self.gamma)


@dataclasses.dataclass(frozen=True)
class InstanceFamily:
    """A random family of instances, for the experiment runner: ``sample(rng) -> instance``.

    ``kind`` is ``"nested-sector"`` (needs ``dims``), ``"cap"`` or ``"chain"``. ``fingerprint`` keys the
    runner's cache.
    """

    kind: str
    d: int
    gamma: float
    dims: tuple[int, ...] | None = None

    def __post_init__(self):
        if self.kind not in _SAMPLERS:
            raise InvalidParameterError("kind", f"must be one of {sorted(_SAMPLERS)}, got {self.kind!r}",
                                        value=self.kind)
        check_int(self.d, "d", low=2)
        _check_gamma(self.gamma)
        if self.kind == "nested-sector":
            if self.dims is None:
                raise InvalidParameterError("dims", "a nested-sector family needs dims", value=None)
            object.__setattr__(self, "dims", _check_dims(self.dims, self.d))

    @property
    def fingerprint(self) -> str:
        return f"InstanceFamily(kind={self.kind},d={self.d},gamma={self.gamma!r},dims={self.dims})"

    @property
    def name(self) -> str:
        return self.fingerprint

    def sample(self, rng: np.random.Generator):
        return _SAMPLERS[self.kind](self, rng)


_SAMPLERS: dict[str, Callable] = {
    "nested-sector": lambda f, rng: NestedSector.sample(f.d, f.gamma, f.dims, rng),
    "cap": lambda f, rng: CapInstance.sample(f.d, f.gamma, rng),
    "chain": lambda f, rng: DeterministicLinearChain.sample(f.d, f.gamma, rng),
}
