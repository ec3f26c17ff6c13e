"""``rltheory`` command line: list and reproduce paper figures, run the benchmark suite.

::

    rltheory list                                  # name, status, title of every figure
    rltheory reproduce [NAME ...] [--full] [--out DIR] [--quiet] [--scheduler ADDRESS]
    rltheory bench [ARGS ...]                      # python benchmarks/run.py ARGS (from a checkout)

Where files go. ``reproduce`` writes into ``paper_figures/`` of the rltheory source checkout that
contains the current directory (found by walking up to a ``pyproject.toml`` naming the project), or
into ``--out DIR``. Outside a checkout ``--out`` is required, and an output folder inside an
installed environment's ``site-packages`` is refused: the installed package is never written to.
Quick mode writes ``NAME.png`` and ``NAME.json`` there; ``--full`` writes ``full/NAME.png`` and
``full/NAME.json`` under it, so the two modes never overwrite each other. ``MANIFEST.md`` (in the folder)
lists both, with each mode's wall time as the JSONs record it (see :func:`rltheory.figures.reproduce`).

``--scheduler ADDRESS`` sends the sweeps inside the recipes to a Dask scheduler (``tcp://host:8786``;
``dask`` starts a local Dask cluster; ``local``: local processes), as the environment variable
``RLTHEORY_SCHEDULER`` does; it needs the ``dask`` extra (see :mod:`rltheory.cluster`).

``bench`` runs the suite in ``benchmarks/`` of a source checkout: the one containing the current
directory, else the one an editable install (``pip install -e``) points at. A wheel install does not
carry the suite, and the command says so.

Exit codes: 0 success; 2 bad usage (the subcommand's usage is printed), an unknown figure name
(close names are suggested) or an unusable output folder; 1 a recipe failed (the other figures and
MANIFEST.md were still written) or the benchmark suite failed (its own code).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

__all__ = ["main", "find_checkout"]

BENCH_SCRIPT = Path("benchmarks") / "run.py"
_PROJECT_NAME = re.compile(r'^\s*name\s*=\s*["\']rltheory["\']\s*$', re.MULTILINE)


def _is_checkout(folder: Path) -> bool:
    pyproject = folder / "pyproject.toml"
    try:
        return pyproject.is_file() and bool(_PROJECT_NAME.search(pyproject.read_text(encoding="utf-8")))
    except OSError:
        return False


def find_checkout(start: str | os.PathLike | None = None) -> Path | None:
    """The rltheory source checkout containing ``start`` (default: the current directory), or ``None``.

    A checkout is a folder whose ``pyproject.toml`` declares ``name = "rltheory"``.
    """
    here = Path.cwd() if start is None else Path(start)
    for folder in (here.resolve(), *here.resolve().parents):
        if _is_checkout(folder):
            return folder
    return None


def _package_checkout() -> Path | None:
    """The checkout an editable install of this package points at (``None`` for a regular install)."""
    folder = Path(__file__).resolve().parent.parent
    return folder if _is_checkout(folder) else None


def _site_dirs() -> list[Path]:
    import site

    dirs = {sysconfig.get_paths().get(k) for k in ("purelib", "platlib")}
    with_site = list(getattr(site, "getsitepackages", lambda: [])()) + [site.getusersitepackages()]
    return [Path(d).resolve() for d in {*dirs, *with_site} if d]


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _output_folder(out: Path | None) -> Path:
    """Resolve and check ``--out`` (or the checkout's ``paper_figures``); raise ``ValueError`` with the reason."""
    if out is None:
        checkout = find_checkout()
        if checkout is None:
            raise ValueError(f"{Path.cwd()} is not inside an rltheory source checkout, so there is no "
                             "paper_figures/ folder to write to: pass --out DIR (the installed package is "
                             "never written to)")
        out = checkout / "paper_figures"
    out = Path(out).expanduser().resolve()
    for site_dir in _site_dirs():
        if _inside(out, site_dir):
            raise ValueError(f"--out {out} is inside the installed environment ({site_dir}); the installed "
                             "package is never written to: choose a folder of your own")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise ValueError(f"--out {out} is not a writable folder ({exc.strerror or exc})") from None
    return out


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="rltheory",
        description="Provable tabular RL: regenerate paper figures against the theorems' bounds.")
    parser.add_argument("--version", action="version", version=f"rltheory {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parser.subcommands = {}
    parser.subcommands["list"] = sub.add_parser(
        "list", help="list registered figures (name, status, title)",
        description="List registered figures, and recipe modules that failed to import.")
    rep = sub.add_parser(
        "reproduce", help="regenerate figures (PNG + JSON + MANIFEST.md)",
        description="Run figure recipes; write OUT/NAME.png, OUT/NAME.json, OUT/MANIFEST.md.")
    rep.add_argument("names", nargs="*", metavar="NAME", help="figures to make (default: all)")
    rep.add_argument("--full", action="store_true", help="paper scale instead of quick mode (written to OUT/full/)")
    rep.add_argument("--out", type=Path, default=None, metavar="DIR",
                     help="output folder (default: paper_figures/ of the source checkout around the current "
                          "directory; required elsewhere)")
    rep.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    rep.add_argument("--scheduler", default=None, metavar="ADDRESS",
                     help="run the recipes' sweeps on this Dask scheduler (tcp://host:8786; 'dask': a local "
                          "Dask cluster; 'local': local processes); default: $RLTHEORY_SCHEDULER, else local")
    parser.subcommands["reproduce"] = rep
    sub.add_parser("bench", add_help=False,
                   help="run the benchmark suite (benchmarks/run.py of a checkout; args forwarded)")
    return parser


def _cmd_list() -> int:
    from .figures import FIGURES, load_recipes

    errors = load_recipes()
    if FIGURES:
        width_name = max(len(n) for n in FIGURES)
        width_status = max(len(r.status) for r in FIGURES.values())
        for name in sorted(FIGURES):
            r = FIGURES[name]
            print(f"{name:<{width_name}}  {r.status:<{width_status}}  {r.title}")
    else:
        print("no figures registered")
    if errors:
        print(f"\n{len(errors)} recipe module(s) failed to import:")
        for ep in sorted(errors):
            print(f"  {ep}: {errors[ep]}")
    return 0


def _cmd_reproduce(args) -> int:
    from .cluster import check_executor, close_clients, scheduler_default
    from .figures import RecipeFailedError, UnknownFigureError, check_names, load_recipes, reproduce

    load_recipes()
    try:
        check_names(args.names or None)  # names first: a typo is reported wherever one runs the command
        out = _output_folder(args.out)
        if args.scheduler is not None:
            check_executor(args.scheduler)
    except (UnknownFigureError, ValueError) as exc:
        print(f"rltheory reproduce: error: {exc}", file=sys.stderr)
        return 2
    try:
        with scheduler_default(args.scheduler):
            results = reproduce(args.names or None, full=args.full, out=out, progress=not args.quiet,
                                load=False)
    except UnknownFigureError as exc:
        print(f"rltheory reproduce: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the folder became unwritable, the disk filled up, ...
        print(f"rltheory reproduce: error: cannot write to {out}: {exc}", file=sys.stderr)
        return 1
    except RecipeFailedError as exc:
        for r in exc.results:
            if not r.ok and args.quiet:  # without --quiet the traceback was already printed
                print(f"{r.name} failed:\n{r.error}", file=sys.stderr)
        for ep, error in sorted(exc.import_errors.items()):
            print(f"recipe module {ep} failed to import: {error}", file=sys.stderr)
        print(f"rltheory reproduce: {exc}; the others and {Path(out) / 'MANIFEST.md'} were written",
              file=sys.stderr)
        return 1
    finally:
        close_clients()  # the Dask clients (and local clusters) the sweeps opened, if any
    for r in results:  # per-figure wall time, so that `make figures` shows where the minutes go
        print(f"{r.name}: {r.png} {r.json} ({r.seconds:.1f} s)")
    print(f"total: {sum(r.seconds for r in results):.1f} s for {len(results)} figure(s)")
    print(f"manifest: {Path(out) / 'MANIFEST.md'}")
    return 0


def _bench_script() -> Path | None:
    """``benchmarks/run.py`` of the checkout around the current directory, else of an editable install."""
    here = Path.cwd() / BENCH_SCRIPT
    if here.is_file():
        return here
    for checkout in (find_checkout(), _package_checkout()):
        if checkout is not None and (checkout / BENCH_SCRIPT).is_file():
            return checkout / BENCH_SCRIPT
    return None


def _cmd_bench(argv: list[str]) -> int:
    script = _bench_script()
    if script is None:
        print("rltheory bench: error: the benchmark suite (benchmarks/run.py) was not found. It is not "
              "installed with the package: it lives in benchmarks/ of an rltheory source checkout. Run "
              "`rltheory bench` (or `make bench`, which also installs the peer libraries of the [bench] "
              "extra) from inside a checkout, or install the checkout in editable mode (pip install -e .).",
              file=sys.stderr)
        return 2
    try:
        return subprocess.call([sys.executable, str(script), *argv], cwd=Path.cwd())
    except KeyboardInterrupt:
        return 130


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "bench":  # forward everything after `bench`, options included
        return _cmd_bench(argv[1:])
    # Figures are drawn off-screen; recipes that use pyplot must not need a display.
    os.environ.setdefault("MPLBACKEND", "Agg")
    parser = _parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # an unknown flag: report it with the subcommand's usage, not the top-level one
            parser.subcommands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # argparse: --help/--version (0) or bad usage (2)
        return exc.code if isinstance(exc.code, int) else 2
    if args.command == "list":
        return _cmd_list()
    return _cmd_reproduce(args)


if __name__ == "__main__":
    sys.exit(main())
