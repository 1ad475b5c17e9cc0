# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Fused cost/gradient kernel of a fully connected sigmoid network.

One parallel pass over row blocks of X.  For each block, while it is in
cache: forward of every layer, output error, backward deltas and gradient
accumulation into the calling thread's slab.  Slabs are reduced serially,
in thread order, after the parallel loop (bitwise deterministic for a given
thread count).  The register-tiled SIMD microkernels live in nnf_simd.h
(run-time dispatch on CPU features); this file holds the typed loops.

Nothing here validates its input: nnfast.backends._cython does, and is the
only caller.
"""

import numpy as np

from cython cimport floating
from cython.parallel cimport parallel, prange, threadid
from libc.math cimport exp, fabs, log1p


cdef extern from "nnf_simd.h" nogil:
    int NNF_OPENMP
    int NNF_SCALAR, NNF_VEC128, NNF_AVX2, NNF_AVX512
    int nnf_level
    int nnf_best_level()
    int nnf_set_level(int level)
    const char *nnf_level_name(int level)

    void nnf_sigmoid_d(double *a, Py_ssize_t n)
    void nnf_sigmoid_f(float *a, Py_ssize_t n)
    void nnf_fwd1_d(const double *X, Py_ssize_t nb, Py_ssize_t n_in, const double *WT,
                    Py_ssize_t hp, Py_ssize_t h, const double *b, double *Z, Py_ssize_t ldz)
    void nnf_fwd1_f(const float *X, Py_ssize_t nb, Py_ssize_t n_in, const float *WT,
                    Py_ssize_t hp, Py_ssize_t h, const float *b, float *Z, Py_ssize_t ldz)
    void nnf_grad1_d(const double *D, Py_ssize_t ldd, Py_ssize_t h, const double *X,
                     Py_ssize_t nb, Py_ssize_t n_in, double *G)
    void nnf_grad1_f(const float *D, Py_ssize_t ldd, Py_ssize_t h, const float *X,
                     Py_ssize_t nb, Py_ssize_t n_in, float *G)
    void nnf_dense_d(const double *W, Py_ssize_t n_o, Py_ssize_t n_i, const double *A,
                     Py_ssize_t ld, Py_ssize_t npad, double *Z)
    void nnf_dense_f(const float *W, Py_ssize_t n_o, Py_ssize_t n_i, const float *A,
                     Py_ssize_t ld, Py_ssize_t npad, float *Z)
    void nnf_backprop_d(const double *W, Py_ssize_t n_o, Py_ssize_t n_i, const double *D,
                        const double *A, Py_ssize_t ld, Py_ssize_t npad, double *P)
    void nnf_backprop_f(const float *W, Py_ssize_t n_o, Py_ssize_t n_i, const float *D,
                        const float *A, Py_ssize_t ld, Py_ssize_t npad, float *P)
    void nnf_grad_small_d(const double *D, Py_ssize_t n_o, const double *A, Py_ssize_t n_i,
                          Py_ssize_t ld, Py_ssize_t nb, double *G)
    void nnf_grad_small_f(const float *D, Py_ssize_t n_o, const float *A, Py_ssize_t n_i,
                          Py_ssize_t ld, Py_ssize_t nb, float *G)


cdef extern from "nnf_build_config.h":
    const char *NNF_BUILD_FLAGS
    const char *NNF_BUILD_COMPILER


#: rows per block must be a multiple of this (the widest vector, 16 floats)
BLOCK_ALIGN = 16
#: padded stride (in doubles) between the per-thread loss partial sums
cdef enum:
    LOSS_STRIDE = 8

LOSS_CROSS_ENTROPY = 0
LOSS_SQUARED_ERROR = 1

nnf_set_level(-1)


def openmp_enabled():
    """True if the extension was compiled with OpenMP."""
    return bool(NNF_OPENMP)


def build_flags():
    """(compiler type, compiler flags) the extension was built with."""
    return NNF_BUILD_COMPILER.decode(), NNF_BUILD_FLAGS.decode()


def simd_level():
    """Name of the SIMD path in use ("avx512f", "avx2+fma", "sse2", "vec128", "scalar")."""
    return nnf_level_name(nnf_level).decode()


def simd_levels():
    """Names of the SIMD paths this CPU can run, best first."""
    best = nnf_best_level()
    return [nnf_level_name(i).decode() for i in range(best, -1, -1)]


def set_simd_level(name):
    """Select a SIMD path by name (for tests and benchmarks); returns the previous one.

    ``None`` selects the best one; a path the CPU cannot run raises ValueError.
    """
    previous = simd_level()
    if name is None:
        nnf_set_level(-1)
        return previous
    available = simd_levels()
    if name not in available:
        raise ValueError(f"SIMD path {name!r} is not available here; choose from {available}")
    best = nnf_best_level()
    nnf_set_level(best - available.index(name))
    return previous


# ---------------------------------------------------------------- typed helpers

cdef inline void _sigmoid(floating *a, Py_ssize_t n) noexcept nogil:
    if floating is double:
        nnf_sigmoid_d(a, n)
    else:
        nnf_sigmoid_f(a, n)


cdef inline void _dense(const floating *W, Py_ssize_t n_o, Py_ssize_t n_i, const floating *A,
                        Py_ssize_t ld, Py_ssize_t npad, floating *Z) noexcept nogil:
    if floating is double:
        nnf_dense_d(W, n_o, n_i, A, ld, npad, Z)
    else:
        nnf_dense_f(W, n_o, n_i, A, ld, npad, Z)


cdef double _output_error(
    const floating *Z,      # IN: (n_out, ld) output logits
    const floating *Hb,     # IN: (n_out, ld) output activations
    const floating *Y,      # IN: (nb, n_out) targets of the block
    Py_ssize_t n_out, Py_ssize_t ld, Py_ssize_t nb, Py_ssize_t npad, int loss,
    floating *D,            # OUT: (n_out, ld) dloss/dz, zero in columns nb..npad
    floating *H,            # OUT: (nb, n_out) activations, or NULL
) noexcept nogil:
    """Summed loss of the block (float64) and the output error."""
    cdef Py_ssize_t o, r
    cdef double total = 0.0, z, y, e
    cdef floating h, d
    for o in range(n_out):
        for r in range(nb):
            z = Z[o * ld + r]
            h = Hb[o * ld + r]
            if H != NULL:
                H[r * n_out + o] = h
            if Y == NULL:
                continue
            y = Y[r * n_out + o]
            if loss == 0:
                # max(z, 0) - y z + log1p(exp(-|z|)), stable for saturated units
                total += (z if z > 0.0 else 0.0) - y * z + log1p(exp(-fabs(z)))
                d = h - <floating> y
            else:
                e = <double> h - y
                total += 0.5 * e * e
                d = (h - <floating> y) * h * (1 - h)
            D[o * ld + r] = d
        if Y != NULL:
            for r in range(nb, npad):
                D[o * ld + r] = 0
    return total


cdef double _block(
    const floating *X,        # IN: (nb, n_in) rows of the block
    const floating *Y,        # IN: (nb, n_out) targets, or NULL (forward only)
    Py_ssize_t nb,
    const floating *theta,    # IN: all weights
    const floating *WT,       # IN: (n_in, hp) first-layer weights transposed, then (h1,) bias
    Py_ssize_t hp,
    const Py_ssize_t *sizes,  # IN: (L + 1,) layer widths
    const Py_ssize_t *woff,   # IN: (L,) start of each weight matrix in theta
    Py_ssize_t L, int loss, Py_ssize_t ld,
    floating *ws,             # work: this thread's buffers
    floating *G,              # OUT: this thread's gradient slab (accumulated), or NULL
    floating *H,              # OUT: (nb, n_out) activations of the block, or NULL
) noexcept nogil:
    cdef Py_ssize_t n_in = sizes[0], n_out = sizes[L]
    cdef Py_ssize_t npad = (nb + 15) // 16 * 16
    cdef Py_ssize_t l, r, total_units = 0, maxw = 0
    cdef floating *acts[64]      # acts[l]: (sizes[l], ld) activation of layer l, l = 1..L
    cdef floating *zout
    cdef floating *cur
    cdef floating *other
    cdef floating *tmp
    cdef double block_loss

    for l in range(1, L + 1):
        acts[l] = ws + total_units * ld
        total_units += sizes[l]
        if sizes[l] > maxw:
            maxw = sizes[l]
    zout = ws + total_units * ld
    cur = zout + n_out * ld
    other = cur + maxw * ld

    # forward: layer 1 by the register-tiled microkernel, the rest units-major
    if floating is double:
        nnf_fwd1_d(X, nb, n_in, WT, hp, sizes[1], WT + n_in * hp,
                   zout if L == 1 else acts[1], ld)
    else:
        nnf_fwd1_f(X, nb, n_in, WT, hp, sizes[1], WT + n_in * hp,
                   zout if L == 1 else acts[1], ld)
    for l in range(1, L):
        _sigmoid(acts[l], sizes[l] * ld)
        _dense(theta + woff[l], sizes[l + 1], sizes[l], acts[l], ld, npad,
               zout if l + 1 == L else acts[l + 1])
    for l in range(n_out):
        for r in range(npad):
            acts[L][l * ld + r] = zout[l * ld + r]
    _sigmoid(acts[L], n_out * ld)

    block_loss = _output_error(zout, acts[L], Y, n_out, ld, nb, npad, loss, cur, H)
    if G == NULL:
        return block_loss

    # backward: deltas units-major, gradient of every layer accumulated in the slab
    for l in range(L, 1, -1):
        if floating is double:
            nnf_grad_small_d(cur, sizes[l], acts[l - 1], sizes[l - 1], ld, nb, G + woff[l - 1])
            nnf_backprop_d(theta + woff[l - 1], sizes[l], sizes[l - 1], cur, acts[l - 1],
                           ld, npad, other)
        else:
            nnf_grad_small_f(cur, sizes[l], acts[l - 1], sizes[l - 1], ld, nb, G + woff[l - 1])
            nnf_backprop_f(theta + woff[l - 1], sizes[l], sizes[l - 1], cur, acts[l - 1],
                           ld, npad, other)
        tmp = cur
        cur = other
        other = tmp
    if floating is double:
        nnf_grad1_d(cur, ld, sizes[1], X, nb, n_in, G)
    else:
        nnf_grad1_f(cur, ld, sizes[1], X, nb, n_in, G)
    return block_loss


def workspace_size(sizes, Py_ssize_t block):
    """Elements of work buffer one thread needs."""
    hidden_and_out = list(sizes)[1:]
    return (sum(hidden_and_out) + hidden_and_out[len(hidden_and_out) - 1]
            + 2 * max(hidden_and_out)) * block


def fused_loss_grad(
    const floating[::1] theta,      # IN: (n_params,)
    const floating[:, ::1] X,       # IN: (m, n_in)
    const floating[:, ::1] Y,       # IN: (m, n_out); ignored unless with_loss
    const floating[::1] WT,         # IN: (n_in * hp + h1,) packed first layer
    Py_ssize_t hp,
    const Py_ssize_t[::1] sizes,    # IN: (L + 1,)
    const Py_ssize_t[::1] woff,     # IN: (L,)
    int loss,
    bint with_loss,
    floating[::1] grad_out,         # OUT: (n_params,) summed gradient, or empty for none
    floating[:, ::1] H,             # OUT: (m, n_out) activations, or empty for none
    floating[:, ::1] work,          # work: (n_threads, workspace_size) zero-initialised
    floating[:, ::1] slabs,         # work: (n_threads, n_params) if n_threads > 1, else empty
    Py_ssize_t block,
    int n_threads,
):
    """Summed loss (float64); fills grad_out and/or H if they are not empty.

    The caller guarantees shapes, dtypes and contiguity (see
    nnfast.backends._cython), ``block % BLOCK_ALIGN == 0``,
    ``work.shape[0] >= n_threads`` and ``len(sizes) <= 64``.
    """
    cdef Py_ssize_t m = X.shape[0], n_params = theta.shape[0]
    cdef Py_ssize_t L = sizes.shape[0] - 1, n_in = sizes[0], n_out = sizes[L]
    cdef Py_ssize_t n_blocks = (m + block - 1) // block
    cdef Py_ssize_t blk, r0, nb, t, i, ws_size = work.shape[1]
    cdef bint need_grad = grad_out.shape[0] > 0
    cdef bint need_h = H.shape[0] > 0
    cdef double[::1] loss_parts = np.zeros(n_threads * LOSS_STRIDE, dtype=np.float64)
    cdef double total = 0.0
    cdef floating *G
    cdef floating *Hp
    cdef const floating *Yp

    if n_threads < 1 or not NNF_OPENMP:
        n_threads = 1
    if need_grad:
        for i in range(n_params):
            grad_out[i] = 0

    with nogil, parallel(num_threads=n_threads):
        for blk in prange(n_blocks, schedule="static"):
            t = threadid()
            r0 = blk * block
            nb = block if r0 + block <= m else m - r0
            G = NULL
            if need_grad:
                G = &grad_out[0] if n_threads == 1 else &slabs[t, 0]
            Hp = &H[r0, 0] if need_h else NULL
            Yp = &Y[r0, 0] if with_loss else NULL
            loss_parts[t * LOSS_STRIDE] += _block(
                &X[r0, 0], Yp, nb, &theta[0], &WT[0], hp, &sizes[0], &woff[0],
                L, loss, block, &work[t, 0], G, Hp)

    # deterministic reduction, in thread order
    for t in range(n_threads):
        total += loss_parts[t * LOSS_STRIDE]
    if need_grad and n_threads > 1:
        for i in range(n_params):
            grad_out[i] = slabs[0, i]
        for t in range(1, n_threads):
            for i in range(n_params):
                grad_out[i] += slabs[t, i]
    return total
