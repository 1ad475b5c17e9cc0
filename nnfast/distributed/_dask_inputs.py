"""Dask inputs (dask arrays, dask DataFrames and Series): checks from their metadata, and
row counts Dask does not know yet, counted on the cluster."""

from __future__ import annotations

import math

import dask
import numpy as np

from .._validation import check_dtype


def is_dask_collection(obj):
    return dask.is_dask_collection(obj)


def _frame_types():
    """``(dask DataFrame, dask Series)``, or ``()`` where dask.dataframe does not import
    (it needs pandas: ``pip install nnfast[distributed]`` brings it)."""
    try:
        import dask.dataframe as dd
    except ImportError:
        return ()
    return (dd.DataFrame, dd.Series)


# dtype kinds accepted in a dask.dataframe column: X takes integer and float
# columns (as a whole it must come out floating-point, as for NumPy inputs),
# y also booleans (0/1 targets).  Anything else (object, strings, category,
# datetimes, pandas' nullable extension types) is refused on the client.
_FRAME_KINDS = {"X": "iuf", "y": "iufb"}


def _check_frame_columns(frame, name):
    """TypeError naming the columns of a dask DataFrame/Series that hold no plain numbers."""
    import dask.dataframe as dd

    kinds = _FRAME_KINDS[name]
    if isinstance(frame, dd.Series):
        dt = frame.dtype
        if not (isinstance(dt, np.dtype) and dt.kind in kinds):
            raise TypeError(
                f"{name} is a dask Series of dtype {dt}, but {name} must hold "
                + ("integer or floating-point numbers" if name == "X" else
                   "numbers (integer class indices or float targets)")
                + f" of a NumPy dtype; convert it first, e.g. {name}.astype('float64')"
                + (" or, for a categorical, y.cat.codes" if name == "y" else ""))
        return
    bad = [(col, dt) for col, dt in frame.dtypes.items()
           if not (isinstance(dt, np.dtype) and dt.kind in kinds)]
    if bad:
        shown = ", ".join(f"{col!r} ({dt})" for col, dt in bad[:8])
        more = f" and {len(bad) - 8} more" if len(bad) > 8 else ""
        raise TypeError(
            f"{name} is a dask DataFrame with {len(bad)} non-numeric column"
            f"{'s' if len(bad) > 1 else ''}: {shown}{more}; every column of {name} must hold "
            f"{'integer or floating-point' if name == 'X' else 'integer, float or boolean'} "
            f"values of a NumPy dtype.  Drop or encode those columns first (e.g. "
            f"{name}.drop(columns=[...]), dask.dataframe.get_dummies, or "
            f".astype('float64') for nullable numeric columns)")


def as_dask_array(obj, name):
    """dask.array from a dask.array or a dask.dataframe DataFrame/Series.

    Only metadata is looked at: nothing is computed.  The rows of a dataframe
    come out in partition order, with row counts still unknown (NaN chunks).
    """
    import dask.array as da

    if isinstance(obj, da.Array):
        return obj
    frames = _frame_types()
    if frames and isinstance(obj, frames):
        _check_frame_columns(obj, name)
        return obj.to_dask_array()  # lengths are counted on the cluster later
    if not frames and hasattr(obj, "to_dask_array"):
        raise TypeError(f"{name} looks like a dask.dataframe collection, but dask.dataframe "
                        "cannot be imported here (it needs pandas): install it with "
                        "`pip install nnfast[distributed]`")
    raise TypeError(f"{name} is a dask collection of type {type(obj).__name__}; pass a "
                    "dask.array.Array, a dask.dataframe DataFrame or Series, or a NumPy array")


def _rows_of(block):
    """Rows of one block or partition (runs on a worker)."""
    return int(len(block))


def _same(block):
    return block


def check_dask_metadata(X, y, layer_sizes, dtype):
    """``(X, y, working dtype)``: dask inputs as dask arrays, checked from what their
    metadata tell (collection types, column dtypes, ndim, widths); computes nothing.

    NumPy inputs mixed in become single-chunk dask arrays.
    """
    import dask.array as da

    n_in, n_out = layer_sizes[0], layer_sizes[-1]
    X = as_dask_array(X, "X") if is_dask_collection(X) else da.asarray(np.asarray(X))
    y = as_dask_array(y, "y") if is_dask_collection(y) else da.asarray(np.asarray(y))
    if X.dtype.kind not in "f":
        raise TypeError(f"X must hold floating-point values, got dtype {X.dtype}"
                        + ("; convert it explicitly (for pixel data, X / 255.0)"
                           if X.dtype.kind in "iub" else ""))
    dtype = check_dtype(dtype, X.dtype)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D of shape (m, {n_in}), got shape {X.shape}")
    if X.shape[1] != n_in:
        raise ValueError(f"X has {X.shape[1]} columns but layer_sizes[0] is {n_in}: each row "
                         "must have one value per input unit (do not add the bias column)")
    if y.dtype.kind not in "fiub":
        raise TypeError(f"y must be numeric (class indices or targets), got dtype {y.dtype}")
    if not (y.ndim == 1 or y.ndim == 2):
        raise ValueError(f"y must be 1-D class indices or a 2-D target matrix, got {y.ndim}-D")
    if y.ndim == 2 and not math.isnan(y.shape[1]) and y.shape[1] not in (1, n_out):
        raise ValueError(f"y has {y.shape[1]} columns, expected 1 (class indices) or "
                         f"{n_out} (a target matrix for layer_sizes[-1] = {n_out})")
    return X, y, dtype


def with_known_rows(client, arrays, timeout):
    """The arrays with the row count of every chunk known.

    Counts Dask does not know yet (dataframes, arrays filtered by a mask)
    are computed by tasks on the cluster (one per row chunk), never in
    this process.  The arrays passed in are left as they were (no
    ``compute_chunk_sizes``, which would change them in place).
    """
    todo = [i for i, arr in enumerate(arrays) if any(math.isnan(c) for c in arr.chunks[0])]
    if not todo:
        return arrays
    counts = []
    for i in todo:
        blocks = arrays[i].to_delayed()
        blocks = blocks[:, 0] if blocks.ndim == 2 else blocks  # one block per row chunk
        counts.append([dask.delayed(_rows_of, pure=True)(b) for b in blocks])
    futures = client.compute(counts)
    try:
        rows = [tuple(f.result(timeout=timeout)) for f in futures]
    finally:
        for f in futures:
            f.release()
    out = list(arrays)
    for i, r in zip(todo, rows):
        arr = arrays[i]
        out[i] = arr.map_blocks(_same, chunks=(r,) + tuple(arr.chunks[1:]), dtype=arr.dtype)
    return out
