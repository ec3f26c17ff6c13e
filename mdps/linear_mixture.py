"""Linear mixture MDP instances (Zhang, Zhang & Gu, ICML 2023, arXiv 2303.10165, and its thesis chapter).

* :func:`mixture_of_kernels` -- ``P = sum_i w*_i P_i`` over ``d`` known base kernels ``P_i(.|s,a) ~
  Dirichlet(concentration)``, ``w* ~ Dirichlet(1_d)``; features ``phi_i = P_i / sqrt(d)``, ``theta* =
  sqrt(d) w*``, so ``||phi_V|| <= 1`` for ``V in [0, 1]^S`` and ``B = sqrt(d)``. ``d`` is free of ``S, A``.
  (Our experimental instance; the paper has no experiments.)
* :func:`tabular_embedding` -- any tabular kernel as a linear mixture with ``d = S^2 A``:
  ``phi(s'|s,a) = e_{(s,a,s')} / sqrt(S)``, ``theta* = sqrt(S) vec(P)``, ``B = S sqrt(A)``.
* :func:`hard_instance` -- the lower-bound instance (thesis Sec. 2.6.2.2, after Zhou & Gu 2022): states
  ``x1, x2, x3`` (indices 0, 1, 2), actions ``{-1, +1}^{d-1}``, ``P(x3 | x1, a) = delta0 + <mu, a>``,
  ``x2`` and ``x3`` absorbing, ``mu in {-Delta, +Delta}^{d-1}``, ``Delta = sqrt(delta0 / K) / (4 sqrt 2)``.
  Feature scaling ``a0 = (1 + Delta (d-1))^{-1/2}``, ``b0 = (Delta / (1 + Delta (d-1)))^{1/2}`` as in
  uclaml/LDP-UCRL-VTR (``HardToLearn``); then ``||theta*|| = 1 + (d-1) Delta``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rltheory.errors import InvalidParameterError
from rltheory.linear_mixture import LinearMixtureMDP
from rltheory.validation import check_int, check_real

__all__ = ["mixture_of_kernels", "tabular_embedding", "hard_instance", "HardInstance", "hard_instance_gap"]


def mixture_of_kernels(S: int = 8, A: int = 3, d: int = 4, H: int = 20, *, concentration: float = 0.3,
                       seed: int = 0, start_state: int = 0) -> LinearMixtureMDP:
    """Mixture of ``d`` random known kernels (see the module docstring); ``B = sqrt(d)``."""
    S = check_int(S, "S", low=1)
    A = check_int(A, "A", low=1)
    d = check_int(d, "d", low=1)
    concentration = check_real(concentration, "concentration", low=0.0, low_open=True)
    rng = np.random.default_rng(check_int(seed, "seed", low=0))
    base = rng.dirichlet(np.full(S, concentration), size=(d, S, A))            # (d, S, A, S)
    base /= base.sum(axis=-1, keepdims=True)
    w = rng.dirichlet(np.ones(d))
    return LinearMixtureMDP(base / math.sqrt(d), math.sqrt(d) * w, H, start_state=start_state, B=math.sqrt(d),
                            name=f"mixture(d={d}, S={S}, A={A}, H={H}, seed={seed})")


def tabular_embedding(P, H: int, *, start_state: int = 0) -> LinearMixtureMDP:
    """A tabular kernel ``P (S, A, S)`` as a linear mixture MDP with ``d = S^2 A`` (``B = S sqrt(A)``)."""
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 3 or P.shape[0] != P.shape[2]:
        raise InvalidParameterError("P", f"must have shape (S, A, S), got {P.shape}", value=P.shape)
    S, A, _ = P.shape
    d = S * S * A
    phi = np.zeros((d, S, A, S))
    idx = np.arange(d).reshape(S, A, S)
    s, a, sp = np.meshgrid(np.arange(S), np.arange(A), np.arange(S), indexing="ij")
    phi[idx, s, a, sp] = 1.0 / math.sqrt(S)
    return LinearMixtureMDP(phi, math.sqrt(S) * P.reshape(-1), H, start_state=start_state, B=S * math.sqrt(A),
                            name=f"tabular embedding (S={S}, A={A}, d={d})")


@dataclass(frozen=True)
class HardInstance:
    """The lower-bound instance and its facts: ``model``, ``mu (d-1,)``, ``Delta``, ``actions (2^{d-1}, d-1)``
    (sign vectors), ``reward (S, A)`` (``1/H`` at ``x3``) and ``delta0``."""

    model: LinearMixtureMDP
    mu: np.ndarray
    Delta: float
    actions: np.ndarray
    reward: np.ndarray
    delta0: float


def hard_instance(d: int, H: int, K: int, *, signs=None, seed: int = 0, delta0: float = 1 / 6) -> HardInstance:
    """The thesis' hard instance for exploration budget ``K`` (``Delta`` depends on ``K``).

    ``signs (d-1,)`` in ``{-1, +1}`` fixes ``mu = Delta * signs``; by default they are drawn uniformly
    with ``seed``. Start state ``x1`` (index 0).
    """
    d = check_int(d, "d", low=2)
    H = check_int(H, "H", low=1)
    K = check_int(K, "K", low=1)
    delta0 = check_real(delta0, "delta0", low=0.0, high=1.0, low_open=True, high_open=True)
    Delta = math.sqrt(delta0 / K) / (4 * math.sqrt(2))
    if delta0 + (d - 1) * Delta > 1:
        raise InvalidParameterError("K", f"too small for d={d}: delta0 + (d-1) Delta exceeds 1", value=K)
    if signs is None:
        signs = np.random.default_rng(check_int(seed, "seed", low=0)).choice([-1.0, 1.0], size=d - 1)
    signs = np.asarray(signs, dtype=np.float64)
    if signs.shape != (d - 1,) or not np.all(np.abs(signs) == 1):
        raise InvalidParameterError("signs", f"must be d-1={d - 1} entries in {{-1, +1}}, got {signs!r}",
                                    value=signs.shape)
    mu = Delta * signs
    A = 2 ** (d - 1)
    actions = 1.0 - 2.0 * ((np.arange(A)[:, None] >> np.arange(d - 1)[None, :]) & 1)   # (A, d-1), action 0 = all +1
    a0 = (1 + Delta * (d - 1)) ** -0.5
    b0 = (Delta / (1 + Delta * (d - 1))) ** 0.5
    phi = np.zeros((d, 3, A, 3))
    phi[0, 0, :, 1] = a0 * (1 - delta0)
    phi[1:, 0, :, 1] = -b0 * actions.T
    phi[0, 0, :, 2] = a0 * delta0
    phi[1:, 0, :, 2] = b0 * actions.T
    phi[0, 1, :, 1] = a0
    phi[0, 2, :, 2] = a0
    theta = np.concatenate([[1 / a0], mu / b0])
    reward = np.zeros((3, A))
    reward[2] = 1.0 / H
    model = LinearMixtureMDP(phi, theta, H, start_state=0, B=float(np.linalg.norm(theta)),
                             name=f"hard instance (d={d}, H={H}, K={K})")
    return HardInstance(model, mu, Delta, actions, reward, delta0)


def hard_instance_gap(inst: HardInstance, action: int) -> float:
    """Exact gap of playing ``action`` at ``x1`` with reward ``1/H`` at ``x3``:
    ``((H-1)/H) 2 Delta #{i : sign(a_i) != sign(mu_i)}`` (thesis Sec. 2.6.2.2)."""
    H = inst.model.H
    mismatches = int(np.sum(np.sign(inst.actions[action]) != np.sign(inst.mu)))
    return (H - 1) / H * 2 * inst.Delta * mismatches
