"""Cost and accuracy of parameters on a fixed data set (validation, or the training rows)."""

from __future__ import annotations

import numpy as np

from .._network import check_network_memory
from .._validation import check_targets, check_X
from ..backends._base import network_kwargs
from ..objective import Objective


def class_of_targets(Y) -> np.ndarray:
    """Class of each target row, shape (m,): the hot unit, or ``Y > 0.5`` for one output."""
    return np.argmax(Y, axis=1) if Y.shape[1] > 1 else (Y[:, 0] > 0.5)


def forward_accuracy(objective, theta, X, classes) -> float:
    """Fraction of the rows of ``X`` whose predicted class is ``classes``, one forward pass."""
    net = network_kwargs(objective.backend, objective.activations, objective.output)
    h = objective.backend.forward(np.ascontiguousarray(theta, dtype=objective.dtype),
                                  objective.offsets, X, objective.n_threads, **net)
    return float(np.mean(class_of_targets(h) == classes))


class DatasetScorer:
    """Unregularised cost and accuracy on a validation (or any fixed) data set.

    The cost comes from an :class:`~nnfast.Objective` with ``lam=0`` built once
    (the same stable loss as training, on the same backend); the accuracy from
    one forward pass.  ``names`` are the arguments named in error messages.
    """

    def __init__(self, X_val, y_val, sizes, loss, backend, n_threads, dtype,
                 names=("X_val", "y_val"), activation="logistic", output="logistic"):
        self.X = check_X(X_val, sizes[0], dtype, name=names[0])
        check_network_memory(sizes, self.X.shape[0], self.X.dtype.itemsize)  # before the targets
        Y = check_targets(y_val, self.X.shape[0], sizes[-1], self.X.dtype, name=names[1],
                          x_name=names[0], real_valued=output == "identity")
        self.objective = Objective(self.X, Y, sizes, lam=0.0, loss=loss, backend=backend,
                                   n_threads=n_threads, dtype=dtype, activation=activation,
                                   output=output)
        # regression targets have no classes: their accuracy is NaN
        self.classes = None if output == "identity" else class_of_targets(Y)

    def __call__(self, theta):
        """``(cost, accuracy)`` of ``theta`` on this data set."""
        if self.classes is None:
            return self.objective.cost(theta), float("nan")
        return (self.objective.cost(theta),
                forward_accuracy(self.objective, theta, self.X, self.classes))
