"""SubPO: policy gradients for submodular RL (Prajapat, Mutný, Zeilinger & Krause, ICLR 2024, arXiv:2307.13372).

The return of a trajectory is a monotone submodular function ``F`` of the set of visited states
(:class:`rltheory.models.SubmodularMDP`). SubPO ascends ``J(pi) = E[F(tau)]`` with a score-function gradient
whose per-step signal is built from the marginal gains ``Delta_j = F(s_{j+1} | tau_{0:j})``.

Estimators (``estimator=``):

* ``"gain_to_go"`` (default; spec B2.1 [RECONSTRUCTED from the abstract plus the standard derivation]):
  ``g = (1/B) sum_batch sum_{i=0}^{H-2} grad log pi(a_i | x_i) (G_i - b_i)`` with ``G_i = sum_{j >= i} Delta_j =
  F(tau) - F(tau_{0:i})``. Unbiased for any policy whose step-``i`` input is known at step ``i``, because
  ``Delta_j`` for ``j < i`` does not depend on ``a_i``. With the leave-one-out batch baseline
  ``b_i = mean_{m != n} G_i^(m)`` it stays exactly unbiased (the plain batch mean scales ``E[g]`` by ``1 - 1/B``).
* ``"myopic"``: ``Delta_i`` in place of ``G_i``. Its expectation ``sum_h E[grad log pi Delta_h]`` ignores the effect of
  ``a_h`` on later gains; its ascent fixed points are greedy (spec addendum §2).
* ``"official_code"``: the official code's loss (manish-pra/non-additive-RL ``main.py``, spec B2.2): the step signal
  is the prefix value ``F(tau_{0:h+1}) / MAX_Ret`` averaged over the ``(H-1) B`` entries
  (``MAX_Ret`` = ``model.normaliser``, ``2(H+1)`` on the grids). Same expectation as ``"myopic"`` (past gains act
  as a baseline), more variance.

Policies (``policy=``): ``"markov"``, the time-indexed softmax ``pi(a | s, h) ∝ exp(theta[h, s, a])``; ``"history"``,
the same plus ``sum_k W[a, k] m_h[features[s, k]]`` with ``m_h`` the covered vector of the prefix (the addendum's
TabNM: on the grids the covered bits of the 5x5 window around the agent; no bias feature, ``theta`` has it).
The code's MLP policies are not reproduced (no PyTorch; tabular logits are the subject here).

Optimisers (``optimizer=``): ``"adam"`` (ascent, ``b1 = 0.9, b2 = 0.999, eps = 1e-8``), ``"sgd"``, and ``"npg"``:
``pi <- pi exp(eta A_hat)`` i.e. ``theta += eta (Q_hat_h(s, a) - V_hat_h(s))`` (0 for unvisited actions), which is the
exact natural gradient for the time-indexed softmax (spec addendum §1 and §5.8 [RECONSTRUCTED]; Markov policy only).

Default step sizes [documented choice, spec addendum §5.9]: Adam ``lr = 0.1`` (the addendum's tabular value for
two-rooms; 0.3 on the coverage grid, which the figure recipes pass), SGD ``lr = 10`` (gain-to-go with the ``1/B``
scaling needs lr of about 10), NPG ``eta = 0.1`` in raw F units. The code's learning rates (0.01 coverage, 0.02
two-rooms) are MLP rates, 10-30 times too small for tabular logits.

Baselines: :class:`SRL` (the code's "standard RL": the same estimators on the modular surrogate
``r(s) = sum_j w_j cover[s, j]`` that counts repeats; ``form="official"`` is the code's prefix form,
``"reward_to_go"`` the REINFORCE form), the uniform policy (:func:`uniform_value`), and in :mod:`.subpo_exact`
greedy, exact OPT and beam search.

Paper text. Searched again (arXiv 2307.13372 HTML v2, OpenReview loYSzjSaAK, the authors' pages): only the abstract
and the introduction's first lines are reachable, so the estimator, NPG step, theorem constants and figure layout
remain the digest's reconstructions; no difference from the spec could be checked against the paper body.

Choices and differences from the official code (each also in the spec addendum §5):

* default estimator is the paper form (gain to go) with a leave-one-out baseline; the code's prefix form is
  ``"official_code"`` (no baseline in the code: pass ``baseline="none"`` to replicate it exactly);
* tabular softmax policies instead of the code's MLPs; the history policy reads covered bits of a window around
  the agent (TabNM), not the MLP's padded list of visited indices;
* the NPG update is exact for the time-indexed softmax only (refused for the history policy);
* replicates run one after another inside the kernel (a ``prange`` over replicates cost more than it saved on the
  shared 2-core machine); every replicate draws its own uniforms from ``rltheory.rng``, so results do not depend
  on how many replicates run together.
"""

