"""Loaders for the digit data sets nnfast is used with.

Where files are looked for, in order: an explicit ``path``; the folder named by
the ``NNFAST_DATA`` environment variable; ``./data``.

ex4 label mapping
-----------------
``ex4data1.mat`` stores labels 1..10, where 10 means the digit 0 (MATLAB has
no index 0).  :func:`load_ex4_data` returns class indices ``label - 1``
(0..9), so output unit ``k`` of the pretrained ``ex4weights.mat`` network
stands for class index ``k`` as is: index 9 is the digit 0.  ``EX4_DIGITS[k]``
gives the digit of class index ``k``.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

#: digit shown by ex4 class index k (output unit k + 1 in MATLAB's numbering)
EX4_DIGITS = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 0])


class DataNotFoundError(FileNotFoundError):
    """A data file was not found; the message lists every place looked in.

    Attributes
    ----------
    what : str
        The file described in words.
    names : list of str
        File names looked for (relative to each folder).
    dirs : list of Path
        Folders looked in.
    """

    def __init__(self, message, what="data file", names=(), dirs=()):
        super().__init__(message)
        self.what, self.names, self.dirs = what, list(names), list(dirs)


def data_dirs(path=None) -> List[Path]:
    """Folders searched for data files, in order."""
    dirs = []
    if path is not None:
        dirs.append(Path(path))
    env = os.environ.get("NNFAST_DATA")
    if env:
        dirs.append(Path(env))
    dirs.append(Path("data"))
    return dirs


def find_data_file(names, path=None, what="data file") -> Path:
    """First existing file among ``names`` in :func:`data_dirs`.

    ``path`` may itself be a file, which is then used as is.
    """
    if isinstance(names, str):
        names = [names]
    if path is not None and Path(path).is_file():
        return Path(path)
    tried = []
    for d in data_dirs(path):
        for name in names:
            candidate = d / name
            if candidate.is_file():
                return candidate
            tried.append(str(candidate))
    # the fix in words a user can type: a Python caller passes the path, a shell
    # user sets the variable (the CLI rewords this with its own options)
    raise DataNotFoundError(
        f"{what} not found; looked for: " + ", ".join(tried)
        + f". Set NNFAST_DATA=DIR to the folder that holds {names[0]}, or pass path=DIR.",
        what=what, names=names, dirs=data_dirs(path))


def _loadmat(file: Path, keys, what: str) -> dict:
    from scipy.io import loadmat

    try:
        contents = loadmat(file)
    except Exception as exc:  # scipy raises several types for corrupt files
        raise ValueError(f"{file} is not a readable MATLAB .mat file ({what}): {exc}") from None
    missing = [k for k in keys if k not in contents]
    if missing:
        present = sorted(k for k in contents if not k.startswith("__"))
        raise ValueError(f"{file} lacks the variable(s) {missing} expected in {what}; it has {present}")
    return contents


def load_ex4_data(path=None) -> Tuple[np.ndarray, np.ndarray]:
    """ex4's 5000 handwritten digits, ``ex4data1.mat``.

    Parameters
    ----------
    path : str or Path, optional
        The file itself or the folder holding it.

    Returns
    -------
    X : ndarray of shape (5000, 400), float64
        One 20x20 image per row, stored column-major as in MATLAB: show it with
        ``X[i].reshape(20, 20, order="F")``.
    y : ndarray of shape (5000,), int64
        Class indices 0..9: the file's label minus one (so 9 is the digit 0;
        see ``EX4_DIGITS``).
    """
    file = find_data_file("ex4data1.mat", path, "ex4data1.mat (the ex4 digits)")
    contents = _loadmat(file, ["X", "y"], "ex4data1.mat")
    X = np.ascontiguousarray(contents["X"], dtype=np.float64)
    labels = np.asarray(contents["y"]).reshape(-1)
    if X.ndim != 2 or X.shape[0] != labels.shape[0]:
        raise ValueError(f"{file}: X of shape {X.shape} does not match y of {labels.shape[0]} labels")
    if labels.size and (labels.min() < 1 or labels.max() > 10):
        raise ValueError(f"{file}: labels must be 1..10, found {labels.min()}..{labels.max()}")
    return X, labels.astype(np.int64) - 1


def load_ex4_weights(path=None) -> Tuple[np.ndarray, np.ndarray]:
    """The pretrained weights of ex4, ``ex4weights.mat``.

    Returns
    -------
    Theta1 : ndarray of shape (25, 401), float64
    Theta2 : ndarray of shape (10, 26), float64
        Output unit k is class index k of :func:`load_ex4_data`.
        ``nnfast.pack([Theta1, Theta2])`` gives the flat ``theta``.
    """
    file = find_data_file("ex4weights.mat", path, "ex4weights.mat (the pretrained ex4 weights)")
    contents = _loadmat(file, ["Theta1", "Theta2"], "ex4weights.mat")
    t1 = np.ascontiguousarray(contents["Theta1"], dtype=np.float64)
    t2 = np.ascontiguousarray(contents["Theta2"], dtype=np.float64)
    if t1.ndim != 2 or t2.ndim != 2 or t2.shape[1] != t1.shape[0] + 1:
        raise ValueError(f"{file}: Theta1 {t1.shape} and Theta2 {t2.shape} do not chain")
    return t1, t2


_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(file) -> np.ndarray:
    """Read an IDX file (the MNIST format), plain or gzip-compressed.

    Returns
    -------
    array : ndarray with the dimensions the header gives.
    """
    file = Path(file)
    with open(file, "rb") as fh:
        head = fh.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    try:
        with opener(file, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"{file}: cannot read ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{file} is not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise ValueError(f"{file}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{file}: header announces shape {shape} ({expected} bytes of data) "
            f"but the file holds {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def load_mnist(kind="t10k", path=None, scale=True) -> Tuple[np.ndarray, np.ndarray]:
    """MNIST images and labels from IDX files.

    Looks for ``{kind}-images-idx3-ubyte[.gz]`` and ``{kind}-labels-idx1-ubyte[.gz]``
    in each data folder and its ``mnist/`` subfolder.

    Parameters
    ----------
    kind : {"t10k", "train"}
    path : folder, optional
    scale : bool, default True
        Divide pixels by 255 to get float64 in [0, 1]; otherwise keep uint8.

    Returns
    -------
    X : ndarray of shape (n, 784), row-major 28x28 images
    y : ndarray of shape (n,), int64 digits 0..9
    """
    if kind not in ("t10k", "train"):
        raise ValueError(f"kind must be 't10k' or 'train', got {kind!r}")

    def names(stem):
        return [f"{prefix}{stem}{ext}" for prefix in ("", "mnist/") for ext in (".gz", "")]

    img_file = find_data_file(names(f"{kind}-images-idx3-ubyte"), path, f"MNIST {kind} images")
    lbl_file = find_data_file(names(f"{kind}-labels-idx1-ubyte"), path, f"MNIST {kind} labels")
    images, labels = read_idx(img_file), read_idx(lbl_file)
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"MNIST files disagree: images {images.shape}, labels {labels.shape}")
    X = images.reshape(images.shape[0], -1)
    X = X / 255.0 if scale else X.copy()
    return X, labels.astype(np.int64)


def load_digits() -> Tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits (1797 images): always available offline.

    Returns
    -------
    X : ndarray of shape (1797, 64), float64 in [0, 1] (pixels / 16)
    y : ndarray of shape (1797,), int64 digits 0..9
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    bunch = _sk_load_digits()
    return bunch.data / 16.0, bunch.target.astype(np.int64)


def load(name="auto", path=None):
    """Load a data set by name: ``"ex4"``, ``"mnist"`` (t10k), ``"digits"``, or ``"auto"``.

    ``"auto"`` takes ex4 when ``ex4data1.mat`` can be found, otherwise the
    scikit-learn digits.

    Returns
    -------
    X, y, description : ndarray, ndarray, str
    """
    if name == "auto":
        try:
            find_data_file("ex4data1.mat", path)
            name = "ex4"
        except DataNotFoundError:
            name = "digits"
    if name == "ex4":
        X, y = load_ex4_data(path)
        return X, y, "ex4data1.mat (5000 20x20 digits; class 9 is the digit 0)"
    if name == "mnist":
        X, y = load_mnist("t10k", path)
        return X, y, "MNIST t10k (10000 28x28 digits)"
    if name == "digits":
        X, y = load_digits()
        return X, y, "scikit-learn digits (1797 8x8 digits)"
    raise ValueError(f"data set must be 'auto', 'ex4', 'mnist' or 'digits', got {name!r}")
