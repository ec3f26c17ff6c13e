"""A slippery gridworld with walls, built on a networkx grid graph.

The grid has ``rows x cols`` cells ``(row, col)``, row 0 at the top. Wall cells are removed
from ``networkx.grid_2d_graph(rows, cols)``; the states are the remaining (free) cells in
row-major order, and the edges of the graph are the only moves that succeed.
"""

from __future__ import annotations

from numbers import Integral

import networkx as nx
import numpy as np

from rltheory.errors import InvalidParameterError
from rltheory.models import FiniteHorizonMDP
from rltheory.validation import check_dense_allocation, check_int, check_real

__all__ = ["gridworld", "UP", "RIGHT", "DOWN", "LEFT", "MOVES"]

UP, RIGHT, DOWN, LEFT = 0, 1, 2, 3
#: ``(d_row, d_col)`` of each action.
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))


def _cell(value, name: str, rows: int, cols: int, index=None) -> tuple[int, int]:
    where = "" if index is None else f" (entry {index[0]})"
    try:
        r, c = value
    except (TypeError, ValueError):
        raise InvalidParameterError(name, f"must be a (row, col) pair{where}, got {value!r}",
                                    index=index, value=value) from None
    for x in (r, c):
        if isinstance(x, bool | np.bool_) or not isinstance(x, Integral | np.integer):
            raise InvalidParameterError(name, f"must be a pair of integers{where}, got {value!r}",
                                        index=index, value=value)
    r, c = int(r), int(c)
    if not (0 <= r < rows and 0 <= c < cols):
        raise InvalidParameterError(
            name, f"cell {(r, c)}{where} lies outside the {rows}x{cols} grid",
            index=index, value=(r, c))
    return r, c


def slippery_row(P: np.ndarray, i: int, cell, graph, index: dict, moves, slip: float) -> None:
    """Add state ``i``'s slippery moves to ``P[i]`` (shape ``(A, S)``, ``A = len(moves)``), in place.

    Action ``a`` takes its own move with probability ``1 - slip`` and, with probability ``slip``, a
    uniformly random one of the ``A`` moves; a move along no edge of ``graph`` stays at ``i``.
    """
    r, c = cell
    A = len(moves)
    # landing[d]: the state reached by moving in direction d (staying if there is no edge)
    landing = []
    for dr, dc in moves:
        nbr = (r + dr, c + dc)
        landing.append(index[nbr] if graph.has_edge((r, c), nbr) else i)
    for a in range(A):
        P[i, a, landing[a]] += 1.0 - slip
        for d in range(A):
            P[i, a, landing[d]] += slip / A


def gridworld(rows: int = 5, cols: int = 5, *, walls=(), start=(0, 0), goal=None, slip: float = 0.1,
              horizon: int = 20, reward_noise=None) -> FiniteHorizonMDP:
    """A slippery ``rows x cols`` gridworld with walls and an absorbing, rewarding goal.

    * **States**: the free (non-wall) cells in row-major order; ``mdp.meta['cells'][i]`` is the
      ``(row, col)`` of state ``i`` (a tuple of length ``S = rows * cols - #walls``).
    * **Actions**: ``0 = UP, 1 = RIGHT, 2 = DOWN, 3 = LEFT`` (row 0 is the top row).
    * **Moves**: the intended direction is taken with probability ``1 - slip``; with probability
      ``slip`` the direction is instead drawn uniformly from all 4 (so the intended direction has
      total probability ``1 - slip + slip / 4`` and each other one ``slip / 4``). A move off the
      grid or into a wall, i.e. along no edge of the grid graph, leaves the agent in place.
    * **Goal**: absorbing (every action stays); ``R[goal, :] = 1`` and ``R = 0`` elsewhere, so
      the return counts the steps spent *in* the goal, the step taken from it included:
      reaching it in ``k`` steps with certainty earns ``H - k``.
    * **Start**: ``mu`` is the point mass on ``start``.

    Parameters
    ----------
    rows, cols : int >= 1
    walls : iterable of (row, col)
        Blocked cells, inside the grid; duplicates are ignored.
    start : (row, col)
    goal : (row, col), optional
        Defaults to the bottom-right cell ``(rows - 1, cols - 1)``.
    slip : float in [0, 1]
    horizon : int >= 1
    reward_noise : {None, "bernoulli"}

    Returns
    -------
    FiniteHorizonMDP
        Stationary ``P`` of shape ``(S, 4, S)``, ``R`` of shape ``(H, S, 4)``, ``mu`` of shape
        ``(S,)``, with an extra attribute ``cells``. With the defaults (5x5, no walls, start
        ``(0, 0)``, goal ``(4, 4)``, ``slip=0.1``, ``horizon=20``) the optimal value is
        ``V* = 11.2245`` (the deterministic grid, ``slip=0``, gives ``20 - 8 = 12``).

    Raises
    ------
    InvalidParameterError
        Naming the argument: bad sizes, ``slip`` outside ``[0, 1]``, a wall outside the grid
        (index = position in ``walls``), ``start``/``goal`` outside the grid or on a wall, or a
        ``goal`` not reachable from ``start`` through free cells.
    """
    rows = check_int(rows, "rows", low=1)
    cols = check_int(cols, "cols", low=1)
    check_dense_allocation((rows * cols, 4, rows * cols), "rows",
                           what="gridworld's transition tensor P (rows x cols states)")
    slip = check_real(slip, "slip", low=0.0, high=1.0)
    H = check_int(horizon, "horizon", low=1)
    try:
        wall_list = list(walls)
    except TypeError:
        raise InvalidParameterError(
            "walls", f"must be an iterable of (row, col) pairs, got {walls!r}", value=walls,
        ) from None
    wall_set = {_cell(w, "walls", rows, cols, index=(i,)) for i, w in enumerate(wall_list)}
    start = _cell(start, "start", rows, cols)
    goal = (rows - 1, cols - 1) if goal is None else _cell(goal, "goal", rows, cols)
    for arg, cell in (("start", start), ("goal", goal)):
        if cell in wall_set:
            raise InvalidParameterError(arg, f"cell {cell} is a wall", value=cell)

    graph = nx.grid_2d_graph(rows, cols)
    graph.remove_nodes_from(wall_set)
    if not nx.has_path(graph, start, goal):
        raise InvalidParameterError(
            "goal", f"cell {goal} is not reachable from start {start} through free cells",
            value=goal)

    cells = tuple(sorted(graph.nodes))  # row-major order
    index = {cell: i for i, cell in enumerate(cells)}
    S, A = len(cells), len(MOVES)
    P = np.zeros((S, A, S))
    g = index[goal]
    for i, (r, c) in enumerate(cells):
        if i == g:
            P[i, :, i] = 1.0
            continue
        slippery_row(P, i, (r, c), graph, index, MOVES, slip)
    R = np.zeros((S, A))
    R[g, :] = 1.0
    mu = np.zeros(S)
    mu[index[start]] = 1.0
    name = f"Gridworld({rows}x{cols}, walls={len(wall_set)}, slip={slip:g})"
    return FiniteHorizonMDP(P, R, mu, H, reward_noise=reward_noise, name=name, meta={"cells": cells})
