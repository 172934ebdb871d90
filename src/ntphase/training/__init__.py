"""Lazy training of the two-layer network: the network, gradient descent from a
symmetric initialization, and the linearized (kernel) dynamics it follows."""

from ntphase.training.gradient_descent import HISTORY_COLUMNS, TrainingResult, train_network
from ntphase.training.linearized import (
    fit_linear_rate,
    linearized_loss_curve,
    linearized_loss_floor,
    linearized_predictions,
    predicted_rate,
)
from ntphase.training.network import (
    loss_and_gradient,
    network_output,
    symmetric_initialization,
    tangent_dimension,
)

__all__ = [
    "HISTORY_COLUMNS",
    "TrainingResult",
    "fit_linear_rate",
    "linearized_loss_curve",
    "linearized_loss_floor",
    "linearized_predictions",
    "loss_and_gradient",
    "network_output",
    "predicted_rate",
    "symmetric_initialization",
    "tangent_dimension",
    "train_network",
]
