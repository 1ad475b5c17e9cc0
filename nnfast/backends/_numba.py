"""The ``numba`` backend: one fused, parallel, compiled pass over row blocks.

For each block of ``B`` rows of X, while it is in cache: forward through every
layer, the loss and output error, the backward deltas and the gradient of
every weight matrix, accumulated into a per-chunk gradient slab.  Chunks of
consecutive blocks run in parallel (``prange``); the slabs are summed
afterwards in chunk order, so a given ``n_threads`` gives bitwise identical
results call after call.  Extra memory per call: one slab per chunk plus a few
``units x B`` buffers; no ``m x hidden`` temporaries.

The kernels live in :mod:`nnfast.backends._numba_kernels`.  Importing this
module imports numba but compiles nothing: the kernels compile on first use
(float64 and float32 separately) and are cached on disk, so later processes
load them (see :meth:`NumbaBackend.warm_up`).
"""

from __future__ import annotations

import os
import threading

import numpy as np

import numba

from ._base import Backend

__all__ = ["NumbaBackend"]

#: most rows per block.  Each 4-row slice of X (forward) and each 4-feature
#: slice of a transposed block (first-layer gradient) is read once and then
#: reused from L1, so blocks need not fit in L2; long blocks amortise the
#: horizontal reductions of the register tiles (ex4 shape, one thread:
#: 1024 rows beat 384 and 512 by 5-10% in float64 and float32, 128 by 20-30%)
_BLOCK_ROWS = 1024
#: fewest rows per block when m is small
_MIN_BLOCK_ROWS = 64
#: below this many multiply-adds per call (m * n_params) the kernel runs serially
_SERIAL_WORK = 400_000


#: chunks (gradient slabs) per core, so that dynamic scheduling can balance them
_CHUNKS_PER_CORE = 4
#: at most this many bytes of gradient slabs per call
_SLAB_BUDGET = 64 * 2**20


