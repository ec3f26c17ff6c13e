"""UCBVI's bonuses and StepMix's pessimism radius pinned against numbers computed by hand from the papers'
formulas (literal values below, with their arithmetic), plus the optimism claim where values are NOT
clipped to H, and the greediness of the played policy.

Mutations these tests kill (checked by hand when they were written, see the commit message): dropping
the Bernstein variance term from Alg. 4 (both twins), halving StepMix's R1 radius.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rltheory.algorithms import UCBVI
from rltheory.algorithms.pessimism import (
    empirical_transitions_one,
    pessimistic_evaluation_one,
    pessimistic_evaluation_reference,
    weissman_log_term,
)
from rltheory.algorithms.ucbvi import (
    UCBVIPlanner,
    bernstein_backward_induction_one,
    bernstein_backward_induction_reference,
    hoeffding_bonus_one,
    hoeffding_bonus_reference,
    ucbvi_log_term,
    ucbvi_plan_reference,
)
from rltheory.kernels.counts import CountState
from rltheory.kernels.planning import greedy_tiebreak_one, greedy_tiebreak_reference
from rltheory.mdps import garnet
from rltheory.models import FiniteHorizonMDP
from rltheory.planning import backward_induction


def test_log_term_by_hand():
    # L = ln(5 S' A T / delta) with S' = S H = 2 * 4 = 8, A = 2, T = K H = 10 * 4 = 40, delta = 0.1:
    # ln(5 * 8 * 2 * 40 / 0.1) = ln(32000) = 10.373491181781864
    assert ucbvi_log_term(8, 2, 40, 0.1) == pytest.approx(10.373491181781864, rel=1e-15)


def test_hoeffding_bonus_by_hand():
    # Alg. 3: b = 7 H L sqrt(1 / N). H = 4, L = ln(32000) = 10.373491181781864, N = 4:
    # 7 * 4 * 10.373491181781864 / 2 = 145.2288765449461; N = 1: 290.4577530898922; with scale 0.5 at N = 4: 72.61...
    inv_n = np.array([[[0.25, 1.0]]])
    out = np.empty((1, 1, 2))
    hoeffding_bonus_one(inv_n, 4, 10.373491181781864, 1.0, out)
    np.testing.assert_allclose(out[0, 0], [145.2288765449461, 290.4577530898922], rtol=1e-14)
    ref = hoeffding_bonus_reference(inv_n[None], 4, 10.373491181781864, 0.5, 1)
    np.testing.assert_allclose(ref[0, 0, 0], [72.61443827247305, 145.2288765449461], rtol=1e-14)


def _bernstein_point():
    """One replicate, S = 2, A = 1, H = 2 (stage-dependent). At step 1: state 0 unvisited (Q = H = 2), state 1
    visited with Q_prev = 0.5 (so V_2-step values are [2, 0.5]). At step 0, state 0: N = 4 transitions, 1 to
    state 0 and 3 to state 1, rewards 0; N'_1 = [1, 3]."""
    S, A, H = 2, 1, 2
    c = CountState.zeros(1, H, S, A)
    c.counts_sas[0, 0, 0, 0] = [1, 3]
    c.counts_sa[0, 0, 0, 0] = 4
    c.inv_n[0, 0, 0, 0] = 0.25
    c.counts_sas[0, 1, 1, 0] = [0, 5]
    c.counts_sa[0, 1, 1, 0] = 5
    c.inv_n[0, 1, 1, 0] = 0.2
    c.visits[0, 1] = [1, 3]
    Q_prev = np.full((1, H, S, A), 2.0)
    Q_prev[0, 1, 1, 0] = 0.5
    return c, Q_prev


@pytest.mark.parametrize("L, expected", [
    # mean = (1 * 2 + 3 * 0.5) / 4 = 0.875; var = (1 * 1.125^2 + 3 * 0.375^2) / 4 = 0.421875
    # L = 2: c3 = 100^2 H^3 S'^2 A L^2 = 1e4 * 8 * 16 * 4 = 5.12e6, so min(c3 / N', H^2) = 4 for both states,
    #   lookahead = 4; b = sqrt(8 * 2 * 0.421875 / 4) + 14 * 2 * 2 / (3 * 4) + sqrt(8 * 4 / 4)
    #   = 1.299038105676658 + 4.666666666666667 + 2.8284271247461903 = 8.794131897089516; U = 0.875 + b
    (2.0, 9.669131897089516),
    # L = 1e-3: c3 = 1.28, min(1.28 / 1, 4) = 1.28, min(1.28 / 3, 4) = 0.4267, lookahead = (1.28 + 3 * 0.4267) / 4
    #   = 0.64; b = sqrt(8e-3 * 0.421875 / 4) + 14 * 2e-3 / 12 + sqrt(8 * 0.64 / 4) = 1.162751558328365
    (1e-3, 2.037751558328365),
])
def test_bernstein_bonus_by_hand(L, expected):
    c, Q_prev = _bernstein_point()
    plan = UCBVIPlanner(True, 2.0, L, 4.0, 1.0)
    Q = np.empty((2, 2, 1))
    V = np.empty((3, 2))
    U = np.empty((2, 2, 1))
    one = CountState(*(a[0] for a in c))
    bernstein_backward_induction_one(one, Q_prev[0], plan, Q, V, U)
    assert U[0, 0, 0] == pytest.approx(expected, rel=1e-14)
    assert Q[0, 0, 0] == 2.0  # clipped to H in Q, not in U
    _, _, U_ref = bernstein_backward_induction_reference(c, Q_prev, plan)
    assert U_ref[0, 0, 0, 0] == pytest.approx(expected, rel=1e-14)


