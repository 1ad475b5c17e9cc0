"""What :func:`nnfast.train` returns, and what its per-iteration callback receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np


@dataclass
class IterationInfo:
    """What a per-iteration ``callback`` receives.

    Attributes
    ----------
    iteration : int
        1 for the first completed iteration.
    theta : ndarray of shape (n_params,), float64
        The current parameters (read-only view: copy it to keep it).
    cost : float
        Regularised training cost at ``theta``.
    val_cost, val_accuracy : float or None
        On the validation set, when one was given (no accuracy for regression).
    n_evals : int
        Cost/gradient evaluations on the full training set so far.
    elapsed : float
        Seconds since training started.
    """

    iteration: int
    theta: np.ndarray = field(repr=False)
    cost: float
    val_cost: Optional[float]
    val_accuracy: Optional[float]
    n_evals: int
    elapsed: float


@dataclass
class TrainResult:
    """Outcome of :func:`train`.

    Attributes
    ----------
    theta : ndarray of shape (n_params,), float64
        Final parameters (after the last completed iteration).
    best_theta : ndarray of shape (n_params,), float64
        Parameters with the lowest validation cost seen (lowest training cost
        without a validation set), at iteration ``best_iteration``.
    best_iteration : int
    cost_history : ndarray of shape (n_iter + 1,)
        Regularised training cost; entry 0 is at the starting point.
    val_cost_history, val_accuracy_history : ndarray of shape (n_iter + 1,) or None
        Unregularised cost (the same stable loss as training) and accuracy on
        the validation set (no accuracy for a regression network).
    train_accuracy : float or None
        Accuracy of :attr:`theta` on the training data (None when trained on a
        dask cluster, where the data is not local, and for regression).
    train_rmse, train_r2 : float or None
        For a regression network (``output="identity"``): root-mean-square error
        and R² of :attr:`theta`'s outputs on the training data (None otherwise,
        and on a dask cluster).
    n_iter : int
        Completed iterations (see :mod:`nnfast.training` for what one is).
    n_evals : int
        Cost/gradient evaluations on the full training set.
    n_batch_evals : int
        Mini-batch gradient evaluations (``"sgd"`` and ``"adam"``; 0 otherwise).
    stop_reason : str
        Why training stopped, in plain words.
    converged : bool
        True when the method's own convergence test stopped it.
    wall_time : float
        Seconds, including validation and callbacks.
    method, layer_sizes, lam, loss, backend, dtype, random_state
        How it was trained (``backend`` is the resolved name, ``loss`` the
        loss the output was trained with).
    activations : tuple of str
        The activation of each hidden layer (all "logistic" for ex4).
    output : str
        The output layer: "logistic" (ex4), "softmax" or "identity" (regression).
    optimizer_result : scipy.optimize.OptimizeResult or None
        scipy's own result when scipy ran to its own end.
    """

    theta: np.ndarray
    best_theta: np.ndarray
    best_iteration: int
    cost_history: np.ndarray
    val_cost_history: Optional[np.ndarray]
    val_accuracy_history: Optional[np.ndarray]
    n_iter: int
    n_evals: int
    n_batch_evals: int
    stop_reason: str
    converged: bool
    wall_time: float
    method: str
    layer_sizes: tuple
    lam: float
    loss: str
    backend: str
    dtype: str
    random_state: Any = None
    optimizer_result: Any = field(default=None, repr=False)
    train_accuracy: Optional[float] = None
    activations: tuple = ()
    output: str = "logistic"
    train_rmse: Optional[float] = None
    train_r2: Optional[float] = None

    def __post_init__(self):
        if not self.activations:  # a result built without them is ex4's network
            self.activations = ("logistic",) * (len(self.layer_sizes) - 2)

    def __repr__(self):
        # the arrays (thousands of weights) stay in the attributes; a repr is one line
        return (f"TrainResult(method={self.method!r}, layer_sizes={list(self.layer_sizes)}, "
                f"lam={self.lam:g}, n_iter={self.n_iter}, n_evals={self.n_evals}, "
                f"final_cost={self.final_cost:.6g}, converged={self.converged}, "
                f"wall_time={self.wall_time:.2f}s)")

    def __str__(self):
        return self.summary()

    @property
    def final_cost(self) -> float:
        """Regularised training cost at :attr:`theta`."""
        return float(self.cost_history[-1])

    @property
    def is_regression(self) -> bool:
        """True for a regression network (identity outputs)."""
        return self.output == "identity"

    def predict_proba(self, X, best=False, backend="auto"):
        """Output activations, shape (m, n_out), of the final (or best) parameters."""
        from ..api import predict_proba

        return predict_proba(self.best_theta if best else self.theta, X, self.layer_sizes,
                             backend=backend, dtype=self.dtype, activation=self.activations,
                             output=self.output)

    def predict(self, X, best=False, backend="auto"):
        """Class index of each row of ``X``, shape (m,); for regression the network's
        values, shape (m,) with one output, else (m, n_out)."""
        h = self.predict_proba(X, best, backend)
        if self.is_regression:
            return h[:, 0] if h.shape[1] == 1 else h
        return np.argmax(h, axis=1)

    def accuracy(self, X, y, best=False) -> float:
        """Fraction of rows of ``X`` whose predicted class index equals ``y``, shape (m,)."""
        if self.is_regression:
            raise ValueError("accuracy() is for classification; this network is a regression "
                             "one (output='identity'): use regression_scores(X, y)")
        return float(np.mean(self.predict(X, best) == np.asarray(y)))

    def regression_scores(self, X, y, best=False):
        """RMSE and R² of the network's values on ``(X, y)`` (a regression network).

        Returns
        -------
        nnfast.evaluation.RegressionEvaluation
        """
        from ..evaluation import regression_scores

        if not self.is_regression:
            raise ValueError(f"regression_scores() is for regression (output='identity'); "
                             f"this network has output={self.output!r}: use accuracy(X, y)")
        return regression_scores(y, self.predict(X, best))

    def summary(self, val_label: str = "validation") -> str:
        """A few lines: method, iterations, evaluations, time, cost, accuracy, stop reason.

        This is what ``print(result)`` shows.  ``val_label`` names the monitored set
        (e.g. ``"held-out test"`` when it was a test split rather than a validation one).
        """
        from .._activations import describe

        lines = [
            f"method {self.method}, layer sizes {list(self.layer_sizes)}, lambda {self.lam:g}, "
            f"network {describe(self.activations, self.output, self.loss)}, "
            f"backend {self.backend}, dtype {self.dtype}",
            f"{self.n_iter} iterations, {self.n_evals} cost/gradient evaluations"
            + (f", {self.n_batch_evals} mini-batch evaluations" if self.n_batch_evals else "")
            + f", {self.wall_time:.2f} s",
            f"cost {self.cost_history[0]:.6f} -> {self.final_cost:.6f}"
            f" (best at iteration {self.best_iteration})",
        ]
        if self.train_accuracy is not None:
            lines.append(f"training accuracy {100 * self.train_accuracy:.2f}%")
        if self.train_rmse is not None:
            lines.append(f"training RMSE {self.train_rmse:.6g}, R^2 {self.train_r2:.4f}")
        if self.val_accuracy_history is not None:
            lines.append(f"{val_label}: cost {self.val_cost_history[-1]:.6f}, accuracy "
                         f"{100 * self.val_accuracy_history[-1]:.2f}%")
        elif self.val_cost_history is not None:
            lines.append(f"{val_label}: cost {self.val_cost_history[-1]:.6f}")
        lines.append(f"stopped: {self.stop_reason}")
        return "\n".join(lines)
