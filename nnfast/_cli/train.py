"""``nnfast train``: train a network, optionally compare backends, write model, report, plots."""

from __future__ import annotations

import argparse
import hashlib
import os
import time
import zipfile
from pathlib import Path

import numpy as np

from ..cli import (UserError, data_hint, non_negative_float, non_negative_int, positive_float,
                   positive_int)
from .._activations import check_activations
from .network import add_network_arguments, network_of

NAMED_DATA = ("auto", "ex4", "mnist", "digits")

DATA_HELP = ("data set: 'auto' (ex4data1.mat when it can be found, else scikit-learn's digits), "
             "'ex4', 'mnist' (MNIST t10k), 'digits', or a file: a .mat with X and y (ex4 "
             "layout, labels 1..10), a .npz with arrays X and y, or a .csv whose last column "
             "is the label")

#: fraction of the training part that early stopping and the lambda sweep choose on
VALIDATION_FRACTION = 0.1
#: the optimisers that take a step size / mini-batches / an evaluation cap
STEP_METHODS = ("gd", "sgd", "adam")
MINIBATCH_METHODS = ("sgd", "adam")
SCIPY_METHODS = ("L-BFGS-B", "TNC", "CG")


def load_data(spec, option="--data", regression=False):
    """``(X, y, description, digit_names)`` for a data argument (see ``DATA_HELP``).

    ``digit_names`` gives the name shown for each class index (ex4: index 9 is
    the digit 0), or None.  Every problem with the data is a one-line
    :class:`~nnfast.cli.UserError` that names ``option``.  ``regression``
    accepts real-valued targets from a file (the named data sets keep their
    labels, which a regression network takes as numbers).
    """
    from .. import datasets

    if spec in NAMED_DATA:
        try:
            X, y, description = datasets.load(spec)
        except datasets.DataNotFoundError as exc:
            raise UserError(f"{option} {spec}: {data_hint(exc, option)}") from None
        ex4 = description.startswith("ex4")
        return X, y, description, (list(datasets.EX4_DIGITS) if ex4 else None)
    path = Path(spec)
    if path.is_dir():
        raise UserError(f"{option} {spec} is a folder; expected one of {', '.join(NAMED_DATA)} "
                        "or a .mat, .npz or .csv file")
    if not path.exists():
        raise UserError(f"{option} {spec!r} is neither {', '.join(map(repr, NAMED_DATA))} "
                        "nor an existing file")
    suffix = path.suffix.lower()
    if suffix == ".mat":
        X, y = datasets.load_ex4_data(path)
        return X, y, f"{path} (ex4 layout; class 9 is the digit 0)", list(datasets.EX4_DIGITS)
    if suffix == ".npz":
        X, y = _read_npz(path, option)
    elif suffix == ".csv":
        try:
            table = np.loadtxt(path, delimiter=",", ndmin=2)
        except ValueError as exc:
            raise UserError(f"{option} {path}: not a table of numbers separated by commas "
                            f"({' '.join(str(exc).split())})") from None
        X, y = table[:, :-1], table[:, -1]
    else:
        raise UserError(f"{option} {path}: cannot read {suffix or 'a file without suffix'}; "
                        "use a .mat, .npz or .csv file")
    return _check_arrays(path, X, y, option, regression)


