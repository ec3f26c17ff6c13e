"""Compiled hot loops of the reward-free learners (``reward_free.py``), each with a NumPy twin.

Array conventions: features ``phi_sa (S, A, d, S)`` (pair ``(s, a)``'s ``d x S`` matrix ``Phi(s, a)``),
Gram matrices ``G (S, A, S, S) = Phi(s, a)^T Sigma^{-1} Phi(s, a)`` so that ``||phi_V(s, a)||_{Sigma^{-1}}
= sqrt(V^T G[s, a] V)`` costs ``S^2`` (independent of ``d``), "kernels" of a parameter ``theta``:
``Pt (S, A, S) = <phi(.|s, a), theta>`` (not a distribution for an estimated ``theta``), cumulative true
kernel ``cumP (S, A, S)`` for sampling (next state = first ``j`` with ``u < cumP[s, a, j]``), steps
``h = 0..H-1`` (``h = 1..H`` in the paper). Kernels assume validated input.

* :func:`gram` -- ``G`` for all pairs; :func:`factor` -- ``F`` with ``F^T F = G`` (``min(d, S)`` rows), the
  oracle's norms; :func:`mixture_kernels` -- the kernels of the oracle's ``theta`` candidates.
* :func:`home` -- HOME, the high-order moment estimator (thesis Alg. 5, from Zhou & Gu 2022).
* :func:`hf_candidate_dp` / :func:`hf_oracle` -- our tractable oracle for HF-UCRL-RFE++'s line 5
  (backward greedy DP of ``V_hat_{k,h}`` per ``(theta, r)`` candidate; see ``reward_free.py``).
* :func:`hf_episode` -- one HF-UCRL-RFE++ episode: rollout, HOME on both chains, weighted updates.
* :func:`box_max` -- ``max_{v in {0,1}^S} v^T G v`` per pair (UCRL-RFE's pseudo-reward argmax), Gray code.
* :func:`ucrl_plan` -- PLAN (thesis Alg. 1) with a bonus, any value cap.
* :func:`ucrl_episode` -- one UCRL-RFE exploration episode (rollout and unweighted VTR update).
* :func:`random_episodes` -- uniform-random exploration, visit counts only.
* :func:`ucrl_plus_episode` -- one UCRL-RFE+ episode (three regressions, Bernstein weights).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from rltheory.regression import quad_norm, quad_norm_reference, sm_update, sm_update_reference

__all__ = [
    "gram", "gram_reference", "factor", "factor_reference", "mixture_kernels", "mixture_kernels_reference", "home",
    "home_reference", "hf_candidate_dp", "hf_oracle",
    "hf_oracle_reference",
    "hf_episode", "hf_episode_reference", "box_max", "box_max_reference", "ucrl_plan", "ucrl_plan_reference",
    "ucrl_episode", "ucrl_episode_reference", "random_episodes", "random_episodes_reference",
    "ucrl_plus_episode", "ucrl_plus_episode_reference",
]


#: Scores of the oracle (candidates, and actions inside a candidate's DP) closer than this count as ties;
#: the lowest index wins, so rounding cannot make the compiled kernel and its twin choose differently.
TIE_TOL = 1e-12


# ----------------------------------------------------------------------------------------- helpers
@nb.njit(cache=True)
def _clip01(x):
    return 0.0 if x < 0.0 else (1.0 if x > 1.0 else x)


@nb.njit(cache=True)
def _next_state(cumP, s, a, u):
    S = cumP.shape[2]
    for j in range(S):
        if u < cumP[s, a, j]:
            return j
    return S - 1


def _next_state_reference(cumP, s, a, u):
    return min(int(np.searchsorted(cumP[s, a], u, side="right")), cumP.shape[2] - 1)


@nb.njit(cache=True)
def _quad(G, V):
    S = V.shape[0]
    q = 0.0
    for i in range(S):
        vi = V[i]
        if vi == 0.0:
            continue
        acc = 0.0
        for j in range(S):
            acc += G[i, j] * V[j]
        q += vi * acc
    return np.sqrt(q) if q > 0.0 else 0.0


# ----------------------------------------------------------------------------------------- Gram
@nb.njit(cache=True)
def gram(phi_sa, Sinv):
    """``G[s, a] = Phi(s, a)^T Sinv Phi(s, a)``: ``(S, A, d, S), (d, d) -> (S, A, S, S)``."""
    S, A, d, S2 = phi_sa.shape
    G = np.empty((S, A, S2, S2))
    T = np.empty((d, S2))
    for s in range(S):
        for a in range(A):
            F = phi_sa[s, a]
            for i in range(d):
                for j in range(S2):
                    acc = 0.0
                    for k in range(d):
                        acc += Sinv[i, k] * F[k, j]
                    T[i, j] = acc
            for u in range(S2):
                for v in range(S2):
                    acc = 0.0
                    for k in range(d):
                        acc += F[k, u] * T[k, v]
                    G[s, a, u, v] = acc
    return G


def gram_reference(phi_sa, Sinv):
    return np.einsum("saku,kl,salv->sauv", phi_sa, Sinv, phi_sa)


@nb.njit(cache=True, error_model="numpy")
def _householder_r(B):
    """In place over the last axis (one matrix per lane ``p``, the loops vectorise across lanes): the upper
    triangle of ``B[:, :, p] (n, m)``, ``n > m``, becomes ``R (m, m)`` of ``B = Q R`` (Householder reflections,
    so ``R^T R = B^T B``); entries below it are left undefined. Column ``k``'s reflection maps ``x = B[k:, k]``
    onto ``alpha e_k`` with ``alpha = -sign(x_k) ||x||`` (no cancellation); a column with nothing left
    (``||x|| = 0``, rank-deficient ``B``) is left as it is."""
    n, m, P = B.shape
    uP = np.uint64(P)                                   # unsigned lane index: no wrap-around select
    alpha = np.empty(P)
    vk = np.empty(P)
    vv = np.empty(P)
    f = np.empty(P)
    for k in range(m):
        for p in range(uP):
            vv[p] = 0.0                                     # the squared norm of x below its first entry
        for i in range(k + 1, n):
            for p in range(uP):
                vv[p] += B[i, k, p] * B[i, k, p]
        for p in range(uP):
            x = B[k, k, p]
            nrm = np.sqrt(x * x + vv[p])
            al = -nrm if x >= 0.0 else nrm
            alpha[p] = al
            vk[p] = x - al                                  # v = x - alpha e_k
            vv[p] = (x - al) * (x - al) + vv[p]             # ||v||^2
        for j in range(k + 1, m):
            for p in range(uP):
                f[p] = vk[p] * B[k, j, p]
            for i in range(k + 1, n):
                for p in range(uP):
                    f[p] += B[i, k, p] * B[i, j, p]
            for p in range(uP):
                f[p] = 2.0 * f[p] / vv[p] if vv[p] > 0.0 else 0.0
                B[k, j, p] -= f[p] * vk[p]
            for i in range(k + 1, n):
                for p in range(uP):
                    B[i, j, p] -= f[p] * B[i, k, p]
        for p in range(uP):
            B[k, k, p] = alpha[p]


@nb.njit(cache=True, error_model="numpy")
def factor(phi_sa, Sinv):
    """``F (S, A, r, S)`` with ``F[s, a]^T F[s, a] = G[s, a]``, ``r = min(d, S)``: ``||phi_V(s, a)||_{Sinv} =
    ||F[s, a] V||`` costs ``r S`` instead of ``S^2``. With ``Sinv = C C^T`` (Cholesky), ``B = C^T Phi(s, a)``
    ``(d, S)`` has ``B^T B = G``: ``F = B`` when ``d <= S``, else ``F = R`` of the QR factorisation ``B = Q R``
    (:func:`_householder_r`; ``G`` may be singular, which a Cholesky factorisation of ``G`` would not survive).
    All pairs at once, pair index innermost (the loops vectorise across pairs)."""
    S, A, d, S2 = phi_sa.shape
    P = S * A
    uP = np.uint64(P)
    C = np.linalg.cholesky(Sinv)
    Phi = np.empty((d, S2, P))
    for s in range(S):
        for a in range(A):
            for k in range(d):
                for j in range(S2):
                    Phi[k, j, s * A + a] = phi_sa[s, a, k, j]
    B = np.zeros((d, S2, P))
    for i in range(d):
        for k in range(i, d):                               # C^T[i, k] = C[k, i], zero for k < i
            c = C[k, i]
            for j in range(S2):
                for p in range(uP):
                    B[i, j, p] += c * Phi[k, j, p]
    if d > S2:
        _householder_r(B)
    r = min(d, S2)
    F = np.empty((S, A, r, S2))
    for s in range(S):
        for a in range(A):
            for i in range(r):
                for j in range(S2):
                    F[s, a, i, j] = B[i, j, s * A + a] if (d <= S2 or j >= i) else 0.0
    return F


def factor_reference(phi_sa, Sinv):
    S, A, d, S2 = phi_sa.shape
    B = np.einsum("ki,sakj->saij", np.linalg.cholesky(Sinv), phi_sa)
    return B if d <= S2 else np.linalg.qr(B, mode="r")


@nb.njit(cache=True)
def mixture_kernels(phi_sa, thetas):
    """``Pts[t, s, a, j] = sum_i phi_sa[s, a, i, j] thetas[t, i]``: ``(S, A, d, S), (n, d) -> (n, S, A, S)``, the
    kernels ``<phi(j | s, a), theta_t>`` of the oracle's candidates, summed over ``i`` in order."""
    S, A, d, S2 = phi_sa.shape
    n = thetas.shape[0]
    P = np.empty((n, S, A, S2))
    for t in range(n):
        for s in range(S):
            for a in range(A):
                for j in range(S2):
                    acc = 0.0
                    for i in range(d):
                        acc += phi_sa[s, a, i, j] * thetas[t, i]
                    P[t, s, a, j] = acc
    return P


