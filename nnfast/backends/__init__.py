"""Backend registry.

Backends are named; each is imported lazily the first time it is asked for,
so ``import nnfast`` never pays for numba or a compiled extension.  A backend
whose import fails is reported as unavailable with the reason.

>>> from nnfast.backends import available_backends, get_backend
>>> "numpy" in available_backends()
True
"""

from __future__ import annotations

import importlib
import threading
from typing import Dict, List, Optional, Tuple

from ._base import (Backend, BackendUnavailable, implementing, optimizer_blas_limit,
                    supports_network)

__all__ = [
    "Backend", "BackendUnavailable", "register_backend", "unregister_backend", "get_backend",
    "available_backends", "backend_status", "resolve_backend", "optimizer_blas_limit",
    "backend_for_data",
]

# name -> "module:Class"; the built-in backends, fastest first for "auto".
_REGISTRY: Dict[str, str] = {
    "cython": "nnfast.backends._cython:CythonBackend",
    "numba": "nnfast.backends._numba:NumbaBackend",
    "numpy": "nnfast.backends._numpy:NumpyBackend",
    "loop": "nnfast.backends._loop:LoopBackend",
}
# backends "auto" may choose, in order of preference
_AUTO_ORDER: List[str] = ["cython", "numba", "numpy"]
_BUILTIN = frozenset(_REGISTRY)

_instances: Dict[str, Backend] = {}
_failures: Dict[str, str] = {}
_lock = threading.Lock()


def register_backend(name: str, target, auto: bool = False) -> None:
    """Register a backend under ``name``.

    Parameters
    ----------
    name : str
    target : str or Backend subclass
        ``"package.module:ClassName"`` (imported lazily) or the class itself.
    auto : bool, default False
        Let ``backend="auto"`` choose it (ahead of the built-in ones).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"backend name must be a non-empty string, got {name!r}")
    with _lock:
        _REGISTRY[name] = target
        _instances.pop(name, None)
        _failures.pop(name, None)
        if auto and name not in _AUTO_ORDER:
            _AUTO_ORDER.insert(0, name)


def unregister_backend(name: str) -> None:
    """Remove a backend registered with :func:`register_backend` (built-in ones stay)."""
    if name in _BUILTIN:
        raise ValueError(f"{name!r} is a built-in backend and cannot be unregistered")
    with _lock:
        if name not in _REGISTRY:
            raise ValueError(f"no backend called {name!r} is registered")
        del _REGISTRY[name]
        _instances.pop(name, None)
        _failures.pop(name, None)
        if name in _AUTO_ORDER:
            _AUTO_ORDER.remove(name)


def _load(name: str) -> Optional[Backend]:
    with _lock:
        if name in _instances:
            return _instances[name]
        if name in _failures:
            return None
        target = _REGISTRY[name]
        try:
            if isinstance(target, str):
                module_name, _, class_name = target.partition(":")
                cls = getattr(importlib.import_module(module_name), class_name)
            else:
                cls = target
            instance = cls()
        except Exception as exc:  # ImportError, BackendUnavailable, a broken build...
            _failures[name] = f"{type(exc).__name__}: {exc}"
            return None
        _instances[name] = instance
        return instance


def backend_status() -> Dict[str, Tuple[bool, str]]:
    """``{name: (available, description or reason it is not)}`` for every registered backend."""
    status = {}
    for name in list(_REGISTRY):
        backend = _load(name)
        status[name] = (True, backend.description) if backend else (False, _failures[name])
    return status


def available_backends() -> List[str]:
    """Names of the backends that import and run on this machine."""
    return [name for name in list(_REGISTRY) if _load(name) is not None]


def get_backend(name: str = "auto", activations=None, output: str = "logistic") -> Backend:
    """The backend instance called ``name``; ``"auto"`` picks the fastest available.

    ``activations`` and ``output`` describe the network: a network other than
    ex4's needs a backend with ``supports_activations`` (``"auto"`` skips the
    others; a named one without it is refused).

    Raises
    ------
    ValueError
        ``name`` is not a registered backend (the message lists them).
    BackendUnavailable
        The backend is registered but cannot run here (the message says why).
    """
    if isinstance(name, Backend):
        backend = name
        if implementing(backend, activations, output) is None:
            raise ValueError(_unsupported(backend.name, activations, output))
        return backend
    if not isinstance(name, str):
        valid = ", ".join(repr(n) for n in ["auto", *_REGISTRY])
        raise TypeError(f"backend must be a name, one of {valid}; got {type(name).__name__}")
    if name == "auto":
        for candidate in _AUTO_ORDER:
            if candidate in _REGISTRY and implementing(_load(candidate), activations, output):
                return _instances[candidate]
        raise BackendUnavailable("no backend is available")  # numpy always is
    if name not in _REGISTRY:
        valid = ", ".join(repr(n) for n in ["auto", *_REGISTRY])
        raise ValueError(f"backend must be one of {valid}; got {name!r}")
    backend = _load(name)
    if backend is None:
        raise BackendUnavailable(f"backend {name!r} is not available here: {_failures[name]}")
    if implementing(backend, activations, output) is None:
        raise ValueError(_unsupported(name, activations, output))
    return backend


def _unsupported(name, activations, output) -> str:
    able = [n for n in _REGISTRY if (b := _load(n)) is not None and supports_network(b)]
    return (f"backend {name!r} implements only logistic hidden units and outputs (ex4's "
            f"network), not activation={list(activations or ())} with output={output!r}; "
            f"backends that do: {', '.join(repr(n) for n in able)}")


def backend_for_data(name, X, Y, layer_sizes, offsets, loss, n_threads, activations=None,
                     output="logistic", row_weights=False) -> Backend:
    """The backend an objective on ``(X, Y)`` uses: ``name``'s, or for ``"auto"`` the
    fastest one for this network and data, measured (see ``nnfast.backends._auto``).

    ``row_weights``: the objective weights its examples, so only backends with
    ``supports_row_weights`` qualify (a named one without it is refused).
    """
    if not (isinstance(name, str) and name == "auto"):
        backend = get_backend(name, activations, output)
        if row_weights and not backend.supports_row_weights:
            able = [n for n in _REGISTRY
                    if (b := _load(n)) is not None and b.supports_row_weights]
            raise ValueError(f"backend {backend.name!r} does not weight examples; with sample "
                             f"weights use 'auto' or one of {', '.join(map(repr, able))}")
        return backend
    from ._auto import choose_backend

    order = [n for n in _AUTO_ORDER if n in _REGISTRY
             and (not row_weights or ((b := _load(n)) is not None and b.supports_row_weights))]
    return choose_backend(X, Y, layer_sizes, offsets, loss, n_threads, order=order, load=_load,
                          activations=activations, output=output)


def resolve_backend(name="auto") -> Backend:
    """Alias of :func:`get_backend`, kept for readability at call sites."""
    return get_backend(name)
