"""The :class:`DistributedObjective`: checks on the client, then shards, repair and sums."""

from __future__ import annotations

import numbers
import threading
import uuid

import numpy as np

from .._activations import check_activations, check_head
from .._network import check_layer_sizes, n_params
from .._validation import check_lam, check_n_threads, check_targets, check_theta, check_X
from ..backends import Backend, get_backend
from ..objective import ObjectiveCalls, finish_cost_grad, l2_mask
from ._cluster import connect, threads_per_host
from ._dask_inputs import check_dask_metadata, is_dask_collection
from ._dask_shards import DaskShards
from ._evaluation import ShardedSums
from ._numpy_shards import NumpyShards
from ._recovery import ShardRecovery
from ._worker import shard_backend_name


class DistributedObjective(ObjectiveCalls):
    """Regularised cost and gradient computed over row shards on a Dask cluster.

    Same interface as :class:`nnfast.Objective` (a drop-in ``fun`` for
    ``scipy.optimize.minimize(fun, theta0, jac=True)``), plus :meth:`close`
    and use as a context manager.  ``docs/distributed.md`` describes the
    design, the inputs, how to run a cluster and when sharding pays.

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
    layer_sizes, lam, loss, backend, n_threads, dtype, activation, output
        As for :class:`nnfast.Objective`.  ``backend`` is resolved on each
        worker (``"auto"``: that worker's fastest for this network).  ``n_threads=None`` gives
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
    m, n_params, n_evals, layer_sizes, dtype, lam, loss, activations, output
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

    def __init__(self, X, y, layer_sizes, lam=0.0, loss=None, backend="auto",
                 n_threads=None, dtype=None, client=None, n_shards=None, *, n_workers=None,
                 split_every=2, theta_transfer="inline", max_recoveries=3, timeout=None,
                 cluster_kwargs=None, activation="logistic", output="logistic"):
        self._client = None
        self._cluster = None
        self._owns_client = False
        self._closed = False
        self._shards = None  # NumpyShards or DaskShards
        self._recovery = None
        self._sums = None
        self._lock = threading.RLock()

        self.layer_sizes = check_layer_sizes(layer_sizes)
        self.n_params = n_params(self.layer_sizes)
        self.lam = check_lam(lam)
        self.activations = check_activations(activation, len(self.layer_sizes) - 2)
        self.output, self.loss = check_head(output, loss)
        self._backend_name = self._check_backend(backend, self.activations, self.output)
        self.n_threads = None if n_threads is None else check_n_threads(n_threads)
        _check_sharding_options(split_every, n_shards, theta_transfer)
        self.split_every = int(split_every)
        self.theta_transfer = theta_transfer
        self.max_recoveries = int(max_recoveries)
        self.timeout = timeout
        self._mask = l2_mask(self.layer_sizes)
        self.n_evals = 0

        dask_input = is_dask_collection(X) or is_dask_collection(y)
        # Check all that can be checked on the client first: no cluster for bad data.
        if dask_input:  # types, columns, dtypes and shapes from metadata (nothing computed)
            X, y, self.dtype = check_dask_metadata(X, y, self.layer_sizes, dtype)
        else:
            X = check_X(X, self.layer_sizes[0], dtype)
            self.dtype = X.dtype
            y = check_targets(y, X.shape[0], self.layer_sizes[-1], self.dtype,
                              real_valued=self.output == "identity")
        try:
            self._client, self._cluster, self._owns_client = connect(client, n_workers,
                                                                     cluster_kwargs)
            self._build_shards(X, y, dask_input, n_shards)
        except BaseException:
            self.close()
            raise
        self.shard_sizes = self._shards.sizes
        self.m = sum(self.shard_sizes)
        self.n_shards = len(self._shards.futures)

    @staticmethod
    def _check_backend(backend, activations, output):
        if isinstance(backend, Backend):
            get_backend(backend, activations, output)  # one without this network is refused
            return backend.name
        if backend == "auto":
            return "auto"
        # a clear error now for unknown names, or ones without this network (resolved
        # again on the workers)
        get_backend(backend, activations, output)
        return backend

    def _build_shards(self, X, Y, dask_input, n_shards):
        """Send the shards, wait until every worker has prepared its own, set up the sums."""
        prepare_kwargs = dict(n_in=self.layer_sizes[0], n_out=self.layer_sizes[-1],
                              dtype=self.dtype.str, backend=self._backend_name,
                              layer_sizes=self.layer_sizes, loss=self.loss,
                              n_threads=self.n_threads, host_threads=threads_per_host(self._client),
                              activations=self.activations, output=self.output)
        token = uuid.uuid4().hex[:12]
        scatter_timeout = 10 if self.timeout is None else min(10, self.timeout)
        if dask_input:
            self._shards = DaskShards(self._client, X, Y, n_shards, prepare_kwargs, token,
                                      self.timeout)
        else:
            self._shards = NumpyShards(self._client, X, Y, n_shards, prepare_kwargs, token,
                                       scatter_timeout)
        self._recovery = ShardRecovery(self._shards, self.max_recoveries, self.timeout)
        self._recovery.wait_prepared()
        # one tiny task per shard, run where the shard lives (never move shards around)
        names = self._client.gather([self._client.submit(shard_backend_name, f, pure=False)
                                     for f in self._shards.futures])
        #: backend name(s) the workers resolved (one name unless workers differ)
        self.backend_name = names[0] if len(set(names)) == 1 else ",".join(sorted(set(names)))
        self._sums = ShardedSums(self._client, self._shards, self._recovery, self.split_every,
                                 self.theta_transfer, self.timeout, scatter_timeout)

    @property
    def client(self):
        return self._client

    @property
    def n_recoveries(self):
        """Shards re-sent or recomputed after worker losses so far."""
        return 0 if self._recovery is None else self._recovery.n_recoveries

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
        if self._sums is not None:
            self._sums.closed = True
        if self._shards is not None:
            self._shards.release()
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


def _check_sharding_options(split_every, n_shards, theta_transfer):
    """ValueError naming a bad ``split_every``, ``n_shards`` or ``theta_transfer``."""
    if isinstance(split_every, (bool, np.bool_)) or not isinstance(split_every, numbers.Integral) \
            or split_every < 2:
        raise ValueError(f"split_every must be an integer >= 2, got {split_every!r}")
    if n_shards is not None and (isinstance(n_shards, (bool, np.bool_))
                                 or not isinstance(n_shards, numbers.Integral) or n_shards < 1):
        raise ValueError(f"n_shards must be a positive integer or None, got {n_shards!r}")
    if theta_transfer not in ("scatter", "inline"):
        raise ValueError(f"theta_transfer must be 'scatter' or 'inline', got {theta_transfer!r}")
