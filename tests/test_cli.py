"""``nnfast train`` and ``nnfast evaluate`` end to end, in-process and as a console script."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nnfast import load_model
from nnfast.cli import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    rc = main(["train", "--data", "digits", "--max-iter", "30", "--hidden", "12",
               "--backend", "numpy", "--threads", "1", "--compare", "--output", str(out),
               "--no-progress", "--quiet"])
    assert rc == 0
    return out


def test_train_writes_model_report_and_pictures(trained):
    for name in ("model.npz", "report.txt", "digits.png", "hidden_units.png", "cost_curve.png",
                 "confusion_matrix.png"):
        assert (trained / name).is_file(), name
        assert (trained / name).stat().st_size > 500
    report = (trained / "report.txt").read_text()
    assert "scikit-learn digits" in report
    assert "64 -> 12 -> 10" in report
    assert "backend comparison" in report and "median ms" in report and "numpy" in report
    assert "held-out accuracy:" in report and "precision" in report
    assert "stopped: max_iter=30 iterations done" in report
    model = load_model(trained / "model.npz")
    assert model.layer_sizes_ == (64, 12, 10)
    assert model.metadata_["extra"]["test_accuracy"] > 0.85


def test_evaluate_a_saved_model(trained, capsys, tmp_path):
    rc = main(["evaluate", str(trained), "--data", "digits", "--backend", "numpy", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    # the held-out split again (450 of 1797 digits), not the rows the model trained on
    assert out["n"] == 450 and out["accuracy"] > 0.85
    assert "held-out" in out["scored"]
    assert np.array(out["confusion"]).sum() == 450
    rc = main(["evaluate", str(trained / "model.npz"), "--data", "digits", "--output",
               str(tmp_path)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "accuracy:" in text and "confusion matrix" in text
    assert (tmp_path / "report.txt").is_file() and (tmp_path / "confusion_matrix.png").is_file()


def test_train_on_a_npz_file_with_sgd(tmp_path, digits):
    X, y = digits
    data = tmp_path / "d.npz"
    np.savez(data, X=X[:400], y=y[:400])
    rc = main(["train", "--data", str(data), "--method", "sgd", "--max-iter", "5",
               "--backend", "numpy", "--no-plots", "-o", str(tmp_path / "o"), "-q",
               "--test-size", "0"])
    assert rc == 0
    assert (tmp_path / "o" / "model.npz").is_file()
    assert not (tmp_path / "o" / "digits.png").exists()
    assert "training data: per-class" in (tmp_path / "o" / "report.txt").read_text()


@pytest.mark.parametrize("argv,message", [
    (["train", "--backend", "nope"], "unknown backend 'nope'"),
    (["train", "--data", "/no/such/file.npz"], "neither"),
    (["train", "--max-iter", "0"], "argument --max-iter: expected an integer >= 1, got '0'"),
    (["train", "--test-size", "1.5"], "argument --test-size: expected a fraction in [0, 1)"),
    (["evaluate", "/no/such/model.npz"], "does not exist"),
    (["train", "--lambdas", "0,abc"], "--lambdas values must be numbers like 0,1,10,50, got 'abc'"),
    (["train", "--lambdas", "-1"], "--lambdas values must be finite and >= 0, got '-1'"),
    (["train", "--lambdas=0,-5"], "--lambdas values must be finite and >= 0, got '-5'"),
    (["train", "--lambdas", "0,nan"], "--lambdas values must be finite and >= 0, got 'nan'"),
    (["train", "--lambdas", "0,,1"], "--lambdas has an empty value in '0,,1'"),
    (["train", "--lambdas", ""], "--lambdas needs comma-separated values"),
    (["train", "--lambdas", "1,10,1.0"], "--lambdas lists '1.0' twice"),
])
def test_errors_are_one_line_and_exit_2(argv, message, capsys, tmp_path):
    rc = main(argv + ["-o", str(tmp_path)] if argv[0] == "train" else argv)
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_evaluate_rejects_data_of_the_wrong_width(trained, capsys, tmp_path):
    data = tmp_path / "wide.npz"
    np.savez(data, X=np.zeros((5, 10)), y=np.zeros(5, dtype=int))
    assert main(["evaluate", str(trained), "--data", str(data)]) == 2
    assert "takes 64 inputs per example" in capsys.readouterr().err


def test_help_texts_are_complete():
    import argparse

    from nnfast.cli import build_parser

    for command in ("train", "evaluate"):
        parser = build_parser(load=command)
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        p = sub.choices[command]
        assert p.description and len(p.description) > 80
        for action in p._actions:
            assert action.help and len(action.help) > 10, (command, action.dest)
        proc = subprocess.run([sys.executable, "-m", "nnfast.cli", command, "--help"],
                              capture_output=True, text=True, check=True)
        assert proc.stdout.startswith(f"usage: nnfast {command}")
        if command == "train":
            assert "--compare" in proc.stdout and "(default: auto)" in proc.stdout
            assert "--lambdas L1,L2,..." in proc.stdout and "lambda_sweep.png" in proc.stdout


def test_early_stopping_chooses_on_a_validation_slice_not_the_test_split(tmp_path, monkeypatch):
    # The test split must not pick the weights whose accuracy it then reports.
    import nnfast.training

    seen = {}
    real_train = nnfast.training.train

    def spy(X, y, *args, validation=None, **kwargs):
        seen["n_fit"], seen["n_val"] = X.shape[0], validation[0].shape[0]
        return real_train(X, y, *args, validation=validation, **kwargs)

    monkeypatch.setattr(nnfast.training, "train", spy)
    rc = main(["train", "--data", "digits", "--max-iter", "20", "--early-stopping", "--no-plots",
               "--quiet", "--output", str(tmp_path)])
    assert rc == 0
    n_test = 450  # ceil(0.25 * 1797), scikit-learn's rounding
    assert seen["n_fit"] + seen["n_val"] == 1797 - n_test
    assert seen["n_val"] == 135  # ceil(0.1 * 1347)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """``nnfast train --lambdas 0,1,50`` on the digits, with every call of train recorded."""
    import contextlib
    import io

    import nnfast.training

    out = tmp_path_factory.mktemp("sweep")
    calls = []
    real_train = nnfast.training.train

    def spy(X, y, *args, lam=1.0, theta0=None, validation=None, **kwargs):
        result = real_train(X, y, *args, lam=lam, theta0=theta0, validation=validation, **kwargs)
        calls.append(dict(lam=lam, theta0=None if theta0 is None else np.array(theta0),
                          n_fit=X.shape[0], n_val=validation[0].shape[0], result=result))
        return result

    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(stdout):
        mp.setattr(nnfast.training, "train", spy)
        rc = main(["train", "--data", "digits", "--max-iter", "15", "--hidden", "12",
                   "--backend", "numpy", "--threads", "1", "--lambdas", "0, 1,50",
                   "--output", str(out), "--no-progress"])
    assert rc == 0
    return out, calls, stdout.getvalue()


def _sweep_rows(report):
    lines = report.splitlines()
    start = lines.index("lambda sweep")
    header = next(i for i in range(start, len(lines)) if lines[i].split()[:2] == ["lambda", "train"])
    rows = []
    for line in lines[header + 1:]:
        if not line.strip() or line.startswith("best lambda"):
            break
        rows.append(line.split())
    return lines[header].split(), rows, lines


def test_lambdas_writes_the_sweep_plot_and_a_report_row_per_lambda(swept):
    out, calls, _ = swept
    path = out / "lambda_sweep.png"
    assert path.is_file() and path.stat().st_size > 5000
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.txt").read_text()
    header, rows, lines = _sweep_rows(report)
    assert header[:1] == ["lambda"] and "val" in header and "test" in header
    assert [float(r[0]) for r in rows] == [0.0, 1.0, 50.0]
    sweep_results = [c["result"] for c in calls[1:]]
    for row, res in zip(rows, sweep_results):
        train_acc, val_acc = float(row[1].rstrip("%")), float(row[2].rstrip("%"))
        assert 0 < train_acc <= 100
        assert val_acc == pytest.approx(100 * res.val_accuracy_history[-1], abs=0.006)
        assert int(row[6]) == res.n_iter == 15
        assert float(row[5]) == pytest.approx(res.final_cost, abs=1e-5)  # the objective
    # a strong penalty costs accuracy: the table reflects the fits, not a copy of one
    assert float(rows[2][1].rstrip("%")) < float(rows[1][1].rstrip("%"))
    best = next(line for line in lines if line.startswith("best lambda by validation accuracy:"))
    assert float(best.split(":")[1]) in (0.0, 1.0, 50.0)
    assert "lambda_sweep.png" in report.split("files:")[1]


def test_lambdas_sweep_uses_the_same_split_and_warm_starts_in_order(swept):
    out, calls, stdout = swept
    assert len(calls) == 1 + 3  # the main fit, then one per λ
    main_fit, *sweep = calls
    assert main_fit["lam"] == 1.0
    assert [c["lam"] for c in sweep] == [0.0, 1.0, 50.0]
    # the main run: the training part, watched on the held-out split (1797 digits, 25%
    # held out); the sweep: the training part less a 10% validation slice it chooses on
    assert (main_fit["n_fit"], main_fit["n_val"]) == (1347, 450)
    assert {(c["n_fit"], c["n_val"]) for c in sweep} == {(1212, 135)}
    assert sweep[0]["theta0"] is None
    for previous, current in zip(sweep, sweep[1:]):
        np.testing.assert_array_equal(current["theta0"], previous["result"].theta)
    # progress, one line per λ
    for i, lam in enumerate(["0", "1", "50"], 1):
        assert f"lambda sweep {i}/3: lambda {lam}" in stdout
    assert stdout.count("held-out accuracy") >= 3


def test_lambdas_without_held_out_data_or_plots(tmp_path, digits):
    X, y = digits
    data = tmp_path / "d.npz"
    np.savez(data, X=X[:300], y=y[:300])
    rc = main(["train", "--data", str(data), "--max-iter", "5", "--hidden", "8",
               "--backend", "numpy", "--lambdas", "0,3", "--test-size", "0", "--no-plots",
               "-o", str(tmp_path / "o"), "-q"])
    assert rc == 0
    assert not (tmp_path / "o" / "lambda_sweep.png").exists()
    header, rows, lines = _sweep_rows((tmp_path / "o" / "report.txt").read_text())
    assert [float(r[0]) for r in rows] == [0.0, 3.0]
    assert all(r[7] == "nan%" for r in rows)  # no test split
    assert all(0 < float(r[2].rstrip("%")) <= 100 for r in rows)  # the validation slice
    assert any(line.startswith("best lambda by validation accuracy:") for line in lines)


def test_bad_lambdas_from_the_command_line_are_one_line_and_exit_2():
    # as a process, through python -m (where nnfast.cli is __main__), no traceback
    proc = subprocess.run([sys.executable, "-m", "nnfast.cli", "train", "--lambdas", "1,x"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == ("nnfast train: error: --lambdas values must be numbers like "
                           "0,1,10,50, got 'x'\n")


def test_python_dash_m_gives_the_same_one_line_errors():
    # `python -m nnfast.cli` runs cli.py as __main__: the subcommands' UserError must
    # still be caught (one line, exit code 2), not end in a traceback
    proc = subprocess.run([sys.executable, "-m", "nnfast.cli", "train", "--data", "digits",
                           "--max-iter", "0"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == ("nnfast train: error: argument --max-iter: expected an integer >= 1, "
                           "got '0' (run 'nnfast train --help' for the options)\n")


# --- evaluate scores the rows the model never saw --------------------------------------

def _evaluate_json(argv, capsys):
    assert main(["evaluate", *argv, "--backend", "numpy", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_evaluate_reproduces_the_held_out_accuracy_of_train(trained, capsys, digits):
    from nnfast._cli.train import split_indices

    model = load_model(trained / "model.npz")
    split = model.metadata_["extra"]["split"]
    assert split["data"] == "digits" and split["seed"] == 0 and split["test_size"] == 0.25
    out = _evaluate_json([str(trained)], capsys)  # no --data: the model's own data
    assert out["n"] == 450 == split["n_held_out"]
    assert out["accuracy"] == pytest.approx(model.metadata_["extra"]["test_accuracy"], abs=1e-12)
    assert out["scored"].startswith("the 450 held-out examples")
    # the very rows: the prediction on them, computed here from the split, agrees
    X, y = digits
    _, held_out = split_indices(y, 0.25, 0)
    assert np.mean(model.predict(X[held_out]) == y[held_out]) == out["accuracy"]

    everything = _evaluate_json([str(trained), "--rows", "all"], capsys)
    assert everything["n"] == 1797 and "including the 1347 the model was trained on" in \
        everything["scored"]
    training = _evaluate_json([str(trained), "--rows", "training"], capsys)
    assert training["n"] == 1347 and "not a held-out score" in training["scored"]
    assert training["accuracy"] == pytest.approx(model.metadata_["extra"]["train_accuracy"])


def test_evaluate_finds_the_same_data_by_checksum_and_says_when_data_differ(
        trained, capsys, tmp_path, digits):
    X, y = digits
    copy = tmp_path / "digits_copy.npz"
    np.savez(copy, X=X, y=y)
    out = _evaluate_json([str(trained), "--data", str(copy)], capsys)
    assert out["n"] == 450 and "(the same data as digits)" in out["scored"]

    other = tmp_path / "first300.npz"
    np.savez(other, X=X[:300], y=y[:300])
    out = _evaluate_json([str(trained), "--data", str(other)], capsys)
    assert out["n"] == 300 and "not the data the model was trained on (digits)" in out["scored"]
    assert main(["evaluate", str(trained), "--data", str(other), "--rows", "held-out"]) == 2
    assert "differ from the model's training data" in capsys.readouterr().err


def test_evaluate_a_model_without_a_split_record_says_so(tmp_path, capsys, digits):
    import nnfast

    X, y = digits
    res = nnfast.train(X[:300], y[:300], [64, 10], max_iter=5, random_state=0,
                       backend="numpy", n_threads=1, progress=False)
    path = nnfast.save_model(res, tmp_path / "api.npz")
    out = _evaluate_json([str(path), "--data", "digits"], capsys)
    assert out["n"] == 1797 and "does not say which data it was trained on" in out["scored"]


def test_evaluate_on_mnist_scores_the_held_out_quarter(tmp_path, capsys, mnist_t10k):
    # the case of the issue: 98.51% on all 10000 rows against 94.04% held out
    out_dir = tmp_path / "mnist"
    assert main(["train", "--data", "mnist", "--hidden", "10", "--max-iter", "20",
                 "--backend", "numpy", "--threads", "1", "--no-plots", "-q",
                 "-o", str(out_dir)]) == 0
    capsys.readouterr()
    model = load_model(out_dir / "model.npz")
    out = _evaluate_json([str(out_dir), "--data", "mnist"], capsys)
    assert out["n"] == 2500
    assert out["accuracy"] == pytest.approx(model.metadata_["extra"]["test_accuracy"], abs=1e-12)


def _figure_labels(fig):
    texts = []
    for ax in fig.axes:
        texts += [line.get_label() for line in ax.get_lines()] + [ax.get_ylabel()]
        if ax.get_legend() is not None:
            texts += [t.get_text() for t in ax.get_legend().get_texts()]
    return " | ".join(texts)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_cost_curve_names_the_set_it_draws(tmp_path, monkeypatch, early_stopping):
    import nnfast.plots

    figures = {}
    real_save = nnfast.plots.save_figure

    def spy(fig, path, *args, **kwargs):
        figures[Path(path).name] = _figure_labels(fig)
        return real_save(fig, path, *args, **kwargs)

    monkeypatch.setattr(nnfast.plots, "save_figure", spy)
    assert main(["train", "--data", "digits", "--max-iter", "5", "--hidden", "8",
                 "--backend", "numpy", "-q", "-o", str(tmp_path)]
                + (["--early-stopping"] if early_stopping else [])) == 0
    labels = figures["cost_curve.png"]
    report = (tmp_path / "report.txt").read_text()
    if early_stopping:  # the monitored set is the validation slice of the training part
        assert "validation cost" in labels and "held-out" not in labels
        assert "validation: cost" in report
    else:  # it is the held-out test split, in the picture and in the summary
        assert "held-out test cost" in labels and "validation" not in labels
        assert "held-out test: cost" in report and "validation: cost" not in report


def test_lambda_sweep_chooses_on_validation_and_only_scores_the_test_split(swept, digits):
    from nnfast._cli.train import split_indices
    from nnfast.api import predict

    out, calls, _ = swept
    header, rows, lines = _sweep_rows((out / "report.txt").read_text())
    val_acc = [float(r[2].rstrip("%")) for r in rows]
    test_acc = [float(r[7].rstrip("%")) for r in rows]
    best = float(next(line for line in lines if line.startswith("best lambda by")).split(":")[1])
    assert best == [0.0, 1.0, 50.0][int(np.argmax(val_acc))]
    # the test column is the held-out split, scored with each λ's weights
    X, y = digits
    _, held_out = split_indices(y, 0.25, 0)
    for acc, call in zip(test_acc, calls[1:]):
        theta = call["result"].theta
        expected = 100 * np.mean(predict(theta, X[held_out], [64, 12, 10]) == y[held_out])
        assert acc == pytest.approx(expected, abs=0.006)


def test_evaluate_when_the_training_file_has_gone(tmp_path, capsys, digits):
    X, y = digits
    data = tmp_path / "d.npz"
    np.savez(data, X=X[:300], y=y[:300])
    assert main(["train", "--data", str(data), "--max-iter", "3", "--hidden", "4",
                 "--backend", "numpy", "--no-plots", "-q", "-o", str(tmp_path / "o")]) == 0
    capsys.readouterr()
    out = _evaluate_json([str(tmp_path / "o")], capsys)
    assert out["n"] == 75 and out["scored"].startswith("the 75 held-out examples")
    data.unlink()
    assert main(["evaluate", str(tmp_path / "o")]) == 2
    assert f"the model was trained on {data}, which is not there any more; pass --data FILE" \
        in capsys.readouterr().err


def test_train_prints_its_total_wall_time(tmp_path, capsys):
    rc = main(["train", "--data", "digits", "--max-iter", "5", "--hidden", "8", "--backend",
               "numpy", "--no-plots", "--no-progress", "--quiet", "--output", str(tmp_path)])
    assert rc == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("total wall time ") and last.endswith(" s")
    # the same figure as the report's, which times the whole command after its imports
    assert f"total time: {last.split()[3]} s" in (tmp_path / "report.txt").read_text()
