"""StepMix / EpsMix figures (Li, Huang, Shen & Yang, ICML 2023): regret, deployed values, mixing
coefficients and a table of constraint violations, on the reconstructed settings of spec §A4.

The paper's experiments could not be read (only its abstract), so the setting is **reconstructed**
(status "reconstructed setting"):

* **R1** (random MDP): ``S = 10, A = 3, H = 10``, ``P_h(.|s, a) ~ Dirichlet(1)`` drawn per
  ``(h, s, a)`` and ``r_h(s, a) ~ U[0, 1]`` (a Garnet with ``branching = S``, stage-dependent, seed 0);
  baseline with ``V^b = 0.6 V*``. Spec §A4 asks for ``(1 - eta) uniform + eta pi*``; here the uniform
  policy already earns ``0.66 V*``, so the baseline mixes the uniform with the *worst* policy
  (:func:`~rltheory.algorithms.conservative.baseline_for_ratio`).
* **R2** (hard gap, a chain whose baseline takes the safe action): Strens' chain (:func:`rltheory.mdps.chain`,
  ``S = 5, A = 2``, slip 0.2) with ``H = 10``; the baseline always takes "return" (the small sure reward),
  ``V^b = 0.62 V*``. Spec §A4 asks for RiverSwim (``S = 6, H = 20``) with an always-LEFT baseline; there the
  conservative learners **provably cannot leave the baseline** at any simulable ``K``, so every panel was
  vacuous: ``V^b = 0.00925`` (1.4% of ``V*``), so the per-episode budget ``alpha V^b = 9.3e-4`` is ``5e-5`` of
  the value range ``H``. A deviation from the baseline is certified only once the pessimistic error of its
  value, of order ``H^2 sqrt(S log(.)/n)`` summed over the steps, falls below ``alpha V^b`` (spec §A2.1: the
  baseline is played for about ``H^{O(1)} S^2 A / (alpha V^b)^2`` episodes), i.e. after ``n ~ 10^11`` visits
  per pair; until then StepMix sits at its floor ``rho_min`` and EpsMix at ``alpha``. :func:`riverswim_left`
  computes these numbers; the recipes report them in their data (``riverswim_left``). Strens' chain keeps the
  spec's structure (a safe action that pays a little at once, a risky one that pays more later) with a budget
  ``alpha V^b / H = 0.016`` close to R1's (0.046), so the learners do leave the baseline within the budget.

Methods: StepMix, EpsMix, UCBVI-BF (unconstrained: the shared loop at ``rho = 1``,
:class:`~rltheory.algorithms.conservative.OptimisticOnly`, identical to
:class:`~rltheory.algorithms.UCBVI`), the budget method
:class:`~rltheory.algorithms.ConservativeUCBVI` (cumulative constraint only) and the baseline.
``alpha = 0.1`` unless stated, ``delta = 0.05``. Two optimism scales: the theory (``1``) and
``0.01`` (:data:`SMALL_SCALE`, the BF scale of the UCBVI figure, at which regret visibly bends
within 20,000 episodes); the scale multiplies only the optimistic bonus, so it cannot affect
safety (rule R3). Every value is the exact value of the policy deployed.

Sweep, saved data and drawing are kept apart: :func:`run` computes (and caches) the traces; the
four recipes draw them. Quick mode: 3,000 episodes, 4 replicates; full: 20,000 episodes, 20
replicates (spec §A4).
"""

from __future__ import annotations

import functools

import numpy as np

from rltheory.algorithms import BaselineOnly, ConservativeUCBVI, EpsMix, StepMix
from rltheory.algorithms.conservative import OptimisticOnly, baseline_for_ratio
from rltheory.bounds.stepmix import fit_leading_constant, leading_term, loglog_slope, regret_safe_cap, safe_floor
from rltheory.errors import InvalidParameterError
from rltheory.experiments import sweep
from rltheory.figures import FigureOutput, figure
from rltheory.mdps import chain, garnet, riverswim
from rltheory.paper_figures._progress import steps
from rltheory.planning import backward_induction, evaluate
from rltheory.plotting import OKABE_ITO, figure_legend, plot_bound, plot_curves, regret_axes, subplots

