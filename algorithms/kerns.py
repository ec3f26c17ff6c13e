"""KeRNS and RS-KeRNS: kernel-based RL in non-stationary MDPs, with forgetting baselines.

Domingues, O. D., Ménard, P., Pirotta, M., Kaufmann, E. and Valko, M. (2021). *A Kernel-Based
Approach to Non-Stationary Reinforcement Learning in Metric Spaces*. AISTATS 2021, PMLR 130:3538-3546,
arXiv:2007.05078.

Provenance. Only the paper's abstract and first paragraph could be read (a 10-minute search for the
algorithm box and theorem found nothing more, again). Everything below follows the project digest
``kerns.md`` Part B and its prototype addendum (which wins over Part B); the rules are
**reconstructed**, not the paper's, and are labelled so.

Estimator (addendum §5, the aggregated form of KeRNS on a finite metric space). Per learner state
index ``x`` (a state, or a representative state for RS-KeRNS) and action ``a`` the learner keeps
unnormalised sums ``N[x, a]``, ``SR[x, a]``, ``SP[x, a, y]`` shared across steps ``h`` (addendum
§4.3; ``shared_across_steps=False`` keeps one per ``h``, as the theory does). Forgetting happens once
per episode, before the episode's samples are added (:mod:`rltheory.kernels.weighted_counts`), so
the sample of episode ``s`` has weight ``tau(k - s - 1)`` at episode ``k``: ``eta^t`` (exponential
discounting) or ``1{t < W}`` (sliding window). With the kernel ``K_sigma[u, x] = psi(rho(u, x) /
sigma)`` over the state metric (``psi(0) = 1``; ``sigma = 0`` is the identity)::

    C(u, a)      = beta + sum_x K_sigma[u, x] N[x, a]                 (generalised count, spec B2.1)
    R_hat(u, a)  = sum_x K_sigma[u, x] SR[x, a] / C(u, a)
    P_hat V(u,a) = sum_x K_sigma[u, x] (SP[x, a, .] . V) / C(u, a)   (sub-stochastic: mass beta/C is lost)
    b(u, a)      = bonus_scale / sqrt(C) + c2 (1 + beta) H / C        (addendum §5, "as tested")
    Q_h(u, a)    = min(H - h, R_hat + P_hat V_{h+1} + b),   V_h(u) = max_a Q_h(u, a),   V_H = 0

The spec's theory bonus ``c1 H sqrt(L/C) + c2 beta H / C + c3 (lambda_r + lambda_p H) sigma`` has
unknown constants; the addendum's form is the one tested on these grids. ``c2 >= beta / (1 + beta)``
is enforced: at ``C -> beta`` (no data) ``Q`` must still reach the clip value despite the lost mass
``beta / C`` of ``P_hat`` (addendum §4.5). Clipping is at ``H - h`` in 0-based steps, i.e. the
paper's ``H - h + 1`` (``clip="horizon"`` clips at ``H``, rlberry's rule; ablation item 4).

Acting. ``a_h = argmax_a Q_h(x_h, a)``; ties (frequent at the clip value) are broken by noise drawn
once per episode per ``(state, action)`` (the episode's uniforms), so the played policy is a
deterministic ``(H, S)`` table evaluated exactly on the episode's model.

RS-KeRNS (spec B2.2, rlberry's ``RSKernelUCBVIAgent``): states are mapped to their nearest
representative; a visited state farther than ``min_dist`` from every representative becomes one
(up to ``max_repr``). ``bandwidth <= 0.5 min_dist`` is enforced (addendum §4.6). Forgetting:
``"per_episode"`` (faithful, the default) or ``"step0_taken_action"`` — rlberry's rule, which applies
``eta`` only at step 0 and only to the column of the action taken there (spec B7, addendum §4.1); a
**replication variant**, labelled so.

Baselines (addendum §2): :class:`DUCBVI` (KeRNS with ``bandwidth = 0``), :class:`SWUCBVI` (window),
:class:`RestartUCBVI` (full reset every ``period`` episodes at a random phase, addendum §4.10;
``reset="rewards"`` is rlberry's Restart-Baseline, which zeroes rewards only, §4.2) and
:class:`UCBVINoForgetting` (KeRNS with ``eta = 1``, ``bandwidth = 0``: UCBVI with the same bonus and
``beta``-regularised estimates).

Implementation. Every learner here is an :class:`~rltheory.runner.EpisodicLearner` (the core's run
skeleton: validation, seeding, chunking, progress, trace; results do not depend on ``chunk_episodes``);
a learner differs from the others only in its configuration hooks. The compiled kernels take typed
records: the model (:class:`~rltheory.nonstationary.NonStationaryTables`), :class:`KernelPlanner`,
:class:`Forgetting`, :class:`StateMetric`, :class:`RepresentativeNet`, the weighted sums
(:class:`~rltheory.kernels.weighted_counts.WeightedCountState`), :class:`KernelLearnerState` and
:class:`KeRNSOut`; each has a NumPy twin (``*_reference``) checked against it in ``tests/test_kerns.py``.

Trace arrays ``(replicates, episodes)``: ``regret`` = ``V*_k - V^{pi_k}_k`` (dynamic regret by exact
evaluation on the ``k``-th model), ``values`` = ``V^{pi_k}_k``, ``returns`` (sampled),
``optimistic_values`` = ``mu_k . V_{k,1}``, ``optimism_gap`` = ``min_{h, x} (V_{k,h}(x) - V*_{k,h}(x))``,
``representatives`` = number of representative states.
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from rltheory.algorithm import register_algorithm
from rltheory.errors import InvalidParameterError
from rltheory.kernels.planning import evaluate_policy_one
from rltheory.kernels.sampling import AliasTables, sample_episode, sample_trajectories_reference, uniforms_per_episode
from rltheory.kernels.weighted_counts import (
    FLUSH,
    WeightedCountState,
    add_episode_one,
    add_episode_reference,
    decay_one,
    decay_reference,
    reset_one,
    window_evict_one,
    window_evict_reference,
)
from rltheory.nonstationary import NonStationaryMDP, NonStationaryTables, dynamic_regret_reference
from rltheory.runner import EpisodicLearner
from rltheory.validation import check_int, check_real

__all__ = ["KeRNS", "RSKeRNS", "DUCBVI", "SWUCBVI", "RestartUCBVI", "UCBVINoForgetting", "KERNELS", "kernel_psi",
           "FORGETTING_RULES", "KernelPlanner", "Forgetting", "StateMetric", "RepresentativeNet", "KernelLearnerState",
           "KeRNSOut", "WeightedCountState"]

TRACE_ARRAYS = ("regret", "values", "returns", "optimistic_values", "optimism_gap", "representatives")


def _uniform(z):
    return (np.abs(z) <= 1).astype(float)


#: Smoothing kernels ``psi(z)``, ``z = distance / bandwidth`` (spec B2.2, rlberry's ``kernel_func``).
KERNELS = {
    "uniform": _uniform,
    "triangular": lambda z: np.maximum(0.0, 1 - np.abs(z)),
    "gaussian": lambda z: np.exp(-z ** 2 / 2),
    "epanechnikov": lambda z: np.maximum(0.0, 1 - z ** 2),
    "quartic": lambda z: np.maximum(0.0, 1 - z ** 2) ** 2,
    "triweight": lambda z: np.maximum(0.0, 1 - z ** 2) ** 3,
    "tricube": lambda z: np.maximum(0.0, 1 - np.abs(z) ** 3) ** 3,
    "cosine": lambda z: np.where(np.abs(z) <= 1, np.cos(np.pi * np.minimum(np.abs(z), 1) / 2), 0.0),
}

#: RS-KeRNS forgetting rules: faithful, and rlberry's (replication variant).
FORGETTING_RULES = ("per_episode", "step0_taken_action")
RESETS = ("full", "rewards")


def kernel_psi(kernel: str, distances: np.ndarray, bandwidth: float) -> np.ndarray:
    """``psi(d / bandwidth)``; ``bandwidth = 0`` gives ``1{d == 0}`` (no smoothing). Weights below
    :data:`~rltheory.kernels.weighted_counts.FLUSH` are set to 0 (the Gaussian's far tail; the same
    threshold as the count flush), which lets the planner skip them."""
    d = np.asarray(distances, float)
    if bandwidth == 0:
        return (d == 0).astype(float)
    w = KERNELS[kernel](d / bandwidth)
    return np.where(w < FLUSH, 0.0, w)


# ---------------------------------------------------------------------------- typed records


class KernelPlanner(NamedTuple):
    """Constants of the optimistic planner (module docstring)."""

    beta: float  #: regulariser of the generalised count ``C = beta + ...``
    c1: float  #: ``bonus_scale``: first-order bonus ``c1 / sqrt(C)``
    c2: float  #: second-order bonus ``c2 (1 + beta) H / C``
    smooth: bool  #: smooth over the state metric (``bandwidth > 0``)
    clip_stage: bool  #: clip ``Q_h`` at ``H - h`` (else at ``H``)


class Forgetting(NamedTuple):
    """The forgetting rule, applied once per episode before the episode's samples are added."""

    eta: float  #: exponential discount per episode (1: none)
    window: int  #: sliding window ``W`` in episodes (0: none)
    restart: int  #: restart period in episodes (0: none)
    rewards_only: bool  #: a restart zeroes the reward sums only (rlberry's Restart-Baseline)
    step0: bool  #: rlberry's step-0, taken-action discount instead of ``eta`` on every pair (replication variant)
    flush: float  #: entries below this magnitude are set to 0 after forgetting


