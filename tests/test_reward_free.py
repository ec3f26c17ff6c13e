"""Reward-free exploration in linear mixture MDPs (Zhang, Zhang & Gu, ICML 2023): models, kernels, claims.

Properties follow the digest's A7 list; the rate claims run small exact instances and print their fitted
slopes with bootstrap intervals.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import rltheory
from rltheory.algorithms import HFUCRLRFE, UCRLRFE, RandomExploration, UCRLRFEPlus
from rltheory.algorithms import reward_free_kernels as K
from rltheory.algorithms.reward_free import (
    RewardFreeEvaluator,
    check_reward,
    evaluation_rewards,
    geometric_checkpoints,
)
from rltheory.algorithms.reward_free_analysis import episodes_to_epsilon, loglog_slope
from rltheory.bounds import reward_free as bounds
from rltheory.errors import InvalidModelError, InvalidParameterError, ValidationError
from rltheory.mdps import hard_instance, mixture_of_kernels, tabular_embedding
from rltheory.mdps.linear_mixture import hard_instance_gap
from rltheory.models import LinearMixtureMDP
from rltheory.planning import backward_induction
from rltheory.regression import (
    WeightedRidge,
    project_affine,
    quad_norm,
    quad_norm_reference,
    ridge_solve,
    sm_update,
    sm_update_reference,
)

seeds = st.integers(0, 2**31 - 1)


def _random_kernel(rng, S, A):
    P = rng.dirichlet(np.full(S, 0.5), size=(S, A))
    return P / P.sum(-1, keepdims=True)


def _spd(rng, d, n=30):
    X = rng.normal(size=(n, d))
    return np.linalg.inv(np.eye(d) + X.T @ X / n)


# ------------------------------------------------------------------------------------------- models
def test_exported_from_package():
    assert rltheory.LinearMixtureMDP is LinearMixtureMDP


@given(seeds, st.integers(1, 4), st.integers(1, 3))
def test_tabular_embedding_identity(seed, S, A):
    rng = np.random.default_rng(seed)
    P = _random_kernel(rng, S, A)
    m = tabular_embedding(P, 3)
    V = rng.random(S)
    assert m.d == S * S * A
    np.testing.assert_allclose(m.phi_V(V) @ m.theta, P @ V, atol=1e-12, rtol=0)
    assert np.all(np.linalg.norm(m.phi_V(V), axis=-1) <= 1 + 1e-12)
    assert np.linalg.norm(m.theta) <= S * math.sqrt(A) + 1e-12 and m.B == S * math.sqrt(A)
    np.testing.assert_allclose(m.P, P, atol=1e-12)


@given(seeds, st.integers(1, 6), st.integers(1, 3), st.integers(1, 6))
def test_mixture_identity_and_norm(seed, S, A, d):
    m = mixture_of_kernels(S, A, d, H=4, seed=seed)
    V = np.random.default_rng(seed + 1).random((3, S))
    np.testing.assert_allclose(m.phi_V(V) @ m.theta, np.einsum("saj,nj->nsa", m.P, V), atol=1e-12, rtol=0)
    assert np.all(np.linalg.norm(m.phi_V(V), axis=-1) <= 1 + 1e-12)
    assert m.B == pytest.approx(math.sqrt(d)) and np.linalg.norm(m.theta) <= m.B + 1e-12
    # phi_V is one contraction of phi with V
    np.testing.assert_allclose(m.phi_V(V[0]), np.einsum("isaj,j->sai", m.phi, V[0]), atol=1e-14)


def test_model_rejects_bad_input():
    m = mixture_of_kernels(3, 2, 2, H=3, seed=0)
    phi, theta = np.array(m.phi), np.array(m.theta)
    with pytest.raises(InvalidModelError) as e:                       # induced row does not sum to one
        LinearMixtureMDP(phi, theta * 1.1, 3)
    assert e.value.argument == "phi" and e.value.index == (0, 0)
    bad = phi.copy()
    bad[:, 1, 1, :] *= 1.5                                             # row (1, 1) sums to 1.5
    with pytest.raises(InvalidModelError) as e:
        LinearMixtureMDP(bad, theta, 3)
    assert e.value.index == (1, 1)
    big = phi * 2.0                                                    # ||phi_V|| up to 2, P fine with theta/2
    with pytest.raises(InvalidModelError) as e:
        LinearMixtureMDP(big, theta / 2, 3)
    assert "phi_V" in str(e.value) and e.value.index == (0, 0)
    with pytest.raises(InvalidModelError) as e:                       # d mismatch
        LinearMixtureMDP(phi, np.append(theta, 0.0), 3)
    assert e.value.argument == "theta"
    nan = phi.copy()
    nan[0, 0, 0, 0] = np.nan
    with pytest.raises(InvalidModelError, match="finite"):
        LinearMixtureMDP(nan, theta, 3)
    with pytest.raises(InvalidModelError) as e:
        LinearMixtureMDP(phi, theta, 0)
    assert e.value.argument == "H"
    with pytest.raises(InvalidModelError) as e:
        LinearMixtureMDP(phi, theta, 3, B=0.5 * np.linalg.norm(theta))
    assert e.value.argument == "B"
    assert isinstance(e.value, ValueError)
    neg = np.zeros((1, 2, 1, 2))
    neg[0, 0, 0] = [1.2, -0.2]                                        # sums to one but negative
    neg[0, 1, 0] = [0.0, 1.0]
    with pytest.raises(InvalidModelError) as e:
        LinearMixtureMDP(neg * 0.5, [2.0], 2)
    assert e.value.index == (0, 0, 1)


@given(st.integers(2, 5), st.integers(2, 12), st.integers(16, 4096), seeds)
def test_hard_instance_facts(d, H, Kb, seed):
    inst = hard_instance(d, H, Kb, seed=seed)
    m = inst.model
    P = m.P
    np.testing.assert_allclose(P.sum(-1), 1.0, atol=1e-12)
    assert np.all(P >= 0)
    np.testing.assert_allclose(P[0, :, 2], inst.delta0 + inst.actions @ inst.mu, atol=1e-12)
    assert np.linalg.norm(m.theta) == pytest.approx(1 + (d - 1) * inst.Delta, abs=1e-12)
    # gap formula equals exact DP, for every first action
    Q = backward_induction(m.tabular(inst.reward)).Q[0, 0]
    for a in range(m.A):
        assert Q.max() - Q[a] == pytest.approx(hard_instance_gap(inst, a), abs=1e-12)


def test_hard_instance_delta_by_hand():
    inst = hard_instance(3, 10, 100, signs=[1, -1])
    assert inst.Delta == pytest.approx(0.007216878364870321, abs=1e-15)    # sqrt((1/6)/100) / (4 sqrt 2)
    assert np.linalg.norm(inst.model.theta) == pytest.approx(1.0144337567297406, abs=1e-12)


# ------------------------------------------------------------------------------------------- regression
@given(seeds, st.integers(1, 6), st.integers(1, 2000))
def test_sherman_morrison_matches_batch(seed, d, n):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.choice([1e-2, 1.0, 10.0], size=(n, 1))
    y = rng.normal(size=n)
    s2 = rng.uniform(0.05, 2.0, size=n)
    r = WeightedRidge(d, lam=0.5)
    for i in range(n):
        r.update(X[i], y[i], s2[i])
    theta, Sigma = ridge_solve(X, y, 0.5, s2)
    inv = np.linalg.inv(Sigma)
    assert np.linalg.norm(r.Sinv - inv) <= 1e-8 * np.linalg.norm(inv)
    assert np.linalg.norm(r.theta - theta) <= 1e-8 * max(1.0, np.linalg.norm(theta))
    np.testing.assert_allclose(r.Sinv, r.Sinv.T, atol=1e-12 * np.abs(r.Sinv).max())
    assert np.linalg.eigvalsh((r.Sinv + r.Sinv.T) / 2).min() > 0


@given(seeds, st.integers(1, 6))
def test_sm_kernel_twin_and_norm_decreases(seed, d):
    rng = np.random.default_rng(seed)
    Sinv = _spd(rng, d)
    x, z = rng.normal(size=d), rng.normal(size=d)
    ref, q_ref = sm_update_reference(Sinv, x, 0.7)
    before = quad_norm(Sinv, z)
    assert before == pytest.approx(quad_norm_reference(Sinv, z), abs=1e-12)
    q = sm_update(Sinv, x, 0.7)
    np.testing.assert_allclose(Sinv, ref, atol=1e-10, rtol=0)
    assert q == pytest.approx(q_ref, abs=1e-10)
    assert quad_norm(Sinv, z) <= before + 1e-12                # ||z||_{Sigma^{-1}} non-increasing with data


def test_project_affine_is_constrained_least_squares():
    rng = np.random.default_rng(3)
    d = 4
    Sigma = np.linalg.inv(_spd(rng, d))
    C = np.vstack([np.ones(d), np.ones(d)])                     # redundant rows are fine
    theta = rng.normal(size=d)
    t = project_affine(theta, Sigma, C, [2.0, 2.0])
    assert C[0] @ t == pytest.approx(2.0, abs=1e-12)
    # KKT by hand for the single constraint 1^T t = 2: t = theta - Sigma^{-1} 1 (1^T theta - 2) / (1^T Sigma^{-1} 1)
    w = np.linalg.solve(Sigma, np.ones(d))
    np.testing.assert_allclose(t, theta - w * (theta.sum() - 2.0) / w.sum(), atol=1e-12)


# ------------------------------------------------------------------------------------------- kernels vs twins
@given(seeds, st.integers(2, 7))
def test_gram_factor_and_home_twins(seed, S):
    rng = np.random.default_rng(seed)
    for d in (3, 8):                                   # d < S (Cholesky) and d >= S (eigendecomposition)
        m = mixture_of_kernels(S, 2, d, H=4, seed=seed)
        Sinv = _spd(rng, d)
        G = K.gram(m.phi_sa, Sinv)
        np.testing.assert_allclose(G, K.gram_reference(m.phi_sa, Sinv), atol=1e-12)
        F = K.factor(m.phi_sa, Sinv)
        np.testing.assert_allclose(np.einsum("sari,sarj->saij", F, F), G, atol=1e-10)
        np.testing.assert_allclose(np.abs(np.einsum("sari,sarj->saij", F, F) - np.einsum(
            "sari,sarj->saij", *[K.factor_reference(m.phi_sa, Sinv)] * 2)), 0, atol=1e-10)
    m = mixture_of_kernels(5, 2, 3, H=4, seed=seed)
    M = 5
    phis = rng.normal(size=(M, 3)) * 0.3
    thetas = rng.normal(size=(M, 3))
    run = np.stack([_spd(rng, 3) for _ in range(M)])
    frz = np.stack([_spd(rng, 3) for _ in range(M)])
    out = np.empty(M)
    K.home(phis, thetas, run, frz, 0.8, 0.3, 0.7, out)
    np.testing.assert_allclose(out, K.home_reference(phis, thetas, run, frz, 0.8, 0.3, 0.7), atol=1e-12)


@given(seeds, st.floats(0.0, 3.0), st.floats(0.05, 1.0), st.floats(0.1, 1.0))
def test_home_invariants(seed, beta, alpha, gamma):
    rng = np.random.default_rng(seed)
    d, M = 3, 6
    phis = rng.normal(size=(M, d)) * 0.4
    thetas = rng.normal(size=(M, d))
    run = np.stack([_spd(rng, d) for _ in range(M)])
    frz = np.stack([_spd(rng, d) for _ in range(M)])
    s2 = np.empty(M)
    K.home(phis, thetas, run, frz, beta, alpha, gamma, s2)
    assert s2.shape == (M,) and np.all(s2 >= alpha ** 2)
    nr = np.array([quad_norm_reference(run[m], phis[m]) for m in range(M)])
    nf = np.array([quad_norm_reference(frz[m], phis[m]) for m in range(M)])
    pred = np.clip(np.sum(phis * thetas, 1), 0, 1)
    vbar = pred[1:] - pred[:-1] ** 2
    assert np.all((vbar >= -1) & (vbar <= 1))
    e = np.minimum(1, 2 * beta * nf[:-1]) + np.minimum(1, beta * nf[1:])
    assert np.all(s2 >= gamma ** 2 * nr - 1e-15)
    assert np.all(s2[:-1] >= vbar + e - 1e-15)
    assert s2[-1] >= 1.0


@given(seeds)
def test_home_with_true_theta_is_the_variance(seed):
    m = mixture_of_kernels(5, 2, 3, H=4, seed=seed)
    rng = np.random.default_rng(seed)
    V = rng.random(5)
    M = 4
    powers = V[None] ** (2.0 ** np.arange(M))[:, None]
    s, a = 1, 1
    phis = powers @ m.phi_sa[s, a].T
    thetas = np.broadcast_to(m.theta, (M, 3)).copy()
    eye = np.broadcast_to(np.eye(3), (M, 3, 3)).copy()
    s2 = np.empty(M)
    K.home(phis, thetas, eye, eye, 0.0, 1e-9, 1e-9, s2)        # beta = 0: no error bars
    p = m.P[s, a]
    var = p @ powers[1:].T - (p @ powers[:-1].T) ** 2         # Var[V^{2^m}] = P V^{2^{m+1}} - (P V^{2^m})^2
    np.testing.assert_allclose(s2[:-1], np.maximum(var, 1e-18), atol=1e-12)


@given(seeds, st.floats(0.0, 3.0))
def test_oracle_twin_and_ranges(seed, beta):
    rng = np.random.default_rng(seed)
    m = mixture_of_kernels(4, 3, 3, H=5, seed=seed)
    Pts = np.stack([m.transition_from(m.theta + rng.normal(size=3) * 0.3) for _ in range(2)])
    Gh, Gt = K.factor(m.phi_sa, _spd(rng, 3)), K.factor(m.phi_sa, _spd(rng, 3))
    rw = evaluation_rewards(4, 3, 5)[:7]
    a = K.hf_oracle(Pts, Gh, Gt, rw, beta, 5, 0)
    b = K.hf_oracle_reference(Pts, Gh, Gt, rw, beta, 5, 0)
    assert a[:2] == b[:2]
    for x, y in zip(a[2:], b[2:], strict=True):
        np.testing.assert_allclose(x, y, atol=1e-10)
    _, _, pi, Vt, Vh, sat = a
    assert np.all((Vt >= 0) & (Vt <= 1) & (Vh >= 0) & (Vh <= 1)) and 0 <= sat <= 1


@given(seeds, st.integers(2, 6))
def test_factor_of_a_singular_gram_and_qr_of_numpy(seed, d):
    """The hard instance's Gram matrices are singular (a Cholesky factor of ``G`` would fail): ``factor`` still
    gives ``F^T F = G``, with ``r = min(d, S)`` rows, and its rows equal NumPy's QR ``R`` up to their signs."""
    rng = np.random.default_rng(seed)
    m = hard_instance(d, 4, 64, seed=seed).model
    Sinv = _spd(rng, d)
    G = K.gram_reference(m.phi_sa, Sinv)
    assert np.linalg.eigvalsh(G).min() < 1e-12 * np.abs(G).max()          # the case this test is about
    F = K.factor(m.phi_sa, Sinv)
    assert F.shape == (m.S, m.A, min(d, m.S), m.S)
    np.testing.assert_allclose(np.einsum("sari,sarj->saij", F, F), G, atol=1e-12)
    np.testing.assert_allclose(np.abs(F), np.abs(K.factor_reference(m.phi_sa, Sinv)), atol=1e-12)


