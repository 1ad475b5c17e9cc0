"""PyTorch and JAX computing nnfast's cost and gradient by automatic differentiation.

Each builder takes ``(X, Y, sizes, dtype, threads, lam, net=None)`` (``Y`` one-hot,
``net`` the hidden activation and output as for :class:`nnfast.Objective`) and
returns a function ``theta -> (J, grad float64)``, or raises :class:`Skip`
when the library cannot run here.  A peer writes out its own forward pass: it
is timed as that library's users would write it.
"""

from __future__ import annotations

import os
import sys

import numpy as np


class Skip(Exception):
    """A runner that cannot run here (not installed, too slow for this shape...)."""


def _network(net, n_hidden):
    """(hidden activation names, output) of ``net``."""
    from .._activations import check_activations, check_head

    net = net or {}
    return (check_activations(net.get("activation", "logistic"), n_hidden),
            check_head(net.get("output", "logistic"))[0])


def _torch_build(X, Y, sizes, dtype, threads, lam, net=None):
    try:
        import torch
    except Exception as exc:
        raise Skip(f"PyTorch not installed ({type(exc).__name__})")
    from .._network import layer_offsets

    hidden, output = _network(net, len(sizes) - 2)
    acts = {"logistic": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
            "identity": lambda z: z}

    torch.set_num_threads(threads)
    Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=dtype))
    Yt = torch.from_numpy(np.ascontiguousarray(Y, dtype=dtype))
    m = X.shape[0]
    offsets = layer_offsets(sizes)
    bce = torch.nn.functional.binary_cross_entropy_with_logits

    def fun(theta):
        th = torch.from_numpy(np.asarray(theta, dtype=dtype)).requires_grad_(True)
        a = Xt
        reg = 0.0
        for l, (s, e, shape) in enumerate(offsets):
            w = th[s:e].view(shape)
            z = torch.addmm(w[:, 0], a, w[:, 1:].t())
            if l < len(hidden):
                a = acts[hidden[l]](z)
            reg = reg + (w[:, 1:] ** 2).sum()
        if output == "softmax":
            loss = -(Yt * torch.log_softmax(z, dim=1)).sum()
        elif output == "identity":
            loss = 0.5 * ((z - Yt) ** 2).sum()
        else:
            loss = bce(z, Yt, reduction="sum")
        J = loss / m + lam / (2.0 * m) * reg
        J.backward()
        return float(J.detach()), th.grad.numpy().astype(np.float64)

    fun.threads_note = f"torch.set_num_threads({threads})"
    return fun


_JAX_THREADS = None


def _jax_build(X, Y, sizes, dtype, threads, lam, net=None):
    global _JAX_THREADS
    if "jax" not in sys.modules:
        # XLA's CPU thread pool is fixed when JAX starts: one thread on request, else all cores
        if threads == 1:
            os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                                       + " --xla_cpu_multi_thread_eigen=false"
                                       + " intra_op_parallelism_threads=1").strip()
            _JAX_THREADS = 1
        else:
            _JAX_THREADS = "all cores"
    try:
        import jax
        import jax.numpy as jnp
    except Exception as exc:
        raise Skip(f"JAX not installed ({type(exc).__name__})")
    from .._network import layer_offsets
    from .._validation import cpu_count

    if threads != cpu_count() and _JAX_THREADS != threads:
        raise Skip(f"JAX's thread pool is fixed at start-up ({_JAX_THREADS}); "
                   f"run with --threads {threads} alone to time it")
    hidden, output = _network(net, len(sizes) - 2)
    acts = {"logistic": jax.nn.sigmoid, "tanh": jnp.tanh, "relu": jax.nn.relu,
            "identity": lambda z: z}
    jax.config.update("jax_enable_x64", True)
    jdtype = jnp.float64 if dtype == np.float64 else jnp.float32
    Xj = jnp.asarray(X, dtype=jdtype)
    Yj = jnp.asarray(Y, dtype=jdtype)
    m = X.shape[0]
    offsets = layer_offsets(sizes)

    def cost(th):
        a = Xj
        reg = 0.0
        for l, (s, e, shape) in enumerate(offsets):
            w = th[s:e].reshape(shape)
            z = a @ w[:, 1:].T + w[:, 0]
            if l < len(hidden):
                a = acts[hidden[l]](z)
            reg = reg + jnp.sum(w[:, 1:] ** 2)
        if output == "softmax":
            values = -Yj * jax.nn.log_softmax(z, axis=1)
        elif output == "identity":
            values = 0.5 * (z - Yj) ** 2
        else:
            values = jnp.maximum(z, 0) - Yj * z + jnp.log1p(jnp.exp(-jnp.abs(z)))
        loss = jnp.sum(values, dtype=jnp.float64)
        return loss / m + lam / (2.0 * m) * reg

    vg = jax.jit(jax.value_and_grad(cost))

    def fun(theta):
        J, g = vg(jnp.asarray(theta, dtype=jdtype))
        g.block_until_ready()
        return float(J), np.asarray(g, dtype=np.float64)

    return fun
