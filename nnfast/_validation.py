"""Input checks shared by every entry point.

Every check names the argument and what was expected.  Nothing here modifies
its input: conversions return new arrays, and only when needed.
"""

from __future__ import annotations

import numbers
import os
import threading
import time

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def check_dtype(dtype, X_dtype=None) -> np.dtype:
    """Working dtype: ``dtype`` if given, else X's own (float32 stays float32)."""
    if dtype is None:
        return X_dtype if X_dtype in FLOAT_DTYPES else np.dtype(np.float64)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float64 or float32, got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be float64 or float32, got {dt}")
    return dt


def check_X(X, n_in: int, dtype=None, name: str = "X", check_finite: bool = True,
            n_threads: int = 1) -> np.ndarray:
    """Validate a design matrix and return it C-contiguous in the working dtype.

    Parameters
    ----------
    X : array-like of shape (m, n_in), float
    n_in : int
        Input width the network expects (``layer_sizes[0]``).
    dtype : float64, float32 or None (keep X's float dtype)
    name : str
        How X is named in the messages.
    check_finite : bool, default True
        Refuse NaN and inf.  False skips that pass over X, for a caller that
        finds them some other way (see ``nnfast.api.cost_grad``).
    n_threads : int, default 1
        Threads of that pass (the kernel's count: on an idle machine two cores
        read X faster than one).

    Returns
    -------
    X : ndarray of shape (m, n_in); a copy only if the layout or dtype had to change.
    """
    X = as_array(X, name)
    if X.dtype.kind in "iub":
        raise TypeError(
            f"{name} must hold floating-point values, got dtype {X.dtype}; convert it "
            f"explicitly (for pixel data, for example, {name} / 255.0)"
        )
    if X.dtype.kind not in "f":
        raise TypeError(f"{name} must hold floating-point values, got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D of shape (m, {n_in}) (one example per row), got shape {X.shape}"
            + ("; use X.reshape(1, -1) for a single example" if X.ndim == 1 else "")
        )
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty: it needs at least one row, got shape {X.shape}")
    if X.shape[1] != n_in:
        raise ValueError(
            f"{name} has {X.shape[1]} columns but layer_sizes[0] is {n_in}: each row "
            f"must have one value per input unit (do not add the bias column yourself)"
        )
    X = np.ascontiguousarray(X, dtype=check_dtype(dtype, X.dtype))
    if check_finite and not all_finite(X, n_threads):
        bad = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"{name} contains NaN or inf (first at row {bad[0]}, column {bad[1]})")
    return X


def all_finite(X: np.ndarray, n_threads: int = 1) -> bool:
    """True if the C-contiguous float matrix X holds no NaN or inf.

    ``n_threads`` threads share the pass out when X is large.

    The compiled extension's pass (memory speed, no temporary) when it is
    built, else ``numpy.isfinite(X).all()`` (which first writes an m x n
    boolean array: 0.7 ms on ex4's 5000 x 400 float64).
    """
    global _compiled_all_finite
    if _compiled_all_finite is None:
        try:
            from ._kernels._fused import all_finite as compiled
        except ImportError:  # source tree without the built extension
            compiled = False
        _compiled_all_finite = compiled
    if _compiled_all_finite and X.ndim == 2 and X.flags.c_contiguous and X.dtype in FLOAT_DTYPES:
        return bool(_compiled_all_finite(X, n_threads))
    return bool(np.isfinite(X).all())


#: the extension's check once imported; False where it is not built
_compiled_all_finite = None


