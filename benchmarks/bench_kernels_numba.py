"""Quick timing of the numba backend against numpy (and loop) in the same process.

    python benchmarks/bench_kernels_numba.py            # ex4 shape, f64/f32, 1 and 2 threads
    python benchmarks/bench_kernels_numba.py --large    # also 10000x784->100->10 and 784->128->64->10
    python benchmarks/bench_kernels_numba.py --loop     # also the per-example loop backend (slow)
    python benchmarks/bench_kernels_numba.py --latency  # cold and cached first call (subprocesses)
    python benchmarks/bench_kernels_numba.py --shapes all --backends numba,numpy,cython --threads 2
        # issue 10's table: ex4 and the three m = 10000 MNIST-width shapes, lam = 1
    NUMBA_CPU_NAME=haswell OPENBLAS_CORETYPE=Haswell python benchmarks/bench_kernels_numba.py ...
        # the same code as an AVX2-only machine gets (numba's LLVM and OpenBLAS both)
    add --wait-idle on a shared machine, --isolated to time each backend in its own processes

Medians of many calls of ``Objective.__call__`` (cost and gradient), after a
warm-up call (compilation or cache load is excluded; see --latency).  Backends
are timed in interleaved batches of 10 calls (1 for loop), so background load
on a shared machine hits them alike.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import nnfast
from nnfast.bench import DEFAULT_SHAPES, SHAPES, time_in_turns


WAIT_IDLE = False
LAM = 0.0
#: seconds of pause before each batch of calls (not timed)
PAUSE = 0.2
#: seconds of timed calls per shape, dtype and thread count at most
BUDGET = 60.0


def problem(sizes, m, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((m, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], size=m)
    theta = nnfast.init_theta(sizes, epsilon=0.12, random_state=seed, dtype=dtype)
    return X, y, theta


def _busy_fraction(seconds=0.5):
    """Share of CPU time the whole machine spent busy over ``seconds`` (Linux)."""
    def read():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v)
    i0, t0 = read()
    time.sleep(seconds)
    i1, t1 = read()
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def wait_idle(limit=0.15, patience=120.0):
    """Wait (at most ``patience`` s) until other processes leave the machine idle."""
    if not os.path.exists("/proc/stat"):
        return None
    t_end = time.monotonic() + patience
    busy = _busy_fraction()
    while busy > limit and time.monotonic() < t_end:
        busy = _busy_fraction()
    return busy


def interleaved_ms(objs, theta, rounds, batch=10, budget=None):
    """Median ms per call of each objective, calls interleaved in batches so that
    every backend sees the same background load (the machine is shared), each
    batch after a pause of ``PAUSE`` seconds (``nnfast.bench.time_in_turns``)."""
    for obj in objs.values():
        obj(theta)
    times = time_in_turns({name: (lambda o=obj: o(theta)) for name, obj in objs.items()},
                          turns=rounds, max_time=BUDGET if budget is None else budget,
                          calls_per_turn={name: 1 if name == "loop" else batch for name in objs},
                          warmup=0, pause=PAUSE)
    return {name: (1e3 * statistics.median(v), len(v)) for name, v in times.items()}


def bench(sizes, m, backends, threads, dtypes, rounds):
    print(f"\n{list(sizes)}  m={m}")
    for dtype in dtypes:
        X, y, theta = problem(sizes, m, dtype)
        for nt in threads:
            objs = {be: nnfast.Objective(X, y, sizes, lam=LAM, backend=be, n_threads=nt,
                                         dtype=dtype)
                    for be in backends}
            busy = wait_idle() if WAIT_IDLE else None
            row = interleaved_ms(objs, theta, rounds, batch=10 if m * sizes[0] < 4e6 else 3)
            line = "  ".join(f"{be} {ms:8.2f} ms (n={n})" for be, (ms, n) in row.items())
            ratio = row["numpy"][0] / row["numba"][0]
            extra = f"  numpy/numba {ratio:5.2f}x"
            if "cython" in row:
                extra += f"  cython/numba {row['cython'][0] / row['numba'][0]:5.2f}x"
            if "loop" in row:
                extra += f"  loop/numba {row['loop'][0] / row['numba'][0]:6.1f}x"
            load = "" if busy is None else f"  [machine busy {100 * busy:.0f}% before]"
            print(f"  {np.dtype(dtype).name:8} threads={nt}  {line}{extra}{load}", flush=True)


SOLO = r"""
import json, sys
import numpy as np
sys.path.insert(0, {bench_dir!r})
import bench_kernels_numba as b
import nnfast
from nnfast.bench import time_calls
sizes, m, dtype, backend, nt, calls = {sizes!r}, {m!r}, np.dtype({dtype!r}), {backend!r}, {nt!r}, {calls!r}
X, y, theta = b.problem(sizes, m, dtype)
obj = nnfast.Objective(X, y, sizes, backend=backend, n_threads=nt, dtype=dtype)
obj(theta)
busy = b.wait_idle() if {wait!r} else None
print(json.dumps(time_calls(obj, theta, repeat=calls)))
"""


def bench_isolated(sizes, m, backends, threads, dtypes, rounds, calls=30):
    """Each backend in its own process (no other library's threads spinning
    beside it), ``rounds`` processes per backend taken in turn."""
    print(f"\n{list(sizes)}  m={m}  (one process per backend and round)")
    bench_dir = os.path.dirname(os.path.abspath(__file__))
    for dtype in dtypes:
        for nt in threads:
            times = {be: [] for be in backends}
            for _ in range(rounds):
                for be in backends:
                    code = SOLO.format(bench_dir=bench_dir, sizes=tuple(sizes), m=m,
                                       dtype=np.dtype(dtype).name, backend=be, nt=nt,
                                       calls=3 if be == "loop" else calls, wait=WAIT_IDLE)
                    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                                         text=True, check=True).stdout
                    times[be] += json.loads(out.strip().splitlines()[-1])
            row = {be: (1e3 * statistics.median(v), len(v)) for be, v in times.items()}
            line = "  ".join(f"{be} {ms:8.2f} ms (n={n})" for be, (ms, n) in row.items())
            extra = f"  numpy/numba {row['numpy'][0] / row['numba'][0]:5.2f}x"
            if "loop" in row:
                extra += f"  loop/numba {row['loop'][0] / row['numba'][0]:6.1f}x"
            print(f"  {np.dtype(dtype).name:8} threads={nt}  {line}{extra}", flush=True)


LATENCY = r"""
import sys, time, numpy as np
# nnfast's own import is what is timed here, so its timer cannot be nnfast's
t0 = time.perf_counter()
import nnfast
from nnfast._kernels import numba_fused as kernels
import_s = time.perf_counter() - t0
from nnfast.bench import time_once
activation, output = sys.argv[1:3]
rng = np.random.default_rng(0)
X = rng.random((5000, 400))
# class indices, or real-valued targets for a regression (identity) output
y = rng.random((5000, 10)) if output == "identity" else rng.integers(0, 10, 5000)
obj = nnfast.Objective(X, y, [400, 25, 10], backend="numba", n_threads=2,
                       activation=activation, output=output)
