"""Property tests: tampered model files and bad command-line values.

A tampered model file (bytes flipped, truncated, metadata fields replaced by
values of any JSON type, npy headers declaring huge sizes) either loads into a
model that predicts, or raises ModelFileError, and nothing else.  A bad option
value ends in exit code 2 and one line on stderr, never a traceback.  The CLI
runs in-process through ``main(argv)``; every bad value is refused before any
data are loaded, so each example takes milliseconds.
"""

import contextlib
import io
import json
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nnfast
from nnfast.cli import UserError, main
from nnfast.persistence import ModelFileError, load_model

FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, digits):
    """A real model file (digits, 64 -> 6 -> 10, NNClassifier) and rows to predict."""
    X, y = digits
    clf = nnfast.NNClassifier(hidden_layer_sizes=(6,), max_iter=5, random_state=0,
                              backend="numpy", n_threads=1).fit(X[:200], y[:200])
    path = nnfast.save_model(clf, tmp_path_factory.mktemp("fuzz") / "model.npz")
    return path, path.read_bytes(), X[:20], clf


def _load_or_model_file_error(path, X, reference=None):
    """load_model(path): a ModelFileError, or a model that predicts known classes."""
    try:
        model = load_model(path)
    except ModelFileError as exc:
        assert "\n" not in str(exc)
        return None
    labels = model.predict(X)
    assert set(labels.tolist()) <= set(model.classes_.tolist())
    if reference is not None:  # the checksum holds: the weights are the saved ones
        np.testing.assert_array_equal(model.theta_, reference.theta_)
    return model


@FUZZ
@given(flips=st.lists(st.tuples(st.integers(0, 10**9), st.integers(1, 255)),
                      min_size=1, max_size=8))
def test_flipped_bytes(model_file, tmp_path, flips):
    path, data, X, clf = model_file
    damaged = bytearray(data)
    for position, mask in flips:
        damaged[position % len(damaged)] ^= mask
    target = tmp_path / "flipped.npz"
    target.write_bytes(bytes(damaged))
    _load_or_model_file_error(target, X, reference=clf)


@FUZZ
@given(keep=st.integers(0, 10**9))
def test_truncated_files(model_file, tmp_path, keep):
    path, data, X, _ = model_file
    target = tmp_path / "truncated.npz"
    target.write_bytes(data[: keep % len(data)])
    with pytest.raises(ModelFileError):
        load_model(target)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=10)
FIELDS = ["format", "format_version", "layer_sizes", "n_params", "theta_dtype", "theta_sha256",
          "n_classes", "classes_dtype", "lam", "loss", "method", "dtype", "training",
          "estimator_params", "extra"]


@FUZZ
@given(field=st.sampled_from(FIELDS), value=JSON_VALUES,
       nested=st.sampled_from([None, "training", "estimator_params"]),
       key=st.sampled_from(["n_iter", "hidden_layer_sizes", "lam", "loss", "max_iter"]))
