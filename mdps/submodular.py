"""Submodular MDPs of "Submodular Reinforcement Learning" (Prajapat, Mutný, Zeilinger & Krause, ICLR 2024).

* :func:`coverage_grid` — the 30x30 coverage grid of the official code (H = 80), start cell 34;
* :func:`two_rooms` — the 7x14 two-rooms grid with walls (H = 40, 68 reachable cells), start cell 34;
* :func:`bandit_smdp` — the bandit SMDP (A = S, the action is the next state; ``epsilon``-noisy version);
* :func:`random_bandit_smdp` — a random weighted-coverage bandit SMDP (for property tests);
* :func:`tight_greedy_family` — ``k`` decoys on which greedy gets exactly ``1 - (1 - 1/k)^k`` of OPT.

Grid facts are read from the official repository (manish-pra/non-additive-RL, ``utils/environment.py``;
spec B2.3/B4): actions ``0`` stay, ``1`` column+1, ``2`` row+1, ``3`` column-1, ``4`` row-1; a move off the grid
or into a wall leaves the agent in place; deterministic dynamics; the footprint ``D(s)`` of a visited cell
is the cell, its right, lower and lower-right neighbours (clipped at the border, and in two-rooms masked by
the walls, which is what the code's masked edge lists amount to). Every cell has weight 1 ("constant"), so
``F`` counts covered cells. The code's normaliser MAX_Ret = 2(H + 1) is the model's ``normaliser``.
"""

from __future__ import annotations

import numpy as np

from rltheory.errors import InvalidParameterError
from rltheory.submodular import SubmodularMDP
from rltheory.validation import check_int, check_real

__all__ = ["coverage_grid", "two_rooms", "bandit_smdp", "random_bandit_smdp", "tight_greedy_family",
           "GRID_MOVES", "START_CELL", "TWO_ROOMS_OPT"]

#: ``(d_row, d_col)`` of actions 0..4 (stay, column+1, row+1, column-1, row-1), official code order.
GRID_MOVES = ((0, 0), (0, 1), (1, 0), (0, -1), (-1, 0))
#: The official code hard-codes the start node 34 (``GridWorld.initialize``).
START_CELL = 34
#: Two-rooms optimum: every one of the 68 reachable cells covered (beam search attains it; spec addendum §3).
TWO_ROOMS_OPT = 68.0


def _grid_model(rows, cols, walls, horizon, start, name, window=2):
    S = rows * cols
    free = ~walls.ravel()
    P = np.zeros((S, len(GRID_MOVES), S))
    cover = np.zeros((S, S))
    for r in range(rows):
        for c in range(cols):
            s = r * cols + c
            for a, (dr, dc) in enumerate(GRID_MOVES):
                rr, cc = r + dr, c + dc
                ok = 0 <= rr < rows and 0 <= cc < cols and free[s] and free[rr * cols + cc]
                P[s, a, rr * cols + cc if ok else s] = 1.0
            for dr, dc in ((0, 0), (0, 1), (1, 0), (1, 1)):  # footprint D(s): self, right, down, diagonal
                rr, cc = r + dr, c + dc
                if 0 <= rr < rows and 0 <= cc < cols and (free[rr * cols + cc] or (dr, dc) == (0, 0)):
                    cover[s, rr * cols + cc] = 1.0
    # history features: covered bits of the (2 window + 1)^2 cells around s (-1 outside the grid)
    offsets = [(dr, dc) for dr in range(-window, window + 1) for dc in range(-window, window + 1)]
    feats = np.full((S, len(offsets)), -1, dtype=np.int64)
    for r in range(rows):
        for c in range(cols):
            for k, (dr, dc) in enumerate(offsets):
                if 0 <= r + dr < rows and 0 <= c + dc < cols:
                    feats[r * cols + c, k] = (r + dr) * cols + c + dc
    mu = np.zeros(S)
    mu[start] = 1.0
    return SubmodularMDP(P, mu, horizon, cover, features=feats, normaliser=2.0 * (horizon + 1), name=name,
                         meta={"rows": rows, "cols": cols, "walls": walls.copy(), "start": start})


def coverage_grid(rows: int = 30, cols: int = 30, horizon: int = 80, start: int = START_CELL) -> SubmodularMDP:
    """The official "coverage" environment: ``rows x cols`` open grid, 5 actions, 2x2 footprint, w = 1.

    Defaults are the code's ``params/coverage`` config (30x30, H = 80, start 34). OPT = 2(H + 1) = 162
    (4 cells at the start, at most 2 new cells per move), which greedy attains (spec addendum §3).
    """
    rows = check_int(rows, "rows", low=2)
    cols = check_int(cols, "cols", low=2)
    horizon = check_int(horizon, "horizon", low=2)
    start = check_int(start, "start", low=0, high=rows * cols - 1)
    return _grid_model(rows, cols, np.zeros((rows, cols), dtype=bool), horizon, start,
                       f"coverage {rows}x{cols} (H={horizon})")


def two_rooms_walls() -> np.ndarray:
    """``(7, 14)`` bool: walls of two-rooms (rows 0-1 and 4-6 of columns 4-9; the corridor is rows 2-3)."""
    walls = np.zeros((7, 14), dtype=bool)
    walls[0:2, 4:10] = True
    walls[4:7, 4:10] = True
    return walls


