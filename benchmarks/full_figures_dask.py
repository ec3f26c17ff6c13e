"""Full-mode figures too long for 2 cores: time their sweep's chunks on a Dask LocalCluster, extrapolate.

The full-mode sweeps of ``ucbvi-regret``, ``stepmix-*`` and ``sqirl-sample-complexity`` are grids of
:func:`rltheory.experiments.sweep` configurations, each split by the runner into chunks of
``chunk_replicates = 8`` replicates (the runner's default, what the recipes use). Chunks are independent
(embarrassingly parallel), so the sweep on N workers takes about ``sum(chunk times) / N`` (never less than
the longest chunk).

Method (stated in MANIFEST.md's estimates): for every configuration of the figure's full sweep, ONE chunk
(8 replicates, seed 0) is run on a ``distributed.LocalCluster`` worker (2 worker processes, 1 thread each,
as in ``tests/test_dask.py``) at ``1/FRACTION`` of the full episode count, after a warm-up run of the same
learner on the same worker (Numba loading is not timed); the chunk's full-episode time is the measured
time times ``FRACTION`` (the learners' per-episode cost does not grow with the episode index: UCBVI-type
learners plan once per episode over a fixed model size). Then

* one worker (what ``make figures FULL=1`` does on this machine: the recipes' sweeps use ``workers=1``):
  ``T1 = sum over configurations of (replicates / 8) * t_chunk`` (the last chunk may hold fewer replicates);
* N workers: the recipe runs its sweeps one after another (one per model, setting or instance), so
  ``sum over sweeps of max(T_sweep / N, longest chunk of the sweep)``.

Both the chunks' wall times (on the loaded machine: upper bounds) and their CPU times (what a chunk takes on
a core of its own: the better guide for a cluster's dedicated workers) are reported.

A sweep's stop rule (``stop_when``: ``sqirl-sample-complexity`` stops each run once every replicate has found its
1%-optimal policy) is dropped by the recorder, so its chunks are timed as full-length runs: the extrapolation is
then what the figure would cost without stopping early, far above what it takes (about 2 minutes on 2 cores since
the rule; run it in full instead).

The ``rewardfree-*`` recipes run every (configuration, seed) as its own runner chunk (``chunk_replicates =
1``; the lower bound: one configuration per (d, K, seed)); ``--direct`` times their runs in this process: every
(instance, learner) run of the full setting once, with one replicate and ``1/FRACTION`` of its episodes (at
least ``MIN_EPISODES``), scaled by ``FRACTION`` x replicates (cost is linear in both: replicates are
independent runs, and the per-episode cost does not grow with the episode index). One such run is one chunk,
so N workers take about the total / N, never less than the longest run.

Timings are on a shared machine (other processes running): upper bounds. Usage::

    python benchmarks/full_figures_dask.py ucbvi-regret [--fraction 50]
    python benchmarks/full_figures_dask.py rewardfree-horizon --direct [--fraction 16]
    RLTHEORY_CACHE=$(mktemp -d) python benchmarks/full_figures_dask.py multibatch-contrasts --seeds 5

``--seeds R`` (the ``multibatch-*`` recipes, whose sweeps run on a 2-process pool in full mode): the recipe's
data function runs in full mode with every sweep capped at ``R`` replicates (seeds), and each sweep's time
is scaled by the rounds of chunks the pool needs: ``ceil(configurations x ceil(seeds / 8) / workers)`` for the
full seed count over the same for ``R`` (chunks of 8 replicates are independent and take about the same
time; the pool runs ``workers`` of them at a time). Fewer seeds change the success rates, so the adaptive searches of
``multibatch-batches-vs-d`` may visit other cells than the full run: an approximation. Use a fresh
``RLTHEORY_CACHE`` (full mode caches chunks on disk).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time

CHUNK = 8  # the runner's default chunk_replicates, used by the recipes


def timed_chunk(algo, mdp, episodes: int, replicates: int) -> tuple[float, float]:
    """``(wall, cpu)`` seconds for one chunk (``replicates`` replicates x ``episodes``) through the runner, in
    this process. The CPU time is what the chunk would take on a core of its own (the machine is shared)."""
    from rltheory.experiments import run_experiment

    run_experiment(algo, mdp, 2, replicates=1, seed=123, cache_dir=False, workers=1, progress=False)  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    run_experiment(algo, mdp, episodes, replicates=replicates, seed=0, cache_dir=False, workers=1, progress=False)
    return time.perf_counter() - t0, time.process_time() - c0


def full_sweep(figure: str) -> tuple[list[tuple], int, int, float]:
    """``(configs, episodes, replicates, in_process_seconds)`` of ``figure``'s full-mode sweep.

    ``configs``: ``(label, algorithm, model)`` as the recipe passes them to ``sweep``; ``in_process_seconds``:
    work the recipe does outside the sweep, timed here (the exact effective-horizon analyses of sqirl)."""
    if figure == "ucbvi-regret":
        from rltheory.paper_figures import ucbvi

        episodes, replicates = ucbvi.budget(False)
        configs = [(f"{mdp.name}|{label}", algo, mdp) for mdp in ucbvi.environments()
                   for label, algo in ucbvi.configurations().items()]
        return configs, episodes, replicates, 0.0
    if figure.startswith("stepmix"):
        from rltheory.paper_figures import stepmix

        episodes, replicates = stepmix.budget(False)
        return [("|".join(map(str, key)), algo, mdp) for key, algo, mdp in stepmix.configurations()], \
            episodes, replicates, 0.0
    if figure == "sqirl-sample-complexity":
        from rltheory.paper_figures import sqirl

        episodes, replicates = sqirl.BUDGET[False]
        configs, t0 = [], time.perf_counter()
        for _, mdp in sqirl.learning_instances(False):
            k = sqirl.analyze(mdp).best_k()
            configs += [(f"{mdp.name}|{label}", algo, mdp) for label, algo in sqirl.learners(mdp, k).items()]
        return configs, episodes, replicates, time.perf_counter() - t0
    if figure.startswith("kerns-"):
        from rltheory.paper_figures import kerns

        data = {"kerns-dynamic-regret": kerns.dynamic_regret_runs, "kerns-eta-sigma": kerns.grid_runs,
                "kerns-rate": kerns.rate_runs, "kerns-ablation": kerns.make_ablation}[figure]
        return captured_sweeps(kerns, data), None, None, 0.0
    raise SystemExit(f"no sweep description for {figure!r}")


def captured_sweeps(module, data) -> list[tuple]:
    """``(label, algorithm, model, episodes, replicates)`` of every ``sweep`` call ``data(False)`` makes.

    ``module.sweep`` is replaced by a recorder returning placeholder traces (regret 1 per episode), so the
    recipe's own code lists its full-mode configurations without running them."""
    import numpy as np

    from rltheory import Trace

    recorded, calls = [], [0]

    def record(configs, episodes, *, replicates, seed=0, **kw):
        out = {}
        calls[0] += 1
        for label, algo, model, *_ in configs:
            recorded.append((f"sweep {calls[0]}|{label}|{getattr(model, 'name', '')}|K={episodes}", algo, model,
                             episodes, replicates))
            out[label] = Trace({"regret": np.ones((replicates, episodes))}, {})
        return out

    original = module.sweep
    module.sweep = record
    try:
        result = data(False)
    finally:
        module.sweep = original
    fig = getattr(result, "figure", None)
    if fig is not None:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return recorded


