"""UCBVI: optimistic value iteration with Hoeffding (CH) or Bernstein (BF) bonuses.

Azar, M. G., Osband, I. and Munos, R. (2017). *Minimax Regret Bounds for Reinforcement
Learning*. ICML 2017, arXiv:1703.05449.

Each episode ``k`` (Alg. 1) plans on the empirical model with a bonus (Alg. 2,
"UCB-Q-values")::

    V_{k,H+1} = 0
    Q_{k,h}(x, a) = min(Q_{k-1,h}(x, a), H, R(x, a) + P_hat_k V_{k,h+1}(x, a) + b_{k,h}(x, a))   if N_k(x, a) > 0
                  = H                                                                              otherwise
    V_{k,h}(x)    = max_a Q_{k,h}(x, a)

and plays a greedy policy of ``Q_{k,h}``. Bonuses, with ``L = ln(5 S A T / delta)``
and ``T = K H`` the total number of steps:

* **CH** (Alg. 3, Chernoff-Hoeffding): ``b = 7 H L sqrt(1 / N_k(x, a))``;
* **BF** (Alg. 4, Bernstein-Freedman)::

      b = sqrt(8 L Var_{y ~ P_hat_k(.|x,a)}[V_{k,h+1}(y)] / N_k(x, a)) + 14 H L / (3 N_k(x, a))
          + sqrt(8 sum_y P_hat_k(y|x,a) min(100^2 H^3 S^2 A L^2 / N'_{k,h+1}(y), H^2) / N_k(x, a))

  where ``N'_{k,h}(y)`` counts the earlier episodes that were in ``y`` at step ``h``
  (``min(., H^2) = H^2`` when ``N' = 0``).

Provenance. The paper's body could not be read for this library; the formulas above follow
two independent transcriptions of arXiv v2 (pp. 2-5) that agree with each other. The rest
of the library cites them as "Alg. 3" and "Alg. 4".

Choices made here (documented, as the paper is silent or differs):

* **Stage-dependent estimates** (``stage_dependent=True``, the default): counts and
  ``P_hat`` are kept per step ``h``. This is exactly UCBVI run on the *layered* MDP whose
  states are pairs ``(h, x)``, a stationary MDP with ``S' = S H`` states, so the paper's
  analysis applies verbatim with ``S`` replaced by ``S' = S H`` — which is what the bonuses
  use (in ``L`` and in the ``S^2`` of Alg. 4). ``stage_dependent=False`` pools counts over
  steps as in the paper (valid for stationary models only).
* **Rewards** are the empirical means of observed rewards. With ``reward_noise=None`` (the
  default) the first visit reveals ``R(x, a)`` exactly, which is the paper's known-reward
  setting (Assumption 1). Bernoulli rewards are outside the theorems.
* ``T = K H`` uses the ``episodes`` given to :meth:`UCBVI.run` (the paper's algorithm knows
  ``T``); runs of different length therefore differ from their first episode on.
* **Ties.** The paper's argmax does not say how ties are broken, and they are the rule, not
  the exception: with large bonuses every ``Q`` is clipped to ``H``, and lowest-index
  tie-breaking then never tries the other actions (RiverSwim's RIGHT is never taken). Ties
  are broken by the unclipped value ``R_hat + P_hat V + b`` (``+inf`` for untried pairs), then
  by the lowest action: still an argmax of ``Q_{k,h}``, so the analysis is unchanged. The
  StepMix prototype (spec addendum R3) reached the same rule.
* ``bonus_scale`` multiplies the bonus; 1.0 is the paper. At theory scale UCBVI learns very
  slowly at simulable ``K``, so figures also show a documented smaller scale.

Metrics (``Trace`` arrays, shape ``(replicates, episodes)``): ``regret`` = ``V*_1(mu) -
V^{pi_k}_1(mu)`` from exact evaluation of the greedy policy played; ``values`` = ``V^{pi_k}_1(mu)``;
``returns`` = the sampled return; ``optimistic_values`` = ``mu @ V_{k,1}``;
``optimism_gap`` = ``min_{h,x} (V_{k,h}(x) - V*_h(x))``, non-negative exactly when the optimistic
values dominate the optimal ones everywhere (the event the analysis works on).
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from rltheory.algorithm import register_algorithm
from rltheory.backend import asarray, get_namespace, record_to, to_numpy
from rltheory.errors import InvalidParameterError
from rltheory.kernels.counts import (
    CountState,
    ObservedSupport,
    update_counts_one,
    update_counts_reference,
    update_support_one,
)
from rltheory.kernels.planning import (
    exact_model,
    greedy_tiebreak_reference,
    optimistic_backward_induction_one,
    optimistic_backward_induction_reference,
    policy_value_update_one,
    policy_values_reference,
)
from rltheory.kernels.sampling import alias_tables, sample_episode, sample_trajectories_reference
from rltheory.models import FiniteHorizonMDP
from rltheory.runner import EpisodicLearner, check_choice, check_flag
from rltheory.validation import check_real

__all__ = ["UCBVI", "UCBVIPlanner", "ucbvi_log_term", "BONUSES", "hoeffding_bonus", "bernstein_bonus"]

BONUSES = ("hoeffding", "bernstein")
#: The arrays of a UCBVI trace, each ``(replicates, episodes)``.
TRACE_ARRAYS = ("regret", "values", "returns", "optimistic_values", "optimism_gap")


def ucbvi_log_term(S_eff: int, A: int, T: int, delta: float) -> float:
    """``L = ln(5 S A T / delta)`` of Alg. 3 and Alg. 4 (with ``S`` the number of (layered) states)."""
    return float(np.log(5.0 * S_eff * A * T / delta))


def hoeffding_bonus(n, H, L):
    """Alg. 3's bonus ``7 H L sqrt(1 / n)`` (plain formula, for tests and readers; ``n >= 1``)."""
    return 7.0 * H * L * np.sqrt(1.0 / np.asarray(n, dtype=np.float64))


