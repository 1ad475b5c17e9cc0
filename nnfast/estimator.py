"""scikit-learn estimators around :func:`nnfast.train`: :class:`NNClassifier`, :class:`NNRegressor`.

Both take scikit-learn's ``MLPClassifier``/``MLPRegressor`` parameter names
where they mean the same thing (``alpha``, ``solver``, ``learning_rate_init``,
``n_iter_no_change``, ...) next to nnfast's own (``lam``, ``method``,
``learning_rate``, ``patience``); giving both names of one setting is an error.
"""

from __future__ import annotations

import numbers
import re
from contextlib import contextmanager

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["NNClassifier", "NNRegressor"]

#: scikit-learn's name -> (nnfast's name, nnfast's default); see ``_NetworkEstimator._setting``
_ALIASES = {"alpha": ("lam", 1.0), "solver": ("method", "L-BFGS-B"),
            "learning_rate_init": ("learning_rate", None), "n_iter_no_change": ("patience", 10)}
_SOLVERS = {"lbfgs": "L-BFGS-B", "sgd": "sgd", "adam": "adam"}
#: the largest mini-batch of ``batch_size="auto"`` (scikit-learn's)
_AUTO_BATCH = 200

_PARAMETERS_DOC = """    hidden_layer_sizes : tuple of int, default (25,)
        Units of each hidden layer; ``()`` gives a network with no hidden layer.
    activation : str or sequence of str, default "logistic"
        Hidden units: "logistic" (ex4), "tanh", "relu" or "identity"; one name for
        every hidden layer or one per hidden layer.
    lam : float, default 1.0
        L2 strength λ, scaled as in ex4: the penalty is ``λ / (2 m) Σ θ²`` over
        non-bias weights.  That is scikit-learn's ``0.5 α ||W||² / n_samples``:
        ``alpha`` and ``lam`` are the same number.
    alpha : float or None, default None
        scikit-learn's name for ``lam`` (when given, ``lam`` must stay at its default).
    method : str, default "L-BFGS-B"
        ``"L-BFGS-B"``, ``"TNC"``, ``"CG"``, ``"gd"``, ``"sgd"`` or ``"adam"``.
    solver : {"lbfgs", "sgd", "adam"} or None, default None
        scikit-learn's name for ``method`` ("lbfgs" is "L-BFGS-B").
    max_iter : int, default 400
        Iterations (epochs for sgd/adam); see :func:`nnfast.train`.
    max_fun : int or None, default None
        Cap on cost/gradient evaluations.
    learning_rate : float or None, default None
        Step size of gd/sgd/adam; None takes :func:`nnfast.train`'s defaults.
    learning_rate_init : float or None, default None
        scikit-learn's name for ``learning_rate`` (a constant rate here).
    batch_size : int or "auto", default 64
        Mini-batch size for sgd/adam; "auto" is ``min(200, n_samples)`` as in scikit-learn.
    momentum : float or None, default None
        Momentum of gd/sgd, Adam's β1; None takes :func:`nnfast.train`'s defaults.
    tol : float or None, default None
        Gradient tolerance (scipy's ``gtol``); None keeps scipy's default.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the training data and stop when its
        cost has not improved for ``patience`` iterations; the best parameters are kept.
    validation_fraction : float, default 0.1
    patience : int, default 10
    n_iter_no_change : int or None, default None
        scikit-learn's name for ``patience``.
    warm_start : bool, default False
        ``fit`` starts from the fitted weights of the previous fit (same network).
    backend : str, default "auto"
        With ``sample_weight``, "auto", "cython", "numba" and "numpy" (the
        backends that weight examples, ``nnfast._weighted``).
    n_threads : int or None, default None
    dtype : {"float64", "float32"} or None, default None
        Working dtype of the kernels; None keeps X's float dtype (other dtypes
        become float64).
    random_state : None, int, RandomState or Generator, default None
        Initial weights, mini-batch order and the early-stopping split.
    progress : bool, default False
        Show a tqdm progress bar while fitting."""

