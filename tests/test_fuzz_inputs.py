"""Property tests: bad input to any public entry point is a clear error, and never modified.

For each kind of bad argument (theta, X, y, layer sizes, options), hypothesis draws
bad values and every public entry point that takes that argument must raise a
ValueError or TypeError (no other exception type: no MemoryError, IndexError,
ComplexWarning, private exception...) whose message names the argument; the
arguments it was given are unchanged afterwards.  Only the cheap ``numpy`` backend
on a 4 -> 3 -> 2 network, so the whole file takes seconds.
"""

import copy
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nnfast
from nnfast._activations import ACTIVATIONS, OUTPUTS
from nnfast import plots
from nnfast.training import validation_curve

SIZES = (4, 3, 2)
N = nnfast.n_params(SIZES)
M = 6
FAST = dict(backend="numpy", n_threads=1)
QUICK = dict(max_iter=2, progress=False, **FAST)
FUZZ = settings(max_examples=25, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def problem():
    rng = np.random.default_rng(0)
    return rng.random((M, SIZES[0])), np.arange(M) % SIZES[-1], rng.uniform(-1, 1, N)


def snapshot(values):
    return [copy.deepcopy(v) for v in values]


def same(a, b):
    """``a`` holds exactly what its earlier deep copy ``b`` held (NaN equal to NaN)."""
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, (float, complex, np.floating, np.complexfloating)):
        return type(a) is type(b) and (a == b or (a != a and b != b))  # NaN is NaN
    return type(a) is type(b) and a == b


def assert_clear_error(call, argument, inputs):
    """``call()`` raises ValueError/TypeError naming ``argument``; ``inputs`` unchanged."""
    before = snapshot(inputs)
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    message = str(info.value)
    assert re.search(rf"(?<![\w.]){re.escape(argument)}(?!\w)", message), (argument, message)
    for now, then in zip(inputs, before):
        assert same(now, then), f"an input was modified by a call that failed with: {message}"


def entry_points(theta, X, y, sizes=SIZES):
    """name -> call() of every public function that takes data and layer sizes."""
    return {
        "cost": lambda: nnfast.cost(theta, X, y, sizes, **FAST),
        "cost_grad": lambda: nnfast.cost_grad(theta, X, y, sizes, **FAST),
        "predict": lambda: nnfast.predict(theta, X, sizes, **FAST),
        "predict_proba": lambda: nnfast.predict_proba(theta, X, sizes, **FAST),
        "Objective": lambda: nnfast.Objective(X, y, sizes, **FAST),
        "train": lambda: nnfast.train(X, y, sizes, **QUICK),
        "validation_curve": lambda: validation_curve(X, y, sizes, lams=(0,), **QUICK),
    }


# ---------------------------------------------------------------------------------------
# theta

bad_thetas = st.one_of(
    st.integers(0, 3 * N).filter(lambda n: n != N).map(np.zeros),  # wrong length
    st.integers(0, N - 1).map(lambda i: np.where(np.arange(N) == i, 0.5j, 0.1)),  # complex
    st.tuples(st.integers(0, N - 1), st.sampled_from([np.nan, np.inf, -np.inf])).map(
        lambda c: np.where(np.arange(N) == c[0], c[1], 0.1)),  # NaN/inf
    st.just(np.array([0.1] * N, dtype=object)),
    st.just(np.zeros(N, dtype=bool)),
    st.just(np.array(["0.1"] * N)),
    st.sampled_from([(1, N), (N, 1), (2, N)]).map(np.zeros),  # 2-D
    st.just([[0.1] * 3, [0.1]]),  # ragged
    st.just(None),
)


@FUZZ
@given(theta=bad_thetas)
def test_bad_theta_is_refused_by_every_entry_point(theta):
    X, y, _ = problem()
    obj = nnfast.Objective(X, y, SIZES, **FAST)
    calls = {
        "theta": [lambda: nnfast.cost(theta, X, y, SIZES, **FAST),
                  lambda: nnfast.cost_grad(theta, X, y, SIZES, **FAST),
                  lambda: nnfast.predict(theta, X, SIZES, **FAST),
                  lambda: nnfast.predict_proba(theta, X, SIZES, **FAST),
                  lambda: obj(theta), lambda: obj.cost(theta), lambda: obj.grad(theta),
                  lambda: plots.plot_hidden_units(theta, SIZES, image_shape=(2, 2))],
        "theta0": [lambda: nnfast.train(X, y, SIZES, theta0=theta, **QUICK),
                   lambda: validation_curve(X, y, SIZES, lams=(0,), theta0=theta, **QUICK)],
    }
    if theta is None:
        del calls["theta0"]  # the default of theta0: random starting weights
    for argument, entry_points in calls.items():
        for call in entry_points:
            assert_clear_error(call, argument, [theta, X, y])


