"""Mini-batch methods: SGD with momentum (``"sgd"``) and Adam (``"adam"``)."""

from __future__ import annotations

import numpy as np

from ..objective import Objective
from ._stopping import StopTraining

_ADAM_BETA2 = 0.999
_ADAM_EPS = 1e-8


def shuffled_batches(X, Y, batch_size, rng):
    """Contiguous mini-batches of a fresh shuffle (one copy of X per epoch)."""
    perm = rng.permutation(X.shape[0])
    Xs, Ys = X[perm], Y[perm]
    for start in range(0, X.shape[0], batch_size):
        yield Xs[start:start + batch_size], Ys[start:start + batch_size]


def run_minibatch(run, method, theta, X, Y, batch_size, learning_rate, momentum, rng,
                  objective_kwargs):
    """One epoch per iteration until ``run`` stops it; ``X``, ``Y`` checked, working dtype."""
    theta = np.array(theta, dtype=np.float64)
    m = X.shape[0]
    run.record(theta)
    velocity = np.zeros_like(theta)
    second = np.zeros_like(theta)
    step = 0
    lam = objective_kwargs["lam"]
    while True:
        for Xb, Yb in shuffled_batches(X, Y, batch_size, rng):
            # The penalty is scaled so that each batch gradient is an unbiased
            # estimate of the full regularised gradient.  An Objective per batch
            # checks only this batch, O(batch): a small fraction of evaluating it.
            batch = Objective(Xb, Yb, run.objective.layer_sizes,
                              **dict(objective_kwargs, lam=lam * Xb.shape[0] / m))
            J, g = batch(theta)
            run.n_batch_evals += 1
            if not np.isfinite(J):
                raise StopTraining("the mini-batch cost became NaN or infinite (learning rate "
                                   "too large?)")
            step += 1
            if method == "sgd":
                velocity *= momentum
                velocity -= learning_rate * g
                theta += velocity
            else:  # adam
                velocity *= momentum
                velocity += (1 - momentum) * g
                second *= _ADAM_BETA2
                second += (1 - _ADAM_BETA2) * g * g
                vhat = velocity / (1 - momentum ** step)
                shat = second / (1 - _ADAM_BETA2 ** step)
                theta -= learning_rate * vhat / (np.sqrt(shat) + _ADAM_EPS)
        run.next_iteration(theta)