def mixture_kernels_reference(phi_sa, thetas):
    return np.einsum("saij,ti->tsaj", phi_sa, thetas)


@nb.njit(cache=True, inline="always")
def _fnorm_at(F, s, a, V):
    """``||F[s, a] V||_2`` for ``F (S, A, r, S)``, ``V (S,)``, indexed in place (a view per pair costs more than the
    ``r S`` products it feeds)."""
    q = 0.0
    for i in range(F.shape[2]):
        acc = 0.0
        for j in range(F.shape[3]):
            acc += F[s, a, i, j] * V[j]
        q += acc * acc
    return np.sqrt(q)


# ----------------------------------------------------------------------------------------- HOME
@nb.njit(cache=True)
def home(phis, thetas, Sinv_run, Sinv_frz, beta, alpha, gamma, out):
    """HOME (thesis Alg. 5): variances ``out (M,)`` for features ``phis (M, d)`` of ``V^{2^m}``.

    For ``m < M-1``: ``Vbar = [<phi_{m+1}, theta_{m+1}>]_[0,1] - [<phi_m, theta_m>]_[0,1]^2``,
    ``E = min(1, 2 beta ||phi_m||_{frz_m}) + min(1, beta ||phi_{m+1}||_{frz_{m+1}})`` and
    ``sigma^2_m = max(gamma^2 ||phi_m||_{run_m}, Vbar + E, alpha^2)``; the top level uses the variance
    bound 1: ``sigma^2_{M-1} = max(gamma^2 ||phi_{M-1}||_{run}, 1, alpha^2)``. ``run`` is the running
    (within-episode) inverse covariance, ``frz`` the one frozen at the episode start.
    """
    M = phis.shape[0]
    g2 = gamma * gamma
    a2 = alpha * alpha
    for m in range(M - 1):
        p1 = 0.0
        p0 = 0.0
        for i in range(phis.shape[1]):
            p1 += phis[m + 1, i] * thetas[m + 1, i]
            p0 += phis[m, i] * thetas[m, i]
        c0 = _clip01(p0)
        vbar = _clip01(p1) - c0 * c0
        e = min(1.0, 2.0 * beta * quad_norm(Sinv_frz[m], phis[m])) + min(1.0, beta * quad_norm(Sinv_frz[m + 1],
                                                                                             phis[m + 1]))
        out[m] = max(g2 * quad_norm(Sinv_run[m], phis[m]), vbar + e, a2)
    out[M - 1] = max(g2 * quad_norm(Sinv_run[M - 1], phis[M - 1]), 1.0, a2)