def _read_npz(path, option):
    """Arrays X and y of an .npz, with one-line errors for anything else."""
    if not zipfile.is_zipfile(path):
        raise UserError(f"{option} {path} is not an .npz archive (numpy.savez writes one)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "X" not in archive.files or "y" not in archive.files:
                raise UserError(f"{option} {path} must hold arrays named X and y, it has "
                                f"{archive.files}")
            return archive["X"], archive["y"]
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        # object arrays (pickle) and damaged members
        raise UserError(f"{option} {path}: unreadable arrays X and y: expected numeric arrays "
                        f"saved without pickle ({type(exc).__name__})") from None


def _check_arrays(path, X, y, option, regression=False):
    X = np.asarray(X)
    y = np.asarray(y)
    if X.dtype.kind not in "iubf":
        raise UserError(f"{option} {path}: X must hold numbers, it holds {X.dtype}")
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise UserError(f"{option} {path}: X must be a non-empty 2-d array (examples x "
                        f"features), it has shape {X.shape}")
    if X.dtype.kind in "iub":
        X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        raise UserError(f"{option} {path}: X contains NaN or inf")
    y = y.reshape(-1)
    if y.shape[0] != X.shape[0]:
        raise UserError(f"{option} {path}: X has {X.shape[0]} examples but y has "
                        f"{y.shape[0]} labels")
    if regression:
        if y.dtype.kind not in "iubf" or not np.all(np.isfinite(y)):
            raise UserError(f"{option} {path}: regression targets must be finite numbers")
        return X, y.astype(np.float64), f"{path} ({X.shape[0]} examples, {X.shape[1]} " \
            "features, real-valued targets)", None
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise UserError(f"{option} {path}: labels must be whole numbers")
        y = y.astype(np.int64)
    if y.dtype.kind not in "iu" or y.min() < 0:
        raise UserError(f"{option} {path}: labels must be class indices 0, 1, 2, ...")
    return X, y, f"{path} ({X.shape[0]} examples, {X.shape[1]} features)", None


def data_checksum(X, y) -> str:
    """SHA-256 of the data as trained on (float64 X, int64 labels or float64 regression
    targets y, and their shapes)."""
    digest = hashlib.sha256(repr((X.shape, y.shape)).encode())
    digest.update(np.ascontiguousarray(X, dtype=np.float64).tobytes())
    digest.update(np.ascontiguousarray(y, dtype=np.float64 if y.dtype.kind == "f"
                                       else np.int64).tobytes())
    return digest.hexdigest()


def indices_checksum(indices) -> str:
    """SHA-256 of a set of row indices (order does not matter)."""
    return hashlib.sha256(np.sort(np.asarray(indices, dtype=np.int64)).tobytes()).hexdigest()


def split_indices(y, test_size, seed):
    """``(train_rows, held_out_rows)``: the split ``nnfast train`` makes (stratified when it can).

    ``nnfast evaluate`` calls this again with the saved seed and fraction to
    find the rows the model never saw.
    """
    rows = np.arange(y.shape[0])
    if test_size == 0:
        return rows, rows[:0]
    from sklearn.model_selection import train_test_split

    stratify = None
    if y.dtype.kind != "f":  # real-valued regression targets have no classes to stratify by
        counts = np.bincount(y)
        stratify = y if counts[counts > 0].min() >= 2 else None
    return tuple(train_test_split(rows, test_size=test_size, random_state=seed,
                                  stratify=stratify))


def split_record(spec, X, y, test_size, seed, held_out) -> dict:
    """What a saved model remembers of its data and split (``extra["split"]``)."""
    source = spec if spec in NAMED_DATA else str(Path(spec).resolve())
    return {"data": source, "data_sha256": data_checksum(X, y), "n_examples": int(X.shape[0]),
            "test_size": float(test_size), "seed": int(seed), "n_held_out": int(len(held_out)),
            "held_out_sha256": indices_checksum(held_out)}


def parse_hidden(text):
    try:
        sizes = [int(part) for part in str(text).split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"hidden layer sizes must be integers like 25 or 50,25, "
                                         f"got {text!r}") from None
    if not sizes:
        raise argparse.ArgumentTypeError(f"expected hidden layer sizes like 25 or 50,25, "
                                         f"got {text!r}")
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"hidden layer sizes must be positive, got {text!r}")
    return sizes


def fraction(text):
    """A number in [0, 1) (the held-out fraction)."""
    value = non_negative_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text!r}")
    return value


def seed(text):
    """A seed numpy accepts: an integer in [0, 2**32 - 1]."""
    value = non_negative_int(text)
    if value > 2**32 - 1:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**32 - 1], got {text!r}")
    return value


