"""Losses on the output layer, written once in terms of the output logits.

Each loss gives the per-example sum over outputs and the output error
``dJ/dz`` that backpropagation starts from.  Every backend uses these
formulas (the compiled kernels restate them in their own language).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

LOSSES = ("cross_entropy", "squared_error")
#: the number every compiled kernel knows each loss by (the cython extension's
#: LOSS_CROSS_ENTROPY and LOSS_SQUARED_ERROR are checked against it at import)
LOSS_CODES = {"cross_entropy": 0, "squared_error": 1}


def check_loss(loss: str) -> str:
    """``loss`` if it names one of :data:`LOSSES`; the ValueError lists them."""
    # the isinstance test first: ``array in LOSSES`` would compare elementwise and fail
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"loss must be one of {list(LOSSES)}, got {loss!r}")
    return loss


def sigmoid(z):
    """Logistic function 1 / (1 + exp(-z)), without overflow warnings."""
    return expit(z)


def sigmoid_gradient(z):
    """Derivative of the sigmoid, g(z) (1 - g(z)); 0.25 at z = 0."""
    g = expit(z)
    return g * (1 - g)


def cross_entropy_from_logits(z, y):
    """Elementwise ``-y log h - (1 - y) log(1 - h)`` with ``h = sigmoid(z)``.

    Written as ``max(z, 0) - y z + log1p(exp(-|z|))``: finite for saturated
    units (where the textbook form gives ``log(0)``), and equal to it within a
    few ulp wherever the textbook form is itself accurate.
    """
    return np.maximum(z, 0) - y * z + np.log1p(np.exp(-np.abs(z)))


def squared_error(h, y):
    """Elementwise ``(h - y)^2 / 2``."""
    d = h - y
    return 0.5 * d * d


def output_error(loss, z, h, y):
    """``dJ/dz`` at the output layer for one loss: ``h - y`` or ``(h - y) h (1 - h)``."""
    if loss == "cross_entropy":
        return h - y
    return (h - y) * h * (1 - h)


def loss_sum(loss, z, h, y) -> float:
    """Sum of the loss over all given examples and outputs, accumulated in float64."""
    if loss == "cross_entropy":
        values = cross_entropy_from_logits(z, y)
    else:
        values = squared_error(h, y)
    return float(np.sum(values, dtype=np.float64))
