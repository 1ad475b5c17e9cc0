"""nnfast.gradient_check: passes correct gradients, catches wrong ones, and its
incremental central differences equal brute-force ones."""

import numpy as np
import pytest

import nnfast
from nnfast import gradcheck as gc
from nnfast.gradcheck import numerical
from nnfast.backends._numpy import NumpyBackend

from conftest import random_problem

DEPTHS = [(4, 3), (3, 5, 3), (3, 5, 4, 3)]


@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
@pytest.mark.parametrize("lam", [0.0, 1.0])
@pytest.mark.parametrize("sizes", DEPTHS, ids=lambda s: "-".join(map(str, s)))
def test_debug_network_passes_for_every_backend(backend, loss, lam, sizes):
    result = nnfast.gradient_check(layer_sizes=sizes, lam=lam, loss=loss, backend=backend)
    assert result.passed, result.summary()
    assert result.rel_diff < 1e-9
    assert result.n_checked == nnfast.n_params(sizes)
    assert result.backend == backend
    assert [lc.layer for lc in result.layers] == list(range(1, len(sizes)))


def test_default_is_ex4_check_nn_gradients():
    """No arguments: 3 -> 5 -> 3, m = 5, ex4's sin-based debug weights."""
    result = nnfast.gradient_check()
    assert result.layer_sizes == (3, 5, 3) and result.m == 5 and result.n_params == 38
    assert result.passed and result.rel_diff < 1e-9
    theta, X, y, _ = gc.debug_problem()
    # debugInitializeWeights(5, 3): sin(1:20)/10 filled column-major into 5 x 4
    assert theta[:4] == pytest.approx(np.sin([1, 6, 11, 16]) / 10, abs=0)
    assert X[0] == pytest.approx(np.sin([1, 6, 11]) / 10, abs=0)
    assert list(y) == [1, 2, 0, 1, 2]
    text = str(result)
    assert "PASSED" in text and "Theta1" in text and "Theta2" in text


class _BrokenBackend(NumpyBackend):
    """NumPy backend with a deliberately wrong gradient in one weight layer."""

    name = "broken"

    def __init__(self, layer, kind="scale"):
        self.layer, self.kind = layer, kind

    def loss_grad_sum(self, theta, layer_sizes, offsets, data, loss, n_threads, grad_out):
        total = super().loss_grad_sum(theta, layer_sizes, offsets, data, loss, n_threads, grad_out)
        if grad_out is not None:
            start, end, shape = offsets[self.layer]
            if self.kind == "scale":
                grad_out[start:end] *= 1.01          # 1% too large
            else:                                     # a transposed-index style bug
                g = grad_out[start:end].reshape(shape)
                g[:, 1:] = g[:, 1:][::-1]
        return total


@pytest.mark.parametrize("layer", [0, 1, 2])
@pytest.mark.parametrize("kind", ["scale", "swap"])
def test_detects_a_wrong_gradient_and_names_the_layer(layer, kind):
    result = nnfast.gradient_check(layer_sizes=(3, 5, 4, 3), lam=1.0,
                                   backend=_BrokenBackend(layer, kind))
    assert not result.passed
    # the overall figure can stay small when the broken layer's gradients are small
    # (deep sigmoid layers): the per-layer figure is what exposes it
    assert result.layers[layer].rel_diff > 100 * result.threshold
    bad = [lc.name for lc in result.layers if not lc.passed]
    assert bad == [f"Theta{layer + 1}"]
    assert any(f"Theta{layer + 1}" in f for f in result.failed_layers)
    assert result.worst[0]["layer"] == layer + 1
    text = result.summary()
    assert "FAILED" in text and f"Theta{layer + 1}" in text.split("disagrees")[-1]


def test_detects_a_wrong_gradient_in_a_sample_on_real_size():
    X, y, theta = random_problem((50, 20, 4), 400, seed=3)
    result = nnfast.gradient_check(theta, X, y, (50, 20, 4), backend=_BrokenBackend(0),
                                   sample=100, random_state=0)
    assert not result.passed and [lc.name for lc in result.layers if not lc.passed] == ["Theta1"]


