"""One cost+gradient evaluation: every backend (and PyTorch/JAX if installed) x shape x dtype.

See ``benchmarks/conftest.py`` for how to run.
"""

import numpy as np
import pytest

import nnfast
from nnfast.bench import Skip, _jax_build, _torch_build, flop_count

from conftest import BENCH_SHAPES, LAM, THREADS, rel_err, tolerance

PEERS = {"pytorch": _torch_build, "jax": _jax_build}
RUNNERS = nnfast.available_backends() + list(PEERS)


def _build(runner, X, y, sizes, dtype):
    if runner in PEERS:
        if runner == "pytorch":
            pytest.importorskip("torch")
        else:
            pytest.importorskip("jax")
        from nnfast._validation import check_n_threads, check_targets

        Y = check_targets(y, X.shape[0], sizes[-1], np.float64)
        try:
            return PEERS[runner](X.astype(dtype), Y.astype(dtype), list(sizes), dtype,
                                 check_n_threads(THREADS), LAM)
        except Skip as exc:
            pytest.skip(str(exc))
    return nnfast.Objective(X, y, sizes, lam=LAM, backend=runner, n_threads=THREADS, dtype=dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("runner", RUNNERS)
@pytest.mark.parametrize("shape", BENCH_SHAPES)
def test_cost_grad(benchmark, problem, shape, runner, dtype):
    if runner == "loop" and shape != "ex4":
        pytest.skip("the per-example loop is timed on the ex4 shape only (too slow for the rest)")
    p = problem(shape)
    dt = np.dtype(dtype).type
    fun = _build(runner, p.X, p.y, p.sizes, dt)
    theta = p.theta.astype(dt)
    fun(theta)  # warm-up: compilation, JIT, first-touch
    benchmark.group = f"{shape} {dtype}"
    benchmark.extra_info.update(m=p.m, layers=list(p.sizes), data=p.data,
                                mflop=flop_count(p.sizes, p.m) / 1e6)
    if runner == "loop":
        J, grad = benchmark.pedantic(fun, args=(theta,), rounds=3, iterations=1)
    else:
        J, grad = benchmark(fun, theta)

    # the benchmarked result against the NumPy backend in float64 on the full data
    tol = tolerance(dtype)
    assert abs(J - p.J) <= tol * abs(p.J)
    assert grad.dtype == np.float64 and grad.shape == p.grad.shape
    assert rel_err(grad, p.grad) <= tol
    # and against the per-example loop (the oracle) on the first 100 examples
    small = _build(runner, p.X[:100], p.y[:100], p.sizes, dt)
    J_small, g_small = small(theta)
    J_ref, g_ref = p.small_reference()
    assert abs(J_small - J_ref) <= tol * abs(J_ref)
    assert rel_err(g_small, g_ref) <= tol
