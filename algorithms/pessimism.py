"""Pessimistic (lower-confidence) policy evaluation on empirical counts, and the search for the
largest certified mixing coefficient of a per-step policy mixture.

Lower bound of one step (the span-scaled Weissman step, StepMix spec addendum rule R1)
--------------------------------------------------------------------------------------
With ``n = N_h(s, a)`` visits, empirical means ``P_hat = N_h(s, a, .) / n`` and ``r_hat``, and
``V = V_low_{h+1}`` the lower bound already computed one step later::

    Q_low_h(s, a) = r_low + max( min_t V(t),  P_hat V - sqrt(wlog / (2 n)) * span(V) )   (n >= 1)
                  = min_t V(t)                                                            (n = 0)
    r_low         = max(0, r_hat - sqrt(rlog / (2 n)))          (rlog = 0: rewards observed exactly)
    V_low_h(s)    = sum_a pi_h(a | s) Q_low_h(s, a),            V_low_H = 0

``wlog = S ln 2 + iota`` makes ``sqrt(wlog / (2 n)) = c_n / 2`` with Weissman's L1 radius
``c_n = sqrt(2 (S ln 2 + iota) / n)``: with ``iota = ln(S A H K / delta)`` the event
``||P_hat_h(.|s, a) - P_h(.|s, a)||_1 <= c_n`` holds for every ``(h, s, a)`` and every count
``n <= K`` with probability ``>= 1 - delta`` (Weissman et al. 2003, ``2^S`` sets, union bound).
On it, because ``(P_hat - P) 1 = 0``, ``|(P_hat - P) V| <= ||P_hat - P||_1 span(V) / 2`` for *any*
vector ``V``, data-dependent ones included, and ``P V >= min V`` always; so by backward induction
(``P >= 0``) ``V_low <= V^pi`` for every policy ``pi`` at once, mixtures over any coefficient
included: no union bound over policies or coefficients is needed. ``rlog = ln(2 S A H K / delta)``
adds Hoeffding's bound for rewards observed with noise in ``[0, 1]``; with exact rewards
(``rlog = 0``) the first visit reveals ``r`` and unvisited pairs use ``r >= 0``.

Per-step mixtures
-----------------
``pi^rho_h(a | s) = rho 1{a = g_h(s)} + (1 - rho) b_h(a | s)`` mixes a deterministic policy ``g``
(the optimistic one) with a stochastic baseline ``b``. :func:`pessimistic_mixture_values_one`
evaluates ``mu @ V_low^{pi^rho}_0`` for a whole vector of coefficients in one backward pass
(the coefficient is the innermost, contiguous axis, so the loop vectorises).

Coefficient search (rule R2)
----------------------------
``L(rho) = max(V_low(rho), floor(rho))`` is a certified lower bound of the mixture's value, with
``floor(rho) = (1 - rho)^H v_low`` (the event "the baseline was followed at every step" has
probability ``(1 - rho)^H`` and, rewards being non-negative, contributes at least that fraction
of the baseline's value). ``L`` is *not* monotone in ``rho`` and its feasible set
``{rho : L(rho) >= tau}`` is often not an interval, so no bisection: check ``rho = 1``; else
evaluate a coarse grid that contains the safe floor ``rho_min`` (the largest ``rho`` with
``floor(rho) >= tau``); take its largest feasible point; evaluate a fine grid strictly inside
the bracket up to the next coarse point; return the largest point *evaluated* feasible.

Each kernel has a NumPy twin ``*_reference`` (vectorised over replicates); tests check agreement.
The compiled functions are cached on disk (``cache=True``): they call only functions of this module
(and NumPy's ``dot``), so Numba's per-file cache invalidation is sound for them.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba as nb
import numpy as np

from rltheory.backend import get_namespace

__all__ = [
    "MixtureSearch",
    "weissman_log_term",
    "reward_log_term",
    "safe_floor_coefficient",
    "coarse_candidates",
    "empirical_transitions_one",
    "empirical_transitions",
    "empirical_transitions_reference",
    "pessimistic_evaluation_one",
    "pessimistic_evaluation",
    "pessimistic_evaluation_reference",
    "pessimistic_mixture_values_one",
    "pessimistic_mixture_values",
    "pessimistic_mixture_values_reference",
    "search_mixing_coefficient_one",
    "search_mixing_coefficient",
    "search_mixing_coefficient_reference",
]


# ---------------------------------------------------------------------------- constants


class MixtureSearch(NamedTuple):
    """The settings of the R2 search (one record instead of seven arguments)."""

    tau: float  #: the safe level a feasible point must certify
    rho_min: float  #: the safe floor's coefficient (:func:`safe_floor_coefficient`)
    v_low: float  #: lower bound of the baseline's value (in the floor)
    use_floor: bool  #: use the floor ``(1 - rho)^H v_low`` (False: the ablation)
    candidates: np.ndarray  #: the coarse grid (:func:`coarse_candidates`)
    uppers: np.ndarray  #: each candidate's bracket top
    n_fine: int  #: points of the refining grid


def weissman_log_term(S: int, A: int, H: int, K: int, delta: float) -> float:
    """``S ln 2 + iota`` with ``iota = ln(S A H K / delta)`` (rule R1; ``c_n = sqrt(2 wlog / n)``)."""
    return float(S * math.log(2.0) + math.log(S * A * H * K / delta))


def reward_log_term(S: int, A: int, H: int, K: int, delta: float) -> float:
    """``ln(2 S A H K / delta)``: Hoeffding's radius ``sqrt(rlog / (2 n))`` for rewards in [0, 1]."""
    return float(math.log(2.0 * S * A * H * K / delta))


