"""Which parameters a gradient check looks at: all, a stratified random sample, or given ones."""

from __future__ import annotations

import numpy as np

from .._network import layer_offsets, n_params


def sample_indices(sample, layer_sizes, rng) -> np.ndarray:
    """The sorted parameter indices ``gradient_check`` checks.

    Parameters
    ----------
    sample : None, int, float in (0, 1] or array of int
        ``None``: every parameter; an int: that many, and a float: that
        fraction, drawn without repeats and stratified by weight layer; an
        array: exactly those indices.
    layer_sizes : tuple of int
    rng : numpy.random.Generator

    Returns
    -------
    indices : ndarray of intp, sorted, unique
    """
    P = n_params(layer_sizes)
    if sample is None:
        return np.arange(P)
    if isinstance(sample, (bool, np.bool_)):
        raise TypeError(f"sample must be None, an int, a fraction or an array of indices, got {sample!r}")
    if np.ndim(sample) == 1:
        idx = np.unique(np.asarray(sample, dtype=np.intp))
        if idx.size == 0 or idx[0] < 0 or idx[-1] >= P:
            raise ValueError(f"sample indices must lie in 0..{P - 1}")
        return idx
    if isinstance(sample, (int, np.integer)):
        n = int(sample)
        if n < 1:
            raise ValueError(f"sample must be at least 1, got {n}")
    elif isinstance(sample, (float, np.floating)):
        if not 0 < sample <= 1:
            raise ValueError(f"sample as a fraction must be in (0, 1], got {sample}")
        n = max(1, int(round(float(sample) * P)))
    else:
        raise TypeError(f"sample must be None, an int, a fraction or an array of indices, got {sample!r}")
    if n >= P:
        return np.arange(P)
    return _stratified(n, layer_offsets(layer_sizes), P, rng)


def _stratified(n, offsets, P, rng) -> np.ndarray:
    """``n`` distinct indices, each weight layer its share (at least one when ``n`` allows)."""
    layer_n = np.array([e - s for s, e, _ in offsets])
    share = n * layer_n / P
    take = np.floor(share).astype(int)
    for i in np.argsort(-(share - take))[: n - take.sum()]:
        take[i] += 1
    if n >= len(offsets):
        while (take == 0).any():
            take[np.argmax(take)] -= 1
            take[np.argmax(take == 0)] = 1
    chosen = [s + rng.choice(e - s, size=k, replace=False)
              for (s, e, _), k in zip(offsets, take) if k]
    return np.sort(np.concatenate(chosen))
