"""Gradient checking that scales to whole networks.

:func:`gradient_check` compares a backend's analytic gradient with central
differences ``(J(θ + ε e_p) - J(θ - ε e_p)) / 2ε`` for every parameter ``p``
(or a random sample of them), and reports the relative difference
``||num - ana|| / ||num + ana||`` overall and per weight layer, with the worst
parameters.

Where things live:

* ``check.py``: :func:`gradient_check`, :func:`relative_difference` and the thresholds;
* ``result.py``: :class:`GradientCheckResult` and :class:`LayerCheck`;
* ``numerical.py``: :func:`numerical_gradient`, the incremental central
  differences (how they stay cheap and accurate is told there);
* ``numba_engine.py``: the layer before the output by the compiled kernel of
  ``nnfast/_kernels/numba_gradcheck.py``;
* ``forward.py``: the float64 forward pass the perturbations start from;
* ``brute_force.py``: :func:`brute_force_gradient`, the textbook reference;
* ``sampling.py``: which parameters are checked;
* ``inputs.py``: the argument checks the entry points share;
* ``debug.py``: ex4's debug network (:func:`debug_problem`, :func:`debug_weights`).
"""

from .brute_force import brute_force_gradient
from .check import DEFAULT_THRESHOLD, DEFAULT_THRESHOLD_FLOAT32, gradient_check, relative_difference
from .debug import debug_problem, debug_weights
from .numerical import numerical_gradient
from .result import GradientCheckResult, LayerCheck

__all__ = [
    "gradient_check", "GradientCheckResult", "LayerCheck", "numerical_gradient",
    "brute_force_gradient", "debug_problem", "debug_weights", "relative_difference",
    "DEFAULT_THRESHOLD",
]
