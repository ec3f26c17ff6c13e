"""Shared pieces of the benchmark suite: results, targets, timing and table printing.

Every benchmark module exposes ``run(quick=False, peers=True, log=...) -> BenchResult``.
A :class:`BenchResult` holds plain records (one ``dict`` per table row), the columns that
print them, the speed/memory targets with PASS/MISS, and notes saying what exactly was
timed. ``to_dict()`` is what ``run.py --json`` writes.

Timing rule (all benchmarks): warm up first (Numba compilation is never timed), then size
the workload from a short calibration run so that one measurement lasts about
``target_s`` seconds, and report the best of ``repeats`` measurements.
"""

from __future__ import annotations

import math
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BenchResult",
    "Column",
    "Target",
    "Timing",
    "best_of",
    "timed",
    "calibrated",
    "format_table",
    "machine_info",
    "fmt_bytes",
    "fmt_rate",
    "fmt_ratio",
    "fmt_seconds",
    "log_stderr",
    "print_targets",
]


def log_stderr(msg: str) -> None:
    """Progress messages go to stderr; the tables go to stdout."""
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- results


@dataclass
class Column:
    """One printed column: header, the record key it shows, and a formatter."""

    header: str
    key: str
    fmt: Callable[[Any], str] = str
    align: str = ">"


@dataclass
class Target:
    """A named target: ``measured`` compared with ``threshold``.

    ``passed`` is ``None`` when the measurement could not be made (e.g. a peer is not
    installed) or is not judged (``judged=False``: quick mode, whose sizes are too small for
    meaningful timings); it then prints as ``n/a``.
    """

    name: str
    measured: float | None
    threshold: float
    unit: str = ""
    higher_is_better: bool = True
    detail: str = ""
    judged: bool = True

    @property
    def passed(self) -> bool | None:
        if not self.judged or self.measured is None or not math.isfinite(self.measured):
            return None
        if self.higher_is_better:
            return self.measured >= self.threshold
        return self.measured <= self.threshold

    @property
    def status(self) -> str:
        return {True: "PASS", False: "MISS", None: "n/a"}[self.passed]

    def line(self) -> str:
        op = ">=" if self.higher_is_better else "<="
        got = "not measured" if self.measured is None else f"{_num(self.measured)}{self.unit}"
        detail = [self.detail] if self.detail else []
        if not self.judged:
            detail.append("quick mode: not judged")
        tail = f"  ({'; '.join(detail)})" if detail else ""
        return f"[{self.status}] {self.name}: {got} (target {op} {_num(self.threshold)}{self.unit}){tail}"

    def to_dict(self) -> dict:
        return {"name": self.name, "measured": self.measured, "threshold": self.threshold, "unit": self.unit,
                "higher_is_better": self.higher_is_better, "passed": self.passed, "status": self.status,
                "detail": self.detail, "judged": self.judged}


@dataclass
class BenchResult:
    """The outcome of one benchmark: a table of records, targets and notes."""

    name: str
    title: str
    columns: list[Column]
    rows: list[dict]
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    extra_tables: list[tuple[str, list[Column], list[dict]]] = field(default_factory=list)

    def render(self) -> str:
        out = [f"== {self.title} ==", format_table(self.columns, self.rows)]
        for title, cols, rows in self.extra_tables:
            out += ["", title, format_table(cols, rows)]
        if self.targets:
            out.append("")
            out += [t.line() for t in self.targets]
        if self.notes:
            out.append("")
            out += [f"note: {n}" for n in self.notes]
        return "\n".join(out)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "params": self.params,
            "rows": [_jsonable(r) for r in self.rows],
            "extra_tables": {title: [_jsonable(r) for r in rows] for title, _, rows in self.extra_tables},
            "targets": [t.to_dict() for t in self.targets],
            "notes": list(self.notes),
        }


def _jsonable(record: dict) -> dict:
    out = {}
    for k, v in record.items():
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        elif hasattr(v, "item") and callable(v.item):  # numpy scalars
            v = v.item()
        out[k] = v
    return out


# ---------------------------------------------------------------------------- formatting


def _num(x: float) -> str:
    if x is None:
        return "-"
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


def fmt_rate(x) -> str:
    """A throughput such as ``165,234/s``; strings (e.g. ``"not installed"``) pass through."""
    if isinstance(x, str):
        return x
    if x is None:
        return "-"
    return f"{_num(x)}/s"


def fmt_ratio(x) -> str:
    if isinstance(x, str):
        return x
    if x is None:
        return "n/a"
    return f"{_num(x)}x"


def fmt_seconds(x) -> str:
    """Seconds printed in s, ms or µs."""
    if isinstance(x, str):
        return x
    if x is None:
        return "-"
    if x >= 1:
        return f"{x:.3g} s"
    if x >= 1e-3:
        return f"{x * 1e3:.3g} ms"
    return f"{x * 1e6:.3g} us"


def fmt_bytes(x) -> str:
    if isinstance(x, str):
        return x
    if x is None:
        return "-"
    return f"{x / 2**20:.1f} MiB"


def format_table(columns: list[Column], rows: list[dict]) -> str:
    """Plain-text table with a header rule; missing keys print as ``-``."""
    cells = [[c.header for c in columns]]
    for r in rows:
        cells.append([c.fmt(r[c.key]) if c.key in r else "-" for c in columns])
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]

    def line(row):
        parts = []
        for c, w, text in zip(columns, widths, row, strict=True):
            parts.append(text.ljust(w) if c.align == "<" else text.rjust(w))
        return "  ".join(parts).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


