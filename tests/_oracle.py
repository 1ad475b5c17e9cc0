"""The loop oracle and the one assertion that a result agrees with it.

The ``loop`` backend is ex4 written out example by example; every other backend
is checked against it, in float64, on the same (for float32, float32-representable)
data.  The tolerances, per working dtype:

* float64: cost and gradient to rtol 1e-10 (the sums run in another order, so
  not bitwise); gradient entries near zero get an absolute slack of 1e-13 of
  the largest entry.
* float32: every product is rounded to 24 bits (the cost is summed in float64):
  the cost to rtol 1e-5 and every gradient entry to 1e-4 of the largest one
  (float32 sums of a few hundred terms).

Tests whose tolerances were set for their own problem (tighter ones, or an
absolute slack) pass their own :class:`Tolerance`.
"""

from dataclasses import dataclass

import numpy as np

import nnfast


@dataclass(frozen=True)
class Tolerance:
    """How far a (cost, gradient) pair may be from the oracle's.

    The gradient may differ by ``grad_atol + grad_atol_of_max * max|oracle gradient|
    + grad_rtol * |oracle entry|`` in each entry.
    """

    cost_rtol: float
    grad_rtol: float
    grad_atol: float = 0.0
    grad_atol_of_max: float = 0.0


ORACLE_TOLERANCE = {
    np.dtype(np.float64): Tolerance(cost_rtol=1e-10, grad_rtol=1e-10, grad_atol_of_max=1e-13),
    np.dtype(np.float32): Tolerance(cost_rtol=1e-5, grad_rtol=0.0, grad_atol_of_max=1e-4),
}

#: the cython kernel's float32 results: observed differences on the ex4 shape and on
#: deeper networks are at most ~3e-9 relative on the cost and ~1.5e-7 of the largest
#: gradient entry
CYTHON_FLOAT32_TOLERANCE = Tolerance(cost_rtol=1e-6, grad_rtol=0.0, grad_atol_of_max=1e-5)


def loop_oracle(X, y, layer_sizes, theta, *, lam=0.0, loss=None, activation="logistic",
                output="logistic"):
    """``(cost, gradient)`` of the ``loop`` backend in float64 on ``X`` and ``theta``
    converted to float64 (exact for float32 inputs)."""
    X64 = np.asarray(X, dtype=np.float64)
    theta64 = np.asarray(theta, dtype=np.float64)
    if np.asarray(y).dtype.kind == "f":
        y = np.asarray(y, dtype=np.float64)
    return nnfast.Objective(X64, y, layer_sizes, lam=lam, loss=loss, backend="loop",
                            activation=activation, output=output)(theta64)


def tolerance_for(dtype):
    """The oracle tolerance for results computed in working ``dtype``."""
    return ORACLE_TOLERANCE[np.dtype(dtype)]


def assert_cost_matches_oracle(cost, oracle_cost, dtype=np.float64, tolerance=None):
    """``cost`` is within the tolerance for ``dtype`` (or ``tolerance``) of the oracle's."""
    tolerance = tolerance or tolerance_for(dtype)
    np.testing.assert_allclose(cost, oracle_cost, rtol=tolerance.cost_rtol)


def assert_matches_oracle(result, oracle, dtype=np.float64, tolerance=None):
    """``result = (cost, gradient)`` agrees with ``oracle = (cost, gradient)``.

    Parameters
    ----------
    result, oracle : tuple of (float, ndarray)
        What the backend under test returned, and what the oracle (usually
        :func:`loop_oracle`) returned for the same problem.
    dtype : dtype, default float64
        The working dtype of ``result``; it chooses the tolerance.
    tolerance : Tolerance, optional
        Used instead of the one for ``dtype``.
    """
    tolerance = tolerance or tolerance_for(dtype)
    cost, grad = result
    oracle_cost, oracle_grad = oracle
    assert_cost_matches_oracle(cost, oracle_cost, tolerance=tolerance)
    grad, oracle_grad = np.asarray(grad), np.asarray(oracle_grad)
    largest = np.abs(oracle_grad).max() if oracle_grad.size else 0.0
    atol = tolerance.grad_atol + tolerance.grad_atol_of_max * largest
    np.testing.assert_allclose(grad, oracle_grad, rtol=tolerance.grad_rtol, atol=atol)
