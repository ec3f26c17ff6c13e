"""Every bound in ``bounds/ucbvi.py``, ``bounds/sqirl.py``, ``bounds/stepmix.py`` and ``bounds/nash_mp.py``
pinned against numbers worked out BY HAND from the paper's expression (the arithmetic is in the comments;
logarithms and square roots were evaluated separately, never by calling the library), plus the validation
of every argument.

A mutation of any constant (Theorem 1's 20 -> 2, Theorem 2's 30 -> 3, SQIRL's T^3 -> T^2, ...) changes at
least one pinned value by far more than the relative tolerance ``REL`` and fails here: ``python
tests/mutate_bounds.py`` applies 34 such mutants one at a time and reports each killed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rltheory.bounds import nash_mp as nmp
from rltheory.bounds import sqirl as sq
from rltheory.bounds import stepmix as sm
from rltheory.bounds import ucbvi as ub
from rltheory.errors import InvalidDataError, InvalidParameterError, ValidationError

REL = 1e-12


def close(x, y):
    np.testing.assert_allclose(np.asarray(x, dtype=float), y, rtol=REL, atol=0)


# ---------------------------------------------------------------------------------------------- UCBVI


def test_ucbvi_log_term_by_hand():
    # S=2, A=3, H=4, K=10 -> T = K H = 40; 5 H S A T / delta = 5*4*2*3*40 / 0.1 = 48000; ln 48000 = 10.778956289890028
    close(ub.theorem_log_term(2, 3, 4, 10, 0.1), 10.778956289890028)
    # S=A=H=K=1, delta=0.5: 5 * 1 / 0.5 = 10 -> ln 10
    close(ub.theorem_log_term(S=1, A=1, H=1, K=1, delta=0.5), 2.302585092994046)


def test_theorem1_hoeffding_by_hand():
    # Theorem 1: 20 H L sqrt(S A T) + 250 H^2 S^2 A L^2.
    # S=A=H=K=1, delta=0.5: L = ln 10 = 2.302585092994046
    #   20 * L = 46.05170185988092;  250 * L^2 = 250 * 5.301898110478399 = 1325.4745276195998
    #   total 1371.526229479481
    close(ub.regret_upper_hoeffding(1, 1, 1, 1, 0.5), 1371.526229479481)
    # S=2, A=3, H=4, K=10, delta=0.1: T = 40, L = ln 48000 = 10.778956289890028
    #   20 * 4 * L * sqrt(2*3*40 = 240) = 13358.949824077365
    #   250 * 4^2 * 2^2 * 3 * L^2 = 48000 * L^2 = 5576923.137569269      total 5590282.087393346
    close(ub.regret_upper_hoeffding(S=2, A=3, H=4, K=10, delta=0.1), 5590282.087393346)
    # vectorised over K: S=A=H=1, K=100, delta=0.5: L = ln(5*100/0.5) = ln 1000 = 6.907755278982137
    #   20 * L * sqrt(100) + 250 L^2 = 1381.5510557964274 + 11929.27074857640 = 13310.821804372823
    close(ub.regret_upper_hoeffding(1, 1, 1, np.array([1, 100]), 0.5), [1371.526229479481, 13310.821804372823])


def test_theorem2_bernstein_by_hand():
    # Theorem 2: 30 L sqrt(H S A T) + 2500 H^2 S^2 A L^2 + 4 H sqrt(T L).
    # S=A=H=K=1, delta=0.5, L = ln 10: 30 L = 69.07755278982137; 2500 L^2 = 13254.745276195997;
    #   4 sqrt(L) = 4 * 1.5174271293851465 = 6.069708517540586           total 13329.89253750336
    close(ub.regret_upper_bernstein(1, 1, 1, 1, 0.5), 13329.89253750336)
    # S=2, A=3, H=4, K=10, delta=0.1, T = 40, L = ln 48000:
    #   30 L sqrt(4*2*3*40 = 960) = 10019.212368058023
    #   2500 * 16 * 4 * 3 * L^2 = 480000 L^2 = 55769231.375692695
    #   4 * 4 * sqrt(40 L) = 332.2296079648439                          total 55779582.81766871
    close(ub.regret_upper_bernstein(S=2, A=3, H=4, K=10, delta=0.1), 55779582.81766871)
    # K = 100 (S=A=H=1, delta=0.5, L = ln 1000): 30 L 10 + 2500 L^2 + 4 sqrt(100 L) = 121470.16450485372
    close(ub.regret_upper_bernstein(1, 1, 1, [100], 0.5), [121470.16450485372])


def test_lower_bound_by_hand():
    # c = 1 / (48 sqrt 6) = 0.008505172717997146
    assert ub.LOWER_BOUND_CONSTANT == pytest.approx(0.008505172717997146, rel=REL)
    # S=4, A=2, H=3, K=8: c sqrt(3^3 * 4 * 2 * 8 = 1728) = sqrt(288) / 48 = 12 sqrt 2 / 48 = sqrt(2) / 4
    close(ub.regret_lower(4, 2, 3, 8), math.sqrt(2) / 4)
    close(ub.regret_lower(S=4, A=2, H=3, K=8, constant=1.0), math.sqrt(1728))


def test_effective_states():
    assert ub.effective_states(6, 20) == 120  # S' = S H
    assert ub.effective_states(6, 20, stage_dependent=False) == 6


def test_ucbvi_bounds_in_their_regime():
    """Checks that can fail: the lower bound is below both upper bounds and below the trivial cap K H where
    it is stated (K >= S A, S >= 4, A >= 2, H >= 3 log_A S); at simulable sizes the upper bounds are above
    K H (vacuous: the figures say so in their captions rather than plotting them)."""
    S, A, H = 6, 2, 20
    K = np.array([S * A, 10**3, 10**6, 10**9])
    assert H >= 3 * math.log(S, A)
    low = ub.regret_lower(S, A, H, K)
    for upper in (ub.regret_upper_hoeffding, ub.regret_upper_bernstein):
        up = upper(ub.effective_states(S, H), A, H, K, 0.1)
        assert (low < up).all() and (np.diff(up) > 0).all()
        assert (up[:2] > K[:2] * H).all()  # vacuous at simulable K
    assert (low <= K * H).all()
    np.testing.assert_allclose(low[1:] / low[:-1], np.sqrt(K[1:] / K[:-1]))


BAD_UCBVI = [
    ((10, 0, 5, 100, 0.1), "A"), ((10, 2, 5, 100, 1.5), "delta"), ((10, 2, 5, 100, 0.0), "delta"),
    ((0, 2, 5, 100, 0.1), "S"), ((10, 2, 0, 100, 0.1), "H"), ((10, 2, 5, 0, 0.1), "K"),
    ((10, 2, 5, [1, -3], 0.1), "K"), ((10.5, 2, 5, 100, 0.1), "S"), ((10, 2, 5, np.nan, 0.1), "K"),
    ((10, 2, 5, 100, np.nan), "delta"), (("10", 2, 5, 100, 0.1), "S"), ((10, 2, 5, 100, True), "delta"),
    ((10, 2, 5, np.inf, 0.1), "K"), ((10, 2 + 1j, 5, 100, 0.1), "A"), ((10, 2, 5, [[1, "a"]], 0.1), "K"),
]


@pytest.mark.parametrize("args, argument", BAD_UCBVI)
@pytest.mark.parametrize("fn", [ub.regret_upper_hoeffding, ub.regret_upper_bernstein, ub.theorem_log_term])
def test_ucbvi_bounds_validate(fn, args, argument):
    with pytest.raises(InvalidParameterError) as e:
        fn(*args)
    assert e.value.argument == argument


def test_ucbvi_lower_and_effective_states_validate():
    with pytest.raises(InvalidParameterError, match="K"):
        ub.regret_lower(4, 2, 3, 0)
    with pytest.raises(InvalidParameterError, match="constant"):
        ub.regret_lower(4, 2, 3, 8, constant=-1.0)
    with pytest.raises(InvalidParameterError, match="index \\(2,\\)"):
        ub.regret_lower(4, 2, 3, [1, 2, np.nan])
    for args, name in (((0, 3), "S"), ((2, 1.5), "H"), ((2, 3, "yes"), "stage_dependent")):
        with pytest.raises(InvalidParameterError) as e:
            ub.effective_states(*args)
        assert e.value.argument == name


# ---------------------------------------------------------------------------------------------- SQIRL / GORP


def test_sqirl_theorem_3_6_by_hand():
    # C k T^3 A^Hbar D ln(1/delta) / epsilon, C = 1: k=2, Hbar=3, A=2, T=5, epsilon=0.5, delta=0.25, D=4
    #   2 * 125 * 2^3 * 4 / 0.5 = 16000;  ln 4 = 1.3862943611198906  ->  22180.709777918248 steps
    close(sq.sqirl_steps(2, 3, 2, 5, 0.5, 0.25, 4), 22180.709777918248)
    close(sq.sqirl_steps(k=2, H_bar=3, A=2, T=5, epsilon=0.5, delta=0.25, D=4, constant=3.0), 3 * 22180.709777918248)
    # episodes = steps / T = 4436.141955583649; per timestep ceil(4436.14... / 5 = 887.228...) = 888
    close(sq.sqirl_episodes(2, 3, 2, 5, 0.5, 0.25, 4), 4436.141955583649)
    assert sq.sqirl_episodes_per_timestep(2, 3, 2, 5, 0.5, 0.25, 4) == 888
    # linear in 1 / epsilon; an infinite effective horizon gives an infinite bound
    close(sq.sqirl_steps(2, 3, 2, 5, [0.5, 0.05], 0.25, 4), [22180.709777918248, 221807.09777918248])
    assert sq.sqirl_steps(2, np.inf, 2, 5, 0.5, 0.25, 4) == np.inf


def test_gorp_and_effective_horizon_by_hand():
    # T A^{H_k}: T=3, A=4, H_k=2.5 -> 3 * 4^2.5 = 3 * 32 = 96 episodes, T * 96 = 288 steps
    close(sq.gorp_episodes(2.5, 4, 3), 96.0)
    close(sq.gorp_steps(H_k=2.5, A=4, T=3), 288.0)
    # H_k = k + log_A m: 2 + log_3 9 = 4; 3 + log_2 8 = 6; A = 1 -> k
    close(sq.effective_horizon_k(2, math.log(9.0), 3), 4.0)
    close(sq.effective_horizon_k([3, 2], math.log(8.0), 2), [6.0, 5.0])
    close(sq.effective_horizon_k(2, 0.7, 1), 2.0)
    # (V* - V) / (V* - V_worst): (1 - 0.75) / (1 - 0.5) = 0.5
    close(sq.normalized_suboptimality(0.75, 1.0, 0.5), 0.5)
    close(sq.normalized_suboptimality([0.3, 0.3], 0.3, 0.3), [0.0, 0.0])
    assert sq.is_vacuous(8.0, 8) and not sq.is_vacuous(7.9, 8)


@pytest.mark.parametrize("kwargs, argument", [
    ({"k": 0}, "k"), ({"k": 1.5}, "k"), ({"H_bar": -1.0}, "H_bar"), ({"H_bar": np.nan}, "H_bar"),
    ({"A": 0}, "A"), ({"T": 0}, "T"), ({"T": "5"}, "T"), ({"epsilon": 0.0}, "epsilon"),
    ({"epsilon": -0.1}, "epsilon"), ({"delta": 1.0}, "delta"), ({"delta": 1.5}, "delta"), ({"D": 0}, "D"),
    ({"constant": 0.0}, "constant"), ({"epsilon": [0.1, np.nan]}, "epsilon"),
])
def test_sqirl_bounds_validate(kwargs, argument):
    args = {"k": 2, "H_bar": 3.0, "A": 2, "T": 5, "epsilon": 0.5, "delta": 0.25, "D": 4} | kwargs
    for fn in (sq.sqirl_steps, sq.sqirl_episodes, sq.sqirl_episodes_per_timestep):
        with pytest.raises(InvalidParameterError) as e:
            fn(**args)
        assert e.value.argument == argument


def test_gorp_and_helpers_validate():
    for args, name in (((np.nan, 2, 3), "H_k"), ((2.0, 0, 3), "A"), ((2.0, 2, -1), "T"), ((2.0, 2, 3.5), "T")):
        for fn in (sq.gorp_episodes, sq.gorp_steps):
            with pytest.raises(InvalidParameterError) as e:
                fn(*args)
            assert e.value.argument == name
    with pytest.raises(InvalidParameterError, match="log_m"):
        sq.effective_horizon_k(2, -1.0, 3)
    with pytest.raises(InvalidParameterError, match="v_worst"):
        sq.normalized_suboptimality(0.5, 1.0, 2.0)
    with pytest.raises(InvalidParameterError, match="values"):
        sq.normalized_suboptimality([0.5, np.nan], 1.0, 0.0)
    with pytest.raises(InvalidParameterError, match="H_bar"):
        sq.is_vacuous("x", 3)


# ---------------------------------------------------------------------------------------------- StepMix


def test_stepmix_bounds_by_hand():
    # iota = ln(S A H K / delta): S=2, A=3, H=4, K=10, delta=0.1 -> ln 2400 = 7.783224016336037
    close(sm.log_term(2, 3, 4, 10, 0.1), 7.783224016336037)
    # sqrt(H^3 S A K iota) = sqrt(64 * 2 * 3 * 10 * iota = 3840 iota) = 172.88024821456725
    close(sm.leading_term(2, 3, 4, 10, 0.1), 172.88024821456725)
    close(sm.regret_upper(2, 3, 4, 10, 0.1), 172.88024821456725)
    close(sm.regret_upper(2, 3, 4, 10, 0.1, c1=2.0), 2 * 172.88024821456725)
    # + H^3 S^2 A iota gap / (alpha v_b (alpha v_b + gap)), alpha=0.1, v_b=2, gap=0.5:
    #   64 * 4 * 3 = 768;  768 * 0.5 / (0.2 * 0.7) = 384 / 0.14;  172.88... + 384 iota / 0.14 = 21521.151835879125
    close(sm.regret_upper(S=2, A=3, H=4, K=10, delta=0.1, alpha=0.1, v_b=2.0, gap=0.5), 21521.151835879125)
    # rho_min = 1 - (1 - alpha)^{1/H}: 1 - 0.81^{1/2} = 0.1 and 1 - 0.729^{1/3} = 0.1
    assert sm.safe_floor(0.19, 2) == pytest.approx(0.1, rel=1e-12)
    assert sm.safe_floor(0.271, 3) == pytest.approx(0.1, rel=1e-12)
    # K (gap + alpha v_b) = K (0.5 + 0.2)
    close(sm.regret_safe_cap([1, 10], 0.5, 0.1, 2.0), [0.7, 7.0])
    # the constants are unknown and set to 1 (named, never fitted silently)
    assert sm.UNKNOWN_C1 == 1.0 and sm.UNKNOWN_C2 == 1.0


def test_stepmix_fit_and_slope_by_hand():
    K = np.arange(1, 101)
    close(sm.fit_leading_constant(K, 2.5 * sm.leading_term(2, 3, 4, K, 0.1), 2, 3, 4, 0.1), 2.5)
    # log-log slope of k^0.5 and of 3 k is 0.5 and 1 exactly
    close(sm.loglog_slope(np.sqrt(K)), 0.5)
    close(sm.loglog_slope(np.stack([3.0 * K, K ** 0.5])), [1.0, 0.5])


@pytest.mark.parametrize("args, argument", [
    ((2, 3, 4, 10, 1.5), "delta"), ((2, 0, 4, 10, 0.1), "A"), ((2, 3, 4, -1, 0.1), "K"), ((2.5, 3, 4, 10, 0.1), "S"),
    ((2, 3, np.nan, 10, 0.1), "H"),
])
def test_stepmix_bounds_validate(args, argument):
    for fn in (sm.log_term, sm.leading_term, sm.regret_upper):
        with pytest.raises(InvalidParameterError) as e:
            fn(*args)
        assert e.value.argument == argument


def test_stepmix_baseline_arguments_validate():
    for kw, name in (({"alpha": 1.0}, "alpha"), ({"alpha": 0.0}, "alpha"), ({"v_b": 0.0}, "v_b"),
                     ({"gap": -0.1}, "gap"), ({"gap": np.nan}, "gap")):
        args = {"alpha": 0.1, "v_b": 2.0, "gap": 0.5} | kw
        with pytest.raises(InvalidParameterError) as e:
            sm.regret_upper(2, 3, 4, 10, 0.1, **args)
        assert e.value.argument == name
        with pytest.raises(InvalidParameterError) as e:
            sm.regret_safe_cap(10, **args)
        assert e.value.argument == name
    with pytest.raises(InvalidParameterError, match="c1"):
        sm.regret_upper(2, 3, 4, 10, 0.1, c1=-1.0)
    for bad in (0.0, 1.0, np.nan, "0.1"):
        with pytest.raises(InvalidParameterError):
            sm.safe_floor(bad, 3)
    with pytest.raises(InvalidParameterError):
        sm.safe_floor(0.1, 0)
    with pytest.raises(InvalidDataError):
        sm.loglog_slope([1.0])
    with pytest.raises(InvalidDataError):
        sm.loglog_slope([1.0, np.nan, 3.0])
    with pytest.raises(InvalidDataError):
        sm.fit_leading_constant([1, 2, 3], [1.0, 2.0], 2, 3, 4, 0.1)
    with pytest.raises(InvalidParameterError):
        sm.fit_leading_constant([0, 1], [1.0, 2.0], 2, 3, 4, 0.1)


# ---------------------------------------------------------------------------------------------- Nash-MP


def test_nash_mp_rates_by_hand():
    # 1 / (1 + eta beta): eta = 2, beta = 0.5 -> 1/2; per query sqrt(1/2)
    close(nmp.contraction(0.5), 0.5)
    close(nmp.rate_per_query(beta=0.5, eta=2.0), math.sqrt(0.5))
    assert nmp.QUERIES_PER_ITERATION == 2
    # KL_0 (1 + eta beta)^(-N/2): N=6 (t=3), beta=0.5, KL_0 = 2 -> 2 / 8 = 0.25
    close(nmp.kl_upper(6, 0.5, 2.0), 0.25)
    # t=2, beta=0.25, KL_0=3: q = 1 / 1.5 = 2/3 -> 3 * 4/9 = 4/3
    close(nmp.kl_upper_iterations(t=2, beta=0.25, kl0=3.0, eta=2.0), 4.0 / 3.0)
    # c_h = (1 + eta/2) / (1 + eta beta - eta/2): (1 + 1) / (1 + 1 - 1) = 2; (1.5) / (1 + 1 - 0.5) = 1
    close(nmp.extrapolation_kl_factor(0.5, 2.0), 2.0)
    close(nmp.extrapolation_kl_factor(beta=1.0, eta=1.0), 1.0)


def test_nash_mp_span_and_exploitability_by_hand():
    # span: q^t s0 + eta sqrt(2 c_h KL0) (q^(t/2) - q^t) / (q^(-1/2) - 1), N=4 (t=2), beta=0.5, eta=2 (q=1/2,
    #   c_h=2), KL0=1, s0=2:  0.25*2 + 2*sqrt(4) * (0.5 - 0.25) / (sqrt 2 - 1) = 0.5 + 1/(sqrt 2 - 1) = 1.5 + sqrt 2
    close(nmp.span_upper(4, 0.5, 1.0, 2.0), 1.5 + math.sqrt(2))
    # exploitability: KL_t / (4 beta) + beta min(S_t, (e^S_t - 1)^2), KL_t = 1/4, S_t = 1.5 + sqrt 2 (the min
    #   is S_t): 0.25 / 2 + 0.5 (1.5 + sqrt 2) = 0.875 + sqrt(2)/2 = 1.5821067811865472
    close(nmp.exploitability_upper(4, 0.5, 1.0, 2.0), 0.875 + math.sqrt(2) / 2)
    # N=40 (t=20), s0=0.1: S_t = 2^-20 * 0.1 + 4 (2^-10 - 2^-20) / (sqrt 2 - 1) = 0.009421407601576523;
    #   (e^S_t - 1)^2 = 8.960380747283415e-05 < S_t;  2^-20 / 2 + 0.5 * 8.960380747283415e-05 = 4.52787408946202e-05
    close(nmp.span_upper(40, 0.5, 1.0, 0.1), 0.009421407601576523)
    close(nmp.exploitability_upper(N=40, beta=0.5, kl0=1.0, span0=0.1, eta=2.0), 4.52787408946202e-05)
    # pointwise: KL_fwd / (4 beta) + beta KL_rev = 2 / 2 + 0.5 * 3 = 2.5
    close(nmp.exploitability_pointwise_upper(2.0, 3.0, 0.5), 2.5)


def test_nash_mp_recursions_and_baselines_by_hand():
    # b_{t+1} = b_t / (1 + eta beta) + delta_{t+1}: q = 1/2, b = 1, 0.5 + 0.1 = 0.6, 0.3 + 0.2 = 0.5
    close(nmp.kl_upper_inexact(1.0, 0.5, 2.0, [0.0, 0.1, 0.2]), [1.0, 0.6, 0.5])
    close(nmp.kl_upper_inexact([1.0, 2.0], 0.5, 2.0, [[0.0, 0.1], [0.0, 0.0]]), [[1.0, 0.6], [2.0, 1.0]])
    # Nash-MD: 8 / (beta^2 (T + 1)) = 8 / (0.25 * 4) = 8
    close(nmp.nash_md_kl_upper(3, 0.5), 8.0)
    # b_{t+1} = (1 - eta_t beta) b_t + 2 eta_t^2: (1 - 0.25) 1 + 2 * 0.25 = 1.25; (1 - 0.5) 1.25 + 2 = 2.625
    close(nmp.nash_md_recursion(1.0, 0.5, [0.5, 1.0]), [1.0, 1.25, 2.625])
    # MMD: (1 + eta beta)^(-N) KL_0 = (2/3)^2 * 4 = 16/9
    close(nmp.mmd_kl_upper(2, 0.5, 4.0, 1.0), 16.0 / 9.0)


@pytest.mark.parametrize("call, argument", [
    (lambda: nmp.nash_md_kl_upper(10, -0.5), "beta"),
    (lambda: nmp.nash_md_kl_upper(-1, 0.5), "T"),
    (lambda: nmp.nash_md_kl_upper(1.5, 0.5), "T"),
    (lambda: nmp.contraction(0.0), "beta"),
    (lambda: nmp.contraction(0.5, eta=-1.0), "eta"),
    (lambda: nmp.kl_upper(-2, 0.5, 1.0), "N"),
    (lambda: nmp.kl_upper(3.5, 0.5, 1.0), "N"),
    (lambda: nmp.kl_upper(2, 0.5, -1.0), "kl0"),
    (lambda: nmp.kl_upper(2, np.nan, 1.0), "beta"),
    (lambda: nmp.kl_upper_iterations(-1, 0.5, 1.0), "t"),
    (lambda: nmp.extrapolation_kl_factor(0.5, 4.0), "eta"),
    (lambda: nmp.span_upper(4, 0.5, 1.0, -2.0), "span0"),
    (lambda: nmp.span_upper(4, 0.5, 1.0, 2.0, eta=2.5), "eta"),
    (lambda: nmp.exploitability_upper(4, "0.5", 1.0, 2.0), "beta"),
    (lambda: nmp.exploitability_pointwise_upper(-1.0, 0.0, 0.5), "kl_forward"),
    (lambda: nmp.exploitability_pointwise_upper(1.0, np.inf, 0.5), "kl_reverse"),
    (lambda: nmp.kl_upper_inexact(1.0, 0.5, 2.0, [0.0, np.nan]), "inexactness"),
    (lambda: nmp.kl_upper_inexact(1.0, 0.5, 2.0, 0.0), "inexactness"),
    (lambda: nmp.kl_upper_inexact([1.0, 2.0, 3.0], 0.5, 2.0, [[0.0, 0.1], [0.0, 0.0]]), "kl0"),
    (lambda: nmp.nash_md_recursion(1.0, 0.5, [0.5, -1.0]), "etas"),
    (lambda: nmp.nash_md_recursion(1.0, 0.5, [[0.5]]), "etas"),
    (lambda: nmp.nash_md_recursion(1.0, 0.0, [0.5]), "beta"),
    (lambda: nmp.mmd_kl_upper(2, 0.5, 4.0, 0.0), "eta"),
])
def test_nash_mp_bounds_validate(call, argument):
    with pytest.raises(ValidationError) as e:
        call()
    assert e.value.argument == argument


def test_kl_float_noise_below_zero_is_accepted():
    """KL values computed in floating point may be a hair below 0 (``KL_ATOL``); the bounds take them."""
    assert nmp.kl_upper(2, 0.5, -1e-15) <= 0.0
    close(nmp.span_upper(4, 0.5, -1e-15, 2.0), 0.5)


def test_shapes_that_do_not_broadcast_are_named():
    with pytest.raises(InvalidParameterError) as e:
        ub.regret_upper_hoeffding(2, [1, 2], 4, [1, 2, 3], 0.1)
    assert e.value.argument == "K"
    with pytest.raises(InvalidParameterError) as e:
        nmp.contraction([0.1, 0.2], [1.0, 2.0, 3.0])
    assert e.value.argument == "eta"
    with pytest.raises(InvalidParameterError) as e:
        sq.is_vacuous([1.0, 2.0], [3, 4, 5])
    assert e.value.argument == "T"
    with pytest.raises(InvalidParameterError) as e:
        sm.regret_safe_cap([1, 2], [0.1, 0.2, 0.3], 0.1, 1.0)
    assert e.value.argument == "gap"
    with pytest.raises(InvalidParameterError) as e:
        ub.regret_upper_bernstein(2, 3, 4, 10, None)
    assert e.value.argument == "delta"