def test_weissman_log_term_by_hand():
    # S ln 2 + ln(S A H K / delta), S = 2, A = 1, H = 2, K = 10, delta = 0.05: 2 ln 2 + ln(800) = 8.070906088787817
    assert weissman_log_term(2, 1, 2, 10, 0.05) == pytest.approx(8.070906088787817, rel=1e-15)


def test_pessimism_radius_by_hand():
    """R1: Q_low = r_low + max(min V, P_hat V - sqrt(wlog / (2 n)) span(V)). Step 1: state 0 pays 1, state 1
    pays 0 (exact rewards), so V_low_1 = [1, 0]. Step 0, state 0: n = 4, 3 to state 0 and 1 to state 1,
    reward 0.5: P_hat V = 0.75, span 1, min 0; wlog = 0.5: radius sqrt(0.5 / 8) = 0.25, so
    Q_low = 0.5 + max(0, 0.75 - 0.25) = 1.0 (halving the radius would give 1.125). wlog = 2.0:
    radius 0.5, Q_low = 0.5 + 0.25 = 0.75; wlog = 8: radius 1, the floor min V = 0 binds: Q_low = 0.5."""
    S, A, H = 2, 1, 2
    counts_sas = np.zeros((H, S, A, S))
    counts_sa = np.zeros((H, S, A))
    reward_sum = np.zeros((H, S, A))
    counts_sas[0, 0, 0] = [3, 1]
    counts_sa[0, 0, 0] = 4
    reward_sum[0, 0, 0] = 2.0
    counts_sas[1, :, 0] = [[2, 0], [0, 2]]
    counts_sa[1, :, 0] = 2
    reward_sum[1, 0, 0] = 2.0
    P_hat = np.empty_like(counts_sas)
    empirical_transitions_one(counts_sas, counts_sa, P_hat)
    policy = np.ones((H, S, A))
    V = np.empty((H + 1, S))
    for wlog, expected in ((0.5, 1.0), (2.0, 0.75), (8.0, 0.5)):
        pessimistic_evaluation_one(P_hat, counts_sa.astype(np.int64), reward_sum, policy, wlog, 0.0, V)
        np.testing.assert_allclose(V[1], [1.0, 0.0], rtol=1e-15)
        assert V[0, 0] == pytest.approx(expected, rel=1e-15)
        ref = pessimistic_evaluation_reference(counts_sas[None], counts_sa[None], reward_sum[None], policy[None], wlog,
                                               0.0)
        assert ref[0, 0, 0] == pytest.approx(expected, rel=1e-15)


def test_optimism_where_values_are_not_clipped():
    """Azar et al. (2017), Lemma 18/3: on the high-probability event V_{k,h}(x) >= V*_h(x) for all k, h, x.
    On a deterministic model the Alg. 4 variance term vanishes and the bonus falls below H after a few hundred
    visits, so the optimistic values are *below* the clip H here and close to V*: the check can fail
    (``tests/test_ucbvi.py::test_optimism_check_has_teeth`` shows it failing without a bonus)."""
    base = garnet(S=3, A=2, branching=1, horizon=3, seed=4, stationary=False)
    mdp = FiniteHorizonMDP(base.P, 0.2 * base.R, base.mu, base.H)  # small rewards: sums of bonuses stay below H
    trace = UCBVI(bonus="bernstein", delta=0.1).run(mdp, 3000, replicates=2, seed=0)
    assert (trace.optimistic_values[:, -1] < mdp.H - 0.5).all(), "still clipped: the check would be vacuous"
    assert trace.optimism_gap.min() >= -1e-12
    assert (trace.optimistic_values >= backward_induction(mdp).value - 1e-12).all()
    # and not vacuous: somewhere V_k is within 1 of V* (< H = 3), so a violation of that size would be seen
    assert trace.optimism_gap[:, -1].max() < 1.0


@given(seed=st.integers(0, 10_000), bernstein=st.booleans())
def test_played_policy_is_greedy_in_the_optimistic_q(seed, bernstein):
    """Alg. 1 plays ``argmax_a Q_{k,h}(x, a)``: on random counts, the policy the loop plays (compiled
    tie-break and its twin) picks a maximiser of Q at every (h, x)."""
    rng = np.random.default_rng(seed)
    n, H, S, A = 2, 3, 3, 3
    c = CountState.zeros(n, H, S, A)
    c.counts_sas[...] = rng.integers(0, 3, size=c.counts_sas.shape)
    c.counts_sa[...] = c.counts_sas.sum(axis=-1)
    c.reward_sum[...] = rng.random(c.reward_sum.shape) * c.counts_sa
    c.visits[...] = rng.integers(0, 5, size=c.visits.shape)
    c.inv_n[...] = np.where(c.counts_sa > 0, 1.0 / np.maximum(c.counts_sa, 1), 0.0)
    Q = np.full((n, H, S, A), float(H))
    plan = UCBVIPlanner(bernstein, float(H), 0.01, float(S * H), 0.05)
    _, U = ucbvi_plan_reference(plan, c, Q)
    pol = greedy_tiebreak_reference(Q, U)
    chosen = np.take_along_axis(Q, pol[..., None], axis=-1)[..., 0]
    np.testing.assert_array_equal(chosen, Q.max(axis=-1))
    for r in range(n):
        out = np.empty((H, S), np.int64)
        greedy_tiebreak_one(Q[r], U[r], out)
        np.testing.assert_array_equal(out, pol[r])
