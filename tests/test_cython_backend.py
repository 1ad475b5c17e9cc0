"""The compiled ``cython`` backend: equivalence with the loop oracle, determinism,
input checks and build information.

Tolerances (``tests/_oracle.py``): in float64 the oracle's; in float32 the tighter
``CYTHON_FLOAT32_TOLERANCE``, the cost to rtol 1e-6 and the gradient to 1e-5 of its
largest entry.

The extension is built by the install: nothing here is skipped if it is missing.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nnfast
from nnfast._network import layer_offsets
from nnfast._validation import cpu_count
from nnfast.backends import get_backend
from nnfast.backends import _cython
from nnfast.backends._cython import CythonBackend, _fused

from _oracle import (CYTHON_FLOAT32_TOLERANCE, assert_cost_matches_oracle, assert_matches_oracle,
                     loop_oracle)
from conftest import random_problem

SIMD_LEVELS = _fused.simd_levels()


@pytest.fixture
def simd_level(request):
    """Run a test under one SIMD path, restoring the best one afterwards."""
    _fused.set_simd_level(request.param)
    yield request.param
    _fused.set_simd_level(None)


@pytest.fixture
def threads_even_when_small(monkeypatch):
    """Let small problems use several threads (normally they run on one)."""
    monkeypatch.setattr(_cython, "SERIAL_WORK", 0)


def _compare(X, y, sizes, theta, *, lam=0.0, loss="cross_entropy", n_threads=2):
    """Cost and gradient of the cython backend against the loop oracle."""
    dtype = np.asarray(X).dtype
    got = nnfast.Objective(X, y, sizes, lam=lam, loss=loss, backend="cython", n_threads=n_threads)
    J, g = got(theta)
    assert got.dtype == dtype
    oracle = loop_oracle(X, y, sizes, theta, lam=lam, loss=loss)
    if dtype == np.float32:
        assert_matches_oracle((J, g), oracle, tolerance=CYTHON_FLOAT32_TOLERANCE)
    else:
        assert_matches_oracle((J, g), oracle)
        # the cost alone (no backward pass) is the same number
        assert_cost_matches_oracle(got.cost(theta), oracle[0])
    assert g.dtype == np.float64 and g.shape == (nnfast.n_params(sizes),)
    return J, g


# ---------------------------------------------------------------- equivalence

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
@pytest.mark.parametrize("lam", [0.0, 1.0])
@pytest.mark.parametrize("sizes", [[400, 25, 10], [20, 7, 3], [30, 16, 9, 4], [12, 5, 6, 7, 3]],
                         ids=lambda s: "-".join(map(str, s)))
def test_matches_loop(sizes, lam, loss, dtype):
    # 203 rows: several blocks, not a multiple of the block size
    X, y, theta = random_problem(sizes, 203, seed=len(sizes), dtype=dtype)
    _compare(X, y, sizes, theta, lam=lam, loss=loss)


@pytest.mark.parametrize("simd_level", SIMD_LEVELS, indirect=True)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sizes", [[400, 25, 10], [37, 19, 5], [9, 33, 2, 4]],
                         ids=lambda s: "-".join(map(str, s)))
def test_every_simd_path_matches_loop(simd_level, sizes, dtype, threads_even_when_small):
    assert _fused.simd_level() == simd_level
    X, y, theta = random_problem(sizes, 131, seed=3, dtype=dtype)
    _compare(X, y, sizes, theta, lam=1.0, loss="cross_entropy")
    _compare(X, y, sizes, theta, loss="squared_error", n_threads=3)


@pytest.mark.parametrize("simd_level", SIMD_LEVELS, indirect=True)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
def test_every_simd_path_saturated_outputs(simd_level, dtype, loss):
    """Output logits from -700 to +700 (the activation, loss and error come from one exp)."""
    sizes = [6, 4, 3]
    rng = np.random.default_rng(11)
    X = (rng.standard_normal((45, 6)) * 40).astype(dtype)
    y = rng.integers(0, 3, 45)
    theta = rng.uniform(-1, 1, nnfast.n_params(sizes))
    theta[-3 * 5:] *= 150 if dtype == np.float64 else 15   # output weights: huge logits
    J, g = _compare(X, y, sizes, theta.astype(dtype), loss=loss)
    assert np.isfinite(J) and np.all(np.isfinite(g))
    h = nnfast.predict_proba(theta.astype(dtype), X, sizes, backend="cython")
    assert np.all((h >= 0) & (h <= 1))


def test_ex4_shape_matches_loop_float64():
    sizes = [400, 25, 10]
    rng = np.random.default_rng(7)
    X = rng.uniform(0, 1, (5000, 400))
    y = rng.integers(0, 10, 5000)
    theta = rng.uniform(-0.12, 0.12, nnfast.n_params(sizes))
    _compare(X, y, sizes, theta, lam=1.0)


def test_one_weight_layer_and_saturated_units():
    """Logistic regression (no hidden layer) with logits far in the tails."""
    sizes = [6, 3]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((70, 6)) * 60
    y = rng.integers(0, 3, 70)
    theta = rng.uniform(-1, 1, nnfast.n_params(sizes))
    J, g = _compare(X, y, sizes, theta)
    assert np.isfinite(J) and np.all(np.isfinite(g))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    m=st.integers(1, 150),
    widths=st.lists(st.integers(1, 40), min_size=2, max_size=5),
    dtype=st.sampled_from([np.float64, np.float32]),
    loss=st.sampled_from(["cross_entropy", "squared_error"]),
    lam=st.sampled_from([0.0, 1.0]),
    n_threads=st.integers(1, 4),
    layout=st.sampled_from(["C", "F", "strided"]),
    seed=st.integers(0, 2**16),
)
def test_property_matches_loop(m, widths, dtype, loss, lam, n_threads, layout, seed,
                               threads_even_when_small):
    """Any depth, widths down to 1, m down to 1 and below the thread count,
    m not a multiple of the block size, and inputs in any memory layout."""
    sizes = list(widths)
    X, y, theta = random_problem(sizes, m, seed=seed, dtype=dtype)
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "strided":
        wide = np.zeros((m, 2 * sizes[0]), dtype=dtype)
        wide[:, ::2] = X
        X = wide[:, ::2]
        assert X.size == 1 or not X.flags.c_contiguous
    theta_in = theta if seed % 2 else np.repeat(theta, 2)[::2]  # sometimes non-contiguous
    _compare(X, y, sizes, theta_in, lam=lam, loss=loss, n_threads=n_threads)


@pytest.mark.parametrize("m, sizes", [
    (1, [1, 1]), (1, [5, 1, 3]), (2, [3, 2, 1, 2]),   # fewer rows than threads
    (63, [17, 9, 4]), (65, [17, 9, 4]), (129, [8, 1, 8, 3]),  # around the block size
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_edge_shapes(m, sizes, dtype, threads_even_when_small):
    X, y, theta = random_problem(sizes, m, seed=m, dtype=dtype)
    for n_threads in (1, 4):
        _compare(X, y, sizes, theta, lam=1.0, n_threads=n_threads)


def test_forward_matches_loop():
    sizes = [30, 12, 7, 4]
    X, _, theta = random_problem(sizes, 150, seed=5)
    h = nnfast.predict_proba(theta, X, sizes, backend="cython", n_threads=2)
    h_ref = nnfast.predict_proba(theta, X, sizes, backend="loop")
    assert h.shape == (150, 4)
    np.testing.assert_allclose(h, h_ref, rtol=1e-12)
    h32 = nnfast.predict_proba(theta.astype(np.float32), X.astype(np.float32), sizes, backend="cython")
    assert h32.dtype == np.float32
    np.testing.assert_allclose(h32, h_ref, rtol=1e-5)


# ---------------------------------------------------------------- determinism

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_repeated_calls_are_bitwise_equal(dtype):
    sizes = [400, 25, 10]
    X, y, theta = random_problem(sizes, 3000, seed=11, dtype=dtype)
    obj = nnfast.Objective(X, y, sizes, backend="cython", n_threads=2)
    J0, g0 = obj(theta)
    for _ in range(5):
        J, g = obj(theta)
        assert J == J0
        np.testing.assert_array_equal(g, g0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_thread_counts_agree(dtype):
    sizes = [50, 20, 8, 10]
    X, y, theta = random_problem(sizes, 2000, seed=2, dtype=dtype)
    results = [nnfast.Objective(X, y, sizes, backend="cython", n_threads=n)(theta)
               for n in (1, 2, 3)]
    J1, g1 = results[0]
    for J, g in results[1:]:
        np.testing.assert_allclose(J, J1, rtol=1e-12)
        np.testing.assert_allclose(g, g1, rtol=1e-12, atol=1e-15 * np.abs(g1).max())
        # the split into chunks does not depend on the thread count: identical bits
        np.testing.assert_array_equal(g, g1)


def test_chunks_follow_the_machine_not_n_threads(monkeypatch):
    """4 chunks per core (so a 16-core machine can use 16 threads), capped by the blocks and
    the slab budget; on a given machine every thread count gives identical bits."""
    from nnfast.backends import _chunking

    n_par = nnfast.n_params([50, 20, 8, 10])
    assert _chunking.chunk_count(79, n_par, 8) == min(4 * cpu_count(), 79)
    monkeypatch.setattr(_chunking, "machine_cores", lambda: 16)
    assert _chunking.chunk_count(79, n_par, 8) == 64
    assert _chunking.chunk_count(16, n_par, 8) == 16                # one per block
    assert _chunking.chunk_count(79, 10**7, 8) == 1                 # 80 MB slabs: budget
    assert _chunking.threads_for(16, 64, 5000 * n_par, _cython.SERIAL_WORK) == 16
    assert _chunking.threads_for(16, 64, 10, _cython.SERIAL_WORK) == 1  # small work
    sizes = [50, 20, 8, 10]
    X, y, theta = random_problem(sizes, 3000, seed=5)
    results = [nnfast.Objective(X, y, sizes, backend="cython", n_threads=n)(theta)
               for n in (1, 2, 5, 16)]
    for J, g in results[1:]:
        assert J == results[0][0]
        np.testing.assert_array_equal(g, results[0][1])
    assert_matches_oracle(results[0], loop_oracle(X, y, sizes, theta))


def test_block_rows_fit_a_block_in_l2():
    """Blocks shrink (48, then 32 rows) only when a block's rows and panel and the first
    layer's weights and gradient slab then fit in 3/4 of L2; never for a network whose
    first layer alone fills it, nor when L2's size is unknown."""
    block_rows = _cython.block_rows
    kb = 1 << 10
    assert block_rows([400, 25, 10], 8, 512 * kb) == 32     # ex4 float64, AMD Zen 3
    assert block_rows([400, 25, 10], 4, 512 * kb) == 64     # float32: 64 rows fit
    assert block_rows([400, 25, 10], 8, 1024 * kb) == 64    # AMD Zen 4's 1 MB
    assert block_rows([400, 60, 10], 8, 1024 * kb) == 48
    assert block_rows([784, 100, 10], 8, 512 * kb) == _cython.BLOCK_ROWS
    assert block_rows([784, 100, 10], 4, 2048 * kb) == _cython.BLOCK_ROWS
    assert block_rows([400, 25, 10], 8, 0) == _cython.BLOCK_ROWS   # unknown L2
    assert block_rows(None, 8, 512 * kb) == _cython.BLOCK_ROWS     # no network given
    size = _cython.l2_cache_bytes()
    assert size is None or size >= 16 * kb


