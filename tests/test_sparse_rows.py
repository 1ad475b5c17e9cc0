"""The cython backend's first layer from sparse rows of X (CSR), used by prepared data
when X is mostly zeros (``_cython.SPARSE_DENSITY``): equivalence with the loop oracle
and with the dense path, bitwise determinism, every SIMD level, and the CSR itself."""

import numpy as np
import pytest
import scipy.sparse

import nnfast
from nnfast._network import layer_offsets
from nnfast.backends import _cython
from nnfast.backends._cython import CythonBackend, _fused

from _oracle import CYTHON_FLOAT32_TOLERANCE, assert_matches_oracle, loop_oracle


def sparse_problem(layer_sizes, m, density, seed=0, dtype=np.float64, output="logistic"):
    """X with about ``density`` of its entries nonzero (in [0, 1], like pixels), some
    rows all zero, labels or real targets, and weights of moderate size."""
    rng = np.random.default_rng(seed)
    X = rng.random((m, layer_sizes[0])) * (rng.random((m, layer_sizes[0])) < density)
    X[::7] = 0.0                                    # empty rows
    if output == "identity":
        y = rng.standard_normal((m, layer_sizes[-1]))
    else:
        y = rng.integers(0, layer_sizes[-1], size=m)
    theta = rng.uniform(-1, 1, nnfast.n_params(layer_sizes))
    return X.astype(dtype), y, theta.astype(dtype)


