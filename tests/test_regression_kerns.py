"""Regression of the KeRNS family against the code's OWN EARLIER OUTPUT (not against a paper or a hand computation).

``tests/data/regression_kerns.npz`` holds every trace array of KeRNS, RS-KeRNS, D-UCBVI, SW-UCBVI,
Restart-UCBVI and UCBVI-without-forgetting on small non-stationary models with fixed seeds, both backends,
recorded from the code *before* the family moved onto the learner skeleton (:mod:`rltheory.runner`, issue 9).
This test asserts the current code reproduces them bit for bit, so a refactor that changes any number
fails here. It proves "unchanged", not "correct": correctness is the job of the claim, hand-pinned and twin
tests of ``tests/test_kerns.py``.

Record again (only when a change is intended and explained in the commit)::

    .venv/bin/python tests/test_regression_kerns.py --record
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

FIXTURE = Path(__file__).resolve().parent / "data" / "regression_kerns.npz"


def _models():
    from rltheory.mdps import garnet
    from rltheory.mdps.nonstationary import drift_grid, piecewise_grid
    from rltheory.nonstationary import NonStationaryMDP

    a = garnet(S=4, A=2, branching=2, horizon=4, seed=5, stationary=False, reward_noise="bernoulli")
    b = garnet(S=4, A=2, branching=2, horizon=4, seed=6, stationary=False, reward_noise="bernoulli")
    pair = NonStationaryMDP([a, b], (np.arange(240) // 50) % 2, coords=np.arange(4.0), name="garnet-pair")
    return {"piecewise": piecewise_grid(episodes=240, period=60, size=5, horizon=6),
            "drift": drift_grid(episodes=240, period=120, size=5, horizon=5, models_per_turn=24),
            "pair": pair}


def _cases():
    """case name -> (learner factory, model name, episodes, replicates, seed, run keywords)."""
    from rltheory.algorithms import DUCBVI, SWUCBVI, KeRNS, RestartUCBVI, RSKeRNS, UCBVINoForgetting

    return {
        "kerns_piecewise": (lambda: KeRNS(eta=0.97, bandwidth=0.35), "piecewise", 240, 3, 1, {}),
        "kerns_window_drift": (lambda: KeRNS(window=40, bandwidth=1.0, kernel="triangular"), "drift", 240, 2, 2,
                               {"chunk_episodes": 37}),
        "kerns_perstep_pair": (lambda: KeRNS(eta=0.95, bandwidth=1.0, shared_across_steps=False, clip="horizon"),
                               "pair", 240, 3, 3, {}),
        "rskerns_piecewise": (lambda: RSKeRNS(eta=0.97, bandwidth=0.35, min_dist=0.7), "piecewise", 240, 2, 4, {}),
        "rskerns_step0_drift": (lambda: RSKeRNS(eta=0.95, bandwidth=0.5, min_dist=1.5, max_repr=8,
                                                forgetting="step0_taken_action"), "drift", 200, 3, 5,
                                {"chunk_episodes": 50}),
        "ducbvi_pair": (lambda: DUCBVI(eta=0.9), "pair", 240, 3, 6, {}),
        "ducbvi_piecewise": (lambda: DUCBVI(eta=0.98), "piecewise", 240, 2, 7, {}),
        "swucbvi_piecewise": (lambda: SWUCBVI(window=50), "piecewise", 240, 2, 8, {"chunk_episodes": 23}),
        "swucbvi_pair": (lambda: SWUCBVI(window=7), "pair", 240, 3, 9, {}),
        "restart_full_piecewise": (lambda: RestartUCBVI(period=45), "piecewise", 240, 3, 10, {}),
        "restart_rewards_pair": (lambda: RestartUCBVI(period=20, reset="rewards"), "pair", 240, 3, 11,
                                 {"chunk_episodes": 64}),
        "noforget_piecewise": (lambda: UCBVINoForgetting(), "piecewise", 240, 2, 12, {}),
        "noforget_pair": (lambda: UCBVINoForgetting(clip="horizon", beta=0.1, c2=0.1, bonus_scale=0.5), "pair", 240,
                          3, 13, {}),
    }


def _run(name, backend, models=None):
    make, model, episodes, replicates, seed, kw = _cases()[name]
    models = _models() if models is None else models
    return make().run(models[model], episodes, replicates=replicates, seed=seed, backend=backend, **kw)


def record() -> None:
    arrays = {}
    models = _models()
    for name in _cases():
        for backend in ("numba", "numpy"):
            trace = _run(name, backend, models)
            for k in trace.keys():
                arrays[f"{name}/{backend}/{k}"] = trace[k]
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(FIXTURE, **arrays)
    print(f"recorded {len(arrays)} arrays into {FIXTURE} ({FIXTURE.stat().st_size} bytes)")


def _recorded(name, backend):
    with np.load(FIXTURE) as data:
        prefix = f"{name}/{backend}/"
        return {key[len(prefix):]: data[key] for key in data.files if key.startswith(prefix)}


@pytest.fixture(scope="module")
def models():
    return _models()


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("name", sorted(_cases()) if FIXTURE.exists() else [])
def test_kerns_traces_equal_their_own_earlier_output(name, backend, models):
    recorded = _recorded(name, backend)
    assert recorded, f"{name}/{backend} is not in the fixture"
    trace = _run(name, backend, models)
    assert set(trace.keys()) == set(recorded), f"{name}: arrays {sorted(trace.keys())} vs {sorted(recorded)}"
    for k, v in recorded.items():
        np.testing.assert_array_equal(trace[k], v, err_msg=f"{name}/{backend}/{k}")


if __name__ == "__main__":
    if "--record" in sys.argv:
        record()
    else:
        print(__doc__)
