"""Layer sizes, pack/unpack, initialisation, sigmoid: values checkable by hand."""

import numpy as np
import pytest

import nnfast
from nnfast._network import check_layer_sizes, layer_offsets


def test_sigmoid_hand_values():
    assert nnfast.sigmoid(0.0) == 0.5
    assert nnfast.sigmoid_gradient(0.0) == 0.25
    assert nnfast.sigmoid(np.log(3.0)) == pytest.approx(0.75, rel=1e-15)
    # saturated units stay finite and exact at the limits
    assert nnfast.sigmoid(800.0) == 1.0 and nnfast.sigmoid(-800.0) == 0.0
    assert nnfast.sigmoid_gradient(100.0) == pytest.approx(0.0, abs=1e-40)


def test_n_params_ex4():
    assert nnfast.n_params([400, 25, 10]) == 25 * 401 + 10 * 26 == 10285


def test_offsets_and_views():
    sizes = [3, 5, 4, 2]
    offsets = layer_offsets(sizes)
    assert offsets == ((0, 20, (5, 4)), (20, 44, (4, 6)), (44, 54, (2, 5)))
    theta = np.arange(54, dtype=float)
    weights = nnfast.unpack(theta, sizes)
    assert [w.shape for w in weights] == [(5, 4), (4, 6), (2, 5)]
    assert all(np.shares_memory(w, theta) for w in weights)
    # row-major, seeds' order: Theta1 first, bias in column 0
    assert weights[0][1, 0] == 4 and weights[1][0, 0] == 20
    np.testing.assert_array_equal(nnfast.pack(weights), theta)


def test_pack_matches_seed_serialisation(ex4_weights):
    t1, t2 = ex4_weights
    theta = nnfast.pack([t1, t2])
    np.testing.assert_array_equal(theta, np.concatenate([t1.ravel(), t2.ravel()]))
    assert nnfast.layer_sizes_of([t1, t2]) == (400, 25, 10)
    back = nnfast.unpack(theta, [400, 25, 10])
    np.testing.assert_array_equal(back[1], t2)


def test_pack_rejects_shapes_that_do_not_chain():
    with pytest.raises(ValueError, match=r"weights\[1\] has 5 columns.*needs 26"):
        nnfast.pack([np.zeros((25, 401)), np.zeros((10, 5))])


def test_unpack_wrong_length_names_expected():
    with pytest.raises(ValueError, match="length 10285"):
        nnfast.unpack(np.zeros(10), [400, 25, 10])


@pytest.mark.parametrize("bad, exc", [
    ([400], ValueError), ([400, 0, 10], ValueError), ("400,25", TypeError),
    ([400, 2.5, 10], TypeError), (400, TypeError), ([True, 3], TypeError),
])
def test_layer_sizes_validation(bad, exc):
    with pytest.raises(exc, match="layer_sizes"):
        check_layer_sizes(bad)


def test_init_theta_range_and_reproducible():
    a = nnfast.init_theta([400, 25, 10], random_state=7)
    b = nnfast.init_theta([400, 25, 10], random_state=7)
    c = nnfast.init_theta([400, 25, 10], random_state=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == (10285,) and a.dtype == np.float64
    assert np.abs(a).max() <= 0.12 and np.abs(a).max() > 0.11


def test_init_theta_auto_epsilon_per_layer():
    theta = nnfast.init_theta([400, 25, 10], epsilon="auto", random_state=0, dtype=np.float32)
    w1, w2 = nnfast.unpack(theta, [400, 25, 10])
    assert theta.dtype == np.float32
    assert np.abs(w1).max() <= np.sqrt(6) / np.sqrt(425) + 1e-7
    assert np.abs(w2).max() <= np.sqrt(6) / np.sqrt(35) + 1e-7
    assert np.abs(w2).max() > np.sqrt(6) / np.sqrt(425)  # wider interval for the small layer


@pytest.mark.parametrize("eps", [0, -1, np.nan, "big"])
def test_init_theta_bad_epsilon(eps):
    with pytest.raises(ValueError, match="epsilon"):
        nnfast.init_theta([3, 2], epsilon=eps)
