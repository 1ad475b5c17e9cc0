"""Pictures: digit grids, hidden units, cost curves, confusion matrix, λ sweep.

Every function returns a :class:`matplotlib.figure.Figure` and, given
``path``, also saves it as PNG.  Figures are created without pyplot's global
state (``matplotlib.figure.Figure``), so they work headless (Agg) and are
never shown or leaked by this module; display them in a notebook by leaving
them as the cell's value, or with ``fig.show()`` under pyplot.

Image layout
------------
ex4's 20x20 images (400 pixels) are stored column-major, as MATLAB writes
them: shown upright with ``reshape(20, 20, order="F")``.  MNIST's 28x28 and
scikit-learn's 8x8 digits are row-major.  ``image_shape=None, order=None``
chooses by width: 400 -> (20, 20) "F", any other square width -> row-major.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple

import numpy as np

__all__ = ["image_layout", "plot_digits", "plot_hidden_units", "plot_cost_curve",
           "plot_confusion_matrix", "plot_validation_curve", "save_figure", "symmetric_limit"]


def _figure(figsize):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def save_figure(fig, path, dpi=100):
    """Save ``fig`` as PNG at ``path`` (folders are created); returns the path."""
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, format="png")
    return path


def image_layout(n_pixels: int, image_shape=None, order=None) -> Tuple[Tuple[int, int], str]:
    """``((height, width), order)`` to show a row of ``n_pixels`` as an image.

    Parameters
    ----------
    n_pixels : int
    image_shape : (int, int), optional
    order : {"C", "F"}, optional
        "F" for column-major data (ex4), "C" for row-major (MNIST, sklearn digits).
    """
    if order is not None and order not in ("C", "F"):
        raise ValueError(f"order must be 'C' (row-major) or 'F' (column-major), got {order!r}")
    if image_shape is None:
        side = math.isqrt(n_pixels)
        if side * side != n_pixels:
            raise ValueError(f"rows of {n_pixels} values are not square images; pass "
                             "image_shape=(height, width)")
        image_shape = (side, side)
    image_shape = tuple(int(s) for s in image_shape)
    if len(image_shape) != 2 or image_shape[0] * image_shape[1] != n_pixels:
        raise ValueError(f"image_shape {image_shape} does not hold {n_pixels} values")
    if order is None:
        order = "F" if n_pixels == 400 else "C"
    return image_shape, order


def _grid(fig, images, n_rows, n_cols, shape, order, titles=None, cmap="gray_r",
          lim=None, axes_spec=None, marked=None):
    """Images in an ``n_rows`` x ``n_cols`` grid; returns the axes.

    Parameters
    ----------
    images : array-like of shape (k, n_pixels), k <= n_rows * n_cols
    lim : float, optional
        Colour limits ``(-lim, lim)`` for every image (one scale symmetric
        about zero, for weights); ``None`` lets each image span its own range.
    titles : sequence of str of length k, optional
    marked : sequence of bool of length k, optional
        Images framed and titled in red (a wrong prediction).
    """
    gs = axes_spec if axes_spec is not None else fig.add_gridspec(n_rows, n_cols)
    axes = []
    for k in range(n_rows * n_cols):
        ax = fig.add_subplot(gs[k // n_cols, k % n_cols])
        ax.set_xticks([])
        ax.set_yticks([])
        if k < len(images):
            img = np.asarray(images[k], dtype=np.float64).reshape(shape, order=order)
            limits = {} if lim is None else {"vmin": -lim, "vmax": lim}
            ax.imshow(img, cmap=cmap, interpolation="nearest", **limits)
            mark = marked is not None and bool(marked[k])
            if titles is not None:
                ax.set_title(str(titles[k]), fontsize=8, pad=2,
                             color="tab:red" if mark else "black")
            if mark:
                for spine in ax.spines.values():
                    spine.set_edgecolor("tab:red")
                    spine.set_linewidth(2.0)
        else:
            ax.axis("off")
        axes.append(ax)
    return axes


def symmetric_limit(weights, percentile=99.5) -> float:
    """Half-width of a colour scale symmetric about zero for ``weights``.

    The ``percentile``-th percentile of ``|weights|``: a few extreme weights
    then saturate (the colour bar shows it with pointed ends) instead of
    fading every other weight to white.

    Parameters
    ----------
    weights : array-like, any shape
    percentile : float in (0, 100], default 99.5

    Returns
    -------
    lim : float > 0
    """
    magnitudes = np.abs(np.asarray(weights, dtype=np.float64)).ravel()
    if magnitudes.size == 0:
        return 1.0
    lim = float(np.percentile(magnitudes, percentile))
    return lim if lim > 0 else (float(magnitudes.max()) or 1.0)


def _weight_colorbar(fig, image, lim, weights, label, **where):
    """A colour bar for a symmetric weight scale; pointed ends when weights exceed it."""
    top = float(np.max(np.abs(weights))) if np.size(weights) else 0.0
    cbar = fig.colorbar(image, extend="both" if top > lim else "neither", **where)
    cbar.set_label(label, fontsize=8)
    cbar.ax.tick_params(labelsize=7)
    return cbar


def _labels_for(values, m, name, class_names):
    """Labels or predictions of shape (m,) as display strings (``class_names[k]`` if given)."""
    values = np.asarray(values)
    if values.ndim != 1 or values.shape[0] != m:
        raise ValueError(f"{name} must have shape ({m},), one per row of X, got shape {values.shape}")
    if class_names is None:
        return values, [str(v) for v in values]
    names = list(class_names)
    try:
        return values, [str(names[int(v)]) for v in values]
    except (IndexError, TypeError, ValueError):
        raise ValueError(f"{name} must be class indices 0..{len(names) - 1} when class_names "
                         f"is given") from None


def plot_digits(X, n=100, labels=None, predictions=None, class_names=None, image_shape=None,
                order=None, random_state=None, path=None, title=None):
    """A grid of ``n`` randomly chosen images (10x10 for the default 100).

    Parameters
    ----------
    X : array-like of shape (m, n_pixels)
    n : int, default 100
        Number of images (at most m); the grid is ceil(sqrt(n)) wide.
    labels : array-like of shape (m,), optional
        True class of each row, shown above its image.
    predictions : array-like of shape (m,), optional
        Predicted class of each row.  With ``labels``, mistakes are framed and
        titled in red as ``true→predicted``; alone, the predictions are the titles.
    class_names : sequence, optional
        Display name of each class index (e.g. ``nnfast.datasets.EX4_DIGITS``,
        where ex4's class 9 is the digit 0).
    image_shape, order
        See :func:`image_layout`.
    random_state : None, int or Generator
        Which images are chosen.
    path : str or Path, optional
        Save the figure as PNG here.
    title : str, optional

    Returns
    -------
    fig : matplotlib.figure.Figure
        One axes per image (``fig.axes[i].get_title()`` is its title).
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be 2-D with at least one row, got shape {X.shape}")
    shape, order = image_layout(X.shape[1], image_shape, order)
    n = min(int(n), X.shape[0])
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    rng = np.random.default_rng(random_state)
    idx = rng.choice(X.shape[0], size=n, replace=False)
    titles = marked = None
    if labels is not None:
        true, true_text = _labels_for(labels, X.shape[0], "labels", class_names)
        titles = [true_text[i] for i in idx]
    if predictions is not None:
        pred, pred_text = _labels_for(predictions, X.shape[0], "predictions", class_names)
        if labels is None:
            titles = [pred_text[i] for i in idx]
        else:
            marked = [pred[i] != true[i] for i in idx]
            titles = [f"{true_text[i]}→{pred_text[i]}" if wrong else true_text[i]
                      for i, wrong in zip(idx, marked)]
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    fig = _figure((0.8 * cols, 0.8 * rows + (0.35 if title or marked else 0)
                   + (0.15 * rows if titles is not None else 0)))
    _grid(fig, X[idx], rows, cols, shape, order, titles=titles, marked=marked)
    if marked is not None:
        wrong = int(np.sum(marked))
        note = f"{wrong} of {n} shown predicted wrongly (red: true→predicted)"
        title = f"{title}\n{note}" if title else note
    if title:
        fig.suptitle(title)
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_hidden_units(theta, layer_sizes, image_shape=None, order=None, n=25, path=None,
                      title="hidden units: input weights"):
    """The input weights of the first hidden layer's units as images (5x5 for 25 units).

    Every unit is drawn on one colour scale, symmetric about zero (red
    positive, blue negative, white zero) and set by :func:`symmetric_limit`
    over the units shown, so that units compare with each other; the colour
    bar on the right gives it.

    Parameters
    ----------
    theta : array-like of shape (n_params,)
    layer_sizes : sequence of int
    image_shape, order
        See :func:`image_layout` (the layout of the *inputs*).
    n : int, default 25
        At most this many units are shown.
    path : optional PNG path

    Returns
    -------
    fig : matplotlib.figure.Figure
        ``fig.axes[:k]`` are the units' images, ``fig.axes[-1]`` the colour bar.
    """
    from ._network import check_layer_sizes, n_params, unpack
    from ._validation import check_theta

    sizes = check_layer_sizes(layer_sizes)
    theta = check_theta(theta, n_params(sizes), np.float64, sizes)
    theta1 = unpack(theta, sizes)[0][:, 1:]
    shape, order = image_layout(theta1.shape[1], image_shape, order)
    k = min(int(n), theta1.shape[0])
    cols = math.ceil(math.sqrt(k))
    rows = math.ceil(k / cols)
    shown = theta1[:k]
    lim = symmetric_limit(shown)
    fig = _figure((1.0 * cols + 0.9, 1.0 * rows + 0.4))
    outer = fig.add_gridspec(1, 2, width_ratios=[cols, 0.12])
    axes = _grid(fig, shown, rows, cols, shape, order, cmap="RdBu_r", lim=lim,
                 axes_spec=outer[0].subgridspec(rows, cols))
    _weight_colorbar(fig, axes[0].images[0], lim, shown, "input weight",
                     cax=fig.add_subplot(outer[1]))
    if title:
        fig.suptitle(title)
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_cost_curve(result=None, cost=None, val_cost=None, val_accuracy=None, path=None,
                    title="cost per iteration", log=None, val_label="validation"):
    """Training (and held-out) cost per iteration, on a logarithmic cost axis.

    Parameters
    ----------
    result : TrainResult, optional
        Its ``cost_history``, ``val_cost_history``, ``val_accuracy_history``.
    cost, val_cost, val_accuracy : array-like of shape (n_iter + 1,), optional
        Used when ``result`` is not given.
    path : str or Path, optional
        Save the figure as PNG here.
    title : str, default "cost per iteration"
        With ``result``, the method and λ are added.
    log : bool, optional
        Logarithmic cost axis.  Default: yes whenever every cost is positive
        (the cost falls over decades, and a linear axis flattens the end of
        training into a line).
    val_label : str, default "validation"
        What the held-out data is called in the legend and axis label, e.g.
        ``"test"`` when the curve was recorded on a test split.

    Returns
    -------
    fig : matplotlib.figure.Figure
        ``fig.axes[0]`` the cost, ``fig.axes[1]`` (with an accuracy history)
        the held-out accuracy.
    """
    if result is not None:
        cost = result.cost_history
        val_cost = result.val_cost_history
        val_accuracy = result.val_accuracy_history
    if cost is None:
        raise ValueError("give a TrainResult or the cost history")
    if not isinstance(val_label, str) or not val_label:
        raise TypeError(f"val_label must be a non-empty string such as 'test', got {val_label!r}")
    cost = np.asarray(cost, dtype=np.float64)
    fig = _figure((7, 4))
    ax = fig.add_subplot(1, 1, 1)
    it = np.arange(cost.shape[0])
    ax.plot(it, cost, label="training cost (regularised)", color="C0")
    costs = [cost]
    if val_cost is not None:
        val_cost = np.asarray(val_cost, dtype=np.float64)
        ax.plot(it, val_cost, label=f"{val_label} cost (no regularisation)", color="C1")
        costs.append(val_cost)
    if log is None:
        log = all(np.all(c > 0) for c in costs)
    if log:
        from matplotlib.ticker import FuncFormatter, LogLocator

        ax.set_yscale("log")
        # plain numbers at 1, 2 and 5 of each decade: a cost falls over one or two decades
        # only, where powers of ten alone leave the axis with a single label
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda value, _: ""))
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost" + (" (log scale)" if log else ""))
    ax.grid(True, which="both" if log else "major", alpha=0.3)
    handles, names = ax.get_legend_handles_labels()
    if val_accuracy is not None:
        ax2 = ax.twinx()
        ax2.plot(it, 100 * np.asarray(val_accuracy), color="C2", linestyle="--",
                 label=f"{val_label} accuracy")
        ax2.set_ylabel(f"{val_label} accuracy (%)")
        h2, n2 = ax2.get_legend_handles_labels()
        handles, names = handles + h2, names + n2
    ax.legend(handles, names, loc="center right", fontsize=8, framealpha=0.9)
    if result is not None and title:
        title = f"{title} ({result.method}, λ = {result.lam:g})"
    if title:
        ax.set_title(title)
    if path is not None:
        save_figure(fig, path)
    return fig