theta = nnfast.init_theta([400, 25, 10], random_state=0)
first_s, _ = time_once(obj, theta)
# the serial driver's, and the parallel ones' (what runs on a thread-safe threading layer)
stats = [kernels.chunk_loss_grad.stats] + [d.chunks_loss_grad.stats
                                           for d in kernels.PARALLEL_DRIVERS.values()]
print(f"import {import_s:.2f} s  first call {first_s:.2f} s  "
      f"cache hits {sum(sum(s.cache_hits.values()) for s in stats)} "
      f"misses {sum(sum(s.cache_misses.values()) for s in stats)}")
"""


GRADCHECK_LATENCY = r"""
import sys, time, numpy as np
import nnfast
rng = np.random.default_rng(0)
X = rng.random((5000, 400)); y = rng.integers(0, 10, 5000)
theta = nnfast.init_theta([400, 25, 10], random_state=0)
t0 = time.perf_counter()
nnfast.gradient_check(theta, X, y, [400, 25, 10], lam=1.0, backend=sys.argv[1])
print(f"gradient_check {time.perf_counter() - t0:.2f} s")
"""


def latency(networks=(("logistic", "logistic"),)):
    """Cold and cached first calls of each (activation, output) network on ex4's shape,
    each network with a cache of its own, then the gradient check's."""
    for activation, output in networks:
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, NUMBA_CACHE_DIR=tmp)
            for label in ("cold (empty cache)", "from disk cache"):
                out = subprocess.run([sys.executable, "-c", LATENCY, activation, output],
                                     env=env, capture_output=True, text=True,
                                     check=True).stdout.strip()
                print(f"  {activation} + {output}: {label:20} {out}")
    # every weight of ex4's network checked: the default backend (the analytic gradient from
    # a compiled backend that needs no compiling, when there is one) compiles only the
    # check's own kernel; backend="numba" compiles the fused kernel as well
    for backend in ("auto", "numba"):
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, NUMBA_CACHE_DIR=tmp)
            for label in ("cold (empty cache)", "from disk cache"):
                out = subprocess.run([sys.executable, "-c", GRADCHECK_LATENCY, backend], env=env,
                                     capture_output=True, text=True, check=True).stdout.strip()
                print(f"  backend={backend:<6} {label:20} {out}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--large", action="store_true")
    p.add_argument("--loop", action="store_true")
    p.add_argument("--latency", action="store_true")
    p.add_argument("--networks", default="logistic:logistic",
                   help="with --latency: comma-separated activation:output pairs whose cold "
                        "first calls are timed (e.g. logistic:logistic,relu:softmax,"
                        "tanh:softmax,tanh:identity)")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--shapes", default=None,
                   help="comma-separated names from nnfast.bench.SHAPES, 'all' (its "
                        "DEFAULT_SHAPES), or 'none' (with --latency); "
                        "replaces the default runs")
    p.add_argument("--backends", default="numba,numpy", help="comma-separated, with --shapes")
    p.add_argument("--threads", type=int, default=2, help="threads, with --shapes")
    p.add_argument("--budget", type=float, default=60.0,
                   help="seconds of timed calls per shape, dtype and thread count at most")
    p.add_argument("--lam", type=float, default=None, help="L2 strength (default 0; 1 with --shapes)")
    p.add_argument("--isolated", action="store_true",
                   help="time each backend in its own processes (no other library's threads "
                        "spinning beside it); --rounds / 4 processes per backend")
    p.add_argument("--wait-idle", action="store_true",
                   help="before each configuration wait until the machine is idle (shared machines)")
    a = p.parse_args()
    global WAIT_IDLE, LAM, BUDGET
    WAIT_IDLE = a.wait_idle
    BUDGET = a.budget
    LAM = a.lam if a.lam is not None else (1.0 if a.shapes else 0.0)
    if a.shapes:
        names = {"all": list(DEFAULT_SHAPES), "none": []}.get(a.shapes, a.shapes.split(","))
        for name in names:
            m, sizes = SHAPES[name]
            bench(sizes, m, a.backends.split(","), (a.threads,), (np.float64, np.float32),
                  a.rounds)
        if a.latency:
            print("\nfirst-call latency, ex4 shape float64 (separate processes): an Objective's "
                  "first call (2 threads), then a full gradient_check")
            latency(_networks(a.networks))
        return
    backends = ["numba", "numpy"] + (["loop"] if a.loop else [])
    if a.isolated:
        run = lambda sizes, m, bes, thr, rounds: bench_isolated(  # noqa: E731
            sizes, m, bes, thr, (np.float64, np.float32), max(1, rounds // 4))
    else:
        run = lambda sizes, m, bes, thr, rounds: bench(  # noqa: E731
            sizes, m, bes, thr, (np.float64, np.float32), rounds)
    run((400, 25, 10), 5000, backends, (1, 2), a.rounds)
    if a.large:
        run((784, 100, 10), 10000, ["numba", "numpy"], (2,), max(2, a.rounds // 4))
        run((784, 128, 64, 10), 10000, ["numba", "numpy"], (2,), max(2, a.rounds // 4))
    if a.latency:
        print("\nfirst-call latency, ex4 shape float64 (separate processes): an Objective's "
                  "first call (2 threads), then a full gradient_check")
        latency(_networks(a.networks))


def _networks(text):
    """``[(activation, output), ...]`` from "act:out,act:out"."""
    pairs = [item.split(":") for item in text.split(",") if item]
    if not pairs or any(len(pair) != 2 for pair in pairs):
        raise SystemExit(f"--networks takes activation:output pairs, got {text!r}")
    return [tuple(pair) for pair in pairs]


if __name__ == "__main__":
    main()