def safe_floor_coefficient(tau: float, v_low: float, H: int, *, floor: bool = True) -> float:
    """The largest ``rho`` certified by the floor alone: ``(1 - rho)^H v_low >= tau`` in floating point.

    Known baseline value (``v_low = V^b``, ``tau = (1 - alpha) V^b``): ``1 - (1 - alpha)^{1/H}``.
    ``floor=False`` (ablation): 0 (the baseline alone, whose value is known). Returns ``-1`` when
    ``v_low < tau`` (no coefficient, not even 0, is certified by the baseline's value).
    """
    if not v_low >= tau:
        return -1.0
    if not floor or v_low <= 0.0:
        return 0.0
    rho = 1.0 - (tau / v_low) ** (1.0 / H)
    rho = min(max(rho, 0.0), 1.0)
    # the closed form can round up by an ulp; step down until the floor certifies it in floats
    while rho > 0.0 and (1.0 - rho) ** float(H) * v_low < tau:
        rho = float(np.nextafter(rho, 0.0))
    return rho


def coarse_candidates(grid: int, rho_min: float) -> tuple[np.ndarray, np.ndarray]:
    """Rule R2's coarse grid: ``i / (grid - 1)`` for ``i < grid - 1`` (``rho = 1`` is checked first),
    plus ``rho_min`` when ``rho_min >= 0``, sorted and distinct; and each candidate's bracket top
    (the next candidate, or 1). Returns ``(candidates (G,), uppers (G,))``.
    """
    pts = np.linspace(0.0, 1.0, grid)[:-1]
    if rho_min >= 0.0:
        pts = np.union1d(pts, [rho_min])
    pts = np.unique(pts)
    uppers = np.append(pts[1:], 1.0)
    return np.ascontiguousarray(pts), np.ascontiguousarray(uppers)


# ---------------------------------------------------------------------------- empirical model


@nb.njit(cache=True)
def empirical_transitions_one(counts_sas, counts_sa, P_hat):
    """``P_hat[hc, s, a] = counts_sas[hc, s, a] / counts_sa[hc, s, a]`` (zeros where unvisited), in place.

    One replicate: ``counts_sas, P_hat (Hc, S, A, S)``, ``counts_sa (Hc, S, A)``.
    """
    Hc, S, A, _ = P_hat.shape
    for h in range(Hc):
        for s in range(S):
            for a in range(A):
                n = counts_sa[h, s, a]
                inv = 1.0 / n if n > 0 else 0.0
                for t in range(S):
                    P_hat[h, s, a, t] = counts_sas[h, s, a, t] * inv


@nb.njit(parallel=True, cache=True)
def _empirical_transitions_numba(counts_sas, counts_sa, P_hat):
    for r in nb.prange(P_hat.shape[0]):
        empirical_transitions_one(counts_sas[r], counts_sa[r], P_hat[r])


def empirical_transitions(counts_sas, counts_sa):
    """Batched :func:`empirical_transitions_one` (compiled): ``(n, Hc, S, A, S)``."""
    P_hat = np.empty(counts_sas.shape)
    _empirical_transitions_numba(counts_sas, counts_sa, P_hat)
    return P_hat


def empirical_transitions_reference(counts_sas, counts_sa):
    """Twin of :func:`empirical_transitions`."""
    xp = get_namespace(counts_sas)
    inv = xp.where(counts_sa > 0, 1.0 / xp.maximum(counts_sa, 1), 0.0)
    return counts_sas * inv[..., None]


