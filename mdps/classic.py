"""Classic small exact MDPs: RiverSwim, Garnet, Strens' chain.

Every constructor returns a validated :class:`~rltheory.models.FiniteHorizonMDP` with rewards
in ``[0, 1]``. The optimal values quoted in the docstrings are ``mu @ V*_0`` at the default
arguments, computed by :func:`rltheory.planning.backward_induction` (tests check them).
"""

from __future__ import annotations

import numpy as np

from rltheory.errors import InvalidParameterError
from rltheory.models import FiniteHorizonMDP
from rltheory.validation import check_dense_allocation, check_int, check_real

__all__ = ["riverswim", "garnet", "chain"]

LEFT, RIGHT = 0, 1


def riverswim(n_states: int = 6, horizon: int = 20, *, reward_noise=None) -> FiniteHorizonMDP:
    """RiverSwim (Strehl & Littman 2008, JCSS 74(8), Fig. 1), rewards divided by 10,000.

    States ``0..n-1`` along a river; actions ``0 = LEFT`` (with the current) and
    ``1 = RIGHT`` (against it).

    * LEFT moves one state left with probability 1 (stays in state 0).
    * RIGHT in state 0: stay 0.7, move right 0.3; in interior states: left 0.1, stay 0.6,
      right 0.3; in the last state: left 0.7, stay 0.3.
    * Rewards: 5 for LEFT in state 0; 10,000 for RIGHT when it stays in the last state.
      Here divided by 10,000 and given as means over the next state:
      ``R[0, LEFT] = 0.0005`` and ``R[n-1, RIGHT] = 0.3`` (= 0.3 x 1), all others 0.
      Exact values are those of the original model divided by 10,000.
    * Initial state uniform over states 1 and 2 (as in the original).

    The parameters follow three independent re-implementations that cite the paper (the
    figure itself could not be consulted); see ``MANIFEST.md``.

    With the defaults (``n_states=6, horizon=20``) the optimal value is ``V* = 0.6511``;
    always swimming RIGHT earns ``0.6509`` and always LEFT ``0.0093``.
    """
    n = check_int(n_states, "n_states", low=2)
    H = check_int(horizon, "horizon", low=1)
    check_dense_allocation((n, 2, n), "n_states", what="riverswim's transition tensor P")
    P = np.zeros((n, 2, n))
    R = np.zeros((n, 2))
    for s in range(n):
        P[s, LEFT, max(s - 1, 0)] = 1.0
    P[0, RIGHT, 0], P[0, RIGHT, 1] = 0.7, 0.3
    for s in range(1, n - 1):
        P[s, RIGHT, s - 1], P[s, RIGHT, s], P[s, RIGHT, s + 1] = 0.1, 0.6, 0.3
    P[n - 1, RIGHT, n - 2] += 0.7
    P[n - 1, RIGHT, n - 1] += 0.3
    R[0, LEFT] = 5.0 / 10_000.0
    R[n - 1, RIGHT] = 0.3
    mu = np.zeros(n)
    starts = sorted({min(1, n - 1), min(2, n - 1)})
    mu[starts] = 1.0 / len(starts)
    return FiniteHorizonMDP(P, R, mu, H, reward_noise=reward_noise, name=f"RiverSwim-{n}")


def garnet(S: int = 10, A: int = 3, branching: int = 3, horizon: int = 10, seed: int = 0, *,
           stationary: bool = True, reward_noise=None) -> FiniteHorizonMDP:
    """A random Garnet MDP (Archibald, McKinnon & Thomas 1995; Bhatnagar et al. 2009).

    For every ``(s, a)`` (and every step when ``stationary=False``), ``branching`` distinct
    next states are drawn uniformly without replacement; their probabilities are the gaps
    between ``branching - 1`` uniform cut points of ``[0, 1]``. Mean rewards are drawn
    uniformly from ``[0, 1]`` (the original draws normal rewards; ``[0, 1]`` is what the
    regret bounds assume). The initial state is 0.

    Deterministic given ``seed`` (NumPy PCG64). With the defaults the optimal value is
    ``V* = 8.1477``.
    """
    S = check_int(S, "S", low=1)
    A = check_int(A, "A", low=1)
    b = check_int(branching, "branching", low=1)
    if b > S:
        raise InvalidParameterError("branching", f"must be <= S={S}, got {b}", value=b)
    H = check_int(horizon, "horizon", low=1)
    seed = check_int(seed, "seed", low=0)
    if not isinstance(stationary, bool | np.bool_):
        raise InvalidParameterError("stationary", f"must be True or False, got {stationary!r}", value=repr(stationary))
    stages = 1 if stationary else H
    check_dense_allocation((stages, S, A, S), "S", what=f"garnet's transition tensor P (stationary={bool(stationary)})")
    rng = np.random.default_rng(seed)
    P = np.zeros((stages, S, A, S))
    for h in range(stages):
        for s in range(S):
            for a in range(A):
                nxt = rng.choice(S, size=b, replace=False)
                cuts = np.sort(rng.random(b - 1))
                P[h, s, a, nxt] = np.diff(np.concatenate(([0.0], cuts, [1.0])))
    R = rng.random((S, A) if stationary else (H, S, A))
    mu = np.zeros(S)
    mu[0] = 1.0
    return FiniteHorizonMDP(P[0] if stationary else P, R, mu, H, reward_noise=reward_noise,
                            name=f"Garnet(S={S},A={A},b={b},seed={seed})")


def chain(n_states: int = 5, horizon: int = 20, slip: float = 0.2, *, reward_noise=None) -> FiniteHorizonMDP:
    """Strens' chain (Strens 2000; Dearden, Friedman & Russell 1998), rewards divided by 10.

    States ``0..n-1``, start in 0. Action ``0`` ("forward") moves one state right (stays at
    the end) with reward 0, except at the end where staying pays 10; action ``1`` ("return")
    goes back to state 0 and pays 2. With probability ``slip`` the *other* action's effect
    happens instead. Rewards here are divided by 10 and given as means:
    ``R[s, 0] = slip * 0.2`` for ``s < n-1``, ``R[n-1, 0] = (1 - slip) * 1 + slip * 0.2``,
    ``R[s, 1] = (1 - slip) * 0.2 + slip * [s == n-1] * 1``.

    With the defaults (``n_states=5, horizon=20, slip=0.2``) the optimal value is
    ``V* = 6.2568`` (always "forward"); always "return" earns ``3.2051``.
    """
    n = check_int(n_states, "n_states", low=2)
    H = check_int(horizon, "horizon", low=1)
    slip = check_real(slip, "slip", low=0.0, high=1.0)
    check_dense_allocation((n, 2, n), "n_states", what="chain's transition tensor P")
    P = np.zeros((n, 2, n))
    R = np.zeros((n, 2))
    for s in range(n):
        fwd = min(s + 1, n - 1)
        r_fwd = 1.0 if s == n - 1 else 0.0
        # action 0: forward w.p. 1 - slip, return w.p. slip
        P[s, 0, fwd] += 1 - slip
        P[s, 0, 0] += slip
        R[s, 0] = (1 - slip) * r_fwd + slip * 0.2
        # action 1: return w.p. 1 - slip, forward w.p. slip
        P[s, 1, 0] += 1 - slip
        P[s, 1, fwd] += slip
        R[s, 1] = (1 - slip) * 0.2 + slip * r_fwd
    mu = np.zeros(n)
    mu[0] = 1.0
    return FiniteHorizonMDP(P, R, mu, H, reward_noise=reward_noise, name=f"Chain-{n}")