class StateMetric(NamedTuple):
    """The state metric and the rule of the representative net, shared by every replicate."""

    D: np.ndarray  #: ``(S, S)`` distances ``rho(x, y)``
    Kst: np.ndarray  #: ``(S, S)`` kernel weights ``psi(rho / sigma)`` between states
    min_dist: float  #: a visited state farther than this from every representative becomes one
    max_repr: int  #: cap on the number of representatives
    grow: bool  #: an online net (RS-KeRNS); otherwise every state is its own representative


class RepresentativeNet(NamedTuple):
    """Representative states of one replicate (or ``n``, with a leading replicate axis), in place.

    ``reps (X,)`` the state of each representative, ``rep_map (S,)`` each state's representative (-1:
    none yet), ``nrep (1,)`` how many exist, ``Ks (X, X)`` kernel weights between representatives.
    """

    reps: np.ndarray
    rep_map: np.ndarray
    nrep: np.ndarray
    Ks: np.ndarray


class KernelLearnerState(NamedTuple):
    """The learner's state, ``n`` replicates: weighted sums, representative net, window ring buffer
    ``ring (n, W, 4, H)`` (each episode's representatives ``x``, actions, rewards, next representatives ``y``)
    and the restart phase ``phase (n,)``."""

    counts: WeightedCountState
    net: RepresentativeNet
    ring: np.ndarray
    phase: np.ndarray


