"""Every notebook executes top to bottom, in quick mode, from a fresh kernel."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("RLTHEORY_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("RLTHEORY_CACHE", str(tmp_path / "cache"))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
              if out.get("output_type") == "error"]
    assert not errors, errors


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"
    assert all(os.path.getsize(p) < 2_000_000 for p in NOTEBOOKS), "commit notebooks without heavy outputs"


#: What a notebook must not reach into: recipe internals, kernels, prose numbers that drift.
PRIVATE = ("environments()", ".SETTINGS", ".BUDGET", ".LOCK_DEPTHS", "rltheory.kernels",
           "as measured", "when this notebook was written")
PRIVATE_ATTRIBUTE = re.compile(r"\._[a-z]")  # `module._helper`, not `type(x).__name__`


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_uses_public_api_and_stores_its_outputs(path):
    """A reader on GitHub sees the plots (outputs are stored) and the code calls only public functions."""
    import json

    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    for cell in nb["cells"]:
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for bad in PRIVATE:
            assert bad not in text, f"{path.name}: {bad!r} in\n{text[:300]}"
        if cell["cell_type"] == "code":
            assert not PRIVATE_ATTRIBUTE.search(text), f"{path.name}: private attribute in\n{text[:300]}"
    shown = [c for c in code if c.get("outputs")]
    assert len(shown) >= len(code) // 2, f"{path.name}: only {len(shown)} of {len(code)} code cells have outputs"
    images = sum("image/png" in o.get("data", {}) for c in code for o in c["outputs"])
    assert images >= 1, f"{path.name}: no stored plot"