@given(seeds, st.integers(1, 4))
def test_mixture_kernels_twin(seed, n):
    rng = np.random.default_rng(seed)
    m = mixture_of_kernels(4, 3, 5, H=3, seed=seed)
    thetas = rng.normal(size=(n, 5))
    np.testing.assert_allclose(K.mixture_kernels(m.phi_sa, thetas), K.mixture_kernels_reference(m.phi_sa, thetas),
                               atol=1e-14)
    np.testing.assert_allclose(K.mixture_kernels(m.phi_sa, m.theta[None])[0], m.P, atol=1e-12)


@given(seeds, st.integers(2, 6), st.floats(0.0, 3.0))
def test_three_state_oracle_is_the_general_loop_bit_for_bit(seed, d, beta):
    """The fused three-state path of ``hf_oracle`` (the hard instance's ``2^(d-1)`` actions) gives exactly what
    the per-action loop gives: same candidate, same policy, same values to the last bit (``d = 2`` has
    ``r = 2 < 3`` factor rows, padded with zeros)."""
    rng = np.random.default_rng(seed)
    for m in (hard_instance(d, 6, 64, seed=seed).model, mixture_of_kernels(3, 5, d, H=6, seed=seed)):
        Fh, Ft = K.factor(m.phi_sa, _spd(rng, d) * 20), K.factor(m.phi_sa, _spd(rng, d) * 5)
        Pts = K.mixture_kernels(m.phi_sa, m.theta + rng.normal(size=(2, d)) * 0.2)
        rw = np.concatenate([np.zeros((1, m.S, m.A)), rng.random((5, m.S, m.A)) / m.H])
        fused = K.hf_oracle(Pts, Fh, Ft, rw, beta, m.H, m.start_state)
        loop = K.hf_oracle(Pts, Fh, Ft, rw, beta, m.H, m.start_state, False)
        assert fused[:2] == loop[:2] and fused[5] == loop[5]
        for x, y in zip(fused[2:5], loop[2:5], strict=True):
            np.testing.assert_array_equal(x, y)
        ref = K.hf_oracle_reference(Pts, Fh, Ft, rw, beta, m.H, m.start_state)
        assert ref[:2] == fused[:2]
        np.testing.assert_allclose(ref[4], fused[4], atol=1e-10)


