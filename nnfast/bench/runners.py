"""The runners a benchmark times: every nnfast backend, then the installed peers.

A runner is a builder ``(X, Y, sizes, dtype, threads, lam, net=None) -> fun`` where
``fun(theta)`` returns ``(J, grad)``; an nnfast backend's is an
:class:`~nnfast.Objective`.  ``net`` is ``{"activation": ..., "output": ...}`` (None for
ex4's logistic network).
"""

from __future__ import annotations

from typing import Callable, Dict

from .machine import _installed_version
from .peers import _jax_build, _torch_build


def _nnfast_runner(backend):
    def build(X, Y, sizes, dtype, threads, lam, net=None):
        from ..objective import Objective

        return Objective(X.astype(dtype), Y.astype(dtype), sizes, lam=lam, backend=backend,
                         n_threads=threads, dtype=dtype, **(net or {}))
    return build


def runners(include_peers=True, backends=None) -> Dict[str, Callable]:
    """name -> builder, nnfast backends first, then the installed peers."""
    from ..backends import available_backends

    names = available_backends() if backends is None else list(backends)
    if backends is None:
        names.append("auto")     # what a user gets by default: measured against the rest
    out = {name: _nnfast_runner(name) for name in names}
    if include_peers:
        if _installed_version("torch"):
            out["pytorch"] = _torch_build
        if _installed_version("jax"):
            out["jax"] = _jax_build
    return out
