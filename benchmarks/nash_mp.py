"""Nash Mirror Prox benchmark: iterations per second of a batch of games, NumPy vs Numba vs CuPy.

``run(quick)`` times exact Nash-MP (2 queries per iteration) on ``B`` random games of ``n``
responses in one batch (``B = 1024, n = 100``; quick: ``B = 64, n = 20``) with each backend
(CuPy only when a CUDA device is present), plus the exact solvers it relies on: the regularised
equilibrium of the whole batch (:func:`rltheory.planning.regularized_nash`) and the maximal
lottery LP per game (:func:`rltheory.planning_lp.maximal_lottery`, cvxpy + Clarabel) against
SciPy's HiGHS and, when installed, nashpy's linear program on the same unregularised
(zero-sum ``P - 1/2``) games. Prints its own table; returns the numbers as a dict. Timings are
best of ``repeats`` after a warm-up call (Numba compiles on the first call).

Usage: ``python benchmarks/nash_mp.py [--quick]``.
"""

from __future__ import annotations

import sys
import time

import numpy as np

SIZES = {True: {"games": 64, "n": 20, "iterations": 50, "lp_games": 4, "repeats": 2},
         False: {"games": 1024, "n": 100, "iterations": 100, "lp_games": 16, "repeats": 3}}


def _best_of(fn, repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _highs_maximal_lottery(P):
    from scipy.optimize import linprog

    n = P.shape[0]
    res = linprog(np.r_[np.zeros(n), -1.0], A_ub=np.c_[-P.T, np.ones(n)], b_ub=np.zeros(n),
                  A_eq=np.r_[np.ones(n), 0.0][None], b_eq=[1.0], bounds=[(0, None)] * n + [(None, None)],
                  method="highs")
    return res.x[:n]


def run(quick: bool = False) -> dict:
    """Time the backends and the exact solvers; print a table; return the results."""
    from rltheory.algorithms import NashMirrorProx
    from rltheory.backend import cupy_available
    from rltheory.mdps import game_batch, random_game
    from rltheory.planning import regularized_nash
    from rltheory.planning_lp import maximal_lottery

    cfg = SIZES[bool(quick)]
    B, n, T, reps = cfg["games"], cfg["n"], cfg["iterations"], cfg["repeats"]
    batch = game_batch(random_game, B, n=n, seed=0, reference="random")
    beta = 0.1
    out = {"games": B, "n": n, "iterations": T, "beta": beta, "backends": {}, "solvers": {}}

    t_solve = _best_of(lambda: regularized_nash(batch, beta), 1)
    star = regularized_nash(batch, beta).policy
    out["solvers"]["regularized_nash (batch, s)"] = t_solve

    algo = NashMirrorProx(beta=beta)
    backends = ["numpy", "numba"] + (["cupy"] if cupy_available() else [])
    ref = None
    for backend in backends:
        def call(backend=backend):
            return algo.run(batch, T, equilibrium=star, backend=backend)

        call()  # warm-up (compilation, GPU context)
        seconds = _best_of(call, reps)
        trace = call()
        if ref is None:
            ref = trace
        agree = float(np.max(np.abs(trace.kl - ref.kl)))
        out["backends"][backend] = {"seconds": seconds, "iterations_per_s": T / seconds,
                                    "game_iterations_per_s": B * T / seconds, "max_kl_diff_vs_numpy": agree}
    if "cupy" not in out["backends"]:
        out["backends"]["cupy"] = None

    lp_batch = game_batch(random_game, cfg["lp_games"], n=n, seed=1)
    out["solvers"]["maximal_lottery cvxpy/Clarabel (s per game)"] = _best_of(
        lambda: maximal_lottery(lp_batch), 1) / cfg["lp_games"]
    out["solvers"]["scipy HiGHS LP (s per game)"] = _best_of(
        lambda: [_highs_maximal_lottery(P) for P in lp_batch.P], 1) / cfg["lp_games"]
    try:
        import nashpy

        def with_nashpy():
            for P in lp_batch.P:
                A = P - 0.5
                nashpy.Game(A, -A).linear_program()

        out["solvers"]["nashpy linear_program (s per game)"] = _best_of(with_nashpy, 1) / cfg["lp_games"]
    except ImportError:
        out["solvers"]["nashpy linear_program (s per game)"] = None
    _print(out)
    return out


def _print(out: dict) -> None:
    print(f"== nash_mp: exact Nash-MP, {out['games']} games x n = {out['n']}, {out['iterations']} iterations, "
          f"beta = {out['beta']} ==")
    print(f"{'backend':<8} {'seconds':>9} {'iterations/s':>14} {'game-iterations/s':>18} {'max |dKL| vs numpy':>19}")
    base = out["backends"]["numpy"]["iterations_per_s"]
    for name, r in out["backends"].items():
        if r is None:
            print(f"{name:<8} {'n/a (no CUDA device)':>44}")
            continue
        print(f"{name:<8} {r['seconds']:>9.3f} {r['iterations_per_s']:>14.1f} {r['game_iterations_per_s']:>18.0f} "
              f"{r['max_kl_diff_vs_numpy']:>19.1e}   ({r['iterations_per_s'] / base:.1f}x numpy)")
    print("exact solvers:")
    for name, v in out["solvers"].items():
        print(f"  {name:<48} {'n/a (not installed)' if v is None else f'{v:.4f}'}")


if __name__ == "__main__":
    run(quick="--quick" in sys.argv[1:])
