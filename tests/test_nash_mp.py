"""Nash Mirror Prox and its baselines: claims of the (reconstructed) theorems on exact games.

Each claim is checked where it can fail: the KL contraction is shown to break at an
inadmissible step and for a mis-centred update; the exploitability function against an
independent inequality; the approximate method against the exact step it approximates.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from rltheory.algorithms import (
    ApproximateNashMirrorProx,
    ExtragradientPO,
    MagneticMirrorDescent,
    NashMD,
    NashMirrorProx,
    OnlineMirrorDescent,
)
from rltheory.algorithms import nash_mp as nm
from rltheory.algorithms import preference_dynamics as pd
from rltheory.bounds import nash_mp as bd
from rltheory.errors import InvalidModelError, InvalidParameterError, InvalidPolicyError, ValidationError
from rltheory.mdps import game_batch, random_game, random_reference, rock_paper_scissors
from rltheory.models import PreferenceGame
from rltheory.planning import regularized_nash
from rltheory.rng import replicate_seeds

ALL = [NashMirrorProx, MagneticMirrorDescent, OnlineMirrorDescent, NashMD, ExtragradientPO]


@st.composite
def games_and_starts(draw, min_n=2, max_n=50):
    n = draw(st.integers(min_n, max_n))
    kind = draw(st.sampled_from(["uniform", "tournament"]))
    seed = draw(st.integers(0, 2**31 - 1))
    game = random_game(n, kind=kind, seed=seed, reference="random", reference_scale=1.0)
    pi0 = random_reference(n, seed + 1, draw(st.sampled_from([0.0, 1.0, 3.0])))
    return game, pi0


def _kl(p_log, q_log):
    return float(np.sum(np.exp(p_log) * (p_log - q_log)))


# ---------------------------------------------------------------------------- the prox step


@settings(max_examples=15)
@given(n=st.integers(2, 8), seed=st.integers(0, 10_000), beta=st.floats(0.01, 1.0), eta=st.floats(0.05, 2.0))
def test_prox_is_the_argmax_of_its_objective(n, seed, beta, eta):
    """``Prox(pi, g; eta)`` maximises ``eta [<q, g> - beta KL(q || rho)] - KL(q || pi)`` (numerical optimiser)."""
    rng = np.random.default_rng(seed)
    log_base = np.log(random_reference(n, rng, 2.0))
    log_rho = np.log(random_reference(n, rng, 1.0))
    g = rng.random(n)

    def objective(q_log):
        return eta * (np.exp(q_log) @ g - beta * _kl(q_log, log_rho)) - _kl(q_log, log_base)

    def negative(z):
        return -objective(z - np.log(np.exp(z - z.max()).sum()) - z.max())

    res = minimize(negative, np.zeros(n), method="BFGS", options={"gtol": 1e-12, "maxiter": 2000})
    numeric = np.exp(res.x - res.x.max())
    numeric /= numeric.sum()
    closed = np.exp(nm.prox(log_base, g, log_rho, beta, eta))
    np.testing.assert_allclose(closed.sum(), 1.0, atol=1e-14)
    np.testing.assert_allclose(closed, numeric, atol=1e-6)
    assert objective(np.log(closed)) >= -res.fun - 1e-12


# ---------------------------------------------------------------------------- exploitability


@settings(max_examples=15)
@given(pair=games_and_starts(max_n=20), beta=st.floats(0.01, 1.0))
def test_exploitability_is_zero_exactly_at_the_equilibrium_and_positive_elsewhere(pair, beta):
    game, pi = pair
    star = regularized_nash(game, beta)
    assert abs(nm.exploitability(game, star.policy, beta)) < 1e-12
    e = nm.exploitability(game, pi, beta)
    kl_fwd, kl_rev = _kl(star.log_policy, np.log(pi)), _kl(np.log(pi), star.log_policy)
    if kl_fwd > 1e-9:
        assert e > 0
    # independent inequality (Hoeffding's lemma + Pinsker): e(pi) <= KL(pi*||pi) / (4 beta) + beta KL(pi||pi*)
    assert e <= bd.exploitability_pointwise_upper(kl_fwd, kl_rev, beta) + 1e-12
    assert abs(nm.duality_gap(game, pi, beta) - 2 * e) < 1e-15


def test_exploitability_of_a_batch_and_errors():
    b = game_batch(random_game, 3, n=4)
    star = regularized_nash(b, 0.3).policy
    np.testing.assert_allclose(nm.exploitability(b, star, 0.3), 0.0, atol=1e-13)
    assert (nm.exploitability(b, np.full(4, 0.25), 0.3) > 0).all()
    with pytest.raises(InvalidPolicyError) as info:
        nm.exploitability(b, [0.5, 0.5], 0.3)
    assert info.value.argument == "policy"


# ---------------------------------------------------------------------------- the KL rate


@settings(max_examples=20)
@given(pair=games_and_starts(), beta=st.floats(0.01, 1.0), eta=st.floats(0.1, 2.0))
def test_kl_stays_below_the_bound_at_every_iteration(pair, beta, eta):
    """``KL(pi* || pi_t) <= (1 + eta beta)^(-t) KL_0`` for every ``t`` (admissible ``eta <= 2``), and the
    per-step contraction ``KL_{t+1} <= KL_t / (1 + eta beta)`` (where the bound is above float noise)."""
    game, pi0 = pair
    T = 60
    tr = NashMirrorProx(beta=beta, eta=eta).run(game, T, init=pi0)
    kl = tr.kl[0]
    bound = bd.kl_upper(tr.queries[0], beta, kl[0], eta)
    np.testing.assert_allclose(bound, bd.kl_upper_iterations(np.arange(T + 1), beta, kl[0], eta))
    live = bound > 1e-10
    assert (kl[live] <= bound[live] * (1 + 1e-9)).all()
    steps = kl[:-1] > 1e-10
    assert (kl[1:][steps] <= kl[:-1][steps] / (1 + eta * beta) * (1 + 1e-9)).all()


def test_bound_fails_beyond_the_admissible_step():
    """The check above has teeth: at the inadmissible ``eta = 4`` the same kernel breaks the bound."""
    worst = 0.0
    for seed in range(6):
        g = random_game(12, kind="tournament", seed=seed)
        x0 = np.log(random_reference(12, seed, 2.0))
        for beta in (0.02, 0.1):
            star = regularized_nash(g, beta).log_policy
            kl, ex, sp = (np.empty((1, 61)) for _ in range(3))
            pd.dynamics_reference(g.P_batch, np.log(g.reference_batch), star[None], x0[None].copy(),
                                  nm.nash_mp_step_reference,
                                   beta, np.full(60, 4.0), kl, ex, sp)
            bound = kl[0, 0] * (1.0 + 4.0 * beta) ** -np.arange(61.0)  # the bound's formula at eta = 4
            live = bound > 1e-10
            worst = max(worst, (kl[0, live] / bound[live]).max())
    assert worst > 1.0


def test_mis_centred_update_breaks_the_contraction():
    """Centring the update step at ``pi_{t+1/2}`` (a classic bug) breaks the per-step contraction."""
    worst = 0.0
    for seed in range(6):
        g = random_game(10, kind="tournament", seed=seed)
        beta, eta = 0.05, 2.0
        star = regularized_nash(g, beta).log_policy
        lr = np.log(g.reference)
        x = np.log(random_reference(10, seed, 2.0))
        for _ in range(40):
            h = nm.prox(x, g.P @ np.exp(x), lr, beta, eta)
            x_new = nm.prox(h, g.P @ np.exp(h), lr, beta, eta)  # wrong centre
            if _kl(star, x) > 1e-10:
                worst = max(worst, _kl(star, x_new) * (1 + eta * beta) / _kl(star, x))
            x = x_new
    assert worst > 1.0


def test_step_size_above_the_admissible_range_is_rejected():
    with pytest.raises(InvalidParameterError, match="admissible range") as info:
        NashMirrorProx(beta=0.1, eta=2.5)
    assert info.value.argument == "eta" and info.value.value == 2.5
    with pytest.raises(InvalidParameterError):
        ApproximateNashMirrorProx(beta=0.1, eta=3.0)
    with pytest.raises(InvalidParameterError) as info:
        NashMirrorProx(beta=0.0)
    assert info.value.argument == "beta"
    for cls in (OnlineMirrorDescent, NashMD, ExtragradientPO):
        with pytest.raises(InvalidParameterError, match="eta \\* beta <= 1"):
            cls(beta=0.5, eta=2.5)
    NashMirrorProx(beta=0.1, eta=2.0)  # the boundary is admissible


@pytest.mark.parametrize("beta", [0.3, 0.05])
def test_rates_do_not_depend_on_the_number_of_responses(beta):
    """Same bound for n = 3, 30, 300, and the fitted per-iteration rate beats ``1 / (1 + 2 beta)`` for each."""
    q = bd.contraction(beta)
    slopes = {}
    for n in (3, 30, 300):
        b = game_batch(random_game, 4, n=n, kind="tournament", seed=n, reference="random")
        tr = NashMirrorProx(beta=beta).run(b, 80, init="uniform")
        assert (tr.kl[:, 0] > 1e-3).all()
        bound = bd.kl_upper(tr.queries, beta, tr.kl[:, :1])
        live = bound > 1e-10
        assert (tr.kl[live] <= bound[live] * (1 + 1e-9)).all(), n
        t = np.arange(81)
        fit = [np.polyfit(t[k > 1e-12], np.log(k[k > 1e-12]), 1)[0] for k in tr.kl]
        slopes[n] = max(fit)
        assert slopes[n] <= np.log(q) + 1e-3, (n, slopes[n], np.log(q))
    assert max(slopes.values()) <= np.log(q) + 1e-3


@settings(max_examples=12)
@given(pair=games_and_starts(max_n=30), beta=st.floats(0.01, 1.0), eta=st.floats(0.2, 2.0))
def test_exploitability_and_span_rates(pair, beta, eta):
    """Span and exploitability below the bounds derived from the KL rate (``rltheory.bounds.nash_mp``); the
    extrapolation point obeys ``KL(pi* || pi_{t+1/2}) <= c_h KL(pi* || pi_t)``; duality gap = 2 exploitability."""
    game, pi0 = pair
    tr = NashMirrorProx(beta=beta, eta=eta).run(game, 100, init=pi0)
    N, kl0, s0 = tr.queries[0], tr.kl[0, 0], tr.span[0, 0]
    sb = bd.span_upper(N, beta, kl0, s0, eta)
    eb = bd.exploitability_upper(N, beta, kl0, s0, eta)
    assert (tr.span[0][sb > 1e-6] <= sb[sb > 1e-6] * (1 + 1e-9)).all()
    assert (tr.exploitability[0][eb > 1e-10] <= eb[eb > 1e-10] * (1 + 1e-9)).all()
    np.testing.assert_array_equal(tr.duality_gap, 2 * tr.exploitability)
    assert (tr.exploitability >= -1e-12).all()
    star = np.log(tr.equilibrium[0])
    x = np.log(pi0)
    lr = np.log(game.reference)
    for _ in range(20):
        h = nm.prox(x, game.P @ np.exp(x), lr, beta, eta)
        assert _kl(star, h) <= bd.extrapolation_kl_factor(beta, eta) * _kl(star, x) + 1e-12
        x = nm.prox(x, game.P @ np.exp(h), lr, beta, eta)


def test_spec_envelopes_are_violated_where_ours_hold():
    """The spec's guesses ``e_t <= q^t KL_0 / beta`` and ``s_t <= 12.5 sqrt(q^t KL_0)`` fail at t = 0 on
    two-response games (as hypothesis found); the derived bounds hold there."""
    g = PreferenceGame([[0.5, 1.0], [0.0, 0.5]], [0.95, 0.05])
    tr = NashMirrorProx(beta=1.0).run(g, 5, init="uniform")
    e0, kl0, s0 = tr.exploitability[0, 0], tr.kl[0, 0], tr.span[0, 0]
    assert e0 > 1.5 * kl0 / 1.0
    assert e0 <= bd.exploitability_upper(0, 1.0, kl0, s0)
    g = PreferenceGame([[0.5, 0.9], [0.1, 0.5]])
    beta = 0.03125
    tr = NashMirrorProx(beta=beta).run(g, 5, init="uniform")
    s0, kl0 = tr.span[0, 0], tr.kl[0, 0]
    assert s0 > 12.5 * np.sqrt(kl0)
    assert (tr.span[0] <= bd.span_upper(tr.queries[0], beta, kl0, s0)).all()


# ---------------------------------------------------------------------------- baselines


def test_spec_sanity_numbers_on_rock_paper_scissors():
    """``shared/specs/nash_mp.md`` A3: cyclic game, pi_0 = (.8, .15, .05), 100 iterations."""
    g, init = rock_paper_scissors(), [0.8, 0.15, 0.05]
    assert NashMirrorProx(beta=0.1).run(g, 100, init=init).kl[0, -1] < 1e-15
    mmd = MagneticMirrorDescent(beta=0.1, eta=2.0)
    np.testing.assert_allclose(mmd.run(g, 100, init=init).kl[0, -1], 8e-5, rtol=0.05)
    np.testing.assert_allclose(NashMD(beta=0.1, eta=1.0).run(g, 100, init=init).kl[0, -1], 1e-6, rtol=0.1)
    assert NashMirrorProx(beta=0.01).run(g, 100, init=init).kl[0, -1] < 1e-12
    # at beta = 0.01 the one-query baselines do not converge in 2000 steps
    for algo in (MagneticMirrorDescent(beta=0.01, eta=0.5), MagneticMirrorDescent(beta=0.01, eta=2.0),
                 NashMD(beta=0.01, eta=1.0)):
        assert algo.run(g, 2000, init=init).kl[0, -1] > 0.1


@settings(max_examples=10)
@given(pair=games_and_starts(max_n=30), beta=st.floats(0.01, 1.0),
       eta=st.sampled_from([0.01, 0.1, 0.5, 1.0]))
def test_nash_md_one_step_recursion(pair, beta, eta):
    """Nash-MD: ``KL_{t+1} <= (1 - eta beta) KL_t + 2 eta^2`` (Munos et al. 2024, as recalled)."""
    game, pi0 = pair
    if eta * beta > 1:
        eta = 1.0 / beta
    tr = NashMD(beta=beta, eta=eta).run(game, 80, init=pi0)
    kl = tr.kl[0]
    assert (kl[1:] <= (1 - eta * beta) * kl[:-1] + 2 * eta ** 2 + 1e-12).all()
    assert (kl <= bd.nash_md_recursion(kl[0], beta, np.full(80, eta)) + 1e-12).all()


def test_nash_md_schedule_bound():
    b = game_batch(random_game, 6, n=15, kind="tournament", seed=1)
    for beta in (0.05, 0.5):
        tr = NashMD(beta=beta).run(b, 300)
        assert (tr.kl[:, 1:] <= bd.nash_md_kl_upper(np.arange(1, 301), beta)).all()


def test_mmd_contracts_at_its_admissible_step():
    b = game_batch(random_game, 6, n=12, kind="tournament", seed=2, reference="random")
    for beta in (0.05, 0.3):
        tr = MagneticMirrorDescent(beta=beta).run(b, 200, init="uniform")  # default eta = 4 beta
        kl = tr.kl
        live = kl[:, :-1] > 1e-10
        assert (kl[:, 1:][live] <= kl[:, :-1][live] / (1 + 4 * beta * beta) * (1 + 1e-9)).all()


def test_omd_is_the_natural_gradient_step_of_online_ipo():
    """Finite-difference gradient of the tabular online-IPO loss, divided by pi (natural gradient), times
    eta beta, reproduces one OnlineMirrorDescent step."""
    g = random_game(5, seed=3, reference="random")
    beta, eta = 0.2, 1.5
    x = np.log(random_reference(5, 7, 1.0))
    pi, lr = np.exp(x), np.log(g.reference)
    C = (g.P - 0.5) / beta

    def loss(theta):
        f = theta - lr
        h = f[:, None] - f[None, :]
        return np.sum(pi[:, None] * pi[None, :] * (h - C) ** 2)

    eps = 1e-6
    grad = np.array([(loss(x + eps * e) - loss(x - eps * e)) / (2 * eps) for e in np.eye(5)])
    step = nm.log_normalize(x - eta * beta * grad / (4 * pi))
    tr = OnlineMirrorDescent(beta=beta, eta=eta).run(g, 1, init=pi)
    np.testing.assert_allclose(np.exp(step), tr.policy[0], atol=1e-8)


def test_egpo_steps_are_gradient_steps_on_its_loss():
    g = random_game(4, seed=4, reference="random")
    beta, eta = 0.25, 2.0
    x = np.log(random_reference(4, 9, 1.0))
    lr = np.log(g.reference)

    def grad_at(theta):
        target = g.P @ np.exp(nm.log_normalize(theta)) / beta  # held fixed (stop-gradient)

        def loss(z):
            d = z - lr - target
            return np.sum((d[:, None] - d[None, :]) ** 2) / 16

        eps = 1e-6
        return np.array([(loss(theta + eps * e) - loss(theta - eps * e)) / (2 * eps) for e in np.eye(4)])

    lrate = eta * beta * 4 / 4  # logit step eta beta = learning rate (n / 4) eta beta on the loss / n^2
    half = nm.log_normalize(x - lrate * grad_at(x))
    full = nm.log_normalize(x - lrate * grad_at(half))
    tr = ExtragradientPO(beta=beta, eta=eta).run(g, 1, init=np.exp(x))
    np.testing.assert_allclose(np.exp(full), tr.policy[0], atol=1e-7)


def test_nash_mp_beats_one_query_baselines_per_query():
    """At the same number of queries, Nash-MP's KL is below Nash-MD's and OMD's at their theory steps."""
    b = game_batch(random_game, 8, n=20, seed=5, reference="random")
    beta, N = 0.05, 400
    mp = NashMirrorProx(beta=beta).run(b, N // 2).kl[:, -1]
    md = NashMD(beta=beta).run(b, N).kl[:, -1]
    omd = OnlineMirrorDescent(beta=beta).run(b, N).kl[:, -1]
    assert (mp < md).all() and (mp < omd).all()


# ---------------------------------------------------------------------------- approximate Nash-MP


def test_policy_gradient_estimate_is_unbiased():
    rng = np.random.default_rng(0)
    n, M, reps = 5, 16, 40_000
    g = random_game(n, seed=1)
    beta, eta = 0.2, 2.0
    lt = np.log(random_reference(n, 2, 1.0))
    lc = np.log(random_reference(n, 3, 1.0))
    lo = np.log(random_reference(n, 4, 1.0))
    lr = np.log(g.reference)
    y = rng.choice(n, size=(reps, M), p=np.exp(lt))
    yo = rng.choice(n, size=(reps, M), p=np.exp(lo))
    o = (rng.random((reps, M)) < g.P[y, yo]).astype(float)
    est = nm.policy_gradient_estimate(np.tile(lt, (reps, 1)), np.tile(lc, (reps, 1)), lr, beta, eta, y, o)
    h = g.P @ np.exp(lo) - beta * (lt - lr) - (lt - lc) / eta
    exact = np.exp(lt) * (h - np.exp(lt) @ h)
    se = est.std(axis=0) / np.sqrt(reps)
    assert (np.abs(est.mean(axis=0) - exact) < 5 * se + 1e-12).all()


def test_approximate_nash_mp_obeys_the_inexact_bound_and_approaches_exact():
    g = random_game(8, seed=6, reference="random")
    beta = 0.1
    exact = NashMirrorProx(beta=beta).run(g, 30)
    tr = ApproximateNashMirrorProx(beta=beta, inner_steps=20, samples=200).run(g, 30, replicates=4, seed=1)
    assert (tr.queries[:, 1] == 2 * 20 * 200).all()
    bound = bd.kl_upper_inexact(tr.kl[:, 0], beta, 2.0, tr.inexactness)
    assert (tr.kl <= bound + 1e-12).all()
    assert tr.kl[:, -1].max() < 0.05 * tr.kl[0, 0]
    assert np.median(tr.kl[:, -1]) > exact.kl[0, -1]  # the sampling floor is above the exact iterate
    small = ApproximateNashMirrorProx(beta=beta, inner_steps=20, samples=10).run(g, 30, replicates=4, seed=1)
    assert tr.kl[:, -10:].mean() < small.kl[:, -10:].mean()  # more samples per step: a lower floor


def test_approximate_replicates_of_a_batch_match_single_runs():
    b = game_batch(random_game, 3, n=5, seed=2)
    algo = ApproximateNashMirrorProx(beta=0.2, inner_steps=3, samples=8)
    batch = algo.run(b, 12, seed=7)
    for r in range(3):
        single = algo.run(b.game(r), 12, seed=replicate_seeds(7, r, r + 1))
        assert single == batch.replicate(r)


# ---------------------------------------------------------------------------- kernels vs reference twins


@pytest.mark.parametrize("cls", ALL)
def test_compiled_kernel_matches_numpy_twin_on_batches(cls):
    b = game_batch(random_game, 5, n=17, kind="tournament", seed=3, reference="random")
    init = np.stack([random_reference(17, s, 2.0) for s in range(5)])
    algo = cls(beta=0.07)
    a, c = algo.run(b, 40, init=init, backend="numba"), algo.run(b, 40, init=init, backend="numpy")
    for k in a.keys():
        np.testing.assert_allclose(a[k], c[k], atol=1e-10, rtol=0, err_msg=k)


def test_approximate_kernel_matches_numpy_twin_on_batches():
    b = game_batch(random_game, 3, n=9, seed=4)
    algo = ApproximateNashMirrorProx(beta=0.1, inner_steps=4, samples=16)
    a, c = algo.run(b, 10, seed=3, backend="numba"), algo.run(b, 10, seed=3, backend="numpy", chunk_iterations=3)
    for k in a.keys():
        np.testing.assert_allclose(a[k], c[k], atol=1e-10, rtol=0, err_msg=k)


@pytest.mark.gpu
@pytest.mark.parametrize("cls", [*ALL, ApproximateNashMirrorProx])
def test_cupy_matches_numba(cls):
    b = game_batch(random_game, 4, n=16, seed=5)
    algo = cls(beta=0.1)
    a, c = algo.run(b, 20, backend="numba"), algo.run(b, 20, backend="cupy")
    for k in a.keys():
        np.testing.assert_allclose(a[k], c[k], atol=1e-10, rtol=0, err_msg=k)


# ---------------------------------------------------------------------------- trace and validation


def test_trace_shapes_and_queries():
    b = game_batch(random_game, 3, n=6)
    for cls, per in [(NashMirrorProx, 2), (ExtragradientPO, 2), (NashMD, 1), (OnlineMirrorDescent, 1),
                     (MagneticMirrorDescent, 1)]:
        tr = cls(beta=0.2).run(b, 7)
        for k in ("kl", "exploitability", "duality_gap", "span", "queries"):
            assert tr[k].shape == (3, 8), (cls, k)
        assert tr.policy.shape == tr.equilibrium.shape == (3, 6)
        np.testing.assert_array_equal(tr.queries[0], per * np.arange(8))
        assert tr.meta["queries_per_iteration"] == per
    tr = NashMirrorProx(beta=0.2).run(rock_paper_scissors(), 5, replicates=2)
    assert tr.kl.shape == (2, 6)


def test_run_validation_names_arguments():
    g, b = rock_paper_scissors(), game_batch(random_game, 3, n=3)
    algo = NashMirrorProx(beta=0.1)
    cases = {
        "game": lambda: algo.run(np.eye(3), 5),
        "iterations": lambda: algo.run(g, 0),
        "replicates": lambda: algo.run(b, 5, replicates=2),
        "backend": lambda: algo.run(g, 5, backend="tpu"),
        "init": lambda: algo.run(g, 5, init=[0.5, 0.5, 0.0]),
        "equilibrium": lambda: algo.run(g, 5, equilibrium=[0.5, 0.5]),
    }
    for argument, call in cases.items():
        with pytest.raises(ValidationError) as info:
            call()
        assert info.value.argument == argument, (argument, info.value)
    with pytest.raises(InvalidPolicyError) as info:
        algo.run(g, 5, init=[0.5, 0.5, 0.0])
    assert info.value.index == (2,)
    with pytest.raises(InvalidModelError):
        algo.run(b.P, 5)
    with pytest.raises(InvalidParameterError) as info:
        ApproximateNashMirrorProx(beta=0.1, samples=1)
    assert info.value.argument == "samples"


def test_given_equilibrium_is_used_and_deterministic_methods_ignore_the_seed():
    g = random_game(5, seed=1)
    star = regularized_nash(g, 0.2).policy
    a = NashMirrorProx(beta=0.2).run(g, 10, equilibrium=star, seed=1)
    assert a == NashMirrorProx(beta=0.2).run(g, 10, seed=2)


# ---------------------------------------------------------------------------- structure: one prox, rules by name


def test_one_prox_step_compiled_and_array_twins_agree():
    """The library's one prox step (rltheory.kernels.mirror): compiled and array versions agree."""
    from rltheory.kernels import mirror

    rng = np.random.default_rng(0)
    for n in (2, 7, 40):
        x = mirror.log_normalize(rng.normal(size=n))
        g, lr = rng.random(n), mirror.log_normalize(rng.normal(size=n))
        for beta, eta in ((0.1, 2.0), (1.0, 0.3), (0.01, 1.0)):
            out = np.empty(n)
            mirror.kl_prox_one(x, g, lr, beta, eta, out)
            np.testing.assert_allclose(out, mirror.kl_prox(x, g, lr, beta, eta), atol=1e-12, rtol=0)
    assert nm.prox is mirror.kl_prox


def test_the_prox_formula_is_written_once():
    """No module but rltheory/kernels/mirror.py writes the prox's ``/ (1 + eta beta)`` (the core solver used to)."""
    import re
    from pathlib import Path

    import rltheory

    root = Path(rltheory.__file__).resolve().parent
    pattern = re.compile(r"/\s*\(1\.0 \+ (eta \* beta|2\.0 \* beta)\)|\* beta \* lb \+ z")
    owners = sorted(p.name for p in [*root.rglob("*.py"), *Path(nm.__file__).parent.glob("*.py")]
                    if pattern.search(p.read_text()))
    assert owners == ["mirror.py"], owners


def test_no_method_codes_each_learner_brings_its_named_step():
    import inspect

    assert "method" not in inspect.signature(pd.dynamics_kernel().py_func).parameters
    steps = {cls._step.py_func.__name__ for cls in ALL}
    assert steps == {"nash_mp_step", "mmd_step", "omd_step", "nash_md_step", "egpo_step"}
    assert not any(hasattr(cls, "_method") for cls in [*ALL, ApproximateNashMirrorProx])


@pytest.mark.parametrize("cls", ALL)
def test_each_compiled_step_agrees_with_its_twin(cls):
    rng = np.random.default_rng(3)
    n = 9
    P = random_game(n, seed=4).P
    PT = np.ascontiguousarray(P.T)
    x = np.log(random_reference(n, rng, 2.0))
    lr = np.log(random_reference(n, rng, 1.0))
    g = P @ np.exp(x)
    beta, eta = 0.2, 1.5
    xc = x.copy()
    cls._step(PT, lr, xc, g.copy(), beta, eta, np.empty(n), np.empty(n))
    ref = cls._step_reference(P[None], lr[None], x[None], g[None], beta, eta)[0]
    np.testing.assert_allclose(xc, ref, atol=1e-12, rtol=0)
    assert not np.allclose(xc, x)  # the step moved the iterate


def test_hyperparameters_are_keyword_only_with_a_deprecation_path():
    import inspect

    for cls in [*ALL, ApproximateNashMirrorProx]:
        params = [p for p in inspect.signature(cls.__init__).parameters.values() if p.name != "self"]
        assert params and all(p.kind is p.KEYWORD_ONLY for p in params), cls
        run = inspect.signature(cls.run).parameters
        assert run["replicates"].default == 1 and run["seed"].default == 0, cls
        assert all(run[k].kind is inspect.Parameter.KEYWORD_ONLY for k in ("replicates", "seed", "backend"))
    with pytest.warns(FutureWarning, match="keyword"):
        old = NashMirrorProx(0.3, 1.0)
    assert old.get_params() == NashMirrorProx(beta=0.3, eta=1.0).get_params() == {"beta": 0.3, "eta": 1.0}
    with pytest.raises(TypeError):
        NashMD(0.1, 1.0, 3.0)


def test_batch_runs_one_replicate_per_game_by_default():
    b = game_batch(random_game, 3, n=4, seed=1)
    a = NashMirrorProx(beta=0.2).run(b, 4)
    assert a.kl.shape == (3, 5)
    assert a == NashMirrorProx(beta=0.2).run(b, 4, replicates=3)


def test_equilibrium_without_full_support_and_complex_policies_are_rejected():
    g = rock_paper_scissors()
    algo = NashMirrorProx(beta=0.1)
    with pytest.raises(InvalidPolicyError, match="full support") as info:
        algo.run(g, 3, equilibrium=[1.0, 0.0, 0.0])
    assert info.value.argument == "equilibrium" and info.value.index == (1,)
    for backend in ("numba", "numpy"):  # neither backend may produce NaN KL / inf span silently
        with pytest.raises(InvalidPolicyError):
            algo.run(g, 3, equilibrium=[1.0, 0.0, 0.0], backend=backend)
    with pytest.raises(InvalidPolicyError, match="real") as info:
        algo.run(g, 3, init=np.array([0.5, 0.25, 0.25]) + 1e-3j)
    assert info.value.argument == "init"
    with pytest.raises(InvalidPolicyError, match="real"):
        algo.run(g, 3, equilibrium=np.array([1 / 3] * 3, dtype=complex))
    with pytest.raises(InvalidPolicyError, match="real"):
        nm.exploitability(g, np.array([1 / 3] * 3) * (1 + 1j), 0.1)


def test_preference_kernels_are_cached_on_disk():
    """``cache=True`` on every compiled function of the Nash-MP family (cold start)."""
    from numba.core.dispatcher import Dispatcher

    from rltheory.algorithms import preference_baselines as pb
    from rltheory.kernels import mirror

    found = 0
    for mod in (nm, pb, pd, mirror):
        for name, obj in vars(mod).items():
            if isinstance(obj, Dispatcher) and obj.__module__ == mod.__name__:
                found += 1
                assert type(obj._cache).__name__ != "NullCache", f"{mod.__name__}.{name} lacks cache=True"
    assert found >= 15
    assert type(pd.dynamics_kernel()._cache).__name__ != "NullCache"


# ---------------------------------------------------------------------------- bounds: bad input


@pytest.mark.parametrize("call, argument", [
    (lambda: bd.nash_md_kl_upper(10, -0.5), "beta"),
    (lambda: bd.nash_md_kl_upper(-3, 0.5), "T"),
    (lambda: bd.nash_md_kl_upper(np.nan, 0.5), "T"),
    (lambda: bd.kl_upper(10, 0.1, 1.0, eta=4.0), "eta"),
    (lambda: bd.kl_upper(10, 0.0, 1.0), "beta"),
    (lambda: bd.kl_upper(10, 0.1, -1.0), "kl0"),
    (lambda: bd.kl_upper([1, -2], 0.1, 1.0), "N"),
    (lambda: bd.kl_upper_iterations(3, 0.1, np.nan), "kl0"),
    (lambda: bd.span_upper(10, 0.1, 1.0, -0.1), "span0"),
    (lambda: bd.exploitability_upper(10, np.inf, 1.0, 1.0), "beta"),
    (lambda: bd.exploitability_pointwise_upper(-1.0, 0.0, 0.1), "kl_forward"),
    (lambda: bd.exploitability_pointwise_upper(1.0, np.nan, 0.1), "kl_reverse"),
    (lambda: bd.extrapolation_kl_factor(0.1, 0.0), "eta"),
    (lambda: bd.kl_upper_inexact(1.0, 0.1, 2.0, [0.0, np.nan]), "inexactness"),
    (lambda: bd.kl_upper_inexact(-1.0, 0.1, 2.0, [0.0, 0.1]), "kl0"),
    (lambda: bd.nash_md_recursion(1.0, 0.1, [0.5, -0.5]), "etas"),
    (lambda: bd.nash_md_recursion(1.0, 0.1, [[0.5]]), "etas"),
    (lambda: bd.mmd_kl_upper(5, 0.1, 1.0, 0.0), "eta"),
    (lambda: bd.contraction("abc"), "beta"),
    (lambda: bd.rate_per_query(0.1, 2.5), "eta"),
])
def test_bounds_reject_invalid_arguments(call, argument):
    with pytest.raises(ValidationError) as info:
        call()
    assert info.value.argument == argument


def test_bounds_locate_the_bad_entry_and_accept_edge_values():
    with pytest.raises(InvalidParameterError) as info:
        bd.kl_upper(np.array([0, 2, -4]), 0.1, 1.0)
    assert info.value.index == (2,) and info.value.value == -4.0
    assert bd.kl_upper(0, 0.1, 0.0) == 0.0  # KL_0 = 0: already at the equilibrium
    assert bd.mmd_kl_upper(1, 0.1, 1.0, 0.4) == pytest.approx(1 / 1.04)  # MMD steps may exceed 2 * beta
    assert bd.kl_upper_inexact(1.0, 0.5, 2.0, [0.0, -0.1])[1] == pytest.approx(0.4)  # negative excess is allowed