def _cell_points(fig, ax, n_rows, n_cols) -> float:
    """Side of one cell of an image of ``n_rows`` x ``n_cols`` in ``ax``, in points (after layout)."""
    fig.draw_without_rendering()  # runs the layout engine, so the axes have their final size
    box = ax.get_window_extent()
    return min(box.width / n_cols, box.height / n_rows) * 72.0 / fig.dpi


def plot_confusion_matrix(C, labels=None, normalize=False, path=None,
                          title="confusion matrix"):
    """Confusion matrix as a heat map with the counts written in.

    The numbers are sized to the cells (as large as fits, whatever ``k``).

    Parameters
    ----------
    C : array-like of shape (k, k)
        Rows: true class, columns: predicted class.
    labels : sequence of length k, optional
    normalize : bool, default False
        Show each row as fractions of its true class.
    path : str or Path, optional
        Save the figure as PNG here.
    title : str, default "confusion matrix"

    Returns
    -------
    fig : matplotlib.figure.Figure
        ``fig.axes[0]`` the matrix (its ``texts`` the numbers, row by row),
        ``fig.axes[1]`` the colour bar.
    """
    C = np.asarray(C)
    if C.ndim != 2 or C.shape[0] != C.shape[1]:
        raise ValueError(f"C must be a square matrix, got shape {C.shape}")
    k = C.shape[0]
    labels = list(range(k)) if labels is None else [str(label) for label in labels]
    if len(labels) != k:
        raise ValueError(f"{len(labels)} labels for a {k}x{k} confusion matrix")
    shown = C / np.maximum(C.sum(axis=1, keepdims=True), 1) if normalize else C
    fig = _figure((0.55 * k + 2.5, 0.55 * k + 2))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(shown, cmap="Blues", interpolation="nearest")
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_xticks(range(k), labels)
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    top = float(np.max(shown)) if shown.size else 0.0
    texts = [[f"{shown[i, j]:.2f}" if normalize else str(int(C[i, j])) for j in range(k)]
             for i in range(k)]
    cell = _cell_points(fig, ax, k, k)
    longest = max((len(t) for row in texts for t in row), default=1)
    # a digit is about 0.6 em wide: fill ~70% of the cell's width, at most 40% of its height
    size = float(np.clip(min(0.4 * cell, 0.7 * cell / (0.6 * longest)), 4.0, 28.0))
    for i in range(k):
        for j in range(k):
            ax.text(j, i, texts[i][j], ha="center", va="center", fontsize=size,
                    color="white" if shown[i, j] > 0.6 * top else "black")
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_validation_curve(curve, image_shape=None, order=None, n_units=25, path=None,
                          title="λ sweep"):
    """Accuracy and weight size against λ, and the hidden units' input weights for each λ.

    Top left: training and validation accuracy per λ.  Top right: the
    root-mean-square input weight of the first hidden layer per λ (log
    scale), which shows how λ shrinks the weights.  Below, one panel per λ:
    the first ``n_units`` hidden units' input weights, each panel on its own
    colour scale symmetric about zero (:func:`symmetric_limit` of that λ's
    weights; red positive, blue negative, white zero) with its own colour
    bar, so every panel is readable and the colour bars' numbers compare the
    panels.  (A shared scale, set by the large weights of λ = 0, leaves the
    panels of large λ almost blank.)

    Parameters
    ----------
    curve : ValidationCurve
        From :func:`nnfast.validation_curve`.
    image_shape, order
        Layout of the inputs (see :func:`image_layout`).
    n_units : int, default 25
        Hidden units shown per λ (the first ``n_units`` of the first hidden layer).
    path : str or Path, optional
        Save the figure as PNG here.
    title : str, default "λ sweep"

    Returns
    -------
    fig : matplotlib.figure.Figure
        ``fig.axes[0]`` is the accuracy plot, ``fig.axes[1]`` the weight size,
        then for each λ its unit images followed by its colour bar.
    """
    from ._network import unpack

    lams = np.asarray(curve.lams, dtype=np.float64)
    k = lams.shape[0]
    sizes = curve.results[0].layer_sizes
    weights = [unpack(np.asarray(res.theta, dtype=np.float64), sizes)[0][:, 1:]
               for res in curve.results]
    units = max(1, min(int(n_units), weights[0].shape[0]))
    shown = [w[:units] for w in weights]
    cols = math.ceil(math.sqrt(units))
    rows = math.ceil(units / cols)
    panel = max(2.6, 0.55 * cols)
    fig = _figure((max(8.0, k * (panel + 0.9)), 3.4 + panel + 0.5))
    outer = fig.add_gridspec(2, 1, height_ratios=[3.0, panel])
    top = outer[0].subgridspec(1, 2, width_ratios=[1.6, 1.0])
    ax = fig.add_subplot(top[0])
    x = np.arange(k)  # λ values are often 0 and spread over decades: equal spacing
    ax.plot(x, 100 * curve.train_accuracy, "o-", label="training accuracy")
    if not np.all(np.isnan(curve.val_accuracy)):
        ax.plot(x, 100 * curve.val_accuracy, "s-", label="validation accuracy")
    ax.set_xticks(x, [f"{v:g}" for v in lams])
    ax.set_xlabel("λ")
    ax.set_ylabel("accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    size_ax = fig.add_subplot(top[1])
    rms = [float(np.sqrt(np.mean(np.square(w)))) for w in weights]
    size_ax.plot(x, rms, "o-", color="C3")
    size_ax.set_yscale("log")
    size_ax.set_xticks(x, [f"{v:g}" for v in lams])
    size_ax.set_xlabel("λ")
    size_ax.set_ylabel("RMS input weight (log scale)")
    size_ax.grid(True, which="both", alpha=0.3)
    if title:
        fig.suptitle(title)
    # per λ: the unit grid, its colour bar, and (between panels) an empty gap column
    ratios = []
    for i in range(k):
        ratios += [float(cols), 0.15] + ([0.45] if i < k - 1 else [])
    row = outer[1].subgridspec(1, len(ratios), width_ratios=ratios)
    for i, w in enumerate(shown):
        shape, order_i = image_layout(w.shape[1], image_shape, order)
        lim = symmetric_limit(w)
        column = 3 * i
        axes = _grid(fig, w, rows, cols, shape, order_i, cmap="RdBu_r", lim=lim,
                     axes_spec=row[column].subgridspec(rows, cols))
        axes[cols // 2].set_title(f"λ = {lams[i]:g}", fontsize=10)
        _weight_colorbar(fig, axes[0].images[0], lim, w, "input weight",
                         cax=fig.add_subplot(row[column + 1]))
    if path is not None:
        save_figure(fig, path)
    return fig
