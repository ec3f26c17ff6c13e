"""The core never imports upwards: every import in ``rltheory/*.py`` (lazy ones inside functions included).

Floors (DESIGN.md): core ``rltheory/`` <- papers ``algorithms/``, ``mdps/``, ``bounds/`` (installed as
``rltheory.algorithms`` ...) <- figures ``paper_figures/``. The walk is over the syntax tree, so an import
hidden in a function body, an ``importlib.import_module("...")`` or an ``__import__("...")`` is seen as
well as a top-level ``import``; a dynamic import whose target is not a string literal fails too (the
core finds recipe modules through entry points, which the test does not need to follow).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rltheory

CORE = Path(rltheory.__file__).resolve().parent
UPPER = ("algorithms", "mdps", "bounds", "paper_figures")


def _core_files() -> list[Path]:
    return sorted([*CORE.glob("*.py"), *CORE.glob("kernels/*.py")])


def _absolute(module: str | None, level: int, path: Path) -> str:
    """The absolute name of ``from <level dots><module> import ...`` written in ``path``."""
    if level == 0:
        return module or ""
    package = ["rltheory"] + list(path.relative_to(CORE).parent.parts)
    base = package[: len(package) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _imports(path: Path, source: str | None = None):
    """``(line, absolute module name)`` of every import in ``path`` (``None`` name: a non-literal dynamic import).

    ``source`` replaces the file's text (``path`` then only places it, for relative imports).
    """
    tree = ast.parse(path.read_text() if source is None else source, filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, path)
            yield node.lineno, base
            for alias in node.names:  # `from rltheory import algorithms` imports a subpackage
                yield node.lineno, f"{base}.{alias.name}"
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in ("import_module", "__import__"):
                arg = node.args[0] if node.args else None
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    yield node.lineno, arg.value
                else:
                    yield node.lineno, None


def _upward(name: str | None) -> bool:
    if name is None:
        return True
    parts = name.split(".")
    return len(parts) >= 2 and parts[0] == "rltheory" and parts[1] in UPPER


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: p.relative_to(CORE).as_posix())
def test_core_module_imports_no_paper_package(path):
    bad = [(line, name) for line, name in _imports(path) if _upward(name)]
    assert not bad, f"{path.name} imports upwards: {bad}"


def test_the_walk_sees_lazy_and_dynamic_imports():
    """The checker has teeth: it flags a lazy relative import, ``import_module`` and a non-literal import."""
    src = ("def f(name):\n"
           "    from .algorithms import UCBVI\n"
           "    import importlib\n"
           "    importlib.import_module('rltheory.bounds.ucbvi')\n"
           "    __import__(name)\n"
           "    from . import mdps\n")
    tree_names = [name for _, name in _imports(CORE / "probe.py", src) if _upward(name)]
    assert "rltheory.algorithms" in tree_names
    assert "rltheory.bounds.ucbvi" in tree_names
    assert None in tree_names
    assert "rltheory.mdps" in tree_names


def test_cache_fingerprint_does_not_import_paper_packages():
    """``code_fingerprint`` hashes the algorithm's own package from its already-imported module."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from rltheory.experiments import code_fingerprint, cache_key\n"
            "from rltheory.models import FiniteHorizonMDP\n"
            "import numpy as np\n"
            "class Local:\n"
            "    def run(self, *a, **k): pass\n"
            "    def get_params(self): return {}\n"
            "code_fingerprint(); code_fingerprint(Local())\n"
            "m = FiniteHorizonMDP(np.full((2, 1, 2), 0.5), np.zeros((2, 1)), np.array([1.0, 0.0]), 2)\n"
            "cache_key(Local(), m, 3)\n"
            "bad = [n for n in sys.modules if n.split('.')[:2] in (['rltheory', p] for p in "
            "('algorithms', 'mdps', 'bounds', 'paper_figures'))]\n"
            "print(bad)\n"
            "assert not bad, bad\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]


def test_cache_fingerprint_follows_the_algorithm_source(tmp_path, monkeypatch):
    """Editing the algorithm's own package changes the fingerprint; the core part is shared."""
    import importlib
    import sys

    from rltheory import experiments as ex

    pkg = tmp_path / "thirdparty_algo"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "learner.py").write_text("class L:\n    def run(self): pass\n    def get_params(self): return {}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("thirdparty_algo.learner")
    try:
        before = ex.code_fingerprint(mod.L())
        assert before != ex.code_fingerprint()
        (pkg / "helper.py").write_text("X = 1\n")
        ex._folder_digest.cache_clear()
        assert ex.code_fingerprint(mod.L()) != before
    finally:
        for name in [n for n in sys.modules if n.startswith("thirdparty_algo")]:
            del sys.modules[name]
        ex._folder_digest.cache_clear()


PAPERS = {"algorithms": Path(rltheory.__file__).resolve().parents[1] / "algorithms",
          "mdps": Path(rltheory.__file__).resolve().parents[1] / "mdps",
          "bounds": Path(rltheory.__file__).resolve().parents[1] / "bounds"}


def _paper_imports(package: str, path: Path):
    """Absolute names imported by a module of a paper package (relative imports resolved inside it)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(["rltheory", package] + ([node.module] if node.module else []))
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


@pytest.mark.parametrize("package", sorted(PAPERS))
def test_paper_packages_import_only_the_core_and_themselves(package):
    """``algorithms``, ``mdps``, ``bounds`` import the core only (and their own modules), never each other
    nor the figure recipes (docstring examples are not code, so they may show ``rltheory.mdps``)."""
    folder = PAPERS[package]
    if not folder.is_dir():
        pytest.skip("paper packages are not beside the core (an installed wheel)")
    bad = []
    for path in sorted(folder.glob("*.py")):
        for line, name in _paper_imports(package, path):
            parts = name.split(".")
            if len(parts) >= 2 and parts[0] == "rltheory" and parts[1] in UPPER and parts[1] != package:
                bad.append((path.name, line, name))
    assert not bad, bad
