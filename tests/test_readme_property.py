"""The README's "Property-test a claim" example runs as written and finds the tiny counterexample it promises."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_property_example_runs_and_finds_a_tiny_model(tmp_path, capsys):
    block = re.search(r"## Property-test a claim\n.*?```python\n(.*?)```", README, re.S)
    assert block, "the README lost its property-testing example"
    script = tmp_path / "claim.py"
    script.write_text(block.group(1))
    runpy.run_path(str(script))
    printed = capsys.readouterr().out
    assert "S=2, A=2, H=2" in printed, printed
