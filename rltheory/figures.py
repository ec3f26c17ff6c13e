"""The figure registry: name -> recipe, found through the ``rltheory.figures`` entry points.

A recipe is a function ``make(quick: bool) -> FigureOutput`` in a module of
``paper_figures/`` (or of any installed package), registered with :func:`figure`::

    from rltheory.figures import FigureOutput, figure

    @figure("ucbvi-regret", title="UCBVI regret on RiverSwim", paper="Azar et al. (2017)",
            source="Thm. 1 / Thm. 2 (no figure in the paper)", status="reconstructed setting")
    def make(quick: bool) -> FigureOutput:
        ...
        return FigureOutput(fig, data={"curves": ..., "bound": ...})

and its module is declared in ``pyproject.toml``::

    [project.entry-points."rltheory.figures"]
    ucbvi = "rltheory.paper_figures.ucbvi"

The core never imports recipe modules by name: :func:`load_recipes` imports whatever the entry
points name and records, per module, any error instead of raising. :func:`reproduce` runs
recipes and writes ``NAME.png``, ``NAME.json`` and ``MANIFEST.md`` into a folder.

Quick mode (``quick=True``) finishes in about a minute on 2 cores and is what CI runs; full
mode (``quick=False``, ``rltheory reproduce --full``) matches the paper's scale.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .errors import InvalidDataError, InvalidParameterError
from .experiments import progress_default, write_text_atomic
from .plotting import savefig, style

__all__ = [
    "STATUSES",
    "ENTRY_POINT_GROUP",
    "FIGURES",
    "IMPORT_ERRORS",
    "FigureOutput",
    "Recipe",
    "FigureResult",
    "UnknownFigureError",
    "RecipeFailedError",
    "figure",
    "load_recipes",
    "reproduce",
    "check_names",
    "write_manifest",
    "to_json_data",
]

#: Allowed ``status`` values, in MANIFEST.md's vocabulary.
STATUSES = ("reproduced", "reconstructed setting", "not yet")
#: Entry-point group listing recipe modules.
ENTRY_POINT_GROUP = "rltheory.figures"
#: Significant digits kept for floats in ``NAME.json``.
JSON_DIGITS = 6

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


@dataclasses.dataclass
class FigureOutput:
    """What a recipe returns.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
    data : dict
        The numbers behind the figure (curves as drawn, bounds, settings), JSON-serialisable
        after :func:`to_json_data` (NumPy arrays and scalars are fine).
    notes : str
        Free text for ``NAME.json`` (e.g. what was reconstructed and why).
    """

    figure: Figure
    data: dict = dataclasses.field(default_factory=dict)
    notes: str = ""


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A registered figure: its metadata and its ``make(quick) -> FigureOutput``."""

    name: str
    title: str
    paper: str
    source: str
    status: str
    description: str
    make: Callable[[bool], FigureOutput]

    @property
    def module(self) -> str:
        return getattr(self.make, "__module__", "?")

    def metadata(self) -> dict:
        return {"name": self.name, "title": self.title, "paper": self.paper, "source": self.source,
                "status": self.status, "description": self.description, "module": self.module}


@dataclasses.dataclass
class FigureResult:
    """Outcome of one recipe in :func:`reproduce`."""

    name: str
    ok: bool
    png: Path | None = None
    json: Path | None = None
    seconds: float = 0.0
    error: str | None = None  # formatted traceback when the recipe failed


class UnknownFigureError(InvalidParameterError):
    """A figure name that no loaded recipe registers."""


class RecipeFailedError(RuntimeError):
    """Recipes raised, or (for "all figures") recipe modules failed to import; the rest was written.

    ``results`` lists every figure run; ``import_errors`` maps entry-point name -> error for the
    recipe modules that failed to import (only when every figure was asked for).
    """

    def __init__(self, results: list[FigureResult], import_errors: Mapping[str, str] | None = None):
        self.results = results
        self.import_errors = dict(import_errors or {})
        parts = []
        failed = [r.name for r in results if not r.ok]
        if failed:
            parts.append(f"{len(failed)} figure recipe(s) failed: {', '.join(failed)}")
        if self.import_errors:
            parts.append(f"{len(self.import_errors)} recipe module(s) failed to import: "
                         f"{', '.join(sorted(self.import_errors))}")
        super().__init__("; ".join(parts))


