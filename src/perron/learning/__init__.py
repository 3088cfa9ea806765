"""Federated learning: models a station trains, server strategies, DP steps, model cards.

Modules in dependency order: :mod:`~perron.learning.network` (the numpy models),
:mod:`~perron.learning.privacy` (OpenDP noise for gradient steps),
:mod:`~perron.learning.local` (a station's local training),
:mod:`~perron.learning.strategies` (FedAvg, FedProx, FedAdam server steps),
:mod:`~perron.learning.features` (the design and its standardisation),
:mod:`~perron.learning.metrics`, :mod:`~perron.learning.card`,
:mod:`~perron.algorithms.prediction.trained` (the trained model, saved as safetensors + JSON card),
:mod:`~perron.learning.progress`. The federated algorithm that drives them is
:mod:`perron.algorithms.prediction.training`; see ``docs/federated-learning.md``.
"""

from perron.learning.metrics import RoundMetrics

__all__ = ["RoundMetrics"]
