"""nnfast.plots: every picture is a Figure, saved as a PNG, images the right way up."""

import numpy as np
import pytest

import nnfast
from nnfast import plots
from nnfast.training import validation_curve

PNG = b"\x89PNG\r\n\x1a\n"


def _is_png(path):
    with open(path, "rb") as fh:
        return fh.read(8) == PNG and path.stat().st_size > 2000


def test_image_layout_defaults_by_width():
    assert plots.image_layout(400) == ((20, 20), "F")  # ex4: column-major
    assert plots.image_layout(784) == ((28, 28), "C")  # MNIST
    assert plots.image_layout(64) == ((8, 8), "C")  # sklearn digits
    assert plots.image_layout(400, order="C") == ((20, 20), "C")
    assert plots.image_layout(6, image_shape=(2, 3)) == ((2, 3), "C")
    with pytest.raises(ValueError, match="not square"):
        plots.image_layout(10)
    with pytest.raises(ValueError, match="order must be"):
        plots.image_layout(4, order="X")


def test_ex4_images_are_shown_upright():
    # an "L" drawn in a 20x20 picture, stored column-major as in ex4data1.mat
    picture = np.zeros((20, 20))
    picture[2:18, 4] = 1.0  # vertical stroke
    picture[17, 4:15] = 1.0  # horizontal foot
    row = picture.ravel(order="F")
    fig = plots.plot_digits(row[None, :], n=1)
    shown = fig.axes[0].images[0].get_array()
    np.testing.assert_array_equal(shown, picture)
    # row-major data (MNIST) is shown as stored
    picture28 = np.zeros((28, 28))
    picture28[3:25, 5] = 1.0
    fig = plots.plot_digits(picture28.ravel()[None, :], n=1)
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), picture28)


def test_digit_grid_10x10_saved(tmp_path, mnist_t10k):
    X, y = mnist_t10k
    path = tmp_path / "digits.png"
    fig = plots.plot_digits(X[:500], labels=y[:500], random_state=0, path=path)
    assert len(fig.axes) == 100
    assert _is_png(path)
    # the same random_state picks the same images
    a = plots.plot_digits(X[:500], n=4, random_state=1).axes[3].images[0].get_array()
    b = plots.plot_digits(X[:500], n=4, random_state=1).axes[3].images[0].get_array()
    np.testing.assert_array_equal(a, b)


def test_hidden_units_5x5(tmp_path, ex4_weights):
    t1, t2 = ex4_weights
    theta = nnfast.pack([t1, t2])
    path = tmp_path / "hidden.png"
    fig = plots.plot_hidden_units(theta, [400, 25, 10], path=path)
    assert len(fig.axes) == 25
    np.testing.assert_array_equal(fig.axes[3].images[0].get_array(),
                                  t1[3, 1:].reshape(20, 20, order="F"))
    assert _is_png(path)


def test_cost_curve_confusion_and_sweep(tmp_path, digits):
    X, y = digits
    res = nnfast.train(X[:300], y[:300], [64, 9, 10], max_iter=10, random_state=0,
                       validation=(X[300:500], y[300:500]), backend="numpy", n_threads=1, progress=False)
    fig = plots.plot_cost_curve(res, path=tmp_path / "cost.png")
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2 and len(lines[0].get_ydata()) == res.n_iter + 1
    assert len(fig.axes) == 2  # twin axis for the validation accuracy
    assert _is_png(tmp_path / "cost.png")

    C = np.array([[5, 1], [0, 7]])
    fig = plots.plot_confusion_matrix(C, ["a", "b"], path=tmp_path / "cm.png")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["5", "1", "0", "7"]
    assert _is_png(tmp_path / "cm.png")
    with pytest.raises(ValueError, match="square"):
        plots.plot_confusion_matrix(np.zeros((2, 3)))



@pytest.fixture(scope="module")
def sweep(digits):
    X, y = digits
    return validation_curve(X[:300], y[:300], [64, 9, 10], lams=(0, 1, 50), max_iter=10,
                            validation=(X[300:500], y[300:500]), random_state=0,
                            backend="numpy", n_threads=1, progress=False)


def test_validation_curve_plot_saved(tmp_path, sweep):
    fig = plots.plot_validation_curve(sweep, path=tmp_path / "sweep.png")
    # the accuracy plot, 9 hidden units per λ, the shared colorbar
    assert len(fig.axes) == 1 + 3 * 9 + 1
    assert _is_png(tmp_path / "sweep.png")


def test_validation_curve_panels_share_one_symmetric_colour_scale(sweep):
    fig = plots.plot_validation_curve(sweep, n_units=4)
    cbar_ax = fig.axes[-1]
    image_axes = [ax for ax in fig.axes[1:-1] if ax.images]
    assert len(image_axes) == 3 * 4
    # the images are the units' input weights, λ after λ, upright (8x8 row-major)
    weights = [nnfast.unpack(r.theta, [64, 9, 10])[0][:4, 1:] for r in sweep.results]
    for i, w in enumerate(weights):
        for u in range(4):
            np.testing.assert_array_equal(image_axes[4 * i + u].images[0].get_array(),
                                          w[u].reshape(8, 8))
    lim = max(np.abs(w).max() for w in weights)
    clims = {ax.images[0].get_clim() for ax in image_axes}
    assert clims == {(-lim, lim)}  # one scale, symmetric about 0, the largest |weight|
    # ... shown by one colorbar
    cbar = image_axes[0].images[0].colorbar
    assert cbar is not None and cbar.ax is cbar_ax and not cbar_ax.images
    assert cbar_ax.get_ylim() == pytest.approx((-lim, lim))
    # the weights shrink with λ, so the λ = 50 panel does not reach the shared limit
    # (a per-panel or per-image scale would stretch it to full contrast)
    assert np.abs(weights[2]).max() < 0.8 * lim
