"""Memory each nnfast backend allocates, traced by :mod:`tracemalloc`, against m."""

from __future__ import annotations

import numpy as np

from .shapes import LAM

#: above this many rows the per-example loop is left out (it is too slow to wait for)
LOOP_MAX_ROWS = 5000


def memory_use(sizes=(400, 25, 10), ms=(5000, 20000), threads=None, backends=None,
               log=None) -> dict:
    """Memory each nnfast backend allocates, traced by :mod:`tracemalloc`, against m.

    For every backend and every ``m`` (random float64 data of width ``sizes[0]``):

    * ``prepared_bytes``: what an :class:`~nnfast.Objective` keeps beyond the caller's
      ``X`` (targets in the backend's layout, packed copies of X), made once per objective;
    * ``first_call_bytes``: peak allocated during the first evaluation above what was
      allocated before it (work buffers that later calls reuse, and the returned gradient);
    * ``call_bytes``: the same for a later evaluation (the steady state of an optimiser).

    NumPy's allocations are traced; the ``numba`` kernel's own buffers (allocated inside
    compiled code, a few of ``block x width`` per chunk) are not, and ``loop`` is left out
    above :data:`LOOP_MAX_ROWS` rows.

    Returns
    -------
    dict with ``layers``, ``dtype``, ``rows`` (one dict per backend and m) and ``note``.
    """
    import gc
    import tracemalloc

    from .._network import init_theta
    from .._validation import check_n_threads
    from ..backends import available_backends
    from ..objective import Objective

    threads = check_n_threads(threads)
    names = [b for b in available_backends() if backends is None or b in backends]
    theta = init_theta(list(sizes), "auto", random_state=0)
    rows = []
    for m in ms:
        rng = np.random.default_rng(0)
        X = rng.random((m, sizes[0]))
        y = rng.integers(0, sizes[-1], m)
        for name in names:
            if name == "loop" and m > LOOP_MAX_ROWS:
                continue
            gc.collect()
            tracemalloc.start()
            try:
                base = tracemalloc.get_traced_memory()[0]
                objective = Objective(X, y, list(sizes), lam=LAM, backend=name, n_threads=threads)
                prepared = tracemalloc.get_traced_memory()[0] - base
                peaks = []
                for _ in range(2):
                    gc.collect()
                    tracemalloc.reset_peak()
                    before = tracemalloc.get_traced_memory()[0]
                    result = objective(theta)
                    peaks.append(tracemalloc.get_traced_memory()[1] - before)
                    del result
            finally:
                tracemalloc.stop()
            del objective
            rows.append(dict(backend=name, m=m, x_bytes=X.nbytes, prepared_bytes=prepared,
                             first_call_bytes=peaks[0], call_bytes=peaks[1]))
            if log:
                log(f"  memory {name:<7} m={m:<6} prepared {prepared / 2**20:7.2f} MiB"
                    f" (X: {X.nbytes / 2**20:.2f} MiB), first call {peaks[0] / 2**10:9.1f} KiB,"
                    f" later calls {peaks[1] / 2**10:9.1f} KiB")
    note = ("tracemalloc: NumPy allocations are traced; numba's in-kernel buffers are not; "
            f"loop only up to m = {LOOP_MAX_ROWS}")
    return {"layers": list(sizes), "dtype": "float64", "threads": threads, "rows": rows,
            "note": note}