@pytest.mark.parametrize("entries, expected", [
    ({"index0": ("1", "Data", "32K"), "index2": ("2", "Unified", "512K")}, 512 * 1024),
    ({"index1": ("1", "Instruction", "32K"), "index3": ("2", "Unified", "1M")}, 1 << 20),
    ({"index0": ("1", "Data", "48K"), "index3": ("3", "Unified", "32M")}, None),
    ({"index2": ("2", "Unified", "lots")}, None),
    ({}, None),
])
def test_l2_size_read_from_sysfs(tmp_path, entries, expected):
    for name, (level, kind, size) in entries.items():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "level").write_text(level + "\n")
        (folder / "type").write_text(kind + "\n")
        (folder / "size").write_text(size + "\n")
    assert _cython.l2_cache_bytes(str(tmp_path)) == expected
    assert _cython.l2_cache_bytes(str(tmp_path / "missing")) is None


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("l2_kb, rows", [(512, 32), (700, 48), (4096, 64)])
def test_block_sizes_match_loop_and_agree(monkeypatch, dtype, l2_kb, rows):
    """The same network in blocks of 32, 48 and 64 rows: the oracle's results (the rows
    sum in another grouping, so not the same bits), identical bits for every thread
    count, and one-shot data in blocks of the same size."""
    sizes = [400, 25, 10]
    itemsize = np.dtype(dtype).itemsize
    monkeypatch.setattr(_cython, "l2_cache_bytes", lambda: l2_kb * 1024 * itemsize // 8)
    assert _cython.block_rows(sizes, itemsize) == rows
    X, y, theta = random_problem(sizes, 1000, seed=4, dtype=dtype)
    results = [nnfast.Objective(X, y, sizes, lam=1.0, backend="cython", n_threads=n)
               for n in (1, 2)]
    assert all(obj._data.block == rows for obj in results)
    (J1, g1), (J2, g2) = (obj(theta) for obj in results)
    assert J1 == J2
    np.testing.assert_array_equal(g1, g2)
    oracle = loop_oracle(X, y, sizes, theta, lam=1.0)
    if dtype == np.float32:
        assert_matches_oracle((J1, g1), oracle, tolerance=CYTHON_FLOAT32_TOLERANCE)
    else:
        assert_matches_oracle((J1, g1), oracle)
    once = nnfast.Objective(X, y, sizes, lam=1.0, backend="cython", n_threads=2, reuse=False)
    assert once._data.block == rows and once._data.XP is None
    J, g = once(theta)
    np.testing.assert_allclose(J, J1, rtol=1e-12 if dtype == np.float64 else 1e-6)
    np.testing.assert_allclose(g, g1, rtol=0, atol=(1e-12 if dtype == np.float64 else 1e-5)
                               * np.abs(g1).max())


@pytest.mark.parametrize("sparse", [False, True])
def test_prepared_data_pickles(sparse):
    """Prepared data (panels of X, or X's rows in CSR when it is mostly zeros) pickle."""
    import pickle

    backend, sizes, offsets, data, theta = _ex4_call_args(m=70, sparse=sparse)
    assert (data.csr is not None) == sparse and (data.XP is None) == sparse
    g1, g2 = np.empty_like(theta), np.empty_like(theta)
    J1 = backend.loss_grad_sum(theta, sizes, offsets, data, "cross_entropy", 2, g1)
    copy = pickle.loads(pickle.dumps(data))
    J2 = backend.loss_grad_sum(theta, sizes, offsets, copy, "cross_entropy", 2, g2)
    assert J1 == J2
    np.testing.assert_array_equal(g1, g2)


# ---------------------------------------------------------------- bad input

def _ex4_call_args(dtype=np.float64, m=20, sparse=False):
    backend = get_backend("cython")
    sizes = (8, 5, 3)
    X, y, theta = random_problem(list(sizes), m, dtype=dtype)
    if sparse:
        X[np.random.default_rng(1).random(X.shape) < 0.8] = 0
    Y = np.eye(3, dtype=dtype)[y]
    data = backend.prepare(X, Y)
    return backend, sizes, layer_offsets(sizes), data, theta


def _prepare_and_call(X, Y):
    """Prepare X, Y (of 3 inputs and 2 outputs) and evaluate once."""
    backend = CythonBackend()
    sizes = (3, 2, 2)
    theta = np.zeros(nnfast.n_params(sizes))
    data = backend.prepare(X, Y)
    return backend.loss_grad_sum(theta, sizes, layer_offsets(sizes), data, "cross_entropy", 1,
                                 np.empty_like(theta))


# Arrays that break the contract of Backend.prepare (nnfast._validation refuses them
# first): an assertion of the backend or the kernel's entry names what is wrong.
@pytest.mark.parametrize("X, Y, exc, match", [
    (np.ones((4, 3), dtype=np.int64), np.zeros((4, 2)), AssertionError, "float64 or float32"),
    (np.ones((4, 3)), np.zeros((4, 2), dtype=np.float32), ValueError, "dtype mismatch"),
    (np.ones((4, 3)).tolist(), np.zeros((4, 2)), AssertionError, "ndarray"),
    (np.ones(3), np.zeros((4, 2)), AssertionError, "2-D"),
    (np.ones((0, 3)), np.zeros((0, 2)), ValueError, "inconsistent X"),
    (np.asfortranarray(np.ones((4, 3))), np.zeros((4, 2)), ValueError, "C-contiguous"),
    (np.ones((4, 3)), np.zeros((5, 2)), ValueError, "inconsistent targets"),
], ids=["int X", "Y dtype", "list", "1-D", "empty", "Fortran", "rows"])
def test_prepared_bad_arrays_are_refused(X, Y, exc, match):
    with pytest.raises(exc, match=match):
        _prepare_and_call(X, Y)


def test_loss_grad_sum_rejects_bad_input():
    backend, sizes, offsets, data, theta = _ex4_call_args()
    grad = np.empty_like(theta)
    ok = backend.loss_grad_sum(theta, sizes, offsets, data, "cross_entropy", 2, grad)
    assert np.isfinite(ok)

    # calls that break the contract of Backend.loss_grad_sum (nnfast._validation refuses
    # such input first): the backend's assertions or the kernel's entry say what is wrong
    bad_calls = [
        # (exception, message, args)
        (ValueError, "C-contiguous", (np.repeat(theta, 2)[::2], sizes, offsets, data, "cross_entropy", 1, grad)),
        (ValueError, "dtype mismatch", (theta.astype(np.float32), sizes, offsets, data, "cross_entropy", 1, grad)),
        (AssertionError, "shape", (theta[:-1], sizes, offsets, data, "cross_entropy", 1, grad)),
        (AssertionError, "shape", (theta.reshape(1, -1), sizes, offsets, data, "cross_entropy", 1, grad)),
        (AssertionError, "ndarray", (list(theta), sizes, offsets, data, "cross_entropy", 1, grad)),
        (ValueError, "gradient buffer", (theta, sizes, offsets, data, "cross_entropy", 1, grad[:-1])),
        (ValueError, "dtype mismatch", (theta, sizes, offsets, data, "cross_entropy", 1, grad.astype(np.float32))),
        (ValueError, "C-contiguous", (theta, sizes, offsets, data, "cross_entropy", 1,
                                      np.empty(2 * theta.size)[::2])),
        (AssertionError, "loss", (theta, sizes, offsets, data, "hinge", 1, grad)),
        (AssertionError, "n_threads", (theta, sizes, offsets, data, "cross_entropy", 0, grad)),
        (AssertionError, "n_threads", (theta, sizes, offsets, data, "cross_entropy", 1.5, grad)),
        (ValueError, "inconsistent X", ((np.zeros(nnfast.n_params((9, 5, 3))), (9, 5, 3),
                                         layer_offsets((9, 5, 3)), data, "cross_entropy", 1,
                                         np.empty(nnfast.n_params((9, 5, 3)))))),
        (ValueError, "inconsistent targets", ((np.zeros(nnfast.n_params((8, 5, 4))), (8, 5, 4),
                                               layer_offsets((8, 5, 4)), data, "cross_entropy", 1,
                                               np.empty(nnfast.n_params((8, 5, 4)))))),
        (AssertionError, "offsets", (theta, sizes, layer_offsets((8, 6, 3)), data, "cross_entropy", 1, grad)),
        (AssertionError, "offsets", (theta, (8, 0, 3), offsets, data, "cross_entropy", 1, grad)),
        (AssertionError, "prepare", (theta, sizes, offsets, (data.X, data.YT), "cross_entropy", 1, grad)),
    ]
    for exc, match, args in bad_calls:
        with pytest.raises(exc, match=match):
            backend.loss_grad_sum(*args)
    read_only = np.empty_like(theta)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        backend.loss_grad_sum(theta, sizes, offsets, data, "cross_entropy", 1, read_only)


def test_forward_rejects_bad_input():
    backend, sizes, offsets, data, theta = _ex4_call_args()
    with pytest.raises(ValueError, match="inconsistent X"):
        backend.forward(theta, offsets, np.ones((3, 9)), 1)
    with pytest.raises(ValueError, match="inconsistent X"):
        backend.forward(theta, offsets, np.ones((0, 8)), 1)
    with pytest.raises(AssertionError, match="shape"):
        backend.forward(theta[:-2], offsets, np.ones((3, 8)), 1)
    with pytest.raises(TypeError, match="signature"):
        backend.forward(theta.astype(np.int64), offsets, np.ones((3, 8)), 1)
    with pytest.raises(AssertionError, match="offsets is empty"):
        backend.forward(theta, (), np.ones((3, 8)), 1)
    # a non-contiguous or differently typed X is converted, not refused
    h = backend.forward(theta, offsets, np.asfortranarray(np.ones((3, 8), dtype=np.float32)), 1)
    assert h.shape == (3, 3) and h.dtype == theta.dtype


def test_objective_level_errors_are_clear():
    sizes = [8, 5, 3]
    X, y, theta = random_problem(sizes, 10)
    obj = nnfast.Objective(X, y, sizes, backend="cython")
    with pytest.raises(ValueError, match="length"):
        obj(theta[:-1])
    with pytest.raises(ValueError, match="NaN"):
        obj(np.full_like(theta, np.nan))


# ---------------------------------------------------------------- build information

def test_build_info_reports_openmp_and_simd():
    info = get_backend("cython").build_info()
    assert info["openmp"] is True, "this build should have found OpenMP (gcc -fopenmp)"
    assert "-fopenmp" in info["flags"]
    assert "-march=native" not in info["flags"] or "NNFAST_NATIVE" in __import__("os").environ
    assert info["simd"] in SIMD_LEVELS and info["simd"] == SIMD_LEVELS[0]
    assert nnfast.backends.backend_status()["cython"][0] is True
    # when prepared data skip X's zeros, with the threshold in force
    assert f"{_cython.SPARSE_DENSITY:.0%}" in info["sparse first layer"]


def test_set_simd_level_validates():
    with pytest.raises(ValueError, match="not available"):
        _fused.set_simd_level("avx1024")
    previous = _fused.set_simd_level(SIMD_LEVELS[-1])
    try:
        assert _fused.simd_level() == SIMD_LEVELS[-1]
    finally:
        _fused.set_simd_level(None)
    assert _fused.simd_level() == previous == SIMD_LEVELS[0]


# ---------------------------------------------------------------- saturation

def _saturating_problem(dtype, scale):
    """Hidden and output logits from about -scale to +scale, many past exp's overflow."""
    sizes = [5, 6, 3]
    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, (40, 5))
    y = rng.integers(0, 3, 40)
    theta = rng.uniform(-1, 1, nnfast.n_params(sizes)) * scale
    return sizes, X.astype(dtype), y, theta.astype(dtype)


