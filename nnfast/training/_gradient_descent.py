"""Batch gradient descent with optional momentum (``method="gd"``)."""

from __future__ import annotations

import numpy as np

from ._stopping import StopTraining


def run_gradient_descent(run, theta, learning_rate, momentum, tol):
    """Step until ``run`` stops it (``max_iter``, ...) or the gradient falls below ``tol``."""
    theta = np.array(theta, dtype=np.float64)
    J, g = run.evaluate(theta)
    run.record(theta, J)
    velocity = np.zeros_like(theta)
    while True:
        if tol is not None and np.max(np.abs(g)) <= tol:
            raise StopTraining(f"converged: the largest gradient component fell below tol={tol}",
                               converged=True)
        velocity *= momentum
        velocity -= learning_rate * g
        theta = theta + velocity
        J, g = run.evaluate(theta)
        run.next_iteration(theta, J)
