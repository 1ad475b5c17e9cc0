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
    version, layer sizes, n_params, dtype, λ, loss, method, training
    summary, and the SHA-256 of ``theta``'s bytes (corruption check).

:func:`load_model` checks all of it and returns a fitted
:class:`nnfast.NNClassifier`.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["save_model", "load_model", "ModelFileError", "FORMAT", "FORMAT_VERSION"]

FORMAT = "nnfast-model"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model file is unreadable, corrupted, or inconsistent; the message says what."""


def _digest(theta: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(theta).tobytes()).hexdigest()


def _parts(model):
    """(theta, layer_sizes, classes, info dict) from an NNClassifier or a TrainResult."""
    from .training import TrainResult

    if isinstance(model, TrainResult):
        res = model
        return (np.asarray(res.theta), tuple(res.layer_sizes), np.arange(res.layer_sizes[-1]),
                dict(lam=res.lam, loss=res.loss, method=res.method, dtype=res.dtype,
                     training=dict(n_iter=res.n_iter, n_evals=res.n_evals,
                                   stop_reason=res.stop_reason, final_cost=res.final_cost,
                                   wall_time=res.wall_time, backend=res.backend)))
    if hasattr(model, "theta_") and hasattr(model, "layer_sizes_") and hasattr(model, "classes_"):
        res = getattr(model, "result_", None)
        info = dict(lam=float(model.lam), loss=model.loss, method=model.method,
                    dtype=str(model.dtype_), estimator_params={
                        k: v for k, v in model.get_params().items()
                        if isinstance(v, (int, float, str, bool, type(None), list, tuple))})
        if res is not None:
            info["training"] = dict(n_iter=res.n_iter, n_evals=res.n_evals,
                                    stop_reason=res.stop_reason, final_cost=res.final_cost,
                                    wall_time=res.wall_time, backend=res.backend)
        return np.asarray(model.theta_), tuple(model.layer_sizes_), np.asarray(model.classes_), info
    raise TypeError(f"save_model() takes a fitted NNClassifier or a TrainResult, got "
                    f"{type(model).__name__}" + (" (not fitted yet?)" if hasattr(model, "fit") else ""))


def save_model(model, path, extra=None) -> Path:
    """Write a trained network to ``path`` (``.npz`` is appended when missing).

    Parameters
    ----------
    model : NNClassifier (fitted) or TrainResult
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


def read_model_file(path):
    """``(theta, classes, metadata)`` of a model file, checked but not turned into a model.

    Raises
    ------
    FileNotFoundError
        No such file.
    ModelFileError
        Not a model file, corrupted, or inconsistent (the message says which).
    """
    from ._network import check_layer_sizes, n_params

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path} is not an nnfast model file: not an .npz (zip) archive")
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = set(archive.files)
            missing = {"theta", "classes", "metadata"} - names
            if missing:
                raise ModelFileError(f"{path} is not an nnfast model file: it lacks "
                                     f"{sorted(missing)} (it holds {sorted(names)})")
            theta, classes, text = archive["theta"], archive["classes"], archive["metadata"]
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError) as exc:
        raise ModelFileError(f"{path} is not a readable nnfast model file (.npz): "
                             f"{type(exc).__name__}: {exc}") from None
    try:
        meta = json.loads(str(text[()]))
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{path}: the metadata is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not an nnfast model file (format "
                             f"{meta.get('format') if isinstance(meta, dict) else None!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{path} has model format version {meta.get('format_version')!r}; "
                             f"this nnfast reads version {FORMAT_VERSION}")
    try:
        sizes = check_layer_sizes(meta["layer_sizes"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: invalid layer sizes in the metadata ({exc})") from None
    if theta.ndim != 1 or theta.dtype not in (np.float64, np.float32):
        raise ModelFileError(f"{path}: theta must be a float vector, found {theta.dtype} of "
                             f"shape {theta.shape}")
    if theta.shape[0] != n_params(sizes) or meta.get("n_params") != theta.shape[0]:
        raise ModelFileError(f"{path}: theta has {theta.shape[0]} values but layer sizes "
                             f"{list(sizes)} need {n_params(sizes)}")
    if _digest(theta) != meta.get("theta_sha256"):
        raise ModelFileError(f"{path}: theta does not match its checksum (the file is corrupted "
                             "or was edited)")
    if not np.all(np.isfinite(theta)):
        raise ModelFileError(f"{path}: theta contains NaN or inf")
    if classes.ndim != 1 or classes.shape[0] != max(sizes[-1], 1) or (
            sizes[-1] > 1 and classes.shape[0] != sizes[-1]):
        raise ModelFileError(f"{path}: {classes.shape[0] if classes.ndim == 1 else classes.shape} "
                             f"class labels for a network with {sizes[-1]} outputs")
    return theta, classes, meta


def load_model(path):
    """Read a model written by :func:`save_model`.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    model : NNClassifier
        Fitted: ``predict``, ``predict_proba`` and ``score`` work at once;
        ``metadata_`` holds the file's metadata.

    Raises
    ------
    FileNotFoundError, ModelFileError (a ValueError)
    """
    from .estimator import NNClassifier

    theta, classes, meta = read_model_file(path)
    sizes = tuple(meta["layer_sizes"])
    params = dict(meta.get("estimator_params") or {})
    known = NNClassifier().get_params()
    params = {k: (tuple(v) if k == "hidden_layer_sizes" else v)
              for k, v in params.items() if k in known and k not in ("backend", "n_threads")}
    params.setdefault("hidden_layer_sizes", tuple(sizes[1:-1]))
    params.setdefault("lam", meta.get("lam", 0.0))
    params.setdefault("loss", meta.get("loss", "cross_entropy"))
    model = NNClassifier(**params)
    model.theta_ = theta
    model.layer_sizes_ = sizes
    model.classes_ = classes
    model.n_features_in_ = sizes[0]
    model.dtype_ = theta.dtype
    model.n_iter_ = (meta.get("training") or {}).get("n_iter", 0)
    model.metadata_ = meta
    return model