def check_targets(y, m: int, n_out: int, dtype, name: str = "y", x_name: str = "X",
                  real_valued: bool = False, units_major: bool = False) -> np.ndarray:
    """Turn labels or a target matrix into a (m, n_out) target matrix.

    Parameters
    ----------
    y : array-like
        With several outputs: integer class indices of shape (m,) or (m, 1)
        with values in ``0 .. n_out - 1``, or a target matrix of shape
        (m, n_out) with values in [0, 1] (one-hot rows for classification).
        With one output: the targets in [0, 1], of shape (m,) or (m, 1).
    m, n_out : int
    dtype : working dtype
    name, x_name : str
        How ``y`` and the matching ``X`` are named in the messages.
    real_valued : bool
        Regression targets (an identity output): any finite values, of shape
        (m, n_out), or (m,) with one output; never class indices.
    units_major : bool
        Class indices become the transpose of a C-contiguous (n_out, m) one-hot
        matrix (``Y.T`` is C-contiguous, ``Y`` is F-contiguous): for a backend that
        reads the targets one output at a time, which then need not be transposed
        (:attr:`nnfast.backends._base.Backend.targets_units_major`).  Other targets
        stay C-contiguous.

    Returns
    -------
    Y : ndarray of shape (m, n_out), dtype ``dtype``, C-contiguous (always new; with
        ``units_major`` and class indices, F-contiguous)
    """
    y = as_array(y, name)
    if y.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be numeric (class indices or targets), got dtype {y.dtype}")
    if real_valued:
        return _real_targets(y, m, n_out, dtype, name, x_name)
    as_matrix = (y.ndim == 2 and y.shape[1] == n_out and n_out > 1) or (
        n_out == 1 and y.ndim in (1, 2) and y.size == y.shape[0])
    if as_matrix:
        if y.shape[0] != m:
            raise ValueError(f"{name} has {y.shape[0]} rows but {x_name} has {m}")
        Y = np.array(y.reshape(m, n_out), dtype=dtype, order="C")
        if not np.isfinite(Y).all():
            raise ValueError(f"{name} contains NaN or inf")
        if Y.min() < 0 or Y.max() > 1:
            raise ValueError(
                f"{name} as targets of shape ({m}, {n_out}) must hold values in [0, 1] "
                f"(one-hot rows), got values in [{Y.min()}, {Y.max()}]"
            )
        return Y
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(
            f"{name} must be class indices of shape ({m},) or a target matrix of shape "
            f"({m}, {n_out}), got shape {y.shape}"
        )
    if y.shape[0] != m:
        raise ValueError(f"{name} has {y.shape[0]} labels but {x_name} has {m} rows")
    if y.dtype.kind == "f" and (not np.isfinite(y).all() or np.any(y != np.round(y))):
        raise ValueError(f"{name} as class indices must hold whole numbers")
    y = y.astype(np.int64)
    if y.min() < 0 or y.max() >= n_out:
        raise ValueError(
            f"{name} holds class indices in [{y.min()}, {y.max()}] but the network has "
            f"{n_out} outputs, so they must lie in [0, {n_out - 1}]"
            + ("; ex4 labels 1..10 map to 0..9 with nnfast.datasets.load_ex4_data"
               if y.max() == n_out else "")
        )
    if units_major:
        YT = np.zeros((n_out, m), dtype=dtype)
        YT[y, np.arange(m)] = 1
        return YT.T
    Y = np.zeros((m, n_out), dtype=dtype)
    Y[np.arange(m), y] = 1
    return Y


def _real_targets(y, m, n_out, dtype, name, x_name) -> np.ndarray:
    """check_targets for regression: y as an (m, n_out) matrix of finite values."""
    if not ((y.ndim == 2 and y.shape[1] == n_out) or (y.ndim == 1 and n_out == 1)):
        want = f"({m},) or ({m}, 1)" if n_out == 1 else f"({m}, {n_out})"
        raise ValueError(f"{name} as regression targets for {n_out} output"
                         f"{'s' if n_out != 1 else ''} must have shape {want}, got {y.shape}")
    if y.shape[0] != m:
        raise ValueError(f"{name} has {y.shape[0]} rows but {x_name} has {m}")
    Y = np.array(y.reshape(m, n_out), dtype=dtype, order="C")
    if not np.isfinite(Y).all():
        raise ValueError(f"{name} contains NaN or inf")
    return Y


def as_array(value, name: str) -> np.ndarray:
    """``np.asarray(value)``, with NumPy's own complaints about ragged input naming ``name``."""
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged nested lists, objects NumPy cannot convert
        raise ValueError(f"{name} must be a rectangular numeric array, got {type(value).__name__} "
                         f"that NumPy cannot convert ({exc})") from None


