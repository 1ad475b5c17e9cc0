"""Compiled backend: one fused, multithreaded pass of a Cython/OpenMP kernel.

For each block of 64 rows of X, while it is in cache, the kernel runs the
forward pass of every layer, the output error, the backward deltas and the
gradient accumulation into a slab.  The rows are cut into chunks by the
policy of :mod:`nnfast.backends._chunking` (they depend on the machine and on
m, not on n_threads), each with its own gradient slab; OpenMP threads take chunks
dynamically and the slabs are summed in chunk order afterwards, so on a given
machine results are bitwise identical for any number of threads.

The products go through register-tiled SIMD microkernels (nnf_simd.h),
compiled for AVX-512F, AVX2+FMA and baseline SSE2/NEON and chosen at run
time from the CPU's features (no ``-march`` flag needed):

- forward of every layer from units-major inputs (rows in the SIMD lanes):
  a tile of units x row-vectors, accumulated in registers over the inputs; the
  first layer reads X from packed panels (X transposed per block, built once by
  :meth:`CythonBackend.prepare`; this costs a second copy of X in memory), or, when
  at most ``SPARSE_DENSITY`` of X is nonzero (MNIST: 19%), from X's rows in CSR,
  skipping its zeros (``spfwd``; the weight gradient likewise, ``spgrad``);
- gradient of every layer, ``G += D . A_prev``: a tile of units x
  feature-vectors accumulated in registers over the block's rows;
- back-propagation of the deltas: a tile of units x row-vectors.

Small workloads run on one thread (no thread start-up).  No BLAS is called, so
no BLAS threads can oversubscribe.

Inputs are checked once, by :mod:`nnfast._validation` (through
:class:`nnfast.Objective` and the one-shot functions); this module trusts the
contract of :class:`~nnfast.backends.Backend` and only asserts what it cannot
take for granted.  The kernel's entry checks every size it indexes with and
its typed memoryviews check dtype, dimensions and contiguity, so a call that
breaks the contract raises instead of reaching memory it does not own.

Numerics: the loss is accumulated in float64 in both dtypes.  In float32 the
gradient is accumulated in float32 within a chunk's slab; against the float64
``loop`` oracle on the same data the cost agrees to ~3e-9 relative and the
gradient to ~1.5e-7 of its largest entry on the ex4 shape (tests allow 1e-6
and 1e-5).  In float64 both agree to rtol 1e-10 (observed ~1e-15).
"""

from __future__ import annotations

import functools
import os
import threading

import numpy as np

from .._activations import ACTIVATION_CODES, DEFAULT_LOSS, HEAD_CODES
from .._network import layer_offsets, n_params
from .._validation import FLOAT_DTYPES, check_X
from ._base import Backend
from ._chunking import chunk_count, machine_cores, threads_for

from .._kernels import _fused

__all__ = ["CythonBackend"]

if _fused.ACTIVATIONS != ACTIVATION_CODES or _fused.HEADS != HEAD_CODES:
    raise ImportError("the compiled extension's activation and head codes differ from "
                      "nnfast._activations: rebuild it")

#: rows per block (a multiple of _fused.BLOCK_ALIGN) unless fewer let a block's
#: data stay in L2 (see block_rows)
BLOCK_ROWS = 64
#: the smaller blocks block_rows may take, largest first
_SMALLER_BLOCKS = (48, 32)
#: share of L2 that a block's rows and panel, the first layer's weights and its
#: gradient slab may fill (the rest: the other layers, activations and deltas)
_L2_SHARE = 0.75
#: share of nonzeros in X at or below which prepared data keep X's rows in CSR and the
#: first layer skips X's zeros (see _sparse_rows).  At 35% nonzero (random positions, Zen 3,
#: in-process A/B) the sparse path took 0.68-0.97x the dense one's time on 400 -> 25,
#: 784 -> 100 and 784 -> 300 in both dtypes, at 40% 0.89-1.11x, at 45% 0.95-1.25x
SPARSE_DENSITY = 0.35
#: below this many multiply-adds per evaluation (m * n_params), one thread is faster
#: than waking a second one
SERIAL_WORK = 200_000


#: the work buffers of one-shot calls, reused by the next (one set: a call that finds
#: them in use, or of another shape, allocates its own or replaces them)
_ONE_SHOT_BUFFERS: dict = {}
_ONE_SHOT_LOCK = threading.Lock()


