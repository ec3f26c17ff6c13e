"""What every preference-game learner shares: the metrics, the run skeleton and the iteration driver.

The learners themselves live in :mod:`rltheory.algorithms.nash_mp` (Nash-MP, exact and approximate)
and :mod:`rltheory.algorithms.preference_baselines` (MMD, online mirror descent / online IPO,
Nash-MD, EGPO). Each supplies **its own update rule by name**: a compiled step
``_step(PT, log_rho, x, g, beta, eta, pi, h)`` and its NumPy twin ``_step_reference(P, log_rho, x,
g, beta, eta) -> x``; the shared driver below (:func:`dynamics_kernel`, twin
:func:`dynamics_reference`) evaluates the metrics and calls the step, with no method codes. The one
prox step is :func:`rltheory.kernels.mirror.kl_prox` (compiled: ``kl_prox_one``).

Setting (Tiapkin et al. 2025, arXiv:2505.19731v1; the regularised game as in Munos et al. 2024)
-----------------------------------------------------------------------------------------------
One context, ``n`` responses, preferences ``P[y, y'] = Pr(y > y')`` with ``P + P^T = 1``
(:class:`~rltheory.models.PreferenceGame`), a reference policy ``rho > 0`` and ``beta > 0``::

    J_beta(pi, pi') = pi^T P pi' - beta KL(pi || rho) + beta KL(pi' || rho)

has a unique symmetric equilibrium ``pi*_beta`` (:func:`rltheory.planning.regularized_nash`).

Metrics (``Trace`` arrays, ``(replicates, iterations + 1)``, index ``t`` = after ``t`` iterations)
-------------------------------------------------------------------------------------------------
``kl`` = ``KL(pi*_beta || pi_t)``; ``exploitability`` = ``max_q J_beta(q, pi_t) - 1/2 = beta
logsumexp(log rho + P pi_t / beta) + beta KL(pi_t || rho) - 1/2`` (>= 0, 0 only at ``pi*``);
``duality_gap`` = ``2 exploitability``; ``span`` = ``max_y - min_y`` of ``log pi_t - log pi*``;
``queries`` = cumulative preference queries. Also ``policy`` (last iterate) and ``equilibrium``,
``(replicates, n)``. Metrics are evaluations with the exact ``P`` and cost no queries.
"""

from __future__ import annotations

import functools
import warnings

import numba as nb
import numpy as np
from numba import types

from rltheory.algorithm import Algorithm
from rltheory.backend import asarray, get_namespace, resolve_backend, to_numpy
from rltheory.errors import InvalidModelError, InvalidParameterError, InvalidPolicyError
from rltheory.kernels.mirror import exp_one, logsumexp_last, matvec_t_one
from rltheory.models import PreferenceGame
from rltheory.planning import regularized_nash
from rltheory.rng import as_seed_sequences
from rltheory.trace import Trace
from rltheory.validation import as_float_array, check_distribution, check_int, check_real

__all__ = [
    "PreferenceDynamics",
    "PREFERENCE_LIPSCHITZ",
    "TRACE_ARRAYS",
    "exploitability",
    "duality_gap",
    "kl_divergence",
    "span_seminorm",
    "dynamics_kernel",
    "dynamics_reference",
    "keyword_only_hyperparameters",
    "STEP_SIGNATURE",
    "step_kernel",
    "compiled_step",
]

#: ``L``: ``y -> (P pi)[y]`` is 1/2-Lipschitz from ``l1`` to ``l-inf`` when ``P + P^T = 1``
#: (``sum(pi - pi') = 0`` lets ``P`` be centred at 1/2; reconstructed from the abstract's ``(1 + 2 beta)^(-N/2)``).
PREFERENCE_LIPSCHITZ = 0.5
#: The arrays of every trace of the preference-game learners.
TRACE_ARRAYS = ("kl", "exploitability", "duality_gap", "span", "queries")


# ---------------------------------------------------------------------------- metrics (NumPy / CuPy)


