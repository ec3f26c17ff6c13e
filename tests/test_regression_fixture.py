"""Regression against the code's OWN EARLIER OUTPUT (not against a paper or a hand computation).

``tests/data/regression_fixture.npz`` holds every trace array of the episodic learners on small
models with fixed seeds, recorded from the code *before* the learner skeleton refactor (issue 9).
This test asserts the current code reproduces them bit for bit, so a refactor that changes any
number fails here. It proves "unchanged", not "correct": correctness is the job of the theorem,
hand-pinned and twin tests.

Cases expected to change, with the reason (listed in :data:`CHANGED`): the *compiled* traces of the
learners that sampled sparse (successor-list) models through the dense sampler (issue 10: a draw was
read as the next state although it is a column of the successor list; ``tests/test_sparse_learners.py``).
Their NumPy twins always sampled correctly. The recorded arrays are kept; the test asserts that the
compiled traces now *differ* from their recording and equal the recorded NumPy-twin traces (1e-10).

Record again (only when a change is intended and explained in the commit)::

    .venv/bin/python tests/test_regression_fixture.py --record
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

FIXTURE = Path(__file__).resolve().parent / "data" / "regression_fixture.npz"

#: case name -> (learner factory, model name, episodes, replicates, seed, run keywords)
CASES: dict[str, tuple] = {}


def _models():
    from rltheory.mdps import garnet, riverswim
    from rltheory.models import FiniteHorizonMDP

    river = riverswim(5, 8)
    gar = garnet(S=4, A=2, branching=3, horizon=4, seed=3, stationary=False)
    nxt, pr = gar.successors
    gar_sparse = FiniteHorizonMDP.from_successors(nxt, pr, gar.R, gar.mu, gar.H, name="garnet-sparse")
    # a deterministic combination lock stored as successor lists (K = 1), the issue-10 case
    depth, A, H = 2, 2, 5
    T = np.full((depth + 1, A), depth, np.int64)
    T[0, 1], T[1, 0] = 1, depth
    R = np.zeros((depth + 1, A))
    R[1, 0] = 1.0
    lock = FiniteHorizonMDP.from_successors(T[:, :, None], np.ones((depth + 1, A, 1)), R, np.eye(depth + 1)[0], H,
                                            name="lock-sparse")
    noisy = riverswim(4, 6, reward_noise="bernoulli")
    return {"river": river, "garnet": gar, "garnet_sparse": gar_sparse, "lock_sparse": lock, "river_noisy": noisy}


def _cases():
    from rltheory.algorithms import GORP, SQIRL, UCBVI, BaselineOnly, ConservativeUCBVI, EpsMix, QLearning, StepMix

    c = {}
    for bonus in ("hoeffding", "bernstein"):
        b = bonus[0]
        c[f"ucbvi_{b}_river"] = (lambda bonus=bonus: UCBVI(bonus=bonus, bonus_scale=0.1), "river", 40, 2, 1, {})
        c[f"ucbvi_{b}_garnet"] = (lambda bonus=bonus: UCBVI(bonus=bonus, bonus_scale=0.05), "garnet", 30, 2, 2, {})
        c[f"ucbvi_{b}_garnet_sparse"] = (lambda bonus=bonus: UCBVI(bonus=bonus, bonus_scale=0.05), "garnet_sparse",
                                         30, 2, 2, {})
        c[f"ucbvi_{b}_lock_sparse"] = (lambda bonus=bonus: UCBVI(bonus=bonus, bonus_scale=0.01), "lock_sparse", 30, 2,
                                       0, {})
    c["ucbvi_h_pooled_river"] = (lambda: UCBVI(bonus="hoeffding", stage_dependent=False, bonus_scale=0.1), "river", 30,
                                 2, 4, {"chunk_episodes": 7})
    c["ucbvi_b_noisy"] = (lambda: UCBVI(bonus="bernstein", bonus_scale=0.1), "river_noisy", 30, 2, 5, {})
    for name, cls in (("stepmix", StepMix), ("epsmix", EpsMix), ("cucbvi", ConservativeUCBVI)):
        c[f"{name}_garnet"] = (lambda cls=cls: cls(alpha=0.2, **{"optimism_scale": 0.05}), "garnet", 25, 2, 6, {})
        c[f"{name}_h_river"] = (lambda cls=cls: cls(alpha=0.3, bonus="hoeffding", **{"optimism_scale": 0.02}),
                                "river", 20, 2, 7, {"chunk_episodes": 6})
        c[f"{name}_garnet_sparse"] = (lambda cls=cls: cls(alpha=0.2, **{"optimism_scale": 0.05}), "garnet_sparse",
                                      25, 2, 6, {})
    c["stepmix_nofloor_noisy"] = (lambda: StepMix(alpha=0.3, floor=False, grid=9, refine=4,
                                                  **{"optimism_scale": 0.05}), "river_noisy", 20, 2, 8, {})
    c["baseline_garnet"] = (lambda: BaselineOnly(alpha=0.2), "garnet", 25, 2, 9, {})
    c["baseline_garnet_sparse"] = (lambda: BaselineOnly(alpha=0.2), "garnet_sparse", 25, 2, 9, {})
    c["qlearning_river"] = (lambda: QLearning(), "river", 40, 2, 10, {})
    c["qlearning_const_garnet"] = (lambda: QLearning(epsilon=0.3, step_size=0.5, initial_value=1.0), "garnet", 40, 2,
                                   11, {"chunk_episodes": 9})
    c["qlearning_lock_sparse"] = (lambda: QLearning(epsilon=0.2), "lock_sparse", 40, 2, 12, {})
    c["sqirl_k1_garnet"] = (lambda: SQIRL(k=1, episodes_per_timestep=3), "garnet", 60, 2, 13, {})
    c["sqirl_k2_fixed_lock"] = (lambda: SQIRL(k=2, episodes_per_timestep=2, schedule="fixed"), "lock_sparse", 47, 2,
                                14, {})
    c["gorp_k1_lock"] = (lambda: GORP(k=1), "lock_sparse", 50, 2, 15, {})
    c["gorp_k2_garnet"] = (lambda: GORP(k=2, episodes_per_sequence=2, schedule="fixed"), "garnet", 45, 2, 16, {})
    return c


#: Cases whose recorded traces are known to change, and why (see the module docstring).
_SPARSE = "sparse model sampled through the dense sampler: draws were successor-list columns, read as states"
CHANGED: dict[str, str] = {name: _SPARSE for name in (
    "ucbvi_h_garnet_sparse", "ucbvi_b_garnet_sparse", "ucbvi_h_lock_sparse", "ucbvi_b_lock_sparse",
    "stepmix_garnet_sparse", "epsmix_garnet_sparse", "cucbvi_garnet_sparse", "baseline_garnet_sparse")}


#: NumPy-twin cases that change in the last bits only, and why: the exact evaluation of the played policy
#: on a sparse model now sums over its successor lists (``policy_values_reference``) instead of a dense
#: copy of ``P`` (``evaluate_policies_reference``, deleted), so sums run in another order.
ROUNDING = {name: "evaluation over successor lists" for name in (
    "ucbvi_h_garnet_sparse", "ucbvi_b_garnet_sparse", "stepmix_garnet_sparse", "epsmix_garnet_sparse",
    "cucbvi_garnet_sparse")}


def _run(name, backend):
    make, model, episodes, replicates, seed, kw = _cases()[name]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        learner = make()
    return learner.run(_models()[model], episodes, replicates=replicates, seed=seed, backend=backend, **kw)


def record() -> None:
    arrays = {}
    for name in _cases():
        for backend in ("numba", "numpy"):
            trace = _run(name, backend)
            for k in trace.keys():
                arrays[f"{name}/{backend}/{k}"] = trace[k]
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(FIXTURE, **arrays)
    print(f"recorded {len(arrays)} arrays into {FIXTURE} ({FIXTURE.stat().st_size} bytes)")


def _recorded():
    with np.load(FIXTURE) as data:
        out = {}
        for key in data.files:
            name, backend, arr = key.split("/")
            out.setdefault((name, backend), {})[arr] = data[key]
    return out


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("name", sorted(_cases()) if FIXTURE.exists() else [])
def test_traces_equal_their_own_earlier_output(name, backend):
    recorded = _recorded()[(name, backend)]
    trace = _run(name, backend)
    missing = set(recorded) - set(trace.keys())
    assert not missing, f"{name}: arrays {sorted(missing)} disappeared from the trace"
    if name in ROUNDING and backend == "numpy":
        for k, v in recorded.items():
            np.testing.assert_allclose(trace[k], v, rtol=0, atol=1e-12, err_msg=f"{name}/{backend}/{k}")
        return
    if name in CHANGED and backend == "numba":
        assert any(not np.array_equal(trace[k], v) for k, v in recorded.items()), (
            f"{name} was expected to change ({CHANGED[name]}) but did not")
        # the NumPy twin always sampled successor lists correctly: the compiled path now agrees with it
        for k, v in _recorded()[(name, "numpy")].items():
            np.testing.assert_allclose(trace[k], v, rtol=0, atol=1e-10, err_msg=f"{name}/numba vs numpy/{k}")
        return
    for k, v in recorded.items():
        np.testing.assert_array_equal(trace[k], v, err_msg=f"{name}/{backend}/{k}")


if __name__ == "__main__":
    if "--record" in sys.argv:
        record()
    else:
        print(__doc__)
