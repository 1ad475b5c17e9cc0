"""Command-line errors: one line naming the option and what was expected, exit code 2.

Everything runs in-process through ``nnfast.cli.main``; each check happens
before any data are loaded or any training starts.
"""

import re
import subprocess
import sys

import numpy as np
import pytest

from nnfast.cli import main


def _run(argv, capsys):
    rc = main(argv)
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def _one_line_error(argv, capsys, message):
    rc, _, err = _run(argv, capsys)
    assert rc == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert message in err, err
    return err


@pytest.mark.parametrize("argv,message", [
    # ignored options are rejected (gradcheck's debug problem has its own m = 5)
    (["gradcheck", "--m", "-3"], "argument --m: expected an integer >= 1, got '-3'"),
    (["gradcheck", "--m", "3"], "--m applies to --data mnist20, mnist, digits or ex4"),
    (["gradcheck", "--weights", "ex4"], "--weights ex4 needs data of 400 features"),
    (["gradcheck", "--data", "digits", "--m", "5000"],
     "--m 5000: the data (scikit-learn digits (1797 8x8 digits)) has only 1797 examples"),
    (["gradcheck", "--sample", "0"], "argument --sample: expected a count >= 1"),
    (["gradcheck", "--sample", "inf"], "argument --sample: expected a count (500) or a fraction"),
    # argparse drops a value of "--" and would run with the default
    (["gradcheck", "--seed=--"], "argument --seed: expected a value, got '--'"),
    (["bench", "--repeat", "0"], "argument --repeat: expected an integer >= 1, got '0'"),
    (["bench", "--shapes", "ex4,nope"], "--shapes takes comma-separated names from ex4"),
    (["gradcheck", "--epsilon", "-1e-4"], "argument --epsilon: expected a finite number > 0"),
    (["train", "--lam", "-inf"], "argument --lam/--lambda: expected a finite number >= 0"),
    (["gradcheck", "--layers", "3"], "argument --layers: expected at least two positive sizes"),
    (["train", "--learning-rate", "0.1"], "--learning-rate applies to gd, sgd, adam, not to "
                                          "--method L-BFGS-B"),
    (["train", "--method", "CG", "--batch-size", "32"], "--batch-size applies to sgd, adam"),
    (["train", "--patience", "5"], "--patience applies only with --early-stopping"),
    (["train", "--early-stopping", "--test-size", "0"], "--early-stopping needs held-out data"),
    (["train", "--lam", "nan"], "argument --lam/--lambda: expected a finite number >= 0, got 'nan'"),
    (["train", "--seed", "-1"], "argument --seed: expected an integer >= 0"),
    (["train", "--seed", str(2**32)], "argument --seed: expected an integer in [0, 2**32 - 1]"),
    (["train", "--threads", "0"], "argument --threads: expected an integer >= 1, got '0'"),
    # a value starting with '-' reaches the check of --lambdas, which says why
    (["train", "--lambdas", "-1,2"], "--lambdas values must be finite and >= 0, got '-1'"),
    (["train", "--lambdas", "-0.5"], "--lambdas values must be finite and >= 0, got '-0.5'"),
])
def test_bad_options_are_one_line_errors(argv, message, capsys, tmp_path):
    _one_line_error(argv + (["-o", str(tmp_path / "out")] if argv[0] == "train" else []),
                    capsys, message)


