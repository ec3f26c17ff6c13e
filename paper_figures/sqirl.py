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
import warnings
from pathlib import Path

import numpy as np

from rltheory.algorithms import GORP, SQIRL, UCBVI, QLearning
from rltheory.algorithms.effective_horizon_analysis import analyze
from rltheory.algorithms.episodic import EpsilonOptimal, first_epsilon_optimal
from rltheory.bounds.sqirl import gorp_episodes, normalized_suboptimality, sqirl_episodes
from rltheory.experiments import sweep
from rltheory.figures import FigureOutput, figure
from rltheory.mdps import bridge, combination_lock, garnet
from rltheory.models import FiniteHorizonMDP
from rltheory.plotting import OKABE_ITO, figure_legend, integer_ticks, subplots

from ._progress import steps

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
__all__ = ["combination_lock", "sparse_garnet", "learning_instances", "analysis_instances", "learners",
           "sample_complexity", "run", "effective_horizon_rows", "bridge_dir", "missing_inputs", "MissingDataWarning",
           "budget", "lock_depths", "make_sample_complexity", "make_effective_horizon"]


def budget(quick: bool = True) -> tuple[int, int]:
    """``(episodes, replicates)`` of the sample-complexity figure in quick or full mode."""
    return BUDGET[bool(quick)]


def lock_depths(quick: bool = True) -> tuple[int, ...]:
    """Depths of the combination locks of the figures in quick or full mode."""
    return LOCK_DEPTHS[bool(quick)]


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


class MissingDataWarning(UserWarning):
    """Shared input data (the BRIDGE MDPs) were not found: figures are made without them."""


_warned_missing = False


def bridge_candidates() -> list[Path]:
    """Folders searched for BRIDGE ``.npz`` files, in order (see :func:`bridge_dir`)."""
    env = os.environ.get("RLTHEORY_BRIDGE_DIR")
    if env is not None:
        return [Path(env)]
    return [Path(__file__).resolve().parents[2] / "shared" / "data" / "bridge",
            Path.cwd().parent / "shared" / "data" / "bridge"]


def bridge_dir(*, warn: bool = True) -> Path | None:
    """``$RLTHEORY_BRIDGE_DIR`` when set (an empty or missing folder means "no BRIDGE files"), else
    ``../shared/data/bridge`` beside the checkout or the working folder; ``None`` when there is none.

    The first time no folder is found (per process), a :class:`MissingDataWarning` says so loudly, naming
    the folders searched and the figures affected; the figures' JSON then lists the missing input under
    ``data.missing_inputs`` and MANIFEST.md marks their rows."""
    global _warned_missing
    candidates = bridge_candidates()
    for c in candidates:
        if c.is_dir() and any(c.glob("*.npz")):
            return c
    if warn and not _warned_missing:
        _warned_missing = True
        bar = "!" * 78
        warnings.warn(MissingDataWarning(
            f"\n{bar}\nBRIDGE MDPs NOT FOUND. Searched: {', '.join(map(str, candidates))}.\n"
            "sqirl-sample-complexity, sqirl-effective-horizon and the SQIRL notebook are made WITHOUT the BRIDGE "
            "instances\n(locks and Garnets only); MANIFEST.md marks their rows. Put the shared folder beside the "
            f"checkout\n(../shared/data/bridge) or set RLTHEORY_BRIDGE_DIR.\n{bar}"), stacklevel=2)
    return None


def missing_inputs() -> list[str]:
    """Inputs the SQIRL figures would use but cannot find (for ``data.missing_inputs``); empty when complete."""
    if bridge_dir() is None:
        return ["BRIDGE MDPs (../shared/data/bridge or $RLTHEORY_BRIDGE_DIR)"]
    return []


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


def stop_rule(analysis) -> EpsilonOptimal:
    """The runs' stop rule: every replicate has been ``EPSILON``-optimal once, by the test of
    :func:`sample_complexity` (same function, same ``V*`` and ``V^worst``, same tolerance), so stopping there
    changes no sample complexity; the episodes after it are never read."""
    return EpsilonOptimal(analysis.v_star, analysis.v_worst, EPSILON + 1e-12)