# ---------------------------------------------------------------------------- one policy


@nb.njit(inline="always", cache=True)
def _reward_low(reward_sum, inv, reward_log):
    r = reward_sum * inv
    if reward_log > 0.0:
        r -= np.sqrt(0.5 * reward_log * inv)
    return r if r > 0.0 else 0.0


@nb.njit(cache=True)
def pessimistic_evaluation_one(P_hat, counts_sa, reward_sum, policy, weissman_log, reward_log, V):
    """Lower bound ``V_low^pi`` of one stochastic policy, one replicate (in place, ``V (H + 1, S)``).

    ``P_hat (Hc, S, A, S)`` from :func:`empirical_transitions_one`, ``counts_sa, reward_sum
    (Hc, S, A)`` with ``Hc`` in ``{1, H}``; ``policy (H, S, A)`` float64 (zero-probability actions
    are skipped, so a one-hot policy costs ``O(H S^2)``). The step is the module docstring's (R1).
    """
    H, S, A = policy.shape
    Hc = counts_sa.shape[0]
    for t in range(S):
        V[H, t] = 0.0
    for h in range(H - 1, -1, -1):
        hc = h if Hc > 1 else 0
        lo = V[h + 1, 0]
        hi = lo
        for t in range(1, S):
            x = V[h + 1, t]
            lo = min(lo, x)
            hi = max(hi, x)
        span = hi - lo
        for s in range(S):
            v = 0.0
            for a in range(A):
                w = policy[h, s, a]
                if w == 0.0:
                    continue
                n = counts_sa[hc, s, a]
                if n == 0:
                    q = lo
                else:
                    inv = 1.0 / n
                    row = P_hat[hc, s, a]
                    acc = 0.0
                    for t in range(S):
                        acc += row[t] * V[h + 1, t]
                    step = max(acc - np.sqrt(0.5 * weissman_log * inv) * span, lo)
                    q = _reward_low(reward_sum[hc, s, a], inv, reward_log) + step
                v += w * q
            V[h, s] = v


@nb.njit(parallel=True, cache=True)
def _pessimistic_evaluation_numba(P_hat, counts_sa, reward_sum, policies, weissman_log, reward_log, V):
    for r in nb.prange(V.shape[0]):
        pessimistic_evaluation_one(P_hat[r], counts_sa[r], reward_sum[r], policies[r], weissman_log, reward_log, V[r])


def pessimistic_evaluation(counts_sas, counts_sa, reward_sum, policies, weissman_log, reward_log):
    """Lower bounds ``V_low (n, H + 1, S)`` of ``n`` stochastic policies on ``n`` replicates' counts (compiled).

    Every argument has a leading replicate axis ``n``: ``counts_sas (n, Hc, S, A, S)``,
    ``counts_sa, reward_sum (n, Hc, S, A)``, ``policies (n, H, S, A)`` float64.
    """
    n, H, S, _ = policies.shape
    V = np.empty((n, H + 1, S))
    _pessimistic_evaluation_numba(empirical_transitions(counts_sas, counts_sa), counts_sa, reward_sum,
                                  np.ascontiguousarray(policies, np.float64), float(weissman_log), float(reward_log), V)
    return V


def _q_low_reference(xp, P_hat, N, reward_sum, V, lo, span, weissman_log, reward_log):
    """Q_low for every (s, a) given next-step lower values ``V (..., S)`` broadcast against the model."""
    inv = 1.0 / xp.maximum(N, 1)
    pv = xp.sum(P_hat * V[..., None, None, :], axis=-1)
    step = xp.maximum(pv - xp.sqrt(0.5 * weissman_log * inv) * span[..., None, None], lo[..., None, None])
    r = reward_sum * inv
    if reward_log > 0.0:
        r = r - xp.sqrt(0.5 * reward_log * inv)
    r = xp.maximum(r, 0.0)
    return xp.where(N == 0, lo[..., None, None], r + step)


def pessimistic_evaluation_reference(counts_sas, counts_sa, reward_sum, policies, weissman_log, reward_log):
    """Twin of :func:`pessimistic_evaluation`, vectorised over replicates."""
    xp = get_namespace(counts_sas, policies)
    n, H, S, _ = policies.shape
    Hc = counts_sa.shape[1]
    P_hat = empirical_transitions_reference(counts_sas, counts_sa)
    V = xp.zeros((n, H + 1, S))
    for h in range(H - 1, -1, -1):
        hc = h if Hc > 1 else 0
        nxt = V[:, h + 1]
        lo = nxt.min(axis=-1)
        span = nxt.max(axis=-1) - lo
        Q = _q_low_reference(xp, P_hat[:, hc], counts_sa[:, hc], reward_sum[:, hc], nxt, lo, span,
                             weissman_log, reward_log)
        V[:, h] = xp.sum(policies[:, h] * Q, axis=-1)
    return V


