"""The reward-free figure recipes run their learners through the experiment runner (issue 15).

Each recipe's run function is called with a tiny setting and an executor that counts the chunks submitted
to it: a recipe that called ``algorithm.run`` itself would submit nothing (and ``--scheduler`` /
``$RLTHEORY_SCHEDULER`` would not spread it). The runner's results must equal the direct runs the recipes
made before, bit for bit, including the ``meta`` the recipes read. ``plan_rewards`` (the planning phase run
inside ``run``, for the lower-bound figure) must equal :meth:`plan` on the same explored state.
"""

from __future__ import annotations

import concurrent.futures as cf

import numpy as np
import pytest

from rltheory.algorithms import HFUCRLRFE, UCRLRFE, RandomExploration
from rltheory.algorithms.reward_free import evaluation_rewards
from rltheory.errors import InvalidParameterError
from rltheory.experiments import run_experiment
from rltheory.mdps import hard_instance, mixture_of_kernels
from rltheory.mdps.linear_mixture import hard_instance_gap
from rltheory.paper_figures import reward_free as rf


class CountingExecutor(cf.Executor):
    """A one-thread executor that counts ``submit`` calls (the runner's chunks)."""

    def __init__(self):
        self.pool = cf.ThreadPoolExecutor(max_workers=1)
        self.submitted = 0

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        return self.pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait=True, *, cancel_futures=False):
        self.pool.shutdown(wait=wait, cancel_futures=cancel_futures)


@pytest.fixture
def executor():
    ex = CountingExecutor()
    yield ex
    ex.shutdown()


def runner(executor):
    return {"executor": executor, "chunk_replicates": 1, "cache_dir": False, "progress": False}


def hf():
    return HFUCRLRFE(beta_scale=rf.BETA_SCALE, delta=rf.DELTA)


def assert_same_run(got, want):
    """Same arrays, bit for bit, and the meta entries the recipes read."""
    assert got == want
    for k in got.keys():
        assert got[k].dtype == want[k].dtype, k
    assert got.meta["checkpoints"] == want.meta["checkpoints"]
    for k in ("beta_first", "beta_last", "beta", "lam"):
        if k in want.meta:
            assert got.meta[k] == want.meta[k], k


def test_rate_recipe_runs_its_chunks_on_the_executor(executor):
    c = dict(ds=(2, 3), H=3, K=12, seeds=2)
    traces = rf.rate_traces(c, **runner(executor))
    assert executor.submitted == len(c["ds"]) * c["seeds"]        # one chunk per (d, seed)
    assert list(traces) == list(c["ds"])
    for d, tr in traces.items():
        m = rf.mixture_of_kernels(rf.S, rf.A, d, H=c["H"], seed=d)
        assert_same_run(tr, hf().run(m, c["K"], replicates=c["seeds"], seed=0))
        assert tr.saturation.shape == (c["seeds"], c["K"])       # per-episode, per replicate: concatenated
    # the quick-mode options (in this process, no pool, no cache) give the same traces
    assert rf.rate_traces(c, **rf.runner_options(True), progress=False) == traces


def test_horizon_recipe_runs_its_chunks_on_the_executor(executor):
    c = dict(Hs=(2, 3), d=2, K=6, seeds=2)
    traces = rf.horizon_traces(c, **runner(executor))
    assert executor.submitted == len(c["Hs"]) * 3 * c["seeds"]
    for H in c["Hs"]:
        m = mixture_of_kernels(rf.S, rf.A, c["d"], H=H, seed=4)
        for name, algo in rf.learners().items():
            assert_same_run(traces[name, H], algo.run(m, c["K"], replicates=c["seeds"], seed=0))


def test_dimension_recipe_runs_its_chunks_on_the_executor(executor):
    c = dict(ds=(2, 3), H=3, K=6, seeds=2)
    traces = rf.dimension_traces(c, **runner(executor))
    assert executor.submitted == len(c["ds"]) * 2 * c["seeds"]
    for d in c["ds"]:
        m = mixture_of_kernels(rf.S, rf.A, d, H=c["H"], seed=d)
        assert_same_run(traces["HF-UCRL-RFE++", d], hf().run(m, c["K"], replicates=c["seeds"]))
        assert_same_run(traces["random", d], RandomExploration().run(m, c["K"], replicates=c["seeds"]))


