"""Bad input gets a clear error naming the argument; good input is never modified."""

import numpy as np
import pytest
from conftest import random_problem

import nnfast
from nnfast import Objective

SIZES = (4, 3, 2)


@pytest.fixture
def problem():
    return random_problem(SIZES, 6, seed=1)


def test_inputs_are_not_modified(backend, problem):
    X, y, theta = problem
    copies = [a.copy() for a in (X, y, theta)]
    Y = np.eye(2)[y]
    Y_copy = Y.copy()
    nnfast.cost_grad(theta, X, y, SIZES, lam=1.0, backend=backend)
    nnfast.cost_grad(theta, X, Y, SIZES, lam=1.0, backend=backend, dtype=np.float32)
    nnfast.predict(theta, X, SIZES, backend=backend)
    for a, b in zip((X, y, theta), copies):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(Y, Y_copy)


def test_x_width_mismatch(problem):
    X, y, theta = problem
    with pytest.raises(ValueError, match=r"X has 5 columns but layer_sizes\[0\] is 4"):
        Objective(np.hstack([np.ones((6, 1)), X]), y, SIZES)


def test_theta_wrong_length_states_expected(problem):
    X, y, theta = problem
    obj = Objective(X, y, SIZES)
    with pytest.raises(ValueError, match=r"theta has length 22, expected 23"):
        obj(theta[:-1])
    with pytest.raises(ValueError, match="theta must be a flat vector of length 23"):
        obj(theta.reshape(1, -1))


@pytest.mark.parametrize("labels, match", [
    (np.array([0, 1, 2, 0, 1, 0]), r"must lie in \[0, 1\]"),
    (np.array([0, 1, -1, 0, 1, 0]), r"must lie in \[0, 1\]"),
    (np.array([0, 1, 0.5, 0, 1, 0]), "whole numbers"),
    (np.array([0, 1, 0]), "3 labels but X has 6 rows"),
    (np.full((6, 2), 2.0), r"values in \[0, 1\]"),
    (np.zeros((6, 3)), "class indices of shape"),
])
def test_bad_labels(problem, labels, match):
    X, _, _ = problem
    with pytest.raises(ValueError, match=match):
        Objective(X, labels, SIZES)


def test_ex4_style_labels_get_a_hint():
    X = np.zeros((3, 4))
    with pytest.raises(ValueError, match="load_ex4_data"):
        Objective(X, np.array([1, 2, 10]), [4, 10])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_inf_in_X(problem, bad):
    X, y, _ = problem
    X = X.copy()
    X[2, 3] = bad
    with pytest.raises(ValueError, match=r"X contains NaN or inf \(first at row 2, column 3\)"):
        Objective(X, y, SIZES)


def test_nan_in_theta(problem):
    X, y, theta = problem
    theta = theta.copy()
    theta[5] = np.nan
    with pytest.raises(ValueError, match=r"theta contains NaN or inf \(first at index 5\)"):
        nnfast.cost_grad(theta, X, y, SIZES)


def test_empty_and_1d_X(problem):
    X, y, _ = problem
    with pytest.raises(ValueError, match="X is empty"):
        Objective(X[:0], y[:0], SIZES)
    with pytest.raises(ValueError, match=r"X must be 2-D.*reshape\(1, -1\)"):
        Objective(X[0], y[:1], SIZES)


@pytest.mark.parametrize("dtype", [np.int64, np.uint8, bool])
def test_integer_X_is_rejected_with_advice(problem, dtype):
    X, y, _ = problem
    with pytest.raises(TypeError, match=r"X must hold floating-point values.*dtype"):
        Objective((X > 0).astype(dtype), y, SIZES)


def test_string_X_and_theta():
    with pytest.raises(TypeError, match="X must hold floating-point"):
        Objective(np.array([["a"] * 4]), [0], SIZES)
    obj = Objective(np.zeros((1, 4)), [0], SIZES)
    with pytest.raises(TypeError, match="theta must be a float vector"):
        obj(np.array(["x"] * 23))


