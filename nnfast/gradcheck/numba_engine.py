"""Every perturbation of the layer before the output in one call of the compiled kernel.

The kernel is :func:`nnfast._kernels.numba_gradcheck.penultimate_loss_changes`;
this module decides when it is worth using, lays out its arguments and runs it
with the requested number of threads.  numba is imported on first use only.
"""

from __future__ import annotations

import numpy as np

#: the kernel once imported; False where numba cannot be used (the NumPy path then does the work)
_KERNEL = None


def penultimate_kernel():
    """The numba kernel, or None where numba cannot be used."""
    global _KERNEL
    if _KERNEL is None:
        try:
            from .._kernels.numba_gradcheck import penultimate_loss_changes
        except Exception:  # numba missing or broken: the NumPy path does the work
            penultimate_loss_changes = False
        _KERNEL = penultimate_loss_changes
    return _KERNEL or None


def worth_compiling(forward, n_requested) -> bool:
    """Whether ``n_requested`` weights of the layer before the output repay the compiled kernel.

    A few weights are cheaper on the NumPy path than the kernel's set-up (and,
    in a fresh process without numba's cache, its compile).
    """
    layer_shape = forward.offsets[forward.n_layers - 2][2]
    return n_requested >= max(64, 0.05 * np.prod(layer_shape))


def kernel_loss_changes(kernel, forward, tasks, step_plus, step_minus, n_threads, out):
    """``out[sel] = Σ_i loss_i(θ + h⁺) - loss_i(θ - h⁻)`` for every task of the layer before the output.

    Parameters
    ----------
    kernel : the compiled kernel, from :func:`penultimate_kernel`
    forward : nnfast.gradcheck.forward.ForwardPass
    tasks : list of (layer, unit, cols, sel)
        The perturbations of that layer grouped by unit: weights ``(unit, cols)``,
        whose results go to ``out[sel]``.
    step_plus, step_minus : ndarray of float64
        The representable steps of every requested parameter.
    n_threads : int
    out : ndarray of float64  # OUT
    """
    layer = forward.n_layers - 2
    n_cols = forward.offsets[layer][2][1]
    units = np.array([t[1] for t in tasks], dtype=np.intp)
    # one pass over the union of the requested inputs, with zero steps where a unit has none
    wanted = np.zeros(n_cols, dtype=bool)
    steps_plus = np.zeros((len(tasks), n_cols))
    steps_minus = np.zeros((len(tasks), n_cols))
    for u, (_, _, cols, sel) in enumerate(tasks):
        wanted[cols] = True
        steps_plus[u, cols] = step_plus[sel]
        steps_minus[u, cols] = step_minus[sel]
    indptr, cols, vals = forward.rows_layout(layer, wanted)
    z_hidden = forward.pre_activations[layer]
    z_out = forward.pre_activations[layer + 1]
    changes = np.zeros((len(tasks), n_cols))

    import numba

    from ..backends._numba_notice import compile_notice

    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(n_threads, numba.config.NUMBA_NUM_THREADS)))
    try:
        with compile_notice("gradient check"):  # a line on stderr if it compiles
            kernel(units, steps_plus, steps_minus, indptr, cols, vals,
                   z_hidden, np.exp(-np.abs(z_hidden)), z_out, np.exp(-np.abs(z_out)),
                   forward.Y, forward.weights[layer + 1], forward.loss == "squared_error",
                   changes)
    finally:
        numba.set_num_threads(before)
    for u, (_, _, cols, sel) in enumerate(tasks):
        out[sel] = changes[u, cols]
