"""Evaluation of a trained network: accuracy, per-class report, confusion matrix, backend timing.

A regression network (identity outputs) has no classes: :func:`regression_scores`
gives its root-mean-square error and R² instead.

The metrics come from :mod:`sklearn.metrics`; the functions here take either
predicted labels or ``(theta, layer_sizes)`` and data, and return plain
NumPy/Python values that the report and the plots use.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

__all__ = ["accuracy", "classification_report", "confusion_matrix", "per_class_scores",
           "evaluate", "Evaluation", "regression_scores", "RegressionEvaluation",
           "compare_backends", "format_backend_table"]


def _labels_1d(y, name):
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of labels, got shape {y.shape}")
    return y


def _pair(y_true, y_pred):
    y_true, y_pred = _labels_1d(y_true, "y_true"), _labels_1d(y_pred, "y_pred")
    if y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(f"y_true has {y_true.shape[0]} labels but y_pred has {y_pred.shape[0]}")
    if y_true.shape[0] == 0:
        raise ValueError("cannot evaluate on zero examples")
    return y_true, y_pred


def accuracy(y_true, y_pred) -> float:
    """Fraction of equal labels.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (m,)

    Returns
    -------
    accuracy : float in [0, 1]
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def confusion_matrix(y_true, y_pred, labels=None) -> np.ndarray:
    """Counts ``C[i, j]`` of examples of class ``labels[i]`` predicted as ``labels[j]``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (m,)
    labels : array-like of shape (k,), optional
        Row/column order; default the sorted union of both.

    Returns
    -------
    C : ndarray of shape (k, k), int64
    """
    from sklearn.metrics import confusion_matrix as _cm

    y_true, y_pred = _pair(y_true, y_pred)
    return _cm(y_true, y_pred, labels=labels).astype(np.int64)


def per_class_scores(y_true, y_pred, labels=None) -> Dict[str, np.ndarray]:
    """Precision, recall, F1 and support of each class.

    Returns
    -------
    scores : dict with "labels" (k,), "precision" (k,), "recall" (k,), "f1" (k,), "support" (k,)
    """
    from sklearn.metrics import precision_recall_fscore_support

    y_true, y_pred = _pair(y_true, y_pred)
    if labels is None:
        labels = np.unique(np.concatenate([y_true, y_pred]))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {"labels": np.asarray(labels), "precision": p, "recall": r, "f1": f, "support": s}


def classification_report(y_true, y_pred, labels=None, target_names=None, digits=3) -> str:
    """Text table of per-class precision, recall, F1 and support (sklearn's report).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (m,)
    labels : array-like of shape (k,), optional
    target_names : list of str, optional
        Display names of ``labels`` (e.g. the digit each ex4 class index stands for).
    digits : int, default 3
    """
    from sklearn.metrics import classification_report as _report

    y_true, y_pred = _pair(y_true, y_pred)
    if target_names is not None:
        target_names = [str(t) for t in target_names]
    return _report(y_true, y_pred, labels=labels, target_names=target_names, digits=digits,
                   zero_division=0)


@dataclass
class Evaluation:
    """Metrics of one model on one data set.

    Attributes
    ----------
    accuracy : float
    confusion : ndarray of shape (k, k), int64
    labels : ndarray of shape (k,)
    report : str
        sklearn's classification report.
    scores : dict
        :func:`per_class_scores`.
    cost : float or None
        Unregularised cost on the data, when computed from parameters.
    """

    accuracy: float
    confusion: np.ndarray
    labels: np.ndarray
    report: str
    scores: dict
    cost: Optional[float] = None

    def __repr__(self):
        # the report and the confusion matrix are in the attributes and in str()
        return (f"Evaluation(accuracy={self.accuracy:.4f}, classes={len(self.labels)}, "
                f"examples={int(np.sum(self.confusion))}"
                + (f", cost={self.cost:.6g}" if self.cost is not None else "") + ")")

    def __str__(self):
        text = f"accuracy: {100 * self.accuracy:.2f}%"
        if self.cost is not None:
            text += f"   cost (no regularisation): {self.cost:.6f}"
        return text + "\n\n" + self.report + "\nconfusion matrix (rows: true, columns: predicted)\n" \
            + format_confusion(self.confusion, self.labels)