class KeRNSOut(NamedTuple):
    """The per-episode outputs of a chunk, each ``(replicates, chunk)`` (module docstring)."""

    regret: np.ndarray
    values: np.ndarray
    returns: np.ndarray
    optimistic_values: np.ndarray
    optimism_gap: np.ndarray
    representatives: np.ndarray


# ---------------------------------------------------------------------------- compiled kernels


@nb.njit(cache=True)
def kerns_plan_one(counts, Ks, nr, plan, Q, V):
    """Optimistic backward induction on the smoothed, decayed sums over the first ``nr`` indices (in place).

    ``counts`` one replicate's :class:`~rltheory.kernels.weighted_counts.WeightedCountState` (``N, SR
    (Hc, X, A)``, ``SP (Hc, X, A, X)``), ``Ks (X, X)`` (used when ``plan.smooth``), ``plan`` a
    :class:`KernelPlanner`; outputs ``Q (H, X, A)`` and ``V (H + 1, X)``. Formulas in the module docstring.
    """
    N, SR, SP = counts
    beta, c1, c2, smooth, clip_stage = plan
    Hc, X, A = N.shape
    H = Q.shape[0]
    C = np.empty((Hc, X, A))
    Rb = np.empty((Hc, X, A))  # R_hat + bonus
    # neighbour lists of the kernel (its nonzero weights, in increasing index order)
    nbr = np.empty((nr, nr), np.int64)
    cnt = np.zeros(nr, np.int64)
    if smooth:
        for u in range(nr):
            for x in range(nr):
                if Ks[u, x] != 0.0:
                    nbr[u, cnt[u]] = x
                    cnt[u] += 1
    for hc in range(Hc):
        for u in range(nr):
            for a in range(A):
                if smooth:
                    n = 0.0
                    sr = 0.0
                    for i in range(cnt[u]):
                        x = nbr[u, i]
                        w = Ks[u, x]
                        n += w * N[hc, x, a]
                        sr += w * SR[hc, x, a]
                else:
                    n = N[hc, u, a]
                    sr = SR[hc, u, a]
                cc = beta + n
                C[hc, u, a] = cc
                Rb[hc, u, a] = sr / cc + c1 / np.sqrt(cc) + c2 * (1.0 + beta) * H / cc
    W = np.empty((X, A))
    for x in range(nr):
        V[H, x] = 0.0
    for h in range(H - 1, -1, -1):
        hc = h if Hc > 1 else 0
        clip = float(H - h) if clip_stage else float(H)
        for x in range(nr):
            for a in range(A):
                if N[hc, x, a] == 0.0:  # no weight left: the row of SP is 0 too (flushed together)
                    W[x, a] = 0.0
                    continue
                row = SP[hc, x, a]
                acc = 0.0
                for y in range(nr):
                    acc += row[y] * V[h + 1, y]
                W[x, a] = acc
        for u in range(nr):
            best = -np.inf
            for a in range(A):
                if smooth:
                    pv = 0.0
                    for i in range(cnt[u]):
                        x = nbr[u, i]
                        pv += Ks[u, x] * W[x, a]
                else:
                    pv = W[u, a]
                q = Rb[hc, u, a] + pv / C[hc, u, a]
                if q > clip:
                    q = clip
                Q[h, u, a] = q
                if q > best:
                    best = q
            V[h, u] = best


@nb.njit(cache=True)
def greedy_noise_one(Q, rep_map, noise, clip_stage, policy):
    """``policy[h, s] = argmax_a Q[h, rep_map[s], a]``, ties to the largest ``noise[s, a]``; unmapped
    states (``rep_map = -1``) have every ``Q`` at the clip value."""
    H, S = policy.shape
    A = Q.shape[2]
    for h in range(H):
        for s in range(S):
            m = rep_map[s]
            best = -np.inf
            bn = -1.0
            ba = 0
            for a in range(A):
                if m >= 0:
                    q = Q[h, m, a]
                else:
                    q = float(H - h) if clip_stage else float(H)
                z = noise[s * A + a]
                if q > best or (q == best and z > bn):
                    best = q
                    bn = z
                    ba = a
            policy[h, s] = ba


@nb.njit(cache=True)
def map_add_one(s, metric, net):
    """Representative of state ``s`` (a :class:`StateMetric`, one replicate's :class:`RepresentativeNet`);
    when ``metric.grow`` and ``s`` is farther than ``min_dist`` from every representative (and fewer than
    ``max_repr`` exist), ``s`` becomes a new one."""
    D, Kst, min_dist, max_repr, grow = metric
    reps, rep_map, nrep, Ks = net
    m = rep_map[s]
    if m >= 0 and D[s, reps[m]] <= min_dist:
        return m
    if not grow or nrep[0] >= max_repr:
        return m
    m = nrep[0]
    reps[m] = s
    nrep[0] = m + 1
    for t in range(D.shape[0]):
        cur = rep_map[t]
        if cur < 0 or D[t, s] < D[t, reps[cur]]:
            rep_map[t] = m
    for u in range(m + 1):
        w = Kst[s, reps[u]]
        Ks[m, u] = w
        Ks[u, m] = w
    return m


