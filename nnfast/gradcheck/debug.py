"""ex4's small debug network of ``checkNNGradients``."""

from __future__ import annotations

import numpy as np

from .._network import check_layer_sizes, pack


def debug_weights(fan_out: int, fan_in: int) -> np.ndarray:
    """ex4's ``debugInitializeWeights``: ``sin(1..n) / 10``, filled column-major.

    Returns an array of shape ``(fan_out, fan_in + 1)``; deterministic and
    free of symmetry, so every unit gets a different gradient.
    """
    n = fan_out * (fan_in + 1)
    return (np.sin(np.arange(1, n + 1, dtype=np.float64)) / 10.0).reshape(
        (fan_out, fan_in + 1), order="F")


def debug_problem(layer_sizes=(3, 5, 3), m: int = 5):
    """The small network of ex4's ``checkNNGradients``: ``(theta, X, y, layer_sizes)``.

    Weights from :func:`debug_weights`, inputs ``X = debug_weights(m, n_in - 1)``
    (sin-based, shape ``(m, n_in)``) and labels ``y = (1..m) mod n_out`` (class
    indices; the exercise's ``1 + mod(1:m, num_labels)`` minus one).
    """
    sizes = check_layer_sizes(layer_sizes)
    weights = [debug_weights(n_next, n_prev) for n_prev, n_next in zip(sizes[:-1], sizes[1:])]
    theta = pack(weights, dtype=np.float64)
    X = debug_weights(m, sizes[0] - 1)
    y = np.arange(1, m + 1) % sizes[-1]
    if sizes[-1] == 1:
        y = (y + np.arange(1, m + 1)) % 2  # 0/1 targets for a single output
    return theta, X, y, sizes