PAPER = "Li, Huang, Shen & Yang (ICML 2023), Near-optimal Conservative Exploration in RL under Episode-wise Constraints"
ALPHA = 0.1
ALPHAS = (0.05, 0.1, 0.2)
DELTA = 0.05
SMALL_SCALE = 0.01
SCALES = (1.0, SMALL_SCALE)
#: episodes, replicates per mode
BUDGET = {True: (3_000, 4), False: (20_000, 20)}
METHODS = ("StepMix", "EpsMix", "UCBVI-BF", "CUCBVI (budget)", "baseline only")
COLORS = dict(zip(METHODS, OKABE_ITO, strict=False))
NOTES = ("Reconstructed setting (spec §A4): the paper's experiments were not available. R2 is Strens' chain with an "
         "always-'return' baseline instead of the spec's RiverSwim with an always-LEFT baseline, on which the "
         "conservative learners can never leave the baseline (budget alpha V^b = 9.3e-4, 5e-5 of H: see "
         "data.riverswim_left and the module docstring). Values are exact values of "
         "the deployed policies; UCBVI-BF is the shared loop at rho = 1 (identical to rltheory's UCBVI). The "
         "theorem's constants are unknown: the sqrt(H^3 S A K iota) curve has a least-squares constant fitted to "
         "StepMix and is labelled so; the dashed K (Delta_b + alpha V^b) line is a provable cap for any "
         "episode-wise-safe learner.")


@functools.cache
def environments() -> dict:
    """``name -> (model, baseline (H, S, A), label)`` for R1 and R2."""
    r1 = garnet(S=10, A=3, branching=10, horizon=10, seed=0, stationary=False)
    b1, _ = baseline_for_ratio(r1, 0.6)
    r2 = chain(n_states=5, horizon=10)
    b2 = np.zeros((r2.H, r2.S, r2.A))
    b2[..., 1] = 1.0  # always "return": the safe action
    return {"R1": (r1, b1, "R1: random MDP (S=10, A=3, H=10)"),
            "R2": (r2, b2, "R2: Strens' chain (S=5, A=2, H=10), baseline 'return'")}


def budget(quick: bool = True) -> tuple[int, int]:
    """``(episodes, replicates)`` of the StepMix figures in quick or full mode."""
    return BUDGET[bool(quick)]


def riverswim_left(alpha: float = ALPHA) -> dict:
    """The spec's original R2 (RiverSwim-6, ``H = 20``, baseline always LEFT) and why it is vacuous.

    Returns ``V*``, ``V^b``, the per-episode budget ``alpha V^b``, its ratio to the value range ``H``, and the
    count ``n`` at which one pair's Weissman radius ``sqrt(2 S ln(.)/n)`` times ``H`` (the pessimistic error
    on one step's value, at least) falls below the budget: no deviation is certified before that."""
    mdp = riverswim(n_states=6, horizon=20)
    b = np.zeros((mdp.H, mdp.S, mdp.A))
    b[..., 0] = 1.0
    v_star = backward_induction(mdp).value
    v_b = float(mdp.mu @ evaluate(mdp, b)[0])
    budget = alpha * v_b
    log_term = np.log(2 * mdp.S * mdp.A * mdp.H * BUDGET[False][0] / DELTA)
    return {"v_star": v_star, "v_b": v_b, "v_b_over_v_star": v_b / v_star, "budget": budget,
            "budget_over_H": budget / mdp.H, "visits_needed": float(2 * mdp.S * log_term * (mdp.H / budget) ** 2)}


def _learners(baseline, alpha, scale) -> dict:
    kw = {"alpha": alpha, "delta": DELTA, "baseline_policy": baseline, "bonus_scale": scale}
    return {"StepMix": StepMix(**kw), "EpsMix": EpsMix(**kw), "UCBVI-BF": OptimisticOnly(**kw),
            "CUCBVI (budget)": ConservativeUCBVI(**kw)}


def configurations() -> list[tuple]:
    """``((env, scale, alpha, method), algorithm, model)`` for every run of the figures."""
    configs = []
    for env, (mdp, baseline, _) in environments().items():
        configs.append(((env, None, None, "baseline only"), BaselineOnly(baseline_policy=baseline, alpha=ALPHA), mdp))
        for scale in SCALES:
            for method, algo in _learners(baseline, ALPHA, scale).items():
                configs.append(((env, scale, ALPHA, method), algo, mdp))
        for alpha in ALPHAS:
            if alpha == ALPHA:
                continue
            for method, algo in _learners(baseline, alpha, SMALL_SCALE).items():
                if method != "UCBVI-BF":  # UCBVI does not depend on alpha
                    configs.append(((env, SMALL_SCALE, alpha, method), algo, mdp))
    return configs