@given(seeds)
def test_hf_episode_twin(seed):
    rng = np.random.default_rng(seed)
    m = mixture_of_kernels(4, 2, 3, H=5, seed=seed)
    M, d, H = 4, 3, 5
    cum = np.cumsum(m.P, -1)
    cum[..., -1] = 1
    pi = rng.integers(0, 2, size=(H, 4))
    Vh, Vt = rng.random((H + 1, 4)), rng.random((H + 1, 4))
    thetas = rng.normal(size=(2, M, d))
    frz = np.stack([np.stack([_spd(rng, d) for _ in range(M)]) for _ in range(2)])
    states = [(frz.copy(), np.broadcast_to(np.eye(d), (2, M, d, d)).copy(), np.zeros((2, M, d))) for _ in range(2)]
    u = rng.random(H)
    n1 = K.hf_episode(m.phi_sa, cum, 0, pi, Vh, Vt, u, thetas, *states[0][:1], frz, *states[0][1:], 1.5, 0.4, 0.7)
    n2 = K.hf_episode_reference(m.phi_sa, cum, 0, pi, Vh, Vt, u, thetas, *states[1][:1], frz, *states[1][1:], 1.5,
                                0.4, 0.7)
    assert n1 == n2
    for x, y in zip(states[0], states[1], strict=True):
        np.testing.assert_allclose(x, y, atol=1e-10)


