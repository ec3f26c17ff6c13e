"""Multi-batch PE test-bed: the query protocol, our instances, learners and bounds.

What is the papers' and what is ours: Zanette's cap fraction ``1/N(gamma, d)`` (K = 1) is the
paper's formula (read second-hand); the nested-sector instance, the union bound, the DP and the
learners are ours (digest ``multibatch.md`` Part B and its addendum). Literal numbers below were
computed by hand or copied from the digest's addendum (which computed them independently).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rltheory.algorithms.multibatch import (
    EXACT_THRESHOLD,
    NullSpaceLearner,
    OneShotLSTD,
    RolloutLSTD,
    StackedLeastSquares,
    TrajectoryLSTD,
    g_optimal_design,
    random_unit_vectors,
    round_design,
)
from rltheory.batch_queries import BatchOverrunError, BudgetOverrunError, QueryOracle, ReplayOracle
from rltheory.bounds import multibatch as mb
from rltheory.errors import InvalidDataError, InvalidModelError, InvalidParameterError, ValidationError
from rltheory.experiments import run_experiment
from rltheory.mdps.multibatch import (
    MARGIN,
    CapInstance,
    DeterministicLinearChain,
    InstanceFamily,
    NestedSector,
    greedy_dims,
)
from rltheory.rng import replicate_seeds

GAMMA = 0.9


def _ball_points(rng, n, d):
    """Points of the closed unit ball, many near the sphere (where the caps are)."""
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X * rng.random((n, 1)) ** 0.2


@st.composite
def ns_instances(draw, max_d=12):
    d = draw(st.integers(2, max_d))
    inner = sorted(draw(st.sets(st.integers(2, max(2, d - 1)), max_size=3)) if d > 2 else [], reverse=True)
    dims = (d, *[m for m in inner if m < d], 1)
    gamma = draw(st.floats(0.75, 0.99))
    seed = draw(st.integers(0, 2**31))
    return NestedSector.sample(d, gamma, dims, np.random.default_rng(seed)), seed


# ---------------------------------------------------------------------------- bounds: literal values


def test_N_cap_values():
    # digest addendum Sec. 2 (scipy incomplete beta, computed there independently)
    assert mb.N_cap(0.9, 5) == pytest.approx(68.97, rel=1e-3)
    assert mb.N_cap(0.9, 20) == pytest.approx(3.58e7, rel=2e-3)
    assert mb.N_cap(0.99, 50) == pytest.approx(4.16e42, rel=2e-3)
    # by hand: d = 3 is Archimedes' cap, fraction 1 - gamma; d = 2 is two arcs, (2/pi) arcsin(sqrt(1 - g^2))
    assert mb.N_cap(0.9, 3) == pytest.approx(10.0, rel=1e-12)
    assert mb.N_cap(0.9, 2) == pytest.approx(1 / (2 / math.pi * math.asin(math.sqrt(0.19))), rel=1e-12)
    assert mb.N_cap(0.9, 2) == pytest.approx(3.48271, rel=1e-5)


def test_N_cap_log_space_and_closed_form():
    for d in (5, 20, 300, 800):
        assert mb.log_N_cap(0.9, d) == pytest.approx(math.log(mb.N_cap(0.9, d)), rel=1e-10)
    # beyond the double range: finite in log space, above the closed-form bound, growing with d
    big = [mb.log_N_cap(0.9, d) for d in (2000, 4000, 2**20)]
    assert all(math.isfinite(v) for v in big) and big[0] < big[1] < big[2]
    assert mb.N_cap(0.9, 2000) == math.inf
    for d in (2000, 4000, 2**20):
        assert mb.log_N_cap(0.9, d) >= mb.log_N_cap_lower(0.9, d)
    # series branch vs scipy where both work (ln I around -650: scipy still representable)
    a, b, x = 400.0, 0.5, 0.19
    from scipy.special import betainc
    assert mb.log_betainc(a, b, x) == pytest.approx(math.log(betainc(a, b, x)), rel=1e-12)


@given(st.floats(0.5, 0.99), st.integers(2, 199))
def test_N_cap_above_closed_form(gamma, d):
    assert mb.log_N_cap(gamma, d) >= mb.log_N_cap_lower(gamma, d) - 1e-9


def test_p_sector_values():
    assert mb.p_sector(10, 4, 0.9) == pytest.approx(0.02353, abs=5e-6)
    chain = (64, 25, 10, 4, 1)
    inv = [1 / mb.p_sector(chain[k], chain[k + 1], 0.9) for k in range(4)]
    assert inv == pytest.approx([1.03e7, 1.31e3, 42.5, 26.7], rel=6e-3)
    assert mb.p_sector(3, 1, 0.9) == pytest.approx(0.1, rel=1e-12)  # Archimedes: 1 - gamma


@given(st.integers(2, 60), st.floats(0.5, 0.99))
def test_p_sector_one_dim_is_inverse_N(D, gamma):
    assert mb.p_sector(D, 1, gamma) * mb.N_cap(gamma, D) == pytest.approx(1.0, rel=1e-9)


@given(st.integers(3, 60), st.floats(0.5, 0.99))
def test_p_sector_increases_with_m(D, gamma):
    p = [mb.p_sector(D, m, gamma) for m in range(1, D)]
    assert all(b >= a for a, b in zip(p, p[1:], strict=False))


def test_p_sector_against_monte_carlo():
    rng = np.random.default_rng(20240501)
    for D, m in ((10, 4), (6, 2), (8, 6)):
        est, se = mb.p_sector_monte_carlo(D, m, 0.9, 20_000, rng)
        assert abs(est - mb.p_sector(D, m, 0.9)) <= 3 * se, (D, m, est, se)


def test_chain_rule_and_survival_values():
    assert mb.greedy_chain(64, 0.9, 64 * 64) == (64, 33, 13, 2, 1)
    assert mb.greedy_chain(16, 0.9, 256) == (16, 5, 1)
    assert mb.greedy_chain(4, 0.9, 16) == (4, 1)
    assert mb.greedy_chain(256, 0.9, 256**2) == (256, 165, 99, 53, 22, 4, 1)
    # addendum Sec. 2: survives 4/3/2 batches at n = d/d^2/d^3 for d = 64 and 7/5/4 for d = 256
    for d, expect in ((64, (4, 3, 2)), (256, (7, 5, 4))):
        got = tuple(mb.adversary_levels(d, d**e, 0.9) for e in (1, 2, 3))
        assert got == expect
        assert got == tuple(mb.K_safe(d, d**e, 0.9) for e in (1, 2, 3))
        for e, K in zip((1, 2, 3), expect, strict=True):
            assert mb.adversary_survival(d, K, d**e, 0.9) and not mb.adversary_survival(d, K + 1, d**e, 0.9)
    # addendum Sec. 3, n = d^2, large d (log space / binary search)
    assert [mb.K_safe(2**k, 4**k, 0.9) for k in (10, 12, 16, 20, 30, 40)] == [8, 12, 22, 34, 65, 96]
    # by hand: floor(ln d / (2 ln(1/0.9))) + 1 with ln(1/0.9) = 0.1053605
    assert [mb.K_UB(d, 0.9) for d in (4, 16, 64, 256)] == [7, 14, 20, 27]


@given(st.integers(2, 40), st.integers(1, 5000), st.floats(0.6, 0.98))
def test_greedy_equals_dp_and_mdps_rule(d, n, gamma):
    assert mb.K_safe(d, n, gamma) == mb.adversary_levels(d, n, gamma)
    assert greedy_dims(d, gamma, n) == mb.greedy_chain(d, gamma, n)


def test_union_bound_values():
    # by hand: 1/2 + 1/2 * 10 * 0.0235264 = 0.617632 (p from the literal above)
    assert mb.union_bound((10, 4, 1), 10, 0.9, 1) == pytest.approx(0.5 + 0.5 * 10 * 0.0235264, rel=1e-5)
    # worst split: n * max p over the first K levels; p(4, 1) = 1/26.75
    assert mb.union_bound((10, 4, 1), 10, 0.9, 2) == pytest.approx(0.5 + 0.5 * 10 / 26.7479, rel=1e-4)
    assert mb.union_bound((10, 4, 1), 10, 0.9, 3) == 1.0  # K > L: no bound
    assert mb.union_bound((10, 4, 1), 10**6, 0.9, 1) == 1.0
    assert mb.union_bound_split((10, 4, 1), (5, 5), 0.9) <= mb.union_bound((10, 4, 1), 10, 0.9, 2)


def test_wilson_interval():
    lo, hi = mb.wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)  # by hand: z^2/(n+z^2) = 3.8416/13.8416
    lo, hi = mb.wilson_interval(5, 10)
    assert lo < 0.5 < hi and lo + hi == pytest.approx(1.0)


# ---------------------------------------------------------------------------- instances


@given(ns_instances())
def test_nested_sector_invariants(case):
    ns, seed = case
    rng = np.random.default_rng(seed + 1)
    X = _ball_points(rng, 200, ns.dim)
    # add points in the final cap and just around it
    t = rng.uniform(ns.gamma * 0.98, 1.0, 40)
    V = _ball_points(rng, 40, ns.dim)
    V -= np.outer(V @ ns.u, ns.u)
    V /= np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-300)
    C = t[:, None] * ns.u[None, :] * rng.choice([-1, 1], (40, 1)) + np.sqrt(1 - t * t)[:, None] * V
    X = np.vstack([X, C, np.zeros((1, ns.dim))])
    T, r = ns.transition(X), ns.reward(X)
    assert np.linalg.norm(T, axis=1).max() <= 1 + 1e-12
    assert np.abs(r).max() <= 1.0
    assert np.abs(ns.q_value(X) - (r + ns.gamma * ns.q_value(T))).max() <= 1e-12
    level = ns.resolve_level(X)
    assert (r[level > 0] == 0).all() and np.allclose(T[level == 0], 0)


@pytest.mark.parametrize("side", [+1, -1])
def test_cap_boundary_both_sides(side):
    rng = np.random.default_rng(3)
    ns = NestedSector.sample(8, GAMMA, (8, 4, 1), rng)
    # v orthogonal to span W_1, so ||W_j^T x|| = t at every level
    v = rng.standard_normal(8)
    v -= ns.frames[0] @ (ns.frames[0].T @ v)
    v /= np.linalg.norm(v)
    thr = GAMMA * (1 - MARGIN)
    t = thr * (1 + side * 1e-7)
    x = (t * ns.u + math.sqrt(1 - t * t) * v)[None, :]
    T, r = ns.transition(x), ns.reward(x)
    if side > 0:  # inside the final cap: T = 0, r = sigma u.x
        assert ns.resolve_level(x)[0] == 0 and np.all(T == 0) and r[0] == pytest.approx(ns.sigma * t)
    else:  # resolved at level 1: r = 0, ||T|| <= 1
        assert ns.resolve_level(x)[0] == 1 and r[0] == 0.0
        assert np.linalg.norm(T) <= 1 + 1e-12
    assert abs(ns.q_value(x)[0] - (r[0] + GAMMA * ns.q_value(T)[0])) <= 1e-12
    # exactly on gamma (no margin): resolved, room clipped at 0, still inside the ball
    x = (GAMMA * ns.u + math.sqrt(1 - GAMMA**2) * v)[None, :]
    assert ns.resolve_level(x)[0] == 0  # gamma > gamma (1 - 1e-9): the cap side
    assert np.linalg.norm(ns.transition(x)) <= 1 + 1e-12


@given(ns_instances(), st.data())
def test_invisibility(case, data):
    """Responses to queries resolved at levels <= k do not depend on sigma nor on W_{k+1..L}."""
    ns, seed = case
    L = ns.levels
    k = data.draw(st.integers(1, L))
    rng = np.random.default_rng(seed + 2)
    frames = list(ns.frames[:k])
    W = frames[-1]
    for j in range(k + 1, L + 1):  # resample deeper frames inside span W_k
        Q, _ = np.linalg.qr(rng.standard_normal((W.shape[1], ns.dims[j])))
        W = np.linalg.qr(W @ Q)[0]
        frames.append(W)
    other = NestedSector(frames, -ns.sigma, ns.gamma)
    X = _ball_points(rng, 300, ns.dim)
    lev = ns.resolve_level(X)
    X = X[(lev >= 1) & (lev <= k)]
    if X.shape[0] == 0:
        return
    assert np.array_equal(other.resolve_level(X), ns.resolve_level(X))
    for a, b in zip(ns.respond(X), other.respond(X), strict=True):
        assert np.array_equal(a, b)


@given(st.integers(0, 2**31), st.integers(1, 30), st.sampled_from(["ns", "chain"]))
def test_multi_step_identity(seed, K, kind):
    rng = np.random.default_rng(seed)
    inst = (NestedSector.sample(6, GAMMA, (6, 3, 1), rng) if kind == "ns"
            else DeterministicLinearChain.sample(6, GAMMA, rng))
    x0 = _ball_points(rng, 20, 6)
    x, ret = x0, np.zeros(20)
    for t in range(K):
        ret += GAMMA**t * inst.reward(x)
        x = inst.transition(x)
    assert np.abs(ret - (x0 - GAMMA**K * x) @ inst.theta_star).max() <= 1e-12


def test_chain_instance_invariants():
    inst = DeterministicLinearChain.sample(10, GAMMA, np.random.default_rng(1))
    X = _ball_points(np.random.default_rng(2), 500, 10)
    T, r = inst.transition(X), inst.reward(X)
    assert np.linalg.norm(T, axis=1).max() <= 1 + 1e-12 and np.abs(r).max() <= 1
    assert np.abs(inst.q_value(X) - (r + GAMMA * inst.q_value(T))).max() <= 1e-13
    assert np.allclose(np.linalg.matrix_power(inst._M, 10), 0)  # a chain: e_d -> 0


# ---------------------------------------------------------------------------- oracle


def test_oracle_counts_and_overruns():
    inst = CapInstance.sample(5, GAMMA, np.random.default_rng(0))
    oracle = QueryOracle(inst, batches=2, budget=7)
    oracle.submit(np.eye(5)[:3])
    with pytest.raises(BudgetOverrunError, match="budget"):
        oracle.submit(np.eye(5))  # 3 + 5 > 7: refused, nothing charged
    assert (oracle.batches_used, oracle.queries_used) == (1, 3)
    oracle.submit(np.eye(5)[:4])
    with pytest.raises(BatchOverrunError, match="batches"):
        oracle.submit(np.eye(5)[:0 + 1])
    assert (oracle.batches_used, oracle.queries_used) == (2, 7)


def test_oracle_hides_instance():
    inst = CapInstance.sample(4, GAMMA, np.random.default_rng(0))
    oracle = QueryOracle(inst, 1, 4)
    assert not hasattr(oracle, "__dict__")
    for name in dir(oracle):
        if name.startswith("__"):
            continue
        value = getattr(oracle, name)
        assert value is not inst and getattr(value, "__self__", None) is not inst
        assert not isinstance(value, np.ndarray) or not np.array_equal(value, inst.theta_star)


@given(st.integers(1, 6), st.integers(1, 200), st.integers(0, 2**31),
       st.sampled_from(["null", "rollout", "oneshot"]))
def test_learners_respect_K_and_n(K, n, seed, which):
    family = InstanceFamily("nested-sector", 6, GAMMA, (6, 3, 1))
    learner = {"null": NullSpaceLearner(K), "rollout": RolloutLSTD(K), "oneshot": OneShotLSTD()}[which]
    if which == "rollout" and n < 6:
        with pytest.raises(InvalidParameterError, match="budget"):
            learner.run(family, n, seed=seed)
        return
    tr = learner.run(family, n, seed=seed)
    assert tr.batches_used[0] <= learner.batches and tr.queries_used[0] <= n


def _transcript_run(learner, inst, K, n, seed):
    oracle = QueryOracle(inst, K, n, record=True)
    est = learner.fit(oracle, np.random.default_rng(seed))
    return est, oracle.transcript


@pytest.mark.parametrize("learner", [NullSpaceLearner(3), RolloutLSTD(3), OneShotLSTD(), TrajectoryLSTD(4)],
                         ids=lambda x: type(x).__name__)
def test_transcript_replay(learner):
    """The learner's output is a function of its feedback (replay with no instance gives the same
    theta), and its batch-k queries ignore the feedback of batches >= k (perturbing batch k's feedback
    leaves batches 1..k's queries unchanged)."""
    inst = NestedSector.sample(8, GAMMA, (8, 4, 2, 1), np.random.default_rng(5))
    K, n = learner.batches, 40
    est, tr = _transcript_run(learner, inst, K, n, seed=11)
    replay = learner.fit(ReplayOracle(tr, K, n), np.random.default_rng(11))
    assert np.array_equal(replay.theta, est.theta)
    for k in range(len(tr.feedback)):
        fb = list(tr.feedback)
        fb[k] = fb[k].replace(rewards=fb[k].rewards + 0.5, successors=0.5 * fb[k].successors)
        bent = type(tr)(tr.dim, tr.gamma, tr.requests, fb)
        oracle = ReplayOracle(bent, K, n)
        try:
            learner.fit(oracle, np.random.default_rng(11))
        except InvalidDataError:
            pass
        # every batch up to and including k was accepted as recorded
        assert oracle.batches_used >= k + 1


class _Coin:
    """A stochastic toy instance (generic protocol check): x -> e_1 w.p. 0.3, e_2 w.p. 0.7, r = x_1."""

    dim, gamma = 2, 0.5

    def respond(self, X):
        n = X.shape[0]
        succ = np.stack([np.tile([1.0, 0.0], (n, 1)), np.tile([0.0, 1.0], (n, 1))], axis=1)
        return X[:, 0].copy(), np.tile([0.3, 0.7], (n, 1)), succ


def test_oracle_stochastic_feedback_and_trajectories():
    oracle = QueryOracle(_Coin(), 2, 200, rng=np.random.default_rng(0))
    fb = oracle.submit(np.array([[0.0, 0.5]]))
    np.testing.assert_allclose(fb.expected_next(), [[0.3, 0.7]])
    np.testing.assert_allclose(fb.effective_features(0.5), [[-0.15, 0.15]])
    tr = oracle.submit_trajectories(np.array([[0.0, 0.5]]), np.array([150]))
    nxt = tr.features[1:]
    first = np.all(nxt == [1.0, 0.0], axis=1)
    assert tr.n == 150 and abs(first.mean() - 0.3) < 3 * math.sqrt(0.21 / 149)  # drawn w.p. 0.3 / 0.7
    assert np.all(first | np.all(nxt == [0.0, 1.0], axis=1))
    with pytest.raises(InvalidDataError, match="deterministic"):
        RolloutLSTD(2).fit(QueryOracle(_Coin(), 2, 10), np.random.default_rng(0))


def test_trajectories_can_be_forbidden():
    inst = NestedSector.sample(6, GAMMA, (6, 3, 1), np.random.default_rng(0))
    with pytest.raises(InvalidParameterError, match="one-step"):
        QueryOracle(inst, 1, 10, trajectories=False).submit_trajectories(np.eye(6)[:2], np.array([2, 2]))
    fb = QueryOracle(inst, 1, 10).submit_trajectories(np.eye(6)[:2], np.array([3, 2]))
    assert fb.n == 5 and list(fb.step) == [0, 1, 2, 0, 1]
    np.testing.assert_array_equal(fb.features[1], fb.successors[0, 0])


# ---------------------------------------------------------------------------- learners: claims


@given(ns_instances(max_d=10), st.integers(0, 3))
def test_rollout_exact_beyond_K_UB(case, extra):
    ns, seed = case
    K = mb.K_UB(ns.dim, ns.gamma) + extra
    est = RolloutLSTD(K).fit(QueryOracle(ns, K, ns.dim * K), np.random.default_rng(seed))
    assert ns.error(est.theta) < 1e-9


def test_full_rank_lstsq_is_exact():
    for d in (4, 32):
        inst = DeterministicLinearChain.sample(d, GAMMA, np.random.default_rng(d))
        est = OneShotLSTD().fit(QueryOracle(inst, 1, d), np.random.default_rng(1))
        assert inst.error(est.theta) < 1e-9
    ls = StackedLeastSquares(3)
    A = np.random.default_rng(0).standard_normal((10, 3))
    ls.add(A[:4], A[:4] @ [1.0, 2.0, 3.0])
    ls.add(A[4:], A[4:] @ [1.0, 2.0, 3.0])
    assert np.allclose(ls.solve(), [1, 2, 3], atol=1e-12) and ls.null_space().shape == (3, 0)


def test_two_batches_break_the_cap():
    """Zanette's cap falls to K = 2, n = 2d: batch 1 reveals u (the null space), batch 2 queries +-u."""
    for d in (8, 16):
        tr = NullSpaceLearner(2).run(InstanceFamily("cap", d, GAMMA), 2 * d, replicates=10, seed=0)
        assert tr.exact.all()


def test_k1_cap_failure_matches_random_query_rate():
    """K = 1, random queries on the cap: failure rate ~ (1 - 1/N)^n (within 3 s.e.), always above
    the any-learner bound 1/2 (1 - n/N)_+ (paper's K = 1 mechanism, our instance)."""
    for d, n in ((4, 16), (5, 64)):
        tr = OneShotLSTD().run(InstanceFamily("cap", d, GAMMA), n, replicates=300, seed=1)
        fail = 1 - tr.success.mean()
        pred = (1 - 1 / mb.N_cap(GAMMA, d)) ** n
        assert abs(fail - pred) <= 3 * math.sqrt(pred * (1 - pred) / 300)
        assert fail >= 0.5 * max(0.0, 1 - n / mb.N_cap(GAMMA, d)) - 3 * math.sqrt(0.25 / 300)


def test_success_below_union_bound():
    """Measured success never exceeds our union bound (Wilson lower end <= bound), NS d = 16."""
    dims = mb.greedy_chain(16, GAMMA, 256)
    assert dims == (16, 5, 1)
    family = InstanceFamily("nested-sector", 16, GAMMA, dims)
    for K in (1, 2):
        for n in (64, 256):
            tr = NullSpaceLearner(K).run(family, n, replicates=40, seed=2)
            lo, _ = mb.wilson_interval(int(tr.success.sum()), 40)
            assert lo <= mb.union_bound(dims, n, GAMMA, K), (K, n, tr.success.mean())
    # and K = 3 > L = 2 batches suffice (no bound applies): the adversary is out of levels
    assert NullSpaceLearner(3).run(family, 256, replicates=10, seed=2).success.all()


def test_trajectories_break_nested_sector_in_one_batch():
    family = InstanceFamily("nested-sector", 16, GAMMA, mb.greedy_chain(16, GAMMA, 256))
    assert TrajectoryLSTD(15).run(family, 16 * 15, replicates=10, seed=3).success.all()
    assert not TrajectoryLSTD(1).run(family, 16, replicates=10, seed=3).success.any()


def test_design_weights():
    C = random_unit_vectors(np.random.default_rng(0), 4 * 36, np.eye(6))
    rho = g_optimal_design(C, tol=0.05)
    assert (rho >= 0).all() and rho.sum() == pytest.approx(1.0)
    G = C.T @ (rho[:, None] * C)
    g = np.einsum("ij,ij->i", C @ np.linalg.inv(G), C)
    assert g.max() <= 6 * 1.05 + 1e-9
    counts = round_design(rho, 50)
    assert counts.sum() == 50 and (counts >= 0).all()


def test_runner_determinism_and_chunking():
    family = InstanceFamily("nested-sector", 8, GAMMA, (8, 3, 1))
    a = run_experiment(NullSpaceLearner(2), family, 16, replicates=4, seed=7, cache_dir=False, progress=False,
                       chunk_replicates=3)
    b = NullSpaceLearner(2).run(family, 16, replicates=4, seed=7)
    single = NullSpaceLearner(2).run(family, 16, seed=replicate_seeds(7, 2, 3))
    assert np.array_equal(a.error, b.error) and a.error[2] == single.error[0]


# ---------------------------------------------------------------------------- bad input


def test_bad_input():
    rng = np.random.default_rng(0)
    for g in (0.0, 1.0, -0.5, 1.5, float("nan")):
        with pytest.raises(InvalidParameterError, match="gamma"):
            NestedSector.sample(4, g, (4, 1), rng)
        with pytest.raises(InvalidParameterError, match="gamma"):
            mb.N_cap(g, 4)
    with pytest.raises(InvalidParameterError, match="d"):
        CapInstance.sample(1, GAMMA, rng)
    with pytest.raises(InvalidParameterError, match="d"):
        mb.N_cap(GAMMA, 1)
    for dims in ((4, 4, 1), (4, 2, 3, 1), (4, 2), (5, 2, 1), (4, 0)):
        with pytest.raises(InvalidParameterError, match="dims"):
            NestedSector.sample(4, GAMMA, dims, rng)
    with pytest.raises(InvalidParameterError, match="dims"):
        mb.union_bound((4, 2, 2, 1), 10, GAMMA, 1)
    inst = NestedSector.sample(4, GAMMA, (4, 2, 1), rng)
    for batches, budget, name in ((0, 5, "batches"), (1, 0, "budget"), (1.5, 5, "batches")):
        with pytest.raises(InvalidParameterError, match=name):
            QueryOracle(inst, batches, budget)
    for learner in (NullSpaceLearner, RolloutLSTD):
        with pytest.raises(InvalidParameterError, match="batches"):
            learner(0)
    oracle = QueryOracle(inst, 3, 100)
    with pytest.raises(InvalidParameterError, match="queries.*dimension"):
        oracle.submit(np.ones((2, 5)) / 3)
    with pytest.raises(InvalidParameterError, match="queries.*unit ball") as err:
        oracle.submit(np.array([[0.5, 0, 0, 0], [1.0, 1.0, 0, 0]]))
    assert err.value.index == (1,)
    with pytest.raises(InvalidParameterError, match="queries.*finite"):
        oracle.submit(np.array([[np.nan, 0, 0, 0]]))
    with pytest.raises(InvalidParameterError, match="lengths"):
        oracle.submit_trajectories(np.eye(4)[:2], np.array([1, 0]))
    assert oracle.batches_used == 0  # nothing was charged for refused batches
    with pytest.raises(InvalidModelError, match="sigma"):
        NestedSector(inst.frames, 0, GAMMA)
    with pytest.raises(InvalidModelError, match="frames"):
        NestedSector([np.ones((4, 2))], 1, GAMMA)
    with pytest.raises(InvalidParameterError, match="kind"):
        InstanceFamily("torus", 4, GAMMA)
    assert issubclass(BatchOverrunError, ValidationError) and issubclass(BatchOverrunError, ValueError)


def test_greedy_learner_asking_too_many_batches_gets_an_error():
    class Greedy(NullSpaceLearner):
        def fit(self, oracle, rng):
            for _ in range(oracle.batches + 1):
                oracle.submit(random_unit_vectors(rng, 1, np.eye(oracle.dim)))

    with pytest.raises(BatchOverrunError, match="batch 3 was requested"):
        Greedy(2).run(InstanceFamily("cap", 4, GAMMA), 10)


def test_exactness_threshold_is_strict():
    assert EXACT_THRESHOLD == 1e-6


# ---------------------------------------------------------------------------- figures and benchmark


def test_figures_registered_with_paper_or_ours_labels():
    from rltheory.figures import FIGURES, load_recipes

    load_recipes()
    names = ("multibatch-k1-wall", "multibatch-success-vs-n", "multibatch-batches-vs-d", "multibatch-contrasts")
    for name in names:
        recipe = FIGURES[name]
        assert "ours" in recipe.title or "paper" in recipe.title, name
        assert recipe.status == "reconstructed setting"


def test_benchmark_quick_smoke(capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "multibatch.py"
    spec = importlib.util.spec_from_file_location("bench_multibatch", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.run(quick=True)
    assert out["d256"]["queries_used"] == 64 * 64 and all(r["seconds"] > 0 for r in out["sweep"])
    assert "extrapolated" in capsys.readouterr().out
