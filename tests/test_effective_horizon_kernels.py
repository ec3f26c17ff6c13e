"""The effective-horizon engine's fast path, kernel by kernel: every compiled kernel against its NumPy twin
(bitwise), the shortcuts against the plain definitions (the stationary lookahead against the dense iterates,
every per-``k`` number against the naive implementation of ``tests/test_effective_horizon.py``), and results
that do not depend on the number of threads. Small models only (the suite stays fast)."""

from __future__ import annotations

from types import SimpleNamespace

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from test_effective_horizon import analysed_models, bridge_like, naive_analysis

from rltheory.algorithms import effective_horizon_analysis as ana
from rltheory.algorithms import effective_horizon_iterates as it
from rltheory.algorithms import effective_horizon_variance as var
from rltheory.algorithms.effective_horizon_values import spans
from strategies import finite_horizon_mdps

NB, NP = ana._KERNELS["numba"], ana._KERNELS["numpy"]


def _setup(mdp):
    """What :func:`analyze` builds before its loops (compiled kernels; their twins are checked elsewhere)."""
    nxt, pr, R, start = ana._arrays(mdp)
    H, S, A = mdp.H, mdp.S, mdp.A
    ptr, idx = NB["reachable"](nxt, pr, start, H)
    M = ana._mask(ptr, idx, S)
    Vs, Vr, Vw, W1 = (np.zeros((H + 1, S)) for _ in range(4))
    NB["values"](nxt, pr, R, ptr, idx, Vs, Vr, Vw, W1)
    mdt = it.mask_dtype(A)
    sub, ties_star, above_star, gap_star = (np.zeros((S, H), mdt), np.zeros((H, S), mdt), np.zeros((H, S), mdt),
                                            np.zeros((H, S)))
    NB["star"](nxt, pr, R, M, ana._state_major(Vs), ana.default_precision(mdp), sub, ties_star, gap_star, above_star)
    lo, hi = spans(ptr, idx, S)
    return SimpleNamespace(nxt=nxt, pr=pr, R=R, start=start, H=H, S=S, A=A, ptr=ptr, idx=idx, M=M, Vs=Vs, Vr=Vr,
                           W1=W1, mdt=mdt, sub=sub, lo=lo, hi=hi,
                           star=(np.ascontiguousarray(sub.T), ties_star, gap_star, above_star))


def _iterate(kern, m, U, k, need_ties=True, need_gap=True):
    out = (np.zeros_like(U), np.zeros((m.H, m.S), m.mdt), np.zeros((m.H, m.S)), np.zeros((m.H, m.S), m.mdt))
    kern["iterate"](m.nxt, m.pr, m.R, m.lo, m.hi, U, m.sub, max(0, m.H - k), need_ties, need_gap, *out,
                    np.arange(m.S, dtype=np.int64))
    return out


def _lists(m):
    if m.nxt.shape[0] == 1:
        return NB["successor_lists"](m.nxt, m.pr)
    e = np.zeros(0, np.int64)
    return e, e, np.zeros(0, np.uint64), np.arange(m.S, dtype=np.int64), e, e


@settings(max_examples=25)
@given(mdp=analysed_models())
def test_iterate_kernel_equals_its_twin(mdp):
    m = _setup(mdp)
    U = ana._state_major(m.Vr)
    for k in range(1, min(m.H, 3) + 1):
        fast, ref = _iterate(NB, m, U, k), _iterate(NP, m, U, k)
        for a, b in zip(fast, ref, strict=True):
            assert a.tobytes() == b.tobytes()
        U = fast[0]


