"""What runs on the workers: preparing a shard, its partial sums, and adding sums up."""

from __future__ import annotations

import numpy as np

from .._network import layer_offsets, n_params
from .._validation import check_targets, check_X, cpu_count
from ..backends import Backend, get_backend
from ..backends._base import layout_kwargs, network_kwargs


class PreparedShard:
    """A shard prepared for a backend, living in a worker's memory.

    ``sizeof`` reports the real size, so the scheduler never thinks moving a
    shard to another worker is cheap.
    """

    __slots__ = ("index", "m", "backend", "data", "layer_sizes", "offsets", "loss",
                 "n_threads", "nbytes", "X", "Y", "activations", "output")

    def __init__(self, index, m, backend, data, layer_sizes, offsets, loss, n_threads, nbytes,
                 X=None, Y=None, activations=None, output="logistic"):
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
        self.activations = activations
        self.output = output

    def __sizeof__(self):
        return int(self.nbytes) + 256

    def __reduce__(self):
        # Prepared data of compiled backends need not pickle (locks, buffers):
        # ship the validated rows and prepare again on the receiving worker.
        return (rebuild_shard, (self.index, self.X, self.Y, shard_backend_name(self),
                                self.layer_sizes, self.loss, self.n_threads, self.activations,
                                self.output))

    def loss_grad_sum(self, theta, need_grad):
        """``(loss_sum, grad_sum or None, m)`` of this shard at ``theta``."""
        backend = self.backend
        if not isinstance(backend, Backend):
            backend = self.backend = get_backend(backend, self.activations, self.output)
        grad = np.empty(theta.shape[0], dtype=theta.dtype) if need_grad else None
        loss_sum = backend.loss_grad_sum(theta, self.layer_sizes, self.offsets, self.data,
                                         self.loss, self.n_threads, grad,
                                         **network_kwargs(backend, self.activations, self.output))
        return float(loss_sum), grad, self.m


def worker_threads(n_threads, host_threads):
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


def prepare_shard(X, y, index, row_start, n_in, n_out, dtype, backend, layer_sizes, loss,
                  n_threads, host_threads, validate, activations=None, output="logistic"):
    """Validate one shard and lay it out for the local backend (runs on a worker).

    ``activations`` and ``output`` are the network's, checked on the client.
    """
    dtype = np.dtype(dtype)
    if validate:
        try:
            X = check_X(X, n_in, dtype)
            m = X.shape[0]
            Y = check_targets(y, m, n_out, dtype, real_valued=output == "identity")
        except (ValueError, TypeError) as exc:
            rows = f"rows {row_start}..{row_start + np.shape(X)[0] - 1}" if row_start is not None \
                else "rows unknown"
            raise type(exc)(f"shard {index} ({rows}) of the data is invalid: {exc}") from None
    else:  # already checked on the client
        m = X.shape[0]
        Y = y
    backend = get_backend(backend, activations, output)
    net = network_kwargs(backend, activations, output)
    offsets = layer_offsets(layer_sizes)
    threads = worker_threads(n_threads, host_threads)
    # Warm up once on a single row, so that JIT compilation and first-call
    # costs of a backend are paid here and not in the first evaluation.
    layout = layout_kwargs(backend, layer_sizes)
    warm = backend.prepare(np.ascontiguousarray(X[:1]), np.ascontiguousarray(Y[:1]), **layout)
    theta0 = np.zeros(n_params(layer_sizes), dtype=dtype)
    backend.loss_grad_sum(theta0, layer_sizes, offsets, warm, loss, threads,
                          np.empty_like(theta0), **net)
    data = backend.prepare(X, Y, **layout)
    return PreparedShard(index, m, backend, data, layer_sizes, offsets, loss, threads,
                         X.nbytes + Y.nbytes, X, Y, activations, output)


def prepare_scattered_shard(rows, **kwargs):
    """:func:`prepare_shard` of a scattered ``(X, Y)`` pair of row blocks."""
    X, Y = rows
    return prepare_shard(X, Y, **kwargs)


def rebuild_shard(index, X, Y, backend, layer_sizes, loss, n_threads, activations=None,
                  output="logistic"):
    """A :class:`PreparedShard` again from its validated rows (after unpickling)."""
    backend = get_backend(backend, activations, output)
    data = backend.prepare(X, Y, **layout_kwargs(backend, layer_sizes))
    return PreparedShard(index, X.shape[0], backend, data, layer_sizes,
                         layer_offsets(layer_sizes), loss, n_threads, X.nbytes + Y.nbytes, X, Y,
                         activations, output)


def shard_sum(shard, theta, need_grad):
    """``(loss_sum, grad_sum or None, m)`` of one shard (runs on a worker)."""
    return shard.loss_grad_sum(theta, need_grad)


def shard_backend_name(shard):
    return shard.backend if isinstance(shard.backend, str) else shard.backend.name


def combine_sums(*parts):
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
