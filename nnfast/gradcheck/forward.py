"""The float64 forward pass at θ that every perturbation starts from."""

from __future__ import annotations

import numpy as np

from .._activations import activate, head_losses
from .._losses import sigmoid
from .._network import layer_offsets, unpack
from ..backends._numpy import layer_outputs, pre_activation


def loss_values(output, loss, z, Y):
    """Loss of output logits ``z`` against targets ``Y``, per output: an array of z's shape
    whose sum over the last axis is each example's loss.

    For logistic and identity outputs each entry depends on its own logit only;
    a softmax entry ``-y_k log h_k`` depends on the example's whole row of ``z``.
    """
    h = sigmoid(z) if (output, loss) == ("logistic", "squared_error") else None
    return head_losses(output, loss, z, h, Y)


class ForwardPass:
    """The forward pass at θ in float64, kept for the perturbations.

    Parameters
    ----------
    theta : ndarray of shape (n_params,), float64
    X : ndarray of shape (m, n_in), float64
    Y : ndarray of shape (m, n_out), float64
    layer_sizes : tuple of int
    loss : {"cross_entropy", "squared_error"}
    activations : tuple of str, one per hidden layer, or None (all "logistic")
    output : {"logistic", "softmax", "identity"}

    Attributes
    ----------
    weights : list of ndarray
        Views of ``theta``, one matrix per weight layer.
    activations : list of ndarray
        ``activations[l]``: the input of weight layer ``l`` without bias column
        (``activations[0]`` is ``X``).
    pre_activations : list of ndarray
        ``pre_activations[l]``: what weight layer ``l`` computes, before its activation.
    loss_sum : float
        The summed loss over examples and outputs at θ.
    """

    def __init__(self, theta, X, Y, layer_sizes, loss, activations=None, output="logistic"):
        self.sizes = layer_sizes
        self.loss = loss
        self.hidden = tuple(activations) if activations else ("logistic",) * (len(layer_sizes) - 2)
        self.output = output
        self.offsets = layer_offsets(layer_sizes)
        self.weights = unpack(theta, self.offsets)
        self.Y = Y
        self.activations = [X]
        self.pre_activations = []
        for z, a in layer_outputs(self.weights, X, self.hidden, output):
            self.pre_activations.append(z)
            self.activations.append(a)
        self.n_layers = len(self.weights)
        self.loss_sum = float(np.sum(self.loss_values(self.pre_activations[-1], Y),
                                     dtype=np.float64))
        self._columns = {}

    @classmethod
    def of(cls, problem):
        """The forward pass at a checked problem's ``theta``."""
        return cls(problem.theta, problem.X, problem.Y, problem.layer_sizes, problem.loss,
                   problem.activations, problem.output)

    @property
    def is_ex4(self) -> bool:
        """Logistic hidden units and outputs: the network the compiled kernel implements."""
        return self.output == "logistic" and all(a == "logistic" for a in self.hidden)

    def loss_values(self, z, Y):
        """:func:`loss_values` of this network's head."""
        return loss_values(self.output, self.loss, z, Y)

    def output_loss_changes(self, j, rows, step_plus, step_minus):
        """Per-entry ``L(z + h⁺ e_j) - L(z - h⁻ e_j)`` when output logit ``j`` of example
        ``rows[i]`` moves by the steps ``step_plus[i]``, ``step_minus[i]``."""
        z = self.pre_activations[-1]
        if self.output != "softmax":  # each output's loss depends on its own logit only
            z_j, y_j = z[rows, j], self.Y[rows, j]
            return self.loss_values(z_j + step_plus, y_j) - self.loss_values(z_j - step_minus, y_j)
        plus, minus = z[rows], z[rows]  # fancy indexing: two new arrays
        plus[:, j] += step_plus
        minus[:, j] -= step_minus
        Y = self.Y[rows]
        return self.loss_values(plus, Y).sum(axis=1) - self.loss_values(minus, Y).sum(axis=1)

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
            else:  # dense: ReLU zeros cost a little time, and logistic units are never 0
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
        # z is the pre-activation of hidden layer k (0-based) as each weight layer is applied
        for k, w in enumerate(self.weights[l + 2:], start=l + 1):
            z = pre_activation(activate(self.hidden[k], z), w)
        return self.loss_values(z, self.Y[rows]).sum(axis=1)
