"""One-shot calls (cost_grad, cost, predict): no layout kept, bad values still found."""

import tracemalloc

import numpy as np
import pytest
from _oracle import Tolerance, assert_cost_matches_oracle, assert_matches_oracle, loop_oracle
from conftest import FAST_BACKENDS, random_problem

import nnfast
from nnfast import Objective
from nnfast._validation import all_finite

SIZES = [20, 7, 4]
M = 300   # several 64-row blocks, the last one partial
# float64 gradients here get an absolute slack of 1e-13 (not one relative to the largest entry)
FLOAT64_ABSOLUTE = Tolerance(cost_rtol=1e-10, grad_rtol=1e-10, grad_atol=1e-13)


def test_one_shot_targets_reach_the_cython_kernel_without_a_transposed_copy():
    # class indices become units-major targets for a backend that reads them so; the
    # kernel's YT is then a view of them, and the result is the prepared objective's
    X, y, theta = random_problem(SIZES, M, seed=5)
    once = Objective(X, y, SIZES, backend="cython", reuse=False)
    YT = once._data.YT
    assert YT.shape == (SIZES[-1], M) and YT.flags.c_contiguous and YT.base is not None
    np.testing.assert_array_equal(YT, np.eye(SIZES[-1])[y].T)
    kept = Objective(X, y, SIZES, backend="cython")
    assert kept._data.YT.base is None            # prepared: its own transposed copy
    J1, g1 = once(theta)
    J2, g2 = kept(theta)
    np.testing.assert_allclose(J1, J2, rtol=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-12, atol=1e-15)
    # another backend gets the same targets from a one-shot objective
    J3, g3 = Objective(X, y, SIZES, backend="numpy", reuse=False)(theta)
    np.testing.assert_allclose(J3, J2, rtol=1e-12)


@pytest.mark.parametrize("backend", FAST_BACKENDS, indirect=True)
def test_one_shot_equals_loop_oracle(backend):
    X, y, theta = random_problem(SIZES, M, seed=3)
    oracle = loop_oracle(X, y, SIZES, theta, lam=1.0)
    assert_matches_oracle(nnfast.cost_grad(theta, X, y, SIZES, lam=1.0, backend=backend), oracle,
                          tolerance=FLOAT64_ABSOLUTE)
    assert_cost_matches_oracle(nnfast.cost(theta, X, y, SIZES, lam=1.0, backend=backend),
                               oracle[0], tolerance=FLOAT64_ABSOLUTE)


def test_cython_one_shot_reads_rows_of_X_without_panels():
    X, y, theta = random_problem(SIZES, M, seed=4)
    once = Objective(X, y, SIZES, backend="cython", reuse=False)
    kept = Objective(X, y, SIZES, backend="cython")
    assert once._data.XP is None and kept._data.XP is not None
    J1, g1 = once(theta)
    J2, g2 = kept(theta)
    np.testing.assert_allclose(J1, J2, rtol=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-12, atol=1e-15)


def test_X_changed_in_place_between_calls_gives_the_new_answer(backend):
    X, y, theta = random_problem(SIZES, M, seed=5)
    nnfast.cost_grad(theta, X, y, SIZES, lam=1.0, backend=backend)
    nnfast.predict(theta, X, SIZES, backend=backend)
    X[::7] *= -0.5       # same object, same address, other values
    assert_matches_oracle(nnfast.cost_grad(theta, X, y, SIZES, lam=1.0, backend=backend),
                          loop_oracle(X.copy(), y, SIZES, theta, lam=1.0),
                          tolerance=FLOAT64_ABSOLUTE)
    expected = Objective(X.copy(), y, SIZES, backend="loop")
    h = nnfast.predict_proba(theta, X, SIZES, backend=backend)
    np.testing.assert_allclose(h, nnfast.predict_proba(theta, X.copy(), SIZES, backend="loop"),
                               rtol=1e-10)
    assert np.isclose(nnfast.cost(theta, X, y, SIZES, backend=backend), expected.cost(theta))