_ATTRIBUTES_DOC = """    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        When X has string column names.
    layer_sizes_ : tuple of int
        ``(n_features_in_, *hidden_layer_sizes, n_outputs)``.
    activations_ : tuple of str
        The activation of each hidden layer.
    out_activation_ : str
        "logistic", "softmax" or "identity".
    theta_ : ndarray of shape (n_params,), float64
        Fitted parameters (``nnfast.unpack(theta_, layer_sizes_)`` gives the matrices).
    coefs_ : list of ndarray
        The weight matrices, bias weights in column 0 (scikit-learn's
        ``coefs_[l].T`` with ``intercepts_[l]`` as a first column).
    n_iter_ : int
    loss_ : float
        The regularised training cost at the end.
    loss_curve_ : ndarray of shape (n_iter_ + 1,)
        The cost at the start and after each iteration (``partial_fit`` appends one
        entry per call).
    result_ : TrainResult
        Of the last ``fit`` or ``partial_fit``.
    dtype_ : numpy.dtype"""


def _keep_arguments(estimator, arguments):
    """Store each ``__init__`` argument under its own name (scikit-learn's convention)."""
    for name, value in arguments.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


def _partial_fit_available(estimator):
    if estimator._method() not in ("sgd", "adam"):
        raise AttributeError(f"partial_fit is only available for the mini-batch methods "
                             f"(solver 'sgd' or 'adam'); {estimator._method()!r} is not one")
    return True