@functools.lru_cache(maxsize=2)
def run(quick: bool = True, seed: int = 0) -> dict:
    """Traces of every configuration: ``{(env, scale, alpha, method): Trace}`` (cached on disk by the runner)."""
    episodes, replicates = BUDGET[bool(quick)]
    configs = configurations()
    envs = list(environments())
    out = {}
    bar = steps(envs, f"stepmix: {len(envs)} settings x {len(configs) // len(envs)} (method, scale, alpha) x "
                      f"{replicates} runs x {episodes:,} episodes", unit="setting")
    for env in bar:
        bar.set_postfix_str(env, refresh=False)
        out.update(sweep([c for c in configs if c[0][0] == env], episodes, replicates=replicates, seed=seed))
    return out


def setting(env: str) -> dict:
    """Setting ``env`` (``"R1"`` or ``"R2"``): ``{"mdp", "baseline" (H, S, A), "label", "v_star", "v_b", "gap",
    "S", "A", "H"}``."""
    if env not in environments():
        raise InvalidParameterError("env", f"must be one of {sorted(environments())}, got {env!r}", value=env)
    mdp, baseline, _ = environments()[env]
    return {**_facts(env), "baseline": baseline}


def certified_lower_bound(counts: tuple, policy, baseline, mu, rhos, *, episodes: int, delta: float = DELTA):
    """The certified lower bound ``V_low`` of the per-step mixtures ``rho * policy + (1 - rho) * baseline``.

    ``counts``: ``(counts_sas (H, S, A, S), counts_sa (H, S, A), reward_sum (H, S, A))`` as
    :meth:`~rltheory.algorithms.offline.Dataset.counts` returns them; ``policy (H, S)`` deterministic actions;
    ``baseline (H, S, A)``; ``mu (S,)``; ``rhos (G,)``; ``episodes`` and ``delta`` set Weissman's log term as
    the learners do. Returns ``(G,)``: one backward pass of the pessimistic evaluation (rule R1) per ``rho``,
    without the floor ``(1 - rho)^H V^b`` (take the maximum with it for ``L(rho)``)."""
    from rltheory.algorithms import pessimism

    cs, ca, rs = (np.asarray(c) for c in counts)
    H, S, A = np.shape(baseline)
    wlog = pessimism.weissman_log_term(S, A, H, episodes, delta)
    rhos = np.asarray(rhos, dtype=np.float64)
    return pessimism.pessimistic_mixture_values(cs[None], ca[None], rs[None], np.asarray(policy)[None], baseline, mu,
                                                wlog, 0.0, rhos[None])[0]


def _facts(env: str) -> dict:
    mdp, baseline, label = environments()[env]
    v_star = backward_induction(mdp).value
    v_b = float(mdp.mu @ evaluate(mdp, baseline)[0])
    return {"mdp": mdp, "label": label, "v_star": v_star, "v_b": v_b, "gap": v_star - v_b,
            "S": mdp.S, "A": mdp.A, "H": mdp.H}


def _get(traces, env, scale, alpha, method):
    if method == "baseline only":
        return traces[(env, None, None, method)]
    if method == "UCBVI-BF":
        alpha = ALPHA
    return traces[(env, scale, alpha, method)]


# ---------------------------------------------------------------------------- regret


@figure("stepmix-regret", title="StepMix / EpsMix: cumulative regret against UCBVI, the budget method and the baseline",
        paper=PAPER, source="Theorems (regret, near-optimal order); settings R1, R2 of spec §A4",
        status="reconstructed setting",
        description="Mean ± s.e. cumulative regret (exact values of deployed policies), theory and small optimism "
                    "scale, with the provable K (Delta_b + alpha V^b) cap and a fitted sqrt(H^3 S A K iota) shape.")
