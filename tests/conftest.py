"""Shared fixtures: real data files when present, clear skips when not."""

import os
from pathlib import Path

import numpy as np
import pytest

import nnfast
from nnfast import datasets

ROOT = Path(__file__).resolve().parents[1]
_SHARED = ROOT.parent / "shared" / "data"
# Running pytest in a checkout next to ../shared finds the shared data without setup.
if "NNFAST_DATA" not in os.environ and _SHARED.is_dir():
    os.environ["NNFAST_DATA"] = str(_SHARED)

#: every backend that runs here; tests parametrised over it cover new backends automatically
BACKENDS = nnfast.available_backends()
FAST_BACKENDS = [b for b in BACKENDS if b != "loop"]


def _need(loader, *args):
    try:
        return loader(*args)
    except datasets.DataNotFoundError as exc:
        pytest.skip(f"data not available here: {exc}")


@pytest.fixture(scope="session")
def ex4_weights():
    """(Theta1 25x401, Theta2 10x26) from ex4weights.mat (in ../shared/data)."""
    return _need(datasets.load_ex4_weights)


@pytest.fixture(scope="session")
def ex4_data():
    """(X 5000x400, y 0..9) from ex4data1.mat; skipped where the file is not available."""
    return _need(datasets.load_ex4_data)


@pytest.fixture(scope="session")
def mnist_t10k():
    """(X 10000x784 in [0, 1], y digits) from the MNIST t10k IDX files."""
    return _need(datasets.load_mnist, "t10k")


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's 8x8 digits, always available."""
    return datasets.load_digits()


def random_problem(layer_sizes, m, seed=0, dtype=np.float64):
    """Random inputs, labels and weights of moderate size (no saturated units)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, layer_sizes[0])).astype(dtype)
    y = rng.integers(0, layer_sizes[-1], size=m)
    theta = rng.uniform(-1, 1, nnfast.n_params(layer_sizes)).astype(dtype)
    return X, y, theta
