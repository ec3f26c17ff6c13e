"""``run(..., stop_when=...)``: a run that stops once every replicate has met a rule records exactly what the
full run records up to there, so the sample complexities read from it are the full run's."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rltheory.algorithms import GORP, SQIRL, UCBVI, QLearning
from rltheory.algorithms.effective_horizon_analysis import analyze
from rltheory.algorithms.episodic import EpsilonOptimal, first_epsilon_optimal
from rltheory.bounds.sqirl import normalized_suboptimality
from rltheory.errors import InvalidParameterError
from rltheory.experiments import cache_key, sweep
from rltheory.mdps import combination_lock
from rltheory.runner import FIRST_STOP_CHECK

EPS = 0.01
LEARNERS = {"SQIRL": lambda k: SQIRL(k=k, episodes_per_timestep=1), "GORP": lambda k: GORP(k=k),
            "Q-learning": lambda k: QLearning(epsilon=0.1),
            "UCBVI": lambda k: UCBVI(bonus="bernstein", bonus_scale=0.01)}


def _complexity(trace, a):
    values = np.where(np.isnan(trace["values"]), a.v_worst, trace["values"])
    return first_epsilon_optimal(normalized_suboptimality(values, a.v_star, a.v_worst), EPS)


@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_stopped_run_is_the_full_run_up_to_its_stop(name):
    mdp = combination_lock(3, sticky=0.25)
    a = analyze(mdp)
    algo = LEARNERS[name](a.best_k())
    episodes = 6000
    full = algo.run(mdp, episodes, replicates=4, seed=3)
    rule = EpsilonOptimal(a.v_star, a.v_worst, EPS)
    short = algo.run(mdp, episodes, replicates=4, seed=3, stop_when=rule)
    played = short.meta["episodes_played"]
    assert full.meta["episodes_played"] == episodes
    assert played < episodes, "the lock is solved long before 6,000 episodes: the run must have stopped"
    for k in full.arrays:
        np.testing.assert_array_equal(short[k][:, :played], full[k][:, :played], err_msg=k)
        assert np.isnan(short[k][:, played:]).all(), k
    sc = _complexity(full, a)
    assert np.isfinite(sc).all()
    np.testing.assert_array_equal(_complexity(short, a), sc)
    # it stopped within the chunk after the last replicate's first optimal episode (chunks double from 256)
    assert played <= max(2 * sc.max(), FIRST_STOP_CHECK) + FIRST_STOP_CHECK or name in ("SQIRL", "GORP")


@given(st.sampled_from([1, 7, 64, None]), st.integers(0, 50))
def test_where_it_stops_depends_on_chunking_what_it_records_does_not(chunk, seed):
    mdp = combination_lock(2)
    a = analyze(mdp)
    algo = QLearning(epsilon=0.1)
    rule = EpsilonOptimal(a.v_star, a.v_worst, EPS)
    ref = algo.run(mdp, 3000, replicates=3, seed=seed)
    got = algo.run(mdp, 3000, replicates=3, seed=seed, chunk_episodes=chunk, stop_when=rule)
    np.testing.assert_array_equal(_complexity(got, a), _complexity(ref, a))


def test_a_replicate_that_never_gets_there_keeps_the_run_going():
    mdp = combination_lock(3)
    a = analyze(mdp)
    unreachable = EpsilonOptimal(a.v_star + 1.0, a.v_worst, 0.0)      # above every policy's value: never reached
    tr = QLearning(epsilon=0.1).run(mdp, 900, replicates=2, seed=0, stop_when=unreachable)
    assert tr.meta["episodes_played"] == 900 and not np.isnan(tr["values"]).any()


def test_bad_stop_rules_are_refused_by_name():
    mdp = combination_lock(2)
    with pytest.raises(InvalidParameterError, match="stop_when"):
        QLearning().run(mdp, 10, stop_when=lambda arrays, start: True)

    class WrongShape:
        def reached(self, arrays, start):
            return np.ones(5, dtype=bool)

    with pytest.raises(InvalidParameterError, match=r"stop_when.*shape \(2,\)"):
        QLearning().run(mdp, 10, replicates=2, stop_when=WrongShape())
    with pytest.raises(InvalidParameterError, match="v_worst"):
        EpsilonOptimal(0.0, 1.0, 0.1)
    with pytest.raises(InvalidParameterError, match="epsilon"):
        EpsilonOptimal(1.0, 0.0, -0.5)


def test_the_rule_enters_the_cache_key_and_sweeps_merge_where_chunks_stopped(tmp_path):
    mdp = combination_lock(3, sticky=0.25)
    a = analyze(mdp)
    algo = QLearning(epsilon=0.1)
    keys = {cache_key(algo, mdp, 4000, seed=0, stop_when=EpsilonOptimal(a.v_star, a.v_worst, e)) for e in (0.01, 0.02)}
    keys.add(cache_key(algo, mdp, 4000, seed=0))
    assert len(keys) == 3
    rule = EpsilonOptimal(a.v_star, a.v_worst, EPS)
    runs = [sweep([("q", algo, mdp)], 4000, replicates=6, seed=1, chunk_replicates=2, cache_dir=tmp_path,
                  progress=False, stop_when=rule)["q"] for _ in range(2)]          # computed, then from the cache
    full = algo.run(mdp, 4000, replicates=6, seed=1)
    for tr in runs:
        np.testing.assert_array_equal(_complexity(tr, a), _complexity(full, a))
        rows_played = (~np.isnan(tr["values"])).sum(axis=1)
        assert tr.meta["episodes_played"] == rows_played.max() < 4000
    assert runs[1].meta["experiment"]["replicates_from_cache"] == 6


def test_a_stopped_trace_is_stored_cut_to_the_episodes_played(tmp_path):
    mdp = combination_lock(3, sticky=0.25)
    a = analyze(mdp)
    rule = EpsilonOptimal(a.v_star, a.v_worst, EPS)
    tr = QLearning(epsilon=0.1).run(mdp, 100_000, replicates=4, seed=0, stop_when=rule)
    played = tr.meta["episodes_played"]
    assert played < 5_000
    path = tr.save(tmp_path / "stopped.npz")
    full_bytes = sum(v.nbytes for v in tr.arrays.values())
    assert path.stat().st_size < full_bytes * (2 * played / 100_000) + 10_000   # the NaN tail is not written
    back = type(tr).load(path)
    assert back.meta == tr.meta and set(back.arrays) == set(tr.arrays)
    for k in tr.arrays:
        np.testing.assert_array_equal(back[k], tr[k])                              # NaN tail restored
    whole = QLearning(epsilon=0.1).run(mdp, 300, replicates=2, seed=0)              # not stopped: stored whole
    np.testing.assert_array_equal(type(whole).load(whole.save(tmp_path / "whole.npz"))["values"], whole["values"])