@FUZZ
@given(theta=hnp.arrays(np.int64, N, elements=st.integers(-3, 3)))
def test_integer_theta_means_its_float_values_everywhere(theta):
    X, y, _ = problem()
    as_float = theta.astype(np.float64)
    before = theta.copy()
    assert nnfast.cost(theta, X, y, SIZES, lam=1.0, **FAST) == nnfast.cost(
        as_float, X, y, SIZES, lam=1.0, **FAST)
    np.testing.assert_array_equal(nnfast.predict_proba(theta, X, SIZES, **FAST),
                                  nnfast.predict_proba(as_float, X, SIZES, **FAST))
    res = nnfast.train(X, y, SIZES, theta0=theta, **QUICK)
    assert res.cost_history[0] == nnfast.cost(as_float, X, y, SIZES, lam=1.0, **FAST)
    np.testing.assert_array_equal(theta, before)


# ---------------------------------------------------------------------------------------
# X and y

def _with(value, at, array):
    array = array.copy()
    array.flat[at % array.size] = value
    return array


X_GOOD = problem()[0]
bad_Xs = st.one_of(
    st.tuples(st.integers(0, 9), st.integers(0, 9).filter(lambda c: c != SIZES[0])).map(
        lambda s: np.zeros((max(s[0], 1), s[1]))),  # wrong width
    st.just(np.zeros((0, SIZES[0]))),  # empty
    st.sampled_from([(SIZES[0],), (1, M, SIZES[0]), ()]).map(np.zeros),  # wrong ndim
    st.sampled_from([np.int64, np.uint8, bool, np.complex128, object, str]).map(
        lambda dt: X_GOOD.astype(dt)),  # dtypes
    st.tuples(st.sampled_from([np.nan, np.inf, -np.inf]), st.integers(0, M * SIZES[0])).map(
        lambda c: _with(c[0], c[1], X_GOOD)),  # NaN/inf
    st.just([[0.0] * SIZES[0], [0.0]]),  # ragged
)


@FUZZ
@given(X=bad_Xs)
def test_bad_X_is_refused_by_every_entry_point(X):
    _, _, theta = problem()
    rows = len(X) if isinstance(X, list) or np.ndim(X) == 2 else M
    y = np.arange(rows) % 2  # valid labels for as many rows: X is what is bad
    for call in entry_points(theta, X, y).values():
        assert_clear_error(call, "X", [X, y, theta])
    assert_clear_error(lambda: nnfast.train(X_GOOD, np.arange(M) % 2, SIZES, validation=(X, y),
                                            **QUICK), "X_val", [X, y])
    # the estimator accepts what scikit-learn accepts (integers, numeric strings); what it
    # refuses, it refuses naming X
    before = snapshot([X])
    try:
        nnfast.NNClassifier(hidden_layer_sizes=(3,), max_iter=2, **FAST).fit(X, y)
    except (ValueError, TypeError) as exc:
        assert re.search(r"\bX\b", str(exc)), str(exc)
    assert same(X, before[0])


Y_GOOD = problem()[1]
bad_ys = st.one_of(
    st.integers(0, 3 * M).filter(lambda n: n != M).map(lambda n: np.zeros(n, np.int64)),
    st.tuples(st.integers(0, M - 1), st.one_of(st.integers(SIZES[-1], 10 ** 6),
                                                 st.integers(-10 ** 6, -1))).map(
        lambda c: _with(c[1], c[0], Y_GOOD)),  # class index out of range
    st.tuples(st.integers(0, M - 1), st.floats(0.1, 0.9)).map(
        lambda c: _with(c[1], c[0], Y_GOOD.astype(np.float64))),  # not whole
    st.tuples(st.integers(0, M - 1), st.sampled_from([np.nan, np.inf])).map(
        lambda c: _with(c[1], c[0], Y_GOOD.astype(np.float64))),
    st.sampled_from([(M, 3), (M, 2, 1), (1, M)]).map(np.zeros),  # shapes
    st.just(np.full((M, SIZES[-1]), 2.0)),  # targets outside [0, 1]
    st.sampled_from([np.complex128, object, str]).map(lambda dt: Y_GOOD.astype(dt)),
    st.just([[0], [1, 0]] * 3),  # ragged
)


@FUZZ
@given(y=bad_ys)
def test_bad_y_is_refused_by_every_entry_point(y):
    X, _, theta = problem()
    calls = dict(entry_points(theta, X, y),
                 sgd=lambda: nnfast.train(X, y, SIZES, method="sgd", **QUICK))
    for name, call in calls.items():
        if not name.startswith("predict"):  # they take no labels
            assert_clear_error(call, "y", [X, y, theta])
    assert_clear_error(lambda: nnfast.train(X, Y_GOOD, SIZES, validation=(X, y), **QUICK),
                       "y_val", [X, y])


# ---------------------------------------------------------------------------------------
# layer sizes

