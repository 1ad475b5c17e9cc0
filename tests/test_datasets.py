"""Loaders on the shared real files, and clear errors for missing or broken ones."""

import gzip
import hashlib
import os

import numpy as np
import pytest

from nnfast import datasets

# from ../shared/data/README.md
SHA256 = {
    "ex4weights.mat": "7eb93f42e50219a15de2378c7f8e4ecdd71005fc19e0e519cd52d5ce4d74e1f5",
    "mnist/t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}


def test_ex4_weights(ex4_weights):
    t1, t2 = ex4_weights
    assert t1.shape == (25, 401) and t2.shape == (10, 26)
    assert t1.dtype == t2.dtype == np.float64
    assert t1.flags.c_contiguous and np.isfinite(t1).all()


def test_shared_files_are_the_documented_ones(ex4_weights):
    root = os.environ["NNFAST_DATA"]
    for name, digest in SHA256.items():
        with open(os.path.join(root, name), "rb") as fh:
            assert hashlib.sha256(fh.read()).hexdigest() == digest


def test_mnist_t10k(mnist_t10k):
    X, y = mnist_t10k
    assert X.shape == (10000, 784) and X.dtype == np.float64
    assert X.min() == 0.0 and X.max() == 1.0
    # published label counts of the MNIST test set
    counts = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    np.testing.assert_array_equal(np.bincount(y, minlength=10), counts)


def test_mnist_unscaled_is_uint8(mnist_t10k):
    X, y = datasets.load_mnist("t10k", scale=False)
    assert X.dtype == np.uint8 and X.max() == 255
    np.testing.assert_array_equal(X / 255.0, mnist_t10k[0])


def test_digits():
    X, y = datasets.load_digits()
    assert X.shape == (1797, 64) and y.shape == (1797,)
    assert 0 <= X.min() and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))


def test_ex4_data_shapes_and_mapping(ex4_data):
    X, y = ex4_data
    assert X.shape == (5000, 400) and y.shape == (5000,)
    assert np.bincount(y).tolist() == [500] * 10
    assert datasets.EX4_DIGITS[9] == 0


def test_ex4_data_roundtrip_label_mapping(tmp_path):
    # A small file in ex4's format (labels 1..10), written here, read back.
    from scipy.io import savemat

    X = np.arange(12, dtype=float).reshape(3, 4)
    savemat(tmp_path / "ex4data1.mat", {"X": X, "y": np.array([[10], [1], [5]], dtype=np.uint8)})
    X2, y2 = datasets.load_ex4_data(tmp_path)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, [9, 0, 4])
    np.testing.assert_array_equal(datasets.EX4_DIGITS[y2], [0, 1, 5])


def test_missing_file_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("NNFAST_DATA", str(tmp_path / "env"))
    with pytest.raises(datasets.DataNotFoundError) as info:
        datasets.load_ex4_data(tmp_path / "given")
    msg = str(info.value)
    assert "ex4data1.mat" in msg and str(tmp_path / "given") in msg and str(tmp_path / "env") in msg
    assert "NNFAST_DATA" in msg


def test_malformed_mat_file(tmp_path):
    (tmp_path / "ex4weights.mat").write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(ValueError, match="not a readable MATLAB .mat file"):
        datasets.load_ex4_weights(tmp_path)


def test_mat_file_missing_variables(tmp_path):
    from scipy.io import savemat

    savemat(tmp_path / "ex4weights.mat", {"Theta1": np.zeros((2, 3))})
    with pytest.raises(ValueError, match=r"lacks the variable\(s\) \['Theta2'\]"):
        datasets.load_ex4_weights(tmp_path)


def _write_idx(path, array, compress):
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C}
    header = bytes([0, 0, codes[array.dtype], array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    data = header + array.tobytes()
    (gzip.open if compress else open)(path, "wb").write(data)


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_roundtrip(tmp_path, compress):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "a.idx", a, compress)
    np.testing.assert_array_equal(datasets.read_idx(tmp_path / "a.idx"), a)
    b = np.array([1, -2, 70000], dtype=">i4")
    _write_idx(tmp_path / "b.idx", b, compress)
    out = datasets.read_idx(tmp_path / "b.idx")
    np.testing.assert_array_equal(out, [1, -2, 70000])
    assert out.dtype.isnative


def test_read_idx_rejects_bad_files(tmp_path):
    (tmp_path / "junk").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        datasets.read_idx(tmp_path / "junk")
    a = np.arange(10, dtype=np.uint8)
    _write_idx(tmp_path / "short", a, False)
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-3])
    with pytest.raises(ValueError, match="holds 7"):
        datasets.read_idx(tmp_path / "short")


def test_load_by_name(monkeypatch, tmp_path):
    monkeypatch.setenv("NNFAST_DATA", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    X, y, what = datasets.load("auto")
    assert X.shape == (1797, 64) and "digits" in what
    with pytest.raises(ValueError, match="data set must be"):
        datasets.load("cifar")
