"""Mini-batch methods: SGD with momentum (``"sgd"``) and Adam (``"adam"``)."""

from __future__ import annotations

import numpy as np

from .._weighted import WeightedObjective
from ..objective import Objective
from ._stopping import StopTraining

_ADAM_BETA2 = 0.999
_ADAM_EPS = 1e-8


def shuffled_batches(X, Y, batch_size, rng, sample_weight=None):
    """Contiguous mini-batches ``(X, Y, weights or None)`` of a fresh shuffle (one copy of X
    per epoch)."""
    perm = rng.permutation(X.shape[0])
    Xs, Ys = X[perm], Y[perm]
    ws = None if sample_weight is None else sample_weight[perm]
    for start in range(0, X.shape[0], batch_size):
        rows = slice(start, start + batch_size)
        yield Xs[rows], Ys[rows], None if ws is None else ws[rows]


def run_minibatch(run, method, theta, X, Y, batch_size, learning_rate, momentum, rng,
                  objective_kwargs, sample_weight=None):
    """One epoch per iteration until ``run`` stops it; ``X``, ``Y`` checked, working dtype;
    ``sample_weight`` checked (``nnfast._weighted``) or None."""
    theta = np.array(theta, dtype=np.float64)
    m = X.shape[0]
    run.record(theta)
    velocity = np.zeros_like(theta)
    second = np.zeros_like(theta)
    step = 0
    lam = objective_kwargs["lam"]
    total_weight = m if sample_weight is None else float(sample_weight.sum())
    while True:
        for Xb, Yb, wb in shuffled_batches(X, Y, batch_size, rng, sample_weight):
            # The penalty is scaled so that each batch gradient is an unbiased
            # estimate of the full regularised gradient.  An Objective per batch
            # checks only this batch, O(batch): a small fraction of evaluating it.
            if wb is None:
                batch = Objective(Xb, Yb, run.objective.layer_sizes,
                                  **dict(objective_kwargs, lam=lam * Xb.shape[0] / m))
            elif wb.sum() > 0:
                batch = WeightedObjective(Xb, Yb, run.objective.layer_sizes, wb,
                                          **dict(objective_kwargs,
                                                 lam=lam * wb.sum() / total_weight))
            else:  # every example of this batch has weight 0: nothing to learn from
                continue
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