def parse_lambdas(text):
    """The λ values of ``--lambdas``: comma-separated, finite, >= 0, no repeats.

    Raises UserError (one line and exit code 2 from ``nnfast.cli.main``).
    """
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
    parser.description = (
        "Train a network (default: ex4's sigmoid units, 25 hidden, lambda 1, L-BFGS-B, 400 "
        "iterations; --activation and --output choose tanh/ReLU units, a softmax or a "
        "regression output) "
        "on a training split, evaluate it on the held-out split, and write to the output "
        "folder: model.npz (load with nnfast.load_model or 'nnfast evaluate', which scores the "
        "held-out split again), report.txt, "
        "and PNG pictures (sample digits, hidden units, cost curve, confusion matrix). "
        "With --compare, first time every available backend's cost+gradient on the training "
        "data and put the table in the report. With --lambdas, also train once per lambda "
        "(a lambda sweep) and add lambda_sweep.png and a table to the report.")
    parser.add_argument("--data", default="auto", help=DATA_HELP)
    parser.add_argument("--hidden", type=parse_hidden, default="25", metavar="N[,N...]",
                        help="hidden layer sizes, comma-separated")
    parser.add_argument("--lam", "--lambda", dest="lam", type=non_negative_float, default=1.0,
                        help="L2 regularisation strength lambda")
    parser.add_argument("--loss", choices=["cross_entropy", "squared_error"], default=None,
                        help="loss on the output units (default: the output layer's own: "
                             "cross_entropy, squared_error for identity)")
    parser.add_argument("--method", default="L-BFGS-B", choices=[*SCIPY_METHODS, *STEP_METHODS],
                        help="optimiser: scipy's L-BFGS-B, TNC or CG with the analytic gradient, "
                             "batch gradient descent (gd), mini-batch SGD with momentum, or Adam")
    parser.add_argument("--max-iter", type=positive_int, default=400,
                        help="iterations (optimiser iterations, gradient steps, or epochs for "
                             "sgd/adam)")
    parser.add_argument("--max-fun", type=positive_int, default=None,
                        help="cap on cost/gradient evaluations (TNC in the ex4 notebooks: 400)")
    parser.add_argument("--learning-rate", type=positive_float, default=None,
                        help="step size for gd/sgd/adam (default: per method)")
    parser.add_argument("--batch-size", type=positive_int, default=None,
                        help="mini-batch size for sgd/adam (default: 64)")
    parser.add_argument("--backend", default="auto",
                        help="cost/gradient backend: 'auto' or a name listed by 'nnfast info'")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="threads for the backend (default: all cores)")
    parser.add_argument("--dtype", choices=["float64", "float32"], default=None,
                        help="working dtype of the kernels (default: float64)")
    parser.add_argument("--test-size", type=fraction, default=0.25,
                        help="fraction of the data held out for testing (0 trains on all of it)")
    parser.add_argument("--seed", type=seed, default=0,
                        help="random seed for the split, the initial weights and mini-batches")
    parser.add_argument("--early-stopping", action="store_true",
                        help="hold out 10%% of the training part as a validation set; stop "
                             "when its cost has not improved for --patience iterations and "
                             "keep the best weights (the test split stays untouched)")
    parser.add_argument("--patience", type=positive_int, default=None,
                        help="iterations without improvement before --early-stopping stops "
                             "(default: 10)")
    parser.add_argument("--compare", action="store_true",
                        help="time every available backend's cost+gradient on the training "
                             "data before training; the table goes into the report")
    parser.add_argument("--lambdas", default=None, metavar="L1,L2,...",
                        help="also run a lambda sweep (e.g. 0,1,10,50): after the main fit, "
                             "train once per lambda on the training part less a 10%% validation "
                             "slice, in the order given, each fit warm-started from the previous "
                             "one, with the same method and --max-iter (no early stopping); the "
                             "best lambda is the one with the best validation accuracy; report "
                             "training, validation and held-out test accuracy and cost per lambda "
                             "in report.txt and draw lambda_sweep.png (accuracy against lambda "
                             "and the hidden units' weights for each lambda on one colour scale)")
    parser.add_argument("--out-dir", "-o", dest="output", default="nnfast-output",
                        help="folder for model.npz, report.txt and the PNG pictures (default: "
                             "nnfast-output)")
    add_network_arguments(parser, output_is_also_folder=True)
    parser.add_argument("--no-plots", action="store_true", help="do not write pictures")
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument("--progress", dest="progress", action="store_true", default=None,
                          help="always show a progress bar (default: only on a terminal)")
    progress.add_argument("--no-progress", dest="progress", action="store_false",
                          help="never show a progress bar")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="print only the paths written")