def bernstein_bonus(n, var, lookahead, H, L):
    """Alg. 4's bonus ``sqrt(8 L var / n) + 14 H L / (3 n) + sqrt(8 lookahead / n)`` (plain formula),
    with ``var = Var_{P_hat}[V_{h+1}]`` and ``lookahead = sum_y P_hat(y) min(100^2 H^3 S^2 A L^2 / N'(y), H^2)``."""
    n = np.asarray(n, dtype=np.float64)
    return np.sqrt(8.0 * L * var / n) + 14.0 * H * L / (3.0 * n) + np.sqrt(8.0 * lookahead / n)


class UCBVIPlanner(NamedTuple):
    """The constants of one run's planning step (Alg. 2 with the Alg. 3 or Alg. 4 bonus)."""

    bernstein: bool  #: Alg. 4 (BF) bonus; False: Alg. 3 (CH)
    H: float  #: horizon (the clip of Alg. 2)
    L: float  #: ``ln(5 S' A T / delta)``
    S_eff: float  #: ``S' = S H`` (stage-dependent counts) or ``S``
    scale: float  #: ``bonus_scale``


class UCBVIOut(NamedTuple):
    """The per-episode outputs of a chunk, each ``(replicates, chunk)``."""

    regret: np.ndarray
    values: np.ndarray
    returns: np.ndarray
    optimistic_values: np.ndarray
    optimism_gap: np.ndarray


# ---------------------------------------------------------------------------- compiled kernels


@nb.njit(cache=True)
def hoeffding_bonus_one(inv_n, H, L, scale, bonus):
    """Alg. 3: ``bonus[h, s, a] = scale * 7 H L / sqrt(N(s, a))``, computed as ``c sqrt(1 / N)`` from
    ``inv_n (Hc, S, A)`` (:class:`~rltheory.kernels.counts.CountState`); 0 where unvisited (unused there)."""
    Hb, S, A = bonus.shape
    Hc = inv_n.shape[0]
    c = scale * 7.0 * H * L
    for h in range(Hb):
        hc = h if Hc > 1 else 0
        for s in range(S):
            for a in range(A):
                bonus[h, s, a] = c * np.sqrt(inv_n[hc, s, a])


