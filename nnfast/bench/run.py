"""The run drivers: :func:`run_bench` (what ``nnfast bench`` does) and :func:`run_scaling`."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .cost_grad import time_shape
from .fits import time_training
from .machine import _openblas_simd, gemm_rate, machine_info
from .memory import memory_use
from .peers import Skip
from .plots import plot_results, plot_scaling
from .runners import runners
from .shapes import DEFAULT_SHAPES, FLOP_FORMULA, LAM, SHAPES, flop_count
from .tables import format_memory, format_table
from .timing import time_calls


def run_bench(shapes=DEFAULT_SHAPES, dtypes=("float64", "float32"), threads=None, repeat=15,
              output="bench-results", quick=False, peers=True, training=True, backends=None,
              train_iters=400, scaling=False, log=print, activation="logistic",
              output_layer="logistic") -> dict:
    """Run the comparison, print the table, write ``bench.json`` and ``bench.png`` to ``output``.

    ``activation`` (hidden units) and ``output_layer`` choose the network every runner
    computes (as ``activation=``/``output=`` of :class:`nnfast.Objective`); the training
    comparison is ex4's network whatever they are.

    Returns the JSON document as a dict (keys: ``machine``, ``settings``, ``gemm_gflops``,
    ``flop_formula``, ``results``, ``training``, and ``scaling`` when asked).
    """
    from .._validation import check_n_threads

    threads = check_n_threads(threads)
    for name in shapes:
        if name not in SHAPES:
            raise ValueError(f"unknown shape {name!r}; choose from {sorted(SHAPES)}")
    if quick:
        shapes, repeat, train_iters = ("tiny",), min(repeat, 3), min(train_iters, 20)
    dtypes = [np.dtype(d).name for d in dtypes]
    for d in dtypes:
        if d not in ("float64", "float32"):
            raise ValueError(f"dtype must be float64 or float32, got {d}")
    out_dir = Path(output)
    out_dir.mkdir(parents=True, exist_ok=True)
    log = log or (lambda *a: None)

    from .._activations import check_head

    out_kind, loss = check_head(output_layer)
    net = None if (activation, out_kind) == ("logistic", "logistic") else dict(
        activation=activation, output=out_kind)
    doc = {"machine": machine_info(),
           "settings": dict(shapes=list(shapes), dtypes=dtypes, threads=threads, repeat=repeat,
                            quick=quick, lam=LAM, loss=loss, activation=activation,
                            output=out_kind),
           "flop_formula": FLOP_FORMULA}
    n_gemm = 500 if quick else 2000
    doc["gemm_gflops"] = {d: gemm_rate(np.dtype(d), n=n_gemm, threads=threads) for d in dtypes}
    doc["gemm_n"] = n_gemm
    forced = doc["machine"]["simd_forced"]
    log(f"machine: {doc['machine']['cpu']}, {threads} threads; large gemm "
        + ", ".join(f"{d} {v:.1f} GFLOP/s" for d, v in doc["gemm_gflops"].items())
        + f" ({_openblas_simd()})"
        + (f"; forced: {' '.join(f'{k}={v}' for k, v in forced.items())}" if forced else ""))
    runner_map = runners(include_peers=peers, backends=backends)
    results = []
    for name in shapes:
        m, sizes = SHAPES[name]
        results += time_shape(name, m, sizes, dtypes, threads, repeat, runner_map,
                              doc["gemm_gflops"], log=log, min_time=0.02 if quick else 0.3,
                              net=net)
        time.sleep(0.2)  # let OpenMP pools of the previous runners stop spinning
    # the gemm rate again after the timings: keep the better of the two measurements
    for d in dtypes:
        again = gemm_rate(np.dtype(d), n=n_gemm, threads=threads)
        if again > doc["gemm_gflops"][d]:
            doc["gemm_gflops"][d] = again
            for r in results:
                if r.dtype == d and r.rounds:
                    r.pct_of_gemm = 100.0 * r.gflops / again
    doc["results"] = [asdict(r) for r in results]
    doc["training"] = time_training(threads, train_iters, quick, log) if training else []
    doc["memory"] = memory_use(ms=(300, 1200) if quick else (5000, 20000), threads=threads,
                               backends=backends, log=log,
                               sizes=SHAPES["tiny"][1] if quick else SHAPES["ex4"][1])
    if scaling:
        doc["scaling"] = run_scaling(threads_list=(1, threads) if threads > 1 else (1,),
                                     quick=quick, peers=peers, backends=backends, log=log)
    doc["versions"] = doc["machine"]["versions"]
    with open(out_dir / "bench.json", "w") as fh:
        json.dump(doc, fh, indent=2, default=_json_default)
    plot_results(doc, out_dir / "bench.png")
    if scaling:
        plot_scaling(doc["scaling"], out_dir / "scaling.png")
    log("")
    log(format_table(doc))
    log("")
    log(format_memory(doc["memory"]))
    log(f"\nwrote {out_dir / 'bench.json'} and {out_dir / 'bench.png'}"
        + (f" and {out_dir / 'scaling.png'}" if scaling else ""))
    return doc


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def run_scaling(ms=(1000, 2000, 5000, 10000, 20000, 60000), sizes=(784, 25, 10),
                threads_list=(1, 2), repeat=5, quick=False, peers=True, backends=None, log=None):
    """Median time of one evaluation against m (synthetic data of MNIST width) and threads."""
    from threadpoolctl import threadpool_limits

    from .._network import init_theta
    from .._validation import check_targets

    if quick:
        ms, repeat = (200, 500), 2
    runner_map = runners(include_peers=peers, backends=backends)
    runner_map.pop("loop", None)
    theta = init_theta(sizes, "auto", random_state=0)
    rows = []
    for threads in threads_list:
        for m in ms:
            rng = np.random.default_rng(0)
            X = rng.random((m, sizes[0]))
            y = rng.integers(0, sizes[-1], m)
            Y = check_targets(y, m, sizes[-1], np.float64)
            for name, build in runner_map.items():
                try:
                    with threadpool_limits(threads, user_api="blas"):
                        fun = build(X, Y, list(sizes), np.float64, threads, LAM)
                        times = time_calls(fun, theta, repeat=repeat, min_time=0.1, warmup=1)
                except Skip:
                    continue
                med = statistics.median(times)
                rows.append(dict(runner=name, m=m, threads=threads, median_s=med,
                                 gflops=flop_count(sizes, m) / med / 1e9))
                if log:
                    log(f"  scaling {name:<8} m={m:<6} threads={threads} {1e3 * med:9.2f} ms")
    return {"layers": list(sizes), "dtype": "float64", "data": "random uniform [0, 1]", "rows": rows}
