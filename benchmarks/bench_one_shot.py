"""One-shot calls against a prepared Objective, per backend, on the ex4 shape.

Usage::

    python benchmarks/bench_one_shot.py
    python benchmarks/bench_one_shot.py --threads 1 --calls 100

``nnfast.cost_grad(theta, X, y, ...)`` as ``scipy.optimize.minimize(...,
args=(X, y))`` calls it (X 5000 x 400 float64, random in [0, 1]) checks X and
y again at every call; a prepared ``Objective`` checks and lays them out once.
Prints medians (ms) of cost_grad, cost and predict each way, and the ratios the
one-shot calls are judged by: one-shot / prepared (goal <= 1.25 for the fused
backends; ``predict`` is set against the prepared ``cost``, the same forward
pass) and fused one-shot / numpy one-shot (goal <= 1).
"""

import argparse

import numpy as np

import nnfast
from nnfast.bench import time_calls

SIZES, M = [400, 25, 10], 5000


def _median_ms(call, n):
    return 1e3 * float(np.median(time_calls(call, repeat=n, warmup=3)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="numpy,cython,numba")
    parser.add_argument("--threads", type=int, default=None, help="default: n_threads=None")
    parser.add_argument("--calls", type=int, default=60)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    X = rng.random((M, SIZES[0]))
    y = rng.integers(0, SIZES[-1], M)
    theta = nnfast.init_theta(SIZES, random_state=0)
    options = dict(lam=1.0, n_threads=args.threads)
    print(f"ex4 shape, float64, n_threads={args.threads}, {args.calls} calls; medians in ms")
    one_shot = {}
    for backend in [b for b in args.backends.split(",") if b in nnfast.available_backends()]:
        fun = nnfast.Objective(X, y, SIZES, backend=backend, **options)
        prepared = {"cost_grad": _median_ms(lambda: fun(theta), args.calls),
                    "cost": _median_ms(lambda: fun.cost(theta), args.calls)}
        prepared["predict"] = prepared["cost"]
        once = {
            "cost_grad": _median_ms(lambda: nnfast.cost_grad(theta, X, y, SIZES, backend=backend,
                                                             **options), args.calls),
            "cost": _median_ms(lambda: nnfast.cost(theta, X, y, SIZES, backend=backend,
                                                   **options), args.calls),
            "predict": _median_ms(lambda: nnfast.predict(theta, X, SIZES, backend=backend,
                                                         n_threads=args.threads), args.calls),
        }
        one_shot[backend] = once
        for call in once:
            versus_numpy = (f", {once[call] / one_shot['numpy'][call]:.2f}x numpy's one-shot"
                            if "numpy" in one_shot and backend != "numpy" else "")
            print(f"{backend:<7} {call:<9} prepared {prepared[call]:7.2f}  one-shot "
                  f"{once[call]:7.2f}  ({once[call] / prepared[call]:.2f}x prepared{versus_numpy})")


if __name__ == "__main__":
    main()
