"""Training: scipy optimisers, gradient descent, mini-batch SGD and Adam.

:func:`train` minimises the regularised cost of an :class:`nnfast.Objective`
and returns a :class:`TrainResult`; :func:`validation_curve` trains for a list
of λ values, warm-starting each fit from the previous one.

The iteration budget
--------------------
``max_iter`` has one meaning for every method: the number of *iterations*,
where an iteration is one update of ``theta`` that uses the whole training
set once.  For ``"L-BFGS-B"``, ``"TNC"`` and ``"CG"`` that is one iteration of
the optimiser (scipy's ``nit``); for ``"gd"`` one gradient step; for
``"sgd"`` and ``"adam"`` one epoch (a pass over all mini-batches).  The cost
is recorded once per iteration.  ``max_fun`` additionally caps the number of
cost/gradient evaluations on the full training set (scipy's ``nfev``); the
line searches of the scipy methods use several evaluations per iteration.
The ``options={'maxiter': 400}`` of the ex4 notebooks, with TNC, is in fact a
budget of 400 *evaluations* (about 25-30 TNC iterations): that is
``method="TNC", max_fun=400`` here.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional

import numpy as np

from ._network import check_layer_sizes, check_network_memory, init_theta, n_params
from ._validation import check_lam, check_targets, check_theta, check_X
from .backends import Backend, optimizer_blas_limit
from .backends._base import blas_threads
from .objective import Objective, l2_mask

__all__ = ["train", "TrainResult", "IterationInfo", "validation_curve", "ValidationCurve",
           "METHODS"]

#: accepted method names (case-insensitive) -> canonical name
METHODS = {
    "l-bfgs-b": "L-BFGS-B", "lbfgs": "L-BFGS-B", "tnc": "TNC", "cg": "CG",
    "gd": "gd", "sgd": "sgd", "adam": "adam",
}
_SCIPY_METHODS = ("L-BFGS-B", "TNC", "CG")
_DEFAULT_LR = {"gd": 2.0, "sgd": 0.1, "adam": 0.01}
_ADAM_BETA2 = 0.999
_ADAM_EPS = 1e-8


# ---------------------------------------------------------------------------------------
# results


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
        On the validation set, when one was given.
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
        the validation set.
    train_accuracy : float or None
        Accuracy of :attr:`theta` on the training data (None when trained on a
        dask cluster, where the data is not local).
    n_iter : int
        Completed iterations (see the module docstring for what one is).
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
        How it was trained (``backend`` is the resolved name).
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

    def predict_proba(self, X, best=False, backend="auto"):
        """Output activations, shape (m, n_out), of the final (or best) parameters."""
        from .api import predict_proba

        return predict_proba(self.best_theta if best else self.theta, X, self.layer_sizes,
                             backend=backend, dtype=self.dtype)

    def predict(self, X, best=False, backend="auto"):
        """Class index of each row of ``X``, shape (m,)."""
        return np.argmax(self.predict_proba(X, best, backend), axis=1)

    def accuracy(self, X, y, best=False) -> float:
        """Fraction of rows of ``X`` whose predicted class index equals ``y``, shape (m,)."""
        return float(np.mean(self.predict(X, best) == np.asarray(y)))

    def summary(self, val_label: str = "validation") -> str:
        """A few lines: method, iterations, evaluations, time, cost, accuracy, stop reason.

        This is what ``print(result)`` shows.  ``val_label`` names the monitored set
        (e.g. ``"held-out test"`` when it was a test split rather than a validation one).
        """
        lines = [
            f"method {self.method}, layer sizes {list(self.layer_sizes)}, lambda {self.lam:g}, "
            f"loss {self.loss}, backend {self.backend}, dtype {self.dtype}",
            f"{self.n_iter} iterations, {self.n_evals} cost/gradient evaluations"
            + (f", {self.n_batch_evals} mini-batch evaluations" if self.n_batch_evals else "")
            + f", {self.wall_time:.2f} s",
            f"cost {self.cost_history[0]:.6f} -> {self.final_cost:.6f}"
            f" (best at iteration {self.best_iteration})",
        ]
        if self.train_accuracy is not None:
            lines.append(f"training accuracy {100 * self.train_accuracy:.2f}%")
        if self.val_accuracy_history is not None:
            lines.append(f"{val_label}: cost {self.val_cost_history[-1]:.6f}, accuracy "
                         f"{100 * self.val_accuracy_history[-1]:.2f}%")
        lines.append(f"stopped: {self.stop_reason}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# plain-words stop reasons

_TNC_REASONS = {
    -1: "TNC: infeasible bounds (lower bound above upper bound)",
    0: "converged: TNC found a local minimum (the projected gradient is about zero)",
    1: "converged: TNC saw the cost stop changing between iterations",
    2: "converged: TNC saw the parameters stop changing between iterations",
    3: "TNC used up its budget of cost/gradient evaluations (max_fun, scipy's maxfun) "
       "before converging: TNC counts evaluations, not iterations, and spends several per "
       "iteration; raise max_fun for a closer fit",
    4: "TNC's line search failed to find a lower cost (no progress along the search "
       "direction; often as close to a minimum as rounding allows)",
    5: "TNC: every parameter is fixed by its bounds",
    6: "TNC was unable to make progress",
    7: "TNC stopped on request",
}


def _explain_scipy(method, res) -> (str, bool):
    """Plain-words reason and whether it is a convergence, from scipy's OptimizeResult."""
    message = res.message.decode() if isinstance(res.message, bytes) else str(res.message)
    if method == "TNC" and int(res.status) in _TNC_REASONS:
        status = int(res.status)
        return f"{_TNC_REASONS[status]} [scipy: {message}]", status in (0, 1, 2)
    upper = message.upper()
    if "PROJECTED GRADIENT" in upper:
        return f"converged: the gradient is about zero (below gtol) [scipy: {message}]", True
    if "REDUCTION OF F" in upper:
        return (f"converged: the cost stopped decreasing (relative change below ftol) "
                f"[scipy: {message}]"), True
    if "ABNORMAL" in upper or "PRECISION LOSS" in upper:
        return (f"{method}'s line search could not find a lower cost: rounding limits further "
                f"progress (usually at or near a minimum; more likely in float32) "
                f"[scipy: {message}]"), False
    if method == "CG" and res.success:
        return f"converged: the gradient norm fell below gtol [scipy: {message}]", True
    if "NO. OF ITERATIONS" in upper or "MAXIMUM NUMBER OF ITERATIONS" in upper:
        return f"{method} reached its iteration limit [scipy: {message}]", False
    if "EVALUATIONS" in upper or "MAXFUN" in upper:
        return (f"{method} used up its budget of cost/gradient evaluations (max_fun) before "
                f"converging [scipy: {message}]"), False
    return f"{method} stopped: {message} (status {res.status})", bool(res.success)