@functools.lru_cache(maxsize=4)
def l2_cache_bytes(root="/sys/devices/system/cpu/cpu0/cache"):
    """Size of one core's L2 cache in bytes, from Linux's sysfs (``root``: the first
    core's cache directory), or None where unknown."""
    try:
        entries = os.listdir(root)
    except OSError:
        return None
    for entry in sorted(entries):
        try:
            with open(os.path.join(root, entry, "level")) as f:
                level = f.read().strip()
            with open(os.path.join(root, entry, "type")) as f:
                kind = f.read().strip()
            with open(os.path.join(root, entry, "size")) as f:
                size = f.read().strip()
        except OSError:
            continue
        if level == "2" and kind in ("Unified", "Data"):
            units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
            try:
                return int(size[:-1]) * units[size[-1]] if size[-1] in units else int(size)
            except ValueError:
                return None
    return None


def block_rows(layer_sizes, itemsize, l2_bytes=None):
    """Rows per block of the kernel for a network of ``layer_sizes`` and a dtype of
    ``itemsize`` bytes: ``BLOCK_ROWS``, or fewer when that lets a block's data stay
    in one core's L2 (``l2_bytes``, default :func:`l2_cache_bytes`).

    A block's forward reads its panel of X, its gradient the same rows again, with
    the first layer's weights and gradient slab beside them.  When all four fit in
    L2 with room to spare (``_L2_SHARE``), the rows fetched during the forward are
    still in L2 for the gradient: ex4 in float64 on a 512 KB L2 (AMD Zen 3) took 0.87x
    the time with 32-row blocks.  When the first layer's weights alone fill L2 (784 -> 100 and
    wider), smaller blocks only read them more often (1.2x the time with 32 rows),
    so those networks keep ``BLOCK_ROWS``; so does every network when L2's size is unknown.
    """
    if layer_sizes is None:
        return BLOCK_ROWS
    l2 = l2_cache_bytes() if l2_bytes is None else l2_bytes
    if not l2:
        return BLOCK_ROWS
    n_in, n_first = int(layer_sizes[0]), int(layer_sizes[1])
    budget = _L2_SHARE * l2
    first_layer = 2 * n_first * (n_in + 1) * itemsize   # weights and gradient slab
    for rows in (BLOCK_ROWS,) + _SMALLER_BLOCKS:
        if 2 * rows * n_in * itemsize + first_layer <= budget:   # rows and panel
            return rows
    return BLOCK_ROWS


def _block_rows_info():
    l2 = l2_cache_bytes()
    smaller = " or ".join(map(str, _SMALLER_BLOCKS))
    if not l2:
        return f"{BLOCK_ROWS} (L2's size unknown)"
    return (f"{BLOCK_ROWS}, {smaller} where a block then fits in L2 ({l2 // 1024} KB per core); "
            f"{BLOCK_ROWS} for sparse X")


class _OneShotScratch:
    """What :func:`_run` needs of a cache for a call without prepared data (a forward
    pass): no panels, the shared one-shot work buffers."""
    block = BLOCK_ROWS
    XP = None
    _buffers = _ONE_SHOT_BUFFERS
    _lock = _ONE_SHOT_LOCK


