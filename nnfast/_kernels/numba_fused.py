"""numba kernels of the ``numba`` backend: one fused pass over row blocks.

Nothing here is compiled at import: the functions are ``@njit`` without
signatures (compiled on the first call, one specialisation per dtype) and
``cache=True`` (a later process loads the machine code from disk).  Each
call compiles only the path it runs: :func:`chunk_loss_grad` gets ``None``
for what a call does not need (the gradient ``G`` for the loss only;
``W1_no_bias`` for the register-tile first layer, ``XT_blocks`` for the BLAS
one), and numba makes each combination its own specialisation, in which the
other paths are never typed (overloads on the type of ``W1_no_bias``, and
numba's pruning of ``is None`` branches on arguments):

=====================  ===============  =====================================
``G``                  ``W1_no_bias``   path
=====================  ===============  =====================================
None                   None             loss only, first layer by tiles
array                  None             loss and gradient, tiles
None                   array            loss only, first layer by BLAS
array                  array            loss and gradient, BLAS
=====================  ===============  =====================================

:func:`chunk_forward` (predictions) is a fifth driver, one specialisation per
first-layer path.  The hidden activations are codes passed as values
(``act_codes``), so they add no specialisations: each driver branches on them
outside its loops over rows; so is the head (``head``).

The driver runs the blocks of one chunk; the parallel drivers
(:func:`chunks_loss_grad`, :func:`chunks_loss`, :func:`chunks_forward`) run
every chunk of a call in a ``prange`` (the backend's path on a thread-safe
threading layer), each chunk through a kernel, a serial driver compiled as a C
function and passed by its address (:class:`ParallelDrivers`).  ex4's network,
scikit-learn's MLP defaults (relu under a softmax or an identity output) and tanh
under a softmax have kernels of their own (:data:`FIXED_NETWORKS`), in whose code
the activation and head are constants: a first call then compiles only their code.  Every
other network shares the set of its head, which branches on the activation codes
at run time (:func:`drivers_key`).  The serial drivers are inlined into the kernels
at numba's IR level (``inline="always"``), which saves compiling and optimising them
once more as functions of their own (about a second); so are the building blocks
that only dispatch, index or run one short loop (``_INLINED``).  The others
(``_forward_hidden``, ``_backward_hidden``, the heads' loss functions, the register
tiles) are compiled once per dtype and constant; the register tiles live in
:mod:`nnfast._kernels.numba_tiles`, exp, the sigmoids, tanh, ``log1p`` and the
softmax's log (the C kernel's algorithms) in :mod:`nnfast._kernels.numba_math`.

Layout (see :mod:`nnfast.backends._numba`):

* ``X_flat``  flat view of X (m, n_in), rows contiguous.
* ``XT_blocks``  (tiles, gradient; else None) flat (n_blocks, n_in,
  block_rows) copy of X, each block transposed and zero padded: the first
  layer's gradient runs along the rows of a block with a 4 x 5 register tile
  of ``G1``, written once per block.
* ``YT``  flat (n_out, m) targets, units-major: the transpose of Y, which one-shot
  calls get from the checks as it is (no copy, nothing to allocate per block).
* ``W1_no_bias``  (BLAS; else None) the first layer's weights without their
  bias column, (n1, n_in), C-contiguous.
* Inside a block of ``nb`` rows every activation and delta is units-major
  with row stride ``nb``: layer l is one contiguous (n_l, nb) matrix, which
  BLAS takes as it is and the activation runs over in one call.

Every other array argument is 1-D and C-contiguous, so the driver has one
specialisation per dtype and path; float32 kernels get typed ``zero``/``one`` scalars
so that no float64 literal promotes them.  The loss is accumulated in float64.
"""

import threading

import numpy as np
from numba import cfunc, njit, prange, typeof, types
from numba.extending import overload

from .._activations import ACTIVATION_CODES, HEAD_CODES
from .numba_math import (exp_inplace, log_ge1_inplace, sigmoid_inplace, sigmoid_log1p_exp_neg_abs,
                         tanh_inplace)
from .numba_tiles import INNER, INNER_OPTIONS, JIT_OPTIONS, _dots_acc_best, _I0, _I1, _tile_dots

# compile-time constants of the activation and head branches (globals are frozen into the
# machine code); the codes are values, not types, so every network shares one specialisation
ACT_LOGISTIC = ACTIVATION_CODES["logistic"]
ACT_TANH = ACTIVATION_CODES["tanh"]
ACT_RELU = ACTIVATION_CODES["relu"]
ACT_IDENTITY = ACTIVATION_CODES["identity"]
HEAD_LOGISTIC_CROSS_ENTROPY = HEAD_CODES[("logistic", "cross_entropy")]
HEAD_LOGISTIC_SQUARED_ERROR = HEAD_CODES[("logistic", "squared_error")]
HEAD_SOFTMAX_CROSS_ENTROPY = HEAD_CODES[("softmax", "cross_entropy")]
HEAD_IDENTITY_SQUARED_ERROR = HEAD_CODES[("identity", "squared_error")]

#: the options of the building blocks that only dispatch, index or run one short loop:
#: inlined into their callers in numba's IR (typed there, never compiled as functions of
#: their own).  Every function numba compiles is a module of its own that it optimises,
#: emits and links into each caller; inlined, a wrapper costs only its typing.  Only code
#: whose caller has the same fast-math flags is inlined (see _LOSS_OPTIONS)
_INLINED = dict(INNER_OPTIONS, inline="always")


