"""The learner skeleton (:mod:`rltheory.runner`): argument validation, memory refusal, chunking rule, trace API."""

from __future__ import annotations

import inspect
import time
import warnings

import numpy as np
import pytest

from rltheory.algorithm import ALGORITHMS, register_algorithm
from rltheory.algorithms import (
    DUCBVI,
    GORP,
    SQIRL,
    SWUCBVI,
    UCBVI,
    BaselineOnly,
    EpsMix,
    KeRNS,
    QLearning,
    RestartUCBVI,
    RSKeRNS,
    StepMix,
    UCBVINoForgetting,
)
from rltheory.errors import InvalidParameterError
from rltheory.mdps import garnet, riverswim
from rltheory.nonstationary import NonStationaryMDP
from rltheory.planning import policy_value
from rltheory.runner import UNIFORM_BUDGET, EpisodicLearner, check_run_size, default_chunk
from rltheory.trace import Trace

LEARNERS = [UCBVI, StepMix, EpsMix, BaselineOnly, QLearning, SQIRL, GORP]
MDP = riverswim(3, 4)
#: the learners of non-stationary models (rltheory.algorithms.kerns), on the same skeleton
NS_LEARNERS = [KeRNS, RSKeRNS, DUCBVI, SWUCBVI, RestartUCBVI, UCBVINoForgetting]
NS_MODEL = NonStationaryMDP([garnet(S=4, A=2, branching=2, horizon=3, seed=3),
                             garnet(S=4, A=2, branching=2, horizon=3, seed=4)], (np.arange(30) // 10) % 2,
                            coords=np.arange(4.0))


@pytest.mark.parametrize("cls", LEARNERS)
@pytest.mark.parametrize("bad", [0, -1, "2", np.array([2]), 1.5, True, 2.0])
def test_chunk_episodes_is_a_positive_integer(cls, bad):
    with pytest.raises(InvalidParameterError) as e:
        cls().run(MDP, 5, chunk_episodes=bad)
    assert e.value.argument == "chunk_episodes"


@pytest.mark.parametrize("cls", LEARNERS)
@pytest.mark.parametrize("kw, argument", [
    ({"replicates": 10 ** 9}, "replicates"), ({"replicates": 2 ** 62}, "replicates"),
    ({"episodes": 10 ** 12}, "episodes"), ({"episodes": 2 ** 62}, "episodes"), ({"episodes": 2 ** 64}, "episodes")])
def test_huge_runs_are_refused_before_allocating(cls, kw, argument):
    kw = dict(kw)
    episodes = kw.pop("episodes", 5)
    t0 = time.perf_counter()
    with pytest.raises(InvalidParameterError, match="would need about") as e:
        cls().run(MDP, episodes, **kw)
    assert e.value.argument == argument
    assert time.perf_counter() - t0 < 5.0  # refused up front, nothing allocated


@pytest.mark.parametrize("cls, name", [(UCBVI, "bonus"), (StepMix, "bonus"), (SQIRL, "schedule"),
                                       (GORP, "schedule"), (UCBVI, "stage_dependent")])
def test_array_valued_options_are_refused_clearly(cls, name):
    with pytest.raises(InvalidParameterError) as e:
        cls(**{name: np.array(["hoeffding", "bernstein"])})
    assert e.value.argument == name


@pytest.mark.parametrize("kw, argument", [({"backend": np.array(["numba"])}, "backend"),
                                          ({"progress": np.array([True, False])}, "progress"),
                                          ({"progress": "yes"}, "progress")])
def test_array_valued_run_options_are_refused_clearly(kw, argument):
    with pytest.raises(InvalidParameterError) as e:
        UCBVI().run(MDP, 5, **kw)
    assert e.value.argument == argument


def test_memory_estimate_names_the_size():
    with pytest.raises(InvalidParameterError, match=r"replicates=1,000,000,000 would need about") as e:
        check_run_size(10 ** 9, 10, bytes_per_episode=8, bytes_per_replicate=1000)
    assert e.value.argument == "replicates"
    assert check_run_size(4, 100, bytes_per_episode=8, bytes_per_replicate=10) == 4 * (10 + 800)


def test_chunk_rule():
    assert default_chunk(4, 13, 10 ** 9) == UNIFORM_BUDGET // (4 * 13)
    assert default_chunk(4, 13, 7) == 7
    assert default_chunk(10 ** 8, 13, 50) == 1


@pytest.mark.parametrize("cls", LEARNERS)
def test_every_episodic_learner_reports_the_regret_of_the_policy_it_played(cls):
    trace = cls().run(MDP, 40, replicates=2, seed=1)
    v_star = trace.meta["v_star"]
    assert trace.regret.shape == (2, 40)
    assert (trace.regret >= -1e-12).all() and (trace.regret <= v_star + 1e-12).all()
    assert trace.cumulative_regret.shape == (2, 40)


def test_played_regret_of_the_exploration_policies_is_exact():
    """SQIRL's first round plays the uniformly random policy: its regret is V* - V^random exactly; Q-learning
    starts with all Q equal, so its first episode plays the uniform policy too."""
    from rltheory.planning import policy_value
    from rltheory.policies import uniform_policy

    v_random = policy_value(MDP, uniform_policy(MDP.H, MDP.S, MDP.A))
    for algo in (SQIRL(k=1, episodes_per_timestep=4), QLearning(epsilon=0.2)):
        trace = algo.run(MDP, 10, replicates=2, seed=0)
        np.testing.assert_allclose(trace.regret[:, 0], trace.meta["v_star"] - v_random, atol=1e-12)


def test_missing_trace_array_says_what_exists():
    t = Trace({"values": np.zeros((1, 3))})
    with pytest.raises(KeyError, match=r"has: \['values'\]"):
        t.cumulative_regret  # noqa: B018
    with pytest.raises(KeyError, match="no array 'regret'"):
        t["regret"]


@pytest.mark.parametrize("cls", [StepMix, EpsMix])
def test_bonus_scale_is_the_one_name_and_optimism_scale_is_deprecated(cls):
    with pytest.warns(DeprecationWarning, match="bonus_scale"):
        old = cls(optimism_scale=0.05)
    new = cls(bonus_scale=0.05)
    assert old.bonus_scale == new.bonus_scale == 0.05
    assert old.run(MDP, 10, seed=0) == new.run(MDP, 10, seed=0)
    with pytest.raises(InvalidParameterError) as e:
        cls(optimism_scale=0.05, bonus_scale=0.1)
    assert e.value.argument == "optimism_scale"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cls(bonus_scale=0.05)


@pytest.mark.parametrize("name", sorted(k for k, v in ALGORITHMS.items() if issubclass(v, EpisodicLearner)))
def test_hyperparameters_are_keyword_only(name):
    params = list(inspect.signature(ALGORITHMS[name].__init__).parameters.values())[1:]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params), name


