"""numba kernels of the ``numba`` backend: one fused pass over row blocks.

Nothing here is compiled at import: the functions are ``@njit`` without
signatures (compiled on the first call, one specialisation per dtype) and
``cache=True`` (a later process loads the machine code from disk).  Each
call compiles only the path it runs: :func:`chunk_loss_grad` gets ``None`` for
what a call does not need (the gradient ``G`` for the loss only; ``W1c`` for
the register-tile first layer, ``XTf`` for the BLAS one), and numba makes each
combination its own specialisation, in which the other paths are never typed
(overloads on the type of ``W1c``, and numba's pruning of ``is None`` branches
on arguments):

=====================  ===============  =====================================
``G``                  ``W1c``          path
=====================  ===============  =====================================
None                   None             loss only, first layer by tiles
array                  None             loss and gradient, tiles
None                   array            loss only, first layer by BLAS
array                  array            loss and gradient, BLAS
=====================  ===============  =====================================

The driver runs the blocks of one chunk; the backend runs chunks on several
threads (the driver releases the GIL), which spares the compile of a
``prange`` wrapper (29% of a cold compile).  The building blocks
(``_forward_*``, ``_output_layer``, ``_backward_hidden``, ``_grad_first_*``)
are compiled once per dtype.

Layout (see :mod:`nnfast.backends._numba`):

* ``Xf``   flat view of X (m, n_in), rows contiguous.
* ``XTf``  (tiles, gradient; else None) flat (n_blocks, n_in, B) copy of X, each block
  transposed and zero padded: the first layer's gradient runs along the rows
  of a block with a 4 x 5 register tile of ``G1``, written once per block.
* ``YTf``  flat (n_blocks, n_out, B) targets, units-major.
* ``W1c``  (BLAS; else None) the first layer's weights without their bias column,
  (n1, n_in), C-contiguous.
* Inside a block of ``nb`` rows every activation and delta is units-major
  with row stride ``nb``: layer l is one contiguous (n_l, nb) matrix, which
  BLAS takes as it is and the sigmoid runs over in one call.

Every other array argument is 1-D and C-contiguous, so the driver has one
specialisation per dtype and path; float32 kernels get typed ``zero``/``one`` scalars
so that no float64 literal promotes them.  The loss is accumulated in float64.
"""

import numpy as np
from numba import njit, types
from numba.extending import overload

from ._numba_math import log1p_exp_neg_abs, sigmoid_inplace

# Reassociation lets LLVM vectorise the dot-product reductions; no
# nnan/ninf: the sigmoid relies on exp overflowing to inf for very negative
# z.  (The exp itself is compiled without fastmath, in _numba_math.)
_FM = {"reassoc", "contract", "nsz", "arcp"}
_OPTS = dict(nogil=True, cache=True, error_model="numpy", fastmath=_FM)

LOSS_CROSS_ENTROPY = 0
LOSS_SQUARED_ERROR = 1

# A constant argument reaches a called @njit function as a Literal type, and
# every distinct literal compiles another specialisation of it (the tile
# function took 3 before).  Module-level NumPy scalars are typed plain int64,
# so calls pass these instead of the literals 0 and 1.
_I0 = np.int64(0)
_I1 = np.int64(1)


