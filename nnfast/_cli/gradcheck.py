"""``nnfast gradcheck``: analytic gradient against central differences.

Exit status: 0 when every check passes, 1 when one fails, 2 for a usage error.

Examples::

    nnfast gradcheck                               # ex4's checkNNGradients network
    nnfast gradcheck --layers 3,5,4,3 --lam 3 --all-backends
    nnfast gradcheck --data mnist20 --weights ex4  # 5000 x 400 real digits, all 10285 weights
    nnfast gradcheck --data mnist --layers 784,100,10 --sample 2000
    nnfast gradcheck --activation relu,tanh --layers 3,5,4,3 --output softmax --all-backends
"""

from __future__ import annotations

import argparse
import math

from ..cli import UserError, non_negative_float, positive_float, positive_int
from .network import add_network_arguments, network_of
from .train import seed

DATA_CHOICES = ("debug", "mnist20", "mnist", "digits", "ex4")


def _layers(text):
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be integers separated by commas, like 400,25,10; got {text!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"expected at least two positive sizes, like 400,25,10; got {text!r}")
    return sizes


def _sample(text):
    """A count of parameters (500) or a fraction of them (0.1)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(
            f"expected a count (500) or a fraction (0.1), got {text!r}")
    if "." not in text and "e" not in text.lower() and value >= 1:
        return int(value)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(
            f"expected a count >= 1 (500) or a fraction in (0, 1] (0.1), got {text!r}")
    return value


def configure(parser):
    parser.add_argument("--data", default="debug", choices=DATA_CHOICES,
                        help="debug: ex4's checkNNGradients network (3-5-3, m=5, default); "
                             "mnist20: 5000 MNIST t10k digits cropped to 20x20 (the ex4 shape); "
                             "mnist: MNIST t10k 784 pixels; digits: scikit-learn 8x8; "
                             "ex4: ex4data1.mat where it exists")
    parser.add_argument("--m", type=positive_int, default=None,
                        help="use only the first M examples (with --data other than debug)")
    parser.add_argument("--layers", type=_layers, default=None,
                        help="layer sizes, e.g. 400,25,10 (default: 3,5,3 for debug, "
                             "n_in,25,10 with data)")
    parser.add_argument("--weights", choices=("random", "ex4"), default="random",
                        help="weights to check at with data: random (default) or ex4weights.mat "
                             "(layers 400,25,10)")
    parser.add_argument("--lam", type=non_negative_float, default=0.0,
                        help="L2 strength lambda (default 0)")
    parser.add_argument("--loss", default=None, choices=("cross_entropy", "squared_error"),
                        help="loss on the output units (default: the output layer's own: "
                             "cross_entropy, squared_error for identity)")
    add_network_arguments(parser)
    parser.add_argument("--backend", default="auto", help="backend whose gradient is checked")
    parser.add_argument("--all-backends", action="store_true", help="check every available backend")
    parser.add_argument("--sample", type=_sample, default=None,
                        help="check a random sample of parameters: a count (500) or a fraction (0.1)")
    parser.add_argument("--epsilon", type=positive_float, default=1e-4,
                        help="finite-difference step (default 1e-4)")
    parser.add_argument("--threshold", type=positive_float, default=None,
                        help="largest relative difference that passes (default 1e-7; 1e-3 for float32)")
    parser.add_argument("--dtype", choices=("float64", "float32"), default=None,
                        help="working dtype of the backend (the numerical side is float64)")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="threads (default: all cores)")
    parser.add_argument("--seed", type=seed, default=0,
                        help="seed for the sample and random weights (default 0)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")


def _load(args):
    """``(theta or None, X or None, y or None, layer_sizes or None, description)``."""
    import numpy as np

    from .. import datasets

    if args.data == "debug":
        # the debug problem makes its own m = 5 examples and weights: say so rather
        # than ignore an option that cannot apply
        if args.weights == "ex4":
            raise UserError("--weights ex4 needs data of 400 features, e.g. --data mnist20; "
                            "--data debug makes its own weights")
        if args.m is not None:
            raise UserError("--m applies to --data mnist20, mnist, digits or ex4; --data debug "
                            "always has m = 5 examples")
        return None, None, None, args.layers, ""
    if args.data == "mnist20":
        from ..bench import ex4_shaped_mnist

        X, y = ex4_shaped_mnist(5000)
        name = "MNIST t10k, first 5000 digits cropped to 20x20 (ex4 shape)"
    else:
        X, y, name = datasets.load(args.data)
    if args.m is not None:
        if args.m > X.shape[0]:
            raise UserError(f"--m {args.m}: the data ({name}) has only {X.shape[0]} examples")
        X, y = X[: args.m], y[: args.m]
    n_out = int(np.max(y)) + 1
    sizes = args.layers or [X.shape[1], 25, max(n_out, 10)]
    theta = None
    if args.weights == "ex4":
        t1, t2 = datasets.load_ex4_weights()
        if list(sizes) != [400, 25, 10]:
            raise UserError(f"--weights ex4 is a 400,25,10 network; --layers gives {sizes}")
        from .._network import pack

        theta = pack([t1, t2])
    return theta, X, y, sizes, f"{name}, m = {X.shape[0]}"


def run(args):
    import json

    import numpy as np

    from ..backends import available_backends
    from ..gradcheck import gradient_check

    theta, X, y, sizes, name = _load(args)
    n_hidden = len(sizes) - 2 if sizes is not None else 1  # the debug network's one
    activation, output = network_of(args, n_hidden)
    if output == "identity" and y is not None:
        # regression targets from the labels: their one-hot rows as real values
        y = np.eye(sizes[-1])[y]
    backends = [args.backend]
    if args.all_backends:
        backends = _backends_with_network(available_backends(), activation, output, n_hidden)
    sample = args.sample
    results = []
    for backend in backends:
        result = gradient_check(theta, X, y, layer_sizes=sizes, lam=args.lam, loss=args.loss,
                                backend=backend, epsilon=args.epsilon, sample=sample,
                                random_state=args.seed, n_threads=args.threads, dtype=args.dtype,
                                threshold=args.threshold, data_name=name,
                                activation=activation, output=output)
        results.append(result)
        if not args.json:
            print(result.summary())
            print()
    if args.json:
        print(json.dumps([r.as_dict() for r in results], indent=2, default=str))
    elif len(results) > 1:
        print("summary:")
        for r in results:
            print(f"  {r.backend:<8} {'PASSED' if r.passed else 'FAILED'}  relative difference "
                  f"{r.rel_diff:.3e}")
    return 0 if all(r.passed for r in results) else 1


def _backends_with_network(names, activation, output, n_hidden):
    """The backends of ``names`` that implement this network; a line on stderr for the others."""
    import sys

    from .._activations import check_activations
    from ..backends import get_backend

    activations = check_activations(activation, n_hidden)
    able = []
    for name in names:
        try:
            get_backend(name, activations, output)
        except ValueError:
            print(f"skipping backend {name!r}: it implements ex4's network only", file=sys.stderr)
            continue
        able.append(name)
    return able
