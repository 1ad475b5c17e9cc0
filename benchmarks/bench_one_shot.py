"""One-shot calls against a prepared Objective, per backend, on the ex4 shape.

Usage::

    python benchmarks/bench_one_shot.py
    python benchmarks/bench_one_shot.py --threads 1 --calls 100

``nnfast.cost_grad(theta, X, y, ...)`` as ``scipy.optimize.minimize(...,
args=(X, y))`` calls it (X 5000 x 400 float64, random in [0, 1]) checks X and
y again at every call; a prepared ``Objective`` checks and lays them out once.
Each backend is timed in a process of its own (as a user runs one backend), its
calls taking turns with each other (blocks of 5 calls, as ``nnfast bench`` times its
runners); ``--together`` times every backend in one process instead, where the
thread pools another library left spinning (OpenBLAS's after numpy's calls, another
OpenMP runtime's) slow whichever call comes next: numba's one-shot ``cost`` measured
1.34-1.43x its prepared one that way, 1.09-1.12x alone.
Prints medians (ms) of cost_grad, cost and predict each way,
and the ratios the one-shot calls are judged by: one-shot / prepared (goal <= 1.25 for the fused
backends; ``predict`` is set against the prepared ``cost``, the same forward
pass) and fused one-shot / numpy one-shot (goal <= 1).
"""

import argparse
import json
import subprocess
import sys

import numpy as np

import nnfast
from nnfast.bench import time_in_turns
from nnfast.bench.cost_grad import WARMUP_S

CALLS_PER_TURN = 5

SIZES, M = [400, 25, 10], 5000


def measure(backends, threads, n_calls):
    """Medians (ms) by (backend, "prepared" or "one-shot", call), all in this process."""
    rng = np.random.default_rng(0)
    X = rng.random((M, SIZES[0]))
    y = rng.integers(0, SIZES[-1], M)
    theta = nnfast.init_theta(SIZES, random_state=0)
    options = dict(lam=1.0, n_threads=threads)
    calls = {}
    for backend in backends:
        fun = nnfast.Objective(X, y, SIZES, backend=backend, **options)
        calls[backend, "prepared", "cost_grad"] = lambda fun=fun: fun(theta)
        calls[backend, "prepared", "cost"] = lambda fun=fun: fun.cost(theta)
        calls[backend, "one-shot", "cost_grad"] = lambda backend=backend: nnfast.cost_grad(
            theta, X, y, SIZES, backend=backend, **options)
        calls[backend, "one-shot", "cost"] = lambda backend=backend: nnfast.cost(
            theta, X, y, SIZES, backend=backend, **options)
        calls[backend, "one-shot", "predict"] = lambda backend=backend: nnfast.predict(
            theta, X, SIZES, backend=backend, n_threads=threads)
        for call in calls.values():
            call()                      # compiles numba's kernels before any timing
    # every call takes turns with every other, blocks of 5: on a noisy machine a drift
    # in speed then reaches all of them alike, and the ratios stay fair
    times = time_in_turns(calls, turns=-(-n_calls // CALLS_PER_TURN),
                          calls_per_turn=CALLS_PER_TURN, warmup_time=WARMUP_S)
    return {key: 1e3 * float(np.median(t)) for key, t in times.items()}


def measure_apart(backends, threads, n_calls):
    """:func:`measure` of each backend in a fresh process of its own."""
    ms = {}
    for backend in backends:
        argv = [sys.executable, __file__, "--backends", backend, "--calls", str(n_calls),
                "--together", "--json"]
        if threads is not None:
            argv += ["--threads", str(threads)]
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        ms.update({tuple(key.split("|")): value for key, value in json.loads(out).items()})
    return ms


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="numpy,cython,numba")
    parser.add_argument("--threads", type=int, default=None, help="default: n_threads=None")
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--together", action="store_true",
                        help="every backend in this one process (default: one process each)")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b in nnfast.available_backends()]
    if args.together:
        ms = measure(backends, args.threads, args.calls)
    else:
        ms = measure_apart(backends, args.threads, args.calls)
    if args.json:
        print(json.dumps({"|".join(key): value for key, value in ms.items()}))
        return
    where = "in one process" if args.together else "each backend in a process of its own"
    print(f"ex4 shape, float64, n_threads={args.threads}, {args.calls} calls, {where}; "
          f"medians in ms")
    for backend in backends:
        for call in ("cost_grad", "cost", "predict"):
            # predict is set against the prepared cost: the same forward pass
            prepared = ms[backend, "prepared", "cost" if call == "predict" else call]
            once = ms[backend, "one-shot", call]
            versus_numpy = (f", {once / ms['numpy', 'one-shot', call]:.2f}x numpy's one-shot"
                            if "numpy" in backends and backend != "numpy" else "")
            print(f"{backend:<7} {call:<9} prepared {prepared:7.2f}  one-shot "
                  f"{once:7.2f}  ({once / prepared:.2f}x prepared{versus_numpy})")


if __name__ == "__main__":
    main()