@nb.njit(cache=True)
def bernstein_backward_induction_one(counts, Q_prev, plan, Q, V, U):
    """Alg. 2 with the Alg. 4 bonus, one replicate, in place (``Q_prev`` may be ``Q``).

    The bonus needs ``V_{k,h+1}``, so it is computed inside the backward pass. ``counts`` is one
    replicate's :class:`~rltheory.kernels.counts.CountState`, ``plan`` a :class:`UCBVIPlanner`;
    ``Q, Q_prev, U (H, S, A)``, ``V (H + 1, S)``. Every ``x / N`` of Alg. 4 is computed as ``x * inv_n``.
    """
    counts_sas, counts_sa, reward_sum, visits, inv_n = counts
    H, L, S_eff, scale = plan.H, plan.L, plan.S_eff, plan.scale
    Hq, S, A = Q.shape
    Hc = counts_sa.shape[0]
    vmax = float(H)
    c3 = 100.0 ** 2 * H ** 3 * S_eff ** 2 * A * L ** 2  # Alg. 4, third term
    h2 = float(H) ** 2
    w = np.empty(S)  # min(c3 / N'_{k,h+1}(y), H^2), once per step
    for t in range(S):
        V[Hq, t] = 0.0
    for h in range(Hq - 1, -1, -1):
        hc = h if Hc > 1 else 0
        for t in range(S):
            nv = visits[h + 1, t]
            wt = c3 / nv if nv > 0 else h2
            w[t] = wt if wt < h2 else h2
        for s in range(S):
            best = -np.inf
            for a in range(A):
                n = counts_sa[hc, s, a]
                if n == 0:
                    q = vmax
                    U[h, s, a] = np.inf
                else:
                    row = counts_sas[hc, s, a]
                    inv = inv_n[hc, s, a]
                    mean = 0.0
                    for t in range(S):
                        mean += row[t] * V[h + 1, t]
                    mean *= inv
                    var = 0.0
                    lookahead = 0.0
                    for t in range(S):
                        if row[t] > 0:
                            d = V[h + 1, t] - mean
                            var += row[t] * d * d
                            lookahead += row[t] * w[t]
                    var *= inv
                    lookahead *= inv
                    b = (np.sqrt(8.0 * L * var * inv) + 14.0 * H * L / 3.0 * inv
                         + np.sqrt(8.0 * lookahead * inv))
                    q = reward_sum[hc, s, a] * inv + mean + scale * b
                    U[h, s, a] = q
                    if q > vmax:
                        q = vmax
                    if q > Q_prev[h, s, a]:
                        q = Q_prev[h, s, a]
                Q[h, s, a] = q
                if q > best:
                    best = q
            V[h, s] = best


@nb.njit(cache=True)
def ucbvi_plan_one(plan, counts, bonus, Q, V, U):
    """One replicate's planning step, Alg. 2 with the Alg. 3 or Alg. 4 bonus (``plan.bernstein``).

    Updates ``Q (H, S, A)`` in place (it is also ``Q_{k-1}``), writes ``V (H + 1, S)``, the unclipped
    values ``U (H, S, A)`` and, for Alg. 3, the bonus into the scratch array ``bonus (H, S, A)``.
    """
    if plan.bernstein:
        bernstein_backward_induction_one(counts, Q, plan, Q, V, U)
    else:
        hoeffding_bonus_one(counts.inv_n, plan.H, plan.L, plan.scale, bonus)
        optimistic_backward_induction_one(counts.counts_sas, counts.counts_sa, counts.reward_sum, counts.inv_n, bonus,
                                          Q, float(plan.H), Q, V, U)


class UCBVISupport(NamedTuple):
    """What the compiled episode loop keeps besides the counts (one leading replicate axis each).

    ``support`` the observed successor lists (:class:`~rltheory.kernels.counts.ObservedSupport`);
    ``bonus (n, Hc, S, A)`` Alg. 3's bonus of every visited pair, refreshed when its count changes
    (unused by Alg. 4, whose bonus depends on ``V_{k,h+1}``); ``fresh (n, Hc, S, A)`` uint8, 1 for the
    pairs whose counts changed since the last planning step.
    """

    support: ObservedSupport
    bonus: np.ndarray
    fresh: np.ndarray


class UCBVIBuffers(NamedTuple):
    """One replicate's planning tables, kept from one episode to the next inside a chunk.

    ``V (H + 1, S)`` optimistic values, ``U (H, S, A)`` unclipped values (the tie-break), ``w (H, S)``
    Alg. 4's ``min(c3 / N'_{k,h+1}(y), H^2)``, ``T3 (H, S, A)`` Alg. 4's third term ``sqrt(8 lookahead / N)``,
    ``policy (H, S)`` the greedy policy, ``changed (2, S)`` uint8 marks of the values ``V`` that changed in the
    current pass (two steps), ``gap (1,)`` the optimism gap, ``rows (max(S, H),)`` int64 scratch.
    """

    V: np.ndarray
    U: np.ndarray
    w: np.ndarray
    T3: np.ndarray
    policy: np.ndarray
    changed: np.ndarray
    gap: np.ndarray
    rows: np.ndarray


