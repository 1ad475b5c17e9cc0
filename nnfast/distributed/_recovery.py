"""Shard repair: re-send or recompute shards lost with their workers, and count it."""

from __future__ import annotations

from distributed import KilledWorker

from ._errors import ShardLostError


class ShardRecovery:
    """Keeps every shard of ``shards`` (a ``NumpyShards`` or ``DaskShards``) in memory.

    Parameters
    ----------
    shards : NumpyShards or DaskShards
    max_recoveries : int
        Rounds of repair before :meth:`wait_prepared` gives up.
    timeout : float or None
        Seconds to wait for one shard's preparation.

    Attributes
    ----------
    n_recoveries : int
        Shards re-sent or recomputed so far.
    """

    def __init__(self, shards, max_recoveries, timeout):
        self.shards = shards
        self.max_recoveries = max_recoveries
        self.timeout = timeout
        self.n_recoveries = 0

    def repair(self):
        """Re-send or recompute shards whose futures are no longer in memory; how many."""
        repaired = 0
        for i, f in enumerate(self.shards.futures):
            if f.status in ("lost", "cancelled", "error"):
                if f.status == "error":
                    exc = f.exception()
                    if not isinstance(exc, KilledWorker):  # a real error, not a lost worker
                        raise exc
                self.shards.resend(i)
                repaired += 1
        self.n_recoveries += repaired
        return repaired

    def wait_prepared(self):
        """Wait for every shard to be prepared; re-send shards lost on the way.

        Raises
        ------
        ValueError, TypeError
            A shard's data are invalid (the worker's error, naming the shard).
        ShardLostError
            Shards still missing after ``max_recoveries`` repairs.
        """
        for attempt in range(self.max_recoveries + 1):
            for f in self.shards.futures:  # not distributed.wait: there may be no default client
                try:
                    f.exception(timeout=self.timeout)
                except Exception:  # cancelled (lost worker), timed out: handled below
                    pass
            for f in self.shards.futures:
                if f.status == "error" and not isinstance(f.exception(), KilledWorker):
                    f.result()  # raises the worker's error (ValueError/TypeError naming the shard)
            if all(f.status == "finished" for f in self.shards.futures):
                return
            if attempt < self.max_recoveries:
                self.repair()
        lost = [f.key for f in self.shards.futures if f.status != "finished"]
        raise ShardLostError(f"could not prepare shards {lost} (workers lost?)")