@njit(**_OPTS)
def _tile_dots(P, p_off, p_st, I, Q, q_off, q_st, J, n, out, o_off, o_si, o_sj, accumulate, zero):
    """out[o_off + i*o_si + j*o_sj] (+)= dot(P row i, Q row j) over n, for i < I, j < J.

    Row i of P is P[p_off + i*p_st : ... + n] (contiguous), row j of Q likewise.
    A 4 x 5 tile of dot products is kept in registers while the loop runs over n
    (vectorised along n); edge tiles repeat the last valid row and discard it.
    """
    for i0 in range(0, I, 4):
        i1 = min(i0 + 1, I - 1)
        i2 = min(i0 + 2, I - 1)
        i3 = min(i0 + 3, I - 1)
        s = p_off + i0 * p_st
        p0 = P[s:s + n]
        s = p_off + i1 * p_st
        p1 = P[s:s + n]
        s = p_off + i2 * p_st
        p2 = P[s:s + n]
        s = p_off + i3 * p_st
        p3 = P[s:s + n]
        for j0 in range(0, J, 5):
            j1 = min(j0 + 1, J - 1)
            j2 = min(j0 + 2, J - 1)
            j3 = min(j0 + 3, J - 1)
            j4 = min(j0 + 4, J - 1)
            s = q_off + j0 * q_st
            q0 = Q[s:s + n]
            s = q_off + j1 * q_st
            q1 = Q[s:s + n]
            s = q_off + j2 * q_st
            q2 = Q[s:s + n]
            s = q_off + j3 * q_st
            q3 = Q[s:s + n]
            s = q_off + j4 * q_st
            q4 = Q[s:s + n]
            c00 = c01 = c02 = c03 = c04 = zero
            c10 = c11 = c12 = c13 = c14 = zero
            c20 = c21 = c22 = c23 = c24 = zero
            c30 = c31 = c32 = c33 = c34 = zero
            for k in range(n):
                a0 = p0[k]
                a1 = p1[k]
                a2 = p2[k]
                a3 = p3[k]
                b0 = q0[k]
                b1 = q1[k]
                b2 = q2[k]
                b3 = q3[k]
                b4 = q4[k]
                c00 += a0 * b0
                c01 += a0 * b1
                c02 += a0 * b2
                c03 += a0 * b3
                c04 += a0 * b4
                c10 += a1 * b0
                c11 += a1 * b1
                c12 += a1 * b2
                c13 += a1 * b3
                c14 += a1 * b4
                c20 += a2 * b0
                c21 += a2 * b1
                c22 += a2 * b2
                c23 += a2 * b3
                c24 += a2 * b4
                c30 += a3 * b0
                c31 += a3 * b1
                c32 += a3 * b2
                c33 += a3 * b3
                c34 += a3 * b4
            if accumulate:
                out[o_off + i0 * o_si + j0 * o_sj] += c00
                if j0 + 1 < J:
                    out[o_off + i0 * o_si + j1 * o_sj] += c01
                if j0 + 2 < J:
                    out[o_off + i0 * o_si + j2 * o_sj] += c02
                if j0 + 3 < J:
                    out[o_off + i0 * o_si + j3 * o_sj] += c03
                if j0 + 4 < J:
                    out[o_off + i0 * o_si + j4 * o_sj] += c04
                if i0 + 1 < I:
                    out[o_off + i1 * o_si + j0 * o_sj] += c10
                    if j0 + 1 < J:
                        out[o_off + i1 * o_si + j1 * o_sj] += c11
                    if j0 + 2 < J:
                        out[o_off + i1 * o_si + j2 * o_sj] += c12
                    if j0 + 3 < J:
                        out[o_off + i1 * o_si + j3 * o_sj] += c13
                    if j0 + 4 < J:
                        out[o_off + i1 * o_si + j4 * o_sj] += c14
                if i0 + 2 < I:
                    out[o_off + i2 * o_si + j0 * o_sj] += c20
                    if j0 + 1 < J:
                        out[o_off + i2 * o_si + j1 * o_sj] += c21
                    if j0 + 2 < J:
                        out[o_off + i2 * o_si + j2 * o_sj] += c22
                    if j0 + 3 < J:
                        out[o_off + i2 * o_si + j3 * o_sj] += c23
                    if j0 + 4 < J:
                        out[o_off + i2 * o_si + j4 * o_sj] += c24
                if i0 + 3 < I:
                    out[o_off + i3 * o_si + j0 * o_sj] += c30
                    if j0 + 1 < J:
                        out[o_off + i3 * o_si + j1 * o_sj] += c31
                    if j0 + 2 < J:
                        out[o_off + i3 * o_si + j2 * o_sj] += c32
                    if j0 + 3 < J:
                        out[o_off + i3 * o_si + j3 * o_sj] += c33
                    if j0 + 4 < J:
                        out[o_off + i3 * o_si + j4 * o_sj] += c34
            else:
                # edge tiles write the same value twice to the same place: harmless
                out[o_off + i0 * o_si + j0 * o_sj] = c00
                out[o_off + i0 * o_si + j1 * o_sj] = c01
                out[o_off + i0 * o_si + j2 * o_sj] = c02
                out[o_off + i0 * o_si + j3 * o_sj] = c03
                out[o_off + i0 * o_si + j4 * o_sj] = c04
                out[o_off + i1 * o_si + j0 * o_sj] = c10
                out[o_off + i1 * o_si + j1 * o_sj] = c11
                out[o_off + i1 * o_si + j2 * o_sj] = c12
                out[o_off + i1 * o_si + j3 * o_sj] = c13
                out[o_off + i1 * o_si + j4 * o_sj] = c14
                out[o_off + i2 * o_si + j0 * o_sj] = c20
                out[o_off + i2 * o_si + j1 * o_sj] = c21
                out[o_off + i2 * o_si + j2 * o_sj] = c22
                out[o_off + i2 * o_si + j3 * o_sj] = c23
                out[o_off + i2 * o_si + j4 * o_sj] = c24
                out[o_off + i3 * o_si + j0 * o_sj] = c30
                out[o_off + i3 * o_si + j1 * o_sj] = c31
                out[o_off + i3 * o_si + j2 * o_sj] = c32
                out[o_off + i3 * o_si + j3 * o_sj] = c33
                out[o_off + i3 * o_si + j4 * o_sj] = c34



