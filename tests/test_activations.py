"""Every hidden activation and head, in every backend that implements them.

The loop oracle is itself checked against central differences of its own cost
(so the formulas of nnfast._activations are tested, not just restated); every
other backend is checked against the oracle for each combination, one to three
weight layers, both dtypes, with row counts that leave partial blocks.
"""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nnfast
from nnfast._activations import ACTIVATIONS, HEADS, check_activations, check_head
from nnfast.backends import get_backend
from nnfast.backends._base import supports_network

from _oracle import CYTHON_FLOAT32_TOLERANCE, assert_matches_oracle, loop_oracle
from conftest import BACKENDS, network_problem

NETWORKS = {1: (7, 4), 2: (7, 6, 4), 3: (7, 6, 5, 4)}
#: (layers, hidden activations): each activation alone and, with two hidden layers, mixed
CASES = [(1, ())] + [(2, (a,)) for a in ACTIVATIONS] + [(3, (a, b)) for a, b in
                                                      [("relu", "tanh"), ("tanh", "logistic"),
                                                       ("identity", "relu")]]


def _problem(layers, output, dtype, m=203, seed=0):
    """Real-valued inputs, targets for the head, and weights large enough that relu
    units are both on and off and tanh units reach their curved part."""
    sizes = NETWORKS[layers]
    return (sizes, *network_problem(sizes, output, m, dtype, seed))


def _backends_with_activations():
    names = []
    for name in BACKENDS:
        try:
            backend = get_backend(name)
        except Exception:
            names.append(name)   # the fixture reports why it does not load
            continue
        if supports_network(backend) and name != "loop":
            names.append(name)
    return names


@pytest.mark.parametrize("layers, hidden", CASES)
@pytest.mark.parametrize("output, loss", HEADS)
def test_oracle_gradient_is_the_derivative_of_its_cost(layers, hidden, output, loss):
    sizes, X, y, theta = _problem(layers, output, np.float64, m=11)
    kw = dict(lam=0.7, loss=loss, activation=hidden or "logistic", output=output)
    fun = nnfast.Objective(X, y, sizes, backend="loop", **kw)
    _, grad = fun(theta)
    eps = 1e-6
    numeric = np.empty_like(grad)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = eps
        numeric[i] = (fun.cost(theta + step) - fun.cost(theta - step)) / (2 * eps)
    # relu's kink: no unit's logit is within eps of 0 for these weights (checked)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", _backends_with_activations(), indirect=True)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layers, hidden", CASES)
@pytest.mark.parametrize("output, loss", HEADS)
def test_backend_matches_the_oracle(backend, dtype, layers, hidden, output, loss):
    sizes, X, y, theta = _problem(layers, output, dtype)
    kw = dict(lam=1.0, loss=loss, activation=hidden or "logistic", output=output)
    result = nnfast.Objective(X, y, sizes, backend=backend, n_threads=2, **kw)(theta)
    oracle = loop_oracle(X, y, sizes, theta, **kw)
    tolerance = CYTHON_FLOAT32_TOLERANCE if backend == "cython" and dtype == np.float32 else None
    assert_matches_oracle(result, oracle, dtype, tolerance)


@pytest.mark.parametrize("backend", _backends_with_activations(), indirect=True)
@pytest.mark.parametrize("layers, hidden", CASES)
@pytest.mark.parametrize("output", ["logistic", "softmax", "identity"])
def test_predictions_match_the_oracle(backend, layers, hidden, output):
    sizes, X, _, theta = _problem(layers, output, np.float64)
    kw = dict(activation=hidden or "logistic", output=output)
    h = nnfast.predict_proba(theta, X, sizes, backend=backend, **kw)
    expected = nnfast.predict_proba(theta, X, sizes, backend="loop", **kw)
    np.testing.assert_allclose(h, expected, rtol=1e-12, atol=1e-15)
    if output == "softmax":
        np.testing.assert_allclose(h.sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("backend", _backends_with_activations(), indirect=True)
def test_softmax_is_stable_for_huge_logits(backend):
    # logits of +-1e4: exp overflows unless the row's max is subtracted first
    sizes, X, y, theta = _problem(1, "softmax", np.float64, m=37)
    theta = theta * 2e3
    J, grad = nnfast.cost_grad(theta, X, y, sizes, output="softmax", backend=backend)
    J0, grad0 = loop_oracle(X, y, sizes, theta, output="softmax")
    assert np.isfinite(J) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(J, J0, rtol=1e-10)
    np.testing.assert_allclose(grad, grad0, rtol=1e-9, atol=1e-9 * np.abs(grad0).max())


@pytest.mark.parametrize("backend", _backends_with_activations(), indirect=True)
def test_tanh_is_accurate_near_zero(backend):
    # tanh(z) for tiny z: 1 - 2/(1 + e^2z) would lose every digit; the kernel's expm1 form keeps them
    sizes = (3, 4, 2)
    X = np.random.default_rng(1).uniform(1e-9, 2e-9, (17, 3))
    W1, W2 = np.full((4, 4), 0.5), np.full((2, 5), 0.5)
    W1[:, 0] = W2[:, 0] = 0.0     # no bias: every value stays near 0
    theta = nnfast.pack([W1, W2])
    h = nnfast.predict_proba(theta, X, sizes, backend=backend, activation="tanh", output="identity")
    expected = nnfast.predict_proba(theta, X, sizes, backend="loop", activation="tanh",
                                    output="identity")
    np.testing.assert_allclose(h, expected, rtol=1e-14)


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 140), n_in=st.integers(1, 40), hidden=st.lists(st.integers(1, 19), max_size=2),
       n_out=st.integers(1, 12), act=st.sampled_from(ACTIVATIONS), head=st.sampled_from(HEADS),
       seed=st.integers(0, 2**16))