bad_units = st.one_of(st.integers(-10 ** 6, 0),  # zero, negative
                      st.floats(allow_nan=True), st.text(max_size=3), st.none(),
                      st.booleans(), st.just(2.0), st.just(np.float64(3.0)))
huge_units = st.integers(10 ** 11, 10 ** 15)


@FUZZ
@given(position=st.integers(0, 2), unit=st.one_of(bad_units, huge_units))
def test_bad_layer_sizes_are_refused_by_every_entry_point(position, unit):
    X, y, theta = problem()
    sizes = list(SIZES)
    sizes[position] = unit
    huge = isinstance(unit, int) and not isinstance(unit, bool) and unit > 0
    calls = list(entry_points(theta, X, y, sizes).values()) + [lambda: nnfast.init_theta(sizes)]
    for call in calls:
        assert_clear_error(call, "layer_sizes", [X, y, theta, sizes])
    if position == 1:  # the estimator's own argument is the hidden part
        hidden = (unit,)
        assert_clear_error(
            lambda: nnfast.NNClassifier(hidden_layer_sizes=hidden, max_iter=2, **FAST).fit(X, y),
            "hidden_layer_sizes", [X, y, hidden])
    if huge:
        with pytest.raises(ValueError, match="too large for this machine|theta has length"):
            nnfast.cost(theta, X, y, sizes, **FAST)


@FUZZ
@given(sizes=st.one_of(st.lists(st.integers(1, 5), max_size=1), st.text(max_size=4),
                       st.integers(), st.none(), st.just((4.0, 2.0))))
def test_too_short_or_non_sequence_layer_sizes(sizes):
    X, y, theta = problem()
    for call in (lambda: nnfast.cost(theta, X, y, sizes, **FAST),
                 lambda: nnfast.Objective(X, y, sizes, **FAST),
                 lambda: nnfast.train(X, y, sizes, **QUICK),
                 lambda: nnfast.init_theta(sizes)):
        assert_clear_error(call, "layer_sizes", [X, y, theta, sizes])


# ---------------------------------------------------------------------------------------
# options

bad_lams = st.one_of(st.floats(max_value=0.0, exclude_max=True), st.just(np.nan),
                     st.just(np.inf), st.text(max_size=3), st.none(), st.booleans(),
                     st.complex_numbers(), st.just(np.array([1.0])))
# loss=None is valid: the output layer's own loss
bad_losses = st.one_of(st.text(max_size=15).filter(lambda s: s not in nnfast.LOSSES),
                       st.integers(), st.just(np.array(["cross_entropy"] * 2)))
bad_activations = st.one_of(st.text(max_size=10).filter(lambda s: s not in ACTIVATIONS),
                            st.integers(), st.lists(st.sampled_from(ACTIVATIONS), min_size=2,
                                                    max_size=3))
bad_outputs = st.one_of(st.text(max_size=10).filter(lambda s: s not in OUTPUTS), st.integers())
bad_backends = st.one_of(
    st.text(max_size=10).filter(lambda s: s not in nnfast.available_backends() + ["auto"]),
    st.none(), st.integers(), st.just(["numpy"]), st.just(np.array(["numpy", "loop"])))
bad_threads = st.one_of(st.integers(max_value=0), st.floats(), st.text(max_size=3),
                        st.booleans())


@FUZZ
@given(option=st.one_of(st.tuples(st.just("lam"), bad_lams),
                        st.tuples(st.just("loss"), bad_losses),
                        st.tuples(st.just("backend"), bad_backends),
                        st.tuples(st.just("n_threads"), bad_threads),
                        st.tuples(st.just("activation"), bad_activations),
                        st.tuples(st.just("output"), bad_outputs)))
def test_bad_options_are_refused_by_every_entry_point(option):
    name, value = option
    X, y, theta = problem()
    options = dict(FAST, **{name: value})
    calls = [lambda: nnfast.cost(theta, X, y, SIZES, **options),
             lambda: nnfast.cost_grad(theta, X, y, SIZES, **options),
             lambda: nnfast.Objective(X, y, SIZES, **options),
             lambda: nnfast.train(X, y, SIZES, max_iter=2, progress=False, **options),
             lambda: nnfast.NNClassifier(max_iter=2, **options).fit(X, y)]
    if name in ("backend", "n_threads", "activation", "output"):
        calls += [lambda: nnfast.predict(theta, X, SIZES, **options),
                  lambda: nnfast.predict_proba(theta, X, SIZES, **options)]
    if name != "lam":
        calls.append(lambda: validation_curve(X, y, SIZES, lams=(0,), max_iter=2,
                                              progress=False, **options))
    for call in calls:
        assert_clear_error(call, name, [X, y, theta, value])
    if name == "lam":
        assert_clear_error(lambda: validation_curve(X, y, SIZES, lams=(0.0, value), **QUICK),
                           "lams[1]", [X, y, value])