@nb.njit(cache=True)
def ucbvi_plan_support_one(plan, counts, fast, V_star, Q, buf, last_states, full):
    """One replicate's planning step (Alg. 2, Alg. 3 or Alg. 4 bonus) and its greedy policy, in place.

    The same numbers, bit for bit, as :func:`ucbvi_plan_one` followed by
    :func:`~rltheory.kernels.planning.greedy_tiebreak_one`, computed with less work:

    * sums run over the observed successor lists (:class:`~rltheory.kernels.counts.ObservedSupport`)
      instead of whole rows of ``counts_sas``: the zero terms skipped change no bit;
    * the Alg. 3 bonus is read from ``fast.bonus`` (kept by :func:`refresh_hoeffding_bonus_one`), Alg. 4's
      third term from ``buf.T3``;
    * a pair is recomputed only when an input of its update changed since the previous call: its counts
      (``fast.fresh``: the pairs of the previous episode, whose states are ``last_states (H + 1,)``),
      ``V_{k,h+1}`` at one of its observed next states, or (Alg. 4) ``w`` there (``N'_{k,h+1}`` changed only
      at ``last_states[h + 1]``). Otherwise its unclipped value ``U`` is the same as before, and
      ``Q = min(Q_prev, H, U)`` with ``Q_prev <= U`` is ``Q_prev``: recomputing it would give the same bits.
      Only the rows of the previous episode's pairs are visited unless some ``V_{k,h+1}`` or ``w`` changed.
    * ``V`` never increases (``Q_k <= Q_{k-1}``), so the optimism gap is the previous one or a changed value's.

    ``buf`` (:class:`UCBVIBuffers`) must hold the previous call's results unless ``full`` (recompute
    everything, as on a first call; ``last_states`` is then unused). ``Q (H, S, A)`` is ``Q_{k-1}`` on entry and
    ``Q_k`` on exit. Clears ``fast.fresh``. Returns ``(top, gap)``: ``top`` the highest step whose greedy
    action changed (``-1``: none; ``H - 1`` when ``full``), ``gap = min_{h < H, s} V[h, s] - V_star[h, s]``.
    """
    counts_sas, counts_sa, reward_sum, visits, inv_n = counts
    (nxt, cnt, size), bonus, fresh = fast
    V, U, w, T3, policy, changed, gapv, rows = buf
    H, L, S_eff, scale = plan.H, plan.L, plan.S_eff, plan.scale
    Hq, S, A = Q.shape
    Hc = counts_sa.shape[0]
    vmax = float(H)
    c3 = 100.0 ** 2 * H ** 3 * S_eff ** 2 * A * L ** 2  # Alg. 4, third term
    h2 = float(H) ** 2
    top = Hq - 1 if full else -1
    gap = np.inf if full else gapv[0]
    for t in range(S):
        V[Hq, t] = 0.0
        changed[Hq % 2, t] = 0
    scan_v = False  # did V[h + 1] change anywhere?
    for h in range(Hq - 1, -1, -1):
        hc = h if Hc > 1 else 0
        hn, hh = (h + 1) % 2, h % 2  # rows of ``changed`` for steps h + 1 and h
        w_t = -1
        if plan.bernstein:
            # w[h, t] = min(c3 / N'_{k,h+1}(t), H^2); N'_{k,h+1} changed only at last_states[h + 1]
            lo, hi = (0, S) if full else (last_states[h + 1], last_states[h + 1] + 1)
            for t in range(lo, hi):
                nv = visits[h + 1, t]
                wt = c3 / nv if nv > 0 else h2
                wt = wt if wt < h2 else h2
                if full or wt != w[h, t]:
                    w[h, t] = wt
                    w_t = t
        for t in range(S):
            changed[hh, t] = 0
        # the rows to visit: all of them, or those of the previous episode's pairs
        if full or scan_v or w_t >= 0:
            n_rows = S
            for t in range(S):
                rows[t] = t
        elif Hc > 1:
            n_rows = 1
            rows[0] = last_states[h]
        else:
            n_rows = Hq
            for j in range(Hq):
                rows[j] = last_states[j]
        for i in range(n_rows):
            s = rows[i]
            touched = False
            for a in range(A):
                m = size[hc, s, a]
                wd = full or fresh[hc, s, a] != 0  # inputs of Alg. 4's third term changed
                if not wd and w_t >= 0:
                    for j in range(m):
                        if nxt[hc, s, a, j] == w_t:
                            wd = True
                            break
                vd = wd
                if not vd and scan_v:
                    for j in range(m):
                        if changed[hn, nxt[hc, s, a, j]]:
                            vd = True
                            break
                if not vd:
                    continue
                touched = True
                n = counts_sa[hc, s, a]
                if n == 0:
                    Q[h, s, a] = vmax
                    U[h, s, a] = np.inf
                    continue
                inv = inv_n[hc, s, a]
                if plan.bernstein:
                    mean = 0.0
                    for j in range(m):
                        mean += cnt[hc, s, a, j] * V[h + 1, nxt[hc, s, a, j]]
                    mean *= inv
                    var = 0.0
                    for j in range(m):
                        d = V[h + 1, nxt[hc, s, a, j]] - mean
                        var += cnt[hc, s, a, j] * d * d
                    var *= inv
                    if wd:
                        lookahead = 0.0
                        for j in range(m):
                            lookahead += cnt[hc, s, a, j] * w[h, nxt[hc, s, a, j]]
                        lookahead *= inv
                        T3[h, s, a] = np.sqrt(8.0 * lookahead * inv)
                    b = (np.sqrt(8.0 * L * var * inv) + 14.0 * H * L / 3.0 * inv + T3[h, s, a])
                    q = reward_sum[hc, s, a] * inv + mean + scale * b
                else:
                    acc = 0.0
                    for j in range(m):
                        acc += cnt[hc, s, a, j] * V[h + 1, nxt[hc, s, a, j]]
                    q = (reward_sum[hc, s, a] + acc) * inv + bonus[hc, s, a]
                U[h, s, a] = q
                if q > vmax:
                    q = vmax
                if q > Q[h, s, a]:
                    q = Q[h, s, a]
                Q[h, s, a] = q
            if not touched:
                continue
            best = -np.inf
            for a in range(A):
                if Q[h, s, a] > best:
                    best = Q[h, s, a]
            if full or best != V[h, s]:
                V[h, s] = best
                changed[hh, s] = 1
                d = best - V_star[h, s]
                if d < gap:
                    gap = d
            # greedy_tiebreak_one's rule: the first argmax of Q, ties broken by the larger U
            choice = 0
            for a in range(1, A):
                q, qb = Q[h, s, a], Q[h, s, choice]
                if q > qb or (q == qb and U[h, s, a] > U[h, s, choice]):
                    choice = a
            if choice != policy[h, s]:
                policy[h, s] = choice
                if top < 0:
                    top = h
        scan_v = False
        for t in range(S):
            if changed[hh, t]:
                scan_v = True
                break
    gapv[0] = gap
    fresh[...] = 0
    return top, gap


