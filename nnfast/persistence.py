"""Saving and loading trained networks without pickle.

A model file is one ``.npz`` archive holding arrays only (read back with
``allow_pickle=False``):

``theta``
    float64 or float32 vector of shape (n_params,).
``classes``
    The labels of the output units, shape (n_out,): numbers, strings (stored
    as a fixed-width unicode array) or booleans.
``metadata``
    A 0-d unicode array holding JSON: format name and version, nnfast
    version, layer sizes, n_params, dtype, λ, loss, the network's
    ``activations`` (one per hidden layer) and ``output``, method, training
    summary, the SHA-256 of ``theta``'s bytes (corruption check) and the
    ``estimator`` to rebuild ("NNClassifier" or "NNRegressor").
    Files written before activations existed have neither field: they are
    ex4's network (logistic hidden units and outputs); files without
    ``estimator`` are classifiers unless their output is "identity".

A regression network has no classes: its ``classes`` are the output indices
0 .. n_out - 1, as for a :class:`~nnfast.training.TrainResult`.

:func:`load_model` checks all of it and returns a fitted
:class:`nnfast.NNClassifier` or :class:`nnfast.NNRegressor`.
"""

from __future__ import annotations

import hashlib
import json
import tokenize
import zipfile
from math import inf
from pathlib import Path

import numpy as np

__all__ = ["save_model", "load_model", "ModelFileError", "FORMAT", "FORMAT_VERSION"]

FORMAT = "nnfast-model"
FORMAT_VERSION = 1


#: the estimators a model file can rebuild
ESTIMATORS = ("NNClassifier", "NNRegressor")


class ModelFileError(ValueError):
    """A model file is unreadable, corrupted, or inconsistent; the message says what."""


def _digest(theta: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(theta).tobytes()).hexdigest()


def _training_summary(res):
    return dict(n_iter=res.n_iter, n_evals=res.n_evals, stop_reason=res.stop_reason,
                final_cost=res.final_cost, wall_time=res.wall_time, backend=res.backend)


def _parts(model):
    """(theta, layer_sizes, classes, info dict) from a fitted estimator or a TrainResult."""
    from .estimator import NNClassifier, NNRegressor
    from .training import TrainResult

    if isinstance(model, TrainResult):
        res = model
        return (np.asarray(res.theta), tuple(res.layer_sizes), np.arange(res.layer_sizes[-1]),
                dict(lam=res.lam, loss=res.loss, method=res.method, dtype=res.dtype,
                     activations=list(res.activations), output=res.output,
                     estimator=_estimator_for(res.output), training=_training_summary(res)))
    fitted = hasattr(model, "theta_") and hasattr(model, "layer_sizes_")
    if isinstance(model, (NNClassifier, NNRegressor)) and fitted:
        res = getattr(model, "result_", None)
        activations, output = _network_of(model, res)
        regressor = isinstance(model, NNRegressor)
        info = dict(lam=float(model.lam),
                    loss="squared_error" if regressor else model.loss,
                    method=model.method, dtype=str(model.dtype_), activations=activations,
                    output=output, estimator=type(model).__name__,
                    estimator_params={
                        k: v for k, v in model.get_params().items()
                        if isinstance(v, (int, float, str, bool, type(None), list, tuple))})
        if res is not None:
            info["training"] = _training_summary(res)
        classes = np.arange(model.layer_sizes_[-1]) if regressor else np.asarray(model.classes_)
        return np.asarray(model.theta_), tuple(model.layer_sizes_), classes, info
    raise TypeError(f"save_model() takes a fitted NNClassifier, NNRegressor or a TrainResult, "
                    f"got {type(model).__name__}"
                    + (" (not fitted yet?)" if hasattr(model, "fit") else ""))


def _estimator_for(output):
    """The estimator a network with this output layer is: a regressor for identity outputs."""
    return "NNRegressor" if output == "identity" else "NNClassifier"


