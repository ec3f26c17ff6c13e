"""Benchmark: KeRNS throughput (replicate-episodes per second) against UCBVI in the same run.

Model: the piecewise 7x7 grid of :func:`rltheory.mdps.nonstationary.piecewise_grid` (``S = 49``, ``A = 5``,
``H = 20``), 32 replicates. Timed: the public ``run`` end to end (planning, acting, forgetting, the exact
evaluation of every played policy on the episode's model, the Trace), after a warm-up run that compiles the
kernels. Rows: KeRNS (Gaussian smoothing, ``sigma = 0.35``), D-UCBVI (no smoothing), RS-KeRNS, and the
library's :class:`~rltheory.algorithms.UCBVI` (Hoeffding, stage-dependent) on the first phase's
(stationary) model. Each learner is timed at two run lengths; equal rates mean the time per episode does
not grow with ``k`` (the aggregated and representative forms). Spec addendum §6: ~0.3 ms per
replicate-episode compiled, including exact evaluation (about 3,300 replicate-episodes/s per core).

``python benchmarks/kerns.py [--quick]``; ``run(quick) -> dict`` prints its table.
"""

from __future__ import annotations

import sys
import time

NAME = "kerns"
REPLICATES = 32


def _rate(algo, model, episodes):
    t0 = time.perf_counter()
    algo.run(model, episodes, replicates=REPLICATES, seed=0)
    return REPLICATES * episodes / (time.perf_counter() - t0)


def run(quick: bool = False) -> dict:
    from rltheory.algorithms import DUCBVI, UCBVI, KeRNS, RSKeRNS
    from rltheory.mdps.nonstationary import piecewise_grid

    lengths = (20, 40) if quick else (200, 800)
    model = piecewise_grid(episodes=max(lengths), period=max(lengths) // 4)
    rows = []
    for name, algo, mdl in (("KeRNS (sigma=0.35)", KeRNS(), model), ("D-UCBVI", DUCBVI(), model),
                            ("RS-KeRNS", RSKeRNS(), model),
                            ("UCBVI (library, stationary phase 0)", UCBVI(bonus_scale=0.2), model.models[0])):
        algo.run(mdl, 2, replicates=2, seed=0)  # warm-up: compilation is not timed
        rates = [_rate(algo, mdl, k) for k in lengths]
        rows.append({"learner": name, "rates": rates})
    ref = rows[-1]["rates"][-1]
    print(f"KeRNS throughput, S=49, A=5, H=20, {REPLICATES} replicates (replicate-episodes / s)")
    print(f"{'learner':40s} " + " ".join(f"{'K=' + str(k):>12s}" for k in lengths) + f" {'vs UCBVI':>9s}")
    for r in rows:
        print(f"{r['learner']:40s} " + " ".join(f"{x:12.0f}" for x in r["rates"]) + f" {r['rates'][-1] / ref:9.2f}")
    return {"lengths": list(lengths), "replicates": REPLICATES, "rows": rows}


if __name__ == "__main__":
    run(quick="--quick" in sys.argv)