# ---- building blocks of one block of nb rows --------------------------------
@njit(**_INLINED)
def _block_buffers(theta, sizes, unit_starts, block_rows):
    """Per-chunk work arrays: activations ``A`` (all layers, units x rows), output
    logits ``Zo``, deltas ``D``/``Dn``, loss terms ``E`` and the softmax's per-row
    statistics ``R`` (5 x rows)."""
    L = sizes.shape[0] - 1
    widest = 1
    for l in range(1, L + 1):
        widest = max(widest, sizes[l])
    A = np.empty(unit_starts[L] * block_rows, dtype=theta.dtype)
    Zo = np.empty(sizes[L] * block_rows, dtype=theta.dtype)
    D = np.empty(widest * block_rows, dtype=theta.dtype)
    Dn = np.empty(widest * block_rows, dtype=theta.dtype)
    E = np.empty(sizes[L] * block_rows, dtype=theta.dtype)
    R = np.empty(5 * block_rows, dtype=theta.dtype)
    return A, Zo, D, Dn, E, R


def _forward_first_tiles(X_flat, theta, W1_no_bias, sizes, weight_starts, r0, nb, A, zero):
    """:func:`_first_forward` by 4 x 5 register tiles: A[o*nb + r] = W1[o, 1:] . X[r0 + r]."""
    n_in = sizes[0]
    _tile_dots(X_flat, r0 * n_in, n_in, nb, theta, weight_starts[0] + 1, n_in + 1, sizes[1], n_in,
               A, _I0, _I1, nb, np.bool_(False), zero)


def _forward_first_blas(X_flat, theta, W1_no_bias, sizes, weight_starts, r0, nb, A, zero):
    """:func:`_first_forward` by one BLAS gemm: A[:n1*nb] as (n1, nb) = W1_no_bias .
    X[r0:r0+nb]^T."""
    n_in = sizes[0]
    Xb = X_flat[r0 * n_in:(r0 + nb) * n_in].reshape((nb, n_in))
    np.dot(W1_no_bias, Xb.T, A[:sizes[1] * nb].reshape((sizes[1], nb)))


@njit(**_INLINED)
def _relu_inplace(z):
    zero = z.dtype.type(0)
    for i in range(z.shape[0]):
        z[i] = max(z[i], zero)


@njit(**_INLINED)
def _activate(act, z):
    """z[:] = g(z) for the hidden activation code ``act``."""
    if act == ACT_LOGISTIC:
        sigmoid_inplace(z)
    elif act == ACT_TANH:
        tanh_inplace(z)
    elif act == ACT_RELU:
        _relu_inplace(z)


def _activate_layer(act, act_codes, i, z):
    """:func:`_activate` of hidden layer ``i + 1``: ``act``, the activation of every
    hidden layer, or -1 for ``act_codes[i]``.  A literal ``act`` (what the parallel
    drivers pass) compiles only its own activation."""
    raise NotImplementedError("only callable from numba-compiled code")


@overload(_activate_layer, jit_options=INNER_OPTIONS, prefer_literal=True)
def _activate_layer_ov(act, act_codes, i, z):
    code = getattr(act, "literal_value", None)
    if code == ACT_LOGISTIC:
        return lambda act, act_codes, i, z: sigmoid_inplace(z)
    if code == ACT_TANH:
        return lambda act, act_codes, i, z: tanh_inplace(z)
    if code == ACT_RELU:
        return lambda act, act_codes, i, z: _relu_inplace(z)
    if code == ACT_IDENTITY:
        return lambda act, act_codes, i, z: None
    return lambda act, act_codes, i, z: _activate(act_codes[i], z)


@njit(**INNER_OPTIONS)
def _forward_hidden(theta, sizes, weight_starts, unit_starts, act_codes, act, nb, A, Zo):
    """Bias and activation (``act``, or ``act_codes[l - 1]`` for layer l if ``act`` is -1:
    see :func:`_activate_layer`) of layer 1 (its products
    are in A already), then every later layer; the output layer's logits are copied
    to ``Zo``, its activations left to :func:`_output_layer` (which gets them from the
    same exp as the loss) or :func:`_output_activation`."""
    L = sizes.shape[0] - 1
    n_in = sizes[0]
    for l in range(1, L + 1):
        nl = sizes[l]
        npv = sizes[l - 1]
        base = unit_starts[l - 1] * nb
        if l == 1:
            for o in range(nl):
                bo = theta[weight_starts[0] + o * (n_in + 1)]
                zr = A[base + o * nb:base + (o + 1) * nb]
                for r in range(nb):
                    zr[r] += bo
        else:
            prev = unit_starts[l - 2] * nb
            for o in range(nl):
                wrow = weight_starts[l - 1] + o * (npv + 1)
                bo = theta[wrow]
                zr = A[base + o * nb:base + (o + 1) * nb]
                for r in range(nb):
                    zr[r] = bo
                for j in range(npv):
                    w = theta[wrow + 1 + j]
                    ar = A[prev + j * nb:prev + (j + 1) * nb]
                    for r in range(nb):
                        zr[r] += w * ar[r]
        layer = A[base:base + nl * nb]
        if l < L:
            _activate_layer(act, act_codes, l - 1, layer)
        else:
            for i in range(nl * nb):
                Zo[i] = layer[i]