def _network_of(model, result):
    """``(activations as a list, output)`` of a fitted estimator: those it was trained
    with (its result), else its fitted attributes, else its parameters (ex4's by default)."""
    from ._activations import check_activations

    n_hidden = len(model.layer_sizes_) - 2
    if result is not None:
        return list(result.activations), result.output
    activations = getattr(model, "activations_", None) or getattr(model, "activation", None)
    output = (getattr(model, "out_activation_", None) or getattr(model, "output_", None)
              or model._fitted_output())
    return list(check_activations(activations, n_hidden)), output


def save_model(model, path, extra=None) -> Path:
    """Write a trained network to ``path`` (``.npz`` is appended when missing).

    Parameters
    ----------
    model : NNClassifier or NNRegressor (fitted), or TrainResult
        A TrainResult's output units are labelled 0 .. n_out - 1.
    path : str or Path
    extra : dict, optional
        JSON-serialisable notes stored in the metadata under "extra"
        (data description, accuracy...).

    Returns
    -------
    path : Path
        The file written.
    """
    from . import __version__

    theta, sizes, classes, info = _parts(model)
    theta = np.ascontiguousarray(theta)
    if theta.dtype not in (np.float64, np.float32):
        theta = theta.astype(np.float64)
    if classes.dtype.kind == "O":
        kinds = {type(c) for c in classes}
        if kinds <= {str}:
            classes = classes.astype(str)
        else:
            raise TypeError("save_model() stores class labels that are numbers, strings or "
                            f"booleans; these classes are of types {sorted(k.__name__ for k in kinds)}")
    if classes.dtype.kind not in "iubfU":
        raise TypeError(f"cannot store class labels of dtype {classes.dtype} without pickle")
    meta = dict(format=FORMAT, format_version=FORMAT_VERSION, nnfast_version=__version__,
                layer_sizes=list(sizes), n_params=int(theta.shape[0]), theta_dtype=str(theta.dtype),
                theta_sha256=_digest(theta), n_classes=int(classes.shape[0]),
                classes_dtype=str(classes.dtype), **info)
    if extra is not None:
        meta["extra"] = extra
    try:
        text = json.dumps(meta, default=_json_default)
    except TypeError as exc:
        raise TypeError(f"extra must be JSON-serialisable: {exc}") from None
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, theta=theta, classes=classes, metadata=np.array(text))
    tmp.replace(path)
    return path


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


#: largest metadata member accepted (the JSON of a model is a few kB; user notes in
#: ``extra`` may add some): anything bigger is refused before it is decompressed
MAX_METADATA_BYTES = 1 << 20
#: largest class-label member (a million 64-character labels)
MAX_CLASSES_BYTES = 256 << 20
#: npy headers are a short dict; numpy's own default limit
MAX_NPY_HEADER = 10000
#: members larger than this must not expand more than MAX_EXPANSION times: save_model
#: stores arrays uncompressed, and trained weights compress little
COMPRESSED_MEMBER_BYTES = 1 << 20
MAX_EXPANSION = 20
LOSSES = ("cross_entropy", "squared_error")
_ARRAYS = ("theta", "classes", "metadata")


def _member_header(path, zf, name, limit):
    """``(shape, dtype, fortran)`` of an .npy member, checked against its declared size.

    Reads only the npy header: the zip directory gives the member's sizes, the
    header its shape and dtype, and they must agree before a byte of data is
    decompressed (a header that declares 2**40 elements, or a small archive
    that unpacks to gigabytes, is refused here).
    """
    fmt = np.lib.format
    info = zf.getinfo(f"{name}.npy")
    if info.file_size > limit:
        raise ModelFileError(f"{path}: {name} is {info.file_size:,} bytes, more than this file "
                             f"can hold ({limit:,})")
    if (info.file_size > COMPRESSED_MEMBER_BYTES
            and info.file_size > MAX_EXPANSION * max(info.compress_size, 1)):
        raise ModelFileError(f"{path}: {name} expands from {info.compress_size:,} to "
                             f"{info.file_size:,} bytes, which no model file does")
    with zf.open(info) as fh:
        version = fmt.read_magic(fh)
        reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = reader(fh, max_header_size=MAX_NPY_HEADER)
        header_bytes = fh.tell()
    if dtype.hasobject:
        raise ModelFileError(f"{path}: {name} holds Python objects ({dtype}); model files "
                             "hold numbers and text only")
    n_bytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if header_bytes + n_bytes != info.file_size:
        raise ModelFileError(f"{path}: {name} declares shape {shape} of {dtype} "
                             f"({n_bytes:,} bytes) but holds {info.file_size - header_bytes:,}")
    return shape, dtype


