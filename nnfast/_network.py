"""Network structure: layer sizes, the flat parameter vector and its views.

All weights of a network ``[n_in, h1, ..., n_out]`` live in one flat vector
``theta``: ``Theta1`` of shape ``(h1, n_in + 1)`` row-major, then ``Theta2``
and so on, the bias weights in column 0 of each matrix.  This is the order of
the ex4 seeds (``np.concatenate([t1.ravel(), t2.ravel()])``).
"""

from __future__ import annotations

import numbers
from typing import List, Sequence, Tuple

import numpy as np

Offsets = Tuple[Tuple[int, int, Tuple[int, int]], ...]


def check_layer_sizes(layer_sizes) -> Tuple[int, ...]:
    """Validate ``layer_sizes`` and return it as a tuple of Python ints.

    Parameters
    ----------
    layer_sizes : sequence of int, length >= 2
        ``[n_in, h1, ..., n_out]``; every entry at least 1.
    """
    if isinstance(layer_sizes, (str, bytes)) or not hasattr(layer_sizes, "__len__"):
        raise TypeError(
            "layer_sizes must be a sequence of positive integers such as "
            f"[400, 25, 10], got {layer_sizes!r}"
        )
    sizes = []
    for i, s in enumerate(layer_sizes):
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, numbers.Integral):
            raise TypeError(
                f"layer_sizes[{i}] must be an integer, got {s!r} ({type(s).__name__})"
            )
        if s < 1:
            raise ValueError(f"layer_sizes[{i}] must be at least 1, got {s}")
        sizes.append(int(s))
    if len(sizes) < 2:
        raise ValueError(
            "layer_sizes needs at least two entries (inputs and outputs, one weight "
            f"layer), got {list(layer_sizes)!r}"
        )
    return tuple(sizes)


def available_memory() -> int:
    """Bytes of memory available to new allocations (psutil's figure, else the OS's free pages).

    Falls back to 1 TiB when neither can be read, so that only absurd requests are refused.
    """
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # psutil is optional (dask brings it); any failure means "unknown"
        pass
    import os

    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 1 << 40


def _gib(n_bytes) -> str:
    return f"{n_bytes / 2 ** 30:,.1f} GiB"


#: rows a fused backend works on at a time: every evaluation needs at least this many
#: rows of each layer's activations at once
_MIN_BLOCK_ROWS = 64


#: needs below this are not compared with the free memory (any machine has it)
_ALWAYS_FITS = 64 << 20


def check_network_memory(layer_sizes, m: int = 0, itemsize: int = 8, param_vectors: int = 2,
                         what=None) -> None:
    """Refuse a network whose parameters or per-call buffers cannot fit in memory.

    The estimate is a lower bound of what one evaluation allocates, so a
    network that is refused could not have run: the parameter vector and a
    gradient of the same length (float64), the ``(m, n_out)`` targets, and the
    activations of at least 64 rows of every layer.  It is compared with the
    memory available now (:func:`available_memory`), before anything is
    allocated, instead of letting NumPy fail half-way with a bare MemoryError.

    Parameters
    ----------
    layer_sizes : tuple of int
        Already validated by :func:`check_layer_sizes`.
    m : int, default 0
        Number of examples (0: the parameters alone, as in :func:`init_theta`).
    itemsize : int, default 8
        Bytes per value of the working dtype.
    param_vectors : int, default 2
        New parameter-length vectors the caller allocates (2 for an evaluation,
        1 for :func:`init_theta`, 0 for a forward pass with given weights).
    what : str, optional
        How the sizes are named in the message (default ``"layer_sizes [...]"``;
        the estimator says ``"hidden_layer_sizes (...)"``).

    Raises
    ------
    ValueError
        When the lower bound exceeds the available memory.
    """
    sizes = tuple(layer_sizes)
    n = n_params(sizes)
    params = param_vectors * 8 * n
    targets = itemsize * m * sizes[-1]
    work = itemsize * min(m, _MIN_BLOCK_ROWS) * sum(sizes[1:])
    need = params + targets + work
    if need <= _ALWAYS_FITS:
        return  # reading the free memory costs ~20 µs, a tenth of a mini-batch Objective
    free = available_memory()
    if need > free:
        what = what or f"layer_sizes {list(sizes)}"
        raise ValueError(
            f"{what} is too large for this machine: {n:,} parameters"
            + (f" and {m:,} examples" if m else "")
            + f" need at least {_gib(need)} of memory, but {_gib(free)} is available; "
            "use smaller layers"
        )


def layer_offsets(layer_sizes: Sequence[int]) -> Offsets:
    """``(start, end, shape)`` of each weight matrix inside ``theta``.

    Precomputed once so that unpacking is a handful of slices and reshapes.
    """
    offsets = []
    start = 0
    for n_prev, n_next in zip(layer_sizes[:-1], layer_sizes[1:]):
        shape = (n_next, n_prev + 1)
        end = start + shape[0] * shape[1]
        offsets.append((start, end, shape))
        start = end
    return tuple(offsets)