@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
@pytest.mark.parametrize("engine", ["numba", "numpy"])
@pytest.mark.parametrize("sizes", DEPTHS + [(6, 7, 2)], ids=lambda s: "-".join(map(str, s)))
def test_incremental_equals_brute_force(sizes, loss, engine):
    """Same central differences as recomputing the whole cost, to round-off.

    Against float64 brute force the difference is that method's own round-off
    (~1e-11 relative); against brute force in extended precision (long double)
    the incremental differences agree to a few 1e-12.
    """
    theta, X, y, _ = gc.debug_problem(sizes)
    for lam in (0.0, 1.0):
        inc = gc.numerical_gradient(theta, X, y, sizes, lam, loss, engine=engine)
        brute = gc.brute_force_gradient(theta, X, y, sizes, lam, loss)
        assert gc.relative_difference(inc, brute) < 1e-10
        if np.finfo(np.longdouble).eps < 1e-18:
            exact = gc.brute_force_gradient(theta, X, y, sizes, lam, loss, dtype=np.longdouble)
            assert gc.relative_difference(inc, exact) < 1e-11


@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
def test_incremental_on_sparse_large_and_saturated_inputs(loss):
    """Zero inputs are skipped; large steps and logits near 0 take the libm fallback."""
    rng = np.random.default_rng(1)
    sizes = (6, 4, 3)
    for scale, zero_theta in [(1, False), (500, False), (1, True)]:
        X = rng.standard_normal((30, 6)) * scale
        X[X < 0.2 * scale] = 0
        y = rng.integers(0, 3, 30)
        theta = np.zeros(nnfast.n_params(sizes)) if zero_theta else rng.uniform(-1, 1, nnfast.n_params(sizes))
        ref = gc.brute_force_gradient(theta, X, y, sizes, 0.5, loss, dtype=np.longdouble)
        for engine in ("numba", "numpy"):
            inc = gc.numerical_gradient(theta, X, y, sizes, 0.5, loss, engine=engine)
            assert gc.relative_difference(inc, ref) < 1e-10


def test_engines_agree_on_a_medium_problem():
    X, y, theta = random_problem((40, 12, 5), 300, seed=5)
    X[X < 0] = 0
    a = gc.numerical_gradient(theta, X, y, (40, 12, 5), 0.3, engine="numba")
    b = gc.numerical_gradient(theta, X, y, (40, 12, 5), 0.3, engine="numpy")
    assert gc.relative_difference(a, b) < 1e-10


def test_sampled_mode_checks_only_the_requested_parameters():
    sizes = (20, 8, 4)
    X, y, theta = random_problem(sizes, 60, seed=2)
    P = nnfast.n_params(sizes)
    r = nnfast.gradient_check(theta, X, y, sizes, backend="numpy", sample=30, random_state=0)
    assert r.n_checked == 30 and len(np.unique(r.indices)) == 30
    assert r.indices.min() >= 0 and r.indices.max() < P
    assert {lc.layer for lc in r.layers} == {1, 2}          # stratified: every layer sampled
    assert sum(lc.n_checked for lc in r.layers) == 30
    brute = gc.brute_force_gradient(theta, X, y, sizes, indices=r.indices)
    assert gc.relative_difference(r.numerical, brute) < 1e-9
    assert r.analytic == pytest.approx(nnfast.cost_grad(theta, X, y, sizes, backend="numpy")[1][r.indices])

    wanted = np.array([3, 170, 5, P - 1])
    r2 = nnfast.gradient_check(theta, X, y, sizes, backend="numpy", sample=wanted)
    assert list(r2.indices) == sorted(wanted.tolist())

    r3 = nnfast.gradient_check(theta, X, y, sizes, backend="numpy", sample=0.1, random_state=1)
    assert r3.n_checked == round(0.1 * P)
    r4 = nnfast.gradient_check(theta, X, y, sizes, backend="numpy", sample=0.1, random_state=1)
    assert np.array_equal(r3.indices, r4.indices)            # reproducible


def test_sampled_numerical_gradient_touches_only_those_units(monkeypatch):
    """Perturbations are grouped by unit: a sample of one unit's weights works on that unit only."""
    sizes = (5, 6, 6, 3)
    theta, X, y, _ = gc.debug_problem(sizes)
    seen = []
    real = numerical._unit_loss_changes
    monkeypatch.setattr(numerical, "_unit_loss_changes", lambda fw, l, j, cols, *a: seen.append((l, j, list(cols))) or real(fw, l, j, cols, *a))
    start = nnfast.layer_offsets(sizes)[0][0]
    idx = np.array([start + 2 * 6 + 1, start + 2 * 6 + 4])   # unit 2 of layer 1, inputs 1 and 4
    gc.numerical_gradient(theta, X, y, sizes, indices=idx, engine="numpy", n_threads=1)
    assert seen == [(0, 2, [1, 4])]