from __future__ import annotations

import numpy as np

from rltheory.algorithm import Algorithm, register_algorithm
from rltheory.errors import InvalidModelError, InvalidParameterError
from rltheory.rng import as_seed_sequences, draw_uniforms, generators
from rltheory.submodular import SubmodularMDP
from rltheory.trace import Trace
from rltheory.validation import check_int, check_real

from .subpo_exact import (
    MAX_TRAJECTORIES,
    TIES,
    TrajectoryTable,
    beam_search,
    exact_ascent,
    exact_greedy_value,
    greedy_value,
    optimum,
    trajectory_table,
)
from .subpo_kernels import (
    BASELINE_MODES,
    GAIN_MODES,
    RETURN_MODES,
    adam_kernel,
    adam_numpy,
    epoch_kernel,
    epoch_numpy,
    rollout_numpy,
)

__all__ = ["SubPO", "SRL", "Greedy", "uniform_value", "greedy_value", "exact_greedy_value", "optimum", "beam_search",
           "exact_ascent", "TrajectoryTable", "ESTIMATORS", "POLICIES", "OPTIMIZERS", "BASELINES", "DEFAULT_LR"]

ESTIMATORS = ("gain_to_go", "myopic", "official_code")
POLICIES = ("markov", "history")
OPTIMIZERS = ("adam", "sgd", "npg")
BASELINES = tuple(BASELINE_MODES)
#: Default step size per optimiser (see the module docstring).
DEFAULT_LR = {"adam": 0.1, "sgd": 10.0, "npg": 0.1}
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
#: ``exact_objective`` is recorded when the model has at most this many trajectories.
EXACT_LIMIT = 20_000


def _choice(value, name, allowed):
    if not isinstance(value, str) or value not in allowed:
        raise InvalidParameterError(name, f"must be one of {allowed}, got {value!r}", value=value)
    return value


def _model_arrays(model):
    nxt, prob = model.successors
    cols, vals = model.cover_lists
    return model.mu, nxt, prob, cols, vals, model.weights, model.features


