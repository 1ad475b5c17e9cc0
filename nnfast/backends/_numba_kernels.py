"""numba kernels of the ``numba`` backend: one fused pass over row blocks.

Nothing here is compiled at import: the functions are ``@njit`` without
signatures (compiled on first call, one specialisation per dtype) and
``cache=True`` (a second process loads the machine code from disk).

Layout (see :mod:`nnfast.backends._numba`):

* ``Xf``   flat view of X (m, n_in), rows contiguous: the first layer's forward
  product runs along features with a register tile of 4 rows x 5 units.
* ``XTf``  flat (n_blocks, n_in, B) copy of X, each block transposed and zero
  padded: the first layer's gradient runs along the rows of a block with the
  same register tile (4 x 5 of ``G1``), written once per block.
* ``YTf``  flat (n_blocks, n_out, B) targets, units-major like the activations.
* After the first layer every activation and delta is units-major (unit, row)
  inside a block, so the small layers, sigmoids and deltas are vector loops
  over rows.

Every array argument is 1-D and C-contiguous, so each function has exactly one
specialisation per dtype; float32 kernels get typed ``zero``/``one`` scalars
so that no float64 literal promotes them.  The loss is accumulated in float64.
"""

import numpy as np
from numba import njit, prange

# Reassociation lets LLVM vectorise the dot-product reductions; no
# nnan/ninf: sigmoid relies on exp overflowing to inf for very negative z.
_FM = {"reassoc", "contract", "nsz", "arcp"}

LOSS_CROSS_ENTROPY = 0
LOSS_SQUARED_ERROR = 1


@njit(nogil=True, cache=True, error_model="numpy", fastmath=_FM)
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


# ---- vectorisable sigmoid -------------------------------------------------
# np.exp is a libm call that LLVM cannot vectorise (no SVML here), and the
# hidden-layer sigmoids are ~20% of a forward pass.  exp(x) = 2**k * exp(t)
# with k = round(x / ln 2), t = x - k ln 2 (Cody-Waite, two-part ln 2) and a
# Taylor polynomial for exp(t), |t| <= ln(2)/2, accurate to about 1 ulp;
# 2**k is built from its bits in an integer buffer viewed as floats.  These two
# functions keep strict IEEE arithmetic (no reassociation) so that the range
# reduction stays exact.  x is clamped to the range where 2**k is a normal
# number; beyond it the sigmoid is 0 or 1 to working precision anyway.
_LOG2E = 1.4426950408889634
_LN2_HI64 = 6.93147180369123816490e-01
_LN2_LO64 = 1.90821492927058770002e-10


@njit(nogil=True, cache=True, error_model="numpy", fastmath={"contract"})
def _exp_neg_f64(z, ib, fb):
    """z[:] = exp(-z) in float64; ib, fb: int64 buffer and its float64 view."""
    n = z.shape[0]
    for r in range(n):
        x = min(max(-z[r], -708.0), 709.0)
        k = np.floor(x * _LOG2E + 0.5)
        t = x - k * _LN2_HI64
        t = t - k * _LN2_LO64
        p = 1.0 / 6227020800.0
        p = p * t + 1.0 / 479001600.0
        p = p * t + 1.0 / 39916800.0
        p = p * t + 1.0 / 3628800.0
        p = p * t + 1.0 / 362880.0
        p = p * t + 1.0 / 40320.0
        p = p * t + 1.0 / 5040.0
        p = p * t + 1.0 / 720.0
        p = p * t + 1.0 / 120.0
        p = p * t + 1.0 / 24.0
        p = p * t + 1.0 / 6.0
        p = p * t + 0.5
        p = p * t + 1.0
        p = p * t + 1.0
        z[r] = p
        ib[r] = (np.int64(k) + 1023) << 52
    for r in range(n):
        z[r] = z[r] * fb[r]


@njit(nogil=True, cache=True, error_model="numpy", fastmath={"contract"})
def _sigmoid_f64(z, ib, fb):
    """z[:] = 1 / (1 + exp(-z)) in float64."""
    _exp_neg_f64(z, ib, fb)
    for r in range(z.shape[0]):
        z[r] = 1.0 / (1.0 + z[r])


