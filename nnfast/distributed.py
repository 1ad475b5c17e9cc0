"""Data-parallel cost and gradient on a Dask cluster.

Needs the optional extra ``pip install nnfast[distributed]`` (``dask[distributed]``);
``import nnfast`` itself never imports dask.

How it works
------------
The rows of ``X`` and ``y`` are split into *shards*.  Each shard is sent to a
worker **once**, validated there, laid out for the worker's best local backend
(``backend="auto"`` picks it on the worker) and kept in the worker's memory
as the result of a Dask future.  Each evaluation then

1. checks ``theta`` on the client and ships it with the shard tasks, one
   copy per shard (80 kB for the ex4 network; ``theta_transfer="scatter"``
   broadcasts it with ``client.scatter`` first instead),
2. runs one task per shard, on the worker that holds the shard, computing the
   shard's *unregularised* loss sum and gradient sum
   (``backend.loss_grad_sum``),
3. adds the partial sums in a tree of pairwise reduction tasks
   (``split_every`` of them per node, in float64), and
4. brings back one ``(loss_sum, grad_sum, m)`` triple, from which the client
   forms the regularised mean with :func:`nnfast.objective.finish_cost_grad`
   exactly as :class:`nnfast.Objective` does.

Only ``theta`` travels each iteration, and one gradient comes back.

Inputs
------
* NumPy (or anything ``np.asarray`` takes): checked on the client like
  :class:`nnfast.Objective` does, split into ``n_shards`` row blocks
  (default: one per worker thread) and scattered.  The client keeps its
  reference to the (validated) arrays, so a shard lost with its worker is
  scattered again and the evaluation retried.
* ``dask.array.Array``: each row chunk is a shard (``n_shards`` rechunks the
  rows evenly; column chunks are joined).  Nothing is pulled to the client:
  shards are validated and prepared on the workers, and an invalid shard
  raises the ``ValueError``/``TypeError`` of :mod:`nnfast._validation`
  naming the shard and its rows.  A lost shard is recomputed by Dask from
  the collection's lineage.
* ``dask.dataframe`` (needs pandas, which ``nnfast[distributed]`` installs):
  ``X`` a DataFrame with one integer or float column per input unit (as a
  whole it must come out floating-point, as for NumPy inputs); ``y`` a
  Series of class indices, a one-column DataFrame, or a DataFrame of
  ``n_out`` target columns.  They are turned into dask arrays with
  ``to_dask_array`` and then handled as above: each non-empty partition is a
  shard (partitions may differ in size; empty ones are skipped).  Column
  dtypes are checked on the client from the metadata: a column of any other
  dtype (object, string, category, datetime, pandas' nullable ``Float64``/
  ``Int64``...) raises a ``TypeError`` naming the argument and the columns.
  Rows are paired by **position** (partition order), not by index label, so
  ``X`` and ``y`` must list the examples in the same order (e.g. columns of
  one dask DataFrame); a different number of rows raises a ``ValueError``.

Dask inputs can be mixed with NumPy ones (e.g. a dask DataFrame ``X`` and a
NumPy ``y``); ``y`` then follows ``X``'s row chunks (a NumPy ``X`` is a
single chunk, hence a single shard, unless ``n_shards`` is given).  Row
counts Dask does not know yet (dataframe partitions, arrays filtered with a
boolean mask) are counted by one pass of tasks on the cluster before the
shards are built, so such a collection's source is read twice (once to
count, once to prepare).
Nothing is done to the collections passed in: they are neither persisted nor
modified.

Whatever happens to workers, an evaluation either returns sums over **all**
``m`` examples (the total row count is checked on every call) or raises
:class:`ShardLostError`; it never returns a gradient over part of the data.

Running on a real cluster
-------------------------
On the scheduler machine::

    dask scheduler                      # listens on tcp://<scheduler-host>:8786

On every worker machine (same Python environment, nnfast installed)::

    dask worker tcp://<scheduler-host>:8786 --nworkers 1 --nthreads 1
    # one worker process per machine; nnfast's numba/cython kernels thread
    # inside a task with n_threads, or use --nworkers <cores> --nthreads 1
    # and let each shard task run single-threaded

Then point nnfast at the scheduler, by address or with your own Client::

    from nnfast.distributed import DistributedObjective
    with DistributedObjective(X, y, [400, 25, 10], lam=1.0,
                              client="tcp://<scheduler-host>:8786") as fun:
        res = scipy.optimize.minimize(fun, theta0, jac=True, method="L-BFGS-B")

    # or: client = distributed.Client("tcp://<scheduler-host>:8786")
    #     nnfast.train(X, y, ..., client=client)

With ``client=None`` a :class:`distributed.LocalCluster` is started on this
machine (worker processes, one thread each) and shut down by :meth:`close`.
A Client or address you pass in is closed by :meth:`close` only if nnfast
opened the connection (an address string); a Client object stays open.

When it pays
------------
Every evaluation costs a fixed overhead (ship theta, schedule ~2 tasks per
shard, one reduction hop, return one gradient).  Measured on one 2-core
machine with 2 local worker processes (``benchmarks/bench_distributed.py``,
medians, machine shared with other jobs): the fixed cost alone (2 shards of
8 rows) is about 25-50 ms per evaluation, and the ex4 problem (5000 x 400 ->
25 -> 10) takes ~35 ms distributed against ~8 ms for the local kernel on one
thread: **for ex4, stay local**.  At 60000 x 784 -> 25 -> 10 (~2.1 us per row
per thread with the cython kernel) the distributed evaluation (~138 ms) about
breaks even with one local thread (~128 ms) on 2 workers.  On a real cluster,
with k workers, sharding pays once a shard's compute exceeds
``overhead / (k - 1)``: with ~30-70 ms of overhead that is ~15,000-35,000 rows
per shard for k = 2 and a few thousand rows per shard for k >= 10 at this
network size; for the overhead to stay under ~10% a shard needs ~10x that.
Larger hidden layers raise the per-row cost and lower these thresholds.
"""

