"""save_model / load_model: round trips, no pickle, clear errors for bad files."""

import json
import zipfile

import numpy as np
import pytest

import nnfast
from nnfast import NNClassifier, load_model, save_model
from nnfast.persistence import ModelFileError, read_model_file


@pytest.fixture(scope="module")
def fitted(digits):
    X, y = digits
    labels = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                       "nine"])[y]
    clf = NNClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0, backend="numpy", n_threads=1)
    return clf.fit(X[:400], labels[:400]), X[400:600]


def test_classifier_round_trip_with_string_labels(tmp_path, fitted):
    clf, X = fitted
    path = save_model(clf, tmp_path / "model")
    assert path.name == "model.npz"
    loaded = load_model(path)
    assert isinstance(loaded, NNClassifier)
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    np.testing.assert_array_equal(loaded.theta_, clf.theta_)
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.hidden_layer_sizes == (8,) and loaded.lam == clf.lam
    meta = loaded.metadata_
    assert meta["layer_sizes"] == [64, 8, 10] and meta["nnfast_version"] == nnfast.__version__
    assert meta["dtype"] == "float64" and meta["loss"] == "cross_entropy"
    assert meta["training"]["n_iter"] == clf.n_iter_


def test_file_holds_arrays_only(tmp_path, fitted):
    clf, _ = fitted
    path = save_model(clf, tmp_path / "m.npz", extra={"note": "digits"})
    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["classes", "metadata", "theta"]
        assert all(archive[k].dtype != object for k in archive.files)
        meta = json.loads(str(archive["metadata"][()]))
    assert meta["extra"] == {"note": "digits"}


def test_train_result_round_trip_float32(tmp_path, digits):
    X, y = digits
    res = nnfast.train(X[:300], y[:300], [64, 10], max_iter=10, dtype=np.float32,
                       random_state=0, backend="numpy", n_threads=1, progress=False)
    model = load_model(save_model(res, tmp_path / "r.npz"))
    np.testing.assert_array_equal(model.classes_, np.arange(10))
    np.testing.assert_array_equal(model.predict(X[:50]), res.predict(X[:50]))
    assert model.metadata_["dtype"] == "float32"
    assert model.metadata_["training"]["stop_reason"] == res.stop_reason


def _rewrite(src, dst, **changes):
    with np.load(src, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays.update(changes)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(dst, **arrays)
    return dst


def test_corrupted_and_mismatched_files_give_clear_errors(tmp_path, fitted):
    clf, _ = fitted
    good = save_model(clf, tmp_path / "good.npz")
    meta = json.loads(str(np.load(good)["metadata"][()]))

    theta = np.load(good)["theta"].copy()
    theta[3] += 1.0
    with pytest.raises(ModelFileError, match="checksum"):
        load_model(_rewrite(good, tmp_path / "edited.npz", theta=theta))
    with pytest.raises(ModelFileError, match="need"):
        load_model(_rewrite(good, tmp_path / "short.npz", theta=theta[:-1]))
    with pytest.raises(ModelFileError, match="lacks"):
        load_model(_rewrite(good, tmp_path / "nokey.npz", classes=None))
    with pytest.raises(ModelFileError, match="class labels"):
        load_model(_rewrite(good, tmp_path / "cls.npz", classes=np.arange(3)))
    bad_meta = dict(meta, format_version=99)
    with pytest.raises(ModelFileError, match="format version 99"):
        load_model(_rewrite(good, tmp_path / "ver.npz", metadata=np.array(json.dumps(bad_meta))))
    with pytest.raises(ModelFileError, match="not valid JSON"):
        load_model(_rewrite(good, tmp_path / "json.npz", metadata=np.array("{oops")))
    with pytest.raises(ModelFileError, match="not an nnfast model file"):
        load_model(_rewrite(good, tmp_path / "fmt.npz",
                            metadata=np.array(json.dumps(dict(meta, format="other")))))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ModelFileError):
        load_model(truncated)
    text = tmp_path / "text.npz"
    text.write_text("not a model")
    with pytest.raises(ModelFileError, match="not an .npz"):
        load_model(text)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.npz")
    # an object array inside is refused rather than unpickled
    obj = tmp_path / "obj.npz"
    np.savez(obj, theta=np.array([object()], dtype=object), classes=np.arange(2),
             metadata=np.array("{}"))
    with pytest.raises(ModelFileError):
        read_model_file(obj)
    assert zipfile.is_zipfile(good)


def test_save_refuses_what_it_cannot_store(tmp_path):
    with pytest.raises(TypeError, match="fitted NNClassifier or a TrainResult"):
        save_model(NNClassifier(), tmp_path / "x.npz")
    with pytest.raises(TypeError):
        save_model({"theta": 1}, tmp_path / "x.npz")