def home_reference(phis, thetas, Sinv_run, Sinv_frz, beta, alpha, gamma):
    """NumPy twin of :func:`home`; returns ``sigma^2 (M,)``."""
    M = phis.shape[0]
    preds = np.clip(np.sum(phis * thetas, axis=1), 0.0, 1.0)
    norm_run = np.array([quad_norm_reference(Sinv_run[m], phis[m]) for m in range(M)])
    norm_frz = np.array([quad_norm_reference(Sinv_frz[m], phis[m]) for m in range(M)])
    out = np.empty(M)
    vbar = preds[1:] - preds[:-1] ** 2
    e = np.minimum(1.0, 2 * beta * norm_frz[:-1]) + np.minimum(1.0, beta * norm_frz[1:])
    out[:-1] = np.maximum(np.maximum(gamma ** 2 * norm_run[:-1], vbar + e), alpha ** 2)
    out[-1] = max(gamma ** 2 * norm_run[-1], 1.0, alpha ** 2)
    return out


# ----------------------------------------------------------------------------------------- HF oracle
@nb.njit(cache=True)
def hf_candidate_dp(Pt, Fhat, Ftil, r, beta, H, s1, pi, Vt, Vh):
    """Backward greedy DP of one ``(theta, r)`` candidate; fills ``pi (H, S)``, ``Vt, Vh (H+1, S)``.

    ``Vt_h(s) = [r(s, pi_h(s)) + <phi_{Vt_{h+1}}, theta>]_[0,1]`` (the candidate's value, clipped), and
    ``Vh_h(s) = [u_h(s, a) + 2 beta ||phi_{Vh_{h+1}}||_{hat} + <phi_{Vh_{h+1}}, theta>]_[0,1]`` at
    ``a = pi_h(s) = argmax_a`` of the bracket (eq. 2.6.2), with ``u_h = min(1, beta ||phi_{Vt_{h+1}}||_{til})``
    (eq. 2.6.1, index ``h+1`` reconstructed). Returns ``(Vh_1(s1), unclipped score at (1, s1), n saturated)``.
    """
    S, A = r.shape
    for s in range(S):
        Vt[H, s] = 0.0
        Vh[H, s] = 0.0
    raw1 = 0.0
    n_sat = 0
    scores = np.empty(A)
    qs = np.empty(A)
    for h in range(H - 1, -1, -1):
        vt = Vt[h + 1]
        vh = Vh[h + 1]
        for s in range(S):
            top = -np.inf
            for a in range(A):
                pt = 0.0
                ph = 0.0
                for j in range(S):
                    pt += Pt[s, a, j] * vt[j]
                    ph += Pt[s, a, j] * vh[j]
                u = min(1.0, beta * _fnorm_at(Ftil, s, a, vt))
                scores[a] = u + 2.0 * beta * _fnorm_at(Fhat, s, a, vh) + ph
                qs[a] = r[s, a] + pt
                top = max(top, scores[a])
            best_a = 0
            while scores[best_a] < top - TIE_TOL:          # lowest action within TIE_TOL of the best
                best_a += 1
            best = scores[best_a]
            best_q = qs[best_a]
            pi[h, s] = best_a
            Vh[h, s] = _clip01(best)
            Vt[h, s] = _clip01(best_q)
            if best >= 1.0:
                n_sat += 1
            if h == 0 and s == s1:
                raw1 = best
    return Vh[0, s1], raw1, n_sat


