"""Nash Mirror Prox (Nash-MP) for preference games: exact and approximate.

Tiapkin, D., Calandriello, D., Belomestny, D., Moulines, E., Naumov, A., Rasul, K., Valko, M.
and Ménard, P. (2025). *Accelerating Nash Learning from Human Feedback via Mirror Prox*.
arXiv:2505.19731 **v1** (May 2025; the identifier now resolves to a later, different paper,
"Proximal Point Nash Learning from Human Feedback", COLT 2026).

Provenance — read first
-----------------------
Only the abstract of v1 could be read for this library (arxiv.org/html/2505.19731v1, alphaxiv,
Hugging Face papers, researchtrend, emergentmind and chatpaper copies all stop after the
abstract or the first paragraph of the introduction; no code, OpenReview page or citing text
with the update rule was found). Three secondary summaries add: the exploitability rate scales
as ``(1 + 2 beta)^(-N/2) / beta``; the approximate version's complexity depends on the optimal
policy and the initial parameters, not on the number of responses; the LLM version uses an
exponential moving average (out of scope here). Everything below marked **reconstructed** is
the design of ``shared/specs/nash_mp.md`` (standard composite mirror-prox theory consistent with
the abstract), kept as it is because the paper's text was not found; nothing was changed
against the spec except where stated under "Differences from the spec".

Setting (abstract; matrix form standard)
----------------------------------------
One context, ``n`` responses, preferences ``P[y, y'] = Pr(y > y')`` with ``P + P^T = 1``
(:class:`~rltheory.models.PreferenceGame`), a reference policy ``rho > 0`` and ``beta > 0``.
The regularised game (reconstructed form, as in Munos et al. 2024)::

    J_beta(pi, pi') = pi^T P pi' - beta KL(pi || rho) + beta KL(pi' || rho)

has a unique symmetric equilibrium ``pi*_beta = softmax(log rho + P pi*_beta / beta)``
(:func:`rltheory.planning.regularized_nash`).

The prox step (reconstructed, exact maths)
------------------------------------------
``Prox(pi, g; eta) = argmax_q eta [<q, g> - beta KL(q || rho)] - KL(q || pi)
= softmax((eta g + eta beta log rho + log pi) / (1 + eta beta))``, always in log space
(:func:`prox`). Every iterate is kept as normalised log-probabilities.

Algorithms (``x_t = log pi_t``; one *query* = one evaluation of ``P(. > pi) = P pi``)
--------------------------------------------------------------------------------------
* :class:`NashMirrorProx` (reconstructed: composite Mirror Prox with the KL Bregman divergence),
  2 queries per iteration (:func:`nash_mp_step`)::

      pi_{t+1/2} = Prox(pi_t, P pi_t; eta)             # extrapolation
      pi_{t+1}   = Prox(pi_t, P pi_{t+1/2}; eta)       # update: the prox centre is pi_t, not pi_{t+1/2}

  Step size ``0 < eta <= 2`` (:data:`MAX_STEP`): ``y -> (P pi)[y]`` is 1/2-Lipschitz from
  ``l1`` to ``l-inf`` (``sum(pi - pi') = 0`` lets ``P`` be centred at 1/2) and KL is
  1-strongly convex in ``l1``, so Mirror Prox allows ``eta <= 1/L = 2``. Larger steps are
  rejected (they can break the bound: ``tests/test_nash_mp.py`` shows ``eta = 4`` violating it).
* :class:`ApproximateNashMirrorProx` (existence: abstract; details reconstructed): each prox is
  replaced by ``inner_steps`` steps of stochastic policy gradient on softmax logits, warm-started
  at ``log pi_t``, maximising ``F(theta) = E_{y~pi_theta} P(y > pi_opp) - beta KL(pi_theta || rho)
  - KL(pi_theta || pi_t) / eta`` (``pi_opp = pi_t``, then ``pi_{t+1/2}``), with ``samples``
  sampled preference queries per step: ``y_j ~ pi_theta``, ``y'_j ~ pi_opp``,
  ``o_j ~ Bernoulli(P[y_j, y'_j])``, advantage ``A_j = o_j - beta log(pi_theta/rho)(y_j)
  - log(pi_theta/pi_t)(y_j) / eta`` minus a leave-one-out baseline (unbiased), and
  ``theta += inner_lr * mean_j A_j (e_{y_j} - pi_theta)``.

Where the rest lives: the baselines (MMD, online mirror descent / online IPO, Nash-MD, EGPO) in
:mod:`rltheory.algorithms.preference_baselines`; what every preference-game learner shares (the
metrics ``kl = KL(pi*_beta || pi_t)``, exploitability, duality gap, span, queries; the run
skeleton; the iteration driver) in :mod:`rltheory.algorithms.preference_dynamics`; the one prox
step in :mod:`rltheory.kernels.mirror`. The approximate method counts sampled comparisons
(``2 K M`` per iteration) as queries and adds the trace array ``inexactness``.

Differences from the spec (``shared/specs/nash_mp.md``)
-------------------------------------------------------
* The approximate inner loop uses a leave-one-out baseline (the spec leaves the baseline open)
  and a default ``inner_lr = eta / (1 + eta beta)`` (reconstructed: the step for which one
  *exact natural-gradient* step from ``log pi_t`` solves the prox exactly; vanilla PG moves each
  logit by at most that times ``pi_theta(y)``, which keeps the inner loop stable).
* The baselines' differences are listed in :mod:`rltheory.algorithms.preference_baselines`.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from rltheory.algorithm import episode_chunks, register_algorithm
from rltheory.backend import asarray, get_namespace, to_numpy
from rltheory.errors import InvalidParameterError
from rltheory.kernels.mirror import exp_one, kl_prox, kl_prox_one, log_normalize, matvec_t_one, normalize_one
from rltheory.models import PreferenceGame
from rltheory.rng import draw_uniforms, generators
from rltheory.trace import Trace
from rltheory.validation import check_int, check_real

from .preference_dynamics import (
    PREFERENCE_LIPSCHITZ,
    PreferenceDynamics,
    check_beta,
    duality_gap,
    exploitability,
    keyword_only_hyperparameters,
    kl_divergence,
    matvec,
    metrics_one,
    metrics_reference,
    span_seminorm,
    step_kernel,
)

__all__ = [
    "NashMirrorProx",
    "ApproximateNashMirrorProx",
    "MAX_STEP",
    "PREFERENCE_LIPSCHITZ",
    "prox",
    "log_normalize",
    "exploitability",
    "duality_gap",
    "kl_divergence",
    "span_seminorm",
    "policy_gradient_estimate",
]

#: Largest admissible Nash-MP step ``1 / L = 2`` (reconstructed; see the module docstring).
MAX_STEP = 1.0 / PREFERENCE_LIPSCHITZ
#: The prox step of Nash-MP (and of every learner here): :func:`rltheory.kernels.mirror.kl_prox`.
prox = kl_prox


# ---------------------------------------------------------------------------- exact Nash-MP: one iteration


@step_kernel
def nash_mp_step(PT, log_rho, x, g, beta, eta, pi, h):
    """One exact Nash-MP iteration in place on ``x = log pi_t`` (``g = P pi_t`` on entry; scratch ``pi, h``)::

        pi_{t+1/2} = Prox(pi_t, P pi_t; eta)        # extrapolation
        pi_{t+1}   = Prox(pi_t, P pi_{t+1/2}; eta)  # update, centred at pi_t
    """
    kl_prox_one(x, g, log_rho, beta, eta, h)
    exp_one(h, pi)
    matvec_t_one(PT, pi, g)
    kl_prox_one(x, g, log_rho, beta, eta, x)


def nash_mp_step_reference(P, log_rho, x, g, beta, eta):
    """Twin of :func:`nash_mp_step`, vectorised over replicates ``x (R, n)``; returns ``log pi_{t+1}``."""
    xp = get_namespace(P, x)
    h = kl_prox(x, g, log_rho, beta, eta)
    return kl_prox(x, matvec(P, xp.exp(h), xp), log_rho, beta, eta)


# ---------------------------------------------------------------------------- approximate Nash-MP


def policy_gradient_estimate(log_theta, log_center, log_rho, beta, eta, y, o):
    """The stochastic gradient of the approximate prox, batched: ``(R, n)``.

    ``log_theta`` ``(R, n)`` current normalised logits, ``log_center`` ``(R, n)`` ``log pi_t``,
    ``y`` ``(R, M)`` sampled responses (int), ``o`` ``(R, M)`` observed preferences in ``{0, 1}``.
    Returns ``mean_j (A_j - b_j) (e_{y_j} - pi_theta)`` with ``A_j = o_j - beta log(pi_theta/rho)(y_j)
    - log(pi_theta/pi_t)(y_j) / eta`` and the leave-one-out baseline ``b_j = mean_{k != j} A_k``;
    its expectation is ``pi_theta * (h - <pi_theta, h>)``, ``h = P pi_opp - beta log(pi_theta/rho)
    - log(pi_theta/pi_t) / eta``, the gradient of ``F`` (module docstring).
    """
    xp = get_namespace(log_theta)
    R, n = log_theta.shape
    M = y.shape[1]
    lt = xp.take_along_axis(log_theta, y, axis=1)
    lr = xp.take_along_axis(xp.broadcast_to(log_rho, (R, n)), y, axis=1)
    lc = xp.take_along_axis(log_center, y, axis=1)
    A = o - beta * (lt - lr) - (lt - lc) / eta
    total = xp.cumsum(A, axis=1)[:, -1:]
    adv = A - (total - A) / (M - 1)
    onehot = (y[..., None] == xp.arange(n)[None, None, :]).astype(log_theta.dtype)
    grad = xp.einsum("rm,rmn->rn", adv, onehot) / M
    mean_adv = xp.cumsum(adv, axis=1)[:, -1:] / M
    return grad - xp.exp(log_theta) * mean_adv



@nb.njit(cache=True)
def _sample_one(cdf, target):
    """Smallest ``i`` with ``cdf[i] > target`` (``cdf`` non-decreasing), at most ``n - 1``."""
    n = cdf.shape[0]
    c = 0
    for i in range(n):
        if cdf[i] <= target:
            c += 1
    return c if c < n else n - 1


@nb.njit(cache=True)
def _cumsum_exp(x, out):
    s = 0.0
    for i in range(x.shape[0]):
        s += np.exp(x[i])
        out[i] = s


@nb.njit(cache=True)
def _approxkl_prox_one(P, log_rho, x, log_opp, beta, eta, K, M, lr, u, out, theta, pth, cdf, cdf_opp, ys, A):
    """``out = log`` of the approximate ``Prox(pi_t = exp(x), P exp(log_opp); eta)`` (``u``: ``(K, M, 3)``)."""
    n = x.shape[0]
    _cumsum_exp(log_opp, cdf_opp)
    tot_opp = cdf_opp[n - 1]
    for i in range(n):
        theta[i] = x[i]
    for k in range(K):
        normalize_one(theta)
        _cumsum_exp(theta, cdf)
        tot = cdf[n - 1]
        for i in range(n):
            pth[i] = np.exp(theta[i])
        s = 0.0
        for j in range(M):
            y = _sample_one(cdf, u[k, j, 0] * tot)
            yo = _sample_one(cdf_opp, u[k, j, 1] * tot_opp)
            o = 1.0 if u[k, j, 2] < P[y, yo] else 0.0
            ys[j] = y
            A[j] = o - beta * (theta[y] - log_rho[y]) - (theta[y] - x[y]) / eta
            s += A[j]
        mean_adv = 0.0
        for j in range(M):
            adv = A[j] - (s - A[j]) / (M - 1)
            A[j] = adv
            mean_adv += adv / M
        for j in range(M):
            theta[ys[j]] += lr * A[j] / M
        for i in range(n):
            theta[i] -= lr * pth[i] * mean_adv
    normalize_one(theta)
    for i in range(n):
        out[i] = theta[i]


@nb.njit(parallel=True, cache=True)
def _approx_kernel(P, PT, log_rho, log_star, x, beta, eta, K, M, lr, u, t0, final, kl, expl, span, inexact):
    """Iterations ``t0 .. t0 + C - 1`` of approximate Nash-MP, in place on ``x (R, n)``.

    ``P`` and ``PT`` (its transpose, for the matrix-vector products) ``(G, n, n)``;
    ``u (R, C, 2, K, M, 3)`` uniforms; metrics of the iterate before each step go to column
    ``t0 + c`` and, if ``final``, those after the last step to ``t0 + C``.
    """
    R, n = x.shape
    C = u.shape[1]
    G = P.shape[0]
    for r in nb.prange(R):
        gi = min(np.int64(r), G - 1)
        Pr = P[gi]
        PTr = PT[gi]
        lrho = log_rho[gi]
        ls = log_star[r]
        xr = x[r]
        pi = np.empty(n)
        g = np.empty(n)
        h = np.empty(n)
        xbar = np.empty(n)
        tmp = np.empty(n)
        theta = np.empty(n)
        pth = np.empty(n)
        cdf = np.empty(n)
        cdf_opp = np.empty(n)
        ys = np.empty(M, np.int64)
        A = np.empty(M)
        for c in range(C):
            t = t0 + c
            exp_one(xr, pi)
            matvec_t_one(PTr, pi, g)
            kl[r, t], expl[r, t], span[r, t] = metrics_one(xr, g, lrho, ls, beta, tmp)
            # exact Nash-MP step from pi_t (diagnostic only, no queries)
            kl_prox_one(xr, g, lrho, beta, eta, h)
            exp_one(h, pi)
            matvec_t_one(PTr, pi, g)
            kl_prox_one(xr, g, lrho, beta, eta, xbar)
            # approximate extrapolation and update, both centred at pi_t
            _approxkl_prox_one(Pr, lrho, xr, xr, beta, eta, K, M, lr, u[r, c, 0], h, theta, pth, cdf, cdf_opp, ys, A)
            _approxkl_prox_one(Pr, lrho, xr, h, beta, eta, K, M, lr, u[r, c, 1], tmp, theta, pth, cdf, cdf_opp, ys, A)
            d = 0.0
            for i in range(n):
                d += np.exp(ls[i]) * (xbar[i] - tmp[i])
                xr[i] = tmp[i]
            inexact[r, t + 1] = d
        if final:
            exp_one(xr, pi)
            matvec_t_one(PTr, pi, g)
            kl[r, t0 + C], expl[r, t0 + C], span[r, t0 + C] = metrics_one(xr, g, lrho, ls, beta, tmp)


def _sample_reference(log_p, target, xp):
    """Inverse-CDF sampling as :func:`_sample_one`: ``log_p (R, n)``, ``target (R, M)`` in ``[0, 1)``."""
    cdf = xp.cumsum(xp.exp(log_p), axis=-1)
    n = cdf.shape[-1]
    idx = xp.sum(cdf[:, None, :] <= (target * cdf[:, -1:])[..., None], axis=-1)
    return xp.minimum(idx, n - 1)


def _approx_prox_reference(P, log_rho, x, log_opp, beta, eta, K, M, lr, u, xp):
    """Twin of :func:`_approx_prox_one`, batched: ``u (R, K, M, 3)``."""
    R, n = x.shape
    theta = x
    rows = xp.arange(R)[:, None]
    for k in range(K):
        theta = log_normalize(theta)
        y = _sample_reference(theta, u[:, k, :, 0], xp)
        yo = _sample_reference(log_opp, u[:, k, :, 1], xp)
        Pyy = P[0][y, yo] if P.shape[0] == 1 else P[rows, y, yo]
        o = (u[:, k, :, 2] < Pyy).astype(x.dtype)
        theta = theta + lr * policy_gradient_estimate(theta, x, log_rho, beta, eta, y, o)
    return log_normalize(theta)


def _approx_reference(P, log_rho, log_star, x, beta, eta, K, M, lr, u, t0, final, kl, expl, span, inexact):
    """Twin of :func:`_approx_kernel` (returns the new ``x``)."""
    xp = get_namespace(P, x)
    C = u.shape[1]
    lr_b = xp.broadcast_to(log_rho, x.shape)
    for c in range(C):
        t = t0 + c
        g = matvec(P, xp.exp(x), xp)
        kl[:, t], expl[:, t], span[:, t] = metrics_reference(x, g, lr_b, log_star, beta, xp)
        h = kl_prox(x, g, lr_b, beta, eta)
        xbar = kl_prox(x, matvec(P, xp.exp(h), xp), lr_b, beta, eta)
        h = _approx_prox_reference(P, lr_b, x, x, beta, eta, K, M, lr, u[:, c, 0], xp)
        x_new = _approx_prox_reference(P, lr_b, x, h, beta, eta, K, M, lr, u[:, c, 1], xp)
        inexact[:, t + 1] = xp.sum(xp.exp(log_star) * (xbar - x_new), axis=-1)
        x = x_new
    if final:
        g = matvec(P, xp.exp(x), xp)
        kl[:, t0 + C], expl[:, t0 + C], span[:, t0 + C] = metrics_reference(x, g, lr_b, log_star, beta, xp)
    return x



# ---------------------------------------------------------------------------- the algorithms


def check_nash_mp_step(eta):
    """``0 < eta <= MAX_STEP = 1/L``: Mirror Prox's admissible step (module docstring)."""
    eta = check_real(eta, "eta", low=0.0, low_open=True)
    if eta > MAX_STEP:
        raise InvalidParameterError(
            "eta", f"must lie in the admissible range (0, {MAX_STEP:g}] = (0, 1/L] (the preference operator "
                   f"pi -> P pi is L = {PREFERENCE_LIPSCHITZ:g}-Lipschitz from l1 to l-inf), got {eta!r}",
            value=eta)
    return eta


