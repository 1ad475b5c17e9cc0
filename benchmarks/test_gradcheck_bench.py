"""The full gradient check of the ex4 network: 5000 examples, all 10285 weights.

See ``benchmarks/conftest.py`` for how to run.
"""

import pytest

import nnfast

from conftest import THREADS


@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_gradient_check_full_ex4(benchmark, lam):
    from nnfast.bench import ex4_shaped_mnist

    try:
        X, y = ex4_shaped_mnist(5000)
        theta = nnfast.pack(nnfast.datasets.load_ex4_weights())
    except nnfast.datasets.DataNotFoundError as exc:
        pytest.skip(str(exc))
    nnfast.gradient_check(theta, X, y, (400, 25, 10), lam=lam, sample=300, backend="numpy")  # warm-up
    benchmark.group = "gradient check, ex4 network, all 10285 weights"
    result = benchmark.pedantic(nnfast.gradient_check, args=(theta, X, y, (400, 25, 10)),
                                kwargs=dict(lam=lam, backend="numpy", n_threads=THREADS), rounds=3, iterations=1)
    benchmark.extra_info.update(rel_diff=result.rel_diff, backend=result.backend,
                                seconds_numerical=result.seconds_numerical)
    assert result.n_checked == 10285
    assert result.rel_diff < 1e-9 and result.passed
