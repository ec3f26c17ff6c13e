"""The factored iterates of sticky-action models (:mod:`rltheory.algorithms.effective_horizon_sticky`): the layout is
read back from the model's own arrays (and refused when they do not have the form), the compiled kernel equals its
twin bitwise, and the factored path equals the general one: one backup at a time (values, masks and gaps on every
reachable state) and every number :func:`analyze` reports.

Two regimes of models, where the comparison is well posed (the module docstring says why exact argmax ties are
not, in general): **exact arithmetic** (0/1 rewards, ``p`` in {1/4, 1/2}, ``A`` in {1, 2, 4}, short horizons:
every value is a dyadic rational with few bits, so both paths compute the real numbers and must agree bit for
bit), and **continuous rewards** (no ties but structural ones: equal masks, values to rounding)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_effective_horizon import bridge_like
from test_effective_horizon_kernels import _FIELDS, NB, NP, _setup

from rltheory.algorithms import effective_horizon_analysis as ana
from rltheory.algorithms import effective_horizon_sticky as sticky
from rltheory.errors import InvalidModelError, InvalidParameterError
from rltheory.mdps import bridge, garnet
from strategies import finite_horizon_mdps


@st.composite
def base_models(draw, max_S=6, max_A=4):
    """BRIDGE-format arrays: deterministic ``T (S, A)`` (``-1`` = END) and rewards in ``[0, 1]``, either sparse 0/1
    (many exact ties) or continuous."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    S, A = draw(st.integers(1, max_S)), draw(st.integers(1, max_A))
    T = rng.integers(0, S, size=(S, A))
    T[rng.random((S, A)) < 0.15] = -1
    r = (rng.random((S, A)) < 0.3).astype(float) if draw(st.booleans()) else rng.random((S, A))
    return T, r