from __future__ import annotations

import math
import numbers
import threading
import time
import uuid

import numpy as np

try:
    import dask
    from distributed import Client, KilledWorker, LocalCluster
except ImportError as exc:  # pragma: no cover - exercised only without dask
    raise ImportError(
        "nnfast.distributed needs dask[distributed]; install it with "
        "`pip install nnfast[distributed]`"
    ) from exc

from ._losses import check_loss
from ._network import check_layer_sizes, layer_offsets, n_params
from ._validation import (check_dtype, check_lam, check_n_threads,
                          check_targets, check_theta, check_X, cpu_count)
from .backends import Backend, get_backend
from .objective import ObjectiveCalls, finish_cost_grad, l2_mask

__all__ = ["DistributedObjective", "ShardLostError"]


class ShardLostError(RuntimeError):
    """Workers holding shards were lost and the evaluation could not be completed."""


# --------------------------------------------------------------------------- #
# Worker side
# --------------------------------------------------------------------------- #

class _Shard:
    """A shard prepared for a backend, living in a worker's memory.

    ``sizeof`` reports the real size, so the scheduler never thinks moving a
    shard to another worker is cheap.
    """

    __slots__ = ("index", "m", "backend", "data", "layer_sizes", "offsets", "loss",
                 "n_threads", "nbytes", "X", "Y")

    def __init__(self, index, m, backend, data, layer_sizes, offsets, loss, n_threads, nbytes,
                 X=None, Y=None):
        self.X = X  # the validated shard (backends' prepared data usually hold it anyway)
        self.Y = Y
        self.index = index
        self.m = m
        self.backend = backend
        self.data = data
        self.layer_sizes = layer_sizes
        self.offsets = offsets
        self.loss = loss
        self.n_threads = n_threads
        self.nbytes = nbytes

    def __sizeof__(self):
        return int(self.nbytes) + 256

    def __reduce__(self):
        # Prepared data of compiled backends need not pickle (locks, buffers):
        # ship the validated rows and prepare again on the receiving worker.
        name = self.backend if isinstance(self.backend, str) else self.backend.name
        return (_rebuild_shard, (self.index, self.X, self.Y, name, self.layer_sizes,
                                 self.loss, self.n_threads))

    def loss_grad_sum(self, theta, need_grad):
        backend = self.backend
        if not isinstance(backend, Backend):
            backend = self.backend = get_backend(backend)
        grad = np.empty(theta.shape[0], dtype=theta.dtype) if need_grad else None
        loss_sum = backend.loss_grad_sum(theta, self.layer_sizes, self.offsets, self.data,
                                         self.loss, self.n_threads, grad)
        return float(loss_sum), grad, self.m


