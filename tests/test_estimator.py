"""NNClassifier and NNRegressor: scikit-learn's estimator checks, pipelines, grid search,
labels, sklearn's parameter names, sample weights, warm starts and partial_fit."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_diabetes
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import nnfast
from nnfast import NNClassifier, NNRegressor

ESTIMATORS = [NNClassifier(backend="numpy", n_threads=1, max_iter=200),
              NNClassifier(backend="numpy", n_threads=1, max_iter=200, activation="relu",
                           output="softmax"),
              NNRegressor(backend="numpy", n_threads=1, max_iter=200),
              NNRegressor(backend="numpy", n_threads=1, solver="adam", max_iter=200,
                          activation="tanh")]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_estimator_checks(estimator, check):
    if check.func.__name__ == "check_sample_weight_equivalence_on_dense_data":
        # Weights against repeated rows: the cost and gradient agree to rounding
        # (test_integer_weights_equal_repeated_rows), but L-BFGS near a minimum of
        # this over-parametrised problem (15 rows, 25 hidden units) amplifies the
        # rounding of sums taken in another order: the fits agree to 1e-12 after 50
        # iterations and to 1e-3 after 200.  scikit-learn runs its own MLP through
        # this check with max_iter=100; 50 iterations is the same test, before the flat end.
        estimator = clone(estimator).set_params(max_iter=50)
    check(estimator)


@pytest.fixture(scope="module")
def split(digits):
    X, y = digits
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


def test_fit_predict_score_on_digits(split):
    X_tr, X_te, y_tr, y_te = split
    clf = NNClassifier(lam=1.0, max_iter=150, random_state=0, backend="numpy", n_threads=1)
    assert clf.fit(X_tr, y_tr) is clf
    assert clf.layer_sizes_ == (64, 25, 10)
    assert clf.score(X_te, y_te) >= 0.96
    proba = clf.predict_proba(X_te)
    assert proba.shape == (X_te.shape[0], 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[np.argmax(proba, axis=1)], clf.predict(X_te))
    assert clf.loss_curve_.shape == (clf.n_iter_ + 1,)
    assert [w.shape for w in clf.coefs_] == [(25, 65), (10, 26)]
    # the estimator is nnfast.train underneath
    small = NNClassifier(hidden_layer_sizes=(7,), max_iter=10, random_state=0, backend="numpy", n_threads=1)
    small.fit(X_tr, y_tr)
    res = nnfast.train(X_tr, y_tr, [64, 7, 10], lam=1.0, max_iter=10, random_state=0,
                       backend="numpy", n_threads=1, progress=False)
    np.testing.assert_allclose(small.theta_, res.theta)


def test_predictions_come_back_in_the_users_labels(split):
    X_tr, X_te, y_tr, _ = split
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])
    clf = NNClassifier(hidden_layer_sizes=(10,), max_iter=50, random_state=0, backend="numpy", n_threads=1)
    clf.fit(X_tr, names[y_tr])
    assert sorted(clf.classes_) == list(clf.classes_) and set(clf.classes_) == set(names)
    assert set(clf.predict(X_te)) <= set(names)
    # ex4-style labels 1..10 work too (no need to subtract one)
    clf.fit(X_tr, y_tr + 1)
    assert clf.classes_.tolist() == list(range(1, 11))
    assert clf.predict(X_te).min() >= 1


def test_get_set_params_and_clone():
    clf = NNClassifier(hidden_layer_sizes=(30, 20), lam=0.5, method="adam", dtype="float32")
    params = clf.get_params()
    for key in ("hidden_layer_sizes", "lam", "method", "max_iter", "backend", "dtype",
                "random_state", "learning_rate", "batch_size", "early_stopping"):
        assert key in params
    clf.set_params(lam=2.0, max_iter=7)
    assert clf.lam == 2.0 and clf.max_iter == 7
    twin = clone(clf)
    assert twin.get_params() == clf.get_params()


def test_pipeline_and_grid_search(split):
    X_tr, X_te, y_tr, y_te = split
    pipe = make_pipeline(StandardScaler(), NNClassifier(hidden_layer_sizes=(10,), max_iter=60,
                                                        random_state=0, backend="numpy", n_threads=1))
    grid = GridSearchCV(pipe, {"nnclassifier__lam": [0.1, 10.0]}, cv=2)
    grid.fit(X_tr[:600], y_tr[:600])
    assert grid.best_params_["nnclassifier__lam"] in (0.1, 10.0)
    assert grid.score(X_te, y_te) > 0.9


def test_early_stopping_and_other_methods(split):
    X_tr, X_te, y_tr, y_te = split
    clf = NNClassifier(method="adam", max_iter=200, early_stopping=True, patience=3,
                       random_state=0, backend="numpy", n_threads=1).fit(X_tr, y_tr)
    assert clf.result_.stop_reason.startswith("early stopping")
    assert clf.n_iter_ < 200
    np.testing.assert_array_equal(clf.theta_, clf.result_.best_theta)
    assert clf.score(X_te, y_te) > 0.9


def test_float32_and_errors(split):
    X_tr, X_te, y_tr, _ = split
    clf = NNClassifier(hidden_layer_sizes=(10,), max_iter=20, dtype="float32",
                       random_state=0, backend="numpy", n_threads=1).fit(X_tr, y_tr)
    assert clf.dtype_ == np.float32
    with pytest.raises(ValueError, match="features"):
        clf.predict(X_te[:, :10])
    with pytest.raises(ValueError, match="Unknown label type"):
        NNClassifier().fit(X_tr, X_tr[:, 0] + 0.5)
    with pytest.raises(ValueError, match="method must be one of"):
        NNClassifier(method="newton").fit(X_tr, y_tr)


# --- activations, softmax, scikit-learn's names ------------------------------------------


def test_relu_softmax_classifier_on_digits(split):
    X_tr, X_te, y_tr, y_te = split
    clf = NNClassifier(hidden_layer_sizes=(30,), activation="relu", output="softmax",
                       lam=1.0, max_iter=200, random_state=0, backend="numpy", n_threads=1)
    clf.fit(X_tr, y_tr)
    assert clf.activations_ == ("relu",) and clf.out_activation_ == "softmax"
    assert clf.score(X_te, y_te) >= 0.95
    proba = clf.predict_proba(X_te)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # the probabilities are the network's softmax itself
    h = nnfast.predict_proba(clf.theta_, X_te, clf.layer_sizes_, backend="numpy",
                             activation="relu", output="softmax")
    np.testing.assert_allclose(proba, h)
    # and the fit is nnfast.train with the same network and the same threads: OpenBLAS
    # rounds a product differently on 2 threads, and 200 L-BFGS steps amplify that to 1e-2
    res = nnfast.train(X_tr, y_tr, [64, 30, 10], lam=1.0, max_iter=200, random_state=0,
                       activation="relu", output="softmax", backend="numpy", n_threads=1,
                       progress=False)
    np.testing.assert_allclose(clf.theta_, res.theta)


def test_binary_softmax_is_one_sigmoid_output(split):
    X_tr, X_te, y_tr, _ = split
    names = np.where(y_tr % 2 == 0, "even", "odd")
    clf = NNClassifier(hidden_layer_sizes=(10,), output="softmax", max_iter=100,
                       random_state=0, backend="numpy", n_threads=1).fit(X_tr, names)
    assert clf.layer_sizes_ == (64, 10, 1) and clf.out_activation_ == "logistic"
    proba = clf.predict_proba(X_te)
    h = nnfast.predict_proba(clf.theta_, X_te, clf.layer_sizes_, backend="numpy")[:, 0]
    np.testing.assert_allclose(proba[:, 1], h)
    np.testing.assert_allclose(proba[:, 0], 1 - h)
    np.testing.assert_array_equal(clf.predict(X_te), np.where(h > 0.5, "odd", "even"))
    # the ex4 output keeps a sigmoid per class
    ex4 = NNClassifier(hidden_layer_sizes=(10,), max_iter=5, random_state=0, backend="numpy",
                       n_threads=1).fit(X_tr, names)
    assert ex4.layer_sizes_ == (64, 10, 2)


def test_activation_per_hidden_layer_and_bad_names(split):
    X_tr, _, y_tr, _ = split
    clf = NNClassifier(hidden_layer_sizes=(12, 8), activation=("tanh", "relu"), max_iter=5,
                       random_state=0, backend="numpy", n_threads=1).fit(X_tr, y_tr)
    assert clf.activations_ == ("tanh", "relu")
    with pytest.raises(ValueError, match="activation must be one of"):
        NNClassifier(activation="swish").fit(X_tr, y_tr)
    with pytest.raises(ValueError, match="activation lists 1 names but the network has 2"):
        NNClassifier(hidden_layer_sizes=(4, 4), activation=["relu"]).fit(X_tr, y_tr)
    with pytest.raises(ValueError, match="output must be 'logistic' or 'softmax'"):
        NNClassifier(output="identity").fit(X_tr, y_tr)
    with pytest.raises(ValueError, match="cannot be trained with loss='squared_error'"):
        NNClassifier(output="softmax", loss="squared_error").fit(X_tr, y_tr)


def test_sklearn_names_mean_nnfasts(split):
    X_tr, _, y_tr, _ = split
    common = dict(hidden_layer_sizes=(8,), max_iter=15, random_state=0, backend="numpy",
                  n_threads=1)
    ours = NNClassifier(lam=0.3, method="adam", learning_rate=0.02, **common).fit(X_tr, y_tr)
    theirs = NNClassifier(alpha=0.3, solver="adam", learning_rate_init=0.02,
                          **common).fit(X_tr, y_tr)
    np.testing.assert_array_equal(ours.theta_, theirs.theta_)
    lbfgs = NNClassifier(solver="lbfgs", **common).fit(X_tr, y_tr)
    assert lbfgs.result_.method == "L-BFGS-B"
    stopped = NNClassifier(solver="adam", early_stopping=True, n_iter_no_change=2,
                           **dict(common, max_iter=100)).fit(X_tr, y_tr)
    assert stopped.result_.stop_reason.startswith("early stopping")
    assert "did not improve for 2 iterations" in stopped.result_.stop_reason
    with pytest.raises(ValueError, match="alpha=0.1 and lam=2.0 name the same setting"):
        NNClassifier(alpha=0.1, lam=2.0).fit(X_tr, y_tr)
    with pytest.raises(ValueError, match="solver must be one of"):
        NNClassifier(solver="L-BFGS-B").fit(X_tr, y_tr)
    with pytest.raises(ValueError, match="learning_rate_init must be a positive number"):
        NNClassifier(solver="sgd", learning_rate_init=-1.0).fit(X_tr, y_tr)
    with pytest.raises(ValueError, match="n_iter_no_change must be at least 1"):
        NNClassifier(n_iter_no_change=0).fit(X_tr, y_tr)
    with pytest.raises(ValueError, match="validation_fraction must be a number in"):
        NNClassifier(early_stopping=True, validation_fraction=1.5).fit(X_tr, y_tr)
    with pytest.raises(TypeError, match="alpha must be a real number"):
        NNClassifier(alpha="big").fit(X_tr, y_tr)


def test_batch_size_auto_is_sklearns():
    clf = NNClassifier(batch_size="auto")
    assert clf._train_settings(1000)["batch_size"] == 200
    assert clf._train_settings(50)["batch_size"] == 50


# --- sample weights ------------------------------------------------------------------------


WEIGHTING_BACKENDS = [name for name in nnfast.available_backends()
                      if nnfast.get_backend(name).supports_row_weights]


@pytest.mark.parametrize("backend", WEIGHTING_BACKENDS)
@pytest.mark.parametrize("activation,output", [("logistic", "logistic"), ("relu", "softmax"),
                                               ("tanh", "identity")])
def test_weighted_cost_and_gradient_by_hand(activation, output, backend):
    """J = Σ w_i loss_i / W + λ/(2W) Σθ², the gradient likewise: summed here one example at
    a time from the loop oracle's unregularised cost of each row."""
    from nnfast._weighted import WeightedObjective
    from nnfast.objective import l2_mask

    rng = np.random.default_rng(0)
    sizes = [4, 5, 3]
    X = rng.uniform(0, 1, (9, 4))
    y = rng.uniform(-1, 1, (9, 3)) if output == "identity" else rng.integers(0, 3, 9)
    w = rng.uniform(0, 2, 9)
    w[2] = 0.0
    theta = rng.uniform(-0.5, 0.5, nnfast.n_params(sizes))
    lam = 0.8
    by_hand_J, by_hand_grad = 0.0, np.zeros_like(theta)
    for i in range(9):
        J_i, g_i = nnfast.cost_grad(theta, X[i:i + 1], y[i:i + 1], sizes, lam=0.0,
                                    activation=activation, output=output, backend="loop")
        by_hand_J += w[i] * J_i
        by_hand_grad += w[i] * g_i
    W = w.sum()
    penalised = theta * l2_mask(sizes)
    by_hand_J = by_hand_J / W + lam / (2 * W) * np.sum(penalised ** 2)
    by_hand_grad = by_hand_grad / W + lam / W * penalised
    X_before, w_before = X.copy(), w.copy()
    objective = WeightedObjective(X, y, sizes, w, lam=lam, activation=activation,
                                  output=output, backend=backend)
    assert objective.backend.name == backend
    J, grad = objective(theta)
    np.testing.assert_allclose(J, by_hand_J, rtol=1e-13)
    np.testing.assert_allclose(grad, by_hand_grad, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(w, w_before)


@pytest.mark.parametrize("backend", WEIGHTING_BACKENDS)
def test_integer_weights_equal_repeated_rows(split, backend):
    from nnfast._weighted import WeightedObjective

    X_tr, _, y_tr, _ = split
    X, y = X_tr[:40], y_tr[:40]
    w = np.random.default_rng(1).integers(0, 4, 40)
    theta = nnfast.init_theta([64, 6, 10], random_state=0)
    for output in ("logistic", "softmax"):
        J_w, g_w = WeightedObjective(X, y, [64, 6, 10], w, lam=1.0, output=output,
                                     backend=backend)(theta)
        J_r, g_r = nnfast.cost_grad(theta, np.repeat(X, w, axis=0), np.repeat(y, w),
                                    [64, 6, 10], lam=1.0, output=output, backend="numpy")
        np.testing.assert_allclose(J_w, J_r, rtol=1e-13)
        np.testing.assert_allclose(g_w, g_r, rtol=1e-11, atol=1e-15)
    common = dict(hidden_layer_sizes=(6,), max_iter=30, random_state=0, backend=backend,
                  n_threads=1)
    w = w + 1  # every class stays in the repeated data (so the networks have the same size)
    weighted = NNClassifier(**common).fit(X, y, sample_weight=w)
    repeated = NNClassifier(**common).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(weighted.theta_, repeated.theta_, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("backend", [b for b in WEIGHTING_BACKENDS if b != "numpy"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sizes,activation,output", [
    ((20, 7, 3), "logistic", "logistic"), ((20, 7, 5, 3), ("tanh", "relu"), "softmax"),
    ((20, 9, 2), "identity", "identity"), ((20, 6, 4, 5, 1), "relu", "logistic")])
def test_fused_kernels_weigh_rows_as_numpy_does(sizes, activation, output, dtype, backend):
    """3001 rows: many blocks and chunks, the last block and vector partial; zero weights
    too.  The fused kernels against numpy's weighted sums, and the same bits for every
    thread count."""
    from nnfast._weighted import WeightedObjective

    rng = np.random.default_rng(5)
    m = 3001
    X = rng.uniform(0, 1, (m, sizes[0])).astype(dtype)
    y = (rng.uniform(-1, 1, (m, sizes[-1])) if output == "identity"
         else rng.integers(0, max(2, sizes[-1]), m) % max(2, sizes[-1]))
    if sizes[-1] == 1 and output != "identity":
        y = y % 2
    w = rng.uniform(0, 3, m)
    w[::11] = 0.0
    theta = nnfast.init_theta(list(sizes), random_state=2).astype(dtype)
    kw = dict(lam=0.7, activation=activation, output=output, dtype=dtype)
    J_ref, g_ref = WeightedObjective(X, y, sizes, w, backend="numpy", **kw)(theta)
    results = [WeightedObjective(X, y, sizes, w, backend=backend, n_threads=n, **kw)(theta)
               for n in (1, 2)]
    rtol = 1e-11 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(results[0][0], J_ref, rtol=rtol)
    np.testing.assert_allclose(results[0][1], g_ref, rtol=rtol,
                               atol=rtol * np.abs(g_ref).max())
    assert results[1][0] == results[0][0] and np.array_equal(results[1][1], results[0][1])
    # unit weights give the unweighted cost (the weights' path, not a shortcut)
    J_one, g_one = WeightedObjective(X, y, sizes, np.ones(m), backend=backend, **kw)(theta)
    J_plain, g_plain = nnfast.Objective(X, y, sizes, backend=backend, **kw)(theta)
    np.testing.assert_allclose(J_one, J_plain, rtol=rtol)
    np.testing.assert_allclose(g_one, g_plain, rtol=rtol, atol=rtol * np.abs(g_plain).max())


def test_weighted_auto_picks_a_weighting_backend(split):
    from nnfast._weighted import WeightedObjective

    X_tr, _, y_tr, _ = split
    objective = WeightedObjective(X_tr, y_tr, [64, 6, 10], np.ones(len(y_tr)))
    assert objective.backend.supports_row_weights
    assert objective.backend.name in WEIGHTING_BACKENDS


def test_sample_weight_errors_and_minibatches(split):
    from nnfast._weighted import check_sample_weight

    X_tr, _, y_tr, _ = split
    with pytest.raises(ValueError, match="sample_weight"):
        NNClassifier(max_iter=2).fit(X_tr, y_tr, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="sample_weight"):
        NNClassifier(max_iter=2).fit(X_tr, y_tr, sample_weight=-np.ones(len(y_tr)))
    with pytest.raises(ValueError, match="'loop' does not weight examples.*'numpy'"):
        NNClassifier(max_iter=2, backend="loop").fit(X_tr, y_tr,
                                                     sample_weight=np.arange(len(y_tr)))
    with pytest.raises(ValueError, match="positive sum"):
        check_sample_weight(np.zeros(4), 4)
    # sgd with weights runs batch by batch, a batch of zero weights is skipped
    w = np.where(np.arange(len(y_tr)) % 3 == 0, 0.0, 2.0)
    clf = NNClassifier(hidden_layer_sizes=(10,), solver="adam", max_iter=20, random_state=0,
                       backend="numpy", n_threads=1).fit(X_tr, y_tr, sample_weight=w)
    assert clf.loss_curve_[-1] < 0.5 * clf.loss_curve_[0]
    # the digit a weight of zero hides is learnt less well than with its weight
    hidden = np.where(y_tr == 3, 0.0, 1.0)
    unseen = NNClassifier(hidden_layer_sizes=(10,), max_iter=60, random_state=0,
                          backend="numpy", n_threads=1).fit(X_tr, y_tr, sample_weight=hidden)
    assert np.mean(unseen.predict(X_tr[y_tr == 3]) == 3) < 0.2


# --- warm_start and partial_fit ------------------------------------------------------------


def test_warm_start_continues_from_the_fitted_weights(split):
    X_tr, _, y_tr, _ = split
    clf = NNClassifier(hidden_layer_sizes=(8,), max_iter=10, warm_start=True, random_state=0,
                       backend="numpy", n_threads=1).fit(X_tr, y_tr)
    first = clf.theta_.copy()
    clf.fit(X_tr, y_tr)
    assert clf.loss_curve_[0] == pytest.approx(clf.result_.cost_history[0])
    np.testing.assert_allclose(clf.result_.cost_history[0],
                               nnfast.cost(first, X_tr, y_tr, [64, 8, 10], lam=1.0,
                                           backend="numpy"))
    cold = NNClassifier(hidden_layer_sizes=(8,), max_iter=10, random_state=0,
                        backend="numpy", n_threads=1).fit(X_tr, y_tr)
    np.testing.assert_array_equal(cold.theta_, first)  # without warm_start: a fresh start
    # another network cannot continue: it starts afresh
    clf.set_params(hidden_layer_sizes=(5,)).fit(X_tr, y_tr)
    assert clf.layer_sizes_ == (64, 5, 10)


def test_partial_fit(split):
    X_tr, X_te, y_tr, y_te = split
    assert not hasattr(NNClassifier(), "partial_fit")  # L-BFGS-B has no mini-batches
    clf = NNClassifier(hidden_layer_sizes=(20,), solver="adam", activation="relu",
                       output="softmax", random_state=0, backend="numpy", n_threads=1)
    with pytest.raises(ValueError, match="classes must be given"):
        clf.partial_fit(X_tr, y_tr)
    halves = np.array_split(np.arange(len(y_tr)), 2)
    for epoch in range(8):
        for rows in halves:
            clf.partial_fit(X_tr[rows], y_tr[rows], classes=np.arange(10))
    assert clf.n_iter_ == 16 and clf.loss_curve_.shape == (17,)
    assert clf.score(X_te, y_te) > 0.9
    with pytest.raises(ValueError, match=r"labels \[11\] that are not in classes"):
        clf.partial_fit(X_tr[:3], np.array([1, 2, 11]))
    with pytest.raises(ValueError, match="differ from those of the first call"):
        clf.partial_fit(X_tr[:3], y_tr[:3], classes=np.arange(5))
    with pytest.raises(ValueError, match="early_stopping"):
        NNClassifier(solver="sgd", early_stopping=True).partial_fit(X_tr, y_tr,
                                                                     classes=np.arange(10))


# --- NNRegressor ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return train_test_split(X, (y - y.mean()) / y.std(), test_size=0.25, random_state=0)


def test_regressor_on_diabetes(diabetes):
    X_tr, X_te, y_tr, y_te = diabetes
    reg = NNRegressor(hidden_layer_sizes=(10,), activation="tanh", alpha=10.0, max_iter=200,
                      random_state=0, backend="numpy", n_threads=1).fit(X_tr, y_tr)
    assert reg.out_activation_ == "identity" and reg.layer_sizes_ == (10, 10, 1)
    assert reg.predict(X_te).shape == y_te.shape
    # measured 0.356, as ridge regression (0.358): diabetes is noisy (λ = 1 overfits)
    assert reg.score(X_te, y_te) > 0.3
    res = nnfast.train(X_tr, y_tr, [10, 10, 1], lam=10.0, max_iter=200, random_state=0,
                       activation="tanh", output="identity", loss="squared_error",
                       backend="numpy", n_threads=1, progress=False)
    np.testing.assert_allclose(reg.theta_, res.theta)
    assert res.train_accuracy is None  # regression has no accuracy


def test_regressor_multi_output_early_stopping_and_partial_fit(diabetes):
    X_tr, X_te, y_tr, y_te = diabetes
    Y_tr = np.column_stack([y_tr, X_tr[:, 0] * X_tr[:, 1]])
    reg = NNRegressor(hidden_layer_sizes=(16,), activation="relu", lam=0.1, solver="adam",
                      early_stopping=True, n_iter_no_change=5, max_iter=300, random_state=0,
                      backend="numpy", n_threads=1).fit(X_tr, Y_tr)
    assert reg.n_outputs_ == 2 and reg.predict(X_te).shape == (len(X_te), 2)
    assert reg.result_.stop_reason.startswith("early stopping")
    np.testing.assert_array_equal(reg.theta_, reg.result_.best_theta)
    assert reg.score(X_tr, Y_tr) > 0.3
    online = NNRegressor(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=0.01,
                         random_state=0, backend="numpy", n_threads=1)
    for _ in range(5):
        online.partial_fit(X_tr, y_tr)
    assert online.n_iter_ == 5
    assert online.loss_curve_[-1] < online.loss_curve_[0]
    with pytest.raises(ValueError, match="partial_fit continues the fitted network"):
        online.partial_fit(X_tr, Y_tr)
    with pytest.raises(TypeError, match="y must be numeric"):
        NNRegressor().fit(X_tr, np.array(["a"] * len(X_tr)))