#: name -> :class:`Recipe` of every registered figure.
FIGURES: dict[str, Recipe] = {}
#: entry-point name -> "module: ExceptionType: message" for recipe modules that failed to import.
IMPORT_ERRORS: dict[str, str] = {}


def _check_text(value, argument: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        what = "a string" if allow_empty else "a non-empty string"
        raise InvalidParameterError(argument, f"must be {what}, got {value!r}", value=value)
    return value


def figure(name: str, *, title: str, paper: str, source: str, status: str,
           description: str = "") -> Callable[[Callable], Callable]:
    """Decorator registering ``make(quick: bool) -> FigureOutput`` as figure ``name``.

    Parameters
    ----------
    name : str
        Registry name and file stem: lowercase letters, digits, ``.``, ``_``, ``-``.
    title : str
        One line saying what the plot shows.
    paper : str
        The paper (authors, year, venue or arXiv id).
    source : str
        Which of the paper's figures or results it corresponds to (e.g. "Fig. 2 (left)").
    status : {"reproduced", "reconstructed setting", "not yet"}
        ``"reconstructed setting"``: the paper's exact setting was not available and was
        reconstructed (say how in ``description`` or the output's ``notes``).
    description : str
        Longer free text.

    Returns the function unchanged. Registering a name twice from different functions raises
    :class:`~rltheory.errors.InvalidParameterError`; re-registering the same function (a module
    reload) replaces the entry.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidParameterError(
            "name", f"must match {_NAME_RE.pattern} (it is a file name), got {name!r}", value=name)
    _check_text(title, "title")
    _check_text(paper, "paper")
    _check_text(source, "source")
    _check_text(description, "description", allow_empty=True)
    if status not in STATUSES:
        raise InvalidParameterError("status", f"must be one of {STATUSES}, got {status!r}",
                                    value=status)

    def register(make: Callable) -> Callable:
        if not callable(make):
            raise InvalidParameterError("make", f"must be callable, got {make!r}", value=make)
        old = FIGURES.get(name)
        if old is not None and _ident(old.make) != _ident(make):
            raise InvalidParameterError(
                "name", f"figure {name!r} is already registered by {'.'.join(_ident(old.make))}",
                value=name)
        FIGURES[name] = Recipe(name, title, paper, source, status, description, make)
        return make

    return register


def _ident(make: Callable) -> tuple[str, str]:
    return (str(getattr(make, "__module__", "?")), str(getattr(make, "__qualname__", "?")))


def load_recipes(group: str = ENTRY_POINT_GROUP) -> dict[str, str]:
    """Import every module named by the entry points of ``group``; never raises for a module.

    Returns (and stores in :data:`IMPORT_ERRORS`) entry-point name -> ``"module: Type: message"``
    for the modules that failed to import. Importing registers their figures in :data:`FIGURES`.
    """
    errors: dict[str, str] = {}
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            ep.load()
        except Exception as exc:  # a broken recipe module must not break `rltheory list`
            errors[ep.name] = f"{ep.value}: {type(exc).__name__}: {exc}"
    if group == ENTRY_POINT_GROUP:
        IMPORT_ERRORS.clear()
        IMPORT_ERRORS.update(errors)
    return errors


# ---------------------------------------------------------------------------- JSON


def _round(x: float, digits: int):
    if not math.isfinite(x):
        return None
    if x.is_integer() and abs(x) < 2.0 ** 53:  # episode counts and the like stay exact
        return x
    return float(f"{x:.{digits}g}")


def to_json_data(obj: Any, digits: int = JSON_DIGITS, _where: str = "data") -> Any:
    """``obj`` as plain JSON types: arrays to (nested) lists, floats to ``digits`` significant
    digits (integral floats, e.g. episode numbers, stay exact), NaN and infinities to ``None``,
    tuples to lists, keys to strings, paths to strings.

    Raises :class:`~rltheory.errors.InvalidDataError` naming the entry that cannot be converted.
    """
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return _round(float(obj), digits)
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "fc":
            if obj.dtype.kind == "c":
                raise InvalidDataError("data", f"{_where} is a complex array", value=str(obj.dtype))
            flat = [_round(v, digits) for v in obj.astype(np.float64).ravel().tolist()]
            if obj.ndim == 1:
                return flat
            return np.array(flat, dtype=object).reshape(obj.shape).tolist()
        if obj.dtype.kind in "biuU":
            return obj.tolist()
        raise InvalidDataError("data", f"{_where} has dtype {obj.dtype}, not JSON-serialisable",
                               value=str(obj.dtype))
    if isinstance(obj, Mapping):
        return {str(k): to_json_data(v, digits, f"{_where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_json_data(v, digits, f"{_where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise InvalidDataError("data", f"{_where} is a {type(obj).__name__}, not JSON-serialisable",
                           value=type(obj).__name__)


def _figure_json(recipe: Recipe, output: FigureOutput, full: bool) -> str:
    from . import __version__

    doc = {"figure": recipe.metadata(), "mode": "full" if full else "quick", "notes": output.notes,
           "command": _command(recipe.name, full), "rltheory_version": __version__,
           "data": to_json_data(output.data)}
    return json.dumps(doc, sort_keys=True, indent=1, allow_nan=False, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------- manifest


def _command(name: str, full: bool) -> str:
    return f"rltheory reproduce {name}" + (" --full" if full else "")


def _last_mode(out: Path, name: str) -> str:
    path = out / f"{name}.json"
    if not path.is_file():
        return "not generated"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        mode = doc.get("mode")
        missing = (doc.get("data") or {}).get("missing_inputs") or []
    except (OSError, ValueError, AttributeError):
        return "unreadable JSON"
    if mode not in ("quick", "full"):
        return "unknown"
    if missing:  # a recipe ran without some of its input data (e.g. ../shared absent): say so in the row
        mode = f"{mode}, **INCOMPLETE: without {'; '.join(map(str, missing))}**"
    return mode if (out / f"{name}.png").is_file() else f"{mode} (PNG missing)"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


MANIFEST_HEADER = """\
# Paper figures

Written by `rltheory reproduce` after every run; do not edit by hand. Each figure is a PNG
(`NAME.png`) plus the numbers behind it (`NAME.json`: the curves as drawn, the bound, the
settings, the mode and the recipe's notes).

Columns:

- **figure**: the registry name (`rltheory list` shows them all) and what the plot shows.
- **paper**: the paper, and which of its figures or results the plot corresponds to.
- **command**: regenerates the figure in quick mode (about a minute on 2 cores; what CI runs);
  add `--full` for the paper's scale.
- **last generated**: the mode of the files now in this folder (`quick`, `full`, or
  `not generated`).
- **status**: `reproduced` (the paper's setting, reproduced); `reconstructed setting` (the
  paper's exact setting was not available, so it was reconstructed from what was, and the
  recipe's notes say how); `not yet` (registered, not yet reproducing the paper's figure).
"""


def write_manifest(out: str | os.PathLike = Path("paper_figures")) -> Path:
    """(Re)write ``out/MANIFEST.md``: one row per registered figure, sorted by name."""
    out = Path(out)
    lines = [MANIFEST_HEADER, "| figure | paper | command | last generated | status |",
             "|---|---|---|---|---|"]
    for name in sorted(FIGURES):
        r = FIGURES[name]
        lines.append(f"| `{name}`: {_cell(r.title)} | {_cell(r.paper)}; {_cell(r.source)} | "
                     f"`{_command(name, False)}` | {_last_mode(out, name)} | {r.status} |")
    if not FIGURES:
        lines.append("| (no figures registered) | | | | |")
    if IMPORT_ERRORS:
        lines += ["", "Recipe modules that failed to import when this file was written (their "
                      "figures are missing above; `rltheory list` shows the errors):", ""]
        lines += [f"- `{ep}`" for ep in sorted(IMPORT_ERRORS)]
    path = out / "MANIFEST.md"
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------------------- reproduce


def check_names(names: str | Iterable[str] | None) -> list[str]:
    """The registered figures ``names`` asks for (``None``: all); :class:`UnknownFigureError` suggests close names."""
    return _resolve_names(names)


def _resolve_names(names) -> list[str]:
    if names is None:
        return sorted(FIGURES)
    if isinstance(names, str):
        names = [names]
    names = list(dict.fromkeys(names))
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        known = ", ".join(sorted(FIGURES)) or "(none)"
        hint = ""
        for name in unknown:
            close = difflib.get_close_matches(str(name), sorted(FIGURES), n=3, cutoff=0.5)
            if not close:  # a paper's prefix (``stepmix``) is close to none of its figures as a whole word
                close = [f for f in sorted(FIGURES) if f.startswith(f"{name}-")][:3]
            if close:
                hint += f"; did you mean {' or '.join(map(repr, close))} for {name!r}?"
        if IMPORT_ERRORS:
            hint += f"; recipe modules that failed to import: {', '.join(sorted(IMPORT_ERRORS))}"
        raise UnknownFigureError("names", f"unknown figure(s) {', '.join(map(repr, unknown))}; "
                                          f"known figures: {known}{hint}", value=unknown)
    return names


def _close(fig: Figure) -> None:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)


def reproduce(names: str | Iterable[str] | None = None, *, full: bool = False,
              out: str | os.PathLike = Path("paper_figures"), progress: bool = True,
              load: bool = True) -> list[FigureResult]:
    """Run figure recipes and write ``out/NAME.png``, ``out/NAME.json`` and ``out/MANIFEST.md``.

    Parameters
    ----------
    names : str, iterable of str or None
        Figures to make; ``None``: every registered figure.
    full : bool
        Full (paper-scale) mode instead of quick mode.
    out : path
        Output folder (created if needed).
    progress : bool
        One status line per figure on stderr, and progress bars inside the recipes' sweeps.
    load : bool
        Call :func:`load_recipes` first (entry points).

    Returns
    -------
    list of FigureResult, one per figure run, in order.

    Raises
    ------
    UnknownFigureError
        A name no recipe registers (nothing is run); the message lists the known names.
    RecipeFailedError
        One or more recipes raised, or (``names=None``) a recipe module failed to import, so
        "every figure" could not be made; every other figure and MANIFEST.md were written
        first. A failed figure's previous files, if any, are left as they were.
    """
    if load:
        load_recipes()
    todo = _resolve_names(names)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for i, name in enumerate(todo, 1):
        recipe = FIGURES[name]
        if progress:
            mode = "full" if full else "quick"
            print(f"[{i}/{len(todo)}] {name} ({mode}) ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        fig = None
        try:
            with style(), progress_default(progress):
                output = recipe.make(quick=not full)
                if not isinstance(output, FigureOutput) or not isinstance(output.figure, Figure):
                    got = type(output).__name__
                    raise InvalidDataError(
                        "make", f"recipe {name!r} must return a FigureOutput holding a matplotlib "
                        f"Figure, got {got}", value=got)
                fig = output.figure
                text = _figure_json(recipe, output, full)
                png = savefig(fig, out / f"{name}.png")
            js = out / f"{name}.json"
            write_text_atomic(js, text)
            result = FigureResult(name, True, png=png, json=js, seconds=time.perf_counter() - t0)
        except Exception:
            result = FigureResult(name, False, seconds=time.perf_counter() - t0,
                                  error=traceback.format_exc())
            if progress:
                print(f"    FAILED: {name}\n{result.error}", file=sys.stderr, flush=True)
        finally:
            if fig is not None:
                _close(fig)
        if progress and result.ok:
            print(f"    wrote {result.png} and {result.json} ({result.seconds:.1f} s)",
                  file=sys.stderr, flush=True)
        results.append(result)
    write_manifest(out)
    missing_modules = IMPORT_ERRORS if names is None else {}
    if missing_modules or any(not r.ok for r in results):
        raise RecipeFailedError(results, missing_modules)
    return results
