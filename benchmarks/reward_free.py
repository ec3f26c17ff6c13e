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

Second table, the hard instance of Thm 2.6.8 (``rltheory.mdps.hard_instance``: S=3, H=10, ``2^(d-1)``
actions; the ``rewardfree-lower-bound`` figure's model, 85% of its full-mode time at d=9): milliseconds per
episode end to end (compiled, with the figure's 2 random reward candidates), and one oracle call (2 theta x 7
rewards, the figure's count) on its three-state path against the general per-action loop
(``hf_oracle(..., fused=False)``) on the same inputs, bit for bit the same result.

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


def _ratio(a, b):
    """``a / b``; NaN where ``b`` is not positive (quick mode's 1-2 episode differences can be, on a busy machine)."""
    return a / b if b > 0 else float("nan")


def _best(repeats, fn, *args, clock=time.perf_counter):
    """Best of ``repeats`` times of ``fn(*args)`` on ``clock``."""
    best = float("inf")
    for _ in range(repeats):
        t0 = clock()
        fn(*args)
        best = min(best, clock() - t0)
    return best


def _mixture_run(algo, model, episodes, backend):
    algo.run(model, episodes, replicates=1, seed=0, checkpoints=[episodes], backend=backend)


def _seconds(algo, model, episodes, backend, repeats, clock):
    return _best(repeats, _mixture_run, algo, model, episodes, backend, clock=clock)


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
        rows.append({"d": d, "ms_numba": ms["numba"], "ms_numpy": ms["numpy"],
                     "ratio": _ratio(ms["numba"], ms["numpy"]), "cpu_ms_numba": cpu})
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
    hard = _hard_instance_rows(quick)
    return {"name": NAME, "quick": quick, "rows": rows, "hard_instance": hard, "targets": targets}


def _hard_run(algo, inst, episodes):
    return algo.run(inst.model, episodes, replicates=1, seed=0, checkpoints=[episodes],
                    plan_rewards=inst.reward[None])


def _oracle_calls(K, calls, *args):
    for _ in range(calls):
        K.hf_oracle(*args)


def _hard_instance_rows(quick: bool) -> list:
    """The hard-instance table (module docstring): per ``d``, ms per episode and per oracle call both ways."""
    import numpy as np

    from rltheory.algorithms import HFUCRLRFE
    from rltheory.algorithms import reward_free_kernels as K
    from rltheory.mdps import hard_instance

    episodes, calls, repeats = (8, 2, 1) if quick else (400, 20, 3)
    rows = []
    for d in ((5, 7) if quick else (5, 7, 9)):
        inst = hard_instance(d, 10, episodes, seed=1000 * d)
        m = inst.model
        algo = HFUCRLRFE(beta_scale=1e-3, delta=0.1, n_random_rewards=2)
        _hard_run(algo, inst, 2)                               # warm-up: compilation is never timed
        ms_episode = 1e3 * max(_best(repeats, _hard_run, algo, inst, episodes) - _best(repeats, _hard_run, algo,
                                                                                         inst, 1), 0.0) / (episodes - 1)
        rng = np.random.default_rng(d)
        spd = [np.linalg.inv(np.eye(d) + x.T @ x / 30) for x in rng.normal(size=(2, 30, d))]
        Fh, Ft = K.factor(m.phi_sa, spd[0]), K.factor(m.phi_sa, spd[1])
        Pts = K.mixture_kernels(m.phi_sa, m.theta + rng.normal(size=(2, d)) * 0.1)
        rw = np.concatenate([np.zeros((1, m.S, m.A)), rng.random((6, m.S, m.A)) / m.H])
        ms_call = {}
        for fused in (True, False):
            args = (Pts, Fh, Ft, rw, 0.05, m.H, m.start_state, fused)
            _oracle_calls(K, 1, *args)
            ms_call[fused] = 1e3 * _best(repeats, _oracle_calls, K, calls, *args) / calls
        rows.append({"d": d, "A": m.A, "ms_episode": ms_episode, "ms_oracle_fused": ms_call[True],
                     "ms_oracle_loop": ms_call[False], "ratio": _ratio(ms_call[True], ms_call[False])})
    print("== reward_free: the hard instance (S=3, H=10, 2^(d-1) actions), compiled ==")
    print(f"{'d':>3} {'A':>4} {'ms/episode':>11} {'oracle ms':>10} {'per-action loop ms':>19} {'ratio':>8}")
    for r in rows:
        print(f"{r['d']:>3} {r['A']:>4} {r['ms_episode']:>11.3f} {r['ms_oracle_fused']:>10.3f} "
              f"{r['ms_oracle_loop']:>19.3f} {r['ratio']:>7.3f}x")
    return rows


if __name__ == "__main__":
    run(quick="--quick" in sys.argv[1:])