@nb.njit(cache=True)
def kerns_update_one(k, phase, states, actions, rewards, forget, counts, ring, metric, net):
    """Episode ``k`` of one replicate: forget (a :class:`Forgetting`, restart ``phase``), map the episode
    ``states (H + 1,)``, ``actions, rewards (H,)`` to representatives, add it to ``counts``.

    ``counts`` a :class:`~rltheory.kernels.weighted_counts.WeightedCountState`, ``ring (W, 4, H)`` float
    holds the window's episodes (x, a, r, y), ``metric`` a :class:`StateMetric`, ``net`` a
    :class:`RepresentativeNet` (all one replicate's, in place).
    """
    eta, window, restart, rewards_only, step0, flush = forget
    N, SR, SP = counts
    H = actions.shape[0]
    # forgetting, once per episode, before adding (module docstring)
    if restart > 0 and k > 0 and (k + phase) % restart == 0:
        if rewards_only:
            SR[...] = 0.0
        else:
            reset_one(N, SR, SP)
    if window > 0 and k >= window:
        slot = k % window
        ev_x = np.empty(H, np.int64)
        ev_a = np.empty(H, np.int64)
        ev_y = np.empty(H, np.int64)
        for h in range(H):
            ev_x[h] = int(ring[slot, 0, h])
            ev_a[h] = int(ring[slot, 1, h])
            ev_y[h] = int(ring[slot, 3, h])
        window_evict_one(N, SR, SP, ev_x, ev_a, ring[slot, 2], ev_y, flush)
    if eta < 1.0 and not step0:
        decay_one(N, SR, SP, eta, flush)
    xi = np.empty(H, np.int64)
    yi = np.empty(H, np.int64)
    for h in range(H):
        xi[h] = map_add_one(states[h], metric, net)
        yi[h] = map_add_one(states[h + 1], metric, net)
    if eta < 1.0 and step0:  # rlberry: discount at step 0, the taken action's column only (replication)
        a0 = actions[0]
        for hc in range(N.shape[0]):
            for x in range(N.shape[1]):
                N[hc, x, a0] *= eta
                SR[hc, x, a0] *= eta
                for y in range(SP.shape[3]):
                    SP[hc, x, a0, y] *= eta
    add_episode_one(N, SR, SP, xi, actions, rewards, yi, 1.0)
    if window > 0:
        slot = k % window
        for h in range(H):
            ring[slot, 0, h] = xi[h]
            ring[slot, 1, h] = actions[h]
            ring[slot, 2, h] = rewards[h]
            ring[slot, 3, h] = yi[h]


@nb.njit(parallel=True, cache=True)
def _kerns_chunk(model, plan, forget, metric, state, start, u, out):
    """Episodes ``start .. start + u.shape[1] - 1`` of every replicate (``prange`` over replicates): plan,
    act greedily, evaluate the played policy exactly on the episode's model, sample, forget and update.

    ``model`` a :class:`~rltheory.nonstationary.NonStationaryTables`, ``plan`` a :class:`KernelPlanner`,
    ``forget`` a :class:`Forgetting`, ``metric`` a :class:`StateMetric`, ``state`` a
    :class:`KernelLearnerState` (``n`` replicates, updated in place), ``u (n, chunk, 1 + 3H + S A)``,
    ``out`` a :class:`KeRNSOut`.
    """
    # unpack the records before prange (writes through a record's field inside prange are lost)
    P_prob, P_alias, mu_prob, mu_alias, P, R, mu, v_star, V_star, schedule, bernoulli = model
    N, SR, SP = state.counts
    reps, rep_map, nrep, Ks = state.net
    ring = state.ring
    phase = state.phase
    regret, values, returns, optimistic_values, optimism_gap, representatives = out
    clip_stage = plan.clip_stage
    n, n_ep, _ = u.shape
    _, H, S, A = R.shape
    X = N.shape[2]
    width0 = 1 + 3 * H
    for r in nb.prange(n):
        counts = WeightedCountState(N[r], SR[r], SP[r])
        net = RepresentativeNet(reps[r], rep_map[r], nrep[r], Ks[r])
        ring_r = ring[r]
        Q = np.empty((H, X, A))
        V = np.empty((H + 1, X))
        Vpi = np.empty((H + 1, S))
        policy = np.empty((H, S), np.int64)
        previous = np.full((H, S), -1, np.int64)
        prev_m = -1
        v = 0.0
        states = np.empty(H + 1, np.int64)
        actions = np.empty(H, np.int64)
        rewards = np.empty(H)
        for e in range(n_ep):
            k = start + e
            m = schedule[k]
            nr = nrep[r, 0]
            kerns_plan_one(counts, Ks[r], nr, plan, Q, V)
            greedy_noise_one(Q, rep_map[r], u[r, e, width0:], clip_stage, policy)
            # exact value of the policy played on this episode's model (re-evaluated when either changed)
            if m != prev_m or not np.array_equal(policy, previous):
                evaluate_policy_one(P[m], R[m], policy, Vpi)
                previous[:] = policy
                prev_m = m
                v = 0.0
                for s in range(S):
                    v += mu[m, s] * Vpi[0, s]
            vo = 0.0
            gap = np.inf
            for s in range(S):
                j = rep_map[r, s]
                for h in range(H):
                    vh = V[h, j] if j >= 0 else (float(H - h) if clip_stage else float(H))
                    d = vh - V_star[m, h, s]
                    if d < gap:
                        gap = d
                    if h == 0:
                        vo += mu[m, s] * vh
            regret[r, e] = v_star[m] - v
            values[r, e] = v
            optimistic_values[r, e] = vo
            optimism_gap[r, e] = gap
            sample_episode(P_prob[m], P_alias[m], None, mu_prob[m], mu_alias[m], R[m], bernoulli, policy,
                           u[r, e, :width0], states, actions, rewards)
            g = 0.0
            for h in range(H):
                g += rewards[h]
            returns[r, e] = g
            kerns_update_one(k, phase[r], states, actions, rewards, forget, counts, ring_r, metric, net)
            representatives[r, e] = nrep[r, 0]