@nb.njit(cache=True)
def refresh_hoeffding_bonus_one(plan, inv_n, bonus, states, actions):
    """Alg. 3's bonus ``scale 7 H L sqrt(1 / N)`` of the pairs an episode visited (``bonus, inv_n (Hc, S, A)``).

    The same expression as :func:`hoeffding_bonus_one`, so the same bits; only the visited pairs' counts
    changed, so only theirs are recomputed.
    """
    c = plan.scale * 7.0 * plan.H * plan.L
    Hc = inv_n.shape[0]
    for h in range(actions.shape[0]):
        hc = h if Hc > 1 else 0
        s = states[h]
        a = actions[h]
        bonus[hc, s, a] = c * np.sqrt(inv_n[hc, s, a])


@nb.njit(parallel=True, cache=True)
def _ucbvi_chunk(tables, model, counts, fast, Q, plan, u, out):
    """Episodes of a chunk for every replicate (``prange``): plan, act greedily, evaluate exactly, update.

    ``tables`` (:class:`~rltheory.kernels.sampling.AliasTables`) sample the true model, ``model``
    (:class:`~rltheory.kernels.planning.ExactModel`) evaluates the played policy exactly; ``counts``
    (:class:`~rltheory.kernels.counts.CountState`), ``fast`` (:class:`UCBVISupport`) and ``Q (n, H, S, A)``
    are the learner's state; ``u (n, chunk, 1 + 3H)``; ``out`` a :class:`UCBVIOut`.

    The played policy's value is recomputed only from the highest step where its action changed
    (:func:`~rltheory.kernels.planning.policy_value_update_one`): the rows above are unchanged.
    """
    n_rep, n_ep, _ = u.shape
    _, Hq, S, A = Q.shape
    # unpack the records before prange (writes through a record's field inside prange are lost)
    P_prob, P_alias, mu_prob, mu_alias, R, bernoulli, P_next = tables
    P, P_eval_next, R_eval, mu, V_star = model
    counts_sas, counts_sa, reward_sum, visits, inv_n = counts
    (sup_next, sup_counts, sup_size), bonus_all, fresh_all = fast
    regret, values, returns, optimistic_values, optimism_gap = out
    for r in nb.prange(n_rep):
        V = np.empty((Hq + 1, S))
        policy = np.full((Hq, S), -1, np.int64)  # no policy yet
        buf = UCBVIBuffers(V, np.empty((Hq, S, A)), np.empty((Hq, S)), np.empty((Hq, S, A)), policy,
                           np.zeros((2, S), np.uint8), np.empty(1), np.empty(max(S, Hq), np.int64))
        W = np.zeros((Hq + 1, S))  # values of the policy played (W[H] = 0)
        states = np.empty(Hq + 1, np.int64)
        actions = np.empty(Hq, np.int64)
        rewards = np.empty(Hq)
        Qr = Q[r]
        bonus = bonus_all[r]
        fresh = fresh_all[r]
        cr = CountState(counts_sas[r], counts_sa[r], reward_sum[r], visits[r], inv_n[r])
        sr = ObservedSupport(sup_next[r], sup_counts[r], sup_size[r])
        fr = UCBVISupport(sr, bonus, fresh)
        for e in range(n_ep):
            # plan: Alg. 2 with the Alg. 3 or Alg. 4 bonus, and the greedy policy (everything at a chunk's start)
            top, gap = ucbvi_plan_support_one(plan, cr, fr, V_star, Qr, buf, states, e == 0)
            # exact value of the policy played (rows above the highest changed step kept)
            v = policy_value_update_one(P, P_eval_next, R_eval, mu, policy, top, W)
            vo = 0.0
            vs = 0.0
            for s in range(S):
                vo += mu[s] * V[0, s]
                vs += mu[s] * V_star[0, s]
            values[r, e] = v
            regret[r, e] = vs - v
            optimistic_values[r, e] = vo
            optimism_gap[r, e] = gap
            # act (Alg. 1) and record
            sample_episode(P_prob, P_alias, P_next, mu_prob, mu_alias, R, bernoulli, policy, u[r, e], states, actions,
                           rewards)
            g = 0.0
            for h in range(Hq):
                g += rewards[h]
            returns[r, e] = g
            update_counts_one(cr, states, actions, rewards)
            update_support_one(sr, states, actions)
            Hc = fresh.shape[0]
            for h in range(Hq):
                fresh[h if Hc > 1 else 0, states[h], actions[h]] = 1
            if not plan.bernstein:
                refresh_hoeffding_bonus_one(plan, cr.inv_n, bonus, states, actions)


