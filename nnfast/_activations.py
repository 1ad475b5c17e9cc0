"""Hidden activations and output heads, written once as the maths.

A network is ``layer_sizes`` plus one activation per hidden layer and a *head*:
the output layer's activation and the loss it is trained with.  ex4 is the
default everywhere: logistic hidden units, logistic outputs, cross-entropy.

==========  =================================  ==============================
hidden      g(z)                               g'(z) from a = g(z)
==========  =================================  ==============================
logistic    1 / (1 + e^-z)                     a (1 - a)
tanh        tanh z                             1 - a^2
relu        max(z, 0)                          1 where a > 0, else 0
identity    z                                  1
==========  =================================  ==============================

==========  ==============  =========================  ===========================
output      loss            loss of one example        dJ/dz (output error)
==========  ==============  =========================  ===========================
logistic    cross_entropy   sum_k -y log h - (1-y)     h - y
                            log(1 - h)
logistic    squared_error   sum_k (h - y)^2 / 2        (h - y) h (1 - h)
softmax     cross_entropy   -sum_k y_k log h_k         h sum_k y_k - y  (h - y for
                                                       one-hot y)
identity    squared_error   sum_k (z - y)^2 / 2        z - y
==========  ==============  =========================  ===========================

The backends restate these formulas in their own languages (the loop oracle
calls them one example at a time, numpy on whole batches).
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
from scipy.special import expit, log_softmax, softmax

from ._losses import LOSSES, cross_entropy_from_logits, output_error, squared_error

ACTIVATIONS = ("logistic", "tanh", "relu", "identity")
OUTPUTS = ("logistic", "softmax", "identity")
#: the loss each output is trained with when none is named
DEFAULT_LOSS = {"logistic": "cross_entropy", "softmax": "cross_entropy",
                "identity": "squared_error"}
#: every (output, loss) pair the kernels implement
HEADS = (("logistic", "cross_entropy"), ("logistic", "squared_error"),
         ("softmax", "cross_entropy"), ("identity", "squared_error"))
#: the numbers every compiled kernel knows them by (the cython extension's
#: ACTIVATIONS and HEADS tables are checked against these at import)
ACTIVATION_CODES = {"logistic": 0, "tanh": 1, "relu": 2, "identity": 3}
HEAD_CODES = {head: code for code, head in enumerate(HEADS)}
DEFAULT_ACTIVATION = "logistic"
DEFAULT_OUTPUT = "logistic"


def _name(value, allowed, what) -> str:
    # isinstance first: ``array in allowed`` would compare elementwise
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{what} must be one of {list(allowed)}, got {value!r}")
    return value


def check_activations(activation, n_hidden: int) -> Tuple[str, ...]:
    """One activation name per hidden layer.

    Parameters
    ----------
    activation : str or sequence of str
        One name for every hidden layer, or a name per hidden layer.
    n_hidden : int
        Number of hidden layers (``len(layer_sizes) - 2``).

    Returns
    -------
    tuple of str, of length ``n_hidden``
    """
    if activation is None:
        activation = DEFAULT_ACTIVATION
    if isinstance(activation, str):
        return (_name(activation, ACTIVATIONS, "activation"),) * n_hidden
    try:
        names = tuple(activation)
    except TypeError:
        raise ValueError(f"activation must be one of {list(ACTIVATIONS)} or a list of them "
                         f"(one per hidden layer), got {activation!r}") from None
    if len(names) != n_hidden:
        raise ValueError(f"activation lists {len(names)} names but the network has {n_hidden} "
                         f"hidden layer{'s' if n_hidden != 1 else ''}")
    return tuple(_name(a, ACTIVATIONS, "activation") for a in names)


def check_head(output, loss: Optional[str] = None) -> Tuple[str, str]:
    """``(output, loss)`` after checking that the kernels implement the pair.

    ``loss=None`` takes the output's own loss (:data:`DEFAULT_LOSS`).
    """
    output = _name(DEFAULT_OUTPUT if output is None else output, OUTPUTS, "output")
    loss = DEFAULT_LOSS[output] if loss is None else _name(loss, LOSSES, "loss")
    if (output, loss) not in HEADS:
        pairs = ", ".join(f"{o}+{l}" for o, l in HEADS)
        raise ValueError(f"output={output!r} cannot be trained with loss={loss!r}; "
                         f"the pairs are {pairs}")
    return output, loss


def is_ex4_network(activations, output) -> bool:
    """True for logistic hidden units and outputs (ex4's network), which every backend
    implements; a backend needs ``supports_activations`` for any other."""
    return output == "logistic" and all(a == "logistic" for a in (activations or ()))


def describe(activations: Sequence[str], output: str, loss: str) -> str:
    """A short label such as ``"relu-relu / softmax + cross_entropy"``."""
    hidden = "-".join(activations) if activations else "no hidden layer"
    return f"{hidden} / {output} + {loss}"


def activate(name: str, z):
    """g(z) of a hidden layer (a new array)."""
    if name == "logistic":
        return expit(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0)
    return np.array(z, copy=True)


def derivative(name: str, a):
    """g'(z) from the activations ``a = g(z)``."""
    if name == "logistic":
        return a * (1 - a)
    if name == "tanh":
        return (1 - a) * (1 + a)
    if name == "relu":
        return (a > 0).astype(a.dtype)
    return np.ones_like(a)


def output_activation(output: str, z):
    """h from the output logits z (softmax over the last axis)."""
    if output == "softmax":
        return softmax(z, axis=-1)
    if output == "identity":
        return np.array(z, copy=True)
    return expit(z)


def head_losses(output: str, loss: str, z, h, y):
    """The loss of each output of each example (an array of z's shape)."""
    if output == "softmax":
        # log h = log_softmax(z): stable however large the logits
        return -y * log_softmax(z, axis=-1)
    if output == "identity":
        return squared_error(z, y)
    if loss == "cross_entropy":
        return cross_entropy_from_logits(z, y)
    return squared_error(h, y)


def head_loss_sum(output: str, loss: str, z, h, y) -> float:
    """Summed loss over everything given, accumulated in float64."""
    return float(np.sum(head_losses(output, loss, z, h, y), dtype=np.float64))


def head_error(output: str, loss: str, z, h, y):
    """dJ/dz at the output layer."""
    if output == "softmax":
        return h * np.sum(y, axis=-1, keepdims=True) - y
    if output == "identity":
        return z - y
    return output_error(loss, z, h, y)
