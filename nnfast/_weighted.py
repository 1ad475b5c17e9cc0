"""Per-example weights: the weighted regularised cost and its gradient.

With weights ``w_i >= 0`` and ``W = sum_i w_i`` the objective is

    J = sum_i w_i loss_i / W + λ / (2 W) Σ θ²  (non-bias weights)

which is ex4's cost with every example counted ``w_i`` times (and scikit-learn's
``sample_weight`` in ``MLPClassifier``/``MLPRegressor``: they too divide the
penalty by the sum of the weights).  Integer weights give exactly the cost of
the data with each row repeated ``w_i`` times; all weights 1 give ex4's cost.

The backends with ``supports_row_weights`` (numpy and the fused kernels) scale
each row's loss and output error by its weight, and every gradient term that
backpropagation builds from it follows.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validation import as_array, check_theta
from .backends._base import network_kwargs
from .objective import Objective, finish_cost_grad


def check_sample_weight(sample_weight, m: int, name: str = "sample_weight") -> np.ndarray:
    """Weights of shape (m,), float64, finite, >= 0, with a positive sum (a new array).

    A scalar gives every example that weight.
    """
    if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
        sample_weight = np.full(m, float(sample_weight))
    w = as_array(sample_weight, name)
    if w.dtype.kind not in "fiu":
        raise TypeError(f"{name} must hold real numbers, got dtype {w.dtype}")
    if w.shape != (m,):
        raise ValueError(f"{name} must have shape ({m},), one weight per example, "
                         f"got shape {w.shape}")
    w = np.array(w, dtype=np.float64)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"{name} must be finite and >= 0")
    if not w.sum() > 0:
        raise ValueError(f"{name} must have a positive sum (at least one example that counts)")
    return w


class WeightedObjective(Objective):
    """:class:`nnfast.Objective` with a weight per example (see the module's docstring).

    Parameters
    ----------
    X, y, layer_sizes
        As for :class:`nnfast.Objective`.
    sample_weight : array-like of shape (m,) or float
        Checked by :func:`check_sample_weight`; never modified.
    **kwargs
        ``lam``, ``loss``, ``n_threads``, ``dtype``, ``activation``, ``output`` as for
        :class:`nnfast.Objective`; ``backend`` "auto" (the measured fastest of those
        that weight examples) or one with ``supports_row_weights`` ("cython",
        "numba", "numpy"; another is refused with a ValueError).

    Attributes
    ----------
    sample_weight : ndarray of shape (m,), float64
    weight_sum : float
        ``W``, which takes the place of ex4's ``m``.
    """

    _weighted = True

    def __init__(self, X, y, layer_sizes, sample_weight, backend="auto", **kwargs):
        super().__init__(X, y, layer_sizes, backend=backend, **kwargs)
        self.sample_weight = check_sample_weight(sample_weight, self.m)
        self.weight_sum = float(self.sample_weight.sum())

    def _evaluate(self, theta, need_grad):
        theta = check_theta(theta, self.n_params, self.dtype, self.layer_sizes)
        grad_sum = np.empty(self.n_params, dtype=self.dtype) if need_grad else None
        loss_sum = self.backend.loss_grad_sum(theta, self.layer_sizes, self.offsets, self._data,
                                              self.loss, self.n_threads, grad_sum,
                                              row_weights=self.sample_weight,
                                              **network_kwargs(self.backend, **self._net))
        self.n_evals += 1
        return finish_cost_grad(loss_sum, grad_sum, theta, self.weight_sum, self.lam, self._mask)