def check_theta_shape(theta, n_params: int, layer_sizes=None, name: str = "theta") -> np.ndarray:
    """The structural part of :func:`check_theta`: real dtype, flat, the right length.

    Cheap (no conversion, no pass over the values), so the one-shot functions
    run it before anything sized by ``layer_sizes`` is allocated.

    Returns
    -------
    theta : ndarray of shape (n_params,), as given (not converted)
    """
    theta = as_array(theta, name)
    if theta.dtype.kind not in "fiu":
        what = "complex" if theta.dtype.kind == "c" else str(theta.dtype)
        raise TypeError(f"{name} must be a float vector (real numbers), got dtype {what}"
                        + (f"; pass {name}.real if the imaginary part is meant to be dropped"
                           if theta.dtype.kind == "c" else ""))
    if theta.ndim != 1:
        raise ValueError(
            f"{name} must be a flat vector of length {n_params}, got shape {theta.shape}; "
            "use nnfast.pack([Theta1, Theta2, ...]) to unroll weight matrices"
        )
    if theta.shape[0] != n_params:
        where = f" for layer_sizes {list(layer_sizes)}" if layer_sizes is not None else ""
        raise ValueError(f"{name} has length {theta.shape[0]}, expected {n_params}{where}")
    return theta


def check_theta(theta, n_params: int, dtype, layer_sizes=None, name: str = "theta") -> np.ndarray:
    """Validate a parameter vector; return it C-contiguous in ``dtype``.

    The one checker of every entry point that takes weights (the one-shot
    functions, :class:`nnfast.Objective` calls, ``train``'s ``theta0``, the
    plots), so that they accept and refuse the same things.

    Parameters
    ----------
    theta : array-like of shape (n_params,)
        Real numbers: float, or integer (converted to ``dtype``).  Complex, boolean,
        object or string arrays, other shapes, NaN and inf are refused.
    n_params : int
        Expected length (``nnfast.n_params(layer_sizes)``).
    dtype : float64 or float32
        Working dtype of the result.
    layer_sizes : sequence of int, optional
        Named in the length error.
    name : str, default "theta"
        Argument name used in the messages (``"theta0"`` for ``train``).

    Returns
    -------
    theta : ndarray of shape (n_params,), ``dtype``; ``theta`` itself when it
        already is one (never written to), else a converted copy.
    """
    theta = check_theta_shape(theta, n_params, layer_sizes, name)
    with np.errstate(over="ignore"):  # values beyond float32's range become inf: refused below
        converted = np.ascontiguousarray(theta, dtype=dtype)
    if not np.isfinite(converted).all():
        first = int(np.argmax(~np.isfinite(converted)))
        overflow = np.isfinite(theta[first]) if theta.dtype.kind == "f" else True
        raise ValueError(f"{name} contains NaN or inf (first at index {first})" + (
            f"; its value {theta[first]!r} does not fit in {converted.dtype}" if overflow else ""))
    return converted


def check_lam(lam, name: str = "lam") -> float:
    """λ, the L2 strength: a finite real number >= 0 (0 turns regularisation off)."""
    if isinstance(lam, (bool, np.bool_)) or not isinstance(lam, numbers.Real):
        raise TypeError(f"{name} must be a real number >= 0 (the L2 strength λ), got {lam!r} "
                        f"({type(lam).__name__})")
    lam = float(lam)
    if not (lam >= 0 and np.isfinite(lam)):
        raise ValueError(f"{name} must be finite and >= 0 (the L2 strength λ), got {lam}")
    return lam


def check_n_threads(n_threads) -> int:
    """Threads for one call: ``n_threads`` itself, or for ``None`` the cores other processes leave free.

    ``None`` (every default) means :func:`free_cores`: all the cores this process
    may use while the machine is otherwise idle, fewer while other processes keep
    some of them busy.  Because the fused kernels cut their work into chunks that
    do not depend on the thread count, the answer is the same for any count.
    """
    if n_threads is None:
        return free_cores()
    if isinstance(n_threads, (bool, np.bool_)) or not isinstance(n_threads, numbers.Integral):
        raise TypeError(f"n_threads must be a positive integer or None, got {n_threads!r}")
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1 (or None for all cores), got {n_threads}")
    return int(n_threads)


#: (time.monotonic() of the count, the count): reading the cgroup files takes ~0.2 ms,
#: too much for every evaluation of a small problem
_CPU_COUNT_CACHE = [float("-inf"), 1]
_CPU_COUNT_TTL = 1.0


def cpu_count() -> int:
    """Cores this process may use: the affinity mask and, in containers, the cgroup CPU quota.

    joblib's count (loky's) reads the quota, which the affinity mask does not show
    (a container limited to 2 CPUs on a 64-core host would otherwise get 64 threads).
    The count is read again at most once a second.
    """
    now = time.monotonic()
    if now - _CPU_COUNT_CACHE[0] > _CPU_COUNT_TTL:
        _CPU_COUNT_CACHE[:] = [now, _read_cpu_count()]
    return _CPU_COUNT_CACHE[1]


