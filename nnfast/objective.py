"""The regularised cost and its gradient, prepared once per data set."""

from __future__ import annotations

import numpy as np

from ._activations import check_activations, check_head, is_ex4_network
from ._network import check_layer_sizes, check_network_memory, layer_offsets, n_params
from ._validation import check_lam, check_n_threads, check_targets, check_theta, check_X
from .backends import backend_for_data, get_backend
from .backends._base import layout_kwargs, network_kwargs


def l2_mask(layer_sizes) -> np.ndarray:
    """1.0 for every weight that L2 regularisation applies to, 0.0 for bias weights.

    Returns
    -------
    mask : ndarray of shape (n_params,), float64
    """
    mask = np.ones(n_params(layer_sizes))
    for start, end, shape in layer_offsets(layer_sizes):
        mask[start:end].reshape(shape)[:, 0] = 0.0
    return mask


def finish_cost_grad(loss_sum, grad_sum, theta, m, lam, mask):
    """Turn summed loss and gradient into the regularised mean, in float64.

    ``J = loss_sum / m + lam / (2 m) * sum(theta**2 over non-bias weights)``
    and ``grad = grad_sum / m + lam / m * theta`` (non-bias weights only).

    Parameters
    ----------
    loss_sum : float
    grad_sum : ndarray of shape (n_params,) or None
        Not modified unless it is already float64 (then it becomes the result).
    theta : ndarray of shape (n_params,)
    m : int
        Number of examples the sums run over.
    lam : float
    mask : ndarray of shape (n_params,), from :func:`l2_mask`

    Returns
    -------
    J : float
    grad : ndarray of shape (n_params,), float64, or None
    """
    theta64 = np.asarray(theta, dtype=np.float64)
    J = float(loss_sum) / m
    if lam:
        penalised = theta64 * mask
        # np.sum, not a BLAS dot: a threaded ddot leaves OpenBLAS workers spinning,
        # which takes a core from the next kernel call (8 ms instead of 3 on ex4).
        J += lam / (2.0 * m) * float(np.sum(penalised * theta64))
    if grad_sum is None:
        return J, None
    grad = np.asarray(grad_sum, dtype=np.float64)
    grad *= 1.0 / m
    if lam:
        grad += (lam / m) * penalised
    return J, grad


class ObjectiveCalls:
    """The calls every objective offers, on top of ``_evaluate(theta, need_grad)``.

    Shared by :class:`Objective` and ``nnfast.distributed.DistributedObjective``.
    """

    def _evaluate(self, theta, need_grad):  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, theta):
        """``(J, grad)``: the cost (float) and a fresh float64 gradient of shape (n_params,)."""
        return self._evaluate(theta, True)

    cost_grad = __call__

    def cost(self, theta) -> float:
        """The regularised cost J(theta) alone (no backward pass)."""
        return self._evaluate(theta, False)[0]

    def grad(self, theta) -> np.ndarray:
        """The gradient alone, float64 of shape (n_params,)."""
        return self._evaluate(theta, True)[1]