# ---------------------------------------------------------------------------- per-step mixtures


@nb.njit(cache=True)
def pessimistic_mixture_values_one(P_hat, counts_sa, reward_sum, greedy, baseline, mu, weissman_log, reward_log,
                                   rhos, out):
    """``out[g] = mu @ V_low^{pi^{rhos[g]}}_0`` for the per-step mixtures of ``greedy`` and ``baseline``.

    One replicate. ``P_hat (Hc, S, A, S)`` (:func:`empirical_transitions_one`), ``counts_sa,
    reward_sum (Hc, S, A)``, ``greedy (H, S)`` int64, ``baseline (H, S, A)`` float64, ``mu (S,)``,
    ``rhos (G,)``, ``out (G,)``. The mixture's value at ``(h, s)`` is
    ``rho Q_low(s, g_h(s)) + (1 - rho) sum_a b_h(a|s) Q_low(s, a)``. One backward pass for all
    coefficients: the products ``P_hat_h V_{h+1}`` of every coefficient are one matrix product
    ``(S A, S) x (S, G)`` per step (BLAS). Cost ``O(H S^2 A G)``.
    """
    H, S, A = baseline.shape
    Hc = counts_sa.shape[0]
    G = rhos.shape[0]
    V = np.zeros((S, G))
    Vn = np.empty((S, G))
    PV = np.empty((S * A, G))
    lo = np.empty(G)
    span = np.empty(G)
    for h in range(H - 1, -1, -1):
        hc = h if Hc > 1 else 0
        for g in range(G):
            lo[g] = V[0, g]
            span[g] = V[0, g]
        for t in range(1, S):
            for g in range(G):
                x = V[t, g]
                lo[g] = min(lo[g], x)
                span[g] = max(span[g], x)
        for g in range(G):
            span[g] -= lo[g]
        np.dot(P_hat[hc].reshape(S * A, S), V, PV)
        for s in range(S):
            k = greedy[h, s]
            for g in range(G):
                Vn[s, g] = 0.0
            for a in range(A):
                w = baseline[h, s, a]
                if a != k and w == 0.0:
                    continue
                i = s * A + a
                n = counts_sa[hc, s, a]
                if n == 0:
                    for g in range(G):
                        PV[i, g] = lo[g]
                else:
                    inv = 1.0 / n
                    rad = np.sqrt(0.5 * weissman_log * inv)
                    r = _reward_low(reward_sum[hc, s, a], inv, reward_log)
                    for g in range(G):
                        PV[i, g] = r + max(PV[i, g] - rad * span[g], lo[g])
                if w != 0.0:
                    for g in range(G):
                        Vn[s, g] += w * PV[i, g]
            ik = s * A + k
            for g in range(G):
                Vn[s, g] = rhos[g] * PV[ik, g] + (1.0 - rhos[g]) * Vn[s, g]
        V, Vn = Vn, V
    for g in range(G):
        v = 0.0
        for s in range(S):
            v += mu[s] * V[s, g]
        out[g] = v


@nb.njit(parallel=True, cache=True)
def _mixture_values_numba(P_hat, counts_sa, reward_sum, greedy, baseline, mu, weissman_log, reward_log, rhos, out):
    for r in nb.prange(out.shape[0]):
        pessimistic_mixture_values_one(P_hat[r], counts_sa[r], reward_sum[r], greedy[r], baseline, mu,
                                       weissman_log, reward_log, rhos[r], out[r])


def pessimistic_mixture_values(counts_sas, counts_sa, reward_sum, greedy, baseline, mu, weissman_log, reward_log,
                               rhos):
    """Batched :func:`pessimistic_mixture_values_one` (compiled): ``(n, G)``.

    Counts and ``greedy (n, H, S)`` carry a replicate axis; ``baseline (H, S, A)`` and ``mu (S,)``
    are shared; ``rhos (n, G)``.
    """
    rhos = np.ascontiguousarray(rhos, np.float64)
    out = np.empty(rhos.shape)
    _mixture_values_numba(empirical_transitions(counts_sas, counts_sa), counts_sa, reward_sum,
                          np.ascontiguousarray(greedy, np.int64), np.ascontiguousarray(baseline, np.float64),
                          np.ascontiguousarray(mu, np.float64), float(weissman_log), float(reward_log), rhos, out)
    return out


