"""nnfast against scikit-learn's own MLP: cost and gradient of ``_backprop`` on the same
weights, and the L-BFGS loss curve of a fit from the same starting weights.

How the two are matched:

* sklearn's ``coefs_[l]`` is (n_in, n_out) with the bias in ``intercepts_[l]``;
  nnfast's weight matrix is ``[intercept | coef.T]`` (bias in column 0).
* sklearn's ``alpha`` is nnfast's ``lam``: both add ``alpha / (2 n) ||W||^2``
  over non-bias weights (``/ sum(sample_weight)`` with weights).
* Logistic outputs are compared on one-hot (multilabel-indicator) targets, for
  which sklearn's MLPClassifier uses a sigmoid per output; softmax on labels of
  three or more classes; identity with MLPRegressor.
* Weights are moderate (|w| <= 0.5, inputs in [0, 1]), so no probability gets
  near sklearn's clipping to [eps, 1 - eps], where its loss would differ from
  nnfast's (which is computed from the logits and never clipped).
* sklearn's squared loss is ``mean over samples and outputs / 2`` while its
  gradient is that of ``sum over outputs / (2 n)`` (its delta is ``pred - y``):
  with several outputs its reported loss is nnfast's data term divided by the
  number of outputs; its gradient equals nnfast's.  The costs are compared on
  that common scale; the L-BFGS fit uses one output, where loss and gradient agree.
"""

import itertools
import warnings

import numpy as np
import pytest
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

import nnfast

ACTIVATIONS = ["logistic", "tanh", "relu", "identity"]
#: output -> (the estimator class, number of outputs of the test network)
HEADS = {"logistic": (MLPClassifier, 4), "softmax": (MLPClassifier, 4),
         "identity": (MLPRegressor, 3)}


def to_sklearn(theta, sizes):
    """(coefs_, intercepts_) of nnfast's ``theta``."""
    weights = nnfast.unpack(theta, sizes)
    return [w[:, 1:].T.copy() for w in weights], [w[:, 0].copy() for w in weights]


def from_sklearn(coefs, intercepts):
    """nnfast's flat vector of sklearn's matrices (or of their gradients)."""
    return nnfast.pack([np.column_stack([b, c.T]) for c, b in zip(coefs, intercepts)])


def problem(output, sizes, seed):
    """X in [0, 1] (digits), targets for ``output`` (nnfast's and sklearn's), theta."""
    X, labels = nnfast.datasets.load_digits()
    rng = np.random.default_rng(seed)
    rows = rng.choice(X.shape[0], 120, replace=False)
    X = X[rows][:, :sizes[0]]
    digit = labels[rows]
    labels = digit % sizes[-1]
    if output == "identity":  # real targets: the digit's value, and its pixels' mean and spread
        Y = np.column_stack([digit / 9.0, X.mean(axis=1), X.std(axis=1)])[:, :sizes[-1]]
    else:
        Y = np.eye(sizes[-1])[labels]
    theta = rng.uniform(-0.5, 0.5, nnfast.n_params(sizes))
    return X, Y, labels, theta


def sklearn_model(output, sizes, activation, alpha, **params):
    cls = HEADS[output][0]
    model = cls(hidden_layer_sizes=sizes[1:-1], activation=activation, alpha=alpha, **params)
    model.n_layers_ = len(sizes)
    model.out_activation_ = output
    model.n_outputs_ = sizes[-1]
    return model


def sklearn_cost_grad(model, theta, sizes, X, Y, sample_weight):
    model.coefs_, model.intercepts_ = to_sklearn(theta, sizes)
    activations = [X] + [None] * (len(sizes) - 1)
    deltas = [None] * (len(sizes) - 1)
    coef_grads = [np.empty((a, b)) for a, b in itertools.pairwise(sizes)]
    intercept_grads = [np.empty(b) for b in sizes[1:]]
    loss, coef_grads, intercept_grads = model._backprop(X, Y, sample_weight, activations, deltas,
                                                        coef_grads, intercept_grads)
    return loss, from_sklearn(coef_grads, intercept_grads)


def nnfast_cost_grad(theta, X, Y, sizes, lam, activation, output, sample_weight):
    if sample_weight is None:
        return nnfast.cost_grad(theta, X, Y, sizes, lam=lam, activation=activation,
                                output=output, backend="numpy")
    from nnfast._weighted import WeightedObjective

    return WeightedObjective(X, Y, sizes, sample_weight, lam=lam, activation=activation,
                             output=output)(theta)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