def check_output_folder(output, option="--output"):
    """A folder that can be written to, created if missing; UserError otherwise."""
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise UserError(f"{option} {output} is an existing file; expected a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{option} {output}: cannot create the folder ({exc.strerror})") from None
    if not os.access(out, os.W_OK):
        raise UserError(f"{option} {output}: the folder is not writable")
    return out


def _physical_memory():
    """Bytes of RAM, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_network_fits(sizes, m, option="--hidden"):
    """UserError when the network's arrays cannot fit in memory (before allocating any).

    Training holds a few copies of theta and the gradient (the optimiser's
    history is larger still) and one activation matrix per layer.
    """
    from .._network import n_params

    n = n_params(sizes)
    need = 8 * (10 * n + 3 * m * sum(sizes[1:]))
    have = _physical_memory()
    if have is not None and need > have:
        raise UserError(f"{option} {','.join(map(str, sizes[1:-1]))}: a {' -> '.join(map(str, sizes))} "
                        f"network has {n:,} weights and needs about {need / 2**30:,.0f} GiB; "
                        f"this machine has {have / 2**30:.0f} GiB")


def _check_args(args):
    if args.method not in STEP_METHODS and args.learning_rate is not None:
        raise UserError(f"--learning-rate applies to {', '.join(STEP_METHODS)}, not to "
                        f"--method {args.method}")
    if args.method not in MINIBATCH_METHODS and args.batch_size is not None:
        raise UserError(f"--batch-size applies to {', '.join(MINIBATCH_METHODS)}, not to "
                        f"--method {args.method}")
    if args.patience is not None and not args.early_stopping:
        raise UserError("--patience applies only with --early-stopping")
    if args.early_stopping and args.test_size == 0:
        raise UserError("--early-stopping needs held-out data: use --test-size > 0")
    args.sweep_lams = None if args.lambdas is None else parse_lambdas(args.lambdas)
    from .._activations import check_head

    args.network = network_of(args, len(args.hidden))
    args.loss = check_head(args.output_layer, args.loss)[1]  # a loss the output cannot take fails
    args.regression = args.output_layer == "identity"
    if args.backend != "auto":
        from ..backends import backend_status

        status = backend_status()
        if args.backend not in status:
            raise UserError(f"unknown backend {args.backend!r}; known: "
                            + ", ".join(["auto", *status]))
        ok, why = status[args.backend]
        if not ok:
            raise UserError(f"backend {args.backend!r} is not available here: {why}")
    data = Path(args.data)
    if args.data not in NAMED_DATA and data.exists() and data.resolve() == Path(
            args.output).resolve():
        raise UserError(f"--output {args.output} is the --data file")
    check_output_folder(args.output)


def _training_options(args):
    """keyword arguments of nnfast.train shared by the main fit and the sweep."""
    options = dict(loss=args.loss, activation=args.network[0], output=args.network[1],
                   method=args.method, max_iter=args.max_iter,
                   max_fun=args.max_fun, learning_rate=args.learning_rate,
                   random_state=args.seed, backend=args.backend, n_threads=args.threads,
                   dtype=args.dtype,
                   progress=None if args.quiet and args.progress is None else args.progress)
    if args.batch_size is not None:
        options["batch_size"] = args.batch_size
    return options


def _validation_slice(X_tr, y_tr, seed):
    """``(X_fit, X_val, y_fit, y_val)``: a slice of the training part to choose on."""
    from sklearn.model_selection import train_test_split

    return train_test_split(X_tr, y_tr, test_size=VALIDATION_FRACTION, random_state=seed)


def _monitored_set(args) -> str:
    """What the cost monitored during training is on: a validation slice of the training
    part with early stopping, the held-out test split otherwise."""
    return "validation" if args.early_stopping else "held-out test"


def run(args):
    from ..backends import get_backend
    from ..training import train

    _check_args(args)
    say = (lambda *a: None) if args.quiet else print
    t_start = time.perf_counter()
    X, y, description, names = load_data(args.data, regression=args.regression)
    # a regression network has one output, the target itself (for the named data sets
    # the class label taken as a number)
    n_out = 1 if args.regression else int(y.max()) + 1
    sizes = [X.shape[1], *args.hidden, n_out]
    check_network_fits(sizes, X.shape[0])
    train_rows, held_out_rows = split_indices(y, args.test_size, args.seed)
    X_tr, y_tr = X[train_rows], y[train_rows]
    X_te, y_te = (X[held_out_rows], y[held_out_rows]) if held_out_rows.size else (None, None)
    # The held-out split only watches training; weights chosen on it would make its
    # accuracy optimistic, so early stopping chooses on a slice of the training part.
    X_fit, y_fit, X_val, y_val = X_tr, y_tr, X_te, y_te
    if args.early_stopping:
        X_fit, X_val, y_fit, y_val = _validation_slice(X_tr, y_tr, args.seed)
    activation, output = args.network
    backend_name = get_backend(args.backend, check_activations(activation, len(sizes) - 2),
                               output).name
    out = Path(args.output)
    say(f"data: {description}; training on {X_tr.shape[0]}, testing on "
        f"{0 if X_te is None else X_te.shape[0]}")
    say(f"network {' -> '.join(map(str, sizes))} ({_network_label(args, sizes)}), lambda "
        f"{args.lam:g}, {args.method}, backend {backend_name}")

    table = None
    if args.compare:
        from .. import evaluation

        say("timing cost+gradient of every available backend...")
        rows = evaluation.compare_backends(X_tr, y_tr, sizes, lam=args.lam, loss=args.loss,
                                           n_threads=args.threads, dtype=args.dtype,
                                           activation=activation, output=output)
        table = evaluation.format_backend_table(rows)
        say(table)

    result = train(X_fit, y_fit, sizes, lam=args.lam,
                   validation=None if X_val is None else (X_val, y_val),
                   early_stopping=args.early_stopping,
                   **(dict(patience=args.patience) if args.patience is not None else {}),
                   **_training_options(args))
    theta = result.best_theta if args.early_stopping else result.theta
    sweep = None
    if args.sweep_lams:
        sweep = _sweep(args, sizes, X_tr, y_tr, X_te, y_te, say)
    trained = dict(theta=theta, sizes=sizes, backend=args.backend, activation=activation,
                   output=output)
    score = _score_regression if args.regression else _score_classes
    train_eval, test_eval, scores, target_names = score(trained, X_tr, y_tr, X_te, y_te, names)

    import dataclasses

    from ..persistence import save_model

    # with early stopping the saved weights are the best ones, which were evaluated
    model_path = save_model(dataclasses.replace(result, theta=theta), out / "model.npz",
                            extra={"data": description, "digit_names": target_names, **scores,
                                   "early_stopping_best": bool(args.early_stopping),
                                   "split": split_record(args.data, X, y, args.test_size,
                                                         args.seed, held_out_rows)})
    written = [model_path]
    if not args.no_plots:
        written += _plots(args, result, trained, out, X_tr, y_tr, X_te, y_te, train_eval,
                          test_eval, target_names, sweep)

    wall_time = time.perf_counter() - t_start
    report = _report(args, description, sizes, X_tr, X_te, backend_name, result, train_eval,
                     test_eval, table, written, wall_time, sweep)
    report_path = out / "report.txt"
    report_path.write_text(report)
    written.insert(1, report_path)
    if not args.quiet:
        print()
        print(result.summary(val_label=_monitored_set(args)))   # has the training accuracy
        if test_eval:
            print(f"held-out {_headline(test_eval)}")
    print("wrote " + ", ".join(str(p) for p in written))
    # data, comparison, training, evaluation and pictures (what report.txt also states)
    print(f"total wall time {wall_time:.1f} s")
    return 0


def _network_label(args, sizes) -> str:
    """``"relu / softmax + cross_entropy"``: the hidden units and the head, for the messages."""
    from .._activations import describe

    activation, output = args.network
    return describe(check_activations(activation, len(sizes) - 2), output, args.loss)


def _predict(trained, X):
    """The trained network's class indices for the rows ``X`` (values, for regression)."""
    from ..api import predict, predict_proba

    net = dict(backend=trained["backend"], activation=trained["activation"],
               output=trained["output"])
    if trained["output"] == "identity":
        return predict_proba(trained["theta"], X, trained["sizes"], **net)[:, 0]
    return predict(trained["theta"], X, trained["sizes"], **net)