def make_regret(quick: bool) -> FigureOutput:
    traces = run(quick)
    fig, axes = subplots(2, 2, figsize=(11, 8))
    data = {"alpha": ALPHA, "delta": DELTA, "scales": SCALES, "panels": {}}
    for i, env in enumerate(environments()):
        f = _facts(env)
        for j, scale in enumerate(SCALES):
            ax = axes[i, j]
            curves = {m: _get(traces, env, scale, ALPHA, m).cumulative_regret for m in METHODS}
            K = np.arange(1, next(iter(curves.values())).shape[1] + 1)
            panel = {"curves": plot_curves(ax, K, curves, spacing="log", colors=COLORS), "bounds": {},
                     "v_star": f["v_star"], "v_b": f["v_b"], "S": f["S"], "A": f["A"], "H": f["H"],
                     "final_regret": {m: float(c[:, -1].mean()) for m, c in curves.items()},
                     "median_loglog_slope": {m: float(np.median(loglog_slope(c))) for m, c in curves.items()}}
            cap = regret_safe_cap(K, f["gap"], ALPHA, f["v_b"])
            panel["bounds"]["K (Delta_b + alpha V^b)"] = plot_bound(ax, K, cap, "K (Δb + αVb): cap of any safe learner")
            # the sqrt(K) shape is fitted only where StepMix's regret has bent (log-log slope < 0.9 over the last
            # three quarters); at theory scale or on R2 it is still linear at simulable K
            if panel["median_loglog_slope"]["StepMix"] < 0.9:
                c = fit_leading_constant(K, curves["StepMix"].mean(axis=0), f["S"], f["A"], f["H"], DELTA)
                shape = c * leading_term(f["S"], f["A"], f["H"], K, DELTA)
                panel["bounds"]["fitted c sqrt(H^3 S A K iota)"] = plot_bound(
                    ax, K, shape, "c√(H³SAKι), c fitted to StepMix (the theorem's constants are unknown)",
                    color="#888888")
                panel["fitted_constant"] = c
            scale_name = "theory scale (optimism scale 1)" if scale == 1.0 else f"optimism scale {scale:g}"
            fitted = f", fitted c = {panel['fitted_constant']:.2g}" if "fitted_constant" in panel else ""
            regret_axes(ax, title=f"{f['label']}\n{scale_name}, α={ALPHA}{fitted}", legend=False)
            data["panels"][f"{env}, scale {scale:g}"] = panel
    figure_legend(fig, axes, ncol=4)
    data["riverswim_left"] = riverswim_left()
    # per-run final regret of every configuration: the fingerprint tests/test_committed_figures.py recomputes
    data["final_per_replicate"] = {"|".join(map(str, key)): t.cumulative_regret[:, -1] for key, t in traces.items()}
    return FigureOutput(fig, data, NOTES)


# ---------------------------------------------------------------------------- values


@figure("stepmix-values", title="StepMix / EpsMix: exact value of every deployed policy against the threshold",
        paper=PAPER, source="Theorem (safety: the constraint holds in every episode); settings R1, R2 of spec §A4",
        status="reconstructed setting",
        description="Mean (thick) and minimum (thin) over replicates and log-spaced bins of episodes of V^{pi_k}, "
                    "small optimism scale, alpha = 0.1; dashed: (1 - alpha) V^b.")
def make_values(quick: bool) -> FigureOutput:
    traces = run(quick)
    fig, axes = subplots(1, 2, figsize=(11, 4.4))
    data = {"alpha": ALPHA, "scale": SMALL_SCALE, "bins": VALUE_BINS, "panels": {}}
    methods = ("StepMix", "EpsMix", "UCBVI-BF", "CUCBVI (budget)")
    for ax, env in zip(axes, environments(), strict=True):
        f = _facts(env)
        panel = {"mean": {}, "worst": {}}
        for m in methods:
            x, mean, worst = binned_values(_get(traces, env, SMALL_SCALE, ALPHA, m).values)
            ax.plot(x, mean, color=COLORS[m], label=m)
            ax.plot(x, worst, color=COLORS[m], linewidth=0.7, linestyle="-", alpha=0.7)
            panel["mean"][m] = {"x": x, "y": mean}
            panel["worst"][m] = {"x": x, "y": worst}
        K = traces[(env, None, None, "baseline only")].values.shape[1]
        threshold = (1 - ALPHA) * f["v_b"]
        ax.plot([1, K], [threshold, threshold], "--", color="#000000", linewidth=1.2, label="(1 − α) Vb: threshold")
        ax.plot([1, K], [f["v_star"]] * 2, ":", color="#999999", label="V*")
        panel.update(v_star=f["v_star"], v_b=f["v_b"], threshold=threshold)
        regret_axes(ax, log="x", ylabel="exact value of the deployed policy", legend=False,
                    title=f"{f['label']}\noptimism scale {SMALL_SCALE:g}, α={ALPHA}; thick: mean, thin: worst")
        data["panels"][env] = panel
    figure_legend(fig, axes, ncol=6)
    data["riverswim_left"] = riverswim_left()
    return FigureOutput(fig, data, NOTES)


#: log-spaced episode bins of the values figure
VALUE_BINS = 100


