# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Fused cost/gradient kernel of a fully connected network: the typed loops.

One parallel pass over row blocks of X.  For each block, while it is in cache:
forward of every layer, output error, backward deltas and gradient accumulation
into the slab of the block's chunk.  The rows are cut into chunks of whole blocks,
independent of the thread count; threads take chunks dynamically, and the slabs are
summed in chunk order, so the result does not depend on the number of threads.
The register-tiled SIMD microkernels live in nnf_simd_impl.h (one instance per SIMD
level, chosen at run time by nnf_simd.h).

Validation is nnfast._validation's job (through nnfast.backends._cython, the
only caller); ``fused_loss_grad`` keeps O(1) consistency checks of its buffers
only so that no call can reach the kernels with a size they would overrun.
"""

import numpy as np

from cython cimport floating
from libc.math cimport NAN
from cython.parallel cimport parallel, prange, threadid


cdef extern from "nnf_simd.h" nogil:
    int NNF_OPENMP
    int NNF_SCALAR, NNF_VEC128, NNF_AVX2, NNF_AVX512
    int NNF_MAX_BLOCK
    int nnf_level
    int nnf_best_level()
    int nnf_set_level(int level)
    const char *nnf_level_name(int level)

    int NNF_ACT_LOGISTIC, NNF_ACT_TANH, NNF_ACT_RELU, NNF_ACT_IDENTITY
    int NNF_HEAD_LOGISTIC_CROSS_ENTROPY, NNF_HEAD_LOGISTIC_SQUARED_ERROR
    int NNF_HEAD_SOFTMAX_CROSS_ENTROPY, NNF_HEAD_IDENTITY_SQUARED_ERROR

    void nnf_activate_d(int act, double *a, Py_ssize_t n)
    void nnf_activate_f(int act, float *a, Py_ssize_t n)
    void nnf_output_activation_d(int head, const double *Z, Py_ssize_t ld, Py_ssize_t n_out,
                                 Py_ssize_t npad, double *A)
    void nnf_output_activation_f(int head, const float *Z, Py_ssize_t ld, Py_ssize_t n_out,
                                 Py_ssize_t npad, float *A)
    void nnf_fwd1_d(const double *X, Py_ssize_t nb, Py_ssize_t n_in, const double *WT,
                    Py_ssize_t hp, Py_ssize_t h, const double *b, double *Z, Py_ssize_t ldz)
    void nnf_fwd1_f(const float *X, Py_ssize_t nb, Py_ssize_t n_in, const float *WT,
                    Py_ssize_t hp, Py_ssize_t h, const float *b, float *Z, Py_ssize_t ldz)
    void nnf_fwdT_d(const double *W, Py_ssize_t n_k, Py_ssize_t h, const double *XT,
                    Py_ssize_t ldx, Py_ssize_t npad, double *Z, Py_ssize_t ldz,
                    const void *pf, Py_ssize_t pf_bytes)
    void nnf_fwdT_f(const float *W, Py_ssize_t n_k, Py_ssize_t h, const float *XT,
                    Py_ssize_t ldx, Py_ssize_t npad, float *Z, Py_ssize_t ldz,
                    const void *pf, Py_ssize_t pf_bytes)
    void nnf_grad1_d(const double *D, Py_ssize_t ldd, Py_ssize_t h, const double *X,
                     Py_ssize_t nb, Py_ssize_t n_in, double *G,
                     const void *pf, Py_ssize_t pf_bytes)
    void nnf_grad1_f(const float *D, Py_ssize_t ldd, Py_ssize_t h, const float *X,
                     Py_ssize_t nb, Py_ssize_t n_in, float *G,
                     const void *pf, Py_ssize_t pf_bytes)
    void nnf_backprop_d(const double *W, Py_ssize_t n_o, Py_ssize_t n_i, const double *D,
                        const double *A, Py_ssize_t ld, Py_ssize_t npad, int act, double *P)
    void nnf_backprop_f(const float *W, Py_ssize_t n_o, Py_ssize_t n_i, const float *D,
                        const float *A, Py_ssize_t ld, Py_ssize_t npad, int act, float *P)
    void nnf_spfwd_d(const Py_ssize_t *indptr, const int *cols, const double *vals,
                     Py_ssize_t nb, const double *WT, Py_ssize_t hp, Py_ssize_t h,
                     const double *b, double *Z, Py_ssize_t ldz)
    void nnf_spfwd_f(const Py_ssize_t *indptr, const int *cols, const float *vals,
                     Py_ssize_t nb, const float *WT, Py_ssize_t hp, Py_ssize_t h,
                     const float *b, float *Z, Py_ssize_t ldz)
    void nnf_spgrad_d(const int *ccols, const Py_ssize_t *cptr, Py_ssize_t n_cols,
                      const int *crow, const double *cval, const double *Dt, Py_ssize_t hp,
                      Py_ssize_t h, double *GT)
    void nnf_spgrad_f(const int *ccols, const Py_ssize_t *cptr, Py_ssize_t n_cols,
                      const int *crow, const float *cval, const float *Dt, Py_ssize_t hp,
                      Py_ssize_t h, float *GT)
    int nnf_nonfinite_d(const double *Z, Py_ssize_t rows, Py_ssize_t ld, Py_ssize_t n)
    int nnf_nonfinite_f(const float *Z, Py_ssize_t rows, Py_ssize_t ld, Py_ssize_t n)
    double nnf_output_error_d(const double *Z, Py_ssize_t ld, const double *YT, Py_ssize_t ldy,
                              Py_ssize_t n_out, Py_ssize_t nb, Py_ssize_t npad, int head,
                              double *A, double *D, const double *W)
    double nnf_output_error_f(const float *Z, Py_ssize_t ld, const float *YT, Py_ssize_t ldy,
                              Py_ssize_t n_out, Py_ssize_t nb, Py_ssize_t npad, int head,
                              float *A, float *D, const float *W)


cdef extern from "nnf_rows.h" nogil:
    void nnf_to_rows_d(const double *A, Py_ssize_t n, Py_ssize_t ld, Py_ssize_t nb, double *AT)
    void nnf_to_rows_f(const float *A, Py_ssize_t n, Py_ssize_t ld, Py_ssize_t nb, float *AT)


cdef extern from "nnf_build_config.h":
    const char *NNF_BUILD_FLAGS
    const char *NNF_BUILD_COMPILER


#: rows per block must be a multiple of this (the widest vector, 16 floats)
BLOCK_ALIGN = 16
#: padded stride (in doubles) between the per-thread loss partial sums
cdef enum:
    LOSS_STRIDE = 8

#: hidden activations (codes of the ``activations`` argument)
ACTIVATIONS = {"logistic": NNF_ACT_LOGISTIC, "tanh": NNF_ACT_TANH, "relu": NNF_ACT_RELU,
               "identity": NNF_ACT_IDENTITY}
#: heads, (output activation, loss) -> code of the ``head`` argument
HEADS = {("logistic", "cross_entropy"): NNF_HEAD_LOGISTIC_CROSS_ENTROPY,
         ("logistic", "squared_error"): NNF_HEAD_LOGISTIC_SQUARED_ERROR,
         ("softmax", "cross_entropy"): NNF_HEAD_SOFTMAX_CROSS_ENTROPY,
         ("identity", "squared_error"): NNF_HEAD_IDENTITY_SQUARED_ERROR}
LOSS_CROSS_ENTROPY = NNF_HEAD_LOGISTIC_CROSS_ENTROPY
LOSS_SQUARED_ERROR = NNF_HEAD_LOGISTIC_SQUARED_ERROR

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

cdef inline void _activate(int act, floating *a, Py_ssize_t n) noexcept nogil:
    if floating is double:
        nnf_activate_d(act, a, n)
    else:
        nnf_activate_f(act, a, n)


cdef inline void _to_rows(
    const floating *A,      # IN: (n, ld) units-major
    Py_ssize_t n, Py_ssize_t ld, Py_ssize_t nb,
    floating *AT,           # OUT: (nb, n) the first nb columns, one row per example
) noexcept nogil:
    if floating is double:
        nnf_to_rows_d(A, n, ld, nb, AT)
    else:
        nnf_to_rows_f(A, n, ld, nb, AT)


cdef double _block(
    const floating *X,        # IN: (nb, n_in) rows of the block
    const floating *XP,       # IN: (n_in, ld) the block's packed panel (X transposed), or NULL
    const floating *XP_next,  # IN: the panel this thread reads next (prefetched), or NULL
    const floating *YT,       # IN: (n_out, ldy) targets transposed, from the block's first row,
    Py_ssize_t ldy,           #     or NULL (forward only)
    const floating *RW,       # IN: (nb,) the block's row weights, or NULL (every row counts 1)
    Py_ssize_t nb,
    const floating *theta,    # IN: all weights
    const floating *WT,       # IN: per layer, (n_prev, hp) weights transposed then (n,) bias
    const Py_ssize_t *wt_offsets,     # IN: (L,) start of each layer's part of WT
    const Py_ssize_t *padded_widths,  # IN: (L,) widths padded to a multiple of 16 (hp)
    const Py_ssize_t *sizes,  # IN: (L + 1,) layer widths
    const Py_ssize_t *weight_offsets,  # IN: (L,) start of each weight matrix in theta
    const int *activations,   # IN: (L - 1,) activation code of each hidden layer
    Py_ssize_t L, int head, Py_ssize_t ld,
    floating *work,           # work: this thread's buffers
    floating *G,              # OUT: this chunk's gradient slab (accumulated), or NULL
    floating *H,              # OUT: (nb, n_out) activations of the block, or NULL
    bint check_inputs,        # return NaN if the first layer's logits are not all finite
    const Py_ssize_t *sp_indptr,  # IN: (nb + 1,) the block's rows of X in CSR, or NULL (dense)
    const int *sp_cols,       # IN: features of the nonzeros (CSR)
    const floating *sp_vals,  # IN: values of the nonzeros (CSR)
    const int *sc_cols,       # IN: (sc_n,) the block's features with nonzeros (gradient)
    const Py_ssize_t *sc_ptr,  # IN: (sc_n + 1,) where each feature's nonzeros start
    Py_ssize_t sc_n,
    const int *sc_rows,       # IN: rows (< nb) of the nonzeros, by feature
    const floating *sc_vals,  # IN: values of the nonzeros, by feature
    floating *GT,             # OUT: (n_in, hp) first layer's gradient, transposed (accumulated)
    floating *Dt,             # work: (nb, hp) the first layer's deltas, one row per example
) noexcept nogil:
    cdef Py_ssize_t n_out = sizes[L]
    cdef Py_ssize_t npad = (nb + 15) // 16 * 16
    cdef Py_ssize_t l, r, u, total_units = 0, maxw = 0
    cdef Py_ssize_t hp1 = padded_widths[0]
    cdef floating dsum
    cdef floating *acts[64]      # acts[l]: (sizes[l], ld) activation of layer l, l = 1..L
    cdef const floating *rows[64]  # rows[l]: (nb, sizes[l]) input of layer l + 1, row-major
    cdef floating *zout
    cdef floating *cur
    cdef floating *other
    cdef floating *tmp
    cdef floating *spare
    cdef floating *target
    cdef const void *pf
    cdef double block_loss
    cdef bint inputs_bad = False

    for l in range(1, L + 1):
        acts[l] = work + total_units * ld
        total_units += sizes[l]
        if sizes[l] > maxw:
            maxw = sizes[l]
    zout = work + total_units * ld
    cur = zout + n_out * ld
    other = cur + maxw * ld
    spare = other + maxw * ld
    rows[0] = X
    for l in range(1, L):
        rows[l] = spare
        spare = spare + sizes[l] * ld

    # forward, by register-tiled microkernels into units-major outputs: layer 1
    # from the packed panel of X (or from the rows of X when there is none), later
    # layers from the units-major activations; a row-major copy of each hidden
    # layer feeds the gradient of the next
    for l in range(1, L + 1):
        target = zout if l == L else acts[l]
        if l == 1 and sp_indptr != NULL:
            if floating is double:
                nnf_spfwd_d(sp_indptr, sp_cols, sp_vals, nb, WT + wt_offsets[0], hp1, sizes[1],
                            WT + wt_offsets[0] + sizes[0] * hp1, target, ld)
            else:
                nnf_spfwd_f(sp_indptr, sp_cols, sp_vals, nb, WT + wt_offsets[0], hp1, sizes[1],
                            WT + wt_offsets[0] + sizes[0] * hp1, target, ld)
        elif l == 1 and XP == NULL:
            if floating is double:
                nnf_fwd1_d(X, nb, sizes[0], WT + wt_offsets[0], padded_widths[0], sizes[1],
                           WT + wt_offsets[0] + sizes[0] * padded_widths[0], target, ld)
            else:
                nnf_fwd1_f(X, nb, sizes[0], WT + wt_offsets[0], padded_widths[0], sizes[1],
                           WT + wt_offsets[0] + sizes[0] * padded_widths[0], target, ld)
        else:
            # while layer 1 runs from the panel, the rows of X that its
            # gradient will read are fetched into L2
            pf = X if l == 1 and G != NULL else NULL
            if floating is double:
                nnf_fwdT_d(theta + weight_offsets[l - 1], sizes[l - 1], sizes[l],
                           XP if l == 1 else acts[l - 1], ld, npad, target, ld,
                           pf, nb * sizes[0] * sizeof(double))
            else:
                nnf_fwdT_f(theta + weight_offsets[l - 1], sizes[l - 1], sizes[l],
                           XP if l == 1 else acts[l - 1], ld, npad, target, ld,
                           pf, nb * sizes[0] * sizeof(float))
        if l == 1 and check_inputs:
            # a NaN or inf in X makes every logit of its row non-finite (NaN x w and
            # inf x 0 are NaN): the logits, a fraction of X's size and in cache, tell
            if floating is double:
                inputs_bad = nnf_nonfinite_d(target, sizes[1], ld, nb)
            else:
                inputs_bad = nnf_nonfinite_f(target, sizes[1], ld, nb)
        if l < L:
            _activate(activations[l - 1], acts[l], sizes[l] * ld)
            if G != NULL:
                _to_rows(acts[l], sizes[l], ld, nb, <floating *> rows[l])
    if YT == NULL:
        # forward only
        if floating is double:
            nnf_output_activation_d(head, zout, ld, n_out, npad, acts[L])
        else:
            nnf_output_activation_f(head, zout, ld, n_out, npad, acts[L])
        if H != NULL:
            _to_rows(acts[L], n_out, ld, nb, H)
        return NAN if inputs_bad else 0.0
    # the output activations, the loss and the output error from one exp per output;
    # row weights scale a row's loss and error, and so all of its gradient
    if floating is double:
        block_loss = nnf_output_error_d(zout, ld, YT, ldy, n_out, nb, npad, head, acts[L], cur,
                                        RW)
    else:
        block_loss = nnf_output_error_f(zout, ld, YT, ldy, n_out, nb, npad, head, acts[L], cur,
                                        RW)
    if inputs_bad:
        block_loss = NAN
    if H != NULL:
        _to_rows(acts[L], n_out, ld, nb, H)
    if G == NULL:
        return block_loss

    # backward: deltas units-major; each layer's gradient G[o, 1 + u] += D[o, :] . rows[:, u]
    # by the same register-tiled microkernel.  While the first layer's gradient
    # runs, the next block's panel is fetched into L2 (a block's panel and rows come
    # from memory, not cache: without this the forward waits for them)
    for l in range(L, 0, -1):
        if l == 1 and sp_indptr != NULL:
            # the deltas one row per example (padding lanes zero), the bias gradient,
            # and the weight gradient of the nonzeros into the transposed buffer
            for r in range(nb):
                for u in range(sizes[1]):
                    Dt[r * hp1 + u] = cur[u * ld + r]
                for u in range(sizes[1], hp1):
                    Dt[r * hp1 + u] = 0
            for u in range(sizes[1]):
                dsum = 0
                for r in range(nb):
                    dsum = dsum + cur[u * ld + r]
                G[weight_offsets[0] + u * (sizes[0] + 1)] += dsum
            if floating is double:
                nnf_spgrad_d(sc_cols, sc_ptr, sc_n, sc_rows, sc_vals, Dt, hp1, sizes[1], GT)
            else:
                nnf_spgrad_f(sc_cols, sc_ptr, sc_n, sc_rows, sc_vals, Dt, hp1, sizes[1], GT)
            continue
        pf = XP_next if l == 1 else NULL
        if floating is double:
            nnf_grad1_d(cur, ld, sizes[l], rows[l - 1], nb, sizes[l - 1], G + weight_offsets[l - 1],
                        pf, sizes[0] * ld * sizeof(double))
        else:
            nnf_grad1_f(cur, ld, sizes[l], rows[l - 1], nb, sizes[l - 1], G + weight_offsets[l - 1],
                        pf, sizes[0] * ld * sizeof(float))
        if l > 1:
            if floating is double:
                nnf_backprop_d(theta + weight_offsets[l - 1], sizes[l], sizes[l - 1], cur,
                               acts[l - 1], ld, npad, activations[l - 2], other)
            else:
                nnf_backprop_f(theta + weight_offsets[l - 1], sizes[l], sizes[l - 1], cur,
                               acts[l - 1], ld, npad, activations[l - 2], other)
            tmp = cur
            cur = other
            other = tmp
    return block_loss


def workspace_size(sizes, Py_ssize_t block):
    """Elements of work buffer one thread needs."""
    hidden_and_out = list(sizes)[1:]
    hidden = hidden_and_out[:len(hidden_and_out) - 1]
    return (sum(hidden_and_out) + hidden_and_out[len(hidden_and_out) - 1]
            + 2 * max(hidden_and_out) + sum(hidden)) * block


def fused_loss_grad(
    const floating[::1] theta,      # IN: (n_params,)
    const floating[:, ::1] X,       # IN: (m, n_in)
    const floating[:, :, ::1] XP,   # IN: (n_blocks, n_in, block) X in packed panels, or empty
    const floating[:, ::1] YT,      # IN: (n_out, m) targets transposed; ignored unless with_loss
    const floating[::1] row_weights,  # IN: (m,) a weight per row, or empty for none
    const floating[::1] WT,         # IN: packed layers (see _block)
    const Py_ssize_t[::1] wt_offsets,     # IN: (L,) start of each layer in WT
    const Py_ssize_t[::1] padded_widths,  # IN: (L,) padded widths
    const Py_ssize_t[::1] sizes,    # IN: (L + 1,)
    const Py_ssize_t[::1] weight_offsets,     # IN: (L,)
    const int[::1] activations,     # IN: (L - 1,) ACTIVATIONS code of each hidden layer
    int head,                       # HEADS code: output activation and loss
    bint with_loss,
    floating[::1] grad_out,         # OUT: (n_params,) summed gradient, or empty for none
    floating[:, ::1] H,             # OUT: (m, n_out) activations, or empty for none
    floating[:, ::1] work,          # work: (n_threads, workspace_size), finite values
    floating[:, ::1] slabs,         # work: (n_chunks, n_params) if n_chunks > 1, else empty
    Py_ssize_t block,
    Py_ssize_t n_chunks,
    int n_threads,
    bint check_inputs=False,
    const Py_ssize_t[::1] sp_indptr=None,  # IN: (m + 1,) X's rows in CSR, or None (dense)
    const int[::1] sp_cols=None,           # IN: (nnz,) features of the nonzeros, < n_in
    const floating[::1] sp_vals=None,      # IN: (nnz,) values of the nonzeros
    floating[:, ::1] sp_work=None,         # work: (n_threads, (n_in + block) * hp) if sparse
    # the same nonzeros by block and feature, for the first layer's gradient (rows
    # ascending within a feature): block b's features are sc_cols[q] for q in
    # sc_blocks[b] .. sc_blocks[b + 1] - 1, feature q's nonzeros sc_vals[p] in the
    # block's rows sc_rows[p] for p in sc_ptr[q] .. sc_ptr[q + 1] - 1
    const Py_ssize_t[::1] sc_blocks=None,  # IN: (n_blocks + 1,)
    const int[::1] sc_cols=None,           # IN: (n_groups,) features, < n_in
    const Py_ssize_t[::1] sc_ptr=None,     # IN: (n_groups + 1,)
    const int[::1] sc_rows=None,           # IN: (nnz,) rows within the block, < its rows
    const floating[::1] sc_vals=None,      # IN: (nnz,)
):
    """Summed loss (float64); fills grad_out and/or H if they are not empty.

    With ``row_weights`` (not empty), each row's loss and gradient count that many
    times: the weighted sums of ``nnfast._weighted``.

    With ``check_inputs``, the result is NaN (the buffers are filled all the same)
    if some logit of the first layer is NaN or infinite, which is the case whenever
    X holds a NaN or an inf (and also when finite inputs overflow): the caller can
    then skip its own pass over X and look at X only when this says so.

    The rows are cut into ``n_chunks`` contiguous chunks of whole blocks; each
    chunk accumulates its gradient into its own slab (``grad_out`` itself when
    there is one chunk) and its loss into its own float64 partial sum.  Threads
    take chunks dynamically (a thread that is preempted on a busy machine
    does not hold the others up), and the slabs are summed in chunk order, so
    the result depends on ``n_chunks`` but not on the number of threads or on
    which thread ran which chunk: it is bitwise reproducible.

    The caller guarantees shapes, dtypes and contiguity (see
    nnfast.backends._cython), ``block % BLOCK_ALIGN == 0``,
    ``1 <= n_chunks <= number of blocks``, ``work.shape[0] >= n_threads``
    and ``len(sizes) <= 64``.
    """
    cdef Py_ssize_t m = X.shape[0], n_params = theta.shape[0]
    cdef Py_ssize_t L = sizes.shape[0] - 1
    cdef Py_ssize_t n_blocks = (m + block - 1) // block
    cdef Py_ssize_t c, blk, r0, nb, t, i, p, p0, p1
    cdef Py_ssize_t piece, n_pchunks
    cdef bint need_grad = grad_out.shape[0] > 0
    cdef bint need_h = H.shape[0] > 0
    cdef double[::1] loss_parts = np.zeros(n_chunks * LOSS_STRIDE, dtype=np.float64)
    cdef double total = 0.0
    cdef floating *G
    cdef floating *Hp
    cdef const floating *Yp
    cdef const floating *RWp
    cdef bint weighted = row_weights.shape[0] > 0
    cdef const floating *XPp
    cdef const floating *XPn
    cdef bint panels = XP.shape[0] > 0
    cdef Py_ssize_t ldy = YT.shape[1]
    cdef int no_hidden = 0
    cdef const int *act_codes = &activations[0] if activations.shape[0] > 0 else &no_hidden
    # X's rows in CSR (a first layer that skips X's zeros); the caller checked every
    # feature index once, when it built them (they are read-only)
    cdef bint sparse = sp_indptr is not None
    cdef Py_ssize_t hp1 = padded_widths[0] if padded_widths.shape[0] > 0 else 0
    cdef Py_ssize_t gt_size = 0, k, u, g0
    cdef floating *GTp
    cdef floating *Dtp
    cdef const Py_ssize_t *SPp
    cdef const int *SCp = NULL
    cdef const floating *SVp = NULL
    cdef const int *CCp = NULL
    cdef const Py_ssize_t *CPp = NULL
    cdef const int *CRp = NULL
    cdef const floating *CVp = NULL
    cdef Py_ssize_t q0 = 0, q1 = 0

    if n_threads < 1 or not NNF_OPENMP:
        n_threads = 1
    # the slabs' reduction is split over the parameters: a few pieces per thread, of at
    # least 1024 parameters (the split does not change the order of the sums)
    piece = max(1024, (n_params + 4 * n_threads - 1) // (4 * n_threads))
    n_pchunks = (n_params + piece - 1) // piece
    # last line of defence (nnfast.backends._cython checks everything first)
    if (L < 1 or L > 63 or weight_offsets.shape[0] != L or wt_offsets.shape[0] != L
            or padded_widths.shape[0] != L):
        raise ValueError("inconsistent layer description")
    if X.shape[1] != sizes[0] or m < 1 or block < 16 or block % 16 or block > NNF_MAX_BLOCK:
        raise ValueError("inconsistent X or block size")
    if WT.shape[0] < 1:
        raise ValueError("empty packed weights")
    if activations.shape[0] != L - 1 or head < 0 or head > 3:
        raise ValueError("inconsistent activations or head")
    for i in range(L - 1):
        if activations[i] < 0 or activations[i] > 3:
            raise ValueError("unknown activation code")
    if XP.shape[0] > 0 and (XP.shape[0] != n_blocks or XP.shape[1] != sizes[0]
                            or XP.shape[2] != block):
        raise ValueError("inconsistent panels of X")
    if with_loss and (YT.shape[0] != sizes[L] or YT.shape[1] != m):
        raise ValueError("inconsistent targets")
    if weighted and (row_weights.shape[0] != m or not with_loss):
        raise ValueError("inconsistent row weights")
    if need_grad and grad_out.shape[0] != n_params:
        raise ValueError("inconsistent gradient buffer")
    if need_h and (H.shape[0] != m or H.shape[1] != sizes[L]):
        raise ValueError("inconsistent output buffer")
    if n_chunks < 1 or n_chunks > n_blocks or work.shape[0] < n_threads:
        raise ValueError("inconsistent chunks or threads")
    if work.shape[1] < workspace_size(list(sizes), block):
        raise ValueError("work buffer too small")
    if need_grad and n_chunks > 1 and (slabs.shape[0] < n_chunks or slabs.shape[1] != n_params):
        raise ValueError("inconsistent slabs")
    if sparse:
        if (sp_cols is None or sp_vals is None or sp_indptr.shape[0] != m + 1 or panels
                or sp_cols.shape[0] != sp_vals.shape[0] or sp_indptr[0] != 0
                or sp_indptr[m] > sp_cols.shape[0]):
            raise ValueError("inconsistent sparse rows of X")
        for i in range(m):
            if sp_indptr[i + 1] < sp_indptr[i]:
                raise ValueError("inconsistent sparse rows of X")
        gt_size = sizes[0] * hp1
        if need_grad and (sp_work is None or sp_work.shape[0] < n_threads
                          or sp_work.shape[1] < gt_size + block * hp1):
            raise ValueError("sparse work buffer too small")
        if sp_cols.shape[0] > 0:
            SCp = &sp_cols[0]
            SVp = &sp_vals[0]
        if need_grad:
            # the pointers at every call, the features and rows when they were built
            # (nnfast.backends._cython._checked_block_cols; read-only)
            if (sc_blocks is None or sc_cols is None or sc_ptr is None or sc_rows is None
                    or sc_vals is None or sc_blocks.shape[0] != n_blocks + 1
                    or sc_blocks[0] != 0 or sc_blocks[n_blocks] != sc_cols.shape[0]
                    or sc_ptr.shape[0] != sc_cols.shape[0] + 1 or sc_ptr[0] != 0
                    or sc_rows.shape[0] != sc_vals.shape[0]
                    or sc_ptr[sc_cols.shape[0]] != sc_rows.shape[0]):
                raise ValueError("inconsistent sparse columns of X")
            for i in range(n_blocks):
                if sc_blocks[i + 1] < sc_blocks[i]:
                    raise ValueError("inconsistent sparse columns of X")
            for i in range(sc_cols.shape[0]):
                if sc_ptr[i + 1] < sc_ptr[i]:
                    raise ValueError("inconsistent sparse columns of X")
            CPp = &sc_ptr[0]
            if sc_cols.shape[0] > 0:
                CCp = &sc_cols[0]
            if sc_rows.shape[0] > 0:
                CRp = &sc_rows[0]
                CVp = &sc_vals[0]
    for i in range(L):
        if sizes[i] < 1 or sizes[i + 1] < 1 or padded_widths[i] < sizes[i + 1] or padded_widths[i] % 16:
            raise ValueError("inconsistent layer widths")
        if weight_offsets[i] < 0 or weight_offsets[i] + sizes[i + 1] * (sizes[i] + 1) > n_params:
            raise ValueError("inconsistent weight offsets")
        if not panels and (wt_offsets[i] < 0
                           or wt_offsets[i] + sizes[i] * padded_widths[i] + sizes[i + 1] > WT.shape[0]):
            raise ValueError("inconsistent packed weights")

    with nogil, parallel(num_threads=n_threads):
        for c in prange(n_chunks, schedule="dynamic", chunksize=1):
            t = threadid()
            G = NULL
            GTp = NULL
            Dtp = NULL
            if need_grad:
                G = &grad_out[0] if n_chunks == 1 else &slabs[c, 0]
                for i in range(n_params):
                    G[i] = 0
                if sparse:
                    GTp = &sp_work[t, 0]
                    Dtp = GTp + gt_size
                    for i in range(gt_size):
                        GTp[i] = 0
            for blk in range(c * n_blocks // n_chunks, (c + 1) * n_blocks // n_chunks):
                r0 = blk * block
                nb = block if r0 + block <= m else m - r0
                Hp = &H[r0, 0] if need_h else NULL
                Yp = &YT[0, r0] if with_loss else NULL
                RWp = &row_weights[r0] if weighted else NULL
                XPp = &XP[blk, 0, 0] if panels else NULL
                XPn = NULL
                if panels and blk + 1 < (c + 1) * n_blocks // n_chunks:
                    XPn = &XP[blk + 1, 0, 0]
                SPp = &sp_indptr[r0] if sparse else NULL
                q0 = 0
                q1 = 0
                if CPp != NULL:
                    q0 = sc_blocks[blk]
                    q1 = sc_blocks[blk + 1]
                loss_parts[c * LOSS_STRIDE] += _block(
                    &X[r0, 0], XPp, XPn, Yp, ldy, RWp, nb, &theta[0], &WT[0], &wt_offsets[0],
                    &padded_widths[0], &sizes[0], &weight_offsets[0], act_codes,
                    L, head, block, &work[t, 0], G, Hp, check_inputs,
                    SPp, SCp, SVp, CCp + q0 if CCp != NULL else NULL,
                    CPp + q0 if CPp != NULL else NULL, q1 - q0, CRp, CVp, GTp, Dtp)
            if GTp != NULL:
                # the chunk's first-layer weight gradient, transposed back into its slab
                g0 = weight_offsets[0]
                for u in range(sizes[1]):
                    for k in range(sizes[0]):
                        G[g0 + u * (sizes[0] + 1) + 1 + k] += GTp[k * hp1 + u]
        # deterministic reduction of the slabs, in chunk order, split over the parameters
        if need_grad and n_chunks > 1:
            for p in prange(n_pchunks, schedule="static"):
                p0 = p * piece
                p1 = p0 + piece if p0 + piece < n_params else n_params
                for i in range(p0, p1):
                    grad_out[i] = slabs[0, i]
                for c in range(1, n_chunks):
                    for i in range(p0, p1):
                        grad_out[i] += slabs[c, i]

    for c in range(n_chunks):
        total += loss_parts[c * LOSS_STRIDE]
    return total


# ---------------------------------------------------------------- input checks

cdef extern from *:
    """
    /* x - x is 0 for every finite x and NaN for NaN and +-inf, and a NaN survives
       any sum: eight independent running sums of x - x (GNU vectors where the
       compiler has them, which also keeps the adds out of one latency chain)
       make the pass as fast as reading X. */
    #if defined(__GNUC__) || defined(__clang__)
    #define NNF_FINITE_BODY(T, W)                                                   \
        typedef T vec_t __attribute__((vector_size(W * sizeof(T))));                \
        vec_t s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0}, v;                           \
        Py_ssize_t i = 0, k;                                                        \
        T total = 0;                                                                \
        for (; i + 4 * W <= n; i += 4 * W) {                                        \
            __builtin_memcpy(&v, x + i, sizeof v); s0 += v - v;                     \
            __builtin_memcpy(&v, x + i + W, sizeof v); s1 += v - v;                 \
            __builtin_memcpy(&v, x + i + 2 * W, sizeof v); s2 += v - v;             \
            __builtin_memcpy(&v, x + i + 3 * W, sizeof v); s3 += v - v;             \
        }                                                                           \
        s0 += s1 + s2 + s3;                                                         \
        for (k = 0; k < W; k++) total += s0[k];                                     \
        for (; i < n; i++) total += x[i] - x[i];                                    \
        return total == 0;
    #else
    #define NNF_FINITE_BODY(T, W)                                                   \
        T total = 0; Py_ssize_t i;                                                  \
        for (i = 0; i < n; i++) total += x[i] - x[i];                               \
        return total == 0;
    #endif
    static int nnf_all_finite_d(const double *x, Py_ssize_t n) { NNF_FINITE_BODY(double, 4) }
    static int nnf_all_finite_f(const float *x, Py_ssize_t n) { NNF_FINITE_BODY(float, 8) }
    """
    int nnf_all_finite_d(const double *x, Py_ssize_t n) noexcept nogil
    int nnf_all_finite_f(const float *x, Py_ssize_t n) noexcept nogil

#: values per piece of the finiteness check (a piece is what one thread takes at a time)
cdef enum:
    FINITE_PIECE = 1 << 16


cdef inline int _all_finite_run(const floating *x, Py_ssize_t n) noexcept nogil:
    if floating is double:
        return nnf_all_finite_d(x, n)
    else:
        return nnf_all_finite_f(x, n)


def all_finite(const floating[:, ::1] X, int n_threads=1):
    """True if every value of X is finite (no NaN, no inf).

    One pass over X at memory speed, without the temporary boolean array of
    ``numpy.isfinite(X).all()``; pieces of ``FINITE_PIECE`` values are shared
    out to ``n_threads`` threads dynamically.

    Parameters
    ----------
    X : ndarray of shape (m, n), float64 or float32, C-contiguous
    n_threads : int
    """
    cdef Py_ssize_t size = X.shape[0] * X.shape[1]
    cdef Py_ssize_t n_pieces = (size + FINITE_PIECE - 1) // FINITE_PIECE
    cdef Py_ssize_t p, start
    cdef int bad = 0
    cdef const floating *x
    if size == 0:
        return True
    x = &X[0, 0]
    if n_threads < 1 or n_pieces < 2 or not NNF_OPENMP:
        n_threads = 1
    with nogil, parallel(num_threads=n_threads):
        for p in prange(n_pieces, schedule="dynamic", chunksize=1):
            start = p * FINITE_PIECE
            # reduction by +=: any piece with a non-finite value counts one
            bad += 1 - _all_finite_run(x + start, min(<Py_ssize_t> FINITE_PIECE, size - start))
    return bad == 0