def _n_chunks(n_blocks: int, n_params: int, itemsize: int) -> int:
    """Chunks of consecutive blocks (one gradient slab each): up to
    ``_CHUNKS_PER_CORE`` per core while their slabs fit ``_SLAB_BUDGET``.
    Independent of ``n_threads``, so every thread count sums the same way."""
    cores = max(1, numba.config.NUMBA_NUM_THREADS)
    by_memory = max(cores, _SLAB_BUDGET // max(1, n_params * itemsize))
    return int(max(1, min(n_blocks, _CHUNKS_PER_CORE * cores, by_memory)))


def _block_rows(m: int) -> int:
    """Rows per block: the fewest equal blocks, a multiple of the core count, of at
    most ``_BLOCK_ROWS`` rows (rounded up to 16), and at least ``_MIN_BLOCK_ROWS``.

    5000 rows on 2 cores give 6 blocks of 848 (3 per thread), not 5 of 1024.
    """
    cores = max(1, numba.config.NUMBA_NUM_THREADS)
    k = 1
    while -(-m // (k * cores)) > _BLOCK_ROWS:
        k += 1
    per = -(-m // (k * cores))
    per = -(-per // 16) * 16
    return int(min(_BLOCK_ROWS, max(_MIN_BLOCK_ROWS, per)))


_LOSS_IDS = {"cross_entropy": 0, "squared_error": 1}

_layer_lock = threading.Lock()
_layer_checked = False
# serialises parallel launches when numba ends up on its workqueue layer,
# which aborts on concurrent launches from several Python threads
_workqueue_lock = threading.Lock()


def _choose_threading_layer() -> None:
    """Prefer a thread-safe layer (tbb or omp) unless the user chose one.

    Only touches ``numba.config.THREADING_LAYER`` when it is still "default",
    no parallel region has been launched yet, and a thread-safe layer imports,
    so other numba users in the process lose nothing ("threadsafe" is numba's
    own name for "tbb or omp").
    """
    global _layer_checked
    with _layer_lock:
        if _layer_checked:
            return
        _layer_checked = True
        if os.environ.get("NUMBA_THREADING_LAYER") or numba.config.THREADING_LAYER != "default":
            return
        try:
            numba.threading_layer()
            return  # already launched: nothing to choose any more
        except ValueError:
            pass
        for module in ("numba.np.ufunc.tbbpool", "numba.np.ufunc.omppool"):
            try:
                __import__(module)
            except Exception:
                continue
            numba.config.THREADING_LAYER = "threadsafe"
            return


def _threading_layer_name() -> str:
    try:
        return numba.threading_layer()
    except ValueError:
        return "not launched yet (configured: %s)" % numba.config.THREADING_LAYER


class _Prepared:
    """X, its block-transposed copy and the targets laid out for the kernels."""

    __slots__ = ("X", "Y", "Xf", "XTf", "YTf", "m", "n_in", "n_out", "B", "n_blocks")

    def __init__(self, X, Y, B):
        m, n_in = X.shape
        n_out = Y.shape[1]
        n_blocks = max(1, -(-m // B))
        XT = np.zeros((n_blocks, n_in, B), dtype=X.dtype)
        YT = np.zeros((n_blocks, n_out, B), dtype=X.dtype)
        for b in range(n_blocks):
            rows = slice(b * B, min(m, (b + 1) * B))
            nb = rows.stop - rows.start
            XT[b, :, :nb] = X[rows].T
            YT[b, :, :nb] = Y[rows].T
        self.X, self.Y = X, Y
        self.Xf = X.reshape(-1)
        self.XTf = XT.reshape(-1)
        self.YTf = YT.reshape(-1)
        self.m, self.n_in, self.n_out = m, n_in, n_out
        self.B, self.n_blocks = B, n_blocks


class NumbaBackend(Backend):
    name = "numba"
    uses_blas = False
    description = "numba fused kernel (row blocks, register tiles, one slab per chunk)"

    def __init__(self):
        # importing the kernels module compiles nothing (no signatures)
        from . import _numba_kernels

        self._k = _numba_kernels

    # -- introspection -------------------------------------------------------
    def build_info(self) -> dict:
        k = self._k
        cache_dir = numba.config.CACHE_DIR or os.path.join(os.path.dirname(k.__file__), "__pycache__")
        return {
            "numba": numba.__version__,
            "threading layer": _threading_layer_name(),
            "cache dir": cache_dir,
            # specialisations compiled or loaded from the cache in this process
            "kernels loaded": ", ".join(
                f"{label} {sig[3].dtype}"
                for label, fn in (("serial", k.chunk_loss_grad), ("parallel", k.parallel_loss_grad))
                for sig in fn.signatures) or "none yet (compiled on first use)",
            "block rows": f"{_MIN_BLOCK_ROWS}..{_BLOCK_ROWS}",
        }

    def warm_up(self, dtypes=(np.float64,), serial=True, parallel=True) -> None:
        """Compile (or load from the disk cache) the kernels for ``dtypes`` now,
        rather than inside the first evaluation: the serial driver (small
        problems) and/or the parallel one.  A cold compile takes 15-40 s per
        dtype and driver; a load from the cache well under a second."""
        import nnfast

        sizes = (3, 2, 2)
        for dtype in dtypes:
            for run_parallel, wanted in ((False, serial), (True, parallel)):
                if not wanted:
                    continue
                X = np.zeros((4 * _MIN_BLOCK_ROWS + 1, 3), dtype=dtype)
                Y = np.zeros((X.shape[0], 2), dtype=dtype)
                theta = np.zeros(nnfast.n_params(sizes), dtype=dtype)
                self._run(theta, sizes, nnfast.layer_offsets(sizes), self.prepare(X, Y), 0,
                          2 if run_parallel else 1, np.empty_like(theta),
                          force_parallel=run_parallel)

    # -- contract ------------------------------------------------------------
    def prepare(self, X, Y):
        return _Prepared(np.ascontiguousarray(X), np.ascontiguousarray(Y, dtype=X.dtype),
                         _block_rows(X.shape[0]))

    def loss_grad_sum(self, theta, layer_sizes, offsets, data, loss, n_threads, grad_out):
        return self._run(theta, layer_sizes, offsets, data, _LOSS_IDS[loss], n_threads, grad_out)

    def _run(self, theta, layer_sizes, offsets, data, loss_id, n_threads, grad_out,
             force_parallel=False):
        k = self._k
        dt = data.X.dtype
        theta = np.ascontiguousarray(theta, dtype=dt)
        sizes = np.asarray(layer_sizes, dtype=np.int64)
        woff = np.array([start for start, _, _ in offsets], dtype=np.int64)
        aoff = np.zeros(len(layer_sizes), dtype=np.int64)
        aoff[1:] = np.cumsum(sizes[1:]) * data.B
        need_grad = grad_out is not None
        zero, one = dt.type(0), dt.type(1)
        n_params = theta.shape[0]

        # The chunks (consecutive blocks, one gradient slab each) depend on the
        # data and the network, never on n_threads, and are reduced in chunk
        # order: the result is bitwise the same for every n_threads.
        n_chunks = _n_chunks(data.n_blocks, n_params, dt.itemsize)
        lo = np.array([c * data.n_blocks // n_chunks for c in range(n_chunks + 1)], dtype=np.int64)
        if n_chunks == 1:
            g = grad_out if need_grad else np.empty(1, dtype=dt)
            return float(k.chunk_loss_grad(data.Xf, data.XTf, data.YTf, theta, sizes, woff, aoff,
                                           data.B, data.m, 0, data.n_blocks, loss_id, need_grad,
                                           zero, one, g))
        slabs = np.empty((n_chunks, n_params if need_grad else 1), dtype=dt)
        costs = np.zeros(n_chunks, dtype=np.float64)
        n_workers = min(int(n_threads), n_chunks)
        # Serial or parallel driver by problem size only, never by n_threads: the
        # two are compiled separately and need not round identically, so one
        # thread count must not switch drivers.  (One thread runs the parallel
        # driver with one worker.)
        if not force_parallel and data.m * n_params < _SERIAL_WORK:
            # small problem: the same chunks, serially, no thread start-up
            for c in range(n_chunks):
                costs[c] = k.chunk_loss_grad(data.Xf, data.XTf, data.YTf, theta, sizes, woff, aoff,
                                             data.B, data.m, lo[c], lo[c + 1], loss_id, need_grad,
                                             zero, one, slabs[c])
        else:
            _choose_threading_layer()
            previous = numba.get_num_threads()
            previous_chunksize = numba.get_parallel_chunksize()
            numba.set_num_threads(min(n_workers, numba.config.NUMBA_NUM_THREADS))
            # one chunk at a time, handed out dynamically: a thread that the OS
            # delays does not hold the others back
            numba.set_parallel_chunksize(1)
            try:
                args = (data.Xf, data.XTf, data.YTf, theta, sizes, woff, aoff, data.B, data.m,
                        lo, loss_id, need_grad, zero, one, slabs, costs)
                if _threading_layer_name() == "workqueue":
                    with _workqueue_lock:
                        k.parallel_loss_grad(*args)
                else:
                    k.parallel_loss_grad(*args)
            finally:
                numba.set_parallel_chunksize(previous_chunksize)
                numba.set_num_threads(previous)
        total = 0.0
        for c in range(n_chunks):
            total += float(costs[c])
        if need_grad:
            grad_out[:] = slabs[0]
            for c in range(1, n_chunks):
                grad_out += slabs[c]
        return total
