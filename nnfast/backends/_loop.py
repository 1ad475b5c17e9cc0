"""The reference backend: one example at a time, as the maths is written.

This is the oracle every other backend is tested against.  For each example
``x``: forward ``a1 = [1, x]``, ``z(l+1) = Theta(l) a(l)``, ``a(l+1) = [1, g(z(l+1))]``
with the hidden layers' ``g`` and the output's activation at the top; output
error ``delta(L) = dJ/dz``; backward ``delta(l) = Theta(l)' delta(l+1) .* g'(z(l))``
without the bias row; accumulate ``Delta(l) += delta(l+1) a(l)'``.
The formulas are those of :mod:`nnfast._activations`.  It is slow on purpose:
clarity over speed.
"""

from __future__ import annotations

import numpy as np

from .._activations import activate, derivative, head_error, head_loss_sum, output_activation
from ._base import Backend


def _with_bias(a):
    return np.concatenate(([a.dtype.type(1)], a))


class LoopBackend(Backend):
    name = "loop"
    uses_blas = False
    supports_activations = True
    description = "per-example reference loop (the oracle; slow)"

    def loss_grad_sum(self, theta, layer_sizes, offsets, data, loss, n_threads, grad_out,
                      activations=None, output="logistic"):
        X, Y = data
        hidden = activations or ("logistic",) * (len(offsets) - 1)
        weights = [theta[start:end].reshape(shape) for start, end, shape in offsets]
        Deltas = [np.zeros(w.shape, dtype=theta.dtype) for w in weights]
        total = 0.0
        for x, y in zip(X, Y):
            # forward: keep every layer's activation (with bias) for the backward pass
            a = [_with_bias(x)]
            for l, w in enumerate(weights):
                z = w @ a[-1]
                g = output_activation(output, z) if l == len(weights) - 1 else activate(hidden[l], z)
                a.append(_with_bias(g))
            h = a[-1][1:]

            total += head_loss_sum(output, loss, z, h, y)
            if grad_out is None:
                continue

            delta = head_error(output, loss, z, h, y)
            for l in range(len(weights) - 1, -1, -1):
                Deltas[l] += np.outer(delta, a[l])
                if l > 0:
                    delta = (weights[l][:, 1:].T @ delta) * derivative(hidden[l - 1], a[l][1:])

        if grad_out is not None:
            for (start, end, _), D in zip(offsets, Deltas):
                grad_out[start:end] = D.ravel()
        return total

    def forward(self, theta, offsets, X, n_threads, activations=None, output="logistic"):
        hidden = activations or ("logistic",) * (len(offsets) - 1)
        weights = [theta[start:end].reshape(shape) for start, end, shape in offsets]
        H = np.empty((X.shape[0], offsets[-1][2][0]), dtype=X.dtype)
        for i, x in enumerate(X):
            a = x
            for l, w in enumerate(weights):
                z = w @ _with_bias(a)
                a = output_activation(output, z) if l == len(weights) - 1 else activate(hidden[l], z)
            H[i] = a
        return H