# ---------------------------------------------------------------------------- NumPy twins


def kerns_plan_reference(counts, Ks, nr, plan, H):
    """Twin of :func:`kerns_plan_one` (array operations over states and actions): ``(Q (H, nr, A), V (H+1, nr))``."""
    N, SR, SP = counts
    beta, c1, c2, smooth, clip_stage = plan
    Hc, _, A = N.shape
    N, SR, SP = N[:, :nr], SR[:, :nr], SP[:, :nr, :, :nr]
    K = Ks[:nr, :nr] if smooth else np.eye(nr)
    C = beta + np.einsum("ux,hxa->hua", K, N)
    Rb = np.einsum("ux,hxa->hua", K, SR) / C + c1 / np.sqrt(C) + c2 * (1 + beta) * H / C
    Q = np.empty((H, nr, A))
    V = np.zeros((H + 1, nr))
    for h in range(H - 1, -1, -1):
        hc = h if Hc > 1 else 0
        W = (SP[hc] * V[h + 1][None, None, :]).sum(-1)
        q = Rb[hc] + (K @ W) / C[hc]
        Q[h] = np.minimum(q, float(H - h) if clip_stage else float(H))
        V[h] = Q[h].max(axis=1)
    return Q, V


def greedy_noise_reference(Q, rep_map, noise, clip_stage, H, S, A):
    """Twin of :func:`greedy_noise_one`: lexicographic argmax of ``(Q, noise)``."""
    clipv = (H - np.arange(H) if clip_stage else np.full(H, H)).astype(float)
    if Q.shape[1] == 0:  # no representative yet: every Q is at the clip value
        q = np.broadcast_to(clipv[:, None, None], (H, S, A))
    else:
        q = np.where(rep_map[None, :, None] >= 0, Q[:, np.maximum(rep_map, 0)], clipv[:, None, None])
    z = noise[: S * A].reshape(S, A)
    best = q.max(axis=2, keepdims=True)
    cand = np.where(q == best, z[None], -np.inf)
    return cand.argmax(axis=2).astype(np.int64)


def map_add_reference(s, metric, net):
    """Twin of :func:`map_add_one` (array operations over states)."""
    D, Kst, min_dist, max_repr, grow = metric
    reps, rep_map, nrep, Ks = net
    m = rep_map[s]
    if m >= 0 and D[s, reps[m]] <= min_dist:
        return m
    if not grow or nrep[0] >= max_repr:
        return m
    m = nrep[0]
    reps[m] = s
    nrep[0] = m + 1
    closer = (rep_map < 0) | (D[:, s] < D[np.arange(D.shape[0]), reps[np.maximum(rep_map, 0)]])
    rep_map[closer] = m
    w = Kst[s, reps[: m + 1]]
    Ks[m, : m + 1] = w
    Ks[: m + 1, m] = w
    return m


def kerns_update_reference(k, phase, states, actions, rewards, forget, counts, ring, metric, net):
    """Twin of :func:`kerns_update_one` (the batched NumPy count updates on a one-replicate batch)."""
    eta, window, restart, rewards_only, step0, flush = forget
    batch = WeightedCountState(counts.N[None], counts.SR[None], counts.SP[None])  # views: updates go through
    H = actions.shape[0]
    if restart > 0 and k > 0 and (k + phase) % restart == 0:
        batch.SR[...] = 0.0
        if not rewards_only:
            batch.N[...] = 0.0
            batch.SP[...] = 0.0
    if window > 0 and k >= window:
        ex, ea, er, ey = ring[k % window]
        window_evict_reference(batch, ex[None].astype(np.int64), ea[None].astype(np.int64), er[None],
                               ey[None].astype(np.int64), flush)
    if eta < 1.0 and not step0:
        decay_reference(batch, eta, flush)
    xi = np.empty(H, np.int64)
    yi = np.empty(H, np.int64)
    for h in range(H):
        xi[h] = map_add_reference(states[h], metric, net)
        yi[h] = map_add_reference(states[h + 1], metric, net)
    if eta < 1.0 and step0:
        a0 = actions[0]
        batch.N[0, :, :, a0] *= eta
        batch.SR[0, :, :, a0] *= eta
        batch.SP[0, :, :, a0, :] *= eta
    add_episode_reference(batch, xi[None], actions[None], rewards[None], yi[None], 1.0)
    if window > 0:
        ring[k % window] = (xi, actions, rewards, yi)


