"""save_model / load_model: round trips, no pickle, clear errors for bad files."""

import json
import zipfile

import numpy as np
import pytest

import nnfast
from nnfast import NNClassifier, NNRegressor, load_model, save_model
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


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_regressor_round_trip(tmp_path, digits, n_outputs):
    X, y = digits
    # real targets: the digit's value and, for several outputs, its ink and its mean column
    targets = np.column_stack([y / 9.0, X.mean(axis=1), X[:, :8].mean(axis=1)])[:, :n_outputs]
    targets = targets[:, 0] if n_outputs == 1 else targets
    reg = NNRegressor(hidden_layer_sizes=(6,), activation="tanh", max_iter=20, random_state=0,
                      backend="numpy", n_threads=1).fit(X[:300], targets[:300])
    loaded = load_model(save_model(reg, tmp_path / "reg"))
    assert isinstance(loaded, NNRegressor)
    assert loaded.n_outputs_ == n_outputs and loaded.activations_ == ("tanh",)
    assert loaded.out_activation_ == "identity" and loaded.metadata_["estimator"] == "NNRegressor"
    assert loaded.metadata_["loss"] == "squared_error"
    assert loaded.get_params()["activation"] == "tanh"
    np.testing.assert_array_equal(loaded.theta_, reg.theta_)
    assert not hasattr(loaded, "classes_")
    # backend and threads are not stored (they belong to the machine); on the fit's own
    # the loaded model computes exactly what the fitted one does
    loaded.set_params(backend="numpy", n_threads=1)
    np.testing.assert_array_equal(loaded.predict(X[300:400]), reg.predict(X[300:400]))
    assert loaded.predict(X[:5]).shape == reg.predict(X[:5]).shape
    assert loaded.score(X[300:400], targets[300:400]) == reg.score(X[300:400], targets[300:400])


def test_regression_train_result_loads_as_a_regressor(tmp_path, digits):
    X, y = digits
    res = nnfast.train(X[:200], (y[:200] / 9.0)[:, None], [64, 5, 1], max_iter=5,
                       output="identity", loss="squared_error", random_state=0,
                       backend="numpy", n_threads=1, progress=False)
    loaded = load_model(save_model(res, tmp_path / "r"))
    assert isinstance(loaded, NNRegressor) and loaded.n_outputs_ == 1
    np.testing.assert_allclose(loaded.predict(X[:20]), res.predict_proba(X[:20])[:, 0])


def test_estimator_field_is_checked(tmp_path, digits, fitted):
    clf, _ = fitted
    good = save_model(clf, tmp_path / "clf.npz")
    meta = _metadata(good)
    assert meta["estimator"] == "NNClassifier"
    for value, message in (("MLPClassifier", "'estimator' must be one of"),
                           ("NNRegressor", "NNRegressor cannot have a 'logistic' output")):
        edited = _rewrite(good, tmp_path / "e.npz",
                          metadata=np.array(json.dumps(dict(meta, estimator=value))))
        with pytest.raises(ModelFileError, match=message):
            load_model(edited)
    # files written before the field existed are classifiers
    del meta["estimator"]
    old = load_model(_rewrite(good, tmp_path / "old.npz", metadata=np.array(json.dumps(meta))))
    assert isinstance(old, NNClassifier)


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
    with pytest.raises(TypeError, match="fitted NNClassifier, NNRegressor or a TrainResult"):
        save_model(NNClassifier(), tmp_path / "x.npz")
    with pytest.raises(TypeError, match="not fitted yet"):
        save_model(NNRegressor(), tmp_path / "x.npz")
    with pytest.raises(TypeError):
        save_model({"theta": 1}, tmp_path / "x.npz")


# --- malformed files: every one is a ModelFileError, found cheaply -----------------------