def test_metadata_fields_of_any_type(model_file, tmp_path, field, value, nested, key):
    path, _, X, _ = model_file
    with np.load(path, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(str(arrays["metadata"][()]))
    if nested is not None and isinstance(meta.get(nested), dict):
        meta[nested] = dict(meta[nested], **{key: value})
    else:
        meta[field] = value
    arrays["metadata"] = np.array(json.dumps(meta))
    target = tmp_path / "edited.npz"
    np.savez(target, **arrays)
    _load_or_model_file_error(target, X)


def _header(shape, descr):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


@FUZZ
@given(member=st.sampled_from(["theta", "classes", "metadata"]),
       shape=st.lists(st.integers(0, 2**62), min_size=0, max_size=3).map(tuple),
       descr=st.sampled_from(["<f8", "<f4", "<i8", "|u1", "<U8", "|O", "|V16", "<c16"]),
       payload=st.binary(max_size=64))
def test_declared_sizes(model_file, tmp_path, member, shape, descr, payload):
    path, _, X, _ = model_file
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    members[f"{member}.npy"] = _header(shape, descr) + payload
    target = tmp_path / "declared.npz"
    with zipfile.ZipFile(target, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(ModelFileError):
        load_model(target)


# --- command-line values --------------------------------------------------------------

def _refused(parse, value) -> bool:
    """Whether the option's own check refuses ``value`` (what makes a value bad here)."""
    try:
        parse(value)
    except Exception:
        return True
    return False


def _choices(options):
    return lambda value: options.index(value)


def _checks():
    """option -> the function that accepts its good values and raises for bad ones."""
    from nnfast import cli
    from nnfast._cli import gradcheck, train

    def lambdas(text):
        return train.parse_lambdas(text)

    common = {"--threads": cli.positive_int}
    return {
        "train": dict(common, **{
            "--max-iter": cli.positive_int, "--max-fun": cli.positive_int,
            "--batch-size": cli.positive_int, "--learning-rate": cli.positive_float,
            "--lam": cli.non_negative_float, "--test-size": train.fraction,
            "--seed": train.seed, "--hidden": train.parse_hidden, "--lambdas": lambdas,
            "--method": _choices(["L-BFGS-B", "TNC", "CG", "gd", "sgd", "adam"]),
            "--loss": _choices(["cross_entropy", "squared_error"]),
            "--dtype": _choices(["float64", "float32"])}),
        "gradcheck": dict(common, **{
            "--m": cli.positive_int, "--lam": cli.non_negative_float,
            "--epsilon": cli.positive_float, "--threshold": cli.positive_float,
            "--seed": train.seed, "--sample": gradcheck._sample, "--layers": gradcheck._layers,
            "--data": _choices(list(gradcheck.DATA_CHOICES)),
            "--weights": _choices(["random", "ex4"])}),
        "bench": dict(common, **{"--repeat": cli.positive_int, "--train-iters": cli.positive_int,
                                 "--dtype": _choices(["float64", "float32", "both"])}),
        "evaluate": {"--rows": _choices(["held-out", "training", "all"])},
    }


CHECKS = _checks()
VALUES = (st.integers(-10**12, 10**12).map(str) | st.floats().map(repr) | st.text(max_size=12)
          | st.sampled_from(["0", "-0", "1e400", "nan", "-inf", "0x10", "1_0", "٣", " 5",
                             "1,,2", "-1,2", "2,-1", "0.5,0.5", "", "-", "--", "-x"]))


@FUZZ
@given(data=st.data())
def test_bad_option_values_exit_2_with_one_line(data, tmp_path):
    command = data.draw(st.sampled_from(sorted(CHECKS)))
    option = data.draw(st.sampled_from(sorted(CHECKS[command])))
    check = CHECKS[command][option]
    value = data.draw(VALUES.filter(lambda v: "\x00" not in v and _refused(check, v)))
    joined = data.draw(st.booleans())
    argv = [command]
    if command == "evaluate":
        argv.append(str(tmp_path / "model.npz"))
    argv += [f"{option}={value}"] if joined else [option, value]
    if command == "train":
        argv += ["-o", str(tmp_path / "out")]
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        rc = main(argv)
    err = stderr.getvalue()
    assert rc == 2, (argv, err)
    assert err.count("\n") == 1 and err.endswith("\n"), (argv, err)
    assert "Traceback" not in err
    assert err.startswith(f"nnfast {command}: error: "), err


def test_the_checks_in_the_fuzz_table_are_the_parsers_in_use():
    # the oracle above is only meaningful if it is what the command line applies
    from nnfast.cli import build_parser

    for command, checks in CHECKS.items():
        parser = build_parser(load=command)
        sub = next(a for a in parser._actions if a.dest == "command")
        actions = {opt: a for a in sub.choices[command]._actions for opt in a.option_strings}
        for option, check in checks.items():
            action = actions[option]
            if action.choices is not None:
                assert list(action.choices) == list(check.__closure__[0].cell_contents)
            elif option == "--lambdas":
                assert action.type is None  # checked in run(), raising UserError
                with pytest.raises(UserError):
                    check("-1")
            else:
                assert action.type is check, (command, option)