@register_algorithm
class NashMirrorProx(PreferenceDynamics):
    """Exact Nash Mirror Prox (Tiapkin et al. 2025, arXiv:2505.19731v1; update rule reconstructed).

    ``pi_{t+1/2} = Prox(pi_t, P pi_t; eta)``, ``pi_{t+1} = Prox(pi_t, P pi_{t+1/2}; eta)``: 2 queries
    per iteration. Claim (abstract; constant reconstructed): ``KL(pi* || pi_t) <= (1 + eta beta)^(-t)
    KL(pi* || pi_0)``, i.e. ``(1 + 2 beta)^(-N/2) KL_0`` at ``eta = 2`` after ``N`` queries
    (:mod:`rltheory.bounds.nash_mp`).

    Parameters
    ----------
    beta : float > 0
        KL-regularisation strength.
    eta : float in (0, 2]
        Step size; ``2 = 1/L`` (:data:`MAX_STEP`) is the largest admissible one and the default.
        Larger values raise :class:`~rltheory.errors.InvalidParameterError`.

    Examples
    --------
    >>> from rltheory.mdps import rock_paper_scissors
    >>> trace = NashMirrorProx(beta=0.1).run(rock_paper_scissors(), 50, init=[0.8, 0.15, 0.05])
    >>> trace.kl.shape, bool(trace.kl[0, -1] < 1e-8)
    ((1, 51), True)
    """

    queries_per_iteration = 2
    _step = staticmethod(nash_mp_step)
    _step_reference = staticmethod(nash_mp_step_reference)

    @keyword_only_hyperparameters
    def __init__(self, *, beta: float = 0.1, eta: float = MAX_STEP):
        self.beta = check_beta(beta)
        self.eta = check_nash_mp_step(eta)

    @classmethod
    def conformance_cases(cls) -> list[dict]:
        return [{"beta": 0.2}, {"beta": 0.05, "eta": 1.0}]