@pytest.mark.parametrize("backend", FAST_BACKENDS, indirect=True)
def test_repeated_one_shot_calls_keep_no_memory(backend):
    X, y, theta = random_problem([400, 25, 10], 2000, seed=6)
    for _ in range(3):  # first calls: per-thread buffers, compiled code, caches of layouts
        nnfast.cost_grad(theta, X, y, [400, 25, 10], backend=backend)
        nnfast.predict(theta, X, [400, 25, 10], backend=backend)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(20):
            nnfast.cost_grad(theta, X, y, [400, 25, 10], backend=backend)
            nnfast.cost(theta, X, y, [400, 25, 10], backend=backend)
            nnfast.predict(theta, X, [400, 25, 10], backend=backend)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # X alone is 6.4 MB; one kept copy per call would be 380 MB
    assert grown < 256 * 1024, grown


#: the backends that find NaN and inf in X themselves (no pass over X first)
FINDING = [b for b in nnfast.available_backends() if nnfast.get_backend(b).finds_nonfinite_X]


@pytest.mark.parametrize("backend", FINDING)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [(0, 0), (M - 1, SIZES[0] - 1), (131, 9)])
def test_cost_grad_finds_nonfinite_X_from_the_gradient(dtype, value, where, backend):
    X, y, theta = random_problem(SIZES, M, seed=7, dtype=dtype)
    X[where] = value
    for call in (lambda: nnfast.cost_grad(theta, X, y, SIZES, lam=1.0, backend=backend),
                 lambda: nnfast.cost(theta, X, y, SIZES, backend=backend),
                 lambda: nnfast.predict(theta, X, SIZES, backend=backend)):
        with pytest.raises(ValueError, match=rf"X contains NaN or inf \(first at row {where[0]}, "
                                             rf"column {where[1]}\)"):
            call()


@pytest.mark.parametrize("backend", FINDING)
def test_cost_grad_finds_inf_where_the_output_error_is_zero(backend):
    # targets equal to the outputs of zero weights (0.5): every output error is 0,
    # so inf * 0 is what reaches the gradient
    sizes = [3, 2]
    X = np.array([[1.0, 2.0, 3.0], [4.0, np.inf, 6.0]] * 40)
    Y = np.full((80, 2), 0.5)
    with pytest.raises(ValueError, match=r"X contains NaN or inf \(first at row 1, column 1\)"):
        nnfast.cost_grad(np.zeros(nnfast.n_params(sizes)), X, Y, sizes, backend=backend)


@pytest.mark.parametrize("backend", FINDING)
def test_finite_X_whose_gradient_overflows_is_returned_not_refused(backend):
    sizes = [20, 4]   # no hidden layer (saturated hidden units would give zero deltas)
    X, y, theta = random_problem(sizes, M, seed=8)
    theta[:] = 0.0    # every output 0.5: errors of +-0.5, three in four positive
    X = np.abs(X) * 1e307   # finite, but the summed gradient (h - y) . X overflows to inf
    J, grad = nnfast.cost_grad(theta, X, y, sizes, backend=backend)
    J_kept, grad_kept = Objective(X, y, sizes, backend=backend)(theta)
    assert not np.isfinite(grad).all()
    np.testing.assert_array_equal(np.isfinite(grad), np.isfinite(grad_kept))
    assert J == pytest.approx(J_kept)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_all_finite_checks_every_value(dtype):
    X = np.random.default_rng(0).random((1000, 300)).astype(dtype)  # several pieces
    assert all_finite(X)
    assert all_finite(np.full((2, 2), np.finfo(dtype).max, dtype=dtype))
    for value in (np.nan, np.inf, -np.inf):
        for flat in (0, 65535, 65536, X.size - 1):
            Y = X.copy()
            Y.flat[flat] = value
            assert not all_finite(Y), (value, flat)
    assert not all_finite(X[::2].copy() * np.inf)
    assert all_finite(X[:, ::2]) and not all_finite(np.where(X > 0.999, np.nan, X)[:, ::2])


