"""Hypothesis strategies for rltheory's exact models (the optional extra ``testing``).

Property-test a claim the way :mod:`hypothesis.extra.numpy` tests array code::

    from hypothesis import given
    from rltheory.planning import backward_induction
    from rltheory.testing.strategies import finite_horizon_mdps

    @given(finite_horizon_mdps(S=(1, 6), A=(1, 3), H=(1, 5)))
    def test_value_is_at_most_the_horizon(mdp):
        assert backward_induction(mdp).value <= mdp.H

Every drawn object is a validated model. Sizes are an int or an inclusive ``(min, max)`` range.
The *structure* of a model (sizes, the number of successors of each state-action pair, stationarity,
which states start with positive probability, the kind of rewards) is drawn by Hypothesis, so a
failing example **shrinks** toward fewer states, actions and steps, toward deterministic transitions
(one successor per pair), a stationary kernel and a single start state; the numerical entries
(transition weights, rewards) come from a NumPy generator whose seed Hypothesis also draws (and
shrinks toward 0). A counterexample is therefore reported as the smallest model Hypothesis found.

Degenerate draws (rewards that are all zero, states no policy can reach) are part of the default
distribution, since claims often break there; ``allow_degenerate=False`` excludes them by
construction (full-support start distribution, at least one positive reward), not by rejection.
"""

from __future__ import annotations

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "rltheory.testing.strategies needs hypothesis; install the 'testing' extra: pip install 'rltheory[testing]'"
    ) from exc

import numpy as np

from ..errors import InvalidModelError, InvalidParameterError
from ..models import DiscountedMDP, FiniteHorizonMDP
from ..validation import check_real
from ._builders import REWARD_KINDS, dense_from_successors, random_preference_game, random_rewards, successor_lists
from ._shrink import shrink_model
from ._sizes import MAX_DENSE_ENTRIES, size_range

__all__ = ["finite_horizon_mdps", "discounted_mdps", "preference_games", "policies", "find_counterexample"]

def _check_memory(S_hi: int, A_hi: int, stages_hi: int, name: str = "S") -> None:
    entries = stages_hi * S_hi * A_hi * S_hi
    if entries > MAX_DENSE_ENTRIES:
        raise InvalidParameterError(
            name, f"the largest model requested needs {entries:,} transition entries "
                  f"({entries * 8 / 2**20:.0f} MiB), above the strategies' cap of {MAX_DENSE_ENTRIES:,}; "
                  "ask for smaller sizes", value=entries)


def _check_flag(value, name: str) -> None:
    if value is not None and not isinstance(value, bool):
        raise InvalidParameterError(name, f"must be True, False or None (drawn), got {value!r}", value=value)


#: Models with at most this many (stage, state, action) triples get rewards (and deterministic successors)
#: drawn entry by entry by Hypothesis rather than from the seed, so counterexamples shrink to simple numbers.
SMALL_MODEL_PAIRS = 32


def _drawn_array(draw, elements, shape) -> np.ndarray:
    size = int(np.prod(shape))
    return np.asarray(draw(st.lists(elements, min_size=size, max_size=size)), dtype=np.float64).reshape(shape)


def _start(draw, rng: np.random.Generator, S: int, allow_degenerate: bool) -> np.ndarray:
    if not allow_degenerate:
        return rng.dirichlet(np.ones(S))
    support = draw(st.integers(1, S))  # shrinks toward a single start state
    mu = np.zeros(S)
    mu[:support] = rng.dirichlet(np.ones(support)) if support > 1 else 1.0
    return mu


