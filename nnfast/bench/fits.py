"""Timing end-to-end training: L-BFGS-B on an nnfast Objective per backend, and scikit-learn."""

from __future__ import annotations

from typing import List

import numpy as np

from .shapes import LAM, SHAPES, _data_for
from .timing import time_once


def time_training(threads, iters=400, quick=False, log=None) -> List[dict]:
    """ex4 shape: 400 L-BFGS-B iterations (scipy on an nnfast.Objective) per backend,
    next to scikit-learn's MLPClassifier (a different model: softmax output)."""
    from scipy.optimize import minimize
    from threadpoolctl import threadpool_limits

    from .._network import init_theta
    from ..api import predict
    from ..backends import available_backends, optimizer_blas_limit
    from ..objective import Objective

    m, sizes = SHAPES["tiny"] if quick else SHAPES["ex4"]
    X, y, data_name = _data_for(m, sizes)
    theta0 = init_theta(sizes, "auto", random_state=0)
    rows = []
    for backend in [b for b in available_backends() if b != "loop"]:
        obj = Objective(X, y, sizes, lam=LAM, backend=backend, n_threads=threads)
        obj(theta0)  # warm-up
        # as nnfast.train does: scipy's own BLAS on one thread (see optimizer_blas_limit)
        with threadpool_limits(threads, user_api="blas"), optimizer_blas_limit(obj.backend):
            elapsed, res = time_once(minimize, obj, theta0, jac=True, method="L-BFGS-B",
                                     options={"maxiter": iters, "gtol": 1e-12, "ftol": 1e-15})
        acc = float(np.mean(predict(res.x, X, sizes, backend="numpy") == y))
        rows.append(dict(what=f"nnfast {backend} + scipy L-BFGS-B", model="sigmoid outputs, "
                         "cross-entropy, lambda=1", seconds=elapsed, iterations=int(res.nit),
                         evaluations=int(res.nfev), final_cost=float(res.fun), train_accuracy=acc,
                         data=data_name, ms_per_evaluation=1e3 * elapsed / max(res.nfev, 1)))
        if log:
            log(f"  train {backend:<8} {elapsed:7.2f} s  {res.nit} iterations, {res.nfev} evaluations")
    try:
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        for solver in ("lbfgs", "adam"):
            clf = MLPClassifier(hidden_layer_sizes=sizes[1:-1], activation="logistic", solver=solver,
                                alpha=LAM, max_iter=iters, tol=0.0, random_state=0,
                                **({"max_fun": 10 ** 6} if solver == "lbfgs" else {}))
            with threadpool_limits(threads, user_api="blas"), warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                elapsed, _ = time_once(clf.fit, X, y)
            rows.append(dict(what=f"scikit-learn MLPClassifier ({solver})",
                             model="DIFFERENT MODEL: softmax output, log-loss; "
                                   + ("L-BFGS" if solver == "lbfgs" else "Adam epochs of minibatches of 200"),
                             seconds=elapsed, iterations=int(clf.n_iter_), evaluations=None,
                             final_cost=float(clf.loss_), train_accuracy=float(clf.score(X, y)),
                             data=data_name, ms_per_evaluation=None))
            if log:
                log(f"  train sklearn-{solver:<6} {elapsed:7.2f} s  {clf.n_iter_} iterations")
    except ImportError:  # pragma: no cover
        pass
    return rows