def _read_cpu_count() -> int:
    try:
        from joblib import cpu_count as joblib_cpu_count

        return max(1, int(joblib_cpu_count(only_physical_cores=False)))
    except Exception:  # joblib missing or failing: fall back to the affinity mask
        pass
    if hasattr(os, "process_cpu_count"):
        return os.process_cpu_count() or 1
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:
        return os.cpu_count() or 1


#: how long the load of other processes is averaged over before it is read again
#: (/proc/stat counts in clock ticks of 10 ms: 0.2 s gives 20 ticks per core)
_LOAD_INTERVAL = 0.2


class _OtherLoad:
    """Cores kept busy by *other* processes, measured between two readings.

    Linux's ``/proc/stat`` gives the busy time of each core (including time
    the hypervisor gave to other guests, "steal"); this process's own CPU time
    (all its threads, spinning OpenMP workers included) is taken off, so our
    own threads never count as load, unlike ``os.getloadavg``.
    """

    def __init__(self):
        self.when = None        # time.monotonic() of the last reading
        self.busy = 0.0         # busy seconds of our cores at that reading
        self.own = 0.0          # time.process_time() at that reading
        self.others = 0.0       # cores used by other processes over the last interval
        self.cpus = None        # "cpuN" names of the cores we may run on
        self.tick = 0.01         # seconds per clock tick of /proc/stat
        self.pid = os.getpid()   # a forked child starts its own CPU time from 0
        self.lock = threading.Lock()

    def read_busy(self):
        """Busy seconds summed over the cores of our affinity mask, or None off Linux."""
        if self.cpus is None:
            try:
                self.cpus = {f"cpu{i}".encode() for i in os.sched_getaffinity(0)}
                self.tick = 1.0 / os.sysconf("SC_CLK_TCK")
            except (AttributeError, ValueError, OSError):
                self.cpus = set()
        if not self.cpus:
            return None
        try:
            with open("/proc/stat", "rb") as f:
                text = f.read()
        except OSError:
            self.cpus = set()
            return None
        busy = 0
        for line in text.split(b"\n")[1:]:
            if not line.startswith(b"cpu"):
                break
            fields = line.split()
            if fields[0] in self.cpus:
                # user nice system idle iowait irq softirq steal ...: idle and iowait are free
                values = [int(v) for v in fields[1:9]]
                busy += sum(values) - values[3] - values[4]
        return busy * self.tick

    def update(self, now):
        """Cores used by others; the counters are read again if the last reading is
        ``_LOAD_INTERVAL`` old."""
        with self.lock:
            if self.pid != os.getpid():
                self.pid, self.when, self.others = os.getpid(), None, 0.0
            if self.when is not None and now - self.when < _LOAD_INTERVAL:
                return self.others
            busy, own = self.read_busy(), time.process_time()
            if busy is None:
                return 0.0
            if self.when is not None:
                elapsed = now - self.when
                self.others = max(0.0, (busy - self.busy) - (own - self.own)) / elapsed
            self.when, self.busy, self.own = now, busy, own
            return self.others


_OTHER_LOAD = _OtherLoad()
# a first reading at import, so that the first call already sees the load since then
_OTHER_LOAD.update(time.monotonic())


def free_cores() -> int:
    """Cores this process may use that other processes are not keeping busy (at least 1).

    :func:`cpu_count` less the cores that other processes kept busy over the
    last fraction of a second; a core counts as free while others use at most
    a quarter of it (one other CPU-bound process on a 2-core machine leaves 1).
    On a busy machine a call that asks for every core waits whenever the
    system parks one of its threads (ex4 with the cython kernel, one other
    busy process on 2 cores: 19 ms with 2 threads against 3.7 ms with 1),
    which costs far more than a second thread gains (at most 2x), hence the
    bias to fewer threads.  It also keeps the choice stable: while our two
    threads share 2 cores with one busy process, the others appear to use
    only 0.5-0.7 of a core.  Where the load cannot be read (not Linux), every core.
    """
    cores = cpu_count()
    if cores == 1:
        return 1
    others = _OTHER_LOAD.update(time.monotonic())
    return max(1, min(cores, int(cores - others + 0.25)))
