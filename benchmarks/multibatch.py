"""Benchmark: the multi-batch test-bed's two costly runs (digest addendum Sec. 3 "Runtime").

1. **The d = 64 success-vs-n sweep** of figure ``multibatch-success-vs-n`` in full mode: NestedSector
   d = 64 (chain 64 -> 33 -> 13 -> 2 -> 1), null-space learner, K in {1, 2, 3, 4, 6, 8}, n in
   {64, ..., 16384} (9 values), 50 seeds per cell. The whole grid is not run here: a **reduced grid**
   (every (K, n) cell, ``SEEDS_MEASURED`` seeds) is timed through the experiment runner
   (:func:`rltheory.experiments.sweep`; with 2 workers one process pool, started and warmed before
   timing, serves the whole grid) and **extrapolated** linearly to 50 seeds
   (cost is linear in seeds: each replicate is an independent run). The addendum's prototype reported
   270 s on 2 cores for the full grid.
2. **One d = 256, n = d^2 run**: NestedSector d = 256 (chain 256 -> 165 -> 99 -> 53 -> 22 -> 4 -> 1),
   null-space learner with K = 6 (the fewest batches that succeed), 65,536 queries. Addendum: 10-40 s.

Self-contained: ``run(quick) -> dict`` prints the table and returns the numbers; ``python
benchmarks/multibatch.py [--quick]``. Quick mode shrinks both workloads (smoke test; timings not
meaningful). Speed targets are printed side by side with the reference numbers, never asserted in tests.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import sys
import time

# One BLAS thread per process (set before NumPy loads, inherited by the runner's workers): the
# matrices are small (at most 65,536 x 257), and threaded BLAS only oversubscribes the cores.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from bench_common import print_targets  # noqa: E402

NAME = "multibatch"
GAMMA = 0.9
SWEEP_K = (1, 2, 3, 4, 6, 8)
SWEEP_N = (64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384)
SEEDS_FULL = 50
SEEDS_MEASURED = 1
REFERENCE_SWEEP_S = 270.0  # addendum, prototype, 2 cores
REFERENCE_D256_S = (10.0, 40.0)


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _warm(_: int) -> int:
    import rltheory.algorithms.multibatch  # noqa: F401  (imports happen before timing)

    return 0


def _sweep_rows(quick: bool) -> list[dict]:
    from rltheory.algorithms.multibatch import NullSpaceLearner
    from rltheory.bounds.multibatch import greedy_chain
    from rltheory.experiments import sweep
    from rltheory.mdps.multibatch import InstanceFamily

    d = 16 if quick else 64
    Ks = (1, 2) if quick else SWEEP_K
    ns = (16, 64) if quick else SWEEP_N
    seeds = 1 if quick else SEEDS_MEASURED
    fam = InstanceFamily("nested-sector", d, GAMMA, greedy_chain(d, GAMMA, d * d))
    NullSpaceLearner(2).run(fam, 2 * d, replicates=1)  # warm-up (imports, BLAS)
    rows = []
    for workers in (1,) if quick else sorted({1, min(2, os.cpu_count() or 1)}):
        pool = None
        if workers > 1:  # one pool for the whole grid, started and warmed before timing
            pool = cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            list(pool.map(_warm, range(workers)))

        def go(pool=pool, workers=workers):
            for n in ns:
                sweep([(K, NullSpaceLearner(K), fam) for K in Ks], n, replicates=seeds, seed=0,
                      cache_dir=False, workers=workers, executor=pool, progress=False)
        try:
            _, seconds = _timed(go)
        finally:
            if pool is not None:
                pool.shutdown()
        rows.append({"case": f"d={d} sweep, {len(Ks)} K x {len(ns)} n x {seeds} seeds (measured)",
                     "workers": workers, "seconds": seconds,
                     "extrapolated_full_s": seconds * SEEDS_FULL / seeds,
                     "runs": len(Ks) * len(ns) * seeds})
    return rows


def _d256_row(quick: bool) -> dict:
    from rltheory.algorithms.multibatch import NullSpaceLearner
    from rltheory.bounds.multibatch import greedy_chain
    from rltheory.mdps.multibatch import InstanceFamily

    d, K = (64, 4) if quick else (256, 6)
    fam = InstanceFamily("nested-sector", d, GAMMA, greedy_chain(d, GAMMA, d * d))
    trace, seconds = _timed(lambda: NullSpaceLearner(K).run(fam, d * d, replicates=1, seed=0))
    return {"case": f"one run d={d}, n=d^2={d * d}, K={K}, null-space learner", "workers": 1,
            "seconds": seconds, "success": bool(trace.success[0]), "queries_used": int(trace.queries_used[0])}


def run(quick: bool = False, **_ignored) -> dict:
    """Time the sweep (reduced grid, extrapolated) and one large run; print; return the numbers."""
    sweep_rows = _sweep_rows(quick)
    big = _d256_row(quick)
    print(f"== {NAME}: multi-batch test-bed ({'quick' if quick else 'full'}) ==")
    print(f"{'case':62s} {'workers':>7s} {'seconds':>8s}   details")
    for r in sweep_rows:
        print(f"{r['case']:62s} {r['workers']:7d} {r['seconds']:8.2f}   {r['runs']} runs; extrapolated to "
              f"{SEEDS_FULL} seeds: {r['extrapolated_full_s']:.0f} s (reference: {REFERENCE_SWEEP_S:.0f} s, "
              "prototype, 2 cores)")
    print(f"{big['case']:62s} {big['workers']:7d} {big['seconds']:8.2f}   success={big['success']}, "
          f"{big['queries_used']} queries (reference: {REFERENCE_D256_S[0]:.0f}-{REFERENCE_D256_S[1]:.0f} s)")
    best = min(r["extrapolated_full_s"] for r in sweep_rows)
    targets = {f"d=64 sweep (extrapolated) <= {REFERENCE_SWEEP_S:.0f} s": {
                   "measured": best, "limit": REFERENCE_SWEEP_S, "unit": " s",
                   "passed": None if quick else bool(best <= REFERENCE_SWEEP_S)},
               f"one d=256 run <= {REFERENCE_D256_S[1]:.0f} s": {
                   "measured": big["seconds"], "limit": REFERENCE_D256_S[1], "unit": " s",
                   "passed": None if quick else bool(big["seconds"] <= REFERENCE_D256_S[1])}}
    print_targets(targets, head="target:", digits=".1f", unit=" s")
    return {"name": NAME, "quick": quick, "sweep": sweep_rows, "d256": big, "targets": targets}


if __name__ == "__main__":
    run(quick="--quick" in sys.argv[1:])