def _score_classes(trained, X_tr, y_tr, X_te, y_te, names):
    """``(train_eval, test_eval or None, saved scores, class names)`` of a classifier."""
    from .. import evaluation

    n_classes = trained["sizes"][-1]
    target_names = None if names is None else [str(names[k]) for k in range(n_classes)]
    labels = np.arange(n_classes)
    train_eval = evaluation.evaluate(y_tr, _predict(trained, X_tr), labels=labels,
                                     target_names=target_names)
    test_eval = None
    if X_te is not None:
        test_eval = evaluation.evaluate(y_te, _predict(trained, X_te), labels=labels,
                                        target_names=target_names)
    scores = {"train_accuracy": train_eval.accuracy,
              "test_accuracy": None if test_eval is None else test_eval.accuracy}
    return train_eval, test_eval, scores, target_names


def _score_regression(trained, X_tr, y_tr, X_te, y_te, names):
    """``(train_eval, test_eval or None, saved scores, None)`` of a regression network:
    RMSE and R², no classes."""
    from .. import evaluation

    train_eval = evaluation.regression_scores(y_tr, _predict(trained, X_tr))
    test_eval = None
    if X_te is not None:
        test_eval = evaluation.regression_scores(y_te, _predict(trained, X_te))
    scores = {"train_rmse": train_eval.rmse, "train_r2": train_eval.r2,
              "test_rmse": None if test_eval is None else test_eval.rmse,
              "test_r2": None if test_eval is None else test_eval.r2}
    return train_eval, test_eval, scores, None