def kl_divergence(log_p, log_q):
    """``KL(p || q) = sum p (log p - log q)`` over the last axis, from log-probabilities ``(..., n)``."""
    xp = get_namespace(log_p, log_q)
    return xp.sum(xp.exp(log_p) * (log_p - log_q), axis=-1)


def span_seminorm(log_p, log_q):
    """``max_y - min_y`` of ``log p - log q`` over the last axis, ``(...)``."""
    xp = get_namespace(log_p, log_q)
    d = log_p - log_q
    return xp.max(d, axis=-1) - xp.min(d, axis=-1)


def matvec(P, pi, xp):
    """``P pi`` for ``P (G, n, n)``, ``G in {1, R}``, and ``pi (R, n)``: ``(R, n)``."""
    if P.shape[0] == 1:
        return pi @ P[0].T
    return xp.matmul(P, pi[..., None])[..., 0]


def _exploitability_from(log_pi, g, log_rho, beta, xp):
    lr = xp.broadcast_to(log_rho, log_pi.shape)
    return (beta * logsumexp_last(lr + g / beta, xp)[..., 0] + beta * xp.sum(xp.exp(log_pi) * (log_pi - lr), axis=-1)
            - 0.5)


def policy_logs(game: PreferenceGame, policy, name="policy") -> np.ndarray:
    """``log policy`` after validation: real, shape ``(n,)`` or ``(B, n)``, a distribution per row."""
    pi = as_float_array(policy, name, error=InvalidPolicyError)
    if pi.shape[-1:] != (game.n,) or pi.ndim not in (1, 2):
        raise InvalidPolicyError(name, f"must have shape (n,) or (B, n) with n={game.n}, got {pi.shape}",
                                 value=pi.shape)
    check_distribution(pi, name, error=InvalidPolicyError)
    with np.errstate(divide="ignore"):
        return np.log(pi)


def exploitability(game: PreferenceGame, policy, beta: float):
    """``e(pi) = max_q J_beta(q, pi) - 1/2 = beta logsumexp(log rho + P pi / beta) + beta KL(pi || rho) - 1/2``.

    ``policy`` ``(n,)`` (or ``(B, n)`` matching a batch); returns a float (or ``(B,)``). Zero
    exactly at ``pi*_beta``, positive elsewhere (the game is strongly monotone).
    """
    if not isinstance(game, PreferenceGame):
        raise InvalidModelError("game", f"must be a PreferenceGame, got {type(game).__name__}",
                                value=type(game).__name__)
    beta = check_real(beta, "beta", low=0.0, low_open=True)
    logp = policy_logs(game, policy)
    if game.batched:
        logp = np.broadcast_to(logp, (game.batch, game.n))
        g = np.einsum("bij,bj->bi", game.P, np.exp(logp))
    else:
        g = np.exp(logp) @ game.P.T
    lr = np.log(game.reference_batch) if game.batched else np.log(game.reference)
    pi = np.exp(logp)
    with np.errstate(invalid="ignore"):
        kl = np.sum(np.where(pi > 0, pi * (logp - lr), 0.0), axis=-1)
    e = beta * logsumexp_last(lr + g / beta, np)[..., 0] + beta * kl - 0.5
    return float(e) if np.ndim(e) == 0 else e


def duality_gap(game: PreferenceGame, policy, beta: float):
    """``max_q J_beta(q, pi) - min_q J_beta(pi, q) = 2 exploitability(pi)`` (EGPO's metric)."""
    return 2.0 * exploitability(game, policy, beta)


# ---------------------------------------------------------------------------- the iteration driver


@nb.njit(cache=True)
def metrics_one(x, g, log_rho, log_star, beta, tmp):
    """``(KL(pi* || pi), exploitability, span)`` of ``pi = exp(x)`` with ``g = P pi``; vectors ``(n,)``."""
    n = x.shape[0]
    kl = 0.0
    dmax = -np.inf
    dmin = np.inf
    kl_rho = 0.0
    for i in range(n):
        kl += np.exp(log_star[i]) * (log_star[i] - x[i])
        d = x[i] - log_star[i]
        if d > dmax:
            dmax = d
        if d < dmin:
            dmin = d
        kl_rho += np.exp(x[i]) * (x[i] - log_rho[i])
        tmp[i] = log_rho[i] + g[i] / beta
    m = tmp[0]
    for i in range(1, n):
        if tmp[i] > m:
            m = tmp[i]
    s = 0.0
    for i in range(n):
        s += np.exp(tmp[i] - m)
    expl = beta * (m + np.log(s)) + beta * kl_rho - 0.5
    return kl, expl, dmax - dmin


