"""What every backend implements.

A backend computes the *unregularised sums over examples*: the summed loss and
the summed gradient of every weight.  :class:`nnfast.Objective` divides by
``m`` and adds the L2 term, so backends stay small, and the sums combine
across shards for data-parallel training (``nnfast.distributed``).

Backends trust their callers: :mod:`nnfast._validation` (through
:class:`nnfast.Objective`, the one-shot functions and ``predict``) is the one
place that checks user input, and every method below says what its caller
guarantees.  A backend asserts at most what it cannot take for granted;
compiled code still checks the sizes it indexes with, so a broken contract
raises rather than reading memory it does not own.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
from typing import Any, Optional, Tuple

import numpy as np

from .._activations import is_ex4_network


class Backend:
    """Base class of the cost/gradient kernels.

    ``uses_blas`` tells callers whether the kernel calls BLAS itself (so that
    optimisers around it know whether BLAS threads are worth keeping).

    Subclasses set ``name`` and implement :meth:`loss_grad_sum`; they may
    override :meth:`prepare` to lay out ``X`` once per objective (packed
    panels, a transposed copy...) and :meth:`forward`.
    """

    name = "base"
    #: one line shown by ``show_config()``
    description = ""
    #: the kernel's own matrix products go through BLAS
    uses_blas = True
    #: a NaN or inf anywhere in X always makes the summed gradient non-finite (every
    #: value of X is multiplied, in IEEE arithmetic, into a first-layer gradient sum), so
    #: a one-shot cost_grad may check the 10^4 gradient values instead of the 10^6 of X
    nonfinite_X_reaches_gradient = False
    #: ``prepare_once(X, Y, x_checked=False)`` and ``forward(..., x_checked=False)`` find a
    #: NaN or inf in X themselves and raise as ``check_X`` would (no pass over X first)
    finds_nonfinite_X = False
    #: ``prepare_once`` keeps the targets units-major, (n_out, m): a one-shot objective
    #: then builds them so (``check_targets(..., units_major=True)``), not as (m, n_out)
    #: rows that the backend would transpose at every call
    targets_units_major = False
    #: ``prepare`` and ``prepare_once`` take ``layer_sizes=`` (the network's sizes) and
    #: lay the data out for that network (the cython backend sizes its row blocks by it)
    layout_by_network = False

    def prepare(self, X: np.ndarray, Y: np.ndarray) -> Any:
        """Lay out validated data once per objective.

        The caller guarantees the types, shapes and values below
        (``check_X`` and ``check_targets`` of :mod:`nnfast._validation`).

        Parameters
        ----------
        X : ndarray of shape (m, n_in), m >= 1, float32 or float64, C-contiguous, finite
        Y : ndarray of shape (m, n_out), same dtype as X, C-contiguous, finite
            Targets (one-hot for classification).

        Returns
        -------
        data : object passed back to :meth:`loss_grad_sum` unchanged.
        """
        return (X, Y)

    def prepare_once(self, X: np.ndarray, Y: np.ndarray, x_checked: bool = True) -> Any:
        """Like :meth:`prepare`, for data used in one or a few calls only.

        A backend whose :meth:`prepare` builds a layout that pays for itself
        only over many calls (a second copy of X) overrides this to skip it.
        ``x_checked=False`` is given only to backends with ``finds_nonfinite_X``.
        """
        return self.prepare(X, Y)

    #: the kernels implement every hidden activation and head of nnfast._activations
    #: (a backend registered from outside that leaves this False gets ex4's only)
    supports_activations = False
    #: ``loss_grad_sum`` takes ``row_weights=`` (shape (m,), float64): a weight per
    #: example on its loss and gradient (``nnfast._weighted``)
    supports_row_weights = False

    def loss_grad_sum(self, theta: np.ndarray, layer_sizes, offsets, data: Any,
                      loss: str, n_threads: int, grad_out: Optional[np.ndarray],
                      activations: Optional[Tuple[str, ...]] = None,
                      output: str = "logistic") -> float:
        """Summed loss over examples and, if asked, the summed gradient.

        The caller guarantees every parameter as described (``check_theta``,
        ``check_layer_sizes``, ``check_loss`` and ``check_n_threads`` of the
        validation layer), and that the network fits the data: ``layer_sizes[0]``
        is X's width and ``layer_sizes[-1]`` Y's.

        Parameters
        ----------
        theta : ndarray of shape (n_params,), dtype of X, C-contiguous, finite
            ``n_params = nnfast.n_params(layer_sizes)``; never written to.
        layer_sizes : tuple of int, each >= 1
        offsets : tuple of (start, end, shape), ``nnfast._network.layer_offsets(layer_sizes)``
        data : what :meth:`prepare` or :meth:`prepare_once` of this backend returned
        loss : "cross_entropy" or "squared_error"
            With ``output``, one of ``nnfast._activations.HEADS``.
        n_threads : int >= 1
        grad_out : ndarray of shape (n_params,), dtype of X, C-contiguous, writeable, or None  # OUT
            Overwritten with ``sum_i dloss_i/dtheta`` (no 1/m, no L2 term).
            ``None`` asks for the loss only.
        activations : tuple of str, one per hidden layer, or None  # (all "logistic")
            Names from ``nnfast._activations.ACTIVATIONS``.
        output : str
            The output activation, ``nnfast._activations.OUTPUTS``.

        Returns
        -------
        loss_sum : float
            ``sum_i loss_i``, accumulated in float64.
        """
        raise NotImplementedError

    def forward(self, theta: np.ndarray, offsets, X: np.ndarray, n_threads: int,
                activations: Optional[Tuple[str, ...]] = None,
                output: str = "logistic") -> np.ndarray:
        """Output activations ``h`` of shape (m, n_out), dtype of X.

        The caller guarantees ``theta`` as for :meth:`loss_grad_sum`, ``offsets``
        from ``layer_offsets`` of the network, X of shape (m, n_in) with
        m >= 1, finite, in theta's dtype (``check_X``, ``check_theta``), and
        ``activations``/``output`` as for :meth:`loss_grad_sum`.
        """
        from ._numpy import layer_outputs

        weights = [theta[start:end].reshape(shape) for start, end, shape in offsets]
        for _, a in layer_outputs(weights, X, activations, output):
            pass
        return a


@functools.lru_cache(maxsize=None)
def _takes_network(cls) -> bool:
    params = inspect.signature(cls.loss_grad_sum).parameters
    return "activations" in params and "output" in params


def supports_network(backend: Backend) -> bool:
    """``backend`` implements every activation and head: it says so
    (``supports_activations``), and its ``loss_grad_sum`` takes them (a subclass
    written for ex4 may override it without)."""
    return bool(backend.supports_activations) and _takes_network(type(backend))


def implementing(backend: Optional[Backend], activations, output) -> Optional[Backend]:
    """``backend`` if it implements this network (ex4's, or any with
    :func:`supports_network`), else None (also for None)."""
    if backend is None or is_ex4_network(activations, output) or supports_network(backend):
        return backend
    return None


def layout_kwargs(backend: Backend, layer_sizes) -> dict:
    """``{"layer_sizes": ...}`` for ``prepare``/``prepare_once`` of a backend that lays
    the data out per network (``layout_by_network``), else ``{}``."""
    if getattr(backend, "layout_by_network", False):
        return {"layer_sizes": tuple(int(n) for n in layer_sizes)}
    return {}


def network_kwargs(backend: Backend, activations, output) -> dict:
    """The ``activations=``/``output=`` keywords for a call of ``backend``.

    Empty for a backend without :func:`supports_network` (one registered from
    outside, written for ex4's network, whose methods may not take them): such
    a backend is only ever given ex4's network (``get_backend`` sees to it).
    """
    if supports_network(backend):
        return dict(activations=activations, output=output)
    return {}


class BackendUnavailable(ImportError):
    """A backend that exists but cannot run here; the message says why."""


_controller = None
_controller_lock = threading.Lock()


def _threadpool_controller():
    """One ``threadpoolctl.ThreadpoolController`` for the process, built on first use.

    Reusing it makes entering a limit cost microseconds, not the milliseconds
    of a fresh ``threadpool_limits`` scan of the loaded libraries.
    """
    global _controller
    if _controller is None:
        with _controller_lock:
            if _controller is None:
                from threadpoolctl import ThreadpoolController

                _controller = ThreadpoolController()
    return _controller


def blas_threads(n_threads: Optional[int]):
    """Context manager limiting BLAS to ``n_threads`` (``None``: leave it alone)."""
    if n_threads is None:
        return contextlib.nullcontext()
    return _threadpool_controller().limit(limits=int(n_threads), user_api="blas")


def optimizer_blas_limit(backend: "Backend"):
    """Context manager for an optimiser loop around ``backend``'s objective.

    scipy's optimisers make BLAS calls of their own on vectors of ``n_params``
    (far too small to gain from threads).  Their OpenBLAS workers then spin
    for a while after each call and take a core from the next evaluation:
    training the ex4 network with L-BFGS-B ran at 14.8 ms per evaluation with
    the cython backend and 42 ms with numpy, against 3.6 and 11.6 ms with the
    optimiser's BLAS on one thread.  A backend that calls no BLAS loses
    nothing by limiting every BLAS library to one thread; for one that does
    (numpy), only the BLAS that scipy loads for itself (wheels ship it in
    ``scipy.libs``) is limited; where scipy shares numpy's BLAS, nothing is.
    """
    if not backend.uses_blas:
        return blas_threads(1)
    controller = _threadpool_controller()
    scipy_own = [lib.filepath for lib in controller.lib_controllers
                 if lib.user_api == "blas" and "scipy.libs" in str(lib.filepath)]
    if not scipy_own:
        return contextlib.nullcontext()
    return controller.select(filepath=scipy_own).limit(limits=1)