def test_the_finiteness_pass_uses_the_calls_thread_count(monkeypatch):
    from nnfast import _validation

    all_finite(np.zeros((2, 2)))   # the compiled check, imported on first use
    compiled = _validation._compiled_all_finite
    assert compiled, "the compiled extension is not built"
    seen = []
    monkeypatch.setattr(_validation, "_compiled_all_finite",
                        lambda A, n_threads: seen.append((A.shape, n_threads)) or compiled(A, n_threads))
    monkeypatch.setattr(_validation, "free_cores", lambda: 2)
    X, y, theta = random_problem(SIZES, M, seed=9)
    nnfast.cost(theta, X, y, SIZES, backend="numpy", n_threads=1)
    nnfast.predict(theta, X, SIZES, backend="numpy")
    nnfast.Objective(X, y, SIZES, backend="numpy", n_threads=2)
    assert seen == [(X.shape, 1), (X.shape, 2), (X.shape, 2)]
    # the fused kernels find NaN and inf themselves: their one-shot calls make no pass
    # over X (cost_grad looks at its gradient, a row of n_params values)
    for backend in FINDING:
        del seen[:]
        nnfast.cost_grad(theta, X, y, SIZES, backend=backend)
        nnfast.cost(theta, X, y, SIZES, backend=backend)
        nnfast.predict(theta, X, SIZES, backend=backend)
        assert X.shape not in [shape for shape, _ in seen], backend


@pytest.mark.parametrize("backend", FINDING)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_finite_X_whose_logits_overflow_is_computed_not_refused(dtype, backend):
    """Logits that overflow to inf from a finite X look like a NaN or inf in X to the
    kernel's watch; X is then checked, found finite, and the result is the usual one."""
    X, y, theta = random_problem(SIZES, M, seed=10, dtype=dtype)
    X = (np.abs(X) / np.abs(X).max() * (np.finfo(dtype).max / 4)).astype(dtype)  # finite
    theta = (np.abs(theta) + 1).astype(dtype)                     # X . w overflows to inf
    assert np.isfinite(X).all()
    W1 = theta[:SIZES[1] * (SIZES[0] + 1)].reshape(SIZES[1], -1)
    with np.errstate(over="ignore"):
        assert not np.isfinite(X @ W1[:, 1:].T).all()            # in the working dtype
    J_kept = Objective(X, y, SIZES, backend=backend).cost(theta)
    assert nnfast.cost(theta, X, y, SIZES, backend=backend) == J_kept
    h = nnfast.predict_proba(theta, X, SIZES, backend=backend)
    np.testing.assert_array_equal(h, nnfast.predict_proba(theta, X, SIZES, backend="numpy"))


def test_one_shot_calls_share_work_buffers_across_shapes_and_dtypes():
    """One set of work buffers serves every one-shot call: another network, dtype or
    thread count replaces them, and every call still gives the oracle's answer."""
    for sizes, dtype, threads in [(SIZES, np.float64, 2), ([20, 9, 3], np.float32, 1),
                                  (SIZES, np.float32, 2), ([20, 9, 3], np.float64, 1),
                                  (SIZES, np.float64, 1)]:
        X, y, theta = random_problem(sizes, M, seed=11, dtype=dtype)
        result = nnfast.cost_grad(theta, X, y, sizes, lam=1.0, backend="cython", n_threads=threads)
        assert_matches_oracle(result, loop_oracle(X, y, sizes, theta, lam=1.0), dtype)


@pytest.mark.parametrize("backend", [b for b in ("numba", "cython") if b in nnfast.available_backends()])
def test_one_shot_sees_X_changed_in_place(backend):
    """Nothing of X outlives a one-shot call: an X edited in place between two calls
    gives the second call the edited data's answer."""
    X, y, theta = random_problem([40, 6, 3], 3000, seed=11)
    first = nnfast.cost_grad(theta, X, y, [40, 6, 3], lam=0.5, backend=backend)
    X[::7] *= 0.25
    second = nnfast.cost_grad(theta, X, y, [40, 6, 3], lam=0.5, backend=backend)
    expected = nnfast.cost_grad(theta, X.copy(), y, [40, 6, 3], lam=0.5, backend="numpy")
    assert second[0] != first[0]
    np.testing.assert_allclose(second[0], expected[0], rtol=1e-12)
    np.testing.assert_allclose(second[1], expected[1], rtol=1e-10, atol=1e-14)
