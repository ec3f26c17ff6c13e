"""Preference games (one context, ``n`` responses) for Nash learning from human feedback.

Every constructor returns a validated :class:`~rltheory.models.PreferenceGame` with
``P + P.T = 1`` exactly (the lower triangle is drawn, the upper one is its complement, the
diagonal is ``1/2``). Randomised constructors take a ``seed`` (int or
:class:`numpy.random.Generator`); :func:`game_batch` stacks ``B`` independent draws into one
batched game (a leading replicate axis for the algorithms).

Families
--------
* :func:`random_game` — lower triangle ``U(0, 1)`` ("uniform", the EGPO code's ``"random"``
  family), 0/1 coin flips (``"tournament"``) or all ``1/2`` (``"tie"``);
* :func:`rock_paper_scissors`, :func:`cyclic_game` — intransitive games: every response beats
  the next ``(n - 1) / 2`` responses around a cycle (random order and strengths when seeded);
* :func:`bradley_terry_game` — transitive games ``P[i, j] = sigmoid(s_i - s_j)`` from scores;
* :func:`condorcet_game` — a random game with a planted Condorcet winner, which beats every
  other response with probability at least ``1/2 + margin`` (so the maximal lottery is the
  point mass on it).

Reference policies: ``reference=None`` (uniform), an array, or ``"random"`` for
``softmax(N(0, reference_scale^2))`` drawn from the same generator (:func:`random_reference`).
"""

from __future__ import annotations

import numpy as np

from rltheory.errors import InvalidParameterError
from rltheory.models import PreferenceGame
from rltheory.validation import as_float_array, check_int, check_real

__all__ = [
    "GAME_KINDS",
    "random_game",
    "rock_paper_scissors",
    "cyclic_game",
    "bradley_terry_game",
    "condorcet_game",
    "random_reference",
    "game_batch",
    "MAX_BATCH_BYTES",
]

#: Largest batch :func:`game_batch` builds (bytes of its ``P`` and reference arrays, counted twice: the
#: games and their stacked copy); larger requests are refused before anything is allocated.
MAX_BATCH_BYTES = 4 * 2**30
#: Python objects per game of a batch while it is built (a PreferenceGame, a generator, a seed sequence).
_PER_GAME_OVERHEAD = 4096

#: ``kind`` values of :func:`random_game`.
GAME_KINDS = ("uniform", "tournament", "tie")


