"""The GPU replicate batch (issue 15): UCBVI (both bonuses) and exact Nash-MP on CuPy against 2-core Numba.

What it measures, in one run:

1. **Throughput** at ``R = 64, 1,024, 4,096`` replicates: UCBVI-CH and UCBVI-BF on RiverSwim (S = 6, A = 2,
   H = 20, the paper's bonus scale) in replicate-episodes per second, and exact Nash-MP (beta = 0.1) on a batch
   of ``R`` random games (n = 20 responses) in game-iterations per second. ``backend="cupy"`` is the NumPy
   reference twin run on CuPy arrays (a Python loop over episodes, every replicate at once on the device);
   ``backend="numba"`` runs with ``numba.set_num_threads(2)`` (the 2-core CPU path) in the same process.
   Ratio cupy / numba; **target: >= 50x at 4,096 replicates**.
2. **Agreement** (float64; the library offers no float32 path): at ``R = 64`` the CuPy trace against the
   NumPy twin's on the same seed: the largest ``|difference|`` of every trace array, and the fraction of
   replicates whose traces agree to :data:`TOLERANCE`. The two compute the same float64 operations, but
   reductions may be ordered differently on the device, so values can differ in the last bits; a
   replicate whose greedy choice flips on such a tie would then follow another trajectory (counted, not
   hidden). ``tests/test_gpu_batch.py`` asserts the same tolerance on small runs.

Without a CUDA device the CuPy rows read ``n/a (no CUDA device)``. ``--stand-in numpy`` runs the NumPy twin
in CuPy's place, so the script itself can be smoke-tested on a CPU (its ratios then say nothing about a GPU).
On a machine with a GPU, ``benchmarks/device_check.sh`` runs the GPU tests and this script as one command.

Usage: ``python benchmarks/gpu_batch.py [--quick] [--stand-in numpy] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

NAME = "gpu_batch"
TARGET_RATIO = 50.0
TOLERANCE = 1e-9
SIZES = {True: dict(replicates=(8, 16), episodes=20, iterations=10, n=8, agree_replicates=4, agree_episodes=10),
         False: dict(replicates=(64, 1024, 4096), episodes=200, iterations=100, n=20, agree_replicates=64,
                     agree_episodes=200)}
TRACE_KEYS = ("regret", "values", "returns", "optimistic_values", "optimism_gap")


def _seconds(fn, *args, backend: str = "numba", **kwargs) -> float:
    """Wall time of ``fn(*args, backend=backend, **kwargs)``, the device synchronised before the clock stops."""
    t0 = time.perf_counter()
    fn(*args, backend=backend, **kwargs)
    _sync(backend)
    return time.perf_counter() - t0


def _device_backend(stand_in: str | None) -> str | None:
    from rltheory.backend import cupy_available

    if cupy_available():
        return "cupy"
    return stand_in


def _sync(backend: str) -> None:
    if backend == "cupy":
        import cupy

        cupy.cuda.Device().synchronize()


def agreement(trace_a, trace_b, keys=TRACE_KEYS, tol: float = TOLERANCE) -> dict:
    """Largest ``|a - b|`` per trace array, and the fraction of replicates equal within ``tol`` on all of them."""
    worst = {}
    ok = None
    for k in keys:
        a, b = np.asarray(trace_a[k], dtype=float), np.asarray(trace_b[k], dtype=float)
        d = np.abs(a - b)
        worst[k] = float(d.max()) if d.size else 0.0
        rows = (d <= tol).all(axis=1)
        ok = rows if ok is None else ok & rows
    return {"max_abs_diff": worst, "replicates_within_tol": float(np.mean(ok)), "tolerance": tol}


def ucbvi_rows(cfg: dict, device: str | None) -> list[dict]:
    import numba

    from rltheory.algorithms import UCBVI
    from rltheory.mdps import riverswim

    mdp = riverswim()
    K = cfg["episodes"]
    rows = []
    for bonus in ("hoeffding", "bernstein"):
        algo = UCBVI(bonus=bonus)
        algo.run(mdp, 2, replicates=2, seed=0)  # compile
        for R in cfg["replicates"]:
            numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
            t_cpu = _seconds(algo.run, mdp, K, replicates=R, seed=0)
            row = {"learner": f"UCBVI-{bonus[0].upper()}", "replicates": R, "episodes": K,
                   "numba_2core_per_s": R * K / t_cpu, "device_per_s": None}
            if device is not None:
                algo.run(mdp, 2, replicates=R, seed=0, backend=device)  # warm-up (context, kernels)
                row["device_per_s"] = R * K / _seconds(algo.run, mdp, K, replicates=R, seed=0, backend=device)
            rows.append(row)
    return rows


def nash_rows(cfg: dict, device: str | None) -> list[dict]:
    import numba

    from rltheory.algorithms import NashMirrorProx
    from rltheory.mdps import game_batch, random_game

    T, n = cfg["iterations"], cfg["n"]
    algo = NashMirrorProx(beta=0.1)
    rows = []
    for R in cfg["replicates"]:
        batch = game_batch(random_game, R, n=n, seed=0, reference="random")
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        algo.run(batch, 2, backend="numba")  # compile
        t_cpu = _seconds(algo.run, batch, T)
        row = {"learner": "Nash-MP (exact)", "replicates": R, "episodes": T, "numba_2core_per_s": R * T / t_cpu,
               "device_per_s": None}
        if device is not None:
            algo.run(batch, 2, backend=device)
            row["device_per_s"] = R * T / _seconds(algo.run, batch, T, backend=device)
        rows.append(row)
    return rows


def agreement_rows(cfg: dict, device: str | None) -> dict:
    """CuPy (or the stand-in) against the NumPy twin, same seed, float64."""
    if device is None:
        return {}
    from rltheory.algorithms import UCBVI, NashMirrorProx
    from rltheory.mdps import game_batch, garnet, random_game, riverswim

    R, K = cfg["agree_replicates"], cfg["agree_episodes"]
    out = {}
    for model in (riverswim(), garnet(20, 4, 3, horizon=10, seed=0)):
        for bonus in ("hoeffding", "bernstein"):
            algo = UCBVI(bonus=bonus)
            a = algo.run(model, K, replicates=R, seed=0, backend=device)
            b = algo.run(model, K, replicates=R, seed=0, backend="numpy")
            out[f"UCBVI-{bonus[0].upper()} on {model.name}"] = agreement(a, b)
    batch = game_batch(random_game, R, n=cfg["n"], seed=0, reference="random")
    algo = NashMirrorProx(beta=0.1)
    a, b = algo.run(batch, cfg["iterations"], backend=device), algo.run(batch, cfg["iterations"], backend="numpy")
    out["Nash-MP (exact)"] = agreement(a, b, keys=("kl",))
    return out


def run(quick: bool = False, stand_in: str | None = None) -> dict:
    """Time and compare; print the tables; return the numbers (``targets`` judged only with a real GPU)."""
    cfg = SIZES[bool(quick)]
    device = _device_backend(stand_in)
    rows = ucbvi_rows(cfg, device) + nash_rows(cfg, device)
    agree = agreement_rows(cfg, device)
    for r in rows:
        r["ratio"] = None if r["device_per_s"] is None else r["device_per_s"] / r["numba_2core_per_s"]
    biggest = max(cfg["replicates"])
    judged = device == "cupy" and not quick
    targets = {}
    for r in rows:
        if r["replicates"] == biggest:
            targets[f"{r['learner']} at R={biggest}: cupy / numba (2 cores)"] = {
                "measured": float("nan") if r["ratio"] is None else r["ratio"], "limit": TARGET_RATIO,
                "unit": "x", "higher_is_better": True, "passed": (r["ratio"] >= TARGET_RATIO) if judged else None}
    out = {"device": device or "none", "quick": bool(quick), "rows": rows, "agreement": agree, "targets": targets}
    _print(out)
    return out


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:,.0f}/s"


def _print(out: dict) -> None:
    dev = {"cupy": "CuPy (CUDA device)", "none": "n/a (no CUDA device)"}.get(out["device"],
                                                                          f"{out['device']} (stand-in: not a GPU)")
    print(f"== gpu_batch: replicate batch on {dev} vs Numba on 2 threads ==")
    print(f"{'learner':<16} {'R':>5} {'K':>5} {'numba 2 cores':>16} {'device':>16} {'ratio':>9}")
    for r in out["rows"]:
        ratio = "n/a" if r["ratio"] is None else f"{r['ratio']:.1f}x"
        print(f"{r['learner']:<16} {r['replicates']:>5} {r['episodes']:>5} {_fmt(r['numba_2core_per_s']):>16} "
              f"{_fmt(r['device_per_s']):>16} {ratio:>9}")
    if out["agreement"]:
        print(f"agreement with the NumPy twin (float64; tolerance {TOLERANCE:g}):")
        for name, a in out["agreement"].items():
            worst = max(a["max_abs_diff"].values())
            print(f"  {name:<40} max |diff| {worst:.1e}; replicates within tolerance {a['replicates_within_tol']:.0%}")
    for name, t in out["targets"].items():
        status = "n/a" if t["passed"] is None else ("PASS" if t["passed"] else "MISS")
        got = "not measured" if t["measured"] != t["measured"] else f"{t['measured']:.1f}x"
        print(f"[{status}] {name}: {got} (target >= {t['limit']:g}x)")
    sys.stdout.flush()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="benchmarks/gpu_batch.py", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (smoke test); timings not meaningful")
    p.add_argument("--stand-in", choices=("numpy",), default=None,
                   help="without a CUDA device, run this backend in CuPy's place (smoke test only)")
    p.add_argument("--json", metavar="PATH", help="write the results to this JSON file")
    args = p.parse_args(argv)
    out = run(quick=args.quick, stand_in=args.stand_in)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