class _Stop(Exception):
    """Raised inside the optimiser loop to end training; carries the plain-words reason."""

    def __init__(self, reason, converged=False):
        super().__init__(reason)
        self.reason = reason
        self.converged = converged


# ---------------------------------------------------------------------------------------
# the bookkeeping shared by every method


def _class_of_targets(Y) -> np.ndarray:
    """Class of each target row, shape (m,): the hot unit, or ``Y > 0.5`` for one output."""
    return np.argmax(Y, axis=1) if Y.shape[1] > 1 else (Y[:, 0] > 0.5)


def _forward_accuracy(objective, theta, X, classes) -> float:
    """Fraction of the rows of ``X`` whose predicted class is ``classes``, one forward pass."""
    h = objective.backend.forward(np.ascontiguousarray(theta, dtype=objective.dtype),
                                  objective.offsets, X, objective.n_threads)
    return float(np.mean(_class_of_targets(h) == classes))


class _Validation:
    """Unregularised cost and accuracy on a validation (or any fixed) data set.

    The cost comes from an :class:`Objective` with ``lam=0`` built once (the
    same stable loss as training, on the same backend); the accuracy from one
    forward pass.  ``names`` are the arguments named in error messages.
    """

    def __init__(self, X_val, y_val, sizes, loss, backend, n_threads, dtype,
                 names=("X_val", "y_val")):
        self.X = check_X(X_val, sizes[0], dtype, name=names[0])
        check_network_memory(sizes, self.X.shape[0], self.X.dtype.itemsize)  # before the targets
        Y = check_targets(y_val, self.X.shape[0], sizes[-1], self.X.dtype, name=names[1],
                          x_name=names[0])
        self.objective = Objective(self.X, Y, sizes, lam=0.0, loss=loss, backend=backend,
                                   n_threads=n_threads, dtype=dtype)
        self.classes = _class_of_targets(Y)

    def __call__(self, theta):
        return (self.objective.cost(theta),
                _forward_accuracy(self.objective, theta, self.X, self.classes))


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


