"""Model-aware shrinking of a finite-horizon counterexample, after Hypothesis's own.

Hypothesis shrinks the bytes a model was drawn from; a change of size reinterprets every later entry,
so it can stop at a model larger than needed. :func:`shrink_model` then tries smaller *models*
directly, keeping each candidate on which the claim still fails: drop an action, drop a state
(its incoming mass goes to the first remaining successor... of the row, or state 0), cut the last
or first step, make a row deterministic (its most likely successor), round rewards to {0, 1/2, 1},
make the model stationary (first stage's kernel). It stops when no candidate fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from ..errors import ValidationError
from ..models import FiniteHorizonMDP

__all__ = ["shrink_model"]


def _build(P, R, mu, H) -> FiniteHorizonMDP | None:
    try:
        return FiniteHorizonMDP(P, R, mu, H)
    except ValidationError:
        return None


def _candidates(m: FiniteHorizonMDP) -> Iterator[FiniteHorizonMDP]:
    P = np.asarray(m.P_stages, dtype=np.float64)  # (stages, S, A, S)
    R = np.asarray(m.R, dtype=np.float64)  # (H, S, A)
    mu, H, S, A = np.asarray(m.mu), m.H, m.S, m.A

    def pack(P_, R_, mu_, H_):
        if P_.shape[0] == 1:
            P_ = P_[0]
        else:
            P_ = P_[:H_] if P_.shape[0] >= H_ else P_
        return _build(P_, R_[:H_], mu_, H_)

    if m.stationary is False and H >= 1:  # one kernel for every step
        yield pack(P[:1], R, mu, H)
    for cut in (slice(0, H - 1), slice(1, H)):  # drop the last or the first step
        if H > 1:
            Pc = P if P.shape[0] == 1 else P[cut]
            yield pack(Pc, R[cut], mu, H - 1)
    for a in range(A - 1, -1, -1):  # drop an action
        if A > 1:
            keep = [b for b in range(A) if b != a]
            yield pack(P[:, :, keep], R[:, :, keep], mu, H)
    for s in range(S - 1, -1, -1):  # drop a state: its incoming mass goes to the lowest remaining state
        if S > 1:
            keep = [t for t in range(S) if t != s]
            Pd = P[:, keep][:, :, :, keep].copy()
            Pd[..., 0] += P[:, keep][:, :, :, s]
            mud = mu[keep].copy()
            mud[0] += mu[s]
            yield pack(Pd, R[:, keep], mud, H)
    if (P > 0).sum(axis=-1).max() > 1:  # deterministic rows
        det = np.zeros_like(P)
        np.put_along_axis(det, P.argmax(axis=-1)[..., None], 1.0, axis=-1)
        yield pack(det, R, mu, H)
    if (mu > 0).sum() > 1:
        one = np.zeros(S)
        one[int(mu.argmax())] = 1.0
        yield pack(P, R, one, H)
    rounded = np.round(R * 2) / 2
    if not np.array_equal(rounded, R):
        yield pack(P, rounded, mu, H)
    if m.stationary and not np.allclose(R, R[:1]):
        yield pack(P, np.broadcast_to(R[:1], R.shape).copy(), mu, H)


def _size(m: FiniteHorizonMDP) -> tuple:
    P = np.asarray(m.P_stages)
    return (m.S * m.A * m.H, m.S, m.A, m.H, int((P > 0).sum()), int((m.mu > 0).sum()),
            int(np.count_nonzero(np.round(m.R * 2) / 2 != m.R)))


def shrink_model(mdp: FiniteHorizonMDP, fails: Callable[[FiniteHorizonMDP], bool], *,
                 max_steps: int = 500) -> FiniteHorizonMDP:
    """The smallest model reachable from ``mdp`` by the moves above on which ``fails`` stays true."""
    if not isinstance(mdp, FiniteHorizonMDP) or mdp.S * mdp.S * mdp.A * mdp.H > 10**6:
        return mdp
    current = mdp
    for _ in range(max_steps):
        for cand in _candidates(current):
            if cand is not None and _size(cand) < _size(current) and fails(cand):
                current = cand
                break
        else:
            return current
    return current