class Objective(ObjectiveCalls):
    """Regularised cost and gradient of a fully connected network on fixed data.

    ``X`` and ``y`` are checked, converted and laid out for the backend once,
    here; each call then checks only ``theta``.  An instance is a drop-in
    ``fun`` for ``scipy.optimize.minimize(fun, theta0, jac=True)``.

    Parameters
    ----------
    X : array-like of shape (m, n_in), float
        One example per row, without a bias column.  Never modified.
    y : array-like
        Class indices of shape (m,) in ``0 .. n_out - 1``, or targets of shape
        (m, n_out) in [0, 1].
    layer_sizes : sequence of int
        ``[n_in, h1, ..., n_out]``.
    lam : float, default 0.0
        L2 strength λ; the penalty is ``λ / (2 m) Σ θ²`` over non-bias weights.
    loss : {"cross_entropy", "squared_error"} or None, default None
        None takes the output's own loss: cross-entropy for "logistic" and
        "softmax", squared error for "identity".  "squared_error" with logistic
        outputs is also possible.
    backend : str, default "auto"
        A name from ``nnfast.available_backends()``; ``"auto"`` takes the fastest for
        this network, dtype and size of data, measured on a sample of the rows the
        first time (see ``nnfast.backends._auto``); ``self.backend`` is the one chosen.
    n_threads : int or None
        Threads for backends that use them.  ``None`` decides at every call:
        all cores on an otherwise idle machine, fewer while other processes keep
        cores busy (``nnfast._validation.free_cores``); results do not depend on it.
    dtype : float64, float32 or None
        Working dtype of the kernels; ``None`` keeps X's (float32 stays float32,
        anything else becomes float64).  Costs are accumulated in float64 and
        gradients are always returned as float64 (what scipy's optimisers use).
    reuse : bool, default True
        True lays the data out for many calls (the cython backend packs X into
        panels, a second copy of X, or keeps a mostly-zero X's nonzeros by rows and by
        block and feature).
        False is for one or a few calls (the one-shot functions): the kernels
        read X as given, and building the objective costs little more than its
        checks.
    check_finite : bool, default True
        Refuse NaN and inf in X here.  False skips that pass over X; only for a
        caller that detects them otherwise (``nnfast.cost_grad`` checks the
        gradient, which a non-finite value of X always reaches).

    activation : str or sequence of str, default "logistic"
        Hidden units: "logistic", "tanh", "relu" or "identity", for every hidden
        layer or one name per hidden layer (see ``nnfast._activations``).
    output : {"logistic", "softmax", "identity"}, default "logistic"
        The output layer: a sigmoid per output (ex4), a softmax over the outputs
        (one class per example), or the logits themselves (regression, with
        real-valued targets ``y`` of shape (m,) or (m, n_out)).

    Attributes
    ----------
    m : int
    n_params : int
    n_threads : int
        Threads of the next call (for ``n_threads=None``, read from the load).
    n_evals : int
        Number of evaluations so far.
    """

    #: a weight per example (nnfast._weighted): only backends that weight examples qualify
    _weighted = False

    def __init__(self, X, y, layer_sizes, lam=0.0, loss=None,
                 backend="auto", n_threads=None, dtype=None, reuse=True, check_finite=True,
                 activation="logistic", output="logistic"):
        self.layer_sizes = check_layer_sizes(layer_sizes)
        self.offsets = layer_offsets(self.layer_sizes)
        self.n_params = n_params(self.layer_sizes)
        self.lam = check_lam(lam)
        self.activations = check_activations(activation, len(self.layer_sizes) - 2)
        self.output, self.loss = check_head(output, loss)
        self._net = dict(activations=self.activations, output=self.output)
        # an unknown or unavailable name (or one without this network) fails before any work
        first = get_backend(backend, **self._net)
        # None stays None: the thread count is then chosen per call from the load
        self._requested_threads = None if n_threads is None else check_n_threads(n_threads)
        X = check_X(X, self.layer_sizes[0], dtype, check_finite=check_finite,
                    n_threads=self.n_threads)
        self.dtype = X.dtype
        self.m = X.shape[0]
        # before the targets, the mask and the backend's layout are allocated
        check_network_memory(self.layer_sizes, self.m, self.dtype.itemsize)
        # data for one call go to the backend "auto" takes without measuring (the first);
        # one that reads targets units-major then gets them so, not transposed per call
        Y = check_targets(y, self.m, self.layer_sizes[-1], self.dtype,
                          real_valued=self.output == "identity",
                          units_major=not reuse and first.targets_units_major)
        self.backend = backend_for_data(backend, X, Y, self.layer_sizes, self.offsets, self.loss,
                                        self.n_threads, row_weights=self._weighted, **self._net)
        layout = layout_kwargs(self.backend, self.layer_sizes)
        if reuse:
            self._data = self.backend.prepare(X, Y, **layout)
        elif not check_finite and self.backend.finds_nonfinite_X:
            self._data = self.backend.prepare_once(X, Y, x_checked=False, **layout)
        else:
            self._data = self.backend.prepare_once(X, Y, **layout)
        self._backend_net = network_kwargs(self.backend, **self._net)
        self._mask = l2_mask(self.layer_sizes)
        self.n_evals = 0

    @property
    def n_threads(self) -> int:
        """Threads the next call uses: the ``n_threads`` given, or what is free now."""
        return check_n_threads(self._requested_threads)

    def __repr__(self):
        net = "" if is_ex4_network(self.activations, self.output) else (
            f"activation={list(self.activations)}, output={self.output!r}, ")
        return (f"Objective(m={self.m}, layer_sizes={list(self.layer_sizes)}, lam={self.lam}, "
                f"{net}loss={self.loss!r}, backend={self.backend.name!r}, dtype={self.dtype}, "
                f"n_threads={self.n_threads})")

    def _evaluate(self, theta, need_grad):
        theta = check_theta(theta, self.n_params, self.dtype, self.layer_sizes)
        grad_sum = np.empty(self.n_params, dtype=self.dtype) if need_grad else None
        loss_sum = self.backend.loss_grad_sum(theta, self.layer_sizes, self.offsets, self._data,
                                              self.loss, self.n_threads, grad_sum,
                                              **self._backend_net)
        self.n_evals += 1
        return finish_cost_grad(loss_sum, grad_sum, theta, self.m, self.lam, self._mask)

