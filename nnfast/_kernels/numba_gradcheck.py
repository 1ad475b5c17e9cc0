"""The gradient check's numba kernel: central differences of the layer before the output.

:func:`penultimate_loss_changes` serves ``nnfast.gradcheck`` in its common
case, a weight layer followed by the output layer (the first layer of ex4).
It computes what the NumPy path of :mod:`nnfast.gradcheck.numerical` computes
for that layer, one entry (example, input) at a time without temporaries, in
parallel over the perturbed units.

Nothing is compiled at import: numba compiles the kernel at its first call
(``cache=True``: a later process loads the machine code from disk).  The work
of one unit, :func:`_unit_loss_changes`, is compiled once as a C function that
the prange calls through its address: numba builds a prange's body as nested
functions, each a module of its own that linked, optimised and emitted all the
code it calls again (as with the fused kernel's drivers, see
:mod:`nnfast._kernels.numba_fused`); a cold ``gradient_check`` of ex4's network
took 17.5-18.4 s, 13.4-14.9 s this way, with the same bits (AMD Zen 3 VM).

How the loss changes stay exact
-------------------------------
For a unit with pre-activation ``z``, ``F = exp(-|z|)`` and ``s = sign(z)``,
``σ(z + t) - σ(z + t0)`` is computed as
``-s F g(t0) expm1(-s (t - t0)) / ((1 + F g(t)) (1 + F g(t0)))`` with
``g(t) = exp(-s t)``: no cancellation while ``z + t`` keeps the sign of
``z``.  The cross-entropy change of an output is accumulated as a linear part
and ``log1p`` of a product of ratios, again without cancellation.  For small
arguments (``|t| <= 2^-5``, ``|x| <= 1e-3``) expm1 and log1p are their Taylor
series, exact to round-off (the truncation term is below 1e-17 relative).
Entries with larger steps, or whose logit could change sign, are flagged and
recomputed by the plain formulas with the shared sigmoid and
``log1p(exp(-|z|))`` of :mod:`nnfast._kernels.numba_math`.  Both are exact
evaluations of the perturbed cost, not approximations of it.

Which networks
--------------
These identities are those of a logistic unit feeding logistic outputs (ex4's
network, with either loss).  For any other activation of the layer before the
output, or another output, :func:`handles` is False and the gradient check
takes its NumPy engine for that layer.
"""

import math

import numpy as np
from numba import njit, prange, types

from .numba_fused import CFunctions
from .numba_math import log1p_exp_neg_abs, sigmoid_inplace

__all__ = ["handles", "penultimate_loss_changes"]

# contraction only: the small-argument series are summed in the order written
_OPTS = dict(error_model="numpy", fastmath={"contract"})

#: steps up to this size (and up to |z| itself) take the series; larger ones the plain formulas
_SERIES_LIMIT = 0.03125


def handles(activations, output) -> bool:
    """Whether :func:`penultimate_loss_changes` computes this network's loss changes:
    the layer before the output logistic (``activations[-1]``, all of ex4's when None
    or empty: a network without hidden layers has no such layer) and logistic outputs."""
    return output == "logistic" and (not activations or activations[-1] == "logistic")


@njit(inline="always", **_OPTS)
def _expm1_small(t):
    """``exp(t) - 1`` by its Taylor series, for ``|t| <= 2^-5``."""
    return t * (1.0 + t * (0.5 + t * (1.0 / 6 + t * (1.0 / 24 + t * (
        1.0 / 120 + t * (1.0 / 720 + t * (1.0 / 5040 + t * (1.0 / 40320))))))))


@njit(inline="always", **_OPTS)
def _log1p(x):
    """``log(1 + x)``: the Taylor series for ``|x| <= 1e-3``, libm beyond."""
    if abs(x) <= 1e-3:
        return x * (1.0 - x * (0.5 - x * (1.0 / 3 - x * (0.25 - x * (
            0.2 - x * (1.0 / 6 - x * (1.0 / 7)))))))
    return math.log1p(x)