@njit(**INNER_OPTIONS)
def _softmax_rows(Zo, H, n_out, nb, R):
    """H (n_out x nb) = the softmax over the outputs of every row of ``Zo``, as the C
    kernel's ``softmax_rows_vec``: M = max_o z_o, S = sum_o exp(z_o - M) (no exp
    overflows), h = exp(z - M) (1 / S).  Leaves M in ``R[:nb]`` and S in ``R[nb:2 nb]``
    (``R`` of >= 3 nb values)."""
    zmax = R[:nb]
    total = R[nb:2 * nb]
    for r in range(nb):
        zmax[r] = Zo[r]
    for o in range(1, n_out):
        z = Zo[o * nb:(o + 1) * nb]
        for r in range(nb):
            zmax[r] = max(zmax[r], z[r])
    for o in range(n_out):
        z = Zo[o * nb:(o + 1) * nb]
        h = H[o * nb:(o + 1) * nb]
        for r in range(nb):
            h[r] = z[r] - zmax[r]
    exp_inplace(H[:n_out * nb])
    for r in range(nb):
        total[r] = H[r]
    for o in range(1, n_out):
        h = H[o * nb:(o + 1) * nb]
        for r in range(nb):
            total[r] += h[r]
    one = H.dtype.type(1)
    inverse = R[2 * nb:3 * nb]
    for r in range(nb):
        inverse[r] = one / total[r]
    for o in range(n_out):
        h = H[o * nb:(o + 1) * nb]
        for r in range(nb):
            h[r] = h[r] * inverse[r]


# Inlined into the loss functions: where their argument RW is None numba prunes the other
# branch before typing, and the unweighted kernels multiply by a constant 1 of their dtype,
# which compiles away (x * 1 is x) before any multiply-add is formed: their results keep
# every bit (``one``, a run-time value, would not fold)
@njit(**_INLINED)
def _row_weight(RW, i, like):
    """The weight of row i: ``RW[i]``, or 1 of the dtype of the array ``like`` when ``RW``
    is None (unweighted)."""
    if RW is None:
        return like.dtype.type(1)
    return RW[i]


#: the options of the functions that sum the block's loss: contraction only.  With
#: reassociation LLVM vectorised those sums one way when a process compiled the kernel
#: and another way in the copy it cached: a first run's loss differed from every later
#: run's in the last bit (AMD Zen 3; test_second_process_loads_from_cache).  Summed in
#: order, both agree; the sum is over n_out values per row, little next to the block's
#: products (numba's ex4 timing moved within the noise)
_LOSS_OPTIONS = dict(INNER_OPTIONS, fastmath={"contract"})


@njit(**_LOSS_OPTIONS)
def _softmax_output(Zo, H, y_at, y_stride, n_out, nb, need_grad, D, R, zero, RW, row0):
    """Softmax activations into ``H``, the summed categorical cross-entropy (float64)
    sum_o y_o (M + log S - z_o) = ysum (M + log S) - sum_o y_o z_o of each row and, if
    ``need_grad``, the error h ysum - y into ``D`` (h - y for one-hot targets), as the
    C kernel's ``softmax_vec``.  Target o of row r is ``y_at[o * y_stride + r]``; row r
    weighs ``RW[row0 + r]`` (None: 1)."""
    _softmax_rows(Zo, H, n_out, nb, R)
    zmax = R[:nb]
    log_total = R[nb:2 * nb]
    ysum = R[3 * nb:4 * nb]
    yz = R[4 * nb:5 * nb]
    log_ge1_inplace(log_total)
    for r in range(nb):
        ysum[r] = zero
        yz[r] = zero
    for o in range(n_out):
        y = y_at[o * y_stride:o * y_stride + nb]
        z = Zo[o * nb:(o + 1) * nb]
        for r in range(nb):
            ysum[r] += y[r]
            yz[r] += y[r] * z[r]
    cost = 0.0
    for r in range(nb):
        cost += _row_weight(RW, row0 + r, Zo) * (ysum[r] * (zmax[r] + log_total[r]) - yz[r])
    if need_grad:
        for o in range(n_out):
            y = y_at[o * y_stride:o * y_stride + nb]
            h = H[o * nb:(o + 1) * nb]
            d = D[o * nb:(o + 1) * nb]
            for r in range(nb):
                d[r] = (h[r] * ysum[r] - y[r]) * _row_weight(RW, row0 + r, Zo)
    return cost


@njit(**_INLINED)
def _output_offsets(sizes, unit_starts, b, block_rows, m, nb):
    """``(n_out, hb, r0)`` of block ``b``: the outputs, where their activations start
    in the activation buffer, and its first row (target o of the block's row r is
    ``YT[r0 + o * m + r]``)."""
    L = sizes.shape[0] - 1
    n_out = sizes[L]
    return n_out, unit_starts[L - 1] * nb, b * block_rows


@njit(**_INLINED)
def _softmax_layer(Zo, A, YT, sizes, unit_starts, b, block_rows, m, nb, need_grad, D, R, zero,
                   RW):
    """:func:`_output_layer` of the softmax head."""
    n_out, hb, r0 = _output_offsets(sizes, unit_starts, b, block_rows, m, nb)
    return _softmax_output(Zo, A[hb:hb + n_out * nb], YT[r0:], m, n_out, nb,
                           need_grad, D, R, zero, RW, r0)


@njit(**_LOSS_OPTIONS)
def _identity_layer(Zo, A, YT, sizes, unit_starts, b, block_rows, m, nb, need_grad, D,
                    one, RW):
    """:func:`_output_layer` of the identity head (squared error)."""
    n_out, hb, r0 = _output_offsets(sizes, unit_starts, b, block_rows, m, nb)
    half = one / (one + one)
    cost = 0.0
    for o in range(n_out):
        z = Zo[o * nb:(o + 1) * nb]
        h = A[hb + o * nb:hb + (o + 1) * nb]
        y = YT[r0 + o * m:r0 + o * m + nb]
        d = D[o * nb:(o + 1) * nb]
        for r in range(nb):
            e = z[r] - y[r]
            h[r] = z[r]
            cost += _row_weight(RW, r0 + r, Zo) * (half * e * e)
        if need_grad:
            for r in range(nb):
                d[r] = (z[r] - y[r]) * _row_weight(RW, r0 + r, Zo)
    return cost