def sample_complexity(trace, analysis) -> np.ndarray:
    """Per-replicate episodes until ``EPSILON``-optimal (``inf`` if never), from a trace's exact values.

    Episodes a run did not play (NaN: it stopped once all its replicates were done, :func:`stop_rule`) count as
    not optimal; they all come after each replicate's first optimal episode."""
    values = trace["values"] if "values" in trace else analysis.v_star - trace["regret"]
    values = np.where(np.isnan(values), analysis.v_worst, values)
    sub = normalized_suboptimality(values, analysis.v_star, analysis.v_worst)
    return first_epsilon_optimal(sub, EPSILON + 1e-12)


def run(quick: bool = True, seed: int = 0, instances: list | None = None, only: tuple | None = None) -> list[dict]:
    """One record per instance: analysis, bounds and per-learner sample complexities.

    ``instances``: ``(group, model)`` pairs (default :func:`learning_instances`); ``only``: learner labels
    to run (default all of :func:`learners`; each learner's runs do not depend on the others).
    ``records[i]["runs"][label]`` holds every replicate's episodes until ``EPSILON``-optimal (``inf``: not
    within the budget), and ``sample_complexity`` / ``solved_fraction`` their median and the fraction that
    finished.
    """
    episodes, replicates = BUDGET[bool(quick)]
    instances = learning_instances(quick) if instances is None else list(instances)
    records = []
    bar = steps(instances, f"sqirl-sample-complexity: {len(instances)} instances x up to 4 learners x "
                           f"{replicates} runs x {episodes:,} episodes", unit="instance")
    for group, mdp in bar:
        bar.set_postfix_str(mdp.name, refresh=False)
        a = analyze(mdp)
        k = a.best_k()
        configs = [(label, algo, mdp) for label, algo in learners(mdp, k).items() if only is None or label in only]
        traces = sweep(configs, episodes, replicates=replicates, seed=seed, cache_dir=False if quick else None,
                       progress=False, stop_when=stop_rule(a))
        H_k = a.horizon_k(k) if k in a.ks else a.effective_horizon
        D = mdp.S * mdp.A
        rec = {"name": mdp.name, "group": group, "S": mdp.S, "A": mdp.A, "T": mdp.H, "k": k,
               "effective_horizon": a.effective_horizon, "min_k": a.min_k, "H_k": H_k,
               "gorp_bound": float(gorp_episodes(H_k, mdp.A, mdp.H)),
               "sqirl_bound": float(sqirl_episodes(k, H_k, mdp.A, mdp.H, EPSILON, DELTA, D)),
               "sample_complexity": {}, "solved_fraction": {}, "quartiles": {}, "runs": {}}
        for label, tr in traces.items():
            sc = sample_complexity(tr, a)
            rec["runs"][label] = sc
            rec["sample_complexity"][label] = float(np.median(sc))
            rec["quartiles"][label] = [float(q) for q in np.percentile(sc, [25, 75], method="nearest")]
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
        description="Median and interquartile range over runs of the episodes until the recommended policy is "
                    "1%-optimal (exact values), per instance, against its exact effective horizon, with the "
                    "fraction of runs that got there; GORP's bound T A^{H_k} per instance; the SQIRL bound "
                    "(k T^2 A^{H_k} D ln(1/delta)/epsilon, constant reconstructed) is 3-9 decades above the data "
                    "and given under the title. Log scale.")