@given(seeds, st.integers(1, 7))
def test_box_max_twin_and_exact(seed, S):
    rng = np.random.default_rng(seed)
    m = mixture_of_kernels(S, 2, 3, H=3, seed=seed)
    G = K.gram(m.phi_sa, _spd(rng, 3))
    val, vstar = K.box_max(G)
    val_r, vstar_r = K.box_max_reference(G)
    np.testing.assert_allclose(val, val_r, atol=1e-10)
    np.testing.assert_allclose(np.einsum("sai,saij,saj->sa", vstar, G, vstar), val, atol=1e-10)
    # a random point of the box never beats the vertex maximum (convexity)
    f = rng.random((50, S))
    assert np.all(np.einsum("ni,saij,nj->san", f, G, f) <= val[..., None] + 1e-10)


@given(seeds, st.floats(0.0, 2.0))
def test_ucrl_plan_twin_and_rollout_twin(seed, beta):
    rng = np.random.default_rng(seed)
    m = mixture_of_kernels(4, 2, 3, H=5, seed=seed)
    Pt = m.transition_from(m.theta + rng.normal(size=3) * 0.2)
    G = K.gram(m.phi_sa, _spd(rng, 3))
    r = rng.random((5, 4, 2))
    a, b = K.ucrl_plan(Pt, G, r, beta, 5.0), K.ucrl_plan_reference(Pt, G, r, beta, 5.0)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, atol=1e-10)
    cum = np.cumsum(m.P, -1)
    cum[..., -1] = 1
    _, vstar = K.box_max(G)
    u = rng.random(5)
    out = [(_spd(rng, 3), np.eye(3), np.zeros(3))]
    out.append(tuple(x.copy() for x in out[0]))
    K.ucrl_episode(m.phi_sa, cum, 0, a[0], vstar, u, *out[0])
    K.ucrl_episode_reference(m.phi_sa, cum, 0, a[0], vstar, u, *out[1])
    for x, y in zip(out[0], out[1], strict=True):
        np.testing.assert_allclose(x, y, atol=1e-10)
    counts = [np.zeros((4, 2, 4)), np.zeros((4, 2, 4))]
    uu = rng.random((3, 5, 2))
    K.random_episodes(cum, 0, uu, counts[0])
    K.random_episodes_reference(cum, 0, uu, counts[1])
    np.testing.assert_array_equal(*counts)
    assert counts[0].sum() == 15


