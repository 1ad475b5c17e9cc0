"""A scikit-learn classifier around :func:`nnfast.train`."""

from __future__ import annotations

import numbers
import re
from contextlib import contextmanager

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["NNClassifier"]


class NNClassifier(ClassifierMixin, BaseEstimator):
    """Sigmoid network classifier (ex4's network) with nnfast's fast cost and gradient.

    One sigmoid output unit per class, trained on the regularised
    cross-entropy of one-hot targets; the prediction is the most active unit.
    Labels may be of any type (ints, strings...): ``classes_`` holds them
    sorted and predictions are returned in them.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (25,)
        Units of each hidden layer; ``()`` gives a network with no hidden layer
        (one-vs-rest logistic regression).
    lam : float, default 1.0
        L2 strength λ (the ``alpha`` of other estimators, but scaled as in
        ex4: the penalty is ``λ / (2 m) Σ θ²`` over non-bias weights).
    loss : {"cross_entropy", "squared_error"}, default "cross_entropy"
    method : str, default "L-BFGS-B"
        ``"L-BFGS-B"``, ``"TNC"``, ``"CG"``, ``"gd"``, ``"sgd"`` or ``"adam"``.
    max_iter : int, default 400
        Iterations (epochs for sgd/adam); see :func:`nnfast.train`.
    max_fun : int or None, default None
        Cap on cost/gradient evaluations.
    learning_rate, batch_size, momentum
        For the gradient methods; ``None`` takes :func:`nnfast.train`'s defaults.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the training data (stratified) and
        stop when its cost has not improved for ``patience`` iterations; the
        best parameters are kept.
    validation_fraction : float, default 0.1
    patience : int, default 10
    backend : str, default "auto"
    n_threads : int or None, default None
    dtype : {"float64", "float32"} or None, default None
        Working dtype of the kernels; None keeps X's float dtype (other
        dtypes become float64).
    random_state : None, int or Generator, default None
        Initial weights, mini-batch order and the early-stopping split.
    progress : bool, default False
        Show a tqdm progress bar while fitting.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        When X has string column names.
    layer_sizes_ : tuple of int
        ``(n_features_in_, *hidden_layer_sizes, n_outputs)``.
    theta_ : ndarray of shape (n_params,), float64
        Fitted parameters (``nnfast.unpack(theta_, layer_sizes_)`` gives the matrices).
    coefs_ : list of ndarray
        The weight matrices, bias weights in column 0.
    n_iter_ : int
    loss_curve_ : ndarray of shape (n_iter_ + 1,)
    result_ : TrainResult
    dtype_ : numpy.dtype

    Notes
    -----
    ``predict_proba`` normalises the sigmoid outputs of each row to sum to 1
    (the raw outputs are independent probabilities in (0, 1) and need not).
    With a single class in ``y`` the network has one output and always
    predicts that class.  The estimator passes scikit-learn's
    ``check_estimator`` suite; no check is marked as an expected failure.

    Examples
    --------
    >>> from nnfast import NNClassifier
    >>> from nnfast.datasets import load_digits
    >>> X, y = load_digits()
    >>> clf = NNClassifier(max_iter=100, random_state=0, backend="numpy").fit(X, y)
    >>> clf.score(X, y) > 0.95
    True
    """

    def __init__(self, hidden_layer_sizes=(25,), lam=1.0, loss="cross_entropy",
                 method="L-BFGS-B", max_iter=400, max_fun=None, learning_rate=None,
                 batch_size=64, momentum=None, early_stopping=False, validation_fraction=0.1,
                 patience=10, backend="auto", n_threads=None, dtype=None, random_state=None,
                 progress=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.lam = lam
        self.loss = loss
        self.method = method
        self.max_iter = max_iter
        self.max_fun = max_fun
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.momentum = momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.backend = backend
        self.n_threads = n_threads
        self.dtype = dtype
        self.random_state = random_state
        self.progress = progress

    def _hidden(self):
        hidden = self.hidden_layer_sizes
        if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
            hidden = (hidden,)
        if isinstance(hidden, (str, bytes)):
            hidden = None  # iterable, but never sizes
        try:
            hidden = tuple(hidden)
        except TypeError:
            raise TypeError(f"hidden_layer_sizes must be a tuple of positive integers such as "
                            f"(25,), got {self.hidden_layer_sizes!r}") from None
        for i, units in enumerate(hidden):
            if isinstance(units, (bool, np.bool_)) or not isinstance(units, numbers.Integral):
                raise TypeError(f"hidden_layer_sizes[{i}] must be an integer, got {units!r} "
                                f"({type(units).__name__})")
            if units < 1:
                raise ValueError(f"hidden_layer_sizes[{i}] must be at least 1, got {units}")
        return tuple(int(units) for units in hidden)

    def _dtypes(self):
        if self.dtype is None:
            return [np.float64, np.float32]
        return np.dtype(self.dtype).type

    def fit(self, X, y):
        """Train the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels of any type.

        Returns
        -------
        self : NNClassifier
        """
        from ._network import check_network_memory
        from .training import train

        hidden = self._hidden()  # before the data: a bad size is reported as such
        with _naming("X"):  # X alone first, so that its own errors say "X"
            validate_data(self, X, dtype=self._dtypes())
        with _naming("y"):
            X, y = validate_data(self, X, y, dtype=self._dtypes(), y_numeric=False)
            check_classification_targets(y)
        encoder = LabelEncoder()
        y_idx = encoder.fit_transform(y)
        self.classes_ = encoder.classes_
        n_out = max(len(self.classes_), 1)
        sizes = (X.shape[1], *hidden, n_out)
        check_network_memory(sizes, X.shape[0], X.dtype.itemsize,
                             what=f"hidden_layer_sizes {hidden} (network {list(sizes)})")
        if n_out == 1:
            targets = np.ones((X.shape[0], 1))
        else:
            targets = y_idx
        validation = None
        X_fit, t_fit = X, targets
        if self.early_stopping:
            from sklearn.model_selection import train_test_split

            stratify = y_idx if n_out > 1 and np.min(np.bincount(y_idx)) >= 2 else None
            X_fit, X_val, t_fit, t_val = train_test_split(
                X, targets, test_size=self.validation_fraction, stratify=stratify,
                random_state=_seed(self.random_state))
            validation = (X_val, t_val)
        rs = self.random_state
        if isinstance(rs, np.random.RandomState):
            rs = int(rs.randint(2 ** 31))
        result = train(
            X_fit, t_fit, sizes, lam=self.lam, loss=self.loss, method=self.method,
            max_iter=self.max_iter, max_fun=self.max_fun, learning_rate=self.learning_rate,
            batch_size=self.batch_size, momentum=self.momentum, random_state=rs,
            backend=self.backend, n_threads=self.n_threads, dtype=self.dtype,
            validation=validation, early_stopping=self.early_stopping, patience=self.patience,
            progress=self.progress)
        self.result_ = result
        self.layer_sizes_ = tuple(result.layer_sizes)
        self.theta_ = result.best_theta if self.early_stopping else result.theta
        self.dtype_ = np.dtype(result.dtype)
        self.n_iter_ = result.n_iter
        self.loss_curve_ = result.cost_history
        return self

    @property
    def coefs_(self):
        from ._network import unpack

        check_is_fitted(self)
        return unpack(self.theta_, self.layer_sizes_)

    def _outputs(self, X):
        from .api import predict_proba

        check_is_fitted(self)
        with _naming("X"):
            X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return predict_proba(self.theta_, X, self.layer_sizes_, backend=self.backend,
                             n_threads=self.n_threads, dtype=self.dtype_)

    def decision_function(self, X):
        """Raw sigmoid outputs, shape (n_samples, n_classes) ((n_samples,) for two classes:
        the second unit's output minus the first's)."""
        h = np.asarray(self._outputs(X), dtype=np.float64)
        if h.shape[1] == 2:
            return h[:, 1] - h[:, 0]
        if h.shape[1] == 1:
            return h[:, 0]
        return h

    def predict_proba(self, X):
        """Class probabilities: the sigmoid outputs normalised per row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), float64; rows sum to 1
        """
        h = np.asarray(self._outputs(X), dtype=np.float64)
        total = h.sum(axis=1, keepdims=True)
        return h / np.where(total > 0, total, 1.0)

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``, shape (n_samples, n_classes)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """Predicted labels (in ``classes_``), shape (n_samples,)."""
        h = self._outputs(X)
        return self.classes_[np.argmax(h, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


@contextmanager
def _naming(argument):
    """Re-raise scikit-learn's ValueError/TypeError with ``argument`` named when it is not.

    scikit-learn's checks say "Found array with 0 sample(s)" or "Complex data not
    supported" without saying which argument; the original text is kept (its own
    test suite matches it).
    """
    try:
        yield
    except (ValueError, TypeError) as exc:
        message = str(exc)
        if re.search(rf"\b{argument}\b", message):
            raise
        kind = TypeError if isinstance(exc, TypeError) else ValueError
        raise kind(f"{argument}: {message}") from exc


def _seed(random_state):
    if random_state is None or isinstance(random_state, numbers.Integral):
        return random_state
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2 ** 31))
    return random_state
