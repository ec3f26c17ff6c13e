"""Benchmark: SubPO milliseconds per epoch, compiled kernel beside its NumPy twin.

Models: the official code's coverage grid (30x30, H = 80, B = 500) and two-rooms (7x14, H = 40, B = 3000),
tabular Markov and history policies, gain-to-go estimator, Adam. What is timed: ``SubPO(...).run(model, E,
replicates=1, seed=0)`` end to end divided by ``E`` (uniform draws, rollout with incremental marginal gains,
gain to go, leave-one-out baseline, gradient scatter and the Adam step), best of ``repeats``, after a warm-up
that compiles the kernels. Ratio = NumPy ms / compiled ms.

Targets (issue 11): the spec addendum's 3-6 ms per epoch for the compiled tabular Markov learner, and at least
10x the NumPy twin. Self-contained: ``run(quick) -> dict`` prints its table and returns the numbers;
``python benchmarks/subpo.py [--quick]`` runs it. Quick mode uses tiny batches (timings not meaningful).
"""

from __future__ import annotations

import sys
import time

from bench_common import print_targets

NAME = "subpo"
TARGET_MS = 6.0
TARGET_RATIO = 10.0


def _time(algo, model, epochs, backend, repeats):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        algo.run(model, epochs, replicates=1, seed=0, backend=backend)
        best = min(best, time.perf_counter() - t0)
    return 1e3 * best / epochs


def run(quick: bool = False, **_ignored) -> dict:
    """Time compiled and NumPy epochs on both grids; print the table; return ``{"rows": [...], "targets": ...}``."""
    from rltheory.algorithms import SubPO
    from rltheory.mdps import coverage_grid, two_rooms

    cases = {"coverage 30x30 H=80": (coverage_grid(), 500), "two-rooms 7x14 H=40": (two_rooms(), 3000)}
    epochs, np_epochs, repeats = (2, 1, 1) if quick else (20, 3, 3)
    rows = []
    for name, (model, batch) in cases.items():
        batch = 16 if quick else batch
        for policy in ("markov", "history"):
            algo = SubPO(policy=policy, batch=batch, lr=0.1)
            algo.run(model, 1, replicates=1, seed=0)  # warm-up: compilation is never timed
            fast = _time(algo, model, epochs, "numba", repeats)
            slow = _time(algo, model, np_epochs, "numpy", 1 if quick else 2)
            rows.append({"model": name, "policy": policy, "batch": batch, "numba_ms": fast, "numpy_ms": slow,
                         "ratio": slow / fast})
    targets = {}
    for r in rows:
        key = f"{r['model']} {r['policy']}"
        if r["policy"] == "markov":
            targets[f"{key}: <= {TARGET_MS:g} ms/epoch"] = {
                "measured": r["numba_ms"], "limit": TARGET_MS, "passed": None if quick else r["numba_ms"] <= TARGET_MS}
        targets[f"{key}: >= {TARGET_RATIO:g}x NumPy"] = {
            "measured": r["ratio"], "limit": TARGET_RATIO, "passed": None if quick else r["ratio"] >= TARGET_RATIO}
    _print(rows, targets, quick)
    return {"name": NAME, "quick": quick, "rows": rows, "targets": targets}


def _print(rows, targets, quick) -> None:
    print(f"== {NAME}: ms per epoch (1 replicate), compiled kernel vs NumPy twin ==")
    print(f"{'model':<22} {'policy':<8} {'batch':>6} {'numba ms':>9} {'numpy ms':>9} {'ratio':>7}")
    for r in rows:
        print(f"{r['model']:<22} {r['policy']:<8} {r['batch']:>6d} {r['numba_ms']:>9.2f} {r['numpy_ms']:>9.1f} "
              f"{r['ratio']:>6.1f}x")
    print_targets(targets, quick=quick)


if __name__ == "__main__":
    run(quick="--quick" in sys.argv[1:])
