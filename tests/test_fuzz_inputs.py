"""Fuzz harness: garbage into the public entry points; every call succeeds or raises a ``ValidationError``.

Each row of :data:`ENTRY_POINTS` is ``(name, callable, strategy)``; the strategy draws ``(args, kwargs)``,
mixing valid values with :data:`GARBAGE` (wrong types, NaN, infinities, negatives, astronomically large
integers, arrays where scalars or strings belong, complex numbers, unsigned extremes). The outcome must
be a normal return or a :class:`~rltheory.errors.ValidationError` (a ``ValueError`` subclass naming the
argument): any other exception -- ``TypeError``, a bare ``ValueError``, ``MemoryError``, ``AttributeError``,
a Numba error -- fails the test with the falsifying call. Sizes stay small or are so large that the
entry point must refuse them up front, so no call can hang or exhaust memory.

Derandomised (the suite's ``ci`` profile) with :data:`FUZZ_EXAMPLES` calls per entry point (environment
variable ``RLTHEORY_FUZZ_EXAMPLES``). To cover a new entry point, append a row to ``ENTRY_POINTS``
(use :func:`call` and :func:`maybe` to build its strategy). The second half pins the leaks issue 10
reported, one named case each.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rltheory import planning
from rltheory.algorithms.regression import LinearLeastSquares
from rltheory.bounds import nash_mp as nmp
from rltheory.bounds import sqirl as sq
from rltheory.bounds import stepmix as sm
from rltheory.bounds import ucbvi as ub
from rltheory.errors import InvalidModelError, InvalidParameterError, InvalidPolicyError, ValidationError
from rltheory.mdps import bridge, chain, garnet, gridworld, riverswim
from rltheory.models import DiscountedMDP, FiniteHorizonMDP
from rltheory.policies import validate_policy
from strategies import discounted_mdps, finite_horizon_mdps

#: Calls per entry point (a few hundred; the whole file stays near a minute on 2 cores).
FUZZ_EXAMPLES = int(os.environ.get("RLTHEORY_FUZZ_EXAMPLES", "200"))

# ------------------------------------------------------------------------------------------ garbage

HUGE_INTS = [2**31, 2**62, 2**63 - 1, 2**64 - 1, 2**64, 10**12, 10**30, -(2**63)]
_arrays = hnp.arrays(
    dtype=st.sampled_from([np.float64, np.int64, np.uint64, np.bool_, np.complex128, np.float32, np.int8]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
)
#: Values no entry point should accept silently in most argument slots.
GARBAGE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 12),
    st.sampled_from(HUGE_INTS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([np.nan, np.inf, -np.inf, -0.5, 1.5, 1e-320, 1e308, 0.0]),
    st.complex_numbers(max_magnitude=5, allow_nan=False, allow_infinity=False),
    st.text(max_size=4),
    st.sampled_from(["abc", "", "hoeffding", "bernoulli", "affine", "1"]),
    st.lists(st.one_of(st.integers(-2, 5), st.floats(allow_nan=True), st.text(max_size=1)), max_size=4),
    _arrays,
    st.builds(dict),
    st.builds(object),
)


def maybe(valid: st.SearchStrategy) -> st.SearchStrategy:
    """A valid value most of the time, garbage otherwise."""
    return st.one_of(valid, valid, GARBAGE)


def call(*args: st.SearchStrategy, **kwargs: st.SearchStrategy) -> st.SearchStrategy:
    """Strategy for ``(args, kwargs)``; each keyword is sometimes left out (its default is used)."""
    kw = st.fixed_dictionaries({}, optional=kwargs) if kwargs else st.just({})
    return st.tuples(st.tuples(*args), kw)


# ------------------------------------------------------------------------------------------ valid values

size = st.integers(1, 6)
sizes_or_arrays = st.one_of(size, hnp.arrays(np.int64, st.integers(1, 4), elements=st.integers(1, 50)))
prob = st.floats(0.01, 0.99)
positive = st.floats(0.01, 10.0)
nonneg = st.floats(0.0, 10.0)
k_eff = st.floats(0.0, 8.0)
ucbvi_args = call(maybe(size), maybe(size), maybe(size), maybe(sizes_or_arrays), maybe(prob))
small_mdps = finite_horizon_mdps(max_S=4, max_A=3, max_H=4)
small_discounted = discounted_mdps(max_S=4, max_A=3)


@st.composite
def policies_for(draw, mdp_strategy=small_mdps):
    """A model, and a policy that is valid, slightly off (an action out of range, a row not summing to 1) or garbage."""
    mdp = draw(mdp_strategy)
    H = getattr(mdp, "H", 1)
    kind = draw(st.sampled_from(["det", "sto", "off", "garbage"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if kind == "det":
        pol = rng.integers(0, mdp.A, size=(H, mdp.S))
    elif kind == "sto":
        pol = rng.dirichlet(np.ones(mdp.A), size=(H, mdp.S))
    elif kind == "off":
        dtype, bad = draw(st.sampled_from([(np.int64, [mdp.A, -1]), (np.uint64, [mdp.A, 2**64 - 1]),
                                           (float, [mdp.A, -1, 1e30, np.nan, 0.5])]))
        pol = rng.integers(0, mdp.A, size=(H, mdp.S)).astype(dtype)
        pol.flat[0] = draw(st.sampled_from(bad))
    else:
        pol = draw(GARBAGE)
    return mdp, pol


@st.composite
def model_arrays(draw, stationary=True):
    """``(P, R, mu, H)`` for the dense constructor: valid arrays with one argument or one entry spoiled."""
    S, A, H = draw(size), draw(st.integers(1, 3)), draw(size)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    P = rng.dirichlet(np.ones(S), size=(S, A) if stationary else (H, S, A))
    R = rng.random((S, A))
    mu = rng.dirichlet(np.ones(S))
    args = {"P": P, "R": R, "mu": mu, "H": H}
    spoil = draw(st.sampled_from(["none", "P", "R", "mu", "H", "entry"]))
    if spoil == "entry":
        name = draw(st.sampled_from(["P", "R", "mu"]))
        arr = args[name].copy()
        arr.flat[draw(st.integers(0, arr.size - 1))] = draw(st.sampled_from([np.nan, -0.1, 2.0, np.inf]))
        args[name] = arr
    elif spoil != "none":
        args[spoil] = draw(GARBAGE)
    return args


def _build_dense(args, kwargs):
    return FiniteHorizonMDP(**args, **kwargs)


def _build_discounted(args, gamma, kwargs):
    return DiscountedMDP(args["P"], args["R"], args["mu"], gamma, **kwargs)


# ------------------------------------------------------------------------------------------ the table

ENTRY_POINTS = [
    # bounds/ucbvi.py
    ("ucbvi.regret_upper_hoeffding", ub.regret_upper_hoeffding, ucbvi_args),
    ("ucbvi.regret_upper_bernstein", ub.regret_upper_bernstein, ucbvi_args),
    ("ucbvi.theorem_log_term", ub.theorem_log_term, ucbvi_args),
    ("ucbvi.regret_lower", ub.regret_lower,
     call(maybe(size), maybe(size), maybe(size), maybe(sizes_or_arrays), constant=maybe(positive))),
    ("ucbvi.effective_states", ub.effective_states,
     call(maybe(size), maybe(size), stage_dependent=maybe(st.booleans()))),
    # bounds/sqirl.py
    *[(f"sqirl.{f.__name__}", f,
       call(maybe(size), maybe(k_eff), maybe(size), maybe(size), maybe(positive), maybe(prob), maybe(size),
            constant=maybe(positive)))
      for f in (sq.sqirl_steps, sq.sqirl_episodes, sq.sqirl_episodes_per_timestep)],
    *[(f"sqirl.{f.__name__}", f, call(maybe(k_eff), maybe(size), maybe(size)))
      for f in (sq.gorp_episodes, sq.gorp_steps)],
    ("sqirl.effective_horizon_k", sq.effective_horizon_k, call(maybe(size), maybe(nonneg), maybe(size))),
    ("sqirl.normalized_suboptimality", sq.normalized_suboptimality,
     call(maybe(nonneg), maybe(st.floats(5.0, 6.0)), maybe(st.floats(0.0, 1.0)))),
    ("sqirl.is_vacuous", sq.is_vacuous, call(maybe(k_eff), maybe(size))),
    # bounds/stepmix.py
    *[(f"stepmix.{f.__name__}", f, call(maybe(size), maybe(size), maybe(size), maybe(sizes_or_arrays), maybe(prob)))
      for f in (sm.log_term, sm.leading_term)],
    ("stepmix.regret_upper", sm.regret_upper,
     call(maybe(size), maybe(size), maybe(size), maybe(sizes_or_arrays), maybe(prob), alpha=maybe(prob),
          v_b=maybe(positive), gap=maybe(nonneg), c1=maybe(positive), c2=maybe(positive))),
    ("stepmix.regret_safe_cap", sm.regret_safe_cap,
     call(maybe(sizes_or_arrays), maybe(nonneg), maybe(prob), maybe(positive))),
    ("stepmix.safe_floor", sm.safe_floor, call(maybe(prob), maybe(size))),
    ("stepmix.fit_leading_constant", sm.fit_leading_constant,
     call(maybe(hnp.arrays(np.int64, 5, elements=st.integers(1, 100))), maybe(hnp.arrays(np.float64, 5)),
          maybe(size), maybe(size), maybe(size), maybe(prob), start=maybe(prob))),
    ("stepmix.loglog_slope", sm.loglog_slope,
     call(maybe(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=6))), start=maybe(prob))),
    # bounds/nash_mp.py
    ("nash_mp.contraction", nmp.contraction, call(maybe(positive), maybe(positive))),
    ("nash_mp.rate_per_query", nmp.rate_per_query, call(maybe(positive), maybe(positive))),
    ("nash_mp.kl_upper", nmp.kl_upper, call(maybe(size), maybe(positive), maybe(nonneg), eta=maybe(positive))),
    ("nash_mp.kl_upper_iterations", nmp.kl_upper_iterations,
     call(maybe(nonneg), maybe(positive), maybe(nonneg), eta=maybe(positive))),
    ("nash_mp.extrapolation_kl_factor", nmp.extrapolation_kl_factor, call(maybe(positive), maybe(st.floats(0.1, 2.0)))),
    *[(f"nash_mp.{f.__name__}", f,
       call(maybe(size), maybe(positive), maybe(nonneg), maybe(nonneg), eta=maybe(st.floats(0.1, 2.0))))
      for f in (nmp.span_upper, nmp.exploitability_upper)],
    ("nash_mp.exploitability_pointwise_upper", nmp.exploitability_pointwise_upper,
     call(maybe(nonneg), maybe(nonneg), maybe(positive))),
    ("nash_mp.kl_upper_inexact", nmp.kl_upper_inexact,
     call(maybe(nonneg), maybe(positive), maybe(positive), maybe(hnp.arrays(np.float64, st.integers(1, 5))))),
    ("nash_mp.nash_md_kl_upper", nmp.nash_md_kl_upper, call(maybe(size), maybe(positive))),
    ("nash_mp.nash_md_recursion", nmp.nash_md_recursion,
     call(maybe(nonneg), maybe(positive), maybe(hnp.arrays(np.float64, st.integers(0, 5), elements=positive)))),
    ("nash_mp.mmd_kl_upper", nmp.mmd_kl_upper, call(maybe(size), maybe(positive), maybe(nonneg), maybe(positive))),
    # exact models
    ("FiniteHorizonMDP", lambda a, kw: _build_dense(a, kw),
     call(model_arrays(), st.fixed_dictionaries({}, optional={"reward_noise": maybe(st.just("bernoulli")),
                                                             "name": maybe(st.just("x"))}))),
    ("FiniteHorizonMDP stage-dependent", lambda a: _build_dense(a, {}), call(model_arrays(stationary=False))),
    ("DiscountedMDP", lambda a, g, kw: _build_discounted(a, g, kw),
     call(model_arrays(), maybe(st.floats(0.0, 0.999)),
          st.fixed_dictionaries({}, optional={"reward_noise": maybe(st.just("bernoulli"))}))),
    ("FiniteHorizonMDP.from_successors", FiniteHorizonMDP.from_successors,
     call(maybe(hnp.arrays(np.int64, (3, 2, 1), elements=st.integers(-1, 3))), maybe(st.just(np.ones((3, 2, 1)))),
          maybe(st.just(np.full((3, 2), 0.5))), maybe(st.just(np.array([1.0, 0.0, 0.0]))), maybe(size))),
    # planning
    ("planning.backward_induction", planning.backward_induction, call(maybe(small_mdps))),
    *[(f"planning.{f.__name__}", lambda mp, f=f: f(*mp), call(policies_for()))
      for f in (planning.evaluate, planning.q_values, planning.policy_value, planning.occupancy)],
    ("planning.greedy", planning.greedy, call(maybe(hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=3))))),
    ("planning.value_iteration", planning.value_iteration,
     call(maybe(small_discounted), tol=maybe(st.floats(1e-12, 1.0)), max_iter=maybe(st.integers(1, 50)),
          V0=maybe(hnp.arrays(np.float64, st.integers(1, 4))))),
    ("planning.value_iteration gamma near 1", lambda g: planning.value_iteration(
        DiscountedMDP(np.ones((1, 1, 1)), np.ones((1, 1)), np.ones(1), g)),
     call(st.sampled_from([1 - 1e-12, 1 - 1e-9, 0.999999, 0.9]))),
    *[(f"planning.{f.__name__}", lambda mp, f=f: f(*mp), call(policies_for(small_discounted)))
      for f in (planning.evaluate_discounted, planning.discounted_occupancy)],
    ("validate_policy", validate_policy, call(maybe(_arrays), maybe(size), maybe(size), maybe(size))),
    # mdps constructors
    ("mdps.riverswim", riverswim,
     call(maybe(st.integers(2, 8)), maybe(st.integers(1, 30)), reward_noise=maybe(st.just("bernoulli")))),
    ("mdps.garnet", garnet,
     call(maybe(st.integers(1, 8)), maybe(st.integers(1, 4)), maybe(st.integers(1, 3)), maybe(st.integers(1, 10)),
          maybe(st.integers(0, 100)), stationary=maybe(st.booleans()), reward_noise=maybe(st.just("bernoulli")))),
    ("mdps.chain", chain,
     call(maybe(st.integers(2, 8)), maybe(st.integers(1, 30)), maybe(prob), reward_noise=maybe(st.just("bernoulli")))),
    ("mdps.gridworld", gridworld,
     call(maybe(st.integers(1, 5)), maybe(st.integers(1, 5)),
          walls=maybe(st.lists(st.tuples(st.integers(-1, 5), st.integers(-1, 5)), max_size=3)),
          start=maybe(st.tuples(st.integers(0, 4), st.integers(0, 4))),
          goal=maybe(st.tuples(st.integers(0, 4), st.integers(0, 4))), slip=maybe(prob),
          horizon=maybe(st.integers(1, 30)), reward_noise=maybe(st.just("bernoulli")))),
    ("mdps.bridge.from_arrays", bridge.from_arrays,
     call(maybe(hnp.arrays(np.int64, (3, 2), elements=st.integers(-2, 3))),
          maybe(hnp.arrays(np.float64, (3, 2), elements=st.floats(-5, 5))), maybe(st.integers(1, 10)),
          maybe(st.floats(0.0, 0.9)), normalize=maybe(st.sampled_from(["affine", None])), name=maybe(st.just("x")))),
    ("mdps.bridge.load", bridge.load, call(GARBAGE, maybe(st.integers(1, 10)), maybe(st.floats(0.0, 0.9)))),
    # algorithms: validation-only constructors
    ("LinearLeastSquares", LinearLeastSquares,
     call(maybe(hnp.arrays(np.float64, st.sampled_from([(2, 2, 3), (3, 2, 2, 1)]))), maybe(positive))),
]


@pytest.mark.parametrize("name, fn, strategy", ENTRY_POINTS, ids=[row[0] for row in ENTRY_POINTS])
def test_garbage_in_validation_error_out(name, fn, strategy):
    @settings(max_examples=FUZZ_EXAMPLES, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(drawn=strategy)
    def check(drawn):
        args, kwargs = drawn
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fn(*args, **kwargs)
            except ValidationError as err:
                assert err.argument, f"{name}: a ValidationError must name its argument"

    check()


def test_entry_point_names_are_unique():
    names = [row[0] for row in ENTRY_POINTS]
    assert len(names) == len(set(names))


# ------------------------------------------------------------------------------------------ named leaks (issue 10)

_river = None


def _model():
    global _river
    if _river is None:
        _river = riverswim()
    return _river


@pytest.mark.parametrize("thunk, error, argument, text", [
    (lambda: ub.regret_upper_hoeffding(10, 0, 5, 100, 0.1), InvalidParameterError, "A", "[1, inf)"),
    (lambda: ub.regret_upper_hoeffding(10, 2, 5, 100, delta=1.5), InvalidParameterError, "delta", "(0, 1)"),
    (lambda: nmp.nash_md_kl_upper(10, -0.5), InvalidParameterError, "beta", "-0.5"),
    (lambda: planning.value_iteration(DiscountedMDP(np.ones((1, 1, 1)), np.ones((1, 1)), np.ones(1), 1 - 1e-12)),
     InvalidParameterError, "gamma", "MAX_DEFAULT_SWEEPS"),
    (lambda: garnet(S=2000, A=10, horizon=50, stationary=False), InvalidParameterError, "S", "16 GB"),
    (lambda: garnet(stationary=None), InvalidParameterError, "stationary", "None"),
    (lambda: garnet(stationary=np.array([True, False])), InvalidParameterError, "stationary", "True or False"),
    (lambda: riverswim(horizon=2**40), InvalidModelError, "H", "GB"),
    (lambda: LinearLeastSquares("abc"), InvalidParameterError, "features", "float"),
    (lambda: planning.policy_value(None, 0), InvalidModelError, "mdp", "NoneType"),
    (lambda: planning.greedy([]), InvalidParameterError, "Q", "at least one action"),
    (lambda: planning.policy_value(_model(), np.full((20, 6), 2**64 - 1, dtype=np.uint64)), InvalidPolicyError,
     "policy", "18446744073709551615"),
    (lambda: planning.policy_value(_model(), np.full((20, 6), 1e30)), InvalidPolicyError, "policy", "1e+30"),
    (lambda: planning.policy_value(_model(), np.full((20, 6, 2), 0.5 + 0j)), InvalidPolicyError, "policy", "complex"),
    (lambda: FiniteHorizonMDP(np.ones((1, 1, 1)) + 0j, np.ones((1, 1)), np.ones(1), 2), InvalidModelError, "P",
     "complex"),
    (lambda: bridge.load("/nonexistent/MiniGrid-Empty-5x5-v0.npz"), ValidationError, "path", "no such file"),
    (lambda: bridge.load("/nonexistent/no_horizon_here.npz"), ValidationError, "path", "no such file"),
])
def test_reported_leaks_now_raise_named_errors(thunk, error, argument, text):
    with pytest.raises(error) as e:
        thunk()
    assert e.value.argument == argument
    assert text in str(e.value)


def test_value_iteration_cap_is_only_on_the_default():
    """An explicit ``max_iter`` overrides the up-front refusal (here one sweep suffices: zero rewards)."""
    mdp = DiscountedMDP(np.ones((1, 1, 1)), np.zeros((1, 1)), np.ones(1), 1 - 1e-12)
    assert planning.value_iteration(mdp, max_iter=10).iterations == 1
    assert planning.value_iteration(DiscountedMDP(np.ones((1, 1, 1)), np.ones((1, 1)), np.ones(1), 0.99)).value \
        == pytest.approx(100.0, abs=1e-8)
