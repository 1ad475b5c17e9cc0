"""Central differences of the cost, computed incrementally.

:func:`numerical_gradient` gives ``(J(θ + ε e_p) - J(θ - ε e_p)) / 2ε`` for
every parameter ``p`` (or the requested ones): the side of
``nnfast.gradient_check`` that the analytic gradient is compared with.

How the numerical side stays cheap
----------------------------------
No ``P x P`` matrix is ever built and no perturbation recomputes the whole
network.  The forward pass is computed once, in float64.  Perturbing weight
``(j, k)`` of weight layer ``l`` (``k = 0`` is the bias) changes only the
pre-activation of unit ``j`` of the next layer, by ``±ε a_k`` (``±ε`` for the
bias), for the examples where ``a_k != 0``; examples with ``a_k = 0`` (blank
pixels) have exactly the same cost at ``θ ± ε e_p`` and are skipped.  So for
each perturbation only

* the last layer's weights: one output logit per example and its loss;
* earlier layers: unit ``j``'s new activation, a rank-one update of the next
  pre-activations (``Z + d w_jᵀ``), and the layers after it

are recomputed, vectorised over the examples and over all perturbations of
one unit at a time (in chunks that keep memory ``O(m x widest layer)``), and
spread over threads.  The layer before the output (ex4's first layer) goes
to a compiled kernel instead when enough of it is checked
(:mod:`nnfast.gradcheck.numba_engine`).  The per-example loss *change* is accumulated directly,
so the round-off is that of the change, not of the whole cost.  The L2 term
``λ/(2m) Σ θ²`` changes only in the perturbed term, and that change is
computed as a difference too: ``λ/(2m) ((θ_p + ε)² - (θ_p - ε)²)``.

The steps actually taken are the representable ones, ``(θ_p + ε) - θ_p`` and
``θ_p - (θ_p - ε)``, so the result equals brute-force central differences
(full recomputation of the cost) up to round-off: see
:func:`nnfast.gradcheck.brute_force_gradient`.

Accuracy
--------
Central differences have truncation error ``ε² J'''/6``: with ``ε = 1e-4``
about ``1e-9`` relative at worst for one parameter, and typically well below
that for the norm over all parameters of these smooth sums over examples.
Round-off is about ``1e-16 |loss change| / ε`` per example.  Both are far
below the error of a wrong gradient, which shows up as a relative
difference of order 1e-3 to 1.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .._activations import activate
from .._network import n_params
from .._validation import check_n_threads
from ..objective import l2_mask
from .forward import ForwardPass
from .inputs import check_indices, check_problem
from .numba_engine import kernel_loss_changes, penultimate_kernel, worth_compiling

ENGINES = ("auto", "numba", "numpy")

# entries (example, input) handled at once per unit: temporaries are
# about _CHUNK x (width of the layers after the unit) doubles
_CHUNK = 1 << 14


def numerical_gradient(theta, X, y, layer_sizes, lam=0.0, loss=None,
                       epsilon=1e-4, indices=None, n_threads=None, engine="auto",
                       activation="logistic", output="logistic"):
    """Central-difference gradient of the regularised cost, computed incrementally.

    Parameters
    ----------
    theta : array-like of shape (n_params,)
    X : array-like of shape (m, n_in)
    y : class indices (m,) or targets (m, n_out)
    layer_sizes : sequence of int
    lam : float
    loss : {"cross_entropy", "squared_error"} or None
        None: the output's own loss (see :class:`nnfast.Objective`).
    epsilon : float
    indices : array of int, optional
        Parameters to differentiate (default all), in the order of the result.
    n_threads : int or None
    engine : {"auto", "numba", "numpy"}
        Who computes the perturbations of the layer before the output:
        the compiled kernel (``"auto"`` when enough of that layer is checked;
        ex4's network only: logistic hidden units and outputs) or NumPy
        (always used for the other layers).  Same results to round-off.
    activation, output
        The network, as for :class:`nnfast.Objective`.

    Returns
    -------
    grad : ndarray of shape (len(indices),) or (n_params,), float64
        ``(J(θ + h⁺ e_p) - J(θ - h⁻ e_p)) / (h⁺ + h⁻)`` with the representable
        steps ``h⁺ = (θ_p + ε) - θ_p`` and ``h⁻ = θ_p - (θ_p - ε)``.
    """
    problem = check_problem(theta, X, y, layer_sizes, lam, loss, epsilon, activation, output)
    indices = check_indices(indices, n_params(problem.layer_sizes))
    return central_differences(problem, indices, check_n_threads(n_threads), engine)


def central_differences(problem, indices, n_threads, engine="auto", forward=None):
    """:func:`numerical_gradient` of a checked problem.

    Parameters
    ----------
    problem : nnfast.gradcheck.inputs.CheckedProblem
    indices : ndarray of intp
    n_threads : int >= 1
    engine : {"auto", "numba", "numpy"}
    forward : ForwardPass, optional
        The forward pass at ``problem.theta``, when the caller has it already.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be 'auto', 'numba' or 'numpy', got {engine!r}")
    theta, eps = problem.theta, problem.epsilon
    forward = forward or ForwardPass.of(problem)
    t_plus = theta[indices] + eps
    t_minus = theta[indices] - eps
    step_plus = t_plus - theta[indices]
    step_minus = theta[indices] - t_minus

    tasks = _tasks_by_unit(indices, forward)
    loss_changes = np.zeros(len(indices))
    penultimate = forward.n_layers - 2
    penultimate_tasks = [t for t in tasks if t[0] == penultimate]
    kernel = _kernel_for(engine, forward, sum(len(t[2]) for t in penultimate_tasks))
    if kernel is not None and penultimate_tasks:
        kernel_loss_changes(kernel, forward, penultimate_tasks, step_plus, step_minus, n_threads,
                            loss_changes)
        tasks = [t for t in tasks if t[0] != penultimate]
    _run_on_numpy(forward, tasks, step_plus, step_minus, n_threads, loss_changes)

    m = problem.X.shape[0]
    dJ = loss_changes / m
    if problem.lam:
        penalised = l2_mask(problem.layer_sizes)[indices]
        dJ += penalised * (problem.lam / (2.0 * m)) * (t_plus * t_plus - t_minus * t_minus)
    return dJ / (step_plus + step_minus)


def _tasks_by_unit(indices, forward):
    """The requested parameters grouped by (layer, unit): ``(layer, unit, cols, sel)`` each.

    ``sel`` are the positions in ``indices`` of the weights ``(unit, cols)``;
    the longest tasks come first, for a balanced pool.
    """
    tasks = []
    for l, (start, end, shape) in enumerate(forward.offsets):
        sel = np.nonzero((indices >= start) & (indices < end))[0]
        if sel.size == 0:
            continue
        unit, col = np.divmod(indices[sel] - start, shape[1])
        order = np.lexsort((col, unit))
        sel, unit, col = sel[order], unit[order], col[order]
        bounds = np.flatnonzero(np.diff(unit)) + 1
        for part_sel, part_unit, part_col in zip(np.split(sel, bounds), np.split(unit, bounds),
                                                 np.split(col, bounds)):
            tasks.append((l, int(part_unit[0]), part_col, part_sel))
    sizes = forward.sizes
    tasks.sort(key=lambda t: -(len(t[2]) * (1 + sum(sizes[t[0] + 2:]))))
    return tasks


def _kernel_for(engine, forward, n_requested):
    """The compiled kernel when ``engine`` asks for it or ``"auto"`` finds it worth it, else None."""
    if forward.n_layers < 2 or engine == "numpy":
        return None
    if engine == "numba" and not forward.is_ex4:
        raise ValueError("engine='numba' computes ex4's network only (logistic hidden units and "
                         "outputs); use engine='numpy' or 'auto' for other activations")
    if not forward.is_ex4:
        return None
    if engine == "numba":
        kernel = penultimate_kernel()
        if kernel is None:
            raise ImportError("engine='numba' needs numba")
        return kernel
    if n_requested and worth_compiling(forward, n_requested):
        return penultimate_kernel()
    return None


def _run_on_numpy(forward, tasks, step_plus, step_minus, n_threads, out):
    """``out[sel]`` = the summed loss changes of every task, on a pool of ``n_threads``."""
    for l in sorted({t[0] for t in tasks}):
        forward.columns(l)  # build the shared layouts before the threads start

    def run(task):
        l, j, cols, sel = task
        out[sel] = _unit_loss_changes(forward, l, j, cols, step_plus[sel], step_minus[sel])

    if n_threads > 1 and len(tasks) > 1:
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            list(pool.map(run, tasks))
    else:
        for task in tasks:
            run(task)


def _unit_loss_changes(forward, l, j, cols, step_plus, step_minus):
    """Summed loss changes ``L(θ + h⁺) - L(θ - h⁻)`` for the weights ``(j, cols)`` of layer ``l``."""
    indptr, rows_all, vals_all = forward.columns(l)
    out = np.zeros(len(cols))
    last = l == forward.n_layers - 1
    if not last:
        z_unit = forward.pre_activations[l][:, j]
        a_unit = forward.activations[l + 1][:, j]
    width = max([1] + list(forward.sizes[l + 2:]))
    if not last:
        chunk = max(256, _CHUNK // width)
    else:  # a softmax entry copies its example's row of logits
        chunk = 4 * _CHUNK // (forward.sizes[-1] if forward.output == "softmax" else 1)
        chunk = max(256, chunk)
    starts, ends = indptr[cols], indptr[cols + 1]
    counts = ends - starts
    pos = 0
    while pos < len(cols):
        # a group of columns whose entries fit in one chunk (at least one column)
        stop = pos + 1
        total = counts[pos]
        while stop < len(cols) and total + counts[stop] <= chunk:
            total += counts[stop]
            stop += 1
        if total == 0:
            pos = stop
            continue
        if stop - pos == 1 or np.all(starts[pos + 1:stop] == ends[pos:stop - 1]):
            sl = slice(starts[pos], ends[stop - 1])      # contiguous columns
            rows, vals = rows_all[sl], vals_all[sl]
        else:
            idx = np.concatenate([np.arange(s, e) for s, e in zip(starts[pos:stop], ends[pos:stop])])
            rows, vals = rows_all[idx], vals_all[idx]
        owner = np.repeat(np.arange(stop - pos), counts[pos:stop])
        hp = step_plus[pos:stop][owner] * vals
        hm = step_minus[pos:stop][owner] * vals
        if last:
            diff = forward.output_loss_changes(j, rows, hp, hm)
        else:
            z0, a0 = z_unit[rows], a_unit[rows]
            change_plus = activate(forward.hidden[l], z0 + hp) - a0
            change_minus = activate(forward.hidden[l], z0 - hm) - a0
            diff = (forward.downstream_loss(l, j, change_plus, rows)
                    - forward.downstream_loss(l, j, change_minus, rows))
        out[pos:stop] = np.bincount(owner, weights=diff, minlength=stop - pos)
        pos = stop
    return out