def _kerns_chunk_reference(model, plan, forget, metric, state, start, u, out):
    """Twin of :func:`_kerns_chunk`: Python loops over replicates and episodes, array operations inside."""
    P_prob, P_alias, mu_prob, mu_alias, P, R, mu, v_star, V_star, schedule, bernoulli = model
    n, n_ep, _ = u.shape
    _, H, S, A = R.shape
    w0 = 1 + 3 * H
    clipv = (H - np.arange(H) if plan.clip_stage else np.full(H, H)).astype(float)
    for r in range(n):
        counts = WeightedCountState(*(c[r] for c in state.counts))
        net = RepresentativeNet(*(a[r] for a in state.net))
        for e in range(n_ep):
            k = start + e
            m = schedule[k]
            nr = int(net.nrep[0])
            Q, V = kerns_plan_reference(counts, net.Ks, nr, plan, H)
            policy = greedy_noise_reference(Q, net.rep_map, u[r, e, w0:], plan.clip_stage, H, S, A)
            reg = dynamic_regret_reference(P, R, mu, v_star, schedule[k:k + 1], policy[None])[0]
            Vfull = (np.where(net.rep_map[None] >= 0, V[:H][:, np.maximum(net.rep_map, 0)], clipv[:, None])
                     if nr > 0 else np.broadcast_to(clipv[:, None], (H, S)))
            out.regret[r, e] = reg
            out.values[r, e] = v_star[m] - reg
            out.optimistic_values[r, e] = mu[m] @ Vfull[0]
            out.optimism_gap[r, e] = (Vfull - V_star[m, :H]).min()
            tables = AliasTables(P_prob[m], P_alias[m], mu_prob[m], mu_alias[m], R[m], bool(bernoulli))
            states, actions, rewards = sample_trajectories_reference(tables, policy[None], u[r, e:e + 1, :w0])
            states, actions, rewards = states[0], actions[0], rewards[0]
            out.returns[r, e] = rewards.sum()
            kerns_update_reference(k, state.phase[r], states, actions, rewards, forget, counts, state.ring[r], metric,
                                   net)
            out.representatives[r, e] = net.nrep[0]


class _KernelRun(NamedTuple):
    """What :meth:`_KernelForgettingLearner.start` returns: the records the chunk kernels take."""

    model: NonStationaryTables
    plan: KernelPlanner
    forget: Forgetting
    metric: StateMetric
    state: KernelLearnerState


# ---------------------------------------------------------------------------- learners


class _KernelForgettingLearner(EpisodicLearner):
    """The learners of this module on the core skeleton (:class:`~rltheory.runner.EpisodicLearner`): the
    configuration (forgetting rule, net, bandwidth) differs, the kernels do not."""

    model_type = NonStationaryMDP
    backends = ("numba", "numpy")
    trace_arrays = TRACE_ARRAYS

    @property
    def label(self) -> str:
        return type(self).__name__

    # --- configuration hooks (overridden by subclasses)
    def _forgetting(self) -> Forgetting:
        return Forgetting(1.0, 0, 0, False, False, FLUSH)

    def _net(self) -> tuple[bool, float, int | None]:
        """``(grow, min_dist, max_repr)``: an online representative net, or every state its own."""
        return False, 0.0, None

    def _common_checks(self, beta, bonus_scale, c2, enforce_optimism, clip, shared_across_steps, kernel, bandwidth):
        self.beta = check_real(beta, "beta", low=0.0, low_open=True)
        self.bonus_scale = check_real(bonus_scale, "bonus_scale", low=0.0)
        self.c2 = check_real(c2, "c2", low=0.0)
        if not isinstance(enforce_optimism, bool | np.bool_):
            raise InvalidParameterError("enforce_optimism", f"must be a bool, got {enforce_optimism!r}",
                                        value=enforce_optimism)
        self.enforce_optimism = bool(enforce_optimism)
        floor = self.beta / (1.0 + self.beta)
        if self.enforce_optimism and self.c2 < floor:
            raise InvalidParameterError(
                "c2", f"must be >= beta / (1 + beta) = {floor:.6g} (got {self.c2:g}): the regularised P_hat loses "
                      f"mass beta / C, so with less the bonus cannot keep unvisited pairs optimistic "
                      f"(pass enforce_optimism=False only for ablations)", value=self.c2)
        if clip not in ("stage", "horizon"):
            raise InvalidParameterError("clip", f"must be 'stage' or 'horizon', got {clip!r}", value=clip)
        self.clip = clip
        if not isinstance(shared_across_steps, bool | np.bool_):
            raise InvalidParameterError("shared_across_steps", f"must be a bool, got {shared_across_steps!r}",
                                        value=shared_across_steps)
        self.shared_across_steps = bool(shared_across_steps)
        if not isinstance(kernel, str) or kernel not in KERNELS:
            raise InvalidParameterError("kernel", f"must be one of {tuple(KERNELS)}, got {kernel!r}", value=kernel)
        self.kernel = kernel
        self.bandwidth = check_real(bandwidth, "bandwidth", low=0.0)

    @classmethod
    def conformance_cases(cls) -> list[dict]:
        return [{}]

    # --- the skeleton's hooks (rltheory.runner.EpisodicLearner)
    def uniform_width(self, model) -> int:
        """``1 + 3H`` uniforms to sample the episode, then ``S A`` tie-breaking noises."""
        return uniforms_per_episode(model.H) + model.S * model.A

    def _ring_length(self, episodes: int) -> int:
        window = self._forgetting().window
        return max(1, min(window, episodes))  # slot k % window < min(window, episodes) for every k < episodes

    def state_bytes(self, model) -> int:
        H, S, A = model.H, model.S, model.A
        Hc = 1 if self.shared_across_steps else H
        return 8 * (Hc * S * A * (S + 2) + S * S + 2 * S + 1 + self._ring_length(model.episodes) * 4 * H)

    def start(self, model, run) -> _KernelRun:
        """Zero sums, the metric and the net, the ring buffer and the restart phase (drawn from each
        replicate's generator before its first uniform)."""
        n, H, S, A = run.replicates, model.H, model.S, model.A
        coords = model.coords if model.coords is not None else np.arange(S, dtype=float)[:, None]
        D = np.linalg.norm(coords[:, None, :] - coords[None, :, :], axis=-1)
        Kst = kernel_psi(self.kernel, D, self.bandwidth)
        grow, min_dist, max_repr = self._net()
        max_repr = S if max_repr is None else min(int(max_repr), S)
        forget = self._forgetting()
        Hc = 1 if self.shared_across_steps else H
        X = S
        if grow:
            net = RepresentativeNet(np.zeros((n, X), np.int64), np.full((n, S), -1, np.int64),
                                    np.zeros((n, 1), np.int64), np.zeros((n, X, X)))
        else:
            net = RepresentativeNet(np.tile(np.arange(S), (n, 1)), np.tile(np.arange(S), (n, 1)),
                                    np.full((n, 1), S, np.int64), np.tile(Kst, (n, 1, 1)))
        phase = np.array([int(g.integers(forget.restart)) if forget.restart > 0 else 0 for g in run.generators],
                         np.int64)
        state = KernelLearnerState(WeightedCountState.zeros(n, Hc, X, A), net,
                                   np.zeros((n, self._ring_length(run.episodes), 4, H)), phase)
        plan = KernelPlanner(self.beta, self.bonus_scale, self.c2, self.bandwidth > 0, self.clip == "stage")
        metric = StateMetric(D, Kst, float(min_dist), int(max_repr), bool(grow))
        return _KernelRun(model.tables, plan, forget, metric, state)

    def step(self, run, u, start, out):
        _kerns_chunk(run.model, run.plan, run.forget, run.metric, run.state, start, u,
                     KeRNSOut(*(out[k] for k in TRACE_ARRAYS)))

    def step_reference(self, run, u, start, out):
        _kerns_chunk_reference(run.model, run.plan, run.forget, run.metric, run.state, start, u,
                               KeRNSOut(*(out[k] for k in TRACE_ARRAYS)))


