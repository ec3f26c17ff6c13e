"""The README's example runs as written, and its two commands are the Makefile's targets."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def test_readme_example_runs(tmp_path, capsys):
    block = re.search(r"## Ten lines\n\n```python\n(.*?)```", README, re.S)
    assert block, "the README lost its example"
    code = block.group(1)
    assert len(code.strip().splitlines()) <= 12
    script = tmp_path / "example.py"
    script.write_text(code)
    namespace = runpy.run_path(str(script))
    printed = capsys.readouterr().out.split()
    v_star = namespace["backward_induction"](namespace["mdp"]).value
    assert float(printed[0]) == v_star
    # The printed bound (Theorem 2) is ~1e12 here, far above the trivial cap K V*: checking the regret
    # against it could not fail. Instead: the printed regret is the trace's, it is well under the trivial
    # cap (UCBVI learns at this documented bonus_scale), and it grows sublinearly (the second half of the
    # episodes adds under a quarter of the first half's regret; measured: 2315 then +329, cap 13023).
    trace = namespace["trace"]
    K = trace.regret.shape[1]
    regret = float(printed[1])
    assert regret == pytest.approx(trace.cumulative_regret[:, -1].mean(), rel=1e-5)
    assert 0 < regret < 0.5 * K * v_star
    mean = trace.cumulative_regret.mean(axis=0)
    assert mean[-1] - mean[K // 2 - 1] < 0.25 * mean[K // 2 - 1]


def test_readme_commands_exist_in_the_makefile():
    commands = re.findall(r"^make (\w+)", README, re.M)
    assert {"figures", "test"} <= set(commands)
    makefile = (REPO / "Makefile").read_text()
    for target in commands:
        assert re.search(rf"^{target}:", makefile, re.M), target
