"""SQIRL and the effective horizon: empirical sample complexity against the effective-horizon bounds.

Papers: Laidlaw, Zhu, Russell & Dragan, ICLR 2024 (arXiv:2312.08369; SQIRL, stochastic effective
horizon) and Laidlaw, Russell & Dragan, NeurIPS 2023 (arXiv:2304.09853; GORP, the effective horizon,
BRIDGE). The papers' figures plot deep-RL sample complexity on the 155 BRIDGE(-Sticky) MDPs against
effective-horizon quantities (ICLR Fig. 2 bins environments by ``k``); their exact settings could not be
retrieved, so these figures are a **reconstructed setting** on exact tabular models:

* ``sqirl-sample-complexity``: for every instance, the median over replicates of the number of episodes
  after which the recommended policy is ``epsilon``-optimal (``epsilon = 0.01`` of ``V* - V^worst``,
  exact evaluation), for SQIRL (``k`` = the ``k`` achieving the effective horizon, ``m`` doubling from 1),
  GORP (same ``k``), epsilon-greedy Q-learning and UCBVI-BF (dense models only), against the effective
  horizon of the instance; the GORP bound ``T A^{H_k}`` (NeurIPS Thm. 5.4) and the reconstructed SQIRL
  bound (ICLR Thm. 3.6, constant 1) are drawn at each instance.
* ``sqirl-effective-horizon``: the exact effective horizon against the horizon ``T`` across the family
  (left), and ``H_k`` against ``k`` for a few instances (right).

Instances (our design, documented in the figures' notes): combination locks (a chain of ``d`` states,
one correct action each, reward 1 at the end, ``T = 8``; with ``d`` the effective horizon is exactly
``d``), deterministic and sticky; Garnets with sparse 0/1 rewards (density 0.15) and, in the second
figure, standard dense-reward Garnets (for which the simple bound is vacuous: ``H = T``); and the BRIDGE
MDPs found in ``../shared/data/bridge`` (``RLTHEORY_BRIDGE_DIR`` overrides), deterministic and with
sticky actions (p = 0.25). Without the BRIDGE files the recipes still run on the other instances and
say so in their notes.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from rltheory.algorithms import GORP, SQIRL, UCBVI, QLearning
from rltheory.algorithms.episodic import first_epsilon_optimal
from rltheory.bounds.effective_horizon import analyze
from rltheory.bounds.sqirl import gorp_episodes, normalized_suboptimality, sqirl_episodes
from rltheory.experiments import sweep
from rltheory.figures import FigureOutput, figure
from rltheory.mdps import bridge, combination_lock, garnet
from rltheory.models import FiniteHorizonMDP
from rltheory.plotting import OKABE_ITO, subplots

#: Normalised suboptimality at which a policy counts as found: ``(V* - V^pi) / (V* - V^worst) <= EPSILON``.
EPSILON = 0.01
#: Confidence of the bounds drawn.
DELTA = 0.1
#: episodes, replicates per mode
BUDGET = {True: (6_000, 8), False: (200_000, 32)}
LOCK_HORIZON = 8
LOCK_DEPTHS = {True: (1, 2, 3, 4, 5), False: (1, 2, 3, 4, 5, 6, 7)}
#: UCBVI needs a dense model and plans over S x S per step: only instances with S H at most this.
UCBVI_MAX_SH = 200
#: GORP enumerates A^k action sequences per step: skipped beyond this many.
GORP_MAX_SEQUENCES = 256
COLORS = {"SQIRL": OKABE_ITO[0], "GORP": OKABE_ITO[1], "Q-learning": OKABE_ITO[2], "UCBVI-BF": OKABE_ITO[3]}
MARKERS = {"lock": "o", "sparse Garnet": "s", "BRIDGE": "D", "Garnet": "v"}


# ---------------------------------------------------------------------------- instances

# combination_lock lives in rltheory.mdps (mdps/locks.py); it is re-exported here for older imports.
__all__ = ["combination_lock", "sparse_garnet", "learning_instances", "analysis_instances", "run",
           "make_sample_complexity", "make_effective_horizon"]


def sparse_garnet(S: int = 8, A: int = 2, branching: int = 1, horizon: int = 6, seed: int = 0,
                  density: float = 0.15) -> FiniteHorizonMDP:
    """Garnet transitions (:func:`rltheory.mdps.garnet`) with sparse 0/1 rewards (each pair pays 1 with
    probability ``density``; at least one does): dense random rewards make every Garnet's simple effective
    horizon equal ``T`` (see the second figure)."""
    base = garnet(S=S, A=A, branching=branching, horizon=horizon, seed=seed)
    rng = np.random.default_rng([seed, 7])
    R = (rng.random((S, A)) < density).astype(float)
    if not R.any():
        R[rng.integers(S), rng.integers(A)] = 1.0
    return FiniteHorizonMDP(base.P, R, base.mu, horizon,
                            name=f"SparseGarnet(S={S},A={A},b={branching},T={horizon},seed={seed})")


def bridge_dir() -> Path | None:
    """``$RLTHEORY_BRIDGE_DIR`` when set (an empty or missing folder means "no BRIDGE files"), else
    ``../shared/data/bridge`` beside the checkout or the working folder; ``None`` when there is none."""
    env = os.environ.get("RLTHEORY_BRIDGE_DIR")
    if env is not None:
        candidates = [Path(env)]
    else:
        candidates = [Path(__file__).resolve().parents[2] / "shared" / "data" / "bridge",
                      Path.cwd().parent / "shared" / "data" / "bridge"]
    for c in candidates:
        if c.is_dir() and any(c.glob("*.npz")):
            return c
    return None


#: BRIDGE MDPs in the learners' figure (short horizons) and in the analysis figure, per mode.
BRIDGE_LEARN = {True: ("freeway_10_fs30",), False: ("freeway_10_fs30", "maze_easy_l0_30_fs1")}
BRIDGE_ANALYSE = {True: ("freeway_10_fs30", "maze_easy_l0_30_fs1", "MiniGrid-KeyCorridorS3R1-v0",
                         "MiniGrid-Empty-16x16-DistanceShaped-v0"),
                  False: ("freeway_10_fs30", "maze_easy_l0_30_fs1", "MiniGrid-KeyCorridorS3R1-v0",
                          "MiniGrid-Empty-16x16-DistanceShaped-v0", "MiniGrid-UnlockPickup-OpenDoorsPickupShaped-v0")}


def bridge_models(names, sticky_too: bool = True) -> list[FiniteHorizonMDP]:
    folder = bridge_dir()
    if folder is None:
        return []
    out = []
    for name in names:
        path = folder / f"{name}.npz"
        if path.is_file():
            out.append(bridge.load(path))
            if sticky_too:
                out.append(bridge.load(path, sticky=bridge.STICKY_PROBABILITY))
    return out


def learning_instances(quick: bool) -> list[tuple[str, FiniteHorizonMDP]]:
    """``(group, model)`` pairs of the sample-complexity figure."""
    out = []
    for d in LOCK_DEPTHS[quick]:
        out += [("lock", combination_lock(d)), ("lock", combination_lock(d, sticky=bridge.STICKY_PROBABILITY))]
    for seed in range(3 if quick else 8):
        out += [("sparse Garnet", sparse_garnet(branching=1, seed=seed)),
                ("sparse Garnet", sparse_garnet(branching=2, seed=seed))]
    out += [("BRIDGE", m) for m in bridge_models(BRIDGE_LEARN[quick])]
    return out


def analysis_instances(quick: bool) -> list[tuple[str, FiniteHorizonMDP]]:
    """``(group, model)`` pairs of the effective-horizon figure."""
    out = [("lock", combination_lock(d)) for d in LOCK_DEPTHS[quick]]
    for T in (3, 4, 6, 8) if quick else (3, 4, 5, 6, 8, 10, 12):
        for seed in range(2 if quick else 4):
            out.append(("Garnet", garnet(S=8, A=2, branching=2, horizon=T, seed=seed)))
        for seed in range(4 if quick else 10):
            out.append(("sparse Garnet", sparse_garnet(branching=1 + seed % 2, horizon=T, seed=seed)))
    out += [("BRIDGE", m) for m in bridge_models(BRIDGE_ANALYSE[quick])
            if not (quick and m.S > 20_000)]
    return out


# ---------------------------------------------------------------------------- runs


def learners(mdp: FiniteHorizonMDP, k: int) -> dict:
    """``label -> algorithm`` for one instance (``k``: SQIRL's and GORP's planning depth)."""
    algos = {"SQIRL": SQIRL(k=k, episodes_per_timestep=1), "Q-learning": QLearning(epsilon=0.1)}
    if mdp.A ** min(k, mdp.H) <= GORP_MAX_SEQUENCES:
        algos["GORP"] = GORP(k=k)
    if mdp.S * mdp.H <= UCBVI_MAX_SH:
        algos["UCBVI-BF"] = UCBVI(bonus="bernstein", bonus_scale=0.01)
    return algos


def sample_complexity(trace, analysis) -> np.ndarray:
    """Per-replicate episodes until ``EPSILON``-optimal (``inf`` if never), from a trace's exact values."""
    values = trace["values"] if "values" in trace else analysis.v_star - trace["regret"]
    sub = normalized_suboptimality(values, analysis.v_star, analysis.v_worst)
    return first_epsilon_optimal(sub, EPSILON + 1e-12)


