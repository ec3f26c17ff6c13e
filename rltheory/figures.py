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
mode (``quick=False``, ``rltheory reproduce --full``) matches the paper's scale. The two never
share files: quick outputs go to ``OUT/NAME.png|json`` (``paper_figures/`` by default, where the
README and notebooks point), full outputs to ``OUT/full/NAME.png|json``. Every PNG carries a footer
naming its mode (and the recipe's :attr:`FigureOutput.scale`), every JSON a ``"mode"`` and the
``"wall_time"`` of the run that wrote it, and ``MANIFEST.md`` has one column per mode with those
wall times and their totals. Full-mode wall times that were estimated rather than measured (a full
run too long for the machine at hand) are read from ``OUT/full/estimates.json``
(:data:`ESTIMATES_FILE`) and shown as estimates.
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
from .plotting import savefig, stamp_footer, style

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
    "output_dir",
    "mode_stamp",
    "read_estimates",
    "format_seconds",
    "FULL_DIR",
    "ESTIMATES_FILE",
]

#: Allowed ``status`` values, in MANIFEST.md's vocabulary.
STATUSES = ("reproduced", "reconstructed setting", "not yet")
#: Entry-point group listing recipe modules.
ENTRY_POINT_GROUP = "rltheory.figures"
#: Significant digits kept for floats in ``NAME.json``.
JSON_DIGITS = 6

#: Sub-folder of the output folder that receives full-mode outputs.
FULL_DIR = "full"
#: File in ``OUT/full/`` holding full-mode wall-time estimates of figures not run to completion.
ESTIMATES_FILE = "estimates.json"

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
#: Wall clock of :func:`reproduce` (a module attribute so that tests can make it deterministic).
_clock = time.perf_counter


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
    scale : str
        Optional short statement of this mode's scale (``"8 replicates x 2,000 episodes"``):
        stamped on the PNG next to the mode and stored in ``NAME.json``.
    """

    figure: Figure
    data: dict = dataclasses.field(default_factory=dict)
    notes: str = ""
    scale: str = ""


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
    seconds: float = 0.0  # wall time of the recipe, the PNG and the JSON (recorded in the JSON)
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


def _figure_json(recipe: Recipe, output: FigureOutput, full: bool, seconds: float, data=None) -> str:
    """``NAME.json``'s text; ``data``: ``to_json_data(output.data)`` when already converted."""
    from . import __version__
    from .cluster import default_scheduler

    wall = {"seconds": round(float(seconds), 1), "cpu_count": os.cpu_count(),
            "scheduler": default_scheduler() or "local",
            "measured_by": "rltheory reproduce: the recipe, the PNG and this JSON's data"}
    doc = {"figure": recipe.metadata(), "mode": "full" if full else "quick", "notes": output.notes,
           "scale": output.scale, "command": _command(recipe.name, full), "rltheory_version": __version__,
           "wall_time": wall, "data": to_json_data(output.data) if data is None else data}
    return json.dumps(doc, sort_keys=True, indent=1, allow_nan=False, ensure_ascii=False) + "\n"


def output_dir(out: str | os.PathLike, full: bool) -> Path:
    """Where :func:`reproduce` writes a mode's PNG and JSON: ``out`` (quick) or ``out/full`` (full)."""
    return Path(out) / FULL_DIR if full else Path(out)


def mode_stamp(name: str, full: bool, scale: str = "") -> str:
    """The footer stamped on every PNG: its mode, the recipe's scale, and how to get the other mode."""
    scale = " ".join(str(scale).split())
    if full:
        return f"FULL MODE (full scale{': ' + scale if scale else ''}); made by: rltheory reproduce {name} --full"
    return (f"QUICK MODE (reduced scale{': ' + scale if scale else ''}); "
            f"full scale: rltheory reproduce {name} --full")


# ---------------------------------------------------------------------------- manifest


def _command(name: str, full: bool) -> str:
    return f"rltheory reproduce {name}" + (" --full" if full else "")


def _read_json(path: Path):
    """The document at ``path``; ``None`` if absent; ``"unreadable"`` if it is not a JSON object."""
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "unreadable"
    return doc if isinstance(doc, dict) else "unreadable"


def format_seconds(seconds: float) -> str:
    """A wall time for MANIFEST.md: seconds under 2 minutes, minutes under 2 hours, else hours."""
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _wall_seconds(doc: dict) -> float | None:
    wall = doc.get("wall_time")
    seconds = wall.get("seconds") if isinstance(wall, dict) else None
    if isinstance(seconds, int | float) and not isinstance(seconds, bool) and math.isfinite(seconds) and seconds >= 0:
        return float(seconds)
    return None


_UNTIMED = "generated, time not recorded"


