"""``nnfast evaluate``: a saved model on data: accuracy, per-class report, confusion matrix."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def configure(parser):
    from .train import DATA_HELP

    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.description = (
        "Evaluate a model saved by 'nnfast train' or nnfast.save_model on a data set: print "
        "the accuracy, the per-class precision/recall/F1 and the confusion matrix; with "
        "--output also write report.txt and confusion_matrix.png there.")
    parser.add_argument("model", help="model file (.npz) written by 'nnfast train' or "
                                      "nnfast.save_model, or the output folder holding model.npz")
    parser.add_argument("--data", default="auto", help=DATA_HELP + ". All of it is evaluated")
    parser.add_argument("--backend", default="auto",
                        help="cost/gradient backend: 'auto' or a name listed by 'nnfast info'")
    parser.add_argument("--output", "-o", default=None,
                        help="folder for report.txt and confusion_matrix.png (default: print only)")
    parser.add_argument("--json", action="store_true",
                        help="print accuracy, cost and the confusion matrix as JSON")


def run(args):
    import json

    from .. import evaluation
    from ..api import cost
    from ..persistence import load_model
    from .train import load_data

    path = Path(args.model)
    if path.is_dir():
        path = path / "model.npz"
    model = load_model(path)
    model.backend = args.backend
    X, y, description, names = load_data(args.data)
    sizes = model.layer_sizes_
    if X.shape[1] != sizes[0]:
        raise ValueError(f"the model takes {sizes[0]} inputs per example but the data "
                         f"({description}) has {X.shape[1]} features")
    classes = model.classes_
    unknown = np.setdiff1d(np.unique(y), classes)
    if unknown.size:
        raise ValueError(f"the data has labels {unknown.tolist()[:10]} that the model does not "
                         f"know (its classes: {classes.tolist()})")
    y_pred = model.predict(X)
    saved_names = (model.metadata_.get("extra") or {}).get("digit_names")
    target_names = saved_names or names
    if target_names is not None and len(target_names) != len(classes):
        target_names = None
    y_idx = np.searchsorted(classes, y)
    J = cost(model.theta_, X, y_idx, sizes, lam=0.0, loss=model.loss, backend=args.backend) \
        if len(classes) > 1 else None
    result = evaluation.evaluate(y, y_pred, labels=classes, target_names=target_names, cost=J)
    if args.json:
        print(json.dumps({"model": str(path), "data": description, "n": int(X.shape[0]),
                          "accuracy": result.accuracy, "cost": J,
                          "labels": classes.tolist(), "confusion": result.confusion.tolist()}))
    else:
        print(f"model {path}: {' -> '.join(map(str, sizes))}, trained with "
              f"lambda {model.metadata_.get('lam')}")
        print(f"data: {description}, {X.shape[0]} examples")
        print(result)
    if args.output:
        from .. import plots

        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.txt").write_text(
            f"model: {path}\ndata: {description} ({X.shape[0]} examples)\n\n{result}\n")
        plots.save_figure(plots.plot_confusion_matrix(
            result.confusion, target_names or [str(c) for c in classes]),
            out / "confusion_matrix.png")
        if not args.json:
            print(f"wrote {out / 'report.txt'}, {out / 'confusion_matrix.png'}")
    return 0