MIN_EPISODES = 64


def direct_runs(figure: str) -> list[tuple[str, object, object, int, int, dict]]:
    """``(label, algorithm, model, episodes, replicates, run_kwargs)`` of every run ``figure`` makes in full mode."""
    from rltheory.paper_figures import reward_free as rf

    out = []
    if figure == "rewardfree-rate":
        c = rf.RATE[False]
        for d in c["ds"]:
            out.append((f"d={d}", rf.HFUCRLRFE(beta_scale=rf.BETA_SCALE, delta=rf.DELTA),
                        rf.mixture_of_kernels(rf.S, rf.A, d, H=c["H"], seed=d), c["K"], c["seeds"], {}))
    elif figure == "rewardfree-horizon":
        c = rf.HORIZON[False]
        for H in c["Hs"]:
            m = rf.mixture_of_kernels(rf.S, rf.A, c["d"], H=H, seed=4)
            out += [(f"{name}, H={H}", algo, m, c["K"], c["seeds"], {}) for name, algo in rf.learners().items()]
    elif figure == "rewardfree-dimension":
        c = rf.DIMENSION[False]
        for d in c["ds"]:
            m = rf.mixture_of_kernels(rf.S, rf.A, d, H=c["H"], seed=d)
            out.append((f"HF-UCRL-RFE++, d={d}", rf.HFUCRLRFE(beta_scale=rf.BETA_SCALE, delta=rf.DELTA), m, c["K"],
                        c["seeds"], {}))
            out.append((f"random, d={d}", rf.RandomExploration(), m, c["K"], c["seeds"], {}))
    elif figure == "rewardfree-lower-bound":
        c = rf.LOWER[False]
        for d in c["ds"]:
            for K in c["Ks"]:  # one run per seed, each on its own instance; timed on seed 0's
                inst = rf.hard_instance(d, c["H"], K, seed=1000 * d)
                algo = rf.HFUCRLRFE(beta_scale=rf.BETA_SCALE, delta=rf.DELTA, n_random_rewards=rf.LOWER_RANDOM_REWARDS)
                out.append((f"d={d}, K={K}", algo, inst.model, K, c["seeds"], {}))
    else:
        raise SystemExit(f"no direct-run description for {figure!r}")
    return out


