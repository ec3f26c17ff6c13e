"""Multi-batch policy evaluation: a test-bed around Johnson, Pike-Burke & Rebeschini (ICLR 2024) and Zanette (2021).

**What the papers prove** (stated here as text only; never plotted against data):

* *paper* (Johnson, Pike-Burke & Rebeschini, ICLR 2024, arXiv:2310.01616): for policy evaluation and
  best-policy identification under d-dimensional linear function approximation with exact feedback
  (``gamma >= sqrt(3/4)``), any sample-efficient (``n = poly(d)``) K-batch algorithm needs
  ``K = Omega(log log d)`` batches, for policy-induced and for policy-free queries. Constants unknown;
  tightness open. The paper has no experiments and its body was not retrievable.
* *paper* (Zanette, ICML 2021, arXiv:2012.08005): with ``K = 1`` (offline), ``N(gamma, d) =
  1 / I_{1-gamma^2}((d-1)/2, 1/2)`` queries are needed (exponential in ``d``).

**What is ours** (unreviewed): the instances (nested sectors, our cap reconstruction, a benign chain),
the learners, the union bound, the adversary DP and ``K_UB``. Our bound behaves like ``log d`` for one-step
policy-free queries on our instance; it is *not* the paper's result and not an improvement on it.

Figures (all status "reconstructed setting": the paper has no figure; the panels are the digest
addendum's Sec. 5 proposal):

* ``multibatch-k1-wall`` (A): Zanette's K = 1 wall on our cap instance.
* ``multibatch-success-vs-n`` (B, ours): success vs ``n`` on NestedSector, d = 64, several ``K``.
* ``multibatch-batches-vs-d`` (C, ours): batches needed vs ``d``.
* ``multibatch-contrasts`` (D, ours): trajectory queries and a benign chain, both solved with ``K = 1``.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os

import numpy as np

from rltheory.algorithms.multibatch import NullSpaceLearner, OneShotLSTD, RolloutLSTD, TrajectoryLSTD
from rltheory.bounds import multibatch as mb
from rltheory.experiments import sweep
from rltheory.figures import FigureOutput, figure
from rltheory.mdps.multibatch import InstanceFamily
from rltheory.plotting import BOUND_COLOR, OKABE_ITO, subplots

GAMMA = 0.9
PAPERS = ("Johnson, Pike-Burke & Rebeschini (ICLR 2024, arXiv:2310.01616); "
          "Zanette (ICML 2021, arXiv:2012.08005)")
PAPER_CLAIM = ("paper (Johnson et al. 2024): K = Ω(log log d) batches are needed for poly(d) queries; "
               "constants unknown, not plotted")


def _workers(quick: bool) -> int:
    return 1 if quick else max(1, min(8, os.cpu_count() or 1))


def _rates(traces: dict, key: str = "success") -> dict:
    """label -> (rate, wilson_low, wilson_high, count)."""
    out = {}
    for label, tr in traces.items():
        vals = np.asarray(tr[key], bool)
        lo, hi = mb.wilson_interval(int(vals.sum()), vals.size)
        out[label] = (float(vals.mean()), float(lo), float(hi), int(vals.size))
    return out


#: Process pool shared by every sweep of one full-mode recipe (see :func:`_pool`); None: in-process.
_POOL: list = [None]


@contextlib.contextmanager
def _pool(quick: bool):
    """Full mode: one process pool for the whole recipe (started once, not per sweep)."""
    if quick or _workers(quick) == 1:
        yield
        return
    with cf.ProcessPoolExecutor(_workers(quick), mp_context=multiprocessing.get_context("spawn")) as pool:
        _POOL[0] = pool
        try:
            yield
        finally:
            _POOL[0] = None


def _run(configs, n: int, replicates: int, quick: bool, seed: int = 0) -> dict:
    """Replicates through the experiment runner (cached on disk in full mode)."""
    return sweep(configs, n, replicates=replicates, seed=seed, cache_dir=False if quick else None,
                 workers=_workers(quick), executor=_POOL[0], progress=False)


def _yerr(y, low, high) -> np.ndarray:
    """Asymmetric error bars ``[y - low, high - y]``, clipped at 0 (rounding at rates 0 and 1)."""
    y = np.asarray(y, float)
    return np.maximum(0.0, np.vstack([y - np.asarray(low, float), np.asarray(high, float) - y]))


def _note(fig, text: str) -> None:
    fig.supxlabel(text, fontsize=6.3, color="#444444", wrap=True)


# ---------------------------------------------------------------------------- A: K = 1 wall


def k1_wall_data(quick: bool) -> dict:
    """Failure rate of K = 1 random-query LSTD on the cap instance vs n, per d; K = 2, n = 2d check."""
    dims = (3, 4, 6) if quick else (3, 4, 5, 6, 8)
    ns = [1, 3, 10, 30, 100, 300, 1000, 3000, 10_000]
    reps = 100 if quick else 300
    data = {"d": list(dims), "n": ns, "replicates": reps, "gamma": GAMMA, "curves": {}, "k2": {}}
    for d in dims:
        fam = InstanceFamily("cap", d, GAMMA)
        fail, lo, hi = [], [], []
        for n in ns:
            rate, rlo, rhi, _ = _rates(_run([("k1", OneShotLSTD(), fam)], n, reps, quick))["k1"]
            fail.append(1 - rate)
            lo.append(1 - rhi)
            hi.append(1 - rlo)
        N = mb.N_cap(GAMMA, d)
        n_arr = np.asarray(ns, float)
        data["curves"][d] = {"N": N, "failure": fail, "low": lo, "high": hi,
                             "random_prediction": (1 - 1 / N) ** n_arr,
                             "any_learner_bound": 0.5 * np.clip(1 - n_arr / N, 0, None)}
        k2 = _rates(_run([("k2", NullSpaceLearner(2), fam)], 2 * d, reps, quick), "exact")["k2"]
        data["k2"][d] = {"n": 2 * d, "failure": 1 - k2[0], "exact_rate": k2[0]}
    return data


@figure("multibatch-k1-wall",
        title="A: K = 1 wall on the cap instance (paper: Zanette's N(γ,d); ours: instance, learner, K = 2 check)",
        paper=PAPERS,
        source="Zanette (2021) Thm. 1 mechanism, N(γ,d) = 1/I_{1-γ²}((d-1)/2, 1/2); no figure in either paper; "
               "digest addendum Sec. 5 panel A",
        status="reconstructed setting")
def make_k1_wall(quick: bool) -> FigureOutput:
    with _pool(quick):
        data = k1_wall_data(quick)
    fig, ax = subplots(figsize=(6.2, 4.0))
    for i, d in enumerate(data["d"]):
        c = data["curves"][d]
        col = OKABE_ITO[i]
        x = np.asarray(data["n"], float)
        y = np.asarray(c["failure"])
        ax.errorbar(x, y, yerr=_yerr(y, c["low"], c["high"]), fmt="o", ms=3.5,
                    color=col, capsize=2, lw=1, label=f"d={d} (N={c['N']:.3g}), measured, K=1")
        xf = np.logspace(0, 4, 200)
        ax.plot(xf, (1 - 1 / c["N"]) ** xf, color=col, lw=1.2, ls="--")
        ax.plot(xf, 0.5 * np.clip(1 - xf / c["N"], 0, None), color=col, lw=1.0, ls=":")
        ax.plot([data["k2"][d]["n"]], [data["k2"][d]["failure"]], marker="*", ms=10, color=col, ls="none",
                markeredgecolor="black", markeredgewidth=0.5)
    ax.plot([], [], color=BOUND_COLOR, ls="--", label="(1−1/N)^n: random queries (ours, from paper's N)")
    ax.plot([], [], color=BOUND_COLOR, ls=":", label="½(1−n/N)₊: any K=1 learner (paper)")
    ax.plot([], [], marker="*", ms=9, color="white", markeredgecolor="black", ls="none",
            label="K=2, n=2d null-space learner (ours)")
    ax.set_xscale("log")
    ax.set_xlabel("queries n (one batch)")
    ax.set_ylabel("failure rate  P(‖θ̂−θ*‖ ≥ 1)")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title("A. K = 1 wall: Zanette's mechanism (paper) on our cap instance, γ = 0.9", fontsize=9)
    ax.legend(loc="upper right", fontsize=6.5)
    _note(fig, f"ours: cap instance (one level of NestedSector), min-norm LSTD; Wilson 95% bars; "
               f"{data['replicates']} seeds per point.")
    notes = ("paper: N(γ,d) (Zanette 2021, read second-hand). ours: the cap instance reconstruction, the "
             "random-query learner and its predicted failure (1-1/N)^n (addendum Sec. 4.2: the min-norm learner "
             "fails at rate (1-1/N)^n, not 1/2 of it), and the K=2 null-space learner.")
    return FigureOutput(fig, data=data, notes=notes)


# ---------------------------------------------------------------------------- B: success vs n


def success_vs_n_data(quick: bool, d: int = 64) -> dict:
    """Success rate of the null-space learner on NestedSector(d) vs n, per K; union bound per K <= L."""
    dims = mb.greedy_chain(d, GAMMA, d * d)
    Ks = (1, 2, 3, 4, 6) if quick else (1, 2, 3, 4, 6, 8)
    ns = [64, 128, 256, 1024, 4096] if quick else [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]
    reps = 12 if quick else 50
    fam = InstanceFamily("nested-sector", d, GAMMA, dims)
    curves = {K: {"rate": [], "low": [], "high": []} for K in Ks}
    for n in ns:
        rates = _rates(_run([(K, NullSpaceLearner(K), fam) for K in Ks], n, reps, quick))
        for K in Ks:
            r, lo, hi, _ = rates[K]
            curves[K]["rate"].append(r)
            curves[K]["low"].append(lo)
            curves[K]["high"].append(hi)
    L = len(dims) - 1
    bounds = {K: [mb.union_bound(dims, n, GAMMA, K) for n in ns] for K in Ks if K <= L}
    return {"d": d, "gamma": GAMMA, "dims": list(dims), "n": ns, "K": list(Ks), "replicates": reps,
            "curves": curves, "union_bound": bounds,
            "inverse_p": [1 / mb.p_sector(dims[k], dims[k + 1], GAMMA) for k in range(L)]}


@figure("multibatch-success-vs-n",
        title="B (ours): NestedSector d = 64, success vs n for K batches, with our union bound",
        paper=PAPERS,
        source="ours (digest B3 instance, addendum Sec. 5 panel B); the paper's result (K = Ω(log log d)) is "
               "text only",
        status="reconstructed setting")
def make_success_vs_n(quick: bool) -> FigureOutput:
    with _pool(quick):
        data = success_vs_n_data(quick)
    fig, ax = subplots(figsize=(7.4, 4.0))
    x = np.asarray(data["n"], float)
    for i, K in enumerate(data["K"]):
        c = data["curves"][K]
        col = OKABE_ITO[i % 7]
        y = np.asarray(c["rate"])
        jitter = 1 + 0.04 * (i - len(data["K"]) / 2)
        ax.errorbar(x * jitter, y, yerr=_yerr(y, c["low"], c["high"]), fmt="o-", ms=3.5,
                    color=col, capsize=2, lw=1.2, label=f"K={K} (measured)")
        bound = np.asarray(data["union_bound"].get(K, [1.0]), float)
        if bound.min() < 1:  # drawn where it says something (< 1); at 1 it is vacuous (full mode's largest n)
            ax.plot(x, np.where(bound < 1, bound, np.nan), color=col, ls="--", lw=1.0)
    ax.plot([], [], color=BOUND_COLOR, ls="--", label="our union bound\n½+½·n·max p_k, K ≤ L\n(same colour as K)")
    d = data["d"]
    for v, lab in ((d, "n=d"), (d * d, "n=d²")):
        ax.axvline(v, color="#999999", lw=0.7, ls="-.")
        ax.text(v * 1.05, 0.03, lab, fontsize=7, color="#555555")
    ax.set_xscale("log")
    ax.set_xlabel("queries n (all batches)")
    ax.set_ylabel("success rate  P(‖θ̂−θ*‖ < 1)")
    ax.set_ylim(-0.03, 1.03)
    chain = "→".join(map(str, data["dims"]))
    ax.set_title(f"B. ours: NestedSector d={d}, γ=0.9, dims {chain}", fontsize=9)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=6.5)
    _note(fig, "ours: instance, null-space learner (even split), union bound (one-step queries only). "
               f"Bounds for K=2 and K=3 coincide; for K=L={len(data['dims']) - 1} and K>L they are 1 "
               "(vacuous, not drawn); each bound is drawn only where it is below 1. "
               f"Wilson 95% bars, {data['replicates']} seeds. {PAPER_CLAIM}.")
    return FigureOutput(fig, data=data, notes="All ours; see module docstring for what the paper proves.")


# ---------------------------------------------------------------------------- C: batches vs d


def batches_vs_d_data(quick: bool) -> dict:
    """Measured fewest batches (success >= 0.9 at n = d^2) vs our analytic bound and K_UB."""
    ds = (4, 8, 16, 32, 64) if quick else (4, 8, 16, 32, 64, 128, 256)
    reps = 10 if quick else 20
    measured, rollout, k_safe_small = {}, {}, {}
    for d in ds:
        n = d * d
        dims = mb.greedy_chain(d, GAMMA, n)
        fam = InstanceFamily("nested-sector", d, GAMMA, dims)
        k = None
        for K in range(1, len(dims) + 2):
            if _rates(_run([("ns", NullSpaceLearner(K), fam)], n, reps, quick))["ns"][0] >= 0.9:
                k = K
                break
        measured[d] = k
        kr = None
        for K in range(1, mb.K_UB(d, GAMMA) + 1):
            if _rates(_run([("ro", RolloutLSTD(K), fam)], d * K, reps, quick), "exact")["ro"][0] >= 0.9:
                kr = K
                break
        rollout[d] = kr
        k_safe_small[d] = mb.K_safe(d, n, GAMMA) + 1
    log2d = np.arange(2, 41)
    return {"gamma": GAMMA, "d": list(ds), "replicates": reps, "measured_null_space": measured,
            "measured_rollout_exact": rollout, "lower_bound_small": k_safe_small,
            "log2_d": log2d, "K_safe_plus_1": [mb.K_safe(2**int(k), 4**int(k), GAMMA) + 1 for k in log2d],
            "K_UB": [mb.K_UB(2**int(k), GAMMA) for k in log2d]}


@figure("multibatch-batches-vs-d",
        title="C (ours): batches needed at n = d² vs d: measured, our lower bound K_safe+1, rollout K_UB",
        paper=PAPERS,
        source="ours (addendum Sec. 5 panel C); the paper's K = Ω(log log d) is a text note, not a curve",
        status="reconstructed setting")
def make_batches_vs_d(quick: bool) -> FigureOutput:
    with _pool(quick):
        data = batches_vs_d_data(quick)
    fig, ax = subplots(figsize=(6.2, 4.0))
    x = np.asarray(data["log2_d"])
    ax.plot(x, data["K_UB"], color=OKABE_ITO[2], lw=1.4, label="K_UB: rollout LSTD exact (ours, sufficient)")
    ax.plot(x, data["K_safe_plus_1"], color=BOUND_COLOR, ls="--", lw=1.4,
            label="K_safe+1: our lower bound (one-step queries, NS)")
    ds = data["d"]
    xd = np.log2(ds)
    m = [data["measured_null_space"][d] for d in ds]
    ax.plot(xd, [np.nan if v is None else v for v in m], "o", color=OKABE_ITO[0], ms=6,
            label=f"measured: null-space learner, success ≥ 0.9 ({data['replicates']} seeds)")
    r = [data["measured_rollout_exact"][d] for d in ds]
    ax.plot(xd, [np.nan if v is None else v for v in r], "s", color=OKABE_ITO[1], ms=5,
            label="measured: rollout LSTD exact ≥ 0.9")
    ax.set_xlabel("log₂ d   (n = d² queries)")
    ax.set_ylabel("batches K")
    ax.set_yscale("log")
    ax.set_title("C. ours: batches needed vs dimension, γ = 0.9", fontsize=9)
    ax.legend(loc="upper left", fontsize=6.5)
    _note(fig, f"{PAPER_CLAIM}. Our lower bound grows like log d on our instance (one-step policy-free "
               "queries); unreviewed, not the paper's result.")
    return FigureOutput(fig, data=data, notes="All curves ours. " + PAPER_CLAIM)


# ---------------------------------------------------------------------------- D: contrasts


def contrasts_data(quick: bool) -> dict:
    """Trajectory queries on NS (K = 1) vs trajectory length; benign chain with K = 1 vs d."""
    ds_traj = (16, 64) if quick else (16, 64, 256)
    cs = (1, 2, 5, 10, 15, 20, 30)
    reps = 16 if quick else 50
    traj = {}
    for d in ds_traj:
        fam = InstanceFamily("nested-sector", d, GAMMA, mb.greedy_chain(d, GAMMA, d * d))
        rows = {"c": list(cs), "rate": [], "low": [], "high": [], "one_step_same_n": []}
        for c in cs:
            r = _rates(_run([("t", TrajectoryLSTD(c), fam)], d * c, reps, quick))["t"]
            o = _rates(_run([("o", OneShotLSTD(), fam)], d * c, reps, quick))["o"]
            rows["rate"].append(r[0])
            rows["low"].append(r[1])
            rows["high"].append(r[2])
            rows["one_step_same_n"].append(o[0])
        traj[d] = rows
    ds_chain = (4, 16, 64) if quick else (4, 16, 64, 256)
    chain = {"d": list(ds_chain), "error_max": [], "ns_error_median": []}
    for d in ds_chain:
        tr = _run([("c", OneShotLSTD(), InstanceFamily("chain", d, GAMMA))], d, reps, quick)["c"]
        chain["error_max"].append(float(np.max(tr.error)))
        fam = InstanceFamily("nested-sector", d, GAMMA, mb.greedy_chain(d, GAMMA, d * d))
        trn = _run([("n", OneShotLSTD(), fam)], d, reps, quick)["n"]
        chain["ns_error_median"].append(float(np.median(trn.error)))
    return {"gamma": GAMMA, "replicates": reps, "trajectories": traj, "chain": chain}


@figure("multibatch-contrasts",
        title="D (ours): K = 1 suffices with trajectory queries on NestedSector and on a benign chain",
        paper=PAPERS,
        source="ours (addendum Sec. 3 and Sec. 5 panel D): shows our instance cannot illustrate the paper's "
               "policy-induced theorem",
        status="reconstructed setting")
def make_contrasts(quick: bool) -> FigureOutput:
    with _pool(quick):
        data = contrasts_data(quick)
    fig, (a1, a2) = subplots(1, 2, figsize=(8.0, 3.6))
    for i, (d, rows) in enumerate(data["trajectories"].items()):
        col = OKABE_ITO[i]
        y = np.asarray(rows["rate"])
        a1.errorbar(rows["c"], y, yerr=_yerr(y, rows["low"], rows["high"]), fmt="o-",
                    color=col, ms=3.5, capsize=2, lw=1.2, label=f"d={d}: trajectories, K=1")
        a1.plot(rows["c"], rows["one_step_same_n"], "x:", color=col, lw=1, ms=5,
                label=f"d={d}: one-step, K=1, same n")
    a1.set_xlabel("trajectory length c  (n = d·c)")
    a1.set_ylabel("success rate  P(‖θ̂−θ*‖ < 1)")
    a1.set_ylim(-0.03, 1.03)
    a1.set_title("ours: NestedSector, policy-induced trajectories", fontsize=8.5)
    a1.legend(fontsize=6.3, loc="center right")
    ch = data["chain"]
    a2.plot(ch["d"], ch["error_max"], "o-", color=OKABE_ITO[2], label="benign chain: max error, K=1, n=d")
    a2.plot(ch["d"], ch["ns_error_median"], "s-", color=OKABE_ITO[3], label="NestedSector: median error, K=1, n=d")
    a2.axhline(1e-6, color=BOUND_COLOR, ls="--", lw=1, label="exact threshold 1e-6")
    a2.set_xscale("log", base=2)
    a2.set_yscale("log")
    a2.set_ylim(1e-16, 10)
    a2.set_xlabel("d")
    a2.set_ylabel("‖θ̂−θ*‖")
    a2.set_title("ours: benign linear chain vs NestedSector", fontsize=8.5)
    a2.legend(fontsize=6.3, loc="center right")
    _note(fig, "ours: a single batch of long trajectories escapes every level of our instance (it only resists "
               "one-step policy-free queries); the paper's policy-induced bound uses a different construction.")
    return FigureOutput(fig, data=data, notes="All ours.")


__all__ = ["k1_wall_data", "success_vs_n_data", "batches_vs_d_data", "contrasts_data", "make_k1_wall",
           "make_success_vs_n", "make_batches_vs_d", "make_contrasts", "PAPER_CLAIM"]

