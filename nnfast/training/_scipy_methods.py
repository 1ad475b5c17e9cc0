"""The scipy.optimize methods (L-BFGS-B, TNC, CG) and their stop messages in plain words."""

from __future__ import annotations

import numpy as np

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


def explain_scipy_result(method, res) -> (str, bool):
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


def run_scipy(run, method, theta0, tol):
    """Minimise with ``scipy.optimize.minimize``: ``(reason, converged, OptimizeResult)``.

    ``run`` is the :class:`~._training_run.TrainingRun`; it stops the optimiser
    (by raising) at ``max_iter``, which scipy's own limits never reach first.
    """
    from scipy.optimize import minimize

    options = {"maxiter": run.max_iter + 10}  # our own count stops first (one meaning)
    max_fun = run.evaluate.max_fun
    if method in ("L-BFGS-B", "TNC"):
        # scipy counts evaluations itself: let it stop (and say so) at max_fun;
        # run.evaluate refuses any evaluation beyond it.
        # (scipy evaluates once more than its maxfun, but its first call, at
        # theta0, is answered from the evaluation made for the history)
        options["maxfun"] = max_fun if max_fun is not None else 10 ** 9
    if method == "TNC":
        options.pop("maxiter")
    if tol is not None:
        options["gtol"] = tol
    J0, _ = run.evaluate(theta0)
    run.record(theta0, J0)
    res = minimize(run.evaluate, theta0, jac=True, method=method, options=options,
                   callback=lambda xk: run.next_iteration(xk))
    x = np.asarray(res.x, dtype=np.float64)
    if run.theta is None or not np.array_equal(x, run.theta):
        # scipy's last point was not reported through the callback (TNC's final step)
        run.n_iter += 1
        run.record(x, float(res.fun), check_budget=False)
    reason, converged = explain_scipy_result(method, res)
    return reason, converged, res
