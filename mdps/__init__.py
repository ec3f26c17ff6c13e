"""Environment constructors returning exact, validated models.

* :func:`riverswim`, :func:`garnet`, :func:`chain` — classic small MDPs (:mod:`.classic`);
* :func:`gridworld` — a slippery grid with walls built on a networkx grid graph (:mod:`.gridworld`);
* :func:`random_game`, :func:`cyclic_game`, :func:`rock_paper_scissors`, :func:`bradley_terry_game`,
  :func:`condorcet_game`, :func:`game_batch` — preference games (:mod:`.games`);
* :func:`from_gymnasium` — exact model of a Gymnasium toy_text environment (:mod:`.gymnasium`);
* :func:`combination_lock` — a chain with one correct action per state, effective horizon = depth (:mod:`.locks`).
"""

from . import bridge as bridge  # BRIDGE loader: rltheory.mdps.bridge.load(path, horizon, sticky)
from .classic import chain, garnet, riverswim
from .games import (
    bradley_terry_game,
    condorcet_game,
    cyclic_game,
    game_batch,
    random_game,
    random_reference,
    rock_paper_scissors,
)
from .gridworld import gridworld
from .gymnasium import from_gymnasium
from .locks import combination_lock

__all__ = ["riverswim", "garnet", "chain", "gridworld", "from_gymnasium", "random_game", "cyclic_game",
           "rock_paper_scissors", "bradley_terry_game", "condorcet_game", "random_reference", "game_batch",
           "combination_lock"]

from .submodular import bandit_smdp, coverage_grid, random_bandit_smdp, tight_greedy_family, two_rooms  # noqa: E402

__all__ += ["coverage_grid", "two_rooms", "bandit_smdp", "random_bandit_smdp", "tight_greedy_family"]
from .linear_mixture import hard_instance, mixture_of_kernels, tabular_embedding  # noqa: E402

__all__ += ["mixture_of_kernels", "tabular_embedding", "hard_instance"]
from .nonstationary import drift_grid, piecewise_grid, stationary_grid  # noqa: E402

__all__ += ["piecewise_grid", "drift_grid", "stationary_grid"]