def test_bad_arguments():
    with pytest.raises(ValueError):
        nnfast.gradient_check(sample=0)
    with pytest.raises(ValueError):
        nnfast.gradient_check(sample=1.5)
    with pytest.raises(TypeError):
        nnfast.gradient_check(sample="all")
    with pytest.raises(ValueError):
        nnfast.gradient_check(epsilon=0)
    with pytest.raises(ValueError):
        nnfast.gradient_check(X=np.zeros((3, 2)), y=[0, 1, 0])   # no layer_sizes
    with pytest.raises(ValueError):
        nnfast.gradient_check(backend="nope")


def test_float32_backend_passes_at_its_own_threshold():
    X, y, theta = random_problem((30, 10, 4), 200, seed=4)
    r = nnfast.gradient_check(theta, X, y, (30, 10, 4), backend="numpy", dtype=np.float32)
    assert r.dtype == "float32" and r.threshold == gc.DEFAULT_THRESHOLD_FLOAT32
    assert r.passed and 1e-9 < r.rel_diff < 1e-3


def test_weights_as_matrices():
    theta, X, y, sizes = gc.debug_problem((3, 5, 3))
    mats = nnfast.unpack(theta, sizes)
    r = nnfast.gradient_check(mats, X, y, backend="numpy")
    assert r.passed and r.layer_sizes == (3, 5, 3)


def test_full_ex4_size_check_below_1e9(ex4_weights):
    """All 10285 weights of the pretrained ex4 network on 5000 real 20x20 digits
    (MNIST t10k cropped: ex4data1.mat itself is not available here)."""
    from nnfast.bench import ex4_shaped_mnist

    try:
        X, y = ex4_shaped_mnist(5000)
    except nnfast.datasets.DataNotFoundError as exc:
        pytest.skip(str(exc))
    theta = nnfast.pack(ex4_weights)
    for lam in (0.0, 1.0):
        r = nnfast.gradient_check(theta, X, y, (400, 25, 10), lam=lam, backend="numpy")
        assert r.n_checked == 10285 and r.m == 5000
        assert r.rel_diff < 1e-9, r.summary()
        assert all(lc.rel_diff < 1e-9 for lc in r.layers)
        assert r.passed


def test_cli_gradcheck_exit_codes(register_test_backend, capsys):
    from nnfast.cli import main

    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    assert "PASSED" in out and "Theta2" in out
    assert main(["gradcheck", "--layers", "4,6,5,3", "--lam", "1", "--loss", "squared_error",
                 "--all-backends"]) == 0
    assert main(["gradcheck", "--sample", "10", "--layers", "5,8,3", "--json"]) == 0
    assert '"rel_diff"' in capsys.readouterr().out

    register_test_backend("broken_for_test", lambda: _BrokenBackend(1))
    assert main(["gradcheck", "--backend", "broken_for_test"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "FAIL Theta2" in out
    assert main(["gradcheck", "--layers", "3,x,2"]) == 2  # argparse rejects it
    assert main(["gradcheck", "--sample", "lots"]) == 2


@pytest.mark.parametrize("function", [gc.numerical_gradient, gc.brute_force_gradient],
                         ids=["numerical", "brute_force"])
def test_difference_functions_share_one_argument_check(function):
    """numerical_gradient and brute_force_gradient refuse the same bad steps and indices,
    keep the order of the indices they are given, and leave theta as it was."""
    theta, X, y, sizes = gc.debug_problem()
    P = nnfast.n_params(sizes)
    with pytest.raises(ValueError, match="epsilon must be a positive number, got 0"):
        function(theta, X, y, sizes, epsilon=0)
    with pytest.raises(ValueError, match="epsilon must be a positive number, got 'small'"):
        function(theta, X, y, sizes, epsilon="small")
    with pytest.raises(ValueError, match=rf"indices must lie in 0\.\.{P - 1}, got values in \[0, {P}\]"):
        function(theta, X, y, sizes, indices=[0, P])
    with pytest.raises(ValueError, match=r"indices must lie in .*got values in \[-1, -1\]"):
        function(theta, X, y, sizes, indices=[-1])
    with pytest.raises(ValueError, match="indices must be a 1-D array of integers"):
        function(theta, X, y, sizes, indices=[[1, 2]])
    with pytest.raises(ValueError, match="X has 2 columns but layer_sizes"):
        function(theta, X[:, :2], y, sizes)
    before = theta.copy()
    reversed_order = function(theta, X, y, sizes, indices=[30, 7, 2])
    assert np.array_equal(theta, before)
    assert np.array_equal(reversed_order, function(theta, X, y, sizes, indices=[2, 7, 30])[::-1])
    assert function(theta, X, y, sizes, indices=[]).shape == (0,)
