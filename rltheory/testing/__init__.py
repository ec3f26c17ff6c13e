"""Testing tools for users of rltheory.

* :func:`check_algorithm` — the conformance suite every learner passes, runnable on your own
  learner (:mod:`rltheory.testing.conformance`);
* :mod:`rltheory.testing.claims` — the shapes theorems take (optimism, safety per episode, a
  linear contraction rate, sublinear growth, a bound that must hold), each reporting its worst case;
* :mod:`rltheory.testing.strategies` — Hypothesis strategies for exact models that shrink toward
  small, deterministic counterexamples (needs the optional extra ``testing``: ``pip install
  'rltheory[testing]'``; import it explicitly).
"""

from . import claims
from .conformance import ConformanceError, check_algorithm

__all__ = ["check_algorithm", "ConformanceError", "claims"]