@pytest.mark.parametrize("simd_level", SIMD_LEVELS, indirect=True)
@pytest.mark.parametrize("dtype, scale", [(np.float64, 900.0), (np.float32, 120.0)])
def test_every_simd_path_saturates_to_exact_zero(simd_level, dtype, scale):
    """Logits past exp's overflow give activations of exactly 0 and 1, as scipy's expit
    does (the compiled exp once stopped at 3.3e-308 / 6e-39, so a saturated unit still
    passed on a tiny gradient that the oracle does not have)."""
    # against the loop oracle: numpy's result depends on its BLAS (on AMD Zen 3 with
    # OpenBLAS's Haswell kernels it gave exactly 0 for a gradient entry of 1.6e-174
    # that the oracle and every SIMD level agree on; on Intel it did not)
    sizes, X, y, theta = _saturating_problem(dtype, scale)
    h_ref = nnfast.predict_proba(theta, X, sizes, backend="loop")
    h = nnfast.predict_proba(theta, X, sizes, backend="cython")
    assert np.any(h_ref == 0) and np.any(h_ref == 1)
    np.testing.assert_array_equal(h == 0, h_ref == 0)
    np.testing.assert_array_equal(h == 1, h_ref == 1)
    J, g = nnfast.cost_grad(theta, X, y, sizes, backend="cython")
    J_ref, g_ref = nnfast.cost_grad(theta, X, y, sizes, backend="loop")
    np.testing.assert_array_equal(g == 0, g_ref == 0)
    np.testing.assert_allclose(J, J_ref, rtol=1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("backend", ["numpy", "cython"], indirect=True)
def test_gradient_check_passes_on_huge_inputs(backend):
    """Inputs scaled by 1e300 saturate every hidden unit: the check must pass as it
    does for numpy (a 1e-308 floor on the sigmoid times 1e300 was a gradient of 1e-8)."""
    sizes = [4, 5, 3]
    rng = np.random.default_rng(2)
    X = rng.uniform(-1, 1, (30, 4)) * 1e300
    y = rng.integers(0, 3, 30)
    report = nnfast.gradient_check(X=X, y=y, layer_sizes=sizes, backend=backend, random_state=0)
    assert report.passed, report


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("offset", range(0, 16, 3))
def test_rows_of_X_at_any_offset_in_a_cache_line(dtype, offset):
    """The gradient tiles start at the first cache-line aligned feature of the rows
    (when every row starts at the same offset in its line); the features before it
    go through the dot products.  Any start of X gives the oracle's answer."""
    sizes = [32, 7, 3]                      # rows of 256 or 128 bytes: whole lines
    rng = np.random.default_rng(offset)
    m = 150
    buf = np.empty(m * sizes[0] + 64, dtype=dtype)
    start = (-buf.ctypes.data // np.dtype(dtype).itemsize) % 16 + offset
    X = buf[start:start + m * sizes[0]].reshape(m, sizes[0])
    X[...] = rng.uniform(-1, 1, X.shape)
    assert X.ctypes.data % 64 == (offset * np.dtype(dtype).itemsize) % 64
    y = rng.integers(0, 3, m)
    theta = rng.uniform(-0.5, 0.5, nnfast.n_params(sizes)).astype(dtype)
    _compare(X, y, sizes, theta, lam=1.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_results_do_not_depend_on_where_X_starts(dtype):
    """The same values of X at any offset in a cache line give the same bits (the
    features before the first aligned one are summed exactly as the tiles sum)."""
    sizes = [64, 9, 4]
    rng = np.random.default_rng(1)
    m = 130
    values = rng.uniform(-1, 1, (m, sizes[0])).astype(dtype)
    y = rng.integers(0, 4, m)
    theta = rng.uniform(-0.5, 0.5, nnfast.n_params(sizes)).astype(dtype)
    itemsize = np.dtype(dtype).itemsize
    results = []
    for offset in range(64 // itemsize):
        buf = np.empty(values.size + 64, dtype=dtype)
        start = (-buf.ctypes.data // itemsize) % (64 // itemsize) + offset
        X = buf[start:start + values.size].reshape(values.shape)
        X[...] = values
        assert X.ctypes.data % 64 == offset * itemsize
        results.append(nnfast.Objective(X, y, sizes, lam=1.0, backend="cython")(theta))
    for J, g in results[1:]:
        assert J == results[0][0]
        np.testing.assert_array_equal(g, results[0][1])
