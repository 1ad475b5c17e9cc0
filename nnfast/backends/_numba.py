"""The ``numba`` backend: one fused, parallel, compiled pass over row blocks.

For each block of rows of X, while it is in cache: forward through every
layer, the loss and output error, the backward deltas and the gradient of
every weight matrix, accumulated into a per-chunk gradient slab.  Chunks of
consecutive blocks (the policy of :mod:`nnfast.backends._chunking`) run on
numba's threading layer (a ``prange`` over the chunks, taken one at a time)
where that layer is thread-safe (OpenMP or TBB), else on Python threads (the
compiled drivers release the GIL); the slabs are summed afterwards in chunk
order, and the chunks do not depend on the thread count, so results are
bitwise identical for every ``n_threads``.  Extra memory per
call: one slab per chunk plus a few ``units x block_rows`` buffers; no
``m x hidden`` temporaries.

The first layer's two products run on register tiles (narrow layers such as
ex4's 400 -> 25) or through BLAS, one gemm per block and direction, on one
BLAS thread per chunk thread (784 -> 100 and wider, see
:func:`_first_layer_by_blas`).

Every hidden activation and head of :mod:`nnfast._activations` runs in the
fused pass (the activation after each hidden layer's products, its derivative
from the activations in the backward pass; the softmax with the row's max
subtracted), with the C kernel's arithmetic.  Predictions run in a compiled
forward driver over the same row blocks.

The kernels live in :mod:`nnfast._kernels.numba_fused` (register tiles in
``numba_tiles``, exp and its kin in ``numba_math``).  Importing this
module imports numba but compiles nothing: a call compiles only the driver it
needs (loss only, loss and gradient, or forward; tiles or BLAS; per dtype) and
numba caches it on disk, so later processes load it; a line on stderr says when
a compile is happening (see :meth:`NumbaBackend.warm_up`).  The activations and
the head reach the drivers as integer codes, values rather than types, so every
network shares its driver's one compile, except ex4's (logistic hidden units and
output): the kernels its parallel drivers call are made for it, with the codes as
constants, and compile only its own code (its first call skips every other
activation's and head's).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import numba
from numba.core import types

from .._activations import ACTIVATION_CODES, DEFAULT_ACTIVATION, DEFAULT_LOSS, HEAD_CODES
from .._validation import check_X
from ._base import Backend, blas_threads
from ._chunking import chunk_count, machine_cores, threads_for
from ._numba_notice import compile_notice

__all__ = ["NumbaBackend"]

#: most rows per block.  Each 4-row slice of X (forward) and each 4-feature
#: slice of a transposed block (first-layer gradient) is read once and then
#: reused from L1, so blocks need not fit in L2; long blocks amortise the
#: horizontal reductions of the register tiles (measured on the ex4 shape)
_BLOCK_ROWS = 1024
#: fewest rows per block when m is small
_MIN_BLOCK_ROWS = 64
#: below this many multiply-adds per call (m * n_params) the kernel runs serially
#: (below it, handing chunks to other threads costs more than it gains)
_SERIAL_WORK = 400_000


def _block_rows(m: int) -> int:
    """Rows per block: the fewest equal blocks, a multiple of the core count, of at
    most ``_BLOCK_ROWS`` rows (rounded up to 16), and at least ``_MIN_BLOCK_ROWS``.

    5000 rows on 2 cores give 6 blocks of 848 (3 per thread), not 5 of 1024.
    """
    cores = machine_cores()
    blocks_per_core = 1
    while -(-m // (blocks_per_core * cores)) > _BLOCK_ROWS:
        blocks_per_core += 1
    per = -(-m // (blocks_per_core * cores))
    per = -(-per // 16) * 16
    return int(min(_BLOCK_ROWS, max(_MIN_BLOCK_ROWS, per)))


_pool_lock = threading.Lock()
_pool = None
_pool_size = 0


def _thread_pool(n_workers: int) -> ThreadPoolExecutor:
    """The process's worker threads for chunks (grown on demand, never shrunk)."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < n_workers:
            # an older, smaller pool finishes what it runs; its idle threads
            # then wait, unused, until the interpreter exits
            _pool = ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="nnfast-numba")
            _pool_size = n_workers
        return _pool