@register_algorithm
class SubPO(Algorithm):
    """SubPO on a :class:`~rltheory.models.SubmodularMDP` with weighted-coverage ``F``.

    Parameters
    ----------
    estimator : {"gain_to_go", "myopic", "official_code"}
    policy : {"markov", "history"}
    optimizer : {"adam", "sgd", "npg"}
    lr : float > 0 or None
        Step size (``None``: :data:`DEFAULT_LR` of the optimiser).
    batch : int
        Trajectories per epoch ``B`` (>= 2 with a leave-one-out baseline).
    baseline : {"leave_one_out", "batch_mean", "none"}

    ``run(model, epochs, replicates, seed)`` returns a :class:`~rltheory.trace.Trace` with ``(R, epochs)`` arrays
    ``objective`` (batch-mean ``F`` of the epoch's trajectories, before its update) and, when the model has at most
    :data:`EXACT_LIMIT` trajectories, ``exact_objective`` (``J`` of the policy that epoch sampled from).
    """

    model_type = SubmodularMDP
    _gain_mode = "submodular"

    def __init__(self, estimator="gain_to_go", policy="markov", optimizer="adam", lr=None, batch=500,
                 baseline="leave_one_out"):
        self.estimator = _choice(estimator, "estimator", ESTIMATORS)
        self.policy = _choice(policy, "policy", POLICIES)
        self.optimizer = _choice(optimizer, "optimizer", OPTIMIZERS)
        self.baseline = _choice(baseline, "baseline", BASELINES)
        self.lr = None if lr is None else check_real(lr, "lr", low=0.0, low_open=True)
        self.batch = check_int(batch, "batch", low=1)
        if self.baseline == "leave_one_out" and self.batch < 2:
            raise InvalidParameterError("batch", f"a leave-one-out baseline needs batch >= 2, got {batch}",
                                        value=batch)
        if self.optimizer == "npg" and self.policy != "markov":
            raise InvalidParameterError("optimizer", "the tabular NPG update is exact for the Markov policy only; "
                                        "use policy='markov'", value=optimizer)

    @classmethod
    def conformance_cases(cls):
        return [{"estimator": "myopic", "policy": "history", "batch": 6},
                {"estimator": "official_code", "optimizer": "sgd", "batch": 5, "baseline": "none"},
                {"optimizer": "npg", "batch": 4}]

    # ------------------------------------------------------------------ internals
    @property
    def step_size(self) -> float:
        return DEFAULT_LR[self.optimizer] if self.lr is None else self.lr

    def _modes(self, model):
        return_mode = {"gain_to_go": "gain_to_go", "myopic": "myopic", "official_code": "prefix"}[self.estimator]
        scale = 1.0 / ((model.H - 1) * model.normaliser) if return_mode == "prefix" else 1.0
        return GAIN_MODES[self._gain_mode], RETURN_MODES[return_mode], BASELINE_MODES[self.baseline], scale

    def _check_model(self, model):
        if isinstance(model, SubmodularMDP) and not model.is_coverage:
            raise InvalidModelError("mdp", f"{type(self).__name__}'s kernel needs a weighted-coverage objective, "
                                    f"got {type(model.objective).__name__}", value=type(model.objective).__name__)

    def run(self, model, epochs, replicates=None, seed=0, backend=None, progress=False) -> Trace:
        """Train for ``epochs`` epochs; see the class docstring for the returned arrays."""
        epochs, seeds, backend = self._check_run_args(model, epochs, replicates, seed, backend)
        self._check_model(model)
        R, B, T = len(seeds), self.batch, model.H - 1
        S, A, Kf = model.S, model.A, model.features.shape[1]
        history = self.policy == "history"
        gain_mode, return_mode, baseline_mode, scale = self._modes(model)
        arrays = _model_arrays(model)
        theta = np.zeros((R, T, S, A))
        W = np.zeros((R, A, Kf))
        g_theta, g_W = np.zeros_like(theta), np.zeros_like(W)
        adam = [np.zeros((R, theta[0].size)), np.zeros((R, theta[0].size)), np.zeros((R, W[0].size)),
                np.zeros((R, W[0].size))]
        epoch_fn, adam_fn = (epoch_kernel, adam_kernel) if backend == "numba" else (epoch_numpy, adam_numpy)
        table = trajectory_table(model, EXACT_LIMIT)
        gens = generators(seeds)
        u = np.empty((R, B, 2 * T + 1))
        objective = np.empty((R, epochs))
        exact = np.empty((R, epochs)) if table is not None else None
        obj = np.empty(R)
        lr = self.step_size
        bar = self._progress(epochs, progress, type(self).__name__)
        for e in range(epochs):
            if exact is not None:
                for r in range(R):
                    exact[r, e] = table.objective(theta[r], W[r], history)
            draw_uniforms(gens, B, 2 * T + 1, out=u)
            epoch_fn(u, theta, W, history, *arrays, gain_mode, return_mode, baseline_mode, scale,
                     self.optimizer == "npg", g_theta, g_W, obj)
            objective[:, e] = obj
            if self.optimizer == "adam":
                adam_fn(theta.reshape(R, -1), g_theta.reshape(R, -1), adam[0], adam[1], e + 1, lr, *ADAM_BETAS,
                        ADAM_EPS)
                if history:
                    adam_fn(W.reshape(R, -1), g_W.reshape(R, -1), adam[2], adam[3], e + 1, lr, *ADAM_BETAS,
                            ADAM_EPS)
            else:  # sgd ascent, or NPG: theta += eta * (Q - V)
                theta += lr * g_theta
                if history:
                    W += lr * g_W
            bar.update(1)
        bar.close()
        out = {"objective": objective}
        if exact is not None:
            out["exact_objective"] = exact
        meta = {"algorithm": type(self).__name__, "params": self.get_params(), "model": model.name,
                "epochs": epochs, "replicates": R, "backend": backend, "lr": lr}
        self.theta_, self.W_ = theta, W  # final parameters, (R, T, S, A) and (R, A, Kf)
        return Trace(out, meta)


