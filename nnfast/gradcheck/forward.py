"""The float64 forward pass at θ that every perturbation starts from."""

from __future__ import annotations

import numpy as np

from .._losses import cross_entropy_from_logits, sigmoid, squared_error
from .._network import layer_offsets, unpack
from ..backends._numpy import layer_outputs, pre_activation


def loss_values(loss, z, Y):
    """Elementwise loss of output logits ``z`` (any shape) against targets ``Y``."""
    if loss == "cross_entropy":
        return cross_entropy_from_logits(z, Y)
    return squared_error(sigmoid(z), Y)


class ForwardPass:
    """The forward pass at θ in float64, kept for the perturbations.

    Parameters
    ----------
    theta : ndarray of shape (n_params,), float64
    X : ndarray of shape (m, n_in), float64
    Y : ndarray of shape (m, n_out), float64
    layer_sizes : tuple of int
    loss : {"cross_entropy", "squared_error"}

    Attributes
    ----------
    weights : list of ndarray
        Views of ``theta``, one matrix per weight layer.
    activations : list of ndarray
        ``activations[l]``: the input of weight layer ``l`` without bias column
        (``activations[0]`` is ``X``).
    pre_activations : list of ndarray
        ``pre_activations[l]``: what weight layer ``l`` computes, before the sigmoid.
    loss_sum : float
        The summed loss over examples and outputs at θ.
    """

    def __init__(self, theta, X, Y, layer_sizes, loss):
        self.sizes = layer_sizes
        self.loss = loss
        self.offsets = layer_offsets(layer_sizes)
        self.weights = unpack(theta, self.offsets)
        self.Y = Y
        self.activations = [X]
        self.pre_activations = []
        for z, a in layer_outputs(self.weights, X):
            self.pre_activations.append(z)
            self.activations.append(a)
        self.n_layers = len(self.weights)
        self.loss_sum = float(np.sum(loss_values(loss, self.pre_activations[-1], Y),
                                     dtype=np.float64))
        self._columns = {}

    def columns(self, l):
        """Input columns of weight layer ``l`` (bias first) as CSC: nonzero entries only.

        Returns ``(indptr, rows, vals)``; built once per layer.
        """
        if l not in self._columns:
            a = self.activations[l]
            m = a.shape[0]
            if l == 0:
                nz = a != 0
                counts = nz.sum(axis=0)
                rows_t, cols_t = np.nonzero(nz.T)        # sorted by column
                vals = a.T[rows_t, cols_t]
                rows = np.concatenate([np.arange(m), cols_t]).astype(np.intp)
                vals = np.concatenate([np.ones(m), vals])
                counts = np.concatenate([[m], counts])
            else:  # hidden activations are never exactly 0 or 1 in practice: dense
                n = a.shape[1]
                rows = np.tile(np.arange(m, dtype=np.intp), n + 1)
                vals = np.concatenate([np.ones(m), a.T.ravel()])
                counts = np.full(n + 1, m)
            indptr = np.zeros(len(counts) + 1, dtype=np.intp)
            np.cumsum(counts, out=indptr[1:])
            self._columns[l] = (indptr, rows, vals)
        return self._columns[l]

    def rows_layout(self, l, wanted):
        """Entries of ``[1, activations[l]]`` in the columns ``wanted``, CSR by example.

        Returns ``(indptr, cols, vals)``; zero inputs are left out.
        """
        a = np.concatenate([np.ones((self.activations[l].shape[0], 1)), self.activations[l]],
                           axis=1)
        a[:, ~wanted] = 0.0
        nz = a != 0
        r, c = np.nonzero(nz)
        indptr = np.zeros(a.shape[0] + 1, dtype=np.intp)
        np.cumsum(nz.sum(axis=1), out=indptr[1:])
        return indptr, c.astype(np.intp), a[r, c]

    def downstream_loss(self, l, j, change, rows):
        """Summed loss per entry after unit ``j`` of layer ``l + 1`` changed activation by ``change``.

        ``rows`` are the examples of the entries; the layers after ``l + 1`` are recomputed.
        """
        z = self.pre_activations[l + 1][rows]
        z += change[:, None] * self.weights[l + 1][:, 1 + j]
        for w in self.weights[l + 2:]:
            z = pre_activation(sigmoid(z), w)
        return loss_values(self.loss, z, self.Y[rows]).sum(axis=1)