def _run_chunks(run_chunk, chunks, n_workers):
    """``run_chunk(c)`` for every chunk c of ``chunks``, on ``n_workers`` threads (the
    caller's and ``n_workers - 1`` from the pool) that take chunks one at a time: a
    thread that the OS delays does not hold the others back.  The drivers release
    the GIL.  Which thread runs which chunk changes nothing in the result."""
    claims = iter(list(chunks))  # next() is atomic under the GIL

    def work():
        for c in claims:
            run_chunk(c)

    helpers = [_thread_pool(n_workers - 1).submit(work) for _ in range(n_workers - 1)] \
        if n_workers > 1 else []
    try:
        work()
    finally:
        for future in helpers:
            future.result()  # waits, and re-raises a helper's exception


def _network_codes(layer_sizes, activations, output, loss):
    """The kernels' codes: one int64 per hidden layer (ex4's logistic when
    ``activations`` is None) and the head's."""
    hidden = activations or (DEFAULT_ACTIVATION,) * (len(layer_sizes) - 2)
    assert len(hidden) == len(layer_sizes) - 2, "one activation per hidden layer"
    assert (output, loss) in HEAD_CODES, f"no head of output {output!r} and loss {loss!r}"
    return (np.array([ACTIVATION_CODES[a] for a in hidden], dtype=np.int64),
            HEAD_CODES[(output, loss)])


#: the first layer's products go through BLAS (one gemm per block and
#: direction, BLAS on one thread per chunk thread) when the layer has at
#: least this many inputs and this many units; narrower layers keep the register
#: tiles (see ``_first_layer_by_blas``).
_BLAS_MIN_INPUTS = 512
_BLAS_MIN_UNITS = 64


def _first_layer_by_blas(layer_sizes) -> bool:
    """Whether the first layer's forward and gradient products run through BLAS.

    BLAS gemm per block wins once the products are wide enough for its
    microkernels (784 -> 100 and wider), whatever the CPU: OpenBLAS picks its
    kernel at run time, while the register tiles are tuned for 32 vector
    registers (AVX-512) and spill with the 16 of AVX2.  On ex4's 400 -> 25 the
    tiles are faster.
    """
    return layer_sizes[0] >= _BLAS_MIN_INPUTS and layer_sizes[1] >= _BLAS_MIN_UNITS


