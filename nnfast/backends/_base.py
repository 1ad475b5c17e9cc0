"""What every backend implements.

A backend computes the *unregularised sums over examples*: the summed loss and
the summed gradient of every weight.  :class:`nnfast.Objective` divides by
``m`` and adds the L2 term, so backends stay small, and the sums combine
across shards for data-parallel training (``nnfast.distributed``).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Optional

import numpy as np

from .._losses import sigmoid


class Backend:
    """Base class of the cost/gradient kernels.

    Subclasses set ``name`` and implement :meth:`loss_grad_sum`; they may
    override :meth:`prepare` to lay out ``X`` once per objective (packed
    panels, a transposed copy...) and :meth:`forward`.
    """

    name = "base"
    #: one line shown by ``show_config()``
    description = ""

    def prepare(self, X: np.ndarray, Y: np.ndarray) -> Any:
        """Lay out validated data once per objective.

        Parameters
        ----------
        X : ndarray of shape (m, n_in), float32 or float64, C-contiguous, finite
        Y : ndarray of shape (m, n_out), same dtype as X, C-contiguous, finite
            Targets (one-hot for classification).

        Returns
        -------
        data : object passed back to :meth:`loss_grad_sum` unchanged.
        """
        return (X, Y)

    def loss_grad_sum(self, theta: np.ndarray, layer_sizes, offsets, data: Any,
                      loss: str, n_threads: int, grad_out: Optional[np.ndarray]) -> float:
        """Summed loss over examples and, if asked, the summed gradient.

        Parameters
        ----------
        theta : ndarray of shape (n_params,), dtype of X, C-contiguous, finite
        layer_sizes : tuple of int
        offsets : tuple of (start, end, shape), from ``nnfast._network.layer_offsets``
        data : what :meth:`prepare` returned
        loss : "cross_entropy" or "squared_error"
        n_threads : int >= 1
        grad_out : ndarray of shape (n_params,), dtype of X, or None  # OUT
            Overwritten with ``sum_i dloss_i/dtheta`` (no 1/m, no L2 term).
            ``None`` asks for the loss only.

        Returns
        -------
        loss_sum : float
            ``sum_i loss_i``, accumulated in float64.
        """
        raise NotImplementedError

    def forward(self, theta: np.ndarray, offsets, X: np.ndarray, n_threads: int) -> np.ndarray:
        """Output activations ``h`` of shape (m, n_out), dtype of X."""
        a = X
        for start, end, shape in offsets:
            w = theta[start:end].reshape(shape)
            a = sigmoid(a @ w[:, 1:].T + w[:, 0])
        return a


class BackendUnavailable(ImportError):
    """A backend that exists but cannot run here; the message says why."""


_controller = None
_controller_lock = threading.Lock()


def blas_threads(n_threads: Optional[int]):
    """Context manager limiting BLAS to ``n_threads`` (``None``: leave it alone).

    One ``threadpoolctl.ThreadpoolController`` is built on first use and
    reused: entering the limit then costs microseconds, not the
    milliseconds of a fresh ``threadpool_limits`` scan.
    """
    global _controller
    if n_threads is None:
        return contextlib.nullcontext()
    if _controller is None:
        with _controller_lock:
            if _controller is None:
                from threadpoolctl import ThreadpoolController

                _controller = ThreadpoolController()
    return _controller.limit(limits=int(n_threads), user_api="blas")
