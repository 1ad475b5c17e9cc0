"""The :func:`train` entry point: a short function over checks, the objective, the method and
the result."""

from __future__ import annotations

import time

import numpy as np

from .._activations import check_activations, check_head
from .._network import check_layer_sizes, init_theta, n_params
from .._validation import check_targets, check_theta, check_X
from ..backends import Backend, optimizer_blas_limit
from ..backends._base import blas_threads
from .._weighted import WeightedObjective
from ..objective import Objective
from ._arguments import (MINIBATCH_METHODS, SCIPY_METHODS, check_optimizer_settings,
                         check_validation_pair)
from ._gradient_descent import run_gradient_descent
from ._minibatch import run_minibatch
from ._results import TrainResult
from ._scipy_methods import run_scipy
from ._scoring import DatasetScorer, class_of_targets, forward_accuracy, regression_fit
from ._stopping import StopTraining
from ._training_run import TrainingRun


def train(X, y, layer_sizes, lam=1.0, loss=None, method="L-BFGS-B", max_iter=400,
          max_fun=None, learning_rate=None, batch_size=64, momentum=None, theta0=None,
          random_state=None, backend="auto", n_threads=None, dtype=None, validation=None,
          early_stopping=False, patience=10, tol=None, callback=None, progress=None,
          client=None, activation="logistic", output="logistic",
          sample_weight=None) -> TrainResult:
    """Fit the weights of a network by minimising the regularised cost.

    ex4's sigmoid network is the default; ``activation`` and ``output`` choose
    others (tanh or ReLU hidden units, a softmax over the classes, regression).

    Parameters
    ----------
    X : array-like of shape (m, n_in), float
        Training examples, one per row, without a bias column.  With ``client``
        it may also be a dask array or a dask DataFrame of numeric columns (see
        ``nnfast.distributed.DistributedObjective``).
    y : array-like of shape (m,) or (m, n_out)
        Class indices ``0 .. n_out - 1`` or a target matrix in [0, 1] (with
        ``client``, also a dask array, Series or DataFrame).  For
        ``output="identity"``: real-valued targets, (m,) with one output.
    layer_sizes : sequence of int
        ``[n_in, h1, ..., n_out]``, e.g. ``[400, 25, 10]``.
    lam : float, default 1.0
        L2 strength λ (bias weights are not penalised).
    loss : {"cross_entropy", "squared_error"} or None, default None
        None is the output's own loss: cross-entropy for "logistic" and
        "softmax" outputs, squared error for "identity".
    method : str, default "L-BFGS-B"
        ``"L-BFGS-B"``, ``"TNC"``, ``"CG"`` (scipy.optimize.minimize with the
        analytic gradient), ``"gd"`` (batch gradient descent; with
        ``momentum=0`` it is the plain ``theta -= learning_rate * grad`` of the
        ex4 notebooks), ``"sgd"`` (mini-batch SGD with momentum) or ``"adam"``.
    max_iter : int, default 400
        Iterations: optimiser iterations, gradient steps, or epochs for
        ``"sgd"``/``"adam"`` (see :mod:`nnfast.training`).
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
    activation : str or sequence of str, default "logistic"
        Hidden units, "logistic", "tanh", "relu" or "identity": one name for
        every hidden layer or one per hidden layer.
    output : {"logistic", "softmax", "identity"}, default "logistic"
        A sigmoid per output (ex4), a softmax over the outputs (one class per
        example), or the logits themselves (regression).  With "identity" the
        result has no accuracy: :attr:`TrainResult.train_rmse` and
        :attr:`TrainResult.train_r2` instead.
    sample_weight : array-like of shape (m,) or None
        A weight per training example (see ``nnfast._weighted``: the cost is
        their weighted mean and the penalty is divided by their sum); computed
        by a backend that weights examples ("auto" picks among them; "cython",
        "numba" and "numpy" do, another named one is refused).
        The validation set is scored unweighted.

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
    settings = check_optimizer_settings(method, max_iter, max_fun, batch_size, patience, momentum,
                                        learning_rate, tol, early_stopping,
                                        validation is not None, callback)
    if theta0 is not None:
        # before anything of the network's size is built: a theta0 that does not fit
        # layer_sizes is reported as such (the optimiser itself works in float64)
        theta0 = check_theta(theta0, n_params(sizes), np.float64, sizes, name="theta0")
    activations = check_activations(activation, len(sizes) - 2)
    output, loss = check_head(output, loss)
    objective_kwargs = dict(lam=lam, loss=loss, backend=backend, n_threads=n_threads, dtype=dtype,
                            activation=activations, output=output)
    objective = _build_objective(X, y, sizes, settings.method, client, objective_kwargs,
                                 sample_weight)
    try:
        work_dtype = np.dtype(objective.dtype)
        rng = np.random.default_rng(random_state)
        if theta0 is None:
            theta0 = init_theta(sizes, epsilon="auto", random_state=rng)
        check_validation_pair(validation)
        scorer = None
        if validation is not None:
            scorer = DatasetScorer(validation[0], validation[1], sizes, loss, backend, n_threads,
                                   work_dtype, activation=activations, output=output)
        run = TrainingRun(objective, scorer, settings.max_iter, settings.max_fun, early_stopping,
                          settings.patience, callback, progress, settings.method)
        reason, converged, scipy_result = _optimise(run, settings, theta0, X, y,
                                                    dict(objective_kwargs, dtype=work_dtype), rng)
        # on a cluster the data are not local, and the scores are left to the caller
        train_scores = {} if client is not None else _training_scores(objective, run.theta, X, y)
    finally:
        if client is not None:
            objective.close()  # release the shards on the (possibly borrowed) cluster
    return _build_result(
        run, reason, converged, scipy_result, time.perf_counter() - t0,
        method=settings.method, layer_sizes=sizes, lam=float(lam), loss=loss,
        backend=_backend_name(objective, backend), dtype=str(work_dtype),
        random_state=None if isinstance(random_state, np.random.Generator) else random_state,
        activations=activations, output=output, **train_scores)


def _build_objective(X, y, sizes, method, client, objective_kwargs, sample_weight=None):
    """A local :class:`~nnfast.Objective` (weighted with ``sample_weight``), or a
    ``DistributedObjective`` on ``client``."""
    if sample_weight is not None:
        if client is not None:
            raise ValueError("sample_weight does not work with client= (the shards are "
                             "unweighted)")
        return WeightedObjective(X, y, sizes, sample_weight, **objective_kwargs)
    if client is None:
        return Objective(X, y, sizes, **objective_kwargs)
    if method in MINIBATCH_METHODS:
        raise ValueError(f"client= works with the full-batch methods (L-BFGS-B, TNC, CG, gd), "
                         f"not with {method!r}")
    from ..distributed import DistributedObjective

    return DistributedObjective(X, y, sizes, client=client, **objective_kwargs)


def _backend_name(objective, backend):
    """The backend ``objective`` resolved ``backend`` to (on the workers for a cluster)."""
    return (getattr(objective, "backend_name", None)
            or getattr(getattr(objective, "backend", None), "name", str(backend)))


def _optimizer_blas_limit(objective):
    """The BLAS thread limit for the optimiser loop around ``objective``.

    scipy's own BLAS threads would spin between evaluations and take a core from
    the kernel; the distributed kernels run elsewhere, so there all local BLAS
    gets one thread.
    """
    local_backend = getattr(objective, "backend", None)
    if isinstance(local_backend, Backend):
        return optimizer_blas_limit(local_backend)
    return blas_threads(1)


def _optimise(run, settings, theta0, X, y, objective_kwargs, rng):
    """Run the chosen method from ``theta0``: ``(stop reason, converged, scipy's result)``.

    ``objective_kwargs`` (with the working dtype) build the mini-batch objectives;
    scipy's result is None for the other methods and when training stopped early.
    """
    objective = run.objective
    scipy_result = None
    try:
        with _optimizer_blas_limit(objective):
            run.evaluate.start(theta0, objective.lam)
            if settings.method in SCIPY_METHODS:
                reason, converged, scipy_result = run_scipy(run, settings.method, theta0,
                                                            settings.tol)
            elif settings.method == "gd":
                run_gradient_descent(run, theta0, settings.learning_rate, settings.momentum,
                                     settings.tol)
            else:
                X, Y = _checked_data(objective, X, y)
                run_minibatch(run, settings.method, theta0, X, Y, settings.batch_size,
                              settings.learning_rate, settings.momentum, rng, objective_kwargs,
                              getattr(objective, "sample_weight", None))
    except StopTraining as stop:
        reason, converged = stop.reason, stop.converged
    finally:
        run.close()
    if run.theta is None:  # stopped before even the starting point was recorded
        run.record(theta0, check_budget=False)  # its cost is known from evaluate.start
    return reason, converged, scipy_result


def _checked_data(objective, X, y):
    """``(X, Y)`` of a local ``objective``'s training data, checked, in its working dtype."""
    sizes, work_dtype = objective.layer_sizes, np.dtype(objective.dtype)
    X = check_X(X, sizes[0], work_dtype)
    return X, check_targets(y, X.shape[0], sizes[-1], work_dtype,
                            real_valued=objective.output == "identity")


def _training_scores(objective, theta, X, y) -> dict:
    """The :class:`TrainResult` fields that score ``theta`` on the training data of a local
    ``objective``: the accuracy, or for a regression network the RMSE and R²."""
    X, Y = _checked_data(objective, X, y)
    if objective.output == "identity":
        fit = regression_fit(objective, theta, X, Y)
        return dict(train_rmse=fit["rmse"], train_r2=fit["r2"])
    return dict(train_accuracy=forward_accuracy(objective, theta, X, class_of_targets(Y)))


def _build_result(run, reason, converged, scipy_result, wall_time, **how_trained):
    """The :class:`TrainResult` of a finished ``run``; ``how_trained`` are its settings and
    training-score fields."""
    _, best_theta, best_iteration = run.best
    monitored = run.scorer is not None
    has_accuracy = monitored and not run.scorer.regression
    return TrainResult(
        theta=run.theta, best_theta=best_theta if best_theta is not None else run.theta,
        best_iteration=best_iteration, cost_history=np.array(run.costs),
        val_cost_history=np.array(run.val_costs) if monitored else None,
        val_accuracy_history=np.array(run.val_accs) if has_accuracy else None,
        n_iter=run.n_iter, n_evals=run.n_evals, n_batch_evals=run.n_batch_evals,
        stop_reason=reason, converged=bool(converged), wall_time=wall_time,
        optimizer_result=scipy_result, **how_trained)