# ------------------------------------------------------------------------------------------- planning
@given(seeds, st.floats(0.01, 2.0))
def test_plan_with_true_theta_is_exact_dp_and_bonus_is_optimistic(seed, beta):
    m = mixture_of_kernels(5, 3, 3, H=6, seed=seed)
    ev = RewardFreeEvaluator(m)
    _, Q, V = ev.plan(m.theta, ev.rewards)
    np.testing.assert_allclose(Q, ev.Qstar, atol=1e-12)
    # PLAN (Alg. 1) on per-step rewards: exact tabular DP at theta*, and optimistic with beta > 0
    G = K.gram(m.phi_sa, np.eye(3))
    r = np.broadcast_to(np.random.default_rng(seed).random((5, 3)), (6, 5, 3)).copy()
    _, V0, _ = K.ucrl_plan(m.P, G, r, 0.0, 6.0)
    exact = backward_induction(m.tabular(r)).V
    np.testing.assert_allclose(V0, exact, atol=1e-12)
    _, Vb, _ = K.ucrl_plan(m.P, G, r, beta, 6.0)
    assert np.all(Vb >= V0 - 1e-12)


def test_test_rewards_have_total_at_most_one():
    for S, A, H in [(8, 3, 20), (3, 4, 10), (2, 2, 1)]:
        R = evaluation_rewards(S, A, H)
        assert len(R) == S + 24 + min(18, S * A)
        for r in R:
            check_reward(r, S, A, H)                                 # would raise if a total could exceed 1
            assert H * r.max() <= 1 + 1e-12