def _objective(X, y, sizes, sparse, **kwargs):
    """A prepared cython Objective on the sparse path or forced onto the dense one."""
    old = _cython.SPARSE_DENSITY
    _cython.SPARSE_DENSITY = old if sparse else -1.0
    try:
        fun = nnfast.Objective(X, y, sizes, backend="cython", **kwargs)
    finally:
        _cython.SPARSE_DENSITY = old
    assert (fun._data.csr is not None) == sparse
    return fun


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sizes, activation, output", [
    ([30, 5, 3], "logistic", "logistic"),
    ([64, 25, 10], "logistic", "logistic"),         # ex4's widths of hidden and output
    ([50, 70, 4], "relu", "softmax"),               # several passes of unit vectors
    ([40, 9, 6, 2], "tanh", "identity"),
    ([200, 33, 10], "relu", "softmax"),
])
def test_sparse_rows_match_loop(sizes, activation, output, dtype):
    X, y, theta = sparse_problem(sizes, 300, 0.15, dtype=dtype, output=output)
    fun = _objective(X, y, sizes, True, lam=0.7, activation=activation, output=output,
                     n_threads=2)
    J, g = fun(theta)
    oracle = loop_oracle(X, y, sizes, theta, lam=0.7, activation=activation, output=output)
    if dtype == np.float32:
        assert_matches_oracle((J, g), oracle, tolerance=CYTHON_FLOAT32_TOLERANCE)
    else:
        assert_matches_oracle((J, g), oracle)
    assert fun.cost(theta) == pytest.approx(oracle[0], rel=1e-10 if dtype == np.float64 else 1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_and_dense_paths_agree(dtype):
    sizes = [120, 25, 10]
    X, y, theta = sparse_problem(sizes, 700, 0.2, seed=3, dtype=dtype)
    J1, g1 = _objective(X, y, sizes, True, lam=1.0)(theta)
    J2, g2 = _objective(X, y, sizes, False, lam=1.0)(theta)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert J1 == pytest.approx(J2, rel=rtol)
    np.testing.assert_allclose(g1, g2, rtol=0, atol=rtol * np.abs(g2).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_rows_give_the_same_bits_for_any_thread_count(dtype):
    sizes = [90, 40, 10]
    X, y, theta = sparse_problem(sizes, 2000, 0.2, seed=5, dtype=dtype)
    results = [_objective(X, y, sizes, True, lam=1.0, n_threads=n)(theta) for n in (1, 2, 3)]
    for J, g in results[1:]:
        assert J == results[0][0]
        np.testing.assert_array_equal(g, results[0][1])


@pytest.mark.parametrize("level", _fused.simd_levels())
def test_every_simd_level_on_sparse_rows(level):
    sizes = [60, 45, 7]
    X, y, theta = sparse_problem(sizes, 260, 0.25, seed=8)
    previous = _fused.set_simd_level(level)
    try:
        J, g = _objective(X, y, sizes, True, lam=0.3)(theta)
    finally:
        _fused.set_simd_level(previous)
    assert_matches_oracle((J, g), loop_oracle(X, y, sizes, theta, lam=0.3))


def test_all_zero_X_and_row_weights():
    """An X of zeros only (no nonzero at all), then row weights on the sparse path."""
    sizes = [20, 6, 3]
    X = np.zeros((50, 20))
    y = np.arange(50) % 3
    theta = np.random.default_rng(0).uniform(-1, 1, nnfast.n_params(sizes))
    J, g = _objective(X, y, sizes, True, lam=0.5)(theta)
    assert_matches_oracle((J, g), loop_oracle(X, y, sizes, theta, lam=0.5))
    # the weights of the first layer get only their penalty
    W1 = g[:6 * 21].reshape(6, 21)
    np.testing.assert_allclose(W1[:, 1:], 0.5 / 50 * theta[:6 * 21].reshape(6, 21)[:, 1:])
    X, y, theta = sparse_problem(sizes, 90, 0.2, seed=2)
    weights = np.random.default_rng(1).random(90)
    fun = _objective(X, y, sizes, True, lam=0.5)
    dense = _objective(X, y, sizes, False, lam=0.5)
    w = weights.astype(np.float64)
    backend = CythonBackend()
    offsets = layer_offsets(sizes)
    g1, g2 = np.empty_like(theta), np.empty_like(theta)
    J1 = backend.loss_grad_sum(theta, sizes, offsets, fun._data, "cross_entropy", 2, g1,
                               row_weights=w)
    J2 = backend.loss_grad_sum(theta, sizes, offsets, dense._data, "cross_entropy", 2, g2,
                               row_weights=w)
    assert J1 == pytest.approx(J2, rel=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=0, atol=1e-12 * np.abs(g2).max())


def test_nan_in_sparse_X_reaches_the_gradient():
    sizes = [30, 5, 3]
    X, y, theta = sparse_problem(sizes, 80, 0.2, seed=4)
    X[17, 3] = np.nan
    fun = _objective(X, y, sizes, True, check_finite=False)
    J, g = fun(theta)
    # as on the dense path (nonfinite_X_reaches_gradient): the gradient tells
    assert not np.all(np.isfinite(g))
    assert not np.all(np.isfinite(_objective(X, y, sizes, False, check_finite=False)(theta)[1]))


def test_csr_of_X():
    rng = np.random.default_rng(0)
    X = rng.random((40, 30)) * (rng.random((40, 30)) < 0.2)
    indptr, cols, vals = _cython._sparse_rows(X)
    ref = scipy.sparse.csr_matrix(X)
    np.testing.assert_array_equal(indptr, ref.indptr)
    np.testing.assert_array_equal(cols, ref.indices)
    np.testing.assert_array_equal(vals, ref.data)
    assert indptr.dtype == np.intp and cols.dtype == np.intc and vals.dtype == X.dtype
    assert not any(a.flags.writeable for a in (indptr, cols, vals))
    assert _cython._sparse_rows(X, max_density=0.1) is None       # too dense for that
    assert _cython._sparse_rows(np.ones((5, 4))) is None
    assert _cython._sparse_rows(np.zeros((5, 4)))[1].size == 0


def test_bad_sparse_rows_are_refused():
    """(Pickling prepared data: tests/test_cython_backend.py.)"""
    sizes = (30, 5, 3)
    X, y, theta = sparse_problem(list(sizes), 100, 0.2, seed=6)
    Y = np.eye(3)[y]
    backend = CythonBackend()
    data = backend.prepare(X, Y, layer_sizes=sizes)
    assert data.csr is not None and data.XP is None
    offsets = layer_offsets(sizes)
    g1 = np.empty_like(theta)
    indptr, cols, vals = data.csr
    # a feature index out of range: refused when the data are unpickled
    bad_cols = cols.copy()
    bad_cols[3] = sizes[0]
    state = dict(data.__getstate__(), csr=(indptr, bad_cols, vals))
    with pytest.raises(ValueError, match="inconsistent sparse rows"):
        type(data).__new__(type(data)).__setstate__(state)
    # rows that do not fit X: the kernel's entry refuses them
    bad = indptr.copy()
    bad[5], bad[6] = bad[6], bad[5] - 1
    data.csr = (bad, cols, vals)
    with pytest.raises(ValueError, match="inconsistent sparse rows"):
        backend.loss_grad_sum(theta, sizes, offsets, data, "cross_entropy", 2, g1)
    data.csr = (indptr[:-1], cols, vals)
    with pytest.raises(ValueError, match="inconsistent sparse rows"):
        backend.loss_grad_sum(theta, sizes, offsets, data, "cross_entropy", 2, g1)


def test_block_columns_of_X():
    """The nonzeros by row block and feature that the gradient reads: each block's
    slice of X in CSC (features ascending, rows ascending within a feature)."""
    rng = np.random.default_rng(1)
    m, n_in, block = 70, 30, 16                      # a short last block (6 rows)
    X = rng.random((m, n_in)) * (rng.random((m, n_in)) < 0.2)
    X[17] = 0.0
    blocks, cols, ptr, rows, vals = _cython._block_cols(_cython._sparse_rows(X), X.shape, block)
    assert blocks.shape == (-(-m // block) + 1,)
    assert (blocks.dtype, ptr.dtype, cols.dtype, rows.dtype) == (np.intp, np.intp, np.intc, np.intc)
    assert not any(a.flags.writeable for a in (blocks, cols, ptr, rows, vals))
    for b in range(blocks.size - 1):
        ref = scipy.sparse.csc_matrix(X[b * block:(b + 1) * block])
        ref.sort_indices()
        present = np.flatnonzero(np.diff(ref.indptr))
        q0, q1 = blocks[b], blocks[b + 1]
        np.testing.assert_array_equal(cols[q0:q1], present)
        p0, p1 = ptr[q0], ptr[q1]
        np.testing.assert_array_equal(rows[p0:p1], ref.indices)
        np.testing.assert_array_equal(vals[p0:p1], ref.data)
        np.testing.assert_array_equal(np.diff(ptr[q0:q1 + 1]), np.diff(ref.indptr)[present])
    empty = _cython._block_cols(_cython._sparse_rows(np.zeros((20, 4))), (20, 4), 16)
    assert empty[0].tolist() == [0, 0, 0] and empty[3].size == 0


def test_bad_block_columns_are_refused():
    sizes = (30, 5, 3)
    X, y, theta = sparse_problem(list(sizes), 100, 0.2, seed=7)
    backend = CythonBackend()
    data = backend.prepare(X, np.eye(3)[y], layer_sizes=sizes)
    blocks, cols, ptr, rows, vals = data.csc
    last_rows = 100 - (blocks.size - 2) * data.block
    offsets = layer_offsets(sizes)
    g1 = np.empty_like(theta)

    def replaced(i, value_at):
        arrays = [a.copy() for a in data.csc]
        value_at(arrays[i])
        return tuple(arrays)

    # a feature or a row out of range (one past the short last block's rows too):
    # refused when the data are unpickled
    for bad in (replaced(1, lambda a: a.__setitem__(2, sizes[0])),
                replaced(3, lambda a: a.__setitem__(0, data.block)),
                replaced(3, lambda a: a.__setitem__(-1, last_rows)),
                replaced(1, lambda a: a.__setitem__(0, -1))):
        state = dict(data.__getstate__(), csc=bad)
        with pytest.raises(ValueError, match="inconsistent sparse columns"):
            type(data).__new__(type(data)).__setstate__(state)
    # pointers that do not fit: the kernel's entry refuses them
    for bad in (replaced(2, lambda a: a.__setitem__(4, a[6])),
                (blocks[:-1], cols, ptr, rows, vals),
                (blocks, cols, ptr[:-1], rows, vals),
                (blocks, cols, ptr, rows[:-1], vals[:-1])):
        data.csc = bad
        with pytest.raises(ValueError, match="inconsistent sparse columns"):
            backend.loss_grad_sum(theta, sizes, offsets, data, "cross_entropy", 2, g1)
    # the loss alone does not read them
    data.csc = None
    assert np.isfinite(backend.loss_grad_sum(theta, sizes, offsets, data, "cross_entropy", 2,
                                             None))


def test_sparse_data_keep_full_blocks(monkeypatch):
    """The smaller blocks that keep a panel in L2 are for the dense path; sparse data
    take BLOCK_ROWS whatever L2 holds, and still match the oracle."""
    sizes = [400, 25, 10]
    monkeypatch.setattr(_cython, "l2_cache_bytes", lambda: 512 * 1024)
    assert _cython.block_rows(sizes, 8) < _cython.BLOCK_ROWS
    X, y, theta = sparse_problem(sizes, 300, 0.2, seed=8)
    fun = _objective(X, y, sizes, True, lam=1.0)
    assert fun._data.block == _cython.BLOCK_ROWS
    assert _objective(X, y, sizes, False, lam=1.0)._data.block < _cython.BLOCK_ROWS
    assert_matches_oracle(fun(theta), loop_oracle(X, y, sizes, theta, lam=1.0))
