"""The bookkeeping of one training run, shared by every method: history, best point, stops."""

from __future__ import annotations

import math
import sys
import time
from typing import List

import numpy as np

from ._evaluations import CountingObjective
from ._results import IterationInfo
from ._stopping import StopTraining


class TrainingRun:
    """Records each iterate and decides when training stops.

    Per iteration it records the training cost (and the validation cost and
    accuracy), keeps the best point, moves the progress bar, calls the
    callback, and raises :class:`StopTraining` for the callback, early
    stopping or ``max_iter``.  Iteration 0 is the starting point.

    Parameters
    ----------
    objective : Objective or DistributedObjective
        Evaluated through :attr:`evaluate`, a :class:`CountingObjective`.
    scorer : DatasetScorer or None
        Scores the validation set.
    max_iter, max_fun, early_stopping, patience, callback, progress, method
        As given to :func:`nnfast.train` (checked).
    """

    def __init__(self, objective, scorer, max_iter, max_fun, early_stopping, patience, callback,
                 progress, method):
        self.objective = objective
        self.scorer = scorer
        self.evaluate = CountingObjective(objective, max_fun, lambda: self.n_iter)
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.patience = patience
        self.callback = callback
        self.t0 = time.perf_counter()
        self.n_batch_evals = 0
        self.n_iter = 0
        self.costs: List[float] = []
        self.val_costs: List[float] = []
        self.val_accs: List[float] = []
        self.best = (math.inf, None, 0)  # (criterion, theta, iteration)
        self.since_best = 0
        self.theta = None  # last completed iterate
        self.bar = _progress_bar(progress, max_iter, method)

    @property
    def n_evals(self):
        """Cost/gradient evaluations on the full training set so far."""
        return self.evaluate.n_evals

    def record(self, theta, J=None, check_budget=True):
        """Record the iterate ``theta`` (iteration ``self.n_iter``; 0 is the start)."""
        if J is None:
            J = self.evaluate.cost(theta)
        if not np.isfinite(J):
            raise StopTraining("the cost became NaN or infinite (for gd/sgd/adam the learning "
                               "rate is probably too large)")
        self.theta = np.array(theta, dtype=np.float64)
        self.costs.append(float(J))
        val_cost = val_acc = None
        if self.scorer is not None:
            val_cost, val_acc = self.scorer(theta)
            self.val_costs.append(val_cost)
            self.val_accs.append(val_acc)
        criterion = val_cost if self.scorer is not None else float(J)
        if criterion < self.best[0]:
            self.best = (criterion, self.theta, self.n_iter)
            self.since_best = 0
        else:
            self.since_best += 1
        if self.n_iter == 0:
            return
        self._report(J, val_cost, val_acc)
        if self.early_stopping and self.since_best >= self.patience:
            raise StopTraining(f"early stopping: the validation cost did not improve for "
                               f"{self.patience} iterations (best at iteration {self.best[2]})")
        if check_budget and self.n_iter >= self.max_iter:
            raise StopTraining(f"max_iter={self.max_iter} iterations done")

    def _report(self, J, val_cost, val_acc):
        """Progress bar and callback after a completed iteration."""
        elapsed = time.perf_counter() - self.t0
        if self.bar is not None:
            postfix = {"cost": f"{J:.4f}"}
            if val_acc is not None:
                postfix["val_acc"] = f"{val_acc:.4f}"
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(1)
        if self.callback is not None:
            view = self.theta.view()
            view.flags.writeable = False
            info = IterationInfo(self.n_iter, view, float(J), val_cost, val_acc, self.n_evals,
                                 elapsed)
            if self.callback(info):
                raise StopTraining(f"the callback asked to stop after iteration {self.n_iter}")

    def next_iteration(self, theta, J=None):
        """Record ``theta`` as the next completed iteration."""
        self.n_iter += 1
        self.record(theta, J)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _progress_bar(progress, total, method):
    show = sys.stderr.isatty() if progress is None else bool(progress)
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"nnfast {method}", unit="it", file=sys.stderr,
                leave=True, dynamic_ncols=True)
