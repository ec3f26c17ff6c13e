"""rltheory: provable tabular reinforcement-learning algorithms on exact models.

Core (this package): exact models, exact planning, compiled kernels, seeding, traces,
experiments, plotting and the figure registry. Papers' code lives in the subpackages
:mod:`rltheory.algorithms`, :mod:`rltheory.mdps`, :mod:`rltheory.bounds`; figure recipes in
:mod:`rltheory.paper_figures`.
"""

from importlib.metadata import PackageNotFoundError, version

from .errors import (
    InvalidDataError,
    InvalidModelError,
    InvalidParameterError,
    InvalidPolicyError,
    ValidationError,
)
from .models import DiscountedMDP, FiniteHorizonMDP, PreferenceGame
from .trace import Trace

try:
    __version__ = version("rltheory")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0+unknown"

__all__ = [
    "FiniteHorizonMDP",
    "DiscountedMDP",
    "PreferenceGame",
    "Trace",
    "ValidationError",
    "InvalidModelError",
    "InvalidPolicyError",
    "InvalidParameterError",
    "InvalidDataError",
    "__version__",
]

from .submodular import SubmodularMDP  # noqa: E402

__all__ += ["SubmodularMDP"]
from .models import LinearMixtureMDP  # noqa: E402

__all__ += ["LinearMixtureMDP"]
from .nonstationary import NonStationaryMDP  # noqa: E402

__all__ += ["NonStationaryMDP"]
