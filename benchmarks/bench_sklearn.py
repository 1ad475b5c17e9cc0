"""nnfast's estimator against scikit-learn's MLPClassifier on real MNIST, in one run.

The issue's target: ``NNClassifier(activation="relu")`` fits 8000 MNIST digits
(t10k's first 8000 rows, 784 -> 100 -> 10, softmax output, 200 L-BFGS iterations) at
least 3x faster than ``MLPClassifier`` with the same settings, at equal or better
held-out accuracy on the other 2000 rows.  The two fits take turns (``--rounds``), each
after a pause; medians are reported.

    NNFAST_DATA=../shared/data python benchmarks/bench_sklearn.py
    python benchmarks/bench_sklearn.py --activation tanh --iters 100 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np

from nnfast import datasets
from nnfast.bench import runner_simd, time_in_turns

TRAIN_ROWS = 8000


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--activation", default="relu", choices=("logistic", "tanh", "relu", "identity"))
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--alpha", type=float, default=1e-4, help="L2 strength (sklearn's default)")
    parser.add_argument("--rounds", type=int, default=2, help="fits per estimator, taken in turns")
    parser.add_argument("--backend", default="auto", help="nnfast backend")
    parser.add_argument("--tol", type=float, default=0.0,
                        help="both estimators' tol (default 0: every iteration is run, so both "
                             "do the same number)")
    args = parser.parse_args(argv)

    from sklearn.neural_network import MLPClassifier

    from nnfast.estimator import NNClassifier

    X, y = datasets.load_mnist("t10k")
    X_tr, y_tr, X_te, y_te = X[:TRAIN_ROWS], y[:TRAIN_ROWS], X[TRAIN_ROWS:], y[TRAIN_ROWS:]
    settings = dict(hidden_layer_sizes=(args.hidden,), activation=args.activation,
                    solver="lbfgs", alpha=args.alpha, max_iter=args.iters, random_state=0,
                    tol=args.tol)
    makers = {
        "nnfast": lambda: NNClassifier(output="softmax", backend=args.backend, **settings),
        "sklearn": lambda: MLPClassifier(**settings),
    }
    fitted = {}

    def fit(name):
        def run():
            est = makers[name]()
            est.fit(X_tr, y_tr)
            return est
        return run

    seconds = time_in_turns({name: fit(name) for name in makers}, turns=args.rounds, warmup=0,
                            pause=0.5, on_result=fitted.__setitem__)
    print(f"MNIST t10k: fit {TRAIN_ROWS} x 784-{args.hidden}-10, activation {args.activation}, "
          f"softmax output, lbfgs, {args.iters} iterations, alpha {args.alpha}, "
          f"median of {args.rounds}")
    med = {name: statistics.median(ts) for name, ts in seconds.items()}
    for name, est in fitted.items():
        acc = float(np.mean(est.predict(X_te) == y_te))
        extra = ""
        if name == "nnfast":
            backend = est.result_.backend
            extra = f"  backend {backend} ({runner_simd(backend)})"
        print(f"  {name:<8} {med[name]:7.2f} s  held-out accuracy {acc:.4f}  "
              f"iterations {getattr(est, 'n_iter_', '?')}{extra}")
    print(f"  speed-up (sklearn / nnfast): {med['sklearn'] / med['nnfast']:.2f}x")


if __name__ == "__main__":
    main()