class _NetworkEstimator(BaseEstimator):
    """What :class:`NNClassifier` and :class:`NNRegressor` share: the settings, the fit."""

    def __init__(self, hidden_layer_sizes=(25,), lam=1.0, method="L-BFGS-B", max_iter=400,
                 max_fun=None, learning_rate=None, batch_size=64, momentum=None,
                 early_stopping=False, validation_fraction=0.1, patience=10, backend="auto",
                 n_threads=None, dtype=None, random_state=None, progress=False,
                 activation="logistic", alpha=None, solver=None, learning_rate_init=None,
                 n_iter_no_change=None, tol=None, warm_start=False):
        _keep_arguments(self, locals())

    # --- settings -----------------------------------------------------------------------

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

    def _setting(self, alias):
        """The value of scikit-learn's ``alias`` or of nnfast's name for the same setting."""
        name, default = _ALIASES[alias]
        given, own = getattr(self, alias), getattr(self, name)
        if given is None:
            return own
        if not (own is default or own == default):
            raise ValueError(f"{alias}={given!r} and {name}={own!r} name the same setting: "
                             f"give one of them")
        return given

    def _method(self):
        if self.solver is not None and not (isinstance(self.solver, str)
                                            and self.solver in _SOLVERS):
            raise ValueError(f"solver must be one of {list(_SOLVERS)}, got {self.solver!r}")
        method = self._setting("solver")
        return _SOLVERS.get(method, method) if self.solver is not None else method

    def _train_settings(self, n_samples):
        """Keyword arguments of :func:`nnfast.train` from the parameters, errors naming them."""
        from ._validation import check_lam
        from .training._arguments import check_positive_int

        lam = check_lam(self._setting("alpha"), name="alpha" if self.alpha is not None else "lam")
        rate = self._setting("learning_rate_init")
        if self.learning_rate_init is not None and not (
                isinstance(rate, numbers.Real) and not isinstance(rate, bool)
                and 0 < rate < np.inf):
            raise ValueError(f"learning_rate_init must be a positive number, got {rate!r}")
        patience_name = "n_iter_no_change" if self.n_iter_no_change is not None else "patience"
        patience = check_positive_int(self._setting("n_iter_no_change"), patience_name)
        batch_size = self.batch_size
        if isinstance(batch_size, str) and batch_size == "auto":
            batch_size = min(_AUTO_BATCH, n_samples)
        return dict(lam=lam, method=self._method(), max_iter=self.max_iter,
                    max_fun=self.max_fun, learning_rate=rate, batch_size=batch_size,
                    momentum=self.momentum, tol=self.tol, patience=patience,
                    early_stopping=self.early_stopping, backend=self.backend,
                    n_threads=self.n_threads, dtype=self.dtype, progress=self.progress)

    def _check_sample_weight(self, sample_weight, X):
        """Weights as float64, or None when there are none or all are equal (a constant
        weight cancels from the weighted mean: the fit is the unweighted one, exactly)."""
        from sklearn.utils.validation import _check_sample_weight

        if sample_weight is None:
            return None
        with _naming("sample_weight"):
            w = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        return None if np.all(w == w[0]) else w

    # --- fitting --------------------------------------------------------------------------

    def _starting_point(self, sizes, activations, output, incremental):
        """The fitted weights to continue from (partial_fit, warm_start), or None."""
        if not (incremental or self.warm_start) or not hasattr(self, "theta_"):
            return None
        if (tuple(sizes), activations, output) != (
                tuple(self.layer_sizes_), tuple(self.activations_), self.out_activation_):
            if incremental:
                raise ValueError(f"partial_fit continues the fitted network "
                                 f"{list(self.layer_sizes_)}; this data needs {list(sizes)}")
            return None  # warm_start with another network starts afresh, as scikit-learn's
        return self.theta_

    def _fit_network(self, X, targets, hidden, output, loss, sample_weight, stratify,
                     incremental=False):
        """Train ``(X.shape[1], *hidden, n_out)`` on ``targets`` and set the fitted attributes."""
        from ._activations import check_activations
        from ._network import check_network_memory
        from .training import train

        n_out = 1 if targets.ndim == 1 else targets.shape[1]
        sizes = (X.shape[1], *hidden, n_out)
        check_network_memory(sizes, X.shape[0], X.dtype.itemsize,
                             what=f"hidden_layer_sizes {hidden} (network {list(sizes)})")
        activations = check_activations(self.activation, len(hidden))
        settings = self._train_settings(X.shape[0])
        theta0 = self._starting_point(sizes, activations, output, incremental)
        weights = self._check_sample_weight(sample_weight, X)
        validation = None
        X_fit, t_fit, w_fit = X, targets, weights
        if self.early_stopping and not incremental:
            X_fit, t_fit, w_fit, validation = self._split_validation(X, targets, weights,
                                                                    stratify)
        if incremental:
            if self.early_stopping:
                raise ValueError("partial_fit does not support early_stopping=True")
            settings.update(max_iter=1, early_stopping=False)
            if not hasattr(self, "_partial_rng") or theta0 is None:
                self._partial_rng = np.random.default_rng(_seed(self.random_state))
            random_state = self._partial_rng  # a fresh shuffle for every call
        else:
            random_state = _seed(self.random_state)
        result = train(X_fit, t_fit, sizes, loss=loss, theta0=theta0,
                       random_state=random_state, validation=validation,
                       activation=activations, output=output, sample_weight=w_fit, **settings)
        self.result_ = result
        self.layer_sizes_ = tuple(result.layer_sizes)
        self.activations_ = activations
        self.out_activation_ = output
        self.theta_ = result.best_theta if self.early_stopping else result.theta
        self.dtype_ = np.dtype(result.dtype)
        self.loss_ = float(result.final_cost)
        if incremental and theta0 is not None:
            self.n_iter_ += result.n_iter
            self.loss_curve_ = np.concatenate([self.loss_curve_, result.cost_history[1:]])
        else:
            self.n_iter_ = result.n_iter
            self.loss_curve_ = result.cost_history
        return self

    def _split_validation(self, X, targets, weights, stratify):
        """``(X, targets, weights)`` to train on and the ``(X_val, targets_val)`` held out."""
        from sklearn.model_selection import train_test_split

        fraction = self.validation_fraction
        if isinstance(fraction, bool) or not (isinstance(fraction, numbers.Real)
                                              and 0 < fraction < 1):
            raise ValueError(f"validation_fraction must be a number in (0, 1), got {fraction!r}")
        arrays = (X, targets) if weights is None else (X, targets, weights)
        parts = train_test_split(*arrays, test_size=fraction, stratify=stratify,
                                 random_state=_seed(self.random_state))
        X_fit, X_val, t_fit, t_val = parts[:4]
        w_fit = None if weights is None else parts[4]
        return X_fit, t_fit, w_fit, (X_val, t_val)

    @property
    def coefs_(self):
        from ._network import unpack

        check_is_fitted(self)
        return unpack(self.theta_, self.layer_sizes_)

    def _network(self):
        """(hidden activations, output) of the fitted network.

        A model made by ``nnfast.load_model`` has only the parameters and
        ``layer_sizes_``; its network follows from them as ``fit`` would make it.
        """
        from ._activations import check_activations

        if hasattr(self, "out_activation_"):
            return self.activations_, self.out_activation_
        activations = check_activations(self.activation, len(self.layer_sizes_) - 2)
        return activations, self._fitted_output()

    def _outputs(self, X):
        from .api import predict_proba

        check_is_fitted(self)
        with _naming("X"):
            X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        activations, output = self._network()
        return predict_proba(self.theta_, X, self.layer_sizes_, backend=self.backend,
                             n_threads=self.n_threads, dtype=self.dtype_,
                             activation=activations, output=output)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class NNClassifier(ClassifierMixin, _NetworkEstimator):
    """Neural-network classifier (ex4's sigmoid network by default) with nnfast's fast
    cost and gradient.

    With ``output="logistic"`` (ex4) there is one sigmoid output unit per class,
    trained on the regularised cross-entropy of one-hot targets; the
    prediction is the most active unit.  ``output="softmax"`` trains a softmax
    over the classes on the categorical cross-entropy (scikit-learn's
    ``MLPClassifier`` for multiclass problems); for two classes it is one
    sigmoid output for the second class, as in scikit-learn.  Labels may be of
    any type (ints, strings...): ``classes_`` holds them sorted and predictions
    are returned in them.

    Parameters
    ----------
{parameters}
    loss : {{"cross_entropy", "squared_error"}}, default "cross_entropy"
        "squared_error" only with ``output="logistic"``.
    output : {{"logistic", "softmax"}}, default "logistic"

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
{attributes}

    Notes
    -----
    With ``output="logistic"``, ``predict_proba`` normalises the sigmoid outputs
    of each row to sum to 1 (the raw outputs are independent probabilities in
    (0, 1) and need not).  With a single class in ``y`` the network has one
    output and always predicts that class.  The estimator passes
    scikit-learn's ``check_estimator`` suite; no check is marked as an
    expected failure.  ``partial_fit`` exists for solver "sgd" and "adam": each
    call is one epoch over the data given, from the fitted weights (the
    momentum and Adam's moments start afresh at each call).

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
                 progress=False, activation="logistic", output="logistic", alpha=None,
                 solver=None, learning_rate_init=None, n_iter_no_change=None, tol=None,
                 warm_start=False):
        _keep_arguments(self, locals())

    def _head(self):
        from ._activations import check_head

        if isinstance(self.output, str) and self.output == "identity":
            raise ValueError("output must be 'logistic' or 'softmax' for a classifier (use "
                             "NNRegressor for 'identity')")
        return check_head(self.output, self.loss)

    def _fitted_output(self):
        return "softmax" if self.output == "softmax" and self.layer_sizes_[-1] > 1 else "logistic"

    def _validated(self, X, y, reset):
        with _naming("X"):  # X alone first, so that its own errors say "X"
            validate_data(self, X, dtype=self._dtypes(), reset=reset)
        with _naming("y"):
            X, y = validate_data(self, X, y, dtype=self._dtypes(), y_numeric=False, reset=reset)
            check_classification_targets(y)
        return X, y

    def _fit_classes(self, X, y_idx, sample_weight, incremental):
        """Targets and network for labels ``y_idx`` (indices into ``classes_``), then train."""
        output, loss = self._head()
        n_classes = len(self.classes_)
        if n_classes <= 1:
            targets = np.ones(X.shape[0])  # one output, always on
        elif output == "softmax" and n_classes == 2:
            targets = y_idx.astype(np.float64)  # one sigmoid for the second class
        else:
            targets = np.eye(n_classes)[y_idx]
        one_output = targets.ndim == 1
        out = "softmax" if output == "softmax" and not one_output else "logistic"
        if out == "logistic" and output == "softmax":
            loss = "cross_entropy"
        stratify = y_idx if n_classes > 1 and np.min(np.bincount(y_idx)) >= 2 else None
        return self._fit_network(X, targets, self._hidden(), out, loss, sample_weight, stratify,
                                 incremental)

    def fit(self, X, y, sample_weight=None):
        """Train the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels of any type.
        sample_weight : array-like of shape (n_samples,) or None
            A weight per example (``nnfast._weighted``).

        Returns
        -------
        self : NNClassifier
        """
        self._hidden()  # before the data: a bad size is reported as such
        X, y = self._validated(X, y, reset=True)
        encoder = LabelEncoder()
        y_idx = encoder.fit_transform(y)
        self.classes_ = encoder.classes_
        return self._fit_classes(X, y_idx, sample_weight, incremental=False)

    @available_if(_partial_fit_available)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of the mini-batch method over ``(X, y)``, from the fitted weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,) or None
            Every label that will ever be seen; needed at the first call.
        sample_weight : array-like of shape (n_samples,) or None

        Returns
        -------
        self : NNClassifier
        """
        first = not hasattr(self, "classes_")
        if first and classes is None:
            raise ValueError("classes must be given at the first call of partial_fit")
        X, y = self._validated(X, y, reset=first)
        if classes is not None:
            classes = np.unique(np.asarray(classes))
            if not first and not np.array_equal(classes, self.classes_):
                raise ValueError(f"classes {classes.tolist()} differ from those of the first "
                                 f"call of partial_fit, {self.classes_.tolist()}")
            self.classes_ = classes
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(f"y holds labels {unknown.tolist()} that are not in classes "
                             f"{self.classes_.tolist()}")
        return self._fit_classes(X, np.searchsorted(self.classes_, y), sample_weight,
                                 incremental=True)

    def decision_function(self, X):
        """Raw outputs, shape (n_samples, n_classes); for two classes (n_samples,): the
        second unit's output minus the first's (with one sigmoid output h for the
        second class, ``h - (1 - h)``), positive for the second class."""
        h = np.asarray(self._outputs(X), dtype=np.float64)
        if h.shape[1] == 2:
            return h[:, 1] - h[:, 0]
        if h.shape[1] == 1 and len(self.classes_) == 2:
            return 2.0 * h[:, 0] - 1.0
        if h.shape[1] == 1:
            return h[:, 0]
        return h

    def predict_proba(self, X):
        """Class probabilities: the softmax, or the sigmoid outputs normalised per row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), float64; rows sum to 1
        """
        h = np.asarray(self._outputs(X), dtype=np.float64)
        if h.shape[1] == 1 and len(self.classes_) == 2:
            return np.column_stack([1.0 - h[:, 0], h[:, 0]])
        if h.shape[1] == 1:
            return np.ones_like(h)
        total = h.sum(axis=1, keepdims=True)
        return h / np.where(total > 0, total, 1.0)

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``, shape (n_samples, n_classes)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """Predicted labels (in ``classes_``), shape (n_samples,)."""
        proba = self.predict_proba(X)  # first: it checks that the model is fitted
        return self.classes_[np.argmax(proba, axis=1)]