def pessimistic_mixture_values_reference(counts_sas, counts_sa, reward_sum, greedy, baseline, mu, weissman_log,
                                         reward_log, rhos):
    """Twin of :func:`pessimistic_mixture_values`, vectorised over replicates and coefficients."""
    xp = get_namespace(counts_sas, rhos)
    n, H, S = greedy.shape
    Hc = counts_sa.shape[1]
    P_hat = empirical_transitions_reference(counts_sas, counts_sa)
    rho = rhos[:, :, None]
    V = xp.zeros((n, rhos.shape[1], S))
    for h in range(H - 1, -1, -1):
        hc = h if Hc > 1 else 0
        lo = V.min(axis=-1)
        span = V.max(axis=-1) - lo
        Q = _q_low_reference(xp, P_hat[:, hc][:, None], counts_sa[:, hc][:, None], reward_sum[:, hc][:, None],
                             V, lo, span, weissman_log, reward_log)            # (n, G, S, A)
        qk = xp.take_along_axis(Q, greedy[:, h][:, None, :, None], axis=-1)[..., 0]
        qb = xp.sum(baseline[h][None, None] * Q, axis=-1)
        V = rho * qk + (1.0 - rho) * qb
    return V @ mu


# ---------------------------------------------------------------------------- the search (R2)


@nb.njit(inline="always", cache=True)
def _floor(rho, H, v_low, use_floor):
    if use_floor:
        return (1.0 - rho) ** float(H) * v_low  # float exponent: libm pow, as in safe_floor_coefficient
    return v_low if rho == 0.0 else 0.0


@nb.njit(cache=True)
def search_mixing_coefficient_one(P_hat, counts_sa, reward_sum, greedy, baseline, mu, weissman_log, reward_log,
                                  search):
    """Rule R2 for one replicate: returns ``(rho, L(rho))``.

    ``L(rho) = max(V_low(rho), floor(rho))``; a point is feasible when ``V_low(rho) >= tau`` or
    ``rho <= rho_min`` (the floor certifies it; see :func:`safe_floor_coefficient`).
    ``search`` a :class:`MixtureSearch`: ``candidates, uppers (G,)`` from :func:`coarse_candidates`;
    ``n_fine`` points refine the bracket. If nothing is feasible (possible only when ``v_low < tau``, e.g. an
    under-sized offline dataset) the baseline is returned: ``(0, L(0))`` with ``L(0) < tau`` (not certified).
    Model arguments as :func:`pessimistic_mixture_values_one`.
    """
    tau, rho_min, v_low, use_floor, candidates, uppers, n_fine = search
    H, S, A = baseline.shape
    onehot = np.zeros((H, S, A))
    for h in range(H):
        for s in range(S):
            onehot[h, s, greedy[h, s]] = 1.0
    V = np.empty((H + 1, S))
    pessimistic_evaluation_one(P_hat, counts_sa, reward_sum, onehot, weissman_log, reward_log, V)
    v1 = 0.0
    for s in range(S):
        v1 += mu[s] * V[0, s]
    if v1 >= tau:
        return 1.0, v1
    G = candidates.shape[0]
    vals = np.empty(G)
    pessimistic_mixture_values_one(P_hat, counts_sa, reward_sum, greedy, baseline, mu, weissman_log, reward_log,
                                   candidates, vals)
    best = -1
    for j in range(G - 1, -1, -1):
        if candidates[j] <= rho_min or vals[j] >= tau:
            best = j
            break
    if best < 0:
        return 0.0, max(vals[0], _floor(0.0, H, v_low, use_floor))
    lo_r = candidates[best]
    width = uppers[best] - lo_r
    fine = np.empty(n_fine)
    for m in range(n_fine):
        fine[m] = lo_r + width * (m + 1) / (n_fine + 1)
    fvals = np.empty(n_fine)
    pessimistic_mixture_values_one(P_hat, counts_sa, reward_sum, greedy, baseline, mu, weissman_log, reward_log,
                                   fine, fvals)
    for m in range(n_fine - 1, -1, -1):
        if fine[m] <= rho_min or fvals[m] >= tau:
            return fine[m], max(fvals[m], _floor(fine[m], H, v_low, use_floor))
    return lo_r, max(vals[best], _floor(lo_r, H, v_low, use_floor))