def _headline(evaluation_result, colon="") -> str:
    """``"accuracy 97.50%"`` (``colon=":"``: ``"accuracy: 97.50%"``), or
    ``"RMSE 0.8, R^2 0.41"`` for regression."""
    if hasattr(evaluation_result, "rmse"):
        return f"RMSE{colon} {evaluation_result.rmse:.6g}, R^2 {evaluation_result.r2:.4f}"
    return f"accuracy{colon} {100 * evaluation_result.accuracy:.2f}%"


def _plots(args, result, trained, out, X_tr, y_tr, X_te, y_te, train_eval, test_eval,
           target_names, sweep):
    """The pictures written; a regression network has no classes to draw (no digits with
    predicted labels, no confusion matrix, no accuracy sweep)."""
    from .. import plots

    theta, sizes = trained["theta"], trained["sizes"]
    written = []
    display_labels = target_names or [str(k) for k in range(sizes[-1])]
    if not args.regression:
        # held-out examples with what the network says of them (mistakes framed in red);
        # the training rows when nothing was held out
        X_show, y_show = (X_te, y_te) if X_te is not None else (X_tr, y_tr)
        written.append(plots.save_figure(plots.plot_digits(
            X_show, n=100, labels=y_show, predictions=_predict(trained, X_show),
            class_names=display_labels, random_state=args.seed,
            title="100 " + ("held-out" if X_te is not None else "training")
            + " examples: true label, predicted in red where wrong"), out / "digits.png"))
    if len(sizes) > 2:
        written.append(plots.save_figure(plots.plot_hidden_units(theta, sizes),
                                         out / "hidden_units.png"))
    # without early stopping the monitored set is the held-out test split
    cost_fig = plots.plot_cost_curve(result, val_label=_monitored_set(args))
    written.append(plots.save_figure(cost_fig, out / "cost_curve.png"))
    if not args.regression:
        cm = (test_eval or train_eval).confusion
        written.append(plots.save_figure(plots.plot_confusion_matrix(
            cm, display_labels, title="confusion matrix ("
            + ("held-out data" if test_eval else "training data") + ")"),
            out / "confusion_matrix.png"))
        if sweep is not None:
            written.append(plots.save_figure(plots.plot_validation_curve(sweep[0]),
                                             out / "lambda_sweep.png"))
    return written


