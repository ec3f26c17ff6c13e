"""The K-batch query protocol: a learner sees an environment only through a :class:`QueryOracle`.

The protocol (generic; no paper-specific content). A learner may send queries in at most
``batches`` rounds and at most ``budget`` queries in all. In round ``k`` it submits a whole set of
queries at once and then receives all their feedback; its round-``k`` queries can therefore depend
only on the feedback of rounds ``< k`` (and on its own random numbers). ``batches = 1`` is the
offline setting, ``batches = budget`` the fully adaptive one.

Two kinds of query:

* **one-step (policy-free)**: a feature vector ``x`` (a row of ``queries``, shape ``(n, d)``) naming
  a state-action pair; the feedback is its reward and its *whole* successor distribution given as
  the successors' features (exact feedback). Each row counts one query.
* **trajectory (policy-induced)**: a start ``x`` and a length ``c``; the environment is rolled out
  for ``c`` steps (successors drawn from the exact distribution with the oracle's own generator)
  and every visited pair is returned with its exact feedback. Each visited pair counts one query.
  An oracle built with ``trajectories=False`` refuses them.

An *instance* is any object with

* ``dim`` (int): the feature dimension ``d``;
* ``gamma`` (float in ``[0, 1)``): the discount factor, known to the learner;
* ``respond(X) -> (rewards, probs, successors)`` for ``X`` of shape ``(n, d)`` (validated rows in
  the closed unit ball): ``rewards`` ``(n,)``, ``probs`` ``(n, b)`` (rows sum to one) and
  ``successors`` ``(n, b, d)``, the features of the ``b`` possible successors of each row.

The oracle keeps the instance in a closure and has no attribute that is the instance or one of its
methods (Python cannot hide it from a determined reader: a closure's cells are inspectable).
The real check is behavioural: a learner's output can be recomputed from a recorded
:class:`Transcript` with :class:`ReplayOracle`, which has no instance at all, and perturbing the
feedback of batch ``k`` must leave the learner's queries of batches ``1..k`` unchanged.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .errors import InvalidDataError, InvalidParameterError, ValidationError
from .validation import as_float_array, check_finite, check_int, check_ndim, check_real

__all__ = [
    "BatchOverrunError",
    "BudgetOverrunError",
    "Feedback",
    "Transcript",
    "QueryOracle",
    "ReplayOracle",
    "UNIT_BALL_TOL",
]

#: Rows of a query may exceed norm 1 by at most this much (rounding of normalised vectors).
UNIT_BALL_TOL = 1e-9


class BatchOverrunError(ValidationError):
    """A learner asked for one batch more than it was allowed (never truncated silently)."""


class BudgetOverrunError(ValidationError):
    """A batch would take the total number of queries past the budget."""


@dataclasses.dataclass(frozen=True)
class Feedback:
    """Exact feedback for the queries of one batch.

    Attributes
    ----------
    features : ndarray, shape (n, d)
        The queried pairs' features, in the order they were answered (for trajectories: every
        visited pair, trajectory after trajectory).
    rewards : ndarray, shape (n,)
    probs : ndarray, shape (n, b)
        Successor probabilities (rows sum to one).
    successors : ndarray, shape (n, b, d)
        Successor features; ``probs[i] @ successors[i]`` is the expected next feature.
    trajectory : ndarray of int, shape (n,)
        Which trajectory each row belongs to (``-1`` for one-step queries).
    step : ndarray of int, shape (n,)
        The row's step inside its trajectory (``0`` for one-step queries).
    """

    features: np.ndarray
    rewards: np.ndarray
    probs: np.ndarray
    successors: np.ndarray
    trajectory: np.ndarray
    step: np.ndarray

    @property
    def n(self) -> int:
        return int(self.rewards.shape[0])

    def expected_next(self) -> np.ndarray:
        """``E[x' | x]`` per row, shape ``(n, d)``."""
        return np.einsum("nb,nbd->nd", self.probs, self.successors)

    def effective_features(self, gamma: float) -> np.ndarray:
        """LSTD rows ``z = x - gamma * E[x']`` (target policy = the instance's), shape ``(n, d)``."""
        return self.features - gamma * self.expected_next()

    def replace(self, **changes) -> Feedback:
        return dataclasses.replace(self, **changes)


@dataclasses.dataclass
class Transcript:
    """What passed through an oracle: per batch, the submitted request and its feedback.

    ``requests[k]`` is ``("one-step", X)`` or ``("trajectory", X, lengths)``.
    """

    dim: int
    gamma: float
    requests: list = dataclasses.field(default_factory=list)
    feedback: list[Feedback] = dataclasses.field(default_factory=list)


def _check_queries(X, d: int, name: str = "queries") -> np.ndarray:
    X = as_float_array(X, name, error=InvalidParameterError)
    check_ndim(X, name, (2,), error=InvalidParameterError, what="one query per row")
    if X.shape[1] != d:
        raise InvalidParameterError(name, f"rows must have dimension d={d}, got shape {X.shape}",
                                    value=X.shape)
    if X.shape[0] == 0:
        raise InvalidParameterError(name, "is empty: a batch needs at least one query", value=X.shape)
    check_finite(X, name, error=InvalidParameterError)
    norms = np.linalg.norm(X, axis=1)
    bad = norms > 1.0 + UNIT_BALL_TOL
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InvalidParameterError(name, f"rows must lie in the closed unit ball, row {i} has norm "
                                          f"{norms[i]!r}", index=(i,), value=float(norms[i]))
    return X


class _Counter:
    """Batch/query accounting shared by the live and the replaying oracle."""

    __slots__ = ("batches", "budget", "batches_used", "queries_used")

    def __init__(self, batches: int, budget: int):
        self.batches = check_int(batches, "batches", low=1)
        self.budget = check_int(budget, "budget", low=1)
        self.batches_used = 0
        self.queries_used = 0

    @property
    def batches_left(self) -> int:
        return self.batches - self.batches_used

    @property
    def queries_left(self) -> int:
        return self.budget - self.queries_used

    def _charge(self, n: int) -> None:
        if self.batches_used >= self.batches:
            raise BatchOverrunError("batches", f"all {self.batches} batches are used; batch "
                                               f"{self.batches_used + 1} was requested",
                                    value=self.batches_used + 1)
        if self.queries_used + n > self.budget:
            raise BudgetOverrunError("budget", f"this batch needs {n} queries but only "
                                               f"{self.queries_left} of {self.budget} are left",
                                     value=self.queries_used + n)
        self.batches_used += 1
        self.queries_used += n


class QueryOracle(_Counter):
    """The only interface a learner has to an instance.

    Parameters
    ----------
    instance : object
        Has ``dim``, ``gamma`` and ``respond(X)`` (see the module docstring). Kept in a closure;
        no attribute of the oracle is the instance or a method of it.
    batches : int >= 1
        Maximum number of :meth:`submit` / :meth:`submit_trajectories` calls.
    budget : int >= 1
        Maximum total number of queries (trajectory steps count one each).
    rng : numpy Generator, optional
        Draws successors along trajectories of stochastic instances.
    trajectories : bool
        Whether policy-induced trajectory queries are allowed.
    record : bool
        Keep a :class:`Transcript` (:attr:`transcript`).

    Attributes (public, safe): ``dim``, ``gamma``, ``batches``, ``budget``, ``batches_used``,
    ``queries_used``, ``transcript``.
    """

    __slots__ = ("dim", "gamma", "transcript", "_respond", "_respond_traj", "_trajectories")

    def __init__(self, instance, batches: int, budget: int, *, rng: np.random.Generator | None = None,
                 trajectories: bool = True, record: bool = True):
        super().__init__(batches, budget)
        respond = getattr(instance, "respond", None)
        if not callable(respond):
            raise InvalidParameterError("instance", f"must have a respond(X) method, got a "
                                                    f"{type(instance).__name__}", value=type(instance).__name__)
        self.dim = check_int(getattr(instance, "dim", None), "instance.dim", low=1)
        self.gamma = check_real(getattr(instance, "gamma", None), "instance.gamma", low=0.0, high=1.0,
                                high_open=True)
        self.transcript = Transcript(self.dim, self.gamma) if record else None
        self._trajectories = bool(trajectories)
        gen = rng if rng is not None else np.random.default_rng(0)
        d = self.dim

        def answer(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            r, p, s = respond(X)
            return np.asarray(r, float), np.asarray(p, float), np.asarray(s, float).reshape(len(X), -1, d)

        def draw(p: np.ndarray, s: np.ndarray) -> np.ndarray:
            if p.shape[1] == 1:
                return s[:, 0]
            u = gen.random(p.shape[0])
            idx = np.minimum((np.cumsum(p, axis=1) < u[:, None]).sum(axis=1), p.shape[1] - 1)
            return s[np.arange(p.shape[0]), idx]

        # The instance lives only in these closures (no attribute refers to it).
        self._respond = answer
        self._respond_traj = lambda X0, c: QueryOracle._rollout(answer, draw, X0, c)

    @staticmethod
    def _rollout(answer, draw, X0: np.ndarray, lengths: np.ndarray) -> Feedback:
        n, d = X0.shape
        feats, rews, probs, succs, traj, step = [], [], [], [], [], []
        x = X0.copy()
        alive = np.arange(n)
        t = 0
        while alive.size:
            r, p, s = answer(x)
            feats.append(x)
            rews.append(r)
            probs.append(p)
            succs.append(s)
            traj.append(alive)
            step.append(np.full(alive.size, t))
            nxt = draw(p, s)
            t += 1
            keep = lengths[alive] > t
            alive, x = alive[keep], nxt[keep]
        order = np.lexsort((np.concatenate(step), np.concatenate(traj)))
        b = max(p.shape[1] for p in probs)

        def pad(arrs, width):
            out = []
            for a in arrs:
                if a.shape[1] < width:
                    extra = np.zeros((a.shape[0], width - a.shape[1]) + a.shape[2:])
                    a = np.concatenate([a, extra], axis=1)
                out.append(a)
            return np.concatenate(out)

        return Feedback(np.concatenate(feats)[order], np.concatenate(rews)[order], pad(probs, b)[order],
                        pad(succs, b)[order], np.concatenate(traj)[order], np.concatenate(step)[order])

    def submit(self, queries) -> Feedback:
        """Send one batch of one-step queries ``(n, d)``; returns its :class:`Feedback`.

        Raises :class:`BatchOverrunError` past the last batch and :class:`BudgetOverrunError`
        past the budget (nothing is answered then), and
        :class:`~rltheory.errors.InvalidParameterError` for rows of the wrong dimension, not
        finite, or outside the unit ball.
        """
        X = _check_queries(queries, self.dim)
        self._charge(X.shape[0])
        r, p, s = self._respond(X)
        n = X.shape[0]
        fb = Feedback(X.copy(), r, p, s, np.full(n, -1, np.int64), np.zeros(n, np.int64))
        if self.transcript is not None:
            self.transcript.requests.append(("one-step", X.copy()))
            self.transcript.feedback.append(fb)
        return fb

    def submit_trajectories(self, starts, lengths) -> Feedback:
        """Send one batch of trajectory queries: ``starts`` ``(m, d)``, ``lengths`` ``(m,)`` ints >= 1.

        Every visited pair counts one query (``sum(lengths)`` in all).
        """
        if not self._trajectories:
            raise InvalidParameterError("queries", "this oracle answers one-step queries only "
                                                   "(built with trajectories=False)", value="trajectory")
        X = _check_queries(starts, self.dim, "starts")
        c = np.asarray(lengths)
        if c.shape != (X.shape[0],) or c.dtype.kind not in "iu":
            raise InvalidParameterError("lengths", f"must be {X.shape[0]} integers, got {c!r}", value=c.shape)
        if (c < 1).any():
            i = int(np.flatnonzero(c < 1)[0])
            raise InvalidParameterError("lengths", f"must be >= 1, got {int(c[i])}", index=(i,), value=int(c[i]))
        self._charge(int(c.sum()))
        fb = self._respond_traj(X, c.astype(np.int64))
        if self.transcript is not None:
            self.transcript.requests.append(("trajectory", X.copy(), c.copy()))
            self.transcript.feedback.append(fb)
        return fb


class ReplayOracle(_Counter):
    """Serves a recorded :class:`Transcript` back to a learner; holds no instance.

    Each submission must equal the recorded request of that batch (else
    :class:`~rltheory.errors.InvalidDataError`): a learner whose batch-``k`` queries are a
    function of the feedback of batches ``< k`` (and of its seed) replays exactly and returns the
    same estimate as in the live run.
    """

    def __init__(self, transcript: Transcript, batches: int, budget: int):
        super().__init__(batches, budget)
        self.dim = transcript.dim
        self.gamma = transcript.gamma
        self._t = transcript

    def _next(self, request: tuple) -> Feedback:
        k = self.batches_used
        if k >= len(self._t.requests):
            raise InvalidDataError("transcript", f"has {len(self._t.requests)} batches; batch {k + 1} "
                                                 "was requested", value=k + 1)
        rec = self._t.requests[k]
        same = rec[0] == request[0] and all(np.array_equal(a, b) for a, b in zip(rec[1:], request[1:], strict=True))
        if not same:
            raise InvalidDataError("queries", f"batch {k + 1} differs from the recorded one", index=(k,))
        fb = self._t.feedback[k]
        self._charge(fb.n)
        return fb

    def submit(self, queries) -> Feedback:
        X = _check_queries(queries, self.dim)
        return self._next(("one-step", X))

    def submit_trajectories(self, starts, lengths) -> Feedback:
        X = _check_queries(starts, self.dim, "starts")
        return self._next(("trajectory", X, np.asarray(lengths)))
