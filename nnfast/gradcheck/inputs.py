"""The one check of the arguments every gradient-check function takes."""

from __future__ import annotations

from typing import NamedTuple, Tuple

import numpy as np

from .._activations import check_activations, check_head
from .._network import check_layer_sizes, n_params
from .._validation import as_array, check_lam, check_targets, check_theta, check_X


class CheckedProblem(NamedTuple):
    """Validated arguments, all arrays float64 and C-contiguous."""

    layer_sizes: Tuple[int, ...]
    theta: np.ndarray
    X: np.ndarray
    Y: np.ndarray
    lam: float
    loss: str
    epsilon: float
    activations: Tuple[str, ...] = ()
    output: str = "logistic"


def check_problem(theta, X, y, layer_sizes, lam, loss, epsilon, activation="logistic",
                  output="logistic") -> CheckedProblem:
    """Check the network, the point, the data and the step with nnfast's shared checkers.

    Parameters
    ----------
    theta, X, y, layer_sizes, lam, loss, epsilon, activation, output
        As for :func:`nnfast.gradcheck.numerical_gradient` (``loss=None``: the
        output's own loss).

    Returns
    -------
    CheckedProblem
        ``theta`` and ``X`` are the inputs themselves when they already are
        C-contiguous float64 (never written to); ``Y`` is always new.
    """
    sizes = check_layer_sizes(layer_sizes)
    activations = check_activations(activation, len(sizes) - 2)
    output, loss = check_head(output, loss)
    lam = check_lam(lam)
    theta = check_theta(theta, n_params(sizes), np.float64, sizes)
    X = check_X(X, sizes[0], np.float64)
    Y = check_targets(y, X.shape[0], sizes[-1], np.float64, real_valued=output == "identity")
    return CheckedProblem(sizes, theta, X, Y, lam, loss, check_epsilon(epsilon), activations,
                          output)


def check_epsilon(epsilon) -> float:
    """The central-difference step: a finite number > 0."""
    try:
        eps = float(epsilon)
    except (TypeError, ValueError):
        eps = float("nan")
    if not (eps > 0 and np.isfinite(eps)):
        raise ValueError(f"epsilon must be a positive number, got {epsilon!r}")
    return eps


def check_indices(indices, n_params: int) -> np.ndarray:
    """Parameter indices to differentiate: all of them for ``None``, else a 1-D array in range.

    Kept in the given order (repeats allowed): the result follows it.
    """
    if indices is None:
        return np.arange(n_params)
    indices = as_array(indices, "indices")
    if indices.ndim != 1 or (indices.dtype.kind not in "iu" and indices.size):
        raise ValueError(f"indices must be a 1-D array of integers, got shape {indices.shape} "
                         f"and dtype {indices.dtype}")
    if indices.size and (indices.min() < 0 or indices.max() >= n_params):
        raise ValueError(f"indices must lie in 0..{n_params - 1}, got values in "
                         f"[{indices.min()}, {indices.max()}]")
    return indices.astype(np.intp, copy=False)
