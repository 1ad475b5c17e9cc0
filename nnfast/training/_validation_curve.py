"""The λ sweep: :func:`validation_curve` and the :class:`ValidationCurve` it returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._activations import check_activations, check_head
from .._network import check_layer_sizes, n_params
from .._validation import check_lam, check_theta
from ._arguments import check_validation_pair
from ._scoring import DatasetScorer


@dataclass
class ValidationCurve:
    """Outcome of :func:`validation_curve`, one entry per λ (in the order given).

    Attributes
    ----------
    lams : ndarray of shape (k,)
    train_accuracy, val_accuracy : ndarray of shape (k,)
        ``val_*`` are NaN without a validation set; both are NaN for a
        regression network (``output="identity"``), which has no accuracy.
    train_cost, val_cost : ndarray of shape (k,)
        Unregularised cost (λ = 0) of the fitted network, so that different
        λ compare on the same scale.
    objective : ndarray of shape (k,)
        The regularised cost each fit minimised, at its end.
    results : list of TrainResult

    ``print(curve)`` shows :meth:`table`; the repr is one line.
    """

    lams: np.ndarray
    train_accuracy: np.ndarray
    val_accuracy: np.ndarray
    train_cost: np.ndarray
    val_cost: np.ndarray
    objective: np.ndarray
    results: list

    def __repr__(self):
        return (f"ValidationCurve(lams={[float(v) for v in self.lams]}, "
                f"best_lam={self.best_lam:g}, fits={len(self.results)})")

    def __str__(self):
        return self.table()

    @property
    def best_lam(self) -> float:
        """λ with the highest validation accuracy (training accuracy without validation);
        for regression, which has no accuracy, the lowest validation (else training) cost."""
        if np.all(np.isnan(self.train_accuracy)):
            costs = self.val_cost if not np.all(np.isnan(self.val_cost)) else self.train_cost
            return float(self.lams[int(np.nanargmin(costs))])
        scores = self.val_accuracy if not np.all(np.isnan(self.val_accuracy)) else self.train_accuracy
        return float(self.lams[int(np.nanargmax(scores))])

    def table(self) -> str:
        """A plain-text table, one row per λ."""
        lines = [f"{'lambda':>10} {'train acc':>10} {'val acc':>10} {'train cost':>11} "
                 f"{'val cost':>10} {'objective':>10} {'iters':>6}"]
        for i, lam in enumerate(self.lams):
            lines.append(f"{lam:>10g} {100 * self.train_accuracy[i]:>9.2f}% "
                         f"{100 * self.val_accuracy[i]:>9.2f}% {self.train_cost[i]:>11.5f} "
                         f"{self.val_cost[i]:>10.5f} {self.objective[i]:>10.5f} "
                         f"{self.results[i].n_iter:>6d}")
        return "\n".join(lines)


def validation_curve(X, y, layer_sizes, lams=(0.0, 1.0, 50.0), validation=None,
                     warm_start=True, **train_kwargs) -> ValidationCurve:
    """Train for each λ in ``lams`` and report accuracy and cost on training and validation data.

    Parameters
    ----------
    X : array-like of shape (m, n_in)
    y : array-like of shape (m,)
        Class indices (real-valued targets for ``output="identity"``).
    layer_sizes : sequence of int
    lams : sequence of float, default (0, 1, 50)
        The λ values, trained in this order.
    validation : tuple (X_val, y_val) or None
    warm_start : bool, default True
        Start each fit from the previous fit's parameters (the first from
        ``train_kwargs.get("theta0")`` or random weights).
    **train_kwargs
        Passed to :func:`nnfast.train` (``method``, ``max_iter``, ``random_state``,
        ``backend``, ``activation``, ``output``...).

    Returns
    -------
    curve : ValidationCurve
    """
    if isinstance(lams, (str, bytes)) or not hasattr(lams, "__len__"):
        raise TypeError(f"lams must be a sequence of numbers >= 0 such as (0, 1, 50), got {lams!r}")
    # element by element, so that a bad entry is named (np.asarray would turn a mixed
    # list into strings, or fail without saying which entry)
    values = np.ravel(lams).tolist() if isinstance(lams, np.ndarray) else list(lams)
    lams = np.array([check_lam(v, name=f"lams[{i}]") for i, v in enumerate(values)],
                    dtype=np.float64)
    if lams.size == 0:
        raise ValueError("lams must hold at least one value of λ")
    for key in ("lam", "validation"):
        if key in train_kwargs:
            raise TypeError(f"validation_curve() sets {key!r} itself; do not pass it")
    check_validation_pair(validation)
    sizes = check_layer_sizes(layer_sizes)
    theta0 = train_kwargs.pop("theta0", None)
    if theta0 is not None:  # before anything of the network's size is built
        theta0 = check_theta(theta0, n_params(sizes), np.float64, sizes, name="theta0")
    network = dict(activation=check_activations(train_kwargs.get("activation", "logistic"),
                                                len(sizes) - 2),
                   output=train_kwargs.get("output", "logistic"))
    output, loss = check_head(network["output"], train_kwargs.get("loss"))
    held_out = [loss, train_kwargs.get("backend", "auto"), train_kwargs.get("n_threads"),
                train_kwargs.get("dtype")]
    # unregularised cost and accuracy of each fit, on the training and validation data
    on_train = DatasetScorer(X, y, sizes, *held_out, names=("X", "y"), **network)
    on_val = None if validation is None else DatasetScorer(validation[0], validation[1], sizes,
                                                           *held_out, **network)
    # looked up on the package at call time, so that a wrapper installed as
    # nnfast.training.train (a test's spy) sees every fit of the sweep
    from . import train

    results, rows = [], []
    for lam in lams:
        res = train(X, y, sizes, lam=float(lam), validation=validation, theta0=theta0,
                    **train_kwargs)
        results.append(res)
        if warm_start:
            theta0 = res.theta
        train_cost, train_acc = on_train(res.theta)
        val_cost, val_acc = (np.nan, np.nan) if on_val is None else on_val(res.theta)
        rows.append([train_acc, val_acc, train_cost, val_cost, res.final_cost])
    # a regression network has no accuracy: None becomes NaN
    rows = np.array(rows, dtype=np.float64)
    return ValidationCurve(lams=lams, train_accuracy=rows[:, 0], val_accuracy=rows[:, 1],
                           train_cost=rows[:, 2], val_cost=rows[:, 3], objective=rows[:, 4],
                           results=results)
