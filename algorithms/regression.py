"""Regression oracles for SQIRL (Laidlaw, Zhu, Russell & Dragan, ICLR 2024, "Regress").

SQIRL only needs an oracle that, given samples ``(s_i, a_i) -> y_i`` from one timestep, returns a
``Q``-function ``Q_hat (S, A)``. The paper's analysis asks for in-distribution generalisation (for least
squares over a class of pseudo-dimension ``D``, error ``O((D log n + log(1/delta)) / n)``
[reconstructed]). Two oracles ship, each with a compiled path used inside SQIRL's round kernel and a
NumPy :meth:`fit` (the reference twin, and the interface for user oracles):

* :class:`TabularMean` -- the per-``(s, a)`` empirical mean, the least-squares minimiser over all tables
  (pseudo-dimension ``D = S A`` per timestep). Unvisited actions of a visited state get the mean of the
  visited actions' estimates (so they neither win nor lose ``argmax`` and ``max`` unfairly); a state
  with no sample gets 0.
* :class:`LinearLeastSquares` -- ridge regression on user features ``phi (S, A, d)`` or
  ``(H, S, A, d)``: ``theta = (Phi^T Phi + ridge I)^{-1} Phi^T y`` and ``Q_hat = phi theta``
  (``D = d``). One-hot features recover the tabular mean on visited pairs (unvisited pairs get 0).

A user oracle is any object with ``fit(t, states, actions, targets, S, A) -> (S, A)`` and
``kind = None``; SQIRL then needs ``backend="numpy"``.
"""

from __future__ import annotations

import numpy as np

from rltheory.errors import InvalidParameterError
from rltheory.validation import as_float_array, check_real

__all__ = ["TabularMean", "LinearLeastSquares", "ORACLE_TABULAR", "ORACLE_LINEAR", "as_oracle"]

ORACLE_TABULAR, ORACLE_LINEAR = 0, 1


class TabularMean:
    """Per-``(s, a)`` empirical mean (least squares over all tables); see the module docstring."""

    kind = ORACLE_TABULAR

    def get_params(self) -> dict:
        return {}

    def __eq__(self, other):
        return type(other) is TabularMean

    def __hash__(self):
        return hash(TabularMean)

    def __repr__(self) -> str:
        return "TabularMean()"

    def pseudo_dimension(self, S: int, A: int) -> int:
        """``D = S A`` per timestep."""
        return S * A

    def fit(self, t: int, states, actions, targets, S: int, A: int) -> np.ndarray:
        """``Q_hat (S, A)`` from samples ``(states[i], actions[i]) -> targets[i]`` (all ``(n,)``)."""
        sums = np.zeros((S, A))
        counts = np.zeros((S, A))
        np.add.at(sums, (states, actions), targets)
        np.add.at(counts, (states, actions), 1.0)
        return tabular_fill(sums, counts)


def tabular_fill(sums, counts):
    """Means where visited; unvisited actions of a visited state get the mean of its visited estimates."""
    visited = counts > 0
    Q = np.where(visited, sums / np.maximum(counts, 1.0), 0.0)
    n_vis = visited.sum(axis=1)
    tot = np.zeros(Q.shape[0])
    for a in range(Q.shape[1]):  # in order, as the compiled oracle sums
        tot = tot + Q[:, a]
    fill = np.where(n_vis > 0, tot / np.maximum(n_vis, 1), 0.0)
    return np.where(visited, Q, fill[:, None])


class LinearLeastSquares:
    """Ridge regression on user features (see the module docstring).

    Parameters
    ----------
    features : array ``(S, A, d)`` or ``(H, S, A, d)``
        ``phi(s, a)`` (per timestep when 4-d).
    ridge : float > 0
        Regulariser ``lambda`` (keeps the normal equations solvable when few pairs are visited).
    """

    kind = ORACLE_LINEAR

    def __init__(self, features, ridge: float = 1e-6):
        phi = as_float_array(features, "features", error=InvalidParameterError)
        if phi.ndim not in (3, 4) or phi.shape[-1] < 1:
            raise InvalidParameterError("features", f"must have shape (S, A, d) or (H, S, A, d), got {phi.shape}",
                                        value=phi.shape)
        if not np.isfinite(phi).all():
            raise InvalidParameterError("features", "must be finite", value="non-finite")
        self.features = phi
        self.ridge = check_real(ridge, "ridge", low=0.0, low_open=True)

    def get_params(self) -> dict:
        return {"features": self.features, "ridge": self.ridge}

    def __eq__(self, other):
        return (type(other) is LinearLeastSquares and other.ridge == self.ridge
                and np.array_equal(other.features, self.features))

    def __hash__(self):
        return hash((LinearLeastSquares, self.ridge, self.features.shape))

    def __repr__(self) -> str:
        return f"LinearLeastSquares(features{self.features.shape}, ridge={self.ridge:g})"

    def pseudo_dimension(self, S: int, A: int) -> int:
        """``D = d`` (the feature dimension)."""
        return int(self.features.shape[-1])

    def stage_features(self, H: int) -> np.ndarray:
        """Features with a leading step axis ``(Hf, S, A, d)``, ``Hf`` in ``{1, H}``."""
        phi = self.features
        return phi[None] if phi.ndim == 3 else phi

    def check(self, S: int, A: int, H: int) -> None:
        phi = self.stage_features(H)
        if phi.shape[1:3] != (S, A) or phi.shape[0] not in (1, H):
            raise InvalidParameterError("features", f"must have shape (S, A, d) = ({S}, {A}, d) or (H, S, A, d) "
                                        f"with H = {H}, got {self.features.shape}", value=self.features.shape)

    def fit(self, t: int, states, actions, targets, S: int, A: int) -> np.ndarray:
        phi = self.features if self.features.ndim == 3 else self.features[t]
        X = phi[states, actions]                                   # (n, d)
        d = X.shape[1]
        XtX = np.zeros((d, d))
        Xty = np.zeros(d)
        for i in range(X.shape[0]):  # in sample order, as the compiled oracle accumulates
            XtX += np.outer(X[i], X[i])
            Xty += X[i] * targets[i]
        theta = np.linalg.solve(XtX + self.ridge * np.eye(d), Xty)
        return phi @ theta


def as_oracle(oracle):
    """``"tabular"``, ``"linear"`` (needs features: error), an oracle instance, or a user object with ``fit``."""
    if oracle is None or (isinstance(oracle, str) and oracle == "tabular"):
        return TabularMean()
    if isinstance(oracle, TabularMean | LinearLeastSquares):
        return oracle
    if callable(getattr(oracle, "fit", None)):
        return oracle
    raise InvalidParameterError("oracle", "must be 'tabular', TabularMean(), LinearLeastSquares(features) or an "
                                f"object with fit(t, states, actions, targets, S, A), got {oracle!r}", value=oracle)