def make_sample_complexity(quick: bool) -> FigureOutput:
    records = run(quick)
    episodes, replicates = BUDGET[bool(quick)]
    fig, (ax, axf) = subplots(2, 1, figsize=(7.6, 7.4), gridspec_kw={"height_ratios": (3, 1.1)})
    cap = episodes * 1.6
    for j, label in enumerate(COLORS):
        for rec in records:
            if label not in rec["sample_complexity"]:
                continue
            sc = rec["sample_complexity"][label]
            lo, hi = rec["quartiles"][label]
            x = rec["effective_horizon"] + _jitter(j)
            solved = math.isfinite(sc)
            color, marker = COLORS[label], MARKERS[rec["group"]]
            if math.isfinite(lo) and min(hi, cap) > lo:  # interquartile range of the runs (open above: unsolved)
                ax.plot([x, x], [lo, min(hi, cap)], color=color, linewidth=1.0, alpha=0.8,
                        linestyle="-" if math.isfinite(hi) else ":")
            ax.scatter([x], [sc if solved else cap], marker=marker, s=24, zorder=3,
                       facecolors=color if solved else "none", edgecolors=color, linewidths=1.0)
            axf.scatter([x], [rec["solved_fraction"][label]], marker=marker, s=18, facecolors=color,
                        edgecolors=color, linewidths=0.8)
    order = sorted(range(len(records)), key=lambda i: records[i]["effective_horizon"])
    xs = [records[i]["effective_horizon"] for i in order]
    ax.plot(xs, [records[i]["gorp_bound"] for i in order], linestyle="none", color="k", marker="_", markersize=11,
            markeredgewidth=1.4, label="GORP bound T A^{H_k} per instance (NeurIPS Thm. 5.4)")
    grid = np.linspace(1, max(xs), 50)
    ax.plot(grid, LOCK_HORIZON * 2.0 ** grid, "k--", linewidth=0.8, label="T A^H for T = 8, A = 2 (locks)")
    for label, color in COLORS.items():
        ax.scatter([], [], color=color, marker="o", s=24, label=label)
    for group, marker in MARKERS.items():
        if any(r["group"] == group for r in records):
            ax.scatter([], [], facecolors="none", edgecolors="#444444", marker=marker, s=24, label=group)
    ax.plot([], [], color="#444444", linewidth=1.0, label="interquartile range of the runs")
    ax.axhline(cap, color="#bbbbbb", linewidth=0.8)
    unreached = {label: sum(1 for r in records if not math.isfinite(r["sample_complexity"].get(label, 0.0)))
                 for label in COLORS}
    which = ", ".join(f"{label} on {n} instance{'s' if n > 1 else ''}" for label, n in unreached.items() if n)
    ax.text(min(xs), cap * 1.12, f"median not reached within {episodes:,} episodes" + (f": {which}" if which else "") +
            "\n(hollow, on this line; dotted range: upper quartile not reached)", fontsize=7, color="#777777")
    ax.set_yscale("log")
    top = max(cap * 3, 1.5 * max(r["gorp_bound"] for r in records))
    ax.set_ylim(0.7, top)
    ax.set_ylabel(f"episodes until {EPSILON:.0%}-optimal\n(median and IQR of {replicates} runs)")
    ax.set_title("Sample complexity vs effective horizon (locks, sparse Garnets" +
                 (", BRIDGE)" if any(r["group"] == "BRIDGE" for r in records) else "; no BRIDGE files)"), pad=24)
    ratio = np.array([r["sqirl_bound"] / r["sample_complexity"]["SQIRL"] for r in records
                      if math.isfinite(r["sample_complexity"].get("SQIRL", math.inf))])
    sq = np.array([r["sqirl_bound"] for r in records])
    vacuity = {"sqirl_bound_min": float(sq.min()), "sqirl_bound_max": float(sq.max()),
               "sqirl_bound_over_median_min": float(ratio.min()) if ratio.size else None,
               "sqirl_bound_over_median_max": float(ratio.max()) if ratio.size else None}
    text = (f"SQIRL bound (ICLR Thm. 3.6, constant 1, reconstructed): {sq.min():.1e} to {sq.max():.1e} "
            "episodes per instance")
    if ratio.size:
        text += (f",\n{ratio.min():.0e} to {ratio.max():.0e} times SQIRL's median: vacuous here, not drawn")
    # above the panel, under its title: inside it, the note would cover the runs solved in a few episodes
    ax.text(0.5, 1.01, text, transform=ax.transAxes, ha="center", va="bottom", fontsize=6.5, color="#444444")
    axf.set_ylim(-0.05, 1.08)
    axf.set_ylabel("fraction of runs\nthat got there")
    axf.set_xlabel("effective horizon H (exact, simple bound; steps)")
    axf.set_xlim(ax.get_xlim())
    ax.set_xticks(axf.get_xticks())
    ax.set_xlim(axf.get_xlim())
    figure_legend(fig, ax, ncol=4, fontsize=7)
    have_bridge = any(r["group"] == "BRIDGE" for r in records)
    notes = ("Reconstructed setting: exact tabular models instead of the papers' deep-RL runs. Instances: "
             "combination locks (T = 8, depth d: effective horizon d), deterministic and sticky (p = 0.25); "
             "Garnets with sparse 0/1 rewards (b = 1 deterministic, b = 2 stochastic, T = 6); " +
             ("BRIDGE " + ", ".join(BRIDGE_LEARN[quick]) + " deterministic and sticky (CC-BY-4.0)."
              if have_bridge else "no BRIDGE files were found (../shared/data/bridge), so the figure shows "
                                  "the other instances only.") +
             f" epsilon = {EPSILON} of V* - V_worst; SQIRL and GORP use the k achieving the effective horizon, m "
             "doubling from 1 (anytime passes); Q-learning epsilon-greedy 0.1 with step (H+1)/(H+n); UCBVI-BF "
             "bonus scale 0.01 on dense instances with S T <= 200. Markers: median over runs (hollow: not reached "
             "within the budget); bars: interquartile range; lower panel: fraction of runs that reached "
             "epsilon-optimality. Bounds: GORP T A^{H_k} episodes (success probability 1/2), drawn; SQIRL "
             "Theorem 3.6 with constant 1 and D = S A (reconstructed), " +
             (f"{vacuity['sqirl_bound_over_median_min']:.0e} to {vacuity['sqirl_bound_over_median_max']:.0e} "
              "times SQIRL's median (vacuous at these sizes), " if ratio.size else "") +
             "in data.records[*].sqirl_bound, not drawn.")
    return FigureOutput(fig, {"records": records, "epsilon": EPSILON, "delta": DELTA, "episodes": episodes,
                              "replicates": replicates, "sqirl_bound_vacuity": vacuity,
                              "missing_inputs": missing_inputs()}, notes)