_V = types.float64[::1]
#: Signature of a learner's compiled step ``step(PT, log_rho, x, g, beta, eta, pi, h)``: ``PT (n, n)``
#: (``P^T``), vectors ``(n,)``. The driver receives the step as a first-class function of this type,
#: so the driver is compiled (and cached on disk) once for every learner; the step is called
#: through a pointer, with exactly the arithmetic of an inlined call.
STEP_SIGNATURE = types.void(types.float64[:, ::1], _V, _V, _V, types.float64, types.float64, _V, _V)
_STEP = types.FunctionType(STEP_SIGNATURE)
_M = types.float64[:, ::1]
_DRIVER_SIGNATURE = types.void(types.float64[:, :, ::1], _M, _M, _M, _STEP, types.float64, _V, _M, _M, _M)


def step_kernel(fn):
    """Compile ``fn`` as a learner's step (:data:`STEP_SIGNATURE`; lazily, on first use, cached on disk)."""
    return nb.njit(cache=True)(fn)


@nb.njit(cache=True)
def _dynamics_one(PT, log_rho, log_star, x, step, beta, etas, kl, expl, span):
    """All iterations of one replicate, in place on ``x (n,)``; metrics rows ``(T + 1,)``; ``PT = P^T``.

    ``step(PT, log_rho, x, g, beta, eta, pi, h)`` is the learner's compiled update: on entry
    ``g = P exp(x)``; it overwrites ``x`` with the next iterate (``pi``, ``h``, ``g`` are scratch).
    """
    n = x.shape[0]
    T = etas.shape[0]
    pi = np.empty(n)
    g = np.empty(n)
    h = np.empty(n)
    tmp = np.empty(n)
    for t in range(T + 1):
        exp_one(x, pi)
        matvec_t_one(PT, pi, g)
        kl[t], expl[t], span[t] = metrics_one(x, g, log_rho, log_star, beta, tmp)
        if t == T:
            break
        step(PT, log_rho, x, g, beta, etas[t], pi, h)


def _dynamics_driver(PT, log_rho, log_star, x, step, beta, etas, kl, expl, span):
    """Batched driver (compiled by :func:`dynamics_kernel`): ``prange`` over replicates."""
    R = x.shape[0]
    G = PT.shape[0]
    for r in nb.prange(R):
        gi = min(np.int64(r), G - 1)
        _dynamics_one(PT[gi], log_rho[gi], log_star[r], x[r], step, beta, etas, kl[r], expl[r], span[r])


@functools.cache
def dynamics_kernel():
    """The compiled batched driver, built on first use (so that importing the learners compiles nothing).

    Call it as ``dynamics_kernel()(PT, log_rho, log_star, x, step, beta, etas, kl, expl, span)``:
    ``PT (G, n, n)`` (``P[g].T``, C-contiguous), ``log_rho (G, n)`` with ``G in {1, R}``;
    ``log_star, x (R, n)`` (``x`` updated in place); ``step`` a :func:`step_kernel` compiled for
    :data:`STEP_SIGNATURE` (:func:`compiled_step`); ``etas (T,)``; metrics ``(R, T + 1)``. All arrays
    float64, C-contiguous.
    """
    return nb.njit(_DRIVER_SIGNATURE, parallel=True, cache=True)(_dynamics_driver)


def compiled_step(step):
    """``step`` compiled for :data:`STEP_SIGNATURE` (loaded from the disk cache when there), ready for the driver."""
    step.compile(STEP_SIGNATURE)
    return step