class _Run:
    def __init__(self, objective, val, max_iter, max_fun, early_stopping, patience, callback,
                 progress, method):
        self.obj = objective
        self.val = val  # a _Validation or None
        self.max_iter = max_iter
        self.max_fun = max_fun
        self.early_stopping = early_stopping
        self.patience = patience
        self.callback = callback
        self.t0 = time.perf_counter()
        self.n_evals = 0
        self.n_batch_evals = 0
        self.n_iter = 0
        self.costs: List[float] = []
        self.val_costs: List[float] = []
        self.val_accs: List[float] = []
        self.best = (math.inf, None, 0)  # (criterion, theta, iteration)
        self.since_best = 0
        # Recent evaluations, so that recording an iterate the optimiser has
        # already evaluated costs nothing: key -> J for the last 64 points
        # (TNC's accepted point can be many line-search steps back), and the
        # last gradient for a repeated call at the same point.
        self.costs_seen = {}
        self.last = None  # (key, J, grad)
        self.theta = None  # last completed iterate
        self.bar = _progress_bar(progress, max_iter, method)

    # -- evaluations ---------------------------------------------------------------
    @staticmethod
    def _key(theta):
        return hash(np.ascontiguousarray(theta, dtype=np.float64).tobytes())

    def _remember(self, key, J):
        self.costs_seen[key] = J
        if len(self.costs_seen) > 64:
            del self.costs_seen[next(iter(self.costs_seen))]

    def start(self, theta0, lam):
        """(J, grad) at the starting point, which must be usable by every optimiser.

        A cost or gradient that is not finite there (or a gradient whose squared
        norm, which every optimiser computes, overflows) is the caller's error,
        not a reason to stop: it raises a ValueError saying what is too large.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            J, g = self.obj(theta0)
            grad_sq = float(np.sum(g * g))
        self.n_evals += 1
        if not (np.isfinite(J) and np.isfinite(grad_sq)):
            raise ValueError(_unusable_start(theta0, J, grad_sq, lam, self.obj))
        key = self._key(theta0)
        self.last = (key, J, g.copy())
        self._remember(key, J)
        return J, g

    def fun(self, theta):
        """(J, grad) on the full training set; counts evaluations, enforces max_fun."""
        if not np.all(np.isfinite(theta)):
            # the optimiser's own arithmetic overflowed (steps scaled by a huge gradient)
            raise _Stop(f"the optimiser stepped to NaN or infinite parameters after iteration "
                        f"{self.n_iter}: the cost is too steep for float64 arithmetic (a very "
                        f"large lam, learning rate or input scale causes this)")
        key = self._key(theta)
        if self.last is not None and self.last[0] == key:
            return self.last[1], self.last[2].copy()
        if self.max_fun is not None and self.n_evals >= self.max_fun:
            raise _Stop(f"the budget of max_fun={self.max_fun} cost/gradient evaluations "
                        "was used up before convergence")
        with np.errstate(over="ignore", invalid="ignore"):  # non-finite results are caught below
            J, g = self.obj(theta)
        self.n_evals += 1
        if not np.isfinite(J) or not np.all(np.isfinite(g)):
            raise _Stop("the cost or gradient became NaN or infinite (for gd/sgd/adam the "
                        "learning rate is probably too large)")
        self.last = (key, J, g.copy())
        self._remember(key, J)
        return J, g

    def cost_at(self, theta):
        key = self._key(theta)
        if key in self.costs_seen:
            return self.costs_seen[key]
        J = self.obj.cost(theta)
        self.n_evals += 1
        self._remember(key, J)
        return J

    # -- iterations ----------------------------------------------------------------
    def record(self, theta, J=None, check_budget=True):
        """Record the iterate ``theta`` (iteration ``self.n_iter``; 0 is the start)."""
        if J is None:
            J = self.cost_at(theta)
        if not np.isfinite(J):
            raise _Stop("the cost became NaN or infinite (for gd/sgd/adam the learning rate "
                        "is probably too large)")
        self.theta = np.array(theta, dtype=np.float64)
        self.costs.append(float(J))
        val_cost = val_acc = None
        if self.val is not None:
            val_cost, val_acc = self.val(theta)
            self.val_costs.append(val_cost)
            self.val_accs.append(val_acc)
        criterion = val_cost if self.val is not None else float(J)
        if criterion < self.best[0]:
            self.best = (criterion, self.theta, self.n_iter)
            self.since_best = 0
        else:
            self.since_best += 1
        if self.n_iter == 0:
            return
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
                raise _Stop(f"the callback asked to stop after iteration {self.n_iter}")
        if self.early_stopping and self.since_best >= self.patience:
            raise _Stop(f"early stopping: the validation cost did not improve for "
                        f"{self.patience} iterations (best at iteration {self.best[2]})")
        if check_budget and self.n_iter >= self.max_iter:
            raise _Stop(f"max_iter={self.max_iter} iterations done")

    def next_iteration(self, theta, J=None):
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


# ---------------------------------------------------------------------------------------
# methods


def _run_scipy(run, method, theta0, tol):
    from scipy.optimize import minimize

    options = {"maxiter": run.max_iter + 10}  # our own count stops first (one meaning)
    if method in ("L-BFGS-B", "TNC"):
        # scipy counts evaluations itself: let it stop (and say so) at max_fun;
        # run.fun refuses any evaluation beyond it.
        # (scipy evaluates once more than its maxfun, but its first call, at
        # theta0, is answered from the evaluation made for the history)
        options["maxfun"] = run.max_fun if run.max_fun is not None else 10 ** 9
    if method == "TNC":
        options.pop("maxiter")
    if tol is not None:
        options["gtol"] = tol
    J0, _ = run.fun(theta0)
    run.record(theta0, J0)
    res = minimize(run.fun, theta0, jac=True, method=method, options=options,
                   callback=lambda xk: run.next_iteration(xk))
    x = np.asarray(res.x, dtype=np.float64)
    if run.theta is None or not np.array_equal(x, run.theta):
        # scipy's last point was not reported through the callback (TNC's final step)
        run.n_iter += 1
        run.record(x, float(res.fun), check_budget=False)
    reason, converged = _explain_scipy(method, res)
    return reason, converged, res


def _run_gd(run, theta, lr, momentum, tol):
    theta = np.array(theta, dtype=np.float64)
    J, g = run.fun(theta)
    run.record(theta, J)
    velocity = np.zeros_like(theta)
    while True:
        if tol is not None and np.max(np.abs(g)) <= tol:
            raise _Stop(f"converged: the largest gradient component fell below tol={tol}",
                        converged=True)
        velocity *= momentum
        velocity -= lr * g
        theta = theta + velocity
        J, g = run.fun(theta)
        run.next_iteration(theta, J)


def _batches(X, Y, batch_size, rng):
    """Contiguous mini-batches of a fresh shuffle (one copy of X per epoch)."""
    perm = rng.permutation(X.shape[0])
    Xs, Ys = X[perm], Y[perm]
    for start in range(0, X.shape[0], batch_size):
        yield Xs[start:start + batch_size], Ys[start:start + batch_size]


def _run_minibatch(run, method, theta, X, Y, batch_size, lr, momentum, rng, obj_kwargs):
    theta = np.array(theta, dtype=np.float64)
    m = X.shape[0]
    run.record(theta)
    velocity = np.zeros_like(theta)
    second = np.zeros_like(theta)
    step = 0
    lam = obj_kwargs["lam"]
    while True:
        for Xb, Yb in _batches(X, Y, batch_size, rng):
            # The penalty is scaled so that each batch gradient is an unbiased
            # estimate of the full regularised gradient.  An Objective per batch
            # checks only this batch, O(batch): measured 0.16 ms to build against
            # 1.2 ms to evaluate for 64 x 64 -> 25 -> 10 with NumPy (~12%).
            batch = Objective(Xb, Yb, run.obj.layer_sizes, **dict(obj_kwargs, lam=lam * Xb.shape[0] / m))
            J, g = batch(theta)
            run.n_batch_evals += 1
            if not np.isfinite(J):
                raise _Stop("the mini-batch cost became NaN or infinite (learning rate too large?)")
            step += 1
            if method == "sgd":
                velocity *= momentum
                velocity -= lr * g
                theta += velocity
            else:  # adam
                velocity *= momentum
                velocity += (1 - momentum) * g
                second *= _ADAM_BETA2
                second += (1 - _ADAM_BETA2) * g * g
                vhat = velocity / (1 - momentum ** step)
                shat = second / (1 - _ADAM_BETA2 ** step)
                theta -= lr * vhat / (np.sqrt(shat) + _ADAM_EPS)
        run.next_iteration(theta)


# ---------------------------------------------------------------------------------------
# public entry points


def _check_positive_int(value, name, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer{' or None' if allow_none else ''}, "
                        f"got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return int(value)


def _check_validation_pair(validation):
    if validation is not None and (not isinstance(validation, (tuple, list))
                                   or len(validation) != 2):
        raise TypeError(f"validation must be a tuple (X_val, y_val) or None, got "
                        f"{type(validation).__name__}")


def _check_method(method):
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise ValueError(f"method must be one of 'L-BFGS-B', 'TNC', 'CG', 'gd', 'sgd', 'adam' "
                         f"(case-insensitive), got {method!r}")
    return METHODS[method.lower()]


def train(X, y, layer_sizes, lam=1.0, loss="cross_entropy", method="L-BFGS-B", max_iter=400,
          max_fun=None, learning_rate=None, batch_size=64, momentum=None, theta0=None,
          random_state=None, backend="auto", n_threads=None, dtype=None, validation=None,
          early_stopping=False, patience=10, tol=None, callback=None, progress=None,
          client=None) -> TrainResult:
    """Fit the weights of a sigmoid network by minimising the regularised cost.

    Parameters
    ----------
    X : array-like of shape (m, n_in), float
        Training examples, one per row, without a bias column.  With ``client``
        it may also be a dask array or a dask DataFrame of numeric columns (see
        ``nnfast.distributed.DistributedObjective``).
    y : array-like of shape (m,) or (m, n_out)
        Class indices ``0 .. n_out - 1`` or a target matrix in [0, 1] (with
        ``client``, also a dask array, Series or DataFrame).
    layer_sizes : sequence of int
        ``[n_in, h1, ..., n_out]``, e.g. ``[400, 25, 10]``.
    lam : float, default 1.0
        L2 strength λ (bias weights are not penalised).
    loss : {"cross_entropy", "squared_error"}, default "cross_entropy"
    method : str, default "L-BFGS-B"
        ``"L-BFGS-B"``, ``"TNC"``, ``"CG"`` (scipy.optimize.minimize with the
        analytic gradient), ``"gd"`` (batch gradient descent; with
        ``momentum=0`` it is the plain ``theta -= learning_rate * grad`` of the
        ex4 notebooks), ``"sgd"`` (mini-batch SGD with momentum) or ``"adam"``.
    max_iter : int, default 400
        Iterations: optimiser iterations, gradient steps, or epochs for
        ``"sgd"``/``"adam"`` (see the module docstring).
    max_fun : int or None, default None
        Cap on cost/gradient evaluations on the full training set.
    learning_rate : float or None
        Step size of ``"gd"`` (default 2.0), ``"sgd"`` (0.1) and ``"adam"`` (0.01).
    batch_size : int, default 64
        Examples per mini-batch (``"sgd"``, ``"adam"``).
    momentum : float in [0, 1) or None
        Momentum of ``"gd"`` (default 0: plain gradient descent) and ``"sgd"``
        (default 0.9), and Adam's β1 (default 0.9).
    theta0 : array-like of shape (n_params,), optional
        Starting point (warm start).  Default: uniform random weights with
        the sqrt(6)/sqrt(L_in + L_out) half-width of ex4 (0.12 for 400 -> 25).
    random_state : None, int or numpy.random.Generator
        Seeds the initial weights and the mini-batch shuffles: the same
        value gives the same result (for a given backend and thread count).
    backend : str, default "auto"
        Any name from ``nnfast.available_backends()``, passed through.
    n_threads : int or None
    dtype : float64, float32 or None
        Working dtype of the kernels (the optimiser itself works in float64).
    validation : tuple (X_val, y_val) or None
        Validation set: cost (unregularised) and accuracy recorded per iteration.
        ``y_val`` holds class indices (m_val,) or one-hot rows.
    early_stopping : bool, default False
        Stop when the validation cost has not improved for ``patience``
        iterations (needs ``validation``); :attr:`TrainResult.best_theta`
        holds the best parameters.
    patience : int, default 10
    tol : float or None
        Gradient tolerance: scipy's ``gtol``; for ``"gd"`` stop when the largest
        gradient component is below it.  ``None``: scipy's default, no test for gd.
    callback : callable or None
        ``callback(info: IterationInfo)`` after every iteration; return True to stop.
    progress : bool or None
        tqdm progress bar on stderr; ``None`` shows it only on a terminal.
    client : dask.distributed.Client or None
        Build a ``nnfast.distributed.DistributedObjective`` on this client
        instead of a local :class:`nnfast.Objective` (full-batch methods only).

    Returns
    -------
    result : TrainResult
        ``print(result)`` gives :meth:`TrainResult.summary`.

    Raises
    ------
    ValueError, TypeError
        A bad argument (named in the message); ``theta0`` goes through the same
        checks as every ``theta``.  Also a ValueError when the cost or gradient at
        the starting point is not finite, or its squared norm overflows: the
        message names ``lam`` when it is λ's size that makes the L2 penalty
        overflow, else the weights or the scale of X.  Divergence *during*
        training is not an error: it stops with a :attr:`TrainResult.stop_reason`
        and keeps the last finite parameters.

    Examples
    --------
    >>> import nnfast
    >>> from nnfast.datasets import load_digits
    >>> X, y = load_digits()
    >>> res = nnfast.train(X, y, [64, 25, 10], lam=1.0, max_iter=50, random_state=0,
    ...                    backend="numpy", progress=False)
    >>> res.n_iter
    50
    >>> res.accuracy(X, y) > 0.9
    True
    """
    t0 = time.perf_counter()
    sizes = check_layer_sizes(layer_sizes)
    method = _check_method(method)
    max_iter = _check_positive_int(max_iter, "max_iter")
    max_fun = _check_positive_int(max_fun, "max_fun", allow_none=True)
    batch_size = _check_positive_int(batch_size, "batch_size")
    patience = _check_positive_int(patience, "patience")
    if momentum is None:
        momentum = 0.0 if method == "gd" else 0.9
    if isinstance(momentum, bool) or not (
            isinstance(momentum, (int, float, np.floating)) and 0 <= momentum < 1):
        raise ValueError(f"momentum must be a number in [0, 1), got {momentum!r}")
    if learning_rate is None:
        learning_rate = _DEFAULT_LR.get(method)
    elif not (isinstance(learning_rate, (int, float, np.floating)) and learning_rate > 0
              and np.isfinite(learning_rate)):
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
    if early_stopping and validation is None:
        raise ValueError("early_stopping=True needs a validation set: validation=(X_val, y_val)")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {callback!r}")
    if tol is not None and not (isinstance(tol, (int, float, np.floating)) and tol >= 0):
        raise ValueError(f"tol must be a non-negative number or None, got {tol!r}")

    n = n_params(sizes)
    if theta0 is not None:
        # before anything of the network's size is built: a theta0 that does not fit
        # layer_sizes is reported as such (the optimiser itself works in float64)
        theta0 = check_theta(theta0, n, np.float64, sizes, name="theta0")
    obj_kwargs = dict(lam=lam, loss=loss, backend=backend, n_threads=n_threads, dtype=dtype)
    if client is not None:
        if method in ("sgd", "adam"):
            raise ValueError(f"client= works with the full-batch methods (L-BFGS-B, TNC, CG, gd), "
                             f"not with {method!r}")
        from .distributed import DistributedObjective

        objective = DistributedObjective(X, y, sizes, client=client, **obj_kwargs)
    else:
        objective = Objective(X, y, sizes, **obj_kwargs)
    work_dtype = np.dtype(objective.dtype)
    local_backend = getattr(objective, "backend", None)
    backend_name = (getattr(objective, "backend_name", None)
                    or getattr(local_backend, "name", str(backend)))
    # scipy's own BLAS threads would spin between evaluations and take a core from the
    # kernel; the distributed kernels run elsewhere, so there all local BLAS gets one thread.
    blas_limit = (optimizer_blas_limit(local_backend) if isinstance(local_backend, Backend)
                  else blas_threads(1))

    rng = np.random.default_rng(random_state)
    if theta0 is None:
        theta0 = init_theta(sizes, epsilon="auto", random_state=rng)

    _check_validation_pair(validation)
    val = None
    if validation is not None:
        val = _Validation(validation[0], validation[1], sizes, loss, backend, n_threads,
                          work_dtype)

    run = _Run(objective, val, max_iter, max_fun, early_stopping, patience, callback, progress,
               method)
    res = None
    try:
        try:
            with blas_limit:
                run.start(theta0, objective.lam)
                if method in _SCIPY_METHODS:
                    reason, converged, res = _run_scipy(run, method, theta0, tol)
                elif method == "gd":
                    _run_gd(run, theta0, learning_rate, momentum, tol)
                else:
                    Xw = check_X(X, sizes[0], work_dtype)
                    Yw = check_targets(y, Xw.shape[0], sizes[-1], work_dtype)
                    batch_kwargs = dict(obj_kwargs, dtype=work_dtype)
                    _run_minibatch(run, method, theta0, Xw, Yw, batch_size, learning_rate,
                                   momentum, rng, batch_kwargs)
        except _Stop as stop:
            reason, converged = stop.reason, stop.converged
        finally:
            run.close()
        if run.theta is None:  # stopped before even the starting point was recorded
            run.record(theta0, check_budget=False)  # its cost is known from run.start
        train_accuracy = None
        if client is None:
            X_local = check_X(X, sizes[0], work_dtype)
            classes = _class_of_targets(check_targets(y, X_local.shape[0], sizes[-1], work_dtype))
            train_accuracy = _forward_accuracy(objective, run.theta, X_local, classes)
    finally:
        if client is not None:
            objective.close()  # release the shards on the (possibly borrowed) cluster
    best_crit, best_theta, best_iter = run.best
    return TrainResult(
        theta=run.theta, best_theta=best_theta if best_theta is not None else run.theta,
        best_iteration=best_iter, cost_history=np.array(run.costs),
        val_cost_history=np.array(run.val_costs) if val is not None else None,
        val_accuracy_history=np.array(run.val_accs) if val is not None else None,
        n_iter=run.n_iter, n_evals=run.n_evals, n_batch_evals=run.n_batch_evals,
        stop_reason=reason, converged=bool(converged), wall_time=time.perf_counter() - t0,
        method=method, layer_sizes=sizes, lam=float(lam), loss=loss, backend=backend_name,
        dtype=str(work_dtype), random_state=random_state if not isinstance(
            random_state, np.random.Generator) else None,
        optimizer_result=res, train_accuracy=train_accuracy,
    )


# ---------------------------------------------------------------------------------------
# λ sweep


@dataclass
class ValidationCurve:
    """Outcome of :func:`validation_curve`, one entry per λ (in the order given).

    Attributes
    ----------
    lams : ndarray of shape (k,)
    train_accuracy, val_accuracy : ndarray of shape (k,)
        ``val_*`` are NaN without a validation set.
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
        """λ with the highest validation accuracy (training accuracy without validation)."""
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
        Class indices.
    layer_sizes : sequence of int
    lams : sequence of float, default (0, 1, 50)
        The λ values, trained in this order.
    validation : tuple (X_val, y_val) or None
    warm_start : bool, default True
        Start each fit from the previous fit's parameters (the first from
        ``train_kwargs.get("theta0")`` or random weights).
    **train_kwargs
        Passed to :func:`train` (``method``, ``max_iter``, ``random_state``,
        ``backend``...).

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
    _check_validation_pair(validation)
    sizes = check_layer_sizes(layer_sizes)
    theta0 = train_kwargs.pop("theta0", None)
    if theta0 is not None:  # before anything of the network's size is built
        theta0 = check_theta(theta0, n_params(sizes), np.float64, sizes, name="theta0")
    loss = train_kwargs.get("loss", "cross_entropy")
    held_out = [loss, train_kwargs.get("backend", "auto"), train_kwargs.get("n_threads"),
                train_kwargs.get("dtype")]
    # unregularised cost and accuracy of each fit, on the training and validation data
    on_train = _Validation(X, y, sizes, *held_out, names=("X", "y"))
    on_val = None if validation is None else _Validation(validation[0], validation[1], sizes,
                                                         *held_out)
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
    rows = np.array(rows)
    return ValidationCurve(lams=lams, train_accuracy=rows[:, 0], val_accuracy=rows[:, 1],
                           train_cost=rows[:, 2], val_cost=rows[:, 3], objective=rows[:, 4],
                           results=results)