@njit(**_LOSS_OPTIONS)
def _logistic_layer(Zo, A, YT, sizes, unit_starts, b, block_rows, m, nb, head, need_grad, D, E,
                    zero, one, RW):
    """:func:`_output_layer` of the two logistic heads (cross-entropy or squared error)."""
    n_out, hb, r0 = _output_offsets(sizes, unit_starts, b, block_rows, m, nb)
    half = one / (one + one)
    cost = 0.0
    # h and log1p(exp(-|z|)) from one exp(-|z|) per logit, as the C kernel's output
    # layer: the cross-entropy max(z, 0) - y z + log1p(exp(-|z|)) is finite for
    # saturated outputs
    sigmoid_log1p_exp_neg_abs(Zo[:n_out * nb], A[hb:hb + n_out * nb], E[:n_out * nb])
    for o in range(n_out):
        z = Zo[o * nb:(o + 1) * nb]
        h = A[hb + o * nb:hb + (o + 1) * nb]
        y = YT[r0 + o * m:r0 + o * m + nb]
        d = D[o * nb:(o + 1) * nb]
        if head == HEAD_LOGISTIC_CROSS_ENTROPY:
            sp = E[o * nb:(o + 1) * nb]
            for r in range(nb):
                zz = z[r]
                cost += _row_weight(RW, r0 + r, Zo) * (max(zz, zero) - y[r] * zz + sp[r])
            if need_grad:
                for r in range(nb):
                    d[r] = (h[r] - y[r]) * _row_weight(RW, r0 + r, Zo)
        else:
            for r in range(nb):
                e = h[r] - y[r]
                cost += _row_weight(RW, r0 + r, Zo) * (half * e * e)
            if need_grad:
                for r in range(nb):
                    d[r] = ((h[r] - y[r]) * h[r] * (one - h[r])) * _row_weight(RW, r0 + r, Zo)
    return cost


# The head's dispatch is inlined into its callers, as they are into the parallel drivers'
# kernels, where ``head_tag`` is a constant: numba prunes every comparison of it before it
# types the code, so a kernel compiles its own head's code only (ex4's logistic output
# never types the softmax's: about 3 s of a first call); -1 leaves the choice to the value
# of ``head``.  The heads' loss functions are functions of their own: they sum with other
# fast-math flags than the kernels'
@njit(**_INLINED)
def _output_layer(Zo, A, YT, sizes, unit_starts, b, block_rows, m, nb, head, head_tag,
                  need_grad, D, E, R, zero, one, RW):
    """The output activations into ``A`` from the logits ``Zo``, the summed loss
    (float64) of block ``b`` for the head code ``head`` and, if ``need_grad``, the
    output error dJ/dz into ``D`` (n_out x nb).  ``RW``: (m,) row weights, each row's
    loss and error multiplied by its own, or None.

    ``head_tag``: the head again, as a constant of the parallel drivers' kernels (only
    its branch is compiled), or -1 (any head, by the value of ``head``)."""
    if head_tag == HEAD_SOFTMAX_CROSS_ENTROPY or (
            head_tag == -1 and head == HEAD_SOFTMAX_CROSS_ENTROPY):
        return _softmax_layer(Zo, A, YT, sizes, unit_starts, b, block_rows, m, nb,
                              need_grad, D, R, zero, RW)
    if head_tag == HEAD_IDENTITY_SQUARED_ERROR or (
            head_tag == -1 and head == HEAD_IDENTITY_SQUARED_ERROR):
        return _identity_layer(Zo, A, YT, sizes, unit_starts, b, block_rows, m, nb,
                               need_grad, D, one, RW)
    return _logistic_layer(Zo, A, YT, sizes, unit_starts, b, block_rows, m, nb, head,
                           need_grad, D, E, zero, one, RW)


@njit(**_INLINED)
def _output_activation(Zo, H, n_out, nb, head, head_tag, R):
    """The output activations H (n_out x nb) of the logits ``Zo`` without targets (a
    forward pass), as the C kernel's ``output_activation``; ``head_tag`` as for
    :func:`_output_layer`."""
    if head_tag == HEAD_SOFTMAX_CROSS_ENTROPY or (
            head_tag == -1 and head == HEAD_SOFTMAX_CROSS_ENTROPY):
        _softmax_rows(Zo, H, n_out, nb, R)
        return
    for i in range(n_out * nb):
        H[i] = Zo[i]
    if head_tag == HEAD_IDENTITY_SQUARED_ERROR or (
            head_tag == -1 and head == HEAD_IDENTITY_SQUARED_ERROR):
        return
    sigmoid_inplace(H[:n_out * nb])


@njit(**_INLINED)
def _logistic_times_derivative(delta, a, zero, one):
    for r in range(delta.shape[0]):
        delta[r] *= a[r] * (one - a[r])


@njit(**_INLINED)
def _tanh_times_derivative(delta, a, zero, one):
    for r in range(delta.shape[0]):
        delta[r] *= (one - a[r]) * (one + a[r])


@njit(**_INLINED)
def _relu_times_derivative(delta, a, zero, one):
    for r in range(delta.shape[0]):
        delta[r] *= one if a[r] > zero else zero


@njit(**_INLINED)
def _times_derivative(act, delta, a, zero, one):
    """delta[:] *= g'(z) from the activations a = g(z): a (1 - a), (1 - a)(1 + a), 1 where
    a > 0 else 0 (a multiplication, as the C kernel's), or 1 (``act``: activation code)."""
    if act == ACT_LOGISTIC:
        _logistic_times_derivative(delta, a, zero, one)
    elif act == ACT_TANH:
        _tanh_times_derivative(delta, a, zero, one)
    elif act == ACT_RELU:
        _relu_times_derivative(delta, a, zero, one)