def _mode_cell(folder: Path, name: str, mode: str) -> tuple[str, float | None, dict]:
    """MANIFEST.md's cell for ``name`` in ``mode`` (its files in ``folder``), its wall time, and the
    recorded ``wall_time`` (cpu count, scheduler) or ``{}``."""
    doc = _read_json(folder / f"{name}.json")
    if doc is None:
        return "not generated", None, {}
    if doc == "unreadable":
        return "unreadable JSON", None, {}
    found = doc.get("mode")
    if found != mode:
        return f"**{found!s} mode files in the {mode} folder: rerun**", None, {}
    seconds = _wall_seconds(doc)
    wall = doc["wall_time"] if seconds is not None else {}
    cell = _UNTIMED if seconds is None else format_seconds(seconds)
    if seconds is not None and wall.get("scheduler", "local") != "local":
        cell += f" on Dask ({wall['scheduler']})"
    data = doc.get("data")
    missing = (data.get("missing_inputs") or []) if isinstance(data, dict) else []
    if missing:  # a recipe ran without some of its input data (e.g. ../shared absent): say so in the row
        cell += f", **INCOMPLETE: without {'; '.join(map(str, missing))}**"
    if not (folder / f"{name}.png").is_file():
        cell += " (PNG missing)"
    return cell, seconds, wall


def read_estimates(out: str | os.PathLike = Path("paper_figures")) -> dict[str, dict]:
    """``out/full/estimates.json``: figure name -> estimate of its full-mode wall time.

    Each entry: ``"seconds"`` (the estimated full-mode wall time on the machine described), ``"method"``
    (how it was estimated, one short phrase), and optionally ``"details"`` (longer text) and ``"dask"``
    (what a Dask cluster of N workers would take, and how that was extrapolated). An entry may carry
    only ``"dask"`` (for a full run that was measured but is long). Keys starting with ``_`` are not
    entries (``"_note"``: text that MANIFEST.md prints above the estimates' details). Raises
    :class:`~rltheory.errors.InvalidDataError` naming a malformed entry; an absent file is ``{}``.
    """
    path = Path(out) / FULL_DIR / ESTIMATES_FILE
    doc = _read_json(path)
    if doc is None:
        return {}
    if doc == "unreadable":
        raise InvalidDataError("estimates", f"{path} is not a JSON object", value=str(path))
    entries = {k: v for k, v in doc.items() if not k.startswith("_")}  # "_note" and the like
    for name, entry in entries.items():
        if not isinstance(entry, dict):
            raise InvalidDataError("estimates", f"{path}: entry {name!r} is not an object", value=name)
        seconds = entry.get("seconds")
        if seconds is not None and (not isinstance(seconds, int | float) or isinstance(seconds, bool)
                                    or not math.isfinite(seconds) or seconds <= 0):
            raise InvalidDataError("estimates", f"{path}: {name!r} has seconds={seconds!r}, not a positive "
                                   "number", value=seconds)
        if seconds is not None and not str(entry.get("method", "")).strip():
            raise InvalidDataError("estimates", f"{path}: {name!r} gives an estimate without its method",
                                   value=name)
    return entries


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


MANIFEST_HEADER = """\
# Paper figures

Written by `rltheory reproduce` after every run; do not edit by hand. Each figure is a PNG plus
the numbers behind it (a JSON: the curves as drawn, the bound, the settings, the mode, the
recipe's notes and the run's wall time). Quick mode writes `NAME.png` and `NAME.json` in this
folder; full mode (`--full`) writes `full/NAME.png` and `full/NAME.json`, so neither overwrites
the other. Every PNG says its mode in a footer (QUICK MODE / FULL MODE).

Columns:

- **figure**: the registry name (`rltheory list` shows them all) and what the plot shows.
- **paper**: the paper, and which of its figures or results the plot corresponds to.
- **command**: regenerates the figure in quick mode (about a minute on 2 cores; what CI runs);
  add `--full` for the paper's scale (or the recipe's documented full setting).
- **quick**, **full**: whether that mode's files are here, and the wall time of the last run of
  that mode as measured by `rltheory reproduce` (recipe + PNG + JSON, stored in the JSON's
  `wall_time` with the machine's CPU count and the scheduler). `not run; est.` marks a full-mode
  time that was estimated, not measured (a full run too long for the machine at hand; method
  given, details in `full/estimates.json` and below the table). The last row adds them up.
- **status**: `reproduced` (the paper's setting, reproduced); `reconstructed setting` (the
  paper's exact setting was not available, so it was reconstructed from what was, and the
  recipe's notes say how); `not yet` (registered, not yet reproducing the paper's figure).
"""


def _cpus(walls: list[dict]) -> str:
    counts = sorted({w.get("cpu_count") for w in walls if w.get("cpu_count")})
    return f" on {'/'.join(map(str, counts))} CPUs" if counts else ""