# ---------------------------------------------------------------------------- reference twins


def hoeffding_bonus_reference(inv_n, H, L, scale, H_steps):
    """Twin of :func:`hoeffding_bonus_one`, batched: ``(n, H, S, A)``."""
    xp = get_namespace(inv_n)
    n, Hc, S, A = inv_n.shape
    inv = xp.broadcast_to(inv_n, (n, H_steps, S, A)) if Hc == 1 else inv_n
    return (scale * 7.0 * H * L) * xp.sqrt(inv)


def bernstein_backward_induction_reference(counts, Q_prev, plan):
    """Twin of :func:`bernstein_backward_induction_one`, batched over replicates: ``(Q, V, U)``."""
    counts_sas, counts_sa, reward_sum, visits, inv_n = counts
    H, L, S_eff, scale = plan.H, plan.L, plan.S_eff, plan.scale
    xp = get_namespace(counts_sas)
    n, Hq, S, A = Q_prev.shape
    Hc = counts_sa.shape[1]
    c3 = 100.0 ** 2 * H ** 3 * S_eff ** 2 * A * L ** 2
    Q = xp.empty_like(Q_prev)
    U = xp.empty_like(Q_prev)
    V = xp.zeros((n, Hq + 1, S))
    for h in range(Hq - 1, -1, -1):
        hc = h if Hc > 1 else 0
        C = counts_sas[:, hc]                      # (n, S, A, S)
        N = counts_sa[:, hc]                       # (n, S, A)
        inv = inv_n[:, hc]
        Vn = V[:, h + 1][:, None, None, :]         # (n, 1, 1, S)
        mean = xp.sum(C * Vn, axis=-1) * inv
        var = xp.sum(C * (Vn - mean[..., None]) ** 2, axis=-1) * inv
        nv = visits[:, h + 1][:, None, None, :]
        w = xp.minimum(xp.where(nv > 0, c3 / xp.maximum(nv, 1), H ** 2), float(H) ** 2)
        lookahead = xp.sum(C * w, axis=-1) * inv
        b = xp.sqrt(8.0 * L * var * inv) + 14.0 * H * L / 3.0 * inv + xp.sqrt(8.0 * lookahead * inv)
        u = reward_sum[:, hc] * inv + mean + scale * b
        U[:, h] = xp.where(N == 0, xp.inf, u)
        q = xp.minimum(xp.minimum(u, float(H)), Q_prev[:, h])
        Q[:, h] = xp.where(N == 0, float(H), q)
        V[:, h] = Q[:, h].max(axis=-1)
    return Q, V, U


