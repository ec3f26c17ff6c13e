"""The committed figures' data are what their recipes produce now (quick mode).

``make figures`` on a fresh clone once changed three committed figures: they had been generated before
later kernel commits changed the numbers (a stale commit), and ``sqirl-effective-horizon`` stored the
analysis' wall time. These tests recompute part of each committed JSON with today's code and compare,
so a commit that changes the numbers without regenerating the figure fails here. Cost is kept to CI size:

* ``sqirl-effective-horizon``: the exact analysis of every instance except the large BRIDGE MDPs (full rows);
* ``sqirl-sample-complexity``: two lock instances, SQIRL and GORP, every run (full records);
* ``ucbvi-regret``, ``stepmix-regret``: a fingerprint, the final cumulative regret of run 0 of a few
  configurations at the full quick budget (the runner's replicate streams do not depend on how many
  replicates run, so run 0 alone is exact);
* ``rewardfree-lower-bound``: the ``d = 3`` row (24 runs through the runner; the other reward-free figures
  share its runner path and are checked against the direct runs in ``tests/test_reward_free_runner.py``);
* ``nashmp-exploitability``: the final point of every curve (exact, deterministic dynamics; compared in
  log10 to 1e-3, as values near 1e-13 differ in their 5th digit between NumPy/BLAS builds).

The other figures share these recipes' code paths (``stepmix-*`` one sweep, ``nashmp-*`` one comparison).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rltheory.figures import to_json_data
from rltheory.mdps import combination_lock

FIGURES = Path(__file__).resolve().parents[1] / "paper_figures"
#: The JSON keeps 6 significant digits; 1e-4 leaves room for roundoff across NumPy/BLAS builds (a stale
#: figure differed by 3e-4 to 50%).
REL = 1e-4


def committed(name: str) -> dict:
    doc = json.loads((FIGURES / f"{name}.json").read_text(encoding="utf-8"))
    assert doc["mode"] == "quick", f"{name}.json must be committed in quick mode (what CI recomputes)"
    return doc["data"]


def assert_same(new, old, where="data"):
    """``new`` (recomputed, before JSON conversion) equals ``old`` (committed JSON) up to JSON rounding."""
    new = to_json_data(new)
    if isinstance(old, dict):
        assert isinstance(new, dict) and set(new) == set(old), f"{where}: keys {sorted(new)} != {sorted(old)}"
        for k in old:
            assert_same(new[k], old[k], f"{where}[{k!r}]")
    elif isinstance(old, list):
        assert isinstance(new, list) and len(new) == len(old), f"{where}: length {len(new)} != {len(old)}"
        for i, (a, b) in enumerate(zip(new, old, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(old, float) and isinstance(new, int | float):
        assert new == pytest.approx(old, rel=REL), f"{where}: recomputed {new}, committed {old}"
    else:
        assert new == old, f"{where}: recomputed {new!r}, committed {old!r}"


def test_assert_same_detects_a_changed_number():
    assert_same({"a": [1.0, np.float64(2.0)]}, {"a": [1.0, 2.0]})
    with pytest.raises(AssertionError):
        assert_same({"a": [1.0, 2.001]}, {"a": [1.0, 2.0]})
    with pytest.raises(AssertionError):
        assert_same({"a": [1.0]}, {"a": [1.0, 2.0]})


def test_every_committed_figure_is_quick_mode_and_has_its_png():
    for js in sorted(FIGURES.glob("*.json")):
        assert json.loads(js.read_text(encoding="utf-8"))["mode"] == "quick", js.name
        assert js.with_suffix(".png").is_file(), js.name


def test_sqirl_effective_horizon_matches_its_recipe():
    from rltheory.paper_figures import sqirl

    rows = committed("sqirl-effective-horizon")["rows"]
    instances = [(g, m) for g, m in sqirl.analysis_instances(True) if m.S <= 2_000]
    new = sqirl.effective_horizon_rows(True, instances)
    old = {(r["name"], r["T"]): r for r in rows}
    assert len(new) >= 20
    for row in new:
        assert (row["name"], row["T"]) in old, f"{row['name']} (T={row['T']}) is not in the committed figure"
        assert_same(row, old[(row["name"], row["T"])], row["name"])


def test_sqirl_sample_complexity_matches_its_recipe():
    from rltheory.paper_figures import sqirl

    records = {r["name"]: r for r in committed("sqirl-sample-complexity")["records"]}
    instances = [("lock", combination_lock(2)), ("lock", combination_lock(2, sticky=0.25))]
    only = ("SQIRL", "GORP")
    for rec in sqirl.run(True, instances=instances, only=only):
        old = records[rec["name"]]
        for key in ("effective_horizon", "k", "H_k", "gorp_bound", "sqirl_bound"):
            assert_same(rec[key], old[key], f"{rec['name']}.{key}")
        for key in ("runs", "sample_complexity", "solved_fraction", "quartiles"):
            assert_same(rec[key], {label: old[key][label] for label in only}, f"{rec['name']}.{key}")


def test_ucbvi_regret_fingerprint_matches_its_recipe():
    from rltheory.paper_figures import ucbvi

    panels = committed("ucbvi-regret")["panels"]
    episodes, _ = ucbvi.budget(True)
    configs = ucbvi.configurations()
    riverswim, garnet = ucbvi.environments()
    for mdp, label in ((riverswim, "UCBVI-CH (scale 0.001)"), (garnet, "UCBVI-BF (scale 0.01)")):
        trace = configs[label].run(mdp, episodes, replicates=1, seed=0)
        old = panels[mdp.name]["final_per_replicate"][label][0]
        assert trace.cumulative_regret[0, -1] == pytest.approx(old, rel=REL), (mdp.name, label)


def test_stepmix_regret_fingerprint_matches_its_recipe():
    from rltheory.paper_figures import stepmix

    finals = committed("stepmix-regret")["final_per_replicate"]
    episodes, _ = stepmix.budget(True)
    checked = 0
    for key, algo, mdp in stepmix.configurations():
        env, scale, alpha, method = key
        if env != "R2" or scale != stepmix.SMALL_SCALE or alpha != stepmix.ALPHA:
            continue
        trace = algo.run(mdp, episodes, replicates=1, seed=0)
        old = finals["|".join(map(str, key))][0]
        assert trace.cumulative_regret[0, -1] == pytest.approx(old, rel=REL), key
        checked += 1
    assert checked == 4


def test_nashmp_exploitability_matches_its_recipe():
    from rltheory.paper_figures import nash_mp

    data = committed("nashmp-exploitability")
    batch = nash_mp.games(True)
    results = nash_mp.compare(data["beta"], batch, nash_mp.SETTINGS[True]["queries"][data["beta"]])
    for label, (trace, eta) in results.items():
        name = nash_mp._label(label, eta)
        for metric in ("exploitability", "span"):
            old = data[metric]["curves"][name]["mean"][-1]
            new = float(np.mean(np.log10(np.maximum(trace[metric][:, -1], nash_mp.FLOOR))))
            # log10 of values down to 1e-16: roundoff across BLAS builds moves the last digits
            assert new == pytest.approx(old, abs=1e-3), (label, metric)


def test_rewardfree_lower_bound_row_matches_its_recipe():
    """``d = 3`` of the lower-bound figure, every (K, seed) through the runner (one chunk each), exactly."""
    from rltheory.paper_figures import reward_free as rf

    c = {**rf.LOWER[True], "ds": (3,)}
    gaps = rf.lower_bound_traces(c, **rf.runner_options(True), progress=False)[3]
    old = committed("rewardfree-lower-bound")["series"]["d=3"]
    assert_same(gaps.mean(axis=1), old["gap"]["mean"], "gap.mean")
    assert_same((gaps * np.sqrt(np.asarray(c["Ks"], float))[:, None] / 3).mean(axis=1), old["gap_sqrtK_over_d"],
                "gap_sqrtK_over_d")