@nb.njit(cache=True, error_model="numpy")
def _candidate_dp_3(PT, FhT, FtT, r, beta, H, s1, pi, Vt, Vh, scores):
    """:func:`hf_candidate_dp` for ``S = 3``, bit for bit, on action-major layouts: ``PT (3, 3, A)`` =
    ``Pt[s, a, j]`` at ``[s, j, a]``, ``FhT, FtT (3, 3, 3, A)`` = ``F[s, a, i, j]`` at ``[s, i, j, a]`` (rows
    ``i >= r`` zero), ``scores (A,)`` scratch.

    The hard instance of Thm 2.6.8 has three states and ``2^(d-1)`` actions: with the three-term sums
    written out, the loop over actions vectorises (each action's sums keep :func:`hf_candidate_dp`'s order, a
    zero row adds ``+0.0`` to a non-negative sum, and ``<phi_{Vt}, theta>`` is formed at the chosen action only,
    the one place it is read), about 4x faster than the per-action loop at 256 actions.
    """
    A = PT.shape[2]
    uA = np.uint64(A)                                   # an unsigned index: no wrap-around select, the loop vectorises
    for s in range(3):
        Vt[H, s] = 0.0
        Vh[H, s] = 0.0
    raw1 = 0.0
    n_sat = 0
    for h in range(H - 1, -1, -1):
        t0, t1, t2 = Vt[h + 1, 0], Vt[h + 1, 1], Vt[h + 1, 2]
        h0, h1, h2 = Vh[h + 1, 0], Vh[h + 1, 1], Vh[h + 1, 2]
        for s in range(3):
            for a in range(uA):
                ph = 0.0
                ph += PT[s, 0, a] * h0
                ph += PT[s, 1, a] * h1
                ph += PT[s, 2, a] * h2
                nt = 0.0
                nh = 0.0
                for i in range(3):
                    y = 0.0
                    y += FtT[s, i, 0, a] * t0
                    y += FtT[s, i, 1, a] * t1
                    y += FtT[s, i, 2, a] * t2
                    nt += y * y
                    z = 0.0
                    z += FhT[s, i, 0, a] * h0
                    z += FhT[s, i, 1, a] * h1
                    z += FhT[s, i, 2, a] * h2
                    nh += z * z
                u = min(1.0, beta * np.sqrt(nt))
                scores[a] = u + 2.0 * beta * np.sqrt(nh) + ph
            top = -np.inf
            for a in range(A):
                top = max(top, scores[a])
            best_a = 0
            while scores[best_a] < top - TIE_TOL:          # lowest action within TIE_TOL of the best
                best_a += 1
            best = scores[best_a]
            pt = 0.0
            pt += PT[s, 0, best_a] * t0
            pt += PT[s, 1, best_a] * t1
            pt += PT[s, 2, best_a] * t2
            pi[h, s] = best_a
            Vh[h, s] = _clip01(best)
            Vt[h, s] = _clip01(r[s, best_a] + pt)
            if best >= 1.0:
                n_sat += 1
            if h == 0 and s == s1:
                raw1 = best
    return Vh[0, s1], raw1, n_sat


@nb.njit(cache=True)
def _action_major(Pts, Fhat, Ftil):
    """``PT (n_t, S, S, A)``, ``FhT, FtT (S, 3, S, A)`` of :func:`_candidate_dp_3` (rows ``i >= r`` zero)."""
    n_t, S, A, _ = Pts.shape
    R = Fhat.shape[2]
    PT = np.empty((n_t, S, S, A))
    FhT = np.zeros((S, 3, S, A))
    FtT = np.zeros((S, 3, S, A))
    for s in range(S):
        for a in range(A):
            for j in range(S):
                for t in range(n_t):
                    PT[t, s, j, a] = Pts[t, s, a, j]
                for i in range(R):
                    FhT[s, i, j, a] = Fhat[s, a, i, j]
                    FtT[s, i, j, a] = Ftil[s, a, i, j]
    return PT, FhT, FtT


