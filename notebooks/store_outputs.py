"""Execute notebooks in quick mode and store their outputs in place (``make notebooks``).

Usage: ``python notebooks/store_outputs.py [NOTEBOOK ...]`` (default: every ``notebooks/*.ipynb``).
Each notebook runs top to bottom in a fresh kernel with ``RLTHEORY_QUICK=1`` and a throw-away result
cache; progress bars (stderr streams and tqdm widgets) are dropped from the stored outputs, so a reader
on GitHub sees the printed numbers and the plots only. Exits 1 if a cell raised.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import nbclient
import nbformat

WIDGET = "application/vnd.jupyter.widget-view+json"


def store(path: Path) -> int:
    """Execute ``path`` and write it back with its outputs; returns the number of cells that raised."""
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        env = {"RLTHEORY_QUICK": "1", "MPLBACKEND": "Agg", "RLTHEORY_CACHE": str(Path(tmp) / "cache")}
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            client = nbclient.NotebookClient(nb, timeout=1800, kernel_name="python3", allow_errors=True,
                                             resources={"metadata": {"path": str(path.parent.resolve())}})
            client.execute()
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    errors = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors += any(o.get("output_type") == "error" for o in cell.outputs)
        cell.outputs = [o for o in cell.outputs
                        if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
                        and WIDGET not in o.get("data", {})]
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)
    return errors


def main(argv: list[str]) -> int:
    paths = [Path(p) for p in argv] or sorted(Path(__file__).resolve().parent.glob("*.ipynb"))
    failed = 0
    for path in paths:
        t0 = time.perf_counter()
        errors = store(path)
        failed += errors > 0
        print(f"{path}: {time.perf_counter() - t0:.0f} s, {errors} cell(s) raised", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
