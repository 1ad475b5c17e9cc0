"""The reference backend: one example at a time, as the maths is written.

This is the oracle every other backend is tested against.  For each example
``x``: forward ``a1 = [1, x]``, ``z(l+1) = Theta(l) a(l)``, ``a(l+1) = [1, g(z(l+1))]``;
output error ``delta(L)``; backward ``delta(l) = Theta(l)' delta(l+1) .* g'(z(l))``
without the bias row; accumulate ``Delta(l) += delta(l+1) a(l)'``.
It is slow on purpose: clarity over speed.
"""

from __future__ import annotations

import numpy as np

from .._losses import cross_entropy_from_logits, output_error, sigmoid, squared_error
from ._base import Backend


def _with_bias(a):
    return np.concatenate(([a.dtype.type(1)], a))


class LoopBackend(Backend):
    name = "loop"
    uses_blas = False
    description = "per-example reference loop (the oracle; slow)"

    def loss_grad_sum(self, theta, layer_sizes, offsets, data, loss, n_threads, grad_out):
        X, Y = data
        weights = [theta[start:end].reshape(shape) for start, end, shape in offsets]
        Deltas = [np.zeros(w.shape, dtype=theta.dtype) for w in weights]
        total = 0.0
        for x, y in zip(X, Y):
            # forward: keep every layer's activation (with bias) for the backward pass
            activations = [_with_bias(x)]
            for w in weights:
                z = w @ activations[-1]
                activations.append(_with_bias(sigmoid(z)))
            h = activations[-1][1:]

            if loss == "cross_entropy":
                total += float(np.sum(cross_entropy_from_logits(z, y), dtype=np.float64))
            else:
                total += float(np.sum(squared_error(h, y), dtype=np.float64))
            if grad_out is None:
                continue

            delta = output_error(loss, z, h, y)
            for l in range(len(weights) - 1, -1, -1):
                Deltas[l] += np.outer(delta, activations[l])
                if l > 0:
                    a = activations[l][1:]
                    delta = (weights[l][:, 1:].T @ delta) * a * (1 - a)

        if grad_out is not None:
            for (start, end, _), D in zip(offsets, Deltas):
                grad_out[start:end] = D.ravel()
        return total

    def forward(self, theta, offsets, X, n_threads):
        weights = [theta[start:end].reshape(shape) for start, end, shape in offsets]
        H = np.empty((X.shape[0], offsets[-1][2][0]), dtype=X.dtype)
        for i, x in enumerate(X):
            a = x
            for w in weights:
                a = sigmoid(w @ _with_bias(a))
            H[i] = a
        return H
