"""``nnfast evaluate``: a saved model on data: accuracy, per-class report, confusion matrix.

A model written by ``nnfast train`` remembers its data (name or file, a
checksum) and its split (seed, held-out fraction, a checksum of the held-out
rows), so that by default only the rows it never trained on are scored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..cli import UserError

ROWS = ("held-out", "training", "all")


def configure(parser):
    from .train import DATA_HELP

    parser.description = (
        "Evaluate a model saved by 'nnfast train' or nnfast.save_model on a data set: print "
        "the accuracy, the per-class precision/recall/F1 and the confusion matrix; with "
        "--output also write report.txt and confusion_matrix.png there. A model from "
        "'nnfast train' is scored on the held-out part of the data it was trained on "
        "(the same split again); other data are scored whole, and the output says which "
        "rows were scored.")
    parser.add_argument("model", help="model file (.npz) written by 'nnfast train' or "
                                      "nnfast.save_model, or the output folder holding model.npz")
    parser.add_argument("--data", default=None,
                        help=DATA_HELP + " (default: the data the model was trained on, or "
                                         "'auto' when the model does not say)")
    parser.add_argument("--rows", choices=ROWS, default=None,
                        help="which rows of the model's own training data to score: the "
                             "held-out split (default), the training part, or all of them; "
                             "other data are always scored whole")
    parser.add_argument("--backend", default="auto",
                        help="cost/gradient backend: 'auto' or a name listed by 'nnfast info'")
    parser.add_argument("--output", "-o", default=None,
                        help="folder for report.txt and confusion_matrix.png (default: print only)")
    parser.add_argument("--json", action="store_true",
                        help="print accuracy, cost and the confusion matrix as JSON")


def select_rows(split, spec, X, y, rows):
    """``(row_indices, scope)``: which rows of ``X`` to score and a sentence saying which.

    Parameters
    ----------
    split : dict or None
        The model's ``extra["split"]`` (see ``train.split_record``).
    spec : str
        The ``--data`` value the rows come from.
    rows : {"held-out", "training", "all"} or None
        None means held-out where there is a split.
    """
    from .train import NAMED_DATA, data_checksum, indices_checksum, split_indices

    everything = np.arange(X.shape[0])
    if split is None:
        if rows not in (None, "all"):
            raise UserError(f"--rows {rows}: the model file does not record its training data "
                            "or split (it was not written by 'nnfast train'); only --rows all")
        return everything, (f"all {X.shape[0]} examples (the model file does not say which "
                            "data it was trained on; some may be training rows)")
    same = data_checksum(X, y) == split.get("data_sha256")
    if not same:
        if rows not in (None, "all"):
            raise UserError(f"--rows {rows}: these data differ from the model's training data "
                            f"({split.get('data')}); only --rows all")
        return everything, (f"all {X.shape[0]} examples: not the data the model was trained on "
                            f"({split.get('data')}), so none of them were held out by its split")
    given = spec if spec in NAMED_DATA else str(Path(spec).resolve())
    train_rows, held_out = split_indices(y, split["test_size"], split["seed"])
    if indices_checksum(held_out) != split.get("held_out_sha256"):
        raise UserError("cannot reproduce the model's held-out split of these data (seed "
                        f"{split['seed']}, test size {split['test_size']:g}; a different "
                        "scikit-learn?); use --rows all to score every row, training rows "
                        "included")
    rows = rows or "held-out"
    seen = "" if given == split.get("data") else f" (the same data as {split.get('data')})"
    if rows == "all":
        return everything, (f"all {X.shape[0]} examples{seen}, including the "
                            f"{len(train_rows)} the model was trained on")
    if rows == "training":
        return train_rows, (f"the {len(train_rows)} training examples{seen}: the model was "
                            "trained on them, so this is not a held-out score")
    if held_out.size == 0:
        raise UserError("the model was trained on all of these data (--test-size 0): no rows "
                        "were held out; use --rows training to score the training rows")
    return held_out, (f"the {len(held_out)} held-out examples{seen} (split seed "
                      f"{split['seed']}, test size {split['test_size']:g}); the other "
                      f"{len(train_rows)} trained the model")


def run(args):
    import json

    from .. import evaluation
    from ..api import cost
    from ..persistence import load_model
    from .train import NAMED_DATA, check_output_folder, load_data

    path = Path(args.model)
    if path.is_dir():
        path = path / "model.npz"
    model = load_model(path)
    model.backend = args.backend
    if args.output:
        check_output_folder(args.output)
    extra = model.metadata_.get("extra")
    split = extra.get("split") if isinstance(extra, dict) else None
    if split is not None and not _valid_split(split):
        split = None
    spec = args.data or (split["data"] if split is not None else "auto")
    if args.data is None and split is not None and spec not in NAMED_DATA \
            and not Path(spec).is_file():
        raise UserError(f"the model was trained on {spec}, which is not there any more; "
                        "pass --data FILE to score other data")
    regression = model.output_ == "identity"
    X, y, description, names = load_data(spec, regression=regression)
    sizes = model.layer_sizes_
    if X.shape[1] != sizes[0]:
        raise UserError(f"the model takes {sizes[0]} inputs per example but the data "
                        f"({description}) has {X.shape[1]} features")
    chosen, scope = select_rows(split, spec, X, y, args.rows)
    X, y = X[chosen], y[chosen]
    if regression:
        return _report_regression(args, model, path, X, y, description, scope)
    classes = model.classes_
    unknown = np.setdiff1d(np.unique(y), classes)
    if unknown.size:
        raise UserError(f"the data has labels {unknown.tolist()[:10]} that the model does not "
                        f"know (its classes: {classes.tolist()})")
    y_pred = classes[np.argmax(_outputs(model, X, args.backend), axis=1)]
    saved_names = extra.get("digit_names") if isinstance(extra, dict) else None
    target_names = saved_names or names
    if target_names is not None and len(target_names) != len(classes):
        target_names = None
    y_idx = np.searchsorted(classes, y)
    J = cost(model.theta_, X, y_idx, sizes, lam=0.0, loss=model.loss, backend=args.backend,
             activation=model.activations_, output=model.output_) if len(classes) > 1 else None
    result = evaluation.evaluate(y, y_pred, labels=classes, target_names=target_names, cost=J)
    if args.json:
        print(json.dumps({"model": str(path), "data": description, "scored": scope,
                          "n": int(X.shape[0]), "accuracy": result.accuracy, "cost": J,
                          "labels": classes.tolist(), "confusion": result.confusion.tolist()}))
    else:
        print(f"model {path}: {' -> '.join(map(str, sizes))}, trained with "
              f"lambda {model.metadata_.get('lam')}")
        print(f"data: {description}; scored: {scope}")
        print(result)
    if args.output:
        from .. import plots

        out = Path(args.output)
        (out / "report.txt").write_text(
            f"model: {path}\ndata: {description}\nscored: {scope}\n\n{result}\n")
        plots.save_figure(plots.plot_confusion_matrix(
            result.confusion, target_names or [str(c) for c in classes]),
            out / "confusion_matrix.png")
        if not args.json:
            print(f"wrote {out / 'report.txt'}, {out / 'confusion_matrix.png'}")
    return 0


def _outputs(model, X, backend):
    """The loaded network's outputs on ``X``, with the activations its file records."""
    from ..api import predict_proba

    return predict_proba(model.theta_, X, model.layer_sizes_, backend=backend,
                         dtype=model.dtype_, activation=model.activations_, output=model.output_)