def _derivative_layer(act, act_codes, i, delta, a, zero, one):
    """:func:`_times_derivative` of hidden layer ``i + 1``, ``act`` as for
    :func:`_activate_layer`."""
    raise NotImplementedError("only callable from numba-compiled code")


@overload(_derivative_layer, jit_options=INNER_OPTIONS, prefer_literal=True)
def _derivative_layer_ov(act, act_codes, i, delta, a, zero, one):
    code = getattr(act, "literal_value", None)
    if code == ACT_LOGISTIC:
        return lambda act, act_codes, i, delta, a, zero, one: _logistic_times_derivative(
            delta, a, zero, one)
    if code == ACT_TANH:
        return lambda act, act_codes, i, delta, a, zero, one: _tanh_times_derivative(
            delta, a, zero, one)
    if code == ACT_RELU:
        return lambda act, act_codes, i, delta, a, zero, one: _relu_times_derivative(
            delta, a, zero, one)
    if code == ACT_IDENTITY:
        return lambda act, act_codes, i, delta, a, zero, one: None
    return lambda act, act_codes, i, delta, a, zero, one: _times_derivative(
        act_codes[i], delta, a, zero, one)


@njit(**INNER_OPTIONS)
def _backward_hidden(theta, sizes, weight_starts, unit_starts, act_codes, act, nb, A, D, Dn, G,
                     zero, one):
    """Backpropagate the output error in ``D`` through every layer: bias
    gradients of all layers and weight gradients of layers 2..L into ``G``; each
    hidden layer's delta times g'(z) from its activations a = g(z) (code ``act``, or
    ``act_codes[l - 1]`` for layer l if ``act`` is -1).  Returns the array (``D`` or ``Dn``) that
    holds layer 1's delta (n1 x nb)."""
    L = sizes.shape[0] - 1
    for l in range(L, 0, -1):
        nl = sizes[l]
        npv = sizes[l - 1]
        wl = weight_starts[l - 1]
        for o in range(nl):
            dr = D[o * nb:(o + 1) * nb]
            s = zero
            for r in range(nb):
                s += dr[r]
            G[wl + o * (npv + 1)] += s
        if l == 1:
            break
        prev = unit_starts[l - 2] * nb
        _dots_acc_best(D, _I0, nb, nl, A, prev, nb, npv, nb, G, wl + 1, npv + 1, _I1, zero)
        for j in range(npv):
            dn = Dn[j * nb:(j + 1) * nb]
            for r in range(nb):
                dn[r] = zero
            for o in range(nl):
                w = theta[wl + o * (npv + 1) + 1 + j]
                dr = D[o * nb:(o + 1) * nb]
                for r in range(nb):
                    dn[r] += w * dr[r]
            a = A[prev + j * nb:prev + (j + 1) * nb]
            _derivative_layer(act, act_codes, l - 2, dn, a, zero, one)
        D, Dn = Dn, D
    return D


def _grad_first_tiles(D1, X_flat, XT_blocks, W1_no_bias, G1, sizes, weight_starts, b, block_rows,
                      r0, nb, G, zero):
    """:func:`_first_grad` by register tiles, from the block's transposed copy."""
    n_in = sizes[0]
    _dots_acc_best(D1, _I0, nb, sizes[1], XT_blocks, b * n_in * block_rows, block_rows, n_in, nb,
                   G, weight_starts[0] + 1, n_in + 1, _I1, zero)


def _grad_first_blas(D1, X_flat, XT_blocks, W1_no_bias, G1, sizes, weight_starts, b, block_rows,
                     r0, nb, G, zero):
    """:func:`_first_grad` by one BLAS gemm into ``G1`` (n1, n_in), then added to ``G``."""
    n_in = sizes[0]
    n1 = sizes[1]
    Xb = X_flat[r0 * n_in:(r0 + nb) * n_in].reshape((nb, n_in))
    np.dot(D1[:n1 * nb].reshape((n1, nb)), Xb, G1)
    for o in range(n1):
        g = G[weight_starts[0] + o * (n_in + 1) + 1:weight_starts[0] + (o + 1) * (n_in + 1)]
        t = G1[o]
        for k in range(n_in):
            g[k] += t[k]


# ---- the first layer's path, chosen by the type of W1_no_bias when the caller is typed
def _first_forward(X_flat, theta, W1_no_bias, sizes, weight_starts, r0, nb, A, zero):
    """A[:n1*nb] = the first layer's products (no bias) of block rows r0 .. r0 + nb."""
    raise NotImplementedError("only callable from numba-compiled code")


def _first_grad(D1, X_flat, XT_blocks, W1_no_bias, G1, sizes, weight_starts, b, block_rows, r0, nb,
                G, zero):
    """G1[:, 1:] += D1 . X_block, the first layer's weight gradient of block b."""
    raise NotImplementedError("only callable from numba-compiled code")


def _first_grad_shape(W1_no_bias):
    """Shape of the BLAS path's gradient buffer: W1_no_bias's, or (0, 0) for the tiles."""
    raise NotImplementedError("only callable from numba-compiled code")


# The overloads return the implementations themselves, not functions that call them:
# every function numba compiles is a module of its own, which each caller links, optimises
# and emits again (a layer less per path: part of a second of a cold first call)
@overload(_first_forward, jit_options=INNER_OPTIONS)
def _first_forward_ov(X_flat, theta, W1_no_bias, sizes, weight_starts, r0, nb, A, zero):
    return (_forward_first_tiles if isinstance(W1_no_bias, types.NoneType)
            else _forward_first_blas)


@overload(_first_grad, jit_options=INNER_OPTIONS)
def _first_grad_ov(D1, X_flat, XT_blocks, W1_no_bias, G1, sizes, weight_starts, b, block_rows, r0,
                   nb, G, zero):
    return _grad_first_tiles if isinstance(W1_no_bias, types.NoneType) else _grad_first_blas


