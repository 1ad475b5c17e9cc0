"""nnfast: fast cost and gradient for fully connected sigmoid networks.

The ex4 network (400 -> 25 -> 10 sigmoid units, regularised cross-entropy)
and any other depth, with interchangeable backends that give the same answer.

>>> import nnfast
>>> nnfast.available_backends()        # doctest: +SKIP
['cython', 'numba', 'numpy', 'loop']
"""

__version__ = "0.1.0"

from ._config import config_info, show_config
from ._losses import LOSSES, sigmoid, sigmoid_gradient
from ._network import init_theta, layer_offsets, layer_sizes_of, n_params, pack, unpack
from .api import cost, cost_grad, forward, predict, predict_proba
from .backends import BackendUnavailable, available_backends, get_backend, register_backend
from .objective import Objective

__all__ = [
    "__version__", "Objective", "cost_grad", "cost", "forward", "predict_proba", "predict",
    "init_theta", "pack", "unpack", "layer_offsets", "layer_sizes_of", "n_params",
    "sigmoid", "sigmoid_gradient", "LOSSES", "available_backends", "get_backend",
    "register_backend", "BackendUnavailable", "show_config", "config_info",
]

# Heavier parts (scipy.optimize, matplotlib, scikit-learn, dask) load on first use,
# so that `import nnfast` stays fast.
_LAZY = {
    "train": "nnfast.training",
    "TrainResult": "nnfast.training",
    "validation_curve": "nnfast.training",
    "NNClassifier": "nnfast.estimator",
    "NNRegressor": "nnfast.estimator",
    "save_model": "nnfast.persistence",
    "load_model": "nnfast.persistence",
    "gradient_check": "nnfast.gradcheck",
    "datasets": "nnfast.datasets",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        value = module if module.__name__ == f"nnfast.{name}" else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'nnfast' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
