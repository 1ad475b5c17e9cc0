"""Shared fixtures: every registered backend in turn (a built-in one that does not load
fails its tests), temporary backends, and real data files (clear skips when absent)."""

import os
from pathlib import Path

import numpy as np
import pytest

import nnfast
from nnfast import datasets
from nnfast.backends import backend_status, register_backend, unregister_backend

ROOT = Path(__file__).resolve().parents[1]
_SHARED = ROOT.parent / "shared" / "data"
# Running pytest in a checkout next to ../shared finds the shared data without setup.
if "NNFAST_DATA" not in os.environ and _SHARED.is_dir():
    os.environ["NNFAST_DATA"] = str(_SHARED)

#: the backends nnfast ships: one that does not load here is a broken install, and
#: every test given it fails with the reason
BUILTIN_BACKENDS = ("loop", "numpy", "numba", "cython")
#: every registered backend, built-in or added with ``register_backend``; a test that
#: takes the ``backend`` fixture runs once for each (new backends are covered automatically)
BACKENDS = list(dict.fromkeys([*BUILTIN_BACKENDS, *backend_status()]))
#: the backends with compiled or vectorised kernels: all but the loop oracle
FAST_BACKENDS = [name for name in BACKENDS if name != "loop"]
#: what ``backend=`` accepts: every backend and "auto"
BACKENDS_AND_AUTO = [*BACKENDS, "auto"]


def require_backend(name):
    """``name`` if that backend runs here; otherwise fail (a built-in backend) or skip
    (an optional one), giving the reason it does not load.  "auto" always runs."""
    if name == "auto":
        return name
    available, detail = backend_status().get(name, (False, "it is not registered"))
    if available:
        return name
    if name in BUILTIN_BACKENDS:
        pytest.fail(f"built-in backend {name!r} does not load: {detail}", pytrace=False)
    pytest.skip(f"optional backend {name!r} is not available here: {detail}")


@pytest.fixture(params=BACKENDS)
def backend(request):
    """The name of one registered backend (each gets its own test id).

    Parametrise it indirectly to run a test on some backends only:
    ``@pytest.mark.parametrize("backend", FAST_BACKENDS, indirect=True)``.
    """
    return require_backend(request.param)


@pytest.fixture
def register_test_backend():
    """``register_test_backend(name, target, auto=False)``: a backend registered for this
    test only, unregistered afterwards (so nothing of it stays in the registry's caches)."""
    registered = []

    def register(name, target, auto=False):
        register_backend(name, target, auto=auto)
        registered.append(name)

    yield register
    for name in registered:
        unregister_backend(name)


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


def network_problem(layer_sizes, output, m, dtype=np.float64, seed=0):
    """Inputs, targets for ``output`` (real values for regression, labels otherwise) and
    weights large enough that relu units are both on and off and tanh units curve."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, layer_sizes[0])).astype(dtype)
    if output == "identity":
        y = rng.standard_normal((m, layer_sizes[-1])).astype(dtype)
    else:
        y = rng.integers(0, layer_sizes[-1], m)
    return X, y, (0.6 * rng.standard_normal(nnfast.n_params(layer_sizes))).astype(dtype)