@njit(nogil=True, cache=True, error_model="numpy", fastmath={"contract"})
def _exp_neg_f32(z, ib, fb):
    """float32 exp(-z): degree-7 polynomial, 2**k from int32 bits."""
    n = z.shape[0]
    one = np.float32(1.0)
    for r in range(n):
        x = min(max(-z[r], np.float32(-87.0)), np.float32(88.0))
        k = np.floor(x * np.float32(_LOG2E) + np.float32(0.5))
        t = x - k * np.float32(0.693359375)
        t = t - k * np.float32(-2.12194440e-4)
        p = np.float32(1.0 / 5040.0)
        p = p * t + np.float32(1.0 / 720.0)
        p = p * t + np.float32(1.0 / 120.0)
        p = p * t + np.float32(1.0 / 24.0)
        p = p * t + np.float32(1.0 / 6.0)
        p = p * t + np.float32(0.5)
        p = p * t + one
        p = p * t + one
        z[r] = p
        ib[r] = (np.int32(k) + np.int32(127)) << np.int32(23)
    for r in range(n):
        z[r] = z[r] * fb[r]


@njit(nogil=True, cache=True, error_model="numpy", fastmath={"contract"})
def _sigmoid_f32(z, ib, fb):
    """z[:] = 1 / (1 + exp(-z)) in float32."""
    _exp_neg_f32(z, ib, fb)
    one = np.float32(1.0)
    for r in range(z.shape[0]):
        z[r] = one / (one + z[r])


# ---- vectorisable cross-entropy term --------------------------------------
# log1p(exp(-|z|)) per output: e = exp(-|z|) in (0, 1] from the same exp as the
# sigmoid, then log1p(e) = log(u) * e / (u - 1) with u = 1 + e (Goldberg's
# correction restores the bits of e lost in 1 + e), log(u) = k ln 2 +
# 2 atanh(s), s = (f - 1) / (f + 1), f = u or u / 2 in [0.707, 1.414].
_LN2 = 0.6931471805599453


@njit(nogil=True, cache=True, error_model="numpy", fastmath={"contract"})
def _softplus_neg_abs_f64(z, out, ib, fb):
    """out[:] = log1p(exp(-|z|)) in float64 (z unchanged)."""
    n = z.shape[0]
    for r in range(n):
        out[r] = abs(z[r])
    _exp_neg_f64(out, ib, fb)
    for r in range(n):
        e = out[r]
        u = 1.0 + e
        big = u > 1.4142135623730951
        f = u * 0.5 if big else u
        s = (f - 1.0) / (f + 1.0)
        s2 = s * s
        p = 1.0 / 23.0
        p = p * s2 + 1.0 / 21.0
        p = p * s2 + 1.0 / 19.0
        p = p * s2 + 1.0 / 17.0
        p = p * s2 + 1.0 / 15.0
        p = p * s2 + 1.0 / 13.0
        p = p * s2 + 1.0 / 11.0
        p = p * s2 + 1.0 / 9.0
        p = p * s2 + 1.0 / 7.0
        p = p * s2 + 1.0 / 5.0
        p = p * s2 + 1.0 / 3.0
        p = p * s2 + 1.0
        lg = 2.0 * s * p + (_LN2 if big else 0.0)
        c = u - 1.0
        out[r] = lg * (e / c) if c != 0.0 else e


@njit(nogil=True, cache=True, error_model="numpy", fastmath={"contract"})
def _softplus_neg_abs_f32(z, out, ib, fb):
    """float32 version of :func:`_softplus_neg_abs_f64`."""
    n = z.shape[0]
    one = np.float32(1.0)
    zero = np.float32(0.0)
    for r in range(n):
        out[r] = abs(z[r])
    _exp_neg_f32(out, ib, fb)
    for r in range(n):
        e = out[r]
        u = one + e
        big = u > np.float32(1.4142135623730951)
        f = u * np.float32(0.5) if big else u
        s = (f - one) / (f + one)
        s2 = s * s
        p = np.float32(1.0 / 11.0)
        p = p * s2 + np.float32(1.0 / 9.0)
        p = p * s2 + np.float32(1.0 / 7.0)
        p = p * s2 + np.float32(1.0 / 5.0)
        p = p * s2 + np.float32(1.0 / 3.0)
        p = p * s2 + one
        lg = np.float32(2.0) * s * p + (np.float32(_LN2) if big else zero)
        c = u - one
        out[r] = lg * (e / c) if c != zero else e


