"""The default thread count on an idle machine and on one busy with another process.

Usage::

    python benchmarks/bench_busy_machine.py                      # cython, numba, numpy
    python benchmarks/bench_busy_machine.py --backends cython --calls 200

Times one ex4-shape cost+gradient (5000 x 400 -> 25 -> 10, float64, random X in
[0, 1]) through a prepared ``Objective`` with the default ``n_threads=None``, with
``n_threads=1`` and with every core, first on the machine as it is, then while
one more Python process spins on a core.  Prints median, fastest and 90th
percentile per case and the two ratios the defaults are judged by:

- busy: p90 of the default / p90 of ``n_threads=1`` (goal <= 1.3);
- idle: median of ``n_threads=1`` / median of the default (goal >= 1.6 on 2 cores).

"idle" means "without the extra process": other users of the machine show in the
``others`` column (cores busy with other processes, from /proc/stat).  The
README's "Threads" paragraph quotes this benchmark.
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np

import nnfast
from nnfast._validation import _OTHER_LOAD, cpu_count
from nnfast.bench import time_calls

SIZES, M = [400, 25, 10], 5000


def _times(fun, theta, n):
    ts = 1e3 * np.asarray(time_calls(fun, theta, repeat=n, warmup=3))
    return np.median(ts), ts.min(), np.percentile(ts, 90)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="cython,numba,numpy")
    parser.add_argument("--calls", type=int, default=100, help="timed calls per case")
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b in nnfast.available_backends()]
    rng = np.random.default_rng(0)
    X = rng.random((M, SIZES[0]))
    y = rng.integers(0, SIZES[-1], M)
    theta = nnfast.init_theta(SIZES, random_state=0)
    cores = cpu_count()
    print(f"{cores} cores, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}, "
          f"ex4 shape, {args.calls} calls per case; times in ms")
    summary = {}
    busy = None
    try:
        for state in ("idle", "busy"):
            if state == "busy":
                busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
                time.sleep(0.5)
            for backend in backends:
                cases = {}
                for label, n_threads in (("default", None), ("1 thread", 1),
                                         (f"{cores} threads", cores)):
                    fun = nnfast.Objective(X, y, SIZES, lam=1.0, backend=backend,
                                           n_threads=n_threads)
                    med, best, p90 = _times(fun, theta, args.calls)
                    cases[label] = (med, p90)
                    print(f"{state}  {backend:<7} {label:<10} median {med:7.2f}  fastest "
                          f"{best:6.2f}  p90 {p90:7.2f}  (others {_OTHER_LOAD.others:.1f} cores, "
                          f"default now {fun.n_threads if n_threads is None else '-'})")
                summary[state, backend] = cases
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
    print()
    for backend in backends:
        idle, loaded = summary["idle", backend], summary["busy", backend]
        print(f"{backend:<7} busy: default p90 / 1-thread p90 = "
              f"{loaded['default'][1] / loaded['1 thread'][1]:.2f} (goal <= 1.3); "
              f"idle: 1-thread median / default median = "
              f"{idle['1 thread'][0] / idle['default'][0]:.2f}, / {cores}-thread median = "
              f"{idle['1 thread'][0] / idle[f'{cores} threads'][0]:.2f}")


if __name__ == "__main__":
    main()