# ---------------------------------------------------------------------------- timing


@dataclass
class Timing:
    """A calibrated, best-of-``repeats`` measurement of ``n`` units of work."""

    n: int
    best_s: float
    all_s: list[float]

    @property
    def per_unit_s(self) -> float:
        return self.best_s / self.n

    @property
    def rate(self) -> float:
        return self.n / self.best_s


def timed(fn: Callable[[], Any]) -> float:
    """Wall-clock seconds of one call of ``fn``."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def best_of(timed_work: Callable[[], float], repeats: int) -> tuple[float, list[float]]:
    """Call ``timed_work`` (which returns its own elapsed seconds) ``repeats`` times: ``(min, all)``."""
    times = [float(timed_work()) for _ in range(repeats)]
    return min(times), times


def calibrated(timed_work: Callable[[int], float], *, target_s: float, repeats: int, n0: int = 1,
               n_min: int = 1, n_max: int = 10**9) -> Timing:
    """Best of ``repeats`` timings of ``timed_work(n)``, with ``n`` sized to last about ``target_s``.

    ``timed_work(n)`` does ``n`` units of work and returns the seconds they took (so that
    set-up such as constructing a fresh agent can stay outside the timed region). The
    caller has already warmed up. Calibration: starting from ``n0``, ``n`` grows until one
    call lasts at least a tenth of ``target_s``; the cost per unit it shows sets
    ``n = clamp(target_s / cost, n_min, n_max)``.
    """
    n = max(1, int(n0))
    floor = target_s / 10
    while True:
        t = float(timed_work(n))
        if t >= floor or n >= n_max:
            break
        grow = floor / t if t > 0 else 16.0
        n = int(min(n_max, max(2 * n, math.ceil(n * min(grow * 1.2, 64.0)))))
    per_unit = max(t / n, 1e-12)
    n = int(min(max(math.ceil(target_s / per_unit), n_min), n_max))
    best, times = best_of(lambda: timed_work(n), repeats)
    return Timing(n=n, best_s=best, all_s=times)


# ---------------------------------------------------------------------------- machine


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict:
    """Facts that make timings comparable: CPU, cores, thread counts, library versions, load."""
    info = {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "python": platform.python_version(),
        "executable": sys.executable,
    }
    for dist in ("rltheory", "numpy", "numba", "scipy", "gymnasium", "rlberry", "rlberry-scool", "pymdptoolbox"):
        info[dist] = _version(dist)
    try:
        import numba

        info["numba_threads"] = numba.get_num_threads()
    except Exception:  # pragma: no cover - numba is a hard dependency of rltheory
        info["numba_threads"] = None
    try:
        from threadpoolctl import threadpool_info

        info["blas_threads"] = {p.get("internal_api", "?"): p.get("num_threads") for p in threadpool_info()}
    except Exception:
        info["blas_threads"] = None
    try:
        info["loadavg_1min"] = os.getloadavg()[0]
    except OSError:
        info["loadavg_1min"] = None
    return info


def render_machine(info: dict) -> str:
    keys = ("cpu", "logical_cpus", "python", "numpy", "numba", "numba_threads", "blas_threads", "gymnasium",
            "rlberry-scool", "pymdptoolbox", "loadavg_1min")
    parts = [f"{k}={info.get(k)}" for k in keys]
    return "machine: " + ", ".join(parts)


def print_targets(targets: dict, *, head: str = "target", digits: str = ".2f", unit: str = "",
                  quick: bool | None = None) -> None:
    """Print a paper benchmark's ``targets`` (name -> {"measured", "passed", ...}), one line each:
    ``{head} {name}: measured {measured:{digits}}{unit} -> PASS | MISS | n/a (quick)``.

    With ``quick`` given (not ``None``), a quick run adds the line saying its sizes are too small for
    meaningful timings, and stdout is flushed.
    """
    for name, t in targets.items():
        status = "n/a (quick)" if t["passed"] is None else ("PASS" if t["passed"] else "MISS")
        print(f"{head} {name}: measured {t['measured']:{digits}}{unit} -> {status}")
    if quick is None:
        return
    if quick:
        print("(quick mode: sizes too small for meaningful timings)")
    sys.stdout.flush()


@dataclass
class PrintedResult:
    """The result of a self-contained paper benchmark (``benchmarks/<paper>.py``): it printed its own
    table and returned a dict; ``targets`` (name -> {"measured", "limit", "passed"[, "unit"]}) become
    :class:`Target` lines (lower is better; the unit defaults to ``x``, a cost ratio)."""

    name: str
    data: dict

    @property
    def targets(self) -> list[Target]:
        out = []
        for name, t in (self.data.get("targets") or {}).items():
            judged = t.get("passed") is not None
            out.append(Target(name, t.get("measured"), t.get("limit", float("nan")), t.get("unit", "x"),
                              higher_is_better=bool(t.get("higher_is_better", False)), judged=judged))
        return out

    def render(self) -> str:
        return "\n".join(t.line() for t in self.targets)

    def to_dict(self) -> dict:
        return {"name": self.name, "data": _jsonable(self.data), "targets": [t.to_dict() for t in self.targets]}


def paper_benchmark(module) -> Callable:
    """Adapt a paper module's ``run(quick) -> dict`` to the suite's ``run(quick, peers, log)``."""

    def run(quick: bool = False, peers: bool = True, log=None):
        return PrintedResult(getattr(module, "NAME", module.__name__), module.run(quick=quick))

    return run
