"""Non-stationary grid scenarios for KeRNS (Domingues et al., AISTATS 2021): a reconstructed setting.

The paper's experiments could not be retrieved; these are the scenarios of the KeRNS prototype
(spec ``kerns.md``, addendum §2), labelled "reconstructed setting":

* a ``size x size`` grid (default 7 x 7, ``S = 49``) built on ``networkx.grid_2d_graph``; ``A = 5``:
  ``0 = UP, 1 = RIGHT, 2 = DOWN, 3 = LEFT, 4 = STAY``; the chosen action is taken with probability
  ``1 - slip`` and, with probability ``slip`` (default 0.2), a uniformly random one of the 5 instead
  (a move along no grid edge stays); start at the centre cell; ``H = 20``;
* reward ``r(s) = max(0, 1 - ||x_s - c|| / radius)`` around a goal point ``c`` in cell units
  (``radius`` 1.5 cells, i.e. 0.25 of the unit square the prototype used); only rewards change
  between models, transitions never do;
* **piecewise**: ``c`` cycles over the 4 cells ``(+-2, +-2)`` from the centre, switching every
  ``period`` episodes (600);
* **drift**: ``c`` moves on a circle of radius 2.5 cells around the centre, one turn per ``period``
  episodes (1200), discretised into ``models_per_turn`` models (the goal angle is constant over
  ``period / models_per_turn`` episodes);
* **stationary**: the library's :func:`~rltheory.mdps.gridworld` (absorbing goal) as a single-model
  schedule, for sanity checks.

The state metric is the Euclidean distance between grid coordinates (``coords[s] = (row, col)``), so
a kernel bandwidth is in cells. ``Delta`` of a scenario is exact
(:meth:`rltheory.nonstationary.NonStationaryMDP.total_variation`); ``period`` sets it.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from rltheory.errors import InvalidParameterError
from rltheory.models import FiniteHorizonMDP
from rltheory.nonstationary import NonStationaryMDP
from rltheory.validation import check_int, check_real

from .gridworld import gridworld, slippery_row

__all__ = ["grid_transitions", "bump_rewards", "piecewise_grid", "drift_grid", "stationary_grid", "MOVES5"]

#: ``(d_row, d_col)`` of the 5 actions: up, right, down, left, stay.
MOVES5 = ((-1, 0), (0, 1), (1, 0), (0, -1), (0, 0))


def grid_transitions(size: int, slip: float):
    """``(P (S, 5, S), coords (S, 2))`` of the slippery ``size x size`` grid (states in row-major order)."""
    graph = nx.grid_2d_graph(size, size)
    cells = sorted(graph.nodes)
    index = {c: i for i, c in enumerate(cells)}
    S, A = len(cells), len(MOVES5)
    P = np.zeros((S, A, S))
    for i, cell in enumerate(cells):
        slippery_row(P, i, cell, graph, index, MOVES5, slip)
    return P, np.array(cells, dtype=float)


def bump_rewards(coords: np.ndarray, goal, radius: float, A: int) -> np.ndarray:
    """``R (S, A)`` with ``R[s, :] = max(0, 1 - ||coords[s] - goal|| / radius)``."""
    d = np.linalg.norm(coords - np.asarray(goal, float)[None], axis=1)
    r = np.maximum(0.0, 1.0 - d / radius)
    return np.repeat(r[:, None], A, axis=1)


def _check_common(size, slip, horizon, radius, episodes, period):
    size = check_int(size, "size", low=5)
    slip = check_real(slip, "slip", low=0.0, high=1.0)
    H = check_int(horizon, "horizon", low=1)
    radius = check_real(radius, "radius", low=0.0, low_open=True)
    episodes = check_int(episodes, "episodes", low=1)
    period = check_int(period, "period", low=1)
    return size, slip, H, radius, episodes, period


def _models(size, slip, H, radius, goals, name):
    P, coords = grid_transitions(size, slip)
    S = P.shape[0]
    centre = (size - 1) / 2.0
    mu = np.zeros(S)
    mu[int(round(centre)) * size + int(round(centre))] = 1.0
    return [FiniteHorizonMDP(P, bump_rewards(coords, g, radius, P.shape[1]), mu, H, name=f"{name}[{i}]")
            for i, g in enumerate(goals)], coords


def piecewise_grid(*, episodes: int = 3000, period: int = 600, size: int = 7, slip: float = 0.2,
                   horizon: int = 20, radius: float = 1.5, offset: int = 2) -> NonStationaryMDP:
    """Piecewise-constant rewards: the goal cycles over the 4 cells ``centre + (+-offset, +-offset)``
    (order: up-left, up-right, down-right, down-left), switching every ``period`` episodes."""
    size, slip, H, radius, episodes, period = _check_common(size, slip, horizon, radius, episodes, period)
    c = (size - 1) // 2
    offset = check_int(offset, "offset", low=1, high=c)
    goals = [(c - offset, c - offset), (c - offset, c + offset), (c + offset, c + offset), (c + offset, c - offset)]
    models, coords = _models(size, slip, H, radius, goals, "piecewise")
    schedule = (np.arange(episodes) // period) % len(goals)
    return NonStationaryMDP(models, schedule, coords=coords, name=f"Piecewise grid {size}x{size} (period {period})",
                            meta={"switches": list(range(period, episodes, period)), "period": period,
                                  "goals": goals, "scenario": "piecewise"})


def drift_grid(*, episodes: int = 3000, period: int = 1200, size: int = 7, slip: float = 0.2, horizon: int = 20,
               radius: float = 1.5, circle: float = 2.5, models_per_turn: int = 120) -> NonStationaryMDP:
    """Drifting rewards: the goal point turns on a circle of radius ``circle`` cells, one turn per ``period``
    episodes, discretised into ``models_per_turn`` models."""
    size, slip, H, radius, episodes, period = _check_common(size, slip, horizon, radius, episodes, period)
    circle = check_real(circle, "circle", low=0.0)
    m = check_int(models_per_turn, "models_per_turn", low=1)
    if m > period:
        raise InvalidParameterError("models_per_turn", f"must be <= period={period}, got {m}", value=m)
    c = (size - 1) / 2.0
    theta = 2 * np.pi * np.arange(m) / m
    goals = [(c + circle * np.sin(t), c + circle * np.cos(t)) for t in theta]
    models, coords = _models(size, slip, H, radius, goals, "drift")
    schedule = (np.arange(episodes) * m // period) % m
    return NonStationaryMDP(models, schedule, coords=coords, name=f"Drift grid {size}x{size} (turn {period})",
                            meta={"switches": list(range(period, episodes, period)), "period": period,
                                  "scenario": "drift"})


def stationary_grid(*, episodes: int = 1000, size: int = 5, slip: float = 0.1, horizon: int = 20) -> NonStationaryMDP:
    """The library's stationary :func:`~rltheory.mdps.gridworld` (4 actions, absorbing goal in the far corner,
    start at the near corner) as a one-model schedule; ``Delta = 0``."""
    mdp = gridworld(size, size, slip=slip, horizon=horizon)
    episodes = check_int(episodes, "episodes", low=1)
    return NonStationaryMDP([mdp], np.zeros(episodes, np.int64), coords=np.array(mdp.meta["cells"], float),
                            name=f"Stationary gridworld {size}x{size}", meta={"switches": [], "scenario": "stationary"})
