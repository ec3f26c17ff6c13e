"""Nash Mirror Prox (Tiapkin et al. 2025, arXiv:2505.19731v1): rate figures against the (reconstructed) bounds.

Only the paper's abstract was available, so every figure here is a **reconstructed setting**:
the paper's matrix sizes, preference-matrix generator, ``beta`` values, step sizes and numbers
of seeds are unknown. We use the closest public template (the EGPO code's tabular experiments,
see ``shared/specs/nash_mp.md`` A4): ``P`` with a ``U(0, 1)`` lower triangle, a random
reference policy ``rho = softmax(N(0, 1))``, ``pi_0 = rho``, ``n = 10`` (quick) or ``n = 100``
(full), ``beta in {0.1, 0.01}``, and the number of preference queries ``N`` on the x-axis
(Nash-MP and EGPO spend 2 per iteration, the others 1).

Baselines are shown at their best constant step on a grid (chosen per ``beta`` and game family
by the mean of ``log10 KL`` over all iterates, i.e. the area under the plotted curve), and
Nash-MD also with its theorem's schedule; Nash-MP is not tuned (``eta = 2``, its largest
admissible step). Sweep and drawing are kept apart: :func:`compare`, :func:`beta_sweep` and
:func:`approx_sweep` compute, the ``make_*`` recipes draw, so the notebook reuses them.
"""

from __future__ import annotations

import numpy as np

from rltheory.algorithms import (
    ApproximateNashMirrorProx,
    ExtragradientPO,
    MagneticMirrorDescent,
    NashMD,
    NashMirrorProx,
    OnlineMirrorDescent,
)
from rltheory.bounds import nash_mp as bounds
from rltheory.figures import FigureOutput, figure
from rltheory.mdps import cyclic_game, game_batch, random_game
from rltheory.paper_figures._progress import steps
from rltheory.plotting import OKABE_ITO, figure_legend, legend_outside, plot_bound, plot_curves, subplots

PAPER = "Tiapkin et al. (2025), Accelerating Nash Learning from Human Feedback via Mirror Prox, arXiv:2505.19731v1"
STATUS = "reconstructed setting"
#: Floor for log-scale curves (float64 resolution of KL near 0).
FLOOR = 1e-16
#: Step-size grid for the baselines' tuning (filtered to ``eta beta <= 1`` where required).
ETA_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
#: quick / full settings
SETTINGS = {
    True: {"games": 8, "n": 10, "queries": {0.1: 300, 0.01: 2400}, "betas_sweep": 9, "ns_sweep": (3, 10, 50),
           "approx": {"n": 10, "T": 80, "reps": 4, "K": (1, 2, 5, 10, 20, 50), "M": (10, 100, 1000)}},
    False: {"games": 64, "n": 100, "queries": {0.1: 600, 0.01: 5000}, "betas_sweep": 17, "ns_sweep": (3, 10, 100, 300),
            "approx": {"n": 100, "T": 200, "reps": 16, "K": (1, 2, 5, 10, 20, 50, 100), "M": (10, 100, 1000)}},
}
#: Dashed styles for the baselines that can coincide with another curve (MMD with tuned Nash-MD at small beta,
#: OMD with MMD at large beta).
LINESTYLES = {"MMD": (0, (4, 2)), "OMD / online IPO": (0, (1, 1.5))}
COLORS = {"Nash-MP": OKABE_ITO[0], "Nash-MD (schedule)": OKABE_ITO[1], "Nash-MD": OKABE_ITO[5],
          "OMD / online IPO": OKABE_ITO[2], "MMD": OKABE_ITO[3], "EGPO": OKABE_ITO[4]}


def query_budgets(quick: bool = True) -> dict[float, int]:
    """``beta -> N``: the preference-query budget of each ``beta`` of the comparison figures."""
    return dict(SETTINGS[bool(quick)]["queries"])


def games(quick: bool = True, seed: int = 0, n: int | None = None, count: int | None = None,
          family: str = "random"):
    """A batch of games of the comparison figures, random ``rho``: ``family="random"`` (``U(0, 1)`` lower
    triangle) or ``"cyclic"`` (intransitive: a random cycle, win probabilities ``U(0.55, 1)``, odd ``n``)."""
    cfg = SETTINGS[bool(quick)]
    n, count = n or cfg["n"], count or cfg["games"]
    if family == "cyclic":
        return game_batch(cyclic_game, count, n=n + 1 - n % 2, seed=seed, low=0.55, high=1.0, reference="random")
    return game_batch(random_game, count, n=n, seed=seed, reference="random")