@njit(cache=True, **_OPTS)
def _loss_change_by_plain_formulas(z_unit, step_plus, step_minus, z_out_row, y_row, w_col,
                                   squared, scratch):
    """``loss(θ + h⁺) - loss(θ - h⁻)`` of one example, recomputed from the logits.

    ``scratch`` is ``(hidden, out_plus, out_minus, softplus_plus, softplus_minus)``:
    float64 arrays of 3 and 4 x n_out values.
    """
    hidden, out_plus, out_minus, softplus_plus, softplus_minus = scratch
    n_out = z_out_row.shape[0]
    hidden[0] = z_unit
    hidden[1] = z_unit + step_plus
    hidden[2] = z_unit + step_minus
    sigmoid_inplace(hidden)
    change_plus = hidden[1] - hidden[0]
    change_minus = hidden[2] - hidden[0]
    for o in range(n_out):
        out_plus[o] = z_out_row[o] + change_plus * w_col[o]
        out_minus[o] = z_out_row[o] + change_minus * w_col[o]
    value = 0.0
    if squared:
        sigmoid_inplace(out_plus)
        sigmoid_inplace(out_minus)
        for o in range(n_out):
            value += 0.5 * ((out_plus[o] - y_row[o]) ** 2 - (out_minus[o] - y_row[o]) ** 2)
    else:
        # softplus(u) = log(1 + e^u) = max(u, 0) + log1p(exp(-|u|))
        log1p_exp_neg_abs(out_plus, softplus_plus)
        log1p_exp_neg_abs(out_minus, softplus_minus)
        for o in range(n_out):
            up, um = out_plus[o], out_minus[o]
            value += ((max(up, 0.0) + softplus_plus[o]) - (max(um, 0.0) + softplus_minus[o])
                      - y_row[o] * (up - um))
    return value


def _unit_loss_changes(u, units, steps_plus, steps_minus, indptr, cols, vals, z_hidden,
                       exp_neg_abs_hidden, z_out, exp_neg_abs_out, Y, w_out, squared, width, out):
    """The loss changes of unit ``units[u]``'s weights into ``out[u]`` (see
    :func:`penultimate_loss_changes`; ``width``: most nonzero entries of an example)."""
    m = z_hidden.shape[0]
    n_out = z_out.shape[1]
    j = units[u]
    hp_u = steps_plus[u]
    hm_u = steps_minus[u]
    acc = out[u]
    change_plus = np.empty(width)
    change_minus = np.empty(width)
    ratio = np.empty(width)
    linear = np.empty(width)
    total = np.empty(width)
    needs_plain = np.empty(width)  # >= 0: recompute this entry by the plain formulas
    scratch = (np.empty(3), np.empty(n_out), np.empty(n_out), np.empty(n_out),
               np.empty(n_out))
    w_col = np.empty(n_out)
    for o in range(n_out):
        w_col[o] = w_out[o, 1 + j]
    for i in range(m):
        start = indptr[i]
        n = indptr[i + 1] - start
        c = cols[start:start + n]
        v = vals[start:start + n]
        z0 = z_hidden[i, j]
        F = exp_neg_abs_hidden[i, j]
        s = 1.0 if z0 >= 0 else -1.0
        limit = min(abs(z0), _SERIES_LIMIT)
        for e in range(n):
            sp = hp_u[c[e]] * v[e]
            sm = -hm_u[c[e]] * v[e]
            gp = 1.0 + _expm1_small(-s * sp)
            gm = 1.0 + _expm1_small(-s * sm)
            change_plus[e] = -s * F * _expm1_small(-s * sp) / ((1.0 + F * gp) * (1.0 + F))
            change_minus[e] = -s * F * _expm1_small(-s * sm) / ((1.0 + F * gm) * (1.0 + F))
            needs_plain[e] = max(abs(sp), abs(sm)) - limit
            ratio[e] = 0.0
            linear[e] = 0.0
            total[e] = 0.0
        for o in range(n_out):
            zo = z_out[i, o]
            Fo = exp_neg_abs_out[i, o]
            yo = Y[i, o]
            so = 1.0 if zo >= 0 else -1.0
            positive = 1.0 if zo >= 0 else 0.0
            limit_o = min(abs(zo), _SERIES_LIMIT)
            w = w_col[o]
            if squared:
                for e in range(n):
                    tp = change_plus[e] * w
                    tm = change_minus[e] * w
                    gm = 1.0 + _expm1_small(-so * tm)
                    gp = gm * (1.0 + _expm1_small(-so * (tp - tm)))
                    dh = -so * Fo * gm * _expm1_small(-so * (tp - tm)) / (
                        (1.0 + Fo * gp) * (1.0 + Fo * gm))
                    rp = 1.0 / (1.0 + Fo * gp)
                    rm = 1.0 / (1.0 + Fo * gm)
                    hsum = rp + rm if so > 0 else 2.0 - rp - rm
                    total[e] += 0.5 * dh * (hsum - 2.0 * yo)
                    needs_plain[e] = max(needs_plain[e], max(abs(tp), abs(tm)) - limit_o)
            else:
                for e in range(n):
                    tp = change_plus[e] * w
                    tm = change_minus[e] * w
                    dt = tp - tm
                    gm = 1.0 + _expm1_small(-so * tm)
                    r = Fo * gm * _expm1_small(-so * dt) / (1.0 + Fo * gm)
                    ratio[e] += r + ratio[e] * r
                    linear[e] += (positive - yo) * dt
                    needs_plain[e] = max(needs_plain[e], max(abs(tp), abs(tm)) - limit_o)
        for e in range(n):
            if needs_plain[e] >= 0:
                value = _loss_change_by_plain_formulas(
                    z0, hp_u[c[e]] * v[e], -hm_u[c[e]] * v[e], z_out[i], Y[i], w_col,
                    squared, scratch)
            elif squared:
                value = total[e]
            else:
                value = linear[e] + _log1p(ratio[e])
            acc[c[e]] += value
    return 0