def two_rooms(horizon: int = 40, start: int = START_CELL) -> SubmodularMDP:
    """The official "two_rooms" environment: 7x14, rooms in columns 0-3 and 10-13, corridor rows 2-3.

    98 cells (walls are unreachable states), 68 reachable. Start 34 = row 2, column 6 (in the corridor).
    Greedy (ties to the lowest action) covers 28 cells, OPT 68 (spec addendum §3).
    """
    horizon = check_int(horizon, "horizon", low=2)
    start = check_int(start, "start", low=0, high=97)
    walls = two_rooms_walls()
    if walls.ravel()[start]:
        raise InvalidParameterError("start", f"cell {start} is a wall", value=start)
    return _grid_model(7, 14, walls, horizon, start, f"two-rooms 7x14 (H={horizon})")


def bandit_smdp(cover, weights=None, horizon: int = 3, *, start: int = 0, epsilon: float = 0.0,
                name: str | None = None) -> SubmodularMDP:
    """Bandit SMDP (spec addendum §5.4): ``A = S``, ``P(s' | s, a) = (1 - epsilon) 1{s' = a} + epsilon / S``.

    With ``epsilon = 0`` a trajectory picks ``H - 1`` states after the pre-selected ``start``: SubRL is then
    cardinality-constrained submodular maximisation and greedy is within ``1 - 1/e`` of OPT.
    """
    cover = np.asarray(cover, dtype=np.float64)
    if cover.ndim != 2:
        raise InvalidParameterError("cover", f"must be (S, J), got shape {cover.shape}", value=cover.shape)
    S = cover.shape[0]
    epsilon = check_real(epsilon, "epsilon", low=0.0, high=1.0)
    start = check_int(start, "start", low=0, high=S - 1)
    # P[s, a, s'] = (1 - eps) 1{s' = a} + eps / S  (independent of s)
    P = np.broadcast_to((1.0 - epsilon) * np.eye(S) + epsilon / S, (S, S, S)).copy()
    mu = np.zeros(S)
    mu[start] = 1.0
    return SubmodularMDP(P, mu, horizon, cover, weights,
                         name=name or f"bandit SMDP (S={S}, H={horizon}, eps={epsilon:g})")


def random_bandit_smdp(S: int, J: int, horizon: int, seed: int = 0, *, density: float = 0.4,
                       epsilon: float = 0.0, fractional: bool = False) -> SubmodularMDP:
    """A random weighted-coverage bandit SMDP: ``cover`` Bernoulli(``density``) (or uniform levels), weights U(0, 1)."""
    S, J = check_int(S, "S", low=1), check_int(J, "J", low=1)
    rng = np.random.default_rng(check_int(seed, "seed", low=0))
    cover = (rng.random((S, J)) < density).astype(float)
    if fractional:
        cover *= rng.random((S, J))
    return bandit_smdp(cover, rng.random(J), horizon, epsilon=epsilon)


def tight_greedy_family(k: int, eps: float = 0.0) -> SubmodularMDP:
    """``k`` decoys and ``k`` optimal states on which greedy gets exactly ``1 - (1 - 1/k)^k`` of OPT (spec addendum §2).

    States: ``0`` home (the start; covers nothing), ``1..k`` decoys ``d_i``, ``k+1..2k`` optimal ``o_j``; a bandit SMDP
    with ``H = k + 1`` (``k`` picks). Elements: for every optimal column ``j`` the pieces ``(j, i)``, ``i = 1..k``, of
    weight ``(1/k)(1 - 1/k)^(i-1)`` and a residual piece of weight ``(1 - 1/k)^k``; ``o_j`` covers its whole column
    (weight 1), ``d_i`` covers piece ``i`` of every column (weight ``(1 - 1/k)^(i-1)``), so after ``i - 1`` decoys the
    ``i``-th decoy ties with every ``o_j``. Decoys have the lower indices (they win ties broken to the lowest
    action) and, with ``eps > 0``, a private element of weight ``eps`` each (they win ties strictly).
    Greedy: ``k (1 - (1 - 1/k)^k) + k eps``; OPT = ``k`` (for ``eps < (1 - 1/k)^k``).
    """
    k = check_int(k, "k", low=1)
    eps = check_real(eps, "eps", low=0.0)
    if k > 1 and eps >= (1 - 1 / k) ** k:
        raise InvalidParameterError("eps", f"must be < (1 - 1/k)^k = {(1 - 1 / k) ** k:.4g} so OPT stays k",
                                    value=eps)
    S = 2 * k + 1
    J = k * (k + 1) + k  # k columns x (k pieces + residual), then k private decoy elements
    cover = np.zeros((S, J))
    w = np.zeros(J)
    for j in range(k):
        base = j * (k + 1)
        for i in range(k):
            w[base + i] = (1 / k) * (1 - 1 / k) ** i
            cover[1 + i, base + i] = 1.0
        w[base + k] = (1 - 1 / k) ** k
        cover[k + 1 + j, base:base + k + 1] = 1.0
    for i in range(k):
        cover[1 + i, k * (k + 1) + i] = 1.0
        w[k * (k + 1) + i] = eps
    return bandit_smdp(cover, w, k + 1, name=f"tight greedy family (k={k})")