def test_reward_validation():
    with pytest.raises(InvalidParameterError) as e:
        check_reward(np.full((3, 2), 0.5), 3, 2, 4)                 # total 2 > 1, first above 1 at h = 2
    assert e.value.argument == "reward" and e.value.index == (2,)
    with pytest.raises(InvalidParameterError) as e:
        check_reward(np.full((3, 2), -0.1), 3, 2, 4)
    assert e.value.index == (0, 0, 0)
    with pytest.raises(InvalidParameterError):
        check_reward(np.ones((2, 2)), 3, 2, 4)
    np.testing.assert_allclose(check_reward(np.ones((3, 2)), 3, 2, 4, per_step=True), 0.25)
    with pytest.raises(InvalidParameterError):
        check_reward(np.full((3, 2), 1.5), 3, 2, 4, per_step=True)


# ------------------------------------------------------------------------------------------- bounds
def test_theory_constants_by_hand():
    # beta_K of Thm 2.6.3 at K = 1000, d = 4, H = 20, B = 1, delta' = 0.1 (M = 18, delta = 0.1/72):
    # eta = log(25001), levels = log(0.5 / 20^-1/2) + 1, tau = log(32 levels 1e6 400 / delta),
    # beta = 12 sqrt(4 eta tau) + 60 tau + 2
    assert bounds.hf_levels(1000, 20) == 18
    assert bounds.hf_beta(1000, 4, 20, 1.0, 0.1 / 72) == pytest.approx(2249.931616758883, rel=1e-12)
    assert bounds.hf_alpha(20) == pytest.approx(0.22360679774997896) and bounds.hf_gamma(16) == 0.5
    assert bounds.ucrl_rfe_beta(1000, 4, 20, 1.0, 0.1) == pytest.approx(176.70953124429536, rel=1e-12)
    k = np.arange(1, 2000)
    assert np.all(np.diff(bounds.hf_beta(k, 4, 20, 1.0, 1e-3)) >= 0)         # beta_k non-decreasing


def test_upper_bound_vacuous_then_decreasing():
    K_ = np.logspace(2, 20, 40)
    b = bounds.hf_upper_bound(np.round(K_), 4, 20, 1.0, 0.1)
    assert np.all(np.isfinite(b)) and b[0] > 1e9 and np.all(np.diff(b[5:]) < 0)
    first = bounds.hf_first_nonvacuous_K(4, 20, 1.0, 0.1)
    assert 1e15 < first < 1e18                                                  # "vacuous until K ~ 1e16"