def ucbvi_plan_reference(plan, counts, Q):
    """Twin of :func:`ucbvi_plan_one`, batched over replicates: updates ``Q`` in place, returns ``(V, U)``."""
    if plan.bernstein:
        Q_new, V, U = bernstein_backward_induction_reference(counts, Q, plan)
    else:
        bonus = hoeffding_bonus_reference(counts.inv_n, plan.H, plan.L, plan.scale, Q.shape[1])
        Q_new, V, U = optimistic_backward_induction_reference(counts.counts_sas, counts.counts_sa, counts.reward_sum,
                                                              counts.inv_n, bonus, Q, float(plan.H))
    Q[...] = Q_new
    return V, U


def _ucbvi_chunk_reference(tables, model, counts, Q, plan, u, out):
    """Twin of :func:`_ucbvi_chunk`: a Python loop over episodes, vectorised over replicates."""
    n, n_ep, _ = u.shape
    mu, V_star = model.mu, model.V_star
    for e in range(n_ep):
        V, U = ucbvi_plan_reference(plan, counts, Q)
        policy = greedy_tiebreak_reference(Q, U)
        out.values[:, e] = policy_values_reference(model.P, model.P_next, model.R, mu, policy)
        out.regret[:, e] = V_star[0] @ mu - out.values[:, e]
        out.optimistic_values[:, e] = V[:, 0] @ mu
        out.optimism_gap[:, e] = (V[:, :-1] - V_star[None, :-1]).min(axis=(1, 2))
        states, actions, rewards = sample_trajectories_reference(tables, policy, u[:, e])
        out.returns[:, e] = rewards.sum(axis=1)
        update_counts_reference(counts, states, actions, rewards)


class _UCBVIState(NamedTuple):
    tables: object
    model: object
    counts: CountState
    fast: UCBVISupport | None  # compiled path only
    Q: np.ndarray
    plan: UCBVIPlanner
    v_star: float
    xp: object


# ---------------------------------------------------------------------------- the learner