@register_algorithm
class SRL(SubPO):
    """The official code's "standard RL" baseline: SubPO's estimators on a modular surrogate (spec B2.4).

    The step signal uses ``r(s) = sum_j w_j cover[s, j]``, summed over the visited *multiset* (repeats count); the
    reported ``objective`` is still the true ``F``. ``form="official"``: the code's prefix form (the sum of ``r`` over
    ``s_0..s_{h+1}``, divided by ``(H - 1) MAX_Ret``; in expectation the one-step gradient of ``r(s_{h+1})``);
    ``form="reward_to_go"``: REINFORCE with reward to go ``sum_{j > h} r(s_j)``.
    """

    _gain_mode = "modular"
    FORMS = ("official", "reward_to_go")

    def __init__(self, form="official", policy="markov", optimizer="adam", lr=None, batch=500,
                 baseline="leave_one_out"):
        self.form = _choice(form, "form", self.FORMS)
        super().__init__("official_code" if form == "official" else "gain_to_go", policy, optimizer, lr, batch,
                         baseline)

    @classmethod
    def conformance_cases(cls):
        return [{"form": "reward_to_go", "batch": 4}]


def uniform_value(model: SubmodularMDP, episodes: int = 2000, seed: int = 0) -> float:
    """Mean ``F`` of the uniform policy: exact when the model can be enumerated, else over ``episodes`` samples."""
    if not isinstance(model, SubmodularMDP):
        raise InvalidModelError("model", f"needs a SubmodularMDP, got {type(model).__name__}",
                                value=type(model).__name__)
    T, S, A = model.H - 1, model.S, model.A
    theta = np.zeros((T, S, A))
    table = trajectory_table(model, MAX_TRAJECTORIES)
    if table is not None:
        return table.objective(theta)
    episodes = check_int(episodes, "episodes", low=1)
    u = np.random.default_rng(check_int(seed, "seed", low=0)).random((episodes, 2 * T + 1))
    F = rollout_numpy(u, theta, np.zeros((A, model.features.shape[1])), False, *_model_arrays(model))[-1]
    return float(F.mean())


class Greedy:
    """The history-dependent greedy policy as a baseline with a learner-like ``run`` (spec B2.4, addendum §5.6).

    At step ``h`` it takes ``argmax_a E[F(s' | tau_{0:h}) | s_h, a]``; ``ties="lowest"`` breaks ties to the lowest
    action, ``"random"`` uniformly. ``run(model, episodes, replicates, seed)`` returns a Trace whose ``objective``
    ``(R, episodes)`` holds ``F`` of each greedy trajectory (replicate ``r`` seeded like every learner's). Not
    registered with the conformance suite: it plans with the model instead of learning from samples.
    """

    def __init__(self, ties="lowest"):
        self.ties = _choice(ties, "ties", TIES)

    def run(self, model, episodes=1, replicates=None, seed=0) -> Trace:
        if not isinstance(model, SubmodularMDP):
            raise InvalidModelError("mdp", f"Greedy needs a SubmodularMDP, got {type(model).__name__}",
                                    value=type(model).__name__)
        episodes = check_int(episodes, "episodes", low=1)
        seeds = as_seed_sequences(seed, replicates)
        rows = [greedy_value(model, self.ties, episodes, int(s.generate_state(1)[0])) for s in seeds]
        return Trace({"objective": np.array(rows)}, {"algorithm": "Greedy", "ties": self.ties, "model": model.name})
