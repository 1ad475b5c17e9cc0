"""Every public entry point that takes weights or layer sizes checks them the same way.

theta goes through one checker (complex, bad shapes, NaN are refused everywhere, never
silently converted), and layer sizes are checked against theta and against the memory
they would need before anything of their size is allocated.
"""

import copy
import warnings

import numpy as np
import pytest

import nnfast
from nnfast import plots
from nnfast.training import validation_curve

SIZES = [6, 4, 3]
N = nnfast.n_params(SIZES)
FAST = dict(backend="numpy", n_threads=1)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    return rng.random((12, 6)), np.arange(12) % 3


def assert_unchanged(value, before):
    """``value`` holds exactly what its deep copy ``before`` holds (NaN included)."""
    if isinstance(value, np.ndarray):
        assert value.dtype == before.dtype and value.shape == before.shape
        assert value.tobytes() == before.tobytes()
    else:
        assert repr(value) == repr(before)


def theta_entry_points(X, y):
    """name -> call(theta) for every public function that takes weights."""
    obj = nnfast.Objective(X, y, SIZES, lam=1.0, **FAST)
    return {
        "cost": lambda t: nnfast.cost(t, X, y, SIZES, **FAST),
        "cost_grad": lambda t: nnfast.cost_grad(t, X, y, SIZES, **FAST),
        "predict": lambda t: nnfast.predict(t, X, SIZES, **FAST),
        "predict_proba": lambda t: nnfast.predict_proba(t, X, SIZES, **FAST),
        "Objective.__call__": obj,
        "Objective.cost": obj.cost,
        "Objective.grad": obj.grad,
        "train(theta0=)": lambda t: nnfast.train(X, y, SIZES, theta0=t, max_iter=2,
                                                 progress=False, **FAST),
        "validation_curve(theta0=)": lambda t: validation_curve(
            X, y, SIZES, lams=(0, 1), theta0=t, max_iter=2, progress=False, **FAST),
        "plot_hidden_units": lambda t: plots.plot_hidden_units(t, SIZES, image_shape=(2, 3)),
    }


BAD_THETAS = {
    "complex": (lambda: np.zeros(N) + 0.5j, TypeError, r"float vector \(real numbers\), got dtype complex"),
    "object": (lambda: np.array([None] * N), TypeError, "got dtype object"),
    "strings": (lambda: np.array(["0.1"] * N), TypeError, "float vector"),
    "bool": (lambda: np.zeros(N, dtype=bool), TypeError, "got dtype bool"),
    "2-D": (lambda: np.zeros((1, N)), ValueError, rf"flat vector of length {N}, got shape \(1, {N}\)"),
    "short": (lambda: np.zeros(N - 1), ValueError, rf"has length {N - 1}, expected {N}"),
    "NaN": (lambda: np.r_[np.zeros(N - 1), np.nan], ValueError, rf"contains NaN or inf \(first at index {N - 1}\)"),
    "inf": (lambda: np.r_[np.inf, np.zeros(N - 1)], ValueError, r"contains NaN or inf \(first at index 0\)"),
    "ragged": (lambda: [[0.0], [0.0, 1.0]], ValueError, "rectangular numeric array"),
}


@pytest.mark.parametrize("case", sorted(BAD_THETAS))
def test_every_entry_point_refuses_the_same_bad_theta(data, case):
    make, exc, match = BAD_THETAS[case]
    for name, call in theta_entry_points(*data).items():
        argument = "theta0" if "theta0" in name else "theta"
        theta = make()
        before = copy.deepcopy(theta)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. ComplexWarning: nothing converted silently
            with pytest.raises(exc, match=match) as info:
                call(theta)
        assert argument in str(info.value), (name, str(info.value))
        assert_unchanged(theta, before)


def test_integer_theta_is_taken_as_its_float_values_everywhere(data):
    X, y = data
    as_int = np.arange(N) % 3 - 1
    for name, call in theta_entry_points(X, y).items():
        if name.startswith(("train", "validation_curve", "plot")):
            continue  # these return fits/figures; their acceptance is checked below
        got, ref = call(as_int), call(as_int.astype(np.float64))
        if isinstance(got, tuple):
            assert got[0] == ref[0]
            np.testing.assert_array_equal(got[1], ref[1])
        else:
            np.testing.assert_array_equal(got, ref)
    res = nnfast.train(X, y, SIZES, theta0=as_int, max_iter=1, progress=False, **FAST)
    assert res.cost_history[0] == nnfast.cost(as_int.astype(float), X, y, SIZES, lam=1.0, **FAST)