def _read_member(zf, name):
    with zf.open(f"{name}.npy") as fh:
        return np.lib.format.read_array(fh, allow_pickle=False, max_header_size=MAX_NPY_HEADER)


def _check_metadata(path, meta):
    """The metadata fields load_model uses, with their types; ModelFileError otherwise."""
    from ._network import check_layer_sizes

    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not an nnfast model file (format "
                             f"{meta.get('format') if isinstance(meta, dict) else None!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{path} has model format version {meta.get('format_version')!r}; "
                             f"this nnfast reads version {FORMAT_VERSION}")
    try:
        sizes = check_layer_sizes(meta.get("layer_sizes"))
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: invalid layer sizes in the metadata ({exc})") from None

    def bad(field, expected):
        raise ModelFileError(f"{path}: metadata field {field!r} must be {expected}, found "
                             f"{meta.get(field)!r:.80}")

    if not isinstance(meta.get("theta_sha256"), str):
        bad("theta_sha256", "a SHA-256 hex string")
    lam = meta.get("lam", 0.0)
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not lam >= 0 or lam == inf:
        bad("lam", "a finite number >= 0")
    if meta.get("loss", "cross_entropy") not in LOSSES:
        bad("loss", f"one of {list(LOSSES)}")
    training = meta.get("training")
    if training is not None:
        if not isinstance(training, dict):
            bad("training", "an object (dict) or null")
        n_iter = training.get("n_iter", 0)
        if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 0:
            raise ModelFileError(f"{path}: metadata field 'training.n_iter' must be an integer "
                                 f">= 0, found {n_iter!r:.80}")
    params = meta.get("estimator_params")
    if params is not None:
        if not isinstance(params, dict):
            bad("estimator_params", "an object (dict) or null")
        _check_estimator_params(path, params, sizes)
    return sizes


def _check_network(path, meta, sizes):
    """The ``activations`` and ``output`` fields (absent in files older than them)."""
    from ._activations import ACTIVATIONS, OUTPUTS, check_head

    def bad(field, expected):
        raise ModelFileError(f"{path}: metadata field {field!r} must be {expected}, found "
                             f"{meta.get(field)!r:.80}")

    n_hidden = len(sizes) - 2
    activations = meta.get("activations", ["logistic"] * n_hidden)
    if (not isinstance(activations, list) or len(activations) != n_hidden
            or not all(isinstance(a, str) and a in ACTIVATIONS for a in activations)):
        bad("activations", f"a list of {n_hidden} names from {list(ACTIVATIONS)} (one per "
                           f"hidden layer)")
    output = meta.get("output", "logistic")
    if not isinstance(output, str) or output not in OUTPUTS:
        bad("output", f"one of {list(OUTPUTS)}")
    try:
        check_head(output, meta.get("loss"))
    except ValueError as exc:
        raise ModelFileError(f"{path}: the metadata's output and loss do not go together "
                             f"({exc})") from None
    estimator = meta.get("estimator", _estimator_for(output))
    if estimator not in ESTIMATORS:
        bad("estimator", f"one of {list(ESTIMATORS)}")
    if (estimator == "NNRegressor") != (output == "identity"):
        raise ModelFileError(f"{path}: an {estimator} cannot have a {output!r} output layer "
                             f"(regressors have 'identity' outputs, classifiers 'logistic' or "
                             f"'softmax')")


