"""Learners, one module per paper; each registers itself for the conformance suite.

* :class:`UCBVI` — Azar, Osband & Munos (2017), the shared optimistic baseline.
* :class:`NashMirrorProx`, :class:`ApproximateNashMirrorProx` — Tiapkin et al. (2025), Nash
  learning from human feedback by mirror prox on preference games; baselines :class:`NashMD`,
  :class:`OnlineMirrorDescent`, :class:`ExtragradientPO`, :class:`MagneticMirrorDescent`.
* :class:`SQIRL` — Laidlaw, Zhu, Russell & Dragan (ICLR 2024), tabular theory form, with the regression
  oracles :class:`TabularMean` and :class:`LinearLeastSquares`.
* :class:`GORP` — Laidlaw, Russell & Dragan (NeurIPS 2023), greedy over random-policy rollouts.
* :class:`QLearning` — tabular epsilon-greedy Q-learning, the effective-horizon papers' baseline.
* :class:`StepMix`, :class:`EpsMix` — Li, Huang, Shen & Yang (ICML 2023), conservative exploration
  under an episode-wise constraint; comparison methods :class:`ConservativeUCBVI` (budget, Garcelon
  et al. 2020) and :class:`BaselineOnly`.
* :class:`SubPO` — Prajapat, Mutný, Zeilinger & Krause (ICLR 2024), submodular RL; baseline :class:`SRL`.
* :class:`HFUCRLRFE`, :class:`UCRLRFE`, :class:`UCRLRFEPlus` — Zhang, Zhang & Gu (ICML 2023), reward-free
  exploration in linear mixture MDPs; baseline :class:`RandomExploration`.
* :class:`KeRNS`, :class:`RSKeRNS` — Domingues et al. (AISTATS 2021), non-stationary RL by kernel smoothing;
  forgetting baselines :class:`DUCBVI`, :class:`SWUCBVI`, :class:`RestartUCBVI`, :class:`UCBVINoForgetting`.
* Multi-batch policy evaluation learners (Johnson, Pike-Burke & Rebeschini, ICLR 2024; ours): in
  :mod:`rltheory.algorithms.multibatch`.
"""

from . import budget  # noqa: F401  (registers the budget rule's compiled deploy)
from .conservative import BaselineOnly, ConservativeUCBVI
from .gorp import GORP
from .kerns import DUCBVI, SWUCBVI, KeRNS, RestartUCBVI, RSKeRNS, UCBVINoForgetting
from .nash_mp import ApproximateNashMirrorProx, NashMirrorProx
from .preference_baselines import ExtragradientPO, MagneticMirrorDescent, NashMD, OnlineMirrorDescent
from .qlearning import QLearning
from .regression import LinearLeastSquares, TabularMean
from .reward_free import HFUCRLRFE, UCRLRFE, RandomExploration, UCRLRFEPlus
from .sqirl import SQIRL
from .stepmix import EpsMix, StepMix
from .subpo import SRL, SubPO
from .ucbvi import UCBVI

__all__ = ["UCBVI", "NashMirrorProx",
           "ApproximateNashMirrorProx", "NashMD", "OnlineMirrorDescent", "ExtragradientPO", "MagneticMirrorDescent",
           "SQIRL", "GORP", "QLearning", "TabularMean", "LinearLeastSquares",
           "StepMix", "EpsMix", "ConservativeUCBVI", "BaselineOnly",
           "SubPO", "SRL",
           "HFUCRLRFE", "UCRLRFE", "UCRLRFEPlus", "RandomExploration",
           "KeRNS", "RSKeRNS", "DUCBVI", "SWUCBVI", "RestartUCBVI", "UCBVINoForgetting"]