@st.composite
def sticky_models(draw):
    """``(model, exact)``: a sticky model in one of the two regimes of the module docstring."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    exact = draw(st.booleans())
    S = draw(st.integers(1, 8))
    A = draw(st.sampled_from([1, 2, 4])) if exact else draw(st.integers(1, 4))
    T = rng.integers(0, S, size=(S, A))
    T[rng.random((S, A)) < 0.15] = -1
    r = (rng.random((S, A)) < 0.3).astype(float) if exact else rng.random((S, A))
    p = draw(st.sampled_from([0.25, 0.5] if exact else [0.25, 0.1, 0.5, 1 / 3]))
    return bridge.from_arrays(T, r, draw(st.integers(1, 7)), p, normalize=None), exact


def _layout(mdp):
    nxt, pr, R, _ = ana._arrays(mdp)
    return sticky.sticky_layout(nxt, pr, R)


@settings(max_examples=25)
@given(base=base_models(), p=st.sampled_from([0.25, 0.1, 0.5]))
def test_layout_reads_back_the_builders_base_model(base, p):
    """``T(g, a)``, ``r(g, a)`` and ``p`` of the model :func:`bridge.from_arrays` built: END is base state ``S``
    (absorbing, reward 0), the first-step state is left to the general kernel."""
    T, r = base
    S, A = T.shape
    mdp = bridge.from_arrays(T, r, 5, p, normalize=None)
    layout = _layout(mdp)
    assert layout is not None and layout.p == p and layout.groups == S + 1
    assert mdp.S == layout.groups * A + 1  # one state after the sticky ones: BRIDGE's first-step state
    want_T = np.concatenate([np.where(T == -1, S, T), np.full((1, A), S)])
    assert np.array_equal(layout.succ, want_T)
    np.testing.assert_allclose(layout.reward, np.concatenate([r, np.zeros((1, A))]), rtol=0, atol=1e-15)


def test_layout_is_refused_where_the_arrays_do_not_have_the_form():
    rng = np.random.default_rng(3)
    T, r = rng.integers(0, 5, size=(5, 3)), rng.random((5, 3))
    assert _layout(bridge.from_arrays(T, r, 4, 0.25, normalize=None)) is not None
    assert _layout(bridge.from_arrays(T, r, 4, 0.0, normalize=None)) is None       # not sticky
    assert _layout(garnet(6, 3, 2, horizon=4, seed=1)) is None
    mdp = bridge.from_arrays(T, r, 4, 0.25, normalize=None)
    for what in ("reward", "first", "second", "prob"):
        nxt, pr, R, _ = (a.copy() for a in ana._arrays(mdp))
        if what == "reward":
            R[0, 7, 1] += 1e-6                     # no longer (1 - p) r(g, a) + p r(g, b)
        elif what == "first":
            nxt[0, 4, 2, 0] = (nxt[0, 4, 2, 0] + 3) % 18  # another base successor for one previous action
        elif what == "second":
            nxt[0, 4, 2, 1] = nxt[0, 4, 0, 0]       # the repeated action is not b
        else:
            pr[0, 5, 0] = (0.7, 0.3)                # another p
        assert sticky.sticky_layout(nxt, pr, R) is None, what


@settings(max_examples=25)
@given(model=sticky_models())
def test_sticky_kernel_equals_its_twin(model):
    mdp, _ = model
    m = _setup(mdp)
    layout = _layout(mdp)
    fs = sticky.factored_sweep(layout, m.sub, m.M, m.lo, m.hi)
    if fs is None:
        return
    C = sticky.summary_columns(layout, m.S)[1]
    U = ana._state_major(m.Vr)
    for k in range(1, min(m.H, 3) + 1):
        for need_ties, need_gap in ((True, True), (True, False), (False, True)):
            outs = []
            for kern in (NB, NP):
                out = (np.zeros_like(U), np.zeros((m.H, C), m.mdt), np.zeros((m.H, C)), np.zeros((m.H, C), m.mdt))
                kern["sticky_iterate"](layout.succ, layout.reward, layout.p, fs.glo, fs.ghi, U, fs.subg,
                                       max(0, m.H - k), need_ties, need_gap, *out)
                outs.append(out)
            for a, b in zip(*outs, strict=True):
                assert a.tobytes() == b.tobytes()
        U = outs[0][0]


@settings(max_examples=30)
@given(model=sticky_models())
def test_one_factored_backup_equals_the_general_one(model):
    """On every reachable ``(s, t)`` below ``t_stop``: ``max_a Q`` (to rounding; exactly in exact arithmetic), the
    argmax and ``above`` masks exactly, the gap likewise (state ``s`` reads its group's column)."""
    mdp, exact = model
    tol = 0.0 if exact else 1e-13
    m = _setup(mdp)
    layout = _layout(mdp)
    fs = sticky.factored_sweep(layout, m.sub, m.M, m.lo, m.hi)
    assert fs is not None  # the Q*-suboptimal sets of one base state agree on these models
    rows, C = sticky.summary_columns(layout, m.S)
    U_gen = U_fac = ana._state_major(m.Vr)
    for k in range(1, m.H + 1):
        t_stop = max(0, m.H - k)
        gen = (np.zeros_like(U_gen), np.zeros((m.H, m.S), m.mdt), np.zeros((m.H, m.S)), np.zeros((m.H, m.S), m.mdt))
        NB["iterate"](m.nxt, m.pr, m.R, m.lo, m.hi, U_gen, m.sub, t_stop, True, True, *gen,
                      np.arange(m.S, dtype=np.int64))
        fac = (np.zeros_like(U_fac), np.zeros((m.H, C), m.mdt), np.zeros((m.H, C)), np.zeros((m.H, C), m.mdt))
        NB["sticky_iterate"](layout.succ, layout.reward, layout.p, fs.glo, fs.ghi, U_fac, fs.subg, t_stop, True,
                             True, *fac)
        NB["iterate"](m.nxt, m.pr, m.R, fs.rest_lo, m.hi, U_fac, m.sub, t_stop, True, True, *fac, rows)
        s_idx, t_idx = np.nonzero(m.M[:, :t_stop])
        np.testing.assert_allclose(fac[0][s_idx, t_idx], gen[0][s_idx, t_idx], rtol=tol, atol=tol)
        assert np.array_equal(fac[1][t_idx, rows[s_idx]], gen[1][t_idx, s_idx])
        assert np.array_equal(fac[3][t_idx, rows[s_idx]], gen[3][t_idx, s_idx])
        np.testing.assert_allclose(fac[2][t_idx, rows[s_idx]], gen[2][t_idx, s_idx], rtol=10 * tol, atol=tol)
        U_gen, U_fac = gen[0], fac[0]


@settings(max_examples=30)
@given(model=sticky_models(), seed=st.integers(0, 2**32 - 1))
def test_walks_a_group_at_a_time_equal_the_walks_a_state_at_a_time(model, seed):
    """The effective-horizon walk over groups (``succ`` given) returns exactly what the walk over states and the
    NumPy twin return (first largest ratio, where, gap, variance, smallest gap), on summaries in the factored
    layout drawn at random (positive gaps, non-empty ``above`` masks, variances per state or per group, so that
    where the largest ratio lies depends on every state the walk reaches; ``Q*``'s, read from ``t_stop`` on, drawn
    per state, so that the states of a group differ there) and at every ``t_stop``."""
    mdp, _ = model
    m = _setup(mdp)
    layout = _layout(mdp)
    rows, C = sticky.summary_columns(layout, m.S)
    sptr, sn, smask, gid, gptr, gn = NB["successor_lists"](m.nxt, m.pr)
    rng = np.random.default_rng(seed)
    A, H = m.A, m.H
    gap = rng.uniform(0.1, 1.0, size=(H, C))
    above = rng.integers(1, 2**A, size=(H, C)).astype(m.mdt)
    # Q*'s summaries (read from t_stop on) per state, so that the states of a group differ there
    star = (m.star[0], m.star[1], rng.uniform(0.1, 1.0, size=(H, m.S)),
            rng.integers(1, 2**A, size=(H, m.S)).astype(m.mdt))
    for W_T, gid_k in ((rng.uniform(0, 1, size=(H + 1, m.S)), np.arange(m.S, dtype=np.int64)),
                       (rng.uniform(0, 1, size=(H + 1, gptr.shape[0] - 1)), gid)):
        for t_stop in range(H + 1):
            outs = [kern["walks"](m.nxt, m.pr, (sptr, sn, smask), m.start, t_stop, above, gap, above, rows, groups,
                                  star, W_T, gid_k, m.W1[H - 1], False, True)
                    for kern in (NB, NP) for groups in (layout.succ, layout.succ[:0])]
            assert all(o == outs[0] for o in outs), outs


@settings(max_examples=40)
@given(model=sticky_models())
def test_factored_analysis_equals_the_general_one(model):
    """Every number :func:`analyze` reports: bit for bit in exact arithmetic; with continuous rewards the discrete
    ones exactly and the rest to rounding (``log_ms`` and ``H_k`` carry ``gap``'s cancellation); also without the
    effective-horizon loop (the iterates then record no gaps)."""
    mdp, exact = model
    for full in (True, False):
        a = ana.analyze(mdp, effective_horizon=full)
        b = ana.analyze(mdp, effective_horizon=full, factor_sticky=False)
        assert a.factored and not b.factored
        for f in _FIELDS:
            x, y = np.asarray(getattr(a, f)), np.asarray(getattr(b, f))
            if exact or x.dtype.kind in "iu" or f in ("min_k", "epw"):
                assert x.tobytes() == y.tobytes(), f
            else:
                np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12, err_msg=f)