def _report_regression(args, model, path, X, y, description, scope):
    """``nnfast evaluate`` of a regression network: RMSE and R² (no classes, no confusion
    matrix); exit code 0."""
    import json

    from .. import evaluation
    from ..api import cost

    h = _outputs(model, X, args.backend)
    J = cost(model.theta_, X, y, model.layer_sizes_, lam=0.0, loss="squared_error",
             backend=args.backend, activation=model.activations_, output=model.output_)
    result = evaluation.regression_scores(y, h[:, 0] if h.shape[1] == 1 else h, cost=J)
    header = (f"model {path}: {' -> '.join(map(str, model.layer_sizes_))} (regression), "
              f"trained with lambda {model.metadata_.get('lam')}")
    if args.json:
        print(json.dumps({"model": str(path), "data": description, "scored": scope,
                          "n": result.n, "rmse": result.rmse, "r2": result.r2, "cost": J}))
    else:
        print(header)
        print(f"data: {description}; scored: {scope}")
        print(result)
    if args.output:
        report = Path(args.output) / "report.txt"
        report.write_text(f"{header}\ndata: {description}\nscored: {scope}\n\n{result}\n")
        if not args.json:
            print(f"wrote {report}")
    return 0


def _valid_split(split) -> bool:
    """Whether a model file's split record has the fields and types evaluate uses."""
    return (isinstance(split, dict) and isinstance(split.get("data"), str)
            and isinstance(split.get("data_sha256"), str)
            and isinstance(split.get("held_out_sha256"), str)
            and isinstance(split.get("seed"), int) and not isinstance(split.get("seed"), bool)
            and 0 <= split["seed"] < 2**32
            and isinstance(split.get("test_size"), (int, float))
            and 0 <= split["test_size"] < 1)