@nb.njit(cache=True)
def hf_oracle(Pts, Fhat, Ftil, rewards, beta, H, s1, fused=True):
    """Our oracle: the best ``(theta, r)`` pair by ``Vh_1(s1)`` (ties: larger unclipped score, then lower index).

    Values within :data:`TIE_TOL` count as ties (so rounding cannot make the compiled kernel and its twin
    pick different candidates).

    ``Pts (n_theta, S, A, S)``, ``Fhat, Ftil (S, A, r, S)`` (:func:`factor` of the frozen hat / tilde
    inverse covariances), ``rewards (n_r, S, A)``. Returns ``(t, j, pi, Vt, Vh, saturation)`` of the
    chosen candidate, ``saturation`` = fraction of its ``H S`` entries of ``Vh`` clipped at 1. Three-state
    models take :func:`_candidate_dp_3` (bit for bit the same; ``fused=False`` forces the general loop).
    """
    n_t = Pts.shape[0]
    n_r, S, A = rewards.shape
    fast = fused and S == 3
    if fast:
        PT, FhT, FtT = _action_major(Pts, Fhat, Ftil)
    else:
        PT, FhT, FtT = np.empty((n_t, 0, 0, 0)), np.empty((0, 0, 0, 0)), np.empty((0, 0, 0, 0))
    scores = np.empty(A)
    pi = np.zeros((H, S), dtype=np.int64)
    Vt = np.zeros((H + 1, S))
    Vh = np.zeros((H + 1, S))
    best_pi = np.zeros((H, S), dtype=np.int64)
    best_Vt = np.zeros((H + 1, S))
    best_Vh = np.zeros((H + 1, S))
    best_v = -1.0
    best_raw = -np.inf
    bt = 0
    bj = 0
    best_sat = 0
    for t in range(n_t):
        for j in range(n_r):
            if fast:
                v, raw, n_sat = _candidate_dp_3(PT[t], FhT, FtT, rewards[j], beta, H, s1, pi, Vt, Vh, scores)
            else:
                v, raw, n_sat = hf_candidate_dp(Pts[t], Fhat, Ftil, rewards[j], beta, H, s1, pi, Vt, Vh)
            if v > best_v + TIE_TOL or (v >= best_v - TIE_TOL and raw > best_raw + TIE_TOL):
                best_v = v
                best_raw = raw
                bt = t
                bj = j
                best_sat = n_sat
                best_pi[:] = pi
                best_Vt[:] = Vt
                best_Vh[:] = Vh
    return bt, bj, best_pi, best_Vt, best_Vh, best_sat / (H * S)


def hf_oracle_reference(Pts, Fhat, Ftil, rewards, beta, H, s1):
    """NumPy twin of :func:`hf_oracle`, vectorised over all ``(theta, r)`` candidates."""
    n_t = Pts.shape[0]
    n_r, S, A = rewards.shape
    Vt = np.zeros((H + 1, n_t, n_r, S))
    Vh = np.zeros((H + 1, n_t, n_r, S))
    pi = np.zeros((H, n_t, n_r, S), dtype=np.int64)
    raw_all = np.zeros((H, n_t, n_r, S))
    for h in range(H - 1, -1, -1):
        vt, vh = Vt[h + 1], Vh[h + 1]
        pt = np.einsum("tsaj,trj->trsa", Pts, vt)
        ph = np.einsum("tsaj,trj->trsa", Pts, vh)
        qt = np.linalg.norm(np.einsum("saij,trj->trsai", Ftil, vt), axis=-1)
        qh = np.linalg.norm(np.einsum("saij,trj->trsai", Fhat, vh), axis=-1)
        score = np.minimum(1.0, beta * qt) + 2.0 * beta * qh + ph
        a = np.argmax(score >= score.max(axis=-1, keepdims=True) - TIE_TOL, axis=-1)
        pi[h] = a
        best = np.take_along_axis(score, a[..., None], -1)[..., 0]
        q = (rewards[None] + pt)
        raw_all[h] = best
        Vh[h] = np.clip(best, 0.0, 1.0)
        Vt[h] = np.clip(np.take_along_axis(q, a[..., None], -1)[..., 0], 0.0, 1.0)
    v = Vh[0, :, :, s1].ravel()
    raw = raw_all[0, :, :, s1].ravel()
    best, best_v, best_raw = 0, -1.0, -np.inf
    for i in range(v.size):                 # the kernel's sequential rule, tolerance included
        if v[i] > best_v + TIE_TOL or (v[i] >= best_v - TIE_TOL and raw[i] > best_raw + TIE_TOL):
            best, best_v, best_raw = i, v[i], raw[i]
    t, j = divmod(best, n_r)
    sat = float(np.sum(raw_all[:, t, j] >= 1.0)) / (H * S)
    return t, j, pi[:, t, j].copy(), Vt[:, t, j].copy(), Vh[:, t, j].copy(), sat