def test_argparse_errors_are_one_line_with_a_help_hint(capsys):
    err = _one_line_error(["train", "--method", "nope"], capsys, "argument --method: invalid "
                          "choice: 'nope'")
    assert err.rstrip().endswith("(run 'nnfast train --help' for the options)")
    _one_line_error(["train", "--no-such-option"], capsys, "unrecognized arguments")
    _one_line_error(["evaluate"], capsys, "the following arguments are required: model")
    _one_line_error(["nope"], capsys, "run 'nnfast --help'")
    # as a process too: nothing but the line on stderr
    proc = subprocess.run([sys.executable, "-m", "nnfast.cli", "gradcheck", "--m", "x"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == ("nnfast gradcheck: error: argument --m: expected an integer >= 1, "
                           "got 'x' (run 'nnfast gradcheck --help' for the options)\n")


def test_data_that_is_a_folder_or_not_an_npz(tmp_path, capsys):
    _one_line_error(["train", "--data", str(tmp_path), "-o", str(tmp_path / "o")], capsys,
                    f"--data {tmp_path} is a folder; expected one of auto, ex4, mnist, digits")
    text = tmp_path / "text.npz"
    text.write_text("X,y\n1,2\n")
    _one_line_error(["train", "--data", str(text), "-o", str(tmp_path / "o")], capsys,
                    f"--data {text} is not an .npz archive")
    empty = tmp_path / "empty.npz"
    np.savez(empty, X=np.zeros((0, 4)), y=np.zeros(0, dtype=int))
    _one_line_error(["train", "--data", str(empty), "-o", str(tmp_path / "o")], capsys,
                    "X must be a non-empty 2-d array (examples x features), it has shape (0, 4)")
    mismatched = tmp_path / "mismatched.npz"
    np.savez(mismatched, X=np.zeros((5, 4)), y=np.zeros(3, dtype=int))
    _one_line_error(["train", "--data", str(mismatched), "-o", str(tmp_path / "o")], capsys,
                    "X has 5 examples but y has 3 labels")
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, X=np.array([object()] * 4, dtype=object).reshape(2, 2), y=np.zeros(2))
    _one_line_error(["train", "--data", str(pickled), "-o", str(tmp_path / "o")], capsys,
                    "expected numeric arrays saved without pickle")
    _one_line_error(["evaluate", str(tmp_path)], capsys, "does not exist")


def test_output_that_is_a_file(tmp_path, capsys):
    existing = tmp_path / "report.txt"
    existing.write_text("keep me")
    _one_line_error(["train", "--data", "digits", "-o", str(existing)], capsys,
                    f"--output {existing} is an existing file; expected a folder")
    assert existing.read_text() == "keep me"


def test_a_network_too_big_for_memory_is_refused_before_allocating(tmp_path, capsys):
    err = _one_line_error(["train", "--data", "digits", "--hidden", "1000000000",
                           "-o", str(tmp_path)], capsys, "--hidden 1000000000: a 64 -> "
                          "1000000000 -> 10 network has 75,000,000,010 weights and needs about")
    assert re.search(r"needs about [\d,]+ GiB; this machine has \d+ GiB", err)


def test_missing_data_says_what_to_type(tmp_path, capsys, monkeypatch):
    # no "path=..." (a Python argument) and no data/README.md, which a pip user lacks
    monkeypatch.setenv("NNFAST_DATA", str(tmp_path / "empty"))
    monkeypatch.chdir(tmp_path)
    err = _one_line_error(["train", "--data", "ex4", "-o", str(tmp_path / "o")], capsys,
                          "pass --data /path/to/ex4data1.mat or set NNFAST_DATA=DIR to the "
                          "folder that holds ex4data1.mat")
    assert str(tmp_path / "empty") in err
    # MNIST comes as two IDX files: only the folder can be given
    err = _one_line_error(["gradcheck", "--data", "mnist"], capsys,
                          "set NNFAST_DATA=DIR to the folder that holds t10k-images-idx3-ubyte")
    assert "path=" not in err and "README" not in err and "--data /path" not in err
    err = _one_line_error(["gradcheck", "--data", "digits", "--layers", "400,25,10",
                           "--weights", "ex4", "--m", "10"], capsys,
                          "set NNFAST_DATA=DIR to the folder that holds ex4weights.mat")
    assert "path=" not in err and "README" not in err


def _help(command, capsys):
    assert main([command, "--help"]) == 0
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("command", ["train", "evaluate", "gradcheck", "bench", "info"])
def test_help_shows_each_default_once_and_no_empty_ones(command, capsys):
    text = _help(command, capsys)
    assert text.startswith(f"usage: nnfast {command}")
    for empty in ("(default: None)", "(default: True)", "(default: False)"):
        assert empty not in text
    assert not re.search(r"\(default:? [^)]*\)\s*\(default", text), text


def test_help_keeps_the_defaults_worth_showing(capsys):
    text = _help("train", capsys)
    assert "step size for gd/sgd/adam (default: per method)" in text
    assert "never show a progress bar" in text and "(default: auto)" in text
    assert "--max-iter MAX_ITER iterations" in text and "(default: 400)" in text
