"""Exact solutions of preference games: the beta-regularised symmetric Nash equilibrium.

:func:`regularized_nash` is re-exported by :mod:`rltheory.planning` (the planning API); the
maximal lottery (``beta = 0``, a linear program) is :func:`rltheory.planning_lp.maximal_lottery`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from .errors import InvalidModelError
from .kernels.mirror import kl_prox_logits
from .models import PreferenceGame
from .validation import check_int, check_real

__all__ = ["RegularizedNash", "regularized_nash"]


@dataclass(frozen=True)
class RegularizedNash:
    """The beta-regularised symmetric Nash equilibrium of a :class:`~rltheory.models.PreferenceGame`.

    Attributes
    ----------
    policy : ``(n,)``, or ``(B, n)`` for a batch of games
        ``pi*_beta``, the unique fixed point of ``pi = softmax(log rho + P pi / beta)``.
    log_policy : same shape
        ``log pi*_beta`` (normalised), exact even where ``pi*`` underflows.
    residual : float
        ``max |log pi - (log rho + P pi / beta - logsumexp(.))|`` over entries (and games).
    iterations : int
        Mirror-prox warm-up steps plus Newton steps used.
    beta : float
    """

    policy: np.ndarray
    log_policy: np.ndarray
    residual: float
    iterations: int
    beta: float


def _lse_last(z: np.ndarray) -> np.ndarray:
    m = z.max(axis=-1, keepdims=True)
    return m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def _fixed_point(z, P, log_rho, beta):
    """``T(z) = G - logsumexp(G)``, ``G = log rho + P exp(z) / beta``; shapes ``(b, n)``, ``P (b, n, n)``."""
    G = log_rho + np.einsum("bij,bj->bi", P, np.exp(z)) / beta
    return G - _lse_last(G)


def regularized_nash(game: PreferenceGame, beta: float, *, tol: float = 1e-12,
                     max_iter: int = 200_000) -> RegularizedNash:
    """Exact ``pi*_beta`` of ``max_pi min_pi' pi P pi' - beta KL(pi || rho) + beta KL(pi' || rho)``.

    The regularised game is strongly monotone, so its symmetric equilibrium is unique and is the
    fixed point of ``T(x) = log rho + P exp(x) / beta - logsumexp(.)`` in log space
    (``x = log pi``). Solved in two phases, batched over the games of a batch:

    1. mirror-prox steps with ``eta = 2`` while Newton's method does not yet make progress: the
       extrapolation ``h = Prox(x, P exp(x))`` then ``x <- Prox(x, P exp(h))``, with the one KL prox
       step :func:`rltheory.kernels.mirror.kl_prox_logits` (a contraction of ``KL(pi* || .)`` by
       ``1 / (1 + 2 beta)`` per step for this strongly monotone game);
    2. Newton's method on ``x - T(x) = 0`` with the exact Jacobian
       ``J = (I - 1 q^T) (P / beta) (diag(pi) - pi pi^T)``, ``q = exp(T(x))``, a step being kept only
       if it shrinks the sup-norm residual by 10 %; otherwise a mirror-prox step is taken.

    Stops when ``max |x - T(x)| <= tol`` (log space; so the probabilities themselves satisfy the
    fixed point to ``tol`` relative accuracy). ``tol`` is raised to 16 ulps of
    ``1 + max|log rho| + 1/beta`` when that is larger (only for ``beta`` below about ``1e-3``: the
    logits are of size ``1/beta`` and float64 cannot resolve them further; below ``beta ~ 1e-4``
    the solver may not converge: use :func:`rltheory.planning_lp.maximal_lottery` for ``beta -> 0``).
    Independent cross-checks (a convex program for ``argmin_pi exploitability(pi)``, and the
    mirror-prox limit) live in the tests.

    Raises
    ------
    InvalidModelError
        ``game`` is not a PreferenceGame.
    InvalidParameterError
        ``beta <= 0``, ``tol <= 0`` or ``max_iter < 1``.
    RuntimeError
        The residual did not reach ``tol`` within ``max_iter`` steps (the message gives it).
    """
    if not isinstance(game, PreferenceGame):
        raise InvalidModelError("game", f"must be a PreferenceGame, got {type(game).__name__}",
                                value=type(game).__name__)
    beta = check_real(beta, "beta", low=0.0, low_open=True)
    tol = check_real(tol, "tol", low=0.0, low_open=True)
    max_iter = check_int(max_iter, "max_iter", low=1)
    P = np.asarray(game.P_batch)
    log_rho = np.log(game.reference_batch)
    n = log_rho.shape[1]
    eye = np.eye(n)
    x = log_rho.copy()
    res = np.abs(x - _fixed_point(x, P, log_rho, beta)).max(axis=-1)
    # float64 resolves logits of size ~1/beta only to ~eps/beta: below beta ~ 1e-3 the floor is above 1e-12
    tol = max(tol, _FLOOR_ULPS * np.finfo(np.float64).eps * (1.0 + np.abs(log_rho).max() + 1.0 / beta))
    it = 0
    while res.max() > tol:
        if it >= max_iter:
            raise RuntimeError(f"regularized_nash: residual {res.max():.3g} > tol={tol:g} after {max_iter} steps "
                               f"(beta={beta:g})")
        act = np.flatnonzero(res > tol)
        xa, Pa, lra = x[act], P[act], log_rho[act]
        x_new, r_new, used = _nash_newton_or_prox(xa, Pa, lra, beta, res[act], eye, _MP_STEPS_PER_FALLBACK)
        x[act], res[act] = x_new, r_new
        it += used
    logp = x if game.batched else x[0]
    return RegularizedNash(policy=np.exp(logp), log_policy=logp, residual=float(res.max()), iterations=it,
                           beta=beta)


@nb.njit(parallel=True, cache=True)
def _solve_batched(A, b):
    """``x[k] = A[k]^{-1} b[k]`` by Gaussian elimination with partial pivoting, ``prange`` over ``k``.

    ``A (m, n, n)``, ``b (m, n)``; NaN rows where ``A[k]`` is singular. (Batched LAPACK through
    NumPy is much slower for many small systems when the BLAS threads compete for cores.)
    """
    m, n = b.shape
    out = np.empty((m, n))
    for k in nb.prange(m):
        M = A[k].copy()
        v = b[k].copy()
        ok = True
        for c in range(n):
            p = c
            big = abs(M[c, c])
            for r in range(c + 1, n):
                if abs(M[r, c]) > big:
                    big = abs(M[r, c])
                    p = r
            if big == 0.0:
                ok = False
                break
            if p != c:
                for j in range(c, n):
                    M[c, j], M[p, j] = M[p, j], M[c, j]
                v[c], v[p] = v[p], v[c]
            for r in range(c + 1, n):
                f = M[r, c] / M[c, c]
                if f != 0.0:
                    for j in range(c, n):
                        M[r, j] -= f * M[c, j]
                    v[r] -= f * v[c]
        if not ok:
            out[k] = np.nan
            continue
        for c in range(n - 1, -1, -1):
            acc = v[c]
            for j in range(c + 1, n):
                acc -= M[c, j] * out[k, j]
            out[k, c] = acc / M[c, c]
    return out


#: The tolerance of :func:`regularized_nash` is at least this many ulps of ``1 + max|log rho| + 1/beta``.
_FLOOR_ULPS = 16

#: Mirror-prox steps taken when a (damped) Newton step fails to shrink the residual by 10 %.
_MP_STEPS_PER_FALLBACK = 20
#: Their step size: ``1 / L = 2``, the largest for which mirror prox contracts (``P pi`` is 1/2-Lipschitz
#: from l1 to l-inf when ``P + P^T = 1``).
_MP_STEP = 2.0


def _nash_newton_or_prox(x, P, log_rho, beta, res, eye, mp_steps):
    """One damped Newton step on ``x - T(x)`` per game, or ``mp_steps`` mirror-prox steps where it fails.

    Shapes: ``x, log_rho (b, n)``, ``P (b, n, n)``, ``res (b,)``. Returns ``(x, residual, steps used)``.
    """

    Tx = _fixed_point(x, P, log_rho, beta)
    pi = np.exp(x)
    q = np.exp(Tx)
    # J = (I - 1 q^T) (P / beta) (diag(pi) - pi pi^T), assembled in O(n^2) per game
    Ppi = np.einsum("bij,bj->bi", P, pi)
    PD = P * pi[:, None, :] - Ppi[:, :, None] * pi[:, None, :]
    J = (PD - np.einsum("bi,bij->bj", q, PD)[:, None, :]) / beta
    with np.errstate(all="ignore"):
        step = _solve_batched(eye - J, Tx - x)
    best_x, best_r = x.copy(), np.full_like(res, np.inf)
    for damping in (1.0, 0.5, 0.25):
        z = x + damping * step
        with np.errstate(all="ignore"):
            z = z - _lse_last(z)
            r = np.abs(z - _fixed_point(z, P, log_rho, beta)).max(axis=-1)
        better = np.isfinite(r) & (r < best_r)
        best_x[better], best_r[better] = z[better], r[better]
    ok = best_r <= 0.9 * res
    if ok.all():
        return best_x, best_r, 1
    bad = ~ok
    z = x[bad]
    Pb, lb = P[bad], log_rho[bad]
    for _ in range(mp_steps):
        yh = kl_prox_logits(z, np.einsum("bij,bj->bi", Pb, np.exp(z)), lb, beta, _MP_STEP)
        h = yh - _lse_last(yh)
        yf = kl_prox_logits(z, np.einsum("bij,bj->bi", Pb, np.exp(h)), lb, beta, _MP_STEP)
        z = yf - _lse_last(yf)
    best_x[bad] = z
    best_r[bad] = np.abs(z - _fixed_point(z, Pb, lb, beta)).max(axis=-1)
    return best_x, best_r, 1 + mp_steps