@st.composite
def _finite_horizon(draw, S, A, H, stationary, sparse, reward_noise, allow_degenerate):
    S_, A_, H_ = draw(st.integers(*S)), draw(st.integers(*A)), draw(st.integers(*H))
    stat = (not draw(st.booleans())) if stationary is None else stationary  # shrinks toward stationary
    dense = (not draw(st.booleans())) if sparse is None else not sparse  # shrinks toward dense
    branching = draw(st.integers(1, S_))  # shrinks toward deterministic transitions
    kind = draw(st.sampled_from(REWARD_KINDS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    stages = 1 if stat else H_
    nxt, probs = successor_lists(rng, stages, S_, A_, branching)
    R = random_rewards(rng, kind, (stages, S_, A_))
    if stages * S_ * A_ <= SMALL_MODEL_PAIRS:  # small models: entries drawn by Hypothesis, so they shrink too
        R = _drawn_array(draw, st.floats(0.0, 1.0), R.shape)  # toward 0 and simple values
        if branching == 1:  # toward every pair moving to state 0
            nxt = _drawn_array(draw, st.integers(0, S_ - 1), nxt.shape).astype(np.int64)
    mu = _start(draw, rng, S_, allow_degenerate)
    if not allow_degenerate and R.max() == 0.0:
        R.flat[0] = 1.0
    if stat:
        nxt, probs, R = nxt[0], probs[0], R[0]
    if dense:
        return FiniteHorizonMDP(dense_from_successors(nxt, probs, S_), R, mu, H_, reward_noise=reward_noise)
    return FiniteHorizonMDP.from_successors(nxt, probs, R, mu, H_, reward_noise=reward_noise)


def finite_horizon_mdps(*, S=(1, 5), A=(1, 3), H=(1, 5), stationary: bool | None = None,
                        sparse: bool | None = False, reward_noise=None, allow_degenerate: bool = True):
    """A strategy of validated :class:`~rltheory.models.FiniteHorizonMDP` s.

    Parameters
    ----------
    S, A, H : int or (min, max)
        Numbers of states, actions and steps (inclusive ranges, each >= 1).
    stationary : bool or None
        ``True``: ``P (S, A, S)``, ``R (S, A)``; ``False``: stage-dependent ``(H, S, A, S)``;
        ``None``: drawn (shrinks toward stationary).
    sparse : bool or None
        ``True``: stored as successor lists (:meth:`FiniteHorizonMDP.from_successors`); ``None``: drawn.
    reward_noise : None or "bernoulli"
        Passed to the model.
    allow_degenerate : bool
        ``False`` excludes all-zero rewards and unreachable states.
    """
    S, A, H = size_range(S, "S"), size_range(A, "A"), size_range(H, "H")
    for value, name in ((stationary, "stationary"), (sparse, "sparse")):
        _check_flag(value, name)
    if not isinstance(allow_degenerate, bool):
        raise InvalidParameterError("allow_degenerate", f"must be a bool, got {allow_degenerate!r}",
                                    value=allow_degenerate)
    _check_memory(S[1], A[1], 1 if stationary else H[1])
    try:  # validate reward_noise once, with the model's own message
        FiniteHorizonMDP(np.ones((1, 1, 1)), np.zeros((1, 1)), np.ones(1), 1, reward_noise=reward_noise)
    except InvalidModelError as exc:
        raise InvalidParameterError("reward_noise", str(exc), value=reward_noise) from None
    return _finite_horizon(S, A, H, stationary, sparse, reward_noise, allow_degenerate)


@st.composite
def _discounted(draw, S, A, gamma, allow_degenerate):
    S_, A_ = draw(st.integers(*S)), draw(st.integers(*A))
    g = draw(st.floats(*gamma)) if gamma[0] < gamma[1] else gamma[0]  # shrinks toward the smallest gamma
    branching = draw(st.integers(1, S_))
    kind = draw(st.sampled_from(REWARD_KINDS))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    nxt, probs = successor_lists(rng, 1, S_, A_, branching)
    R = random_rewards(rng, kind, (S_, A_))
    mu = _start(draw, rng, S_, allow_degenerate)
    if not allow_degenerate and R.max() == 0.0:
        R.flat[0] = 1.0
    return DiscountedMDP(dense_from_successors(nxt, probs, S_)[0], R, mu, g)


def discounted_mdps(*, S=(1, 5), A=(1, 3), gamma=(0.0, 0.95), allow_degenerate: bool = True):
    """A strategy of validated :class:`~rltheory.models.DiscountedMDP` s.

    ``gamma`` is a float or an inclusive ``(min, max)`` range inside ``[0, 1)`` (shrinks toward min).
    Other arguments as for :func:`finite_horizon_mdps`.
    """
    S, A = size_range(S, "S"), size_range(A, "A")
    if isinstance(gamma, tuple | list):
        if len(gamma) != 2:
            raise InvalidParameterError("gamma", f"must be a float or a (min, max) pair, got {gamma!r}", value=gamma)
        lo = check_real(gamma[0], "gamma", low=0.0, high=1.0, high_open=True)
        hi = check_real(gamma[1], "gamma", low=0.0, high=1.0, high_open=True)
        if lo > hi:
            raise InvalidParameterError("gamma", f"min {lo} exceeds max {hi}", value=(lo, hi))
    else:
        lo = hi = check_real(gamma, "gamma", low=0.0, high=1.0, high_open=True)
    _check_memory(S[1], A[1], 1)
    return _discounted(S, A, (lo, hi), allow_degenerate)


@st.composite
def _games(draw, n, reference, allow_degenerate):
    n_ = draw(st.integers(*n))
    kind = draw(st.sampled_from(("uniform", "tournament", "tie") if allow_degenerate else ("uniform", "tournament")))
    random_ref = reference == "random" or (reference is None and draw(st.booleans()))
    return random_preference_game(n_, seed=draw(st.integers(0, 2**32 - 1)), kind=kind, random_reference=random_ref)


def preference_games(*, n=(1, 5), reference: str | None = "uniform", allow_degenerate: bool = True):
    """A strategy of validated :class:`~rltheory.models.PreferenceGame` s over ``n`` responses.

    Preferences are uniform in ``(0, 1)``, a tournament (0/1) or all ties (``1/2``, degenerate);
    ``reference`` is ``"uniform"``, ``"random"`` (full support) or ``None`` (drawn).
    """
    n = size_range(n, "n")
    if reference not in ("uniform", "random", None):
        raise InvalidParameterError("reference", f"must be 'uniform', 'random' or None, got {reference!r}",
                                    value=reference)
    if n[1] ** 2 > MAX_DENSE_ENTRIES:
        raise InvalidParameterError("n", f"max {n[1]} needs {n[1] ** 2:,} entries, above the cap "
                                         f"{MAX_DENSE_ENTRIES:,}", value=n[1])
    return _games(n, reference, allow_degenerate)


@st.composite
def _policies(draw, H, S, A, deterministic):
    det = (not draw(st.booleans())) if deterministic is None else deterministic  # shrinks toward deterministic
    if det:
        flat = draw(st.lists(st.integers(0, A - 1), min_size=H * S, max_size=H * S))  # shrinks toward action 0
        return np.asarray(flat, dtype=np.int64).reshape(H, S)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.dirichlet(np.ones(A), size=(H, S))


def policies(mdp: FiniteHorizonMDP, *, deterministic: bool | None = None):
    """Policies of ``mdp``: deterministic ``(H, S)`` int arrays or stochastic ``(H, S, A)`` rows.

    Use with ``st.data()``: ``pi = data.draw(policies(mdp))``.
    """
    if not isinstance(mdp, FiniteHorizonMDP):
        raise InvalidModelError("mdp", f"must be a FiniteHorizonMDP, got {type(mdp).__name__}",
                                value=type(mdp).__name__)
    _check_flag(deterministic, "deterministic")
    if mdp.H * mdp.S * mdp.A > MAX_DENSE_ENTRIES:
        raise InvalidParameterError("mdp", f"a policy of this model has {mdp.H * mdp.S * mdp.A:,} entries, above "
                                           f"the cap {MAX_DENSE_ENTRIES:,}", value=mdp.H * mdp.S * mdp.A)
    return _policies(mdp.H, mdp.S, mdp.A, deterministic)


def find_counterexample(strategy, claim, *, max_examples: int = 1000, seed: int = 0):
    """The smallest object drawn from ``strategy`` on which ``claim`` fails, or ``None``.

    ``claim(obj)`` returns a bool or a :class:`~rltheory.testing.claims.ClaimResult` (falsy when the claim
    fails) or raises :class:`~rltheory.testing.claims.ClaimViolation`. Hypothesis searches up to
    ``max_examples`` draws (reproducibly for a given ``seed``) and shrinks the first failure; a finite-horizon
    model is then shrunk further by model-level moves (:func:`~rltheory.testing._shrink.shrink_model`: drop an
    action, a state or a step, make rows deterministic, round rewards), so the model returned is as small and as
    deterministic as these moves can make it while the claim still fails.
    """
    from hypothesis import errors, find, settings
    from hypothesis import seed as hypothesis_seed

    from ..validation import check_int
    from .claims import ClaimViolation

    max_examples = check_int(max_examples, "max_examples", low=1)
    seed = check_int(seed, "seed", low=0)
    if not callable(claim):
        raise InvalidParameterError("claim", f"must be callable, got {type(claim).__name__}",
                                    value=type(claim).__name__)

    def fails(obj) -> bool:
        try:
            return not bool(claim(obj))
        except ClaimViolation:
            return True

    try:
        found = hypothesis_seed(seed)(find)(strategy, fails,
                                            settings=settings(max_examples=max_examples, database=None,
                                                              deadline=None, derandomize=seed == 0))
    except errors.NoSuchExample:
        return None
    return shrink_model(found, fails) if isinstance(found, FiniteHorizonMDP) else found