@overload(_first_grad_shape, jit_options=INNER_OPTIONS)
def _first_grad_shape_ov(W1_no_bias):
    if isinstance(W1_no_bias, types.NoneType):
        return lambda W1_no_bias: (0, 0)
    return lambda W1_no_bias: W1_no_bias.shape


# ---- the drivers: the blocks b_lo .. b_hi - 1 of one chunk ------------------
@njit(nogil=True, cache=True, error_model="numpy", **INNER)
def _all_finite(A, n):
    """Whether ``A[:n]`` holds no NaN and no inf (no fast-math here: the test must not
    be simplified away).  A NaN or inf in X makes every first-layer product of its row
    non-finite (NaN * w and inf * 0 are NaN), so the products tell about X."""
    for i in range(n):
        if not np.isfinite(A[i]):
            return False
    return True


@njit(inline="always", **JIT_OPTIONS)
def chunk_loss_grad(X_flat, XT_blocks, YT, W1_no_bias, theta, sizes, weight_starts,
                    unit_starts, act_codes, act, block_rows, m, b_lo, b_hi, head, head_tag, zero,
                    one, G, RW, check_inputs):
    """Summed loss (float64) of the row blocks ``b_lo .. b_hi - 1`` and, unless ``G``
    is None, their summed gradient written to ``G`` (n_params,).

    ``W1_no_bias`` None: the first layer runs on register tiles (its gradient
    reads ``XT_blocks``, which may be None for the loss only); ``W1_no_bias``
    (n1, n_in): through BLAS (``XT_blocks`` None).  Each of the four combinations is its own
    specialisation that compiles only its own path: the first layer's path is
    picked by overloads on the type of ``W1_no_bias``, and numba prunes the
    ``G is not None`` branch by the argument's type before it types the body.

    sizes : int64 (L + 1,) layer sizes;  weight_starts : int64 (L,) start of each
    weight matrix in theta;  unit_starts : int64 (L + 1,) first unit of each layer
    in the activation buffer (layer l + 1 at ``unit_starts[l] * nb``);
    act_codes : int64 (L - 1,) activation code of each hidden layer
    (``nnfast._activations.ACTIVATION_CODES``);  act : int, the code of every hidden
    layer when they share one, else -1 (see :func:`uniform_activation`; a literal
    compiles only that activation);  head : int, the output and loss (``HEAD_CODES``);
    head_tag : the head as a constant of the parallel drivers' kernels, or -1 (see
    :func:`_output_layer`);  RW : (m,) row weights in theta's dtype, or None (a type of its
    own: the unweighted specialisation has no trace of them);  check_inputs : bool,
    return NaN if a first-layer product is NaN or infinite (X unchecked, see
    ``_all_finite``).
    """
    A, Zo, D, Dn, E, R = _block_buffers(theta, sizes, unit_starts, block_rows)
    G1 = np.empty(_first_grad_shape(W1_no_bias), dtype=theta.dtype)
    if G is not None:
        for i in range(G.shape[0]):
            G[i] = zero
    cost = 0.0
    inputs_bad = False
    for b in range(b_lo, b_hi):
        r0 = b * block_rows
        nb = min(block_rows, m - r0)
        _first_forward(X_flat, theta, W1_no_bias, sizes, weight_starts, r0, nb, A, zero)
        if check_inputs and not _all_finite(A, sizes[1] * nb):
            inputs_bad = True
        _forward_hidden(theta, sizes, weight_starts, unit_starts, act_codes, act, nb, A, Zo)
        cost += _output_layer(Zo, A, YT, sizes, unit_starts, b, block_rows, m, nb, head,
                              head_tag, G is not None, D, E, R, zero, one, RW)
        if G is not None:
            D1 = _backward_hidden(theta, sizes, weight_starts, unit_starts, act_codes, act, nb, A,
                                  D, Dn, G, zero, one)
            _first_grad(D1, X_flat, XT_blocks, W1_no_bias, G1, sizes, weight_starts, b, block_rows,
                        r0, nb, G, zero)
    return np.nan if inputs_bad else cost


@njit(inline="always", **JIT_OPTIONS)
def chunk_forward(X_flat, W1_no_bias, theta, sizes, weight_starts, unit_starts, act_codes, act,
                  block_rows, m, b_lo, b_hi, head, head_tag, zero, H, check_inputs):
    """The output activations of the row blocks ``b_lo .. b_hi - 1`` into their rows
    of ``H`` (flat (m, n_out), rows contiguous): the forward pass of
    :func:`chunk_loss_grad` (same arguments) without targets, loss or gradient.
    Returns 1 if ``check_inputs`` and some first-layer product is not finite, else 0."""
    A, Zo, D, Dn, E, R = _block_buffers(theta, sizes, unit_starts, block_rows)
    L = sizes.shape[0] - 1
    n_out = sizes[L]
    bad = 0
    for b in range(b_lo, b_hi):
        r0 = b * block_rows
        nb = min(block_rows, m - r0)
        _first_forward(X_flat, theta, W1_no_bias, sizes, weight_starts, r0, nb, A, zero)
        if check_inputs and not _all_finite(A, sizes[1] * nb):
            bad = 1
        _forward_hidden(theta, sizes, weight_starts, unit_starts, act_codes, act, nb, A, Zo)
        _output_activation(Zo, E, n_out, nb, head, head_tag, R)
        for r in range(nb):
            row = H[(r0 + r) * n_out:(r0 + r + 1) * n_out]
            for o in range(n_out):
                row[o] = E[o * nb + r]
    return bad