class NNRegressor(RegressorMixin, _NetworkEstimator):
    """Neural-network regression: identity outputs trained on the regularised squared error.

    The cost is ``Σ_i Σ_k (f_k(x_i) - y_ik)² / (2 m)`` plus ex4's L2 penalty;
    ``y`` may have several columns (one output each).  The counterpart of
    scikit-learn's ``MLPRegressor`` (whose reported loss divides by the number
    of outputs as well, while its gradient does not).

    Parameters
    ----------
{parameters}

    Attributes
    ----------
    n_outputs_ : int
{attributes}

    Notes
    -----
    Passes scikit-learn's ``check_estimator`` suite.  ``partial_fit`` exists
    for solver "sgd" and "adam" (one epoch per call; see :class:`NNClassifier`).

    Examples
    --------
    >>> import numpy as np
    >>> from nnfast import NNRegressor
    >>> X = np.linspace(0, 1, 50)[:, None]
    >>> reg = NNRegressor(hidden_layer_sizes=(5,), lam=0.0, random_state=0, backend="numpy")
    >>> reg.fit(X, np.sin(3 * X[:, 0])).score(X, np.sin(3 * X[:, 0])) > 0.99
    True
    """

    def _fitted_output(self):
        return "identity"

    def _fit_targets(self, X, y, sample_weight, reset, incremental):
        self._hidden()  # before the data: a bad size is reported as such
        with _naming("X"):
            validate_data(self, X, dtype=self._dtypes(), reset=reset)
        with _naming("y"):
            X, y = validate_data(self, X, y, dtype=self._dtypes(), y_numeric=True,
                                 multi_output=True, reset=reset)
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        targets = y.reshape(-1) if self.n_outputs_ == 1 else y
        return self._fit_network(X, targets, self._hidden(), "identity", "squared_error",
                                 sample_weight, None, incremental)

    def fit(self, X, y, sample_weight=None):
        """Train the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,) or None
            A weight per example (``nnfast._weighted``).

        Returns
        -------
        self : NNRegressor
        """
        return self._fit_targets(X, y, sample_weight, reset=True, incremental=False)

    @available_if(_partial_fit_available)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch of the mini-batch method over ``(X, y)``, from the fitted weights.

        Returns
        -------
        self : NNRegressor
        """
        return self._fit_targets(X, y, sample_weight, reset=not hasattr(self, "theta_"),
                                 incremental=True)

    def predict(self, X):
        """The network's outputs: shape (n_samples,) for one output, else (n_samples, n_outputs)."""
        h = np.asarray(self._outputs(X), dtype=np.float64)
        return h[:, 0] if h.shape[1] == 1 else h

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


for _estimator in (NNClassifier, NNRegressor):
    _estimator.__doc__ = _estimator.__doc__.format(parameters=_PARAMETERS_DOC,
                                                   attributes=_ATTRIBUTES_DOC)

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