def test_float32_overflow_of_theta_is_named(data):
    X, y = data
    theta = np.zeros(N)
    theta[2] = 1e39  # finite in float64, inf in float32
    with pytest.raises(ValueError, match=r"theta contains NaN or inf \(first at index 2\); "
                                         r"its value .* does not fit in float32"):
        nnfast.cost(theta, X, y, SIZES, dtype=np.float32, **FAST)


HUGE = [6, 10 ** 9, 3]


def test_layer_sizes_are_checked_against_theta_before_any_allocation(data):
    X, y = data
    theta = np.zeros(N)
    expected = rf"theta has length {N}, expected {nnfast.n_params(HUGE)} for layer_sizes \[6, 1000000000, 3\]"
    for call in (nnfast.cost, nnfast.cost_grad):
        with pytest.raises(ValueError, match=expected):
            call(theta, X, y, HUGE, **FAST)
    with pytest.raises(ValueError, match=expected):
        nnfast.predict(theta, X, HUGE, **FAST)
    with pytest.raises(ValueError, match=expected.replace("theta", "theta0", 1)):
        nnfast.train(X, y, HUGE, theta0=theta, progress=False, **FAST)


@pytest.mark.parametrize("sizes", [HUGE, [6, 3, 10 ** 10], [6, 4, 10 ** 5, 10 ** 5, 3]])
def test_absurd_layer_sizes_are_refused_with_the_memory_they_need(data, sizes):
    X, y = data
    y = np.zeros(12, dtype=np.int64)  # valid for any number of outputs
    match = (rf"layer_sizes {sizes!r}".replace("[", r"\[").replace("]", r"\]")
             + r" is too large for this machine: .* parameters .*need at least .* GiB of memory, "
             r"but .* GiB is available")
    calls = [
        lambda: nnfast.Objective(X, y, sizes, **FAST),
        lambda: nnfast.train(X, y, sizes, progress=False, **FAST),
        lambda: nnfast.init_theta(sizes),
        lambda: validation_curve(X, y, sizes, lams=(0,), progress=False, **FAST),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=match):
            call()


def test_estimator_names_hidden_layer_sizes_when_too_large(data):
    X, y = data
    with pytest.raises(ValueError, match=r"hidden_layer_sizes \(1000000000,\) \(network "
                                         r"\[6, 1000000000, 3\]\) is too large"):
        nnfast.NNClassifier(hidden_layer_sizes=(10 ** 9,), **FAST).fit(X, y)


@pytest.mark.parametrize("hidden, exc, match", [
    ((0,), ValueError, r"hidden_layer_sizes\[0\] must be at least 1, got 0"),
    ((5, -2), ValueError, r"hidden_layer_sizes\[1\] must be at least 1, got -2"),
    ((2.5,), TypeError, r"hidden_layer_sizes\[0\] must be an integer, got 2.5"),
    ("25", TypeError, "hidden_layer_sizes must be a tuple of positive integers"),
    (None, TypeError, "hidden_layer_sizes must be a tuple of positive integers"),
])
def test_estimator_hidden_layer_sizes_are_named(data, hidden, exc, match):
    X, y = data
    with pytest.raises(exc, match=match):
        nnfast.NNClassifier(hidden_layer_sizes=hidden, **FAST).fit(X, y)


def test_memory_estimate_is_a_lower_bound_that_admits_real_networks(monkeypatch):
    from nnfast import _network

    # ex4 and a wide MNIST network fit easily in a few GiB
    monkeypatch.setattr(_network, "available_memory", lambda: 2 << 30)
    _network.check_network_memory((400, 25, 10), 5000)
    _network.check_network_memory((784, 1000, 10), 60000)
    # theta and gradient of 10**8 float64 parameters alone are 1.5 GiB: refused with 1 GiB
    monkeypatch.setattr(_network, "available_memory", lambda: 1 << 30)
    with pytest.raises(ValueError, match=r"100,000,000 parameters"):
        _network.check_network_memory((99_999_999, 1), 10)


def test_small_networks_do_not_read_the_free_memory(monkeypatch):
    # a mini-batch method builds an Objective per batch: no /proc read for each
    from nnfast import _network

    reads = []
    monkeypatch.setattr(_network, "available_memory", lambda: reads.append(1) or 1 << 40)
    nnfast.Objective(np.zeros((64, 64)), np.zeros(64, dtype=int), [64, 25, 10], **FAST)
    assert reads == []
    _network.check_network_memory((784, 100, 10), 60000)  # about 6 MB: not compared
    assert reads == []
    _network.check_network_memory((784, 10 ** 5, 10), 60000)  # about 1.2 GB: compared
    assert len(reads) == 1
