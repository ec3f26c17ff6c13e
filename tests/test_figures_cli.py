"""Figure registry, `reproduce`, plot helpers and the `rltheory` command line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from rltheory import figures as F
from rltheory import plotting as P
from rltheory.cli import main
from rltheory.errors import InvalidDataError, InvalidParameterError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FAKE_MODULES = ("fakefigs_recipes", "fakefigs_broken")

# A third-party package registering figures through the `rltheory.figures` entry-point group.
FAKE_RECIPES = '''
import numpy as np
from rltheory.figures import FigureOutput, figure
from rltheory.plotting import plot_bound, plot_curves, regret_axes, subplots


@figure("dummy-curve", title="A dummy regret curve", paper="Nobody et al. (2099), arXiv:0000.00000",
        source="Fig. 1 (left)", status="reconstructed setting", description="for the tests")
def make(quick):
    n = 1000 if quick else 1500
    k = np.arange(1, n + 1)
    rng = np.random.default_rng(0)
    fig, ax = subplots()
    curves = plot_curves(ax, k, {"algo": np.cumsum(rng.random((4, n)), axis=1)}, spacing="log")
    bound = plot_bound(ax, k, 2.0 * k, "bound", spacing="log")
    regret_axes(ax, log=True)
    data = {"curves": curves, "bound": bound, "quick": quick, "nan": float("nan")}
    return FigureOutput(fig, data, notes="dummy notes")


@figure("dummy-fails", title="Always fails", paper="Nobody (2099)", source="Fig. 2",
        status="not yet")
def make_fails(quick):
    raise RuntimeError("recipe exploded")
'''


@pytest.fixture
def fake_dist(tmp_path, monkeypatch):
    """A fake installed distribution on sys.path declaring two recipe modules (one broken)."""
    root = tmp_path / "site"
    dist = root / "fakefigs-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fakefigs\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[rltheory.figures]\nfakefigs = fakefigs_recipes\nbroken = fakefigs_broken\n")
    (root / "fakefigs_recipes.py").write_text(FAKE_RECIPES)
    (root / "fakefigs_broken.py").write_text("raise ImportError('boom: missing dependency')\n")
    monkeypatch.syspath_prepend(str(root))
    return root


@pytest.fixture(autouse=True)
def _clean_registry():
    """Remove what the tests register (figures defined here or in the fake distribution)."""
    yield
    test_modules = {__name__, *FAKE_MODULES}
    for name in [n for n, r in F.FIGURES.items() if r.module in test_modules]:
        del F.FIGURES[name]
    for ep in ("fakefigs", "broken"):
        F.IMPORT_ERRORS.pop(ep, None)
    for mod in FAKE_MODULES:
        sys.modules.pop(mod, None)


def register_dummy(name="dummy-local", status="reproduced", fail=False):
    @F.figure(name, title=f"Local {name}", paper="Local et al. (2024)", source="Fig. 3 | right",
              status=status)
    def make(quick):
        if fail:
            raise RuntimeError("local recipe exploded")
        fig, ax = P.subplots()
        k = np.arange(1, 51)
        data = {"curves": P.plot_curves(ax, k, {"a": np.ones((3, 50)) * k}),
                "quick": quick, "pi": np.pi, "ints": np.arange(3), "tuple": (1.5, 2)}
        P.regret_axes(ax)
        return F.FigureOutput(fig, data)

    return make


# ---------------------------------------------------------------------------- registry


def test_figure_decorator_validates_and_registers():
    make = register_dummy()
    recipe = F.FIGURES["dummy-local"]
    assert recipe.make is make and recipe.status == "reproduced" and recipe.module == __name__
    for kwargs, argument in [({"status": "done"}, "status"), ({"title": " "}, "title"),
                             ({"paper": None}, "paper"), ({"source": ""}, "source")]:
        args = {"title": "t", "paper": "p", "source": "s", "status": "not yet", **kwargs}
        with pytest.raises(InvalidParameterError) as err:
            F.figure("x", **args)
        assert err.value.argument == argument
    with pytest.raises(InvalidParameterError) as err:
        F.figure("Bad Name", title="t", paper="p", source="s", status="not yet")
    assert err.value.argument == "name"
    register_dummy()  # the same function again (a module reload) replaces the entry
    with pytest.raises(InvalidParameterError, match="already registered by .*register_dummy"):
        @F.figure("dummy-local", title="t", paper="p", source="s", status="not yet")
        def another(quick):  # same name, another function
            raise AssertionError


def test_load_recipes_collects_import_errors(fake_dist):
    errors = F.load_recipes()
    assert "dummy-curve" in F.FIGURES and "dummy-fails" in F.FIGURES
    assert "broken" in errors and "boom: missing dependency" in errors["broken"]
    assert "fakefigs_broken" in errors["broken"] and "ImportError" in errors["broken"]
    assert F.IMPORT_ERRORS["broken"] == errors["broken"]
    assert "fakefigs" not in errors
    F.load_recipes()  # idempotent: re-importing registers nothing twice


# ---------------------------------------------------------------------------- reproduce


def test_reproduce_writes_png_json_and_manifest(tmp_path):
    register_dummy()
    register_dummy("dummy-never", status="reconstructed setting")
    out = tmp_path / "figs"
    results = F.reproduce(["dummy-local"], out=out, progress=False, load=False)
    assert [r.name for r in results] == ["dummy-local"] and results[0].ok
    png = (out / "dummy-local.png").read_bytes()
    assert png.startswith(PNG_MAGIC)
    assert b"Matplotlib" not in png and b"Software" not in png  # no version metadata
    text = (out / "dummy-local.json").read_text()
    doc = json.loads(text)
    assert text == json.dumps(doc, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    assert doc["mode"] == "quick" and doc["data"]["quick"] is True
    assert doc["figure"]["status"] == "reproduced" and doc["figure"]["source"] == "Fig. 3 | right"
    assert doc["command"] == "rltheory reproduce dummy-local"
    assert doc["data"]["pi"] == 3.14159  # rounded to 6 significant digits
    assert doc["data"]["ints"] == [0, 1, 2] and doc["data"]["tuple"] == [1.5, 2]
    assert doc["data"]["curves"]["a"]["mean"][:2] == [1.0, 2.0]
    manifest = (out / "MANIFEST.md").read_text()
    assert "reconstructed setting" in manifest and "exact setting was not available" in manifest
    rows = {line.split("|")[1].strip(): line
            for line in manifest.splitlines() if line.startswith("| `")}
    local = rows["`dummy-local`: Local dummy-local"]
    assert "`rltheory reproduce dummy-local`" in local
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", local)]  # escaped pipes stay inside cells
    assert cells[4].endswith(" s") and cells[5] == "not generated" and "| reproduced |" in local
    assert "Fig. 3 \\| right" in local  # pipes escaped inside cells
    never = rows["`dummy-never`: Local dummy-never"]
    assert "| not generated |" in never and "| reconstructed setting |" in never
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporaries left


def fake_clock(step: float):
    """A clock advancing ``step`` seconds per reading (every figure takes exactly ``step``)."""
    ticks = iter(range(10_000))
    return lambda: step * next(ticks)


def test_reproduce_is_byte_deterministic_and_full_mode_is_recorded(tmp_path, monkeypatch):
    register_dummy()
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):  # the same wall time in both runs: the rest of every file must be identical
        monkeypatch.setattr(F, "_clock", fake_clock(2.5))
        F.reproduce("dummy-local", out=out, progress=False, load=False)
    for name in ("dummy-local.png", "dummy-local.json", "MANIFEST.md"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    F.reproduce("dummy-local", full=True, out=a, progress=False, load=False)
    doc = json.loads((a / "full" / "dummy-local.json").read_text())
    assert doc["mode"] == "full" and doc["data"]["quick"] is False
    assert doc["command"] == "rltheory reproduce dummy-local --full"
    assert json.loads((a / "dummy-local.json").read_text())["mode"] == "quick"  # untouched
    row = next(x for x in (a / "MANIFEST.md").read_text().splitlines() if x.startswith("| `dummy-local`"))
    assert [c.strip() for c in re.split(r"(?<!\\)\|", row)][4] == "2.5 s"


def test_reproduce_continues_after_a_failing_recipe(tmp_path, capsys):
    register_dummy()
    register_dummy("dummy-bad", fail=True)
    out = tmp_path / "figs"
    with pytest.raises(F.RecipeFailedError, match="dummy-bad") as err:
        F.reproduce(["dummy-bad", "dummy-local"], out=out, progress=True, load=False)
    by_name = {r.name: r for r in err.value.results}
    assert by_name["dummy-local"].ok and not by_name["dummy-bad"].ok
    assert "local recipe exploded" in by_name["dummy-bad"].error
    assert (out / "dummy-local.png").is_file() and not (out / "dummy-bad.png").exists()
    manifest = (out / "MANIFEST.md").read_text()
    assert "`dummy-bad`" in manifest and "not generated" in manifest
    assert "FAILED: dummy-bad" in capsys.readouterr().err


def test_reproduce_all_fails_when_a_recipe_module_did_not_import(tmp_path, monkeypatch):
    monkeypatch.setattr(F, "FIGURES", {})
    monkeypatch.setattr(F, "IMPORT_ERRORS", {"broken": "fakefigs_broken: ImportError: boom"})
    register_dummy()
    with pytest.raises(F.RecipeFailedError, match=r"1 recipe module\(s\) failed to import: broken") as err:
        F.reproduce(out=tmp_path, progress=False, load=False)
    assert [r.name for r in err.value.results] == ["dummy-local"] and err.value.results[0].ok
    assert err.value.import_errors == {"broken": "fakefigs_broken: ImportError: boom"}
    assert (tmp_path / "dummy-local.png").is_file()
    assert "`broken`" in (tmp_path / "MANIFEST.md").read_text()
    # figures named explicitly: an unrelated broken module is not an error
    assert F.reproduce("dummy-local", out=tmp_path, progress=False, load=False)[0].ok


def test_reproduce_rejects_unknown_names_and_bad_outputs(tmp_path):
    register_dummy()
    with pytest.raises(F.UnknownFigureError, match="known figures: .*dummy-local") as err:
        F.reproduce(["no-such-figure"], out=tmp_path, progress=False, load=False)
    assert isinstance(err.value, ValueError) and err.value.argument == "names"
    assert not (tmp_path / "MANIFEST.md").exists()  # nothing run, nothing written

    @F.figure("dummy-wrong-type", title="t", paper="p", source="s", status="not yet")
    def make(quick):
        return "not a FigureOutput"

    with pytest.raises(F.RecipeFailedError) as failed:
        F.reproduce(["dummy-wrong-type"], out=tmp_path, progress=False, load=False)
    assert "must return a FigureOutput" in failed.value.results[0].error


def test_to_json_data():
    data = {"a": np.array([[1.23456789, np.nan], [np.inf, -2.0]], dtype=np.float32),
            1: (np.int64(3), True), "p": Path("x/y"), "s": np.float64(1e-12 / 3),
            "episodes": np.array([1.0, 1234567.0])}
    assert F.to_json_data(data) == {"a": [[1.23457, None], [None, -2.0]], "1": [3, True],
                                    "p": "x/y", "s": 3.33333e-13, "episodes": [1.0, 1234567.0]}
    with pytest.raises(InvalidDataError, match=r"data\['bad'\]"):
        F.to_json_data({"bad": object()})


# ---------------------------------------------------------------------------- plotting


def test_mean_and_se():
    values = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 10.0]])
    mean, se = P.mean_and_se(values)
    np.testing.assert_allclose(mean, [3.0, 6.0])
    np.testing.assert_allclose(se, [2.0 / np.sqrt(3), 4.0 / np.sqrt(3)])
    mean1, se1 = P.mean_and_se(values[:1])
    np.testing.assert_array_equal(se1, [0.0, 0.0])
    np.testing.assert_allclose(P.mean_and_se(values, axis=1)[0], [1.5, 4.5, 7.5])
    with pytest.raises(InvalidParameterError) as err:
        P.mean_and_se(values, axis=2)
    assert err.value.argument == "axis"


@pytest.mark.parametrize("spacing", ["linear", "log"])
def test_subsample_indices(spacing):
    idx = P.subsample_indices(100_000, 300, spacing=spacing)
    assert idx[0] == 0 and idx[-1] == 99_999 and len(idx) <= 302
    assert np.all(np.diff(idx) > 0)
    if spacing == "log":
        assert np.sum(idx < 1000) > np.sum(idx >= 50_000)  # dense at the start
    np.testing.assert_array_equal(P.subsample_indices(50, 300), np.arange(50))


def test_plot_helpers_shapes_and_errors():
    fig, ax = P.subplots()
    k = np.arange(1, 2001)
    drawn = P.plot_curves(ax, k, {"x": np.ones((2, 2000)), "single": np.zeros(2000)})
    assert drawn["x"]["mean"].shape == drawn["x"]["x"].shape
    assert len(drawn["x"]["x"]) <= P.MAX_POINTS + 2
    assert drawn["x"]["replicates"] == 2 and drawn["single"]["replicates"] == 1
    assert P.plot_bound(ax, k, 3.0, "flat")["y"][0] == 3.0
    with pytest.raises(InvalidDataError) as err:
        P.plot_curves(ax, k, {"bad": np.ones((2, 10))})
    assert err.value.argument == "curves"
    with pytest.raises(InvalidDataError) as err:
        P.plot_bound(ax, k, np.ones(3), "bad")
    assert err.value.argument == "y"
    with pytest.raises(InvalidParameterError) as err:
        P.regret_axes(ax, log="z")
    assert err.value.argument == "log"
    P.regret_axes(ax, log=True, title="t")
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "episodes K"
    assert ax.get_ylabel() == "cumulative regret"


def test_savefig_deterministic(tmp_path):
    fig, ax = P.subplots()
    P.plot_curves(ax, np.arange(10), {"c": np.arange(30.0).reshape(3, 10)})
    P.regret_axes(ax)
    one = P.savefig(fig, tmp_path / "one.png").read_bytes()
    two = P.savefig(fig, tmp_path / "two.png").read_bytes()
    assert one == two and one.startswith(PNG_MAGIC)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.png", "two.png"]
    with pytest.raises(InvalidParameterError):
        P.savefig(fig, tmp_path / "nosuffix")


# ---------------------------------------------------------------------------- CLI, in process


def test_cli_list_shows_figures_and_import_errors(fake_dist, capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("dummy-curve"))
    assert "reconstructed setting" in line and "A dummy regret curve" in line
    assert "failed to import" in out and "broken" in out and "boom: missing dependency" in out


def _fake_checkout(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text('[project]\nname = "rltheory"\nversion = "0"\n')
    (root / "sub" / "dir").mkdir(parents=True)
    return root


def test_cli_reproduce_and_exit_codes(fake_dist, tmp_path, monkeypatch, capsys):
    _fake_checkout(tmp_path)
    monkeypatch.chdir(tmp_path / "sub" / "dir")  # anywhere inside the checkout
    assert main(["reproduce", "dummy-curve", "-q"]) == 0
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "paper_figures"  # the default output folder: paper_figures/ of the checkout
    assert (out / "dummy-curve.png").read_bytes().startswith(PNG_MAGIC)
    doc = json.loads((out / "dummy-curve.json").read_text())
    assert doc["data"]["nan"] is None and doc["notes"] == "dummy notes"
    assert len(doc["data"]["curves"]["algo"]["x"]) <= P.MAX_POINTS + 2  # subsampled from 1000
    manifest = (out / "MANIFEST.md").read_text()
    assert "`broken`" in manifest  # modules that failed to import are named
    capsys.readouterr()
    assert main(["reproduce", "nope", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "unknown figure" in err and "dummy-curve" in err and "broken" in err
    assert main(["reproduce", "dummy-fails", "dummy-curve", "--full", "-q", "--out", "o2"]) == 1
    assert "recipe exploded" in capsys.readouterr().err
    assert json.loads((tmp_path / "o2" / "full" / "dummy-curve.json").read_text())["mode"] == "full"
    assert not (tmp_path / "o2" / "dummy-curve.json").exists()  # full mode writes into o2/full only
    assert main(["reproduce", "--bogus"]) == 2
    assert main([]) == 2
    assert main(["--version"]) == 0


def test_cli_bench(tmp_path, monkeypatch, capfd):
    import rltheory.cli as cli

    monkeypatch.setattr(cli, "_package_checkout", lambda: None)  # as for a wheel install
    monkeypatch.chdir(tmp_path)
    assert main(["bench"]) == 2
    err = capfd.readouterr().err
    assert "benchmarks/run.py" in err and "not installed with the package" in err and "pip install -e" in err
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "run.py").write_text(
        "import sys\nprint('bench args', sys.argv[1:], sys.executable)\nsys.exit(3)\n")
    assert main(["bench", "--quick", "-k", "ucbvi"]) == 3
    out = capfd.readouterr().out
    assert "bench args ['--quick', '-k', 'ucbvi']" in out and sys.executable in out


# ---------------------------------------------------------------------------- CLI, subprocess


def run_cli(args, cwd, site, *, module=True):
    path = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path, "MPLBACKEND": "Agg"}
    if module:
        cmd = [sys.executable, "-m", "rltheory.cli", *args]
    else:
        script = Path(sys.executable).parent / "rltheory"
        if not script.is_file():
            pytest.skip("console script `rltheory` not installed next to the interpreter")
        cmd = [str(script), *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_cli_subprocess(fake_dist, tmp_path):
    listed = run_cli(["list"], tmp_path, fake_dist)
    assert listed.returncode == 0, listed.stderr
    assert "dummy-curve" in listed.stdout and "boom: missing dependency" in listed.stdout
    made = run_cli(["reproduce", "dummy-curve", "--out", "figs"], tmp_path, fake_dist, module=False)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "figs" / "dummy-curve.png").is_file()
    manifest = (tmp_path / "figs" / "MANIFEST.md").read_text()
    rows = [ln for ln in manifest.splitlines() if "`dummy-" in ln]
    assert len(rows) == 2
    curve = next(r for r in rows if "`dummy-curve`" in r)
    assert [c.strip() for c in curve.split("|")][4].endswith(" s")  # the quick run's wall time
    assert any("not generated" in r for r in rows)
    unknown = run_cli(["reproduce", "nope"], tmp_path, fake_dist, module=False)
    assert unknown.returncode == 2 and "known figures" in unknown.stderr
    failed = run_cli(["reproduce", "dummy-fails", "--out", "figs"], tmp_path, fake_dist)
    assert failed.returncode == 1 and "recipe exploded" in failed.stderr


def test_core_does_not_import_paper_code():
    code = textwrap.dedent("""
        import sys
        import rltheory.cli, rltheory.experiments, rltheory.figures, rltheory.plotting
        paper = ("rltheory.algorithms", "rltheory.mdps", "rltheory.bounds",
                 "rltheory.paper_figures")
        print([m for m in sys.modules if m.startswith(paper)])
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------- where outputs go; CLI errors