@register_algorithm
class ApproximateNashMirrorProx(PreferenceDynamics):
    """Approximate Nash-MP: each prox step by stochastic policy gradient from sampled preference queries.

    Existence from the abstract; the inner loop is reconstructed (module docstring). Per
    iteration: ``2 * inner_steps * samples`` sampled comparisons (the ``queries`` array).

    Parameters
    ----------
    beta : float > 0
    eta : float in (0, 2]
        Outer (mirror-prox) step, as in :class:`NashMirrorProx`.
    inner_steps : int >= 1
        Policy-gradient steps ``K`` per prox step.
    samples : int >= 2
        Sampled queries ``M`` per policy-gradient step (leave-one-out baseline needs 2).
    inner_lr : float > 0, optional
        Policy-gradient step; default ``eta / (1 + eta beta)`` (reconstructed; module docstring).

    Extra trace array ``inexactness`` ``(replicates, iterations + 1)``: at ``t + 1``,
    ``KL(pi* || pi_{t+1}) - KL(pi* || bar pi_{t+1})`` where ``bar pi_{t+1}`` is the *exact*
    Nash-MP step from ``pi_t`` (0 at ``t = 0``). With the exact step's contraction this gives
    ``KL_{t+1} <= KL_t / (1 + eta beta) + inexactness_{t+1}``
    (:func:`rltheory.bounds.nash_mp.kl_upper_inexact`).
    """

    randomized = True

    @keyword_only_hyperparameters
    def __init__(self, *, beta: float = 0.1, eta: float = MAX_STEP, inner_steps: int = 10, samples: int = 100,
                 inner_lr: float | None = None):
        self.beta = check_beta(beta)
        self.eta = check_nash_mp_step(eta)
        self.inner_steps = check_int(inner_steps, "inner_steps", low=1)
        self.samples = check_int(samples, "samples", low=2)
        self.inner_lr = None if inner_lr is None else check_real(inner_lr, "inner_lr", low=0.0, low_open=True)

    @classmethod
    def conformance_cases(cls) -> list[dict]:
        return [{"beta": 0.2, "inner_steps": 3, "samples": 8}]

    @property
    def effective_inner_lr(self) -> float:
        """The policy-gradient step used: ``inner_lr`` or ``eta / (1 + eta beta)``."""
        return self.inner_lr if self.inner_lr is not None else self.eta / (1.0 + self.eta * self.beta)

    def _queries_per_iteration(self) -> int:
        return 2 * self.inner_steps * self.samples

    def run(self, game: PreferenceGame, iterations: int, *, replicates: int | None = 1, seed=0, backend=None,
            init=None, equilibrium=None, progress: bool = False, chunk_iterations: int | None = None) -> Trace:
        """As :meth:`NashMirrorProx.run`, with sampling: replicate ``r`` draws its uniforms from
        ``replicate_seeds(seed, r, r + 1)``, ``6 K M`` per iteration in iteration order, so the
        numbers do not depend on ``chunk_iterations`` (iterations per compiled call; memory for
        uniforms is ``replicates x chunk x 6 K M`` floats) nor on the other replicates.

        Returns the arrays of :meth:`NashMirrorProx.run` plus ``inexactness``.
        """
        iterations, seeds, R, backend, log_rho, x0, log_star, n = self._prepare(
            game, iterations, replicates, seed, backend, init, equilibrium)
        K, M = self.inner_steps, self.samples
        width = 6 * K * M
        if chunk_iterations is None:
            chunk_iterations = max(1, min(iterations, 2_000_000 // (R * width)))
        chunk_iterations = check_int(chunk_iterations, "chunk_iterations", low=1)
        gens = generators(seeds)
        P = np.ascontiguousarray(game.P_batch)
        lr = self.effective_inner_lr
        beta, eta = float(self.beta), float(self.eta)
        if backend == "numba":
            xp = np
            x = x0.copy()
            args = (P, np.ascontiguousarray(np.swapaxes(P, 1, 2)), np.ascontiguousarray(log_rho), log_star)
        else:
            xp = get_namespace(asarray(np.zeros(1), backend))
            x = asarray(x0, backend)
            args = (asarray(P, backend), asarray(log_rho, backend), asarray(log_star, backend))
        out = {k: xp.zeros((R, iterations + 1)) for k in ("kl", "exploitability", "span", "inexactness")}
        with self._progress(iterations, progress, "Approx. Nash-MP") as bar:
            for start, size in episode_chunks(iterations, chunk_iterations):
                u = draw_uniforms(gens, size, width).reshape(R, size, 2, K, M, 3)
                final = start + size == iterations
                if backend == "numba":
                    _approx_kernel(*args, x, beta, eta, K, M, lr, u, start, final,
                                   out["kl"], out["exploitability"], out["span"], out["inexactness"])
                else:
                    x = _approx_reference(*args, x, beta, eta, K, M, lr, asarray(u, backend), start, final,
                                          out["kl"], out["exploitability"], out["span"], out["inexactness"])
                bar.update(size)
        out = {k: to_numpy(v) for k, v in out.items()}
        inexact = out.pop("inexactness")
        return self._trace(out, to_numpy(x), log_star, game, iterations, R, backend, {"inexactness": inexact})
