"""Classic constructors: documented optimal values, structure, validation."""

from __future__ import annotations

import numpy as np
import pytest

from rltheory.errors import InvalidParameterError
from rltheory.mdps import chain, combination_lock, garnet, riverswim
from rltheory.planning import backward_induction, evaluate, policy_value


@pytest.mark.parametrize("make, value", [(riverswim, 0.6511), (garnet, 8.1477), (chain, 6.2568)])
def test_documented_optimal_values(make, value):
    assert backward_induction(make()).value == pytest.approx(value, abs=5e-5)
    assert f"{value:.4f}" in make.__doc__


def test_riverswim_structure_and_policies():
    m = riverswim()
    assert (m.S, m.A, m.H) == (6, 2, 20) and m.stationary
    np.testing.assert_allclose(m.P[0, 1], [0.7, 0.3, 0, 0, 0, 0])
    np.testing.assert_allclose(m.P[3, 1], [0, 0, 0.1, 0.6, 0.3, 0])
    np.testing.assert_allclose(m.P[5, 1], [0, 0, 0, 0, 0.7, 0.3])
    np.testing.assert_allclose(m.mu, [0, 0.5, 0.5, 0, 0, 0])
    assert policy_value(m, np.ones((20, 6), int)) == pytest.approx(0.6509, abs=5e-5)
    assert policy_value(m, np.zeros((20, 6), int)) == pytest.approx(0.0093, abs=5e-5)
    assert riverswim(2, 3).S == 2


def test_garnet_branching_and_determinism():
    m = garnet(S=20, A=3, branching=4, horizon=5, seed=3)
    assert ((m.P > 0).sum(axis=-1) <= 4).all() and ((m.P > 0).sum(axis=-1) >= 1).all()
    assert m.fingerprint == garnet(S=20, A=3, branching=4, horizon=5, seed=3).fingerprint
    assert m.fingerprint != garnet(S=20, A=3, branching=4, horizon=5, seed=4).fingerprint
    ns = garnet(S=5, A=2, branching=2, horizon=4, seed=0, stationary=False)
    assert ns.P.shape == (4, 5, 2, 5) and not ns.stationary


def test_chain_values():
    m = chain()
    assert policy_value(m, np.ones((20, 5), int)) == pytest.approx(3.2051, abs=5e-5)
    assert chain(slip=0.0).R[0, 4, 0] == 1.0


@pytest.mark.parametrize("call, arg", [
    (lambda: riverswim(n_states=1), "n_states"),
    (lambda: riverswim(horizon=0), "horizon"),
    (lambda: garnet(S=3, branching=4), "branching"),
    (lambda: garnet(seed=-1), "seed"),
    (lambda: chain(slip=1.5), "slip"),
    (lambda: garnet(A=2.5), "A"),
    (lambda: combination_lock(0), "depth"),
    (lambda: combination_lock(2, A=1), "A"),
    (lambda: combination_lock(2, sticky=1.0), "sticky"),
    (lambda: combination_lock(2, horizon=0), "horizon"),
])
def test_bad_arguments_name_the_argument(call, arg):
    with pytest.raises(InvalidParameterError) as e:
        call()
    assert e.value.argument == arg
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("depth, A", [(1, 2), (3, 2), (2, 3)])
def test_combination_lock_values_by_hand(depth, A):
    """Only the one correct sequence pays: V* = 1, and the uniform policy opens the lock with
    probability A^-depth (1/2, 1/8, 1/9 here)."""
    m = combination_lock(depth, A=A, horizon=5)
    assert (m.S, m.A, m.H) == (depth + 2, A, 5)  # chain, sink, END
    assert m.name == f"Lock(d={depth},A={A},T=5)"
    assert backward_induction(m).value == pytest.approx(1.0, abs=1e-12)
    uniform = np.full((m.H, m.S, m.A), 1.0 / A)
    assert float(m.mu @ evaluate(m, uniform)[0]) == pytest.approx(A ** -depth, abs=1e-12)


def test_combination_lock_sticky_name_and_layout():
    m = combination_lock(2, sticky=0.25)
    assert m.name == "Lock(d=2,A=2,T=8)-Sticky"  # once, not "-Sticky-Sticky"
    assert m.S == (2 + 2) * 2 + 1  # (state, previous action) pairs plus the first-step state
    assert combination_lock(2).name == "Lock(d=2,A=2,T=8)"
    # the correct actions depend on the seed only
    assert combination_lock(4, seed=1).fingerprint == combination_lock(4, seed=1).fingerprint