# ------------------------------------------------------------------------------------------- learners
def test_run_trace_and_plan():
    m = mixture_of_kernels(4, 2, 3, H=4, seed=1)
    algo = HFUCRLRFE(beta=1.0)
    tr = algo.run(m, 20, replicates=2, seed=3, checkpoints=[5, 20])
    assert tr.meta["checkpoints"] == [5, 20]
    for k in ("gap", "value_error", "value_error_raw", "theta_error", "mean_gap", "solved_fraction"):
        assert tr[k].shape == (2, 2) and np.all(np.isfinite(tr[k]))
    assert tr.vhat1.shape == (2, 20) and np.all((tr.vhat1 >= 0) & (tr.vhat1 <= 1))
    assert tr == algo.run(m, 20, replicates=2, seed=3, checkpoints=[5, 20])
    r = np.zeros((4, 2))
    r[2] = 1 / 4
    res = algo.plan(r)
    exact = backward_induction(m.tabular(r)).V[0, m.start_state]
    assert res.optimal_value == pytest.approx(exact, abs=1e-12) and res.value <= exact + 1e-12
    assert res.policy.shape == (4, 4)
    with pytest.raises(InvalidParameterError):
        algo.plan(np.ones((4, 2)))                                  # total reward 4 > 1


def test_learner_bad_input():
    m = mixture_of_kernels(3, 2, 2, H=3, seed=0)
    with pytest.raises(InvalidParameterError) as e:
        HFUCRLRFE(beta=0.0)
    assert e.value.argument == "beta"
    with pytest.raises(InvalidParameterError) as e:
        HFUCRLRFE(lam=-1.0)
    assert e.value.argument == "lam"
    with pytest.raises(InvalidParameterError) as e:
        UCRLRFE(beta_scale=0)
    assert e.value.argument == "beta_scale"
    with pytest.raises(InvalidParameterError) as e:
        RandomExploration().run(m, 10, checkpoints=[0, 5])
    assert e.value.argument == "checkpoints" and e.value.index == (0,)
    with pytest.raises(InvalidParameterError) as e:
        RandomExploration().run(m, 10, checkpoints=[5, 11])
    assert e.value.index == (1,)
    with pytest.raises(ValidationError):
        RandomExploration().run(m, 0)
    with pytest.raises(InvalidParameterError):
        RandomExploration().plan(np.zeros((3, 2)))                 # plan before run


def test_geometric_checkpoints():
    cps = geometric_checkpoints(100)
    assert cps[0] == 1 and cps[-1] == 100 and np.all(np.diff(cps) > 0)


def test_backends_agree_on_short_runs():
    m = mixture_of_kernels(4, 2, 3, H=4, seed=2)
    for algo in (HFUCRLRFE(beta=1.5), UCRLRFE(beta_scale=0.1), RandomExploration()):
        a = algo.run(m, 12, replicates=1, seed=1, backend="numba")
        b = algo.run(m, 12, replicates=1, seed=1, backend="numpy")
        for k in a.keys():
            np.testing.assert_allclose(a[k], b[k], atol=1e-10, err_msg=f"{type(algo).__name__}.{k}")


# ------------------------------------------------------------------------------------------- rate claims
RATE_MODEL = dict(S=4, A=2, d=3, H=5, seed=7)


@pytest.fixture(scope="module")
def rate_trace():
    m = mixture_of_kernels(**RATE_MODEL)
    return HFUCRLRFE(beta=1.0).run(m, 2048, replicates=4, seed=0)


def test_rate_in_K_is_root_K_or_faster(rate_trace):
    cps = np.asarray(rate_trace.meta["checkpoints"])
    fits = {k: loglog_slope(cps, rate_trace[k], x_min=32) for k in ("value_error", "gap")}
    print({k: str(v) for k, v in fits.items()})
    for k, fit in fits.items():
        # the claim: error falls like K^{-1/2} or faster (d/sqrt(K) + d^2/K); 0.1 of slack for noise
        assert fit.slope <= -0.4, (k, str(fit))
        assert fit.high < 0, (k, str(fit))
    assert np.mean(rate_trace.saturation[:, -100:]) < 0.5         # working radius: bonuses not saturated


def test_horizon_free_episodes_to_epsilon():
    """K_eps for value error <= eps stays flat in H for HF-UCRL-RFE++ (H from 5 to 40)."""
    Ks = {}
    for H in (5, 10, 20, 40):
        m = mixture_of_kernels(4, 2, 3, H=H, seed=7)
        tr = HFUCRLRFE(beta=1.0).run(m, 1024, replicates=2, seed=0)
        Ks[H] = episodes_to_epsilon(tr.meta["checkpoints"], tr.value_error, 0.02)
    print("K_eps by H:", Ks)
    assert all(np.isfinite(v) for v in Ks.values())
    slope = np.polyfit(np.log(list(Ks)), np.log(list(Ks.values())), 1)[0]
    print(f"log-log slope of K_eps in H: {slope:+.2f}")
    assert slope < 0.5                                             # flat up to logs, far from H^1 or H^2