# ----------------------------------------------------------------------------------------- HF episode
@nb.njit(cache=True)
def hf_episode(phi_sa, cumP, s1, pi, Vh, Vt, uniforms, thetas, Sinv_run, Sinv_frz, Sigma, b, beta, alpha, gamma):
    """One HF-UCRL-RFE++ exploration episode (thesis Alg. 4, lines 6-13), in place.

    Chains ``c = 0`` (hat: targets ``Vh``) and ``c = 1`` (tilde: targets ``Vt``); per chain and level ``m``:
    ``thetas (2, M, d)`` (estimates frozen at the episode start), ``Sinv_run (2, M, d, d)`` (running
    inverse covariances), ``Sinv_frz`` (frozen copies), ``Sigma (2, M, d, d)`` and ``b (2, M, d)`` (sums).
    At step ``h`` the features are ``phi_m = phi_{V_{h+1}^{2^m}}(s_h, a_h)``, targets ``V_{h+1}^{2^m}(s_{h+1})``,
    variances from :func:`home`; ``Sigma += phi phi^T / sigma^2``, ``b += phi y / sigma^2``.
    Returns the number of (step, chain) pairs whose level-0 variance sits at the floor ``alpha^2``.
    """
    S, A, d, _ = phi_sa.shape
    H = pi.shape[0]
    M = thetas.shape[1]
    phis = np.empty((M, d))
    ys = np.empty(M)
    sig2 = np.empty(M)
    Vpow = np.empty(S)
    s = s1
    n_floor = 0
    a2 = alpha * alpha
    for h in range(H):
        a = pi[h, s]
        sn = _next_state(cumP, s, a, uniforms[h])
        F = phi_sa[s, a]
        for c in range(2):
            for j in range(S):
                Vpow[j] = Vh[h + 1, j] if c == 0 else Vt[h + 1, j]
            for m in range(M):
                for i in range(d):
                    acc = 0.0
                    for j in range(S):
                        acc += F[i, j] * Vpow[j]
                    phis[m, i] = acc
                ys[m] = Vpow[sn]
                for j in range(S):
                    Vpow[j] = Vpow[j] * Vpow[j]
            home(phis, thetas[c], Sinv_run[c], Sinv_frz[c], beta, alpha, gamma, sig2)
            if sig2[0] == a2:
                n_floor += 1
            for m in range(M):
                w = 1.0 / sig2[m]
                sm_update(Sinv_run[c, m], phis[m], w)
                for i in range(d):
                    b[c, m, i] += w * ys[m] * phis[m, i]
                    for k in range(d):
                        Sigma[c, m, i, k] += w * phis[m, i] * phis[m, k]
        s = sn
    return n_floor


def hf_episode_reference(phi_sa, cumP, s1, pi, Vh, Vt, uniforms, thetas, Sinv_run, Sinv_frz, Sigma, b, beta, alpha,
                         gamma):
    """NumPy twin of :func:`hf_episode` (same in-place contract)."""
    H = pi.shape[0]
    M = thetas.shape[1]
    s = s1
    n_floor = 0
    for h in range(H):
        a = int(pi[h, s])
        sn = _next_state_reference(cumP, s, a, uniforms[h])
        for c, V in enumerate((Vh, Vt)):
            powers = V[h + 1][None, :] ** (2.0 ** np.arange(M))[:, None]     # (M, S)
            phis = powers @ phi_sa[s, a].T                                    # (M, d)
            ys = powers[:, sn]
            sig2 = home_reference(phis, thetas[c], Sinv_run[c], Sinv_frz[c], beta, alpha, gamma)
            n_floor += int(sig2[0] == alpha ** 2)
            for m in range(M):
                w = 1.0 / sig2[m]
                Sinv_run[c, m], _ = sm_update_reference(Sinv_run[c, m], phis[m], w)
                b[c, m] += w * ys[m] * phis[m]
                Sigma[c, m] += w * np.outer(phis[m], phis[m])
        s = sn
    return n_floor


# ----------------------------------------------------------------------------------------- UCRL-RFE
@nb.njit(cache=True)
def box_max(G):
    """``max_{v in {0,1}^S} v^T G[s, a] v`` and a maximiser, per pair (Gray-code walk over ``2^S`` vertices).

    The objective is convex in ``v`` so its maximum over the box ``[0, 1]^S`` is at a vertex; ties go to
    the first vertex in Gray-code order. Returns ``(value (S, A), vstar (S, A, S))``.
    """
    S, A, S2, _ = G.shape
    val = np.zeros((S, A))
    vstar = np.zeros((S, A, S2))
    v = np.zeros(S2)
    Gv = np.zeros(S2)
    for s in range(S):
        for a in range(A):
            Gm = G[s, a]
            for j in range(S2):
                v[j] = 0.0
                Gv[j] = 0.0
            q = 0.0
            best = 0.0
            for t in range(1, 2 ** S2):
                # flip bit = index of the lowest set bit of t
                k = 0
                while ((t >> k) & 1) == 0:
                    k += 1
                delta = 1.0 - 2.0 * v[k]
                # q' = q + 2 delta (Gv)_k + delta^2 G_kk
                q += 2.0 * delta * Gv[k] + Gm[k, k]
                v[k] += delta
                for j in range(S2):
                    Gv[j] += delta * Gm[j, k]
                if q > best:
                    best = q
                    for j in range(S2):
                        vstar[s, a, j] = v[j]
            val[s, a] = best
    return val, vstar


def box_max_reference(G):
    """NumPy twin of :func:`box_max` (vertices enumerated in Gray-code order)."""
    S, A, S2, _ = G.shape
    t = np.arange(2 ** S2)
    gray = t ^ (t >> 1)
    bits = ((gray[:, None] >> np.arange(S2)[None, :]) & 1).astype(np.float64)    # (2^S, S)
    q = np.einsum("vi,saij,vj->sav", bits, G, bits)
    idx = np.argmax(q, axis=-1)
    val = np.take_along_axis(q, idx[..., None], -1)[..., 0]
    vstar = bits[idx]
    vstar[val <= 0.0] = 0.0
    return np.maximum(val, 0.0), vstar


