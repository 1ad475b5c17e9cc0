"""Side-by-side timing of nnfast's backends and, when installed, PyTorch and JAX.

``nnfast bench`` (and :func:`run_bench`) times one evaluation of the
regularised cost and its gradient for every available nnfast backend and,
when they are installed (never required), PyTorch on the CPU and JAX
(``jit(value_and_grad)``) computing the same function by automatic
differentiation, in the same dtype and with the same number of threads, all
in one process on the same data.  Every timed result is checked against the
NumPy backend's.  It also times end-to-end training (400 L-BFGS-B iterations
through scipy on an :class:`nnfast.Objective`) next to scikit-learn's
``MLPClassifier`` -- a *different model* (softmax output layer, its own L-BFGS
or Adam), so that row is context, not a like-for-like comparison.

GFLOP/s is :func:`flop_count` (see :mod:`nnfast.bench.shapes`) over the
median time, shown next to the rate of one large square dgemm/sgemm measured
in the same run (:func:`gemm_rate`, same thread count), the machine's
practical ceiling.

Where things live
-----------------
=================  ==========================================================
``shapes``         the benchmark shapes, their data, :func:`flop_count`
``timing``         the timing harness: :func:`time_once`, :func:`time_calls`,
                   :func:`time_in_turns`
``machine``        CPU, SIMD levels, BLAS, versions, :func:`gemm_rate`, AVX2 forcing
``peers``          PyTorch and JAX computing the same cost and gradient
``runners``        the runners timed: nnfast backends, then the peers
``cost_grad``      :func:`time_shape`: one evaluation per runner on one shape
``fits``           :func:`time_training`: whole L-BFGS-B fits and scikit-learn
``memory``         :func:`memory_use`: what each backend allocates
``goals``          :func:`goal_summary`: the ratios the kernel targets are stated in
``tables``         :func:`format_table`, :func:`format_memory`
``plots``          :func:`plot_results`, :func:`plot_scaling`
``run``            :func:`run_bench`, :func:`run_scaling`
=================  ==========================================================
"""

from .cost_grad import BenchResult, time_shape
from .fits import time_training
from .goals import goal_summary
from .machine import AVX2_ENV, AVX2_XLA_FLAG, avx2_environment, gemm_rate, machine_info, runner_simd
from .memory import memory_use
from .peers import Skip, _jax_build, _torch_build
from .plots import plot_results, plot_scaling
from .run import run_bench, run_scaling
from .runners import runners
from .shapes import (DEFAULT_SHAPES, FLOP_FORMULA, LAM, LOOP_SHAPES, SHAPES, _data_for,
                     ex4_shaped_mnist, flop_count)
from .tables import format_memory, format_table
from .timing import BLOCK_PAUSE_S, time_calls, time_in_turns, time_once

__all__ = ["SHAPES", "DEFAULT_SHAPES", "flop_count", "FLOP_FORMULA", "ex4_shaped_mnist",
           "run_bench", "run_scaling", "time_shape", "time_training", "memory_use",
           "machine_info", "gemm_rate", "format_table", "format_memory", "goal_summary",
           "plot_results", "plot_scaling", "BenchResult", "Skip", "runners",
           "AVX2_ENV", "avx2_environment", "runner_simd",
           "time_once", "time_calls", "time_in_turns", "BLOCK_PAUSE_S"]