def test_factored_numpy_twin_agrees_exactly_on_a_larger_model():
    mdp = bridge_like(np.random.default_rng(5), 60, 4, 12, 0.25)
    a, b = ana.analyze(mdp), ana.analyze(mdp, backend="numpy")
    assert a.factored and b.factored
    for f in _FIELDS:
        assert np.asarray(getattr(a, f)).tobytes() == np.asarray(getattr(b, f)).tobytes(), f


def test_group_subopt_defers_to_the_general_kernel_where_two_states_of_a_group_differ():
    mdp = bridge.from_arrays(np.array([[0, 1], [1, 0]]), np.array([[0.5, 0.0], [1.0, 0.2]]), 3, 0.25,
                             normalize=None)
    layout = _layout(mdp)
    S, H = mdp.S, mdp.H
    sub, M = np.zeros((S, H), np.uint8), np.zeros((S, H), np.bool_)
    M[:, :] = True
    sub[0, 1], sub[1, 1] = 1, 1
    assert np.array_equal(sticky.group_subopt(layout, sub, M)[0], [0, 1, 0])
    sub[1, 1] = 2                                 # the two states of base state 0 disagree at t = 1
    assert sticky.group_subopt(layout, sub, M) is None
    M[1, 1] = False                               # ... unless one of them is unreachable there
    assert np.array_equal(sticky.group_subopt(layout, sub, M)[0], [0, 1, 0])


@settings(max_examples=10)
@given(mdp=finite_horizon_mdps(max_S=5, max_A=3, max_H=4))
def test_factor_sticky_option(mdp):
    if _layout(mdp) is None:
        with pytest.raises(InvalidModelError, match="sticky-action form"):
            ana.analyze(mdp, factor_sticky=True)
    assert not ana.analyze(mdp, factor_sticky=False).factored
    for bad in ("yes", 1, np.array([True])):
        with pytest.raises(InvalidParameterError, match="factor_sticky"):
            ana.analyze(mdp, factor_sticky=bad)
