"""Labelled progress bars for the recipes' own loops (instances, panels, configurations).

The sweeps of :func:`rltheory.experiments.sweep` draw a bar over chunks; a recipe that loops over
instances or panels wraps that loop in :func:`steps`, so a long figure always says what it is
sweeping and how far it got. Bars follow :func:`rltheory.experiments.progress_default` (what
``rltheory reproduce --quiet`` switches off) and write to stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from tqdm.auto import tqdm

from rltheory import experiments

__all__ = ["steps", "enabled"]


def enabled() -> bool:
    """Whether progress bars are on in this context (``reproduce(progress=...)``; on by default)."""
    return bool(experiments._resolve_progress(None))  # the runner's context flag (no public getter yet)


def steps(iterable: Iterable, desc: str, *, total: int | None = None, unit: str = "run"):
    """``iterable`` wrapped in a tqdm bar labelled ``desc`` (e.g. ``"sqirl-sample-complexity: 26 instances"``)."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    return tqdm(iterable, desc=desc, total=total, unit=unit, disable=not enabled(), leave=False,
                file=sys.stderr, dynamic_ncols=True)