@register_algorithm
class KeRNS(_KernelForgettingLearner):
    """KeRNS, aggregated form on a finite metric space (reconstructed rules; module docstring).

    Parameters
    ----------
    eta : float in (0, 1]
        Exponential discount per episode, ``tau(t) = eta^t`` (ignored when ``window`` is given).
    window : int >= 1, optional
        Sliding window ``tau(t) = 1{t < W}`` instead of discounting.
    bandwidth : float >= 0
        Kernel bandwidth ``sigma`` in state-metric units (grid cells); 0 = no smoothing.
    kernel : str
        One of :data:`KERNELS` (``psi``).
    beta : float > 0
        Regulariser of the generalised count ``C = beta + ...``.
    bonus_scale : float >= 0
        ``c`` in ``b = c / sqrt(C) + c2 (1 + beta) H / C``.
    c2 : float >= beta / (1 + beta)
        Second-order bonus constant (enforced unless ``enforce_optimism=False``, for ablations).
    clip : {"stage", "horizon"}
        Clip ``Q_h`` at ``H - h`` (0-based ``h``; the paper's ``H - h + 1``) or at ``H`` (rlberry).
    shared_across_steps : bool
        One model shared by all steps (default; addendum §4.3) or one per step (theory).
    """

    def __init__(self, *, eta: float = 0.995, window: int | None = None, bandwidth: float = 0.35,
                 kernel: str = "gaussian", beta: float = 0.01, bonus_scale: float = 0.2, c2: float = 0.02,
                 clip: str = "stage", shared_across_steps: bool = True, enforce_optimism: bool = True):
        self.eta = check_real(eta, "eta", low=0.0, high=1.0, low_open=True)
        self.window = None if window is None else check_int(window, "window", low=1)
        self._common_checks(beta, bonus_scale, c2, enforce_optimism, clip, shared_across_steps, kernel, bandwidth)

    def _forgetting(self) -> Forgetting:
        if self.window is not None:
            return Forgetting(1.0, self.window, 0, False, False, FLUSH)
        return Forgetting(self.eta, 0, 0, False, False, FLUSH)

    @classmethod
    def conformance_cases(cls) -> list[dict]:
        return [{"eta": 0.9, "bandwidth": 1.0}, {"window": 5, "bandwidth": 0.0}, {"eta": 0.95,
                                                                                   "shared_across_steps": False}]