def _sweep(args, sizes, X_tr, y_tr, X_te, y_te, say):
    """The λ sweep: ``(curve, test_accuracy, test_cost, n_fit)``.

    ``nnfast.validation_curve`` over ``args.sweep_lams``, one λ at a time for
    progress, on the training part less a validation slice; ``curve.best_lam``
    is chosen on that slice.  The held-out test split is only scored
    (``test_accuracy``, ``test_cost``: NaN without one), so its figures stay
    honest.  Each call gets the previous fit's weights as ``theta0``, which
    is exactly the warm start of a single call with every λ; the parts are
    joined into one :class:`~nnfast.training.ValidationCurve`.
    """
    from ..api import cost
    from ..training import ValidationCurve, validation_curve

    lams = args.sweep_lams
    X_fit, X_val, y_fit, y_val = _validation_slice(X_tr, y_tr, args.seed)
    say(f"lambda sweep over {', '.join(f'{v:g}' for v in lams)} on {X_fit.shape[0]} training "
        f"examples, choosing on a validation slice of {X_val.shape[0]}"
        + (" (accuracy and cost also on the held-out split)" if X_te is not None else ""))
    parts, theta0, test_accuracy, test_cost = [], None, [], []
    for i, lam in enumerate(lams, 1):
        say(f"lambda sweep {i}/{len(lams)}: lambda {lam:g}"
            + (", warm-started from lambda " + f"{lams[i - 2]:g}" if theta0 is not None else ""))
        part = validation_curve(X_fit, y_fit, sizes, lams=[lam], validation=(X_val, y_val),
                                theta0=theta0, **_training_options(args))
        res = part.results[0]
        theta0 = res.theta
        activation, output = args.network
        trained = dict(theta=res.theta, sizes=sizes, backend=args.backend,
                       activation=activation, output=output)
        # a regression network has no accuracy: the costs tell the lambdas apart
        test_accuracy.append(np.nan if X_te is None or args.regression else
                             float(np.mean(_predict(trained, X_te) == y_te)))
        test_cost.append(np.nan if X_te is None else float(cost(
            res.theta, X_te, y_te, sizes, lam=0.0, loss=args.loss, backend=args.backend,
            activation=activation, output=output)))
        if args.regression:
            say(f"  training cost {part.train_cost[0]:.6g}, validation cost "
                f"{part.val_cost[0]:.6g}"
                + (f", held-out cost {test_cost[-1]:.6g}" if X_te is not None else "")
                + f", {res.n_iter} iterations, {res.wall_time:.1f} s")
        else:
            say(f"  training accuracy {100 * part.train_accuracy[0]:.2f}%, validation accuracy "
                f"{100 * part.val_accuracy[0]:.2f}%"
                + (f", held-out accuracy {100 * test_accuracy[-1]:.2f}%" if X_te is not None
                   else "")
                + f", {res.n_iter} iterations, {res.wall_time:.1f} s")
        parts.append(part)
    curve = ValidationCurve(
        lams=np.concatenate([p.lams for p in parts]),
        train_accuracy=np.concatenate([p.train_accuracy for p in parts]),
        val_accuracy=np.concatenate([p.val_accuracy for p in parts]),
        train_cost=np.concatenate([p.train_cost for p in parts]),
        val_cost=np.concatenate([p.val_cost for p in parts]),
        objective=np.concatenate([p.objective for p in parts]),
        results=[r for p in parts for r in p.results])
    return curve, np.array(test_accuracy), np.array(test_cost), X_fit.shape[0]