def run(quick: bool = True, seed: int = 0) -> list[dict]:
    """One record per instance: analysis, bounds and per-learner sample complexities."""
    episodes, replicates = BUDGET[bool(quick)]
    records = []
    for group, mdp in learning_instances(quick):
        a = analyze(mdp)
        k = a.best_k()
        configs = [(label, algo, mdp) for label, algo in learners(mdp, k).items()]
        traces = sweep(configs, episodes, replicates=replicates, seed=seed,
                       cache_dir=False if quick else None, progress=False)
        H_k = a.horizon_k(k) if k in a.ks else a.effective_horizon
        D = mdp.S * mdp.A
        rec = {"name": mdp.name, "group": group, "S": mdp.S, "A": mdp.A, "T": mdp.H, "k": k,
               "effective_horizon": a.effective_horizon, "min_k": a.min_k, "H_k": H_k,
               "gorp_bound": float(gorp_episodes(H_k, mdp.A, mdp.H)),
               "sqirl_bound": float(sqirl_episodes(k, H_k, mdp.A, mdp.H, EPSILON, DELTA, D)),
               "sample_complexity": {}, "solved_fraction": {}}
        for label, tr in traces.items():
            sc = sample_complexity(tr, a)
            rec["sample_complexity"][label] = float(np.median(sc))
            rec["solved_fraction"][label] = float(np.isfinite(sc).mean())
        records.append(rec)
    return records


