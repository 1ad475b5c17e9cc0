"""One-shot functions: each validates its inputs and calls a backend once.

For repeated evaluation on the same data (an optimiser), build an
:class:`nnfast.Objective` once instead.
"""

from __future__ import annotations

import numpy as np

from ._activations import check_activations, check_head
from ._network import check_layer_sizes, check_network_memory, layer_offsets, n_params
from ._validation import all_finite, check_n_threads, check_theta, check_theta_shape, check_X
from .backends import get_backend
from .backends._base import network_kwargs
from .objective import Objective


def cost_grad(theta, X, y, layer_sizes, lam=0.0, loss=None, backend="auto",
              n_threads=None, dtype=None, activation="logistic", output="logistic"):
    """Regularised cost and gradient, ``(J, grad)``.

    Parameters
    ----------
    theta : array-like of shape (n_params,)
        Unrolled weights (``nnfast.pack([Theta1, Theta2, ...])``).
    X : array-like of shape (m, n_in)
    y : array-like, class indices (m,) or targets (m, n_out)
    layer_sizes, lam, loss, backend, n_threads, dtype, activation, output
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
    return _evaluate_once(theta, X, y, layer_sizes, lam, loss, backend, n_threads, dtype, True,
                          activation, output)


def cost(theta, X, y, layer_sizes, lam=0.0, loss=None, backend="auto",
         n_threads=None, dtype=None, activation="logistic", output="logistic") -> float:
    """The regularised cost J alone; arguments as for :func:`cost_grad`."""
    return _evaluate_once(theta, X, y, layer_sizes, lam, loss, backend, n_threads, dtype,
                          False, activation, output)[0]


def _evaluate_once(theta, X, y, layer_sizes, lam, loss, backend, n_threads, dtype, need_grad,
                   activation="logistic", output="logistic"):
    """``(J, grad or None)`` from an :class:`Objective` built for this one call.

    It is built only once ``theta`` fits ``layer_sizes`` (so a wrong
    ``layer_sizes`` is reported as a mismatch with the given weights, before
    anything of its size is allocated), without the layout that only pays over
    many calls (``reuse=False``).  Where the backend's gradient is non-finite
    whenever X holds a NaN or inf, the pass over X for them is skipped and the
    gradient is checked instead: X is looked at again only when the gradient
    is not finite, to raise the same error as the usual check (or, for a
    finite X whose sums overflowed, to return that result as it is).
    """
    sizes = check_layer_sizes(layer_sizes)
    check_theta_shape(theta, n_params(sizes), sizes)
    activations = check_activations(activation, len(sizes) - 2)
    output, loss = check_head(output, loss)
    be = get_backend(backend, activations, output)
    gradient_tells = need_grad and be.nonfinite_X_reaches_gradient
    fun = Objective(X, y, sizes, lam=lam, loss=loss, backend=be, n_threads=n_threads,
                    dtype=dtype, reuse=False,
                    check_finite=not (gradient_tells or be.finds_nonfinite_X),
                    activation=activations, output=output)
    J, grad = fun._evaluate(theta, need_grad)
    if gradient_tells and not (np.isfinite(J) and all_finite(grad.reshape(1, -1))):
        check_X(X, sizes[0], dtype)
    return J, grad


def predict_proba(theta, X, layer_sizes, backend="auto", n_threads=None, dtype=None,
                  activation="logistic", output="logistic"):
    """Output activations of the network (a forward pass).

    ``activation`` and ``output`` as for :class:`nnfast.Objective`.

    Returns
    -------
    h : ndarray of shape (m, n_out), in the working dtype
        ``h[i, k]`` is output k for example i: a sigmoid (the outputs need not sum
        to one), a softmax probability, or the network's value for regression.
    """
    sizes = check_layer_sizes(layer_sizes)
    check_theta_shape(theta, n_params(sizes), sizes)
    n_threads = check_n_threads(n_threads)
    net = dict(activations=check_activations(activation, len(sizes) - 2),
               output=check_head(output)[0])
    be = get_backend(backend, **net)
    # a backend that finds NaN and inf in X itself saves the pass over X for them
    X = check_X(X, sizes[0], dtype, n_threads=n_threads, check_finite=not be.finds_nonfinite_X)
    theta = check_theta(theta, n_params(sizes), X.dtype, sizes)
    check_network_memory(sizes, X.shape[0], X.dtype.itemsize, param_vectors=0)
    net = network_kwargs(be, **net)
    if be.finds_nonfinite_X:
        return be.forward(theta, layer_offsets(sizes), X, n_threads, x_checked=False, **net)
    return be.forward(theta, layer_offsets(sizes), X, n_threads, **net)


forward = predict_proba


def predict(theta, X, layer_sizes, backend="auto", n_threads=None, dtype=None,
            activation="logistic", output="logistic"):
    """Index of the most active output unit for each example, shape (m,), int64."""
    return np.argmax(predict_proba(theta, X, layer_sizes, backend, n_threads, dtype,
                                   activation, output), axis=1)
