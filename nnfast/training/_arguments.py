"""Checks of :func:`nnfast.train`'s optimiser settings, each error naming its argument."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

#: accepted method names (case-insensitive) -> canonical name
METHODS = {
    "l-bfgs-b": "L-BFGS-B", "lbfgs": "L-BFGS-B", "tnc": "TNC", "cg": "CG",
    "gd": "gd", "sgd": "sgd", "adam": "adam",
}
SCIPY_METHODS = ("L-BFGS-B", "TNC", "CG")
MINIBATCH_METHODS = ("sgd", "adam")
_DEFAULT_LEARNING_RATE = {"gd": 2.0, "sgd": 0.1, "adam": 0.01}


@dataclass(frozen=True)
class OptimizerSettings:
    """The checked settings of one :func:`nnfast.train` call, defaults filled in."""

    method: str
    max_iter: int
    max_fun: Optional[int]
    batch_size: int
    patience: int
    momentum: float
    learning_rate: Optional[float]
    tol: Optional[float]


def check_positive_int(value, name, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer{' or None' if allow_none else ''}, "
                        f"got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return int(value)


def check_validation_pair(validation):
    if validation is not None and (not isinstance(validation, (tuple, list))
                                   or len(validation) != 2):
        raise TypeError(f"validation must be a tuple (X_val, y_val) or None, got "
                        f"{type(validation).__name__}")


def check_method(method):
    if not isinstance(method, str) or method.lower() not in METHODS:
        raise ValueError(f"method must be one of 'L-BFGS-B', 'TNC', 'CG', 'gd', 'sgd', 'adam' "
                         f"(case-insensitive), got {method!r}")
    return METHODS[method.lower()]


def check_optimizer_settings(method, max_iter, max_fun, batch_size, patience, momentum,
                             learning_rate, tol, early_stopping, has_validation, callback):
    """:class:`OptimizerSettings` from :func:`nnfast.train`'s arguments of the same names.

    Raises
    ------
    ValueError, TypeError
        A bad value, naming the argument.
    """
    method = check_method(method)
    max_iter = check_positive_int(max_iter, "max_iter")
    max_fun = check_positive_int(max_fun, "max_fun", allow_none=True)
    batch_size = check_positive_int(batch_size, "batch_size")
    patience = check_positive_int(patience, "patience")
    if momentum is None:
        momentum = 0.0 if method == "gd" else 0.9
    if isinstance(momentum, bool) or not (
            isinstance(momentum, (int, float, np.floating)) and 0 <= momentum < 1):
        raise ValueError(f"momentum must be a number in [0, 1), got {momentum!r}")
    if learning_rate is None:
        learning_rate = _DEFAULT_LEARNING_RATE.get(method)
    elif not (isinstance(learning_rate, (int, float, np.floating)) and learning_rate > 0
              and np.isfinite(learning_rate)):
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
    if early_stopping and not has_validation:
        raise ValueError("early_stopping=True needs a validation set: validation=(X_val, y_val)")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {callback!r}")
    if tol is not None and not (isinstance(tol, (int, float, np.floating)) and tol >= 0):
        raise ValueError(f"tol must be a non-negative number or None, got {tol!r}")
    return OptimizerSettings(method, max_iter, max_fun, batch_size, patience, momentum,
                             learning_rate, tol)