def main_direct(figure: str, fraction: float) -> int:
    runs = direct_runs(figure)
    warmed, rows = set(), []
    for label, algo, model, episodes, replicates, kw in runs:
        if type(algo) not in warmed:
            algo.run(model, 2, replicates=1, seed=123, **kw)
            warmed.add(type(algo))
        short = min(episodes, max(MIN_EPISODES, math.ceil(episodes / fraction)))
        t0, c0 = time.perf_counter(), time.process_time()
        algo.run(model, short, replicates=1, seed=0, **kw)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        scale = (episodes / short) * replicates
        rows.append({"run": label, "episodes_timed": short, "seconds": seconds, "full_s": seconds * scale,
                     "full_cpu_s": cpu * scale})
        print(f"{label:40s} {seconds:8.2f} s (CPU {cpu:.2f} s) at {short:,} of {episodes:,} episodes x 1 of "
              f"{replicates} replicates -> {seconds * scale:9.1f} s (CPU {cpu * scale:9.1f} s)",
              file=sys.stderr, flush=True)
    print(json.dumps({"figure": figure, "runs": len(rows), "fraction": fraction,
                      "one_process_s": sum(r["full_s"] for r in rows),
                      "one_process_cpu_s": sum(r["full_cpu_s"] for r in rows)}, indent=1))
    return 0


def main_capped_seeds(figure: str, seeds: int) -> int:
    from rltheory.paper_figures import multibatch as mb

    data = {"multibatch-k1-wall": mb.k1_wall_data, "multibatch-success-vs-n": mb.success_vs_n_data,
            "multibatch-batches-vs-d": mb.batches_vs_d_data, "multibatch-contrasts": mb.contrasts_data}[figure]
    original, calls = mb._run, []

    def capped(configs, n, replicates, quick, seed=0):
        r = min(replicates, seeds)
        t0 = time.perf_counter()
        out = original(configs, n, r, quick, seed)
        calls.append({"n": n, "configs": len(configs), "replicates": replicates, "timed": r,
                      "seconds": time.perf_counter() - t0})
        print(f"n={n:6d} configs={len(configs)} {r} of {replicates} seeds: {calls[-1]['seconds']:7.2f} s",
              file=sys.stderr, flush=True)
        return out

    mb._run = capped
    t0 = time.perf_counter()
    with mb._pool(False):
        data(False)
    total = time.perf_counter() - t0
    swept = sum(c["seconds"] for c in calls)
    workers = mb._workers(False)

    def rounds(configs: int, replicates: int) -> int:  # chunks of 8 replicates, `workers` at a time on the pool
        return math.ceil(configs * math.ceil(replicates / CHUNK) / workers)

    scaled = sum(c["seconds"] * rounds(c["configs"], c["replicates"]) / rounds(c["configs"], c["timed"])
                 for c in calls)
    print(json.dumps({"figure": figure, "sweeps": len(calls), "seeds_timed": seeds, "wall_s": total,
                      "sweeps_s": swept, "estimate_s": total - swept + scaled}, indent=1))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("figure", nargs="+", help="figure names (several share one cluster)")
    parser.add_argument("--fraction", type=float, default=50.0, help="time chunks at episodes / FRACTION")
    parser.add_argument("--workers", type=int, nargs="*", default=[2, 8, 32, 64])
    parser.add_argument("--direct", action="store_true", help="time the recipe's own runs in this process")
    parser.add_argument("--seeds", type=int, default=None, help="multibatch-*: cap every sweep at this many seeds")
    args = parser.parse_args(argv)
    if args.seeds is not None:
        return max(main_capped_seeds(figure, args.seeds) for figure in args.figure)
    if args.direct:
        return max(main_direct(figure, args.fraction) for figure in args.figure)
    import distributed

    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                                  silence_logs=logging.CRITICAL) as cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(2, timeout=120)
        for figure in args.figure:
            print(json.dumps(estimate_on_cluster(client, figure, args.fraction, args.workers), indent=1), flush=True)
    return 0