@nb.njit(cache=True)
def ucrl_plan(Pt, G, r, bonus, vmax):
    """PLAN (thesis Alg. 1): ``Q_h = [r_h + <phi_{V_{h+1}}, theta> + bonus ||phi_{V_{h+1}}||]_[0, vmax]``.

    ``Pt (S, A, S)``, ``G (S, A, S, S)``, ``r (H, S, A)``; returns ``(pi (H, S), V (H+1, S), Q (H, S, A))``,
    greedy ties to the lowest action.
    """
    H, S, A = r.shape
    V = np.zeros((H + 1, S))
    Q = np.zeros((H, S, A))
    pi = np.zeros((H, S), dtype=np.int64)
    for h in range(H - 1, -1, -1):
        v = V[h + 1]
        for s in range(S):
            best = -np.inf
            for a in range(A):
                p = 0.0
                for j in range(S):
                    p += Pt[s, a, j] * v[j]
                q = r[h, s, a] + p + (bonus * _quad(G[s, a], v) if bonus > 0.0 else 0.0)
                q = 0.0 if q < 0.0 else (vmax if q > vmax else q)
                Q[h, s, a] = q
                if q > best:
                    best = q
                    pi[h, s] = a
            V[h, s] = best
    return pi, V, Q


def ucrl_plan_reference(Pt, G, r, bonus, vmax):
    H, S, A = r.shape
    V = np.zeros((H + 1, S))
    Q = np.zeros((H, S, A))
    for h in range(H - 1, -1, -1):
        v = V[h + 1]
        q = r[h] + Pt @ v
        if bonus > 0:
            q = q + bonus * np.sqrt(np.maximum(np.einsum("saij,i,j->sa", G, v, v), 0.0))
        Q[h] = np.clip(q, 0.0, vmax)
        V[h] = Q[h].max(axis=1)
    return np.argmax(Q, axis=2), V, Q


@nb.njit(cache=True)
def ucrl_episode(phi_sa, cumP, s1, pi, vstar, uniforms, Sinv, Sigma, b):
    """One UCRL-RFE exploration episode (thesis Alg. 2), in place.

    At step ``h`` (0-based) the pseudo value target is ``u = (H - h - 1) vstar[s_h, a_h]`` (the box vertex
    maximising ``||phi_f||_{Sigma_k^{-1}}`` over ``f: S -> [0, H-h]``, 1-based ``h``); ``Sigma += phi_u phi_u^T``,
    ``b += phi_u u(s_{h+1})``, ``Sinv`` by Sherman-Morrison.
    """
    S, A, d, _ = phi_sa.shape
    H = pi.shape[0]
    x = np.empty(d)
    s = s1
    for h in range(H):
        a = pi[h, s]
        sn = _next_state(cumP, s, a, uniforms[h])
        scale = H - h - 1.0
        F = phi_sa[s, a]
        for i in range(d):
            acc = 0.0
            for j in range(S):
                acc += F[i, j] * vstar[s, a, j]
            x[i] = scale * acc
        y = scale * vstar[s, a, sn]
        sm_update(Sinv, x, 1.0)
        for i in range(d):
            b[i] += x[i] * y
            for k in range(d):
                Sigma[i, k] += x[i] * x[k]
        s = sn


def ucrl_episode_reference(phi_sa, cumP, s1, pi, vstar, uniforms, Sinv, Sigma, b):
    H = pi.shape[0]
    s = s1
    for h in range(H):
        a = int(pi[h, s])
        sn = _next_state_reference(cumP, s, a, uniforms[h])
        scale = H - h - 1.0
        x = scale * (phi_sa[s, a] @ vstar[s, a])
        Sinv[:], _ = sm_update_reference(Sinv, x, 1.0)
        b += x * scale * vstar[s, a, sn]
        Sigma += np.outer(x, x)
        s = sn


# ----------------------------------------------------------------------------------------- random
@nb.njit(cache=True)
def random_episodes(cumP, s1, uniforms, counts_sas):
    """Uniform-random exploration: ``uniforms (n, H, 2)`` (action, next state) -> ``counts_sas += visits``."""
    S, A, _ = cumP.shape
    n, H, _ = uniforms.shape
    for e in range(n):
        s = s1
        for h in range(H):
            a = min(int(uniforms[e, h, 0] * A), A - 1)
            sn = _next_state(cumP, s, a, uniforms[e, h, 1])
            counts_sas[s, a, sn] += 1.0
            s = sn


def random_episodes_reference(cumP, s1, uniforms, counts_sas):
    S, A, _ = cumP.shape
    n, H, _ = uniforms.shape
    for e in range(n):
        s = s1
        for h in range(H):
            a = min(int(uniforms[e, h, 0] * A), A - 1)
            sn = _next_state_reference(cumP, s, a, uniforms[e, h, 1])
            counts_sas[s, a, sn] += 1.0
            s = sn


