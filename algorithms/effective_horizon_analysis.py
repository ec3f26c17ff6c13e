"""Exact effective-horizon analysis of a tabular MDP: the engine behind the definitions of
:mod:`rltheory.bounds.effective_horizon` (``min_k``, ``epw``, the simple effective horizon, greedy returns).

Papers. Laidlaw, Russell & Dragan, *Bridging RL Theory and Practice with the Effective Horizon*,
NeurIPS 2023, arXiv:2304.09853 (GORP, ``k``-QVI-solvability, the effective planning window, the
effective horizon and its Theorem 5.4 bound); Laidlaw, Zhu, Russell & Dragan, *The Effective Horizon
Explains Deep RL Performance in Stochastic Environments*, ICLR 2024, arXiv:2312.08369 (the same
notions on stochastic MDPs, SQIRL).

Provenance. The papers' full text could not be retrieved for this library (only their abstracts,
summaries and the four ICLR reviews). Everything below follows the authors' public analysis code
(cassidylaidlaw/effective-horizon: ``EffectiveHorizon.jl/src/value_iteration.jl``,
``gorp_bounds.jl``, ``analyze_mdp.jl``, ``analyze_sticky_actions.jl``), which the project's spec
(C2.3, C2.4) digests; it was re-implemented here from that description, not copied. Where the code is
silent for stochastic models (the simple effective-horizon bound is written for deterministic ones)
the generalisation is marked *reconstructed*.

Why here. ``bounds/`` holds theorem bounds and measure *definitions* as short pure functions; this is
an analysis *engine* (reachable-state backward passes, ``k``-step iterates, forward walks, compiled with
NumPy twins) specific to the effective-horizon papers, so it is paper code, not core code (the core has
no notion of ``k``-QVI-solvability), and it sits on the algorithms floor beside GORP and SQIRL, whose
sample complexity it explains. It imports the core only (floors import downwards; ``algorithms`` does not
import ``bounds``): the constants of the authors' analysis code (:data:`REWARD_PRECISION`,
:data:`GREEDY_MAX_K`) are defined here, and :func:`~.effective_horizon_walks._log_count` is the compiled twin of
:func:`rltheory.bounds.effective_horizon.log_sample_count` (a test checks they agree). The kernels:
:mod:`.effective_horizon_values` (reachability, ``V*, V^rand, V^worst``), :mod:`.effective_horizon_iterates`
(``Q^k`` and per-step summaries, the lookahead iterates), :mod:`.effective_horizon_variance` (successor lists,
Theorem 5.4's variance bounds), :mod:`.effective_horizon_walks` (the forward walks),
:mod:`.effective_horizon_sticky` (the iterates of sticky-action models, factored).

Everything is computed only on the states reachable at each step (under any actions), with
compiled kernels (Numba) that each have a NumPy reference twin (``*_reference``). Work is shared between the
``k`` without changing a bit of any result (tests compare with the twins and with a direct implementation of
the definitions): ``Q^{k+1}`` is one backup of ``Q^k`` on the steps ``t < H - k`` only (the rest is ``Q*``, whose
summaries are computed once); on stationary models the effective-planning-window iterates do not depend on
``t`` below ``H - k`` and take one ``(S, A)`` pass per ``k``; the variance bounds are backed up once per ``k``
on groups of states with the same successor set (sticky-action models: ``A`` states per group); each ``k``
takes both forward walks in one pass over summaries stored as ``uint8`` masks. Kernels that sweep states run
in parallel over fixed blocks (results do not depend on the number of threads); with two threads or more the
walks of ``k`` run beside the iterate of ``k + 1`` (double-buffered summaries). On a sticky-action model (checked
on its arrays) the iterates run in factored form, ``Q((g, b), a) = (1 - p) X(g, a) + p X(g, b)``: ``A`` times less
work per backup, the same results where the arithmetic is exact and to rounding elsewhere, with one caveat on
exact argmax ties that the module explains (``factor_sticky=False`` runs the general kernel). The sticky
UnlockPickup BRIDGE MDP (97,811 reachable states, ``H = 100``, 53 iterates) is timed by ``benchmarks/sqirl.py``.

Reward units. BRIDGE models are normalised into ``[0, 1]`` by an affine map recorded in
``mdp.meta["reward_map"]`` (:mod:`rltheory.mdps.bridge`): ``precision`` is converted to the model's
units, and :class:`EffectiveHorizonAnalysis` reports values in both units.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import math
import time

import numba
import numpy as np

from rltheory.errors import InvalidModelError, InvalidParameterError
from rltheory.models import FiniteHorizonMDP
from rltheory.validation import check_int, check_real

from .effective_horizon_iterates import (
    _iterate,
    _iterate_reference,
    _lookahead,
    _lookahead_reference,
    _star_summaries,
    _star_summaries_reference,
    mask_dtype,
)
from .effective_horizon_sticky import (
    _sticky_iterate,
    _sticky_iterate_reference,
    factored_sweep,
    sticky_layout,
    summary_columns,
)
from .effective_horizon_values import _q_reference, _values, _values_reference, reachable, reachable_reference, spans
from .effective_horizon_variance import _var_step, _var_step_reference, successor_lists, successor_lists_reference
from .effective_horizon_walks import _greedy_worst, _greedy_worst_reference, _log_count, _walks, _walks_reference

__all__ = [
    "REWARD_PRECISION",
    "GREEDY_MAX_K",
    "MAX_ACTIONS",
    "EffectiveHorizonAnalysis",
    "ValueFunctions",
    "analyze",
    "value_functions",
    "q_iterates",
    "q_values_from",
    "reachable",
    "reachable_reference",
    "default_precision",
]

#: Tolerance for "optimal": ``Q*(s, a) >= V*(s) - 1e-4`` in the file's reward units (authors' code,
#: ``REWARD_PRECISION``; "None of the MDPs should have reward increments of less than 1e-3").
REWARD_PRECISION = 1e-4
#: Greedy returns are computed for ``k = 1..GREEDY_MAX_K`` (authors' ``--max_k`` default, 5).
GREEDY_MAX_K = 5
#: Largest number of actions of :func:`analyze` (action sets are stored as 64-bit masks).
MAX_ACTIONS = 64


def _log_term(H: int, A: int, k: int) -> float:
    """``ln(2 H A^k)`` as the authors compute it; twin of :func:`rltheory.bounds.effective_horizon._log_term`."""
    power = float(A) ** k if k * math.log(max(A, 1)) < 690 else math.inf
    return math.log(2.0 * H * power) if math.isfinite(power) else math.log(2.0 * H) + k * math.log(A)


_KERNELS = {
    "numba": dict(reachable=reachable, values=_values, star=_star_summaries, iterate=_iterate, lookahead=_lookahead,
                  successor_lists=successor_lists, var_step=_var_step, walks=_walks, greedy_worst=_greedy_worst,
                  sticky_iterate=_sticky_iterate),
    "numpy": dict(reachable=reachable_reference, values=_values_reference, star=_star_summaries_reference,
                  iterate=_iterate_reference, lookahead=_lookahead_reference,
                  successor_lists=successor_lists_reference, var_step=_var_step_reference, walks=_walks_reference,
                  greedy_worst=_greedy_worst_reference, sticky_iterate=_sticky_iterate_reference),
}


@dataclasses.dataclass(frozen=True)
class ValueFunctions:
    """Values of the optimal, uniformly random and worst policies, each ``(H + 1, S)``.

    Entries of states unreachable at a step are NaN unless computed on all states.
    """

    v_star: np.ndarray
    v_random: np.ndarray
    v_worst: np.ndarray


@dataclasses.dataclass(frozen=True)
class EffectiveHorizonAnalysis:
    """Result of :func:`analyze`. Values are expectations under ``mu`` at step 0.

    Attributes
    ----------
    name, horizon, num_actions, num_states : the model.
    n_reachable : distinct states reachable at some step ``0..H-1`` (aliases merged).
    min_k : least ``k`` for which the MDP is ``k``-QVI-solvable (``<= H``).
    epw : effective planning window.
    effective_horizon : Theorem 5.4's simple bound ``min_k H_k`` (``H`` if no ``k < H`` works).
    v_star, v_random, v_worst : optimal, uniform-random and worst values (model units).
    v_star_original, v_random_original, v_worst_original : the same in the file's reward units
        (equal to the above without a ``reward_map``).
    greedy_returns : ``(GREEDY_MAX_K,)`` worst-case return of ``Q^k``-greedy policies, ``k = 1..5`` (model units).
    greedy_returns_original : the same in file units.
    ks : int ``(n,)`` the ``k`` tried by the effective-horizon loop that work; ``horizons_k (n,)`` their
        ``H_k``; ``log_ms (n,)`` ``ln m_k``; ``gaps (n,)``, ``variances (n,)`` at the state with the
        largest ``m``; ``min_gaps (n,)`` the smallest gap over the walk.
    precision : optimality tolerance used (model units).
    seconds : wall time of the analysis.
    factored : whether the iterates ran factored (sticky-action model, :mod:`.effective_horizon_sticky`).
    """

    name: str
    horizon: int
    num_actions: int
    num_states: int
    n_reachable: int
    min_k: int
    epw: int
    effective_horizon: float
    v_star: float
    v_random: float
    v_worst: float
    v_star_original: float
    v_random_original: float
    v_worst_original: float
    greedy_returns: np.ndarray
    greedy_returns_original: np.ndarray
    ks: np.ndarray
    horizons_k: np.ndarray
    log_ms: np.ndarray
    gaps: np.ndarray
    variances: np.ndarray
    min_gaps: np.ndarray
    precision: float
    seconds: float
    factored: bool = False

    def horizon_k(self, k: int) -> float:
        """``H_k`` for a ``k`` that works (``inf`` otherwise)."""
        hit = np.flatnonzero(self.ks == k)
        return float(self.horizons_k[hit[0]]) if hit.size else math.inf

    def best_k(self) -> int:
        """The ``k`` achieving the effective horizon (``min_k`` when no ``k < H`` works)."""
        if self.ks.size == 0:
            return self.min_k
        return int(self.ks[int(np.argmin(self.horizons_k))])

    def row(self) -> dict:
        """The headline numbers as a flat dict (file units), for tables and JSON."""
        return {"mdp": self.name, "H": self.horizon, "A": self.num_actions, "reachable states": self.n_reachable,
                "min_k": self.min_k, "epw": self.epw, "effective horizon": self.effective_horizon,
                "V*": self.v_star_original, "V random": self.v_random_original, "V worst": self.v_worst_original,
                "seconds": self.seconds}


def default_precision(mdp: FiniteHorizonMDP) -> float:
    """:data:`REWARD_PRECISION` in the model's units (divided by the BRIDGE reward map's scale)."""
    rmap = mdp.meta.get("reward_map") or {}
    return REWARD_PRECISION / float(rmap.get("scale", 1.0))


def _arrays(mdp):
    """``(nxt, pr, R, start)`` with ``R`` collapsed to ``(1, S, A)`` when it does not depend on the step."""
    if not isinstance(mdp, FiniteHorizonMDP):
        raise InvalidModelError("mdp", f"must be a FiniteHorizonMDP, got {type(mdp).__name__}",
                                value=type(mdp).__name__)
    nxt, pr = mdp.successors
    R = mdp.R
    if (R == R[:1]).all():
        R = R[:1]
    start = np.flatnonzero(mdp.mu > 0).astype(np.int64)
    return nxt, pr, np.ascontiguousarray(R), start


def _kernels(backend):
    if backend is None:
        backend = "numba"
    if not isinstance(backend, str) or backend not in _KERNELS:
        raise InvalidParameterError("backend", f"must be one of {tuple(_KERNELS)} or None, got {backend!r}",
                                    value=backend)
    return _KERNELS[backend]


def _all_states(S, H):
    return np.arange(H + 1, dtype=np.int64) * S, np.tile(np.arange(S, dtype=np.int64), H)


def _mask(ptr, idx, S):
    """State-major reachability mask ``(S, H)`` from the CSR lists."""
    H = ptr.shape[0] - 1
    M = np.zeros((S, H), np.bool_)
    M[idx, np.repeat(np.arange(H), np.diff(ptr))] = True
    return M


def _state_major(V):
    return np.ascontiguousarray(V.T)


def _value_arrays(kern, nxt, pr, R, ptr, idx, H, S):
    """``Vs, Vr, Vw, W1`` state-major ``(S, H + 1)`` (0 where unreachable: every array stays finite)."""
    Vs, Vr, Vw, W1 = (np.zeros((H + 1, S)) for _ in range(4))
    kern["values"](nxt, pr, R, ptr, idx, Vs, Vr, Vw, W1)
    return tuple(_state_major(V) for V in (Vs, Vr, Vw, W1))


def value_functions(mdp: FiniteHorizonMDP, *, reachable_only: bool = False, backend=None) -> ValueFunctions:
    """``V*``, ``V^rand`` (clamped into ``[V^worst, V*]``) and ``V^worst``, each ``(H + 1, S)`` (step-major).

    ``reachable_only=True`` computes them only where a state is reachable at a step (NaN elsewhere).
    """
    kern = _kernels(backend)
    nxt, pr, R, start = _arrays(mdp)
    H, S = mdp.H, mdp.S
    ptr, idx = kern["reachable"](nxt, pr, start, H) if reachable_only else _all_states(S, H)
    out = [V.T.copy() for V in _value_arrays(kern, nxt, pr, R, ptr, idx, H, S)[:3]]
    if reachable_only:
        unreachable = ~_mask(ptr, idx, S).T
        for V in out:
            V[:H][unreachable] = np.nan
    return ValueFunctions(*out)


def q_values_from(mdp: FiniteHorizonMDP, V: np.ndarray) -> np.ndarray:
    """``Q_t(s, a) = R_t(s, a) + E V[t + 1, s']`` on all states, ``(H, S, A)``, for step-major ``V (H + 1, S)``."""
    nxt, pr, R, _ = _arrays(mdp)
    Vsm = _state_major(np.asarray(V, dtype=np.float64))
    states = np.arange(mdp.S)
    return np.stack([_q_reference(nxt, pr, R, t, states, Vsm, t + 1) for t in range(mdp.H)])


def q_iterates(mdp: FiniteHorizonMDP, k_max: int, *, start: str = "random") -> np.ndarray:
    """The iterates ``Q^1..Q^{k_max}`` on all states, ``(k_max, H, S, A)`` (dense NumPy: small models only).

    ``start="random"``: ``Q^1 = Q^rand`` (the ``k``-QVI iterates); ``start="rewards"``: ``Q^1 = R`` (the
    effective-planning-window iterates, i.e. ``k``-step lookahead values). Computed on every step with no
    shortcut, so ``Q^k_t = Q*_t`` for ``t >= H - k`` is a checkable fact, not an assumption.
    """
    k_max = check_int(k_max, "k_max", low=1)
    if not isinstance(start, str) or start not in ("random", "rewards"):
        raise InvalidParameterError("start", f"must be 'random' or 'rewards', got {start!r}", value=start)
    nxt, pr, R, _ = _arrays(mdp)
    H, S = mdp.H, mdp.S
    ptr, idx = _all_states(S, H)
    U = _value_arrays(_KERNELS["numpy"], nxt, pr, R, ptr, idx, H, S)[1] if start == "random" \
        else np.zeros((S, H + 1))
    out = np.empty((k_max, H, S, mdp.A))
    states = np.arange(S)
    for k in range(k_max):
        out[k] = np.stack([_q_reference(nxt, pr, R, t, states, U, t + 1) for t in range(H)])
        U = np.zeros((S, H + 1))
        U[:, :H] = out[k].max(axis=2).T
    return out


def analyze(mdp: FiniteHorizonMDP, *, precision: float | None = None, greedy_max_k: int = GREEDY_MAX_K,
            effective_horizon: bool = True, backend: str | None = None,
            factor_sticky: bool | None = None) -> EffectiveHorizonAnalysis:
    """Exact effective-horizon analysis of ``mdp`` (module docstring; spec C2.3 and C2.4).

    Parameters
    ----------
    mdp : FiniteHorizonMDP (dense or sparse, stationary or stage-dependent), at most 64 actions.
    precision : float >= 0, optional
        Optimality tolerance in model units; default :func:`default_precision` (``1e-4`` in file units).
    greedy_max_k : int >= 0
        Greedy returns for ``k = 1..greedy_max_k``.
    effective_horizon : bool
        Compute the simple effective horizon (default). ``False`` computes only what the authors' analysis of
        sticky-action models computes (values, ``min_k``, ``epw``, greedy returns); ``effective_horizon`` is
        then NaN. The effective-horizon loop dominates on large models: it needs every ``k`` below the bound.
    backend : {None, "numba", "numpy"}
        Compiled kernels (default) or their NumPy twins (same numbers, slower).
    factor_sticky : bool, optional
        Iterates ``Q^k`` in the factored form of a sticky-action model (:mod:`.effective_horizon_sticky`: ``A`` times
        less work; the same results to rounding, see its caveat on exact ties). ``None`` (default): whenever the
        arrays have that form; ``True`` requires it (:class:`~rltheory.errors.InvalidModelError`); ``False``: the
        general kernel, which also runs if two states of one base state differ in their ``Q*``-suboptimal actions
        (rounding at the precision boundary). ``result.factored`` says which ran.

    Returns
    -------
    EffectiveHorizonAnalysis
    """
    t0 = time.perf_counter()
    kern = _kernels(backend)
    nxt, pr, R, start = _arrays(mdp)
    if mdp.A > MAX_ACTIONS:
        raise InvalidModelError("mdp", f"analyze supports at most {MAX_ACTIONS} actions, got A={mdp.A}", value=mdp.A)
    precision = default_precision(mdp) if precision is None else check_real(precision, "precision", low=0.0)
    greedy_max_k = check_int(greedy_max_k, "greedy_max_k", low=0)
    if factor_sticky is not None and not isinstance(factor_sticky, bool):
        raise InvalidParameterError("factor_sticky", f"must be None, True or False, got {factor_sticky!r}",
                                    value=factor_sticky)
    layout = sticky_layout(nxt, pr, R) if factor_sticky is not False else None
    if factor_sticky and layout is None:
        raise InvalidModelError("mdp", f"{mdp.name} does not have the sticky-action form that factor_sticky=True "
                                "asks for (see rltheory.algorithms.effective_horizon_sticky.sticky_layout)")
    H, S, A = mdp.H, mdp.S, mdp.A
    w0 = mdp.mu[start]
    ptr, idx = kern["reachable"](nxt, pr, start, H)
    M = _mask(ptr, idx, S)
    span_lo, span_hi = spans(ptr, idx, S)
    Vs, Vr, Vw, W1 = (np.zeros((H + 1, S)) for _ in range(4))  # step-major
    kern["values"](nxt, pr, R, ptr, idx, Vs, Vr, Vw, W1)
    mdt = mask_dtype(A)
    subopt_sm, ties_star, above_star = np.zeros((S, H), mdt), np.zeros((H, S), mdt), np.zeros((H, S), mdt)
    gap_star = np.zeros((H, S))
    kern["star"](nxt, pr, R, M, _state_major(Vs), precision, subopt_sm, ties_star, gap_star, above_star)
    star = (np.ascontiguousarray(subopt_sm.T), ties_star, gap_star, above_star)
    fs = factored_sweep(layout, subopt_sm, M, span_lo, span_hi)  # None: the general kernel sweeps every state
    if nxt.shape[0] == 1:
        sptr, sn, smask, gid, gptr, gn = kern["successor_lists"](nxt, pr)
    else:  # stage-dependent successors: one group per state, successors read from the table
        sptr, sn, smask = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint64)
        gid, gptr, gn = np.arange(S, dtype=np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    lists = (sptr, sn, smask)
    identity = np.arange(S, dtype=np.int64)
    rows, C = summary_columns(fs and fs.layout, S)  # the column of each state's summaries of Q^k
    groups = np.zeros((0, A), np.int64) if fs is None else fs.layout.succ  # walks: sticky states by group

    def iterate(U, t_stop, need_ties, need_gap, U_out, bufs):
        if fs is not None:  # the G * A sticky states factored, the general kernel on the rest
            kern["sticky_iterate"](fs.layout.succ, fs.layout.reward, fs.layout.p, fs.glo, fs.ghi, U, fs.subg, t_stop,
                                   need_ties, need_gap, U_out, *bufs)
        kern["iterate"](nxt, pr, R, span_lo if fs is None else fs.rest_lo, span_hi, U, subopt_sm, t_stop, need_ties,
                        need_gap, U_out, *bufs, rows)

    U, U_new = np.zeros((S, H + 1)), np.zeros((S, H + 1))
    ties, gap, above = np.zeros((H, C), mdt), np.zeros((H, C)), np.zeros((H, C), mdt)

    # --- effective planning window: Q^(k) = k-step lookahead values, from U = 0 (so Q^(1) = R)
    epw = None
    if nxt.shape[0] == 1 and R.shape[0] == 1:  # stationary: Q^(k)_t is the same for every t < H - k
        L, L_new, ties_L = np.zeros(S), np.zeros(S), np.zeros((1, S), mdt)
        for k in range(1, H + 1):
            kern["lookahead"](nxt, pr, R, L, L_new, ties_L[0])
            if kern["walks"](nxt, pr, lists, start, max(0, H - k), ties_L, gap, above, identity, groups[:0], star, W1,
                             identity, W1[H - 1], True, False)[0]:
                epw = k
                break
            L, L_new = L_new, L
    else:
        for k in range(1, H + 1):
            t_stop = max(0, H - k)
            kern["iterate"](nxt, pr, R, span_lo, span_hi, U, subopt_sm, t_stop, True, False, U_new, ties, gap, above,
                            identity)
            if kern["walks"](nxt, pr, lists, start, t_stop, ties, gap, above, identity, groups[:0], star, W1, identity,
                             W1[H - 1], True, False)[0]:
                epw = k
                break
            U, U_new = U_new, U

    # --- min_k, greedy returns and the simple effective horizon share the iterates Q^k (Q^1 = Q^rand)
    U[:] = _state_major(Vr)
    # variance bounds W^k (Theorem 5.4): W^1 per state; W^k, k >= 2, per group of states with the same successors
    G = gptr.shape[0] - 1 if nxt.shape[0] == 1 else S
    W_in, W_in_T, gid_in = _state_major(W1), W1, identity
    Wg, WgT = np.zeros((G, H + 1)), np.zeros((H + 1, G))
    Wg_next, WgT_next = np.zeros((G, H + 1)), np.zeros((H + 1, G))
    Gv = np.zeros((H + 1, S))
    # With two threads or more, the walks of k (and its greedy return) run on a thread of their own while the
    # iterate of k + 1 runs (the compiled walks release the GIL): the summaries are double-buffered, and the
    # iterate of k + 1 computes what k's walks might still ask for (ties while min_k is unknown, gaps while
    # k + 1 < the best bound so far: supersets, so every result is the same as one after the other).
    overlap = backend in (None, "numba") and numba.get_num_threads() >= 2
    summaries = [(ties, gap, above), (np.zeros((H, C), mdt), np.zeros((H, C)), np.zeros((H, C), mdt))
                 if overlap else (ties, gap, above)]
    min_k = None
    eh = float(H) if effective_horizon else 0.0  # eh = 0 switches the effective-horizon loop off
    greedy = np.full(greedy_max_k, np.nan)
    ks, hks, log_ms, gaps, variances, min_gaps = [], [], [], [], [], []
    logA = math.log(A) if A > 1 else 0.0

    def walk(k, t_stop, bufs, W_T, gid_k, walk_ties, walk_gap):
        walked = kern["walks"](nxt, pr, lists, start, t_stop, *bufs, rows, groups, star, W_T, gid_k, W1[H - 1],
                               walk_ties, walk_gap)
        g = kern["greedy_worst"](nxt, pr, R, bufs[0], rows, t_stop, ties_star, start, Gv) if k <= greedy_max_k \
            else None
        return k, walked, g

    def record(result):
        """Fold the walks of one k into the results; True when the loop can stop after that k."""
        nonlocal min_k, eh
        k, (ties_ok, works, _, _, _, g_at, v_at, min_gap), g = result
        if min_k is None and ties_ok:
            min_k = k
        if g is not None:
            greedy[k - 1] = float(w0 @ g)
        if works:
            log_m = _log_count(g_at, v_at, _log_term(H, A, k))
            h_k = k + (log_m / logA if log_m > 0 else 0.0)
            ks.append(k)
            hks.append(h_k)
            log_ms.append(log_m)
            gaps.append(g_at)
            variances.append(v_at)
            min_gaps.append(min_gap)
            eh = min(eh, h_k)
        return min_k is not None and k >= greedy_max_k and k + 1 >= eh

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) if overlap else contextlib.nullcontext() as pool:
        pending = None
        k = 1
        while True:
            t_stop = max(0, H - k)
            bufs = summaries[k % 2]
            iterate(U, t_stop, min_k is None or k <= greedy_max_k, k < eh, U_new, bufs)
            if pending is not None and record(pending.result()):
                break  # the walks of k - 1 ended the loop: this iterate was ahead of them
            args = (k, t_stop, bufs, W_in_T, gid_in, min_k is None, k < eh)
            if overlap:
                pending = pool.submit(walk, *args)
            elif record(walk(*args)):
                break
            if k > 2 * H + greedy_max_k:  # pragma: no cover - min_k <= H because Q^H = Q*
                raise RuntimeError(f"{mdp.name}: no k <= H is QVI-solvable; this contradicts Q^H = Q*")
            if k + 1 < eh:  # the variance bounds are only needed while the effective-horizon loop runs
                kern["var_step"](nxt, pr, gptr, gn, W_in, gid_in, W1[H - 1], Wg_next, WgT_next)
                W_in, W_in_T, gid_in = Wg_next, WgT_next, gid
                Wg, WgT, Wg_next, WgT_next = Wg_next, WgT_next, Wg, WgT
            U, U_new = U_new, U
            k += 1

    def at_start(V):
        return float(w0 @ V[0, start])

    aliases = mdp.meta.get("state_aliases") or {}
    uniq = np.flatnonzero(M.any(axis=1))
    if aliases:
        uniq = np.unique(np.array([aliases.get(int(s), int(s)) for s in uniq], dtype=np.int64))
    rmap = mdp.meta.get("reward_map") or {}
    scale, offset = float(rmap.get("scale", 1.0)), float(rmap.get("offset", 0.0))

    def orig(v):
        return scale * np.asarray(v) + H * offset

    v_star, v_rand, v_worst = at_start(Vs), at_start(Vr), at_start(Vw)
    return EffectiveHorizonAnalysis(
        name=mdp.name, horizon=H, num_actions=A, num_states=S, n_reachable=int(uniq.size), min_k=int(min_k),
        epw=int(epw), effective_horizon=float(eh) if effective_horizon else math.nan, v_star=v_star,
        v_random=v_rand, v_worst=v_worst,
        v_star_original=float(orig(v_star)), v_random_original=float(orig(v_rand)),
        v_worst_original=float(orig(v_worst)), greedy_returns=greedy, greedy_returns_original=orig(greedy),
        ks=np.array(ks, dtype=np.int64), horizons_k=np.array(hks), log_ms=np.array(log_ms), gaps=np.array(gaps),
        variances=np.array(variances), min_gaps=np.array(min_gaps), precision=float(precision),
        seconds=time.perf_counter() - t0, factored=fs is not None)