class _Prepared:
    """X and Y laid out once per objective (what ``prepare`` and ``prepare_once`` return).

    ``XP`` (X in panels) is None for data prepared for one call: the kernel's
    first layer then reads the rows of X, from weights repacked at every call.
    """

    __slots__ = ("X", "XP", "csr", "csc", "block", "YT", "m", "n_in", "n_out", "dtype",
                 "x_checked", "_buffers", "_lock")

    def __init__(self, X, Y, panels=True, x_checked=True, block=BLOCK_ROWS):
        self.X = X
        # False: nobody looked for NaN and inf in X; the kernel then watches the first
        # layer's logits, and a call that sees one checks X (see _checked_run)
        self.x_checked = x_checked
        # X again in packed panels, one per block of rows (see _panels), for the first
        # layer's forward microkernel; costs a second copy of X.  Without them (a
        # one-shot call) the kernel reads X's rows.
        # X's rows in CSR instead, when X is mostly zeros: the first layer then skips
        # them (see _sparse_rows), and no panels are needed
        self.csr = _sparse_rows(X) if panels else None
        if self.csr is not None:
            # the smaller blocks keep a block's panel in L2 (see block_rows); without
            # panels they gain nothing: ex4 on MNIST cropped to 20 x 20, float64, took
            # 0.93-0.94x the time with 64 rows as with 32 (in-process A/B on Zen 3)
            block = BLOCK_ROWS
        self.block = block
        # and by block and feature, for the first layer's gradient (see _block_cols)
        self.csc = None if self.csr is None else _block_cols(self.csr, X.shape, block)
        self.XP = _panels(X, block) if panels and self.csr is None else None
        # work buffers of the last call, reused (fresh pages cost page faults);
        # a call that finds them in use by another thread allocates its own
        self._buffers = {}
        self._lock = threading.Lock()
        # targets transposed, so that a block's targets of one output are contiguous
        self.YT = np.ascontiguousarray(Y.T)
        self.m, self.n_in = X.shape
        self.n_out = self.YT.shape[0]
        self.dtype = X.dtype

    def __getstate__(self):
        # the work buffers and their lock stay behind (locks do not pickle)
        return {name: getattr(self, name) for name in self.__slots__
                if name not in ("_buffers", "_lock")}

    def __setstate__(self, state):
        for name, value in state.items():
            setattr(self, name, value)
        if getattr(self, "csr", None) is not None:
            self.csr = _checked_csr(self.csr, self.m, self.n_in)
            csc = getattr(self, "csc", None)
            self.csc = (_block_cols(self.csr, (self.m, self.n_in), self.block) if csc is None
                        else _checked_block_cols(csc, self.m, self.n_in, self.block))
        self._buffers = {}
        self._lock = threading.Lock()

    def __repr__(self):
        return f"<cython backend data: m={self.m}, n_in={self.n_in}, n_out={self.n_out}, {self.dtype}>"


def _sparse_rows(X, max_density=None):
    """X's rows in CSR, ``(indptr, cols, vals)``: intp (m + 1,), intc (nnz,) and X's
    dtype (nnz,), read-only; None when more than ``max_density`` of X is nonzero (or
    X is too large for 32-bit feature indices).

    MNIST's digits are 81% zeros: a first layer that skips them does a fifth of the
    multiply-adds.  Adding an exact zero changes no sum, so the result is the dense
    one up to the order of the sums; a NaN or inf in X is a nonzero and still reaches
    every sum it would have.
    """
    m, n_in = X.shape
    if max_density is None:
        max_density = SPARSE_DENSITY
    if m == 0 or n_in >= 2 ** 31 or np.count_nonzero(X) > max_density * X.size:
        return None
    nonzero = X != 0
    indptr = np.zeros(m + 1, dtype=np.intp)
    np.cumsum(np.count_nonzero(nonzero, axis=1), out=indptr[1:])
    cols = np.nonzero(nonzero)[1].astype(np.intc)
    vals = np.ascontiguousarray(X[nonzero])
    return _checked_csr((indptr, cols, vals), m, n_in)


def _checked_csr(csr, m, n_in):
    """``csr`` made read-only, after checking what the kernel indexes with: it checks
    the row pointers at every call, the feature indices only here (once)."""
    indptr, cols, vals = csr
    if not (indptr.dtype == np.intp and cols.dtype == np.intc and indptr.shape == (m + 1,)
            and cols.ndim == vals.ndim == 1 and cols.size == vals.size == indptr[-1]
            and indptr[0] == 0 and np.all(np.diff(indptr) >= 0)
            and (cols.size == 0 or (int(cols.min()) >= 0 and int(cols.max()) < n_in))):
        raise ValueError("inconsistent sparse rows of X")
    indptr, cols, vals = (np.ascontiguousarray(a) for a in (indptr, cols, vals))
    for a in (indptr, cols, vals):
        a.flags.writeable = False
    return indptr, cols, vals


