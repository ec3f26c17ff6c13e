"""Effective-horizon analysis engine, part 4: successor lists and the backup of Theorem 5.4's variance bounds.

The variance bound of the simple effective horizon is backed up once per ``k``:
``W^{k+1}_t(s) = max(0, max_{a, s'} W^k_{t+1}(s'))`` over the successors ``s'`` with positive probability, for
``t < H - 1``, and ``W^{k+1}_{H-1} = W^1_{H-1}`` (first paper, Theorem 5.4, via the authors'
``compute_simple_effective_horizon``). For ``k >= 2`` the value at ``(t, s)``, ``t < H - 1``, depends on ``s``
only through its *set* of successors, so states with the same set share it: sticky-action models have ``A``
such states per underlying state (the previous action changes only which successor is repeated, not the set),
which makes the backup ``A`` times cheaper and its arrays ``A`` times smaller. Maxima do not depend on the
order, so the shared values are bitwise those of a per-state backup.

Layouts. :func:`successor_lists` of a stationary table gives per state its distinct successors, sorted, with
the mask of actions reaching each (CSR ``sptr, sn, smask``; the walks mark successors from it), and groups of
consecutive states with the same set (``gid (S,)``, CSR ``gptr, gn``). ``W^k`` for ``k >= 2`` is group-major
``(G, H + 1)`` (column ``H - 1`` unused: the last step is per state, ``Wlast (S,)``), and its step-major
transpose ``(H + 1, G)`` is what the walks read. Stage-dependent tables use one group per state and read
their successors from the table at each step. Compiled kernels with their NumPy twins (``*_reference``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

#: Groups per block in the kernel that writes the step-major transpose.
_BLOCK = 64


@nb.njit(cache=True, error_model="numpy")
def successor_lists(nxt, pr):
    """``(sptr, sn, smask, gid, gptr, gn)`` of a stationary successor table ``(1, S, A, K)`` (module docstring).

    ``sn[sptr[s]:sptr[s + 1]]``: the distinct successors of ``s`` with positive probability, increasing;
    ``smask`` (uint64): for each, the actions that reach it. ``gid[s]``: the group of ``s`` (runs of consecutive
    states with the same successor set); ``gn[gptr[g]:gptr[g + 1]]``: the group's successor set.
    """
    _, S, A, K = nxt.shape
    sptr = np.zeros(S + 1, np.int64)
    sn = np.empty(S * A * K, np.int64)
    smask = np.empty(S * A * K, np.uint64)
    gid = np.empty(S, np.int64)
    gptr = np.zeros(S + 1, np.int64)
    gn = np.empty(S * A * K, np.int64)
    G = 0
    for s in range(S):
        b = sptr[s]
        m = 0
        for a in range(A):
            for j in range(K):
                if pr[0, s, a, j] > 0.0:
                    n = nxt[0, s, a, j]
                    i = b
                    while i < b + m and sn[i] < n:
                        i += 1
                    if i < b + m and sn[i] == n:
                        smask[i] |= np.uint64(1) << np.uint64(a)
                        continue
                    for r in range(b + m, i, -1):  # insert at i, keeping the list sorted
                        sn[r] = sn[r - 1]
                        smask[r] = smask[r - 1]
                    sn[i] = n
                    smask[i] = np.uint64(1) << np.uint64(a)
                    m += 1
        sptr[s + 1] = b + m
        same = s > 0 and m == sptr[s] - sptr[s - 1]
        if same:
            for i in range(m):
                if sn[b + i] != sn[sptr[s - 1] + i]:
                    same = False
                    break
        if not same:
            gptr[G + 1] = gptr[G] + m
            for i in range(m):
                gn[gptr[G] + i] = sn[b + i]
            G += 1
        gid[s] = G - 1
    return sptr, sn[:sptr[S]].copy(), smask[:sptr[S]].copy(), gid, gptr[:G + 1].copy(), gn[:gptr[G]].copy()


@nb.njit(cache=True, parallel=True, error_model="numpy")
def _var_step(nxt, pr, gptr, gn, Win, gid_in, Wlast, Wout, WoutT):
    """``W^{k+1}`` from ``W^k`` (module docstring), group-major ``Wout (G, H + 1)`` and step-major ``WoutT (H + 1, G)``.

    ``W^k[n, t] = Win[gid_in[n], t]`` for ``t < H - 1`` and ``Wlast[n]`` at ``t = H - 1`` (``k = 1``: ``Win`` is
    ``W^1`` state-major and ``gid_in`` the identity). Stationary tables take each group's successor set
    ``gn[gptr[g]:gptr[g + 1]]``; stage-dependent ones (one group per state) the table's successors at each step.
    Only ``t < H - 1`` is written.
    """
    Hp, S, A, K = nxt.shape
    G = Wout.shape[0]
    H = Wout.shape[1] - 1
    nblocks = (G + _BLOCK - 1) // _BLOCK
    one = np.uint64(1)
    for blk in nb.prange(nblocks):
        g0 = blk * _BLOCK
        g1 = min(G, g0 + _BLOCK)
        # the running maximum over successors alternates between the rows of `run` (an in-place running maximum
        # compiles to a conditional store, which LLVM does not vectorise); the same comparisons in the same order
        run = np.empty((2, H + 1))
        for g in range(g0, g1):
            w = Wout[g]
            if Hp == 1:
                cur = 0
                for t in range(H - 1):
                    run[0, t] = 0.0
                for i in range(gptr[g], gptr[g + 1]):
                    n = gn[i]
                    row = gid_in[n]
                    src = np.uint64(cur)
                    dst = np.uint64(1 - cur)
                    for t in range(np.uint64(H - 2) if H >= 2 else np.uint64(0)):
                        v = Win[row, t + one]
                        x = run[src, t]
                        run[dst, t] = v if v > x else x
                    if H >= 2:
                        v = Wlast[n]
                        x = run[src, H - 2]
                        run[dst, H - 2] = v if v > x else x
                    cur = 1 - cur
                for t in range(H - 1):
                    w[t] = run[cur, t]
            else:
                for t in range(H - 1):
                    w[t] = 0.0
                for t in range(H - 1):
                    for a in range(A):
                        for j in range(K):
                            if pr[t, g, a, j] > 0.0:
                                n = nxt[t, g, a, j]
                                v = Win[gid_in[n], t + 1] if t + 1 < H - 1 else Wlast[n]
                                w[t] = v if v > w[t] else w[t]
        for t in range(H - 1):
            for g in range(g0, g1):
                WoutT[t, g] = Wout[g, t]


# ---------------------------------------------------------------------------- NumPy twins


def successor_lists_reference(nxt, pr):
    """Twin of :func:`successor_lists`."""
    _, S, A, K = nxt.shape
    sptr, sn, smask, gid, gptr, gn = [0], [], [], np.empty(S, np.int64), [0], []
    prev = None
    for s in range(S):
        masks = {}
        for a in range(A):
            for j in range(K):
                if pr[0, s, a, j] > 0:
                    n = int(nxt[0, s, a, j])
                    masks[n] = masks.get(n, 0) | (1 << a)
        keys = sorted(masks)
        sn += keys
        smask += [masks[n] for n in keys]
        sptr.append(len(sn))
        if keys != prev:
            gn += keys
            gptr.append(len(gn))
        gid[s] = len(gptr) - 2
        prev = keys
    i64 = np.int64
    return (np.array(sptr, i64), np.array(sn, i64), np.array(smask, np.uint64), gid, np.array(gptr, i64),
            np.array(gn, i64))


def _var_step_reference(nxt, pr, gptr, gn, Win, gid_in, Wlast, Wout, WoutT):
    """Twin of :func:`_var_step`."""
    Hp = nxt.shape[0]
    G, H = Wout.shape[0], Wout.shape[1] - 1

    def w_at(n, t):
        return Win[gid_in[n], t] if t < H - 1 else Wlast[n]

    for t in range(H - 1):
        if Hp == 1:
            vals = [w_at(gn[gptr[g]:gptr[g + 1]], t + 1) for g in range(G)]
        else:
            vals = [w_at(nxt[t, g][pr[t, g] > 0], t + 1) for g in range(G)]
        Wout[:, t] = [max(0.0, float(v.max())) if v.size else 0.0 for v in vals]
    WoutT[:H - 1] = Wout[:, :H - 1].T
