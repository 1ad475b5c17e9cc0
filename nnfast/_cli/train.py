"""``nnfast train``: train a network, optionally compare backends, write model, report, plots."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

DATA_HELP = ("data set: 'auto' (ex4data1.mat when it can be found, else scikit-learn's digits), "
             "'ex4', 'mnist' (MNIST t10k), 'digits', or a file: a .mat with X and y (ex4 "
             "layout, labels 1..10), a .npz with arrays X and y, or a .csv whose last column "
             "is the label")


def load_data(spec):
    """``(X, y, description, digit_names)`` for a data argument (see ``DATA_HELP``).

    ``digit_names`` gives the name shown for each class index (ex4: index 9 is
    the digit 0), or None.
    """
    from .. import datasets

    if spec in ("auto", "ex4", "mnist", "digits"):
        X, y, description = datasets.load(spec)
        ex4 = description.startswith("ex4")
        return X, y, description, (list(datasets.EX4_DIGITS) if ex4 else None)
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(f"data {spec!r} is neither 'auto', 'ex4', 'mnist', 'digits' "
                                "nor an existing file")
    suffix = path.suffix.lower()
    if suffix == ".mat":
        X, y = datasets.load_ex4_data(path)
        return X, y, f"{path} (ex4 layout; class 9 is the digit 0)", list(datasets.EX4_DIGITS)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            if "X" not in archive.files or "y" not in archive.files:
                raise ValueError(f"{path} must hold arrays named X and y, it has {archive.files}")
            X, y = archive["X"], archive["y"]
    elif suffix == ".csv":
        table = np.loadtxt(path, delimiter=",", ndmin=2)
        X, y = table[:, :-1], table[:, -1]
    else:
        raise ValueError(f"cannot read {path}: use a .mat, .npz or .csv file")
    X = np.asarray(X)
    if X.dtype.kind in "iub":
        X = X.astype(np.float64)
    y = np.asarray(y).reshape(-1)
    if y.dtype.kind == "f":
        if not np.all(y == np.round(y)):
            raise ValueError(f"{path}: labels must be whole numbers")
        y = y.astype(np.int64)
    if y.dtype.kind not in "iu" or y.min() < 0:
        raise ValueError(f"{path}: labels must be class indices 0, 1, 2, ...")
    return X, y, f"{path} ({X.shape[0]} examples, {X.shape[1]} features)", None


def parse_hidden(text):
    try:
        sizes = [int(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"hidden layer sizes must be integers like 25 or 50,25, "
                                         f"got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"hidden layer sizes must be positive, got {text!r}")
    return sizes


def parse_lambdas(text):
    """The λ values of ``--lambdas``: comma-separated, finite, >= 0, no repeats.

    Raises UserError (one line and exit code 2 from ``nnfast.cli.main``).
    """
    from ..cli import UserError

    parts = [part.strip() for part in str(text).split(",")]
    if not any(parts):
        raise UserError(f"--lambdas needs comma-separated values like 0,1,10,50, got {text!r}")
    lams = []
    for part in parts:
        if not part:
            raise UserError(f"--lambdas has an empty value in {text!r}: use values like 0,1,10,50")
        try:
            lam = float(part)
        except ValueError:
            raise UserError(f"--lambdas values must be numbers like 0,1,10,50, got {part!r}"
                            ) from None
        if not np.isfinite(lam) or lam < 0:
            raise UserError(f"--lambdas values must be finite and >= 0, got {part!r}")
        if lam in lams:
            raise UserError(f"--lambdas lists {part!r} twice")
        lams.append(lam)
    return lams


def configure(parser):
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.description = (
        "Train a sigmoid network (default 25 hidden units, lambda 1, L-BFGS-B, 400 iterations) "
        "on a training split, evaluate it on the held-out split, and write to the output "
        "folder: model.npz (load with nnfast.load_model or 'nnfast evaluate'), report.txt, "
        "and PNG pictures (sample digits, hidden units, cost curve, confusion matrix). "
        "With --compare, first time every available backend's cost+gradient on the training "
        "data and put the table in the report. With --lambdas, also train once per lambda "
        "(a lambda sweep) and add lambda_sweep.png and a table to the report.")
    parser.add_argument("--data", default="auto", help=DATA_HELP)
    parser.add_argument("--hidden", type=parse_hidden, default=[25], metavar="N[,N...]",
                        help="hidden layer sizes, comma-separated")
    parser.add_argument("--lam", "--lambda", dest="lam", type=float, default=1.0,
                        help="L2 regularisation strength lambda")
    parser.add_argument("--loss", choices=["cross_entropy", "squared_error"],
                        default="cross_entropy", help="loss on the output units")
    parser.add_argument("--method", default="L-BFGS-B",
                        choices=["L-BFGS-B", "TNC", "CG", "gd", "sgd", "adam"],
                        help="optimiser: scipy's L-BFGS-B, TNC or CG with the analytic gradient, "
                             "batch gradient descent (gd), mini-batch SGD with momentum, or Adam")
    parser.add_argument("--max-iter", type=int, default=400,
                        help="iterations (optimiser iterations, gradient steps, or epochs for "
                             "sgd/adam)")
    parser.add_argument("--max-fun", type=int, default=None,
                        help="cap on cost/gradient evaluations (TNC in the ex4 notebooks: 400)")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="step size for gd/sgd/adam (default: per method)")
    parser.add_argument("--batch-size", type=int, default=64, help="mini-batch size for sgd/adam")
    parser.add_argument("--backend", default="auto",
                        help="cost/gradient backend: 'auto' or a name listed by 'nnfast info'")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for the backend (default: all cores)")
    parser.add_argument("--dtype", choices=["float64", "float32"], default=None,
                        help="working dtype of the kernels (default: float64)")
    parser.add_argument("--test-size", type=float, default=0.25,
                        help="fraction of the data held out for testing (0 trains on all of it)")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed for the split, the initial weights and mini-batches")
    parser.add_argument("--early-stopping", action="store_true",
                        help="hold out 10%% of the training part as a validation set; stop "
                             "when its cost has not improved for --patience iterations and "
                             "keep the best weights (the test split stays untouched)")
    parser.add_argument("--patience", type=int, default=10, help="see --early-stopping")
    parser.add_argument("--compare", action="store_true",
                        help="time every available backend's cost+gradient on the training "
                             "data before training; the table goes into the report")
    parser.add_argument("--lambdas", default=None, metavar="L1,L2,...",
                        help="also run a lambda sweep (e.g. 0,1,10,50): after the main fit, "
                             "train on the same training part once per lambda, in the order "
                             "given, each fit warm-started from the previous one, with the same "
                             "method and --max-iter (no early stopping); report training and "
                             "held-out accuracy and cost per lambda in report.txt and draw "
                             "lambda_sweep.png (accuracy against lambda and the hidden units' "
                             "weights for each lambda on one colour scale)")
    parser.add_argument("--output", "-o", default="nnfast-output",
                        help="folder for model.npz, report.txt and the PNG pictures")
    parser.add_argument("--no-plots", action="store_true", help="do not write pictures")
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument("--progress", dest="progress", action="store_true", default=None,
                          help="always show a progress bar (default: only on a terminal)")
    progress.add_argument("--no-progress", dest="progress", action="store_false",
                          help="never show a progress bar")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="print only the paths written")


def _check_args(args):
    from ..cli import UserError

    if args.max_iter < 1:
        raise UserError(f"--max-iter must be at least 1, got {args.max_iter}")
    if args.max_fun is not None and args.max_fun < 1:
        raise UserError(f"--max-fun must be at least 1, got {args.max_fun}")
    if not 0 <= args.test_size < 1:
        raise UserError(f"--test-size must be in [0, 1), got {args.test_size}")
    if args.lam < 0:
        raise UserError(f"--lam must be >= 0, got {args.lam}")
    args.sweep_lams = None if args.lambdas is None else parse_lambdas(args.lambdas)
    if args.backend != "auto":
        from ..backends import backend_status

        status = backend_status()
        if args.backend not in status:
            raise UserError(f"unknown backend {args.backend!r}; known: "
                            + ", ".join(["auto", *status]))
        ok, why = status[args.backend]
        if not ok:
            raise UserError(f"backend {args.backend!r} is not available here: {why}")


def run(args):
    from .. import evaluation, plots
    from ..backends import get_backend
    from ..persistence import save_model
    from ..training import train

    _check_args(args)
    say = (lambda *a: None) if args.quiet else print
    t_start = time.perf_counter()
    X, y, description, names = load_data(args.data)
    n_classes = int(y.max()) + 1
    sizes = [X.shape[1], *args.hidden, n_classes]
    if args.test_size > 0:
        from sklearn.model_selection import train_test_split

        counts = np.bincount(y, minlength=n_classes)
        stratify = y if counts[counts > 0].min() >= 2 else None
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=args.test_size,
                                                  random_state=args.seed, stratify=stratify)
    else:
        X_tr, y_tr, X_te, y_te = X, y, None, None
    if args.early_stopping and X_te is None:
        from ..cli import UserError

        raise UserError("--early-stopping needs held-out data: use --test-size > 0")
    # The held-out split only watches training; weights chosen on it would make its
    # accuracy optimistic, so early stopping chooses on a slice of the training part.
    X_fit, y_fit, X_val, y_val = X_tr, y_tr, X_te, y_te
    if args.early_stopping:
        X_fit, X_val, y_fit, y_val = train_test_split(X_tr, y_tr, test_size=0.1,
                                                      random_state=args.seed)
    backend_name = get_backend(args.backend).name
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    say(f"data: {description}; training on {X_tr.shape[0]}, testing on "
        f"{0 if X_te is None else X_te.shape[0]}")
    say(f"network {' -> '.join(map(str, sizes))}, lambda {args.lam:g}, {args.method}, "
        f"backend {backend_name}")

    table = None
    if args.compare:
        say("timing cost+gradient of every available backend...")
        rows = evaluation.compare_backends(X_tr, y_tr, sizes, lam=args.lam, loss=args.loss,
                                           n_threads=args.threads, dtype=args.dtype)
        table = evaluation.format_backend_table(rows)
        say(table)

    result = train(X_fit, y_fit, sizes, lam=args.lam, loss=args.loss, method=args.method,
                   max_iter=args.max_iter, max_fun=args.max_fun,
                   learning_rate=args.learning_rate, batch_size=args.batch_size,
                   random_state=args.seed, backend=args.backend, n_threads=args.threads,
                   dtype=args.dtype, validation=None if X_val is None else (X_val, y_val),
                   early_stopping=args.early_stopping, patience=args.patience,
                   progress=None if args.quiet and args.progress is None else args.progress)
    theta = result.best_theta if args.early_stopping else result.theta
    curve = None
    if args.sweep_lams:
        curve = _sweep(args, sizes, X_tr, y_tr, X_te, y_te, say)
    from ..api import predict

    target_names = None if names is None else [str(names[k]) for k in range(n_classes)]
    labels = np.arange(n_classes)
    train_eval = evaluation.evaluate(y_tr, predict(theta, X_tr, sizes, backend=args.backend),
                                     labels=labels, target_names=target_names)
    test_eval = None
    if X_te is not None:
        test_eval = evaluation.evaluate(y_te, predict(theta, X_te, sizes, backend=args.backend),
                                        labels=labels, target_names=target_names)

    import dataclasses

    # with early stopping the saved weights are the best ones, which were evaluated
    model_path = save_model(dataclasses.replace(result, theta=theta), out / "model.npz",
                            extra={"data": description, "digit_names": target_names,
                                   "train_accuracy": train_eval.accuracy,
                                   "test_accuracy": None if test_eval is None else test_eval.accuracy,
                                   "early_stopping_best": bool(args.early_stopping)})
    written = [model_path]

    if not args.no_plots:
        display_labels = target_names or [str(k) for k in labels]
        written.append(plots.save_figure(plots.plot_digits(
            X, n=100, random_state=args.seed, title="100 random examples"), out / "digits.png"))
        if len(sizes) > 2:
            written.append(plots.save_figure(plots.plot_hidden_units(theta, sizes),
                                             out / "hidden_units.png"))
        written.append(plots.save_figure(plots.plot_cost_curve(result), out / "cost_curve.png"))
        cm = (test_eval or train_eval).confusion
        written.append(plots.save_figure(plots.plot_confusion_matrix(
            cm, display_labels, title="confusion matrix ("
            + ("held-out data" if test_eval else "training data") + ")"),
            out / "confusion_matrix.png"))
        if curve is not None:
            written.append(plots.save_figure(plots.plot_validation_curve(curve),
                                             out / "lambda_sweep.png"))

    report = _report(args, description, sizes, X_tr, X_te, backend_name, result, train_eval,
                     test_eval, table, written, time.perf_counter() - t_start, curve)
    report_path = out / "report.txt"
    report_path.write_text(report)
    written.insert(1, report_path)
    if not args.quiet:
        print()
        print(result.summary())
        print(f"training accuracy {100 * train_eval.accuracy:.2f}%"
              + (f", held-out accuracy {100 * test_eval.accuracy:.2f}%" if test_eval else ""))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _sweep(args, sizes, X_tr, y_tr, X_te, y_te, say):
    """``nnfast.validation_curve`` over ``args.sweep_lams``, one λ at a time for progress.

    Each call gets the previous fit's weights as ``theta0``, which is exactly
    the warm start of a single call with every λ; the parts are joined into
    one :class:`~nnfast.training.ValidationCurve`.
    """
    from ..training import ValidationCurve, validation_curve

    lams = args.sweep_lams
    validation = None if X_te is None else (X_te, y_te)
    say(f"lambda sweep over {', '.join(f'{v:g}' for v in lams)} on the training part "
        + ("(accuracy and cost also on the held-out split)" if validation else
           "(no held-out data: --test-size 0)"))
    parts, theta0 = [], None
    for i, lam in enumerate(lams, 1):
        say(f"lambda sweep {i}/{len(lams)}: lambda {lam:g}"
            + (", warm-started from lambda " + f"{lams[i - 2]:g}" if theta0 is not None else ""))
        part = validation_curve(
            X_tr, y_tr, sizes, lams=[lam], validation=validation, theta0=theta0,
            loss=args.loss, method=args.method, max_iter=args.max_iter, max_fun=args.max_fun,
            learning_rate=args.learning_rate, batch_size=args.batch_size,
            random_state=args.seed, backend=args.backend, n_threads=args.threads,
            dtype=args.dtype,
            progress=None if args.quiet and args.progress is None else args.progress)
        res = part.results[0]
        theta0 = res.theta
        say(f"  training accuracy {100 * part.train_accuracy[0]:.2f}%"
            + (f", held-out accuracy {100 * part.val_accuracy[0]:.2f}%" if validation else "")
            + f", {res.n_iter} iterations, {res.wall_time:.1f} s")
        parts.append(part)
    return ValidationCurve(
        lams=np.concatenate([p.lams for p in parts]),
        train_accuracy=np.concatenate([p.train_accuracy for p in parts]),
        val_accuracy=np.concatenate([p.val_accuracy for p in parts]),
        train_cost=np.concatenate([p.train_cost for p in parts]),
        val_cost=np.concatenate([p.val_cost for p in parts]),
        objective=np.concatenate([p.objective for p in parts]),
        results=[r for p in parts for r in p.results])


def _report(args, description, sizes, X_tr, X_te, backend_name, result, train_eval, test_eval,
            table, written, elapsed, curve=None):
    from .. import __version__

    lines = [
        f"nnfast {__version__} training report",
        "=" * 40,
        f"data: {description}",
        f"split: {X_tr.shape[0]} training, {0 if X_te is None else X_te.shape[0]} held out "
        f"(seed {args.seed})",
        f"network: {' -> '.join(map(str, sizes))} sigmoid units, loss {args.loss}, "
        f"lambda {args.lam:g}",
        f"optimiser: {result.method}, max_iter {args.max_iter}"
        + (f", max_fun {args.max_fun}" if args.max_fun else "")
        + f", backend {backend_name}, dtype {result.dtype}",
        "",
    ]
    if table is not None:
        lines += ["backend comparison (one cost+gradient evaluation on the training data)",
                  table, ""]
    lines += ["training", "--------", result.summary(), "",
              f"training accuracy: {100 * train_eval.accuracy:.2f}%"]
    if test_eval is not None:
        lines += [f"held-out accuracy: {100 * test_eval.accuracy:.2f}%", "",
                  "held-out data: per-class precision, recall and F1", str(test_eval)]
    else:
        lines += ["", "training data: per-class precision, recall and F1", str(train_eval)]
    if curve is not None:
        held_out = X_te is not None
        lines += ["", "lambda sweep", "------------",
                  f"one fit per lambda on the {X_tr.shape[0]} training examples, in the order "
                  "given, each warm-started from the previous fit; "
                  f"{result.method}, max_iter {args.max_iter}, no early stopping",
                  "val = the held-out split" if held_out else
                  "no held-out data (--test-size 0): the val columns are nan",
                  "train/val cost: unregularised; objective: the regularised cost minimised",
                  curve.table(),
                  f"best lambda by {'held-out' if held_out else 'training'} accuracy: "
                  f"{curve.best_lam:g}"]
    lines += ["", "files: " + ", ".join(Path(p).name for p in written) + ", report.txt",
              f"total time: {elapsed:.1f} s", ""]
    return "\n".join(lines)
