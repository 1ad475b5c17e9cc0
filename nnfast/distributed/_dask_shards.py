"""Shards of dask data: one per non-empty row chunk, validated and prepared on the workers."""

from __future__ import annotations

import math

import dask
import numpy as np

from ._dask_inputs import with_known_rows
from ._worker import prepare_shard


class DaskShards:
    """The row chunks of dask arrays ``X``, ``y``, each validated and prepared on a worker.

    Nothing is pulled to the client: an invalid shard raises, on the worker,
    the error of :mod:`nnfast._validation` naming the shard and its rows.  A
    lost shard is recomputed from the collection's lineage (:meth:`resend`).

    Parameters
    ----------
    client : distributed.Client
    X, y : dask.array.Array
        As :func:`~._dask_inputs.check_dask_metadata` returns them.
    n_shards : int or None
        Rechunk the rows into this many even shards; default: the existing
        non-empty row chunks (dataframe partitions).
    prepare_kwargs : dict
        The arguments of :func:`~._worker.prepare_shard` common to all shards.
    token : str
        Makes the task keys of this objective unique.
    timeout : float or None
        Seconds to wait for the row counts Dask does not know yet.

    Attributes
    ----------
    futures : list of distributed.Future
        The prepared shards.
    sizes : list of int
        Rows per shard.
    """

    def __init__(self, client, X, y, n_shards, prepare_kwargs, token, timeout):
        self._client = client
        X, y = with_known_rows(client, (X, y), timeout)
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
            dask.delayed(prepare_shard, pure=True)(
                xs[j], ys[j], index=i, row_start=int(starts[j]), validate=True, **prepare_kwargs,
                dask_key_name=f"nnfast-shard-{token}-{i}")
            for i, j in enumerate(keep)
        ]
        self.sizes = [int(X.chunks[0][j]) for j in keep]
        self.futures = list(client.compute(self._delayed))

    def resend(self, i):
        """Recompute shard ``i`` from the collection's lineage.

        The scheduler usually does this by itself; this covers futures that
        ended up cancelled.
        """
        [self.futures[i]] = self._client.compute([self._delayed[i]])

    def release(self):
        """Drop every future (the cluster frees the shards)."""
        self.futures = []
        self._delayed = []