def _members(path):
    """The raw bytes of each member of an .npz."""
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _write_members(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _npy_header(shape, descr="<f8"):
    """An npy header that declares ``shape`` of ``descr``, without any data."""
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()  # the magic string, the version and the header


@pytest.fixture()
def good_file(tmp_path, fitted):
    clf, _ = fitted
    return save_model(clf, tmp_path / "good.npz")


def _metadata(path):
    with np.load(path, allow_pickle=False) as archive:
        return json.loads(str(archive["metadata"][()]))


@pytest.fixture()
def members_read(monkeypatch):
    """Names of the members whose data load_model decompresses."""
    import nnfast.persistence as persistence

    names = []
    real = persistence._read_member

    def spy(zf, name):
        names.append(name)
        return real(zf, name)

    monkeypatch.setattr(persistence, "_read_member", spy)
    return names


def test_repeated_or_unsorted_classes_are_refused(tmp_path, good_file):
    # an edit to [0, 0, ...] used to load and predict 0 everywhere
    with pytest.raises(ModelFileError, match="class labels repeat"):
        load_model(_rewrite(good_file, tmp_path / "same.npz", classes=np.zeros(10, dtype=int)))
    with pytest.raises(ModelFileError, match="sorted order"):
        load_model(_rewrite(good_file, tmp_path / "order.npz", classes=np.arange(10)[::-1]))
    with pytest.raises(ModelFileError, match="NaN"):
        load_model(_rewrite(good_file, tmp_path / "nan.npz",
                            classes=np.r_[np.arange(9.0), np.nan]))
    with pytest.raises(ModelFileError, match="4 class labels for a network with 10 outputs"):
        load_model(_rewrite(good_file, tmp_path / "four.npz", classes=np.zeros(4, dtype=int)))


@pytest.mark.parametrize("field,value,message", [
    ("training", "x", "'training' must be an object"),
    ("training", {"n_iter": "many"}, "training.n_iter"),
    ("estimator_params", 5, "'estimator_params' must be an object"),
    ("estimator_params", {"hidden_layer_sizes": 5}, "hidden_layer_sizes"),
    ("estimator_params", {"hidden_layer_sizes": [[8]]}, "hidden_layer_sizes"),
    ("estimator_params", {"lam": "big"}, "lam"),
    ("lam", -1, "'lam' must be a finite number >= 0"),
    ("loss", ["x"], "'loss' must be one of"),
    ("layer_sizes", "64,8,10", "invalid layer sizes"),
    ("layer_sizes", [64, True, 10], "invalid layer sizes"),
    ("theta_sha256", None, "theta_sha256"),
    ("n_classes", 3, "says 3 classes"),
])
def test_metadata_fields_of_the_wrong_type(tmp_path, good_file, field, value, message):
    meta = dict(_metadata(good_file), **{field: value})
    edited = _rewrite(good_file, tmp_path / "edited.npz", metadata=np.array(json.dumps(meta)))
    with pytest.raises(ModelFileError, match=message):
        load_model(edited)


def test_deeply_nested_json_is_a_model_file_error(tmp_path, good_file):
    nested = "[" * 50_000 + "]" * 50_000  # 400 kB: under the size cap, too deep for json
    with pytest.raises(ModelFileError, match="not valid JSON"):
        load_model(_rewrite(good_file, tmp_path / "deep.npz", metadata=np.array(nested)))


def test_oversized_metadata_is_refused_before_it_is_read(tmp_path, good_file, members_read):
    from nnfast.persistence import MAX_METADATA_BYTES

    meta = dict(_metadata(good_file), extra={"note": "x" * MAX_METADATA_BYTES})
    with pytest.raises(ModelFileError, match="metadata is .* bytes, more than"):
        load_model(_rewrite(good_file, tmp_path / "big.npz", metadata=np.array(json.dumps(meta))))
    assert members_read == []


@pytest.mark.parametrize("member", ["theta", "classes", "metadata"])
def test_a_header_declaring_2_to_the_40_elements_is_refused_unread(tmp_path, good_file,
                                                                   members_read, member):
    members = _members(good_file)
    descr = {"theta": "<f8", "classes": "<i8", "metadata": "<U1"}[member]
    members[f"{member}.npy"] = _npy_header((2**40,), descr) + b"\0" * 64
    with pytest.raises(ModelFileError, match="declares shape|more than this file"):
        load_model(_write_members(tmp_path / "huge.npz", members))
    assert member not in members_read


def test_a_zip_bomb_is_refused_from_the_zip_directory(tmp_path, good_file, members_read):
    # 200 MB of zeros deflate to about 200 kB; the member must not be decompressed
    members = _members(good_file)
    n = 25_000_000
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name in ("classes.npy", "metadata.npy"):
            zf.writestr(name, members[name])
        with zf.open("theta.npy", "w", force_zip64=True) as fh:
            fh.write(_npy_header((n,)))
            chunk = bytes(1 << 22)
            for _ in range(8 * n // len(chunk)):
                fh.write(chunk)
            fh.write(bytes(8 * n % len(chunk)))
    assert bomb.stat().st_size < 2_000_000
    with pytest.raises(ModelFileError, match="theta is 200,000,1.. bytes, more than"):
        load_model(bomb)
    assert "theta" not in members_read


def test_a_compressed_member_that_expands_too_much_is_refused(tmp_path, good_file, members_read):
    # sizes that agree with the metadata, but deflated from far less than weights take
    members = _members(good_file)
    n = 400_000
    meta = dict(_metadata(good_file), layer_sizes=[n - 1, 1], n_params=n, n_classes=1)
    del meta["estimator_params"]
    members["metadata.npy"] = _members(_rewrite(
        good_file, tmp_path / "m.npz", metadata=np.array(json.dumps(meta))))["metadata.npy"]
    members["classes.npy"] = _members(_rewrite(
        good_file, tmp_path / "c.npz", classes=np.arange(1)))["classes.npy"]
    members["theta.npy"] = _npy_header((n,)) + bytes(8 * n)
    with pytest.raises(ModelFileError, match="expands from"):
        load_model(_write_members(tmp_path / "deflated.npz", members, zipfile.ZIP_DEFLATED))
    assert "theta" not in members_read


@pytest.mark.parametrize("member", ["metadata.npy", "theta.npy", "classes.npy"])
@pytest.mark.parametrize("old, new", [(b"(", b")"), (b"{", b"[")])
def test_an_unbalanced_bracket_in_a_header_is_a_model_file_error(tmp_path, good_file, member,
                                                                  old, new):
    # one flipped bit ("(" ^ 1 is ")") found by test_fuzz: numpy's header parser then
    # raised tokenize.TokenError, which escaped as itself
    members = _members(good_file)
    header_end = members[member].index(b"\n")
    start = members[member].index(old)
    assert start < header_end
    members[member] = members[member].replace(old, new, 1)
    with pytest.raises(ModelFileError, match="not a readable nnfast model file"):
        load_model(_write_members(tmp_path / "bracket.npz", members))


def test_object_headers_and_non_scalar_metadata(tmp_path, good_file, members_read):
    members = _members(good_file)
    members["classes.npy"] = _npy_header((10,), "|O") + bytes(80)
    with pytest.raises(ModelFileError, match="Python objects"):
        load_model(_write_members(tmp_path / "obj.npz", members))
    with pytest.raises(ModelFileError, match="metadata must be a text scalar"):
        load_model(_rewrite(good_file, tmp_path / "vec.npz", metadata=np.array(["{}", "{}"])))
