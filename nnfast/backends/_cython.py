"""Compiled backend: one fused, multithreaded pass of a Cython/OpenMP kernel.

For each block of 64 rows of X, while it is in cache, the kernel runs the
forward pass of every layer, the output error, the backward deltas and the
gradient accumulation into a slab.  The rows are cut into chunks, 4 per core
of the machine (a number that depends on the machine and on m, not on
n_threads), each with its own gradient slab; OpenMP threads take chunks
dynamically and the slabs are summed in chunk order afterwards, so on a given
machine results are bitwise identical for any number of threads.

The products go through register-tiled SIMD microkernels (nnf_simd.h),
compiled for AVX-512F, AVX2+FMA and baseline SSE2/NEON and chosen at run
time from the CPU's features (no ``-march`` flag needed):

- forward of every layer from units-major inputs (rows in the SIMD lanes):
  a tile of units x row-vectors, accumulated in registers over the inputs; the
  first layer reads X from packed panels (X transposed per block, built once by
  :meth:`CythonBackend.prepare`; this costs a second copy of X in memory);
- gradient of every layer, ``G += D . A_prev``: a tile of units x
  feature-vectors accumulated in registers over the block's rows;
- back-propagation of the deltas: a tile of units x row-vectors.

Small workloads run on one thread (no thread start-up).  No BLAS is called, so
no BLAS threads can oversubscribe.

This module is the kernel's gatekeeper: every array that reaches the compiled
code has been checked here for dtype, shape and contiguity (and the kernel's
entry re-checks the sizes it relies on).

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

from .._losses import LOSSES
from .._network import check_layer_sizes, layer_offsets, n_params
from .._validation import check_n_threads, check_X, cpu_count
from ._base import Backend

from .._kernels import _fused

__all__ = ["CythonBackend"]

_LOSS_CODES = {"cross_entropy": _fused.LOSS_CROSS_ENTROPY, "squared_error": _fused.LOSS_SQUARED_ERROR}
_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))

#: rows per block (a multiple of _fused.BLOCK_ALIGN)
BLOCK_ROWS = 64
#: below this many multiply-adds per evaluation (m * n_params), one thread is faster
#: than waking a second one
SERIAL_WORK = 200_000
#: chunks of rows (each with its own gradient slab) per core of the machine, which
#: threads share out dynamically; they depend on the machine and on m, never on
#: n_threads, so that results do not depend on the number of threads
CHUNKS_PER_CORE = 4
#: at most this many bytes of gradient slabs per call
SLAB_BUDGET = 64 * 2**20
#: deepest network the kernel takes (its per-block table of layers)
MAX_LAYERS = 63


#: the work buffers of one-shot calls, reused by the next (one set: a call that finds
#: them in use, or of another shape, allocates its own or replaces them)
_ONE_SHOT_BUFFERS: dict = {}
_ONE_SHOT_LOCK = threading.Lock()


class _OneShotScratch:
    """What :func:`_run` needs of a cache for a call without prepared data (a forward
    pass): no panels, the shared one-shot work buffers."""
    block = BLOCK_ROWS
    XP = None
    _buffers = _ONE_SHOT_BUFFERS
    _lock = _ONE_SHOT_LOCK


class _Prepared:
    """X and Y checked once per objective (what ``prepare`` and ``prepare_once`` return).

    ``XP`` is None for data prepared for one call: the kernel's first layer then
    reads the rows of X (as fast on the ex4 shape, but it needs the weights
    repacked at every call, a few microseconds).
    """

    __slots__ = ("X", "XP", "block", "YT", "m", "n_in", "n_out", "dtype", "x_checked",
                 "_buffers", "_lock")

    def __init__(self, X, Y, panels=True, x_checked=True):
        self.X = X
        # False: nobody looked for NaN and inf in X; the kernel then watches the first
        # layer's logits, and a call that sees one checks X (see _checked_run)
        self.x_checked = x_checked
        self.block = block = BLOCK_ROWS
        # X again in packed panels, one per block of rows (see _panels), for the first
        # layer's forward microkernel; costs a second copy of X.  Without them (a
        # one-shot call) the kernel reads X's rows.
        self.XP = _panels(X, block) if panels else None
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
        self._buffers = {}
        self._lock = threading.Lock()

    def __repr__(self):
        return f"<cython backend data: m={self.m}, n_in={self.n_in}, n_out={self.n_out}, {self.dtype}>"


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


def _check_matrix(name, A, dtype=None):
    if not isinstance(A, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(A).__name__}")
    if A.dtype not in _DTYPES:
        raise TypeError(f"{name} must be float64 or float32, got dtype {A.dtype}")
    if dtype is not None and A.dtype != dtype:
        raise TypeError(f"{name} has dtype {A.dtype} but the data are {dtype}")
    if A.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {A.shape}")
    if A.shape[0] == 0 or A.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {A.shape}); it needs at least one row and column")
    if not A.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (use numpy.ascontiguousarray)")


def _check_layers(layer_sizes, offsets):
    """Layer sizes as a tuple of ints, offsets checked against them."""
    sizes = check_layer_sizes(layer_sizes)
    if len(sizes) - 1 > MAX_LAYERS:
        raise ValueError(f"the cython backend takes at most {MAX_LAYERS} weight layers, got {len(sizes) - 1}")
    expected = layer_offsets(sizes) if len(sizes) > 16 else _layout(sizes, BLOCK_ROWS).offsets
    try:
        same = offsets == expected
    except Exception:
        same = False
    if not same:
        try:
            given = tuple((int(a), int(b), tuple(int(x) for x in shape)) for a, b, shape in offsets)
        except Exception:
            raise TypeError("offsets must be the (start, end, shape) tuples of "
                            "nnfast._network.layer_offsets(layer_sizes)") from None
        if given != expected:
            raise ValueError(f"offsets {offsets!r} do not match layer_sizes {list(sizes)}")
    return sizes, expected


class _Layout:
    """Per-network constants of the kernel call, computed once per layer_sizes."""

    def __init__(self, sizes, block):
        align = _fused.BLOCK_ALIGN
        self.offsets = layer_offsets(sizes)
        self.n_params = n_params(sizes)
        self.sizes = np.asarray(sizes, dtype=np.intp)
        self.woff = np.asarray([start for start, _, _ in self.offsets], dtype=np.intp)
        hps = [-(-n // align) * align for n in sizes[1:]]
        poff, total = [], 0
        for n_prev, hp, n in zip(sizes[:-1], hps, sizes[1:]):
            poff.append(total)
            total += n_prev * hp + n
        self.hps = np.asarray(hps, dtype=np.intp)
        self.poff = np.asarray(poff, dtype=np.intp)
        self.packed_size = total
        self.workspace = _fused.workspace_size(sizes, block)
        # views of theta and of the packed buffer, per layer: (theta slice, shape, packed slices)
        self.pieces = [(start, end, shape, p0, hp)
                       for (start, end, shape), p0, hp in zip(self.offsets, poff, hps)]
        for a in (self.sizes, self.woff, self.hps, self.poff):
            a.flags.writeable = False


@functools.lru_cache(maxsize=64)
def _layout(sizes, block=None):
    return _Layout(sizes, BLOCK_ROWS if block is None else block)


def _check_vector(name, v, n, dtype, writable=False):
    if not isinstance(v, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(v).__name__}")
    if v.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype} (the data's), got {v.dtype}")
    if v.ndim != 1 or v.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},), got {v.shape}")
    if not v.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    if writable and not v.flags.writeable:
        raise ValueError(f"{name} must be writeable")


def _chunks_for(m, block, n_par, itemsize):
    """Chunks of rows with a gradient slab each: ``CHUNKS_PER_CORE`` per core of the
    machine (so that every core can be used, and a slow thread can be made up for), at
    most one per block and at most ``SLAB_BUDGET`` bytes of slabs; never from n_threads."""
    by_memory = max(1, SLAB_BUDGET // max(1, n_par * itemsize))
    return max(1, min(CHUNKS_PER_CORE * _machine_cores(), -(-m // block), by_memory))


@functools.lru_cache(maxsize=1)
def _machine_cores() -> int:
    """Cores of the machine as the chunking sees them: read once per process, so that
    the chunks (and with them the bits of every result) cannot change between calls,
    and no call pays for reading the count (joblib's import, the cgroup files)."""
    return cpu_count()


def _threads_for(n_threads, m, n_par, n_chunks):
    """Threads actually used: never more than chunks, one for small workloads."""
    if not _fused.openmp_enabled() or m * n_par < SERIAL_WORK:
        return 1
    return max(1, min(n_threads, n_chunks))


def _pack_layers(theta, layout):
    """Each layer's weights transposed to (n_prev, hp), units padded to hp, then its biases."""
    packed = np.zeros(layout.packed_size, dtype=theta.dtype)
    for start, end, (n, n_prev1), p0, hp in layout.pieces:
        W = theta[start:end].reshape(n, n_prev1)
        n_prev = n_prev1 - 1
        packed[p0:p0 + n_prev * hp].reshape(n_prev, hp)[:, :n] = W[:, 1:].T
        packed[p0 + n_prev * hp:p0 + n_prev * hp + n] = W[:, 0]
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


def _run(theta, sizes, offsets, X, YT, loss_code, with_loss, grad_out, H, n_threads, cache=None,
         check_inputs=False):
    """Call the kernel on checked arrays, with work buffers from ``cache`` or fresh ones.

    ``cache`` (what prepare returned) may also bring the packed panels of X."""
    dtype = X.dtype
    m = X.shape[0]
    n_par = theta.shape[0]
    block = cache.block if cache is not None else BLOCK_ROWS
    panels = cache is not None and cache.XP is not None
    XP = cache.XP if panels else np.empty((0, 0, 0), dtype=dtype)
    layout = _layout(tuple(sizes), block)
    n_chunks = _chunks_for(m, block, n_par, np.dtype(dtype).itemsize)
    threads = _threads_for(n_threads, m, n_par, n_chunks)
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
        if locked:
            buffers["work"] = work
            buffers["slabs"] = slabs
        empty_vec = np.empty(0, dtype=dtype)
        empty_mat = np.empty((0, 0), dtype=dtype)
        return _fused.fused_loss_grad(
            theta, X, XP, YT if YT is not None else empty_mat, WT, layout.poff, layout.hps,
            layout.sizes, layout.woff, np.zeros(len(sizes) - 2, dtype=np.intc),
            loss_code, with_loss, grad_out if need_grad else empty_vec,
            H if H is not None else empty_mat, work, slabs, block, n_chunks, threads,
            check_inputs)
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
    description = ("fused Cython/OpenMP kernel (one pass over row blocks, "
                   "register-tiled SIMD microkernels, run-time CPU dispatch)")

    def __init__(self):
        _machine_cores()
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
        }

    def prepare(self, X, Y, panels=True):
        """Checked X and Y, with X also packed into panels unless ``panels`` is False."""
        _check_matrix("X", X)
        _check_matrix("Y", Y, X.dtype)
        if Y.shape[0] != X.shape[0]:
            raise ValueError(f"Y has {Y.shape[0]} rows but X has {X.shape[0]}")
        return _Prepared(X, Y, panels)

    def prepare_once(self, X, Y, x_checked=True):
        """Like :meth:`prepare` without the panels of X: the kernel reads X's rows
        (on the ex4 shape as fast as from the panels, and no copy of X to build).
        ``x_checked=False``: X may hold NaN or inf; each call then finds them from the
        first layer's logits (in cache, a fraction of X's size) and raises as
        :func:`nnfast._validation.check_X` does."""
        data = self.prepare(X, Y, panels=False)
        data.x_checked = x_checked
        # one-shot calls share one set of work buffers (fresh ones at every call were
        # a tenth of a one-shot cost on the ex4 shape: zeroing and first-touch faults)
        data._buffers, data._lock = _ONE_SHOT_BUFFERS, _ONE_SHOT_LOCK
        return data

    def loss_grad_sum(self, theta, layer_sizes, offsets, data, loss, n_threads, grad_out):
        if not isinstance(data, _Prepared):
            raise TypeError("data must be what CythonBackend.prepare returned, "
                            f"got {type(data).__name__}")
        sizes, offsets = _check_layers(layer_sizes, offsets)
        if sizes[0] != data.n_in:
            raise ValueError(f"layer_sizes[0] is {sizes[0]} but X has {data.n_in} columns")
        if sizes[-1] != data.n_out:
            raise ValueError(f"layer_sizes[-1] is {sizes[-1]} but Y has {data.n_out} columns")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {list(LOSSES)}, got {loss!r}")
        n_threads = check_n_threads(n_threads)
        n_par = n_params(sizes)
        _check_vector("theta", theta, n_par, data.dtype)
        if grad_out is not None:
            _check_vector("grad_out", grad_out, n_par, data.dtype, writable=True)
        return float(_checked_run(data.x_checked, theta, sizes, offsets, data.X, data.YT,
                                  _LOSS_CODES[loss], True, grad_out, None, n_threads, cache=data))

    def forward(self, theta, offsets, X, n_threads, x_checked=True):
        """Output activations; ``x_checked=False`` as for :meth:`prepare_once`."""
        if not isinstance(theta, np.ndarray) or theta.dtype not in _DTYPES:
            raise TypeError("theta must be a float64 or float32 numpy.ndarray")
        try:
            shapes = [tuple(shape) for _, _, shape in offsets]
        except Exception:
            raise TypeError("offsets must be the (start, end, shape) tuples of "
                            "nnfast._network.layer_offsets(layer_sizes)") from None
        if not shapes:
            raise ValueError("offsets is empty: the network needs at least one weight layer")
        sizes = [shapes[0][1] - 1] + [s[0] for s in shapes]
        sizes, offsets = _check_layers(sizes, offsets)
        _check_vector("theta", theta, n_params(sizes), theta.dtype)
        X = np.ascontiguousarray(X, dtype=theta.dtype)
        _check_matrix("X", X)
        if X.shape[1] != sizes[0]:
            raise ValueError(f"X has {X.shape[1]} columns but the network has {sizes[0]} inputs")
        n_threads = check_n_threads(n_threads)
        H = np.empty((X.shape[0], sizes[-1]), dtype=theta.dtype)
        _checked_run(x_checked, theta, sizes, offsets, X, None, 0, False, None, H, n_threads,
                     cache=_OneShotScratch)
        return H