def binned_values(values: np.ndarray, bins: int = VALUE_BINS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per log-spaced bin of episodes: ``(last episode of the bin, mean, minimum)`` of ``values (R, K)``
    over replicates and the bin's episodes. The minimum keeps every violation visible."""
    K = values.shape[1]
    edges = np.unique(np.round(np.geomspace(1, K + 1, bins + 1)).astype(int)) - 1
    x, mean, worst = [], [], []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        block = values[:, a:b]
        x.append(b)
        mean.append(block.mean())
        worst.append(block.min())
    return np.array(x), np.array(mean), np.array(worst)


# ---------------------------------------------------------------------------- rho


@figure("stepmix-rho", title="StepMix / EpsMix: the mixing coefficient rho_k over episodes",
        paper=PAPER, source="Algorithms StepMix and EpsMix (mixing coefficient); settings R1, R2 of spec §A4",
        status="reconstructed setting",
        description="Mean ± s.e. rho_k for alpha in {0.05, 0.1, 0.2}, small optimism scale; dotted: StepMix's safe "
                    "floor 1 - (1 - alpha)^(1/H).")
def make_rho(quick: bool) -> FigureOutput:
    traces = run(quick)
    fig, axes = subplots(2, 2, figsize=(11, 7.5))
    data = {"scale": SMALL_SCALE, "panels": {}}
    shades = dict(zip(ALPHAS, ("#56B4E9", "#0072B2", "#000000"), strict=True))
    for i, env in enumerate(environments()):
        f = _facts(env)
        for j, method in enumerate(("StepMix", "EpsMix")):
            ax = axes[i, j]
            curves = {f"α={a:g}": _get(traces, env, SMALL_SCALE, a, method).rho for a in ALPHAS}
            K = np.arange(1, next(iter(curves.values())).shape[1] + 1)
            colors = {f"α={a:g}": shades[a] for a in ALPHAS}
            panel = {"curves": plot_curves(ax, K, curves, spacing="log", colors=colors), "floors": {}}
            for a in ALPHAS:
                floor = safe_floor(a, f["H"]) if method == "StepMix" else a
                ax.axhline(floor, color=shades[a], linestyle=":", linewidth=1.0)
                panel["floors"][f"alpha={a:g}"] = floor
            ax.set_yscale("log")
            floor_name = "1 − (1 − α)^{1/H}" if method == "StepMix" else "α"
            regret_axes(ax, log="x", ylabel="mixing coefficient ρ_k",
                        title=f"{method} on {f['label']}\ndotted: ρ floor {floor_name}", legend=False)
            data["panels"][f"{env} {method}"] = panel
    figure_legend(fig, axes, ncol=3)
    return FigureOutput(fig, data, NOTES)


# ---------------------------------------------------------------------------- violations


def violation_table(quick: bool = True) -> dict:
    """``{column: {method: {"violations", "pairs", "fraction"}}}`` with a column per (env, scale) at
    alpha = 0.1 and per (env, alpha) at the small scale. A violation is an (episode, replicate)
    pair whose deployed policy's exact value is below ``(1 - alpha) V^b - 1e-9``."""
    traces = run(quick)
    columns = [(env, scale, ALPHA) for env in environments() for scale in SCALES]
    columns += [(env, SMALL_SCALE, a) for env in environments() for a in ALPHAS if a != ALPHA]
    table = {}
    for env, scale, alpha in columns:
        v_b = _facts(env)["v_b"]
        col = {}
        for m in METHODS:
            t = _get(traces, env, scale, alpha, m)
            bad = int((t.values < (1 - alpha) * v_b - 1e-9).sum())
            col[m] = {"violations": bad, "pairs": int(t.values.size), "fraction": bad / t.values.size}
        table[f"{env}, scale {scale:g}, α={alpha:g}"] = col
    return table


@figure("stepmix-violations", title="StepMix / EpsMix: episode-wise constraint violations per method",
        paper=PAPER, source="Theorem (safety); spec §A4 table (d); settings R1, R2",
        status="reconstructed setting",
        description="Number (and fraction) of (episode, replicate) pairs whose deployed policy's exact value is "
                    "below (1 - alpha) V^b. Expected: StepMix, EpsMix, baseline 0; UCBVI and the budget method > 0.")
def make_violations(quick: bool) -> FigureOutput:
    table = violation_table(quick)
    columns = list(table)
    cells = [[f"{table[c][m]['violations']} ({100 * table[c][m]['fraction']:.2g}%)" for c in columns] for m in METHODS]
    fig, ax = subplots(figsize=(12, 3.2))
    ax.axis("off")
    tab = ax.table(cellText=cells, rowLabels=list(METHODS), colLabels=[c.replace(", ", "\n") for c in columns],
                   loc="center", cellLoc="center")
    tab.auto_set_font_size(False)
    tab.set_fontsize(7.5)
    tab.scale(1.0, 2.2)
    episodes, replicates = BUDGET[bool(quick)]
    fig.suptitle(f"Constraint violations: (episode, replicate) pairs with V^{{π_k}} < (1 − α) V^b "
                 f"({episodes} episodes × {replicates} replicates per cell)", fontsize=10)
    return FigureOutput(fig, {"table": table, "episodes": episodes, "replicates": replicates}, NOTES)
