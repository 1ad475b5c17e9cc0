"""Timing one cost+gradient evaluation of every runner on one shape, checked against NumPy."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import List

import numpy as np

from .machine import runner_simd
from .peers import Skip
from .shapes import LAM, LOOP_SHAPES, _data_for, flop_count
from .timing import time_in_turns, time_once, turns_for

#: seconds of untimed calls before each block of timed ones (the steady state of an
#: optimiser's back-to-back calls, not a core waking from the pause between blocks)
WARMUP_S = 0.02

#: the per-example loop is slow enough that this many timed calls tell its figure
LOOP_CALLS = 3


@dataclass
class BenchResult:
    shape: str
    layers: List[int]
    m: int
    dtype: str
    runner: str
    threads: int
    median_s: float = float("nan")
    min_s: float = float("nan")
    iqr_s: float = float("nan")
    rounds: int = 0
    first_call_s: float = float("nan")
    gflops: float = float("nan")
    gflops_best: float = float("nan")
    pct_of_gemm: float = float("nan")
    speedup_vs_numpy: float = float("nan")
    speedup_vs_numpy_min: float = float("nan")
    cost_rel_err: float = float("nan")
    grad_rel_err: float = float("nan")
    ok: bool = False
    skipped: str = ""
    data: str = ""
    simd: str = ""


def _rel(a, b):
    den = np.linalg.norm(b)
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / den) if den else float(np.linalg.norm(a))


def _build_and_warm(build, X, Y, sizes, dtype, threads, lam, theta, row, net=None):
    """Build one runner, time its first call (compilation, JIT, caches) into ``row``,
    and record the SIMD level it runs; raises :class:`Skip`."""
    fun = build(X, Y, sizes, dtype, threads, lam, net=net) if net else build(
        X, Y, sizes, dtype, threads, lam)
    row.first_call_s, _ = time_once(fun, theta)
    fun(theta)
    # "auto" reports the backend it chose, and that backend's SIMD level
    chosen = getattr(getattr(fun, "backend", None), "name", row.runner)
    row.simd = (runner_simd(chosen) if chosen == row.runner
                else f"{chosen}, {runner_simd(chosen)}")
    return fun


def time_shape(shape, m, sizes, dtypes, threads, repeat, runner_map, gemm, lam=LAM,
               log=None, seed=0, min_time=0.3, net=None) -> List[BenchResult]:
    """Time every runner on one shape, for each dtype; check each against NumPy float64.

    The runners take turns (:func:`~nnfast.bench.timing.time_in_turns`); the result of
    the last call of each block is the one checked.  ``net``: the hidden activation
    and output (``{"activation": ..., "output": ...}``), None for ex4's network.
    """
    from threadpoolctl import threadpool_limits

    from .._network import init_theta
    from .._validation import check_targets
    from ..objective import Objective

    X, y, data_name = _data_for(m, sizes, seed)
    Y = check_targets(y, m, sizes[-1], np.float64)
    theta = init_theta(sizes, "auto", random_state=seed)
    ref_J, ref_g = Objective(X, Y, sizes, lam=lam, backend="numpy", n_threads=threads,
                             **(net or {}))(theta)
    flops = flop_count(sizes, m)
    blas_limit = lambda: threadpool_limits(threads, user_api="blas")  # noqa: E731
    results = []
    for dtype in dtypes:
        dt = np.dtype(dtype)
        tol = 1e-9 if dt == np.float64 else 1e-3
        th = theta.astype(dt)
        rows, funs = {}, {}
        for name, build in runner_map.items():
            r = rows[name] = BenchResult(shape=shape, layers=list(sizes), m=m, dtype=dt.name,
                                         runner=name, threads=threads, data=data_name)
            if name == "loop" and shape not in LOOP_SHAPES:
                r.skipped = "per-example loop: timed on the ex4 shape only"
                continue
            try:
                with blas_limit():
                    funs[name] = _build_and_warm(build, X, Y, sizes, dt.type, threads, lam, th, r,
                                                 net)
            except Skip as exc:
                r.skipped = str(exc)
            except ValueError as exc:     # a backend without this network's activations
                if not net:
                    raise
                r.skipped = str(exc).split(";")[0]

        def check(name, result):
            J, g = result
            rows[name].cost_rel_err = abs(J - ref_J) / abs(ref_J)
            rows[name].grad_rel_err = _rel(g, ref_g)

        per_block = max(3, -(-repeat // 3))
        times = time_in_turns({name: (lambda f=fun: f(th)) for name, fun in funs.items()},
                              turns=turns_for(repeat, per_block), min_time=min_time,
                              max_turns=turns_for(10 * repeat, per_block),
                              calls_per_turn={name: 1 if name == "loop" else per_block
                                              for name in funs},
                              warmup={"loop": 0}, warmup_time=WARMUP_S,
                              max_calls={"loop": LOOP_CALLS},
                              turn_context=blas_limit, on_result=check)
        for name in funs:
            r, ts = rows[name], times[name]
            r.rounds = len(ts)
            r.median_s = statistics.median(ts)
            r.min_s = min(ts)
            q = np.percentile(ts, [25, 75])
            r.iqr_s = float(q[1] - q[0])
            r.gflops = flops / r.median_s / 1e9
            r.gflops_best = flops / r.min_s / 1e9
            rate = gemm.get(dt.name)
            r.pct_of_gemm = 100.0 * r.gflops / rate if rate else float("nan")
            r.ok = bool(r.cost_rel_err <= tol and r.grad_rel_err <= tol)
        numpy_row = rows.get("numpy")
        for name, r in rows.items():
            if numpy_row is not None and numpy_row.rounds and r.rounds:
                r.speedup_vs_numpy = numpy_row.median_s / r.median_s
                r.speedup_vs_numpy_min = numpy_row.min_s / r.min_s
            results.append(r)
            if log and r.rounds:
                log(f"  {shape:<13} {dt.name:<8} {name:<8} {1e3 * r.median_s:9.2f} ms (min "
                    f"{1e3 * r.min_s:.2f})" + ("" if r.ok else
                                               f"   MISMATCH (grad rel err {r.grad_rel_err:.1e})"))
    return results
