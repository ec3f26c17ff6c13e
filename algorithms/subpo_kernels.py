"""SubPO's compiled epoch kernel and its NumPy reference twin.

One epoch of SubPO for every replicate at once: sample ``B`` trajectories from the current softmax policy,
compute the marginal gains incrementally from a covered vector per trajectory, turn them into per-step
returns (gain to go, myopic gain, or the official code's prefix value), subtract a baseline, and scatter
``grad log pi(a_h | x_h) * (return - baseline)`` into the gradient; or, for the natural policy gradient,
accumulate the tabular advantages ``Q_h(s, a) - V_h(s)``. The optimiser step is a second small kernel.

Shapes (``R`` replicates, ``B`` batch, ``T = H - 1`` moves, ``S`` states, ``A`` actions, ``J`` coverage columns,
``Kf`` history features, ``Kc`` nonzeros per coverage row, ``K`` successors per row, ``Hp`` in ``{1, T}``):

* ``u`` ``(R, B, 2H - 1)`` uniforms: ``u[..., 0]`` start state, ``u[..., 1 + 2h]`` action ``h``,
  ``u[..., 2 + 2h]`` next state of move ``h``;
* ``theta`` ``(R, T, S, A)`` tabular logits, ``W`` ``(R, A, Kf)`` history weights: the policy is
  ``pi(a | s_h, h, tau_{0:h}) ∝ exp(theta[h, s_h, a] + sum_k W[a, k] m_h[feats[s_h, k]])`` where ``m_h (J,)`` is the
  covered vector of the prefix (``feats = -1`` reads 0); ``history = False`` drops the ``W`` term (Markov);
* ``nxt, prob`` ``(Hp, S, A, K)`` successor lists; ``mu`` ``(S,)`` start distribution;
* ``cols, vals`` ``(S, Kc)`` sparse coverage rows (padding column ``-1``), ``weights`` ``(J,)``.

Modes: ``gain_mode`` 0 submodular gains ``F(s_{h+1} | tau_{0:h})``, 1 the modular surrogate of the SRL baseline
``r(s) = sum_j w_j cover[s, j]`` (repeats counted); ``return_mode`` 0 gain to go ``sum_{j >= h} Delta_j``, 1 myopic
``Delta_h``, 2 prefix value ``F(tau_{0:h+1})`` (official code); ``baseline_mode`` 0 leave-one-out batch mean,
1 batch mean (includes the sample itself: scales the expected gradient by ``1 - 1/B``), 2 none. Returns are
multiplied by ``ret_scale`` before the baseline (the official form divides by ``T * MAX_Ret``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["epoch_kernel", "epoch_numpy", "adam_kernel", "adam_numpy", "returns_from_gains", "apply_baseline",
           "scatter_gradient", "tabular_advantage", "policy_probs", "GAIN_MODES", "RETURN_MODES",
           "BASELINE_MODES"]

GAIN_MODES = {"submodular": 0, "modular": 1}
RETURN_MODES = {"gain_to_go": 0, "myopic": 1, "prefix": 2}
BASELINE_MODES = {"leave_one_out": 0, "batch_mean": 1, "none": 2}


# --------------------------------------------------------------------------- compiled
@nb.njit(cache=True, inline="always")
def _pick(cdf_vals, n, u):
    c = 0.0
    for i in range(n):
        c += cdf_vals[i]
        if u < c:
            return i
    return n - 1


@nb.njit(cache=True, inline="always")
def _gather(s, m, feats, fidx, fval):
    """Nonzero history features at ``s``: their columns ``fidx[:n]`` and values ``fval[:n]`` (ascending ``k``)."""
    n = 0
    for k in range(feats.shape[1]):
        f = feats[s, k]
        if f >= 0 and m[f] != 0.0:
            fidx[n] = k
            fval[n] = m[f]
            n += 1
    return n


@nb.njit(cache=True, inline="always")
def _probs_at(theta_r, W_r, h, s, fidx, fval, nf, out):
    """Softmax of ``theta[h, s, :] + W[:, fidx] @ fval`` into ``out (A,)`` (zero features skipped: exact)."""
    A = out.shape[0]
    mx = -np.inf
    for a in range(A):
        z = theta_r[h, s, a]
        for i in range(nf):
            z += W_r[a, fidx[i]] * fval[i]
        out[a] = z
        if z > mx:
            mx = z
    tot = 0.0
    for a in range(A):
        out[a] = np.exp(out[a] - mx)
        tot += out[a]
    for a in range(A):
        out[a] /= tot


@nb.njit(cache=True, inline="always")
def _cover(m, s, cols, vals, weights):
    """Add state ``s`` to the covered vector ``m``; return its marginal gain and its modular surrogate."""
    gain = 0.0
    sur = 0.0
    for k in range(cols.shape[1]):
        j = cols[s, k]
        if j < 0:
            continue
        v = vals[s, k]
        sur += weights[j] * v
        if v > m[j]:
            gain += weights[j] * (v - m[j])
            m[j] = v
    return gain, sur


@nb.njit(cache=True)
def epoch_kernel(u, theta, W, history, mu, nxt, prob, cols, vals, weights, feats, gain_mode, return_mode,
                 baseline_mode, ret_scale, npg, grad_theta, grad_W, objective):
    """One epoch for all replicates (see the module docstring); fills ``grad_theta (R, T, S, A)``,
    ``grad_W (R, A, Kf)`` (zero for NPG, whose ``grad_theta`` holds the advantages) and ``objective (R,)``."""
    R, B = u.shape[0], u.shape[1]
    T, S, A = theta.shape[1], theta.shape[2], theta.shape[3]
    J = weights.shape[0]
    Hp = nxt.shape[0]
    Kf = feats.shape[1]
    K = nxt.shape[3]
    for r in range(R):
        th, Wr = theta[r], W[r]
        states = np.empty((B, T + 1), dtype=np.int64)
        actions = np.empty((B, T), dtype=np.int64)
        probs = np.empty((B, T, A))
        G = np.empty((B, T))
        m = np.zeros(J)
        p = np.empty(A)
        fidx = np.empty(Kf, dtype=np.int64)
        fval = np.empty(Kf)
        nf = 0
        pcache = np.empty((T, S, A))  # Markov policy: pi(. | s, h) computed once per (h, s) visited
        have = np.zeros((T, S), dtype=np.bool_)
        ftot = 0.0
        for b in range(B):
            m[:] = 0.0
            s = _pick(mu, S, u[r, b, 0])
            g0, r0 = _cover(m, s, cols, vals, weights)
            states[b, 0] = s
            F = g0
            first = g0 if gain_mode == 0 else r0
            for h in range(T):
                if history:
                    nf = _gather(s, m, feats, fidx, fval)
                    _probs_at(th, Wr, h, s, fidx, fval, nf, p)
                else:
                    if not have[h, s]:
                        _probs_at(th, Wr, h, s, fidx, fval, 0, pcache[h, s])
                        have[h, s] = True
                    p[:] = pcache[h, s]
                for a in range(A):
                    probs[b, h, a] = p[a]
                a = _pick(p, A, u[r, b, 1 + 2 * h])
                hp = h if Hp > 1 else 0
                if K == 1:  # deterministic move: the uniform is consumed all the same
                    s = nxt[hp, s, a, 0]
                else:
                    k = _pick(prob[hp, s, a], K, u[r, b, 2 + 2 * h])
                    s = nxt[hp, s, a, k]
                g, sur = _cover(m, s, cols, vals, weights)
                F += g
                actions[b, h] = a
                states[b, h + 1] = s
                G[b, h] = g if gain_mode == 0 else sur
            ftot += F
            # per-step returns
            if return_mode == 0:
                acc = 0.0
                for h in range(T - 1, -1, -1):
                    acc += G[b, h]
                    G[b, h] = acc * ret_scale
            elif return_mode == 1:
                for h in range(T):
                    G[b, h] *= ret_scale
            else:
                acc = first
                for h in range(T):
                    acc += G[b, h]
                    G[b, h] = acc * ret_scale
        objective[r] = ftot / B
        gt = grad_theta[r]
        gW = grad_W[r]
        gt[:] = 0.0
        gW[:] = 0.0
        if npg:
            cnt = np.zeros((T, S, A))
            for b in range(B):
                for h in range(T):
                    gt[h, states[b, h], actions[b, h]] += G[b, h]
                    cnt[h, states[b, h], actions[b, h]] += 1.0
            for h in range(T):
                for s in range(S):
                    qs = 0.0
                    ns = 0.0
                    for a in range(A):
                        qs += gt[h, s, a]
                        ns += cnt[h, s, a]
                    for a in range(A):
                        if cnt[h, s, a] > 0:
                            gt[h, s, a] = gt[h, s, a] / cnt[h, s, a] - qs / ns
            continue
        # baseline, then scatter (1{a = a_h} - pi(a)) * advantage / B
        colsum = np.zeros(T)
        for b in range(B):
            for h in range(T):
                colsum[h] += G[b, h]
        for b in range(B):
            if history:
                m[:] = 0.0
                _cover(m, states[b, 0], cols, vals, weights)
            for h in range(T):
                if baseline_mode == 0:
                    adv = G[b, h] - (colsum[h] - G[b, h]) / (B - 1)
                elif baseline_mode == 1:
                    adv = G[b, h] - colsum[h] / B
                else:
                    adv = G[b, h]
                adv *= 1.0 / B
                s = states[b, h]
                if history:
                    nf = _gather(s, m, feats, fidx, fval)
                for a in range(A):
                    d = ((1.0 if a == actions[b, h] else 0.0) - probs[b, h, a]) * adv
                    gt[h, s, a] += d
                    if history:
                        for i in range(nf):
                            gW[a, fidx[i]] += d * fval[i]
                if history:
                    _cover(m, states[b, h + 1], cols, vals, weights)


@nb.njit(cache=True)
def adam_kernel(x, g, m, v, t, lr, b1, b2, eps):
    """In-place Adam *ascent* step on ``(R, n)`` arrays (Kingma & Ba 2015, bias-corrected), step number ``t >= 1``."""
    R, n = x.shape
    c1 = 1.0 - b1 ** t
    c2 = 1.0 - b2 ** t
    for r in range(R):
        for i in range(n):
            gi = g[r, i]
            m[r, i] = b1 * m[r, i] + (1.0 - b1) * gi
            v[r, i] = b2 * v[r, i] + (1.0 - b2) * gi * gi
            x[r, i] += lr * (m[r, i] / c1) / (np.sqrt(v[r, i] / c2) + eps)


# --------------------------------------------------------------------------- NumPy twin
def adam_numpy(x, g, m, v, t, lr, b1, b2, eps):
    """NumPy twin of :func:`adam_kernel` (same formula, in place)."""
    m *= b1
    m += (1.0 - b1) * g
    v *= b2
    v += (1.0 - b2) * g * g
    x += lr * (m / (1.0 - b1 ** t)) / (np.sqrt(v / (1.0 - b2 ** t)) + eps)


def _softmax_rows(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    tot = e[..., 0].copy()
    for a in range(1, e.shape[-1]):
        tot += e[..., a]
    return e / tot[..., None]


def _inverse_cdf(p, u):
    """Index of the first entry whose running sum exceeds ``u`` (last index if none): ``p (N, n)``, ``u (N,)``."""
    hit = u[:, None] < np.cumsum(p, axis=1)
    return np.where(hit.any(axis=1), hit.argmax(axis=1), p.shape[1] - 1)


def policy_probs(theta, W, history, h, s, phi):
    """``pi(. | x_h)`` for a batch: ``theta (T, S, A)``, ``W (A, Kf)``, ``s (N,)``, ``phi (N, Kf)`` -> ``(N, A)``."""
    z = theta[h, s]
    if history:
        z = z + phi @ W.T
    return _softmax_rows(z)


def _features(m_ext, feats, s):
    """History features ``m[feats[s, k]]`` (0 where ``feats = -1``): ``m_ext (N, J + 1)`` with a zero last column."""
    f = feats[s]
    return np.take_along_axis(m_ext, np.where(f < 0, m_ext.shape[1] - 1, f), axis=1)


def _cover_numpy(m_ext, s, cols, vals, weights):
    """Vectorised :func:`_cover`: update ``m_ext (N, J + 1)`` in place; return gains and surrogates ``(N,)``."""
    J = weights.shape[0]
    c = np.where(cols[s] < 0, J, cols[s])
    v = vals[s]
    w = np.append(weights, 0.0)[c]
    cur = np.take_along_axis(m_ext, c, axis=1)
    gain = (w * np.maximum(v - cur, 0.0)).sum(axis=1)
    sur = (w * v).sum(axis=1)
    np.put_along_axis(m_ext, c, np.maximum(v, cur), axis=1)
    return gain, sur


def returns_from_gains(gains, first, return_mode, ret_scale=1.0):
    """Per-step returns ``(N, T)`` from per-move gains ``(N, T)`` and ``first = F({s_0})`` (or ``r(s_0)``) ``(N,)``.

    ``gain_to_go``: ``sum_{j >= h} Delta_j = F(tau) - F(tau_{0:h})`` (spec B2.1); ``myopic``: ``Delta_h``;
    ``prefix``: ``F(tau_{0:h+1}) = first + sum_{j <= h} Delta_j`` (official code, spec B2.2). Times ``ret_scale``.
    """
    if return_mode == RETURN_MODES["gain_to_go"]:
        G = np.cumsum(gains[:, ::-1], axis=1)[:, ::-1]
    elif return_mode == RETURN_MODES["myopic"]:
        G = gains.copy()
    else:
        G = np.cumsum(np.concatenate([first[:, None], gains], axis=1), axis=1)[:, 1:]
    return G * ret_scale


def apply_baseline(G, baseline_mode):
    """Subtract the per-step baseline from ``G (B, T)``: leave-one-out mean, batch mean, or nothing."""
    B = G.shape[0]
    tot = G.sum(axis=0)
    if baseline_mode == BASELINE_MODES["leave_one_out"]:
        return G - (tot[None] - G) / (B - 1)
    if baseline_mode == BASELINE_MODES["batch_mean"]:
        return G - tot[None] / B
    return G


def scatter_gradient(states, actions, probs, phi, adv, weight, S, history):
    """``sum_n weight_n sum_h grad log pi(a_h | x_h) adv[n, h]`` for the tabular-softmax (+ linear history) policy.

    ``states (N, T + 1)``, ``actions (N, T)``, ``probs (N, T, A)``, ``phi (N, T, Kf)`` (ignored unless ``history``),
    ``adv (N, T)``, ``weight (N,)`` -> ``(grad_theta (T, S, A), grad_W (A, Kf))``.
    """
    N, T, A = probs.shape
    onehot = np.zeros_like(probs)
    np.put_along_axis(onehot, actions[..., None], 1.0, axis=2)
    d = (onehot - probs) * (adv * weight[:, None])[..., None]  # (N, T, A)
    gt = np.zeros((T, S, A))
    for h in range(T):  # bincount adds in sample order, like the kernel's loop
        for a in range(A):
            gt[h, :, a] = np.bincount(states[:, h], weights=d[:, h, a], minlength=S)
    gW = np.einsum("nta,ntk->ak", d, phi) if history else np.zeros((A, phi.shape[-1]))
    return gt, gW


def tabular_advantage(states, actions, G, weight, S, A):
    """``Q_h(s, a) - V_h(s)`` from weighted samples (0 for unvisited ``(h, s, a)``): ``(T, S, A)``.

    ``Q_h(s, a)`` is the ``weight``-mean of ``G[:, h]`` over samples with ``(s_h, a_h) = (s, a)`` and ``V_h(s)`` over
    samples with ``s_h = s``. With ``weight`` = trajectory probabilities this is the exact ``Q - V`` of NPG.
    """
    T = G.shape[1]
    q = np.zeros((T, S, A))
    n = np.zeros((T, S, A))
    for h in range(T):
        idx = states[:, h] * A + actions[:, h]
        q[h] = np.bincount(idx, weights=weight * G[:, h], minlength=S * A).reshape(S, A)
        n[h] = np.bincount(idx, weights=weight, minlength=S * A).reshape(S, A)
    qs, ns = q.sum(axis=2, keepdims=True), n.sum(axis=2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(n > 0, q / np.where(n > 0, n, 1.0) - qs / np.where(ns > 0, ns, 1.0), 0.0)
    return out


def rollout_numpy(u, theta, W, history, mu, nxt, prob, cols, vals, weights, feats):
    """Sample ``B`` trajectories of one replicate (``u (B, 2H - 1)``) exactly as :func:`epoch_kernel` does.

    Returns ``states (B, T + 1)``, ``actions (B, T)``, ``probs (B, T, A)``, ``phi (B, T, Kf)``, true gains and
    surrogate gains ``(B, T)``, ``first`` values ``F({s_0})`` and ``r(s_0)`` ``(B,)`` and ``F(tau) (B,)``.
    """
    B = u.shape[0]
    T, S, A = theta.shape
    J, Kf = weights.shape[0], feats.shape[1]
    Hp = nxt.shape[0]
    m = np.zeros((B, J + 1))
    states = np.empty((B, T + 1), dtype=np.int64)
    actions = np.empty((B, T), dtype=np.int64)
    probs = np.empty((B, T, A))
    phi = np.zeros((B, T, Kf))
    gains = np.empty((B, T))
    surs = np.empty((B, T))
    s = _inverse_cdf(np.broadcast_to(mu, (B, S)), u[:, 0])
    g0, r0 = _cover_numpy(m, s, cols, vals, weights)
    states[:, 0] = s
    for h in range(T):
        if history:
            phi[:, h] = _features(m, feats, s)
        p = policy_probs(theta, W, history, h, s, phi[:, h])
        probs[:, h] = p
        a = _inverse_cdf(p, u[:, 1 + 2 * h])
        hp = h if Hp > 1 else 0
        k = _inverse_cdf(prob[hp, s, a], u[:, 2 + 2 * h])
        s = nxt[hp, s, a, k]
        gains[:, h], surs[:, h] = _cover_numpy(m, s, cols, vals, weights)
        actions[:, h] = a
        states[:, h + 1] = s
    F = np.cumsum(np.concatenate([g0[:, None], gains], axis=1), axis=1)[:, -1]
    return states, actions, probs, phi, gains, surs, g0, r0, F


def epoch_numpy(u, theta, W, history, mu, nxt, prob, cols, vals, weights, feats, gain_mode, return_mode,
                baseline_mode, ret_scale, npg, grad_theta, grad_W, objective):
    """NumPy twin of :func:`epoch_kernel` (same arguments, same outputs, loops over replicates)."""
    R, B = u.shape[0], u.shape[1]
    S, A = theta.shape[2], theta.shape[3]
    for r in range(R):
        states, actions, probs, phi, gains, surs, g0, r0, F = rollout_numpy(
            u[r], theta[r], W[r], history, mu, nxt, prob, cols, vals, weights, feats)
        objective[r] = F.mean()
        base = gains if gain_mode == 0 else surs
        G = returns_from_gains(base, g0 if gain_mode == 0 else r0, return_mode, ret_scale)
        if npg:
            grad_theta[r] = tabular_advantage(states, actions, G, np.ones(B), S, A)
            grad_W[r] = 0.0
            continue
        adv = apply_baseline(G, baseline_mode)
        grad_theta[r], grad_W[r] = scatter_gradient(states, actions, probs, phi, adv, np.full(B, 1.0 / B), S,
                                                    history)