def model_estimator(meta):
    """The estimator name of a model file's checked metadata."""
    return meta.get("estimator", _estimator_for(model_network(meta)[1]))


def model_network(meta):
    """``(activations tuple, output)`` of a model file's checked metadata (ex4's network
    for files written before activations existed)."""
    n_hidden = len(meta["layer_sizes"]) - 2
    return (tuple(meta.get("activations", ["logistic"] * n_hidden)),
            meta.get("output", "logistic"))


def _check_estimator_params(path, params, sizes):
    def bad(key, expected):
        raise ModelFileError(f"{path}: estimator_params[{key!r}] must be {expected}, found "
                             f"{params[key]!r:.80}")

    if "hidden_layer_sizes" in params:
        hidden = params["hidden_layer_sizes"]
        if isinstance(hidden, int) and not isinstance(hidden, bool):
            hidden = [hidden]
        if not isinstance(hidden, list) or hidden != list(sizes[1:-1]):
            bad("hidden_layer_sizes", f"the hidden layer sizes {list(sizes[1:-1])}")
    if "lam" in params:
        lam = params["lam"]
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not 0 <= lam < inf:
            bad("lam", "a finite number >= 0")
    if "loss" in params and params["loss"] not in LOSSES:
        bad("loss", f"one of {list(LOSSES)}")


def read_model_file(path):
    """``(theta, classes, metadata)`` of a model file, checked but not turned into a model.

    Every size is checked before anything is decompressed or allocated: the
    zip directory's member sizes, the npy headers' shapes, and a cap on the
    metadata (:data:`MAX_METADATA_BYTES`).

    Raises
    ------
    FileNotFoundError
        No such file.
    ModelFileError
        Not a model file, corrupted, or inconsistent (the message says which).
    """
    from ._network import n_params

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist"
                                + (" (it is a folder)" if path.is_dir() else ""))
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path} is not an nnfast model file: not an .npz (zip) archive")
    try:
        with zipfile.ZipFile(path) as zf:
            names = {n[:-4] for n in zf.namelist() if n.endswith(".npy")}
            missing = set(_ARRAYS) - names
            if missing:
                raise ModelFileError(f"{path} is not an nnfast model file: it lacks "
                                     f"{sorted(missing)} (it holds {sorted(names)})")
            shape, dtype = _member_header(path, zf, "metadata", MAX_METADATA_BYTES)
            if shape != () or dtype.kind != "U":
                raise ModelFileError(f"{path}: the metadata must be a text scalar, found "
                                     f"{dtype} of shape {shape}")
            text = str(_read_member(zf, "metadata")[()])
            try:
                meta = json.loads(text)
            except (ValueError, RecursionError) as exc:
                raise ModelFileError(f"{path}: the metadata is not valid JSON "
                                     f"({type(exc).__name__}: {str(exc)[:80]})") from None
            sizes = _check_metadata(path, meta)
            expected = n_params(sizes)
            shape, dtype = _member_header(path, zf, "theta", MAX_NPY_HEADER + 8 * expected)
            if len(shape) != 1 or dtype not in (np.float64, np.float32):
                raise ModelFileError(f"{path}: theta must be a float vector, found {dtype} of "
                                     f"shape {shape}")
            if shape[0] != expected or meta.get("n_params") != shape[0]:
                raise ModelFileError(f"{path}: theta has {shape[0]} values but layer sizes "
                                     f"{list(sizes)} need {expected}")
            shape, dtype = _member_header(path, zf, "classes", MAX_CLASSES_BYTES)
            if len(shape) != 1 or dtype.kind not in "iubfU":
                raise ModelFileError(f"{path}: classes must be a vector of numbers, text or "
                                     f"booleans, found {dtype} of shape {shape}")
            theta, classes = _read_member(zf, "theta"), _read_member(zf, "classes")
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, KeyError,
            SyntaxError, tokenize.TokenError, NotImplementedError, RuntimeError,
            OverflowError) as exc:
        # damaged archives (bad CRC, truncated members, unsupported compression) and
        # damaged npy headers, which numpy reports with several exception types (an
        # unbalanced bracket in a header stops Python's tokenizer: TokenError)
        raise ModelFileError(f"{path} is not a readable nnfast model file (.npz): "
                             f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}") from None
    if _digest(theta) != meta.get("theta_sha256"):
        raise ModelFileError(f"{path}: theta does not match its checksum (the file is corrupted "
                             "or was edited)")
    if not np.all(np.isfinite(theta)):
        raise ModelFileError(f"{path}: theta contains NaN or inf")
    _check_classes(path, classes, sizes, meta)
    # after every size check: those refuse a file before anything is decompressed
    _check_network(path, meta, sizes)
    return theta, classes, meta