def estimate_on_cluster(client, figure: str, fraction_arg: float, workers: list[int]) -> dict:
    configs, episodes, replicates, outside = full_sweep(figure)
    if episodes is not None:  # one (episodes, replicates) for every configuration
        configs = [(label, algo, mdp, episodes, replicates) for label, algo, mdp in configs]
    rows = []
    t0 = time.perf_counter()
    futures = {}
    for label, algo, mdp, n_episodes, n_replicates in configs:
        short = max(1, math.ceil(n_episodes / fraction_arg))
        futures[label] = (client.submit(timed_chunk, algo, mdp, short, min(CHUNK, n_replicates), pure=False),
                          n_episodes / short, n_replicates, short)
    for label, (fut, fraction, n_replicates, short) in futures.items():
        seconds, cpu = fut.result()
        # the last chunk may be partial: a chunk's cost is linear in its replicates
        chunk_equivalents = n_replicates / min(CHUNK, n_replicates)
        rows.append({"config": label, "chunk_s_measured": seconds, "chunk_s_full": seconds * fraction,
                     "chunk_cpu_s_full": cpu * fraction, "chunk_equivalents": chunk_equivalents,
                     "chunks": math.ceil(n_replicates / CHUNK)})
        print(f"{label:70s} {seconds:8.2f} s (CPU {cpu:8.2f} s) at {short:,} episodes -> "
              f"{seconds * fraction:9.1f} s (CPU {cpu * fraction:9.1f} s) per full chunk", file=sys.stderr, flush=True)
    wall = time.perf_counter() - t0
    t1 = sum(r["chunk_s_full"] * r["chunk_equivalents"] for r in rows) + outside
    c1 = sum(r["chunk_cpu_s_full"] * r["chunk_equivalents"] for r in rows) + outside
    longest = max(r["chunk_s_full"] for r in rows)
    longest_cpu = max(r["chunk_cpu_s_full"] for r in rows)
    # the recipe runs its sweeps one after another (labels start with the sweep: model, setting or instance),
    # so N workers take the sum over sweeps of max(sweep's chunk time / N, its longest chunk)
    sweeps: dict[str, list] = {}
    for r in rows:
        sweeps.setdefault(r["config"].split("|")[0], []).append(r)

    def on(n: int, key: str) -> float:
        return outside + sum(max(sum(r[key] * r["chunk_equivalents"] for r in rs) / n, max(r[key] for r in rs))
                             for rs in sweeps.values())

    return {"figure": figure, "episodes": episodes, "replicates": replicates, "chunk_replicates": CHUNK,
            "configs": len(rows), "chunks": sum(r["chunks"] for r in rows), "fraction": fraction_arg,
            "outside_sweep_s": outside, "one_worker_s": t1, "one_worker_cpu_s": c1,
            "longest_chunk_s": longest, "longest_chunk_cpu_s": longest_cpu, "measurement_wall_s": wall,
            "sweeps": len(sweeps), "workers_wall": {n: on(n, "chunk_s_full") for n in workers},
            "workers_cpu": {n: on(n, "chunk_cpu_s_full") for n in workers}}


if __name__ == "__main__":
    sys.exit(main())