@register_algorithm
class UCBVI(EpisodicLearner):
    """UCBVI-CH / UCBVI-BF (Azar, Osband & Munos 2017, Alg. 1-4).

    Parameters
    ----------
    bonus : {"hoeffding", "bernstein"}
        Alg. 3 (CH) or Alg. 4 (BF).
    delta : float in (0, 1)
        Confidence level of the theorems: their bounds hold with probability ``1 - delta``.
    bonus_scale : float >= 0
        Multiplies the bonus; 1.0 is the paper's constants.
    stage_dependent : bool
        Per-step estimates (the layered MDP, ``S' = S H``; default) or pooled over steps (the
        paper's stationary setting; needs a stationary model).

    Examples
    --------
    >>> from rltheory.mdps import riverswim
    >>> trace = UCBVI(bonus="bernstein", bonus_scale=0.1).run(riverswim(), 200, replicates=4, seed=0)
    >>> trace.regret.shape
    (4, 200)
    """

    backends = ("numba", "numpy", "cupy")
    trace_arrays = TRACE_ARRAYS

    def __init__(self, *, bonus: str = "hoeffding", delta: float = 0.1, bonus_scale: float = 1.0,
                 stage_dependent: bool = True):
        self.bonus = check_choice(bonus, "bonus", BONUSES)
        self.delta = check_real(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
        self.bonus_scale = check_real(bonus_scale, "bonus_scale", low=0.0)
        self.stage_dependent = check_flag(stage_dependent, "stage_dependent")

    @classmethod
    def conformance_cases(cls) -> list[dict]:
        return [{"bonus": "hoeffding", "bonus_scale": 0.2}, {"bonus": "bernstein", "bonus_scale": 0.05},
                {"bonus": "hoeffding", "stage_dependent": False}]

    @classmethod
    def supports(cls, model, params: dict) -> bool:
        return params.get("stage_dependent", True) or model.stationary

    def log_term(self, mdp: FiniteHorizonMDP, episodes: int) -> float:
        """``L = ln(5 S' A T / delta)`` for this model and budget (``S' = S H`` when stage-dependent)."""
        return ucbvi_log_term(self._effective_states(mdp), mdp.A, episodes * mdp.H, self.delta)

    def _effective_states(self, mdp):
        return mdp.S * mdp.H if self.stage_dependent else mdp.S

    @property
    def label(self) -> str:
        return f"UCBVI-{self.bonus[:1].upper()}"

    def check_model(self, mdp) -> None:
        if not self.stage_dependent and not mdp.stationary:
            raise InvalidParameterError("stage_dependent", "False (pooled counts) needs a stationary model",
                                        value=False)

    def state_bytes(self, mdp) -> int:
        H, S, A = mdp.H, mdp.S, mdp.A
        Hc = H if self.stage_dependent else 1
        K = mdp.successors[0].shape[-1]  # capacity of the observed successor lists (compiled path)
        return 8 * (Hc * S * A * (S + 3) + (H + 1) * S + H * S * A + Hc * S * A * (2 * K + 2))

    def start(self, mdp, run):
        """Counts, ``Q = H`` (Alg. 2 starts from ``Q_0 = H``), the planner's constants and the exact model."""
        n, H, S, A = run.replicates, mdp.H, mdp.S, mdp.A
        xp = get_namespace(asarray(np.zeros(1), run.backend))
        model = exact_model(mdp, successor_lists=run.backend == "numba")
        model = record_to(model, run.backend)  # constant tables go to the device once per run
        plan = UCBVIPlanner(self.bonus == "bernstein", float(H), self.log_term(mdp, run.episodes),
                            float(self._effective_states(mdp)), self.bonus_scale)
        counts = CountState.zeros(n, H, S, A, stage_dependent=self.stage_dependent, xp=xp)
        fast = None
        if run.backend == "numba":
            capacity = mdp.successors[0].shape[-1]  # observed next states lie in the true support
            Hc = H if self.stage_dependent else 1
            fast = UCBVISupport(ObservedSupport.zeros(n, H, S, A, capacity, stage_dependent=self.stage_dependent),
                                np.zeros((n, Hc, S, A)), np.zeros((n, Hc, S, A), np.uint8))
        tables = record_to(alias_tables(mdp), run.backend)
        return _UCBVIState(tables, model, counts, fast, xp.full((n, H, S, A), float(H)), plan,
                           float(mdp.mu @ model.V_star[0]) if run.backend != "cupy" else None, xp)

    def step(self, state, u, start, out):
        _ucbvi_chunk(state.tables, state.model, state.counts, state.fast, state.Q, state.plan, u,
                     UCBVIOut(*(out[k] for k in TRACE_ARRAYS)))

    def step_reference(self, state, u, start, out):
        xp = state.xp
        chunk = UCBVIOut(*(xp.empty(out[k].shape) for k in TRACE_ARRAYS))
        _ucbvi_chunk_reference(state.tables, state.model, state.counts, state.Q, state.plan, asarray(u, "cupy")
                               if xp is not np else u, chunk)
        for k, v in zip(TRACE_ARRAYS, chunk, strict=True):
            out[k][...] = to_numpy(v)

    def run_meta(self, state) -> dict:
        return {"log_term": state.plan.L}