@settings(max_examples=25)
@given(mdp=finite_horizon_mdps(max_S=6, max_A=4, max_H=6, stationary=True))
def test_lookahead_kernel_equals_its_twin_and_the_dense_lookahead_iterates(mdp):
    """The stationary shortcut: ``k`` lookahead steps on ``(S,)`` arrays are ``Q^(k)_t`` at every ``t < H - k``,
    bitwise (the dense iterates of :func:`q_iterates` recompute every step)."""
    nxt, pr, R, _ = ana._arrays(mdp)
    if R.shape[0] != 1:
        return
    Qla = ana.q_iterates(mdp, mdp.H, start="rewards")
    L_nb, L_np = np.zeros(mdp.S), np.zeros(mdp.S)
    for k in range(1, mdp.H + 1):
        outs = []
        for kern, L in ((NB, L_nb), (NP, L_np)):
            L_out, ties = np.zeros(mdp.S), np.zeros(mdp.S, np.uint64)
            kern["lookahead"](nxt, pr, R, L, L_out, ties)
            outs.append((L_out, ties))
        (L_nb, t_nb), (L_np, t_np) = outs
        assert L_nb.tobytes() == L_np.tobytes() and np.array_equal(t_nb, t_np)
        for t in range(mdp.H - k):
            assert np.array_equal(Qla[k - 1, t].max(axis=1), L_nb)
            assert np.array_equal(it._bits(Qla[k - 1, t] >= L_nb[:, None]), t_nb)


