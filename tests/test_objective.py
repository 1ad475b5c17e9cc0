"""Cost and gradient: hand-checked values, finite differences, equivalence of every backend."""

import numpy as np
import pytest
from _oracle import Tolerance, assert_matches_oracle, loop_oracle
from conftest import FAST_BACKENDS, random_problem

import nnfast
from nnfast import Objective


def debug_problem(layer_sizes=(3, 5, 3), m=5):
    """ex4's checkNNGradients set-up: sin-based weights and inputs, labels 1 + mod(i, K)."""
    theta = np.sin(np.arange(1, nnfast.n_params(layer_sizes) + 1)) / 10
    X = np.sin(np.arange(1, m * layer_sizes[0] + 1)).reshape(m, layer_sizes[0]) / 10
    y = np.arange(1, m + 1) % layer_sizes[-1]
    return theta, X, y


def numerical_gradient(f, theta, eps=1e-5):
    grad = np.empty_like(theta)
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = eps
        grad[i] = (f(theta + step) - f(theta - step)) / (2 * eps)
    return grad


def rel_diff(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(a + b)


def test_cost_by_hand(backend):
    # One example, one weight layer 1 -> 1: z = w0 + w1 x, h = sigmoid(z).
    X, y = np.array([[2.0]]), np.array([[1.0]])
    theta = np.array([0.5, -1.0])  # z = 0.5 - 2 = -1.5
    h = 1 / (1 + np.exp(1.5))
    J, grad = nnfast.cost_grad(theta, X, y, [1, 1], backend=backend)
    assert J == pytest.approx(-np.log(h), rel=1e-12)
    np.testing.assert_allclose(grad, [h - 1, (h - 1) * 2], rtol=1e-12)
    J2, grad2 = nnfast.cost_grad(theta, X, y, [1, 1], loss="squared_error", backend=backend)
    assert J2 == pytest.approx(0.5 * (h - 1) ** 2, rel=1e-12)
    d = (h - 1) * h * (1 - h)
    np.testing.assert_allclose(grad2, [d, 2 * d], rtol=1e-12)


def test_regularisation_by_hand():
    # zero data term slope aside, lam adds lam/(2m) * sum of non-bias squares
    X, y = np.array([[1.0], [0.0]]), np.array([[1.0], [0.0]])
    theta = np.array([3.0, 4.0])  # bias 3 is not penalised
    J0, g0 = nnfast.cost_grad(theta, X, y, [1, 1], lam=0.0, backend="numpy")
    J1, g1 = nnfast.cost_grad(theta, X, y, [1, 1], lam=2.0, backend="numpy")
    assert J1 - J0 == pytest.approx(2.0 / (2 * 2) * 16.0, rel=1e-14)
    np.testing.assert_allclose(g1 - g0, [0.0, 2.0 / 2 * 4.0], rtol=1e-14)


def test_zero_weights_give_log2_per_output(backend):
    X = np.random.default_rng(0).random((7, 4))
    y = np.arange(7) % 3
    J = nnfast.cost(np.zeros(nnfast.n_params([4, 3])), X, y, [4, 3], backend=backend)
    assert J == pytest.approx(3 * np.log(2), rel=1e-14)


@pytest.mark.parametrize("loss", nnfast.LOSSES)
@pytest.mark.parametrize("lam", [0.0, 3.0])
def test_gradient_matches_finite_differences(backend, loss, lam):
    theta, X, y = debug_problem()
    obj = Objective(X, y, [3, 5, 3], lam=lam, loss=loss, backend=backend)
    ana = obj.grad(theta)
    num = numerical_gradient(obj.cost, theta)
    assert rel_diff(num, ana) < 1e-9


def test_deep_network_finite_differences(backend):
    sizes = (4, 6, 5, 3, 2)
    theta, X, y = debug_problem(sizes, m=7)
    obj = Objective(X, y, sizes, lam=1.0, backend=backend)
    assert rel_diff(numerical_gradient(obj.cost, theta), obj.grad(theta)) < 1e-9


SHAPES = [(6, 4, 3), (10, 7, 5, 4), (8, 9, 3, 5, 2)]
# float64 gradients here get an absolute slack of 1e-14 (not one relative to the largest entry)
FLOAT64_ABSOLUTE = Tolerance(cost_rtol=1e-10, grad_rtol=1e-10, grad_atol=1e-14)


@pytest.mark.parametrize("backend", FAST_BACKENDS, indirect=True)
@pytest.mark.parametrize("sizes", SHAPES, ids=["1hidden", "2hidden", "3hidden"])
@pytest.mark.parametrize("m", [1, 17, 300])
@pytest.mark.parametrize("loss", nnfast.LOSSES)
@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_backends_equal_loop_float64(backend, sizes, m, loss, lam):
    X, y, theta = random_problem(sizes, m, seed=m + len(sizes))
    got = Objective(X, y, sizes, lam=lam, loss=loss, backend=backend)(theta)
    assert_matches_oracle(got, loop_oracle(X, y, sizes, theta, lam=lam, loss=loss),
                          tolerance=FLOAT64_ABSOLUTE)


# float32 kernels round every product to 24 bits; the cost is summed in float64.
# Against the float64 loop on the same (float32-representable) inputs they agree
# to about 1e-5 relative; FLOAT32_RTOL leaves room for longer sums.
FLOAT32_RTOL = 1e-4
FLOAT32_LONG_SUMS = Tolerance(cost_rtol=FLOAT32_RTOL, grad_rtol=FLOAT32_RTOL,
                              grad_atol_of_max=FLOAT32_RTOL)


@pytest.mark.parametrize("sizes", SHAPES, ids=["1hidden", "2hidden", "3hidden"])
@pytest.mark.parametrize("loss", nnfast.LOSSES)
def test_backends_float32_close_to_float64_loop(backend, sizes, loss):
    X, y, theta = random_problem(sizes, 200, seed=3, dtype=np.float32)
    obj = Objective(X, y, sizes, lam=1.0, loss=loss, backend=backend)
    assert obj.dtype == np.float32
    J, g = obj(theta)
    assert isinstance(J, float) and g.dtype == np.float64
    assert_matches_oracle((J, g), loop_oracle(X, y, sizes, theta, lam=1.0, loss=loss),
                          tolerance=FLOAT32_LONG_SUMS)


def test_ex4_weights_on_mnist_crops_agree(backend, ex4_weights, mnist_t10k):
    # Real pretrained weights on real images of ex4's width: centre 20x20 crops of MNIST.
    X = mnist_t10k[0][:300].reshape(-1, 28, 28)[:, 4:24, 4:24].reshape(300, 400)
    y = (mnist_t10k[1][:300] + 9) % 10  # ex4's class order: index 9 is the digit 0
    theta = nnfast.pack(ex4_weights)
    J, g = nnfast.cost_grad(theta, X, y, [400, 25, 10], lam=1.0, backend=backend)
    numpy_result = nnfast.cost_grad(theta, X, y, [400, 25, 10], lam=1.0, backend="numpy")
    assert np.isfinite(J)
    assert_matches_oracle((J, g), numpy_result,
                          tolerance=Tolerance(cost_rtol=1e-10, grad_rtol=1e-9, grad_atol=1e-13))


def test_cross_entropy_stable_when_saturated(backend):
    # Output logits of +-800: the textbook form gives log(0) = -inf.
    X, y = np.array([[1.0], [1.0]]), np.array([[1.0], [0.0]])
    theta = np.array([0.0, 800.0])
    J, g = nnfast.cost_grad(theta, X, y, [1, 1], backend=backend)
    assert J == pytest.approx(800.0 / 2, rel=1e-15)  # example 2 loses 800, example 1 nothing
    assert np.all(np.isfinite(g))


def test_cross_entropy_equals_textbook_on_ordinary_inputs():
    from nnfast._losses import cross_entropy_from_logits

    # |z| <= 8: the textbook form is itself accurate to ~1e-13 here.
    z = np.linspace(-8, 8, 2001)
    for y in (0.0, 1.0, 0.3):
        h = 1 / (1 + np.exp(-z))
        textbook = -y * np.log(h) - (1 - y) * np.log(1 - h)
        np.testing.assert_allclose(cross_entropy_from_logits(z, y), textbook, rtol=1e-12, atol=1e-15)


def test_cross_entropy_matches_extended_precision_textbook():
    from nnfast._losses import cross_entropy_from_logits

    if np.finfo(np.longdouble).eps > 1e-18:
        pytest.skip("no extended precision long double on this platform")
    z = np.linspace(-30, 30, 3001)
    zl = z.astype(np.longdouble)
    # -log h = log(1 + e^-z) and -log(1 - h) = log(1 + e^z), evaluated in 64-bit mantissas
    minus_log_h, minus_log_1mh = np.log1p(np.exp(-zl)), np.log1p(np.exp(zl))
    for y in (0.0, 1.0, 0.3):
        exact = y * minus_log_h + (1 - y) * minus_log_1mh
        np.testing.assert_allclose(cross_entropy_from_logits(z, y), exact.astype(np.float64), rtol=1e-13)


def test_ex4_known_costs(ex4_data, ex4_weights):
    X, y = ex4_data
    theta = nnfast.pack(ex4_weights)
    assert nnfast.cost(theta, X, y, [400, 25, 10], lam=0.0) == pytest.approx(0.287629, abs=5e-7)
    assert nnfast.cost(theta, X, y, [400, 25, 10], lam=1.0) == pytest.approx(0.383770, abs=5e-7)
    accuracy = np.mean(nnfast.predict(theta, X, [400, 25, 10]) == y)
    assert accuracy == pytest.approx(0.9752, abs=1e-9)


def test_objective_returns_fresh_gradients_and_counts():
    X, y, theta = random_problem((5, 4, 3), 20)
    obj = Objective(X, y, (5, 4, 3), lam=1.0, backend="numpy")
    J1, g1 = obj(theta)
    J2, g2 = obj(theta)
    assert g1 is not g2 and not np.shares_memory(g1, g2)
    np.testing.assert_array_equal(g1, g2)
    g1[:] = 0  # a caller (scipy keeps references) may modify what it got
    np.testing.assert_array_equal(obj(theta)[1], g2)
    assert obj.n_evals == 3 and J1 == J2
    assert obj.cost(theta) == J1


def test_objective_works_with_scipy_minimize():
    from scipy.optimize import minimize

    X, y, _ = random_problem((5, 4, 3), 60, seed=2)
    obj = Objective(X, y, (5, 4, 3), lam=0.1, backend="numpy")
    theta0 = nnfast.init_theta((5, 4, 3), random_state=0)
    res = minimize(obj, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 50})
    assert res.fun < obj.cost(theta0) - 0.1


def test_predict_and_forward(backend, ex4_weights, mnist_t10k):
    X = mnist_t10k[0][:50].reshape(-1, 28, 28)[:, 4:24, 4:24].reshape(50, 400)
    theta = nnfast.pack(ex4_weights)
    h = nnfast.predict_proba(theta, X, [400, 25, 10], backend=backend)
    h_ref = nnfast.predict_proba(theta, X, [400, 25, 10], backend="loop")
    assert h.shape == (50, 10) and np.all((h > 0) & (h < 1))
    np.testing.assert_allclose(h, h_ref, rtol=1e-12)
    np.testing.assert_array_equal(nnfast.predict(theta, X, [400, 25, 10], backend=backend), np.argmax(h_ref, 1))