def format_confusion(C, labels) -> str:
    """The confusion matrix as a text table with row and column labels."""
    labels = [str(label) for label in labels]
    width = max(max(len(label) for label in labels), len(str(int(np.max(C)))) if C.size else 1) + 1
    head = " " * width + "".join(f"{label:>{width}}" for label in labels)
    rows = [f"{label:>{width}}" + "".join(f"{int(v):>{width}}" for v in row)
            for label, row in zip(labels, C)]
    return "\n".join([head] + rows)


def evaluate(y_true, y_pred, labels=None, target_names=None, cost=None) -> Evaluation:
    """All metrics at once.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (m,)
    labels : array-like of shape (k,), optional
    target_names : sequence of str, optional
        Names shown in the report for ``labels``.
    cost : float, optional
        Stored as is.

    Returns
    -------
    evaluation : Evaluation
    """
    y_true, y_pred = _pair(y_true, y_pred)
    if labels is None:
        labels = np.unique(np.concatenate([y_true, y_pred]))
    return Evaluation(
        accuracy=accuracy(y_true, y_pred), confusion=confusion_matrix(y_true, y_pred, labels),
        labels=np.asarray(labels),
        report=classification_report(y_true, y_pred, labels=labels, target_names=target_names),
        scores=per_class_scores(y_true, y_pred, labels), cost=cost)


@dataclass
class RegressionEvaluation:
    """Fit of a regression network's outputs on one data set.

    Attributes
    ----------
    rmse : float
        Root-mean-square error over every example and output.
    r2 : float
        Coefficient of determination, averaged over the outputs (scikit-learn's
        ``r2_score``): 1 is a perfect fit, 0 is no better than predicting the mean.
    n : int
        Examples scored.
    cost : float or None
        Unregularised cost on the data, when computed from parameters.
    """

    rmse: float
    r2: float
    n: int
    cost: Optional[float] = None

    def __str__(self):
        text = f"RMSE: {self.rmse:.6g}   R^2: {self.r2:.4f}   ({self.n} examples)"
        if self.cost is not None:
            text += f"   cost (no regularisation): {self.cost:.6f}"
        return text


def regression_scores(y_true, y_pred, cost=None) -> RegressionEvaluation:
    """RMSE and R² of predictions against real-valued targets.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (m,) or (m, n_out)
        Of the same size; a one-column matrix and a vector compare alike.
    cost : float, optional
        Stored as is.

    Returns
    -------
    evaluation : RegressionEvaluation
    """
    from sklearn.metrics import r2_score

    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.ndim == 1:
        y_true = y_true[:, None]
    if y_pred.ndim == 1:
        y_pred = y_pred[:, None]
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has {y_pred.shape}")
    if y_true.shape[0] == 0:
        raise ValueError("cannot evaluate on zero examples")
    rmse = float(np.sqrt(np.mean((y_pred - y_true) ** 2)))
    # R² is undefined on one example (no spread to explain)
    r2 = float(r2_score(y_true, y_pred)) if y_true.shape[0] > 1 else float("nan")
    return RegressionEvaluation(rmse=rmse, r2=r2, n=int(y_true.shape[0]), cost=cost)


# ---------------------------------------------------------------------------------------
# backend comparison


