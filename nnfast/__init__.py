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