@njit(**_OPTS)
def _dots_acc_best(P, p_off, p_st, I, Q, q_off, q_st, J, n, out, o_off, o_si, o_sj, zero):
    """``out[o_off + i*o_si + j*o_sj] += dot(P row i, Q row j)`` (rows ``p_st`` and
    ``q_st`` apart), with the operands in the order that wastes the fewest tile lanes."""
    waste_ij = ((I + 3) // 4) * 4 * ((J + 4) // 5) * 5
    waste_ji = ((J + 3) // 4) * 4 * ((I + 4) // 5) * 5
    if waste_ij <= waste_ji:
        _tile_dots(P, p_off, p_st, I, Q, q_off, q_st, J, n, out, o_off, o_si, o_sj,
                   np.bool_(True), zero)
    else:
        _tile_dots(Q, q_off, q_st, J, P, p_off, p_st, I, n, out, o_off, o_sj, o_si,
                   np.bool_(True), zero)


# ---- building blocks of one block of nb rows --------------------------------
@njit(nogil=True, cache=True, error_model="numpy")
def _block_buffers(theta, sizes, uoff, B):
    """Per-chunk work arrays: activations ``A`` (all layers, units x rows), output
    logits ``Zo``, deltas ``D``/``Dn``, loss terms ``E`` and the exp scratch ``work``."""
    L = sizes.shape[0] - 1
    widest = 1
    for l in range(1, L + 1):
        widest = max(widest, sizes[l])
    A = np.empty(uoff[L] * B, dtype=theta.dtype)
    Zo = np.empty(sizes[L] * B, dtype=theta.dtype)
    D = np.empty(widest * B, dtype=theta.dtype)
    Dn = np.empty(widest * B, dtype=theta.dtype)
    E = np.empty(sizes[L] * B, dtype=theta.dtype)
    work = np.empty(2 * widest * B, dtype=np.int64)
    return A, Zo, D, Dn, E, work


@njit(**_OPTS)
def _forward_first_tiles(Xf, theta, sizes, woff, r0, nb, A, zero):
    """A[o*nb + r] = W1[o, 1:] . X[r0 + r] (no bias) by 4 x 5 register tiles."""
    n_in = sizes[0]
    _tile_dots(Xf, r0 * n_in, n_in, nb, theta, woff[0] + 1, n_in + 1, sizes[1], n_in,
               A, _I0, _I1, nb, np.bool_(False), zero)


@njit(**_OPTS)
def _forward_first_blas(Xf, W1c, sizes, r0, nb, A):
    """A[:n1*nb] as (n1, nb) = W1c . X[r0:r0+nb]^T (no bias), one BLAS gemm."""
    n_in = sizes[0]
    Xb = Xf[r0 * n_in:(r0 + nb) * n_in].reshape((nb, n_in))
    np.dot(W1c, Xb.T, A[:sizes[1] * nb].reshape((sizes[1], nb)))


@njit(**_OPTS)
def _forward_hidden(theta, sizes, woff, uoff, nb, A, Zo, work):
    """Bias and sigmoid of layer 1 (its products are in A already), then every
    later layer; the output layer's logits are also copied to ``Zo``."""
    L = sizes.shape[0] - 1
    n_in = sizes[0]
    for l in range(1, L + 1):
        nl = sizes[l]
        npv = sizes[l - 1]
        base = uoff[l - 1] * nb
        if l == 1:
            for o in range(nl):
                bo = theta[woff[0] + o * (n_in + 1)]
                zr = A[base + o * nb:base + (o + 1) * nb]
                for r in range(nb):
                    zr[r] += bo
        else:
            prev = uoff[l - 2] * nb
            for o in range(nl):
                wrow = woff[l - 1] + o * (npv + 1)
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
        if l == L:
            for i in range(nl * nb):
                Zo[i] = layer[i]
        sigmoid_inplace(layer, work)


@njit(**_OPTS)
def _output_layer(Zo, A, YTf, sizes, uoff, b, B, nb, loss_id, need_grad, D, E, work, zero, one):
    """Summed loss (float64) of block ``b``; if ``need_grad``, the output error
    dJ/dz into ``D`` (n_out x nb)."""
    L = sizes.shape[0] - 1
    n_out = sizes[L]
    hb = uoff[L - 1] * nb
    yb = b * n_out * B
    half = one / (one + one)
    cost = 0.0
    if loss_id == LOSS_CROSS_ENTROPY:
        # max(z, 0) - y z + log1p(exp(-|z|)): finite for saturated outputs
        log1p_exp_neg_abs(Zo[:n_out * nb], E[:n_out * nb], work)
    for o in range(n_out):
        z = Zo[o * nb:(o + 1) * nb]
        h = A[hb + o * nb:hb + (o + 1) * nb]
        y = YTf[yb + o * B:yb + o * B + nb]
        d = D[o * nb:(o + 1) * nb]
        if loss_id == LOSS_CROSS_ENTROPY:
            sp = E[o * nb:(o + 1) * nb]
            for r in range(nb):
                zz = z[r]
                cost += max(zz, zero) - y[r] * zz + sp[r]
            if need_grad:
                for r in range(nb):
                    d[r] = h[r] - y[r]
        else:
            for r in range(nb):
                e = h[r] - y[r]
                cost += half * e * e
            if need_grad:
                for r in range(nb):
                    d[r] = (h[r] - y[r]) * h[r] * (one - h[r])
    return cost


@njit(**_OPTS)
def _backward_hidden(theta, sizes, woff, uoff, nb, A, D, Dn, G, zero, one):
    """Backpropagate the output error in ``D`` through every layer: bias
    gradients of all layers and weight gradients of layers 2..L into ``G``.
    Returns the array (``D`` or ``Dn``) that holds layer 1's delta (n1 x nb)."""
    L = sizes.shape[0] - 1
    for l in range(L, 0, -1):
        nl = sizes[l]
        npv = sizes[l - 1]
        wl = woff[l - 1]
        for o in range(nl):
            dr = D[o * nb:(o + 1) * nb]
            s = zero
            for r in range(nb):
                s += dr[r]
            G[wl + o * (npv + 1)] += s
        if l == 1:
            break
        prev = uoff[l - 2] * nb
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
            for r in range(nb):
                dn[r] *= a[r] * (one - a[r])
        D, Dn = Dn, D
    return D


@njit(**_OPTS)
def _grad_first_tiles(D1, XTf, sizes, woff, b, B, nb, G, zero):
    """G1[:, 1:] += D1 (n1 x nb) . X_block (from its transposed copy), register tiles."""
    n_in = sizes[0]
    _dots_acc_best(D1, _I0, nb, sizes[1], XTf, b * n_in * B, B, n_in, nb,
                   G, woff[0] + 1, n_in + 1, _I1, zero)


@njit(**_OPTS)
def _grad_first_blas(D1, Xf, sizes, woff, r0, nb, G1, G):
    """G1[:, 1:] += D1 (n1 x nb) . X[r0:r0+nb] by one BLAS gemm into ``G1`` (n1, n_in)."""
    n_in = sizes[0]
    n1 = sizes[1]
    Xb = Xf[r0 * n_in:(r0 + nb) * n_in].reshape((nb, n_in))
    np.dot(D1[:n1 * nb].reshape((n1, nb)), Xb, G1)
    for o in range(n1):
        g = G[woff[0] + o * (n_in + 1) + 1:woff[0] + (o + 1) * (n_in + 1)]
        t = G1[o]
        for k in range(n_in):
            g[k] += t[k]


# ---- the first layer's path, chosen by the type of W1c when the caller is typed
def _first_forward(Xf, theta, W1c, sizes, woff, r0, nb, A, zero):
    """A[:n1*nb] = the first layer's products (no bias) of block rows r0 .. r0 + nb."""
    raise NotImplementedError("only callable from numba-compiled code")


def _first_grad(D1, Xf, XTf, W1c, G1, sizes, woff, b, B, r0, nb, G, zero):
    """G1[:, 1:] += D1 . X_block, the first layer's weight gradient of block b."""
    raise NotImplementedError("only callable from numba-compiled code")


def _first_grad_shape(W1c):
    """Shape of the BLAS path's gradient buffer: W1c's, or (0, 0) for the tiles."""
    raise NotImplementedError("only callable from numba-compiled code")


@overload(_first_forward, jit_options=_OPTS)
def _first_forward_ov(Xf, theta, W1c, sizes, woff, r0, nb, A, zero):
    if isinstance(W1c, types.NoneType):
        return lambda Xf, theta, W1c, sizes, woff, r0, nb, A, zero: _forward_first_tiles(
            Xf, theta, sizes, woff, r0, nb, A, zero)
    return lambda Xf, theta, W1c, sizes, woff, r0, nb, A, zero: _forward_first_blas(
        Xf, W1c, sizes, r0, nb, A)


@overload(_first_grad, jit_options=_OPTS)
def _first_grad_ov(D1, Xf, XTf, W1c, G1, sizes, woff, b, B, r0, nb, G, zero):
    if isinstance(W1c, types.NoneType):
        return lambda D1, Xf, XTf, W1c, G1, sizes, woff, b, B, r0, nb, G, zero: \
            _grad_first_tiles(D1, XTf, sizes, woff, b, B, nb, G, zero)
    return lambda D1, Xf, XTf, W1c, G1, sizes, woff, b, B, r0, nb, G, zero: \
        _grad_first_blas(D1, Xf, sizes, woff, r0, nb, G1, G)


@overload(_first_grad_shape, jit_options=_OPTS)
def _first_grad_shape_ov(W1c):
    if isinstance(W1c, types.NoneType):
        return lambda W1c: (0, 0)
    return lambda W1c: W1c.shape


# ---- the driver: the blocks b_lo .. b_hi - 1 of one chunk --------------------
@njit(**_OPTS)
def chunk_loss_grad(Xf, XTf, YTf, W1c, theta, sizes, woff, uoff, B, m, b_lo, b_hi,
                    loss_id, zero, one, G):
    """Summed loss (float64) of the row blocks ``b_lo .. b_hi - 1`` and, unless ``G``
    is None, their summed gradient written to ``G`` (n_params,).

    ``W1c`` None: the first layer runs on register tiles (its gradient reads
    ``XTf``, which may be None for the loss only); ``W1c`` (n1, n_in): through
    BLAS (``XTf`` None).  Each of the four combinations is its own
    specialisation that compiles only its own path: the first layer's path is
    picked by overloads on the type of ``W1c``, and numba prunes the
    ``G is not None`` branch by the argument's type before it types the body.

    sizes : int64 (L + 1,) layer sizes;  woff : int64 (L,) start of each weight
    matrix in theta;  uoff : int64 (L + 1,) first unit of each layer in the
    activation buffer (layer l + 1 at ``uoff[l] * nb``).
    """
    A, Zo, D, Dn, E, work = _block_buffers(theta, sizes, uoff, B)
    G1 = np.empty(_first_grad_shape(W1c), dtype=theta.dtype)
    if G is not None:
        for i in range(G.shape[0]):
            G[i] = zero
    cost = 0.0
    for b in range(b_lo, b_hi):
        r0 = b * B
        nb = min(B, m - r0)
        _first_forward(Xf, theta, W1c, sizes, woff, r0, nb, A, zero)
        _forward_hidden(theta, sizes, woff, uoff, nb, A, Zo, work)
        cost += _output_layer(Zo, A, YTf, sizes, uoff, b, B, nb, loss_id, G is not None, D, E,
                              work, zero, one)
        if G is not None:
            D1 = _backward_hidden(theta, sizes, woff, uoff, nb, A, D, Dn, G, zero, one)
            _first_grad(D1, Xf, XTf, W1c, G1, sizes, woff, b, B, r0, nb, G, zero)
    return cost