def effective_horizon_rows(quick: bool = True, instances: list | None = None) -> list[dict]:
    """The exact analysis of every instance of the effective-horizon figure (default
    :func:`analysis_instances`): one dict per instance with ``T, S, A, sticky, effective_horizon, min_k, epw,
    ks, H_k``. No wall time: the figure's JSON must be reproducible."""
    instances = analysis_instances(quick) if instances is None else list(instances)
    rows = []
    for group, mdp in steps(instances, f"sqirl-effective-horizon: exact analysis of {len(instances)} MDPs",
                            unit="MDP"):
        a = analyze(mdp)
        rows.append({"name": mdp.name, "group": group, "T": mdp.H, "S": mdp.S, "A": mdp.A,
                     "sticky": bool(mdp.meta.get("sticky")), "effective_horizon": a.effective_horizon,
                     "min_k": a.min_k, "epw": a.epw, "ks": a.ks, "H_k": a.horizons_k})
    return rows


@figure("sqirl-effective-horizon",
        title="Exact effective horizon vs horizon across locks, Garnets and BRIDGE MDPs",
        paper="Laidlaw, Russell & Dragan (NeurIPS 2023, arXiv:2304.09853); Laidlaw, Zhu, Russell & Dragan "
              "(ICLR 2024, arXiv:2312.08369)",
        source="NeurIPS 2023 Thm. 5.4 (simple bound), exact analysis of spec C2.3/C2.4",
        status="reconstructed setting",
        description="Left: effective horizon against T (diagonal: vacuous). Right: H_k against k.")