@pytest.mark.parametrize("hidden", [(7,), (6, 5)], ids=["depth1", "depth2"])
@pytest.mark.parametrize("output", list(HEADS))
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_cost_and_gradient_equal_sklearns_backprop(activation, output, hidden, weighted):
    sizes = (20, *hidden, HEADS[output][1])
    X, Y, _, theta = problem(output, sizes, seed=len(hidden))
    lam = 0.7
    sample_weight = (np.random.default_rng(1).uniform(0.1, 3.0, X.shape[0]) if weighted
                     else None)
    J, grad = nnfast_cost_grad(theta, X, Y, sizes, lam, activation, output, sample_weight)
    model = sklearn_model(output, sizes, activation, alpha=lam)
    sk_loss, sk_grad = sklearn_cost_grad(model, theta, sizes, X, Y, sample_weight)

    np.testing.assert_allclose(grad, sk_grad, rtol=1e-10, atol=1e-14)
    if output == "identity":
        # sklearn's data term is nnfast's divided by the number of outputs (docstring)
        total_weight = X.shape[0] if sample_weight is None else sample_weight.sum()
        mask = nnfast.objective.l2_mask(sizes)
        penalty = lam / (2 * total_weight) * np.sum((theta * mask) ** 2)
        sk_loss = (sk_loss - penalty) * sizes[-1] + penalty
    np.testing.assert_allclose(J, sk_loss, rtol=1e-10)


def test_the_conversion_of_weights_round_trips():
    sizes = (5, 4, 3)
    theta = np.random.default_rng(0).standard_normal(nnfast.n_params(sizes))
    coefs, intercepts = to_sklearn(theta, sizes)
    assert [c.shape for c in coefs] == [(5, 4), (4, 3)]
    np.testing.assert_array_equal(from_sklearn(coefs, intercepts), theta)


class _RecordedMinimize:
    """``scipy.optimize.minimize`` that records the cost after each iteration (the
    ``loss_curve_`` sklearn does not keep for lbfgs)."""

    def __init__(self):
        self.costs = []
        self.minimize = scipy.optimize.minimize

    def __call__(self, *args, **kwargs):
        kwargs["callback"] = lambda intermediate_result: self.costs.append(
            float(intermediate_result.fun))
        return self.minimize(*args, **kwargs)


@pytest.mark.parametrize("output", list(HEADS))
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_lbfgs_fit_follows_sklearns_loss_curve(activation, output, monkeypatch):
    n_out = 1 if output == "identity" else HEADS[output][1]
    sizes = (20, 8, n_out)
    X, Y, labels, theta0 = problem(output, sizes, seed=3)
    Y = Y[:, :n_out]
    lam, n_iter = 0.5, 50
    # both stop only at the iteration limit: no gradient or cost tolerance reached first
    res = nnfast.train(X, Y if output != "softmax" else labels, sizes, lam=lam,
                       method="L-BFGS-B", max_iter=n_iter, theta0=theta0, tol=1e-14,
                       activation=activation, output=output,
                       loss="squared_error" if output == "identity" else "cross_entropy",
                       backend="numpy", progress=False)
    assert res.n_iter == n_iter

    model = sklearn_model(output, sizes, activation, alpha=lam, solver="lbfgs", max_iter=1,
                          tol=1e-14, warm_start=True, random_state=0)
    y_sk = Y[:, 0] if output == "identity" else (labels if output == "softmax" else Y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y_sk)  # sets up sklearn's fitted state; the weights are replaced next
        assert model.out_activation_ == output
        model.coefs_, model.intercepts_ = to_sklearn(theta0, sizes)
        recorder = _RecordedMinimize()
        with monkeypatch.context() as patch:
            patch.setattr(scipy.optimize, "minimize", recorder)
            model.set_params(max_iter=n_iter).fit(X, y_sk)
    assert len(recorder.costs) == n_iter
    np.testing.assert_allclose(res.cost_history[1:], recorder.costs, rtol=1e-8)
    # and the weights they end at
    np.testing.assert_allclose(res.theta, from_sklearn(model.coefs_, model.intercepts_),
                               rtol=1e-5, atol=1e-7)