@njit(nogil=True, cache=True, error_model="numpy", fastmath=_FM)
def _sigmoid_inplace(z, ib64, fb64, ib32, fb32):
    if z.itemsize == 8:
        _sigmoid_f64(z, ib64, fb64)
    else:
        _sigmoid_f32(z, ib32, fb32)


@njit(nogil=True, cache=True, error_model="numpy", fastmath=_FM)
def _softplus_neg_abs(z, out, ib64, fb64, ib32, fb32):
    """out[:] = log1p(exp(-|z|))."""
    if z.itemsize == 8:
        _softplus_neg_abs_f64(z, out, ib64, fb64)
    else:
        _softplus_neg_abs_f32(z, out, ib32, fb32)


@njit(nogil=True, cache=True, error_model="numpy", fastmath=_FM)
def _dots_acc_best(P, p_off, I, Q, q_off, J, n, st, out, o_off, o_si, o_sj, zero):
    """``out[o_off + i*o_si + j*o_sj] += dot(P row i, Q row j)`` (rows ``st`` apart),
    with the operands in the order that wastes the fewest tile lanes."""
    waste_ij = ((I + 3) // 4) * 4 * ((J + 4) // 5) * 5
    waste_ji = ((J + 3) // 4) * 4 * ((I + 4) // 5) * 5
    if waste_ij <= waste_ji:
        _tile_dots(P, p_off, st, I, Q, q_off, st, J, n, out, o_off, o_si, o_sj, True, zero)
    else:
        _tile_dots(Q, q_off, st, J, P, p_off, st, I, n, out, o_off, o_sj, o_si, True, zero)


@njit(nogil=True, cache=True, error_model="numpy", fastmath=_FM)
def chunk_loss_grad(Xf, XTf, YTf, theta, sizes, woff, aoff, B, m, b_lo, b_hi,
                    loss_id, need_grad, zero, one, G):
    """Summed loss (float64) of the row blocks ``b_lo .. b_hi - 1``; if
    ``need_grad``, ``G`` (n_params,) is overwritten with their summed gradient.

    sizes : int64 (L + 1,) layer sizes;  woff : int64 (L,) start of each weight
    matrix in theta;  aoff : int64 (L + 1,) start of layer l + 1's activations in
    the per-chunk buffer (units x B each).
    """
    L = sizes.shape[0] - 1
    n_in = sizes[0]
    n_out = sizes[L]
    maxw = 1
    for l in range(1, L + 1):
        maxw = max(maxw, sizes[l])
    A = np.empty(aoff[L], dtype=theta.dtype)
    Zo = np.empty(n_out * B, dtype=theta.dtype)
    D = np.empty(maxw * B, dtype=theta.dtype)
    Dn = np.empty(maxw * B, dtype=theta.dtype)
    half = one / (one + one)
    ib64 = np.empty(B, dtype=np.int64)
    fb64 = ib64.view(np.float64)
    ib32 = np.empty(B, dtype=np.int32)
    fb32 = ib32.view(np.float32)
    E = np.empty(B, dtype=theta.dtype)
    if need_grad:
        G[:] = zero
    cost = 0.0
    for b in range(b_lo, b_hi):
        r0 = b * B
        nb = min(B, m - r0)
        # ---- forward, first layer: z1 (units x rows) = W1[:, 1:] . X_block^T
        _tile_dots(Xf, r0 * n_in, n_in, nb, theta, woff[0] + 1, n_in + 1, sizes[1], n_in,
                   A, aoff[0], 1, B, False, zero)
        for l in range(1, L + 1):
            nl = sizes[l]
            npv = sizes[l - 1]
            base = aoff[l - 1]
            if l == 1:
                for o in range(nl):
                    bo = theta[woff[0] + o * (n_in + 1)]
                    zr = A[base + o * B:base + o * B + nb]
                    for r in range(nb):
                        zr[r] += bo
            else:
                prev = aoff[l - 2]
                for o in range(nl):
                    wrow = woff[l - 1] + o * (npv + 1)
                    bo = theta[wrow]
                    zr = A[base + o * B:base + o * B + nb]
                    for r in range(nb):
                        zr[r] = bo
                    for j in range(npv):
                        w = theta[wrow + 1 + j]
                        ar = A[prev + j * B:prev + j * B + nb]
                        for r in range(nb):
                            zr[r] += w * ar[r]
            if l == L:
                Zo[:nl * B] = A[base:base + nl * B]
            for o in range(nl):
                _sigmoid_inplace(A[base + o * B:base + o * B + nb], ib64, fb64, ib32, fb32)
        # ---- output layer: loss and output error
        hb = aoff[L - 1]
        yb = b * n_out * B
        for o in range(n_out):
            z = Zo[o * B:o * B + nb]
            h = A[hb + o * B:hb + o * B + nb]
            y = YTf[yb + o * B:yb + o * B + nb]
            d = D[o * B:o * B + nb]
            if loss_id == 0:
                sp = E[:nb]
                _softplus_neg_abs(z, sp, ib64, fb64, ib32, fb32)
                for r in range(nb):
                    zz = z[r]
                    cost += max(zz, zero) - y[r] * zz + sp[r]
                    d[r] = h[r] - y[r]
            else:
                for r in range(nb):
                    e = h[r] - y[r]
                    cost += half * e * e
                    d[r] = e * h[r] * (one - h[r])
        if not need_grad:
            continue
        # ---- backward: D holds the delta of layer l (units x rows)
        for l in range(L, 0, -1):
            nl = sizes[l]
            npv = sizes[l - 1]
            wl = woff[l - 1]
            for o in range(nl):
                dr = D[o * B:o * B + nb]
                s = zero
                for r in range(nb):
                    s += dr[r]
                G[wl + o * (npv + 1)] += s
            if l == 1:
                _dots_acc_best(D, 0, nl, XTf, b * n_in * B, n_in, nb, B,
                               G, wl + 1, npv + 1, 1, zero)
            else:
                prev = aoff[l - 2]
                _dots_acc_best(D, 0, nl, A, prev, npv, nb, B, G, wl + 1, npv + 1, 1, zero)
                for j in range(npv):
                    dn = Dn[j * B:j * B + nb]
                    dn[:] = zero
                    for o in range(nl):
                        w = theta[wl + o * (npv + 1) + 1 + j]
                        dr = D[o * B:o * B + nb]
                        for r in range(nb):
                            dn[r] += w * dr[r]
                    a = A[prev + j * B:prev + j * B + nb]
                    for r in range(nb):
                        dn[r] *= a[r] * (one - a[r])
                D, Dn = Dn, D
    return cost


@njit(nogil=True, cache=True, error_model="numpy", parallel=True, fastmath=_FM)
def parallel_loss_grad(Xf, XTf, YTf, theta, sizes, woff, aoff, B, m, chunk_starts,
                       loss_id, need_grad, zero, one, slabs, costs):
    """Chunk c (blocks ``chunk_starts[c] .. chunk_starts[c + 1] - 1``) per prange
    iteration, with its own gradient slab ``slabs[c]`` and loss ``costs[c]``; the
    caller reduces them in chunk order.  A prange index is not a thread id:
    nothing here depends on which thread runs which chunk."""
    n_chunks = costs.shape[0]
    for c in prange(n_chunks):
        costs[c] = chunk_loss_grad(Xf, XTf, YTf, theta, sizes, woff, aoff, B, m,
                                   chunk_starts[c], chunk_starts[c + 1],
                                   loss_id, need_grad, zero, one, slabs[c])