# ---------------------------------------------------------------------------- figures


def _jitter(i: int) -> float:
    return 0.06 * ((i % 5) - 2)


@figure("sqirl-sample-complexity",
        title="Empirical sample complexity of SQIRL, GORP, Q-learning and UCBVI against the effective horizon",
        paper="Laidlaw, Zhu, Russell & Dragan (ICLR 2024, arXiv:2312.08369); Laidlaw, Russell & Dragan "
              "(NeurIPS 2023, arXiv:2304.09853)",
        source="ICLR 2024 Thm. 3.6 and Fig. 2 / NeurIPS 2023 Thm. 5.4, on exact tabular models",
        status="reconstructed setting",
        description="Median episodes until the recommended policy is 1%-optimal (exact values), per instance, "
                    "against its exact effective horizon; bounds per instance (GORP T A^{H_k}; SQIRL "
                    "k T^2 A^{H_k} D ln(1/delta)/epsilon, constant reconstructed). Log scale.")
def make_sample_complexity(quick: bool) -> FigureOutput:
    records = run(quick)
    episodes, replicates = BUDGET[bool(quick)]
    fig, ax = subplots(1, 1, figsize=(7.2, 4.6))
    cap = episodes * 1.6
    for j, label in enumerate(COLORS):
        for rec in records:
            if label not in rec["sample_complexity"]:
                continue
            sc = rec["sample_complexity"][label]
            x = rec["effective_horizon"] + _jitter(j)
            solved = math.isfinite(sc)
            ax.scatter([x], [sc if solved else cap], marker=MARKERS[rec["group"]], s=26,
                       facecolors=COLORS[label] if solved else "none", edgecolors=COLORS[label], linewidths=1.0,
                       label=None)
    order = sorted(range(len(records)), key=lambda i: records[i]["effective_horizon"])
    xs = [records[i]["effective_horizon"] for i in order]
    ax.plot(xs, [records[i]["gorp_bound"] for i in order], linestyle="none", color="k", marker="_", markersize=11,
            markeredgewidth=1.4, label="GORP bound T A^{H_k} per instance (NeurIPS Thm. 5.4)")
    ax.plot(xs, [records[i]["sqirl_bound"] for i in order], linestyle="none", color="#777777", marker="_",
            markersize=11, markeredgewidth=1.4, label="SQIRL bound per instance (ICLR Thm. 3.6, reconstructed C)")
    grid = np.linspace(1, max(xs), 50)
    ax.plot(grid, LOCK_HORIZON * 2.0 ** grid, "k--", linewidth=0.8, label="T A^H for T = 8, A = 2 (locks)")
    for label, color in COLORS.items():
        ax.scatter([], [], color=color, marker="o", s=26, label=label)
    for group, marker in MARKERS.items():
        if any(r["group"] == group for r in records):
            ax.scatter([], [], facecolors="none", edgecolors="#444444", marker=marker, s=26, label=group)
    ax.axhline(cap, color="#bbbbbb", linewidth=0.8)
    ax.text(min(xs), cap * 1.15, f"not reached within {episodes:,} episodes (hollow)", fontsize=7, color="#777777")
    ax.set_yscale("log")
    ax.set_xlabel("effective horizon H (exact, simple bound; steps)")
    ax.set_ylabel(f"episodes until {EPSILON:.0%}-optimal (median of {replicates})")
    ax.set_title("Sample complexity vs effective horizon (locks, sparse Garnets" +
                 (", BRIDGE)" if any(r["group"] == "BRIDGE" for r in records) else "; no BRIDGE files)"))
    ax.legend(fontsize=6.5, loc="upper left", ncol=2)
    have_bridge = any(r["group"] == "BRIDGE" for r in records)
    notes = ("Reconstructed setting: exact tabular models instead of the papers' deep-RL runs. Instances: "
             "combination locks (T = 8, depth d: effective horizon d), deterministic and sticky (p = 0.25); "
             "Garnets with sparse 0/1 rewards (b = 1 deterministic, b = 2 stochastic, T = 6); " +
             ("BRIDGE " + ", ".join(BRIDGE_LEARN[quick]) + " deterministic and sticky (CC-BY-4.0)."
              if have_bridge else "no BRIDGE files were found (../shared/data/bridge), so the figure shows "
                                  "the other instances only.") +
             f" epsilon = {EPSILON} of V* - V_worst; SQIRL and GORP use the k achieving the effective horizon, m "
             "doubling from 1 (anytime passes); Q-learning epsilon-greedy 0.1 with step (H+1)/(H+n); UCBVI-BF "
             "bonus scale 0.01 on dense instances with S T <= 200. Bounds: GORP T A^{H_k} episodes (success "
             "probability 1/2); SQIRL Theorem 3.6 with constant 1 and D = S A (reconstructed).")
    return FigureOutput(fig, {"records": records, "epsilon": EPSILON, "delta": DELTA, "episodes": episodes,
                              "replicates": replicates}, notes)


