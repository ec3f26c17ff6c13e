"""Benchmark: StepMix and EpsMix throughput beside UCBVI-BF (replicate-episodes per second).

Model: environment R1 of the StepMix figures (random MDP, S=10, A=3, H=10, Dirichlet(1) transitions per
step, baseline worth 0.6 V*), 64 replicates, ``delta = 0.05``, theory-scale UCBVI-BF bonuses for all three.

What is timed: the public call ``Algo(...).run(mdp, K, replicates=64, seed=0)`` end to end, from an
empty model (so StepMix spends most episodes in its coefficient search: at theory scale rho < 1 for
thousands of episodes; this is its expensive phase), after a warm-up that compiles the kernels.
Rate = ``64 K / seconds``, best of ``repeats``. Cost ratio = UCBVI rate / algorithm rate.

Targets (issue 3): StepMix within 20x of UCBVI's cost per episode (it evaluates up to 130 mixture
coefficients per episode, rule R2), EpsMix within 2x (one extra pessimistic pass).

Self-contained: ``run(quick) -> dict`` prints its table and returns the numbers; ``python
benchmarks/stepmix.py [--quick]`` runs it.
"""

from __future__ import annotations

import sys
import time

from bench_common import print_targets

NAME = "stepmix"
REPLICATES = 64
TARGETS = {"StepMix": 20.0, "EpsMix": 2.0}  # maximum cost per episode relative to UCBVI


def _setup():
    from rltheory.algorithms import UCBVI, EpsMix, StepMix
    from rltheory.algorithms.conservative import baseline_for_ratio
    from rltheory.mdps import garnet

    mdp = garnet(S=10, A=3, branching=10, horizon=10, seed=0, stationary=False)
    baseline, _ = baseline_for_ratio(mdp, 0.6)
    algos = {"UCBVI-BF": UCBVI(bonus="bernstein", delta=0.05),
             "StepMix": StepMix(alpha=0.1, delta=0.05, baseline_policy=baseline),
             "EpsMix": EpsMix(alpha=0.1, delta=0.05, baseline_policy=baseline)}
    return mdp, algos


def run(quick: bool = False, **_ignored) -> dict:
    """Time the three learners; print the table; return ``{"rows": [...], "targets": {...}, ...}``.

    Quick mode (smoke test) uses a few episodes and one repeat: its timings are not meaningful and the
    targets are reported but not judged.
    """
    episodes, repeats = (20, 1) if quick else (1000, 3)
    mdp, algos = _setup()
    for algo in algos.values():  # warm-up: Numba compilation is never timed
        algo.run(mdp, 2, replicates=2, seed=0)
    rows = []
    for name, algo in algos.items():
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            trace = algo.run(mdp, episodes, replicates=REPLICATES, seed=0)
            best = min(best, time.perf_counter() - t0)
        row = {"algorithm": name, "episodes": episodes, "replicates": REPLICATES, "seconds": best,
               "rate": REPLICATES * episodes / best}
        if "rho" in trace:
            row["mean_rho"] = float(trace.rho.mean())
        rows.append(row)
    base = rows[0]["rate"]
    targets = {}
    for row in rows:
        row["cost_ratio"] = base / row["rate"]
        limit = TARGETS.get(row["algorithm"])
        if limit is not None:
            passed = None if quick else bool(row["cost_ratio"] <= limit)
            targets[f"{row['algorithm']} cost <= {limit:g}x UCBVI"] = {"measured": row["cost_ratio"], "limit": limit,
                                                                      "passed": passed}
    _print(rows, targets, quick)
    return {"name": NAME, "model": mdp.name, "quick": quick, "rows": rows, "targets": targets}


def _print(rows, targets, quick) -> None:
    print(f"== {NAME}: replicate-episodes/s on R1 (S=10, A=3, H=10), {REPLICATES} replicates ==")
    print(f"{'algorithm':<10} {'episodes':>8} {'seconds':>9} {'rep-ep/s':>11} {'cost vs UCBVI':>14} {'mean rho':>9}")
    for r in rows:
        rho = f"{r['mean_rho']:.3f}" if "mean_rho" in r else ""
        print(f"{r['algorithm']:<10} {r['episodes']:>8d} {r['seconds']:>9.3f} {r['rate']:>11,.0f} "
              f"{r['cost_ratio']:>13.2f}x {rho:>9}")
    print_targets(targets, unit="x", quick=quick)


if __name__ == "__main__":
    run(quick="--quick" in sys.argv[1:])
