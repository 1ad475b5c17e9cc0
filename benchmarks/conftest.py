"""nnfast's benchmark suite (pytest-benchmark).

How to run
----------
From the project root, with the venv's pytest::

    pytest benchmarks/ --benchmark-only --benchmark-group-by=group
    pytest benchmarks/ --benchmark-only --benchmark-group-by=group -k ex4      # one shape
    pytest benchmarks/ --benchmark-only -k "not train and not mnist"          # quick
    pytest benchmarks/ --benchmark-only --benchmark-json=bench.json           # machine-readable
    pytest benchmarks/ --benchmark-disable                                    # checks only, one call each

What is timed
-------------
* ``test_cost_grad.py``: one cost+gradient evaluation (``Objective.__call__``,
  λ = 1, cross-entropy) for every available backend (``nnfast.available_backends()``:
  new backends are picked up automatically) and, when installed, PyTorch CPU
  autograd and JAX ``jit(value_and_grad)``, on four shapes

  =============  ======  ==================
  group          m       layers
  =============  ======  ==================
  ex4            5000    400 -> 25 -> 10
  mnist-100      10000   784 -> 100 -> 10
  mnist-300      10000   784 -> 300 -> 10
  mnist-128-64   10000   784 -> 128 -> 64 -> 10
  =============  ======  ==================

  in float64 and float32.  Groups are ``"<shape> <dtype>"`` so backends line up
  (``--benchmark-group-by=group``).  The per-example loop backend, orders of
  magnitude slower, runs on the ex4 shape only, with three rounds.
* ``test_training.py``: end-to-end training on the ex4 shape, 400 iterations of
  L-BFGS-B (``scipy.optimize.minimize`` on an ``nnfast.Objective``), one round.
* ``test_gradcheck_bench.py``: the full gradient check of the ex4 network
  (5000 examples, all 10285 weights, ε = 1e-4).

Every benchmarked result is checked in the same test: against the NumPy
backend in float64 on the full data, and against the per-example loop (the
oracle) on the first 100 examples.  Data are real digits where the files are
found (``NNFAST_DATA``, default ``../shared/data``): MNIST t10k for the 784-wide
shapes, MNIST t10k cropped to 20x20 for the ex4 shape; random inputs otherwise.

Threads: every backend and peer uses all cores by default; set
``NNFAST_BENCH_THREADS=1`` for single-threaded figures.  For a side-by-side
table with GFLOP/s and the machine's dgemm rate, use ``nnfast bench`` instead; the
FLOP count in ``extra_info`` is ``nnfast.bench.flop_count``, the one ``nnfast bench`` uses.
"""

import os
from pathlib import Path

import numpy as np
import pytest

_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
if "NNFAST_DATA" not in os.environ and _SHARED.is_dir():
    os.environ["NNFAST_DATA"] = str(_SHARED)

import nnfast  # noqa: E402
from nnfast.bench import SHAPES, _data_for  # noqa: E402

BENCH_SHAPES = ("ex4", "mnist-100", "mnist-300", "mnist-128-64")
THREADS = int(os.environ.get("NNFAST_BENCH_THREADS", "0")) or None
LAM = 1.0


class Problem:
    """Data, weights and the float64 NumPy reference for one shape."""

    def __init__(self, shape):
        self.shape = shape
        self.m, self.sizes = SHAPES[shape]
        self.X, self.y, self.data = _data_for(self.m, self.sizes)
        self.theta = nnfast.init_theta(self.sizes, "auto", random_state=0)
        ref = nnfast.Objective(self.X, self.y, self.sizes, lam=LAM, backend="numpy")
        self.J, self.grad = ref(self.theta)
        self._small = None

    def small_reference(self):
        """(J, grad) of the loop backend (the oracle) on the first 100 examples."""
        if self._small is None:
            obj = nnfast.Objective(self.X[:100], self.y[:100], self.sizes, lam=LAM, backend="loop")
            self._small = obj(self.theta)
        return self._small


_problems = {}


@pytest.fixture(scope="session")
def problem():
    def get(shape):
        if shape not in _problems:
            _problems[shape] = Problem(shape)
        return _problems[shape]
    return get


def rel_err(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(b))


def tolerance(dtype):
    return 1e-9 if np.dtype(dtype) == np.float64 else 1e-3