def test_registry_refuses_duplicate_names():
    class UCBVI(EpisodicLearner):  # noqa: N801  (the clash is the point)
        pass

    with pytest.raises(ValueError, match="already registered"):
        register_algorithm(UCBVI)


# ---------------------------------------------------------------------------- non-stationary models


@pytest.mark.parametrize("cls", NS_LEARNERS)
def test_non_stationary_learners_use_the_skeleton_checks(cls):
    assert issubclass(cls, EpisodicLearner)
    for bad in (0, True, 1.5):
        with pytest.raises(InvalidParameterError) as e:
            cls().run(NS_MODEL, 5, chunk_episodes=bad)
        assert e.value.argument == "chunk_episodes"
    with pytest.raises(InvalidParameterError, match="would need about") as e:
        cls().run(NS_MODEL, 5, replicates=10 ** 9)
    assert e.value.argument == "replicates"
    with pytest.raises(InvalidParameterError, match="schedule") as e:
        cls().run(NS_MODEL, 31)
    assert e.value.argument == "episodes"


class _CyclicPolicy(EpisodicLearner):
    """A test-file learner of non-stationary models: plays "always action ``k mod A``" in episode ``k`` and
    writes only ``values`` (exact, by the planner), so the skeleton must supply the dynamic regret."""

    model_type = NonStationaryMDP
    trace_arrays = ("values",)

    def __init__(self):
        pass

    def start(self, mdp, run):
        return mdp

    def step(self, mdp, u, start, out):
        for e in range(u.shape[1]):
            k = start + e
            out["values"][:, e] = policy_value(mdp.model(k), np.full((mdp.H, mdp.S), k % mdp.A, np.int64))

    step_reference = step


def test_the_skeleton_reports_dynamic_regret_on_non_stationary_models():
    K = 25
    trace = _CyclicPolicy().run(NS_MODEL, K, replicates=2, seed=0, chunk_episodes=7)
    policies = np.stack([np.full((NS_MODEL.H, NS_MODEL.S), k % NS_MODEL.A, np.int64) for k in range(K)])
    expected = NS_MODEL.dynamic_regret(policies)  # V*_k - V^{pi_k}_k, each episode on its own model
    np.testing.assert_allclose(trace.regret, np.broadcast_to(expected, (2, K)), rtol=0, atol=1e-12)
    # the two models differ, so a stationary V* would not give this
    assert not np.allclose(NS_MODEL.model_values[0], NS_MODEL.model_values[1])
    assert trace.meta["total_variation"] == NS_MODEL.total_variation(K)
    assert trace.meta["v_star_models"] == NS_MODEL.model_values.tolist()
