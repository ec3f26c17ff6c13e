"""``rltheory`` command line: list and reproduce paper figures, run the benchmark suite.

::

    rltheory list                                  # name, status, title of every figure
    rltheory reproduce [NAME ...] [--full] [--out DIR] [--quiet]
    rltheory bench [ARGS ...]                      # python benchmarks/run.py ARGS (from a checkout)

Exit codes: 0 success; 2 bad usage or an unknown figure name; 1 a recipe failed (the other
figures and MANIFEST.md were still written) or the benchmark suite failed (its own code).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

__all__ = ["main"]

BENCH_SCRIPT = Path("benchmarks") / "run.py"


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="rltheory",
        description="Provable tabular RL: regenerate paper figures against the theorems' bounds.")
    parser.add_argument("--version", action="version", version=f"rltheory {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser("list", help="list registered figures (name, status, title)",
                   description="List registered figures, and recipe modules that failed to import.")
    rep = sub.add_parser(
        "reproduce", help="regenerate figures (PNG + JSON + MANIFEST.md)",
        description="Run figure recipes; write OUT/NAME.png, OUT/NAME.json, OUT/MANIFEST.md.")
    rep.add_argument("names", nargs="*", metavar="NAME", help="figures to make (default: all)")
    rep.add_argument("--full", action="store_true", help="paper scale instead of quick mode")
    rep.add_argument("--out", type=Path, default=None, metavar="DIR",
                     help="output folder (default: ./paper_figures)")
    rep.add_argument("-q", "--quiet", action="store_true", help="no progress output")
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
    from .figures import RecipeFailedError, UnknownFigureError, reproduce

    out = args.out if args.out is not None else Path.cwd() / "paper_figures"
    try:
        results = reproduce(args.names or None, full=args.full, out=out, progress=not args.quiet)
    except UnknownFigureError as exc:
        print(f"rltheory reproduce: error: {exc}", file=sys.stderr)
        return 2
    except RecipeFailedError as exc:
        for r in exc.results:
            if not r.ok and args.quiet:  # without --quiet the traceback was already printed
                print(f"{r.name} failed:\n{r.error}", file=sys.stderr)
        for ep, error in sorted(exc.import_errors.items()):
            print(f"recipe module {ep} failed to import: {error}", file=sys.stderr)
        print(f"rltheory reproduce: {exc}; the others and {Path(out) / 'MANIFEST.md'} were written",
              file=sys.stderr)
        return 1
    for r in results:  # per-figure wall time, so that `make figures` shows where the minutes go
        print(f"{r.name}: {r.png} {r.json} ({r.seconds:.1f} s)")
    print(f"total: {sum(r.seconds for r in results):.1f} s for {len(results)} figure(s)")
    print(f"manifest: {Path(out) / 'MANIFEST.md'}")
    return 0


def _cmd_bench(argv: list[str]) -> int:
    script = Path.cwd() / BENCH_SCRIPT
    if not script.is_file():
        print(f"rltheory bench: error: {script} not found. The benchmark suite is not installed "
              "with the package: run `rltheory bench` from the root of an rltheory checkout.",
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
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or bad usage (2)
        return exc.code if isinstance(exc.code, int) else 2
    if args.command == "list":
        return _cmd_list()
    return _cmd_reproduce(args)


if __name__ == "__main__":
    sys.exit(main())
