"""Compiled hot loops (Numba) and their NumPy reference twins.

* :mod:`.sampling` — alias tables, replicate-batched trajectory sampling;
* :mod:`.counts` — visit-count updates;
* :mod:`.planning` — Bellman sweeps, batched policy evaluation, optimistic backward induction;
* :mod:`.mirror` — the KL prox step on the simplex in log space (preference-game solvers and learners).

Single-replicate building blocks (``*_one``) are ``numba.njit`` functions meant to be called
from an algorithm's own fused episode loop; the batched public kernels run ``prange`` over a
leading replicate axis. Each batched kernel has a twin ``*_reference`` written with array
operations against the inputs' namespace (NumPy, or CuPy on a GPU).
"""
