"""NNClassifier: scikit-learn's estimator checks, pipelines, grid search, labels."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import nnfast
from nnfast import NNClassifier


@parametrize_with_checks([NNClassifier(backend="numpy", n_threads=1, max_iter=200)])
def test_sklearn_estimator_checks(estimator, check):
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
                       backend="numpy", progress=False)
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