# ----------------------------------------------------------------------------------------- UCRL-RFE+
@nb.njit(cache=True)
def _add(Sinv, Sigma, b, x, y, w):
    sm_update(Sinv, x, w)
    d = x.shape[0]
    for i in range(d):
        b[i] += w * x[i] * y
        for k in range(d):
            Sigma[i, k] += w * x[i] * x[k]


@nb.njit(cache=True)
def ucrl_plus_episode(phi_sa, cumP, s1, pi, V, vstar, uniforms, theta_hat, theta_til, Sinv_hat_frz, Sinv_til_frz,
                      u_state, hat_state, til_state, alpha, beta_check, beta_tilde):
    """One UCRL-RFE+ exploration episode (thesis Alg. 3), in place.

    ``V (H+1, S)``: the exploration values (PLAN with the pseudo-reward, scale ``[0, H]``). Three
    regressions, each a tuple ``(Sinv, Sigma, b)``: ``u_state`` (pseudo value targets, as UCRL-RFE),
    ``hat_state`` (weighted: ``phi_V``, ``V(s')``, weight ``1 / nu``), ``til_state`` (unweighted: ``phi_{V^2}``,
    ``V(s')^2``). ``nu = max(alpha, Vbar + E)`` with ``Vbar = [<phi_{V^2}, theta_til>]_[0,H^2] -
    [<phi_V, theta_hat>]_[0,H]^2`` and ``E = min(H^2, beta_tilde ||phi_{V^2}||_{til}) + min(H^2, 2 H beta_check
    ||phi_V||_{hat})`` under the covariances frozen at the episode start. Returns the mean of ``nu``.
    """
    S, A, d, _ = phi_sa.shape
    H = pi.shape[0]
    x = np.empty(d)
    x1 = np.empty(d)
    x2 = np.empty(d)
    s = s1
    H2 = float(H) * H
    nu_sum = 0.0
    for h in range(H):
        a = pi[h, s]
        sn = _next_state(cumP, s, a, uniforms[h])
        scale = H - h - 1.0
        F = phi_sa[s, a]
        for i in range(d):
            acc = 0.0
            acc1 = 0.0
            acc2 = 0.0
            for j in range(S):
                acc += F[i, j] * vstar[s, a, j]
                acc1 += F[i, j] * V[h + 1, j]
                acc2 += F[i, j] * V[h + 1, j] * V[h + 1, j]
            x[i] = scale * acc
            x1[i] = acc1
            x2[i] = acc2
        _add(u_state[0], u_state[1], u_state[2], x, scale * vstar[s, a, sn], 1.0)
        p1 = 0.0
        p2 = 0.0
        for i in range(d):
            p1 += x1[i] * theta_hat[i]
            p2 += x2[i] * theta_til[i]
        p1 = min(max(p1, 0.0), float(H))
        p2 = min(max(p2, 0.0), H2)
        e = min(H2, beta_tilde * quad_norm(Sinv_til_frz, x2)) + min(H2, 2.0 * H * beta_check
                                                                      * quad_norm(Sinv_hat_frz, x1))
        nu = max(alpha, p2 - p1 * p1 + e)
        nu_sum += nu
        y = V[h + 1, sn]
        _add(hat_state[0], hat_state[1], hat_state[2], x1, y, 1.0 / nu)
        _add(til_state[0], til_state[1], til_state[2], x2, y * y, 1.0)
        s = sn
    return nu_sum / H


def _add_reference(state, x, y, w):
    Sinv, Sigma, b = state
    Sinv[:], _ = sm_update_reference(Sinv, x, w)
    Sigma += w * np.outer(x, x)
    b += w * y * x


def ucrl_plus_episode_reference(phi_sa, cumP, s1, pi, V, vstar, uniforms, theta_hat, theta_til, Sinv_hat_frz,
                                Sinv_til_frz, u_state, hat_state, til_state, alpha, beta_check, beta_tilde):
    H = pi.shape[0]
    s = s1
    nus = []
    for h in range(H):
        a = int(pi[h, s])
        sn = _next_state_reference(cumP, s, a, uniforms[h])
        scale = H - h - 1.0
        F = phi_sa[s, a]
        x, x1, x2 = scale * (F @ vstar[s, a]), F @ V[h + 1], F @ (V[h + 1] ** 2)
        _add_reference(u_state, x, scale * vstar[s, a, sn], 1.0)
        p1 = np.clip(x1 @ theta_hat, 0.0, H)
        p2 = np.clip(x2 @ theta_til, 0.0, H * H)
        e = (min(H * H, beta_tilde * quad_norm_reference(Sinv_til_frz, x2))
             + min(H * H, 2.0 * H * beta_check * quad_norm_reference(Sinv_hat_frz, x1)))
        nu = max(alpha, p2 - p1 ** 2 + e)
        nus.append(nu)
        y = V[h + 1, sn]
        _add_reference(hat_state, x1, y, 1.0 / nu)
        _add_reference(til_state, x2, y * y, 1.0)
        s = sn
    return float(np.mean(nus))
