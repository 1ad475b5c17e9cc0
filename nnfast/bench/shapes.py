"""The benchmark shapes, their data and the one FLOP count every figure uses.

FLOP count
----------
For a network ``n_0 -> n_1 -> ... -> n_L`` on ``m`` examples, the matrix
products of one cost+gradient evaluation are, per weight layer ``l``
(``n_{l-1} -> n_l``):

* forward ``Z_l = A_{l-1} W_lᵀ``: ``2 m n_{l-1} n_l``;
* gradient ``G_l = Δ_lᵀ A_{l-1}``: ``2 m n_{l-1} n_l``;
* error back to the layer below ``Δ_{l-1} = Δ_l W_l`` (not for ``l = 1``):
  ``2 m n_{l-1} n_l``,

so ``flops = 6 m Σ_l n_{l-1} n_l - 2 m n_0 n_1``; bias columns and the
elementwise work (sigmoids, loss) are left out.  The ex4 shape (5000 x 400
-> 25 -> 10) is 207.5 MFLOP.  GFLOP/s is that count over a time.
"""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np

#: name -> (m, layer sizes)
SHAPES: Dict[str, tuple] = {
    "ex4": (5000, (400, 25, 10)),
    "mnist-100": (10000, (784, 100, 10)),
    "mnist-300": (10000, (784, 300, 10)),
    "mnist-128-64": (10000, (784, 128, 64, 10)),
    "tiny": (300, (20, 8, 3)),
}
DEFAULT_SHAPES = ("ex4", "mnist-100", "mnist-300", "mnist-128-64")
#: the per-example loop is orders of magnitude slower than the rest: only timed on these shapes
LOOP_SHAPES = ("ex4", "tiny")
LAM = 1.0
#: :func:`flop_count` in words, as the JSON document and the table state it
FLOP_FORMULA = "6 m sum_l n_(l-1) n_l - 2 m n_0 n_1 (matrix products only)"


def flop_count(layer_sizes: Sequence[int], m: int) -> int:
    """Floating-point operations of the matrix products of one cost+gradient evaluation.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``n_0, n_1, ..., n_L``, inputs first.
    m : int
        Number of examples.

    Returns
    -------
    int
        ``6 m Σ_l n_{l-1} n_l - 2 m n_0 n_1`` (see the module docstring).
    """
    sizes = list(layer_sizes)
    total = sum(6 * m * a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return int(total - 2 * m * sizes[0] * sizes[1])


def ex4_shaped_mnist(m: int = 5000, path=None):
    """Real data of the ex4 shape: ``m`` MNIST t10k digits cropped to their central 20x20.

    ex4data1.mat (5000 20x20 digits) is not redistributable; MNIST's digits sit
    in the central 20x20 box of the 28x28 image, so the crop keeps the digit.
    Each image is unrolled column-major like ex4data1 (``X[i].reshape(20, 20,
    order="F")`` shows it), and labels are ex4 class indices: digit d is class
    ``(d - 1) mod 10`` (class 9 is the digit 0), so ``ex4weights.mat`` applies.

    Returns
    -------
    X : ndarray of shape (m, 400), float64 in [0, 1]
    y : ndarray of shape (m,), int64 class indices 0..9
    """
    from ..datasets import load_mnist

    X, digits = load_mnist("t10k", path)
    if not 1 <= m <= X.shape[0]:
        raise ValueError(f"m must be in 1..{X.shape[0]}, got {m}")
    images = X[:m].reshape(m, 28, 28)[:, 4:24, 4:24]
    X20 = np.ascontiguousarray(images.transpose(0, 2, 1).reshape(m, 400))
    return X20, (digits[:m] - 1) % 10


def _data_for(m, sizes, seed=0):
    """``(X, y, description)``: real digits where the shape allows and the files exist,
    otherwise uniform random inputs in [0, 1] (timing does not depend on the values)."""
    from ..datasets import DataNotFoundError, load_mnist

    try:
        if sizes[0] == 400 and m <= 10000:
            X, y = ex4_shaped_mnist(m)
            return X, y % sizes[-1], "MNIST t10k cropped to 20x20"
        if sizes[0] == 784 and m <= 10000:
            X, y = load_mnist("t10k")
            return np.ascontiguousarray(X[:m]), y[:m] % sizes[-1], "MNIST t10k"
    except DataNotFoundError:
        pass
    rng = np.random.default_rng(seed)
    return rng.random((m, sizes[0])), rng.integers(0, sizes[-1], m), "random uniform [0, 1]"