# ---- parallel drivers: the chunks of one call on numba's threading layer -----------
#: numba's parallel transformations: the prange over chunks only
_PRANGE_ONLY = {"prange": True, "comprehension": False, "setitem": False, "reduction": False,
                "numpy": False, "stencil": False, "fusion": False, "inplace_binop": False}
# A prange over the chunks, each running a serial driver compiled as a C function of its
# own (ParallelDrivers.kernel), which the prange calls through its address, an argument.
# The backend uses them only on a thread-safe layer (OpenMP or TBB), where a call's
# threads are the runtime's pool: Python threads, woken for every call and needing the
# GIL before they can start a chunk, were often placed on the caller's core by the OS
# and ran there one after the other (seen on 2-vCPU VMs: a 2-thread call as slow as 1
# thread).
#
# Why through an address: numba compiles a prange's body as a function of its own, wraps
# it twice and links each into the next and then into the driver, and every level
# optimises again and emits machine code for all the code it links, the serial driver
# and every building block it calls.  Called by address, the serial driver's code is
# linked, optimised and emitted once, in its C function, and the four levels hold the
# prange alone: a cold first call on ex4 took 10.7-11.7 s before, 7.9-8.8 s after
# (AMD Zen 3 VM).  The drivers are compiled once per path and dtype for every network
# (the kernel's type is its signature), and cached.

@njit(parallel=_PRANGE_ONLY, **JIT_OPTIONS)
def chunks_loss_grad(kernel, X_flat, XT_blocks, YT, W1_no_bias, theta, sizes,
                     weight_starts, unit_starts, act_codes, block_rows, m, starts, head, zero,
                     one, slabs, costs, RW, check_inputs):
    """``kernel`` (:meth:`ParallelDrivers.kernel`, loss and gradient) of every chunk ``c``
    (blocks ``starts[c] .. starts[c + 1] - 1``) in parallel: its loss into ``costs[c]`` and
    its gradient into ``slabs[c]`` ((n_chunks, n_params), C-contiguous)."""
    for c in prange(starts.shape[0] - 1):
        costs[c] = kernel(X_flat, XT_blocks, YT, W1_no_bias, theta, sizes, weight_starts,
                          unit_starts, act_codes, block_rows, m, starts[c], starts[c + 1], head,
                          zero, one, slabs[c], RW, check_inputs)


@njit(parallel=_PRANGE_ONLY, **JIT_OPTIONS)
def chunks_loss(kernel, X_flat, XT_blocks, YT, W1_no_bias, theta, sizes, weight_starts,
                unit_starts, act_codes, block_rows, m, starts, head, zero, one, costs, RW,
                check_inputs):
    """:func:`chunks_loss_grad` without the gradient (``kernel`` of the loss only)."""
    for c in prange(starts.shape[0] - 1):
        costs[c] = kernel(X_flat, XT_blocks, YT, W1_no_bias, theta, sizes, weight_starts,
                          unit_starts, act_codes, block_rows, m, starts[c], starts[c + 1], head,
                          zero, one, None, RW, check_inputs)


@njit(parallel=_PRANGE_ONLY, **JIT_OPTIONS)
def chunks_forward(kernel, X_flat, W1_no_bias, theta, sizes, weight_starts, unit_starts,
                   act_codes, block_rows, m, starts, head, zero, H, check_inputs, bad):
    """``kernel`` (forward) of every chunk in parallel (rows are independent); chunk c's
    verdict on its inputs into ``bad[c]``."""
    for c in prange(starts.shape[0] - 1):
        bad[c] = kernel(X_flat, W1_no_bias, theta, sizes, weight_starts, unit_starts, act_codes,
                        block_rows, m, starts[c], starts[c + 1], head, zero, H, check_inputs)


def _arg_key(value):
    """What decides the numba type of an argument, cheaper to find than the type."""
    if isinstance(value, np.ndarray):
        flags = value.flags
        return value.dtype, value.ndim, flags.c_contiguous, flags.writeable, flags.aligned
    return type(value)


class _Kernel:
    """A kernel as the parallel drivers take it: numba asks every call for the type and
    the address of a function argument, and a cfunc object works both out anew (a
    quarter of a small call's time); this holds them ready (``_numba_type_`` and
    ``__wrapper_address__`` are numba's hooks for both)."""

    __slots__ = ("compiled", "_numba_type_", "_address")

    def __init__(self, signature, compiled):
        self.compiled = compiled
        self._numba_type_ = types.FunctionType(signature)
        self._address = compiled.address

    def __wrapper_address__(self):
        return self._address


class CFunctions:
    """C functions (numba's ``cfunc``) compiled from Python sources for the types of the
    arguments of their first use, each made once per process (and cached on disk when
    ``options`` say so): functions a prange calls through their address.

    Parameters
    ----------
    sources : dict
        ``name -> (python function, return type)``.
    options : dict
        numba's compile options.
    """

    def __init__(self, sources, options):
        self._sources = sources
        self._options = options
        self._lock = threading.Lock()
        #: (signature, function) of those made so far, by (name, argument keys)
        self.made = {}

    def get(self, name, args):
        """The function ``name`` for the types of the values ``args``, as the drivers take
        it (:class:`_Kernel`), compiled (or loaded from numba's cache) on first use."""
        key = (name,) + tuple(map(_arg_key, args))
        made = self.made.get(key)
        if made is None:
            with self._lock:
                made = self.made.get(key)
                if made is None:
                    source, returns = self._sources[name]
                    signature = returns(*[typeof(a) for a in args])
                    made = (signature,
                            _Kernel(signature, cfunc(signature, **self._options)(source)))
                    self.made[key] = made
        return made[1]

    def signatures(self):
        """``(name, argument types)`` of every function made so far."""
        return [(name, signature.args) for (name, *_), (signature, _) in self.made.items()]