def _mean_log_kl(trace) -> float:
    """Tuning score: ``log10 KL`` averaged over iterates and games (the area under the log curve)."""
    return float(np.mean(np.log10(np.maximum(trace.kl, FLOOR))))


def tune(cls, beta: float, batch, queries: int, grid=ETA_GRID):
    """Best constant ``eta`` of ``cls`` on ``batch`` after ``queries`` queries: ``(eta, trace)``."""
    best = None
    for eta in grid:
        if cls is not MagneticMirrorDescent and eta * beta > 1:
            continue
        algo = cls(beta=beta, eta=eta)
        trace = algo.run(batch, max(1, queries // algo.queries_per_iteration))
        score = _mean_log_kl(trace)
        if best is None or score < best[0]:
            best = (score, eta, trace)
    return best[1], best[2]


def compare(beta: float, batch, queries: int) -> dict:
    """``label -> (trace, eta)`` for Nash-MP and the baselines at the same number of queries."""
    out = {"Nash-MP": (NashMirrorProx(beta=beta).run(batch, queries // 2), 2.0),
           "Nash-MD (schedule)": (NashMD(beta=beta).run(batch, queries), None)}
    for label, cls in (("Nash-MD", NashMD), ("OMD / online IPO", OnlineMirrorDescent), ("MMD", MagneticMirrorDescent),
                       ("EGPO", ExtragradientPO)):
        eta, trace = tune(cls, beta, batch, queries)
        out[label] = (trace, eta)
    return out


def _label(label, eta):
    if eta is None:
        return label
    return f"{label} (η={eta:g})" if label == "Nash-MP" else f"{label} (tuned η={eta:g})"


def _draw_metric(ax, results, metric, *, bound=None, bound_label=None, ylabel=""):
    drawn = {}
    for label, (trace, eta) in results.items():
        y = np.log10(np.maximum(trace[metric], FLOOR))
        drawn[_label(label, eta)] = plot_curves(ax, trace.queries[0], {_label(label, eta): y},
                                                colors={_label(label, eta): COLORS[label]})[_label(label, eta)]
        if label in LINESTYLES:  # baselines whose curves can coincide with another's stay visible on top
            ax.get_lines()[-1].set_linestyle(LINESTYLES[label])
            ax.get_lines()[-1].set_zorder(3)
    b = None
    if bound is not None:
        x = results["Nash-MP"][0].queries[0]
        b = plot_bound(ax, x, np.log10(np.maximum(bound, FLOOR)), bound_label)
    ax.set_xlabel("preference queries N")
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=-16.5)
    return {"curves": drawn, "bound": b}


@figure("nashmp-kl-rate", title="Nash-MP: KL to the regularised equilibrium vs preference queries",
        paper=PAPER, source="abstract: KL decreases as (1 + 2 beta)^(-N/2) (constants reconstructed)",
        status=STATUS,
        description="Mean ± s.e. over random games (top: U(0,1) preferences; bottom: intransitive cyclic games) of "
                    "log10 KL(pi*_beta || pi_t) against queries N for Nash-MP (eta = 2) and tuned baselines; dashed: "
                    "the bound (1 + 2 beta)^(-N/2) KL_0 (mean over games).")
def make_kl_rate(quick: bool) -> FigureOutput:
    cfg = SETTINGS[bool(quick)]
    betas = list(cfg["queries"].items())
    fig, axes = subplots(2, len(betas), figsize=(13, 8.2))
    data = {"panels": {}}
    panels = [(row, family, col, beta, N) for row, family in enumerate(("random", "cyclic"))
              for col, (beta, N) in enumerate(betas)]
    bar = steps(panels, f"nashmp-kl-rate: {len(panels)} panels (family x beta) x 6 methods, baselines tuned on "
                        f"{len(ETA_GRID)} steps", unit="panel")
    batches = {}
    for row, family, col, beta, N in bar:
        bar.set_postfix_str(f"{family}, beta={beta:g}", refresh=False)
        if family not in batches:
            batches[family] = games(quick, family=family)
        batch = batches[family]
        ax = axes[row, col]
        results = compare(beta, batch, N)
        mp = results["Nash-MP"][0]
        bound = bounds.kl_upper(mp.queries[0], beta, mp.kl[:, :1]).mean(axis=0)
        panel = _draw_metric(ax, results, "kl", bound=bound, bound_label="bound (1+2β)^(-N/2) KL_0",
                             ylabel="log10 KL(π*_β ‖ π_t)")
        panel["eta"] = {k: e for k, (_, e) in results.items()}
        panel.update({"n": batch.n, "games": batch.batch, "family": family, "beta": beta})
        ax.set_title(f"{family} games, β = {beta:g}, n = {batch.n}, {batch.batch} games")
        legend_outside(ax, side="right", fontsize=6.5)
        data["panels"][f"{family},beta={beta:g}"] = panel
    notes = ("Reconstructed setting (the paper's matrix-game setting is not available). Baselines at their best "
             "constant step on ETA_GRID (score: mean log10 KL over iterates); Nash-MD also with "
             "eta_t = 2/(beta (t+2)) (Munos et al. Thm 1). Nash-MP is not tuned.")
    return FigureOutput(fig, data, notes)


@figure("nashmp-exploitability", title="Nash-MP: exploitability and span of log-probabilities vs queries",
        paper=PAPER, source="abstract: last-iterate linear convergence of the exploitability gap and of the span "
                            "semi-norm (bounds derived in rltheory.bounds.nash_mp)",
        status=STATUS,
        description="Mean ± s.e. of log10 exploitability and log10 span ||log pi_t - log pi*||; dashed: the bounds "
                    "derived from the KL rate (mean over games).")
def make_exploitability(quick: bool) -> FigureOutput:
    cfg = SETTINGS[bool(quick)]
    batch = games(quick)
    beta = 0.1
    N = cfg["queries"][beta]
    results = compare(beta, batch, N)
    mp = results["Nash-MP"][0]
    x = mp.queries[0]
    kl0, s0 = mp.kl[:, :1], mp.span[:, :1]
    fig, axes = subplots(1, 2, figsize=(11, 4.2))
    data = {"n": batch.n, "games": batch.batch, "beta": beta}
    data["exploitability"] = _draw_metric(
        axes[0], results, "exploitability", bound=bounds.exploitability_upper(x, beta, kl0, s0).mean(axis=0),
        bound_label="bound (KL and span rates)", ylabel="log10 exploitability")
    data["span"] = _draw_metric(axes[1], results, "span", bound=bounds.span_upper(x, beta, kl0, s0).mean(axis=0),
                                bound_label="bound (from the KL rate)", ylabel="log10 span(log π_t − log π*)")
    for ax, what in zip(axes, ("exploitability (= duality gap / 2)", "span semi-norm"), strict=True):
        ax.set_title(f"{what}, β = {beta:g}, n = {batch.n}")
    figure_legend(fig, axes, ncol=4, fontsize=7)
    data["eta"] = {k: e for k, (_, e) in results.items()}
    notes = ("Reconstructed setting. The bounds are derived here from the reconstructed KL contraction "
             "(rltheory.bounds.nash_mp): span via the extrapolation-point inequality, exploitability via "
             "Hoeffding + Pinsker.")
    return FigureOutput(fig, data, notes)


def fitted_contraction(kl: np.ndarray, lo: float = 1e-12, hi_frac: float = 0.5) -> np.ndarray:
    """Per-iteration contraction factor ``exp(slope)`` of ``log KL_t`` fitted where ``lo < KL_t < hi_frac KL_0``.

    ``kl`` ``(replicates, T + 1)``; returns ``(replicates,)`` (NaN when fewer than 3 points qualify).
    """
    out = np.full(kl.shape[0], np.nan)
    t = np.arange(kl.shape[1])
    for r, k in enumerate(kl):
        m = (k > lo) & (k < hi_frac * k[0])
        if m.sum() >= 3:
            out[r] = np.exp(np.polyfit(t[m], np.log(k[m]), 1)[0])
    return out


def beta_sweep(quick: bool = True, seed: int = 0) -> dict:
    """Fitted per-iteration contraction of Nash-MP (eta = 2) over a beta grid, for several ``n``.

    Returns ``{"betas": (m,), "theory": (m,), "n": {n: (games, m) factors}}``.
    """
    cfg = SETTINGS[bool(quick)]
    betas = np.geomspace(0.01, 1.0, cfg["betas_sweep"])
    out = {"betas": betas, "theory": bounds.contraction(betas), "n": {}}
    for n in steps(cfg["ns_sweep"], f"nashmp-beta-sweep: n in {tuple(cfg['ns_sweep'])} x {len(betas)} betas",
                   unit="n"):
        batch = games(quick, seed=seed + n, n=n)
        cols = []
        for beta in betas:
            T = int(np.ceil(np.log(1e14) / np.log1p(2 * beta))) + 5
            cols.append(fitted_contraction(NashMirrorProx(beta=beta).run(batch, T, init="uniform").kl))
        out["n"][n] = np.stack(cols, axis=1)
    return out


@figure("nashmp-beta-sweep", title="Nash-MP: empirical KL contraction per iteration vs 1/(1+2β), across n",
        paper=PAPER, source="abstract: rate (1 + 2 beta)^(-N/2), independent of the number of responses",
        status=STATUS,
        description="Per-iteration contraction factor of KL(pi* || pi_t) fitted on log KL (mean ± s.e. over random "
                    "games) against the theoretical factor 1/(1+2 beta); points on or below the diagonal meet it.")
def make_beta_sweep(quick: bool) -> FigureOutput:
    res = beta_sweep(quick)
    fig, ax = subplots(1, 1, figsize=(5.6, 4.6))
    theory = res["theory"]
    data = {"betas": res["betas"], "theory": theory, "curves": {}}
    # the curves for different n nearly coincide (that is the claim); distinct line styles, hollow large
    # markers under small filled ones keep every n visible where they overlap
    styles = [dict(marker="o", markersize=4, linestyle="-", mfc=None),
              dict(marker="s", markersize=8, linestyle="--", mfc="none"),
              dict(marker="^", markersize=3.5, linestyle=":", mfc=None),
              dict(marker="D", markersize=6, linestyle="-.", mfc="none")]
    means = {}
    for i, (n, factors) in enumerate(res["n"].items()):
        mean = np.nanmean(factors, axis=0)
        se = np.nanstd(factors, axis=0, ddof=1) / np.sqrt(np.sum(np.isfinite(factors), axis=0))
        st = dict(styles[i % len(styles)])
        mfc = st.pop("mfc")
        ax.errorbar(theory, mean, yerr=se, color=OKABE_ITO[i], label=f"n = {n}", linewidth=1.0,
                    markeredgewidth=1.0, zorder=3 + i, **st, **({"mfc": mfc} if mfc else {}))
        data["curves"][f"n={n}"] = {"mean": mean, "se": se}
        means[n] = mean
    ns = list(means)
    spread = float(np.nanmax(np.ptp(np.stack([means[n] for n in ns[1:]]), axis=0))) if len(ns) > 2 else 0.0
    data["max_gap_between_larger_n"] = spread
    lim = [theory.min() - 0.02, 1.0]
    data["bound"] = plot_bound(ax, np.array(lim), np.array(lim), "bound: factor = 1/(1+2β)")
    ax.set_xlim(lim)
    ax.set_ylim(0, 1.0)
    ax.set_xlabel("theoretical factor 1/(1+2β)   (β from 1 to 0.01, left to right)")
    ax.set_ylabel("fitted factor KL_{t+1}/KL_t")
    ax.set_title("Nash-MP (η = 2): contraction per iteration" +
                 (f"\n(n ≥ {ns[1]} curves differ by at most {spread:.3f})" if len(ns) > 2 else ""))
    ax.legend(fontsize=8, loc="upper left")
    notes = ("Reconstructed setting: tournament-free U(0,1) games with random rho, pi_0 uniform; fit on iterates "
             "with 1e-12 < KL < KL_0/2.")
    return FigureOutput(fig, data, notes)


def approx_sweep(quick: bool = True, seed: int = 0, beta: float = 0.1) -> dict:
    """Approximate Nash-MP on one random game: ``{(K, M): Trace}`` plus the exact run under ``"exact"``."""
    cfg = SETTINGS[bool(quick)]["approx"]
    game = random_game(cfg["n"], seed=seed, reference="random")
    out = {"exact": NashMirrorProx(beta=beta).run(game, cfg["T"]), "game": game, "beta": beta}
    grid = [(K, M) for M in cfg["M"] for K in cfg["K"]]
    for K, M in steps(grid, f"nashmp-approx: {len(grid)} (K inner steps, M samples) x {cfg['reps']} seeds x "
                            f"{cfg['T']} iterations", unit="setting"):
        algo = ApproximateNashMirrorProx(beta=beta, inner_steps=K, samples=M)
        out[(K, M)] = algo.run(game, cfg["T"], replicates=cfg["reps"], seed=seed)
    return out


@figure("nashmp-approx", title="Approximate Nash-MP: error floor vs inner policy-gradient steps",
        paper=PAPER, source="abstract: approximate Nash-MP with stochastic policy-gradient prox steps "
                            "(inner loop reconstructed)",
        status=STATUS,
        description="Left: KL vs outer iteration for K = 10 inner steps and M sampled queries per step, with the "
                    "exact method and its bound. Right: error floor (mean KL over the last 5 iterations) vs K.")
def make_approx(quick: bool) -> FigureOutput:
    cfg = SETTINGS[bool(quick)]["approx"]
    res = approx_sweep(quick)
    beta, exact = res["beta"], res["exact"]
    fig, axes = subplots(1, 2, figsize=(11, 4.2))
    t = np.arange(cfg["T"] + 1)
    K_show = 10 if 10 in cfg["K"] else cfg["K"][len(cfg["K"]) // 2]
    curves = {f"K={K_show}, M={M}": np.log10(np.maximum(res[(K_show, M)].kl, FLOOR)) for M in cfg["M"]}
    data = {"beta": beta, "n": res["game"].n, "T": cfg["T"], "left": plot_curves(axes[0], t, curves)}
    data["left"]["exact Nash-MP"] = plot_curves(axes[0], t, {"exact Nash-MP": np.log10(np.maximum(exact.kl, FLOOR))},
                                                colors={"exact Nash-MP": OKABE_ITO[7]})["exact Nash-MP"]
    data["bound"] = plot_bound(axes[0], t, np.log10(np.maximum(
        bounds.kl_upper_iterations(t, beta, exact.kl[0, 0]), FLOOR)), "exact bound (1+2β)^(-t) KL_0",
        color="#777777")
    axes[0].set_xlabel("outer iteration t")
    axes[0].set_ylabel("log10 KL(π*_β ‖ π_t)")
    axes[0].set_title(f"β = {beta:g}, n = {res['game'].n}, {cfg['reps']} seeds")
    axes[0].legend(fontsize=7, loc="lower left")
    data["floors"] = {}
    for i, M in enumerate(cfg["M"]):
        floors = np.stack([res[(K, M)].kl[:, -5:].mean(axis=1) for K in cfg["K"]], axis=1)  # (reps, |K|)
        mean = floors.mean(axis=0)
        se = floors.std(axis=0, ddof=1) / np.sqrt(floors.shape[0])
        axes[1].errorbar(cfg["K"], mean, yerr=se, marker="os^D"[i % 4], color=OKABE_ITO[i], label=f"M = {M}",
                         markersize=4, linewidth=1.0)
        data["floors"][f"M={M}"] = {"K": list(cfg["K"]), "mean": mean, "se": se}
    axes[1].set_xscale("log")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("inner policy-gradient steps K per prox step")
    axes[1].set_ylabel("error floor: mean KL over the last 5 iterations")
    axes[1].set_title("floor vs K (queries per iteration = 2 K M)")
    axes[1].legend(fontsize=8)
    notes = ("Reconstructed inner loop: REINFORCE on softmax logits with a leave-one-out baseline, warm start "
             "log pi_t, inner_lr = eta/(1+eta beta). The floor falls with K until the sampling noise (set by M) "
             "dominates.")
    return FigureOutput(fig, data, notes)
