"""One evaluation over all shards: a task per shard, a tree of additions, retries after losses."""

from __future__ import annotations

import time

from ._errors import ShardLostError
from ._worker import combine_sums, shard_sum


class ShardedSums:
    """``(loss_sum, grad_sum)`` over every example, summed on the cluster.

    Whatever happens to workers, a call either returns sums over **all** the
    shards' rows (the row count is checked on every call) or raises
    :class:`ShardLostError`; it never returns a gradient over part of the data.

    Parameters
    ----------
    client : distributed.Client
    shards : NumpyShards or DaskShards
    recovery : ShardRecovery
        Repairs lost shards between attempts.
    split_every : int
        Fan-in of the tree reduction.
    theta_transfer : {"inline", "scatter"}
    timeout : float or None
        Seconds to wait for one evaluation.
    scatter_timeout : float
        Seconds a scatter of theta may wait (a worker may be dying).

    Attributes
    ----------
    closed : bool
        Set when the objective closes: a failure is then raised, not retried.
    """

    def __init__(self, client, shards, recovery, split_every, theta_transfer, timeout,
                 scatter_timeout):
        self.client = client
        self.shards = shards
        self.recovery = recovery
        self.split_every = split_every
        self.theta_transfer = theta_transfer
        self.timeout = timeout
        self.scatter_timeout = scatter_timeout
        self.closed = False

    def _submit(self, theta, need_grad):
        """The future of the final ``(loss_sum, grad_sum, m)`` triple."""
        client = self.client
        if self.theta_transfer == "scatter":
            # bounded: scattering to a worker that just died must not block
            [theta_f] = client.scatter([theta], broadcast=True, hash=False,
                                       timeout=self.scatter_timeout)
        else:  # "inline": theta travels inside each shard task's message
            theta_f = theta
        parts = [client.submit(shard_sum, s, theta_f, need_grad, pure=False)
                 for s in self.shards.futures]
        while len(parts) > 1:
            parts = [parts[i] if len(parts[i:i + self.split_every]) == 1 else
                     client.submit(combine_sums, *parts[i:i + self.split_every], pure=False)
                     for i in range(0, len(parts), self.split_every)]
        final = parts[0]
        if len(self.shards.futures) == 1:  # still give one float64 copy
            final = client.submit(combine_sums, final, pure=False)
        return final

    def __call__(self, theta, need_grad):
        """``(loss_sum, grad_sum or None)`` at ``theta`` (checked, working dtype)."""
        m_expected = sum(self.shards.sizes)
        max_recoveries = self.recovery.max_recoveries
        last_exc = None
        for attempt in range(max_recoveries + 1):
            try:
                if attempt:
                    time.sleep(0.2 * attempt)  # give the scheduler time to notice a dead worker
                if attempt or any(f.status != "finished" for f in self.shards.futures):
                    self.recovery.repair()
                final = self._submit(theta, need_grad)
                loss_sum, grad_sum, m = final.result(timeout=self.timeout)
            except (ValueError, TypeError):
                raise
            except Exception as exc:  # lost workers: KilledWorker, CancelledError, comm errors...
                if self.closed:
                    raise
                last_exc = exc
                continue
            if m != m_expected:  # never a gradient over part of the data
                last_exc = ShardLostError(f"partial sums cover {m} of {m_expected} examples")
                continue
            return loss_sum, grad_sum
        raise ShardLostError(
            f"evaluation failed after {max_recoveries} attempts to recover lost shards: "
            f"{type(last_exc).__name__}: {last_exc}") from last_exc
