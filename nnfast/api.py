"""One-shot functions: each validates its inputs and calls a backend once.

For repeated evaluation on the same data (an optimiser), build an
:class:`nnfast.Objective` once instead.
"""

from __future__ import annotations

import numpy as np

from ._network import check_layer_sizes, check_network_memory, layer_offsets, n_params
from ._validation import check_n_threads, check_theta, check_theta_shape, check_X
from .backends import get_backend
from .objective import Objective


def cost_grad(theta, X, y, layer_sizes, lam=0.0, loss="cross_entropy", backend="auto",
              n_threads=None, dtype=None):
    """Regularised cost and gradient, ``(J, grad)``.

    Parameters
    ----------
    theta : array-like of shape (n_params,)
        Unrolled weights (``nnfast.pack([Theta1, Theta2, ...])``).
    X : array-like of shape (m, n_in)
    y : array-like, class indices (m,) or targets (m, n_out)
    layer_sizes, lam, loss, backend, n_threads, dtype
        As for :class:`nnfast.Objective`.

    Returns
    -------
    J : float
    grad : ndarray of shape (n_params,), float64 (a new array)

    Examples
    --------
    >>> import numpy as np, nnfast
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0]]); y = np.array([0, 1])
    >>> theta = np.zeros(nnfast.n_params([2, 2]))
    >>> J, grad = nnfast.cost_grad(theta, X, y, [2, 2], backend="numpy")
    >>> round(J, 6)  # two outputs at h = 0.5: 2 log 2
    1.386294
    """
    return _objective_for(theta, X, y, layer_sizes, lam, loss, backend, n_threads, dtype)(theta)


def cost(theta, X, y, layer_sizes, lam=0.0, loss="cross_entropy", backend="auto",
         n_threads=None, dtype=None) -> float:
    """The regularised cost J alone; arguments as for :func:`cost_grad`."""
    return _objective_for(theta, X, y, layer_sizes, lam, loss, backend, n_threads,
                          dtype).cost(theta)


def _objective_for(theta, X, y, layer_sizes, lam, loss, backend, n_threads, dtype):
    """An :class:`Objective` for one call, built only once ``theta`` fits ``layer_sizes``.

    Checking theta's length first means a wrong ``layer_sizes`` is reported as
    a mismatch with the given weights, before anything of its size is allocated.
    """
    sizes = check_layer_sizes(layer_sizes)
    check_theta_shape(theta, n_params(sizes), sizes)
    return Objective(X, y, sizes, lam=lam, loss=loss, backend=backend, n_threads=n_threads,
                     dtype=dtype)


def predict_proba(theta, X, layer_sizes, backend="auto", n_threads=None, dtype=None):
    """Output activations of the network (a forward pass).

    Returns
    -------
    h : ndarray of shape (m, n_out), in the working dtype
        ``h[i, k]`` is the sigmoid output of unit k for example i (the outputs
        of a sigmoid network need not sum to one).
    """
    sizes = check_layer_sizes(layer_sizes)
    check_theta_shape(theta, n_params(sizes), sizes)
    X = check_X(X, sizes[0], dtype)
    theta = check_theta(theta, n_params(sizes), X.dtype, sizes)
    check_network_memory(sizes, X.shape[0], X.dtype.itemsize, param_vectors=0)
    return get_backend(backend).forward(theta, layer_offsets(sizes), X, check_n_threads(n_threads))


forward = predict_proba


def predict(theta, X, layer_sizes, backend="auto", n_threads=None, dtype=None):
    """Index of the most active output unit for each example, shape (m,), int64."""
    return np.argmax(predict_proba(theta, X, layer_sizes, backend, n_threads, dtype), axis=1)