def n_params(layer_sizes: Sequence[int]) -> int:
    """Length of ``theta`` for ``layer_sizes`` (10285 for ``[400, 25, 10]``)."""
    return sum((n_prev + 1) * n_next for n_prev, n_next in zip(layer_sizes[:-1], layer_sizes[1:]))


def unpack(theta, layer_sizes) -> List[np.ndarray]:
    """Weight matrices of ``theta`` as views (no copies).

    Parameters
    ----------
    theta : ndarray of shape (n_params,)
    layer_sizes : sequence of int, or the offsets from :func:`layer_offsets`

    Returns
    -------
    weights : list of ndarray, ``weights[l]`` of shape ``(n_{l+1}, n_l + 1)``;
        views of ``theta`` when it is a contiguous array.
    """
    theta = np.asarray(theta)
    if layer_sizes and isinstance(layer_sizes[0], tuple):
        offsets = layer_sizes
    else:
        sizes = check_layer_sizes(layer_sizes)
        offsets = layer_offsets(sizes)
        if theta.ndim != 1 or theta.shape[0] != offsets[-1][1]:
            raise ValueError(
                f"theta must be a flat vector of length {offsets[-1][1]} for layer_sizes "
                f"{list(sizes)}, got shape {theta.shape}"
            )
    return [theta[start:end].reshape(shape) for start, end, shape in offsets]


def pack(weights: Sequence[np.ndarray], dtype=None) -> np.ndarray:
    """Concatenate weight matrices (row-major) into one flat ``theta``.

    Parameters
    ----------
    weights : sequence of 2-D arrays, ``weights[l]`` of shape ``(n_{l+1}, n_l + 1)``
    dtype : dtype, optional
        Result dtype; defaults to the common dtype of ``weights``.
    """
    for i, w in enumerate(weights):
        w = np.asarray(w)
        if w.ndim != 2:
            raise ValueError(f"weights[{i}] must be 2-D, got shape {w.shape}")
        if i > 0 and w.shape[1] != np.shape(weights[i - 1])[0] + 1:
            raise ValueError(
                f"weights[{i}] has {w.shape[1]} columns; after a layer of "
                f"{np.shape(weights[i - 1])[0]} units it needs {np.shape(weights[i - 1])[0] + 1} "
                "(one per unit plus the bias)"
            )
    return np.concatenate([np.ravel(np.asarray(w)) for w in weights]).astype(dtype or np.result_type(*weights), copy=False)


def layer_sizes_of(weights: Sequence[np.ndarray]) -> Tuple[int, ...]:
    """``layer_sizes`` implied by a list of weight matrices (``Theta1, Theta2, ...``)."""
    pack(weights)  # validates the chain of shapes
    return tuple([np.shape(weights[0])[1] - 1] + [np.shape(w)[0] for w in weights])


def init_epsilon(n_in: int, n_out: int) -> float:
    """The sqrt(6)/sqrt(L_in + L_out) rule of ex4's randInitializeWeights."""
    return float(np.sqrt(6.0) / np.sqrt(n_in + n_out))


def init_theta(layer_sizes, epsilon=0.12, random_state=None, dtype=np.float64) -> np.ndarray:
    """Random weights, uniform in ``[-epsilon, epsilon]``, to break symmetry.

    Parameters
    ----------
    layer_sizes : sequence of int
    epsilon : float or "auto", default 0.12
        Half-width of the interval.  ``"auto"`` uses ``sqrt(6)/sqrt(L_in + L_out)``
        for each layer separately (0.12 is that rule for 400 -> 25).
    random_state : None, int or numpy.random.Generator
        Seed for reproducible weights.
    dtype : float64 or float32

    Returns
    -------
    theta : ndarray of shape (n_params,)
    """
    sizes = check_layer_sizes(layer_sizes)
    check_network_memory(sizes, param_vectors=1)
    rng = np.random.default_rng(random_state)
    offsets = layer_offsets(sizes)
    theta = np.empty(n_params(sizes), dtype=np.float64)
    for (start, end, shape), n_prev, n_next in zip(offsets, sizes[:-1], sizes[1:]):
        if isinstance(epsilon, str):
            if epsilon != "auto":
                raise ValueError(f"epsilon must be a positive number or 'auto', got {epsilon!r}")
            eps = init_epsilon(n_prev, n_next)
        else:
            eps = float(epsilon)
            if not eps > 0 or not np.isfinite(eps):
                raise ValueError(f"epsilon must be a positive number or 'auto', got {epsilon!r}")
        theta[start:end] = rng.uniform(-eps, eps, size=end - start)
    return theta.astype(dtype, copy=False)