def test_lower_bound_recipe_runs_its_chunks_on_the_executor(executor, tmp_path):
    c = dict(ds=(3, 4), H=3, Ks=(8, 16), seeds=2)
    gaps = rf.lower_bound_traces(c, **runner(executor))
    assert executor.submitted == len(c["ds"]) * len(c["Ks"]) * c["seeds"]   # one chunk per (d, K, seed)
    # cached on disk (full mode), then read back: the same gaps, nothing recomputed the second time
    for _ in range(2):
        cached = rf.lower_bound_traces(c, chunk_replicates=1, cache_dir=tmp_path, executor=executor, progress=False)
        assert all(np.array_equal(cached[d], gaps[d]) for d in c["ds"])
    assert executor.submitted == 2 * len(c["ds"]) * len(c["Ks"]) * c["seeds"]
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == len(c["ds"]) * len(c["Ks"]) * c["seeds"]
    for d in c["ds"]:
        direct = np.zeros((len(c["Ks"]), c["seeds"]))
        for i, K in enumerate(c["Ks"]):   # what the recipe did before it used the runner
            for s in range(c["seeds"]):
                inst = hard_instance(d, c["H"], K, seed=1000 * d + s)
                algo = HFUCRLRFE(beta_scale=rf.BETA_SCALE, delta=rf.DELTA, n_random_rewards=rf.LOWER_RANDOM_REWARDS)
                algo.run(inst.model, K, replicates=1, seed=s, checkpoints=[K])
                direct[i, s] = hard_instance_gap(inst, int(algo.plan(inst.reward).policy[0, 0]))
        np.testing.assert_array_equal(gaps[d], direct)


@pytest.mark.parametrize("make", [hf, lambda: UCRLRFE(beta_scale=0.1), RandomExploration],
                         ids=["HF-UCRL-RFE++", "UCRL-RFE", "random"])
def test_plan_rewards_records_what_plan_returns(make):
    m = mixture_of_kernels(rf.S, rf.A, 2, H=3, seed=2)
    rewards = np.concatenate([evaluation_rewards(rf.S, rf.A, 3)[[0, 9, 40]],
                              np.full((1, rf.S, rf.A), 1 / 3)])           # (4, S, A), the last: all 1/H
    algo = make()
    tr = algo.run(m, 10, replicates=2, seed=3, plan_rewards=rewards)
    assert tr.planned_first_action.shape == (2, 4) and tr.planned_first_action.dtype == np.int64
    for r in range(2):
        for i, reward in enumerate(rewards):
            res = algo.plan(reward, replicate=r)
            assert tr.planned_first_action[r, i] == res.policy[0, m.start_state]
            assert tr.planned_gap[r, i] == res.gap
    # planning draws no random numbers: everything else is the run without it
    plain = make().run(m, 10, replicates=2, seed=3)
    for k in plain.keys():
        np.testing.assert_array_equal(tr[k], plain[k])
    # chunked by the runner: the planned arrays are concatenated along the replicate axis
    chunked = run_experiment(make(), m, 10, replicates=2, seed=3, chunk_replicates=1, cache_dir=False,
                             progress=False, plan_rewards=rewards)
    assert chunked == tr


def test_plan_rewards_on_the_hard_instance_picks_the_planned_action():
    inst = hard_instance(3, 4, 32, seed=7)
    algo = HFUCRLRFE(beta_scale=rf.BETA_SCALE, n_random_rewards=2)
    tr = algo.run(inst.model, 32, replicates=1, seed=1, checkpoints=[32], plan_rewards=inst.reward[None])
    res = algo.plan(inst.reward)
    assert tr.planned_first_action[0, 0] == res.policy[0, 0]
    # the exact gap of the first action (thesis Sec. 2.6.2.2) is the planned policy's gap when the rest is optimal
    assert hard_instance_gap(inst, int(tr.planned_first_action[0, 0])) == pytest.approx(tr.planned_gap[0, 0],
                                                                                       abs=1e-12)


def test_plan_rewards_bad_input_names_the_argument():
    m = mixture_of_kernels(rf.S, rf.A, 2, H=3, seed=2)
    with pytest.raises(InvalidParameterError, match="plan_rewards") as err:
        hf().run(m, 2, plan_rewards=np.zeros((rf.S, rf.A)))             # one reward without its n axis
    assert err.value.argument == "plan_rewards"
    big = np.zeros((2, rf.S, rf.A))
    big[1, 0, 0] = 0.5                                                  # total can reach 3 * 0.5 > 1
    with pytest.raises(InvalidParameterError) as err:
        hf().run(m, 2, plan_rewards=big)
    assert err.value.argument == "plan_rewards[1]"
    with pytest.raises(InvalidParameterError) as err:
        hf().run(m, 2, plan_rewards=np.full((1, rf.S, rf.A), np.nan))
    assert err.value.argument.startswith("plan_rewards")