def _check_classes(path, classes, sizes, meta):
    """One distinct label per output unit (a single output unit has two classes' worth)."""
    n_out = sizes[-1]
    if classes.shape[0] != n_out:
        raise ModelFileError(f"{path}: {classes.shape[0]} class labels for a network with "
                             f"{n_out} outputs")
    if classes.dtype.kind == "f" and not np.all(np.isfinite(classes)):
        raise ModelFileError(f"{path}: the class labels contain NaN or inf")
    distinct = np.unique(classes)
    if distinct.shape[0] != classes.shape[0]:
        raise ModelFileError(f"{path}: the class labels repeat ({classes.tolist()[:10]}): each "
                             "output unit needs its own label")
    if not np.array_equal(distinct, classes):
        # the estimator maps labels to output units through np.unique's order
        raise ModelFileError(f"{path}: the class labels must be in sorted order, found "
                             f"{classes.tolist()[:10]}")
    if meta.get("n_classes", n_out) != n_out:
        raise ModelFileError(f"{path}: the metadata says {meta.get('n_classes')!r} classes, "
                             f"the file holds {n_out}")


def load_model(path):
    """Read a model written by :func:`save_model`.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    model : NNClassifier or NNRegressor
        Fitted, as the file's ``estimator`` field says (a regressor for an
        identity output layer): ``predict`` and ``score`` (and a classifier's
        ``predict_proba``) work at once; ``metadata_`` holds the file's
        metadata, ``activations_`` and ``out_activation_`` (also ``output_``)
        the network (ex4's for files that do not say).

    Raises
    ------
    FileNotFoundError, ModelFileError (a ValueError)
    """
    from .estimator import NNClassifier, NNRegressor

    theta, classes, meta = read_model_file(path)
    sizes = tuple(meta["layer_sizes"])
    estimator = {"NNClassifier": NNClassifier, "NNRegressor": NNRegressor}[model_estimator(meta)]
    params = dict(meta.get("estimator_params") or {})
    known = estimator().get_params()
    # read_model_file checked the parameters that describe the fitted network; the
    # others only matter to a refit, which validates them itself
    params = {k: v for k, v in params.items() if k in known and k not in ("backend", "n_threads")}
    params["hidden_layer_sizes"] = tuple(sizes[1:-1])
    params.setdefault("lam", meta.get("lam", 0.0))
    activations, output = model_network(meta)
    # an estimator that takes the network as parameters gets it from the file too
    for name, value in (("loss", meta.get("loss", "cross_entropy")),
                        ("activation", list(activations)), ("output", output)):
        if name in known:
            params.setdefault(name, value)
    model = estimator(**params)
    model.activations_ = activations
    model.out_activation_ = output
    model.output_ = output
    model.theta_ = theta
    model.layer_sizes_ = sizes
    if estimator is NNRegressor:
        model.n_outputs_ = sizes[-1]
    else:
        model.classes_ = classes
    model.n_features_in_ = sizes[0]
    model.dtype_ = theta.dtype
    model.n_iter_ = (meta.get("training") or {}).get("n_iter", 0)
    model.metadata_ = meta
    return model
