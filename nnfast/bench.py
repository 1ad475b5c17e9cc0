"""Side-by-side timing of nnfast's backends and, when installed, PyTorch and JAX."""

from __future__ import annotations

import numpy as np


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
    from .datasets import load_mnist

    X, digits = load_mnist("t10k", path)
    if not 1 <= m <= X.shape[0]:
        raise ValueError(f"m must be in 1..{X.shape[0]}, got {m}")
    images = X[:m].reshape(m, 28, 28)[:, 4:24, 4:24]
    X20 = np.ascontiguousarray(images.transpose(0, 2, 1).reshape(m, 400))
    return X20, (digits[:m] - 1) % 10