def compare_backends(X, y, layer_sizes, lam=1.0, loss=None, backends=None,
                     n_threads=None, dtype=None, min_time=0.3, max_repeats=50,
                     random_state=0, activation="logistic", output="logistic") -> List[dict]:
    """Time one cost+gradient evaluation of each backend on the same data.

    Each backend gets an :class:`nnfast.Objective` (its preparation is timed
    separately), one untimed warm-up call (JIT compilation shows up in
    ``first_ms``), then calls until ``min_time`` seconds or ``max_repeats``.
    A backend slower than ``min_time`` per call is timed once.

    Parameters
    ----------
    X : array-like of shape (m, n_in)
    y : array-like of shape (m,)
    layer_sizes : sequence of int
    loss, activation, output
        As for :class:`nnfast.Objective` (``loss=None``: the output's own loss).
    backends : sequence of str, optional
        Default: ``nnfast.available_backends()``; a backend without this network
        (only ex4's) is reported as failed.
    min_time : float, default 0.3
    max_repeats : int, default 50

    Returns
    -------
    rows : list of dict
        Keys ``backend``, ``prepare_ms``, ``first_ms``, ``median_ms``, ``repeats``,
        ``speedup`` (reference median / this median, so > 1 is faster; the
        reference is "numpy" when it ran, else the first backend that ran),
        ``cost_diff``, ``grad_diff`` (max abs difference from the reference),
        ``reference``, ``error`` (str or None).
    """
    import nnfast
    from nnfast.bench import time_calls

    if backends is None:
        backends = nnfast.available_backends()
    theta = nnfast.init_theta(layer_sizes, epsilon="auto", random_state=random_state)
    rows = []
    for name in backends:
        row = {"backend": name, "prepare_ms": np.nan, "first_ms": np.nan, "median_ms": np.nan,
               "repeats": 0, "speedup": np.nan, "cost_diff": np.nan, "grad_diff": np.nan,
               "error": None}
        try:
            t = time.perf_counter()
            obj = nnfast.Objective(X, y, layer_sizes, lam=lam, loss=loss, backend=name,
                                   n_threads=n_threads, dtype=dtype, activation=activation,
                                   output=output)
            row["prepare_ms"] = 1e3 * (time.perf_counter() - t)
            t = time.perf_counter()
            J, g = obj(theta)
            row["first_ms"] = 1e3 * (time.perf_counter() - t)
            times = time_calls(obj, theta, repeat=1, min_time=min_time, max_calls=max_repeats)
            row["median_ms"] = 1e3 * float(np.median(times))
            row["repeats"] = len(times)
            row["_J"], row["_g"] = J, g
        except Exception as exc:  # a backend that fails is reported, not fatal
            row["error"] = f"{type(exc).__name__}: {exc}"
        rows.append(row)
    ok = [r for r in rows if r["error"] is None]
    if ok:
        ref = next((r for r in ok if r["backend"] == "numpy"), ok[0])
        for r in ok:
            r["speedup"] = ref["median_ms"] / r["median_ms"]
            r["cost_diff"] = abs(r["_J"] - ref["_J"])
            r["grad_diff"] = float(np.max(np.abs(r["_g"] - ref["_g"])))
        for r in rows:
            r["reference"] = ref["backend"]
    for r in rows:
        r.pop("_J", None)
        r.pop("_g", None)
    return rows


def format_backend_table(rows: Sequence[dict]) -> str:
    """:func:`compare_backends` rows as a plain-text table."""
    ref = next((r.get("reference") for r in rows if r.get("reference")), "?")
    lines = [f"{'backend':<10} {'prepare ms':>10} {'first ms':>10} {'median ms':>10} "
             f"{'runs':>5} {'vs ' + ref:>10} {'|dJ|':>9} {'max|dgrad|':>10}"]
    for r in rows:
        if r["error"]:
            lines.append(f"{r['backend']:<10} failed: {r['error']}")
            continue
        lines.append(f"{r['backend']:<10} {r['prepare_ms']:>10.2f} {r['first_ms']:>10.2f} "
                     f"{r['median_ms']:>10.3f} {r['repeats']:>5d} {r['speedup']:>9.2f}x "
                     f"{r['cost_diff']:>9.1e} {r['grad_diff']:>10.1e}")
    return "\n".join(lines)