def write_manifest(out: str | os.PathLike = Path("paper_figures")) -> Path:
    """(Re)write ``out/MANIFEST.md``: one row per registered figure, sorted by name, with the quick
    and full columns (wall times from the JSONs in ``out`` and ``out/full``, estimates from
    ``out/full/estimates.json``) and a row of totals. In a process that has registered no figure yet, the
    recipe modules are loaded first (:func:`load_recipes`), so a bare call never writes an empty table."""
    out = Path(out)
    if not FIGURES:
        load_recipes()
    estimates = read_estimates(out)
    doc = _read_json(out / FULL_DIR / ESTIMATES_FILE)
    note = doc.get("_note") if isinstance(doc, dict) else None
    lines = [MANIFEST_HEADER, "| figure | paper | command | quick | full | status |",
             "|---|---|---|---|---|---|"]
    quick_s, quick_walls, n_quick_untimed = [], [], 0
    full_s, full_walls, est_s, notes = [], [], [], []
    for name in sorted(FIGURES):
        r = FIGURES[name]
        quick, seconds, wall = _mode_cell(out, name, "quick")
        if seconds is not None:
            quick_s.append(seconds)
            quick_walls.append(wall)
        elif quick.startswith(_UNTIMED):
            n_quick_untimed += 1
        full, seconds, wall = _mode_cell(output_dir(out, True), name, "full")
        estimate = estimates.get(name, {})
        if seconds is not None:
            full_s.append(seconds)
            full_walls.append(wall)
        elif full == "not generated" and estimate.get("seconds") is not None:
            full = f"not run; est. {format_seconds(estimate['seconds'])} ({estimate['method']})"
            est_s.append(float(estimate["seconds"]))
        if estimate.get("dask"):
            full += f"; Dask: {estimate['dask']}"
        if estimate.get("details"):
            notes.append(f"- `{name}`: {' '.join(str(estimate['details']).split())}")
        lines.append(f"| `{name}`: {_cell(r.title)} | {_cell(r.paper)}; {_cell(r.source)} | "
                     f"`{_command(name, False)}` | {_cell(quick)} | {_cell(full)} | {r.status} |")
    if not FIGURES:
        lines.append("| (no figures registered) | | | | | |")
    else:
        n = len(FIGURES)
        total_quick = (f"{format_seconds(sum(quick_s))} for {len(quick_s)} of {n} figures"
                       f"{_cpus(quick_walls)}")
        if n_quick_untimed:
            total_quick += f" ({n_quick_untimed} more generated without a recorded time)"
        total_full = f"measured: {format_seconds(sum(full_s))} for {len(full_s)} of {n} figures{_cpus(full_walls)}"
        if est_s:
            total_full += (f"; estimated: {format_seconds(sum(est_s))} for {len(est_s)} more; "
                           f"all {len(full_s) + len(est_s)}: about {format_seconds(sum(full_s) + sum(est_s))}")
        lines.append(f"| **total** (wall time, one figure after another) | | | {total_quick} | {total_full} | |")
    if note:
        lines += ["", f"Full-mode timings: {' '.join(str(note).split())}"]
    if notes:
        lines += ["", "How the full-mode estimates (and Dask extrapolations) were obtained:", "", *notes]
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
    """Run figure recipes and write their PNG and JSON, then ``out/MANIFEST.md``.

    Quick mode writes ``out/NAME.png`` and ``out/NAME.json``; full mode writes
    ``out/full/NAME.png`` and ``out/full/NAME.json`` (:func:`output_dir`), so that neither mode
    overwrites the other. Each PNG gets a footer naming its mode (:func:`mode_stamp`); each JSON
    records ``"mode"`` and ``"wall_time"`` (seconds for the recipe, the PNG and the JSON's data;
    CPU count; scheduler), from which MANIFEST.md's quick and full columns are rebuilt.

    Parameters
    ----------
    names : str, iterable of str or None
        Figures to make; ``None``: every registered figure.
    full : bool
        Full (paper-scale) mode instead of quick mode.
    out : path
        Output folder (created if needed); full mode writes into its ``full/`` sub-folder.
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
    folder = output_dir(out, full)
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for i, name in enumerate(todo, 1):
        recipe = FIGURES[name]
        if progress:
            mode = "full" if full else "quick"
            print(f"[{i}/{len(todo)}] {name} ({mode}) ...", file=sys.stderr, flush=True)
        t0 = _clock()
        fig = None
        try:
            with style(), progress_default(progress):
                output = recipe.make(quick=not full)
                if not isinstance(output, FigureOutput) or not isinstance(output.figure, Figure):
                    got = type(output).__name__
                    raise InvalidDataError(
                        "make", f"recipe {name!r} must return a FigureOutput holding a matplotlib "
                        f"Figure, got {got}", value=got)
                if not isinstance(output.scale, str):
                    raise InvalidDataError("scale", f"recipe {name!r} gave a scale that is not a string: "
                                           f"{output.scale!r}", value=output.scale)
                fig = output.figure
                data = to_json_data(output.data)  # fail before any file is written
                region = stamp_footer(fig, mode_stamp(name, full, output.scale))
                png = savefig(fig, folder / f"{name}.png", bbox_inches=region)
            seconds = _clock() - t0
            js = folder / f"{name}.json"
            write_text_atomic(js, _figure_json(recipe, output, full, seconds, data))
            result = FigureResult(name, True, png=png, json=js, seconds=seconds)
        except Exception:
            result = FigureResult(name, False, seconds=_clock() - t0, error=traceback.format_exc())
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
