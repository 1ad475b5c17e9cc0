"""Vectorised NumPy backend: whole-batch matrix products through BLAS."""

from __future__ import annotations

import numpy as np

from .._activations import (activate, derivative, head_error, head_loss_sum, head_losses,
                             output_activation)
from .._validation import cpu_count
from ._base import Backend, blas_threads


def pre_activation(a, w):
    """``a @ w[:, 1:].T + w[:, 0]``: the pre-activations a weight layer computes from ``a``.

    Parameters
    ----------
    a : ndarray of shape (m, n_prev)
        The layer's input, without a bias column: the bias is added as a
        broadcast row, which saves an ``(m, n_prev + 1)`` copy.
    w : ndarray of shape (n_next, n_prev + 1)
        The layer's weights, the bias weights in column 0.

    Returns
    -------
    z : ndarray of shape (m, n_next), new
    """
    z = a @ w[:, 1:].T
    z += w[:, 0]
    return z


def layer_outputs(weights, X, activations=None, output="logistic"):
    """The forward pass, one weight layer at a time.

    Parameters
    ----------
    weights : sequence of ndarray
        ``weights[l]`` of shape ``(n_{l+1}, n_l + 1)``, as from ``nnfast.unpack``.
    X : ndarray of shape (m, n_0)
        Inputs without a bias column.
    activations : tuple of str, one per hidden layer, or None for all logistic
    output : str
        The output layer's activation (``nnfast._activations.OUTPUTS``).

    Yields
    ------
    z, a : ndarray of shape (m, n_{l+1})
        The layer's pre-activations and its activations ``g(z)``.
    """
    a = X
    last = len(weights) - 1
    for l, w in enumerate(weights):
        z = pre_activation(a, w)
        if l == last:
            a = output_activation(output, z)
        else:
            a = activate(activations[l] if activations else "logistic", z)
        yield z, a


class NumpyBackend(Backend):
    name = "numpy"
    description = "vectorised NumPy (BLAS matrix products over all examples)"
    supports_activations = True
    supports_row_weights = True

    def loss_grad_sum(self, theta, layer_sizes, offsets, data, loss, n_threads, grad_out,
                      activations=None, output="logistic", row_weights=None):
        """As :meth:`Backend.loss_grad_sum`; ``row_weights`` (shape (m,), float64, or None)
        weights each example's loss, and so its gradient (``nnfast._weighted``)."""
        # BLAS uses every core by default; limit it only when asked for fewer.
        with blas_threads(n_threads if n_threads < cpu_count() else None):
            return self._loss_grad_sum(theta, offsets, data, loss, grad_out,
                                       activations or ("logistic",) * (len(offsets) - 1), output,
                                       row_weights)

    def forward(self, theta, offsets, X, n_threads, activations=None, output="logistic"):
        with blas_threads(n_threads if n_threads < cpu_count() else None):
            return super().forward(theta, offsets, X, n_threads, activations, output)

    @staticmethod
    def _loss_grad_sum(theta, offsets, data, loss, grad_out, hidden, output, row_weights=None):
        X, Y = data
        weights = [theta[start:end].reshape(shape) for start, end, shape in offsets]
        layer_acts = [X]
        for z, a in layer_outputs(weights, X, hidden, output):
            layer_acts.append(a)
        h = layer_acts[-1]
        if row_weights is None:
            total = head_loss_sum(output, loss, z, h, Y)
        else:
            total = float(row_weights @ np.sum(head_losses(output, loss, z, h, Y), axis=1,
                                               dtype=np.float64))
        if grad_out is None:
            return total

        delta = head_error(output, loss, z, h, Y)
        if row_weights is not None:
            # every later delta is linear in this one: the whole gradient is weighted
            delta *= row_weights.astype(delta.dtype)[:, None]
        for l in range(len(weights) - 1, -1, -1):
            start, end, shape = offsets[l]
            g = grad_out[start:end].reshape(shape)
            np.sum(delta, axis=0, out=g[:, 0])
            np.matmul(delta.T, layer_acts[l], out=g[:, 1:])
            if l > 0:
                delta = (delta @ weights[l][:, 1:]) * derivative(hidden[l - 1], layer_acts[l])
        return total