def _rng(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng(0)
    return np.random.default_rng(check_int(seed, "seed", low=0))


def _from_lower(L: np.ndarray) -> np.ndarray:
    """``P`` with strictly-lower triangle ``L``, upper ``1 - L.T``, diagonal ``1/2`` (exact complement)."""
    n = L.shape[0]
    low = np.tril(L, -1)
    P = low + np.triu(1.0 - low.T, 1)
    P[np.diag_indices(n)] = 0.5
    return P


def random_reference(n: int, seed=None, scale: float = 1.0) -> np.ndarray:
    """``softmax(z)``, ``z ~ N(0, scale^2 I_n)``: a random full-support reference policy, ``(n,)``."""
    n = check_int(n, "n", low=1)
    scale = check_real(scale, "scale", low=0.0)
    z = _rng(seed).normal(0.0, scale, n)
    z -= z.max()
    p = np.exp(z)
    return p / p.sum()


def _reference(reference, n, rng, scale):
    scale = check_real(scale, "reference_scale", low=0.0)  # checked even when unused: NaN is never accepted
    if isinstance(reference, str):
        if reference != "random":
            raise InvalidParameterError("reference", f"must be None, an array or 'random', got {reference!r}",
                                        value=reference)
        return random_reference(n, rng, scale)
    return reference


def random_game(n: int, *, kind: str = "uniform", seed=None, reference=None,
                reference_scale: float = 1.0) -> PreferenceGame:
    """A random preference game over ``n`` responses.

    ``kind="uniform"``: ``P[i, j] ~ U(0, 1)`` for ``i > j``, ``P[j, i] = 1 - P[i, j]`` (the
    ``"random"`` family of the EGPO code, arXiv:2503.08942); ``"tournament"``: the same with
    ``P[i, j] in {0, 1}`` (fair coin); ``"tie"``: all entries ``1/2`` (then ``pi*_beta = rho``).
    """
    n = check_int(n, "n", low=1)
    if not isinstance(kind, str) or kind not in GAME_KINDS:
        raise InvalidParameterError("kind", f"must be one of {GAME_KINDS}, got {kind!r}", value=kind)
    rng = _rng(seed)
    if kind == "uniform":
        L = rng.random((n, n))
    elif kind == "tournament":
        L = (rng.random((n, n)) < 0.5).astype(np.float64)
    else:
        L = np.full((n, n), 0.5)
    ref = _reference(reference, n, rng, reference_scale)
    return PreferenceGame(_from_lower(L), ref, name=f"random-{kind}(n={n})", meta={"kind": kind})


def cyclic_game(n: int = 3, *, seed=None, low: float = 1.0, high: float = 1.0, reference=None,
                reference_scale: float = 1.0) -> PreferenceGame:
    """An intransitive (cyclic) game: a generalised rock-paper-scissors.

    Responses sit on a cycle in the order ``order`` (identity when ``seed`` is None, a random
    permutation otherwise). Each response beats the next ``floor((n - 1) / 2)`` responses along
    the cycle with probability ``p ~ U(low, high)`` (``1/2 < low <= high <= 1``; ``p = 1`` by
    default) and loses to the previous ones with ``1 - p``; for even ``n`` the response half-way
    round ties (``1/2``). Every response beats some other, so there is no Condorcet winner.
    With the defaults and ``n = 3`` this is rock-paper-scissors (:func:`rock_paper_scissors`).
    """
    n = check_int(n, "n", low=3)
    low = check_real(low, "low", low=0.5, high=1.0, low_open=True)
    high = check_real(high, "high", low=low, high=1.0)
    rng = np.random.default_rng(0) if seed is None else _rng(seed)
    order = np.arange(n) if seed is None else rng.permutation(n)
    P = np.full((n, n), 0.5)
    half = (n - 1) // 2
    for a in range(n):
        for k in range(1, half + 1):
            i, j = order[a], order[(a + k) % n]
            p = low if low == high else rng.uniform(low, high)
            P[i, j], P[j, i] = p, 1.0 - p
    ref = _reference(reference, n, rng, reference_scale)
    return PreferenceGame(P, ref, name=f"cyclic(n={n})", meta={"order": order.tolist()})


def rock_paper_scissors(reference=None) -> PreferenceGame:
    """Rock-paper-scissors as a preference game: ``P = [[.5, 1, 0], [0, .5, 1], [1, 0, .5]]``.

    With a uniform reference the regularised equilibrium is uniform for every ``beta``, and so is
    the maximal lottery.
    """
    g = cyclic_game(3, reference=reference)
    g.name = "rock-paper-scissors"
    return g


def bradley_terry_game(scores, *, reference=None, temperature: float = 1.0) -> PreferenceGame:
    """The Bradley-Terry game ``P[i, j] = sigmoid((s_i - s_j) / temperature)`` of ``scores`` ``(n,)``.

    Transitive: the response with the highest score is a Condorcet winner (when unique), and
    ``beta``-regularised play tilts ``rho`` towards high scores.
    """
    s = as_float_array(scores, "scores", error=InvalidParameterError)
    if s.ndim != 1 or s.size < 1 or not np.isfinite(s).all():
        raise InvalidParameterError("scores", f"must be a finite 1-d array, got shape {s.shape}", value=s.shape)
    temperature = check_real(temperature, "temperature", low=0.0, low_open=True)
    d = (s[:, None] - s[None, :]) / temperature
    lower = 0.5 * (1.0 + np.tanh(0.5 * d))  # sigmoid, evaluated stably
    return PreferenceGame(_from_lower(lower), reference, name=f"bradley-terry(n={s.size})",
                          meta={"scores": s.tolist()})


def condorcet_game(n: int, *, winner: int = 0, margin: float = 0.1, seed=None, reference=None,
                   reference_scale: float = 1.0) -> PreferenceGame:
    """A random ``"uniform"`` game with a planted Condorcet winner.

    Response ``winner`` beats every other response with probability ``U(1/2 + margin, 1)``;
    the other pairs are ``U(0, 1)`` as in :func:`random_game`. The winner is then the unique
    maximal lottery (a point mass): ``pi @ P[:, winner] <= 1/2`` for every ``pi``, with equality
    only at the point mass.
    """
    n = check_int(n, "n", low=1)
    winner = check_int(winner, "winner", low=0, high=n - 1)
    margin = check_real(margin, "margin", low=0.0, high=0.5, low_open=True)
    rng = _rng(seed)
    P = _from_lower(rng.random((n, n)))
    for j in range(n):
        if j != winner:
            p = rng.uniform(0.5 + margin, 1.0)
            P[winner, j], P[j, winner] = p, 1.0 - p
    ref = _reference(reference, n, rng, reference_scale)
    return PreferenceGame(P, ref, name=f"condorcet(n={n})", meta={"winner": winner, "margin": margin})


def game_batch(make, B: int, *, seed=0, name: str | None = None, **kwargs) -> PreferenceGame:
    """Stack ``B`` independent draws ``make(..., seed=child_b, **kwargs)`` into one batched game.

    Game ``b`` uses the generator of ``SeedSequence(seed).spawn(B)[b]``, so the games of a batch
    do not depend on ``B`` (game 3 of a batch of 8 is game 3 of a batch of 1024). A batch whose
    arrays would exceed :data:`MAX_BATCH_BYTES` is refused (``InvalidParameterError`` naming ``B``
    and the size) after drawing the first game only.
    """
    B = check_int(B, "B", low=1)
    seed = check_int(seed, "seed", low=0)
    if not callable(make):
        raise InvalidParameterError("make", f"must be a game constructor, got {type(make).__name__}",
                                    value=type(make).__name__)

    def draw(b):
        return make(seed=np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(b,))), **kwargs)

    first = draw(0)  # its size n sets the memory estimate, checked before the other B - 1 games exist
    if not isinstance(first, PreferenceGame):
        raise InvalidParameterError("make", f"must return a PreferenceGame, got {type(first).__name__}",
                                    value=type(first).__name__)
    need = B * (2 * 8 * (first.n * first.n + first.n) + _PER_GAME_OVERHEAD)
    if need > MAX_BATCH_BYTES:
        raise InvalidParameterError(
            "B", f"a batch of {B} games with n={first.n} needs about {need / 2**30:.3g} GiB "
                 f"(limit MAX_BATCH_BYTES = {MAX_BATCH_BYTES / 2**30:g} GiB); use fewer games or run several "
                 "batches", value=B)
    games = [first] + [draw(b) for b in range(1, B)]
    return PreferenceGame.stack(games, name=name or f"{games[0].name} x{B}")
