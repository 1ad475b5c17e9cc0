"""Cost and accuracy of parameters on a fixed data set (validation, or the training rows).

For a regression network (``output="identity"``) there is no accuracy: the
score is the root-mean-square error and R² of its outputs instead.
"""

from __future__ import annotations

import numpy as np

from .._network import check_network_memory
from .._validation import check_targets, check_X
from ..backends._base import network_kwargs
from ..objective import Objective


def class_of_targets(Y) -> np.ndarray:
    """Class of each target row, shape (m,): the hot unit, or ``Y > 0.5`` for one output."""
    return np.argmax(Y, axis=1) if Y.shape[1] > 1 else (Y[:, 0] > 0.5)


def is_regression(objective) -> bool:
    """Whether ``objective``'s network is a regression one (identity outputs, real targets)."""
    return getattr(objective, "output", "logistic") == "identity"


def network_outputs(objective, theta, X) -> np.ndarray:
    """The outputs ``h`` of ``objective``'s network at ``theta`` on the rows ``X`` (checked)."""
    net = network_kwargs(objective.backend, objective.activations, objective.output)
    return objective.backend.forward(np.ascontiguousarray(theta, dtype=objective.dtype),
                                     objective.offsets, X, objective.n_threads, **net)


def forward_accuracy(objective, theta, X, classes) -> float:
    """Fraction of the rows of ``X`` whose predicted class is ``classes``, one forward pass."""
    return float(np.mean(class_of_targets(network_outputs(objective, theta, X)) == classes))


def regression_fit(objective, theta, X, Y) -> dict:
    """``{"rmse": ..., "r2": ...}`` of the network's outputs against the targets ``Y`` (m, n_out)."""
    from ..evaluation import regression_scores

    scores = regression_scores(Y, network_outputs(objective, theta, X))
    return {"rmse": scores.rmse, "r2": scores.r2}


class DatasetScorer:
    """Unregularised cost and accuracy on a validation (or any fixed) data set.

    The cost comes from an :class:`~nnfast.Objective` with ``lam=0`` built once
    (the same stable loss as training, on the same backend); the accuracy from
    one forward pass, and is None for a regression network.  ``names`` are the
    arguments named in error messages.
    """

    def __init__(self, X_val, y_val, sizes, loss, backend, n_threads, dtype,
                 names=("X_val", "y_val"), activation="logistic", output="logistic"):
        self.X = check_X(X_val, sizes[0], dtype, name=names[0])
        check_network_memory(sizes, self.X.shape[0], self.X.dtype.itemsize)  # before the targets
        self.regression = output == "identity"
        self.Y = check_targets(y_val, self.X.shape[0], sizes[-1], self.X.dtype, name=names[1],
                               x_name=names[0], real_valued=self.regression)
        self.objective = Objective(self.X, self.Y, sizes, lam=0.0, loss=loss, backend=backend,
                                   n_threads=n_threads, dtype=dtype, activation=activation,
                                   output=output)
        self.classes = None if self.regression else class_of_targets(self.Y)

    def __call__(self, theta):
        """``(cost, accuracy)`` of ``theta`` on this data set (accuracy None for regression)."""
        cost = self.objective.cost(theta)
        if self.regression:
            return cost, None
        return cost, forward_accuracy(self.objective, theta, self.X, self.classes)

    def regression_fit(self, theta) -> dict:
        """RMSE and R² of ``theta``'s outputs on this data set (regression networks)."""
        return regression_fit(self.objective, theta, self.X, self.Y)
