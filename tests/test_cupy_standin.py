"""The ``backend="cupy"`` paths on a strict CPU stand-in for CuPy (``tests/strict_cupy.py``).

No GPU has been lent to this project's sessions, so these paths have never run on a device. The stand-in cannot
time anything, but it enforces what CuPy enforces and what a CPU-only NumPy run would never notice: device arrays
are not NumPy arrays (no implicit conversion, no mixing with host arrays, reductions stay on the device), and
results come back only through ``.get()``. Under it, every learner that offers ``"cupy"`` runs its whole CuPy
path and must give the NumPy twin's trace exactly (the stand-in computes with NumPy, so any difference is a bug
in the path, not rounding), and the GPU benchmark runs its device branch end to end. The real device check is
``bash benchmarks/device_check.sh`` (``gpu``-marked tests and the benchmark) on a CUDA machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import rltheory.algorithms  # noqa: F401  (registers the algorithms)
from rltheory.algorithm import ALGORITHMS
from rltheory.testing.conformance import check_backend_agreement, conformance_cases

sys.path.insert(0, str(Path(__file__).resolve().parent))
import strict_cupy  # noqa: E402

sys.path.pop(0)


@pytest.fixture
def cupy(monkeypatch):
    return strict_cupy.install(monkeypatch)


# ---------------------------------------------------------------------------- the stand-in can fail


def test_the_stand_in_refuses_what_cupy_refuses(cupy):
    x = cupy.asarray(np.arange(6.0))
    host = np.ones(6)
    with pytest.raises(TypeError, match="Unsupported type"):
        x + host
    with pytest.raises(TypeError, match="Unsupported type"):
        cupy.where(x > 2, x, host)
    with pytest.raises(TypeError, match="Unsupported type"):
        np.einsum("i,i->", x, host)
    with pytest.raises(TypeError, match="Unsupported type"):
        x[:] = host
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(x)
    with pytest.raises(TypeError, match="Implicit conversion"):
        host[:] = x
    with pytest.raises(TypeError):
        range(x.sum().astype(np.int64))
    # what CuPy allows: scalars, explicit copies both ways, 0-d results read with float()
    assert float((x * np.float64(2.0) + 1).sum()) == 36.0
    assert isinstance(x.sum(), cupy.ndarray)
    np.testing.assert_array_equal(x.get(), np.arange(6.0))
    assert type(x.get()) is np.ndarray
    from rltheory.backend import cupy_available, get_namespace, to_numpy

    assert cupy_available() and get_namespace(x) is cupy
    assert type(to_numpy(x)) is np.ndarray


def test_a_compiled_kernel_refuses_a_device_array(cupy):
    from rltheory.kernels import planning as kp
    from rltheory.mdps import riverswim

    model = kp.exact_model(riverswim())
    policy = cupy.asarray(np.zeros((model.R.shape[0], model.R.shape[1]), np.int64))
    with pytest.raises(Exception):  # noqa: B017 - Numba's typing error: it cannot see the host buffer
        kp.policy_values(model.P, model.P_next, model.R, model.mu, policy)


# ---------------------------------------------------------------------------- every CuPy path, end to end


def _cupy_cases():
    out = []
    for name, cls in sorted(ALGORITHMS.items()):
        if "cupy" not in getattr(cls, "backends", ()) or cls.__module__.startswith("tests"):
            continue
        for i, (params, model) in enumerate(conformance_cases(cls)):
            label = getattr(model, "name", type(model).__name__)
            out.append(pytest.param(cls, params, model, id=f"{name}-{i}-{label}"))
    return out


def test_there_are_cupy_paths_to_check():
    names = {p.values[0].__name__ for p in _cupy_cases()}
    assert {"UCBVI", "NashMirrorProx"} <= names


@pytest.mark.parametrize("cls, params, model", _cupy_cases())
def test_cupy_path_gives_the_numpy_twins_trace_exactly(cupy, cls, params, model):
    algo = cls(**params)
    on_device = algo.run(model, 12, replicates=3, seed=5, backend="cupy")
    on_host = algo.run(model, 12, replicates=3, seed=5, backend="numpy")
    assert set(on_device.keys()) == set(on_host.keys())
    for k in on_host.keys():
        assert type(on_device[k]) is np.ndarray, k  # traces come back to the host
        np.testing.assert_array_equal(on_device[k], on_host[k], err_msg=k)


@pytest.mark.parametrize("cls, params, model", _cupy_cases()[:3])
def test_conformance_checks_the_cupy_backend_where_a_device_is_found(cupy, cls, params, model):
    check_backend_agreement(cls(**params), model)  # cupy_available() is True under the stand-in


def test_gpu_benchmark_runs_its_device_branch(cupy):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    try:
        import gpu_batch
    finally:
        sys.path.pop(0)
    out = gpu_batch.run(quick=True)
    assert out["device"] == "cupy"
    assert all(r["device_per_s"] > 0 for r in out["rows"])
    for name, a in out["agreement"].items():
        assert a["replicates_within_tol"] == 1.0, name
    assert all(t["passed"] is None for t in out["targets"].values())  # quick mode: never judged


@pytest.mark.parametrize("cls, params, model", [c for c in _cupy_cases() if c.values[0].__name__ == "UCBVI"][:2]
                         + [c for c in _cupy_cases() if c.values[0].__name__ == "NashMirrorProx"][:1])
def test_host_to_device_copies_do_not_grow_with_the_episodes(cupy, cls, params, model):
    """Tables go to the device once per run (and the uniforms once per chunk), not once per episode or step:
    on a GPU each copy is a transfer across the bus."""
    algo = cls(**params)
    copies = []
    for episodes in (8, 64):
        cupy.host_to_device = 0
        kw = {"replicates": 2, "seed": 0, "chunk_episodes": episodes} if cls.__name__ == "UCBVI" else {}
        algo.run(model, episodes, backend="cupy", **kw)
        copies.append(cupy.host_to_device)
    assert copies[1] == copies[0], copies
