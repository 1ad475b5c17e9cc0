"""The training objective as the optimisers call it: counted, budgeted and cached."""

from __future__ import annotations

import numpy as np

from ..objective import l2_mask
from ._stopping import StopTraining

#: costs remembered by point: TNC's accepted point can be many line-search steps back
_REMEMBERED_COSTS = 64


class CountingObjective:
    """Cost/gradient evaluations on the full training set, for one training run.

    Counts the evaluations (:attr:`n_evals`), refuses any beyond ``max_fun``,
    and stops the run (:class:`StopTraining`) on NaN or infinite values.
    Recording an iterate the optimiser has already evaluated costs nothing:
    the costs of the last few points are remembered, and the last gradient
    for a repeated call at the same point.

    Parameters
    ----------
    objective : Objective or DistributedObjective
    max_fun : int or None
    iterations_done : callable
        Returns the completed iterations, for the messages.
    """

    def __init__(self, objective, max_fun, iterations_done):
        self.objective = objective
        self.max_fun = max_fun
        self.iterations_done = iterations_done
        self.n_evals = 0
        self.costs_seen = {}  # key -> J
        self.last = None  # (key, J, grad)

    @staticmethod
    def _key(theta):
        return hash(np.ascontiguousarray(theta, dtype=np.float64).tobytes())

    def _remember(self, key, J):
        self.costs_seen[key] = J
        if len(self.costs_seen) > _REMEMBERED_COSTS:
            del self.costs_seen[next(iter(self.costs_seen))]

    def start(self, theta0, lam):
        """(J, grad) at the starting point, which must be usable by every optimiser.

        A cost or gradient that is not finite there (or a gradient whose squared
        norm, which every optimiser computes, overflows) is the caller's error,
        not a reason to stop: it raises a ValueError saying what is too large.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            J, g = self.objective(theta0)
            grad_sq = float(np.sum(g * g))
        self.n_evals += 1
        if not (np.isfinite(J) and np.isfinite(grad_sq)):
            raise ValueError(_unusable_start(theta0, J, grad_sq, lam, self.objective))
        key = self._key(theta0)
        self.last = (key, J, g.copy())
        self._remember(key, J)
        return J, g

    def __call__(self, theta):
        """(J, grad) on the full training set; counts evaluations, enforces max_fun."""
        if not np.all(np.isfinite(theta)):
            # the optimiser's own arithmetic overflowed (steps scaled by a huge gradient)
            raise StopTraining(f"the optimiser stepped to NaN or infinite parameters after "
                               f"iteration {self.iterations_done()}: the cost is too steep for "
                               f"float64 arithmetic (a very large lam, learning rate or input "
                               f"scale causes this)")
        key = self._key(theta)
        if self.last is not None and self.last[0] == key:
            return self.last[1], self.last[2].copy()
        if self.max_fun is not None and self.n_evals >= self.max_fun:
            raise StopTraining(f"the budget of max_fun={self.max_fun} cost/gradient evaluations "
                               "was used up before convergence")
        with np.errstate(over="ignore", invalid="ignore"):  # non-finite results are caught below
            J, g = self.objective(theta)
        self.n_evals += 1
        if not np.isfinite(J) or not np.all(np.isfinite(g)):
            raise StopTraining("the cost or gradient became NaN or infinite (for gd/sgd/adam the "
                               "learning rate is probably too large)")
        self.last = (key, J, g.copy())
        self._remember(key, J)
        return J, g

    def cost(self, theta):
        """J alone, from memory when ``theta`` was evaluated recently."""
        key = self._key(theta)
        if key in self.costs_seen:
            return self.costs_seen[key]
        J = self.objective.cost(theta)
        self.n_evals += 1
        self._remember(key, J)
        return J


def _unusable_start(theta0, J, grad_sq, lam, objective) -> str:
    """Why the starting point cannot be optimised from: lam's size, or the weights/data."""
    theta64 = np.asarray(theta0, dtype=np.float64)
    m = objective.m
    with np.errstate(over="ignore", invalid="ignore"):
        penalised = theta64 * l2_mask(objective.layer_sizes)
        # the penalty and its gradient as they would be at λ = 1: finite there means
        # that it is lam's size that makes them overflow
        unit_penalty = float(np.sum(penalised * penalised)) / (2.0 * m)
        unit_grad_sq = float(np.sum(np.square(penalised / m)))
        penalty_overflows = not (np.isfinite(lam * unit_penalty)
                                 and np.isfinite(lam * lam * unit_grad_sq))
    found = f"J = {J:.6g}, squared gradient norm {grad_sq:.6g}"
    if lam > 1 and penalty_overflows and np.isfinite(unit_penalty) and np.isfinite(unit_grad_sq):
        return (f"lam={lam:g} is too large: at the starting point theta0 the L2 penalty "
                f"λ/(2m)·Σθ² or its gradient overflows float64 ({found}); use a smaller lam "
                f"(ex4 uses 1)")
    return (f"the cost at the starting point theta0 is not finite or its gradient is too "
            f"large for an optimiser ({found}; largest |theta0| = "
            f"{float(np.max(np.abs(theta64))):.3g}): start from small weights "
            f"(nnfast.init_theta) and scale X to about [0, 1]")