@njit(parallel=True, cache=True, **_OPTS)
def _loss_changes_in_parallel(kernel, units, steps_plus, steps_minus, indptr, cols, vals,
                              z_hidden, exp_neg_abs_hidden, z_out, exp_neg_abs_out, Y, w_out,
                              squared, width, out):
    """``kernel`` (:func:`_unit_loss_changes` as a C function) for every unit, in parallel."""
    for u in prange(units.shape[0]):
        # (prange's index is unsigned; the kernel takes an int64)
        kernel(np.int64(u), units, steps_plus, steps_minus, indptr, cols, vals, z_hidden,
               exp_neg_abs_hidden, z_out, exp_neg_abs_out, Y, w_out, squared, width, out)


#: the per-unit kernel as a C function, per argument types
_KERNELS = CFunctions({"unit": (_unit_loss_changes, types.int64)}, dict(cache=True, **_OPTS))


def penultimate_loss_changes(units, steps_plus, steps_minus, indptr, cols, vals,
                             z_hidden, exp_neg_abs_hidden, z_out, exp_neg_abs_out, Y, w_out,
                             squared, out):
    """``out[u, k] += Σ_i loss_i(θ + h⁺) - loss_i(θ - h⁻)`` for weight ``(units[u], k)``.

    Parameters
    ----------
    units : int array (n_units,)
        The perturbed units of the layer before the output.
    steps_plus, steps_minus : float64 (n_units, n_in + 1)
        The representable steps ``h⁺``, ``h⁻`` of each of their weights (0 where unchecked).
    indptr, cols, vals : CSR by example
        Nonzero entries ``(i, k, v)`` of the layer's input with its bias column.
    z_hidden, exp_neg_abs_hidden : float64 (m, n_units_in_layer)
        Pre-activations of the layer and ``exp(-|z|)`` of them.
    z_out, exp_neg_abs_out : float64 (m, n_out)
        The same of the output layer.
    Y : float64 (m, n_out)
    w_out : float64 (n_out, n_units_in_layer + 1)
        The output layer's weights.
    squared : bool
        Squared error (else cross-entropy).
    out : float64 (n_units, n_in + 1)  # OUT
    """
    # most nonzero entries of one example: the length of the kernel's scratch arrays
    width = np.int64(np.max(np.diff(indptr), initial=0))
    args = (units, steps_plus, steps_minus, indptr, cols, vals, z_hidden, exp_neg_abs_hidden,
            z_out, exp_neg_abs_out, Y, w_out, bool(squared), width, out)
    kernel = _KERNELS.get("unit", (np.int64(0),) + args)
    _loss_changes_in_parallel(kernel, *args)