def metrics_reference(x, g, log_rho, log_star, beta, xp):
    """Twin of :func:`metrics_one`, vectorised over replicates: ``(kl, exploitability, span)``, each ``(R,)``."""
    kl = kl_divergence(log_star, x)
    expl = _exploitability_from(x, g, log_rho, beta, xp)
    return kl, expl, span_seminorm(x, log_star)


def dynamics_reference(P, log_rho, log_star, x, step_reference, beta, etas, kl, expl, span):
    """Twin of :func:`dynamics_kernel`: a loop over iterations, vectorised over replicates; returns the last ``x``.

    ``P (G, n, n)`` (not transposed); ``step_reference(P, log_rho, x, g, beta, eta) -> x`` the
    learner's NumPy update, with ``log_rho`` broadcast to ``(R, n)`` and ``g = P exp(x)``.
    """
    xp = get_namespace(P, x)
    T = etas.shape[0]
    lr = xp.broadcast_to(log_rho, x.shape)
    for t in range(T + 1):
        g = matvec(P, xp.exp(x), xp)
        kl[:, t], expl[:, t], span[:, t] = metrics_reference(x, g, lr, log_star, beta, xp)
        if t == T:
            break
        x = step_reference(P, lr, x, g, beta, float(etas[t]))
    return x


# ---------------------------------------------------------------------------- hyperparameter checks


def check_beta(beta):
    return check_real(beta, "beta", low=0.0, low_open=True)


def check_mixture_step(eta, beta, who):
    """``eta > 0`` with ``eta beta <= 1`` (the weight ``1 - eta beta`` of ``log pi_t`` must be non-negative)."""
    eta = check_real(eta, "eta", low=0.0, low_open=True)
    if eta * beta > 1.0:
        raise InvalidParameterError(
            "eta", f"{who} needs eta * beta <= 1 (the weight 1 - eta beta of log pi_t must be non-negative), "
                   f"got eta={eta!r}, beta={beta!r}", value=eta)
    return eta


def keyword_only_hyperparameters(init):
    """Decorator for ``__init__(self, *, a=..., b=...)``: positional hyperparameters still work, with a
    :class:`FutureWarning` (the deprecation path to keyword-only hyperparameters)."""
    import inspect

    names = [p.name for p in inspect.signature(init).parameters.values() if p.kind is p.KEYWORD_ONLY]

    @functools.wraps(init)
    def wrapper(self, *args, **kwargs):
        if args:
            if len(args) > len(names):
                raise TypeError(f"{type(self).__name__}() takes at most {len(names)} hyperparameters, "
                                f"got {len(args)} positional")
            given = dict(zip(names, args, strict=False))
            clash = sorted(set(given) & set(kwargs))
            if clash:
                raise TypeError(f"{type(self).__name__}() got multiple values for {clash[0]!r}")
            warnings.warn(f"{type(self).__name__}: pass hyperparameters by keyword "
                          f"({', '.join(f'{k}={v!r}' for k, v in given.items())}); positional hyperparameters "
                          "are deprecated", FutureWarning, stacklevel=2)
            kwargs.update(given)
        init(self, **kwargs)

    return wrapper


# ---------------------------------------------------------------------------- the run skeleton


