"""Shards of NumPy data: row blocks checked on the client, scattered once, prepared on workers."""

from __future__ import annotations

import uuid

import numpy as np

from ._worker import prepare_scattered_shard


def split_points(m, n_shards):
    """``[(start, stop), ...]``: ``n_shards`` row ranges of near-equal size over ``m`` rows."""
    bounds = np.linspace(0, m, n_shards + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


class NumpyShards:
    """Row blocks of validated NumPy ``X``, ``Y``, each prepared on a worker.

    The client keeps its reference to the arrays, so that a shard lost with
    its worker is scattered again (:meth:`resend`).

    Parameters
    ----------
    client : distributed.Client
    X, Y : ndarray
        Checked inputs and targets, in the working dtype.
    n_shards : int or None
        Default: one per worker thread of the cluster.
    prepare_kwargs : dict
        The arguments of :func:`~._worker.prepare_shard` common to all shards.
    token : str
        Makes the task keys of this objective unique.
    scatter_timeout : float
        Seconds a re-send may wait for a scatter to a worker that may be dying.

    Attributes
    ----------
    futures : list of distributed.Future
        The prepared shards, one per block.
    scattered : list of distributed.Future
        The raw row blocks on the workers.
    sizes : list of int
        Rows per shard.
    """

    def __init__(self, client, X, Y, n_shards, prepare_kwargs, token, scatter_timeout):
        if n_shards is None:
            n_shards = max(1, sum(prepare_kwargs["host_threads"].values()))
        self._client = client
        self._X, self._Y = X, Y
        self._prepare_kwargs = prepare_kwargs
        self._token = token
        self._scatter_timeout = scatter_timeout
        self._bounds = split_points(X.shape[0], min(n_shards, X.shape[0]))
        self.sizes = [b - a for a, b in self._bounds]
        self.scattered = list(client.scatter([(X[a:b], Y[a:b]) for a, b in self._bounds],
                                             hash=False))
        self.futures = [self._submit_prepare(i) for i in range(len(self._bounds))]

    def _submit_prepare(self, i):
        return self._client.submit(prepare_scattered_shard, self.scattered[i], pure=False,
                                   key=f"nnfast-shard-{self._token}-{i}-{uuid.uuid4().hex[:8]}",
                                   index=i, row_start=self._bounds[i][0], validate=False,
                                   **self._prepare_kwargs)

    def resend(self, i):
        """Scatter block ``i`` again and prepare it anew (its worker was lost)."""
        a, b = self._bounds[i]
        [self.scattered[i]] = self._client.scatter([(self._X[a:b], self._Y[a:b])], hash=False,
                                                   timeout=self._scatter_timeout)
        self.futures[i] = self._submit_prepare(i)

    def release(self):
        """Drop every future (the cluster frees the shards) and the client's arrays."""
        self.futures = []
        self.scattered = []
        self._X = self._Y = None