@nb.njit(parallel=True, cache=True)
def _search_numba(P_hat, counts_sa, reward_sum, greedy, baseline, mu, weissman_log, reward_log, search, rho, lower):
    tau, rho_min, v_low, use_floor, candidates, uppers, n_fine = search  # unpacked before prange
    for r in nb.prange(rho.shape[0]):
        rho[r], lower[r] = search_mixing_coefficient_one(
            P_hat[r], counts_sa[r], reward_sum[r], greedy[r], baseline, mu, weissman_log, reward_log,
            MixtureSearch(tau, rho_min, v_low, use_floor, candidates, uppers, n_fine))


def _typed_search(search: MixtureSearch) -> MixtureSearch:
    """``search`` with the types the compiled kernels expect (one signature whatever the caller passed)."""
    return MixtureSearch(float(search.tau), float(search.rho_min), float(search.v_low), bool(search.use_floor),
                         np.ascontiguousarray(search.candidates, np.float64),
                         np.ascontiguousarray(search.uppers, np.float64), int(search.n_fine))


def search_mixing_coefficient(counts_sas, counts_sa, reward_sum, greedy, baseline, mu, weissman_log, reward_log,
                              search):
    """Batched :func:`search_mixing_coefficient_one` (compiled): ``(rho (n,), lower_bound (n,))``.

    Counts and ``greedy (n, H, S)`` carry a replicate axis; the rest is shared; ``search`` a :class:`MixtureSearch`.
    """
    n = greedy.shape[0]
    rho = np.empty(n)
    lower = np.empty(n)
    _search_numba(empirical_transitions(counts_sas, counts_sa), counts_sa, reward_sum,
                  np.ascontiguousarray(greedy, np.int64), np.ascontiguousarray(baseline, np.float64),
                  np.ascontiguousarray(mu, np.float64), float(weissman_log), float(reward_log), _typed_search(search),
                  rho, lower)
    return rho, lower


def _floor_reference(xp, rho, H, v_low, use_floor):
    if use_floor:
        return xp.power(1.0 - rho, float(H)) * v_low
    return xp.where(rho == 0.0, v_low, 0.0)


def search_mixing_coefficient_reference(counts_sas, counts_sa, reward_sum, greedy, baseline, mu, weissman_log,
                                        reward_log, search):
    """Twin of :func:`search_mixing_coefficient`, vectorised over replicates (every replicate
    evaluates the whole coarse grid; the answers are the same)."""
    tau, rho_min, v_low, use_floor, candidates, uppers, n_fine = search
    xp = get_namespace(counts_sas)
    n, H, _ = greedy.shape
    args = (counts_sas, counts_sa, reward_sum, greedy, baseline, mu, weissman_log, reward_log)
    onehot = xp.eye(baseline.shape[-1])[greedy]
    v1 = pessimistic_evaluation_reference(counts_sas, counts_sa, reward_sum, onehot, weissman_log,
                                          reward_log)[:, 0] @ mu
    cand = xp.broadcast_to(xp.asarray(candidates), (n, len(candidates)))
    vals = pessimistic_mixture_values_reference(*args, cand)
    feasible = (cand <= rho_min) | (vals >= tau)
    G = cand.shape[1]
    best = G - 1 - xp.argmax(feasible[:, ::-1], axis=1)
    any_feasible = feasible.any(axis=1)
    best = xp.where(any_feasible, best, 0)
    rows = xp.arange(n)
    lo_r = cand[rows, best]
    width = xp.asarray(uppers)[best] - lo_r
    m = xp.arange(1, n_fine + 1)
    fine = lo_r[:, None] + width[:, None] * m[None, :] / (n_fine + 1)
    fvals = pessimistic_mixture_values_reference(*args, fine)
    ffeas = (fine <= rho_min) | (fvals >= tau)
    fbest = n_fine - 1 - xp.argmax(ffeas[:, ::-1], axis=1)
    f_ok = ffeas.any(axis=1)
    rho_f = fine[rows, fbest]
    val_f = fvals[rows, fbest]
    rho = xp.where(f_ok, rho_f, lo_r)
    val = xp.where(f_ok, val_f, vals[rows, best])
    rho = xp.where(any_feasible, rho, 0.0)
    val = xp.where(any_feasible, val, vals[:, 0])
    lower = xp.maximum(val, _floor_reference(xp, rho, H, v_low, use_floor))
    done = v1 >= tau
    return xp.where(done, 1.0, rho), xp.where(done, v1, lower)
