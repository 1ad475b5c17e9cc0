""":func:`gradient_check`: a backend's analytic gradient against central differences, and the verdict."""

from __future__ import annotations

import time

import numpy as np

from .._network import check_layer_sizes, init_theta, layer_offsets, layer_sizes_of, n_params, pack
from .._validation import check_n_threads
from ..objective import Objective, l2_mask
from .debug import debug_problem
from .forward import ForwardPass
from .inputs import check_problem
from .numerical import central_differences
from .result import GradientCheckResult, LayerCheck
from .sampling import sample_indices

#: relative difference above which a float64 check fails (Ng's ex4 expects < 1e-9
#: for a correct gradient with ε = 1e-4; a wrong one is typically > 1e-3)
DEFAULT_THRESHOLD = 1e-7
#: the same for a float32 analytic gradient (its own round-off is ~1e-7 relative)
DEFAULT_THRESHOLD_FLOAT32 = 1e-3


def relative_difference(a, b) -> float:
    """``||a - b|| / ||a + b||`` (0.0 when both are zero)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    den = np.linalg.norm(a + b)
    num = np.linalg.norm(a - b)
    if den == 0.0:
        return 0.0 if num == 0.0 else float("inf")
    return float(num / den)


def gradient_check(theta=None, X=None, y=None, layer_sizes=None, lam=0.0, loss=None,
                   backend="auto", epsilon=1e-4, sample=None, random_state=None, n_threads=None,
                   dtype=None, threshold=None, n_worst=5, data_name="", activation="logistic",
                   output="logistic"):
    """Compare a backend's analytic gradient with central differences.

    With no data this is ex4's ``checkNNGradients``: the small debug network
    of :func:`debug_problem` (``3 -> 5 -> 3``, m = 5, sin-based weights), or
    one with the given ``layer_sizes``.

    Parameters
    ----------
    theta : array-like of shape (n_params,), list of weight matrices, or None
        Where to check.  ``None``: the debug weights without data, random
        weights (``init_theta(..., "auto")``) with data.
    X, y : data, optional
        Inputs (m, n_in) and class indices or targets; default the debug data.
    layer_sizes : sequence of int, optional
        Needed with data unless ``theta`` is a list of matrices.
    lam : float, default 0.0
    loss : {"cross_entropy", "squared_error"} or None
        None: the output's own loss (see :class:`nnfast.Objective`).
    backend : str, default "auto"
        Whose analytic gradient to check.
    epsilon : float, default 1e-4
    sample : None, int, float in (0, 1] or array of int
        ``None`` checks every parameter; an int that many and a float that
        fraction, drawn at random (stratified by layer); an array, exactly
        those parameter indices.
    random_state : None, int or Generator
        For the sample and the default random weights.
    n_threads : int or None
        Threads for the numerical side and the backend.
    dtype : float64 or float32, optional
        Working dtype of the *backend* (the numerical side is float64).
    threshold : float, optional
        Largest relative difference that passes; default 1e-7 (1e-3 for a
        float32 backend).
    n_worst : int, default 5
        How many of the worst parameters to list.
    data_name : str, optional
        What the data is, for the summary.
    activation : str or sequence of str, default "logistic"
    output : {"logistic", "softmax", "identity"}, default "logistic"
        The network, as for :class:`nnfast.Objective`.  With
        ``output="identity"`` and no data, the debug problem's targets are its
        one-hot labels taken as real values.

    Returns
    -------
    GradientCheckResult
        ``print(result)`` gives the summary; ``result.passed`` the verdict.
    """
    rng = np.random.default_rng(random_state)
    theta, X, y, layer_sizes, data_name = _point_and_data(theta, X, y, layer_sizes, rng, data_name,
                                                          output)
    problem = check_problem(theta, X, y, layer_sizes, lam, loss, epsilon, activation, output)
    n_threads = check_n_threads(n_threads)
    indices = sample_indices(sample, problem.layer_sizes, rng)

    t0 = time.perf_counter()
    objective = Objective(problem.X if dtype is None else problem.X.astype(dtype), problem.Y,
                          problem.layer_sizes, lam=problem.lam, loss=problem.loss,
                          backend=backend, n_threads=n_threads,
                          dtype=np.float64 if dtype is None else dtype,
                          activation=problem.activations, output=problem.output)
    cost, grad = objective(problem.theta.astype(objective.dtype))
    t1 = time.perf_counter()
    forward = ForwardPass.of(problem)
    numerical = central_differences(problem, indices, n_threads, forward=forward)
    t2 = time.perf_counter()
    analytic = grad[indices]

    verdict = _verdict(numerical, analytic, indices, float(cost), _reference_cost(forward, problem),
                       objective.dtype, problem, threshold, n_worst)
    return GradientCheckResult(
        **verdict, indices=indices, numerical=numerical, analytic=analytic,
        layer_sizes=problem.layer_sizes, m=problem.X.shape[0],
        n_params=n_params(problem.layer_sizes), lam=problem.lam, loss=problem.loss,
        activations=problem.activations, output=problem.output,
        backend=objective.backend.name, dtype=str(objective.dtype), epsilon=problem.epsilon,
        seconds_numerical=t2 - t1, seconds_analytic=t1 - t0, data=data_name)


def _verdict(numerical, analytic, indices, cost, reference_cost, dtype, problem, threshold,
             n_worst) -> dict:
    """The :class:`GradientCheckResult` fields that judge the analytic gradient and cost."""
    cost_rel = abs(cost - reference_cost) / max(abs(reference_cost), 1e-300)
    if threshold is None:
        threshold = DEFAULT_THRESHOLD if dtype == np.float64 else DEFAULT_THRESHOLD_FLOAT32
    noise_floor = _noise_floor(reference_cost, problem.epsilon, dtype, analytic)
    offsets = layer_offsets(problem.layer_sizes)
    layers = _layer_checks(indices, numerical, analytic, offsets, threshold, noise_floor)
    failed = [f"{lc.name} (layer {lc.layer}, {lc.shape[0]}x{lc.shape[1]})"
              for lc in layers if not lc.passed]
    cost_ok = cost_rel <= max(threshold, 1e-12)
    if not cost_ok:
        failed.append("the cost itself")
    rel = relative_difference(numerical, analytic)
    overall_ok = (rel <= threshold
                  or float(np.max(np.abs(numerical - analytic), initial=0.0)) <= noise_floor)
    return dict(rel_diff=rel, threshold=float(threshold),
                passed=bool(overall_ok and all(lc.passed for lc in layers) and cost_ok),
                layers=layers, worst=_worst_parameters(indices, numerical, analytic, offsets, n_worst),
                cost=cost, reference_cost=float(reference_cost), cost_rel_diff=float(cost_rel),
                noise_floor=float(noise_floor), failed_layers=failed)


def _point_and_data(theta, X, y, layer_sizes, rng, data_name, output="logistic"):
    """``(theta, X, y, layer_sizes, data_name)`` with the defaults filled in.

    Weight matrices give the layer sizes; no data means ex4's debug problem
    (for regression, its one-hot labels as real targets); data without
    ``theta`` gets random weights drawn from ``rng``.
    """
    if isinstance(theta, (list, tuple)) and len(theta) and np.ndim(theta[0]) == 2:
        inferred = layer_sizes_of(theta)
        if layer_sizes is not None and tuple(check_layer_sizes(layer_sizes)) != inferred:
            raise ValueError(f"layer_sizes {list(layer_sizes)} do not match the weight matrices "
                             f"({list(inferred)})")
        layer_sizes = inferred
        theta = pack(theta, dtype=np.float64)
    if X is None:
        if y is not None:
            raise ValueError("y was given without X")
        sizes = check_layer_sizes(layer_sizes if layer_sizes is not None else (3, 5, 3))
        debug_theta, X, y, sizes = debug_problem(sizes)
        if output == "identity":
            y = np.eye(sizes[-1])[y] if sizes[-1] > 1 else y.astype(np.float64)
        if theta is None:
            theta = debug_theta
        return theta, X, y, sizes, data_name or "ex4 checkNNGradients debug data"
    if layer_sizes is None:
        raise ValueError("layer_sizes is needed with X (or pass theta as a list of weight matrices)")
    sizes = check_layer_sizes(layer_sizes)
    if y is None:
        raise ValueError("X was given without y")
    if theta is None:
        theta = init_theta(sizes, "auto", random_state=rng)
    return theta, X, y, sizes, data_name


def _reference_cost(forward, problem) -> float:
    """The regularised cost in float64, from the forward pass the differences start from."""
    m = problem.X.shape[0]
    cost = forward.loss_sum / m
    if problem.lam:
        theta = problem.theta
        cost += problem.lam / (2.0 * m) * float(np.sum(l2_mask(problem.layer_sizes) * theta * theta))
    return cost


def _noise_floor(reference_cost, epsilon, dtype, analytic) -> float:
    """``|num - ana|`` below which a difference is round-off, not a wrong gradient.

    Deep layers of a sigmoid network can have gradients of 1e-6 and less,
    whose relative difference round-off alone makes large.
    """
    return max(100 * np.finfo(np.float64).eps * max(abs(reference_cost), 1.0) / epsilon,
               10 * np.finfo(dtype).eps * float(np.max(np.abs(analytic), initial=0.0)))


def _layer_checks(indices, numerical, analytic, offsets, threshold, noise_floor):
    """One :class:`LayerCheck` per weight layer that has checked parameters."""
    layers = []
    for l, (start, end, shape) in enumerate(offsets):
        sel = (indices >= start) & (indices < end)
        if not sel.any():
            continue
        rel = relative_difference(numerical[sel], analytic[sel])
        max_abs_diff = float(np.max(np.abs(numerical[sel] - analytic[sel])))
        layers.append(LayerCheck(layer=l + 1, shape=shape, n_checked=int(sel.sum()), rel_diff=rel,
                                 max_abs_diff=max_abs_diff,
                                 passed=bool(rel <= threshold or max_abs_diff <= noise_floor)))
    return layers


def _worst_parameters(indices, numerical, analytic, offsets, n_worst):
    """The ``n_worst`` checked parameters of largest ``|num - ana|``, located in their layer."""
    diff = np.abs(numerical - analytic)
    worst = []
    for n in np.argsort(-diff, kind="stable")[: max(0, int(n_worst))]:
        p = int(indices[n])
        l = next(i for i, (start, end, _) in enumerate(offsets) if start <= p < end)
        unit, inp = divmod(p - offsets[l][0], offsets[l][2][1])
        worst.append(dict(index=p, layer=l + 1, unit=int(unit), input=int(inp),
                          numerical=float(numerical[n]), analytic=float(analytic[n]),
                          abs_diff=float(diff[n])))
    return worst
