"""The cython backend on a machine that is busy with another process.

Usage::

    python benchmarks/bench_busy_machine.py
    OMP_WAIT_POLICY=passive python benchmarks/bench_busy_machine.py

Times one cost+gradient evaluation (median, fastest, 90th percentile of 100
calls) with 1 and 2 threads, first on the idle machine, then while a second
Python process spins on one core.  This is what README.md's "Threads"
paragraph quotes: with all cores asked for, a call waits whenever the system
parks one of its threads.
"""

import subprocess
import sys
import time

import numpy as np

import nnfast

CASES = [((400, 25, 10), 5000), ((64, 25, 10), 450)]


def _times(fun, theta, n=100):
    for _ in range(3):
        fun(theta)
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        fun(theta)
        ts.append(time.perf_counter() - t0)
    ts = 1e3 * np.asarray(ts)
    return np.median(ts), ts.min(), np.percentile(ts, 90)


def main():
    rng = np.random.default_rng(0)
    busy = None
    try:
        for load in (0, 1):
            if load:
                busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
                time.sleep(0.5)
            for sizes, m in CASES:
                X = rng.random((m, sizes[0]))
                y = rng.integers(0, sizes[-1], m)
                theta = nnfast.init_theta(list(sizes), random_state=0)
                for n_threads in (1, 2):
                    fun = nnfast.Objective(X, y, list(sizes), lam=1.0, backend="cython",
                                           n_threads=n_threads)
                    med, best, p90 = _times(fun, theta)
                    print(f"{'busy' if load else 'idle'}  {'-'.join(map(str, sizes)):<10} "
                          f"m={m:<5} threads={n_threads}: median {med:7.3f} ms, "
                          f"fastest {best:6.3f}, p90 {p90:7.3f}")
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()


if __name__ == "__main__":
    main()