def _block_cols(csr, shape, block):
    """The nonzeros of ``csr`` (X's rows, shape ``(m, n_in)``) by row block and feature:
    ``(blocks, cols, ptr, rows, vals)``, read-only.

    Block b (rows ``b * block ..``) has the features ``cols[q]`` (ascending) for q in
    ``blocks[b] .. blocks[b + 1] - 1``; feature q's nonzeros are ``vals[p]`` in the
    block's rows ``rows[p]`` (ascending) for p in ``ptr[q] .. ptr[q + 1] - 1``.  The
    kernel's first-layer gradient goes feature by feature: it keeps a feature's gradient
    in registers while the feature's nonzeros go by, and sums each in the order of the
    rows, the order of the row-by-row loop (the same bits).  blocks, ptr: intp; cols,
    rows: intc; vals: X's dtype.
    """
    import scipy.sparse

    indptr, cols, vals = csr
    m, n_in = shape
    n_blocks = -(-m // block)
    rows = np.repeat(np.arange(m, dtype=np.intp), np.diff(indptr))
    # the blocks side by side: (row in its block, block * n_in + feature); scipy's
    # conversion to CSC is a stable counting sort by column, which keeps the rows of
    # CSR's order (ascending) within each feature of a block
    by_feature = scipy.sparse.coo_matrix(
        (vals, (rows % block, (rows // block) * n_in + cols)),
        shape=(block, n_blocks * n_in)).tocsc()
    col_ptr = by_feature.indptr
    groups = np.flatnonzero(col_ptr[1:] != col_ptr[:-1])
    blocks = np.searchsorted(groups // n_in, np.arange(n_blocks + 1)).astype(np.intp)
    ptr = np.r_[col_ptr[groups], col_ptr[-1]].astype(np.intp)
    return _checked_block_cols((blocks, (groups % n_in).astype(np.intc), ptr,
                                by_feature.indices.astype(np.intc),
                                np.ascontiguousarray(by_feature.data, dtype=vals.dtype)),
                               m, n_in, block)


def _checked_block_cols(csc, m, n_in, block):
    """``csc`` (see :func:`_block_cols`) made read-only, after checking what the kernel
    indexes with: it checks the pointers at every call, the features and rows only here
    (once): every feature < n_in, every row < its block's rows."""
    blocks, cols, ptr, rows, vals = csc
    n_blocks = -(-m // block)
    ok = (blocks.dtype == ptr.dtype == np.intp and cols.dtype == rows.dtype == np.intc
          and blocks.shape == (n_blocks + 1,) and ptr.shape == (cols.size + 1,)
          and cols.ndim == rows.ndim == vals.ndim == 1 and rows.size == vals.size
          and blocks[0] == 0 and blocks[-1] == cols.size and ptr[0] == 0
          and ptr[-1] == rows.size and np.all(np.diff(blocks) >= 0)
          and np.all(np.diff(ptr) >= 0))
    if ok and rows.size:
        # the rows of the last block, which may be short
        last = int(ptr[blocks[-2]])
        ok = (int(cols.min()) >= 0 and int(cols.max()) < n_in and int(rows.min()) >= 0
              and int(rows.max()) < block and (last == rows.size
                                              or int(rows[last:].max()) < m - (n_blocks - 1) * block))
    if not ok:
        raise ValueError("inconsistent sparse columns of X")
    csc = tuple(np.ascontiguousarray(a) for a in csc)
    for a in csc:
        a.flags.writeable = False
    return csc


def _aligned_empty(shape, dtype, align=64):
    """An uninitialised C-contiguous array whose data start on a cache line.

    The microkernels' vector loads are then aligned (numpy aligns to 16 bytes, and
    a 64-byte load across two cache lines costs two).
    """
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + align, dtype=np.uint8)
    start = -raw.ctypes.data % align
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def _panels(X, block):
    """X in packed panels, one per block of rows, shape (n_blocks, n_in, block): the
    block's rows in the last axis, zero-padded, cache-line aligned."""
    m, n_in = X.shape
    n_blocks = -(-m // block)
    full = m // block
    XP = _aligned_empty((n_blocks, n_in, block), X.dtype)
    XP[:full] = X[:full * block].reshape(full, block, n_in).transpose(0, 2, 1)
    if full < n_blocks:
        XP[full] = 0
        XP[full, :, :m - full * block] = X[full * block:].T
    return XP


class _Layout:
    """Per-network constants of the kernel call, computed once per layer_sizes.

    The packed weights (see :func:`_pack_layers`) hold each layer transposed,
    its units padded to a multiple of ``BLOCK_ALIGN``, then its biases.
    """

    def __init__(self, sizes, block):
        align = _fused.BLOCK_ALIGN
        self.offsets = layer_offsets(sizes)
        self.n_params = n_params(sizes)
        self.sizes = np.asarray(sizes, dtype=np.intp)
        self.weight_starts = np.asarray([start for start, _, _ in self.offsets], dtype=np.intp)
        padded_widths = [-(-n // align) * align for n in sizes[1:]]
        packed_starts, total = [], 0
        for n_prev, padded, n in zip(sizes[:-1], padded_widths, sizes[1:]):
            packed_starts.append(total)
            total += n_prev * padded + n
        self.padded_widths = np.asarray(padded_widths, dtype=np.intp)
        self.packed_starts = np.asarray(packed_starts, dtype=np.intp)
        self.packed_size = total
        self.workspace = _fused.workspace_size(sizes, block)
        # per layer: its slice of theta, its shape, where it starts in the packed
        # buffer and its padded width
        self.pieces = [(start, end, shape, packed_start, padded)
                       for (start, end, shape), packed_start, padded
                       in zip(self.offsets, packed_starts, padded_widths)]
        for a in (self.sizes, self.weight_starts, self.padded_widths, self.packed_starts):
            a.flags.writeable = False


@functools.lru_cache(maxsize=64)
def _layout(sizes, block=None):
    return _Layout(sizes, BLOCK_ROWS if block is None else block)


def _pack_layers(theta, layout):
    """Each layer's weights transposed to (n_prev, padded), units padded, then its biases."""
    packed = np.zeros(layout.packed_size, dtype=theta.dtype)
    for start, end, (n, n_prev_with_bias), packed_start, padded in layout.pieces:
        W = theta[start:end].reshape(n, n_prev_with_bias)
        n_prev = n_prev_with_bias - 1
        biases_start = packed_start + n_prev * padded
        packed[packed_start:biases_start].reshape(n_prev, padded)[:, :n] = W[:, 1:].T
        packed[biases_start:biases_start + n] = W[:, 0]
    return packed


def _checked_run(x_checked, theta, sizes, offsets, X, *args, **kwargs):
    """:func:`_run`, and for an X nobody checked, the check of X when the kernel's
    first-layer logits were not all finite: the error for a NaN or inf in X, or for
    a finite X whose products overflowed, the result as it is, computed again
    without the watch (which made it NaN)."""
    if x_checked:
        return _run(theta, sizes, offsets, X, *args, **kwargs)
    total = _run(theta, sizes, offsets, X, *args, check_inputs=True, **kwargs)
    if np.isnan(total):
        check_X(X, sizes[0], X.dtype)       # raises on NaN or inf, naming the first one
        total = _run(theta, sizes, offsets, X, *args, **kwargs)
    return total


def _codes(sizes, activations, output, loss):
    """The kernel's codes of the hidden activations (an intc array) and of the head."""
    hidden = tuple(activations or ("logistic",) * (len(sizes) - 2))
    assert len(hidden) == len(sizes) - 2, "one activation per hidden layer"
    assert (output, loss) in HEAD_CODES, f"no head of output {output!r} and loss {loss!r}"
    return _activation_codes(hidden), HEAD_CODES[(output, loss)]


@functools.lru_cache(maxsize=64)
def _activation_codes(hidden):
    """Read-only intc array of the codes of ``hidden`` (built once per network)."""
    codes = np.array([ACTIVATION_CODES[a] for a in hidden], dtype=np.intc)
    codes.flags.writeable = False
    return codes


def _run(theta, sizes, offsets, X, YT, codes, with_loss, grad_out, H, n_threads, cache=None,
         check_inputs=False, row_weights=None):
    """Call the kernel on checked arrays, with work buffers from ``cache`` or fresh ones.

    ``codes``: (activation codes, head code) from :func:`_codes`.  ``cache`` (what
    prepare returned) may also bring the packed panels of X.  ``row_weights``: (m,)
    in X's dtype, C-contiguous, or None."""
    dtype = X.dtype
    m = X.shape[0]
    n_par = theta.shape[0]
    block = cache.block if cache is not None else BLOCK_ROWS
    panels = cache is not None and cache.XP is not None
    XP = cache.XP if panels else np.empty((0, 0, 0), dtype=dtype)
    csr = getattr(cache, "csr", None)   # X's rows in CSR (prepared data), or None
    csc = getattr(cache, "csc", None)   # and by block and feature
    layout = _layout(tuple(sizes), block)
    n_chunks = chunk_count(-(-m // block), n_par, np.dtype(dtype).itemsize)
    threads = threads_for(n_threads, n_chunks, m * n_par, SERIAL_WORK) \
        if _fused.openmp_enabled() else 1
    # the transposed first layer only serves the forward from rows of X (no panels)
    WT = np.zeros(1, dtype=dtype) if panels else _pack_layers(theta, layout)
    need_grad = grad_out is not None
    n_slabs = n_chunks if need_grad and n_chunks > 1 else 0
    work_shape = (threads, layout.workspace)
    locked = cache is not None and cache._lock.acquire(blocking=False)
    try:
        buffers = cache._buffers if locked else {}
        work = buffers.get("work")
        if (work is None or work.dtype != dtype or work.shape[0] < work_shape[0]
                or work.shape[1] != work_shape[1]):
            work = _aligned_empty(work_shape, dtype)   # any finite values will do
            work[...] = 0
        slabs = buffers.get("slabs")
        if slabs is None or slabs.dtype != dtype or slabs.shape != (n_slabs, n_par):
            slabs = _aligned_empty((n_slabs, n_par), dtype)  # zeroed by the kernel
        sp_work = None
        if csr is not None and need_grad:
            # per thread: the first layer's gradient transposed (n_in, hp), a block's deltas
            hp1 = int(layout.padded_widths[0])
            sp_shape = (threads, (sizes[0] + block) * hp1)
            sp_work = buffers.get("sparse")
            if (sp_work is None or sp_work.dtype != dtype or sp_work.shape[0] < sp_shape[0]
                    or sp_work.shape[1] != sp_shape[1]):
                sp_work = _aligned_empty(sp_shape, dtype)   # zeroed by the kernel
        if locked:
            buffers["work"] = work
            buffers["slabs"] = slabs
            if sp_work is not None:
                buffers["sparse"] = sp_work
        empty_vec = np.empty(0, dtype=dtype)
        empty_mat = np.empty((0, 0), dtype=dtype)
        return _fused.fused_loss_grad(
            theta, X, XP, YT if YT is not None else empty_mat,
            row_weights if row_weights is not None else empty_vec, WT, layout.packed_starts,
            layout.padded_widths, layout.sizes, layout.weight_starts,
            codes[0], codes[1], with_loss, grad_out if need_grad else empty_vec,
            H if H is not None else empty_mat, work, slabs, block, n_chunks, threads,
            check_inputs, *(csr + (sp_work,) + (csc or ()) if csr is not None else ()))
    finally:
        if locked:
            cache._lock.release()


class CythonBackend(Backend):
    name = "cython"
    uses_blas = False
    # the first layer's gradient G[o, 1 + u] += D[o, r] * X[r, u] runs over every (r, u)
    # in IEEE arithmetic (no -ffast-math): NaN * d is NaN, inf * d is +-inf or NaN; and
    # with prepare_once(x_checked=False) / forward(x_checked=False) the kernel finds
    # them in the first layer's logits and the call raises as check_X does
    nonfinite_X_reaches_gradient = True
    finds_nonfinite_X = True
    # the kernel reads the targets units-major (YT, one row per output)
    targets_units_major = True
    supports_activations = True
    supports_row_weights = True
    description = ("fused Cython/OpenMP kernel (one pass over row blocks, "
                   "register-tiled SIMD microkernels, run-time CPU dispatch)")

    def __init__(self):
        machine_cores()   # read now, not inside the first timed call
        level = os.environ.get("NNFAST_SIMD")
        if level:
            _fused.set_simd_level(level)

    def build_info(self):
        compiler, flags = _fused.build_flags()
        return {
            "openmp": _fused.openmp_enabled(),
            "simd": _fused.simd_level(),
            "simd available": ", ".join(_fused.simd_levels()),
            "compiler": compiler,
            "flags": flags,
            "block rows": _block_rows_info(),
            "sparse first layer": (f"when at most {SPARSE_DENSITY:.0%} of X is nonzero "
                                   "(prepared data: X's nonzeros by rows, and by block "
                                   "and feature for the gradient)"),
        }

    #: the row blocks are sized for the network (block_rows)
    layout_by_network = True

    def prepare(self, X, Y, panels=True, layer_sizes=None):
        """X and Y laid out for the kernel, X also packed into panels unless ``panels``
        is False, in row blocks sized for ``layer_sizes`` (:func:`block_rows`; None: for
        any network).  Data prepared for one network give another network's right
        results too, in blocks sized for the first."""
        _assert_data(X, Y)
        return _Prepared(X, Y, panels, block=block_rows(layer_sizes, X.dtype.itemsize))

    def prepare_once(self, X, Y, x_checked=True, layer_sizes=None):
        """Like :meth:`prepare` without the panels of X: the kernel reads X's rows
        (no copy of X to build).
        ``x_checked=False``: X may hold NaN or inf; each call then finds them from the
        first layer's logits (in cache, a fraction of X's size) and raises as
        :func:`nnfast._validation.check_X` does."""
        data = self.prepare(X, Y, panels=False, layer_sizes=layer_sizes)
        data.x_checked = x_checked
        # one-shot calls share one set of work buffers: fresh ones at every call
        # cost zeroing and first-touch page faults
        data._buffers, data._lock = _ONE_SHOT_BUFFERS, _ONE_SHOT_LOCK
        return data

    def loss_grad_sum(self, theta, layer_sizes, offsets, data, loss, n_threads, grad_out,
                      activations=None, output="logistic", row_weights=None):
        """As :meth:`Backend.loss_grad_sum`; ``row_weights`` (shape (m,), float64, or None)
        weights each example's loss, and so its gradient (``nnfast._weighted``)."""
        assert isinstance(data, _Prepared), "data must be what CythonBackend.prepare returned"
        sizes = tuple(layer_sizes)
        codes = _codes(sizes, activations, output, loss)
        _assert_network(theta, sizes, offsets, n_threads)
        if row_weights is not None:
            assert row_weights.shape == (data.m,), "row_weights must have shape (m,)"
            row_weights = np.ascontiguousarray(row_weights, dtype=data.dtype)
        return float(_checked_run(data.x_checked, theta, sizes, offsets, data.X, data.YT,
                                  codes, True, grad_out, None, n_threads, cache=data,
                                  row_weights=row_weights))

    def forward(self, theta, offsets, X, n_threads, activations=None, output="logistic",
                x_checked=True):
        """Output activations; ``x_checked=False`` as for :meth:`prepare_once`."""
        assert len(offsets) > 0, "offsets is empty: the network needs at least one weight layer"
        sizes = (offsets[0][2][1] - 1,) + tuple(shape[0] for _, _, shape in offsets)
        _assert_network(theta, sizes, offsets, n_threads)
        # a converted X is the caller's only when it already was C-contiguous in theta's dtype
        X = np.ascontiguousarray(X, dtype=theta.dtype)
        H = np.empty((X.shape[0], sizes[-1]), dtype=theta.dtype)
        # a forward pass uses the head's activation only: any of the output's losses will do
        codes = _codes(sizes, activations, output, DEFAULT_LOSS[output])
        _checked_run(x_checked, theta, sizes, offsets, X, None, codes, False, None, H, n_threads,
                     cache=_OneShotScratch)
        return H


def _assert_data(X, Y):
    """What laying out X and Y relies on (the kernel's entry checks the rest: dtypes,
    contiguity, and that X, Y and the network agree)."""
    assert isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype in FLOAT_DTYPES, \
        "X must be a 2-D float64 or float32 ndarray"
    assert isinstance(Y, np.ndarray) and Y.ndim == 2, "Y must be a 2-D ndarray"


def _assert_network(theta, sizes, offsets, n_threads):
    """The contract of :meth:`CythonBackend.loss_grad_sum` that the kernel's entry cannot
    see (it checks that every offset fits theta, not that they describe the network)."""
    assert offsets == _layout(sizes).offsets, "offsets must be layer_offsets(layer_sizes)"
    assert isinstance(theta, np.ndarray) and theta.shape == (n_params(sizes),), \
        f"theta must be an ndarray of shape ({n_params(sizes)},), got {np.shape(theta)}"
    assert int(n_threads) == n_threads >= 1, "n_threads must be an integer >= 1"
