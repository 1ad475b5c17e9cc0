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
    assert len(fig.axes) == 25 + 1  # the units and their colour bar
    np.testing.assert_array_equal(fig.axes[3].images[0].get_array(),
                                  t1[3, 1:].reshape(20, 20, order="F"))
    assert _is_png(path)
    # one symmetric scale for all units, shown by the colour bar
    lim = plots.symmetric_limit(t1[:, 1:])
    assert {ax.images[0].get_clim() for ax in fig.axes[:25]} == {(-lim, lim)}
    cbar = fig.axes[0].images[0].colorbar
    assert cbar is not None and cbar.ax is fig.axes[-1]
    assert fig.axes[-1].get_ylim() == pytest.approx((-lim, lim))


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
    # accuracy, weight size, then per λ 9 hidden units and a colour bar
    assert len(fig.axes) == 2 + 3 * (9 + 1)
    assert _is_png(tmp_path / "sweep.png")


def test_validation_curve_panels_have_a_symmetric_scale_and_colour_bar_each(sweep):
    fig = plots.plot_validation_curve(sweep, n_units=4)
    accuracy_ax, size_ax, rest = fig.axes[0], fig.axes[1], fig.axes[2:]
    assert accuracy_ax.get_ylabel() == "accuracy (%)"
    weights = [nnfast.unpack(r.theta, [64, 9, 10])[0][:, 1:] for r in sweep.results]
    # the weights' size per λ, log scale: the shrinking with λ is shown as a number
    assert size_ax.get_yscale() == "log"
    rms = size_ax.get_lines()[0].get_ydata()
    np.testing.assert_allclose(rms, [np.sqrt(np.mean(w ** 2)) for w in weights])
    assert rms[2] < rms[0]
    assert len(rest) == 3 * (4 + 1)
    for i, w in enumerate(weights):
        panel, cbar_ax = rest[5 * i: 5 * i + 4], rest[5 * i + 4]
        assert not cbar_ax.images
        lim = plots.symmetric_limit(w[:4])
        for u, ax in enumerate(panel):  # upright (8x8 row-major), on this λ's own scale
            np.testing.assert_array_equal(ax.images[0].get_array(), w[u].reshape(8, 8))
            assert ax.images[0].get_clim() == (-lim, lim)
            assert ax.images[0].colorbar is None or ax.images[0].colorbar.ax is cbar_ax
        assert panel[0].images[0].colorbar.ax is cbar_ax
        assert cbar_ax.get_ylim() == pytest.approx((-lim, lim))
        assert panel[1].get_title() == f"λ = {sweep.lams[i]:g}"
    # readable at every λ: the λ = 50 panel spans its own range instead of a pale
    # fraction of λ = 0's
    assert rest[10].images[0].get_clim()[1] < 0.8 * rest[0].images[0].get_clim()[1]


def test_panels_are_separated_by_gaps(sweep):
    fig = plots.plot_validation_curve(sweep, n_units=4)
    fig.draw_without_rendering()
    boxes = [ax.get_position() for ax in fig.axes[2:] if ax.images]
    first_panel, second_panel = boxes[:4], boxes[4:8]
    unit_gap = first_panel[1].x0 - first_panel[0].x1
    assert unit_gap > 0  # units of one panel do not touch
    panel_gap = min(b.x0 for b in second_panel) - max(b.x1 for b in first_panel)
    assert panel_gap > 3 * unit_gap  # panels are set apart (with the colour bar between)


def test_symmetric_limit_is_robust_to_a_few_extreme_weights():
    w = np.linspace(-1, 1, 1001)
    w[0] = -100.0  # one outlier does not fade everything else to white
    assert plots.symmetric_limit(w) == pytest.approx(np.percentile(np.abs(w), 99.5))
    assert plots.symmetric_limit(w) < 1.01
    assert plots.symmetric_limit(np.zeros(5)) == 1.0


def test_cost_curve_is_log_scaled_and_names_the_held_out_data(digits):
    X, y = digits
    res = nnfast.train(X[:300], y[:300], [64, 9, 10], max_iter=10, random_state=0,
                       validation=(X[300:500], y[300:500]), backend="numpy", n_threads=1,
                       progress=False)
    fig = plots.plot_cost_curve(res, val_label="test")
    ax, twin = fig.axes
    assert ax.get_yscale() == "log"
    names = [t.get_text() for t in ax.get_legend().get_texts()]
    assert names == ["training cost (regularised)", "test cost (no regularisation)",
                     "test accuracy"]
    assert twin.get_ylabel() == "test accuracy (%)"
    assert plots.plot_cost_curve(res).axes[1].get_ylabel() == "validation accuracy (%)"
    # a cost that reaches 0 cannot be drawn on a log axis: linear then
    assert plots.plot_cost_curve(cost=[1.0, 0.5, 0.0]).axes[0].get_yscale() == "linear"
    with pytest.raises(TypeError, match="val_label"):
        plots.plot_cost_curve(res, val_label=None)


@pytest.mark.parametrize("k", [2, 10, 30])
def test_confusion_counts_are_sized_to_their_cells(k):
    C = np.arange(k * k).reshape(k, k) * 7
    fig = plots.plot_confusion_matrix(C)
    ax = fig.axes[0]
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    box = ax.get_window_extent()
    cell_w, cell_h = box.width / k, box.height / k
    for text in ax.texts:
        extent = text.get_window_extent(renderer)
        assert extent.width < cell_w and extent.height < cell_h  # fits its cell
    widest = max(t.get_window_extent(renderer).width for t in ax.texts)
    assert widest > 0.3 * cell_w  # and is not a speck in it
    assert fig.axes[1].get_ylabel() == "" and len(fig.axes) == 2  # the colour bar


def test_digits_with_labels_and_predictions_mark_mistakes():
    X = np.eye(4)  # four 2x2 images
    labels = np.array([0, 1, 2, 3])
    predictions = np.array([0, 1, 3, 3])
    fig = plots.plot_digits(X, n=4, labels=labels, predictions=predictions,
                            class_names=["a", "b", "c", "d"], random_state=0)
    shown = {tuple(ax.images[0].get_array().ravel()): ax for ax in fig.axes}
    wrong = shown[tuple(X[2])]
    assert wrong.get_title() == "c→d" and wrong.title.get_color() == "tab:red"
    assert wrong.spines["left"].get_edgecolor()[:3] == pytest.approx((0.839, 0.153, 0.157), abs=1e-3)
    right = shown[tuple(X[1])]
    assert right.get_title() == "b" and right.title.get_color() == "black"
    assert "1 of 4 shown predicted wrongly" in fig.get_suptitle()
    only_pred = plots.plot_digits(X, n=4, predictions=predictions, random_state=0)
    assert sorted(ax.get_title() for ax in only_pred.axes) == ["0", "1", "3", "3"]
    with pytest.raises(ValueError, match=r"predictions must have shape \(4,\)"):
        plots.plot_digits(X, predictions=[0, 1])
    with pytest.raises(ValueError, match="labels must be class indices 0..1"):
        plots.plot_digits(X, labels=labels, class_names=["a", "b"])