def test_cython_matches_the_oracle_on_any_shape(m, n_in, hidden, n_out, act, head, seed):
    if not supports_network(get_backend("cython")):
        pytest.fail("the cython backend implements every activation")
    output, loss = head
    sizes = (n_in, *hidden, n_out)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n_in))
    y = rng.standard_normal((m, n_out)) if output == "identity" else rng.integers(0, n_out, m)
    theta = 0.5 * rng.standard_normal(nnfast.n_params(sizes))
    kw = dict(lam=0.5, loss=loss, activation=act, output=output)
    result = nnfast.Objective(X, y, sizes, backend="cython", n_threads=2, **kw)(theta)
    assert_matches_oracle(result, loop_oracle(X, y, sizes, theta, **kw))


def test_activation_per_hidden_layer_and_errors():
    assert check_activations("relu", 2) == ("relu", "relu")
    assert check_activations(["relu", "tanh"], 2) == ("relu", "tanh")
    assert check_activations("tanh", 0) == ()
    with pytest.raises(ValueError, match="activation must be one of"):
        check_activations("sigmoid", 1)
    with pytest.raises(ValueError, match="lists 1 names but the network has 2 hidden layers"):
        check_activations(["relu"], 2)
    assert check_head("identity") == ("identity", "squared_error")
    assert check_head("softmax") == ("softmax", "cross_entropy")
    assert check_head(None, "squared_error") == ("logistic", "squared_error")
    with pytest.raises(ValueError, match="output='softmax' cannot be trained with loss='squared_error'"):
        check_head("softmax", "squared_error")
    with pytest.raises(ValueError, match="output must be one of"):
        check_head("linear")


def test_regression_targets_are_values_not_labels():
    X = np.random.default_rng(0).standard_normal((5, 3))
    J, _ = nnfast.cost_grad(np.zeros(4), X, np.arange(5.0) * 3, (3, 1), output="identity")
    # h = 0 everywhere: J = sum (0 - y)^2 / (2 m)
    assert J == pytest.approx(np.sum((np.arange(5.0) * 3) ** 2) / 10)
    theta = np.zeros(nnfast.n_params((3, 2)))
    with pytest.raises(ValueError, match=r"regression targets for 2 outputs must have shape \(5, 2\)"):
        nnfast.cost_grad(theta, X, np.arange(5.0), (3, 2), output="identity")
    with pytest.raises(ValueError, match="NaN or inf"):
        nnfast.cost_grad(theta, X, np.full((5, 2), np.nan), (3, 2), output="identity")


def test_a_backend_without_activations_is_refused_by_name_and_skipped_by_auto(register_test_backend):
    from nnfast.backends._numpy import NumpyBackend

    class Ex4Only(NumpyBackend):
        name = "ex4only"

        def loss_grad_sum(self, theta, layer_sizes, offsets, data, loss, n_threads, grad_out):
            return super().loss_grad_sum(theta, layer_sizes, offsets, data, loss, n_threads, grad_out)

    register_test_backend("ex4only", Ex4Only)
    sizes, X, y, theta = _problem(2, "softmax", np.float64, m=20)
    with pytest.raises(ValueError, match="'ex4only' implements only logistic"):
        nnfast.Objective(X, y, sizes, backend="ex4only", activation="relu", output="softmax")
    # ex4's network still runs on it
    J, _ = nnfast.Objective(X, y, sizes, backend="ex4only")(theta)
    assert J == pytest.approx(loop_oracle(X, y, sizes, theta)[0], rel=1e-12)


def test_every_combination_is_listed_once():
    assert len(set(itertools.product(ACTIVATIONS, HEADS))) == len(ACTIVATIONS) * len(HEADS) == 16
