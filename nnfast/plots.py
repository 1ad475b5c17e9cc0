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
           "plot_confusion_matrix", "plot_validation_curve", "save_figure"]


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
          symmetric=False, axes_spec=None, lim=None):
    """Images in an ``n_rows`` x ``n_cols`` grid; returns the axes.

    ``symmetric``: colour limits ``(-lim, lim)``, with ``lim`` the image's own
    largest absolute value unless ``lim`` is given (one scale for every image).
    """
    gs = axes_spec if axes_spec is not None else fig.add_gridspec(n_rows, n_cols)
    axes = []
    for k in range(n_rows * n_cols):
        ax = fig.add_subplot(gs[k // n_cols, k % n_cols])
        ax.set_xticks([])
        ax.set_yticks([])
        if k < len(images):
            img = np.asarray(images[k], dtype=np.float64).reshape(shape, order=order)
            if symmetric:
                vmax = lim if lim is not None else (float(np.max(np.abs(img))) or 1.0)
                ax.imshow(img, cmap=cmap, vmin=-vmax, vmax=vmax, interpolation="nearest")
            else:
                ax.imshow(img, cmap=cmap, interpolation="nearest")
            if titles is not None:
                ax.set_title(str(titles[k]), fontsize=8, pad=2)
        else:
            ax.axis("off")
        axes.append(ax)
    return axes


def plot_digits(X, n=100, labels=None, image_shape=None, order=None, random_state=None,
                path=None, title=None):
    """A grid of ``n`` randomly chosen images (10x10 for the default 100).

    Parameters
    ----------
    X : array-like of shape (m, n_pixels)
    n : int, default 100
        Number of images (at most m); the grid is ceil(sqrt(n)) wide.
    labels : array-like of shape (m,), optional
        Shown above each image.
    image_shape, order
        See :func:`image_layout`.
    random_state : None, int or Generator
        Which images are chosen.
    path : str or Path, optional
        Save the figure as PNG here.

    Returns
    -------
    fig : matplotlib.figure.Figure
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
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    fig = _figure((0.8 * cols, 0.8 * rows + (0.35 if title else 0) + (0.15 * rows if labels is not None else 0)))
    _grid(fig, X[idx], rows, cols, shape, order,
          titles=None if labels is None else np.asarray(labels)[idx])
    if title:
        fig.suptitle(title)
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_hidden_units(theta, layer_sizes, image_shape=None, order=None, n=25, path=None,
                      title="hidden units: input weights"):
    """The input weights of the first hidden layer's units as images (5x5 for 25 units).

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
    fig = _figure((1.0 * cols, 1.0 * rows + 0.4))
    _grid(fig, theta1[:k], rows, cols, shape, order, cmap="RdBu_r", symmetric=True)
    if title:
        fig.suptitle(title)
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_cost_curve(result=None, cost=None, val_cost=None, val_accuracy=None, path=None,
                    title="cost per iteration", log=None):
    """Training (and validation) cost per iteration.

    Parameters
    ----------
    result : TrainResult, optional
        Its ``cost_history``, ``val_cost_history``, ``val_accuracy_history``.
    cost, val_cost, val_accuracy : array-like of shape (n_iter + 1,), optional
        Used when ``result`` is not given.
    log : bool, optional
        Logarithmic cost axis; default when the cost falls by more than 10x.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    if result is not None:
        cost = result.cost_history
        val_cost = result.val_cost_history
        val_accuracy = result.val_accuracy_history
    if cost is None:
        raise ValueError("give a TrainResult or the cost history")
    cost = np.asarray(cost, dtype=np.float64)
    fig = _figure((7, 4))
    ax = fig.add_subplot(1, 1, 1)
    it = np.arange(cost.shape[0])
    ax.plot(it, cost, label="training cost (regularised)", color="C0")
    if val_cost is not None:
        ax.plot(it, np.asarray(val_cost), label="validation cost (no regularisation)", color="C1")
    if log is None:
        positive = cost[cost > 0]
        log = positive.size > 1 and positive.max() / positive.min() > 100
    if log:
        from matplotlib.ticker import ScalarFormatter

        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost")
    ax.grid(True, alpha=0.3)
    handles, names = ax.get_legend_handles_labels()
    if val_accuracy is not None:
        ax2 = ax.twinx()
        ax2.plot(it, 100 * np.asarray(val_accuracy), color="C2", linestyle="--",
                 label="validation accuracy")
        ax2.set_ylabel("validation accuracy (%)")
        h2, n2 = ax2.get_legend_handles_labels()
        handles, names = handles + h2, names + n2
    ax.legend(handles, names, loc="center right")
    if result is not None and title:
        title = f"{title} ({result.method}, λ = {result.lam:g})"
    if title:
        ax.set_title(title)
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_confusion_matrix(C, labels=None, normalize=False, path=None,
                          title="confusion matrix"):
    """Confusion matrix as a heat map with the counts written in.

    Parameters
    ----------
    C : array-like of shape (k, k)
        Rows: true class, columns: predicted class.
    labels : sequence of length k, optional
    normalize : bool, default False
        Show each row as fractions of its true class.

    Returns
    -------
    fig : matplotlib.figure.Figure
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
    top = float(np.max(shown)) if shown.size else 0.0
    for i in range(k):
        for j in range(k):
            text = f"{shown[i, j]:.2f}" if normalize else str(int(C[i, j]))
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if shown[i, j] > 0.6 * top else "black")
    if title:
        ax.set_title(title)
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_validation_curve(curve, image_shape=None, order=None, n_units=25, path=None,
                          title="λ sweep"):
    """Accuracy against λ, and the hidden units' input weights for each λ.

    The weight images of *all* λ panels share one colour scale, symmetric
    about zero: ``(-w, w)`` with ``w`` the largest absolute input weight among
    the units shown (over every λ), red for positive and blue for negative
    weights, white for zero.  A single colorbar on the right shows it.  So
    the shrinking of the weights as λ grows is visible: the panels of large
    λ are paler, where a per-image scale would stretch every panel to full
    contrast and hide it.

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
        ``fig.axes[0]`` is the accuracy plot, then the image axes (one per
        unit, λ after λ), and last the colorbar's axes.
    """
    from ._network import unpack

    lams = np.asarray(curve.lams, dtype=np.float64)
    k = lams.shape[0]
    sizes = curve.results[0].layer_sizes
    weights = [unpack(np.asarray(res.theta, dtype=np.float64), sizes)[0][:, 1:]
               for res in curve.results]
    units = max(1, min(int(n_units), weights[0].shape[0]))
    shown = [w[:units] for w in weights]
    # one symmetric scale for every panel: the shrinking with λ stays visible
    lim = max(float(np.max(np.abs(w))) for w in shown) or 1.0
    fig = _figure((max(8, 3.2 * k + 0.8), 4 + 3.2))
    outer = fig.add_gridspec(2, 1, height_ratios=[1.1, 1])
    ax = fig.add_subplot(outer[0])
    x = np.arange(k)  # λ values are often 0 and spread over decades: equal spacing
    ax.plot(x, 100 * curve.train_accuracy, "o-", label="training accuracy")
    if not np.all(np.isnan(curve.val_accuracy)):
        ax.plot(x, 100 * curve.val_accuracy, "s-", label="validation accuracy")
    ax.set_xticks(x, [f"{v:g}" for v in lams])
    ax.set_xlabel("λ")
    ax.set_ylabel("accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    row = outer[1].subgridspec(1, k + 1, width_ratios=[1.0] * k + [0.06])
    cols = math.ceil(math.sqrt(units))
    rows = math.ceil(units / cols)
    image = None
    for i, w in enumerate(shown):
        shape, order_i = image_layout(w.shape[1], image_shape, order)
        sub = row[i].subgridspec(rows, cols, wspace=0.05, hspace=0.05)
        axes = _grid(fig, w, rows, cols, shape, order_i, cmap="RdBu_r", symmetric=True,
                     axes_spec=sub, lim=lim)
        axes[cols // 2].set_title(f"λ = {lams[i]:g}", fontsize=10)
        image = image if image is not None else axes[0].images[0]
    cbar = fig.colorbar(image, cax=fig.add_subplot(row[k]))
    cbar.set_label("input weight (same scale for every λ)", fontsize=8)
    cbar.ax.tick_params(labelsize=7)
    if path is not None:
        save_figure(fig, path)
    return fig