def make_effective_horizon(quick: bool) -> FigureOutput:
    rows = effective_horizon_rows(quick)
    fig, (ax, ax2) = subplots(1, 2, figsize=(10, 4.2))
    groups = list(dict.fromkeys(r["group"] for r in rows))
    palette = dict(zip(["lock", "sparse Garnet", "Garnet", "BRIDGE"], OKABE_ITO[:4], strict=True))
    # each group sits at its own small offset from T, so dense Garnets (on the diagonal) and sparse Garnets
    # (often on it too) are side by side instead of on top of each other
    offset = {"Garnet": 0.93, "sparse Garnet": 1.07, "lock": 1.0, "BRIDGE": 1.0}
    for g in groups:
        for sticky in (False, True):
            sel = [r for r in rows if r["group"] == g and r["sticky"] == sticky]
            if not sel:
                continue
            T = np.array([r["T"] for r in sel], float)
            jitter = offset.get(g, 1.0) + 0.015 * (np.arange(len(sel)) % 3 - 1)
            ax.scatter(T * jitter, [r["effective_horizon"] for r in sel], marker=MARKERS.get(g, "o"), s=30,
                       facecolors=palette[g] if not sticky else "none", edgecolors=palette[g], alpha=0.85,
                       label=f"{g}" + (" (sticky)" if sticky else ""))
    top = max(r["T"] for r in rows)
    ax.plot([1, top], [1, top], "k--", linewidth=0.9, label="H = T (vacuous)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    if top < 30:  # no BRIDGE MDPs: T spans less than a decade, label the horizons themselves
        integer_ticks(ax, [1] + [r["T"] for r in rows], axis="x")
        integer_ticks(ax, [1, 2, 3, 4, 6, 8, 12], axis="y")
    ax.set_xlabel("horizon T (steps)")
    ax.set_ylabel("effective horizon H (steps)")
    ax.set_title("Effective horizon vs horizon" + ("" if top >= 30 else " (no BRIDGE files found)"))
    ax.legend(fontsize=6.5, loc="upper left")
    shown = [r for r in rows if r["group"] == "lock" and len(r["ks"])][1:4:2]
    shown += [r for r in rows if r["group"] == "BRIDGE" and len(r["ks"])][:4]
    line_colors = [c for c in OKABE_ITO if c != "#F0E442"]  # no yellow lines
    for i, r in enumerate(shown):
        ax2.plot(r["ks"], r["H_k"], marker="o", markersize=3, color=line_colors[i % len(line_colors)],
                 linewidth=1.2, linestyle="-" if not r["sticky"] else "--", label=r["name"][:38])
    integer_ticks(ax2, [k for r in shown for k in r["ks"]], axis="x")
    ax2.set_xlabel("planning depth k")
    ax2.set_ylabel("H_k = k + log_A m_k (steps)")
    ax2.set_title("H_k for the k that work (H = min_k H_k)")
    ax2.legend(fontsize=6, loc="best")
    have_bridge = any(r["group"] == "BRIDGE" for r in rows)
    notes = ("Exact analysis (rltheory.algorithms.effective_horizon_analysis.analyze). Dense-reward Garnets sit on "
             "the diagonal (the simple bound is vacuous there); sparse-reward Garnets and locks fall below it. " +
             ("BRIDGE (CC-BY-4.0): " + ", ".join(BRIDGE_ANALYSE[quick]) + ", deterministic and sticky"
              + ("; UnlockPickup (17,225 states) only in full mode." if quick else ".")
              if have_bridge else "No BRIDGE files were found (../shared/data/bridge): locks and Garnets only.")
             + " For sticky models the simple bound is our generalisation (successors over the next-state support).")
    return FigureOutput(fig, {"rows": rows, "missing_inputs": missing_inputs()}, notes)