@figure("sqirl-effective-horizon",
        title="Exact effective horizon vs horizon across locks, Garnets and BRIDGE MDPs",
        paper="Laidlaw, Russell & Dragan (NeurIPS 2023, arXiv:2304.09853); Laidlaw, Zhu, Russell & Dragan "
              "(ICLR 2024, arXiv:2312.08369)",
        source="NeurIPS 2023 Thm. 5.4 (simple bound), exact analysis of spec C2.3/C2.4",
        status="reconstructed setting",
        description="Left: effective horizon against T (diagonal: vacuous). Right: H_k against k.")
def make_effective_horizon(quick: bool) -> FigureOutput:
    inst = analysis_instances(quick)
    rows = []
    fig, (ax, ax2) = subplots(1, 2, figsize=(10, 4.2))
    for group, mdp in inst:
        a = analyze(mdp)
        sticky = bool(mdp.meta.get("sticky"))
        rows.append({"name": mdp.name, "group": group, "T": mdp.H, "S": mdp.S, "A": mdp.A, "sticky": sticky,
                     "effective_horizon": a.effective_horizon, "min_k": a.min_k, "epw": a.epw,
                     "ks": a.ks, "H_k": a.horizons_k, "seconds": a.seconds})
    groups = list(dict.fromkeys(r["group"] for r in rows))
    palette = dict(zip(["lock", "sparse Garnet", "Garnet", "BRIDGE"], OKABE_ITO[:4], strict=True))
    for g in sorted(groups, key=lambda g: g == "Garnet"):  # dense Garnets last, on top of the diagonal
        for sticky in (False, True):
            sel = [r for r in rows if r["group"] == g and r["sticky"] == sticky]
            if not sel:
                continue
            T = np.array([r["T"] for r in sel], float)
            jitter = 1.0 + 0.03 * (np.arange(len(sel)) % 3 - 1)
            ax.scatter(T * jitter, [r["effective_horizon"] for r in sel], marker=MARKERS.get(g, "o"),
                       s=18 if g == "Garnet" else 30,
                       facecolors=palette[g] if not sticky else "none", edgecolors=palette[g],
                       label=f"{g}" + (" (sticky)" if sticky else ""))
    top = max(r["T"] for r in rows)
    ax.plot([1, top], [1, top], "k--", linewidth=0.9, label="H = T (vacuous)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("horizon T (steps)")
    ax.set_ylabel("effective horizon H (steps)")
    ax.set_title("Effective horizon vs horizon")
    ax.legend(fontsize=6.5, loc="upper left")
    shown = [r for r in rows if r["group"] == "lock" and len(r["ks"])][1:4:2]
    shown += [r for r in rows if r["group"] == "BRIDGE" and len(r["ks"])][:4]
    line_colors = [c for c in OKABE_ITO if c != "#F0E442"]  # no yellow lines
    for i, r in enumerate(shown):
        ax2.plot(r["ks"], r["H_k"], marker="o", markersize=3, color=line_colors[i % len(line_colors)],
                 linewidth=1.2, linestyle="-" if not r["sticky"] else "--", label=r["name"][:38])
    ax2.set_xlabel("planning depth k")
    ax2.set_ylabel("H_k = k + log_A m_k (steps)")
    ax2.set_title("H_k for the k that work (H = min_k H_k)")
    ax2.legend(fontsize=6, loc="best")
    have_bridge = any(r["group"] == "BRIDGE" for r in rows)
    notes = ("Exact analysis (rltheory.bounds.effective_horizon.analyze). Dense-reward Garnets sit on the diagonal "
             "(the simple bound is vacuous there); sparse-reward Garnets and locks fall below it. " +
             ("BRIDGE (CC-BY-4.0): " + ", ".join(BRIDGE_ANALYSE[quick]) + ", deterministic and sticky"
              + ("; UnlockPickup (17,225 states) only in full mode." if quick else ".")
              if have_bridge else "No BRIDGE files were found (../shared/data/bridge): locks and Garnets only.")
             + " For sticky models the simple bound is our generalisation (successors over the next-state support).")
    return FigureOutput(fig, {"rows": rows}, notes)