@register_algorithm
class RSKeRNS(KeRNS):
    """RS-KeRNS: KeRNS on an online net of representative states (spec B2.2; module docstring).

    Parameters (beyond :class:`KeRNS`)
    ----------------------------------
    min_dist : float > 0
        A visited state farther than this from every representative becomes one.
    max_repr : int, optional
        Cap on the number of representatives (default: ``S``).
    forgetting : {"per_episode", "step0_taken_action"}
        Faithful per-episode decay of every pair, or rlberry's rule (replication variant, addendum §4.1).
    bandwidth : float in [0, 0.5 min_dist]
        Enforced (addendum §4.6).
    """

    def __init__(self, *, eta: float = 0.995, bandwidth: float = 0.35, min_dist: float = 0.7,
                 max_repr: int | None = None, forgetting: str = "per_episode", kernel: str = "gaussian",
                 beta: float = 0.01, bonus_scale: float = 0.2, c2: float = 0.02, clip: str = "stage",
                 enforce_optimism: bool = True):
        super().__init__(eta=eta, bandwidth=bandwidth, kernel=kernel, beta=beta, bonus_scale=bonus_scale, c2=c2,
                         clip=clip, enforce_optimism=enforce_optimism)
        self.min_dist = check_real(min_dist, "min_dist", low=0.0, low_open=True)
        self.max_repr = None if max_repr is None else check_int(max_repr, "max_repr", low=1)
        if self.bandwidth > 0.5 * self.min_dist:
            raise InvalidParameterError("bandwidth", f"must be <= 0.5 * min_dist = {0.5 * self.min_dist:g}, "
                                                     f"got {self.bandwidth:g}", value=self.bandwidth)
        if forgetting not in FORGETTING_RULES:
            raise InvalidParameterError("forgetting", f"must be one of {FORGETTING_RULES}, got {forgetting!r}",
                                        value=forgetting)
        self.forgetting = forgetting

    def _forgetting(self) -> Forgetting:
        return Forgetting(self.eta, 0, 0, False, self.forgetting == "step0_taken_action", FLUSH)

    def _net(self):
        return True, self.min_dist, self.max_repr

    @classmethod
    def conformance_cases(cls) -> list[dict]:
        return [{"eta": 0.9, "bandwidth": 0.5, "min_dist": 1.0},
                {"eta": 0.9, "forgetting": "step0_taken_action", "min_dist": 1.5, "bandwidth": 0.5}]


@register_algorithm
class DUCBVI(KeRNS):
    """Discounted UCBVI: KeRNS with ``bandwidth = 0`` (no smoothing), same bonus and clipping."""

    def __init__(self, *, eta: float = 0.995, beta: float = 0.01, bonus_scale: float = 0.2, c2: float = 0.02,
                 clip: str = "stage", enforce_optimism: bool = True):
        super().__init__(eta=eta, bandwidth=0.0, beta=beta, bonus_scale=bonus_scale, c2=c2, clip=clip,
                         enforce_optimism=enforce_optimism)

    @classmethod
    def conformance_cases(cls) -> list[dict]:
        return [{"eta": 0.9}]


@register_algorithm
class SWUCBVI(KeRNS):
    """Sliding-window UCBVI: only the last ``window`` episodes count (``tau(t) = 1{t < W}``), no smoothing."""

    def __init__(self, *, window: int = 400, beta: float = 0.01, bonus_scale: float = 0.2, c2: float = 0.02,
                 clip: str = "stage", enforce_optimism: bool = True):
        super().__init__(window=window, bandwidth=0.0, beta=beta, bonus_scale=bonus_scale, c2=c2, clip=clip,
                         enforce_optimism=enforce_optimism)

    @classmethod
    def conformance_cases(cls) -> list[dict]:
        return [{"window": 4}]


@register_algorithm
class RestartUCBVI(KeRNS):
    """UCBVI restarted every ``period`` episodes, at a phase drawn uniformly per replicate (addendum §4.10).

    ``reset="full"`` forgets everything; ``reset="rewards"`` zeroes the reward sums only (rlberry's
    Restart-Baseline, addendum §4.2; a replication variant).
    """

    def __init__(self, *, period: int = 350, reset: str = "full", beta: float = 0.01, bonus_scale: float = 0.2,
                 c2: float = 0.02, clip: str = "stage", enforce_optimism: bool = True):
        super().__init__(eta=1.0, bandwidth=0.0, beta=beta, bonus_scale=bonus_scale, c2=c2, clip=clip,
                         enforce_optimism=enforce_optimism)
        self.period = check_int(period, "period", low=1)
        if reset not in RESETS:
            raise InvalidParameterError("reset", f"must be one of {RESETS}, got {reset!r}", value=reset)
        self.reset = reset

    def _forgetting(self) -> Forgetting:
        return Forgetting(1.0, 0, self.period, self.reset == "rewards", False, FLUSH)

    @classmethod
    def conformance_cases(cls) -> list[dict]:
        return [{"period": 5}, {"period": 3, "reset": "rewards"}]


@register_algorithm
class UCBVINoForgetting(KeRNS):
    """UCBVI with this module's bonus and ``beta``-regularised estimates, no forgetting: KeRNS with
    ``eta = 1``, ``bandwidth = 0`` (chosen over the library's :class:`~rltheory.algorithms.UCBVI` so that
    every curve of a figure differs from KeRNS in the forgetting rule only)."""

    def __init__(self, *, beta: float = 0.01, bonus_scale: float = 0.2, c2: float = 0.02, clip: str = "stage",
                 enforce_optimism: bool = True):
        super().__init__(eta=1.0, bandwidth=0.0, beta=beta, bonus_scale=bonus_scale, c2=c2, clip=clip,
                         enforce_optimism=enforce_optimism)

    @classmethod
    def conformance_cases(cls) -> list[dict]:
        return [{}, {"clip": "horizon"}]
