"""``nnfast train`` and ``nnfast evaluate`` end to end, in-process and as a console script."""

import json
import subprocess
import sys

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
    assert out["n"] == 1797 and out["accuracy"] > 0.85
    assert np.array(out["confusion"]).sum() == 1797
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
    (["train", "--max-iter", "0"], "--max-iter must be at least 1"),
    (["train", "--test-size", "1.5"], "--test-size must be in [0, 1)"),
    (["evaluate", "/no/such/model.npz"], "does not exist"),
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
