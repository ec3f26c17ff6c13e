"""The GPU replicate batch (issue 15): CuPy against the NumPy twin, and the benchmark script's own logic.

The ``gpu``-marked tests need CuPy and a CUDA device (skipped otherwise; ``benchmarks/device_check.sh`` runs
them on such a machine). Documented tolerance (float64; no float32 path is offered): every trace array of
every replicate within :data:`gpu_batch.TOLERANCE` of the NumPy twin's on the same seed. The other tests run
anywhere: the agreement measure catches a planted difference, and the benchmark runs end to end with the
NumPy twin standing in for CuPy.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from rltheory.algorithms import UCBVI, NashMirrorProx
from rltheory.mdps import game_batch, garnet, random_game, riverswim

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import gpu_batch  # noqa: E402

sys.path.pop(0)

MODELS = {"riverswim": lambda: riverswim(), "garnet": lambda: garnet(20, 4, 3, horizon=10, seed=0)}


@pytest.mark.gpu
@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("bonus", ["hoeffding", "bernstein"])
def test_ucbvi_on_cupy_matches_the_numpy_twin(model, bonus):
    mdp = MODELS[model]()
    algo = UCBVI(bonus=bonus, bonus_scale=0.1)
    gpu = algo.run(mdp, 60, replicates=32, seed=3, backend="cupy")
    cpu = algo.run(mdp, 60, replicates=32, seed=3, backend="numpy")
    for k in gpu_batch.TRACE_KEYS:
        assert isinstance(gpu[k], np.ndarray), k  # traces come back to the host
    agree = gpu_batch.agreement(gpu, cpu)
    assert agree["replicates_within_tol"] == 1.0, agree


@pytest.mark.gpu
def test_exact_nash_mp_on_cupy_matches_the_numpy_twin():
    batch = game_batch(random_game, 64, n=12, seed=0, reference="random")
    algo = NashMirrorProx(beta=0.1)
    agree = gpu_batch.agreement(algo.run(batch, 30, backend="cupy"), algo.run(batch, 30, backend="numpy"),
                                keys=("kl",))
    assert agree["replicates_within_tol"] == 1.0, agree


def test_agreement_counts_the_replicates_that_differ():
    a = {"x": np.zeros((4, 5)), "y": np.ones((4, 5))}
    b = {"x": np.zeros((4, 5)), "y": np.ones((4, 5))}
    b["y"][2, 3] += 1e-6
    b["x"][0, 0] += 1e-12  # within tolerance
    agree = gpu_batch.agreement(a, b, keys=("x", "y"))
    assert agree["replicates_within_tol"] == 0.75
    assert agree["max_abs_diff"]["y"] == pytest.approx(1e-6)
    assert agree["max_abs_diff"]["x"] == pytest.approx(1e-12)


def test_benchmark_runs_with_a_stand_in_and_never_judges_it(capsys):
    out = gpu_batch.run(quick=True, stand_in="numpy")
    assert out["device"] in ("numpy", "cupy")
    learners = {r["learner"] for r in out["rows"]}
    assert learners == {"UCBVI-H", "UCBVI-B", "Nash-MP (exact)"}
    for r in out["rows"]:
        assert r["numba_2core_per_s"] > 0 and r["device_per_s"] > 0
        assert r["ratio"] == pytest.approx(r["device_per_s"] / r["numba_2core_per_s"])
    # the stand-in is the NumPy twin itself: it must agree exactly
    for name, a in out["agreement"].items():
        assert a["replicates_within_tol"] == 1.0, name
    assert all(t["passed"] is None for t in out["targets"].values())  # quick mode: not judged
    assert "stand-in" in capsys.readouterr().out or out["device"] == "cupy"


def test_benchmark_without_a_device_says_so(monkeypatch, capsys):
    monkeypatch.setattr(gpu_batch, "_device_backend", lambda stand_in: None)
    out = gpu_batch.run(quick=True)
    assert all(r["device_per_s"] is None and r["ratio"] is None for r in out["rows"])
    assert out["agreement"] == {}
    text = capsys.readouterr().out
    assert "n/a (no CUDA device)" in text and "not measured" in text


class _DriftingCupyUCBVI(UCBVI):
    """Stands in for a CuPy path that drifts from the NumPy twin (runs the twin, then perturbs one value)."""

    def __init__(self, drift: float = 0.0, *, bonus: str = "hoeffding", bonus_scale: float = 0.2):
        super().__init__(bonus=bonus, bonus_scale=bonus_scale)
        self.drift = drift

    def run(self, model, episodes, *, backend=None, **kw):
        if backend != "cupy":
            return super().run(model, episodes, backend=backend, **kw)
        trace = super().run(model, episodes, backend="numpy", **kw)
        trace["values"][0, -1] += self.drift
        return trace


@pytest.mark.parametrize("drift, fails", [(1e-6, True), (1e-12, False)])
def test_conformance_compares_cupy_with_the_twin_where_a_device_is_present(monkeypatch, drift, fails):
    from rltheory.testing import conformance

    monkeypatch.setattr(conformance, "cupy_available", lambda: True)
    algo = _DriftingCupyUCBVI(drift)
    model = riverswim()
    if fails:
        with pytest.raises(conformance.ConformanceError, match="between cupy and numpy"):
            conformance.check_backend_agreement(algo, model)
    else:
        conformance.check_backend_agreement(algo, model)
    monkeypatch.setattr(conformance, "cupy_available", lambda: False)  # no device: cupy is not asked for
    conformance.check_backend_agreement(_DriftingCupyUCBVI(1.0), model)