@settings(max_examples=25)
@given(mdp=analysed_models())
def test_successor_lists_equal_their_twin(mdp):
    nxt, pr, _, _ = ana._arrays(mdp)
    if nxt.shape[0] != 1:
        return
    fast, ref = var.successor_lists(nxt, pr), var.successor_lists_reference(nxt, pr)
    for a, b in zip(fast, ref, strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    sptr, sn, smask, gid, gptr, gn = fast
    for s in range(mdp.S):  # the lists are the support of the successor table, with the actions reaching each
        want = {int(n): 0 for n in np.unique(nxt[0, s][pr[0, s] > 0])}
        for a in range(mdp.A):
            for n in nxt[0, s, a][pr[0, s, a] > 0]:
                want[int(n)] |= 1 << a
        got = dict(zip(sn[sptr[s]:sptr[s + 1]].tolist(), smask[sptr[s]:sptr[s + 1]].tolist(), strict=True))
        assert got == want
        assert set(gn[gptr[gid[s]]:gptr[gid[s] + 1]].tolist()) == set(want)


@settings(max_examples=25)
@given(mdp=analysed_models())
def test_variance_backup_equals_its_twin_and_the_per_state_backup(mdp):
    """Group-level ``W^(k+1)`` equals the per-state definition ``max(0, max over successors of W^k(t + 1))``."""
    m = _setup(mdp)
    H, S = m.H, m.S
    _, _, _, gid, gptr, gn = _lists(m)
    G = gptr.shape[0] - 1 if m.nxt.shape[0] == 1 else S
    W_in, gid_in, W_state = ana._state_major(m.W1), np.arange(S, dtype=np.int64), ana._state_major(m.W1)
    for _ in range(3):
        outs = []
        for kern in (NB, NP):
            Wg, WgT = np.zeros((G, H + 1)), np.zeros((H + 1, G))
            kern["var_step"](m.nxt, m.pr, gptr, gn, W_in, gid_in, m.W1[H - 1], Wg, WgT)
            outs.append((Wg, WgT))
        (Wg, WgT), (Wg_ref, WgT_ref) = outs
        assert Wg[:, :H - 1].tobytes() == Wg_ref[:, :H - 1].tobytes()
        assert WgT[:H - 1].tobytes() == WgT_ref[:H - 1].tobytes()
        # the per-state backup, on the reachable entries
        new = np.zeros_like(W_state)
        for t in range(H - 1):
            hp = t if m.nxt.shape[0] > 1 else 0
            for s in np.flatnonzero(m.M[:, t]):
                succ = m.nxt[hp, s][m.pr[hp, s] > 0]
                new[s, t] = max(0.0, W_state[succ, t + 1].max())
                assert Wg[gid[s], t] == new[s, t]
        new[:, H - 1] = m.W1[H - 1]
        W_in, gid_in, W_state = Wg, gid, new


@settings(max_examples=25)
@given(mdp=analysed_models())
def test_walks_and_greedy_kernels_equal_their_twins(mdp):
    """Bitwise equal to the twins, and reading each state's summaries from column ``rows[s]``: the same results
    with the summaries' columns permuted (and ``rows`` the permutation) as with the identity."""
    m = _setup(mdp)
    sptr, sn, smask, gid, gptr, gn = _lists(m)
    identity = np.arange(m.S, dtype=np.int64)
    perm = np.random.default_rng(m.S * 31 + m.H).permutation(m.S)
    no_groups = np.zeros((0, m.A), np.int64)
    U = ana._state_major(m.Vr)
    for k in range(1, min(m.H, 3) + 1):
        U_new, ties, gap, above = _iterate(NB, m, U, k)
        moved = []
        for x in (ties, gap, above):
            y = np.zeros_like(x)
            y[:, perm] = x
            moved.append(y)
        t_stop = max(0, m.H - k)
        for walk_ties, walk_gap in ((True, True), (True, False), (False, True)):
            args = (m.nxt, m.pr, (sptr, sn, smask), m.start, t_stop, ties, gap, above, identity, no_groups, m.star,
                    m.W1, identity, m.W1[m.H - 1], walk_ties, walk_gap)
            got = NB["walks"](*args)
            assert got == NP["walks"](*args)
            args = (*args[:5], *moved, perm, *args[9:])
            assert NB["walks"](*args) == got and NP["walks"](*args) == got
        # a single row of argmax masks for every t < t_stop (the lookahead iterates)
        args = (m.nxt, m.pr, (sptr, sn, smask), m.start, t_stop, ties[:1], gap, above, identity, no_groups, m.star,
                m.W1, identity, m.W1[m.H - 1], True, False)
        assert NB["walks"](*args) == NP["walks"](*args)
        g_nb, g_np, g_mv = (np.zeros((m.H + 1, m.S)) for _ in range(3))
        got = NB["greedy_worst"](m.nxt, m.pr, m.R, ties, identity, t_stop, m.star[1], m.start, g_nb)
        assert np.array_equal(got, NP["greedy_worst"](m.nxt, m.pr, m.R, ties, identity, t_stop, m.star[1], m.start,
                                                      g_np))
        assert np.array_equal(got, NB["greedy_worst"](m.nxt, m.pr, m.R, moved[0], perm, t_stop, m.star[1], m.start,
                                                      g_mv))
        U = U_new


@settings(max_examples=30)
@given(mdp=analysed_models())
def test_every_per_k_number_equals_the_naive_definitions(mdp):
    """The ``k`` that work, their ``H_k``, ``ln m_k`` and smallest gaps equal a direct implementation of the
    definitions (which recomputes every iterate on every state and step, without any shortcut)."""
    a = ana.analyze(mdp)
    ref = naive_analysis(mdp, a.precision)
    assert a.ks.tolist() == ref["ks"]
    np.testing.assert_allclose(a.horizons_k, ref["horizons_k"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.log_ms, ref["log_ms"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.min_gaps, ref["min_gaps"], rtol=0, atol=1e-12)


_FIELDS = ("n_reachable", "min_k", "epw", "effective_horizon", "v_star", "v_random", "v_worst", "greedy_returns",
           "ks", "horizons_k", "log_ms", "gaps", "variances", "min_gaps")


@pytest.mark.parametrize("sticky", [0.0, 0.25])
def test_results_do_not_depend_on_the_number_of_threads(sticky):
    """A BRIDGE-like model large enough for several blocks of states: bitwise the same on 1 and on 2 threads,
    and the same as the NumPy twins."""
    mdp = bridge_like(np.random.default_rng(11), 150, 4, 14, sticky)
    saved = numba.get_num_threads()
    runs = []
    try:
        for n in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
            numba.set_num_threads(n)
            runs.append(ana.analyze(mdp))
    finally:
        numba.set_num_threads(saved)
    runs.append(ana.analyze(mdp, backend="numpy"))
    for f in _FIELDS:
        assert all(np.asarray(getattr(r, f)).tobytes() == np.asarray(getattr(runs[0], f)).tobytes()
                   for r in runs), f
