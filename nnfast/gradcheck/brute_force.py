"""Central differences by full recomputation of the cost: the slow textbook reference."""

from __future__ import annotations

import numpy as np

from .._network import layer_offsets, unpack
from ..backends._numpy import layer_outputs
from ..objective import l2_mask
from .forward import loss_values
from .inputs import check_indices, check_problem


def brute_force_gradient(theta, X, y, layer_sizes, lam=0.0, loss=None,
                         epsilon=1e-4, indices=None, dtype=np.float64, activation="logistic",
                         output="logistic"):
    """Central differences by full recomputation of the cost.

    Two forward passes per parameter, one perturbed copy of ``theta`` at a
    time (memory ``O(P)``): the slow textbook method, kept as a reference for
    :func:`nnfast.gradcheck.numerical_gradient`.

    Parameters
    ----------
    theta, X, y, layer_sizes, lam, loss, epsilon, indices, activation, output
        As for :func:`nnfast.gradcheck.numerical_gradient`.
    dtype : dtype, default float64
        Precision of the cost.  ``np.longdouble`` evaluates it in extended
        precision (x86: 64-bit mantissa) at the same float64 points ``θ ± ε``:
        a reference free of float64 round-off, so what remains is the
        truncation error of central differences.

    Returns
    -------
    grad : ndarray of shape (len(indices),) or (n_params,), float64
    """
    problem = check_problem(theta, X, y, layer_sizes, lam, loss, epsilon, activation, output)
    theta = problem.theta.copy()  # perturbed in place below, one entry at a time
    indices = check_indices(indices, theta.shape[0])
    dtype = np.dtype(dtype)
    cost = _cost_function(problem, dtype)
    eps = problem.epsilon
    grad = np.empty(len(indices))
    for n, p in enumerate(indices):
        old = theta[p]
        theta[p] = old + eps
        step_plus = theta[p] - old
        cost_plus = cost(theta)
        theta[p] = old - eps
        step_minus = old - theta[p]
        cost_minus = cost(theta)
        theta[p] = old
        grad[n] = float((cost_plus - cost_minus) / (dtype.type(step_plus) + dtype.type(step_minus)))
    return grad


def _cost_function(problem, dtype):
    """``J(θ)`` of ``problem`` evaluated in ``dtype``, as a function of θ (float64)."""
    offsets = layer_offsets(problem.layer_sizes)
    X, Y = problem.X.astype(dtype), problem.Y.astype(dtype)
    mask = l2_mask(problem.layer_sizes).astype(dtype)
    m = X.shape[0]
    lam = dtype.type(problem.lam)

    def cost(theta):
        theta = theta.astype(dtype)
        for z, _ in layer_outputs(unpack(theta, offsets), X, problem.activations, problem.output):
            pass
        penalty = lam / (2 * m) * np.sum(mask * theta * theta)
        return np.sum(loss_values(problem.output, problem.loss, z, Y)) / m + penalty

    return cost