def test_reproduce_outside_a_checkout_needs_out(fake_dist, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["reproduce", "dummy-curve", "-q"]) == 2
    err = capsys.readouterr().err
    assert "not inside an rltheory source checkout" in err and "--out" in err and "Traceback" not in err
    assert not (tmp_path / "paper_figures").exists()


def test_reproduce_never_writes_into_site_packages(fake_dist, tmp_path, monkeypatch, capsys):
    import rltheory.cli as cli

    site = tmp_path / "venv" / "site-packages"
    (site / "rltheory").mkdir(parents=True)
    monkeypatch.setattr(cli, "_site_dirs", lambda: [site.resolve()])
    monkeypatch.chdir(site / "rltheory")
    assert main(["reproduce", "dummy-curve", "-q"]) == 2  # not a checkout
    assert main(["reproduce", "dummy-curve", "-q", "--out", str(site / "rltheory" / "paper_figures")]) == 2
    err = capsys.readouterr().err
    assert "inside the installed environment" in err and "Traceback" not in err
    assert not (site / "rltheory" / "paper_figures").exists()


def test_reproduce_out_that_is_a_file_or_unwritable(fake_dist, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    file = tmp_path / "a-file"
    file.write_text("x")
    assert main(["reproduce", "dummy-curve", "-q", "--out", str(file)]) == 2
    assert main(["reproduce", "dummy-curve", "-q", "--out", str(file / "below")]) == 2
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions
            pytest.skip("running as a user who can write anywhere")
        assert main(["reproduce", "dummy-curve", "-q", "--out", str(locked / "figs")]) == 2
        assert main(["reproduce", "dummy-curve", "-q", "--out", str(locked)]) == 2
    finally:
        locked.chmod(0o700)
    err = capsys.readouterr().err
    assert "exists and is not a folder" in err and "not a writable folder" in err and "Traceback" not in err


def test_reproduce_out_unwritable_even_as_root(fake_dist, tmp_path, monkeypatch, capsys):
    """An --out below a file cannot be created by anyone: a clean error, no traceback."""
    (tmp_path / "f").write_text("x")
    assert main(["reproduce", "dummy-curve", "-q", "--out", str(tmp_path / "f" / "g" / "h")]) == 2
    err = capsys.readouterr().err
    assert "rltheory reproduce: error:" in err and "Traceback" not in err


def test_unknown_figure_suggests_close_names(fake_dist, tmp_path, capsys):
    assert main(["reproduce", "dummy-curv", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'dummy-curve'" in err
    assert main(["reproduce", "dummy", "--out", str(tmp_path)]) == 2
    assert "did you mean" in capsys.readouterr().err


def test_bad_flag_prints_the_subcommands_usage(fake_dist, capsys):
    assert main(["reproduce", "--bogus"]) == 2
    err = capsys.readouterr().err
    assert "usage: rltheory reproduce" in err and "--bogus" in err and "--full" in err
    assert main(["list", "--nope"]) == 2
    assert "usage: rltheory list" in capsys.readouterr().err


def test_bench_finds_the_editable_checkout(tmp_path, monkeypatch, capfd):
    import rltheory.cli as cli

    checkout = _fake_checkout(tmp_path / "src")
    (checkout / "benchmarks").mkdir()
    (checkout / "benchmarks" / "run.py").write_text("import sys\nprint('suite ran')\nsys.exit(0)\n")
    monkeypatch.setattr(cli, "_package_checkout", lambda: checkout)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["bench"]) == 0
    assert "suite ran" in capfd.readouterr().out
    monkeypatch.setattr(cli, "_package_checkout", lambda: None)
    monkeypatch.chdir(checkout / "sub" / "dir")  # inside a checkout, below its root
    assert main(["bench"]) == 0
    assert "suite ran" in capfd.readouterr().out


def test_find_checkout(tmp_path):
    from rltheory.cli import find_checkout

    assert find_checkout(tmp_path) is None or find_checkout(tmp_path) != tmp_path
    root = _fake_checkout(tmp_path / "repo")
    assert find_checkout(root / "sub" / "dir") == root.resolve()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "pyproject.toml").write_text('[project]\nname = "not-rltheory"\n')
    assert find_checkout(tmp_path / "other") is None or find_checkout(tmp_path / "other") != tmp_path / "other"


# ---------------------------------------------------------------------------- round-two additions


def test_cli_reproduce_prints_per_figure_wall_time(fake_dist, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["reproduce", "dummy-curve", "-q", "--out", str(tmp_path / "figs")]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("dummy-curve:"))
    assert line.endswith(" s)") and "total:" in out


def test_manifest_marks_figures_made_without_their_input_data(tmp_path):
    @F.figure("dummy-missing", title="Needs shared data", paper="Local (2024)", source="Fig. 9",
              status="reproduced")
    def make(quick):
        fig, _ = P.subplots()
        return F.FigureOutput(fig, {"missing_inputs": ["BRIDGE MDPs (../shared/data/bridge)"]})

    register_dummy()
    F.reproduce(["dummy-missing", "dummy-local"], out=tmp_path, progress=False, load=False)
    rows = {line.split("`")[1]: line for line in (tmp_path / "MANIFEST.md").read_text().splitlines()
            if line.startswith("| `")}
    assert "INCOMPLETE: without BRIDGE MDPs" in rows["dummy-missing"]
    assert "INCOMPLETE" not in rows["dummy-local"]


def test_missing_bridge_folder_warns_once_and_is_recorded(tmp_path, monkeypatch):
    from rltheory.paper_figures import sqirl

    monkeypatch.setenv("RLTHEORY_BRIDGE_DIR", str(tmp_path / "nowhere"))
    monkeypatch.setattr(sqirl, "_warned_missing", False)
    with pytest.warns(sqirl.MissingDataWarning, match="BRIDGE MDPs NOT FOUND"):
        assert sqirl.bridge_dir() is None
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second call is silent
        assert sqirl.bridge_dir() is None
        assert sqirl.missing_inputs() == ["BRIDGE MDPs (../shared/data/bridge or $RLTHEORY_BRIDGE_DIR)"]
    (tmp_path / "here").mkdir()
    (tmp_path / "here" / "x.npz").write_bytes(b"")
    monkeypatch.setenv("RLTHEORY_BRIDGE_DIR", str(tmp_path / "here"))
    assert sqirl.bridge_dir() == tmp_path / "here" and sqirl.missing_inputs() == []


def test_legend_helpers_place_legends_outside_the_axes(tmp_path):
    fig, axes = P.subplots(1, 2)
    k = np.arange(1, 101)
    for ax in axes:
        P.plot_curves(ax, k, {"a": np.ones((2, 100)) * k, "b": np.ones((2, 100)) * 2 * k})
    assert P.figure_legend(fig, axes) is not None
    assert len(fig.legends[0].get_texts()) == 2  # one entry per label, not per panel
    leg = P.legend_outside(axes[0], side="right")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)  # constrained layout places the legend while drawing
    assert leg.get_window_extent(renderer).x0 >= axes[0].get_window_extent(renderer).x1
    fig2, ax2 = P.subplots()
    assert P.legend_outside(ax2) is None and P.figure_legend(fig2, ax2) is None
    with pytest.raises(InvalidParameterError):
        P.legend_outside(axes[0], side="left")


def test_integer_ticks_label_short_log_axes():
    fig, ax = P.subplots()
    ax.plot([3, 4, 6, 8], [1, 2, 3, 4])
    ax.set_xscale("log")
    P.integer_ticks(ax, [3, 4, 6, 8, 8])
    assert list(ax.get_xticks()) == [3, 4, 6, 8]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["3", "4", "6", "8"]
    P.integer_ticks(ax, np.arange(1, 40), axis="y", max_ticks=5)
    assert len(ax.get_yticks()) == 5
    with pytest.raises(InvalidParameterError):
        P.integer_ticks(ax, [1], axis="z")
    box = P.note_box(ax, "Thm 1 bound: 1e12")
    assert box.get_text() == "Thm 1 bound: 1e12"
    with pytest.raises(InvalidParameterError):
        P.note_box(ax, "x", loc="middle")