def _sweep_table(curve, test_accuracy, test_cost):
    """``curve.table()`` with the held-out test accuracy and cost added to each row."""
    lines = curve.table().splitlines()
    rows = [f"{lines[0]} {'test acc':>10} {'test cost':>10}"]
    for line, acc, J in zip(lines[1:], test_accuracy, test_cost):
        rows.append(f"{line} {100 * acc:>9.2f}% {J:>10.5f}")
    return "\n".join(rows)


def _report(args, description, sizes, X_tr, X_te, backend_name, result, train_eval, test_eval,
            table, written, elapsed, sweep=None):
    from .. import __version__

    lines = [
        f"nnfast {__version__} training report",
        "=" * 40,
        f"data: {description}",
        f"split: {X_tr.shape[0]} training, {0 if X_te is None else X_te.shape[0]} held out "
        f"(seed {args.seed})",
        f"network: {' -> '.join(map(str, sizes))}, {_network_label(args, sizes)}, "
        f"lambda {args.lam:g}",
        f"optimiser: {result.method}, max_iter {args.max_iter}"
        + (f", max_fun {args.max_fun}" if args.max_fun else "")
        + f", backend {backend_name}, dtype {result.dtype}",
        "",
    ]
    if table is not None:
        lines += ["backend comparison (one cost+gradient evaluation on the training data)",
                  table, ""]
    # the summary has the training accuracy
    lines += ["training", "--------", result.summary(val_label=_monitored_set(args)), ""]
    if args.regression:
        lines += ["training data (regression): " + str(train_eval)]
        if test_eval is not None:
            lines += [f"held-out {_headline(test_eval, ':')}"]
    elif test_eval is not None:
        lines += [f"held-out {_headline(test_eval, ':')}", "",
                  "held-out data: per-class precision, recall and F1", str(test_eval)]
    else:
        lines += ["", "training data: per-class precision, recall and F1", str(train_eval)]
    if sweep is not None:
        curve, test_accuracy, test_cost, n_fit = sweep
        lines += ["", "lambda sweep", "------------",
                  f"one fit per lambda on {n_fit} of the {X_tr.shape[0]} training examples, in "
                  "the order given, each warm-started from the previous fit; "
                  f"{result.method}, max_iter {args.max_iter}, no early stopping",
                  f"val = a validation slice of {X_tr.shape[0] - n_fit} training examples (the "
                  "best lambda is chosen on it); test = the held-out split"
                  + (" (none: --test-size 0, the test columns are nan)" if X_te is None else
                     ", scored only"),
                  "train/val/test cost: unregularised; objective: the regularised cost minimised",
                  _sweep_table(curve, test_accuracy, test_cost),
                  f"best lambda by validation "
                  f"{'cost' if args.regression else 'accuracy'}: {curve.best_lam:g}"]
    lines += ["", "files: " + ", ".join(Path(p).name for p in written) + ", report.txt",
              f"total time: {elapsed:.1f} s", ""]
    return "\n".join(lines)