class PreferenceDynamics(Algorithm):
    """Shared ``run`` of the preference-game learners (module docstring).

    A subclass sets ``_step`` (compiled with :func:`step_kernel`) and ``_step_reference`` (NumPy/CuPy) as
    static methods, ``queries_per_iteration`` and, when its step size is not the constant
    ``self.eta``, ``_step_sizes``.
    """

    model_type = PreferenceGame
    backends = ("numba", "numpy", "cupy")
    randomized = False
    #: Preference queries per iteration (evaluations of ``P pi``, or sampled comparisons).
    queries_per_iteration: int = 1
    _step = None
    _step_reference = None

    @classmethod
    def conformance_cases(cls) -> list[dict]:
        return [{"beta": 0.2}]

    def _step_sizes(self, iterations: int) -> np.ndarray:
        return np.full(iterations, float(self.eta))

    def _queries_per_iteration(self) -> int:
        return self.queries_per_iteration

    # ------------------------------------------------------------------ argument checks
    def _prepare(self, game, iterations, replicates, seed, backend, init, equilibrium):
        if not isinstance(game, PreferenceGame):
            raise InvalidModelError("game", f"{type(self).__name__} needs a PreferenceGame, got {type(game).__name__}",
                                    value=type(game).__name__)
        iterations = check_int(iterations, "iterations", low=1)
        if game.batched:
            # a batch of B games runs one replicate of each game: replicates may be left at 1 (per game) or say B
            if replicates is not None and check_int(replicates, "replicates", low=1) not in (1, game.batch):
                raise InvalidParameterError(
                    "replicates", f"a batch of {game.batch} games runs one replicate per game: replicates must be "
                                  f"1 (per game) or {game.batch}, got {replicates}", value=replicates)
            replicates = game.batch if not isinstance(seed, list | tuple) else None
        elif replicates is not None:
            replicates = check_int(replicates, "replicates", low=1)
        seeds = as_seed_sequences(seed, replicates)
        R = len(seeds)
        if game.batched and R != game.batch:
            raise InvalidParameterError("seed", f"gives {R} seed sequences for a batch of {game.batch} games",
                                        value=R)
        backend = resolve_backend(backend)
        if backend not in self.backends:
            raise InvalidParameterError("backend", f"{type(self).__name__} supports {self.backends}, got {backend!r}",
                                        value=backend)
        n = game.n
        log_rho = np.log(game.reference_batch)  # (G, n)
        x0 = self._initial(game, init, R, log_rho)
        log_star = self._equilibrium(game, equilibrium, R)
        return iterations, seeds, R, backend, log_rho, x0, log_star, n

    @staticmethod
    def _initial(game, init, R, log_rho):
        n = game.n
        if init is None or (isinstance(init, str) and init == "reference"):
            x0 = np.broadcast_to(log_rho, (R, n))
        elif isinstance(init, str) and init == "uniform":
            x0 = np.full((R, n), -np.log(n))
        elif isinstance(init, str):
            raise InvalidPolicyError("init", f"must be None, 'reference', 'uniform' or an array, got {init!r}",
                                     value=init)
        else:
            pi0 = as_float_array(init, "init", error=InvalidPolicyError)
            if pi0.ndim not in (1, 2) or pi0.shape[-1] != n or (pi0.ndim == 2 and pi0.shape[0] != R):
                raise InvalidPolicyError("init", f"must have shape (n,) or (replicates, n) = ({R}, {n}), got "
                                                 f"{pi0.shape}", value=pi0.shape)
            check_distribution(pi0, "init", error=InvalidPolicyError)
            bad = pi0 <= 0
            if bad.any():
                idx = tuple(int(i) for i in np.argwhere(bad)[0])
                raise InvalidPolicyError("init", f"must have full support (log-space iterates), got {pi0[idx]!r}",
                                         index=idx, value=float(pi0[idx]))
            x0 = np.broadcast_to(np.log(pi0 / pi0.sum(axis=-1, keepdims=True)), (R, n))
        return np.array(x0, dtype=np.float64, order="C")  # a writable copy

    def _equilibrium(self, game, equilibrium, R):
        n = game.n
        if equilibrium is None:
            ls = regularized_nash(game, self.beta).log_policy
        else:
            ls = policy_logs(game, equilibrium, "equilibrium")
            pi = np.exp(ls)
            bad = ~(pi > 0)
            if bad.any():  # KL(pi* || pi_t) and the span need log pi*: a zero entry gives NaN / inf
                idx = tuple(int(i) for i in np.argwhere(bad)[0])
                raise InvalidPolicyError(
                    "equilibrium", "must have full support (pi*_beta > 0 always, as rho > 0); got a zero entry",
                    index=idx, value=float(pi[idx]))
        ls = np.atleast_2d(ls)
        if ls.shape[0] not in (1, R):
            raise InvalidPolicyError("equilibrium", f"must have shape (n,) or ({R}, {n}), got {ls.shape}",
                                     value=ls.shape)
        return np.array(np.broadcast_to(ls, (R, n)), dtype=np.float64, order="C")  # a writable copy

    def _meta(self, game, iterations, R, backend):
        return {"algorithm": type(self).__name__, "params": self.get_params(), "model": game.name,
                "model_fingerprint": game.fingerprint, "iterations": iterations, "replicates": R,
                "beta": self.beta, "queries_per_iteration": self._queries_per_iteration(), "backend": backend}

    # ------------------------------------------------------------------ run
    def run(self, game: PreferenceGame, iterations: int, *, replicates: int | None = 1, seed=0, backend=None,
            init=None, equilibrium=None, progress: bool = False) -> Trace:
        """Run ``iterations`` iterations on a game (``replicates`` copies) or a batch (one replicate per game).

        Parameters
        ----------
        game : PreferenceGame
            One game, or a batch of ``B`` games (then replicate ``b`` plays game ``b``).
        iterations : int >= 1
        replicates : int >= 1, optional
            Copies of a single game (default 1; ``None``: the length of ``seed`` when it is a list);
            for a batch it must be 1 (one replicate per game), ``B`` or ``None``.
        seed : int or sequence of SeedSequence
            Accepted for a uniform interface; deterministic methods do not use it.
        backend : {None, "numba", "numpy", "cupy"}
            ``None``/``"numba"``: the compiled driver (``prange`` over replicates); ``"numpy"``:
            the reference twin; ``"cupy"``: the reference twin on GPU arrays.
        init : None, "reference", "uniform" or array ``(n,)`` / ``(replicates, n)``
            ``pi_0`` (default ``rho``); must have full support.
        equilibrium : array ``(n,)`` / ``(replicates, n)``, optional
            ``pi*_beta`` for the metrics, if already known (default: solved by
            :func:`rltheory.planning.regularized_nash`); must have full support.
        progress : bool
            Unused by the deterministic methods (one compiled call).

        Returns
        -------
        Trace with ``kl, exploitability, duality_gap, span, queries`` of shape
        ``(replicates, iterations + 1)`` and ``policy, equilibrium`` of shape ``(replicates, n)``.
        """
        iterations, seeds, R, backend, log_rho, x0, log_star, n = self._prepare(
            game, iterations, replicates, seed, backend, init, equilibrium)
        etas = self._step_sizes(iterations)
        P = np.ascontiguousarray(game.P_batch)
        if backend == "numba":
            x = x0.copy()
            out = {k: np.empty((R, iterations + 1)) for k in ("kl", "exploitability", "span")}
            PT = np.ascontiguousarray(np.swapaxes(P, 1, 2))
            dynamics_kernel()(PT, np.array(log_rho, order="C"), log_star, x, compiled_step(type(self)._step),
                              float(self.beta),
                              np.ascontiguousarray(etas, dtype=np.float64),
                              out["kl"], out["exploitability"], out["span"])
        else:
            xp = get_namespace(asarray(np.zeros(1), backend))
            out_d = {k: xp.empty((R, iterations + 1)) for k in ("kl", "exploitability", "span")}
            x = dynamics_reference(asarray(P, backend), asarray(log_rho, backend), asarray(log_star, backend),
                                   asarray(x0, backend), type(self)._step_reference, float(self.beta), etas,
                                   out_d["kl"], out_d["exploitability"], out_d["span"])
            out = {k: to_numpy(v) for k, v in out_d.items()}
            x = to_numpy(x)
        return self._trace(out, x, log_star, game, iterations, R, backend)

    def _trace(self, out, x, log_star, game, iterations, R, backend, extra=None):
        arrays = {"kl": out["kl"], "exploitability": out["exploitability"],
                  "duality_gap": 2.0 * out["exploitability"], "span": out["span"],
                  "queries": np.broadcast_to(np.arange(iterations + 1, dtype=np.int64)
                                             * self._queries_per_iteration(), (R, iterations + 1)).copy(),
                  "policy": np.exp(x), "equilibrium": np.exp(log_star)}
        arrays.update(extra or {})
        return Trace(arrays, self._meta(game, iterations, R, backend))