def _worker_threads(n_threads, host_threads):
    """Threads per shard task on this worker: the given number, or this host's
    cores divided by the Dask worker threads on the host (so that concurrently
    running shard tasks do not oversubscribe the cores)."""
    if n_threads is not None:
        return n_threads
    host = None
    try:
        from distributed import get_worker

        host = get_worker().address.rsplit(":", 1)[0]
    except (ValueError, ImportError):  # not in a worker (e.g. a synchronous test)
        pass
    busy = host_threads.get(host, 1) if host_threads else 1
    return max(1, cpu_count() // max(1, busy))


def _prepare_shard(X, y, index, row_start, n_in, n_out, dtype, backend, layer_sizes, loss,
                   n_threads, host_threads, validate):
    """Validate one shard and lay it out for the local backend (runs on a worker)."""
    dtype = np.dtype(dtype)
    if validate:
        try:
            X = check_X(X, n_in, dtype)
            m = X.shape[0]
            Y = check_targets(y, m, n_out, dtype)
        except (ValueError, TypeError) as exc:
            rows = f"rows {row_start}..{row_start + np.shape(X)[0] - 1}" if row_start is not None \
                else "rows unknown"
            raise type(exc)(f"shard {index} ({rows}) of the data is invalid: {exc}") from None
    else:  # already checked on the client
        m = X.shape[0]
        Y = y
    backend = get_backend(backend)
    offsets = layer_offsets(layer_sizes)
    threads = _worker_threads(n_threads, host_threads)
    # Warm up once on a single row, so that JIT compilation and first-call
    # costs of a backend are paid here and not in the first evaluation.
    warm = backend.prepare(np.ascontiguousarray(X[:1]), np.ascontiguousarray(Y[:1]))
    theta0 = np.zeros(n_params(layer_sizes), dtype=dtype)
    backend.loss_grad_sum(theta0, layer_sizes, offsets, warm, loss, threads,
                          np.empty_like(theta0))
    data = backend.prepare(X, Y)
    return _Shard(index, m, backend, data, layer_sizes, offsets, loss, threads,
                  X.nbytes + Y.nbytes, X, Y)


def _rebuild_shard(index, X, Y, backend, layer_sizes, loss, n_threads):
    backend = get_backend(backend)
    return _Shard(index, X.shape[0], backend, backend.prepare(X, Y), layer_sizes,
                  layer_offsets(layer_sizes), loss, n_threads, X.nbytes + Y.nbytes, X, Y)


def _shard_sum(shard, theta, need_grad):
    """``(loss_sum, grad_sum or None, m)`` of one shard (runs on a worker)."""
    return shard.loss_grad_sum(theta, need_grad)


def _backend_name(shard):
    return shard.backend if isinstance(shard.backend, str) else shard.backend.name


def _combine(*parts):
    """Add partial ``(loss_sum, grad_sum, m)`` triples, gradients in float64.

    Never modifies its inputs (they may be results another task still reads).
    """
    loss_sum = 0.0
    m = 0
    grad = None
    for part_loss, part_grad, part_m in parts:
        loss_sum += part_loss
        m += part_m
        if part_grad is not None:
            if grad is None:
                grad = np.array(part_grad, dtype=np.float64)  # a copy
            else:
                grad += part_grad
    return loss_sum, grad, m


# --------------------------------------------------------------------------- #
# Client side
# --------------------------------------------------------------------------- #

def _is_dask_collection(obj):
    return dask.is_dask_collection(obj)


def _frame_types():
    """``(dask DataFrame, dask Series)``, or ``()`` where dask.dataframe does not import
    (it needs pandas: ``pip install nnfast[distributed]`` brings it)."""
    try:
        import dask.dataframe as dd
    except ImportError:
        return ()
    return (dd.DataFrame, dd.Series)


# dtype kinds accepted in a dask.dataframe column: X takes integer and float
# columns (as a whole it must come out floating-point, as for NumPy inputs),
# y also booleans (0/1 targets).  Anything else (object, strings, category,
# datetimes, pandas' nullable extension types) is refused on the client.
_FRAME_KINDS = {"X": "iuf", "y": "iufb"}


def _check_frame_columns(frame, name):
    """TypeError naming the columns of a dask DataFrame/Series that hold no plain numbers."""
    import dask.dataframe as dd

    kinds = _FRAME_KINDS[name]
    if isinstance(frame, dd.Series):
        dt = frame.dtype
        if not (isinstance(dt, np.dtype) and dt.kind in kinds):
            raise TypeError(
                f"{name} is a dask Series of dtype {dt}, but {name} must hold "
                + ("integer or floating-point numbers" if name == "X" else
                   "numbers (integer class indices or float targets)")
                + f" of a NumPy dtype; convert it first, e.g. {name}.astype('float64')"
                + (" or, for a categorical, y.cat.codes" if name == "y" else ""))
        return
    bad = [(col, dt) for col, dt in frame.dtypes.items()
           if not (isinstance(dt, np.dtype) and dt.kind in kinds)]
    if bad:
        shown = ", ".join(f"{col!r} ({dt})" for col, dt in bad[:8])
        more = f" and {len(bad) - 8} more" if len(bad) > 8 else ""
        raise TypeError(
            f"{name} is a dask DataFrame with {len(bad)} non-numeric column"
            f"{'s' if len(bad) > 1 else ''}: {shown}{more}; every column of {name} must hold "
            f"{'integer or floating-point' if name == 'X' else 'integer, float or boolean'} "
            f"values of a NumPy dtype.  Drop or encode those columns first (e.g. "
            f"{name}.drop(columns=[...]), dask.dataframe.get_dummies, or "
            f".astype('float64') for nullable numeric columns)")


def _as_dask_array(obj, name):
    """dask.array from a dask.array or a dask.dataframe DataFrame/Series.

    Only metadata is looked at: nothing is computed.  The rows of a dataframe
    come out in partition order, with row counts still unknown (NaN chunks).
    """
    import dask.array as da

    if isinstance(obj, da.Array):
        return obj
    frames = _frame_types()
    if frames and isinstance(obj, frames):
        _check_frame_columns(obj, name)
        return obj.to_dask_array()  # lengths are counted on the cluster later
    if not frames and hasattr(obj, "to_dask_array"):
        raise TypeError(f"{name} looks like a dask.dataframe collection, but dask.dataframe "
                        "cannot be imported here (it needs pandas): install it with "
                        "`pip install nnfast[distributed]`")
    raise TypeError(f"{name} is a dask collection of type {type(obj).__name__}; pass a "
                    "dask.array.Array, a dask.dataframe DataFrame or Series, or a NumPy array")


def _nrows(block):
    """Rows of one block or partition (runs on a worker)."""
    return int(len(block))


def _same(block):
    return block


def _split_points(m, n_shards):
    bounds = np.linspace(0, m, n_shards + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


class DistributedObjective(ObjectiveCalls):
    """Regularised cost and gradient computed over row shards on a Dask cluster.

    Same interface as :class:`nnfast.Objective` (a drop-in ``fun`` for
    ``scipy.optimize.minimize(fun, theta0, jac=True)``), plus :meth:`close`
    and use as a context manager.  See the module docstring for the design and
    how to run a cluster.

    Parameters
    ----------
    X : array-like, dask.array.Array or dask.dataframe.DataFrame of shape (m, n_in)
        Floating-point inputs, one example per row, without a bias column.  A
        NumPy array (or anything ``np.asarray`` takes, such as a pandas
        DataFrame) is validated on the client; a dask DataFrame must have
        integer or float (NumPy dtype) columns only, one per input unit.
    y : array-like, dask.array.Array, dask.dataframe.Series or dask.dataframe.DataFrame
        Class indices of shape (m,) or (m, 1) in ``0 .. n_out - 1`` (a Series
        or one-column DataFrame), or targets of shape (m, n_out) in [0, 1].
        Paired with ``X`` row by row in order (not by index label); it must
        have as many rows as ``X``.  Any dask input (in ``X`` or ``y``) makes
        the shards follow ``X``'s row chunks or partitions (a NumPy ``X`` is
        then one chunk: pass ``n_shards``).
    layer_sizes, lam, loss, backend, n_threads, dtype
        As for :class:`nnfast.Objective`.  ``backend`` is resolved on each
        worker (``"auto"``: that worker's fastest).  ``n_threads=None`` gives
        each shard task the worker host's cores divided by the Dask worker
        threads on that host.
    client : None, str or distributed.Client
        ``None`` starts a LocalCluster on this machine (owned, closed by
        :meth:`close`); a string is a scheduler address to connect to
        (``"tcp://host:8786"``); a Client is used as is (and left open).
    n_shards : int or None
        Row shards.  Default: one per worker thread for NumPy inputs, the
        existing non-empty row chunks (dataframe partitions) for dask inputs.
    n_workers : int or None
        Worker processes of the LocalCluster started when ``client=None``
        (default: LocalCluster's choice for this machine's cores).
    split_every : int, default 2
        Fan-in of the tree reduction of partial sums.
    theta_transfer : {"inline", "scatter"}, default "inline"
        How theta reaches the workers each evaluation.  ``"inline"``: inside
        each shard task's message, through the scheduler (no extra round
        trip; one copy per shard, so each worker gets it once when shards =
        workers).  ``"scatter"``: ``client.scatter(theta, broadcast=True)``
        first, then tasks refer to it (one extra client round trip per
        evaluation; better with many shards per worker).  Caveat: a scatter
        that races with a dying worker can stall until distributed's comm
        timeouts give up, so worker loss is recovered promptly only with
        ``"inline"``.
    max_recoveries : int, default 3
        Times one evaluation re-sends lost shards and retries before raising
        :class:`ShardLostError`.
    timeout : float or None
        Seconds to wait for one evaluation (None: no limit).
    cluster_kwargs : dict or None
        Extra arguments for the LocalCluster started when ``client=None``.

    Raises
    ------
    TypeError
        ``X`` not floating-point, ``y`` not numeric, a dask DataFrame/Series
        with non-numeric columns (named in the message), an unsupported dask
        collection, a bad ``client``.
    ValueError
        Wrong shapes (column count, ``X`` and ``y`` with different row
        counts, empty ``X``) or invalid values (NaN/inf, class indices out of
        range).  For dask inputs, value errors are found on the workers and
        name the shard and its rows.

    Attributes
    ----------
    m, n_params, n_evals, layer_sizes, dtype, lam, loss
        As for :class:`nnfast.Objective`.
    client : distributed.Client
    n_shards : int
    shard_sizes : list of int
        Rows per shard.
    n_recoveries : int
        Shards re-sent or recomputed after worker losses so far.
    backend_name : str
        The backend the workers resolved ``backend`` to.
    """

    def __init__(self, X, y, layer_sizes, lam=0.0, loss="cross_entropy", backend="auto",
                 n_threads=None, dtype=None, client=None, n_shards=None, *, n_workers=None,
                 split_every=2, theta_transfer="inline", max_recoveries=3, timeout=None,
                 cluster_kwargs=None):
        self._client = None
        self._cluster = None
        self._owns_client = False
        self._closed = False
        self._shards = []
        self._lock = threading.RLock()

        self.layer_sizes = check_layer_sizes(layer_sizes)
        self.n_params = n_params(self.layer_sizes)
        self.lam = check_lam(lam)
        self.loss = check_loss(loss)
        self._backend_name = self._check_backend(backend)
        self.n_threads = None if n_threads is None else check_n_threads(n_threads)
        if isinstance(split_every, (bool, np.bool_)) or not isinstance(split_every, numbers.Integral) \
                or split_every < 2:
            raise ValueError(f"split_every must be an integer >= 2, got {split_every!r}")
        self.split_every = int(split_every)
        if n_shards is not None and (isinstance(n_shards, (bool, np.bool_))
                                     or not isinstance(n_shards, numbers.Integral) or n_shards < 1):
            raise ValueError(f"n_shards must be a positive integer or None, got {n_shards!r}")
        if theta_transfer not in ("scatter", "inline"):
            raise ValueError(f"theta_transfer must be 'scatter' or 'inline', got {theta_transfer!r}")
        self.theta_transfer = theta_transfer
        self.max_recoveries = int(max_recoveries)
        self.timeout = timeout
        self._scatter_timeout = 10 if timeout is None else min(10, timeout)
        self._mask = l2_mask(self.layer_sizes)
        self.n_evals = 0
        self.n_recoveries = 0
        self._token = uuid.uuid4().hex[:12]

        dask_input = _is_dask_collection(X) or _is_dask_collection(y)
        # Check all that can be checked on the client first: no cluster for bad data.
        if dask_input:  # types, columns, dtypes and shapes from metadata (nothing computed)
            X, y = self._check_dask_meta(X, y, dtype)
        else:
            X = check_X(X, self.layer_sizes[0], dtype)
            self.dtype = X.dtype
            Y = check_targets(y, X.shape[0], self.layer_sizes[-1], self.dtype)
        try:
            self._connect(client, n_workers, cluster_kwargs)
            self._host_threads = self._threads_per_host()
            if dask_input:
                self._setup_dask(X, y, n_shards)
            else:
                self._setup_numpy(X, Y, n_shards)
            self._wait_prepared()
        except BaseException:
            self.close()
            raise
        self.m = sum(self.shard_sizes)
        self.n_shards = len(self._shards)

    # ------------------------------------------------------------------ setup
    @staticmethod
    def _check_backend(backend):
        if isinstance(backend, Backend):
            return backend.name
        if backend == "auto":
            return "auto"
        get_backend(backend)  # a clear error now for unknown names (resolved again on workers)
        return backend

    def _connect(self, client, n_workers, cluster_kwargs):
        if client is None:
            kwargs = dict(processes=True, threads_per_worker=1, dashboard_address=":0")
            if n_workers is not None:
                kwargs["n_workers"] = n_workers
            kwargs.update(cluster_kwargs or {})
            self._cluster = LocalCluster(**kwargs)
            self._client = Client(self._cluster, set_as_default=False)
            self._owns_client = True
        elif isinstance(client, str):
            self._client = Client(client, set_as_default=False)
            self._owns_client = True
        elif isinstance(client, Client):
            self._client = client
        else:
            raise TypeError("client must be None, a scheduler address such as "
                            f"'tcp://host:8786', or a distributed.Client; got {client!r}")
        if not self._client.scheduler_info().get("workers"):
            self._client.wait_for_workers(1, timeout=60)

    @property
    def client(self):
        return self._client

    def _threads_per_host(self):
        hosts = {}
        for addr, info in self._client.scheduler_info(n_workers=-1)["workers"].items():
            host = addr.rsplit(":", 1)[0]
            hosts[host] = hosts.get(host, 0) + int(info.get("nthreads", 1))
        return hosts

    def _prepare_args(self, index, row_start, validate):
        return dict(index=index, row_start=row_start, n_in=self.layer_sizes[0],
                    n_out=self.layer_sizes[-1], dtype=self.dtype.str, backend=self._backend_name,
                    layer_sizes=self.layer_sizes, loss=self.loss, n_threads=self.n_threads,
                    host_threads=self._host_threads, validate=validate)

    def _setup_numpy(self, X, Y, n_shards):
        if n_shards is None:
            n_shards = max(1, sum(self._host_threads.values()))
        self._source = "numpy"
        self._X, self._Y = X, Y  # kept to re-send shards lost with a worker
        self._bounds = _split_points(X.shape[0], min(n_shards, X.shape[0]))
        self.shard_sizes = [b - a for a, b in self._bounds]
        raw = self._client.scatter([(X[a:b], Y[a:b]) for a, b in self._bounds], hash=False)
        self._raw = list(raw)
        self._shards = [self._submit_prepare_numpy(i) for i in range(len(self._bounds))]

    def _submit_prepare_numpy(self, i):
        return self._client.submit(_apply_prepare, self._raw[i], pure=False,
                                   key=f"nnfast-shard-{self._token}-{i}-{uuid.uuid4().hex[:8]}",
                                   **self._prepare_args(i, self._bounds[i][0], False))

    def _resend_numpy(self, i):
        a, b = self._bounds[i]
        [self._raw[i]] = self._client.scatter([(self._X[a:b], self._Y[a:b])], hash=False,
                                              timeout=self._scatter_timeout)
        self._shards[i] = self._submit_prepare_numpy(i)

    def _check_dask_meta(self, X, y, dtype):
        """Turn dask inputs into dask arrays and check what their metadata tell
        (collection types, column dtypes, ndim, widths); computes nothing."""
        import dask.array as da

        n_in, n_out = self.layer_sizes[0], self.layer_sizes[-1]
        X = _as_dask_array(X, "X") if _is_dask_collection(X) else da.asarray(np.asarray(X))
        y = _as_dask_array(y, "y") if _is_dask_collection(y) else da.asarray(np.asarray(y))
        if X.dtype.kind not in "f":
            raise TypeError(f"X must hold floating-point values, got dtype {X.dtype}"
                            + ("; convert it explicitly (for pixel data, X / 255.0)"
                               if X.dtype.kind in "iub" else ""))
        self.dtype = check_dtype(dtype, X.dtype)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D of shape (m, {n_in}), got shape {X.shape}")
        if X.shape[1] != n_in:
            raise ValueError(f"X has {X.shape[1]} columns but layer_sizes[0] is {n_in}: each row "
                             "must have one value per input unit (do not add the bias column)")
        if y.dtype.kind not in "fiub":
            raise TypeError(f"y must be numeric (class indices or targets), got dtype {y.dtype}")
        if not (y.ndim == 1 or y.ndim == 2):
            raise ValueError(f"y must be 1-D class indices or a 2-D target matrix, got {y.ndim}-D")
        if y.ndim == 2 and not math.isnan(y.shape[1]) and y.shape[1] not in (1, n_out):
            raise ValueError(f"y has {y.shape[1]} columns, expected 1 (class indices) or "
                             f"{n_out} (a target matrix for layer_sizes[-1] = {n_out})")
        return X, y

    def _known_rows(self, *arrays):
        """The arrays with the row count of every chunk known.

        Counts Dask does not know yet (dataframes, arrays filtered by a mask)
        are computed by tasks on the cluster (one per row chunk), never in
        this process.  The arrays passed in are left as they were (no
        ``compute_chunk_sizes``, which would change them in place).
        """
        todo = [i for i, arr in enumerate(arrays) if any(math.isnan(c) for c in arr.chunks[0])]
        if not todo:
            return arrays
        counts = []
        for i in todo:
            blocks = arrays[i].to_delayed()
            blocks = blocks[:, 0] if blocks.ndim == 2 else blocks  # one block per row chunk
            counts.append([dask.delayed(_nrows, pure=True)(b) for b in blocks])
        futures = self._client.compute(counts)
        try:
            rows = [tuple(f.result(timeout=self.timeout)) for f in futures]
        finally:
            for f in futures:
                f.release()
        out = list(arrays)
        for i, r in zip(todo, rows):
            arr = arrays[i]
            out[i] = arr.map_blocks(_same, chunks=(r,) + tuple(arr.chunks[1:]), dtype=arr.dtype)
        return out

    def _setup_dask(self, X, y, n_shards):
        self._source = "dask"
        X, y = self._known_rows(X, y)
        m = X.shape[0]
        if m == 0:
            raise ValueError(f"X is empty: it needs at least one row, got shape {X.shape}")
        if y.shape[0] != m:
            raise ValueError(f"y has {y.shape[0]} rows but X has {m}: X and y must hold one "
                             "row per example, in the same order")
        if n_shards is not None and n_shards != sum(1 for c in X.chunks[0] if c):
            rows = int(math.ceil(m / min(n_shards, m)))
            X = X.rechunk({0: rows})
        X = X.rechunk({1: -1})
        y = y.rechunk({0: X.chunks[0]} if y.ndim == 1 else {0: X.chunks[0], 1: -1})
        starts = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).astype(int)
        xs = X.to_delayed().ravel()
        ys = y.to_delayed().ravel()
        # empty chunks (empty dataframe partitions, e.g. after a filter) make no shard
        keep = [j for j, c in enumerate(X.chunks[0]) if c > 0]
        self._delayed = [
            dask.delayed(_prepare_shard, pure=True)(
                xs[j], ys[j], **self._prepare_args(i, int(starts[j]), True),
                dask_key_name=f"nnfast-shard-{self._token}-{i}")
            for i, j in enumerate(keep)
        ]
        self.shard_sizes = [int(X.chunks[0][j]) for j in keep]
        self._shards = list(self._client.compute(self._delayed))

    def _resend_dask(self, i):
        # Recomputed from the collection's lineage (the scheduler usually
        # does this by itself; this covers futures that ended up cancelled).
        [self._shards[i]] = self._client.compute([self._delayed[i]])

    def _wait_prepared(self):
        """Wait for every shard to be prepared; re-send shards lost on the way."""
        for attempt in range(self.max_recoveries + 1):
            for f in self._shards:  # not distributed.wait: there may be no default client
                try:
                    f.exception(timeout=self.timeout)
                except Exception:  # cancelled (lost worker), timed out: handled below
                    pass
            for f in self._shards:
                if f.status == "error" and not isinstance(f.exception(), KilledWorker):
                    f.result()  # raises the worker's error (ValueError/TypeError naming the shard)
            if all(f.status == "finished" for f in self._shards):
                break
            if attempt < self.max_recoveries:
                self._repair()
        else:
            lost = [f.key for f in self._shards if f.status != "finished"]
            raise ShardLostError(f"could not prepare shards {lost} (workers lost?)")
        # one tiny task per shard, run where the shard lives (never move shards around)
        names = self._client.gather([self._client.submit(_backend_name, f, pure=False)
                                     for f in self._shards])
        #: backend name(s) the workers resolved (one name unless workers differ)
        self.backend_name = names[0] if len(set(names)) == 1 else ",".join(sorted(set(names)))

    # ------------------------------------------------------------ evaluation
    def _repair(self):
        """Re-send or recompute shards whose futures are no longer in memory."""
        repaired = 0
        for i, f in enumerate(self._shards):
            if f.status in ("lost", "cancelled", "error"):
                if f.status == "error":
                    exc = f.exception()
                    if not isinstance(exc, KilledWorker):  # a real error, not a lost worker
                        raise exc
                (self._resend_numpy if self._source == "numpy" else self._resend_dask)(i)
                repaired += 1
        self.n_recoveries += repaired
        return repaired

    def _submit_iteration(self, theta, need_grad):
        client = self._client
        if self.theta_transfer == "scatter":
            # bounded: scattering to a worker that just died must not block
            [theta_f] = client.scatter([theta], broadcast=True, hash=False,
                                       timeout=self._scatter_timeout)
        else:  # "inline": theta travels inside each shard task's message
            theta_f = theta
        parts = [client.submit(_shard_sum, s, theta_f, need_grad, pure=False)
                 for s in self._shards]
        while len(parts) > 1:
            parts = [parts[i] if len(parts[i:i + self.split_every]) == 1 else
                     client.submit(_combine, *parts[i:i + self.split_every], pure=False)
                     for i in range(0, len(parts), self.split_every)]
        final = parts[0]
        if len(self._shards) == 1:  # still give one float64 copy
            final = client.submit(_combine, final, pure=False)
        return final

    def _sums(self, theta, need_grad):
        last_exc = None
        for attempt in range(self.max_recoveries + 1):
            try:
                if attempt:
                    time.sleep(0.2 * attempt)  # give the scheduler time to notice a dead worker
                if attempt or any(f.status != "finished" for f in self._shards):
                    self._repair()
                final = self._submit_iteration(theta, need_grad)
                loss_sum, grad_sum, m = final.result(timeout=self.timeout)
            except (ValueError, TypeError):
                raise
            except Exception as exc:  # lost workers: KilledWorker, CancelledError, comm errors...
                if self._closed:
                    raise
                last_exc = exc
                continue
            if m != sum(self.shard_sizes):  # never a gradient over part of the data
                last_exc = ShardLostError(f"partial sums cover {m} of {self.m} examples")
                continue
            return loss_sum, grad_sum
        raise ShardLostError(
            f"evaluation failed after {self.max_recoveries} attempts to recover lost shards: "
            f"{type(last_exc).__name__}: {last_exc}") from last_exc

    def _evaluate(self, theta, need_grad):
        if self._closed:
            raise RuntimeError("this DistributedObjective is closed")
        theta = check_theta(theta, self.n_params, self.dtype, self.layer_sizes)
        with self._lock:
            loss_sum, grad_sum = self._sums(theta, need_grad)
            self.n_evals += 1
        return finish_cost_grad(loss_sum, grad_sum, theta, self.m, self.lam, self._mask)

    # ------------------------------------------------------------- lifetime
    def close(self):
        """Release the shards; close the client and LocalCluster if nnfast started them."""
        if self._closed:
            return
        self._closed = True
        self._shards = []
        self._raw = []
        self._delayed = []
        self._X = self._Y = None
        try:
            if self._owns_client and self._client is not None:
                self._client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()
            self._client = None if self._owns_client else self._client
            self._cluster = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            if not self._closed and (self._owns_client or self._cluster is not None):
                self.close()
        except Exception:
            pass

    def __repr__(self):
        state = "closed" if self._closed else f"{getattr(self, 'n_shards', '?')} shards"
        return (f"DistributedObjective(m={getattr(self, 'm', '?')}, "
                f"layer_sizes={list(self.layer_sizes)}, lam={self.lam}, loss={self.loss!r}, "
                f"backend={self._backend_name!r}, dtype={getattr(self, 'dtype', None)}, {state})")


def _apply_prepare(raw, **kwargs):
    X, Y = raw
    return _prepare_shard(X, Y, **kwargs)
