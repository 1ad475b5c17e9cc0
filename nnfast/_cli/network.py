"""The network options ``nnfast train`` and ``nnfast gradcheck`` share: ``--activation``, ``--output``.

``--activation`` takes one name for every hidden layer or a comma list, one
per hidden layer.  ``--output`` names the output layer.  In ``nnfast train``
``--output`` has long been the folder written to; there a value that is an
output layer's name (logistic, softmax, identity) chooses the layer and any
other value is still the folder (which ``-o``/``--out-dir`` always sets).
``--output-layer`` (as in ``nnfast bench``) always names the layer.
"""

from __future__ import annotations

import argparse

from .._activations import ACTIVATIONS, DEFAULT_ACTIVATION, DEFAULT_OUTPUT, OUTPUTS
from ..cli import UserError

ACTIVATION_HELP = (f"hidden units: one of {', '.join(ACTIVATIONS)} for every hidden layer, or "
                   "a comma list with one per hidden layer (e.g. relu,tanh); default logistic "
                   "(ex4)")
OUTPUT_HELP = ("output layer: logistic (a sigmoid per class, ex4, default), softmax (one class "
               "per example) or identity (regression on real-valued targets)")


def parse_activation(text):
    """``--activation``: a list of names, one or one per hidden layer."""
    names = [part.strip() for part in str(text).split(",")]
    unknown = [name for name in names if name not in ACTIVATIONS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown activation {unknown[0]!r}; expected one of "
                                         f"{', '.join(ACTIVATIONS)} or a comma list of them")
    return names


class OutputOrFolder(argparse.Action):
    """``--output NAME``: the output layer when NAME is one of its names, else the folder."""

    def __call__(self, parser, namespace, value, option_string=None):
        if value in OUTPUTS:
            namespace.output_layer = value
        else:
            namespace.output = value


def add_network_arguments(parser, output_is_also_folder=False):
    """``--activation`` and the output layer's option (``args.activation``, ``args.output_layer``).

    With ``output_is_also_folder`` ``--output`` is :class:`OutputOrFolder` (its folder
    goes to ``args.output``, whose default and ``-o`` the caller defines).
    """
    parser.add_argument("--activation", type=parse_activation, default=[DEFAULT_ACTIVATION],
                        metavar="NAME[,NAME...]", help=ACTIVATION_HELP)
    if output_is_also_folder:
        parser.set_defaults(output_layer=DEFAULT_OUTPUT)
        parser.add_argument("--output", action=OutputOrFolder, metavar="LAYER|DIR",
                            default=argparse.SUPPRESS,
                            help=OUTPUT_HELP + "; any other value is the folder to write to "
                                 "(as --out-dir)")
        parser.add_argument("--output-layer", dest="output_layer", choices=OUTPUTS,
                            default=argparse.SUPPRESS, help="the output layer (as --output LAYER)")
    else:
        parser.add_argument("--output", "--output-layer", dest="output_layer", choices=OUTPUTS,
                            default=DEFAULT_OUTPUT, help=OUTPUT_HELP)


def network_of(args, n_hidden, option="--activation"):
    """``(activation, output)`` for nnfast's functions, after checking ``--activation``
    against the network's ``n_hidden`` hidden layers (UserError otherwise)."""
    names = args.activation
    if len(names) == 1:
        return names[0], args.output_layer
    if len(names) != n_hidden:
        raise UserError(f"{option} {','.join(names)} lists {len(names)} activations but the "
                        f"network has {n_hidden} hidden layer{'s' if n_hidden != 1 else ''}: "
                        "give one name, or one per hidden layer")
    return names, args.output_layer
