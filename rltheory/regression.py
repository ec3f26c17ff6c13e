"""Weighted ridge regression with Sherman-Morrison inverses (value-targeted regression's primitive).

Given contexts ``x_i (d,)``, targets ``y_i`` and variances ``sigma_i^2 > 0``,

    Sigma = lam I + sum_i x_i x_i^T / sigma_i^2,   b = sum_i x_i y_i / sigma_i^2,   theta = Sigma^{-1} b.

Unweighted ridge is ``sigma_i = 1``. Learners keep ``Sigma`` as a sum and solve for ``theta`` when they
need it; the inverse ``Sigma^{-1}`` is maintained by Sherman-Morrison rank-one updates, used for the
elliptical norms ``||x||_{Sigma^{-1}}`` of confidence bonuses:

    (Sigma + w x x^T)^{-1} = Sigma^{-1} - w (Sigma^{-1} x)(Sigma^{-1} x)^T / (1 + w x^T Sigma^{-1} x).

:func:`project_affine` solves the equality-constrained problem ``min ||t - theta||_Sigma s.t. C t = c``
(e.g. "the estimated kernel's rows sum to one" for a linear mixture model).

Every compiled kernel has a NumPy twin ``*_reference``; tests check they agree.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .errors import InvalidDataError, InvalidParameterError
from .validation import as_float_array, check_finite, check_int, check_real

__all__ = [
    "sm_update",
    "sm_update_reference",
    "quad_norm",
    "quad_norm_reference",
    "WeightedRidge",
    "ridge_solve",
    "project_affine",
]


@nb.njit(cache=True)
def sm_update(Sinv, x, weight):
    """In place: ``Sinv <- (Sinv^{-1} + weight x x^T)^{-1}``; returns ``x^T Sinv_old x``.

    ``Sinv (d, d)`` symmetric positive definite, ``x (d,)``, ``weight >= 0`` (``1 / sigma^2``).
    The update is written symmetrically so ``Sinv`` stays symmetric to rounding.
    """
    d = x.shape[0]
    v = np.empty(d)
    for i in range(d):
        acc = 0.0
        for j in range(d):
            acc += Sinv[i, j] * x[j]
        v[i] = acc
    q = 0.0
    for i in range(d):
        q += x[i] * v[i]
    c = weight / (1.0 + weight * q)
    for i in range(d):
        for j in range(d):
            Sinv[i, j] -= c * v[i] * v[j]
    return q


def sm_update_reference(Sinv: np.ndarray, x: np.ndarray, weight: float) -> tuple[np.ndarray, float]:
    """NumPy twin of :func:`sm_update`: returns ``(new Sinv, x^T Sinv x)`` without modifying ``Sinv``."""
    v = Sinv @ x
    q = float(x @ v)
    return Sinv - (weight / (1.0 + weight * q)) * np.outer(v, v), q


@nb.njit(cache=True)
def quad_norm(Sinv, x):
    """``||x||_{Sinv} = sqrt(x^T Sinv x)`` (clamped at 0 against rounding)."""
    d = x.shape[0]
    q = 0.0
    for i in range(d):
        acc = 0.0
        for j in range(d):
            acc += Sinv[i, j] * x[j]
        q += x[i] * acc
    return np.sqrt(q) if q > 0.0 else 0.0


def quad_norm_reference(Sinv: np.ndarray, x: np.ndarray) -> float:
    return float(np.sqrt(max(float(x @ Sinv @ x), 0.0)))


def ridge_solve(X, y, lam: float, sigma2=None) -> tuple[np.ndarray, np.ndarray]:
    """Batch weighted ridge: ``X (n, d)``, ``y (n,)``, ``sigma2 (n,)`` -> ``(theta (d,), Sigma (d, d))``."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.ones(len(y)) if sigma2 is None else 1.0 / np.asarray(sigma2, dtype=np.float64)
    Sigma = lam * np.eye(X.shape[1]) + (X * w[:, None]).T @ X
    return np.linalg.solve(Sigma, (X * w[:, None]).T @ y), Sigma


class WeightedRidge:
    """Online weighted ridge regression: ``Sigma`` and ``b`` as sums, ``Sigma^{-1}`` by Sherman-Morrison.

    >>> r = WeightedRidge(2, lam=1.0)
    >>> r.update(np.array([1.0, 0.0]), 2.0)
    >>> r.theta
    array([1., 0.])
    """

    def __init__(self, d: int, lam: float):
        self.d = check_int(d, "d", low=1)
        self.lam = check_real(lam, "lam", low=0.0, low_open=True)
        self.Sigma = self.lam * np.eye(self.d)
        self.b = np.zeros(self.d)
        self.Sinv = np.eye(self.d) / self.lam
        self.n = 0

    def update(self, x, y: float, sigma2: float = 1.0) -> None:
        """Add one observation ``(x, y)`` with variance ``sigma2 > 0``."""
        x = as_float_array(x, "x", error=InvalidDataError)
        if x.shape != (self.d,):
            raise InvalidDataError("x", f"must have shape ({self.d},), got {x.shape}", value=x.shape)
        check_finite(x, "x", error=InvalidDataError)
        y = check_real(y, "y", error=InvalidDataError)
        sigma2 = check_real(sigma2, "sigma2", low=0.0, low_open=True)
        w = 1.0 / sigma2
        self.Sigma += w * np.outer(x, x)
        self.b += w * y * x
        sm_update(self.Sinv, x, w)
        self.n += 1

    @property
    def theta(self) -> np.ndarray:
        """``Sigma^{-1} b`` by a linear solve on the summed ``Sigma`` (not the Sherman-Morrison inverse)."""
        return np.linalg.solve(self.Sigma, self.b)

    def norm(self, x) -> np.ndarray:
        """``||x||_{Sigma^{-1}}`` for ``x (..., d)`` (Sherman-Morrison inverse)."""
        x = np.asarray(x, dtype=np.float64)
        return np.sqrt(np.maximum(np.einsum("...i,ij,...j->...", x, self.Sinv, x), 0.0))


def project_affine(theta, Sigma, C, c) -> np.ndarray:
    """``argmin_t ||t - theta||_Sigma^2`` subject to ``C t = c``.

    ``theta (d,)``, ``Sigma (d, d)`` positive definite, ``C (m, d)``, ``c (m,)``; the constraints must be
    consistent (redundant rows are fine: a pseudo-inverse is used). Closed form
    ``t = theta - Sigma^{-1} C^T (C Sigma^{-1} C^T)^+ (C theta - c)``.
    """
    theta = np.asarray(theta, dtype=np.float64)
    C = np.atleast_2d(np.asarray(C, dtype=np.float64))
    c = np.atleast_1d(np.asarray(c, dtype=np.float64))
    if C.shape[1] != theta.shape[0] or C.shape[0] != c.shape[0]:
        raise InvalidParameterError("C", f"must have shape (m, {theta.shape[0]}) matching c {c.shape}, got {C.shape}",
                                    value=C.shape)
    # reduce to an equivalent full-row-rank system (C may have many redundant rows): C = U diag(s) Vt
    U, s, Vt = np.linalg.svd(C, full_matrices=False)
    keep = s > 1e-10 * s[0] if s.size and s[0] > 0 else np.zeros(s.shape, bool)
    if not keep.any():
        return theta.copy()
    Cr, cr = Vt[keep], (U[:, keep].T @ c) / s[keep]
    SinvCt = np.linalg.solve(Sigma, Cr.T)
    return theta - SinvCt @ np.linalg.solve(Cr @ SinvCt, Cr @ theta - cr)
