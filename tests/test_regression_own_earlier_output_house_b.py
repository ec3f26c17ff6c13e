"""Regression: the Nash-MP family and the effective-horizon analysis reproduce THEIR OWN EARLIER OUTPUT.

These tests do not check a theorem. They compare today's numbers, bit for bit, with arrays the same
code wrote before the issue-9 refactor (split of ``algorithms/nash_mp.py`` into one module per
algorithm, one prox step, and of ``bounds/effective_horizon.py`` into bounds + analysis engine), so
that the refactor is shown to change no number. The recorded arrays are in
``tests/data/regression_nash_mp.npz`` and ``tests/data/regression_effective_horizon.npz``;
``python tests/test_regression_own_earlier_output_house_b.py`` rewrites them (only do that when a
change of numbers is intended, and say so in the commit).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parent / "data"
NASH_FILE = DATA / "regression_nash_mp.npz"
EH_FILE = DATA / "regression_effective_horizon.npz"

#: Trace arrays recorded for every preference-game learner.
_GAME_ARRAYS = ("kl", "exploitability", "duality_gap", "span", "queries", "policy", "equilibrium")


def _games():
    from rltheory.mdps.games import cyclic_game, game_batch, random_game

    return {
        "random6": random_game(6, seed=1, reference_scale=0.5),
        "cyclic5": cyclic_game(5, seed=3, low=0.6, high=0.9),
        "batch3": game_batch(random_game, 3, seed=2, n=4),
    }


def _learners():
    from rltheory.algorithms import (
        ApproximateNashMirrorProx,
        ExtragradientPO,
        MagneticMirrorDescent,
        NashMD,
        NashMirrorProx,
        OnlineMirrorDescent,
    )

    return {
        "NashMirrorProx": (NashMirrorProx(beta=0.1), {}),
        "NashMirrorProx_eta1": (NashMirrorProx(beta=0.3, eta=1.0), {"init": "uniform"}),
        "MagneticMirrorDescent": (MagneticMirrorDescent(beta=0.2), {}),
        "OnlineMirrorDescent": (OnlineMirrorDescent(beta=0.2, eta=1.5), {}),
        "NashMD": (NashMD(beta=0.2), {}),
        "NashMD_const": (NashMD(beta=0.2, eta=2.0), {}),
        "ExtragradientPO": (ExtragradientPO(beta=0.2), {}),
        "ApproximateNashMirrorProx": (ApproximateNashMirrorProx(beta=0.2, inner_steps=3, samples=6),
                                      {"seed": 7, "chunk_iterations": 4}),
    }


def compute_nash() -> dict[str, np.ndarray]:
    """Every learner on every game, both backends: ``{"<learner>/<game>/<backend>/<array>": array}``."""
    out = {}
    for gname, game in _games().items():
        R = None if game.batched else 2
        for lname, (algo, kwargs) in _learners().items():
            for backend in ("numba", "numpy"):
                trace = algo.run(game, 12, replicates=R, backend=backend, **kwargs)
                for k in _GAME_ARRAYS + (("inexactness",) if "Approximate" in lname else ()):
                    out[f"{lname}/{gname}/{backend}/{k}"] = np.asarray(trace.arrays[k])
    return out


def _mdps():
    from rltheory.mdps import garnet, riverswim

    return {"garnet": garnet(S=8, A=3, branching=2, horizon=6, seed=0),
            "garnet_sparse_reward": garnet(S=10, A=2, branching=3, horizon=7, seed=4),
            "riverswim": riverswim(5, horizon=8)}


_EH_FIELDS = ("n_reachable", "min_k", "epw", "effective_horizon", "v_star", "v_random", "v_worst",
              "greedy_returns", "ks", "horizons_k", "log_ms", "gaps", "variances", "min_gaps", "precision")


def _analyze():
    # recorded with ``rltheory.bounds.effective_horizon.analyze``, before the engine moved
    from rltheory.algorithms.effective_horizon_analysis import analyze

    return analyze


def compute_effective_horizon() -> dict[str, np.ndarray]:
    """``analyze`` on small models, both backends: ``{"<model>/<backend>/<field>": array}``."""
    analyze = _analyze()
    out = {}
    for name, mdp in _mdps().items():
        for backend in ("numba", "numpy"):
            a = analyze(mdp, backend=backend)
            for f in _EH_FIELDS:
                out[f"{name}/{backend}/{f}"] = np.asarray(getattr(a, f))
    return out


def _compare(recorded_file: Path, now: dict[str, np.ndarray]) -> None:
    with np.load(recorded_file) as rec:
        assert sorted(rec.files) == sorted(now), "the set of recorded arrays changed"
        for k in rec.files:
            a, b = rec[k], now[k]
            assert a.dtype == b.dtype and a.shape == b.shape, k
            # bit-identity (NaN == NaN): compare the bytes
            assert a.tobytes() == np.ascontiguousarray(b).tobytes(), f"{k} differs from the recorded output"


def test_nash_mp_family_is_bit_identical_to_its_own_earlier_output():
    _compare(NASH_FILE, compute_nash())


def test_effective_horizon_analysis_is_bit_identical_to_its_own_earlier_output():
    _compare(EH_FILE, compute_effective_horizon())


@pytest.mark.parametrize("path", [NASH_FILE, EH_FILE])
def test_recorded_fixtures_are_small(path):
    assert path.stat().st_size < 200_000


if __name__ == "__main__":  # pragma: no cover - rewrites the fixtures
    DATA.mkdir(exist_ok=True)
    if "--nash" in sys.argv or len(sys.argv) == 1:
        np.savez_compressed(NASH_FILE, **compute_nash())
    if "--eh" in sys.argv or len(sys.argv) == 1:
        np.savez_compressed(EH_FILE, **compute_effective_horizon())
