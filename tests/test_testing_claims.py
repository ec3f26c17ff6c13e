"""Every claims function: one case where it must hold, one where it must fail with the documented report."""

from __future__ import annotations

import numpy as np
import pytest

from rltheory.errors import InvalidParameterError
from rltheory.testing import claims
from rltheory.testing.claims import ClaimViolation
from rltheory.trace import Trace


def test_upper_bounds_holds_and_names_the_tightest_entry():
    upper = np.array([[1.0, 2.0, 3.0], [1.5, 1.2, 4.0]])
    res = claims.upper_bounds(upper, 0.9)
    assert res and res.violations == 0
    assert res.worst["index"] == {"replicate": 0, "episode": 0} and res.worst["margin"] == pytest.approx(0.1)
    assert res.check() is res


def test_upper_bounds_fails_with_the_worst_replicate_and_episode():
    upper = np.array([[1.0, 2.0, 3.0], [1.5, 0.2, 4.0]])
    res = claims.upper_bounds(upper, 1.0, model="toy")
    assert not res and res.violations == 1
    assert res.worst == {"index": {"replicate": 1, "episode": 1}, "upper": 0.2, "reference": 1.0,
                         "margin": pytest.approx(-0.8)}
    with pytest.raises(ClaimViolation, match=r"upper >= reference.*FAILS at 1 entry on toy.*replicate: 1"):
        res.check()


def test_upper_bounds_reads_a_trace():
    trace = Trace({"optimistic_values": np.array([[2.0, 1.0]]), "regret": np.zeros((1, 2))})
    assert not claims.upper_bounds(trace, 1.5)
    with pytest.raises(InvalidParameterError, match="optimistic_values"):
        claims.upper_bounds(Trace({"regret": np.zeros((1, 2))}), 1.0)


def test_equal_infinities_are_not_violations():
    assert claims.upper_bounds(np.array([np.inf, 2.0]), np.array([np.inf, 1.0]))


def test_stays_above():
    values = np.array([[0.9, 0.95], [0.91, 0.99]])
    assert claims.stays_above(values, 0.9)
    res = claims.stays_above(values, 0.92)
    assert not res and res.violations == 2 and res.worst["index"] == {"replicate": 0, "episode": 0}


def test_within():
    assert claims.within([1.0, 2.0], [1.0, 3.0])
    res = claims.within([1.0, 2.0, 5.0], [1.0, 3.0, 4.0], axes=("K",))
    assert not res and res.worst["index"] == {"K": 2} and res.worst["measured"] == 5.0


def test_contracts_holds_on_a_geometric_sequence_down_to_float_noise():
    e = 0.5 ** np.arange(80.0)  # reaches 1e-24, far below float noise of the start
    e[60:] = 1e-16 * np.abs(np.sin(np.arange(20)))  # noise floor: absorbed by atol
    assert claims.contracts(e, 0.5)


def test_contracts_fails_where_the_rate_is_broken():
    e = np.array([1.0, 0.5, 0.25, 0.2, 0.1])
    res = claims.contracts(e, 0.5)
    assert not res and res.worst["index"] == {"iteration": 3}
    assert res.worst["largest_ratio"] == pytest.approx(0.8)
    batch = np.stack([0.5 ** np.arange(5.0), e])
    assert claims.contracts(batch, 0.5).worst["index"] == {"replicate": 1, "iteration": 3}


def test_sublinear_accepts_sqrt_growth_and_rejects_linear():
    rng = np.random.default_rng(0)
    K = np.arange(1, 2001)
    sqrt_growth = np.sqrt(K)[None] * rng.uniform(0.9, 1.1, (16, 1))
    res = claims.sublinear(sqrt_growth, 0.5)
    assert res and res.worst["slope"] == pytest.approx(0.5, abs=0.01)
    linear = K[None] * rng.uniform(0.9, 1.1, (16, 1))
    bad = claims.sublinear(linear, 0.5)
    assert not bad and bad.worst["interval"][0] > 0.9
    single = claims.sublinear(np.sqrt(K), 0.6)  # one replicate: least-squares interval
    assert single


@pytest.mark.parametrize("call, argument", [
    (lambda: claims.upper_bounds([1.0, np.nan], 0.0), "upper"),
    (lambda: claims.upper_bounds(np.ones((2, 3)), np.ones(2)), "reference"),
    (lambda: claims.within(np.ones(3), "abc"), "bound"),
    (lambda: claims.stays_above([], 0.0), "values"),
    (lambda: claims.contracts([1.0], 0.5), "sequence"),
    (lambda: claims.contracts([1.0, -0.5], 0.5), "sequence"),
    (lambda: claims.contracts([1.0, 0.5], -1.0), "rate"),
    (lambda: claims.sublinear(np.ones(5), 0.5), "cumulative_regret"),
    (lambda: claims.sublinear(np.zeros(50), 0.5), "cumulative_regret"),
    (lambda: claims.upper_bounds(np.ones((2, 3)), 0.0, axes=("a",)), "axes"),
    (lambda: claims.within([1.0], [2.0], atol=-1.0), "atol"),
])
def test_bad_input_names_the_argument(call, argument):
    with pytest.raises(InvalidParameterError) as info:
        call()
    assert info.value.argument == argument


def test_nan_is_located():
    with pytest.raises(InvalidParameterError) as info:
        claims.stays_above(np.array([[0.0, 1.0], [np.nan, 2.0]]), 0.0)
    assert info.value.index == (1, 0)