@given(seeds)
def test_ucrl_plus_episode_twin(seed):
    rng = np.random.default_rng(seed)
    m = mixture_of_kernels(4, 2, 3, H=5, seed=seed)
    cum = np.cumsum(m.P, -1)
    cum[..., -1] = 1
    pi = rng.integers(0, 2, size=(5, 4))
    V = rng.random((6, 4)) * 5
    _, vstar = K.box_max(K.gram(m.phi_sa, _spd(rng, 3)))
    th, tt = rng.normal(size=3), rng.normal(size=3)
    hf, tf = _spd(rng, 3), _spd(rng, 3)
    u = rng.random(5)
    states = [[(_spd(np.random.default_rng(i), 3), np.eye(3), np.zeros(3)) for i in range(3)] for _ in range(2)]
    states[1] = [tuple(x.copy() for x in t) for t in states[0]]
    a = K.ucrl_plus_episode(m.phi_sa, cum, 0, pi, V, vstar, u, th, tt, hf, tf, *states[0], 25 / 3, 0.5, 2.0)
    b = K.ucrl_plus_episode_reference(m.phi_sa, cum, 0, pi, V, vstar, u, th, tt, hf, tf, *states[1], 25 / 3, 0.5, 2.0)
    assert a == pytest.approx(b, abs=1e-10) and a >= 25 / 3                    # nu >= alpha = H^2 / d
    for x, y in zip(states[0], states[1], strict=True):
        for p, q in zip(x, y, strict=True):
            np.testing.assert_allclose(p, q, atol=1e-10)


def test_ucrl_plus_constants_by_hand():
    # Thm 2.5.1 at K = 1000, d = 4, H = 20, B = 1, delta = 0.1: L = log(48 K^2 H^2 / delta), lg = log(1 + K H B^2)
    c = bounds.ucrl_rfe_plus_constants(1000, 4, 20, 1.0, 0.1)
    assert c["alpha"] == 100.0 and c["lam"] == 1.0
    assert c["L"] == pytest.approx(25.980761208974194, rel=1e-12)
    assert c["beta_hat"] == pytest.approx(465.49598685954464, rel=1e-12)   # 8 sqrt(4 lg L) + 8 L + 1
    assert c["beta"] == pytest.approx(182.9118202533355, rel=1e-12)       # 20 sqrt(4 log(12 (1 + 8e6) / 0.1)) + 1


def test_ucrl_plus_runs_and_learns():
    m = mixture_of_kernels(4, 2, 3, H=5, seed=7)
    tr = UCRLRFEPlus(beta_scale=0.01).run(m, 256, replicates=2, seed=0)
    assert tr.mean_nu.shape == (2, 256) and np.all(tr.mean_nu >= 25 / 3)
    assert tr.value_error_plugin[:, -1].mean() < tr.value_error_plugin[:, 0].mean()


def test_theory_radius_saturates_the_oracle():
    """At the theory radius (beta_k ~ 1e3) V-hat is clipped at 1 everywhere it can be: why a working beta."""
    m = mixture_of_kernels(4, 2, 3, H=5, seed=7)
    algo = HFUCRLRFE()
    tr = algo.run(m, 16, replicates=1, seed=0, checkpoints=[16])
    assert tr.meta["beta_first"] > 500
    # every entry that can saturate does: all steps but the last (V_{H+1} = 0 there, so u = 0)
    assert np.all(tr.saturation >= (m.H - 1) / m.H - 1e-12) and np.all(tr.vhat1 == 1.0)


def test_analysis_helpers_on_known_curves():
    x = np.array([16.0, 32, 64, 128, 256])
    Y = np.vstack([3 * x ** -0.5, 5 * x ** -0.5])                    # exact power law: slope -1/2
    fit = loglog_slope(x, Y)
    assert fit.slope == pytest.approx(-0.5, abs=1e-12) and fit.low <= -0.5 + 1e-9 <= fit.high + 2e-9
    assert episodes_to_epsilon(x, Y, 0.4) == 128                        # mean 4 x^-1/2 <= 0.4 from x = 100 on
    assert episodes_to_epsilon(x, Y, 1e-3) == np.inf
    assert episodes_to_epsilon(x, np.array([[0.5, 0.1, 0.5, 0.1, 0.1]]), 0.2) == 128   # must *stay* below