class _Prepared:
    """X, the targets laid out for the kernels and, on first need, X block-transposed.

    ``one_shot``: data for one call (``prepare_once``): its gradient never builds the
    block-transposed copy (the first layer runs through BLAS instead, see ``_run``).
    """

    __slots__ = ("X", "X_flat", "YT", "m", "n_in", "n_out", "block_rows", "n_blocks",
                 "one_shot", "x_checked", "_XT_blocks", "_lock")

    def __init__(self, X, Y, block_rows, one_shot=False, x_checked=True):
        m, n_in = X.shape
        n_out = Y.shape[1]
        n_blocks = max(1, -(-m // block_rows))
        # the kernels read the targets units-major; Y from the checks of a one-shot call
        # is already (targets_units_major), so nothing is copied or allocated for it
        # (a fresh array per call costs page faults: on a VM up to 1.5 ms on ex4)
        self.YT = np.ascontiguousarray(Y.T).reshape(-1)
        self.X = X
        self.X_flat = X.reshape(-1)
        self.m, self.n_in, self.n_out = m, n_in, n_out
        self.block_rows, self.n_blocks = block_rows, n_blocks
        self.one_shot = one_shot
        # False: nobody looked for NaN and inf in X; the kernels then watch the first
        # layer's products, and a call that sees one checks X (see NumbaBackend._run)
        self.x_checked = x_checked
        self._XT_blocks = None
        self._lock = threading.Lock()

    @property
    def XT_blocks(self):
        """(n_blocks, n_in, block_rows) flat copy of X, each block transposed and zero padded.

        Only the register-tile gradient reads it; built on first use (a second
        copy of X), never for objectives whose first layer runs through BLAS.
        """
        if self._XT_blocks is None:
            with self._lock:
                if self._XT_blocks is None:
                    m, n_in, block_rows = self.m, self.n_in, self.block_rows
                    XT = np.zeros((self.n_blocks, n_in, block_rows), dtype=self.X.dtype)
                    for b in range(self.n_blocks):
                        rows = slice(b * block_rows, min(m, (b + 1) * block_rows))
                        XT[b, :, :rows.stop - rows.start] = self.X[rows].T
                    self._XT_blocks = XT.reshape(-1)
        return self._XT_blocks


#: the threading layers on which several Python threads may run parallel regions at
#: once (numba's workqueue layer aborts the process instead, numba#9288)
_THREAD_SAFE_LAYERS = ("tbb", "omp")
#: the layers each ``NUMBA_THREADING_LAYER`` setting may pick, in numba's order (for
#: "default", ``NUMBA_THREADING_LAYER_PRIORITY``); "forksafe" skips GNU OpenMP
_LAYER_CHOICES = {"safe": ("tbb",), "threadsafe": ("tbb", "omp"), "forksafe": ("tbb",),
                  "tbb": ("tbb",), "omp": ("omp",), "workqueue": ()}


@functools.lru_cache(maxsize=1)
def parallel_layer():
    """The thread-safe numba threading layer the parallel drivers run on, or None
    (then chunks run on Python threads).  Decided once per process, without starting
    a layer that numba has not started yet: a layer is usable only if its module
    imports (OpenMP or TBB runtime present)."""
    import importlib

    from numba.np.ufunc import parallel

    if parallel._is_initialized:
        layer = numba.threading_layer()
        return layer if layer in _THREAD_SAFE_LAYERS else None
    setting = numba.config.THREADING_LAYER
    choices = _LAYER_CHOICES.get(setting)
    if choices is None:  # "default": numba tries the priority list in order
        choices = tuple(numba.config.THREADING_LAYER_PRIORITY)
    for layer in choices:
        if layer not in _THREAD_SAFE_LAYERS:
            return None  # numba would settle for an unsafe layer before a later one
        try:
            importlib.import_module(f"numba.np.ufunc.{layer}pool")
        except (ImportError, OSError):
            continue
        return layer
    return None


def _parallel_workers(n_workers: int) -> int:
    """Threads of numba's pool a parallel driver may use: numba's own limit caps them."""
    return max(1, min(n_workers, numba.config.NUMBA_NUM_THREADS))


@contextlib.contextmanager
def _pool_threads(n_workers: int):
    """numba's pool on ``n_workers`` threads for the calling thread's parallel regions,
    taking chunks one at a time (a dynamic schedule: a thread the OS delays does not
    hold the others up); the caller's settings are restored afterwards."""
    previous = numba.get_num_threads()
    numba.set_num_threads(n_workers)
    try:
        with numba.parallel_chunksize(1):
            yield
    finally:
        numba.set_num_threads(previous)


#: (driver, by BLAS, dtype, parallel) that ran in this process: no compile notice needed
_ready = set()


def _in_chunks(run_chunk, run_all, n_chunks, n_workers, key, blas):
    """Every chunk of a call, announcing a compile on stderr the first time ``key`` =
    (driver, by BLAS, dtype) runs in the process, with BLAS on one thread for the BLAS
    path: every chunk's thread calls it, and its own threads would oversubscribe the
    cores (and could sum in an order that depends on them).

    On a thread-safe numba threading layer ``run_all()`` (the parallel driver) runs
    them on ``n_workers`` of numba's pool threads, on one thread as well: the serial driver, compiled on its
    own, may round differently from its copy inlined into the parallel one's kernel
    (the kernels may reassociate sums), and every thread count must give the same bits.
    Without such a layer ``run_chunk(c)`` runs each chunk, on ``n_workers`` Python
    threads.  Either way which thread ran a chunk changes nothing in the result.
    """
    driver, _, dtype_name = key
    parallel = parallel_layer() is not None
    key = key + (parallel,)
    notice = contextlib.nullcontext() if key in _ready else compile_notice(
        f"{driver}, {dtype_name}")
    limit = blas_threads(1) if blas else contextlib.nullcontext()
    with notice, limit:
        if parallel:
            n_workers = _parallel_workers(n_workers)
            with _pool_threads(n_workers):
                run_all()
        elif n_workers > 1 and key not in _ready:
            # compile (or load) on this thread first, not in several at once
            run_chunk(0)
            _run_chunks(run_chunk, range(1, n_chunks), n_workers)
        else:
            _run_chunks(run_chunk, range(n_chunks), n_workers)
    _ready.add(key)


def _layout(theta, layer_sizes, offsets, dtype):
    """theta in ``dtype`` and the int64 arrays the drivers index the network with:
    (theta, sizes, weight_starts, unit_starts)."""
    theta = np.ascontiguousarray(theta, dtype=dtype)
    sizes = np.asarray(layer_sizes, dtype=np.int64)
    weight_starts = np.array([start for start, _, _ in offsets], dtype=np.int64)
    unit_starts = np.zeros(len(layer_sizes), dtype=np.int64)  # first unit of each layer
    unit_starts[1:] = np.cumsum(sizes[1:])
    return theta, sizes, weight_starts, unit_starts


def _first_layer_weights(theta, layer_sizes, offsets, blas):
    """The first layer's weights without their bias column (C-contiguous) for the BLAS
    path, None for the register tiles."""
    if not blas:
        return None
    n1, n_in = layer_sizes[1], layer_sizes[0]
    start = offsets[0][0]
    return np.ascontiguousarray(theta[start:start + n1 * (n_in + 1)].reshape(n1, n_in + 1)[:, 1:])


class NumbaBackend(Backend):
    name = "numba"
    # Where the kernel calls BLAS (wide first layers) it limits BLAS to one
    # thread itself, so optimisers may limit BLAS around it at no cost.
    uses_blas = False
    # every value of X is multiplied into a first-layer gradient sum (tiles and BLAS
    # alike; the kernels keep IEEE NaN and inf, no nnan/ninf fast-math): a NaN or inf
    # in X shows in the gradient, so a one-shot cost_grad checks that instead of X
    nonfinite_X_reaches_gradient = True
    # with prepare_once(x_checked=False) / forward(x_checked=False) the kernels find a
    # NaN or inf of X in the first layer's products and the call raises as check_X does
    finds_nonfinite_X = True
    # the kernels read the targets one output at a time (see _Prepared)
    targets_units_major = True
    supports_activations = True
    supports_row_weights = True
    description = ("numba fused kernel (row blocks, register tiles or BLAS per block, "
                   "one slab per chunk)")

    def __init__(self):
        # importing the kernels module compiles nothing (no signatures)
        from .._kernels import numba_fused

        self._kernels = numba_fused

    # -- introspection -------------------------------------------------------
    def build_info(self) -> dict:
        kernels = self._kernels
        cache_dir = numba.config.CACHE_DIR or os.path.join(os.path.dirname(kernels.__file__),
                                                           "__pycache__")
        # the serial drivers' arguments: W1_no_bias 4th, theta 5th (forward: 2nd and 3rd);
        # the 19th, G, is None for the loss only.  The parallel drivers' kernels take the
        # same without act and head_tag (G 17th).  A kernel loaded from the cache brings
        # its serial driver inside it, unseen by the serial dispatcher.
        def path(sig, w1):
            return (f"{'tiles' if isinstance(sig[w1], types.NoneType) else 'blas'} "
                    f"{sig[w1 + 1].dtype}")

        def loss(sig, g):
            return "loss" if isinstance(sig[g], types.NoneType) else "loss+gradient"

        loaded = {f"{loss(sig, 18)} {path(sig, 3)}" for sig in kernels.chunk_loss_grad.signatures}
        loaded |= {f"forward {path(sig, 1)}" for sig in kernels.chunk_forward.signatures}
        for drivers in kernels.PARALLEL_DRIVERS.values():
            loaded |= {f"forward {path(sig, 1)}" if what == "forward" else
                       f"{loss(sig, 16)} {path(sig, 3)}"
                       for what, sig in drivers.kernel_signatures()}
        loaded = sorted(loaded)
        return {
            "numba": numba.__version__,
            "threads": (f"numba's {parallel_layer()} threading layer, chunks taken one at a time"
                        if parallel_layer() else
                        "Python threads, one chunk at a time (no thread-safe numba threading "
                        "layer here: the kernels release the GIL)"),
            "cache dir": cache_dir,
            # specialisations compiled or loaded from the cache in this process
            "kernels loaded": ", ".join(loaded) or "none yet (compiled on first use)",
            "block rows": f"{_MIN_BLOCK_ROWS}..{_BLOCK_ROWS}",
            "first layer by BLAS": f"from {_BLAS_MIN_INPUTS} inputs and {_BLAS_MIN_UNITS} units",
        }

    def warm_up(self, dtypes=(np.float64,), gradient=True, loss_only=False, blas=False,
                forward=False, activation="logistic", output="logistic") -> None:
        """Compile (or load from the disk cache) kernels now rather than inside the
        first evaluation.

        Parameters
        ----------
        dtypes : sequence of dtypes
        gradient, loss_only : bool
            The loss+gradient driver (what ``Objective.__call__`` runs) and/or the
            loss-only one (``Objective.cost``).
        blas : bool
            The drivers whose first layer runs through BLAS (wide first layers)
            instead of the register-tile ones.
        forward : bool
            Also the forward driver (``predict``/``predict_proba``).
        activation, output : str
            The network's hidden activation and output layer: ex4's (the defaults),
            scikit-learn's MLP defaults and tanh + softmax have kernels of their own;
            every other network shares its output's set.

        Where numba has a thread-safe threading layer, every call runs the parallel
        drivers (on one thread as on several), so those are what is compiled.

        A cold compile takes a few seconds per driver and dtype; a load from the
        cache a fraction of a second.
        """
        import nnfast

        sizes = (3, 2, 2)
        offsets = nnfast.layer_offsets(sizes)
        for dtype in dtypes:
            X = np.zeros((4, 3), dtype=dtype)
            theta = np.zeros(nnfast.n_params(sizes), dtype=dtype)
            data = self.prepare(X, np.zeros((4, 2), dtype=dtype))
            for need_grad in [g for g, on in ((True, gradient), (False, loss_only)) if on]:
                self._run(theta, sizes, offsets, data, DEFAULT_LOSS[output], 1,
                          np.empty_like(theta) if need_grad else None, (activation,), output,
                          by_blas=blas)
            if forward:
                self._forward(theta, offsets, X, 1, (activation,), output, by_blas=blas)

    def is_compiled(self, layer_sizes, dtype, activations=None, output="logistic",
                    loss=None) -> bool:
        """Whether this process already holds the loss+gradient kernel a prepared
        objective of this network and dtype runs (so timing it costs no compile).

        What ``backend="auto"`` asks before it measures numba against the others."""
        loss = DEFAULT_LOSS[output] if loss is None else loss
        act_codes, head = _network_codes(tuple(layer_sizes), activations, output, loss)
        blas = _first_layer_by_blas(layer_sizes)
        if parallel_layer():
            key = self._kernels.drivers_key(head, self._kernels.uniform_activation(act_codes))
            drivers = self._kernels.PARALLEL_DRIVERS.get(key)
            signatures = drivers.kernel_signatures() if drivers is not None else []
            # the loss and gradient's kernel: a gradient (17th, G) and, as an objective
            # without sample weights, no row weights (18th)
            signatures = [sig for what, sig in signatures if what == "loss+gradient"
                          and not isinstance(sig[16], types.NoneType)
                          and isinstance(sig[17], types.NoneType)]
        else:
            # a gradient (19th, G) and no row weights (20th)
            signatures = [sig for sig in self._kernels.chunk_loss_grad.signatures
                          if not isinstance(sig[18], types.NoneType)
                          and isinstance(sig[19], types.NoneType)]
        # W1_no_bias (4th) is None on the register-tile path; theta 5th
        return any(isinstance(sig[3], types.NoneType) != blas
                   and str(sig[4].dtype) == np.dtype(dtype).name for sig in signatures)

    # -- contract ------------------------------------------------------------
    def prepare(self, X, Y):
        return _Prepared(np.ascontiguousarray(X), np.asarray(Y, dtype=X.dtype),
                         _block_rows(X.shape[0]))

    def prepare_once(self, X, Y, x_checked=True):
        # no block-transposed copy of X: one call does not pay for building it
        # Y as it comes (units-major from the checks): _Prepared reads its transpose
        return _Prepared(np.ascontiguousarray(X), np.asarray(Y, dtype=X.dtype),
                         _block_rows(X.shape[0]), one_shot=True, x_checked=x_checked)

    def loss_grad_sum(self, theta, layer_sizes, offsets, data, loss, n_threads, grad_out,
                      activations=None, output="logistic", row_weights=None):
        """As :meth:`Backend.loss_grad_sum`; ``row_weights`` (shape (m,), float64, or None)
        weights each example's loss, and so its gradient (``nnfast._weighted``)."""
        return self._run(theta, layer_sizes, offsets, data, loss, n_threads, grad_out,
                         activations, output, row_weights=row_weights)

    def forward(self, theta, offsets, X, n_threads, activations=None, output="logistic",
                x_checked=True):
        """Output activations; ``x_checked=False`` as for :meth:`prepare_once`."""
        if x_checked:
            return self._forward(theta, offsets, X, n_threads, activations, output)
        H, bad = self._forward(theta, offsets, X, n_threads, activations, output,
                               check_inputs=True)
        if bad:
            # NaN or inf in X (raises, naming it), or finite inputs whose products
            # overflowed: then the outputs as they are
            check_X(X, offsets[0][2][1] - 1, theta.dtype)
        return H

    def _run(self, theta, layer_sizes, offsets, data, loss, n_threads, grad_out, activations,
             output, by_blas=None, row_weights=None, check_inputs=None):
        """The summed loss (and gradient); for data whose X nobody checked, the kernels
        watch the first layer's products: NaN or inf there means the check of X, which
        raises for a NaN or inf in X (else finite inputs overflowed, and the call runs
        again without the watch, which made its loss NaN)."""
        if check_inputs is None:
            check_inputs = not data.x_checked
        total = self._run_once(theta, layer_sizes, offsets, data, loss, n_threads, grad_out,
                               activations, output, by_blas, row_weights, check_inputs)
        if check_inputs and math.isnan(total):
            check_X(data.X, data.n_in, data.X.dtype)
            total = self._run_once(theta, layer_sizes, offsets, data, loss, n_threads, grad_out,
                                   activations, output, by_blas, row_weights, False)
        return total

    def _run_once(self, theta, layer_sizes, offsets, data, loss, n_threads, grad_out,
                  activations, output, by_blas, row_weights, check_inputs):
        dtype = data.X.dtype
        theta, sizes, weight_starts, unit_starts = _layout(theta, layer_sizes, offsets, dtype)
        act_codes, head = _network_codes(layer_sizes, activations, output, loss)
        need_grad = grad_out is not None
        n_params = theta.shape[0]
        if by_blas is not None:
            blas = bool(by_blas)
        elif need_grad and data.one_shot:
            # the register tiles' gradient reads X block-transposed: a one-shot call would
            # build that copy for one use (1.3-1.6x the prepared call on ex4), while
            # BLAS per block reads X's rows (1.0x in float64, 1.37x in float32)
            blas = True
        else:
            blas = _first_layer_by_blas(layer_sizes)
        chunk_fn = self._kernels.chunk_loss_grad
        # None for what this call does not need: the kernel compiles (and runs)
        # only its own path
        W1_no_bias = _first_layer_weights(theta, layer_sizes, offsets, blas)
        XT_blocks = data.XT_blocks if need_grad and not blas else None
        act = self._kernels.uniform_activation(act_codes)
        arrays = (data.X_flat, XT_blocks, data.YT, W1_no_bias, theta, sizes, weight_starts,
                  unit_starts, act_codes)
        # the serial driver takes the activation and head as values, the parallel ones
        # are made for them (their constants)
        common = arrays + (act, data.block_rows, data.m)
        zero_one = (dtype.type(0), dtype.type(1))
        if row_weights is not None:
            assert row_weights.shape == (data.m,), "row_weights must have shape (m,)"
            # a specialisation of its own: the unweighted kernels do not see them
            row_weights = np.ascontiguousarray(row_weights, dtype=dtype)

        # The chunks (consecutive blocks, one gradient slab each) depend on the
        # data and the network, never on n_threads, and are reduced in chunk
        # order: the result is bitwise the same for every n_threads.
        n_chunks = chunk_count(data.n_blocks, n_params, dtype.itemsize)
        starts = np.array([c * data.n_blocks // n_chunks for c in range(n_chunks + 1)],
                          dtype=np.int64)
        n_workers = threads_for(n_threads, n_chunks, data.m * n_params, _SERIAL_WORK)
        if n_chunks == 1:
            slabs = grad_out[None, :] if need_grad else None  # the caller's array directly
        elif need_grad:
            slabs = np.empty((n_chunks, n_params), dtype=dtype)
        else:
            slabs = None
        costs = np.zeros(n_chunks, dtype=np.float64)

        def run_chunk(c):
            # head_tag -1: any head, by its value
            costs[c] = chunk_fn(*common, starts[c], starts[c + 1], head, -1, *zero_one,
                                None if slabs is None else slabs[c], row_weights, check_inputs)

        def run_all():
            drivers = self._kernels.parallel_drivers(head, act)
            # the kernel is compiled for the types of chunk 0's arguments, the same as
            # every chunk's
            kernel = drivers.kernel("loss+gradient", arrays + (
                data.block_rows, data.m, starts[0], starts[1], head) + zero_one + (
                None if slabs is None else slabs[0], row_weights, check_inputs))
            args = (kernel,) + arrays + (data.block_rows, data.m, starts, head) + zero_one
            if slabs is None:
                drivers.chunks_loss(*args, costs, row_weights, check_inputs)
            else:
                drivers.chunks_loss_grad(*args, slabs, costs, row_weights, check_inputs)

        _in_chunks(run_chunk, run_all, n_chunks, n_workers,
                   ("loss+gradient" if need_grad else "loss", blas, dtype.name), blas)
        total = 0.0
        for c in range(n_chunks):
            total += float(costs[c])
        if need_grad and n_chunks > 1:
            grad_out[:] = slabs[0]
            for c in range(1, n_chunks):
                grad_out += slabs[c]
        return total

    def _forward(self, theta, offsets, X, n_threads, activations, output, by_blas=None,
                 check_inputs=None):
        """H; with ``check_inputs`` (True or False) ``(H, whether a first-layer product was
        not finite)``."""
        layer_sizes = (offsets[0][2][1] - 1,) + tuple(shape[0] for _, _, shape in offsets)
        dtype = theta.dtype
        # a converted X is the caller's only when it already was C-contiguous in theta's dtype
        X = np.ascontiguousarray(X, dtype=dtype)
        assert X.ndim == 2 and X.shape[1] == layer_sizes[0], \
            f"X must have shape (m, {layer_sizes[0]}), got {X.shape}"
        theta, sizes, weight_starts, unit_starts = _layout(theta, layer_sizes, offsets, dtype)
        # the head's loss does not enter a forward pass: the output's own names the head
        act_codes, head = _network_codes(
            layer_sizes, activations, output, DEFAULT_LOSS[output])
        blas = _first_layer_by_blas(layer_sizes) if by_blas is None else bool(by_blas)
        W1_no_bias = _first_layer_weights(theta, layer_sizes, offsets, blas)
        m = X.shape[0]
        block_rows = _block_rows(m)
        n_blocks = -(-m // block_rows)
        H = np.empty((m, layer_sizes[-1]), dtype=dtype)
        act = self._kernels.uniform_activation(act_codes)
        arrays = (X.reshape(-1), W1_no_bias, theta, sizes, weight_starts, unit_starts, act_codes)
        common = arrays + (act, block_rows, m)
        # rows are independent: any chunking gives the same bits
        n_chunks = chunk_count(n_blocks, 1, dtype.itemsize)
        starts = np.array([c * n_blocks // n_chunks for c in range(n_chunks + 1)], dtype=np.int64)
        n_workers = threads_for(n_threads, n_chunks, m * theta.shape[0], _SERIAL_WORK)
        chunk_fn = self._kernels.chunk_forward

        watch = bool(check_inputs)
        bad = np.zeros(n_chunks, dtype=np.int64)

        def run_chunk(c):
            bad[c] = chunk_fn(*common, starts[c], starts[c + 1], head, -1, dtype.type(0),
                              H.reshape(-1), watch)

        def run_all():
            drivers = self._kernels.parallel_drivers(head, act)
            kernel = drivers.kernel("forward", arrays + (
                block_rows, m, starts[0], starts[1], head, dtype.type(0), H.reshape(-1), watch))
            drivers.chunks_forward(kernel, *arrays, block_rows, m, starts, head, dtype.type(0),
                                   H.reshape(-1), watch, bad)

        _in_chunks(run_chunk, run_all, n_chunks, n_workers, ("forward", blas, dtype.name), blas)
        return H if check_inputs is None else (H, bool(bad.any()))
