"""Training on real MNIST, per backend: 8000 x 784 -> 25 -> 10, 400 L-BFGS-B iterations.

The kernel issue's training target: the fused backends against numpy on real digits
(MNIST's t10k file, which lies in NNFAST_DATA), each backend training from the same
initial weights in turns, and the held-out accuracy on the other 2000 rows.

    NNFAST_DATA=../shared/data python benchmarks/bench_mnist_training.py
    python benchmarks/bench_mnist_training.py --backends cython,numpy --iters 200 --rounds 3

For the AVX2 figures on a CPU with AVX-512, run it under the environment of
``nnfast bench --simd avx2`` (``nnfast.bench.avx2_environment()``), e.g.

    env $(python -c "import nnfast.bench as b; print(' '.join(f'{k}={v}' for k, v in
    b.avx2_environment({}).items()))") python benchmarks/bench_mnist_training.py
"""

from __future__ import annotations

import argparse
import statistics


import nnfast
from nnfast import datasets
from nnfast.bench import runner_simd, time_in_turns

LAYERS = [784, 25, 10]
TRAIN_ROWS = 8000


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default="cython,numba,numpy")
    parser.add_argument("--iters", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=2, help="fits per backend, taken in turns")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    args = parser.parse_args(argv)

    X, y = datasets.load_mnist("t10k")
    X_tr, y_tr, X_te, y_te = X[:TRAIN_ROWS], y[:TRAIN_ROWS], X[TRAIN_ROWS:], y[TRAIN_ROWS:]
    theta0 = nnfast.init_theta(LAYERS, random_state=0)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    # one untimed short fit each: compilation, thread pools, caches
    for name in backends:
        nnfast.train(X_tr, y_tr, LAYERS, lam=1.0, max_iter=2, theta0=theta0, backend=name,
                     n_threads=args.threads, dtype=args.dtype, progress=False)
    def fit(name):
        return lambda: nnfast.train(X_tr, y_tr, LAYERS, lam=1.0, method="L-BFGS-B",
                                    max_iter=args.iters, theta0=theta0, backend=name,
                                    n_threads=args.threads, dtype=args.dtype, progress=False)

    results = {}
    # a pause before each fit: idle threads of the previous runtime stop spinning
    seconds = time_in_turns({name: fit(name) for name in backends}, turns=args.rounds,
                            warmup=0, pause=0.5, on_result=results.__setitem__)
    numpy_s = statistics.median(seconds["numpy"]) if "numpy" in seconds else None
    print(f"MNIST t10k: train {TRAIN_ROWS} x {'-'.join(map(str, LAYERS))}, {args.iters} L-BFGS-B "
          f"iterations, {args.dtype}, threads {args.threads or 'default'}, median of {args.rounds}")
    print(f"{'backend':<8} {'simd':<22} {'seconds':>8} {'x numpy':>8} {'evals':>6} "
          f"{'ms/eval':>8} {'held-out acc':>13}")
    for name in backends:
        res, s = results[name], statistics.median(seconds[name])
        acc = res.accuracy(X_te, y_te)
        print(f"{name:<8} {runner_simd(name):<22} {s:8.2f} "
              f"{(numpy_s / s if numpy_s else float('nan')):8.2f} {res.n_evals:6d} "
              f"{1e3 * s / max(res.n_evals, 1):8.2f} {100 * acc:12.2f}%")


if __name__ == "__main__":
    main()