def test_fortran_and_strided_inputs_give_same_result(backend):
    X, y, theta = random_problem(SIZES, 9, seed=4)
    ref = nnfast.cost_grad(theta, X, y, SIZES, lam=1.0, backend=backend)
    big = np.zeros((18, 8))
    big[::2, ::2] = X
    theta_strided = np.repeat(theta, 2)[::2]
    for Xv, tv in ((np.asfortranarray(X), theta), (big[::2, ::2], theta_strided)):
        assert not Xv.flags.c_contiguous
        got = nnfast.cost_grad(tv, Xv, y, SIZES, lam=1.0, backend=backend)
        assert got[0] == ref[0]
        np.testing.assert_array_equal(got[1], ref[1])


def test_list_inputs_work():
    J, g = nnfast.cost_grad([0.0] * 23, [[0.0, 1.0, 2.0, 3.0]], [1], list(SIZES), backend="numpy")
    assert J == pytest.approx(2 * np.log(2))


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(lam=-1.0), ValueError, "lam must be finite and >= 0"),
    (dict(lam=np.nan), ValueError, "lam"),
    (dict(lam="1"), TypeError, "lam must be a real number"),
    (dict(loss="hinge"), ValueError, r"loss must be one of \['cross_entropy', 'squared_error'\]"),
    (dict(n_threads=0), ValueError, "n_threads must be >= 1"),
    (dict(n_threads=1.5), TypeError, "n_threads"),
    (dict(dtype=np.float16), TypeError, "dtype must be float64 or float32"),
    (dict(dtype="int32"), TypeError, "dtype must be float64 or float32"),
])
def test_bad_options(problem, kwargs, exc, match):
    X, y, _ = problem
    with pytest.raises(exc, match=match):
        Objective(X, y, SIZES, **kwargs)


def test_unknown_backend_lists_valid_ones(problem):
    X, y, theta = problem
    with pytest.raises(ValueError, match=r"backend must be one of 'auto', .*'numpy'.*'loop'.*got 'torch'"):
        nnfast.cost_grad(theta, X, y, SIZES, backend="torch")


def test_unavailable_backend_says_why(problem, register_test_backend):
    from nnfast.backends import BackendUnavailable

    X, y, _ = problem
    register_test_backend("broken", "nnfast.backends._does_not_exist:Nothing")
    with pytest.raises(BackendUnavailable, match=r"'broken' is not available here: .*No module named"):
        Objective(X, y, SIZES, backend="broken")
    assert "broken" not in nnfast.available_backends()


def test_dtype_follows_X_and_can_be_forced(problem):
    X, y, theta = problem
    assert Objective(X.astype(np.float32), y, SIZES).dtype == np.float32
    assert Objective(X, y, SIZES, dtype="float32").dtype == np.float32
    assert Objective(X.astype(np.float32), y, SIZES, dtype=np.float64).dtype == np.float64


def test_cpu_count_respects_affinity_and_quota():
    import os

    import joblib

    from nnfast._validation import cpu_count

    n = cpu_count()
    assert n == joblib.cpu_count(only_physical_cores=False)
    if hasattr(os, "sched_getaffinity"):
        assert 1 <= n <= len(os.sched_getaffinity(0))


def test_cpu_count_is_read_at_most_once_a_second(monkeypatch):
    # the numpy backend asks for it on every evaluation; reading cgroup files each time
    # cost ~0.2 ms per call
    from nnfast import _validation

    reads = []
    monkeypatch.setattr(_validation, "_read_cpu_count", lambda: reads.append(1) or 3)
    monkeypatch.setattr(_validation, "_CPU_COUNT_CACHE", [float("-inf"), 1])
    assert [_validation.cpu_count() for _ in range(50)] == [3] * 50
    assert len(reads) == 1
    monkeypatch.setattr(_validation, "_CPU_COUNT_TTL", -1.0)
    _validation.cpu_count()
    assert len(reads) == 2


def test_units_major_targets_are_the_same_values_transposed_in_memory():
    from nnfast._validation import check_targets
    y = np.array([2, 0, 1, 2, 1])
    rows = check_targets(y, 5, 3, np.float32)
    units = check_targets(y, 5, 3, np.float32, units_major=True)
    np.testing.assert_array_equal(units, rows)
    assert rows.flags.c_contiguous and units.T.flags.c_contiguous and units.dtype == np.float32
    # a target matrix is taken as given, in rows, either way
    Y = np.eye(3)[y]
    assert check_targets(Y, 5, 3, np.float64, units_major=True).flags.c_contiguous
    # and the checks are the same: out-of-range labels are refused
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\]"):
        check_targets(np.array([0, 3, 1, 1, 1]), 5, 3, np.float64, units_major=True)
