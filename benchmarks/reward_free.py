"""Benchmark: HF-UCRL-RFE++ milliseconds per exploration episode, compiled kernels vs their NumPy twins.

Model: the mixture of ``d`` Dirichlet(0.3) kernels (``rltheory.mdps.mixture_of_kernels``) with S=8, A=3,
H=20, for d=4 and d=16; HF-UCRL-RFE++ with the working radius (``beta_scale = 1e-3``) and our oracle
(2 theta x 18 reward candidates per episode). What is timed: the public call
``HFUCRLRFE(...).run(model, K, checkpoints=[K])`` end to end (oracle + rollout + HOME on both chains +
the episode-end solves), after a warm-up that compiles the kernels; milliseconds per episode =
``(t(K) - t(1)) / (K - 1)`` (removing set-up and the final evaluation), each time the best of ``repeats``.

Targets (issue 12, from the prototype addendum on a quiet core): compiled at most 2.5 ms per episode at
d=4 -- judged on the process's CPU time (``time.process_time``), which on a shared machine estimates the
wall time on a quiet core; wall time is printed beside it -- and the compiled path at most 0.25x the NumPy
twin's cost (4x faster).

Self-contained: ``run(quick) -> dict`` prints its table and returns the numbers; ``python
benchmarks/reward_free.py [--quick]`` runs it.
"""

from __future__ import annotations

import sys
import time

from bench_common import print_targets

NAME = "reward_free"
TARGET_MS_D4 = 2.5
TARGET_RATIO = 0.25


def _seconds(algo, model, episodes, backend, repeats, clock):
    best = float("inf")
    for _ in range(repeats):
        t0 = clock()
        algo.run(model, episodes, replicates=1, seed=0, checkpoints=[episodes], backend=backend)
        best = min(best, clock() - t0)
    return best


def _time(algo, model, episodes, backend, repeats, clock=time.perf_counter):
    """Milliseconds per episode: ``(t(episodes) - t(1)) / (episodes - 1)`` removes the set-up and the final
    evaluation (50 test rewards scored by exact DP), which are not part of an exploration episode."""
    one = _seconds(algo, model, 1, backend, repeats, clock)
    return 1e3 * max(_seconds(algo, model, episodes, backend, repeats, clock) - one, 0.0) / (episodes - 1)


def run(quick: bool = False, **_ignored) -> dict:
    """Time both backends at d=4 and d=16; print the table; return rows and targets."""
    from rltheory.algorithms import HFUCRLRFE
    from rltheory.mdps import mixture_of_kernels

    episodes = {"numba": 4 if quick else 300, "numpy": 2 if quick else 30}
    repeats = 1 if quick else 3
    rows = []
    for d in (4, 16):
        model = mixture_of_kernels(8, 3, d, H=20, seed=0)
        algo = HFUCRLRFE(beta_scale=1e-3)
        algo.run(model, 2, checkpoints=[2])                    # warm-up: compilation is never timed
        ms = {b: _time(algo, model, episodes[b], b, repeats) for b in ("numba", "numpy")}
        cpu = _time(algo, model, episodes["numba"], "numba", repeats, clock=time.process_time)
        rows.append({"d": d, "ms_numba": ms["numba"], "ms_numpy": ms["numpy"], "ratio": ms["numba"] / ms["numpy"],
                     "cpu_ms_numba": cpu})
    judged = None if quick else True
    d4 = rows[0]
    targets = {
        f"compiled CPU ms/episode at d=4 <= {TARGET_MS_D4:g}": {
            "measured": d4["cpu_ms_numba"], "limit": TARGET_MS_D4, "unit": "ms",
            "passed": None if judged is None else bool(d4["cpu_ms_numba"] <= TARGET_MS_D4)},
        f"compiled / NumPy cost at d=4 <= {TARGET_RATIO:g}": {
            "measured": d4["ratio"], "limit": TARGET_RATIO,
            "passed": None if judged is None else bool(d4["ratio"] <= TARGET_RATIO)},
    }
    print(f"== {NAME}: HF-UCRL-RFE++ ms per episode (S=8, A=3, H=20; oracle + rollout + HOME) ==")
    print(f"{'d':>3} {'compiled ms':>12} {'(CPU ms)':>9} {'NumPy ms':>10} {'compiled/NumPy':>15}")
    for r in rows:
        print(f"{r['d']:>3} {r['ms_numba']:>12.2f} {r['cpu_ms_numba']:>9.2f} {r['ms_numpy']:>10.2f} "
              f"{r['ratio']:>14.3f}x")
    print_targets(targets, digits=".3f", quick=quick)
    return {"name": NAME, "quick": quick, "rows": rows, "targets": targets}


if __name__ == "__main__":
    run(quick="--quick" in sys.argv[1:])