class ParallelDrivers:
    """The kernels the parallel drivers run, for one head ``fixed_head`` and hidden
    activation ``act`` (:func:`uniform_activation`), constants of their code, or for
    any (-1), and the drivers themselves (the same for every network).

    Any head and activation can be such a constant, so adding a network to
    :data:`FIXED_NETWORKS` is all another fixed set needs.  The head's dispatch
    (:func:`_output_layer`, :func:`_output_activation`) is inlined into the kernel,
    where numba prunes the other heads' branches before it types them; the activation
    reaches :func:`_forward_hidden` and :func:`_backward_hidden` as a literal, whose
    overloads (:func:`_activate_layer`, :func:`_derivative_layer`) pick its code.
    ex4's network never types the softmax's or tanh's code (a third of a cold first
    call).  With -1 they branch on the values of ``head`` and ``act_codes``, as the
    serial drivers do.  The kernels' arguments are those of the serial drivers without
    ``act`` and ``head_tag``.
    """

    def __init__(self, fixed_head, act):
        self.head, self.act = fixed_head, act
        self.chunks_loss_grad = chunks_loss_grad
        self.chunks_loss = chunks_loss
        self.chunks_forward = chunks_forward

        def loss_grad(X_flat, XT_blocks, YT, W1_no_bias, theta, sizes, weight_starts,
                      unit_starts, act_codes, block_rows, m, b_lo, b_hi, head, zero, one, G, RW,
                      check_inputs):
            return chunk_loss_grad(X_flat, XT_blocks, YT, W1_no_bias, theta, sizes,
                                   weight_starts, unit_starts, act_codes, act, block_rows, m,
                                   b_lo, b_hi, head, fixed_head, zero, one, G, RW, check_inputs)

        def forward(X_flat, W1_no_bias, theta, sizes, weight_starts, unit_starts, act_codes,
                    block_rows, m, b_lo, b_hi, head, zero, H, check_inputs):
            return chunk_forward(X_flat, W1_no_bias, theta, sizes, weight_starts, unit_starts,
                                 act_codes, act, block_rows, m, b_lo, b_hi, head, fixed_head,
                                 zero, H, check_inputs)

        self._kernels = CFunctions({"loss+gradient": (loss_grad, types.float64),
                                    "forward": (forward, types.int64)}, JIT_OPTIONS)

    def kernel(self, what, args):
        """The kernel ``what`` ("loss+gradient", also the loss alone when ``G`` is None,
        or "forward") of the values ``args`` of one chunk's call, as a C function
        compiled for their types (or loaded from numba's cache) on first use."""
        return self._kernels.get(what, args)

    def dispatchers(self):
        """``(what, dispatcher)`` of each driver, for introspection."""
        return (("loss+gradient", self.chunks_loss_grad), ("loss", self.chunks_loss),
                ("forward", self.chunks_forward))

    def kernel_signatures(self):
        """``(what, argument types)`` of every kernel made so far."""
        return self._kernels.signatures()


def uniform_activation(act_codes):
    """The activation code of every hidden layer when they share one (identity's when
    there are none), else -1: the ``act`` of the drivers."""
    codes = {int(a) for a in act_codes}
    if not codes:
        return ACT_IDENTITY
    return codes.pop() if len(codes) == 1 else -1


#: the networks whose parallel drivers' kernels are made for them, (head, act): ex4's,
#: what students and the README's main job run first, scikit-learn's MLP defaults
#: (relu hidden units under a softmax, MLPClassifier's, or an identity output,
#: MLPRegressor's), what NNClassifier and NNRegressor users reach for, and tanh under a
#: softmax, the classic classifier (MLPClassifier's activation="tanh").  A first call
#: then compiles only its own activation and head: relu + softmax on ex4's shape took
#: 7.6-8.7 s cold instead of 11.5-15.3 s with a set shared by every network, tanh +
#: softmax 0.85x the time of its head's set (medians of four alternating pairs, 8.4 s
#: against 9.9 s; AMD Zen 3 VM).  Every other network shares the set of its head,
#: (head, -1), which branches on the activation codes (and compiles every activation).
#: A set per activation as well would compile again for each network, as the tests'
#: dozens of networks do: the test suite took 2.5 times as long with it, and 1.02 times
#: with a set per head
FIXED_NETWORKS = frozenset({(HEAD_LOGISTIC_CROSS_ENTROPY, ACT_LOGISTIC),
                            (HEAD_SOFTMAX_CROSS_ENTROPY, ACT_RELU),
                            (HEAD_SOFTMAX_CROSS_ENTROPY, ACT_TANH),
                            (HEAD_IDENTITY_SQUARED_ERROR, ACT_RELU)})
#: the parallel drivers' kernels made so far, by :func:`drivers_key`: numba caches each
#: apart (the constants of a closure are part of its cache key)
PARALLEL_DRIVERS = {}


def drivers_key(head, act):
    """``(head, act)`` of the parallel drivers' kernels that run a network of head code
    ``head`` and hidden activation ``act`` (:func:`uniform_activation`): its own for the
    :data:`FIXED_NETWORKS`, else its head's, ``(head, -1)``."""
    key = (int(head), int(act))
    return key if key in FIXED_NETWORKS else (key[0], -1)


def parallel_drivers(head, act):
    """The :class:`ParallelDrivers` for a network of head code ``head`` and hidden
    activation ``act`` (:func:`uniform_activation`), made on first use."""
    key = drivers_key(head, act)
    drivers = PARALLEL_DRIVERS.get(key)
    if drivers is None:
        drivers = PARALLEL_DRIVERS.setdefault(key, ParallelDrivers(*key))
    return drivers
